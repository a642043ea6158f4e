//! Archives: one standalone `*.tar.gz.age` file per component — a tar stream (numeric
//! owners, modes, mtimes, symlinks, hard links), gzip-compressed in parallel as several
//! members, age-encrypted to the stack's identity. `age -d -i key.txt X.tar.gz.age | tar xzf -`
//! restores one with stock tools.
//!
//! Everything streams; the SHA-256 of the tar (the plaintext) is computed on the way and
//! names the archive. Files are written as `*.partial`, synced, then renamed.

pub mod pargz;
pub mod pieces;
pub mod sealed;

use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use pargz::ParGzWriter;
use sealed::{Key, Sealed};

/// Why an archive could not be written or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ArchiveError {
    /// Writing or reading the file failed (disk full, permission denied, …).
    #[error("{path}: {source}")]
    Io {
        /// The archive file.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: io::Error,
    },
    /// The archive could not be decrypted.
    #[error("{path}: decryption failed (wrong key or damaged file)")]
    Decrypt {
        /// The archive file.
        path: PathBuf,
    },
    /// The archive decrypted but its content is damaged.
    #[error("{path}: the archive is damaged ({reason})")]
    Damaged {
        /// The archive file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
}

impl ArchiveError {
    /// What turns an I/O error on `path` into an [`ArchiveError::Io`], for `map_err`.
    pub fn at(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.to_owned();
        move |source| Self::Io { path, source }
    }
}

/// Counts and hashes what passes through.
pub struct Hashing<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W> Hashing<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }
    /// The hex SHA-256 and byte count so far, and the inner value.
    pub fn into_parts(self) -> (String, u64, W) {
        (hex(&self.hasher.finalize()), self.bytes, self.inner)
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

/// The bytes of lowercase or uppercase hex `s`, when it is hex.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes on its own thread, so encryption and disk writes overlap with hashing (on the
/// caller's thread) and compression (on the workers). At most four chunks wait.
struct ThreadedWriter<W: Write + Send + 'static> {
    tx: Option<std::sync::mpsc::SyncSender<Vec<u8>>>,
    thread: Option<std::thread::JoinHandle<io::Result<W>>>,
}

impl<W: Write + Send + 'static> ThreadedWriter<W> {
    fn new(mut inner: W) -> Self {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(4);
        let thread = std::thread::spawn(move || {
            for chunk in rx {
                inner.write_all(&chunk)?;
            }
            Ok(inner)
        });
        Self {
            tx: Some(tx),
            thread: Some(thread),
        }
    }

    /// Waits for everything to be written and returns the inner writer.
    fn finish(mut self) -> io::Result<W> {
        self.tx = None;
        self.join()
    }

    fn join(&mut self) -> io::Result<W> {
        match self.thread.take().map(std::thread::JoinHandle::join) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(io::Error::other("the archive writer thread panicked")),
            None => Err(io::Error::other("the archive writer already finished")),
        }
    }
}

impl<W: Write + Send + 'static> Write for ThreadedWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let sent = self.tx.as_ref().map(|tx| tx.send(buf.to_vec()));
        match sent {
            Some(Ok(())) => Ok(buf.len()),
            // The thread stopped: its error (a full disk) says why.
            _ => {
                self.tx = None;
                Err(match self.join() {
                    Err(e) => e,
                    Ok(_) => io::Error::other("the archive writer stopped"),
                })
            }
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

type Pipeline = Hashing<ParGzWriter<ThreadedWriter<Sealed>>>;

/// Writes one encrypted archive. Feed it tar bytes through [`ArchiveWriter::writer`] (or
/// use it as the inner writer of a `tar::Builder`), then call [`ArchiveWriter::finish`].
pub struct ArchiveWriter {
    pipeline: Pipeline,
    partial: PathBuf,
}

/// A finished archive file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// SHA-256 of the plaintext (the tar stream).
    pub sha256: String,
    /// Plaintext bytes.
    pub bytes_in: u64,
    /// Bytes of the encrypted file.
    pub bytes_stored: u64,
    /// The `*.partial` file, synced, not yet renamed.
    pub partial: PathBuf,
}

impl ArchiveWriter {
    /// Starts `partial` (created new, mode 0600) encrypted to `recipients`.
    ///
    /// # Errors
    /// When the file cannot be created.
    pub fn create(
        partial: &Path,
        recipients: &[age::x25519::Recipient],
        threads: usize,
    ) -> Result<Self, ArchiveError> {
        let io_err = |source| ArchiveError::Io {
            path: partial.to_owned(),
            source,
        };
        let sealed = Sealed::create(partial, Key::Recipients(recipients)).map_err(io_err)?;
        let gz = ParGzWriter::new(ThreadedWriter::new(sealed), 6, threads);
        Ok(Self {
            pipeline: Hashing::new(gz),
            partial: partial.to_owned(),
        })
    }

    /// Where plaintext goes.
    pub fn writer(&mut self) -> &mut impl Write {
        &mut self.pipeline
    }

