//! The files screen: dropping files in, opening, editing and saving back,
//! the idle lock, and changes arriving from another computer.

use std::process::Command;

use serde_json::json;

use crate::harness::{App, Setup};
use crate::pages::create_through_ui;
use crate::support::*;

#[tokio::test(flavor = "current_thread")]
async fn drop_import_with_progress_then_open_edit_and_save_back_as_a_new_version() {
    let scratch = tempfile::tempdir().unwrap();
    let vault = scratch.path().join("home/Dropbox/Riverside Clinic");
    let editor = editor_script(scratch.path(), true);
    let app = App::start(Setup {
        opener: Some(&editor),
        ..Setup::new(scratch.path(), &service("import"))
    })
    .await;
    create_through_ui(&app, &vault, false).await;
    // The header names the vault by its folder, as the clinic named it.
    app.wait_js(
        "return document.getElementById('vault-name').textContent === 'Riverside Clinic'",
        10,
    )
    .await;

    // Twenty scans, a folder of notes, and one file that cannot be read.
    let src = scratch.path().join("scans");
    std::fs::create_dir_all(src.join("Notes")).unwrap();
    let mut dropped = Vec::new();
    for i in 1..=20 {
        let p = src.join(format!("scan {i:02} – Álvarez.txt"));
        std::fs::write(&p, format!("lab result {i}\n").repeat(2000 * i)).unwrap();
        dropped.push(p);
    }
    std::fs::write(src.join("Notes/visit.txt"), "visit note\n").unwrap();
    dropped.push(src.join("Notes"));
    let locked = src.join("unreadable.txt");
    std::fs::write(&locked, "secret").unwrap();
    let unreadable = {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
        std::fs::File::open(&locked).is_err() // root can read anyway
    };
    let missing = src.join("vanished.pdf");
    dropped.push(locked.clone());
    dropped.push(missing.clone());
    app.drop_files(&dropped).await;
    app.wait_js("return ['done', 'partial'].includes(document.getElementById('import-panel').dataset.state)", 60)
        .await;
    assert_eq!(
        app.js("return document.getElementById('import-bar').dataset.percent")
            .await,
        json!("100")
    );
    let summary = app.text("#import-summary").await;
    assert!(summary.contains("vanished.pdf"), "{summary}");
    if unreadable {
        assert!(summary.contains("unreadable.txt"), "{summary}");
    }
    assert!(
        summary.contains("2") && summary.contains("encrypted into the vault"),
        "{summary}"
    );
    app.screenshot("07-import-summary").await;
    app.click("#import-close").await;
    app.wait_js(
        "return document.querySelectorAll('#rows .tr').length >= 21",
        10,
    )
    .await;
    // Search as you type.
    app.fill("#search", "visit").await;
    app.wait_js(
        "return document.querySelectorAll('#rows .tr').length === 1",
        10,
    )
    .await;
    app.screenshot("08-search").await;
    app.fill("#search", "").await;
    app.js("document.getElementById('search').dispatchEvent(new KeyboardEvent('keydown', {key: 'Escape'})); return true").await;
    app.wait_js(
        "return document.querySelectorAll('#rows .tr').length >= 21",
        10,
    )
    .await;

    // Select the first scan: details and a text preview from memory.
    app.select_row("scan 01 – Álvarez.txt").await;
    app.wait_js("return (document.querySelector('#preview pre') || {}).textContent?.startsWith('lab result 1')", 20)
        .await;
    app.screenshot("09-main-preview").await;

    // Open: the stand-in editor gets a private copy, edits it, and the
    // change comes back as a new version.
    app.click("#act-open").await;
    let opened = opened_by(&scratch.path().join("opened-by-editor")).await;
    let run = scratch.path().join("run");
    assert!(
        opened.starts_with(run.join("chartsafe")),
        "{opened:?} is in the private folder"
    );
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(opened.parent().unwrap())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
    }
    app.wait_js(
        "return document.querySelectorAll('#open-list li').length === 1",
        10,
    )
    .await;
    // A second launch (a double-click on the icon while the app runs)
    // hands over to this window and exits: it must not remove this
    // process's decrypted copy, nor lock, nor open a second window.
    second_launch_hands_over(&app, &opened).await;
    // The version history shows two versions once the save is back.
    let start = std::time::Instant::now();
    loop {
        app.click("#act-history").await;
        app.wait_js("return document.getElementById('dialog').open", 10)
            .await;
        let rows = app
            .js("return document.querySelectorAll('#dialog-body tr').length")
            .await;
        if rows == json!(3) {
            break;
        }
        app.js("document.getElementById('dialog').close(); return true")
            .await;
        assert!(
            start.elapsed().as_secs() < 20,
            "the edit was saved back as a new version"
        );
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    app.screenshot("10-version-history").await;
    app.js("document.getElementById('dialog').close(); return true")
        .await;

    // A big import can be cancelled: what finished stays, nothing half-done.
    let bulk = scratch.path().join("bulk");
    std::fs::create_dir_all(&bulk).unwrap();
    let mut block = vec![7u8; 8 << 20];
    for i in 0..60u8 {
        block[0] = i;
        std::fs::write(bulk.join(format!("part {i:02}.bin")), &block).unwrap();
    }
    app.drop_files(std::slice::from_ref(&bulk)).await;
    app.wait_js("return document.getElementById('import-panel').dataset.state === 'running' && document.getElementById('import-total-text').textContent.includes('of 60 files')", 30).await;
    app.screenshot("14-import-progress").await;
    app.click("#import-cancel").await;
    app.wait_js("return ['cancelled', 'done'].includes(document.getElementById('import-panel').dataset.state)", 60).await;
    assert_eq!(
        app.js("return document.getElementById('import-panel').dataset.state")
            .await,
        json!("cancelled"),
        "the import was still running when Cancel was clicked"
    );
    app.click("#import-close").await;
    let stored: Vec<serde_json::Value> = serde_json::from_value(
        app.js("return window.__TAURI__.core.invoke('list').then(l => l.entries.filter(e => e.path.startsWith('bulk/')).map(e => e.size))").await,
    )
    .unwrap();
    assert!(
        stored.len() < 60,
        "cancel stopped the import ({} stored)",
        stored.len()
    );
    assert!(
        stored.iter().all(|s| *s == json!(8 << 20)),
        "only complete files are stored"
    );

    // Locking removes the decrypted copy.
    app.click("#btn-lock").await;
    app.wait_screen("unlock").await;
    assert!(
        files_under(&run.join("chartsafe")).is_empty(),
        "decrypted copies are gone"
    );
    assert!(!opened.exists());
    let env = app.env.clone();
    app.quit().await;

    // The stored content has the edit (checked with the command line).
    let pass = scratch.path().join("pass");
    std::fs::write(&pass, PASS).unwrap();
    let env: Vec<(String, String)> = env.into_iter().filter(|(k, _)| k != "DISPLAY").collect();
    let out = cli_ok(
        &env,
        &pass,
        &[
            "--vault",
            vault.to_str().unwrap(),
            "get",
            "scan 01 – Álvarez.txt",
            "-o",
            "-",
        ],
    );
    assert!(String::from_utf8_lossy(&out.stdout).ends_with("edited in the app\n"));
}

