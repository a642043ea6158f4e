//! Running a stack's backup with its saved settings (what "Back up now", the desktop's
//! scheduler and `lifeboat schedule run` share), and one scheduler tick.

use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeZone};

use super::{due, Due, ScheduleState};
use crate::backup::{self, prune, BackupError, BackupOptions, BackupReport, Keep};
use crate::catalog::{Catalog, CatalogError};
use crate::docker::BlockingEngine;
use crate::keys::{self, KeyError};
use crate::stack::StackError;
use crate::{CancelToken, LoadOptions, Progress};

/// Why a stack's backup could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The stack has no destination yet.
    #[error("no backup destination is chosen for this stack; choose one (an external drive or a NAS folder) first")]
    NoDestination,
    /// The catalog failed.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// The key could not be loaded.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The compose file could not be read.
    #[error(transparent)]
    Stack(#[from] StackError),
    /// The backup failed.
    #[error(transparent)]
    Backup(#[from] BackupError),
}

/// A finished backup of a catalog stack, with what retention removed.
#[derive(Debug, Clone)]
pub struct StackBackup {
    /// The backup.
    pub report: BackupReport,
    /// Snapshots removed by retention.
    pub pruned: Vec<String>,
}

/// The stack's destination folder: its own, else the default one (`LIFEBOAT_DESTINATION`).
pub fn destination(settings: &backup::StackSettings) -> Option<PathBuf> {
    settings
        .destination
        .as_ref()
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("LIFEBOAT_DESTINATION")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        })
}

/// Backs up catalog stack `stack_id` with its saved settings (destination, mode, services
/// to stop), records the run in its history, then applies its retention. The identity
/// comes from `LIFEBOAT_IDENTITY` or the keyring.
///
/// # Errors
/// When there is no destination, key, or readable compose file, or the backup fails (the
/// failure is in the history too).
pub fn backup_stack(
    catalog: &std::sync::Arc<Catalog>,
    stack_id: i64,
    engine: Option<BlockingEngine>,
    progress: &dyn Progress,
    cancel: &CancelToken,
) -> Result<StackBackup, RunError> {
    let record = catalog.stack(stack_id)?;
    let settings = catalog.settings(stack_id)?;
    let dest = destination(&settings).ok_or(RunError::NoDestination)?;
    let started = backup::unix_now();
    let clock = std::time::Instant::now();
    let prepared = (|| {
        let identity = keys::load(None)?.0;
        let project = crate::stack::load(Path::new(&record.dir), &LoadOptions::default())?;
        Ok::<_, RunError>((identity, project))
    })();
    let (identity, project) = match prepared {
        Ok(p) => p,
        Err(e) => {
            // A run that could not start is history too: the user sees why.
            let failed = Err(BackupError::Capture {
                component: "the stack".into(),
                reason: e.to_string(),
            });
            backup::record_run(catalog, stack_id, &dest, started, 0, &failed)?;
            return Err(e);
        }
    };
    if settings.destination.is_none() {
        let mut s = settings.clone();
        s.destination = Some(dest.display().to_string());
        catalog.save_settings(stack_id, &s)?;
    }
    let opts = BackupOptions {
        mode: settings.mode,
        stop: settings.stop_services.clone(),
        engine,
        catalog: Some(catalog.clone()),
        ..BackupOptions::new(&dest)
    };
    let result = backup::backup(&project, &identity, &opts, progress, cancel);
    backup::record_run(
        catalog,
        stack_id,
        &dest,
        started,
        clock.elapsed().as_millis() as u64,
        &result,
    )?;
    let report = result?;
    let pruned = if settings.keep == Keep::default() {
        Vec::new()
    } else {
        prune::prune(&dest, Some(&project.name), &settings.keep, false, &identity)
            .map(|r| r.removed)
            .unwrap_or_else(|e| {
                tracing::warn!("retention after the backup failed: {e}");
                Vec::new()
            })
    };
    Ok(StackBackup { report, pruned })
}

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
            Err(RunError::Backup(BackupError::Busy(_))) => Self::Busy,
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
        let reason = match destination(&settings) {
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
