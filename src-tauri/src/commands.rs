//! The commands the UI calls. Each is a few lines: take the arguments, run
//! the core on a worker thread, map the result.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chartsafe_core::{
    Access, AddOptions, EntryInfo, Kind as EntryKind, OnExisting, Progress, RecoverAs,
    RecoveryPhrase, SyncState, Vault,
};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use tauri::ipc::{Channel, Response};
use tauri::{AppHandle, Emitter, Manager, State};

use crate::error::{AppError, Kind};
use crate::state::AppState;
use chartsafe_keychain::Keychain;

type Result<T> = std::result::Result<T, AppError>;

/// Runs blocking work (the core) off the UI thread.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tauri::async_runtime::spawn_blocking(f).await?
}

fn secret(s: String) -> SecretString {
    SecretString::from(s)
}

/// What the window should show first.
#[derive(Serialize)]
pub struct Status {
    /// "unlocked", "locked" (a vault is known) or "first_run".
    state: &'static str,
    /// The vault folder, when known.
    vault: Option<String>,
    /// Idle minutes before locking.
    idle_minutes: u32,
}

#[tauri::command]
pub fn app_status(state: State<'_, AppState>) -> Status {
    let settings = state.settings.lock().expect("settings lock").clone();
    let session = state.session.lock().expect("session lock").clone();
    let (s, vault) = match (&session, &settings.last_vault) {
        (Some(s), _) => ("unlocked", Some(s.dir.clone())),
        (None, Some(v)) => ("locked", Some(v.clone())),
        (None, None) => ("first_run", None),
    };
    Status {
        state: s,
        vault: vault.map(|v| v.display().to_string()),
        idle_minutes: settings.idle_minutes,
    }
}

#[tauri::command]
pub fn suggest_locations() -> Vec<crate::places::Place> {
    dirs::home_dir()
        .map(|h| crate::places::suggest(&h))
        .unwrap_or_default()
}

/// A native folder dialog. Synchronous on purpose: Tauri runs synchronous
/// commands on the main thread, where GTK dialogs must run.
#[tauri::command]
pub fn choose_folder(title: String) -> Option<String> {
    rfd::FileDialog::new()
        .set_title(title)
        .pick_folder()
        .map(|p| p.display().to_string())
}

/// A native dialog to pick files to add.
#[tauri::command]
pub fn choose_files() -> Vec<String> {
    rfd::FileDialog::new()
        .set_title("Add files to the vault")
        .pick_files()
        .unwrap_or_default()
        .into_iter()
        .map(|p| p.display().to_string())
        .collect()
}

/// What a folder chosen by the person is.
#[derive(Serialize)]
pub struct FolderInfo {
    /// "vault", "empty" (or missing: a vault can be created there), "other".
    kind: &'static str,
    /// For a vault: whether this computer is set up for it.
    enrolled: bool,
}

#[tauri::command]
pub fn inspect_folder(state: State<'_, AppState>, path: String) -> FolderInfo {
    let dir = PathBuf::from(&path);
    if let Ok(info) = chartsafe_core::public_info(&dir) {
        let device = state.state_dir.join(&info.id).join("device.json");
        return FolderInfo {
            kind: "vault",
            enrolled: device.exists(),
        };
    }
    let empty = match std::fs::read_dir(&dir) {
        Ok(mut e) => e.next().is_none(),
        Err(_) => !dir.exists(),
    };
    FolderInfo {
        kind: if empty { "empty" } else { "other" },
        enrolled: false,
    }
}

/// The new vault's recovery phrase, and which three words to ask back.
#[derive(Serialize)]
pub struct NewVault {
    words: Vec<String>,
    ask: [usize; 3],
}

#[tauri::command]
pub async fn create_vault(app: AppHandle, path: String, passphrase: String) -> Result<NewVault> {
    let passphrase = secret(passphrase);
    blocking(move || {
        let state = app.state::<AppState>();
        state.lock_now("switched vault");
        let new = chartsafe_api::create(
            Path::new(&path),
            &Keychain::from_env(),
            &passphrase,
            state.options(),
        )?;
        let words: Vec<String> = new
            .phrase
            .words()
            .expose_secret()
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        let ask = new.check.positions();
        state.begin(new.vault, Some((new.phrase, new.check)));
        Ok(NewVault { words, ask })
    })
    .await
}

