//! Lifeboat's core: everything the desktop app and the `lifeboat` command line do, with no
//! dependency on Tauri, so that it builds and tests headless.
//!
//! The pieces follow the words of the design: a [`stack`] is a folder with a compose file,
//! read the way `docker compose` reads it; [`inspect`] measures what a stack keeps on disk and
//! what is at risk; [`docker`] asks a Docker engine, when one is reachable, which containers
//! belong to the stack; the [`catalog`] remembers stacks, their runs and their settings.
//! [`backup`] writes encrypted snapshots into a [`destination`] (its layout), through
//! [`archive`] (tar, gzip, age; one encrypted-file writer, [`archive::sealed`]); [`restore`]
//! brings them back; [`keys`] keeps the age identity and its recovery file; [`secrets`]
//! manages env files. [`settings`] are what a person chooses (per stack and app-wide);
//! [`schedule`] says when a backup is due, [`scheduler`] runs one tick of them, [`alerts`]
//! says what needs attention, [`status`] where each stack stands, [`recovery`] puts right what a crash interrupted.
//!
//! Dependencies go one way, from the runners down to the foundations (a test,
//! `tests/core/layers.rs`, fails on a cycle):
//! `status`, `recovery` → `alerts` → `scheduler`, `restore`, `secrets` → `backup` → `inspect` → `settings`, `keys`
//! → `catalog`, `destination` → `schedule`, `stack`, `docker`, `archive` → `time`, `job`,
//! `longpath`, `sensitive`, `warning`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod alerts;
pub mod archive;
pub mod around;
pub mod backup;
pub mod catalog;
pub mod destination;
pub mod docker;
pub mod drill;
pub mod hooks;
pub mod inspect;
pub mod job;
pub mod keys;
pub mod longpath;
pub mod notify;
pub mod recovery;
pub mod restore;
pub mod schedule;
pub mod scheduler;
pub mod secrets;
pub mod sensitive;
pub mod settings;
pub mod stack;
pub mod status;
pub mod time;
pub mod warning;

pub use catalog::Catalog;
pub use inspect::Inspection;
pub use job::{CancelToken, Progress};
pub use stack::{LoadOptions, Project};
pub use warning::{Warning, WarningCode};

/// The version of Lifeboat, as Cargo knows it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
