//! The one error type of the IPC boundary: `{ code, message }`, with `code` from a closed
//! set that the UI branches on (mirrored in TypeScript), and `message` a sentence to show.

use lifeboat_core::backup::BackupError;
use lifeboat_core::catalog::CatalogError;
use lifeboat_core::inspect::{InspectError, InspectStackError};
use lifeboat_core::keys::KeyError;
use lifeboat_core::restore::RestoreError;
use lifeboat_core::stack::StackError;
use serde::Serialize;
use ts_rs::TS;

/// What kind of failure a command met.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The folder has no compose file.
    NoComposeFile,
    /// A compose or env file cannot be read as such.
    InvalidStack,
    /// A file or folder could not be read.
    Unreadable,
    /// The stack id is not in the catalog.
    UnknownStack,
    /// The user cancelled the job.
    Cancelled,
    /// The catalog failed.
    Catalog,
    /// No backup destination is chosen.
    NoDestination,
    /// The destination folder is not there (drive unplugged).
    DestinationMissing,
    /// No backup key exists yet.
    NoKey,
    /// The system keyring cannot be used.
    Keyring,
    /// The recovery passphrase is too short.
    WeakPassphrase,
    /// The passphrase did not open the recovery file.
    WrongPassphrase,
    /// Another backup of the stack is running.
    Busy,
    /// The backup failed.
    BackupFailed,
    /// The restore could not be planned or failed (and was rolled back).
    RestoreFailed,
    /// What a restore was previewed on changed (or it was not previewed with these
    /// choices): nothing was changed, and it must be previewed again.
    Outdated,
    /// A notification channel could not be reached.
    NotSent,
    /// A schedule the user typed is not valid.
    BadSchedule,
    /// Anything else.
    Internal,
}

/// An error as the web UI receives it.
#[derive(Debug, Clone, Serialize, TS)]
pub struct IpcError {
    /// The kind of failure.
    pub code: ErrorCode,
    /// What failed and what to do, as a sentence.
    pub message: String,
}

impl IpcError {
    /// An error whose message is written as a sentence: the core's reasons ("the restore
    /// cannot start: …") begin with a capital and end with a full stop here.
    pub(crate) fn new(code: ErrorCode, message: impl std::fmt::Display) -> Self {
        Self {
            code,
            message: sentence(&message.to_string()),
        }
    }
}

/// `text` with a capital first letter and a full stop when it ends without one.
fn sentence(text: &str) -> String {
    let text = text.trim();
    let mut chars = text.chars();
    let mut out: String = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => return String::new(),
    };
    if !out.ends_with(['.', '!', '?', ')', '`']) {
        out.push('.');
    }
    out
}

impl From<StackError> for IpcError {
    fn from(e: StackError) -> Self {
        let code = match &e {
            StackError::NoComposeFile { .. } | StackError::NotAFolder { .. } => {
                ErrorCode::NoComposeFile
            }
            StackError::Read { .. } => ErrorCode::Unreadable,
            _ => ErrorCode::InvalidStack,
        };
        Self::new(code, e)
    }
}

impl From<CatalogError> for IpcError {
    fn from(e: CatalogError) -> Self {
        let code = match &e {
            CatalogError::UnknownStack { .. } => ErrorCode::UnknownStack,
            _ => ErrorCode::Catalog,
        };
        Self::new(code, e)
    }
}

impl From<InspectStackError> for IpcError {
    fn from(e: InspectStackError) -> Self {
        match e {
            InspectStackError::Stack(e) => e.into(),
            InspectStackError::Catalog(e) => e.into(),
            InspectStackError::Inspect(InspectError::Cancelled) => {
                Self::new(ErrorCode::Cancelled, "The inspection was cancelled.")
            }
            other => Self::new(ErrorCode::Internal, other),
        }
    }
}

