//! Working out a restore, step by step, without changing anything (except, when applying,
//! creating named volumes that `docker compose down -v` removed): the snapshot and its
//! components, the target folder, where each archive prefix goes (a folder, a named
//! volume read directly or written through the engine), what each database dump needs
//! (loaded into its running service, or written out to load later), what changes file by
//! file, which services stop, and what blocks the restore.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use super::journal::ThroughEngine;
use super::{
    containers_by_service, current_files, declared, existing_ancestor, find_snapshot_noting,
    helper_image, io_err, prefixes, project_at, running_as_root, select, target_of, writable,
    Action, ComponentPlan, NewVolume, PathChange, RestoreError, RestoreOptions, RestorePlan,
    Target, Unplaceable, Worked,
};
use crate::backup::cold;
use crate::backup::dump::DumpRecipe;
use crate::backup::manifest::{ComponentEntry, ComponentKind, Manifest, Recipe};
use crate::docker::{BlockingEngine, ContainerInfo};
use crate::stack::Project;

/// Works out restoring `opts`, changing nothing: named volumes the stack declares that are
/// gone are marked to be created when the plan is applied ([`create_missing_volumes`]).
pub(super) fn work_out(
    opts: &RestoreOptions,
    identity: &age::x25519::Identity,
) -> Result<Worked, RestoreError> {
    let (manifest, notes) =
        find_snapshot_noting(&opts.from, opts.stack.as_deref(), &opts.snapshot, identity)?;
    let chosen = select(&manifest, &opts.only)?;
    let mut p = Planning::new(opts, &manifest, notes)?;
    p.folder_is_a_stack();
    for c in &chosen {
        p.component(c, &chosen);
    }
    let services_to_stop = p.services_to_stop(&chosen);
    p.check_room_and_rights();
    let Planning {
        target,
        original,
        containers,
        project,
        problems,
        notes,
        after,
        comps,
        all_slots,
        loads,
        needed,
        available,
        ..
    } = p;
    let plan = RestorePlan {
        snapshot: manifest.snapshot.clone(),
        stack: manifest.stack.clone(),
        snapshot_started: manifest.started,
        target: target.display().to_string(),
        original,
        components: comps,
        services_to_stop,
        free_bytes_needed: needed,
        free_bytes_available: available,
        problems,
        notes,
    };
    Ok(Worked {
        plan,
        manifest,
        target,
        after,
        slots: all_slots,
        loads,
        containers,
        project,
    })
}

/// A dump to load: service, container, recipe, archive name.
type Loading = (String, String, DumpRecipe, String);

/// A restore being worked out.
struct Planning<'a> {
    opts: &'a RestoreOptions,
    manifest: &'a Manifest,
    engine: Option<&'a BlockingEngine>,
    /// The stack folder the snapshot names.
    stack_dir: PathBuf,
    /// Restored where it was taken (no `--into`).
    original: bool,
    target: PathBuf,
    containers: Option<HashMap<String, Vec<ContainerInfo>>>,
    project: Option<Project>,
    /// The nearest existing folder of the target, where room and rights are probed.
    probe: PathBuf,
    as_root: bool,
    problems: Vec<String>,
    notes: Vec<String>,
    /// What the report tells the user to do afterwards.
    after: Vec<String>,
    comps: Vec<ComponentPlan>,
    all_slots: Vec<Vec<Target>>,
    loads: Vec<Option<Loading>>,
    needed: u64,
    available: u64,
    /// Services whose files are replaced.
    stop_files: BTreeSet<String>,
    /// Services whose database is loaded: their dependents stop.
    stop_dependents: BTreeSet<String>,
}

/// What a component's restore changes, file by file.
#[derive(Default)]
struct Changes {
    added: u64,
    changed: u64,
    removed: u64,
    unchanged: u64,
    paths: Vec<PathChange>,
}

impl Changes {
    fn note(&mut self, list: bool, path: String, change: &str) {
        if list {
            self.paths.push(PathChange {
                path,
                change: change.into(),
            });
        }
    }
}

