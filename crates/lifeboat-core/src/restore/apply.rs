//! Applying a restore, step by step, each recorded in the journal first so a restore killed
//! anywhere is finished or rolled back by the next start: lay out the slots (where each
//! archive prefix is staged and where the old content is kept), extract every archive into
//! staging (checked against the manifest), stop the services, save the databases' current
//! content, swap the staged content in, give files back to their owners, load the dumps,
//! then start the services again and say what is left to do. A failure after the first swap
//! puts everything back.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::dbload::{load_dump, recipes_of, wait_running, write_encrypted, LoadError};
use super::extract::{self, ExtractError, SlotTarget};
use super::journal::{self, Journal, Load, Slot, State};
use super::undo::{roll_back_loads, roll_back_slots};
use super::volume::EngineWriteError;
use super::{
    copy_keeping_metadata, existing_ancestor, failpoint, forget_older_restores, io_err, planning,
    probe_ids, renames_across, restore_id, swap_rename, volume, write_owners, Counted, Plan,
    RestoreError, RestoreOptions, RestoreReport, ServiceState, Worked, LAST_RESTORE,
};
use crate::backup::cold;
use crate::backup::dump::DumpRecipe;
use crate::backup::manifest::{ComponentEntry, Recipe};
use crate::backup::source::Source;
use crate::catalog::Catalog;
use crate::destination::stack_dest;
use crate::job::{CancelToken, Progress};
use crate::time::unix_now;

/// Carries out `plan`, the restore the person previewed.
///
/// # Errors
/// See [`RestoreError`]: [`RestoreError::Blocked`] when the plan has problems,
/// [`RestoreError::Outdated`] when the stack changed since the plan was made; before the
/// first swap nothing in the target changed, after it a failure puts the old content back.
pub fn apply(
    plan: Plan,
    identity: &age::x25519::Identity,
    progress: &dyn Progress,
    cancel: &CancelToken,
) -> Result<RestoreReport, RestoreError> {
    let clock = Instant::now();
    let Plan {
        opts,
        worked: mut w,
    } = plan;
    if !w.plan.problems.is_empty() {
        return Err(RestoreError::Blocked(w.plan.problems.clone()));
    }
    planning::still_current(&w, opts.engine.as_ref())?;
    planning::create_missing_volumes(&mut w, opts.engine.as_ref())?;
    // A new folder for `--into` that this restore creates goes again if it fails: nothing
    // half-made is left behind.
    let fresh = opts.into.is_some() && std::fs::symlink_metadata(&w.target).is_err();
    let target = w.target.clone();
    let result = apply_worked_out(&opts, w, identity, progress, cancel, clock);
    if fresh && result.is_err() {
        let _ = std::fs::remove_dir_all(&target);
    }
    result
}

/// [`apply`] of a plan worked out and found free of problems.
fn apply_worked_out(
    opts: &RestoreOptions,
    w: Worked,
    identity: &age::x25519::Identity,
    progress: &dyn Progress,
    cancel: &CancelToken,
    clock: Instant,
) -> Result<RestoreReport, RestoreError> {
    let restores = prepare_target(opts, &w)?;
    let lock_path = restores.join(".lock");
    let lock = std::fs::File::create(&lock_path).map_err(io_err(&lock_path))?;
    if lock.try_lock().is_err() {
        return Err(RestoreError::Busy(w.target.clone()));
    }
    let _claim = crate::job::Claim::stack(&w.target)
        .map_err(io_err(&w.target))?
        .ok_or_else(|| RestoreError::Busy(w.target.clone()))?;
    // Services are stopped only with a journal that lets a crash start them again.
    let catalog = cold::journal(opts.catalog.as_ref(), !w.plan.services_to_stop.is_empty())
        .map_err(|e| {
            RestoreError::Blocked(vec![format!(
                "services cannot be stopped safely without the catalog's journal: {e}"
            )])
        })?;
    let id = restore_id();
    let dir = undo_folder(&restores, &id)?;
    let mut a = Applying::start(opts, &w, identity, progress, cancel, id, dir)?;
    if let Err(e) = a.stage() {
        a.discard_staging();
        return Err(e);
    }
    a.complete_staging()?;
    let mut stopper = stopper(opts, &w, catalog.as_deref());
    if let Err(e) = a.put_in_place(&mut stopper) {
        return Err(a.roll_back(e, stopper));
    }
    a.finish(stopper, &restores, clock)
}

