//! The Activity view, "Who opened this?", CSV export and "Check vault"
//! (docs/FORMAT.md §10): thin commands over the core's audit log and health
//! check.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chartsafe_api::ExportFormat;
use chartsafe_core::{AuditEntry, AuditLog, HealthReport, Progress};
use serde::Serialize;
use tauri::ipc::Channel;
use tauri::{AppHandle, Manager, State};

use crate::error::AppError;
use crate::state::AppState;

type Result<T> = std::result::Result<T, AppError>;

/// The whole log and what is wrong with it.
#[derive(Serialize)]
pub struct ActivityOut {
    /// Every entry, oldest first (the core's `AuditEntry`: time in ms,
    /// member, device, device_name, app, action, entry, path, outcome,
    /// reason, detail, seq).
    rows: Vec<AuditEntry>,
    problems: Vec<String>,
    chains: usize,
    /// Names from the team log, for the ids in `rows`.
    people: PeopleOut,
}

/// Member and computer names by id.
#[derive(Serialize)]
pub struct PeopleOut {
    members: HashMap<String, String>,
    devices: HashMap<String, String>,
}

/// The audit log and health report last shown, for export and repair.
#[derive(Default)]
pub struct Shown {
    log: Mutex<Option<Arc<AuditLog>>>,
    report: Mutex<Option<HealthReport>>,
}

/// Reads every device's audit chain, merged in time order (oldest first).
#[tauri::command]
pub async fn audit_log(state: State<'_, AppState>) -> Result<ActivityOut> {
    let session = state.session()?;
    tauri::async_runtime::spawn_blocking(move || {
        let mut vault = session.vault.lock().expect("vault lock");
        let log = chartsafe_api::read_log(&mut vault)?;
        let people = chartsafe_api::People::of(&vault);
        drop(vault);
        let out = ActivityOut {
            rows: log.entries.clone(),
            problems: log.problems.iter().map(ToString::to_string).collect(),
            chains: log.chains.len(),
            people: PeopleOut {
                members: people.members().clone(),
                devices: people.devices().clone(),
            },
        };
        *session.shown.log.lock().expect("shown lock") = Some(Arc::new(log));
        Ok(out)
    })
    .await?
}

/// Asks where to save a file (a native dialog). In test builds
/// (`test-knobs`) under WebDriver only (tauri-driver sets
/// TAURI_WEBVIEW_AUTOMATION), `CHARTSAFE_TEST_SAVE_AS` answers instead,
/// since tests cannot drive a native dialog.
#[tauri::command]
pub fn choose_save_file(title: String, name: String, kind: Option<String>) -> Option<String> {
    #[cfg(feature = "test-knobs")]
    if std::env::var("TAURI_WEBVIEW_AUTOMATION").as_deref() == Ok("true") {
        if let Some(p) = std::env::var_os("CHARTSAFE_TEST_SAVE_AS") {
            return Some(std::path::PathBuf::from(p).display().to_string());
        }
    }
    // A CSV copy of the activity, or a share (an age file).
    let (label, ext) = match kind.as_deref() {
        Some("age") => ("age encrypted file", "age"),
        _ => ("CSV", "csv"),
    };
    rfd::FileDialog::new()
        .set_title(title)
        .set_file_name(name)
        .add_filter(label, &[ext])
        .save_file()
        .map(|p| p.display().to_string())
}

/// Writes the rows `rows` (indices into the log last read) as CSV to
/// `dest`, and records the export. Returns the number of rows written.
#[tauri::command]
pub async fn export_audit(
    state: State<'_, AppState>,
    rows: Vec<u32>,
    dest: String,
) -> Result<usize> {
    let session = state.session()?;
    tauri::async_runtime::spawn_blocking(move || {
        let log = session
            .shown
            .log
            .lock()
            .expect("shown lock")
            .clone()
            .ok_or_else(|| AppError::internal("the activity log was not read yet"))?;
        let entries: Vec<_> = rows
            .iter()
            .filter_map(|&i| log.entries.get(i as usize))
            .collect();
        let mut vault = session.vault.lock().expect("vault lock");
        let style = chartsafe_api::LogStyle::local(&vault);
        let written = chartsafe_api::export_entries_to_file(
            &mut vault,
            &entries,
            ExportFormat::Csv,
            &style,
            "app",
            Path::new(&dest),
        )?;
        tracing::info!(rows = written, "activity exported");
        Ok(written)
    })
    .await?
}