impl<'a> Planning<'a> {
    fn new(
        opts: &'a RestoreOptions,
        manifest: &'a Manifest,
        notes: Vec<String>,
    ) -> Result<Self, RestoreError> {
        let stack_dir = PathBuf::from(&manifest.stack_dir);
        let original = opts.into.is_none();
        let target = match (&opts.into, &opts.stack_dir) {
            (Some(d), _) | (None, Some(d)) => std::path::absolute(d).map_err(io_err(d))?,
            (None, None) => stack_dir.clone(),
        };
        let engine = opts.engine.as_ref();
        let containers = if original {
            containers_by_service(engine, &manifest.stack)
        } else {
            None
        };
        let project = project_at(&target);
        let probe = existing_ancestor(&target);
        let as_root = running_as_root(&probe);
        Ok(Self {
            opts,
            manifest,
            engine,
            stack_dir,
            original,
            target,
            containers,
            project,
            probe,
            as_root,
            problems: Vec::new(),
            notes,
            after: Vec::new(),
            comps: Vec::new(),
            all_slots: Vec::new(),
            loads: Vec::new(),
            needed: 0,
            available: u64::MAX,
            stop_files: BTreeSet::new(),
            stop_dependents: BTreeSet::new(),
        })
    }

    fn running(&self, svc: &str) -> Option<ContainerInfo> {
        self.containers
            .as_ref()?
            .get(svc)?
            .iter()
            .find(|c| c.state == "running")
            .cloned()
    }

    /// The host folder of named volume `name` (or the stack's `STACK_name`).
    fn volume_dir(&self, name: &str) -> Option<PathBuf> {
        let e = self.engine?;
        e.volume_mountpoint(name)
            .ok()
            .flatten()
            .or_else(|| {
                let full = format!("{}_{name}", self.manifest.stack);
                e.volume_mountpoint(&full).ok().flatten()
            })
            .map(PathBuf::from)
    }

    /// Where a service's bind mount is mounted in one of its containers.
    fn route_of(&self, svc: &str, host: &Path) -> Option<(String, String)> {
        let m = self
            .project
            .as_ref()?
            .service(svc)?
            .mounts
            .iter()
            .find(|m| m.host_path.as_deref() == Some(host))?;
        let c = self.containers.as_ref()?.get(svc)?.first()?;
        Some((c.id.clone(), m.target.clone()))
    }

    /// The stack's folder named by the snapshot alone (not known here) must be a stack
    /// folder, or not exist yet. A forged snapshot naming /etc is refused.
    fn folder_is_a_stack(&mut self) {
        if !self.original || self.opts.stack_dir.is_some() || self.project.is_some() {
            return;
        }
        let non_empty = std::fs::read_dir(&self.target).is_ok_and(|mut d| d.next().is_some());
        if non_empty {
            self.problems.push(format!(
                "the snapshot names {} as the stack's folder, which exists and has no compose file; \
                 if it is the right place, restore with --into {}",
                self.target.display(),
                self.target.display()
            ));
        }
    }

    /// One component: where its prefixes go, what its dump needs, what changes.
    fn component(&mut self, c: &ComponentEntry, chosen: &[&ComponentEntry]) {
        let mut targets = Vec::new();
        for prefix in prefixes(c, &self.stack_dir) {
            match self.place(c, &prefix) {
                Ok(path)
                    if path.0 == self.target
                        || self.target.join(".lifeboat").starts_with(&path.0) =>
                {
                    self.problems.push(format!(
                        "{} holds the whole stack folder ({prefix}); restore it into another folder.",
                        c.name
                    ));
                }
                Ok((path, new_volume, through)) => targets.push(Target {
                    prefix,
                    path,
                    route: None,
                    new_volume,
                    through,
                }),
                Err(why) => self.problems.push(format!("{}: {why}", c.name)),
            }
        }
        if !c.left_to_secrets.is_empty() && !chosen.iter().any(|o| o.kind == ComponentKind::Secrets)
        {
            self.notes.push(format!(
                "{} stays as it is now: it belongs to the secrets, which this restore leaves alone \
                 (restore the secrets too to bring back the snapshot's).",
                c.left_to_secrets.join(", ")
            ));
        }
        let Some((action, load)) = self.dump_action(c, &mut targets) else {
            return;
        };
        if c.recipe == Recipe::RedisBgsave && action == Action::ReplaceFiles && self.original {
            self.notes.push(format!(
                "{} is stopped while its files are replaced, so Redis does not overwrite the restored dump.",
                c.service.as_deref().unwrap_or("redis")
            ));
        }
        // Without root, owners are given back through a container that mounts the folder.
        if let (true, false, Some(svc)) = (self.original, self.as_root, &c.service) {
            for t in &mut targets {
                t.route = self.route_of(svc, &t.path);
            }
        }
        self.check_writable(&targets);
        let changes = self.changes(c, &targets);
        self.needed += c.bytes_in;
        self.comps.push(ComponentPlan {
            name: c.name.clone(),
            kind: c.kind,
            service: c.service.clone(),
            action,
            targets: targets
                .iter()
                .map(|t| t.path.display().to_string())
                .collect(),
            added: changes.added,
            changed: changes.changed,
            removed: changes.removed,
            unchanged: changes.unchanged,
            bytes: c.files.iter().map(|f| f.bytes).sum(),
            files: c.files.len() as u64,
            paths: changes.paths,
        });
        self.all_slots.push(targets);
        self.loads.push(load);
    }

