//! The backup-side verbs: backup, snapshots, verify, key. Each prints a readable report or
//! JSON, and turns errors into one sentence on stderr with exit code 1.

use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use age::secrecy::{ExposeSecret, SecretString};
use lifeboat_core::backup::{self, verify, BackupOptions};
use lifeboat_core::inspect::human_bytes;
use lifeboat_core::keys::{self, KeyError, RECOVERY_FILE};
use lifeboat_core::{CancelToken, LoadOptions};

use crate::progress;

pub(crate) type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

pub(crate) fn finish(r: Result<()>) -> ExitCode {
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            progress::clear_line();
            eprintln!("lifeboat: {e}");
            ExitCode::FAILURE
        }
    }
}

/// [`finish`], and with `--json` the error as JSON on standard output too
/// (`{"error": {"code", "message"}}`), so a script that reads JSON never gets nothing.
pub(crate) fn finish_json(json: bool, r: Result<()>) -> ExitCode {
    if let (true, Err(e)) = (json, &r) {
        if e.downcast_ref::<Reported>().is_some() {
            return finish(r);
        }
        let code = e
            .downcast_ref::<backup::BackupError>()
            .map_or("failed", backup::BackupError::code);
        let body = serde_json::json!({ "error": { "code": code, "message": e.to_string() } });
        println!("{body:#}");
    }
    finish(r)
}

/// A failure whose report was already printed (as JSON too): only the sentence and the
/// exit code are left to give.
#[derive(Debug)]
pub(crate) struct Reported(pub String);

impl std::fmt::Display for Reported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Reported {}

pub(crate) fn print_json<T: serde::Serialize>(v: &T) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

fn progress_for(json: bool, verb: &'static str) -> Box<dyn lifeboat_core::Progress> {
    if !json && std::io::stderr().is_terminal() {
        Box::new(progress::Terminal::new(verb))
    } else {
        Box::new(lifeboat_core::job::NoProgress)
    }
}

fn identity(file: Option<&Path>) -> Result<age::x25519::Identity> {
    Ok(keys::load(file)?.0)
}

/// What `lifeboat backup` was asked to do.
pub struct BackupArgs {
    pub only: Vec<String>,
    pub files: Vec<PathBuf>,
    pub mode: backup::Mode,
    pub stop: Vec<String>,
    pub engine: Option<lifeboat_core::docker::BlockingEngine>,
    pub allow_partial: bool,
    pub include: Vec<PathBuf>,
    pub adopt: bool,
}

