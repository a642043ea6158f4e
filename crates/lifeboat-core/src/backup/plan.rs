//! Planning a backup: which components a stack has and how each is captured. The secrets
//! come first (compose files, env files, compose `secrets:`/`configs:` files, env files
//! kept in data folders), then each service: where its data is (bind mounts, named volumes
//! read directly or through the engine), then how it is read (a dump, a Redis `BGSAVE`,
//! stopped, or live). A bind of the stack folder itself gets what no other component holds,
//! worked out last. No path is in two components, and the destination and Lifeboat's own
//! folder are in none.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::dump::DumpRecipe;
use super::manifest::ComponentKind;
use super::{
    capture, cover, db_lock_file, env_files_in, is_backups, readable, service_kind,
    system_path_skipped, BackupError, EnginePath, Mode, PlanContext, Planned,
};
use crate::stack::is_system_path;
use crate::stack::{Mount, MountType, Project, Service, ServiceKind};
use crate::warning::{Warning, WarningCode};

/// Plans the components of `project` (all, or the services in `only` and `secrets`).
///
/// # Errors
/// A name in `only` that is no service, or a database that looks running while the engine
/// cannot be reached to dump or stop it.
pub fn plan(
    project: &Project,
    only: &[String],
    ctx: &PlanContext,
) -> Result<(Vec<Planned>, Vec<Warning>), BackupError> {
    for o in only {
        if o != "secrets" && project.service(o).is_none() {
            return Err(BackupError::UnknownComponent(o.clone()));
        }
    }
    let mut p = Planner {
        project,
        only,
        ctx,
        warnings: Vec::new(),
        claimed: Vec::new(),
        out: Vec::new(),
        volumes_seen: BTreeSet::new(),
        stack_dir_service: None,
        secrets: Vec::new(),
    };
    p.secrets();
    for s in &project.services {
        p.service(s)?;
    }
    p.stack_dir();
    p.leave_out_backups();
    Ok((p.out, p.warnings))
}

/// Where a service's data is.
#[derive(Default)]
struct Sources {
    /// Folders and files read here.
    roots: Vec<PathBuf>,
    /// Those that are its image's data folder (a database's).
    data_roots: Vec<PathBuf>,
    /// Named volumes' folders read here, with their archive prefix.
    volume_roots: Vec<(PathBuf, String)>,
    /// Named volumes and unreadable folders read through the engine.
    engine_paths: Vec<EnginePath>,
    /// It binds the stack folder itself (or is built from it).
    binds_stack_dir: bool,
}

/// How a service's data is read.
struct Way {
    dump: Option<(String, DumpRecipe)>,
    bgsave: Option<String>,
    cold: bool,
}

struct Planner<'a> {
    project: &'a Project,
    only: &'a [String],
    ctx: &'a PlanContext,
    warnings: Vec<Warning>,
    /// Paths some component holds already.
    claimed: Vec<PathBuf>,
    out: Vec<Planned>,
    volumes_seen: BTreeSet<String>,
    /// The service whose component gets the stack folder's own files.
    stack_dir_service: Option<String>,
    /// The secrets component's files.
    secrets: Vec<PathBuf>,
}

