//! Backup commands: the stack's backup overview (settings, how each service is captured,
//! the key, the destination, the history), choosing the destination with the system's
//! folder dialog, creating the key with its recovery passphrase, and "Back up now" with
//! progress and cancel. Each takes a stack id; none takes a path from the web UI.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use age::secrecy::SecretString;
use lifeboat_core::backup::{self, BackupReport, Keep, Mode, ServiceChoice, StackSettings};
use lifeboat_core::catalog::BackupRecord;
use lifeboat_core::docker::BlockingEngine;
use lifeboat_core::job::JobEvent;
use lifeboat_core::keys::{self, KeyError, RECOVERY_FILE};
use lifeboat_core::LoadOptions;
use serde::{Deserialize, Serialize};
use tauri::ipc::Channel;
use tauri::State;
use tauri_plugin_dialog::DialogExt;
use ts_rs::TS;

use crate::commands::{run_job, ChannelProgress};
use crate::error::{ErrorCode, IpcError};
use crate::AppState;

/// Where the backup key stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum KeyState {
    /// It loads.
    Ready,
    /// None was created yet.
    Missing,
    /// The keyring cannot be used.
    Unavailable,
}

/// Whether the backup key is there.
#[derive(Debug, Clone, Serialize, TS)]
pub struct KeyStatus {
    /// Where it stands.
    pub state: KeyState,
    /// The public recipient, when ready (not secret).
    pub recipient: Option<String>,
    /// Why it is unavailable.
    pub message: Option<String>,
    /// When the recovery passphrase was last tested (Unix seconds).
    #[ts(type = "number | null")]
    pub passphrase_tested_at: Option<i64>,
}

/// The backup destination of a stack.
#[derive(Debug, Clone, Serialize, TS)]
pub struct DestinationStatus {
    /// The folder.
    pub path: String,
    /// It is there (the drive is plugged in).
    pub present: bool,
    /// It holds the passphrase-protected recovery file.
    pub has_recovery: bool,
    /// Free space on it.
    #[ts(type = "number | null")]
    pub free_bytes: Option<u64>,
}

/// Everything the Backups part of a stack page shows.
#[derive(Debug, Clone, Serialize, TS)]
pub struct BackupOverview {
    /// The saved settings.
    pub settings: StackSettings,
    /// How each service is captured.
    pub services: Vec<ServiceChoice>,
    /// Recent runs, newest first.
    pub history: Vec<BackupRecord>,
    /// The destination's space report for the stack's snapshots there (empty when the
    /// destination or the key is not at hand).
    pub space: Vec<SnapshotSpace>,
    /// The backup key.
    pub key: KeyStatus,
    /// The destination, once chosen.
    pub destination: Option<DestinationStatus>,
}

/// What one snapshot takes in the destination.
#[derive(Debug, Clone, Serialize, TS)]
pub struct SnapshotSpace {
    /// The snapshot's id.
    pub snapshot: String,
    /// Bytes of the stored files it refers to, shared ones included.
    #[ts(type = "number")]
    pub bytes_stored: u64,
    /// Bytes that only it refers to: what deleting it frees.
    #[ts(type = "number")]
    pub bytes_frees: u64,
}

/// The space report of `stack` in `dest`; empty when it cannot be read.
fn space_of(dest: &Path, stack: &str) -> Vec<SnapshotSpace> {
    let Ok((identity, _)) = keys::load(None) else {
        return Vec::new();
    };
    backup::verify::list(dest, Some(stack), &identity)
        .unwrap_or_default()
        .into_iter()
        .filter(|s| s.damaged.is_none())
        .map(|s| SnapshotSpace {
            snapshot: s.snapshot,
            bytes_stored: s.bytes_stored,
            bytes_frees: s.bytes_frees,
        })
        .collect()
}

