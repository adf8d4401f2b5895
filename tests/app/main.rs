//! End-to-end tests of the desktop app through its real window (Xvfb,
//! tauri-driver, WebKitWebDriver) with the real keychain.
//!
//! Screenshots of each screen go to target/screenshots/.

mod harness;

use std::path::{Path, PathBuf};
use std::process::Command;

use harness::{App, Setup};
use serde_json::json;

const PASS: &str = "correct horse battery staple";

fn service(tag: &str) -> String {
    format!("chartsafe-app-test-{}-{tag}", std::process::id())
}

/// Runs the `chartsafe` command as the same computer as the app.
fn cli(env: &[(String, String)], pass_file: &Path, args: &[&str]) -> std::process::Output {
    let mut c = Command::new(harness::cli_bin());
    for (k, v) in env {
        c.env(k, v);
    }
    c.arg("--passphrase-file").arg(pass_file).args(args);
    c.output().expect("run chartsafe")
}

/// Runs the `chartsafe` command with `stdin`.
fn cli_stdin(
    env: &[(String, String)],
    pass_file: &Path,
    args: &[&str],
    stdin: &str,
) -> std::process::Output {
    use std::io::Write;
    let mut c = Command::new(harness::cli_bin());
    for (k, v) in env {
        c.env(k, v);
    }
    c.arg("--passphrase-file")
        .arg(pass_file)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = c.spawn().expect("run chartsafe");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn rsync(from: &Path, to: &Path) {
    let ok = Command::new("rsync")
        .arg("-a")
        .arg(format!("{}/", from.display()))
        .arg(format!("{}/", to.display()))
        .status()
        .expect("rsync")
        .success();
    assert!(ok, "rsync");
}

/// Files under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Creates a vault through the first-run screens, confirming the phrase.
async fn create_through_ui(app: &App, vault: &Path, shots: bool) {
    app.wait_screen("welcome").await;
    if shots {
        app.screenshot("01-welcome").await;
    }
    app.click("#go-create").await;
    app.wait_screen("create").await;
    app.fill("#create-path", vault.to_str().unwrap()).await;
    app.fill("#create-pass", "short").await;
    app.fill("#create-pass2", "short").await;
    app.click("#create-submit").await;
    app.wait_js(
        "return !document.querySelector('#create-form .form-error').hidden",
        10,
    )
    .await;
    assert!(app
        .text("#create-form .form-error")
        .await
        .contains("at least 8"));
    app.fill("#create-pass", PASS).await;
    app.fill("#create-pass2", PASS).await;
    if shots {
        app.screenshot("02-create").await;
    }
    app.click("#create-submit").await;
    app.wait_screen("phrase").await;
    let words: Vec<String> = serde_json::from_value(
        app.js("return [...document.querySelectorAll('#phrase-words li')].map(l => l.textContent)")
            .await,
    )
    .unwrap();
    assert_eq!(words.len(), 24);
    if shots {
        app.screenshot("03-recovery-phrase").await;
    }
    app.click("#phrase-next").await;
    app.wait_screen("confirm").await;
    let labels: Vec<String> = serde_json::from_value(
        app.js("return [...document.querySelectorAll('#confirm-fields label')].map(l => l.textContent)")
            .await,
    )
    .unwrap();
    assert_eq!(labels.len(), 3);
    let position = |l: &str| -> usize {
        l.chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse::<usize>()
            .unwrap()
            - 1
    };
    // A wrong word is refused.
    app.fill("#confirm-word-0", "wrong").await;
    app.fill("#confirm-word-1", &words[position(&labels[1])])
        .await;
    app.fill("#confirm-word-2", &words[position(&labels[2])])
        .await;
    app.click("#confirm-submit").await;
    app.wait_js(
        "return !document.querySelector('#confirm-form .form-error').hidden",
        10,
    )
    .await;
    assert_eq!(
        app.js("return document.body.dataset.screen").await,
        json!("confirm")
    );
    app.fill("#confirm-word-0", &words[position(&labels[0])])
        .await;
    if shots {
        app.screenshot("04-confirm-words").await;
    }
    app.click("#confirm-submit").await;
    app.wait_screen("main").await;
}

async fn unlock(app: &App, pass: &str) {
    app.wait_screen("unlock").await;
    app.fill("#unlock-pass", pass).await;
    app.click("#unlock-submit").await;
}

#[tokio::test(flavor = "current_thread")]
async fn create_with_phrase_confirmation_lock_unlock_and_wrong_passphrase() {
    let scratch = tempfile::tempdir().unwrap();
    let vault = scratch.path().join("home/Dropbox/ChartSafe");
    std::fs::create_dir_all(vault.parent().unwrap()).unwrap();
    let app = App::start(Setup {
        scratch: scratch.path(),
        keychain: &service("create"),
        idle_seconds: None,
        opener: None,
    })
    .await;
    // The Dropbox folder is suggested.
    app.wait_screen("welcome").await;
    create_through_ui(&app, &vault, true).await;
    assert!(vault.join("chartsafe-vault.json").exists());
    app.wait_js(
        "return document.querySelector('#empty') && !document.querySelector('#empty').hidden",
        10,
    )
    .await;
    app.screenshot("05-main-empty").await;

    // Lock with the button: names are cleared and the unlock screen shows.
    app.click("#btn-lock").await;
    app.wait_screen("unlock").await;
    assert_eq!(
        app.js("return document.getElementById('rows').children.length")
            .await,
        json!(0)
    );
    // A wrong passphrase says so and costs nothing.
    app.fill("#unlock-pass", "not the passphrase").await;
    app.click("#unlock-submit").await;
    app.wait_js(
        "return !document.querySelector('#unlock-form .form-error').hidden",
        20,
    )
    .await;
    assert!(app
        .text("#unlock-form .form-error")
        .await
        .contains("not right"));
    app.screenshot("06-unlock-wrong-passphrase").await;
    app.fill("#unlock-pass", PASS).await;
    app.click("#unlock-submit").await;
    app.wait_screen("main").await;
    // The shortcut locks too.
    app.js("document.getElementById('viewport').focus(); window.dispatchEvent(new KeyboardEvent('keydown', {key: 'l', ctrlKey: true})); return true").await;
    app.wait_screen("unlock").await;
    app.quit().await;
}

/// A stand-in "default application": appends a line to the file it opens,
/// as a person editing and saving would, and leaves a note of what it opened.
fn editor_script(dir: &Path, edit: bool) -> PathBuf {
    let script = dir.join(if edit { "editor.sh" } else { "viewer.sh" });
    let body = if edit {
        "#!/bin/sh\necho \"$1\" > \"$(dirname \"$0\")/opened-by-editor\"\nsleep 1\nprintf 'edited in the app\\n' >> \"$1\"\n"
    } else {
        "#!/bin/sh\necho \"$1\" > \"$(dirname \"$0\")/opened-by-viewer\"\n"
    };
    std::fs::write(&script, body).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    script
}

#[tokio::test(flavor = "current_thread")]
async fn drop_import_with_progress_then_open_edit_and_save_back_as_a_new_version() {
    let scratch = tempfile::tempdir().unwrap();
    let vault = scratch.path().join("home/Dropbox/ChartSafe");
    let editor = editor_script(scratch.path(), true);
    let app = App::start(Setup {
        scratch: scratch.path(),
        keychain: &service("import"),
        idle_seconds: None,
        opener: Some(&editor),
    })
    .await;
    create_through_ui(&app, &vault, false).await;

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
    app.js("document.querySelector('#rows .tr[data-path=\"scan 01 – Álvarez.txt\"]').click(); return true").await;
    app.wait_js("return (document.querySelector('#preview pre') || {}).textContent?.startsWith('lab result 1')", 20)
        .await;
    app.screenshot("09-main-preview").await;

    // Open: the stand-in editor gets a private copy, edits it, and the
    // change comes back as a new version.
    app.click("#act-open").await;
    let marker = scratch.path().join("opened-by-editor");
    let start = std::time::Instant::now();
    while !marker.exists() {
        assert!(start.elapsed().as_secs() < 20, "the editor was started");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let opened = PathBuf::from(std::fs::read_to_string(&marker).unwrap().trim());
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
    let out = cli(
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
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).ends_with("edited in the app\n"));
}

#[tokio::test(flavor = "current_thread")]
async fn idle_lock_removes_decrypted_copies_and_clears_the_window() {
    let scratch = tempfile::tempdir().unwrap();
    let vault = scratch.path().join("home/Vault");
    let viewer = editor_script(scratch.path(), false);
    let keychain = service("idle");
    // The vault is made with the command line, as the same computer.
    let app = App::start(Setup {
        scratch: scratch.path(),
        keychain: &keychain,
        idle_seconds: Some(6),
        opener: Some(&viewer),
    })
    .await;
    let pass = scratch.path().join("pass");
    std::fs::write(&pass, PASS).unwrap();
    let env: Vec<(String, String)> = app
        .env
        .iter()
        .filter(|(k, _)| k != "DISPLAY")
        .cloned()
        .collect();
    let out = cli(&env, &pass, &["init", vault.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc = scratch.path().join("referral.txt");
    std::fs::write(&doc, "referral for Jane Roe").unwrap();
    let out = cli(
        &env,
        &pass,
        &[
            "--vault",
            vault.to_str().unwrap(),
            "add",
            doc.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The app is on the welcome screen (it started before the vault existed):
    // open the existing vault.
    app.wait_screen("welcome").await;
    app.click("#go-open").await;
    app.fill("#open-path", vault.to_str().unwrap()).await;
    app.click("#open-submit").await;
    unlock(&app, PASS).await;
    app.wait_screen("main").await;
    app.wait_js(
        "return document.querySelectorAll('#rows .tr').length === 1",
        10,
    )
    .await;
    app.js("document.querySelector('#rows .tr').dispatchEvent(new MouseEvent('dblclick', {bubbles: true})); return true").await;
    let marker = scratch.path().join("opened-by-viewer");
    let start = std::time::Instant::now();
    while !marker.exists() {
        assert!(start.elapsed().as_secs() < 20, "the viewer was started");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let opened = PathBuf::from(std::fs::read_to_string(&marker).unwrap().trim());
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
async fn recovery_phrase_sets_up_a_fresh_home() {
    // Computer A makes the vault with the command line and adds a file.
    let scratch_a = tempfile::tempdir().unwrap();
    let vault = scratch_a.path().join("Dropbox/Clinic");
    let pass = scratch_a.path().join("pass");
    std::fs::write(&pass, "passphrase of computer A").unwrap();
    let env_a = vec![
        ("HOME".to_string(), scratch_a.path().display().to_string()),
        (
            "XDG_DATA_HOME".to_string(),
            scratch_a.path().join("data").display().to_string(),
        ),
        (
            "CHARTSAFE_KEYCHAIN_SERVICE".to_string(),
            service("recover-a"),
        ),
        ("CHARTSAFE_KDF_LOG_N".to_string(), "10".to_string()),
    ];
    let out = cli(&env_a, &pass, &["init", vault.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let phrase = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let doc = scratch_a.path().join("insurance claim.txt");
    std::fs::write(&doc, "claim 7781").unwrap();
    assert!(cli(
        &env_a,
        &pass,
        &[
            "--vault",
            vault.to_str().unwrap(),
            "add",
            doc.to_str().unwrap()
        ]
    )
    .status
    .success());

    // Computer B: a fresh HOME and keychain, only the folder and the phrase.
    let scratch_b = tempfile::tempdir().unwrap();
    let app = App::start(Setup {
        scratch: scratch_b.path(),
        keychain: &service("recover-b"),
        idle_seconds: None,
        opener: None,
    })
    .await;
    app.wait_screen("welcome").await;
    app.click("#go-recover").await;
    app.wait_screen("recover").await;
    app.fill("#recover-path", vault.to_str().unwrap()).await;
    // One word wrong first: refused, nothing changes.
    let mut wrong: Vec<&str> = phrase.split(' ').collect();
    wrong.swap(0, 1);
    app.fill("#recover-words", &wrong.join(" ")).await;
    app.fill("#recover-pass", "a new passphrase for B").await;
    app.fill("#recover-pass2", "a new passphrase for B").await;
    app.click("#recover-submit").await;
    app.wait_js(
        "return !document.querySelector('#recover-form .form-error').hidden",
        20,
    )
    .await;
    app.fill("#recover-words", &phrase).await;
    app.screenshot("12-recover").await;
    app.click("#recover-submit").await;
    app.wait_screen("main").await;
    app.wait_js(
        "return document.querySelector('#rows .tr')?.dataset.path === 'insurance claim.txt'",
        20,
    )
    .await;
    // Later unlocks on B need only the new passphrase.
    app.click("#btn-lock").await;
    unlock(&app, "a new passphrase for B").await;
    app.wait_screen("main").await;
    app.quit().await;
}

#[tokio::test(flavor = "current_thread")]
async fn another_devices_changes_appear_by_themselves_and_screen_lock_locks() {
    let scratch = tempfile::tempdir().unwrap();
    let vault = scratch.path().join("home/Dropbox/Clinic");
    let app = App::start(Setup {
        scratch: scratch.path(),
        keychain: &service("live"),
        idle_seconds: None,
        opener: None,
    })
    .await;
    let pass = scratch.path().join("pass");
    std::fs::write(&pass, PASS).unwrap();
    let env: Vec<(String, String)> = app
        .env
        .iter()
        .filter(|(k, _)| k != "DISPLAY")
        .cloned()
        .collect();
    let v = vault.to_str().unwrap();
    let out = cli(&env, &pass, &["init", v]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let phrase = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let doc = scratch.path().join("cbc.txt");
    std::fs::write(&doc, "CBC normal").unwrap();
    assert!(cli(
        &env,
        &pass,
        &["--vault", v, "add", doc.to_str().unwrap(), "--to", "Labs"]
    )
    .status
    .success());

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
    app.wait_screen("welcome").await;
    app.click("#go-open").await;
    app.fill("#open-path", v).await;
    app.click("#open-submit").await;
    unlock(&app, PASS).await;
    app.wait_screen("main").await;
    app.wait_js(
        "return !!document.querySelector('#rows .tr[data-path=\"Labs\"]')",
        10,
    )
    .await;
    app.js("document.querySelector('#rows .tr[data-path=\"Labs\"]').dispatchEvent(new MouseEvent('dblclick', {bubbles: true})); return true").await;
    app.wait_js(
        "return !!document.querySelector('#rows .tr[data-path=\"Labs/cbc.txt\"]')",
        10,
    )
    .await;

    // B adds a result and the folders sync: it shows up in Labs by itself.
    let result = scratch.path().join("potassium.txt");
    std::fs::write(&result, "K 4.1").unwrap();
    let out = cli(
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
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    rsync(&b_folder, &vault);
    app.wait_js(
        "return !!document.querySelector('#rows .tr[data-path=\"Labs/potassium.txt\"]')",
        15,
    )
    .await;
    let by = app.js("return document.querySelector('#rows .tr[data-path=\"Labs/potassium.txt\"] .by').textContent").await;
    assert_eq!(by, json!("Exam room"));
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
