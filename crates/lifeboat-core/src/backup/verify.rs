//! Listing and verifying snapshots in a destination. Quick verification proves that every
//! manifest decrypts and every archive it names is there and opens with the key; deep
//! verification reads every archive to its end and compares the SHA-256 of its plaintext.

pub use crate::destination::stacks_in;
use std::collections::{BTreeSet, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::checked::ArchiveProblem;
use super::manifest::{ComponentEntry, Manifest};
use super::source::Source;
use super::{manifest_paths, stack_dest};
use crate::archive;
use crate::job::Progress;

/// One snapshot, as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct SnapshotSummary {
    /// Its id.
    pub snapshot: String,
    /// The stack.
    pub stack: String,
    /// When it started (Unix seconds).
    #[ts(type = "number")]
    pub started: i64,
    /// How long it took.
    #[ts(type = "number")]
    pub duration_ms: u64,
    /// Component names.
    pub components: Vec<String>,
    /// Plaintext bytes of all components.
    #[ts(type = "number")]
    pub bytes_in: u64,
    /// Bytes this snapshot added to the destination when it was made.
    #[ts(type = "number")]
    pub bytes_new: u64,
    /// Bytes of the stored files it refers to (its size in the destination, shared pieces
    /// included).
    #[ts(type = "number")]
    pub bytes_stored: u64,
    /// Bytes that only it refers to, among every snapshot in the destination: what
    /// deleting it would free.
    #[ts(type = "number")]
    pub bytes_frees: u64,
    /// Warnings it had.
    #[ts(type = "number")]
    pub warnings: u64,
    /// It lacks something it meant to hold (see its manifest's `missing`).
    pub partial: bool,
    /// Its manifest could not be read (truncated, damaged): why. Such a snapshot cannot be
    /// restored; the others are not affected.
    pub damaged: Option<String>,
}

/// Why a destination cannot be listed, verified or pruned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DestinationError {
    /// The folder is not there.
    #[error("{0} does not exist; if it is on a drive, is the drive plugged in and mounted?")]
    Missing(PathBuf),
    /// The folder holds no backups at all.
    #[error(
        "{0} holds no Lifeboat backups; is it the right folder (or the right drive, mounted)?"
    )]
    Empty(PathBuf),
    /// The folder holds backups, but none of this stack.
    #[error("{dest} holds no backups of {stack}; it holds backups of {}", .present.join(", "))]
    NoSuchStack {
        /// The destination.
        dest: PathBuf,
        /// The stack asked for.
        stack: String,
        /// The stacks it does hold.
        present: Vec<String>,
    },
    /// The folder holds several stacks' backups and the operation needs one named.
    #[error(
        "{dest} holds backups of {}; say which with --stack NAME (or --all for every one)",
        .present.join(", ")
    )]
    SeveralStacks {
        /// The destination.
        dest: PathBuf,
        /// The stacks it holds.
        present: Vec<String>,
    },
    /// No manifest could be read: the key is not the one these backups were made with.
    #[error(transparent)]
    Manifest(#[from] super::manifest::ManifestError),
}

/// The stacks in `dest` that an operation on `stack` (or on every stack) reads.
///
/// # Errors
/// When `dest` is missing, holds no backups, or none of `stack`.
pub fn stacks_to_read(dest: &Path, stack: Option<&str>) -> Result<Vec<String>, DestinationError> {
    if !dest.is_dir() {
        return Err(DestinationError::Missing(dest.to_owned()));
    }
    let present = stacks_in(dest);
    if present.is_empty() {
        return Err(DestinationError::Empty(dest.to_owned()));
    }
    match stack {
        None => Ok(present),
        Some(s) if present.iter().any(|p| p == s) => Ok(vec![s.to_owned()]),
        Some(s) => Err(DestinationError::NoSuchStack {
            dest: dest.to_owned(),
            stack: s.to_owned(),
            present,
        }),
    }
}

/// The one stack in `dest`, for an operation that must not touch the others unless told.
///
/// # Errors
/// When `dest` is missing, holds no backups, or holds several stacks.
pub fn the_only_stack(dest: &Path) -> Result<String, DestinationError> {
    let mut present = stacks_to_read(dest, None)?;
    if present.len() > 1 {
        return Err(DestinationError::SeveralStacks {
            dest: dest.to_owned(),
            present,
        });
    }
    Ok(present.remove(0))
}

