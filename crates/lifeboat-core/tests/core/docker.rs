//! With a real Docker engine, started here on a private socket (`dockerd --storage-driver vfs
//! --iptables=false --bridge=none`), from an image imported from a busybox root file system:
//! containers carrying compose labels are matched to their services with state and health,
//! named volumes are found and measured, and an engine that is not there is reported once.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lifeboat_core::docker::Engine;
use lifeboat_core::inspect::{InspectOptions, SizeSource};
use lifeboat_core::WarningCode;

use crate::harness::{inspect_with, load, runtime, skip};

pub const IMAGE: &str = "lifeboat-test/busybox:1";

/// A private Docker daemon, stopped and cleaned up on drop.
pub struct Daemon {
    child: Child,
    dir: tempfile::TempDir,
    pub host: String,
}

impl Daemon {
    pub fn start() -> Result<Self, String> {
        let dockerd = ["/usr/sbin/dockerd", "/usr/bin/dockerd"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
            .ok_or("dockerd is not installed (Debian package docker.io)")?;
        let busybox = ["/bin/busybox", "/usr/bin/busybox"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
            .ok_or("busybox is not installed (Debian package busybox-static)")?;
        if !nix_is_root() {
            return Err("starting dockerd needs root".into());
        }
        let dir = tempfile::Builder::new()
            .prefix("lbd")
            .tempdir_in("/tmp")
            .map_err(|e| e.to_string())?;
        let d = dir.path();
        let sock = d.join("docker.sock");
        let log = std::fs::File::create(d.join("dockerd.log")).map_err(|e| e.to_string())?;
        let child = Command::new(dockerd)
            .arg("--data-root")
            .arg(d.join("data"))
            .arg("--exec-root")
            .arg(d.join("exec"))
            .arg("--pidfile")
            .arg(d.join("docker.pid"))
            .arg("--host")
            .arg(format!("unix://{}", sock.display()))
            .args([
                "--storage-driver",
                "vfs",
                "--iptables=false",
                "--ip6tables=false",
                "--bridge=none",
            ])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start dockerd: {e}"))?;
        let host = format!("unix://{}", sock.display());
        let daemon = Self { child, dir, host };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !daemon
            .docker(&["version"])
            .is_ok_and(|o| o.status.success())
        {
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(daemon.dir.path().join("dockerd.log"))
                    .unwrap_or_default();
                return Err(format!("dockerd did not come up in 60 s:\n{log}"));
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        daemon.import_busybox(&busybox)?;
        Ok(daemon)
    }

    pub fn docker(&self, args: &[&str]) -> std::io::Result<std::process::Output> {
        Command::new("docker")
            .env("DOCKER_HOST", &self.host)
            .args(args)
            .output()
    }

    /// Runs docker and panics with its output when it fails.
    pub fn must(&self, args: &[&str]) -> String {
        let out = self.docker(args).expect("docker runs");
        assert!(
            out.status.success(),
            "docker {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    fn import_busybox(&self, busybox: &Path) -> Result<(), String> {
        let rootfs = self.dir.path().join("rootfs");
        std::fs::create_dir_all(rootfs.join("bin")).map_err(|e| e.to_string())?;
        std::fs::create_dir_all(rootfs.join("tmp")).map_err(|e| e.to_string())?;
        std::fs::copy(busybox, rootfs.join("bin/busybox")).map_err(|e| e.to_string())?;
        // Relative links, so that they resolve inside the container too.
        let list = Command::new(busybox)
            .arg("--list")
            .output()
            .map_err(|e| e.to_string())?;
        for applet in String::from_utf8_lossy(&list.stdout).split_whitespace() {
            if applet != "busybox" {
                std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet))
                    .map_err(|e| e.to_string())?;
            }
        }
        let tar = Command::new("tar")
            .arg("-C")
            .arg(&rootfs)
            .args(["-c", "."])
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| e.to_string())?;
        let out = Command::new("docker")
            .env("DOCKER_HOST", &self.host)
            .args(["import", "--change", "ENV PATH=/bin", "-", IMAGE])
            .stdin(tar.stdout.ok_or("no tar output")?)
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!(
                "docker import failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(ids) = self.docker(&["ps", "-aq"]) {
            let ids = String::from_utf8_lossy(&ids.stdout)
                .split_whitespace()
                .map(str::to_owned)
                .collect::<Vec<_>>();
            if !ids.is_empty() {
                let mut args = vec!["rm", "-f"];
                args.extend(ids.iter().map(String::as_str));
                let _ = self.docker(&args);
            }
        }
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        // vfs layers may hold mounts; unmount anything left under the folder before removal.
        let _ = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "grep -o ' {}/[^ ]*' /proc/mounts | sort -r | xargs -r -n1 umount -l",
                self.dir.path().display()
            ))
            .status();
    }
}

fn nix_is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

