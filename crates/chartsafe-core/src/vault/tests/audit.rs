//! Unit tests of the audit log (docs/FORMAT.md §10): what is recorded, and
//! what a storage attacker's tampering looks like.

use std::collections::BTreeMap;

use crate::errors::{AddError, GetError, MoveError};
use crate::format::audit::AuditBody;
use crate::traits::memory::MemoryStore;
use crate::traits::NoProgress;
use crate::traits::SecretStore;
use crate::vault::tests::{pass, World, PASS};
use crate::vault::*;

fn count(log: &AuditLog) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for e in &log.entries {
        *m.entry(e.action.clone()).or_default() += 1;
    }
    m
}

fn only<'a>(log: &'a AuditLog, action: &str) -> &'a AuditEntry {
    let found: Vec<_> = log.entries.iter().filter(|e| e.action == action).collect();
    assert_eq!(found.len(), 1, "{action}: {found:#?}");
    found[0]
}

/// Swaps the names of two files.
fn swap(a: &std::path::Path, b: &std::path::Path) {
    let tmp = a.with_extension("swap");
    std::fs::rename(a, &tmp).unwrap();
    std::fs::rename(b, a).unwrap();
    std::fs::rename(&tmp, b).unwrap();
}

fn audit_files(w: &World, device: &str) -> Vec<PathBuf> {
    let dir = w.dir.join("a").join(device);
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

#[test]
fn every_action_is_recorded_once_with_its_fields() {
    let w = World::new();
    let (mut a, phrase) = w.create();
    let src = w.tmp.path().join("Lab results.pdf");
    std::fs::write(&src, "v1").unwrap();
    a.add(std::slice::from_ref(&src), "Smith", &NoProgress)
        .unwrap();
    a.mkdir("Billing").unwrap();
    let out = w.tmp.path().join("out");
    a.get(
        "Smith/Lab results.pdf",
        None,
        &out,
        Access::Opened,
        &NoProgress,
    )
    .unwrap();
    a.get_to_writer(
        "Smith/Lab results.pdf",
        None,
        &mut Vec::new(),
        Access::Previewed,
    )
    .unwrap();
    std::fs::remove_file(&out).unwrap();
    a.get(
        "Smith/Lab results.pdf",
        None,
        &out,
        Access::Exported,
        &NoProgress,
    )
    .unwrap();
    std::fs::write(&src, "v2, edited").unwrap();
    let saved = AddOptions {
        saved_back: true,
        ..AddOptions::default()
    };
    a.add_with(std::slice::from_ref(&src), "Smith", &saved, &NoProgress)
        .unwrap();
    a.revert("Smith/Lab results.pdf", 2).unwrap();
    a.rename("Smith/Lab results.pdf", "Smith/Labs.pdf").unwrap();
    a.rename("Smith/Labs.pdf", "Billing").unwrap();
    a.remove("Billing/Labs.pdf").unwrap();
    a.restore("Billing/Labs.pdf").unwrap();
    a.remove("Billing/Labs.pdf").unwrap();
    a.purge(PurgeTarget::All).unwrap();
    a.lock("idle");
    // A refused unlock is recorded at the next one.
    let err = Vault::unlock(
        &w.dir,
        &w.store,
        &pass("not the passphrase"),
        w.options("a"),
    );
    assert!(matches!(err, Err(UnlockError::WrongPassphrase)));
    let mut a = Vault::unlock(&w.dir, &w.store, &pass(PASS), w.options("a")).unwrap();
    // A wrong phrase on device b, then the right one.
    let other = RecoveryPhrase::generate();
    let err = Vault::recover(
        &w.dir,
        &other,
        &MemoryStore::default(),
        &pass("other pass"),
        w.options("b"),
    );
    assert!(matches!(err, Err(RecoverError::WrongPhrase)));
    let b = w.recover(&phrase, "b");
    drop(b);
    let identity = vec![phrase.identity()];
    drop(Vault::unlock_with_identities(&w.dir, &identity, w.options("c")).unwrap());

    let log = a.audit_log().unwrap();
    // Intact, but for the session opened with the identity file: it has
    // no signing key, so its batch is not signed by a computer of the team
    // (FORMAT.md §10.6).
    assert!(
        matches!(log.problems.as_slice(),
            [AuditProblem::Unsigned { chain, first: 1, count: 1, .. }] if chain == "c"),
        "a fresh log is intact: {:?}",
        log.problems
    );
    let expected: BTreeMap<String, usize> = [
        ("created", 1),
        ("added", 1),
        ("folder_created", 2),
        ("opened", 1),
        ("previewed", 1),
        ("exported", 1),
        ("saved_back", 1),
        ("version_restored", 1),
        ("renamed", 1),
        ("moved", 1),
        ("deleted", 2),
        ("restored", 1),
        ("purged", 1),
        ("locked", 1),
        ("unlock_failed", 1),
        ("unlocked", 1),
        ("recovery_failed", 1),
        ("recovery_used", 2),
        ("device_enrolled", 2),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(count(&log), expected);

    let opened = only(&log, "opened");
    assert_eq!(opened.path.as_deref(), Some("Smith/Lab results.pdf"));
    assert_eq!(opened.outcome, "ok");
    assert_eq!(opened.device, a.device_id());
    assert_eq!(opened.device_name, "a");
    assert_eq!(opened.member, a.keys.member);
    assert!(opened.app.starts_with("chartsafe-core "), "{}", opened.app);
    // The entry id survives the renames: its whole history is one filter away.
    let id = opened.entry.clone().unwrap();
    let filter = AuditFilter {
        entries: vec![id],
        ..AuditFilter::default()
    };
    let history: Vec<&str> = log.filter(&filter).map(|e| e.action.as_str()).collect();
    assert_eq!(
        history,
        [
            "added",
            "opened",
            "previewed",
            "exported",
            "saved_back",
            "version_restored",
            "renamed",
            "moved",
            "deleted",
            "restored",
            "deleted",
            "purged"
        ]
    );
    let moved = only(&log, "moved");
    assert_eq!(moved.path.as_deref(), Some("Smith/Labs.pdf"));
    assert_eq!(moved.detail.as_deref(), Some("to Billing/Labs.pdf"));
    assert_eq!(only(&log, "locked").detail.as_deref(), Some("idle"));
    let failed = only(&log, "unlock_failed");
    assert_eq!(
        (failed.outcome.as_str(), failed.reason.as_deref()),
        ("denied", Some("wrong passphrase"))
    );
    assert_eq!(
        only(&log, "version_restored").detail.as_deref(),
        Some("version 2")
    );
    assert_eq!(only(&log, "recovery_failed").device_name, "b");
    // Time order across the three devices' chains.
    assert!(log.entries.windows(2).all(|p| p[0].time <= p[1].time));
    assert_eq!(log.chains.len(), 3);
}

#[test]
fn a_failed_read_is_recorded_as_failed() {
    let w = World::new();
    let (mut a, _) = w.create();
    let src = w.tmp.path().join("scan.png");
    std::fs::write(&src, "image").unwrap();
    a.add(std::slice::from_ref(&src), "", &NoProgress).unwrap();
    let snap = a.load().unwrap();
    let node = snap.find("scan.png").unwrap();
    let content = snap.tree.versions[node.version]
        .state
        .content
        .clone()
        .unwrap();
    std::fs::remove_file(a.layout.blob(&content.blob)).unwrap();
    let err = a.get_to_writer("scan.png", None, &mut Vec::new(), Access::Previewed);
    assert!(matches!(err, Err(GetError::BlobMissing { .. })));
    let log = a.audit_log().unwrap();
    let e = only(&log, "previewed");
    assert_eq!(e.outcome, "failed");
    assert!(e.reason.as_deref().unwrap().contains("missing"), "{e:?}");
}

#[test]
fn when_the_log_cannot_be_written_nothing_is_read_or_changed_but_lock_works() {
    let w = World::new();
    let (mut a, _) = w.create();
    let src = w.tmp.path().join("note.txt");
    std::fs::write(&src, "text").unwrap();
    a.add(std::slice::from_ref(&src), "", &NoProgress).unwrap();
    // The chain's folder becomes a file: every append fails (as root, a
    // read-only folder would not stop us).
    let chain = w.dir.join("a").join(a.device_id());
    std::fs::rename(&chain, w.tmp.path().join("saved-chain")).unwrap();
    std::fs::write(&chain, "not a folder").unwrap();

    let out = w.tmp.path().join("out.txt");
    let err = a.get("note.txt", None, &out, Access::Exported, &NoProgress);
    assert!(matches!(err, Err(GetError::Audit(_))), "{err:?}");
    assert!(!out.exists(), "nothing is written out without its record");
    let leftovers = std::fs::read_dir(w.tmp.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with(".chartsafe-")
        })
        .count();
    assert_eq!(leftovers, 0);
    let mut sink = Vec::new();
    assert!(matches!(
        a.get_to_writer("note.txt", None, &mut sink, Access::Previewed),
        Err(GetError::Audit(_))
    ));
    assert!(sink.is_empty());
    let err = a.rename("note.txt", "renamed.txt").unwrap_err();
    assert!(matches!(err, MoveError::Audit(_)));
    assert!(
        err.to_string()
            .starts_with("the audit log could not be written"),
        "{err}"
    );
    assert_eq!(
        a.list().unwrap().entries[0].path,
        "note.txt",
        "nothing changed"
    );
    let err = a
        .add(std::slice::from_ref(&src), "again", &NoProgress)
        .unwrap_err();
    assert!(matches!(err, AddError::Audit(_)));
    assert_eq!(a.list().unwrap().entries.len(), 1);

    // Locking still works; its event waits on this device.
    a.lock("manual");
    std::fs::remove_file(&chain).unwrap();
    std::fs::rename(w.tmp.path().join("saved-chain"), &chain).unwrap();
    let mut a = Vault::unlock(&w.dir, &w.store, &pass(PASS), w.options("a")).unwrap();
    let log = a.audit_log().unwrap();
    assert_eq!(log.problems, vec![]);
    let actions: Vec<&str> = log.entries.iter().map(|e| e.action.as_str()).collect();
    // Failed reads before the log broke are not there (they could not be
    // written either); the lock is, before the unlock that carried it.
    assert_eq!(
        actions,
        ["created", "device_enrolled", "added", "locked", "unlocked"]
    );
}

/// A vault on device "a" with `n` single-event batches after creation.
fn chain_of(w: &World, n: usize) -> Vault {
    let (mut a, _) = w.create();
    for i in 0..n {
        a.record(Event::new(a.now_ms(), Action::AuditExported).detail(format!("#{i}")))
            .unwrap();
    }
    a
}

fn problems_after(w: &World, a: &mut Vault, tamper: impl FnOnce(&[PathBuf])) -> Vec<AuditProblem> {
    let files = audit_files(w, a.device_id());
    tamper(&files);
    a.audit_log().unwrap().problems
}

#[test]
fn a_flipped_byte_is_reported_with_chain_and_position() {
    let w = World::new();
    let mut a = chain_of(&w, 5);
    let p = problems_after(&w, &mut a, |f| {
        let mut bytes = std::fs::read(&f[2]).unwrap();
        let n = bytes.len();
        bytes[n - 20] ^= 1;
        std::fs::write(&f[2], bytes).unwrap();
    });
    assert!(
        matches!(&p[..], [AuditProblem::Unreadable { position: 3, chain, .. }] if chain == "a"),
        "{p:?}"
    );
    assert!(
        p[0].to_string().contains("audit chain of \"a\""),
        "{}",
        p[0]
    );
}

#[test]
fn a_deleted_middle_batch_is_reported() {
    let w = World::new();
    let mut a = chain_of(&w, 5);
    let p = problems_after(&w, &mut a, |f| std::fs::remove_file(&f[2]).unwrap());
    assert!(
        matches!(
            &p[..],
            [AuditProblem::Missing {
                first: 3,
                last: 3,
                ..
            }]
        ),
        "{p:?}"
    );
}

#[test]
fn reordered_batches_are_reported() {
    let w = World::new();
    let mut a = chain_of(&w, 5);
    let p = problems_after(&w, &mut a, |f| swap(&f[1], &f[2]));
    assert!(
        p.iter().any(|x| matches!(
            x,
            AuditProblem::Misplaced {
                position: 2,
                claims_position: 3,
                ..
            }
        )),
        "{p:?}"
    );
    assert!(
        p.iter().any(|x| matches!(
            x,
            AuditProblem::Misplaced {
                position: 3,
                claims_position: 2,
                ..
            }
        )),
        "{p:?}"
    );
}

#[test]
fn a_batch_replayed_from_another_vault_is_reported() {
    let w = World::new();
    let mut a = chain_of(&w, 2);
    let w2 = World::new();
    let other = chain_of(&w2, 2);
    let theirs = audit_files(&w2, other.device_id());
    let p = problems_after(&w, &mut a, |f| {
        let next = f[0].with_file_name("0000000004");
        std::fs::copy(&theirs[1], next).unwrap();
    });
    assert!(
        matches!(&p[..], [AuditProblem::Unreadable { position: 4, .. }]),
        "{p:?}"
    );
}

#[test]
fn a_truncated_tail_is_reported_by_the_device_that_saw_it_and_by_those_it_told() {
    let w = World::new();
    let (mut a, phrase) = w.create();
    for _ in 0..4 {
        a.record(Event::new(a.now_ms(), Action::Checked)).unwrap();
    }
    // Device b reads the log (and so learns a's head), then writes a batch
    // that announces it.
    let mut b = w.recover(&phrase, "b");
    assert_eq!(b.audit_log().unwrap().problems, vec![]);
    b.record(Event::new(b.now_ms(), Action::Checked)).unwrap();
    drop(b);
    let files = audit_files(&w, a.device_id());
    for f in &files[3..] {
        std::fs::remove_file(f).unwrap();
    }
    // a itself remembers its own head.
    let p = a.audit_log().unwrap().problems;
    assert!(
        p.iter().any(|x| matches!(x, AuditProblem::Truncated { expected: 5, found: 3, by, .. } if by == "this device")),
        "{p:?}"
    );
    // A third device that never saw a's chain learns it from b's batch.
    let mut c = w.recover(&phrase, "c");
    let p = c.audit_log().unwrap().problems;
    assert!(
        p.iter().any(|x| matches!(x, AuditProblem::Truncated { expected: 5, found: 3, by, .. } if by == "\"b\"")),
        "{p:?}"
    );
    assert!(p[0].to_string().contains("is truncated"), "{}", p[0]);
}

#[test]
fn forged_batches_are_reported() {
    let w = World::new();
    let mut a = chain_of(&w, 2);
    // A storage attacker cannot encrypt to our keys: a planted file at the
    // next position does not decrypt.
    let planted = age::x25519::Identity::generate().to_public();
    let bytes = crypt::encrypt_bytes(b"{\"chartsafe_audit\":1}", &[planted]);
    let dir = w.dir.join("a").join(a.device_id());
    std::fs::write(dir.join("0000000004"), bytes).unwrap();
    // Someone holding the content key but not the MAC key (FORMAT.md §10.1)
    // gets the MAC wrong.
    let mut body = AuditBody {
        format: 1,
        team: Vec::new(),
        legacy: Default::default(),
        vault: a.id().to_owned(),
        device: a.device_id().to_owned(),
        device_name: "a".into(),
        member: a.keys.member.clone(),
        seq: 5,
        prev: None,
        time: 0,
        app: "forger".into(),
        events: vec![],
        seen: Default::default(),
    };
    body.events.push(Event::new(0, Action::Checked));
    let (plain, _) = body.seal(&crate::keys::MacKey(zeroize::Zeroizing::new([7; 32])));
    let bytes = crypt::encrypt_bytes(&plain, &a.keys.recipients());
    std::fs::write(dir.join("0000000005"), bytes).unwrap();
    let p = a.audit_log().unwrap().problems;
    assert!(
        p.iter()
            .any(|x| matches!(x, AuditProblem::Unreadable { position: 4, .. })),
        "{p:?}"
    );
    assert!(
        p.iter()
            .any(|x| matches!(x, AuditProblem::Forged { position: 5, .. })),
        "{p:?}"
    );
    // The next real batch still gets a fresh position and links correctly.
    a.record(Event::new(a.now_ms(), Action::Checked)).unwrap();
    assert!(dir.join("0000000006").exists());
}

#[test]
fn two_devices_see_both_chains_merged_in_time_order() {
    let w = World::new();
    let (mut a, mut b, _) = w.two_devices_with("x.txt", "x");
    let out = w.tmp.path().join("o");
    for i in 0..3 {
        let v = if i % 2 == 0 { &mut a } else { &mut b };
        let _ = std::fs::remove_file(&out);
        v.get("x.txt", None, &out, Access::Opened, &NoProgress)
            .unwrap();
    }
    let la = a.audit_log().unwrap();
    let lb = b.audit_log().unwrap();
    assert_eq!(la.entries, lb.entries);
    let opened: Vec<&str> = la
        .entries
        .iter()
        .filter(|e| e.action == "opened")
        .map(|e| e.device_name.as_str())
        .collect();
    assert_eq!(opened, ["a", "b", "a"]);
    assert_eq!(la.chains.len(), 2);
}

/// A vault with `n` small files in a few folders, and the blob file of each.
fn vault_with_files(w: &World, n: usize) -> (Vault, Vec<(String, PathBuf)>) {
    let (mut a, _) = w.create();
    let src = w.tmp.path().join("src");
    for i in 0..n {
        let p = src
            .join(format!("patient {:02}", i % 20))
            .join(format!("note {i}.txt"));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, format!("note number {i}")).unwrap();
    }
    a.add(std::slice::from_ref(&src), "", &NoProgress).unwrap();
    let snap = a.load().unwrap();
    let blobs = snap
        .tree
        .nodes
        .iter()
        .filter_map(|n| {
            let c = snap.tree.versions[n.version].state.content.as_ref()?;
            Some((n.path.clone(), a.layout.blob(&c.blob)))
        })
        .collect();
    (a, blobs)
}