#[tokio::test(flavor = "current_thread")]
async fn idle_lock_removes_decrypted_copies_and_clears_the_window() {
    let scratch = tempfile::tempdir().unwrap();
    let vault = scratch.path().join("home/Dropbox/Riverside Clinic");
    let viewer = editor_script(scratch.path(), false);
    let keychain = service("idle");
    // The vault is made with the command line, as the same computer.
    let app = App::start(Setup {
        idle_seconds: Some(6),
        opener: Some(&viewer),
        ..Setup::new(scratch.path(), &keychain)
    })
    .await;
    let pass = scratch.path().join("pass");
    std::fs::write(&pass, PASS).unwrap();
    let env = app.cli_env();
    vault_with_file(
        &env,
        &pass,
        &vault,
        ("referral.txt", "referral for Jane Roe", ""),
    );
    // The app is on the welcome screen (it started before the vault existed):
    // open the existing vault.
    app.open_existing(vault.to_str().unwrap(), PASS).await;
    app.open_row("referral.txt").await;
    let opened = opened_by(&scratch.path().join("opened-by-viewer")).await;
    assert_eq!(
        std::fs::read_to_string(&opened).unwrap(),
        "referral for Jane Roe"
    );
    // Nobody touches anything: the vault locks by itself.
    app.wait_screen("unlock").await;
    assert!(app.text("#unlock-reason").await.contains("locked itself"));
    assert!(!opened.exists(), "the decrypted copy is removed");
    assert!(files_under(&scratch.path().join("run/chartsafe")).is_empty());
    let names = app
        .js("return document.getElementById('screen-main').innerText")
        .await;
    assert!(
        !names.as_str().unwrap_or("").contains("referral"),
        "no names stay in the window"
    );
    app.screenshot("11-auto-locked").await;
    app.quit().await;
}

