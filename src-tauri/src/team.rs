//! The Team screen (docs/FORMAT.md §11, §12): thin commands over the core's
//! team log, invitations, approval and removal.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chartsafe_core::{
    names, CollectionId, CollectionInfo, DeviceId, JoinRequestInfo, MemberId, MemberView, Progress,
    RequestId, Role, TeamViewError,
};
use secrecy::ExposeSecret;
use serde::Serialize;
use tauri::{AppHandle, Emitter, State};

use crate::error::AppError;
use crate::state::{AppState, Session};

type Result<T> = std::result::Result<T, AppError>;

/// A device, as the Team screen shows it.
#[derive(Serialize)]
pub struct DeviceOut {
    id: DeviceId,
    name: String,
    removed: bool,
    this_device: bool,
}

/// A member, as the Team screen shows it.
#[derive(Serialize)]
pub struct MemberOut {
    id: MemberId,
    name: String,
    role: &'static str,
    removed: bool,
    devices: Vec<DeviceOut>,
}

/// A join request waiting for approval.
#[derive(Serialize)]
pub struct RequestOut {
    id: RequestId,
    name: String,
    device_name: String,
    new_member: bool,
    time: i64,
}

/// A collection this computer reads, as the Team screen shows it.
#[derive(Serialize)]
pub struct CollectionOut {
    id: CollectionId,
    /// Its folder; `None` until its first record has synced.
    name: Option<String>,
    /// Members granted it: id, name, may change it.
    readers: Vec<ReaderOut>,
}

/// A member granted a collection.
#[derive(Serialize)]
pub struct ReaderOut {
    id: MemberId,
    name: String,
    write: bool,
}

/// The whole Team screen.
#[derive(Serialize)]
pub struct TeamOut {
    members: Vec<MemberOut>,
    /// The collections this computer reads (not the audit log's).
    collections: Vec<CollectionOut>,
    /// Whether this device may invite, approve and remove (an admin's).
    admin: bool,
    requests: Vec<RequestOut>,
    /// What in the team log does not count, for people.
    problems: Vec<String>,
}

/// The team as this device computes it, and the requests it can approve.
#[tauri::command]
pub async fn team_view(state: State<'_, AppState>) -> Result<TeamOut> {
    let session = state.session()?;
    tauri::async_runtime::spawn_blocking(move || {
        let mut vault = session.vault.lock().expect("vault lock");
        // Re-read what synced in since the vault opened.
        vault.list()?;
        let team = match vault.team_view() {
            Ok(team) => team,
            Err(e) => return Ok(TeamOut::without_team(&e)),
        };
        let mut problems: Vec<String> = team
            .rejected
            .iter()
            .map(|r| {
                format!(
                    "A team change from device {} (#{}) does not count: {}.",
                    r.device, r.seq, r.reason
                )
            })
            .collect();
        problems.extend(
            team.unreadable
                .iter()
                .map(|(f, why)| format!("{f} is not a team entry this vault can read: {why}.")),
        );
        let requests = if team.admin {
            vault
                .join_requests()?
                .into_iter()
                .map(RequestOut::from)
                .collect()
        } else {
            Vec::new()
        };
        let collections = vault
            .collections()?
            .into_iter()
            .filter(|c| !c.audit)
            .map(CollectionOut::from)
            .collect();
        Ok(TeamOut {
            members: team.members.into_iter().map(MemberOut::from).collect(),
            collections,
            admin: team.admin,
            requests,
            problems,
        })
    })
    .await?
}

impl TeamOut {
    /// The screen when the team log cannot be used: nothing but why.
    fn without_team(e: &TeamViewError) -> Self {
        let why = match e {
            TeamViewError::NoTeam => "This vault has no team list yet. Using the recovery phrase on this computer starts one.".to_owned(),
            TeamViewError::Unreadable(why) => format!("The team list cannot be read: {why}."),
            _ => format!("The team list cannot be read: {e}."),
        };
        TeamOut {
            members: Vec::new(),
            collections: Vec::new(),
            admin: false,
            requests: Vec::new(),
            problems: vec![why],
        }
    }
}

// Names from the team log and requests are escaped for display.

impl From<MemberView> for MemberOut {
    fn from(m: MemberView) -> Self {
        MemberOut {
            id: m.id,
            name: names::printable(&m.name),
            role: m.role.as_str(),
            removed: m.removed,
            devices: m
                .devices
                .into_iter()
                .map(|d| DeviceOut {
                    id: d.id,
                    name: names::printable(&d.name),
                    removed: d.removed,
                    this_device: d.this_device,
                })
                .collect(),
        }
    }
}

impl From<JoinRequestInfo> for RequestOut {
    fn from(r: JoinRequestInfo) -> Self {
        RequestOut {
            id: r.id,
            name: names::printable(&r.name),
            device_name: names::printable(&r.device_name),
            new_member: r.new_member,
            time: r.time,
        }
    }
}

