//! Databases in a restore: loading a dump into the running service through `docker exec`
//! (the same tools the backup dumped with), the encrypted safety dumps of their content
//! before, and waiting for the stopped services to run (and be healthy) again.

use std::collections::HashMap;
use std::io::{BufReader, Read};
use std::path::Path;
use std::time::{Duration, Instant};

use super::{io_err, RestoreError, ServiceState};
use crate::archive;
use crate::backup::dump::DumpError;
use crate::backup::manifest::{Manifest, Recipe};
use crate::docker::{BlockingEngine, DockerError};

/// Why a database could not be loaded, or its earlier content saved or put back.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// Loading its earlier content back needs the backup key, which was not given.
    #[error("the backup key is needed to load its earlier content back")]
    NeedsKey,
    /// Loading its earlier content back needs Docker, which cannot be reached.
    #[error("its earlier content cannot be loaded back without Docker")]
    NeedsDocker,
    /// Lifeboat cannot dump this kind of database, so cannot save it before a load.
    #[error("Lifeboat cannot dump this kind of database to keep its current content")]
    NoRecipe,
    /// Its current content could not be dumped first, so nothing was loaded.
    #[error("its current content could not be saved first, so nothing was loaded: {0}")]
    NotSavedFirst(#[source] DumpError),
    /// The safety dump of its current content could not be written.
    #[error("{}: {source}", path.display())]
    Write {
        /// The safety dump.
        path: std::path::PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// The engine refused to run the load.
    #[error(transparent)]
    Engine(#[from] DockerError),
    /// The database tool exited non-zero.
    #[error("the load exited with code {code}: {last}")]
    Exit {
        /// Its exit code.
        code: i64,
        /// Its last line of output.
        last: String,
    },
    /// Putting the earlier content back after a failure failed as well.
    #[error("putting back its earlier content failed too: {0}")]
    PutBackToo(#[source] Box<LoadError>),
}

/// How a database's dump is loaded: a POSIX shell script run in its container, reading the
/// dump on standard input, failing with the tool's errors.
fn load_script(recipe: Recipe) -> &'static str {
    match recipe {
        // Drop the databases the dump recreates (all but `postgres` and the templates) and
        // empty `postgres`, then load; "already exists" (roles) is expected.
        Recipe::PgDumpall => {
            r#"export PGPASSWORD="${POSTGRES_PASSWORD:-$PGPASSWORD}"; U="${POSTGRES_USER:-postgres}"
for d in $(psql -U "$U" -d postgres -Atc "select datname from pg_database where datallowconn and datname not in ('postgres','template1')"); do
  psql -U "$U" -d postgres -qc "DROP DATABASE \"$d\" WITH (FORCE)" || exit 1
done
psql -U "$U" -d postgres -qc "DO \$\$ DECLARE s text; BEGIN FOR s IN SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\_%' AND nspname <> 'information_schema' LOOP EXECUTE format('DROP SCHEMA %I CASCADE', s); END LOOP; END \$\$; CREATE SCHEMA public;" || exit 1
out=$(psql -U "$U" -d postgres -q -v ON_ERROR_STOP=0 -f - 2>&1 >/dev/null); rc=$?
errs=$(printf '%s\n' "$out" | grep -E 'ERROR|FATAL|error:' | grep -v 'already exists')
if [ "$rc" != 0 ] || [ -n "$errs" ]; then printf '%s\n' "${errs:-$out}" >&2; exit 1; fi"#
        }
        Recipe::MysqlDump => {
            r#"C=$(command -v mariadb || command -v mysql); MYSQL_PWD="${MARIADB_ROOT_PASSWORD:-$MYSQL_ROOT_PASSWORD}" exec "$C" -uroot"#
        }
        Recipe::Mongodump => {
            r#"if [ -n "$MONGO_INITDB_ROOT_USERNAME" ]; then exec mongorestore --quiet --archive --drop --username "$MONGO_INITDB_ROOT_USERNAME" --password "$MONGO_INITDB_ROOT_PASSWORD" --authenticationDatabase admin; else exec mongorestore --quiet --archive --drop; fi"#
        }
        _ => "exit 64",
    }
}

/// Loads a dump read from `input` into the database of `container`.
pub(crate) fn load_dump(
    engine: &BlockingEngine,
    container: &str,
    recipe: Recipe,
    input: &mut (dyn Read + Send),
) -> Result<(), LoadError> {
    let (code, out) =
        engine.exec_with_input(container, &["sh", "-c", load_script(recipe)], input)?;
    if code == 0 {
        Ok(())
    } else {
        let last = crate::backup::dump::last_line(&out, "no output").to_owned();
        Err(LoadError::Exit { code, last })
    }
}

/// Opens a file written with [`write_encrypted`].
pub(super) fn read_encrypted(
    path: &Path,
    identity: &age::x25519::Identity,
) -> Result<impl Read + Send, RestoreError> {
    let f = std::fs::File::open(path).map_err(io_err(path))?;
    Ok(archive::decrypt(BufReader::new(f), identity, path)?)
}

/// Writes `from` as a file only `recipient`'s key reads (a safety dump).
pub(super) fn write_encrypted(
    path: &Path,
    mut from: impl Read,
    recipient: &age::x25519::Recipient,
) -> Result<(), LoadError> {
    let said = |source| LoadError::Write {
        path: path.to_owned(),
        source,
    };
    let recipients = [recipient.clone()];
    let mut w =
        archive::sealed::Sealed::create(path, archive::sealed::Key::Recipients(&recipients))
            .map_err(said)?;
    std::io::copy(&mut from, &mut w).map_err(said)?;
    w.finish().map(drop).map_err(said)
}

/// Each service's dump recipe in `m`.
pub(super) fn recipes_of(m: &Manifest) -> HashMap<String, Recipe> {
    m.components
        .iter()
        .filter_map(|c| Some((c.service.clone()?, c.recipe)))
        .collect()
}

/// Waits (up to `limit`) until the stack's containers of `services` run, and healthy ones
/// are healthy; returns how they are.
pub(super) fn wait_running(
    engine: &BlockingEngine,
    stack: &str,
    services: &[String],
    limit: Duration,
) -> Vec<ServiceState> {
    let deadline = Instant::now() + limit;
    loop {
        let states: Vec<ServiceState> = engine
            .project_containers(stack)
            .unwrap_or_default()
            .into_iter()
            .filter(|c| services.contains(&c.service))
            .map(|c| ServiceState {
                service: c.service,
                state: c.state,
                health: c.health,
            })
            .collect();
        let settled = states
            .iter()
            .all(|s| s.state == "running" && s.health.as_deref() != Some("starting"));
        if settled || Instant::now() > deadline {
            return states;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}
