//! Long jobs report progress through a small trait and stop when their [`CancelToken`] is
//! cancelled; the shells (CLI, desktop) decide how progress is shown.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Where a long job reports how far it is. Implementations must be cheap: jobs call
/// [`Progress::advance`] often.
pub trait Progress: Send + Sync {
    /// A new phase began, such as scanning one mount (`label` is shown to the user).
    fn phase(&self, label: &str);
    /// `files` more files and `bytes` more bytes were processed in the current phase.
    fn advance(&self, files: u64, bytes: u64);
    /// The job expects to process about `bytes` bytes in all (for a progress bar).
    fn estimate(&self, _bytes: u64) {}
    /// Services were stopped for the job (dependents first).
    fn services_stopped(&self, _services: &[String]) {}
    /// The services stopped for the job run again.
    fn services_started(&self) {}
}

/// A [`Progress`] that shows nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn phase(&self, _label: &str) {}
    fn advance(&self, _files: u64, _bytes: u64) {}
}

/// Cancels a running job. Cloning shares the flag.
#[derive(Debug, Default, Clone)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// A token that is not cancelled.
    pub fn new() -> Self {
        Self::default()
    }
    /// Asks the job to stop at its next check.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
    /// Whether [`CancelToken::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
    /// Whether both are clones of one token.
    pub fn same_as(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// What a long job tells the window while it runs, in order: `started`, then any number of
/// `phase` and `progress`, then `finished` or `failed`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, ts_rs::TS)]
#[serde(tag = "event", content = "data", rename_all = "camelCase")]
pub enum JobEvent {
    /// The job has an id; `cancel_job` takes it.
    Started {
        /// The job's id.
        #[ts(type = "number")]
        job_id: u64,
    },
    /// A new phase began.
    Phase {
        /// What is being worked on.
        label: String,
    },
    /// Totals so far.
    Progress {
        /// Files done.
        #[ts(type = "number")]
        files: u64,
        /// Bytes done.
        #[ts(type = "number")]
        bytes: u64,
    },
    /// About how many bytes the job will process (from the last inspection).
    Estimate {
        /// Bytes.
        #[ts(type = "number")]
        bytes: u64,
    },
    /// Services were stopped for the job.
    ServicesStopped {
        /// Their names, in the order they stopped.
        services: Vec<String>,
    },
    /// The stopped services run again.
    ServicesStarted,
    /// The job ended well.
    Finished,
    /// The job ended with an error.
    Failed {
        /// The error, as a sentence.
        message: String,
    },
}

/// One backup, restore or undo of a stack folder at a time, across processes and users
/// (the desktop's scheduler, `lifeboat schedule run`, a `lifeboat restore` in a terminal):
/// an exclusive lock (`flock`) on the folder itself, which writes nothing in it. Released
/// when dropped, and by the system when the process dies.
#[derive(Debug)]
pub struct Claim {
    _folder: std::fs::File,
}

impl Claim {
    /// Claims the stack folder `dir`; `Ok(None)` when another job holds it. On a
    /// filesystem without locks (some network and FUSE mounts) the claim holds within
    /// nothing but this call, and a warning says so: a backup is never refused for it.
    ///
    /// # Errors
    /// When the folder cannot be opened.
    pub fn stack(dir: &std::path::Path) -> std::io::Result<Option<Self>> {
        let folder = std::fs::File::open(dir)?;
        match folder.try_lock() {
            Ok(()) => Ok(Some(Self { _folder: folder })),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => {
                tracing::warn!(folder = %dir.display(), error = %e, "the folder cannot be locked; jobs of other processes are not kept out");
                Ok(Some(Self { _folder: folder }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Claim;

    #[test]
    fn a_stack_folder_is_claimed_by_one_job_at_a_time_and_nothing_is_written_in_it() {
        let t = tempfile::tempdir().unwrap();
        let first = Claim::stack(t.path()).unwrap().expect("free");
        assert!(Claim::stack(t.path()).unwrap().is_none(), "claimed twice");
        drop(first);
        assert!(Claim::stack(t.path()).unwrap().is_some(), "not released");
        assert_eq!(std::fs::read_dir(t.path()).unwrap().count(), 0);
        assert!(Claim::stack(&t.path().join("gone")).is_err());
    }
}
