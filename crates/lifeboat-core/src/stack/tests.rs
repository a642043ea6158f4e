use std::fs;

use super::*;

fn write(dir: &Path, name: &str, text: &str) {
    let p = dir.join(name);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, text).unwrap();
}

fn opts() -> LoadOptions {
    LoadOptions {
        files: Vec::new(),
        use_process_env: false,
    }
}

fn codes(p: &Project) -> Vec<WarningCode> {
    p.warnings.iter().map(|w| w.code).collect()
}

#[test]
fn discovery_prefers_compose_yaml_and_takes_its_override() {
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        "docker-compose.yml",
        "services:\n  old:\n    image: busybox\n",
    );
    write(
        t.path(),
        "compose.yaml",
        "services:\n  app:\n    image: busybox\n",
    );
    write(
        t.path(),
        "compose.override.yml",
        "services:\n  app:\n    volumes: [./data:/data]\n",
    );
    write(
        t.path(),
        "docker-compose.override.yml",
        "services:\n  other:\n    image: x\n",
    );
    let p = load(t.path(), &opts()).unwrap();
    let names: Vec<_> = p
        .compose_files
        .iter()
        .map(|f| f.file_name().unwrap().to_str().unwrap())
        .collect();
    assert_eq!(names, ["compose.yaml", "compose.override.yml"]);
    assert_eq!(p.services.len(), 1);
    assert_eq!(p.services[0].mounts[0].target, "/data");
}

#[test]
fn no_compose_file_and_bad_yaml_are_clear_errors() {
    let t = tempfile::tempdir().unwrap();
    let err = load(t.path(), &opts()).unwrap_err();
    assert!(matches!(err, StackError::NoComposeFile { .. }));
    assert!(err.to_string().contains("compose.yaml"));

    write(
        t.path(),
        "compose.yaml",
        "services:\n  app:\n    image: [unclosed\n  other: x\n",
    );
    let err = load(t.path(), &opts()).unwrap_err();
    match &err {
        StackError::Yaml { path, line, .. } => {
            assert!(path.ends_with("compose.yaml"));
            assert!(line.is_some());
        }
        other => panic!("expected a YAML error, got {other:?}"),
    }
    assert!(err.to_string().contains("compose.yaml line"), "{err}");

    write(t.path(), "compose.yaml", "- just\n- a list\n");
    assert!(matches!(
        load(t.path(), &opts()).unwrap_err(),
        StackError::Invalid { .. }
    ));
    write(t.path(), "compose.yaml", "");
    assert!(matches!(
        load(t.path(), &opts()).unwrap_err(),
        StackError::Invalid { .. }
    ));
    let missing = t.path().join("nope");
    assert!(matches!(
        load(&missing, &opts()).unwrap_err(),
        StackError::NotAFolder { .. }
    ));
}

#[test]
fn interpolation_env_and_project_name() {
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        ".env",
        "DATA=./state\nCOMPOSE_PROJECT_NAME=My_Stack!\nTAG=16\n",
    );
    write(
        t.path(),
        "compose.yaml",
        "name: ignored\nservices:\n  db:\n    image: postgres:${TAG}\n    volumes:\n      - ${DATA}/pg:/var/lib/postgresql/data\n      - ${MISSING:-/srv}/x:/x\n      - ${NOPE}/y:/y\n    environment:\n      A: ${REQ:?set REQ please}\n",
    );
    let p = load(t.path(), &opts()).unwrap();
    assert_eq!(p.name, "my_stack");
    let db = p.service("db").unwrap();
    assert_eq!(db.image.as_deref(), Some("postgres:16"));
    assert_eq!(
        db.mounts[0].host_path.as_deref(),
        Some(t.path().canonicalize().unwrap().join("state/pg").as_path())
    );
    assert_eq!(db.mounts[1].host_path.as_deref(), Some(Path::new("/srv/x")));
    assert_eq!(db.image_kind.as_ref().unwrap().0, ServiceKind::Postgres);
    let c = codes(&p);
    assert!(c.contains(&WarningCode::VariableUnset), "{c:?}");
    assert!(c.contains(&WarningCode::VariableRequired), "{c:?}");
    let required = p
        .warnings
        .iter()
        .find(|w| w.code == WarningCode::VariableRequired)
        .unwrap();
    assert!(required.message.contains("REQ"));
}

