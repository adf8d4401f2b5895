//! Settings → "Watch a folder": the scanner folder in the app
//! (chartsafe_api::Intake, docs/FORMAT.md §16, docs/THREAT_MODEL.md §6.4).
//!
//! While the vault it belongs to is unlocked, a worker thread takes each
//! complete file from the folder the scanner or fax program writes to,
//! encrypts it into the chosen vault folder, reads it back, records it and
//! removes the original. A file it cannot take stays where it is, and the
//! window shows why. Taking files is not activity at the keyboard: it never
//! keeps the vault from locking, and locking stops it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use chartsafe_api::{Intake, Taken};
use chartsafe_core::{names, Vault};
use notify::Watcher;
use serde::{Deserialize, Serialize};
use tauri::{AppHandle, Emitter, Manager, State};

use crate::error::{AppError, Kind};
use crate::state::AppState;

/// The remembered scanner folder (settings.rs): which folder, for which
/// vault, into which vault folder.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ScanSetting {
    /// The vault folder whose unlocking starts the watch.
    pub vault: PathBuf,
    /// The folder the scanner writes to.
    pub dir: PathBuf,
    /// The vault folder the files go into ("" for the top).
    pub to: String,
}

/// How many notices the window can page back through.
const NOTICES: usize = 50;

/// One file the scanner folder gave up or that could not be taken.
#[derive(Debug, Clone, Serialize)]
pub struct Notice {
    /// When (ms since 1970).
    pub time: i64,
    /// The file's name in the watched folder.
    pub name: String,
    /// Where it is in the vault, if it was stored.
    pub path: Option<String>,
    /// Why it was left, if it was.
    pub why: Option<String>,
}

/// A running watch: its thread's stop flag and what it has done.
#[derive(Default)]
pub struct Scanner {
    running: AtomicBool,
    stop: AtomicBool,
    state: Mutex<ScanState>,
}

#[derive(Default, Clone, Serialize)]
pub struct ScanState {
    /// Files taken since the vault was unlocked.
    pub taken: u64,
    /// Files left since the vault was unlocked (each time it was tried).
    pub left: u64,
    /// The watched folder cannot be read now (a share gone, a removed
    /// disk); the watch goes on trying.
    pub problem: Option<String>,
    /// The latest files, newest last.
    pub notices: Vec<Notice>,
}

