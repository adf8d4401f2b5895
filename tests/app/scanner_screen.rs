//! Settings → "Watch a folder": the scanner folder in the window
//! (docs/FORMAT.md §16). Files the scanner saves are taken while the vault
//! is unlocked, never while it is locked; a file that cannot be taken stays
//! with a notice; the setting survives a restart of the app.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::harness::{App, Setup};
use crate::support::*;

fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Waits until `dir` holds exactly `want`.
fn wait_for_names(dir: &Path, want: &[&str], seconds: u64) {
    let start = Instant::now();
    loop {
        let now = names_in(dir);
        if now == want {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(seconds),
            "the scanner folder holds {now:?}, expected {want:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[tokio::test(flavor = "current_thread")]
async fn scanned_files_are_taken_while_unlocked_and_a_refused_one_stays_with_a_notice() {
    let scratch = tempfile::tempdir().unwrap();
    let vault = scratch.path().join("home/Dropbox/Riverside Clinic");
    let scans = scratch.path().join("home/Scans");
    std::fs::create_dir_all(&scans).unwrap();
    let keychain = service("scanner");
    let pass = scratch.path().join("pass");
    std::fs::write(&pass, PASS).unwrap();
    let app = App::start(Setup::new(scratch.path(), &keychain)).await;
    let env = app.cli_env();
    vault_with_file(
        &env,
        &pass,
        &vault,
        ("Roe Jane - labs.txt", "labs of Jane Roe", "Roe"),
    );
    app.open_existing(vault.to_str().unwrap(), PASS).await;

    // The vault folder itself is refused, with the reason, and nothing is saved.
    app.click("#btn-settings").await;
    app.wait_js("return !!document.getElementById('scan-dir')", 10)
        .await;
    app.fill("#scan-dir", vault.to_str().unwrap()).await;
    app.click("#dialog-actions .primary").await;
    app.wait_js(
        "return document.getElementById('dialog-title').textContent === 'The scanner folder was not changed'",
        10,
    )
    .await;
    let why = app.text("#dialog-body").await;
    assert!(why.contains("inside"), "{why}");
    app.click("#dialog-actions .primary").await;

    // Watch the scanner's folder, into "Scans".
    app.click("#btn-settings").await;
    app.wait_js("return !!document.getElementById('scan-dir')", 10)
        .await;
    let idle = app.text("#scan-state").await;
    assert_eq!(idle, "No folder is watched.");
    app.fill("#scan-dir", scans.to_str().unwrap()).await;
    app.fill("#scan-to", "Scans").await;
    app.screenshot("40-settings-scanner").await;
    app.click("#dialog-actions .primary").await;

    std::fs::write(scans.join("scan 0001.pdf"), b"%PDF referral for Jane Roe").unwrap();
    std::fs::write(scans.join("scan 0002.pdf"), b"%PDF labs for John Doe").unwrap();
    std::fs::write(scans.join("fax.pdf.part"), b"%PDF half a fax").unwrap();
    std::fs::write(
        scans.join("bad\u{1}name.pdf"),
        b"%PDF a name the vault refuses",
    )
    .unwrap();
    wait_for_names(&scans, &["bad\u{1}name.pdf", "fax.pdf.part"], 30);
    app.wait_row("Scans").await;
    app.wait_js("return !document.getElementById('scan-notice').hidden", 10)
        .await;
    // Read in one go (a later round may redraw the notice).
    let notice = app
        .js("return document.getElementById('scan-notice').textContent")
        .await;
    let notice = notice.as_str().unwrap().to_owned();
    assert!(notice.contains("left where it is"), "{notice}");
    assert!(notice.contains("name"), "{notice}");
    app.screenshot("41-scanner-notice").await;
    app.open_row("Scans").await;
    app.wait_row("Scans/scan 0001.pdf").await;
    app.wait_row("Scans/scan 0002.pdf").await;

    // Settings tells what the watch has done.
    app.click("#btn-settings").await;
    // (The closed dialog still holds the last Settings shown: wait for
    // the new one's words.)
    app.wait_js(
        "const e = document.getElementById('scan-state');
         return document.getElementById('dialog').open && !!e && e.textContent.startsWith('Watching.')",
        10,
    )
    .await;
    let state = app
        .js("return document.getElementById('scan-state').textContent")
        .await;
    let state = state.as_str().unwrap();
    assert!(
        state.starts_with("Watching. 2 files taken since the vault was unlocked; 1 left"),
        "{state}"
    );
    app.click("#dialog-actions .secondary").await;

    // Locked, nothing is taken (the keys are gone); the next unlock takes it.
    app.click("#btn-lock").await;
    app.wait_screen("unlock").await;
    std::fs::write(scans.join("scan 0003.pdf"), b"%PDF scanned while locked").unwrap();
    // Longer than the settle time (2 s) and a round of listing.
    std::thread::sleep(Duration::from_secs(4));
    assert!(scans.join("scan 0003.pdf").exists(), "taken while locked");
    app.fill("#unlock-pass", PASS).await;
    app.click("#unlock-submit").await;
    app.wait_screen("main").await;
    wait_for_names(&scans, &["bad\u{1}name.pdf", "fax.pdf.part"], 30);
    app.quit().await;

    // The setting survives a restart of the app.
    let app = App::start(Setup::new(scratch.path(), &keychain)).await;
    app.wait_screen("unlock").await;
    app.fill("#unlock-pass", PASS).await;
    app.click("#unlock-submit").await;
    app.wait_screen("main").await;
    std::fs::write(scans.join("scan 0004.pdf"), b"%PDF after a restart").unwrap();
    wait_for_names(&scans, &["bad\u{1}name.pdf", "fax.pdf.part"], 30);
    app.quit().await;

    // Every take is in the audit log, the refused name too.
    let out = cli_ok(
        &env,
        &pass,
        &[
            "--vault",
            vault.to_str().unwrap(),
            "audit",
            "--action",
            "scanned",
            "--format",
            "json",
        ],
    );
    let rows: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ok: Vec<&str> = rows
        .iter()
        .filter(|r| r["outcome"] == "ok")
        .map(|r| r["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        ok,
        [
            "Scans/scan 0001.pdf",
            "Scans/scan 0002.pdf",
            "Scans/scan 0003.pdf",
            "Scans/scan 0004.pdf"
        ],
        "{rows:?}"
    );
    assert!(rows.iter().any(|r| r["outcome"] == "failed"), "{rows:?}");
    let got = cli_ok(
        &env,
        &pass,
        &[
            "--vault",
            vault.to_str().unwrap(),
            "get",
            "Scans/scan 0003.pdf",
            "-o",
            "-",
        ],
    );
    assert_eq!(got.stdout, b"%PDF scanned while locked");
}
