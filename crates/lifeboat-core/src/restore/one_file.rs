//! One file out of a snapshot, written into a folder the person chooses (never over a file
//! that is there). From pieces it reads only the pieces that hold the file: the manifest
//! records where the file's tar entry starts (`at`: piece and offset), so a config file of
//! a component of many gigabytes costs a piece or two. Older snapshots (one archive per
//! component, or no `at`) are read from the start of the component until the file.

use std::fs;
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

use serde::Serialize;

use super::{find_snapshot, RestoreError};
use crate::archive::Hashing;
use crate::backup::manifest::FileEntry;
use crate::backup::source::Source;
use crate::longpath;

/// Bytes allowed for a file's tar headers (its PAX records with a long name and extended
/// attributes, then its own header) when working out which pieces hold it. A file whose
/// headers are larger is still restored: its component is then read on to the end.
const HEADERS: u64 = 64 << 10;

/// What [`restore_file`] wrote.
#[derive(Debug, Clone, Serialize)]
pub struct OneFile {
    /// The snapshot it came from.
    pub snapshot: String,
    /// The component that holds it.
    pub component: String,
    /// Its name in the snapshot.
    pub file: String,
    /// Where it was written.
    pub written: String,
    /// Its bytes.
    pub bytes: u64,
    /// Pieces read to get it (0 for an archive of the earlier format).
    pub pieces_read: usize,
    /// Pieces of its component.
    pub pieces_total: usize,
}

/// Writes the file named `name` (as the snapshot names it: `data/n8n/config`,
/// `_volumes/NAME/…`) of `snapshot` in `from` to `into/name`, with its mode and time (and
/// its owner, as root). Its content is checked against the SHA-256 the manifest recorded
/// before it gets its name; a partial file is never left.
///
/// # Errors
/// No such snapshot or file, a file already at the target, or a piece that is missing or
/// damaged (named).
pub fn restore_file(
    from: &Path,
    stack: Option<&str>,
    snapshot: &str,
    name: &str,
    into: &Path,
    identity: &age::x25519::Identity,
) -> Result<OneFile, RestoreError> {
    let m = find_snapshot(from, stack, snapshot, identity)?;
    let wanted = name.trim_start_matches("./");
    let found = m.components.iter().find_map(|c| {
        c.files
            .iter()
            .find(|f| f.path == wanted)
            .map(|f| (c, f.clone()))
    });
    let no_such = || RestoreError::NoSuchFile {
        name: wanted.to_owned(),
        snapshot: m.snapshot.clone(),
    };
    let (component, file) = found.ok_or_else(no_such)?;
    let raw = raw_name(&file);
    let rel = relative(&raw).ok_or_else(no_such)?;
    let target = into.join(&rel);
    if longpath::symlink_metadata(&target).is_ok() {
        return Err(RestoreError::FileExists(target));
    }
    let source = Source::of(component, from, &m.stack);
    let total = component.pieces.len();
    let first = read_entry(&source, &file, &raw, &target, identity, true)?;
    let (bytes, read) = match first {
        Some(done) => done,
        // Its headers were larger than allowed for: read on to the component's end.
        None => read_entry(&source, &file, &raw, &target, identity, false)?.ok_or_else(no_such)?,
    };
    Ok(OneFile {
        snapshot: m.snapshot.clone(),
        component: component.name.clone(),
        file: wanted.to_owned(),
        written: target.display().to_string(),
        bytes,
        pieces_read: read,
        pieces_total: total,
    })
}

/// The file's name in the archive, byte for byte.
fn raw_name(f: &FileEntry) -> Vec<u8> {
    f.raw
        .as_deref()
        .and_then(crate::archive::unhex)
        .unwrap_or_else(|| f.path.as_bytes().to_vec())
}

/// `raw` as a relative path that stays inside the folder it is joined to.
fn relative(raw: &[u8]) -> Option<PathBuf> {
    let p = super::bytes_path(raw.to_vec());
    let ok = p.components().all(|c| matches!(c, Component::Normal(_)));
    (ok && !raw.is_empty()).then_some(p)
}

