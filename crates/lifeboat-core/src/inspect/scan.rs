//! Walking a data folder: sizes, file counts, the largest files, and what else inspection
//! wants to notice on the way (SQLite files and their write-ahead logs, `PG_VERSION`,
//! secrets files), in one pass and without following symbolic links.
//!
//! Sizes are apparent sizes of regular files (what `du --apparent-size -s` counts), each
//! hard-linked file once. Folders that cannot be read are reported, never fatal.

use std::collections::{BinaryHeap, HashSet};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::job::{CancelToken, Progress};

/// One file and its size.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SizedFile {
    /// Size in bytes.
    pub bytes: u64,
    /// Where it is.
    pub path: PathBuf,
}

/// What one walk found.
#[derive(Debug, Default, Clone)]
pub struct Scan {
    /// Sum of regular files' sizes.
    pub bytes: u64,
    /// Number of regular files.
    pub files: u64,
    /// The largest files, largest first.
    pub largest: Vec<SizedFile>,
    /// Paths that could not be read, with the reason.
    pub unreadable: Vec<(PathBuf, String)>,
    /// SQLite database files (by their header), with the size of an active `-wal` beside them.
    pub sqlite: Vec<(PathBuf, u64)>,
    /// A `PG_VERSION` file at the top of the walk or one folder down.
    pub pg_version: bool,
    /// Env-style secrets files met on the way (`.env`, `*.env`).
    pub env_files: Vec<PathBuf>,
}

/// The walk was cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cancelled;

/// File name endings that are worth a look for a SQLite header.
const SQLITE_HINTS: [&str; 6] = [".db", ".sqlite", ".sqlite3", ".db3", ".s3db", ".sdb"];

/// Walks `root` (a folder or a single file), keeping the `keep_largest` largest files.
///
/// # Errors
/// Only [`Cancelled`]; unreadable paths are recorded in the result.
pub fn scan(
    root: &Path,
    keep_largest: usize,
    progress: &dyn Progress,
    cancel: &CancelToken,
) -> Result<Scan, Cancelled> {
    let mut out = Scan::default();
    let mut heap: BinaryHeap<std::cmp::Reverse<SizedFile>> = BinaryHeap::new();
    let mut seen_inodes: HashSet<(u64, u64)> = HashSet::new();
    let (mut pending_files, mut pending_bytes) = (0u64, 0u64);

    let meta = match fs::symlink_metadata(root) {
        Ok(m) => m,
        Err(e) => {
            out.unreadable.push((root.to_owned(), reason(&e)));
            return Ok(out);
        }
    };
    if meta.is_file() {
        out.files = 1;
        out.bytes = meta.len();
        heap.push(std::cmp::Reverse(SizedFile {
            bytes: meta.len(),
            path: root.to_owned(),
        }));
        note_file(&mut out, root, meta.len());
        out.largest = heap.into_sorted_vec().into_iter().map(|r| r.0).collect();
        progress.advance(1, meta.len());
        return Ok(out);
    }
    if !meta.is_dir() {
        return Ok(out);
    }

    let mut stack: Vec<(PathBuf, usize)> = vec![(root.to_owned(), 0)];
    while let Some((dir, depth)) = stack.pop() {
        if cancel.is_cancelled() {
            return Err(Cancelled);
        }
        let entries = match crate::longpath::with(&dir, |p| fs::read_dir(p)) {
            Ok(e) => e,
            Err(e) => {
                out.unreadable.push((dir, reason(&e)));
                continue;
            }
        };
        for entry in entries {
            let Ok(entry) = entry else { continue };
            // Named from `dir`, not from the path the folder was opened by (see longpath).
            let path = dir.join(entry.file_name());
            let Ok(ft) = entry.file_type() else { continue };
            if ft.is_dir() {
                stack.push((path, depth + 1));
                continue;
            }
            if !ft.is_file() {
                continue;
            }
            let meta = match entry.metadata() {
                Ok(m) => m,
                Err(e) => {
                    out.unreadable.push((path, reason(&e)));
                    continue;
                }
            };
            if is_extra_link(&meta, &mut seen_inodes) {
                continue;
            }
            let len = meta.len();
            out.files += 1;
            out.bytes += len;
            pending_files += 1;
            pending_bytes += len;
            if keep_largest > 0 {
                if heap.len() < keep_largest {
                    heap.push(std::cmp::Reverse(SizedFile {
                        bytes: len,
                        path: path.clone(),
                    }));
                } else if heap.peek().is_some_and(|min| min.0.bytes < len) {
                    heap.pop();
                    heap.push(std::cmp::Reverse(SizedFile {
                        bytes: len,
                        path: path.clone(),
                    }));
                }
            }
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name == "PG_VERSION" && depth <= 1 {
                out.pg_version = true;
            }
            // SQLite is known by its header, whatever the file's name: a name that hints
            // at one, or a size that is a whole number of pages, is worth a look.
            if SQLITE_HINTS.iter().any(|h| name.ends_with(h))
                || (len >= 512 && len.is_multiple_of(512))
                || name == ".env"
                || name.ends_with(".env")
            {
                note_file(&mut out, &path, len);
            }
            if pending_files >= 2048 {
                progress.advance(pending_files, pending_bytes);
                (pending_files, pending_bytes) = (0, 0);
            }
        }
    }
    progress.advance(pending_files, pending_bytes);
    out.largest = heap.into_sorted_vec().into_iter().map(|r| r.0).collect();
    Ok(out)
}