impl Planner<'_> {
    fn wanted(&self, name: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|o| o == name)
    }

    /// Keeps the paths of `roots` that no component holds yet (and none inside another),
    /// and marks them held.
    fn claim(&mut self, mut roots: Vec<PathBuf>) -> Vec<PathBuf> {
        roots.sort();
        roots.dedup();
        let mut kept: Vec<PathBuf> = Vec::new();
        for r in roots {
            if self.claimed.iter().any(|c| r.starts_with(c))
                || kept.iter().any(|k| r.starts_with(k))
            {
                continue;
            }
            kept.push(r);
        }
        self.claimed.extend(kept.iter().cloned());
        kept
    }

    /// The secrets component: the stack's definition and every env file.
    fn secrets(&mut self) {
        let project = self.project;
        let mut secrets: Vec<PathBuf> = project.compose_files.clone();
        secrets.extend(project.dotenv.clone());
        // The stack's definition: compose `secrets:` and `configs:` files.
        secrets.extend(
            project
                .secret_files
                .iter()
                .chain(&project.config_files)
                .map(|(_, f)| f.clone())
                .filter(|f| f.exists() && !is_system_path(f)),
        );
        for s in &project.services {
            secrets.extend(
                s.env_files
                    .iter()
                    .filter(|e| e.path.is_file())
                    .map(|e| e.path.clone()),
            );
        }
        let (in_data, skip) = env_files_in_data(project);
        secrets.extend(in_data);
        let secrets = self.claim(secrets);
        if self.wanted("secrets") && !secrets.is_empty() {
            self.out.push(Planned {
                name: "secrets".into(),
                kind: ComponentKind::Secrets,
                service: None,
                roots: secrets.clone(),
                volume_roots: Vec::new(),
                skip,
                engine_paths: Vec::new(),
                dump: None,
                bgsave: None,
                pre_exec: None,
                cold: false,
            });
        }
        self.secrets = secrets;
    }

    /// One service's component.
    fn service(&mut self, s: &Service) -> Result<(), BackupError> {
        let mut src = self.sources(s);
        let kind = service_kind(
            s,
            &src.data_roots
                .iter()
                .chain(&src.roots)
                .cloned()
                .collect::<Vec<_>>(),
        );
        if src.binds_stack_dir && self.wanted(&s.name) && self.stack_dir_service.is_none() {
            self.stack_dir_service = Some(s.name.clone());
        }
        let way = self.way(s, kind, &mut src)?;
        let roots = self.claim(src.roots);
        src.volume_roots.retain(|(d, _)| roots.contains(d));
        let holds_stack_dir = self.stack_dir_service.as_deref() == Some(s.name.as_str());
        let holds_something = holds_stack_dir
            || !roots.is_empty()
            || !src.engine_paths.is_empty()
            || way.dump.is_some();
        if !self.wanted(&s.name) || !holds_something {
            return Ok(());
        }
        let skip = self.secrets_under(&roots);
        self.out.push(Planned {
            name: format!("service-{}", s.name),
            kind: if way.dump.is_some() {
                ComponentKind::Database
            } else {
                ComponentKind::Service
            },
            service: Some(s.name.clone()),
            skip,
            roots,
            volume_roots: src.volume_roots,
            engine_paths: src.engine_paths,
            pre_exec: s
                .pre_backup
                .clone()
                .filter(|_| !way.cold)
                .and_then(|cmd| Some((self.ctx.running(&s.name)?.id.clone(), cmd))),
            dump: way.dump,
            bgsave: way.bgsave,
            cold: way.cold,
        });
        Ok(())
    }

    /// The secrets files under `roots`: left out of the component that holds `roots`.
    fn secrets_under(&self, roots: &[PathBuf]) -> Vec<PathBuf> {
        self.secrets
            .iter()
            .filter(|f| roots.iter().any(|r| f.starts_with(r)))
            .cloned()
            .collect()
    }

    /// Where service `s` keeps its data.
    fn sources(&mut self, s: &Service) -> Sources {
        let mut src = Sources::default();
        // What its image is built from belongs to it: the Dockerfile and sources.
        match &s.build_context {
            Some(c) if c == &self.project.dir => src.binds_stack_dir = true,
            Some(c) if c.is_dir() && !is_system_path(c) => src.roots.push(c.clone()),
            _ => {}
        }
        let image_data_dir = s.image_kind.as_ref().and_then(|(k, _)| k.data_dir());
        for m in &s.mounts {
            let is_data_dir = image_data_dir.is_some_and(|d| m.target.trim_end_matches('/') == d);
            self.mount(s, m, is_data_dir, &mut src);
        }
        src
    }

    /// Adds what mount `m` of service `s` holds to `src`.
    fn mount(&mut self, s: &Service, m: &Mount, is_data_dir: bool, src: &mut Sources) {
        let data = |src: &mut Sources, p: PathBuf| {
            if is_data_dir {
                src.data_roots.push(p);
            } else {
                src.roots.push(p);
            }
        };
        match (m.kind, &m.host_path) {
            // The stack folder itself (`.:/app`): its files that no other component holds,
            // worked out once every other component is known.
            (MountType::Bind | MountType::Volume, Some(p)) if p == &self.project.dir => {
                src.binds_stack_dir = true;
            }
            (MountType::Bind | MountType::Volume, Some(p))
                if is_system_path(p) && !self.ctx.include.iter().any(|i| p.starts_with(i)) =>
            {
                // Said for whole systems and the Docker socket, not for single system files
                // such as /etc/localtime.
                let said = self.wanted(&s.name) && crate::stack::is_whole_system(p);
                self.warnings
                    .extend(said.then(|| system_path_skipped(&s.name, &m.target, p)));
            }
            (MountType::Bind | MountType::Volume, Some(p)) if p.exists() => {
                // A folder this user may not read (a database's, owned by its uid): read it
                // through the engine, from a container that mounts it.
                if !readable(p) {
                    if let Some(c) = self.ctx.any_container(&s.name) {
                        src.engine_paths.push(EnginePath {
                            container: c.id.clone(),
                            path: m.target.clone(),
                            prefix: capture::archive_name(p, &self.project.dir),
                        });
                        self.claimed.push(p.clone());
                        return;
                    }
                }
                data(src, p.clone());
            }
            (MountType::Volume, None) => {
                let Some(vname) = m.volume_name.clone() else {
                    return;
                };
                if !self.volumes_seen.insert(vname.clone()) {
                    return;
                }
                let direct = self
                    .ctx
                    .volume_dirs
                    .get(&vname)
                    .filter(|_| !self.ctx.volumes_via_engine)
                    .filter(|d| std::fs::read_dir(d).is_ok());
                if let Some(dir) = direct {
                    src.volume_roots
                        .push((dir.clone(), format!("_volumes/{vname}")));
                    data(src, dir.clone());
                } else if let Some(c) = self.ctx.any_container(&s.name) {
                    src.engine_paths.push(EnginePath {
                        container: c.id.clone(),
                        path: m.target.clone(),
                        prefix: format!("_volumes/{vname}"),
                    });
                } else if self.wanted(&s.name) {
                    self.warnings
                        .push(volume_not_backed_up(s, m, &vname, self.ctx));
                }
            }
            _ => {}
        }
    }

    /// How service `s` (of `kind`) is read: a dump replaces its live database folder;
    /// otherwise, running, it is stopped (cold), `BGSAVE`d (Redis) or copied live (with a
    /// warning for a database).
    fn way(
        &mut self,
        s: &Service,
        kind: ServiceKind,
        src: &mut Sources,
    ) -> Result<Way, BackupError> {
        let ctx = self.ctx;
        let running = ctx.running(&s.name);
        let dump = DumpRecipe::for_kind(kind)
            .filter(|_| ctx.mode != Mode::Cold)
            .and_then(|r| Some((running?.id.clone(), r)));
        let mut way = Way {
            dump,
            bgsave: None,
            cold: false,
        };
        if way.dump.is_some() {
            // The dump replaces the live data folder, which is not safe to copy.
            let (pg, rest): (Vec<PathBuf>, Vec<PathBuf>) = std::mem::take(&mut src.roots)
                .into_iter()
                .partition(|r| r.join("PG_VERSION").is_file());
            src.roots = rest;
            src.data_roots.extend(pg);
            if !src.data_roots.is_empty() {
                self.claim(src.data_roots.clone());
            }
            let image_data_dir = s.image_kind.as_ref().and_then(|(k, _)| k.data_dir());
            src.engine_paths
                .retain(|e| image_data_dir != Some(e.path.trim_end_matches('/')));
            return Ok(way);
        }
        src.roots.extend(src.data_roots.iter().cloned());
        let has_data = src.binds_stack_dir || !src.roots.is_empty() || !src.engine_paths.is_empty();
        if running.is_some() && has_data {
            way.cold = match ctx.mode {
                Mode::Cold => true,
                Mode::Hot => false,
                Mode::Auto => {
                    ctx.stop.iter().any(|x| x == &s.name)
                        || (kind.is_database() && kind != ServiceKind::Redis)
                }
            };
            if !way.cold && kind == ServiceKind::Redis {
                way.bgsave = running.map(|c| c.id.clone());
            } else if !way.cold && kind.is_database() && self.wanted(&s.name) {
                self.warnings.push(
                    Warning::new(
                        WarningCode::DatabaseCopiedLive,
                        format!(
                            "{} ({}) was copied while it ran, so its copy may be inconsistent; \
                             back it up in auto or cold mode to stop it for the copy.",
                            s.name,
                            kind.as_str()
                        ),
                    )
                    .service(&s.name),
                );
            }
        } else if ctx.containers.is_none() && kind.is_database() && self.wanted(&s.name) {
            if let Some(lock) = db_lock_file(kind, &src.roots) {
                return Err(BackupError::Capture {
                    component: format!("service-{}", s.name),
                    reason: format!(
                        "{} looks running ({} exists) and the Docker engine cannot be reached to dump it \
                         or stop it; copying its files now would give a broken backup. Start Docker (or \
                         stop the stack with `docker compose stop`) and back up again.",
                        kind.as_str(),
                        lock.display()
                    ),
                });
            }
        }
        Ok(way)
    }

    /// The stack folder's own files that no other component holds go to the service that
    /// binds it. The destination and Lifeboat's folder are left out when they are inside
    /// it (a stack folder inside the destination's folder is data like any other).
    fn stack_dir(&mut self) {
        let Some(name) = self.stack_dir_service.clone() else {
            return;
        };
        let dir = &self.project.dir;
        let mut leave = self.claimed.clone();
        leave.extend(
            self.ctx
                .exclude
                .iter()
                .filter(|x| x.starts_with(dir))
                .cloned(),
        );
        leave.push(dir.join(".lifeboat"));
        let roots = cover(dir, &leave);
        let skip = self.secrets_under(&roots);
        if let Some(c) = self
            .out
            .iter_mut()
            .find(|c| c.service.as_deref() == Some(&name))
        {
            c.skip.extend(skip);
            c.roots.extend(roots);
            c.roots.sort();
        }
        self.out
            .retain(|c| !c.roots.is_empty() || !c.engine_paths.is_empty() || c.dump.is_some());
    }

    /// The destination and Lifeboat's own folder are never data, wherever they fall.
    fn leave_out_backups(&mut self) {
        let exclude = &self.ctx.exclude;
        for c in &mut self.out {
            for x in exclude {
                if let Some(root) = c.roots.iter().find(|r| x.starts_with(r) && x != *r) {
                    self.warnings.push(
                        Warning::new(
                            WarningCode::DestinationInsideData,
                            format!(
                                "{} is inside the data Lifeboat backs up ({}), so it was left out; keep \
                                 backups and Lifeboat's folder outside the stack's data.",
                                x.display(),
                                root.display()
                            ),
                        )
                        .path(x),
                    );
                    c.skip.push(x.clone());
                }
            }
            c.roots.retain(|r| !is_backups(r, exclude));
        }
    }
}

