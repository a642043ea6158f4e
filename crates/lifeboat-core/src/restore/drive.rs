//! Restoring from a backup drive on a new machine: choose the drive, unlock it with the
//! recovery passphrase (the key becomes this computer's when it has none), pick a stack and
//! a point in time, restore the whole stack into a new folder, which then becomes a stack
//! of this Lifeboat like any other (through [`settings::add_stack`]).
//!
//! [`Drive`] is what a shell keeps between those steps; [`Drive::survey`] says how far the
//! key opens it. Paths come from the shell (a folder dialog, the defaults), never from a
//! web page.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use age::secrecy::SecretString;
use serde::Serialize;
use ts_rs::TS;

use super::{Plan, RestoreError, RestoreOptions};
use crate::backup::verify::{self, SnapshotSummary};
use crate::catalog::{Catalog, CatalogError, StackRecord};
use crate::docker::BlockingEngine;
use crate::keys::{self, Adopted, KeyError, RECOVERY_FILE};
use crate::settings;
use crate::stack::{LoadOptions, StackError};

/// The drive being restored from, and what this session knows about it.
#[derive(Clone, Default)]
pub struct Drive {
    path: Option<PathBuf>,
    /// The key recovered from the drive, when this computer keeps another one.
    identity: Option<age::x25519::Identity>,
    /// The folder the stack's new folder goes into.
    parent: Option<PathBuf>,
}

impl std::fmt::Debug for Drive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Drive")
            .field("path", &self.path)
            .field("session_key", &self.identity.is_some())
            .field("parent", &self.parent)
            .finish()
    }
}

/// One stack on the drive.
#[derive(Debug, Clone, Serialize, TS)]
pub struct DriveStack {
    /// Its name.
    pub name: String,
    /// Its snapshots, newest first.
    pub snapshots: Vec<SnapshotSummary>,
}

/// How far the key opens a backup drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum DriveState {
    /// No folder chosen.
    None,
    /// No Lifeboat backups there.
    Empty,
    /// The recovery passphrase is needed.
    Locked,
    /// The key opens its backups.
    Open,
}

/// What the drive holds, as far as the key opens it.
#[derive(Debug, Clone, Serialize, TS)]
pub struct DriveInfo {
    /// The folder, once chosen.
    pub path: Option<String>,
    /// It holds a recovery file.
    pub has_recovery: bool,
    /// How far the key opens it.
    pub state: DriveState,
    /// The stacks, when open.
    pub stacks: Vec<DriveStack>,
    /// The folder the restored stack's folder goes into.
    pub parent: Option<String>,
}

