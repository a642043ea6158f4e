//! Where each stack stands, in one value: its last successful backup, its next scheduled
//! one, how fresh each component is and the worst of its current alerts. The desktop's
//! tray is drawn from it (and a server's status report can be).

use chrono::{DateTime, TimeZone};

use crate::alerts::{self, Alert, Severity};
use crate::catalog::{Catalog, StackRecord};

/// One stack's standing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackStatus {
    /// The stack.
    pub stack: StackRecord,
    /// When its last successful backup started (Unix seconds).
    pub last_ok: Option<i64>,
    /// When its schedule runs next (Unix seconds); `None` without a schedule.
    pub next: Option<i64>,
    /// Per component (`secrets`, `service-NAME`), when it was last backed up.
    pub components: Vec<(String, i64)>,
    /// When a restore drill last proved it restorable (Unix seconds).
    pub last_proven: Option<i64>,
    /// Its current alerts ([`alerts::current`]).
    pub alerts: Vec<Alert>,
}

impl StackStatus {
    /// The weight of its worst alert; `None` when nothing needs attention.
    pub fn worst(&self) -> Option<Severity> {
        self.alerts.iter().map(|a| a.severity).max()
    }
}

/// The standing of `stack` at `now`. What cannot be read counts as absent (no backup, no
/// schedule, no alert), so one damaged row never hides the other stacks.
pub fn of<Tz: TimeZone>(catalog: &Catalog, stack: StackRecord, now: &DateTime<Tz>) -> StackStatus {
    let components = catalog.component_freshness(stack.id).unwrap_or_default();
    // The history, settings and schedule state, read once for all of it.
    let Ok(facts) = alerts::Facts::read(catalog, stack.clone(), now.timestamp()) else {
        return StackStatus {
            stack,
            last_ok: None,
            next: None,
            components,
            last_proven: None,
            alerts: Vec::new(),
        };
    };
    StackStatus {
        last_ok: facts.last_ok().map(|b| b.started),
        next: facts
            .settings
            .schedule
            .as_ref()
            .and_then(|sc| sc.next_after(now))
            .map(|t| t.timestamp()),
        components,
        last_proven: facts.last_proven.as_ref().and_then(|d| d.finished),
        alerts: alerts::current_of(catalog, &facts, now).unwrap_or_default(),
        stack: facts.stack,
    }
}

/// [`of`] every stack in the catalog, in its order.
pub fn all<Tz: TimeZone>(catalog: &Catalog, now: &DateTime<Tz>) -> Vec<StackStatus> {
    catalog
        .stacks()
        .unwrap_or_default()
        .into_iter()
        .map(|s| of(catalog, s, now))
        .collect()
}

/// "just now", "12 min ago", "4 h ago", "3 days ago", for `secs` seconds.
pub fn ago(secs: i64) -> String {
    match secs.max(0) {
        s if s < 90 => "just now".to_owned(),
        s if s < 5400 => format!("{} min ago", s / 60),
        s if s < 2 * 86_400 => format!("{} h ago", s / 3600),
        s => format!("{} days ago", s / 86_400),
    }
}

/// One stack's standing as `lifeboat status` reports it (for scripts and monitoring).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StackReport {
    /// The compose project name.
    pub stack: String,
    /// Its folder.
    pub dir: String,
    /// Its last backup, whatever its result.
    pub last_backup: Option<crate::catalog::BackupRecord>,
    /// When its last successful backup started (Unix seconds).
    pub last_ok: Option<i64>,
    /// When its schedule runs next (Unix seconds).
    pub next: Option<i64>,
    /// Its last drill that ran to an end: when it ended and whether it passed.
    pub last_drill: Option<(i64, bool)>,
    /// When a drill last proved it restorable (Unix seconds).
    pub last_proven: Option<i64>,
    /// What needs attention (its current alerts).
    pub alerts: Vec<Alert>,
    /// Something needs attention (an alert of warning or error weight).
    pub attention: bool,
}

/// [`StackReport`] of every stack in the catalog at `now`.
pub fn report<Tz: TimeZone>(catalog: &Catalog, now: &DateTime<Tz>) -> Vec<StackReport> {
    all(catalog, now)
        .into_iter()
        .map(|s| {
            let last_drill = catalog
                .drills(&s.stack.name, 10)
                .unwrap_or_default()
                .into_iter()
                .find_map(|d| Some((d.finished?, d.ok?)));
            StackReport {
                last_backup: catalog
                    .backups(s.stack.id, 1)
                    .ok()
                    .and_then(|b| b.into_iter().next()),
                attention: s.worst().is_some_and(|w| w >= Severity::Warning),
                stack: s.stack.name,
                dir: s.stack.dir,
                last_ok: s.last_ok,
                next: s.next,
                last_drill,
                last_proven: s.last_proven,
                alerts: s.alerts,
            }
        })
        .collect()
}
