//! The ChartSafe desktop app: a thin Tauri shell over `chartsafe-core`.
//!
//! Each command takes the UI's arguments, runs the core off the UI thread,
//! and maps failures to one [`AppError`] (`{kind, message, details}`).
//! Decrypted bytes reach the web view only through [`commands::preview`],
//! and the disk only inside the private open-files folder (chartsafe_api's edit.rs).

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod audit;
mod command_names;
mod commands;
mod diag;
mod error;
mod lock_signals;
mod places;
mod scanner;
mod settings;
mod state;
mod team;
mod tray;
mod updates;

use tauri::Manager;

fn main() {
    let app = tauri::Builder::default()
        // First, so that a second launch ends here: it asks the running
        // app to show its window and exits before touching anything (the
        // log, the private folder, the keychain).
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            show_main_window(app);
        }))
        .plugin(tauri_plugin_updater::Builder::new().build())
        .plugin(
            tauri_plugin_autostart::Builder::new()
                .app_name("ChartSafe")
                .build(),
        )
        .manage(updates::Pending::default())
        .setup(setup)
        .invoke_handler({
            let handler: Box<dyn Fn(tauri::ipc::Invoke) -> bool + Send + Sync> =
                Box::new(tauri::generate_handler![
                    commands::app_status,
                    commands::suggest_locations,
                    commands::choose_folder,
                    commands::choose_files,
                    commands::inspect_folder,
                    commands::create_vault,
                    commands::confirm_phrase,
                    commands::unlock,
                    commands::recover,
                    commands::forget_vault,
                    commands::lock,
                    commands::activity,
                    commands::set_idle_minutes,
                    commands::list,
                    commands::import_paths,
                    commands::cancel_import,
                    commands::open_file,
                    commands::close_open_file,
                    commands::preview,
                    commands::export,
                    commands::share_file,
                    commands::rename,
                    commands::mkdir,
                    commands::trash,
                    commands::trash_list,
                    commands::restore,
                    commands::versions,
                    commands::revert,
                    audit::audit_log,
                    audit::choose_save_file,
                    audit::export_audit,
                    audit::check_vault,
                    audit::repair_vault,
                    team::team_view,
                    team::make_invite,
                    team::approve_request,
                    team::remove_member,
                    team::rekey_progress,
                    team::make_collection,
                    team::grant_collection,
                    team::revoke_collection,
                    team::approve_computer,
                    team::rotate_keys,
                    updates::update_status,
                    updates::set_update_check,
                    updates::check_update,
                    updates::install_update,
                    tray::start_at_login,
                    tray::set_start_at_login,
                    scanner::scan_status,
                    scanner::set_scan_folder,
                ]);
            move |invoke| {
                log_command(&invoke);
                handler(invoke)
            }
        })
        .build(tauri::generate_context!())
        .expect("ChartSafe could not start its window");
    app.run(|handle, event| {
        if let tauri::RunEvent::Exit = event {
            // Quitting removes every decrypted copy and forgets the keys.
            if let Some(state) = handle.try_state::<state::AppState>() {
                state.lock_now("quit");
            }
        }
    });
}

/// Brings the window to the front (a second launch, the tray, a start at
/// login).
pub(crate) fn show_main_window(app: &tauri::AppHandle) {
    if let Some(w) = app.get_webview_window("main") {
        let _ = w.unminimize();
        let _ = w.show();
        let _ = w.set_focus();
    }
    tracing::info!("window shown");
}

/// The app's state, leftovers of a crashed run removed, and the idle and
/// screen-lock watchers started.
fn setup(app: &mut tauri::App) -> Result<(), Box<dyn std::error::Error>> {
    diag::init(&state::data_dir());
    // Only under WebDriver (tauri-driver sets this), the window may emit
    // events to itself: the end-to-end tests deliver a synthetic drag and
    // drop that way. A normal launch has no such grant.
    if std::env::var("TAURI_WEBVIEW_AUTOMATION").as_deref() == Ok("true") {
        app.add_capability(
            tauri::ipc::CapabilityBuilder::new("automation")
                .window("main")
                .permission("core:event:allow-emit-to"),
        )?;
    }
    let state = state::AppState::new(app.handle())?;
    chartsafe_api::remove_leftovers(&state.open_root);
    app.manage(state);
    state::start_idle_timer(app.handle().clone());
    if let Err(e) = tray::start(app) {
        tracing::warn!(error = %e, "no tray icon");
    }
    lock_signals::start(app.handle().clone());
    Ok(())
}

/// The diagnostic log records which command ran, never its arguments
/// (they hold file names), and only names the app knows (the raw string
/// comes from the page); "activity", the window's keep-alive sent on every
/// key press, is left out.
fn log_command(invoke: &tauri::ipc::Invoke) {
    let command = invoke.message.command();
    if let Some(known) = command_names::ALL.iter().find(|c| **c == command) {
        if *known != "activity" {
            tracing::info!(command = *known, "called");
        }
    }
}

#[cfg(test)]
mod tests {
    /// Every command in `generate_handler!` has a generated permission and is
    /// granted to the main window, and nothing else is.
    #[test]
    fn commands_permissions_and_capability_agree() {
        let main = include_str!("main.rs");
        let start = main.find("generate_handler![").unwrap();
        let end = start + main[start..].find(']').unwrap();
        let handled: Vec<&str> = main[start + "generate_handler![".len()..end]
            .split(',')
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .map(|s| s.rsplit("::").next().unwrap())
            .collect();
        assert_eq!(handled, crate::command_names::ALL);
        let cap: serde_json::Value =
            serde_json::from_str(include_str!("../capabilities/main.json")).unwrap();
        let granted: Vec<String> = cap["permissions"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p.as_str())
            .filter_map(|p| p.strip_prefix("allow-"))
            .map(|p| p.replace('-', "_"))
            .collect();
        assert_eq!(granted, crate::command_names::ALL);
    }
}
