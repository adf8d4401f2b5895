//! Key rotation and re-encryption (FORMAT.md §13): a removed member reads
//! nothing written afterwards, and, once the folder is re-encrypted,
//! nothing at all of what the folder holds.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use secrecy::ExposeSecret;

use crate::crypt::DecryptFailure;
use crate::errors::WriteRefused;
use crate::format::team::Role;
use crate::traits::memory::MemoryStore;
use crate::traits::NoProgress;
use crate::vault::tests::{pass, World};
use crate::vault::*;

/// Every encrypted file of the folder: blobs, records, audit batches,
/// team entries.
fn files(dir: &Path) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    for top in ["b", "r", "a", "t"] {
        let Ok(level1) = std::fs::read_dir(dir.join(top)) else {
            continue;
        };
        for sub in level1.flatten() {
            for f in std::fs::read_dir(sub.path()).unwrap().flatten() {
                out.insert(f.path());
            }
        }
    }
    out
}

/// Whether `ids` open the age file at `path`.
fn opens(path: &Path, ids: &[AgeIdentity]) -> bool {
    let bytes = std::fs::read(path).unwrap();
    let refs: Vec<&dyn age::Identity> = ids.iter().map(|i| i.as_age() as _).collect();
    match crypt::decrypt_bytes(&bytes, &refs) {
        Ok(_) => true,
        Err(DecryptFailure::NoMatchingKey) => false,
        Err(e) => panic!("{}: {e:?}", path.display()),
    }
}

/// Whether the file is a `key_rotate` team entry (which stays under the
/// key before its own, §13.1).
fn is_rotation(path: &Path, ids: &[AgeIdentity]) -> bool {
    let bytes = std::fs::read(path).unwrap();
    let refs: Vec<&dyn age::Identity> = ids.iter().map(|i| i.as_age() as _).collect();
    crypt::decrypt_bytes(&bytes, &refs)
        .ok()
        .and_then(|p| crate::format::team::open(&p).ok())
        .is_some_and(|e| e.body.entry.kind() == "key_rotate")
}

pub(in crate::vault) fn add(v: &mut Vault, w: &World, name: &str, content: &str) {
    let src = w.tmp.path().join(name);
    std::fs::write(&src, content).unwrap();
    let r = v.add(std::slice::from_ref(&src), "", &NoProgress).unwrap();
    assert!(r.failed.is_empty());
}

fn read(v: &mut Vault, w: &World, path: &str) -> String {
    let out = w.tmp.path().join(format!("out-{}", ids::random_id()));
    v.get(path, None, &out, Access::Exported, &NoProgress)
        .unwrap();
    std::fs::read_to_string(out).unwrap()
}

