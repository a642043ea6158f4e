//! What the window tests share: starting the built app under `tauri-driver` with its own
//! environment, finding and reading elements like a person would, and screenshots.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{ClientBuilder, Locator};

pub fn skip(reason: &str) {
    if std::env::var("LIFEBOAT_REQUIRE_ALL").is_ok_and(|v| v == "1") {
        panic!("required test cannot run: {reason}");
    }
    eprintln!("SKIPPED: {reason}");
}

pub fn on_path(name: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> =
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()).collect();
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(Path::new(&home).join(".cargo/bin"));
    }
    dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file())
}

/// A process the test started, stopped with everything it started when the test ends
/// (also when it fails): `tauri-driver` starts WebKitWebDriver, which starts the app; an
/// app left behind by a failed test would keep its tray icon in the next test's panel.
/// Start it with [`own_group`].
pub struct Driver(pub Child);

/// Puts `cmd`'s process in a process group of its own, for [`Driver`] to stop whole.
pub fn own_group(cmd: &mut Command) -> &mut Command {
    std::os::unix::process::CommandExt::process_group(cmd, 0)
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.0.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Reads the text (or an attribute) of every element matching `css` in one script, so a
/// re-render between finding and reading cannot leave stale references.
pub async fn read_all(client: &fantoccini::Client, css: &str, attr: Option<&str>) -> Vec<String> {
    let v = client
        .execute(
            "return [...document.querySelectorAll(arguments[0])]\
             .map(e => arguments[1] ? e.getAttribute(arguments[1]) : e.innerText)",
            vec![serde_json::json!(css), serde_json::json!(attr)],
        )
        .await
        .unwrap();
    serde_json::from_value(v).unwrap()
}

pub async fn texts(client: &fantoccini::Client, css: &str) -> Vec<String> {
    read_all(client, css, None).await
}

/// Waits (up to 60 s) for an element and returns it.
pub async fn wait_for(
    client: &fantoccini::Client,
    l: Locator<'_>,
) -> fantoccini::elements::Element {
    // Polls by hand: the page re-renders while it loads, and WebKitWebDriver then answers
    // "stale element" for a node it just found, which is a reason to look again.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match client.find(l).await {
            Ok(el) => return el,
            Err(e) if Instant::now() > deadline => panic!("{l:?} never appeared: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// Waits for an element, then clicks it (finding it again if a re-render replaced it).
pub async fn click(client: &fantoccini::Client, l: Locator<'_>) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match wait_for(client, l).await.click().await {
            Ok(_) => return,
            Err(e) if Instant::now() > deadline => panic!("{l:?} could not be clicked: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// Saves a screenshot of the window.
pub async fn shot(client: &fantoccini::Client, artifacts: &Path, name: &str) {
    std::fs::write(artifacts.join(name), client.screenshot().await.unwrap()).unwrap();
}

/// One window at a time: the tests share the X display.
pub static ONE_WINDOW: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Starts `tauri-driver` and the app with `env` and `args`, and returns a WebDriver session;
/// `None` (after saying why) when this machine cannot show a window.
pub async fn open_app(
    env: &[(&str, std::ffi::OsString)],
    args: &[PathBuf],
) -> Option<(Driver, fantoccini::Client)> {
    if std::env::var_os("DISPLAY").is_none() {
        skip("no X display (run under Xvfb, as .ci/run does)");
        return None;
    }
    let Some(tauri_driver) = on_path("tauri-driver") else {
        skip("tauri-driver is not installed (cargo install tauri-driver --locked)");
        return None;
    };
    if on_path("WebKitWebDriver").is_none() {
        skip("WebKitWebDriver is not installed (Debian package webkit2gtk-driver)");
        return None;
    }
    let app = Path::new(env!("CARGO_BIN_EXE_lifeboat-desktop"));
    let port = free_port();
    let native_port = free_port();
    let mut cmd = Command::new(tauri_driver);
    cmd.args([
        "--port",
        &port.to_string(),
        "--native-port",
        &native_port.to_string(),
    ]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let driver = Driver(
        own_group(&mut cmd)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("tauri-driver starts"),
    );
    let caps: serde_json::Map<String, serde_json::Value> =
        serde_json::from_value(serde_json::json!({
            "browserName": "wry",
            "tauri:options": { "application": app, "args": args }
        }))
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let client = loop {
        match ClientBuilder::native()
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            Ok(c) => break c,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            Err(e) => panic!("cannot start a WebDriver session: {e}"),
        }
    };
    Some((driver, client))
}

/// `tests/artifacts/`, where the window tests save their screenshots (created if needed).
pub fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A copy of the example stack (`examples/chatbot`, owners, modes and times kept) as
/// `into/chatbot`: tests change their copy, never the original.
pub fn copy_example(into: &Path) -> PathBuf {
    let stack = into.join("chatbot");
    let copied = Command::new("cp")
        .arg("-a")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/chatbot"))
        .arg(&stack)
        .status()
        .unwrap();
    assert!(
        copied.success(),
        "cp -a examples/chatbot {}",
        stack.display()
    );
    stack
}
