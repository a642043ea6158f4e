//! The catalog: a SQLite file in Lifeboat's data folder that remembers the stacks a user
//! added and every inspection's sizes, so the next inspection can show growth.
//!
//! It never stores a secret: no `.env` values, no keys. Its folder is `LIFEBOAT_HOME` when
//! set, else the platform's application-data folder (`~/.local/share/lifeboat` on Linux).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

mod drills;
mod files;
mod jobs;
mod schedules;

pub use drills::DrillRecord;
pub use files::{CacheScope, CachedFile};
pub use jobs::{BackupRecord, BackupResult, StoppedContainer};

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Why the catalog could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogError {
    /// No data folder could be determined or created.
    #[error("cannot use {path} as Lifeboat's data folder: {reason}; set LIFEBOAT_HOME to a writable folder")]
    Home {
        /// The folder.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// SQLite failed.
    #[error("the catalog at {path} failed: {source}")]
    Sqlite {
        /// The catalog file.
        path: PathBuf,
        /// What SQLite said.
        #[source]
        source: rusqlite::Error,
    },
    /// No stack with that id.
    #[error("no stack with id {id} in the catalog; it may have been removed")]
    UnknownStack {
        /// The id asked for.
        id: i64,
    },
}

/// A stack the user added.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct StackRecord {
    /// The catalog's id.
    pub id: i64,
    /// The compose project name at the last inspection.
    pub name: String,
    /// The stack folder.
    pub dir: String,
    /// When it was last inspected (Unix seconds), if ever.
    pub last_inspected: Option<i64>,
    /// Total bytes at the last inspection.
    pub last_total_bytes: Option<i64>,
    /// Number of warnings at the last inspection.
    pub last_warnings: Option<i64>,
}

/// Sizes recorded by one past inspection.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PastSizes {
    /// When (Unix seconds).
    pub at: i64,
    /// Total bytes.
    pub total_bytes: u64,
    /// Bytes per service.
    pub services: BTreeMap<String, u64>,
}

/// One point of a service's size history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct SizePoint {
    /// When (Unix seconds).
    pub at: i64,
    /// Bytes then.
    pub bytes: i64,
}

