//! Inspection: what a stack keeps on disk, per service and mount, how fast it grows, and
//! what is at risk — secrets readable by others or not ignored by git, passwords written
//! into the compose file, databases whose data would be lost on the next `docker compose
//! down`, SQLite files caught mid-write, paths Lifeboat cannot read.
//!
//! Inspection reads; it never changes the stack. When a Docker engine answers, it adds each
//! service's state and finds named volumes; without one it says so once and measures what
//! the files show.

pub mod scan;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::catalog::PastSizes;
use crate::catalog::{Catalog, CatalogError, StackRecord};
use crate::docker::{ContainerInfo, DockerError, DockerProblem, Engine};
use crate::job::{CancelToken, Progress};
use crate::stack::{git_ignores, is_system_path, Service};
use crate::stack::{LoadOptions, Mount, MountType, Project, ServiceKind, StackError};
use crate::warning::{Warning, WarningCode};
use scan::{Scan, SizedFile};

/// Why an inspection did not finish.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InspectError {
    /// The user cancelled it.
    #[error("the inspection was cancelled")]
    Cancelled,
    /// A worker thread failed unexpectedly.
    #[error("the inspection failed unexpectedly: {0}")]
    Internal(String),
}

/// How to inspect.
#[derive(Debug, Clone)]
pub struct InspectOptions {
    /// How many of the largest files to list.
    pub largest: usize,
    /// Sizes of the previous inspection, for growth.
    pub previous: Option<PastSizes>,
    /// Ask a Docker engine (if one answers) about containers and volumes.
    pub use_docker: bool,
    /// The engine's address (`unix:///path`, `tcp://…`); `None`: `DOCKER_HOST` or the default.
    pub docker_host: Option<String>,
}

impl Default for InspectOptions {
    fn default() -> Self {
        Self {
            largest: 10,
            previous: None,
            use_docker: true,
            docker_host: None,
        }
    }
}

/// The stack an inspection is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct StackInfo {
    /// The compose project name.
    pub name: String,
    /// The stack folder.
    pub dir: String,
    /// The compose files read, in order.
    pub compose_files: Vec<String>,
    /// Files of the compose file's top-level `secrets:` (backed up with the secrets).
    pub secret_files: Vec<String>,
    /// Files of its top-level `configs:` (backed up with the secrets).
    pub config_files: Vec<String>,
    /// Local folders services are built from (each backed up with its service).
    pub build_contexts: Vec<String>,
}

/// Whether a Docker engine answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct DockerStatus {
    /// An engine answered.
    pub reachable: bool,
    /// Where Lifeboat looked.
    pub host: String,
    /// Why it did not answer, when it did not.
    pub message: Option<String>,
    /// Which usual case that is (not installed, not running, no permission), when asked.
    pub problem: Option<DockerProblem>,
}

/// How a mount's size was measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum SizeSource {
    /// By reading the files directly.
    Files,
    /// Through the Docker engine's archive API.
    Engine,
    /// Not measured (tmpfs, a system path, missing, or unreadable).
    None,
}

/// One mount, with what inspection found there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct MountReport {
    /// The mount as the compose file defines it.
    #[serde(flatten)]
    pub mount: Mount,
    /// Bytes of regular files (0 when not measured: see `measured_by`).
    #[ts(type = "number")]
    pub bytes: u64,
    /// Number of regular files.
    #[ts(type = "number")]
    pub files: u64,
    /// Lifeboat could read all of it.
    pub readable: bool,
    /// How the size was measured.
    pub measured_by: SizeSource,
    /// A host path that belongs to the system (`/etc/localtime`, the Docker socket), not to
    /// the stack's data: not measured, not backed up.
    pub system: bool,
    /// The source exists on this machine.
    pub exists: bool,
}

/// One container of a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ContainerReport {
    /// The container's name.
    pub name: String,
    /// Its state (`running`, `exited`, …).
    pub state: String,
    /// Its health, when it has a health check.
    pub health: Option<String>,
}

