//! Backups: a snapshot of a stack is one encrypted archive per component plus an encrypted
//! manifest, in a destination folder:
//!
//! ```text
//! DEST/README-RESTORE.txt                       how to restore with stock tools
//! DEST/lifeboat-recovery.age                    the identity, passphrase-encrypted
//! DEST/STACK/archives/SHA256.tar.gz.age         content-addressed archives
//! DEST/STACK/snapshots/ID.manifest.age          one per snapshot
//! ```
//!
//! Components are the stack's secrets (`.env`, env files, compose files) and each service's
//! data (its bind mounts and local volumes). A component whose files' metadata did not change
//! since the previous snapshot is not read again: the new manifest refers to the old archive.
//! An archive whose content already exists in the destination is not stored twice.
//!
//! Archive names are relative to the stack folder, so `age -d -i key.txt A.tar.gz.age | tar
//! xzf - -C STACK_DIR` puts files back where they were; paths outside the stack folder are
//! stored under `_host/` with their absolute path.

pub mod capture;
pub mod manifest;
pub mod prune;
pub mod verify;

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::archive::{self, ArchiveError, ArchiveWriter};
use crate::inspect::is_system_path;
use crate::job::{CancelToken, Progress};
use crate::keys::RECOVERY_FILE;
use crate::stack::{MountType, Project};
use crate::warning::{Warning, WarningCode};
use manifest::{ComponentEntry, ComponentKind, FileEntry, Manifest, ManifestError, Recipe};

/// The plain-text note written at the top of every destination.
pub const README_NAME: &str = "README-RESTORE.txt";

/// Why a backup failed. Nothing it wrote is a snapshot until the manifest exists.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackupError {
    /// The destination folder is not there (a drive not plugged in).
    #[error(
        "the backup destination {0} does not exist: plug in the drive or choose another folder"
    )]
    DestinationMissing(PathBuf),
    /// Writing to the destination failed.
    #[error("writing the backup failed: {0}")]
    Archive(#[from] ArchiveError),
    /// The previous manifest could not be read.
    #[error("reading the previous snapshot failed: {0}")]
    Manifest(#[from] ManifestError),
    /// A component could not be captured.
    #[error("backing up {component} failed: {reason}")]
    Capture {
        /// The component.
        component: String,
        /// What went wrong.
        reason: String,
    },
    /// `--only` named something that is not a component.
    #[error("{0} is not a service of this stack (or `secrets`)")]
    UnknownComponent(String),
    /// The user cancelled; nothing was kept.
    #[error("the backup was cancelled; no snapshot was written")]
    Cancelled,
}

/// How to back up.
#[derive(Debug, Clone)]
pub struct BackupOptions {
    /// The destination folder.
    pub dest: PathBuf,
    /// Only these services (and `secrets`); empty: everything.
    pub only: Vec<String>,
    /// Compression threads.
    pub threads: usize,
}

impl BackupOptions {
    /// Everything to `dest`, with all cores.
    pub fn new(dest: impl Into<PathBuf>) -> Self {
        Self {
            dest: dest.into(),
            only: Vec::new(),
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
        }
    }
}

/// One component of a finished backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ComponentReport {
    /// Its name.
    pub name: String,
    /// What it holds.
    pub kind: ComponentKind,
    /// How it was captured.
    pub recipe: Recipe,
    /// The archive's absolute path.
    pub archive: String,
    /// Plaintext bytes.
    #[ts(type = "number")]
    pub bytes_in: u64,
    /// Bytes of the archive file.
    #[ts(type = "number")]
    pub bytes_stored: u64,
    /// SHA-256 of the plaintext.
    pub sha256: String,
    /// Unchanged since an earlier snapshot: nothing new was stored.
    pub reused: bool,
    /// Regular files in it.
    #[ts(type = "number")]
    pub files: u64,
}

/// A finished backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct BackupReport {
    /// The snapshot's id.
    pub snapshot: String,
    /// The stack's name.
    pub stack: String,
    /// When it started (Unix seconds).
    #[ts(type = "number")]
    pub started: i64,
    /// How long it took.
    #[ts(type = "number")]
    pub duration_ms: u64,
    /// How long services were stopped.
    #[ts(type = "number")]
    pub downtime_ms: u64,
    /// The manifest's absolute path.
    pub manifest: String,
    /// The components.
    pub components: Vec<ComponentReport>,
    /// What to know.
    pub warnings: Vec<Warning>,
}

