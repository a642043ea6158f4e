/// The commands the web UI may call; each gets an `allow-<command>` permission that
/// `capabilities/default.json` grants to the main window. Nothing else is reachable.
const COMMANDS: &[&str] = &[
    "list_stacks",
    "add_stack",
    "remove_stack",
    "inspect_stack",
    "cancel_job",
    "get_startup",
    "backup_overview",
    "choose_destination",
    "save_backup_settings",
    "setup_key",
    "start_backup",
    "secrets_screen",
    "reveal_secret",
    "set_secret",
    "generate_secret",
    "rotation_note",
    "fix_finding",
    "restore_secret_copy",
    "test_passphrase",
    "change_passphrase",
    "save_recovery_kit",
    "restore_points",
    "choose_restore_folder",
    "plan_restore",
    "start_restore",
    "undo_restore",
    "open_restored_folder",
    "backup_drive",
    "choose_backup_drive",
    "unlock_backup_drive",
    "choose_drive_target",
    "restore_from_drive",
    "drill_overview",
    "set_drill_interval",
    "run_drill",
    "schedule_view",
    "set_schedule",
    "set_notification_levels",
    "pause_schedules",
    "tray_action",
    "start_at_login",
    "tray_menu",
    "settings_view",
    "choose_default_destination",
    "set_theme",
    "open_logs",
    "test_channel",
];

fn main() {
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("failed to run tauri-build");
}