    /// Where archive prefix `prefix` of `c` goes: its path, the named volume to create for
    /// it (when it is gone), and the engine route for a volume this process cannot write.
    fn place(
        &mut self,
        c: &ComponentEntry,
        prefix: &str,
    ) -> Result<(PathBuf, Option<NewVolume>, Option<ThroughEngine>), Unplaceable> {
        // The volume's folder, asked of the engine once; a volume the stack declares that
        // is gone is created again when applying.
        let volume = prefix.strip_prefix("_volumes/");
        let found = volume
            .filter(|_| self.original)
            .and_then(|name| self.volume_dir(name));
        let new_volume = volume
            .filter(|_| self.original && self.engine.is_some() && found.is_none())
            .and_then(|name| {
                let p = self.project.as_ref()?;
                let def = p.volumes.iter().find(|v| v.name == name && !v.external)?;
                Some(NewVolume {
                    name: name.to_owned(),
                    key: def.key.clone(),
                    project: p.name.clone(),
                })
            });
        let path = match &new_volume {
            Some(v) => Ok(PathBuf::from(format!("docker volume {}", v.name))),
            None => target_of(prefix, &self.target, self.original, &|_| found.clone()),
        }
        .and_then(|path| declared(prefix, path, self.original, self.project.as_ref()));
        if let Some(v) = &new_volume {
            self.notes.push(format!(
                "The Docker volume {} does not exist; it is created for the restore, labelled as \
                 compose creates it.",
                v.name
            ));
        }
        let path = path?;
        let through = self.through_engine(c, prefix, &path, new_volume.is_some())?;
        let path = match &through {
            Some(t) => PathBuf::from(format!("docker volume {}", t.volume)),
            None => path,
        };
        Ok((path, new_volume, through))
    }

    /// A volume whose folder this process cannot write (not root; Docker Desktop's VM) is
    /// replaced through a helper container of the service's own image.
    fn through_engine(
        &self,
        c: &ComponentEntry,
        prefix: &str,
        path: &Path,
        new_volume: bool,
    ) -> Result<Option<ThroughEngine>, Unplaceable> {
        let (Some(name), Some(e), true) =
            (prefix.strip_prefix("_volumes/"), self.engine, self.original)
        else {
            return Ok(None);
        };
        let direct = self.as_root
            && !new_volume
            && writable(&existing_ancestor(path.parent().unwrap_or(path)));
        if direct || (self.as_root && new_volume) {
            return Ok(None);
        }
        let svc = c.service.as_deref().unwrap_or_default();
        let image =
            helper_image(e, self.project.as_ref(), &self.manifest.stack, svc).ok_or_else(|| {
                Unplaceable::NoImage {
                    volume: name.to_owned(),
                    service: svc.to_owned(),
                }
            })?;
        Ok(Some(ThroughEngine {
            volume: name.to_owned(),
            image,
        }))
    }