/// Progress of "Check vault", at most four times a second and at the end.
#[derive(Clone, Serialize)]
pub struct CheckProgress {
    bytes: u64,
    total: u64,
}

struct Reporter {
    channel: Channel<CheckProgress>,
    /// Set by a lock: the check stops at once.
    cancel: Arc<std::sync::atomic::AtomicBool>,
    done: std::sync::atomic::AtomicU64,
    total: std::sync::atomic::AtomicU64,
    last: Mutex<Instant>,
}

impl Reporter {
    fn send(&self) {
        use std::sync::atomic::Ordering::Relaxed;
        let _ = self.channel.send(CheckProgress {
            bytes: self.done.load(Relaxed),
            total: self.total.load(Relaxed),
        });
    }
}

impl Progress for Reporter {
    fn begin(&self, _files: u64, bytes: u64) {
        self.total
            .store(bytes, std::sync::atomic::Ordering::Relaxed);
        self.send();
    }
    fn advance(&self, bytes: u64) {
        self.done
            .fetch_add(bytes, std::sync::atomic::Ordering::Relaxed);
        let mut last = self.last.lock().expect("progress lock");
        if last.elapsed() >= Duration::from_millis(250) {
            *last = Instant::now();
            drop(last);
            self.send();
        }
    }
    fn end(&self) {
        self.send();
    }
    fn cancelled(&self) -> bool {
        self.cancel.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// One problem the check found.
#[derive(Serialize)]
pub struct CheckProblem {
    what: String,
    remedy: String,
    repairable: bool,
}

/// What "Check vault" found.
#[derive(Serialize)]
pub struct CheckOut {
    problems: Vec<CheckProblem>,
    contents: u64,
    bytes: u64,
    audit_entries: u64,
}

/// Checks the whole vault (records, every content file, orphans, the
/// audit chains), reporting progress in bytes.
#[tauri::command]
pub async fn check_vault(app: AppHandle, on_progress: Channel<CheckProgress>) -> Result<CheckOut> {
    let state = app.state::<AppState>();
    let session = state.session()?;
    state
        .cancel
        .store(false, std::sync::atomic::Ordering::SeqCst);
    let cancel = state.cancel.clone();
    tauri::async_runtime::spawn_blocking(move || {
        let reporter = Reporter {
            channel: on_progress,
            cancel,
            done: 0.into(),
            total: 0.into(),
            last: Mutex::new(Instant::now()),
        };
        let started = Instant::now();
        let report = session
            .vault
            .lock()
            .expect("vault lock")
            .verify(&reporter)?;
        tracing::info!(
            problems = report.problems.len(),
            contents = report.contents_checked,
            bytes = report.bytes_checked,
            ms = started.elapsed().as_millis() as u64,
            "vault checked"
        );
        // A long check is activity: the person is waiting for it.
        app.state::<AppState>().touch();
        let out = CheckOut {
            problems: report
                .problems
                .iter()
                .map(|p| CheckProblem {
                    what: p.to_string(),
                    remedy: p.remedy(),
                    repairable: p.repairable(),
                })
                .collect(),
            contents: report.contents_checked,
            bytes: report.bytes_checked,
            audit_entries: report.audit_entries,
        };
        *session.shown.report.lock().expect("shown lock") = Some(report);
        Ok(out)
    })
    .await?
}

/// Removes what the last check found safe to remove (old orphans and
/// leftovers). The window asks first. Returns the number of files removed.
#[tauri::command]
pub async fn repair_vault(state: State<'_, AppState>) -> Result<usize> {
    let session = state.session()?;
    tauri::async_runtime::spawn_blocking(move || {
        let report = session
            .shown
            .report
            .lock()
            .expect("shown lock")
            .take()
            .ok_or_else(|| AppError::internal("check the vault first"))?;
        let done = session.vault.lock().expect("vault lock").repair(&report)?;
        Ok(done.removed.len())
    })
    .await?
}
