//! Attacks from someone who can write to the vault folder (issue 12,
//! docs/THREAT_MODEL.md §8), at the level of the library: each plants or
//! alters files the way the attacker can, then checks that the attack is
//! refused and reported and that the honest data is intact. The same
//! attacks through the `chartsafe` command are in tests/e2e/attacks.rs.

use crate::format::audit::Action;
use crate::format::team::Role;
use crate::keys::CollectionKey;
use crate::traits::memory::MemoryStore;
use crate::traits::NoProgress;
use crate::vault::audit::AuditProblem;
use crate::vault::tests::collections::all_files;
use crate::vault::tests::rotate::add;
use crate::vault::tests::{pass, World, PASS};
use crate::vault::*;

/// A keyslot a member plants for the recovery recipient: it carries the
/// MAC key and recovery recipient every member holds (so it passes the
/// phrase's own check, FORMAT.md §4.2), the member id `member`, and a key
/// of their own in front of the genuine one.
fn plant_recovery_keyslot(w: &World, insider: &Vault, slot: &str, member: &str) -> AgeIdentity {
    let mine = AgeIdentity::generate();
    let mut plain = insider.keys.to_plain(insider.id(), 1);
    plain.member = member.to_owned();
    plain.collections.insert(
        0,
        CollectionKey {
            id: insider.keys.default_collection().to_owned(),
            identity: mine.to_secret_text().expose_secret().to_owned(),
            created: 1,
        },
    );
    write_keyslot(
        &Layout::new(&w.dir),
        slot,
        &plain,
        &insider.keys.recovery.clone(),
    )
    .unwrap();
    mine
}

/// Attack 1 of issue 12 (a staff member): a planted recovery keyslot
/// naming the planter made `recover` attach the owner's new laptop to him,
/// and `recovery_admin` made him an admin.
#[test]
fn staff_plants_a_recovery_keyslot_and_the_phrase_still_recovers_the_founder() {
    let w = World::new();
    let (mut owner, phrase) = w.create();
    let founder = owner.keys.member.clone();
    let (_store, mallory) = w.join(&mut owner, "Mallory", "mallory pc", Role::Staff);
    let mallory_member = mallory.keys.member.clone();
    // Sorts before every random slot id: it is the first keyslot read.
    let slot = "aaaaaaaaaaaaaaaaaaaaaaaaaa";
    let planted_key = plant_recovery_keyslot(&w, &mallory, slot, &mallory.keys.member);
    drop(mallory);
    drop(owner);

    let mut laptop = w.recover(&phrase, "new laptop");
    assert_eq!(laptop.keys.member, founder);
    let t = laptop.team().team.clone().unwrap();
    assert!(t.rejected.is_empty(), "{:?}", t.rejected);
    assert_eq!(t.devices[laptop.device_id()].member, founder);
    assert_eq!(t.members[&mallory_member].role, Role::Staff, "not promoted");
    // The planted keyslot is named, and its key is not held.
    assert_eq!(laptop.planted_keyslots(), [slot.to_owned()]);
    let planted = planted_key.recipient().to_string();
    assert!(laptop
        .keys
        .collections
        .iter()
        .all(|(_, k)| k.recipient().to_string() != planted));
    // Nothing new is encrypted to the planted key.
    assert_ne!(laptop.keys.recipients()[0].to_string(), planted);
    // Reported in the audit log.
    let log = laptop.audit_log().unwrap();
    assert!(
        log.entries.iter().any(|e| e.action == "change_refused"
            && e.detail.as_deref() == Some(&format!("keyslot k/{slot}"))),
        "{:?}",
        log.entries
    );
    // Every other computer sees the new laptop as the founder's.
    let id = laptop.device_id().to_owned();
    drop(laptop);
    let owner = Vault::unlock(&w.dir, &w.store, &pass(PASS), w.options("a")).unwrap();
    let t = owner.team().team.clone().unwrap();
    assert_eq!(t.devices[&id].member, founder);
    assert_eq!(t.role_of_device(&id), Some(Role::Admin));
}

