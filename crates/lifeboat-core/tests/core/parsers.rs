//! The parsers of what Lifeboat reads from others (compose files, env files, manifests)
//! under fuzz-style tests: arbitrary input never panics and an error is a sentence; the
//! inputs checked in under `inputs/` must be refused (`fail_*`), or read with a warning
//! that names what was left out (`warn_*`).

use std::path::{Path, PathBuf};

use lifeboat_core::backup::manifest::Manifest;
use lifeboat_core::stack::{self, LoadOptions};
use proptest::prelude::*;

fn inputs(prefix: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/core/inputs");
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no {prefix}* inputs");
    v
}

/// A compose file `text` in a folder of its own, loaded.
fn load_compose(text: &[u8]) -> Result<stack::Project, stack::StackError> {
    let t = tempfile::tempdir().unwrap();
    std::fs::write(t.path().join("compose.yaml"), text).unwrap();
    stack::load(t.path(), &LoadOptions::default())
}

fn env(text: &str) -> Result<Vec<stack::EnvEntry>, stack::EnvSyntaxError> {
    stack::parse_env(text, &|_| None, &mut Vec::new())
}

/// A manifest file holding `json`, encrypted as backups write them, read back.
fn read_manifest(json: &[u8]) -> Result<Manifest, lifeboat_core::backup::manifest::ManifestError> {
    let t = tempfile::tempdir().unwrap();
    let id = age::x25519::Identity::generate();
    let path = t.path().join("m.manifest.age");
    let recipients = [id.to_public()];
    lifeboat_core::archive::sealed::write_atomic(
        &path,
        lifeboat_core::archive::sealed::Key::Recipients(&recipients),
        |w| std::io::Write::write_all(w, json),
    )
    .unwrap();
    Manifest::read(&path, &id)
}

/// An error is a sentence: some words, no debug dump.
fn sentence(e: &dyn std::fmt::Display) {
    let s = e.to_string();
    assert!(s.len() > 10 && s.contains(' '), "not a sentence: {s:?}");
}

#[test]
fn checked_in_bad_compose_files_are_refused() {
    for p in inputs("fail_compose_") {
        let started = std::time::Instant::now();
        match load_compose(&std::fs::read(&p).unwrap()) {
            Ok(_) => panic!("{} was accepted", p.display()),
            Err(e) => sentence(&e),
        }
        // Refused quickly, not after expanding a billion aliases.
        assert!(started.elapsed().as_secs() < 10, "{}", p.display());
    }
}

#[test]
fn checked_in_compose_files_with_a_bad_field_warn_about_it() {
    for p in inputs("warn_compose_") {
        let project = load_compose(&std::fs::read(&p).unwrap()).unwrap();
        let said: Vec<&str> = project
            .warnings
            .iter()
            .filter(|w| w.service.as_deref() == Some("app"))
            .map(|w| w.message.as_str())
            .collect();
        assert!(
            said.iter().any(|m| m.contains("was not read")),
            "{}: {said:?}",
            p.display()
        );
    }
}

#[test]
fn checked_in_bad_env_files_are_refused() {
    for p in inputs("fail_env_") {
        match env(&std::fs::read_to_string(&p).unwrap()) {
            Ok(v) => panic!("{} was accepted: {v:?}", p.display()),
            Err(e) => sentence(&e),
        }
    }
}

#[test]
fn checked_in_bad_manifests_are_refused() {
    for p in inputs("fail_manifest_") {
        match read_manifest(&std::fs::read(&p).unwrap()) {
            Ok(_) => panic!("{} was accepted", p.display()),
            Err(e) => sentence(&e),
        }
    }
}

/// Pieces compose files are made of, so generated files get past the YAML layer and into
/// the loader's own checks.
fn compose_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("services:\n".to_owned()),
        Just("  app:\n".to_owned()),
        Just("    image: busybox\n".to_owned()),
        Just("    volumes: ['./data:/data', 'db:/var/lib/x', '/:/host']\n".to_owned()),
        Just("    env_file: .env\n".to_owned()),
        Just("    depends_on: [db]\n".to_owned()),
        Just("    build: .\n".to_owned()),
        Just("volumes:\n  db:\n".to_owned()),
        Just("include:\n  - other.yaml\n".to_owned()),
        Just("secrets:\n  s:\n    file: ./s.txt\n".to_owned()),
        "[ -~\n]{0,30}".prop_map(|s| s),
        "\\PC{0,12}".prop_map(|s| s),
    ];
    proptest::collection::vec(piece, 0..12).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn any_bytes_as_a_compose_file_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        if let Err(e) = load_compose(&bytes) {
            sentence(&e);
        }
    }

    #[test]
    fn compose_shaped_text_never_panics(text in compose_text()) {
        if let Err(e) = load_compose(text.as_bytes()) {
            sentence(&e);
        }
    }

    #[test]
    fn any_text_as_an_env_file_never_panics(text in "(\\PC|[\\\\'\"$#=\n\r\t {}:?-]){0,200}") {
        if let Err(e) = env(&text) {
            sentence(&e);
        }
    }

    #[test]
    fn any_bytes_as_a_manifest_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        if let Err(e) = read_manifest(&bytes) {
            sentence(&e);
        }
    }
}
