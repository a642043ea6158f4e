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
    assert_eq!(
        std::fs::read_dir(&snaps).map_or(0, |r| r.count()),
        0,
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

    // The killed run's partial archive is cleared by the next backup, which succeeds.
    let archives = dest.join("crashstack/archives");
    let partials = |dir: &Path| -> Vec<std::path::PathBuf> {
        std::fs::read_dir(dir)
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.to_string_lossy().ends_with(".partial"))
            .collect()
    };
    assert!(
        !partials(&archives).is_empty(),
        "the killed run left its partial archive"
    );
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
    let left = partials(&archives);
    assert!(left.is_empty(), "{left:?}");
    assert!(running(&d, &app) && running(&d, &web));
}