/// A snapshot's id from its manifest's file name.
pub fn id_of_manifest(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().replace(".manifest.age", ""))
        .unwrap_or_default()
}

/// Every manifest path in `dest` (of `stack`, or of all stacks), oldest first per stack.
pub fn all_manifests(dest: &Path, stack: Option<&str>) -> Vec<(String, PathBuf)> {
    let stacks = match stack {
        Some(s) => vec![s.to_owned()],
        None => stacks_in(dest),
    };
    stacks
        .into_iter()
        .flat_map(|s| {
            manifest_paths(dest, &s)
                .into_iter()
                .map(move |p| (s.clone(), p))
        })
        .collect()
}

/// Lists snapshots, decrypting their manifests. A manifest that cannot be read is listed
/// as damaged, with why; the others are listed as usual.
///
/// # Errors
/// When `dest` holds no backups (of `stack`), or no manifest decrypts with `identity` (the
/// wrong key).
pub fn list(
    dest: &Path,
    stack: Option<&str>,
    identity: &age::x25519::Identity,
) -> Result<Vec<SnapshotSummary>, DestinationError> {
    let mut out = Vec::new();
    let mut first_error = None;
    let mut readable = 0;
    let wanted = stacks_to_read(dest, stack)?;
    // Every stack's manifests, read once: pieces are shared, so what deleting a snapshot
    // frees depends on the other stacks' snapshots too.
    let mut others = Vec::new();
    for s in stacks_in(dest) {
        if !wanted.contains(&s) {
            others.extend(
                manifest_paths(dest, &s)
                    .iter()
                    .filter_map(|p| Manifest::read(p, identity).ok()),
            );
        }
    }
    let mut manifests = Vec::new();
    for s in wanted {
        for p in manifest_paths(dest, &s) {
            match Manifest::read(&p, identity) {
                Ok(m) => {
                    readable += 1;
                    out.push(SnapshotSummary {
                        snapshot: m.snapshot.clone(),
                        stack: m.stack.clone(),
                        started: m.started,
                        duration_ms: m.duration_ms,
                        components: m.components.iter().map(|c| c.name.clone()).collect(),
                        bytes_in: m.components.iter().map(|c| c.bytes_in).sum(),
                        bytes_new: m
                            .components
                            .iter()
                            .map(|c| match c.list {
                                Some(_) => c.bytes_new,
                                None if !c.reused => c.bytes_stored,
                                None => 0,
                            })
                            .sum(),
                        bytes_stored: 0,
                        bytes_frees: 0,
                        warnings: m.warnings.len() as u64,
                        partial: m.partial,
                        damaged: None,
                    });
                    manifests.push(m);
                }
                Err(e) => {
                    out.push(SnapshotSummary {
                        snapshot: id_of_manifest(&p),
                        stack: s.clone(),
                        started: 0,
                        duration_ms: 0,
                        components: Vec::new(),
                        bytes_in: 0,
                        bytes_new: 0,
                        bytes_stored: 0,
                        bytes_frees: 0,
                        warnings: 0,
                        partial: false,
                        damaged: Some(e.to_string()),
                    });
                    first_error.get_or_insert(e);
                }
            }
        }
    }
    match first_error {
        Some(e) if readable == 0 => Err(e.into()),
        _ => {
            space(&manifests, &others, &mut out);
            Ok(out)
        }
    }
}

/// What each stored file a snapshot refers to is called, with its size: pieces by name
/// (shared across stacks), a format-1 archive by its stack and name.
fn stored_files(m: &Manifest) -> HashMap<String, u64> {
    let mut out = HashMap::new();
    for c in &m.components {
        if c.list.is_some() {
            for (name, _, stored) in &c.pieces {
                out.insert(name.clone(), *stored);
            }
        } else {
            out.insert(format!("{}/{}", m.stack, c.archive), c.bytes_stored);
        }
    }
    out
}

/// Fills in each listed snapshot's size and what deleting it frees, counting references
/// from the listed snapshots' manifests and the `others` in the destination.
fn space(listed_manifests: &[Manifest], others: &[Manifest], listed: &mut [SnapshotSummary]) {
    let mut refs: HashMap<String, u32> = HashMap::new();
    let mut files: HashMap<(String, String), HashMap<String, u64>> = HashMap::new();
    for m in listed_manifests.iter().chain(others) {
        let f = stored_files(m);
        for k in f.keys() {
            *refs.entry(k.clone()).or_default() += 1;
        }
        files.insert((m.stack.clone(), m.snapshot.clone()), f);
    }
    for s in listed.iter_mut() {
        let Some(f) = files.get(&(s.stack.clone(), s.snapshot.clone())) else {
            continue;
        };
        s.bytes_stored = f.values().sum();
        s.bytes_frees = f
            .iter()
            .filter(|(k, _)| refs.get(*k) == Some(&1))
            .map(|(_, v)| v)
            .sum();
    }
}

