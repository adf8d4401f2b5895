//! Unit tests of the vault with an in-memory secret store and a fake clock.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use secrecy::SecretString;

use super::*;
use crate::traits::memory::MemoryStore;
use crate::traits::NoProgress;

struct FakeClock(Arc<AtomicI64>);
impl Clock for FakeClock {
    fn now_ms(&self) -> i64 {
        self.0.fetch_add(1000, Ordering::SeqCst)
    }
}

fn options(state: &Path, name: &str, clock: &Arc<AtomicI64>) -> Options {
    let mut o = Options::new(state, name);
    o.kdf_log_n = 4;
    o.clock = Box::new(FakeClock(clock.clone()));
    o
}

fn pass(s: &str) -> SecretString {
    SecretString::from(s.to_owned())
}

#[test]
fn create_unlock_and_the_two_factors() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = Arc::new(AtomicI64::new(1_780_000_000_000));
    let store = MemoryStore::default();
    let dir = tmp.path().join("vault");
    let (vault, phrase) = Vault::create(
        &dir,
        &store,
        &pass("long enough"),
        options(&tmp.path().join("s"), "a", &clock),
    )
    .unwrap();
    drop(vault);
    let v = Vault::unlock(
        &dir,
        &store,
        &pass("long enough"),
        options(&tmp.path().join("s"), "a", &clock),
    );
    assert!(v.is_ok());
    drop(v);
    let err = Vault::unlock(
        &dir,
        &store,
        &pass("wrong one!"),
        options(&tmp.path().join("s"), "a", &clock),
    )
    .unwrap_err();
    assert!(matches!(err, UnlockError::WrongPassphrase), "{err}");
    // Another device's store: not enrolled.
    let empty = MemoryStore::default();
    let err = Vault::unlock(
        &dir,
        &empty,
        &pass("long enough"),
        options(&tmp.path().join("s"), "a", &clock),
    )
    .unwrap_err();
    assert!(matches!(err, UnlockError::NotEnrolled(_)), "{err}");
    // The recovery identity opens it without either factor.
    let v = Vault::unlock_with_identities(
        &dir,
        &[phrase.identity()],
        options(&tmp.path().join("t"), "b", &clock),
    )
    .unwrap();
    assert!(v.recovery_identity().is_some());
    drop(v);
    // A weak passphrase and a non-empty folder are refused.
    let e = Vault::create(
        &tmp.path().join("v2"),
        &store,
        &pass("short"),
        options(tmp.path(), "a", &clock),
    )
    .unwrap_err();
    assert!(matches!(e, CreateError::WeakPassphrase(8)));
    let e = Vault::create(
        &dir,
        &store,
        &pass("long enough"),
        options(tmp.path(), "a", &clock),
    )
    .unwrap_err();
    assert!(matches!(e, CreateError::NotEmpty(_)));
}

#[test]
fn a_second_process_on_the_same_device_is_told_the_vault_is_busy() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = Arc::new(AtomicI64::new(0));
    let store = MemoryStore::default();
    let dir = tmp.path().join("vault");
    let state = tmp.path().join("s");
    let (_held, _) = Vault::create(
        &dir,
        &store,
        &pass("long enough"),
        options(&state, "a", &clock),
    )
    .unwrap();
    let err = Vault::unlock(
        &dir,
        &store,
        &pass("long enough"),
        options(&state, "a", &clock),
    )
    .unwrap_err();
    assert!(matches!(err, UnlockError::Busy), "{err}");
}

#[test]
fn concurrent_edits_merge_the_same_whatever_the_order() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = Arc::new(AtomicI64::new(1_780_000_000_000));
    let store_a = MemoryStore::default();
    let dir = tmp.path().join("vault");
    let (mut a, phrase) = Vault::create(
        &dir,
        &store_a,
        &pass("long enough"),
        options(&tmp.path().join("sa"), "desk", &clock),
    )
    .unwrap();
    let src = tmp.path().join("n.txt");
    std::fs::write(&src, "base").unwrap();
    a.add(std::slice::from_ref(&src), "", &NoProgress).unwrap();
    // Device b shares the same folder (as if synced instantly).
    let store_b = MemoryStore::default();
    let mut b = Vault::recover(
        &dir,
        &phrase,
        &store_b,
        &pass("other pass"),
        options(&tmp.path().join("sb"), "laptop", &clock),
    )
    .unwrap();
    // Both edit the same file from the same base: two heads.
    std::fs::write(&src, "desk edit").unwrap();
    let snap_b = b.load().unwrap();
    a.add(std::slice::from_ref(&src), "", &NoProgress).unwrap();
    // b writes from its older snapshot, as if offline.
    let node = snap_b.find("n.txt").unwrap().clone();
    let mut ops = Vec::new();
    let (entry, parents, mut state) = snap_b.target(&node, &mut ops);
    state.name = "n.txt".into();
    if let Some(c) = state.content.as_mut() {
        c.size = 99; // a different content version (the blob does not matter here)
        c.sha256 = "11".repeat(32);
    }
    ops.push(Op {
        entry,
        parents,
        state,
    });
    b.commit_ops(ops, Vec::new()).unwrap();
    let listing = a.list().unwrap();
    let names: Vec<&str> = listing.entries.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names.contains(&"n.txt"));
    assert!(
        names.iter().any(|n| n.starts_with("n (conflict, ")),
        "{names:?}"
    );
    assert_eq!(
        listing.entries,
        b.list().unwrap().entries,
        "both devices see the same"
    );
}

#[test]
fn an_injected_recovery_keyslot_is_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = Arc::new(AtomicI64::new(0));
    let store = MemoryStore::default();
    let dir = tmp.path().join("vault");
    let (vault, phrase) = Vault::create(
        &dir,
        &store,
        &pass("long enough"),
        options(&tmp.path().join("s"), "a", &clock),
    )
    .unwrap();
    let id = vault.id().to_owned();
    drop(vault);
    // Someone who knows the public recovery recipient writes a keyslot with
    // their own collection and MAC keys.
    let recovery = phrase.identity();
    let forged = VaultKeys {
        member: ids::random_id(),
        collections: vec![(ids::random_id(), AgeIdentity::generate())],
        mac: crate::keys::MacKey::from_bytes([9; 32]),
        recovery: recovery.recipient(),
        recovery_identity: None,
    };
    let layout = Layout::new(&dir);
    // Named to sort first, so it is tried first.
    write_keyslot(
        &layout,
        "aaaaaaaaaaaaaaaaaaaaaaaaaa",
        &forged.to_plain(&id, 0),
        &recovery.recipient(),
    )
    .unwrap();
    let store_b = MemoryStore::default();
    let v = Vault::recover(
        &dir,
        &phrase,
        &store_b,
        &pass("new device"),
        options(&tmp.path().join("b"), "b", &clock),
    )
    .unwrap();
    assert!(
        v.keys.matches_recovery(&recovery),
        "the genuine keyslot was used"
    );
    drop(v);
    let v = Vault::unlock_with_identities(
        &dir,
        &[phrase.identity()],
        options(&tmp.path().join("c"), "c", &clock),
    )
    .unwrap();
    assert!(v.keys.matches_recovery(&recovery));
}
