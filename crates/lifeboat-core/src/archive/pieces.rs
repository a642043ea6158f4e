//! Pieces (format 2, `docs/FORMAT.md`): a component's tar stream cut by content-defined
//! chunking (FastCDC 2020) into pieces of [`MIN`]–[`MAX`] bytes, [`AVG`] on average, with
//! extra cuts after the header and after the content of every file of [`AVG`] bytes or more,
//! so a large file's pieces depend on its bytes alone. Each piece is its own gzip member and
//! its own age file, named by a keyed BLAKE3 hash of its plaintext (the key derived from the
//! stack's identity) and stored once per destination in `pieces/XX/NAME`. Concatenated in
//! order, the pieces' plaintexts are a `.tar.gz` stream, so
//! `age -d -i key.txt LIST | xargs -n1 age -d -i key.txt | tar -xzf -` restores one.
//!
//! Writing is a pipeline: the caller's thread cuts the stream; workers name, compress,
//! encrypt and write the pieces (a piece already there is not written again); one syncer
//! syncs each and renames it into place, so the workers do not wait for syncs.
//! Reading decrypts and decompresses pieces on workers and hands them over in order. Both
//! hold at most `2 × threads` pieces in memory.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use age::secrecy::ExposeSecret;
use sha2::{Digest, Sha256};

use super::sealed::{Key, Sealed};
use super::{commit, hex, pargz};

/// The smallest piece the chunker cuts (a stream's last piece, and a piece before a forced
/// cut, may be smaller).
pub const MIN: u32 = 256 << 10;
/// The average piece; files of this size or more get cuts of their own.
pub const AVG: u32 = 1 << 20;
/// The largest piece.
pub const MAX: u32 = 4 << 20;
/// The destination's folder of pieces. A compose project name cannot start with `_`, so no
/// stack's folder can be called this.
pub const DIR: &str = "_pieces";

/// The key that names pieces: derived from the identity, so names reveal nothing about
/// content to someone without it, and equal content under one identity has one name.
#[derive(Clone)]
pub struct PieceKey([u8; 32]);

impl PieceKey {
    /// The naming key of `identity`.
    pub fn of(identity: &age::x25519::Identity) -> Self {
        let secret = identity.to_string();
        Self(blake3::derive_key(
            "lifeboat 2026-12 piece names v1",
            secret.expose_secret().as_bytes(),
        ))
    }

    /// The name of a piece with this plaintext: 64 lowercase hex digits.
    pub fn name(&self, plain: &[u8]) -> String {
        hex(blake3::keyed_hash(&self.0, plain).as_bytes())
    }
}

/// A piece's path relative to the destination's root: `pieces/XX/NAME`.
pub fn rel_path(name: &str) -> String {
    format!("{DIR}/{}/{name}", &name[..2.min(name.len())])
}

/// Whether `name` looks like a piece name (so a listing never touches anything else).
pub fn is_piece_name(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A piece of a component, in stream order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    /// Its name.
    pub name: String,
    /// Plaintext bytes (of the tar stream).
    pub plain: u64,
    /// Bytes of its file in the destination.
    pub stored: u64,
    /// This run wrote it (it was not in the destination yet).
    pub new: bool,
}

/// Where the tar writer tells the piece writer about entries: cut before the next byte,
/// put pieces already stored into the stream in place of bytes (a large file that did not
/// change), and how far the stream has come. Cloned into the capture code; no-op when
/// unused.
#[derive(Debug, Clone, Default)]
pub struct Tap(Arc<TapState>);

#[derive(Debug, Default)]
struct TapState {
    cut: AtomicBool,
    /// Cut before the next byte if the piece under way holds [`MIN`] bytes or more.
    soft: AtomicBool,
    pos: AtomicU64,
    /// Pieces to put in the stream before the next byte (after a cut).
    stored: Mutex<Vec<Piece>>,
}