/// Something verification found wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Problem {
    /// The snapshot (or manifest file name when it did not decrypt).
    pub snapshot: String,
    /// The component, when one.
    pub component: Option<String>,
    /// What is wrong, as a sentence.
    pub message: String,
}

/// What verification checked and found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct VerifyReport {
    /// Snapshots checked.
    #[ts(type = "number")]
    pub snapshots: u64,
    /// Archives checked.
    #[ts(type = "number")]
    pub archives: u64,
    /// Plaintext bytes read (deep only).
    #[ts(type = "number")]
    pub bytes_read: u64,
    /// Every archive was read to its end.
    pub deep: bool,
    /// What is wrong; empty when everything is fine.
    pub problems: Vec<Problem>,
    /// With `--read-subset`: the share of pieces read whole (percent), and how many.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subset_percent: Option<u32>,
    /// Pieces read whole by the subset check.
    #[serde(default)]
    #[ts(type = "number")]
    pub pieces_read: u64,
}

/// Verifies `snapshot` (or every snapshot) in `dest`.
///
/// # Errors
/// When `dest` is missing or holds no backups.
pub fn verify(
    dest: &Path,
    snapshot: Option<&str>,
    deep: bool,
    identity: &age::x25519::Identity,
    progress: &dyn Progress,
) -> Result<VerifyReport, DestinationError> {
    verify_reading(dest, snapshot, deep, None, identity, progress)
}

/// [`verify`], and with `subset` (1–100) a random `subset` percent of the pieces the
/// snapshots refer to also read whole and checked against their names (restic's
/// `--read-data-subset`): a large destination gets checked a part at a time.
///
/// # Errors
/// When `dest` is missing or holds no backups.
pub fn verify_reading(
    dest: &Path,
    snapshot: Option<&str>,
    deep: bool,
    subset: Option<u32>,
    identity: &age::x25519::Identity,
    progress: &dyn Progress,
) -> Result<VerifyReport, DestinationError> {
    stacks_to_read(dest, None)?;
    let mut v = Verifying {
        dest,
        deep,
        identity,
        progress,
        now: crate::time::unix_now(),
        report: VerifyReport {
            snapshots: 0,
            archives: 0,
            bytes_read: 0,
            deep,
            problems: Vec::new(),
            subset_percent: subset.filter(|_| !deep),
            pieces_read: 0,
        },
        pieces: HashMap::new(),
        checked: HashMap::new(),
        vouched: HashMap::new(),
        users: HashMap::new(),
        snapshots_seen: Vec::new(),
        about: Vec::new(),
    };
    for (stack, path) in all_manifests(dest, None) {
        let file_id = path
            .file_name()
            .map(|n| n.to_string_lossy().replace(".manifest.age", ""))
            .unwrap_or_default();
        if snapshot.is_none_or(|s| s == file_id) {
            v.snapshot(&stack, &path, file_id);
        }
    }
    let mut report = v.finish();
    if snapshot.is_some() && report.snapshots == 0 {
        report.problems.push(Problem {
            snapshot: snapshot.unwrap_or_default().to_owned(),
            component: None,
            message: "no such snapshot in this destination; `lifeboat snapshots` lists them".into(),
        });
    }
    Ok(report)
}

/// A piece's plaintext size, and the (snapshot, component) pairs that refer to it.
type PieceUse = (u64, Vec<(String, String)>);

/// A verification under way: what it found, and what it knows about the archives so far.
struct Verifying<'a> {
    dest: &'a Path,
    deep: bool,
    identity: &'a age::x25519::Identity,
    progress: &'a dyn Progress,
    now: i64,
    report: VerifyReport,
    /// Each stored stream's outcome, checked once however many snapshots share it.
    checked: HashMap<String, Option<String>>,
    /// Full reads vouch for archives, so the next backup need not read them again.
    vouched: HashMap<String, super::checked::Checked>,
    /// Which snapshots use each stored stream.
    users: HashMap<String, Vec<String>>,
    snapshots_seen: Vec<String>,
    /// Which stored stream each problem is about (none for an unreadable manifest or a
    /// snapshot's own piece list).
    about: Vec<Option<String>>,
    /// Every piece the checked snapshots refer to: its plaintext size and who uses it.
    pieces: HashMap<String, PieceUse>,
}