/// Makes the target and its `.lifeboat/restore/` folder, and gives the target the stack's
/// id: its next backup goes on with these backups, not refused as another stack of the
/// same name. Returns the restore folder.
fn prepare_target(opts: &RestoreOptions, w: &Worked) -> Result<PathBuf, RestoreError> {
    let target = &w.target;
    std::fs::create_dir_all(target).map_err(io_err(target))?;
    let restores = target.join(".lifeboat").join("restore");
    std::fs::create_dir_all(&restores).map_err(io_err(&restores))?;
    let _ = std::fs::write(target.join(".lifeboat").join(".gitignore"), "*\n");
    crate::backup::take_stack_id(&stack_dest(&opts.from, &w.manifest.stack), target);
    Ok(restores)
}

/// This restore's folder, where its journal, staging and the old content (for undo) go.
/// The old content may hold secrets: only the owner may look.
fn undo_folder(restores: &Path, id: &str) -> Result<PathBuf, RestoreError> {
    let dir = restores.join(id);
    std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
            .map_err(io_err(&dir))?;
    }
    Ok(dir)
}

/// What stops and starts the stack's services, recording them in `catalog`'s journal.
fn stopper<'s>(
    opts: &'s RestoreOptions,
    w: &Worked,
    catalog: Option<&'s Catalog>,
) -> Option<cold::Stopper<'s>> {
    let st = cold::Stopper::new(opts.engine.as_ref()?, catalog?, &w.manifest.stack);
    Some(match &w.project {
        Some(p) => st.with_grace_of(p),
        None => st,
    })
}

/// Per target path: a container that mounts it, and where (owners are written there).
type Routes = HashMap<PathBuf, (String, String)>;

/// A restore being applied.
struct Applying<'a> {
    opts: &'a RestoreOptions,
    w: &'a Worked,
    identity: &'a age::x25519::Identity,
    progress: &'a dyn Progress,
    cancel: &'a CancelToken,
    id: String,
    dir: PathBuf,
    journal: Journal,
    /// Slots, in swap order, with the index of their component in `chosen`.
    slots: Vec<(usize, Slot)>,
    /// Per target path: a container that mounts it, and where.
    routes: Routes,
    /// The manifest's entries of the components restored, in plan order.
    chosen: Vec<&'a ComponentEntry>,
    /// `None` as root (owners are restored); else this process's uid and gid.
    ours: Option<(u64, u64)>,
    recipes: HashMap<String, Recipe>,
    files: u64,
    bytes: u64,
    /// Slots whose backup has files of other owners than this (non-root) process.
    foreign: Vec<(usize, String, u64, u64)>,
    owner_notes: Vec<String>,
}

impl<'a> Applying<'a> {
    /// Lays out the slots and saves the journal: from here on a crash is recovered.
    fn start(
        opts: &'a RestoreOptions,
        w: &'a Worked,
        identity: &'a age::x25519::Identity,
        progress: &'a dyn Progress,
        cancel: &'a CancelToken,
        id: String,
        dir: PathBuf,
    ) -> Result<Self, RestoreError> {
        let ids = probe_ids(&dir);
        let as_root = ids.is_some_and(|(uid, _)| uid == 0);
        let ours = (!as_root).then(|| ids.unwrap_or((u64::MAX, u64::MAX)));
        let (slots, routes) = lay_out_slots(w, &dir, &id, as_root);
        let journal = Journal {
            id: id.clone(),
            snapshot: w.manifest.snapshot.clone(),
            stack: w.manifest.stack.clone(),
            target: w.target.clone(),
            dir: dir.clone(),
            state: State::Staging,
            slots: slots.iter().map(|(_, s)| s.clone()).collect(),
            loads: Vec::new(),
            components: w.plan.components.iter().map(|c| c.name.clone()).collect(),
            services: Vec::new(),
            started: unix_now(),
        };
        journal.save().map_err(io_err(&dir))?;
        if let Some(cat) = &opts.catalog {
            let _ = cat.set_app_state(LAST_RESTORE, &dir.display().to_string());
        }
        let chosen = w
            .plan
            .components
            .iter()
            .filter_map(|p| w.manifest.components.iter().find(|c| c.name == p.name))
            .collect();
        Ok(Self {
            opts,
            w,
            identity,
            progress,
            cancel,
            id,
            dir,
            journal,
            slots,
            routes,
            chosen,
            ours,
            recipes: recipes_of(&w.manifest),
            files: 0,
            bytes: 0,
            foreign: Vec::new(),
            owner_notes: Vec::new(),
        })
    }

