//! Restore end to end on real files: every `gen_stack.py` shape damaged and restored in
//! place (bytes, modes, numeric owners, mtimes), a selective restore that touches only its
//! component, undo, hostile archives of every escape kind refused with nothing written
//! outside the target, and a damaged archive that changes nothing.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use lifeboat_core::archive::ArchiveWriter;
use lifeboat_core::backup::manifest::{ComponentEntry, ComponentKind, FileEntry, Manifest, Recipe};
use lifeboat_core::backup::{self, BackupOptions};
use lifeboat_core::job::NoProgress;
use lifeboat_core::restore::{self, extract::ExtractError, Action, RestoreError, RestoreOptions};
use lifeboat_core::{CancelToken, Catalog};

use crate::backup::{assert_same_tree, assert_same_tree_and_folder_times};
use crate::harness::{generate, load, restore_now};

fn catalog(dir: &Path) -> Arc<Catalog> {
    Arc::new(Catalog::open(&dir.join("catalog.sqlite3")).unwrap())
}

fn opts(dest: &Path, only: &[&str], cat: &Arc<Catalog>) -> RestoreOptions {
    RestoreOptions {
        from: dest.to_owned(),
        snapshot: "latest".into(),
        only: only.iter().map(|s| (*s).to_owned()).collect(),
        catalog: Some(cat.clone()),
        ..RestoreOptions::default()
    }
}

fn copy_tree(from: &Path, to: &Path) {
    let ok = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap()
        .success();
    assert!(ok, "cp -a {}", from.display());
}

/// A copy of the example stack in `dir/stack`, backed up to `dir/dest` with a new key.
fn backed_up_example(
    dir: &Path,
) -> (
    PathBuf,
    PathBuf,
    age::x25519::Identity,
    backup::BackupReport,
) {
    let stack = dir.join("stack");
    copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/chatbot"),
        &stack,
    );
    let dest = dir.join("dest");
    std::fs::create_dir(&dest).unwrap();
    let id = age::x25519::Identity::generate();
    let report = backup::backup(
        &load(&stack),
        &id,
        &BackupOptions::new(&dest),
        &NoProgress,
        &CancelToken::new(),
    )
    .unwrap();
    (stack, dest, id, report)
}

/// Every regular file, folder and link under `dir` (relative), except Lifeboat's own.
fn listing(dir: &Path) -> Vec<String> {
    let out = Command::new("find")
        .arg(dir)
        .args([
            "-path",
            "*/.lifeboat",
            "-prune",
            "-o",
            "-printf",
            "%P %y %s %m %U:%G\\n",
        ])
        .output()
        .unwrap();
    let mut v: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    v.sort();
    v
}