/// The settings the web UI may change (the destination only through the folder dialog).
#[derive(Debug, Clone, Deserialize, TS)]
pub struct BackupChoices {
    /// How services are captured.
    pub mode: Mode,
    /// Services stopped during the backup in auto mode.
    pub stop_services: Vec<String>,
    /// Retention after each backup.
    pub keep: Keep,
}

/// A finished backup, with what retention removed.
#[derive(Debug, Clone, Serialize, TS)]
pub struct BackupDone {
    /// The backup.
    pub report: BackupReport,
    /// Snapshots removed by retention.
    pub pruned: Vec<String>,
}

fn key_status(catalog: &lifeboat_core::Catalog) -> KeyStatus {
    let passphrase_tested_at = catalog
        .app_state(TESTED_AT)
        .ok()
        .flatten()
        .and_then(|v| v.parse().ok());
    match keys::load(None) {
        Ok((id, _)) => KeyStatus {
            state: KeyState::Ready,
            recipient: Some(id.to_public().to_string()),
            message: None,
            passphrase_tested_at,
        },
        Err(KeyError::Missing) => KeyStatus {
            state: KeyState::Missing,
            recipient: None,
            message: None,
            passphrase_tested_at,
        },
        Err(e) => KeyStatus {
            state: KeyState::Unavailable,
            recipient: None,
            message: Some(e.to_string()),
            passphrase_tested_at,
        },
    }
}

/// The app-state key that remembers the last successful passphrase test.
const TESTED_AT: &str = "passphrase_tested_at";

fn overview(state: &AppState, stack_id: i64) -> Result<BackupOverview, IpcError> {
    let record = state.catalog.stack(stack_id)?;
    let settings = state.catalog.settings(stack_id)?;
    let project = lifeboat_core::stack::load(Path::new(&record.dir), &LoadOptions::default())?;
    let destination = settings.destination().map(|p| DestinationStatus {
        present: p.is_dir(),
        has_recovery: p.join(RECOVERY_FILE).is_file(),
        free_bytes: fs4::available_space(&p).ok(),
        path: p.display().to_string(),
    });
    let space = settings
        .destination()
        .filter(|p| p.is_dir())
        .map_or_else(Vec::new, |p| space_of(&p, &project.name));
    Ok(BackupOverview {
        services: backup::service_choices(&project),
        history: state.catalog.backups(stack_id, 30)?,
        space,
        key: key_status(&state.catalog),
        destination,
        settings: for_window(settings),
    })
}

#[tauri::command]
pub async fn backup_overview(
    state: State<'_, AppState>,
    stack_id: i64,
) -> Result<BackupOverview, IpcError> {
    // The keyring call can block on a D-Bus round trip: keep it off the main thread.
    let state = state.inner().clone();
    blocking(move || overview(&state, stack_id)).await
}

/// Asks for the destination folder with the system's folder dialog and saves it. `None`
/// when the user closes the dialog.
#[tauri::command]
pub async fn choose_destination(
    app: tauri::AppHandle,
    state: State<'_, AppState>,
    stack_id: i64,
) -> Result<Option<BackupOverview>, IpcError> {
    state.catalog.stack(stack_id)?;
    let picked = tauri::async_runtime::spawn_blocking(move || {
        app.dialog()
            .file()
            .set_title("Choose where backups go (an external drive or a NAS folder)")
            .blocking_pick_folder()
    })
    .await
    .map_err(|e| IpcError::new(ErrorCode::Internal, e))?;
    let Some(dir) = picked.and_then(|p| p.into_path().ok()) else {
        return Ok(None);
    };
    let mut settings = state.catalog.settings(stack_id)?;
    settings.destination = Some(dir.display().to_string());
    state.catalog.save_settings(stack_id, &settings)?;
    let state = state.inner().clone();
    Ok(Some(blocking(move || overview(&state, stack_id)).await?))
}

#[tauri::command]
pub fn save_backup_settings(
    state: State<'_, AppState>,
    stack_id: i64,
    choices: BackupChoices,
) -> Result<StackSettings, IpcError> {
    let mut settings = state.catalog.settings(stack_id)?;
    settings.mode = choices.mode;
    settings.stop_services = choices.stop_services;
    settings.keep = choices.keep;
    state.catalog.save_settings(stack_id, &settings)?;
    Ok(for_window(settings))
}

