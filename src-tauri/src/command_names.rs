// Every command the UI may call. build.rs generates an `allow-<name>`
// permission for each; capabilities/main.json grants them to the main window.
// Keep in step with `generate_handler!` in main.rs (a unit test checks).

/// The command names.
pub const ALL: &[&str] = &[
    "app_status",
    "suggest_locations",
    "choose_folder",
    "choose_files",
    "inspect_folder",
    "create_vault",
    "confirm_phrase",
    "unlock",
    "recover",
    "forget_vault",
    "lock",
    "activity",
    "set_idle_minutes",
    "list",
    "import_paths",
    "cancel_import",
    "open_file",
    "close_open_file",
    "preview",
    "export",
    "rename",
    "mkdir",
    "trash",
    "trash_list",
    "restore",
    "versions",
    "revert",
    "audit_log",
    "choose_save_file",
    "export_audit",
    "check_vault",
    "repair_vault",
];
