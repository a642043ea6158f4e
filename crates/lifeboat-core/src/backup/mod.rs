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
pub mod checked;
pub mod cold;
pub mod dump;
pub mod filecache;
pub mod manifest;
pub mod markers;
mod plan;
pub mod prune;
pub mod rows;
mod run;
mod snapshot;
pub mod source;
pub mod verify;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::archive::{self, ArchiveError};
use crate::catalog::Catalog;
pub use crate::destination::{manifest_paths, stack_dest};
use crate::docker::{BlockingEngine, ContainerInfo};
use crate::job::{CancelToken, Progress};
use crate::keys::RECOVERY_FILE;
pub use crate::settings::{Keep, Mode, StackSettings};
use crate::stack::is_system_path;
use crate::stack::{MountType, Project, ServiceKind};
use crate::warning::{Warning, WarningCode};
use dump::DumpRecipe;
use manifest::{ComponentKind, Manifest, ManifestError, Recipe};
pub use plan::plan;
pub use run::{backup_stack, RunError, StackBackup};

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
    /// A database's dump failed or failed its check.
    #[error("backing up {component} failed: {source}")]
    Dump {
        /// The component.
        component: String,
        /// What went wrong.
        #[source]
        source: dump::DumpError,
    },
    /// Redis did not write its dump file.
    #[error("backing up {component} failed: {source}")]
    Redis {
        /// The component.
        component: String,
        /// What went wrong.
        #[source]
        source: RedisSaveError,
    },
    /// The services that must be stopped for a consistent copy could not be stopped.
    #[error("backing up the stack failed: {0}")]
    Stop(#[from] cold::StopError),
    /// `--only` named something that is not a component.
    #[error("{0} is not a service of this stack (or `secrets`)")]
    UnknownComponent(String),
    /// The user cancelled; nothing was kept.
    #[error("the backup was cancelled; no snapshot was written")]
    Cancelled,
    /// The stack's pre-backup hook failed (its sentence, with its output); nothing was read.
    #[error("{0}; no snapshot was written")]
    Hook(String),
    /// A backup or restore of the stack folder is running (in this or another Lifeboat).
    #[error("a backup or restore of {} is running; wait for it to finish", .0.display())]
    StackBusy(PathBuf),
    /// Another backup of the same stack to the same destination is running.
    #[error("another backup of {0} to this destination is running; wait for it to finish")]
    Busy(String),
    /// Something the backup meant to include could not be captured, and the person did not
    /// accept a partial snapshot; nothing was kept.
    #[error(
        "the backup could not capture everything, so no snapshot was written: {} Fix that and \
         back up again, or accept a snapshot without it (`--allow-partial`).",
        .0.join(" ")
    )]
    Incomplete(Vec<String>),
    /// A SQLite database only the engine can read, while its service runs (auto mode then
    /// stops the service for the copy and backs up again; hot mode fails).
    #[error("backing up {component} failed: {source}")]
    LiveSqlite {
        /// The component.
        component: String,
        /// The service to stop for the copy.
        service: String,
        /// What was found.
        source: capture::CaptureError,
    },
    /// Something could not be read while the backup ran; the snapshot holds everything
    /// else and is marked partial.
    #[error(
        "snapshot {snapshot} was written without {} item(s) it meant to hold, and is marked partial: {} \
         Fix that and back up again.",
        .missing.len(),
        .missing.join(" ")
    )]
    Partial {
        /// The partial snapshot.
        snapshot: String,
        /// What it lacks, as sentences.
        missing: Vec<String>,
    },
    /// The destination holds backups of another stack with the same name.
    #[error(
        "{} holds backups of another stack named {name}{}; two stacks cannot share a name in one \
         destination. Give this one its own name (`name:` in its compose file), or back it up \
         to another folder. If it is the same stack, moved or copied here, back up with \
         `--adopt` to go on with its backups.",
        .dest.display(),
        .other.as_deref().map(|d| format!(" (from {d})")).unwrap_or_default()
    )]
    NameTaken {
        /// The stack's destination folder.
        dest: PathBuf,
        /// The name.
        name: String,
        /// The folder the other stack's newest backup came from, when known.
        other: Option<String>,
    },
    /// The snapshot was written, but services it stopped could not be started again.
    #[error("snapshot {snapshot} was written, but {}", .errors.join(" "))]
    NotRestarted {
        /// The snapshot that was written.
        snapshot: String,
        /// What could not be started, as sentences.
        errors: Vec<String>,
    },
}