pub fn backup(
    stack_dir: &Path,
    dest: &Path,
    args: BackupArgs,
    id: Option<&Path>,
    json: bool,
) -> ExitCode {
    let BackupArgs {
        only,
        files,
        mode,
        stop,
        engine,
        allow_partial,
        include,
        adopt,
    } = args;
    finish_json(
        json,
        (|| {
            let cwd = std::env::current_dir().unwrap_or_default();
            let load = LoadOptions {
                files: files.iter().map(|f| cwd.join(f)).collect(),
                use_process_env: true,
            };
            let identity = identity(id)?;
            // A restore into this folder that a crash interrupted is put back first: backing
            // up a half-restored stack would keep the damage.
            crate::restore::recover_at(stack_dir, engine.as_ref(), &identity);
            let project = lifeboat_core::stack::load(stack_dir, &load)?;
            let opts = BackupOptions {
                only,
                mode,
                stop,
                engine,
                allow_partial,
                include: include.iter().map(|i| cwd.join(i)).collect(),
                adopt,
                ..BackupOptions::new(dest)
            };
            let progress = progress_for(json, "Backing up");
            // The run goes into the stack's history (for `lifeboat status`, the desktop and
            // its alerts), with the stack's hooks and pings around it; a catalog that
            // cannot be opened does not fail the backup.
            let catalog = lifeboat_core::Catalog::open_default()
                .and_then(|c| Ok((lifeboat_core::settings::add_stack(&c, &project)?, c)));
            let (stack, catalog) = match catalog {
                Ok((s, c)) => (Some(s), Some(c)),
                Err(e) => {
                    tracing::warn!("the backup is not in Lifeboat's history: {e}");
                    (None, None)
                }
            };
            let hooks = match (&catalog, &stack) {
                (Some(c), Some(s)) => c.settings(s.id).map(|x| x.hooks).unwrap_or_default(),
                _ => lifeboat_core::hooks::Hooks::default(),
            };
            let ctx = lifeboat_core::hooks::context(&project.name, stack_dir, Some(dest));
            let (started, clock) = (lifeboat_core::time::unix_now(), std::time::Instant::now());
            let (report, after) =
                lifeboat_core::around::guard_backup(catalog.as_ref(), &hooks, &ctx, || {
                    backup::backup(
                        &project,
                        &identity,
                        &opts,
                        progress.as_ref(),
                        &CancelToken::new(),
                    )
                });
            progress::clear_line();
            if let (Some(c), Some(s)) = (&catalog, &stack) {
                let ms = u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX);
                if let Err(e) = backup::record_run(c, s.id, dest, started, ms, &report) {
                    tracing::warn!("the backup is not in Lifeboat's history: {e}");
                }
                if let Err(e) = &report {
                    // Heard where the person chose (ntfy, mail…), as a scheduled one is.
                    let alert = lifeboat_core::alerts::backup_failed(s.id, &s.name, &e.to_string());
                    lifeboat_core::notify::deliver(c, &alert);
                }
            }
            if let Some(p) = &after.post_hook {
                eprintln!("lifeboat: warning: {p} (the backup itself is kept)");
            }
            let report = report?;
            if json {
                return print_json(&report);
            }
            println!(
                "Snapshot {} of {} in {:.1} s",
                report.snapshot,
                report.stack,
                report.duration_ms as f64 / 1000.0
            );
            if report.downtime_ms > 0 {
                println!(
                    "  services were stopped for {:.1} s",
                    report.downtime_ms as f64 / 1000.0
                );
            }
            for c in &report.components {
                let how = if c.reused {
                    "unchanged, reused".to_owned()
                } else {
                    format!("{} stored", human_bytes(c.bytes_stored))
                };
                let recipe = serde_json::to_value(c.recipe)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                println!(
                    "  {:<24} {:>10}  {:>6} files  {recipe:<19} {how}",
                    c.name,
                    human_bytes(c.bytes_in),
                    c.files
                );
            }
            for w in &report.warnings {
                println!("  warning: {}", w.message);
                if let Some(r) = &w.remedy {
                    println!("           run: {}", r.command(stack_dir));
                }
            }
            if report.partial {
                println!(
                "  PARTIAL: you allowed this snapshot to lack what is named above ({} item(s)); \
                 `restore latest` passes over it",
                report.missing.len()
            );
            }
            Ok(())
        })(),
    )
}

pub fn snapshots(dest: &Path, stack: Option<&str>, id: Option<&Path>, json: bool) -> ExitCode {
    finish_json(
        json,
        (|| {
            let identity = identity(id)?;
            let list = verify::list(dest, stack, &identity)?;
            if json {
                return print_json(&list);
            }
            if list.is_empty() {
                println!("No snapshots in {}.", dest.display());
            }
            for s in &list {
                if let Some(why) = &s.damaged {
                    println!("{}  {:<16} DAMAGED: {why}", s.snapshot, s.stack);
                    continue;
                }
                println!(
                    "{}  {:<16} {}  {:>10}  stored {}, +{} new, deleting it frees {}  {} components{}",
                    s.snapshot,
                    s.stack,
                    lifeboat_core::time::minute(s.started),
                    human_bytes(s.bytes_in),
                    human_bytes(s.bytes_stored),
                    human_bytes(s.bytes_new),
                    human_bytes(s.bytes_frees),
                    s.components.len(),
                    if s.partial { "  PARTIAL" } else { "" }
                );
            }
            Ok(())
        })(),
    )
}

