//! The stacks Lifeboat is built for, as a person lives with them: `docker-compose up -d` on a
//! real engine, a writer running during the backup, the disaster, the restore in place,
//! `docker-compose up -d`, and the data checked by content.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lifeboat_testkit::{host_binaries_yaml, postgres_bin, skip, Daemon};

struct Env {
    d: Daemon,
    _t: tempfile::TempDir,
    root: PathBuf,
    home: PathBuf,
    dest: PathBuf,
    key: PathBuf,
}

impl Env {
    fn start() -> Option<Self> {
        let d = match Daemon::start() {
            Ok(d) => d,
            Err(e) => {
                skip(&format!("no Docker engine for this test: {e}"));
                return None;
            }
        };
        if let Err(e) = d.compose(Path::new("/"), &["version"]) {
            skip(&e);
            return None;
        }
        let t = tempfile::tempdir().unwrap();
        let root = t.path().to_owned();
        let home = root.join("home");
        let dest = root.join("drive");
        std::fs::create_dir_all(&dest).unwrap();
        let key = root.join("key.txt");
        let env = Self {
            d,
            _t: t,
            root,
            home,
            dest,
            key,
        };
        let init = env.lifeboat(&["key", "init", "--identity", env.key.to_str().unwrap()]);
        assert!(init.status.success(), "{}", text(&init));
        Some(env)
    }

