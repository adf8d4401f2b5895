//! The team screen: invitations, join requests and the code check.

use crate::harness::{App, Setup};
use crate::support::*;

#[tokio::test(flavor = "current_thread")]
async fn an_admin_approves_a_new_persons_computer_after_checking_the_code() {
    let scratch = tempfile::tempdir().unwrap();
    let vault = scratch.path().join("home/Vault");
    let keychain = service("team");
    let app = App::start(Setup::new(scratch.path(), &keychain)).await;
    let pass = scratch.path().join("pass");
    std::fs::write(&pass, PASS).unwrap();
    let env = app.cli_env();
    vault_with_file(&env, &pass, &vault, ("intake.txt", "intake form", "Forms"));
    app.open_existing(vault.to_str().unwrap(), PASS).await;

    // The Team screen: one member, an administrator, on this computer.
    app.click("#team-button").await;
    app.wait_js(
        "const v = document.getElementById('team-view');
         return !v.hidden && v.dataset.state === 'ready'
             && document.querySelectorAll('#team-members li.member').length === 1",
        20,
    )
    .await;
    let me = app
        .js("return document.querySelector('#team-members li.member').textContent")
        .await;
    let me = me.as_str().unwrap().to_owned();
    assert!(
        me.contains("Administrator") && me.contains("this computer"),
        "{me}"
    );

    // Invite: the text is shown once, in a dialog.
    app.click("#team-invite").await;
    app.wait_js("return !!document.getElementById('team-invite-text')", 10)
        .await;
    let invite = app.text("#team-invite-text").await;
    assert_eq!(invite.trim().len(), 64, "{invite}");
    app.screenshot("20-team-invite").await;
    app.click("#dialog-actions button.primary").await;

    // The nurse's computer (its own keychain and state) asks to join.
    let nurse_pass = scratch.path().join("nurse-pass");
    std::fs::write(&nurse_pass, "nurse passphrase").unwrap();
    let nurse_env: Vec<(String, String)> = env
        .iter()
        .filter(|(k, _)| k != "CHARTSAFE_KEYCHAIN_SERVICE" && k != "CHARTSAFE_DEVICE_NAME")
        .cloned()
        .chain([
            (
                "CHARTSAFE_KEYCHAIN_SERVICE".to_owned(),
                service("team-nurse"),
            ),
            ("CHARTSAFE_DEVICE_NAME".to_owned(), "Ward PC".to_owned()),
            (
                "CHARTSAFE_STATE_DIR".to_owned(),
                scratch.path().join("nurse-state").display().to_string(),
            ),
        ])
        .collect();
    let v = vault.to_str().unwrap();
    let out = cli_ok(
        &nurse_env,
        &nurse_pass,
        &[
            "--vault",
            v,
            "--name",
            "Nurse Joy",
            "join",
            "--invite",
            invite.trim(),
        ],
    );
    let code = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert_eq!(
        cli(&nurse_env, &nurse_pass, &["--vault", v, "ls"])
            .status
            .code(),
        Some(7)
    );

    // The request appears (the screen reads afresh when opened again).
    app.click("#team-close").await;
    app.click("#team-button").await;
    app.wait_js(
        "return !!document.querySelector('#team-requests li.request')
             && document.getElementById('team-view').dataset.state === 'ready'",
        20,
    )
    .await;
    let req = app
        .js("return document.querySelector('#team-requests li.request').textContent")
        .await;
    let req = req.as_str().unwrap().to_owned();
    assert!(
        req.contains("Nurse Joy") && req.contains("Ward PC"),
        "{req}"
    );
    app.screenshot("21-team-request").await;

    // A wrong code: refused, said plainly, nothing approved.
    let wrong = if code == "0000 0000" {
        "1111 1111"
    } else {
        "0000 0000"
    };
    app.click("#team-requests li.request button.approve").await;
    app.wait_js("return !!document.getElementById('team-code')", 10)
        .await;
    app.fill("#team-code", wrong).await;
    app.click("#dialog-actions button.primary").await;
    app.wait_js(
        "return document.getElementById('dialog').open
             && document.getElementById('dialog-body').innerText.includes('does not match')",
        20,
    )
    .await;
    app.screenshot("22-team-wrong-code").await;
    app.click("#dialog-actions button.primary").await;
    app.wait_js(
        "return document.getElementById('team-view').dataset.state === 'ready'
             && document.querySelectorAll('#team-members li.member').length === 1
             && !!document.querySelector('#team-requests li.request')",
        20,
    )
    .await;

    // The right code, as read out: approved as staff.
    app.click("#team-requests li.request button.approve").await;
    app.wait_js("return !!document.getElementById('team-code')", 10)
        .await;
    app.fill("#team-code", &code).await;
    app.click("#dialog-actions button.primary").await;
    app.wait_js(
        "return document.getElementById('team-view').dataset.state === 'ready'
             && document.querySelectorAll('#team-members li.member').length === 2
             && document.getElementById('team-requests-box').hidden",
        20,
    )
    .await;
    let members = app
        .js("return document.getElementById('team-members').textContent")
        .await;
    let members = members.as_str().unwrap().to_owned();
    assert!(
        members.contains("Nurse Joy") && members.contains("Staff"),
        "{members}"
    );
    app.screenshot("23-team").await;

    // The nurse's computer now opens the vault and sees the file.
    let out = cli_ok(&nurse_env, &nurse_pass, &["--vault", v, "ls"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("intake.txt"));

    // The nurse leaves: removed from the Team screen, the key is replaced
    // and the files re-encrypted in the background, with progress shown;
    // her computer then reads nothing.
    app.click("#team-members li.member[data-removed='false'] button.remove")
        .await;
    app.wait_js(
        "return document.getElementById('dialog').open
             && document.getElementById('dialog-body').innerText.includes('new key')",
        10,
    )
    .await;
    app.click("#dialog-actions button.danger").await;
    app.wait_js(
        "return document.getElementById('team-view').dataset.state === 'ready'
             && document.getElementById('team-rekey-text').textContent.includes('Every file is under the new key')",
        60,
    )
    .await;
    let members = app
        .js("return document.getElementById('team-members').textContent")
        .await;
    assert!(members.as_str().unwrap().contains("Removed"), "{members:?}");
    app.screenshot("24-team-removed").await;
    let out = cli(&nurse_env, &nurse_pass, &["--vault", v, "ls"]);
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(!listing.contains("intake.txt"), "{listing}");

    // A collection, made from the Team screen: listed with who reads it,
    // and a folder of the vault.
    app.click("#team-new-collection").await;
    app.wait_js(
        "return !!document.getElementById('team-collection-name')",
        10,
    )
    .await;
    app.fill("#team-collection-name", "Billing").await;
    app.click("#dialog-actions button.primary").await;
    app.wait_js(
        "return document.getElementById('team-view').dataset.state === 'ready'
             && document.getElementById('team-collections').textContent.includes('Billing')",
        30,
    )
    .await;
    let text = app
        .js("return document.getElementById('team-collections').textContent")
        .await;
    assert!(
        text.as_str().unwrap().contains("Administrators"),
        "{text:?}"
    );
    app.screenshot("25-team-collections").await;
    app.quit().await;
}