/// The shapes with bind-mounted data; `whatsapp` keeps its data in a named volume, which
/// needs the engine: its restore is tested in `databases.rs` with a real one.
#[test]
fn every_shape_restores_in_place_selectively_and_undoes() {
    for shape in ["ai-chatbot", "suite", "evolution"] {
        let t = tempfile::tempdir().unwrap();
        let stack = t.path().join("stack");
        if !generate(shape, &stack) {
            return;
        }
        // Owners and modes that must come back.
        let owned = match shape {
            "ai-chatbot" => Some(stack.join("data/n8n/config")),
            "suite" => Some(stack.join("data/secrets.env")),
            _ => None,
        };
        if let Some(f) = &owned {
            std::os::unix::fs::chown(f, Some(1234), Some(5678)).unwrap();
            std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o640)).unwrap();
        }
        let dest = t.path().join("dest");
        std::fs::create_dir(&dest).unwrap();
        let id = age::x25519::Identity::generate();
        let project = load(&stack);
        let report = backup::backup(
            &project,
            &id,
            &BackupOptions {
                threads: 2,
                // Its named volumes need an engine; the rest restores without one.
                allow_partial: shape == "evolution",
                ..BackupOptions::new(&dest)
            },
            &NoProgress,
            &CancelToken::new(),
        )
        .unwrap();
        let orig = t.path().join("orig");
        copy_tree(&stack, &orig);
        let manifest = Manifest::read(Path::new(&report.manifest), &id).unwrap();
        let cat = catalog(t.path());

        // Damage every component: delete the first root, add a stray file to the others,
        // change the .env.
        let roots: Vec<(String, PathBuf)> = manifest
            .components
            .iter()
            .flat_map(|c| {
                c.roots
                    .iter()
                    .map(move |r| (c.name.clone(), PathBuf::from(r)))
            })
            .collect();
        // Service data (evolution's only bind mount is a file; its volumes need Docker).
        let data_roots: Vec<&(String, PathBuf)> =
            roots.iter().filter(|(c, _)| c != "secrets").collect();
        assert!(!data_roots.is_empty(), "{shape}");
        let gone = &data_roots[0].1;
        if gone.is_dir() {
            std::fs::remove_dir_all(gone).unwrap();
        } else {
            std::fs::remove_file(gone).unwrap();
        }
        let stray_dirs: Vec<&PathBuf> = data_roots
            .iter()
            .skip(1)
            .map(|(_, r)| r)
            .filter(|r| r.is_dir())
            .collect();
        for r in &stray_dirs {
            std::fs::write(r.join("stray.txt"), b"not in the snapshot").unwrap();
        }
        // A secrets file (the compose file at least) changed.
        let secret_file = roots
            .iter()
            .find(|(c, r)| c == "secrets" && r.is_file())
            .map(|(_, r)| r.clone())
            .unwrap();
        let mut changed_text = std::fs::read(&secret_file).unwrap();
        changed_text.extend_from_slice(b"\n# changed after the backup\n");
        std::fs::write(&secret_file, &changed_text).unwrap();
        let damaged = listing(&stack);

        // The plan says what happens and changes nothing.
        let planned = restore::plan(
            &RestoreOptions {
                list_paths: true,
                ..opts(&dest, &[], &cat)
            },
            &id,
        )
        .unwrap();
        let plan = planned.preview();
        assert!(plan.problems.is_empty(), "{shape}: {:?}", plan.problems);
        assert_eq!(plan.components.len(), manifest.components.len());
        let first = plan
            .components
            .iter()
            .find(|c| c.name == data_roots[0].0)
            .unwrap();
        assert!(first.added > 0, "{shape}: {first:?}");
        // Removed: the stray files, and SQLite's -wal/-shm files (the snapshot's copy of a
        // database is whole without them).
        let removed: Vec<&str> = plan
            .components
            .iter()
            .flat_map(|c| &c.paths)
            .filter(|p| p.change == "removed")
            .map(|p| p.path.as_str())
            .collect();
        let strays = removed.iter().filter(|p| p.ends_with("/stray.txt")).count();
        assert_eq!(strays, stray_dirs.len(), "{shape}: {removed:?}");
        assert!(
            removed
                .iter()
                .all(|p| p.ends_with("/stray.txt") || p.ends_with("-wal") || p.ends_with("-shm")),
            "{shape}: {removed:?}"
        );
        let counted: u64 = plan.components.iter().map(|c| c.removed).sum();
        assert_eq!(counted, removed.len() as u64);
        let secrets = plan
            .components
            .iter()
            .find(|c| c.name == "secrets")
            .unwrap();
        assert_eq!(secrets.changed, 1, "{shape}: {}", secret_file.display());
        assert_eq!(listing(&stack), damaged, "{shape}: planning changed files");

        // Everything back: byte for byte, modes, owners, mtimes.
        // What was previewed is what is applied.
        let done = restore::apply(planned, &id, &NoProgress, &CancelToken::new()).unwrap();
        assert_eq!(done.components.len(), manifest.components.len());
        for (_, r) in &roots {
            let rel = r.strip_prefix(&stack).unwrap();
            assert_same_tree_and_folder_times(&orig, &stack, rel);
        }
        for r in &stray_dirs {
            assert!(!r.join("stray.txt").exists(), "{shape}: stray file kept");
        }
        if let Some(f) = &owned {
            let m = std::fs::metadata(f).unwrap();
            assert_eq!((m.uid(), m.gid(), m.mode() & 0o777), (1234, 5678, 0o640));
        }
        // The replaced content is kept, owner-only, for undo.
        let undo_dir = Path::new(&done.undo_folder);
        assert_eq!(
            std::fs::metadata(undo_dir).unwrap().mode() & 0o777,
            0o700,
            "{shape}"
        );

        // Undo brings back exactly the damaged state.
        let undone = restore::undo(&cat, None, None, Some(&id)).unwrap();
        assert_eq!(undone.components.len(), manifest.components.len());
        assert_eq!(listing(&stack), damaged, "{shape}: undo");
        assert!(matches!(
            restore::undo(&cat, None, None, Some(&id)),
            Err(RestoreError::NothingToUndo)
        ));

        // A selective restore changes only its component.
        let (name, root) = data_roots[0];
        let selective = restore_now(&opts(&dest, &[name.as_str()], &cat), &id).unwrap();
        assert_eq!(selective.components, vec![name.clone()]);
        // Env files in the data (the suite's data/secrets.env) belong to the secrets, which
        // a restore of the data alone leaves as they are: here, gone with the folder.
        let left: Vec<PathBuf> = manifest
            .components
            .iter()
            .find(|c| &c.name == name)
            .unwrap()
            .left_to_secrets
            .iter()
            .map(|n| stack.join(n))
            .collect();
        assert_eq!(!left.is_empty(), shape == "suite", "{shape}: {left:?}");
        for f in &left {
            assert!(
                !f.exists(),
                "{shape}: a data-only restore wrote {}",
                f.display()
            );
            std::fs::copy(orig.join(f.strip_prefix(&stack).unwrap()), f).unwrap();
            let m = std::fs::metadata(orig.join(f.strip_prefix(&stack).unwrap())).unwrap();
            std::fs::set_permissions(f, m.permissions()).unwrap();
            std::os::unix::fs::chown(f, Some(m.uid()), Some(m.gid())).unwrap();
            std::fs::File::options()
                .write(true)
                .open(f)
                .unwrap()
                .set_modified(m.modified().unwrap())
                .unwrap();
        }
        assert_same_tree(&orig, &stack, root.strip_prefix(&stack).unwrap());
        assert_eq!(std::fs::read(&secret_file).unwrap(), changed_text);
        for r in &stray_dirs {
            assert!(
                r.join("stray.txt").exists(),
                "{shape}: another component changed"
            );
        }
    }
}

