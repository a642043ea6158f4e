//! Docker not reachable is three different problems with three different fixes. Each is
//! made real here (a socket path with nothing behind it and no Docker installed, a socket
//! nobody listens on, a socket the user may not open) and `lifeboat inspect` must name the
//! case, give its fix, and still report the stack from its files.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::process::Command;

use lifeboat_testkit::{nix_is_root, skip};

fn stack(dir: &Path) -> std::path::PathBuf {
    let stack = dir.join("files-only");
    std::fs::create_dir_all(stack.join("data")).unwrap();
    std::fs::write(
        stack.join("compose.yaml"),
        "services:\n  bot:\n    image: busybox\n    volumes: [./data:/data]\n",
    )
    .unwrap();
    std::fs::write(stack.join("data/notes.txt"), "kept on disk\n").unwrap();
    stack
}

fn inspect(cmd: &mut Command, stack: &Path, host: &str) -> serde_json::Value {
    let out = cmd
        .arg("inspect")
        .arg(stack)
        .arg("--json")
        .env("DOCKER_HOST", format!("unix://{host}"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "inspect works on files alone: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["docker"]["reachable"], false);
    assert!(
        v["total_bytes"].as_u64().unwrap() >= 13,
        "the files are still measured: {v}"
    );
    v
}

fn open_up(p: &Path) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn each_reason_docker_is_unreachable_gets_its_own_fix() {
    let lifeboat = env!("CARGO_BIN_EXE_lifeboat");
    let t = tempfile::tempdir().unwrap();
    open_up(t.path());
    let stack = stack(t.path());
    let home = t.path().join("home");
    std::fs::create_dir(&home).unwrap();

    // Not installed: no socket, and no docker command on PATH.
    let missing = t.path().join("missing.sock");
    let v = inspect(
        Command::new(lifeboat)
            .env("LIFEBOAT_HOME", &home)
            .env("PATH", t.path()),
        &stack,
        missing.to_str().unwrap(),
    );
    assert_eq!(v["docker"]["problem"], "not-installed", "{v}");
    let msg = v["docker"]["message"].as_str().unwrap();
    assert!(
        msg.contains("Docker is not installed") && msg.contains("install Docker Engine"),
        "{msg}"
    );

    // Not running: the same missing socket, with a docker command installed.
    let bin = t.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    std::fs::write(bin.join("docker"), "#!/bin/sh\nexit 1\n").unwrap();
    let v = inspect(
        Command::new(lifeboat)
            .env("LIFEBOAT_HOME", &home)
            .env("PATH", &bin),
        &stack,
        missing.to_str().unwrap(),
    );
    assert_eq!(v["docker"]["problem"], "not-running", "{v}");

    // Not running, the other way it shows: a socket file left behind by a stopped engine.
    let stale = t.path().join("stale.sock");
    drop(UnixListener::bind(&stale).unwrap());
    let v = inspect(
        Command::new(lifeboat).env("LIFEBOAT_HOME", &home),
        &stack,
        stale.to_str().unwrap(),
    );
    assert_eq!(v["docker"]["problem"], "not-running", "{v}");
    let msg = v["docker"]["message"].as_str().unwrap();
    assert!(
        msg.contains("not running") && msg.contains("systemctl start docker"),
        "{msg}"
    );
    assert!(
        v["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["message"].as_str().unwrap().contains("not running")),
        "the warning list says it too: {v}"
    );

    // No permission: a live socket only its owner (root, mode 600) may open, used as nobody.
    if !Path::new("/usr/bin/setpriv").is_file() {
        return skip("setpriv (util-linux) is needed to run the CLI as another user");
    }
    if !nix_is_root() {
        return skip("the permission case needs root to create a socket another user cannot open");
    }
    let guarded = t.path().join("guarded.sock");
    let _listener = UnixListener::bind(&guarded).unwrap();
    std::fs::set_permissions(&guarded, std::fs::Permissions::from_mode(0o600)).unwrap();
    let nobody_home = t.path().join("nobody");
    std::fs::create_dir(&nobody_home).unwrap();
    assert!(Command::new("chown")
        .arg("nobody")
        .arg(&nobody_home)
        .status()
        .unwrap()
        .success());
    let v = inspect(
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", lifeboat])
            .env("LIFEBOAT_HOME", &nobody_home)
            .env("HOME", &nobody_home),
        &stack,
        guarded.to_str().unwrap(),
    );
    assert_eq!(v["docker"]["problem"], "no-permission", "{v}");
    let msg = v["docker"]["message"].as_str().unwrap();
    assert!(
        msg.contains("add yourself to the docker group") && msg.contains("log out and in"),
        "{msg}"
    );
}