impl From<BackupError> for IpcError {
    fn from(e: BackupError) -> Self {
        let code = match &e {
            BackupError::Cancelled => ErrorCode::Cancelled,
            BackupError::DestinationMissing(_) => ErrorCode::DestinationMissing,
            BackupError::Busy(_) | BackupError::StackBusy(_) => ErrorCode::Busy,
            _ => ErrorCode::BackupFailed,
        };
        Self::new(code, e)
    }
}

impl From<KeyError> for IpcError {
    fn from(e: KeyError) -> Self {
        let code = match &e {
            KeyError::Missing => ErrorCode::NoKey,
            KeyError::Keyring(_) => ErrorCode::Keyring,
            KeyError::WrongPassphrase => ErrorCode::WrongPassphrase,
            KeyError::WeakPassphrase { .. } => ErrorCode::WeakPassphrase,
            _ => ErrorCode::Internal,
        };
        let message = match &e {
            KeyError::WeakPassphrase { min } => {
                format!("Choose a recovery passphrase of at least {min} characters.")
            }
            KeyError::Missing => {
                "There is no backup key yet: create one (Lifeboat asks for a recovery passphrase)."
                    .to_owned()
            }
            // The core's sentence offers the command line's `--identity FILE` instead.
            KeyError::Keyring(why) => {
                format!("The system keyring is not available ({why}); unlock it and try again.")
            }
            _ => e.to_string(),
        };
        Self::new(code, message)
    }
}

impl From<RestoreError> for IpcError {
    fn from(e: RestoreError) -> Self {
        let code = match &e {
            RestoreError::Cancelled => ErrorCode::Cancelled,
            RestoreError::Busy(_) => ErrorCode::Busy,
            RestoreError::Outdated(_) => ErrorCode::Outdated,
            _ => ErrorCode::RestoreFailed,
        };
        Self::new(code, e)
    }
}

impl From<lifeboat_core::restore::drive::DriveError> for IpcError {
    fn from(e: lifeboat_core::restore::drive::DriveError) -> Self {
        use lifeboat_core::restore::drive::DriveError;
        match e {
            DriveError::NoDrive => Self::new(ErrorCode::DestinationMissing, e),
            DriveError::Key(e) => e.into(),
            DriveError::Restore(e) => e.into(),
            DriveError::Stack(e) => e.into(),
            DriveError::Catalog(e) => e.into(),
            other => Self::new(ErrorCode::RestoreFailed, other),
        }
    }
}

impl From<lifeboat_core::backup::RunError> for IpcError {
    fn from(e: lifeboat_core::backup::RunError) -> Self {
        use lifeboat_core::backup::RunError;
        match e {
            RunError::NoDestination => IpcError::new(
                ErrorCode::NoDestination,
                "Choose where this stack's backups go first (an external drive or a NAS folder).",
            ),
            RunError::Catalog(e) => e.into(),
            RunError::Key(e) => e.into(),
            RunError::Stack(e) => e.into(),
            RunError::Backup(e) => e.into(),
            other => IpcError::new(ErrorCode::Internal, other),
        }
    }
}

impl From<lifeboat_core::drill::DrillError> for IpcError {
    fn from(e: lifeboat_core::drill::DrillError) -> Self {
        use lifeboat_core::drill::DrillError;
        match e {
            DrillError::Cancelled => IpcError::new(ErrorCode::Cancelled, e),
            DrillError::Restore(e) => e.into(),
            other => IpcError::new(ErrorCode::RestoreFailed, other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::sentence;

    #[test]
    fn messages_are_sentences() {
        assert_eq!(
            sentence("the restore cannot start: no room"),
            "The restore cannot start: no room."
        );
        assert_eq!(sentence("Already one."), "Already one.");
        assert_eq!(
            sentence("run `docker compose up -d`"),
            "Run `docker compose up -d`"
        );
        assert_eq!(sentence("écrit"), "Écrit.");
        assert_eq!(sentence(""), "");
    }
}
