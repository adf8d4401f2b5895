//! The team log's validity rules (FORMAT.md §11.4, §11.5), each against the
//! attack or accident it exists for.

use super::*;
use crate::format::team::{open, Entry, Role, TeamBody};
use crate::ids::random_id;
use crate::sign::SigningKey;
use proptest::strategy::Strategy;

struct Dev {
    id: String,
    member: String,
    key: SigningKey,
}

impl Dev {
    fn new(member: &str) -> Self {
        Self {
            id: random_id(),
            member: member.to_owned(),
            key: SigningKey::generate(),
        }
    }

    fn recipient() -> String {
        age::x25519::Identity::generate().to_public().to_string()
    }
}

/// A team log being written, as files would arrive in the folder.
struct Log {
    vault: String,
    root: SigningKey,
    entries: Vec<OpenedTeamEntry>,
    time: i64,
}

impl Log {
    /// A vault whose first member ("Owner", admin) has one device.
    fn new() -> (Self, Dev) {
        let mut log = Log {
            vault: random_id(),
            root: SigningKey::generate(),
            entries: Vec::new(),
            time: 1_000,
        };
        let owner = Dev::new(&random_id());
        let entry = Entry::Genesis {
            root: log.root.public().to_string(),
            member: owner.member.clone(),
            name: "Owner".into(),
            device_name: "owner laptop".into(),
            recipient: Dev::recipient(),
            signing: owner.key.public().to_string(),
            legacy: Default::default(),
            key: None,
        };
        log.write_seen(&owner, &[], entry);
        (log, owner)
    }

    fn team(&self) -> Team {
        evaluate(&self.vault, &self.root.public(), self.entries.clone()).unwrap()
    }

    fn entry(&self, hash: &str) -> &OpenedTeamEntry {
        self.entries.iter().find(|e| e.hash == hash).unwrap()
    }

    /// The writer's own chain position after the entries it has.
    fn chain(&self, dev: &Dev) -> (u64, Option<String>) {
        self.entries
            .iter()
            .filter(|e| e.body.device == dev.id)
            .max_by_key(|e| e.body.seq)
            .map_or((1, None), |e| (e.body.seq + 1, Some(e.hash.clone())))
    }

    /// Writes an entry by `dev` having seen everything that counts now.
    fn write(&mut self, dev: &Dev, entry: Entry) -> String {
        let heads = self.team().heads;
        self.write_seen(dev, &heads, entry)
    }

    /// Writes an entry by `dev` having seen only `seen` (besides its own chain).
    fn write_seen(&mut self, dev: &Dev, seen: &[String], entry: Entry) -> String {
        self.time += 1;
        let time = self.time;
        self.write_at(dev, seen, entry, time)
    }

    fn write_at(&mut self, dev: &Dev, seen: &[String], entry: Entry, time: i64) -> String {
        let (seq, prev) = self.chain(dev);
        let mut deps: Vec<String> = seen
            .iter()
            .filter(|h| Some(*h) != prev.as_ref())
            .cloned()
            .collect();
        deps.sort();
        deps.dedup();
        let body = TeamBody {
            format: 2,
            vault: self.vault.clone(),
            device: dev.id.clone(),
            seq,
            prev,
            deps,
            time,
            entry,
        };
        let root = body.entry.needs_root().then_some(&self.root);
        let (plain, hash) = body.seal(&dev.key, root);
        self.entries.push(open(&plain).unwrap());
        hash
    }

    /// Adds a person with one device.
    fn add(&mut self, admin: &Dev, name: &str, role: Role) -> Dev {
        let dev = Dev::new(&random_id());
        self.write(
            admin,
            Entry::MemberAdd {
                member: dev.member.clone(),
                name: name.into(),
                role,
            },
        );
        self.add_device(admin, &dev);
        dev
    }

    fn add_device(&mut self, admin: &Dev, dev: &Dev) -> String {
        self.write(
            admin,
            Entry::DeviceAdd {
                member: dev.member.clone(),
                device: dev.id.clone(),
                name: "desk".into(),
                recipient: Dev::recipient(),
                signing: dev.key.public().to_string(),
                request: None,
            },
        )
    }
}

fn reason(team: &Team, hash: &str) -> Option<Rejection> {
    team.rejected
        .iter()
        .find(|r| r.hash == hash)
        .map(|r| r.reason.clone())
}

fn summary(t: &Team) -> String {
    format!(
        "{:?}\n{:?}\n{:?}\n{:?}\n{:?}",
        t.members, t.devices, t.order, t.heads, t.rejected
    )
}

