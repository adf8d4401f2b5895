//! The team log as vaults write and read it (FORMAT.md §11): genesis at
//! create, the signing key in the device's own keyslot, the phrase's
//! `recovery_admin`, and planted entries.

use crate::errors::WriteRefused;
use crate::format::team::{Cutoff, Role, TeamBody};
use crate::sign::SigningKey;
use crate::team::Rejection;
use crate::vault::tests::{pass, World, PASS};
use crate::vault::*;

fn team(v: &Vault) -> &crate::team::Team {
    let status = v.team();
    assert!(status.error.is_none(), "{status:?}");
    status.team.as_ref().expect("a team")
}

#[test]
fn a_new_vault_starts_its_team_log_with_this_device_as_an_admins() {
    let w = World::new();
    let (v, phrase) = w.create();
    let t = team(&v);
    assert!(t.rejected.is_empty() && t.pending.is_empty(), "{t:?}");
    assert_eq!(t.members.len(), 1);
    let d = &t.devices[v.device_id()];
    assert_eq!(t.role_of_device(&d.id), Some(Role::Admin));
    assert_eq!(d.name, "a");
    assert_eq!(t.members[&d.member].name, "Administrator");
    assert_eq!(t.root, phrase.root_signing_key().public());
    // The file is t/<device>/0000000001, and the signing key sits in the
    // device's keyslot, so unlocking again finds the same team and key.
    assert!(w
        .dir
        .join("t")
        .join(v.device_id())
        .join("0000000001")
        .is_file());
    let key = v.keys.signing.as_ref().unwrap().public();
    assert_eq!(d.signing, key);
    let id = v.device_id().to_owned();
    drop(v);
    let v = Vault::unlock(&w.dir, &w.store, &pass(PASS), w.options("a")).unwrap();
    assert_eq!(v.keys.signing.as_ref().unwrap().public(), key);
    assert_eq!(team(&v).devices[&id].signing, key);
}

#[test]
fn the_phrase_enrols_a_device_as_an_admins_and_replaces_this_machines_old_id() {
    let w = World::new();
    let (a, phrase) = w.create();
    let b = w.recover(&phrase, "b");
    let t = team(&b);
    assert!(t.rejected.is_empty(), "{t:?}");
    assert_eq!(t.members.len(), 1, "one member, as in version 1");
    assert_eq!(t.role_of_device(b.device_id()), Some(Role::Admin));
    assert_eq!(t.role_of_device(a.device_id()), Some(Role::Admin));
    // The recovery keyslot holds no device's signing key.
    assert_eq!(t.devices.len(), 2);

    // "b" forgot its passphrase and uses the phrase again: a new device id
    // with a new key, and the old one removed. What it wrote stands.
    let mut b = b;
    let src = w.tmp.path().join("from-b.txt");
    std::fs::write(&src, "b").unwrap();
    b.add(std::slice::from_ref(&src), "", &crate::NoProgress)
        .unwrap();
    let old = b.device_id().to_owned();
    drop(b);
    let mut b2 = w.recover(&phrase, "b");
    assert_ne!(b2.device_id(), old);
    let t = team(&b2).clone();
    assert!(t.rejected.is_empty(), "{t:?}");
    assert!(t.devices[&old].removed);
    assert!(t.active_device(b2.device_id()).is_some());
    let l = b2.list().unwrap();
    assert_eq!(l.entries.len(), 1, "{:?}", l.problems);
    assert!(l.problems.is_empty(), "{:?}", l.problems);
    // Device "a" sees the same team.
    drop(a);
    let a = Vault::unlock(&w.dir, &w.store, &pass(PASS), w.options("a")).unwrap();
    assert_eq!(team(&a).order, t.order);
}

