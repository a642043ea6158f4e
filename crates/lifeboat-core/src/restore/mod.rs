//! Restore: plan first, then apply.
//!
//! A plan says per component what will be added, changed and removed, which services stop,
//! and how much space it needs; it reads the manifest and the current files, never the
//! archives. Applying extracts every chosen archive into staging folders beside the target
//! (checking each against the SHA-256 in the manifest, so a damaged archive aborts before
//! anything changes), stops the affected services dependents first, swaps each path into
//! place by rename (the old content is moved aside, not deleted: it is the safety point),
//! loads database dumps into their running services (after dumping what they hold now),
//! starts the services again and waits until they run. A journal written before each step
//! lets the next start roll back a restore that was killed, and "undo" put the old content
//! back after a restore finished.
//!
//! One module per step: `planning` works a restore out into a [`Plan`] (the
//! preview), `apply` carries that plan out, `extract` checks and unpacks archives into
//! staging, `dbload` loads dumps and keeps safety dumps, `undo` rolls back, undoes and
//! recovers from the journal (`journal`), `volume` writes volumes through the engine.

mod apply;
pub(crate) mod dbload;
pub mod drive;
pub mod extract;
pub mod journal;
pub mod one_file;
mod planning;
mod undo;
mod volume;

pub use dbload::LoadError;
pub use volume::EngineWriteError;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::archive::{self, ArchiveError};
use crate::backup::dump::DumpRecipe;
use crate::backup::manifest::{ComponentEntry, ComponentKind, Manifest, ManifestError};
use crate::backup::source::Source;
use crate::backup::{capture, verify};
use crate::catalog::Catalog;
use crate::docker::{BlockingEngine, ContainerInfo};
use crate::job::Progress;
use crate::longpath;
use crate::stack::{LoadOptions, Project};
pub use apply::apply;
use extract::ExtractError;
use journal::{Journal, State, ThroughEngine};
use planning::work_out;
pub use undo::{
    interrupted, interrupted_at, last_restore, last_restore_at, recover, recover_at, undo,
    UndoReport,
};

/// The catalog key that points at the last restore's folder.
const LAST_RESTORE: &str = "restore.last";