/// An identity-file session (the phrase's identity, no keychain) records
/// its events under the founder, not under a planted keyslot's member.
#[test]
fn an_identity_session_is_not_attributed_to_a_planted_keyslots_member() {
    let w = World::new();
    let (mut owner, phrase) = w.create();
    let founder = owner.keys.member.clone();
    let (_store, mallory) = w.join(&mut owner, "Mallory", "mallory pc", Role::Staff);
    plant_recovery_keyslot(
        &w,
        &mallory,
        "aaaaaaaaaaaaaaaaaaaaaaaaaa",
        &mallory.keys.member,
    );
    drop(mallory);
    drop(owner);
    let mut o = w.options("emergency");
    o.root = Some(phrase.root_signing_key().public().to_string());
    let v = Vault::unlock_with_identities(&w.dir, &[phrase.identity()], o).unwrap();
    assert_eq!(v.keys.member, founder);
    assert_eq!(
        v.planted_keyslots(),
        ["aaaaaaaaaaaaaaaaaaaaaaaaaa".to_owned()]
    );
    drop(v);
    // The log is the admins' to read (FORMAT.md §14.4).
    let mut owner = Vault::unlock(&w.dir, &w.store, &pass(PASS), w.options("a")).unwrap();
    let log = owner.audit_log().unwrap();
    let used = log
        .entries
        .iter()
        .rfind(|e| e.action == "recovery_used")
        .unwrap();
    assert_eq!(used.member, founder);
}