    /// Where component `c` is stored.
    fn source(&self, c: &ComponentEntry) -> Source {
        Source::of(c, &self.opts.from, &self.w.manifest.stack)
    }

    /// Step 1: extracts every archive into staging, checking it against the manifest.
    fn stage(&mut self) -> Result<(), RestoreError> {
        for ci in 0..self.chosen.len() {
            let c = self.chosen[ci];
            self.progress.phase(&c.name);
            let mut targets: Vec<SlotTarget> = self
                .slots
                .iter()
                .filter(|(i, _)| *i == ci)
                .map(|(_, s)| SlotTarget {
                    prefix: s.prefix.clone(),
                    staged: s.staged.clone(),
                })
                .collect();
            if let Some(t) = self.dump_target(ci) {
                targets.push(t);
            }
            let source = self.source(c);
            let reader = source.open(self.identity)?;
            let got = extract::extract(
                reader,
                &targets,
                c.bytes_in,
                self.ours,
                self.progress,
                self.cancel,
            )
            .map_err(|source| match source {
                ExtractError::Cancelled => RestoreError::Cancelled,
                source => RestoreError::Extract {
                    component: c.name.clone(),
                    source,
                },
            })?;
            if !source.stream_ok(c, &got.sha256, got.stream_bytes) {
                return Err(RestoreError::Extract {
                    component: c.name.clone(),
                    source: ExtractError::Damaged(format!(
                        "its content does not match the snapshot's checksum ({})",
                        source.path().display()
                    )),
                });
            }
            self.files += got.files;
            self.bytes += got.bytes;
            for (prefix, uid, gid) in got.foreign {
                self.foreign.push((ci, prefix, uid, gid));
            }
        }
        Ok(())
    }

    /// Where component `ci`'s dump is extracted, recorded as a load in the journal.
    fn dump_target(&mut self, ci: usize) -> Option<SlotTarget> {
        let (svc, container, _, name) = self.w.loads[ci].as_ref()?;
        let (prefix, file) = name
            .rsplit_once('/')
            .unwrap_or((name.as_str(), name.as_str()));
        let at = self.dir.join("dumps").join(svc);
        self.journal.loads.push(Load {
            service: svc.clone(),
            container: container.clone(),
            dump: at.join(file),
            safety: None,
            started: false,
        });
        Some(SlotTarget {
            prefix: prefix.to_owned(),
            staged: at,
        })
    }

    /// Removes everything staged (the restore did not go ahead).
    fn discard_staging(&self) {
        for s in &self.journal.slots {
            journal::remove_leftover(&s.staged);
            if let Some(base) = &s.base {
                journal::remove_leftover(base);
            }
        }
        journal::remove_leftover(&self.dir);
    }

    /// Staging made whole: a slot whose archive had nothing for it (an empty volume) gets
    /// an empty folder, and secrets files inside a service's folders keep the content in
    /// place now (they belong to the secrets component, whatever the service's restore
    /// brings).
    fn complete_staging(&mut self) -> Result<(), RestoreError> {
        for s in &self.journal.slots {
            if std::fs::symlink_metadata(&s.staged).is_err() {
                std::fs::create_dir_all(&s.staged).map_err(io_err(&s.staged))?;
            }
        }
        for (ci, slot) in &self.slots {
            for name in &self.chosen[*ci].left_to_secrets {
                let Some(rel) = name.strip_prefix(&format!("{}/", slot.prefix)) else {
                    continue;
                };
                let (now, staged) = (slot.target.join(rel), slot.staged.join(rel));
                if std::fs::symlink_metadata(&now).is_ok_and(|m| m.is_file()) {
                    if let Some(p) = staged.parent() {
                        std::fs::create_dir_all(p).map_err(io_err(p))?;
                    }
                    copy_keeping_metadata(&now, &staged)?;
                }
            }
        }
        self.journal.save().map_err(io_err(&self.dir))?;
        failpoint("restore:staged");
        Ok(())
    }