/// Why a restore could not be planned or applied.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RestoreError {
    /// No snapshot with that id in the destination.
    #[error("{from} has no snapshot {snapshot}{hint}")]
    SnapshotNotFound {
        /// The destination.
        from: PathBuf,
        /// What was asked for.
        snapshot: String,
        /// What to do.
        hint: String,
    },
    /// The snapshot has no such component.
    #[error("the snapshot has no component {name}; it has: {have}")]
    UnknownComponent {
        /// What was asked for.
        name: String,
        /// What it has.
        have: String,
    },
    /// The manifest could not be read.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// An archive could not be opened.
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    /// Extracting a component failed; nothing in place was changed.
    #[error("{component}: {source}")]
    Extract {
        /// The component.
        component: String,
        /// What went wrong.
        #[source]
        source: ExtractError,
    },
    /// The plan found something that stops the restore before it starts.
    #[error("the restore cannot start: {}", .0.join(" "))]
    Blocked(Vec<String>),
    /// What the plan was made on changed before it was applied (a service started or
    /// stopped, a volume went away): nothing was changed.
    #[error("{0} since the restore was previewed; nothing was changed: preview it again")]
    Outdated(String),
    /// Another restore of this target is running.
    #[error("a backup or restore of {} is running; wait for it to finish", .0.display())]
    Busy(PathBuf),
    /// A file operation on the target failed.
    #[error("{path}: {source}")]
    Io {
        /// Where.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// A database dump could not be loaded (the database was put back as it was).
    #[error("loading {service}'s dump failed: {source}")]
    Load {
        /// The service.
        service: String,
        /// What went wrong.
        #[source]
        source: LoadError,
    },
    /// The services the restore must stop could not be stopped.
    #[error(transparent)]
    Stop(#[from] crate::backup::cold::StopError),
    /// Something failed after the restore began changing things, and everything was put
    /// back.
    #[error("{0}; everything was put back as it was before the restore")]
    RolledBack(#[source] Box<RestoreError>),
    /// Reading or writing through the Docker engine failed (a volume, or owners).
    #[error(transparent)]
    Engine(#[from] EngineWriteError),
    /// The restore failed and some of the services it had stopped did not start again.
    #[error("{first}; and {}", not_restarted.join(" "))]
    NotRestarted {
        /// Why the restore failed.
        first: Box<RestoreError>,
        /// What could not be started, one sentence each.
        not_restarted: Vec<String>,
    },
    /// There is no finished restore to undo.
    #[error("there is no finished restore to undo")]
    NothingToUndo,
    /// The user cancelled.
    #[error("cancelled; nothing was changed")]
    Cancelled,
    /// The stack's pre-restore hook failed (its sentence, with its output).
    #[error("{0}; nothing was restored")]
    Hook(String),
    /// The snapshot holds no regular file of that name.
    #[error(
        "snapshot {snapshot} holds no file {name}; name it as the snapshot does, relative to \
         the stack folder (`data/app.db`, `_volumes/VOLUME/…`); `lifeboat restore {snapshot} \
         --from DEST --into AN_EMPTY_FOLDER --dry-run --paths` lists them all"
    )]
    NoSuchFile {
        /// What was asked for.
        name: String,
        /// The snapshot.
        snapshot: String,
    },
    /// A one-file restore would write over a file that is there.
    #[error("{} is there already; nothing was written: choose another --into folder", .0.display())]
    FileExists(PathBuf),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> RestoreError + '_ {
    move |source| RestoreError::Io {
        path: path.to_owned(),
        source,
    }
}

/// What to restore, from where, to where.
#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    /// The backup destination.
    pub from: PathBuf,
    /// A snapshot id (or a unique beginning of one), or `latest`.
    pub snapshot: String,
    /// The stack, when the destination holds several.
    pub stack: Option<String>,
    /// Components (`secrets`, `service-NAME`, or a service's name); empty for everything.
    pub only: Vec<String>,
    /// Restore into this folder instead of the stack's own.
    pub into: Option<PathBuf>,
    /// The stack's folder as this machine knows it (the catalog's); the stack's own folder
    /// instead of the one the manifest names.
    pub stack_dir: Option<PathBuf>,
    /// List every path in the plan.
    pub list_paths: bool,
    /// The Docker engine, to stop services and load dumps.
    pub engine: Option<BlockingEngine>,
    /// The catalog, for the journals of stopped services and restores.
    pub catalog: Option<Arc<Catalog>>,
}

/// What a component's restore does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Its files replace the files in place.
    ReplaceFiles,
    /// Its dump is loaded into the running database service (after its files, if any).
    LoadDump,
    /// Its dump is written as a file, to be loaded later.
    ExtractDump,
}

/// One path of a plan, on request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct PathChange {
    /// The path, as in the archive.
    pub path: String,
    /// `added`, `changed` or `removed`.
    pub change: String,
}

/// The plan for one component.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ComponentPlan {
    /// `secrets`, `service-NAME`.
    pub name: String,
    /// What it holds.
    pub kind: ComponentKind,
    /// Its service.
    pub service: Option<String>,
    /// What restoring it does.
    pub action: Action,
    /// Where its content goes.
    pub targets: Vec<String>,
    /// Files the snapshot has and the target does not.
    #[ts(type = "number")]
    pub added: u64,
    /// Files in both that differ (size or modification time).
    #[ts(type = "number")]
    pub changed: u64,
    /// Files the target has and the snapshot does not: they are moved aside.
    #[ts(type = "number")]
    pub removed: u64,
    /// Files in both that look the same.
    #[ts(type = "number")]
    pub unchanged: u64,
    /// Bytes of the snapshot's files (and dumps).
    #[ts(type = "number")]
    pub bytes: u64,
    /// Files in the snapshot.
    #[ts(type = "number")]
    pub files: u64,
    /// Every added, changed and removed path, when asked for.
    pub paths: Vec<PathChange>,
}

