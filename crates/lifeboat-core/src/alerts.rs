//! Alerts: what a stack's owner should hear about, as banners in the app and as desktop
//! notifications (through the platform's notification service; on Linux the
//! `org.freedesktop.Notifications` D-Bus service).
//!
//! Always said: a backup failed; a scheduled backup could not start. Said by default, and
//! each at most once a day while it lasts: no successful backup for more than twice the
//! schedule's interval; the destination below 10% free or below what the next backup is
//! likely to need; a service's data grew more than 50% since the previous backup (once per
//! backup). Success is quiet unless the user asks for it. A failed restore drill is said when
//! it ends and stays a banner until a drill passes; a stack with drills on that no drill
//! proved restorable for more than twice the drill interval is said once a day (under the
//! same choice as stale backups).

use chrono::{DateTime, TimeZone};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::catalog::{BackupRecord, BackupResult, Catalog, CatalogError, DrillRecord, StackRecord};
use crate::inspect::human_bytes;
use crate::schedule::ScheduleState;
use crate::scheduler::{Outcome, TickEvent};
use crate::settings::StackSettings;

/// Which notifications the user wants beside the ones always sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct Levels {
    /// A scheduled backup succeeded.
    pub success: bool,
    /// No successful backup for more than twice the interval.
    pub stale: bool,
    /// The destination is nearly full.
    pub disk: bool,
    /// A service's data grew more than 50%.
    pub growth: bool,
}

impl Default for Levels {
    fn default() -> Self {
        Self {
            success: false,
            stale: true,
            disk: true,
            growth: true,
        }
    }
}

const LEVELS: &str = "notification_levels";

impl Levels {
    /// The user's choice, or the defaults.
    ///
    /// # Errors
    /// When SQLite fails.
    pub fn load(catalog: &Catalog) -> Result<Self, CatalogError> {
        catalog.app_json(LEVELS)
    }

    /// Saves the user's choice.
    ///
    /// # Errors
    /// When SQLite fails.
    pub fn save(&self, catalog: &Catalog) -> Result<(), CatalogError> {
        catalog.set_app_json(LEVELS, self)
    }
}

/// What an alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum AlertCode {
    /// A backup failed.
    BackupFailed,
    /// A scheduled backup could not start.
    CouldNotStart,
    /// No successful backup for too long.
    Stale,
    /// The destination is nearly full.
    DiskLow,
    /// A service's data grew a lot.
    Growth,
    /// A scheduled backup succeeded.
    Succeeded,
    /// A drill found that a snapshot does not restore as recorded.
    DrillFailed,
    /// No drill proved the stack restorable for more than twice the drill interval.
    NotProven,
}

impl AlertCode {
    /// As serialized: `backup_failed`, `stale`, …
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BackupFailed => "backup_failed",
            Self::CouldNotStart => "could_not_start",
            Self::Stale => "stale",
            Self::DiskLow => "disk_low",
            Self::Growth => "growth",
            Self::Succeeded => "succeeded",
            Self::DrillFailed => "drill_failed",
            Self::NotProven => "not_proven",
        }
    }
}

/// How much an alert matters: an error (a backup failed), a warning (something needs
/// attention soon) or information.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
#[ts(rename = "AlertSeverity")]
pub enum Severity {
    /// For information.
    Info,
    /// Needs attention soon.
    Warning,
    /// Something failed.
    Error,
}

impl Severity {
    /// `info`, `warning` or `error`, as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Error => "error",
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// One alert, in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Alert {
    /// The catalog stack.
    #[ts(type = "number")]
    pub stack_id: i64,
    /// What it is about.
    pub code: AlertCode,
    /// How much it matters.
    pub severity: Severity,
    /// One line: "Backup of chatbot failed".
    pub summary: String,
    /// The reason and what to do.
    pub body: String,
    /// For alerts sent once per occurrence: which occurrence (the backup's history row).
    #[ts(skip)]
    #[serde(skip)]
    pub occurrence: Option<i64>,
}

