//! Restore drills: a snapshot restored for real into a sandbox, then checked against what
//! its manifest recorded at backup time, so that "it is restorable" is something Lifeboat
//! has seen rather than assumed.
//!
//! A drill restores every component but the secrets into a fresh folder (mode 0700) through
//! the same restore path a person uses (never touching the stack or its services), and
//! checks every file's size, SHA-256 and mode (and owner, when running as root); every
//! SQLite database's `integrity_check` and per-table rows; every Postgres and MySQL/MariaDB
//! dump loaded into a throwaway container made like the service's own (same image and
//! environment, no network, no writable mount of the stack, removed afterwards), with
//! per-table rows compared to those the dump held. The secrets component is read in memory
//! only (its values never reach a disk outside the stack): every env file is there, parses
//! and defines the same variable names. The sandbox goes afterwards; a drill killed mid-way
//! leaves a catalog row naming its sandbox and label on its containers, and the next drill
//! (or start of Lifeboat) removes them.

mod databases;
pub mod scheduled;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::archive;
use crate::backup::manifest::{ComponentEntry, ComponentKind, FileEntry, Manifest, Recipe};
use crate::backup::source::Source;
use crate::catalog::Catalog;
use crate::docker::BlockingEngine;
use crate::job::{CancelToken, Progress};
use crate::restore::{self, RestoreError, RestoreOptions};

/// What to drill.
#[derive(Debug, Clone)]
pub struct DrillOptions {
    /// The backup destination.
    pub from: PathBuf,
    /// The stack, when the destination holds several.
    pub stack: Option<String>,
    /// A snapshot id (or a unique beginning of one), or `latest`.
    pub snapshot: String,
    /// The folder the sandbox is made in (it needs room for the whole snapshot).
    pub scratch: PathBuf,
    /// The Docker engine, to load dumps; without it they are reported as not checked.
    pub engine: Option<BlockingEngine>,
    /// The catalog, for the drill history and the clean-up after a crash.
    pub catalog: Option<Arc<Catalog>>,
}

/// One database a drill looked at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct DatabaseCheck {
    /// Its service.
    pub service: Option<String>,
    /// `sqlite`, `postgres`, `mysql`, `mongo`.
    pub kind: String,
    /// The SQLite file or dump (archive name).
    pub name: String,
    /// It opened (SQLite) or loaded into a throwaway server (a dump).
    pub loaded: bool,
    /// Tables whose rows were compared.
    #[ts(type = "number")]
    pub tables: u64,
    /// Every table holds the rows recorded at backup time.
    pub rows_match: bool,
    /// Why it was not checked, or what was wrong, as a sentence.
    pub note: Option<String>,
}

/// What a drill found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct DrillReport {
    /// The snapshot.
    pub snapshot: String,
    /// The stack.
    pub stack: String,
    /// The destination.
    pub from: String,
    /// When the snapshot was taken (Unix seconds).
    #[ts(type = "number")]
    pub snapshot_started: i64,
    /// Everything checked passed.
    pub ok: bool,
    /// How long the drill took.
    #[ts(type = "number")]
    pub duration_ms: u64,
    /// How long restoring everything took (the honest recovery-time estimate).
    #[ts(type = "number")]
    pub restore_ms: u64,
    /// Files checked against the manifest.
    #[ts(type = "number")]
    pub files_checked: u64,
    /// Their bytes.
    #[ts(type = "number")]
    pub bytes_checked: u64,
    /// The databases.
    pub databases: Vec<DatabaseCheck>,
    /// What failed, as sentences; empty when the snapshot is proven restorable.
    pub problems: Vec<String>,
    /// What was not checked and why, as sentences.
    pub notes: Vec<String>,
}

impl DrillReport {
    /// One line for people: "Proven restorable: 2,413 files, 2 databases loaded, 41 s".
    pub fn summary(&self) -> String {
        let loaded = self.databases.iter().filter(|d| d.loaded).count();
        let secs = self.restore_ms.div_ceil(1000);
        if self.ok {
            format!(
                "Proven restorable: {} files, {} loaded; a full restore of this stack takes \
                 about {secs} s from this destination.",
                self.files_checked,
                plural(loaded, "database")
            )
        } else {
            format!(
                "The drill of snapshot {} FAILED: {}",
                self.snapshot,
                self.problems.first().map_or("", String::as_str)
            )
        }
    }
}

