//! Extracting one component's tar stream into staging folders, refusing anything that
//! would land outside them.
//!
//! Every entry is mapped to a slot by its leading path components; the rest of its name is
//! joined to that slot's staging path. Refused, so nothing is written outside a staging
//! folder: absolute names, `..`, names that belong to no slot, entries whose parent is a
//! symlink or a file (a symlink is created as a link and never followed), hard links to
//! anything but a regular file extracted earlier in the same slot, device nodes and pipes,
//! and headers that claim more data than the whole component holds.

use std::collections::HashSet;
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};

use crate::archive::Hashing;
use crate::backup::capture;
use crate::job::{CancelToken, Progress};
use crate::longpath::{self, with};

/// Where one archive prefix is extracted.
#[derive(Debug, Clone)]
pub struct SlotTarget {
    /// The archive prefix (`data`, `.env`, `_volumes/db`, `_dumps/db`).
    pub prefix: String,
    /// The staging path the prefix's content goes to (a folder, or a file for a file slot).
    pub staged: PathBuf,
}

/// Why extraction stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExtractError {
    /// Writing into staging failed (disk full, permission denied).
    #[error("{path}: {source}")]
    Io {
        /// Where.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: io::Error,
    },
    /// The archive could not be read to its end (damaged, truncated, wrong key).
    #[error("the archive is damaged ({0}); nothing was changed. Restore from another snapshot")]
    Damaged(String),
    /// An entry would have landed outside the target, or is not allowed.
    #[error("the archive holds an entry that is refused: {name} ({why}); nothing was changed")]
    Refused {
        /// The entry's name.
        name: String,
        /// Why.
        why: Refused,
    },
    /// The user cancelled.
    #[error("cancelled; nothing was changed")]
    Cancelled,
}

/// Why an archive's entry is not written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refused {
    /// Its name is absurdly long.
    #[error("the name is longer than any real path")]
    TooLong,
    /// Its name has a NUL byte.
    #[error("the name contains a NUL byte")]
    Nul,
    /// Its name is not UTF-8 on a system whose names must be.
    #[error("the name is not UTF-8")]
    NotUtf8,
    /// Its name climbs out with `..`.
    #[error("the name goes up with `..`")]
    GoesUp,
    /// Its name is absolute.
    #[error("the name is an absolute path")]
    Absolute,
    /// It is in none of the components being restored.
    #[error("it belongs to none of the components being restored")]
    NoComponent,
    /// Its header claims more bytes than the component holds.
    #[error("its header claims {0} bytes, more than the whole component holds")]
    TooBig(u64),
    /// A parent folder of it is a symlink.
    #[error("its parent {} is a symlink", .0.display())]
    ParentSymlink(PathBuf),
    /// A parent folder of it is something else than a folder.
    #[error("its parent {} is not a folder", .0.display())]
    ParentNotFolder(PathBuf),
    /// A parent folder of it was not made by this extraction.
    #[error("its parent {} was not made by this restore", .0.display())]
    ParentNotOurs(PathBuf),
    /// A folder entry where something else was already extracted.
    #[error("a folder where something else exists")]
    FolderOverOther,
    /// A second entry for the same path.
    #[error("a second entry for the same path")]
    Duplicate,
    /// A symlink without a target.
    #[error("a symlink without a target")]
    SymlinkNoTarget,
    /// A hard link without a target.
    #[error("a hard link without a target")]
    HardLinkNoTarget,
    /// A hard link to a file of another component.
    #[error("a hard link to {0}, outside its own folder")]
    LinkOutside(String),
    /// A hard link to something that is not a file extracted before it.
    #[error("a hard link to {0}, which is not a file extracted before it")]
    LinkToNothing(String),
    /// A device node or a pipe.
    #[error("a device node or pipe")]
    Device,
    /// An entry type Lifeboat does not write.
    #[error("an entry of unknown type {0}")]
    UnknownType(String),
}

/// What one extraction did.
#[derive(Debug, Default, Clone)]
pub struct Extracted {
    /// Regular files written.
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
    /// SHA-256 of the whole plaintext stream (hex).
    pub sha256: String,
    /// Bytes of the whole plaintext stream.
    pub stream_bytes: u64,
    /// Slots (by prefix) with entries owned by someone other than `ours`, which this process
    /// could not give back to their owners: uid and gid of the first such entry.
    pub foreign: Vec<(String, u64, u64)>,
}

