//! Cold capture: stopping services for the length of a backup and starting them again,
//! always.
//!
//! Services stop dependents first (from `depends_on`) and start in reverse order. Before a
//! container is stopped, the catalog's journal records it together with a lock file this
//! process holds; the [`Stopper`] starts everything again when it is dropped (on success,
//! error, cancel or panic). If the process dies (`kill -9`, power cut), the lock is released
//! with it, and [`recover`] — run at the next start of the app or the CLI — starts the
//! containers the journal still lists.

use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::catalog::{Catalog, CatalogError, StoppedContainer};
use crate::docker::{BlockingEngine, ContainerInfo, DockerError};
use crate::stack::Project;

/// Why services could not be stopped for a backup or restore (what was stopped is started
/// again when the [`Stopper`] drops).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StopError {
    /// The lock file that marks this job as the one that stopped them could not be made.
    #[error("cannot {doing} {}: {source}", path.display())]
    Lock {
        /// "create" or "lock".
        doing: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// The catalog's journal of stopped containers could not be written, so nothing was
    /// stopped that a crash would leave stopped.
    #[error(transparent)]
    Journal(#[from] CatalogError),
    /// A container did not stop.
    #[error("{container} did not stop within its grace period of {:.0} s: {source}", grace.as_secs_f64())]
    DidNotStop {
        /// The container's name.
        container: String,
        /// How long it was given.
        grace: Duration,
        /// What the engine said.
        #[source]
        source: DockerError,
    },
}

/// How long a container gets to exit after SIGTERM before the engine kills it, when its
/// service sets no `stop_grace_period` (compose's own default).
pub const DEFAULT_STOP_GRACE: Duration = Duration::from_secs(10);

/// The services to stop so that `wanted` can be read cold: `wanted` plus every running
/// service that depends on one of them (transitively), ordered dependents first.
pub fn stop_order(project: &Project, wanted: &BTreeSet<String>) -> Vec<String> {
    let mut set = wanted.clone();
    loop {
        let before = set.len();
        for s in &project.services {
            if s.depends_on.iter().any(|d| set.contains(d)) {
                set.insert(s.name.clone());
            }
        }
        if set.len() == before {
            break;
        }
    }
    // Start order: dependencies before dependents (depth-first, compose file order for ties).
    let mut start: Vec<String> = Vec::new();
    fn visit(
        p: &Project,
        name: &str,
        set: &BTreeSet<String>,
        seen: &mut BTreeSet<String>,
        out: &mut Vec<String>,
    ) {
        if !seen.insert(name.to_owned()) {
            return;
        }
        if let Some(s) = p.service(name) {
            for d in &s.depends_on {
                visit(p, d, set, seen, out);
            }
        }
        if set.contains(name) {
            out.push(name.to_owned());
        }
    }
    let mut seen = BTreeSet::new();
    for s in &project.services {
        visit(project, &s.name, &set, &mut seen, &mut start);
    }
    start.reverse();
    start
}

/// A lock file held for as long as this process runs a job that stopped containers.
#[derive(Debug)]
struct JobLock {
    path: PathBuf,
    _file: File,
}

impl JobLock {
    fn create(catalog: &Catalog) -> Result<Self, StopError> {
        let dir = catalog
            .path()
            .parent()
            .map_or_else(|| PathBuf::from("."), |p| p.join("jobs"));
        let failed = |doing, path: &PathBuf| {
            let path = path.clone();
            move |source| StopError::Lock {
                doing,
                path,
                source,
            }
        };
        std::fs::create_dir_all(&dir).map_err(failed("create", &dir))?;
        let path = dir.join(format!(
            "backup-{}-{}.lock",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        let file = File::create(&path).map_err(failed("create", &path))?;
        file.lock().map_err(failed("lock", &path))?;
        Ok(Self { path, _file: file })
    }
}

impl Drop for JobLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Containers stopped for a backup; started again when this is dropped.
pub struct Stopper<'a> {
    engine: &'a BlockingEngine,
    catalog: &'a Catalog,
    lock: Option<JobLock>,
    stack: String,
    /// In the order they were stopped.
    stopped: Vec<ContainerInfo>,
    since: Option<Instant>,
    downtime: Duration,
    /// Each service's `stop_grace_period`.
    grace: HashMap<String, Duration>,
    /// Problems starting containers again, as sentences.
    pub restart_errors: Vec<String>,
}

impl std::fmt::Debug for Stopper<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stopper")
            .field("stack", &self.stack)
            .field("stopped", &self.stopped)
            .finish_non_exhaustive()
    }
}