/// Checks the three words asked back; on success the phrase is forgotten.
#[tauri::command]
pub fn confirm_phrase(state: State<'_, AppState>, answers: Vec<String>) -> Result<()> {
    let session = state.session()?;
    let mut pending = session.phrase.lock().expect("phrase lock");
    let Some((phrase, check)) = pending.as_ref() else {
        return Ok(());
    };
    let right = check.matches(phrase, &answers);
    if !right {
        return Err(AppError::new(
            Kind::WrongPhrase,
            "Those words do not match the recovery phrase. Look at the sheet again.",
            "confirmation words differ",
        ));
    }
    *pending = None;
    Ok(())
}

#[tauri::command]
pub async fn unlock(app: AppHandle, path: String, passphrase: String) -> Result<()> {
    let passphrase = secret(passphrase);
    blocking(move || {
        let state = app.state::<AppState>();
        state.lock_now("switched vault");
        let vault = Vault::unlock(
            Path::new(&path),
            &Keychain::from_env(),
            &passphrase,
            state.options(),
        )?;
        state.begin(vault, None);
        Ok(())
    })
    .await
}

/// What a recovery found.
#[derive(Serialize)]
pub struct Recovered {
    /// Keyslots that open with the phrase but that the team log does not
    /// vouch for: planted in the vault folder, and ignored (FORMAT.md §4.2).
    planted: usize,
}

#[tauri::command]
pub async fn recover(
    app: AppHandle,
    path: String,
    words: String,
    passphrase: String,
) -> Result<Recovered> {
    let passphrase = secret(passphrase);
    let words = secret(words);
    blocking(move || {
        let state = app.state::<AppState>();
        let phrase = RecoveryPhrase::parse(words.expose_secret())?;
        state.lock_now("switched vault");
        let recovered = chartsafe_api::recover(
            Path::new(&path),
            &phrase,
            RecoverAs::Founder,
            &Keychain::from_env(),
            &passphrase,
            state.options(),
        )?;
        let planted = recovered.planted.len();
        if planted > 0 {
            tracing::warn!(planted, "planted keyslots ignored at recovery");
        }
        state.begin(recovered.vault, None);
        Ok(Recovered { planted })
    })
    .await
}

/// Forgets the remembered vault folder (to open or create another).
#[tauri::command]
pub async fn forget_vault(app: AppHandle) -> Result<()> {
    blocking(move || {
        let state = app.state::<AppState>();
        state.lock_now("switched vault");
        let mut settings = state.settings.lock().expect("settings lock");
        settings.last_vault = None;
        settings
            .save(&state.settings_file)
            .map_err(|e| AppError::internal(format!("settings: {e}")))
    })
    .await
}

/// Locks now. Off the main thread: saving back open files can take a moment.
#[tauri::command]
pub async fn lock(app: AppHandle) -> Result<()> {
    blocking(move || {
        app.state::<AppState>().lock_and_tell("manual");
        Ok(())
    })
    .await
}

/// The person is at the keyboard (the UI calls this at most every few seconds).
#[tauri::command]
pub fn activity(state: State<'_, AppState>) {
    state.touch();
}

#[tauri::command]
pub fn set_idle_minutes(state: State<'_, AppState>, minutes: u32) -> Result<()> {
    let mut settings = state.settings.lock().expect("settings lock");
    settings.idle_minutes = minutes.clamp(1, 240);
    settings
        .save(&state.settings_file)
        .map_err(|e| AppError::internal(format!("settings: {e}")))
}

/// One entry as the UI shows it.
#[derive(Serialize)]
pub struct Entry {
    path: String,
    folder: bool,
    size: u64,
    /// When the content last changed (ms): the file's own time, else when it was stored.
    modified: i64,
    /// The member who wrote the current version, by the team log's name
    /// (the computer's claimed name where the team log does not say).
    modified_by: String,
    /// The computer it was written on.
    modified_on: String,
    /// "available", "waiting" (for sync) or "missing".
    sync: &'static str,
    conflict: bool,
    /// The entry id (stable across renames): "Who opened this?" filters the
    /// activity log by it.
    id: chartsafe_core::EntryId,
}

/// Who wrote something, as the team log names them: (the member, the
/// computer). Where the team log does not know the computer, the name its
/// record claims stands for both.
fn writer(people: &chartsafe_api::People, device: &str, claimed: String) -> (String, String) {
    let on = people.devices().get(device).cloned().unwrap_or(claimed);
    let by = people
        .owner_of(device)
        .map_or_else(|| on.clone(), str::to_owned);
    (by, on)
}

