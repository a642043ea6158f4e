//! The layout of a backup destination: one folder per stack (`DEST/STACK/`), holding
//! `snapshots/` (encrypted manifests) and `archives/` (encrypted component archives).
//! Beside the stacks' folders: the recovery file and kit ([`crate::keys`]) and
//! `README-RESTORE.txt`.

use std::path::{Path, PathBuf};

/// The destination folder of one stack.
pub fn stack_dest(dest: &Path, stack: &str) -> PathBuf {
    dest.join(stack)
}

/// Manifests of a stack in a destination, oldest first.
pub fn manifest_paths(dest: &Path, stack: &str) -> Vec<PathBuf> {
    let dir = stack_dest(dest, stack).join("snapshots");
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.to_string_lossy().ends_with(".manifest.age"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// The stacks that have snapshots in `dest`.
pub fn stacks_in(dest: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dest)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter(|e| e.path().join("snapshots").is_dir())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}
