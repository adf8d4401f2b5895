//! Figures of the team log, for `make bench` (not a pass/fail test: it is
//! ignored by `cargo test` and run with `--ignored`). Prints markdown table
//! rows on stdout.
//!
//! - approving a member: `Vault::approve` (code check, audit batch, two
//!   signed team entries, the new device's keyslot), each of 50 in turn;
//! - unlocking a vault whose team has 50 members, each with a device
//!   (reading and checking every team entry), against unlocking the same
//!   vault's first state (one member);
//! - reading 1,000 records signed by 50 devices, against the same number of
//!   version 1 records (MAC only) in another vault;
//! - unlocking with 50 members and 20 collections (each granted to two
//!   members, with a file in it), as the admin (every key) and as a member
//!   of one collection.

// A measurement prints its table; the library itself never prints.
#![allow(clippy::print_stdout)]

mod support;

use std::time::Instant;

use chartsafe_core::{NoProgress, Role, Vault};
use secrecy::ExposeSecret;
use support::{best_of, options, pass, Store};

#[test]
#[ignore = "a measurement for make bench"]
fn measure_team_figures() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("vault");
    let store = Store::default();
    let (mut admin, _) =
        Vault::create(&dir, &store, &pass(), options(tmp.path(), "admin")).unwrap();
    drop(admin);
    let unlock_one = best_of(5, || {
        Vault::unlock(&dir, &store, &pass(), options(tmp.path(), "admin")).unwrap()
    });
    admin = Vault::unlock(&dir, &store, &pass(), options(tmp.path(), "admin")).unwrap();

    let mut approve = Vec::new();
    let mut stores = Vec::new();
    for i in 0..50 {
        let invite = admin.invite().unwrap();
        let s = Store::default();
        let name = format!("member{i:02}");
        let pending = Vault::request_join(
            &dir,
            invite.text.expose_secret(),
            &format!("Member {i}"),
            &s,
            &pass(),
            options(tmp.path(), &name),
        )
        .unwrap();
        let id = admin.join_requests().unwrap()[0].id.clone();
        let t = Instant::now();
        admin.approve(&id, &pending.code, Role::Staff).unwrap();
        approve.push(t.elapsed().as_secs_f64());
        stores.push((name, s));
    }
    // Each new member's first unlock completes its enrolment, then adds 20
    // files: 1,000 signed records from 50 devices.
    let src = tmp.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    for (name, s) in &stores {
        let mut v = Vault::unlock(&dir, s, &pass(), options(tmp.path(), name)).unwrap();
        for j in 0..20 {
            let f = src.join(format!("{name}-{j}.txt"));
            std::fs::write(&f, format!("{name} {j}")).unwrap();
            v.add(std::slice::from_ref(&f), name, &NoProgress).unwrap();
        }
    }
    drop(admin);
    let unlock_fifty = best_of(5, || {
        Vault::unlock(&dir, &store, &pass(), options(tmp.path(), "admin")).unwrap()
    });
    let mut admin = Vault::unlock(&dir, &store, &pass(), options(tmp.path(), "admin")).unwrap();
    let members = admin.team_view().unwrap().members.len();
    let list_signed = best_of(3, || admin.list().unwrap());
    let l = admin.list().unwrap();
    assert!(l.problems.is_empty(), "{:?}", l.problems.first());
    let files = l
        .entries
        .iter()
        .filter(|e| e.kind == chartsafe_core::Kind::File)
        .count();

    // 20 collections, each granted to two members (one may change it),
    // with one file in each.
    for c in 0..20 {
        let name = format!("Collection {c:02}");
        admin.create_collection(&name).unwrap();
        admin.grant(&name, &format!("Member {c}"), true).unwrap();
        admin
            .grant(&name, &format!("Member {}", c + 20), false)
            .unwrap();
        let f = src.join(format!("collection-{c}.txt"));
        std::fs::write(&f, format!("collection {c}")).unwrap();
        admin
            .add(std::slice::from_ref(&f), &name, &NoProgress)
            .unwrap();
    }
    let collections = admin.collections().unwrap().len();
    drop(admin);
    let unlock_collections = best_of(5, || {
        Vault::unlock(&dir, &store, &pass(), options(tmp.path(), "admin")).unwrap()
    });
    let (first, first_store) = &stores[0];
    let unlock_member = best_of(5, || {
        Vault::unlock(&dir, first_store, &pass(), options(tmp.path(), first)).unwrap()
    });
    let mut m = Vault::unlock(&dir, first_store, &pass(), options(tmp.path(), first)).unwrap();
    let seen = m.list().unwrap();
    assert!(seen.problems.is_empty(), "{:?}", seen.problems.first());
    assert!(seen
        .entries
        .iter()
        .any(|e| e.path.starts_with("Collection 00/")));
    assert!(!seen
        .entries
        .iter()
        .any(|e| e.path.starts_with("Collection 01/")));
    drop(m);

    // The same number of version 1 records (a vault without a team log:
    // its device pinned no root).
    let dir1 = tmp.path().join("vault1");
    let store1 = Store::default();
    let (v1, _) = Vault::create(&dir1, &store1, &pass(), options(tmp.path(), "v1")).unwrap();
    let id1 = v1.id().to_owned();
    drop(v1);
    std::fs::remove_dir_all(dir1.join("t")).unwrap();
    // Nor does such a device keep copies of team entries (FORMAT.md §7).
    std::fs::remove_dir_all(tmp.path().join("state-v1").join(&id1).join("team")).unwrap();
    let state = tmp.path().join("state-v1").join(&id1).join("device.json");
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    json.as_object_mut().unwrap().remove("root");
    std::fs::write(&state, serde_json::to_vec(&json).unwrap()).unwrap();
    let mut v1 = Vault::unlock(&dir1, &store1, &pass(), options(tmp.path(), "v1")).unwrap();
    for j in 0..1000 {
        let f = src.join(format!("v1-{j}.txt"));
        std::fs::write(&f, format!("v1 {j}")).unwrap();
        v1.add(std::slice::from_ref(&f), "v1", &NoProgress).unwrap();
    }
    let list_v1 = best_of(3, || v1.list().unwrap());

    approve.sort_by(f64::total_cmp);
    let median = approve[approve.len() / 2];
    let max = approve[approve.len() - 1];
    println!(
        "| approve a member (Vault::approve: code check, audit, 2 signed entries, keyslot) | 50 in turn | median {:.1} ms, slowest {:.1} ms | as the team grows from 1 to 50 members | - |",
        median * 1e3,
        max * 1e3
    );
    println!(
        "| unlock with {members} members (each with a device and 20 changes) | 5 runs, best | {:.0} ms | read and check {} team entries, the 50-member log | {:.2}x unlocking with 1 member ({:.0} ms) |",
        unlock_fifty * 1e3,
        1 + 2 * 50,
        unlock_one / unlock_fifty,
        unlock_one * 1e3
    );
    println!(
        "| list {files} files from 1,000 signed records of 50 devices | 3 runs, best | {:.0} ms | signature and team checks per record | {:.2}x listing 1,000 version 1 records, MAC only ({:.0} ms) |",
        list_signed * 1e3,
        list_v1 / list_signed,
        list_v1 * 1e3
    );
    println!(
        "| unlock with {members} members and {collections} collections (incl. the audit log's), as the admin | 5 runs, best | {:.0} ms | every key: keyslots of 20 collections and 40 grants | {:.2}x unlocking with 1 member ({:.0} ms) |",
        unlock_collections * 1e3,
        unlock_one / unlock_collections,
        unlock_one * 1e3
    );
    println!(
        "| unlock with {members} members and {collections} collections, as a member of one | 5 runs, best | {:.0} ms | its own keys only | {:.2}x unlocking with 1 member |",
        unlock_member * 1e3,
        unlock_one / unlock_member
    );
}
