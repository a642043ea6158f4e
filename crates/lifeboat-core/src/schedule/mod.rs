//! Schedules: when a stack's backups run, what is due now, catch-up after the machine was
//! off, retries with backoff, pause.
//!
//! Every schedule is a cron expression in the machine's local time (the presets are
//! written as one), evaluated by `croner`: a time that falls into a spring-forward gap runs
//! right after the gap, a time that happens twice in autumn runs once. Everything here
//! takes the current time as an argument, so tests drive it with any clock and time zone.
//!
//! A slot that passed while nothing ran (machine off or asleep, app closed, paused) makes
//! the next check run one backup, however many slots were missed.

use std::str::FromStr;

use chrono::{DateTime, TimeZone, Timelike, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Why a schedule is refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScheduleError {
    /// Not `HH:MM`.
    #[error("{0:?} is not a time of day; write it as HH:MM, e.g. 02:00")]
    Time(String),
    /// Hours that do not divide a day.
    #[error("every {0} hours does not divide a day evenly; choose 1, 2, 3, 4, 6, 8 or 12")]
    Hours(u32),
    /// Not a weekday.
    #[error("{0:?} is not a day of the week (mon, tue, … sun)")]
    Day(String),
    /// A cron expression croner refuses.
    #[error("{expr:?} is not a cron expression ({reason}); write five fields: minute hour day month weekday, e.g. \"0 2 * * *\"")]
    Cron {
        /// The expression.
        expr: String,
        /// What croner said.
        reason: String,
    },
    /// A cron expression that never fires.
    #[error("{0:?} never runs")]
    Never(String),
}

/// When a stack's backups run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Schedule {
    /// Every N hours, on the hour, counted from midnight (N divides 24).
    Hourly {
        /// N.
        every: u32,
    },
    /// Every day at a time (`HH:MM`, local).
    Daily {
        /// The time.
        at: String,
    },
    /// Every week on a day (0 = Sunday … 6 = Saturday) at a time.
    Weekly {
        /// The day.
        day: u8,
        /// The time.
        at: String,
    },
    /// A five-field cron expression, for experts.
    Cron {
        /// The expression.
        expr: String,
    },
}

const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
const DAY_NAMES: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// Parses `HH:MM` (or `H:MM`).
fn hour_minute(at: &str) -> Result<(u32, u32), ScheduleError> {
    let bad = || ScheduleError::Time(at.to_owned());
    let (h, m) = at.trim().split_once(':').ok_or_else(bad)?;
    let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if h > 23 || m > 59 || at.trim().len() > 5 {
        return Err(bad());
    }
    Ok((h, m))
}

/// Parses a weekday name (`mon`, `Monday`) or number (0 or 7 = Sunday).
///
/// # Errors
/// When it is neither.
pub fn parse_day(day: &str) -> Result<u8, ScheduleError> {
    let d = day.trim().to_ascii_lowercase();
    if let Ok(n) = d.parse::<u8>() {
        if n <= 7 {
            return Ok(n % 7);
        }
    }
    DAYS.iter()
        .position(|p| d.len() >= 3 && d.starts_with(p))
        .map(|i| i as u8)
        .ok_or_else(|| ScheduleError::Day(day.to_owned()))
}

impl Schedule {
    /// The cron expression this schedule is.
    ///
    /// # Errors
    /// When a field is out of range.
    pub fn expression(&self) -> Result<String, ScheduleError> {
        Ok(match self {
            Self::Hourly { every } => {
                if *every == 0 || 24 % every != 0 {
                    return Err(ScheduleError::Hours(*every));
                }
                if *every == 1 {
                    "0 * * * *".to_owned()
                } else {
                    format!("0 */{every} * * *")
                }
            }
            Self::Daily { at } => {
                let (h, m) = hour_minute(at)?;
                format!("{m} {h} * * *")
            }
            Self::Weekly { day, at } => {
                let (h, m) = hour_minute(at)?;
                if *day > 6 {
                    return Err(ScheduleError::Day(day.to_string()));
                }
                format!("{m} {h} * * {day}")
            }
            Self::Cron { expr } => expr.trim().to_owned(),
        })
    }