impl Verifying<'_> {
    /// One snapshot: its manifest, then each component's archive.
    fn snapshot(&mut self, stack: &str, path: &Path, file_id: String) {
        self.report.snapshots += 1;
        let m = match Manifest::read(path, self.identity) {
            Ok(m) => m,
            Err(e) => {
                self.report.problems.push(Problem {
                    snapshot: file_id,
                    component: None,
                    message: format!(
                        "{e}; this snapshot cannot be restored, the others are not affected"
                    ),
                });
                self.about.push(None);
                return;
            }
        };
        self.snapshots_seen.push(m.snapshot.clone());
        for c in &m.components {
            self.component(stack, &m.snapshot, c);
        }
    }

    /// One component's stored stream, checked the first time a snapshot names it; a piece
    /// list, which is the snapshot's own, every time.
    fn component(&mut self, stack: &str, snapshot: &str, c: &ComponentEntry) {
        let source = Source::of(c, self.dest, stack);
        let key = match &source {
            Source::Archive(p) => p.display().to_string(),
            Source::Pieces { .. } => format!("pieces of {}", c.sha256),
        };
        self.users
            .entry(key.clone())
            .or_default()
            .push(snapshot.to_owned());
        self.progress.phase(&format!("{snapshot} {}", c.name));
        for (name, plain, _) in &c.pieces {
            self.pieces
                .entry(name.clone())
                .or_insert_with(|| (*plain, Vec::new()))
                .1
                .push((snapshot.to_owned(), c.name.clone()));
        }
        if let Err(e) = source.check_list(self.identity) {
            self.report.problems.push(Problem {
                snapshot: snapshot.to_owned(),
                component: Some(c.name.clone()),
                message: format!(
                    "{e}; a restore with stock tools would not read what the manifest holds"
                ),
            });
            self.about.push(None);
        }
        let outcome = match self.checked.get(&key) {
            Some(o) => o.clone(),
            None => {
                let o = self.check(stack, &source, c);
                self.checked.insert(key.clone(), o.clone());
                o
            }
        };
        if let Some(message) = outcome {
            self.report.problems.push(Problem {
                snapshot: snapshot.to_owned(),
                component: Some(c.name.clone()),
                message,
            });
            self.about.push(Some(key));
        }
        self.progress
            .advance(1, if self.deep { c.bytes_in } else { 0 });
    }

    /// Checks a stored stream and records what a full read vouches for.
    fn check(&mut self, stack: &str, source: &Source, c: &ComponentEntry) -> Option<String> {
        self.report.archives += 1;
        let r = check_archive(
            source,
            c,
            self.deep,
            self.identity,
            &mut self.report.bytes_read,
        )
        .err()
        .map(|e| e.to_string());
        let dest = self.dest;
        let record = self
            .vouched
            .entry(stack.to_owned())
            .or_insert_with(|| super::checked::Checked::load(&stack_dest(dest, stack)));
        match (&r, self.deep) {
            (None, true) => record.record(super::checked::record_key(c), self.now),
            (Some(_), _) => record.forget(super::checked::record_key(c)),
            (None, false) => {}
        }
        r
    }

    /// Saves what was vouched for, and says of each damaged archive which snapshots it
    /// affects: archives are shared, so "restore another snapshot" must be advice that can
    /// be followed.
    /// Reads a random `percent` of the pieces seen, each checked against its name.
    fn read_subset(&mut self, percent: u32) {
        let mut nonce = [0u8; 16];
        let _ = getrandom::fill(&mut nonce);
        let key = crate::archive::pieces::PieceKey::of(self.identity);
        let mut chosen: Vec<(&String, &PieceUse)> = self
            .pieces
            .iter()
            .filter(|(name, _)| {
                let mut h = blake3::Hasher::new();
                h.update(&nonce);
                h.update(name.as_bytes());
                let draw =
                    u32::from_le_bytes(h.finalize().as_bytes()[..4].try_into().unwrap_or_default());
                u64::from(draw % 10_000) < u64::from(percent.min(100)) * 100
            })
            .collect();
        chosen.sort_by_key(|(n, _)| n.as_str());
        let total: u64 = chosen.iter().map(|(_, (plain, _))| plain).sum();
        self.progress.phase(&format!(
            "reading {} of {} pieces ({} MiB)",
            chosen.len(),
            self.pieces.len(),
            total >> 20
        ));
        for (name, (plain, users)) in chosen {
            let got = crate::archive::pieces::read_piece(
                self.dest,
                &key,
                self.identity,
                name,
                Some(*plain),
            );
            self.report.pieces_read += 1;
            self.report.bytes_read += plain;
            self.progress.advance(1, *plain);
            if let Err(fault) = got {
                let snapshots: BTreeSet<&str> = users.iter().map(|(s, _)| s.as_str()).collect();
                for (snapshot, component) in users {
                    self.report.problems.push(Problem {
                        snapshot: snapshot.clone(),
                        component: Some(component.clone()),
                        message: format!(
                            "{fault}; snapshots that use it: {}. The next backup writes it again \
                             while the data it holds is unchanged.",
                            snapshots.iter().copied().collect::<Vec<_>>().join(", ")
                        ),
                    });
                    self.about.push(None);
                }
            }
        }
    }

    fn finish(mut self) -> VerifyReport {
        if let Some(percent) = self.report.subset_percent {
            self.read_subset(percent);
        }
        for r in self.vouched.values() {
            r.save();
        }
        for (p, archive) in self.report.problems.iter_mut().zip(&self.about) {
            let Some(archive) = archive else { continue };
            let using = self.users.get(archive).cloned().unwrap_or_default();
            let spared: Vec<&str> = self
                .snapshots_seen
                .iter()
                .filter(|s| !using.contains(s))
                .map(String::as_str)
                .collect();
            p.message = format!(
                "{}. Snapshots that use it: {}. {} The next backup writes it again \
                 while the data it holds is unchanged.",
                p.message.trim_end_matches('.'),
                using.join(", "),
                if spared.is_empty() {
                    "Every snapshot checked uses it.".to_owned()
                } else {
                    format!("Snapshots without it: {}.", spared.join(", "))
                }
            );
        }
        self.report
    }
}