impl Tap {
    /// The next byte written starts a new piece.
    pub fn cut(&self) {
        self.0.cut.store(true, Ordering::Relaxed);
    }
    /// The next byte written starts a new piece, unless the piece under way would be
    /// smaller than [`MIN`]: a boundary worth having (between old and new content) that is
    /// not worth a tiny piece.
    pub fn soft_cut(&self) {
        self.0.soft.store(true, Ordering::Relaxed);
    }
    /// Bytes of the stream written so far.
    pub fn position(&self) -> u64 {
        self.0.pos.load(Ordering::Relaxed)
    }
    /// Puts `pieces`, already in the destination, into the stream here: the stream goes
    /// on as if their plaintexts had been written, without reading or storing anything.
    pub fn put_stored(&self, pieces: Vec<Piece>) {
        let len: u64 = pieces.iter().map(|p| p.plain).sum();
        self.cut();
        self.0
            .stored
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend(pieces);
        self.0.pos.fetch_add(len, Ordering::Relaxed);
    }
    fn take_cut(&self) -> bool {
        self.0.cut.swap(false, Ordering::Relaxed)
    }
    fn take_soft(&self) -> bool {
        self.0.soft.swap(false, Ordering::Relaxed)
    }
    fn take_stored(&self) -> Vec<Piece> {
        std::mem::take(
            &mut *self
                .0
                .stored
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }
}

/// The SHA-256 of a piece list's plaintext (hex): what the manifest records as a
/// format-2 component's checksum. Piece names are keyed hashes of their plaintexts, so
/// this pins the whole stream, and `age -d -i key.txt LIST | sha256sum` shows it.
pub fn list_digest<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    let mut h = Sha256::new();
    for name in names {
        h.update(rel_path(name).as_bytes());
        h.update(b"\n");
    }
    hex(&h.finalize())
}

/// A finished component stream.
#[derive(Debug, Clone)]
pub struct WrittenPieces {
    /// [`list_digest`] of its pieces.
    pub sha256: String,
    /// Plaintext bytes.
    pub bytes_in: u64,
    /// Its pieces in order.
    pub pieces: Vec<Piece>,
}

impl WrittenPieces {
    /// Bytes this run added to the destination.
    pub fn bytes_new(&self) -> u64 {
        let mut seen = std::collections::HashSet::new();
        self.pieces
            .iter()
            .filter(|p| p.new && seen.insert(&p.name))
            .map(|p| p.stored)
            .sum()
    }
    /// Bytes of all its pieces' files.
    pub fn bytes_stored(&self) -> u64 {
        self.pieces.iter().map(|p| p.stored).sum()
    }
}

/// Where and how pieces are stored.
#[derive(Clone)]
pub struct Store {
    /// The destination's root.
    pub dest: PathBuf,
    /// Names pieces.
    pub key: PieceKey,
    /// Encrypts them.
    pub recipient: age::x25519::Recipient,
}