#[test]
fn members_devices_and_roles_come_from_signed_entries_in_any_arrival_order() {
    let (mut log, owner) = Log::new();
    let nurse = log.add(&owner, "Nurse Joy", Role::Staff);
    let clerk = log.add(&owner, "Billing clerk", Role::Viewer);
    log.write(
        &owner,
        Entry::RoleSet {
            member: clerk.member.clone(),
            role: Role::Staff,
            cutoffs: Default::default(),
        },
    );
    let t = log.team();
    assert!(t.rejected.is_empty() && t.pending.is_empty(), "{t:?}");
    assert_eq!(t.members.len(), 3);
    assert_eq!(t.role_of_device(&owner.id), Some(Role::Admin));
    assert_eq!(t.role_of_device(&nurse.id), Some(Role::Staff));
    assert_eq!(t.role_of_device(&clerk.id), Some(Role::Staff));
    assert_eq!(t.devices[&nurse.id].signing, nurse.key.public());
    assert_eq!(t.heads.len(), 1);
    assert_eq!(t.chains[&owner.id].0, 6);

    // The result does not depend on the order files arrived in.
    let want = summary(&t);
    let mut entries = log.entries.clone();
    for i in 0..entries.len() {
        entries.rotate_left(1);
        entries.swap(0, i);
        let t = evaluate(&log.vault, &log.root.public(), entries.clone()).unwrap();
        assert_eq!(summary(&t), want);
    }
}

#[test]
fn a_storage_attacker_cannot_add_anyone_or_alter_an_entry() {
    let (mut log, owner) = Log::new();
    let nurse = log.add(&owner, "Nurse Joy", Role::Staff);

    // Signed with a key of their own, under the admin's device id.
    let impostor = Dev {
        id: owner.id.clone(),
        member: owner.member.clone(),
        key: SigningKey::generate(),
    };
    let planted = log.write(
        &impostor,
        Entry::MemberAdd {
            member: random_id(),
            name: "Mallory".into(),
            role: Role::Admin,
        },
    );
    // Signed by a device nobody added.
    let stranger = Dev::new(&random_id());
    let unknown = log.write(
        &stranger,
        Entry::RoleSet {
            member: nurse.member.clone(),
            role: Role::Admin,
            cutoffs: Default::default(),
        },
    );
    // A genuine entry with its body altered (the signature kept).
    let genuine = log.write(
        &owner,
        Entry::MemberAdd {
            member: random_id(),
            name: "Dr. Who".into(),
            role: Role::Viewer,
        },
    );
    let original = log.entry(&genuine).clone();
    let text = original.text.replace("\"viewer\"", "\"admin\"");
    let envelope = serde_json::json!({
        "chartsafe_team": 2,
        "sig": crate::ids::hex(&original.sig),
        "body": text,
    });
    let altered = open(envelope.to_string().as_bytes()).unwrap();
    let altered_hash = altered.hash.clone();
    log.entries.retain(|e| e.hash != genuine);
    log.entries.push(altered);

    let t = log.team();
    assert_eq!(reason(&t, &planted), Some(Rejection::BadSignature));
    assert_eq!(reason(&t, &unknown), Some(Rejection::UnknownDevice));
    assert_eq!(reason(&t, &altered_hash), Some(Rejection::BadSignature));
    assert_eq!(t.members.len(), 2, "nobody was added");
    assert_eq!(t.role_of_device(&nurse.id), Some(Role::Staff));
}

#[test]
fn genesis_is_pinned_and_entries_of_other_vaults_do_not_count() {
    let (log, owner) = Log::new();
    // Another root: nothing at all.
    let err = evaluate(
        &log.vault,
        &SigningKey::generate().public(),
        log.entries.clone(),
    );
    assert_eq!(err.unwrap_err(), TeamError::NoGenesis);
    assert_eq!(
        evaluate(&log.vault, &log.root.public(), vec![]).unwrap_err(),
        TeamError::NoGenesis
    );

    // An attacker's own genesis (their own root key) beside the real one.
    let (mut other, mallory) = Log::new();
    other.vault = log.vault.clone();
    let mut fake = Log {
        vault: log.vault.clone(),
        root: SigningKey::generate(),
        entries: log.entries.clone(),
        time: 0,
    };
    let g = fake.write_seen(
        &mallory,
        &[],
        Entry::Genesis {
            root: fake.root.public().to_string(),
            member: mallory.member.clone(),
            name: "Mallory".into(),
            device_name: "x".into(),
            recipient: Dev::recipient(),
            signing: mallory.key.public().to_string(),
            legacy: Default::default(),
            key: None,
        },
    );
    let t = evaluate(&log.vault, &log.root.public(), fake.entries.clone()).unwrap();
    assert_eq!(reason(&t, &g), Some(Rejection::BadRootSignature));
    assert_eq!(t.members.len(), 1);

    // An entry the owner signed for another vault, replayed here.
    let body = TeamBody {
        format: 2,
        vault: random_id(),
        device: owner.id.clone(),
        seq: 2,
        prev: Some(log.entries[0].hash.clone()),
        deps: vec![],
        time: 5,
        entry: Entry::MemberAdd {
            member: random_id(),
            name: "X".into(),
            role: Role::Admin,
        },
    };
    let replayed = open(&body.seal(&owner.key, None).0).unwrap();
    let mut log = log;
    log.entries.push(replayed.clone());
    let t = log.team();
    assert_eq!(reason(&t, &replayed.hash), Some(Rejection::OtherVault));
}

