//! When each archive of a stack's destination folder was last read whole and matched its
//! manifest (`checked.json` beside `archives/`). A backup reuses an unchanged component's
//! archive only after checking it: its size and first block always, and its whole
//! plaintext when no full read vouched for it within [`FULL_CHECK_EVERY`]. The file lives
//! in the destination, so every machine that writes there shares it; it names archives
//! (hashes of their plaintext, already file names) and times, nothing else.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::dump::DumpError;
use super::manifest::ComponentEntry;
use super::source::Source;
use crate::archive::{self, ArchiveError};

/// What is wrong with a component's archive in the destination (by [`check_for_reuse`] and
/// `verify`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ArchiveProblem {
    /// No file where the manifest says.
    #[error("the archive {} is missing", path.display())]
    Missing {
        /// Where it should be.
        path: PathBuf,
    },
    /// Its size could not be read.
    #[error("{} cannot be read: {source}", path.display())]
    Unreadable {
        /// The archive.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// Its size is not what was written.
    #[error("{}: the archive has {len} bytes where {written} were written (truncated or replaced)", path.display())]
    WrongSize {
        /// The archive.
        path: PathBuf,
        /// Its size now.
        len: u64,
        /// Its size when written.
        written: u64,
    },
    /// It does not decrypt or decompress.
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    /// Its content's checksum or length is not the manifest's.
    #[error("{}: the content does not match the manifest (damaged or replaced)", path.display())]
    Mismatch {
        /// The archive.
        path: PathBuf,
    },
    /// A SQLite database in it fails `PRAGMA integrity_check`.
    #[error("{}: the SQLite database {name} fails its check: {why}", path.display())]
    Sqlite {
        /// The archive.
        path: PathBuf,
        /// The database's name in it.
        name: String,
        /// What SQLite said.
        why: String,
    },
    /// A dump in it is empty or incomplete.
    #[error("{}: the dump {name} fails its check: {source}", path.display())]
    Dump {
        /// The archive.
        path: PathBuf,
        /// The dump's name in it.
        name: String,
        /// What is wrong.
        #[source]
        source: DumpError,
    },
}

/// How long a full read vouches for an archive.
pub const FULL_CHECK_EVERY: i64 = 7 * 24 * 3600;

const FILE: &str = "checked.json";

/// The record of full reads in one stack's destination folder.
#[derive(Debug, Default)]
pub struct Checked {
    path: PathBuf,
    /// Archive file name → when it was last read whole and found to match (Unix seconds).
    at: BTreeMap<String, i64>,
    changed: bool,
}

impl Checked {
    /// The record in `stack_dest` (empty when there is none or it does not parse).
    pub fn load(stack_dest: &Path) -> Self {
        let path = stack_dest.join(FILE);
        let at = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        Self {
            path,
            at,
            changed: false,
        }
    }

    /// Notes that `archive` was read whole (or written) at `now` and matched.
    pub fn record(&mut self, archive: &str, now: i64) {
        self.at.insert(archive.to_owned(), now);
        self.changed = true;
    }

    /// Forgets `archive` (found damaged).
    pub fn forget(&mut self, archive: &str) {
        self.changed |= self.at.remove(archive).is_some();
    }

    fn vouched(&self, archive: &str, now: i64) -> bool {
        self.at
            .get(archive)
            .is_some_and(|t| now - t < FULL_CHECK_EVERY)
    }

    /// Writes the record if it changed (a new file, renamed over the old). A record that
    /// cannot be written only means more full reads later.
    pub fn save(&self) {
        if !self.changed {
            return;
        }
        let Ok(body) = serde_json::to_vec_pretty(&self.at) else {
            return;
        };
        let tmp = self
            .path
            .with_extension(format!("json.{}.tmp", std::process::id()));
        if std::fs::write(&tmp, body).is_ok() && archive::commit(&tmp, &self.path).is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
    }
}

/// What the record calls component `c`'s stored stream: its archive's file name, or for
/// pieces the SHA-256 of its plaintext (equal plaintext is cut into equal pieces).
pub fn record_key(c: &ComponentEntry) -> &str {
    if c.list.is_some() {
        &c.sha256
    } else {
        &c.archive
    }
}

/// Checks the stored stream of component `c` of an earlier snapshot before a new snapshot
/// reuses it: the quick check always, a full read when none vouches for it.
///
/// # Errors
/// What is wrong: missing, the wrong size, not decrypting, or (on a full read) not matching
/// the manifest.
pub fn check_for_reuse(
    source: &Source,
    c: &ComponentEntry,
    identity: &age::x25519::Identity,
    checked: &mut Checked,
    now: i64,
) -> Result<(), ArchiveProblem> {
    // A full read within the week vouches for the content: then each stored file only has
    // to be there with the size written (a stat, no read: cheap on a cold disk).
    if checked.vouched(record_key(c), now) {
        return source.sizes_check(c);
    }
    source.quick_check(c, identity)?;
    let (sha, n) = source.hash(identity)?;
    if !source.stream_ok(c, &sha, n) {
        return Err(ArchiveProblem::Mismatch {
            path: source.path().to_owned(),
        });
    }
    checked.record(record_key(c), now);
    Ok(())
}