impl Store {
    /// A piece's file.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dest.join(rel_path(name))
    }

    /// Names `plain`, and unless a piece of that name is there, compresses, encrypts and
    /// writes it as `.partial`, to be synced and renamed by [`Store::settle`]. Two writers
    /// of one name write equal content.
    fn put(&self, plain: &[u8], seq: u64) -> io::Result<Put> {
        let name = self.key.name(plain);
        let path = self.path(&name);
        if let Ok(m) = std::fs::metadata(&path) {
            if m.len() > 0 {
                return Ok(Put::There(Piece {
                    name,
                    plain: plain.len() as u64,
                    stored: m.len(),
                    new: false,
                }));
            }
        }
        let member = pargz::member(plain, 6)?;
        let dir = path.parent().unwrap_or(&self.dest);
        std::fs::create_dir_all(dir)?;
        let partial = dir.join(format!(".{name}.{}-{seq}.partial", std::process::id()));
        let _ = std::fs::remove_file(&partial);
        let written = (|| -> io::Result<(u64, File)> {
            let mut sealed = Sealed::create(
                &partial,
                Key::Recipients(std::slice::from_ref(&self.recipient)),
            )?;
            match &member {
                pargz::Member::Deflated(gz) => sealed.write_all(gz)?,
                pargz::Member::Stored => pargz::write_stored(plain, &mut sealed)?,
            }
            sealed.finish_unsynced()
        })();
        match written {
            Ok((stored, file)) => Ok(Put::Written(Unsynced {
                piece: Piece {
                    name,
                    plain: plain.len() as u64,
                    stored,
                    new: true,
                },
                file,
                partial,
                path,
            })),
            Err(e) => {
                let _ = std::fs::remove_file(&partial);
                Err(io::Error::new(e.kind(), format!("{}: {e}", path.display())))
            }
        }
    }

    /// Syncs a written piece and renames it into place: only then does its name exist.
    fn settle(w: Unsynced) -> io::Result<Piece> {
        let done = w.file.sync_all().and_then(|()| {
            drop(w.file);
            commit(&w.partial, &w.path)
        });
        match done {
            Ok(()) => Ok(w.piece),
            Err(e) => {
                let _ = std::fs::remove_file(&w.partial);
                Err(io::Error::new(
                    e.kind(),
                    format!("{}: {e}", w.path.display()),
                ))
            }
        }
    }
}

/// What [`Store::put`] did with a piece.
enum Put {
    /// A piece of that name was there already.
    There(Piece),
    /// It was written under a `.partial` name, not synced yet.
    Written(Unsynced),
}

/// A piece written but not yet synced nor renamed.
struct Unsynced {
    piece: Piece,
    file: File,
    partial: PathBuf,
    path: PathBuf,
}

type Job = (u64, Vec<u8>);

/// What the piece writer hears from its workers and its syncer.
enum Heard {
    /// A worker is done with a piece's plaintext: the buffer, for the next piece.
    Buffer(Vec<u8>),
    /// A piece is stored (synced and named), or failed.
    Done(u64, io::Result<Piece>),
}

/// Written pieces allowed to wait for their sync, beyond those being compressed: a sync
/// waits on the disk, not the processor, so compression goes on meanwhile (measured on a
/// cold first backup of 624 MiB: 3.0–3.4 s with syncs on the workers, 2.5 s with no sync at
/// all). Waiting pieces hold no buffer.
const SYNC_QUEUE: u64 = 8;

/// Cuts a tar stream into pieces and stores them. Use it as a `tar::Builder`'s writer,
/// then call [`PieceWriter::finish`]; dropping it stores nothing more.
///
/// Workers name, compress, encrypt and write pieces; one syncer syncs and renames them, so
/// the workers do not wait for syncs.
pub struct PieceWriter {
    buf: Vec<u8>,
    tap: Tap,
    bytes: u64,
    jobs: Option<Sender<Job>>,
    heard: Receiver<Heard>,
    workers: Vec<JoinHandle<()>>,
    syncer: Option<JoinHandle<()>>,
    /// Tells the workers to take no more jobs (set when the writer is dropped unfinished).
    stop: Arc<AtomicBool>,
    next_seq: u64,
    /// Plaintext buffers handed to workers and not given back yet.
    buffers_out: u64,
    pieces: BTreeMap<u64, Piece>,
    failed: Option<io::Error>,
    /// Buffers the workers gave back, for the next pieces (fresh 4 MiB buffers cost page
    /// faults every time).
    spare: Vec<Vec<u8>>,
}