#[test]
fn only_admins_manage_the_team_and_anyone_may_remove_their_own_device() {
    let (mut log, owner) = Log::new();
    let nurse = log.add(&owner, "Nurse Joy", Role::Staff);
    let viewer = log.add(&owner, "Auditor", Role::Viewer);
    let nurse_phone = Dev {
        member: nurse.member.clone(),
        ..Dev::new("")
    };
    log.add_device(&owner, &nurse_phone);

    let add = log.write(
        &nurse,
        Entry::MemberAdd {
            member: random_id(),
            name: "Friend".into(),
            role: Role::Admin,
        },
    );
    let promote = log.write(
        &viewer,
        Entry::RoleSet {
            member: viewer.member.clone(),
            role: Role::Admin,
            cutoffs: Default::default(),
        },
    );
    let others = log.write(
        &viewer,
        Entry::DeviceRemove {
            device: nurse.id.clone(),
            cutoffs: Default::default(),
        },
    );
    let own = log.write(
        &nurse,
        Entry::DeviceRemove {
            device: nurse_phone.id.clone(),
            cutoffs: Default::default(),
        },
    );
    let t = log.team();
    assert_eq!(reason(&t, &add), Some(Rejection::NotAdmin));
    assert_eq!(reason(&t, &promote), Some(Rejection::NotAdmin));
    assert_eq!(reason(&t, &others), Some(Rejection::NotAdmin));
    assert_eq!(reason(&t, &own), None);
    assert!(t.devices[&nurse_phone.id].removed);
    assert!(t.active_device(&nurse.id).is_some());

    // A removed device's later entries do not count.
    let after = log.write(
        &nurse_phone,
        Entry::DeviceRemove {
            device: nurse.id.clone(),
            cutoffs: Default::default(),
        },
    );
    assert_eq!(reason(&log.team(), &after), Some(Rejection::RemovedDevice));
}

#[test]
fn the_last_admin_cannot_be_removed_demoted_or_left_without_a_device() {
    let (mut log, owner) = Log::new();
    let nurse = log.add(&owner, "Nurse Joy", Role::Staff);
    let demote = log.write(
        &owner,
        Entry::RoleSet {
            member: owner.member.clone(),
            role: Role::Staff,
            cutoffs: Default::default(),
        },
    );
    let remove = log.write(
        &owner,
        Entry::MemberRemove {
            member: owner.member.clone(),
            cutoffs: Default::default(),
        },
    );
    let device = log.write(
        &owner,
        Entry::DeviceRemove {
            device: owner.id.clone(),
            cutoffs: Default::default(),
        },
    );
    let t = log.team();
    for h in [&demote, &remove, &device] {
        assert_eq!(reason(&t, h), Some(Rejection::LastAdmin));
    }
    // With a second admin, the first may step down.
    log.write(
        &owner,
        Entry::RoleSet {
            member: nurse.member.clone(),
            role: Role::Admin,
            cutoffs: Default::default(),
        },
    );
    let step_down = log.write(
        &owner,
        Entry::RoleSet {
            member: owner.member.clone(),
            role: Role::Viewer,
            cutoffs: Default::default(),
        },
    );
    let t = log.team();
    assert_eq!(reason(&t, &step_down), None);
    assert_eq!(t.role_of_device(&owner.id), Some(Role::Viewer));
}

#[test]
fn ids_and_keys_are_never_reused() {
    let (mut log, owner) = Log::new();
    let nurse = log.add(&owner, "Nurse Joy", Role::Staff);
    log.write(
        &owner,
        Entry::MemberRemove {
            member: nurse.member.clone(),
            cutoffs: Default::default(),
        },
    );
    let again = log.write(
        &owner,
        Entry::MemberAdd {
            member: nurse.member.clone(),
            name: "Nurse Joy".into(),
            role: Role::Staff,
        },
    );
    let other = log.add(&owner, "Dr. Lima", Role::Staff);
    let same_device = log.add_device(
        &owner,
        &Dev {
            id: nurse.id.clone(),
            member: other.member.clone(),
            key: SigningKey::generate(),
        },
    );
    let same_key = log.add_device(
        &owner,
        &Dev {
            id: random_id(),
            member: other.member.clone(),
            key: SigningKey::from_seed(&other.key.seed()),
        },
    );
    let t = log.team();
    assert_eq!(reason(&t, &again), Some(Rejection::Reused));
    assert_eq!(reason(&t, &same_device), Some(Rejection::Reused));
    assert_eq!(reason(&t, &same_key), Some(Rejection::Reused));
    assert!(t.active_member(&nurse.member).is_none());
    // Its old device cannot act either.
    let late = log.write(
        &nurse,
        Entry::DeviceRemove {
            device: other.id.clone(),
            cutoffs: Default::default(),
        },
    );
    assert_eq!(reason(&log.team(), &late), Some(Rejection::RemovedDevice));
}

