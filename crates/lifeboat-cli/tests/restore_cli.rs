//! `lifeboat restore` from the command line: killed (abort, like `kill -9`) between each two
//! steps with services stopped, then the next start puts every component back wholly old
//! and starts the services; a restore still running is left alone; the full restore and
//! its undo; and the new-machine path, from
//! an empty `LIFEBOAT_HOME` and a fresh keyring with only the backup drive and the recovery
//! passphrase.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use lifeboat_testkit::{skip, Daemon};

fn lifeboat(home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_lifeboat"));
    c.env("LIFEBOAT_HOME", home)
        .env_remove("LIFEBOAT_IDENTITY")
        .env_remove("LIFEBOAT_FAILPOINT");
    c
}

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Files, folders and links under `dir` with size, mode, owner and content hash (SQLite
/// databases: their SQL dump, as the backup copies them through SQLite's online backup,
/// which may lay pages out differently), except Lifeboat's own folder.
fn listing(dir: &Path) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg(
            "cd \"$1\" && find . -path ./.lifeboat -prune -o -printf '%p %y %s %m %U:%G\\n' | sort && \
             find . -path ./.lifeboat -prune -o -type f ! -name '*.sqlite' -print0 | sort -z | xargs -0 -r sha256sum && \
             for db in $(find . -path ./.lifeboat -prune -o -type f -name '*.sqlite' -print | sort); do \
               echo \"$db\"; python3 -c 'import sqlite3,sys; [print(l) for l in sqlite3.connect(sys.argv[1]).iterdump()]' \"$db\"; done",
        )
        .arg("sh")
        .arg(dir)
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

/// `lifeboat` with this test's home, engine and key.
fn with_engine(home: &Path, d: &Daemon, key: &Path) -> Command {
    let mut c = lifeboat(home);
    c.env("DOCKER_HOST", &d.host).env("LIFEBOAT_IDENTITY", key);
    c
}

/// Creates the key and takes the first backup of `stack` into `dest`.
fn first_backup(home: &Path, d: &Daemon, key: &Path, stack: &Path, dest: &Path) {
    std::fs::create_dir_all(dest).unwrap();
    ok(with_engine(home, d, key)
        .args(["key", "init", "--identity"])
        .arg(key)
        .output()
        .unwrap());
    ok(with_engine(home, d, key)
        .arg("backup")
        .arg(stack)
        .arg("--to")
        .arg(dest)
        .output()
        .unwrap());
}

/// Runs `lifeboat snapshots` (any command puts right what a crash interrupted, first) with
/// `cmd`, which must succeed; returns what it said on standard error.
fn next_command(mut cmd: Command, dest: &Path) -> String {
    let out = cmd.args(["snapshots", "--to"]).arg(dest).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    stderr
}

fn running(d: &Daemon, id: &str) -> bool {
    d.must(&["inspect", "-f", "{{.State.Running}}", id]) == "true"
}

#[test]
fn killed_at_every_step_the_next_start_puts_everything_back_and_restarts_services() {
    let d = match Daemon::start() {
        Ok(d) => d,
        Err(e) => return skip(&format!("no Docker engine for this test: {e}")),
    };
    let t = tempfile::tempdir().unwrap();
    let stack = t.path().join("rstack");
    std::fs::create_dir_all(stack.join("appdata/sub")).unwrap();
    std::fs::create_dir_all(stack.join("webdata")).unwrap();
    std::fs::write(
        stack.join("compose.yaml"),
        "name: rstack\nservices:\n  app:\n    image: lifeboat-test/busybox:1\n    env_file: .env\n    volumes: [./appdata:/data]\n  web:\n    image: lifeboat-test/busybox:1\n    depends_on: [app]\n    volumes: [./webdata:/www]\n",
    )
    .unwrap();
    std::fs::write(stack.join(".env"), "TOKEN=before-the-backup-0123\n").unwrap();
    std::fs::write(stack.join("appdata/a.txt"), "a\n").unwrap();
    std::fs::write(stack.join("appdata/sub/b.txt"), "b\n").unwrap();
    std::fs::write(stack.join("webdata/index.html"), "<h1>hi</h1>\n").unwrap();
    let app = d.run_service(
        "rstack",
        "app",
        &[format!("{}:/data", stack.join("appdata").display())],
    );
    let web = d.run_service(
        "rstack",
        "web",
        &[format!("{}:/www", stack.join("webdata").display())],
    );
    let home = t.path().join("home");
    let dest = t.path().join("dest");
    let key = t.path().join("key.txt");
    let cmd = || with_engine(&home, &d, &key);
    first_backup(&home, &d, &key, &stack, &dest);
    let original = listing(&stack);

    // A day of damage in every component.
    std::fs::write(stack.join(".env"), "TOKEN=changed-later-4567\n").unwrap();
    std::fs::remove_dir_all(stack.join("appdata/sub")).unwrap();
    std::fs::write(stack.join("appdata/new.txt"), "new\n").unwrap();
    std::fs::write(stack.join("webdata/index.html"), "<h1>defaced</h1>\n").unwrap();
    let damaged = listing(&stack);
    assert_ne!(original, damaged);

    // The dry run prints the plan as JSON and changes nothing.
    let plan: serde_json::Value = serde_json::from_str(&ok(cmd()
        .args(["restore", "latest", "--from"])
        .arg(&dest)
        .args(["--dry-run", "--json"])
        .output()
        .unwrap()))
    .unwrap();
    assert_eq!(plan["services_to_stop"], serde_json::json!(["web", "app"]));
    let app_plan = plan["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "service-app")
        .unwrap();
    assert_eq!(
        (
            &app_plan["added"],
            &app_plan["removed"],
            &app_plan["changed"]
        ),
        (
            &serde_json::json!(1),
            &serde_json::json!(1),
            &serde_json::json!(0)
        )
    );
    assert!(plan["free_bytes_needed"].as_u64().unwrap() > 0);
    assert!(plan["snapshot"].is_string() && plan["target"].is_string());
    assert_eq!(listing(&stack), damaged);

    for point in ["restore:staged", "restore:swapped-1", "restore:swapped"] {
        let out = cmd()
            .env("LIFEBOAT_FAILPOINT", point)
            .args(["restore", "latest", "--from"])
            .arg(&dest)
            .arg("--yes")
            .output()
            .unwrap();
        assert!(!out.status.success(), "{point}: the restore was not killed");
        if point != "restore:staged" {
            assert!(
                !running(&d, &app) && !running(&d, &web),
                "{point}: the services were stopped when it died"
            );
        }
        // Any next command finishes the job: everything old, everything running.
        let stderr = next_command(cmd(), &dest);
        assert!(stderr.contains("was interrupted"), "{point}: {stderr}");
        assert_eq!(listing(&stack), damaged, "{point}: not wholly old");
        assert!(running(&d, &app) && running(&d, &web), "{point}: {stderr}");
    }

    // A restore still running (paused between two swaps) is no interrupted one: another
    // command leaves it and its stopped services alone, and a backup of the stack is
    // refused until it ends. Once it dies, the next command puts everything back.
    let mut paused = cmd()
        .env("LIFEBOAT_FAILPOINT", "pause:restore:swapped-1")
        .args(["restore", "latest", "--from"])
        .arg(&dest)
        .arg("--yes")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut said = std::io::BufReader::new(paused.stderr.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        let n = std::io::BufRead::read_line(&mut said, &mut line).unwrap();
        assert!(n > 0, "the restore ended before its pause");
        if line.contains("paused at restore:swapped-1") {
            break;
        }
    }
    let half = listing(&stack);
    assert_ne!(half, damaged, "one component is swapped at this point");
    let stderr = next_command(cmd(), &dest);
    assert!(
        stderr.contains("is running in another Lifeboat"),
        "{stderr}"
    );
    assert!(!stderr.contains("was interrupted"), "{stderr}");
    assert_eq!(listing(&stack), half, "a running restore was rolled back");
    assert!(
        !running(&d, &app) && !running(&d, &web),
        "services a running restore stopped were started under it"
    );
    let out = cmd()
        .arg("backup")
        .arg(&stack)
        .arg("--to")
        .arg(&dest)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "a backup ran during a restore: {stderr}"
    );
    assert!(
        stderr.contains("is running; wait for it to finish"),
        "{stderr}"
    );
    assert_eq!(listing(&stack), half);
    paused.kill().unwrap();
    paused.wait().unwrap();
    let stderr = next_command(cmd(), &dest);
    assert!(stderr.contains("was interrupted"), "{stderr}");
    assert_eq!(listing(&stack), damaged, "not wholly old after the kill");
    assert!(running(&d, &app) && running(&d, &web), "{stderr}");

    // Uninterrupted, it restores everything and starts the services.
    let out = ok(cmd()
        .args(["restore", "latest", "--from"])
        .arg(&dest)
        .arg("--yes")
        .output()
        .unwrap());
    assert!(out.contains("Restored"), "{out}");
    assert_eq!(listing(&stack), original);
    assert!(running(&d, &app) && running(&d, &web));
    // Without --yes and without a terminal it refuses.
    let out = cmd()
        .args(["restore", "latest", "--from"])
        .arg(&dest)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--yes"));
    // Undo puts the damaged state back; services run.
    ok(cmd().args(["restore", "--undo"]).output().unwrap());
    assert_eq!(listing(&stack), damaged);
    assert!(running(&d, &app) && running(&d, &web));
    // The secret values never reached the catalog.
    let catalog = std::fs::read(home.join("catalog.sqlite3")).unwrap();
    for v in ["before-the-backup-0123", "changed-later-4567"] {
        assert!(
            !catalog.windows(v.len()).any(|w| w == v.as_bytes()),
            "{v} in the catalog"
        );
    }
}

#[test]
fn a_new_machine_restores_the_stack_with_the_drive_and_the_passphrase() {
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
        return skip(
            "no D-Bus session for a keyring (./dev test runs the tests in one with gnome-keyring)",
        );
    }
    let t = tempfile::tempdir().unwrap();
    let stack = t.path().join("chatbot");
    let copied = Command::new("cp")
        .arg("-a")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/chatbot"))
        .arg(&stack)
        .status()
        .unwrap();
    assert!(copied.success());
    let dest = t.path().join("drive");
    std::fs::create_dir_all(&dest).unwrap();
    let passphrase = "correct horse battery staple\n";

    // The old machine: a key in a file, a recovery file on the drive, a backup.
    let old_home = t.path().join("old-home");
    let key = t.path().join("old-key.txt");
    ok(lifeboat(&old_home)
        .args(["key", "init", "--identity"])
        .arg(&key)
        .output()
        .unwrap());
    let mut export = lifeboat(&old_home)
        .args(["key", "export-recovery", "--to"])
        .arg(&dest)
        .arg("--identity")
        .arg(&key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    export
        .stdin
        .take()
        .unwrap()
        .write_all(passphrase.as_bytes())
        .unwrap();
    ok(export.wait_with_output().unwrap());
    ok(lifeboat(&old_home)
        .arg("backup")
        .arg(&stack)
        .arg("--to")
        .arg(&dest)
        .args(["--no-docker", "--identity"])
        .arg(&key)
        .output()
        .unwrap());

    // The new machine: an empty home, a keyring that has never seen Lifeboat.
    let home = t.path().join("new-home");
    let service = format!("lifeboat-restore-test-{}", std::process::id());
    let fresh = || {
        let mut c = lifeboat(&home);
        c.env("LIFEBOAT_KEYRING_SERVICE", &service);
        c
    };
    let out = fresh()
        .args(["snapshots", "--to"])
        .arg(&dest)
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "no key yet, so nothing can be listed"
    );
    let mut import = fresh()
        .args(["key", "import-recovery", "--from"])
        .arg(&dest)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    import
        .stdin
        .take()
        .unwrap()
        .write_all(passphrase.as_bytes())
        .unwrap();
    let out = import.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("Secret Service") || stderr.contains("keyring") && !out.status.success() {
        return skip(&format!("no usable Secret Service: {stderr}"));
    }
    ok(out);
    let target = t.path().join("new-machine/chatbot");
    let report: serde_json::Value = serde_json::from_str(&ok(fresh()
        .args(["restore", "latest", "--from"])
        .arg(&dest)
        .arg("--into")
        .arg(&target)
        .args(["--yes", "--json", "--no-docker"])
        .output()
        .unwrap()))
    .unwrap();
    assert_eq!(listing(&target), listing(&stack));
    let next = report["next_steps"].to_string();
    assert!(next.contains("docker compose up -d"), "{next}");
    // The restored folder is a stack Lifeboat inspects like the original.
    let inspected: serde_json::Value = serde_json::from_str(&ok(fresh()
        .arg("inspect")
        .arg(&target)
        .args(["--json", "--no-docker"])
        .output()
        .unwrap()))
    .unwrap();
    assert_eq!(inspected["services"].as_array().unwrap().len(), 4);
    let _ = keyring::Entry::new(&service, lifeboat_core::keys::KEYRING_USER)
        .and_then(|e| e.delete_credential());
}

