//! Opening a file for editing in another program, and saving it back: the
//! file is decrypted into a private folder, watched, saved back into the
//! vault as a new version, and removed on lock, close and quit
//! (docs/THREAT_MODEL.md §6.1: decrypted copies exist only while the vault is
//! unlocked, in a folder only this user can enter).
//!
//! Where (the app passes its cache folder, from Tauri's path API):
//! - Linux: `$XDG_RUNTIME_DIR/chartsafe` (a per-user tmpfs, mode 0700,
//!   emptied at logout), else `<cache>/open` with mode 0700;
//! - macOS: `~/Library/Caches/<app id>/open`, mode 0700;
//! - Windows: `%LOCALAPPDATA%\<app id>\open`, with an access list that lets
//!   only this user in (chartsafe_platform::private_dir).
//!
//! Each app process has its own subfolder `open-<pid>`, and holds an
//! exclusive lock on `open-<pid>.alive` beside it while it lives (taken
//! before the folder exists). A folder whose lock can be taken belongs to a
//! process that is gone (a crash) and is removed at the next start; one
//! whose lock is held is never touched, on every system and whatever the
//! process ids.

use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex, Weak};
use std::time::{Duration, SystemTime};

use chartsafe_core::{
    names, Access, AddError, AddOptions, Classify, ErrorKind, GetError, NoProgress, Vault,
};
use notify::Watcher;

/// Errors of [`OpenFiles::open`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EditError {
    /// The vault locked: nothing may be opened any more.
    #[error("the vault is locked")]
    Locked,
    /// The file could not be decrypted into the private folder.
    #[error(transparent)]
    Get(#[from] GetError),
    /// The private folder could not be made.
    #[error("private folder {}: {source}", folder.display())]
    PrivateFolder {
        /// The folder.
        folder: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The thread that saves changes back could not start.
    #[error("could not start saving changes back: {0}")]
    SaveBackThread(#[source] std::io::Error),
    /// The private folder could not be watched for saves.
    #[error("watching {} for saves: {source}", folder.display())]
    Watch {
        /// The folder.
        folder: PathBuf,
        /// Why.
        source: notify::Error,
    },
}

impl Classify for EditError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Locked => ErrorKind::Cancelled,
            Self::Get(e) => e.kind(),
            Self::PrivateFolder { source, .. } => ErrorKind::of_io(source),
            Self::Watch { .. } | Self::SaveBackThread(_) => ErrorKind::Storage,
        }
    }
}

/// How long a file must stay unchanged before it is saved back (editors
/// write in several steps).
const SETTLE: Duration = Duration::from_millis(700);

/// The private folder for decrypted copies.
pub fn private_root(cache_dir: &Path) -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from) {
        Some(run) if cfg!(target_os = "linux") && run.is_absolute() && run.is_dir() => {
            run.join("chartsafe")
        }
        _ => cache_dir.join("open"),
    }
}

/// The app's identifier (`tauri.conf.json`): its cache folder is
/// `<user cache>/org.chartsafe.desktop` on every system.
pub const APP_ID: &str = "org.chartsafe.desktop";

/// The private folder this computer's app and `chartsafe open` share
/// (each process keeps to its own `open-<pid>` inside, and removes only
/// the folders of processes that are gone): [`private_root`] of
/// `<user cache>/`[`APP_ID`], the folder Tauri's `app_cache_dir` names.
pub fn default_private_root() -> PathBuf {
    let cache = dirs::cache_dir().map_or_else(|| PathBuf::from(APP_ID), |c| c.join(APP_ID));
    private_root(&cache)
}

use chartsafe_platform::create_private_dir as private_dir;

/// The lock file that says the process owning `folder` still runs.
fn alive_file(folder: &Path) -> PathBuf {
    let mut name = folder.file_name().unwrap_or_default().to_owned();
    name.push(".alive");
    folder.with_file_name(name)
}

/// Removes the folders of app processes that are gone: those whose
/// `.alive` lock is not held (or missing). Folders of running processes,
/// this one's included, are kept.
pub fn remove_leftovers(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for e in entries.filter_map(Result::ok) {
        let name = e.file_name().to_string_lossy().into_owned();
        if name
            .strip_prefix("open-")
            .is_none_or(|pid| pid.parse::<u32>().is_err())
        {
            continue;
        }
        let folder = e.path();
        let lock = alive_file(&folder);
        let held = match std::fs::OpenOptions::new().write(true).open(&lock) {
            Ok(f) => matches!(f.try_lock(), Err(std::fs::TryLockError::WouldBlock)),
            Err(_) => false,
        };
        if !held {
            remove_copy(&folder);
            let _ = std::fs::remove_file(&lock);
        }
    }
}

