//! Skipping large files that did not change: a component's cached files (see
//! [`crate::catalog::CachedFile`]) whose pieces are all still in the destination, looked
//! up while its stream is written; a file whose device, inode, size, modification and
//! change times are as cached gets its cached pieces in the stream instead of being read.
//! Files read whole this run become the next run's cache, unless they changed so close to
//! the backup's start that equal times would not prove equal content.

use std::collections::HashMap;
use std::fs::Metadata;
use std::path::Path;

use crate::archive::pieces::{self, Piece};
use crate::catalog::CachedFile;

/// A component's file cache during one backup.
#[derive(Debug, Default)]
pub struct FileCache {
    known: HashMap<Vec<u8>, CachedFile>,
    /// Files whose times reach this (nanoseconds since the epoch) are not cached.
    racy_from: i64,
    /// Cached files this run used.
    kept: Vec<CachedFile>,
    /// Large files read whole this run, with where their content ended in the stream.
    read: Vec<(CachedFile, u64)>,
    /// Bytes not read thanks to the cache.
    pub bytes_skipped: u64,
}

/// Bytes a file of `len` bytes takes in a tar stream after its header: its content
/// padded to 512-byte blocks.
pub fn padded(len: u64) -> u64 {
    len.div_ceil(512) * 512
}

impl FileCache {
    /// The cache of a backup that started at `started` (Unix seconds), from what the
    /// catalog holds: entries whose pieces are not all in `dest` with their recorded sizes
    /// (pruned, damaged away) are dropped.
    pub fn new(cached: Vec<CachedFile>, dest: &Path, started: i64) -> Self {
        let there = |(name, _, stored): &(String, u64, u64)| {
            pieces::is_piece_name(name)
                && std::fs::metadata(dest.join(pieces::rel_path(name)))
                    .is_ok_and(|m| m.len() == *stored)
        };
        let known = cached
            .into_iter()
            .filter(|f| {
                !f.pieces.is_empty()
                    && f.sha256.len() == 64
                    && f.pieces.iter().map(|p| p.1).sum::<u64>() == padded(f.size)
                    && f.pieces.iter().all(there)
            })
            .map(|f| (f.path.clone(), f))
            .collect();
        Self {
            known,
            // Timestamps within two seconds of the start may not show a later write.
            racy_from: started.saturating_sub(2).saturating_mul(1_000_000_000),
            ..Self::default()
        }
    }

    /// The stored pieces of `raw`'s content, and its SHA-256, when it is as cached.
    pub fn hit(&mut self, raw: &Path, meta: &Metadata) -> Option<(Vec<Piece>, String)> {
        let now = identify(raw, meta)?;
        let cached = self.known.get(&now.path)?;
        let same = (
            cached.dev,
            cached.ino,
            cached.size,
            cached.mtime_ns,
            cached.ctime_ns,
        ) == (now.dev, now.ino, now.size, now.mtime_ns, now.ctime_ns);
        if !same {
            return None;
        }
        let cached = self.known.remove(&now.path)?;
        self.bytes_skipped += cached.size;
        let out = cached
            .pieces
            .iter()
            .map(|(name, plain, stored)| Piece {
                name: name.clone(),
                plain: *plain,
                stored: *stored,
                new: false,
            })
            .collect();
        let sha = cached.sha256.clone();
        self.kept.push(cached);
        Some((out, sha))
    }

    /// Notes that `raw` was read whole and its content (with padding) ended at stream
    /// offset `end`; `sha256` is its content's.
    pub fn read_whole(&mut self, raw: &Path, meta: &Metadata, end: u64, sha256: &str) {
        // A write after this read changes the modification time, unless it falls in the
        // same tick: recent files are read again next time.
        if let Some(mut f) = identify(raw, meta).filter(|f| f.mtime_ns < self.racy_from) {
            sha256.clone_into(&mut f.sha256);
            self.read.push((f, end));
        }
    }

    /// The next run's cache: the cached files used, and the files read whole with the
    /// pieces (of the finished stream) their content went into.
    pub fn into_entries(self, stream: &[Piece]) -> Vec<CachedFile> {
        let mut starts = HashMap::with_capacity(stream.len());
        let mut at = 0u64;
        for (i, p) in stream.iter().enumerate() {
            starts.insert(at, i);
            at += p.plain;
        }
        let mut out = self.kept;
        for (mut f, end) in self.read {
            let Some(&first) = end.checked_sub(padded(f.size)).and_then(|s| starts.get(&s)) else {
                continue;
            };
            let mut sum = 0;
            for p in &stream[first..] {
                if sum >= padded(f.size) {
                    break;
                }
                sum += p.plain;
                f.pieces.push((p.name.clone(), p.plain, p.stored));
            }
            if sum == padded(f.size) {
                out.push(f);
            }
        }
        out
    }
}

#[cfg(unix)]
fn identify(raw: &Path, meta: &Metadata) -> Option<CachedFile> {
    use std::os::unix::fs::MetadataExt;
    let ns = |s: i64, n: i64| s.checked_mul(1_000_000_000)?.checked_add(n);
    Some(CachedFile {
        path: raw.as_os_str().as_encoded_bytes().to_vec(),
        dev: meta.dev(),
        ino: meta.ino(),
        size: meta.len(),
        mtime_ns: ns(meta.mtime(), meta.mtime_nsec())?,
        ctime_ns: ns(meta.ctime(), meta.ctime_nsec())?,
        pieces: Vec::new(),
        sha256: String::new(),
    })
}

#[cfg(not(unix))]
fn identify(_raw: &Path, _meta: &Metadata) -> Option<CachedFile> {
    None
}
