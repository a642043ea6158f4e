//! Backups end to end on real files: each `gen_stack.py` shape backed up and restored with
//! stock `age` + `tar` only (byte-identical files, modes, numeric owners; SQLite databases
//! identical in content), a SQLite writer running throughout, reuse of unchanged
//! components, and damage: wrong key, flipped byte, truncated archive, full disk, cancel.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use lifeboat_core::backup::{self, verify, BackupError, BackupOptions};
use lifeboat_core::job::NoProgress;
use lifeboat_core::{CancelToken, Project};

use crate::harness::{generate, load, skip};

fn key() -> age::x25519::Identity {
    age::x25519::Identity::generate()
}

pub fn have_age() -> bool {
    let ok = Command::new("age")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        skip("the age command is not installed (Debian package age)");
    }
    ok
}

fn run_backup(project: &Project, id: &age::x25519::Identity, dest: &Path) -> backup::BackupReport {
    run_backup_allowing(project, id, dest, false)
}

/// A backup that may be partial (named volumes without an engine) when `allow_partial`.
fn run_backup_allowing(
    project: &Project,
    id: &age::x25519::Identity,
    dest: &Path,
    allow_partial: bool,
) -> backup::BackupReport {
    let opts = BackupOptions {
        threads: 2,
        allow_partial,
        ..BackupOptions::new(dest)
    };
    backup::backup(project, id, &opts, &NoProgress, &CancelToken::new()).unwrap()
}