struct OpenFile {
    path: String,
    folder: PathBuf,
    job: Arc<Mutex<SaveBack>>,
    // Dropping the watcher ends the save-back thread.
    _watcher: notify::RecommendedWatcher,
}

/// Called after a file was saved back (its path in the vault) or failed to.
pub type SavedHook = Arc<dyn Fn(&str, Result<(), AddError>) + Send + Sync>;

/// The files open in other programs for one unlocked vault.
pub struct OpenFiles {
    dir: PathBuf,
    files: Mutex<Vec<OpenFile>>,
    /// Set when the vault locks: nothing may be opened any more.
    closed: std::sync::atomic::AtomicBool,
    /// One open at a time (two opens of one file must not race).
    opening: Mutex<()>,
    /// The held lock on `dir`'s `.alive` file, once `dir` exists.
    alive: Mutex<Option<std::fs::File>>,
}

impl OpenFiles {
    /// Open files of this process live in `root/open-<pid>`.
    pub fn new(root: &Path) -> Self {
        Self {
            dir: root.join(format!("open-{}", std::process::id())),
            files: Mutex::new(Vec::new()),
            closed: std::sync::atomic::AtomicBool::new(false),
            opening: Mutex::new(()),
            alive: Mutex::new(None),
        }
    }

    /// The vault paths of what is open.
    pub fn list(&self) -> Vec<String> {
        self.files
            .lock()
            .expect("open files lock")
            .iter()
            .map(|f| f.path.clone())
            .collect()
    }

    /// Decrypts `path` into a new private folder, starts watching it and
    /// returns the decrypted file (to hand to the default application).
    pub fn open(
        &self,
        vault: &Arc<Mutex<Vault>>,
        path: &str,
        on_saved: SavedHook,
    ) -> Result<PathBuf, EditError> {
        let _one = self.opening.lock().expect("opening lock");
        if self.closed.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(EditError::Locked);
        }
        // Under a name every desktop system takes as a plain file name
        // (THREAT_MODEL.md §4.5).
        let name = names::local_file_name(path.rsplit('/').next().unwrap_or(path));
        let parent = path.rsplit_once('/').map_or("", |(p, _)| p).to_owned();
        if let Some(local) = self.open_copy(path, &name) {
            return Ok(local);
        }
        let folder = self.new_folder()?;
        let local = folder.join(&name);
        vault
            .lock()
            .expect("vault lock")
            .get(path, None, &local, Access::Opened, &NoProgress)
            .inspect_err(|_| {
                let _ = std::fs::remove_dir_all(&folder);
            })?;
        let job = Arc::new(Mutex::new(SaveBack {
            vault: Arc::downgrade(vault),
            local: local.clone(),
            vault_parent: parent,
            vault_path: path.to_owned(),
            last: stamp(&local),
            on_saved,
        }));
        let watcher = watch(&folder, job.clone()).inspect_err(|_| remove_copy(&folder))?;
        let mut files = self.files.lock().expect("open files lock");
        // Locked meanwhile (close_all sets this under this same lock): the
        // copy must not outlive the session.
        if self.closed.load(std::sync::atomic::Ordering::SeqCst) {
            drop(files);
            drop(watcher);
            remove_copy(&folder);
            return Err(EditError::Locked);
        }
        // An earlier copy whose file was gone is replaced; its folder goes.
        if let Some(i) = files.iter().position(|f| f.path == path) {
            let old = files.remove(i);
            remove_copy(&old.folder);
        }
        files.push(OpenFile {
            path: path.to_owned(),
            folder,
            job,
            _watcher: watcher,
        });
        Ok(local)
    }

    /// The decrypted copy of `path` already open, if its file is still
    /// there: the same copy is handed out again.
    fn open_copy(&self, path: &str, name: &str) -> Option<PathBuf> {
        let files = self.files.lock().expect("open files lock");
        let f = files.iter().find(|f| f.path == path)?;
        Some(f.folder.join(name)).filter(|local| local.exists())
    }

    /// A new private folder for one copy, under a random name: the folder
    /// says nothing about the file inside.
    fn new_folder(&self) -> Result<PathBuf, EditError> {
        let failed = |e| EditError::PrivateFolder {
            folder: self.dir.clone(),
            source: e,
        };
        {
            // The lock is taken before the folder exists, so another
            // process's remove_leftovers never sees it unlocked.
            let mut alive = self.alive.lock().expect("alive lock");
            if alive.is_none() {
                let root = self.dir.parent().unwrap_or(Path::new("."));
                private_dir(root).map_err(failed)?;
                let f = std::fs::OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(alive_file(&self.dir))
                    .map_err(failed)?;
                f.lock().map_err(failed)?;
                *alive = Some(f);
            }
        }
        private_dir(&self.dir).map_err(failed)?;
        let folder = self.dir.join(format!("{:032x}", rand::random::<u128>()));
        private_dir(&folder).map_err(|e| EditError::PrivateFolder {
            folder: folder.clone(),
            source: e,
        })?;
        Ok(folder)
    }

    /// Saves back any change not saved yet, stops watching `path` and
    /// removes its decrypted copy.
    pub fn close(&self, path: &str) {
        self.close_under(path, false);
    }

    /// Closes `path` and, with `inside`, everything open below it (before
    /// it is renamed, moved or trashed, so that no later save goes to the
    /// old name). Returns how many changes could not be saved back.
    pub fn close_under(&self, path: &str, inside: bool) -> usize {
        let prefix = format!("{path}/");
        let mut files = self.files.lock().expect("open files lock");
        let (closing, keep): (Vec<OpenFile>, Vec<OpenFile>) = std::mem::take(&mut *files)
            .into_iter()
            .partition(|f| f.path == path || (inside && f.path.starts_with(&prefix)));
        *files = keep;
        drop(files);
        let mut failed = 0;
        for f in closing {
            if !f.job.lock().expect("save-back lock").save_if_changed() {
                failed += 1;
            }
            remove_copy(&f.folder);
        }
        failed
    }

    /// Saves back changes not saved yet, then removes every decrypted copy
    /// (lock, quit); nothing can be opened afterwards. Changes still unsaved
    /// inside the other program are not seen: it must save before the vault
    /// locks. Returns how many changes could not be saved back.
    pub fn close_all(&self) -> usize {
        let files = {
            let mut files = self.files.lock().expect("open files lock");
            self.closed.store(true, std::sync::atomic::Ordering::SeqCst);
            std::mem::take(&mut *files)
        };
        let mut failed = 0;
        for f in &files {
            if !f.job.lock().expect("save-back lock").save_if_changed() {
                failed += 1;
            }
        }
        drop(files);
        remove_copy(&self.dir);
        if let Some(lock) = self.alive.lock().expect("alive lock").take() {
            let _ = std::fs::remove_file(alive_file(&self.dir));
            drop(lock);
        }
        failed
    }
}

