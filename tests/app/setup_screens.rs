//! The first screens: creating a vault with its recovery phrase, unlocking,
//! a wrong passphrase, and recovering onto a fresh computer.

use serde_json::json;

use crate::harness::{App, Setup};
use crate::pages::{create_through_ui, unlock};
use crate::support::*;

#[tokio::test(flavor = "current_thread")]
async fn create_with_phrase_confirmation_lock_unlock_and_wrong_passphrase() {
    let scratch = tempfile::tempdir().unwrap();
    let vault = scratch.path().join("home/Dropbox/ChartSafe");
    std::fs::create_dir_all(vault.parent().unwrap()).unwrap();
    let app = App::start(Setup::new(scratch.path(), &service("create"))).await;
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

    // Settings: start at login writes this person's XDG autostart entry
    // (auto-launch puts it under ~/.config, whatever XDG_CONFIG_HOME says)
    // (and removes it again); the update switch is IT's here (the test
    // policy turns checks off), so it cannot be changed.
    let entry = scratch
        .path()
        .join("home/.config/autostart/ChartSafe.desktop");
    for on in [true, false] {
        app.click("#btn-settings").await;
        app.wait_js("return !!document.getElementById('settings-login')", 10)
            .await;
        assert_eq!(
            app.js("return document.getElementById('settings-updates').disabled")
                .await,
            serde_json::json!(true)
        );
        if on {
            app.screenshot("05b-settings").await;
        }
        app.click("#settings-login").await;
        app.click("#dialog-actions button.primary").await;
        let start = std::time::Instant::now();
        while entry.exists() != on {
            assert!(
                start.elapsed().as_secs() < 10,
                "autostart entry exists: {}",
                !on
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

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
    let phrase = vault_with_file(
        &env_a,
        &pass,
        &vault,
        ("insurance claim.txt", "claim 7781", ""),
    );

    // Computer B: a fresh HOME and keychain, only the folder and the phrase.
    let scratch_b = tempfile::tempdir().unwrap();
    let app = App::start(Setup::new(scratch_b.path(), &service("recover-b"))).await;
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
