//! The app's state, managed by Tauri: the unlocked vault (if any), its open
//! files and folder watcher, settings, and the idle timer.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use chartsafe_core::{Clock, Options, RecoveryPhrase, SystemClock, Vault};
use notify::Watcher;
use tauri::{AppHandle, Emitter, Manager};

use crate::error::AppError;
use crate::settings::Settings;
use chartsafe_api::{OpenFiles, PhraseCheck};

/// An unlocked vault and what hangs off it. Dropping it removes the decrypted
/// copies and, once running operations finish, the keys.
pub struct Session {
    /// The vault; operations run on worker threads, one at a time.
    pub vault: Arc<Mutex<Vault>>,
    /// The vault folder.
    pub dir: PathBuf,
    /// Files open in other programs.
    pub open: OpenFiles,
    /// The new vault's recovery phrase until the person confirms it.
    pub phrase: Mutex<Option<(RecoveryPhrase, PhraseCheck)>>,
    /// The activity log and health report last shown.
    pub shown: crate::audit::Shown,
    /// Where a lock is recorded when the vault cannot be had in time.
    pending: chartsafe_core::PendingEvents,
    watcher: Mutex<Option<notify::RecommendedWatcher>>,
    /// The background re-encryption to the current key (team.rs).
    pub rekey: Arc<crate::team::Rekey>,
    /// The scanner folder being watched, if any (scanner.rs).
    pub scanner: Mutex<Option<Arc<crate::scanner::Scanner>>>,
}

impl Session {
    /// Whether changes to the vault folder are reported by the system. Not
    /// on network and FUSE file systems (SMB, NFS, sshfs, some cloud
    /// drives): they accept a watch but miss other computers' changes.
    pub fn is_watched(&self) -> bool {
        self.watcher.lock().expect("watcher lock").is_some() && local_fs(&self.dir)
    }

    /// Runs `work` (a big import) without watching the vault folder: every
    /// write would be an event to process, and the machine's cores are
    /// better spent encrypting. Watching resumes afterwards, and the window
    /// refreshes once (catching anything another device synced meanwhile).
    pub fn unwatched<T>(&self, app: &AppHandle, work: impl FnOnce() -> T) -> T {
        if let Some(w) = self.watcher.lock().expect("watcher lock").as_mut() {
            let _ = w.unwatch(&self.dir);
        }
        let result = work();
        if let Some(w) = self.watcher.lock().expect("watcher lock").as_mut() {
            let _ = w.watch(&self.dir, notify::RecursiveMode::Recursive);
        }
        let _ = app.emit("vault-changed", ());
        result
    }
}

/// Everything the commands share.
pub struct AppState {
    /// The unlocked vault, if any.
    pub session: Mutex<Option<Arc<Session>>>,
    /// Remembered settings.
    pub settings: Mutex<Settings>,
    /// Where the settings live.
    pub settings_file: PathBuf,
    /// This device's local state (shared with the `chartsafe` command).
    pub state_dir: PathBuf,
    /// Where decrypted copies go (chartsafe_api::OpenFiles).
    pub open_root: PathBuf,
    /// Set to stop a running import.
    pub cancel: Arc<AtomicBool>,
    /// The last sign of the person at the keyboard.
    pub last_activity: Mutex<Instant>,
    app: AppHandle,
}

/// The same local state folder as the `chartsafe` command, so the app and
/// the command are one device.
pub fn data_dir() -> PathBuf {
    chartsafe_api::default_state_dir()
}

impl AppState {
    /// Reads the settings and works out the app's folders.
    pub fn new(app: &AppHandle) -> Result<Self, Box<dyn std::error::Error>> {
        let config = app.path().app_config_dir()?;
        let cache = app.path().app_cache_dir()?;
        let settings_file = config.join("app.json");
        Ok(Self {
            session: Mutex::new(None),
            settings: Mutex::new(Settings::load(&settings_file)),
            settings_file,
            state_dir: data_dir(),
            open_root: chartsafe_api::private_root(&cache),
            cancel: Arc::new(AtomicBool::new(false)),
            last_activity: Mutex::new(Instant::now()),
            app: app.clone(),
        })
    }

    /// Options for opening a vault on this device: the same setup as the
    /// `chartsafe` command's (chartsafe_api::Setup).
    pub fn options(&self) -> Options {
        let mut setup = chartsafe_api::Setup::for_this_computer(format!(
            "ChartSafe app {}",
            env!("CARGO_PKG_VERSION")
        ));
        setup.state_dir = self.state_dir.clone();
        setup.options()
    }