impl From<CollectionInfo> for CollectionOut {
    fn from(c: CollectionInfo) -> Self {
        CollectionOut {
            id: c.id,
            name: c.name.map(|n| names::printable(&n)),
            readers: c
                .readers
                .into_iter()
                .map(|(id, name, write)| ReaderOut {
                    id,
                    name: names::printable(&name),
                    write,
                })
                .collect(),
        }
    }
}

/// A new invitation (shown once).
#[derive(Serialize)]
pub struct InviteOut {
    text: String,
    expires: i64,
}

/// Makes an invitation (admins).
#[tauri::command]
pub async fn make_invite(state: State<'_, AppState>) -> Result<InviteOut> {
    let session = state.session()?;
    tauri::async_runtime::spawn_blocking(move || {
        let inv = session.vault.lock().expect("vault lock").invite()?;
        tracing::info!("invitation made");
        Ok(InviteOut {
            text: inv.text.expose_secret().to_owned(),
            expires: inv.expires,
        })
    })
    .await?
}

/// Approves a join request if `code` is the one the person reads out.
#[tauri::command]
pub async fn approve_request(
    state: State<'_, AppState>,
    id: String,
    code: String,
    role_name: String,
) -> Result<()> {
    let session = state.session()?;
    let role: Role = role_name.parse()?;
    tauri::async_runtime::spawn_blocking(move || {
        session
            .vault
            .lock()
            .expect("vault lock")
            .approve(&id, &code, role)?;
        tracing::info!("join request approved");
        Ok(())
    })
    .await?
}

/// Replaces the keys of every collection this computer reads (a suspected
/// leak) and re-encrypts in the background.
#[tauri::command]
pub async fn rotate_keys(app: AppHandle, state: State<'_, AppState>) -> Result<()> {
    let session = state.session()?;
    tauri::async_runtime::spawn_blocking(move || {
        session
            .vault
            .lock()
            .expect("vault lock")
            .rotate_key("replaced from the Team screen")?;
        tracing::info!("keys replaced");
        start_rekey(&app, &session);
        Ok(())
    })
    .await?
}

/// Approves a join request as another computer of member `member` (id),
/// if `code` is the one the person reads out.
#[tauri::command]
pub async fn approve_computer(
    state: State<'_, AppState>,
    id: String,
    code: String,
    member: String,
) -> Result<()> {
    let session = state.session()?;
    tauri::async_runtime::spawn_blocking(move || {
        session
            .vault
            .lock()
            .expect("vault lock")
            .approve_computer(&id, &code, &member)?;
        tracing::info!("join request approved as another computer");
        Ok(())
    })
    .await?
}

/// Removes a member (by id) from the team; the key is replaced at once and
/// the files already there are re-encrypted in the background.
#[tauri::command]
pub async fn remove_member(app: AppHandle, state: State<'_, AppState>, id: String) -> Result<()> {
    let session = state.session()?;
    tauri::async_runtime::spawn_blocking(move || {
        session
            .vault
            .lock()
            .expect("vault lock")
            .remove_from_team(&id)?;
        tracing::info!("member removed");
        start_rekey(&app, &session);
        Ok(())
    })
    .await?
}

/// Makes a collection (admins): a new top-level folder with its own key.
#[tauri::command]
pub async fn make_collection(
    app: AppHandle,
    state: State<'_, AppState>,
    name: String,
) -> Result<()> {
    let session = state.session()?;
    tauri::async_runtime::spawn_blocking(move || {
        session
            .vault
            .lock()
            .expect("vault lock")
            .create_collection(&name)?;
        tracing::info!("collection made");
        // The audit log may have got its own key: move what is there.
        start_rekey(&app, &session);
        Ok(())
    })
    .await?
}

/// Gives member `member` (id) access to collection `collection` (id).
#[tauri::command]
pub async fn grant_collection(
    state: State<'_, AppState>,
    collection: String,
    member: String,
    write: bool,
) -> Result<()> {
    let session = state.session()?;
    tauri::async_runtime::spawn_blocking(move || {
        session
            .vault
            .lock()
            .expect("vault lock")
            .grant(&collection, &member, write)?;
        tracing::info!("collection granted");
        Ok(())
    })
    .await?
}

/// Takes collection `collection` (id) away from member `member` (id); its
/// key is replaced and its files re-encrypted in the background.
#[tauri::command]
pub async fn revoke_collection(
    app: AppHandle,
    state: State<'_, AppState>,
    collection: String,
    member: String,
) -> Result<()> {
    let session = state.session()?;
    tauri::async_runtime::spawn_blocking(move || {
        session
            .vault
            .lock()
            .expect("vault lock")
            .revoke(&collection, &member)?;
        tracing::info!("collection revoked");
        start_rekey(&app, &session);
        Ok(())
    })
    .await?
}

