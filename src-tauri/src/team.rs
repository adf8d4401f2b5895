//! The Team screen (docs/FORMAT.md §11, §12): thin commands over the core's
//! team log, invitations, approval and removal.

use chartsafe_core::{names, Role};
use secrecy::ExposeSecret;
use serde::Serialize;
use tauri::State;

use crate::error::{AppError, Kind};
use crate::state::AppState;

type Result<T> = std::result::Result<T, AppError>;

/// A device, as the Team screen shows it.
#[derive(Serialize)]
pub struct DeviceOut {
    id: String,
    name: String,
    removed: bool,
    this_device: bool,
}

/// A member, as the Team screen shows it.
#[derive(Serialize)]
pub struct MemberOut {
    id: String,
    name: String,
    role: &'static str,
    removed: bool,
    devices: Vec<DeviceOut>,
}

/// A join request waiting for approval.
#[derive(Serialize)]
pub struct RequestOut {
    id: String,
    name: String,
    device_name: String,
    new_member: bool,
    time: i64,
}

/// The whole Team screen.
#[derive(Serialize)]
pub struct TeamOut {
    members: Vec<MemberOut>,
    /// Whether this device may invite, approve and remove (an admin's).
    admin: bool,
    requests: Vec<RequestOut>,
    /// What in the team log does not count, for people.
    problems: Vec<String>,
}

fn role(text: &str) -> Result<Role> {
    Role::parse(text).ok_or_else(|| AppError::internal(format!("unknown role {text:?}")))
}

/// The team as this device computes it, and the requests it can approve.
#[tauri::command]
pub async fn team_view(state: State<'_, AppState>) -> Result<TeamOut> {
    let session = state.session()?;
    tauri::async_runtime::spawn_blocking(move || {
        let mut vault = session.vault.lock().expect("vault lock");
        // Re-read what synced in since the vault opened.
        vault.list()?;
        let status = vault.team();
        let Some(team) = &status.team else {
            return Ok(TeamOut {
                members: Vec::new(),
                admin: false,
                requests: Vec::new(),
                problems: vec![match &status.error {
                    Some(e) => format!("The team list cannot be read: {e}."),
                    None => "This vault has no team list yet. Using the recovery phrase on this computer starts one.".to_owned(),
                }],
            });
        };
        let me = vault.device_id().to_owned();
        let admin = team.role_of_device(&me) == Some(Role::Admin);
        let members = team
            .members
            .values()
            .map(|m| MemberOut {
                id: m.id.clone(),
                name: names::printable(&m.name),
                role: m.role.as_str(),
                removed: m.removed,
                devices: team
                    .devices
                    .values()
                    .filter(|d| d.member == m.id)
                    .map(|d| DeviceOut {
                        id: d.id.clone(),
                        name: names::printable(&d.name),
                        removed: d.removed,
                        this_device: d.id == me,
                    })
                    .collect(),
            })
            .collect();
        let mut problems: Vec<String> = team
            .rejected
            .iter()
            .map(|r| format!("A team change from device {} (#{}) does not count: {}.", r.device, r.seq, r.reason))
            .collect();
        problems.extend(status.unreadable.iter().map(|(f, why)| format!("{f} is not a team entry this vault can read: {why}.")));
        let requests = if admin {
            vault
                .join_requests()?
                .into_iter()
                .map(|r| RequestOut {
                    id: r.id,
                    name: names::printable(&r.name),
                    device_name: names::printable(&r.device_name),
                    new_member: r.new_member,
                    time: r.time,
                })
                .collect()
        } else {
            Vec::new()
        };
        Ok(TeamOut {
            members,
            admin,
            requests,
            problems,
        })
    })
    .await?
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
    let role = role(&role_name)?;
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

/// Removes a member (by id) from the team.
#[tauri::command]
pub async fn remove_member(state: State<'_, AppState>, id: String) -> Result<()> {
    let session = state.session()?;
    tauri::async_runtime::spawn_blocking(move || {
        session
            .vault
            .lock()
            .expect("vault lock")
            .remove_from_team(&id)?;
        tracing::info!("member removed");
        Ok(())
    })
    .await?
}

impl From<chartsafe_core::TeamActionError> for AppError {
    fn from(e: chartsafe_core::TeamActionError) -> Self {
        use chartsafe_core::TeamActionError as T;
        match &e {
            T::CodeMismatch => AppError::new(
                Kind::NotAllowed,
                "That code does not match this request, so it was not approved. Ask the person to read the code on their screen again. If it still differs, the request is not theirs: do not approve it.",
                "code mismatch",
            ),
            T::NotAdmin => AppError::new(
                Kind::NotAllowed,
                "Only an administrator can invite, approve or remove people.",
                "not admin",
            ),
            T::NoSuchRequest(_) => AppError::new(
                Kind::NotFound,
                "That request is gone: it was approved already, or its invitation expired.",
                "no such request",
            ),
            T::NotAccepted(_) => AppError::new(
                Kind::NotAllowed,
                format!("The team list would not accept this: {e}."),
                "not accepted",
            ),
            _ => AppError::new(Kind::NotAllowed, format!("{e}."), "team action refused"),
        }
    }
}