/// What a restore will do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct RestorePlan {
    /// The snapshot.
    pub snapshot: String,
    /// The stack.
    pub stack: String,
    /// When the snapshot was taken (Unix seconds).
    #[ts(type = "number")]
    pub snapshot_started: i64,
    /// The target folder.
    pub target: String,
    /// The target is the stack's own folder.
    pub original: bool,
    /// The components, in restore order.
    pub components: Vec<ComponentPlan>,
    /// Services stopped during the restore, in stop order (dependents first).
    pub services_to_stop: Vec<String>,
    /// Space the restore needs on the target's disk (the old content is kept for undo).
    #[ts(type = "number")]
    pub free_bytes_needed: u64,
    /// Space free there now.
    #[ts(type = "number")]
    pub free_bytes_available: u64,
    /// What stops the restore from starting, as sentences; empty when it can start.
    pub problems: Vec<String>,
    /// What the user should know, as sentences.
    pub notes: Vec<String>,
}

/// A service after the restore.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ServiceState {
    /// The service.
    pub service: String,
    /// `running`, `exited`, …
    pub state: String,
    /// `healthy`, `unhealthy`, `starting`, when it has a health check.
    pub health: Option<String>,
}

impl ServiceState {
    /// Whether it runs, and is not unhealthy.
    pub fn is_up(&self) -> bool {
        self.state == "running" && self.health.as_deref() != Some("unhealthy")
    }
}

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct RestoreReport {
    /// The restore's id (for undo).
    pub restore: String,
    /// The snapshot.
    pub snapshot: String,
    /// The stack.
    pub stack: String,
    /// The target folder.
    pub target: String,
    /// Components restored.
    pub components: Vec<String>,
    /// Files written.
    #[ts(type = "number")]
    pub files: u64,
    /// Bytes written.
    #[ts(type = "number")]
    pub bytes: u64,
    /// The services stopped and started again, and how they are now.
    pub services: Vec<ServiceState>,
    /// What to do next, as sentences.
    pub next_steps: Vec<String>,
    /// How long it took.
    #[ts(type = "number")]
    pub duration_ms: u64,
    /// Where the old content waits for an undo.
    pub undo_folder: String,
}

/// The manifest of `opts.snapshot` in `opts.from`.
///
/// # Errors
/// [`RestoreError::SnapshotNotFound`], or a manifest that does not decrypt.
pub fn find_snapshot(
    from: &Path,
    stack: Option<&str>,
    snapshot: &str,
    identity: &age::x25519::Identity,
) -> Result<Manifest, RestoreError> {
    Ok(find_snapshot_noting(from, stack, snapshot, identity)?.0)
}