/// The catalog. Cheap to share: every method locks an inner connection.
#[derive(Debug)]
pub struct Catalog {
    conn: Mutex<Connection>,
    path: PathBuf,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS stacks (
    id INTEGER PRIMARY KEY,
    dir TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    added_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS inspections (
    id INTEGER PRIMARY KEY,
    stack_id INTEGER NOT NULL REFERENCES stacks(id) ON DELETE CASCADE,
    at INTEGER NOT NULL,
    total_bytes INTEGER NOT NULL,
    total_files INTEGER NOT NULL,
    warnings INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS inspections_by_stack ON inspections(stack_id, at);
CREATE TABLE IF NOT EXISTS service_sizes (
    inspection_id INTEGER NOT NULL REFERENCES inspections(id) ON DELETE CASCADE,
    service TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    files INTEGER NOT NULL,
    PRIMARY KEY (inspection_id, service)
);
CREATE TABLE IF NOT EXISTS stopped_containers (
    container_id TEXT PRIMARY KEY,
    container_name TEXT NOT NULL,
    stack TEXT NOT NULL,
    service TEXT NOT NULL,
    stopped_at INTEGER NOT NULL,
    lock_path TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS stack_settings (
    stack_id INTEGER PRIMARY KEY REFERENCES stacks(id) ON DELETE CASCADE,
    json TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS backups (
    id INTEGER PRIMARY KEY,
    stack_id INTEGER NOT NULL REFERENCES stacks(id) ON DELETE CASCADE,
    started INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    downtime_ms INTEGER NOT NULL,
    snapshot TEXT,
    destination TEXT NOT NULL,
    bytes_in INTEGER NOT NULL,
    bytes_new INTEGER NOT NULL,
    result TEXT NOT NULL,
    message TEXT,
    warnings INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS backups_by_stack ON backups(stack_id, started);
CREATE TABLE IF NOT EXISTS schedule_state (
    stack_id INTEGER PRIMARY KEY REFERENCES stacks(id) ON DELETE CASCADE,
    json TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS backup_sizes (
    backup_id INTEGER NOT NULL REFERENCES backups(id) ON DELETE CASCADE,
    stack_id INTEGER NOT NULL,
    component TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    PRIMARY KEY (backup_id, component)
);
CREATE TABLE IF NOT EXISTS alerts_sent (
    stack_id INTEGER NOT NULL REFERENCES stacks(id) ON DELETE CASCADE,
    code TEXT NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (stack_id, code)
);
CREATE TABLE IF NOT EXISTS file_cache (
    dest TEXT NOT NULL,
    key TEXT NOT NULL,
    stack TEXT NOT NULL,
    component TEXT NOT NULL,
    path BLOB NOT NULL,
    dev INTEGER NOT NULL,
    ino INTEGER NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    ctime_ns INTEGER NOT NULL,
    pieces TEXT NOT NULL,
    sha256 TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (dest, key, stack, component, path)
);
CREATE TABLE IF NOT EXISTS drills (
    id INTEGER PRIMARY KEY,
    stack TEXT NOT NULL,
    destination TEXT NOT NULL,
    snapshot TEXT,
    started INTEGER NOT NULL,
    sandbox TEXT NOT NULL,
    pid INTEGER NOT NULL,
    finished INTEGER,
    ok INTEGER,
    report TEXT
);
CREATE INDEX IF NOT EXISTS drills_by_stack ON drills(stack, started);
CREATE TABLE IF NOT EXISTS app_state (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
";

/// The folder where Lifeboat keeps its catalog and logs.
///
/// # Errors
/// When no platform data folder is known and `LIFEBOAT_HOME` is not set.
pub fn home() -> Result<PathBuf, CatalogError> {
    if let Some(h) = std::env::var_os("LIFEBOAT_HOME").filter(|h| !h.is_empty()) {
        return Ok(PathBuf::from(h));
    }
    dirs::data_dir()
        .map(|d| d.join("lifeboat"))
        .ok_or_else(|| CatalogError::Home {
            path: PathBuf::from("?"),
            reason: "this platform has no application-data folder".into(),
        })
}

fn now() -> i64 {
    crate::time::unix_now()
}

impl Catalog {
    /// Opens (creating if needed) the catalog in [`home`].
    ///
    /// # Errors
    /// When the folder cannot be created or the file is not a usable SQLite database.
    pub fn open_default() -> Result<Self, CatalogError> {
        let home = home()?;
        std::fs::create_dir_all(&home).map_err(|e| CatalogError::Home {
            path: home.clone(),
            reason: e.to_string(),
        })?;
        Self::open(&home.join("catalog.sqlite3"))
    }

    /// Opens (creating if needed) the catalog file at `path`.
    ///
    /// # Errors
    /// When the file is not a usable SQLite database.
    pub fn open(path: &Path) -> Result<Self, CatalogError> {
        let sql = |source| CatalogError::Sqlite {
            path: path.to_owned(),
            source,
        };
        let conn = Connection::open(path).map_err(sql)?;
        conn.execute_batch(
            "PRAGMA foreign_keys = ON; PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000;",
        )
        .map_err(sql)?;
        conn.execute_batch(SCHEMA).map_err(sql)?;
        // Catalogs whose file cache predates per-file checksums get the column (their
        // rows, without one, are not used: those files are read once more).
        let has_sha: bool = conn
            .prepare("SELECT 1 FROM pragma_table_info('file_cache') WHERE name = 'sha256'")
            .and_then(|mut s| s.exists([]))
            .map_err(sql)?;
        if !has_sha {
            conn.execute_batch("ALTER TABLE file_cache ADD COLUMN sha256 TEXT NOT NULL DEFAULT ''")
                .map_err(sql)?;
        }
        Ok(Self {
            conn: Mutex::new(conn),
            path: path.to_owned(),
        })
    }

    /// The catalog file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn err(&self, source: rusqlite::Error) -> CatalogError {
        CatalogError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// Adds a stack folder (or renames it if known) and returns its record.
    ///
    /// # Errors
    /// When SQLite fails.
    pub fn add_stack(&self, dir: &Path, name: &str) -> Result<StackRecord, CatalogError> {
        let dir_s = dir.display().to_string();
        let id: i64 = {
            let conn = self.conn();
            conn.execute(
                "INSERT INTO stacks(dir, name, added_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT(dir) DO UPDATE SET name = excluded.name",
                params![dir_s, name, now()],
            )
            .map_err(|e| self.err(e))?;
            conn.query_row("SELECT id FROM stacks WHERE dir = ?1", [&dir_s], |r| {
                r.get(0)
            })
            .map_err(|e| self.err(e))?
        };
        self.stack(id)
    }

    /// Every known stack, by name.
    ///
    /// # Errors
    /// When SQLite fails.
    pub fn stacks(&self) -> Result<Vec<StackRecord>, CatalogError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT s.id, s.name, s.dir, i.at, i.total_bytes, i.warnings FROM stacks s
                 LEFT JOIN inspections i ON i.id = (SELECT id FROM inspections WHERE stack_id = s.id ORDER BY at DESC, id DESC LIMIT 1)
                 ORDER BY s.name, s.id",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(StackRecord {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    dir: r.get(2)?,
                    last_inspected: r.get(3)?,
                    last_total_bytes: r.get(4)?,
                    last_warnings: r.get(5)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// The stack with `id`.
    ///
    /// # Errors
    /// [`CatalogError::UnknownStack`] when there is none.
    pub fn stack(&self, id: i64) -> Result<StackRecord, CatalogError> {
        self.stacks()?
            .into_iter()
            .find(|s| s.id == id)
            .ok_or(CatalogError::UnknownStack { id })
    }

    /// Forgets a stack and its history (its files are not touched).
    ///
    /// # Errors
    /// When SQLite fails or the stack is unknown.
    pub fn remove_stack(&self, id: i64) -> Result<(), CatalogError> {
        let n = self
            .conn()
            .execute("DELETE FROM stacks WHERE id = ?1", [id])
            .map_err(|e| self.err(e))?;
        if n == 0 {
            return Err(CatalogError::UnknownStack { id });
        }
        Ok(())
    }

    /// The sizes of the stack's latest inspection, if any.
    ///
    /// # Errors
    /// When SQLite fails.
    pub fn last_sizes(&self, stack_id: i64) -> Result<Option<PastSizes>, CatalogError> {
        let conn = self.conn();
        let last: Option<(i64, i64, i64)> = conn
            .query_row(
                "SELECT id, at, total_bytes FROM inspections WHERE stack_id = ?1 ORDER BY at DESC, id DESC LIMIT 1",
                [stack_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        let Some((iid, at, total)) = last else {
            return Ok(None);
        };
        let mut stmt = conn
            .prepare("SELECT service, bytes FROM service_sizes WHERE inspection_id = ?1")
            .map_err(|e| self.err(e))?;
        let services = stmt
            .query_map([iid], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
            })
            .map_err(|e| self.err(e))?
            .collect::<Result<BTreeMap<_, _>, _>>()
            .map_err(|e| self.err(e))?;
        Ok(Some(PastSizes {
            at,
            total_bytes: total as u64,
            services,
        }))
    }

    /// Records an inspection's sizes.
    ///
    /// # Errors
    /// When SQLite fails.
    pub fn record_inspection(
        &self,
        stack_id: i64,
        at: i64,
        total: (u64, u64),
        warnings: usize,
        services: &[(String, u64, u64)],
    ) -> Result<(), CatalogError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        tx.execute(
            "INSERT INTO inspections(stack_id, at, total_bytes, total_files, warnings) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![stack_id, at, total.0 as i64, total.1 as i64, warnings as i64],
        )
        .map_err(|e| self.err(e))?;
        let iid = tx.last_insert_rowid();
        for (name, bytes, files) in services {
            tx.execute(
                "INSERT INTO service_sizes(inspection_id, service, bytes, files) VALUES (?1, ?2, ?3, ?4)",
                params![iid, name, *bytes as i64, *files as i64],
            )
            .map_err(|e| self.err(e))?;
        }
        tx.commit().map_err(|e| self.err(e))
    }

    /// The last `limit` sizes of each service of a stack, oldest first.
    ///
    /// # Errors
    /// When SQLite fails.
    pub fn size_history(
        &self,
        stack_id: i64,
        limit: usize,
    ) -> Result<BTreeMap<String, Vec<SizePoint>>, CatalogError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT ss.service, i.at, ss.bytes FROM service_sizes ss JOIN inspections i ON i.id = ss.inspection_id
                 WHERE i.id IN (SELECT id FROM inspections WHERE stack_id = ?1 ORDER BY at DESC, id DESC LIMIT ?2)
                 ORDER BY i.at, i.id",
            )
            .map_err(|e| self.err(e))?;
        let mut out: BTreeMap<String, Vec<SizePoint>> = BTreeMap::new();
        let rows = stmt
            .query_map(params![stack_id, limit as i64], |r| {
                Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?))
            })
            .map_err(|e| self.err(e))?;
        for row in rows {
            let (svc, at, bytes) = row.map_err(|e| self.err(e))?;
            out.entry(svc).or_default().push(SizePoint { at, bytes });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stacks_and_sizes_round_trip() {
        let t = tempfile::tempdir().unwrap();
        let cat = Catalog::open(&t.path().join("c.sqlite3")).unwrap();
        let a = cat.add_stack(Path::new("/srv/a"), "a").unwrap();
        let again = cat.add_stack(Path::new("/srv/a"), "renamed").unwrap();
        assert_eq!(a.id, again.id);
        assert_eq!(again.name, "renamed");
        assert_eq!(cat.last_sizes(a.id).unwrap(), None);
        cat.record_inspection(a.id, 100, (10, 2), 1, &[("db".into(), 10, 2)])
            .unwrap();
        cat.record_inspection(a.id, 200, (30, 3), 0, &[("db".into(), 30, 3)])
            .unwrap();
        let last = cat.last_sizes(a.id).unwrap().unwrap();
        assert_eq!(
            (last.at, last.total_bytes, last.services["db"]),
            (200, 30, 30)
        );
        let hist = cat.size_history(a.id, 10).unwrap();
        assert_eq!(
            hist["db"].iter().map(|p| p.bytes).collect::<Vec<_>>(),
            [10, 30]
        );
        let listed = cat.stacks().unwrap();
        assert_eq!(listed[0].last_total_bytes, Some(30));
        cat.remove_stack(a.id).unwrap();
        assert!(matches!(
            cat.stack(a.id),
            Err(CatalogError::UnknownStack { .. })
        ));
        assert!(cat.last_sizes(a.id).unwrap().is_none());
    }
}
