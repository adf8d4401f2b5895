//! Files opened in other programs: decrypted into a private folder, watched,
//! saved back into the vault as a new version, and removed on lock, close and
//! quit (docs/THREAT_MODEL.md §5: decrypted copies exist only while the vault
//! is unlocked, in a folder only this user can enter).
//!
//! Linux puts them under `$XDG_RUNTIME_DIR` (a per-user tmpfs, mode 0700,
//! emptied at logout); other systems, or Linux without it, under the user's
//! cache folder with mode 0700. Each app process has its own subfolder
//! `open-<pid>`, so a second process never deletes the first one's files; a
//! folder left by a process that is gone (a crash) is removed at the next start.

use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex, Weak};
use std::time::{Duration, SystemTime};

use chartsafe_core::{AddOptions, NoProgress, Vault};
use notify::Watcher;
use serde::Serialize;

use crate::error::AppError;

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

/// Creates a folder readable only by this user.
fn private_dir(dir: &Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Removes folders left by app processes that are gone.
pub fn remove_leftovers(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    let me = std::process::id();
    for e in entries.filter_map(Result::ok) {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix("open-")
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        let alive =
            pid == me || (cfg!(target_os = "linux") && Path::new(&format!("/proc/{pid}")).exists());
        if !alive {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// One open file, as the UI shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct OpenInfo {
    /// Its path in the vault.
    pub path: String,
    /// When it was last saved back (ms since the epoch), if ever.
    pub saved: Option<i64>,
}

struct OpenFile {
    path: String,
    folder: PathBuf,
    saved: Arc<Mutex<Option<i64>>>,
    job: Arc<Mutex<SaveBack>>,
    // Dropping the watcher ends the save-back thread.
    _watcher: notify::RecommendedWatcher,
}

/// Called after a file was saved back (path in the vault) or failed to.
pub type SavedHook = Arc<dyn Fn(&str, Result<(), AppError>) + Send + Sync>;

/// The files open in other programs for one unlocked vault.
pub struct OpenFiles {
    dir: PathBuf,
    files: Mutex<Vec<OpenFile>>,
}

impl OpenFiles {
    /// Open files of this process live in `root/open-<pid>`.
    pub fn new(root: &Path) -> Self {
        Self {
            dir: root.join(format!("open-{}", std::process::id())),
            files: Mutex::new(Vec::new()),
        }
    }

    /// What is open.
    pub fn list(&self) -> Vec<OpenInfo> {
        self.files
            .lock()
            .expect("open files lock")
            .iter()
            .map(|f| OpenInfo {
                path: f.path.clone(),
                saved: *f.saved.lock().expect("saved lock"),
            })
            .collect()
    }

    /// Decrypts `path` into a new private folder, starts watching it and
    /// returns the decrypted file (to hand to the default application).
    pub fn open(
        &self,
        vault: &Arc<Mutex<Vault>>,
        path: &str,
        on_saved: SavedHook,
    ) -> Result<PathBuf, AppError> {
        let name = path.rsplit('/').next().unwrap_or(path).to_owned();
        let parent = path.rsplit_once('/').map_or("", |(p, _)| p).to_owned();
        // Already open: hand out the same copy again.
        if let Some(f) = self
            .files
            .lock()
            .expect("open files lock")
            .iter()
            .find(|f| f.path == path)
        {
            let local = f.folder.join(&name);
            if local.exists() {
                return Ok(local);
            }
        }
        private_dir(&self.dir).map_err(|e| AppError::internal(format!("private folder: {e}")))?;
        let folder = self.dir.join(chartsafe_core::ids::random_id());
        private_dir(&folder).map_err(|e| AppError::internal(format!("private folder: {e}")))?;
        let local = folder.join(&name);
        vault
            .lock()
            .expect("vault lock")
            .get(path, None, &local, &NoProgress)
            .inspect_err(|_| {
                let _ = std::fs::remove_dir_all(&folder);
            })?;
        let (tx, rx) = mpsc::channel::<notify::Result<notify::Event>>();
        let mut watcher = notify::recommended_watcher(tx)
            .map_err(|e| AppError::internal(format!("watch: {e}")))?;
        watcher
            .watch(&folder, notify::RecursiveMode::NonRecursive)
            .map_err(|e| AppError::internal(format!("watch: {e}")))?;
        let saved = Arc::new(Mutex::new(None));
        let job = Arc::new(Mutex::new(SaveBack {
            vault: Arc::downgrade(vault),
            local: local.clone(),
            vault_parent: parent,
            vault_path: path.to_owned(),
            last: stamp(&local),
            saved: saved.clone(),
            on_saved,
        }));
        let runner = job.clone();
        std::thread::Builder::new()
            .name("save-back".into())
            .spawn(move || SaveBack::run(&runner, rx))
            .map_err(|e| AppError::internal(format!("thread: {e}")))?;
        let mut files = self.files.lock().expect("open files lock");
        files.retain(|f| f.path != path);
        files.push(OpenFile {
            path: path.to_owned(),
            folder,
            saved,
            job,
            _watcher: watcher,
        });
        Ok(local)
    }

    /// Saves back any change not saved yet, stops watching `path` and
    /// removes its decrypted copy.
    pub fn close(&self, path: &str) {
        let mut files = self.files.lock().expect("open files lock");
        if let Some(i) = files.iter().position(|f| f.path == path) {
            let f = files.remove(i);
            drop(files);
            f.job.lock().expect("save-back lock").save_if_changed();
            remove_copy(&f.folder);
        }
    }

    /// Saves back changes not saved yet, then removes every decrypted copy
    /// (lock, quit). Changes still unsaved inside the other program are not
    /// seen: it must save before the vault locks.
    pub fn close_all(&self) {
        let files = std::mem::take(&mut *self.files.lock().expect("open files lock"));
        for f in &files {
            f.job.lock().expect("save-back lock").save_if_changed();
        }
        drop(files);
        remove_copy(&self.dir);
    }
}

impl Drop for OpenFiles {
    fn drop(&mut self) {
        self.close_all();
    }
}

/// Removes a decrypted copy; its bytes are overwritten first where the file
/// system keeps them (not on tmpfs, where removal frees the pages).
fn remove_copy(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.filter_map(Result::ok) {
            let p = e.path();
            if p.is_dir() {
                remove_copy(&p);
            } else if let Ok(meta) = std::fs::symlink_metadata(&p) {
                if meta.is_file() {
                    if let Ok(f) = std::fs::OpenOptions::new().write(true).open(&p) {
                        let _ = f.set_len(0);
                    }
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(dir);
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
    saved: Arc<Mutex<Option<i64>>>,
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
    fn save_if_changed(&mut self) {
        let now = stamp(&self.local);
        if now.is_none() || now == self.last {
            return; // deleted (an editor's save in progress) or unchanged
        }
        {
            let Some(vault) = self.vault.upgrade() else {
                return; // locked
            };
            let result = vault
                .lock()
                .expect("vault lock")
                .add_with(
                    std::slice::from_ref(&self.local),
                    &self.vault_parent,
                    &AddOptions::default(),
                    &NoProgress,
                )
                .map(|_| ())
                .map_err(AppError::from);
            drop(vault);
            if result.is_ok() {
                self.last = now;
                *self.saved.lock().expect("saved lock") =
                    Some(chartsafe_core::Clock::now_ms(&chartsafe_core::SystemClock));
            }
            (self.on_saved)(&self.vault_path, result);
        }
    }
}