#[test]
fn restoring_into_another_folder_leaves_the_stack_alone() {
    let t = tempfile::tempdir().unwrap();
    let (stack, dest, id, _) = backed_up_example(t.path());
    let before = listing(&stack);
    let cat = catalog(t.path());
    let into = t.path().join("elsewhere/new");
    let o = RestoreOptions {
        into: Some(into.clone()),
        ..opts(&dest, &[], &cat)
    };
    let planned = restore::plan(&o, &id).unwrap();
    let plan = planned.preview();
    assert!(!plan.original);
    assert!(plan.services_to_stop.is_empty());
    assert!(plan
        .components
        .iter()
        .all(|c| c.action == Action::ReplaceFiles && c.removed == 0));
    restore::apply(planned, &id, &NoProgress, &CancelToken::new()).unwrap();
    assert_eq!(listing(&stack), before);
    for rel in [".env", "compose.yaml", "data"] {
        assert_same_tree(&stack, &into, Path::new(rel));
    }
    // The copy is a stack of its own.
    let copy = load(&into);
    assert_eq!(copy.services.len(), load(&stack).services.len());
}

/// One tar entry, written with raw header fields so that names the `tar` crate would
/// refuse to build (`..`, absolute) can be made.
struct Raw<'a> {
    name: &'a str,
    kind: tar::EntryType,
    link: Option<&'a str>,
    data: &'a [u8],
    size: Option<u64>,
}

fn raw(name: &str, kind: tar::EntryType) -> Raw<'_> {
    Raw {
        name,
        kind,
        link: None,
        data: b"",
        size: None,
    }
}

/// Writes a snapshot of stack `hostile` with one service component whose archive holds
/// `entries`; returns the destination.
fn hostile_snapshot(
    t: &Path,
    stack: &Path,
    entries: &[Raw],
    id: &age::x25519::Identity,
) -> PathBuf {
    forged_snapshot(t, stack, &[stack.join("data")], entries, id)
}