fn note_file(out: &mut Scan, path: &Path, len: u64) {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if name == ".env" || name.ends_with(".env") {
        out.env_files.push(path.to_owned());
    } else if len >= 100 && is_sqlite(path) {
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        let wal_len = fs::metadata(PathBuf::from(wal))
            .map(|m| m.len())
            .unwrap_or(0);
        out.sqlite.push((path.to_owned(), wal_len));
    }
}

/// Whether the file starts with SQLite's 16-byte header.
pub fn is_sqlite(path: &Path) -> bool {
    let mut header = [0u8; 16];
    crate::longpath::with(path, |p| fs::File::open(p))
        .and_then(|mut f| f.read_exact(&mut header))
        .is_ok()
        && &header == b"SQLite format 3\0"
}

#[cfg(unix)]
fn is_extra_link(meta: &fs::Metadata, seen: &mut HashSet<(u64, u64)>) -> bool {
    use std::os::unix::fs::MetadataExt;
    meta.nlink() > 1 && !seen.insert((meta.dev(), meta.ino()))
}

#[cfg(not(unix))]
fn is_extra_link(_meta: &fs::Metadata, _seen: &mut HashSet<(u64, u64)>) -> bool {
    false
}

fn reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        std::io::ErrorKind::NotFound => "does not exist".into(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::NoProgress;

    #[test]
    fn sizes_largest_hard_links_and_sqlite() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        fs::create_dir_all(root.join("a/b")).unwrap();
        fs::write(root.join("a/one"), vec![1u8; 1000]).unwrap();
        fs::write(root.join("a/b/two"), vec![2u8; 5000]).unwrap();
        fs::write(root.join("three"), vec![3u8; 10]).unwrap();
        fs::hard_link(root.join("a/b/two"), root.join("two-again")).unwrap();
        std::os::unix::fs::symlink(root.join("a/one"), root.join("link")).unwrap();
        let mut db = b"SQLite format 3\0".to_vec();
        db.resize(4096, 0);
        fs::write(root.join("app.db"), &db).unwrap();
        fs::write(root.join("app.db-wal"), vec![0u8; 77]).unwrap();
        fs::write(root.join("PG_VERSION"), b"16\n").unwrap();

        let s = scan(root, 2, &NoProgress, &CancelToken::new()).unwrap();
        assert_eq!(s.files, 6);
        assert_eq!(s.bytes, 1000 + 5000 + 10 + 4096 + 77 + 3);
        assert_eq!(
            s.largest.iter().map(|f| f.bytes).collect::<Vec<_>>(),
            [5000, 4096]
        );
        assert_eq!(s.sqlite, [(root.join("app.db"), 77)]);
        assert!(s.pg_version);

        let cancel = CancelToken::new();
        cancel.cancel();
        assert_eq!(scan(root, 2, &NoProgress, &cancel).unwrap_err(), Cancelled);
        let missing = scan(&root.join("nope"), 2, &NoProgress, &CancelToken::new()).unwrap();
        assert_eq!(missing.unreadable[0].1, "does not exist");
    }
}