#[test]
fn a_removed_admins_backdated_entries_are_voided_and_what_the_remover_saw_stands() {
    let (mut log, owner) = Log::new();
    let second = log.add(&owner, "Contractor", Role::Admin);
    // The contractor adds someone; the owner sees it.
    let seen = log.write(
        &second,
        Entry::MemberAdd {
            member: random_id(),
            name: "Seen".into(),
            role: Role::Staff,
        },
    );
    let heads_at_removal = log.team().heads;
    // Concurrently with the removal (not seen by the owner), and dated
    // before it: the contractor adds an accomplice admin and a device.
    let accomplice = Dev::new(&random_id());
    let backdated = log.write_at(
        &second,
        &heads_at_removal,
        Entry::MemberAdd {
            member: accomplice.member.clone(),
            name: "Accomplice".into(),
            role: Role::Admin,
        },
        1,
    );
    let removal = log.write_seen(
        &owner,
        &heads_at_removal,
        Entry::MemberRemove {
            member: second.member.clone(),
            cutoffs: Default::default(),
        },
    );
    let t = log.team();
    assert_eq!(reason(&t, &seen), None);
    assert_eq!(reason(&t, &backdated), Some(Rejection::Voided));
    assert_eq!(reason(&t, &removal), None);
    assert!(!t.members.contains_key(&accomplice.member));
    assert!(t.active_member(&second.member).is_none());

    // A demotion voids the demoted admin's concurrent admin entries too.
    let (mut log, owner) = Log::new();
    let second = log.add(&owner, "Contractor", Role::Admin);
    let heads = log.team().heads;
    let sneaky = log.write_at(
        &second,
        &heads,
        Entry::MemberAdd {
            member: random_id(),
            name: "Sneaky".into(),
            role: Role::Admin,
        },
        2,
    );
    log.write_seen(
        &owner,
        &heads,
        Entry::RoleSet {
            member: second.member.clone(),
            role: Role::Staff,
            cutoffs: Default::default(),
        },
    );
    let t = log.team();
    assert_eq!(reason(&t, &sneaky), Some(Rejection::Voided));
    // The demoted member keeps their device, as staff, and may still
    // remove their own devices afterwards.
    assert_eq!(t.role_of_device(&second.id), Some(Role::Staff));
    let spare = Dev {
        member: second.member.clone(),
        ..Dev::new("")
    };
    log.add_device(&owner, &spare);
    let own = log.write(
        &second,
        Entry::DeviceRemove {
            device: spare.id.clone(),
            cutoffs: Default::default(),
        },
    );
    assert_eq!(reason(&log.team(), &own), None);
}

#[test]
fn two_admins_removing_each_other_leave_exactly_one_whatever_the_arrival_order() {
    let (mut log, a) = Log::new();
    let b = log.add(&a, "B", Role::Admin);
    let heads = log.team().heads;
    let ra = log.write_seen(
        &a,
        &heads,
        Entry::MemberRemove {
            member: b.member.clone(),
            cutoffs: Default::default(),
        },
    );
    let rb = log.write_seen(
        &b,
        &heads,
        Entry::MemberRemove {
            member: a.member.clone(),
            cutoffs: Default::default(),
        },
    );
    let t = log.team();
    let admins: Vec<_> = t
        .members
        .values()
        .filter(|m| !m.removed && m.role == Role::Admin)
        .collect();
    assert_eq!(admins.len(), 1, "{t:?}");
    // The earlier one in the total order (time, then device, then hash) wins.
    assert_eq!(reason(&t, &ra), None);
    assert_eq!(reason(&t, &rb), Some(Rejection::Voided));
    let want = summary(&t);
    let mut entries = log.entries.clone();
    entries.reverse();
    let t = evaluate(&log.vault, &log.root.public(), entries).unwrap();
    assert_eq!(summary(&t), want);
}