/// The destination folder of one stack.
pub fn stack_dest(dest: &Path, stack: &str) -> PathBuf {
    dest.join(stack)
}

/// A planned component: its name and the host paths it captures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    /// `secrets` or `service-NAME`.
    pub name: String,
    /// What it holds.
    pub kind: ComponentKind,
    /// Its service.
    pub service: Option<String>,
    /// Host folders and files, none inside another.
    pub roots: Vec<PathBuf>,
}

/// Which components a backup of `project` has, and warnings about data it cannot include.
pub fn plan(
    project: &Project,
    only: &[String],
) -> Result<(Vec<Planned>, Vec<Warning>), BackupError> {
    for o in only {
        if o != "secrets" && project.service(o).is_none() {
            return Err(BackupError::UnknownComponent(o.clone()));
        }
    }
    let wanted = |n: &str| only.is_empty() || only.iter().any(|o| o == n);
    let mut warnings = Vec::new();
    let mut claimed: Vec<PathBuf> = Vec::new();
    let mut out = Vec::new();
    let claim = |roots: Vec<PathBuf>, claimed: &mut Vec<PathBuf>| -> Vec<PathBuf> {
        let mut roots = roots;
        roots.sort();
        roots.dedup();
        let mut kept: Vec<PathBuf> = Vec::new();
        for r in roots {
            if claimed.iter().any(|c| r.starts_with(c)) || kept.iter().any(|k| r.starts_with(k)) {
                continue;
            }
            kept.push(r);
        }
        claimed.extend(kept.iter().cloned());
        kept
    };

    let mut secrets: Vec<PathBuf> = project.compose_files.clone();
    secrets.extend(project.dotenv.clone());
    for s in &project.services {
        secrets.extend(
            s.env_files
                .iter()
                .filter(|e| e.path.is_file())
                .map(|e| e.path.clone()),
        );
    }
    let secrets = claim(secrets, &mut claimed);
    if wanted("secrets") && !secrets.is_empty() {
        out.push(Planned {
            name: "secrets".into(),
            kind: ComponentKind::Secrets,
            service: None,
            roots: secrets,
        });
    }
    for s in &project.services {
        let mut roots = Vec::new();
        for m in &s.mounts {
            match (m.kind, &m.host_path) {
                (MountType::Bind | MountType::Volume, Some(p))
                    if !is_system_path(p) && p.exists() =>
                {
                    roots.push(p.clone());
                }
                (MountType::Volume, None) if wanted(&s.name) => {
                    warnings.push(
                        Warning::new(
                            WarningCode::VolumeNotBackedUp,
                            format!(
                                "{}'s volume at {} lives inside Docker and was not backed up: this Lifeboat \
                                 backs up bind mounts and local folders only.",
                                s.name, m.target
                            ),
                        )
                        .service(&s.name),
                    );
                }
                _ => {}
            }
        }
        let roots = claim(roots, &mut claimed);
        if wanted(&s.name) && !roots.is_empty() {
            out.push(Planned {
                name: format!("service-{}", s.name),
                kind: ComponentKind::Service,
                service: Some(s.name.clone()),
                roots,
            });
        }
    }
    Ok((out, warnings))
}

/// Snapshot ids sort by time, to the millisecond: `20261122T221500.123Z-1a2b`.
fn snapshot_id(at: std::time::SystemTime) -> String {
    let since = at.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let (y, mo, d, h, mi, s) = civil(since.as_secs() as i64);
    format!(
        "{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}.{:03}Z-{:04x}",
        since.subsec_millis(),
        (since.subsec_nanos() ^ std::process::id()) & 0xffff
    )
}