    /// What `c`'s database dump needs: loaded into its running service, or written out to
    /// be loaded later (a slot in `targets`). `None` when the snapshot names it in a way
    /// that is refused (a problem says so, and the component is left out).
    fn dump_action(
        &mut self,
        c: &ComponentEntry,
        targets: &mut Vec<Target>,
    ) -> Option<(Action, Option<Loading>)> {
        let (Some(name), Some(recipe)) = (c.dumps.first(), DumpRecipe::for_recipe(c.recipe)) else {
            if let (true, false, Some(svc)) =
                (self.original, c.kind == ComponentKind::Secrets, &c.service)
            {
                self.stop_files.insert(svc.clone());
            }
            return Some((Action::ReplaceFiles, None));
        };
        let svc = c.service.clone().unwrap_or_default();
        let plain_name = |n: &str| {
            !n.is_empty()
                && Path::new(n)
                    .components()
                    .all(|c| matches!(c, std::path::Component::Normal(_)))
        };
        if !plain_name(&svc)
            || svc.contains('/')
            || !plain_name(name)
            || !name.starts_with("_dumps/")
        {
            self.problems.push(format!(
                "{}: the snapshot names its dump in a way that is not a plain path ({name})",
                c.name
            ));
            return None;
        }
        if let (Some(ct), true) = (self.running(&svc), self.original) {
            self.stop_dependents.insert(svc.clone());
            return Some((Action::LoadDump, Some((svc, ct.id, recipe, name.clone()))));
        }
        let prefix = name
            .rsplit_once('/')
            .map_or(name.as_str(), |(d, _)| d)
            .to_owned();
        targets.push(Target {
            path: self.target.join(&prefix),
            prefix,
            route: None,
            new_volume: None,
            through: None,
        });
        let note = if self.original {
            format!(
                "{svc} is not running, so its database dump is written to {} to load later: \
                 start it (`docker compose up -d {svc}`) and restore {} again to load it.",
                self.target.join(name).display(),
                c.name
            )
        } else {
            format!(
                "{svc}'s database dump is written to {}; once the stack runs there, load it \
                 with `lifeboat restore {} --from {} --only {}`.",
                self.target.join(name).display(),
                self.manifest.snapshot,
                self.opts.from.display(),
                c.name
            )
        };
        self.notes.push(note.clone());
        self.after.push(note);
        Some((Action::ExtractDump, None))
    }

    /// In place, every folder whose content is replaced must be writable.
    fn check_writable(&mut self, targets: &[Target]) {
        if !self.original {
            return;
        }
        for t in targets {
            if t.new_volume.is_some() || t.through.is_some() {
                continue;
            }
            let parent = existing_ancestor(t.path.parent().unwrap_or(&t.path));
            if !writable(&parent) {
                self.problems.push(format!(
                    "{} cannot be replaced: its folder {} is not writable by you. Run Lifeboat as root, or restore into another folder.",
                    t.path.display(),
                    parent.display()
                ));
            }
        }
    }

    /// What restoring `c` into `targets` changes, file by file.
    fn changes(&mut self, c: &ComponentEntry, targets: &[Target]) -> Changes {
        let mut out = Changes::default();
        for t in targets {
            self.changes_in(c, t, &mut out);
        }
        out
    }

    /// [`Planning::changes`] in one target.
    fn changes_in(&mut self, c: &ComponentEntry, t: &Target, out: &mut Changes) {
        let list = self.opts.list_paths;
        let snap: BTreeMap<&str, (u64, Option<i64>)> = c
            .files
            .iter()
            .filter_map(|f| {
                let rel = if f.path == t.prefix {
                    ""
                } else {
                    f.path.strip_prefix(&format!("{}/", t.prefix))?
                };
                Some((rel, (f.bytes, f.mtime)))
            })
            .collect();
        let now = if t.new_volume.is_some() {
            Some(BTreeMap::new())
        } else if t.through.is_some() {
            None
        } else {
            current_files(&t.path)
        };
        let Some(now) = now else {
            self.not_listed(t, snap.len() as u64, out);
            return;
        };
        let show = |rel: &str| {
            if rel.is_empty() {
                t.prefix.clone()
            } else {
                format!("{}/{rel}", t.prefix)
            }
        };
        for (rel, (bytes, mtime)) in &snap {
            match now.get(*rel) {
                None => {
                    out.added += 1;
                    out.note(list, show(rel), "added");
                }
                Some((nb, nm)) if nb != bytes || mtime.is_some_and(|m| m != *nm) => {
                    out.changed += 1;
                    out.note(list, show(rel), "changed");
                }
                Some(_) => out.unchanged += 1,
            }
        }
        for rel in now.keys() {
            let kept = c.left_to_secrets.contains(&show(rel));
            if !kept && !snap.contains_key(rel.as_str()) {
                out.removed += 1;
                out.note(list, show(rel), "removed");
            }
        }
    }

