//! A drill's database checks: SQLite files opened in the sandbox, dumps loaded into a
//! throwaway server made like the service's own container.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

use super::DatabaseCheck;
use crate::backup::manifest::{ComponentEntry, Manifest, Recipe, TableRows};
use crate::docker::{BlockingEngine, DockerError};

/// How long a throwaway server may take to start (an official image initialises its data
/// folder first).
const START_LIMIT: Duration = Duration::from_secs(180);

/// MySQL's own schemas: their rows depend on the server, not on the data backed up.
const MYSQL_SYSTEM: [&str; 4] = ["mysql", "sys", "performance_schema", "information_schema"];

/// Opens SQLite file `name` restored under `target`: `integrity_check`, then each table's
/// rows against those recorded when its online-backup copy was made.
pub(super) fn check_sqlite(
    path: &Path,
    c: &ComponentEntry,
    name: &str,
    problems: &mut Vec<String>,
) -> DatabaseCheck {
    let mut check = DatabaseCheck {
        service: c.service.clone(),
        kind: "sqlite".into(),
        name: name.to_owned(),
        loaded: false,
        tables: 0,
        rows_match: false,
        note: None,
    };
    let opened = rusqlite::Connection::open(path).and_then(|conn| {
        let ok: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        Ok((conn, ok))
    });
    let conn = match opened {
        Ok((conn, ok)) if ok == "ok" => conn,
        Ok((_, why)) => {
            return failed(
                check,
                problems,
                format!("The SQLite database {name} fails its integrity check: {why}"),
            );
        }
        Err(e) => {
            return failed(
                check,
                problems,
                format!("The SQLite database {name} does not open: {e}"),
            );
        }
    };
    check.loaded = true;
    let got: BTreeMap<(String, String), u64> = match crate::backup::capture::table_rows(&conn) {
        Ok(rows) => rows
            .into_iter()
            .map(|(t, n)| ((String::new(), t), n))
            .collect(),
        Err(e) => {
            return failed(
                check,
                problems,
                format!("The SQLite database {name}: its rows cannot be counted: {e}"),
            );
        }
    };
    compare(
        &mut check,
        c,
        name,
        &got,
        |_, t| format!("SQLite database {name}, table {t}"),
        problems,
    );
    check
}

/// `check` as failed for `why`, which is also a problem of the drill.
fn failed(mut check: DatabaseCheck, problems: &mut Vec<String>, why: String) -> DatabaseCheck {
    problems.push(why.clone());
    check.note = Some(why);
    check
}

/// Compares the rows `got` with those `c` recorded for `file`; each difference is a
/// problem naming the database and table.
fn compare(
    check: &mut DatabaseCheck,
    c: &ComponentEntry,
    file: &str,
    got: &BTreeMap<(String, String), u64>,
    what: impl Fn(&str, &str) -> String,
    problems: &mut Vec<String>,
) {
    let skip = |db: &str| check.kind == "mysql" && MYSQL_SYSTEM.contains(&db);
    let recorded: Vec<&TableRows> = c
        .rows
        .iter()
        .filter(|r| r.file == file && !skip(&r.database))
        .collect();
    if recorded.is_empty() && c.rows.iter().all(|r| r.file != file) {
        check.note = Some("this snapshot recorded no row counts, so none were compared".into());
        return;
    }
    let before = problems.len();
    for r in &recorded {
        match got.get(&(r.database.clone(), r.table.clone())) {
            None => problems.push(format!(
                "{}: missing (the snapshot recorded {} rows)",
                what(&r.database, &r.table),
                r.rows
            )),
            Some(&n) if n != r.rows => problems.push(format!(
                "{}: {n} rows after the restore, {} recorded at backup time",
                what(&r.database, &r.table),
                r.rows
            )),
            Some(_) => {}
        }
    }
    for ((db, table), n) in got {
        let known = recorded
            .iter()
            .any(|r| &r.database == db && &r.table == table);
        if !known && *n > 0 && !skip(db) {
            problems.push(format!(
                "{}: {n} rows after the restore, none recorded at backup time",
                what(db, table)
            ));
        }
    }
    check.tables = recorded.len() as u64;
    check.rows_match = problems.len() == before;
}

