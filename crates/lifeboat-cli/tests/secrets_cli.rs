//! `lifeboat secrets` on a real stack folder: values go in through standard input and come
//! out only through `get`; `check --json` has the documented shape; `--fix` fixes the mode.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn lifeboat(dir: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lifeboat"))
        .arg("secrets")
        .arg(dir)
        .args(args)
        .env("HOME", dir.join("home"))
        .env("LIFEBOAT_HOME", dir.join("lbhome"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(s) = stdin {
        input.write_all(s.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

#[test]
fn values_in_through_stdin_out_only_through_get() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path();
    std::fs::write(
        dir.join("compose.yaml"),
        "services:\n  db:\n    image: postgres:16\n    environment:\n      POSTGRES_PASSWORD: ${DB_PASSWORD}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join(".env"),
        "# keep this comment\nDB_PASSWORD=first-secret-value\n",
    )
    .unwrap();
    std::fs::set_permissions(dir.join(".env"), std::fs::Permissions::from_mode(0o644)).unwrap();

    let out = lifeboat(dir, &["set", "DB_PASSWORD"], Some("second-secret-value\n"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(!shown.contains("second-secret-value"), "{shown}");
    assert_eq!(
        std::fs::read_to_string(dir.join(".env")).unwrap(),
        "# keep this comment\nDB_PASSWORD=second-secret-value\n"
    );

    let list = lifeboat(dir, &["list", "--json"], None);
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(!text.contains("secret-value"), "{text}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["files"][0]["variables"][0]["used_by"][0], "db");

    let get = lifeboat(dir, &["get", "DB_PASSWORD"], None);
    assert_eq!(
        String::from_utf8_lossy(&get.stdout),
        "second-secret-value\n"
    );

    let gen = lifeboat(dir, &["generate", "JWT_SECRET"], None);
    assert!(gen.status.success());
    let get = lifeboat(dir, &["get", "JWT_SECRET"], None);
    let jwt = String::from_utf8_lossy(&get.stdout).trim().to_owned();
    assert_eq!(jwt.len(), 64);
    assert!(!String::from_utf8_lossy(&gen.stdout).contains(&jwt));

    let check = lifeboat(dir, &["check", "--json"], None);
    let v: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
    let f = &v["findings"][0];
    for k in [
        "code", "severity", "file", "line", "variable", "message", "fix",
    ] {
        assert!(f.get(k).is_some(), "findings lack {k}: {v}");
    }
    assert_eq!(f["code"], "file-mode");
    let fixed = lifeboat(dir, &["check", "--fix"], None);
    assert!(fixed.status.success());
    assert_eq!(
        std::fs::metadata(dir.join(".env"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );

    // Rotation outside a terminal needs --yes and says what it means first.
    let no = lifeboat(dir, &["rotate", "DB_PASSWORD"], None);
    assert!(!no.status.success());
    let yes = lifeboat(dir, &["rotate", "DB_PASSWORD", "--yes"], None);
    let said = String::from_utf8_lossy(&yes.stdout);
    assert!(said.contains("db reads it and must be restarted"), "{said}");
    assert!(said.contains("ALTER USER"), "{said}");
    let get = lifeboat(dir, &["get", "DB_PASSWORD"], None);
    assert_ne!(
        String::from_utf8_lossy(&get.stdout),
        "second-secret-value\n"
    );
}