    /// Step 2: stops the services, saves the databases' current content, swaps the staged
    /// content in, gives files back to their owners and loads the dumps.
    fn put_in_place(
        &mut self,
        stopper: &mut Option<cold::Stopper<'_>>,
    ) -> Result<(), RestoreError> {
        let plan = &self.w.plan;
        if let (Some(st), false) = (stopper.as_mut(), plan.services_to_stop.is_empty()) {
            self.progress
                .phase(&format!("stopping {}", plan.services_to_stop.join(", ")));
            self.journal.services = plan.services_to_stop.clone();
            self.journal.save().map_err(io_err(&self.dir))?;
            st.stop(
                &plan.services_to_stop,
                self.w.containers.as_ref().unwrap_or(&HashMap::new()),
            )
            .map_err(|e| RestoreError::RolledBack(Box::new(e.into())))?;
            self.progress.services_stopped(&st.services());
        }
        self.save_databases()?;
        if self.cancel.is_cancelled() {
            return Err(RestoreError::Cancelled);
        }
        self.swap()?;
        self.give_back_owners()?;
        self.load_dumps()
    }

    /// Saves each database about to be loaded (a dump, encrypted), so undo can put it back.
    fn save_databases(&mut self) -> Result<(), RestoreError> {
        let Some(engine) = self.opts.engine.as_ref() else {
            return Ok(());
        };
        let recipient = self.identity.to_public();
        for l in &mut self.journal.loads {
            self.progress
                .phase(&format!("saving {}'s current database", l.service));
            let failed = |source: LoadError| RestoreError::Load {
                service: l.service.clone(),
                source,
            };
            let recipe = DumpRecipe::for_recipe(self.recipes[&l.service])
                .ok_or_else(|| failed(LoadError::NoRecipe))?;
            let spool = self.dir.join(format!("{}.spool", l.service));
            let spooled = crate::backup::dump::run(
                engine,
                &l.container,
                &recipe,
                &spool,
                self.progress,
                self.cancel,
            )
            .map_err(|e| failed(LoadError::NotSavedFirst(e)))?;
            let safety = self
                .dir
                .join(format!("{}-before.{}.age", l.service, recipe.file));
            let reader = spooled.reader().map_err(io_err(&spool))?;
            write_encrypted(&safety, reader, &recipient).map_err(failed)?;
            l.safety = Some(safety);
        }
        Ok(())
    }

    /// Moves the old content aside and the staged content in, slot by slot (volumes this
    /// process cannot write, through the engine).
    fn swap(&mut self) -> Result<(), RestoreError> {
        self.journal.state = State::Swapping;
        self.journal.save().map_err(io_err(&self.dir))?;
        self.progress.phase("putting the restored files in place");
        let engine = self.opts.engine.as_ref();
        for (n, s) in self.journal.slots.iter().enumerate() {
            if let Some(t) = &s.through {
                let engine = engine.ok_or_else(|| EngineWriteError::NoEngine {
                    volume: t.volume.clone(),
                })?;
                self.progress
                    .phase(&format!("writing the volume {} through Docker", t.volume));
                let source = self.source(self.chosen[self.slots[n].0]);
                volume::replace(engine, t, &s.aside, &source, self.identity, &s.prefix)?;
            } else {
                if s.existed {
                    swap_rename(&s.target, &s.aside)?;
                }
                swap_rename(&s.staged, &s.target)?;
            }
            if n == 0 {
                failpoint("restore:swapped-1");
            }
        }
        failpoint("restore:swapped");
        Ok(())
    }

    /// Owners this process could not restore: through a container that mounts the folder,
    /// whose engine writes them as root; without one, a note says how.
    fn give_back_owners(&mut self) -> Result<(), RestoreError> {
        let engine = self.opts.engine.as_ref();
        for (ci, prefix, uid, gid) in &self.foreign {
            let Some(slot) = self
                .slots
                .iter()
                .find(|(i, s)| i == ci && s.prefix == *prefix)
                .map(|(_, s)| s)
                .filter(|s| s.through.is_none())
            else {
                continue;
            };
            match (self.routes.get(&slot.target), engine) {
                (Some((container, mount)), Some(engine)) => {
                    self.progress
                        .phase(&format!("giving {} back to its owners", slot.target.display()));
                    let source = self.source(self.chosen[*ci]);
                    write_owners(engine, container, mount, &source, self.identity, prefix)?;
                }
                _ => self.owner_notes.push(format!(
                    "Files in {} belong to you now; in the backup some belonged to uid {uid} (group {gid}). \
                     Give them back with `sudo chown -R {uid}:{gid} {}` if their service needs it.",
                    slot.target.display(),
                    slot.target.display()
                )),
            }
        }
        Ok(())
    }