/// Restores every component of a report into `into` with the one-liner README-RESTORE.txt
/// gives (`age`, `xargs`, `tar` and `sh`, run in the destination), as a user without
/// Lifeboat would.
pub fn stock_restore(report: &backup::BackupReport, id: &age::x25519::Identity, into: &Path) {
    let keyfile = into.with_extension("key.txt");
    std::fs::write(
        &keyfile,
        format!(
            "{}\n",
            age::secrecy::ExposeSecret::expose_secret(&id.to_string())
        ),
    )
    .unwrap();
    std::fs::create_dir_all(into).unwrap();
    let readme = backup::readme_text();
    assert!(
        readme.contains("age -d -i key.txt STACK/snapshots/SNAPSHOT.COMPONENT.list.age | xargs -n1 age -d -i key.txt"),
        "{readme}"
    );
    for c in &report.components {
        let list = PathBuf::from(c.list.as_deref().expect("every new component has a list"));
        let dest = list.ancestors().nth(3).unwrap();
        let rel = list.strip_prefix(dest).unwrap();
        let out = Command::new("sh")
            .arg("-c")
            .arg(r#"set -e; cd "$1"; age -d -i "$2" "$3" | xargs -n1 age -d -i "$2" | tar -xzpf - --numeric-owner -C "$4""#)
            .arg("sh")
            .arg(dest)
            .arg(&keyfile)
            .arg(rel)
            .arg(into)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "stock restore of {} failed: {}",
            c.name,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    std::fs::remove_file(keyfile).unwrap();
}

fn is_sqlite(p: &Path) -> bool {
    std::fs::read(p).is_ok_and(|b| b.starts_with(b"SQLite format 3\0"))
}

fn sqlite_dump(p: &Path) -> Vec<String> {
    let out = Command::new("python3")
        .args([
            "-c",
            "import sqlite3,sys; [print(l) for l in sqlite3.connect(sys.argv[1]).iterdump()]",
        ])
        .arg(p)
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Every file under `orig_root/rel` equals its copy under `restored_root/rel`: bytes (SQLite
/// databases: content), mode, numeric owner, mtime (regular files).
pub fn assert_same_tree(orig_root: &Path, restored_root: &Path, rel: &Path) {
    same_tree(orig_root, restored_root, rel, false);
}

/// [`assert_same_tree`], and folders' times too: a folder's entry comes after its content
/// in the stream, and `tar -x` must still give the folder its time. (A Lifeboat restore
/// into a new folder creates the folders above each service's data itself, with the time
/// of the restore.)
pub fn assert_same_tree_and_folder_times(orig_root: &Path, restored_root: &Path, rel: &Path) {
    same_tree(orig_root, restored_root, rel, true);
}

fn same_tree(orig_root: &Path, restored_root: &Path, rel: &Path, folder_times: bool) {
    let orig = orig_root.join(rel);
    let copy = restored_root.join(rel);
    let om = std::fs::symlink_metadata(&orig).unwrap();
    let cm = std::fs::symlink_metadata(&copy)
        .unwrap_or_else(|e| panic!("{} not restored: {e}", rel.display()));
    assert_eq!(om.mode(), cm.mode(), "mode of {}", rel.display());
    assert_eq!(
        (om.uid(), om.gid()),
        (cm.uid(), cm.gid()),
        "owner of {}",
        rel.display()
    );
    if om.is_dir() {
        // Opening a SQLite database (the backup's online copy, this test's dump) may add and
        // remove its journal beside it, which changes its folder's time after the backup.
        let holds_sqlite = std::fs::read_dir(&orig)
            .unwrap()
            .any(|e| is_sqlite(&e.unwrap().path()));
        if folder_times && !holds_sqlite {
            assert_eq!(om.mtime(), cm.mtime(), "mtime of folder {}", rel.display());
        }
        for e in std::fs::read_dir(&orig).unwrap() {
            let name = e.unwrap().file_name();
            let name_s = name.to_string_lossy();
            if name_s.ends_with("-wal") || name_s.ends_with("-shm") {
                continue;
            }
            same_tree(orig_root, restored_root, &rel.join(name), folder_times);
        }
    } else if om.is_file() {
        if is_sqlite(&orig) {
            assert_eq!(
                sqlite_dump(&orig),
                sqlite_dump(&copy),
                "content of {}",
                rel.display()
            );
        } else {
            assert_eq!(
                std::fs::read(&orig).unwrap(),
                std::fs::read(&copy).unwrap(),
                "bytes of {}",
                rel.display()
            );
            assert_eq!(om.mtime(), cm.mtime(), "mtime of {}", rel.display());
        }
    }
}

#[test]
fn every_shape_restores_with_stock_age_and_tar() {
    if !have_age() {
        return;
    }
    for shape in ["ai-chatbot", "whatsapp", "suite", "evolution"] {
        let t = tempfile::tempdir().unwrap();
        let stack = t.path().join("stack");
        if !generate(shape, &stack) {
            return;
        }
        // Owners and modes that a restore must bring back.
        let first_file = match shape {
            "ai-chatbot" => Some(stack.join("data/n8n/config")),
            "suite" => Some(stack.join("data/secrets.env")),
            _ => None,
        };
        if let Some(f) = &first_file {
            std::os::unix::fs::chown(f, Some(1234), Some(5678)).unwrap();
            std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o640)).unwrap();
        }
        let dest = t.path().join("dest");
        std::fs::create_dir(&dest).unwrap();
        let id = key();
        let project = load(&stack);
        // Without an engine the named volumes of these shapes cannot be read: a backup
        // fails unless a partial one is accepted, and then it says what it lacks.
        let volumes = matches!(shape, "whatsapp" | "evolution");
        if volumes {
            let opts = BackupOptions {
                threads: 2,
                ..BackupOptions::new(&dest)
            };
            let err =
                backup::backup(&project, &id, &opts, &NoProgress, &CancelToken::new()).unwrap_err();
            assert!(
                matches!(err, backup::BackupError::Incomplete(_)),
                "{shape}: {err}"
            );
        }
        let report = run_backup_allowing(&project, &id, &dest, volumes);
        assert_eq!(report.partial, volumes, "{shape}");
        assert!(
            report.missing.iter().all(|m| m.contains("volume")),
            "{shape}: {:?}",
            report.missing
        );
        assert!(!report.components.is_empty());
        assert!(
            report.components.iter().any(|c| c.name == "secrets"),
            "{shape}"
        );
        assert!(dest.join("README-RESTORE.txt").is_file());

        let restored = t.path().join("restored");
        stock_restore(&report, &id, &restored);
        for c in &report.components {
            let m =
                lifeboat_core::backup::manifest::Manifest::read(Path::new(&report.manifest), &id)
                    .unwrap();
            let entry = m.components.iter().find(|e| e.name == c.name).unwrap();
            for root in &entry.roots {
                let rel = Path::new(root).strip_prefix(project.dir.as_path()).unwrap();
                assert_same_tree_and_folder_times(&project.dir, &restored, rel);
            }
        }
        if let Some(f) = first_file {
            let rel = f.strip_prefix(&stack).unwrap();
            let m = std::fs::metadata(restored.join(rel)).unwrap();
            assert_eq!(
                (m.uid(), m.gid(), m.mode() & 0o777),
                (1234, 5678, 0o640),
                "{shape}"
            );
        }
        // Quick and deep verification both pass on an intact destination.
        for deep in [false, true] {
            let v = verify::verify(&dest, None, deep, &id, &NoProgress).unwrap();
            assert!(v.problems.is_empty(), "{shape}: {:?}", v.problems);
            assert_eq!(v.archives as usize, report.components.len());
        }
        // A drill restores it into a sandbox and proves every file and SQLite database.
        let opts = lifeboat_core::drill::DrillOptions {
            from: dest.clone(),
            stack: None,
            snapshot: "latest".into(),
            scratch: t.path().join("scratch"),
            engine: None,
            catalog: None,
        };
        let d = lifeboat_core::drill::run(&opts, &id, &NoProgress, &CancelToken::new()).unwrap();
        if volumes {
            // What the partial snapshot lacks is the one problem: it is not proven whole.
            assert!(
                d.problems.len() == 1 && d.problems[0].contains("is partial"),
                "{shape}: {:?}",
                d.problems
            );
        } else {
            assert!(d.ok, "{shape}: {:?}", d.problems);
        }
        let m = lifeboat_core::backup::manifest::Manifest::read(Path::new(&report.manifest), &id)
            .unwrap();
        // The secrets' files too: they are checked in memory, never written to the sandbox.
        let files: u64 = m.components.iter().map(|c| c.files.len() as u64).sum();
        assert_eq!(d.files_checked, files, "{shape}: every file is checked");
        let sqlite = d.databases.iter().filter(|x| x.kind == "sqlite").count();
        assert_eq!(
            sqlite > 0,
            matches!(shape, "ai-chatbot" | "suite"),
            "{shape}: {:?}",
            d.databases
        );
        assert!(
            d.databases.iter().all(|x| x.loaded && x.rows_match),
            "{shape}: {:?}",
            d.databases
        );
        assert_eq!(
            std::fs::read_dir(t.path().join("scratch")).unwrap().count(),
            0,
            "{shape}: the sandbox is gone"
        );
    }
}

#[test]
fn a_sqlite_writer_during_the_backup_gives_a_consistent_copy() {
    if !have_age() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let stack = t.path().join("stack");
    std::fs::create_dir_all(stack.join("data")).unwrap();
    std::fs::write(
        stack.join("compose.yaml"),
        "services:\n  bot:\n    build: .\n    volumes: [./data:/data]\n",
    )
    .unwrap();
    let db = stack.join("data/bot.db");
    {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.pragma_update(None, "journal_mode", "WAL").unwrap();
        c.execute_batch("CREATE TABLE msg(id INTEGER PRIMARY KEY, body TEXT NOT NULL);")
            .unwrap();
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let db = db.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let c = rusqlite::Connection::open(&db).unwrap();
            c.busy_timeout(Duration::from_secs(5)).unwrap();
            let mut n = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let tx = c.unchecked_transaction().unwrap();
                for _ in 0..50 {
                    tx.execute(
                        "INSERT INTO msg(body) VALUES (?1)",
                        [format!("message {n} {}", "x".repeat(200))],
                    )
                    .unwrap();
                    n += 1;
                }
                tx.commit().unwrap();
            }
            n
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    let dest = t.path().join("dest");
    std::fs::create_dir(&dest).unwrap();
    let id = key();
    let mut reports = Vec::new();
    for _ in 0..3 {
        reports.push(run_backup(&load(&stack), &id, &dest));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let written = writer.join().unwrap();
    assert!(written > 0);
    for report in &reports {
        let svc = report
            .components
            .iter()
            .find(|c| c.name == "service-bot")
            .unwrap();
        assert_eq!(
            svc.recipe,
            lifeboat_core::backup::manifest::Recipe::FilesSqliteOnline
        );
        let restored = t.path().join(format!("restored-{}", report.snapshot));
        stock_restore(report, &id, &restored);
        let copy = restored.join("data/bot.db");
        assert!(
            !restored.join("data/bot.db-wal").exists(),
            "the copy needs no WAL"
        );
        let c = rusqlite::Connection::open(&copy).unwrap();
        let check: String = c
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok");
        let (count, max): (i64, i64) = c
            .query_row("SELECT count(*), coalesce(max(id), 0) FROM msg", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        // Whole transactions only: ids are 1..=count, in blocks of 50.
        assert_eq!(count, max);
        assert_eq!(count % 50, 0, "a transaction was cut in half");
        assert!(count as u64 <= written);
    }
    // The live database was not disturbed: no copies left beside it.
    let leftovers: Vec<_> = std::fs::read_dir(stack.join("data"))
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name())
        .filter(|n| n.to_string_lossy().contains("lifeboat"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn unchanged_components_are_reused_and_changed_ones_rewritten() {
    let t = tempfile::tempdir().unwrap();
    let stack = t.path().join("stack");
    if !generate("suite", &stack) {
        return;
    }
    // Let the generated files age past the racy window of the first snapshot.
    std::thread::sleep(Duration::from_millis(3100));
    let dest = t.path().join("dest");
    std::fs::create_dir(&dest).unwrap();
    let id = key();
    let first = run_backup(&load(&stack), &id, &dest);
    assert!(first
        .components
        .iter()
        .all(|c| !c.reused && c.bytes_stored > 0));
    std::thread::sleep(Duration::from_millis(3100));
    let second = run_backup(&load(&stack), &id, &dest);
    assert!(
        second
            .components
            .iter()
            .all(|c| c.reused && c.bytes_stored > 0),
        "{:?}",
        second.components
    );
    for (a, b) in first.components.iter().zip(&second.components) {
        assert_eq!(
            (&a.sha256, a.pieces, a.bytes_stored),
            (&b.sha256, b.pieces, b.bytes_stored)
        );
        assert_eq!(b.bytes_new, 0, "{} stored nothing new", b.name);
        assert_ne!(a.list, b.list, "each snapshot has its own piece list");
    }
    std::fs::write(
        stack.join("data/email/attachments/new.pdf"),
        b"a new attachment",
    )
    .unwrap();
    let third = run_backup(&load(&stack), &id, &dest);
    let by = |r: &backup::BackupReport, n: &str| {
        r.components.iter().find(|c| c.name == n).unwrap().clone()
    };
    assert!(by(&third, "secrets").reused);
    assert!(!by(&third, "service-backend").reused);
    assert_ne!(
        by(&third, "service-backend").sha256,
        by(&first, "service-backend").sha256
    );
    let list = verify::list(&dest, None, &id).unwrap();
    assert_eq!(list.len(), 3);
    assert_eq!(list[1].bytes_new, 0);
    // The space report: the first two refer to the same pieces, so deleting either frees
    // nothing; the third has pieces of its own, and what the first two stored is its size.
    assert_eq!(list[0].bytes_stored, list[1].bytes_stored);
    assert_eq!(
        list[0].bytes_stored,
        first.components.iter().map(|c| c.bytes_new).sum::<u64>()
    );
    assert_eq!((list[0].bytes_frees, list[1].bytes_frees), (0, 0));
    assert!(list[2].bytes_frees > 0 && list[2].bytes_frees <= list[2].bytes_new);
}

#[test]
fn damage_is_caught_and_errors_are_clear() {
    let t = tempfile::tempdir().unwrap();
    let stack = t.path().join("stack");
    if !generate("suite", &stack) {
        return;
    }
    let dest = t.path().join("dest");
    std::fs::create_dir(&dest).unwrap();
    let id = key();
    let first = run_backup(&load(&stack), &id, &dest);
    std::fs::write(stack.join("data/email/attachments/0.pdf"), b"changed").unwrap();
    let second = run_backup(&load(&stack), &id, &dest);

    // Wrong key: the sentence age users know, and nothing more.
    let other = key();
    let err = verify::list(&dest, None, &other).unwrap_err().to_string();
    assert!(
        err.contains("decryption failed (wrong key or damaged file)"),
        "{err}"
    );
    let opts = BackupOptions::new(&dest);
    let err = backup::backup(
        &load(&stack),
        &other,
        &opts,
        &NoProgress,
        &CancelToken::new(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("wrong key"), "{err}");

    // The pieces only the newer snapshot of the service has.
    let newer = second
        .components
        .iter()
        .find(|c| c.name == "service-backend")
        .unwrap();
    let older = first
        .components
        .iter()
        .find(|c| c.name == "service-backend")
        .unwrap();
    let (_, old_files) = crate::harness::piece_files(older, &id);
    let (_, files) = crate::harness::piece_files(newer, &id);
    let piece = files
        .iter()
        .find(|f| !old_files.contains(f))
        .expect("the change made a new piece")
        .clone();
    let original = std::fs::read(&piece).unwrap();
    let deep_problems = |snapshot: &str| {
        verify::verify(&dest, Some(snapshot), true, &id, &NoProgress)
            .unwrap()
            .problems
    };
    let expect_one = |what: &str, needle: &str| {
        let p = deep_problems(&second.snapshot);
        assert_eq!(p.len(), 1, "{what}: {p:?}");
        assert_eq!(p[0].component.as_deref(), Some("service-backend"), "{what}");
        assert!(p[0].message.contains(needle), "{what}: {}", p[0].message);
        // The earlier snapshot is intact.
        assert!(deep_problems(&first.snapshot).is_empty(), "{what}");
    };
    // A flipped byte.
    let mut bytes = original.clone();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    std::fs::write(&piece, &bytes).unwrap();
    expect_one("a flipped byte", "does not decrypt");
    // Truncated.
    std::fs::write(&piece, &original[..original.len() / 3]).unwrap();
    expect_one("a truncated piece", "piece");
    // Another piece swapped in under its name (from another destination, or a copy gone
    // wrong): it decrypts, but its content is not what its name says.
    let stranger = old_files
        .iter()
        .find(|f| !files.contains(f))
        .unwrap_or(&old_files[0]);
    std::fs::copy(stranger, &piece).unwrap();
    expect_one("a swapped piece", "other content than its name says");
    // Missing: the quick check sees it.
    std::fs::remove_file(&piece).unwrap();
    let v = verify::verify(&dest, Some(&second.snapshot), false, &id, &NoProgress).unwrap();
    assert!(
        v.problems.len() == 1 && v.problems[0].message.contains("missing"),
        "{:?}",
        v.problems
    );
    std::fs::write(&piece, &original).unwrap();
    assert!(deep_problems(&second.snapshot).is_empty());
    // A reordered piece list: stock tools would read garbage, so verify says so.
    let list = Path::new(newer.list.as_deref().unwrap());
    let good_list = std::fs::read(list).unwrap();
    let mut names = lifeboat_core::archive::pieces::read_list(list, &id).unwrap();
    if names.len() > 1 {
        names.swap(0, 1);
        let text: String = names
            .iter()
            .map(|n| format!("{}\n", lifeboat_core::archive::pieces::rel_path(n)))
            .collect();
        lifeboat_core::archive::sealed::write_atomic(
            list,
            lifeboat_core::archive::sealed::Key::Recipients(&[id.to_public()]),
            |w| std::io::Write::write_all(w, text.as_bytes()),
        )
        .unwrap();
        let v = verify::verify(&dest, Some(&second.snapshot), false, &id, &NoProgress).unwrap();
        assert!(
            v.problems.len() == 1 && v.problems[0].message.contains("does not match"),
            "{:?}",
            v.problems
        );
        std::fs::write(list, &good_list).unwrap();
    }

    // No destination: said plainly.
    let err = backup::backup(
        &load(&stack),
        &id,
        &BackupOptions::new(t.path().join("unplugged")),
        &NoProgress,
        &CancelToken::new(),
    )
    .unwrap_err();
    assert!(matches!(err, BackupError::DestinationMissing(_)));
    assert!(err.to_string().contains("plug in the drive"));
}

pub fn partials(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(partials(&p));
        } else if p.to_string_lossy().ends_with(".partial") {
            out.push(p);
        }
    }
    out
}

#[test]
fn cancel_and_full_disk_leave_no_snapshot_and_no_partial_files() {
    let t = tempfile::tempdir().unwrap();
    let stack = t.path().join("stack");
    if !generate("suite", &stack) {
        return;
    }
    let id = key();
    let dest = t.path().join("dest");
    std::fs::create_dir(&dest).unwrap();
    let cancel = CancelToken::new();
    cancel.cancel();
    let err = backup::backup(
        &load(&stack),
        &id,
        &BackupOptions::new(&dest),
        &NoProgress,
        &cancel,
    )
    .unwrap_err();
    assert!(matches!(err, BackupError::Cancelled));
    assert!(verify::list(&dest, None, &id).unwrap().is_empty());
    assert!(partials(&dest).is_empty());

    // A destination with 2 MiB free for a 22 MiB stack.
    let small = t.path().join("small");
    std::fs::create_dir(&small).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=2m", "tmpfs"])
        .arg(&small)
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        return skip("cannot mount a small tmpfs (needs root)");
    }
    let result = backup::backup(
        &load(&stack),
        &id,
        &BackupOptions::new(&small),
        &NoProgress,
        &CancelToken::new(),
    );
    let listed = verify::list(&small, None, &id).map(|l| l.len());
    let left = partials(&small);
    let _ = Command::new("umount").arg(&small).status();
    let err = result.unwrap_err().to_string();
    assert!(err.contains("No space left on device"), "{err}");
    assert_eq!(
        listed.unwrap(),
        0,
        "a snapshot was written despite the error"
    );
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn prune_removes_snapshots_and_only_unreferenced_pieces() {
    let t = tempfile::tempdir().unwrap();
    let stack = t.path().join("stack");
    if !generate("suite", &stack) {
        return;
    }
    let dest = t.path().join("dest");
    std::fs::create_dir(&dest).unwrap();
    let id = key();
    let mut reports = Vec::new();
    for i in 0..3 {
        std::fs::write(stack.join(format!("data/note-{i}.txt")), format!("day {i}")).unwrap();
        reports.push(run_backup(&load(&stack), &id, &dest));
    }
    // A piece of another key under a piece name, and a piece write that died.
    let other = key();
    let foreign = dest.join(format!("_pieces/00/{}", "0".repeat(64)));
    std::fs::create_dir_all(foreign.parent().unwrap()).unwrap();
    let mut w = lifeboat_core::archive::sealed::Sealed::create(
        &foreign,
        lifeboat_core::archive::sealed::Key::Recipients(&[other.to_public()]),
    )
    .unwrap();
    std::io::Write::write_all(&mut w, b"not ours").unwrap();
    w.finish().unwrap();
    let dead = dest.join("_pieces/00/.abc.123-0.partial");
    std::fs::write(&dead, b"half").unwrap();
    let pieces = |d: &Path| -> std::collections::BTreeSet<String> {
        std::fs::read_dir(d.join("_pieces"))
            .unwrap()
            .flat_map(|f| std::fs::read_dir(f.unwrap().path()).unwrap())
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with('.'))
            .collect()
    };
    let before = pieces(&dest);
    use lifeboat_core::backup::prune::{prune, Keep, PruneError};
    assert!(matches!(
        prune(&dest, None, &Keep::default(), false, &id),
        Err(PruneError::NoRule)
    ));
    let keep = Keep {
        last: 1,
        ..Keep::default()
    };
    let dry = prune(&dest, None, &keep, true, &id).unwrap();
    assert_eq!(dry.removed.len(), 2);
    assert!(dry.pieces_removed > 0, "{dry:?}");
    assert_eq!(
        verify::list(&dest, None, &id).unwrap().len(),
        3,
        "a dry run deleted something"
    );
    assert_eq!(pieces(&dest), before);
    // While a backup holds its marker, snapshots go but no piece does.
    let marker = lifeboat_core::backup::markers::Marker::take(
        &dest,
        lifeboat_core::backup::markers::Kind::Backup,
    )
    .unwrap();
    let held = prune(&dest, None, &keep, false, &id).unwrap();
    assert_eq!(
        (held.removed.len(), held.pieces_removed),
        (2, 0),
        "{held:?}"
    );
    assert!(held.pieces_left.unwrap().contains("a backup is writing"));
    assert_eq!(pieces(&dest), before);
    drop(marker);
    let done = prune(&dest, None, &keep, false, &id).unwrap();
    assert_eq!(done.kept, [reports[2].snapshot.clone()]);
    assert!(done.removed.is_empty(), "the held prune removed them");
    assert_eq!(done.pieces_removed, dry.pieces_removed, "{done:?}");
    assert!(
        done.bytes_freed > 0 && done.pieces_left.is_none(),
        "{done:?}"
    );
    // What is left is exactly what the kept snapshot's lists name, and the other key's piece.
    let mut needed = std::collections::BTreeSet::new();
    for c in &reports[2].components {
        let list = Path::new(c.list.as_deref().unwrap());
        needed.extend(lifeboat_core::archive::pieces::read_list(list, &id).unwrap());
    }
    needed.insert("0".repeat(64));
    assert_eq!(pieces(&dest), needed);
    assert!(!dead.exists(), "a dead piece write is cleaned up");
    for r in &reports[..2] {
        for c in &r.components {
            assert!(!Path::new(c.list.as_deref().unwrap()).exists());
        }
    }
    let v = verify::verify(&dest, None, true, &id, &NoProgress).unwrap();
    assert!(v.problems.is_empty() && v.snapshots == 1, "{v:?}");
    // The kept snapshot still restores with stock tools.
    stock_restore(&reports[2], &id, &t.path().join("stock"));
    assert_eq!(
        std::fs::read(t.path().join("stock/data/note-2.txt")).unwrap(),
        b"day 2"
    );
}

#[test]
fn a_wal_database_at_rest_is_reused_and_a_write_is_noticed() {
    let t = tempfile::tempdir().unwrap();
    let stack = t.path().join("stack");
    std::fs::create_dir_all(stack.join("data")).unwrap();
    std::fs::write(
        stack.join("compose.yaml"),
        "services:\n  bot:\n    build: .\n    volumes: [./data:/data]\n",
    )
    .unwrap();
    let db = stack.join("data/bot.db");
    let c = rusqlite::Connection::open(&db).unwrap();
    c.pragma_update(None, "journal_mode", "WAL").unwrap();
    c.execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (1);")
        .unwrap();
    drop(c);
    std::thread::sleep(Duration::from_millis(3100));
    let dest = t.path().join("dest");
    std::fs::create_dir(&dest).unwrap();
    let id = key();
    let svc = |r: &backup::BackupReport| {
        r.components
            .iter()
            .find(|c| c.name == "service-bot")
            .unwrap()
            .reused
    };
    assert!(!svc(&run_backup(&load(&stack), &id, &dest)));
    std::thread::sleep(Duration::from_millis(3100));
    // Lifeboat's own read-only opening of the database must not count as a change.
    assert!(svc(&run_backup(&load(&stack), &id, &dest)));
    assert!(svc(&run_backup(&load(&stack), &id, &dest)));
    let c = rusqlite::Connection::open(&db).unwrap();
    c.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
    c.execute("INSERT INTO t VALUES (2)", []).unwrap();
    // The row is only in the write-ahead log; the database file itself is unchanged.
    let report = run_backup(&load(&stack), &id, &dest);
    assert!(!svc(&report), "a write in the WAL was missed");
    drop(c);
    let restored = t.path().join("restored");
    if have_age() {
        stock_restore(&report, &id, &restored);
        let r = rusqlite::Connection::open(restored.join("data/bot.db")).unwrap();
        let n: i64 = r
            .query_row("SELECT count(*) FROM t", [], |row| row.get(0))
            .unwrap();
        assert_eq!(n, 2);
    }
}

/// Every piece file in a destination.
fn piece_names(dest: &Path) -> std::collections::BTreeSet<String> {
    std::fs::read_dir(dest.join("_pieces"))
        .into_iter()
        .flatten()
        .flat_map(|f| std::fs::read_dir(f.unwrap().path()).unwrap())
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn after_a_day_of_change_only_changed_pieces_are_written() {
    let t = tempfile::tempdir().unwrap();
    let stack = t.path().join("stack");
    if !generate("ai-chatbot", &stack) {
        return;
    }
    let dest = t.path().join("dest");
    std::fs::create_dir(&dest).unwrap();
    let id = key();
    let first = run_backup(&load(&stack), &id, &dest);
    let before = piece_names(&dest);
    let stored: u64 = first.components.iter().map(|c| c.bytes_new).sum();
    let mutate = Command::new("python3")
        .arg(crate::harness::shared().join("bench/gen_stack.py"))
        .args(["--mutate", "--seed", "2", "--out"])
        .arg(&stack)
        .status()
        .unwrap();
    assert!(mutate.success());
    std::thread::sleep(Duration::from_millis(1100));
    let second = run_backup(&load(&stack), &id, &dest);
    let after = piece_names(&dest);
    let new: Vec<&String> = after.difference(&before).collect();
    let added: u64 = second.components.iter().map(|c| c.bytes_new).sum();
    let referenced: u64 = second.components.iter().map(|c| c.pieces).sum();
    eprintln!(
        "first backup {} pieces, {stored} bytes; after a day {} new pieces of {referenced}, {added} bytes",
        before.len(),
        new.len()
    );
    assert!(!new.is_empty(), "the day changed something");
    assert!(
        (new.len() as u64) * 5 < referenced,
        "{} of {referenced} pieces were written again",
        new.len()
    );
    assert!(added * 10 < stored, "{added} bytes added of {stored}");
    // What was written is what the report says was added.
    let on_disk: u64 = new
        .iter()
        .map(|n| {
            std::fs::metadata(dest.join(lifeboat_core::archive::pieces::rel_path(n)))
                .unwrap()
                .len()
        })
        .sum();
    assert_eq!(on_disk, added);
    // Both snapshots read back whole.
    let v = verify::verify(&dest, None, true, &id, &NoProgress).unwrap();
    assert!(v.problems.is_empty(), "{:?}", v.problems);
}

/// Bytes the calling thread has read through `read(2)` and friends so far
/// (`/proc/thread-self/io`, `rchar`): a backup reads its files on the thread that runs it.
fn thread_read_bytes() -> u64 {
    let io = std::fs::read_to_string("/proc/thread-self/io").unwrap();
    io.lines()
        .find_map(|l| l.strip_prefix("rchar: "))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// Pseudo-random bytes that do not compress.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

#[test]
fn a_large_unchanged_file_is_not_read_again() {
    const BIG: usize = 48 << 20;
    let t = tempfile::tempdir().unwrap();
    let stack = t.path().join("stack");
    std::fs::create_dir_all(stack.join("models")).unwrap();
    std::fs::write(
        stack.join("compose.yaml"),
        "services:\n  ollama:\n    image: ollama/ollama\n    volumes: [./models:/root/.ollama]\n",
    )
    .unwrap();
    let model = stack.join("models/model.bin");
    let content = noise(BIG, 11);
    std::fs::write(&model, &content).unwrap();
    // Written an hour ago: older than the racy window, so its times prove it unchanged.
    let hour_ago = filetime::FileTime::from_unix_time(lifeboat_core::time::unix_now() - 3600, 0);
    filetime::set_file_mtime(&model, hour_ago).unwrap();
    std::fs::write(stack.join("models/manifest.json"), "{\"v\":1}").unwrap();
    let dest = t.path().join("dest");
    std::fs::create_dir(&dest).unwrap();
    let catalog = std::sync::Arc::new(
        lifeboat_core::Catalog::open(&t.path().join("catalog.sqlite3")).unwrap(),
    );
    let id = key();
    let backup = || {
        let opts = BackupOptions {
            threads: 2,
            catalog: Some(catalog.clone()),
            ..BackupOptions::new(&dest)
        };
        let before = thread_read_bytes();
        let r =
            backup::backup(&load(&stack), &id, &opts, &NoProgress, &CancelToken::new()).unwrap();
        let read = thread_read_bytes() - before;
        let c = r
            .components
            .iter()
            .find(|c| c.name == "service-ollama")
            .unwrap()
            .clone();
        eprintln!(
            "read {read} bytes, {} not read, {} pieces, {} bytes new",
            c.bytes_unread, c.pieces, c.bytes_new
        );
        (r, c, read)
    };
    let restored = |r: &backup::BackupReport, name: &str| {
        let into = t.path().join(name);
        stock_restore(r, &id, &into);
        std::fs::read(into.join("models/model.bin")).unwrap()
    };

    let (_, first, read) = backup();
    assert!(read >= BIG as u64, "the first backup read {read} bytes");
    assert_eq!(first.bytes_unread, 0);

    // A small file added beside it: the component is written again, the model is not read.
    std::fs::write(stack.join("models/notes.txt"), "pulled llama3").unwrap();
    let (second, c, read) = backup();
    assert!(!c.reused);
    assert_eq!(c.bytes_unread, BIG as u64);
    assert!(
        read < (BIG as u64) / 8,
        "{read} bytes read for one small file"
    );
    assert!(c.bytes_new < 1 << 20, "{} bytes new", c.bytes_new);
    if have_age() {
        assert!(restored(&second, "second") == content);
        let notes = t.path().join("second/models/notes.txt");
        assert_eq!(std::fs::read_to_string(notes).unwrap(), "pulled llama3");
    }

    // Changed in place with its modification time put back: its change time tells.
    let mut changed = content.clone();
    changed[20 << 20..21 << 20].copy_from_slice(&noise(1 << 20, 12));
    std::fs::write(&model, &changed).unwrap();
    filetime::set_file_mtime(&model, hour_ago).unwrap();
    let (third, c, read) = backup();
    assert_eq!(c.bytes_unread, 0);
    assert!(
        read >= BIG as u64,
        "a changed file was not read again ({read} bytes)"
    );
    if have_age() {
        assert!(restored(&third, "third") == changed);
    }

    // Its pieces gone from the destination (pruned, deleted by hand): read again.
    std::fs::remove_dir_all(dest.join("_pieces")).unwrap();
    std::fs::write(stack.join("models/notes.txt"), "pulled mistral").unwrap();
    let (fourth, c, read) = backup();
    assert_eq!(c.bytes_unread, 0);
    assert!(read >= BIG as u64);
    if have_age() {
        assert!(restored(&fourth, "fourth") == changed);
    }
    // Every piece the newest snapshot names reads back as its name says.
    let v = verify::verify(&dest, Some(&fourth.snapshot), true, &id, &NoProgress).unwrap();
    assert!(v.problems.is_empty(), "{:?}", v.problems);
}

/// A backup cancelled while it runs still runs the stack's post-backup hook, which hears
/// that it was cancelled; no snapshot is written. The hook's pre-backup twin ran first, in
/// the stack's folder.
#[test]
fn a_cancelled_backup_runs_its_post_hook() {
    use lifeboat_core::hooks::{self, Hooks};
    let t = tempfile::tempdir().unwrap();
    let stack = t.path().join("bot");
    std::fs::create_dir_all(stack.join("data")).unwrap();
    std::fs::write(
        stack.join("compose.yaml"),
        "services:\n  bot:\n    image: busybox\n    volumes: [./data:/data]\n",
    )
    .unwrap();
    for i in 0..200 {
        std::fs::write(
            stack.join(format!("data/{i}.bin")),
            vec![i as u8; 64 * 1024],
        )
        .unwrap();
    }
    let dest = t.path().join("drive");
    std::fs::create_dir_all(&dest).unwrap();
    let log = t.path().join("hooks.log");
    let h = Hooks {
        pre_backup: Some(format!("pwd >> '{}'", log.display())),
        post_backup: Some(format!(
            "echo \"post $LIFEBOAT_RESULT\" >> '{}'",
            log.display()
        )),
        ..Hooks::default()
    };
    let project = load(&stack);
    let id = key();
    let cancel = CancelToken::new();
    // Cancelled as the backup reads its first file, as a person pressing Cancel would.
    struct CancelOnFirst<'a>(&'a CancelToken);
    impl lifeboat_core::Progress for CancelOnFirst<'_> {
        fn phase(&self, _label: &str) {}
        fn advance(&self, _files: u64, _bytes: u64) {
            self.0.cancel();
        }
    }
    let ctx = hooks::context("bot", &stack, Some(&dest));
    let (result, after) = lifeboat_core::around::guard_backup(None, &h, &ctx, || {
        let opts = BackupOptions {
            threads: 2,
            ..BackupOptions::new(&dest)
        };
        backup::backup(&project, &id, &opts, &CancelOnFirst(&cancel), &cancel)
    });
    assert!(matches!(result, Err(BackupError::Cancelled)), "{result:?}");
    assert_eq!(after.post_hook, None);
    let said = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        said,
        format!(
            "{}\npost cancelled\n",
            stack.canonicalize().unwrap().display()
        )
    );
    assert_eq!(
        std::fs::read_dir(dest.join("bot/snapshots"))
            .map(|d| d.count())
            .unwrap_or(0),
        0
    );
}