#[test]
fn a_healthy_vault_of_2000_files_has_no_problems() {
    let w = World::new();
    let (mut a, blobs) = vault_with_files(&w, 2000);
    assert_eq!(blobs.len(), 2000);
    let report = a.verify(&NoProgress).unwrap();
    assert_eq!(report.problems, vec![]);
    assert_eq!(report.contents_checked, 2000);
    let log = a.audit_log().unwrap();
    assert_eq!(log.entries.last().unwrap().action, "checked");
    assert_eq!(
        log.entries.last().unwrap().detail.as_deref(),
        Some("no problems")
    );
}

#[test]
fn verify_finds_each_injected_fault_and_repair_removes_only_strays() {
    let w = World::new();
    let (mut a, _) = w.create();
    a.set_orphan_grace_ms(0);
    let src = w.tmp.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    for name in ["missing.txt", "swap-1.txt", "swap-2.txt", "fine.txt"] {
        std::fs::write(src.join(name), format!("content of {name}")).unwrap();
    }
    a.add(
        &[
            src.join("missing.txt"),
            src.join("swap-1.txt"),
            src.join("swap-2.txt"),
            src.join("fine.txt"),
        ],
        "",
        &NoProgress,
    )
    .unwrap();
    let snap = a.load().unwrap();
    let blob = |path: &str| {
        let n = snap.find(path).unwrap();
        a.layout.blob(
            &snap.tree.versions[n.version]
                .state
                .content
                .as_ref()
                .unwrap()
                .blob,
        )
    };
    let kept = w.tmp.path().join("kept-blob");
    let missing_blob = blob("missing.txt");
    std::fs::rename(&missing_blob, &kept).unwrap();
    let (s1, s2) = (blob("swap-1.txt"), blob("swap-2.txt"));
    swap(&s1, &s2);
    let orphan = a.layout.blob(&crate::ids::random_id());
    std::fs::create_dir_all(orphan.parent().unwrap()).unwrap();
    std::fs::copy(blob("fine.txt"), &orphan).unwrap();
    let leftover = w.dir.join("r").join(a.device_id()).join(".cs-tmp-abc123");
    std::fs::write(&leftover, "half a record").unwrap();
    let report = a.verify(&NoProgress).unwrap();
    let p = &report.problems;
    let has = |f: &dyn Fn(&HealthProblem) -> bool| p.iter().filter(|x| f(x)).count();
    assert_eq!(
        has(
            &|x| matches!(x, HealthProblem::ContentMissing { path, waiting: false, .. } if path == "missing.txt")
        ),
        1,
        "{p:#?}"
    );
    assert_eq!(
        has(&|x| matches!(x, HealthProblem::ContentSubstituted { .. })),
        2,
        "{p:#?}"
    );
    // While contents are missing or replaced, no orphan may go: it could
    // be one of them under another name.
    assert_eq!(
        has(&|x| matches!(
            x,
            HealthProblem::Orphan {
                removable: false,
                ..
            }
        )),
        1,
        "{p:#?}"
    );
    // The leftover is fresh: reported, left alone.
    assert_eq!(
        has(&|x| matches!(
            x,
            HealthProblem::Leftover {
                removable: false,
                ..
            }
        )),
        1,
        "{p:#?}"
    );
    assert_eq!(p.len(), 5, "{p:#?}");
    // Each names the entry (or file), says what is wrong and what to do.
    let missing = p
        .iter()
        .find(|x| matches!(x, HealthProblem::ContentMissing { .. }))
        .unwrap();
    assert!(
        missing
            .to_string()
            .contains("\"missing.txt\" (current version)"),
        "{missing}"
    );
    assert!(
        missing.remedy().contains("older version"),
        "{}",
        missing.remedy()
    );

    assert!(a.repair(&report).unwrap().removed.is_empty());
    assert!(orphan.exists());
    // Once the contents are whole again, the orphan goes.
    std::fs::rename(&kept, &missing_blob).unwrap();
    swap(&s1, &s2);
    let report = a.verify(&NoProgress).unwrap();
    assert_eq!(report.problems.len(), 2, "{:#?}", report.problems);
    let fixed = a.repair(&report).unwrap();
    assert_eq!(fixed.removed.len(), 1, "{fixed:?}");
    assert!(!orphan.exists());
    assert!(leftover.exists());
    let again = a.verify(&NoProgress).unwrap();
    assert_eq!(again.problems.len(), 1, "{:#?}", again.problems);
    let log = a.audit_log().unwrap();
    let repaired = only(&log, "repaired");
    assert_eq!(repaired.detail.as_deref(), Some("removing 1 files"));

    // Corrupted metadata: a later record is damaged. Its file now looks
    // like an orphan, but one no repair may touch.
    std::fs::write(src.join("later.txt"), "later").unwrap();
    a.add(&[src.join("later.txt")], "", &NoProgress).unwrap();
    let record = w.dir.join("r").join(a.device_id()).join("0000000002");
    let mut bytes = std::fs::read(&record).unwrap();
    let n = bytes.len();
    bytes[n - 10] ^= 0x40;
    std::fs::write(&record, bytes).unwrap();
    let report = a.verify(&NoProgress).unwrap();
    let p = &report.problems;
    assert!(p.iter().any(|x| matches!(x, HealthProblem::Record(Problem::RecordUnreadable { file }) if file.ends_with("/0000000002"))), "{p:#?}");
    let orphan = p
        .iter()
        .find(|x| matches!(x, HealthProblem::Orphan { .. }))
        .unwrap();
    assert!(!orphan.repairable(), "{orphan:?}");
    assert!(a.repair(&report).unwrap().removed.is_empty());
}

