//! Taking one snapshot, step by step: open the stack's folder in the destination (locked),
//! find the newest readable snapshot, ask the engine, plan, stop what is backed up cold,
//! then for each component capture its entries and either reuse the archive of the
//! previous snapshot or write a new one (dump, archive, store, record), start the services
//! again, and write the manifest.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use super::filecache::FileCache;
use super::manifest::{
    self, ComponentEntry, ComponentKind, EnvNames, FileEntry, Manifest, ManifestError, Recipe,
    TableRows,
};
use super::source::Source;
use super::{
    capture, checked, claim_stack_dest, cold, dump, is_missing, markers, never_read, plan,
    redis_bgsave, snapshot_id, write_readme, BackupError, BackupOptions, BackupReport,
    ComponentReport, Mode, PlanContext, Planned,
};
use crate::archive::pieces::{self, PieceKey, PieceWriter, WrittenPieces};
use crate::archive::{self, ArchiveError};
use crate::catalog::{CacheScope, Catalog};
use crate::destination::{manifest_paths, stack_dest};
use crate::docker::ContainerInfo;
use crate::job::{CancelToken, Progress};
use crate::keys::RECOVERY_FILE;
use crate::stack::{MountType, Project};
use crate::time::unix_now;
use crate::warning::{Warning, WarningCode};

/// Takes one snapshot of `project` (see the module's steps). `notes` start its warnings.
pub(super) fn take(
    project: &Project,
    identity: &age::x25519::Identity,
    opts: &BackupOptions,
    progress: &dyn Progress,
    cancel: &CancelToken,
    notes: Vec<Warning>,
) -> Result<BackupReport, BackupError> {
    let clock = Instant::now();
    let started_at = std::time::SystemTime::now();
    let started = unix_now();
    let snapshot = snapshot_id(started_at);
    let _claim = crate::job::Claim::stack(&project.dir)
        .map_err(ArchiveError::at(&project.dir))?
        .ok_or_else(|| BackupError::StackBusy(project.dir.clone()))?;
    let folder = StackFolder::open(&opts.dest, &project.name)?;
    let _marker = wait_for_prune(&opts.dest, progress, cancel)?;
    let previous = newest_readable(&opts.dest, &project.name, identity)?;
    claim_stack_dest(&folder.root, project, previous.as_ref(), opts.adopt)?;

    let mut warnings = notes;
    let ctx = ask_engine(project, opts, &mut warnings)?;
    let planned = plan_components(project, opts, &ctx, &mut warnings)?;
    let catalog = journal(opts, &planned)?;
    let mut stopper = match (&opts.engine, &catalog) {
        (Some(engine), Some(catalog)) => {
            Some(cold::Stopper::new(engine, catalog, &project.name).with_grace_of(project))
        }
        _ => None,
    };

    let mut run = Run {
        project,
        identity,
        recipient: identity.to_public(),
        opts,
        ctx: &ctx,
        folder: &folder,
        snapshot: snapshot.clone(),
        previous: previous.as_ref(),
        started,
        progress,
        cancel,
        warnings,
        checked: checked::Checked::load(&folder.root),
        files: opts
            .catalog
            .clone()
            .or_else(|| Catalog::open_default().ok().map(Arc::new)),
        unread: HashMap::new(),
        partials: Vec::new(),
        created: Vec::new(),
        stopped: Vec::new(),
    };
    let result = run.components(&planned, &mut stopper);
    run.checked.save();
    // Always start again what was stopped, whatever happened above.
    let (downtime, restart_errors) = start_again(stopper, progress);
    for p in &run.partials {
        let _ = std::fs::remove_file(p);
    }
    let (components, reports) = result.map_err(|e| {
        run.remove_created();
        with_restart_errors(e, &restart_errors)
    })?;
    run.finish(Finished {
        snapshot,
        clock,
        downtime,
        restart_errors,
        components,
        reports,
    })
}

/// The stack's components as [`plan`] sees them, cold ones first (so services are stopped
/// for as short a time as possible). What cannot be captured at all is known now: the
/// backup fails before anything is written, unless the person allowed a partial one.
fn plan_components(
    project: &Project,
    opts: &BackupOptions,
    ctx: &PlanContext,
    warnings: &mut Vec<Warning>,
) -> Result<Vec<Planned>, BackupError> {
    let (mut planned, plan_warnings) = plan(project, &opts.only, ctx)?;
    warnings.extend(plan_warnings);
    let missing = missing_of(warnings);
    if !missing.is_empty() && !opts.allow_partial {
        return Err(BackupError::Incomplete(missing));
    }
    planned.sort_by_key(|c| !c.cold);
    Ok(planned)
}