/// One service, with what inspection found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ServiceReport {
    /// The service's name.
    pub name: String,
    /// Its image, if any.
    pub image: Option<String>,
    /// What kind of software it runs.
    pub kind: ServiceKind,
    /// Why Lifeboat thinks so.
    pub kind_reason: String,
    /// Profiles that enable it (empty: always on).
    pub profiles: Vec<String>,
    /// `running`, `exited`, `not created`, `2/3 running`, or `unknown` without an engine.
    pub state: String,
    /// Health of its container(s), when checked.
    pub health: Option<String>,
    /// Its containers.
    pub containers: Vec<ContainerReport>,
    /// Services it depends on.
    pub depends_on: Vec<String>,
    /// Its mounts.
    pub mounts: Vec<MountReport>,
    /// Bytes of its data (nested and shared mounts counted once).
    #[ts(type = "number")]
    pub bytes: u64,
    /// Files of its data.
    #[ts(type = "number")]
    pub files: u64,
    /// Bytes at the previous inspection, if there was one with this service.
    #[ts(type = "number | null")]
    pub previous_bytes: Option<u64>,
    /// `bytes - previous_bytes`.
    #[ts(type = "number | null")]
    pub growth_bytes: Option<i64>,
    /// SQLite databases found in its data.
    pub sqlite_files: Vec<String>,
}

/// A large file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct LargeFile {
    /// Where it is on this machine.
    pub path: String,
    /// Its size.
    #[ts(type = "number")]
    pub bytes: u64,
    /// The service whose data holds it.
    pub service: Option<String>,
}

/// Everything an inspection found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Inspection {
    /// The stack.
    pub stack: StackInfo,
    /// When (Unix seconds).
    #[ts(type = "number")]
    pub inspected_at: i64,
    /// How long it took.
    #[ts(type = "number")]
    pub duration_ms: u64,
    /// The Docker engine's status.
    pub docker: DockerStatus,
    /// Every service, whatever its profile.
    pub services: Vec<ServiceReport>,
    /// Bytes of all the stack's data, each path once.
    #[ts(type = "number")]
    pub total_bytes: u64,
    /// Files of all the stack's data.
    #[ts(type = "number")]
    pub total_files: u64,
    /// When the previous inspection was, if any.
    #[ts(type = "number | null")]
    pub previous_inspected_at: Option<i64>,
    /// The largest files, largest first.
    pub largest_files: Vec<LargeFile>,
    /// Free space on the disk that holds the stack.
    #[ts(type = "number | null")]
    pub free_bytes: Option<u64>,
    /// Everything worth knowing, most important first.
    pub warnings: Vec<Warning>,
}

/// Where a mount's data was found and how to measure it.
#[derive(Debug, Clone)]
enum Location {
    Host(PathBuf),
    /// Readable only through a container that mounts it (container id, path inside).
    Engine(String, String),
    Nowhere,
}

/// Inspects a loaded project.
///
/// # Errors
/// [`InspectError::Cancelled`] when `cancel` fires; nothing else stops an inspection.
pub async fn inspect(
    project: &Project,
    opts: &InspectOptions,
    progress: Arc<dyn Progress>,
    cancel: &CancelToken,
) -> Result<Inspection, InspectError> {
    let started = Instant::now();
    let mut warnings = project.warnings.clone();
    let (engine, docker) = connect(opts, &mut warnings).await;
    let containers = match &engine {
        Some(e) => e
            .project_containers(&project.name)
            .await
            .unwrap_or_else(|err| {
                warnings.push(Warning::new(
                    WarningCode::DockerUnavailable,
                    err.to_string(),
                ));
                Vec::new()
            }),
        None => Vec::new(),
    };
    // Where each mount's data is.
    let mut locations: Vec<Vec<Location>> = Vec::new();
    for svc in &project.services {
        let mut locs = Vec::new();
        for m in &svc.mounts {
            locs.push(locate(m, &svc.name, &containers, engine.as_ref(), &mut warnings).await);
        }
        locations.push(locs);
    }
    let measured = Measured {
        scans: scan_host_paths(&locations, opts.largest, &progress, cancel).await?,
        engine: match &engine {
            Some(e) => {
                measure_through(e, &locations, progress.as_ref(), cancel, &mut warnings).await?
            }
            None => HashMap::new(),
        },
    };
    let mut services = Vec::new();
    let mut all_roots: Vec<PathBuf> = Vec::new();
    let mut total_engine = (0u64, 0u64);
    for (svc, locs) in project.services.iter().zip(&locations) {
        let (report, roots, through) =
            service_report(svc, locs, &measured, &containers, engine.is_some(), opts);
        all_roots.extend(roots);
        total_engine.0 += through.0;
        total_engine.1 += through.1;
        services.push(report);
    }
    all_roots.sort();
    all_roots.dedup();
    let (total_bytes, total_files) = sum_roots(&all_roots, &measured.scans);
    let largest_files = largest_files(&measured.scans, &services, opts.largest);
    risk_warnings(project, &services, &measured.scans, &mut warnings);
    warnings.sort_by_key(|w| severity(w.code));
    Ok(Inspection {
        stack: stack_info(project),
        inspected_at: crate::time::unix_now(),
        duration_ms: started.elapsed().as_millis() as u64,
        docker,
        services,
        total_bytes: total_bytes + total_engine.0,
        total_files: total_files + total_engine.1,
        previous_inspected_at: opts.previous.as_ref().map(|p| p.at),
        largest_files,
        free_bytes: fs4::available_space(&project.dir).ok(),
        warnings,
    })
}

