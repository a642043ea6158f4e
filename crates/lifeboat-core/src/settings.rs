//! What a person chooses, and where it is kept (never a secret): each stack's backup
//! settings (destination, mode, services to stop, retention, schedule) in the catalog's
//! `stack_settings` table, and app-wide preferences (the default destination new stacks
//! back up to, the window's theme) in its `app_state` table. Notification levels live
//! beside the alerts they govern ([`crate::alerts::Levels`]).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::catalog::{Catalog, CatalogError, StackRecord};
use crate::schedule::Schedule;
use crate::stack::Project;

/// How services are captured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Databases by their hot recipe (a dump) where one exists; services listed in
    /// [`crate::backup::BackupOptions::stop`] and running databases without one are stopped; the rest is
    /// copied live, with a warning for files that change while read.
    #[default]
    Auto,
    /// Never stop anything: dumps where possible, everything else copied live.
    Hot,
    /// Stop every service whose data is backed up (dependents first), copy, start again.
    Cold,
}

/// A stack's backup settings, as the desktop keeps them in the catalog.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct StackSettings {
    /// The destination folder, once chosen.
    pub destination: Option<String>,
    /// How services are captured.
    pub mode: Mode,
    /// Services stopped during the backup in auto mode.
    pub stop_services: Vec<String>,
    /// Retention applied after each backup; nothing is pruned when all are zero.
    pub keep: Keep,
    /// When backups run on their own; none when only run by hand.
    pub schedule: Option<Schedule>,
    /// Days between scheduled drills of a stack with a schedule: none for the default
    /// ([`crate::schedule::DRILL_EVERY_DAYS`]), 0 for none.
    pub drill_every_days: Option<u32>,
    /// Commands run before and after its backups and restores (set with `lifeboat hooks`;
    /// kept out of the window's payloads, as a command may carry a password).
    #[ts(skip)]
    pub hooks: crate::hooks::Hooks,
}

impl StackSettings {
    /// Where this stack backs up: its own destination, else the default one a headless
    /// machine sets in `LIFEBOAT_DESTINATION`.
    pub fn destination(&self) -> Option<PathBuf> {
        self.destination.as_ref().map(PathBuf::from).or_else(|| {
            std::env::var_os("LIFEBOAT_DESTINATION")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        })
    }
}

/// How many snapshots to keep, per rule. A snapshot kept by any rule stays.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Keep {
    /// The newest N.
    pub last: u32,
    /// The newest of each of the last N hours that have one.
    pub hourly: u32,
    /// … days.
    pub daily: u32,
    /// … weeks (Monday to Sunday).
    pub weekly: u32,
    /// … months.
    pub monthly: u32,
    /// … years.
    pub yearly: u32,
}

impl Keep {
    pub(crate) fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

impl Catalog {
    /// A stack's backup settings (defaults when never saved).
    ///
    /// # Errors
    /// When SQLite fails or the stack is unknown.
    pub fn settings(&self, stack_id: i64) -> Result<StackSettings, CatalogError> {
        self.stack_json(stack_id)
    }

    /// Saves a stack's backup settings.
    ///
    /// # Errors
    /// When SQLite fails or the stack is unknown.
    pub fn save_settings(&self, stack_id: i64, s: &StackSettings) -> Result<(), CatalogError> {
        self.set_stack_json(stack_id, s)
    }

    /// Sets (or with `None` removes) a stack's schedule. A new or changed schedule starts
    /// counting at `now`: slots before it are not due.
    ///
    /// # Errors
    /// When SQLite fails or the stack is unknown.
    pub fn set_schedule(
        &self,
        stack_id: i64,
        schedule: Option<Schedule>,
        now: i64,
    ) -> Result<(), CatalogError> {
        let mut settings = self.settings(stack_id)?;
        if settings.schedule == schedule {
            return Ok(());
        }
        settings.schedule = schedule;
        self.save_settings(stack_id, &settings)?;
        let mut state = self.schedule_state(stack_id)?.unwrap_or_default();
        state.handled_until = now;
        state.retry_at = None;
        state.waiting = None;
        self.save_schedule_state(stack_id, &state)
    }
}

/// The window's colours.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum Theme {
    /// Follow the desktop's light or dark preference.
    #[default]
    System,
    /// Always light.
    Light,
    /// Always dark.
    Dark,
}