/// The same with the component's roots chosen by the caller: a manifest anyone with the
/// public recipient could write.
fn forged_snapshot(
    t: &Path,
    stack: &Path,
    roots: &[PathBuf],
    entries: &[Raw],
    id: &age::x25519::Identity,
) -> PathBuf {
    let dest = t.join("dest");
    let _ = std::fs::remove_dir_all(&dest);
    let sdest = dest.join("hostile");
    std::fs::create_dir_all(sdest.join("archives")).unwrap();
    std::fs::create_dir_all(sdest.join("snapshots")).unwrap();
    let partial = sdest.join("archives/x.partial");
    let mut w = ArchiveWriter::create(&partial, &[id.to_public()], 1).unwrap();
    let mut b = tar::Builder::new(w.writer());
    for e in entries {
        let mut h = tar::Header::new_gnu();
        {
            let name = &mut h.as_old_mut().name;
            name[..e.name.len()].copy_from_slice(e.name.as_bytes());
        }
        if let Some(l) = e.link {
            let field = &mut h.as_old_mut().linkname;
            field[..l.len()].copy_from_slice(l.as_bytes());
        }
        h.set_entry_type(e.kind);
        h.set_mode(0o644);
        h.set_mtime(1_700_000_000);
        h.set_size(e.size.unwrap_or(e.data.len() as u64));
        h.set_cksum();
        b.append(&h, e.data).unwrap();
    }
    b.finish().unwrap();
    drop(b);
    let written = w.finish().unwrap();
    let name = format!("{}.tar.gz.age", written.sha256);
    std::fs::rename(&written.partial, sdest.join("archives").join(&name)).unwrap();
    let m = Manifest {
        format: 1,
        lifeboat_version: "test".into(),
        snapshot: "20260101T000000.000Z-0001".into(),
        stack: "hostile".into(),
        stack_dir: stack.display().to_string(),
        started: 1_767_225_600,
        duration_ms: 0,
        downtime_ms: 0,
        images: Vec::new(),
        components: vec![ComponentEntry {
            name: "service-app".into(),
            kind: ComponentKind::Service,
            service: Some("app".into()),
            recipe: Recipe::Files,
            archive: name,
            pieces: Vec::new(),
            list: None,
            bytes_new: written.bytes_stored,
            sha256: written.sha256,
            bytes_in: written.bytes_in,
            bytes_stored: written.bytes_stored,
            reused: false,
            fingerprint: String::new(),
            roots: roots.iter().map(|r| r.display().to_string()).collect(),
            sqlite: Vec::new(),
            dumps: Vec::new(),
            left_to_secrets: Vec::new(),
            engine_prefixes: Vec::new(),
            incomplete: false,
            files: vec![FileEntry {
                path: "data/ok.txt".into(),
                bytes: 2,
                mtime: None,
                raw: None,
                at: None,
                sha256: None,
                mode: None,
                uid: None,
                gid: None,
            }],
            rows: Vec::new(),
            env_names: Vec::new(),
        }],
        warnings: Vec::new(),
        partial: false,
        missing: Vec::new(),
    };
    m.write(
        &sdest.join("snapshots/20260101T000000.000Z-0001.manifest.age"),
        &id.to_public(),
    )
    .unwrap();
    dest
}

