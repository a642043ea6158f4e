//! Integration tests of the core: real files, real SQLite, a real Docker engine.
//!
//! Tests that need something this machine may lack (the shared fixtures, Python, a Docker
//! daemon) say why they skip; with `LIFEBOAT_REQUIRE_ALL=1` (set by `.ci/run`) a skip fails.

mod backup;
mod databases;
mod docker;
mod fixtures;
mod harness;
mod keys;
mod layers;
mod parsers;
mod restore;
mod schedule;
mod secrets;
mod shapes;
