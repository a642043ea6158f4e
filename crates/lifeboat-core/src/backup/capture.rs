//! Capturing a component's files into a tar stream: entries in a stable order, numeric
//! owners, modes and mtimes, symlinks as links, hard links once, sockets and devices skipped
//! with a warning, SQLite databases through the online backup API, and files that change
//! while they are read padded or cut to the size in their header (with a warning) so the tar
//! stream stays valid.

use std::collections::HashMap;
use std::fs::{self, Metadata};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::archive::pieces::Tap;
use crate::archive::{hex, Hashing};
use crate::backup::filecache::FileCache;
use crate::inspect::scan::is_sqlite;
use crate::job::{CancelToken, Progress};
use crate::longpath;
use crate::warning::{Warning, WarningCode};

/// One thing to put in the archive.
#[derive(Debug)]
pub struct Entry {
    /// Where it is.
    pub path: PathBuf,
    /// Its name in the archive (relative, `/`-separated), for people: invalid UTF-8 shown
    /// as U+FFFD.
    pub name: String,
    /// Its name in the archive exactly: Linux file names are bytes, and the archive keeps
    /// them as they are.
    pub raw: PathBuf,
    /// Its metadata (not following symlinks).
    pub meta: Metadata,
}

/// The first 16 bytes of every SQLite database file.
pub const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// Whether a file may be a SQLite database worth opening to look at its header: a
/// database's size is a whole number of pages, and a page is at least 512 bytes.
pub fn may_be_sqlite(meta: &Metadata) -> bool {
    meta.is_file() && meta.len() >= 512 && meta.len().is_multiple_of(512)
}

/// The name a host path gets in archives: relative to the stack folder when inside it, else
/// under `_host/` with its absolute path.
pub fn archive_name(path: &Path, stack_dir: &Path) -> String {
    archive_raw(path, stack_dir).to_string_lossy().into_owned()
}

/// [`archive_name`], byte for byte.
pub fn archive_raw(path: &Path, stack_dir: &Path) -> PathBuf {
    match path.strip_prefix(stack_dir) {
        Ok(rel) => rel.to_owned(),
        Err(_) => {
            let mut raw = std::ffi::OsString::from("_host");
            raw.push(path.as_os_str());
            PathBuf::from(raw)
        }
    }
}

/// Lists the entries under `roots` (each a folder or a file), parents before children,
/// siblings in [`stream_order`], without following symlinks. Unreadable folders become warnings.
pub fn collect(roots: &[PathBuf], stack_dir: &Path, warnings: &mut Vec<Warning>) -> Vec<Entry> {
    collect_named(roots, &Namer::new(stack_dir, &[], &[]), warnings)
}

/// How host paths are named in an archive: relative to the stack folder, named volumes'
/// folders as `_volumes/NAME` (however they are read, so a volume is one thing in every
/// archive), anything else under `_host/`.
/// Paths in `skip` (files another component holds, such as a `secrets.env` inside a
/// service's data) are left out.
#[derive(Debug, Clone, Copy)]
pub struct Namer<'a> {
    stack_dir: &'a Path,
    volumes: &'a [(PathBuf, String)],
    skip: &'a [PathBuf],
}

impl<'a> Namer<'a> {
    /// Names relative to `stack_dir`, with `volumes` (a volume's host folder and its
    /// archive prefix) named by their prefix, leaving out `skip`.
    pub fn new(stack_dir: &'a Path, volumes: &'a [(PathBuf, String)], skip: &'a [PathBuf]) -> Self {
        Self {
            stack_dir,
            volumes,
            skip,
        }
    }

    /// The archive name of `path`, byte for byte.
    pub fn raw(&self, path: &Path) -> PathBuf {
        for (dir, prefix) in self.volumes {
            if let Ok(rest) = path.strip_prefix(dir) {
                return Path::new(prefix).join(rest);
            }
        }
        archive_raw(path, self.stack_dir)
    }
}

/// [`collect`], naming entries with `namer`.
pub fn collect_named(
    roots: &[PathBuf],
    namer: &Namer<'_>,
    warnings: &mut Vec<Warning>,
) -> Vec<Entry> {
    let stack_dir = namer.stack_dir;
    let mut out = Vec::new();
    for root in roots {
        // The parents of a root inside the stack folder, so extraction recreates them with
        // their modes (the stack folder itself is the extraction target).
        if let Ok(rel) = root.strip_prefix(stack_dir) {
            let mut parent = stack_dir.to_path_buf();
            let comps: Vec<_> = rel.components().collect();
            for c in comps.iter().take(comps.len().saturating_sub(1)) {
                parent.push(c);
                if out.iter().any(|e: &Entry| e.path == parent) || namer.skip.contains(&parent) {
                    continue;
                }
                if let Ok(meta) = longpath::symlink_metadata(&parent) {
                    let raw = archive_raw(&parent, stack_dir);
                    out.push(Entry {
                        name: raw.to_string_lossy().into_owned(),
                        raw,
                        path: parent.clone(),
                        meta,
                    });
                }
            }
        }
        walk(root, namer, &mut out, warnings);
    }
    out
}

fn not_backed_up(path: &Path, e: &io::Error) -> Warning {
    Warning::new(
        WarningCode::UnreadablePath,
        format!("{} was not backed up: {e}", path.display()),
    )
    .path(path)
}

fn walk(path: &Path, namer: &Namer<'_>, out: &mut Vec<Entry>, warnings: &mut Vec<Warning>) {
    walk_with(path, longpath::symlink_metadata(path), namer, out, warnings);
}

