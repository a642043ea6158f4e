//! With a real Docker engine, started here on a private socket (`dockerd --storage-driver vfs
//! --iptables=false --bridge=none`), from an image imported from a busybox root file system:
//! containers carrying compose labels are matched to their services with state and health,
//! named volumes are found and measured, and an engine that is not there is reported once.

use std::time::{Duration, Instant};

use lifeboat_core::docker::Engine;
use lifeboat_core::inspect::{InspectOptions, SizeSource};
use lifeboat_core::WarningCode;

use crate::harness::{inspect_with, load, runtime, skip};
pub use lifeboat_testkit::{Daemon, IMAGE};

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
