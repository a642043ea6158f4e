//! What the catalog remembers about backups: the journal of containers a backup stopped (so
//! a crashed run's containers are started again), each stack's backup settings, and the
//! history of backup runs.

use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::{Catalog, CatalogError};

/// A container a running backup stopped and has not started again yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoppedContainer {
    /// The engine's id.
    pub container_id: String,
    /// Its name.
    pub container_name: String,
    /// The compose project.
    pub stack: String,
    /// The compose service.
    pub service: String,
    /// When it was stopped (Unix seconds).
    pub stopped_at: i64,
    /// The lock file the stopping process holds while it runs.
    pub lock_path: String,
}

/// How a backup run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum BackupResult {
    /// A snapshot was written.
    Ok,
    /// It failed; no snapshot.
    Failed,
    /// The user cancelled; no snapshot.
    Cancelled,
}

impl BackupResult {
    /// `ok`, `failed` or `cancelled`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }
    fn parse(s: &str) -> Self {
        match s {
            "ok" => Self::Ok,
            "cancelled" => Self::Cancelled,
            _ => Self::Failed,
        }
    }
}

/// One backup run of a stack, as the history shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct BackupRecord {
    /// When it started (Unix seconds).
    #[ts(type = "number")]
    pub started: i64,
    /// How long it took.
    #[ts(type = "number")]
    pub duration_ms: i64,
    /// How long services were stopped.
    #[ts(type = "number")]
    pub downtime_ms: i64,
    /// The snapshot it wrote, when it succeeded.
    pub snapshot: Option<String>,
    /// Where it went.
    pub destination: String,
    /// Bytes captured.
    #[ts(type = "number")]
    pub bytes_in: i64,
    /// Bytes newly stored (not reused from earlier snapshots).
    #[ts(type = "number")]
    pub bytes_new: i64,
    /// How it ended.
    pub result: BackupResult,
    /// The error, for a failed run.
    pub message: Option<String>,
    /// Number of warnings.
    #[ts(type = "number")]
    pub warnings: i64,
}