impl Scanner {
    /// Stops the watch and waits up to `limit` for its thread to let go of
    /// the vault (a file being taken is finished first).
    pub fn cancel(&self, limit: Duration) {
        self.stop.store(true, Ordering::SeqCst);
        let start = Instant::now();
        while self.running.load(Ordering::SeqCst) && start.elapsed() < limit {
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// What the watch has done so far.
    pub fn state(&self) -> ScanState {
        self.state.lock().expect("scan lock").clone()
    }

    /// Whether the thread still runs.
    pub fn running(&self) -> bool {
        self.running.load(Ordering::SeqCst)
    }
}

/// What the window hears after each round that took or left files.
#[derive(Clone, Serialize)]
struct Round {
    stored: Vec<Notice>,
    left: Vec<Notice>,
    to: String,
}

/// Checks that `setting` can be watched for the vault in `vault_dir`:
/// the folder can be read and is not the vault folder or inside it.
pub fn check(setting: &ScanSetting, vault_dir: &Path) -> Result<(), chartsafe_api::IntakeError> {
    Intake::new(&setting.dir, &setting.to, vault_dir, chartsafe_api::SETTLE).map(|_| ())
}

/// Starts watching `setting.dir` for `vault`. A folder that cannot be read
/// (a share not mounted yet, a removed disk) is tried again every few
/// seconds, and the window says why meanwhile.
pub fn start(
    app: &AppHandle,
    vault: Arc<Mutex<Vault>>,
    vault_dir: &Path,
    setting: &ScanSetting,
) -> Arc<Scanner> {
    let scanner = Arc::new(Scanner::default());
    scanner.running.store(true, Ordering::SeqCst);
    let me = scanner.clone();
    let app = app.clone();
    let setting = setting.clone();
    let vault_dir = vault_dir.to_owned();
    let spawned = std::thread::Builder::new()
        .name("scanner-folder".into())
        .spawn(move || {
            while !me.stop.load(Ordering::SeqCst) {
                match Intake::new(&setting.dir, &setting.to, &vault_dir, chartsafe_api::SETTLE) {
                    Ok(mut intake) => {
                        set_problem(&app, &me, None);
                        run(&app, &vault, &mut intake, &me, &setting.to);
                        break;
                    }
                    Err(e) => {
                        set_problem(&app, &me, Some(e.to_string()));
                        sleep_unless_stopped(&me, Duration::from_secs(3));
                    }
                }
            }
            me.running.store(false, Ordering::SeqCst);
        });
    if spawned.is_err() {
        scanner.running.store(false, Ordering::SeqCst);
    }
    scanner
}

fn sleep_unless_stopped(me: &Scanner, time: Duration) {
    let start = Instant::now();
    while start.elapsed() < time && !me.stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn run(app: &AppHandle, vault: &Mutex<Vault>, intake: &mut Intake, me: &Scanner, to: &str) {
    // Events wake the loop early; the listing every half second is what
    // counts (network shares send no events).
    let (tx, rx) = mpsc::channel();
    let mut watcher = notify::recommended_watcher(move |_| {
        let _ = tx.send(());
    })
    .ok();
    if let Some(w) = watcher.as_mut() {
        let _ = w.watch(intake.dir(), notify::RecursiveMode::NonRecursive);
    }
    while !me.stop.load(Ordering::SeqCst) {
        match intake.ready(Instant::now()) {
            Ok(ready) if !ready.is_empty() => {
                let results = {
                    let mut vault = vault.lock().unwrap_or_else(|p| p.into_inner());
                    if me.stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let results = intake.take_all(&mut vault, &ready);
                    let now = vault.now_ms();
                    (results, now)
                };
                report(app, me, results.0, results.1, to);
            }
            Ok(_) => set_problem(app, me, None),
            Err(e) => set_problem(app, me, Some(e.to_string())),
        }
        let _ = rx.recv_timeout(Duration::from_millis(500));
        while rx.try_recv().is_ok() {}
    }
}

fn set_problem(app: &AppHandle, me: &Scanner, problem: Option<String>) {
    let mut state = me.state.lock().expect("scan lock");
    if state.problem != problem {
        state.problem = problem;
        drop(state);
        let _ = app.emit("scan-changed", ());
    }
}

fn report(app: &AppHandle, me: &Scanner, results: Vec<Taken>, time: i64, to: &str) {
    let name = |file: &Path| {
        names::printable(
            &file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        )
    };
    let mut round = Round {
        stored: Vec::new(),
        left: Vec::new(),
        to: to.to_owned(),
    };
    for taken in results {
        match taken {
            Taken::Stored { file, path } => round.stored.push(Notice {
                time,
                name: name(&file),
                path: Some(path),
                why: None,
            }),
            Taken::Left { file, why } => round.left.push(Notice {
                time,
                name: name(&file),
                path: None,
                why: Some(names::printable(&why)),
            }),
        }
    }
    {
        let mut state = me.state.lock().expect("scan lock");
        state.problem = None;
        state.taken += round.stored.len() as u64;
        state.left += round.left.len() as u64;
        state.notices.extend(round.stored.iter().cloned());
        state.notices.extend(round.left.iter().cloned());
        let extra = state.notices.len().saturating_sub(NOTICES);
        state.notices.drain(..extra);
    }
    tracing::info!(
        stored = round.stored.len(),
        left = round.left.len(),
        "scanner folder"
    );
    let _ = app.emit("scan-taken", round);
    let _ = app.emit("vault-changed", ());
}

/// The scanner folder as Settings shows it.
#[derive(Serialize)]
pub struct ScanOut {
    /// The folder watched for this vault, if any.
    dir: Option<String>,
    /// The vault folder its files go into.
    to: String,
    /// Whether the watch runs now.
    running: bool,
    /// What it has done since the vault was unlocked.
    #[serde(flatten)]
    state: ScanState,
}

/// The scanner folder of the unlocked vault and what it has done.
#[tauri::command]
pub fn scan_status(state: State<'_, AppState>) -> Result<ScanOut, AppError> {
    let session = state.session()?;
    let setting = state
        .settings
        .lock()
        .expect("settings lock")
        .scanner
        .clone()
        .filter(|s| s.vault == session.dir);
    let scanner = session.scanner.lock().expect("scanner lock").clone();
    Ok(ScanOut {
        dir: setting.as_ref().map(|s| s.dir.display().to_string()),
        to: setting.map(|s| s.to).unwrap_or_else(|| "Scans".to_owned()),
        running: scanner.as_ref().is_some_and(|s| s.running()),
        state: scanner.map(|s| s.state()).unwrap_or_default(),
    })
}

/// Watches `dir` (or nothing, when `dir` is empty) for the unlocked vault,
/// its files going into the vault folder `to`; remembered for the next
/// unlock. The setting is checked first: the folder must be readable and
/// outside the vault folder, the name a valid vault path.
#[tauri::command]
pub async fn set_scan_folder(
    state: State<'_, AppState>,
    dir: String,
    to: String,
) -> Result<(), AppError> {
    let session = state.session()?;
    let to = to.trim().trim_matches('/').to_owned();
    let setting = if dir.trim().is_empty() {
        None
    } else {
        if !to.is_empty() {
            names::split_path(&to).map_err(|e| {
                AppError::new(
                    Kind::InvalidName,
                    format!(
                        "“{}” cannot be a folder in the vault: {e}.",
                        names::printable(&to)
                    ),
                    e,
                )
            })?;
        }
        let setting = ScanSetting {
            vault: session.dir.clone(),
            dir: PathBuf::from(dir.trim()),
            to,
        };
        check(&setting, &session.dir)?;
        Some(setting)
    };
    {
        let mut settings = state.settings.lock().expect("settings lock");
        settings.scanner = setting.clone();
        settings
            .save(&state.settings_file)
            .map_err(|e| AppError::internal(format!("settings: {e}")))?;
    }
    let app = state.app().clone();
    tauri::async_runtime::spawn_blocking(move || {
        let state = app.state::<AppState>();
        state.watch_scanner(&session, setting.as_ref());
    })
    .await?;
    Ok(())
}
