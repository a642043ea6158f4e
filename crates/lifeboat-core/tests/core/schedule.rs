//! The scheduler on a real stack, a real catalog and real backups, driven by an injected
//! clock: a due run waits for a missing drive (said once) and starts when it appears,
//! missed days give one run, history and alerts follow; and the alerts reach a real
//! notification service on the session bus.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone};
use chrono_tz::Europe::Berlin;
use lifeboat_core::alerts::{self, AlertCode, Levels};
use lifeboat_core::backup::{self, BackupOptions};
use lifeboat_core::catalog::BackupResult;
use lifeboat_core::job::NoProgress;
use lifeboat_core::schedule::Schedule;
use lifeboat_core::scheduler::{self, Outcome, TickEvent};
use lifeboat_core::{CancelToken, Catalog};
use lifeboat_testkit::notifications::NotificationService;

use crate::harness::{load, skip};

/// Day `d` after today, at `h:m` in Berlin. The backups themselves record the real time,
/// so the injected clock runs from tomorrow on; no hour used here is touched by DST.
fn at(d: u32, h: u32, m: u32) -> DateTime<chrono_tz::Tz> {
    let day = chrono::Utc::now().with_timezone(&Berlin).date_naive()
        + chrono::Days::new(u64::from(d) - 15);
    Berlin
        .from_local_datetime(&day.and_hms_opt(h, m, 0).unwrap())
        .single()
        .unwrap()
}

fn stack(dir: &Path) {
    std::fs::create_dir_all(dir.join("data")).unwrap();
    std::fs::write(
        dir.join("compose.yaml"),
        "name: nightly\nservices:\n  app:\n    image: busybox\n    volumes:\n      - ./data:/data\n",
    )
    .unwrap();
    std::fs::write(dir.join("data/notes.txt"), "hello\n".repeat(1000)).unwrap();
}

/// A runner as the app's: a real backup with the stack's settings, recorded in the history.
fn runner<'a>(
    catalog: &'a Arc<Catalog>,
    id: &'a age::x25519::Identity,
    runs: &'a mut Vec<i64>,
) -> impl FnMut(i64) -> Outcome + 'a {
    move |stack_id| {
        runs.push(stack_id);
        let record = catalog.stack(stack_id).unwrap();
        let settings = catalog.settings(stack_id).unwrap();
        let dest = settings.destination().unwrap();
        let project = load(Path::new(&record.dir));
        let started = lifeboat_core::time::unix_now();
        let result = backup::backup(
            &project,
            id,
            &BackupOptions::new(&dest),
            &NoProgress,
            &CancelToken::new(),
        );
        backup::record_run(catalog, stack_id, &dest, started, 1, &result).unwrap();
        match result {
            Ok(_) => Outcome::Ok,
            Err(e) => Outcome::Failed(e.to_string()),
        }
    }
}

