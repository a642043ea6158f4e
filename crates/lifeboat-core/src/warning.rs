//! Warnings: something about a stack that a self-hoster should know, with a stable code for
//! programs and a sentence for people. Warnings never stop an inspection.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Stable codes of warnings; scripts and the UI branch on these, never on the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, TS)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum WarningCode {
    /// A secrets file (`.env`, `secrets.env`, an `env_file:`) can be read by other users.
    SecretsFileReadable,
    /// The stack is in a git repository and a secrets file is not ignored by git.
    SecretsNotGitignored,
    /// A secret-looking value is written literally in the compose file.
    HardcodedSecret,
    /// A bind mount's source does not exist: Docker will create an empty folder instead.
    BindSourceMissing,
    /// A database-kind service keeps its data where the next `docker compose down`/`up`
    /// loses it.
    DataNotPersisted,
    /// A SQLite database has an active write-ahead log: copying its files now is unsafe.
    SqliteWalActive,
    /// A path could not be read; its size is unknown.
    UnreadablePath,
    /// A variable used in the compose file is set nowhere.
    VariableUnset,
    /// A variable the compose file marks as required (`${VAR:?}`) is missing.
    VariableRequired,
    /// Interpolation syntax compose would refuse.
    VariableSyntax,
    /// A required `env_file:` does not exist.
    EnvFileMissing,
    /// A service uses a named volume that the top-level `volumes:` does not define.
    VolumeUndefined,
    /// No Docker engine could be reached; states and engine-only sizes are unknown.
    DockerUnavailable,
    /// A named volume's data could not be measured (no engine, or the engine did not say).
    VolumeSizeUnknown,
    /// Something else compose would complain about (an `extends` or `include` problem).
    ComposeProblem,
    /// A file changed while a backup read it.
    FileChangedDuringBackup,
    /// A socket, pipe or device was left out of a backup.
    SpecialFileSkipped,
    /// A volume that lives inside Docker was left out of a backup.
    VolumeNotBackedUp,
    /// The destination holds no passphrase-protected copy of the backup key.
    RecoveryFileMissing,
    /// A running database was copied as files because no consistent recipe was chosen.
    DatabaseCopiedLive,
    /// Services were stopped during the backup.
    ServicesStopped,
    /// A container stopped by the backup could not be started again.
    RestartFailed,
    /// A mount of a system folder (`/`, `/var`, `/home`, the Docker socket) was left out of a
    /// backup.
    SystemPathSkipped,
    /// The destination or Lifeboat's own folder is inside data being backed up; it was left
    /// out.
    DestinationInsideData,
    /// A database could not be captured (locked, damaged, not a database): the snapshot
    /// holds everything else.
    DatabaseNotBackedUp,
    /// An archive in the destination that a backup would have reused was damaged; it was
    /// written again.
    ArchiveDamaged,
}

/// One warning about a stack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Warning {
    /// The stable code.
    pub code: WarningCode,
    /// A sentence that says what is wrong and what to do.
    pub message: String,
    /// The service it concerns, if one.
    pub service: Option<String>,
    /// The file or folder it concerns, if one.
    pub path: Option<String>,
    /// What to do about it, when Lifeboat can do it: each shell words it its own way (a
    /// command line, a button), so the message never names one.
    #[serde(default)]
    pub remedy: Option<Remedy>,
}

/// Something a person can have Lifeboat do about a warning or finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Remedy {
    /// Save a passphrase-protected copy of the backup key in the destination.
    ExportRecovery {
        /// The destination.
        destination: String,
    },
    /// Back up a folder the backup left out, by naming it.
    Include {
        /// The folder.
        path: String,
    },
    /// Set a variable's value again through Lifeboat, which quotes it as compose reads it.
    SetSecret {
        /// The env file (relative to the stack).
        file: String,
        /// The variable, when one.
        key: Option<String>,
    },
}

impl Remedy {
    /// The `lifeboat` command line that does it, for the stack in `stack_dir`.
    pub fn command(&self, stack_dir: &std::path::Path) -> String {
        let stack = stack_dir.display();
        match self {
            Self::ExportRecovery { destination } => {
                format!("lifeboat key export-recovery --to {destination}")
            }
            Self::Include { path } => format!("lifeboat backup {stack} --include {path}"),
            Self::SetSecret { file, key } => format!(
                "lifeboat secrets {stack} --file {file} set {}",
                key.as_deref().unwrap_or("KEY")
            ),
        }
    }
}

impl Warning {
    /// A warning with no service or path.
    pub fn new(code: WarningCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            service: None,
            path: None,
            remedy: None,
        }
    }
    /// The same warning about `service`.
    pub fn service(mut self, service: impl Into<String>) -> Self {
        self.service = Some(service.into());
        self
    }
    /// The same warning with what to do about it.
    pub fn remedy(mut self, remedy: Remedy) -> Self {
        self.remedy = Some(remedy);
        self
    }
    /// The same warning about `path`.
    pub fn path(mut self, path: impl AsRef<std::path::Path>) -> Self {
        self.path = Some(path.as_ref().display().to_string());
        self
    }
}