/// [`find_snapshot`], with what a person should know about the choice: `latest` is the
/// newest complete snapshot that can be read, and each newer one passed over (partial, or
/// damaged) is said.
fn find_snapshot_noting(
    from: &Path,
    stack: Option<&str>,
    snapshot: &str,
    identity: &age::x25519::Identity,
) -> Result<(Manifest, Vec<String>), RestoreError> {
    let all = verify::all_manifests(from, stack);
    let id_of = |p: &Path| {
        p.file_name()
            .map(|n| {
                n.to_string_lossy()
                    .trim_end_matches(".manifest.age")
                    .to_owned()
            })
            .unwrap_or_default()
    };
    let not_found = |hint: String| RestoreError::SnapshotNotFound {
        from: from.to_owned(),
        snapshot: snapshot.to_owned(),
        hint,
    };
    let list_hint = format!(
        "; list them with `lifeboat snapshots --to {}`",
        from.display()
    );
    if snapshot == "latest" {
        let stacks: BTreeSet<&String> = all.iter().map(|(s, _)| s).collect();
        if stacks.len() > 1 {
            return Err(not_found(format!(
                " to choose without a stack: it holds {}; say which with --stack",
                stacks.into_iter().cloned().collect::<Vec<_>>().join(", ")
            )));
        }
        let mut newest_first: Vec<&PathBuf> = all.iter().map(|(_, p)| p).collect();
        newest_first.sort_by_key(|p| std::cmp::Reverse(id_of(p)));
        let mut notes = Vec::new();
        let mut partial: Option<Manifest> = None;
        let mut first_error = None;
        for p in newest_first {
            match Manifest::read(p, identity) {
                Ok(m) if m.partial => {
                    notes.push(format!(
                        "The newer snapshot {} is partial (it lacks: {}), so it was passed over; \
                         restore it by its id to use it anyway.",
                        m.snapshot,
                        m.missing.join(" ")
                    ));
                    partial.get_or_insert(m);
                }
                Ok(m) => return Ok((m, notes)),
                Err(e) => {
                    notes.push(format!(
                        "The newer snapshot {} cannot be read ({e}), so it was passed over.",
                        id_of(p)
                    ));
                    first_error.get_or_insert(e);
                }
            }
        }
        // Only partial snapshots: the newest, said plainly.
        if let Some(m) = partial {
            let note = format!(
                "Every snapshot is partial; this one, {}, lacks: {}",
                m.snapshot,
                m.missing.join(" ")
            );
            return Ok((m, vec![note]));
        }
        return match first_error {
            Some(e) => Err(e.into()),
            None => Err(not_found(list_hint)),
        };
    }
    let chosen: Vec<&(String, PathBuf)> = all
        .iter()
        .filter(|(_, p)| id_of(p).starts_with(snapshot))
        .collect();
    match chosen.as_slice() {
        [one] => {
            let m = Manifest::read(&one.1, identity)?;
            let notes = if m.partial {
                vec![format!(
                    "Snapshot {} is partial; it lacks: {}",
                    m.snapshot,
                    m.missing.join(" ")
                )]
            } else {
                Vec::new()
            };
            Ok((m, notes))
        }
        [] => Err(not_found(list_hint)),
        _ => Err(not_found(format!(
            " (the beginning {snapshot} matches {} snapshots; give more of the id)",
            chosen.len()
        ))),
    }
}

/// Where one archive prefix goes.
#[derive(Debug, Clone)]
struct Target {
    prefix: String,
    path: PathBuf,
    /// A container that mounts `path`, and where: owners this process cannot restore are
    /// written through the engine there.
    route: Option<(String, String)>,
    /// A named volume that does not exist (removed by `docker compose down -v`, or never
    /// created): created when the restore is applied, with compose's labels.
    new_volume: Option<NewVolume>,
    /// A named volume this process cannot write directly: replaced through a helper
    /// container of the engine.
    through: Option<ThroughEngine>,
}

/// A named volume to create as compose would: its name, its key in the compose file and
/// the project it is labelled with.
#[derive(Debug, Clone)]
struct NewVolume {
    name: String,
    key: String,
    project: String,
}