#[test]
fn a_device_that_signs_two_entries_at_one_position_keeps_only_the_first() {
    let (mut log, owner) = Log::new();
    let second = log.add(&owner, "Contractor", Role::Admin);
    let before = log.write(
        &second,
        Entry::MemberAdd {
            member: random_id(),
            name: "Before".into(),
            role: Role::Staff,
        },
    );
    // A copy of the contractor's device writes at the same position.
    let heads = log.team().heads;
    let mut copy_entries = log.entries.clone();
    let one = log.write_seen(
        &second,
        &heads,
        Entry::MemberAdd {
            member: random_id(),
            name: "One".into(),
            role: Role::Staff,
        },
    );
    std::mem::swap(&mut log.entries, &mut copy_entries);
    let two = log.write_seen(
        &second,
        &heads,
        Entry::MemberAdd {
            member: random_id(),
            name: "Two".into(),
            role: Role::Staff,
        },
    );
    let after_two = log.write(
        &second,
        Entry::MemberAdd {
            member: random_id(),
            name: "After".into(),
            role: Role::Staff,
        },
    );
    log.entries
        .extend(copy_entries.into_iter().filter(|e| e.hash == one));
    let t = log.team();
    assert_eq!(reason(&t, &before), None);
    // The first in the order (the earlier time) stands; the other branch,
    // and what follows it in the device's chain, does not.
    assert_eq!(reason(&t, &one), None);
    for h in [&two, &after_two] {
        assert!(
            matches!(reason(&t, h), Some(Rejection::Fork(_))),
            "{h}: {:?}",
            reason(&t, h)
        );
    }
    assert_eq!(t.members.len(), 4, "owner, contractor, Before, One");
}

#[test]
fn entries_whose_past_has_not_arrived_wait_and_then_count() {
    let (mut log, owner) = Log::new();
    let nurse = log.add(&owner, "Nurse Joy", Role::Staff);
    let promote = log.write(
        &owner,
        Entry::RoleSet {
            member: nurse.member.clone(),
            role: Role::Admin,
            cutoffs: Default::default(),
        },
    );
    let by_nurse = log.write(
        &nurse,
        Entry::MemberAdd {
            member: random_id(),
            name: "New".into(),
            role: Role::Viewer,
        },
    );
    let held_back = log.entry(&promote).clone();
    let mut partial = log.entries.clone();
    partial.retain(|e| e.hash != promote);
    let t = evaluate(&log.vault, &log.root.public(), partial).unwrap();
    assert_eq!(t.pending, vec![by_nurse.clone()]);
    assert!(t.rejected.is_empty());
    assert_eq!(t.members.len(), 2);
    let _ = held_back;
    let t = log.team();
    assert!(t.pending.is_empty() && t.rejected.is_empty());
    assert_eq!(t.members.len(), 3);
}

#[test]
fn broken_chains_are_refused() {
    let (mut log, owner) = Log::new();
    let first = log.write(
        &owner,
        Entry::MemberAdd {
            member: random_id(),
            name: "A".into(),
            role: Role::Staff,
        },
    );
    let nurse = log.add(&owner, "Nurse", Role::Admin);
    // Goes back: seq 2 after the owner's latest entry (seq 5).
    let latest = log.team().chains[&owner.id].1.clone();
    let body = TeamBody {
        format: 2,
        vault: log.vault.clone(),
        device: owner.id.clone(),
        seq: 2,
        prev: Some(latest),
        deps: vec![],
        time: 9_999,
        entry: Entry::MemberAdd {
            member: random_id(),
            name: "B".into(),
            role: Role::Staff,
        },
    };
    let (plain, skip) = body.seal(&owner.key, None);
    log.entries.push(open(&plain).unwrap());
    // Names another device's entry as its prev.
    let mut body = body.clone();
    body.device = nurse.id.clone();
    body.seq = 3;
    body.prev = Some(first.clone());
    body.deps = log.team().heads;
    body.deps.retain(|h| *h != first);
    let (plain, foreign) = body.seal(&nurse.key, None);
    log.entries.push(open(&plain).unwrap());
    let t = log.team();
    assert_eq!(reason(&t, &skip), Some(Rejection::BrokenChain));
    assert_eq!(reason(&t, &foreign), Some(Rejection::BrokenChain));
}

