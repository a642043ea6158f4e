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
    let mut check = unchecked(c, "sqlite", name);
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

/// The container of `svc` (of the snapshot's stack) on this machine, to make a throwaway of.
fn service_container(
    engine: &BlockingEngine,
    m: &Manifest,
    svc: &str,
) -> Option<crate::docker::ContainerInfo> {
    engine
        .project_containers(&m.stack)
        .unwrap_or_default()
        .into_iter()
        .find(|ct| ct.service == svc)
}

/// A check of database `name` of `c`, of `kind`, that found nothing yet.
fn unchecked(c: &ComponentEntry, kind: &str, name: &str) -> DatabaseCheck {
    DatabaseCheck {
        service: c.service.clone(),
        kind: kind.to_owned(),
        name: name.to_owned(),
        loaded: false,
        tables: 0,
        rows_match: false,
        note: None,
    }
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
    let mut check = unchecked(c, kind, name);
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
    let Some(like) = service_container(engine, m, &svc) else {
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
    if let Err(e) = engine.start(&throwaway.id) {
        return failed(
            check,
            problems,
            format!("{svc}: the throwaway {kind} server could not be started: {e}"),
        );
    }
    crate::restore::failpoint("drill-throwaway");
    if let Err(why) = wait_ready(engine, &throwaway.id, scripts.ready) {
        return failed(check, problems, not_started(&throwaway, &svc, kind, &why));
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

/// "SERVICE: the throwaway KIND server did not start: WHY; its last log lines: …".
fn not_started(t: &Throwaway<'_>, svc: &str, kind: &str, why: &str) -> String {
    let log = t
        .engine
        .log_tail(&t.id, 5)
        .ok()
        .filter(|l| !l.is_empty())
        .map(|l| format!("; its last log lines: {}", l.replace('\n', " | ")))
        .unwrap_or_default();
    format!("{svc}: the throwaway {kind} server did not start: {why}{log}")
}

/// Loads Redis dump `name` (restored at `path`, its SHA-256 already checked) into a
/// throwaway `redis-server` of the service's image and compares the keys it then holds with
/// the count Redis wrote into the dump itself (its `RESIZEDB` field, for the first
/// database in the file); keys with a time to live may have expired since, so up to that
/// many fewer are accepted.
pub(super) fn check_redis(
    engine: Option<&BlockingEngine>,
    m: &Manifest,
    c: &ComponentEntry,
    path: &Path,
    name: &str,
    drill: &str,
    problems: &mut Vec<String>,
) -> DatabaseCheck {
    let mut check = unchecked(c, "redis", name);
    let Some(engine) = engine else {
        check.note = Some("not checked: Docker not reachable".into());
        return check;
    };
    let svc = c.service.clone().unwrap_or_default();
    let Some(like) = service_container(engine, m, &svc) else {
        check.note = Some(format!(
            "not checked: {svc} has no container on this machine to make a throwaway copy of"
        ));
        return check;
    };
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => return failed(check, problems, format!("{name} cannot be read: {e}")),
    };
    let recorded = rdb_keys(&bytes);
    // Where the service keeps it: the named volume's mount, else Redis's usual /data.
    let (dir, file) = {
        let mut parts = name.splitn(3, '/');
        match (parts.next(), parts.next(), parts.next()) {
            (Some("_volumes"), Some(vol), Some(rest)) => {
                let at = like
                    .volumes
                    .iter()
                    .find(|(v, _)| v == vol)
                    .map_or("/data".to_owned(), |(_, t)| t.clone());
                (at, rest.to_owned())
            }
            _ => (
                "/data".to_owned(),
                name.rsplit('/').next().unwrap_or(name).to_owned(),
            ),
        }
    };
    let throwaway = match engine.create_throwaway(&like.id, drill) {
        Ok(id) => Throwaway { engine, id },
        Err(e) => {
            return failed(
                check,
                problems,
                format!("{svc}: a throwaway Redis server could not be created: {e}"),
            );
        }
    };
    // The dump goes in before the server starts: Redis reads it only then.
    let entry = c.files.iter().find(|f| f.path == name);
    let (uid, gid, mode) = entry.map_or((999, 999, 0o644), |f| {
        (
            f.uid.unwrap_or(999),
            f.gid.unwrap_or(999),
            f.mode.unwrap_or(0o644),
        )
    });
    let upload = engine.upload(&throwaway.id, "/", move |w| {
        let mut tar = tar::Builder::new(w);
        let mut dirh = tar::Header::new_gnu();
        dirh.set_entry_type(tar::EntryType::Directory);
        dirh.set_mode(0o755);
        dirh.set_uid(uid);
        dirh.set_gid(gid);
        dirh.set_size(0);
        tar.append_data(&mut dirh, dir.trim_start_matches('/'), std::io::empty())?;
        let mut h = tar::Header::new_gnu();
        h.set_mode(mode);
        h.set_uid(uid);
        h.set_gid(gid);
        h.set_size(bytes.len() as u64);
        let at = format!(
            "{}/{file}",
            dir.trim_start_matches('/').trim_end_matches('/')
        );
        tar.append_data(&mut h, at, bytes.as_slice())?;
        tar.finish()
    });
    if let Err(e) = upload.and_then(|()| engine.start(&throwaway.id)) {
        return failed(
            check,
            problems,
            format!("{svc}: the throwaway Redis server could not be started with {name}: {e}"),
        );
    }
    // PING answers only once the dump is loaded ("LOADING" before).
    let ready = "redis-cli PING 2>/dev/null | grep -q PONG";
    if let Err(why) = wait_ready(engine, &throwaway.id, ready) {
        return failed(
            check,
            problems,
            not_started(&throwaway, &svc, "Redis", &why),
        );
    }
    let keyspace = match sh(engine, &throwaway.id, "redis-cli INFO keyspace") {
        Ok((0, out, _)) => parse_keyspace(&out),
        other => {
            let why = other.map_or_else(|e| e.to_string(), |(_, _, err)| err);
            return failed(
                check,
                problems,
                format!("{svc}: the keys could not be counted after loading {name}: {why}"),
            );
        }
    };
    check.loaded = true;
    let Some((db, keys, expires)) = recorded else {
        check.note = Some(
            "loaded; the dump records no key count (an RDB older than version 7), so none \
             was compared"
                .into(),
        );
        return check;
    };
    let got = keyspace.get(&db).copied().unwrap_or(0);
    check.tables = 1;
    if got > keys || got + expires < keys {
        return failed(
            check,
            problems,
            format!(
                "{svc}: Redis database {db} holds {got} keys after loading {name}; the dump \
                 recorded {keys}"
            ),
        );
    }
    check.rows_match = true;
    drop(throwaway);
    check
}

/// `db<N>:keys=K,…` lines of `INFO keyspace`, as N → K.
fn parse_keyspace(out: &str) -> BTreeMap<u64, u64> {
    out.lines()
        .filter_map(|l| {
            let (db, rest) = l.trim().strip_prefix("db")?.split_once(':')?;
            let keys = rest.split(',').find_map(|kv| kv.strip_prefix("keys="))?;
            Some((db.parse().ok()?, keys.parse().ok()?))
        })
        .collect()
}

/// From a Redis RDB file's beginning: the first database it holds and the keys and keys
/// with a time to live that Redis recorded for it (`SELECTDB`, then `RESIZEDB`); a file
/// with no database at all holds 0 keys of database 0. `None` when the file says nothing
/// (no `RESIZEDB`, an opcode not known here, or not an RDB file).
fn rdb_keys(b: &[u8]) -> Option<(u64, u64, u64)> {
    if b.len() < 9 || &b[..5] != b"REDIS" {
        return None;
    }
    let mut i = 9;
    let mut db = None;
    loop {
        let op = *b.get(i)?;
        i += 1;
        match op {
            // AUX: two strings.
            0xFA => {
                rdb_skip_string(b, &mut i)?;
                rdb_skip_string(b, &mut i)?;
            }
            // FUNCTION2: one string.
            0xF5 => rdb_skip_string(b, &mut i)?,
            0xFE => db = Some(rdb_length(b, &mut i)?),
            0xFB => {
                let keys = rdb_length(b, &mut i)?;
                let expires = rdb_length(b, &mut i)?;
                return Some((db.unwrap_or(0), keys, expires));
            }
            0xFF => return Some((0, 0, 0)),
            _ => return None,
        }
    }
}

/// An RDB length (its 2-bit encodings), moving `i` past it.
fn rdb_length(b: &[u8], i: &mut usize) -> Option<u64> {
    let first = *b.get(*i)?;
    *i += 1;
    match first >> 6 {
        0 => Some(u64::from(first & 0x3F)),
        1 => {
            let next = *b.get(*i)?;
            *i += 1;
            Some((u64::from(first & 0x3F) << 8) | u64::from(next))
        }
        2 if first == 0x80 => {
            let v = b.get(*i..*i + 4)?;
            *i += 4;
            Some(u64::from(u32::from_be_bytes(v.try_into().ok()?)))
        }
        2 if first == 0x81 => {
            let v = b.get(*i..*i + 8)?;
            *i += 8;
            Some(u64::from_be_bytes(v.try_into().ok()?))
        }
        _ => None,
    }
}

/// Moves `i` past an RDB string (plain, an integer, or LZF-compressed).
fn rdb_skip_string(b: &[u8], i: &mut usize) -> Option<()> {
    let first = *b.get(*i)?;
    if first >> 6 == 3 {
        *i += 1;
        match first & 0x3F {
            0 => *i += 1,
            1 => *i += 2,
            2 => *i += 4,
            3 => {
                let compressed = rdb_length(b, i)?;
                let _plain = rdb_length(b, i)?;
                *i += usize::try_from(compressed).ok()?;
            }
            _ => return None,
        }
    } else {
        let n = rdb_length(b, i)?;
        *i += usize::try_from(n).ok()?;
    }
    (*i <= b.len()).then_some(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_count_is_read_from_an_rdb_header() {
        // REDIS0011, AUX redis-ver "7.0.15", AUX an integer value, SELECTDB 0,
        // RESIZEDB 300 keys (14-bit length) and 2 with a time to live.
        let mut b = b"REDIS0011".to_vec();
        b.extend([0xFA, 9]);
        b.extend(b"redis-ver");
        b.extend([6]);
        b.extend(b"7.0.15");
        b.extend([0xFA, 5]);
        b.extend(b"ctime");
        b.extend([0xC2, 1, 2, 3, 4]);
        b.extend([0xFE, 0, 0xFB, 0x41, 0x2C, 2]);
        assert_eq!(rdb_keys(&b), Some((0, 300, 2)));
        assert_eq!(rdb_keys(b"REDIS0011\xff"), Some((0, 0, 0)));
        assert_eq!(rdb_keys(b"REDIS0006\xfe\x00\x00"), None, "no RESIZEDB");
        assert_eq!(rdb_keys(b"not redis"), None);
        let ks = parse_keyspace(
            "# Keyspace\r\ndb0:keys=300,expires=2,avg_ttl=0\r\ndb3:keys=1,expires=0\r\n",
        );
        assert_eq!(ks.get(&0), Some(&300));
        assert_eq!(ks.get(&3), Some(&1));
    }
}
