//! The parts of a compose project Lifeboat cares about, after loading, merging, `extends`,
//! `include` and interpolation.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::kind::ServiceKind;

/// How a mount gets its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum MountType {
    /// A host folder or file (`./data:/data`).
    Bind,
    /// A named or anonymous Docker volume.
    Volume,
    /// Memory only; nothing persists.
    Tmpfs,
    /// Anything else compose accepts (`npipe`, `cluster`, `image`).
    Other,
}

/// One mount of one service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Mount {
    /// How the mount gets its data.
    #[serde(rename = "type")]
    pub kind: MountType,
    /// The source as the compose file writes it, after interpolation (`./data`, a volume
    /// name); `None` for anonymous volumes and tmpfs.
    pub source: Option<String>,
    /// The path inside the container.
    pub target: String,
    /// Mounted read-only (`:ro`, `read_only: true`).
    pub read_only: bool,
    /// Where the data lives on this machine, when Lifeboat can tell: the resolved bind path,
    /// a local volume's `device`, or the engine's mountpoint of a named volume.
    #[ts(type = "string | null")]
    pub host_path: Option<PathBuf>,
    /// The volume's real name in Docker (`project_key`, `name:` or the external name).
    pub volume_name: Option<String>,
    /// The volume is `external: true`: it is created and owned outside this stack.
    pub external: bool,
    /// SELinux relabelling (`z` or `Z`), if asked for.
    pub selinux: Option<String>,
}

/// One `env_file:` entry of a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct EnvFileRef {
    /// The resolved path.
    #[ts(type = "string")]
    pub path: PathBuf,
    /// `required: false` lets compose start without it.
    pub required: bool,
}

/// One service of the project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// The key under `services:`.
    pub name: String,
    /// The image, after interpolation; `None` for a service that is only built.
    pub image: Option<String>,
    /// Has a `build:` section.
    pub build: bool,
    /// The folder its image is built from (`build:` or `build.context`), when it is a local
    /// folder (not a Git or HTTP URL).
    pub build_context: Option<std::path::PathBuf>,
    /// `container_name:`, if set.
    pub container_name: Option<String>,
    /// The profiles that enable it (empty: always enabled).
    pub profiles: Vec<String>,
    /// Its mounts, in the compose file's order (volumes, then tmpfs).
    pub mounts: Vec<Mount>,
    /// Its `env_file:` entries.
    pub env_files: Vec<EnvFileRef>,
    /// Names of the variables in its `environment:` (never the values).
    pub environment_keys: Vec<String>,
    /// Variables in `environment:` whose value is written literally in the compose file and
    /// looks like a secret (a password, token or key, or a URL with a password in it).
    pub hardcoded_secrets: Vec<String>,
    /// Services this one depends on (`depends_on`, `links`, `volumes_from`).
    pub depends_on: Vec<String>,
    /// The kind the image implies, with the reason (data-based detection happens later).
    pub image_kind: Option<(ServiceKind, String)>,
    /// `stop_grace_period:`, when set and readable: how long a stop waits for the service to
    /// exit before it is killed (compose's default is 10 s).
    pub stop_grace: Option<std::time::Duration>,
    /// Its own command before its data is read (compose label `lifeboat.pre-backup`), run
    /// with `sh -c` inside its running container: a cache flushed, an app's export.
    pub pre_backup: Option<String>,
}

/// One entry of the top-level `volumes:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeDef {
    /// The key under `volumes:`.
    pub key: String,
    /// The volume's real name in Docker.
    pub name: String,
    /// `external: true`.
    pub external: bool,
    /// A local-driver bind (`driver_opts: {type: none, o: bind, device: PATH}`).
    pub device: Option<PathBuf>,
}