#[test]
fn killed_during_a_database_load_the_next_start_loads_the_earlier_content_back() {
    if let Err(e) = lifeboat_testkit::postgres_bin() {
        return skip(&e);
    }
    let d = match Daemon::start() {
        Ok(d) => d,
        Err(e) => return skip(&format!("no Docker engine for this test: {e}")),
    };
    let t = tempfile::tempdir().unwrap();
    let stack = t.path().join("pgload");
    std::fs::create_dir_all(&stack).unwrap();
    std::fs::write(
        stack.join("compose.yaml"),
        "name: pgload\nservices:\n  db:\n    image: postgres:16\n    volumes: [./pgdata:/var/lib/postgresql/data]\n  app:\n    image: lifeboat-test/busybox:1\n    depends_on: [db]\n",
    )
    .unwrap();
    let db = d
        .run_postgres("pgload", "db", &stack.join("pgdata"), &[])
        .unwrap();
    let app = d.run_service("pgload", "app", &[]);
    d.psql(
        &db,
        "postgres",
        "CREATE TABLE t(id int); INSERT INTO t SELECT generate_series(1, 100)",
    );
    let home = t.path().join("home");
    let dest = t.path().join("dest");
    let key = t.path().join("key.txt");
    let cmd = || with_engine(&home, &d, &key);
    first_backup(&home, &d, &key, &stack, &dest);
    // Since the backup: rows gone, rows added.
    d.psql(
        &db,
        "postgres",
        "DELETE FROM t WHERE id > 10; INSERT INTO t VALUES (999)",
    );
    let before = d.psql(&db, "postgres", "SELECT count(*), sum(id) FROM t");
    assert_eq!(before, "11|1054");

    // Killed right after the dump was loaded, before the restore was recorded as done.
    let out = cmd()
        .env("LIFEBOAT_FAILPOINT", "restore:loaded")
        .args(["restore", "latest", "--from"])
        .arg(&dest)
        .args(["--only", "db", "--yes"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "the restore was not killed");
    assert_eq!(
        d.psql(&db, "postgres", "SELECT count(*), sum(id) FROM t"),
        "100|5050",
        "the dump was loaded when it died"
    );
    assert!(
        !running(&d, &app),
        "app was stopped for the load when it died"
    );
    // The next start puts the database back as it was before the restore, and starts app.
    let stderr = next_command(cmd(), &dest);
    assert!(
        stderr.contains("was interrupted; everything was put back"),
        "{stderr}"
    );
    assert_eq!(
        d.psql(&db, "postgres", "SELECT count(*), sum(id) FROM t"),
        before
    );
    assert!(running(&d, &app) && running(&d, &db));
}