#[tokio::test(flavor = "current_thread")]
async fn another_devices_changes_appear_by_themselves_and_screen_lock_locks() {
    let scratch = tempfile::tempdir().unwrap();
    let vault = scratch.path().join("home/Dropbox/Clinic");
    let app = App::start(Setup::new(scratch.path(), &service("live"))).await;
    let pass = scratch.path().join("pass");
    std::fs::write(&pass, PASS).unwrap();
    let env = app.cli_env();
    let v = vault.to_str().unwrap();
    let phrase = vault_with_file(&env, &pass, &vault, ("cbc.txt", "CBC normal", "Labs"));

    // Device B: another computer with its own copy of the folder, kept in
    // step with rsync as a cloud client would.
    let b_folder = scratch.path().join("b/Clinic");
    std::fs::create_dir_all(&b_folder).unwrap();
    rsync(&vault, &b_folder);
    let env_b = vec![
        (
            "HOME".to_string(),
            scratch.path().join("b").display().to_string(),
        ),
        (
            "CHARTSAFE_STATE_DIR".to_string(),
            scratch.path().join("b/state").display().to_string(),
        ),
        ("CHARTSAFE_KEYCHAIN_SERVICE".to_string(), service("live-b")),
        ("CHARTSAFE_DEVICE_NAME".to_string(), "Exam room".to_string()),
        ("CHARTSAFE_KDF_LOG_N".to_string(), "10".to_string()),
    ];
    let out = cli_stdin(
        &env_b,
        &pass,
        &["--vault", b_folder.to_str().unwrap(), "recover"],
        &phrase,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The person unlocks and goes into Labs.
    app.open_existing(v, PASS).await;
    app.open_row("Labs").await;
    app.wait_row("Labs/cbc.txt").await;

    // B adds a result and the folders sync: it shows up in Labs by itself.
    let result = scratch.path().join("potassium.txt");
    std::fs::write(&result, "K 4.1").unwrap();
    cli_ok(
        &env_b,
        &pass,
        &[
            "--vault",
            b_folder.to_str().unwrap(),
            "add",
            result.to_str().unwrap(),
            "--to",
            "Labs",
        ],
    );
    rsync(&b_folder, &vault);
    app.wait_row("Labs/potassium.txt").await;
    // Written by the member (the phrase's holder, the administrator) on
    // the computer B: the team log's names, the computer in the tooltip.
    let by = app.js("const b = document.querySelector('#rows .tr[data-path=\"Labs/potassium.txt\"] .by'); return [b.textContent, b.title]").await;
    assert_eq!(by, json!(["Administrator", "on Exam room"]));
    assert_eq!(
        app.js("return document.querySelector('#crumbs li:last-child button').textContent")
            .await,
        json!("Labs")
    );
    app.screenshot("13-live-update").await;

    // The screen locks: so does the vault.
    let sent = Command::new("dbus-send")
        .args([
            "--session",
            "--type=signal",
            "/org/gnome/ScreenSaver",
            "org.gnome.ScreenSaver.ActiveChanged",
            "boolean:true",
        ])
        .status()
        .expect("dbus-send")
        .success();
    assert!(sent);
    app.wait_screen("unlock").await;
    assert!(app.text("#unlock-reason").await.contains("screen locked"));
    app.quit().await;
}

/// Launches the app binary again with the first one's environment: it must
/// exit by itself (status 0) within seconds, leaving the first one's open
/// copy, session and window as they were.
async fn second_launch_hands_over(app: &App, opened: &std::path::Path) {
    let mut second = std::process::Command::new(crate::harness::app_bin());
    second
        .env_clear()
        .envs(app.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    for k in ["PATH", "DBUS_SESSION_BUS_ADDRESS"] {
        if let Some(v) = std::env::var_os(k) {
            second.env(k, v);
        }
    }
    let mut child = second.spawn().expect("second launch");
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > std::time::Duration::from_secs(20) {
            let _ = child.kill();
            panic!("a second launch kept running beside the first");
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert!(status.success(), "second launch: {status}");
    assert!(opened.exists(), "the first app's open copy is untouched");
    app.wait_js(
        "return document.querySelectorAll('#open-list li').length === 1 && document.body.dataset.screen === 'main'",
        10,
    )
    .await;
}