#[test]
fn entries_planted_in_the_folder_are_refused_or_unreadable_and_change_nothing() {
    let w = World::new();
    let (v, phrase) = w.create();
    let me = v.device_id().to_owned();
    let genesis_hash = team(&v).order[0].clone();
    // Someone with the vault's keys but not this device's signing key
    // writes as this device (the strongest storage attacker: a copied
    // keyslot), and someone without keys drops a file.
    let forged = TeamBody {
        format: 2,
        vault: v.id().to_owned(),
        device: me.clone(),
        seq: 2,
        prev: Some(genesis_hash),
        deps: vec![],
        time: 1,
        entry: crate::format::team::Entry::MemberAdd {
            member: ids::random_id(),
            name: "Mallory".into(),
            role: Role::Admin,
        },
    };
    let (plain, hash) = forged.seal(&SigningKey::generate(), None);
    let bytes = crypt::encrypt_bytes(&plain, &v.keys.recipients());
    let dir = w.dir.join("t").join(&me);
    std::fs::write(dir.join("0000000002"), bytes).unwrap();
    std::fs::write(dir.join("0000000003"), b"not an age file").unwrap();
    drop(v);
    let v = Vault::unlock(&w.dir, &w.store, &pass(PASS), w.options("a")).unwrap();
    let t = team(&v);
    assert_eq!(t.members.len(), 1);
    assert_eq!(
        t.rejected
            .iter()
            .map(|r| (&r.hash, &r.reason))
            .collect::<Vec<_>>(),
        [(&hash, &Rejection::BadSignature)]
    );
    assert_eq!(v.team().unreadable.len(), 1, "{:?}", v.team());
    assert!(v.team().unreadable[0].0.ends_with("0000000003"));

    // The next genuine entry skips the taken positions without building on
    // what sits there, and counts.
    let mut v = v;
    let added = v
        .append_team(
            crate::format::team::Entry::MemberAdd {
                member: ids::random_id(),
                name: "Nurse".into(),
                role: Role::Staff,
            },
            None,
        )
        .unwrap();
    let t = team(&v);
    assert!(t.order.contains(&added), "{t:?}");
    assert_eq!(t.members.len(), 2);
    assert_eq!(t.chains[&me].0, 4);

    // The team log deleted. The recovery phrase does not start a second
    // team log on a new computer: the header says there is one, so it
    // waits for it.
    drop(v);
    std::fs::remove_dir_all(w.dir.join("t")).unwrap();
    let err = Vault::recover(
        &w.dir,
        &phrase,
        &crate::traits::memory::MemoryStore::default(),
        &pass("another passphrase"),
        w.options("z"),
    )
    .unwrap_err();
    assert!(
        matches!(err, crate::errors::RecoverError::TeamNotReady),
        "{err}"
    );
    // A computer that kept its copies (FORMAT.md §11.7) still has the
    // team, says what went missing, and writes it back.
    let v = Vault::unlock(&w.dir, &w.store, &pass(PASS), w.options("a")).unwrap();
    assert!(v.team().team.is_some());
    assert!(v.team().rolled_back.iter().any(|w| w.contains("\"Nurse\"")));
    drop(v);
    // Without its copies, a computer has no team: an error, and the vault
    // still opens.
    std::fs::remove_dir_all(w.dir.join("t")).unwrap();
    let id = phrase_vault_id(&w);
    std::fs::remove_dir_all(w.tmp.path().join("state-a").join(&id).join("team")).unwrap();
    let v = Vault::unlock(&w.dir, &w.store, &pass(PASS), w.options("a")).unwrap();
    assert!(v.team().team.is_none());
    assert_eq!(v.team().error, Some(crate::team::TeamError::NoGenesis));
}

/// The vault id, from the public header.
fn phrase_vault_id(w: &World) -> String {
    public_info(&w.dir).unwrap().id
}

