//! The restore journal: what a restore is doing, written before each step, so that a restore
//! killed at any moment can be rolled back (and a finished one undone) by the next start.
//!
//! It lives in the target's `.lifeboat/restore/ID/journal.json` and holds paths only, never
//! file contents or values. The catalog remembers where the last one is.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Where a restore is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "kebab-case")]
#[ts(rename = "RestoreState")]
pub enum State {
    /// Extracting into staging; nothing in place has changed.
    Staging,
    /// Moving staged content into place.
    Swapping,
    /// Loading database dumps.
    Loading,
    /// Finished; the old content waits in the restore folder for an undo.
    Done,
    /// Failed or interrupted, and put back as it was.
    RolledBack,
    /// Undone after it finished.
    Undone,
}

/// One path the restore replaces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slot {
    /// The archive prefix it comes from.
    pub prefix: String,
    /// Where it goes.
    pub target: PathBuf,
    /// The new content, extracted.
    pub staged: PathBuf,
    /// Where the old content is moved to.
    pub aside: PathBuf,
    /// Whether the target existed before the restore.
    pub existed: bool,
    /// A folder made for this slot's staging beside its target (on another filesystem than
    /// the restore folder), removed whole with the restore; `None` when staging lives in
    /// the restore folder or as the target's siblings.
    #[serde(default)]
    pub base: Option<PathBuf>,
    /// A named volume this process cannot write directly (not root, or Docker Desktop):
    /// replaced through a helper container, its old content saved as the tar `aside`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub through: Option<ThroughEngine>,
}

/// A named volume reached through a helper container of the engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThroughEngine {
    /// The volume's name in Docker.
    pub volume: String,
    /// The image the helper runs: the service's own, so nothing is pulled.
    pub image: String,
}

/// Whether `p` is something a restore made, and so may be removed: inside a `.lifeboat`
/// folder, or named `.lifeboat-restore-…`. Guards every removal of restore leftovers.
pub fn is_ours(p: &Path) -> bool {
    p.components().any(|c| c.as_os_str() == ".lifeboat")
        || p.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with(".lifeboat-restore-"))
}

/// Removes a restore's leftover (a file or a whole folder), if [`is_ours`] says it is one.
pub fn remove_leftover(p: &Path) {
    if !is_ours(p) {
        tracing::error!(path = %p.display(), "refusing to remove a path a restore did not make");
        return;
    }
    match std::fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => {
            let _ = std::fs::remove_dir_all(p);
        }
        Ok(_) => {
            let _ = std::fs::remove_file(p);
        }
        Err(_) => {}
    }
}

/// A database dump loaded into a running service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Load {
    /// The service.
    pub service: String,
    /// Its container.
    pub container: String,
    /// The dump to load (inside the restore folder).
    pub dump: PathBuf,
    /// The database's content before the load, encrypted to the stack's key.
    pub safety: Option<PathBuf>,
    /// The load started, so the database may hold part of the dump.
    pub started: bool,
}

/// The journal of one restore.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journal {
    /// The restore's id.
    pub id: String,
    /// The snapshot restored.
    pub snapshot: String,
    /// The stack.
    pub stack: String,
    /// The target folder.
    pub target: PathBuf,
    /// The restore folder (`target/.lifeboat/restore/ID`).
    pub dir: PathBuf,
    /// Where it is.
    pub state: State,
    /// Paths replaced, in the order they are swapped.
    pub slots: Vec<Slot>,
    /// Dumps loaded.
    pub loads: Vec<Load>,
    /// Components restored.
    pub components: Vec<String>,
    /// Services stopped for it (in stop order).
    pub services: Vec<String>,
    /// When it started (Unix seconds).
    pub started: i64,
}

impl Journal {
    /// The journal file.
    pub fn file(dir: &Path) -> PathBuf {
        dir.join("journal.json")
    }

    /// Writes the journal atomically and durably.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn save(&self) -> std::io::Result<()> {
        let path = Self::file(&self.dir);
        let tmp = self.dir.join("journal.json.tmp");
        let json = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&json)?;
            f.sync_all()?;
        }
        crate::archive::commit(&tmp, &path)
    }

    /// Whether it stopped before it finished or was rolled back (a crash).
    pub fn is_unfinished(&self) -> bool {
        matches!(
            self.state,
            State::Staging | State::Swapping | State::Loading
        )
    }

    /// Reads a journal.
    ///
    /// # Errors
    /// When the file is missing or not a journal.
    pub fn load(dir: &Path) -> std::io::Result<Self> {
        let bytes = std::fs::read(Self::file(dir))?;
        serde_json::from_slice(&bytes).map_err(std::io::Error::other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_restore_leftovers_count_as_ours() {
        assert!(is_ours(Path::new("/srv/app/.lifeboat/restore/1/old/0")));
        assert!(is_ours(Path::new("/srv/app/.lifeboat-restore-1-old-0")));
        assert!(is_ours(Path::new("/srv/app/data/.lifeboat-restore-1")));
        assert!(!is_ours(Path::new("/srv/app")));
        assert!(!is_ours(Path::new("/srv")));
        assert!(!is_ours(Path::new("/srv/app/data/pgdata")));
        // Nothing is removed that is not one.
        let t = tempfile::tempdir().unwrap();
        let keep = t.path().join("keep");
        std::fs::create_dir(&keep).unwrap();
        remove_leftover(&keep);
        assert!(keep.is_dir());
        let ours = t.path().join(".lifeboat-restore-x-old-0");
        std::fs::create_dir(&ours).unwrap();
        remove_leftover(&ours);
        assert!(!ours.exists());
    }
}
