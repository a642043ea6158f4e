//! The scheduler loop of the desktop app, its notifications, the tray menu's actions, and
//! the schedule commands of the stack page. The logic (what is due, catch-up, backoff,
//! alerts) is the core's; this file only wires it to threads, the tray and the window.

use std::time::Duration;

use chrono::Local;
use lifeboat_core::alerts::{self, Alert, Levels};
use lifeboat_core::docker::BlockingEngine;
use lifeboat_core::schedule::{Pause, Schedule, ScheduleState};
use lifeboat_core::scheduler::{self, Outcome};
use serde::Serialize;
use tauri::{AppHandle, Emitter, Manager, State};
use tauri_plugin_autostart::ManagerExt;
use tauri_plugin_dialog::{DialogExt, MessageDialogButtons};
use ts_rs::TS;

use crate::error::{ErrorCode, IpcError};
use crate::AppState;

/// The event the window listens to: a stack's backups changed (a run started or ended).
pub const CHANGED: &str = "backups-changed";
/// The event that asks the window to show a stack (a notification or the tray was clicked).
pub const OPEN_STACK: &str = "open-stack";

/// Seconds between checks; `LIFEBOAT_TICK_SECS` shortens it in tests.
fn tick_every() -> Duration {
    lifeboat_core::scheduler::tick_every(Duration::from_secs(20))
}

pub(crate) fn tokio_handle() -> tokio::runtime::Handle {
    match tauri::async_runtime::handle() {
        tauri::async_runtime::RuntimeHandle::Tokio(h) => h,
    }
}

/// Starts the scheduler thread.
pub fn spawn(app: AppHandle) {
    std::thread::Builder::new()
        .name("lifeboat-scheduler".into())
        .spawn(move || loop {
            check(&app);
            std::thread::sleep(tick_every());
        })
        .ok();
}

/// One check: runs what is due, then says what needs saying.
fn check(app: &AppHandle) {
    let state = app.state::<AppState>().inner().clone();
    let catalog = state.catalog.clone();
    let now = Local::now();
    let mut runner = |stack_id: i64| run_scheduled(app, &state, stack_id);
    let events = match scheduler::tick(&catalog, &now, &mut runner) {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!("the scheduler could not read the catalog: {e}");
            return;
        }
    };
    match alerts::after_tick(&catalog, &events, &now) {
        Ok(said) => {
            for a in &said {
                notify_desktop(app, a.clone());
            }
            // The channels (ntfy, mail…) get the same, and successes when they want them;
            // off the scheduler's thread, so a slow server never holds up a backup.
            let (catalog, events) = (catalog.clone(), events.clone());
            std::thread::spawn(move || {
                lifeboat_core::notify::after_tick(&catalog, &events, &said);
            });
        }
        Err(e) => tracing::warn!("the scheduler could not read the catalog: {e}"),
    }
    if !events.is_empty() {
        let _ = app.emit(CHANGED, ());
    }
    crate::drills::run_due(app, &state);
    crate::tray::refresh(app);
}

/// Backs a stack up for its schedule, as a job the tray can cancel.
fn run_scheduled(app: &AppHandle, state: &AppState, stack_id: i64) -> Outcome {
    let (job_id, cancel) = state.start_job();
    let Some(claim) = crate::backups::StackClaim::hold(state, stack_id, job_id) else {
        state.end_job(job_id);
        return Outcome::Busy;
    };
    let _ = app.emit(CHANGED, stack_id);
    crate::tray::refresh(app);
    let engine = BlockingEngine::connect(None, tokio_handle()).ok();
    let result = lifeboat_core::around::backup_stack(
        &state.catalog,
        stack_id,
        engine,
        &lifeboat_core::job::NoProgress,
        &cancel,
    );
    drop(claim);
    state.end_job(job_id);
    Outcome::of(&result)
}

/// Shows a notification (a click on it opens the stack's page) and sends it to the
/// notification channels.
pub fn notify(app: &AppHandle, alert: Alert) {
    let catalog = app.state::<AppState>().catalog.clone();
    let for_channels = alert.clone();
    std::thread::spawn(move || {
        lifeboat_core::notify::deliver(&catalog, &for_channels);
    });
    notify_desktop(app, alert);
}

/// Shows a desktop notification; a click on it opens the stack's page.
fn notify_desktop(app: &AppHandle, alert: Alert) {
    tracing::info!("notify: {}: {}", alert.summary, alert.body);
    let app = app.clone();
    std::thread::spawn(move || match alerts::send(&alert) {
        Ok(handle) => handle.wait_for_action(|action| {
            if action == "default" || action == "Open" {
                show_stack(&app, Some(alert.stack_id));
            }
        }),
        Err(e) => tracing::warn!("{e}"),
    });
}