fn ago(secs: i64) -> String {
    let secs = secs.max(0);
    if secs < 2 * 3600 {
        format!("{} minutes", secs / 60)
    } else if secs < 2 * 86_400 {
        format!("{} hours", secs / 3600)
    } else {
        format!("{} days", secs / 86_400)
    }
}

/// The conditions that hold for a stack at `now`: the last backup failed, a scheduled one
/// is waiting, backups are stale, the destination is nearly full, data grew. These are the
/// stack page's banners; [`to_notify`] picks which of them to send.
///
/// # Errors
/// When the catalog fails.
pub fn current<Tz: TimeZone>(
    catalog: &Catalog,
    stack_id: i64,
    now: &DateTime<Tz>,
) -> Result<Vec<Alert>, CatalogError> {
    let facts = Facts::read(catalog, catalog.stack(stack_id)?, now.timestamp())?;
    current_of(catalog, &facts, now)
}

/// [`current`] from facts already read.
pub(crate) fn current_of<Tz: TimeZone>(
    catalog: &Catalog,
    facts: &Facts,
    now: &DateTime<Tz>,
) -> Result<Vec<Alert>, CatalogError> {
    let growth = growth(facts, catalog)?;
    Ok([
        failed(facts),
        waiting(facts),
        stale(facts, now),
        disk_low(facts),
        growth,
        drill_failed(facts),
        not_proven(facts),
    ]
    .into_iter()
    .flatten()
    .collect())
}

/// What the checks of [`current`] look at (and [`crate::status`] too), read once.
pub(crate) struct Facts {
    pub(crate) stack: StackRecord,
    pub(crate) settings: StackSettings,
    /// The newest runs first.
    history: Vec<BackupRecord>,
    schedule: Option<ScheduleState>,
    /// The newest drill that ran to an end (passed or failed).
    pub(crate) last_drill: Option<DrillRecord>,
    /// When a drill last proved a snapshot restorable.
    pub(crate) last_proven: Option<DrillRecord>,
    now_s: i64,
}

impl Facts {
    pub(crate) fn read(
        catalog: &Catalog,
        stack: StackRecord,
        now_s: i64,
    ) -> Result<Self, CatalogError> {
        Ok(Self {
            settings: catalog.settings(stack.id)?,
            history: catalog.backups(stack.id, 50)?,
            schedule: catalog.schedule_state(stack.id)?,
            last_drill: catalog
                .drills(&stack.name, 10)?
                .into_iter()
                .find(|d| d.ok.is_some()),
            last_proven: catalog.last_proven(&stack.name)?,
            stack,
            now_s,
        })
    }

    /// The newest successful run.
    pub(crate) fn last_ok(&self) -> Option<&BackupRecord> {
        self.history.iter().find(|b| b.result == BackupResult::Ok)
    }

    fn alert(&self, code: AlertCode, severity: Severity, summary: String, body: String) -> Alert {
        Alert {
            stack_id: self.stack.id,
            code,
            severity,
            summary,
            body,
            occurrence: None,
        }
    }
}

/// The last run failed.
fn failed(f: &Facts) -> Option<Alert> {
    let last = f
        .history
        .first()
        .filter(|b| b.result == BackupResult::Failed)?;
    Some(Alert {
        occurrence: Some(last.started),
        ..f.alert(
            AlertCode::BackupFailed,
            Severity::Error,
            format!("The last backup of {} failed", f.stack.name),
            last.message.clone().unwrap_or_default(),
        )
    })
}

/// A due scheduled run waits (for the drive, for Docker).
fn waiting(f: &Facts) -> Option<Alert> {
    f.settings.schedule.as_ref()?;
    let waiting = f.schedule.as_ref()?.waiting.as_deref()?;
    Some(f.alert(
        AlertCode::CouldNotStart,
        Severity::Warning,
        format!("The scheduled backup of {} is waiting", f.stack.name),
        upper_first(waiting),
    ))
}

