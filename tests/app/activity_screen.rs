//! The activity screen: the audit log, its CSV export, and a diagnostic log
//! that names nothing.

use crate::harness::{App, Setup};
use crate::pages::ActivityScreen;
use crate::support::*;

#[tokio::test(flavor = "current_thread")]
async fn activity_shows_who_opened_a_file_exports_csv_and_the_diagnostic_log_names_nothing() {
    let scratch = tempfile::tempdir().unwrap();
    let vault = scratch.path().join("home/Dropbox/Riverside Clinic");
    let viewer = editor_script(scratch.path(), false);
    let csv = scratch.path().join("export/activity.csv");
    std::fs::create_dir_all(csv.parent().unwrap()).unwrap();
    let keychain = service("activity");
    let app = App::start(Setup {
        opener: Some(&viewer),
        save_as: Some(&csv),
        ..Setup::new(scratch.path(), &keychain)
    })
    .await;
    let pass = scratch.path().join("pass");
    std::fs::write(&pass, PASS).unwrap();
    let env = app.cli_env();
    let file = "Roe/Roe Jane - potassium.txt";
    vault_with_file(
        &env,
        &pass,
        &vault,
        (
            "Roe Jane - potassium.txt",
            "potassium 4.1 for Jane Roe",
            "Roe",
        ),
    );
    app.open_existing(vault.to_str().unwrap(), PASS).await;
    app.open_row("Roe").await;
    app.open_row(file).await;
    opened_by(&scratch.path().join("opened-by-viewer")).await;

    // The Activity view lists the access, newest first.
    let activity =
        ActivityScreen::open(&app, "rows.some(r => r.dataset.action === 'opened')").await;
    let first = activity.first_row().await;
    assert!(
        first.contains("Opened") && first.contains(file) && first.contains("Front desk"),
        "{first}"
    );
    // People by name, not by id.
    assert!(first.contains("Administrator"), "{first}");
    app.screenshot("16-activity").await;
    // Filter as you type.
    activity.search("potassium opened").await;
    activity
        .wait_rows(
            "rows.length === 1 && rows[0].dataset.action === 'opened'",
            10,
        )
        .await;
    activity.close().await;

    // "Who opened this?" on the file.
    app.select_row(file).await;
    let activity = ActivityScreen::who_opened(
        &app,
        "rows.length > 0
             && rows.every(r => ['opened', 'previewed', 'exported', 'saved_back'].includes(r.dataset.action))
             && rows.some(r => r.dataset.action === 'opened')",
    )
    .await;
    let chip = activity.entry_chip().await;
    assert!(chip.contains("Roe Jane - potassium.txt"), "{chip}");
    let shown = activity.row_count().await;
    app.screenshot("17-who-opened").await;

    // Export those rows as CSV (the save dialog answers through the test hook).
    activity.export_csv().await;
    let start = std::time::Instant::now();
    while !csv.exists() {
        assert!(start.elapsed().as_secs() < 20, "the CSV was written");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let text = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0].trim_end(),
        "time,member,computer,action,path,outcome,reason,detail,app,verified"
    );
    assert_eq!(lines.len() as u64 - 1, shown, "{text}");
    let opened: Vec<&&str> = lines.iter().filter(|l| l.contains(",opened,")).collect();
    assert_eq!(opened.len(), 1, "{text}");
    assert!(
        opened[0].contains(",Administrator,Front desk,opened,"),
        "{text}"
    );
    // ISO 8601 with the offset: 2026-12-07T18:31:05+01:00.
    let time = opened[0].split(',').next().unwrap();
    assert!(
        time.len() == 25 && time.as_bytes()[10] == b'T' && time[19..].starts_with(['+', '-']),
        "{time}"
    );
    assert!(opened[0].contains(&format!(",{file},ok,")), "{text}");
    assert!(opened[0].contains(",ChartSafe app "), "{text}");
    // The export itself is recorded.
    activity.clear_entry().await;
    activity
        .wait_rows("rows.some(r => r.dataset.action === 'audit_exported')", 20)
        .await;

    // Check vault: nothing wrong.
    check_finds_nothing(&app).await;
    app.screenshot("18-check-vault").await;
    app.js("document.querySelector('dialog[open] button.primary, dialog[open] .dialog-actions button')?.click(); return true").await;
    app.click("#btn-lock").await;
    app.wait_screen("unlock").await;
    app.quit().await;

    // The command line sees the same accesses and the app's lock.
    let out = cli_ok(
        &env,
        &pass,
        &[
            "--vault",
            vault.to_str().unwrap(),
            "audit",
            "--format",
            "csv",
        ],
    );
    let all = String::from_utf8(out.stdout).unwrap();
    for action in [",opened,", ",audit_exported,", ",checked,", ",locked,"] {
        assert!(all.contains(action), "{action} in {all}");
    }
    assert!(all.contains(",locked,,ok,,manual,"), "{all}");

    // The diagnostic log tells IT what happened, and nothing about whom.
    let log_file = scratch.path().join("data/chartsafe/logs/chartsafe-app.log");
    let log = std::fs::read_to_string(&log_file).expect("the app writes a diagnostic log");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&log_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the log is readable by its user only");
    }
    for expected in [
        "started",
        "command=\"open_file\"",
        "command=\"audit_log\"",
        "vault checked",
        "locked",
    ] {
        assert!(log.contains(expected), "{expected} in {log}");
    }
    for secret in [
        "Roe",
        "Jane",
        "potassium",
        "4.1 for",
        PASS,
        "AGE-SECRET-KEY",
        "Vault/",
    ] {
        assert!(
            !log.contains(secret),
            "the diagnostic log holds {secret:?}:\n{log}"
        );
    }
}
