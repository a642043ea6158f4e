//! Paths longer than the system takes in one call.
//!
//! Linux refuses a path of 4096 bytes or more in any system call (`ENAMETOOLONG`), yet a
//! folder tree may go deeper than that, and its files are data like any other. [`with`]
//! hands an operation a path it accepts: the path itself when it is short enough, else
//! `/proc/self/fd/N/NAME`, where `N` is the file's parent folder, opened one stretch of
//! the path at a time relative to the stretch before. Symlinks along the way are followed
//! as a plain path lookup would follow them; the last component is the operation's own
//! (an `lstat` of it still sees a symlink).

use std::io;
use std::path::{Path, PathBuf};

/// Longest path handed to the system as it is (the limit is 4096 bytes with the NUL).
const DIRECT: usize = 4000;

/// Runs `op` on a path that reaches `path`, however long `path` is.
///
/// # Errors
/// What `op` returns, or why the parent folder of a long path could not be opened.
pub fn with<T>(path: &Path, op: impl FnOnce(&Path) -> io::Result<T>) -> io::Result<T> {
    if path.as_os_str().len() < DIRECT {
        return op(path);
    }
    let reached = reach(path)?;
    op(&reached.path)
}

/// A long path made short: the open parent folder and the path through it.
struct Reached {
    path: PathBuf,
    // Keeps `/proc/self/fd/N` valid while the path is used.
    #[cfg(target_os = "linux")]
    _parent: std::os::fd::OwnedFd,
}

#[cfg(target_os = "linux")]
fn reach(path: &Path) -> io::Result<Reached> {
    use rustix::fs::{Mode, OFlags, CWD};
    use std::os::fd::{AsFd, AsRawFd, OwnedFd};

    let too_long = || io::Error::from_raw_os_error(rustix::io::Errno::NAMETOOLONG.raw_os_error());
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(too_long());
    };
    let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let mut dir: Option<OwnedFd> = None;
    let mut stretch = PathBuf::new();
    let open = |dir: &Option<OwnedFd>, stretch: &Path| -> io::Result<OwnedFd> {
        let fd = match dir {
            Some(d) => rustix::fs::openat(d.as_fd(), stretch, flags, Mode::empty()),
            None => rustix::fs::openat(CWD, stretch, flags, Mode::empty()),
        };
        fd.map_err(io::Error::from)
    };
    for c in parent.components() {
        let c = c.as_os_str();
        if !stretch.as_os_str().is_empty() && stretch.as_os_str().len() + 1 + c.len() >= DIRECT {
            dir = Some(open(&dir, &stretch)?);
            stretch = PathBuf::new();
        }
        stretch.push(c);
    }
    if !stretch.as_os_str().is_empty() {
        dir = Some(open(&dir, &stretch)?);
    }
    let parent = dir.ok_or_else(too_long)?;
    let through = Path::new("/proc/self/fd")
        .join(parent.as_raw_fd().to_string())
        .join(name);
    Ok(Reached {
        path: through,
        _parent: parent,
    })
}

#[cfg(not(target_os = "linux"))]
fn reach(_path: &Path) -> io::Result<Reached> {
    Err(io::Error::other("the path is too long for this system"))
}

/// [`std::fs::symlink_metadata`] of a path of any length.
///
/// # Errors
/// As [`std::fs::symlink_metadata`].
pub fn symlink_metadata(path: &Path) -> io::Result<std::fs::Metadata> {
    with(path, |p| std::fs::symlink_metadata(p))
}

/// The names in folder `path` (of any length), without `.` and `..`, as full paths under
/// `path`.
///
/// # Errors
/// When the folder cannot be read.
pub fn read_dir(path: &Path) -> io::Result<Vec<PathBuf>> {
    with(path, |p| {
        std::fs::read_dir(p)?
            .map(|e| e.map(|e| path.join(e.file_name())))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tree about 5000 bytes deep, made one folder at a time.
    fn deep(root: &Path) -> PathBuf {
        let part = "p".repeat(200);
        let mut at = root.to_path_buf();
        for _ in 0..25 {
            with(&at.join(&part), |p| std::fs::create_dir(p)).unwrap();
            at.push(&part);
        }
        at
    }

    #[test]
    fn long_paths_are_reached() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = deep(tmp.path());
        assert!(dir.as_os_str().len() > 5000);
        let file = dir.join("f.txt");
        // The system refuses the path as it is.
        let refused = std::fs::write(&file, b"x").unwrap_err();
        assert_eq!(refused.raw_os_error(), Some(36), "{refused}");
        with(&file, |p| std::fs::write(p, b"deep")).unwrap();
        assert_eq!(with(&file, |p| std::fs::read(p)).unwrap(), b"deep");
        assert!(symlink_metadata(&file).unwrap().is_file());
        assert_eq!(read_dir(&dir).unwrap(), std::slice::from_ref(&file));
        // A symlink at the end is seen as a symlink, not followed.
        let link = dir.join("l");
        with(&link, |p| std::os::unix::fs::symlink("f.txt", p)).unwrap();
        assert!(symlink_metadata(&link).unwrap().file_type().is_symlink());
        assert_eq!(
            with(&link, |p| std::fs::read_link(p)).unwrap(),
            Path::new("f.txt")
        );
        // Missing is missing.
        let missing = with(&dir.join("nope"), |p| std::fs::symlink_metadata(p)).unwrap_err();
        assert_eq!(missing.kind(), io::ErrorKind::NotFound);
        // std's remove_dir_all walks by folder, so the tree goes.
        std::fs::remove_dir_all(tmp.path().join("p".repeat(200))).unwrap();
    }

    #[test]
    fn short_paths_are_used_as_they_are() {
        let seen = with(Path::new("/etc"), |p| Ok(p.to_path_buf())).unwrap();
        assert_eq!(seen, Path::new("/etc"));
    }
}