/// The order of a folder's children in the stream: everything but folders first, oldest
/// modification first (then by name), then the folders by name. New files (uploads, WAL
/// segments, logs) are the newest, so they join the end of their folder's run instead of
/// landing among older files: in a stream cut into pieces, each new file then changes the
/// one piece at that end rather than a piece of old content around it.
fn stream_order(children: &mut [(PathBuf, io::Result<Metadata>)]) {
    children.sort_by_cached_key(|(path, meta)| {
        let (is_dir, mtime) = match meta {
            Ok(m) if m.is_dir() => (true, 0),
            Ok(m) => (false, mtime_ns(m)),
            Err(_) => (false, 0),
        };
        (is_dir, mtime, path.clone())
    });
}

fn walk_with(
    path: &Path,
    meta: io::Result<Metadata>,
    namer: &Namer<'_>,
    out: &mut Vec<Entry>,
    warnings: &mut Vec<Warning>,
) {
    if namer.skip.iter().any(|s| s == path) {
        return;
    }
    let meta = match meta {
        Ok(m) => m,
        Err(e) => {
            warnings.push(not_backed_up(path, &e));
            return;
        }
    };
    let is_dir = meta.is_dir();
    let raw = namer.raw(path);
    out.push(Entry {
        path: path.to_owned(),
        name: raw.to_string_lossy().into_owned(),
        raw,
        meta,
    });
    if !is_dir {
        return;
    }
    let children: Vec<PathBuf> = match longpath::read_dir(path) {
        Ok(children) => children,
        Err(e) => {
            warnings.push(not_backed_up(path, &e));
            return;
        }
    };
    let mut children: Vec<(PathBuf, io::Result<Metadata>)> = children
        .into_iter()
        .map(|c| {
            let meta = longpath::symlink_metadata(&c);
            (c, meta)
        })
        .collect();
    stream_order(&mut children);
    for (c, meta) in children {
        walk_with(&c, meta, namer, out, warnings);
    }
}

/// Hash of the entries' metadata: equal fingerprints mean nothing changed, unless a file was
/// modified within the same second as the previous snapshot (see `racy`).
pub fn fingerprint(entries: &[Entry]) -> String {
    let mut h = Sha256::new();
    for e in entries.iter().filter(|e| !is_sqlite_noise(e)) {
        // A folder's times change whenever a file inside is added or removed (Lifeboat's own
        // SQLite copies included); the names below it already show that, so only its mode
        // and owner count.
        // A name that is not UTF-8 counts by its bytes (two such names may show alike).
        if e.raw.to_str().is_none() {
            h.update(e.raw.as_os_str().as_encoded_bytes());
        }
        if e.meta.is_dir() {
            h.update(format!("{}/\0{}\n", e.name, owner(&e.meta)));
            continue;
        }
        let link = if e.meta.file_type().is_symlink() {
            longpath::with(&e.path, |p| fs::read_link(p))
                .map(|l| l.display().to_string())
                .unwrap_or_default()
        } else {
            String::new()
        };
        h.update(format!(
            "{}\0{}\0{}\0{}\0{link}\n",
            e.name,
            e.meta.len(),
            mtime_ns(&e.meta),
            // Every opener of a WAL database touches the -wal file's ctime; its size and
            // mtime show real writes.
            if e.name.ends_with("-wal") {
                owner(&e.meta)
            } else {
                ident(&e.meta)
            }
        ));
    }
    hex(&h.finalize())
}

/// A SQLite shared-memory index (`-shm`): every reader touches it, even Lifeboat's own
/// read-only copy, and it holds no data, so it does not count as a change.
/// An empty write-ahead log holds nothing either, and opening the database creates one.
fn is_sqlite_noise(e: &Entry) -> bool {
    e.name.ends_with("-shm") || (e.name.ends_with("-wal") && e.meta.len() == 0)
}

/// Whether some entry changed so close to `since` (Unix seconds) that equal metadata does
/// not prove equal content.
pub fn racy(entries: &[Entry], since: i64) -> bool {
    entries
        .iter()
        .filter(|e| !e.meta.is_dir() && !is_sqlite_noise(e))
        .any(|e| mtime_ns(&e.meta) / 1_000_000_000 >= i128::from(since) - 2)
}

fn mtime_ns(m: &Metadata) -> i128 {
    m.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as i128)
}

#[cfg(unix)]
fn ident(m: &Metadata) -> String {
    use std::os::unix::fs::MetadataExt;
    format!(
        "{:o}\0{}\0{}\0{}\0{}",
        m.mode(),
        m.uid(),
        m.gid(),
        m.ino(),
        m.ctime()
    )
}

#[cfg(not(unix))]
fn ident(_m: &Metadata) -> String {
    String::new()
}

#[cfg(unix)]
fn owner(m: &Metadata) -> String {
    use std::os::unix::fs::MetadataExt;
    format!("{:o}\0{}\0{}", m.mode(), m.uid(), m.gid())
}

#[cfg(not(unix))]
fn owner(_m: &Metadata) -> String {
    String::new()
}

/// A regular file written to a component's tar stream.
#[derive(Debug)]
pub struct CapturedFile {
    /// Its name, for people (invalid UTF-8 shown as U+FFFD).
    pub name: String,
    /// Its size.
    pub bytes: u64,
    /// Its modification time (Unix seconds), when known.
    pub mtime: Option<i64>,
    /// The name's bytes, when they are not UTF-8.
    pub raw: Option<Vec<u8>>,
    /// Where its entry starts in the stream, when written through a piece writer.
    pub at: Option<u64>,
    /// SHA-256 of its content as archived, when known.
    pub sha256: Option<String>,
    /// Its mode, user and group as archived.
    pub owner: Owner,
}