    /// Loads each database's dump into its running service.
    fn load_dumps(&mut self) -> Result<(), RestoreError> {
        let Some(engine) = self.opts.engine.as_ref() else {
            return Ok(());
        };
        if !self.journal.loads.is_empty() {
            self.journal.state = State::Loading;
            self.journal.save().map_err(io_err(&self.dir))?;
        }
        for i in 0..self.journal.loads.len() {
            self.journal.loads[i].started = true;
            self.journal.save().map_err(io_err(&self.dir))?;
            let l = self.journal.loads[i].clone();
            self.progress
                .phase(&format!("loading {}'s database", l.service));
            let f = std::fs::File::open(&l.dump).map_err(io_err(&l.dump))?;
            let mut counted = Counted {
                inner: f,
                progress: self.progress,
            };
            load_dump(engine, &l.container, self.recipes[&l.service], &mut counted).map_err(
                |source| RestoreError::Load {
                    service: l.service.clone(),
                    source,
                },
            )?;
            let _ = std::fs::remove_file(&l.dump);
            failpoint("restore:loaded");
        }
        Ok(())
    }

    /// Puts everything back after `e`, then starts what was stopped. Returns the error to
    /// report: rolled back, or (when putting back failed too) where the old content is.
    fn roll_back(
        mut self,
        e: RestoreError,
        mut stopper: Option<cold::Stopper<'_>>,
    ) -> RestoreError {
        let engine = self.opts.engine.as_ref();
        let back = roll_back_slots(&self.journal.slots, engine).and_then(|()| {
            roll_back_loads(&self.journal.loads, engine, self.identity, &self.recipes)
        });
        let not_restarted = match stopper.as_mut() {
            Some(st) => {
                st.restart();
                std::mem::take(&mut st.restart_errors)
            }
            None => Vec::new(),
        };
        drop(stopper);
        // Whatever failed, say too what could not be started again.
        let e = if not_restarted.is_empty() {
            e
        } else {
            RestoreError::NotRestarted {
                first: Box::new(e),
                not_restarted,
            }
        };
        match back {
            Ok(()) => {
                self.journal.state = State::RolledBack;
                let _ = self.journal.save();
                self.discard_staging();
                match e {
                    RestoreError::Cancelled => RestoreError::Cancelled,
                    other => RestoreError::RolledBack(Box::new(other)),
                }
            }
            Err(back) => RestoreError::Blocked(vec![
                format!("{e}."),
                format!(
                    "Putting the old content back failed as well ({back}); it is kept in {}.",
                    self.dir.display()
                ),
            ]),
        }
    }

    /// Step 3: marks the restore done, starts the services again and sees that they run,
    /// and says what is left to do.
    fn finish(
        mut self,
        mut stopper: Option<cold::Stopper<'_>>,
        restores: &Path,
        clock: Instant,
    ) -> Result<RestoreReport, RestoreError> {
        self.journal.state = State::Done;
        self.journal.save().map_err(io_err(&self.dir))?;
        journal::remove_leftover(&self.dir.join("dumps"));
        for s in &self.journal.slots {
            // Empty by now: every staged path was moved into place.
            if let Some(new) = s.staged.parent() {
                let _ = std::fs::remove_dir(new);
            }
        }
        let mut services = Vec::new();
        if let Some(st) = stopper.as_mut() {
            let stopped = st.services();
            if !stopped.is_empty() {
                self.progress
                    .phase(&format!("starting {}", stopped.join(", ")));
                st.restart();
                self.progress.services_started();
                if let Some(engine) = &self.opts.engine {
                    services = wait_running(
                        engine,
                        &self.w.manifest.stack,
                        &stopped,
                        Duration::from_secs(60),
                    );
                }
            }
        }
        drop(stopper);
        let stuck = forget_older_restores(restores, &self.id);
        let next_steps = self.next_steps(&services, &stuck);
        Ok(RestoreReport {
            restore: self.id,
            snapshot: self.w.manifest.snapshot.clone(),
            stack: self.w.manifest.stack.clone(),
            target: self.w.target.display().to_string(),
            components: self.journal.components.clone(),
            files: self.files,
            bytes: self.bytes,
            services,
            next_steps,
            duration_ms: clock.elapsed().as_millis() as u64,
            undo_folder: self.dir.display().to_string(),
        })
    }