/// The background re-encryption to the current key (FORMAT.md §13.3):
/// its progress, shared with the worker thread.
#[derive(Default)]
pub struct Rekey {
    running: AtomicBool,
    stop: AtomicBool,
    bytes_total: AtomicU64,
    bytes_done: AtomicU64,
    files_total: AtomicU64,
    files_done: AtomicU64,
    /// How the last pass ended, for people.
    last: Mutex<Option<String>>,
}

impl Rekey {
    /// Stops the pass (on lock) and waits up to `limit` for its thread to
    /// let go of the vault and the keys. What is done stays done.
    pub fn cancel(&self, limit: std::time::Duration) {
        self.stop.store(true, Ordering::SeqCst);
        let start = std::time::Instant::now();
        while self.running.load(Ordering::SeqCst) && start.elapsed() < limit {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

impl Progress for Rekey {
    fn begin(&self, files: u64, bytes: u64) {
        self.files_total.store(files, Ordering::SeqCst);
        self.bytes_total.store(bytes, Ordering::SeqCst);
    }
    fn advance(&self, bytes: u64) {
        self.bytes_done.fetch_add(bytes, Ordering::SeqCst);
    }
    fn file_done(&self, _: &std::path::Path) {
        self.files_done.fetch_add(1, Ordering::SeqCst);
    }
    fn cancelled(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

/// Starts re-encrypting on a worker thread if this computer is an admin's,
/// holds the current key, and has not finished a pass for it. The thread
/// holds the vault only to record the end.
pub fn start_rekey(app: &AppHandle, session: &Arc<Session>) {
    let job = {
        let mut vault = session.vault.lock().unwrap_or_else(|p| p.into_inner());
        match chartsafe_api::rekey_if_due(&mut vault) {
            Ok(Some(job)) => job,
            // Not an admin's computer, nothing due, or the key has not
            // synced here yet: the next unlock or change tries again.
            Ok(None) | Err(_) => return,
        }
    };
    let rekey = session.rekey.clone();
    if rekey.running.swap(true, Ordering::SeqCst) {
        return;
    }
    for n in [
        &rekey.bytes_total,
        &rekey.bytes_done,
        &rekey.files_total,
        &rekey.files_done,
    ] {
        n.store(0, Ordering::SeqCst);
    }
    let vault = session.vault.clone();
    let app = app.clone();
    let spawned = std::thread::Builder::new()
        .name("rekey".into())
        .spawn(move || {
            let started = std::time::Instant::now();
            let result = job.run(&*rekey);
            let message = match result {
                // Locked meanwhile: the next unlock goes on from here.
                Ok(_) if rekey.cancelled() => None,
                Ok(report) => {
                    let _ = vault
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .finish_rekey(&job, &report);
                    tracing::info!(
                        rewritten = report.rewritten,
                        current = report.current,
                        skipped = report.skipped.len(),
                        ms = started.elapsed().as_millis() as u64,
                        "re-encryption finished"
                    );
                    Some(format!(
                        "Every file is under the new key: {} re-encrypted{}.",
                        report.rewritten,
                        if report.skipped.is_empty() {
                            String::new()
                        } else {
                            format!(
                                ", {} left as they were (see Check vault)",
                                report.skipped.len()
                            )
                        }
                    ))
                }
                Err(e) => {
                    tracing::warn!("re-encryption stopped by a storage error");
                    Some(format!(
                        "Re-encryption stopped: {e}. It resumes at the next unlock."
                    ))
                }
            };
            *rekey.last.lock().unwrap_or_else(|p| p.into_inner()) = message;
            // The keys and the vault go before the lock is told we are done.
            drop(job);
            drop(vault);
            rekey.running.store(false, Ordering::SeqCst);
            let _ = app.emit("vault-changed", ());
        });
    if spawned.is_err() {
        session.rekey.running.store(false, Ordering::SeqCst);
    }
}

/// The re-encryption's progress, for the Team screen.
#[derive(Serialize)]
pub struct RekeyOut {
    /// Files may still be under an older key on this computer's view.
    due: bool,
    running: bool,
    percent: u64,
    files_done: u64,
    files_total: u64,
    /// How the last pass ended.
    message: Option<String>,
}

/// Where the re-encryption to the current key stands.
#[tauri::command]
pub async fn rekey_progress(state: State<'_, AppState>) -> Result<RekeyOut> {
    let session = state.session()?;
    let r = &session.rekey;
    let running = r.running.load(Ordering::SeqCst);
    // The vault is busy while a change is written: then "due" is not
    // known for a moment, and a running pass says enough.
    let due = match session.vault.try_lock() {
        Ok(v) => v.rekey_status().due(),
        Err(_) => running,
    };
    let total = r.bytes_total.load(Ordering::SeqCst).max(1);
    let message = r.last.lock().expect("rekey lock").clone();
    Ok(RekeyOut {
        due,
        running,
        percent: (r.bytes_done.load(Ordering::SeqCst) * 100 / total).min(100),
        files_done: r.files_done.load(Ordering::SeqCst),
        files_total: r.files_total.load(Ordering::SeqCst),
        message,
    })
}