pub fn verify(
    dest: &Path,
    snapshot: Option<&str>,
    (deep, subset): (bool, Option<u32>),
    id: Option<&Path>,
    json: bool,
) -> ExitCode {
    finish_json(
        json,
        (|| {
            let identity = identity(id)?;
            let progress = progress_for(json, "Verifying");
            let report =
                verify::verify_reading(dest, snapshot, deep, subset, &identity, progress.as_ref());
            progress::clear_line();
            let report = report?;
            if json {
                print_json(&report)?;
            } else {
                println!(
                    "Checked {} snapshot(s), {} component stream(s){}.",
                    report.snapshots,
                    report.archives,
                    match (deep, report.subset_percent) {
                        (true, _) => format!(", {} read", human_bytes(report.bytes_read)),
                        (false, Some(p)) => format!(
                            ", {} piece(s) read whole ({p}% drawn at random, {})",
                            report.pieces_read,
                            human_bytes(report.bytes_read)
                        ),
                        (false, None) => String::new(),
                    }
                );
                for p in &report.problems {
                    println!(
                        "  {} {}: {}",
                        p.snapshot,
                        p.component.as_deref().unwrap_or(""),
                        p.message
                    );
                }
            }
            if report.problems.is_empty() {
                Ok(())
            } else {
                // The report (JSON too) already says what; only the exit code is left.
                Err(Reported(format!("{} problem(s) found", report.problems.len())).into())
            }
        })(),
    )
}

/// What `lifeboat drill` was given.
pub struct DrillArgs {
    pub stack_dir: Option<PathBuf>,
    pub from: PathBuf,
    pub stack: Option<String>,
    pub snapshot: String,
    pub scratch: Option<PathBuf>,
    pub engine: Option<lifeboat_core::docker::BlockingEngine>,
}

pub fn drill(args: DrillArgs, id: Option<&Path>, json: bool) -> ExitCode {
    use lifeboat_core::drill;
    finish_json(
        json,
        (|| {
            let identity = identity(id)?;
            let stack = match (&args.stack_dir, args.stack) {
                (Some(dir), _) => {
                    Some(lifeboat_core::stack::load(dir, &LoadOptions::default())?.name)
                }
                (None, s) => s,
            };
            let catalog = std::sync::Arc::new(lifeboat_core::Catalog::open_default()?);
            let scratch = match args.scratch {
                Some(s) => s,
                None => lifeboat_core::catalog::home()?.join("drills"),
            };
            let opts = drill::DrillOptions {
                from: args.from,
                stack,
                snapshot: args.snapshot,
                scratch,
                engine: args.engine,
                catalog: Some(catalog),
            };
            let progress = progress_for(json, "Drilling");
            let report = drill::run(&opts, &identity, progress.as_ref(), &CancelToken::new());
            progress::clear_line();
            let report = report?;
            if json {
                print_json(&report)?;
            } else {
                println!("{}", report.summary());
                println!(
                    "Snapshot {} of {}: {} files ({}) checked, restore {:.1} s, drill {:.1} s.",
                    report.snapshot,
                    report.stack,
                    report.files_checked,
                    human_bytes(report.bytes_checked),
                    report.restore_ms as f64 / 1000.0,
                    report.duration_ms as f64 / 1000.0
                );
                for d in &report.databases {
                    let state = match (d.loaded, d.rows_match) {
                        (true, true) => format!("loaded, rows match in {} table(s)", d.tables),
                        (true, false) => d
                            .note
                            .clone()
                            .unwrap_or_else(|| "loaded, rows differ".into()),
                        (false, _) => d.note.clone().unwrap_or_else(|| "not loaded".into()),
                    };
                    println!(
                        "  {} {} {}: {state}",
                        d.kind,
                        d.service.as_deref().unwrap_or("-"),
                        d.name
                    );
                }
                for p in &report.problems {
                    println!("  problem: {p}");
                }
                for n in &report.notes {
                    println!("  note: {n}");
                }
            }
            if report.ok {
                Ok(())
            } else {
                Err(Reported(format!("{} problem(s) found", report.problems.len())).into())
            }
        })(),
    )
}

