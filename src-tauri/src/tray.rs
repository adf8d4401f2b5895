//! The tray icon: Lock now, Open ChartSafe, Quit. Closing the window keeps
//! nothing unlocked behind it: the tray is a way back to the window, not a
//! way to keep the vault open unseen (the idle lock still runs).

use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager};

/// The tray menu's items, by id.
pub const LOCK: &str = "lock";
/// Shows the window.
pub const OPEN: &str = "open";
/// Locks and quits.
pub const QUIT: &str = "quit";

/// What a tray menu item does.
pub fn on_item(app: &AppHandle, id: &str) {
    match id {
        LOCK => app.state::<crate::state::AppState>().lock_and_tell("tray"),
        OPEN => crate::show_main_window(app),
        // The exit handler locks (decrypted copies removed, keys dropped).
        QUIT => app.exit(0),
        _ => {}
    }
}

/// Adds the tray icon. A desktop without a tray (no StatusNotifier host)
/// is not an error: the window stays the way in.
pub fn start(app: &tauri::App) -> tauri::Result<()> {
    let lock = MenuItem::with_id(app, LOCK, "Lock now", true, None::<&str>)?;
    let open = MenuItem::with_id(app, OPEN, "Open ChartSafe", true, None::<&str>)?;
    let quit = MenuItem::with_id(app, QUIT, "Quit", true, None::<&str>)?;
    let menu = Menu::with_items(
        app,
        &[&open, &lock, &PredefinedMenuItem::separator(app)?, &quit],
    )?;
    let mut tray = TrayIconBuilder::with_id("main")
        .tooltip("ChartSafe")
        .menu(&menu)
        .show_menu_on_left_click(true)
        .on_menu_event(|app, event| on_item(app, event.id().as_ref()));
    if let Some(icon) = app.default_window_icon() {
        tray = tray.icon(icon.clone());
    }
    tray.build(app)?;
    Ok(())
}

/// Whether the app starts when this person logs in.
#[tauri::command]
pub fn start_at_login(app: AppHandle) -> bool {
    use tauri_plugin_autostart::ManagerExt;
    app.autolaunch().is_enabled().unwrap_or(false)
}

/// Turns start at login on or off.
#[tauri::command]
pub fn set_start_at_login(app: AppHandle, enabled: bool) -> Result<(), crate::error::AppError> {
    use tauri_plugin_autostart::ManagerExt;
    let launcher = app.autolaunch();
    let done = if enabled {
        launcher.enable()
    } else {
        launcher.disable()
    };
    done.map_err(|e| {
        crate::error::AppError::new(
            crate::error::Kind::Storage,
            "ChartSafe could not change whether it starts at login.",
            e,
        )
    })
}