/// Longest names accepted, in bytes: far beyond any real tree (a path may be longer than
/// the 4096 bytes a system call takes; see [`longpath`]), short of exhausting memory.
const MAX_NAME: usize = 1 << 20;

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> ExtractError + '_ {
    move |source| ExtractError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Splits an entry name (bytes, as Linux file names are) into normal components, refusing
/// absolute names and `..`.
fn components(name: &[u8]) -> Result<Vec<&std::ffi::OsStr>, Refused> {
    if name.len() > MAX_NAME {
        return Err(Refused::TooLong);
    }
    if name.contains(&0) {
        return Err(Refused::Nul);
    }
    // On Unix any bytes make a name; elsewhere a name that is not UTF-8 is refused.
    let path = os_path(name).ok_or(Refused::NotUtf8)?;
    let mut out = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(s) => out.push(s),
            Component::CurDir => {}
            Component::ParentDir => return Err(Refused::GoesUp),
            Component::RootDir | Component::Prefix(_) => return Err(Refused::Absolute),
        }
    }
    Ok(out)
}

#[cfg(unix)]
fn os_path(name: &[u8]) -> Option<&Path> {
    use std::os::unix::ffi::OsStrExt;
    Some(Path::new(std::ffi::OsStr::from_bytes(name)))
}

#[cfg(not(unix))]
fn os_path(name: &[u8]) -> Option<&Path> {
    std::str::from_utf8(name).ok().map(Path::new)
}

/// The slot of `parts` and the rest of the name inside it; `None` for a parent folder of a
/// slot (recorded by backups so stock `tar` recreates it, not restored on its own).
fn slot_of<'a, 'p>(
    slots: &'a [SlotTarget],
    parts: &'p [&'p std::ffi::OsStr],
) -> Result<Option<(&'a SlotTarget, &'p [&'p std::ffi::OsStr])>, Refused> {
    let split = |prefix: &'a str| -> Vec<&'a std::ffi::OsStr> {
        prefix
            .split('/')
            .filter(|p| !p.is_empty())
            .map(std::ffi::OsStr::new)
            .collect()
    };
    let mut best: Option<(&SlotTarget, usize)> = None;
    for s in slots {
        let sp = split(&s.prefix);
        if parts.len() >= sp.len()
            && parts[..sp.len()] == sp[..]
            && best.is_none_or(|(_, n)| sp.len() > n)
        {
            best = Some((s, sp.len()));
        }
    }
    if let Some((s, n)) = best {
        return Ok(Some((s, &parts[n..])));
    }
    let is_parent = slots.iter().any(|s| {
        let sp = split(&s.prefix);
        sp.len() > parts.len() && sp[..parts.len()] == parts[..]
    });
    if is_parent {
        Ok(None)
    } else {
        Err(Refused::NoComponent)
    }
}

/// Metadata applied once a folder's content is complete.
struct DirMeta {
    path: PathBuf,
    mode: u32,
    owner: Option<(u64, u64)>,
    mtime: (i64, u32),
}

/// What an entry's PAX records add to its header: the modification time to the
/// nanosecond, and extended attributes (POSIX ACLs included).
#[derive(Default)]
struct Extra {
    mtime: Option<(i64, u32)>,
    xattrs: Vec<(String, Vec<u8>)>,
}

impl Extra {
    /// The records Lifeboat keeps ([`capture::kept_pax`]), read.
    fn of<R: Read>(entry: &mut tar::Entry<'_, R>) -> io::Result<Self> {
        let mut out = Self::default();
        for (key, value) in capture::kept_pax(entry)? {
            if key == "mtime" {
                out.mtime = std::str::from_utf8(&value).ok().and_then(parse_pax_time);
            } else if let Some(name) = key.strip_prefix("SCHILY.xattr.") {
                out.xattrs.push((name.to_owned(), value));
            }
        }
        Ok(out)
    }

    /// Sets the extended attributes on `path` (not following a symlink). One this process
    /// may not set (`trusted.*`, `security.*` without root) is left out.
    fn apply_xattrs(&self, path: &Path) {
        let _ = with(path, |p| {
            for (name, value) in &self.xattrs {
                let _ = xattr::set(p, name, value);
            }
            Ok(())
        });
    }
}

/// A PAX time (`1700000000.123456789`) as seconds and nanoseconds.
pub(super) fn parse_pax_time(v: &str) -> Option<(i64, u32)> {
    let (secs, frac) = v.split_once('.').unwrap_or((v, ""));
    let secs: i64 = secs.parse().ok()?;
    if secs < 0 {
        return Some((secs, 0));
    }
    let digits: String = frac.chars().take(9).collect();
    let nanos = if digits.is_empty() {
        0
    } else {
        format!("{digits:0<9}").parse().ok()?
    };
    Some((secs, nanos))
}

/// Extracts `reader` (a component's tar stream) into `slots`. Returns what it wrote and
/// the SHA-256 of the whole stream, which the caller compares with the manifest.
/// `ours`: `None` when running as root, and numeric owners are restored; else this
/// process's uid and gid, and entries owned by others are reported in
/// [`Extracted::foreign`] (only root may give files away).
///
/// # Errors
/// See [`ExtractError`]. On error, staging folders hold partial content the caller removes.
pub fn extract(
    reader: impl Read,
    slots: &[SlotTarget],
    max_bytes: u64,
    ours: Option<(u64, u64)>,
    progress: &dyn Progress,
    cancel: &CancelToken,
) -> Result<Extracted, ExtractError> {
    let mut hashing = Hashing::new(reader);
    let mut archive = tar::Archive::new(&mut hashing);
    let mut x = Extraction {
        slots,
        ours,
        progress,
        cancel,
        out: Extracted::default(),
        made: HashSet::new(),
        dirs: Vec::new(),
        regular: HashSet::new(),
    };
    for entry in archive.entries().map_err(damaged)? {
        if cancel.is_cancelled() {
            return Err(ExtractError::Cancelled);
        }
        x.entry(&mut entry.map_err(damaged)?, max_bytes)?;
    }
    let _ = archive;
    // Read to the end, so the hash covers the whole stream (and age checks its last chunk).
    io::copy(&mut hashing, &mut io::sink()).map_err(damaged)?;
    x.finish_dirs()?;
    let mut out = x.out;
    (out.sha256, out.stream_bytes, _) = hashing.into_parts();
    Ok(out)
}

fn damaged(e: io::Error) -> ExtractError {
    ExtractError::Damaged(e.to_string())
}

/// An extraction under way: what it wrote so far, and what later entries are checked
/// against.
struct Extraction<'a> {
    slots: &'a [SlotTarget],
    ours: Option<(u64, u64)>,
    progress: &'a dyn Progress,
    cancel: &'a CancelToken,
    out: Extracted,
    /// Folders created in staging: the only parents entries may be written under.
    made: HashSet<PathBuf>,
    /// Their metadata, set once their content is written.
    dirs: Vec<DirMeta>,
    /// Regular files written: the only targets a hard link may have.
    regular: HashSet<PathBuf>,
}

