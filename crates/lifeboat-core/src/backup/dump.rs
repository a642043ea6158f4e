//! Logical database dumps through the Docker exec API.
//!
//! The dump runs inside the database's own container with the container's own environment,
//! so passwords stay where they are (`$POSTGRES_PASSWORD` is expanded by the container's
//! shell, never by Lifeboat). Its output is streamed into a spool file in the destination,
//! encrypted with a key that exists only in memory, because a tar header needs the size
//! before the content; then it is checked (exit code, not empty, the tool's own completion
//! marker) and copied into the archive. A dump that fails any check fails the backup.

use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use crate::archive::sealed::{Key, Sealed};
use crate::docker::BlockingEngine;
use crate::job::{CancelToken, Progress};
use crate::stack::ServiceKind;

use super::manifest::Recipe;

/// How one kind of database is dumped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DumpRecipe {
    /// The recipe recorded in the manifest.
    pub recipe: Recipe,
    /// The file name of the dump in the archive.
    pub file: &'static str,
    /// A POSIX shell script run in the container.
    script: &'static str,
    /// What a complete dump ends with (within its last 4 KiB), when the tool writes one.
    trailer: Option<&'static [u8]>,
    /// What a dump starts with, when the format has a magic number.
    magic: Option<&'static [u8]>,
}

const PG: DumpRecipe = DumpRecipe {
    recipe: Recipe::PgDumpall,
    file: "pg_dumpall.sql",
    script: r#"PGPASSWORD="${POSTGRES_PASSWORD:-$PGPASSWORD}" exec pg_dumpall -U "${POSTGRES_USER:-postgres}""#,
    trailer: Some(b"PostgreSQL database cluster dump complete"),
    magic: None,
};

const MYSQL: DumpRecipe = DumpRecipe {
    recipe: Recipe::MysqlDump,
    file: "all-databases.sql",
    script: r#"D=$(command -v mariadb-dump || command -v mysqldump); P="${MARIADB_ROOT_PASSWORD:-$MYSQL_ROOT_PASSWORD}"; MYSQL_PWD="$P" exec "$D" -uroot --all-databases --single-transaction --routines --events --triggers"#,
    trailer: Some(b"-- Dump completed"),
    magic: None,
};

const MONGO: DumpRecipe = DumpRecipe {
    recipe: Recipe::Mongodump,
    file: "mongodump.archive",
    script: r#"if [ -n "$MONGO_INITDB_ROOT_USERNAME" ]; then exec mongodump --quiet --archive --username "$MONGO_INITDB_ROOT_USERNAME" --password "$MONGO_INITDB_ROOT_PASSWORD" --authenticationDatabase admin; else exec mongodump --quiet --archive; fi"#,
    trailer: None,
    // mongodump's archive format starts with 0x8199e26d, little-endian.
    magic: Some(&[0x6d, 0xe2, 0x99, 0x81]),
};

impl DumpRecipe {
    /// The dump recipe for a kind of database, if it has one.
    pub fn for_kind(kind: ServiceKind) -> Option<Self> {
        match kind {
            ServiceKind::Postgres => Some(PG),
            ServiceKind::Mysql | ServiceKind::Mariadb => Some(MYSQL),
            ServiceKind::Mongo => Some(MONGO),
            _ => None,
        }
    }

    /// The dump recipe that produced `recipe`'s dumps.
    pub fn for_recipe(recipe: Recipe) -> Option<Self> {
        [PG, MYSQL, MONGO].into_iter().find(|r| r.recipe == recipe)
    }

    /// Checks a finished dump's beginning and end.
    ///
    /// # Errors
    /// What is wrong with it: empty, not of this kind, or incomplete.
    pub fn check(&self, head: &[u8], tail: &[u8], len: u64) -> Result<(), DumpError> {
        if len == 0 {
            return Err(DumpError::Empty);
        }
        if let Some(m) = self.magic {
            if !head.starts_with(m) {
                return Err(DumpError::NotOfThisKind);
            }
        }
        if let Some(t) = self.trailer {
            if !tail.windows(t.len()).any(|w| w == t) {
                return Err(DumpError::Incomplete {
                    trailer: String::from_utf8_lossy(t).into_owned(),
                });
            }
        }
        Ok(())
    }
}