#[test]
fn a_due_backup_waits_for_the_drive_then_runs_once_and_alerts_follow() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("stack");
    stack(&dir);
    let drive = tmp.path().join("drive");
    let catalog = Arc::new(Catalog::open(&tmp.path().join("catalog.sqlite3")).unwrap());
    let rec = catalog.add_stack(&dir, "nightly").unwrap();
    let mut settings = catalog.settings(rec.id).unwrap();
    settings.destination = Some(drive.display().to_string());
    catalog.save_settings(rec.id, &settings).unwrap();
    let daily = Schedule::Daily { at: "04:00".into() };
    catalog
        .set_schedule(rec.id, Some(daily.clone()), at(16, 12, 0).timestamp())
        .unwrap();
    let id = age::x25519::Identity::generate();
    let mut runs = Vec::new();

    // The first evening: nothing due yet.
    let events = scheduler::tick(
        &catalog,
        &at(16, 20, 0),
        &mut runner(&catalog, &id, &mut runs),
    )
    .unwrap();
    assert!(events.is_empty(), "{events:?}");

    // The next day at 04:00 with the drive unplugged: the run waits, said once.
    let events = scheduler::tick(
        &catalog,
        &at(17, 4, 0),
        &mut runner(&catalog, &id, &mut runs),
    )
    .unwrap();
    assert!(
        matches!(&events[..], [TickEvent::CouldNotStart { reason, .. }] if reason.contains("waiting for the backup drive")),
        "{events:?}"
    );
    let events = scheduler::tick(
        &catalog,
        &at(17, 4, 1),
        &mut runner(&catalog, &id, &mut runs),
    )
    .unwrap();
    assert!(events.is_empty(), "said twice: {events:?}");
    let banners = alerts::current(&catalog, rec.id, &at(17, 4, 1)).unwrap();
    assert!(
        banners.iter().any(|a| a.code == AlertCode::CouldNotStart),
        "{banners:?}"
    );
    assert!(runs.is_empty());

    // The drive appears at 09:00: the backup runs, once.
    std::fs::create_dir_all(&drive).unwrap();
    let events = scheduler::tick(
        &catalog,
        &at(17, 9, 0),
        &mut runner(&catalog, &id, &mut runs),
    )
    .unwrap();
    assert!(
        matches!(
            &events[..],
            [TickEvent::Ran {
                outcome: Outcome::Ok,
                catch_up: true,
                ..
            }]
        ),
        "{events:?}"
    );
    let events = scheduler::tick(
        &catalog,
        &at(17, 9, 1),
        &mut runner(&catalog, &id, &mut runs),
    )
    .unwrap();
    assert!(events.is_empty(), "{events:?}");
    assert_eq!(runs.len(), 1);
    let history = catalog.backups(rec.id, 10).unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].result, BackupResult::Ok);
    assert!(Path::new(history[0].destination.as_str())
        .join("nightly")
        .is_dir());
    assert!(alerts::current(&catalog, rec.id, &at(17, 9, 1))
        .unwrap()
        .iter()
        .all(|a| a.code != AlertCode::CouldNotStart));

    // The machine is off for four days: one run for the four missed slots.
    std::fs::write(dir.join("data/big.bin"), vec![7u8; 3 << 20]).unwrap();
    let events = scheduler::tick(
        &catalog,
        &at(21, 10, 0),
        &mut runner(&catalog, &id, &mut runs),
    )
    .unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(runs.len(), 2);

    // The data grew from 6 KB to 3 MiB, but growth counts only from 1 MiB: no alert yet.
    // Another 3 MiB (+100%): a growth alert, notified once for that backup.
    std::fs::write(dir.join("data/big2.bin"), vec![8u8; 3 << 20]).unwrap();
    let events = scheduler::tick(
        &catalog,
        &at(22, 4, 0),
        &mut runner(&catalog, &id, &mut runs),
    )
    .unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    let now = at(22, 4, 5);
    let current = alerts::current(&catalog, rec.id, &now).unwrap();
    let growth = current
        .iter()
        .find(|a| a.code == AlertCode::Growth)
        .unwrap_or_else(|| panic!("no growth alert in {current:?}"));
    assert!(
        growth.body.contains("app grew 99%") || growth.body.contains("app grew 100%"),
        "{}",
        growth.body
    );
    // The drive here is a folder on the host's disk, whose fullness this test does not
    // control: the disk alert is left to the tmpfs test below.
    let levels = Levels {
        disk: false,
        ..Levels::default()
    };
    // (The backups record the real time and the injected clock is a week ahead of it, so
    // "stale" holds here too; only growth is looked at.)
    let first = alerts::to_notify(&catalog, rec.id, &current, levels, now.timestamp()).unwrap();
    assert!(
        first.iter().any(|a| a.code == AlertCode::Growth),
        "{first:?}"
    );
    let again =
        alerts::to_notify(&catalog, rec.id, &current, levels, now.timestamp() + 60).unwrap();
    assert!(
        again.iter().all(|a| a.code != AlertCode::Growth),
        "{again:?}"
    );

    // Nothing for days: stale (more than twice the 24 h interval), notified at most
    // daily; the user can turn it off.
    let later = at(27, 12, 0);
    let current = alerts::current(&catalog, rec.id, &later).unwrap();
    let stale = current
        .iter()
        .find(|a| a.code == AlertCode::Stale)
        .expect("stale");
    let last_ok = catalog.backups(rec.id, 1).unwrap()[0].started;
    let days = (later.timestamp() - last_ok) / 86_400;
    assert!(days >= 10);
    assert!(
        stale
            .summary
            .contains(&format!("has not been backed up for {days} days")),
        "{}",
        stale.summary
    );
    let sent = alerts::to_notify(&catalog, rec.id, &current, levels, later.timestamp()).unwrap();
    assert_eq!(sent.len(), 1);
    assert!(
        alerts::to_notify(&catalog, rec.id, &current, levels, later.timestamp() + 3600)
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        alerts::to_notify(
            &catalog,
            rec.id,
            &current,
            levels,
            later.timestamp() + 86_400
        )
        .unwrap()
        .len(),
        1
    );
    let off = Levels {
        stale: false,
        ..levels
    };
    assert!(alerts::to_notify(
        &catalog,
        rec.id,
        &current,
        off,
        later.timestamp() + 3 * 86_400
    )
    .unwrap()
    .is_empty());

    // A failing run is retried after five minutes.
    let mut failing = |_: i64| Outcome::Failed("the compose file is broken".into());
    let events = scheduler::tick(&catalog, &at(28, 4, 0), &mut failing).unwrap();
    assert!(matches!(
        &events[..],
        [TickEvent::Ran {
            outcome: Outcome::Failed(_),
            retry: false,
            ..
        }]
    ));
    let state = catalog.schedule_state(rec.id).unwrap().unwrap();
    assert_eq!(state.retry_at, Some(at(28, 4, 5).timestamp()));
    let events = scheduler::tick(&catalog, &at(28, 4, 5), &mut failing).unwrap();
    assert!(
        matches!(&events[..], [TickEvent::Ran { retry: true, .. }]),
        "{events:?}"
    );

    // Paused: nothing runs, even when due.
    catalog.set_paused_until(Some(i64::MAX)).unwrap();
    let events = scheduler::tick(&catalog, &at(29, 3, 0), &mut failing).unwrap();
    assert!(events.is_empty());
    catalog.set_paused_until(None).unwrap();
    assert_eq!(
        scheduler::tick(&catalog, &at(29, 3, 0), &mut failing)
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn alerts_reach_a_real_notification_service_and_success_stays_quiet() {
    let service = match NotificationService::start() {
        Ok(s) => s,
        Err(e) => return skip(&format!("no notification service can run here: {e}")),
    };
    let events = vec![
        TickEvent::Ran {
            stack_id: 1,
            stack: "chatbot".into(),
            outcome: Outcome::Failed("the backup destination /media/usb does not exist: plug in the drive or choose another folder".into()),
            catch_up: false,
            retry: false,
        },
        TickEvent::Ran {
            stack_id: 2,
            stack: "gateway".into(),
            outcome: Outcome::Ok,
            catch_up: false,
            retry: false,
        },
        TickEvent::CouldNotStart {
            stack_id: 3,
            stack: "bot".into(),
            reason: "waiting for the backup drive: /media/usb is not there; the backup starts when it is".into(),
        },
    ];
    let to_send = alerts::from_events(&events, Levels::default());
    assert_eq!(to_send.len(), 2, "success is quiet by default: {to_send:?}");
    for a in &to_send {
        alerts::send(a).unwrap();
    }
    let got = service.wait_for(2, Duration::from_secs(5));
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0].app_name, "Lifeboat");
    assert_eq!(got[0].summary, "Backup of chatbot failed");
    assert_eq!(
        got[0].body,
        "The backup destination /media/usb does not exist: plug in the drive or choose another folder"
    );
    assert_eq!(got[0].urgency, Some(2));
    assert_eq!(got[0].actions, ["default", "Open"]);
    assert_eq!(
        got[1].summary,
        "The scheduled backup of bot could not start"
    );
    assert!(got[1].body.starts_with("Waiting for the backup drive"));

    // Asked for, success is said too.
    let with_success = Levels {
        success: true,
        ..Levels::default()
    };
    let all = alerts::from_events(&events, with_success);
    alerts::send(&all[1]).unwrap();
    let got = service.wait_for(3, Duration::from_secs(5));
    assert_eq!(got[2].summary, "gateway is backed up");
    assert_eq!(got[2].urgency, Some(0));
}