    /// The unlocked session, or the "locked" error.
    pub fn session(&self) -> Result<Arc<Session>, AppError> {
        self.session
            .lock()
            .expect("session lock")
            .clone()
            .ok_or_else(AppError::locked)
    }

    /// Starts a session for an unlocked vault.
    pub fn begin(&self, vault: Vault, phrase: Option<(RecoveryPhrase, PhraseCheck)>) {
        let dir = vault.dir().to_owned();
        let pending = vault.pending_events();
        let watcher = watch_folder(&self.app, &dir);
        let session = Session {
            vault: Arc::new(Mutex::new(vault)),
            open: OpenFiles::new(&self.open_root),
            dir: dir.clone(),
            phrase: Mutex::new(phrase),
            shown: Default::default(),
            pending,
            watcher: Mutex::new(watcher),
            rekey: Default::default(),
            scanner: Mutex::new(None),
        };
        let session = Arc::new(session);
        *self.session.lock().expect("session lock") = Some(session.clone());
        // Files still under a replaced key are re-encrypted in the
        // background (FORMAT.md §13.3).
        crate::team::start_rekey(&self.app, &session);
        tracing::info!("unlocked");
        self.touch();
        let mut settings = self.settings.lock().expect("settings lock");
        if let Some(scan) = settings.scanner.as_ref().filter(|s| s.vault == dir) {
            self.watch_scanner(&session, Some(scan));
        }
        if settings.last_vault.as_deref() != Some(&dir) {
            settings.last_vault = Some(dir);
            let _ = settings.save(&self.settings_file);
        }
    }

    /// Stops watching the scanner folder, then starts watching `scan` if
    /// given (scanner.rs). A file being taken is finished first.
    pub fn watch_scanner(&self, session: &Session, scan: Option<&crate::scanner::ScanSetting>) {
        let mut slot = session.scanner.lock().expect("scanner lock");
        if let Some(old) = slot.take() {
            old.cancel(Duration::from_secs(30));
        }
        *slot = scan.map(|scan| {
            crate::scanner::start(&self.app, session.vault.clone(), &session.dir, scan)
        });
    }

    /// The app, for commands that start work on other threads.
    pub fn app(&self) -> &AppHandle {
        &self.app
    }

    /// Notes activity (input in the window, a running import).
    pub fn touch(&self) {
        *self.last_activity.lock().expect("activity lock") = Instant::now();
    }

    /// Locks: stops any import, saves back and removes decrypted copies,
    /// forgets the keys. Returns `None` if nothing was unlocked, else how
    /// many open files had changes that could not be saved back.
    /// `reason` (manual, idle, sleep, screen lock, quit) goes into the audit
    /// log; if the vault cannot be had within a few seconds (an operation
    /// that does not stop), the event waits on this computer for the next
    /// batch, and the lock happens anyway.
    pub fn lock_now(&self, reason: &str) -> Option<usize> {
        self.cancel.store(true, Ordering::SeqCst);
        let session = self.session.lock().expect("session lock").take()?;
        // The re-encryption stops inside the file it is on, and lets go of
        // the vault and its copy of the keys.
        session.rekey.cancel(Duration::from_secs(10));
        self.watch_scanner(&session, None);
        let unsaved = session.open.close_all();
        // The keys go when the last running operation lets go of the vault:
        // wait a little for it (a cancelled import, a listing), so that
        // "locked" means the keys are gone and the vault is free for others.
        let start = Instant::now();
        while Arc::strong_count(&session) > 1 && start.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let start = Instant::now();
        loop {
            match session.vault.try_lock() {
                Ok(mut vault) => break vault.record_lock(reason),
                // A panic elsewhere does not stop the lock being recorded.
                Err(std::sync::TryLockError::Poisoned(p)) => {
                    break p.into_inner().record_lock(reason)
                }
                Err(std::sync::TryLockError::WouldBlock)
                    if start.elapsed() < Duration::from_secs(3) =>
                {
                    std::thread::sleep(Duration::from_millis(20));
                }
                // Still busy: the event waits on this computer and goes into
                // the next batch (FORMAT.md §10.4).
                Err(std::sync::TryLockError::WouldBlock) => {
                    break session.pending.push_lock(SystemClock.now_ms(), reason)
                }
            }
        }
        drop(session);
        tracing::info!(reason, unsaved, "locked");
        Some(unsaved)
    }

