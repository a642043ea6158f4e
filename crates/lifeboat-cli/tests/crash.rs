//! `kill -9` of `lifeboat backup --mode cold` while services are stopped: the containers
//! stay stopped (nothing could start them), and the next `lifeboat` command starts them
//! again from the catalog's journal. The killed run leaves no snapshot, and the next backup
//! clears its partial files.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lifeboat_testkit::{skip, Daemon};

fn lifeboat(home: &Path, host: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_lifeboat"));
    c.env("LIFEBOAT_HOME", home)
        .env("DOCKER_HOST", host)
        .env_remove("LIFEBOAT_IDENTITY");
    c
}

fn running(d: &Daemon, id: &str) -> bool {
    d.must(&["inspect", "-f", "{{.State.Running}}", id]) == "true"
}

#[test]
fn kill_9_during_a_cold_backup_then_the_next_start_restarts_the_containers() {
    let d = match Daemon::start() {
        Ok(d) => d,
        Err(e) => return skip(&format!("no Docker engine for this test: {e}")),
    };
    let t = tempfile::tempdir().unwrap();
    let stack = t.path().join("crashstack");
    std::fs::create_dir_all(stack.join("appdata")).unwrap();
    std::fs::write(
        stack.join("compose.yaml"),
        "name: crashstack\nservices:\n  app:\n    image: lifeboat-test/busybox:1\n    volumes: [./appdata:/data]\n  web:\n    image: lifeboat-test/busybox:1\n    depends_on: [app]\n",
    )
    .unwrap();
    // Enough compressible data that the backup runs for a few seconds while services are
    // stopped.
    let gen = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "base64 /dev/urandom | head -c 400000000 > {}/big.txt",
            stack.join("appdata").display()
        ))
        .status()
        .unwrap();
    assert!(gen.success());
    let app = d.run_service(
        "crashstack",
        "app",
        &[format!("{}:/data", stack.join("appdata").display())],
    );
    let web = d.run_service("crashstack", "web", &[]);
    let home = t.path().join("home");
    let dest = t.path().join("dest");
    std::fs::create_dir_all(&dest).unwrap();
    let key = t.path().join("key.txt");
    let init = lifeboat(&home, &d.host)
        .args(["key", "init", "--identity"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );

    let mut child = lifeboat(&home, &d.host)
        .arg("backup")
        .arg(&stack)
        .arg("--to")
        .arg(&dest)
        .args(["--mode", "cold", "--identity"])
        .arg(&key)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while running(&d, &app) || running(&d, &web) {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the backup ended before both services were seen stopped"
        );
        assert!(Instant::now() < deadline, "the services were never stopped");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Give it a moment to be well into the archive, then kill it without warning.
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the backup finished before it could be killed; make the data larger"
    );
    Command::new("kill")
        .args(["-9", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success());
    assert!(
        !running(&d, &app) && !running(&d, &web),
        "nothing should have restarted them yet"
    );
    let snaps = dest.join("crashstack/snapshots");
    let named = |dir: &Path, end: &str| -> Vec<std::path::PathBuf> {
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.to_string_lossy().ends_with(end))
            .collect()
    };
    assert!(
        named(&snaps, ".manifest.age").is_empty(),
        "a killed backup must not leave a snapshot"
    );

    // The next start of any lifeboat command starts them again and says so.
    let out = lifeboat(&home, &d.host)
        .args(["snapshots", "--to"])
        .arg(&dest)
        .arg("--identity")
        .arg(&key)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("Started crashstack-app-1 again"),
        "{stderr}"
    );
    assert!(
        stderr.contains("Started crashstack-web-1 again"),
        "{stderr}"
    );
    assert!(running(&d, &app) && running(&d, &web));

    // A second start has nothing left to do.
    let out = lifeboat(&home, &d.host)
        .args(["snapshots", "--to"])
        .arg(&dest)
        .arg("--identity")
        .arg(&key)
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&out.stderr).contains("again"));

    // The killed run left pieces being written (and maybe lists with no manifest): the next
    // backup succeeds, clears the lists, and reuses what the dead run stored.
    let piece_partials = || -> Vec<std::path::PathBuf> {
        std::fs::read_dir(dest.join("_pieces"))
            .into_iter()
            .flatten()
            .filter_map(Result::ok)
            .flat_map(|f| named(&f.path(), ".partial"))
            .collect()
    };
    let out = lifeboat(&home, &d.host)
        .arg("backup")
        .arg(&stack)
        .arg("--to")
        .arg(&dest)
        .args(["--identity"])
        .arg(&key)
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let manifests = named(&snaps, ".manifest.age");
    assert_eq!(manifests.len(), 1);
    let id = manifests[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .replace(".manifest.age", "");
    let lists = named(&snaps, ".list.age");
    assert!(!lists.is_empty());
    for l in &lists {
        assert!(
            l.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(&format!("{id}.")),
            "a list of the killed run is left: {l:?}"
        );
    }
    // Prune clears what the killed run was writing (its marker is a dead process's).
    let out = lifeboat(&home, &d.host)
        .args(["prune", "--keep-last", "5", "--json", "--to"])
        .arg(&dest)
        .arg("--identity")
        .arg(&key)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(r["pieces_left"].is_null(), "{r}");
    let left = piece_partials();
    assert!(left.is_empty(), "{left:?}");
    let v = lifeboat(&home, &d.host)
        .args(["verify", "--deep", "--to"])
        .arg(&dest)
        .arg("--identity")
        .arg(&key)
        .output()
        .unwrap();
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stdout));
    assert!(running(&d, &app) && running(&d, &web));
}