#[test]
fn a_removed_member_reads_nothing_written_after_removal_nor_anything_once_re_encrypted() {
    let w = World::new();
    let (mut a, phrase) = w.create();
    add(&mut a, &w, "before.txt", "written before");
    let (_ns, mut nurse) = w.join(&mut a, "Nurse Joy", "ward pc", Role::Staff);
    let (_bs, mut billing) = w.join(&mut a, "Bill Ing", "billing pc", Role::Staff);
    add(&mut nurse, &w, "nurse-note.txt", "by the nurse");
    // What the nurse walks away with: every key her computer held.
    let kept: Vec<AgeIdentity> = nurse
        .keys
        .collections
        .iter()
        .map(|(_, i)| i.clone())
        .collect();
    // She could read every file, record and team entry; not the audit log,
    // which has its own key that only admins hold (FORMAT.md §14.4).
    for f in files(&w.dir) {
        let audit = f.strip_prefix(&w.dir).unwrap().starts_with("a");
        assert_eq!(opens(&f, &kept), !audit, "{}", f.display());
    }

    let removal = a.remove_from_team("Nurse Joy").unwrap();
    // Afterwards: once the removal returned. (Its own audit events and
    // entries go to the key she had: they say that she was removed.)
    let before = files(&w.dir);
    let rotation = removal.rotation.expect("the key is replaced");
    assert_eq!(rotation.devices, 2, "the admin's and billing's computers");
    assert!(a.rekey_status().due());
    add(&mut a, &w, "after.txt", "written after");
    // Billing's computer picks the new key up at its next read, and its
    // own writes go to the new key too.
    assert_eq!(billing.list().unwrap().entries.len(), 3);
    assert_eq!(read(&mut billing, &w, "after.txt"), "written after");
    add(&mut billing, &w, "invoice.txt", "billing, after");

    // Nothing written after the removal opens with her keys, but the
    // rotation entry (public key and keyslot ids only).
    let written_after: Vec<PathBuf> = files(&w.dir).difference(&before).cloned().collect();
    assert!(written_after.len() >= 6, "{written_after:?}");
    for f in &written_after {
        assert!(
            !opens(f, &kept) || is_rotation(f, &kept),
            "{} opens with a removed member's key",
            f.display()
        );
    }
    // Her own session sees no new file either.
    let names: Vec<String> = nurse
        .list()
        .unwrap()
        .entries
        .into_iter()
        .map(|e| e.path)
        .collect();
    assert!(!names.contains(&"after.txt".to_owned()), "{names:?}");
    assert!(!names.contains(&"invoice.txt".to_owned()), "{names:?}");

    // Re-encryption, stopped after a few files (as a crash would) and run
    // again: afterwards her keys open nothing but rotation entries.
    struct StopAfter(std::sync::atomic::AtomicU64, u64);
    impl crate::traits::Progress for StopAfter {
        fn file_done(&self, _: &Path) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        fn cancelled(&self) -> bool {
            self.0.load(std::sync::atomic::Ordering::SeqCst) >= self.1
        }
    }
    let job = a.rekey_job().unwrap();
    let first = job.run(&StopAfter(Default::default(), 3)).unwrap();
    assert!(first.cancelled);
    a.finish_rekey(&job, &first).unwrap();
    assert!(a.rekey_status().due(), "a stopped pass is not the end");
    let job = a.rekey_job().unwrap();
    let second = job.run(&NoProgress).unwrap();
    assert!(!second.cancelled && second.skipped.is_empty(), "{second:?}");
    assert!(second.rewritten > 0 && second.current > 0, "{second:?}");
    a.finish_rekey(&job, &second).unwrap();
    assert!(!a.rekey_status().due());
    for f in files(&w.dir) {
        assert!(
            !opens(&f, &kept) || is_rotation(&f, &kept),
            "{} still opens with a removed member's key",
            f.display()
        );
    }
    // A third pass finds nothing to do.
    let third = a.rekey_job().unwrap().run(&NoProgress).unwrap();
    assert_eq!(third.rewritten, 0, "{third:?}");

    // Nothing is lost: every file reads, everywhere, with no problem.
    for v in [&mut a, &mut billing] {
        let l = v.list().unwrap();
        assert!(l.problems.is_empty(), "{:?}", l.problems);
        assert_eq!(l.entries.len(), 4);
    }
    assert_eq!(read(&mut a, &w, "before.txt"), "written before");
    assert_eq!(read(&mut billing, &w, "nurse-note.txt"), "by the nurse");
    assert!(a.audit_log().unwrap().problems.is_empty());
    // The phrase still opens everything, and a computer enrolled with it
    // gets the current key.
    drop(a);
    let mut r = w.recover(&phrase, "replacement");
    assert_eq!(read(&mut r, &w, "invoice.txt"), "billing, after");
    assert!(r.rekey_status().holds_key);
    let actions: Vec<String> = r
        .audit_log()
        .unwrap()
        .entries
        .iter()
        .map(|e| e.action.as_str().to_owned())
        .collect();
    for want in ["removed", "key_rotated", "rekeyed"] {
        assert!(actions.iter().any(|a| a == want), "{actions:?}");
    }
}