#[test]
fn project_name_falls_back_to_name_then_folder() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("Chat-Bot");
    write(&dir, "compose.yaml", "services: {a: {image: x}}\n");
    assert_eq!(load(&dir, &opts()).unwrap().name, "chat-bot");
    write(
        &dir,
        "compose.yaml",
        "name: named\nservices: {a: {image: x}}\n",
    );
    assert_eq!(load(&dir, &opts()).unwrap().name, "named");
}

#[test]
fn mounts_short_and_long_syntax() {
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        "compose.yaml",
        r#"
services:
  app:
    image: busybox
    volumes:
      - ./data:/data:ro,z
      - /abs/path:/abs
      - ~/cfg:/cfg
      - named:/named
      - /anon
      - type: bind
        source: ./long
        target: /long
        read_only: true
      - type: volume
        source: ext
        target: /ext
      - type: tmpfs
        target: /cache
      - dev:/dev-vol
    tmpfs:
      - /run:size=1m
volumes:
  named:
  ext:
    external: true
    name: real-ext
  dev:
    driver: local
    driver_opts: {type: none, o: bind, device: ./devdata}
"#,
    );
    let p = load(t.path(), &opts()).unwrap();
    let root = t.path().canonicalize().unwrap();
    let m = &p.services[0].mounts;
    assert_eq!(
        (m[0].kind, m[0].read_only, m[0].selinux.as_deref()),
        (MountType::Bind, true, Some("z"))
    );
    assert_eq!(m[0].host_path.as_deref(), Some(root.join("data").as_path()));
    assert_eq!(m[1].host_path.as_deref(), Some(Path::new("/abs/path")));
    assert_eq!(m[2].kind, MountType::Bind);
    assert!(!m[2].host_path.as_ref().unwrap().starts_with(&root));
    assert_eq!(
        (m[3].kind, m[3].volume_name.as_deref()),
        (
            MountType::Volume,
            Some(format!("{}_named", p.name).as_str())
        )
    );
    assert_eq!(
        (m[4].kind, m[4].source.as_deref(), m[4].target.as_str()),
        (MountType::Volume, None, "/anon")
    );
    assert_eq!((m[5].kind, m[5].read_only), (MountType::Bind, true));
    assert_eq!(
        (m[6].volume_name.as_deref(), m[6].external),
        (Some("real-ext"), true)
    );
    assert_eq!(m[7].kind, MountType::Tmpfs);
    assert_eq!(
        m[8].host_path.as_deref(),
        Some(root.join("devdata").as_path())
    );
    assert_eq!(
        (m[9].kind, m[9].target.as_str()),
        (MountType::Tmpfs, "/run")
    );
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
}

#[test]
fn anchors_merge_keys_profiles_extends_and_overrides() {
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        "base.yml",
        "services:\n  common:\n    image: busybox\n    volumes: [./shared:/shared, ./a:/a]\n    environment: [A=1, B=2]\n",
    );
    write(
        t.path(),
        "compose.yaml",
        r#"
x-app: &app
  image: n8nio/n8n
  profiles: [cpu]
  volumes: [n8n:/home/node/.n8n]
services:
  one:
    <<: *app
  two:
    <<: *app
    profiles: [gpu]
  child:
    extends: {file: base.yml, service: common}
    volumes: [./b:/a]
    environment: {B: "3"}
  grandchild:
    extends: child
volumes:
  n8n: {}
"#,
    );
    write(
        t.path(),
        "extra.yml",
        "services:\n  one:\n    volumes: [./more:/more]\n",
    );
    let p = load(
        t.path(),
        &LoadOptions {
            files: vec!["compose.yaml".into(), "extra.yml".into()],
            use_process_env: false,
        },
    )
    .unwrap();
    let one = p.service("one").unwrap();
    assert_eq!(one.profiles, ["cpu"]);
    assert_eq!(one.image_kind.as_ref().unwrap().0, ServiceKind::N8n);
    assert_eq!(
        one.mounts
            .iter()
            .map(|m| m.target.as_str())
            .collect::<Vec<_>>(),
        ["/home/node/.n8n", "/more"]
    );
    assert_eq!(p.service("two").unwrap().profiles, ["gpu"]);
    let child = p.service("child").unwrap();
    let root = t.path().canonicalize().unwrap();
    let targets: Vec<_> = child
        .mounts
        .iter()
        .map(|m| (m.target.clone(), m.host_path.clone().unwrap()))
        .collect();
    assert_eq!(
        targets,
        [
            ("/shared".to_string(), root.join("shared")),
            ("/a".to_string(), root.join("b"))
        ]
    );
    assert_eq!(child.environment_keys, ["A", "B"]);
    assert_eq!(p.service("grandchild").unwrap().mounts.len(), 2);
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
}