/// What an entry's header and PAX records say about it.
struct Meta {
    mode: u32,
    /// Given back as root; `None` otherwise.
    owner: Option<(u64, u64)>,
    mtime: (i64, u32),
    extra: Extra,
}

impl<'a> Extraction<'a> {
    /// One entry: checked against the slots, its parents made, then written by kind.
    fn entry(
        &mut self,
        entry: &mut tar::Entry<'_, impl Read>,
        max_bytes: u64,
    ) -> Result<(), ExtractError> {
        let name_bytes = entry.path_bytes().into_owned();
        let name = String::from_utf8_lossy(&name_bytes).into_owned();
        let refuse = |why: Refused| ExtractError::Refused {
            name: name.clone(),
            why,
        };
        let parts = components(&name_bytes).map_err(&refuse)?;
        let Some((slot, rest)) = slot_of(self.slots, &parts).map_err(&refuse)? else {
            return Ok(());
        };
        let size = entry.header().size().map_err(damaged)?;
        if size > max_bytes {
            return Err(refuse(Refused::TooBig(size)));
        }
        let dest = self.make_parents(slot, rest).map_err(|e| match e {
            Parents::Refused(why) => refuse(why),
            Parents::Io(e) => e,
        })?;
        let meta = self.meta(entry, slot)?;
        match entry.header().entry_type() {
            tar::EntryType::Directory => self.dir(dest, meta).map_err(|e| e.named(&refuse)),
            tar::EntryType::Regular | tar::EntryType::Continuous => self
                .file(entry, dest, meta, size, &name)
                .map_err(|e| e.named(&refuse)),
            tar::EntryType::Symlink => self
                .symlink(entry, &dest, &meta)
                .map_err(|e| e.named(&refuse)),
            tar::EntryType::Link => self
                .hard_link(entry, slot, &dest)
                .map_err(|e| e.named(&refuse)),
            tar::EntryType::XGlobalHeader | tar::EntryType::XHeader => Ok(()),
            tar::EntryType::Fifo | tar::EntryType::Char | tar::EntryType::Block => {
                Err(refuse(Refused::Device))
            }
            other => Err(refuse(Refused::UnknownType(format!("{other:?}")))),
        }
    }

