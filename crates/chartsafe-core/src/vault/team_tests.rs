//! The team log as vaults write and read it (FORMAT.md §11): genesis at
//! create, the signing key in the device's own keyslot, the phrase's
//! `recovery_admin`, and planted entries.

use super::tests::{pass, World, PASS};
use super::*;
use crate::format::team::{Role, TeamBody};
use crate::sign::SigningKey;
use crate::team::Rejection;

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
    // with a new key, and the old one removed.
    let old = b.device_id().to_owned();
    drop(b);
    let b2 = w.recover(&phrase, "b");
    assert_ne!(b2.device_id(), old);
    let t = team(&b2);
    assert!(t.rejected.is_empty(), "{t:?}");
    assert!(t.devices[&old].removed);
    assert!(t.active_device(b2.device_id()).is_some());
    // Device "a" sees the same team.
    drop(a);
    let a = Vault::unlock(&w.dir, &w.store, &pass(PASS), w.options("a")).unwrap();
    assert_eq!(team(&a).order, t.order);
}

#[test]
fn entries_planted_in_the_folder_are_refused_or_unreadable_and_change_nothing() {
    let w = World::new();
    let (v, _) = w.create();
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

    // The team log deleted: no team, an error, and the vault still opens.
    drop(v);
    std::fs::remove_dir_all(w.dir.join("t")).unwrap();
    let v = Vault::unlock(&w.dir, &w.store, &pass(PASS), w.options("a")).unwrap();
    assert!(v.team().team.is_none());
    assert_eq!(v.team().error, Some(crate::team::TeamError::NoGenesis));
}

#[test]
fn a_vault_without_a_team_log_gets_one_from_the_phrase() {
    let w = World::new();
    let (v, phrase) = w.create();
    drop(v);
    // As a vault made before the team log: no t/, no pinned root.
    std::fs::remove_dir_all(w.dir.join("t")).unwrap();
    let b = w.recover(&phrase, "b");
    let t = team(&b);
    assert_eq!(t.devices.len(), 1);
    assert_eq!(t.role_of_device(b.device_id()), Some(Role::Admin));
}