impl PieceWriter {
    /// Stores into `store` with `threads` workers.
    pub fn new(store: Store, threads: usize) -> Self {
        let (jobs_tx, jobs_rx) = channel::<Job>();
        let (heard_tx, heard_rx) = channel::<Heard>();
        let (sync_tx, sync_rx) = channel::<(u64, Unsynced)>();
        let jobs_rx = Arc::new(Mutex::new(jobs_rx));
        let stop = Arc::new(AtomicBool::new(false));
        let workers = (0..threads.max(1))
            .map(|_| {
                let rx = jobs_rx.clone();
                let tx = heard_tx.clone();
                let sync = sync_tx.clone();
                let store = store.clone();
                let stop = stop.clone();
                std::thread::spawn(move || loop {
                    let job = rx.lock().map(|r| r.recv());
                    let Ok(Ok((seq, data))) = job else { return };
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let put = store.put(&data, seq);
                    if tx.send(Heard::Buffer(data)).is_err() {
                        return;
                    }
                    let sent = match put {
                        Ok(Put::Written(w)) => sync.send((seq, w)).is_ok(),
                        Ok(Put::There(piece)) => tx.send(Heard::Done(seq, Ok(piece))).is_ok(),
                        Err(e) => tx.send(Heard::Done(seq, Err(e))).is_ok(),
                    };
                    if !sent {
                        return;
                    }
                })
            })
            .collect();
        // The syncer settles every piece written, even after the writer is dropped, so no
        // `.partial` file outlives it; it ends when the last worker has.
        drop(sync_tx);
        let syncer = std::thread::spawn(move || {
            for (seq, w) in sync_rx {
                let _ = heard_tx.send(Heard::Done(seq, Store::settle(w)));
            }
        });
        Self {
            buf: Vec::with_capacity(3 * MAX as usize),
            tap: Tap::default(),
            bytes: 0,
            jobs: Some(jobs_tx),
            heard: heard_rx,
            workers,
            syncer: Some(syncer),
            stop,
            next_seq: 0,
            buffers_out: 0,
            pieces: BTreeMap::new(),
            failed: None,
            spare: Vec::new(),
        }
    }

    /// The handle the tar writer cuts through.
    pub fn tap(&self) -> Tap {
        self.tap.clone()
    }

    /// Pieces submitted and not stored yet.
    fn in_flight(&self) -> u64 {
        self.next_seq - self.pieces.len() as u64
    }

    fn receive_one(&mut self) -> io::Result<()> {
        match self.heard.recv() {
            Ok(Heard::Buffer(buf)) => {
                self.buffers_out -= 1;
                self.spare.push(buf);
                Ok(())
            }
            Ok(Heard::Done(seq, Ok(piece))) => {
                self.pieces.insert(seq, piece);
                Ok(())
            }
            Ok(Heard::Done(_, Err(e))) => Err(e),
            Err(_) => Err(io::Error::other("the piece writers stopped")),
        }
    }

    /// Hands `self.buf[start..start + len]` to a worker as the next piece, once fewer than
    /// two pieces per worker are being compressed and few enough wait for their sync.
    fn submit(&mut self, start: usize, len: usize) -> io::Result<()> {
        let busy = 2 * self.workers.len() as u64;
        while self.buffers_out >= busy || self.in_flight() >= busy + SYNC_QUEUE {
            self.receive_one()?;
        }
        let mut data = self.spare.pop().unwrap_or_default();
        data.clear();
        data.extend_from_slice(&self.buf[start..start + len]);
        let seq = self.next_seq;
        self.jobs
            .as_ref()
            .and_then(|j| j.send((seq, data)).ok())
            .ok_or_else(|| io::Error::other("the piece writers stopped"))?;
        self.next_seq += 1;
        self.buffers_out += 1;
        Ok(())
    }

    /// Cuts what is buffered into pieces: to its end, or (`keep_tail`) while at least
    /// [`MAX`] bytes are left, keeping the rest for more data. The rest moves to the
    /// buffer's front once, not once per piece.
    fn cut(&mut self, keep_tail: bool) -> io::Result<()> {
        let mut start = 0;
        loop {
            let left = self.buf.len() - start;
            if left == 0 || (keep_tail && left < MAX as usize) {
                break;
            }
            let len = first_cut(&self.buf[start..]);
            if let Err(e) = self.submit(start, len) {
                self.buf.drain(..start);
                return Err(e);
            }
            start += len;
        }
        self.buf.drain(..start);
        Ok(())
    }