    fn cron(&self) -> Result<croner::Cron, ScheduleError> {
        let expr = self.expression()?;
        let cron = croner::Cron::from_str(&expr).map_err(|e| ScheduleError::Cron {
            expr: expr.clone(),
            reason: e.to_string(),
        })?;
        Ok(cron)
    }

    /// Checks the schedule: valid fields, and it runs at least once in the next ten years.
    ///
    /// # Errors
    /// What is wrong, as a sentence.
    pub fn validate(&self) -> Result<(), ScheduleError> {
        let cron = self.cron()?;
        let now = Utc::now();
        match cron.find_next_occurrence(&now, false) {
            Ok(t) if (t - now).num_days() < 3660 => Ok(()),
            _ => Err(ScheduleError::Never(self.expression()?)),
        }
    }

    /// The first run strictly after `t`, in `t`'s time zone.
    pub fn next_after<Tz: TimeZone>(&self, t: &DateTime<Tz>) -> Option<DateTime<Tz>> {
        self.cron().ok()?.find_next_occurrence(t, false).ok()
    }

    /// The next `n` runs after `t`.
    pub fn next_runs<Tz: TimeZone>(&self, t: &DateTime<Tz>, n: usize) -> Vec<DateTime<Tz>> {
        let Ok(cron) = self.cron() else {
            return Vec::new();
        };
        let mut out: Vec<DateTime<Tz>> = Vec::with_capacity(n);
        let mut at = t.clone();
        while out.len() < n {
            match cron.find_next_occurrence(&at, false) {
                Ok(next) => {
                    at = next.clone();
                    out.push(next);
                }
                Err(_) => break,
            }
        }
        out
    }

    /// The longest gap between two of the next few runs after `t`, in seconds: what "has
    /// not run for too long" is measured against.
    pub fn interval<Tz: TimeZone>(&self, t: &DateTime<Tz>) -> i64 {
        let runs = self.next_runs(t, 8);
        runs.windows(2)
            .map(|w| (w[1].clone() - w[0].clone()).num_seconds())
            .max()
            .unwrap_or(86_400)
    }

    /// A sentence for people: "Every day at 02:00".
    pub fn describe(&self) -> String {
        match self {
            Self::Hourly { every: 1 } => "Every hour".to_owned(),
            Self::Hourly { every } => format!("Every {every} hours"),
            Self::Daily { at } => format!("Every day at {at}"),
            Self::Weekly { day, at } => format!(
                "Every {} at {at}",
                DAY_NAMES.get(usize::from(*day)).unwrap_or(&"?")
            ),
            Self::Cron { expr } => format!("Cron: {expr}"),
        }
    }
}

/// What a stack's schedule has done so far; kept in the catalog.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct ScheduleState {
    /// Slots at or before this time (Unix seconds) are taken care of: the schedule was set
    /// then, or a run handled them.
    #[ts(type = "number")]
    pub handled_until: i64,
    /// Failures in a row.
    pub failures: u32,
    /// When the next retry of a failed run is due.
    #[ts(type = "number | null")]
    pub retry_at: Option<i64>,
    /// Why a due run is waiting (the destination is missing), as a sentence.
    pub waiting: Option<String>,
    /// The slot whose waiting was already notified, so it is said once.
    #[ts(type = "number | null")]
    pub waiting_notified: Option<i64>,
    /// When the last scheduled run started.
    #[ts(type = "number | null")]
    pub last_run: Option<i64>,
}

/// Days between drills of a stack that has a schedule and chose nothing else.
pub const DRILL_EVERY_DAYS: u32 = 7;