#[test]
fn the_recovery_phrase_re_establishes_an_admin_and_nothing_else_can() {
    let (mut log, owner) = Log::new();
    let nurse = log.add(&owner, "Nurse", Role::Staff);
    // The owner's laptop died: a new device, with the phrase.
    let laptop = Dev {
        member: owner.member.clone(),
        ..Dev::new("")
    };
    let recovery = |signing: String| Entry::RecoveryAdmin {
        member: laptop.member.clone(),
        name: "Owner".into(),
        device_name: "new laptop".into(),
        recipient: Dev::recipient(),
        signing,
    };
    let ok = log.write(&laptop, recovery(laptop.key.public().to_string()));
    let t = log.team();
    assert_eq!(reason(&t, &ok), None);
    assert_eq!(t.role_of_device(&laptop.id), Some(Role::Admin));
    // The new device can then remove the lost one.
    let rm = log.write(
        &laptop,
        Entry::DeviceRemove {
            device: owner.id.clone(),
            cutoffs: Default::default(),
        },
    );
    assert_eq!(reason(&log.team(), &rm), None);

    // Without the phrase (another root key), a staff member's attempt fails.
    let mallory = Dev {
        member: nurse.member.clone(),
        ..Dev::new("")
    };
    let heads = log.team().heads;
    let real_root = std::mem::replace(&mut log.root, SigningKey::generate());
    let forged = log.write_seen(
        &mallory,
        &heads,
        Entry::RecoveryAdmin {
            member: nurse.member.clone(),
            name: "Nurse".into(),
            device_name: "x".into(),
            recipient: Dev::recipient(),
            signing: mallory.key.public().to_string(),
        },
    );
    log.root = real_root;
    let t = log.team();
    assert_eq!(reason(&t, &forged), Some(Rejection::BadRootSignature));
    assert_eq!(t.role_of_device(&nurse.id), Some(Role::Staff));

    // Even the phrase does not revive a removed member's id.
    log.write(
        &laptop,
        Entry::MemberRemove {
            member: nurse.member.clone(),
            cutoffs: Default::default(),
        },
    );
    let revive = Dev {
        member: nurse.member.clone(),
        ..Dev::new("")
    };
    let h = log.write(
        &revive,
        Entry::RecoveryAdmin {
            member: nurse.member.clone(),
            name: "Nurse".into(),
            device_name: "y".into(),
            recipient: Dev::recipient(),
            signing: revive.key.public().to_string(),
        },
    );
    assert_eq!(reason(&log.team(), &h), Some(Rejection::Reused));
}

/// A log with concurrency in it: two admins acting without seeing each
/// other, a removal that voids, an unknown writer, and an entry waiting for
/// one that never arrived.
fn busy_log() -> Log {
    let (mut log, owner) = Log::new();
    let second = log.add(&owner, "Contractor", Role::Admin);
    let nurse = log.add(&owner, "Nurse", Role::Staff);
    let heads = log.team().heads;
    log.write_seen(
        &second,
        &heads,
        Entry::MemberAdd {
            member: random_id(),
            name: "Concurrent".into(),
            role: Role::Viewer,
        },
    );
    log.write_seen(
        &owner,
        &heads,
        Entry::RoleSet {
            member: nurse.member.clone(),
            role: Role::Viewer,
            cutoffs: Default::default(),
        },
    );
    log.write_seen(
        &owner,
        &heads,
        Entry::MemberRemove {
            member: second.member.clone(),
            cutoffs: Default::default(),
        },
    );
    log.write(
        &nurse,
        Entry::DeviceRemove {
            device: nurse.id.clone(),
            cutoffs: Default::default(),
        },
    );
    let stranger = Dev::new(&random_id());
    log.write(
        &stranger,
        Entry::MemberAdd {
            member: random_id(),
            name: "Forged".into(),
            role: Role::Admin,
        },
    );
    log.write_seen(
        &owner,
        &["f".repeat(64)],
        Entry::MemberAdd {
            member: random_id(),
            name: "Waiting".into(),
            role: Role::Staff,
        },
    );
    let t = log.team();
    let reasons: Vec<_> = t.rejected.iter().map(|r| r.reason.clone()).collect();
    assert_eq!(
        reasons,
        [Rejection::Voided, Rejection::UnknownDevice],
        "{t:?}"
    );
    assert_eq!(t.pending.len(), 1);
    log
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
    #[test]
    fn every_arrival_order_and_duplicate_gives_the_same_team(
        order in proptest::sample::subsequence((0..40usize).collect::<Vec<_>>(), 40)
            .prop_shuffle(),
        dup in 0..40usize,
    ) {
        let log = busy_log();
        let want = summary(&log.team());
        let n = log.entries.len();
        let mut entries: Vec<_> = order
            .iter()
            .filter(|i| **i < n)
            .map(|i| log.entries[*i].clone())
            .collect();
        entries.push(log.entries[dup % n].clone());
        let t = evaluate(&log.vault, &log.root.public(), entries).unwrap();
        proptest::prop_assert_eq!(summary(&t), want);
    }
}

#[test]
fn a_removed_device_cannot_erase_its_own_history_with_a_second_entry_at_a_position() {
    let (mut log, owner) = Log::new();
    let second = log.add(&owner, "Contractor", Role::Admin);
    let mallory = log.add(&second, "Mallory", Role::Staff);
    let before_removal = log.team().heads;
    // The contractor removes Mallory (their position 3)...
    let removal = log.write(
        &second,
        Entry::MemberRemove {
            member: mallory.member.clone(),
            cutoffs: Default::default(),
        },
    );
    // ...and is later removed by the owner.
    log.write(
        &owner,
        Entry::MemberRemove {
            member: second.member.clone(),
            cutoffs: Default::default(),
        },
    );
    // With the key still in hand, they sign another entry at position 3,
    // dated first, to take the place of Mallory's removal.
    let seq3 = log.entry(&removal).body.seq;
    let prev = log.entry(&removal).body.prev.clone();
    let body = TeamBody {
        format: 2,
        vault: log.vault.clone(),
        device: second.id.clone(),
        seq: seq3,
        prev,
        deps: before_removal
            .into_iter()
            .filter(|h| Some(h) != log.entry(&removal).body.prev.as_ref())
            .collect(),
        time: 0,
        entry: Entry::RoleSet {
            member: mallory.member.clone(),
            role: Role::Staff,
            cutoffs: Default::default(),
        },
    };
    let (plain, rewrite) = body.seal(&second.key, None);
    log.entries.push(open(&plain).unwrap());
    let t = log.team();
    assert_eq!(reason(&t, &removal), None, "{t:?}");
    assert_eq!(reason(&t, &rewrite), Some(Rejection::Voided));
    assert!(t.active_member(&mallory.member).is_none());
}

