//! Consistent capture against a real Docker engine and a real Postgres server in a container:
//! the hot dump through exec (and that it restores into a fresh server), a named volume read
//! through the engine's archive API, cold mode's stop and start order, and a failure in the
//! middle of a cold backup that still ends with every container running.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use lifeboat_core::backup::manifest::{ComponentKind, Recipe};
use lifeboat_core::backup::{self, BackupError, BackupOptions, Mode};
use lifeboat_core::docker::BlockingEngine;
use lifeboat_core::job::NoProgress;
use lifeboat_core::restore;
use lifeboat_core::{CancelToken, Catalog, WarningCode};
use lifeboat_testkit::{postgres_bin, Daemon};

use crate::backup::{have_age, partials, stock_restore};
use crate::harness::{load, restore_now, runtime, skip};

const COMPOSE: &str = "name: pgstack
services:
  db:
    image: postgres:16
    volumes: [./pgdata:/var/lib/postgresql/data]
  app:
    image: lifeboat-test/busybox:1
    depends_on: [db]
    volumes: [./appdata:/data, cache:/cache]
  web:
    image: lifeboat-test/busybox:1
    depends_on: [app]
volumes:
  cache:
";

/// The `COMPOSE` stack running in `d`: Postgres with a `shop` database of 1000 orders, app
/// with a bind mount and the `pgstack_cache` volume (a file owned by 1234:5678, a folder),
/// and web.
struct PgStack {
    stack: std::path::PathBuf,
    db: String,
    app: String,
    web: String,
}

fn pg_stack(d: &Daemon, dir: &Path) -> PgStack {
    let stack = dir.join("pgstack");
    std::fs::create_dir_all(stack.join("appdata")).unwrap();
    std::fs::write(stack.join("compose.yaml"), COMPOSE).unwrap();
    std::fs::write(stack.join("appdata/config.json"), b"{\"a\":1}").unwrap();

    let db = d
        .run_postgres("pgstack", "db", &stack.join("pgdata"), &[])
        .unwrap();
    d.psql(&db, "postgres", "CREATE DATABASE shop");
    d.psql(
        &db,
        "shop",
        "CREATE TABLE orders(id int primary key, note text); \
         INSERT INTO orders SELECT g, 'order ' || g FROM generate_series(1, 1000) g;",
    );
    d.must(&["volume", "create", "pgstack_cache"]);
    let app = d.run_service(
        "pgstack",
        "app",
        &[
            format!("{}:/data", stack.join("appdata").display()),
            "pgstack_cache:/cache".into(),
        ],
    );
    d.must(&[
        "exec",
        &app,
        "sh",
        "-c",
        "echo cached > /cache/item.txt && mkdir /cache/sub && head -c 3000 /dev/zero > /cache/sub/blob && chown 1234:5678 /cache/item.txt",
    ]);
    let web = d.run_service("pgstack", "web", &[]);
    PgStack {
        stack,
        db,
        app,
        web,
    }
}

fn state(d: &Daemon, id: &str, field: &str) -> String {
    d.must(&["inspect", "-f", &format!("{{{{.State.{field}}}}}"), id])
}

/// `2026-11-23T01:02:03.12Z` → `2026-11-23T01:02:03.120000000`: Go trims trailing zeros of
/// the fraction, which breaks comparing the strings as they are.
fn sortable_time(t: &str) -> String {
    let t = t.trim_end_matches('Z');
    let (whole, frac) = t.split_once('.').unwrap_or((t, ""));
    format!("{whole}.{frac:0<9}")
}

fn all_running(d: &Daemon, ids: &[&str]) {
    for id in ids {
        assert_eq!(
            state(d, id, "Running"),
            "true",
            "container {id} is not running"
        );
    }
}

