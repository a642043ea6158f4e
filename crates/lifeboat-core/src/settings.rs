//! App-wide preferences, kept in the catalog's `app_state` table (never a secret): the
//! default destination new stacks back up to, and the window's theme. Notification levels
//! live beside the alerts they govern ([`crate::alerts::Levels`]).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::catalog::{Catalog, CatalogError, StackRecord};
use crate::stack::Project;

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