impl Catalog {
    /// Records that a backup stopped a container (before it stops it).
    ///
    /// # Errors
    /// When SQLite fails.
    pub fn journal_stopped(&self, c: &StoppedContainer) -> Result<(), CatalogError> {
        self.conn()
            .execute(
                "INSERT OR REPLACE INTO stopped_containers
                 (container_id, container_name, stack, service, stopped_at, lock_path)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    c.container_id,
                    c.container_name,
                    c.stack,
                    c.service,
                    c.stopped_at,
                    c.lock_path
                ],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Records that a container a backup stopped runs again.
    ///
    /// # Errors
    /// When SQLite fails.
    pub fn journal_started(&self, container_id: &str) -> Result<(), CatalogError> {
        self.conn()
            .execute(
                "DELETE FROM stopped_containers WHERE container_id = ?1",
                params![container_id],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Every container the journal says a backup stopped, newest first.
    ///
    /// # Errors
    /// When SQLite fails.
    pub fn journal(&self) -> Result<Vec<StoppedContainer>, CatalogError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT container_id, container_name, stack, service, stopped_at, lock_path
                 FROM stopped_containers ORDER BY stopped_at DESC, rowid DESC",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(StoppedContainer {
                    container_id: r.get(0)?,
                    container_name: r.get(1)?,
                    stack: r.get(2)?,
                    service: r.get(3)?,
                    stopped_at: r.get(4)?,
                    lock_path: r.get(5)?,
                })
            })
            .and_then(Iterator::collect)
            .map_err(|e| self.err(e));
        rows
    }

    /// A small piece of app state (never a secret), such as when the recovery passphrase
    /// was last tested.
    ///
    /// # Errors
    /// When SQLite fails.
    pub fn app_state(&self, key: &str) -> Result<Option<String>, CatalogError> {
        self.conn()
            .query_row(
                "SELECT value FROM app_state WHERE key = ?1",
                params![key],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Sets a piece of app state.
    ///
    /// # Errors
    /// When SQLite fails.
    pub fn set_app_state(&self, key: &str, value: &str) -> Result<(), CatalogError> {
        self.conn()
            .execute(
                "INSERT INTO app_state(key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// A piece of app state saved as JSON by [`Catalog::set_app_json`]; the default when
    /// never saved or no longer readable (a field renamed by an older version).
    ///
    /// # Errors
    /// When SQLite fails.
    pub fn app_json<T: serde::de::DeserializeOwned + Default>(
        &self,
        key: &str,
    ) -> Result<T, CatalogError> {
        Ok(self
            .app_state(key)?
            .and_then(|j| serde_json::from_str(&j).ok())
            .unwrap_or_default())
    }

    /// Saves a piece of app state as JSON.
    ///
    /// # Errors
    /// When SQLite fails.
    pub fn set_app_json<T: serde::Serialize>(
        &self,
        key: &str,
        value: &T,
    ) -> Result<(), CatalogError> {
        self.set_app_state(key, &serde_json::to_string(value).unwrap_or_default())
    }

    /// A stack's settings, as saved (JSON; defaults when never saved). Their type lives in
    /// [`crate::settings`].
    ///
    /// # Errors
    /// When SQLite fails or the stack is unknown.
    pub fn stack_json<T: serde::de::DeserializeOwned + Default>(
        &self,
        stack_id: i64,
    ) -> Result<T, CatalogError> {
        self.stack(stack_id)?;
        let json: Option<String> = self
            .conn()
            .query_row(
                "SELECT json FROM stack_settings WHERE stack_id = ?1",
                params![stack_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        Ok(json
            .and_then(|j| serde_json::from_str(&j).ok())
            .unwrap_or_default())
    }

    /// Saves a stack's settings (JSON).
    ///
    /// # Errors
    /// When SQLite fails or the stack is unknown.
    pub fn set_stack_json<T: serde::Serialize>(
        &self,
        stack_id: i64,
        value: &T,
    ) -> Result<(), CatalogError> {
        self.stack(stack_id)?;
        let json = serde_json::to_string(value).unwrap_or_default();
        self.conn()
            .execute(
                "INSERT INTO stack_settings(stack_id, json) VALUES (?1, ?2)
                 ON CONFLICT(stack_id) DO UPDATE SET json = excluded.json",
                params![stack_id, json],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Adds a run to a stack's backup history and returns its row id.
    ///
    /// # Errors
    /// When SQLite fails.
    pub fn record_backup(&self, stack_id: i64, r: &BackupRecord) -> Result<i64, CatalogError> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO backups(stack_id, started, duration_ms, downtime_ms, snapshot,
                 destination, bytes_in, bytes_new, result, message, warnings)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![
                stack_id,
                r.started,
                r.duration_ms,
                r.downtime_ms,
                r.snapshot,
                r.destination,
                r.bytes_in,
                r.bytes_new,
                r.result.as_str(),
                r.message,
                r.warnings
            ],
        )
        .map_err(|e| self.err(e))?;
        Ok(conn.last_insert_rowid())
    }

    /// A stack's backup runs, newest first.
    ///
    /// # Errors
    /// When SQLite fails.
    pub fn backups(&self, stack_id: i64, limit: u32) -> Result<Vec<BackupRecord>, CatalogError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT started, duration_ms, downtime_ms, snapshot, destination, bytes_in,
                 bytes_new, result, message, warnings FROM backups WHERE stack_id = ?1
                 ORDER BY started DESC, id DESC LIMIT ?2",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![stack_id, limit], |r| {
                Ok(BackupRecord {
                    started: r.get(0)?,
                    duration_ms: r.get(1)?,
                    downtime_ms: r.get(2)?,
                    snapshot: r.get(3)?,
                    destination: r.get(4)?,
                    bytes_in: r.get(5)?,
                    bytes_new: r.get(6)?,
                    result: BackupResult::parse(&r.get::<_, String>(7)?),
                    message: r.get(8)?,
                    warnings: r.get(9)?,
                })
            })
            .and_then(Iterator::collect)
            .map_err(|e| self.err(e));
        rows
    }
}