#[test]
fn postgres_dump_volume_through_engine_cold_order_and_failure() {
    if !have_age() {
        return;
    }
    if let Err(e) = postgres_bin() {
        return skip(&e);
    }
    let d = match Daemon::start() {
        Ok(d) => d,
        Err(e) => return skip(&format!("no Docker engine for this test: {e}")),
    };
    let t = tempfile::tempdir().unwrap();
    let PgStack {
        stack,
        db,
        app,
        web,
    } = pg_stack(&d, t.path());

    let rt = runtime();
    let engine = BlockingEngine::connect(Some(&d.host), rt.handle().clone()).unwrap();
    let home = tempfile::tempdir().unwrap();
    let catalog = Arc::new(Catalog::open(&home.path().join("catalog.sqlite3")).unwrap());
    let id = age::x25519::Identity::generate();
    let dest = t.path().join("dest");
    std::fs::create_dir(&dest).unwrap();
    let project = load(&stack);
    let opts = |mode: Mode, dest: &Path| BackupOptions {
        threads: 2,
        mode,
        engine: Some(engine.clone()),
        volumes_via_engine: true,
        catalog: Some(catalog.clone()),
        ..BackupOptions::new(dest)
    };

    // Hot: Postgres is dumped through exec, nothing stops.
    let report = backup::backup(
        &project,
        &id,
        &opts(Mode::Auto, &dest),
        &NoProgress,
        &CancelToken::new(),
    )
    .unwrap();
    assert_eq!(report.downtime_ms, 0);
    all_running(&d, &[&db, &app, &web]);
    let dbc = report
        .components
        .iter()
        .find(|c| c.name == "service-db")
        .unwrap();
    assert_eq!(
        (dbc.kind, dbc.recipe),
        (ComponentKind::Database, Recipe::PgDumpall)
    );
    assert_eq!(dbc.files, 1, "only the dump, not the live data folder");
    let appc = report
        .components
        .iter()
        .find(|c| c.name == "service-app")
        .unwrap();
    assert_eq!(appc.files, 3, "config.json, item.txt and sub/blob");

    // A deep verify reads the dump and checks it is complete.
    let v = lifeboat_core::backup::verify::verify(
        &dest,
        Some(&report.snapshot),
        true,
        &id,
        &NoProgress,
    )
    .unwrap();
    assert!(v.problems.is_empty(), "{:?}", v.problems);
    assert_eq!(v.archives as usize, report.components.len());

    // Stock tools restore the dump and the volume.
    let restored = t.path().join("restored");
    stock_restore(&report, &id, &restored);
    let dump = std::fs::read_to_string(restored.join("_dumps/db/pg_dumpall.sql")).unwrap();
    assert!(
        dump.contains("CREATE DATABASE shop"),
        "{}",
        &dump[..dump.len().min(500)]
    );
    assert_eq!(
        std::fs::read_to_string(restored.join("_volumes/pgstack_cache/item.txt")).unwrap(),
        "cached\n"
    );
    let meta = std::fs::metadata(restored.join("_volumes/pgstack_cache/item.txt")).unwrap();
    assert_eq!(
        (
            std::os::unix::fs::MetadataExt::uid(&meta),
            std::os::unix::fs::MetadataExt::gid(&meta)
        ),
        (1234, 5678)
    );
    assert_eq!(
        std::fs::metadata(restored.join("_volumes/pgstack_cache/sub/blob"))
            .unwrap()
            .len(),
        3000
    );

    // The dump loads into a fresh server and holds every row.
    let fresh = d
        .run_postgres(
            "other",
            "db",
            &t.path().join("other/pgdata"),
            &[
                "-e",
                "POSTGRES_USER=ghost",
                "-v",
                &format!("{}:/restore:ro", restored.join("_dumps/db").display()),
            ],
        )
        .unwrap();
    let bin = postgres_bin().unwrap();
    d.must(&[
        "exec",
        &fresh,
        &format!("{}/psql", bin.display()),
        "-h",
        "/var/run/postgresql",
        "-U",
        "postgres",
        "-q",
        "-f",
        "/restore/pg_dumpall.sql",
        "postgres",
    ]);
    assert_eq!(
        d.psql(&fresh, "shop", "SELECT count(*), sum(id) FROM orders"),
        "1000|500500"
    );

    // A dump that exits non-zero fails the backup loudly, with the tool's own reason, and
    // leaves no snapshot and no partial file. (This server's POSTGRES_USER names no role.)
    let other = t.path().join("other");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(
        other.join("compose.yaml"),
        "name: other\nservices:\n  db:\n    image: postgres:16\n    volumes: [./pgdata:/var/lib/postgresql/data]\n",
    )
    .unwrap();
    let err = backup::backup(
        &load(&other),
        &id,
        &opts(Mode::Auto, &dest),
        &NoProgress,
        &CancelToken::new(),
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("pg_dumpall exited with code 1") && msg.contains("ghost"),
        "{msg}"
    );
    assert!(backup::manifest_paths(&dest, "other").is_empty());
    assert!(partials(&dest).is_empty(), "{:?}", partials(&dest));
    let before = backup::manifest_paths(&dest, "pgstack").len();

    // Cold: app and web depend on db; web stops first, db last; db starts first, web last.
    let report = backup::backup(
        &project,
        &id,
        &opts(Mode::Cold, &dest),
        &NoProgress,
        &CancelToken::new(),
    )
    .unwrap();
    all_running(&d, &[&db, &app, &web]);
    assert!(report.downtime_ms > 0);
    let nanos = |c: &str, f: &str| sortable_time(&state(&d, c, f));
    let finished = |c: &str| nanos(c, "FinishedAt");
    let started = |c: &str| nanos(c, "StartedAt");
    assert!(finished(&web) <= finished(&app), "web must stop before app");
    assert!(finished(&app) <= finished(&db), "app must stop before db");
    assert!(started(&db) <= started(&app), "db must start before app");
    assert!(started(&app) <= started(&web), "app must start before web");
    let dbc = report
        .components
        .iter()
        .find(|c| c.name == "service-db")
        .unwrap();
    assert_eq!(dbc.recipe, Recipe::FilesStopped);
    assert!(dbc.files > 100, "the data folder, copied while stopped");
    assert!(report
        .warnings
        .iter()
        .any(|w| w.code == WarningCode::ServicesStopped && w.message.contains("db")));
    assert!(catalog.journal().unwrap().is_empty());
    assert_eq!(backup::manifest_paths(&dest, "pgstack").len(), before + 1);

    // A failure in the middle of a cold backup (a full disk) still starts everything again.
    let small = t.path().join("small");
    std::fs::create_dir(&small).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
        .arg(&small)
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        return skip("cannot mount a small tmpfs (needs root)");
    }
    let err = backup::backup(
        &project,
        &id,
        &opts(Mode::Cold, &small),
        &NoProgress,
        &CancelToken::new(),
    );
    let _ = Command::new("umount").arg(&small).status();
    let err = err.unwrap_err();
    assert!(matches!(err, BackupError::Archive(_)), "{err}");
    all_running(&d, &[&db, &app, &web]);
    assert!(catalog.journal().unwrap().is_empty());
    assert!(partials(&small).is_empty());
}