/// Whether a scheduled drill of a stack is due at `now`: drills are on (`every_days` > 0),
/// the last drill (whatever it found) is at least `every_days` old or there was none, the
/// stack has a snapshot, and it is not the stack's backup time (no backup started in the
/// last 15 minutes, none due within the hour). It waits for a quiet time (01:00 to 06:00
/// local) unless it is a day overdue, so a laptop that sleeps at night still gets one.
pub fn drill_due<Tz: TimeZone>(
    schedule: &Schedule,
    every_days: u32,
    last_drill: Option<i64>,
    last_snapshot: Option<i64>,
    last_backup_run: Option<i64>,
    now: &DateTime<Tz>,
) -> bool {
    if every_days == 0 || last_snapshot.is_none() {
        return false;
    }
    let t = now.timestamp();
    let interval = i64::from(every_days) * 86_400;
    let since = last_drill.map_or(i64::MAX, |d| t.saturating_sub(d));
    if since < interval {
        return false;
    }
    let backup_soon = schedule
        .next_after(now)
        .is_some_and(|n| n.timestamp() - t < 3600);
    let backup_just_ran = last_backup_run.is_some_and(|r| t - r < 15 * 60);
    if backup_soon || backup_just_ran {
        return false;
    }
    (1..6).contains(&now.hour()) || since >= interval + 86_400
}

/// Retries after the first, second and third failure in a row; after that, the schedule
/// waits for its next slot.
pub const RETRY_DELAYS: [i64; 3] = [5 * 60, 30 * 60, 2 * 3600];

/// A run later than this after its slot counts as a catch-up.
const LATE: i64 = 10 * 60;

/// What is due for one schedule now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Due {
    /// Nothing; the next run (slot or retry) is at this time, if ever.
    No {
        /// Unix seconds.
        next: Option<i64>,
    },
    /// A backup should start.
    Run {
        /// The slot it runs for (the latest one that passed), or the retry time.
        slot: i64,
        /// The slot passed more than ten minutes ago (machine off, app closed, paused).
        catch_up: bool,
        /// It retries a failed run.
        retry: bool,
    },
    /// Schedules are paused until this time (`i64::MAX`: until resumed).
    Paused {
        /// Unix seconds.
        until: i64,
    },
}

/// What is due at `now` for `schedule` with `state`, when schedules are paused until
/// `paused_until` (if at all).
pub fn due<Tz: TimeZone>(
    schedule: &Schedule,
    state: &ScheduleState,
    now: &DateTime<Tz>,
    paused_until: Option<i64>,
) -> Due {
    let now_s = now.timestamp();
    if let Some(until) = paused_until.filter(|u| *u > now_s) {
        return Due::Paused { until };
    }
    let tz = now.timezone();
    let Some(since) = tz.timestamp_opt(state.handled_until, 0).earliest() else {
        return Due::No { next: None };
    };
    // The latest slot in (handled_until, now]. A long absence of an hourly schedule walks at
    // most a few thousand slots; past that, only the latest matters.
    let mut latest = None;
    let mut at = since;
    for _ in 0..20_000 {
        match schedule.next_after(&at) {
            Some(next) if next.timestamp() <= now_s => {
                latest = Some(next.timestamp());
                at = next;
            }
            _ => break,
        }
    }
    if let Some(slot) = latest {
        return Due::Run {
            slot,
            catch_up: now_s - slot > LATE,
            retry: false,
        };
    }
    let next_slot = schedule.next_after(now).map(|t| t.timestamp());
    match state.retry_at {
        Some(r) if r <= now_s => Due::Run {
            slot: r,
            catch_up: false,
            retry: true,
        },
        Some(r) => Due::No {
            next: Some(next_slot.map_or(r, |n| n.min(r))),
        },
        None => Due::No { next: next_slot },
    }
}

impl ScheduleState {
    /// A new schedule set at `now`: nothing before it is due.
    pub fn starting(now: i64) -> Self {
        Self {
            handled_until: now,
            ..Self::default()
        }
    }

    /// Records a run that started at `started` and ended at `now`, for the slots it
    /// handled: a success clears failures; a failure schedules a retry with backoff, until
    /// [`RETRY_DELAYS`] are used up.
    pub fn finished(&mut self, started: i64, ok: bool, now: i64) {
        self.handled_until = self.handled_until.max(started);
        self.last_run = Some(started);
        self.waiting = None;
        self.waiting_notified = None;
        if ok {
            self.failures = 0;
            self.retry_at = None;
        } else {
            self.failures += 1;
            self.retry_at = RETRY_DELAYS
                .get(self.failures as usize - 1)
                .map(|d| now + d);
        }
    }