impl BackupError {
    /// A short, stable code for scripts (`--json`) and the desktop.
    pub fn code(&self) -> &'static str {
        match self {
            Self::DestinationMissing(_) => "destination_missing",
            Self::Archive(_) => "write_failed",
            Self::Manifest(_) => "previous_snapshot_unreadable",
            Self::Capture { .. } | Self::Dump { .. } | Self::Redis { .. } | Self::Stop(_) => {
                "capture_failed"
            }
            Self::UnknownComponent(_) => "unknown_component",
            Self::Cancelled => "cancelled",
            Self::Hook(_) => "hook_failed",
            Self::Busy(_) | Self::StackBusy(_) => "busy",
            Self::Incomplete(_) => "incomplete",
            Self::LiveSqlite { .. } => "live_database",
            Self::NotRestarted { .. } => "not_restarted",
            Self::Partial { .. } => "partial",
            Self::NameTaken { .. } => "name_taken",
        }
    }
}

/// Warnings that mean a backup did not capture something it meant to.
fn is_missing(w: &Warning) -> bool {
    matches!(
        w.code,
        WarningCode::VolumeNotBackedUp
            | WarningCode::UnreadablePath
            | WarningCode::DatabaseNotBackedUp
    )
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
    /// How services are captured.
    pub mode: Mode,
    /// Services to stop during the backup in auto mode.
    pub stop: Vec<String>,
    /// The Docker engine, when one answered; without it nothing is dumped or stopped, and
    /// databases are archived as files only when their lock files show them stopped.
    pub engine: Option<BlockingEngine>,
    /// Read named volumes through the engine's archive API even when their folder is
    /// readable here.
    pub volumes_via_engine: bool,
    /// The catalog whose journal records stopped containers (the default one when `None`).
    pub catalog: Option<Arc<Catalog>>,
    /// Keep a snapshot that misses something it meant to include (a volume Docker could
    /// not read, unreadable files), marked partial, instead of failing.
    pub allow_partial: bool,
    /// Mounts to back up although they look like the system's (`/srv`, `/home`): each one
    /// named, or a folder above it.
    pub include: Vec<PathBuf>,
    /// Go on with backups of the same name that another folder made (the stack was moved
    /// or copied here) instead of refusing them as another stack's.
    pub adopt: bool,
}

impl BackupOptions {
    /// Everything to `dest`, with all cores, in auto mode, without Docker.
    pub fn new(dest: impl Into<PathBuf>) -> Self {
        Self {
            dest: dest.into(),
            only: Vec::new(),
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            mode: Mode::Auto,
            stop: Vec::new(),
            engine: None,
            volumes_via_engine: false,
            catalog: None,
            allow_partial: false,
            include: Vec::new(),
            adopt: false,
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
    /// The absolute path of the file it restores from: its piece list, or (a component
    /// reused from a format-1 snapshot) its archive.
    pub archive: String,
    /// Its encrypted piece list's absolute path (the stock one-liner's LIST).
    pub list: Option<String>,
    /// How many pieces its stream is cut into.
    #[ts(type = "number")]
    pub pieces: u64,
    /// Plaintext bytes.
    #[ts(type = "number")]
    pub bytes_in: u64,
    /// Bytes of its stored files (all its pieces, shared ones included).
    #[ts(type = "number")]
    pub bytes_stored: u64,
    /// Bytes this backup added to the destination for it.
    #[ts(type = "number")]
    pub bytes_new: u64,
    /// Its checksum: the SHA-256 of its piece list (of the plaintext, for a format-1
    /// archive).
    pub sha256: String,
    /// Bytes of large files not read, because they had not changed since a backup to
    /// this destination read them (the file cache).
    #[ts(type = "number")]
    pub bytes_unread: u64,
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
    /// Accepted with `allow_partial` although `missing` is not in it.
    pub partial: bool,
    /// What the snapshot does not hold, as sentences.
    pub missing: Vec<String>,
}

/// The file in a stack's `.lifeboat/` and in its destination folder that says which stack
/// it is (a random id), so that two stacks of the same name never mix their backups.
pub const STACK_ID_FILE: &str = "stack-id";

fn read_id(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let id = text.trim();
    (!id.is_empty()).then(|| id.to_owned())
}

fn write_id(path: &Path, id: &str) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, format!("{id}\n"))?;
    archive::commit(&tmp, path)
}