impl Entry {
    /// The entry, its writer named as the team log names them.
    fn new(e: EntryInfo, people: &chartsafe_api::People) -> Self {
        let (by, on) = writer(people, &e.changed_by_device, e.changed_by);
        Entry {
            folder: e.kind == EntryKind::Dir,
            size: e.size,
            modified: e.modified.unwrap_or(e.changed),
            modified_by: by,
            modified_on: on,
            sync: match e.sync {
                SyncState::Available => "available",
                SyncState::WaitingForSync => "waiting",
                SyncState::Missing => "missing",
            },
            conflict: e.conflict,
            path: e.path,
            id: e.id,
        }
    }
}

/// One file open in another program.
#[derive(Serialize)]
pub struct OpenInfo {
    /// Its path in the vault.
    path: String,
}

/// The whole vault.
#[derive(Serialize)]
pub struct ListingOut {
    entries: Vec<Entry>,
    problems: Vec<String>,
    open: Vec<OpenInfo>,
    /// Whether changes in the vault folder are noticed by themselves (else
    /// the window refreshes on a timer).
    watched: bool,
}

#[tauri::command]
pub async fn list(state: State<'_, AppState>) -> Result<ListingOut> {
    let session = state.session()?;
    blocking(move || {
        let (listing, people) = {
            let mut vault = session.vault.lock().expect("vault lock");
            (vault.list()?, chartsafe_api::People::of(&vault))
        };
        Ok(ListingOut {
            entries: listing
                .entries
                .into_iter()
                .map(|e| Entry::new(e, &people))
                .collect(),
            problems: listing.problems.iter().map(ToString::to_string).collect(),
            open: session
                .open
                .list()
                .into_iter()
                .map(|path| OpenInfo { path })
                .collect(),
            watched: session.is_watched(),
        })
    })
    .await
}

/// Import progress, sent at most four times a second and once at the end
/// (each update repaints the window, which costs CPU the encryption needs).
#[derive(Clone, Serialize)]
pub struct ImportProgress {
    files: u64,
    bytes: u64,
    files_done: u64,
    bytes_done: u64,
    /// The file being encrypted (its name only), its size and bytes done.
    current: Option<String>,
    current_size: u64,
    current_done: u64,
    elapsed_ms: u64,
    finished: bool,
}

struct Reporter {
    channel: Channel<ImportProgress>,
    app: AppHandle,
    /// Checked for every chunk read: the flag itself, not a state lookup.
    cancel: Arc<AtomicBool>,
    files: AtomicU64,
    bytes: AtomicU64,
    files_done: AtomicU64,
    bytes_done: AtomicU64,
    current: Mutex<Option<(PathBuf, u64, u64)>>,
    started: Instant,
    last_sent: Mutex<Instant>,
}

impl Reporter {
    fn send(&self, force: bool) {
        {
            let mut last = self.last_sent.lock().expect("progress lock");
            if !force && last.elapsed() < Duration::from_millis(250) {
                return;
            }
            *last = Instant::now();
        }
        // An import is activity: the vault does not lock under it.
        self.app.state::<AppState>().touch();
        let current = self.current.lock().expect("progress lock").clone();
        let _ = self.channel.send(ImportProgress {
            files: self.files.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            files_done: self.files_done.load(Ordering::Relaxed),
            bytes_done: self.bytes_done.load(Ordering::Relaxed),
            current: current
                .as_ref()
                .and_then(|(p, ..)| p.file_name().map(|n| n.to_string_lossy().into_owned())),
            current_size: current.as_ref().map_or(0, |c| c.1),
            current_done: current.as_ref().map_or(0, |c| c.2),
            elapsed_ms: self.started.elapsed().as_millis() as u64,
            finished: force,
        });
    }
}

impl Progress for Reporter {
    fn begin(&self, files: u64, bytes: u64) {
        self.files.store(files, Ordering::Relaxed);
        self.bytes.store(bytes, Ordering::Relaxed);
        self.send(false);
    }
    fn advance(&self, bytes: u64) {
        self.bytes_done.fetch_add(bytes, Ordering::Relaxed);
        self.send(false);
    }
    fn file_started(&self, source: &Path, size: u64) {
        *self.current.lock().expect("progress lock") = Some((source.to_owned(), size, 0));
    }
    fn file_progress(&self, source: &Path, done: u64) {
        if let Some(c) = self.current.lock().expect("progress lock").as_mut() {
            if c.0 == source {
                c.2 = done;
            }
        }
    }
    fn file_done(&self, _: &Path) {
        self.files_done.fetch_add(1, Ordering::Relaxed);
        self.send(false);
    }
    fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
}

