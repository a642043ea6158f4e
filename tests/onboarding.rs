//! First run, end to end in the real window: from an empty `LIFEBOAT_HOME` and an empty
//! keyring, "Protect a stack" walks a person to a first backup of the example stack. The
//! folder choices go through the real GTK folder dialogs (driven with `xdotool`), Docker is
//! not running (the window must say which case that is, with its fix, and carry on), and
//! the stack folder must not change on disk before or during the backup. Every step is
//! screenshotted, and every screen is measured in the real web view: colour contrast (axe-core,
//! both themes) and text that wraps instead of overflowing at 1024×768 and 200% zoom.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};

mod window;
use window::*;

/// Every entry under `dir` with its size, mtime and mode: the stack folder as a person's
/// backup tool must leave it.
fn tree(dir: &Path) -> BTreeMap<PathBuf, (u64, i64, i64, u32)> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let m = e.path().symlink_metadata().unwrap();
            if m.is_dir() {
                todo.push(e.path());
            }
            out.insert(
                e.path().strip_prefix(dir).unwrap().to_owned(),
                (m.len(), m.mtime(), m.mtime_nsec(), m.mode()),
            );
        }
    }
    out
}

fn xdotool(args: &[&str]) -> String {
    let out = Command::new("xdotool").args(args).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Answers the GTK folder dialog titled `title` with `dir`, the way a person who types a
/// path does: Ctrl+L, the path, Enter.
async fn answer_folder_dialog(title: &str, dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let win = loop {
        if let Some(w) = xdotool(&["search", "--onlyvisible", "--name", title])
            .lines()
            .next()
        {
            break w.to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "the folder dialog \"{title}\" never opened"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let gone = || {
        xdotool(&["search", "--onlyvisible", "--name", title])
            .trim()
            .is_empty()
    };
    // A busy machine may drop keys typed before the dialog is ready: type it all again
    // (Ctrl+A replaces what the field holds) until the dialog takes the folder.
    for attempt in 1..=4 {
        tokio::time::sleep(Duration::from_millis(800 * attempt)).await;
        xdotool(&["windowfocus", "--sync", &win]);
        // Out of "Recent" first (where Open stays disabled), into the home folder.
        xdotool(&["key", "--clearmodifiers", "alt+Home"]);
        tokio::time::sleep(Duration::from_millis(500)).await;
        xdotool(&["key", "--clearmodifiers", "ctrl+l"]);
        tokio::time::sleep(Duration::from_millis(300)).await;
        xdotool(&["key", "--clearmodifiers", "ctrl+a"]);
        xdotool(&["type", "--delay", "5", &format!("{}/", dir.display())]);
        tokio::time::sleep(Duration::from_millis(600)).await;
        // GTK completes the only subfolder inline ("data/", selected): drop it.
        xdotool(&["key", "Delete"]);
        tokio::time::sleep(Duration::from_millis(600)).await;
        xdotool(&["key", "Return"]);
        // The dialog closes once it took the folder.
        let deadline = Instant::now() + Duration::from_secs(5);
        while !gone() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        if gone() {
            return;
        }
    }
    panic!(
        "the folder dialog \"{title}\" did not take {}",
        dir.display()
    );
}

/// axe-core's colour-contrast rule on the current screen, in the light and the dark theme.
/// Returns the failures ("theme: element: why").
async fn contrast(client: &Client, screen: &str) -> Vec<String> {
    let loaded = client
        .execute("return typeof window.axe === 'object'", vec![])
        .await
        .unwrap();
    if loaded != serde_json::json!(true) {
        let src = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("ui/node_modules/axe-core/axe.min.js"),
        )
        .expect("axe-core is installed in ui/node_modules (npm ci)");
        client.execute(&src, vec![]).await.unwrap();
    }
    let mut failures = Vec::new();
    for theme in ["light", "dark"] {
        let v = client
            .execute_async(
                "const [theme, done] = arguments;
                 const root = document.documentElement;
                 const before = root.dataset.theme;
                 root.dataset.theme = theme;
                 requestAnimationFrame(() => axe.run(document, { runOnly: { type: 'rule', values: ['color-contrast'] } })
                   .then((r) => {
                     root.dataset.theme = before;
                     const checked = r.passes.concat(r.violations).reduce((a, v) => a + v.nodes.length, 0);
                     const bad = r.violations.flatMap((v) => v.nodes.map((n) => n.target.join(' ') + ': ' + n.failureSummary.replace(/\\s+/g, ' ')));
                     done(checked > 0 ? bad : ['axe checked no text at all']);
                   }, (e) => { root.dataset.theme = before; done(['axe failed: ' + e]); }));",
                vec![serde_json::json!(theme)],
            )
            .await
            .unwrap();
        let v: Vec<String> = serde_json::from_value(v).unwrap();
        failures.extend(v.into_iter().map(|f| format!("{screen}, {theme}: {f}")));
    }
    failures
}

/// At 200% zoom in a 1024×768 window: what does not fit (a page that scrolls sideways, or
/// an element that clips its text). Saves a screenshot of the zoomed screen.
async fn fits_at_200(client: &Client, artifacts: &Path, name: &str) -> Vec<String> {
    // The zoom Ctrl + applies (the page's own zoom, as WebKit does it).
    set_zoom(client, 2.0).await;
    shot(client, artifacts, name).await;
    let v = client
        .execute(
            "const out = [];
             const page = document.scrollingElement;
             if (page.scrollWidth > page.clientWidth + 2) out.push(`the page scrolls sideways: ${page.scrollWidth} > ${page.clientWidth}`);
             for (const el of document.querySelectorAll('body *')) {
               const s = getComputedStyle(el);
               if (s.display === 'none' || s.visibility === 'hidden' || el.closest('.sr-only, dialog:not([open]), details:not([open])')) continue;
               const clips = ['hidden', 'clip'].includes(s.overflowX) || s.textOverflow === 'ellipsis';
               if (clips && el.scrollWidth > el.clientWidth + 2 && el.textContent.trim())
                 out.push(`${el.tagName.toLowerCase()}.${el.className}: clipped (${el.scrollWidth} > ${el.clientWidth}): ${el.textContent.trim().slice(0, 60)}`);
             }
             return out;",
            vec![],
        )
        .await
        .unwrap();
    set_zoom(client, 1.0).await;
    let out: Vec<String> = serde_json::from_value(v).unwrap();
    out.into_iter().map(|o| format!("{name}: {o}")).collect()
}

async fn set_zoom(client: &Client, zoom: f64) {
    client
        .execute_async(
            "const [value, done] = arguments;
             window.__TAURI_INTERNALS__.invoke('plugin:webview|set_webview_zoom', { label: 'main', value })
               .then(() => setTimeout(() => done(window.innerWidth), 400), (e) => done(String(e)));",
            vec![serde_json::json!(zoom)],
        )
        .await
        .unwrap();
    let width = client
        .execute("return window.innerWidth", vec![])
        .await
        .unwrap();
    assert_eq!(
        width,
        serde_json::json!((1024.0 / zoom).round() as u64),
        "zoom {zoom} gives a page {}px wide",
        (1024.0 / zoom).round()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_user_protects_the_example_stack_from_an_empty_window() {
    let _one = ONE_WINDOW.lock().await;
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
        return skip("no D-Bus session for a keyring (./dev test runs the tests in one)");
    }
    if on_path("xdotool").is_none() {
        return skip("xdotool is needed to answer the folder dialogs (Debian package xdotool)");
    }
    let artifacts = artifacts();
    let stacks = tempfile::tempdir().unwrap();
    let stack = copy_example(stacks.path());
    let before = tree(&stack);
    let drive = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let user_home = tempfile::tempdir().unwrap();
    let service = format!("lifeboat-e2e-onboarding-{}", std::process::id());
    let env = [
        ("LIFEBOAT_HOME", home.path().into()),
        ("HOME", user_home.path().into()),
        ("LIFEBOAT_KEYRING_SERVICE", service.clone().into()),
        // Docker is installed on this machine but its socket is not there: "not running".
        (
            "DOCKER_HOST",
            format!("unix://{}/docker.sock", home.path().display()).into(),
        ),
    ];
    let Some((driver, client)) = open_app(&env, &[]).await else {
        return;
    };
    let result = async {
        client.set_window_size(1024, 768).await.unwrap();
        let mut bad_contrast = Vec::new();
        let mut not_fitting = Vec::new();

        wait_for(&client, Locator::Css("[data-testid=welcome-protect]")).await;
        tokio::time::sleep(Duration::from_millis(700)).await;
        let width = client
            .execute("return window.innerWidth", vec![])
            .await
            .unwrap();
        assert_eq!(width, serde_json::json!(1024), "the window is 1024 px wide");
        shot(&client, &artifacts, "e2e-onboarding-0-welcome.png").await;
        bad_contrast.extend(contrast(&client, "welcome").await);
        not_fitting.extend(fits_at_200(&client, &artifacts, "e2e-zoom-welcome.png").await);

        click(&client, Locator::Css("[data-testid=welcome-protect]")).await;
        wait_for(&client, Locator::Css("[data-testid=choose-stack]")).await;
        assert_eq!(texts(&client, "[data-testid=step]").await, ["Step 1 of 5"]);
        shot(&client, &artifacts, "e2e-onboarding-1-folder.png").await;
        bad_contrast.extend(contrast(&client, "step 1").await);

        // Step 1: the folder, through the system's folder dialog.
        click(&client, Locator::Css("[data-testid=choose-stack]")).await;
        answer_folder_dialog("Choose the folder with your compose file", &stack).await;

        // Step 2: what was found, and Docker's case with its fix.
        wait_for(&client, Locator::Css("[data-testid=found-summary]")).await;
        let services = read_all(&client, "[data-testid=found-service]", Some("data-service")).await;
        assert!(services.len() >= 3, "{services:?}");
        let docker = read_all(&client, "[data-testid=docker-status]", Some("data-problem")).await;
        assert_eq!(docker, ["not-running"]);
        let says = texts(&client, "[data-testid=docker-status]")
            .await
            .join(" ");
        assert!(
            says.contains("systemctl start docker") && says.contains("You can carry on"),
            "{says}"
        );
        shot(&client, &artifacts, "e2e-onboarding-2-found.png").await;
        bad_contrast.extend(contrast(&client, "step 2").await);
        not_fitting.extend(fits_at_200(&client, &artifacts, "e2e-zoom-found.png").await);
        assert_eq!(tree(&stack), before, "inspecting changed the stack folder");

        // Step 3: the destination, through the folder dialog too.
        click(&client, Locator::Css("[data-testid=next]")).await;
        wait_for(&client, Locator::Css("[data-testid=choose-destination]")).await;
        shot(&client, &artifacts, "e2e-onboarding-3-destination.png").await;
        click(&client, Locator::Css("[data-testid=choose-destination]")).await;
        answer_folder_dialog("Choose where backups go", drive.path()).await;
        wait_for(
            &client,
            Locator::Css("[data-testid=onboarding-destination]"),
        )
        .await;
        let chosen = texts(&client, "[data-testid=onboarding-destination] .path").await;
        assert_eq!(chosen, [drive.path().display().to_string()]);
        shot(
            &client,
            &artifacts,
            "e2e-onboarding-3-destination-chosen.png",
        )
        .await;
        bad_contrast.extend(contrast(&client, "step 3").await);
        assert!(
            std::fs::read_dir(drive.path()).unwrap().next().is_none(),
            "nothing is written to the drive before the key step"
        );

        // Step 4: the key, with a sentence on why for each of key and passphrase.
        click(&client, Locator::Css("[data-testid=next]")).await;
        wait_for(&client, Locator::Css("#ob-pass1")).await;
        let why = texts(
            &client,
            "[data-testid=why-key], [data-testid=why-passphrase]",
        )
        .await;
        assert_eq!(why.len(), 2, "{why:?}");
        // By keyboard, as a person would: the passphrase, Tab to the second field (with a
        // visible focus ring), the passphrase again, Enter.
        let passphrase = "a long recovery passphrase";
        // The folder dialogs took the X focus; give it back to Lifeboat's window, as a
        // person's click on it would (there is no window manager under Xvfb to do it).
        let title = format!("Lifeboat {}", lifeboat_core::VERSION);
        if let Some(w) = xdotool(&["search", "--onlyvisible", "--name", &title])
            .lines()
            .next()
        {
            xdotool(&["windowfocus", "--sync", w]);
        }
        let p1 = client.find(Locator::Css("#ob-pass1")).await.unwrap();
        p1.click().await.unwrap();
        p1.send_keys(passphrase).await.unwrap();
        p1.send_keys("\u{E004}").await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        let focused = loop {
            let f = client
                .execute(
                    "const e = document.activeElement; const s = getComputedStyle(e);
                     return [e.id, s.outlineStyle, s.outlineWidth, document.hasFocus()];",
                    vec![],
                )
                .await
                .unwrap();
            if f[1] != "none" || Instant::now() > deadline {
                break f;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(
            focused[0], "ob-pass2",
            "Tab goes to the second field: {focused}"
        );
        assert_ne!(
            focused[1], "none",
            "the focused field shows its focus: {focused}"
        );
        let p2 = client.find(Locator::Css("#ob-pass2")).await.unwrap();
        p2.send_keys(passphrase).await.unwrap();
        shot(&client, &artifacts, "e2e-onboarding-4-key.png").await;
        bad_contrast.extend(contrast(&client, "step 4").await);
        not_fitting.extend(fits_at_200(&client, &artifacts, "e2e-zoom-key.png").await);
        client
            .find(Locator::Css("#ob-pass2"))
            .await
            .unwrap()
            .send_keys("\u{E007}")
            .await
            .unwrap();

        // Step 5: what the backup will do, then the backup.
        wait_for(&client, Locator::Css("[data-testid=backup-now]")).await;
        assert_eq!(texts(&client, "[data-testid=step]").await, ["Step 5 of 5"]);
        assert!(drive
            .path()
            .join(lifeboat_core::keys::RECOVERY_FILE)
            .is_file());
        std::env::set_var("LIFEBOAT_KEYRING_SERVICE", &service);
        let (key, _) = lifeboat_core::keys::load(None).expect("the key is in the keyring");
        std::env::remove_var("LIFEBOAT_KEYRING_SERVICE");
        let recovered = lifeboat_core::keys::read_recovery(
            &drive.path().join(lifeboat_core::keys::RECOVERY_FILE),
            age::secrecy::SecretString::from(passphrase.to_owned()),
        )
        .expect("the passphrase typed opens the recovery file");
        assert_eq!(
            recovered.to_public().to_string(),
            key.to_public().to_string()
        );
        shot(&client, &artifacts, "e2e-onboarding-5-backup.png").await;
        bad_contrast.extend(contrast(&client, "step 5").await);
        assert_eq!(
            tree(&stack),
            before,
            "the stack folder changed before the backup"
        );

        click(&client, Locator::Css("[data-testid=backup-now]")).await;
        wait_for(&client, Locator::Css("[data-testid=done-summary]")).await;
        shot(&client, &artifacts, "e2e-onboarding-6-done.png").await;
        bad_contrast.extend(contrast(&client, "done").await);
        // The backup read the stack folder and changed nothing in it, with one exception the
        // last step announced: the folder holding n8n's SQLite database got a temporary copy
        // of it (the online backup), removed again, which moves that folder's mtime.
        let after = tree(&stack);
        assert_eq!(
            after.keys().collect::<Vec<_>>(),
            before.keys().collect::<Vec<_>>(),
            "no file added or left behind"
        );
        for (path, was) in &before {
            let now = &after[path];
            if path == Path::new("data/n8n") {
                assert_eq!((now.0, now.3), (was.0, was.3), "{}", path.display());
            } else {
                assert_eq!(now, was, "the backup changed {}", path.display());
            }
        }
        let snapshots = std::fs::read_dir(drive.path().join("chatbot"))
            .expect("the backup wrote the stack's folder on the drive")
            .count();
        assert!(snapshots > 0);

        // The stack page: one backup in its history, and the daily schedule.
        click(&client, Locator::Css("[data-testid=open-stack-page]")).await;
        wait_for(&client, Locator::Css("[data-testid=service-row]")).await;
        assert_eq!(texts(&client, "h1").await, ["chatbot"]);
        bad_contrast.extend(contrast(&client, "stack overview").await);
        not_fitting.extend(fits_at_200(&client, &artifacts, "e2e-zoom-stack.png").await);
        // Escape closes a dialog (the restore wizard here) and changes nothing.
        click(&client, Locator::Css("[data-testid=restore-open]")).await;
        wait_for(&client, Locator::Css("#restore-dialog")).await;
        // The wizard re-renders once its restore points arrive, which can replace the
        // focused element between finding it and typing: try again then.
        let mut sent = false;
        for _ in 0..20 {
            if let Ok(el) = client.active_element().await {
                if el.send_keys("\u{E00C}").await.is_ok() {
                    sent = true;
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert!(sent, "Escape could not be typed into the restore dialog");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !texts(&client, "#restore-dialog").await.is_empty() {
            assert!(
                Instant::now() < deadline,
                "Escape did not close the restore dialog"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        click(&client, Locator::Css("#tab-backups")).await;
        wait_for(&client, Locator::Css("[data-testid=history-row]")).await;
        assert_eq!(
            read_all(&client, "[data-testid=history-row]", Some("data-result")).await,
            ["ok"]
        );
        let schedule = texts(&client, "[data-testid=schedule-description]")
            .await
            .join(" ");
        assert!(schedule.contains("02:00"), "{schedule}");
        // A drill by hand, so that the drill history is on the page for the checks below.
        click(&client, Locator::Css("[data-testid=drill-run]")).await;
        wait_for(&client, Locator::Css("[data-testid=drill-row]")).await;
        assert_eq!(
            read_all(&client, "[data-testid=drill-row]", Some("data-outcome")).await,
            ["passed"]
        );
        shot(&client, &artifacts, "e2e-onboarding-7-stack-backups.png").await;
        bad_contrast.extend(contrast(&client, "stack backups").await);
        not_fitting.extend(fits_at_200(&client, &artifacts, "e2e-zoom-backups.png").await);

        // Two notification channels, as `lifeboat notify add` saves them: ntfy on a server
        // this test runs on loopback, and a webhook whose server is down.
        let (ntfy_port, ntfy_got) = http_receiver();
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        {
            use lifeboat_core::notify::{self, Channel, ChannelKind, ChannelLevel};
            let catalog =
                lifeboat_core::Catalog::open(&home.path().join("catalog.sqlite3")).unwrap();
            for (name, kind) in [
                (
                    "phone",
                    ChannelKind::Ntfy {
                        url: format!("http://127.0.0.1:{ntfy_port}/backups"),
                    },
                ),
                (
                    "office",
                    ChannelKind::Webhook {
                        url: format!("http://127.0.0.1:{closed}/hook"),
                    },
                ),
            ] {
                let c = Channel {
                    name: name.into(),
                    kind,
                    level: ChannelLevel::Warnings,
                    stacks: vec![],
                };
                notify::save(&catalog, c, None).unwrap();
            }
        }

        // Settings: the channels, each tested; the theme applies at once and is kept.
        click(&client, Locator::Css("[data-testid=open-settings]")).await;
        wait_for(&client, Locator::Css("[data-testid=about-version]")).await;
        assert_eq!(
            read_all(&client, "[data-testid=channel-row]", Some("data-channel")).await,
            ["phone", "office"]
        );
        click(&client, Locator::Css("[data-channel=phone] button")).await;
        click(&client, Locator::Css("[data-channel=office] button")).await;
        let deadline = Instant::now() + Duration::from_secs(30);
        let results = loop {
            let r = texts(&client, "[data-testid=channel-result]").await;
            if r.len() == 2 && !r.iter().any(|t| t == "Sending…") {
                break r;
            }
            assert!(Instant::now() < deadline, "the channel tests never ended: {r:?}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        assert!(results[0].starts_with("Sent at "), "{results:?}");
        assert_eq!(
            results[1],
            format!("127.0.0.1:{closed} refused the connection: is the server running, and is the port right?")
        );
        let got = ntfy_got.lock().unwrap().clone();
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(got[0].contains("\"title\":\"Lifeboat test notification\""), "{got:?}");
        let _ = client
            .execute("document.getElementById('set-notify')?.scrollIntoView()", vec![])
            .await;
        shot(&client, &artifacts, "e2e-settings-notifications.png").await;
        let _ = client.execute("window.scrollTo(0, 0)", vec![]).await;
        let about = texts(&client, "[data-testid=about-version]")
            .await
            .join(" ");
        assert!(about.contains(lifeboat_core::VERSION), "{about}");
        shot(&client, &artifacts, "e2e-settings-light.png").await;
        bad_contrast.extend(contrast(&client, "settings").await);
        not_fitting.extend(fits_at_200(&client, &artifacts, "e2e-zoom-settings.png").await);
        click(&client, Locator::Css("input[name=theme][value=dark]")).await;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let t = client
                .execute("return document.documentElement.dataset.theme", vec![])
                .await
                .unwrap();
            if t == serde_json::json!("dark") {
                break;
            }
            assert!(Instant::now() < deadline, "the dark theme was not applied");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        shot(&client, &artifacts, "e2e-settings-dark.png").await;
        // Back to the stack page, on the tab it was left on.
        click(&client, Locator::Css("[data-testid=stack-item]")).await;
        wait_for(&client, Locator::Css("[data-testid=history-row]")).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        shot(&client, &artifacts, "e2e-stack-dark.png").await;
        let catalog = lifeboat_core::Catalog::open(&home.path().join("catalog.sqlite3")).unwrap();
        let saved = lifeboat_core::settings::AppSettings::load(&catalog).unwrap();
        assert_eq!(saved.theme, lifeboat_core::settings::Theme::Dark);

        assert!(
            bad_contrast.is_empty(),
            "contrast below 4.5:1:\n{}",
            bad_contrast.join("\n")
        );
        assert!(
            not_fitting.is_empty(),
            "does not fit at 200% zoom:\n{}",
            not_fitting.join("\n")
        );
        // The log file exists. Neither the passphrase nor any value of the stack's .env is
        // anywhere in Lifeboat's data folder (log, catalog) or in the clear on the drive.
        let log = std::fs::read_to_string(home.path().join("logs/lifeboat-desktop.log")).unwrap();
        assert!(log.contains("started"), "{log}");
        let env = std::fs::read_to_string(stack.join(".env")).unwrap();
        let mut secrets: Vec<String> = env
            .lines()
            .filter_map(|l| l.split_once('=').map(|(_, v)| v.trim().to_owned()))
            .filter(|v| v.len() >= 8)
            .collect();
        assert!(
            !secrets.is_empty(),
            "the example .env has values to look for"
        );
        secrets.push(passphrase.to_owned());
        for dir in [home.path(), drive.path()] {
            for (rel, _) in tree(dir) {
                let path = dir.join(&rel);
                if !path.is_file() {
                    continue;
                }
                let bytes = std::fs::read(&path).unwrap();
                for v in &secrets {
                    assert!(
                        !bytes.windows(v.len()).any(|w| w == v.as_bytes()),
                        "a secret is in the clear in {}",
                        path.display()
                    );
                }
            }
        }
    }
    .await;
    let _ = client.close().await;
    drop(driver);
    result
}

/// An HTTP server on a loopback port answering 200 to every request, keeping each body.
fn http_receiver() -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{BufRead, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let keep = got.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let mut w = conn.try_clone().unwrap();
            let mut r = std::io::BufReader::new(conn);
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                let l = line.trim_end().to_ascii_lowercase();
                if l.is_empty() {
                    let mut body = vec![0; len];
                    if r.read_exact(&mut body).is_err() {
                        break;
                    }
                    keep.lock()
                        .unwrap()
                        .push(String::from_utf8_lossy(&body).into_owned());
                    let _ = w.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}");
                    len = 0;
                } else if let Some(v) = l.strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
        }
    });
    (port, got)
}