/// Gives the stack folder `target` the id of the backups in `stack_dest` (after a restore
/// into it), unless it has one.
pub fn take_stack_id(stack_dest: &Path, target: &Path) {
    let mine = target.join(".lifeboat").join(STACK_ID_FILE);
    if let (None, Some(id)) = (read_id(&mine), read_id(&stack_dest.join(STACK_ID_FILE))) {
        let _ = write_id(&mine, &id);
    }
}

/// Makes sure the backups in `sdest` are this stack's: the same id, or the same folder. A
/// first backup gives the destination folder an id, which a restore passes on to the folder
/// it restores into.
/// `adopt` takes over backups of the same name made from elsewhere (a stack moved or
/// copied here).
fn claim_stack_dest(
    sdest: &Path,
    project: &Project,
    previous: Option<&Manifest>,
    adopt: bool,
) -> Result<(), BackupError> {
    let theirs = read_id(&sdest.join(STACK_ID_FILE));
    // Read only: a backup changes nothing in the stack folder. The folder gets the id when
    // a restore writes into it, or with `adopt`.
    let ours = read_id(&project.dir.join(".lifeboat").join(STACK_ID_FILE));
    let other_dir = previous
        .map(|m| m.stack_dir.clone())
        .filter(|d| Path::new(d) != project.dir);
    let taken = || BackupError::NameTaken {
        dest: sdest.to_owned(),
        name: project.name.clone(),
        other: previous.map(|m| m.stack_dir.clone()),
    };
    match (&theirs, &ours) {
        (Some(t), Some(o)) if t != o => {
            if !adopt {
                return Err(taken());
            }
            let _ = write_id(&project.dir.join(".lifeboat").join(STACK_ID_FILE), t);
        }
        (Some(_), Some(_)) => {}
        _ if other_dir.is_some() && !adopt => return Err(taken()),
        (Some(t), None) => {
            if adopt {
                let _ = write_id(&project.dir.join(".lifeboat").join(STACK_ID_FILE), t);
            }
        }
        (None, Some(o)) => {
            let _ = write_id(&sdest.join(STACK_ID_FILE), o);
        }
        (None, None) => {
            let mut bytes = [0u8; 16];
            if getrandom::fill(&mut bytes).is_ok() {
                let _ = write_id(&sdest.join(STACK_ID_FILE), &archive::hex(&bytes));
            }
        }
    }
    Ok(())
}

/// A named volume read through the engine's archive API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnginePath {
    /// A container that mounts it.
    pub container: String,
    /// Where it is mounted in that container.
    pub path: String,
    /// The folder it gets in the archive: `_volumes/NAME`.
    pub prefix: String,
}

/// A planned component: its name, what it captures and how.
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
    /// Roots that are named volumes' folders, read directly, with their archive prefix
    /// (`_volumes/NAME`).
    pub volume_roots: Vec<(PathBuf, String)>,
    /// Files under the roots that the `secrets` component holds (a `secrets.env` in the
    /// data folder): left out here, so the data and the secrets restore apart.
    pub skip: Vec<PathBuf>,
    /// Named volumes read through the engine.
    pub engine_paths: Vec<EnginePath>,
    /// A logical dump taken in this running container.
    pub dump: Option<(String, DumpRecipe)>,
    /// Redis: `BGSAVE` in this running container before its files are read.
    pub bgsave: Option<String>,
    /// The service's own pre-backup command (label `lifeboat.pre-backup`) and the running
    /// container it runs in, before its data is read.
    pub pre_exec: Option<(String, String)>,
    /// The service is stopped while this component is read.
    pub cold: bool,
}