fn check_archive(
    source: &Source,
    c: &ComponentEntry,
    deep: bool,
    identity: &age::x25519::Identity,
    bytes_read: &mut u64,
) -> Result<(), ArchiveProblem> {
    if deep {
        let (sha, n) = deep_check(source, c, identity)?;
        *bytes_read += n;
        if !source.stream_ok(c, &sha, n) {
            return Err(ArchiveProblem::Mismatch {
                path: source.path().to_owned(),
            });
        }
        Ok(())
    } else {
        source.quick_check(c, identity)
    }
}

/// SQLite copies larger than this are checked by their header only (the check holds the
/// database in memory, so that nothing decrypted is written to disk).
const SQLITE_CHECK_MAX: u64 = 1 << 30;

/// Reads a whole archive: its SHA-256 and size, `PRAGMA integrity_check` of every SQLite
/// database it captured, and the completeness check of every dump.
fn deep_check(
    source: &Source,
    c: &ComponentEntry,
    identity: &age::x25519::Identity,
) -> Result<(String, u64), ArchiveProblem> {
    let path = source.path();
    if let Source::Archive(p) = source {
        if !p.is_file() {
            return Err(ArchiveProblem::Missing { path: p.clone() });
        }
    }
    let damaged = |e: std::io::Error| ArchiveProblem::from(archive::damaged(path, &e));
    let reader = source.open(identity)?;
    let mut tar = tar::Archive::new(archive::Hashing::new(reader));
    for entry in tar.entries().map_err(damaged)? {
        let mut entry = entry.map_err(damaged)?;
        let name = entry
            .path()
            .map_err(damaged)?
            .to_string_lossy()
            .into_owned();
        let size = entry.size();
        if c.sqlite.contains(&name) && size <= SQLITE_CHECK_MAX {
            check_sqlite(&mut entry, size).map_err(|e| match e {
                SqliteCheck::Io(e) => damaged(e),
                SqliteCheck::Bad(why) => ArchiveProblem::Sqlite {
                    path: path.to_owned(),
                    name: name.clone(),
                    why,
                },
            })?;
        } else if c.dumps.contains(&name) {
            let (head, tail) = head_and_tail(&mut entry, size).map_err(damaged)?;
            if let Some(recipe) = super::dump::DumpRecipe::for_recipe(c.recipe) {
                recipe
                    .check(&head, &tail, size)
                    .map_err(|source| ArchiveProblem::Dump {
                        path: path.to_owned(),
                        name: name.clone(),
                        source,
                    })?;
            }
        } else {
            std::io::copy(&mut entry, &mut std::io::sink()).map_err(damaged)?;
        }
    }
    let mut hashing = tar.into_inner();
    std::io::copy(&mut hashing, &mut std::io::sink()).map_err(damaged)?;
    let (sha, n, _) = hashing.into_parts();
    Ok((sha, n))
}