    /// Where the entry `rest` of `slot` goes, once every parent between the slot's staging
    /// path and it is a real folder this extraction made (the missing ones are created).
    fn make_parents(
        &mut self,
        slot: &SlotTarget,
        rest: &[&std::ffi::OsStr],
    ) -> Result<PathBuf, Parents> {
        let dest = rest.iter().fold(slot.staged.clone(), |p, c| p.join(c));
        let mut parent = slot.staged.clone();
        for c in rest.iter().take(rest.len().saturating_sub(1)) {
            ensure_dir(&parent, &mut self.made)?;
            parent.push(c);
        }
        if !rest.is_empty() {
            ensure_dir(&parent, &mut self.made)?;
        } else if let Some(p) = slot.staged.parent() {
            fs::create_dir_all(p).map_err(|e| Parents::Io(io_at(p)(e)))?;
        }
        Ok(dest)
    }

    /// The entry's mode, owner and times; as another user than root, owners that are not
    /// this process's are noted per slot.
    fn meta(
        &mut self,
        entry: &mut tar::Entry<'_, impl Read>,
        slot: &SlotTarget,
    ) -> Result<Meta, ExtractError> {
        let header = entry.header();
        let as_root = self.ours.is_none();
        let mode = header.mode().map_err(damaged)? & if as_root { 0o7777 } else { 0o777 };
        let ids = (header.uid().unwrap_or(0), header.gid().unwrap_or(0));
        if let Some(me) = self.ours {
            if ids != me && !self.out.foreign.iter().any(|(p, _, _)| *p == slot.prefix) {
                self.out.foreign.push((slot.prefix.clone(), ids.0, ids.1));
            }
        }
        let mtime = header.mtime().map_err(damaged)? as i64;
        let extra = Extra::of(entry).map_err(damaged)?;
        Ok(Meta {
            mode,
            owner: as_root.then_some(ids),
            mtime: extra.mtime.unwrap_or((mtime, 0)),
            extra,
        })
    }

    fn dir(&mut self, dest: PathBuf, meta: Meta) -> Result<(), Refusal> {
        match longpath::symlink_metadata(&dest) {
            Ok(m) if m.is_dir() && self.made.contains(&dest) => {}
            Ok(_) => return Err(Refusal::Why(Refused::FolderOverOther)),
            Err(_) => {
                with(&dest, |p| fs::create_dir(p)).map_err(io_at(&dest))?;
                self.made.insert(dest.clone());
            }
        }
        meta.extra.apply_xattrs(&dest);
        self.dirs.push(DirMeta {
            path: dest,
            mode: meta.mode,
            owner: meta.owner,
            mtime: meta.mtime,
        });
        Ok(())
    }

    fn file(
        &mut self,
        entry: &mut tar::Entry<'_, impl Read>,
        dest: PathBuf,
        meta: Meta,
        size: u64,
        name: &str,
    ) -> Result<(), Refusal> {
        let mut opts = fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = with(&dest, |p| opts.open(p)).map_err(|e| match e.kind() {
            io::ErrorKind::AlreadyExists => Refusal::Why(Refused::Duplicate),
            _ => Refusal::Error(ExtractError::Io {
                path: dest.clone(),
                source: e,
            }),
        })?;
        let n = copy_counted(entry, &mut f, self.progress, self.cancel, &dest)?;
        if n != size {
            return Err(ExtractError::Damaged(format!("{name} is truncated")).into());
        }
        meta.extra.apply_xattrs(&dest);
        set_file_meta(&f, &dest, meta.mode, meta.owner, meta.mtime)?;
        self.regular.insert(dest);
        self.out.files += 1;
        self.out.bytes += n;
        self.progress.advance(1, 0);
        Ok(())
    }