impl Drop for OpenFiles {
    fn drop(&mut self) {
        self.close_all();
    }
}

/// Removes a decrypted copy, truncating its files first (on a disk-backed
/// folder the blocks are then freed at once). Links are never followed, and
/// a file with other hard links is only unlinked, so nothing outside the
/// private folder is touched.
fn remove_copy(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.filter_map(Result::ok) {
            let Ok(kind) = e.file_type() else { continue };
            if kind.is_dir() {
                remove_copy(&e.path());
            } else if kind.is_file() {
                truncate_own(&e.path());
            }
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}

fn truncate_own(p: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        // The folder is this user's alone (0700), so the entry seen as a
        // regular file by `remove_copy` is still that file here.
        let Ok(f) = std::fs::OpenOptions::new().write(true).open(p) else {
            return;
        };
        if f.metadata().is_ok_and(|m| m.is_file() && m.nlink() == 1) {
            let _ = f.set_len(0);
        }
    }
    #[cfg(not(unix))]
    {
        let _ = p;
    }
}

/// Watches `folder` and saves `job` back after each burst of changes, on a
/// thread of its own that ends when the watcher is dropped.
fn watch(
    folder: &Path,
    job: Arc<Mutex<SaveBack>>,
) -> Result<notify::RecommendedWatcher, EditError> {
    let (tx, rx) = mpsc::channel::<notify::Result<notify::Event>>();
    let failed = |e| EditError::Watch {
        folder: folder.to_owned(),
        source: e,
    };
    let mut watcher = notify::recommended_watcher(tx).map_err(failed)?;
    watcher
        .watch(folder, notify::RecursiveMode::NonRecursive)
        .map_err(failed)?;
    std::thread::Builder::new()
        .name("save-back".into())
        .spawn(move || SaveBack::run(&job, rx))
        .map_err(EditError::SaveBackThread)?;
    Ok(watcher)
}

/// A file's size and modification time: what changes when it is saved.
fn stamp(p: &Path) -> Option<(u64, SystemTime)> {
    let m = std::fs::metadata(p).ok()?;
    Some((m.len(), m.modified().ok()?))
}

