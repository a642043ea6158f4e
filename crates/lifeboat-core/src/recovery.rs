//! After a crash: what an interrupted run left behind, put right at the next start of any
//! Lifeboat (the desktop app, every `lifeboat` command). A restore killed half-way is
//! finished or rolled back from its journal first (with the key from the keyring, for the
//! databases it had started loading), then the containers an interrupted backup or restore
//! stopped are started again.

use crate::backup::cold;
use crate::catalog::Catalog;
use crate::docker::BlockingEngine;
use crate::{keys, restore};

/// Whether an interrupted restore or stopped containers wait for [`after_crash`]: cheap, so
/// a start can decide whether to reach Docker at all.
pub fn pending(catalog: &Catalog) -> bool {
    restore::interrupted(catalog)
        || catalog.journal().is_ok_and(|j| !j.is_empty())
        || !catalog.unfinished_drills().unwrap_or_default().is_empty()
}

/// Puts right what [`pending`] found; returns what it did, as sentences for the log.
pub fn after_crash(catalog: &Catalog, engine: Option<&BlockingEngine>) -> Vec<String> {
    let mut said = Vec::new();
    if restore::interrupted(catalog) {
        let identity = keys::load(None).ok().map(|(identity, _)| identity);
        said.extend(restore::recover(catalog, engine, identity.as_ref()));
    }
    said.extend(cold::recover(engine, catalog));
    said.extend(crate::drill::clean_leftovers(catalog, engine));
    said
}
