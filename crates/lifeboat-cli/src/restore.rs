//! `lifeboat restore`: plan, confirm, apply; `--undo` puts the last restore's old content
//! back.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use lifeboat_core::docker::BlockingEngine;
use lifeboat_core::inspect::human_bytes;
use lifeboat_core::keys;
use lifeboat_core::restore::{self, Action, RestoreOptions, RestorePlan, RestoreReport};
use lifeboat_core::{CancelToken, Catalog};

use crate::progress;
use crate::verbs::{finish_json, print_json, Reported};

/// What `lifeboat restore` was asked to do.
pub struct RestoreArgs {
    pub snapshot: Option<String>,
    pub from: Option<PathBuf>,
    pub stack: Option<String>,
    pub only: Vec<String>,
    pub into: Option<PathBuf>,
    pub dry_run: bool,
    pub yes: bool,
    pub undo: bool,
    pub paths: bool,
    pub identity: Option<PathBuf>,
    pub json: bool,
    pub engine: Option<BlockingEngine>,
}

/// What `lifeboat restore SNAPSHOT --file PATH --into DIR` was asked to do.
pub struct OneFileArgs {
    pub snapshot: Option<String>,
    pub from: Option<PathBuf>,
    pub stack: Option<String>,
    pub file: String,
    pub into: PathBuf,
    pub identity: Option<PathBuf>,
    pub json: bool,
}

/// One file out of a snapshot into a folder (never over a file that is there).
pub fn one_file(args: OneFileArgs) -> ExitCode {
    let json = args.json;
    finish_json(
        json,
        (|| {
            let (Some(snapshot), Some(from)) = (args.snapshot.as_deref(), args.from.as_deref())
            else {
                return Err(
                    "say which snapshot and where it is: `lifeboat restore SNAPSHOT \
                     --from DEST --file PATH --into FOLDER` (`latest` for the newest)"
                        .into(),
                );
            };
            let identity = keys::load(args.identity.as_deref())?.0;
            let done = restore::one_file::restore_file(
                from,
                args.stack.as_deref(),
                snapshot,
                &args.file,
                &args.into,
                &identity,
            )?;
            if json {
                print_json(&done)?;
            } else if done.pieces_total > 0 {
                println!(
                    "Restored {} ({}) from {} into {}, reading {} of the {} pieces of {}.",
                    done.file,
                    human_bytes(done.bytes),
                    done.snapshot,
                    done.written,
                    done.pieces_read,
                    done.pieces_total,
                    done.component
                );
            } else {
                println!(
                    "Restored {} ({}) from {} into {}.",
                    done.file,
                    human_bytes(done.bytes),
                    done.snapshot,
                    done.written
                );
            }
            Ok(())
        })(),
    )
}

pub fn run(args: RestoreArgs) -> ExitCode {
    let json = args.json;
    finish_json(
        json,
        (|| {
            let catalog = Arc::new(Catalog::open_default()?);
            if args.undo {
                return undo(&args, &catalog);
            }
            let (Some(snapshot), Some(from)) = (args.snapshot.clone(), args.from.clone()) else {
                return Err(
                    "say which snapshot and where it is: `lifeboat restore SNAPSHOT --from DEST` \
                        (`latest` for the newest), or `lifeboat restore --undo`"
                        .into(),
                );
            };
            let identity = keys::load(args.identity.as_deref())?.0;
            if let Some(into) = &args.into {
                recover_at(into, args.engine.as_ref(), &identity);
            }
            let opts = RestoreOptions {
                from,
                snapshot,
                stack: args.stack.clone(),
                only: args.only.clone(),
                into: args.into.clone(),
                stack_dir: None,
                list_paths: args.paths,
                engine: args.engine.clone(),
                catalog: Some(catalog.clone()),
            };
            let mut plan = restore::plan(&opts, &identity)?;
            // A restore into this folder that a crash interrupted (recorded in the folder,
            // whoever ran it) is put back first, and the plan made again.
            let target = PathBuf::from(&plan.preview().target);
            if restore::interrupted_at(&target) {
                recover_at(&target, opts.engine.as_ref(), &identity);
                plan = restore::plan(&opts, &identity)?;
            }
            if !go_ahead(plan.preview(), &args)? {
                return Ok(());
            }
            let progress: Box<dyn lifeboat_core::Progress> =
                if !args.json && std::io::stderr().is_terminal() {
                    Box::new(progress::Terminal::new("Restoring"))
                } else {
                    Box::new(lifeboat_core::job::NoProgress)
                };
            // The stack's own restore hooks, when it restores into a folder this machine
            // backs up.
            let (hooks, ctx) = lifeboat_core::around::restore_hooks(
                &catalog,
                &target,
                &plan.preview().stack,
                args.from.as_deref(),
            );
            let (report, after) = lifeboat_core::around::guard_restore(&hooks, &ctx, || {
                restore::apply(plan, &identity, progress.as_ref(), &CancelToken::new())
            });
            progress::clear_line();
            if let Some(p) = &after.post_hook {
                eprintln!("lifeboat: warning: {p} (the restore itself is done)");
            }
            say_restored(&report?, args.json)
        })(),
    )
}

