//! The Docker engine, through bollard: which containers belong to a compose project (by the
//! `com.docker.compose.project`/`service` labels), their state and health, where named
//! volumes live, and reading a volume through the engine's archive API when its files are
//! not readable directly (Docker Desktop's VM, root-owned `/var/lib/docker`).
//!
//! Every call has a short timeout: an engine that hangs must not hang an inspection.

mod blocking;

use std::collections::HashMap;
use std::io::Read;
use std::time::Duration;

use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::query_parameters::{
    DownloadFromContainerOptions, ListContainersOptions, StartContainerOptions,
    StopContainerOptions,
};
use bollard::Docker;
use futures_util::StreamExt;

pub use blocking::{BlockingEngine, ByteStream, ExecOutput};

/// Label compose puts on every container of a project.
pub const PROJECT_LABEL: &str = "com.docker.compose.project";
/// Label compose puts on every container with its service's name.
pub const SERVICE_LABEL: &str = "com.docker.compose.service";

const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// The HTTP client's own limit on one request. Every call sets a tighter one of its own (a
/// stop waits its grace period plus a margin, a volume is streamed for as long as it takes),
/// so this only has to be longer than all of them: bollard's default of 120 s (30 s through
/// `connect_with_unix` as it was called) cut long stops and large downloads short.
const CLIENT_TIMEOUT_SECS: u64 = 24 * 3600;

/// Where a helper container ([`Engine::create_helper`]) mounts its volume.
pub const HELPER_MOUNT: &str = "/lifeboat-volume";

/// Label on Lifeboat's helper containers (the volume's name), so leftovers can be found.
pub const HELPER_LABEL: &str = "org.lifeboat.helper";

/// The label of a drill's throwaway database containers: its value is the drill's id.
pub const DRILL_LABEL: &str = "org.lifeboat.drill";

/// Label compose puts on the volumes it creates, with the volume's key in `volumes:`.
pub const VOLUME_LABEL: &str = "com.docker.compose.volume";

/// Why the engine could not answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DockerError {
    /// No engine answered at the configured address.
    #[error("{}; Lifeboat carries on with the files it can read", problem.sentence(host, reason))]
    Unreachable {
        /// Where Lifeboat looked.
        host: String,
        /// Which of the usual cases it is (each has its own fix).
        problem: DockerProblem,
        /// What went wrong.
        reason: String,
    },
    /// The engine answered with an error.
    #[error("the Docker engine refused {what}: {reason}")]
    Api {
        /// The request.
        what: String,
        /// The engine's answer.
        reason: String,
    },
    /// The engine did not answer in time.
    #[error("the Docker engine did not answer {what} within {secs} s")]
    Timeout {
        /// The request.
        what: String,
        /// The limit.
        secs: u64,
    },
}

/// Why no engine answered, as far as the socket tells: each case has its own fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, ts_rs::TS)]
#[serde(rename_all = "kebab-case")]
pub enum DockerProblem {
    /// No socket and no `docker` or `dockerd` command on this computer.
    NotInstalled,
    /// Docker is installed, but nothing listens on its socket.
    NotRunning,
    /// The socket is there, but this user may not open it.
    NoPermission,
    /// Something else: a remote host, a hung engine, an unexpected answer.
    NoAnswer,
}

impl DockerProblem {
    /// What happened and what to do, in one sentence (without the "carries on" part).
    pub fn sentence(self, host: &str, reason: &str) -> String {
        let socket = host.strip_prefix("unix://").unwrap_or(host);
        match self {
            Self::NotInstalled => format!(
                "Docker is not installed on this computer (no `docker` command and nothing at {socket}): \
                 install Docker Engine or Docker Desktop to let Lifeboat see containers and dump databases"
            ),
            Self::NotRunning => format!(
                "Docker is installed but not running (nothing answers at {socket}): start it with \
                 `sudo systemctl start docker`, or open Docker Desktop"
            ),
            Self::NoPermission => format!(
                "You are not allowed to use Docker's socket {socket}: add yourself to the docker group \
                 (`sudo usermod -aG docker $USER`), then log out and in"
            ),
            Self::NoAnswer => format!(
                "No Docker engine answered at {host}: start Docker (or check DOCKER_HOST) ({reason})"
            ),
        }
    }

