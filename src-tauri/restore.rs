//! Restore commands behind the wizard: the points in time of a stack's destination, the
//! folder dialog for "another folder", the plan (preview), the restore with progress and
//! cancel, and undo. They take a stack id, snapshot ids and component names; the only
//! path, the other folder, comes from the system's dialog and stays on this side.

use std::path::PathBuf;

use lifeboat_core::backup::verify::{self, SnapshotSummary};
use lifeboat_core::docker::BlockingEngine;
use lifeboat_core::job::JobEvent;
use lifeboat_core::keys;
use lifeboat_core::restore::{self, RestoreOptions, RestorePlan, RestoreReport, UndoReport};
use serde::{Deserialize, Serialize};
use tauri::ipc::Channel;
use tauri::State;
use tauri_plugin_dialog::DialogExt;
use ts_rs::TS;

use crate::backups::blocking;
use crate::commands::{run_job, ChannelProgress};
use crate::error::{ErrorCode, IpcError};
use crate::AppState;

/// The last restore of a stack.
#[derive(Debug, Clone, Serialize, TS)]
pub struct LastRestore {
    /// Its id.
    pub id: String,
    /// The snapshot it restored.
    pub snapshot: String,
    /// Where it is: done (and can be undone), rolled back, undone, …
    pub state: restore::journal::State,
    /// Where it restored to.
    pub target: String,
    /// The components.
    pub components: Vec<String>,
    /// When it ran (Unix seconds).
    #[ts(type = "number")]
    pub started: i64,
    /// It finished and can be undone.
    pub can_undo: bool,
}

/// What the wizard's first step shows.
#[derive(Debug, Clone, Serialize, TS)]
pub struct RestorePoints {
    /// The destination the stack backs up to.
    pub destination: Option<String>,
    /// It is there (the drive is plugged in).
    pub present: bool,
    /// Snapshots of the stack, newest first.
    pub snapshots: Vec<SnapshotSummary>,
    /// The last restore of this stack, if any.
    pub last_restore: Option<LastRestore>,
    /// The other folder chosen for this stack, if any.
    pub other_folder: Option<String>,
}

/// What the user chose in the wizard.
#[derive(Debug, Clone, Deserialize, TS)]
pub struct RestoreRequest {
    /// The snapshot id.
    pub snapshot: String,
    /// Component names; empty for everything.
    pub components: Vec<String>,
    /// Restore into the folder chosen with [`choose_restore_folder`] instead of the stack's.
    pub other_folder: bool,
    /// List every added, changed and removed path.
    pub list_paths: bool,
}

fn last_restore(state: &AppState, stack: &str) -> Option<LastRestore> {
    let j = restore::last_restore(&state.catalog).filter(|j| j.stack == stack)?;
    Some(LastRestore {
        can_undo: j.state == restore::journal::State::Done,
        id: j.id,
        snapshot: j.snapshot,
        state: j.state,
        target: j.target.display().to_string(),
        components: j.components,
        started: j.started,
    })
}

fn options(
    state: &AppState,
    stack_id: i64,
    req: &RestoreRequest,
    engine: Option<BlockingEngine>,
) -> Result<RestoreOptions, IpcError> {
    let record = state.catalog.stack(stack_id)?;
    let settings = state.catalog.settings(stack_id)?;
    let from = settings.destination().ok_or_else(|| {
        IpcError::new(
            ErrorCode::NoDestination,
            "This stack has no backup destination yet, so there is nothing to restore from.",
        )
    })?;
    if !from.is_dir() {
        return Err(lifeboat_core::backup::BackupError::DestinationMissing(from).into());
    }
    let into = if req.other_folder {
        Some(state.restore_folder(stack_id).ok_or_else(|| {
            IpcError::new(ErrorCode::RestoreFailed, "Choose the other folder first.")
        })?)
    } else {
        None
    };
    Ok(RestoreOptions {
        from,
        snapshot: req.snapshot.clone(),
        only: req.components.clone(),
        into,
        // The stack's own folder is the one this computer knows, not the one a snapshot names.
        stack_dir: Some(PathBuf::from(&record.dir)),
        stack: Some(record.name),
        list_paths: req.list_paths,
        engine,
        catalog: Some(state.catalog.clone()),
    })
}

#[tauri::command]
pub async fn restore_points(
    state: State<'_, AppState>,
    stack_id: i64,
) -> Result<RestorePoints, IpcError> {
    let state = state.inner().clone();
    blocking(move || {
        let record = state.catalog.stack(stack_id)?;
        let settings = state.catalog.settings(stack_id)?;
        let dest = settings.destination();
        let present = dest.as_ref().is_some_and(|d| d.is_dir());
        let mut snapshots = Vec::new();
        if let (Some(d), true) = (&dest, present) {
            let identity = keys::load(None)?.0;
            snapshots = verify::list(d, Some(&record.name), &identity)
                .map_err(|e| IpcError::new(ErrorCode::RestoreFailed, e))?;
            snapshots.reverse();
        }
        Ok(RestorePoints {
            destination: dest.map(|d| d.display().to_string()),
            present,
            snapshots,
            last_restore: last_restore(&state, &record.name),
            other_folder: state
                .restore_folder(stack_id)
                .map(|p| p.display().to_string()),
        })
    })
    .await
}