/// The engine, if one answers, and what the inspection says about it.
async fn connect(
    opts: &InspectOptions,
    warnings: &mut Vec<Warning>,
) -> (Option<Engine>, DockerStatus) {
    let host = || {
        opts.docker_host
            .clone()
            .unwrap_or_else(crate::docker::configured_host)
    };
    if !opts.use_docker {
        let status = DockerStatus {
            reachable: false,
            host: host(),
            message: Some("not asked".into()),
            problem: None,
        };
        return (None, status);
    }
    match Engine::connect(opts.docker_host.as_deref()).await {
        Ok(e) => {
            let status = DockerStatus {
                reachable: true,
                host: e.host().to_owned(),
                message: None,
                problem: None,
            };
            (Some(e), status)
        }
        Err(e) => {
            warnings.push(Warning::new(WarningCode::DockerUnavailable, e.to_string()));
            let problem = match &e {
                DockerError::Unreachable { problem, .. } => Some(*problem),
                _ => Some(DockerProblem::NoAnswer),
            };
            let status = DockerStatus {
                reachable: false,
                host: host(),
                message: Some(e.to_string()),
                problem,
            };
            (None, status)
        }
    }
}

/// What was measured: host paths by scan, engine paths by (container, path) → (files, bytes).
struct Measured {
    scans: HashMap<PathBuf, Scan>,
    engine: HashMap<(String, String), (u64, u64)>,
}

/// Scans each distinct host path once, off the async runtime.
async fn scan_host_paths(
    locations: &[Vec<Location>],
    largest: usize,
    progress: &Arc<dyn Progress>,
    cancel: &CancelToken,
) -> Result<HashMap<PathBuf, Scan>, InspectError> {
    let mut paths: Vec<PathBuf> = locations
        .iter()
        .flatten()
        .filter_map(|l| match l {
            Location::Host(p) if !is_system_path(p) && std::fs::symlink_metadata(p).is_ok() => {
                Some(p.clone())
            }
            _ => None,
        })
        .collect();
    paths.sort();
    paths.dedup();
    let cancel = cancel.clone();
    let progress = progress.clone();
    tokio::task::spawn_blocking(move || -> Result<HashMap<PathBuf, Scan>, scan::Cancelled> {
        let mut out = HashMap::new();
        for p in paths {
            progress.phase(&p.display().to_string());
            let s = scan::scan(&p, largest, progress.as_ref(), &cancel)?;
            out.insert(p, s);
        }
        Ok(out)
    })
    .await
    .map_err(|e| InspectError::Internal(e.to_string()))?
    .map_err(|_| InspectError::Cancelled)
}