#[test]
fn a_computer_that_missed_rotations_catches_up_through_each_key_in_turn() {
    let w = World::new();
    let (mut a, _) = w.create();
    add(&mut a, &w, "one.txt", "1");
    let (bs, b) = w.join(&mut a, "Dr B", "b pc", Role::Staff);
    drop(b);
    // Two rotations and a full re-encryption while b is away.
    a.rotate_key("test").unwrap();
    add(&mut a, &w, "two.txt", "2");
    a.rotate_key("test").unwrap();
    add(&mut a, &w, "three.txt", "3");
    let job = a.rekey_job().unwrap();
    let report = job.run(&NoProgress).unwrap();
    a.finish_rekey(&job, &report).unwrap();
    let mut b = Vault::unlock(&w.dir, &bs, &pass("member passphrase"), w.options("b pc")).unwrap();
    let l = b.list().unwrap();
    assert!(l.problems.is_empty(), "{:?}", l.problems);
    assert_eq!(l.entries.len(), 3);
    assert_eq!(read(&mut b, &w, "one.txt"), "1");
    assert!(b.rekey_status().holds_key);
}

#[test]
fn a_rotation_by_a_removed_device_or_a_planted_keyslot_changes_no_key() {
    let w = World::new();
    let (mut a, _) = w.create();
    let (_ns, mut nurse) = w.join(&mut a, "Nurse Joy", "ward pc", Role::Staff);
    a.remove_from_team("Nurse Joy").unwrap();
    let current = a.keys.recipients()[0].to_string();
    // Her computer, not told yet, rotates: written, but it does not count.
    let _ = nurse.rotate_key("mine");
    let fresh = AgeIdentity::generate();
    let entry = crate::format::team::Entry::KeyRotate {
        collection: nurse.collection_id(),
        recipient: fresh.recipient().to_string(),
        slots: [(a.device_id().to_owned(), ids::random_id())]
            .into_iter()
            .collect(),
        recovery_slot: ids::random_id(),
    };
    let _ = nurse.append_team(entry, None);
    a.list().unwrap();
    assert_eq!(a.keys.recipients()[0].to_string(), current);
    assert!(a
        .team()
        .team
        .as_ref()
        .unwrap()
        .rejected
        .iter()
        .any(|r| r.kind == "key_rotate"));
}

#[test]
fn a_computer_enrolled_with_the_phrase_after_a_rotation_reads_files_not_yet_re_encrypted() {
    let w = World::new();
    let (mut a, phrase) = w.create();
    add(&mut a, &w, "old.txt", "under the first key");
    a.rotate_key("test").unwrap();
    add(&mut a, &w, "new.txt", "under the second key");
    drop(a);
    // A new computer, enrolled with the phrase; then opened as every day,
    // with its keychain and passphrase (not the phrase).
    let store = MemoryStore::default();
    let r = Vault::recover(
        &w.dir,
        &phrase,
        &store,
        &pass("new computer"),
        w.options("new"),
    )
    .unwrap();
    drop(r);
    let mut r = Vault::unlock(&w.dir, &store, &pass("new computer"), w.options("new")).unwrap();
    assert_eq!(read(&mut r, &w, "old.txt"), "under the first key");
    assert_eq!(read(&mut r, &w, "new.txt"), "under the second key");
    // It is an admin's computer (the phrase re-established one) holding
    // the current key: it can finish the re-encryption.
    let job = r.rekey_job().unwrap();
    let report = job.run(&NoProgress).unwrap();
    assert!(report.skipped.is_empty(), "{report:?}");
    assert!(report.rewritten > 0);
}

/// The `key_rotate` entries in the folder, as (file, entry).
fn rotation_files(w: &World, ids: &[AgeIdentity]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for d in std::fs::read_dir(w.dir.join("t")).unwrap().flatten() {
        for f in std::fs::read_dir(d.path()).unwrap().flatten() {
            if is_rotation(&f.path(), ids) {
                out.push(f.path());
            }
        }
    }
    out
}

