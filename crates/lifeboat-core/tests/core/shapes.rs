//! The four stack shapes of `gen_stack.py`: sizes equal the sum of the files' sizes (counted
//! by `find`), kinds come from images or data, and warnings fire exactly where the data
//! warrants them.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use lifeboat_core::stack::ServiceKind;
use lifeboat_core::WarningCode;

use crate::harness::{find_sizes, generate, inspect_files, load, skip};

fn codes(i: &lifeboat_core::Inspection) -> Vec<WarningCode> {
    i.warnings.iter().map(|w| w.code).collect()
}

fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn ai_chatbot() {
    let t = tempfile::tempdir().unwrap();
    if !generate("ai-chatbot", t.path()) {
        return;
    }
    let i = inspect_files(&load(t.path()));
    let data = t.path().join("data");
    let (bytes, files) = find_sizes(&data);
    assert_eq!((i.total_bytes, i.total_files), (bytes, files));
    for s in &i.services {
        let (b, f) = find_sizes(&data.join(&s.name));
        assert_eq!((s.bytes, s.files), (b, f), "{}", s.name);
    }
    let kinds: Vec<(&str, ServiceKind)> = i
        .services
        .iter()
        .map(|s| (s.name.as_str(), s.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            ("postgres", ServiceKind::Postgres),
            ("n8n", ServiceKind::N8n),
            ("ollama", ServiceKind::Ollama),
            ("qdrant", ServiceKind::Qdrant)
        ]
    );
    let n8n = i.services.iter().find(|s| s.name == "n8n").unwrap();
    assert!(n8n
        .sqlite_files
        .iter()
        .any(|f| f.ends_with("database.sqlite")));
    assert_eq!(
        i.services
            .iter()
            .find(|s| s.name == "ollama")
            .unwrap()
            .profiles,
        ["gpu-nvidia"]
    );
    // The model blob is the largest file.
    assert!(i.largest_files[0]
        .path
        .contains("ollama/models/blobs/sha256-"));
    assert_eq!(i.largest_files[0].service.as_deref(), Some("ollama"));
    assert!(i.free_bytes.is_some());
    // .env is 0600 and there is no git: nothing to warn about.
    assert_eq!(codes(&i), Vec::<WarningCode>::new(), "{:#?}", i.warnings);

    // Now break things the way self-hosters do.
    chmod(&t.path().join(".env"), 0o644);
    std::fs::rename(data.join("qdrant"), t.path().join("qdrant-moved")).unwrap();
    let i = inspect_files(&load(t.path()));
    let c = codes(&i);
    assert!(c.contains(&WarningCode::SecretsFileReadable), "{c:?}");
    let missing = i
        .warnings
        .iter()
        .find(|w| w.code == WarningCode::BindSourceMissing)
        .expect("bind source missing");
    assert_eq!(missing.service.as_deref(), Some("qdrant"));
    // No value from .env appears in any warning.
    let env = std::fs::read_to_string(t.path().join(".env")).unwrap();
    for line in env.lines() {
        let value = line.split_once('=').unwrap().1;
        if value.len() > 6 {
            assert!(
                i.warnings.iter().all(|w| !w.message.contains(value)),
                "a warning leaks a value"
            );
        }
    }
}