/// A file's mode and numeric owner, as its tar header holds them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Owner {
    /// Permission bits (with setuid, setgid, sticky).
    pub mode: Option<u32>,
    /// Numeric user.
    pub uid: Option<u64>,
    /// Numeric group.
    pub gid: Option<u64>,
}

impl Owner {
    /// What `header` says.
    pub fn of(header: &tar::Header) -> Self {
        Self {
            mode: header.mode().ok().map(|m| m & 0o7777),
            uid: header.uid().ok(),
            gid: header.gid().ok(),
        }
    }
}

/// What writing a component's tar stream produced.
#[derive(Debug, Default)]
pub struct Captured {
    /// Regular files written.
    pub files: Vec<CapturedFile>,
    /// SQLite databases captured through the online backup API.
    pub sqlite: Vec<String>,
    /// Each SQLite database's tables and their rows, counted in the copy that was archived.
    pub sqlite_rows: Vec<(String, Vec<(String, u64)>)>,
    /// Each dump's tables and their rows, as the dump holds them.
    pub dump_rows: Vec<super::manifest::TableRows>,
    /// The piece writer's tap, when the stream goes into pieces.
    tap: Option<Tap>,
    /// Large files that did not change since they were last read, and what was read.
    cache: Option<FileCache>,
}

impl Captured {
    /// For a stream written through a piece writer: large files get piece boundaries after
    /// their header and after their content, so their pieces depend on their content alone,
    /// and every file's entry offset is recorded.
    pub fn cutting(tap: Tap) -> Self {
        Self {
            tap: Some(tap),
            ..Self::default()
        }
    }

    /// With `cache`: a large file as cached is not read; its stored pieces go in the
    /// stream. Only for a stream cut into pieces.
    pub fn with_cache(mut self, cache: FileCache) -> Self {
        if self.tap.is_some() {
            self.cache = Some(cache);
        }
        self
    }

    /// The file cache, once the stream is written.
    pub fn take_cache(&mut self) -> Option<FileCache> {
        self.cache.take()
    }

    /// The stored pieces of entry `e`'s content, when it is large and as cached.
    fn cached(&mut self, e: &Entry) -> Option<(Vec<crate::archive::pieces::Piece>, String)> {
        if self.tap.is_none() || e.meta.len() < LARGE {
            return None;
        }
        self.cache.as_mut()?.hit(&e.raw, &e.meta)
    }

    /// Notes that entry `e` was read whole, unchanged while read.
    fn read_whole(&mut self, e: &Entry, sha256: &str) {
        let Some(end) = self.position().filter(|_| e.meta.len() >= LARGE) else {
            return;
        };
        if let Some(cache) = self.cache.as_mut() {
            cache.read_whole(&e.raw, &e.meta, end, sha256);
        }
    }

    fn position(&self) -> Option<u64> {
        self.tap.as_ref().map(Tap::position)
    }

    /// Cuts before the next byte unless the piece under way is small (see
    /// [`Tap::soft_cut`]).
    fn soft_cut(&self) {
        if let Some(t) = &self.tap {
            t.soft_cut();
        }
    }

    /// Marks where a component's folder entries begin: they come after all its files, in
    /// pieces of their own.
    ///
    /// A folder's header changes whenever something in it is added or removed (its mtime),
    /// and in a stream cut into pieces every changed byte costs the whole piece around it:
    /// with folders among the files, one new upload rewrote a piece of its neighbours'
    /// content (400 KB a day on the ai-chatbot shape). At the end, behind a cut, folders'
    /// headers sit together in a few small pieces. Extraction does not need parents first:
    /// `tar -x` and Lifeboat create missing parents, and set folders' modes and times when
    /// they come.
    fn folders_begin(&self) {
        self.soft_cut();
    }

    /// Cuts before the next byte when a file of `len` bytes is large.
    fn cut_if_large(&self, len: u64) {
        if let Some(t) = self.tap.as_ref().filter(|_| len >= LARGE) {
            t.cut();
        }
    }

    /// `content` of a file of `len` bytes, cutting before its first byte when it is large.
    fn content<R: Read>(&self, content: R, len: u64) -> CutFirst<R> {
        CutFirst {
            inner: content,
            tap: self.tap.clone().filter(|_| len >= LARGE),
        }
    }
}

/// Files at least this large get their own pieces.
const LARGE: u64 = crate::archive::pieces::AVG as u64;

/// A reader that cuts the piece stream before its first byte (the tar header is written
/// by then).
struct CutFirst<R> {
    inner: R,
    tap: Option<Tap>,
}

impl<R: Read> Read for CutFirst<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(t) = self.tap.take() {
            t.cut();
        }
        self.inner.read(buf)
    }
}

/// Why capture stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaptureError {
    /// Writing the archive failed.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// A SQLite database could not be copied consistently.
    #[error("the SQLite database {path} could not be backed up: {reason}")]
    Sqlite {
        /// The database.
        path: PathBuf,
        /// What SQLite said.
        reason: String,
    },
    /// A SQLite database that only the engine can read, while its service runs.
    #[error(
        "the SQLite database {} can only be read through Docker while {service} runs, where a copy \
         could be torn; back up with `--stop {service}` (or `--mode cold`) to stop it for the copy",
        path.display()
    )]
    LiveSqlite {
        /// The service that runs.
        service: String,
        /// The database (archive name).
        path: PathBuf,
    },
    /// The user cancelled.
    #[error("cancelled")]
    Cancelled,
}