/// Loads dump `name` (restored at `path`) into a throwaway server made like the service's
/// container, then compares each table's rows with those the dump held.
pub(super) fn check_dump(
    engine: Option<&BlockingEngine>,
    m: &Manifest,
    c: &ComponentEntry,
    path: &Path,
    name: &str,
    drill: &str,
    problems: &mut Vec<String>,
) -> DatabaseCheck {
    let kind = match c.recipe {
        Recipe::PgDumpall => "postgres",
        Recipe::MysqlDump => "mysql",
        Recipe::Mongodump => "mongo",
        _ => "dump",
    };
    let mut check = DatabaseCheck {
        service: c.service.clone(),
        kind: kind.into(),
        name: name.to_owned(),
        loaded: false,
        tables: 0,
        rows_match: false,
        note: None,
    };
    let Some(scripts) = Scripts::for_recipe(c.recipe) else {
        check.note = Some(format!(
            "not checked: drills do not load {kind} dumps yet (the dump was restored and \
             checked as a file)"
        ));
        return check;
    };
    let Some(engine) = engine else {
        check.note = Some("not checked: Docker not reachable".into());
        return check;
    };
    let svc = c.service.clone().unwrap_or_default();
    let like = engine
        .project_containers(&m.stack)
        .unwrap_or_default()
        .into_iter()
        .find(|ct| ct.service == svc);
    let Some(like) = like else {
        check.note = Some(format!(
            "not checked: {svc} has no container on this machine to make a throwaway copy \
             of (create it with `docker compose up --no-start {svc}`)"
        ));
        return check;
    };
    let throwaway = match engine.create_throwaway(&like.id, drill) {
        Ok(id) => Throwaway { engine, id },
        Err(e) => {
            return failed(
                check,
                problems,
                format!("{svc}: a throwaway {kind} server could not be created: {e}"),
            );
        }
    };
    crate::restore::failpoint("drill-throwaway");
    if let Err(why) = wait_ready(engine, &throwaway.id, scripts.ready) {
        let log = engine
            .log_tail(&throwaway.id, 5)
            .ok()
            .filter(|l| !l.is_empty())
            .map(|l| format!("; its last log lines: {}", l.replace('\n', " | ")))
            .unwrap_or_default();
        return failed(
            check,
            problems,
            format!("{svc}: the throwaway {kind} server did not start: {why}{log}"),
        );
    }
    let loaded = std::fs::File::open(path)
        .map_err(|e| e.to_string())
        .and_then(|mut f| {
            crate::restore::dbload::load_dump(engine, &throwaway.id, c.recipe, &mut f)
                .map_err(|e| e.to_string())
        });
    if let Err(e) = loaded {
        return failed(
            check,
            problems,
            format!("{svc}'s dump {name} does not load into a fresh {kind} server: {e}"),
        );
    }
    check.loaded = true;
    let got = match sh(engine, &throwaway.id, scripts.count) {
        Ok((0, out, _)) => parse_counts(&out),
        Ok((code, _, err)) => {
            return failed(
                check,
                problems,
                format!(
                    "{svc}: the rows could not be counted after the load (exit {code}): {}",
                    crate::backup::dump::last_line(&err, "no message")
                ),
            );
        }
        Err(e) => {
            return failed(
                check,
                problems,
                format!("{svc}: the rows could not be counted after the load: {e}"),
            );
        }
    };
    compare(
        &mut check,
        c,
        name,
        &got,
        |db, t| format!("{svc}: database {db}, table {t}"),
        problems,
    );
    drop(throwaway);
    check
}

/// A throwaway container, removed (with its anonymous volumes) when dropped.
struct Throwaway<'a> {
    engine: &'a BlockingEngine,
    id: String,
}

impl Drop for Throwaway<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.engine.remove_throwaway(&self.id) {
            tracing::warn!("could not remove throwaway container {}: {e}", self.id);
        }
    }
}

