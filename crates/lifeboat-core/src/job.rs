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
}