impl<'a> Stopper<'a> {
    /// A stopper for stack `stack` that has stopped nothing yet.
    pub fn new(engine: &'a BlockingEngine, catalog: &'a Catalog, stack: &str) -> Self {
        Self {
            engine,
            catalog,
            lock: None,
            stack: stack.to_owned(),
            stopped: Vec::new(),
            since: None,
            downtime: Duration::ZERO,
            grace: HashMap::new(),
            restart_errors: Vec::new(),
        }
    }

    /// Gives each service of `project` its own `stop_grace_period` (else
    /// [`DEFAULT_STOP_GRACE`]), as `docker compose stop` does.
    #[must_use]
    pub fn with_grace_of(mut self, project: &Project) -> Self {
        self.grace = project
            .services
            .iter()
            .filter_map(|s| Some((s.name.clone(), s.stop_grace?)))
            .collect();
        self
    }

    /// Stops the running containers of `services`, in that order (dependents first).
    ///
    /// # Errors
    /// When the journal cannot be written or a container does not stop; what was stopped
    /// so far is started again when the stopper drops.
    pub fn stop(
        &mut self,
        services: &[String],
        containers: &HashMap<String, Vec<ContainerInfo>>,
    ) -> Result<(), StopError> {
        for svc in services {
            for c in containers.get(svc).into_iter().flatten() {
                if c.state != "running" {
                    continue;
                }
                if self.lock.is_none() {
                    self.lock = Some(JobLock::create(self.catalog)?);
                }
                let lock_path = self
                    .lock
                    .as_ref()
                    .map(|l| l.path.display().to_string())
                    .unwrap_or_default();
                self.catalog.journal_stopped(&StoppedContainer {
                    container_id: c.id.clone(),
                    container_name: c.name.clone(),
                    stack: self.stack.clone(),
                    service: svc.clone(),
                    stopped_at: crate::time::unix_now(),
                    lock_path,
                })?;
                self.stopped.push(c.clone());
                self.since.get_or_insert_with(Instant::now);
                let grace = self.grace.get(svc).copied().unwrap_or(DEFAULT_STOP_GRACE);
                tracing::info!(container = %c.name, grace_s = grace.as_secs_f64(), "stopping");
                self.engine
                    .stop(&c.id, grace)
                    .map_err(|source| StopError::DidNotStop {
                        container: c.name.clone(),
                        grace,
                        source,
                    })?;
            }
        }
        Ok(())
    }

    /// The services stopped so far.
    pub fn services(&self) -> Vec<String> {
        let mut v: Vec<String> = self.stopped.iter().map(|c| c.service.clone()).collect();
        v.dedup();
        v
    }

    /// Starts everything again, in reverse order, and returns the downtime.
    pub fn restart(&mut self) -> Duration {
        while let Some(c) = self.stopped.pop() {
            match self
                .engine
                .start(&c.id)
                .and_then(|()| self.still_running(&c.id))
            {
                Ok(true) => {
                    let _ = self.catalog.journal_started(&c.id);
                }
                Ok(false) => {
                    let _ = self.catalog.journal_started(&c.id);
                    tracing::error!(container = %c.name, "exited right after it was started again");
                    self.restart_errors.push(format!(
                        "{} was started again but exited at once: look at `docker logs {}`.",
                        c.name, c.name
                    ));
                }
                Err(e) => {
                    tracing::error!(container = %c.name, error = %e, "could not start again");
                    self.restart_errors.push(format!(
                        "{} could not be started again: {e}. Start it with `docker start {}`.",
                        c.name, c.name
                    ));
                }
            }
        }
        if let Some(since) = self.since.take() {
            self.downtime += since.elapsed();
        }
        self.lock = None;
        self.downtime
    }
}