#[test]
fn redis_is_saved_with_bgsave_and_its_dump_restores() {
    if !have_age() {
        return;
    }
    let d = match Daemon::start() {
        Ok(d) => d,
        Err(e) => return skip(&format!("no Docker engine for this test: {e}")),
    };
    let t = tempfile::tempdir().unwrap();
    let stack = t.path().join("cache");
    std::fs::create_dir_all(&stack).unwrap();
    std::fs::write(
        stack.join("compose.yaml"),
        "name: cache\nservices:\n  redis:\n    image: redis:7\n    volumes: [./redisdata:/data]\n",
    )
    .unwrap();
    let redis = match d.run_redis("cache", "redis", &stack.join("redisdata")) {
        Ok(id) => id,
        Err(e) => return skip(&e),
    };
    assert_eq!(d.redis_cli(&redis, &["SET", "session:1", "alice"]), "OK");
    assert_eq!(d.redis_cli(&redis, &["SET", "session:2", "bob"]), "OK");
    // Nothing is on disk yet: saves are off, only BGSAVE writes the dump.
    assert!(!stack.join("redisdata/dump.rdb").exists());

    let rt = runtime();
    let engine = BlockingEngine::connect(Some(&d.host), rt.handle().clone()).unwrap();
    let id = age::x25519::Identity::generate();
    let dest = t.path().join("dest");
    std::fs::create_dir(&dest).unwrap();
    let report = backup::backup(
        &load(&stack),
        &id,
        &BackupOptions {
            threads: 2,
            engine: Some(engine),
            ..BackupOptions::new(&dest)
        },
        &NoProgress,
        &CancelToken::new(),
    )
    .unwrap();
    let c = report
        .components
        .iter()
        .find(|c| c.name == "service-redis")
        .unwrap();
    assert_eq!(c.recipe, Recipe::RedisBgsave);
    assert_eq!(report.downtime_ms, 0);
    assert_eq!(state(&d, &redis, "Running"), "true");

    // A fresh server started on the restored folder has the keys.
    let restored = t.path().join("restored");
    stock_restore(&report, &id, &restored);
    assert!(restored.join("redisdata/dump.rdb").is_file());
    let fresh = d
        .run_redis("other", "redis", &restored.join("redisdata"))
        .unwrap();
    assert_eq!(d.redis_cli(&fresh, &["GET", "session:1"]), "alice");
    assert_eq!(d.redis_cli(&fresh, &["DBSIZE"]), "2");
}