#[test]
fn engine_states_health_and_named_volumes() {
    let daemon = match Daemon::start() {
        Ok(d) => d,
        Err(e) => return skip(&format!("no Docker engine for this test: {e}")),
    };
    let t = tempfile::tempdir().unwrap();
    std::fs::write(
        t.path().join("compose.yaml"),
        "name: dockstack\nservices:\n  web:\n    image: lifeboat-test/busybox:1\n    volumes: [appdata:/data]\n  db:\n    image: postgres:16\n    volumes: [dbdata:/var/lib/postgresql/data]\n  worker:\n    image: lifeboat-test/busybox:1\nvolumes:\n  appdata:\n  dbdata:\n",
    )
    .unwrap();
    let labels = |svc: &str| {
        vec![
            "--label".to_owned(),
            "com.docker.compose.project=dockstack".to_owned(),
            "--label".to_owned(),
            format!("com.docker.compose.service={svc}"),
        ]
    };
    daemon.must(&["volume", "create", "dockstack_appdata"]);
    let mut web = vec![
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        "dockstack-web-1",
        "--health-cmd",
        "true",
        "--health-interval",
        "1s",
    ]
    .into_iter()
    .map(String::from)
    .collect::<Vec<_>>();
    web.extend(labels("web"));
    web.extend(["-v", "dockstack_appdata:/data", IMAGE, "sh", "-c", "echo hello > /data/a.txt; head -c 5000 /dev/zero > /data/b.bin; mkdir /data/sub; echo x > /data/sub/c; sleep 3600"].map(String::from));
    let web_id = daemon.must(&web.iter().map(String::as_str).collect::<Vec<_>>());
    let mut db = vec!["run", "--network", "none", "--name", "dockstack-db-1"]
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
    db.extend(labels("db"));
    db.extend(
        [
            "-v",
            "dockstack_dbdata:/var/lib/postgresql/data",
            IMAGE,
            "sh",
            "-c",
            "echo 16 > /var/lib/postgresql/data/PG_VERSION",
        ]
        .map(String::from),
    );
    daemon.must(&db.iter().map(String::as_str).collect::<Vec<_>>());
    // A container of another project must not be matched.
    daemon.must(&[
        "run",
        "-d",
        "--network",
        "none",
        "--label",
        "com.docker.compose.project=other",
        "--label",
        "com.docker.compose.service=web",
        IMAGE,
        "sleep",
        "3600",
    ]);

    // Wait for the health check to pass.
    let deadline = Instant::now() + Duration::from_secs(30);
    while daemon.must(&["inspect", "-f", "{{.State.Health.Status}}", &web_id]) != "healthy" {
        assert!(
            Instant::now() < deadline,
            "the web container never became healthy"
        );
        std::thread::sleep(Duration::from_millis(300));
    }

    let rt = runtime();
    let project = load(t.path());
    let opts = InspectOptions {
        docker_host: Some(daemon.host.clone()),
        ..InspectOptions::default()
    };
    let i = inspect_with(&project, &opts);
    assert!(i.docker.reachable, "{:?}", i.docker);
    let by = |n: &str| i.services.iter().find(|s| s.name == n).unwrap();
    assert_eq!(
        (by("web").state.as_str(), by("web").health.as_deref()),
        ("running", Some("healthy"))
    );
    assert_eq!(
        by("web").containers.len(),
        1,
        "the other project's container was matched"
    );
    assert_eq!(by("web").containers[0].name, "dockstack-web-1");
    assert_eq!(by("db").state, "exited");
    assert_eq!(by("worker").state, "not created");
    let vol = &by("web").mounts[0];
    assert_eq!(vol.mount.volume_name.as_deref(), Some("dockstack_appdata"));
    assert_eq!(vol.measured_by, SizeSource::Files);
    assert_eq!((vol.bytes, vol.files), (6 + 5000 + 2, 3));
    assert!(vol
        .mount
        .host_path
        .as_ref()
        .unwrap()
        .ends_with("volumes/dockstack_appdata/_data"));
    assert_eq!(by("db").mounts[0].bytes, 3);
    assert!(
        !i.warnings
            .iter()
            .any(|w| w.code == WarningCode::DockerUnavailable),
        "{:#?}",
        i.warnings
    );

    // The same files read through the engine's archive API, as for a volume the user cannot read.
    let engine = rt.block_on(Engine::connect(Some(&daemon.host))).unwrap();
    let (files, bytes) = rt.block_on(engine.measure_path(&web_id, "/data")).unwrap();
    assert_eq!((files, bytes), (3, 5008));
    let err = rt
        .block_on(engine.measure_path(&web_id, "/no/such/path"))
        .unwrap_err();
    assert!(err.to_string().contains("/no/such/path"), "{err}");
}

#[test]
fn no_engine_is_said_once_and_inspection_carries_on() {
    let t = tempfile::tempdir().unwrap();
    std::fs::create_dir(t.path().join("data")).unwrap();
    std::fs::write(t.path().join("data/x"), b"12345").unwrap();
    std::fs::write(t.path().join("compose.yaml"), "services:\n  a: {image: x, volumes: [./data:/data, v:/v]}\n  b: {image: y, volumes: [v:/v]}\nvolumes: {v: {}}\n").unwrap();
    let project = load(t.path());
    let opts = InspectOptions {
        docker_host: Some(format!("unix://{}/nope.sock", t.path().display())),
        ..InspectOptions::default()
    };
    let started = Instant::now();
    let i = inspect_with(&project, &opts);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "an absent engine must fail fast"
    );
    assert!(!i.docker.reachable);
    let unavailable: Vec<_> = i
        .warnings
        .iter()
        .filter(|w| w.code == WarningCode::DockerUnavailable)
        .collect();
    assert_eq!(unavailable.len(), 1);
    assert!(unavailable[0].message.contains("nope.sock"));
    assert_eq!(i.services[0].state, "unknown");
    assert_eq!(i.total_bytes, 5);
}