/// Asks for the other folder with the system's folder dialog; returns it for display.
#[tauri::command]
pub async fn choose_restore_folder(
    app: tauri::AppHandle,
    state: State<'_, AppState>,
    stack_id: i64,
) -> Result<Option<String>, IpcError> {
    state.catalog.stack(stack_id)?;
    let picked = tauri::async_runtime::spawn_blocking(move || {
        app.dialog()
            .file()
            .set_title("Choose the folder to restore into")
            .blocking_pick_folder()
    })
    .await
    .map_err(|e| IpcError::new(ErrorCode::Internal, e))?;
    let Some(dir) = picked.and_then(|p| p.into_path().ok()) else {
        return Ok(None);
    };
    state.set_restore_folder(stack_id, dir.clone());
    Ok(Some(dir.display().to_string()))
}

#[tauri::command]
pub async fn plan_restore(
    state: State<'_, AppState>,
    stack_id: i64,
    request: RestoreRequest,
) -> Result<RestorePlan, IpcError> {
    let state = state.inner().clone();
    let handle = tokio::runtime::Handle::current();
    blocking(move || {
        let engine = BlockingEngine::connect(None, handle).ok();
        let opts = options(&state, stack_id, &request, engine)?;
        let identity = keys::load(None)?.0;
        let plan = restore::plan(&opts, &identity)?;
        let preview = plan.preview().clone();
        state.keep_preview(stack_id, plan);
        Ok(preview)
    })
    .await
}

/// The stack's previewed plan, when it is the restore `request` asks for now (the same
/// snapshot, components, folder and destination).
fn previewed(
    state: &AppState,
    stack_id: i64,
    request: &RestoreRequest,
) -> Result<restore::Plan, IpcError> {
    let asked = options(state, stack_id, request, None)?;
    let plan = state.take_preview(stack_id).filter(|p| {
        let o = p.options();
        (&o.from, &o.snapshot, &o.only, &o.into, &o.stack_dir)
            == (
                &asked.from,
                &asked.snapshot,
                &asked.only,
                &asked.into,
                &asked.stack_dir,
            )
    });
    plan.ok_or_else(|| {
        IpcError::new(
            ErrorCode::Outdated,
            "This restore was not previewed with these choices; nothing was changed. Go back and \
             preview it again.",
        )
    })
}

/// Carries out the restore the wizard previewed for `request` ([`plan_restore`]);
/// progress arrives on `on_event`.
#[tauri::command]
pub async fn start_restore(
    state: State<'_, AppState>,
    stack_id: i64,
    request: RestoreRequest,
    on_event: Channel<JobEvent>,
) -> Result<RestoreReport, IpcError> {
    let app_state = state.inner().clone();
    let name = state.catalog.stack(stack_id)?.name;
    run_job(&state, &on_event, move |cancel, events| {
        let _claim = crate::backups::StackClaim::take(&app_state, stack_id, &cancel, &name)?;
        let plan = previewed(&app_state, stack_id, &request)?;
        let identity = keys::load(None)?.0;
        let _ = events.send(JobEvent::Estimate {
            bytes: plan.preview().components.iter().map(|c| c.bytes).sum(),
        });
        let progress = ChannelProgress::new(events);
        let target = std::path::PathBuf::from(&plan.preview().target);
        let from = app_state.catalog.settings(stack_id)?.destination();
        let (hooks, ctx) = lifeboat_core::around::restore_hooks(
            &app_state.catalog,
            &target,
            &name,
            from.as_deref(),
        );
        let (report, after) = lifeboat_core::around::guard_restore(&hooks, &ctx, || {
            restore::apply(plan, &identity, &progress, &cancel)
        });
        if let Some(p) = after.post_hook {
            tracing::warn!("{name}: {p}");
        }
        Ok(report?)
    })
    .await
}

/// Puts back what the stack's last restore replaced.
#[tauri::command]
pub async fn undo_restore(
    state: State<'_, AppState>,
    stack_id: i64,
) -> Result<UndoReport, IpcError> {
    let state = state.inner().clone();
    let handle = tokio::runtime::Handle::current();
    blocking(move || {
        let record = state.catalog.stack(stack_id)?;
        if last_restore(&state, &record.name).is_none_or(|l| !l.can_undo) {
            return Err(restore::RestoreError::NothingToUndo.into());
        }
        let engine = BlockingEngine::connect(None, handle).ok();
        // Undo needs the key only to load a database's earlier content back.
        let identity = keys::load(None).ok().map(|(id, _)| id);
        Ok(restore::undo(
            &state.catalog,
            Some(std::path::Path::new(&record.dir)),
            engine.as_ref(),
            identity.as_ref(),
        )?)
    })
    .await
}

/// Opens the folder the stack's last restore went to (or the stack's folder) in the
/// system's file manager.
#[tauri::command]
pub async fn open_restored_folder(
    state: State<'_, AppState>,
    stack_id: i64,
) -> Result<(), IpcError> {
    let state = state.inner().clone();
    blocking(move || {
        let record = state.catalog.stack(stack_id)?;
        let dir = last_restore(&state, &record.name)
            .map(|l| l.target)
            .unwrap_or(record.dir);
        open::that_detached(&dir).map_err(|e| {
            IpcError::new(
                ErrorCode::Internal,
                format!("{dir} could not be opened in the file manager: {e}"),
            )
        })
    })
    .await
}
