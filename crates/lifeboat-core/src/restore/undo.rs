//! Putting back: a failed restore rolled back, a finished one undone, an interrupted one
//! (crash, `kill -9`, power loss) recovered on the next start. All three read the restore's
//! journal and put every slot back, last first, then load the databases' earlier content
//! back from their safety dumps.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::dbload::{load_dump, read_encrypted, wait_running, LoadError};
use super::journal::{self, Journal, Load, Slot, State};
use super::volume::EngineWriteError;
use super::{
    containers_by_service, io_err, project_at, swap_rename, volume, RestoreError, ServiceState,
    LAST_RESTORE,
};
use crate::backup::cold;
use crate::backup::manifest::Recipe;
use crate::catalog::Catalog;
use crate::docker::BlockingEngine;

/// What undo did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct UndoReport {
    /// The restore undone.
    pub restore: String,
    /// Its target.
    pub target: String,
    /// Components put back.
    pub components: Vec<String>,
    /// Services stopped and started again, and how they are now.
    pub services: Vec<ServiceState>,
}

/// The last restore recorded in the catalog, if any.
pub fn last_restore(catalog: &Catalog) -> Option<Journal> {
    let dir = catalog.app_state(LAST_RESTORE).ok()??;
    Journal::load(Path::new(&dir)).ok()
}

/// The newest restore recorded in the folder `target` itself (its `.lifeboat/restore/`),
/// whichever Lifeboat (user, catalog) made it.
pub fn last_restore_at(target: &Path) -> Option<Journal> {
    let restores = target.join(".lifeboat").join("restore");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&restores)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join("journal.json").is_file())
        .collect();
    dirs.sort();
    dirs.iter().rev().find_map(|d| Journal::load(d).ok())
}

/// Whether `target` holds a restore that was interrupted (crash, `kill -9`, power loss).
pub fn interrupted_at(target: &Path) -> bool {
    last_restore_at(target).is_some_and(|j| j.is_unfinished())
}

/// Finishes the interrupted restore recorded in `target`, as [`recover`] does for the
/// catalog's, and starts the services it had stopped.
pub fn recover_at(
    target: &Path,
    engine: Option<&BlockingEngine>,
    identity: Option<&age::x25519::Identity>,
) -> Vec<String> {
    let Some(journal) = last_restore_at(target).filter(Journal::is_unfinished) else {
        return Vec::new();
    };
    let Some(_claim) = claim_interrupted(&journal) else {
        return vec![still_running(&journal)];
    };
    let (services, stack) = (journal.services.clone(), journal.stack.clone());
    let mut said = recover_journal(journal, engine, identity);
    if services.is_empty() {
        return said;
    }
    let started = engine
        .ok_or_else(|| "Docker cannot be reached".to_owned())
        .and_then(|e| {
            let containers = e.project_containers(&stack).map_err(|e| e.to_string())?;
            for c in containers.iter().filter(|c| services.contains(&c.service)) {
                if !e.is_running(&c.id).unwrap_or(false) {
                    e.start(&c.id).map_err(|e| e.to_string())?;
                }
            }
            Ok(())
        });
    if let Err(why) = started {
        said.push(format!(
            "{} stopped for that restore and could not be started ({why}); start them with \
             `docker compose up -d` in {}.",
            services.join(", "),
            target.display()
        ));
    }
    said
}