/// Brings the window back and, with a stack, opens its page.
pub fn show_stack(app: &AppHandle, stack_id: Option<i64>) {
    if let Some(w) = app.get_webview_window("main") {
        let _ = w.show();
        let _ = w.unminimize();
        let _ = w.set_focus();
    }
    if let Some(id) = stack_id {
        let _ = app.emit(OPEN_STACK, id);
    }
}

/// What the tray menu's entries do.
pub fn on_menu(app: &AppHandle, id: &str) {
    let state = app.state::<AppState>().inner().clone();
    let now = Local::now();
    match id {
        "open" => show_stack(app, None),
        "cancel" => {
            for job in state.busy_jobs() {
                state.cancel_job(job);
            }
        }
        "resume" => {
            let _ = state.catalog.set_paused_until(None);
        }
        "autostart" => {
            let al = app.autolaunch();
            let r = if al.is_enabled().unwrap_or(false) {
                al.disable()
            } else {
                al.enable()
            };
            if let Err(e) = r {
                tracing::warn!("start at login could not be changed: {e}");
            }
        }
        "quit" => quit(app.clone()),
        other => {
            if let Some(p) = other.strip_prefix("pause:") {
                let pause = match p {
                    "hour" => Pause::Hour,
                    "tomorrow" => Pause::Tomorrow,
                    _ => Pause::Indefinitely,
                };
                let _ = state.catalog.set_paused_until(Some(pause.until(&now)));
            } else if let Some(s) = other.strip_prefix("backup:") {
                if let Ok(stack_id) = s.parse::<i64>() {
                    let app = app.clone();
                    let st = state.clone();
                    std::thread::spawn(move || {
                        let outcome = run_scheduled(&app, &st, stack_id);
                        if let Outcome::Failed(reason) = outcome {
                            let name = st
                                .catalog
                                .stack(stack_id)
                                .map(|s| s.name)
                                .unwrap_or_default();
                            notify(
                                &app,
                                alerts::from_events(
                                    &[scheduler::TickEvent::Ran {
                                        stack_id,
                                        stack: name,
                                        outcome: Outcome::Failed(reason),
                                        catch_up: false,
                                        retry: false,
                                    }],
                                    Levels::default(),
                                )
                                .remove(0),
                            );
                        }
                        let _ = app.emit(CHANGED, stack_id);
                        crate::tray::refresh(&app);
                    });
                }
            } else if let Some(s) = other.strip_prefix("show:") {
                show_stack(app, s.parse().ok());
            }
        }
    }
    crate::tray::refresh(app);
}

