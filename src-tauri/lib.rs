//! Lifeboat's desktop shell: thin Tauri commands over `lifeboat-core`, job channels and
//! cancellation. No business logic lives here.

mod backups;
mod commands;
mod drills;
mod drive;
mod error;
mod restore;
mod scheduler;
mod secrets;
mod settings;
mod tray;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use lifeboat_core::{CancelToken, Catalog};
use tauri::Manager;

pub use backups::{
    BackupChoices, BackupDone, BackupOverview, DestinationStatus, KeyStatus, SnapshotSpace,
};
pub use commands::InspectResult;
pub use drills::{DrillOutcome, DrillOverview, DrillRun};
pub use drive::{DriveInfo, DriveRestoreDone, DriveStack};
pub use error::{ErrorCode, IpcError};
pub use restore::{LastRestore, RestorePoints, RestoreRequest};
pub use scheduler::ScheduleView;
pub use secrets::SecretsScreen;
pub use settings::SettingsView;
pub use tray::{TrayItem, TrayModel};

/// The app's shared state: the catalog, running jobs, and the stack opened at launch.
/// Cloning shares it (blocking work takes a clone to another thread).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// See [`AppState`].
pub struct Shared {
    catalog: Arc<Catalog>,
    jobs: Mutex<HashMap<u64, CancelToken>>,
    next_job: AtomicU64,
    startup_stack: Option<i64>,
    /// The other folder chosen in the restore wizard, per stack (from the folder dialog).
    restore_folders: Mutex<HashMap<i64, std::path::PathBuf>>,
    /// The backup drive of "Restore from a backup drive".
    drive: Mutex<lifeboat_core::restore::drive::Drive>,
    /// Stacks with a backup or restore running, and its job: one job per stack at a time.
    busy: Mutex<HashMap<i64, u64>>,
    /// The restore each stack's wizard last previewed: what "Restore now" carries out.
    previews: Mutex<HashMap<i64, lifeboat_core::restore::Plan>>,
    /// Whether the tray icon exists (closing the window then hides it instead of quitting).
    tray: AtomicBool,
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl Shared {
    fn start_job(&self) -> (u64, CancelToken) {
        let id = self.next_job.fetch_add(1, Ordering::Relaxed) + 1;
        let token = CancelToken::new();
        self.jobs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(id, token.clone());
        (id, token)
    }
    fn restore_folder(&self, stack_id: i64) -> Option<std::path::PathBuf> {
        self.restore_folders
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&stack_id)
            .cloned()
    }
    fn set_restore_folder(&self, stack_id: i64, dir: std::path::PathBuf) {
        self.restore_folders
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(stack_id, dir);
    }
    /// Keeps `plan` as the stack's previewed restore, in place of an earlier one.
    fn keep_preview(&self, stack_id: i64, plan: lifeboat_core::restore::Plan) {
        self.previews
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(stack_id, plan);
    }
    /// Takes the stack's previewed restore: it is carried out once.
    fn take_preview(&self, stack_id: i64) -> Option<lifeboat_core::restore::Plan> {
        self.previews
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&stack_id)
    }
    fn drive(&self) -> lifeboat_core::restore::drive::Drive {
        self.drive
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
    fn set_drive(&self, d: lifeboat_core::restore::drive::Drive) {
        *self
            .drive
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = d;
    }
    /// Marks a stack busy with `job`; false when another job holds it.
    fn claim_stack(&self, stack_id: i64, job: u64) -> bool {
        let mut busy = self
            .busy
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if busy.contains_key(&stack_id) {
            return false;
        }
        busy.insert(stack_id, job);
        true
    }
    fn release_stack(&self, stack_id: i64) {
        self.busy
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&stack_id);
    }
    fn busy_stacks(&self) -> Vec<i64> {
        self.busy
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .keys()
            .copied()
            .collect()
    }
    fn busy_jobs(&self) -> Vec<u64> {
        self.busy
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .values()
            .copied()
            .collect()
    }
    /// The id of the job a cancel token belongs to.
    fn job_of(&self, token: &CancelToken) -> Option<u64> {
        self.jobs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .find(|(_, t)| t.same_as(token))
            .map(|(id, _)| *id)
    }
    fn end_job(&self, id: u64) {
        self.jobs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&id);
    }
    fn cancel_job(&self, id: u64) -> bool {
        match self
            .jobs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&id)
        {
            Some(t) => {
                t.cancel();
                true
            }
            None => false,
        }
    }
}

/// The argument Lifeboat gets when it starts at login: start in the tray, window hidden.
const HIDDEN: &str = "--hidden";

/// The stack folder given at launch: the first argument, else `LIFEBOAT_OPEN`.
fn startup_dir() -> Option<PathBuf> {
    std::env::args_os()
        .nth(1)
        .filter(|a| !a.to_string_lossy().starts_with('-'))
        .or_else(|| std::env::var_os("LIFEBOAT_OPEN"))
        .filter(|a| !a.is_empty())
        .map(PathBuf::from)
}

/// Logs to stderr and to `lifeboat-desktop.log` in the log folder ("Open logs" in Settings).
/// A log folder that cannot be created leaves stderr only, and says so.
fn init_logging() {
    use tracing_subscriber::fmt::writer::MakeWriterExt;
    let filter = || {
        tracing_subscriber::EnvFilter::try_from_env("LIFEBOAT_LOG")
            .unwrap_or_else(|_| "info".into())
    };
    let file = lifeboat_core::settings::log_dir()
        .map_err(|e| e.to_string())
        .and_then(|dir| {
            lifeboat_core::settings::open_log(&dir, "lifeboat-desktop")
                .map_err(|e| format!("{}: {e}", dir.display()))
        });
    match file {
        Ok(file) => tracing_subscriber::fmt()
            .with_env_filter(filter())
            .with_writer(std::io::stderr.and(Mutex::new(file)))
            .with_ansi(false)
            .init(),
        Err(e) => {
            tracing_subscriber::fmt().with_env_filter(filter()).init();
            tracing::warn!("no log file: {e}");
        }
    }
    tracing::info!("Lifeboat {} started", lifeboat_core::VERSION);
}

