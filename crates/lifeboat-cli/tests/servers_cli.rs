//! Servers without a desktop, with real parts on loopback: an HTTP receiver started here
//! records what ntfy, Gotify, a webhook and a health check would get; a real SMTP server
//! (Python's aiosmtpd, Debian package python3-aiosmtpd) receives the mail; hooks run real
//! shell commands around real backups and restores; `lifeboat service install --user`
//! runs the scheduler under a real systemd user manager.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lifeboat_testkit::skip;

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Request {
    method: String,
    path: String,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

impl Request {
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// An HTTP/1.1 server on a loopback port that records every request and answers 200 (401
/// under `/deny`).
struct Receiver {
    port: u16,
    got: Arc<Mutex<Vec<Request>>>,
}

impl Receiver {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let got = Arc::new(Mutex::new(Vec::new()));
        let g = got.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let g = g.clone();
                std::thread::spawn(move || serve(conn, &g));
            }
        });
        Self { port, got }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn requests(&self) -> Vec<Request> {
        self.got.lock().unwrap().clone()
    }

    /// Waits (up to 20 s) until a request to `path` has come, and returns the last one.
    fn wait(&self, path: &str, n: usize) -> Vec<Request> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let r: Vec<Request> = self
                .requests()
                .into_iter()
                .filter(|r| r.path == path)
                .collect();
            if r.len() >= n {
                return r;
            }
            assert!(
                Instant::now() < deadline,
                "no request {n} to {path}; got {:?}",
                self.requests()
                    .iter()
                    .map(|r| format!("{} {}", r.method, r.path))
                    .collect::<Vec<_>>()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn serve(conn: std::net::TcpStream, got: &Mutex<Vec<Request>>) {
    let mut w = conn.try_clone().unwrap();
    let mut r = BufReader::new(conn);
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let (method, path) = (
            parts.next().unwrap_or_default().to_owned(),
            parts.next().unwrap_or_default().to_owned(),
        );
        let mut headers = BTreeMap::new();
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
            }
        }
        let len: usize = headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        if r.read_exact(&mut body).is_err() {
            return;
        }
        let deny = path.starts_with("/deny");
        got.lock().unwrap().push(Request {
            method,
            path,
            headers,
            body,
        });
        let answer = if deny {
            "HTTP/1.1 401 Unauthorized\r\nContent-Length: 28\r\n\r\n{\"error\":\"unauthorized xyz\"}"
        } else {
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: application/json\r\n\r\n{}"
        };
        if w.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

