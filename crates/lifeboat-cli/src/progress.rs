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
    started: Instant,
    verb: &'static str,
}

impl Default for Terminal {
    fn default() -> Self {
        Self::new("Scanning")
    }
}

impl Terminal {
    /// A progress line that starts with `verb` ("Scanning", "Backing up").
    pub fn new(verb: &'static str) -> Self {
        Self {
            files: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            phase: Mutex::new(String::new()),
            last: Mutex::new(None),
            started: Instant::now(),
            verb,
        }
    }

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
        let bytes = self.bytes.load(Ordering::Relaxed);
        let secs = self.started.elapsed().as_secs_f64();
        let speed = if secs > 0.5 {
            format!(", {}/s", human_bytes((bytes as f64 / secs) as u64))
        } else {
            String::new()
        };
        eprint!(
            "\r\x1b[2K{}: {} files, {}{speed}  {phase}",
            self.verb,
            self.files.load(Ordering::Relaxed),
            human_bytes(bytes)
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
    fn services_stopped(&self, services: &[String]) {
        clear_line();
        eprintln!("Stopped for the backup: {}", services.join(", "));
    }
    fn services_started(&self) {
        clear_line();
        eprintln!("Started again.");
    }
}

/// Clears the progress line, if stderr is a terminal.
pub fn clear_line() {
    use std::io::IsTerminal;
    if std::io::stderr().is_terminal() {
        eprint!("\r\x1b[2K");
    }
}
