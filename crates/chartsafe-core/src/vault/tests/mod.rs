//! Unit tests of the vault with an in-memory secret store and a fake clock.

// The vault's tests, by capability; this module holds the shared world.
mod attacks;
mod audit;
mod collections;
mod convergence;
mod rotate;
mod team;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use secrecy::SecretString;

use crate::errors::RevertError;
use crate::format::record::EntryState;
use crate::format::record::Kind;
use crate::traits::memory::MemoryStore;
use crate::traits::{NoProgress, Progress};
use crate::vault::load::Snapshot;
use crate::vault::*;

pub(in crate::vault) struct FakeClock(pub(in crate::vault) Arc<AtomicI64>);
impl Clock for FakeClock {
    fn now_ms(&self) -> i64 {
        self.0.fetch_add(1000, Ordering::SeqCst)
    }
}

pub(in crate::vault) const PASS: &str = "long enough";

pub(in crate::vault) fn pass(s: &str) -> SecretString {
    SecretString::from(s.to_owned())
}

/// A scratch folder with a vault folder in it, one clock, and the first
/// device's keychain.
pub(in crate::vault) struct World {
    pub(in crate::vault) tmp: tempfile::TempDir,
    pub(in crate::vault) clock: Arc<AtomicI64>,
    pub(in crate::vault) store: MemoryStore,
    pub(in crate::vault) dir: PathBuf,
}

impl World {
    pub(in crate::vault) fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("vault");
        let clock = Arc::new(AtomicI64::new(1_780_000_000_000));
        Self {
            tmp,
            clock,
            store: MemoryStore::default(),
            dir,
        }
    }

    /// Options of the device called `device` (its own local state folder).
    pub(in crate::vault) fn options(&self, device: &str) -> Options {
        let mut o = Options::new(self.tmp.path().join(format!("state-{device}")), device);
        o.kdf_log_n = 4;
        o.clock = Box::new(FakeClock(self.clock.clone()));
        o
    }

    /// Creates the vault on device "a".
    pub(in crate::vault) fn create(&self) -> (Vault, RecoveryPhrase) {
        Vault::create(&self.dir, &self.store, &pass(PASS), self.options("a")).unwrap()
    }

    /// Creates the vault on device "a" with one file `name` in it, and enrols
    /// device "b" on the same folder (as if synced instantly).
    pub(in crate::vault) fn two_devices_with(
        &self,
        name: &str,
        content: &str,
    ) -> (Vault, Vault, PathBuf) {
        let (mut a, phrase) = self.create();
        let src = self.tmp.path().join(name);
        std::fs::write(&src, content).unwrap();
        a.add(std::slice::from_ref(&src), "", &NoProgress).unwrap();
        let b = self.recover(&phrase, "b");
        (a, b, src)
    }

    /// A person `name` joins through an invitation from `admin` with
    /// their computer `device`, is approved with `role`, and unlocks.
    pub(in crate::vault) fn join(
        &self,
        admin: &mut Vault,
        name: &str,
        device: &str,
        role: crate::format::team::Role,
    ) -> (MemoryStore, Vault) {
        use secrecy::ExposeSecret;
        let inv = admin.invite().unwrap();
        let store = MemoryStore::default();
        let pending = Vault::request_join(
            &self.dir,
            inv.text.expose_secret(),
            name,
            &store,
            &pass("member passphrase"),
            self.options(device),
        )
        .unwrap();
        let id = admin
            .join_requests()
            .unwrap()
            .into_iter()
            .find(|r| r.name == name)
            .unwrap()
            .id;
        admin.approve(&id, &pending.code, role).unwrap();
        let v = Vault::unlock(
            &self.dir,
            &store,
            &pass("member passphrase"),
            self.options(device),
        )
        .unwrap();
        (store, v)
    }

    /// Enrols `device` (with its own empty keychain) from the phrase.
    pub(in crate::vault) fn recover(&self, phrase: &RecoveryPhrase, device: &str) -> Vault {
        let store = MemoryStore::default();
        Vault::recover(
            &self.dir,
            phrase,
            &store,
            &pass("other pass"),
            self.options(device),
        )
        .unwrap()
    }
}

