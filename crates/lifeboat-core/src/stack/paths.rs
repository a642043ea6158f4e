//! What a host path is to a stack: part of the system rather than its data, or ignored by
//! the git work tree that holds the stack folder.

use std::path::Path;

const SYSTEM_PREFIXES: [&str; 13] = [
    "/etc",
    "/proc",
    "/sys",
    "/dev",
    "/run",
    "/var/run",
    "/usr",
    "/lib",
    "/lib64",
    "/bin",
    "/sbin",
    "/boot",
    "/tmp/.X11-unix",
];

/// Folders that hold a whole system or everyone's files, not one stack's data: mounted
/// whole (cAdvisor's `/:/rootfs`, node-exporter's `/:/host`), they are left out. Folders
/// below them (`/home/me/photos`, `/srv/app`) are data like any other.
const WHOLE_SYSTEM: [&str; 11] = [
    "/",
    "/var",
    "/var/lib",
    "/var/lib/docker",
    "/home",
    "/root",
    "/tmp",
    "/srv",
    "/mnt",
    "/media",
    "/opt",
];

/// Whether a host path belongs to the system (`/etc/localtime`, the Docker socket, `/`,
/// `/var`, `/home`), not to a stack's data.
pub fn is_system_path(p: &Path) -> bool {
    SYSTEM_PREFIXES.iter().any(|s| p.starts_with(s))
        || WHOLE_SYSTEM.iter().any(|s| p == Path::new(s))
        || p.file_name().is_some_and(|n| n == "docker.sock")
}

/// Whether a host path is a whole system's folder (`/`, `/var`, `/home`, `/etc`, `/run`)
/// or the Docker socket: a mount of it is worth a word when left out, unlike a mount of
/// `/etc/localtime`.
pub fn is_whole_system(p: &Path) -> bool {
    WHOLE_SYSTEM
        .iter()
        .chain(&["/etc", "/run", "/var/run"])
        .any(|s| p == Path::new(s))
        || p.file_name().is_some_and(|n| n == "docker.sock")
}

/// Whether git ignores `path` (`None`: not in a git work tree, or git is not installed).
pub fn git_ignores(dir: &Path, path: &Path) -> Option<bool> {
    let inside = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["rev-parse", "--is-inside-work-tree"])
        .output()
        .ok()?;
    if !inside.status.success() {
        return None;
    }
    let status = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["check-ignore", "-q", "--"])
        .arg(path)
        .status()
        .ok()?;
    match status.code() {
        Some(0) => Some(true),
        Some(1) => Some(false),
        _ => None,
    }
}