    /// Tells the cases apart by connecting to the Unix socket at `socket` directly; `has_docker`
    /// says whether a Docker command is installed (only asked when the socket is missing).
    pub fn diagnose(socket: &std::path::Path, has_docker: impl FnOnce() -> bool) -> Self {
        match std::os::unix::net::UnixStream::connect(socket) {
            Ok(_) => Self::NoAnswer,
            Err(e) => match e.kind() {
                std::io::ErrorKind::PermissionDenied => Self::NoPermission,
                std::io::ErrorKind::ConnectionRefused => Self::NotRunning,
                std::io::ErrorKind::NotFound if has_docker() => Self::NotRunning,
                std::io::ErrorKind::NotFound => Self::NotInstalled,
                _ => Self::NoAnswer,
            },
        }
    }
}

/// Whether a `docker` or `dockerd` command is on `PATH`.
pub fn docker_installed() -> bool {
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path)
            .any(|d| d.join("docker").is_file() || d.join("dockerd").is_file())
    })
}

/// One container of a compose project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerInfo {
    /// The container's id.
    pub id: String,
    /// Its name, without the leading slash.
    pub name: String,
    /// The compose service it belongs to.
    pub service: String,
    /// `running`, `exited`, `created`, `restarting`, `paused`, `dead`, …
    pub state: String,
    /// `healthy`, `unhealthy` or `starting` when the container has a health check.
    pub health: Option<String>,
    /// Named volumes it mounts: (volume name, path inside the container).
    pub volumes: Vec<(String, String)>,
}

/// A connection to a Docker engine that answered a ping.
#[derive(Debug, Clone)]
pub struct Engine {
    docker: Docker,
    host: String,
}

/// Where bollard will look for the engine.
pub fn configured_host() -> String {
    std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into())
}

async fn timed<T>(
    what: &str,
    fut: impl std::future::Future<Output = Result<T, bollard::errors::Error>>,
) -> Result<T, DockerError> {
    match tokio::time::timeout(CALL_TIMEOUT, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(DockerError::Api {
            what: what.into(),
            reason: short_reason(&e.to_string()),
        }),
        Err(_) => Err(DockerError::Timeout {
            what: what.into(),
            secs: CALL_TIMEOUT.as_secs(),
        }),
    }
}

impl Engine {
    /// Connects to the engine at `host`, else the one named by `DOCKER_HOST` (or the platform
    /// default), and pings it.
    ///
    /// # Errors
    /// [`DockerError::Unreachable`] when nothing answers.
    pub async fn connect(host: Option<&str>) -> Result<Self, DockerError> {
        let host = host.map_or_else(configured_host, str::to_owned);
        let unreachable = |reason: String| DockerError::Unreachable {
            problem: match host.strip_prefix("unix://") {
                Some(path) => DockerProblem::diagnose(std::path::Path::new(path), docker_installed),
                None => DockerProblem::NoAnswer,
            },
            host: host.clone(),
            reason,
        };
        let docker = match host.strip_prefix("unix://") {
            Some(path) => {
                Docker::connect_with_unix(path, CLIENT_TIMEOUT_SECS, bollard::API_DEFAULT_VERSION)
            }
            None => Docker::connect_with_defaults()
                .map(|d| d.with_timeout(Duration::from_secs(CLIENT_TIMEOUT_SECS))),
        }
        .map_err(|e| unreachable(e.to_string()))?;
        match tokio::time::timeout(Duration::from_secs(3), docker.ping()).await {
            Ok(Ok(_)) => Ok(Self { docker, host }),
            Ok(Err(e)) => Err(unreachable(short_reason(&e.to_string()))),
            Err(_) => Err(unreachable("no answer within 3 s".into())),
        }
    }

