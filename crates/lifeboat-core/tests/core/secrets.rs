//! Env files as documents on real files: every env file among the shared fixtures is read
//! and written back byte for byte, and an edit there changes only its own lines; edits keep
//! the file's mode and leave a dated copy inside the stack folder; the hygiene fixes work in
//! a real git repository.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use lifeboat_core::secrets::{self, EnvDoc, FindingCode};

use crate::harness::{load, shared, skip};

fn env_fixtures(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.filter_map(Result::ok) {
        let p = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if p.is_dir() {
            env_fixtures(&p, out);
        } else if name.starts_with(".env") || name.ends_with(".env") {
            out.push(p);
        }
    }
}

#[test]
fn every_fixture_env_file_round_trips_and_edits_touch_only_their_lines() {
    let dir = shared().join("fixtures/compose");
    if !dir.is_dir() {
        return skip("../shared/fixtures/compose is not beside the repository");
    }
    let mut files = Vec::new();
    env_fixtures(&dir, &mut files);
    assert!(files.len() >= 5, "{files:?}");
    let t = tempfile::tempdir().unwrap();
    for f in files {
        let original = std::fs::read(&f).unwrap();
        let doc = EnvDoc::load(&f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        assert_eq!(doc.text().as_bytes(), &original[..], "{}", f.display());
        // Written to a copy: byte for byte.
        let copy = t.path().join("copy.env");
        std::fs::write(&copy, &original).unwrap();
        let mut doc = EnvDoc::load(&copy).unwrap();
        assert_eq!(
            doc.save(&t.path().join("history")).unwrap(),
            None,
            "nothing to write"
        );
        assert_eq!(std::fs::read(&copy).unwrap(), original);
        // Edit the first variable: only its lines change.
        let entries = doc.entries().unwrap();
        let Some(first) = entries.iter().find(|e| e.line == e.last_line) else {
            continue;
        };
        doc.set(&first.key, "changed value with 'quotes' and $dollar")
            .unwrap();
        doc.save(&t.path().join("history")).unwrap();
        let after = std::fs::read_to_string(&copy).unwrap();
        let before = String::from_utf8(original).unwrap();
        let (b, a): (Vec<&str>, Vec<&str>) =
            (before.split('\n').collect(), after.split('\n').collect());
        assert_eq!(a.len(), b.len(), "{}", f.display());
        for (i, (x, y)) in b.iter().zip(&a).enumerate() {
            if i + 1 == first.line {
                assert_ne!(x, y);
            } else {
                assert_eq!(x, y, "{} line {}", f.display(), i + 1);
            }
        }
        assert_eq!(
            EnvDoc::load(&copy)
                .unwrap()
                .get(&first.key)
                .unwrap()
                .as_deref(),
            Some("changed value with 'quotes' and $dollar")
        );
        std::fs::remove_file(&copy).unwrap();
    }
}

#[test]
fn edits_keep_the_mode_and_a_dated_copy_and_fixes_work_in_git() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path();
    std::fs::write(
        dir.join("compose.yaml"),
        "services:\n  app:\n    image: n8nio/n8n\n    env_file: [app.env]\n    environment:\n      DB_PASSWORD: ${DB_PASSWORD}\n      TOKEN: ${API_TOKEN}\n  db:\n    image: postgres:16\n    environment:\n      POSTGRES_PASSWORD: ${DB_PASSWORD}\n",
    )
    .unwrap();
    std::fs::write(dir.join(".env"), "DB_PASSWORD=old-password-123\n").unwrap();
    std::fs::set_permissions(dir.join(".env"), std::fs::Permissions::from_mode(0o640)).unwrap();
    std::fs::write(dir.join("app.env"), "N8N_ENCRYPTION_KEY=abc\n").unwrap();
    std::fs::set_permissions(dir.join("app.env"), std::fs::Permissions::from_mode(0o600)).unwrap();
    let project = load(dir);

    let view = secrets::list(&project);
    let names: Vec<&str> = view.files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, [".env", "app.env"]);
    let db_pass = &view.files[0].variables[0];
    assert_eq!((db_pass.key.as_str(), db_pass.length), ("DB_PASSWORD", 16));
    assert_eq!(db_pass.used_by, ["app", "db"]);
    assert_eq!(view.files[1].variables[0].used_by, ["app"]);
    assert_eq!(view.undefined, ["API_TOKEN"]);
    // Nothing in the listing carries a value.
    let json = serde_json::to_string(&view).unwrap();
    assert!(
        !json.contains("old-password-123") && !json.contains("abc\""),
        "{json}"
    );

    let copy = secrets::set(&project, ".env", "DB_PASSWORD", "new-password-456")
        .unwrap()
        .expect("a dated copy");
    assert!(copy.starts_with(dir.join(".lifeboat/secrets-history")));
    assert_eq!(
        std::fs::read_to_string(&copy).unwrap(),
        "DB_PASSWORD=old-password-123\n"
    );
    assert_eq!(
        std::fs::metadata(&copy).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::metadata(dir.join(".env"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o640,
        "an edit keeps the file's mode"
    );
    assert_eq!(
        secrets::reveal(&project, ".env", "DB_PASSWORD").unwrap(),
        "new-password-456"
    );
    // The copy is listed and can be put back; what it replaces is kept in turn.
    let listed = secrets::copies(&project);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].file, ".env");
    assert!(listed[0].taken.ends_with(" UTC"), "{listed:?}");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    secrets::restore_copy(&project, &listed[0].name).unwrap();
    assert_eq!(
        secrets::reveal(&project, ".env", "DB_PASSWORD").unwrap(),
        "old-password-123"
    );
    assert_eq!(secrets::copies(&project).len(), 2);
    assert!(secrets::restore_copy(&project, "../../etc/passwd").is_err());
    secrets::set(&project, ".env", "DB_PASSWORD", "new-password-456").unwrap();
    // A name that is not one of the stack's env files is refused.
    assert!(secrets::set(&project, "../etc/passwd", "X", "y").is_err());
    assert!(secrets::reveal(&project, "/etc/passwd", "root").is_err());

    let git = |args: &[&str]| {
        let ok = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(ok, "git {args:?}");
    };
    if Command::new("git").arg("--version").output().is_err() {
        return skip("git is not installed");
    }
    git(&["init", "-q"]);
    let findings = secrets::check(&project, None);
    let codes: Vec<(&str, Option<&str>)> = findings
        .iter()
        .map(|f| (f.code.as_str(), f.file.as_deref()))
        .collect();
    assert!(codes.contains(&("file-mode", Some(".env"))), "{codes:?}");
    assert!(
        codes.contains(&("not-gitignored", Some(".env"))),
        "{codes:?}"
    );
    assert!(
        codes.contains(&("not-gitignored", Some("app.env"))),
        "{codes:?}"
    );
    assert!(
        codes.contains(&("undefined-variable", Some(".env"))),
        "{codes:?}"
    );
    assert!(
        !codes.contains(&("file-mode", Some("app.env"))),
        "{codes:?}"
    );
    let done = secrets::fix(&project, &findings).unwrap();
    assert_eq!(done.len(), 2, "{done:?}");
    let after: Vec<&str> = secrets::check(&project, None)
        .into_iter()
        .map(|f| f.code.as_str())
        .collect();
    assert_eq!(
        after,
        ["undefined-variable"],
        "only what cannot be fixed is left"
    );
    assert_eq!(
        std::fs::metadata(dir.join(".env"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    // Real git agrees that both files are ignored now, and so are the dated copies.
    let copy_rel = copy.strip_prefix(dir).unwrap().display().to_string();
    for f in [".env", "app.env", copy_rel.as_str()] {
        let ignored = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(["check-ignore", "-q", f])
            .status()
            .unwrap()
            .success();
        assert!(ignored, "{f}");
    }

    // A secret typed into a shell is found in the history, without printing it.
    let home = dir.join("home");
    std::fs::create_dir(&home).unwrap();
    std::fs::write(
        home.join(".bash_history"),
        "ls\nexport DB_PASSWORD=new-password-456\n",
    )
    .unwrap();
    let f: Vec<_> = secrets::check(&project, Some(&home))
        .into_iter()
        .filter(|f| f.code == FindingCode::SecretInShellHistory)
        .collect();
    assert_eq!(f.len(), 1);
    assert!(!f[0].message.contains("new-password-456"));
}

/// Every file under `dir` (recursively) whose bytes contain `needle`.
#[test]
fn rotating_says_who_restarts_then_sets_a_value_suited_to_the_name() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path();
    std::fs::write(
        dir.join("compose.yaml"),
        "services:\n  app:\n    image: n8nio/n8n\n    environment:\n      DB_PASSWORD: ${DB_PASSWORD}\n  db:\n    image: postgres:16\n    environment:\n      POSTGRES_PASSWORD: ${DB_PASSWORD}\n",
    )
    .unwrap();
    std::fs::write(dir.join(".env"), "DB_PASSWORD=old-password-123\n").unwrap();
    let project = load(dir);
    let note = secrets::rotation(&project, ".env", "DB_PASSWORD").unwrap();
    assert!(note.contains("app") && note.contains("db"), "{note}");
    assert!(matches!(
        secrets::rotation(&project, ".env", "NOPE"),
        Err(secrets::SecretsError::UnknownVariable { .. })
    ));
    let copy = secrets::set_generated(&project, ".env", "DB_PASSWORD", None, None).unwrap();
    assert!(copy.is_some(), "the old value is kept as a dated copy");
    let text = std::fs::read_to_string(dir.join(".env")).unwrap();
    let value = text.trim().strip_prefix("DB_PASSWORD=").unwrap();
    let (kind, len) = secrets::GenKind::suggest("DB_PASSWORD");
    assert_ne!(value, "old-password-123");
    assert!(
        value.trim_matches('\'').len() >= len,
        "{kind:?} {len}: {value}"
    );
    // A kind and length given are used.
    secrets::set_generated(
        &project,
        ".env",
        "DB_PASSWORD",
        Some(secrets::GenKind::Hex),
        Some(40),
    )
    .unwrap();
    let text = std::fs::read_to_string(dir.join(".env")).unwrap();
    let value = text.trim().strip_prefix("DB_PASSWORD=").unwrap();
    assert_eq!(value.len(), 40, "{value}");
    assert!(value.chars().all(|c| c.is_ascii_hexdigit()), "{value}");
}

fn files_containing(dir: &Path, needle: &str, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.filter_map(Result::ok) {
        let p = e.path();
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            files_containing(&p, needle, out);
        } else if ft.is_file() {
            if let Ok(bytes) = std::fs::read(&p) {
                if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                    out.push(p);
                }
            }
        }
    }
}