/// A stack's settings as the window gets them: without its hook commands (a command may
/// carry a password; the window has no use for them).
fn for_window(settings: StackSettings) -> StackSettings {
    StackSettings {
        hooks: Default::default(),
        ..settings
    }
}

/// A new recovery passphrase, refused when shorter than [`keys::MIN_PASSPHRASE`].
fn new_passphrase(passphrase: String) -> Result<SecretString, IpcError> {
    let passphrase = SecretString::from(passphrase);
    keys::check_passphrase(&passphrase)?;
    Ok(passphrase)
}

/// Runs keyring, disk and catalog work off the main thread.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, IpcError> + Send + 'static,
) -> Result<T, IpcError> {
    tauri::async_runtime::spawn_blocking(f)
        .await
        .map_err(|e| IpcError::new(ErrorCode::Internal, e))?
}

/// The stack's destination, which must be there (the drive plugged in).
pub(crate) fn present_destination(state: &AppState, stack_id: i64) -> Result<PathBuf, IpcError> {
    let settings = state.catalog.settings(stack_id)?;
    let dest = settings.destination().ok_or_else(no_destination)?;
    if !dest.is_dir() {
        return Err(backup::BackupError::DestinationMissing(dest).into());
    }
    Ok(dest)
}

/// Remembers that the recovery passphrase was just proven known (tested, or chosen and
/// typed twice).
fn mark_tested(state: &AppState) -> Result<(), IpcError> {
    Ok(state
        .catalog
        .set_app_state(TESTED_AT, &lifeboat_core::time::unix_now().to_string())?)
}

/// Creates the backup key in the system keyring if there is none, and writes the recovery
/// file (the key, encrypted with `passphrase`) to the stack's destination.
#[tauri::command]
pub async fn setup_key(
    state: State<'_, AppState>,
    stack_id: i64,
    passphrase: String,
) -> Result<BackupOverview, IpcError> {
    let passphrase = new_passphrase(passphrase)?;
    let state = state.inner().clone();
    blocking(move || {
        let dest = present_destination(&state, stack_id)?;
        let identity = keys::load_or_init()?;
        let recovery = dest.join(RECOVERY_FILE);
        if !recovery.is_file() {
            keys::write_recovery(&identity, passphrase, &recovery)?;
            mark_tested(&state)?;
        }
        overview(&state, stack_id)
    })
    .await
}

/// Checks the recovery passphrase against the destination's recovery file (nothing is shown
/// or kept) and remembers when it passed.
#[tauri::command]
pub async fn test_passphrase(
    state: State<'_, AppState>,
    stack_id: i64,
    passphrase: String,
) -> Result<BackupOverview, IpcError> {
    let passphrase = SecretString::from(passphrase);
    let state = state.inner().clone();
    blocking(move || {
        let dest = present_destination(&state, stack_id)?;
        let identity = keys::load(None)?.0;
        keys::test_recovery(&dest.join(RECOVERY_FILE), passphrase, &identity)?;
        mark_tested(&state)?;
        overview(&state, stack_id)
    })
    .await
}

/// Writes the destination's recovery file again with a new passphrase.
#[tauri::command]
pub async fn change_passphrase(
    state: State<'_, AppState>,
    stack_id: i64,
    passphrase: String,
) -> Result<BackupOverview, IpcError> {
    let passphrase = new_passphrase(passphrase)?;
    let state = state.inner().clone();
    blocking(move || {
        let dest = present_destination(&state, stack_id)?;
        let identity = keys::load(None)?.0;
        keys::write_recovery(&identity, passphrase, &dest.join(RECOVERY_FILE))?;
        mark_tested(&state)?;
        overview(&state, stack_id)
    })
    .await
}