#[test]
fn almost_full_means_the_next_backups_may_not_fit_not_a_percentage_alone() {
    const MIB: u64 = 1 << 20;
    const GIB: u64 = 1 << 30;
    // A big shared disk at 92% used, a stack that writes a few MiB a day: room for years.
    assert!(!alerts::drive_is_low(20 * GIB, 252 * GIB, 5 * MIB));
    // The same disk when each backup writes 4 GiB: less than a week of room.
    assert!(alerts::drive_is_low(20 * GIB, 252 * GIB, 4 * GIB));
    // A 16 GB stick with 900 MiB free: under 10% and under 1 GiB.
    assert!(alerts::drive_is_low(900 * MIB, 16 * GIB, MIB));
    // Half empty, but the last backup needed more than is free.
    assert!(alerts::drive_is_low(3 * GIB, 6 * GIB, 4 * GIB));
    // Plenty free in percent and in bytes.
    assert!(!alerts::drive_is_low(100 * GIB, 200 * GIB, 4 * GIB));
    // A drive that reports no size says nothing.
    assert!(!alerts::drive_is_low(0, 0, 0));
}

#[test]
fn a_nearly_full_destination_is_an_alert_once_a_day() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("stack");
    stack(&dir);
    let drive = tmp.path().join("drive");
    std::fs::create_dir(&drive).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=4m", "tmpfs"])
        .arg(&drive)
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        return skip("cannot mount a small tmpfs (needs root)");
    }
    let result = std::panic::catch_unwind(|| {
        let catalog = Catalog::open(&tmp.path().join("catalog.sqlite3")).unwrap();
        let rec = catalog.add_stack(&dir, "nightly").unwrap();
        let mut settings = catalog.settings(rec.id).unwrap();
        settings.destination = Some(drive.display().to_string());
        catalog.save_settings(rec.id, &settings).unwrap();
        let now = chrono::Utc::now().with_timezone(&Berlin);
        let codes = |c: &Catalog| {
            alerts::current(c, rec.id, &now)
                .unwrap()
                .into_iter()
                .map(|a| a.code)
                .collect::<Vec<_>>()
        };
        assert!(!codes(&catalog).contains(&AlertCode::DiskLow));
        // 3.7 of 4 MiB used: less than 10% free.
        std::fs::write(drive.join("filler"), vec![1u8; 3_800_000]).unwrap();
        let current = alerts::current(&catalog, rec.id, &now).unwrap();
        let low = current
            .iter()
            .find(|a| a.code == AlertCode::DiskLow)
            .unwrap_or_else(|| panic!("{current:?}"));
        assert!(low.body.contains("free of 4.0 MiB"), "{}", low.body);
        let t = now.timestamp();
        let levels = Levels::default();
        assert_eq!(
            alerts::to_notify(&catalog, rec.id, &current, levels, t)
                .unwrap()
                .len(),
            1
        );
        assert!(
            alerts::to_notify(&catalog, rec.id, &current, levels, t + 600)
                .unwrap()
                .is_empty()
        );
        // Space freed: the condition is forgotten, and said again when it comes back.
        std::fs::remove_file(drive.join("filler")).unwrap();
        let current = alerts::current(&catalog, rec.id, &now).unwrap();
        assert!(
            alerts::to_notify(&catalog, rec.id, &current, levels, t + 700)
                .unwrap()
                .is_empty()
        );
        std::fs::write(drive.join("filler"), vec![1u8; 3_800_000]).unwrap();
        let current = alerts::current(&catalog, rec.id, &now).unwrap();
        assert_eq!(
            alerts::to_notify(&catalog, rec.id, &current, levels, t + 800)
                .unwrap()
                .len(),
            1
        );
    });
    let _ = std::process::Command::new("umount").arg(&drive).status();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