struct Scripts {
    /// Exits 0 once the server takes connections.
    ready: &'static str,
    /// Prints `database<TAB>table<TAB>rows` for every table.
    count: &'static str,
}

impl Scripts {
    fn for_recipe(recipe: Recipe) -> Option<Self> {
        match recipe {
            Recipe::PgDumpall => Some(Self {
                ready: r#"export PGPASSWORD="${POSTGRES_PASSWORD:-$PGPASSWORD}"; psql -U "${POSTGRES_USER:-postgres}" -d postgres -Atqc 'select 1' >/dev/null 2>&1"#,
                count: r#"export PGPASSWORD="${POSTGRES_PASSWORD:-$PGPASSWORD}"; U="${POSTGRES_USER:-postgres}"
psql -U "$U" -d postgres -Atc "select datname from pg_database where datallowconn" | while IFS= read -r d; do
psql -U "$U" -d "$d" -At -F '	' -v ON_ERROR_STOP=1 <<'EOF' || exit 1
SELECT format('SELECT %L, %L, count(*) FROM %I.%I', current_database(), quote_ident(n.nspname) || '.' || quote_ident(c.relname), n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' ORDER BY 1 \gexec
EOF
done"#,
            }),
            Recipe::MysqlDump => Some(Self {
                ready: r#"C=$(command -v mariadb || command -v mysql); MYSQL_PWD="${MARIADB_ROOT_PASSWORD:-$MYSQL_ROOT_PASSWORD}" "$C" -uroot -N -B -e 'select 1' >/dev/null 2>&1"#,
                count: r#"C=$(command -v mariadb || command -v mysql); export MYSQL_PWD="${MARIADB_ROOT_PASSWORD:-$MYSQL_ROOT_PASSWORD}"
"$C" -uroot -N -B -e "SELECT table_schema, table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('mysql', 'sys', 'performance_schema', 'information_schema')" | while IFS='	' read -r s t; do
n=$("$C" -uroot -N -B -e "SELECT count(*) FROM \`$s\`.\`$t\`") || exit 1
printf '%s\t%s\t%s\n' "$s" "$t" "$n"
done"#,
            }),
            _ => None,
        }
    }
}

/// Runs a POSIX shell script in container `id`: its exit code, output and error output.
fn sh(
    engine: &BlockingEngine,
    id: &str,
    script: &str,
) -> Result<(i64, String, String), DockerError> {
    let mut out = engine.exec(id, &["sh", "-c", script])?;
    let mut stdout = Vec::new();
    out.read_to_end(&mut stdout).map_err(|e| DockerError::Api {
        what: "reading a command's output".into(),
        reason: e.to_string(),
    })?;
    let (code, stderr) = out.finish()?;
    Ok((code, String::from_utf8_lossy(&stdout).into_owned(), stderr))
}

/// Waits until the server answers `ready` and its image's init phase is over (process 1
/// is no longer `docker-entrypoint.sh`, which runs a temporary server while it initialises
/// a new data folder).
fn wait_ready(engine: &BlockingEngine, id: &str, ready: &str) -> Result<(), String> {
    let deadline = Instant::now() + START_LIMIT;
    loop {
        if !engine.is_running(id).map_err(|e| e.to_string())? {
            return Err("it stopped while starting".into());
        }
        let answered = matches!(sh(engine, id, ready), Ok((0, _, _)));
        let init_over = sh(engine, id, "cat /proc/1/cmdline")
            .map(|(_, out, _)| !out.contains("docker-entrypoint"))
            .unwrap_or(true);
        if answered && init_over {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("no answer within {} s", START_LIMIT.as_secs()));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// `database<TAB>table<TAB>rows` lines.
fn parse_counts(out: &str) -> BTreeMap<(String, String), u64> {
    out.lines()
        .filter_map(|l| {
            let mut parts = l.splitn(3, '\t');
            let (d, t, n) = (parts.next()?, parts.next()?, parts.next()?);
            Some(((d.to_owned(), t.to_owned()), n.trim().parse().ok()?))
        })
        .collect()
}
