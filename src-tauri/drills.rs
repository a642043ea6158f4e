//! Restore drills on the stack page: whether (and when) the stack was last proven
//! restorable, the drill history, "Run a drill now" with progress and Cancel, and how often
//! scheduled drills run. The drill itself is the core's ([`lifeboat_core::drill`]); the
//! scheduler loop runs the scheduled ones ([`crate::scheduler`]).

use lifeboat_core::catalog::DrillRecord;
use lifeboat_core::docker::BlockingEngine;
use lifeboat_core::drill::{self, DrillReport};
use lifeboat_core::job::JobEvent;
use lifeboat_core::keys;
use serde::Serialize;
use tauri::ipc::Channel;
use tauri::State;
use ts_rs::TS;

use crate::backups::{present_destination, StackClaim};
use crate::commands::{run_job, ChannelProgress};
use crate::error::{ErrorCode, IpcError};
use crate::AppState;

/// How a drill ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum DrillOutcome {
    /// It proved the snapshot restorable.
    Passed,
    /// It found a problem (or could not restore at all).
    Failed,
    /// The user cancelled it.
    Cancelled,
    /// Lifeboat stopped during it (its sandbox was removed at the next start).
    Interrupted,
}

/// One drill in the history.
#[derive(Debug, Clone, Serialize, TS)]
pub struct DrillRun {
    /// When it started (Unix seconds).
    #[ts(type = "number")]
    pub started: i64,
    /// When it ended (Unix seconds).
    #[ts(type = "number")]
    pub finished: i64,
    /// How it ended.
    pub outcome: DrillOutcome,
    /// The snapshot it drilled.
    pub snapshot: Option<String>,
    /// What it checked and found, when it ran to the end.
    pub report: Option<DrillReport>,
    /// Why it could not run to the end, as a sentence.
    pub error: Option<String>,
}

impl DrillRun {
    fn of(d: DrillRecord) -> Self {
        let json: serde_json::Value = d
            .report
            .as_deref()
            .and_then(|r| serde_json::from_str(r).ok())
            .unwrap_or_default();
        let report = serde_json::from_value::<DrillReport>(json.clone()).ok();
        let error = json
            .get("error")
            .and_then(|e| e.as_str())
            .map(lifeboat_core::alerts::upper_first);
        let outcome = match d.ok {
            Some(true) => DrillOutcome::Passed,
            Some(false) => DrillOutcome::Failed,
            None if json.get("interrupted").is_some() => DrillOutcome::Interrupted,
            None => DrillOutcome::Cancelled,
        };
        Self {
            started: d.started,
            finished: d.finished.unwrap_or(d.started),
            outcome,
            snapshot: d.snapshot,
            report,
            error,
        }
    }
}

/// The drills part of a stack page.
#[derive(Debug, Clone, Serialize, TS)]
pub struct DrillOverview {
    /// The last drill that proved the stack restorable.
    pub last_proven: Option<DrillRun>,
    /// Recent drills, newest first.
    pub history: Vec<DrillRun>,
    /// Days between scheduled drills as chosen (0: off); they run only with a schedule.
    pub every_days: u32,
    /// The stack has a backup schedule (so scheduled drills run).
    pub scheduled: bool,
}

fn overview(state: &AppState, stack_id: i64) -> Result<DrillOverview, IpcError> {
    let record = state.catalog.stack(stack_id)?;
    let settings = state.catalog.settings(stack_id)?;
    Ok(DrillOverview {
        last_proven: state.catalog.last_proven(&record.name)?.map(DrillRun::of),
        history: state
            .catalog
            .drills(&record.name, 20)?
            .into_iter()
            .map(DrillRun::of)
            .collect(),
        every_days: settings
            .drill_every_days
            .unwrap_or(lifeboat_core::schedule::DRILL_EVERY_DAYS),
        scheduled: settings.schedule.is_some(),
    })
}

#[tauri::command]
pub fn drill_overview(
    state: State<'_, AppState>,
    stack_id: i64,
) -> Result<DrillOverview, IpcError> {
    overview(&state, stack_id)
}