#[test]
fn a_stacks_status_is_its_last_good_backup_its_next_run_and_its_worst_alert() {
    use lifeboat_core::catalog::BackupRecord;
    use lifeboat_core::status;
    let tmp = tempfile::tempdir().unwrap();
    let catalog = Catalog::open(&tmp.path().join("catalog.sqlite3")).unwrap();
    catalog
        .add_stack(&tmp.path().join("quiet"), "quiet")
        .unwrap();
    let bot = catalog.add_stack(&tmp.path().join("bot"), "bot").unwrap();
    let now = at(16, 12, 0);
    let run = |started: i64, result: BackupResult| BackupRecord {
        started,
        duration_ms: 1000,
        downtime_ms: 0,
        snapshot: (result == BackupResult::Ok).then(|| format!("snap-{started}")),
        destination: tmp.path().display().to_string(),
        bytes_in: 10,
        bytes_new: 10,
        result,
        message: (result == BackupResult::Failed).then(|| "the drive is gone".to_owned()),
        warnings: 0,
    };
    let t = now.timestamp();
    catalog
        .record_backup(bot.id, &run(t - 7200, BackupResult::Ok))
        .unwrap();
    catalog
        .record_backup(bot.id, &run(t - 60, BackupResult::Failed))
        .unwrap();
    let mut settings = catalog.settings(bot.id).unwrap();
    settings.schedule = Some(Schedule::Daily { at: "02:30".into() });
    catalog.save_settings(bot.id, &settings).unwrap();

    let all = status::all(&catalog, &now);
    assert_eq!(
        all.iter()
            .map(|s| s.stack.name.as_str())
            .collect::<Vec<_>>(),
        ["bot", "quiet"],
        "in the catalog's order, by name"
    );
    let (b, q) = (&all[0], &all[1]);
    assert_eq!((q.last_ok, q.next, q.worst()), (None, None, None));
    // The failed run does not hide the good one before it; it is the worst alert.
    assert_eq!(b.last_ok, Some(t - 7200));
    assert_eq!(b.worst(), Some(alerts::Severity::Error));
    assert_eq!(b.next, Some(at(17, 2, 30).timestamp()));
    assert_eq!(status::ago(t - (t - 7200)), "2 h ago");
    assert_eq!(status::ago(30), "just now");
    assert_eq!(status::ago(3 * 86_400), "3 days ago");
}