/// A file that was not added.
#[derive(Serialize)]
pub struct Failed {
    file: String,
    message: String,
    details: String,
}

/// What an import did.
#[derive(Serialize)]
pub struct ImportSummary {
    added: usize,
    replaced: usize,
    unchanged: usize,
    folders: usize,
    bytes: u64,
    failed: Vec<Failed>,
    cancelled: bool,
    elapsed_ms: u64,
}

/// Adds dropped or chosen files and folders into the vault folder `dest`.
#[tauri::command]
pub async fn import_paths(
    app: AppHandle,
    paths: Vec<String>,
    dest: String,
    keep_both: bool,
    on_progress: Channel<ImportProgress>,
) -> Result<ImportSummary> {
    let state = app.state::<AppState>();
    let session = state.session()?;
    state.cancel.store(false, Ordering::SeqCst);
    let reporter = Reporter {
        channel: on_progress,
        app: app.clone(),
        cancel: state.cancel.clone(),
        files: AtomicU64::new(0),
        bytes: AtomicU64::new(0),
        files_done: AtomicU64::new(0),
        bytes_done: AtomicU64::new(0),
        current: Mutex::new(None),
        started: Instant::now(),
        last_sent: Mutex::new(Instant::now() - Duration::from_secs(1)),
    };
    let options = AddOptions {
        on_existing: if keep_both {
            OnExisting::KeepBoth
        } else {
            OnExisting::NewVersion
        },
        keep_going: true,
        saved_back: false,
    };
    blocking(move || {
        let sources: Vec<PathBuf> = paths.into_iter().map(PathBuf::from).collect();
        let result = session.unwatched(&reporter.app, || {
            session
                .vault
                .lock()
                .expect("vault lock")
                .add_with(&sources, &dest, &options, &reporter)
        });
        reporter.send(true);
        let report = result?;
        tracing::info!(
            added = report.added,
            replaced = report.replaced,
            unchanged = report.unchanged,
            failed = report.failed.len(),
            bytes = report.bytes,
            cancelled = report.cancelled,
            "import finished"
        );
        Ok(ImportSummary {
            added: report.added,
            replaced: report.replaced,
            unchanged: report.unchanged,
            folders: report.folders,
            bytes: report.bytes,
            failed: report
                .failed
                .into_iter()
                .map(|f| {
                    let e = AppError::from(f.error);
                    Failed {
                        file: f.source.display().to_string(),
                        message: e.message,
                        details: e.details,
                    }
                })
                .collect(),
            cancelled: report.cancelled,
            elapsed_ms: reporter.started.elapsed().as_millis() as u64,
        })
    })
    .await
}

#[tauri::command]
pub fn cancel_import(state: State<'_, AppState>) {
    state.cancel.store(true, Ordering::SeqCst);
}

/// The program that opens files: the system's default, or, in test builds
/// only (`test-knobs`), the one named by `CHARTSAFE_OPENER` (a stand-in
/// that edits the file). Release binaries never run a program an
/// environment variable names on a decrypted file.
fn open_with_default_app(file: &Path) -> std::io::Result<()> {
    #[cfg(feature = "test-knobs")]
    if let Some(opener) = std::env::var_os("CHARTSAFE_OPENER").filter(|o| !o.is_empty()) {
        let mut child = std::process::Command::new(opener)
            .arg(file)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()?;
        std::thread::spawn(move || child.wait());
        return Ok(());
    }
    // The system's own way, never a shell: ShellExecuteW on Windows,
    // `open` on macOS, xdg-open (or gio, the portal) elsewhere.
    tauri_plugin_opener::open_path(file, None::<&str>).map_err(std::io::Error::other)
}

/// Decrypts a file into the private folder and opens it with the default
/// program; saving there stores a new version.
#[tauri::command]
pub async fn open_file(app: AppHandle, path: String) -> Result<()> {
    let session = app.state::<AppState>().session()?;
    blocking(move || {
        let notify = app.clone();
        let hook: chartsafe_api::SavedHook = Arc::new(move |path, result| {
            let _ = match result {
                Ok(()) => notify.emit("file-saved", path),
                Err(e) => notify.emit("file-save-failed", (path, AppError::from(e))),
            };
        });
        let local = session.open.open(&session.vault, &path, hook)?;
        open_with_default_app(&local).map_err(|e| {
            AppError::new(
                Kind::Internal,
                "No program to open this kind of file was found. Ask IT to install one, or export the file instead.",
                e,
            )
        })
    })
    .await
}