    /// Finishes compression and encryption and syncs the file.
    ///
    /// # Errors
    /// When writing or syncing fails (a full disk shows here).
    pub fn finish(self) -> Result<Written, ArchiveError> {
        let io_err = |source| ArchiveError::Io {
            path: self.partial.clone(),
            source,
        };
        let (sha256, bytes_in, gz) = self.pipeline.into_parts();
        let sealed = gz.finish().map_err(io_err)?.finish().map_err(io_err)?;
        let bytes_stored = sealed.finish().map_err(io_err)?;
        Ok(Written {
            sha256,
            bytes_in,
            bytes_stored,
            partial: self.partial,
        })
    }
}

impl Write for ArchiveWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pipeline.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Creates a new file readable only by its owner.
pub fn create_private(path: &Path) -> io::Result<File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)
}

/// Renames `from` to `to` and syncs the folder, so the new name survives a crash.
///
/// # Errors
/// When the rename or the sync fails.
pub fn commit(from: &Path, to: &Path) -> io::Result<()> {
    std::fs::rename(from, to)?;
    if let Some(dir) = to.parent() {
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// Opens an archive for reading: decrypted and decompressed plaintext (a tar stream).
///
/// # Errors
/// When the file cannot be opened or decrypted with `identity`.
pub fn open(
    path: &Path,
    identity: &age::x25519::Identity,
) -> Result<impl Read + Send, ArchiveError> {
    let file = File::open(path).map_err(|source| ArchiveError::Io {
        path: path.to_owned(),
        source,
    })?;
    let reader = decrypt(BufReader::with_capacity(1 << 20, file), identity, path)?;
    Ok(flate2::read::MultiGzDecoder::new(BufReader::with_capacity(
        1 << 20,
        ThreadedReader::new(reader),
    )))
}

/// Reads on its own thread, so decryption overlaps with decompression and whatever the
/// caller does with the plaintext (hashing, writing files). At most four chunks wait.
struct ThreadedReader {
    rx: std::sync::mpsc::Receiver<io::Result<Vec<u8>>>,
    buf: Vec<u8>,
    pos: usize,
    done: bool,
}

impl ThreadedReader {
    fn new<R: Read + Send + 'static>(mut inner: R) -> Self {
        let (tx, rx) = std::sync::mpsc::sync_channel::<io::Result<Vec<u8>>>(4);
        std::thread::spawn(move || loop {
            let mut chunk = vec![0u8; 1 << 18];
            let mut filled = 0;
            // Fill whole chunks: fewer, larger messages.
            let result = loop {
                match inner.read(&mut chunk[filled..]) {
                    Ok(0) => break Ok(()),
                    Ok(n) => {
                        filled += n;
                        if filled == chunk.len() {
                            break Ok(());
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => break Err(e),
                }
            };
            let end = filled < chunk.len();
            chunk.truncate(filled);
            let msg = match result {
                Ok(()) => Ok(chunk),
                Err(e) => Err(e),
            };
            let failed = msg.is_err();
            // The reader was dropped: stop.
            if tx.send(msg).is_err() || failed || end {
                return;
            }
        });
        Self {
            rx,
            buf: Vec::new(),
            pos: 0,
            done: false,
        }
    }
}

impl Read for ThreadedReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.buf.len() {
            if self.done {
                return Ok(0);
            }
            match self.rx.recv() {
                Ok(Ok(chunk)) => {
                    if chunk.is_empty() {
                        self.done = true;
                    }
                    self.buf = chunk;
                    self.pos = 0;
                }
                Ok(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                Err(_) => {
                    self.done = true;
                    return Ok(0);
                }
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Decrypts an age stream with `identity`.
///
/// # Errors
/// [`ArchiveError::Decrypt`] for a wrong key or a damaged header.
pub fn decrypt<R: io::BufRead>(
    input: R,
    identity: &age::x25519::Identity,
    path: &Path,
) -> Result<age::stream::StreamReader<R>, ArchiveError> {
    let decryptor = age::Decryptor::new_buffered(input).map_err(|_| ArchiveError::Decrypt {
        path: path.to_owned(),
    })?;
    decryptor
        .decrypt(std::iter::once(identity as &dyn age::Identity))
        .map_err(|_| ArchiveError::Decrypt {
            path: path.to_owned(),
        })
}

/// Decrypts and decompresses a whole archive, returning the plaintext's SHA-256 and size.
///
/// # Errors
/// When decryption fails or the stream is damaged or truncated.
pub fn hash_archive(
    path: &Path,
    identity: &age::x25519::Identity,
) -> Result<(String, u64), ArchiveError> {
    let reader = open(path, identity)?;
    let mut h = Hashing::new(reader);
    io::copy(&mut h, &mut io::sink()).map_err(|e| damaged(path, &e))?;
    let (sha, n, _) = h.into_parts();
    Ok((sha, n))
}

/// Maps a read error in the middle of an archive to [`ArchiveError::Damaged`] (or `Decrypt`
/// when age says the payload does not authenticate).
pub fn damaged(path: &Path, e: &io::Error) -> ArchiveError {
    ArchiveError::Damaged {
        path: path.to_owned(),
        reason: e.to_string(),
    }
}