/// A child process stopped when the test ends.
struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A real SMTP server (aiosmtpd) on a loopback port, writing each message it accepts into
/// `dir`; with `tls` (certificate and key files), it requires STARTTLS.
fn smtp_server(dir: &Path, tls: Option<(&Path, &Path)>) -> Option<(Kill, u16)> {
    let python = ["/usr/bin/python3", "python3"].into_iter().find(|p| {
        Command::new(p)
            .args(["-c", "import aiosmtpd"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })?;
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let script = r#"
import pathlib, sys, time
from aiosmtpd.controller import Controller
out = pathlib.Path(sys.argv[2])
class Keep:
    async def handle_DATA(self, server, session, envelope):
        n = len(list(out.iterdir()))
        (out / f"{n}.eml").write_bytes(envelope.original_content or envelope.content)
        return "250 OK"
kw = {}
if len(sys.argv) > 3:
    import ssl
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(sys.argv[3], sys.argv[4])
    kw = {"tls_context": ctx, "require_starttls": True}
c = Controller(Keep(), hostname="127.0.0.1", port=int(sys.argv[1]), **kw)
c.start()
print("ready", flush=True)
while True:
    time.sleep(1)
"#;
    let mut cmd = Command::new(python);
    cmd.args(["-c", script, &port.to_string()]).arg(dir);
    if let Some((cert, key)) = tls {
        cmd.arg(cert).arg(key);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .ok()?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .ok()?;
    (line.trim() == "ready").then_some((Kill(child), port))
}

struct Env {
    _t: tempfile::TempDir,
    root: PathBuf,
    home: PathBuf,
    key: PathBuf,
    stack: PathBuf,
    dest: PathBuf,
}

const API_SECRET: &str = "s3cr3t-value-9f8e7d";

/// A files-only stack (its `.env` holds a secret), a key and a drive.
fn env() -> Option<Env> {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().to_owned();
    let (home, dest, stack) = (root.join("home"), root.join("drive"), root.join("bot"));
    std::fs::create_dir_all(stack.join("data")).unwrap();
    std::fs::create_dir_all(&dest).unwrap();
    std::fs::write(
        stack.join("compose.yaml"),
        "services:\n  bot:\n    image: busybox\n    env_file: .env\n    volumes: [./data:/data]\n",
    )
    .unwrap();
    std::fs::write(stack.join(".env"), format!("API_SECRET={API_SECRET}\n")).unwrap();
    std::fs::write(stack.join("data/notes.txt"), "kept\n").unwrap();
    let key = root.join("key.txt");
    match Command::new("age-keygen").arg("-o").arg(&key).output() {
        Ok(o) if o.status.success() => {}
        _ => {
            skip("age-keygen is not installed (Debian package age)");
            return None;
        }
    }
    Some(Env {
        _t: t,
        root,
        home,
        key,
        stack,
        dest,
    })
}

impl Env {
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_lifeboat"));
        c.env("LIFEBOAT_HOME", &self.home)
            .env("LIFEBOAT_IDENTITY", &self.key)
            .env("LIFEBOAT_NO_KEYRING", "1")
            .env(
                "DOCKER_HOST",
                format!("unix://{}/no.sock", self.root.display()),
            )
            .args(args);
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    fn run_with_input(&self, args: &[&str], input: &str) -> Output {
        let mut child = self
            .cmd(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    fn s(&self, p: &Path) -> String {
        p.display().to_string()
    }

    fn snapshots(&self) -> usize {
        lifeboat_core::backup::manifest_paths(&self.dest, "bot").len()
    }
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\n{}\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn hmac_hex(key: &str, body: &[u8]) -> String {
    // Checked with Python's own hmac, not with Lifeboat's code.
    let mut child = Command::new("python3")
        .args([
            "-c",
            "import hmac,hashlib,sys; print(hmac.new(sys.argv[1].encode(), sys.stdin.buffer.read(), hashlib.sha256).hexdigest())",
            key,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(body).unwrap();
    String::from_utf8(child.wait_with_output().unwrap().stdout)
        .unwrap()
        .trim()
        .to_owned()
}

#[test]
fn channels_hear_a_failed_backup_and_a_dead_server_never_holds_one_up() {
    let Some(e) = env() else { return };
    let mail_dir = e.root.join("mail");
    std::fs::create_dir_all(&mail_dir).unwrap();
    let Some((_smtp, smtp_port)) = smtp_server(&mail_dir, None) else {
        return skip("aiosmtpd is not installed (Debian package python3-aiosmtpd)");
    };
    let http = Receiver::start();
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let add = |args: &[&str], secret: Option<&str>| {
        let mut all = vec!["notify", "add"];
        all.extend_from_slice(args);
        if secret.is_some() {
            all.push("--secret");
        }
        let o = e.run_with_input(&all, &format!("{}\n", secret.unwrap_or("")));
        assert!(o.status.success(), "{}", text(&o));
        o
    };
    let ntfy = http.url("/backups");
    let saved = add(&["phone", "--ntfy", &ntfy], Some("tk_ntfy_secret"));
    let saved = String::from_utf8_lossy(&saved.stdout).into_owned();
    assert!(
        saved.contains("channel-secrets.json (readable by you only)"),
        "{saved}"
    );
    add(
        &["gotify", "--gotify", &http.url("/gotify")],
        Some("gotify-app-token"),
    );
    add(
        &[
            "hook",
            "--webhook",
            &http.url("/hook"),
            "--level",
            "failures",
        ],
        Some("sign-key-42"),
    );
    add(&["hc", "--ping", &http.url("/ping/abc")], None);
    let smtp = format!("127.0.0.1:{smtp_port}");
    add(
        &[
            "mail",
            "--smtp",
            &smtp,
            "--security",
            "none",
            "--from",
            "lifeboat@test.lan",
            "--to",
            "me@test.lan",
        ],
        None,
    );
    add(
        &["down", "--webhook", &format!("http://127.0.0.1:{closed}/x")],
        None,
    );
    add(&["denied", "--webhook", &http.url("/deny")], None);

    // The secrets are in the 0600 file, never in the catalog or a listing.
    let secrets = e.home.join("channel-secrets.json");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&secrets).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    let list = e.run(&["notify", "list", "--json"]);
    assert!(list.status.success(), "{}", text(&list));
    let listed: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 7);
    assert_eq!(listed[0]["has_secret"], true);
    assert_eq!(listed[3]["has_secret"], false);
    for f in std::fs::read_dir(&e.home).unwrap() {
        let p = f.unwrap().path();
        if p == secrets {
            continue;
        }
        let bytes = std::fs::read(&p).unwrap_or_default();
        for s in ["tk_ntfy_secret", "gotify-app-token", "sign-key-42"] {
            assert!(
                !String::from_utf8_lossy(&bytes).contains(s),
                "{s} is in {}",
                p.display()
            );
        }
    }

    // `notify test` says exactly what failed.
    let t = e.run(&["notify", "test", "down"]);
    assert_eq!(t.status.code(), Some(1), "{}", text(&t));
    assert_eq!(
        String::from_utf8_lossy(&t.stdout).trim(),
        format!("down: NOT sent: 127.0.0.1:{closed} refused the connection: is the server running, and is the port right?")
    );
    let t = e.run(&["notify", "test", "denied"]);
    assert_eq!(t.status.code(), Some(1), "{}", text(&t));
    assert!(
        String::from_utf8_lossy(&t.stdout).contains(
            "answered 401 Unauthorized: the token or password is wrong or missing (it said: {\"error\":\"unauthorized xyz\"})"
        ),
        "{}",
        text(&t)
    );
    let t = e.run(&["notify", "test", "phone"]);
    assert!(t.status.success(), "{}", text(&t));
    let test = http.wait("/", 1).remove(0);
    assert_eq!(test.json()["topic"], "backups");
    assert_eq!(test.json()["title"], "Lifeboat test notification");
    assert_eq!(test.headers["authorization"], "Bearer tk_ntfy_secret");
    let t = e.run(&["notify", "test", "nobody"]);
    assert_eq!(t.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&t.stderr)
        .contains("there is no notification channel named \"nobody\""));

    // A backup to a drive that is not there fails, and every channel hears why — the dead
    // one does not hold the backup up.
    let gone = e.root.join("unplugged");
    let started = Instant::now();
    let b = e.run(&["backup", &e.s(&e.stack), "--to", &e.s(&gone)]);
    assert_eq!(b.status.code(), Some(1), "{}", text(&b));
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    let reason = String::from_utf8_lossy(&b.stderr)
        .trim()
        .trim_start_matches("lifeboat: ")
        .to_owned();
    assert!(reason.contains("unplugged"), "{reason}");
    let ntfy_msgs = http.wait("/", 2);
    let failed = &ntfy_msgs[1].json();
    assert_eq!(failed["title"], "Backup of bot failed");
    assert_eq!(failed["priority"], 5);
    assert!(
        failed["message"].as_str().unwrap().contains("unplugged"),
        "{failed}"
    );
    let g = http.wait("/gotify/message", 1).remove(0);
    assert_eq!(g.headers["x-gotify-key"], "gotify-app-token");
    assert_eq!(g.json()["title"], "Backup of bot failed");
    let w = http.wait("/hook", 1).remove(0);
    assert_eq!(
        w.headers["x-lifeboat-signature"],
        format!("sha256={}", hmac_hex("sign-key-42", &w.body))
    );
    let body = w.json();
    assert_eq!(body["stack"], "bot");
    assert_eq!(body["event"], "backup_failed");
    assert_eq!(body["result"], "failed");
    assert!(
        body["message"].as_str().unwrap().contains("unplugged"),
        "{body}"
    );
    assert!(body["duration_ms"].is_number(), "{body}");
    let start = http.wait("/ping/abc/start", 1);
    assert_eq!(start.len(), 1);
    let fail = http.wait("/ping/abc/fail", 1).remove(0);
    assert!(fail.text().contains("unplugged"), "{}", fail.text());
    let deadline = Instant::now() + Duration::from_secs(20);
    let mail = loop {
        let f: Vec<_> = std::fs::read_dir(&mail_dir).unwrap().flatten().collect();
        if let Some(m) = f.first() {
            break std::fs::read_to_string(m.path()).unwrap();
        }
        assert!(Instant::now() < deadline, "no mail came");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(mail.contains("Subject: Backup of bot failed"), "{mail}");
    assert!(mail.contains("unplugged"), "{mail}");
    assert!(mail.contains("To: me@test.lan"), "{mail}");

    // A backup that works: the health check hears its start and its success; the phone
    // (failures and warnings) hears nothing; nobody hears the .env's value.
    let b = e.run(&["backup", &e.s(&e.stack), "--to", &e.s(&e.dest)]);
    assert!(b.status.success(), "{}", text(&b));
    assert_eq!(http.wait("/ping/abc/start", 2).len(), 2);
    let ok = http.wait("/ping/abc", 1).remove(0);
    assert_eq!(ok.text(), "bot backed up");
    assert_eq!(http.requests().iter().filter(|r| r.path == "/").count(), 2);
    for r in http.requests() {
        assert!(!r.text().contains(API_SECRET), "{r:?}");
    }
    assert!(!mail.contains(API_SECRET));

    // Removing a channel removes its secret.
    let r = e.run(&["notify", "remove", "phone"]);
    assert!(r.status.success(), "{}", text(&r));
    assert!(!std::fs::read_to_string(&secrets)
        .unwrap()
        .contains("tk_ntfy_secret"));
}

#[test]
fn hooks_guard_backups_and_restores() {
    let Some(e) = env() else { return };
    let log = e.root.join("hooks.log");
    let envs = e.root.join("hook-env.txt");
    let stop = e.root.join("stop-backups");
    let pre = format!(
        "echo \"pre $LIFEBOAT_STACK\" >> '{log}'; env > '{envs}'; \
         if [ -e '{stop}' ]; then echo 'backups are stopped by hand' >&2; exit 4; fi",
        log = log.display(),
        envs = envs.display(),
        stop = stop.display()
    );
    let post = format!(
        "echo \"post $LIFEBOAT_RESULT $LIFEBOAT_SNAPSHOT\" >> '{}'",
        log.display()
    );
    let h = e.run(&[
        "hooks",
        &e.s(&e.stack),
        "--pre-backup",
        &pre,
        "--post-backup",
        &post,
    ]);
    assert!(h.status.success(), "{}", text(&h));
    assert!(String::from_utf8_lossy(&h.stdout).contains("before a backup: echo"));

    // A failing pre-hook: no backup, its output in the error, the post-hook still runs.
    std::fs::write(&stop, "").unwrap();
    let b = e.run(&["backup", &e.s(&e.stack), "--to", &e.s(&e.dest)]);
    assert_eq!(b.status.code(), Some(1), "{}", text(&b));
    assert_eq!(
        String::from_utf8_lossy(&b.stderr).lines().last().unwrap_or_default(),
        "lifeboat: the pre-backup hook failed (exit code 4); it printed: backups are stopped by hand; no snapshot was written"
    );
    assert_eq!(e.snapshots(), 0, "a failed pre-hook writes no snapshot");
    let said = std::fs::read_to_string(&log).unwrap();
    assert_eq!(said, "pre bot\npost failed \n");
    let status = e.run(&["status", "--json"]);
    let st: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(st[0]["last_backup"]["result"], "failed", "{st}");

    // It passes: the post-hook gets the snapshot id.
    std::fs::remove_file(&stop).unwrap();
    let b = e.run(&["backup", &e.s(&e.stack), "--to", &e.s(&e.dest), "--json"]);
    assert!(b.status.success(), "{}", text(&b));
    let snap = serde_json::from_slice::<serde_json::Value>(&b.stdout).unwrap()["snapshot"]
        .as_str()
        .unwrap()
        .to_owned();
    let said = std::fs::read_to_string(&log).unwrap();
    assert!(
        said.ends_with(&format!("pre bot\npost ok {snap}\n")),
        "{said}"
    );
    // The hook's environment has its stack, never the .env's values or the key's path.
    let hook_env = std::fs::read_to_string(&envs).unwrap();
    assert!(hook_env.contains("LIFEBOAT_STACK=bot\n"), "{hook_env}");
    assert!(
        hook_env.contains("LIFEBOAT_EVENT=pre-backup\n"),
        "{hook_env}"
    );
    assert!(!hook_env.contains(API_SECRET), "{hook_env}");
    assert!(!hook_env.contains("LIFEBOAT_IDENTITY"), "{hook_env}");

    // A hook past its time limit is stopped and fails the backup.
    let h = e.run(&[
        "hooks",
        &e.s(&e.stack),
        "--pre-backup",
        "echo waiting for the NAS; sleep 60",
        "--timeout",
        "1",
    ]);
    assert!(h.status.success(), "{}", text(&h));
    let t = Instant::now();
    let b = e.run(&["backup", &e.s(&e.stack), "--to", &e.s(&e.dest)]);
    assert_eq!(b.status.code(), Some(1), "{}", text(&b));
    assert!(t.elapsed() < Duration::from_secs(20), "{:?}", t.elapsed());
    assert!(
        String::from_utf8_lossy(&b.stderr).contains(
            "the pre-backup hook ran longer than 1 s and was stopped; it printed: waiting for the NAS"
        ),
        "{}",
        text(&b)
    );
    assert_eq!(e.snapshots(), 1);

    // A failing post-hook is reported; the backup stands.
    let h = e.run(&[
        "hooks",
        &e.s(&e.stack),
        "--clear",
        "--post-backup",
        "echo offsite copy failed; exit 2",
    ]);
    assert!(h.status.success(), "{}", text(&h));
    let b = e.run(&["backup", &e.s(&e.stack), "--to", &e.s(&e.dest)]);
    assert!(b.status.success(), "{}", text(&b));
    assert!(
        String::from_utf8_lossy(&b.stderr).contains(
            "warning: the post-backup hook failed (exit code 2); it printed: offsite copy failed (the backup itself is kept)"
        ),
        "{}",
        text(&b)
    );
    assert_eq!(e.snapshots(), 2);

    // Restores: the pre-hook can stop one before anything changes; the post-hook hears it.
    let notes = e.stack.join("data/notes.txt");
    std::fs::write(&notes, "changed after the backup\n").unwrap();
    let rlog = e.root.join("restore.log");
    let h = e.run(&[
        "hooks",
        &e.s(&e.stack),
        "--clear",
        "--pre-restore",
        &format!(
            "echo pre >> '{0}'; [ ! -e '{1}' ] || exit 2",
            rlog.display(),
            stop.display()
        ),
        "--post-restore",
        &format!("echo \"post $LIFEBOAT_RESULT\" >> '{}'", rlog.display()),
    ]);
    assert!(h.status.success(), "{}", text(&h));
    std::fs::write(&stop, "").unwrap();
    let r = e.run(&["restore", "latest", "--from", &e.s(&e.dest), "--yes"]);
    assert_eq!(r.status.code(), Some(1), "{}", text(&r));
    assert!(
        String::from_utf8_lossy(&r.stderr)
            .contains("the pre-restore hook failed (exit code 2); nothing was restored"),
        "{}",
        text(&r)
    );
    assert_eq!(
        std::fs::read_to_string(&notes).unwrap(),
        "changed after the backup\n"
    );
    std::fs::remove_file(&stop).unwrap();
    let r = e.run(&["restore", "latest", "--from", &e.s(&e.dest), "--yes"]);
    assert!(r.status.success(), "{}", text(&r));
    assert_eq!(std::fs::read_to_string(&notes).unwrap(), "kept\n");
    assert_eq!(
        std::fs::read_to_string(&rlog).unwrap(),
        "pre\npost failed\npre\npost ok\n"
    );
}

/// `lifeboat service install --user` under a real systemd user manager (started here in a
/// mount namespace of its own, as systemd is not PID 1 on this machine): the unit is
/// written, enabled and started, the scheduler it runs makes a scheduled backup,
/// `service status` says so, `uninstall` stops and removes it. The system-wide unit is
/// checked with `systemd-analyze verify`.
#[test]
fn the_service_runs_the_scheduler_under_systemd() {
    let Some(e) = env() else { return };
    let systemd = Path::new("/lib/systemd/systemd");
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout == b"0\n")
        .unwrap_or(false);
    if !systemd.exists() || !root {
        return skip("a systemd user manager is started here as root (Debian package systemd)");
    }
    let unit = e.run(&["service", "unit"]);
    assert!(unit.status.success(), "{}", text(&unit));
    let units = e.root.join("units");
    std::fs::create_dir_all(&units).unwrap();
    std::fs::write(units.join("lifeboat.service"), &unit.stdout).unwrap();
    let v = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(units.join("lifeboat.service"))
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&v.stderr);
    assert!(
        v.status.success() && !said.contains("lifeboat.service:"),
        "{}{said}",
        String::from_utf8_lossy(&v.stdout)
    );
    let text_unit = String::from_utf8_lossy(&unit.stdout);
    assert!(
        text_unit.contains(&format!(
            "Environment=\"LIFEBOAT_HOME={}\"",
            e.home.display()
        )),
        "{text_unit}"
    );
    assert!(!text_unit.contains("PASSPHRASE"), "{text_unit}");

    let runtime = e.root.join("runtime");
    let config = e.root.join("config");
    std::fs::create_dir_all(&runtime).unwrap();
    std::fs::set_permissions(
        &runtime,
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    std::fs::create_dir_all("/run/systemd").unwrap();
    // In a namespace of its own, /run/systemd/system says "booted with systemd" to the
    // user manager and systemctl, and to nothing else on the machine.
    let booted = |cmd: &str| {
        let mut c = Command::new("unshare");
        c.args(["-m", "sh", "-c"])
            .arg(format!(
                "mount -t tmpfs lifeboat-test /run/systemd && mkdir /run/systemd/system && exec {cmd}"
            ))
            .env("XDG_RUNTIME_DIR", &runtime)
            .env("XDG_CONFIG_HOME", &config)
            .env_remove("DBUS_SESSION_BUS_ADDRESS");
        c
    };
    let _manager = Kill(
        booted("/lib/systemd/systemd --user")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while !runtime.join("systemd/private").exists() {
        assert!(
            Instant::now() < deadline,
            "the systemd user manager did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // A schedule every minute: the service's scheduler runs it within a minute.
    let s = e.run(&[
        "schedule",
        "set",
        &e.s(&e.stack),
        "--cron",
        "* * * * *",
        "--to",
        &e.s(&e.dest),
    ]);
    assert!(s.status.success(), "{}", text(&s));
    let lifeboat = |args: &str| {
        let o = booted(&format!("{} {args}", env!("CARGO_BIN_EXE_lifeboat")))
            .env("LIFEBOAT_HOME", &e.home)
            .env("LIFEBOAT_IDENTITY", &e.key)
            .env("LIFEBOAT_NO_KEYRING", "1")
            .env("LIFEBOAT_TICK_SECS", "2")
            .env(
                "DOCKER_HOST",
                format!("unix://{}/no.sock", e.root.display()),
            )
            .output()
            .unwrap();
        o
    };
    let i = lifeboat("service install --user");
    assert!(i.status.success(), "{}", text(&i));
    let said = String::from_utf8_lossy(&i.stdout);
    assert!(said.contains("The service is enabled and active"), "{said}");
    let unit_file = config.join("systemd/user/lifeboat.service");
    assert!(unit_file.exists());
    let st = lifeboat("service status --user");
    assert!(st.status.success(), "{}", text(&st));
    assert!(
        String::from_utf8_lossy(&st.stdout).contains(": enabled, active"),
        "{}",
        text(&st)
    );

    let deadline = Instant::now() + Duration::from_secs(150);
    while e.snapshots() == 0 {
        assert!(
            Instant::now() < deadline,
            "the service made no scheduled backup: {}",
            text(&lifeboat("service status --user"))
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let status = e.run(&["status", "--json"]);
    let st: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(st[0]["last_backup"]["result"], "ok", "{st}");

    let u = lifeboat("service uninstall --user");
    assert!(u.status.success(), "{}", text(&u));
    assert!(!unit_file.exists());
    let st = lifeboat("service status --user");
    assert_eq!(st.status.code(), Some(1), "{}", text(&st));
    assert!(String::from_utf8_lossy(&st.stdout).starts_with("Not installed"));
}

#[test]
fn a_scheduled_run_is_one_line_in_the_log() {
    let Some(e) = env() else { return };
    // A schedule whose slot has passed is due once at the next check (a catch-up).
    let s = e.run(&[
        "schedule",
        "set",
        &e.s(&e.stack),
        "--cron",
        "* * * * *",
        "--to",
        &e.s(&e.dest),
    ]);
    assert!(s.status.success(), "{}", text(&s));
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let r = e.run(&["schedule", "run", "--once"]);
        let err = String::from_utf8_lossy(&r.stderr).into_owned();
        if let Some(line) = err.lines().find(|l| l.starts_with("lifeboat: bot: ")) {
            assert!(r.status.success(), "{}", text(&r));
            assert!(
                line.starts_with("lifeboat: bot: backed up in ")
                    && line.contains(", snapshot ")
                    && line.ends_with(" new"),
                "{line}"
            );
            assert!(!err.contains(API_SECRET));
            break;
        }
        assert!(Instant::now() < deadline, "nothing ran: {}", text(&r));
        std::thread::sleep(Duration::from_secs(2));
    }
}

/// Mail over STARTTLS to a real server that requires it: with its certificate trusted
/// (`SSL_CERT_FILE`, as a private CA would be) the mail arrives encrypted; without, the
/// test says the TLS connection failed and why, and nothing is sent in the clear.
#[test]
fn mail_goes_over_starttls_and_an_untrusted_certificate_is_named() {
    let Some(e) = env() else { return };
    let (cert, key) = (e.root.join("cert.pem"), e.root.join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
        ])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output();
    if !made.is_ok_and(|o| o.status.success()) {
        return skip("openssl is not installed (Debian package openssl)");
    }
    let mail_dir = e.root.join("mail");
    std::fs::create_dir_all(&mail_dir).unwrap();
    let Some((_smtp, port)) = smtp_server(&mail_dir, Some((&cert, &key))) else {
        return skip("aiosmtpd is not installed (Debian package python3-aiosmtpd)");
    };
    let smtp = format!("127.0.0.1:{port}");
    let add = e.run(&[
        "notify",
        "add",
        "mail",
        "--smtp",
        &smtp,
        "--from",
        "lifeboat@test.lan",
        "--to",
        "me@test.lan",
        "--level",
        "failures",
    ]);
    assert!(add.status.success(), "{}", text(&add));
    let untrusted = e.run(&["notify", "test", "mail"]);
    assert_eq!(untrusted.status.code(), Some(1), "{}", text(&untrusted));
    let said = String::from_utf8_lossy(&untrusted.stdout);
    assert!(
        said.starts_with(&format!(
            "mail: NOT sent: the TLS connection to {smtp} failed: "
        )),
        "{said}"
    );
    assert!(
        said.trim_end().ends_with("its certificate is not trusted (self-signed certificate); install its CA on this machine, or use its real name"),
        "{said}"
    );
    assert_eq!(std::fs::read_dir(&mail_dir).unwrap().count(), 0);
    let trusted = e
        .cmd(&["notify", "test", "mail"])
        .env("SSL_CERT_FILE", &cert)
        .output()
        .unwrap();
    assert!(trusted.status.success(), "{}", text(&trusted));
    let got: Vec<_> = std::fs::read_dir(&mail_dir).unwrap().flatten().collect();
    assert_eq!(got.len(), 1);
    let mail = std::fs::read_to_string(got[0].path()).unwrap();
    assert!(
        mail.contains("Subject: Lifeboat test notification"),
        "{mail}"
    );
}
