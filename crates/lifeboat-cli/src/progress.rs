//! Progress on a terminal: one line on stderr, rewritten in place.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use lifeboat_core::inspect::human_bytes;

/// Shows files and bytes counted so far and the current phase.
pub struct Terminal {
    files: AtomicU64,
    bytes: AtomicU64,
    phase: Mutex<String>,
    last: Mutex<Option<Instant>>,
}

impl Default for Terminal {
    fn default() -> Self {
        Self {
            files: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            phase: Mutex::new(String::new()),
            last: Mutex::new(None),
        }
    }
}

impl Terminal {
    fn draw(&self, force: bool) {
        let mut last = self
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !force && last.is_some_and(|t| t.elapsed().as_millis() < 100) {
            return;
        }
        *last = Some(Instant::now());
        let phase = self
            .phase
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let phase: String = phase
            .chars()
            .rev()
            .take(50)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        eprint!(
            "\r\x1b[2KScanning: {} files, {}  {phase}",
            self.files.load(Ordering::Relaxed),
            human_bytes(self.bytes.load(Ordering::Relaxed))
        );
        let _ = std::io::stderr().flush();
    }
}

impl lifeboat_core::Progress for Terminal {
    fn phase(&self, label: &str) {
        *self
            .phase
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = label.to_owned();
        self.draw(true);
    }
    fn advance(&self, files: u64, bytes: u64) {
        self.files.fetch_add(files, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        self.draw(false);
    }
}

/// Clears the progress line, if stderr is a terminal.
pub fn clear_line() {
    use std::io::IsTerminal;
    if std::io::stderr().is_terminal() {
        eprint!("\r\x1b[2K");
    }
}