impl DrillReport {
    /// What it proved, for a status line: "2413 files, 2 of 2 databases loaded, a full
    /// restore in about 41 s".
    pub fn proof(&self) -> String {
        format!(
            "{} files, {} of {} databases loaded, a full restore in about {} s",
            self.files_checked,
            self.databases.iter().filter(|d| d.loaded).count(),
            self.databases.len(),
            self.restore_ms.div_ceil(1000)
        )
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// Why a drill could not run at all (what it finds wrong is in its report instead).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DrillError {
    /// Finding or reading the snapshot, or the restore into the sandbox, failed.
    #[error(transparent)]
    Restore(#[from] RestoreError),
    /// The scratch folder's disk has too little room.
    #[error(
        "a drill needs {needed} bytes free in {} for the sandbox, and it has {available}; \
         free some space or choose another folder with --scratch",
        at.display()
    )]
    NoRoom {
        /// The scratch folder.
        at: PathBuf,
        /// Bytes needed.
        needed: u64,
        /// Bytes free.
        available: u64,
    },
    /// The sandbox could not be made.
    #[error("cannot make the drill's sandbox {}: {source}", path.display())]
    Sandbox {
        /// The folder.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// The user cancelled.
    #[error("the drill was cancelled; nothing was changed")]
    Cancelled,
}

/// The prefix of every sandbox's folder name: only folders named so are ever removed.
pub const SANDBOX_PREFIX: &str = "lifeboat-drill-";

/// Removes what drills killed mid-way left behind: sandboxes the catalog recorded (by that
/// path only, and only a folder named like a sandbox) and throwaway containers, of drills
/// whose process is gone. Returns what it removed, as sentences.
pub fn clean_leftovers(catalog: &Catalog, engine: Option<&BlockingEngine>) -> Vec<String> {
    let mut said = Vec::new();
    let unfinished = catalog.unfinished_drills().unwrap_or_default();
    let mut live = BTreeSet::new();
    for d in unfinished {
        if process_alive(d.pid) {
            live.insert(d.id.to_string());
            continue;
        }
        let sandbox = PathBuf::from(&d.sandbox);
        let named_so = sandbox
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with(SANDBOX_PREFIX));
        if named_so && std::fs::symlink_metadata(&sandbox).is_ok() {
            remove_tree(&sandbox);
            said.push(format!(
                "Removed the sandbox {} of a drill that was interrupted.",
                sandbox.display()
            ));
        }
        let report = serde_json::json!({ "interrupted": true }).to_string();
        let _ = catalog.drill_finished(d.id, None, &report);
    }
    if let Some(engine) = engine {
        for (id, drill) in engine.throwaways().unwrap_or_default() {
            if !live.contains(&drill) && engine.remove_throwaway(&id).is_ok() {
                said.push(format!(
                    "Removed a throwaway database container of an interrupted drill ({}).",
                    &id[..id.len().min(12)]
                ));
            }
        }
    }
    said
}

#[cfg(target_os = "linux")]
fn process_alive(pid: u32) -> bool {
    pid == std::process::id() || Path::new("/proc").join(pid.to_string()).exists()
}

#[cfg(not(target_os = "linux"))]
fn process_alive(pid: u32) -> bool {
    pid == std::process::id()
}