/// Writes, as `device`, a change to `path` made from an older view of the
/// vault (as a device that was offline would).
pub(in crate::vault) fn change_offline(
    device: &mut Vault,
    view: &Snapshot,
    path: &str,
    change: impl FnOnce(&mut EntryState),
) {
    let node = view.find(path).unwrap().clone();
    let mut ops = Vec::new();
    let (entry, parents, mut state) = view.target(&node, &mut ops);
    change(&mut state);
    ops.push(Op {
        entry,
        parents,
        state,
    });
    device.commit_ops(ops, Vec::new(), Vec::new()).unwrap();
}

#[test]
fn create_unlock_and_the_two_factors() {
    let w = World::new();
    let (vault, phrase) = w.create();
    drop(vault);
    let unlock =
        |store: &MemoryStore, p: &str| Vault::unlock(&w.dir, store, &pass(p), w.options("a"));
    drop(unlock(&w.store, PASS).unwrap());
    let err = unlock(&w.store, "wrong one!").unwrap_err();
    assert!(matches!(err, UnlockError::WrongPassphrase), "{err}");
    // Another device's keychain: not enrolled.
    let err = unlock(&MemoryStore::default(), PASS).unwrap_err();
    assert!(matches!(err, UnlockError::NotEnrolled(_)), "{err}");
    // The recovery identity opens it without either factor.
    let v = Vault::unlock_with_identities(&w.dir, &[phrase.identity()], w.options("b")).unwrap();
    assert!(v.recovery_identity().is_some());
    drop(v);
    // A weak passphrase and a non-empty folder are refused.
    let e = Vault::create(
        &w.tmp.path().join("v2"),
        &w.store,
        &pass("short"),
        w.options("a"),
    )
    .unwrap_err();
    assert!(matches!(e, CreateError::WeakPassphrase(8)));
    let e = Vault::create(&w.dir, &w.store, &pass(PASS), w.options("a")).unwrap_err();
    assert!(matches!(e, CreateError::NotEmpty(_)));
}

#[test]
fn a_second_process_on_the_same_device_is_told_the_vault_is_busy() {
    let w = World::new();
    let (_held, _) = w.create();
    let err = Vault::unlock(&w.dir, &w.store, &pass(PASS), w.options("a")).unwrap_err();
    assert!(matches!(err, UnlockError::Busy), "{err}");
}

#[test]
fn concurrent_edits_become_a_conflict_copy_both_devices_see() {
    let w = World::new();
    let (mut a, mut b, src) = w.two_devices_with("n.txt", "base");
    // Both edit the same file from the same base: two heads.
    std::fs::write(&src, "desk edit").unwrap();
    let snap_b = b.load().unwrap();
    a.add(std::slice::from_ref(&src), "", &NoProgress).unwrap();
    // b writes from its older snapshot, as if offline: a different content.
    change_offline(&mut b, &snap_b, "n.txt", |state| {
        let c = state.content.as_mut().unwrap();
        c.size = 99; // the blob does not matter here
        c.sha256 = "11".repeat(32);
    });
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
    let w = World::new();
    let (vault, phrase) = w.create();
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
        signing: None,
        device_identity: None,
        current: Default::default(),
        default: None,
    };
    // Named to sort first, so it is tried first.
    let slot = "aaaaaaaaaaaaaaaaaaaaaaaaaa";
    write_keyslot(
        &Layout::new(&w.dir),
        slot,
        &forged.to_plain(&id, 0),
        &recovery.recipient(),
    )
    .unwrap();
    let v = w.recover(&phrase, "b");
    assert!(
        v.keys.matches_recovery(&recovery),
        "the genuine keyslot was used"
    );
    drop(v);
    let v = Vault::unlock_with_identities(&w.dir, &[phrase.identity()], w.options("c")).unwrap();
    assert!(v.keys.matches_recovery(&recovery));
}

