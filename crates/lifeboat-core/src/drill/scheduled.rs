//! Scheduled drills: which stacks are due one now ([`crate::schedule::drill_due`]), which
//! snapshot each proves (the latest, and every fourth drill a random older one, so that a
//! snapshot kept for months is not assumed restorable because last night's was), and the
//! alert a failed drill raises. The CLI's `schedule run` and the desktop's scheduler loop
//! both run them through here.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, TimeZone};

use super::{DrillError, DrillOptions, DrillReport};
use crate::alerts::{Alert, AlertCode, Severity};
use crate::catalog::{BackupResult, Catalog};
use crate::docker::BlockingEngine;
use crate::job::{CancelToken, Progress};

/// Every how many scheduled drills of a stack one proves a random older snapshot.
pub const OLDER_EVERY: usize = 4;

/// A stack whose scheduled drill is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueDrill {
    /// The stack's catalog id.
    pub stack_id: i64,
    /// Its compose project name.
    pub stack: String,
    /// Its destination.
    pub from: PathBuf,
    /// This drill proves a random older snapshot rather than the latest.
    pub older: bool,
}

/// The stacks whose scheduled drill is due at `now` (with a schedule, a snapshot, drills on,
/// the destination present). What cannot be read counts as not due.
pub fn due<Tz: TimeZone>(catalog: &Catalog, now: &DateTime<Tz>) -> Vec<DueDrill> {
    let Ok(stacks) = catalog.stacks() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for s in stacks {
        let Ok(settings) = catalog.settings(s.id) else {
            continue;
        };
        let (Some(schedule), Some(from)) = (settings.schedule.as_ref(), settings.destination())
        else {
            continue;
        };
        let every = settings
            .drill_every_days
            .unwrap_or(crate::schedule::DRILL_EVERY_DAYS);
        let drills = catalog.drills(&s.name, OLDER_EVERY).unwrap_or_default();
        let last_drill = drills.first().map(|d| d.finished.unwrap_or(d.started));
        let last_snapshot = catalog.backups(s.id, 20).ok().and_then(|b| {
            b.iter()
                .find(|r| r.result == BackupResult::Ok && r.snapshot.is_some())
                .map(|r| r.started)
        });
        // The last backup of any kind (one by hand too): no drill right beside it.
        let last_run = catalog
            .schedule_state(s.id)
            .ok()
            .flatten()
            .and_then(|st| st.last_run)
            .max(
                catalog
                    .backups(s.id, 1)
                    .ok()
                    .and_then(|b| b.first().map(|r| r.started)),
            );
        if crate::schedule::drill_due(schedule, every, last_drill, last_snapshot, last_run, now)
            && from.is_dir()
        {
            // Counted over the drills that ran to an end, so a cancelled one does not shift
            // the turn.
            let run = catalog.drill_count(&s.name).unwrap_or(0);
            out.push(DueDrill {
                stack_id: s.id,
                stack: s.name,
                from,
                older: run % OLDER_EVERY == OLDER_EVERY - 1,
            });
        }
    }
    out
}

/// The snapshot a due drill proves: `latest`, or for an `older` turn one picked at random
/// among the others in the destination (the latest when there is no other).
fn snapshot_for(due: &DueDrill, identity: &age::x25519::Identity) -> String {
    if !due.older {
        return "latest".into();
    }
    let mut listed: Vec<_> = crate::backup::verify::list(&due.from, Some(&due.stack), identity)
        .unwrap_or_default()
        .into_iter()
        .filter(|s| s.damaged.is_none())
        .collect();
    listed.sort_by_key(|s| s.started);
    listed.pop();
    if listed.is_empty() {
        return "latest".into();
    }
    listed.swap_remove(random_below(listed.len())).snapshot
}

/// A number below `n` (n > 0), from the clock's nanoseconds mixed by SplitMix64: enough to
/// pick a snapshot, not for anything secret.
fn random_below(n: usize) -> usize {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut z = nanos.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z % n as u64) as usize
}

/// Runs one due drill in `scratch` (the sandbox is made inside it).
///
/// # Errors
/// As [`super::run`].
pub fn run_due(
    catalog: &Arc<Catalog>,
    due: &DueDrill,
    scratch: PathBuf,
    engine: Option<BlockingEngine>,
    identity: &age::x25519::Identity,
    progress: &dyn Progress,
    cancel: &CancelToken,
) -> Result<DrillReport, DrillError> {
    let opts = DrillOptions {
        from: due.from.clone(),
        stack: Some(due.stack.clone()),
        snapshot: snapshot_for(due, identity),
        scratch,
        engine,
        catalog: Some(catalog.clone()),
    };
    super::run(&opts, identity, progress, cancel)
}

/// The alert a drill's end raises: `None` when it proved the snapshot restorable or was
/// cancelled; otherwise an error of the same weight as a failed backup, saying what.
pub fn alert_for(
    stack_id: i64,
    stack: &str,
    result: &Result<DrillReport, DrillError>,
) -> Option<Alert> {
    let body = match result {
        Ok(r) if r.ok => return None,
        Err(DrillError::Cancelled) => return None,
        Ok(r) => crate::alerts::drill_failure_body(&r.snapshot, &r.problems),
        Err(e) => crate::alerts::upper_first(&e.to_string()),
    };
    Some(Alert {
        stack_id,
        code: AlertCode::DrillFailed,
        severity: Severity::Error,
        summary: format!("The restore drill of {stack} failed"),
        body,
        occurrence: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_below_stays_in_range() {
        for n in 1..50 {
            assert!(random_below(n) < n);
        }
    }

    #[test]
    fn a_failed_drill_alerts_and_a_cancelled_one_does_not() {
        let mut report = DrillReport {
            snapshot: "20261201-0200-abcd".into(),
            stack: "shop".into(),
            from: "/backups".into(),
            snapshot_started: 0,
            ok: false,
            duration_ms: 1,
            restore_ms: 1,
            files_checked: 1,
            bytes_checked: 1,
            databases: Vec::new(),
            problems: vec!["a.".into(), "b.".into(), "c.".into()],
            notes: Vec::new(),
        };
        let a = alert_for(3, "shop", &Ok(report.clone())).expect("an alert");
        assert_eq!(a.code, AlertCode::DrillFailed);
        assert_eq!(a.severity, Severity::Error);
        assert_eq!(
            a.body,
            "Snapshot 20261201-0200-abcd: a. b. (1 more problem: see the drill history.)"
        );
        assert!(alert_for(3, "shop", &Err(DrillError::Cancelled)).is_none());
        report.ok = true;
        report.problems.clear();
        assert!(alert_for(3, "shop", &Ok(report)).is_none());
    }
}