#[test]
fn postgres_is_restored_from_its_dump_into_the_running_service_and_undone() {
    if let Err(e) = postgres_bin() {
        return skip(&e);
    }
    let d = match Daemon::start() {
        Ok(d) => d,
        Err(e) => return skip(&format!("no Docker engine for this test: {e}")),
    };
    let t = tempfile::tempdir().unwrap();
    let PgStack {
        stack,
        db,
        app,
        web,
    } = pg_stack(&d, t.path());
    let rt = runtime();
    let engine = BlockingEngine::connect(Some(&d.host), rt.handle().clone()).unwrap();
    let home = tempfile::tempdir().unwrap();
    let catalog = Arc::new(Catalog::open(&home.path().join("catalog.sqlite3")).unwrap());
    let id = age::x25519::Identity::generate();
    let dest = t.path().join("dest");
    std::fs::create_dir(&dest).unwrap();
    backup::backup(
        &load(&stack),
        &id,
        &BackupOptions {
            engine: Some(engine.clone()),
            volumes_via_engine: true,
            catalog: Some(catalog.clone()),
            ..BackupOptions::new(&dest)
        },
        &NoProgress,
        &CancelToken::new(),
    )
    .unwrap();

    // Damage: rows gone, a table that did not exist, the app's file and volume changed.
    d.psql(
        &db,
        "shop",
        "DELETE FROM orders WHERE id > 10; CREATE TABLE junk(x int);",
    );
    d.psql(&db, "postgres", "CREATE DATABASE scratch");
    std::fs::write(stack.join("appdata/config.json"), b"{\"a\":2}").unwrap();
    d.must(&[
        "exec",
        &app,
        "sh",
        "-c",
        "rm /cache/item.txt && echo new > /cache/other.txt",
    ]);
    let damaged_rows = d.psql(&db, "shop", "SELECT count(*) FROM orders");
    assert_eq!(damaged_rows, "10");

    let opts = restore::RestoreOptions {
        from: dest.clone(),
        snapshot: "latest".into(),
        engine: Some(engine.clone()),
        catalog: Some(catalog.clone()),
        ..restore::RestoreOptions::default()
    };
    let planned = restore::plan(&opts, &id).unwrap();
    let plan = planned.preview();
    assert!(plan.problems.is_empty(), "{:?}", plan.problems);
    let dbp = plan
        .components
        .iter()
        .find(|c| c.name == "service-db")
        .unwrap();
    assert_eq!(dbp.action, restore::Action::LoadDump);
    let appp = plan
        .components
        .iter()
        .find(|c| c.name == "service-app")
        .unwrap();
    assert_eq!(appp.action, restore::Action::ReplaceFiles);
    assert_eq!(
        appp.targets.len(),
        2,
        "appdata and the volume: {:?}",
        appp.targets
    );
    // web depends on app, app on db: the dependents stop, dependents first; db keeps running
    // to load its dump.
    assert_eq!(plan.services_to_stop, vec!["web", "app"]);

    // The stack changed after the preview (web stopped): the previewed plan is refused,
    // nothing changes, and a new preview goes through.
    d.must(&["stop", "-t", "1", &web]);
    let err = restore::apply(planned, &id, &NoProgress, &CancelToken::new()).unwrap_err();
    assert!(
        matches!(err, restore::RestoreError::Outdated(_))
            && err.to_string().contains("web stopped"),
        "{err}"
    );
    assert_eq!(
        d.psql(&db, "shop", "SELECT count(*) FROM orders"),
        damaged_rows
    );
    assert_eq!(
        std::fs::read(stack.join("appdata/config.json")).unwrap(),
        b"{\"a\":2}"
    );
    d.must(&["start", &web]);
    let planned = restore::plan(&opts, &id).unwrap();
    assert_eq!(planned.preview().services_to_stop, vec!["web", "app"]);

    let report = restore::apply(planned, &id, &NoProgress, &CancelToken::new()).unwrap();
    assert_eq!(
        d.psql(&db, "shop", "SELECT count(*), sum(id) FROM orders"),
        "1000|500500"
    );
    assert_eq!(
        d.psql(
            &db,
            "shop",
            "SELECT count(*) FROM pg_tables WHERE tablename = 'junk'"
        ),
        "0"
    );
    assert_eq!(
        d.psql(
            &db,
            "postgres",
            "SELECT count(*) FROM pg_database WHERE datname = 'scratch'"
        ),
        "0"
    );
    assert_eq!(
        std::fs::read(stack.join("appdata/config.json")).unwrap(),
        b"{\"a\":1}"
    );
    assert_eq!(
        d.must(&[
            "exec",
            &app,
            "sh",
            "-c",
            "cat /cache/item.txt; stat -c %u:%g /cache/item.txt; ls /cache"
        ]),
        "cached\n1234:5678\nitem.txt\nsub"
    );
    all_running(&d, &[&db, &app, &web]);
    let states: Vec<(&str, &str)> = report
        .services
        .iter()
        .map(|s| (s.service.as_str(), s.state.as_str()))
        .collect();
    assert!(
        states.contains(&("app", "running")) && states.contains(&("web", "running")),
        "{states:?}"
    );
    assert!(catalog.journal().unwrap().is_empty());

    // Undo: the database and the files as they were before the restore.
    restore::undo(&catalog, None, Some(&engine), Some(&id)).unwrap();
    assert_eq!(d.psql(&db, "shop", "SELECT count(*) FROM orders"), "10");
    assert_eq!(
        d.psql(
            &db,
            "shop",
            "SELECT count(*) FROM pg_tables WHERE tablename = 'junk'"
        ),
        "1"
    );
    assert_eq!(
        std::fs::read(stack.join("appdata/config.json")).unwrap(),
        b"{\"a\":2}"
    );
    assert_eq!(d.must(&["exec", &app, "ls", "/cache"]), "other.txt\nsub");
    all_running(&d, &[&db, &app, &web]);

    // A load that fails half-way (here: `\connect shop` is refused) rolls back: the safety
    // dump goes back in, the services start, the row added since is still there.
    d.psql(&db, "shop", "INSERT INTO orders VALUES (5000, 'kept')");
    let broken = restore::RestoreOptions {
        only: vec!["db".into()],
        ..opts.clone()
    };
    d.psql(
        &db,
        "postgres",
        "ALTER DATABASE shop ALLOW_CONNECTIONS false",
    );
    let err = restore_now(&broken, &id);
    d.psql(
        &db,
        "postgres",
        "ALTER DATABASE shop ALLOW_CONNECTIONS true",
    );
    let msg = err.unwrap_err().to_string();
    assert!(
        msg.contains("loading db's dump failed")
            && msg.contains("not currently accepting connections")
            && msg.contains("put back"),
        "{msg}"
    );
    assert_eq!(
        d.psql(&db, "shop", "SELECT note FROM orders WHERE id = 5000"),
        "kept"
    );
    assert_eq!(d.psql(&db, "shop", "SELECT count(*) FROM orders"), "11");
    all_running(&d, &[&db, &app, &web]);
}