/// What every command shares. A stack folder named at launch is added to the catalog and
/// opened first.
fn shared_state(catalog: Arc<Catalog>) -> AppState {
    let startup_stack = startup_dir().and_then(|dir| {
        let loaded = lifeboat_core::stack::load(&dir, &lifeboat_core::LoadOptions::default());
        match loaded {
            Ok(p) => lifeboat_core::settings::add_stack(&catalog, &p)
                .map(|s| s.id)
                .ok(),
            Err(e) => {
                tracing::warn!("cannot open {}: {e}", dir.display());
                None
            }
        }
    });
    AppState(Arc::new(Shared {
        catalog: catalog.clone(),
        jobs: Mutex::new(HashMap::new()),
        next_job: AtomicU64::new(0),
        startup_stack,
        restore_folders: Mutex::new(HashMap::new()),
        drive: Mutex::new(lifeboat_core::restore::drive::Drive::default()),
        busy: Mutex::new(HashMap::new()),
        previews: Mutex::new(HashMap::new()),
        tray: AtomicBool::new(false),
    }))
}

/// At launch: put right what a crash interrupted, title the window (hidden when started
/// at login), apply the theme, make the tray and start the scheduler.
fn set_up(app: &tauri::App, catalog: Arc<Catalog>, hidden: bool) {
    tauri::async_runtime::spawn(async move { backups::recover_interrupted(catalog) });
    if let Some(w) = app.get_webview_window("main") {
        let _ = w.set_title(&format!("Lifeboat {}", lifeboat_core::VERSION));
        if hidden {
            let _ = w.hide();
        }
    }
    let handle = app.handle().clone();
    if let Ok(s) = lifeboat_core::settings::AppSettings::load(&handle.state::<AppState>().catalog) {
        settings::apply_theme(&handle, s.theme);
    }
    match tray::create(&handle) {
        Ok(()) => handle
            .state::<AppState>()
            .tray
            .store(true, Ordering::Relaxed),
        Err(e) => tracing::warn!("no system tray: {e}; closing the window quits Lifeboat"),
    }
    scheduler::spawn(handle);
}

/// Starts the desktop app.
pub fn run() {
    init_logging();
    let catalog = match Catalog::open_default() {
        Ok(c) => Arc::new(c),
        Err(e) => {
            eprintln!("Lifeboat cannot start: {e}");
            std::process::exit(1);
        }
    };
    let state = shared_state(catalog.clone());
    let hidden = std::env::args().any(|a| a == HIDDEN);
    let result = tauri::Builder::default()
        // Launching Lifeboat again (from the menu, or with a stack folder) shows the running
        // one instead of starting a second scheduler.
        .plugin(tauri_plugin_single_instance::init(|app, args, _cwd| {
            scheduler::second_launch(app, &args);
        }))
        .plugin(tauri_plugin_dialog::init())
        .plugin(
            tauri_plugin_autostart::Builder::new()
                .args([HIDDEN])
                .app_name("Lifeboat")
                .build(),
        )
        .setup(move |app| {
            set_up(app, catalog, hidden);
            Ok(())
        })
        .on_window_event(|window, event| {
            // With a tray, closing the window keeps Lifeboat (and its schedules) running.
            if let tauri::WindowEvent::CloseRequested { api, .. } = event {
                if window
                    .app_handle()
                    .state::<AppState>()
                    .tray
                    .load(Ordering::Relaxed)
                {
                    api.prevent_close();
                    let _ = window.hide();
                    scheduler::told_about_tray(window.app_handle());
                }
            }
        })
        .manage(state)
        .invoke_handler(tauri::generate_handler![
            commands::list_stacks,
            commands::add_stack,
            commands::remove_stack,
            commands::inspect_stack,
            commands::cancel_job,
            commands::get_startup,
            backups::backup_overview,
            backups::choose_destination,
            backups::save_backup_settings,
            backups::setup_key,
            backups::start_backup,
            backups::test_passphrase,
            backups::change_passphrase,
            backups::save_recovery_kit,
            secrets::secrets_screen,
            secrets::reveal_secret,
            secrets::set_secret,
            secrets::generate_secret,
            secrets::rotation_note,
            secrets::fix_finding,
            secrets::restore_secret_copy,
            restore::restore_points,
            restore::choose_restore_folder,
            restore::plan_restore,
            restore::start_restore,
            restore::undo_restore,
            restore::open_restored_folder,
            drive::backup_drive,
            drive::choose_backup_drive,
            drive::unlock_backup_drive,
            drive::choose_drive_target,
            drive::restore_from_drive,
            drills::drill_overview,
            drills::set_drill_interval,
            drills::run_drill,
            scheduler::schedule_view,
            scheduler::set_schedule,
            scheduler::set_notification_levels,
            scheduler::pause_schedules,
            scheduler::tray_action,
            scheduler::start_at_login,
            tray::tray_menu,
            settings::settings_view,
            settings::choose_default_destination,
            settings::set_theme,
            settings::test_channel,
            settings::open_logs,
        ])
        .run(tauri::generate_context!());
    if let Err(e) = result {
        eprintln!("Lifeboat stopped with an error: {e}");
        std::process::exit(1);
    }
}