struct SaveBack {
    vault: Weak<Mutex<Vault>>,
    local: PathBuf,
    vault_parent: String,
    vault_path: String,
    last: Option<(u64, SystemTime)>,
    on_saved: SavedHook,
}

impl SaveBack {
    fn run(job: &Mutex<SaveBack>, rx: mpsc::Receiver<notify::Result<notify::Event>>) {
        // Each burst of events is followed by a quiet spell, then one check.
        while rx.recv().is_ok() {
            loop {
                match rx.recv_timeout(SETTLE) {
                    Ok(_) => continue,
                    Err(mpsc::RecvTimeoutError::Timeout) => break,
                    Err(mpsc::RecvTimeoutError::Disconnected) => return,
                }
            }
            job.lock().expect("save-back lock").save_if_changed();
        }
    }

    /// Adds the file as a new version if it changed since last time.
    /// Returns false when a change could not be saved.
    fn save_if_changed(&mut self) -> bool {
        let now = stamp(&self.local);
        if now.is_none() || now == self.last {
            return true; // deleted (an editor's save in progress) or unchanged
        }
        {
            let Some(vault) = self.vault.upgrade() else {
                return false; // locked before the change could be saved
            };
            let result = vault
                .lock()
                .expect("vault lock")
                .add_with(
                    std::slice::from_ref(&self.local),
                    &self.vault_parent,
                    &AddOptions {
                        saved_back: true,
                        ..AddOptions::default()
                    },
                    &NoProgress,
                )
                .map(|_| ());
            drop(vault);
            let ok = result.is_ok();
            if ok {
                self.last = now;
            }
            (self.on_saved)(&self.vault_path, result);
            ok
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::new_vault;
    use chartsafe_core::Kind;

    /// Waits up to ten seconds for `done`.
    fn eventually(mut done: impl FnMut() -> bool) -> bool {
        let until = std::time::Instant::now() + Duration::from_secs(10);
        while std::time::Instant::now() < until {
            if done() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        done()
    }

    fn versions(vault: &Mutex<Vault>, path: &str) -> usize {
        vault.lock().unwrap().versions(path).unwrap().len()
    }

    /// `chartsafe open` and the app share one private folder only if
    /// both name the app's cache folder alike.
    #[test]
    fn the_app_id_is_the_apps_identifier() {
        let conf = include_str!("../../../src-tauri/tauri.conf.json");
        assert!(conf.contains(&format!("\"identifier\": \"{APP_ID}\"")));
    }

    #[test]
    fn an_edit_is_saved_back_as_a_new_version_and_the_copy_goes_on_close() {
        let tmp = tempfile::tempdir().unwrap();
        let mut vault = new_vault(tmp.path());
        let src = tmp.path().join("note.txt");
        std::fs::write(&src, b"first").unwrap();
        vault.add(&[src], "Doe", &NoProgress).unwrap();
        let vault = Arc::new(Mutex::new(vault));
        let saved = Arc::new(Mutex::new(Vec::new()));
        let hook: SavedHook = {
            let saved = saved.clone();
            Arc::new(move |path: &str, result: Result<(), AddError>| {
                saved
                    .lock()
                    .unwrap()
                    .push((path.to_owned(), result.is_ok()));
            })
        };
        let open = OpenFiles::new(&tmp.path().join("private"));
        let local = open.open(&vault, "Doe/note.txt", hook.clone()).unwrap();
        assert_eq!(std::fs::read(&local).unwrap(), b"first");
        assert_eq!(open.list(), ["Doe/note.txt"]);
        // Opened twice: the same copy.
        assert_eq!(open.open(&vault, "Doe/note.txt", hook).unwrap(), local);

        std::fs::write(&local, b"second, longer").unwrap();
        assert!(
            eventually(|| !saved.lock().unwrap().is_empty()),
            "the save was not noticed"
        );
        assert_eq!(*saved.lock().unwrap(), [("Doe/note.txt".to_owned(), true)]);
        assert_eq!(versions(&vault, "Doe/note.txt"), 2);

        assert_eq!(open.close_under("Doe", true), 0);
        assert!(!local.exists());
        assert!(open.list().is_empty());
        let mut vault = vault.lock().unwrap();
        let entry = vault.list().unwrap().entries;
        let note = entry.iter().find(|e| e.path == "Doe/note.txt").unwrap();
        assert_eq!((note.kind, note.size), (Kind::File, 14));
        let log = vault.audit_log().unwrap();
        let actions: Vec<_> = log.entries.iter().map(|e| e.action.as_str()).collect();
        assert!(actions.contains(&"opened"), "{actions:?}");
    }

    #[test]
    fn a_change_made_before_the_lock_is_saved_and_nothing_opens_after_it() {
        let tmp = tempfile::tempdir().unwrap();
        let mut vault = new_vault(tmp.path());
        let src = tmp.path().join("note.txt");
        std::fs::write(&src, b"first").unwrap();
        vault.add(&[src], "", &NoProgress).unwrap();
        let vault = Arc::new(Mutex::new(vault));
        let hook: SavedHook = Arc::new(|_: &str, _: Result<(), AddError>| {});
        let open = OpenFiles::new(&tmp.path().join("private"));
        let local = open.open(&vault, "note.txt", hook.clone()).unwrap();
        // Saved and locked at once: close_all saves it, not the watcher.
        std::fs::write(&local, b"changed just before the lock").unwrap();
        assert_eq!(open.close_all(), 0);
        assert!(!local.exists());
        assert_eq!(versions(&vault, "note.txt"), 2);
        assert!(matches!(
            open.open(&vault, "note.txt", hook),
            Err(EditError::Locked)
        ));
    }

    #[test]
    fn a_missing_file_leaves_no_private_folder_behind() {
        let tmp = tempfile::tempdir().unwrap();
        let vault = Arc::new(Mutex::new(new_vault(tmp.path())));
        let hook: SavedHook = Arc::new(|_: &str, _: Result<(), AddError>| {});
        let open = OpenFiles::new(&tmp.path().join("private"));
        let e = open.open(&vault, "nobody.txt", hook).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
        let left: Vec<_> = std::fs::read_dir(&open.dir).unwrap().collect();
        assert!(left.is_empty(), "{left:?}");
    }

    #[cfg(unix)]
    #[test]
    fn removing_copies_never_touches_files_outside_the_private_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tmp.path().join("outside");
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("keep.txt"), "precious").unwrap();
        std::fs::write(outside.join("linked.txt"), "also precious").unwrap();
        let private = tmp.path().join("open-1");
        std::fs::create_dir_all(private.join("abc")).unwrap();
        std::fs::write(private.join("abc/note.txt"), "decrypted").unwrap();
        std::os::unix::fs::symlink(&outside, private.join("abc/folder-link")).unwrap();
        std::os::unix::fs::symlink(outside.join("keep.txt"), private.join("abc/file-link"))
            .unwrap();
        std::fs::hard_link(outside.join("linked.txt"), private.join("abc/hard.txt")).unwrap();
        remove_copy(&private);
        assert!(!private.exists());
        assert_eq!(
            std::fs::read_to_string(outside.join("keep.txt")).unwrap(),
            "precious"
        );
        assert_eq!(
            std::fs::read_to_string(outside.join("linked.txt")).unwrap(),
            "also precious"
        );
    }

    #[test]
    fn leftovers_of_gone_processes_are_removed_and_running_ones_kept() {
        let tmp = tempfile::tempdir().unwrap();
        // A running process: its lock is held (here by another open file
        // description, which flock and LockFileEx treat as another owner).
        let running = tmp.path().join("open-17");
        std::fs::create_dir_all(running.join("abc")).unwrap();
        std::fs::write(running.join("abc/report.pdf"), b"still open").unwrap();
        let held = std::fs::File::create(alive_file(&running)).unwrap();
        held.lock().unwrap();
        // A crashed process: its lock file is there, unheld.
        let crashed = tmp.path().join("open-4000000");
        std::fs::create_dir_all(crashed.join("abc")).unwrap();
        std::fs::write(crashed.join("abc/labs.pdf"), b"left behind").unwrap();
        std::fs::File::create(alive_file(&crashed)).unwrap();
        // An old folder without any lock file, and something not ours.
        let old = tmp.path().join("open-12");
        let other = tmp.path().join("not-ours");
        for d in [&old, &other] {
            std::fs::create_dir_all(d).unwrap();
        }
        remove_leftovers(tmp.path());
        assert!(running.join("abc/report.pdf").exists());
        assert!(!crashed.exists() && !alive_file(&crashed).exists());
        assert!(!old.exists());
        assert!(other.exists());
        drop(held);
        remove_leftovers(tmp.path());
        assert!(!running.exists(), "once its process is gone");
    }

    #[test]
    fn this_process_holds_its_folder_while_files_are_open() {
        let tmp = tempfile::tempdir().unwrap();
        let files = OpenFiles::new(tmp.path());
        let folder = files.new_folder().unwrap();
        std::fs::write(folder.join("notes.txt"), b"open").unwrap();
        remove_leftovers(tmp.path());
        assert!(folder.join("notes.txt").exists());
        files.close_all();
        assert!(!files.dir.exists() && !alive_file(&files.dir).exists());
    }
}