/// Removes a folder tree, making folders writable first where that is what stops it (a
/// restored folder may be read-only, as it was backed up).
fn remove_tree(path: &Path) {
    if std::fs::remove_dir_all(path).is_ok() {
        return;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mut stack = vec![path.to_owned()];
        while let Some(dir) = stack.pop() {
            let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
            if let Ok(rd) = std::fs::read_dir(&dir) {
                for e in rd.filter_map(Result::ok) {
                    if e.file_type().is_ok_and(|t| t.is_dir()) {
                        stack.push(e.path());
                    }
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(path);
}

/// Runs a drill (see the module's documentation).
///
/// # Errors
/// When it cannot start: the snapshot cannot be found or read, the sandbox has no room or
/// cannot be made, or `cancel` fired. A drill that runs and finds problems returns its
/// report with `ok: false`.
pub fn run(
    opts: &DrillOptions,
    identity: &age::x25519::Identity,
    progress: &dyn Progress,
    cancel: &CancelToken,
) -> Result<DrillReport, DrillError> {
    let clock = Instant::now();
    if let Some(cat) = &opts.catalog {
        for s in clean_leftovers(cat, opts.engine.as_ref()) {
            tracing::info!("{s}");
        }
    }
    let manifest =
        restore::find_snapshot(&opts.from, opts.stack.as_deref(), &opts.snapshot, identity)?;
    let files: Vec<&ComponentEntry> = manifest
        .components
        .iter()
        .filter(|c| c.kind != ComponentKind::Secrets)
        .collect();
    let needed: u64 = files.iter().map(|c| c.bytes_in).sum();
    std::fs::create_dir_all(&opts.scratch).map_err(|source| DrillError::Sandbox {
        path: opts.scratch.clone(),
        source,
    })?;
    let available = fs4::available_space(&opts.scratch).unwrap_or(u64::MAX);
    // Room for the content, and a little more for folders and a file system's own needs.
    if available < needed + needed / 20 + (16 << 20) {
        return Err(DrillError::NoRoom {
            at: opts.scratch.clone(),
            needed,
            available,
        });
    }
    // Every byte is written into the sandbox, then read back to be checked.
    progress.estimate(2 * needed);
    let sandbox = opts.scratch.join(format!(
        "{SANDBOX_PREFIX}{}-{}",
        manifest.snapshot,
        std::process::id()
    ));
    let drill_id = opts.catalog.as_ref().and_then(|cat| {
        cat.drill_started(
            &manifest.stack,
            &opts.from.display().to_string(),
            &manifest.snapshot,
            &sandbox.display().to_string(),
        )
        .ok()
    });
    let result = in_sandbox(
        opts, &manifest, &sandbox, drill_id, identity, progress, cancel,
    );
    remove_tree(&sandbox);
    let mut report = match result {
        Ok(r) => r,
        Err(e) => {
            if let (Some(cat), Some(id)) = (&opts.catalog, drill_id) {
                let json = serde_json::json!({ "error": e.to_string() }).to_string();
                let ok = (!matches!(e, DrillError::Cancelled)).then_some(false);
                let _ = cat.drill_finished(id, ok, &json);
            }
            return Err(e);
        }
    };
    report.duration_ms = u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX);
    report.ok = report.problems.is_empty();
    if let (Some(cat), Some(id)) = (&opts.catalog, drill_id) {
        let json = serde_json::to_string(&report).unwrap_or_default();
        let _ = cat.drill_finished(id, Some(report.ok), &json);
    }
    Ok(report)
}

/// The drill proper, in `sandbox` (made here, removed by the caller).
fn in_sandbox(
    opts: &DrillOptions,
    m: &Manifest,
    sandbox: &Path,
    drill_id: Option<i64>,
    identity: &age::x25519::Identity,
    progress: &dyn Progress,
    cancel: &CancelToken,
) -> Result<DrillReport, DrillError> {
    make_private_dir(sandbox)?;
    let target = sandbox.join("stack");
    let mut report = DrillReport {
        snapshot: m.snapshot.clone(),
        stack: m.stack.clone(),
        from: opts.from.display().to_string(),
        snapshot_started: m.started,
        ok: false,
        duration_ms: 0,
        restore_ms: 0,
        files_checked: 0,
        bytes_checked: 0,
        databases: Vec::new(),
        problems: Vec::new(),
        notes: Vec::new(),
    };
    if m.partial {
        report.problems.push(format!(
            "Snapshot {} is partial: {}",
            m.snapshot,
            m.missing.join(" ")
        ));
    }
    let only: Vec<String> = m
        .components
        .iter()
        .filter(|c| c.kind != ComponentKind::Secrets)
        .map(|c| c.name.clone())
        .collect();
    if !only.is_empty() {
        progress.phase("restoring into the sandbox");
        let ropts = RestoreOptions {
            from: opts.from.clone(),
            snapshot: m.snapshot.clone(),
            stack: Some(m.stack.clone()),
            only,
            into: Some(target.clone()),
            stack_dir: None,
            list_paths: false,
            engine: None,
            catalog: None,
        };
        let started = Instant::now();
        let plan = restore::plan(&ropts, identity)?;
        let skipped: Vec<String> = plan.preview().problems.clone();
        if !skipped.is_empty() {
            report.problems.extend(skipped);
            return Ok(report);
        }
        match restore::apply(plan, identity, progress, cancel) {
            Ok(_) => {}
            Err(RestoreError::Cancelled) => return Err(DrillError::Cancelled),
            Err(e) => {
                report.problems.push(format!("The restore failed: {e}"));
                return Ok(report);
            }
        }
        report.restore_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    }
    if cancel.is_cancelled() {
        return Err(DrillError::Cancelled);
    }
    progress.phase("checking every file");
    let as_root = owner_of(sandbox).is_some_and(|(uid, _)| uid == 0);
    for c in m
        .components
        .iter()
        .filter(|c| c.kind != ComponentKind::Secrets)
    {
        for f in &c.files {
            if cancel.is_cancelled() {
                return Err(DrillError::Cancelled);
            }
            match check_file(&target, f, as_root) {
                Ok(()) => {
                    report.files_checked += 1;
                    report.bytes_checked += f.bytes;
                    progress.advance(1, f.bytes);
                }
                Err(why) => report.problems.push(format!("{}: {why}", f.path)),
            }
        }
        if c.files.iter().all(|f| f.sha256.is_none()) && !c.files.is_empty() {
            report.notes.push(format!(
                "{}: this snapshot predates per-file checksums, so its files were checked by \
                 size and mode only.",
                c.name
            ));
        }
    }
    if !as_root {
        report.notes.push(
            "Owners were not compared: only root can restore files with their owners.".into(),
        );
    }
    progress.phase("checking the databases");
    for c in &m.components {
        for name in &c.sqlite {
            report.databases.push(databases::check_sqlite(
                &target.join(name),
                c,
                name,
                &mut report.problems,
            ));
        }
        // SQLite files the backup copied as files (a volume read through the engine with
        // its service stopped): their integrity is checked too; their rows were not counted
        // at backup time, and their SHA-256 already matched.
        for f in c.files.iter().filter(|f| !c.sqlite.contains(&f.path)) {
            let path = restored_path(&target, f);
            if is_sqlite(&path) {
                let mut check = databases::check_sqlite(&path, c, &f.path, &mut report.problems);
                if check.loaded && check.tables == 0 {
                    check.note = Some(
                        "integrity checked; its rows were not counted at backup time (it was \
                         copied with its service stopped), and its SHA-256 matches the backup's"
                            .into(),
                    );
                }
                report.databases.push(check);
            }
        }
        for name in &c.dumps {
            if cancel.is_cancelled() {
                return Err(DrillError::Cancelled);
            }
            let check = databases::check_dump(
                opts.engine.as_ref(),
                m,
                c,
                &target.join(name),
                name,
                &drill_id.map_or_else(|| format!("p{}", std::process::id()), |i| i.to_string()),
                &mut report.problems,
            );
            if let Some(note) = check.note.as_ref().filter(|_| !check.loaded) {
                report.notes.push(format!("{}: {note}", c.name));
            }
            report.databases.push(check);
        }
        if c.recipe == Recipe::RedisBgsave {
            for f in c.files.iter().filter(|f| f.path.ends_with(".rdb")) {
                if cancel.is_cancelled() {
                    return Err(DrillError::Cancelled);
                }
                let check = databases::check_redis(
                    opts.engine.as_ref(),
                    m,
                    c,
                    &restored_path(&target, f),
                    &f.path,
                    &drill_id.map_or_else(|| format!("p{}", std::process::id()), |i| i.to_string()),
                    &mut report.problems,
                );
                if let Some(note) = check.note.as_ref().filter(|_| !check.loaded) {
                    report.notes.push(format!("{}: {note}", c.name));
                }
                report.databases.push(check);
            }
        }
    }
    progress.phase("checking the secrets");
    for c in m
        .components
        .iter()
        .filter(|c| c.kind == ComponentKind::Secrets)
    {
        check_secrets(&opts.from, m, c, identity, &mut report);
    }
    Ok(report)
}

/// Whether `path` is a SQLite database file (by its 16-byte header).
fn is_sqlite(path: &Path) -> bool {
    let mut head = [0u8; 16];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok()
        && &head == b"SQLite format 3\0"
}

fn make_private_dir(path: &Path) -> Result<(), DrillError> {
    let err = |source| DrillError::Sandbox {
        path: path.to_owned(),
        source,
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(path)
            .map_err(err)
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir(path).map_err(err)
    }
}

#[cfg(unix)]
fn owner_of(path: &Path) -> Option<(u32, u32)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.uid(), m.gid()))
}

