//! "Restore from a backup drive": the new-machine path. Choose the drive (or the default
//! destination), unlock it with the recovery passphrase (the key goes into the keyring when
//! this computer has none), pick a stack and a point in time, and restore the whole stack
//! into a new folder, which then becomes a stack of this Lifeboat. Paths come from the
//! system's folder dialog or the defaults, never from the web UI.

use std::path::{Path, PathBuf};

use age::secrecy::SecretString;
use lifeboat_core::backup::verify::{self, SnapshotSummary};
use lifeboat_core::catalog::StackRecord;
use lifeboat_core::docker::BlockingEngine;
use lifeboat_core::job::JobEvent;
use lifeboat_core::keys::{self, KeyError, RECOVERY_FILE};
use lifeboat_core::restore::{self, RestoreOptions, RestoreReport};
use lifeboat_core::LoadOptions;
use serde::Serialize;
use tauri::ipc::Channel;
use tauri::State;
use tauri_plugin_dialog::DialogExt;
use ts_rs::TS;

use crate::backups::blocking;
use crate::commands::{run_job, ChannelProgress};
use crate::error::{ErrorCode, IpcError};
use crate::AppState;

/// The drive being restored from, and what this process knows about it.
#[derive(Clone, Default)]
pub(crate) struct Drive {
    path: Option<PathBuf>,
    /// The key recovered from the drive, when the keyring holds another one.
    identity: Option<age::x25519::Identity>,
    /// The folder the stack's new folder goes into.
    parent: Option<PathBuf>,
}

/// One stack on the drive.
#[derive(Debug, Clone, Serialize, TS)]
pub struct DriveStack {
    /// Its name.
    pub name: String,
    /// Its snapshots, newest first.
    pub snapshots: Vec<SnapshotSummary>,
}

/// How far the key opens a backup drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum DriveState {
    /// No folder chosen.
    None,
    /// No Lifeboat backups there.
    Empty,
    /// The recovery passphrase is needed.
    Locked,
    /// The key opens its backups.
    Open,
}

/// What the drive holds, as far as the key opens it.
#[derive(Debug, Clone, Serialize, TS)]
pub struct DriveInfo {
    /// The folder, once chosen.
    pub path: Option<String>,
    /// It holds a recovery file.
    pub has_recovery: bool,
    /// How far the key opens it.
    pub state: DriveState,
    /// The stacks, when open.
    pub stacks: Vec<DriveStack>,
    /// The folder the restored stack's folder goes into.
    pub parent: Option<String>,
}

/// The identity that opens the drive: the recovered one, else the keyring's.
fn identity(drive: &Drive) -> Option<age::x25519::Identity> {
    drive
        .identity
        .clone()
        .or_else(|| keys::load(None).ok().map(|(i, _)| i))
}

fn info(drive: &Drive) -> DriveInfo {
    let parent = drive
        .parent
        .clone()
        .or_else(dirs::home_dir)
        .map(|p| p.display().to_string());
    let Some(path) = &drive.path else {
        return DriveInfo {
            path: None,
            has_recovery: false,
            state: DriveState::None,
            stacks: Vec::new(),
            parent,
        };
    };
    let has_recovery = path.join(RECOVERY_FILE).is_file();
    let names = verify::stacks_in(path);
    let mut stacks = Vec::new();
    let state = if names.is_empty() {
        DriveState::Empty
    } else {
        match identity(drive) {
            Some(id) => {
                let listed: Result<Vec<DriveStack>, _> = names
                    .iter()
                    .map(|n| {
                        verify::list(path, Some(n), &id).map(|mut s| {
                            s.reverse();
                            DriveStack {
                                name: n.clone(),
                                snapshots: s,
                            }
                        })
                    })
                    .collect();
                match listed {
                    Ok(l) => {
                        stacks = l;
                        DriveState::Open
                    }
                    Err(_) => DriveState::Locked,
                }
            }
            None => DriveState::Locked,
        }
    };
    DriveInfo {
        path: Some(path.display().to_string()),
        has_recovery,
        state,
        stacks,
        parent,
    }
}

/// The drive as it stands; the default destination (`LIFEBOAT_DESTINATION`) when none was
/// chosen yet.
#[tauri::command]
pub async fn backup_drive(state: State<'_, AppState>) -> Result<DriveInfo, IpcError> {
    let state = state.inner().clone();
    blocking(move || {
        let mut drive = state.drive();
        if drive.path.is_none() {
            drive.path = std::env::var_os("LIFEBOAT_DESTINATION")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .filter(|p| p.is_dir());
            state.set_drive(drive.clone());
        }
        Ok(info(&drive))
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
            drive = Drive {
                path: Some(p),
                identity: None,
                parent: drive.parent,
            };
            state.set_drive(drive.clone());
        }
        Ok(info(&drive))
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
        let path = drive.path.clone().ok_or_else(no_drive)?;
        let recovered = keys::read_recovery(&path.join(RECOVERY_FILE), passphrase)?;
        match keys::load(None) {
            Err(KeyError::Missing) => keys::store(&recovered, None)?,
            Ok((id, _)) if id.to_public().to_string() == recovered.to_public().to_string() => {}
            // Another key lives here already: use this one for the session only.
            _ => drive.identity = Some(recovered),
        }
        state.set_drive(drive.clone());
        Ok(info(&drive))
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
            drive.parent = Some(p);
            state.set_drive(drive.clone());
        }
        Ok(info(&drive))
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

fn no_drive() -> IpcError {
    IpcError::new(
        ErrorCode::DestinationMissing,
        "Choose the folder of the backup drive first.",
    )
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
        let state = app_state;
        let drive = state.drive();
        let from = drive.path.clone().ok_or_else(no_drive)?;
        if !verify::stacks_in(&from).contains(&stack) {
            return Err(IpcError::new(
                ErrorCode::RestoreFailed,
                format!("The drive has no stack named {stack}."),
            ));
        }
        let parent = drive.parent.clone().or_else(dirs::home_dir).ok_or_else(|| {
            IpcError::new(ErrorCode::RestoreFailed, "Choose where the stack's folder goes.")
        })?;
        let target = parent.join(&stack);
        if std::fs::read_dir(&target).is_ok_and(|mut d| d.next().is_some()) {
            return Err(IpcError::new(
                ErrorCode::RestoreFailed,
                format!(
                    "{} already exists and is not empty; choose another place for the stack's folder.",
                    target.display()
                ),
            ));
        }
        let identity = identity(&drive).ok_or_else(|| IpcError::from(KeyError::Missing))?;
        let opts = RestoreOptions {
            from,
            snapshot,
            stack: Some(stack),
            into: Some(target.clone()),
            engine: BlockingEngine::connect(None, handle).ok(),
            catalog: Some(state.catalog.clone()),
            ..RestoreOptions::default()
        };
        let plan = restore::plan(&opts, &identity)?;
        let _ = events.send(JobEvent::Estimate {
            bytes: plan.preview().components.iter().map(|c| c.bytes).sum(),
        });
        let progress = ChannelProgress::new(events);
        let report = restore::apply(plan, &identity, &progress, &cancel)?;
        let project = lifeboat_core::stack::load(Path::new(&target), &LoadOptions::default())?;
        let stack = lifeboat_core::settings::add_stack(&state.catalog, &project)?;
        Ok(DriveRestoreDone { report, stack })
    })
    .await
}
