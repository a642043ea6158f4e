//! One scheduler tick: which stacks' backups are due now, run through the caller's runner
//! (the desktop's or `lifeboat schedule run`'s, both calling [`crate::backup::backup_stack`]),
//! and what each run did to its schedule's state.

use chrono::{DateTime, TimeZone};

use crate::backup::{BackupError, RunError, StackBackup};
use crate::catalog::{Catalog, CatalogError};
use crate::schedule::{due, Due, ScheduleState};

/// How one scheduled run ended, as the runner reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A snapshot was written.
    Ok,
    /// It failed, with the reason in one sentence.
    Failed(String),
    /// Another job holds the stack; try again at the next tick.
    Busy,
}

impl Outcome {
    /// How a [`backup_stack`] run ended: a backup already running on the stack (from
    /// another process) is [`Outcome::Busy`], to be tried again at the next tick.
    pub fn of(result: &Result<StackBackup, RunError>) -> Self {
        match result {
            Ok(_) => Self::Ok,
            Err(RunError::Backup(BackupError::Busy(_) | BackupError::StackBusy(_))) => Self::Busy,
            Err(e) => Self::Failed(e.to_string()),
        }
    }
}

/// What a tick did, for notifications and the tray.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TickEvent {
    /// A scheduled backup ran.
    Ran {
        /// The catalog stack.
        stack_id: i64,
        /// The stack's name.
        stack: String,
        /// How it ended.
        outcome: Outcome,
        /// It ran late for a missed slot.
        catch_up: bool,
        /// It retried a failed run.
        retry: bool,
    },
    /// A due backup could not start; said once per slot.
    CouldNotStart {
        /// The catalog stack.
        stack_id: i64,
        /// The stack's name.
        stack: String,
        /// Why, as a sentence.
        reason: String,
    },
}

/// How long a scheduler loop waits between ticks: `default`, or `LIFEBOAT_TICK_SECS` when
/// it is set to a positive number of seconds (tests shorten the wait with it).
pub fn tick_every(default: std::time::Duration) -> std::time::Duration {
    std::env::var("LIFEBOAT_TICK_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|s| *s > 0)
        .map_or(default, std::time::Duration::from_secs)
}

/// Checks every scheduled stack at `now` and runs what is due through `run` (which backs
/// the stack up and says how it went). A due run whose destination is missing waits, and
/// starts at the first tick that finds it.
///
/// # Errors
/// When the catalog fails.
pub fn tick<Tz: TimeZone>(
    catalog: &Catalog,
    now: &DateTime<Tz>,
    run: &mut dyn FnMut(i64) -> Outcome,
) -> Result<Vec<TickEvent>, CatalogError> {
    let mut events = Vec::new();
    let paused = catalog.paused_until()?;
    for stack in catalog.stacks()? {
        let settings = catalog.settings(stack.id)?;
        let Some(schedule) = settings.schedule.clone() else {
            continue;
        };
        let mut state = match catalog.schedule_state(stack.id)? {
            Some(s) => s,
            None => {
                let s = ScheduleState::starting(now.timestamp());
                catalog.save_schedule_state(stack.id, &s)?;
                s
            }
        };
        let Due::Run {
            slot,
            catch_up,
            retry,
        } = due(&schedule, &state, now, paused)
        else {
            continue;
        };
        let reason = match settings.destination() {
            None => Some("no backup destination is chosen for this stack".to_owned()),
            Some(d) if !d.is_dir() => Some(format!(
                "waiting for the backup drive: {} is not there; the backup starts when it is",
                d.display()
            )),
            Some(_) => None,
        };
        if let Some(reason) = reason {
            if state.wait(slot, reason.clone()) {
                events.push(TickEvent::CouldNotStart {
                    stack_id: stack.id,
                    stack: stack.name.clone(),
                    reason,
                });
            }
            catalog.save_schedule_state(stack.id, &state)?;
            continue;
        }
        let started = now.timestamp();
        let outcome = run(stack.id);
        if outcome == Outcome::Busy {
            continue;
        }
        state.finished(started, outcome == Outcome::Ok, started);
        catalog.save_schedule_state(stack.id, &state)?;
        events.push(TickEvent::Ran {
            stack_id: stack.id,
            stack: stack.name,
            outcome,
            catch_up,
            retry,
        });
    }
    Ok(events)
}