    /// Notes that a due run waits (for the destination); returns true when this slot's
    /// waiting has not been said before.
    pub fn wait(&mut self, slot: i64, reason: String) -> bool {
        self.waiting = Some(reason);
        let first = self.waiting_notified != Some(slot);
        self.waiting_notified = Some(slot);
        first
    }

    /// A sentence on failures, when there are some.
    pub fn failure_note(&self) -> Option<String> {
        match (self.failures, self.retry_at) {
            (0, _) => None,
            (n, Some(_)) => Some(format!(
                "The last {} failed; retrying with a growing delay.",
                if n == 1 {
                    "backup".to_owned()
                } else {
                    format!("{n} backups")
                }
            )),
            (n, None) => Some(format!(
                "{n} backups in a row failed; no more retries until the next scheduled time. Fix the cause or run a backup now."
            )),
        }
    }
}

/// Pause choices of the tray menu.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Pause {
    /// One hour from now.
    Hour,
    /// Until tomorrow at 00:00 (local).
    Tomorrow,
    /// Until resumed.
    Indefinitely,
}

impl Pause {
    /// When the pause ends, from `now`.
    pub fn until<Tz: TimeZone>(self, now: &DateTime<Tz>) -> i64 {
        match self {
            Self::Hour => now.timestamp() + 3600,
            Self::Tomorrow => {
                let midnight = Schedule::Daily { at: "00:00".into() };
                midnight
                    .next_after(now)
                    .map_or(now.timestamp() + 86_400, |t| t.timestamp())
            }
            Self::Indefinitely => i64::MAX,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Europe::Berlin;

    fn berlin(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<chrono_tz::Tz> {
        Berlin
            .with_ymd_and_hms(y, mo, d, h, mi, 0)
            .earliest()
            .unwrap()
    }

    fn runs(s: &Schedule, from: DateTime<chrono_tz::Tz>, n: usize) -> Vec<String> {
        s.next_runs(&from, n)
            .iter()
            .map(|t| t.format("%Y-%m-%d %H:%M %:z").to_string())
            .collect()
    }

    fn daily(at: &str) -> Schedule {
        Schedule::Daily { at: at.into() }
    }

    #[test]
    fn a_weekly_drill_waits_for_a_quiet_time_away_from_the_backup() {
        let s = daily("02:30");
        let day = 86_400;
        let at = |h, mi| berlin(2026, 6, 10, h, mi);
        let t = |h, mi| at(h, mi).timestamp();
        let snap = Some(t(2, 31) - day);
        // Never drilled, a snapshot there, 04:00: due.
        assert!(drill_due(&s, 7, None, snap, Some(t(2, 30)), &at(4, 0)));
        // No snapshot yet, or drills off: never.
        assert!(!drill_due(&s, 7, None, None, None, &at(4, 0)));
        assert!(!drill_due(&s, 0, None, snap, None, &at(4, 0)));
        // Drilled three days ago: not yet; eight days ago: due at 04:00.
        assert!(!drill_due(
            &s,
            7,
            Some(t(4, 0) - 3 * day),
            snap,
            None,
            &at(4, 0)
        ));
        assert!(drill_due(
            &s,
            7,
            Some(t(4, 0) - 8 * day + 3600),
            snap,
            None,
            &at(4, 0)
        ));
        // Not within the hour before the backup, nor in the 15 minutes after it started.
        assert!(!drill_due(
            &s,
            7,
            Some(t(2, 0) - 8 * day),
            snap,
            None,
            &at(2, 0)
        ));
        assert!(!drill_due(
            &s,
            7,
            Some(t(2, 40) - 8 * day),
            snap,
            Some(t(2, 30)),
            &at(2, 40)
        ));
        // Busy hours wait for the night, unless a day overdue.
        let week_ago = Some(t(14, 0) - 7 * day - 3600);
        assert!(!drill_due(&s, 7, week_ago, snap, None, &at(14, 0)));
        let overdue = Some(t(14, 0) - 8 * day - 3600);
        assert!(drill_due(&s, 7, overdue, snap, None, &at(14, 0)));
    }

    #[test]
    fn presets_across_the_spring_forward_gap() {
        // 2026-03-29 02:00 CET jumps to 03:00 CEST: 02:30 does not exist that day and runs
        // right after the gap; no day is skipped.
        assert_eq!(
            runs(&daily("02:30"), berlin(2026, 3, 28, 12, 0), 3),
            [
                "2026-03-29 03:00 +02:00",
                "2026-03-30 02:30 +02:00",
                "2026-03-31 02:30 +02:00"
            ]
        );
        assert_eq!(
            runs(
                &Schedule::Hourly { every: 6 },
                berlin(2026, 3, 28, 12, 0),
                4
            ),
            [
                "2026-03-28 18:00 +01:00",
                "2026-03-29 00:00 +01:00",
                "2026-03-29 06:00 +02:00",
                "2026-03-29 12:00 +02:00"
            ]
        );
        let sunday_two = Schedule::Weekly {
            day: 0,
            at: "02:00".into(),
        };
        assert_eq!(
            runs(&sunday_two, berlin(2026, 3, 27, 0, 0), 2),
            ["2026-03-29 03:00 +02:00", "2026-04-05 02:00 +02:00"]
        );
    }

    #[test]
    fn a_time_that_happens_twice_in_autumn_runs_once() {
        // 2026-10-25 03:00 CEST falls back to 02:00 CET: 02:30 happens twice.
        let r = runs(&daily("02:30"), berlin(2026, 10, 24, 12, 0), 3);
        assert_eq!(
            r,
            [
                "2026-10-25 02:30 +02:00",
                "2026-10-26 02:30 +01:00",
                "2026-10-27 02:30 +01:00"
            ]
        );
        // And the day is 25 hours long: the interval used for "too long" sees it.
        assert_eq!(
            daily("02:30").interval(&berlin(2026, 10, 24, 12, 0)),
            25 * 3600
        );
        assert_eq!(
            runs(
                &Schedule::Hourly { every: 1 },
                berlin(2026, 10, 25, 1, 30),
                3
            ),
            [
                "2026-10-25 02:00 +02:00",
                "2026-10-25 02:00 +01:00",
                "2026-10-25 03:00 +01:00"
            ],
            "hourly keeps running through the repeated hour, once per real hour"
        );
    }

    #[test]
    fn cron_expressions_and_bad_input() {
        let weekdays = Schedule::Cron {
            expr: "15 4 * * 1-5".into(),
        };
        assert_eq!(
            runs(&weekdays, berlin(2026, 11, 20, 12, 0), 3),
            [
                "2026-11-23 04:15 +01:00",
                "2026-11-24 04:15 +01:00",
                "2026-11-25 04:15 +01:00"
            ]
        );
        assert_eq!(weekdays.interval(&berlin(2026, 11, 20, 12, 0)), 3 * 86_400);
        let err = |s: Schedule| s.validate().unwrap_err().to_string();
        assert!(err(daily("25:00")).contains("not a time of day"));
        assert!(err(daily("2pm")).contains("HH:MM"));
        assert!(err(Schedule::Hourly { every: 5 }).contains("1, 2, 3, 4, 6, 8 or 12"));
        assert!(err(Schedule::Cron {
            expr: "every day".into()
        })
        .contains("five fields"));
        assert!(err(Schedule::Cron {
            expr: "0 0 31 2 *".into()
        })
        .contains("never runs"));
        assert_eq!(parse_day("Monday").unwrap(), 1);
        assert_eq!(parse_day("7").unwrap(), 0);
        assert!(parse_day("funday").is_err());
        assert_eq!(
            Schedule::Weekly {
                day: 3,
                at: "21:15".into()
            }
            .describe(),
            "Every Wednesday at 21:15"
        );
    }

    #[test]
    fn missed_slots_run_once_at_the_next_start() {
        let s = daily("02:00");
        // Set on Monday noon; the machine was off until Friday 09:00.
        let mut state = ScheduleState::starting(berlin(2026, 11, 16, 12, 0).timestamp());
        let friday = berlin(2026, 11, 20, 9, 0);
        let due_now = due(&s, &state, &friday, None);
        assert_eq!(
            due_now,
            Due::Run {
                slot: berlin(2026, 11, 20, 2, 0).timestamp(),
                catch_up: true,
                retry: false
            }
        );
        state.finished(friday.timestamp(), true, friday.timestamp() + 60);
        // Nothing more is due until Saturday 02:00: four missed slots gave one run.
        assert_eq!(
            due(&s, &state, &berlin(2026, 11, 20, 9, 5), None),
            Due::No {
                next: Some(berlin(2026, 11, 21, 2, 0).timestamp())
            }
        );
        // On time: not a catch-up.
        assert_eq!(
            due(&s, &state, &berlin(2026, 11, 21, 2, 0), None),
            Due::Run {
                slot: berlin(2026, 11, 21, 2, 0).timestamp(),
                catch_up: false,
                retry: false
            }
        );
        // A schedule set after today's slot does not run for it.
        let fresh = ScheduleState::starting(berlin(2026, 11, 21, 8, 0).timestamp());
        assert!(matches!(
            due(&s, &fresh, &berlin(2026, 11, 21, 9, 0), None),
            Due::No { .. }
        ));
    }

    #[test]
    fn failures_retry_with_backoff_then_wait_for_the_next_slot() {
        let s = daily("02:00");
        let t0 = berlin(2026, 11, 20, 2, 0).timestamp();
        let mut state = ScheduleState::starting(t0 - 3600);
        let at = |secs: i64| Berlin.timestamp_opt(secs, 0).unwrap();
        let mut now = t0;
        let mut retries = Vec::new();
        for _ in 0..4 {
            assert!(matches!(due(&s, &state, &at(now), None), Due::Run { .. }));
            state.finished(now, false, now);
            match state.retry_at {
                Some(r) => {
                    retries.push(r - now);
                    // Not before its time.
                    assert_eq!(due(&s, &state, &at(r - 1), None), Due::No { next: Some(r) });
                    assert_eq!(
                        due(&s, &state, &at(r), None),
                        Due::Run {
                            slot: r,
                            catch_up: false,
                            retry: true
                        }
                    );
                    now = r;
                }
                None => break,
            }
        }
        assert_eq!(retries, RETRY_DELAYS);
        assert_eq!(state.failures, 4);
        assert!(state
            .failure_note()
            .unwrap()
            .contains("no more retries until the next scheduled time"));
        // Quiet until the next slot, which runs; a success clears the failures.
        let next = berlin(2026, 11, 21, 2, 0).timestamp();
        assert_eq!(
            due(&s, &state, &at(now + 3600), None),
            Due::No { next: Some(next) }
        );
        assert!(matches!(due(&s, &state, &at(next), None), Due::Run { .. }));
        state.finished(next, true, next);
        assert_eq!(
            (state.failures, state.retry_at, state.failure_note()),
            (0, None, None)
        );
    }

    #[test]
    fn pause_holds_runs_and_resuming_catches_up_once() {
        let s = Schedule::Hourly { every: 1 };
        let start = berlin(2026, 11, 20, 9, 30);
        let state = ScheduleState::starting(start.timestamp());
        let until = Pause::Hour.until(&start);
        assert_eq!(until, start.timestamp() + 3600);
        assert_eq!(
            due(&s, &state, &berlin(2026, 11, 20, 10, 0), Some(until)),
            Due::Paused { until }
        );
        // The pause ended at 10:30: the 10:00 slot runs once, late.
        assert_eq!(
            due(&s, &state, &berlin(2026, 11, 20, 10, 31), Some(until)),
            Due::Run {
                slot: berlin(2026, 11, 20, 10, 0).timestamp(),
                catch_up: true,
                retry: false
            }
        );
        assert_eq!(
            Pause::Tomorrow.until(&start),
            berlin(2026, 11, 21, 0, 0).timestamp()
        );
        assert!(matches!(
            due(
                &s,
                &state,
                &berlin(2030, 1, 1, 0, 0),
                Some(Pause::Indefinitely.until(&start))
            ),
            Due::Paused { .. }
        ));
    }

    #[test]
    fn a_waiting_run_is_said_once_per_slot() {
        let mut state = ScheduleState::default();
        assert!(state.wait(100, "drive missing".into()));
        assert!(!state.wait(100, "drive missing".into()));
        assert!(state.wait(200, "drive missing".into()));
        state.finished(300, true, 300);
        assert_eq!(state.waiting, None);
    }
}