/// `lifeboat status`: one paragraph per stack, or JSON; exit 1 when something needs
/// attention.
pub fn status(json: bool) -> ExitCode {
    use lifeboat_core::status;
    finish_json(
        json,
        (|| {
            let catalog = lifeboat_core::Catalog::open_default()?;
            let now = chrono::Local::now();
            let stacks = status::report(&catalog, &now);
            if json {
                print_json(&stacks)?;
            } else if stacks.is_empty() {
                println!("No stacks yet: `lifeboat backup STACK_DIR --to DEST` adds one.");
            }
            let t = now.timestamp();
            for s in stacks.iter().filter(|_| !json) {
                let last = match &s.last_backup {
                    Some(b) => format!(
                        "last backup {} ({}, {}, {:.1} s)",
                        status::ago(t - b.started),
                        b.result.as_str(),
                        human_bytes(b.bytes_in.max(0) as u64),
                        b.duration_ms as f64 / 1000.0
                    ),
                    None => "never backed up".to_owned(),
                };
                let next = s.next.map_or_else(
                    || "no schedule".to_owned(),
                    |n| format!("next in {}", status::ago(t - n).replace(" ago", "")),
                );
                let drill = match (s.last_drill, s.last_proven) {
                    (Some((at, false)), _) => {
                        format!("last drill FAILED {}", status::ago(t - at))
                    }
                    (_, Some(p)) => format!("proven restorable {}", status::ago(t - p)),
                    _ => "never proven restorable".to_owned(),
                };
                println!("{}: {last} · {next} · {drill}", s.stack);
                for a in &s.alerts {
                    println!("  {}: {}. {}", a.severity, a.summary, a.body);
                }
            }
            let attention: Vec<&str> = stacks
                .iter()
                .filter(|s| s.attention)
                .map(|s| s.stack.as_str())
                .collect();
            if attention.is_empty() {
                Ok(())
            } else {
                Err(Reported(format!("{} need(s) attention", attention.join(", "))).into())
            }
        })(),
    )
}

pub fn key_init(file: Option<&Path>) -> ExitCode {
    finish((|| {
        let recipient = keys::init(file)?;
        let place = file.map_or("the system keyring".to_owned(), |f| f.display().to_string());
        println!("Created a backup key in {place}.\nPublic recipient: {recipient}");
        println!("Next: `lifeboat key export-recovery --to DEST` so a new machine can open your backups.");
        Ok(())
    })())
}

pub fn key_recipient(file: Option<&Path>) -> ExitCode {
    finish((|| {
        println!("{}", identity(file)?.to_public());
        Ok(())
    })())
}