/// A tar builder set up the way every archive is written: numeric owners, modes and mtimes
/// as they are, symlinks not followed.
pub fn builder<W: Write>(out: W) -> tar::Builder<W> {
    let mut tar = tar::Builder::new(out);
    tar.mode(tar::HeaderMode::Complete);
    tar.follow_symlinks(false);
    tar
}

/// A file's modification time in whole Unix seconds (what a tar header keeps).
pub fn mtime_secs(m: &Metadata) -> Option<i64> {
    let d = m
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    i64::try_from(d.as_secs()).ok()
}

/// Writes `entries` as a tar stream into `out`.
///
/// # Errors
/// When writing fails, a database cannot be copied, or `cancel` fires.
pub fn write_tar<W: Write>(
    entries: &[Entry],
    out: W,
    progress: &dyn Progress,
    cancel: &CancelToken,
    warnings: &mut Vec<Warning>,
) -> Result<(Captured, W), CaptureError> {
    let mut tar = builder(out);
    let mut captured = Captured::default();
    write_entries(entries, &mut tar, &mut captured, progress, cancel, warnings)?;
    let out = tar.into_inner()?;
    Ok((captured, out))
}

/// Appends `entries` to `tar`, recording what it wrote in `captured`.
///
/// # Errors
/// When writing fails, a database cannot be copied, or `cancel` fires.
pub fn write_entries<W: Write>(
    entries: &[Entry],
    tar: &mut tar::Builder<W>,
    captured: &mut Captured,
    progress: &dyn Progress,
    cancel: &CancelToken,
    warnings: &mut Vec<Warning>,
) -> Result<(), CaptureError> {
    let mut w = Writing {
        tar,
        captured,
        progress,
        warnings,
        links: HashMap::new(),
        // SQLite databases captured by copy: their -wal/-shm/-journal files are not needed.
        sqlite_names: entries
            .iter()
            .filter(|e| may_be_sqlite(&e.meta) && is_sqlite(&e.path))
            .map(|e| e.name.clone())
            .collect(),
        start: None,
        hour: None,
    };
    let (files, folders): (Vec<&Entry>, Vec<&Entry>) =
        entries.iter().partition(|e| !e.meta.is_dir());
    for (i, e) in files.iter().chain(&folders).enumerate() {
        if cancel.is_cancelled() {
            return Err(CaptureError::Cancelled);
        }
        if i == files.len() {
            w.captured.folders_begin();
        }
        w.entry(e)?;
    }
    Ok(())
}

/// [`write_entries`] under way.
struct Writing<'a, W: Write> {
    tar: &'a mut tar::Builder<W>,
    captured: &'a mut Captured,
    progress: &'a dyn Progress,
    warnings: &'a mut Vec<Warning>,
    /// The first name of each (device, inode) with more than one link.
    links: HashMap<(u64, u64), PathBuf>,
    sqlite_names: Vec<String>,
    /// Where the entry being written starts in the stream.
    start: Option<u64>,
    /// The hour (Unix seconds / 3600) the last file was modified in.
    hour: Option<i64>,
}