#[test]
fn a_copy_with_a_bad_signature_does_not_hide_the_genuine_entry() {
    let (mut log, owner) = Log::new();
    let nurse = log.add(&owner, "Nurse", Role::Staff);
    let genuine = log.entry(&log.team().heads[0]).clone();
    let mut junk = genuine.clone();
    junk.sig = [7; 64];
    // The junk copy first, in front of everything, the genesis's too.
    let mut genesis_junk = log.entries[0].clone();
    genesis_junk.sig = [9; 64];
    genesis_junk.root_sig = Some([9; 64]);
    let mut entries = vec![genesis_junk, junk];
    entries.extend(log.entries.clone());
    let t = evaluate(&log.vault, &log.root.public(), entries).unwrap();
    assert!(t.rejected.is_empty(), "{t:?}");
    assert!(t.active_device(&nurse.id).is_some());
}

#[test]
fn an_entry_that_claims_to_have_seen_too_little_is_not_rooted() {
    let (mut log, owner) = Log::new();
    let second = log.add(&owner, "Contractor", Role::Admin);
    let fresh = Dev {
        member: second.member.clone(),
        ..Dev::new("")
    };
    log.add_device(&second, &fresh);
    // The new device's first entry names only a junk entry: it would void
    // every entry of the owner, the genesis included, if it counted.
    let junk = TeamBody {
        format: 2,
        vault: log.vault.clone(),
        device: second.id.clone(),
        seq: 1,
        prev: None,
        deps: vec![],
        time: 0,
        entry: Entry::DeviceRemove {
            device: owner.id.clone(),
            cutoffs: Default::default(),
        },
    };
    let (plain, junk_hash) = junk.seal(&second.key, None);
    log.entries.push(open(&plain).unwrap());
    let attack = log.write_at(
        &fresh,
        std::slice::from_ref(&junk_hash),
        Entry::MemberRemove {
            member: owner.member.clone(),
            cutoffs: Default::default(),
        },
        i64::MAX,
    );
    let t = log.team();
    // The junk comes first in the order, before its writer was added.
    assert_eq!(reason(&t, &junk_hash), Some(Rejection::UnknownDevice));
    assert_eq!(reason(&t, &attack), Some(Rejection::NotRooted));
    assert!(t.active_member(&owner.member).is_some());
    // A second genesis, even one the real root key signed, does not count.
    // (Dated before the first it would be the first: the root key is the
    // recovery phrase, which can do anything, FORMAT.md §11.5.)
    let (plain, again) = TeamBody {
        format: 2,
        vault: log.vault.clone(),
        device: random_id(),
        seq: 1,
        prev: None,
        deps: vec![],
        time: 1_000_000,
        entry: Entry::Genesis {
            root: log.root.public().to_string(),
            member: random_id(),
            name: "Again".into(),
            device_name: "x".into(),
            recipient: Dev::recipient(),
            signing: fresh.key.public().to_string(),
            legacy: Default::default(),
            key: None,
        },
    }
    .seal(&fresh.key, Some(&log.root));
    log.entries.push(open(&plain).unwrap());
    let t = log.team();
    assert_eq!(reason(&t, &again), Some(Rejection::SecondGenesis));
    assert_eq!(t.members.len(), 2);
}

#[test]
fn removing_a_device_or_demoting_staff_voids_what_they_wrote_unseen() {
    let (mut log, owner) = Log::new();
    let nurse = log.add(&owner, "Nurse", Role::Staff);
    let phone = Dev {
        member: nurse.member.clone(),
        ..Dev::new("")
    };
    let tablet = Dev {
        member: nurse.member.clone(),
        ..Dev::new("")
    };
    log.add_device(&owner, &phone);
    log.add_device(&owner, &tablet);
    let heads = log.team().heads;
    // The phone, not yet knowing it is removed, removes the tablet.
    let unseen = log.write_at(
        &phone,
        &heads,
        Entry::DeviceRemove {
            device: tablet.id.clone(),
            cutoffs: Default::default(),
        },
        1,
    );
    log.write_seen(
        &owner,
        &heads,
        Entry::DeviceRemove {
            device: phone.id.clone(),
            cutoffs: Default::default(),
        },
    );
    let t = log.team();
    assert_eq!(reason(&t, &unseen), Some(Rejection::Voided));
    assert!(t.active_device(&tablet.id).is_some());

    // Staff demoted to viewer: their concurrent entry is voided too.
    let heads = log.team().heads;
    let unseen = log.write_at(
        &nurse,
        &heads,
        Entry::DeviceRemove {
            device: tablet.id.clone(),
            cutoffs: Default::default(),
        },
        2,
    );
    log.write_seen(
        &owner,
        &heads,
        Entry::RoleSet {
            member: nurse.member.clone(),
            role: Role::Viewer,
            cutoffs: Default::default(),
        },
    );
    let t = log.team();
    assert_eq!(reason(&t, &unseen), Some(Rejection::Voided));
    assert!(t.active_device(&tablet.id).is_some());
}

