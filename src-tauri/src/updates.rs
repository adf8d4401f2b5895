//! Updates (docs/UPDATES.md): the app asks the release feed whether a
//! newer version exists, offers it, and installs it only once its minisign
//! signature checks against the public key compiled into the app
//! (tauri.conf.json `plugins.updater.pubkey`), for the version the feed
//! announced (`requireSignedVersion`: an old signed bundle cannot be
//! replayed as new). Nothing from the feed is believed before that check
//! (docs/THREAT_MODEL.md §6.2).
//!
//! IT decides through a policy file only administrators can write
//! ([`policy_path`]): `{"update_check": false}` turns the check off for
//! everyone on the computer; `{"update_endpoint": "https://…"}` points it
//! at an internal mirror (still signed by us). Without a policy the person
//! may turn the check off in Settings.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use tauri::{AppHandle, Manager, State};
use tauri_plugin_updater::UpdaterExt;

use crate::error::{AppError, Kind};

type Result<T> = std::result::Result<T, AppError>;
use crate::state::AppState;

/// Largest policy file read.
const POLICY_MAX: u64 = 64 * 1024;

/// What IT decided for everyone on this computer.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// `Some(false)` turns the update check off; people cannot turn it on.
    pub update_check: Option<bool>,
    /// Where to look for updates instead of the release feed (https).
    pub update_endpoint: Option<String>,
}

/// Where the policy file is on system `os` (`std::env::consts::OS`);
/// `program_data` is `%ProgramData%` on Windows.
pub fn policy_path(os: &str, program_data: Option<&Path>) -> PathBuf {
    match os {
        "windows" => program_data
            .unwrap_or(Path::new(r"C:\ProgramData"))
            .join("ChartSafe")
            .join("policy.json"),
        "macos" => PathBuf::from("/Library/Application Support/ChartSafe/policy.json"),
        _ => PathBuf::from("/etc/chartsafe/policy.json"),
    }
}

/// Reads the policy: none when the file is missing. A file that cannot be
/// read or understood is an error naming it; the caller then keeps the
/// update check off (IT meant something, and we cannot tell what).
pub fn read_policy(path: &Path) -> std::result::Result<Policy, String> {
    use std::io::Read;
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Policy::default()),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let mut bytes = Vec::new();
    file.take(POLICY_MAX + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if bytes.len() as u64 > POLICY_MAX {
        return Err(format!("{}: larger than 64 KiB", path.display()));
    }
    let policy: Policy =
        serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    if let Some(url) = &policy.update_endpoint {
        if !url.starts_with("https://") {
            return Err(format!(
                "{}: update_endpoint must be an https:// address",
                path.display()
            ));
        }
    }
    Ok(policy)
}

fn this_policy() -> std::result::Result<Policy, String> {
    // Tests only (`test-knobs`): the window tests must not look for
    // updates on the network; they name a policy file of their own.
    #[cfg(feature = "test-knobs")]
    if let Some(p) = std::env::var_os("CHARTSAFE_POLICY_FILE") {
        return read_policy(Path::new(&p));
    }
    let program_data = std::env::var_os("ProgramData").map(PathBuf::from);
    read_policy(&policy_path(std::env::consts::OS, program_data.as_deref()))
}

/// The update check as the Settings dialog shows it.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct UpdateStatus {
    /// This version.
    pub current: String,
    /// Whether the app looks for updates.
    pub enabled: bool,
    /// Set by IT's policy file: the person cannot change it.
    pub locked_by_policy: bool,
    /// Why the check is off or locked, in words (the policy file named).
    pub note: Option<String>,
}

/// Decides the update check from the policy and the person's setting.
pub fn decide(
    policy: &std::result::Result<Policy, String>,
    setting: bool,
    current: &str,
) -> UpdateStatus {
    let (enabled, locked, note) = match policy {
        Err(e) => (
            false,
            true,
            Some(format!(
                "Updates are off: the policy file could not be read ({e})."
            )),
        ),
        Ok(Policy {
            update_check: Some(false),
            ..
        }) => (
            false,
            true,
            Some("Your IT administrator turned update checks off on this computer.".to_owned()),
        ),
        Ok(Policy {
            update_check: Some(true),
            ..
        }) => (
            true,
            true,
            Some("Your IT administrator keeps update checks on.".to_owned()),
        ),
        Ok(_) => (setting, false, None),
    };
    UpdateStatus {
        current: current.to_owned(),
        enabled,
        locked_by_policy: locked,
        note,
    }
}

/// An update found and not yet installed.
#[derive(Default)]
pub struct Pending(Mutex<Option<tauri_plugin_updater::Update>>);

/// What the window is told about an available update.
#[derive(Debug, Serialize)]
pub struct Offer {
    version: String,
    notes: Option<String>,
}

fn status_of(app: &AppHandle, policy: &std::result::Result<Policy, String>) -> UpdateStatus {
    let setting = app
        .state::<AppState>()
        .settings
        .lock()
        .expect("settings lock")
        .update_check;
    decide(policy, setting, &app.package_info().version.to_string())
}