impl<W: Write> Writing<'_, W> {
    /// One entry: a folder, a symlink, a file (a hard link to one written before, a SQLite
    /// database through its online backup, or its bytes); anything else is named and left
    /// out, as is a SQLite database's `-wal`, `-shm` or `-journal` file.
    fn entry(&mut self, e: &Entry) -> Result<(), CaptureError> {
        let beside_db = ["-wal", "-shm", "-journal"].iter().any(|s| {
            e.name
                .strip_suffix(s)
                .is_some_and(|db| self.sqlite_names.iter().any(|n| n == db))
        });
        if beside_db {
            return Ok(());
        }
        let ft = e.meta.file_type();
        if !(ft.is_dir() || ft.is_file() || ft.is_symlink()) {
            self.warnings.push(
                Warning::new(
                    WarningCode::SpecialFileSkipped,
                    format!(
                        "{} is a socket, pipe or device and was not backed up.",
                        e.path.display()
                    ),
                )
                .path(&e.path),
            );
            return Ok(());
        }
        // Files come oldest first in each folder (`stream_order`): where the modification
        // hour changes, new content starts, and a piece boundary there keeps the pieces of
        // the older files the same from one backup to the next.
        if !ft.is_dir() {
            let hour = mtime_secs(&e.meta).map(|s| s.div_euclid(3600));
            if hour != self.hour {
                self.captured.soft_cut();
                self.hour = hour;
            }
        }
        self.start = self.captured.position();
        append_pax(self.tar, &pax_records(e))?;
        let mut header = tar::Header::new_gnu();
        header.set_metadata_in_mode(&e.meta, tar::HeaderMode::Complete);
        if ft.is_dir() {
            header.set_size(0);
            let mut dir = e.raw.clone().into_os_string();
            dir.push("/");
            self.tar.append_data(&mut header, dir, io::empty())?;
        } else if ft.is_symlink() {
            let target = longpath::with(&e.path, |p| fs::read_link(p))?;
            header.set_size(0);
            self.tar.append_link(&mut header, &e.raw, target)?;
        } else if let Some(first) = hard_link_of(&e.meta, &e.raw, &mut self.links) {
            header.set_entry_type(tar::EntryType::Link);
            header.set_size(0);
            self.tar.append_link(&mut header, &e.raw, first)?;
        } else if self.sqlite_names.contains(&e.name) {
            self.sqlite(e, header)?;
        } else {
            self.file(e, header)?;
        }
        Ok(())
    }

    /// A SQLite database, through its online backup. One that cannot be copied (locked too
    /// long, damaged) is left out and named; the rest of the component is still worth
    /// keeping.
    fn sqlite(&mut self, e: &Entry, mut header: tar::Header) -> Result<(), CaptureError> {
        let copy = match sqlite_copy(&e.path) {
            Ok(copy) => copy,
            Err(err) => {
                self.warnings.push(
                    Warning::new(
                        WarningCode::DatabaseNotBackedUp,
                        format!("{err}; it is not in this snapshot."),
                    )
                    .path(&e.path),
                );
                return Ok(());
            }
        };
        let len = fs::metadata(copy.path())?.len();
        header.set_size(len);
        let rows = copy.rows.clone();
        let owner = Owner::of(&header);
        let f = fs::File::open(copy.path())?;
        let mut reader = Exact::new(self.captured.content(f, len), len);
        let sha = append_file(self.tar, &mut header, &e.raw, &mut reader)?;
        self.captured.cut_if_large(len);
        drop(copy);
        self.captured.sqlite.push(e.name.clone());
        self.captured.sqlite_rows.push((e.name.clone(), rows));
        self.done(e, len, Some(sha), owner);
        Ok(())
    }

    /// A file's bytes; one that changed while read is named (its copy may be torn), one
    /// that cannot be opened is named and left out.
    fn file(&mut self, e: &Entry, mut header: tar::Header) -> Result<(), CaptureError> {
        let owner = Owner::of(&header);
        if let Some((pieces, sha)) = self.captured.cached(e) {
            // The header alone (its size says what follows; no content byte is given
            // here), then the cached pieces: the content with its padding.
            self.tar.append_data(&mut header, &e.raw, io::empty())?;
            if let Some(tap) = &self.captured.tap {
                tap.put_stored(pieces);
            }
            self.done(e, e.meta.len(), Some(sha), owner);
            return Ok(());
        }
        let f = match longpath::with(&e.path, |p| fs::File::open(p)) {
            Ok(f) => f,
            Err(err) => {
                self.warnings.push(
                    Warning::new(
                        WarningCode::UnreadablePath,
                        format!("{} was not backed up: {err}", e.path.display()),
                    )
                    .path(&e.path),
                );
                return Ok(());
            }
        };
        let len = e.meta.len();
        let mut reader = Exact::new(self.captured.content(f, len), len);
        let sha = append_file(self.tar, &mut header, &e.raw, &mut reader)?;
        self.captured.cut_if_large(len);
        if !reader.mismatch {
            self.captured.read_whole(e, &sha);
        }
        if reader.mismatch {
            self.warnings.push(
                Warning::new(
                    WarningCode::FileChangedDuringBackup,
                    format!(
                        "{} changed while it was read; its copy may be inconsistent. Stop the \
                         service during backups (cold mode) if this keeps happening.",
                        e.path.display()
                    ),
                )
                .path(&e.path),
            );
        }
        self.done(e, len, Some(sha), owner);
        Ok(())
    }

    /// Records a file written whole.
    fn done(&mut self, e: &Entry, len: u64, sha256: Option<String>, owner: Owner) {
        self.captured.files.push(CapturedFile {
            name: e.name.clone(),
            bytes: len,
            mtime: mtime_secs(&e.meta),
            raw: not_utf8(&e.raw),
            at: self.start,
            sha256,
            owner,
        });
        self.progress.advance(1, len);
    }
}

/// What a tar header cannot hold, as PAX records (which GNU tar and bsdtar read): the
/// modification time's nanoseconds (`mtime`) and extended attributes, POSIX ACLs included
/// (`SCHILY.xattr.NAME`).
fn pax_records(e: &Entry) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    if let Some(d) = e
        .meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .filter(|d| d.subsec_nanos() != 0)
    {
        out.push((
            "mtime".to_owned(),
            format!("{}.{:09}", d.as_secs(), d.subsec_nanos()).into_bytes(),
        ));
    }
    let xattrs = longpath::with(&e.path, |p| {
        let mut names: Vec<std::ffi::OsString> = xattr::list(p)?.collect();
        names.sort();
        Ok(names
            .into_iter()
            .filter_map(|n| {
                // Keys are text in PAX; a name that is not UTF-8 cannot be recorded.
                let key = n.to_str()?.to_owned();
                let value = xattr::get(p, &n).ok()??;
                Some((format!("SCHILY.xattr.{key}"), value))
            })
            .collect::<Vec<_>>())
    });
    out.extend(xattrs.unwrap_or_default());
    out
}

/// The PAX records of `entry` that say something about the file rather than its name or
/// size (the nanoseconds of its mtime, its extended attributes), to copy along when the
/// entry is written again under another name.
///
/// # Errors
/// When the records cannot be read (a damaged stream).
pub fn kept_pax<R: Read>(entry: &mut tar::Entry<'_, R>) -> io::Result<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    if let Some(records) = entry.pax_extensions()? {
        for r in records {
            let r = r?;
            let Ok(key) = r.key() else { continue };
            if key == "mtime" || key.starts_with("SCHILY.xattr.") {
                out.push((key.to_owned(), r.value_bytes().to_vec()));
            }
        }
    }
    Ok(out)
}

/// Appends `records` (from [`kept_pax`]) as the PAX header of the next entry.
///
/// # Errors
/// When writing fails.
pub fn append_pax<W: Write>(
    tar: &mut tar::Builder<W>,
    records: &[(String, Vec<u8>)],
) -> io::Result<()> {
    if records.is_empty() {
        return Ok(());
    }
    tar.append_pax_extensions(records.iter().map(|(k, v)| (k.as_str(), v.as_slice())))
}