#[test]
fn restore_and_purge_record_every_path_inside_a_folder() {
    let w = World::new();
    let (mut a, _) = w.create();
    let src = w.tmp.path().join("Smith");
    std::fs::create_dir_all(src.join("Labs")).unwrap();
    std::fs::write(src.join("Labs/cbc.txt"), "cbc").unwrap();
    a.add(std::slice::from_ref(&src), "Patients", &NoProgress)
        .unwrap();
    a.remove("Patients/Smith").unwrap();
    a.restore("Patients/Smith").unwrap();
    a.remove("Patients/Smith").unwrap();
    a.purge(PurgeTarget::All).unwrap();
    let log = a.audit_log().unwrap();
    for action in ["deleted", "restored", "purged"] {
        let mut paths: Vec<&str> = log
            .entries
            .iter()
            .filter(|e| e.action == action)
            .map(|e| e.path.as_deref().unwrap())
            .collect();
        paths.sort_unstable();
        paths.dedup();
        assert_eq!(
            paths,
            [
                "Patients/Smith",
                "Patients/Smith/Labs",
                "Patients/Smith/Labs/cbc.txt"
            ],
            "{action}"
        );
    }
}

#[cfg(unix)] // links made with std::os::unix
#[test]
fn repair_never_follows_links_nor_removes_what_may_be_a_named_blob() {
    let w = World::new();
    let (mut a, _) = w.create();
    a.set_orphan_grace_ms(0);
    let src = w.tmp.path().join("x.txt");
    std::fs::write(&src, "x").unwrap();
    a.add(std::slice::from_ref(&src), "", &NoProgress).unwrap();
    let snap = a.load().unwrap();
    let n = snap.find("x.txt").unwrap();
    let blob = snap.tree.versions[n.version]
        .state
        .content
        .clone()
        .unwrap()
        .blob;
    // A planted link from the blob folder to a folder outside the vault.
    let outside = w.tmp.path().join("Documents");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("precious.doc"), "not the vault's").unwrap();
    // (At a shard name no blob uses: blob ids are random.)
    let shard = ["zz", "zy", "zx"]
        .into_iter()
        .find(|s| !w.dir.join("b").join(s).exists())
        .unwrap();
    std::os::unix::fs::symlink(&outside, w.dir.join("b").join(shard)).unwrap();
    // A sync client's copy under a marker we do not know.
    let copy = a
        .layout
        .blob(&blob)
        .with_file_name(format!("{blob}.Conflict"));
    std::fs::copy(a.layout.blob(&blob), &copy).unwrap();
    // A true orphan, and a pending file planted with a forged event.
    let orphan = a.layout.blob(&crate::ids::random_id());
    std::fs::create_dir_all(orphan.parent().unwrap()).unwrap();
    std::fs::write(&orphan, "junk").unwrap();

    let report = a.verify(&NoProgress).unwrap();
    let orphans: Vec<&HealthProblem> = report
        .problems
        .iter()
        .filter(|p| matches!(p, HealthProblem::Orphan { .. }))
        .collect();
    assert_eq!(orphans.len(), 2, "{:#?}", report.problems);
    assert!(!report
        .problems
        .iter()
        .any(|p| p.to_string().contains("precious")));
    let copy_problem = orphans
        .iter()
        .find(|p| p.to_string().contains(".Conflict"))
        .unwrap();
    assert!(!copy_problem.repairable(), "a copy of a named blob is kept");
    let done = a.repair(&report).unwrap();
    assert_eq!(done.removed.len(), 1, "{done:?}");
    assert!(!orphan.exists() && copy.exists());
    assert!(outside.join("precious.doc").exists());
}