#[test]
fn include_resolves_paths_in_the_included_folder() {
    let t = tempfile::tempdir().unwrap();
    write(t.path(), "sub/compose.yaml", "services:\n  db:\n    image: postgres:${PGV}\n    env_file: db.env\n    volumes: [./pg:/var/lib/postgresql/data]\n");
    write(t.path(), "sub/.env", "PGV=17\n");
    write(t.path(), "sub/db.env", "POSTGRES_PASSWORD=x\n");
    write(t.path(), "compose.yaml", "include:\n  - sub/compose.yaml\nservices:\n  app:\n    image: busybox\n    depends_on: {db: {condition: service_healthy}}\n");
    let p = load(t.path(), &opts()).unwrap();
    let root = t.path().canonicalize().unwrap();
    let db = p.service("db").unwrap();
    assert_eq!(db.image.as_deref(), Some("postgres:17"));
    assert_eq!(
        db.mounts[0].host_path.as_deref(),
        Some(root.join("sub/pg").as_path())
    );
    assert_eq!(db.env_files[0].path, root.join("sub/db.env"));
    assert_eq!(p.service("app").unwrap().depends_on, ["db"]);
    assert_eq!(p.compose_files.len(), 2);
}

#[test]
fn hardcoded_secrets_env_files_and_undefined_volumes() {
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        "compose.yaml",
        r#"
services:
  app:
    image: busybox
    env_file:
      - path: ./optional.env
        required: false
      - ./needed.env
    environment:
      DB_PASSWORD: hunter22
      API_TOKEN: ${API_TOKEN}
      DATABASE_URL: postgres://u:pw@db/x
      SECRET_FILE: /run/secrets/x
      LOG_LEVEL: debug
    volumes: [nowhere:/data]
"#,
    );
    let p = load(t.path(), &opts()).unwrap();
    let app = p.service("app").unwrap();
    assert_eq!(app.hardcoded_secrets, ["DB_PASSWORD", "DATABASE_URL"]);
    assert_eq!(app.env_files.len(), 2);
    assert!(!app.env_files[0].required);
    let c = codes(&p);
    assert_eq!(
        c.iter()
            .filter(|c| **c == WarningCode::EnvFileMissing)
            .count(),
        1,
        "{c:?}"
    );
    assert!(c.contains(&WarningCode::VolumeUndefined));
    // No warning text ever carries a value.
    assert!(p.warnings.iter().all(|w| !w.message.contains("hunter22")));
}

#[test]
fn extends_cycle_is_a_warning_not_a_hang() {
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        "compose.yaml",
        "services:\n  a: {extends: b, image: x}\n  b: {extends: a, image: y}\n",
    );
    let p = load(t.path(), &opts()).unwrap();
    assert!(codes(&p).contains(&WarningCode::ComposeProblem));
    assert_eq!(p.services.len(), 2);
}

#[test]
fn stop_grace_period_is_read_as_compose_reads_it() {
    use std::time::Duration;
    assert_eq!(parse_duration("10s"), Some(Duration::from_secs(10)));
    assert_eq!(parse_duration("1m30s"), Some(Duration::from_secs(90)));
    assert_eq!(parse_duration("1h"), Some(Duration::from_secs(3600)));
    assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
    assert_eq!(parse_duration("2.5s"), Some(Duration::from_millis(2500)));
    assert_eq!(parse_duration("3"), Some(Duration::from_secs(3)));
    assert_eq!(parse_duration("soon"), None);
    assert_eq!(parse_duration("10x"), None);
    assert_eq!(parse_duration(""), None);
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        "compose.yaml",
        "services:\n  a: {image: x, stop_grace_period: 1m}\n  b: {image: y}\n",
    );
    let p = load(t.path(), &opts()).unwrap();
    assert_eq!(
        p.service("a").unwrap().stop_grace,
        Some(Duration::from_secs(60))
    );
    assert_eq!(p.service("b").unwrap().stop_grace, None);
}