/// The bytes of a name that is not UTF-8 (for the manifest, which shows names as text).
pub fn not_utf8(raw: &Path) -> Option<Vec<u8>> {
    raw.to_str()
        .is_none()
        .then(|| raw.as_os_str().as_encoded_bytes().to_vec())
}

/// Appends a file of `len` bytes read from `content` under `name` (mode 0600, owned by the
/// current user, modified now): a database dump.
///
/// # Errors
/// When reading or writing fails.
pub fn append_generated<W: Write>(
    tar: &mut tar::Builder<W>,
    name: &str,
    len: u64,
    content: impl Read,
    captured: &mut Captured,
    progress: &dyn Progress,
) -> Result<(), CaptureError> {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_size(len);
    header.set_mode(0o600);
    header.set_mtime(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let Ok(m) = fs::metadata(".") {
            header.set_uid(u64::from(m.uid()));
            header.set_gid(u64::from(m.gid()));
        }
    }
    let at = captured.position();
    let owner = Owner::of(&header);
    let mut reader = Exact::new(captured.content(content, len), len);
    let sha = append_file(tar, &mut header, name, &mut reader)?;
    captured.cut_if_large(len);
    if reader.mismatch {
        return Err(CaptureError::Io(io::Error::other(format!(
            "{name} changed size while it was archived"
        ))));
    }
    captured.files.push(CapturedFile {
        name: name.to_owned(),
        bytes: len,
        mtime: None,
        raw: None,
        at,
        sha256: Some(sha),
        owner,
    });
    progress.advance(1, len);
    Ok(())
}

/// Appends a file entry whose content, exactly its header's size, comes from `content`;
/// returns the content's SHA-256 (hex). Content is read in slices of up to [`SLICE`] bytes
/// (tar's own copy goes 8 KiB at a time: a read call and a piece-writer write per 8 KiB).
///
/// # Errors
/// When reading or writing fails, or `content` ends before or after the header's size.
fn append_file<W: Write>(
    tar: &mut tar::Builder<W>,
    header: &mut tar::Header,
    path: impl AsRef<Path>,
    content: &mut impl Read,
) -> io::Result<String> {
    // The header (and any long-name entry before it) alone: its size says what follows.
    tar.append_data(header, path.as_ref(), io::empty())?;
    let len = header.size()?;
    let out = tar.get_mut();
    let (written, sha) = if len >= HASH_ASIDE {
        copy_hashing_aside(content, out)?
    } else {
        let mut hashing = Hashing::new(content);
        let mut buf = vec![0u8; len.clamp(1, SLICE as u64) as usize];
        loop {
            let n = read_some(&mut hashing, &mut buf)?;
            if n == 0 {
                break;
            }
            out.write_all(&buf[..n])?;
        }
        let (sha, written, _) = hashing.into_parts();
        (written, sha)
    };
    if written != len {
        return Err(io::Error::other(format!(
            "{} gave {written} bytes where its header says {len}",
            path.as_ref().display()
        )));
    }
    let pad = (512 - written % 512) % 512;
    out.write_all(&[0u8; 512][..pad as usize])?;
    Ok(sha)
}

/// The most bytes [`append_file`] reads at once.
const SLICE: usize = 1 << 20;

/// Files at least this large are hashed on a thread of their own while they are copied.
const HASH_ASIDE: u64 = 4 << 20;

/// `read`, retried when interrupted.
fn read_some(content: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match content.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// Copies `content` into `out` while another thread computes its SHA-256; returns the
/// bytes copied and the hash. On a large file that does not compress (model weights,
/// media) hashing costs as much as cutting the stream into pieces, and both ran on one
/// thread while the piece writers waited (measured: the backup thread at 100% of a core,
/// the two cores 63% busy through a 400 MiB model).
fn copy_hashing_aside(content: &mut impl Read, out: &mut impl Write) -> io::Result<(u64, String)> {
    let (to_hash, slices) = std::sync::mpsc::sync_channel::<(Vec<u8>, usize)>(2);
    let (give_back, spare) = std::sync::mpsc::channel::<Vec<u8>>();
    std::thread::scope(|s| {
        let hasher = s.spawn(move || {
            let mut h = Sha256::new();
            for (buf, n) in slices {
                h.update(&buf[..n]);
                let _ = give_back.send(buf);
            }
            hex(&h.finalize())
        });
        let mut written = 0u64;
        let copied = (|| -> io::Result<()> {
            loop {
                let mut buf = spare.try_recv().unwrap_or_else(|_| vec![0u8; SLICE]);
                let n = read_some(content, &mut buf)?;
                if n == 0 {
                    return Ok(());
                }
                out.write_all(&buf[..n])?;
                written += n as u64;
                to_hash
                    .send((buf, n))
                    .map_err(|_| io::Error::other("the hashing thread stopped"))?;
            }
        })();
        drop(to_hash);
        let sha = hasher
            .join()
            .map_err(|_| io::Error::other("the hashing thread stopped"))?;
        copied.map(|()| (written, sha))
    })
}

/// Where a tar stream read through the engine goes, and whether its service runs.
#[derive(Debug, Clone, Copy)]
pub struct EnginePlace<'a> {
    /// The archive folder its entries go under (`_volumes/NAME`).
    pub prefix: &'a str,
    /// The running service that may be writing it, if any: a SQLite database in it is
    /// refused, since no consistent copy can be made from here.
    pub live: Option<&'a str>,
}