/// UTC calendar date and time of a Unix time (Howard Hinnant's days-from-civil, inverted).
pub fn civil(unix: i64) -> (i64, u32, u32, u32, u32, u32) {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        y,
        m,
        d,
        (secs / 3600) as u32,
        ((secs % 3600) / 60) as u32,
        (secs % 60) as u32,
    )
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

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Backs up `project` to `opts.dest`, encrypted to `identity`'s recipient.
///
/// # Errors
/// See [`BackupError`]. On error or cancel no manifest is written, so no snapshot exists;
/// `*.partial` files of this run are removed.
pub fn backup(
    project: &Project,
    identity: &age::x25519::Identity,
    opts: &BackupOptions,
    progress: &dyn Progress,
    cancel: &CancelToken,
) -> Result<BackupReport, BackupError> {
    let clock = Instant::now();
    let started_at = std::time::SystemTime::now();
    let started = now();
    let snapshot = snapshot_id(started_at);
    if !opts.dest.is_dir() {
        return Err(BackupError::DestinationMissing(opts.dest.clone()));
    }
    let recipient = identity.to_public();
    let sdest = stack_dest(&opts.dest, &project.name);
    let archives_dir = sdest.join("archives");
    let snapshots_dir = sdest.join("snapshots");
    for d in [&archives_dir, &snapshots_dir] {
        std::fs::create_dir_all(d).map_err(|source| ArchiveError::Io {
            path: d.clone(),
            source,
        })?;
    }
    let previous = match manifest_paths(&opts.dest, &project.name).last() {
        Some(p) => Some(Manifest::read(p, identity)?),
        None => None,
    };

    let (planned, mut warnings) = plan(project, &opts.only)?;
    let mut entries_out = Vec::new();
    let mut reports = Vec::new();
    let mut partials: Vec<PathBuf> = Vec::new();
    let result = (|| -> Result<(), BackupError> {
        for (i, c) in planned.iter().enumerate() {
            if cancel.is_cancelled() {
                return Err(BackupError::Cancelled);
            }
            progress.phase(&c.name);
            let entries = capture::collect(&c.roots, &project.dir, &mut warnings);
            let fingerprint = capture::fingerprint(&entries);
            let prev = previous.as_ref().and_then(|m| {
                let pc = m.components.iter().find(|pc| pc.name == c.name)?;
                let unchanged = pc.fingerprint == fingerprint
                    && archives_dir.join(&pc.archive).is_file()
                    && !capture::racy(&entries, m.started);
                unchanged.then(|| pc.clone())
            });
            let entry = match prev {
                Some(pc) => {
                    progress.advance(pc.files.len() as u64, pc.bytes_in);
                    ComponentEntry {
                        reused: true,
                        bytes_stored: pc.bytes_stored,
                        ..pc
                    }
                }
                None => {
                    let partial = archives_dir
                        .join(format!(".{}-{i}.tar.gz.age.partial", std::process::id()));
                    let _ = std::fs::remove_file(&partial);
                    partials.push(partial.clone());
                    let writer = ArchiveWriter::create(
                        &partial,
                        std::slice::from_ref(&recipient),
                        opts.threads,
                    )?;
                    let (captured, writer) =
                        capture::write_tar(&entries, writer, progress, cancel, &mut warnings)
                            .map_err(|e| match e {
                                capture::CaptureError::Cancelled => BackupError::Cancelled,
                                capture::CaptureError::Io(source) => {
                                    BackupError::Archive(ArchiveError::Io {
                                        path: partial.clone(),
                                        source,
                                    })
                                }
                                other => BackupError::Capture {
                                    component: c.name.clone(),
                                    reason: other.to_string(),
                                },
                            })?;
                    let written = writer.finish()?;
                    let name = format!("{}.tar.gz.age", written.sha256);
                    let final_path = archives_dir.join(&name);
                    let reused = final_path.is_file();
                    if reused {
                        std::fs::remove_file(&written.partial).map_err(|source| {
                            ArchiveError::Io {
                                path: written.partial.clone(),
                                source,
                            }
                        })?;
                    } else {
                        archive::commit(&written.partial, &final_path).map_err(|source| {
                            ArchiveError::Io {
                                path: final_path.clone(),
                                source,
                            }
                        })?;
                    }
                    ComponentEntry {
                        name: c.name.clone(),
                        kind: c.kind,
                        service: c.service.clone(),
                        recipe: if captured.sqlite.is_empty() {
                            Recipe::Files
                        } else {
                            Recipe::FilesSqliteOnline
                        },
                        archive: name,
                        sha256: written.sha256,
                        bytes_in: written.bytes_in,
                        bytes_stored: if reused {
                            std::fs::metadata(&final_path).map_or(0, |m| m.len())
                        } else {
                            written.bytes_stored
                        },
                        reused,
                        fingerprint,
                        roots: c.roots.iter().map(|r| r.display().to_string()).collect(),
                        sqlite: captured.sqlite,
                        files: captured
                            .files
                            .into_iter()
                            .map(|(path, bytes)| FileEntry { path, bytes })
                            .collect(),
                    }
                }
            };
            reports.push(ComponentReport {
                name: entry.name.clone(),
                kind: entry.kind,
                recipe: entry.recipe,
                archive: archives_dir.join(&entry.archive).display().to_string(),
                bytes_in: entry.bytes_in,
                bytes_stored: entry.bytes_stored,
                sha256: entry.sha256.clone(),
                reused: entry.reused,
                files: entry.files.len() as u64,
            });
            entries_out.push(entry);
        }
        Ok(())
    })();
    for p in &partials {
        let _ = std::fs::remove_file(p);
    }
    result?;

    if !opts.dest.join(RECOVERY_FILE).is_file() {
        warnings.push(Warning::new(
            WarningCode::RecoveryFileMissing,
            format!(
                "{} has no recovery file: if this computer is lost, these backups cannot be opened. \
                 Run `lifeboat key export-recovery --to {}` and choose a passphrase.",
                opts.dest.display(),
                opts.dest.display()
            ),
        ));
    }
    let manifest = Manifest {
        format: manifest::FORMAT,
        lifeboat_version: crate::VERSION.into(),
        snapshot: snapshot.clone(),
        stack: project.name.clone(),
        stack_dir: project.dir.display().to_string(),
        started,
        duration_ms: clock.elapsed().as_millis() as u64,
        downtime_ms: 0,
        images: project
            .services
            .iter()
            .filter_map(|s| Some((s.name.clone(), s.image.clone()?)))
            .collect(),
        components: entries_out,
        warnings: warnings.clone(),
    };
    let manifest_path = snapshots_dir.join(format!("{snapshot}.manifest.age"));
    manifest.write(&manifest_path, &recipient)?;
    write_readme(&opts.dest);
    Ok(BackupReport {
        snapshot,
        stack: project.name.clone(),
        started,
        duration_ms: clock.elapsed().as_millis() as u64,
        downtime_ms: 0,
        manifest: manifest_path.display().to_string(),
        components: reports,
        warnings,
    })
}