#[test]
fn orphans_wait_from_when_this_device_first_saw_them_not_from_file_times() {
    let w = World::new();
    let (mut a, _) = w.create();
    a.set_orphan_grace_ms(10_000);
    let orphan = a.layout.blob(&crate::ids::random_id());
    std::fs::create_dir_all(orphan.parent().unwrap()).unwrap();
    std::fs::write(&orphan, "junk").unwrap();
    // Its file times say 2000 (as every vault file's do): irrelevant.
    let first = a.verify(&NoProgress).unwrap();
    assert!(!first.problems[0].repairable(), "{:?}", first.problems);
    // The fake clock moves 1 s per reading; 10 s later it may go.
    w.clock
        .fetch_add(20_000, std::sync::atomic::Ordering::SeqCst);
    let later = a.verify(&NoProgress).unwrap();
    assert!(later.problems[0].repairable(), "{:?}", later.problems);
    assert_eq!(a.repair(&later).unwrap().removed.len(), 1);
}

#[test]
fn a_cancelled_check_stops_and_a_planted_pipe_does_not_hang_it() {
    struct Stop;
    impl crate::traits::Progress for Stop {
        fn cancelled(&self) -> bool {
            true
        }
    }
    let w = World::new();
    let (mut a, blobs) = vault_with_files(&w, 3);
    assert!(matches!(a.verify(&Stop), Err(VerifyError::Cancelled)));
    // A pipe where a blob should be: reported, never opened.
    let (path, blob) = &blobs[0];
    std::fs::remove_file(blob).unwrap();
    let status = std::process::Command::new("mkfifo")
        .arg(blob)
        .status()
        .unwrap();
    assert!(status.success());
    let report = a.verify(&NoProgress).unwrap();
    assert!(
        report
            .problems
            .iter()
            .any(|p| matches!(p, HealthProblem::ContentDamaged { path: x, .. } if x == path)),
        "{:#?}",
        report.problems
    );
}