    /// The address of the engine.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The containers (running or not) labelled as belonging to compose project `project`.
    ///
    /// # Errors
    /// When the engine refuses or does not answer.
    pub async fn project_containers(
        &self,
        project: &str,
    ) -> Result<Vec<ContainerInfo>, DockerError> {
        let filters = HashMap::from([(
            "label".to_owned(),
            vec![format!("{PROJECT_LABEL}={project}")],
        )]);
        let opts = ListContainersOptions {
            all: true,
            filters: Some(filters),
            ..Default::default()
        };
        let list = timed(
            "listing containers",
            self.docker.list_containers(Some(opts)),
        )
        .await?;
        let mut out: Vec<ContainerInfo> = list
            .into_iter()
            .map(|c| {
                let labels = c.labels.unwrap_or_default();
                let status = c.status.unwrap_or_default();
                ContainerInfo {
                    id: c.id.unwrap_or_default(),
                    name: c
                        .names
                        .and_then(|n| n.into_iter().next())
                        .unwrap_or_default()
                        .trim_start_matches('/')
                        .to_owned(),
                    service: labels.get(SERVICE_LABEL).cloned().unwrap_or_default(),
                    state: c
                        .state
                        .map(|s| s.to_string())
                        .filter(|s| !s.is_empty())
                        .unwrap_or_else(|| "unknown".into()),
                    health: health_from_status(&status),
                    volumes: c
                        .mounts
                        .unwrap_or_default()
                        .into_iter()
                        .filter_map(|m| Some((m.name?, m.destination?)))
                        .collect(),
                }
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Where a named volume's files are on the engine's machine, or `None` when the volume
    /// does not exist.
    ///
    /// # Errors
    /// When the engine refuses (other than "no such volume") or does not answer.
    pub async fn volume_mountpoint(&self, name: &str) -> Result<Option<String>, DockerError> {
        match tokio::time::timeout(CALL_TIMEOUT, self.docker.inspect_volume(name)).await {
            Ok(Ok(v)) => Ok(Some(v.mountpoint)),
            Ok(Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            })) => Ok(None),
            Ok(Err(e)) => Err(DockerError::Api {
                what: format!("inspecting volume {name}"),
                reason: e.to_string(),
            }),
            Err(_) => Err(DockerError::Timeout {
                what: format!("inspecting volume {name}"),
                secs: CALL_TIMEOUT.as_secs(),
            }),
        }
    }

    /// Creates the named volume `name` with the labels compose gives its volumes (project
    /// `project`, key `key`), so that `docker compose up` adopts it as its own rather than
    /// warning that it was created outside compose. Returns its mountpoint.
    ///
    /// # Errors
    /// When the engine refuses or does not answer.
    pub async fn create_volume(
        &self,
        name: &str,
        project: &str,
        key: &str,
    ) -> Result<String, DockerError> {
        let labels = HashMap::from([
            (PROJECT_LABEL.to_owned(), project.to_owned()),
            (VOLUME_LABEL.to_owned(), key.to_owned()),
            ("com.docker.compose.version".to_owned(), "2.0.0".to_owned()),
        ]);
        let req = bollard::models::VolumeCreateRequest {
            name: Some(name.to_owned()),
            labels: Some(labels),
            ..Default::default()
        };
        let v = timed(
            &format!("creating volume {name}"),
            self.docker.create_volume(req),
        )
        .await?;
        Ok(v.mountpoint)
    }

    /// Whether image `image` is on the engine's machine.
    ///
    /// # Errors
    /// When the engine refuses (other than "no such image") or does not answer.
    pub async fn image_exists(&self, image: &str) -> Result<bool, DockerError> {
        match tokio::time::timeout(CALL_TIMEOUT, self.docker.inspect_image(image)).await {
            Ok(Ok(_)) => Ok(true),
            Ok(Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            })) => Ok(false),
            Ok(Err(e)) => Err(DockerError::Api {
                what: format!("looking for image {image}"),
                reason: short_reason(&e.to_string()),
            }),
            Err(_) => Err(DockerError::Timeout {
                what: format!("looking for image {image}"),
                secs: CALL_TIMEOUT.as_secs(),
            }),
        }
    }

    /// Creates (does not start) a helper container of `image` that mounts volume `volume`
    /// at [`HELPER_MOUNT`] and, when started, runs `script` with `sh` as root, without a
    /// network. Lifeboat reads and writes a volume through it when this user cannot reach
    /// the volume's folder. Returns its id.
    ///
    /// # Errors
    /// When the engine refuses (no such image) or does not answer.
    pub async fn create_helper(
        &self,
        image: &str,
        volume: &str,
        script: &str,
    ) -> Result<String, DockerError> {
        // Root, to empty and write a volume whatever its owners. An image that names no user
        // runs as root already (and may have no passwd file for the engine to look "root" up
        // in when it copies owners); one that names another user is told to be root.
        let image_user = timed(
            &format!("looking at image {image}"),
            self.docker.inspect_image(image),
        )
        .await?
        .config
        .and_then(|c| c.user)
        .unwrap_or_default();
        let user =
            (!matches!(image_user.as_str(), "" | "0" | "root" | "0:0")).then(|| "root".to_owned());
        let body = bollard::models::ContainerCreateBody {
            image: Some(image.to_owned()),
            entrypoint: Some(vec!["sh".into(), "-c".into()]),
            cmd: Some(vec![script.to_owned()]),
            user,
            // Network "none" leaves the container only its loopback interface; disabling the
            // network as well would drop its /etc/hosts, and servers that look up
            // `localhost` while they initialise (MariaDB's install-db) then fail.
            labels: Some(HashMap::from([(
                HELPER_LABEL.to_owned(),
                volume.to_owned(),
            )])),
            host_config: Some(bollard::models::HostConfig {
                binds: Some(vec![format!("{volume}:{HELPER_MOUNT}")]),
                network_mode: Some("none".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let r = timed(
            &format!("creating a helper container for volume {volume}"),
            self.docker.create_container(
                None::<bollard::query_parameters::CreateContainerOptions>,
                body,
            ),
        )
        .await?;
        Ok(r.id)
    }

    /// Creates (without starting it) a throwaway container made like container `like` (a
    /// database service's): the same image, entrypoint, command, user, working folder, environment
    /// and read-only bind mounts, but none of its writable mounts (its data starts empty,
    /// in the container's own layer or the image's anonymous volumes), no network and no
    /// ports, labelled [`DRILL_LABEL`]`=drill`. Returns its id.
    ///
    /// # Errors
    /// When the engine refuses or does not answer.
    pub async fn create_throwaway(&self, like: &str, drill: &str) -> Result<String, DockerError> {
        let info = timed(
            &format!("inspecting container {like}"),
            self.docker.inspect_container(like, None),
        )
        .await?;
        let config = info.config.unwrap_or_default();
        let host = info.host_config.unwrap_or_default();
        let binds: Vec<String> = host
            .binds
            .unwrap_or_default()
            .into_iter()
            .filter(|b| {
                b.rsplit_once(':')
                    .is_some_and(|(_, o)| o.split(',').any(|x| x == "ro"))
                    && b.starts_with('/')
            })
            .collect();
        let mounts: Vec<bollard::models::Mount> = host
            .mounts
            .unwrap_or_default()
            .into_iter()
            .filter(|m| {
                m.read_only == Some(true) && m.typ == Some(bollard::models::MountType::BIND)
            })
            .collect();
        let body = bollard::models::ContainerCreateBody {
            image: config.image.or(info.image),
            entrypoint: config.entrypoint,
            cmd: config.cmd,
            env: config.env,
            user: config.user,
            working_dir: config.working_dir,
            // Network "none" leaves the container only its loopback interface; disabling the
            // network as well would drop its /etc/hosts, and servers that look up
            // `localhost` while they initialise (MariaDB's install-db) then fail.
            labels: Some(HashMap::from([(DRILL_LABEL.to_owned(), drill.to_owned())])),
            host_config: Some(bollard::models::HostConfig {
                binds: Some(binds),
                mounts: Some(mounts),
                network_mode: Some("none".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let r = timed(
            "creating a throwaway database container",
            self.docker.create_container(
                None::<bollard::query_parameters::CreateContainerOptions>,
                body,
            ),
        )
        .await?;
        Ok(r.id)
    }

    /// The containers labelled [`DRILL_LABEL`], as (id, drill).
    ///
    /// # Errors
    /// When the engine refuses or does not answer.
    pub async fn throwaways(&self) -> Result<Vec<(String, String)>, DockerError> {
        let filters = HashMap::from([("label".to_owned(), vec![DRILL_LABEL.to_owned()])]);
        let opts = ListContainersOptions {
            all: true,
            filters: Some(filters),
            ..Default::default()
        };
        let list = timed(
            "listing containers",
            self.docker.list_containers(Some(opts)),
        )
        .await?;
        Ok(list
            .into_iter()
            .filter_map(|c| {
                let drill = c.labels.unwrap_or_default().get(DRILL_LABEL)?.clone();
                Some((c.id?, drill))
            })
            .collect())
    }

    /// Removes a throwaway container with its anonymous volumes, running or not.
    ///
    /// # Errors
    /// When the engine refuses (other than "no such container") or does not answer.
    pub async fn remove_throwaway(&self, id: &str) -> Result<(), DockerError> {
        self.remove(id, true).await
    }

    /// Waits (up to `limit`) until container `id` has exited (at once when it has); returns
    /// its exit code.
    ///
    /// # Errors
    /// When the engine refuses, or the container runs longer than `limit`.
    pub async fn wait_exit(&self, id: &str, limit: Duration) -> Result<i64, DockerError> {
        let what = format!("waiting for container {id}");
        let mut wait = self
            .docker
            .wait_container(id, None::<bollard::query_parameters::WaitContainerOptions>);
        match tokio::time::timeout(limit, wait.next()).await {
            Ok(Some(Ok(r))) => Ok(r.status_code),
            Ok(Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. }))) => {
                Ok(code)
            }
            Ok(Some(Err(e))) => Err(DockerError::Api {
                what,
                reason: short_reason(&e.to_string()),
            }),
            Ok(None) => Err(DockerError::Api {
                what,
                reason: "the engine ended the wait without an exit code".into(),
            }),
            Err(_) => Err(DockerError::Timeout {
                what,
                secs: limit.as_secs(),
            }),
        }
    }

    /// Removes container `id` (and only it; its volumes stay), running or not.
    ///
    /// # Errors
    /// When the engine refuses or does not answer.
    pub async fn remove_container(&self, id: &str) -> Result<(), DockerError> {
        self.remove(id, false).await
    }

    async fn remove(&self, id: &str, volumes: bool) -> Result<(), DockerError> {
        let opts = bollard::query_parameters::RemoveContainerOptions {
            force: true,
            v: volumes,
            ..Default::default()
        };
        match timed(
            &format!("removing container {id}"),
            self.docker.remove_container(id, Some(opts)),
        )
        .await
        {
            Err(DockerError::Api { reason, .. }) if reason.contains("No such container") => Ok(()),
            other => other,
        }
    }

    /// Counts the regular files and their bytes under `path` inside container `id`, reading
    /// them through the engine's archive API (works for stopped containers too).
    ///
    /// # Errors
    /// When the engine refuses, or the stream breaks.
    pub async fn measure_path(&self, id: &str, path: &str) -> Result<(u64, u64), DockerError> {
        let opts = DownloadFromContainerOptions {
            path: path.to_owned(),
        };
        let mut stream = self.docker.download_from_container(id, Some(opts));
        let (tx, rx) = std::sync::mpsc::sync_channel::<bytes::Bytes>(16);
        let counter = tokio::task::spawn_blocking(move || {
            count_tar(ChannelReader {
                rx,
                buf: bytes::Bytes::new(),
            })
        });
        let what = format!("reading {path} of container {id}");
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| DockerError::Api {
                what: what.clone(),
                reason: e.to_string(),
            })?;
            if tx.send(chunk).is_err() {
                break;
            }
        }
        drop(tx);
        counter
            .await
            .map_err(|e| DockerError::Api {
                what: what.clone(),
                reason: e.to_string(),
            })?
            .map_err(|e| DockerError::Api {
                what,
                reason: e.to_string(),
            })
    }
}

impl Engine {
    /// Starts `cmd` inside running container `id` (as the container's default user, with
    /// the container's environment) and returns its output stream and the exec's id.
    ///
    /// # Errors
    /// When the engine refuses (container not running, no such container).
    pub async fn exec(&self, id: &str, cmd: &[&str]) -> Result<(String, ExecStream), DockerError> {
        let what = format!("running {} in container {id}", cmd.first().unwrap_or(&""));
        let created = timed(
            &what,
            self.docker.create_exec(
                id,
                CreateExecOptions {
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    cmd: Some(cmd.iter().map(|c| (*c).to_owned()).collect()),
                    ..Default::default()
                },
            ),
        )
        .await?;
        match timed(&what, self.docker.start_exec(&created.id, None)).await? {
            StartExecResults::Attached { output, .. } => Ok((created.id, output)),
            StartExecResults::Detached => Err(DockerError::Api {
                what,
                reason: "the engine did not attach to the command's output".into(),
            }),
        }
    }

    /// Runs `cmd` in container `id` with `input` as its standard input, while its output is
    /// read (so a chatty command cannot stall); returns the exit code and the last 4 KiB of
    /// its standard output and error together. `input` is read on the caller's thread:
    /// only for sources that do not wait on the network (files, decoders).
    ///
    /// # Errors
    /// When the engine refuses the command or the input cannot be read.
    pub async fn exec_with_input(
        &self,
        id: &str,
        cmd: &[&str],
        input: &mut (dyn Read + Send),
    ) -> Result<(i64, String), DockerError> {
        use tokio::io::AsyncWriteExt;
        let what = format!("running {} in container {id}", cmd.first().unwrap_or(&""));
        let api = |reason: String| DockerError::Api {
            what: what.clone(),
            reason,
        };
        let created = timed(
            &what,
            self.docker.create_exec(
                id,
                CreateExecOptions {
                    attach_stdin: Some(true),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    cmd: Some(cmd.iter().map(|c| (*c).to_owned()).collect()),
                    ..Default::default()
                },
            ),
        )
        .await?;
        let StartExecResults::Attached {
            mut output,
            input: mut stdin,
        } = timed(&what, self.docker.start_exec(&created.id, None)).await?
        else {
            return Err(api("the engine did not attach to the command".into()));
        };
        let write = async {
            let mut buf = vec![0u8; 256 * 1024];
            loop {
                let n = input.read(&mut buf).map_err(|e| api(e.to_string()))?;
                if n == 0 {
                    break;
                }
                stdin
                    .write_all(&buf[..n])
                    .await
                    .map_err(|e| api(format!("the command stopped reading its input: {e}")))?;
            }
            stdin.shutdown().await.map_err(|e| api(e.to_string()))?;
            Ok::<(), DockerError>(())
        };
        let read = async {
            let mut tail: Vec<u8> = Vec::new();
            while let Some(item) = output.next().await {
                if let Ok(out) = item {
                    tail.extend_from_slice(&out.into_bytes());
                    if tail.len() > 4096 {
                        tail.drain(..tail.len() - 4096);
                    }
                }
            }
            tail
        };
        let (written, tail) = tokio::join!(write, read);
        let tail = String::from_utf8_lossy(&tail).into_owned();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            match self.exec_exit_code(&created.id).await? {
                Some(code) => {
                    // A command that failed early stops reading; its output says why.
                    if code == 0 {
                        written?;
                    }
                    return Ok((code, tail));
                }
                None if tokio::time::Instant::now() > deadline => {
                    return Err(DockerError::Timeout { what, secs: 10 })
                }
                None => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    /// The exit code of a finished exec, `None` while it still runs.
    ///
    /// # Errors
    /// When the engine refuses or does not answer.
    pub async fn exec_exit_code(&self, exec_id: &str) -> Result<Option<i64>, DockerError> {
        let r = timed(
            "reading a command's exit code",
            self.docker.inspect_exec(exec_id),
        )
        .await?;
        Ok(if r.running == Some(true) {
            None
        } else {
            r.exit_code
        })
    }

    /// Whether container `id` is running.
    ///
    /// # Errors
    /// When the engine refuses or does not answer.
    pub async fn is_running(&self, id: &str) -> Result<bool, DockerError> {
        let r = timed(
            &format!("inspecting container {id}"),
            self.docker.inspect_container(id, None),
        )
        .await?;
        Ok(r.state.and_then(|s| s.running).unwrap_or(false))
    }

    /// The last `lines` lines container `id` wrote (standard output and error), with every
    /// value of its environment longer than three characters replaced by `…`, so that a
    /// password that a start-up script echoed is not repeated in a report.
    ///
    /// # Errors
    /// When the engine refuses or does not answer.
    pub async fn log_tail(&self, id: &str, lines: usize) -> Result<String, DockerError> {
        let info = timed(
            &format!("inspecting container {id}"),
            self.docker.inspect_container(id, None),
        )
        .await?;
        let mut values: Vec<String> = info
            .config
            .and_then(|c| c.env)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|kv| kv.split_once('=').map(|(_, v)| v.to_owned()))
            .filter(|v| v.len() > 3)
            .collect();
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        let opts = bollard::query_parameters::LogsOptions {
            stdout: true,
            stderr: true,
            tail: lines.to_string(),
            ..Default::default()
        };
        let mut stream = self.docker.logs(id, Some(opts));
        let mut out = Vec::new();
        let read = async {
            while let Some(item) = stream.next().await {
                match item {
                    Ok(o) => out.extend_from_slice(&o.into_bytes()),
                    Err(e) => return Err(e),
                }
            }
            Ok(())
        };
        match tokio::time::timeout(CALL_TIMEOUT, read).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                return Err(DockerError::Api {
                    what: format!("reading the log of container {id}"),
                    reason: e.to_string(),
                })
            }
            Err(_) => {
                return Err(DockerError::Api {
                    what: format!("reading the log of container {id}"),
                    reason: "no answer in time".into(),
                })
            }
        }
        let mut text = String::from_utf8_lossy(&out).into_owned();
        for v in &values {
            text = text.replace(v.as_str(), "…");
        }
        Ok(text.trim().to_owned())
    }

    /// Stops container `id`, giving it `grace` to exit before the engine kills it.
    ///
    /// # Errors
    /// When the engine refuses or does not answer in time.
    pub async fn stop(&self, id: &str, grace: Duration) -> Result<(), DockerError> {
        let what = format!("stopping container {id}");
        let opts = StopContainerOptions {
            t: Some(grace.as_secs() as i32),
            signal: None,
        };
        match tokio::time::timeout(
            grace + CALL_TIMEOUT * 2,
            self.docker.stop_container(id, Some(opts)),
        )
        .await
        {
            Ok(Ok(())) => Ok(()),
            // 304: already stopped.
            Ok(Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 304, ..
            })) => Ok(()),
            Ok(Err(e)) => Err(DockerError::Api {
                what,
                reason: short_reason(&e.to_string()),
            }),
            Err(_) => Err(DockerError::Timeout {
                what,
                secs: (grace + CALL_TIMEOUT * 2).as_secs(),
            }),
        }
    }

    /// Starts container `id` (already running is fine).
    ///
    /// # Errors
    /// When the engine refuses or does not answer.
    pub async fn start(&self, id: &str) -> Result<(), DockerError> {
        let what = format!("starting container {id}");
        match tokio::time::timeout(
            CALL_TIMEOUT * 6,
            self.docker
                .start_container(id, None::<StartContainerOptions>),
        )
        .await
        {
            Ok(Ok(()))
            | Ok(Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 304, ..
            })) => Ok(()),
            Ok(Err(e)) => Err(DockerError::Api {
                what,
                reason: short_reason(&e.to_string()),
            }),
            Err(_) => Err(DockerError::Timeout {
                what,
                secs: (CALL_TIMEOUT * 6).as_secs(),
            }),
        }
    }

    /// The tar stream of `path` inside container `id` (the engine's archive API; works on
    /// stopped containers too).
    pub fn download(
        &self,
        id: &str,
        path: &str,
    ) -> impl futures_util::Stream<Item = Result<bytes::Bytes, bollard::errors::Error>> + Send + 'static
    {
        let opts = DownloadFromContainerOptions {
            path: path.to_owned(),
        };
        self.docker.download_from_container(id, Some(opts))
    }

    /// Extracts the tar stream `tar` at `path` inside container `id` (the engine's archive
    /// API; works on stopped containers, and writes through to their bind mounts and
    /// volumes), with the numeric owners the tar names.
    ///
    /// # Errors
    /// When the engine refuses (no such container or path).
    pub async fn upload(
        &self,
        id: &str,
        path: &str,
        tar: impl futures_util::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send + 'static,
    ) -> Result<(), DockerError> {
        let opts = bollard::query_parameters::UploadToContainerOptionsBuilder::new()
            .path(path)
            .copy_uidgid("1")
            .build();
        self.docker
            .upload_to_container(id, Some(opts), bollard::body_try_stream(tar))
            .await
            .map_err(|e| DockerError::Api {
                what: format!("writing {path} in container {id}"),
                reason: short_reason(&e.to_string()),
            })
    }
}

