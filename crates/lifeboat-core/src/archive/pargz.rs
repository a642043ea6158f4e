//! Parallel gzip: the input is cut into blocks, each compressed on its own thread into a
//! standalone gzip member, and the members written in order. Stock `gzip -d` and `tar xzf`
//! read multi-member files. A block that does not shrink (model weights, media, archives)
//! is stored instead of deflated, so incompressible data costs almost no CPU time twice.
//!
//! Memory is bounded: at most `2 × threads` blocks are in flight.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::thread::JoinHandle;

use flate2::write::GzEncoder;
use flate2::Compression;

/// Size of one gzip member's input.
pub const BLOCK: usize = 1 << 20;

/// The most bytes one stored deflate block holds (its length is 16 bits).
const STORED_BLOCK: usize = 65_535;

type Job = (u64, Vec<u8>);
type Done = (u64, io::Result<Vec<u8>>);

/// A writer that gzips what it is given, in parallel, into `inner`. Call
/// [`ParGzWriter::finish`]: dropping it loses the last block.
pub struct ParGzWriter<W: Write> {
    inner: W,
    block: Vec<u8>,
    jobs: Option<Sender<Job>>,
    done: Receiver<Done>,
    workers: Vec<JoinHandle<()>>,
    next_seq: u64,
    next_write: u64,
    ready: BTreeMap<u64, Vec<u8>>,
    level: u32,
}

impl<W: Write> ParGzWriter<W> {
    /// Compresses at gzip `level` (0–9) with `threads` workers.
    pub fn new(inner: W, level: u32, threads: usize) -> Self {
        let (jobs_tx, jobs_rx) = channel::<Job>();
        let (done_tx, done_rx) = channel::<Done>();
        let jobs_rx = std::sync::Arc::new(std::sync::Mutex::new(jobs_rx));
        let workers = (0..threads.max(1))
            .map(|_| {
                let rx = jobs_rx.clone();
                let tx = done_tx.clone();
                std::thread::spawn(move || loop {
                    let job = rx.lock().map(|r| r.recv());
                    let Ok(Ok((seq, data))) = job else { return };
                    if tx.send((seq, compress(&data, level))).is_err() {
                        return;
                    }
                })
            })
            .collect();
        Self {
            inner,
            block: Vec::with_capacity(BLOCK),
            jobs: Some(jobs_tx),
            done: done_rx,
            workers,
            next_seq: 0,
            next_write: 0,
            ready: BTreeMap::new(),
            level,
        }
    }

    fn in_flight(&self) -> u64 {
        self.next_seq - self.next_write - self.ready.len() as u64
    }

    fn submit(&mut self) -> io::Result<()> {
        if self.block.is_empty() {
            return Ok(());
        }
        let data = std::mem::replace(&mut self.block, Vec::with_capacity(BLOCK));
        let limit = 2 * self.workers.len() as u64;
        while self.in_flight() + self.ready.len() as u64 >= limit {
            self.receive_one()?;
        }
        self.jobs
            .as_ref()
            .ok_or_else(|| io::Error::other("compressor already finished"))?
            .send((self.next_seq, data))
            .map_err(|_| io::Error::other("a compression thread stopped"))?;
        self.next_seq += 1;
        Ok(())
    }

    fn receive_one(&mut self) -> io::Result<()> {
        let (seq, out) = self
            .done
            .recv()
            .map_err(|_| io::Error::other("a compression thread stopped"))?;
        self.ready.insert(seq, out?);
        while let Some(out) = self.ready.remove(&self.next_write) {
            self.inner.write_all(&out)?;
            self.next_write += 1;
        }
        Ok(())
    }

    /// Compresses what is left, writes every member, and returns the inner writer.
    ///
    /// # Errors
    /// When writing to the inner writer fails.
    pub fn finish(mut self) -> io::Result<W> {
        self.submit()?;
        if self.next_seq == 0 {
            // An empty input still makes a valid (empty) gzip file.
            self.inner.write_all(&compress(&[], self.level)?)?;
        }
        while self.next_write < self.next_seq {
            self.receive_one()?;
        }
        self.jobs = None;
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
        Ok(self.inner)
    }
}