/// Writes the printable recovery kit into the destination and returns its file name there.
#[tauri::command]
pub async fn save_recovery_kit(
    state: State<'_, AppState>,
    stack_id: i64,
) -> Result<String, IpcError> {
    let state = state.inner().clone();
    blocking(move || {
        let dest = present_destination(&state, stack_id)?;
        let identity = keys::load(None)?.0;
        Ok(keys::write_recovery_kit(&dest, &identity)?
            .display()
            .to_string())
    })
    .await
}

pub(crate) fn no_destination() -> IpcError {
    IpcError::new(
        ErrorCode::NoDestination,
        "Choose where this stack's backups go first (an external drive or a NAS folder).",
    )
}

/// Backs up a stack now with its settings, then applies its retention. Progress, the
/// services stopped, and the end arrive on `on_event`. Refused while another job (a
/// scheduled backup, a restore) holds the stack.
#[tauri::command]
pub async fn start_backup(
    app: tauri::AppHandle,
    state: State<'_, AppState>,
    stack_id: i64,
    on_event: Channel<JobEvent>,
) -> Result<BackupDone, IpcError> {
    let record = state.catalog.stack(stack_id)?;
    let settings = state.catalog.settings(stack_id)?;
    settings.destination().ok_or_else(no_destination)?;
    let handle = tokio::runtime::Handle::current();
    let app_state = state.inner().clone();
    let result = run_job(&state, &on_event, move |cancel, events| {
        let state = app_state;
        let job = cancel.clone();
        let _claim = StackClaim::take(&state, stack_id, &job, &record.name)?;
        if let Some(bytes) = record.last_total_bytes {
            let _ = events.send(JobEvent::Estimate {
                bytes: bytes.max(0) as u64,
            });
        }
        let engine = BlockingEngine::connect(None, handle).ok();
        let progress = ChannelProgress::new(events);
        let done = lifeboat_core::around::backup_stack(
            &state.catalog,
            stack_id,
            engine,
            &progress,
            &cancel,
        )?;
        Ok(BackupDone {
            report: done.report,
            pruned: done.pruned,
        })
    })
    .await;
    crate::tray::refresh(&app);
    result
}

/// A stack held by one job; released when dropped.
pub(crate) struct StackClaim {
    state: AppState,
    stack_id: i64,
}

impl StackClaim {
    /// Holds `stack_id` for the job `cancel` belongs to, or says which job holds it.
    pub(crate) fn take(
        state: &AppState,
        stack_id: i64,
        cancel: &lifeboat_core::CancelToken,
        name: &str,
    ) -> Result<Self, IpcError> {
        Self::hold(state, stack_id, state.job_of(cancel).unwrap_or(0)).ok_or_else(|| {
            IpcError::new(
                ErrorCode::Busy,
                format!(
                    "A backup or restore of {name} is running; wait for it to finish or cancel it."
                ),
            )
        })
    }

    /// Holds `stack_id` for `job`; `None` when another job of this app holds it. (Jobs of
    /// other processes are kept out by the core's [`lifeboat_core::job::Claim`].)
    pub(crate) fn hold(state: &AppState, stack_id: i64, job: u64) -> Option<Self> {
        state.claim_stack(stack_id, job).then(|| Self {
            state: state.clone(),
            stack_id,
        })
    }
}

impl Drop for StackClaim {
    fn drop(&mut self) {
        self.state.release_stack(self.stack_id);
    }
}

/// At launch: puts right what a crash interrupted ([`lifeboat_core::recovery`]).
pub fn recover_interrupted(catalog: Arc<lifeboat_core::Catalog>) {
    if !lifeboat_core::recovery::pending(&catalog) {
        return;
    }
    let handle = tokio::runtime::Handle::current();
    std::thread::spawn(move || {
        let engine = BlockingEngine::connect(None, handle).ok();
        for line in lifeboat_core::recovery::after_crash(&catalog, engine.as_ref()) {
            tracing::warn!("{line}");
        }
    });
}
