//! Listing and verifying snapshots in a destination. Quick verification proves that every
//! manifest decrypts and every archive it names is there and opens with the key; deep
//! verification reads every archive to its end and compares the SHA-256 of its plaintext.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::manifest::Manifest;
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
    /// Bytes this snapshot added to the destination.
    #[ts(type = "number")]
    pub bytes_new: u64,
    /// Warnings it had.
    #[ts(type = "number")]
    pub warnings: u64,
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

/// Lists snapshots, decrypting their manifests.
///
/// # Errors
/// When a manifest does not decrypt with `identity`.
pub fn list(
    dest: &Path,
    stack: Option<&str>,
    identity: &age::x25519::Identity,
) -> Result<Vec<SnapshotSummary>, super::manifest::ManifestError> {
    all_manifests(dest, stack)
        .into_iter()
        .map(|(_, p)| {
            let m = Manifest::read(&p, identity)?;
            Ok(SnapshotSummary {
                snapshot: m.snapshot,
                stack: m.stack,
                started: m.started,
                duration_ms: m.duration_ms,
                components: m.components.iter().map(|c| c.name.clone()).collect(),
                bytes_in: m.components.iter().map(|c| c.bytes_in).sum(),
                bytes_new: m
                    .components
                    .iter()
                    .filter(|c| !c.reused)
                    .map(|c| c.bytes_stored)
                    .sum(),
                warnings: m.warnings.len() as u64,
            })
        })
        .collect()
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
}

/// Verifies `snapshot` (or every snapshot) in `dest`.
pub fn verify(
    dest: &Path,
    snapshot: Option<&str>,
    deep: bool,
    identity: &age::x25519::Identity,
    progress: &dyn Progress,
) -> VerifyReport {
    let mut report = VerifyReport {
        snapshots: 0,
        archives: 0,
        bytes_read: 0,
        deep,
        problems: Vec::new(),
    };
    let mut checked: std::collections::HashMap<PathBuf, Option<String>> =
        std::collections::HashMap::new();
    for (stack, path) in all_manifests(dest, None) {
        let file_id = path
            .file_name()
            .map(|n| n.to_string_lossy().replace(".manifest.age", ""))
            .unwrap_or_default();
        if snapshot.is_some_and(|s| s != file_id) {
            continue;
        }
        report.snapshots += 1;
        let m = match Manifest::read(&path, identity) {
            Ok(m) => m,
            Err(e) => {
                report.problems.push(Problem {
                    snapshot: file_id,
                    component: None,
                    message: e.to_string(),
                });
                continue;
            }
        };
        for c in &m.components {
            let apath = stack_dest(dest, &stack).join("archives").join(&c.archive);
            progress.phase(&format!("{} {}", m.snapshot, c.name));
            let outcome = checked
                .entry(apath.clone())
                .or_insert_with(|| {
                    report.archives += 1;
                    check_archive(
                        &apath,
                        &c.sha256,
                        c.bytes_in,
                        deep,
                        identity,
                        &mut report.bytes_read,
                    )
                    .err()
                })
                .clone();
            if let Some(message) = outcome {
                report.problems.push(Problem {
                    snapshot: m.snapshot.clone(),
                    component: Some(c.name.clone()),
                    message,
                });
            }
            progress.advance(1, if deep { c.bytes_in } else { 0 });
        }
    }
    if snapshot.is_some() && report.snapshots == 0 {
        report.problems.push(Problem {
            snapshot: snapshot.unwrap_or_default().to_owned(),
            component: None,
            message: "no such snapshot in this destination; `lifeboat snapshots` lists them".into(),
        });
    }
    report
}

fn check_archive(
    path: &Path,
    sha256: &str,
    bytes_in: u64,
    deep: bool,
    identity: &age::x25519::Identity,
    bytes_read: &mut u64,
) -> Result<(), String> {
    if !path.is_file() {
        return Err(format!("the archive {} is missing", path.display()));
    }
    if deep {
        let (sha, n) = archive::hash_archive(path, identity).map_err(|e| e.to_string())?;
        *bytes_read += n;
        if sha != sha256 || n != bytes_in {
            return Err(format!(
                "{}: the content does not match the manifest (damaged or replaced)",
                path.display()
            ));
        }
    } else {
        let mut r = archive::open(path, identity).map_err(|e| e.to_string())?;
        let mut first = [0u8; 512];
        r.read_exact(&mut first)
            .map_err(|e| archive::damaged(path, &e).to_string())?;
    }
    Ok(())
}
