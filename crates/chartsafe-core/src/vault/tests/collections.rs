//! Collections with their own keys (FORMAT.md §14): a member reads only
//! the collections granted, writes only where granted write, and entries
//! never cross collections.

use std::path::{Path, PathBuf};

use secrecy::ExposeSecret;

use crate::crypt::DecryptFailure;
use crate::errors::{MkdirError, MoveError, TeamActionError, WriteRefused};
use crate::format::team::Role;
use crate::ids::CollectionId;
use crate::traits::memory::MemoryStore;
use crate::traits::NoProgress;
use crate::vault::tests::{pass, World};
use crate::vault::*;

fn add(v: &mut Vault, w: &World, dest: &str, name: &str, content: &str) {
    let src = w.tmp.path().join(name);
    std::fs::write(&src, content).unwrap();
    let r = v
        .add_with(
            std::slice::from_ref(&src),
            dest,
            &AddOptions::default(),
            &NoProgress,
        )
        .unwrap();
    assert!(r.failed.is_empty(), "{:?}", r.failed);
}

fn read(v: &mut Vault, w: &World, path: &str) -> String {
    let out = w.tmp.path().join(format!("out-{}", ids::random_id()));
    v.get(path, None, &out, Access::Exported, &NoProgress)
        .unwrap();
    std::fs::read_to_string(out).unwrap()
}

fn paths(v: &mut Vault) -> Vec<String> {
    v.list()
        .unwrap()
        .entries
        .into_iter()
        .map(|e| e.path)
        .collect()
}