/// Why a step of restoring from a drive cannot be taken.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DriveError {
    /// No drive was chosen.
    #[error("choose the folder of the backup drive first")]
    NoDrive,
    /// The drive holds no stack of that name.
    #[error("the drive has no stack named {0}")]
    NoStack(String),
    /// There is no folder to put the stack's folder in.
    #[error("choose where the stack's folder goes")]
    NoParent,
    /// The stack's new folder exists and holds something.
    #[error("{} already exists and is not empty; choose another place for the stack's folder", .0.display())]
    NotEmpty(PathBuf),
    /// The drive has no recovery file to unlock it with.
    #[error("{} holds no {RECOVERY_FILE}: unlock it with the backup key file instead", .0.display())]
    NoRecoveryFile(PathBuf),
    /// The key: missing, wrong passphrase, keyring trouble.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The restore.
    #[error(transparent)]
    Restore(#[from] RestoreError),
    /// The restored folder is not a stack Lifeboat can read.
    #[error(transparent)]
    Stack(#[from] StackError),
    /// Adding the stack to the catalog.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
}

impl Drive {
    /// The default destination (`LIFEBOAT_DESTINATION`), when it is a folder.
    #[must_use]
    pub fn default_destination() -> Self {
        Self {
            path: std::env::var_os("LIFEBOAT_DESTINATION")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .filter(|p| p.is_dir()),
            ..Self::default()
        }
    }

    /// Whether a folder was chosen.
    pub fn is_chosen(&self) -> bool {
        self.path.is_some()
    }

    /// Another drive: what was unlocked for the previous one is forgotten.
    pub fn choose(&mut self, path: PathBuf) {
        self.path = Some(path);
        self.identity = None;
    }

    /// Where the restored stack's folder goes.
    pub fn put_stacks_in(&mut self, parent: PathBuf) {
        self.parent = Some(parent);
    }

    fn parent(&self) -> Option<PathBuf> {
        self.parent.clone().or_else(dirs::home_dir)
    }

    /// The identity that opens the drive: the recovered one, else this computer's.
    fn identity(&self) -> Option<age::x25519::Identity> {
        self.identity
            .clone()
            .or_else(|| keys::load(None).ok().map(|(i, _)| i))
    }

    /// What the drive holds, as far as the key opens it.
    pub fn survey(&self) -> DriveInfo {
        let parent = self.parent().map(|p| p.display().to_string());
        let Some(path) = &self.path else {
            return DriveInfo {
                path: None,
                has_recovery: false,
                state: DriveState::None,
                stacks: Vec::new(),
                parent,
            };
        };
        let names = verify::stacks_in(path);
        let listed = || -> Option<Vec<DriveStack>> {
            let id = self.identity()?;
            names
                .iter()
                .map(|n| {
                    let mut snapshots = verify::list(path, Some(n), &id).ok()?;
                    snapshots.reverse();
                    Some(DriveStack {
                        name: n.clone(),
                        snapshots,
                    })
                })
                .collect()
        };
        let (state, stacks) = if names.is_empty() {
            (DriveState::Empty, Vec::new())
        } else {
            match listed() {
                Some(stacks) => (DriveState::Open, stacks),
                None => (DriveState::Locked, Vec::new()),
            }
        };
        DriveInfo {
            path: Some(path.display().to_string()),
            has_recovery: path.join(RECOVERY_FILE).is_file(),
            state,
            stacks,
            parent,
        }
    }

    /// Opens the drive with its recovery passphrase. The key becomes this computer's when
    /// it has none; otherwise (another key here, or a keyring that cannot be read) it is
    /// kept for this session only.
    ///
    /// # Errors
    /// No drive, no recovery file, or [`KeyError::WrongPassphrase`].
    pub fn unlock(&mut self, passphrase: SecretString) -> Result<(), DriveError> {
        let path = self.path.as_ref().ok_or(DriveError::NoDrive)?;
        let file = path.join(RECOVERY_FILE);
        if !file.is_file() {
            return Err(DriveError::NoRecoveryFile(path.clone()));
        }
        let recovered = keys::read_recovery(&file, passphrase)?;
        match keys::adopt(recovered.clone(), None) {
            Ok(Adopted::Stored | Adopted::AlreadyHere) => self.identity = None,
            Ok(Adopted::Other(id)) => self.identity = Some(id),
            Err(e) => {
                tracing::warn!("the recovered key is kept for this session only: {e}");
                self.identity = Some(recovered);
            }
        }
        Ok(())
    }

    /// Plans the restore of the whole of `stack`'s `snapshot` into a new folder named after
    /// the stack; [`Drive::finish`] applies it.
    ///
    /// # Errors
    /// No drive, no such stack, a folder that is taken, no key, or the plan's own errors.
    pub fn plan(
        &self,
        stack: &str,
        snapshot: &str,
        engine: Option<BlockingEngine>,
        catalog: &Arc<Catalog>,
    ) -> Result<DrivePlan, DriveError> {
        let from = self.path.clone().ok_or(DriveError::NoDrive)?;
        if !verify::stacks_in(&from).iter().any(|s| s == stack) {
            return Err(DriveError::NoStack(stack.to_owned()));
        }
        let target = self.parent().ok_or(DriveError::NoParent)?.join(stack);
        if std::fs::read_dir(&target).is_ok_and(|mut d| d.next().is_some()) {
            return Err(DriveError::NotEmpty(target));
        }
        let identity = self.identity().ok_or(KeyError::Missing)?;
        let opts = RestoreOptions {
            from,
            snapshot: snapshot.to_owned(),
            stack: Some(stack.to_owned()),
            into: Some(target.clone()),
            engine,
            catalog: Some(catalog.clone()),
            ..RestoreOptions::default()
        };
        let plan = super::plan(&opts, &identity)?;
        Ok(DrivePlan {
            plan,
            identity,
            target,
        })
    }
}

/// A planned restore from a drive into a new stack folder.
pub struct DrivePlan {
    plan: Plan,
    identity: age::x25519::Identity,
    target: PathBuf,
}

impl std::fmt::Debug for DrivePlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DrivePlan")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

impl DrivePlan {
    /// The plan, as the preview shows it.
    pub fn preview(&self) -> &super::RestorePlan {
        self.plan.preview()
    }

    /// Restores, then adds the new folder to the catalog as a stack.
    ///
    /// # Errors
    /// The restore's errors; the restored folder not reading as a stack; the catalog.
    pub fn finish(
        self,
        catalog: &Catalog,
        progress: &dyn crate::job::Progress,
        cancel: &crate::CancelToken,
    ) -> Result<(super::RestoreReport, StackRecord), DriveError> {
        let report = super::apply(self.plan, &self.identity, progress, cancel)?;
        let project = crate::stack::load(Path::new(&self.target), &LoadOptions::default())?;
        let stack = settings::add_stack(catalog, &project)?;
        Ok((report, stack))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_drive_says_how_far_it_opens_before_anything_is_restored() {
        assert_eq!(Drive::default().survey().state, DriveState::None);
        let t = tempfile::tempdir().unwrap();
        let mut d = Drive::default();
        d.choose(t.path().to_owned());
        let info = d.survey();
        assert_eq!(info.state, DriveState::Empty);
        assert!(!info.has_recovery);
        assert!(matches!(
            d.unlock(SecretString::from("correct horse battery")),
            Err(DriveError::NoRecoveryFile(_))
        ));
        d.put_stacks_in(t.path().join("stacks"));
        assert_eq!(
            d.survey().parent.as_deref(),
            Some(t.path().join("stacks").display().to_string().as_str())
        );
        let catalog = Arc::new(Catalog::open(&t.path().join("catalog.db")).unwrap());
        assert!(matches!(
            d.plan("web", "latest", None, &catalog),
            Err(DriveError::NoStack(_))
        ));
        assert!(matches!(
            Drive::default().plan("web", "latest", None, &catalog),
            Err(DriveError::NoDrive)
        ));
    }
}
