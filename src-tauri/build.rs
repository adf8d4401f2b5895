//! Generates the app's permissions: one `allow-<command>` per command, so the
//! main window's capability (capabilities/main.json) can grant exactly the
//! commands the UI uses.

fn main() {
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(chartsafe_commands::ALL)),
    )
    .expect("tauri build step");
}

mod chartsafe_commands {
    include!("src/command_names.rs");
}