fn write_readme(dest: &Path) {
    let path = dest.join(README_NAME);
    if path.exists() {
        return;
    }
    let text = format!(
        "These are Lifeboat backups of Docker Compose stacks (Lifeboat {}).\n\n\
         Each STACK/archives/*.tar.gz.age file is one part of a stack (its secrets, or one service's\n\
         data): a tar archive, gzip-compressed, encrypted with age. You can restore one without Lifeboat:\n\n\
         \x20   age -d -i key.txt STACK/archives/FILE.tar.gz.age | tar -xzpf - --numeric-owner -C /path/to/stack\n\n\
         key.txt is your backup key. Lifeboat keeps it in your system keyring; if that is gone, recover it\n\
         from {RECOVERY_FILE} with the passphrase you chose:\n\n\
         \x20   age -d -o key.txt {RECOVERY_FILE}\n\n\
         STACK/snapshots/*.manifest.age lists what each snapshot holds (JSON, decrypt it the same way).\n\
         With Lifeboat: `lifeboat snapshots --to THIS_FOLDER`, then `lifeboat restore`.\n",
        crate::VERSION
    );
    let partial = dest.join(format!("{README_NAME}.partial"));
    if std::fs::write(&partial, text).is_ok() {
        let _ = archive::commit(&partial, &path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil(0), (1970, 1, 1, 0, 0, 0));
        assert_eq!(civil(951_782_400), (2000, 2, 29, 0, 0, 0));
        assert_eq!(civil(1_795_389_296), (2026, 11, 22, 23, 14, 56));
    }
}
