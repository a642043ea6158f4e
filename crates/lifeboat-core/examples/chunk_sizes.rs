//! Measures content-defined chunk sizes for the pieces format (issue #17): given the tar
//! streams of one stack on successive days, what each (minimum, average, maximum) setting
//! stores after all of them, how many pieces that makes and how large the largest is.
//!
//! Each piece is counted as it would be stored: compressed on its own (gzip, level 6), once
//! however many days hold it. Each setting is measured twice: the stream cut by content
//! alone, and with a cut forced after the tar header of every file of at least the average
//! size and after its content (so such a file's pieces depend on its content alone). Run by
//! `bench/chunking.sh`, which makes the streams.
//!
//!     cargo run --release -p lifeboat-core --example chunk_sizes -- DAY0.tar DAY1.tar …

use std::collections::HashSet;
use std::io::Write;

use sha2::{Digest, Sha256};

/// (minimum, average, maximum) in KiB.
const SETTINGS: &[(u32, u32, u32)] = &[
    (64, 256, 1024),
    (256, 1024, 4096),
    (512, 2048, 8192),
    (1024, 4096, 16384),
];

fn gz_len(data: &[u8]) -> u64 {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    gz.write_all(data).expect("memory");
    gz.finish().expect("memory").len() as u64
}

/// Where the stream is cut whatever its content: around every file of `large` bytes or more.
fn file_cuts(data: &[u8], large: u64) -> Vec<usize> {
    let mut cuts = vec![0, data.len()];
    let mut ar = tar::Archive::new(data);
    for e in ar.entries().expect("a tar stream") {
        let e = e.expect("a tar entry");
        if e.size() >= large {
            let at = e.raw_file_position() as usize;
            cuts.push(at);
            cuts.push((at + e.size().div_ceil(512) as usize * 512).min(data.len()));
        }
    }
    cuts.sort_unstable();
    cuts.dedup();
    cuts
}

#[derive(Default)]
struct Tally {
    seen: HashSet<[u8; 32]>,
    stored: u64,
    first_day: u64,
    largest: usize,
}

impl Tally {
    fn piece(&mut self, data: &[u8]) {
        self.largest = self.largest.max(data.len());
        let id: [u8; 32] = Sha256::digest(data).into();
        if self.seen.insert(id) {
            self.stored += gz_len(data);
        }
    }

    fn row(&self, label: &str, days: usize) {
        let mib = |b: u64| b as f64 / 1_048_576.0;
        let later = days.saturating_sub(1).max(1) as f64;
        println!(
            "{label:>26} {:>10.1} {:>10.1} {:>9.2} {:>8} {:>12}",
            mib(self.first_day),
            mib(self.stored),
            mib(self.stored - self.first_day) / later,
            self.seen.len(),
            self.largest / 1024
        );
    }
}

fn main() {
    let days: Vec<String> = std::env::args().skip(1).collect();
    if days.is_empty() {
        eprintln!("usage: chunk_sizes DAY0.tar [DAY1.tar …]");
        std::process::exit(2);
    }
    println!(
        "{:>26} {:>10} {:>10} {:>9} {:>8} {:>12}",
        "min/avg/max KiB", "day 0 MiB", "after MiB", "MiB/day", "pieces", "largest KiB"
    );
    for &(min, avg, max) in SETTINGS {
        let (mut plain, mut cut) = (Tally::default(), Tally::default());
        for (d, path) in days.iter().enumerate() {
            let data = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
            let cdc = |part: &[u8], t: &mut Tally| {
                for c in fastcdc::v2020::FastCDC::new(part, min * 1024, avg * 1024, max * 1024) {
                    t.piece(&part[c.offset..c.offset + c.length]);
                }
            };
            cdc(&data, &mut plain);
            for w in file_cuts(&data, u64::from(avg) * 1024).windows(2) {
                cdc(&data[w[0]..w[1]], &mut cut);
            }
            if d == 0 {
                plain.first_day = plain.stored;
                cut.first_day = cut.stored;
            }
        }
        plain.row(&format!("{min}/{avg}/{max}"), days.len());
        cut.row(&format!("{min}/{avg}/{max} + file cuts"), days.len());
    }
}
