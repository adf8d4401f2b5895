//! The installed package, driven in a clean Debian root: scripts/test-deb.sh
//! builds the .deb, installs it with apt into a fresh debootstrap root,
//! starts tauri-driver there (Xvfb, a private gnome-keyring) and runs these
//! tests with `--ignored`, one at a time, in the order it needs. The app
//! under test is /usr/bin/chartsafe-app as the package installed it, a
//! build without test knobs: the real passphrase KDF, the system opener.

use std::path::Path;

use crate::harness::App;
use crate::pages::create_through_ui;

fn port() -> u16 {
    std::env::var("CHARTSAFE_INSTALLED_DRIVER_PORT")
        .expect("run by scripts/test-deb.sh")
        .parse()
        .expect("a port")
}

/// Time to an interactive window, printed for the closing note.
#[tokio::test]
#[ignore = "run by scripts/test-deb.sh inside a clean Debian root"]
#[allow(clippy::print_stdout)] // the figure, read by the script
async fn installed_app_creates_a_vault() {
    let app = App::attach(port(), "/usr/bin/chartsafe-app").await;
    println!(
        "| installed app: interactive window after | {} ms |",
        app.startup.as_millis()
    );
    create_through_ui(&app, Path::new("/root/Dropbox/ChartSafe"), false).await;
    app.wait_screen("main").await;
    app.screenshot("installed-01-vault-created").await;
    app.quit().await;
}

/// The feed offers a newer version whose signature is not ours: the app
/// refuses it, says so, and keeps working.
#[tokio::test]
#[ignore = "run by scripts/test-deb.sh inside a clean Debian root"]
async fn installed_app_refuses_an_update_with_a_bad_signature() {
    let app = App::attach(port(), "/usr/bin/chartsafe-app").await;
    app.wait_screen("unlock").await;
    app.wait_js(
        "return document.getElementById('update-banner').dataset.state === 'offered'",
        60,
    )
    .await;
    app.click("#update-install").await;
    app.wait_js(
        "return document.getElementById('update-banner').dataset.state === 'refused'",
        120,
    )
    .await;
    let said = app.text("#update-text").await;
    assert!(
        said.contains("signature") && said.contains("keeps working"),
        "{said}"
    );
    app.screenshot("installed-02-update-refused").await;
    // This version still unlocks.
    app.fill("#unlock-pass", crate::support::PASS).await;
    app.click("#unlock-submit").await;
    app.wait_screen("main").await;
    app.quit().await;
}

/// The feed offers a newer version signed with our key: the app installs it
/// and restarts; the script then checks the installed version and process.
#[tokio::test]
#[ignore = "run by scripts/test-deb.sh inside a clean Debian root"]
async fn installed_app_installs_a_signed_update_and_restarts() {
    let app = App::attach(port(), "/usr/bin/chartsafe-app").await;
    app.wait_js(
        "return document.getElementById('update-banner').dataset.state === 'offered'",
        60,
    )
    .await;
    let offer = app.text("#update-text").await;
    assert!(offer.contains("0.1.1"), "{offer}");
    app.screenshot("installed-03-update-offered").await;
    app.click("#update-install").await;
    // The app locks, installs and restarts, which ends this session (the
    // script then checks the package's version and the new process). A
    // refusal shows in the banner instead.
    let start = std::time::Instant::now();
    while start.elapsed() < std::time::Duration::from_secs(120) {
        let script = "const b = document.getElementById('update-banner'); \
                      return [b.dataset.state, document.getElementById('update-text').textContent, \
                              document.getElementById('update-text').title];";
        match app.client.execute(script, vec![]).await {
            Err(_) => return, // the app went away: restarting
            Ok(v) if v[0] == "refused" => panic!("the update was not installed: {v}"),
            Ok(_) => tokio::time::sleep(std::time::Duration::from_millis(200)).await,
        }
    }
    panic!("the app neither restarted nor reported a failure");
}