#[tauri::command]
pub fn update_status(app: AppHandle) -> UpdateStatus {
    status_of(&app, &this_policy())
}

#[tauri::command]
pub fn set_update_check(app: AppHandle, state: State<'_, AppState>, enabled: bool) -> Result<()> {
    if status_of(&app, &this_policy()).locked_by_policy {
        return Err(AppError::new(
            Kind::NotAllowed,
            "Your IT administrator decides update checks on this computer.",
            "locked by the policy file",
        ));
    }
    let mut settings = state.settings.lock().expect("settings lock");
    settings.update_check = enabled;
    settings
        .save(&state.settings_file)
        .map_err(|e| AppError::internal(format!("settings: {e}")))
}

/// Asks the feed (or IT's mirror) for a newer version. `None` when there is
/// none or the check is off.
#[tauri::command]
pub async fn check_update(app: AppHandle, pending: State<'_, Pending>) -> Result<Option<Offer>> {
    // The policy file is read once for both questions.
    let policy = this_policy();
    if !status_of(&app, &policy).enabled {
        return Ok(None);
    }
    let mut builder = app.updater_builder();
    if let Ok(Policy {
        update_endpoint: Some(url),
        ..
    }) = policy
    {
        let url = url.parse().map_err(|e| {
            AppError::new(
                Kind::Storage,
                "The update address in the policy file is not valid.",
                format!("{url}: {e}"),
            )
        })?;
        builder = builder.endpoints(vec![url]).map_err(update_error)?;
    }
    let update = builder
        .build()
        .map_err(update_error)?
        .check()
        .await
        .map_err(update_error)?;
    tracing::info!(found = update.is_some(), "update check");
    let offer = update.as_ref().map(|u| Offer {
        version: u.version.clone(),
        notes: u.body.clone(),
    });
    *pending.0.lock().expect("pending update lock") = update;
    Ok(offer)
}

/// Downloads the update offered, checks its signature, installs it and
/// restarts. Locks the vault first (decrypted copies removed, keys dropped).
#[tauri::command]
pub async fn install_update(app: AppHandle, pending: State<'_, Pending>) -> Result<()> {
    let update = pending
        .0
        .lock()
        .expect("pending update lock")
        .take()
        .ok_or_else(|| {
            AppError::new(
                Kind::NothingToDo,
                "There is no update to install.",
                "no update pending",
            )
        })?;
    let version = update.version.clone();
    let bytes = update
        .download(|_, _| {}, || {})
        .await
        .map_err(update_error)?;
    app.state::<AppState>().lock_and_tell("update");
    update.install(bytes).map_err(|e| {
        tracing::warn!(error = %e, "update refused");
        update_error(e)
    })?;
    tracing::info!(version, "update installed; restarting");
    app.restart();
}

/// The updater's errors in words a person can act on.
fn update_error(e: tauri_plugin_updater::Error) -> AppError {
    use tauri_plugin_updater::Error as E;
    match e {
        E::Minisign(_) | E::Base64(_) | E::SignatureUtf8(_) => AppError::new(
            Kind::Damaged,
            "The update was refused: its signature is not ChartSafe's. Nothing was installed; this version keeps working.",
            e,
        ),
        other => AppError::new(
            Kind::Storage,
            "The update could not be fetched or installed. This version keeps working.",
            other,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_system_has_its_policy_file_where_only_administrators_write() {
        assert_eq!(
            policy_path("linux", None),
            Path::new("/etc/chartsafe/policy.json")
        );
        assert_eq!(
            policy_path("macos", None),
            Path::new("/Library/Application Support/ChartSafe/policy.json")
        );
        assert_eq!(
            policy_path("windows", Some(Path::new("D:/ProgramData"))),
            Path::new("D:/ProgramData/ChartSafe/policy.json")
        );
    }

    #[test]
    fn the_policy_wins_over_the_setting_and_a_bad_one_turns_updates_off() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("policy.json");
        assert_eq!(read_policy(&p), Ok(Policy::default()));
        let free = decide(&read_policy(&p), false, "0.1.0");
        assert!(!free.enabled && !free.locked_by_policy);
        std::fs::write(&p, r#"{"update_check": false}"#).unwrap();
        let off = decide(&read_policy(&p), true, "0.1.0");
        assert!(!off.enabled && off.locked_by_policy);
        std::fs::write(
            &p,
            r#"{"update_endpoint": "http://mirror.example/latest.json"}"#,
        )
        .unwrap();
        let err = read_policy(&p).unwrap_err();
        assert!(
            err.contains("policy.json") && err.contains("https"),
            "{err}"
        );
        std::fs::write(&p, r#"{"update_chek": false}"#).unwrap();
        let bad = decide(&read_policy(&p), true, "0.1.0");
        assert!(!bad.enabled && bad.locked_by_policy);
        assert!(bad.note.unwrap().contains("policy.json"));
        std::fs::write(&p, vec![b' '; 70 * 1024]).unwrap();
        assert!(read_policy(&p).unwrap_err().contains("64 KiB"));
    }
}
