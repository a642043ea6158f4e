//! The engine for synchronous callers: a backup runs on a plain thread and reads a dump or a
//! volume as a [`Read`], while bollard's futures run on a tokio runtime it is handed.
//!
//! Never call these from inside an async task: they block on the runtime's handle.

use std::io::{self, Read};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::runtime::Handle;

use super::{ContainerInfo, DockerError, Engine, ExecStream};

/// An [`Engine`] with the runtime to drive it, for synchronous code.
#[derive(Debug, Clone)]
pub struct BlockingEngine {
    engine: Engine,
    handle: Handle,
}

impl BlockingEngine {
    /// Wraps `engine`, driving its futures on `handle`.
    pub fn new(engine: Engine, handle: Handle) -> Self {
        Self { engine, handle }
    }

    /// Connects on `handle`'s runtime (see [`Engine::connect`]).
    ///
    /// # Errors
    /// [`DockerError::Unreachable`] when nothing answers.
    pub fn connect(host: Option<&str>, handle: Handle) -> Result<Self, DockerError> {
        let engine = handle.block_on(Engine::connect(host))?;
        Ok(Self { engine, handle })
    }

    /// The address of the engine.
    pub fn host(&self) -> &str {
        self.engine.host()
    }

    /// See [`Engine::project_containers`].
    ///
    /// # Errors
    /// When the engine refuses or does not answer.
    pub fn project_containers(&self, project: &str) -> Result<Vec<ContainerInfo>, DockerError> {
        self.handle
            .block_on(self.engine.project_containers(project))
    }

    /// See [`Engine::volume_mountpoint`].
    ///
    /// # Errors
    /// When the engine refuses or does not answer.
    pub fn volume_mountpoint(&self, name: &str) -> Result<Option<String>, DockerError> {
        self.handle.block_on(self.engine.volume_mountpoint(name))
    }

    /// See [`Engine::create_volume`].
    ///
    /// # Errors
    /// When the engine refuses or does not answer.
    pub fn create_volume(
        &self,
        name: &str,
        project: &str,
        key: &str,
    ) -> Result<String, DockerError> {
        self.handle
            .block_on(self.engine.create_volume(name, project, key))
    }

    /// See [`Engine::image_exists`].
    ///
    /// # Errors
    /// When the engine refuses or does not answer.
    pub fn image_exists(&self, image: &str) -> Result<bool, DockerError> {
        self.handle.block_on(self.engine.image_exists(image))
    }

    /// See [`Engine::create_helper`].
    ///
    /// # Errors
    /// When the engine refuses or does not answer.
    pub fn create_helper(
        &self,
        image: &str,
        volume: &str,
        script: &str,
    ) -> Result<String, DockerError> {
        self.handle
            .block_on(self.engine.create_helper(image, volume, script))
    }

    /// See [`Engine::create_throwaway`].
    ///
    /// # Errors
    /// When the engine refuses or does not answer.
    pub fn create_throwaway(&self, like: &str, drill: &str) -> Result<String, DockerError> {
        self.handle
            .block_on(self.engine.create_throwaway(like, drill))
    }

    /// See [`Engine::throwaways`].
    ///
    /// # Errors
    /// When the engine refuses or does not answer.
    pub fn throwaways(&self) -> Result<Vec<(String, String)>, DockerError> {
        self.handle.block_on(self.engine.throwaways())
    }

    /// See [`Engine::remove_throwaway`].
    ///
    /// # Errors
    /// When the engine refuses or does not answer.
    pub fn remove_throwaway(&self, id: &str) -> Result<(), DockerError> {
        self.handle.block_on(self.engine.remove_throwaway(id))
    }

    /// See [`Engine::wait_exit`].
    ///
    /// # Errors
    /// When the engine refuses, or the container runs longer than `limit`.
    pub fn wait_exit(&self, id: &str, limit: Duration) -> Result<i64, DockerError> {
        self.handle.block_on(self.engine.wait_exit(id, limit))
    }

    /// See [`Engine::remove_container`].
    ///
    /// # Errors
    /// When the engine refuses or does not answer.
    pub fn remove_container(&self, id: &str) -> Result<(), DockerError> {
        self.handle.block_on(self.engine.remove_container(id))
    }

    /// See [`Engine::is_running`].
    ///
    /// # Errors
    /// When the engine refuses or does not answer.
    pub fn is_running(&self, id: &str) -> Result<bool, DockerError> {
        self.handle.block_on(self.engine.is_running(id))
    }

    /// See [`Engine::log_tail`].
    ///
    /// # Errors
    /// When the engine refuses or does not answer.
    pub fn log_tail(&self, id: &str, lines: usize) -> Result<String, DockerError> {
        self.handle.block_on(self.engine.log_tail(id, lines))
    }

    /// See [`Engine::stop`].
    ///
    /// # Errors
    /// When the engine refuses or does not answer in time.
    pub fn stop(&self, id: &str, grace: Duration) -> Result<(), DockerError> {
        self.handle.block_on(self.engine.stop(id, grace))
    }

    /// See [`Engine::start`].
    ///
    /// # Errors
    /// When the engine refuses or does not answer.
    pub fn start(&self, id: &str) -> Result<(), DockerError> {
        self.handle.block_on(self.engine.start(id))
    }

    /// Runs `cmd` in container `id`; its standard output is read from the returned value.
    ///
    /// # Errors
    /// When the engine refuses to start the command.
    pub fn exec(&self, id: &str, cmd: &[&str]) -> Result<ExecOutput, DockerError> {
        let (exec_id, stream) = self.handle.block_on(self.engine.exec(id, cmd))?;
        Ok(ExecOutput {
            engine: self.clone(),
            exec_id,
            stream,
            buf: bytes::Bytes::new(),
            stderr: Vec::new(),
            done: false,
        })
    }