impl Stopper<'_> {
    /// Whether container `id` runs a moment after it was started (a container that exits
    /// at once did not really start).
    fn still_running(&self, id: &str) -> Result<bool, crate::docker::DockerError> {
        std::thread::sleep(Duration::from_millis(300));
        self.engine.is_running(id)
    }
}

impl Drop for Stopper<'_> {
    fn drop(&mut self) {
        self.restart();
    }
}

/// The catalog whose journal records the containers a run stops, so that a crash never
/// leaves them stopped: the one `given`, else, when the run `stops` something, the default
/// one.
///
/// # Errors
/// When the default catalog cannot be opened: then nothing may be stopped.
pub fn journal(
    given: Option<&Arc<Catalog>>,
    stops: bool,
) -> Result<Option<Arc<Catalog>>, CatalogError> {
    match (given, stops) {
        (Some(c), _) => Ok(Some(c.clone())),
        (None, true) => Catalog::open_default().map(|c| Some(Arc::new(c))),
        (None, false) => Ok(None),
    }
}

/// Starts the containers that a backup stopped and could not start again because its
/// process died. Containers of a backup still running (its lock is held) are left alone.
/// Returns what it did, as sentences.
pub fn recover(engine: Option<&BlockingEngine>, catalog: &Catalog) -> Vec<String> {
    let Ok(journal) = catalog.journal() else {
        return Vec::new();
    };
    let mut said = Vec::new();
    for c in journal {
        let alive = File::open(&c.lock_path).is_ok_and(|f| f.try_lock().is_err());
        if alive {
            continue;
        }
        let Some(engine) = engine else {
            said.push(format!(
                "{} was stopped by an interrupted backup and Docker cannot be reached to start it again; \
                 start Docker, then Lifeboat will start it (or run `docker start {}`).",
                c.container_name, c.container_name
            ));
            continue;
        };
        match engine.start(&c.container_id) {
            Ok(()) => {
                let _ = catalog.journal_started(&c.container_id);
                let _ = std::fs::remove_file(&c.lock_path);
                said.push(format!(
                    "Started {} again: an interrupted backup had stopped it.",
                    c.container_name
                ));
            }
            Err(crate::docker::DockerError::Api { reason, .. })
                if reason.contains("No such container") || reason.contains("404") =>
            {
                let _ = catalog.journal_started(&c.container_id);
            }
            Err(e) => said.push(format!(
                "{} was stopped by an interrupted backup and could not be started again: {e}",
                c.container_name
            )),
        }
    }
    said
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::{load, LoadOptions};

    #[test]
    fn dependents_stop_first_and_start_last() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(
            t.path().join("compose.yaml"),
            "services:\n  web: {image: n8n, depends_on: [api]}\n  api: {image: x, depends_on: [db, cache]}\n  db: {image: postgres}\n  cache: {image: redis}\n  other: {image: y}\n",
        )
        .unwrap();
        let p = load(t.path(), &LoadOptions::default()).unwrap();
        let only_db: BTreeSet<String> = ["db".to_owned()].into();
        assert_eq!(stop_order(&p, &only_db), ["web", "api", "db"]);
        let both: BTreeSet<String> = ["db".to_owned(), "cache".to_owned()].into();
        let order = stop_order(&p, &both);
        assert_eq!(order[..2], ["web", "api"]);
        assert_eq!(order.len(), 4);
        let other: BTreeSet<String> = ["other".to_owned()].into();
        assert_eq!(stop_order(&p, &other), ["other"]);
    }
}