#[test]
fn no_secret_value_leaves_the_stack_folder_in_the_clear() {
    use lifeboat_core::backup::{self, BackupOptions};
    use lifeboat_core::inspect::{inspect_stack, InspectOptions};
    use lifeboat_core::job::NoProgress;
    use lifeboat_core::{CancelToken, Catalog, LoadOptions};

    let t = tempfile::tempdir().unwrap();
    let started = std::time::SystemTime::now();
    let stack = t.path().join("stack");
    std::fs::create_dir_all(stack.join("data")).unwrap();
    let values = [
        "pg-Password-7f3a9c1e55",
        "jwt-Secret-Value-0b8d2e44aa",
        "typed-in-Later-91c2d7",
        "hardcoded-Inline-5e1f",
    ];
    std::fs::write(
        stack.join("compose.yaml"),
        format!(
            "services:\n  db:\n    image: postgres:16\n    env_file: [.env]\n    volumes: [./data:/var/lib/postgresql/data]\n  app:\n    image: n8nio/n8n\n    environment:\n      API_TOKEN: {}\n      JWT_SECRET: ${{JWT_SECRET}}\n",
            values[3]
        ),
    )
    .unwrap();
    std::fs::write(
        stack.join(".env"),
        format!(
            "POSTGRES_PASSWORD={}\nJWT_SECRET={}\n",
            values[0], values[1]
        ),
    )
    .unwrap();
    std::fs::write(
        stack.join("data/secrets.env"),
        format!("SESSION_KEY={}\n", values[1]),
    )
    .unwrap();
    let home = t.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let dest = t.path().join("dest");
    std::fs::create_dir(&dest).unwrap();

    let catalog = Catalog::open(&home.join("catalog.sqlite3")).unwrap();
    let rt = crate::harness::runtime();
    let (_, inspection) = rt
        .block_on(inspect_stack(
            &catalog,
            &stack,
            &LoadOptions::default(),
            InspectOptions {
                use_docker: false,
                ..InspectOptions::default()
            },
            std::sync::Arc::new(NoProgress),
            &CancelToken::new(),
        ))
        .unwrap();
    let project = load(&stack);
    secrets::set(&project, ".env", "POSTGRES_PASSWORD", values[2]).unwrap();
    let view = secrets::list(&project);
    let findings = secrets::check(&project, Some(&home));
    let id = age::x25519::Identity::generate();
    let report = backup::backup(
        &project,
        &id,
        &BackupOptions {
            threads: 2,
            ..BackupOptions::new(&dest)
        },
        &NoProgress,
        &CancelToken::new(),
    )
    .unwrap();
    // A restore of everything (the .env changed since): its plan, its report and its
    // journal carry no value; the old files it keeps stay in the stack folder.
    std::fs::write(stack.join(".env"), "POSTGRES_PASSWORD=changed-since\n").unwrap();
    let ropts = lifeboat_core::restore::RestoreOptions {
        from: dest.clone(),
        snapshot: "latest".into(),
        list_paths: true,
        catalog: Some(std::sync::Arc::new(catalog)),
        ..Default::default()
    };
    let planned = lifeboat_core::restore::plan(&ropts, &id).unwrap();
    let rplan = planned.preview().clone();
    let restored =
        lifeboat_core::restore::apply(planned, &id, &NoProgress, &CancelToken::new()).unwrap();
    assert!(std::fs::read_to_string(stack.join(".env"))
        .unwrap()
        .contains(values[2]));
    let journal =
        std::fs::read_to_string(Path::new(&restored.undo_folder).join("journal.json")).unwrap();
    let outputs = [
        serde_json::to_string(&inspection).unwrap(),
        serde_json::to_string(&view).unwrap(),
        serde_json::to_string(&findings).unwrap(),
        serde_json::to_string(&report).unwrap(),
        serde_json::to_string(&rplan).unwrap(),
        serde_json::to_string(&restored).unwrap(),
        journal,
    ];
    for v in values {
        for (i, o) in outputs.iter().enumerate() {
            assert!(!o.contains(v), "output {i} carries a secret value");
        }
        for place in [&home, &dest] {
            let mut hits = Vec::new();
            files_containing(place, v, &mut hits);
            assert!(hits.is_empty(), "{v} found in the clear in {hits:?}");
        }
        // Files this run put straight into the system's temp folder.
        for e in std::fs::read_dir(std::env::temp_dir())
            .unwrap()
            .filter_map(Result::ok)
        {
            let Ok(meta) = e.metadata() else { continue };
            if meta.is_file() && meta.modified().is_ok_and(|m| m >= started) {
                let bytes = std::fs::read(e.path()).unwrap_or_default();
                assert!(
                    !bytes.windows(v.len()).any(|w| w == v.as_bytes()),
                    "{v} found in {}",
                    e.path().display()
                );
            }
        }
    }
    // The secrets are in the backup, encrypted: decrypting shows them.
    let secrets_archive = report
        .components
        .iter()
        .find(|c| c.name == "secrets")
        .unwrap();
    let plain = crate::harness::plaintext(secrets_archive, &id);
    assert!(plain
        .windows(values[2].len())
        .any(|w| w == values[2].as_bytes()));
}