#[test]
fn whatsapp_with_a_live_sqlite_writer() {
    let t = tempfile::tempdir().unwrap();
    if !generate("whatsapp", t.path()) {
        return;
    }
    let i = inspect_files(&load(t.path()));
    // The data is in the named volume whatslang-data; without an engine its size is unknown
    // and the inspection says why instead of reporting 0 as a fact.
    let svc = &i.services[0];
    assert_eq!(
        svc.mounts[0].measured_by,
        lifeboat_core::inspect::SizeSource::None
    );
    assert!(!i.docker.reachable);
    assert!(!codes(&i).contains(&WarningCode::SqliteWalActive));

    // A second stack whose compose binds ./data, with a writer holding the WAL open.
    std::fs::write(
        t.path().join("compose.yaml"),
        "services:\n  bot:\n    build: .\n    volumes: [./data:/data]\n",
    )
    .unwrap();
    let db = t.path().join("data/messages.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
    conn.execute("INSERT INTO chats VALUES ('x@s.whatsapp.net', 'x', 1)", [])
        .unwrap();
    let i = inspect_files(&load(t.path()));
    let bot = &i.services[0];
    assert_eq!(bot.kind, ServiceKind::Sqlite, "{}", bot.kind_reason);
    assert!(bot.kind_reason.contains("messages.db"));
    let wal = i
        .warnings
        .iter()
        .find(|w| w.code == WarningCode::SqliteWalActive)
        .expect("WAL warning");
    assert!(wal.path.as_deref().unwrap().ends_with("messages.db"));
    assert_eq!((bot.bytes, bot.files), find_sizes(&t.path().join("data")));
    drop(conn);
}

#[test]
fn suite_with_secrets_in_data_and_git() {
    let t = tempfile::tempdir().unwrap();
    if !generate("suite", t.path()) {
        return;
    }
    let i = inspect_files(&load(t.path()));
    let backend = i.services.iter().find(|s| s.name == "backend").unwrap();
    assert_eq!(backend.kind, ServiceKind::Sqlite);
    assert_eq!(
        (backend.bytes, backend.files),
        find_sizes(&t.path().join("data"))
    );
    assert_eq!(
        i.services
            .iter()
            .find(|s| s.name == "frontend")
            .unwrap()
            .bytes,
        0
    );
    assert!(codes(&i).is_empty(), "{:#?}", i.warnings);

    // secrets.env readable by all, and the stack in a git repository that does not ignore it.
    chmod(&t.path().join("data/secrets.env"), 0o644);
    let git = |args: &[&str]| {
        Command::new("git")
            .arg("-C")
            .arg(t.path())
            .args(args)
            .output()
            .map(|o| o.status.success())
    };
    if !matches!(git(&["init", "-q"]), Ok(true)) {
        return skip("git is not installed");
    }
    let i = inspect_files(&load(t.path()));
    let c = codes(&i);
    assert!(c.contains(&WarningCode::SecretsFileReadable), "{c:?}");
    let not_ignored = i
        .warnings
        .iter()
        .find(|w| w.code == WarningCode::SecretsNotGitignored)
        .expect("gitignore warning");
    assert!(not_ignored
        .path
        .as_deref()
        .unwrap()
        .ends_with("secrets.env"));
    std::fs::write(t.path().join(".gitignore"), "data/\n").unwrap();
    let i = inspect_files(&load(t.path()));
    assert!(!codes(&i).contains(&WarningCode::SecretsNotGitignored));
}

#[test]
fn evolution_named_volumes_and_database_persistence() {
    let t = tempfile::tempdir().unwrap();
    if !generate("evolution", t.path()) {
        return;
    }
    let i = inspect_files(&load(t.path()));
    let pg = i.services.iter().find(|s| s.name == "postgres").unwrap();
    assert_eq!(pg.kind, ServiceKind::Postgres);
    // The init script bind mount is a file and is measured.
    let init = pg
        .mounts
        .iter()
        .find(|m| m.mount.target.ends_with("init-db.sql"))
        .unwrap();
    assert_eq!(
        init.bytes,
        std::fs::metadata(t.path().join("init-db.sql"))
            .unwrap()
            .len()
    );
    assert!(!codes(&i).contains(&WarningCode::DataNotPersisted));

    // A database with nothing mounted on its data directory loses data on `down`.
    std::fs::write(
        t.path().join("docker-compose.yml"),
        "services:\n  postgres:\n    image: postgres:15\n    volumes: [./init-db.sql:/docker-entrypoint-initdb.d/init.sql]\n  cache:\n    image: redis:7\n    tmpfs: [/data]\n",
    )
    .unwrap();
    let i = inspect_files(&load(t.path()));
    let mut lost: Vec<String> = i
        .warnings
        .iter()
        .filter(|w| w.code == WarningCode::DataNotPersisted)
        .filter_map(|w| w.service.clone())
        .collect();
    lost.sort();
    assert_eq!(lost, ["cache", "postgres"]);
}
