//! The team screen: invitations, join requests and the code check.

use crate::harness::{App, Setup};
use crate::pages::TeamScreen;
use crate::support::*;

#[tokio::test(flavor = "current_thread")]
async fn an_admin_approves_a_new_persons_computer_after_checking_the_code() {
    let scratch = tempfile::tempdir().unwrap();
    let vault = scratch.path().join("home/Dropbox/Riverside Clinic");
    let keychain = service("team");
    let app = App::start(Setup::new(scratch.path(), &keychain)).await;
    let pass = scratch.path().join("pass");
    std::fs::write(&pass, PASS).unwrap();
    let env = app.cli_env();
    vault_with_file(&env, &pass, &vault, ("intake.txt", "intake form", "Forms"));
    app.open_existing(vault.to_str().unwrap(), PASS).await;

    // The Team screen: one member, an administrator, on this computer.
    let team = TeamScreen::open(&app).await;
    assert_eq!(team.member_count().await, 1);
    let me = team.first_member().await;
    assert!(
        me.contains("Administrator") && me.contains("this computer"),
        "{me}"
    );

    // Invite: the text is shown once, in a dialog.
    let invite = team.invite(Some("20-team-invite")).await;
    assert_eq!(invite.len(), 64, "{invite}");

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
            &invite,
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
    let team = team.reopen().await;
    let req = team.first_request().await;
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
    team.approve_first_request(wrong).await;
    team.wait_dialog("does not match", 20).await;
    app.screenshot("22-team-wrong-code").await;
    app.click("#dialog-actions button.primary").await;
    team.wait_until(
        "document.querySelectorAll('#team-members li.member').length === 1
             && !!document.querySelector('#team-requests li.request')",
        20,
    )
    .await;

    // The right code, as read out: approved as staff.
    team.approve_first_request(&code).await;
    team.wait_until(
        "document.querySelectorAll('#team-members li.member').length === 2
             && document.getElementById('team-requests-box').hidden",
        20,
    )
    .await;
    let members = team.members().await;
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
    team.remove_first_member().await;
    team.wait_until(
        "document.getElementById('team-rekey-text').textContent.includes('Every file is under the new key')",
        60,
    )
    .await;
    let members = team.members().await;
    assert!(members.contains("Removed"), "{members}");
    app.screenshot("24-team-removed").await;
    let out = cli(&nurse_env, &nurse_pass, &["--vault", v, "ls"]);
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(!listing.contains("intake.txt"), "{listing}");

    // A collection, made from the Team screen: listed with who reads it,
    // and a folder of the vault.
    team.new_collection("Billing").await;
    team.wait_until(
        "document.getElementById('team-collections').textContent.includes('Billing')",
        30,
    )
    .await;
    let text = team.text("team-collections").await;
    assert!(text.contains("Administrators"), "{text}");
    app.screenshot("25-team-collections").await;
    app.quit().await;
}