#[test]
fn a_failed_drill_stays_a_banner_until_one_passes_and_unproven_backups_are_said() {
    use lifeboat_core::catalog::BackupRecord;
    use lifeboat_core::status;
    let tmp = tempfile::tempdir().unwrap();
    let catalog = Catalog::open(&tmp.path().join("catalog.sqlite3")).unwrap();
    let bot = catalog.add_stack(&tmp.path().join("bot"), "bot").unwrap();
    let real_now = lifeboat_core::time::unix_now();
    catalog
        .record_backup(
            bot.id,
            &BackupRecord {
                started: real_now - 100,
                duration_ms: 1000,
                downtime_ms: 0,
                snapshot: Some("snap-1".into()),
                destination: tmp.path().display().to_string(),
                bytes_in: 10,
                bytes_new: 10,
                result: BackupResult::Ok,
                message: None,
                warnings: 0,
            },
        )
        .unwrap();
    let mut settings = catalog.settings(bot.id).unwrap();
    settings.schedule = Some(Schedule::Daily { at: "02:30".into() });
    catalog.save_settings(bot.id, &settings).unwrap();
    let codes = |now: &DateTime<chrono_tz::Tz>| -> Vec<AlertCode> {
        alerts::current(&catalog, bot.id, now)
            .unwrap()
            .into_iter()
            .map(|a| a.code)
            .filter(|c| matches!(c, AlertCode::DrillFailed | AlertCode::NotProven))
            .collect()
    };
    // A day after the backup: nothing yet. Sixteen days on, with weekly drills and none
    // passed: not proven (more than twice the interval), said once a day.
    assert_eq!(codes(&at(16, 12, 0)), []);
    let late = at(31, 12, 0);
    let current = alerts::current(&catalog, bot.id, &late).unwrap();
    let unproven = current
        .iter()
        .find(|a| a.code == AlertCode::NotProven)
        .unwrap_or_else(|| panic!("{current:?}"));
    assert_eq!(unproven.severity, alerts::Severity::Warning);
    assert!(
        unproven
            .summary
            .starts_with("bot has not been proven restorable for 1")
            && unproven.body.contains("No restore drill has succeeded yet")
            && unproven.body.contains("every 7 days"),
        "{unproven:?}"
    );
    let levels = Levels::default();
    let said = alerts::to_notify(&catalog, bot.id, &current, levels, late.timestamp()).unwrap();
    assert!(
        said.iter().any(|a| a.code == AlertCode::NotProven),
        "{said:?}"
    );
    let again =
        alerts::to_notify(&catalog, bot.id, &current, levels, late.timestamp() + 600).unwrap();
    assert!(
        again.iter().all(|a| a.code != AlertCode::NotProven),
        "{again:?}"
    );

    // A drill that found a problem: an error banner saying what, until a drill passes.
    let failed = catalog
        .drill_started("bot", "/backups", "snap-1", "/tmp/lifeboat-drill-x")
        .unwrap();
    let report = serde_json::json!({
        "snapshot": "snap-1", "stack": "bot", "from": "/backups", "snapshot_started": 0,
        "ok": false, "duration_ms": 1, "restore_ms": 1, "files_checked": 3,
        "bytes_checked": 30, "databases": [],
        "problems": ["SQLite database data/app.sqlite, table notes: 250 rows after the restore, 251 recorded at backup time."],
        "notes": []
    });
    catalog
        .drill_finished(failed, Some(false), &report.to_string())
        .unwrap();
    let now = at(16, 12, 0);
    let current = alerts::current(&catalog, bot.id, &now).unwrap();
    let banner = current
        .iter()
        .find(|a| a.code == AlertCode::DrillFailed)
        .unwrap_or_else(|| panic!("{current:?}"));
    assert_eq!(banner.severity, alerts::Severity::Error);
    assert_eq!(
        banner.body,
        "Snapshot snap-1: SQLite database data/app.sqlite, table notes: 250 rows after the \
         restore, 251 recorded at backup time."
    );
    assert_eq!(
        status::of(&catalog, catalog.stack(bot.id).unwrap(), &now).worst(),
        Some(alerts::Severity::Error)
    );
    // A cancelled drill changes nothing; a passed one clears the banner and is the proof.
    let cancelled = catalog
        .drill_started("bot", "/backups", "snap-1", "/tmp/lifeboat-drill-y")
        .unwrap();
    catalog
        .drill_finished(cancelled, None, r#"{"error":"cancelled"}"#)
        .unwrap();
    assert_eq!(codes(&now), [AlertCode::DrillFailed]);
    let passed = catalog
        .drill_started("bot", "/backups", "snap-1", "/tmp/lifeboat-drill-z")
        .unwrap();
    catalog.drill_finished(passed, Some(true), "{}").unwrap();
    assert_eq!(codes(&now), []);
    let st = status::of(&catalog, catalog.stack(bot.id).unwrap(), &now);
    assert!(
        st.last_proven.is_some_and(|t| (t - real_now).abs() < 60),
        "{st:?}"
    );
    // Sixteen days after that proof, weekly drills are overdue; monthly ones are not, and
    // with drills off nothing is said.
    let late = at(31, 12, 0);
    assert_eq!(codes(&late), [AlertCode::NotProven]);
    let body = alerts::current(&catalog, bot.id, &late)
        .unwrap()
        .into_iter()
        .find(|a| a.code == AlertCode::NotProven)
        .unwrap()
        .body;
    assert!(
        body.starts_with("The last successful restore drill was 1"),
        "{body}"
    );
    for (days, expect) in [(30, vec![]), (0, vec![])] {
        settings.drill_every_days = Some(days);
        catalog.save_settings(bot.id, &settings).unwrap();
        assert_eq!(codes(&late), expect, "every {days} days");
    }
}
