//! A desktop user who cannot read a database's folder (Postgres keeps it mode 700, owned by
//! its own uid) still backs it up, without sudo: `lifeboat backup --mode cold` runs as
//! `nobody`, stops the database and reads its folder through the Docker engine's archive API.
//! Stock `age` + `tar` restore the files with their numeric owner. Then `lifeboat restore`,
//! still as `nobody`, puts the folder back in place with its owner and mode (written through
//! the engine), the database starts on it, and the rows are back.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Stdio};

use lifeboat_testkit::{postgres_bin, skip, Daemon};

fn open_up(p: &Path) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn a_user_who_cannot_read_the_database_folder_backs_it_up_through_the_engine() {
    if let Err(e) = postgres_bin() {
        return skip(&e);
    }
    if !Path::new("/usr/bin/setpriv").is_file() {
        return skip("setpriv (util-linux) is needed to run the CLI as another user");
    }
    let d = match Daemon::start() {
        Ok(d) => d,
        Err(e) => return skip(&format!("no Docker engine for this test: {e}")),
    };
    // The unprivileged user may use the engine, as a member of the docker group would.
    let sock = d.host.trim_start_matches("unix://");
    std::fs::set_permissions(sock, std::fs::Permissions::from_mode(0o666)).unwrap();
    open_up(Path::new(sock).parent().unwrap());

    let t = tempfile::tempdir().unwrap();
    open_up(t.path());
    let stack = t.path().join("pgstack");
    std::fs::create_dir(&stack).unwrap();
    open_up(&stack);
    std::fs::write(
        stack.join("compose.yaml"),
        "name: pgstack\nservices:\n  db:\n    image: postgres:16\n    volumes: [./pgdata:/var/lib/postgresql/data]\n",
    )
    .unwrap();
    let db = d
        .run_postgres("pgstack", "db", &stack.join("pgdata"), &[])
        .unwrap();
    d.psql(
        &db,
        "postgres",
        "CREATE TABLE marker(v text); INSERT INTO marker VALUES ('here')",
    );
    let pgdata = stack.join("pgdata");
    assert!(
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "ls"])
            .arg(&pgdata)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| !s.success()),
        "nobody must not be able to read the database folder for this test to mean anything"
    );

    let key = t.path().join("key.txt");
    let lifeboat = env!("CARGO_BIN_EXE_lifeboat");
    let init = Command::new(lifeboat)
        .args(["key", "init", "--identity"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(init.status.success());
    let home = t.path().join("home");
    let dest = t.path().join("dest");
    for dir in [&home, &dest] {
        std::fs::create_dir(dir).unwrap();
        Command::new("chown")
            .arg("nobody")
            .arg(dir)
            .status()
            .unwrap();
    }
    Command::new("chown")
        .arg("nobody")
        .arg(&key)
        .status()
        .unwrap();

    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", lifeboat])
        .arg("backup")
        .arg(&stack)
        .arg("--to")
        .arg(&dest)
        .args(["--mode", "cold", "--json", "--identity"])
        .arg(&key)
        .env("LIFEBOAT_HOME", &home)
        .env("DOCKER_HOST", &d.host)
        .env("HOME", &home)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let dbc = report["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "service-db")
        .unwrap()
        .clone();
    assert_eq!(dbc["recipe"], "files-stopped");
    assert!(dbc["files"].as_u64().unwrap() > 100, "{dbc}");
    assert!(
        !report["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["code"] == "unreadable-path"),
        "{report}"
    );
    assert_eq!(
        d.must(&["inspect", "-f", "{{.State.Running}}", &db]),
        "true",
        "the database must run again"
    );

    // Stock tools put the folder back with its owner; the data is there.
    std::fs::write(t.path().join("id.txt"), std::fs::read(&key).unwrap()).unwrap();
    let restored = t.path().join("restored");
    std::fs::create_dir(&restored).unwrap();
    // The one-liner README-RESTORE.txt gives, run in the destination.
    let list = Path::new(dbc["list"].as_str().unwrap());
    let dest_root = list.ancestors().nth(3).unwrap();
    let out = Command::new("sh")
        .arg("-c")
        .arg("set -e; cd \"$1\"; age -d -i \"$2\" \"$3\" | xargs -n1 age -d -i \"$2\" | tar -xzpf - --numeric-owner -C \"$4\"")
        .arg("sh")
        .arg(dest_root)
        .arg(t.path().join("id.txt"))
        .arg(list.strip_prefix(dest_root).unwrap())
        .arg(&restored)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pg_version = restored.join("pgdata/PG_VERSION");
    assert_eq!(
        std::fs::read(&pg_version).unwrap(),
        std::fs::read(pgdata.join("PG_VERSION")).unwrap()
    );
    let postgres_uid = std::fs::metadata(pgdata.join("PG_VERSION")).unwrap().uid();
    assert_eq!(std::fs::metadata(&pg_version).unwrap().uid(), postgres_uid);
    assert_eq!(
        std::fs::metadata(restored.join("pgdata")).unwrap().mode() & 0o777,
        0o700
    );

    // Lifeboat restores it in place, as nobody: the stack folder is the user's, the
    // database folder is not and cannot be read.
    Command::new("chown")
        .arg("nobody")
        .arg(&stack)
        .status()
        .unwrap();
    d.psql(&db, "postgres", "DELETE FROM marker");
    let as_nobody = |args: &[&str]| {
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", lifeboat])
            .args(args)
            .arg("--identity")
            .arg(&key)
            .env("LIFEBOAT_HOME", &home)
            .env("DOCKER_HOST", &d.host)
            .env("HOME", &home)
            .output()
            .unwrap()
    };
    let dest_s = dest.display().to_string();
    let out = as_nobody(&[
        "restore",
        "latest",
        "--from",
        &dest_s,
        "--only",
        "db",
        "--dry-run",
        "--json",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["problems"], serde_json::json!([]), "{plan}");
    assert_eq!(
        plan["services_to_stop"],
        serde_json::json!(["db"]),
        "{plan}"
    );
    let out = as_nobody(&[
        "restore", "latest", "--from", &dest_s, "--only", "db", "--yes",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(!stdout.contains("belong to you"), "{stdout}");
    let meta = std::fs::metadata(&pgdata).unwrap();
    assert_eq!((meta.uid(), meta.mode() & 0o777), (postgres_uid, 0o700));
    assert_eq!(
        std::fs::metadata(pgdata.join("PG_VERSION")).unwrap().uid(),
        postgres_uid
    );
    d.wait_postgres(&db).unwrap();
    assert_eq!(d.psql(&db, "postgres", "SELECT v FROM marker"), "here");

    // Restore leftovers live beside the database folder: a second restore clears the first
    // one's, a failing one clears its own, and nothing else around them is touched.
    let around = |dir: &Path| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with(".lifeboat-restore-"))
            .collect();
        v.sort();
        v
    };
    let outside = around(t.path());
    let inside = around(&stack);
    let out = as_nobody(&[
        "restore", "latest", "--from", &dest_s, "--only", "db", "--yes",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The first restore's old database folder belongs to its uid: nobody cannot delete it,
    // and the report says how.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("could not be removed") && stdout.contains("sudo rm -rf"),
        "{stdout}"
    );
    let leftovers = |dir: &Path| -> usize {
        std::fs::read_dir(dir)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with(".lifeboat-restore-")
            })
            .count()
    };
    assert_eq!(
        leftovers(&stack),
        2,
        "the last restore's old folder, and the first one's, which nobody may not delete"
    );
    // A damaged copy of the destination: the restore fails before changing anything.
    let broken = t.path().join("broken-dest");
    assert!(Command::new("cp")
        .arg("-a")
        .arg(&dest)
        .arg(&broken)
        .status()
        .unwrap()
        .success());
    // Every piece gets a flipped byte, so whichever the database's dump is cut into.
    let pieces: Vec<std::path::PathBuf> = std::fs::read_dir(broken.join("_pieces"))
        .unwrap()
        .flat_map(|f| std::fs::read_dir(f.unwrap().path()).unwrap())
        .map(|e| e.unwrap().path())
        .collect();
    assert!(!pieces.is_empty());
    for piece in &pieces {
        let mut bytes = std::fs::read(piece).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 1;
        std::fs::write(piece, bytes).unwrap();
    }
    let out = as_nobody(&[
        "restore",
        "latest",
        "--from",
        &broken.display().to_string(),
        "--only",
        "db",
        "--yes",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing was changed"));
    assert_eq!(
        leftovers(&stack),
        2,
        "the failed restore left its staging behind"
    );
    let mut outside_now = around(t.path());
    outside_now.retain(|n| n != "broken-dest");
    assert_eq!(outside_now, outside);
    assert_eq!(around(&stack), inside);
    d.wait_postgres(&db).unwrap();
    assert_eq!(d.psql(&db, "postgres", "SELECT v FROM marker"), "here");
}