/// The preferences that are not about one stack.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct AppSettings {
    /// Where a newly added stack backs up, unless the user picks another folder for it.
    pub default_destination: Option<String>,
    /// Light, dark, or as the desktop says.
    pub theme: Theme,
}

const KEY: &str = "app_settings";

impl AppSettings {
    /// The saved preferences, or the defaults.
    ///
    /// # Errors
    /// When the catalog cannot be read.
    pub fn load(catalog: &Catalog) -> Result<Self, CatalogError> {
        catalog.app_json(KEY)
    }

    /// Saves the preferences.
    ///
    /// # Errors
    /// When the catalog cannot be written.
    pub fn save(&self, catalog: &Catalog) -> Result<(), CatalogError> {
        catalog.set_app_json(KEY, self)
    }

    /// Gives stack `stack_id` the default destination when it has none yet. Returns whether
    /// it did.
    ///
    /// # Errors
    /// When the catalog cannot be read or written.
    pub fn apply_default_destination(
        &self,
        catalog: &Catalog,
        stack_id: i64,
    ) -> Result<bool, CatalogError> {
        let Some(dest) = &self.default_destination else {
            return Ok(false);
        };
        let mut s = catalog.settings(stack_id)?;
        if s.destination.is_some() {
            return Ok(false);
        }
        s.destination = Some(dest.clone());
        catalog.save_settings(stack_id, &s)?;
        Ok(true)
    }
}

/// Adds `project` to the catalog the way a person adds a stack (the folder dialog, a folder
/// named when Lifeboat starts): with the default destination when it has none yet.
///
/// # Errors
/// When the catalog cannot be read or written.
pub fn add_stack(catalog: &Catalog, project: &Project) -> Result<StackRecord, CatalogError> {
    let record = catalog.add_stack(&project.dir, &project.name)?;
    AppSettings::load(catalog)?.apply_default_destination(catalog, record.id)?;
    Ok(record)
}

/// The folder Lifeboat writes its log files to: `logs` in [`crate::catalog::home`].
///
/// # Errors
/// When there is no data folder.
pub fn log_dir() -> Result<PathBuf, CatalogError> {
    Ok(crate::catalog::home()?.join("logs"))
}

/// Opens (creating the folder) the log file of `program` in `dir` for appending. Log files are
/// readable by their owner only: paths and stack names are nobody else's business.
///
/// # Errors
/// When the folder or file cannot be created.
pub fn open_log(dir: &Path, program: &str) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(dir.join(format!("{program}.log")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip_and_the_default_destination_goes_to_new_stacks_only() {
        let t = tempfile::tempdir().unwrap();
        let catalog = Catalog::open(&t.path().join("c.sqlite3")).unwrap();
        assert_eq!(AppSettings::load(&catalog).unwrap(), AppSettings::default());
        let s = AppSettings {
            default_destination: Some("/media/backup".into()),
            theme: Theme::Dark,
        };
        s.save(&catalog).unwrap();
        assert_eq!(AppSettings::load(&catalog).unwrap(), s);

        std::fs::write(
            t.path().join("compose.yaml"),
            "services:\n  app:\n    image: busybox\n",
        )
        .unwrap();
        let project = crate::stack::load(t.path(), &crate::LoadOptions::default()).unwrap();
        let a = add_stack(&catalog, &project).unwrap();
        assert_eq!(
            catalog.settings(a.id).unwrap().destination.as_deref(),
            Some("/media/backup")
        );
        // A stack with its own destination keeps it.
        let mut own = catalog.settings(a.id).unwrap();
        own.destination = Some("/srv/nas".into());
        catalog.save_settings(a.id, &own).unwrap();
        assert!(!s.apply_default_destination(&catalog, a.id).unwrap());
        assert_eq!(
            catalog.settings(a.id).unwrap().destination.as_deref(),
            Some("/srv/nas")
        );
    }

    #[test]
    fn log_files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("logs");
        open_log(&dir, "lifeboat").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("lifeboat.log")), 0o600);
    }
}