/// Env files the services' data folders keep (an app's generated `./data/secrets.env`) are
/// secrets too: "only the secrets" restores them, "only the database" leaves them. Their
/// folders belong to the service's component, which keeps their modes and times: they are
/// returned second, to be left out of the secrets archive, so it does not change each time
/// a file is added beside them.
fn env_files_in_data(project: &Project) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let mut files = Vec::new();
    let mut skip: Vec<PathBuf> = Vec::new();
    let binds = project
        .services
        .iter()
        .flat_map(|s| &s.mounts)
        .filter_map(|m| match (m.kind, &m.host_path) {
            (MountType::Bind, Some(p)) if p.starts_with(&project.dir) && p != &project.dir => {
                Some(p)
            }
            _ => None,
        });
    for p in binds {
        for f in env_files_in(p, 3) {
            skip.extend(
                f.ancestors()
                    .skip(1)
                    .take_while(|a| a.starts_with(p))
                    .map(Path::to_path_buf),
            );
            files.push(f);
        }
    }
    skip.sort();
    skip.dedup();
    (files, skip)
}

/// A named volume that could not be read at all.
fn volume_not_backed_up(s: &Service, m: &Mount, vname: &str, ctx: &PlanContext) -> Warning {
    let why = if ctx.containers.is_some() {
        "no container of the service exists to read it through; run `docker compose up` once"
    } else {
        "the Docker engine cannot be reached to read it; start Docker"
    };
    Warning::new(
        WarningCode::VolumeNotBackedUp,
        format!(
            "{}'s volume {vname} (at {}) was not backed up: {why}.",
            s.name, m.target
        ),
    )
    .service(&s.name)
}