    /// Cuts what is buffered into pieces, to its end.
    fn cut_all(&mut self) -> io::Result<()> {
        self.cut(false)
    }

    /// Cuts what is buffered when asked to, then takes in the stored pieces put in the
    /// stream there.
    fn take_tap(&mut self) -> io::Result<()> {
        let soft = self.tap.take_soft() && self.buf.len() >= MIN as usize;
        if self.tap.take_cut() || soft {
            self.cut_all()?;
        }
        for piece in self.tap.take_stored() {
            self.bytes += piece.plain;
            self.pieces.insert(self.next_seq, piece);
            self.next_seq += 1;
        }
        Ok(())
    }

    fn accept(&mut self, data: &[u8]) -> io::Result<()> {
        self.take_tap()?;
        self.bytes += data.len() as u64;
        self.tap.0.pos.store(self.bytes, Ordering::Relaxed);
        self.buf.extend_from_slice(data);
        // Cut once there is room for a few pieces, so the tail moves seldom.
        if self.buf.len() >= 2 * MAX as usize {
            self.cut(true)?;
        }
        Ok(())
    }

    /// Stores the last pieces and waits for every piece to be stored.
    ///
    /// # Errors
    /// When a piece could not be stored (a full disk shows here).
    pub fn finish(mut self) -> io::Result<WrittenPieces> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        self.take_tap()?;
        self.cut_all()?;
        while self.in_flight() > 0 {
            self.receive_one()?;
        }
        let pieces: Vec<Piece> = std::mem::take(&mut self.pieces).into_values().collect();
        Ok(WrittenPieces {
            sha256: list_digest(pieces.iter().map(|p| p.name.as_str())),
            bytes_in: self.bytes,
            pieces,
        })
    }
}

/// An unfinished writer (an error, a cancel) waits for the pieces being written and synced,
/// so none is left half-written (`.partial`) after the backup has returned; queued pieces
/// are dropped.
impl Drop for PieceWriter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.jobs = None;
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
        if let Some(s) = self.syncer.take() {
            let _ = s.join();
        }
    }
}

/// Where FastCDC cuts the first piece of `data` (all of it when it ends sooner).
fn first_cut(data: &[u8]) -> usize {
    if data.len() <= MIN as usize {
        return data.len();
    }
    fastcdc::v2020::FastCDC::new(data, MIN, AVG, MAX)
        .next()
        .map_or(data.len(), |c| c.length)
}

impl Write for PieceWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(e) = &self.failed {
            return Err(io::Error::new(e.kind(), e.to_string()));
        }
        match self.accept(buf) {
            Ok(()) => Ok(buf.len()),
            Err(e) => {
                let out = io::Error::new(e.kind(), e.to_string());
                self.failed = Some(e);
                Err(out)
            }
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Why a piece did not read back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PieceFault {
    /// No such file.
    #[error("the piece {0} is missing")]
    Missing(String),
    /// The file could not be read.
    #[error("the piece {0} cannot be read: {1}")]
    Unreadable(String, String),
    /// Its header or content does not decrypt with the key.
    #[error("the piece {0} does not decrypt with this key (damaged, or written with another key)")]
    Decrypt(String),
    /// It decrypted but is not a whole gzip member.
    #[error("the piece {0} is damaged ({1})")]
    Damaged(String, String),
    /// Its content is not what its name says.
    #[error("the piece {0} holds other content than its name says (damaged, or swapped in from another destination)")]
    Foreign(String),
    /// Its plaintext size is not the one recorded.
    #[error("the piece {0} holds {1} bytes where {2} were recorded")]
    WrongSize(String, u64, u64),
}

impl PieceFault {
    /// As an I/O error, for readers.
    pub fn into_io(self) -> io::Error {
        let kind = match self {
            Self::Missing(_) => io::ErrorKind::NotFound,
            _ => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, self)
    }
}

/// Reads, decrypts, decompresses and checks one piece; returns its plaintext.
///
/// # Errors
/// What is wrong with it.
pub fn read_piece(
    dest: &Path,
    key: &PieceKey,
    identity: &age::x25519::Identity,
    name: &str,
    plain: Option<u64>,
) -> Result<Vec<u8>, PieceFault> {
    let rel = rel_path(name);
    let file = match File::open(dest.join(&rel)) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(PieceFault::Missing(rel)),
        Err(e) => return Err(PieceFault::Unreadable(rel, e.to_string())),
    };
    let reader = super::decrypt(BufReader::new(file), identity, Path::new(&rel))
        .map_err(|_| PieceFault::Decrypt(rel.clone()))?;
    let mut gz = flate2::read::MultiGzDecoder::new(BufReader::new(reader));
    let mut out = Vec::with_capacity(plain.unwrap_or(u64::from(AVG)) as usize);
    if let Err(e) = gz.read_to_end(&mut out) {
        // age reports a failed authentication as InvalidData inside the payload.
        return Err(if e.to_string().contains("decrypt") {
            PieceFault::Decrypt(rel)
        } else {
            PieceFault::Damaged(rel, e.to_string())
        });
    }
    if key.name(&out) != name {
        return Err(PieceFault::Foreign(rel));
    }
    if let Some(want) = plain.filter(|&w| w != out.len() as u64) {
        return Err(PieceFault::WrongSize(rel, out.len() as u64, want));
    }
    Ok(out)
}