/// The output of a command run in a container.
pub type ExecStream = std::pin::Pin<
    Box<
        dyn futures_util::Stream<
                Item = Result<bollard::container::LogOutput, bollard::errors::Error>,
            > + Send,
    >,
>;

/// The first line of a long engine error, enough for a sentence; the HTTP client's own
/// words for a lost connection become a person's.
pub(crate) fn short_reason(s: &str) -> String {
    if s.contains("hyper legacy client")
        || s.contains("client error (Connect)")
        || s.contains("error reading a body from connection")
        || s.contains("connection closed before message completed")
    {
        return "the connection to the Docker engine broke (did Docker stop?)".into();
    }
    s.lines().next().unwrap_or(s).chars().take(200).collect()
}

/// `Up 3 minutes (healthy)` → `healthy`.
fn health_from_status(status: &str) -> Option<String> {
    let inner = status.rsplit_once('(')?.1.strip_suffix(')')?;
    let h = inner.trim_start_matches("health: ");
    matches!(h, "healthy" | "unhealthy" | "starting").then(|| h.to_owned())
}

struct ChannelReader {
    rx: std::sync::mpsc::Receiver<bytes::Bytes>,
    buf: bytes::Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.buf.is_empty() {
            match self.rx.recv() {
                Ok(b) => self.buf = b,
                Err(_) => return Ok(0),
            }
        }
        let n = out.len().min(self.buf.len());
        out[..n].copy_from_slice(&self.buf.split_to(n));
        Ok(n)
    }
}