/// What a run that wrote all its components hands to [`Run::finish`].
struct Finished {
    snapshot: String,
    clock: Instant,
    downtime: std::time::Duration,
    restart_errors: Vec<String>,
    components: Vec<ComponentEntry>,
    reports: Vec<ComponentReport>,
}

/// The sentences of warnings that say something is missing from the snapshot.
fn missing_of(warnings: &[Warning]) -> Vec<String> {
    warnings
        .iter()
        .filter(|w| is_missing(w))
        .map(|w| w.message.clone())
        .collect()
}

/// A stack's folder in the destination, locked for this run.
struct StackFolder {
    root: PathBuf,
    snapshots: PathBuf,
    _lock: std::fs::File,
}

impl StackFolder {
    /// Creates the stack's folders in `dest` and takes the lock: one backup per stack and
    /// destination at a time. With the lock held, `.partial` and `.tmp` files are leftovers
    /// of a run that died and go.
    fn open(dest: &Path, stack: &str) -> Result<Self, BackupError> {
        if !dest.is_dir() {
            return Err(BackupError::DestinationMissing(dest.to_owned()));
        }
        let root = stack_dest(dest, stack);
        // Format 1 wrote archives there; leftovers of a run that died go too.
        let archives = root.join("archives");
        let snapshots = root.join("snapshots");
        std::fs::create_dir_all(&snapshots).map_err(ArchiveError::at(&snapshots))?;
        let lock_path = root.join(".lock");
        let lock = std::fs::File::create(&lock_path).map_err(ArchiveError::at(&lock_path))?;
        if lock.try_lock().is_err() {
            return Err(BackupError::Busy(stack.to_owned()));
        }
        for dir in [&archives, &snapshots] {
            for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.ends_with(".partial") || name.ends_with(".tmp") {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        remove_orphan_lists(&snapshots);
        Ok(Self {
            root,
            snapshots,
            _lock: lock,
        })
    }
}

/// Removes the piece lists in a stack's `snapshots` folder that no manifest goes with: a
/// run that died wrote them (the stack's lock is held, so no run is writing them now).
fn remove_orphan_lists(snapshots: &Path) {
    let names: Vec<String> = std::fs::read_dir(snapshots)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let ids: Vec<String> = names
        .iter()
        .filter_map(|n| n.strip_suffix(".manifest.age"))
        .map(|id| format!("{id}."))
        .collect();
    for n in names.iter().filter(|n| n.ends_with(".list.age")) {
        if !ids.iter().any(|id| n.starts_with(id.as_str())) {
            let _ = std::fs::remove_file(snapshots.join(n));
        }
    }
}

/// Takes this backup's marker in `dest`, then waits while a prune there may be deleting
/// pieces (see [`markers`]).
fn wait_for_prune(
    dest: &Path,
    progress: &dyn Progress,
    cancel: &CancelToken,
) -> Result<markers::Marker, BackupError> {
    let marker = markers::Marker::take(dest, markers::Kind::Backup)
        .map_err(ArchiveError::at(&dest.join(markers::DIR)))?;
    let mut said = false;
    while !markers::live(dest, markers::Kind::Prune, None).is_empty() {
        if cancel.is_cancelled() {
            return Err(BackupError::Cancelled);
        }
        if !said {
            progress.phase("waiting for a prune of this destination to finish");
            said = true;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    Ok(marker)
}

/// The newest snapshot of `stack` that can be read: one with a damaged manifest is not
/// needed. When none opens with this key, it is the wrong key, not damage.
fn newest_readable(
    dest: &Path,
    stack: &str,
    identity: &age::x25519::Identity,
) -> Result<Option<Manifest>, BackupError> {
    let mut unreadable = None;
    let previous =
        manifest_paths(dest, stack)
            .iter()
            .rev()
            .find_map(|p| match Manifest::read(p, identity) {
                Ok(m) => Some(m),
                Err(e) => {
                    unreadable.get_or_insert(e);
                    None
                }
            });
    if let (None, Some(e @ ManifestError::Archive(ArchiveError::Decrypt { .. }))) =
        (&previous, unreadable)
    {
        return Err(e.into());
    }
    Ok(previous)
}

/// What the engine says about the stack: its containers by service, and the host folders
/// of its named volumes. Cold mode needs the engine.
fn ask_engine(
    project: &Project,
    opts: &BackupOptions,
    warnings: &mut Vec<Warning>,
) -> Result<PlanContext, BackupError> {
    let mut ctx = PlanContext {
        mode: opts.mode,
        stop: opts.stop.clone(),
        volumes_via_engine: opts.volumes_via_engine,
        include: opts.include.clone(),
        exclude: never_read(&opts.dest),
        ..PlanContext::default()
    };
    if let Some(engine) = &opts.engine {
        match engine.project_containers(&project.name) {
            Ok(list) => {
                let mut by: HashMap<String, Vec<ContainerInfo>> = HashMap::new();
                for c in list {
                    by.entry(c.service.clone()).or_default().push(c);
                }
                ctx.containers = Some(by);
            }
            Err(e) => warnings.push(Warning::new(WarningCode::DockerUnavailable, e.to_string())),
        }
        if ctx.containers.is_some() {
            let volumes = project
                .services
                .iter()
                .flat_map(|s| &s.mounts)
                .filter_map(|m| match (m.kind, &m.host_path, &m.volume_name) {
                    (MountType::Volume, None, Some(v)) => Some(v),
                    _ => None,
                });
            for v in volumes {
                if let Ok(Some(dir)) = engine.volume_mountpoint(v) {
                    ctx.volume_dirs.insert(v.clone(), PathBuf::from(dir));
                }
            }
        }
    }
    if ctx.containers.is_none() && opts.mode == Mode::Cold {
        return Err(BackupError::Capture {
            component: "the stack".into(),
            reason:
                "cold mode stops services through Docker, and the Docker engine cannot be reached: \
                     start Docker, or stop the stack yourself and back up in auto mode"
                    .into(),
        });
    }
    Ok(ctx)
}

/// The catalog whose journal records stopped containers ([`cold::journal`]).
fn journal(opts: &BackupOptions, planned: &[Planned]) -> Result<Option<Arc<Catalog>>, BackupError> {
    cold::journal(opts.catalog.as_ref(), planned.iter().any(|c| c.cold)).map_err(|e| {
        BackupError::Capture {
            component: "the stack".into(),
            reason: format!("services cannot be stopped safely without the catalog's journal: {e}"),
        }
    })
}

/// Starts again what was stopped, whatever happened. Returns how long services were down
/// and what could not be started.
fn start_again(
    stopper: Option<cold::Stopper<'_>>,
    progress: &dyn Progress,
) -> (std::time::Duration, Vec<String>) {
    let Some(mut s) = stopper else {
        return (std::time::Duration::ZERO, Vec::new());
    };
    let was_stopped = !s.services().is_empty();
    let downtime = s.restart();
    if was_stopped {
        progress.services_started();
    }
    (downtime, std::mem::take(&mut s.restart_errors))
}

/// A failed run's error, with what could not be started again.
fn with_restart_errors(e: BackupError, restart_errors: &[String]) -> BackupError {
    if restart_errors.is_empty() {
        return e;
    }
    BackupError::Capture {
        component: "the stack".into(),
        reason: format!("{e}; and {}", restart_errors.join(" ")),
    }
}

/// One run's state while its components are written.
struct Run<'a> {
    project: &'a Project,
    identity: &'a age::x25519::Identity,
    recipient: age::x25519::Recipient,
    opts: &'a BackupOptions,
    ctx: &'a PlanContext,
    folder: &'a StackFolder,
    /// The new snapshot's id.
    snapshot: String,
    previous: Option<&'a Manifest>,
    started: i64,
    progress: &'a dyn Progress,
    cancel: &'a CancelToken,
    warnings: Vec<Warning>,
    checked: checked::Checked,
    /// The catalog holding the file cache, when one opens (without it every file is read).
    files: Option<Arc<Catalog>>,
    /// Bytes of large files not read, by component.
    unread: HashMap<String, u64>,
    /// Files being written, removed at the end whatever happened.
    partials: Vec<PathBuf>,
    /// Piece lists this run wrote: removed again when it fails. Pieces stay (another
    /// stack's backup in the same destination may share them); the next backup reuses them
    /// and prune removes those no snapshot refers to.
    created: Vec<PathBuf>,
    /// Services stopped for the cold part.
    stopped: Vec<String>,
}

impl Run<'_> {
    /// Every planned component, the cold ones first with their services stopped.
    fn components(
        &mut self,
        planned: &[Planned],
        stopper: &mut Option<cold::Stopper<'_>>,
    ) -> Result<(Vec<ComponentEntry>, Vec<ComponentReport>), BackupError> {
        self.stop_cold(planned, stopper)?;
        let mut entries = Vec::new();
        let mut reports = Vec::new();
        for (i, c) in planned.iter().enumerate() {
            if self.cancel.is_cancelled() {
                return Err(BackupError::Cancelled);
            }
            // The cold part is done: start services again before the hot part.
            if let (false, Some(stopper)) = (c.cold, stopper.as_mut()) {
                if !stopper.services().is_empty() {
                    stopper.restart();
                    self.progress.services_started();
                }
            }
            self.progress.phase(&c.name);
            let entry = self.component(i, c)?;
            reports.push(self.report(&entry));
            entries.push(entry);
        }
        Ok((entries, reports))
    }

    /// Stops the services of cold components, dependents first.
    fn stop_cold(
        &mut self,
        planned: &[Planned],
        stopper: &mut Option<cold::Stopper<'_>>,
    ) -> Result<(), BackupError> {
        let cold_services: BTreeSet<String> = planned
            .iter()
            .filter(|c| c.cold)
            .filter_map(|c| c.service.clone())
            .collect();
        let (Some(stopper), false) = (stopper.as_mut(), cold_services.is_empty()) else {
            return Ok(());
        };
        let order = cold::stop_order(self.project, &cold_services);
        self.progress
            .phase(&format!("stopping {}", order.join(", ")));
        let containers = self.ctx.containers.clone().unwrap_or_default();
        stopper.stop(&order, &containers)?;
        self.stopped = stopper.services();
        self.progress.services_stopped(&self.stopped);
        Ok(())
    }

    /// One component: its entries listed, then the previous archive reused when nothing
    /// changed and it reads whole, else a new one written.
    fn component(&mut self, i: usize, c: &Planned) -> Result<ComponentEntry, BackupError> {
        if let (Some((id, cmd)), Some(engine)) = (&c.pre_exec, &self.opts.engine) {
            service_hook(engine, id, cmd, c.service.as_deref().unwrap_or(&c.name))?;
        }
        if let (Some(id), Some(engine)) = (&c.bgsave, &self.opts.engine) {
            redis_bgsave(engine, id).map_err(|source| BackupError::Redis {
                component: c.name.clone(),
                source,
            })?;
        }
        let missing_before = self.warnings.iter().filter(|w| is_missing(w)).count();
        let entries = capture::collect_named(
            &c.roots,
            &capture::Namer::new(&self.project.dir, &c.volume_roots, &c.skip),
            &mut self.warnings,
        );
        let fingerprint = capture::fingerprint(&entries);
        let (reusable, damaged) = self.reusable(c, &entries, &fingerprint);
        if let Some(pc) = reusable {
            self.progress.advance(pc.files.len() as u64, pc.bytes_in);
            let recipe = if c.cold {
                Recipe::FilesStopped
            } else {
                pc.recipe
            };
            let list = self.write_list(c, &pc.pieces)?;
            return Ok(ComponentEntry {
                reused: true,
                recipe,
                bytes_new: 0,
                list: Some(list),
                ..pc
            });
        }
        let spooled = self.dump(i, c)?;
        let (written, captured, dumps) = self.write_pieces(c, &entries, spooled)?;
        self.note_damage(c, damaged.as_ref(), &written);
        self.checked.record(&written.sha256, self.started);
        let incomplete = self.warnings.iter().filter(|w| is_missing(w)).count() > missing_before;
        let mut entry = self.record(c, &written, captured, dumps, fingerprint, incomplete);
        if c.kind == ComponentKind::Secrets {
            entry.env_names = env_names(&entries);
        }
        entry.list = Some(self.write_list(c, &entry.pieces)?);
        Ok(entry)
    }

    /// Writes component `c`'s piece list for this snapshot; returns its path relative to
    /// the destination's root.
    fn write_list(
        &mut self,
        c: &Planned,
        pieces: &[(String, u64, u64)],
    ) -> Result<String, BackupError> {
        let file = format!("{}.{}.list.age", self.snapshot, c.name);
        let path = self.folder.snapshots.join(&file);
        let names: Vec<&str> = pieces.iter().map(|(n, _, _)| n.as_str()).collect();
        pieces::write_list(&path, &self.recipient, &names).map_err(ArchiveError::at(&path))?;
        self.created.push(path);
        Ok(format!("{}/snapshots/{file}", self.project.name))
    }

    /// The previous snapshot's entry for `c`, when its files did not change and its archive
    /// checks out; else the archive found damaged, with why.
    fn reusable(
        &mut self,
        c: &Planned,
        entries: &[capture::Entry],
        fingerprint: &str,
    ) -> (Option<ComponentEntry>, Option<(String, String)>) {
        let reusable = c.dump.is_none() && c.engine_paths.is_empty() && c.bgsave.is_none();
        let prev = self.previous.filter(|_| reusable).and_then(|m| {
            let pc = m.components.iter().find(|pc| pc.name == c.name)?;
            // A format-1 archive is not reused: every new snapshot is pieces and lists.
            let unchanged = pc.fingerprint == fingerprint
                && pc.list.is_some()
                && !pc.incomplete
                && !capture::racy(entries, m.started);
            unchanged.then(|| pc.clone())
        });
        let Some(pc) = prev else {
            return (None, None);
        };
        // What is reused must be whole: a damaged one is written again.
        let source = Source::of(&pc, &self.opts.dest, &self.project.name);
        match checked::check_for_reuse(&source, &pc, self.identity, &mut self.checked, self.started)
        {
            Ok(()) => (Some(pc), None),
            Err(why) => {
                self.checked.forget(checked::record_key(&pc));
                self.clear_faulty(&pc);
                (
                    None,
                    Some((source.path().display().to_string(), why.to_string())),
                )
            }
        }
    }

    /// Removes the pieces of `pc` that are there but do not read back as their names say
    /// (damaged, truncated, swapped in): the component is written again now, and its
    /// pieces under the same names with them, which heals every snapshot that shares them.
    fn clear_faulty(&self, pc: &ComponentEntry) {
        let key = PieceKey::of(self.identity);
        for (name, plain, _) in &pc.pieces {
            match pieces::read_piece(&self.opts.dest, &key, self.identity, name, Some(*plain)) {
                Ok(_)
                | Err(pieces::PieceFault::Missing(_) | pieces::PieceFault::Unreadable(..)) => {}
                Err(_) => {
                    let _ = std::fs::remove_file(self.opts.dest.join(pieces::rel_path(name)));
                }
            }
        }
    }

    /// A file of this run in the stack's snapshots folder, removed at the end.
    fn partial(&mut self, name: &str) -> PathBuf {
        let path = self.folder.snapshots.join(name);
        let _ = std::fs::remove_file(&path);
        self.partials.push(path.clone());
        path
    }

    /// The component's database dump, taken before its archive is opened, so a failing dump
    /// leaves nothing half-written behind.
    fn dump(
        &mut self,
        i: usize,
        c: &Planned,
    ) -> Result<Option<(dump::Spooled, dump::DumpRecipe)>, BackupError> {
        let (Some((container, recipe)), Some(engine)) = (&c.dump, &self.opts.engine) else {
            return Ok(None);
        };
        let spool = self.partial(&format!(".{}-{i}.dump.partial", std::process::id()));
        let s = dump::run(
            engine,
            container,
            recipe,
            &spool,
            self.progress,
            self.cancel,
        )
        .map_err(|source| {
            if self.cancel.is_cancelled() {
                BackupError::Cancelled
            } else {
                BackupError::Dump {
                    component: c.name.clone(),
                    source,
                }
            }
        })?;
        Ok(Some((s, *recipe)))
    }

    /// Writes the component's tar stream as pieces: its files, its dump, the volumes read
    /// through the engine. Returns its pieces and what went in.
    fn write_pieces(
        &mut self,
        c: &Planned,
        entries: &[capture::Entry],
        spooled: Option<(dump::Spooled, dump::DumpRecipe)>,
    ) -> Result<(WrittenPieces, capture::Captured, Vec<String>), BackupError> {
        let pieces_dir = self.opts.dest.join(pieces::DIR);
        let capture_err = |e: capture::CaptureError| capture_error(c, &pieces_dir, e);
        let writer = PieceWriter::new(
            pieces::Store {
                dest: self.opts.dest.clone(),
                key: PieceKey::of(self.identity),
                recipient: self.recipient.clone(),
            },
            self.opts.threads,
        );
        let (dest, key) = (
            self.opts.dest.display().to_string(),
            self.recipient.to_string(),
        );
        let scope = CacheScope {
            dest: &dest,
            key: &key,
            stack: &self.project.name,
            component: &c.name,
        };
        let cache = self
            .files
            .as_ref()
            .and_then(|cat| cat.file_cache(scope).ok())
            .map(|known| FileCache::new(known, &self.opts.dest, self.started))
            .unwrap_or_default();
        let mut captured = capture::Captured::cutting(writer.tap()).with_cache(cache);
        let mut tar = capture::builder(writer);
        capture::write_entries(
            entries,
            &mut tar,
            &mut captured,
            self.progress,
            self.cancel,
            &mut self.warnings,
        )
        .map_err(capture_err)?;
        let mut dumps = Vec::new();
        if let Some((spooled, recipe)) = &spooled {
            let name = format!(
                "_dumps/{}/{}",
                c.service.as_deref().unwrap_or("db"),
                recipe.file
            );
            let reader = spooled.reader().map_err(|e| capture_err(e.into()))?;
            capture::append_generated(
                &mut tar,
                &name,
                spooled.len,
                reader,
                &mut captured,
                self.progress,
            )
            .map_err(capture_err)?;
            for (database, table, rows) in spooled.rows.iter().flatten() {
                captured.dump_rows.push(TableRows {
                    file: name.clone(),
                    database: database.clone(),
                    table: table.clone(),
                    rows: *rows,
                });
            }
            dumps.push(name);
        }
        drop(spooled);
        if let Some(engine) = &self.opts.engine {
            for ep in &c.engine_paths {
                let source = engine.download(&ep.container, &ep.path);
                let live = c
                    .service
                    .as_deref()
                    .filter(|s| !c.cold && self.ctx.running(s).is_some());
                capture::append_engine_tar(
                    &mut tar,
                    source,
                    capture::EnginePlace {
                        prefix: &ep.prefix,
                        live,
                    },
                    &mut captured,
                    self.progress,
                    self.cancel,
                    &mut self.warnings,
                )
                .map_err(|e| match e {
                    capture::CaptureError::Io(err) => BackupError::Capture {
                        component: c.name.clone(),
                        reason: format!(
                            "reading {} through the Docker engine failed: {err}",
                            ep.path
                        ),
                    },
                    other => capture_err(other),
                })?;
            }
        }
        let writer = tar
            .into_inner()
            .map_err(|e| capture_err(capture::CaptureError::Io(e)))?;
        let written = writer
            .finish()
            .map_err(|e| capture_err(capture::CaptureError::Io(e)))?;
        if let Some(cache) = captured.take_cache() {
            self.unread.insert(c.name.clone(), cache.bytes_skipped);
            if let Some(cat) = &self.files {
                // The pieces it names stay until prune finds no snapshot using them; the
                // next run checks they are there before trusting an entry.
                let _ = cat.set_file_cache(scope, &cache.into_entries(&written.pieces));
            }
        }
        Ok((written, captured, dumps))
    }

    /// Says what a damaged stored copy of `c` (found before reuse) means now: healed when
    /// the new stream stored every piece again under the same names.
    fn note_damage(
        &mut self,
        c: &Planned,
        damaged: Option<&(String, String)>,
        written: &WrittenPieces,
    ) {
        let Some((what, why)) = damaged else { return };
        let prev = self
            .previous
            .and_then(|m| m.components.iter().find(|pc| pc.name == c.name));
        let healed = prev.is_some_and(|pc| {
            !pc.pieces.is_empty()
                && pc
                    .pieces
                    .iter()
                    .all(|(n, _, _)| written.pieces.iter().any(|p| p.name == *n))
        });
        let message = if healed {
            format!(
                "The stored copy of {} was damaged ({why}); it was written again, so every \
                 snapshot that shares it is whole again.",
                c.name
            )
        } else {
            format!(
                "The stored copy of {} was damaged ({why}); this snapshot has a new one, but \
                 earlier snapshots that use {what} stay damaged for {}: `lifeboat verify` \
                 names them.",
                c.name, c.name
            )
        };
        self.warnings
            .push(Warning::new(WarningCode::ArchiveDamaged, message));
    }

    /// The manifest's entry for a newly written component (its list is written next).
    fn record(
        &self,
        c: &Planned,
        written: &WrittenPieces,
        captured: capture::Captured,
        dumps: Vec<String>,
        fingerprint: String,
        incomplete: bool,
    ) -> ComponentEntry {
        let recipe = match (&c.dump, c.cold, c.bgsave.is_some()) {
            (Some((_, r)), _, _) => r.recipe,
            (None, true, _) => Recipe::FilesStopped,
            (None, false, true) => Recipe::RedisBgsave,
            _ if !captured.sqlite.is_empty() => Recipe::FilesSqliteOnline,
            _ => Recipe::Files,
        };
        let rows = captured
            .sqlite_rows
            .iter()
            .flat_map(|(file, tables)| {
                tables.iter().map(|(table, rows)| TableRows {
                    file: file.clone(),
                    database: String::new(),
                    table: table.clone(),
                    rows: *rows,
                })
            })
            .chain(captured.dump_rows.iter().cloned())
            .collect();
        ComponentEntry {
            name: c.name.clone(),
            kind: c.kind,
            service: c.service.clone(),
            recipe,
            archive: String::new(),
            pieces: written
                .pieces
                .iter()
                .map(|p| (p.name.clone(), p.plain, p.stored))
                .collect(),
            list: None,
            bytes_new: written.bytes_new(),
            sha256: written.sha256.clone(),
            bytes_in: written.bytes_in,
            bytes_stored: written.bytes_stored(),
            reused: written.pieces.iter().all(|p| !p.new),
            fingerprint,
            roots: c
                .roots
                .iter()
                .filter(|r| !c.volume_roots.iter().any(|(d, _)| d == *r))
                .map(|r| r.display().to_string())
                .collect(),
            sqlite: captured.sqlite.clone(),
            left_to_secrets: c
                .skip
                .iter()
                .filter(|_| c.kind != ComponentKind::Secrets)
                .map(|p| capture::archive_name(p, &self.project.dir))
                .collect(),
            dumps,
            engine_prefixes: c
                .volume_roots
                .iter()
                .map(|(_, p)| p.clone())
                .chain(c.engine_paths.iter().map(|e| e.prefix.clone()))
                .collect(),
            files: captured
                .files
                .into_iter()
                .map(|f| FileEntry {
                    path: f.name,
                    bytes: f.bytes,
                    mtime: f.mtime,
                    raw: f.raw.map(|r| archive::hex(&r)),
                    at: f.at.map(|at| piece_at(&written.pieces, at)),
                    sha256: f.sha256,
                    mode: f.owner.mode,
                    uid: f.owner.uid,
                    gid: f.owner.gid,
                })
                .collect(),
            rows,
            env_names: Vec::new(),
            incomplete,
        }
    }

    /// What `backup --json` says of a component.
    fn report(&self, entry: &ComponentEntry) -> ComponentReport {
        ComponentReport {
            name: entry.name.clone(),
            kind: entry.kind,
            recipe: entry.recipe,
            archive: Source::of(entry, &self.opts.dest, &self.project.name)
                .path()
                .display()
                .to_string(),
            list: entry
                .list
                .as_ref()
                .map(|l| self.opts.dest.join(l).display().to_string()),
            pieces: entry.pieces.len() as u64,
            bytes_new: entry.bytes_new,
            bytes_in: entry.bytes_in,
            bytes_stored: entry.bytes_stored,
            sha256: entry.sha256.clone(),
            bytes_unread: self.unread.get(&entry.name).copied().unwrap_or(0),
            reused: entry.reused,
            files: entry.files.len() as u64,
        }
    }

    /// Writes the manifest, which makes the snapshot, and says how the run ended.
    fn finish(mut self, f: Finished) -> Result<BackupReport, BackupError> {
        self.note_downtime(f.downtime, &f.restart_errors);
        self.note_recovery_file();
        let project = self.project;
        let missing = missing_of(&self.warnings);
        let manifest = Manifest {
            format: manifest::FORMAT,
            lifeboat_version: crate::VERSION.into(),
            snapshot: f.snapshot.clone(),
            stack: project.name.clone(),
            stack_dir: project.dir.display().to_string(),
            started: self.started,
            duration_ms: f.clock.elapsed().as_millis() as u64,
            downtime_ms: f.downtime.as_millis() as u64,
            images: project
                .services
                .iter()
                .filter_map(|s| Some((s.name.clone(), s.image.clone()?)))
                .collect(),
            components: f.components,
            warnings: self.warnings.clone(),
            partial: !missing.is_empty(),
            missing,
        };
        let manifest_path = self
            .folder
            .snapshots
            .join(format!("{}.manifest.age", f.snapshot));
        if let Err(e) = manifest.write(&manifest_path, &self.recipient) {
            self.remove_created();
            return Err(e.into());
        }
        write_readme(&self.opts.dest);
        // What went missing while reading (a database that could not be copied, files that
        // vanished or could not be opened): the snapshot keeps everything else, marked
        // partial, and the run still fails unless the person accepted that.
        if manifest.partial && !self.opts.allow_partial {
            return Err(BackupError::Partial {
                snapshot: f.snapshot,
                missing: manifest.missing,
            });
        }
        if !f.restart_errors.is_empty() {
            return Err(BackupError::NotRestarted {
                snapshot: f.snapshot,
                errors: f.restart_errors,
            });
        }
        Ok(BackupReport {
            snapshot: f.snapshot,
            stack: project.name.clone(),
            started: self.started,
            duration_ms: f.clock.elapsed().as_millis() as u64,
            downtime_ms: manifest.downtime_ms,
            manifest: manifest_path.display().to_string(),
            components: f.reports,
            warnings: self.warnings,
            partial: manifest.partial,
            missing: manifest.missing,
        })
    }

    /// Removes the piece lists this run wrote (it failed).
    fn remove_created(&self) {
        for p in &self.created {
            let _ = std::fs::remove_file(p);
        }
    }

    /// Says for how long services were stopped, and which did not start again.
    fn note_downtime(&mut self, downtime: std::time::Duration, restart_errors: &[String]) {
        if !self.stopped.is_empty() {
            self.warnings.push(Warning::new(
                WarningCode::ServicesStopped,
                format!(
                    "{} {} stopped for {:.1} s during the backup{}.",
                    self.stopped.join(", "),
                    if self.stopped.len() == 1 {
                        "was"
                    } else {
                        "were"
                    },
                    downtime.as_secs_f64(),
                    if restart_errors.is_empty() {
                        " and started again"
                    } else {
                        ""
                    }
                ),
            ));
        }
        for e in restart_errors {
            self.warnings
                .push(Warning::new(WarningCode::RestartFailed, e.clone()));
        }
    }

    /// Warns when the destination holds no recovery file.
    fn note_recovery_file(&mut self) {
        let dest = &self.opts.dest;
        if dest.join(RECOVERY_FILE).is_file() {
            return;
        }
        self.warnings.push(
            Warning::new(
                WarningCode::RecoveryFileMissing,
                format!(
                    "{} has no recovery file: if this computer is lost, these backups cannot be \
                     opened. Save one there, protected by a passphrase you choose.",
                    dest.display()
                ),
            )
            .remedy(crate::warning::Remedy::ExportRecovery {
                destination: dest.display().to_string(),
            }),
        );
    }
}

/// Where stream offset `at` falls: (piece index, offset in that piece).
/// Runs a service's own pre-backup command (label `lifeboat.pre-backup`) in its running
/// container; a failure fails the backup with its output, as a stack's pre-hook does.
fn service_hook(
    engine: &crate::docker::BlockingEngine,
    container: &str,
    cmd: &str,
    service: &str,
) -> Result<(), BackupError> {
    let said = |status: String, output: &str| {
        let output = output.trim();
        BackupError::Hook(format!(
            "the pre-backup command of service {service} (label lifeboat.pre-backup) {status}{}",
            if output.is_empty() {
                String::new()
            } else {
                format!("; it printed: {output}")
            }
        ))
    };
    match engine.exec_with_input(container, &["sh", "-c", cmd], &mut std::io::empty()) {
        Ok((0, _)) => Ok(()),
        Ok((code, output)) => Err(said(format!("failed (exit code {code})"), &output)),
        Err(e) => Err(said(format!("could not run: {e}"), "")),
    }
}

fn piece_at(pieces: &[pieces::Piece], at: u64) -> (u32, u64) {
    let mut start = 0;
    for (i, p) in pieces.iter().enumerate() {
        if at < start + p.plain {
            return (i as u32, at - start);
        }
        start += p.plain;
    }
    (pieces.len() as u32, 0)
}

/// What a capture error of component `c` (writing `partial`) means for the backup.
fn capture_error(c: &Planned, partial: &Path, e: capture::CaptureError) -> BackupError {
    match e {
        capture::CaptureError::Cancelled => BackupError::Cancelled,
        capture::CaptureError::LiveSqlite { service, path } => BackupError::LiveSqlite {
            component: c.name.clone(),
            service: service.clone(),
            source: capture::CaptureError::LiveSqlite { service, path },
        },
        capture::CaptureError::Io(source) => BackupError::Archive(ArchiveError::Io {
            path: partial.to_owned(),
            source,
        }),
        other => BackupError::Capture {
            component: c.name.clone(),
            reason: other.to_string(),
        },
    }
}

/// Whether an archive name is an env file's: `.env`, `.env.*`, `*.env`.
pub(crate) fn is_env_file(name: &str) -> bool {
    let base = name.rsplit('/').next().unwrap_or(name);
    base == ".env" || base.starts_with(".env.") || base.ends_with(".env")
}

/// The variable names each env file among `entries` defines (read from disk just after
/// they were archived; values are dropped at once). A file that does not parse records no
/// names: a drill then only checks that it is there.
fn env_names(entries: &[capture::Entry]) -> Vec<EnvNames> {
    entries
        .iter()
        .filter(|e| e.meta.is_file() && is_env_file(&e.name))
        .filter_map(|e| {
            let text = std::fs::read_to_string(&e.path).ok()?;
            let parsed = crate::stack::parse_env(&text, &|_| None, &mut Vec::new()).ok()?;
            Some(EnvNames {
                file: e.name.clone(),
                names: parsed.into_iter().map(|v| v.key).collect(),
            })
        })
        .collect()
}