/// Whether a piece's age header opens with `identity` (it belongs to this key), reading
/// only the header.
pub fn header_opens(path: &Path, identity: &age::x25519::Identity) -> io::Result<bool> {
    let file = File::open(path)?;
    Ok(super::decrypt(BufReader::new(file), identity, path).is_ok())
}

type Got = (usize, Result<Vec<u8>, PieceFault>);

/// A component's plaintext read back from its pieces, in order, each checked against its
/// name, decrypted and decompressed on `threads` workers.
pub struct PieceReader {
    rx: Receiver<Got>,
    ahead: BTreeMap<usize, Result<Vec<u8>, PieceFault>>,
    next: usize,
    total: usize,
    buf: Vec<u8>,
    pos: usize,
    stop: Arc<AtomicBool>,
    ticket: Arc<(Mutex<usize>, std::sync::Condvar)>,
}

impl PieceReader {
    /// Reads `pieces` (name, plaintext size) from `dest`.
    pub fn new(
        dest: &Path,
        identity: &age::x25519::Identity,
        pieces: Vec<(String, u64)>,
        threads: usize,
    ) -> Self {
        let (tx, rx) = channel::<Got>();
        let total = pieces.len();
        let pieces = Arc::new(pieces);
        let next_job = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        // How far the consumer has come: workers stay within 2 × threads pieces of it.
        let ticket = Arc::new((Mutex::new(0usize), std::sync::Condvar::new()));
        let key = PieceKey::of(identity);
        let window = 2 * threads.max(1);
        for _ in 0..threads.max(1) {
            let (tx, pieces, next_job, stop, ticket) = (
                tx.clone(),
                pieces.clone(),
                next_job.clone(),
                stop.clone(),
                ticket.clone(),
            );
            let (dest, key, identity) = (dest.to_owned(), key.clone(), identity.clone());
            std::thread::spawn(move || loop {
                let i = next_job.fetch_add(1, Ordering::Relaxed) as usize;
                if i >= pieces.len() || stop.load(Ordering::Relaxed) {
                    return;
                }
                {
                    let (lock, cv) = &*ticket;
                    let mut done = lock
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    while i >= *done + window && !stop.load(Ordering::Relaxed) {
                        done = cv
                            .wait(done)
                            .unwrap_or_else(std::sync::PoisonError::into_inner);
                    }
                }
                let (name, plain) = &pieces[i];
                let got = read_piece(&dest, &key, &identity, name, Some(*plain));
                if tx.send((i, got)).is_err() {
                    return;
                }
            });
        }
        Self {
            rx,
            ahead: BTreeMap::new(),
            next: 0,
            total,
            buf: Vec::new(),
            pos: 0,
            stop,
            ticket,
        }
    }