/// Sets the days between scheduled drills (0 turns them off; at most a year).
#[tauri::command]
pub fn set_drill_interval(
    state: State<'_, AppState>,
    stack_id: i64,
    days: u32,
) -> Result<DrillOverview, IpcError> {
    if days > 366 {
        return Err(IpcError::new(
            ErrorCode::BadSchedule,
            "Choose a drill at least once a year, or turn scheduled drills off.",
        ));
    }
    let mut settings = state.catalog.settings(stack_id)?;
    settings.drill_every_days = Some(days);
    state.catalog.save_settings(stack_id, &settings)?;
    overview(&state, stack_id)
}

/// Drills the stack's latest snapshot now: restores it into a sandbox under Lifeboat's
/// folder, loads its databases in throwaway containers, checks everything against the
/// manifest. Progress and the end arrive on `on_event`; a drill that finds a problem
/// returns its report with `ok: false` (and raises the alert a failed backup would).
#[tauri::command]
pub async fn run_drill(
    app: tauri::AppHandle,
    state: State<'_, AppState>,
    stack_id: i64,
    on_event: Channel<JobEvent>,
) -> Result<DrillReport, IpcError> {
    let record = state.catalog.stack(stack_id)?;
    let handle = tokio::runtime::Handle::current();
    let app_state = state.inner().clone();
    let result = run_job(&state, &on_event, move |cancel, events| {
        let state = app_state;
        let from = present_destination(&state, stack_id)?;
        let _claim = StackClaim::take(&state, stack_id, &cancel, &record.name)?;
        let identity = keys::load(None)?.0;
        let opts = drill::DrillOptions {
            from,
            stack: Some(record.name.clone()),
            snapshot: "latest".into(),
            scratch: lifeboat_core::catalog::home()?.join("drills"),
            engine: BlockingEngine::connect(None, handle).ok(),
            catalog: Some(state.catalog.clone()),
        };
        let progress = ChannelProgress::new(events);
        let result = drill::run(&opts, &identity, &progress, &cancel);
        if let Some(alert) = drill::scheduled::alert_for(stack_id, &record.name, &result) {
            tracing::warn!("{}: {}", alert.summary, alert.body);
        }
        Ok(result?)
    })
    .await;
    crate::tray::refresh(&app);
    result
}

/// Runs the scheduled drills that are due, each as a job the tray can cancel, one after the
/// other; a failed one is notified like a failed backup. Called by the scheduler loop.
pub fn run_due(app: &tauri::AppHandle, state: &AppState) {
    let due = drill::scheduled::due(&state.catalog, &chrono::Local::now());
    if due.is_empty() {
        return;
    }
    let (Ok((identity, _)), Ok(home)) = (keys::load(None), lifeboat_core::catalog::home()) else {
        return;
    };
    for d in due {
        let (job_id, cancel) = state.start_job();
        let Some(claim) = StackClaim::hold(state, d.stack_id, job_id) else {
            state.end_job(job_id);
            continue;
        };
        tracing::info!("scheduled drill of {} starting", d.stack);
        crate::tray::refresh(app);
        let engine = BlockingEngine::connect(None, crate::scheduler::tokio_handle()).ok();
        let result = drill::scheduled::run_due(
            &state.catalog,
            &d,
            home.join("drills"),
            engine,
            &identity,
            &lifeboat_core::job::NoProgress,
            &cancel,
        );
        drop(claim);
        state.end_job(job_id);
        match &result {
            Ok(r) => tracing::info!("drill of {}: {}", d.stack, r.summary()),
            Err(e) => tracing::warn!("drill of {}: {e}", d.stack),
        }
        if let Some(alert) = drill::scheduled::alert_for(d.stack_id, &d.stack, &result) {
            crate::scheduler::notify(app, alert);
        }
        let _ = tauri::Emitter::emit(app, crate::scheduler::CHANGED, d.stack_id);
    }
    crate::tray::refresh(app);
}