/// What the engine said about the stack, for [`plan`].
#[derive(Debug, Clone, Default)]
pub struct PlanContext {
    /// How services are captured.
    pub mode: Mode,
    /// Services to stop in auto mode.
    pub stop: Vec<String>,
    /// The project's containers by service, when the engine answered.
    pub containers: Option<HashMap<String, Vec<ContainerInfo>>>,
    /// Host folders of named volumes (by volume name) that can be read here.
    pub volume_dirs: HashMap<String, PathBuf>,
    /// Read named volumes through the engine even when readable here.
    pub volumes_via_engine: bool,
    /// Host paths to back up although they look like the system's (a mount of `/srv`).
    pub include: Vec<PathBuf>,
    /// Paths never read, wherever they fall: the destination and Lifeboat's own folder.
    pub exclude: Vec<PathBuf>,
}

impl PlanContext {
    fn running(&self, service: &str) -> Option<&ContainerInfo> {
        self.containers
            .as_ref()?
            .get(service)?
            .iter()
            .find(|c| c.state == "running")
    }
    fn any_container(&self, service: &str) -> Option<&ContainerInfo> {
        self.containers.as_ref()?.get(service)?.first()
    }
}

/// Whether this process can read `p` (list a folder, open a file).
fn readable(p: &Path) -> bool {
    if p.is_dir() {
        std::fs::read_dir(p).is_ok()
    } else {
        std::fs::File::open(p).is_ok()
    }
}

/// The kind of a service: from its image, else from its data (`PG_VERSION`).
fn service_kind(s: &crate::stack::Service, roots: &[PathBuf]) -> ServiceKind {
    if let Some((k, _)) = &s.image_kind {
        return *k;
    }
    if roots.iter().any(|r| r.join("PG_VERSION").is_file()) {
        return ServiceKind::Postgres;
    }
    ServiceKind::Generic
}

/// A database's lock file in one of `roots`, which shows it running.
fn db_lock_file(kind: ServiceKind, roots: &[PathBuf]) -> Option<PathBuf> {
    for r in roots {
        match kind {
            ServiceKind::Postgres => {
                let p = r.join("postmaster.pid");
                if p.is_file() {
                    return Some(p);
                }
            }
            ServiceKind::Mysql | ServiceKind::Mariadb => {
                let found = std::fs::read_dir(r).ok()?.filter_map(Result::ok).find(|e| {
                    e.file_name().to_string_lossy().ends_with(".pid")
                        || e.file_name() == "mysql.sock.lock"
                });
                if let Some(e) = found {
                    return Some(e.path());
                }
            }
            ServiceKind::Mongo => {
                let p = r.join("mongod.lock");
                if std::fs::metadata(&p).is_ok_and(|m| m.len() > 0) {
                    return Some(p);
                }
            }
            _ => {}
        }
    }
    None
}

/// Whether `p` is one of `exclude` (the destination, Lifeboat's folder) or inside the
/// backups a destination holds (`DEST/STACK/…`). A stack whose folder merely lies inside
/// the destination's folder (`/mnt/data` holding both) is data like any other.
fn is_backups(p: &Path, exclude: &[PathBuf]) -> bool {
    exclude.iter().any(|x| {
        p == x
            || p.strip_prefix(x)
                .ok()
                .and_then(|rest| rest.components().next())
                .is_some_and(|first| x.join(first).join("snapshots").is_dir())
    })
}

/// The warning for a mount of the host's system that a backup leaves out.
fn system_path_skipped(service: &str, target: &str, p: &Path) -> Warning {
    Warning::new(
        WarningCode::SystemPathSkipped,
        format!(
            "{service}'s mount of {} (at {target}) holds the host's system, not the stack's data, \
             and was not backed up; name it to be included if you mean to back it up.",
            p.display(),
        ),
    )
    .service(service)
    .path(p)
    .remedy(crate::warning::Remedy::Include {
        path: p.display().to_string(),
    })
}

/// What a backup to `dest` never reads: `dest` itself and Lifeboat's own folder, as the
/// walk meets them (symlinks resolved).
fn never_read(dest: &Path) -> Vec<PathBuf> {
    let mut out = vec![dest.canonicalize().unwrap_or_else(|_| dest.to_owned())];
    if let Ok(home) = crate::catalog::home() {
        out.push(home.canonicalize().unwrap_or(home));
    }
    out.sort();
    out.dedup();
    out
}