    fn lifeboat_cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_lifeboat"));
        c.env("LIFEBOAT_HOME", &self.home)
            .env("DOCKER_HOST", &self.d.host)
            .env("LIFEBOAT_IDENTITY", &self.key)
            .args(args);
        c
    }

    fn lifeboat(&self, args: &[&str]) -> Output {
        self.lifeboat_cmd(args).output().unwrap()
    }

    fn backup(&self, stack: &Path, extra: &[&str]) -> Output {
        let mut args = vec![
            "backup",
            stack.to_str().unwrap(),
            "--to",
            self.dest.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        self.lifeboat(&args)
    }

    fn restore(&self, extra: &[&str]) -> Output {
        let mut args = vec![
            "restore",
            "latest",
            "--from",
            self.dest.to_str().unwrap(),
            "--yes",
        ];
        args.extend_from_slice(extra);
        self.lifeboat(&args)
    }

    fn state(&self, container: &str) -> String {
        self.d
            .docker(&["inspect", "-f", "{{.State.Status}}", container])
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default()
    }

    fn volumes(&self) -> Vec<String> {
        self.d
            .must(&["volume", "ls", "-q"])
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn wait_for(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !ok() {
        assert!(Instant::now() < deadline, "{what} within {limit:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The official Postgres image's entrypoint, in short: initdb on an empty volume, run
/// `/docker-entrypoint-initdb.d/*.sql` once, then the server.
const PG_ENTRYPOINT: &str = r#"#!/bin/sh
set -e
PGDATA=/var/lib/postgresql/data
mkdir -p /var/run/postgresql "$PGDATA"
chown postgres /var/run/postgresql "$PGDATA"
chmod 700 "$PGDATA"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  su postgres -s /bin/sh -c "initdb -A trust -U postgres -D $PGDATA" >/dev/null
  # The first start runs on a private socket, so no client mistakes it for the real server.
  mkdir -p /tmp/pg-init && chown postgres /tmp/pg-init
  su postgres -s /bin/sh -c "pg_ctl -D $PGDATA -o '-c listen_addresses= -k /tmp/pg-init' -w start" >/dev/null
  for f in /docker-entrypoint-initdb.d/*.sql; do
    [ -f "$f" ] && su postgres -s /bin/sh -c "psql -h /tmp/pg-init -U postgres -v ON_ERROR_STOP=1 -q -f $f"
  done
  su postgres -s /bin/sh -c "pg_ctl -D $PGDATA -m fast -w stop" >/dev/null
fi
exec su postgres -s /bin/sh -c "exec postgres -D $PGDATA -k /var/run/postgresql -c listen_addresses="
"#;

/// Waits until Postgres in `container` answers in database `db`; fails with its log.
fn wait_postgres(env: &Env, container: &str, db: &str) {
    let deadline = Instant::now() + Duration::from_secs(90);
    while env.d.try_psql(container, db, "SELECT 1").is_err() {
        if Instant::now() > deadline {
            let logs = env
                .d
                .docker(&["logs", container])
                .map(|o| text(&o))
                .unwrap_or_default();
            panic!("Postgres did not answer within 90 s:\n{logs}");
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The Evolution API shape (its guide): the API keeps WhatsApp sessions in the named volume
/// `evolution_instances`, Postgres in `postgres_data` with `init-db.sql` creating a second
/// database and user, Redis in `redis_data`. A writer inserts messages during the backup;
/// then `docker-compose down -v` loses every volume, and Lifeboat brings them back in place.
#[test]
fn evolution_named_volumes_come_back_after_down_v() {
    let Some(env) = Env::start() else { return };
    let bin = match postgres_bin() {
        Ok(b) => b,
        Err(e) => return skip(&e),
    };
    if !Path::new("/usr/bin/redis-server").is_file() {
        return skip("Redis is not installed (Debian package redis-server)");
    }
    for image in ["postgres", "redis", "evolution-api"] {
        env.d.tag(&format!("lifeboat-test/{image}:1"));
    }
    let stack = env.root.join("evo");
    std::fs::create_dir_all(&stack).unwrap();
    std::fs::write(stack.join("pg-entrypoint.sh"), PG_ENTRYPOINT).unwrap();
    std::fs::write(
        stack.join("init-db.sql"),
        "CREATE USER evolution WITH PASSWORD 'evo-db-secret';\n\
         CREATE DATABASE evolution OWNER evolution;\n\
         \\connect evolution\n\
         CREATE TABLE messages (id serial PRIMARY KEY, body text NOT NULL);\n\
         CREATE TABLE counter (n bigint NOT NULL);\n\
         INSERT INTO counter VALUES (0);\n\
         ALTER TABLE messages OWNER TO evolution;\n\
         ALTER TABLE counter OWNER TO evolution;\n",
    )
    .unwrap();
    std::fs::write(
        stack.join(".env"),
        "AUTHENTICATION_API_KEY=evo-api-key-123456\nPOSTGRES_PASSWORD=evo-db-secret\n",
    )
    .unwrap();
    let host = host_binaries_yaml();
    let path = format!("{}:/bin:/usr/bin", bin.display());
    let compose = r#"version: '3.8'
services:
  evolution-api:
    image: lifeboat-test/evolution-api:1
    network_mode: none
    depends_on: [postgres, redis]
    env_file: .env
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.2; done"]
    volumes:
      - evolution_instances:/evolution/instances
  postgres:
    image: lifeboat-test/postgres:1
    network_mode: none
    environment:
      PATH: @PATH@
      POSTGRES_PASSWORD: ${POSTGRES_PASSWORD}
    entrypoint: ["sh", "/pg-entrypoint.sh"]
    volumes:
      - postgres_data:/var/lib/postgresql/data
      - ./init-db.sql:/docker-entrypoint-initdb.d/init-db.sql:ro
      - ./pg-entrypoint.sh:/pg-entrypoint.sh:ro
@HOST@
  redis:
    image: lifeboat-test/redis:1
    network_mode: none
    environment:
      PATH: /usr/bin:/bin
    command: ["redis-server", "--dir", "/data", "--save", "", "--appendonly", "no", "--bind", "127.0.0.1"]
    volumes:
      - redis_data:/data
@HOST@
volumes:
  evolution_instances:
  postgres_data:
  redis_data:
"#;
    std::fs::write(
        stack.join("docker-compose.yml"),
        compose.replace("@PATH@", &path).replace("@HOST@\n", &host),
    )
    .unwrap();
    env.d.compose_must(&stack, &["up", "-d"]);
    let (pg, redis, api) = ("evo_postgres_1", "evo_redis_1", "evo_evolution-api_1");
    wait_postgres(&env, pg, "evolution");
    wait_for("Redis answers", Duration::from_secs(30), || {
        env.d.redis_cli(redis, &["PING"]) == "PONG"
    });
    // The API's session files, and Redis keys.
    env.d.must(&[
        "exec", api, "sh", "-c",
        "mkdir -p /evolution/instances/shop/store && \
         echo '{\"creds\":\"noise-key-abc\"}' > /evolution/instances/shop/creds.json && \
         dd if=/dev/urandom of=/evolution/instances/shop/store/media.bin bs=1k count=300 2>/dev/null",
    ]);
    let sum = |c: &str| {
        env.d.must(&[
            "exec",
            c,
            "sh",
            "-c",
            "cd /evolution/instances && find . -type f | sort | xargs md5sum",
        ])
    };
    let files_before = sum(api);
    for i in 0..50 {
        env.d
            .redis_cli(redis, &["SET", &format!("session:{i}"), &format!("v{i}")]);
    }
    // A writer: each transaction inserts a message and counts it.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        let host = env.d.host.clone();
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let ok = Command::new("docker")
                    .env("DOCKER_HOST", &host)
                    .args([
                        "exec", pg, "psql", "-h", "/var/run/postgresql", "-U", "evolution", "-d",
                        "evolution", "-v", "ON_ERROR_STOP=1", "-qc",
                        "BEGIN; INSERT INTO messages(body) VALUES ('hello'); UPDATE counter SET n = n + 1; COMMIT;",
                    ])
                    .output()
                    .is_ok_and(|o| o.status.success());
                n += u64::from(ok);
            }
            n
        })
    };
    wait_for("the writer wrote", Duration::from_secs(30), || {
        env.d
            .try_psql(pg, "evolution", "SELECT n FROM counter")
            .is_ok_and(|n| n.parse::<u64>().unwrap_or(0) >= 5)
    });
    let backup = env.backup(&stack, &[]);
    stop.store(true, Ordering::Relaxed);
    let written = writer.join().unwrap();
    assert!(backup.status.success(), "{}", text(&backup));
    let out = String::from_utf8_lossy(&backup.stdout).into_owned();
    assert!(out.contains("pg-dumpall"), "{out}");
    assert!(written >= 5, "the writer wrote {written} transactions");

    // A drill proves the snapshot: the Postgres dump loads with its rows, and the Redis dump
    // loads into a throwaway redis-server with the 50 keys Redis wrote into it.
    let (out, v) = drill_json(&env, &stack, &[]);
    assert!(out.status.success(), "{}", text(&out));
    let dbs = v["databases"].as_array().unwrap();
    let kind = |k: &str| {
        dbs.iter()
            .find(|d| d["kind"] == k)
            .cloned()
            .unwrap_or_else(|| panic!("no {k} check: {v}"))
    };
    for k in ["postgres", "redis"] {
        let d = kind(k);
        assert_eq!(
            (d["loaded"].clone(), d["rows_match"].clone()),
            (true.into(), true.into()),
            "{k}: {v}"
        );
    }
    assert_eq!(
        env.d
            .must(&["ps", "-aq", "--filter", "label=org.lifeboat.drill"]),
        "",
        "no throwaway left"
    );

    // The disaster.
    env.d.compose_must(&stack, &["down", "-v"]);
    assert!(
        !env.volumes().iter().any(|v| v.starts_with("evo_")),
        "down -v removed the volumes: {:?}",
        env.volumes()
    );

    // The restore in place: volumes are created again, labelled as compose makes them.
    let r = env.restore(&[]);
    assert!(r.status.success(), "{}", text(&r));
    let labels = env.d.must(&[
        "volume", "inspect", "-f",
        "{{index .Labels \"com.docker.compose.project\"}}/{{index .Labels \"com.docker.compose.volume\"}}",
        "evo_evolution_instances",
    ]);
    assert_eq!(labels, "evo/evolution_instances");
    let up = env.d.compose_must(&stack, &["up", "-d"]);
    assert!(!up.contains("not created by Docker Compose"), "{up}");
    wait_postgres(&env, pg, "evolution");
    // Postgres came up empty (its entrypoint ran init-db.sql); its dump loads now.
    let r = env.restore(&["--only", "postgres"]);
    assert!(r.status.success(), "{}", text(&r));
    let counted: u64 = env
        .d
        .try_psql(pg, "evolution", "SELECT n FROM counter")
        .unwrap()
        .parse()
        .unwrap();
    let rows: u64 = env
        .d
        .try_psql(pg, "evolution", "SELECT count(*) FROM messages")
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        rows, counted,
        "messages and their counter agree (one transaction)"
    );
    assert!(
        rows >= 5,
        "the messages written before the backup are back: {rows}"
    );
    assert!(rows <= written, "{rows} rows, {written} written");
    let owner = env
        .d
        .try_psql(
            pg,
            "postgres",
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'evolution'",
        )
        .unwrap();
    assert_eq!(owner, "evolution");
    wait_for("Redis answers again", Duration::from_secs(30), || {
        env.d.redis_cli(redis, &["PING"]) == "PONG"
    });
    assert_eq!(env.d.redis_cli(redis, &["DBSIZE"]), "50");
    assert_eq!(env.d.redis_cli(redis, &["GET", "session:42"]), "v42");
    wait_for("the API runs", Duration::from_secs(30), || {
        env.state(api) == "running"
    });
    assert_eq!(sum(api), files_before);
    env.d.compose_must(&stack, &["down"]);
}

/// A service whose PID 1 ignores SIGTERM (a shell entrypoint) is stopped after its own
/// `stop_grace_period`, not after a fixed 30 s or a client timeout, and runs again after a
/// cold backup and after a restore of its data.
#[test]
fn a_service_that_ignores_sigterm_stops_within_its_grace_period_and_runs_again() {
    let Some(env) = Env::start() else { return };
    let stack = env.root.join("stubborn");
    std::fs::create_dir_all(stack.join("data")).unwrap();
    std::fs::write(stack.join("data/state.txt"), "version 1\n").unwrap();
    std::fs::write(
        stack.join("docker-compose.yml"),
        "version: '3.8'\nservices:\n  bot:\n    image: lifeboat-test/busybox:1\n    network_mode: none\n    \
         stop_grace_period: 3s\n    command: [\"sh\", \"-c\", \"while true; do sleep 1; done\"]\n    \
         volumes: [./data:/data]\n",
    )
    .unwrap();
    env.d.compose_must(&stack, &["up", "-d"]);
    let bot = "stubborn_bot_1";
    wait_for("the bot runs", Duration::from_secs(30), || {
        env.state(bot) == "running"
    });
    let clock = Instant::now();
    let b = env.backup(&stack, &["--mode", "cold"]);
    let took = clock.elapsed();
    assert!(b.status.success(), "{}", text(&b));
    assert!(
        took < Duration::from_secs(25),
        "the cold backup took {took:?}"
    );
    assert!(
        String::from_utf8_lossy(&b.stdout).contains("started again"),
        "{}",
        text(&b)
    );
    assert_eq!(env.state(bot), "running");

    std::fs::write(stack.join("data/state.txt"), "version 2\n").unwrap();
    let r = env.restore(&["--only", "bot"]);
    assert!(r.status.success(), "{}", text(&r));
    assert_eq!(
        std::fs::read_to_string(stack.join("data/state.txt")).unwrap(),
        "version 1\n"
    );
    wait_for(
        "the bot runs after the restore",
        Duration::from_secs(30),
        || env.state(bot) == "running",
    );
    env.d.compose_must(&stack, &["down"]);
}

/// With the engine down, a stack whose data is in a named volume cannot be backed up: the
/// backup fails with a sentence (and a JSON error with `--json`), writes no snapshot and
/// leaves nothing behind. `--allow-partial` keeps one marked partial, which `restore latest`
/// passes over, saying so.
#[test]
fn engine_down_fails_the_backup_unless_partial_is_allowed() {
    let Some(env) = Env::start() else { return };
    let stack = env.root.join("whatslang");
    std::fs::create_dir_all(&stack).unwrap();
    std::fs::write(stack.join(".env"), "OPENAI_API_KEY=sk-test-123456789\n").unwrap();
    std::fs::write(
        stack.join("docker-compose.yml"),
        "version: '3.8'\nservices:\n  whatslang:\n    image: lifeboat-test/busybox:1\n    network_mode: none\n    \
         command: [\"sh\", \"-c\", \"trap 'exit 0' TERM; while true; do sleep 0.2; done\"]\n    \
         volumes: [whatslang-data:/app/data]\nvolumes:\n  whatslang-data:\n",
    )
    .unwrap();
    env.d.compose_must(&stack, &["up", "-d"]);
    env.d.must(&[
        "exec",
        "whatslang_whatslang_1",
        "sh",
        "-c",
        "echo hi > /app/data/note.txt",
    ]);
    let good = env.backup(&stack, &[]);
    assert!(good.status.success(), "{}", text(&good));
    let snapshots = env.dest.join("whatslang/snapshots");
    let count = |d: &Path| std::fs::read_dir(d).map_or(0, |r| r.count());
    let manifests = |d: &Path| {
        std::fs::read_dir(d).map_or(0, |r| {
            r.filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".manifest.age"))
            })
            .count()
        })
    };
    let pieces = env.dest.join("_pieces");
    let (snaps_before, archives_before) = (count(&snapshots), piece_count(&pieces));
    assert_eq!(manifests(&snapshots), 1);

    let down = |args: &[&str]| {
        let mut a = vec![
            "backup",
            stack.to_str().unwrap(),
            "--to",
            env.dest.to_str().unwrap(),
        ];
        a.extend_from_slice(args);
        env.lifeboat_cmd(&a)
            .env(
                "DOCKER_HOST",
                format!("unix://{}/no-engine.sock", env.root.display()),
            )
            .output()
            .unwrap()
    };
    let failed = down(&[]);
    assert_eq!(failed.status.code(), Some(1), "{}", text(&failed));
    let err = String::from_utf8_lossy(&failed.stderr);
    assert!(
        err.contains("whatslang_whatslang-data") && err.contains("no snapshot was written"),
        "{err}"
    );
    assert!(
        !err.contains("hyper"),
        "no internals in the sentence: {err}"
    );
    assert_eq!(
        (count(&snapshots), piece_count(&pieces)),
        (snaps_before, archives_before)
    );

    let json = down(&["--json"]);
    assert_eq!(json.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).expect("a JSON error");
    assert_eq!(v["error"]["code"], "incomplete", "{v}");

    let partial = down(&["--allow-partial"]);
    assert!(partial.status.success(), "{}", text(&partial));
    assert!(
        String::from_utf8_lossy(&partial.stdout).contains("PARTIAL"),
        "{}",
        text(&partial)
    );
    assert_eq!(manifests(&snapshots), 2);

    let plan = env.lifeboat(&[
        "restore",
        "latest",
        "--from",
        env.dest.to_str().unwrap(),
        "--dry-run",
        "--json",
    ]);
    assert!(plan.status.success(), "{}", text(&plan));
    let v: serde_json::Value = serde_json::from_slice(&plan.stdout).unwrap();
    let good_id = String::from_utf8_lossy(&good.stdout)
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_owned();
    assert_eq!(v["snapshot"], good_id.as_str(), "{v}");
    assert!(v["notes"].to_string().contains("partial"), "{v}");
    env.d.compose_must(&stack, &["down"]);
}

/// `lifeboat inspect | head -1` ends quietly when `head` closes the pipe.
#[test]
fn a_closed_pipe_is_not_a_panic() {
    let t = tempfile::tempdir().unwrap();
    // Far more output than a pipe holds, so that writes go on after `head` has gone.
    let services: String = (0..3000)
        .map(|i| format!("  app{i}:\n    image: nginx\n    volumes: [./data{i}:/data]\n"))
        .collect();
    std::fs::write(
        t.path().join("compose.yaml"),
        format!("services:\n{services}"),
    )
    .unwrap();
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "'{}' inspect --no-docker '{}' | head -c 1 >/dev/null",
            env!("CARGO_BIN_EXE_lifeboat"),
            t.path().display()
        ))
        .env("LIFEBOAT_HOME", t.path().join("home"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !err.contains("panicked") && !err.contains("Broken pipe"),
        "{err}"
    );
}

/// The all-in-one suite (its guide): `./data/database.sqlite` and a generated
/// `./data/secrets.env`. "Only the secrets" brings back the JWT secret and leaves the
/// database; "only the database" brings back the data and leaves the newer secrets.
#[test]
fn suite_secrets_and_database_restore_each_without_the_other() {
    let Some(env) = Env::start() else { return };
    if !Path::new("/usr/bin/sqlite3").is_file() {
        return skip("sqlite3 is not installed (Debian package sqlite3)");
    }
    let stack = env.root.join("suite");
    let data = stack.join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(
        stack.join("docker-compose.yml"),
        "version: '3.8'\nservices:\n  app:\n    image: lifeboat-test/busybox:1\n    network_mode: none\n    \
         command: [\"sh\", \"-c\", \"trap 'exit 0' TERM; while true; do sleep 0.2; done\"]\n    \
         volumes: [./data:/app/data]\n",
    )
    .unwrap();
    let secrets = data.join("secrets.env");
    std::fs::write(
        &secrets,
        "JWT_SECRET=old-jwt-secret-1111\nENCRYPTION_KEY=enc-2222\n",
    )
    .unwrap();
    let db = data.join("database.sqlite");
    let sql = |q: &str| {
        let o = Command::new("sqlite3").arg(&db).arg(q).output().unwrap();
        assert!(o.status.success(), "{}", text(&o));
        String::from_utf8_lossy(&o.stdout).trim().to_owned()
    };
    sql("PRAGMA journal_mode=WAL; CREATE TABLE notes(body TEXT); INSERT INTO notes VALUES ('kept');");
    env.d.compose_must(&stack, &["up", "-d"]);
    let b = env.backup(&stack, &[]);
    assert!(b.status.success(), "{}", text(&b));

    // Secrets only: the JWT secret comes back, the database keeps today's row.
    std::fs::write(
        &secrets,
        "JWT_SECRET=new-jwt-secret-3333\nENCRYPTION_KEY=enc-2222\n",
    )
    .unwrap();
    sql("INSERT INTO notes VALUES ('today');");
    let r = env.restore(&["--only", "secrets"]);
    assert!(r.status.success(), "{}", text(&r));
    assert!(std::fs::read_to_string(&secrets)
        .unwrap()
        .contains("old-jwt-secret-1111"));
    assert_eq!(sql("SELECT count(*) FROM notes;"), "2");

    // The database only: the data comes back, the newer secrets stay.
    std::fs::write(
        &secrets,
        "JWT_SECRET=newest-jwt-4444\nENCRYPTION_KEY=enc-2222\n",
    )
    .unwrap();
    let plan = env.lifeboat(&[
        "restore",
        "latest",
        "--from",
        env.dest.to_str().unwrap(),
        "--only",
        "app",
        "--dry-run",
    ]);
    assert!(plan.status.success(), "{}", text(&plan));
    assert!(
        String::from_utf8_lossy(&plan.stdout).contains("data/secrets.env stays as it is"),
        "{}",
        text(&plan)
    );
    let r = env.restore(&["--only", "app"]);
    assert!(r.status.success(), "{}", text(&r));
    assert_eq!(sql("SELECT group_concat(body) FROM notes;"), "kept");
    assert_eq!(
        std::fs::read_to_string(&secrets).unwrap(),
        "JWT_SECRET=newest-jwt-4444\nENCRYPTION_KEY=enc-2222\n"
    );
    env.d.compose_must(&stack, &["down"]);
}

/// A person in the docker group who is not root (uid 65534), with their own Lifeboat home,
/// backup drive and key, using the test's engine through its socket as dockerd shares it
/// with the group.
struct GroupUser {
    gid: u32,
    dir: PathBuf,
    home: PathBuf,
    dest: PathBuf,
    key: PathBuf,
}

impl GroupUser {
    fn new(env: &Env) -> Option<Self> {
        let Some(gid) = docker_gid() else {
            skip("no docker group on this machine (Debian package docker.io makes it)");
            return None;
        };
        if !Path::new("/usr/bin/setpriv").is_file() {
            skip("setpriv (util-linux) is needed to run Lifeboat as another user");
            return None;
        }
        use std::os::unix::fs::PermissionsExt;
        let sock = env.d.host.trim_start_matches("unix://").to_owned();
        let chgrp = Command::new("chgrp")
            .arg(gid.to_string())
            .arg(&sock)
            .status();
        assert!(chgrp.unwrap().success());
        std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o660)).unwrap();
        let sock_dir = Path::new(&sock).parent().unwrap();
        std::fs::set_permissions(sock_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(&env.root, std::fs::Permissions::from_mode(0o755)).unwrap();
        let dir = env.root.join("user");
        let user = Self {
            gid,
            home: dir.join("home"),
            dest: dir.join("drive"),
            key: dir.join("key.txt"),
            dir,
        };
        for d in [&user.home, &user.dest] {
            std::fs::create_dir_all(d).unwrap();
        }
        chown_nobody(&user.dir);
        let init = user.run(
            env,
            &["key", "init", "--identity", user.key.to_str().unwrap()],
        );
        assert!(init.status.success(), "{}", text(&init));
        Some(user)
    }

    fn cmd(&self, env: &Env, args: &[&str]) -> Command {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534"])
            .arg(format!("--groups={}", self.gid))
            .arg("--")
            .arg(env!("CARGO_BIN_EXE_lifeboat"))
            .args(args)
            .env("LIFEBOAT_HOME", &self.home)
            .env("HOME", &self.home)
            .env("DOCKER_HOST", &env.d.host)
            .env("LIFEBOAT_IDENTITY", &self.key);
        c
    }

    fn run(&self, env: &Env, args: &[&str]) -> Output {
        self.cmd(env, args).output().unwrap()
    }
}

/// The docker group's id on this machine (the `docker.io` package makes the group).
fn docker_gid() -> Option<u32> {
    let out = Command::new("getent")
        .args(["group", "docker"])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout)
        .split(':')
        .nth(2)?
        .trim()
        .parse()
        .ok()
}

fn chown_nobody(p: &Path) {
    let ok = Command::new("chown")
        .args(["-R", "65534:65534"])
        .arg(p)
        .status()
        .unwrap();
    assert!(ok.success());
}

/// The whatslang bot (its guide): SQLite `messages.db` in the named volume `whatslang-data`,
/// owned by 1000:1000. Everything is done as a member of the docker group who is not root:
/// the live database cannot be copied consistently through the engine, so a hot backup
/// fails with a sentence and an auto one stops the bot for the copy; then `down -v` and a
/// restore in place that
/// writes the volume through Docker, with its owners; then a restore over the existing
/// volume, and its undo.
#[test]
fn whatslang_as_a_docker_group_user_restores_its_named_volume_in_place() {
    let Some(env) = Env::start() else { return };
    if !Path::new("/usr/bin/sqlite3").is_file() {
        return skip("sqlite3 is needed for this test (Debian package sqlite3)");
    }
    let Some(user) = GroupUser::new(&env) else {
        return;
    };
    let stack = user.dir.join("whatslang");
    std::fs::create_dir_all(&stack).unwrap();
    std::fs::write(stack.join(".env"), "OPENAI_API_KEY=sk-whatslang-123456\n").unwrap();
    std::fs::write(
        stack.join("docker-compose.yml"),
        "version: '3.8'\nservices:\n  whatslang:\n    image: lifeboat-test/whatslang:1\n    network_mode: none\n    \
         env_file: .env\n    command: [\"sh\", \"-c\", \"trap 'exit 0' TERM; while true; do sleep 0.2; done\"]\n    \
         volumes: [whatslang-data:/app/data]\nvolumes:\n  whatslang-data:\n",
    )
    .unwrap();
    chown_nobody(&stack);
    let as_user = |args: &[&str]| user.run(&env, args);
    let dest = user.dest.clone();
    let (s, d) = (stack.to_str().unwrap(), dest.to_str().unwrap());

    env.d.tag("lifeboat-test/whatslang:1");
    env.d.compose_must(&stack, &["up", "-d"]);
    let bot = "whatslang_whatslang_1";
    // The bot's database and files, owned as the guide's chown leaves them.
    let db = env.root.join("messages.db");
    let made = Command::new("sqlite3")
        .arg(&db)
        .arg("CREATE TABLE messages(body TEXT); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 500) INSERT INTO messages SELECT 'msg ' || i FROM n;")
        .status()
        .unwrap();
    assert!(made.success());
    let put = Command::new("docker")
        .env("DOCKER_HOST", &env.d.host)
        .args(["exec", "-i", bot, "sh", "-c", "cat > /app/data/messages.db"])
        .stdin(std::fs::File::open(&db).unwrap())
        .status()
        .unwrap();
    assert!(put.success());
    env.d.must(&[
        "exec", bot, "sh", "-c",
        "mkdir -p /app/data/media && echo first > /app/data/media/readme.txt && chown -R 1000:1000 /app/data",
    ]);
    // A name that is not UTF-8 (Latin-1 `café`) goes through the engine both ways as it is,
    // and so does the modification time, to the second (the engine's archive API gives no
    // more; docs/METADATA.md).
    env.d.must(&[
        "exec",
        bot,
        "sh",
        "-c",
        "cd /app/data/media && echo latin1 > \"$(printf 'caf\\351')\"",
    ]);
    let media = || {
        env.d.must(&[
            "exec", bot, "sh", "-c",
            "cd /app/data/media && cat \"$(printf 'caf\\351')\" && ls | wc -l && stat -c %Y readme.txt",
        ])
    };
    let media_before = media();
    assert!(media_before.starts_with("latin1\n2\n"), "{media_before}");
    let count = || -> String {
        let out = env.d.must(&[
            "exec",
            bot,
            "sh",
            "-c",
            "cat /app/data/messages.db | base64",
        ]);
        let copy = env.root.join("copy.db");
        let bytes = Command::new("base64")
            .arg("-d")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                use std::io::Write;
                c.stdin.take().unwrap().write_all(out.as_bytes())?;
                c.wait_with_output()
            })
            .unwrap()
            .stdout;
        std::fs::write(&copy, bytes).unwrap();
        let o = Command::new("sqlite3")
            .arg(&copy)
            .arg("SELECT count(*) FROM messages")
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).trim().to_owned()
    };
    assert_eq!(count(), "500");

    // A live SQLite database that only the engine can read is never copied as if it were
    // consistent: hot mode refuses, auto mode stops the bot for the copy and says why.
    let refused = as_user(&["backup", s, "--to", d, "--mode", "hot"]);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("--stop whatslang"),
        "{}",
        text(&refused)
    );
    let snapshots = dest.join("whatslang/snapshots");
    assert_eq!(std::fs::read_dir(&snapshots).map_or(0, |r| r.count()), 0);
    let b = as_user(&["backup", s, "--to", d]);
    assert!(b.status.success(), "{}", text(&b));
    let said = String::from_utf8_lossy(&b.stdout);
    assert!(
        said.contains("whatslang was stopped for the copy") && said.contains("files-stopped"),
        "{said}"
    );
    wait_for(
        "the bot runs after the backup",
        Duration::from_secs(30),
        || env.state(bot) == "running",
    );

    // A drill as the same user proves the snapshot: the volume's files and the bot's SQLite
    // database, restored into a sandbox of the user's own (owners are root's to compare).
    let dr = as_user(&["drill", s, "--from", d, "--json"]);
    assert!(dr.status.success(), "{}", text(&dr));
    let v: serde_json::Value = serde_json::from_slice(&dr.stdout).unwrap();
    assert_eq!(v["ok"], true, "{v}");
    let sq = v["databases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["kind"] == "sqlite")
        .cloned()
        .unwrap_or_else(|| panic!("the bot's database was checked: {v}"));
    // Copied through the engine with the bot stopped, its rows were not counted at backup
    // time: its integrity is checked, and its SHA-256 matched.
    assert_eq!(sq["loaded"], true, "{v}");
    assert!(
        sq["note"]
            .as_str()
            .is_some_and(|n| n.contains("not counted at backup time")),
        "{v}"
    );
    assert!(
        v["notes"].to_string().contains("Owners were not compared"),
        "{v}"
    );
    assert_eq!(env.state(bot), "running", "a drill never stops the stack");

    // Disaster: the volume is gone. The restore creates it and writes it through Docker.
    env.d.compose_must(&stack, &["down", "-v"]);
    let r = as_user(&["restore", "latest", "--from", d, "--yes"]);
    assert!(r.status.success(), "{}", text(&r));
    env.d.compose_must(&stack, &["up", "-d"]);
    wait_for("the bot runs", Duration::from_secs(30), || {
        env.state(bot) == "running"
    });
    assert_eq!(count(), "500");
    assert_eq!(media(), media_before);
    assert_eq!(
        env.d.must(&[
            "exec",
            bot,
            "stat",
            "-c",
            "%u:%g",
            "/app/data/messages.db",
            "/app/data/media/readme.txt"
        ]),
        "1000:1000\n1000:1000"
    );

    // Over an existing volume: what is there is replaced, and the undo brings it back.
    env.d.must(&[
        "exec",
        bot,
        "sh",
        "-c",
        "echo later > /app/data/media/readme.txt && echo junk > /app/data/.junk",
    ]);
    let r = as_user(&["restore", "latest", "--from", d, "--yes"]);
    assert!(r.status.success(), "{}", text(&r));
    wait_for(
        "the bot runs after the restore",
        Duration::from_secs(30),
        || env.state(bot) == "running",
    );
    assert_eq!(
        env.d
            .must(&["exec", bot, "cat", "/app/data/media/readme.txt"]),
        "first"
    );
    assert_eq!(
        env.d.must(&["exec", bot, "sh", "-c", "ls -A /app/data"]),
        "media\nmessages.db"
    );
    assert_eq!(media(), media_before);
    let u = as_user(&["restore", "--undo"]);
    assert!(u.status.success(), "{}", text(&u));
    assert_eq!(
        env.d
            .must(&["exec", bot, "cat", "/app/data/media/readme.txt"]),
        "later"
    );
    assert_eq!(env.d.must(&["exec", bot, "cat", "/app/data/.junk"]), "junk");
    // No helper container is left behind.
    assert_eq!(
        env.d
            .must(&["ps", "-aq", "--filter", "label=org.lifeboat.helper"]),
        ""
    );
    env.d.compose_must(&stack, &["down"]);
}

/// Docker dies in the middle of a backup that reads a volume through it (a docker-group
/// user): the backup fails with a sentence, writes no snapshot and leaves no file behind.
/// (A graceful `systemctl stop docker` lets the read in flight finish: that backup is whole.)
#[test]
fn the_engine_stopping_during_a_backup_fails_it_and_leaves_nothing() {
    let Some(mut env) = Env::start() else { return };
    let Some(user) = GroupUser::new(&env) else {
        return;
    };
    let stack = user.dir.join("media");
    std::fs::create_dir_all(&stack).unwrap();
    std::fs::write(
        stack.join("docker-compose.yml"),
        "version: '3.8'\nservices:\n  app:\n    image: lifeboat-test/busybox:1\n    network_mode: none\n    \
         command: [\"sh\", \"-c\", \"trap 'exit 0' TERM; while true; do sleep 0.2; done\"]\n    \
         volumes: [media:/media]\nvolumes:\n  media:\n",
    )
    .unwrap();
    chown_nobody(&stack);
    env.d.compose_must(&stack, &["up", "-d"]);
    // Enough data that reading it through the engine takes a while.
    env.d.must(&[
        "exec", "media_app_1", "sh", "-c",
        "for i in 1 2 3 4 5 6; do dd if=/dev/urandom of=/media/blob$i bs=1M count=100 2>/dev/null; done",
    ]);
    let (s, d) = (stack.to_str().unwrap(), user.dest.to_str().unwrap());
    let pids = env.d.container_pids();
    let child = user
        .cmd(&env, &["backup", s, "--to", d])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Once the backup is reading, Docker dies.
    let pieces = user.dest.join("_pieces");
    wait_for(
        "the backup reads the volume",
        Duration::from_secs(60),
        || piece_bytes(&pieces) > 50 << 20,
    );
    env.d.kill_engine(&pids);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("media") && err.contains("did Docker stop?") && !err.contains("hyper"),
        "{err}"
    );
    // The pieces it stored stay for the next backup to reuse (prune removes them if none
    // does); no list and no manifest refer to them.
    let snaps = user.dest.join("media/snapshots");
    assert_eq!(std::fs::read_dir(&snaps).map_or(0, |r| r.count()), 0);
}

/// A service whose image has no shell (distroless): a docker-group user's restore over its
/// volume cannot empty it, so it fails with a sentence before anything changes, and leaves
/// nothing for the next start to "put back".
#[test]
fn a_volume_of_an_image_without_a_shell_is_refused_unchanged() {
    let Some(env) = Env::start() else { return };
    let Some(user) = GroupUser::new(&env) else {
        return;
    };
    // An image with one file and no shell.
    let rootfs = env.root.join("nosh-rootfs");
    std::fs::create_dir_all(&rootfs).unwrap();
    std::fs::write(rootfs.join("hello"), "hi\n").unwrap();
    let mut tar = Command::new("tar")
        .arg("-C")
        .arg(&rootfs)
        .args(["-c", "."])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let imported = Command::new("docker")
        .env("DOCKER_HOST", &env.d.host)
        .args(["import", "-", "lifeboat-test/nosh:1"])
        .stdin(tar.stdout.take().unwrap())
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(tar.wait().unwrap().success() && imported.success());
    let stack = user.dir.join("nosh");
    std::fs::create_dir_all(&stack).unwrap();
    std::fs::write(
        stack.join("docker-compose.yml"),
        "version: '3.8'\nservices:\n  app:\n    image: lifeboat-test/nosh:1\n    network_mode: none\n    \
         command: [\"/hello\"]\n    volumes: [data:/data]\nvolumes:\n  data:\n",
    )
    .unwrap();
    chown_nobody(&stack);
    env.d.compose_must(&stack, &["up", "--no-start"]);
    let write = |text: &str| {
        env.d.must(&[
            "run",
            "--rm",
            "--network",
            "none",
            "-v",
            "nosh_data:/data",
            lifeboat_testkit::IMAGE,
            "sh",
            "-c",
            &format!("echo {text} > /data/f"),
        ]);
    };
    let read = || {
        env.d.must(&[
            "run",
            "--rm",
            "--network",
            "none",
            "-v",
            "nosh_data:/data",
            lifeboat_testkit::IMAGE,
            "cat",
            "/data/f",
        ])
    };
    write("one");
    let (s, d) = (stack.to_str().unwrap(), user.dest.to_str().unwrap());
    let b = user.run(&env, &["backup", s, "--to", d]);
    assert!(b.status.success(), "{}", text(&b));
    write("two");
    let r = user.run(&env, &["restore", "latest", "--from", d, "--yes"]);
    assert_eq!(r.status.code(), Some(1), "{}", text(&r));
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(err.contains("needs a") && err.contains("shell"), "{err}");
    assert!(!err.contains("failed as well"), "{err}");
    assert_eq!(read(), "two", "the volume is as it was");
    // The next command has nothing to finish.
    let next = user.run(&env, &["snapshots", "--to", d]);
    assert!(next.status.success(), "{}", text(&next));
    assert!(
        !String::from_utf8_lossy(&next.stderr).contains("interrupted"),
        "{}",
        text(&next)
    );
    assert_eq!(
        env.d
            .must(&["ps", "-aq", "--filter", "label=org.lifeboat.helper"]),
        ""
    );
}

/// Files in a destination's `_pieces` folder.
fn piece_count(pieces: &Path) -> usize {
    piece_files(pieces).len()
}

/// Bytes of the files in a destination's `_pieces` folder.
fn piece_bytes(pieces: &Path) -> u64 {
    piece_files(pieces)
        .iter()
        .map(|p| std::fs::metadata(p).map_or(0, |m| m.len()))
        .sum()
}

fn piece_files(pieces: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(pieces)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .flat_map(|f| std::fs::read_dir(f.path()).into_iter().flatten())
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect()
}

/// The newest manifest in `dest`, decrypted with stock `age` and unpacked (a test edits it to make the
/// snapshot claim what its data does not hold).
fn newest_manifest(env: &Env) -> (PathBuf, serde_json::Value) {
    let mut all: Vec<PathBuf> = walk_files(&env.dest)
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".manifest.age"))
        .collect();
    all.sort();
    let path = all.pop().expect("a manifest");
    let out = Command::new("age")
        .arg("-d")
        .arg("-i")
        .arg(&env.key)
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    // Manifests are gzip-compressed JSON (docs/FORMAT.md).
    let mut json = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(out.stdout.as_slice()),
        &mut json,
    )
    .unwrap();
    (path, serde_json::from_slice(&json).unwrap())
}

fn write_manifest(env: &Env, path: &Path, m: &serde_json::Value) {
    let recipient = Command::new("age-keygen")
        .arg("-y")
        .arg(&env.key)
        .output()
        .unwrap();
    assert!(recipient.status.success(), "{}", text(&recipient));
    let plain = env.root.join("manifest.json");
    std::fs::write(&plain, serde_json::to_vec(m).unwrap()).unwrap();
    let out = Command::new("age")
        .arg("-r")
        .arg(String::from_utf8_lossy(&recipient.stdout).trim())
        .arg("-o")
        .arg(path)
        .arg(&plain)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    std::fs::remove_file(plain).unwrap();
}

fn walk_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path());
            }
        }
    }
    out
}

fn drill_json(env: &Env, stack: &Path, extra: &[&str]) -> (Output, serde_json::Value) {
    let mut args = vec![
        "drill",
        stack.to_str().unwrap(),
        "--from",
        env.dest.to_str().unwrap(),
        "--json",
    ];
    args.extend_from_slice(extra);
    let out = env.lifeboat(&args);
    let v = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("drill JSON: {e}\n{}", text(&out)));
    (out, v)
}

fn problems(v: &serde_json::Value) -> String {
    v["problems"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| p.as_str())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

/// A drill of a stack with Postgres (named volume, an init script making a second database)
/// and an app keeping SQLite in `./data`: the dump is loaded into a throwaway container made
/// like the service's, row counts compared with the dump's, the SQLite database opened and
/// counted, the secrets read in memory; the stack runs untouched throughout. Then what a
/// drill is for: a snapshot claiming rows its data lacks, an env file that lost a variable,
/// a dump whose `CREATE TABLE` is broken, and a drill killed mid-way whose throwaway
/// container and sandbox the next start removes.
#[test]
fn a_drill_loads_the_dump_in_a_throwaway_and_catches_what_is_wrong() {
    let Some(env) = Env::start() else { return };
    let bin = match postgres_bin() {
        Ok(b) => b,
        Err(e) => return skip(&e),
    };
    if !Path::new("/usr/bin/sqlite3").is_file() {
        return skip("sqlite3 is not installed (Debian package sqlite3)");
    }
    for image in ["postgres", "app"] {
        env.d.tag(&format!("lifeboat-test/{image}:1"));
    }
    let stack = env.root.join("shop");
    let (data, wrap) = (stack.join("data"), stack.join("wrap"));
    std::fs::create_dir_all(&data).unwrap();
    std::fs::create_dir_all(&wrap).unwrap();
    std::fs::write(stack.join("pg-entrypoint.sh"), PG_ENTRYPOINT).unwrap();
    std::fs::write(
        stack.join("init-db.sql"),
        "CREATE DATABASE shop;\n\\connect shop\n\
         CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL);\n\
         CREATE TABLE \"Empty Things\" (id int);\n",
    )
    .unwrap();
    // A dump tool that, when told to, writes a broken CREATE TABLE (and still its trailer,
    // so the backup's completeness check passes): what only loading the dump can catch.
    std::fs::write(
        wrap.join("pg_dumpall"),
        format!(
            "#!/bin/sh\nif [ -f /wrap/break ]; then {bin}/pg_dumpall \"$@\" | sed 's/^CREATE TABLE public.items/CREATE TABLEX public.items/'; else exec {bin}/pg_dumpall \"$@\"; fi\n",
            bin = bin.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        wrap.join("pg_dumpall"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    std::fs::write(
        stack.join(".env"),
        "POSTGRES_PASSWORD=shop-db-secret\nAPI_KEY=k-123\n",
    )
    .unwrap();
    let host = host_binaries_yaml();
    let path = format!("/wrap:{}:/bin:/usr/bin", bin.display());
    let compose = r#"services:
  app:
    image: lifeboat-test/app:1
    network_mode: none
    depends_on: [postgres]
    env_file: .env
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.2; done"]
    volumes:
      - ./data:/app/data
  postgres:
    image: lifeboat-test/postgres:1
    network_mode: none
    environment:
      PATH: @PATH@
      POSTGRES_PASSWORD: ${POSTGRES_PASSWORD}
    entrypoint: ["sh", "/pg-entrypoint.sh"]
    volumes:
      - pg_data:/var/lib/postgresql/data
      - ./init-db.sql:/docker-entrypoint-initdb.d/init-db.sql:ro
      - ./pg-entrypoint.sh:/pg-entrypoint.sh:ro
      - ./wrap:/wrap:ro
@HOST@
volumes:
  pg_data:
"#;
    std::fs::write(
        stack.join("compose.yaml"),
        compose.replace("@PATH@", &path).replace("@HOST@\n", &host),
    )
    .unwrap();
    let db = data.join("app.sqlite");
    let sql = |q: &str| {
        let o = Command::new("sqlite3").arg(&db).arg(q).output().unwrap();
        assert!(o.status.success(), "{}", text(&o));
        String::from_utf8_lossy(&o.stdout).trim().to_owned()
    };
    sql("PRAGMA journal_mode=WAL; CREATE TABLE notes(body TEXT); \
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 250) \
         INSERT INTO notes SELECT 'note ' || i FROM n;");
    env.d.compose_must(&stack, &["up", "-d"]);
    let pg = "shop_postgres_1";
    wait_postgres(&env, pg, "shop");
    env.d.psql(
        pg,
        "shop",
        "INSERT INTO items (name) SELECT 'item ' || g FROM generate_series(1, 300) g",
    );
    let b = env.backup(&stack, &[]);
    assert!(b.status.success(), "{}", text(&b));
    let throwaways = || {
        env.d
            .must(&["ps", "-aq", "--filter", "label=org.lifeboat.drill"])
            .trim()
            .to_owned()
    };
    let sandboxes = || {
        std::fs::read_dir(env.home.join("drills"))
            .map(|rd| rd.count())
            .unwrap_or(0)
    };
    let stack_files = || {
        let mut files: Vec<(PathBuf, Vec<u8>)> = walk_files(&stack)
            .into_iter()
            .filter(|p| !p.to_string_lossy().contains("app.sqlite"))
            .map(|p| (p.clone(), std::fs::read(&p).unwrap()))
            .collect();
        files.sort();
        files
    };
    let before = stack_files();

    // The drill proves the snapshot: every file, the dump loaded and counted, SQLite.
    let (out, v) = drill_json(&env, &stack, &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(v["ok"], true, "{v}");
    assert!(v["files_checked"].as_u64().unwrap() >= 5, "{v}");
    let dbs = v["databases"].as_array().unwrap();
    let pgc = dbs
        .iter()
        .find(|d| d["kind"] == "postgres")
        .expect("postgres checked");
    assert_eq!(pgc["loaded"], true, "{v}");
    assert_eq!(pgc["rows_match"], true, "{v}");
    assert!(
        pgc["tables"].as_u64().unwrap() >= 2,
        "items and \"Empty Things\": {v}"
    );
    let sq = dbs
        .iter()
        .find(|d| d["kind"] == "sqlite")
        .expect("sqlite checked");
    assert_eq!(
        (sq["loaded"].clone(), sq["rows_match"].clone()),
        (true.into(), true.into()),
        "{v}"
    );
    assert_eq!(throwaways(), "", "no throwaway container is left");
    assert_eq!(sandboxes(), 0, "the sandbox is removed");
    assert_eq!(env.state(pg), "running");
    assert_eq!(env.state("shop_app_1"), "running");
    assert_eq!(env.d.psql(pg, "shop", "SELECT count(*) FROM items"), "300");
    assert!(stack_files() == before, "the stack's files are untouched");
    assert_eq!(sql("SELECT count(*) FROM notes;"), "250");
    let shown = env.lifeboat(&["schedule", "show", stack.to_str().unwrap()]);
    assert!(
        String::from_utf8_lossy(&shown.stdout).contains("proven restorable today"),
        "{}",
        text(&shown)
    );

    // Without Docker the dump is "not checked", never passed.
    let (out, v) = drill_json(&env, &stack, &["--no-docker"]);
    assert!(out.status.success(), "{}", text(&out));
    let pgc = v["databases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["kind"] == "postgres")
        .cloned()
        .unwrap();
    assert_eq!(pgc["loaded"], false, "{v}");
    assert_eq!(pgc["note"], "not checked: Docker not reachable", "{v}");

    // A snapshot that claims a row its dump lacks, a SQLite table with fewer rows than
    // recorded, and an env file that lost a variable: each named in a sentence.
    let (mpath, original) = newest_manifest(&env);
    let mut m = original.clone();
    for c in m["components"].as_array_mut().unwrap() {
        for r in c
            .get_mut("rows")
            .and_then(|r| r.as_array_mut())
            .into_iter()
            .flatten()
        {
            if r["table"] == "public.items" || r["table"] == "notes" {
                r["rows"] = (r["rows"].as_u64().unwrap() + 1).into();
            }
        }
        for e in c
            .get_mut("env_names")
            .and_then(|e| e.as_array_mut())
            .into_iter()
            .flatten()
        {
            e["names"].as_array_mut().unwrap().push("GONE_VAR".into());
        }
    }
    write_manifest(&env, &mpath, &m);
    let (out, v) = drill_json(&env, &stack, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(v["ok"], false, "{v}");
    let p = problems(&v);
    assert!(
        p.contains("database shop, table public.items: 300 rows after the restore, 301 recorded"),
        "{p}"
    );
    assert!(p.contains("SQLite database data/app.sqlite, table notes: 250 rows after the restore, 251 recorded"), "{p}");
    assert!(
        p.contains(".env does not define the variables it did") && p.contains("GONE_VAR"),
        "{p}"
    );
    assert!(
        !p.contains("shop-db-secret") && !p.contains("k-123"),
        "no value is shown: {p}"
    );
    write_manifest(&env, &mpath, &original);

    // The dump truncated by hand in the destination (its last stored piece cut in half):
    // the drill says so, naming the database's component, and changes nothing.
    let b = env.backup(&stack, &["--json"]);
    assert!(b.status.success(), "{}", text(&b));
    let report: serde_json::Value = serde_json::from_slice(&b.stdout).unwrap();
    let pgc = report["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "service-postgres")
        .cloned()
        .unwrap_or_else(|| panic!("{report}"));
    let list = Command::new("age")
        .arg("-d")
        .arg("-i")
        .arg(&env.key)
        .arg(pgc["list"].as_str().unwrap())
        .output()
        .unwrap();
    assert!(list.status.success(), "{}", text(&list));
    let last = String::from_utf8_lossy(&list.stdout)
        .lines()
        .last()
        .unwrap()
        .to_owned();
    let piece = env.dest.join(&last);
    let whole = std::fs::read(&piece).unwrap();
    std::fs::write(&piece, &whole[..whole.len() / 2]).unwrap();
    let (out, v) = drill_json(&env, &stack, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let p = problems(&v);
    assert!(
        p.contains("service-postgres: the archive is damaged") && p.contains("does not decrypt"),
        "{p}"
    );
    assert_eq!(v["ok"], false, "{v}");
    std::fs::write(&piece, &whole).unwrap();
    let (out, _) = drill_json(&env, &stack, &[]);
    assert!(out.status.success(), "whole again: {}", text(&out));

    // A dump tool that wrote a broken CREATE TABLE: the backup passed its checks, the drill
    // does not.
    std::fs::write(wrap.join("break"), "").unwrap();
    let b = env.backup(&stack, &[]);
    assert!(b.status.success(), "{}", text(&b));
    std::fs::remove_file(wrap.join("break")).unwrap();
    let (out, v) = drill_json(&env, &stack, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let p = problems(&v);
    assert!(
        p.contains("postgres's dump _dumps/postgres/pg_dumpall.sql does not load"),
        "{p}"
    );
    assert_eq!(
        throwaways(),
        "",
        "the throwaway goes after a failed load too"
    );

    // Killed while its throwaway runs: the next start of Lifeboat removes it and the sandbox.
    let killed = env
        .lifeboat_cmd(&[
            "drill",
            stack.to_str().unwrap(),
            "--from",
            env.dest.to_str().unwrap(),
            "--snapshot",
            original["snapshot"].as_str().unwrap(),
        ])
        .env("LIFEBOAT_FAILPOINT", "drill-throwaway")
        .output()
        .unwrap();
    assert!(!killed.status.success(), "{}", text(&killed));
    assert_ne!(throwaways(), "", "the kill left its throwaway");
    assert_eq!(sandboxes(), 1, "the kill left its sandbox");
    let next = env.lifeboat(&["snapshots", "--to", env.dest.to_str().unwrap()]);
    assert!(next.status.success(), "{}", text(&next));
    assert_eq!(throwaways(), "", "the next start removed the throwaway");
    assert_eq!(sandboxes(), 0, "the next start removed the sandbox");
    let (out, v) = drill_json(
        &env,
        &stack,
        &["--snapshot", original["snapshot"].as_str().unwrap()],
    );
    assert!(out.status.success() && v["ok"] == true, "{}", text(&out));
    assert_eq!(env.state(pg), "running");
    env.d.compose_must(&stack, &["down"]);
}

/// The official MariaDB image's entrypoint, in short: on an empty data folder, install the
/// system tables, set root's password from `MARIADB_ROOT_PASSWORD` on a private socket,
/// run `/docker-entrypoint-initdb.d/*.sql` once; then the server on the usual socket.
const MARIADB_ENTRYPOINT: &str = r#"#!/bin/sh
set -e
D=/var/lib/mysql
mkdir -p /run/mysqld "$D" /tmp
chmod 1777 /tmp
chown mysql:mysql /run/mysqld "$D"
if [ ! -d "$D/mysql" ]; then
  mariadb-install-db --user=mysql --datadir="$D" --skip-test-db >/dev/null
  mariadbd --user=mysql --datadir="$D" --skip-networking --socket=/tmp/init.sock >/tmp/init.log 2>&1 &
  pid=$!
  i=0
  until mariadb --socket=/tmp/init.sock -uroot -e 'select 1' >/dev/null 2>&1; do
    i=$((i + 1)); [ "$i" -gt 240 ] && { cat /tmp/init.log; exit 1; }; sleep 0.25
  done
  mariadb --socket=/tmp/init.sock -uroot -e "ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD('$MARIADB_ROOT_PASSWORD'); FLUSH PRIVILEGES;"
  for f in /docker-entrypoint-initdb.d/*.sql; do
    [ -f "$f" ] && MYSQL_PWD="$MARIADB_ROOT_PASSWORD" mariadb --socket=/tmp/init.sock -uroot < "$f"
  done
  kill "$pid"; wait "$pid" || true
fi
exec mariadbd --user=mysql --datadir="$D" --skip-networking --socket=/run/mysqld/mysqld.sock
"#;

/// Runs SQL in the MariaDB container `id` as root with the stack's password.
fn mariadb(env: &Env, id: &str, sql: &str) -> Result<String, String> {
    let out = env
        .d
        .docker(&[
            "exec",
            "-e",
            "MYSQL_PWD=shop-root-pw",
            id,
            "mariadb",
            "-uroot",
            "-N",
            "-B",
            "-e",
            sql,
        ])
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// A shop on a real MariaDB (the host's Debian `mariadb-server` in a container made like the
/// official image): the backup dumps it with `mariadb-dump`; a drill loads the dump into a
/// throwaway server of the same image and compares every table's rows, and catches a row
/// count that differs; after `down -v` the restore in place, `up -d` and the restore of the
/// service's dump (as the first restore says) bring back every row and value, quotes and
/// parentheses included.
#[test]
fn a_mariadb_stack_is_dumped_drilled_and_restored_in_place() {
    let Some(env) = Env::start() else { return };
    if !Path::new("/usr/sbin/mariadbd").is_file() {
        return skip("MariaDB is not installed (Debian package mariadb-server)");
    }
    env.d.tag("lifeboat-test/mariadb:10");
    let stack = env.root.join("shop");
    std::fs::create_dir_all(&stack).unwrap();
    std::fs::write(stack.join("docker-entrypoint.sh"), MARIADB_ENTRYPOINT).unwrap();
    std::fs::write(
        stack.join("init.sql"),
        "CREATE DATABASE shop;\nUSE shop;\n\
         CREATE TABLE orders (id INT AUTO_INCREMENT PRIMARY KEY, note VARCHAR(200) NOT NULL);\n\
         CREATE TABLE `odd name` (id INT);\n",
    )
    .unwrap();
    std::fs::write(stack.join(".env"), "MARIADB_ROOT_PASSWORD=shop-root-pw\n").unwrap();
    let compose = format!(
        r#"services:
  db:
    image: lifeboat-test/mariadb:10
    network_mode: none
    environment:
      PATH: /usr/sbin:/usr/bin:/bin
      MARIADB_ROOT_PASSWORD: ${{MARIADB_ROOT_PASSWORD}}
    entrypoint: ["sh", "/docker-entrypoint.sh"]
    volumes:
      - db_data:/var/lib/mysql
      - ./init.sql:/docker-entrypoint-initdb.d/init.sql:ro
      - ./docker-entrypoint.sh:/docker-entrypoint.sh:ro
{host}volumes:
  db_data:
"#,
        host = host_binaries_yaml()
    );
    std::fs::write(stack.join("compose.yaml"), compose).unwrap();
    env.d.compose_must(&stack, &["up", "-d"]);
    let db = "shop_db_1";
    let up = |what: &str| {
        let deadline = Instant::now() + Duration::from_secs(120);
        while let Err(e) = mariadb(&env, db, "SELECT count(*) FROM shop.orders") {
            if Instant::now() > deadline {
                let logs = env
                    .d
                    .docker(&["logs", db])
                    .map(|o| text(&o))
                    .unwrap_or_default();
                panic!("{what}: {e}\n{logs}");
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    };
    up("MariaDB answers");
    mariadb(
        &env,
        db,
        "INSERT INTO shop.orders (note) WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 120) \
         SELECT CONCAT('order ', i, ' (it''s \"fine\"), ok') FROM n; INSERT INTO shop.`odd name` VALUES (1), (2);",
    )
    .unwrap();
    let checksum = || mariadb(&env, db, "CHECKSUM TABLE shop.orders").unwrap();
    let before = checksum();

    let b = env.backup(&stack, &[]);
    assert!(b.status.success(), "{}", text(&b));

    // The drill loads the dump into a throwaway MariaDB and every table's rows match.
    let (out, v) = drill_json(&env, &stack, &[]);
    assert!(out.status.success(), "{}", text(&out));
    let m = v["databases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["kind"] == "mysql")
        .cloned()
        .unwrap_or_else(|| panic!("the MariaDB dump was checked: {v}"));
    assert_eq!(
        (m["loaded"].clone(), m["rows_match"].clone()),
        (true.into(), true.into()),
        "{v}"
    );
    assert_eq!(m["tables"], 2, "orders and `odd name`: {v}");
    assert_eq!(
        env.d
            .must(&["ps", "-aq", "--filter", "label=org.lifeboat.drill"]),
        "",
        "no throwaway left"
    );
    assert_eq!(env.state(db), "running");

    // A recorded row count the dump does not hold is named by database and table.
    let (mpath, original) = newest_manifest(&env);
    let mut tampered = original.clone();
    for c in tampered["components"].as_array_mut().unwrap() {
        for r in c
            .get_mut("rows")
            .and_then(|r| r.as_array_mut())
            .into_iter()
            .flatten()
        {
            if r["table"] == "orders" {
                r["rows"] = 121.into();
            }
        }
    }
    write_manifest(&env, &mpath, &tampered);
    let (out, v) = drill_json(&env, &stack, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let p = problems(&v);
    assert!(
        p.contains("database shop, table orders: 120 rows after the restore, 121 recorded"),
        "{p}"
    );
    write_manifest(&env, &mpath, &original);

    // The disaster and the restore in place: the volume comes back, MariaDB starts on it,
    // and every row is there, byte for byte.
    env.d.compose_must(&stack, &["down", "-v"]);
    let r = env.restore(&[]);
    assert!(r.status.success(), "{}", text(&r));
    assert!(
        String::from_utf8_lossy(&r.stdout).contains("restore service-db again to load it"),
        "the restore says what comes next: {}",
        text(&r)
    );
    env.d.compose_must(&stack, &["up", "-d"]);
    up("MariaDB answers after the restore");
    // MariaDB came up empty (its entrypoint ran init.sql); its dump loads now.
    assert_eq!(
        mariadb(&env, db, "SELECT count(*) FROM shop.orders").unwrap(),
        "0"
    );
    let r = env.restore(&["--only", "db"]);
    assert!(r.status.success(), "{}", text(&r));
    assert_eq!(
        mariadb(&env, db, "SELECT count(*) FROM shop.orders").unwrap(),
        "120"
    );
    assert_eq!(checksum(), before);
    assert_eq!(
        mariadb(&env, db, "SELECT note FROM shop.orders WHERE id = 7").unwrap(),
        "order 7 (it's \"fine\"), ok"
    );
}

/// A service's own pre-backup command (compose label `lifeboat.pre-backup`) runs inside its
/// running container before its data is read: what it writes is in the snapshot and comes
/// back after `down -v` and a restore. A failing one fails the backup with its output and
/// writes no snapshot; the service keeps running.
#[test]
fn a_services_own_pre_backup_command_runs_in_its_container_first() {
    let Some(env) = Env::start() else { return };
    let stack = env.root.join("keeper");
    std::fs::create_dir_all(&stack).unwrap();
    let compose = |hook: &str| {
        format!(
            "services:\n  app:\n    image: lifeboat-test/busybox:1\n    network_mode: none\n    \
             command: [\"sh\", \"-c\", \"while true; do sleep 1; done\"]\n    \
             labels:\n      lifeboat.pre-backup: '{hook}'\n    volumes: [appdata:/data]\n\
             volumes:\n  appdata:\n"
        )
    };
    std::fs::write(
        stack.join("compose.yaml"),
        compose("echo \"exported by $$(hostname)\" > /data/export.txt"),
    )
    .unwrap();
    env.d.compose_must(&stack, &["up", "-d"]);
    let app = "keeper_app_1";
    wait_for("the app runs", Duration::from_secs(30), || {
        env.state(app) == "running"
    });
    let host = env.d.must(&["exec", app, "hostname"]).trim().to_owned();
    let b = env.backup(&stack, &[]);
    assert!(b.status.success(), "{}", text(&b));
    let snapshots = || lifeboat_core::backup::manifest_paths(&env.dest, "keeper").len();
    assert_eq!(snapshots(), 1);

    env.d.compose_must(&stack, &["down", "-v"]);
    assert!(!env.volumes().iter().any(|v| v.contains("appdata")));
    let r = env.restore(&[]);
    assert!(r.status.success(), "{}", text(&r));
    env.d.compose_must(&stack, &["up", "-d"]);
    wait_for("the app runs again", Duration::from_secs(30), || {
        env.state(app) == "running"
    });
    assert_eq!(
        env.d.must(&["exec", app, "cat", "/data/export.txt"]),
        format!("exported by {host}"),
        "what the service's command wrote before the copy is in the snapshot"
    );

    std::fs::write(
        stack.join("compose.yaml"),
        compose("echo the export API is down >&2; exit 3"),
    )
    .unwrap();
    let b = env.backup(&stack, &[]);
    assert_eq!(b.status.code(), Some(1), "{}", text(&b));
    assert!(
        String::from_utf8_lossy(&b.stderr).contains(
            "the pre-backup command of service app (label lifeboat.pre-backup) failed (exit code 3); \
             it printed: the export API is down; no snapshot was written"
        ),
        "{}",
        text(&b)
    );
    assert_eq!(snapshots(), 1);
    assert_eq!(env.state(app), "running");
    env.d.compose_must(&stack, &["down", "-v"]);
}