#[test]
fn purge_keeps_contents_that_an_unsynced_device_still_uses() {
    let w = World::new();
    let (mut a, mut b, _) = w.two_devices_with("labs.pdf", "results");
    let old_view = b.load().unwrap();
    // Device a trashes and purges the file...
    a.remove("labs.pdf").unwrap();
    let r = a.purge(PurgeTarget::All).unwrap();
    assert_eq!((r.entries, r.deleted, r.waiting), (1, 0, 1));
    // ...while device b, offline, renamed it.
    change_offline(&mut b, &old_view, "labs.pdf", |state| {
        state.name = "labs-2026.pdf".into()
    });
    // Long after the grace period, the content is still in use: kept.
    w.clock.fetch_add(30 * 24 * 3600 * 1000, Ordering::SeqCst);
    let r = a.purge(PurgeTarget::Expired).unwrap();
    assert_eq!((r.deleted, r.waiting), (0, 0));
    let out = w.tmp.path().join("out.pdf");
    a.get("labs-2026.pdf", None, &out, Access::Exported, &NoProgress)
        .unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), b"results");
    // Once trashed and purged again, it goes after the grace period.
    a.remove("labs-2026.pdf").unwrap();
    a.purge(PurgeTarget::All).unwrap();
    w.clock.fetch_add(8 * 24 * 3600 * 1000, Ordering::SeqCst);
    let r = a.purge(PurgeTarget::Expired).unwrap();
    assert_eq!((r.deleted, r.waiting), (1, 0));
}

/// Cancels once `after` pieces of work are done.
struct CancelAfter {
    after: usize,
    done: std::sync::atomic::AtomicUsize,
}
impl Progress for CancelAfter {
    fn advance(&self, _: u64) {
        self.done.fetch_add(1, Ordering::SeqCst);
    }
    fn cancelled(&self) -> bool {
        self.done.load(Ordering::SeqCst) >= self.after
    }
}

#[test]
fn keep_both_names_the_new_file_name_2_and_same_content_is_not_copied() {
    let w = World::new();
    let (mut v, _) = w.create();
    let first = w.tmp.path().join("one/scan.pdf");
    let second = w.tmp.path().join("two/scan.pdf");
    std::fs::create_dir_all(first.parent().unwrap()).unwrap();
    std::fs::create_dir_all(second.parent().unwrap()).unwrap();
    std::fs::write(&first, "first").unwrap();
    std::fs::write(&second, "second, different").unwrap();
    let keep = AddOptions {
        on_existing: OnExisting::KeepBoth,
        keep_going: true,
        ..AddOptions::default()
    };
    v.add_with(std::slice::from_ref(&first), "", &keep, &NoProgress)
        .unwrap();
    let r = v
        .add_with(&[second.clone(), second.clone()], "", &keep, &NoProgress)
        .unwrap();
    assert_eq!(r.added, 2);
    // The same file again is recognised, not copied a third time.
    let again = v
        .add_with(std::slice::from_ref(&first), "", &keep, &NoProgress)
        .unwrap();
    assert_eq!((again.added, again.unchanged), (0, 1));
    let names: Vec<String> = v
        .list()
        .unwrap()
        .entries
        .into_iter()
        .map(|e| e.path)
        .collect();
    assert_eq!(names, ["scan (2).pdf", "scan (3).pdf", "scan.pdf"]);
    assert_eq!(v.versions("scan.pdf").unwrap().len(), 1);
}

#[test]
fn keep_going_imports_the_rest_and_names_each_failure() {
    let w = World::new();
    let (mut v, _) = w.create();
    let dir = w.tmp.path().join("scans");
    std::fs::create_dir_all(&dir).unwrap();
    for i in 0..5 {
        std::fs::write(dir.join(format!("ok-{i}.txt")), format!("fine {i}")).unwrap();
    }
    let missing = w.tmp.path().join("gone.pdf");
    let bad_name = dir.join("bad\nname.txt");
    std::fs::write(&bad_name, "x").unwrap();
    v.mkdir("clash").unwrap();
    let clash = w.tmp.path().join("clash");
    std::fs::write(&clash, "a file where a folder is").unwrap();
    let options = AddOptions {
        keep_going: true,
        ..AddOptions::default()
    };
    let r = v
        .add_with(
            &[dir.clone(), missing.clone(), clash.clone()],
            "",
            &options,
            &NoProgress,
        )
        .unwrap();
    assert_eq!(r.added, 5);
    let mut failed: Vec<&Path> = r.failed.iter().map(|f| f.source.as_path()).collect();
    failed.sort();
    let mut want = vec![bad_name.as_path(), clash.as_path(), missing.as_path()];
    want.sort();
    assert_eq!(failed, want);
    assert!(r.failed.iter().all(|f| f.error.to_string().len() > 5));
    // Without keep_going the first failure stops everything.
    assert!(v.add(&[missing], "", &NoProgress).is_err());
}