/// Every file under `dir`, recursively.
pub(in crate::vault) fn all_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        if e.file_type().unwrap().is_dir() {
            out.extend(all_files(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

fn opens(path: &Path, v: &Vault) -> bool {
    let bytes = std::fs::read(path).unwrap();
    match crypt::decrypt_bytes(&bytes, &v.keys.identities()) {
        Ok(_) => true,
        Err(DecryptFailure::NoMatchingKey) => false,
        Err(e) => panic!("{}: {e:?}", path.display()),
    }
}

#[test]
fn a_billing_clerk_reads_billing_and_nothing_of_the_clinical_collection() {
    let w = World::new();
    let (mut a, _) = w.create();
    add(&mut a, &w, "", "policy.txt", "for everyone");
    let billing = a.create_collection("Billing").unwrap();
    let clinical = a.create_collection("Clinical").unwrap();
    add(&mut a, &w, "Billing", "claim-7781.txt", "claim 7781");
    add(
        &mut a,
        &w,
        "Clinical",
        "Smith, John - labs.txt",
        "potassium 4.1",
    );
    let (_cs, mut clerk) = w.join(&mut a, "Bill Clerk", "billing pc", Role::Staff);
    let (_ds, mut doctor) = w.join(&mut a, "Dr Ana", "exam pc", Role::Staff);
    a.grant("Billing", "Bill Clerk", true).unwrap();
    a.grant("Clinical", "Dr Ana", true).unwrap();

    // The clerk sees the shared file and Billing, nothing of Clinical.
    let seen = paths(&mut clerk);
    assert!(seen.contains(&"policy.txt".to_owned()), "{seen:?}");
    assert!(
        seen.contains(&"Billing/claim-7781.txt".to_owned()),
        "{seen:?}"
    );
    assert!(!seen.iter().any(|p| p.starts_with("Clinical")), "{seen:?}");
    assert_eq!(read(&mut clerk, &w, "Billing/claim-7781.txt"), "claim 7781");
    let listed: Vec<CollectionId> = clerk
        .collections()
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(listed, vec![billing.clone()]);
    assert!(clerk.list().unwrap().problems.is_empty());
    // Not one file of Clinical opens with the clerk's keys: no name, no
    // size, no content.
    let clinical_files = all_files(&w.dir.join("c").join(&clinical));
    assert!(clinical_files.len() >= 3, "{clinical_files:?}");
    for f in &clinical_files {
        assert!(!opens(f, &clerk), "{} opens for the clerk", f.display());
    }
    // The doctor: the other way round.
    let seen = paths(&mut doctor);
    assert!(seen.contains(&"Clinical/Smith, John - labs.txt".to_owned()));
    assert!(!seen.iter().any(|p| p.starts_with("Billing")), "{seen:?}");
    for f in all_files(&w.dir.join("c").join(&billing)) {
        assert!(!opens(&f, &doctor), "{} opens for the doctor", f.display());
    }
    // The audit log names Clinical's files: only admins read it.
    assert!(clerk.audit_log().unwrap().restricted);
    assert!(!a.audit_log().unwrap().restricted);

    // The clerk writes in Billing; the admin sees it.
    add(&mut clerk, &w, "Billing", "claim-7782.txt", "claim 7782");
    assert_eq!(read(&mut a, &w, "Billing/claim-7782.txt"), "claim 7782");
    // Nothing moves between collections.
    // (Out to the top of the vault, a file stays in its collection: the
    // doctor does not see it there either.)
    a.rename("Billing/claim-7781.txt", "claim-7781.txt")
        .unwrap();
    assert!(!paths(&mut doctor).contains(&"claim-7781.txt".to_owned()));
    assert!(paths(&mut clerk).contains(&"claim-7781.txt".to_owned()));
    a.rename("claim-7781.txt", "Billing/claim-7781.txt")
        .unwrap();
    let err = a
        .rename("Billing/claim-7781.txt", "Clinical/claim-7781.txt")
        .unwrap_err();
    assert!(
        matches!(err, MoveError::Refused(WriteRefused::OtherCollection)),
        "{err}"
    );
    let err = a.rename("policy.txt", "Clinical/policy.txt").unwrap_err();
    assert!(
        matches!(err, MoveError::Refused(WriteRefused::OtherCollection)),
        "{err}"
    );
    // A folder name taken at the top cannot become a collection.
    assert!(matches!(
        a.create_collection("Billing"),
        Err(TeamActionError::NotAccepted(_))
    ));
    // Only admins make collections and grant them.
    assert!(matches!(
        clerk.create_collection("Mine"),
        Err(TeamActionError::NotAdmin)
    ));
    assert!(matches!(
        clerk.grant("Billing", "Dr Ana", true),
        Err(TeamActionError::NotAdmin)
    ));

    // Revoked: the clerk's computer reads nothing written in Billing
    // afterwards, and the doctor still nothing at all.
    a.revoke("Billing", "Bill Clerk").unwrap();
    add(&mut a, &w, "Billing", "claim-7783.txt", "claim 7783");
    let seen = paths(&mut clerk);
    assert!(!seen.iter().any(|p| p.starts_with("Billing")), "{seen:?}");
    assert!(
        a.list().unwrap().problems.is_empty(),
        "{:?}",
        a.list().unwrap().problems
    );
    let job = a.rekey_job().unwrap();
    let report = job.run(&NoProgress).unwrap();
    assert!(report.skipped.is_empty(), "{report:?}");
    a.finish_rekey(&job, &report).unwrap();
    // With the keys her computer kept, nothing of Billing opens any more.
    for f in all_files(&w.dir.join("c").join(&billing)) {
        assert!(
            !opens(&f, &clerk),
            "{} opens for the revoked clerk",
            f.display()
        );
    }
    assert_eq!(read(&mut a, &w, "Billing/claim-7781.txt"), "claim 7781");
    assert_eq!(read(&mut a, &w, "Billing/claim-7782.txt"), "claim 7782");
}

#[test]
fn a_viewers_change_to_a_collection_is_refused_by_everyone_else() {
    let w = World::new();
    let (mut a, _) = w.create();
    a.create_collection("Billing").unwrap();
    add(&mut a, &w, "Billing", "claim.txt", "claim");
    let (_vs, mut viewer) = w.join(&mut a, "Auditor", "audit pc", Role::Viewer);
    let (_ss, mut staff) = w.join(&mut a, "Read Only Staff", "staff pc", Role::Staff);
    a.grant("Billing", "Auditor", false).unwrap();
    a.grant("Billing", "Read Only Staff", false).unwrap();
    assert_eq!(read(&mut viewer, &w, "Billing/claim.txt"), "claim");
    // Refused on their own computers...
    let err = staff.mkdir("Billing/mine").unwrap_err();
    assert!(
        matches!(err, MkdirError::Refused(WriteRefused::NoCollectionAccess)),
        "{err}"
    );
    // ...and forged past that check, refused by every other computer.
    let snap = staff.load().unwrap();
    let parent = snap.tree.node("Billing").unwrap().entry.clone();
    let op = crate::format::record::Op {
        entry: ids::random_id(),
        parents: Vec::new(),
        state: crate::format::record::EntryState {
            parent: Some(collections::split_key(&parent).1.to_owned()),
            name: "forged".into(),
            kind: crate::format::record::Kind::Dir,
            status: crate::format::record::Status::Live,
            content: None,
            collection: None,
        },
    };
    let coll = collections::split_key(&parent).0.unwrap().to_owned();
    staff
        .commit_record(vec![op], Vec::new(), Some(&coll))
        .unwrap();
    let l = a.list().unwrap();
    assert!(!l.entries.iter().any(|e| e.path.contains("forged")));
    assert!(l.problems.iter().any(|p| matches!(p,
        Problem::RecordRefused { reason, .. } if reason.contains("may not change this collection"))),
        "{:?}", l.problems);
    // And flagged in the admin's audit log, once.
    a.list().unwrap();
    let flagged = |a: &mut Vault| {
        a.audit_log()
            .unwrap()
            .entries
            .iter()
            .filter(|e| e.action == "change_refused")
            .count()
    };
    assert_eq!(flagged(&mut a), 1);
    a.list().unwrap();
    assert_eq!(flagged(&mut a), 1);
}

#[test]
fn a_second_computer_of_a_member_gets_what_that_member_may_read() {
    let w = World::new();
    let (mut a, _) = w.create();
    a.create_collection("Billing").unwrap();
    a.create_collection("Clinical").unwrap();
    add(&mut a, &w, "Billing", "claim.txt", "claim");
    add(&mut a, &w, "Clinical", "labs.txt", "labs");
    let (_cs, clerk) = w.join(&mut a, "Bill Clerk", "billing pc", Role::Staff);
    let member = clerk.keys.member.clone();
    drop(clerk);
    a.grant("Billing", "Bill Clerk", true).unwrap();
    // Her laptop asks to join; the admin, who checked the code with her,
    // approves it as hers.
    let inv = a.invite().unwrap();
    let store = MemoryStore::default();
    let pending = Vault::request_join(
        &w.dir,
        inv.text.expose_secret(),
        "Bill Clerk",
        &store,
        &pass("laptop passphrase"),
        w.options("clerk laptop"),
    )
    .unwrap();
    let id = a.join_requests().unwrap()[0].id.clone();
    let err = a
        .approve_computer(&id, "0000 000x", "Bill Clerk")
        .unwrap_err();
    assert!(matches!(err, TeamActionError::CodeMismatch), "{err}");
    a.approve_computer(&id, &pending.code, "Bill Clerk")
        .unwrap();
    let team = a.team().team.clone().unwrap();
    assert_eq!(team.members.len(), 2, "no new member");
    let mut laptop = Vault::unlock(
        &w.dir,
        &store,
        &pass("laptop passphrase"),
        w.options("clerk laptop"),
    )
    .unwrap();
    assert_eq!(laptop.keys.member, member);
    let seen = paths(&mut laptop);
    assert!(seen.contains(&"Billing/claim.txt".to_owned()), "{seen:?}");
    assert!(!seen.iter().any(|p| p.starts_with("Clinical")), "{seen:?}");
    // No key of Clinical reached it.
    for f in all_files(&w.dir.join("c")) {
        let s = f.to_string_lossy().into_owned();
        if !s.contains(
            &team
                .collections
                .values()
                .find(|c| c.readers.is_empty() && !c.audit)
                .unwrap()
                .id,
        ) {
            continue;
        }
        assert!(!opens(&f, &laptop), "{s}");
    }
    add(&mut laptop, &w, "Billing", "claim-2.txt", "from the laptop");
    assert_eq!(read(&mut a, &w, "Billing/claim-2.txt"), "from the laptop");
}

#[test]
fn a_folder_tree_added_into_a_collection_stays_in_it_across_batches() {
    let w = World::new();
    let (mut a, _) = w.create();
    let billing = a.create_collection("Billing").unwrap();
    let (_ds, mut doctor) = w.join(&mut a, "Dr Ana", "exam pc", Role::Staff);
    // More files than one batch holds, in nested folders made by the add.
    let src = w.tmp.path().join("claims");
    for i in 0..300 {
        let d = src.join(format!("2026-{:02}", i % 12 + 1)).join("batch");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join(format!("claim-{i:03}.txt")), format!("claim {i}")).unwrap();
    }
    let r = a
        .add_with(
            std::slice::from_ref(&src),
            "Billing",
            &AddOptions::default(),
            &NoProgress,
        )
        .unwrap();
    assert_eq!(r.added, 300, "{:?}", r.failed);
    a.mkdir("Billing/claims/new/deeper").unwrap();
    // Every record and content went under c/<Billing>/; the doctor, not in
    // Billing, sees none of it.
    assert!(
        all_files(&w.dir.join("b")).is_empty(),
        "contents outside the collection"
    );
    let seen = paths(&mut doctor);
    assert!(
        !seen
            .iter()
            .any(|p| p.contains("claim") || p.contains("2026")),
        "{seen:?}"
    );
    let mine = paths(&mut a);
    assert_eq!(mine.iter().filter(|p| p.ends_with(".txt")).count(), 300);
    assert!(
        mine.contains(&"Billing/claims/new/deeper".to_owned()),
        "{mine:?}"
    );
    assert_eq!(
        read(&mut a, &w, "Billing/claims/2026-03/batch/claim-002.txt"),
        "claim 2"
    );
    assert!(all_files(&w.dir.join("c").join(&billing).join("b")).len() >= 300);
}
