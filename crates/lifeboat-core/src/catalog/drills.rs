//! Drills: when each ran, on which snapshot, where its sandbox was (so that a drill killed
//! mid-way has its sandbox removed by the next start, by that recorded path only), and what
//! it found (its report as JSON: names, counts and sentences, never a value of a file).

use rusqlite::{params, OptionalExtension};

use super::{Catalog, CatalogError};

/// One drill as the catalog holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrillRecord {
    /// Its id.
    pub id: i64,
    /// The compose project name.
    pub stack: String,
    /// The destination it read.
    pub destination: String,
    /// The snapshot, once chosen.
    pub snapshot: Option<String>,
    /// When it started (Unix seconds).
    pub started: i64,
    /// Its sandbox folder.
    pub sandbox: String,
    /// The process that ran it.
    pub pid: u32,
    /// When it ended, if it did.
    pub finished: Option<i64>,
    /// Whether it proved the snapshot restorable.
    pub ok: Option<bool>,
    /// Its report (JSON), once it ended.
    pub report: Option<String>,
}

const COLUMNS: &str =
    "id, stack, destination, snapshot, started, sandbox, pid, finished, ok, report";

fn record(r: &rusqlite::Row<'_>) -> rusqlite::Result<DrillRecord> {
    Ok(DrillRecord {
        id: r.get(0)?,
        stack: r.get(1)?,
        destination: r.get(2)?,
        snapshot: r.get(3)?,
        started: r.get(4)?,
        sandbox: r.get(5)?,
        pid: r.get(6)?,
        finished: r.get(7)?,
        ok: r.get(8)?,
        report: r.get(9)?,
    })
}

impl Catalog {
    /// Records a drill that starts now; returns its id.
    ///
    /// # Errors
    /// When SQLite fails.
    pub fn drill_started(
        &self,
        stack: &str,
        destination: &str,
        snapshot: &str,
        sandbox: &str,
    ) -> Result<i64, CatalogError> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO drills (stack, destination, snapshot, started, sandbox, pid)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                stack,
                destination,
                snapshot,
                super::now(),
                sandbox,
                std::process::id()
            ],
        )
        .map_err(|e| self.err(e))?;
        Ok(conn.last_insert_rowid())
    }

    /// Records how drill `id` ended: `ok` is `None` when it was cancelled.
    ///
    /// # Errors
    /// When SQLite fails.
    pub fn drill_finished(
        &self,
        id: i64,
        ok: Option<bool>,
        report: &str,
    ) -> Result<(), CatalogError> {
        self.conn()
            .execute(
                "UPDATE drills SET finished = ?2, ok = ?3, report = ?4 WHERE id = ?1",
                params![id, super::now(), ok, report],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Drills that never recorded an end (running now, or killed).
    ///
    /// # Errors
    /// When SQLite fails.
    pub fn unfinished_drills(&self) -> Result<Vec<DrillRecord>, CatalogError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {COLUMNS} FROM drills WHERE finished IS NULL ORDER BY id"
            ))
            .map_err(|e| self.err(e))?;
        let rows = stmt.query_map([], record).map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// The last `limit` drills of `stack` that ended, newest first.
    ///
    /// # Errors
    /// When SQLite fails.
    pub fn drills(&self, stack: &str, limit: usize) -> Result<Vec<DrillRecord>, CatalogError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {COLUMNS} FROM drills WHERE stack = ?1 AND finished IS NOT NULL
                 ORDER BY started DESC, id DESC LIMIT ?2"
            ))
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![stack, limit as i64], record)
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// How many drills of `stack` ran to an end (passed or failed; not cancelled ones).
    ///
    /// # Errors
    /// When SQLite fails.
    pub fn drill_count(&self, stack: &str) -> Result<usize, CatalogError> {
        self.conn()
            .query_row(
                "SELECT COUNT(*) FROM drills WHERE stack = ?1 AND ok IS NOT NULL",
                params![stack],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n.max(0) as usize)
            .map_err(|e| self.err(e))
    }

    /// The last drill of `stack` that proved a snapshot restorable.
    ///
    /// # Errors
    /// When SQLite fails.
    pub fn last_proven(&self, stack: &str) -> Result<Option<DrillRecord>, CatalogError> {
        let conn = self.conn();
        conn.query_row(
            &format!(
                "SELECT {COLUMNS} FROM drills WHERE stack = ?1 AND ok = 1
                 ORDER BY finished DESC, id DESC LIMIT 1"
            ),
            params![stack],
            record,
        )
        .optional()
        .map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_drill_is_unfinished_until_it_records_its_end() {
        let dir = tempfile::tempdir().unwrap();
        let cat = Catalog::open(&dir.path().join("c.sqlite3")).unwrap();
        assert!(cat.last_proven("app").unwrap().is_none());
        let a = cat
            .drill_started("app", "/mnt/usb", "S1", "/tmp/lifeboat-drill-1")
            .unwrap();
        let b = cat
            .drill_started("app", "/mnt/usb", "S2", "/tmp/lifeboat-drill-2")
            .unwrap();
        let unfinished = cat.unfinished_drills().unwrap();
        assert_eq!(
            unfinished.iter().map(|d| d.id).collect::<Vec<_>>(),
            vec![a, b]
        );
        assert_eq!(unfinished[0].pid, std::process::id());
        let c = cat
            .drill_started("app", "/mnt/usb", "S3", "/tmp/lifeboat-drill-3")
            .unwrap();
        cat.drill_finished(a, Some(true), "{}").unwrap();
        cat.drill_finished(b, Some(false), "{}").unwrap();
        cat.drill_finished(c, None, "{}").unwrap();
        assert!(cat.unfinished_drills().unwrap().is_empty());
        assert_eq!(
            cat.drill_count("app").unwrap(),
            2,
            "the cancelled one is not counted"
        );
        assert_eq!(cat.last_proven("app").unwrap().unwrap().id, a);
        assert_eq!(cat.drills("app", 10).unwrap().len(), 3);
        assert!(cat.last_proven("other").unwrap().is_none());
    }
}
