//! The commands the web UI may call (see `capabilities/default.json`). Each takes ids, never
//! paths, converts, calls one core function and maps the error.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use lifeboat_core::catalog::{SizePoint, StackRecord};
use lifeboat_core::inspect::{inspect_stack as core_inspect, InspectOptions, Inspection};
use lifeboat_core::job::JobEvent;
use lifeboat_core::LoadOptions;
use serde::Serialize;
use tauri::ipc::Channel;
use tauri::State;
use tauri_plugin_dialog::DialogExt;
use ts_rs::TS;

use crate::error::{ErrorCode, IpcError};
use crate::AppState;

/// An inspection with the stack's record and its size history.
#[derive(Debug, Clone, Serialize, TS)]
pub struct InspectResult {
    /// The stack as the catalog knows it now.
    pub stack: StackRecord,
    /// What the inspection found.
    pub inspection: Inspection,
    /// Recent sizes per service, oldest first (this inspection last).
    pub history: BTreeMap<String, Vec<SizePoint>>,
}

#[tauri::command]
pub fn list_stacks(state: State<'_, AppState>) -> Result<Vec<StackRecord>, IpcError> {
    Ok(state.catalog.stacks()?)
}

/// Asks the user for a stack folder with the system's folder dialog and adds it. `None` when
/// the user closes the dialog.
#[tauri::command]
pub async fn add_stack(
    app: tauri::AppHandle,
    state: State<'_, AppState>,
) -> Result<Option<StackRecord>, IpcError> {
    let picked = tauri::async_runtime::spawn_blocking(move || {
        app.dialog()
            .file()
            .set_title("Choose the folder with your compose file")
            .blocking_pick_folder()
    })
    .await
    .map_err(|e| IpcError::new(ErrorCode::Internal, e))?;
    let Some(dir) = picked.and_then(|p| p.into_path().ok()) else {
        return Ok(None);
    };
    let project = lifeboat_core::stack::load(&dir, &LoadOptions::default())?;
    Ok(Some(lifeboat_core::settings::add_stack(
        &state.catalog,
        &project,
    )?))
}

#[tauri::command]
pub fn remove_stack(state: State<'_, AppState>, stack_id: i64) -> Result<(), IpcError> {
    Ok(state.catalog.remove_stack(stack_id)?)
}

/// The stack opened at launch, if any.
#[tauri::command]
pub fn get_startup(state: State<'_, AppState>) -> Option<i64> {
    state.startup_stack
}

#[tauri::command]
pub fn cancel_job(state: State<'_, AppState>, job_id: u64) -> bool {
    state.cancel_job(job_id)
}

/// Inspects a known stack, reporting progress on `on_event`.
#[tauri::command]
pub async fn inspect_stack(
    state: State<'_, AppState>,
    stack_id: i64,
    on_event: Channel<JobEvent>,
) -> Result<InspectResult, IpcError> {
    let record = state.catalog.stack(stack_id)?;
    let (job_id, cancel) = state.start_job();
    let _ = on_event.send(JobEvent::Started { job_id });
    let progress = Arc::new(ChannelProgress::new(on_event.clone()));
    let result = core_inspect(
        &state.catalog,
        Path::new(&record.dir),
        &LoadOptions::default(),
        InspectOptions::default(),
        progress,
        &cancel,
    )
    .await;
    state.end_job(job_id);
    match result {
        Ok((stack, inspection)) => {
            let _ = on_event.send(JobEvent::Finished);
            let history = state.catalog.size_history(stack.id, 20)?;
            Ok(InspectResult {
                stack,
                inspection,
                history,
            })
        }
        Err(e) => {
            let e = IpcError::from(e);
            let _ = on_event.send(JobEvent::Failed {
                message: e.message.clone(),
            });
            Err(e)
        }
    }
}

/// Runs `work` as a job off the main thread: `started` (with the id `cancel_job` takes),
/// then whatever `work` sends, then `finished` or `failed` with the error's sentence.
pub(crate) async fn run_job<T: Send + 'static>(
    state: &AppState,
    on_event: &Channel<JobEvent>,
    work: impl FnOnce(lifeboat_core::CancelToken, Channel<JobEvent>) -> Result<T, IpcError>
        + Send
        + 'static,
) -> Result<T, IpcError> {
    let (job_id, cancel) = state.start_job();
    let _ = on_event.send(JobEvent::Started { job_id });
    let events = on_event.clone();
    let result = crate::backups::blocking(move || work(cancel, events)).await;
    state.end_job(job_id);
    let _ = on_event.send(match &result {
        Ok(_) => JobEvent::Finished,
        Err(e) => JobEvent::Failed {
            message: e.message.clone(),
        },
    });
    result
}

/// Sends progress to the window, at most ten times a second.
pub(crate) struct ChannelProgress {
    channel: Channel<JobEvent>,
    files: AtomicU64,
    bytes: AtomicU64,
    last: Mutex<Instant>,
}

impl ChannelProgress {
    pub(crate) fn new(channel: Channel<JobEvent>) -> Self {
        Self {
            channel,
            files: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            last: Mutex::new(Instant::now()),
        }
    }
}

impl lifeboat_core::Progress for ChannelProgress {
    fn phase(&self, label: &str) {
        let _ = self.channel.send(JobEvent::Phase {
            label: label.to_owned(),
        });
    }
    fn advance(&self, files: u64, bytes: u64) {
        let files = self.files.fetch_add(files, Ordering::Relaxed) + files;
        let bytes = self.bytes.fetch_add(bytes, Ordering::Relaxed) + bytes;
        let mut last = self
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if last.elapsed().as_millis() >= 100 {
            *last = Instant::now();
            let _ = self.channel.send(JobEvent::Progress { files, bytes });
        }
    }
    fn estimate(&self, bytes: u64) {
        let _ = self.channel.send(JobEvent::Estimate { bytes });
    }
    fn services_stopped(&self, services: &[String]) {
        let _ = self.channel.send(JobEvent::ServicesStopped {
            services: services.to_vec(),
        });
    }
    fn services_started(&self) {
        let _ = self.channel.send(JobEvent::ServicesStarted);
    }
}