/// The files and folders under `dir` that hold none of `leave` and lie in none of it, as
/// few as possible: folders holding something left are descended into.
fn cover(dir: &Path, leave: &[PathBuf]) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut children: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    children.sort();
    let mut out = Vec::new();
    for c in children {
        if leave.iter().any(|l| c.starts_with(l)) {
            continue;
        }
        let holds_left = leave.iter().any(|l| l.starts_with(&c));
        let is_dir = std::fs::symlink_metadata(&c).is_ok_and(|m| m.is_dir());
        if holds_left && is_dir && std::fs::read_dir(&c).is_ok() {
            out.extend(cover(&c, leave));
        } else {
            out.push(c);
        }
    }
    out
}

/// Whether a file name is an env file an app keeps secrets in: `secrets.env`, `.env`,
/// `NAME.env`.
pub fn is_env_file_name(name: &str) -> bool {
    name == ".env" || (name.ends_with(".env") && name.len() > ".env".len())
}

/// Env files ([`is_env_file_name`]) in folder `dir`, down to `depth` levels, without
/// following symlinks; `dir` itself when it is one.
fn env_files_in(dir: &Path, depth: usize) -> Vec<PathBuf> {
    match std::fs::symlink_metadata(dir) {
        Ok(meta) => env_files_at(dir, meta.file_type(), depth),
        Err(_) => Vec::new(),
    }
}

/// [`env_files_in`] for `path` of type `ft`. Types come from the folder listing, so a
/// folder of thousands of files (a database's) costs no `stat` per file.
fn env_files_at(path: &Path, ft: std::fs::FileType, depth: usize) -> Vec<PathBuf> {
    if ft.is_file() {
        let named = path
            .file_name()
            .is_some_and(|n| is_env_file_name(&n.to_string_lossy()));
        return if named {
            vec![path.to_owned()]
        } else {
            Vec::new()
        };
    }
    if !ft.is_dir() || depth == 0 {
        return Vec::new();
    }
    let Ok(rd) = std::fs::read_dir(path) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = rd
        .filter_map(Result::ok)
        .filter_map(|e| Some((e.path(), e.file_type().ok()?)))
        .flat_map(|(p, ft)| env_files_at(&p, ft, depth - 1))
        .collect();
    out.sort();
    out
}

/// How a service will be captured in auto mode, for the settings screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ServiceChoice {
    /// The service.
    pub name: String,
    /// Its kind (`postgres`, `n8n`, …).
    pub kind: String,
    /// It has data to back up (bind mounts or volumes).
    pub has_data: bool,
    /// The dump tool used while it runs (`pg_dumpall`, …), when it has one.
    pub dump: Option<String>,
    /// Auto mode stops it while its files are read, whatever the setting.
    pub always_stopped: bool,
}

/// How each service of `project` is captured in auto mode.
pub fn service_choices(project: &Project) -> Vec<ServiceChoice> {
    project
        .services
        .iter()
        .map(|s| {
            let roots: Vec<PathBuf> = s
                .mounts
                .iter()
                .filter_map(|m| m.host_path.clone())
                .collect();
            let kind = service_kind(s, &roots);
            let has_data = s.mounts.iter().any(|m| {
                matches!(m.kind, MountType::Bind | MountType::Volume)
                    && m.host_path.as_ref().is_none_or(|p| !is_system_path(p))
            });
            let dump = DumpRecipe::for_kind(kind).map(|r| r.recipe.tool().to_owned());
            ServiceChoice {
                name: s.name.clone(),
                kind: kind.as_str().to_owned(),
                has_data,
                always_stopped: dump.is_none() && kind.is_database() && kind != ServiceKind::Redis,
                dump,
            }
        })
        .collect()
}