/// A dump's first 4 KiB and last 4–8 KiB (the whole of a short one for both), reading it
/// to its end.
fn head_and_tail(entry: &mut impl Read, size: u64) -> std::io::Result<(Vec<u8>, Vec<u8>)> {
    let mut head = vec![0u8; 4096.min(size as usize)];
    entry.read_exact(&mut head)?;
    let mut tail: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = entry.read(&mut buf)?;
        if n == 0 {
            break;
        }
        tail.extend_from_slice(&buf[..n]);
        if tail.len() > 8192 {
            tail.drain(..tail.len() - 4096);
        }
    }
    if tail.is_empty() {
        tail.clone_from(&head);
    }
    Ok((head, tail))
}

enum SqliteCheck {
    Io(std::io::Error),
    Bad(String),
}

/// Loads a SQLite database from the archive into memory and runs `PRAGMA integrity_check`.
fn check_sqlite(entry: &mut impl Read, size: u64) -> Result<(), SqliteCheck> {
    let mut conn =
        rusqlite::Connection::open_in_memory().map_err(|e| SqliteCheck::Bad(e.to_string()))?;
    // A copy of a WAL database says so in its header (bytes 18 and 19 = 2); memory databases
    // cannot use WAL, so read it as a rollback-journal database (1), which it is as a copy.
    let reader = PatchWal {
        inner: entry,
        pos: 0,
    };
    conn.deserialize_read_exact(rusqlite::MAIN_DB, reader, size as usize, true)
        .map_err(|e| match e {
            rusqlite::Error::ToSqlConversionFailure(e) => SqliteCheck::Io(std::io::Error::other(e)),
            other => SqliteCheck::Bad(other.to_string()),
        })?;
    let result: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(|e| SqliteCheck::Bad(e.to_string()))?;
    if result == "ok" {
        Ok(())
    } else {
        Err(SqliteCheck::Bad(result))
    }
}

struct PatchWal<R> {
    inner: R,
    pos: u64,
}

impl<R: Read> Read for PatchWal<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        for (i, b) in buf[..n].iter_mut().enumerate() {
            let at = self.pos + i as u64;
            if (at == 18 || at == 19) && *b == 2 {
                *b = 1;
            }
        }
        self.pos += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db_bytes(wal: bool) -> Vec<u8> {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("a.db");
        let c = rusqlite::Connection::open(&p).unwrap();
        if wal {
            let _: String = c
                .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
                .unwrap();
        }
        c.execute_batch(
            "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); CREATE INDEX tv ON t(v);
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 3000)
             INSERT INTO t SELECT i, printf('value %d', i) FROM n;",
        )
        .unwrap();
        if wal {
            let _: i64 = c
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
                .unwrap();
        }
        drop(c);
        std::fs::read(&p).unwrap()
    }

    #[test]
    fn sqlite_check_passes_good_copies_including_wal_ones() {
        for wal in [false, true] {
            let b = db_bytes(wal);
            assert_eq!(b[18], if wal { 2 } else { 1 });
            assert!(
                check_sqlite(&mut &b[..], b.len() as u64).is_ok(),
                "wal={wal}"
            );
        }
    }

    #[test]
    fn sqlite_check_fails_a_damaged_database() {
        let mut b = db_bytes(false);
        // Scribble over the middle of the table's pages, leaving the header intact.
        let page = 4096;
        for x in &mut b[3 * page + 100..3 * page + 2000] {
            *x = 0xA5;
        }
        match check_sqlite(&mut &b[..], b.len() as u64) {
            Err(SqliteCheck::Bad(why)) => assert!(!why.is_empty()),
            Err(SqliteCheck::Io(e)) => panic!("io error instead of a failed check: {e}"),
            Ok(()) => panic!("a damaged database passed the check"),
        }
    }
}