impl<W: Write> Write for ParGzWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = buf.len().min(BLOCK - self.block.len());
        self.block.extend_from_slice(&buf[..n]);
        if self.block.len() == BLOCK {
            self.submit()?;
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// One gzip member of `data`: deflated, or stored when deflating does not save 3%.
/// A cheap look at the block's start decides first (the byte histogram's entropy), so
/// incompressible data (model weights, media, archives) is not deflated for nothing.
pub(crate) fn compress(data: &[u8], level: u32) -> io::Result<Vec<u8>> {
    match member(data, level)? {
        Member::Deflated(out) => Ok(out),
        Member::Stored => stored(data),
    }
}

/// How [`member`] chose to hold a block.
pub(crate) enum Member {
    /// This gzip member.
    Deflated(Vec<u8>),
    /// Stored as it is ([`write_stored`]).
    Stored,
}

/// Decides how `data` is held, as [`compress`] does, without copying it when it is stored.
pub(crate) fn member(data: &[u8], level: u32) -> io::Result<Member> {
    const SAMPLE: usize = 64 << 10;
    if level > 0 && data.len() >= 4 * SAMPLE && entropy_bits(&data[..SAMPLE]) > 7.98 {
        return Ok(Member::Stored);
    }
    let mut enc = GzEncoder::new(
        Vec::with_capacity(data.len() / 2 + 64),
        Compression::new(level),
    );
    enc.write_all(data)?;
    let out = enc.finish()?;
    if level > 0 && out.len() as f64 > data.len() as f64 * 0.97 {
        return Ok(Member::Stored);
    }
    Ok(Member::Deflated(out))
}

/// Writes `data` as one gzip member of stored deflate blocks (RFC 1951 §3.2.4) into `out`,
/// without a copy of the data in between (most of a stack can be model weights): a header,
/// then per [`STORED_BLOCK`] bytes a 5-byte block header and the bytes as they are, then
/// CRC-32 and size. Written here rather than through the deflate encoder, which is several
/// times slower at level 0.
pub(crate) fn write_stored(data: &[u8], out: &mut impl Write) -> io::Result<()> {
    // ID1 ID2 CM=deflate FLG=0 MTIME=0 XFL=0 OS=255 (unknown), then the blocks.
    out.write_all(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255])?;
    let mut chunks = data.chunks(STORED_BLOCK).peekable();
    if chunks.peek().is_none() {
        out.write_all(&[1, 0, 0, 0xff, 0xff])?;
    }
    while let Some(chunk) = chunks.next() {
        let last = u8::from(chunks.peek().is_none());
        let len = chunk.len() as u16;
        let [l0, l1] = len.to_le_bytes();
        let [n0, n1] = (!len).to_le_bytes();
        out.write_all(&[last, l0, l1, n0, n1])?;
        out.write_all(chunk)?;
    }
    out.write_all(&crc32fast::hash(data).to_le_bytes())?;
    out.write_all(&(data.len() as u32).to_le_bytes())
}

/// Shannon entropy of the bytes of `sample`, in bits per byte (8.0: looks random).
fn entropy_bits(sample: &[u8]) -> f64 {
    let mut counts = [0u32; 256];
    for &b in sample {
        counts[b as usize] += 1;
    }
    let n = sample.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

/// [`write_stored`] into memory.
fn stored(data: &[u8]) -> io::Result<Vec<u8>> {
    let blocks = data.len().div_ceil(STORED_BLOCK).max(1);
    let mut out = Vec::with_capacity(data.len() + blocks * 5 + 18);
    write_stored(data, &mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn roundtrip(data: &[u8], threads: usize) -> Vec<u8> {
        let mut w = ParGzWriter::new(Vec::new(), 6, threads);
        for chunk in data.chunks(77_777) {
            w.write_all(chunk).unwrap();
        }
        let gz = w.finish().unwrap();
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&gz[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, data);
        gz
    }

    #[test]
    fn multi_member_round_trip_and_stored_blocks() {
        let text: Vec<u8> = (0..5 * BLOCK + 123)
            .map(|i| b"lifeboat backs up "[i % 18])
            .collect();
        let gz = roundtrip(&text, 3);
        assert!(gz.len() < text.len() / 20, "text compresses: {}", gz.len());
        let mut x = 0x1234_5678u64;
        let noise: Vec<u8> = (0..3 * BLOCK)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let gz = roundtrip(&noise, 2);
        assert!(
            gz.len() <= noise.len() + 3 * 200,
            "noise is stored, not inflated: {}",
            gz.len()
        );
        roundtrip(&[], 1);
    }

    #[test]
    fn entropy_tells_noise_from_text() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let noise: Vec<u8> = (0..65_536)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        assert!(entropy_bits(&noise) > 7.98);
        let text: Vec<u8> = (0..65_536)
            .map(|i| b"INSERT INTO t VALUES (1);"[i % 25])
            .collect();
        assert!(entropy_bits(&text) < 5.0);
    }

    #[test]
    fn stored_members_are_read_by_gzip() {
        for len in [0usize, 1, 65_535, 65_536, 200_000] {
            let data: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
            let gz = stored(&data).unwrap();
            let mut out = Vec::new();
            flate2::read::MultiGzDecoder::new(&gz[..])
                .read_to_end(&mut out)
                .unwrap();
            assert_eq!(out, data, "len {len}");
            // And the gzip command agrees (CRC and size checked).
            let mut child = std::process::Command::new("gzip")
                .args(["-t", "-"])
                .stdin(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            child.stdin.take().unwrap().write_all(&gz).unwrap();
            assert!(child.wait().unwrap().success(), "gzip -t rejects len {len}");
        }
    }
}