/// Adds a finished (or failed) backup run of catalog stack `stack_id` to its history.
///
/// # Errors
/// When the catalog fails.
pub fn record_run(
    catalog: &Catalog,
    stack_id: i64,
    dest: &Path,
    started: i64,
    duration_ms: u64,
    result: &Result<BackupReport, BackupError>,
) -> Result<(), crate::catalog::CatalogError> {
    use crate::catalog::{BackupRecord, BackupResult};
    let record = match result {
        Ok(r) => BackupRecord {
            started: r.started,
            duration_ms: r.duration_ms as i64,
            downtime_ms: r.downtime_ms as i64,
            snapshot: Some(r.snapshot.clone()),
            destination: dest.display().to_string(),
            bytes_in: r.components.iter().map(|c| c.bytes_in as i64).sum(),
            bytes_new: r.components.iter().map(|c| c.bytes_new as i64).sum(),
            result: BackupResult::Ok,
            message: None,
            warnings: r.warnings.len() as i64,
        },
        Err(e) => BackupRecord {
            started,
            duration_ms: duration_ms as i64,
            downtime_ms: 0,
            snapshot: None,
            destination: dest.display().to_string(),
            bytes_in: 0,
            bytes_new: 0,
            result: if matches!(e, BackupError::Cancelled) {
                BackupResult::Cancelled
            } else {
                BackupResult::Failed
            },
            message: Some(e.to_string()),
            warnings: 0,
        },
    };
    let backup_id = catalog.record_backup(stack_id, &record)?;
    if let Ok(r) = result {
        let sizes: Vec<(String, u64)> = r
            .components
            .iter()
            .map(|c| (c.name.clone(), c.bytes_in))
            .collect();
        catalog.record_component_sizes(stack_id, backup_id, &sizes)?;
    }
    Ok(())
}

/// Snapshot ids sort by time, to the millisecond: `20261122T221500.123Z-1a2b`.
fn snapshot_id(at: std::time::SystemTime) -> String {
    let at = crate::time::utc_of(at);
    format!(
        "{}-{:04x}",
        crate::time::stamp_millis(at),
        (at.timestamp_subsec_nanos() ^ std::process::id()) & 0xffff
    )
}

/// Backs up `project` to `opts.dest`, encrypted to `identity`'s recipient.
///
/// # Errors
/// See [`BackupError`]. On error or cancel no manifest is written, so no snapshot exists;
/// `*.partial` files of this run are removed, and every container it stopped is started.
pub fn backup(
    project: &Project,
    identity: &age::x25519::Identity,
    opts: &BackupOptions,
    progress: &dyn Progress,
    cancel: &CancelToken,
) -> Result<BackupReport, BackupError> {
    match snapshot::take(project, identity, opts, progress, cancel, Vec::new()) {
        // A SQLite database that only the engine reaches (a volume this user cannot read)
        // gets no online backup: auto mode stops its service for the copy, as it does for a
        // database it cannot dump, and backs up again (the failed run left nothing behind).
        Err(BackupError::LiveSqlite {
            service, source, ..
        }) if opts.mode == Mode::Auto && !opts.stop.contains(&service) => {
            let mut again = opts.clone();
            again.stop.push(service.clone());
            let why = Warning::new(
                WarningCode::ServicesStopped,
                format!(
                    "{service} was stopped for the copy: {}",
                    match &source {
                        capture::CaptureError::LiveSqlite { path, .. } => format!(
                            "its SQLite database {} can only be read through Docker, where a copy of \
                             a running database could be torn",
                            path.display()
                        ),
                        other => other.to_string(),
                    }
                ),
            )
            .service(&service);
            snapshot::take(project, identity, &again, progress, cancel, vec![why])
        }
        other => other,
    }
}