/// Measures each data folder only a container can read, through the engine, once.
async fn measure_through(
    e: &Engine,
    locations: &[Vec<Location>],
    progress: &dyn Progress,
    cancel: &CancelToken,
    warnings: &mut Vec<Warning>,
) -> Result<HashMap<(String, String), (u64, u64)>, InspectError> {
    let mut sizes = HashMap::new();
    for loc in locations.iter().flatten() {
        let Location::Engine(id, path) = loc else {
            continue;
        };
        if cancel.is_cancelled() {
            return Err(InspectError::Cancelled);
        }
        if sizes.contains_key(&(id.clone(), path.clone())) {
            continue;
        }
        progress.phase(&format!("{path} (through Docker)"));
        match e.measure_path(id, path).await {
            Ok((files, bytes)) => {
                progress.advance(files, bytes);
                sizes.insert((id.clone(), path.clone()), (files, bytes));
            }
            Err(err) => warnings.push(Warning::new(
                WarningCode::VolumeSizeUnknown,
                format!("The data at {path} could not be measured through Docker: {err}"),
            )),
        }
    }
    Ok(sizes)
}

/// One service's report, the host folders it was measured by, and the (bytes, files)
/// measured through the engine.
fn service_report(
    svc: &Service,
    locs: &[Location],
    measured: &Measured,
    containers: &[ContainerInfo],
    engine: bool,
    opts: &InspectOptions,
) -> (ServiceReport, Vec<PathBuf>, (u64, u64)) {
    let mut mounts = Vec::new();
    let mut roots: Vec<PathBuf> = Vec::new();
    let (mut eng_bytes, mut eng_files) = (0u64, 0u64);
    let mut sqlite_files = Vec::new();
    let mut pg_version_at: Option<PathBuf> = None;
    for (m, loc) in svc.mounts.iter().zip(locs) {
        let report = mount_report(m, loc, measured);
        match loc {
            Location::Host(p) => {
                if let Some(s) = measured.scans.get(p) {
                    roots.push(p.clone());
                    sqlite_files.extend(s.sqlite.iter().map(|(db, _)| db.display().to_string()));
                    if s.pg_version {
                        pg_version_at.get_or_insert(p.clone());
                    }
                }
            }
            Location::Engine(..) => {
                eng_bytes += report.bytes;
                eng_files += report.files;
            }
            Location::Nowhere => {}
        }
        mounts.push(report);
    }
    let (bytes, files) = sum_roots(&roots, &measured.scans);
    let (kind, kind_reason) = kind_of(svc, pg_version_at.as_deref(), sqlite_files.first());
    let mine: Vec<&ContainerInfo> = containers
        .iter()
        .filter(|c| c.service == svc.name)
        .collect();
    let (state, health) = service_state(&mine, engine);
    let previous_bytes = opts
        .previous
        .as_ref()
        .and_then(|p| p.services.get(&svc.name).copied());
    let fully = fully_measured(&mounts);
    let report = ServiceReport {
        name: svc.name.clone(),
        image: svc.image.clone(),
        kind,
        kind_reason,
        profiles: svc.profiles.clone(),
        state,
        health,
        containers: mine
            .iter()
            .map(|c| ContainerReport {
                name: c.name.clone(),
                state: c.state.clone(),
                health: c.health.clone(),
            })
            .collect(),
        depends_on: svc.depends_on.clone(),
        mounts,
        bytes: bytes + eng_bytes,
        files: files + eng_files,
        previous_bytes,
        // A volume nobody could measure (the engine is down) is not a shrink to 0 B.
        growth_bytes: previous_bytes
            .filter(|_| fully)
            .map(|p| (bytes + eng_bytes) as i64 - p as i64),
        sqlite_files,
    };
    (report, roots, (eng_bytes, eng_files))
}

/// What is known of one mount: where, how big, whether readable.
fn mount_report(m: &Mount, loc: &Location, measured: &Measured) -> MountReport {
    let mut report = MountReport {
        mount: m.clone(),
        bytes: 0,
        files: 0,
        readable: false,
        measured_by: SizeSource::None,
        system: false,
        exists: false,
    };
    match loc {
        Location::Host(p) => {
            report.mount.host_path = Some(p.clone());
            report.system = is_system_path(p);
            report.exists = std::fs::symlink_metadata(p).is_ok();
            if let Some(s) = measured.scans.get(p) {
                report.bytes = s.bytes;
                report.files = s.files;
                report.readable = s.unreadable.is_empty();
                report.measured_by = SizeSource::Files;
            }
        }
        Location::Engine(id, path) => {
            report.exists = true;
            if let Some(&(files, bytes)) = measured.engine.get(&(id.clone(), path.clone())) {
                report.bytes = bytes;
                report.files = files;
                report.readable = true;
                report.measured_by = SizeSource::Engine;
            }
        }
        Location::Nowhere => {}
    }
    report
}