/// No successful run for more than twice the schedule's interval.
fn stale<Tz: TimeZone>(f: &Facts, now: &DateTime<Tz>) -> Option<Alert> {
    let schedule = f.settings.schedule.as_ref()?;
    let last_ok = f.last_ok();
    let since = last_ok
        .map(|b| b.started)
        .or_else(|| f.schedule.as_ref().map(|s| s.handled_until))?;
    let for_ = f.now_s - since;
    if for_ <= 2 * schedule.interval(now) {
        return None;
    }
    let what = match last_ok {
        Some(_) => format!("The last successful backup was {} ago", ago(for_)),
        None => format!(
            "There has been no successful backup since the schedule was set {} ago",
            ago(for_)
        ),
    };
    Some(f.alert(
        AlertCode::Stale,
        Severity::Warning,
        format!("{} has not been backed up for {}", f.stack.name, ago(for_)),
        format!(
            "{what}; the schedule is \"{}\". Check the backup drive and the history.",
            schedule.describe().to_lowercase()
        ),
    ))
}

/// The last drill found a problem: the stack's backups may not restore. Said until a drill
/// passes.
fn drill_failed(f: &Facts) -> Option<Alert> {
    let d = f.last_drill.as_ref().filter(|d| d.ok == Some(false))?;
    // The drill's report (its JSON, read without the drill's types: alerts sit below it).
    let report: serde_json::Value = d
        .report
        .as_deref()
        .and_then(|r| serde_json::from_str(r).ok())
        .unwrap_or_default();
    let problems: Vec<String> = report
        .get("problems")
        .and_then(|p| p.as_array())
        .map(|p| {
            p.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let body = match report.get("error").and_then(|e| e.as_str()) {
        Some(e) => upper_first(e),
        None if problems.is_empty() => "The drill could not finish.".into(),
        None => drill_failure_body(
            report
                .get("snapshot")
                .and_then(|s| s.as_str())
                .unwrap_or("?"),
            &problems,
        ),
    };
    Some(Alert {
        occurrence: d.finished,
        ..f.alert(
            AlertCode::DrillFailed,
            Severity::Error,
            format!("The last restore drill of {} failed", f.stack.name),
            body,
        )
    })
}

/// What a failed drill found, for an alert: its first problems, and how many more.
pub fn drill_failure_body(snapshot: &str, problems: &[String]) -> String {
    let shown: Vec<&str> = problems.iter().take(2).map(String::as_str).collect();
    let more = problems.len().saturating_sub(shown.len());
    let mut body = format!("Snapshot {snapshot}: {}", shown.join(" "));
    if more > 0 {
        body.push_str(&format!(
            " ({more} more problem{}: see the drill history.)",
            if more == 1 { "" } else { "s" }
        ));
    }
    body
}

/// Drills are on and none proved the stack restorable for more than twice their interval
/// (counted from its oldest backup at hand when none ever did).
fn not_proven(f: &Facts) -> Option<Alert> {
    f.settings.schedule.as_ref()?;
    let every = f
        .settings
        .drill_every_days
        .unwrap_or(crate::schedule::DRILL_EVERY_DAYS);
    if every == 0 {
        return None;
    }
    let proven = f.last_proven.as_ref().and_then(|d| d.finished);
    let since = proven.or_else(|| {
        f.history
            .iter()
            .filter(|b| b.result == BackupResult::Ok)
            .map(|b| b.started)
            .min()
    })?;
    let for_ = f.now_s - since;
    if for_ <= 2 * i64::from(every) * 86_400 {
        return None;
    }
    let what = match proven {
        Some(_) => format!("The last successful restore drill was {} ago", ago(for_)),
        None => format!(
            "No restore drill has succeeded yet, and its backups go back {}",
            ago(for_)
        ),
    };
    Some(f.alert(
        AlertCode::NotProven,
        Severity::Warning,
        format!(
            "{} has not been proven restorable for {}",
            f.stack.name,
            ago(for_)
        ),
        format!(
            "{what}; drills are due every {}. Run one from the stack page (or `lifeboat \
             drill`) and keep the backup drive plugged in at night.",
            if every == 1 {
                "day".to_owned()
            } else {
                format!("{every} days")
            }
        ),
    ))
}

/// The destination is almost full ([`drive_is_low`]).
fn disk_low(f: &Facts) -> Option<Alert> {
    let dest = f.settings.destination().filter(|d| d.is_dir())?;
    let (free, total) = (
        fs4::available_space(&dest).ok()?,
        fs4::total_space(&dest).ok()?,
    );
    let need = f.last_ok().map_or(0, |b| b.bytes_new.max(0) as u64);
    if !drive_is_low(free, total, need) {
        return None;
    }
    Some(f.alert(
        AlertCode::DiskLow,
        Severity::Warning,
        format!("The backup drive of {} is almost full", f.stack.name),
        format!(
            "{} free of {} at {}{}. Free some space or set a retention rule.",
            human_bytes(free),
            human_bytes(total),
            dest.display(),
            if need > free {
                format!("; the last backup needed {}", human_bytes(need))
            } else {
                String::new()
            }
        ),
    ))
}

/// A service's data grew more than 50% (from at least 1 MiB) since the previous backup.
fn growth(f: &Facts, catalog: &Catalog) -> Result<Option<Alert>, CatalogError> {
    let sizes = catalog.last_component_sizes(f.stack.id)?;
    let [(newest_id, newest), (_, previous)] = sizes.as_slice() else {
        return Ok(None);
    };
    let grown: Vec<String> = newest
        .iter()
        .filter_map(|(name, now_b)| {
            let (_, before) = previous.iter().find(|(n, _)| n == name)?;
            (*before >= 1024 * 1024 && *now_b * 2 > *before * 3).then(|| {
                format!(
                    "{name} grew {}% ({} → {})",
                    (*now_b - before) * 100 / before,
                    human_bytes(*before),
                    human_bytes(*now_b)
                )
            })
        })
        .collect();
    if grown.is_empty() {
        return Ok(None);
    }
    Ok(Some(Alert {
        occurrence: Some(*newest_id),
        ..f.alert(
            AlertCode::Growth,
            Severity::Info,
            format!(
                "{}'s data grew a lot since the previous backup",
                f.stack.name
            ),
            format!(
                "{}. If that is unexpected, look at the stack's largest files.",
                grown.join("; ")
            ),
        )
    }))
}

/// `s` with its first letter upper-cased: a core message (lower-case, as errors are) made
/// into a sentence for people.
pub fn upper_first(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// The alert for a failed backup of `stack`.
pub fn backup_failed(stack_id: i64, stack: &str, reason: &str) -> Alert {
    Alert {
        stack_id,
        code: AlertCode::BackupFailed,
        severity: Severity::Error,
        summary: format!("Backup of {stack} failed"),
        body: upper_first(reason),
        occurrence: None,
    }
}

/// The notifications a scheduler tick's events call for: failures and runs that could not
/// start always, successes when the user asked.
pub fn from_events(events: &[TickEvent], levels: Levels) -> Vec<Alert> {
    events
        .iter()
        .filter_map(|e| match e {
            TickEvent::Ran {
                stack_id,
                stack,
                outcome: Outcome::Failed(reason),
                ..
            } => Some(backup_failed(*stack_id, stack, reason)),
            TickEvent::Ran {
                stack_id,
                stack,
                outcome: Outcome::Ok,
                ..
            } if levels.success => Some(Alert {
                stack_id: *stack_id,
                code: AlertCode::Succeeded,
                severity: Severity::Info,
                summary: format!("{stack} is backed up"),
                body: "The scheduled backup finished.".into(),
                occurrence: None,
            }),
            TickEvent::CouldNotStart {
                stack_id,
                stack,
                reason,
            } => Some(Alert {
                stack_id: *stack_id,
                code: AlertCode::CouldNotStart,
                severity: Severity::Warning,
                summary: format!("The scheduled backup of {stack} could not start"),
                body: upper_first(reason),
                occurrence: None,
            }),
            TickEvent::Ran { .. } => None,
        })
        .collect()
}

/// Room for this many more backups like the last one is "enough", however full the
/// drive is in percent.
const BACKUPS_OF_ROOM: u64 = 7;

/// Below this much free space, a drive under 10% free is low even when backups are small.
const MIN_ROOM: u64 = 1 << 30;

/// Whether a destination with `free` of `total` bytes is almost full for backups that
/// last wrote `need` bytes: the next backup may not fit, or the drive is under 10% free
/// and holds room for fewer than a week of daily backups like the last one (at least
/// 1 GiB). A big shared disk at 92% with 20 GiB free is not almost full for a stack that
/// writes a few MiB a day; a 16 GB stick with 900 MiB free is.
pub fn drive_is_low(free: u64, total: u64, need: u64) -> bool {
    if total == 0 {
        return false;
    }
    let headroom = need.saturating_mul(BACKUPS_OF_ROOM).max(MIN_ROOM);
    free < need || (free.saturating_mul(10) < total && free < headroom)
}

/// Of a stack's [`current`] conditions, those to notify now under `levels`: stale and disk
/// at most once a day while they last, growth once per backup. A condition that went away
/// is forgotten, so it is said again when it comes back. Failures and waiting runs are left
/// to [`from_events`] (they are said when they happen).
///
/// # Errors
/// When the catalog fails.
pub fn to_notify(
    catalog: &Catalog,
    stack_id: i64,
    current: &[Alert],
    levels: Levels,
    now: i64,
) -> Result<Vec<Alert>, CatalogError> {
    let mut out = Vec::new();
    for (code, on) in [
        (AlertCode::Stale, levels.stale),
        (AlertCode::NotProven, levels.stale),
        (AlertCode::DiskLow, levels.disk),
        (AlertCode::Growth, levels.growth),
    ] {
        let key = code.as_str();
        let Some(alert) = current.iter().find(|a| a.code == code) else {
            if code != AlertCode::Growth {
                catalog.set_alert_sent(stack_id, key, None)?;
            }
            continue;
        };
        if !on {
            continue;
        }
        let sent = catalog.alert_sent_at(stack_id, key)?;
        let send = match code {
            AlertCode::Growth => alert.occurrence.is_some() && sent != alert.occurrence,
            _ => sent.is_none_or(|at| now - at >= 86_400),
        };
        if send {
            let mark = if code == AlertCode::Growth {
                alert.occurrence
            } else {
                Some(now)
            };
            catalog.set_alert_sent(stack_id, key, mark)?;
            out.push(alert.clone());
        }
    }
    Ok(out)
}

/// Everything to notify after a scheduler tick at `now`: what its events call for, then
/// each stack's conditions that are due to be said again ([`from_events`], [`current`] and
/// [`to_notify`] for every stack, with the user's [`Levels`]).
///
/// # Errors
/// When the catalog fails.
pub fn after_tick<Tz: TimeZone>(
    catalog: &Catalog,
    events: &[TickEvent],
    now: &DateTime<Tz>,
) -> Result<Vec<Alert>, CatalogError> {
    let levels = Levels::load(catalog)?;
    let mut said = from_events(events, levels);
    for stack in catalog.stacks()? {
        let current = current(catalog, stack.id, now)?;
        said.extend(to_notify(
            catalog,
            stack.id,
            &current,
            levels,
            now.timestamp(),
        )?);
    }
    Ok(said)
}

/// A desktop notification could not be shown.
#[derive(Debug, thiserror::Error)]
#[error("the desktop notification could not be shown: {0}")]
pub struct NotifyError(#[from] notify_rust::error::Error);

/// Shows `alert` as a desktop notification with an "Open" action. Returns the handle to
/// wait for the click on (where the platform has one).
///
/// # Errors
/// When no notification service answers (no session bus, no daemon).
pub fn send(alert: &Alert) -> Result<notify_rust::NotificationHandle, NotifyError> {
    let mut n = notify_rust::Notification::new();
    n.appname("Lifeboat")
        .summary(&alert.summary)
        .body(&alert.body)
        .icon("lifeboat-desktop")
        .action("default", "Open");
    #[cfg(all(unix, not(target_os = "macos")))]
    {
        n.hint(notify_rust::Hint::DesktopEntry("Lifeboat".into()));
        n.urgency(match alert.severity {
            Severity::Error => notify_rust::Urgency::Critical,
            Severity::Warning => notify_rust::Urgency::Normal,
            Severity::Info => notify_rust::Urgency::Low,
        });
    }
    Ok(n.show()?)
}