/// A passphrase from the terminal (asked twice when `confirm`), or one line of stdin.
fn passphrase(prompt: &str, confirm: bool) -> Result<SecretString> {
    if std::io::stdin().is_terminal() {
        let first = SecretString::from(rpassword::prompt_password(prompt)?);
        if confirm {
            let again = SecretString::from(rpassword::prompt_password("Type it again: ")?);
            if again.expose_secret() != first.expose_secret() {
                return Err("the two passphrases differ; nothing was written".into());
            }
        }
        if keys::check_passphrase(&first).is_err() {
            return Err(format!(
                "choose a passphrase of at least {} characters",
                keys::MIN_PASSPHRASE
            )
            .into());
        }
        return Ok(first);
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let pass = SecretString::from(line.trim_end_matches(['\r', '\n']).to_owned());
    if keys::check_passphrase(&pass).is_err() {
        return Err(format!(
            "the passphrase on standard input must have at least {} characters",
            keys::MIN_PASSPHRASE
        )
        .into());
    }
    Ok(pass)
}

pub fn key_export(dest: &Path, file: Option<&Path>) -> ExitCode {
    finish((|| {
        if !dest.is_dir() {
            return Err(format!("{} is not a folder", dest.display()).into());
        }
        let identity = identity(file)?;
        let pass = passphrase(
            "Recovery passphrase (you will need it on a new machine): ",
            true,
        )?;
        let path = dest.join(RECOVERY_FILE);
        keys::write_recovery(&identity, pass, &path)?;
        println!(
            "Wrote {}: the backup key, encrypted with your passphrase.",
            path.display()
        );
        Ok(())
    })())
}

pub fn key_test(dest: &Path, file: Option<&Path>) -> ExitCode {
    finish((|| {
        let identity = identity(file)?;
        let pass = passphrase("Recovery passphrase: ", false)?;
        keys::test_recovery(&dest.join(RECOVERY_FILE), pass, &identity)?;
        if let Ok(c) = lifeboat_core::Catalog::open_default() {
            let _ = c.set_app_state(
                "passphrase_tested_at",
                &lifeboat_core::time::unix_now().to_string(),
            );
        }
        println!("The passphrase opens the recovery file, and it holds the key in use.");
        Ok(())
    })())
}

pub fn key_kit(dest: &Path, file: Option<&Path>) -> ExitCode {
    finish((|| {
        if !dest.is_dir() {
            return Err(format!("{} is not a folder", dest.display()).into());
        }
        let identity = identity(file)?;
        let path = keys::write_recovery_kit(dest, &identity)?;
        println!(
            "Wrote {}: print it and keep it with the drive.",
            path.display()
        );
        Ok(())
    })())
}

pub fn key_import(dest: &Path, file: Option<&Path>) -> ExitCode {
    finish((|| {
        let path = dest.join(RECOVERY_FILE);
        if !path.is_file() {
            return Err(format!("{} has no {RECOVERY_FILE}", dest.display()).into());
        }
        let pass = passphrase("Recovery passphrase: ", false)?;
        let identity = keys::read_recovery(&path, pass)?;
        let recipient = identity.to_public();
        let place = file.map_or("the system keyring".to_owned(), |f| f.display().to_string());
        match keys::adopt(identity, file)? {
            keys::Adopted::Stored => {
                println!("Recovered the backup key into {place}. Public recipient: {recipient}");
            }
            keys::Adopted::AlreadyHere => {
                println!("{place} already holds this backup key. Public recipient: {recipient}");
            }
            keys::Adopted::Other(_) => return Err(KeyError::Exists { where_: place }.into()),
        }
        Ok(())
    })())
}

/// Which stacks `lifeboat prune` touches: the one named, every one with `--all`, or else
/// the destination's only one.
pub struct PruneWhich {
    pub stack: Option<String>,
    pub all: bool,
}

pub fn prune(
    dest: &Path,
    which: PruneWhich,
    keep: &lifeboat_core::backup::prune::Keep,
    dry_run: bool,
    id: Option<&Path>,
    json: bool,
) -> ExitCode {
    finish_json(
        json,
        (|| {
            let stack = match which {
                PruneWhich { all: true, .. } => None,
                PruneWhich { stack: Some(s), .. } => Some(s),
                PruneWhich { stack: None, .. } => Some(verify::the_only_stack(dest)?),
            };
            let identity = identity(id)?;
            let r = lifeboat_core::backup::prune::prune(
                dest,
                stack.as_deref(),
                keep,
                dry_run,
                &identity,
            )?;
            if json {
                return print_json(&r);
            }
            let verb = if dry_run { "Would remove" } else { "Removed" };
            let archives = if r.archives_removed > 0 {
                format!(", {} archive(s) of the earlier format", r.archives_removed)
            } else {
                String::new()
            };
            println!(
                "{verb} {} snapshot(s), {} piece(s){archives}, {}; kept {}.",
                r.removed.len(),
                r.pieces_removed,
                human_bytes(r.bytes_freed),
                r.kept.len()
            );
            if let Some(why) = &r.pieces_left {
                println!("  Pieces were kept: {why}.");
            }
            for s in &r.removed {
                println!("  - {s}");
            }
            for s in &r.damaged {
                println!(
                    "  ! {s}: its manifest cannot be read, so it and everything it may refer to were kept"
                );
            }
            Ok(())
        })(),
    )
}