    /// Runs `cmd` in container `id` fed with `input` (see [`Engine::exec_with_input`]).
    ///
    /// # Errors
    /// When the engine refuses the command or the input cannot be read.
    pub fn exec_with_input(
        &self,
        id: &str,
        cmd: &[&str],
        input: &mut (dyn Read + Send),
    ) -> Result<(i64, String), DockerError> {
        self.handle
            .block_on(self.engine.exec_with_input(id, cmd, input))
    }

    /// Extracts what `produce` writes (a tar stream) at `path` in container `id`, keeping
    /// the tar's numeric owners (see [`Engine::upload`]). `produce` runs on its own thread.
    ///
    /// # Errors
    /// What the engine or `produce` said.
    pub fn upload(
        &self,
        id: &str,
        path: &str,
        produce: impl FnOnce(&mut dyn io::Write) -> io::Result<()> + Send + 'static,
    ) -> Result<(), DockerError> {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, io::Error>>(8);
        let producer = std::thread::spawn(move || {
            let mut w = ChannelWriter { tx: tx.clone() };
            let r = produce(&mut w);
            if let Err(e) = &r {
                let _ = tx.blocking_send(Err(io::Error::new(e.kind(), e.to_string())));
            }
            r
        });
        let stream = futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        });
        let sent = self.handle.block_on(self.engine.upload(id, path, stream));
        let produced = producer
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the tar writer panicked")));
        match (sent, produced) {
            (_, Err(e)) => Err(DockerError::Api {
                what: format!("writing {path} in container {id}"),
                reason: e.to_string(),
            }),
            (r, Ok(())) => r,
        }
    }

    /// The tar stream of `path` inside container `id`, as a reader.
    pub fn download(&self, id: &str, path: &str) -> ByteStream {
        ByteStream {
            handle: self.handle.clone(),
            stream: Box::pin(self.engine.download(id, path)),
            buf: bytes::Bytes::new(),
        }
    }
}

/// The standard output of a command running in a container. Standard error is kept (its
/// last 4 KiB) for the error message.
pub struct ExecOutput {
    engine: BlockingEngine,
    exec_id: String,
    stream: ExecStream,
    buf: bytes::Bytes,
    stderr: Vec<u8>,
    done: bool,
}

impl std::fmt::Debug for ExecOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecOutput")
            .field("exec_id", &self.exec_id)
            .finish_non_exhaustive()
    }
}

const STDERR_KEEP: usize = 4096;

impl ExecOutput {
    /// Reads what is left, then the command's exit code and the end of its standard error.
    ///
    /// # Errors
    /// When the engine does not say how the command ended.
    pub fn finish(mut self) -> Result<(i64, String), DockerError> {
        io::copy(&mut self, &mut io::sink()).map_err(|e| DockerError::Api {
            what: "reading a command's output".into(),
            reason: e.to_string(),
        })?;
        // The exit code can lag the end of the stream by a moment.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let code = self
                .engine
                .handle
                .block_on(self.engine.engine.exec_exit_code(&self.exec_id))?;
            match code {
                Some(c) => return Ok((c, String::from_utf8_lossy(&self.stderr).into_owned())),
                None if std::time::Instant::now() > deadline => {
                    return Err(DockerError::Timeout {
                        what: "waiting for a command to exit".into(),
                        secs: 10,
                    })
                }
                None => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }
}

impl Read for ExecOutput {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        use bollard::container::LogOutput;
        while self.buf.is_empty() {
            if self.done {
                return Ok(0);
            }
            match self.engine.handle.block_on(self.stream.next()) {
                None => self.done = true,
                Some(Ok(LogOutput::StdOut { message } | LogOutput::Console { message })) => {
                    self.buf = message;
                }
                Some(Ok(LogOutput::StdErr { message })) => {
                    self.stderr.extend_from_slice(&message);
                    if self.stderr.len() > STDERR_KEEP {
                        let cut = self.stderr.len() - STDERR_KEEP;
                        self.stderr.drain(..cut);
                    }
                }
                Some(Ok(LogOutput::StdIn { .. })) => {}
                Some(Err(e)) => return Err(io::Error::other(super::short_reason(&e.to_string()))),
            }
        }
        let n = out.len().min(self.buf.len());
        out[..n].copy_from_slice(&self.buf.split_to(n));
        Ok(n)
    }
}

/// A byte stream from the engine, as a reader.
pub struct ByteStream {
    handle: Handle,
    stream: std::pin::Pin<
        Box<dyn futures_util::Stream<Item = Result<bytes::Bytes, bollard::errors::Error>> + Send>,
    >,
    buf: bytes::Bytes,
}

impl std::fmt::Debug for ByteStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ByteStream").finish_non_exhaustive()
    }
}

impl Read for ByteStream {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.buf.is_empty() {
            match self.handle.block_on(self.stream.next()) {
                None => return Ok(0),
                Some(Ok(b)) => self.buf = b,
                Some(Err(e)) => return Err(io::Error::other(super::short_reason(&e.to_string()))),
            }
        }
        let n = out.len().min(self.buf.len());
        out[..n].copy_from_slice(&self.buf.split_to(n));
        Ok(n)
    }
}

/// Sends what is written to an async channel, in chunks.
struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<Result<bytes::Bytes, io::Error>>,
}

impl io::Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.tx
            .blocking_send(Ok(bytes::Bytes::copy_from_slice(buf)))
            .map_err(|_| io::Error::other("the engine stopped reading"))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