/// Regression: the check's sink signalled a stop as `Interrupted`, which
/// `write_all` retries forever, so a stop inside a big file (a lock during
/// the check) spun instead of returning.
#[test]
fn a_check_stopped_inside_a_big_file_returns() {
    struct StopAfterFirstChunk(std::sync::atomic::AtomicBool);
    impl crate::traits::Progress for StopAfterFirstChunk {
        fn advance(&self, _: u64) {
            self.0.store(true, std::sync::atomic::Ordering::SeqCst);
        }
        fn cancelled(&self) -> bool {
            self.0.load(std::sync::atomic::Ordering::SeqCst)
        }
    }
    let w = World::new();
    let (mut a, _) = w.create();
    let src = w.tmp.path().join("scan.pdf");
    std::fs::write(&src, vec![7u8; 4 << 20]).unwrap();
    a.add(std::slice::from_ref(&src), "", &NoProgress).unwrap();
    let stop = StopAfterFirstChunk(Default::default());
    assert!(matches!(a.verify(&stop), Err(VerifyError::Cancelled)));
}

#[test]
fn pending_events_from_the_local_folder_are_limited_to_what_goes_there() {
    let w = World::new();
    let (a, _) = w.create();
    let file = w
        .tmp
        .path()
        .join("state-a")
        .join(a.id())
        .join("audit-pending.json");
    drop(a);
    let forged = serde_json::json!([
        {"time": 1, "action": "opened", "entry": "e".repeat(26), "path": "Smith/labs.pdf", "outcome": "ok"},
        {"time": 2, "action": "locked", "outcome": "ok", "detail": "idle\u{1b}[2J"},
    ]);
    std::fs::write(&file, forged.to_string()).unwrap();
    let mut a = Vault::unlock(&w.dir, &w.store, &pass(PASS), w.options("a")).unwrap();
    let log = a.audit_log().unwrap();
    assert!(
        !log.entries.iter().any(|e| e.action == "opened"),
        "{:#?}",
        log.entries
    );
    let locked = only(&log, "locked");
    assert_eq!(locked.detail.as_deref(), Some("idle[2J"));
}

#[test]
fn recovery_with_an_unwritable_log_enrols_nothing() {
    let w = World::new();
    let (a, phrase) = w.create();
    let keyslots = std::fs::read_dir(w.dir.join("k")).unwrap().count();
    drop(a);
    // Every chain folder is blocked: a file where `a/` should be.
    let a_dir = w.dir.join("a");
    std::fs::rename(&a_dir, w.tmp.path().join("saved-a")).unwrap();
    std::fs::write(&a_dir, "blocked").unwrap();
    let store = MemoryStore::default();
    let err = Vault::recover(&w.dir, &phrase, &store, &pass("other pass"), w.options("b"));
    assert!(matches!(err, Err(RecoverError::Audit(_))), "{err:?}");
    assert_eq!(
        std::fs::read_dir(w.dir.join("k")).unwrap().count(),
        keyslots
    );
    assert!(store
        .get(&keychain_key(
            &crate::vault::public_info(&w.dir).unwrap().id
        ))
        .unwrap()
        .is_none());
}
