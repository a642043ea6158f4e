//! Schedule state, the global pause, per-component sizes of each backup (for growth
//! alerts), and when each alert was last sent.

use rusqlite::{params, OptionalExtension};

use super::{Catalog, CatalogError};
use crate::schedule::ScheduleState;

/// Bytes per component of one backup, by component name.
pub type ComponentSizes = Vec<(String, u64)>;

const PAUSED: &str = "schedules_paused_until";

impl Catalog {
    /// A stack's schedule state, if its schedule ever ran a check.
    ///
    /// # Errors
    /// When SQLite fails.
    pub fn schedule_state(&self, stack_id: i64) -> Result<Option<ScheduleState>, CatalogError> {
        let json: Option<String> = self
            .conn()
            .query_row(
                "SELECT json FROM schedule_state WHERE stack_id = ?1",
                params![stack_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        Ok(json.and_then(|j| serde_json::from_str(&j).ok()))
    }

    /// Saves a stack's schedule state.
    ///
    /// # Errors
    /// When SQLite fails.
    pub fn save_schedule_state(
        &self,
        stack_id: i64,
        state: &ScheduleState,
    ) -> Result<(), CatalogError> {
        let json = serde_json::to_string(state).unwrap_or_default();
        self.conn()
            .execute(
                "INSERT INTO schedule_state(stack_id, json) VALUES (?1, ?2)
                 ON CONFLICT(stack_id) DO UPDATE SET json = excluded.json",
                params![stack_id, json],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Until when every schedule is paused (`i64::MAX`: until resumed), if it is.
    ///
    /// # Errors
    /// When SQLite fails.
    pub fn paused_until(&self) -> Result<Option<i64>, CatalogError> {
        Ok(self.app_state(PAUSED)?.and_then(|v| v.parse().ok()))
    }

    /// Pauses every schedule until `until`, or resumes them with `None`.
    ///
    /// # Errors
    /// When SQLite fails.
    pub fn set_paused_until(&self, until: Option<i64>) -> Result<(), CatalogError> {
        match until {
            Some(u) => self.set_app_state(PAUSED, &u.to_string()),
            None => {
                self.conn()
                    .execute("DELETE FROM app_state WHERE key = ?1", params![PAUSED])
                    .map_err(|e| self.err(e))?;
                Ok(())
            }
        }
    }

    /// Records the plaintext bytes of each component of backup `backup_id` (the history
    /// row [`Catalog::record_backup`] returned).
    ///
    /// # Errors
    /// When SQLite fails.
    pub fn record_component_sizes(
        &self,
        stack_id: i64,
        backup_id: i64,
        sizes: &[(String, u64)],
    ) -> Result<(), CatalogError> {
        let conn = self.conn();
        for (name, bytes) in sizes {
            conn.execute(
                "INSERT OR REPLACE INTO backup_sizes(backup_id, stack_id, component, bytes)
                 VALUES (?1, ?2, ?3, ?4)",
                params![backup_id, stack_id, name, *bytes as i64],
            )
            .map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    /// The component sizes of the last two successful backups, newest first, each with
    /// its backup's row id.
    ///
    /// # Errors
    /// When SQLite fails.
    pub fn last_component_sizes(
        &self,
        stack_id: i64,
    ) -> Result<Vec<(i64, ComponentSizes)>, CatalogError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT DISTINCT backup_id FROM backup_sizes WHERE stack_id = ?1
                 ORDER BY backup_id DESC LIMIT 2",
            )
            .map_err(|e| self.err(e))?;
        let starts: Vec<i64> = stmt
            .query_map(params![stack_id], |r| r.get(0))
            .and_then(Iterator::collect)
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for backup_id in starts {
            let mut stmt = conn
                .prepare(
                    "SELECT component, bytes FROM backup_sizes WHERE backup_id = ?1
                     ORDER BY component",
                )
                .map_err(|e| self.err(e))?;
            let rows: Vec<(String, u64)> = stmt
                .query_map(params![backup_id], |r| {
                    Ok((r.get(0)?, r.get::<_, i64>(1)?.max(0) as u64))
                })
                .and_then(Iterator::collect)
                .map_err(|e| self.err(e))?;
            out.push((backup_id, rows));
        }
        Ok(out)
    }

    /// When an alert `code` was last sent for a stack.
    ///
    /// # Errors
    /// When SQLite fails.
    pub fn alert_sent_at(&self, stack_id: i64, code: &str) -> Result<Option<i64>, CatalogError> {
        self.conn()
            .query_row(
                "SELECT at FROM alerts_sent WHERE stack_id = ?1 AND code = ?2",
                params![stack_id, code],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Remembers that alert `code` was sent at `at`, or forgets it with `None` (its cause
    /// went away, so the next occurrence is said again).
    ///
    /// # Errors
    /// When SQLite fails.
    pub fn set_alert_sent(
        &self,
        stack_id: i64,
        code: &str,
        at: Option<i64>,
    ) -> Result<(), CatalogError> {
        let conn = self.conn();
        match at {
            Some(at) => conn.execute(
                "INSERT INTO alerts_sent(stack_id, code, at) VALUES (?1, ?2, ?3)
                 ON CONFLICT(stack_id, code) DO UPDATE SET at = excluded.at",
                params![stack_id, code, at],
            ),
            None => conn.execute(
                "DELETE FROM alerts_sent WHERE stack_id = ?1 AND code = ?2",
                params![stack_id, code],
            ),
        }
        .map_err(|e| self.err(e))?;
        Ok(())
    }
}

impl Catalog {
    /// For each component a stack's successful backups hold, when it was last backed up
    /// (Unix seconds), by name.
    ///
    /// # Errors
    /// When SQLite fails.
    pub fn component_freshness(&self, stack_id: i64) -> Result<Vec<(String, i64)>, CatalogError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT s.component, MAX(b.started) FROM backup_sizes s
                 JOIN backups b ON b.id = s.backup_id
                 WHERE s.stack_id = ?1 GROUP BY s.component ORDER BY s.component",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![stack_id], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(Iterator::collect)
            .map_err(|e| self.err(e));
        rows
    }
}