/// The archive prefixes of a component: its roots, volumes and folders read through the
/// engine. Dumps are handled apart.
fn prefixes(c: &ComponentEntry, stack_dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = c
        .roots
        .iter()
        .map(|r| capture::archive_name(Path::new(r), stack_dir))
        .collect();
    out.extend(c.engine_prefixes.iter().cloned());
    for f in &c.files {
        let parts: Vec<&str> = f.path.split('/').collect();
        if parts[0] == "_dumps" {
            continue;
        }
        if parts[0] == "_volumes" && parts.len() > 2 {
            let p = format!("_volumes/{}", parts[1]);
            if !out.contains(&p) {
                out.push(p);
            }
            continue;
        }
        // Manifests written before `engine_prefixes` existed: the first component.
        let covered = out
            .iter()
            .any(|p| f.path == *p || f.path.starts_with(&format!("{p}/")));
        if !covered {
            out.push(parts[0].to_owned());
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Where a prefix lands: inside the target for names of the stack folder, the original
/// host path or volume for the others (or under the target with `--into`).
fn target_of(
    prefix: &str,
    target: &Path,
    original: bool,
    volume_dir: &dyn Fn(&str) -> Option<PathBuf>,
) -> Result<PathBuf, Unplaceable> {
    if let Some(abs) = prefix.strip_prefix("_host") {
        return Ok(if original {
            PathBuf::from(abs)
        } else {
            target.join(prefix)
        });
    }
    if let Some(name) = prefix.strip_prefix("_volumes/") {
        if !original {
            return Ok(target.join(prefix));
        }
        return volume_dir(name).ok_or_else(|| Unplaceable::NoVolume(name.to_owned()));
    }
    Ok(target.join(prefix))
}

/// Checks that a target the manifest asks for is one this machine's stack declares. A
/// manifest is encrypted to a public recipient, so anyone with it could write one: it must
/// not choose where files land. Names inside the stack folder must be plain relative paths;
/// outside it (in the stack's own folder only), a host path must be a bind mount and a
/// volume one of the stack's volumes, as its compose file on disk says.
fn declared(
    prefix: &str,
    path: PathBuf,
    original: bool,
    project: Option<&Project>,
) -> Result<PathBuf, Unplaceable> {
    let plain = |p: &Path| {
        p.components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
    };
    let rel = prefix
        .strip_prefix("_host")
        .unwrap_or(prefix)
        .trim_start_matches('/');
    if rel.is_empty() || !plain(Path::new(rel)) {
        return Err(Unplaceable::NotPlain(prefix.to_owned()));
    }
    if !original || !(prefix.starts_with("_host/") || prefix.starts_with("_volumes/")) {
        return Ok(path);
    }
    let Some(project) = project else {
        return Err(Unplaceable::NoComposeFile(path));
    };
    let mounts = project.services.iter().flat_map(|s| &s.mounts);
    let ok = match prefix.strip_prefix("_volumes/") {
        Some(name) => mounts
            .filter_map(|m| m.volume_name.as_deref())
            .any(|v| v == name),
        None => mounts
            .filter_map(|m| m.host_path.as_deref())
            .any(|h| path.starts_with(h)),
    };
    if ok {
        Ok(path)
    } else {
        Err(Unplaceable::NotMounted(path))
    }
}

/// Why a place the snapshot names cannot be restored to (the component is left out of the
/// plan, and the preview says why).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Unplaceable {
    /// The name is not a plain relative path.
    #[error("the snapshot names a place that is not a plain path ({0})")]
    NotPlain(String),
    /// The engine knows no volume of that name.
    #[error(
        "the volume {0} cannot be found through Docker: start Docker and create it (`docker \
         compose up --no-start`), or restore into another folder"
    )]
    NoVolume(String),
    /// A place outside the stack folder, and no compose file to say the stack uses it.
    #[error(
        "{} is outside the stack folder and no compose file there says the stack uses it; \
         restore the secrets (the compose file) first, or restore into another folder",
        .0.display()
    )]
    NoComposeFile(PathBuf),
    /// A place the stack's compose file does not mount.
    #[error(
        "the snapshot would write to {}, which the stack's compose file does not mount; \
         restore into another folder to look at it",
        .0.display()
    )]
    NotMounted(PathBuf),
    /// The volume must be written through a container of an image this machine lacks.
    #[error(
        "the volume {volume} can only be written through Docker here, with a container of \
         {service}'s image, which is not on this machine: pull it (`docker compose pull \
         {service}`) and restore again"
    )]
    NoImage {
        /// The volume.
        volume: String,
        /// The service whose image it needs.
        service: String,
    },
}

/// The components `only` selects.
fn select<'a>(m: &'a Manifest, only: &[String]) -> Result<Vec<&'a ComponentEntry>, RestoreError> {
    if only.is_empty() || only.iter().any(|o| o == "everything" || o == "all") {
        return Ok(m.components.iter().collect());
    }
    let mut out = Vec::new();
    for o in only {
        let found = m.components.iter().find(|c| {
            c.name == *o
                || c.service.as_deref() == Some(o)
                || (o == "secrets" && c.kind == ComponentKind::Secrets)
        });
        match found {
            Some(c) if !out.iter().any(|x: &&ComponentEntry| x.name == c.name) => out.push(c),
            Some(_) => {}
            None => {
                return Err(RestoreError::UnknownComponent {
                    name: o.clone(),
                    have: m
                        .components
                        .iter()
                        .map(|c| c.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                })
            }
        }
    }
    Ok(out)
}