/// What kind of service this is, and why: by its image, else by what its data holds.
fn kind_of(
    svc: &Service,
    pg_version_at: Option<&Path>,
    sqlite: Option<&String>,
) -> (ServiceKind, String) {
    if let Some((k, why)) = &svc.image_kind {
        return (*k, why.clone());
    }
    match (pg_version_at, sqlite) {
        (Some(p), _) => (
            ServiceKind::Postgres,
            format!("PG_VERSION in {}", p.display()),
        ),
        (None, Some(db)) => (ServiceKind::Sqlite, format!("SQLite database {db}")),
        (None, None) => (
            ServiceKind::Generic,
            match &svc.image {
                Some(i) => format!("image {i} is not a known database"),
                None => "built locally; its data shows no known database".into(),
            },
        ),
    }
}

/// The largest files over all scans, each once, with the service that holds each.
fn largest_files(
    scans: &HashMap<PathBuf, Scan>,
    services: &[ServiceReport],
    n: usize,
) -> Vec<LargeFile> {
    let mut largest: Vec<SizedFile> = scans
        .values()
        .flat_map(|s| s.largest.iter().cloned())
        .collect();
    largest.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.path.cmp(&b.path)));
    largest.dedup_by(|a, b| a.path == b.path);
    largest.truncate(n);
    let holder = |f: &SizedFile| {
        services
            .iter()
            .find(|s| {
                s.mounts.iter().any(|m| {
                    m.mount
                        .host_path
                        .as_ref()
                        .is_some_and(|h| f.path.starts_with(h))
                })
            })
            .map(|s| s.name.clone())
    };
    largest
        .into_iter()
        .map(|f| LargeFile {
            service: holder(&f),
            path: f.path.display().to_string(),
            bytes: f.bytes,
        })
        .collect()
}

/// The stack's own files, as the inspection lists them.
fn stack_info(project: &Project) -> StackInfo {
    let shown = |v: &[(String, PathBuf)]| v.iter().map(|(_, f)| f.display().to_string()).collect();
    let mut build_contexts: Vec<String> = project
        .services
        .iter()
        .filter_map(|s| Some(s.build_context.as_ref()?.display().to_string()))
        .collect();
    build_contexts.sort();
    build_contexts.dedup();
    StackInfo {
        name: project.name.clone(),
        dir: project.dir.display().to_string(),
        compose_files: project
            .compose_files
            .iter()
            .map(|f| f.display().to_string())
            .collect(),
        secret_files: shown(&project.secret_files),
        config_files: shown(&project.config_files),
        build_contexts,
    }
}

