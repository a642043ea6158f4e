//! `lifeboat schedule`: set, show and remove a stack's schedule (kept in the same catalog
//! the desktop app uses), pause and resume all schedules, and `run`: the scheduler for
//! headless machines (a loop, or `--once` from cron or a systemd timer), with the same
//! catch-up, retries and notifications as the tray app.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use chrono::{Local, TimeZone};
use clap::Subcommand;
use lifeboat_core::alerts;
use lifeboat_core::schedule::{self, due, Due, Pause, Schedule, ScheduleState};
use lifeboat_core::scheduler::{self, Outcome};
use lifeboat_core::{CancelToken, Catalog, LoadOptions};
use serde::Serialize;

use crate::verbs::{finish, print_json, Result};

#[derive(Subcommand)]
pub enum ScheduleAction {
    /// Set when a stack's backups run (one of --every-hours, --daily, --weekly, --cron).
    Set {
        /// The folder with the compose file.
        stack_dir: PathBuf,
        /// Every N hours on the hour, counted from midnight (1, 2, 3, 4, 6, 8 or 12).
        #[arg(long, group = "when")]
        every_hours: Option<u32>,
        /// Every day at HH:MM (local time).
        #[arg(long, group = "when")]
        daily: Option<String>,
        /// Every week, as DAY@HH:MM, e.g. sun@03:00.
        #[arg(long, group = "when")]
        weekly: Option<String>,
        /// A five-field cron expression (minute hour day month weekday), local time.
        #[arg(long, group = "when")]
        cron: Option<String>,
        /// The destination folder (kept for the stack; required the first time).
        #[arg(long = "to")]
        dest: Option<PathBuf>,
        /// Days between the stack's restore drills (0 turns them off; 7 unless chosen).
        #[arg(long, value_name = "DAYS")]
        drill_every_days: Option<u32>,
    },
    /// Show a stack's schedule, its next five runs, and what needs attention.
    Show {
        /// The folder with the compose file.
        stack_dir: PathBuf,
    },
    /// Remove a stack's schedule (its backups then run only by hand).
    Off {
        /// The folder with the compose file.
        stack_dir: PathBuf,
    },
    /// Pause every schedule.
    Pause {
        /// For how long.
        #[arg(long = "for", value_enum, default_value = "hour")]
        duration: PauseArg,
    },
    /// Resume paused schedules (missed runs then run once).
    Resume,
    /// Run scheduled backups as they come due (checks every 30 s), or only what is due now
    /// with --once.
    Run {
        /// Check once, run what is due, and exit.
        #[arg(long)]
        once: bool,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum PauseArg {
    Hour,
    Tomorrow,
    Forever,
}

fn stack_id(catalog: &Catalog, dir: &Path) -> Result<i64> {
    let project = lifeboat_core::stack::load(dir, &LoadOptions::default())?;
    Ok(lifeboat_core::settings::add_stack(catalog, &project)?.id)
}

fn parse(action: &ScheduleAction) -> Result<Option<Schedule>> {
    let ScheduleAction::Set {
        every_hours,
        daily,
        weekly,
        cron,
        ..
    } = action
    else {
        return Ok(None);
    };
    let s = if let Some(every) = every_hours {
        Schedule::Hourly { every: *every }
    } else if let Some(at) = daily {
        Schedule::Daily { at: at.clone() }
    } else if let Some(w) = weekly {
        let (day, at) = w
            .split_once('@')
            .ok_or("write --weekly as DAY@HH:MM, e.g. sun@03:00")?;
        Schedule::Weekly {
            day: schedule::parse_day(day)?,
            at: at.to_owned(),
        }
    } else if let Some(expr) = cron {
        Schedule::Cron { expr: expr.clone() }
    } else {
        return Err(
            "say when: --every-hours N, --daily HH:MM, --weekly DAY@HH:MM or --cron EXPR".into(),
        );
    };
    s.validate()?;
    Ok(Some(s))
}

/// What `show --json` prints.
#[derive(Serialize)]
struct Shown {
    stack: String,
    schedule: Option<Schedule>,
    description: Option<String>,
    next_runs: Vec<String>,
    destination: Option<String>,
    paused_until: Option<i64>,
    state: Option<ScheduleState>,
    alerts: Vec<alerts::Alert>,
    /// The last drill that proved a snapshot restorable, when one did.
    last_proven: Option<Proven>,
    /// Days between scheduled drills; 0 when none are scheduled.
    drill_every_days: u32,
}

/// A drill that proved a snapshot restorable.
#[derive(Serialize)]
struct Proven {
    at: i64,
    snapshot: Option<String>,
    summary: String,
}

fn show(catalog: &Catalog, id: i64, json: bool) -> Result<()> {
    let record = catalog.stack(id)?;
    let record_name = record.name.clone();
    let settings = catalog.settings(id)?;
    let now = Local::now();
    let next: Vec<String> = settings
        .schedule
        .as_ref()
        .map(|s| s.next_runs(&now, 5))
        .unwrap_or_default()
        .iter()
        .map(|t| t.format("%a %Y-%m-%d %H:%M %Z").to_string())
        .collect();
    let shown = Shown {
        stack: record.name,
        description: settings.schedule.as_ref().map(Schedule::describe),
        schedule: settings.schedule.clone(),
        next_runs: next,
        destination: settings.destination().map(|d| d.display().to_string()),
        paused_until: catalog.paused_until()?,
        state: catalog.schedule_state(id)?,
        alerts: alerts::current(catalog, id, &now)?,
        last_proven: catalog.last_proven(&record_name)?.map(|d| Proven {
            at: d.finished.unwrap_or(d.started),
            snapshot: d.snapshot,
            summary: d
                .report
                .as_deref()
                .and_then(|r| serde_json::from_str::<lifeboat_core::drill::DrillReport>(r).ok())
                .map(|r| format!("snapshot {}, {}", r.snapshot, r.proof()))
                .unwrap_or_default(),
        }),
        drill_every_days: if settings.schedule.is_some() {
            settings
                .drill_every_days
                .unwrap_or(lifeboat_core::schedule::DRILL_EVERY_DAYS)
        } else {
            0
        },
    };
    if json {
        return print_json(&shown);
    }
    let proven = match &shown.last_proven {
        Some(p) => {
            let days = (now.timestamp() - p.at).max(0) / 86_400;
            let when = match days {
                0 => "today".to_owned(),
                1 => "yesterday".to_owned(),
                n => format!("{n} days ago"),
            };
            format!("  proven restorable {when}: {}", p.summary)
        }
        None => format!(
            "  never proven restorable: run `lifeboat drill --stack {} --from DEST`",
            shown.stack
        ),
    };
    let Some(desc) = &shown.description else {
        println!(
            "{} has no schedule; its backups run only by hand.",
            shown.stack
        );
        println!("{proven}");
        return Ok(());
    };
    println!("{}: {desc}", shown.stack);
    println!(
        "  to {}",
        shown
            .destination
            .as_deref()
            .unwrap_or("(no destination chosen)")
    );
    if let Some(until) = shown.paused_until.filter(|u| *u > now.timestamp()) {
        println!("  paused {}", pause_text(until));
    }
    println!("  next runs:");
    for t in &shown.next_runs {
        println!("    {t}");
    }
    if let Some(note) = shown.state.as_ref().and_then(ScheduleState::failure_note) {
        println!("  {note}");
    }
    println!("{proven}");
    match shown.drill_every_days {
        0 => println!("  scheduled restore drills are off"),
        1 => println!("  a restore drill runs every day at a quiet time"),
        n => println!("  a restore drill runs every {n} days at a quiet time"),
    }
    for a in &shown.alerts {
        println!("  {}: {}. {}", a.severity, a.summary, a.body);
    }
    Ok(())
}

fn pause_text(until: i64) -> String {
    if until == i64::MAX {
        "until resumed".to_owned()
    } else {
        Local
            .timestamp_opt(until, 0)
            .single()
            .map_or_else(String::new, |t| format!("until {}", t.format("%a %H:%M")))
    }
}

/// Runs scheduled backups. Notifications go to the desktop when a session has a
/// notification service; otherwise the same sentences go to stderr.
fn run(
    catalog: &std::sync::Arc<Catalog>,
    runtime: &tokio::runtime::Runtime,
    once: bool,
) -> Result<()> {
    // SIGTERM (systemctl stop) and Ctrl-C cancel the running job, which starts the services
    // it stopped again, and end the loop; a second signal is not waited for.
    let stop = CancelToken::new();
    {
        let stop = stop.clone();
        runtime.spawn(async move {
            use tokio::signal::unix::{signal, SignalKind};
            let (Ok(mut term), Ok(mut int)) = (
                signal(SignalKind::terminate()),
                signal(SignalKind::interrupt()),
            ) else {
                return;
            };
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            eprintln!(
                "lifeboat: stopping: the running job is cancelled and its services started again"
            );
            stop.cancel();
        });
    }
    loop {
        let now = Local::now();
        let mut runner = |stack_id: i64| {
            let engine =
                lifeboat_core::docker::BlockingEngine::connect(None, runtime.handle().clone()).ok();
            let name = catalog.stack(stack_id).map(|s| s.name).unwrap_or_default();
            let clock = std::time::Instant::now();
            let result = lifeboat_core::around::backup_stack(
                catalog,
                stack_id,
                engine,
                &lifeboat_core::job::NoProgress,
                &stop,
            );
            eprintln!("lifeboat: {}", run_line(&name, clock.elapsed(), &result));
            Outcome::of(&result)
        };
        let events = scheduler::tick(catalog, &now, &mut runner)?;
        let said = alerts::after_tick(catalog, &events, &now)?;
        for a in &said {
            eprintln!("lifeboat: {}: {}", a.summary, a.body);
            if let Err(e) = alerts::send(a) {
                tracing::debug!("{e}");
            }
        }
        for d in lifeboat_core::notify::after_tick(catalog, &events, &said) {
            if let Err(e) = d.result {
                eprintln!(
                    "lifeboat: the notification to {} was not sent: {e}",
                    d.channel
                );
            }
        }
        if stop.is_cancelled() {
            return Ok(());
        }
        run_due_drills(catalog, runtime, &now, &stop);
        if once {
            let next = catalog
                .stacks()?
                .iter()
                .filter_map(|s| {
                    let settings = catalog.settings(s.id).ok()?;
                    let sched = settings.schedule?;
                    let state = catalog.schedule_state(s.id).ok()??;
                    match due(&sched, &state, &Local::now(), catalog.paused_until().ok()?) {
                        Due::No { next: Some(n) } => Some(n),
                        _ => None,
                    }
                })
                .min();
            if events.is_empty() {
                match next.and_then(|n| Local.timestamp_opt(n, 0).single()) {
                    Some(t) => println!(
                        "Nothing is due; the next scheduled backup is at {}.",
                        t.format("%a %Y-%m-%d %H:%M")
                    ),
                    None => println!("Nothing is due."),
                }
            }
            let failed = events.iter().any(|e| {
                matches!(
                    e,
                    scheduler::TickEvent::Ran {
                        outcome: Outcome::Failed(_),
                        ..
                    }
                )
            });
            return if failed {
                Err("a scheduled backup failed (see above)".into())
            } else {
                Ok(())
            };
        }
        let until = std::time::Instant::now()
            + lifeboat_core::scheduler::tick_every(Duration::from_secs(30));
        while std::time::Instant::now() < until {
            if stop.is_cancelled() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// The journal's one line for a scheduled backup: the stack, its result, duration and
/// bytes (never a secret: errors are sentences about files and services).
fn run_line(
    stack: &str,
    took: Duration,
    result: &std::result::Result<
        lifeboat_core::backup::StackBackup,
        lifeboat_core::backup::RunError,
    >,
) -> String {
    use lifeboat_core::inspect::human_bytes;
    let secs = took.as_secs_f64();
    match result {
        Ok(done) => {
            let r = &done.report;
            let read: u64 = r.components.iter().map(|c| c.bytes_in).sum();
            let new: u64 = r.components.iter().map(|c| c.bytes_new).sum();
            let mut line = format!(
                "{stack}: backed up in {secs:.1} s, snapshot {}, {} read, {} new",
                r.snapshot,
                human_bytes(read),
                human_bytes(new)
            );
            if !done.pruned.is_empty() {
                line.push_str(&format!(", {} old snapshot(s) pruned", done.pruned.len()));
            }
            if let Some(p) = &done.post_hook {
                line.push_str(&format!("; warning: {p}"));
            }
            line
        }
        Err(e) => format!("{stack}: backup FAILED after {secs:.1} s: {e}"),
    }
}

/// Runs `lifeboat schedule …`.
pub fn run_action(
    runtime: &tokio::runtime::Runtime,
    action: ScheduleAction,
    json: bool,
) -> ExitCode {
    finish((|| {
        let catalog = std::sync::Arc::new(Catalog::open_default()?);
        let now = Local::now();
        match &action {
            ScheduleAction::Set {
                stack_dir,
                dest,
                drill_every_days,
                ..
            } => {
                let sched = parse(&action)?;
                let id = stack_id(&catalog, stack_dir)?;
                let mut settings = catalog.settings(id)?;
                if let Some(days) = drill_every_days {
                    settings.drill_every_days = Some(*days);
                    catalog.save_settings(id, &settings)?;
                }
                if let Some(d) = dest {
                    let d = std::path::absolute(d)?;
                    settings.destination = Some(d.display().to_string());
                    catalog.save_settings(id, &settings)?;
                } else if settings.destination().is_none() {
                    return Err("say where the backups go the first time: --to DEST".into());
                }
                catalog.set_schedule(id, sched, now.timestamp())?;
                show(&catalog, id, json)
            }
            ScheduleAction::Show { stack_dir } => {
                show(&catalog, stack_id(&catalog, stack_dir)?, json)
            }
            ScheduleAction::Off { stack_dir } => {
                let id = stack_id(&catalog, stack_dir)?;
                catalog.set_schedule(id, None, now.timestamp())?;
                show(&catalog, id, json)
            }
            ScheduleAction::Pause { duration } => {
                let until = match duration {
                    PauseArg::Hour => Pause::Hour,
                    PauseArg::Tomorrow => Pause::Tomorrow,
                    PauseArg::Forever => Pause::Indefinitely,
                }
                .until(&now);
                catalog.set_paused_until(Some(until))?;
                println!("Schedules are paused {}.", pause_text(until));
                Ok(())
            }
            ScheduleAction::Resume => {
                catalog.set_paused_until(None)?;
                println!("Schedules are running again; missed backups run once now.");
                Ok(())
            }
            ScheduleAction::Run { once } => run(&catalog, runtime, *once),
        }
    })())
}

/// Runs the drills due now ([`lifeboat_core::drill::scheduled`]), one line each on
/// stderr; a drill that finds a problem raises the same alert as a failed backup.
fn run_due_drills(
    catalog: &std::sync::Arc<Catalog>,
    runtime: &tokio::runtime::Runtime,
    now: &chrono::DateTime<Local>,
    stop: &CancelToken,
) {
    use lifeboat_core::drill::scheduled;
    let due = scheduled::due(catalog, now);
    if due.is_empty() {
        return;
    }
    let (Ok((identity, _)), Ok(home)) = (
        lifeboat_core::keys::load(None),
        lifeboat_core::catalog::home(),
    ) else {
        eprintln!(
            "lifeboat: a drill is due, but the backup key or Lifeboat's folder cannot be read"
        );
        return;
    };
    for d in due {
        eprintln!(
            "lifeboat: scheduled drill of {} starting{}",
            d.stack,
            if d.older { " (an older snapshot)" } else { "" }
        );
        let engine =
            lifeboat_core::docker::BlockingEngine::connect(None, runtime.handle().clone()).ok();
        let result = scheduled::run_due(
            catalog,
            &d,
            home.join("drills"),
            engine,
            &identity,
            &lifeboat_core::job::NoProgress,
            stop,
        );
        if let Ok(r) = &result {
            eprintln!("lifeboat: drill of {}: {}", d.stack, r.summary());
        }
        if let Some(alert) = scheduled::alert_for(d.stack_id, &d.stack, &result) {
            eprintln!("lifeboat: {}: {}", alert.summary, alert.body);
            if let Err(e) = lifeboat_core::alerts::send(&alert) {
                tracing::debug!("{e}");
            }
            for d in lifeboat_core::notify::deliver(catalog, &alert) {
                if let Err(e) = d.result {
                    eprintln!(
                        "lifeboat: the notification to {} was not sent: {e}",
                        d.channel
                    );
                }
            }
        }
    }
}