    /// What the person is told to do after the restore.
    fn next_steps(&mut self, services: &[ServiceState], stuck: &[PathBuf]) -> Vec<String> {
        let target = &self.w.target;
        let mut next = self.w.after.clone();
        next.append(&mut self.owner_notes);
        for p in stuck {
            next.push(format!(
                "An earlier restore's old copy, {}, belongs to another user and could not be removed: \
                 remove it with `sudo rm -rf {}` when you no longer need it.",
                p.display(),
                p.display()
            ));
        }
        if !self.w.plan.original {
            let outside: Vec<String> = self
                .journal
                .slots
                .iter()
                .filter_map(|s| s.prefix.strip_prefix("_host"))
                .map(str::to_owned)
                .collect();
            if !outside.is_empty() {
                next.push(format!(
                    "The stack's data outside its folder ({}) is under {}/_host/, where its compose file \
                     does not look: move it to those paths (or edit the compose file) before starting it.",
                    outside.join(", "),
                    target.display()
                ));
            }
            next.push(format!(
                "Start the stack: `cd {} && docker compose up -d`.",
                target.display()
            ));
        }
        for s in services {
            if s.state != "running" || s.health.as_deref() == Some("unhealthy") {
                next.push(format!(
                    "{} is {}{}: look at `docker compose logs {}`, or undo the restore.",
                    s.service,
                    s.state,
                    s.health
                        .as_deref()
                        .map(|h| format!(" ({h})"))
                        .unwrap_or_default(),
                    s.service
                ));
            }
        }
        next
    }
}

/// Where each slot is staged and its old content kept, in swap order (shorter paths first,
/// so a slot inside another lands in the new content of the outer one), and the routes of
/// targets whose owners are written through a container.
fn lay_out_slots(w: &Worked, dir: &Path, id: &str, as_root: bool) -> (Vec<(usize, Slot)>, Routes) {
    let mut slots: Vec<(usize, Slot)> = Vec::new();
    let mut routes = HashMap::new();
    for (ci, targets) in w.slots.iter().enumerate() {
        for t in targets {
            let n = slots.len();
            let parent = t.path.parent().unwrap_or(&t.path);
            // A rename stays on one filesystem: the target's folder decides where staging
            // and the old content go. Without root, beside the target in its own folder:
            // moving a folder into another one needs write permission on the folder itself,
            // which a database's folder (owned by its uid) does not give.
            let (staged, aside, base) = if t.through.is_some() {
                (
                    dir.join("new").join(n.to_string()),
                    dir.join("old").join(format!("{n}.tar")),
                    None,
                )
            } else if !as_root && w.plan.original {
                (
                    parent.join(format!(".lifeboat-restore-{id}-new-{n}")),
                    parent.join(format!(".lifeboat-restore-{id}-old-{n}")),
                    None,
                )
            } else if renames_across(&existing_ancestor(parent), dir) {
                (
                    dir.join("new").join(n.to_string()),
                    dir.join("old").join(n.to_string()),
                    None,
                )
            } else {
                let base = parent.join(format!(".lifeboat-restore-{id}"));
                (
                    base.join("new").join(n.to_string()),
                    base.join("old").join(n.to_string()),
                    Some(base),
                )
            };
            if let Some(r) = &t.route {
                routes.insert(t.path.clone(), r.clone());
            }
            slots.push((
                ci,
                Slot {
                    prefix: t.prefix.clone(),
                    target: t.path.clone(),
                    staged,
                    aside,
                    existed: t.through.is_some() || std::fs::symlink_metadata(&t.path).is_ok(),
                    base,
                    through: t.through.clone(),
                },
            ));
        }
    }
    slots.sort_by_key(|(_, s)| s.target.components().count());
    (slots, routes)
}
