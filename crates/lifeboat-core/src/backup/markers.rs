//! Who is writing to a destination, across processes and machines: a backup and a prune
//! each hold a marker file in `_locks/` while they work, locked with `flock` for as long as
//! the process lives. A prune deletes pieces only when no backup holds a marker; a backup
//! starts writing only when no prune does. Each takes its own marker before looking for
//! the other's, so of two that start together at least one sees the other: a prune that
//! sees a backup deletes no pieces, and a backup that sees a prune waits for it.
//!
//! A marker is renamed into place already locked, so one that can be locked belongs to a
//! process that died (kill -9, power loss) and is removed by whoever finds it. Where the
//! file system cannot lock, a marker counts as live for a day after it was last written.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The destination's folder of markers (no compose project can be called this).
pub const DIR: &str = "_locks";

/// How long a marker that cannot be tested by its lock counts as live.
const UNLOCKABLE_LIVE: Duration = Duration::from_secs(24 * 3600);

/// What holds a marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A backup, which may refer to any piece already stored.
    Backup,
    /// A prune, which may delete pieces no snapshot refers to.
    Prune,
}

impl Kind {
    fn prefix(self) -> &'static str {
        match self {
            Self::Backup => "backup-",
            Self::Prune => "prune-",
        }
    }
}

/// A marker held until dropped.
#[derive(Debug)]
pub struct Marker {
    path: PathBuf,
    _file: File,
}

impl Marker {
    /// Takes a marker of `kind` in `dest`.
    ///
    /// # Errors
    /// When `_locks/` cannot be written.
    pub fn take(dest: &Path, kind: Kind) -> io::Result<Self> {
        let dir = dest.join(DIR);
        std::fs::create_dir_all(&dir)?;
        let mut nonce = [0u8; 8];
        getrandom::fill(&mut nonce).map_err(|e| io::Error::other(e.to_string()))?;
        let name = format!(
            "{}{}-{}",
            kind.prefix(),
            std::process::id(),
            crate::archive::hex(&nonce)
        );
        let tmp = dir.join(format!(".{name}.tmp"));
        let file = File::create(&tmp)?;
        // Locked before it is visible: a marker anyone can lock is a dead one.
        let _ = file.try_lock();
        let path = dir.join(&name);
        std::fs::rename(&tmp, &path)?;
        Ok(Self { path, _file: file })
    }
}

impl Drop for Marker {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Markers of `kind` in `dest` held by live processes (not `mine`). Dead ones are removed.
pub fn live(dest: &Path, kind: Kind, mine: Option<&Marker>) -> Vec<PathBuf> {
    let dir = dest.join(DIR);
    let mut out = Vec::new();
    for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let path = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with(kind.prefix()) || mine.is_some_and(|m| m.path == path) {
            continue;
        }
        let Ok(file) = File::open(&path) else {
            continue; // Gone meanwhile.
        };
        match file.try_lock() {
            Ok(()) => {
                let _ = std::fs::remove_file(&path);
            }
            Err(std::fs::TryLockError::WouldBlock) => out.push(path),
            Err(std::fs::TryLockError::Error(_)) => {
                let young = e
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_none_or(|age| age < UNLOCKABLE_LIVE);
                if young {
                    out.push(path);
                } else {
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
    }
    out
}

/// Temporary marker files of a process that died between creating and renaming one.
pub fn clean_leftovers(dest: &Path) {
    for e in std::fs::read_dir(dest.join(DIR))
        .into_iter()
        .flatten()
        .flatten()
    {
        let name = e.file_name().to_string_lossy().into_owned();
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > Duration::from_secs(3600));
        if name.starts_with('.') && name.ends_with(".tmp") && old {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_marker_is_live_and_a_dead_one_goes() {
        let dir = tempfile::tempdir().unwrap();
        let b = Marker::take(dir.path(), Kind::Backup).unwrap();
        assert_eq!(live(dir.path(), Kind::Backup, None).len(), 1);
        assert!(live(dir.path(), Kind::Backup, Some(&b)).is_empty());
        assert!(live(dir.path(), Kind::Prune, None).is_empty());
        // A marker nobody holds: a process that died.
        let dead = dir.path().join(DIR).join("backup-1-00");
        std::fs::write(&dead, b"").unwrap();
        assert_eq!(live(dir.path(), Kind::Backup, None).len(), 1);
        assert!(!dead.exists(), "a dead marker is removed");
        drop(b);
        assert!(live(dir.path(), Kind::Backup, None).is_empty());
    }
}