#[test]
fn a_vault_without_a_team_log_gets_one_from_the_phrase_and_keeps_its_files() {
    let w = World::new();
    let (v, phrase) = w.create();
    let id = v.id().to_owned();
    drop(v);
    // As a vault made before the team log: header version 1, no t/, and
    // device "a" pinned no root, so it writes version 1 records.
    std::fs::remove_dir_all(w.dir.join("t")).unwrap();
    let header = w.dir.join(crate::format::HEADER_FILE);
    let text = std::fs::read_to_string(&header).unwrap();
    std::fs::write(&header, text.replace("\"version\": 2", "\"version\": 1")).unwrap();
    assert!(std::fs::read_to_string(&header)
        .unwrap()
        .contains("\"version\": 1"));
    let local = crate::local::LocalDir::new(&w.tmp.path().join("state-a"), &id);
    let mut state = local.load().unwrap().unwrap();
    state.root = None;
    local.save(&state).unwrap();
    // Nor did it keep copies of team entries (FORMAT.md §7 `team/`).
    std::fs::remove_dir_all(local.file_named("team")).unwrap();
    let mut a = Vault::unlock(&w.dir, &w.store, &pass(PASS), w.options("a")).unwrap();
    let src = w.tmp.path().join("old.txt");
    std::fs::write(&src, "from before").unwrap();
    a.add(std::slice::from_ref(&src), "", &crate::NoProgress)
        .unwrap();
    drop(a);

    let mut b = w.recover(&phrase, "b");
    let t = team(&b);
    assert_eq!(t.devices.len(), 1);
    assert_eq!(t.role_of_device(b.device_id()), Some(Role::Admin));
    assert_eq!(t.legacy.len(), 1, "{t:?}");
    let names: Vec<String> = b
        .list()
        .unwrap()
        .entries
        .into_iter()
        .map(|e| e.path)
        .collect();
    assert_eq!(names, ["old.txt"]);
    // The header now says the vault has a team log.
    assert!(std::fs::read_to_string(&header)
        .unwrap()
        .contains("\"version\": 2"));

    // Device "a", from before the team log, may no longer write; an
    // unsigned record written anyway (with the shared key) does not count.
    let mut a = Vault::unlock(&w.dir, &w.store, &pass(PASS), w.options("a")).unwrap();
    let src2 = w.tmp.path().join("new.txt");
    std::fs::write(&src2, "after").unwrap();
    let err = a
        .add(std::slice::from_ref(&src2), "", &crate::NoProgress)
        .unwrap_err();
    assert!(
        matches!(err, crate::AddError::Refused(WriteRefused::NoSigningKey)),
        "{err}"
    );
    let l = b.list().unwrap();
    assert_eq!(l.entries.len(), 1);
}

