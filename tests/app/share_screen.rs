//! "Share…": one age file for someone without ChartSafe, made through the
//! window; the stock `age` command opens it with the passphrase the window
//! showed once, typed at its prompt (docs/FORMAT.md §15).

use std::path::Path;

use crate::harness::{App, Setup};
use crate::support::*;

/// Stock `age -d` under a pseudo-terminal, the passphrase typed at its prompt.
fn age_with_passphrase(file: &Path, out: &Path, passphrase: &str) {
    let status = std::process::Command::new("python3")
        .arg(crate::harness::root().join("tests/fixtures/age-with-passphrase.py"))
        .arg(file)
        .arg(out)
        .arg(passphrase)
        .status()
        .unwrap();
    assert!(status.success(), "age -d with the passphrase failed");
}

#[tokio::test(flavor = "current_thread")]
async fn a_file_shared_from_the_window_opens_in_stock_age_and_is_recorded() {
    let scratch = tempfile::tempdir().unwrap();
    let vault = scratch.path().join("home/Riverside Clinic");
    let share = scratch.path().join("Desktop/labs for Dr Lee.age");
    std::fs::create_dir_all(share.parent().unwrap()).unwrap();
    let keychain = service("share");
    let app = App::start(Setup {
        save_as: Some(&share),
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
    app.select_row(file).await;
    app.click("#act-share").await;
    app.wait_js("return !!document.getElementById('share-note')", 10)
        .await;
    // Without a note it asks for one, and stays.
    app.click("#dialog-actions .primary").await;
    app.wait_js("return !document.getElementById('share-error').hidden", 10)
        .await;
    app.fill("#share-note", "Dr Lee, Riverside Cardiology")
        .await;
    app.screenshot("30-share").await;
    app.click("#dialog-actions .primary").await;
    app.wait_js("return !!document.getElementById('share-passphrase')", 60)
        .await;
    let passphrase = app.text("#share-passphrase").await;
    assert_eq!(passphrase.split('-').count(), 6, "{passphrase}");
    let how = app.text("#share-how-to").await;
    assert!(
        how.contains("age -d -o \"Roe Jane - potassium.txt\" \"labs for Dr Lee.age\""),
        "{how}"
    );
    app.screenshot("31-share-passphrase").await;

    let opened = scratch.path().join("opened.txt");
    age_with_passphrase(&share, &opened, passphrase.trim());
    assert_eq!(
        std::fs::read_to_string(&opened).unwrap(),
        "potassium 4.1 for Jane Roe"
    );
    app.quit().await;

    // The command line sees the share, with for whom.
    let out = cli_ok(
        &env,
        &pass,
        &[
            "--vault",
            vault.to_str().unwrap(),
            "audit",
            "--action",
            "shared",
            "--format",
            "csv",
        ],
    );
    let csv = String::from_utf8(out.stdout).unwrap();
    assert!(
        csv.contains("Roe/Roe Jane - potassium.txt,ok,,\"to \"\"Dr Lee, Riverside Cardiology\"\" with a passphrase\""),
        "{csv}"
    );
}