/// Quits, after asking when a job runs (it is cancelled, and stopped services are started
/// again, before Lifeboat exits).
pub fn quit(app: AppHandle) {
    std::thread::spawn(move || {
        let state = app.state::<AppState>().inner().clone();
        let busy = state.busy_jobs();
        if !busy.is_empty() {
            let quit = app
                .dialog()
                .message("A backup is running. Quitting cancels it; services it stopped are started again first.")
                .title("Quit Lifeboat?")
                .buttons(MessageDialogButtons::OkCancelCustom(
                    "Cancel the backup and quit".into(),
                    "Keep running".into(),
                ))
                .blocking_show();
            if !quit {
                return;
            }
            for job in busy {
                state.cancel_job(job);
            }
            for _ in 0..600 {
                if state.busy_jobs().is_empty() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        app.exit(0);
    });
}

/// A stack's schedule as the stack page shows it.
#[derive(Debug, Clone, Serialize, TS)]
pub struct ScheduleView {
    /// The schedule, if any.
    pub schedule: Option<Schedule>,
    /// In words.
    pub description: Option<String>,
    /// The next five runs (Unix seconds).
    #[ts(type = "number[]")]
    pub next_runs: Vec<i64>,
    /// What the schedule did so far.
    pub state: Option<ScheduleState>,
    /// A sentence on failures in a row, if any.
    pub failure_note: Option<String>,
    /// Until when schedules are paused, if they are (`null` when not).
    #[ts(type = "number | null")]
    pub paused_until: Option<i64>,
    /// What needs attention, as banners.
    pub alerts: Vec<Alert>,
    /// A backup of this stack is running now.
    pub running: bool,
}

fn view(state: &AppState, stack_id: i64) -> Result<ScheduleView, IpcError> {
    let settings = state.catalog.settings(stack_id)?;
    let now = Local::now();
    let sched_state = state.catalog.schedule_state(stack_id)?;
    Ok(ScheduleView {
        description: settings.schedule.as_ref().map(Schedule::describe),
        next_runs: settings
            .schedule
            .as_ref()
            .map(|s| {
                s.next_runs(&now, 5)
                    .iter()
                    .map(chrono::DateTime::timestamp)
                    .collect()
            })
            .unwrap_or_default(),
        failure_note: sched_state.as_ref().and_then(ScheduleState::failure_note),
        state: sched_state,
        schedule: settings.schedule,
        paused_until: state
            .catalog
            .paused_until()?
            .filter(|u| *u > now.timestamp()),
        alerts: alerts::current(&state.catalog, stack_id, &now)?,
        running: state.busy_stacks().contains(&stack_id),
    })
}

#[tauri::command]
pub async fn schedule_view(
    state: State<'_, AppState>,
    stack_id: i64,
) -> Result<ScheduleView, IpcError> {
    let state = state.inner().clone();
    crate::backups::blocking(move || view(&state, stack_id)).await
}

/// Sets or (with `null`) removes a stack's schedule; refused with a sentence when invalid.
#[tauri::command]
pub fn set_schedule(
    app: AppHandle,
    state: State<'_, AppState>,
    stack_id: i64,
    schedule: Option<Schedule>,
) -> Result<ScheduleView, IpcError> {
    if let Some(s) = &schedule {
        s.validate().map_err(|e| {
            IpcError::new(ErrorCode::BadSchedule, alerts::upper_first(&e.to_string()))
        })?;
        if state.catalog.settings(stack_id)?.destination().is_none() {
            return Err(crate::backups::no_destination());
        }
    }
    state
        .catalog
        .set_schedule(stack_id, schedule, Local::now().timestamp())?;
    crate::tray::refresh(&app);
    view(&state, stack_id)
}

/// Saves which notifications the user wants (failures are always said).
#[tauri::command]
pub fn set_notification_levels(
    state: State<'_, AppState>,
    levels: Levels,
) -> Result<Levels, IpcError> {
    levels.save(&state.catalog)?;
    Ok(levels)
}

/// Pauses every schedule (`hour`, `tomorrow`, `indefinitely`) or resumes them (`null`).
#[tauri::command]
pub fn pause_schedules(
    app: AppHandle,
    state: State<'_, AppState>,
    pause: Option<Pause>,
) -> Result<Option<i64>, IpcError> {
    let until = pause.map(|p| p.until(&Local::now()));
    state.catalog.set_paused_until(until)?;
    crate::tray::refresh(&app);
    Ok(until)
}

/// Runs a tray menu entry by its id, as a click would (for tests and keyboard users).
#[tauri::command]
pub fn tray_action(app: AppHandle, id: String) {
    on_menu(&app, &id);
}

/// Whether Lifeboat starts at login, after setting it when `enabled` is given.
#[tauri::command]
pub fn start_at_login(app: AppHandle, enabled: Option<bool>) -> Result<bool, IpcError> {
    let al = app.autolaunch();
    let fail = |e: tauri_plugin_autostart::Error| {
        IpcError::new(
            ErrorCode::Internal,
            format!("Start at login could not be changed: {e}"),
        )
    };
    match enabled {
        Some(true) => al.enable().map_err(fail)?,
        Some(false) => al.disable().map_err(fail)?,
        None => {}
    }
    crate::tray::refresh(&app);
    al.is_enabled().map_err(fail)
}

/// The first time the window is closed, says that Lifeboat keeps running in the tray.
pub fn told_about_tray(app: &AppHandle) {
    let state = app.state::<AppState>().inner().clone();
    const KEY: &str = "told_about_tray";
    if state.catalog.app_state(KEY).ok().flatten().is_some() {
        return;
    }
    let _ = state.catalog.set_app_state(KEY, "1");
    let app = app.clone();
    std::thread::spawn(move || {
        let _ = app
            .dialog()
            .message("Lifeboat keeps running in the system tray, so scheduled backups still happen. To quit, use Quit in the tray icon's menu.")
            .title("Lifeboat is still running")
            .buttons(MessageDialogButtons::Ok)
            .blocking_show();
    });
}

/// Another launch of Lifeboat: the running one comes to the front, and opens the stack
/// folder that launch named (adding it to the catalog).
pub fn second_launch(app: &AppHandle, args: &[String]) {
    let state = app.state::<AppState>().inner().clone();
    let stack = args
        .iter()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .and_then(|dir| {
            let project = lifeboat_core::stack::load(
                std::path::Path::new(dir),
                &lifeboat_core::LoadOptions::default(),
            )
            .ok()?;
            lifeboat_core::settings::add_stack(&state.catalog, &project).ok()
        });
    if stack.is_some() {
        let _ = app.emit(CHANGED, ());
    }
    show_stack(app, stack.map(|s| s.id));
}
