//! Named volumes this user cannot write directly (a docker-group user: Docker's volume
//! folders belong to root; Docker Desktop: they are inside its VM), replaced through a
//! short-lived helper container of the service's own image that mounts the volume.
//!
//! Replacing one saves its current content first (a tar, through the engine's archive API)
//! as the undo point, empties it (the helper's one command), then writes the snapshot's
//! entries with their numeric owners (the archive API again). Putting it back empties it and
//! writes the saved tar. Both are safe to repeat, so a restore killed between any two steps
//! is rolled back by doing it again.

use std::path::Path;
use std::time::Duration;

use super::journal::ThroughEngine;
use crate::docker::{BlockingEngine, HELPER_MOUNT};

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
    fn create(engine: &'a BlockingEngine, t: &ThroughEngine) -> Result<Self, String> {
        let id = engine
            .create_helper(&t.image, &t.volume, EMPTY)
            .map_err(|e| {
                format!(
                    "reaching the volume {} through Docker failed: {e}",
                    t.volume
                )
            })?;
        Ok(Self { engine, id })
    }

    /// Empties the volume. `Err((touched, why))`: `touched` is false when the command never
    /// ran (an image without `sh`), so nothing in the volume changed.
    fn empty(&self, t: &ThroughEngine) -> Result<(), (bool, String)> {
        if let Err(e) = self.engine.start(&self.id) {
            return Err((
                false,
                format!(
                    "the volume {} cannot be emptied through a container of {}: {e} (the image needs a \
                     shell, `sh`); nothing in it was changed",
                    t.volume, t.image
                ),
            ));
        }
        match self.engine.wait_exit(&self.id, EMPTY_LIMIT) {
            Ok(0) => Ok(()),
            Ok(code) => Err((
                true,
                format!(
                    "emptying the volume {} through a container of {} failed (exit code {code})",
                    t.volume, t.image
                ),
            )),
            Err(e) => Err((
                true,
                format!("emptying the volume {} failed: {e}", t.volume),
            )),
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

/// Replaces volume `t` with archive `archive_path`'s entries under `prefix`, keeping what it
/// held as the tar `aside` first.
pub(super) fn replace(
    engine: &BlockingEngine,
    t: &ThroughEngine,
    aside: &Path,
    archive_path: &Path,
    identity: &age::x25519::Identity,
    prefix: &str,
) -> Result<(), String> {
    let helper = Helper::create(engine, t)?;
    if !aside.is_file() {
        save(engine, &helper.id, aside)
            .map_err(|e| format!("saving what the volume {} holds failed: {e}", t.volume))?;
    }
    if let Err((touched, why)) = helper.empty(t) {
        // Nothing was changed: there is nothing to put back, so no undo point either.
        if !touched {
            let _ = std::fs::remove_file(aside);
        }
        return Err(why);
    }
    super::write_owners(
        engine,
        &helper.id,
        HELPER_MOUNT,
        archive_path,
        identity,
        prefix,
    )
}

/// Puts back what [`replace`] saved in `aside`; nothing to do when it saved nothing.
pub(super) fn put_back(
    engine: &BlockingEngine,
    t: &ThroughEngine,
    aside: &Path,
) -> Result<(), String> {
    if !aside.is_file() {
        return Ok(());
    }
    let helper = Helper::create(engine, t)?;
    helper.empty(t).map_err(|(_, why)| why)?;
    let file = std::fs::File::open(aside).map_err(|e| format!("{}: {e}", aside.display()))?;
    engine
        .upload(&helper.id, "/", move |out| {
            let mut file = file;
            std::io::copy(&mut file, out).map(|_| ())
        })
        .map_err(|e| format!("putting the volume {} back failed: {e}", t.volume))
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