    fn symlink(
        &mut self,
        entry: &mut tar::Entry<'_, impl Read>,
        dest: &Path,
        meta: &Meta,
    ) -> Result<(), Refusal> {
        let target = entry
            .link_name()
            .map_err(damaged)?
            .ok_or(Refusal::Why(Refused::SymlinkNoTarget))?;
        if longpath::symlink_metadata(dest).is_ok() {
            return Err(Refusal::Why(Refused::Duplicate));
        }
        with(dest, |p| symlink(&target, p)).map_err(io_at(dest))?;
        if let Some(owner) = meta.owner {
            chown_nofollow(dest, owner)?;
        }
        meta.extra.apply_xattrs(dest);
        let t = filetime::FileTime::from_unix_time(meta.mtime.0, meta.mtime.1);
        with(dest, |p| filetime::set_symlink_file_times(p, t, t)).map_err(io_at(dest))?;
        Ok(())
    }

    /// A hard link: only to a regular file this extraction wrote before, in the same slot.
    fn hard_link(
        &mut self,
        entry: &mut tar::Entry<'_, impl Read>,
        slot: &SlotTarget,
        dest: &Path,
    ) -> Result<(), Refusal> {
        let target = entry
            .link_name_bytes()
            .ok_or(Refusal::Why(Refused::HardLinkNoTarget))?
            .into_owned();
        let tname = String::from_utf8_lossy(&target).into_owned();
        let tparts = components(&target).map_err(Refusal::Why)?;
        let tdest = match slot_of(self.slots, &tparts).map_err(Refusal::Why)? {
            Some((ts, trest)) if std::ptr::eq(ts, slot) => {
                trest.iter().fold(ts.staged.clone(), |p, c| p.join(c))
            }
            _ => {
                return Err(Refusal::Why(Refused::LinkOutside(tname)));
            }
        };
        if !self.regular.contains(&tdest) {
            return Err(Refusal::Why(Refused::LinkToNothing(tname)));
        }
        with(&tdest, |from| with(dest, |to| fs::hard_link(from, to))).map_err(io_at(dest))?;
        Ok(())
    }

    /// Folders last, deepest first, so writing their content did not change their times.
    fn finish_dirs(&self) -> Result<(), ExtractError> {
        for d in self.dirs.iter().rev() {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                if let Some(owner) = d.owner {
                    chown_nofollow(&d.path, owner)?;
                }
                with(&d.path, |p| {
                    fs::set_permissions(p, fs::Permissions::from_mode(d.mode))
                })
                .map_err(io_at(&d.path))?;
            }
            let t = filetime::FileTime::from_unix_time(d.mtime.0, d.mtime.1);
            with(&d.path, |p| filetime::set_file_times(p, t, t)).map_err(io_at(&d.path))?;
        }
        Ok(())
    }
}

/// Gives `path` itself (never what a symlink points to) the numeric owner `(uid, gid)`.
fn chown_nofollow(path: &Path, (uid, gid): (u64, u64)) -> Result<(), ExtractError> {
    #[cfg(unix)]
    with(path, |p| {
        std::os::unix::fs::lchown(p, Some(uid as u32), Some(gid as u32))
    })
    .map_err(io_at(path))?;
    #[cfg(not(unix))]
    let _ = (path, uid, gid);
    Ok(())
}

/// Why making an entry's parents failed.
enum Parents {
    /// A parent is not a folder this extraction made.
    Refused(Refused),
    /// The system refused.
    Io(ExtractError),
}

/// Why an entry was not written: refused (in words, named by the caller) or an error.
enum Refusal {
    Why(Refused),
    Error(ExtractError),
}

impl From<ExtractError> for Refusal {
    fn from(e: ExtractError) -> Self {
        Self::Error(e)
    }
}

impl Refusal {
    /// The error, with a refusal named by `refuse`.
    fn named(self, refuse: &impl Fn(Refused) -> ExtractError) -> ExtractError {
        match self {
            Self::Why(why) => refuse(why),
            Self::Error(e) => e,
        }
    }
}

/// Makes sure `dir` is a folder this extraction created (creating it when missing).
fn ensure_dir(dir: &Path, made: &mut HashSet<PathBuf>) -> Result<(), Parents> {
    if made.contains(dir) {
        return Ok(());
    }
    match longpath::symlink_metadata(dir) {
        Ok(m) if m.file_type().is_symlink() => {
            Err(Parents::Refused(Refused::ParentSymlink(dir.to_owned())))
        }
        Ok(m) if !m.is_dir() => Err(Parents::Refused(Refused::ParentNotFolder(dir.to_owned()))),
        Ok(_) => Err(Parents::Refused(Refused::ParentNotOurs(dir.to_owned()))),
        Err(_) => {
            with(dir, |p| fs::create_dir_all(p)).map_err(|e| Parents::Io(io_at(dir)(e)))?;
            made.insert(dir.to_owned());
            Ok(())
        }
    }
}