#[test]
fn cancelling_keeps_finished_files_and_nothing_else() {
    let w = World::new();
    let (mut v, _) = w.create();
    let dir = w.tmp.path().join("many");
    std::fs::create_dir_all(&dir).unwrap();
    for i in 0..40 {
        std::fs::write(dir.join(format!("f{i:02}.txt")), format!("content {i}")).unwrap();
    }
    let progress = CancelAfter {
        after: 3,
        done: Default::default(),
    };
    let r = v
        .add_with(&[dir], "", &AddOptions::default(), &progress)
        .unwrap();
    assert!(r.cancelled);
    let files = v
        .list()
        .unwrap()
        .entries
        .into_iter()
        .filter(|e| e.kind == Kind::File)
        .count();
    assert_eq!(files, r.added);
    assert!(r.added < 40, "cancel stopped the work ({} added)", r.added);
    // Every listed file opens.
    for e in v.list().unwrap().entries {
        if e.kind == Kind::File {
            v.get(
                &e.path,
                None,
                &w.tmp.path().join("out"),
                Access::Exported,
                &NoProgress,
            )
            .unwrap();
        }
    }
}

#[test]
fn revert_makes_an_older_version_current_and_keeps_the_newer_one() {
    let w = World::new();
    let (mut v, _) = w.create();
    let src = w.tmp.path().join("note.txt");
    std::fs::write(&src, "one").unwrap();
    v.add(std::slice::from_ref(&src), "", &NoProgress).unwrap();
    std::fs::write(&src, "two, longer").unwrap();
    v.add(std::slice::from_ref(&src), "", &NoProgress).unwrap();
    assert!(matches!(
        v.revert("note.txt", 3),
        Err(RevertError::NoSuchVersion { version: 3, .. })
    ));
    v.revert("note.txt", 2).unwrap();
    let out = w.tmp.path().join("out.txt");
    v.get("note.txt", None, &out, Access::Exported, &NoProgress)
        .unwrap();
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "one");
    let versions = v.versions("note.txt").unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[1].size, "two, longer".len() as u64);
}

/// Found by the convergence model (issue 13): a file whose folder's record
/// has not arrived yet is shown at the top level (FORMAT.md §6.1 step 4).
/// Saving a new version of it there must not move it out of its folder for
/// good, nor rename it: a new version keeps its own folder and name.
#[test]
fn an_edit_before_the_folders_record_arrives_keeps_the_file_in_its_folder() {
    let w = World::new();
    let (mut a, phrase) = w.create();
    let mut b = w.recover(&phrase, "b");
    a.mkdir("Labs").unwrap();
    let src = w.tmp.path().join("cbc.txt");
    std::fs::write(&src, "first").unwrap();
    a.add(std::slice::from_ref(&src), "Labs", &NoProgress)
        .unwrap();
    // b has the file's record but not yet the folder's (a sync client at
    // work): it shows the file at the top level and saves an edit there.
    let records = a.layout.device_records(&a.device.device);
    let folder_record = records.join(Layout::record_name(1));
    let held = w.tmp.path().join("held-back");
    std::fs::rename(&folder_record, &held).unwrap();
    assert!(b
        .list()
        .unwrap()
        .entries
        .iter()
        .any(|e| e.path == "cbc.txt"));
    std::fs::write(&src, "second").unwrap();
    b.add(std::slice::from_ref(&src), "", &NoProgress).unwrap();
    // The folder's record arrives: the edited file is in its folder.
    std::fs::rename(&held, &folder_record).unwrap();
    for v in [&mut a, &mut b] {
        let listing = v.list().unwrap();
        let paths: Vec<&str> = listing.entries.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["Labs", "Labs/cbc.txt"], "{:?}", listing.problems);
        assert!(listing.problems.is_empty(), "{:?}", listing.problems);
        let mut out = Vec::new();
        v.get_to_writer("Labs/cbc.txt", None, &mut out, Access::Exported)
            .unwrap();
        assert_eq!(out, b"second");
    }
}