#[tauri::command]
pub async fn close_open_file(state: State<'_, AppState>, path: String) -> Result<()> {
    let session = state.session()?;
    blocking(move || {
        session.open.close(&path);
        Ok(())
    })
    .await
}

/// Largest file previewed inside the window.
const PREVIEW_MAX: u64 = 32 << 20;

/// A file's bytes for the preview pane, from memory: nothing touches the disk.
#[tauri::command]
pub async fn preview(state: State<'_, AppState>, path: String) -> Result<Response> {
    let session = state.session()?;
    blocking(move || {
        let mut vault = session.vault.lock().expect("vault lock");
        let size = vault
            .list()?
            .entries
            .iter()
            .find(|e| e.path == path)
            .map(|e| e.size)
            .ok_or_else(|| {
                AppError::from(chartsafe_core::PathError::NotFound { path: path.clone() })
            })?;
        if size > PREVIEW_MAX {
            return Err(AppError::new(
                Kind::TooBig,
                "This file is too big to preview. Open it instead.",
                format!("{size} bytes; previews stop at {PREVIEW_MAX}"),
            ));
        }
        let mut bytes = Vec::with_capacity(size as usize);
        vault.get_to_writer(&path, None, &mut bytes, Access::Previewed)?;
        Ok(Response::new(bytes))
    })
    .await
}

/// Says stop once the session that started the work is no longer the
/// unlocked one (the vault locked, or another was opened).
struct UntilLocked<'a> {
    app: &'a AppHandle,
    session: &'a Arc<crate::state::Session>,
}

impl Progress for UntilLocked<'_> {
    fn cancelled(&self) -> bool {
        !self
            .app
            .state::<AppState>()
            .session
            .lock()
            .expect("session lock")
            .as_ref()
            .is_some_and(|s| Arc::ptr_eq(s, self.session))
    }
}

/// Decrypts files and folders into a folder on this computer; existing
/// files there are never overwritten (chartsafe_api::export).
#[tauri::command]
pub async fn export(app: AppHandle, paths: Vec<String>, dest: String) -> Result<usize> {
    let session = app.state::<AppState>().session()?;
    blocking(move || {
        let mut vault = session.vault.lock().expect("vault lock");
        let stop = UntilLocked {
            app: &app,
            session: &session,
        };
        chartsafe_api::export(&mut vault, &paths, Path::new(&dest), &stop).map_err(|e| match e {
            chartsafe_api::ExportError::Cancelled => AppError::locked(),
            other => AppError::of(&other),
        })
    })
    .await
}

/// A file shared outside the clinic (docs/FORMAT.md §15).
#[derive(Serialize)]
pub struct Shared {
    /// Where the share went.
    file: String,
    /// The generated passphrase, shown once; `None` for a share to an age key.
    passphrase: Option<String>,
    /// What to send with the file.
    how_to_open: String,
}

/// Writes one age file of `path` at `dest` for someone outside the vault:
/// to the age key `recipient`, else to a new passphrase returned once.
#[tauri::command]
pub async fn share_file(
    app: AppHandle,
    path: String,
    recipient: Option<String>,
    note: String,
    dest: String,
) -> Result<Shared> {
    let session = app.state::<AppState>().session()?;
    blocking(move || {
        let key = match recipient.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
            Some(r) => chartsafe_core::ShareKey::recipient(r).ok_or_else(|| {
                AppError::new(
                    Kind::InvalidName,
                    "That is not an age public key. It starts with age1; ask the person for it again.",
                    "the recipient does not parse as an age X25519 recipient",
                )
            })?,
            None => chartsafe_core::ShareKey::Passphrase(chartsafe_core::share_passphrase()),
        };
        if note.trim().is_empty() {
            return Err(AppError::new(
                Kind::InvalidName,
                "Say for whom the file is: it goes into the activity record.",
                "the note is empty",
            ));
        }
        let mut vault = session.vault.lock().expect("vault lock");
        let at = vault.share(&path, None, &key, &note, Path::new(&dest))?;
        let name = path.rsplit('/').next().unwrap_or(&path);
        tracing::info!("file shared");
        Ok(Shared {
            file: at.display().to_string(),
            how_to_open: chartsafe_api::how_to_open(&at, name, key.is_passphrase()),
            passphrase: match &key {
                chartsafe_core::ShareKey::Passphrase(p) => {
                    use secrecy::ExposeSecret;
                    Some(p.expose_secret().to_owned())
                }
                chartsafe_core::ShareKey::Recipient(_) => None,
            },
        })
    })
    .await
}

