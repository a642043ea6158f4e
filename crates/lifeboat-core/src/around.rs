//! What runs around a backup: the stack's hooks ([`crate::hooks`]) and its health-check
//! pings ([`crate::notify::ping`]). In order: the start ping, the pre-backup hook (its
//! failure fails the backup, with its output, before anything is read), the backup, the
//! post-backup hook (always: after success, failure or cancel; its failure is reported and
//! never undoes the backup), then the success or failure ping with the reason. Every way a
//! backup is started goes through here: the CLI's `backup`, the schedulers and the
//! desktop's "Back up now".

use std::path::Path;

use crate::backup::{self, BackupError, BackupReport, RunError, StackBackup};
use crate::catalog::{Catalog, StackRecord};
use crate::docker::BlockingEngine;
use crate::hooks::{self, HookContext, HookEvent, Hooks, RunResult};
use crate::notify::{self, PingEvent};
use crate::restore::{RestoreError, RestoreReport};
use crate::{CancelToken, Progress};

/// How a guarded run ended, beside its own result: the post-hook's failure, as a sentence.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct After {
    /// The post-hook failed (or could not start): why, with its output.
    pub post_hook: Option<String>,
}

/// Runs the post-hook `event` for a run that `ended` so; its failure is logged and kept.
fn post_hook(hooks: &Hooks, event: HookEvent, ctx: &HookContext, ended: RunResult) -> After {
    let mut post = ctx.clone();
    post.result = Some(ended);
    let after = After {
        post_hook: hooks::run(hooks, event, &post).err().map(|e| e.to_string()),
    };
    if let Some(p) = &after.post_hook {
        tracing::warn!("{}: {p}", ctx.stack);
    }
    after
}

/// Runs `run` between the stack's pre- and post-backup hooks and its pings. `catalog` is
/// where the ping channels are (none: no pings). Returns the run's result, a pre-hook's
/// failure as [`BackupError::Hook`], and what the post-hook said.
pub fn guard_backup(
    catalog: Option<&Catalog>,
    hooks: &Hooks,
    ctx: &HookContext,
    run: impl FnOnce() -> Result<BackupReport, BackupError>,
) -> (Result<BackupReport, BackupError>, After) {
    let ping = |event: PingEvent| {
        if let Some(c) = catalog {
            notify::ping(c, &ctx.stack, &event);
        }
    };
    ping(PingEvent::Start);
    let result = match hooks::run(hooks, HookEvent::PreBackup, ctx) {
        Ok(_) => run(),
        Err(e) => Err(BackupError::Hook(e.to_string())),
    };
    let ended = match &result {
        Ok(r) => RunResult::Ok {
            snapshot: r.snapshot.clone(),
        },
        Err(BackupError::Cancelled) => RunResult::Cancelled,
        Err(e) => RunResult::Failed(e.to_string()),
    };
    let after = post_hook(hooks, HookEvent::PostBackup, ctx, ended);
    ping(match &result {
        Ok(_) => PingEvent::Success,
        Err(e) => PingEvent::Fail(e.to_string()),
    });
    (result, after)
}

/// [`backup::backup_stack`] with the stack's hooks and pings: "Back up now" and the
/// schedulers. A pre-hook's failure is in the stack's history like any failed run.
///
/// # Errors
/// As [`backup::backup_stack`], and [`BackupError::Hook`] when the pre-hook fails.
pub fn backup_stack(
    catalog: &std::sync::Arc<Catalog>,
    stack_id: i64,
    engine: Option<BlockingEngine>,
    progress: &dyn Progress,
    cancel: &CancelToken,
) -> Result<StackBackup, RunError> {
    let record = catalog.stack(stack_id)?;
    let settings = catalog.settings(stack_id)?;
    let dest = settings.destination();
    let ctx = hooks::context(&record.name, Path::new(&record.dir), dest.as_deref());
    let mut stack_backup = None;
    let mut run_error = None;
    let started = crate::time::unix_now();
    let (result, after) = guard_backup(Some(catalog), &settings.hooks, &ctx, || {
        match backup::backup_stack(catalog, stack_id, engine, progress, cancel) {
            Ok(done) => {
                let report = done.report.clone();
                stack_backup = Some(done);
                Ok(report)
            }
            Err(RunError::Backup(e)) => Err(e),
            Err(e) => {
                // Not a backup error (no destination, key, compose file): kept whole for
                // the caller; the hooks and pings hear it as a failure.
                let said = e.to_string();
                run_error = Some(e);
                Err(BackupError::Hook(said))
            }
        }
    });
    if let Some(e) = run_error {
        return Err(e);
    }
    match result {
        Ok(_) => {
            let mut done = stack_backup.expect("a successful run keeps its StackBackup");
            done.post_hook = after.post_hook;
            Ok(done)
        }
        Err(e) => {
            if let (BackupError::Hook(said), None, Some(d)) = (&e, &stack_backup, &dest) {
                // The pre-hook stopped it before the backup recorded anything.
                let failed = Err(BackupError::Hook(said.clone()));
                backup::record_run(catalog, stack_id, d, started, 0, &failed)?;
            }
            Err(RunError::Backup(e))
        }
    }
}

/// The catalog stack whose folder is `dir`, with its hooks (a restore into a folder no stack
/// of this machine has, as on a new computer, has none).
pub fn stack_at(catalog: &Catalog, dir: &Path) -> Option<(StackRecord, Hooks)> {
    let want = dir.canonicalize().unwrap_or_else(|_| dir.to_owned());
    let stack = catalog.stacks().ok()?.into_iter().find(|s| {
        let d = Path::new(&s.dir);
        d.canonicalize().unwrap_or_else(|_| d.to_owned()) == want
    })?;
    let hooks = catalog.settings(stack.id).ok()?.hooks;
    Some((stack, hooks))
}

/// The hooks and hook context of a restore into `target`: those of the catalog stack whose
/// folder it is, under its name; none, under `fallback` (the snapshot's stack), for a folder
/// no stack of this machine has (a new computer).
pub fn restore_hooks(
    catalog: &Catalog,
    target: &Path,
    fallback: &str,
    from: Option<&Path>,
) -> (Hooks, HookContext) {
    let (hooks, name) = stack_at(catalog, target)
        .map(|(s, h)| (h, s.name))
        .unwrap_or_else(|| (Hooks::default(), fallback.to_owned()));
    (hooks, hooks::context(&name, target, from))
}

/// Runs a restore between the stack's pre- and post-restore hooks: a failing pre-hook
/// stops it before anything changes ([`RestoreError::Hook`]); the post-hook always runs
/// (after success, failure or cancel) and its failure is reported in [`After`].
pub fn guard_restore(
    hooks: &Hooks,
    ctx: &HookContext,
    run: impl FnOnce() -> Result<RestoreReport, RestoreError>,
) -> (Result<RestoreReport, RestoreError>, After) {
    let result = match hooks::run(hooks, HookEvent::PreRestore, ctx) {
        Ok(_) => run(),
        Err(e) => Err(RestoreError::Hook(e.to_string())),
    };
    let ended = match &result {
        Ok(r) => RunResult::Ok {
            snapshot: r.snapshot.clone(),
        },
        Err(RestoreError::Cancelled) => RunResult::Cancelled,
        Err(e) => RunResult::Failed(e.to_string()),
    };
    let after = post_hook(hooks, HookEvent::PostRestore, ctx, ended);
    (result, after)
}