/// Why a dump failed or fails its check.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DumpError {
    /// The dump has no bytes.
    #[error("the dump is empty")]
    Empty,
    /// The dump does not begin the way this tool's dumps begin.
    #[error("the dump does not start like a dump of this kind")]
    NotOfThisKind,
    /// The dump lacks the line the tool writes last.
    #[error("the dump is incomplete: it does not end with \"{trailer}\"")]
    Incomplete {
        /// The last line expected.
        trailer: String,
    },
    /// The encrypted spool file could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Spool {
        /// The spool file.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// The engine refused to run the dump tool, or to say how it ended.
    #[error(transparent)]
    Engine(#[from] crate::docker::DockerError),
    /// The dump tool's output stopped before it ended.
    #[error("the dump's output broke off: {0}")]
    BrokeOff(#[source] std::io::Error),
    /// The dump tool exited non-zero.
    #[error("{tool} exited with code {code}: {last}")]
    Exit {
        /// The tool.
        tool: &'static str,
        /// Its exit code.
        code: i64,
        /// Its last line of error output.
        last: String,
    },
    /// The user cancelled.
    #[error("cancelled")]
    Cancelled,
}

/// A finished, checked dump waiting in its encrypted spool file.
pub struct Spooled {
    path: PathBuf,
    key: age::x25519::Identity,
    /// Plaintext bytes.
    pub len: u64,
    /// Its tables' rows as the dump holds them, as (database, table, rows), when Lifeboat
    /// counts this kind of dump.
    pub rows: Option<Vec<(String, String, u64)>>,
}

impl std::fmt::Debug for Spooled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spooled")
            .field("path", &self.path)
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl Spooled {
    /// The plaintext.
    ///
    /// # Errors
    /// When the spool file cannot be read back.
    pub fn reader(&self) -> io::Result<impl Read> {
        let f = std::fs::File::open(&self.path)?;
        let d = age::Decryptor::new_buffered(BufReader::new(f)).map_err(io::Error::other)?;
        d.decrypt(std::iter::once(&self.key as &dyn age::Identity))
            .map_err(io::Error::other)
    }
}

impl Drop for Spooled {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Keeps the first and last few KiB of a stream and counts it.
struct Watch<W> {
    inner: W,
    head: Vec<u8>,
    tail: Vec<u8>,
    len: u64,
}

const KEEP: usize = 4096;

impl<W: Write> Write for Watch<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        let b = &buf[..n];
        if self.head.len() < KEEP {
            let take = (KEEP - self.head.len()).min(b.len());
            self.head.extend_from_slice(&b[..take]);
        }
        self.tail.extend_from_slice(b);
        if self.tail.len() > 2 * KEEP {
            let cut = self.tail.len() - KEEP;
            self.tail.drain(..cut);
        }
        self.len += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Runs `recipe` in container `container` and spools its output to `spool` (created new,
/// mode 0600, encrypted with a key held only in memory).
///
/// # Errors
/// The engine refused, the tool exited non-zero (with its last error line), the dump is
/// empty or incomplete, the spool could not be written, or `cancel` fired.
pub fn run(
    engine: &BlockingEngine,
    container: &str,
    recipe: &DumpRecipe,
    spool: &Path,
    progress: &dyn Progress,
    cancel: &CancelToken,
) -> Result<Spooled, DumpError> {
    let key = age::x25519::Identity::generate();
    let recipients = [key.to_public()];
    let spool_err = |source| DumpError::Spool {
        path: spool.to_owned(),
        source,
    };
    let writer = Sealed::create(spool, Key::Recipients(&recipients)).map_err(spool_err)?;
    // From here on the spool file is removed when `spooled` drops, on every path.
    let mut spooled = Spooled {
        path: spool.to_owned(),
        key,
        len: 0,
        rows: None,
    };
    let mut rows = super::rows::DumpRows::for_recipe(recipe.recipe);
    let mut watch = Watch {
        inner: writer,
        head: Vec::new(),
        tail: Vec::new(),
        len: 0,
    };
    let mut out = engine.exec(container, &["sh", "-c", recipe.script])?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        if cancel.is_cancelled() {
            return Err(DumpError::Cancelled);
        }
        let n = out.read(&mut buf).map_err(DumpError::BrokeOff)?;
        if n == 0 {
            break;
        }
        watch.write_all(&buf[..n]).map_err(spool_err)?;
        if let Some(r) = rows.as_mut() {
            r.feed(&buf[..n]);
        }
        progress.advance(0, n as u64);
    }
    let (code, stderr) = out.finish()?;
    let Watch {
        inner,
        head,
        tail,
        len,
    } = watch;
    inner.finish().map_err(spool_err)?;
    if code != 0 {
        return Err(DumpError::Exit {
            tool: recipe.recipe.tool(),
            code,
            last: last_line(&stderr, "no message").to_owned(),
        });
    }
    recipe.check(&head, &tail, len)?;
    spooled.len = len;
    spooled.rows = rows.map(super::rows::DumpRows::finish);
    Ok(spooled)
}

/// A tool's last non-empty line of output, trimmed (what it said last is why it failed), or
/// `none` when it said nothing.
pub(crate) fn last_line<'a>(output: &'a str, none: &'a str) -> &'a str {
    output
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map_or(none, str::trim)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_catch_empty_and_incomplete_dumps() {
        assert!(matches!(PG.check(b"", b"", 0), Err(DumpError::Empty)));
        let err = PG.check(b"--\n", b"CREATE TABLE t;\n", 20).unwrap_err();
        assert!(err.to_string().contains("incomplete"), "{err}");
        PG.check(
            b"--\n",
            b"--\n-- PostgreSQL database cluster dump complete\n--\n",
            60,
        )
        .unwrap();
        assert!(MONGO.check(b"nope", b"", 4).is_err());
        MONGO.check(&[0x6d, 0xe2, 0x99, 0x81, 1], b"", 5).unwrap();
        assert!(MYSQL.check(b"", b"-- Dump completed on 2026", 30).is_ok());
    }
}