fn copy_counted(
    from: &mut impl Read,
    to: &mut fs::File,
    progress: &dyn Progress,
    cancel: &CancelToken,
    path: &Path,
) -> Result<u64, ExtractError> {
    use std::io::Seek;
    // Whole blocks of zeros are skipped, not written: a sparse file (a VM disk, a database
    // preallocating) comes back sparse, not fully allocated.
    const BLOCK: usize = 4096;
    let mut buf = vec![0u8; 256 * 1024];
    let mut n = 0u64;
    let mut hole = false;
    loop {
        if cancel.is_cancelled() {
            return Err(ExtractError::Cancelled);
        }
        let k = match read_full(from, &mut buf) {
            Ok(0) => break,
            Ok(k) => k,
            Err(e) => return Err(ExtractError::Damaged(e.to_string())),
        };
        for block in buf[..k].chunks(BLOCK) {
            if block.len() == BLOCK && block.iter().all(|b| *b == 0) {
                to.seek(io::SeekFrom::Current(BLOCK as i64))
                    .map_err(io_at(path))?;
                hole = true;
            } else {
                to.write_all(block).map_err(io_at(path))?;
                hole = false;
            }
        }
        n += k as u64;
        progress.advance(0, k as u64);
    }
    // A file that ends in a hole gets its length all the same.
    if hole {
        to.set_len(n).map_err(io_at(path))?;
    }
    Ok(n)
}

/// Fills `buf` as far as the reader goes (so blocks line up with the file's offsets).
fn read_full(from: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match from.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(k) => filled += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

fn set_file_meta(
    f: &fs::File,
    path: &Path,
    mode: u32,
    owner: Option<(u64, u64)>,
    mtime: (i64, u32),
) -> Result<(), ExtractError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::fchown(f, Some(uid as u32), Some(gid as u32))
                .map_err(io_at(path))?;
        }
        // After chown, which clears set-id bits.
        f.set_permissions(fs::Permissions::from_mode(mode))
            .map_err(io_at(path))?;
    }
    let t = std::time::UNIX_EPOCH + std::time::Duration::new(mtime.0.max(0) as u64, mtime.1);
    f.set_times(fs::FileTimes::new().set_modified(t).set_accessed(t))
        .map_err(io_at(path))?;
    Ok(())
}

#[cfg(unix)]
fn symlink(target: &Path, at: &Path) -> io::Result<()> {
    std::os::unix::fs::symlink(target, at)
}

#[cfg(not(unix))]
fn symlink(_target: &Path, at: &Path) -> io::Result<()> {
    Err(io::Error::other(format!(
        "{}: symlinks cannot be restored on this system",
        at.display()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    fn os(parts: &[&'static str]) -> Vec<&'static OsStr> {
        parts.iter().map(|p| OsStr::new(*p)).collect()
    }

    #[test]
    fn names_that_leave_the_target_are_refused() {
        assert!(components(b"../etc/passwd").is_err());
        assert!(components(b"data/../../x").is_err());
        assert!(components(b"/etc/passwd").is_err());
        assert_eq!(components(b"./data/a").unwrap(), os(&["data", "a"]));
    }

    #[cfg(unix)]
    #[test]
    fn names_are_bytes() {
        use std::os::unix::ffi::OsStrExt;
        let got = components(b"data/caf\xe9").unwrap();
        assert_eq!(got[1].as_bytes(), b"caf\xe9");
    }

    #[test]
    fn entries_map_to_the_longest_prefix_and_parents_are_skipped() {
        let slots = vec![
            SlotTarget {
                prefix: "data".into(),
                staged: "/s/1".into(),
            },
            SlotTarget {
                prefix: "data/db".into(),
                staged: "/s/2".into(),
            },
            SlotTarget {
                prefix: "srv/app/files".into(),
                staged: "/s/3".into(),
            },
        ];
        let name = os(&["data", "db", "x"]);
        let (s, rest) = slot_of(&slots, &name).unwrap().unwrap();
        assert_eq!((s.prefix.as_str(), rest), ("data/db", &os(&["x"])[..]));
        let name = os(&["data", "y"]);
        let (s, rest) = slot_of(&slots, &name).unwrap().unwrap();
        assert_eq!((s.prefix.as_str(), rest), ("data", &os(&["y"])[..]));
        assert!(slot_of(&slots, &os(&["srv", "app"])).unwrap().is_none());
        assert!(slot_of(&slots, &os(&["etc"])).is_err());
    }
}