/// Undoes the last finished restore: its old content goes back in place, databases it
/// loaded get their earlier content back, and its services are stopped for it and started
/// again.
///
/// # Errors
/// [`RestoreError::NothingToUndo`], or what failed while putting things back.
pub fn undo(
    catalog: &Arc<Catalog>,
    at: Option<&Path>,
    engine: Option<&BlockingEngine>,
    identity: Option<&age::x25519::Identity>,
) -> Result<UndoReport, RestoreError> {
    // The last restore the folder itself records (whoever made it: another user, another
    // LIFEBOAT_HOME), else the catalog's.
    let journal = match at {
        Some(at) => last_restore_at(at),
        None => last_restore(catalog),
    };
    let Some(mut journal) = journal.filter(|j| j.state == State::Done) else {
        return Err(RestoreError::NothingToUndo);
    };
    let identity = match (identity, journal.loads.is_empty()) {
        (Some(id), _) => Some(id),
        (None, true) => None,
        (None, false) => {
            return Err(RestoreError::Load {
                service: journal.loads[0].service.clone(),
                source: LoadError::NeedsKey,
            })
        }
    };
    let lock_path = journal
        .dir
        .parent()
        .map(|p| p.join(".lock"))
        .unwrap_or_default();
    let lock = std::fs::File::create(&lock_path).map_err(io_err(&lock_path))?;
    if lock.try_lock().is_err() {
        return Err(RestoreError::Busy(journal.target.clone()));
    }
    let _claim = crate::job::Claim::stack(&journal.target)
        .map_err(io_err(&journal.target))?
        .ok_or_else(|| RestoreError::Busy(journal.target.clone()))?;
    let containers = containers_by_service(engine, &journal.stack);
    let grace = project_at(&journal.target);
    let mut stopper = engine.map(|e| {
        let st = cold::Stopper::new(e, catalog, &journal.stack);
        match &grace {
            Some(p) => st.with_grace_of(p),
            None => st,
        }
    });
    if let (Some(st), Some(c)) = (stopper.as_mut(), &containers) {
        st.stop(&journal.services, c)?;
    }
    // The restored content goes back to staging; then the old content returns.
    let result = put_back(&journal, engine, identity);
    let stopped = stopper
        .as_ref()
        .map(cold::Stopper::services)
        .unwrap_or_default();
    if let Some(st) = stopper.as_mut() {
        st.restart();
    }
    drop(stopper);
    result?;
    journal.state = State::Undone;
    journal.save().map_err(io_err(&journal.dir))?;
    for s in &journal.slots {
        journal::remove_leftover(&s.staged);
    }
    let services = match engine {
        Some(e) if !stopped.is_empty() => {
            wait_running(e, &journal.stack, &stopped, Duration::from_secs(60))
        }
        _ => Vec::new(),
    };
    Ok(UndoReport {
        restore: journal.id.clone(),
        target: journal.target.display().to_string(),
        components: journal.components.clone(),
        services,
    })
}

/// Whether the last restore was interrupted and [`recover`] has work to do.
pub fn interrupted(catalog: &Catalog) -> bool {
    last_restore(catalog).is_some_and(|j| j.is_unfinished())
}

/// Finishes a restore that was killed: puts every swapped path back and, for databases
/// whose load had started, loads their earlier content back (which needs Docker and the
/// key). Run before restarting stopped services. Returns what it did, as sentences.
pub fn recover(
    catalog: &Catalog,
    engine: Option<&BlockingEngine>,
    identity: Option<&age::x25519::Identity>,
) -> Vec<String> {
    let Some(journal) = last_restore(catalog) else {
        return Vec::new();
    };
    let Some(_claim) = claim_interrupted(&journal) else {
        return vec![still_running(&journal)];
    };
    recover_journal(journal, engine, identity)
}

/// Claims the target of a restore that looks interrupted, to put it back; `None` when that
/// restore is still running (in another Lifeboat: it holds the target's claim), so nothing
/// of it may be touched. `Some(None)` when the target cannot be opened to claim (gone).
fn claim_interrupted(journal: &Journal) -> Option<Option<crate::job::Claim>> {
    match crate::job::Claim::stack(&journal.target) {
        Ok(None) => None,
        Ok(Some(claim)) => Some(Some(claim)),
        Err(_) => Some(None),
    }
}

fn still_running(journal: &Journal) -> String {
    format!(
        "A restore into {} is running in another Lifeboat; it was left alone.",
        journal.target.display()
    )
}

/// Puts back what an interrupted restore (in `journal`) changed.
fn recover_journal(
    mut journal: Journal,
    engine: Option<&BlockingEngine>,
    identity: Option<&age::x25519::Identity>,
) -> Vec<String> {
    let mut said = Vec::new();
    match journal.state {
        State::Staging => {
            for s in &journal.slots {
                journal::remove_leftover(&s.staged);
                if let Some(base) = &s.base {
                    journal::remove_leftover(base);
                }
            }
            journal.state = State::RolledBack;
            said.push(format!(
                "A restore into {} was interrupted before it changed anything; its staging files were removed.",
                journal.target.display()
            ));
        }
        State::Swapping | State::Loading => match put_back(&journal, engine, identity) {
            Ok(()) => {
                journal.state = State::RolledBack;
                for s in &journal.slots {
                    journal::remove_leftover(&s.staged);
                }
                said.push(format!(
                        "A restore into {} was interrupted; everything was put back as it was before it.",
                        journal.target.display()
                    ));
            }
            Err(e) => {
                said.push(format!(
                    "A restore into {} was interrupted and could not be put back yet: {e}. \
                         The old content is kept in {}; run any lifeboat command again to retry.",
                    journal.target.display(),
                    journal.dir.display()
                ));
                return said;
            }
        },
        _ => return said,
    }
    let _ = journal.save();
    said
}