    fn advance(&mut self) -> io::Result<bool> {
        if self.next >= self.total {
            return Ok(false);
        }
        let got = loop {
            if let Some(got) = self.ahead.remove(&self.next) {
                break got;
            }
            match self.rx.recv() {
                Ok((i, got)) => {
                    self.ahead.insert(i, got);
                }
                Err(_) => return Err(io::Error::other("the piece readers stopped")),
            }
        };
        self.next += 1;
        {
            let (lock, cv) = &*self.ticket;
            *lock
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = self.next;
            cv.notify_all();
        }
        self.buf = got.map_err(PieceFault::into_io)?;
        self.pos = 0;
        Ok(true)
    }
}

impl Drop for PieceReader {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.ticket.1.notify_all();
    }
}

impl Read for PieceReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.buf.len() {
            if !self.advance()? {
                return Ok(0);
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// The plaintext of a component's piece list: one piece path per line, relative to the
/// destination's root, in stream order.
pub fn list_text(names: &[&str]) -> String {
    let mut s = String::with_capacity(names.len() * 76);
    for name in names {
        s.push_str(&rel_path(name));
        s.push('\n');
    }
    s
}

/// Writes a piece list, encrypted to `recipient`, at `path` (atomically).
///
/// # Errors
/// When it cannot be written.
pub fn write_list(
    path: &Path,
    recipient: &age::x25519::Recipient,
    names: &[&str],
) -> io::Result<()> {
    let text = list_text(names);
    super::sealed::write_atomic(
        path,
        Key::Recipients(std::slice::from_ref(recipient)),
        |w| w.write_all(text.as_bytes()),
    )
}

/// Reads a piece list back: piece names in order.
///
/// # Errors
/// When it is missing, does not decrypt, or holds a line that is not a piece path.
pub fn read_list(path: &Path, identity: &age::x25519::Identity) -> io::Result<Vec<String>> {
    let file = File::open(path)?;
    let mut r = super::decrypt(BufReader::new(file), identity, path)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
    let mut text = String::new();
    r.read_to_string(&mut text)?;
    text.lines()
        .map(|l| {
            let name = l.rsplit('/').next().unwrap_or_default();
            if is_piece_name(name) && l == rel_path(name) {
                Ok(name.to_owned())
            } else {
                Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: {l:?} is not a piece path", path.display()),
                ))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(dir: &Path, id: &age::x25519::Identity) -> Store {
        Store {
            dest: dir.to_owned(),
            key: PieceKey::of(id),
            recipient: id.to_public(),
        }
    }

    /// Pseudo-random bytes that do not compress, from a seed.
    fn noise(len: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect()
    }

    /// Stores `data` through a piece writer, in writes of `chunk` bytes.
    fn write_in(
        dir: &Path,
        id: &age::x25519::Identity,
        data: &[u8],
        chunk: usize,
    ) -> WrittenPieces {
        let mut w = PieceWriter::new(store(dir, id), 2);
        for part in data.chunks(chunk) {
            w.write_all(part).unwrap();
        }
        w.finish().unwrap()
    }

    #[test]
    fn a_stream_round_trips_and_equal_content_is_stored_once() {
        let dir = tempfile::tempdir().unwrap();
        let id = age::x25519::Identity::generate();
        let data = noise(9 << 20, 7);
        let write = |data: &[u8]| write_in(dir.path(), &id, data, 100_000);
        let first = write(&data);
        assert!(first.pieces.len() >= 3, "{}", first.pieces.len());
        assert!(first.pieces.iter().all(|p| p.new));
        assert!(first.pieces.iter().all(|p| p.plain <= u64::from(MAX)));
        assert_eq!(
            first.pieces.iter().map(|p| p.plain).sum::<u64>(),
            data.len() as u64
        );
        let again = write(&data);
        assert!(again.pieces.iter().all(|p| !p.new));
        assert_eq!(again.sha256, first.sha256);
        let list: Vec<(String, u64)> = first
            .pieces
            .iter()
            .map(|p| (p.name.clone(), p.plain))
            .collect();
        let mut back = Vec::new();
        PieceReader::new(dir.path(), &id, list, 3)
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back.len(), data.len());
        assert!(back == data);
    }

    /// Every file under `dir`, recursively.
    fn files_under(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p);
            }
        }
        out
    }

    #[test]
    fn a_writer_dropped_unfinished_leaves_no_half_written_piece() {
        // A backup that fails or is cancelled drops its writer with pieces in flight; by the
        // time the drop returns, every piece file is whole (renamed) or gone.
        for round in 0..5 {
            let dir = tempfile::tempdir().unwrap();
            let id = age::x25519::Identity::generate();
            let mut w = PieceWriter::new(store(dir.path(), &id), 2);
            w.write_all(&noise(20 << 20, round)).unwrap();
            drop(w);
            let files = files_under(dir.path());
            let half: Vec<_> = files
                .iter()
                .filter(|p| p.to_string_lossy().ends_with(".partial"))
                .collect();
            assert!(half.is_empty(), "round {round}: {half:?}");
            let snapshot = files.len();
            std::thread::sleep(std::time::Duration::from_millis(200));
            assert_eq!(
                files_under(dir.path()).len(),
                snapshot,
                "round {round}: pieces were still being written after the drop"
            );
        }
    }

    #[test]
    fn an_insertion_rewrites_only_nearby_pieces() {
        let dir = tempfile::tempdir().unwrap();
        let id = age::x25519::Identity::generate();
        let data = noise(24 << 20, 3);
        let write = |data: &[u8]| write_in(dir.path(), &id, data, data.len());
        let first = write(&data);
        let mut changed = data.clone();
        changed.splice(12 << 20..12 << 20, noise(1000, 9));
        let second = write(&changed);
        let new = second.pieces.iter().filter(|p| p.new).count();
        assert!(
            (1..=3).contains(&new),
            "{new} of {} pieces new after a 1000-byte insertion",
            second.pieces.len()
        );
        assert!(first.pieces.len() > 8);
    }

    #[test]
    fn a_forced_cut_starts_a_piece_and_damage_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let id = age::x25519::Identity::generate();
        let mut w = PieceWriter::new(store(dir.path(), &id), 1);
        let tap = w.tap();
        w.write_all(&noise(1000, 1)).unwrap();
        tap.cut();
        w.write_all(&noise(2000, 2)).unwrap();
        let out = w.finish().unwrap();
        assert_eq!(
            out.pieces.iter().map(|p| p.plain).collect::<Vec<_>>(),
            [1000, 2000]
        );
        let key = PieceKey::of(&id);
        let name = &out.pieces[1].name;
        let path = dir.path().join(rel_path(name));
        let mut bytes = std::fs::read(&path).unwrap();
        let n = bytes.len();
        bytes[n - 40] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        assert!(matches!(
            read_piece(dir.path(), &key, &id, name, None),
            Err(PieceFault::Decrypt(_))
        ));
        // The other piece under this one's name: content and name disagree.
        std::fs::copy(dir.path().join(rel_path(&out.pieces[0].name)), &path).unwrap();
        assert!(matches!(
            read_piece(dir.path(), &key, &id, name, None),
            Err(PieceFault::Foreign(_))
        ));
        std::fs::remove_file(&path).unwrap();
        assert!(matches!(
            read_piece(dir.path(), &key, &id, name, None),
            Err(PieceFault::Missing(_))
        ));
        let other = age::x25519::Identity::generate();
        assert!(matches!(
            read_piece(dir.path(), &key, &other, &out.pieces[0].name, None),
            Err(PieceFault::Decrypt(_))
        ));
    }
}