/// Asks Redis to write its dump file (`BGSAVE`) and waits until that save has finished and
/// succeeded (up to 5 minutes). Progress is read from `INFO persistence`, not `LASTSAVE`,
/// whose one-second resolution cannot tell a save in the same second from none.
fn redis_bgsave(engine: &BlockingEngine, container: &str) -> Result<(), RedisSaveError> {
    let run = |cmd: &'static str| -> Result<String, RedisSaveError> {
        let script = format!(
            r#"exec redis-cli ${{REDIS_PASSWORD:+--no-auth-warning -a "$REDIS_PASSWORD"}} {cmd}"#
        );
        let mut out = engine.exec(container, &["sh", "-c", &script])?;
        let mut text = String::new();
        std::io::Read::read_to_string(&mut out, &mut text).map_err(RedisSaveError::Output)?;
        let (code, stderr) = out.finish()?;
        if code != 0 {
            return Err(RedisSaveError::Exit {
                command: cmd,
                code,
                stderr: stderr.trim().to_owned(),
            });
        }
        Ok(text.trim().to_owned())
    };
    let field = |info: &str, name: &str| -> Option<String> {
        info.lines().find_map(|l| {
            l.trim()
                .strip_prefix(&format!("{name}:"))
                .map(str::to_owned)
        })
    };
    let deadline = Instant::now() + std::time::Duration::from_secs(300);
    let wait_idle = || -> Result<String, RedisSaveError> {
        loop {
            let info = run("INFO persistence")?;
            if field(&info, "rdb_bgsave_in_progress").as_deref() == Some("0") {
                return Ok(info);
            }
            if Instant::now() > deadline {
                return Err(RedisSaveError::TooSlow);
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    };
    // A save already running started before this backup: let it end, then start ours.
    wait_idle()?;
    let answer = run("BGSAVE")?;
    if answer.contains("ERR") {
        return Err(RedisSaveError::Refused(answer));
    }
    let info = wait_idle()?;
    match field(&info, "rdb_last_bgsave_status").as_deref() {
        Some("ok") => Ok(()),
        other => Err(RedisSaveError::Failed(
            other.unwrap_or("unknown").to_owned(),
        )),
    }
}

/// Why Redis did not write its dump file for a backup.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedisSaveError {
    /// The engine refused to run `redis-cli`.
    #[error(transparent)]
    Engine(#[from] crate::docker::DockerError),
    /// `redis-cli`'s output could not be read.
    #[error("reading redis-cli's answer failed: {0}")]
    Output(#[source] std::io::Error),
    /// `redis-cli` exited non-zero.
    #[error("redis-cli {command} exited with code {code}: {stderr}")]
    Exit {
        /// The Redis command.
        command: &'static str,
        /// The exit code.
        code: i64,
        /// What it said.
        stderr: String,
    },
    /// The save did not end in time.
    #[error("Redis did not finish its background save within 5 minutes")]
    TooSlow,
    /// Redis answered `BGSAVE` with an error.
    #[error("Redis refused BGSAVE: {0}")]
    Refused(String),
    /// The save ended with another status than `ok`.
    #[error("Redis's background save failed (status {0}); see the Redis log")]
    Failed(String),
}

fn write_readme(dest: &Path) {
    let path = dest.join(README_NAME);
    let text = readme_text();
    if std::fs::read_to_string(&path).is_ok_and(|t| t == text) {
        return;
    }
    let partial = dest.join(format!("{README_NAME}.partial"));
    if std::fs::write(&partial, text).is_ok() {
        let _ = archive::commit(&partial, &path);
    }
}

/// What `README-RESTORE.txt` says: how to restore with stock `age` and `tar` alone.
pub fn readme_text() -> String {
    format!(
        "These are Lifeboat backups of Docker Compose stacks (Lifeboat {version}).\n\n\
         Each snapshot of a stack is made of components (its secrets, one service's data, one database's\n\
         dump). A component is a tar stream cut into pieces; each piece is gzip-compressed and encrypted\n\
         with age on its own, and stored once in {pieces}/ however many snapshots share it. Each component\n\
         has a piece list, STACK/snapshots/SNAPSHOT.COMPONENT.list.age, which names its pieces in order.\n\
         You can restore one without Lifeboat, with age, tar and a shell (run it in this folder):\n\n\
         \x20   age -d -i key.txt STACK/snapshots/SNAPSHOT.COMPONENT.list.age | xargs -n1 age -d -i key.txt \\\n\
         \x20     | tar -xzpf - --numeric-owner -C /path/to/stack\n\n\
         Add `--xattrs --xattrs-include='*'` (GNU tar) to bring back extended attributes and ACLs too.\n\
         Snapshots in the earlier format (1) keep each component in one STACK/archives/*.tar.gz.age file:\n\n\
         \x20   age -d -i key.txt STACK/archives/FILE.tar.gz.age | tar -xzpf - --numeric-owner -C /path/to/stack\n\n\
         key.txt is your backup key. Lifeboat keeps it in your system keyring; if that is gone, recover it\n\
         from {RECOVERY_FILE} with the passphrase you chose:\n\n\
         \x20   age -d -o key.txt {RECOVERY_FILE}\n\n\
         STACK/snapshots/SNAPSHOT.manifest.age lists what each snapshot holds (gzip-compressed JSON:\n\
         `age -d -i key.txt FILE | gunzip`).\n\
         With Lifeboat: `lifeboat snapshots --to THIS_FOLDER`, then `lifeboat restore`.\n\
         The format is described in docs/FORMAT.md of Lifeboat's source.\n",
        version = crate::VERSION,
        pieces = crate::archive::pieces::DIR,
    )
}
