//! Measures content-defined chunk sizes for the pieces format (issue #17): given the tar
//! streams of one stack on successive days, what each (minimum, average, maximum) setting
//! stores after all of them, how many pieces that makes and how large the largest is.
//!
//! Each piece is counted as it would be stored: compressed on its own (gzip, level 6), once
//! however many days hold it. Run by `bench/chunking.sh`, which makes the streams.
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

fn main() {
    let days: Vec<String> = std::env::args().skip(1).collect();
    if days.is_empty() {
        eprintln!("usage: chunk_sizes DAY0.tar [DAY1.tar …]");
        std::process::exit(2);
    }
    println!(
        "{:>18} {:>12} {:>12} {:>10} {:>12} {:>12}",
        "min/avg/max KiB", "day 0 MiB", "after MiB", "per day", "pieces", "largest KiB"
    );
    for &(min, avg, max) in SETTINGS {
        let mut seen: HashSet<[u8; 32]> = HashSet::new();
        let (mut stored, mut first_day, mut largest) = (0u64, 0u64, 0usize);
        for (d, path) in days.iter().enumerate() {
            let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{path}: {e}"));
            let chunker = fastcdc::v2020::StreamCDC::new(file, min * 1024, avg * 1024, max * 1024);
            for chunk in chunker {
                let chunk = chunk.expect("read");
                largest = largest.max(chunk.length);
                let id: [u8; 32] = Sha256::digest(&chunk.data).into();
                if seen.insert(id) {
                    stored += gz_len(&chunk.data);
                }
            }
            if d == 0 {
                first_day = stored;
            }
        }
        let mib = |b: u64| b as f64 / 1_048_576.0;
        let later = days.len().saturating_sub(1).max(1) as f64;
        println!(
            "{:>18} {:>12.1} {:>12.1} {:>10.2} {:>12} {:>12}",
            format!("{min}/{avg}/{max}"),
            mib(first_day),
            mib(stored),
            mib(stored - first_day) / later,
            seen.len(),
            largest / 1024
        );
    }
}
