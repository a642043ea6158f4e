//! "Restore from a backup drive": the new-machine path. Choose the drive (or the default
//! destination), unlock it with the recovery passphrase (the key goes into the keyring when
//! this computer has none), pick a stack and a point in time, and restore the whole stack
//! into a new folder, which then becomes a stack of this Lifeboat. Paths come from the
//! system's folder dialog or the defaults, never from the web UI.

use std::path::PathBuf;

use age::secrecy::SecretString;
use lifeboat_core::catalog::StackRecord;
use lifeboat_core::docker::BlockingEngine;
use lifeboat_core::job::JobEvent;
use lifeboat_core::restore::drive::Drive;
pub use lifeboat_core::restore::drive::{DriveInfo, DriveStack};
use lifeboat_core::restore::RestoreReport;
use serde::Serialize;
use tauri::ipc::Channel;
use tauri::State;
use tauri_plugin_dialog::DialogExt;
use ts_rs::TS;

use crate::backups::blocking;
use crate::commands::{run_job, ChannelProgress};
use crate::error::{ErrorCode, IpcError};
use crate::AppState;

/// The drive as it stands; the default destination (`LIFEBOAT_DESTINATION`) when none was
/// chosen yet.
#[tauri::command]
pub async fn backup_drive(state: State<'_, AppState>) -> Result<DriveInfo, IpcError> {
    let state = state.inner().clone();
    blocking(move || {
        let mut drive = state.drive();
        if !drive.is_chosen() {
            drive = Drive::default_destination();
            state.set_drive(drive.clone());
        }
        Ok(drive.survey())
    })
    .await
}

async fn pick_folder(
    app: tauri::AppHandle,
    title: &'static str,
) -> Result<Option<PathBuf>, IpcError> {
    let picked = tauri::async_runtime::spawn_blocking(move || {
        app.dialog().file().set_title(title).blocking_pick_folder()
    })
    .await
    .map_err(|e| IpcError::new(ErrorCode::Internal, e))?;
    Ok(picked.and_then(|p| p.into_path().ok()))
}

/// Asks for the backup drive's folder with the system's dialog.
#[tauri::command]
pub async fn choose_backup_drive(
    app: tauri::AppHandle,
    state: State<'_, AppState>,
) -> Result<DriveInfo, IpcError> {
    let picked = pick_folder(app, "Choose the folder that holds your Lifeboat backups").await?;
    let state = state.inner().clone();
    blocking(move || {
        let mut drive = state.drive();
        if let Some(p) = picked {
            drive.choose(p);
            state.set_drive(drive.clone());
        }
        Ok(drive.survey())
    })
    .await
}

/// Opens the drive with the recovery passphrase: the key goes into the keyring when this
/// computer has none, else it is kept in memory for this session.
#[tauri::command]
pub async fn unlock_backup_drive(
    state: State<'_, AppState>,
    passphrase: String,
) -> Result<DriveInfo, IpcError> {
    let passphrase = SecretString::from(passphrase);
    let state = state.inner().clone();
    blocking(move || {
        let mut drive = state.drive();
        drive.unlock(passphrase)?;
        state.set_drive(drive.clone());
        Ok(drive.survey())
    })
    .await
}

/// Asks for the folder the restored stack's folder goes into.
#[tauri::command]
pub async fn choose_drive_target(
    app: tauri::AppHandle,
    state: State<'_, AppState>,
) -> Result<DriveInfo, IpcError> {
    let picked = pick_folder(app, "Choose where the restored stack's folder goes").await?;
    let state = state.inner().clone();
    blocking(move || {
        let mut drive = state.drive();
        if let Some(p) = picked {
            drive.put_stacks_in(p);
            state.set_drive(drive.clone());
        }
        Ok(drive.survey())
    })
    .await
}

/// A restore from the drive, and the stack it became.
#[derive(Debug, Clone, Serialize, TS)]
pub struct DriveRestoreDone {
    /// What the restore did.
    pub report: RestoreReport,
    /// The new stack in Lifeboat.
    pub stack: StackRecord,
}

/// Restores the whole of `stack`'s `snapshot` into a new folder named after the stack, and
/// adds it to Lifeboat.
#[tauri::command]
pub async fn restore_from_drive(
    state: State<'_, AppState>,
    stack: String,
    snapshot: String,
    on_event: Channel<JobEvent>,
) -> Result<DriveRestoreDone, IpcError> {
    let handle = tokio::runtime::Handle::current();
    let app_state = state.inner().clone();
    run_job(&state, &on_event, move |cancel, events| {
        let engine = BlockingEngine::connect(None, handle).ok();
        let plan = app_state
            .drive()
            .plan(&stack, &snapshot, engine, &app_state.catalog)?;
        let _ = events.send(JobEvent::Estimate {
            bytes: plan.preview().components.iter().map(|c| c.bytes).sum(),
        });
        let progress = ChannelProgress::new(events);
        let (report, stack) = plan.finish(&app_state.catalog, &progress, &cancel)?;
        Ok(DriveRestoreDone { report, stack })
    })
    .await
}