/// Why [`inspect_stack`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InspectStackError {
    /// The stack could not be read.
    #[error(transparent)]
    Stack(#[from] StackError),
    /// The catalog could not be used.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// The inspection did not finish.
    #[error(transparent)]
    Inspect(#[from] InspectError),
}

/// Loads the stack in `dir`, inspects it with the previous inspection's sizes for growth,
/// and records it in the catalog (adding the stack if it is new).
///
/// # Errors
/// When the stack cannot be read, the catalog fails, or the inspection is cancelled.
pub async fn inspect_stack(
    catalog: &Catalog,
    dir: &Path,
    load: &LoadOptions,
    mut opts: InspectOptions,
    progress: Arc<dyn Progress>,
    cancel: &CancelToken,
) -> Result<(StackRecord, Inspection), InspectStackError> {
    let project = crate::stack::load(dir, load)?;
    let record = crate::settings::add_stack(catalog, &project)?;
    opts.previous = catalog.last_sizes(record.id)?;
    let inspection = inspect(&project, &opts, progress, cancel).await?;
    // Only sizes that were measured become history: the next growth compares like with like.
    let per_service: Vec<(String, u64, u64)> = inspection
        .services
        .iter()
        .filter(|s| s.fully_measured())
        .map(|s| (s.name.clone(), s.bytes, s.files))
        .collect();
    catalog.record_inspection(
        record.id,
        inspection.inspected_at,
        (inspection.total_bytes, inspection.total_files),
        inspection.warnings.len(),
        &per_service,
    )?;
    let record = catalog.stack(record.id)?;
    Ok((record, inspection))
}

impl ServiceReport {
    /// Whether every data mount was measured: otherwise `bytes` is only part of the data
    /// (a volume while the engine is down), and growth is not known.
    pub fn fully_measured(&self) -> bool {
        fully_measured(&self.mounts)
    }
}

/// Whether every data mount (bind or volume, not a system path) was measured.
fn fully_measured(mounts: &[MountReport]) -> bool {
    mounts.iter().all(|m| {
        !matches!(m.mount.kind, MountType::Bind | MountType::Volume)
            || m.system
            || m.measured_by != SizeSource::None
            || (m.mount.kind == MountType::Bind && !m.exists)
    })
}

/// Sizes of `roots`, leaving out any root inside another (its files are already counted).
fn sum_roots(roots: &[PathBuf], scans: &HashMap<PathBuf, Scan>) -> (u64, u64) {
    let mut sorted: Vec<&PathBuf> = roots.iter().collect();
    sorted.sort();
    sorted.dedup();
    let mut kept: Vec<&PathBuf> = Vec::new();
    for r in sorted {
        if !kept.iter().any(|k| r.starts_with(k)) {
            kept.push(r);
        }
    }
    kept.iter()
        .filter_map(|r| scans.get(*r))
        .fold((0, 0), |(b, f), s| (b + s.bytes, f + s.files))
}

async fn locate(
    m: &Mount,
    service: &str,
    containers: &[ContainerInfo],
    engine: Option<&Engine>,
    warnings: &mut Vec<Warning>,
) -> Location {
    match m.kind {
        MountType::Bind => m
            .host_path
            .clone()
            .map_or(Location::Nowhere, Location::Host),
        MountType::Volume => {
            if let Some(p) = &m.host_path {
                return Location::Host(p.clone());
            }
            // The container that mounts it, for names of anonymous volumes and for reading
            // through the engine.
            let holder = containers.iter().find(|c| {
                c.service == service
                    && c.volumes.iter().any(|(name, dest)| {
                        dest == &m.target && m.volume_name.as_ref().is_none_or(|v| v == name)
                    })
            });
            let name = m.volume_name.clone().or_else(|| {
                holder.and_then(|c| {
                    c.volumes
                        .iter()
                        .find(|(_, d)| d == &m.target)
                        .map(|(n, _)| n.clone())
                })
            });
            let (Some(engine), Some(name)) = (engine, name) else {
                // Without an engine nobody knows where a named volume is; the one
                // docker-unavailable warning says so, and the mount shows "not measured".
                return Location::Nowhere;
            };
            match engine.volume_mountpoint(&name).await {
                Ok(Some(mp)) => {
                    let path = PathBuf::from(&mp);
                    if std::fs::read_dir(&path).is_ok() {
                        Location::Host(path)
                    } else if let Some(c) = holder {
                        Location::Engine(c.id.clone(), m.target.clone())
                    } else {
                        warnings.push(
                            Warning::new(
                                WarningCode::VolumeSizeUnknown,
                                format!(
                                    "The volume {name} is not readable by you and no container of {service} \
                                     mounts it, so its size is unknown; start the stack once and inspect again."
                                ),
                            )
                            .service(service),
                        );
                        Location::Nowhere
                    }
                }
                // Not created yet: compose makes it on the first `up`.
                Ok(None) => Location::Nowhere,
                Err(e) => {
                    warnings.push(
                        Warning::new(WarningCode::VolumeSizeUnknown, e.to_string())
                            .service(service),
                    );
                    Location::Nowhere
                }
            }
        }
        MountType::Tmpfs | MountType::Other => Location::Nowhere,
    }
}

fn service_state(mine: &[&ContainerInfo], engine: bool) -> (String, Option<String>) {
    if !engine {
        return ("unknown".into(), None);
    }
    if mine.is_empty() {
        return ("not created".into(), None);
    }
    let running = mine.iter().filter(|c| c.state == "running").count();
    let state = if running == mine.len() {
        "running".to_owned()
    } else if running == 0 {
        mine[0].state.clone()
    } else {
        format!("{running}/{} running", mine.len())
    };
    let health = ["unhealthy", "starting", "healthy"]
        .iter()
        .find(|h| mine.iter().any(|c| c.health.as_deref() == Some(**h)))
        .map(|h| (*h).to_owned());
    (state, health)
}

fn severity(code: WarningCode) -> u8 {
    use WarningCode::*;
    match code {
        DataNotPersisted | BindSourceMissing | SecretsNotGitignored | VariableRequired
        | EnvFileMissing => 0,
        SecretsFileReadable | HardcodedSecret | SqliteWalActive => 1,
        UnreadablePath | VolumeUndefined | VolumeSizeUnknown | ComposeProblem | VariableSyntax => 2,
        _ => 3,
    }
}

#[cfg(unix)]
fn others_can_access(p: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(p).ok()?.permissions().mode() & 0o777;
    (mode & 0o077 != 0).then_some(mode)
}

#[cfg(not(unix))]
fn others_can_access(_p: &Path) -> Option<u32> {
    None
}

/// What puts the stack's data at risk, one check at a time.
fn risk_warnings(
    project: &Project,
    services: &[ServiceReport],
    scans: &HashMap<PathBuf, Scan>,
    warnings: &mut Vec<Warning>,
) {
    for (path, service) in secrets_files(project, scans) {
        warnings.extend(secrets_file_readable(project, &path, service));
        warnings.extend(secrets_not_gitignored(project, &path));
    }
    for svc in &project.services {
        warnings.extend(
            svc.hardcoded_secrets
                .iter()
                .map(|var| hardcoded_secret(svc, var)),
        );
    }
    for (svc, report) in project.services.iter().zip(services) {
        for m in &report.mounts {
            warnings.extend(bind_source_missing(svc, m));
            let Some(s) = m.mount.host_path.as_ref().and_then(|p| scans.get(p)) else {
                continue;
            };
            warnings.extend(unreadable(svc, s));
            warnings.extend(
                s.sqlite
                    .iter()
                    .filter_map(|(db, wal)| sqlite_wal_active(svc, db, *wal)),
            );
        }
        warnings.extend(data_not_persisted(svc, report));
    }
}

/// Secrets files, with the service whose `env_file` each is: the stack's .env, every
/// env_file, env files inside the data, and compose's own `secrets:` files.
fn secrets_files(
    project: &Project,
    scans: &HashMap<PathBuf, Scan>,
) -> BTreeMap<PathBuf, Option<String>> {
    let mut secrets: BTreeMap<PathBuf, Option<String>> = BTreeMap::new();
    if let Some(d) = &project.dotenv {
        secrets.insert(d.clone(), None);
    }
    for svc in &project.services {
        for ef in svc.env_files.iter().filter(|e| e.path.is_file()) {
            secrets
                .entry(ef.path.clone())
                .or_insert_with(|| Some(svc.name.clone()));
        }
    }
    for f in scans.values().flat_map(|s| &s.env_files) {
        secrets.entry(f.clone()).or_insert(None);
    }
    for (_, f) in project.secret_files.iter().filter(|(_, f)| f.is_file()) {
        secrets.entry(f.clone()).or_insert(None);
    }
    secrets
}

/// A path as the person knows it: relative to the stack folder when inside it.
fn shown(project: &Project, path: &Path) -> String {
    path.strip_prefix(&project.dir)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// A secrets file other users may read.
fn secrets_file_readable(
    project: &Project,
    path: &Path,
    service: Option<String>,
) -> Option<Warning> {
    let mode = others_can_access(path)?;
    let shown = shown(project, path);
    let mut w = Warning::new(
        WarningCode::SecretsFileReadable,
        format!(
            "{shown} holds secrets but other users on this machine can {} it (mode {mode:o}); \
             restrict it with `chmod 600 {shown}`.",
            if mode & 0o022 != 0 {
                "read or change"
            } else {
                "read"
            }
        ),
    )
    .path(path);
    w.service = service;
    Some(w)
}

/// A secrets file in a git work tree that does not ignore it.
fn secrets_not_gitignored(project: &Project, path: &Path) -> Option<Warning> {
    if !path.starts_with(&project.dir) || git_ignores(&project.dir, path) != Some(false) {
        return None;
    }
    let shown = shown(project, path);
    Some(
        Warning::new(
            WarningCode::SecretsNotGitignored,
            format!(
                "{shown} holds secrets and this folder is a git repository that does not ignore it: \
                 a `git add .` would publish them. Add {shown} to .gitignore."
            ),
        )
        .path(path),
    )
}

/// A secret written into the compose file.
fn hardcoded_secret(svc: &Service, var: &str) -> Warning {
    Warning::new(
        WarningCode::HardcodedSecret,
        format!(
            "{} has the secret {var} written into the compose file, where it is shared with \
             everyone who sees that file; move it to .env and write ${{{var}}} instead.",
            svc.name
        ),
    )
    .service(&svc.name)
}

/// A bind mount whose host path is not there.
fn bind_source_missing(svc: &Service, m: &MountReport) -> Option<Warning> {
    let p = m.mount.host_path.as_ref()?;
    if m.mount.kind != MountType::Bind || m.exists || m.system {
        return None;
    }
    Some(
        Warning::new(
            WarningCode::BindSourceMissing,
            format!(
                "{} mounts {} at {}, but that path does not exist: Docker will create an \
                 empty folder owned by root there, and the service starts without its data.",
                svc.name,
                p.display(),
                m.mount.target
            ),
        )
        .service(&svc.name)
        .path(p),
    )
}

/// Paths of a scan that could not be read.
fn unreadable(svc: &Service, s: &Scan) -> Option<Warning> {
    let (first, why) = s.unreadable.first()?;
    let n = s.unreadable.len();
    let more = if n > 1 {
        format!(" (and {} more paths)", n - 1)
    } else {
        String::new()
    };
    Some(
        Warning::new(
            WarningCode::UnreadablePath,
            format!(
                "Lifeboat cannot read {}{more}: {why}. Its size is left out; Lifeboat reads \
                 such data through Docker when the service's container exists.",
                first.display()
            ),
        )
        .service(&svc.name)
        .path(first),
    )
}

/// A SQLite database with changes still in its write-ahead log.
fn sqlite_wal_active(svc: &Service, db: &Path, wal: u64) -> Option<Warning> {
    (wal > 0).then(|| {
        Warning::new(
            WarningCode::SqliteWalActive,
            format!(
                "The SQLite database {} has {} of changes in its write-ahead log: copying \
                 the file now would give a corrupt or outdated copy. Lifeboat backs it up \
                 with SQLite's online backup instead.",
                db.display(),
                human_bytes(wal)
            ),
        )
        .service(&svc.name)
        .path(db)
    })
}

/// A database with nothing mounted where it keeps its data.
fn data_not_persisted(svc: &Service, report: &ServiceReport) -> Option<Warning> {
    if !report.kind.is_database() {
        return None;
    }
    let data_dir = report.kind.data_dir()?;
    let persisted = report.mounts.iter().any(|m| {
        m.mount.kind != MountType::Tmpfs
            && (Path::new(data_dir).starts_with(&m.mount.target)
                || (report.kind == ServiceKind::Postgres
                    && m.mount.target.starts_with("/var/lib/postgresql")
                    && svc.environment_keys.iter().any(|k| k == "PGDATA")))
    });
    (!persisted).then(|| {
        Warning::new(
            WarningCode::DataNotPersisted,
            format!(
                "{} is a {} database but nothing is mounted at {data_dir}: its data lives in an \
                 anonymous volume or inside the container and is lost with `docker compose down`. \
                 Mount a named volume or a folder there.",
                svc.name,
                report.kind.as_str()
            ),
        )
        .service(&svc.name)
    })
}

/// Bytes in the units people read: `512 B`, `1.5 KiB`, `2.3 GiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}