fn count_tar(reader: impl Read) -> std::io::Result<(u64, u64)> {
    let mut archive = tar::Archive::new(reader);
    let (mut files, mut bytes) = (0u64, 0u64);
    for entry in archive.entries()? {
        let entry = entry?;
        if entry.header().entry_type().is_file() {
            files += 1;
            bytes += entry.header().size()?;
        }
    }
    Ok((files, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_is_read_from_status() {
        assert_eq!(
            health_from_status("Up 2 minutes (healthy)").as_deref(),
            Some("healthy")
        );
        assert_eq!(
            health_from_status("Up 1 second (health: starting)").as_deref(),
            Some("starting")
        );
        assert_eq!(
            health_from_status("Up 1 hour (unhealthy)").as_deref(),
            Some("unhealthy")
        );
        assert_eq!(health_from_status("Exited (0) 3 hours ago"), None);
    }

    #[test]
    fn tar_counting_counts_regular_files_only() {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(5);
        h.set_cksum();
        b.append_data(&mut h, "d/a", &b"hello"[..]).unwrap();
        let mut d = tar::Header::new_gnu();
        d.set_entry_type(tar::EntryType::Directory);
        d.set_size(0);
        d.set_cksum();
        b.append_data(&mut d, "d/", &[][..]).unwrap();
        let data = b.into_inner().unwrap();
        assert_eq!(count_tar(&data[..]).unwrap(), (1, 5));
    }
}