/// Regular files under `path` (or `path` itself), by name relative to it, with size and
/// mtime; `None` when it cannot be read.
fn current_files(path: &Path) -> Option<BTreeMap<String, (u64, i64)>> {
    let mut out = BTreeMap::new();
    let meta = longpath::symlink_metadata(path).ok();
    match meta {
        None => return Some(out),
        Some(m) if m.is_file() => {
            out.insert(
                String::new(),
                (m.len(), capture::mtime_secs(&m).unwrap_or(0)),
            );
            return Some(out);
        }
        Some(m) if !m.is_dir() => return Some(out),
        Some(_) => {}
    }
    let mut stack = vec![(path.to_path_buf(), String::new())];
    while let Some((dir, rel)) = stack.pop() {
        for e in longpath::read_dir(&dir).ok()? {
            let name = e
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let r = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            let Ok(m) = longpath::symlink_metadata(&e) else {
                continue;
            };
            if m.is_dir() {
                stack.push((e, r));
            } else if m.is_file() {
                out.insert(r, (m.len(), capture::mtime_secs(&m).unwrap_or(0)));
            }
        }
    }
    Some(out)
}

/// The nearest existing folder at or above `p`.
fn existing_ancestor(p: &Path) -> PathBuf {
    let mut cur = p.to_path_buf();
    while !cur.exists() {
        match cur.parent() {
            Some(parent) => cur = parent.to_path_buf(),
            None => break,
        }
    }
    cur
}

/// The stack's project, read from the target when it has a compose file.
fn project_at(dir: &Path) -> Option<Project> {
    crate::stack::load(
        dir,
        &LoadOptions {
            use_process_env: false,
            ..LoadOptions::default()
        },
    )
    .ok()
}

fn containers_by_service(
    engine: Option<&BlockingEngine>,
    stack: &str,
) -> Option<HashMap<String, Vec<ContainerInfo>>> {
    let list = engine?.project_containers(stack).ok()?;
    let mut by: HashMap<String, Vec<ContainerInfo>> = HashMap::new();
    for c in list {
        by.entry(c.service.clone()).or_default().push(c);
    }
    Some(by)
}

/// Everything [`plan`] works out, with what [`apply`] needs besides.
struct Worked {
    plan: RestorePlan,
    manifest: Manifest,
    target: PathBuf,
    /// Per component (same order as `plan.components`): its slots.
    slots: Vec<Vec<Target>>,
    /// What the report tells the user to do afterwards.
    after: Vec<String>,
    /// Per component: the dump to load (service, container, recipe, archive name).
    loads: Vec<Option<(String, String, DumpRecipe, String)>>,
    containers: Option<HashMap<String, Vec<ContainerInfo>>>,
    /// The stack's project on this machine, when its compose file is there.
    project: Option<Project>,
}

/// A restore worked out: what the preview shows ([`Plan::preview`]) and what [`apply`]
/// carries out. Only [`plan`] makes one, and applying consumes it, so what is restored is
/// what was previewed, planned once.
pub struct Plan {
    opts: RestoreOptions,
    worked: Worked,
}

impl Plan {
    /// What the restore will do, for the person to look at before it starts.
    pub fn preview(&self) -> &RestorePlan {
        &self.worked.plan
    }

    /// What the plan was made from.
    pub fn options(&self) -> &RestoreOptions {
        &self.opts
    }
}

impl std::fmt::Debug for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plan")
            .field("preview", &self.worked.plan)
            .finish_non_exhaustive()
    }
}

/// Plans restoring `opts` (see [`RestorePlan`]). Reads the manifest and the target, never
/// the archives, and changes nothing.
///
/// # Errors
/// When the snapshot or a component cannot be found, or the manifest does not decrypt.
pub fn plan(opts: &RestoreOptions, identity: &age::x25519::Identity) -> Result<Plan, RestoreError> {
    Ok(Plan {
        worked: work_out(opts, identity)?,
        opts: opts.clone(),
    })
}

/// Whether this user can create entries in `dir` (probed with a file that is removed at
/// once).
fn writable(dir: &Path) -> bool {
    let probe = dir.join(format!(".lifeboat-probe-{}", std::process::id()));
    match std::fs::File::create(&probe) {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            true
        }
        Err(_) => false,
    }
}

