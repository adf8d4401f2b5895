//! Locks the vault when the computer goes to sleep or the screen locks,
//! where the OS says so.
//!
//! Linux: the screen savers' `ActiveChanged(true)` on the session bus (GNOME,
//! freedesktop: KDE, Xfce, Cinnamon, MATE) and logind's `PrepareForSleep(true)`
//! on the system bus. Other systems: not yet; the idle timer still applies.

use tauri::{AppHandle, Manager};

/// Starts listening; returns at once. Missing buses are not an error.
pub fn start(app: AppHandle) {
    #[cfg(target_os = "linux")]
    linux::start(app);
    #[cfg(not(target_os = "linux"))]
    let _ = app;
}

fn lock(app: &AppHandle, reason: &str) {
    app.state::<crate::state::AppState>().lock_and_tell(reason);
}

#[cfg(target_os = "linux")]
mod linux {
    use std::time::Duration;

    use dbus::blocking::Connection;
    use dbus::message::MatchRule;
    use tauri::AppHandle;

    pub fn start(app: AppHandle) {
        let session_app = app.clone();
        let _ = std::thread::Builder::new()
            .name("screen-lock".into())
            .spawn(move || {
                let Ok(conn) = Connection::new_session() else {
                    return;
                };
                for interface in ["org.gnome.ScreenSaver", "org.freedesktop.ScreenSaver"] {
                    let app = session_app.clone();
                    let rule = MatchRule::new_signal(interface, "ActiveChanged");
                    let _ = conn.add_match(rule, move |(active,): (bool,), _, _| {
                        if active {
                            super::lock(&app, "screen_locked");
                        }
                        true
                    });
                }
                while conn.process(Duration::from_secs(3600)).is_ok() {}
            });
        let _ = std::thread::Builder::new()
            .name("sleep".into())
            .spawn(move || {
                let Ok(conn) = Connection::new_system() else {
                    return;
                };
                let rule =
                    MatchRule::new_signal("org.freedesktop.login1.Manager", "PrepareForSleep");
                let _ = conn.add_match(rule, move |(sleeping,): (bool,), _, _| {
                    if sleeping {
                        super::lock(&app, "sleep");
                    }
                    true
                });
                while conn.process(Duration::from_secs(3600)).is_ok() {}
            });
    }
}
