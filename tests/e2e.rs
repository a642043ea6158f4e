//! End to end on the real desktop window: `tauri-driver` + WebKitWebDriver start the built
//! app on the example stack under the X display in `DISPLAY`; the test reads the Stacks
//! screen like a person would, inspects again, and saves screenshots in `tests/artifacts/`.
//!
//! Without a display, `tauri-driver` or `WebKitWebDriver` the test says why and skips; with
//! `LIFEBOAT_REQUIRE_ALL=1` (set by `.ci/run`) that is a failure.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::Locator;

mod window;
use window::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stacks_screen_shows_the_example_stack() {
    let _one = ONE_WINDOW.lock().await;
    // A copy of the example stack: the restore part of this test changes its files.
    let stacks = tempfile::tempdir().unwrap();
    let example = copy_example(stacks.path());
    let artifacts = artifacts();
    let home = tempfile::tempdir().unwrap();
    let dest = tempfile::tempdir().unwrap();
    let have_keyring = std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some();
    let env = [
        ("LIFEBOAT_HOME", home.path().into()),
        ("LIFEBOAT_OPEN", example.clone().into()),
        // Where backups go without the folder dialog, and a keyring entry of its own.
        ("LIFEBOAT_DESTINATION", dest.path().into()),
        (
            "LIFEBOAT_KEYRING_SERVICE",
            format!("lifeboat-e2e-{}", std::process::id()).into(),
        ),
        // The scheduler checks every two seconds instead of twenty.
        ("LIFEBOAT_TICK_SECS", "2".into()),
        // No engine is started for this test: the window must say so and carry on.
        (
            "DOCKER_HOST",
            format!("unix://{}/no-docker.sock", home.path().display()).into(),
        ),
    ];
    let Some((driver, client)) = open_app(&env, std::slice::from_ref(&example)).await else {
        return;
    };

    let result = async {
        wait_for(&client, Locator::Css("[data-testid=service-row]")).await;
        // Wait until the inspection has settled (no progress box left).
        let deadline = Instant::now() + Duration::from_secs(60);
        while !texts(&client, "#progress .progress").await.is_empty() {
            assert!(Instant::now() < deadline, "the inspection never finished");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let names = read_all(&client, "[data-testid=service-row]", Some("data-service")).await;
        assert_eq!(names, ["postgres", "n8n", "ollama", "qdrant"]);
        assert_eq!(texts(&client, "h1").await, ["chatbot"]);
        let stacks = texts(&client, "[data-testid=stack-item]").await;
        assert_eq!(stacks.len(), 1);
        assert!(stacks[0].contains("chatbot"), "{stacks:?}");
        let docker = texts(&client, ".card").await.join(" | ");
        assert!(docker.contains("not running"), "{docker}");
        let warnings = texts(&client, ".warning").await.join("\n");
        assert!(
            warnings.contains("Docker is installed but not running"),
            "{warnings}"
        );
        let postgres = texts(&client, "[data-testid=service-row]").await.remove(0);
        assert!(
            postgres.contains("postgres") && postgres.contains("KiB"),
            "{postgres}"
        );
        std::fs::write(
            artifacts.join("e2e-stacks.png"),
            client.screenshot().await.unwrap(),
        )
        .unwrap();

        // Inspect again: the second inspection knows the first, so growth is measured.
        client
            .find(Locator::XPath("//button[text()='Inspect again']"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let cards = texts(&client, ".card").await.join(" | ");
            if cards.contains("no change") {
                break;
            }
            assert!(Instant::now() < deadline, "growth never shown: {cards}");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        std::fs::write(
            artifacts.join("e2e-stacks-again.png"),
            client.screenshot().await.unwrap(),
        )
        .unwrap();

        // Secrets: masked until asked, then shown, then hidden again on Hide.
        client
            .find(Locator::XPath("//button[@role='tab' and text()='Secrets']"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        client
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css("[data-testid=variable][data-key=POSTGRES_PASSWORD]"))
            .await
            .expect("the .env variables appear");
        let page = texts(&client, "main").await.join("\n");
        assert!(
            !page.contains("example-not-a-real-password"),
            "a value is shown before Reveal"
        );
        let findings = texts(&client, ".warning").await.join("\n");
        assert!(findings.contains("can be read by other users"), "{findings}");
        client
            .find(Locator::Css("[aria-label='Reveal POSTGRES_PASSWORD']"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let v = texts(&client, "[data-key=POSTGRES_PASSWORD] [data-testid=value]").await;
            if v == ["example-not-a-real-password"] {
                break;
            }
            assert!(Instant::now() < deadline, "reveal never showed the value: {v:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        std::fs::write(
            artifacts.join("e2e-secrets.png"),
            client.screenshot().await.unwrap(),
        )
        .unwrap();
        client
            .find(Locator::Css("[aria-label='Reveal POSTGRES_PASSWORD']"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let v = texts(&client, "[data-key=POSTGRES_PASSWORD] [data-testid=value]").await;
        assert!(v[0].starts_with("••••"), "{v:?}");

        // Edit: the new value is written into its line only, never shown, and a dated copy of
        // the old file is kept.
        let env_path = example.join(".env");
        let env_before = std::fs::read_to_string(&env_path).unwrap();
        click(&client, Locator::Css("[aria-label='Edit POSTGRES_USER']")).await;
        wait_for(&client, Locator::Css("[aria-label='New value for POSTGRES_USER']"))
            .await
            .send_keys("n8n_owner")
            .await
            .unwrap();
        shot(&client, &artifacts, "e2e-secrets-edit.png").await;
        click(
            &client,
            Locator::XPath("//form[input[@aria-label='New value for POSTGRES_USER']]/button[text()='Save']"),
        )
        .await;
        let deadline = Instant::now() + Duration::from_secs(20);
        while !std::fs::read_to_string(&env_path)
            .unwrap()
            .contains("POSTGRES_USER=n8n_owner")
        {
            assert!(Instant::now() < deadline, "the edit never reached the file");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let env_after = std::fs::read_to_string(&env_path).unwrap();
        assert_eq!(
            env_after,
            env_before.replace("POSTGRES_USER=n8n\n", "POSTGRES_USER=n8n_owner\n"),
            "only the edited line changes"
        );
        assert!(!texts(&client, "main").await.join(" ").contains("n8n_owner"));
        let history = example.join(".lifeboat/secrets-history");
        assert_eq!(
            std::fs::read_dir(&history).map_or(0, |d| d.count()),
            1,
            "one dated copy of the old file"
        );
        // Put the example's value back so the rest of the test sees the stack as shipped.
        std::fs::write(&env_path, &env_before).unwrap();
        client
            .find(Locator::XPath("//button[@role='tab' and text()='Overview']"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();

        if !have_keyring {
            skip("no D-Bus session with a keyring: the backup part of this test needs one (./dev test provides it)");
            return;
        }
        // Back up now: the first backup asks for the recovery passphrase, then runs.
        client
            .find(Locator::XPath("//button[text()='Back up now']"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let dialog = client
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css("#key-dialog"))
            .await
            .expect("the key dialog opens");
        let text = dialog.text().await.unwrap();
        assert!(text.contains("Create your backup key"), "{text}");
        client
            .find(Locator::Css("#pass1"))
            .await
            .unwrap()
            .send_keys("a long recovery passphrase")
            .await
            .unwrap();
        client
            .find(Locator::Css("#pass2"))
            .await
            .unwrap()
            .send_keys("a long recovery passphrase")
            .await
            .unwrap();
        std::fs::write(
            artifacts.join("e2e-key-dialog.png"),
            client.screenshot().await.unwrap(),
        )
        .unwrap();
        client
            .find(Locator::XPath("//button[text()='Create key and back up']"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let notice = texts(&client, "[data-testid=notice]").await.join(" ");
            if notice.contains("Backed up in") {
                break;
            }
            let alert = texts(&client, "[role=alert]").await.join(" ");
            assert!(alert.is_empty(), "the backup failed: {alert}");
            assert!(Instant::now() < deadline, "the backup never finished");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        let history = texts(&client, "[data-testid=history-row]").await;
        assert_eq!(history.len(), 1, "{history:?}");
        assert!(history[0].contains("Backed up"), "{history:?}");
        // The space report: what the snapshot takes on the drive, and what deleting it
        // frees (all of it: it is the only one).
        let size = texts(&client, "[data-testid=history-row] [data-testid=size]").await;
        let frees = texts(&client, "[data-testid=history-row] [data-testid=frees]").await;
        assert!(size.len() == 1 && size[0] != "–", "{size:?}");
        assert_eq!(size, frees, "the only snapshot frees all it takes");
        let shown_dest = texts(&client, "[data-testid=destination]").await;
        assert_eq!(shown_dest, [dest.path().display().to_string()]);
        std::fs::write(
            artifacts.join("e2e-backup-done.png"),
            client.screenshot().await.unwrap(),
        )
        .unwrap();
        // What the window said is on the drive: the recovery file and one snapshot.
        assert!(dest.path().join("lifeboat-recovery.age").is_file());
        let snaps: Vec<_> = std::fs::read_dir(dest.path().join("chatbot/snapshots"))
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".manifest.age"))
            .collect();
        assert_eq!(snaps.len(), 1);

        // The recovery passphrase: a wrong one is refused in the dialog, the right one passes.
        for (attempt, expect_ok) in [("not the passphrase", false), ("a long recovery passphrase", true)] {
            client
                .find(Locator::XPath("//button[text()='Test passphrase…']"))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
            client
                .find(Locator::Css("#pass1"))
                .await
                .unwrap()
                .send_keys(attempt)
                .await
                .unwrap();
            client
                .find(Locator::XPath("//button[text()='Test']"))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                if expect_ok {
                    let notice = texts(&client, "[data-testid=notice]").await.join(" ");
                    if notice.contains("Your passphrase works") {
                        break;
                    }
                } else {
                    let err = texts(&client, "#key-error").await.join(" ");
                    if err.contains("wrong passphrase") {
                        std::fs::write(
                            artifacts.join("e2e-passphrase-wrong.png"),
                            client.screenshot().await.unwrap(),
                        )
                        .unwrap();
                        client
                            .find(Locator::XPath("//dialog//button[text()='Cancel']"))
                            .await
                            .unwrap()
                            .click()
                            .await
                            .unwrap();
                        break;
                    }
                }
                assert!(Instant::now() < deadline, "no answer to the passphrase test");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        client
            .find(Locator::XPath("//button[text()='Save recovery kit']"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let kit = dest.path().join("LIFEBOAT-RECOVERY-KIT.txt");
        let deadline = Instant::now() + Duration::from_secs(20);
        while !kit.is_file() {
            assert!(Instant::now() < deadline, "the recovery kit was not written");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let kit = std::fs::read_to_string(kit).unwrap();
        assert!(kit.contains("chatbot") && kit.contains("age1"), "{kit}");

        // Backup settings: how each service is captured; choosing to stop n8n is saved.
        client
            .find(Locator::XPath("//summary[text()='Backup settings']"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let rows = texts(&client, ".choices li").await;
        let postgres = rows.iter().find(|r| r.starts_with("postgres")).unwrap();
        assert!(postgres.contains("pg_dumpall while it runs"), "{rows:?}");
        client
            .find(Locator::Css(".choices li[data-service=n8n] input[type=checkbox]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        std::fs::write(
            artifacts.join("e2e-backup-settings.png"),
            client.screenshot().await.unwrap(),
        )
        .unwrap();
        client
            .find(Locator::XPath("//button[text()='Save settings']"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while !texts(&client, "[data-testid=notice]")
            .await
            .join(" ")
            .contains("Settings saved")
        {
            assert!(Instant::now() < deadline, "the settings were never saved");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let checked = client
            .execute(
                "return document.querySelector('.choices li[data-service=n8n] input').checked",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(checked, serde_json::json!(true));

        // The restore wizard brings back one service's data that was lost, and only that;
        // then undoes it. A screenshot of each step.
        let qdrant = example.join("data/qdrant");
        let vectors = qdrant.join("collections/docs/0/segments/seg-0/vectors.dat");
        let original = std::fs::read(&vectors).unwrap();
        std::fs::remove_dir_all(&qdrant).unwrap();
        let env_file = example.join(".env");
        let mut env_now = std::fs::read(&env_file).unwrap();
        env_now.extend_from_slice(b"ADDED_AFTER_THE_BACKUP=1\n");
        std::fs::write(&env_file, &env_now).unwrap();
        click(&client, Locator::XPath("//button[@data-testid='restore-open']")).await;
        wait_for(&client, Locator::Css("[data-testid=snapshot]")).await;
        assert_eq!(texts(&client, "[data-testid=snapshot]").await.len(), 1);
        shot(&client, &artifacts, "e2e-restore-1-when.png").await;
        click(&client, Locator::XPath("//dialog//button[text()='Next']")).await;
        wait_for(&client, Locator::Css("#restore-everything")).await;
        click(&client, Locator::XPath("//dialog//label[input[@id='restore-everything']]")).await;
        click(&client, Locator::XPath("//dialog//li[@data-component='service-qdrant']//label")).await;
        shot(&client, &artifacts, "e2e-restore-2-what.png").await;
        click(&client, Locator::XPath("//dialog//button[text()='Next']")).await;
        let where_text = texts(&client, "#restore-dialog").await.join(" ");
        assert!(
            where_text.contains(&example.display().to_string()),
            "{where_text}"
        );
        shot(&client, &artifacts, "e2e-restore-3-where.png").await;
        click(&client, Locator::XPath("//dialog//button[text()='Preview']")).await;
        wait_for(&client, Locator::Css("[data-testid=plan-component]")).await;
        let planned = texts(&client, "[data-testid=plan-component]").await;
        assert_eq!(planned.len(), 1, "{planned:?}");
        assert!(
            planned[0].contains("qdrant data") && planned[0].contains("1 added"),
            "{planned:?}"
        );
        shot(&client, &artifacts, "e2e-restore-4-preview.png").await;
        click(&client, Locator::XPath("//button[@data-testid='restore-confirm']")).await;
        // The progress step of a 60 KiB restore is over in a blink; capture it if seen.
        if client
            .find(Locator::Css("[data-testid=restore-progress]"))
            .await
            .is_ok()
        {
            shot(&client, &artifacts, "e2e-restore-5-progress.png").await;
        }
        wait_for(&client, Locator::Css("[data-testid=restore-done]")).await;
        shot(&client, &artifacts, "e2e-restore-6-result.png").await;
        assert_eq!(std::fs::read(&vectors).unwrap(), original);
        assert_eq!(
            std::fs::read(&env_file).unwrap(),
            env_now,
            "the secrets were not chosen and must not change"
        );
        click(&client, Locator::XPath("//button[@data-testid='restore-undo']")).await;
        wait_for(&client, Locator::Css("[data-testid=restore-undone]")).await;
        assert!(!qdrant.exists(), "undo puts back the state before the restore");
        shot(&client, &artifacts, "e2e-restore-7-undone.png").await;
        click(&client, Locator::XPath("//dialog//button[text()='Close']")).await;

        // Never proven restorable, until a drill restores the snapshot into a sandbox and
        // checks it; then the line under the stack's name says so and the history has it.
        let deadline = Instant::now() + Duration::from_secs(20);
        while texts(&client, "[data-testid=proof]").await.join(" ") != "Never proven restorable · run a drill to find out whether this backup comes back" {
            assert!(Instant::now() < deadline, "no 'never proven' line: {:?}", texts(&client, "[data-testid=proof]").await);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert_eq!(texts(&client, "[data-testid=drill-history-empty]").await, ["No drill yet."]);
        let _ = client
            .execute("document.getElementById('drills-title')?.scrollIntoView()", vec![])
            .await;
        shot(&client, &artifacts, "e2e-drill-1-never.png").await;
        let stack_before = std::fs::read(&env_file).unwrap();
        click(&client, Locator::Css("[data-testid=drill-run]")).await;
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let notice = texts(&client, "[data-testid=notice]").await.join(" ");
            if notice.starts_with("Proven restorable") {
                break;
            }
            let error = texts(&client, ".banner.error").await.join(" ");
            assert!(error.is_empty(), "the drill failed: {error}");
            assert!(Instant::now() < deadline, "the drill never finished");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let proof = texts(&client, "[data-testid=proof]").await.join(" ");
        assert!(
            proof.starts_with("Proven restorable today — ") && proof.contains(" files, "),
            "{proof}"
        );
        let rows = read_all(&client, "[data-testid=drill-row]", Some("data-outcome")).await;
        assert_eq!(rows, ["passed"]);
        assert_eq!(std::fs::read(&env_file).unwrap(), stack_before, "a drill never touches the stack");
        let no_sandbox = std::fs::read_dir(home.path().join("drills"))
            .map(|d| d.count())
            .unwrap_or(0);
        assert_eq!(no_sandbox, 0, "the sandbox is gone after the drill");
        let _ = client
            .execute("document.getElementById('drills-title')?.scrollIntoView()", vec![])
            .await;
        shot(&client, &artifacts, "e2e-drill-2-proven.png").await;
        let _ = client.execute("window.scrollTo(0, 0)", vec![]).await;
        shot(&client, &artifacts, "e2e-drill-3-header.png").await;

        // A schedule a minute ahead: the scheduler runs the backup on its own and the
        // history on the page gets the run.
        wait_for(&client, Locator::Css("[data-testid=schedule-form]")).await;
        // The slot is the minute two minutes ahead (60 to 120 s away): filling in the form
        // on a slow machine must not take it past the slot, or the run is tomorrow's.
        let slot = chrono::Local::now() + chrono::Duration::minutes(2);
        let at = slot.format("%H:%M").to_string();
        // The page re-renders when the restore's refreshes land: retry the form on a
        // stale element, as a person would look again.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let attempt = async {
                client
                    .find(Locator::Css("select[name=kind] option[value=daily]"))
                    .await?
                    .click()
                    .await?;
                client
                    .execute(
                        "document.querySelector('input[name=at]').value = arguments[0];",
                        vec![serde_json::json!(at)],
                    )
                    .await?;
                client
                    .find(Locator::XPath("//button[text()='Save schedule']"))
                    .await?
                    .click()
                    .await?;
                Ok::<_, fantoccini::error::CmdError>(())
            }
            .await;
            if attempt.is_ok() {
                tokio::time::sleep(Duration::from_millis(500)).await;
                if texts(&client, "[data-testid=schedule-description]").await
                    == [format!("Every day at {at}")]
                {
                    break;
                }
            }
            assert!(Instant::now() < deadline, "the schedule was never saved: {attempt:?}");
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        let next_runs = texts(&client, "[data-testid=next-runs] li").await;
        assert_eq!(next_runs.len(), 5);
        let today_at = slot.format("%-d %b %Y, %H:%M").to_string();
        assert_eq!(
            next_runs[0], today_at,
            "the first run is not today's {at} (the form was saved after the slot?): {next_runs:?}"
        );
        let _ = client
            .execute("document.getElementById('schedule-title')?.scrollIntoView()", vec![])
            .await;
        shot(&client, &artifacts, "e2e-schedule-set.png").await;
        let deadline = Instant::now() + Duration::from_secs(240);
        loop {
            let rows = texts(&client, "[data-testid=history-row]").await;
            if rows.len() == 2 {
                assert!(rows[0].contains("Backed up"), "{rows:?}");
                break;
            }
            assert!(Instant::now() < deadline, "the scheduled backup never showed up: {rows:?}");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let snaps = std::fs::read_dir(dest.path().join("chatbot/snapshots"))
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".manifest.age"))
            .count();
        assert_eq!(snaps, 2, "the scheduled run wrote a snapshot");
        let _ = client
            .execute("document.getElementById('schedule-title')?.scrollIntoView()", vec![])
            .await;
        shot(&client, &artifacts, "e2e-schedule-ran.png").await;

        // The tray's menu, as the app builds it.
        let tray = client
            .execute_async(
                "const done = arguments[arguments.length - 1]; \
                 window.__TAURI_INTERNALS__.invoke('tray_menu').then(done, (e) => done({ error: e }));",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(tray["state"], "idle", "{tray}");
        let tip = tray["tooltip"].as_str().unwrap();
        assert!(
            tip.starts_with("Lifeboat: Last backup just now · next at ")
                && tip.contains(&format!("{at} · proven restorable "))
                && (tip.ends_with(" ago") || tip.ends_with("just now")),
            "{tip}"
        );
        let items = tray["items"].as_array().unwrap();
        let labels: Vec<&str> = items.iter().filter_map(|i| i["label"].as_str()).collect();
        assert_eq!(labels[0], "Open Lifeboat");
        assert!(labels[1].starts_with("chatbot: backed up"), "{labels:?}");
        assert!(labels.contains(&"Pause schedules") && labels.contains(&"Start at login") && labels.contains(&"Quit Lifeboat"), "{labels:?}");
        let cancel = items.iter().find(|i| i["id"] == "cancel").unwrap();
        assert_eq!(cancel["enabled"], false, "nothing runs, so nothing to cancel");
        let stack_menu = items[2]["items"].as_array().unwrap();
        let sub: Vec<&str> = stack_menu.iter().filter_map(|i| i["label"].as_str()).collect();
        assert!(sub.contains(&"Back up now") && sub.iter().any(|l| l.starts_with("Proven restorable ")), "{sub:?}");
        assert!(sub.iter().any(|l| l.starts_with("postgres: ")), "freshness per service: {sub:?}");
        // Today's run happened: the next is tomorrow at the same time.
        assert!(
            sub.iter().any(|l| l.starts_with("Next backup at ") && l.ends_with(&at)),
            "{sub:?}"
        );
        // Pausing from the tray shows on the page and in the menu.
        client
            .execute_async(
                "const done = arguments[arguments.length - 1]; \
                 window.__TAURI_INTERNALS__.invoke('tray_action', { id: 'pause:hour' }).then(done, done);",
                vec![],
            )
            .await
            .unwrap();
        let tray = client
            .execute_async(
                "const done = arguments[arguments.length - 1]; \
                 window.__TAURI_INTERNALS__.invoke('tray_menu').then(done, done);",
                vec![],
            )
            .await
            .unwrap();
        let paused = tray["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["type"] == "submenu" && i["label"].as_str().is_some_and(|l| l.starts_with("Schedules paused until")));
        assert!(paused.is_some(), "{tray}");
        assert!(tray["tooltip"].as_str().unwrap().contains(" · schedules paused"), "{tray}");
    }
    .await;
    let _ = client.close().await;
    drop(driver);
    result
}

/// The new-machine path in the real window: an empty Lifeboat, a keyring that never saw the
/// key, the backup drive (as the default destination) and the recovery passphrase.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_computer_restores_a_stack_from_the_backup_drive() {
    let _one = ONE_WINDOW.lock().await;
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
        return skip("no D-Bus session for a keyring (./dev test runs the tests in one)");
    }
    let artifacts = artifacts();
    // The old computer: the example stack backed up to the drive, with a recovery file.
    let old = tempfile::tempdir().unwrap();
    let stack = copy_example(old.path());
    let drive = tempfile::tempdir().unwrap();
    let key = age::x25519::Identity::generate();
    let passphrase = "the drive's recovery passphrase";
    lifeboat_core::keys::write_recovery(
        &key,
        age::secrecy::SecretString::from(passphrase.to_owned()),
        &drive.path().join(lifeboat_core::keys::RECOVERY_FILE),
    )
    .unwrap();
    let project =
        lifeboat_core::stack::load(&stack, &lifeboat_core::LoadOptions::default()).unwrap();
    lifeboat_core::backup::backup(
        &project,
        &key,
        &lifeboat_core::backup::BackupOptions::new(drive.path()),
        &lifeboat_core::job::NoProgress,
        &lifeboat_core::CancelToken::new(),
    )
    .unwrap();

    // The new computer.
    let home = tempfile::tempdir().unwrap();
    let user_home = tempfile::tempdir().unwrap();
    let service = format!("lifeboat-e2e-new-{}", std::process::id());
    let env = [
        ("LIFEBOAT_HOME", home.path().into()),
        ("HOME", user_home.path().into()),
        ("LIFEBOAT_DESTINATION", drive.path().into()),
        ("LIFEBOAT_KEYRING_SERVICE", service.clone().into()),
        (
            "DOCKER_HOST",
            format!("unix://{}/no-docker.sock", home.path().display()).into(),
        ),
    ];
    let Some((driver, client)) = open_app(&env, &[]).await else {
        return;
    };
    let result = async {
        wait_for(&client, Locator::Css("[data-testid=welcome-drive]")).await;
        // Let the first frame paint before the screenshot.
        tokio::time::sleep(Duration::from_millis(700)).await;
        shot(&client, &artifacts, "e2e-drive-1-welcome.png").await;
        click(&client, Locator::Css("[data-testid=welcome-drive]")).await;
        wait_for(&client, Locator::Css("#drive-pass")).await;
        assert_eq!(
            texts(&client, "[data-testid=drive-path]").await,
            [drive.path().display().to_string()]
        );
        // A wrong passphrase is refused with a sentence; the right one opens the drive.
        client
            .find(Locator::Css("#drive-pass"))
            .await
            .unwrap()
            .send_keys("not it at all")
            .await
            .unwrap();
        click(&client, Locator::Css("#drive-dialog button[type=submit]")).await;
        wait_for(&client, Locator::Css("[data-testid=drive-error]")).await;
        let err = texts(&client, "[data-testid=drive-error]").await.join(" ");
        assert!(err.contains("passphrase"), "{err}");
        client
            .wait()
            .at_most(Duration::from_secs(30))
            .for_element(Locator::Css("#drive-pass"))
            .await
            .unwrap()
            .send_keys(passphrase)
            .await
            .unwrap();
        shot(&client, &artifacts, "e2e-drive-2-passphrase.png").await;
        click(&client, Locator::Css("#drive-dialog button[type=submit]")).await;
        wait_for(&client, Locator::Css("[data-testid=drive-snapshot]")).await;
        let target = user_home.path().join("chatbot");
        assert_eq!(
            texts(&client, "[data-testid=drive-target]").await,
            [target.display().to_string()]
        );
        shot(&client, &artifacts, "e2e-drive-3-choose.png").await;
        click(&client, Locator::Css("[data-testid=drive-restore]")).await;
        wait_for(&client, Locator::Css("[data-testid=drive-done]")).await;
        shot(&client, &artifacts, "e2e-drive-4-done.png").await;
        // The key is in this computer's keyring now.
        std::env::set_var("LIFEBOAT_KEYRING_SERVICE", &service);
        let (in_keyring, _) = lifeboat_core::keys::load(None).unwrap();
        std::env::remove_var("LIFEBOAT_KEYRING_SERVICE");
        assert_eq!(
            in_keyring.to_public().to_string(),
            key.to_public().to_string()
        );
        // The stack is back, file for file, and Lifeboat shows it.
        for rel in [
            ".env",
            "compose.yaml",
            "data/qdrant/collections/docs/0/segments/seg-0/vectors.dat",
            "data/n8n/config",
        ] {
            assert_eq!(
                std::fs::read(stack.join(rel)).unwrap(),
                std::fs::read(target.join(rel)).unwrap(),
                "{rel}"
            );
        }
        click(
            &client,
            Locator::Css("#drive-dialog .dialog-actions button.primary"),
        )
        .await;
        wait_for(&client, Locator::Css("[data-testid=service-row]")).await;
        assert_eq!(texts(&client, "h1").await, ["chatbot"]);
        shot(&client, &artifacts, "e2e-drive-5-stack.png").await;
    }
    .await;
    let _ = client.close().await;
    drop(driver);
    result
}

/// Runs a command and returns its standard output (empty when it fails).
fn output(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// Where the tray icon sits on the screen: the absolute position of the window the tray
/// code embeds in the panel (`xwininfo` prints it as the second `+X+Y`).
fn tray_icon_at() -> Option<(i32, i32, i32, i32)> {
    let tree = output("xwininfo", &["-root", "-tree"]);
    let line = tree.lines().find(|l| l.contains("tray-icon tray app"))?;
    // "… 32x30+0+0  +1246+1": size and relative place, then the absolute place.
    let mut parts = line.split_whitespace().rev();
    let abs = parts.next()?;
    let size = parts.next()?.split('+').next()?;
    let (w, h) = size.split_once('x')?;
    let mut xy = abs.trim_start_matches('+').split('+');
    Some((
        xy.next()?.parse().ok()?,
        xy.next()?.parse().ok()?,
        w.parse().ok()?,
        h.parse().ok()?,
    ))
}

/// Number of pixels that differ between two screenshots.
fn pixels_changed(a: &Path, b: &Path) -> u64 {
    let out = Command::new("compare")
        .args(["-metric", "AE"])
        .arg(a)
        .arg(b)
        .arg("null:")
        .output()
        .expect("ImageMagick's compare runs");
    String::from_utf8_lossy(&out.stderr)
        .split_whitespace()
        .next()
        .and_then(|n| n.parse::<f64>().ok())
        .unwrap_or(0.0) as u64
}

/// The tray on a real panel (trayer, an XEmbed system tray) with a real notification daemon
/// (dunst): the icon appears, a click opens the menu, the keyboard walks into the stack's
/// submenu and picks "Back up now"; the backup cannot start (no destination yet), and the
/// notification saying so is shown by the daemon. Screenshots of the menu and of the
/// notification are saved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tray_menu_runs_a_backup_and_a_failure_is_notified() {
    let _one = ONE_WINDOW.lock().await;
    if std::env::var_os("DISPLAY").is_none() {
        return skip("no X display (run under Xvfb, as .ci/run does)");
    }
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
        return skip("no D-Bus session bus for the notification daemon (./dev test runs one)");
    }
    for tool in [
        "trayer", "dunst", "dunstctl", "xdotool", "xwininfo", "import", "compare",
    ] {
        if on_path(tool).is_none() {
            return skip(&format!(
                "{tool} is not installed (see APT_PACKAGES in ./dev)"
            ));
        }
    }
    let artifacts = artifacts();
    let work = tempfile::tempdir().unwrap();
    let example = copy_example(work.path());
    let home = work.path().join("home");
    let _dunst = Driver(
        Command::new("dunst")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let _panel = Driver(
        Command::new("trayer")
            .args([
                "--edge",
                "top",
                "--align",
                "right",
                "--widthtype",
                "pixel",
                "--width",
                "64",
                "--heighttype",
                "pixel",
                "--height",
                "32",
                "--SetDockType",
                "false",
                "--transparent",
                "false",
                "--tint",
                "0x303030",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let app = Driver(
        Command::new(env!("CARGO_BIN_EXE_lifeboat-desktop"))
            .arg(&example)
            .env("LIFEBOAT_HOME", &home)
            // Start at login writes into $HOME/.config/autostart: a home of its own.
            .env("HOME", &home)
            .env_remove("LIFEBOAT_DESTINATION")
            .env(
                "DOCKER_HOST",
                format!("unix://{}/no-docker.sock", work.path().display()),
            )
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let (x, y, w, h) = loop {
        if let Some(at) = tray_icon_at() {
            break at;
        }
        assert!(
            Instant::now() < deadline,
            "the tray icon never appeared in the panel"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    // Let the window and the first tray refresh settle.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let before = work.path().join("before.png");
    assert!(Command::new("import")
        .args(["-window", "root"])
        .arg(&before)
        .status()
        .unwrap()
        .success());
    let (cx, cy) = (x + w / 2, y + h / 2);
    assert!(Command::new("xdotool")
        .args(["mousemove", &cx.to_string(), &cy.to_string(), "click", "1"])
        .status()
        .unwrap()
        .success());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let menu = artifacts.join("e2e-tray-menu.png");
    assert!(Command::new("import")
        .args(["-window", "root"])
        .arg(&menu)
        .status()
        .unwrap()
        .success());
    assert!(
        pixels_changed(&before, &menu) > 5_000,
        "clicking the tray icon showed no menu"
    );
    // Open Lifeboat, then the stack's line: its submenu opens on the first enabled entry,
    // "Back up now".
    for key in ["Down", "Down", "Right"] {
        Command::new("xdotool").args(["key", key]).status().unwrap();
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    assert!(Command::new("import")
        .args(["-window", "root"])
        .arg(artifacts.join("e2e-tray-submenu.png"))
        .status()
        .unwrap()
        .success());
    Command::new("xdotool")
        .args(["key", "Return"])
        .status()
        .unwrap();
    // The daemon shows it (a failure is critical: it stays until closed)…
    let deadline = Instant::now() + Duration::from_secs(20);
    while output("dunstctl", &["count", "displayed"]).trim() != "1" {
        assert!(Instant::now() < deadline, "no notification is displayed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(Command::new("import")
        .args(["-window", "root"])
        .arg(artifacts.join("e2e-notification.png"))
        .status()
        .unwrap()
        .success());
    // …and, closed, it is in the daemon's history with what it said.
    Command::new("dunstctl").arg("close-all").status().unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let history = output("dunstctl", &["history"]);
    assert!(history.contains("Backup of chatbot failed"), "{history}");
    assert!(
        history.contains("No backup destination is chosen for this stack"),
        "{history}"
    );
    assert!(history.contains("Lifeboat"), "the app name: {history}");

    // Start at login, ticked in the menu (the keyboard skips the disabled Cancel entry),
    // writes the autostart entry that starts Lifeboat hidden in the tray.
    Command::new("xdotool")
        .args(["mousemove", &cx.to_string(), &cy.to_string(), "click", "1"])
        .status()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    for key in ["Down", "Down", "Down", "Down", "Return"] {
        Command::new("xdotool").args(["key", key]).status().unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let entry = home.join(".config/autostart/Lifeboat.desktop");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !entry.is_file() {
        assert!(
            Instant::now() < deadline,
            "Start at login wrote no autostart entry"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let text = std::fs::read_to_string(&entry).unwrap();
    assert!(
        text.contains(&format!(
            "Exec={} --hidden",
            env!("CARGO_BIN_EXE_lifeboat-desktop")
        )),
        "{text}"
    );

    // Launched again with another stack folder: the running Lifeboat takes the folder and
    // the second launch ends at once (one scheduler per user).
    let second = work.path().join("second");
    std::fs::create_dir(&second).unwrap();
    std::fs::write(
        second.join("compose.yaml"),
        "name: second\nservices:\n  app:\n    image: busybox\n",
    )
    .unwrap();
    let mut again = Command::new(env!("CARGO_BIN_EXE_lifeboat-desktop"))
        .arg(&second)
        .env("LIFEBOAT_HOME", &home)
        .env("HOME", &home)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(s) = again.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = again.kill();
            panic!("a second Lifeboat kept running beside the first");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(status.success(), "{status:?}");
    let catalog = lifeboat_core::Catalog::open(&home.join("catalog.sqlite3")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !catalog.stacks().unwrap().iter().any(|s| s.name == "second") {
        assert!(
            Instant::now() < deadline,
            "the running Lifeboat did not take the folder"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut first = app;
    assert!(
        first.0.try_wait().unwrap().is_none(),
        "the first Lifeboat is still running"
    );
}