    /// A target whose current content cannot be listed: said why, or a problem when it
    /// cannot be replaced safely either.
    fn not_listed(&mut self, t: &Target, files: u64, out: &mut Changes) {
        if t.through.is_some() {
            self.notes.push(format!(
                "{} is written through Docker, so what changes in it is not listed; it is replaced \
                 as a whole, with its owners, and what it holds now is kept for undo.",
                t.path.display()
            ));
            out.added += files;
        } else if t.route.is_some() {
            self.notes.push(format!(
                "{} cannot be read by you, so what changes in it is not listed; it is replaced as a whole and its owners are restored through Docker.",
                t.path.display()
            ));
            out.added += files;
        } else {
            self.problems.push(format!(
                "{} cannot be read, so it cannot be replaced safely: run Lifeboat as a user who can read it, or as root.",
                t.path.display()
            ));
        }
    }

    /// Services to stop: those whose files are replaced, and the dependents of loaded
    /// databases (dependents first), among those running.
    fn services_to_stop(&mut self, chosen: &[&ComponentEntry]) -> Vec<String> {
        let mut out = Vec::new();
        if !self.original {
            return out;
        }
        let running_svc = |s: &String| self.running(s).is_some();
        match &self.project {
            Some(p) => {
                let mut files_order = cold::stop_order(p, &self.stop_files);
                let mut dep_order = cold::stop_order(p, &self.stop_dependents);
                dep_order.retain(|s| !self.stop_dependents.contains(s));
                files_order.retain(|s| !self.stop_dependents.contains(s));
                for s in dep_order.into_iter().chain(files_order) {
                    if running_svc(&s) && !out.contains(&s) {
                        out.push(s);
                    }
                }
            }
            None => out.extend(self.stop_files.iter().filter(|s| running_svc(s)).cloned()),
        }
        if self.containers.is_none() && !self.stop_files.is_empty() {
            self.notes.push(
                "Docker cannot be reached, so no service is stopped: stop the stack (`docker compose stop`) \
                 before restoring its data."
                    .into(),
            );
            self.after.push(
                "Docker could not be reached, so no service was stopped: if the stack runs, restart it \
                 (`docker compose restart`) so its services read the restored files."
                    .into(),
            );
        }
        if chosen.iter().any(|c| c.kind == ComponentKind::Secrets) && self.containers.is_some() {
            let note = "Containers read .env and env files when they are created: run `docker compose up -d` \
                        after the restore so they use the restored values.";
            self.notes.push(note.into());
            self.after.push(note.into());
        }
        out
    }

    /// Room for the restore, the right to write where it goes, and what comes back owned by
    /// this user when not root.
    fn check_room_and_rights(&mut self) {
        self.available = fs4::available_space(&self.probe).unwrap_or(u64::MAX);
        if self.needed > self.available {
            self.problems.push(format!(
                "the restore needs {} on {} and only {} is free; the old files are kept until you discard the \
                 undo point, so free some space first.",
                crate::inspect::human_bytes(self.needed),
                self.probe.display(),
                crate::inspect::human_bytes(self.available)
            ));
        }
        if !writable(&self.probe) {
            self.problems.push(format!(
                "{} is not writable by this user; run Lifeboat as the folder's owner (or as root).",
                self.probe.display()
            ));
        }
        let owned_by_us = self
            .all_slots
            .iter()
            .flatten()
            .any(|t| t.route.is_none() && t.through.is_none());
        if !self.as_root && owned_by_us {
            self.notes.push(
                "Lifeboat is not running as root, so files that belong to other users in the backup come \
                 back owned by you where no container of their service can write them; a database that runs \
                 as another user may then refuse to start."
                    .into(),
            );
        }
    }
}