/// A service's `environment` as a map, whether written as a map or a list.
fn environment(compose: &str, service: &str) -> std::collections::BTreeMap<String, String> {
    let doc: serde_norway::Value = serde_norway::from_str(compose).unwrap();
    let env = &doc["services"][service]["environment"];
    let mut out = std::collections::BTreeMap::new();
    if let Some(m) = env.as_mapping() {
        for (k, v) in m {
            let v = match v {
                serde_norway::Value::String(s) => s.clone(),
                other => serde_norway::to_string(other).unwrap().trim().to_owned(),
            };
            out.insert(k.as_str().unwrap().to_owned(), v);
        }
    } else if let Some(seq) = env.as_sequence() {
        for item in seq {
            let (k, v) = item.as_str().unwrap().split_once('=').unwrap();
            out.insert(k.to_owned(), v.to_owned());
        }
    }
    out
}

#[test]
fn a_hardcoded_secret_moves_to_dotenv_with_the_same_effective_environment() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path();
    let original = "services:\n  app:\n    image: n8nio/n8n\n    environment:\n      API_TOKEN: 'tok-123 with space' # from the vendor\n      MODE: production\n  worker:\n    image: n8nio/n8n\n    environment:\n      - \"WORKER_SECRET=w0rk3r-s3cret\"\n      - PLAIN=1\n";
    std::fs::write(dir.join("compose.yaml"), original).unwrap();
    std::fs::write(dir.join(".env"), "EXISTING=1\n").unwrap();
    let project = load(dir);
    let findings: Vec<_> = secrets::check(&project, None)
        .into_iter()
        .filter(|f| f.code == FindingCode::HardcodedSecret)
        .collect();
    let vars: Vec<&str> = findings
        .iter()
        .filter_map(|f| f.variable.as_deref())
        .collect();
    assert_eq!(vars, ["API_TOKEN", "WORKER_SECRET"]);
    assert!(findings.iter().all(|f| f.fix.is_some()), "{findings:?}");
    // The diff shown first never carries the value.
    let plan = secrets::refactor::plan_move(&project, "app", "API_TOKEN").unwrap();
    let diff = plan.diff(dir);
    assert!(
        diff.contains("+      API_TOKEN: ${API_TOKEN} # from the vendor"),
        "{diff}"
    );
    assert!(!diff.contains("tok-123"), "{diff}");

    let done = secrets::fix(&project, &findings).unwrap();
    assert_eq!(done.len(), 2, "{done:?}");
    let after = std::fs::read_to_string(dir.join("compose.yaml")).unwrap();
    assert!(
        !after.contains("tok-123") && !after.contains("w0rk3r"),
        "{after}"
    );
    let env = EnvDoc::load(&dir.join(".env")).unwrap();
    assert_eq!(env.get("EXISTING").unwrap().as_deref(), Some("1"));
    // Interpolating the new compose file with .env gives back the old environment.
    let lookup = |k: &str| env.get(k).ok().flatten();
    let interpolated = lifeboat_core::stack::interpolate(&after, &lookup, &mut Vec::new());
    for svc in ["app", "worker"] {
        assert_eq!(
            environment(&interpolated, svc),
            environment(original, svc),
            "{svc}"
        );
    }
    // Lifeboat's own loader agrees there is nothing hard-coded left.
    let reloaded = load(dir);
    assert!(reloaded
        .services
        .iter()
        .all(|s| s.hardcoded_secrets.is_empty()));
    // Both files' previous versions are kept.
    let copies: Vec<String> = std::fs::read_dir(dir.join(".lifeboat/secrets-history"))
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        copies.iter().any(|c| c.starts_with("compose.yaml.")),
        "{copies:?}"
    );
    assert!(copies.iter().any(|c| c.starts_with(".env.")), "{copies:?}");
}