/// The person holding the phrase picks who they are from the team log.
#[test]
fn the_phrase_recovers_as_a_member_named_or_as_a_new_admin() {
    let w = World::new();
    let (mut owner, phrase) = w.create();
    let (_store, nurse) = w.join(&mut owner, "Nurse Joy", "ward pc", Role::Staff);
    let nurse_member = nurse.keys.member.clone();
    drop(nurse);
    drop(owner);
    let recover_as = |who: RecoverAs, device: &str| {
        let mut o = w.options(device);
        o.recover_as = who;
        Vault::recover(
            &w.dir,
            &phrase,
            &MemoryStore::default(),
            &pass("other pass"),
            o,
        )
    };
    let v = recover_as(RecoverAs::Member("Nurse Joy".into()), "joy laptop").unwrap();
    assert_eq!(v.keys.member, nurse_member);
    let t = v.team().team.clone().unwrap();
    assert_eq!(
        t.members[&nurse_member].role,
        Role::Admin,
        "emergency access"
    );
    drop(v);
    let v = recover_as(RecoverAs::NewAdmin, "spare").unwrap();
    let t = v.team().team.clone().unwrap();
    assert_eq!(t.members.len(), 3);
    assert_eq!(t.role_of_device(v.device_id()), Some(Role::Admin));
    drop(v);
    let err = recover_as(RecoverAs::Member("Nobody\u{202e}".into()), "x").unwrap_err();
    assert!(
        matches!(&err, crate::errors::RecoverError::NoSuchMember(n) if n == "Nobody\\u{202e}"),
        "{err:?}"
    );
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

fn names_listed(v: &mut Vault) -> Vec<String> {
    v.list()
        .unwrap()
        .entries
        .into_iter()
        .map(|e| e.path)
        .collect()
}

/// Attack 3 of issue 12 (someone with the folder, such as the storage
/// provider or the removed member): restoring the team log from before a
/// removal made the admin's own `ls` show the removed member's later
/// changes again. Now the admin's computer keeps the entries it accepted.
#[test]
fn restoring_an_old_team_log_does_not_undo_a_removal() {
    let w = World::new();
    let (mut admin, _) = w.create();
    add(&mut admin, &w, "chart.txt", "honest");
    let (_store, mut nurse) = w.join(&mut admin, "Nurse Joy", "ward pc", Role::Staff);
    names_listed(&mut admin);
    let before = w.tmp.path().join("t-before-removal");
    copy_tree(&w.dir.join("t"), &before);
    let view = nurse.load().unwrap();
    admin.remove_from_team("Nurse Joy").unwrap();
    // She keeps her keys and writes after her removal, from the view she
    // had: it does not count anywhere (FORMAT.md §11.6).
    crate::vault::tests::change_offline(&mut nurse, &view, "chart.txt", |s| {
        s.name = "renamed by her.txt".into()
    });
    assert_eq!(names_listed(&mut admin), ["chart.txt"]);

    // The attack: the team log as it was before the removal.
    std::fs::remove_dir_all(w.dir.join("t")).unwrap();
    copy_tree(&before, &w.dir.join("t"));

    let listing = admin.list().unwrap();
    let shown: Vec<&str> = listing.entries.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(shown, ["chart.txt"], "{:?}", listing.problems);
    assert!(
        listing.problems.iter().any(|p| matches!(p,
            Problem::TeamRolledBack { what } if what == "the removal of \"Nurse Joy\"")),
        "{:?}",
        listing.problems
    );
    let t = admin.team().team.clone().unwrap();
    assert!(t
        .members
        .values()
        .any(|m| m.name == "Nurse Joy" && m.removed));
    // The admin's computer wrote the missing entries back: another
    // computer that reads the folder now sees the removal again.
    drop(admin);
    let mut again = Vault::unlock(&w.dir, &w.store, &pass(PASS), w.options("a")).unwrap();
    assert!(again.team().rolled_back.is_empty(), "written back");
    assert_eq!(names_listed(&mut again), ["chart.txt"]);
    // The removal replaced by junk at its name (rather than deleted) is
    // also gone for this computer, which holds the current key.
    let removal = std::fs::read_dir(w.dir.join("t"))
        .unwrap()
        .flatten()
        .flat_map(|d| std::fs::read_dir(d.path()).unwrap().flatten())
        .map(|f| f.path())
        .find(|f| {
            let bytes = std::fs::read(f).unwrap();
            crypt::decrypt_bytes(&bytes, &again.keys.identities())
                .ok()
                .and_then(|p| crate::format::team::open(&p).ok())
                .is_some_and(|e| e.body.entry.kind() == "member_remove")
        })
        .unwrap();
    std::fs::write(&removal, b"junk").unwrap();
    let listing = again.list().unwrap();
    assert!(
        listing.problems.iter().any(|p| matches!(p,
            Problem::TeamRolledBack { what } if what == "the removal of \"Nurse Joy\"")),
        "{:?}",
        listing.problems
    );
    assert_eq!(
        listing
            .entries
            .iter()
            .map(|e| e.path.as_str())
            .collect::<Vec<_>>(),
        ["chart.txt"]
    );
    // And it was recorded.
    let log = again.audit_log().unwrap();
    assert!(log.entries.iter().any(|e| e.action == "change_refused"
        && e.detail.as_deref() == Some("team log: the removal of \"Nurse Joy\"")));
}

/// Attack 2 of issue 12 (a staff member, or the storage provider): a
/// restricted collection's records copied into the vault-wide area made
/// later adds to that collection go to everyone's key. A record now names
/// where it belongs, and a folder is read with its own collection's keys
/// only (FORMAT.md §5.7, §14.3).
#[test]
fn a_collections_records_copied_to_the_vault_wide_area_are_refused() {
    let w = World::new();
    let (mut admin, phrase) = w.create();
    let billing = admin.create_collection("Billing").unwrap();
    let src = w.tmp.path().join("invoice.txt");
    std::fs::write(&src, "claim 42").unwrap();
    admin
        .add_with(
            std::slice::from_ref(&src),
            "Billing",
            &AddOptions::default(),
            &NoProgress,
        )
        .unwrap();
    let (_store, mut clerk) = w.join(&mut admin, "Front Desk", "desk pc", Role::Staff);
    let dev = admin.device_id().to_owned();
    let from = w.dir.join("c").join(&billing).join("r").join(&dev);
    let to = w.dir.join("r").join(&dev);
    std::fs::create_dir_all(&to).unwrap();
    let mut copied = Vec::new();
    for f in std::fs::read_dir(&from).unwrap().flatten() {
        let dest = to.join(f.file_name());
        if !dest.exists() {
            std::fs::copy(f.path(), &dest).unwrap();
            copied.push(format!("r/{dev}/{}", f.file_name().to_str().unwrap()));
        }
    }
    assert!(!copied.is_empty());

    // The admin's computer holds both keys: each copy is refused, named.
    let listing = admin.list().unwrap();
    let shown: Vec<&str> = listing.entries.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(shown, ["Billing", "Billing/invoice.txt"]);
    for file in &copied {
        assert!(
            listing.problems.iter().any(|p| matches!(p,
                Problem::RecordUnreadable { file: f } if f == file)),
            "{file}: {:?}",
            listing.problems
        );
    }
    // What the admin adds to Billing still goes to Billing's key only.
    let src = w.tmp.path().join("new claim.txt");
    std::fs::write(&src, "claim 43").unwrap();
    admin
        .add_with(
            std::slice::from_ref(&src),
            "Billing",
            &AddOptions::default(),
            &NoProgress,
        )
        .unwrap();
    let clerk_keys: Vec<&dyn age::Identity> = clerk.keys.identities();
    for f in all_files(&w.dir.join("c").join(&billing)) {
        let bytes = std::fs::read(&f).unwrap();
        assert!(
            crypt::decrypt_bytes(&bytes, &clerk_keys).is_err(),
            "{} opens with the clerk's keys",
            f.display()
        );
    }
    let clerk_sees: Vec<String> = clerk
        .list()
        .unwrap()
        .entries
        .into_iter()
        .map(|e| e.path)
        .collect();
    assert!(clerk_sees.is_empty(), "{clerk_sees:?}");

    // The phrase's identity opens everything; there the record's own
    // `place` refuses the copies.
    drop(admin);
    let mut o = w.options("emergency");
    o.root = Some(phrase.root_signing_key().public().to_string());
    let mut v = Vault::unlock_with_identities(&w.dir, &[phrase.identity()], o).unwrap();
    let listing = v.list().unwrap();
    for file in &copied {
        assert!(
            listing.problems.iter().any(|p| matches!(p,
                Problem::RecordMisplaced { file: f, belongs } if f == file && *belongs == format!("c/{billing}"))),
            "{file}: {:?}",
            listing.problems
        );
    }
    // (An identity-file session is not a device of the team, so it reads
    // the vault's first collection only: the copies do not bring Billing
    // into it.)
    assert!(listing.entries.is_empty(), "{:?}", listing.entries);
}

/// Attack 4 of issue 12 (any member, a viewer included, or a removed
/// member with old keys): audit batches were only MAC'd with a key every
/// member holds, so a member could write "the admin exported …" under the
/// admin's chain. Batches are now signed by their computer and judged
/// against the team log (FORMAT.md §10.6).
#[test]
fn a_member_cannot_write_audit_events_under_another_computers_name() {
    use crate::format::audit::{AuditBody, Event as AuditEvent};
    let w = World::new();
    let (mut admin, _) = w.create();
    add(&mut admin, &w, "chart.txt", "honest");
    let (_store, viewer) = w.join(&mut admin, "Vic Viewer", "lobby pc", Role::Viewer);
    let clean = admin.audit_log().unwrap();
    assert!(clean.problems.is_empty(), "{:?}", clean.problems);
    let admin_dev = admin.device_id().to_owned();
    let head = admin.device.audit_known[&admin_dev].clone();
    // The audit key's public recipient is in the team log: anyone can
    // encrypt a batch to it.
    let recipients = admin
        .keys
        .recipients_for(admin.audit_collection().as_deref())
        .unwrap();
    let forged = |seq: u64, prev: Option<String>, device: &str, member: &str| AuditBody {
        format: 1,
        team: Vec::new(),
        legacy: Default::default(),
        vault: admin.id().to_owned(),
        device: device.to_owned(),
        device_name: "a".into(),
        member: member.to_owned(),
        seq,
        prev,
        time: 1_780_000_900_000,
        app: "chartsafe 0.1.0".into(),
        events: vec![AuditEvent::new(1_780_000_900_000, Action::Exported)
            .on(&ids::random_id(), "Billing/claims.xlsx")],
        seen: Default::default(),
    };
    let plant = |device: &str, seq: u64, plain: Vec<u8>| {
        let dir = w.dir.join("a").join(device);
        std::fs::create_dir_all(&dir).unwrap();
        let bytes = crypt::encrypt_bytes(&plain, &recipients);
        std::fs::write(dir.join(Layout::record_name(seq)), bytes).unwrap();
    };
    // 1. Unsigned, with the shared MAC key, at the admin's next position.
    let body = forged(
        head.seq + 1,
        Some(head.hash.clone()),
        &admin_dev,
        &admin.keys.member,
    );
    plant(&admin_dev, head.seq + 1, body.seal(&viewer.keys.mac).0);
    // 2. Signed with the viewer's own key, under the admin's chain.
    let key = viewer.keys.signing.as_ref().unwrap();
    let body = forged(head.seq + 2, None, &admin_dev, &admin.keys.member);
    plant(
        &admin_dev,
        head.seq + 2,
        body.seal_signed(&viewer.keys.mac, key).0,
    );
    // 3. Signed by the viewer under her own chain, naming the admin.
    let own = viewer.device_id().to_owned();
    let body = forged(90, None, &own, &admin.keys.member);
    plant(&own, 90, body.seal_signed(&viewer.keys.mac, key).0);
    // 4. A chain the team log never listed.
    let stranger = ids::random_id();
    let body = forged(1, None, &stranger, &admin.keys.member);
    plant(&stranger, 1, body.seal_signed(&viewer.keys.mac, key).0);
    drop(viewer);
    // The admin writes on: its next batch finds its next names taken and
    // must not build on the forgeries there (they are not its own).
    admin
        .record(AuditEvent::new(1_780_000_950_000, Action::Checked))
        .unwrap();

    let log = admin.audit_log().unwrap();
    let p = &log.problems;
    let at = |dev: &str, pos: u64| {
        p.iter().any(|x| match x {
            AuditProblem::Refused { dir, position, .. } => {
                *dir == format!("a/{dev}") && *position == pos
            }
            AuditProblem::Unsigned { dir, first, .. } => {
                *dir == format!("a/{dev}") && *first == pos
            }
            _ => false,
        })
    };
    assert!(at(&admin_dev, head.seq + 1), "unsigned: {p:?}");
    assert!(at(&admin_dev, head.seq + 2), "wrong key: {p:?}");
    assert!(at(&own, 90), "another member: {p:?}");
    assert!(at(&stranger, 1), "unknown computer: {p:?}");
    // The forged events are not shown as the admin's; the unsigned one is
    // marked as unverified.
    for e in log.entries.iter().filter(|e| e.action == "exported") {
        assert!(e.unverified, "{e:?}");
    }
    assert_eq!(
        log.entries
            .iter()
            .filter(|e| e.action == "exported")
            .count(),
        1
    );
}

/// The gap left by attack 1 in a vault from before the team log (format
/// 1): when the phrase starts its log, a recovery keyslot planted by an
/// enrolled device (which holds the MAC key), sorting first, must not
/// become the key the genesis names for good, nor choose the member.
#[test]
fn a_planted_keyslot_does_not_become_the_first_key_when_the_phrase_starts_a_team_log() {
    let w = World::new();
    let (a, phrase) = w.create();
    let id = a.id().to_owned();
    let genuine = a.keys.collections[0].1.recipient().to_string();
    let member = a.keys.member.clone();
    drop(a);
    // As a vault made before the team log (see team_tests).
    std::fs::remove_dir_all(w.dir.join("t")).unwrap();
    let header = w.dir.join(crate::format::HEADER_FILE);
    let text = std::fs::read_to_string(&header).unwrap();
    std::fs::write(&header, text.replace("\"version\": 2", "\"version\": 1")).unwrap();
    let local = crate::local::LocalDir::new(&w.tmp.path().join("state-a"), &id);
    let mut state = local.load().unwrap().unwrap();
    state.root = None;
    local.save(&state).unwrap();
    std::fs::remove_dir_all(local.file_named("team")).unwrap();
    let mut a = Vault::unlock(&w.dir, &w.store, &pass(PASS), w.options("a")).unwrap();
    add(&mut a, &w, "old.txt", "from before");
    // The enrolled device plants a keyslot with a key of its own, under a
    // member id of its choosing.
    plant_recovery_keyslot(&w, &a, "aaaaaaaaaaaaaaaaaaaaaaaaaa", &ids::random_id());
    drop(a);

    let mut b = w.recover(&phrase, "b");
    assert_eq!(b.keys.recipients()[0].to_string(), genuine);
    assert_eq!(b.keys.member, member);
    let t = b.team().team.clone().unwrap();
    assert_eq!(
        t.current_key(t.default_collection.as_deref().unwrap())
            .unwrap()
            .recipient,
        genuine
    );
    assert_eq!(b.list().unwrap().entries.len(), 1);
}