/// This process's uid and gid, judged by the owner of a file it creates in `dir`.
fn probe_ids(dir: &Path) -> Option<(u64, u64)> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let probe = dir.join(format!(".lifeboat-probe-uid-{}", std::process::id()));
        let ids = std::fs::File::create(&probe)
            .and_then(|f| f.metadata())
            .map(|m| (u64::from(m.uid()), u64::from(m.gid())))
            .ok();
        let _ = std::fs::remove_file(&probe);
        ids
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        None
    }
}

/// Whether this process runs as root.
fn running_as_root(dir: &Path) -> bool {
    probe_ids(dir).is_some_and(|(uid, _)| uid == 0)
}

/// Aborts the process at a named point when `LIFEBOAT_FAILPOINT` names it, as a `kill -9`
/// would: the crash tests use it to stop a restore between two exact steps.
/// Tests stop a restore between two steps: `LIFEBOAT_FAILPOINT=NAME` aborts there (as
/// `kill -9` would), `pause:NAME` waits there (up to two minutes) for the test to act.
pub(crate) fn failpoint(name: &str) {
    let Ok(v) = std::env::var("LIFEBOAT_FAILPOINT") else {
        return;
    };
    if v == name {
        tracing::warn!(point = name, "failpoint: aborting");
        std::process::abort();
    }
    if v.strip_prefix("pause:") == Some(name) {
        tracing::warn!(point = name, "failpoint: pausing");
        eprintln!("paused at {name}");
        std::thread::sleep(std::time::Duration::from_secs(120));
    }
}

fn restore_id() -> String {
    crate::time::stamp_millis(chrono::Utc::now())
}

/// Whether a rename from folder `from` into folder `to` works (same filesystem and same
/// mount: a bind mount of the same disk still refuses with EXDEV), probed with an empty file.
fn renames_across(from: &Path, to: &Path) -> bool {
    let name = format!(".lifeboat-probe-rename-{}", std::process::id());
    let (a, b) = (from.join(&name), to.join(&name));
    if std::fs::File::create(&a).is_err() {
        return false;
    }
    let ok = std::fs::rename(&a, &b).is_ok();
    let _ = std::fs::remove_file(if ok { &b } else { &a });
    ok
}

/// Copies file `from` to `to` with its mode, owner (when allowed) and modification time.
fn copy_keeping_metadata(from: &Path, to: &Path) -> Result<(), RestoreError> {
    std::fs::copy(from, to).map_err(io_err(from))?;
    let meta = std::fs::metadata(from).map_err(io_err(from))?;
    std::fs::set_permissions(to, meta.permissions()).map_err(io_err(to))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let _ = std::os::unix::fs::chown(to, Some(meta.uid()), Some(meta.gid()));
    }
    if let Ok(mtime) = meta.modified() {
        let f = std::fs::File::options()
            .write(true)
            .open(to)
            .map_err(io_err(to))?;
        f.set_modified(mtime).map_err(io_err(to))?;
    }
    Ok(())
}

/// Moves `from` to `to` (same filesystem) and syncs `to`'s folder.
fn swap_rename(from: &Path, to: &Path) -> Result<(), RestoreError> {
    if let Some(p) = to.parent() {
        std::fs::create_dir_all(p).map_err(io_err(p))?;
    }
    archive::commit(from, to).map_err(|e| RestoreError::Io {
        path: from.to_owned(),
        source: std::io::Error::new(e.kind(), format!("moving it to {}: {e}", to.display())),
    })
}

/// The image a helper container for a volume of service `svc` runs: the service's own image
/// (or, for a service that is only built, the one compose built), when it is on this
/// machine, so nothing is pulled.
fn helper_image(
    engine: &BlockingEngine,
    project: Option<&Project>,
    stack: &str,
    svc: &str,
) -> Option<String> {
    let named = project
        .and_then(|p| p.service(svc))
        .and_then(|s| s.image.clone());
    named
        .into_iter()
        .chain([format!("{stack}-{svc}"), format!("{stack}_{svc}")])
        .find(|i| engine.image_exists(i).unwrap_or(false))
}

/// A path from the bytes of a name (on Unix every byte string is one).
#[cfg(unix)]
fn bytes_path(bytes: Vec<u8>) -> PathBuf {
    use std::os::unix::ffi::OsStringExt;
    PathBuf::from(std::ffi::OsString::from_vec(bytes))
}