/// Reads the component from where `file`'s entry starts (only the pieces that hold it when
/// `just_enough`) and writes its content to `target`. `None` when the pieces read ended
/// before the entry did.
fn read_entry(
    source: &Source,
    file: &FileEntry,
    raw: &[u8],
    target: &Path,
    identity: &age::x25519::Identity,
    just_enough: bool,
) -> Result<Option<(u64, usize)>, RestoreError> {
    let at_list = |e: io::Error| RestoreError::Io {
        path: source.path().to_owned(),
        source: e,
    };
    // Where the entry starts, for pieces; an archive is read from its start.
    let at = file.at.filter(|_| matches!(source, Source::Pieces { .. }));
    let (first, skip) = at.map_or((0, 0), |(index, offset)| (index as usize, offset));
    let need = just_enough.then_some(skip + file.bytes + HEADERS);
    let (mut stream, read) = source.open_span(identity, first, need)?;
    io::copy(&mut (&mut stream).take(skip), &mut io::sink()).map_err(at_list)?;
    let mut archive = tar::Archive::new(stream);
    let entries = archive.entries().map_err(at_list)?;
    for entry in entries {
        let mut entry = match entry {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof && just_enough => return Ok(None),
            Err(e) => return Err(at_list(e)),
        };
        if entry.path_bytes().as_ref() != raw {
            if at.is_some() {
                // The entry at the recorded place is another: the manifest and the
                // pieces disagree.
                return Err(at_list(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "the snapshot's record of where {} starts is wrong (found {})",
                        file.path,
                        String::from_utf8_lossy(&entry.path_bytes())
                    ),
                )));
            }
            continue;
        }
        if entry.header().entry_type() != tar::EntryType::Regular
            && entry.header().entry_type() != tar::EntryType::Continuous
        {
            return Err(at_list(io::Error::other(format!(
                "{} is not stored as a regular file in the snapshot (a link?)",
                file.path
            ))));
        }
        return match write_file(&mut entry, file, target) {
            Ok(bytes) => Ok(Some((bytes, read))),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof && just_enough => Ok(None),
            Err(e) => Err(RestoreError::Io {
                path: target.to_owned(),
                source: e,
            }),
        };
    }
    if just_enough {
        return Ok(None);
    }
    Err(at_list(io::Error::new(
        io::ErrorKind::NotFound,
        format!("{} is not in the component's stream", file.path),
    )))
}

/// Writes the entry's content beside `target` under a temporary name, checks it, gives it
/// its mode, time (and owner as root), and renames it into place.
fn write_file(
    entry: &mut tar::Entry<'_, impl Read>,
    file: &FileEntry,
    target: &Path,
) -> io::Result<u64> {
    let dir = target.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let as_root = super::running_as_root(dir);
    // The PAX record's time has nanoseconds; the header's, seconds.
    let pax_time = entry.pax_extensions().ok().flatten().and_then(|records| {
        records.filter_map(Result::ok).find_map(|r| {
            (r.key() == Ok("mtime"))
                .then(|| r.value().ok().and_then(super::extract::parse_pax_time))
                .flatten()
        })
    });
    let mtime = pax_time.or_else(|| {
        entry
            .header()
            .mtime()
            .ok()
            .and_then(|m| i64::try_from(m).ok())
            .map(|s| (s, 0))
    });
    let partial = dir.join(format!(
        ".{}.lifeboat-partial",
        target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    ));
    let _ = fs::remove_file(&partial);
    let written = (|| -> io::Result<u64> {
        let mut out = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&partial)?;
        let mut content = Hashing::new(entry.take(file.bytes));
        let bytes = io::copy(&mut content, &mut out)?;
        if bytes != file.bytes {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{} ended after {bytes} of {} bytes", file.path, file.bytes),
            ));
        }
        let (sha, _, _) = content.into_parts();
        if let Some(want) = file.sha256.as_deref().filter(|w| *w != sha) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{} does not hold what the snapshot recorded (SHA-256 {sha}, not {want})",
                    file.path
                ),
            ));
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let header = entry.header();
            if let (Ok(uid), Ok(gid), true) = (header.uid(), header.gid(), as_root) {
                let id = |n: u64| u32::try_from(n).ok();
                std::os::unix::fs::fchown(&out, id(uid), id(gid))?;
            }
            if let Ok(mode) = header.mode() {
                out.set_permissions(fs::Permissions::from_mode(mode & 0o7777))?;
            }
        }
        if let Some((secs, nanos)) = mtime {
            let t = filetime::FileTime::from_unix_time(secs, nanos);
            filetime::set_file_handle_times(&out, Some(t), Some(t))?;
        }
        out.sync_all()?;
        Ok(bytes)
    })();
    match written {
        Ok(bytes) => {
            fs::rename(&partial, target)?;
            Ok(bytes)
        }
        Err(e) => {
            let _ = fs::remove_file(&partial);
            Err(e)
        }
    }
}