    /// Locks and tells the window why (and whether changes were lost), so
    /// it clears itself.
    pub fn lock_and_tell(&self, reason: &str) {
        if let Some(unsaved) = self.lock_now(reason) {
            let _ = self.app.emit(
                "locked",
                serde_json::json!({ "reason": reason, "unsaved": unsaved }),
            );
        }
    }

    /// How long the person may be away before the vault locks.
    pub fn idle_limit(&self) -> Duration {
        // Tests only (`test-knobs`): automatic logoff is a safeguard, and
        // no environment variable may stretch it in the binaries people run.
        #[cfg(feature = "test-knobs")]
        if let Some(s) = std::env::var("CHARTSAFE_IDLE_LOCK_SECONDS")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
        {
            return Duration::from_secs(s.max(1));
        }
        let minutes = self.settings.lock().expect("settings lock").idle_minutes;
        Duration::from_secs(u64::from(minutes) * 60)
    }
}

#[cfg(target_os = "linux")]
fn local_fs(dir: &std::path::Path) -> bool {
    // Magic numbers from statfs(2).
    const REMOTE: &[u64] = &[
        0x6969,      // NFS
        0x517B,      // SMB
        0xFF53_4D42, // CIFS
        0xFE53_4D42, // SMB2
        0x6573_5546, // FUSE
        0x0102_1997, // 9P
    ];
    match rustix::fs::statfs(dir) {
        Ok(s) => !REMOTE.contains(&(s.f_type as u64)),
        Err(_) => false,
    }
}

#[cfg(not(target_os = "linux"))]
fn local_fs(_: &std::path::Path) -> bool {
    // Unknown here: refresh on a timer as well.
    false
}

/// Locks the vault after the idle time (HIPAA automatic logoff, 164.312(a)(2)(iii)).
pub fn start_idle_timer(app: AppHandle) {
    std::thread::Builder::new()
        .name("idle-lock".into())
        .spawn(move || loop {
            std::thread::sleep(Duration::from_millis(500));
            let state = app.state::<AppState>();
            // A new vault's recovery phrase may take a while to write down:
            // the vault (still empty) does not lock under it.
            let unlocked = state
                .session
                .lock()
                .expect("session lock")
                .as_ref()
                .is_some_and(|s| s.phrase.lock().expect("phrase lock").is_none());
            let idle = state.last_activity.lock().expect("activity lock").elapsed();
            if unlocked && idle >= state.idle_limit() {
                state.lock_and_tell("idle");
            }
        })
        .expect("idle timer thread");
}

/// Watches the vault folder: changes synced in from other devices refresh
/// the window within a second or two. Returns `None` where the folder cannot
/// be watched (some network shares); the window then refreshes on a timer.
fn watch_folder(app: &AppHandle, dir: &std::path::Path) -> Option<notify::RecommendedWatcher> {
    let (tx, rx) = mpsc::channel::<notify::Result<notify::Event>>();
    let mut watcher = notify::recommended_watcher(tx).ok()?;
    watcher.watch(dir, notify::RecursiveMode::Recursive).ok()?;
    let app = app.clone();
    std::thread::Builder::new()
        .name("vault-watch".into())
        .spawn(move || {
            while rx.recv().is_ok() {
                // Wait for a quiet spell (a sync client writes many files),
                // but no longer than two seconds.
                let start = Instant::now();
                while start.elapsed() < Duration::from_secs(2) {
                    match rx.recv_timeout(Duration::from_millis(400)) {
                        Ok(_) => continue,
                        Err(mpsc::RecvTimeoutError::Timeout) => break,
                        Err(mpsc::RecvTimeoutError::Disconnected) => return,
                    }
                }
                let _ = app.emit("vault-changed", ());
            }
        })
        .ok()?;
    Some(watcher)
}

#[cfg(test)]
mod tests {
    #[cfg(target_os = "linux")]
    #[test]
    fn a_local_folder_counts_as_watched_and_a_missing_one_does_not() {
        let dir = tempfile::tempdir().unwrap();
        assert!(super::local_fs(dir.path()));
        assert!(!super::local_fs(&dir.path().join("missing")));
    }
}