#[test]
fn secrets_in_copies_others_can_read_are_found_and_made_private() {
    let t = tempfile::tempdir().unwrap();
    let stack = t.path().join("stack");
    std::fs::create_dir_all(stack.join("data")).unwrap();
    let secret = "Db-Password-4c1e7a99";
    std::fs::write(
        stack.join("compose.yaml"),
        "services:\n  db:\n    image: postgres:16\n    env_file: [.env]\n",
    )
    .unwrap();
    let open = |p: &Path, text: String| {
        std::fs::write(p, text).unwrap();
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o644)).unwrap();
    };
    std::fs::write(stack.join(".env"), format!("POSTGRES_PASSWORD={secret}\n")).unwrap();
    std::fs::set_permissions(stack.join(".env"), std::fs::Permissions::from_mode(0o600)).unwrap();
    // Copies others can read: flagged.
    open(
        &stack.join(".env.bak"),
        format!("POSTGRES_PASSWORD={secret}\n"),
    );
    open(
        &stack.join("data/dump.sql"),
        format!("-- password '{secret}'\n"),
    );
    // Not copies, private, or without the value: not flagged.
    open(
        &stack.join(".env.example"),
        format!("POSTGRES_PASSWORD={secret}\n"),
    );
    open(&stack.join("notes.txt"), format!("{secret}\n"));
    std::fs::write(
        stack.join(".env.old"),
        format!("POSTGRES_PASSWORD={secret}\n"),
    )
    .unwrap();
    std::fs::set_permissions(
        stack.join(".env.old"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    open(&stack.join("other.bak"), "nothing secret\n".into());

    let project = load(&stack);
    let found: Vec<_> = secrets::check(&project, None)
        .into_iter()
        .filter(|f| f.code == FindingCode::SecretInReadableCopy)
        .collect();
    let files: Vec<&str> = found.iter().filter_map(|f| f.file.as_deref()).collect();
    assert_eq!(files, [".env.bak", "data/dump.sql"], "{found:?}");
    assert!(
        found
            .iter()
            .all(|f| f.variable.as_deref() == Some("POSTGRES_PASSWORD")
                && !f.message.contains(secret))
    );
    let done = secrets::fix(&project, &found).unwrap();
    assert_eq!(done.len(), 2, "{done:?}");
    for f in [".env.bak", "data/dump.sql"] {
        let mode = std::fs::metadata(stack.join(f))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{f}");
    }
    assert!(!secrets::check(&project, None)
        .iter()
        .any(|f| f.code == FindingCode::SecretInReadableCopy));
}
