//! `lifeboat status`: where every stack stands, for scripts and monitoring. A stack backed
//! up is fine (exit 0); after a failed backup it needs attention (exit 1, the reason said).

use std::path::Path;
use std::process::{Command, Output};

use lifeboat_testkit::skip;

fn lifeboat(home: &Path, key: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lifeboat"))
        .env("LIFEBOAT_HOME", home)
        .env("LIFEBOAT_IDENTITY", key)
        .env("DOCKER_HOST", format!("unix://{}/no.sock", home.display()))
        .args(args)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\n{}\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn status_says_what_needs_attention_and_exits_1_for_it() {
    let t = tempfile::tempdir().unwrap();
    let (home, dest, stack) = (
        t.path().join("home"),
        t.path().join("drive"),
        t.path().join("bot"),
    );
    std::fs::create_dir_all(stack.join("data")).unwrap();
    std::fs::create_dir_all(&dest).unwrap();
    std::fs::write(
        stack.join("compose.yaml"),
        "services:\n  bot:\n    image: busybox\n    volumes: [./data:/data]\n",
    )
    .unwrap();
    std::fs::write(stack.join("data/notes.txt"), "kept\n").unwrap();
    let key = t.path().join("key.txt");
    match Command::new("age-keygen").arg("-o").arg(&key).output() {
        Ok(o) if o.status.success() => {}
        _ => return skip("age-keygen is not installed (Debian package age)"),
    }
    let empty = lifeboat(&home, &key, &["status"]);
    assert!(empty.status.success(), "{}", text(&empty));
    assert!(String::from_utf8_lossy(&empty.stdout).contains("No stacks yet"));

    let b = lifeboat(
        &home,
        &key,
        &[
            "backup",
            stack.to_str().unwrap(),
            "--to",
            dest.to_str().unwrap(),
        ],
    );
    assert!(b.status.success(), "{}", text(&b));
    let s = lifeboat(&home, &key, &["status", "--json"]);
    assert!(s.status.success(), "{}", text(&s));
    let v: serde_json::Value = serde_json::from_slice(&s.stdout).unwrap();
    assert_eq!(v[0]["stack"], "bot", "{v}");
    assert_eq!(v[0]["last_backup"]["result"], "ok", "{v}");
    assert_eq!(v[0]["attention"], false, "{v}");
    assert!(v[0]["last_proven"].is_null(), "{v}");
    let plain = lifeboat(&home, &key, &["status"]);
    let said = String::from_utf8_lossy(&plain.stdout).into_owned();
    assert!(
        said.starts_with("bot: last backup just now (ok, ")
            && said.contains("no schedule · never proven restorable"),
        "{said}"
    );

    // The drive is gone: the backup fails, and status says so with exit 1.
    std::fs::remove_dir_all(&dest).unwrap();
    let b = lifeboat(
        &home,
        &key,
        &[
            "backup",
            stack.to_str().unwrap(),
            "--to",
            dest.to_str().unwrap(),
        ],
    );
    assert_eq!(b.status.code(), Some(1), "{}", text(&b));
    let s = lifeboat(&home, &key, &["status", "--json"]);
    assert_eq!(s.status.code(), Some(1), "{}", text(&s));
    let v: serde_json::Value = serde_json::from_slice(&s.stdout).unwrap();
    assert_eq!(v[0]["attention"], true, "{v}");
    assert_eq!(v[0]["last_backup"]["result"], "failed", "{v}");
    assert_eq!(v[0]["alerts"][0]["code"], "backup_failed", "{v}");
    let plain = lifeboat(&home, &key, &["status"]);
    assert_eq!(plain.status.code(), Some(1));
    let said = String::from_utf8_lossy(&plain.stdout).into_owned();
    assert!(
        said.contains("error: The last backup of bot failed."),
        "{said}"
    );
    assert!(
        String::from_utf8_lossy(&plain.stderr).contains("bot need(s) attention"),
        "{}",
        text(&plain)
    );
}