#[cfg(not(unix))]
fn owner_of(_path: &Path) -> Option<(u32, u32)> {
    None
}

/// Where file `f` of a snapshot is under `target`.
fn restored_path(target: &Path, f: &FileEntry) -> PathBuf {
    #[cfg(unix)]
    if let Some(raw) = f.raw.as_deref().and_then(archive::unhex) {
        use std::os::unix::ffi::OsStringExt;
        return target.join(PathBuf::from(std::ffi::OsString::from_vec(raw)));
    }
    target.join(&f.path)
}

/// Checks a restored file against its manifest entry: a regular file of the recorded size,
/// SHA-256, mode and (as root) owner.
fn check_file(target: &Path, f: &FileEntry, as_root: bool) -> Result<(), String> {
    let path = restored_path(target, f);
    let meta =
        std::fs::symlink_metadata(&path).map_err(|e| format!("it was not restored ({e})"))?;
    if !meta.is_file() {
        return Err("it was restored as something other than a regular file".into());
    }
    if meta.len() != f.bytes {
        return Err(format!(
            "it was restored with {} bytes; the snapshot recorded {}",
            meta.len(),
            f.bytes
        ));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let Some(mode) = f.mode {
            if meta.mode() & 0o7777 != mode {
                return Err(format!(
                    "it was restored with mode {:o}; the snapshot recorded {mode:o}",
                    meta.mode() & 0o7777
                ));
            }
        }
        if as_root {
            if let (Some(uid), Some(gid)) = (f.uid, f.gid) {
                if (u64::from(meta.uid()), u64::from(meta.gid())) != (uid, gid) {
                    return Err(format!(
                        "it was restored owned by {}:{}; the snapshot recorded {uid}:{gid}",
                        meta.uid(),
                        meta.gid()
                    ));
                }
            }
        }
    }
    if let Some(want) = &f.sha256 {
        let file = std::fs::File::open(&path).map_err(|e| format!("it cannot be read ({e})"))?;
        let mut h = archive::Hashing::new(file);
        std::io::copy(&mut h, &mut std::io::sink())
            .map_err(|e| format!("it cannot be read ({e})"))?;
        let (got, _, _) = h.into_parts();
        if &got != want {
            return Err(
                "its content differs from the snapshot's (its SHA-256 does not match)".into(),
            );
        }
    }
    Ok(())
}