/// Puts back what the restore in `journal` changed: every slot, then the earlier content
/// of each database whose load had started (which needs the key).
fn put_back(
    journal: &Journal,
    engine: Option<&BlockingEngine>,
    identity: Option<&age::x25519::Identity>,
) -> Result<(), RestoreError> {
    roll_back_slots(&journal.slots, engine)?;
    let Some(first) = journal.loads.iter().find(|l| l.started) else {
        return Ok(());
    };
    let Some(identity) = identity else {
        return Err(RestoreError::Load {
            service: first.service.clone(),
            source: LoadError::NeedsKey,
        });
    };
    let recipes: HashMap<String, Recipe> = journal
        .loads
        .iter()
        .map(|l| (l.service.clone(), recipe_of_safety(l)))
        .collect();
    roll_back_loads(&journal.loads, engine, identity, &recipes)
}

/// The recipe of a safety dump, from its name.
fn recipe_of_safety(l: &Load) -> Recipe {
    let name = l
        .safety
        .as_ref()
        .and_then(|s| s.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if name.contains("all-databases") {
        Recipe::MysqlDump
    } else if name.contains("mongodump") {
        Recipe::Mongodump
    } else {
        Recipe::PgDumpall
    }
}

/// Puts every slot back as it was before the restore, whatever step it reached (last slot
/// first). Each slot is in one of three states: not swapped (staged exists, target old),
/// half swapped (target moved aside, staged not yet in place), swapped.
pub(super) fn roll_back_slots(
    slots: &[Slot],
    engine: Option<&BlockingEngine>,
) -> Result<(), RestoreError> {
    for s in slots.iter().rev() {
        if let Some(t) = &s.through {
            let Some(engine) = engine else {
                if s.aside.is_file() {
                    return Err(EngineWriteError::NoEngine {
                        volume: t.volume.clone(),
                    }
                    .into());
                }
                continue;
            };
            volume::put_back(engine, t, &s.aside)?;
            continue;
        }
        let aside = std::fs::symlink_metadata(&s.aside).is_ok();
        let staged = std::fs::symlink_metadata(&s.staged).is_ok();
        let at_target = std::fs::symlink_metadata(&s.target).is_ok();
        if s.existed {
            if aside {
                if at_target {
                    // The new content is in place: move it back to staging. (Both there:
                    // something made the target again meanwhile, such as Docker creating a
                    // missing bind-mount folder; keep it aside too, never delete it.)
                    let to = if staged {
                        PathBuf::from(format!("{}.conflict", s.aside.display()))
                    } else {
                        s.staged.clone()
                    };
                    swap_rename(&s.target, &to)?;
                }
                swap_rename(&s.aside, &s.target)?;
            }
        } else if at_target && !staged {
            swap_rename(&s.target, &s.staged)?;
        }
    }
    Ok(())
}

/// Loads each started load's safety dump back (last first).
pub(super) fn roll_back_loads(
    loads: &[Load],
    engine: Option<&BlockingEngine>,
    identity: &age::x25519::Identity,
    recipes: &HashMap<String, Recipe>,
) -> Result<(), RestoreError> {
    for l in loads.iter().rev().filter(|l| l.started) {
        let (Some(engine), Some(safety)) = (engine, &l.safety) else {
            return Err(RestoreError::Load {
                service: l.service.clone(),
                source: LoadError::NeedsDocker,
            });
        };
        let recipe = recipes
            .get(&l.service)
            .copied()
            .unwrap_or(Recipe::PgDumpall);
        let mut r = read_encrypted(safety, identity)?;
        load_dump(engine, &l.container, recipe, &mut r).map_err(|e| RestoreError::Load {
            service: l.service.clone(),
            source: LoadError::PutBackToo(Box::new(e)),
        })?;
    }
    Ok(())
}
