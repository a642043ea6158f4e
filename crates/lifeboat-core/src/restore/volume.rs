//! Named volumes this user cannot write directly (a docker-group user: Docker's volume
//! folders belong to root; Docker Desktop: they are inside its VM), replaced through a
//! short-lived helper container of the service's own image that mounts the volume.
//!
//! Replacing one saves its current content first (a tar, through the engine's archive API)
//! as the undo point, empties it (the helper's one command), then writes the snapshot's
//! entries with their numeric owners (the archive API again). Putting it back empties it and
//! writes the saved tar. Both are safe to repeat, so a restore killed between any two steps
//! is rolled back by doing it again.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::journal::ThroughEngine;
use crate::archive::ArchiveError;
use crate::backup::source::Source;
use crate::docker::{BlockingEngine, DockerError, HELPER_MOUNT};

/// Why writing a volume or a folder's owners through the Docker engine failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineWriteError {
    /// The volume can only be written through Docker, and no engine answers.
    #[error("the volume {volume} can only be written through Docker, which cannot be reached")]
    NoEngine {
        /// The volume.
        volume: String,
    },
    /// The helper container that mounts the volume could not be made.
    #[error("reaching the volume {volume} through Docker failed: {source}")]
    Helper {
        /// The volume.
        volume: String,
        /// What the engine said.
        #[source]
        source: DockerError,
    },
    /// The helper could not run its command: nothing in the volume changed.
    #[error(
        "the volume {volume} cannot be emptied through a container of {image}: {source} (the \
         image needs a shell, `sh`); nothing in it was changed"
    )]
    NoShell {
        /// The volume.
        volume: String,
        /// The service's image the helper runs.
        image: String,
        /// What the engine said.
        #[source]
        source: DockerError,
    },
    /// Emptying the volume ended with an exit code other than 0.
    #[error(
        "emptying the volume {volume} through a container of {image} failed (exit code {code})"
    )]
    EmptyExit {
        /// The volume.
        volume: String,
        /// The service's image the helper runs.
        image: String,
        /// The helper's exit code.
        code: i64,
    },
    /// Waiting for the volume to be emptied failed.
    #[error("emptying the volume {volume} failed: {source}")]
    Empty {
        /// The volume.
        volume: String,
        /// What the engine said.
        #[source]
        source: DockerError,
    },
    /// What the volume held could not be saved as the undo point.
    #[error("saving what the volume {volume} holds failed: {source}")]
    Save {
        /// The volume.
        volume: String,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// The saved undo point could not be read.
    #[error("{}: {source}", path.display())]
    Read {
        /// The saved tar.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// Writing the saved content back failed.
    #[error("putting the volume {volume} back failed: {source}")]
    PutBack {
        /// The volume.
        volume: String,
        /// What the engine said.
        #[source]
        source: DockerError,
    },
    /// The folder has no name to write through its parent.
    #[error("{} is not a folder Lifeboat can write through", mount.display())]
    NotAFolder {
        /// The folder in the container.
        mount: PathBuf,
    },
    /// The snapshot's archive could not be opened.
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    /// Writing the entries with their owners through the engine failed.
    #[error("giving {} back to its owners through Docker failed: {source}", mount.display())]
    Owners {
        /// The folder in the container.
        mount: PathBuf,
        /// What the engine said.
        #[source]
        source: DockerError,
    },
}

/// Empties the mounted volume (dot files included); `rm -f` ignores patterns that match
/// nothing, so the exit code is that of real failures only.
const EMPTY: &str = "rm -rf /lifeboat-volume/..?* /lifeboat-volume/.[!.]* /lifeboat-volume/*";

/// How long emptying a volume may take.
const EMPTY_LIMIT: Duration = Duration::from_secs(30 * 60);

/// A helper container, removed when dropped.
struct Helper<'a> {
    engine: &'a BlockingEngine,
    id: String,
}

impl<'a> Helper<'a> {
    fn create(engine: &'a BlockingEngine, t: &ThroughEngine) -> Result<Self, EngineWriteError> {
        let id = engine
            .create_helper(&t.image, &t.volume, EMPTY)
            .map_err(|source| EngineWriteError::Helper {
                volume: t.volume.clone(),
                source,
            })?;
        Ok(Self { engine, id })
    }

    /// Empties the volume. [`EngineWriteError::NoShell`] means the command never ran (an
    /// image without `sh`), so nothing in the volume changed.
    fn empty(&self, t: &ThroughEngine) -> Result<(), EngineWriteError> {
        if let Err(source) = self.engine.start(&self.id) {
            return Err(EngineWriteError::NoShell {
                volume: t.volume.clone(),
                image: t.image.clone(),
                source,
            });
        }
        match self.engine.wait_exit(&self.id, EMPTY_LIMIT) {
            Ok(0) => Ok(()),
            Ok(code) => Err(EngineWriteError::EmptyExit {
                volume: t.volume.clone(),
                image: t.image.clone(),
                code,
            }),
            Err(source) => Err(EngineWriteError::Empty {
                volume: t.volume.clone(),
                source,
            }),
        }
    }
}

impl Drop for Helper<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.engine.remove_container(&self.id) {
            tracing::warn!(container = %self.id, error = %e, "could not remove a helper container");
        }
    }
}

/// Replaces volume `t` with `source`'s entries under `prefix`, keeping what it
/// held as the tar `aside` first.
pub(super) fn replace(
    engine: &BlockingEngine,
    t: &ThroughEngine,
    aside: &Path,
    source: &Source,
    identity: &age::x25519::Identity,
    prefix: &str,
) -> Result<(), EngineWriteError> {
    let helper = Helper::create(engine, t)?;
    if !aside.is_file() {
        save(engine, &helper.id, aside).map_err(|source| EngineWriteError::Save {
            volume: t.volume.clone(),
            source,
        })?;
    }
    if let Err(e) = helper.empty(t) {
        // Nothing was changed: there is nothing to put back, so no undo point either.
        if matches!(e, EngineWriteError::NoShell { .. }) {
            let _ = std::fs::remove_file(aside);
        }
        return Err(e);
    }
    super::write_owners(engine, &helper.id, HELPER_MOUNT, source, identity, prefix)
}

/// Puts back what [`replace`] saved in `aside`; nothing to do when it saved nothing.
pub(super) fn put_back(
    engine: &BlockingEngine,
    t: &ThroughEngine,
    aside: &Path,
) -> Result<(), EngineWriteError> {
    if !aside.is_file() {
        return Ok(());
    }
    let helper = Helper::create(engine, t)?;
    helper.empty(t)?;
    let file = std::fs::File::open(aside).map_err(|source| EngineWriteError::Read {
        path: aside.to_owned(),
        source,
    })?;
    engine
        .upload(&helper.id, "/", move |out| {
            let mut file = file;
            std::io::copy(&mut file, out).map(|_| ())
        })
        .map_err(|source| EngineWriteError::PutBack {
            volume: t.volume.clone(),
            source,
        })
}

/// Writes the volume's content, as the engine's tar of [`HELPER_MOUNT`], to `aside`
/// (through a `.partial` file, synced, so a half-written undo point never counts).
fn save(engine: &BlockingEngine, helper: &str, aside: &Path) -> std::io::Result<()> {
    if let Some(p) = aside.parent() {
        std::fs::create_dir_all(p)?;
    }
    let partial = aside.with_extension("tar.partial");
    let mut f = std::fs::File::create(&partial)?;
    std::io::copy(&mut engine.download(helper, HELPER_MOUNT), &mut f)?;
    f.sync_all()?;
    drop(f);
    crate::archive::commit(&partial, aside)
}