#[cfg(not(unix))]
fn bytes_path(bytes: Vec<u8>) -> PathBuf {
    PathBuf::from(String::from_utf8_lossy(&bytes).into_owned())
}

/// Writes `prefix`'s entries of an archive again through the engine, into the folder
/// `mount` of `container` (through its parent, so the folder's own owner and mode are set
/// too), keeping their numeric owners.
fn write_owners(
    engine: &BlockingEngine,
    container: &str,
    mount: &str,
    source: &Source,
    identity: &age::x25519::Identity,
    prefix: &str,
) -> Result<(), EngineWriteError> {
    let mount = Path::new(mount);
    let parent = mount
        .parent()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "/".into());
    let base = mount
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| EngineWriteError::NotAFolder {
            mount: mount.to_owned(),
        })?;
    let reader = source.open(identity)?;
    let prefix = prefix.to_owned();
    engine
        .upload(container, &parent, move |out| {
            let mut src = tar::Archive::new(reader);
            let mut tar = capture::builder(std::io::BufWriter::with_capacity(1 << 18, out));
            // Names are bytes (Linux file names are), moved from `prefix/` to `base/`.
            let rename = |name: &[u8]| -> Option<PathBuf> {
                let rest: &[u8] = if name.strip_suffix(b"/").unwrap_or(name) == prefix.as_bytes() {
                    b""
                } else {
                    name.strip_prefix(prefix.as_bytes())?.strip_prefix(b"/")?
                };
                let mut new = format!("{base}/").into_bytes();
                new.extend_from_slice(rest);
                Some(bytes_path(new))
            };
            for entry in src.entries()? {
                let mut entry = entry?;
                let Some(new) = rename(&entry.path_bytes()) else {
                    continue;
                };
                let mut header = entry.header().clone();
                let kind = header.entry_type();
                if kind != tar::EntryType::Link {
                    capture::append_pax(&mut tar, &capture::kept_pax(&mut entry)?)?;
                }
                match kind {
                    tar::EntryType::Symlink => {
                        let target = entry.link_name()?.unwrap_or_default().into_owned();
                        tar.append_link(&mut header, &new, target)?;
                    }
                    tar::EntryType::Link => {
                        let target = entry.link_name_bytes().unwrap_or_default().into_owned();
                        let Some(t) = rename(&target) else {
                            continue;
                        };
                        tar.append_link(&mut header, &new, t)?;
                    }
                    _ => tar.append_data(&mut header, &new, &mut entry)?,
                }
            }
            tar.into_inner()?.flush()
        })
        .map_err(|source| EngineWriteError::Owners {
            mount: mount.to_owned(),
            source,
        })
}

/// Counts what a dump load reads, for progress.
struct Counted<'a, R> {
    inner: R,
    progress: &'a dyn Progress,
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.advance(0, n as u64);
        Ok(n)
    }
}

/// Only the last restore can be undone: earlier restore folders (and the old content they
/// kept) are removed. Returns what could not be removed (a folder of another uid, when not
/// running as root).
fn forget_older_restores(restores: &Path, keep: &str) -> Vec<PathBuf> {
    let mut stuck = Vec::new();
    let Ok(rd) = std::fs::read_dir(restores) else {
        return stuck;
    };
    for e in rd.filter_map(Result::ok) {
        let name = e.file_name().to_string_lossy().into_owned();
        if name == keep || name.starts_with('.') || !e.path().is_dir() {
            continue;
        }
        if let Ok(j) = Journal::load(&e.path()) {
            if matches!(j.state, State::Staging | State::Swapping | State::Loading) {
                continue;
            }
            for s in &j.slots {
                let mut paths = vec![s.aside.clone(), s.staged.clone()];
                paths.extend(s.base.clone());
                for p in paths {
                    journal::remove_leftover(&p);
                    if std::fs::symlink_metadata(&p).is_ok() {
                        stuck.push(p);
                    }
                }
            }
        }
        journal::remove_leftover(&e.path());
    }
    stuck
}