#[test]
fn hostile_archives_are_refused_and_nothing_lands_outside() {
    let t = tempfile::tempdir().unwrap();
    let stack = t.path().join("stack");
    std::fs::create_dir_all(stack.join("data")).unwrap();
    std::fs::write(
        stack.join("compose.yaml"),
        "services:\n  app:\n    image: busybox\n    volumes: [./data:/data]\n",
    )
    .unwrap();
    std::fs::write(stack.join("data/keep.txt"), b"mine").unwrap();
    let outside = t.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    let abs = outside.join("abs.txt");
    let abs_name = abs.display().to_string();
    let outside_link = outside.display().to_string();
    let id = age::x25519::Identity::generate();
    use tar::EntryType::{Block, Char, Directory, Fifo, Link, Regular, Symlink};
    let ok = Raw {
        data: b"ok",
        ..raw("data/ok.txt", Regular)
    };
    let cases: Vec<(&str, Vec<Raw>)> = vec![
        (
            "dot-dot",
            vec![Raw {
                data: b"x",
                ..raw("data/../../outside/up.txt", Regular)
            }],
        ),
        (
            "absolute",
            vec![Raw {
                data: b"x",
                ..raw(&abs_name, Regular)
            }],
        ),
        (
            "through a symlink",
            vec![
                raw("data/", Directory),
                Raw {
                    link: Some(&outside_link),
                    ..raw("data/link", Symlink)
                },
                Raw {
                    data: b"x",
                    ..raw("data/link/evil.txt", Regular)
                },
            ],
        ),
        (
            "hard link out with ..",
            vec![
                raw("data/", Directory),
                Raw {
                    link: Some("data/../../outside/abs.txt"),
                    ..raw("data/hl", Link)
                },
            ],
        ),
        (
            "hard link to an absolute path",
            vec![
                raw("data/", Directory),
                Raw {
                    link: Some("/etc/passwd"),
                    ..raw("data/hl", Link)
                },
            ],
        ),
        (
            "hard link into another folder",
            vec![
                raw("data/", Directory),
                Raw {
                    link: Some("compose.yaml"),
                    ..raw("data/hl", Link)
                },
            ],
        ),
        (
            "char device",
            vec![raw("data/", Directory), raw("data/tty", Char)],
        ),
        (
            "block device",
            vec![raw("data/", Directory), raw("data/sda", Block)],
        ),
        (
            "fifo",
            vec![raw("data/", Directory), raw("data/pipe", Fifo)],
        ),
        (
            "not part of the component",
            vec![Raw {
                data: b"x",
                ..raw("elsewhere/x.txt", Regular)
            }],
        ),
        (
            "absurd size",
            vec![Raw {
                size: Some(1 << 40),
                ..raw("data/huge.bin", Regular)
            }],
        ),
        (
            "the same file twice through a symlink",
            vec![
                raw("data/", Directory),
                Raw {
                    link: Some("../../outside/abs.txt"),
                    ..raw("data/ok.txt", Symlink)
                },
                ok,
            ],
        ),
    ];
    for (what, entries) in cases {
        std::fs::write(&abs, b"outside").unwrap();
        let dest = hostile_snapshot(t.path(), &stack, &entries, &id);
        let cat = catalog(t.path());
        let mut o = opts(&dest, &[], &cat);
        o.stack = Some("hostile".into());
        let err = restore_now(&o, &id).unwrap_err();
        match &err {
            RestoreError::Extract {
                source: ExtractError::Refused { .. } | ExtractError::Damaged(_),
                ..
            } => {}
            other => panic!("{what}: {other}"),
        }
        let msg = err.to_string();
        assert!(msg.contains("nothing was changed"), "{what}: {msg}");
        // Nothing outside, nothing changed inside, no staging left.
        let mut outside_now: Vec<String> = std::fs::read_dir(&outside)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        outside_now.sort();
        assert_eq!(outside_now, vec!["abs.txt"], "{what}");
        assert_eq!(std::fs::read(&abs).unwrap(), b"outside", "{what}");
        assert_eq!(std::fs::read(stack.join("data/keep.txt")).unwrap(), b"mine");
        assert!(!stack.join("data/ok.txt").exists(), "{what}");
        let staging: Vec<_> = std::fs::read_dir(stack.join(".lifeboat/restore"))
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.path().is_dir())
            .collect();
        assert!(staging.is_empty(), "{what}: staging left: {staging:?}");
    }
    // The same machinery restores a well-formed archive.
    let dest = hostile_snapshot(
        t.path(),
        &stack,
        &[
            raw("data/", Directory),
            Raw {
                data: b"ok",
                ..raw("data/ok.txt", Regular)
            },
            Raw {
                link: Some("ok.txt"),
                ..raw("data/link", Symlink)
            },
            Raw {
                link: Some("data/ok.txt"),
                ..raw("data/hard", Link)
            },
        ],
        &id,
    );
    let cat = catalog(t.path());
    restore_now(&opts(&dest, &[], &cat), &id).unwrap();
    assert_eq!(std::fs::read(stack.join("data/ok.txt")).unwrap(), b"ok");
    assert_eq!(std::fs::read(stack.join("data/link")).unwrap(), b"ok");
    assert_eq!(
        std::fs::metadata(stack.join("data/hard")).unwrap().ino(),
        std::fs::metadata(stack.join("data/ok.txt")).unwrap().ino()
    );
    assert!(
        !stack.join("data/keep.txt").exists(),
        "replaced by the snapshot's folder"
    );
}