#[test]
fn records_are_signed_and_checked_against_the_team() {
    let w = World::new();
    let (mut a, phrase) = w.create();
    let src = w.tmp.path().join("labs.pdf");
    std::fs::write(&src, "results").unwrap();
    a.add(std::slice::from_ref(&src), "", &crate::NoProgress)
        .unwrap();
    // The record is version 2, signed by a's key.
    let snap = a.load().unwrap();
    assert!(snap.problems.is_empty(), "{:?}", snap.problems);

    // A viewer: added by the admin with a device of their own (as approval
    // will, step 4), then writing anyway with the shared keys.
    let viewer_key = SigningKey::generate();
    let viewer_member = ids::random_id();
    let viewer_device = ids::random_id();
    a.append_team(
        crate::format::team::Entry::MemberAdd {
            member: viewer_member.clone(),
            name: "Auditor".into(),
            role: Role::Viewer,
        },
        None,
    )
    .unwrap();
    a.append_team(
        crate::format::team::Entry::DeviceAdd {
            member: viewer_member.clone(),
            device: viewer_device.clone(),
            name: "auditor laptop".into(),
            recipient: crate::AgeIdentity::generate().recipient().to_string(),
            signing: viewer_key.public().to_string(),
            request: None,
        },
        None,
    )
    .unwrap();
    let forge = |device: &str, author: &str, key: &SigningKey, seq: u64, name: &str| {
        let body = crate::format::record::RecordBody {
            format: 2,
            place: None,
            vault: a.id().to_owned(),
            device: device.to_owned(),
            device_name: "x".into(),
            author: author.to_owned(),
            seq,
            prev: None,
            time: 1,
            ops: vec![crate::format::record::Op {
                entry: ids::random_id(),
                parents: vec![],
                state: crate::format::record::EntryState {
                    parent: None,
                    name: name.into(),
                    kind: crate::Kind::Dir,
                    status: crate::Status::Live,
                    content: None,
                    collection: None,
                },
            }],
            sig: None,
        };
        let (plain, _) = body.seal_signed(key);
        let bytes = crypt::encrypt_bytes(&plain, &a.keys.recipients());
        let dir = w.dir.join("r").join(device);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{seq:010}")), bytes).unwrap();
    };
    forge(
        &viewer_device,
        &viewer_member,
        &viewer_key,
        1,
        "viewer folder",
    );
    // A storage attacker's record under the admin's device, with their key.
    let admin_device = a.device_id().to_owned();
    let admin_member = a.keys.member.clone();
    forge(
        &admin_device,
        &admin_member,
        &SigningKey::generate(),
        9,
        "forged folder",
    );
    // A record under a device nobody added.
    forge(
        &ids::random_id(),
        &admin_member,
        &SigningKey::generate(),
        1,
        "stranger folder",
    );
    let l = a.list().unwrap();
    let names: Vec<&str> = l.entries.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(names, ["labs.pdf"], "{:?}", l.problems);
    let refused: Vec<String> = l
        .problems
        .iter()
        .filter_map(|p| match p {
            Problem::RecordRefused { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(refused.len(), 2, "{:?}", l.problems);
    assert!(refused.iter().any(|r| r.contains("viewer")), "{refused:?}");
    assert!(refused.iter().any(|r| r.contains("forged")), "{refused:?}");
    assert!(l
        .problems
        .iter()
        .any(|p| matches!(p, Problem::RecordWaiting { .. })));

    // A removed device: records up to the cutoff stand, later ones do not.
    let mut b = w.recover(&phrase, "b");
    let src2 = w.tmp.path().join("b1.txt");
    std::fs::write(&src2, "one").unwrap();
    b.add(std::slice::from_ref(&src2), "", &crate::NoProgress)
        .unwrap();
    let b_device = b.device_id().to_owned();
    // b's view before its removal (it has not synced it yet).
    let b_view = b.load().unwrap();
    a.list().unwrap();
    let head = a.device.known[&b_device].clone();
    a.append_team(
        crate::format::team::Entry::DeviceRemove {
            device: b_device.clone(),
            cutoffs: [(
                b_device.clone(),
                Cutoff {
                    seq: head.seq,
                    hash: head.hash,
                },
            )]
            .into(),
        },
        None,
    )
    .unwrap();
    // b, offline, renames its file: written after its cutoff.
    crate::vault::tests::change_offline(&mut b, &b_view, "b1.txt", |s| {
        s.name = "renamed.txt".into()
    });
    let l = a.list().unwrap();
    let names: Vec<&str> = l.entries.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(names, ["b1.txt", "labs.pdf"], "{:?}", l.problems);
    assert!(l.problems.iter().any(|p| matches!(p,
        Problem::RecordRefused { reason, .. } if reason.contains("write rights"))));
    // Keeping its key, the removed device signs another record *below* its
    // cutoff (a fork, arriving as a sync client's copy): off the chain the
    // cutoff names, so refused.
    let body = crate::format::record::RecordBody {
        format: 2,
        place: None,
        vault: a.id().to_owned(),
        device: b_device.clone(),
        device_name: "b".into(),
        author: b.keys.member.clone(),
        seq: 1,
        prev: None,
        time: i64::MAX / 2,
        ops: vec![crate::format::record::Op {
            entry: ids::random_id(),
            parents: vec![],
            state: crate::format::record::EntryState {
                parent: None,
                name: "forked".into(),
                kind: crate::Kind::Dir,
                status: crate::Status::Live,
                content: None,
                collection: None,
            },
        }],
        sig: None,
    };
    let (plain, _) = body.seal_signed(b.keys.signing.as_ref().unwrap());
    let bytes = crypt::encrypt_bytes(&plain, &a.keys.recipients());
    std::fs::write(
        w.dir.join("r").join(&b_device).join("0000000001 (1)"),
        bytes,
    )
    .unwrap();
    let l = a.list().unwrap();
    let names: Vec<&str> = l.entries.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(names, ["b1.txt", "labs.pdf"], "{:?}", l.problems);
    // And b itself, once it sees the removal, refuses to write.
    let src4 = w.tmp.path().join("b3.txt");
    std::fs::write(&src4, "three").unwrap();
    let err = b
        .add(std::slice::from_ref(&src4), "", &crate::NoProgress)
        .unwrap_err();
    assert!(matches!(err, crate::AddError::Refused(_)), "{err}");
}

#[test]
fn a_person_joins_with_an_invitation_and_the_code_they_read_out() {
    use crate::errors::TeamActionError;
    use crate::traits::memory::MemoryStore;
    use secrecy::ExposeSecret;
    let w = World::new();
    let (mut a, _) = w.create();
    let inv = a.invite().unwrap();
    // The nurse's computer: its own keychain and state.
    let store = MemoryStore::default();
    let nurse_pass = pass("nurse passphrase");
    let pending = Vault::request_join(
        &w.dir,
        inv.text.expose_secret(),
        "Nurse Joy",
        &store,
        &nurse_pass,
        w.options("ward pc"),
    )
    .unwrap();
    assert_eq!(pending.code.len(), 9);
    let err = Vault::unlock(&w.dir, &store, &nurse_pass, w.options("ward pc")).unwrap_err();
    assert!(matches!(err, UnlockError::AwaitingApproval), "{err}");

    // A file planted in j/ by someone without the invitation is not listed.
    std::fs::write(w.dir.join("j").join(ids::random_id()), b"junk").unwrap();
    let requests = a.join_requests().unwrap();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].name, "Nurse Joy");
    assert_eq!(requests[0].device_name, "ward pc");

    // The wrong code approves nothing, and is recorded.
    let wrong = if pending.code == "0000 0000" {
        "1111 1111"
    } else {
        "0000 0000"
    };
    let err = a.approve(&requests[0].id, wrong, Role::Staff).unwrap_err();
    assert!(matches!(err, TeamActionError::CodeMismatch), "{err}");
    assert_eq!(team(&a).members.len(), 1);
    a.approve(&requests[0].id, &pending.code, Role::Staff)
        .unwrap();
    let t = team(&a);
    assert_eq!(t.members.len(), 2);
    assert!(a.join_requests().unwrap().is_empty(), "the request is gone");

    // The nurse's computer unlocks, pins the root, and may write.
    let mut n = Vault::unlock(&w.dir, &store, &nurse_pass, w.options("ward pc")).unwrap();
    assert_eq!(team(&n).role_of_device(n.device_id()), Some(Role::Staff));
    assert_eq!(team(&n).root, team(&a).root);
    let src = w.tmp.path().join("vitals.txt");
    std::fs::write(&src, "bp 120/80").unwrap();
    n.add(std::slice::from_ref(&src), "", &crate::NoProgress)
        .unwrap();
    let l = a.list().unwrap();
    assert_eq!(l.entries.len(), 1, "{:?}", l.problems);
    assert!(l.problems.is_empty(), "{:?}", l.problems);
    // Later unlocks use the device's own keyslot, signing key included.
    drop(n);
    let n = Vault::unlock(&w.dir, &store, &nurse_pass, w.options("ward pc")).unwrap();
    assert!(n.keys.signing.is_some());
    assert!(n.signing_for_write().unwrap().is_some());

    // Only admins invite.
    drop(n);
    let mut n = Vault::unlock(&w.dir, &store, &nurse_pass, w.options("ward pc")).unwrap();
    assert!(matches!(n.invite(), Err(TeamActionError::NotAdmin)));
    let log = a.audit_log().unwrap();
    let actions: Vec<&str> = log.entries.iter().map(|e| e.action.as_str()).collect();
    for want in ["invite_created", "join_refused", "member_approved"] {
        assert!(actions.contains(&want), "{actions:?}");
    }
}

#[test]
fn an_identity_session_checks_signatures_only_with_the_root_key_and_trusts_none_without() {
    let w = World::new();
    let (mut a, phrase) = w.create();
    let src = w.tmp.path().join("labs.pdf");
    std::fs::write(&src, "results").unwrap();
    a.add(std::slice::from_ref(&src), "", &crate::NoProgress)
        .unwrap();
    drop(a);
    // Without the root key: the signed record is not trusted (nothing says
    // whose key it must carry), so nothing shows, and it is said.
    let mut v =
        Vault::unlock_with_identities(&w.dir, &[phrase.identity()], w.options("c")).unwrap();
    let l = v.list().unwrap();
    assert!(l.entries.is_empty());
    assert!(l.problems.iter().any(|p| matches!(p,
        Problem::RecordRefused { reason, .. } if reason.contains("root key"))));
    drop(v);
    // With the root key from the identity file, it checks and shows.
    let mut o = w.options("d");
    o.root = Some(phrase.root_signing_key().public().to_string());
    let mut v = Vault::unlock_with_identities(&w.dir, &[phrase.identity()], o).unwrap();
    let l = v.list().unwrap();
    assert_eq!(l.entries.len(), 1, "{:?}", l.problems);
    // It may still not change anything: it has no signing key.
    let err = v.mkdir("Mine").unwrap_err();
    assert!(
        matches!(
            err,
            crate::errors::MkdirError::Refused(WriteRefused::NoSigningKey)
        ),
        "{err}"
    );
}

#[test]
fn removing_someone_whose_changes_never_reached_this_computer_says_so() {
    use crate::traits::memory::MemoryStore;
    use secrecy::ExposeSecret;
    let w = World::new();
    let (mut a, _) = w.create();
    let inv = a.invite().unwrap();
    let store = MemoryStore::default();
    let pending = Vault::request_join(
        &w.dir,
        inv.text.expose_secret(),
        "Locum",
        &store,
        &pass("locum passphrase"),
        w.options("locum pc"),
    )
    .unwrap();
    let id = a.join_requests().unwrap()[0].id.clone();
    a.approve(&id, &pending.code, Role::Staff).unwrap();
    let r = a.remove_from_team("Locum").unwrap();
    assert!(r.member);
    assert_eq!(r.devices, 1);
    assert_eq!(r.unseen, ["locum pc"]);
    // Removing the last admin is refused before anything is written.
    let before = team(&a).order.len();
    assert!(a.remove_from_team("Administrator").is_err());
    assert_eq!(team(&a).order.len(), before);
}

/// Found by running the README's team block as written: a person removed
/// before their computer ever opened the vault was told the folder was a
/// counterfeit ("does not belong to the vault you were invited to"). Its
/// keys no longer open the re-encrypted team log; it is told that, and
/// pins nothing.
#[test]
fn a_computer_removed_before_its_first_unlock_is_told_so() {
    use secrecy::ExposeSecret;
    let w = World::new();
    let (mut admin, _) = w.create();
    let invitation = admin.invite().unwrap();
    let store = crate::traits::memory::MemoryStore::default();
    let pending = Vault::request_join(
        &w.dir,
        invitation.text.expose_secret(),
        "Nurse Joy",
        &store,
        &pass("member passphrase"),
        w.options("laptop"),
    )
    .unwrap();
    let request = admin.join_requests().unwrap().remove(0).id;
    admin.approve(&request, &pending.code, Role::Staff).unwrap();
    admin.remove_from_team("Nurse Joy").unwrap();
    // The files and the team log re-encrypted to the new key, as after
    // `chartsafe remove` or the app's removal.
    let job = admin.rekey_job().unwrap();
    let report = job.run(&crate::NoProgress).unwrap();
    admin.finish_rekey(&job, &report).unwrap();
    let e = Vault::unlock(
        &w.dir,
        &store,
        &pass("member passphrase"),
        w.options("laptop"),
    )
    .err()
    .unwrap();
    assert!(matches!(e, UnlockError::KeysReplaced), "{e}");
    assert_eq!(crate::Classify::kind(&e), crate::ErrorKind::Refused);
    assert!(e.to_string().contains("removed from the team"), "{e}");
}