/// Creates the named volumes the plan found gone, labelled as compose creates them, and
/// points their slots at the new folders. As root a new volume is written directly, unless
/// its folder is not writable here (Docker Desktop's VM): then, as for a volume that
/// existed, through a helper container of the service's image.
pub(super) fn create_missing_volumes(
    w: &mut Worked,
    engine: Option<&BlockingEngine>,
) -> Result<(), RestoreError> {
    let mut problems = Vec::new();
    for (i, targets) in w.slots.iter_mut().enumerate() {
        let component = &w.plan.components[i];
        for t in targets.iter_mut() {
            let Some(v) = t.new_volume.take() else {
                continue;
            };
            let Some(e) = engine else {
                problems.push(format!(
                    "{}: the volume {} can only be created through Docker, which this restore has no connection to",
                    component.name, v.name
                ));
                continue;
            };
            let mountpoint = match e.create_volume(&v.name, &v.project, &v.key) {
                Ok(m) => PathBuf::from(m),
                Err(err) => {
                    problems.push(format!(
                        "{}: the volume {} could not be created: {err}",
                        component.name, v.name
                    ));
                    continue;
                }
            };
            if t.through.is_some() {
                continue;
            }
            if writable(&existing_ancestor(
                mountpoint.parent().unwrap_or(&mountpoint),
            )) {
                t.path = mountpoint;
                continue;
            }
            let svc = component.service.as_deref().unwrap_or_default();
            match helper_image(e, w.project.as_ref(), &w.manifest.stack, svc) {
                Some(image) => {
                    t.through = Some(ThroughEngine {
                        volume: v.name,
                        image,
                    });
                }
                None => problems.push(format!(
                    "{}: the volume {} can only be written through Docker here, with a container of \
                     {svc}'s image, which is not on this machine: pull it (`docker compose pull {svc}`) \
                     and restore again",
                    component.name, v.name
                )),
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(RestoreError::Blocked(problems))
    }
}

/// The containers of a stack that run, by service: what a plan stops, stops again and
/// loads dumps into.
fn running_containers(
    containers: &HashMap<String, Vec<ContainerInfo>>,
) -> BTreeMap<&str, BTreeSet<&str>> {
    let mut out: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (svc, list) in containers {
        for c in list.iter().filter(|c| c.state == "running") {
            out.entry(svc.as_str()).or_default().insert(c.id.as_str());
        }
    }
    out
}

/// Checks that what the plan was made on still holds before it is applied: the same
/// containers run (a service started since the preview would not be stopped, a container
/// recreated would not get its dump), and the volumes it writes are still there.
pub(super) fn still_current(
    w: &Worked,
    engine: Option<&BlockingEngine>,
) -> Result<(), RestoreError> {
    let mut changed = Vec::new();
    if let Some(then) = &w.containers {
        match containers_by_service(engine, &w.manifest.stack) {
            None => changed.push("Docker cannot be reached any more".to_owned()),
            Some(now) => {
                let (before, after) = (running_containers(then), running_containers(&now));
                let services: BTreeSet<&str> = before.keys().chain(after.keys()).copied().collect();
                for svc in services {
                    match (before.get(svc), after.get(svc)) {
                        (None, Some(_)) => changed.push(format!("{svc} started")),
                        (Some(_), None) => changed.push(format!("{svc} stopped")),
                        (Some(b), Some(a)) if a != b => {
                            changed.push(format!("{svc}'s container was recreated"));
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    for t in w.slots.iter().flatten() {
        // A volume's own folder on this machine (restored in place) that went away; into
        // another folder, a volume is a plain folder there, made by the restore.
        let volume_dir = t.prefix.starts_with("_volumes/") && !t.path.starts_with(&w.target);
        if volume_dir && t.new_volume.is_none() && t.through.is_none() && !t.path.exists() {
            changed.push(format!("the volume folder {} is gone", t.path.display()));
        }
    }
    if changed.is_empty() {
        Ok(())
    } else {
        Err(RestoreError::Outdated(changed.join(", ")))
    }
}
