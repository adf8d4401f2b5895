//! Locks the vault when the computer goes to sleep or the screen locks,
//! where the system says so (chartsafe_platform::lock_signals: D-Bus on
//! Linux, session and power messages on Windows, NSWorkspace on macOS).

use std::sync::Arc;

use tauri::{AppHandle, Manager};

/// Starts listening; returns at once. Missing buses are not an error.
/// Called from Tauri's `setup`, on the main thread (macOS needs that).
pub fn start(app: AppHandle) {
    chartsafe_platform::lock_signals::start(Arc::new(move |reason| {
        app.state::<crate::state::AppState>()
            .lock_and_tell(reason.as_str());
    }));
}