#[test]
fn a_team_log_rolled_back_to_before_a_rotation_sends_nothing_to_the_old_key() {
    let w = World::new();
    let (mut a, _) = w.create();
    let (_ns, nurse) = w.join(&mut a, "Nurse Joy", "ward pc", Role::Staff);
    let kept: Vec<AgeIdentity> = nurse
        .keys
        .collections
        .iter()
        .map(|(_, i)| i.clone())
        .collect();
    drop(nurse);
    a.remove_from_team("Nurse Joy").unwrap();
    drop(a);
    // The removed nurse deletes the rotation (and its keyslots would not
    // matter): the team log now looks as if no key was ever replaced.
    for f in rotation_files(&w, &kept) {
        std::fs::remove_file(f).unwrap();
    }
    // Without this computer's own copies of the entries (FORMAT.md §7
    // `team/`, which undo the deletion: tests/attack_tests.rs), what it
    // remembers of the keys still keeps it from the old key.
    let id = public_info(&w.dir).unwrap().id;
    std::fs::remove_dir_all(w.tmp.path().join("state-a").join(id).join("team")).unwrap();
    let before = files(&w.dir);
    let mut a = Vault::unlock(
        &w.dir,
        &w.store,
        &pass(crate::vault::tests::PASS),
        w.options("a"),
    )
    .unwrap();
    assert!(!a.team().keys_rolled_back.is_empty());
    let err = a.mkdir("Anything").unwrap_err();
    assert!(
        matches!(
            err,
            crate::errors::MkdirError::Refused(WriteRefused::KeysRolledBack)
        ),
        "{err}"
    );
    // What it did write (its audit batch) went to the key it remembers.
    for f in files(&w.dir).difference(&before) {
        assert!(!opens(f, &kept), "{} opens with the old key", f.display());
    }
}

#[test]
fn a_planted_recovery_keyslot_never_becomes_the_key_a_recovered_computer_writes_to() {
    let w = World::new();
    let (mut a, phrase) = w.create();
    let (_ns, nurse) = w.join(&mut a, "Nurse Joy", "ward pc", Role::Staff);
    // She knows the MAC key and the public recovery recipient: she plants a
    // keyslot the phrase opens, with her own key under a new collection id,
    // named to sort first.
    let planted = AgeIdentity::generate();
    let mut forged = nurse.keys.to_plain(a.id(), 0);
    forged.collections = vec![crate::keys::CollectionKey {
        id: ids::random_id(),
        identity: planted.to_secret_text().expose_secret().to_owned(),
        created: 0,
    }];
    write_keyslot(
        &a.layout,
        "aaaaaaaaaaaaaaaaaaaaaaaaaa",
        &forged,
        &phrase.identity().recipient(),
    )
    .unwrap();
    drop(nurse);
    drop(a);
    let mut r = w.recover(&phrase, "replacement");
    let before = files(&w.dir);
    add(&mut r, &w, "new.txt", "after recovery");
    for f in files(&w.dir).difference(&before) {
        assert!(
            !opens(f, std::slice::from_ref(&planted)),
            "{} opens with the planted key",
            f.display()
        );
    }
}