/// Copies the tar stream the Docker engine gives for a path inside a container into `tar`,
/// renaming its top folder to `prefix` (e.g. `_volumes/app_data`). Owners, modes, mtimes,
/// symlinks and hard links are kept; devices and pipes are skipped with a warning.
///
/// # Errors
/// When the stream breaks or writing fails, or `cancel` fires.
pub fn append_engine_tar<W: Write>(
    tar: &mut tar::Builder<W>,
    source: impl Read,
    place: EnginePlace<'_>,
    captured: &mut Captured,
    progress: &dyn Progress,
    cancel: &CancelToken,
    warnings: &mut Vec<Warning>,
) -> Result<(), CaptureError> {
    let EnginePlace { prefix, live } = place;
    // Byte for byte: the engine's names are Linux file names too.
    let rename = |p: &Path| -> Option<PathBuf> {
        let mut comps = p.components();
        comps.next()?;
        Some(Path::new(prefix).join(comps.as_path()))
    };
    let mut archive = tar::Archive::new(source);
    // Folders go after everything else, as in `write_entries` (see `folders_begin`).
    let mut dirs: Vec<(tar::Header, PaxRecords, PathBuf)> = Vec::new();
    for entry in archive.entries()? {
        if cancel.is_cancelled() {
            return Err(CaptureError::Cancelled);
        }
        let mut entry = entry?;
        let path = entry.path()?.into_owned();
        let Some(raw) = rename(&path) else {
            continue;
        };
        let name = raw.to_string_lossy().into_owned();
        let mut header = entry.header().clone();
        let kind = header.entry_type();
        if kind == tar::EntryType::Directory {
            let mut dir = raw.into_os_string();
            dir.push("/");
            dirs.push((header, kept_pax(&mut entry)?, dir.into()));
            continue;
        }
        let at = captured.position();
        if matches!(
            kind,
            tar::EntryType::Symlink | tar::EntryType::Regular | tar::EntryType::Continuous
        ) {
            append_pax(tar, &kept_pax(&mut entry)?)?;
        }
        match kind {
            tar::EntryType::Symlink => {
                let target = entry.link_name()?.unwrap_or_default().into_owned();
                tar.append_link(&mut header, &raw, target)?;
            }
            tar::EntryType::Link => {
                let target = entry.link_name()?.unwrap_or_default().into_owned();
                let target = rename(&target).unwrap_or_default();
                tar.append_link(&mut header, &raw, target)?;
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let len = entry.size();
                let mtime = header.mtime().ok().and_then(|m| i64::try_from(m).ok());
                // A SQLite database (known by its header, whatever its name) that its running
                // service may be writing: a byte copy through the engine can be torn, and no
                // online backup can reach it from here. Refuse rather than store it as good.
                let mut head = Vec::with_capacity(16);
                (&mut entry).take(16).read_to_end(&mut head)?;
                if let (Some(service), true) = (live, head == SQLITE_HEADER) {
                    return Err(CaptureError::LiveSqlite {
                        service: service.to_owned(),
                        path: PathBuf::from(&name),
                    });
                }
                let owner = Owner::of(&header);
                let mut content = captured.content(io::Cursor::new(head).chain(&mut entry), len);
                let sha = append_file(tar, &mut header, &raw, &mut content)?;
                captured.cut_if_large(len);
                captured.files.push(CapturedFile {
                    raw: not_utf8(&raw),
                    name,
                    bytes: len,
                    mtime,
                    at,
                    sha256: Some(sha),
                    owner,
                });
                progress.advance(1, len);
            }
            _ => warnings.push(Warning::new(
                WarningCode::SpecialFileSkipped,
                format!("{name} is a socket, pipe or device and was not backed up."),
            )),
        }
    }
    if !dirs.is_empty() {
        captured.folders_begin();
    }
    for (mut header, pax, dir) in dirs {
        append_pax(tar, &pax)?;
        header.set_size(0);
        tar.append_data(&mut header, dir, io::empty())?;
    }
    Ok(())
}

/// PAX records as (key, value).
type PaxRecords = Vec<(String, Vec<u8>)>;

#[cfg(unix)]
fn hard_link_of(
    meta: &Metadata,
    name: &Path,
    seen: &mut HashMap<(u64, u64), PathBuf>,
) -> Option<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    if meta.nlink() < 2 {
        return None;
    }
    match seen.get(&(meta.dev(), meta.ino())) {
        Some(first) => Some(first.clone()),
        None => {
            seen.insert((meta.dev(), meta.ino()), name.to_owned());
            None
        }
    }
}

#[cfg(not(unix))]
fn hard_link_of(
    _meta: &Metadata,
    _name: &Path,
    _seen: &mut HashMap<(u64, u64), PathBuf>,
) -> Option<PathBuf> {
    None
}

/// Reads exactly `len` bytes: stops early if the file grew, pads with zeros if it shrank.
struct Exact<R> {
    inner: R,
    left: u64,
    mismatch: bool,
}

impl<R: Read> Exact<R> {
    fn new(inner: R, len: u64) -> Self {
        Self {
            inner,
            left: len,
            mismatch: false,
        }
    }
}

impl<R: Read> Read for Exact<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            if !self.mismatch {
                let mut probe = [0u8; 1];
                if self.inner.read(&mut probe)? > 0 {
                    self.mismatch = true;
                }
            }
            return Ok(0);
        }
        let want = buf.len().min(self.left as usize);
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            self.mismatch = true;
            let pad = want;
            buf[..pad].fill(0);
            self.left -= pad as u64;
            return Ok(pad);
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// A consistent copy of a live SQLite database, made with SQLite's online backup API beside
/// the original (inside the stack's own data, never in a shared temporary folder), checked
/// with `PRAGMA integrity_check`. The copy is removed when dropped.
pub struct SqliteCopy {
    path: PathBuf,
    /// Its tables and their rows.
    pub rows: Vec<(String, u64)>,
}