#[test]
fn a_damaged_archive_changes_nothing() {
    let t = tempfile::tempdir().unwrap();
    let (stack, dest, id, report) = backed_up_example(t.path());
    std::fs::remove_dir_all(stack.join("data/qdrant")).unwrap();
    std::fs::write(stack.join(".env"), b"CHANGED=1\n").unwrap();
    let before = listing(&stack);
    // Flip a byte in the middle of the last piece of the last component (the others are
    // intact and restore first, into staging only).
    let victim = report.components.last().unwrap();
    let (_, files) = crate::harness::piece_files(victim, &id);
    let piece = files.last().unwrap();
    let mut bytes = std::fs::read(piece).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    std::fs::write(piece, bytes).unwrap();
    let cat = catalog(t.path());
    let err = restore_now(&opts(&dest, &[], &cat), &id).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains(&victim.name) && (msg.contains("damaged") || msg.contains("decryption")),
        "{msg}"
    );
    assert_eq!(listing(&stack), before, "a failed restore changed files");
    // A wrong key is refused before anything is read.
    let other = age::x25519::Identity::generate();
    let err = restore::plan(&opts(&dest, &[], &cat), &other).unwrap_err();
    assert!(err.to_string().contains("wrong key"), "{err}");
    // An unknown component says what there is.
    let err = restore::plan(&opts(&dest, &["nope"], &cat), &id).unwrap_err();
    assert!(err.to_string().contains("service-n8n"), "{err}");
}

#[test]
fn a_forged_manifest_cannot_choose_where_files_land() {
    let t = tempfile::tempdir().unwrap();
    let stack = t.path().join("stack");
    std::fs::create_dir_all(stack.join("data")).unwrap();
    std::fs::write(
        stack.join("compose.yaml"),
        "services:\n  app:\n    image: busybox\n    volumes: [./data:/data]\n",
    )
    .unwrap();
    let outside = t.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    let id = age::x25519::Identity::generate();
    use tar::EntryType::{Directory, Regular};
    let host_name = format!("_host{}/", outside.display());
    let host_file = format!("_host{}/authorized_keys", outside.display());
    let cases: Vec<(&str, Vec<PathBuf>, Vec<Raw>)> = vec![
        (
            "a host path the compose file does not mount",
            vec![outside.clone()],
            vec![
                raw(&host_name, Directory),
                Raw {
                    data: b"ssh-ed25519 AAAA attacker",
                    ..raw(&host_file, Regular)
                },
            ],
        ),
        (
            "a root that climbs out of the stack folder",
            vec![stack.join("../outside")],
            vec![Raw {
                data: b"x",
                ..raw("../outside/x", Regular)
            }],
        ),
    ];
    for (what, roots, entries) in cases {
        let dest = forged_snapshot(t.path(), &stack, &roots, &entries, &id);
        let cat = catalog(t.path());
        let mut o = opts(&dest, &[], &cat);
        o.stack = Some("hostile".into());
        let plan = restore::plan(&o, &id).unwrap();
        assert!(!plan.preview().problems.is_empty(), "{what}: {plan:?}");
        // A plan with problems cannot be applied.
        let err = restore::apply(plan, &id, &NoProgress, &CancelToken::new()).unwrap_err();
        assert!(matches!(err, RestoreError::Blocked(_)), "{what}: {err}");
        assert_eq!(
            std::fs::read_dir(&outside).unwrap().count(),
            0,
            "{what}: something was written outside"
        );
    }
    // A snapshot that names a folder without a compose file as the stack's (say /etc) is
    // refused there.
    let not_a_stack = t.path().join("not-a-stack");
    std::fs::create_dir(&not_a_stack).unwrap();
    std::fs::write(not_a_stack.join("passwd"), b"root:x:0:0").unwrap();
    let dest = forged_snapshot(
        t.path(),
        &not_a_stack,
        &[not_a_stack.join("data")],
        &[Raw {
            data: b"x",
            ..raw("data/x", Regular)
        }],
        &id,
    );
    let cat = catalog(t.path());
    let mut o = opts(&dest, &[], &cat);
    o.stack = Some("hostile".into());
    let err = restore_now(&o, &id).unwrap_err();
    assert!(err.to_string().contains("has no compose file"), "{err}");
    assert!(!not_a_stack.join("data").exists());

    // The same host path is fine into another folder: it lands inside it.
    let dest = forged_snapshot(
        t.path(),
        &stack,
        std::slice::from_ref(&outside),
        &[
            raw(&host_name, Directory),
            Raw {
                data: b"k",
                ..raw(&host_file, Regular)
            },
        ],
        &id,
    );
    let cat = catalog(t.path());
    let into = t.path().join("look");
    let o = RestoreOptions {
        into: Some(into.clone()),
        stack: Some("hostile".into()),
        ..opts(&dest, &[], &cat)
    };
    restore_now(&o, &id).unwrap();
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
    assert!(into
        .join(format!("_host{}/authorized_keys", outside.display()))
        .is_file());
}