macro_rules! vault_op {
    ($state:expr, |$v:ident| $body:expr) => {{
        let session = $state.session()?;
        blocking(move || {
            let mut guard = session.vault.lock().expect("vault lock");
            let $v: &mut Vault = &mut guard;
            Ok($body?)
        })
        .await
    }};
}

/// Open copies of what is renamed, moved or trashed are saved back and
/// closed first, so no later save goes to the old name.
fn close_open(state: &AppState, path: &str) -> Result<()> {
    state.session()?.open.close_under(path, true);
    Ok(())
}

#[tauri::command]
pub async fn rename(state: State<'_, AppState>, from: String, to: String) -> Result<()> {
    close_open(&state, &from)?;
    vault_op!(state, |v| v.rename(&from, &to))
}

#[tauri::command]
pub async fn mkdir(state: State<'_, AppState>, path: String) -> Result<()> {
    vault_op!(state, |v| v.mkdir(&path))
}

/// Moves entries to the trash.
#[tauri::command]
pub async fn trash(state: State<'_, AppState>, paths: Vec<String>) -> Result<()> {
    for p in &paths {
        close_open(&state, p)?;
    }
    vault_op!(state, |v| paths.iter().try_for_each(|p| v.remove(p)))
}

/// One entry in the trash.
#[derive(Serialize)]
pub struct Trashed {
    id: chartsafe_core::EntryId,
    path: String,
    folder: bool,
    size: u64,
    trashed: i64,
    /// The member who moved it, and on which computer (team log names).
    trashed_by: String,
    trashed_on: String,
}

#[tauri::command]
pub async fn trash_list(state: State<'_, AppState>) -> Result<Vec<Trashed>> {
    vault_op!(state, |v| {
        let people = chartsafe_api::People::of(v);
        v.trash().map(|list| {
            list.into_iter()
                .map(|t| {
                    let (by, on) = writer(&people, &t.trashed_by_device, t.trashed_by);
                    Trashed {
                        id: t.id,
                        path: t.path,
                        folder: t.kind == EntryKind::Dir,
                        size: t.size,
                        trashed: t.trashed,
                        trashed_by: by,
                        trashed_on: on,
                    }
                })
                .collect::<Vec<_>>()
        })
    })
}

#[tauri::command]
pub async fn restore(state: State<'_, AppState>, id: String) -> Result<()> {
    vault_op!(state, |v| v.restore(&id))
}

/// One version of a file.
#[derive(Serialize)]
pub struct Version {
    number: usize,
    size: u64,
    changed: i64,
    /// The member who wrote it, and on which computer (team log names).
    changed_by: String,
    changed_on: String,
    name: String,
}

#[tauri::command]
pub async fn versions(state: State<'_, AppState>, path: String) -> Result<Vec<Version>> {
    vault_op!(state, |v| {
        let people = chartsafe_api::People::of(v);
        v.versions(&path).map(|list| {
            list.into_iter()
                .map(|x| {
                    let (by, on) = writer(&people, &x.changed_by_device, x.changed_by);
                    Version {
                        number: x.number,
                        size: x.size,
                        changed: x.changed,
                        changed_by: by,
                        changed_on: on,
                        name: x.name,
                    }
                })
                .collect::<Vec<_>>()
        })
    })
}

/// Restores version `version`, which must still be the one saved at
/// `changed` (the history may have grown since the window listed it).
#[tauri::command]
pub async fn revert(
    state: State<'_, AppState>,
    path: String,
    version: usize,
    changed: i64,
) -> Result<()> {
    vault_op!(state, |v| {
        let listed = v.versions(&path)?;
        if listed.get(version.wrapping_sub(1)).map(|x| x.changed) != Some(changed) {
            return Err(AppError::new(
                Kind::NotFound,
                "The version history changed meanwhile. Open it again and choose once more.",
                format!("version {version} is no longer the one saved at {changed}"),
            ));
        }
        v.revert(&path, version)
    })
}