/// Reads the secrets component in memory: every file's size and SHA-256, every env file
/// parsed and its variable names compared with those recorded. Values are never kept.
fn check_secrets(
    from: &Path,
    m: &Manifest,
    c: &ComponentEntry,
    identity: &age::x25519::Identity,
    report: &mut DrillReport,
) {
    let source = Source::of(c, from, &m.stack);
    let by_path: BTreeMap<&str, &FileEntry> =
        c.files.iter().map(|f| (f.path.as_str(), f)).collect();
    let mut env_seen = BTreeSet::new();
    let mut read = || -> Result<(), String> {
        let reader = source.open(identity).map_err(|e| e.to_string())?;
        let mut tar = tar::Archive::new(reader);
        for entry in tar.entries().map_err(|e| e.to_string())? {
            let mut entry = entry.map_err(|e| e.to_string())?;
            if entry.header().entry_type() != tar::EntryType::Regular {
                continue;
            }
            let name = entry
                .path()
                .map_err(|e| e.to_string())?
                .to_string_lossy()
                .into_owned();
            let mut content = Vec::new();
            entry.read_to_end(&mut content).map_err(|e| e.to_string())?;
            if let Some(f) = by_path.get(name.as_str()) {
                let sha = archive::hex(&<sha2::Sha256 as sha2::Digest>::digest(&content));
                if content.len() as u64 != f.bytes || f.sha256.as_ref().is_some_and(|w| *w != sha) {
                    report
                        .problems
                        .push(format!("{name}: its content differs from the snapshot's"));
                } else {
                    report.files_checked += 1;
                    report.bytes_checked += f.bytes;
                }
            }
            if let Some(recorded) = c.env_names.iter().find(|e| e.file == name) {
                env_seen.insert(name.clone());
                let text = String::from_utf8_lossy(&content);
                match crate::stack::parse_env(&text, &|_| None, &mut Vec::new()) {
                    Err(e) => report
                        .problems
                        .push(format!("{name} does not parse as an env file: {e}")),
                    Ok(vars) => {
                        let names: BTreeSet<&str> = vars.iter().map(|v| v.key.as_str()).collect();
                        let want: BTreeSet<&str> =
                            recorded.names.iter().map(String::as_str).collect();
                        let lost: Vec<&str> = want.difference(&names).copied().collect();
                        let extra: Vec<&str> = names.difference(&want).copied().collect();
                        if !lost.is_empty() || !extra.is_empty() {
                            report.problems.push(format!(
                                "{name} does not define the variables it did at backup time \
                                 (missing: {}; new: {})",
                                if lost.is_empty() {
                                    "none".into()
                                } else {
                                    lost.join(", ")
                                },
                                if extra.is_empty() {
                                    "none".into()
                                } else {
                                    extra.join(", ")
                                }
                            ));
                        }
                    }
                }
            }
        }
        Ok(())
    };
    if let Err(e) = read() {
        report
            .problems
            .push(format!("The secrets could not be read back: {e}"));
        return;
    }
    for e in &c.env_names {
        if !env_seen.contains(&e.file) {
            report
                .problems
                .push(format!("{} is missing from the secrets", e.file));
        }
    }
}
