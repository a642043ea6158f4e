//! Backing up a catalog stack with its saved settings: what "Back up now", the desktop's
//! scheduler and `lifeboat schedule run` share.

use std::path::Path;

use crate::backup::{self, prune, BackupError, BackupOptions, BackupReport, Keep};
use crate::catalog::{Catalog, CatalogError};
use crate::docker::BlockingEngine;
use crate::keys::{self, KeyError};
use crate::stack::StackError;
use crate::{CancelToken, LoadOptions, Progress};

/// Why a stack's backup could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The stack has no destination yet.
    #[error("no backup destination is chosen for this stack; choose one (an external drive or a NAS folder) first")]
    NoDestination,
    /// The catalog failed.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// The key could not be loaded.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The compose file could not be read.
    #[error(transparent)]
    Stack(#[from] StackError),
    /// The backup failed.
    #[error(transparent)]
    Backup(#[from] BackupError),
}

/// A finished backup of a catalog stack, with what retention removed.
#[derive(Debug, Clone)]
pub struct StackBackup {
    /// The backup.
    pub report: BackupReport,
    /// Snapshots removed by retention.
    pub pruned: Vec<String>,
    /// The post-backup hook failed: why ([`crate::around`] runs it).
    pub post_hook: Option<String>,
}

/// Backs up catalog stack `stack_id` with its saved settings (destination, mode, services
/// to stop), records the run in its history, then applies its retention. The identity
/// comes from `LIFEBOAT_IDENTITY` or the keyring.
///
/// # Errors
/// When there is no destination, key, or readable compose file, or the backup fails (the
/// failure is in the history too).
pub fn backup_stack(
    catalog: &std::sync::Arc<Catalog>,
    stack_id: i64,
    engine: Option<BlockingEngine>,
    progress: &dyn Progress,
    cancel: &CancelToken,
) -> Result<StackBackup, RunError> {
    let record = catalog.stack(stack_id)?;
    let settings = catalog.settings(stack_id)?;
    let dest = settings.destination().ok_or(RunError::NoDestination)?;
    let started = crate::time::unix_now();
    let clock = std::time::Instant::now();
    let prepared = (|| {
        let identity = keys::load(None)?.0;
        let project = crate::stack::load(Path::new(&record.dir), &LoadOptions::default())?;
        Ok::<_, RunError>((identity, project))
    })();
    let (identity, project) = match prepared {
        Ok(p) => p,
        Err(e) => {
            // A run that could not start is history too: the user sees why.
            let failed = Err(BackupError::Capture {
                component: "the stack".into(),
                reason: e.to_string(),
            });
            backup::record_run(catalog, stack_id, &dest, started, 0, &failed)?;
            return Err(e);
        }
    };
    if settings.destination.is_none() {
        let mut s = settings.clone();
        s.destination = Some(dest.display().to_string());
        catalog.save_settings(stack_id, &s)?;
    }
    let opts = BackupOptions {
        mode: settings.mode,
        stop: settings.stop_services.clone(),
        engine,
        catalog: Some(catalog.clone()),
        ..BackupOptions::new(&dest)
    };
    let result = backup::backup(&project, &identity, &opts, progress, cancel);
    backup::record_run(
        catalog,
        stack_id,
        &dest,
        started,
        clock.elapsed().as_millis() as u64,
        &result,
    )?;
    let report = result?;
    let pruned = if settings.keep == Keep::default() {
        Vec::new()
    } else {
        prune::prune(&dest, Some(&project.name), &settings.keep, false, &identity)
            .map(|r| r.removed)
            .unwrap_or_else(|e| {
                tracing::warn!("retention after the backup failed: {e}");
                Vec::new()
            })
    };
    Ok(StackBackup {
        report,
        pruned,
        post_hook: None,
    })
}