#[test]
fn a_planted_rotation_naming_the_genuine_keyslots_does_not_hide_the_new_key() {
    let w = World::new();
    let (mut a, _) = w.create();
    let (bs, b) = w.join(&mut a, "Dr B", "b pc", Role::Staff);
    let (_ns, nurse) = w.join(&mut a, "Nurse Joy", "ward pc", Role::Staff);
    let kept: Vec<AgeIdentity> = nurse
        .keys
        .collections
        .iter()
        .map(|(_, i)| i.clone())
        .collect();
    drop((b, nurse));
    a.remove_from_team("Nurse Joy").unwrap();
    // She reads the genuine rotation (under the key she kept) and plants a
    // copy naming its keyslots with another key, in a chain that sorts
    // first.
    let genuine = rotation_files(&w, &kept).pop().unwrap();
    let refs: Vec<&dyn age::Identity> = kept.iter().map(|i| i.as_age() as _).collect();
    let plain = crypt::decrypt_bytes(&std::fs::read(&genuine).unwrap(), &refs).unwrap();
    let mut body = crate::format::team::open(&plain).unwrap().body;
    if let crate::format::team::Entry::KeyRotate { recipient, .. } = &mut body.entry {
        *recipient = AgeIdentity::generate().recipient().to_string();
    }
    body.device = "aaaaaaaaaaaaaaaaaaaaaaaaaa".into();
    body.seq = 1;
    body.prev = None;
    let (sealed, _) = body.seal(&crate::sign::SigningKey::generate(), None);
    let dir = w.dir.join("t").join("aaaaaaaaaaaaaaaaaaaaaaaaaa");
    std::fs::create_dir_all(&dir).unwrap();
    let recipients: Vec<age::x25519::Recipient> = kept.iter().map(|i| i.recipient()).collect();
    std::fs::write(
        dir.join("0000000001"),
        crypt::encrypt_bytes(&sealed, &recipients),
    )
    .unwrap();
    add(&mut a, &w, "after.txt", "after removal");
    let mut b = Vault::unlock(&w.dir, &bs, &pass("member passphrase"), w.options("b pc")).unwrap();
    assert_eq!(read(&mut b, &w, "after.txt"), "after removal");
}

#[test]
fn a_removal_whose_rotation_never_happened_leaves_a_rotation_owed() {
    let w = World::new();
    let (mut a, _) = w.create();
    let (_ns, nurse) = w.join(&mut a, "Nurse Joy", "ward pc", Role::Staff);
    let member = nurse.keys.member.clone();
    drop(nurse);
    // As if the computer stopped between the removal and its rotation.
    a.append_team(
        crate::format::team::Entry::MemberRemove {
            member,
            cutoffs: Default::default(),
        },
        None,
    )
    .unwrap();
    assert_eq!(a.rotation_owed(), vec![None]);
    assert_eq!(a.rotate_owed().unwrap(), 1);
    assert!(a.rotation_owed().is_empty());
}

#[cfg(unix)] // links made with std::os::unix
#[test]
fn the_pass_follows_no_link_and_reads_no_oversized_team_entry() {
    let w = World::new();
    let (mut a, _) = w.create();
    add(&mut a, &w, "one.txt", "1");
    // A link to a folder outside the vault, holding an age file of ours.
    let outside = w.tmp.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    let victim = outside.join("zzvictim");
    std::fs::write(&victim, crypt::encrypt_bytes(b"x", &a.keys.recipients())).unwrap();
    let before = std::fs::read(&victim).unwrap();
    std::os::unix::fs::symlink(&outside, w.dir.join("b").join("zz")).unwrap();
    // A huge file in the team log.
    let big = w.dir.join("t").join("bbbbbbbbbbbbbbbbbbbbbbbbbb");
    std::fs::create_dir_all(&big).unwrap();
    let mut huge = crypt::encrypt_bytes(b"x", &a.keys.recipients());
    huge.resize(3 << 20, 0);
    std::fs::write(big.join("0000000001"), huge).unwrap();
    a.rotate_key("test").unwrap();
    let report = a.rekey_job().unwrap().run(&NoProgress).unwrap();
    assert_eq!(
        std::fs::read(&victim).unwrap(),
        before,
        "the link was followed"
    );
    assert!(
        report
            .skipped
            .iter()
            .any(|(_, why)| why.contains("too large")),
        "{report:?}"
    );
    assert_eq!(read(&mut a, &w, "one.txt"), "1");
}