impl SqliteCopy {
    /// Where the copy is.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for SqliteCopy {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
        for s in ["-journal", "-wal", "-shm"] {
            let _ = fs::remove_file(format!("{}{s}", self.path.display()));
        }
    }
}

/// Every table of the SQLite database open in `conn` with its rows, by name.
pub fn table_rows(conn: &rusqlite::Connection) -> Result<Vec<(String, u64)>, String> {
    let tables: Vec<String> = conn
        .prepare(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
             ORDER BY name",
        )
        .and_then(|mut s| {
            s.query_map([], |r| r.get(0))?
                .collect::<Result<Vec<String>, _>>()
        })
        .map_err(|e| e.to_string())?;
    let mut out = Vec::with_capacity(tables.len());
    for t in tables {
        let quoted = format!("\"{}\"", t.replace('"', "\"\""));
        let n: i64 = conn
            .query_row(&format!("SELECT count(*) FROM {quoted}"), [], |r| r.get(0))
            .map_err(|e| format!("{t}: {e}"))?;
        out.push((t, u64::try_from(n).unwrap_or(0)));
    }
    Ok(out)
}

fn sqlite_copy(db: &Path) -> Result<SqliteCopy, CaptureError> {
    use rusqlite::{Connection, OpenFlags};
    let err = |reason: String| CaptureError::Sqlite {
        path: db.to_owned(),
        // SQLite opens nothing whose full path reaches 512 bytes (its `MAX_PATHNAME`).
        reason: if db.as_os_str().len() >= 500 {
            format!(
                "{reason}: SQLite cannot open a database whose path is {} bytes long (512 at most); \
                 a shorter path to the stack's data lets it be copied",
                db.as_os_str().len()
            )
        } else {
            reason
        },
    };
    let name = db
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut copy = SqliteCopy {
        path: db.with_file_name(format!(".{name}.lifeboat-{}", std::process::id())),
        rows: Vec::new(),
    };
    let _ = fs::remove_file(copy.path());
    let src = Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| err(e.to_string()))?;
    src.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(|e| err(e.to_string()))?;
    let mut dst = Connection::open(copy.path()).map_err(|e| err(e.to_string()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = fs::set_permissions(copy.path(), fs::Permissions::from_mode(0o600));
    }
    {
        let backup =
            rusqlite::backup::Backup::new(&src, &mut dst).map_err(|e| err(e.to_string()))?;
        // All pages in one step, inside one read transaction: copying in small steps would
        // restart from the beginning each time another connection writes, and never end
        // under a busy writer. In WAL mode the writer is not blocked meanwhile.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            match backup.step(-1).map_err(|e| err(e.to_string()))? {
                rusqlite::backup::StepResult::Done => break,
                _ if std::time::Instant::now() > deadline => {
                    return Err(err("the database stayed locked for 60 s".into()));
                }
                _ => std::thread::sleep(std::time::Duration::from_millis(50)),
            }
        }
    }
    let check: String = dst
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(|e| err(e.to_string()))?;
    if check != "ok" {
        return Err(err(format!("the copy failed its integrity check: {check}")));
    }
    copy.rows = table_rows(&dst).map_err(|e| err(format!("its rows could not be counted: {e}")))?;
    // A self-contained file, in the database's own journal mode: a WAL database stays in
    // WAL mode (closing the copy folds its log in and removes it), so the app finds it as
    // it left it.
    let mode: String = src
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .map_err(|e| err(e.to_string()))?;
    let keep = if mode.eq_ignore_ascii_case("wal") {
        "WAL"
    } else {
        "DELETE"
    };
    let _: String = dst
        .query_row(&format!("PRAGMA journal_mode = {keep}"), [], |r| r.get(0))
        .map_err(|e| err(e.to_string()))?;
    dst.close().map_err(|(_, e)| err(e.to_string()))?;
    Ok(copy)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn appended(content: &[u8], len: u64) -> (io::Result<String>, Vec<u8>) {
        let mut tar = builder(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_size(len);
        header.set_mode(0o644);
        let sha = append_file(&mut tar, &mut header, "data/model.bin", &mut &content[..]);
        (sha, tar.into_inner().unwrap())
    }

    #[test]
    fn append_file_hashes_small_and_large_files_and_pads_the_entry() {
        // Below and above HASH_ASIDE, and not a multiple of SLICE or of 512.
        for len in [0usize, 1, 513, (HASH_ASIDE as usize) * 2 + SLICE / 3 + 7] {
            let content: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            let (sha, stream) = appended(&content, len as u64);
            assert_eq!(sha.unwrap(), hex(&Sha256::digest(&content)), "{len} bytes");
            assert_eq!(stream.len() % 512, 0, "{len} bytes");
            let mut archive = tar::Archive::new(&stream[..]);
            let mut entry = archive.entries().unwrap().next().unwrap().unwrap();
            assert_eq!(entry.path().unwrap(), Path::new("data/model.bin"));
            let mut back = Vec::new();
            entry.read_to_end(&mut back).unwrap();
            assert!(back == content, "{len} bytes came back different");
        }
    }

    #[test]
    fn append_file_refuses_content_of_another_length() {
        for (given, said) in [(100usize, 200u64), (200, 100), (9 << 20, 10 << 20)] {
            let content = vec![7u8; given];
            let err = appended(&content, said).0.unwrap_err().to_string();
            assert!(
                err.contains(&format!("gave {given} bytes where its header says {said}")),
                "{err}"
            );
        }
    }
}