/// `--undo`: the folder's own record of its last restore (`--into DIR`, or the current
/// folder when it has one), else the catalog's. The key is needed only to load a database's
/// earlier content back.
fn undo(args: &RestoreArgs, catalog: &Arc<Catalog>) -> crate::verbs::Result<()> {
    let cwd = std::env::current_dir().unwrap_or_default();
    let at = args
        .into
        .clone()
        .or_else(|| restore::last_restore_at(&cwd).map(|_| cwd));
    let identity = keys::load(args.identity.as_deref()).ok().map(|(id, _)| id);
    let report = restore::undo(
        catalog,
        at.as_deref(),
        args.engine.as_ref(),
        identity.as_ref(),
    )?;
    if args.json {
        return print_json(&report);
    }
    println!(
        "Undid restore {} in {}: {} back as before.",
        report.restore,
        report.target,
        report.components.join(", ")
    );
    print_services(&report.services);
    Ok(())
}

/// Whether to apply the plan: not for `--dry-run` (which prints it), never with problems,
/// and with `--yes` or the person's answer in a terminal.
fn go_ahead(preview: &RestorePlan, args: &RestoreArgs) -> crate::verbs::Result<bool> {
    if args.dry_run {
        // The JSON says the problems itself (and exits 0, for scripts to read it).
        if args.json {
            print_json(preview)?;
            return Ok(false);
        }
        print_plan(preview);
        if !preview.problems.is_empty() {
            return Err("the restore cannot start (see above)".into());
        }
        return Ok(false);
    }
    if !preview.problems.is_empty() {
        if !args.json {
            print_plan(preview);
        }
        return Err(restore::RestoreError::Blocked(preview.problems.clone()).into());
    }
    if args.yes {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        return Err(
            "a restore replaces files: add --yes to run it without a terminal (look at \
             --dry-run first)"
                .into(),
        );
    }
    print_plan(preview);
    eprint!("Restore now? [y/N] ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    if matches!(line.trim(), "y" | "Y" | "yes") {
        Ok(true)
    } else {
        Err("nothing was restored".into())
    }
}

/// Prints what the restore did; fails when a service it stopped does not run again.
fn say_restored(report: &RestoreReport, json: bool) -> crate::verbs::Result<()> {
    let down: Vec<String> = report
        .services
        .iter()
        .filter(|s| !s.is_up())
        .map(|s| format!("{} is {}", s.service, s.state))
        .collect();
    if json {
        print_json(report)?;
    } else {
        println!(
            "Restored {} from snapshot {} into {} ({} files, {}) in {:.1} s",
            report.components.join(", "),
            report.snapshot,
            report.target,
            report.files,
            human_bytes(report.bytes),
            report.duration_ms as f64 / 1000.0
        );
        print_services(&report.services);
        for s in &report.next_steps {
            println!("  next: {s}");
        }
        println!(
            "  The replaced files are kept in {}; `lifeboat restore --undo` puts them back.",
            report.undo_folder
        );
    }
    if down.is_empty() {
        Ok(())
    } else {
        Err(Reported(format!(
            "the files are restored, but {}: see `docker compose logs`, or undo with `lifeboat \
             restore --undo`",
            down.join(", ")
        ))
        .into())
    }
}

fn print_services(services: &[restore::ServiceState]) {
    for s in services {
        println!(
            "  {:<20} {}{}",
            s.service,
            s.state,
            s.health
                .as_deref()
                .map(|h| format!(" ({h})"))
                .unwrap_or_default()
        );
    }
}

fn print_plan(p: &RestorePlan) {
    println!(
        "Restore plan: snapshot {} of {} (taken {}) into {}{}",
        p.snapshot,
        p.stack,
        lifeboat_core::time::minute(p.snapshot_started),
        p.target,
        if p.original { "" } else { " (another folder)" }
    );
    for c in &p.components {
        let what = match c.action {
            Action::ReplaceFiles => format!(
                "+{} added, ~{} changed, -{} removed, {} unchanged",
                c.added, c.changed, c.removed, c.unchanged
            ),
            Action::LoadDump => format!(
                "database loaded from its dump into the running {}",
                c.service.as_deref().unwrap_or("service")
            ),
            Action::ExtractDump => format!(
                "dump written as a file; +{} added, ~{} changed, -{} removed",
                c.added, c.changed, c.removed
            ),
        };
        println!("  {:<24} {:>10}  {what}", c.name, human_bytes(c.bytes));
        for path in &c.paths {
            let mark = match path.change.as_str() {
                "added" => '+',
                "removed" => '-',
                _ => '~',
            };
            println!("      {mark} {}", path.path);
        }
    }
    if p.services_to_stop.is_empty() {
        println!("  No service is stopped.");
    } else {
        println!(
            "  Stopped during the restore, in this order: {}",
            p.services_to_stop.join(", ")
        );
    }
    println!(
        "  Needs {} free on the target's disk ({} free).",
        human_bytes(p.free_bytes_needed),
        human_bytes(p.free_bytes_available)
    );
    for n in &p.notes {
        println!("  note: {n}");
    }
    for pr in &p.problems {
        println!("  problem: {pr}");
    }
}

/// Finishes a restore into `target` a crash interrupted, as the folder records it.
pub fn recover_at(
    target: &Path,
    engine: Option<&BlockingEngine>,
    identity: &age::x25519::Identity,
) {
    for line in restore::recover_at(target, engine, Some(identity)) {
        eprintln!("lifeboat: {line}");
    }
}