#[test]
fn a_refused_entry_does_not_break_its_writers_chain_and_recovery_cannot_reuse_a_device() {
    let (mut log, owner) = Log::new();
    let nurse = log.add(&owner, "Nurse", Role::Staff);
    let refused = log.write(
        &nurse,
        Entry::MemberAdd {
            member: random_id(),
            name: "Friend".into(),
            role: Role::Staff,
        },
    );
    let spare = Dev {
        member: nurse.member.clone(),
        ..Dev::new("")
    };
    log.add_device(&owner, &spare);
    let next = log.write(
        &nurse,
        Entry::DeviceRemove {
            device: spare.id.clone(),
            cutoffs: Default::default(),
        },
    );
    let t = log.team();
    assert_eq!(reason(&t, &refused), Some(Rejection::NotAdmin));
    assert_eq!(reason(&t, &next), None);
    assert_eq!(t.chains[&nurse.id].1, next);

    // The phrase used with an existing device's id, or key.
    let same_id = Dev {
        id: nurse.id.clone(),
        member: owner.member.clone(),
        key: SigningKey::generate(),
    };
    let same_key = Dev {
        id: random_id(),
        member: owner.member.clone(),
        key: SigningKey::from_seed(&nurse.key.seed()),
    };
    let mut hashes = Vec::new();
    for dev in [&same_id, &same_key] {
        let heads = log.team().heads;
        let (plain, h) = TeamBody {
            format: 2,
            vault: log.vault.clone(),
            device: dev.id.clone(),
            seq: 1,
            prev: None,
            deps: heads,
            time: 99_999,
            entry: Entry::RecoveryAdmin {
                member: owner.member.clone(),
                name: "Owner".into(),
                device_name: "x".into(),
                recipient: Dev::recipient(),
                signing: dev.key.public().to_string(),
            },
        }
        .seal(&dev.key, Some(&log.root));
        log.entries.push(open(&plain).unwrap());
        hashes.push(h);
    }
    let t = log.team();
    for h in &hashes {
        assert_eq!(reason(&t, h), Some(Rejection::Reused));
    }
}

#[test]
fn an_admin_may_remove_another_admins_devices_but_not_leave_none() {
    let (mut log, a) = Log::new();
    let b = log.add(&a, "B", Role::Admin);
    let remove_b = log.write(
        &a,
        Entry::DeviceRemove {
            device: b.id.clone(),
            cutoffs: Default::default(),
        },
    );
    let remove_own = log.write(
        &a,
        Entry::DeviceRemove {
            device: a.id.clone(),
            cutoffs: Default::default(),
        },
    );
    let t = log.team();
    assert_eq!(reason(&t, &remove_b), None);
    assert_eq!(reason(&t, &remove_own), Some(Rejection::LastAdmin));
}

#[test]
fn a_chain_may_skip_positions_but_not_branch() {
    let (mut log, owner) = Log::new();
    let genesis = log.entries[0].hash.clone();
    // Position 2 was taken by a planted file: the owner writes at 3 after 1.
    let heads = log.team().heads;
    let mk = |seq: u64, name: &str| TeamBody {
        format: 2,
        vault: log.vault.clone(),
        device: owner.id.clone(),
        seq,
        prev: Some(genesis.clone()),
        deps: heads.iter().filter(|h| **h != genesis).cloned().collect(),
        time: 5_000 + seq as i64,
        entry: Entry::MemberAdd {
            member: random_id(),
            name: name.into(),
            role: Role::Staff,
        },
    };
    let (plain, skipped) = mk(3, "After a gap").seal(&owner.key, None);
    log.entries.push(open(&plain).unwrap());
    // A second entry after the same prev, at another position: a fork.
    let (plain, branch) = mk(4, "Branch").seal(&owner.key, None);
    log.entries.push(open(&plain).unwrap());
    let t = log.team();
    assert_eq!(reason(&t, &skipped), None);
    assert_eq!(reason(&t, &branch), Some(Rejection::Fork(4)));
    assert_eq!(t.members.len(), 2);
}
