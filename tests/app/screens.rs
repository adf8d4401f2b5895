//! Every screen and state of the window, looked at: a newcomer's whole
//! path through the app at 1280x800 and at 1024x700, light and dark. Each
//! stop takes a screenshot (target/screenshots/screens/SIZE-THEME/), runs
//! axe-core in the window and walks it with the Tab key. No serious or
//! critical axe violation and no control that Tab cannot reach or that
//! shows no focus is allowed; the report of every stop is written beside
//! the screenshots (axe.txt). `make screenshots` copies the pictures to
//! docs/screenshots/.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::json;

use crate::a11y;
use crate::harness::{root, App, Setup};
use crate::support::*;

struct Walk<'a> {
    app: &'a App,
    dir: PathBuf,
    n: u32,
    report: String,
    problems: Vec<String>,
}

impl Walk<'_> {
    /// Looks at the screen as it is now: screenshot, axe, Tab.
    async fn stop(&mut self, name: &str) {
        self.n += 1;
        let file = format!("{:02}-{name}", self.n);
        self.app
            .screenshot_to(&self.dir.join(format!("{file}.png")))
            .await;
        let violations = a11y::axe(self.app).await;
        let (reached, missed) = a11y::tab_walk(self.app).await;
        let unfocused: Vec<&str> = reached
            .iter()
            .filter(|r| !r.visible_focus)
            .map(|r| r.name.as_str())
            .collect();
        let serious = violations.iter().filter(|v| v.serious()).count();
        let distinct: std::collections::BTreeSet<&str> =
            reached.iter().map(|r| r.name.as_str()).collect();
        let _ = writeln!(
            self.report,
            "{file}: {} axe violations ({serious} serious or critical); Tab reached {}, missed {}, no visible focus {}",
            violations.len(),
            distinct.len(),
            missed.len(),
            unfocused.len()
        );
        self.report.push_str(&a11y::describe(&violations));
        if !missed.is_empty() {
            let _ = writeln!(self.report, "    Tab missed: {missed:?}");
        }
        if serious > 0 {
            self.problems
                .push(format!("{file}: axe\n{}", a11y::describe(&violations)));
        }
        if !missed.is_empty() {
            self.problems
                .push(format!("{file}: Tab never reaches {missed:?}"));
        }
        if !unfocused.is_empty() {
            self.problems
                .push(format!("{file}: focus does not show on {unfocused:?}"));
        }
        // The walk leaves focus somewhere; put it back at the top.
        self.app
            .js("document.activeElement && document.activeElement.blur(); return true")
            .await;
    }
}

async fn walk_every_screen(size: (u32, u32), dark: bool) {
    let theme = if dark { "dark" } else { "light" };
    let scratch = tempfile::tempdir().unwrap();
    let vault = scratch.path().join("home/Dropbox/Riverside Clinic");
    std::fs::create_dir_all(vault.parent().unwrap()).unwrap();
    let keychain = service(&format!("screens-{}-{theme}", size.0));
    let app = App::start(Setup {
        dark,
        size: Some(size),
        ..Setup::new(scratch.path(), &keychain)
    })
    .await;
    let viewport = app
        .js("return [window.innerWidth, window.innerHeight]")
        .await;
    assert_eq!(viewport, json!([size.0, size.1]), "the window's size");
    let dir = root().join(format!(
        "target/screenshots/screens/{}x{}-{theme}",
        size.0, size.1
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let mut w = Walk {
        app: &app,
        dir: dir.clone(),
        n: 0,
        report: String::new(),
        problems: Vec::new(),
    };

    // First run, and the other ways in.
    app.wait_screen("welcome").await;
    w.stop("first-run").await;
    app.click("#go-open").await;
    app.wait_screen("open").await;
    w.stop("open-existing").await;
    app.click("#screen-open .back").await;
    app.click("#go-recover").await;
    app.wait_screen("recover").await;
    w.stop("recover").await;
    app.click("#screen-recover .back").await;

    // Create: a weak passphrase first, then a strong one.
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
    w.stop("create-weak-passphrase").await;
    app.fill("#create-pass", PASS).await;
    app.fill("#create-pass2", PASS).await;
    w.stop("create").await;
    app.click("#create-submit").await;
    app.wait_screen("phrase").await;
    let words: Vec<String> = serde_json::from_value(
        app.js("return [...document.querySelectorAll('#phrase-words li')].map(l => l.textContent)")
            .await,
    )
    .unwrap();
    w.stop("recovery-phrase").await;
    app.click("#phrase-next").await;
    app.wait_screen("confirm").await;
    for (i, word) in crate::pages::asked_words(&app, &words)
        .await
        .iter()
        .enumerate()
    {
        app.fill(&format!("#confirm-word-{i}"), word).await;
    }
    w.stop("confirm-words").await;
    app.click("#confirm-submit").await;
    app.wait_screen("main").await;
    app.wait_js("return !document.getElementById('empty').hidden", 10)
        .await;
    w.stop("main-empty").await;

    // Dragging files over the window.
    app.js("window.__TAURI__.event.emitTo('main', 'tauri://drag-enter', {paths: ['/x'], position: {x: 400, y: 300}}); return true").await;
    app.wait_js("return !document.getElementById('drop-overlay').hidden", 10)
        .await;
    w.stop("drag-over").await;
    app.js("window.__TAURI__.event.emitTo('main', 'tauri://drag-leave', {}); return true")
        .await;
    app.wait_js("return document.getElementById('drop-overlay').hidden", 10)
        .await;

    // A big import in progress (cancelled), then one with failures.
    let bulk = scratch.path().join("Scans of the week");
    std::fs::create_dir_all(&bulk).unwrap();
    let mut block = vec![7u8; 8 << 20];
    for i in 0..100u8 {
        block[0] = i;
        std::fs::write(bulk.join(format!("scan {i:02}.pdf")), &block).unwrap();
    }
    app.drop_files(std::slice::from_ref(&bulk)).await;
    app.wait_js("return document.getElementById('import-panel').dataset.state === 'running' && document.getElementById('import-total-text').textContent.includes('of 100 files')", 30).await;
    w.stop("import-progress").await;
    // It may have finished while the screen was looked at.
    app.js(
        "const b = document.getElementById('import-cancel'); if (!b.hidden) b.click(); return true",
    )
    .await;
    app.wait_js("return ['cancelled', 'done'].includes(document.getElementById('import-panel').dataset.state)", 60).await;
    app.click("#import-close").await;
    let src = patients(scratch.path());
    let mut dropped: Vec<PathBuf> = std::fs::read_dir(&src)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dropped.sort();
    dropped.push(scratch.path().join("vanished referral.pdf"));
    app.drop_files(&dropped).await;
    app.wait_js("return ['done', 'partial'].includes(document.getElementById('import-panel').dataset.state)", 60)
        .await;
    w.stop("import-summary-with-a-failure").await;
    app.click("#import-close").await;

    // The full list, a folder, a preview.
    app.wait_row("Okafor, Ada").await;
    w.stop("main-full").await;
    app.open_row("Okafor, Ada").await;
    app.select_row("Okafor, Ada/Visit note 2026-11-30.txt")
        .await;
    app.wait_js("return !!document.querySelector('#preview pre')", 20)
        .await;
    w.stop("preview").await;

    // A name already there: new version or keep both.
    let again = scratch.path().join("Visit note 2026-11-30.txt");
    std::fs::write(&again, "Okafor, Ada\nVisit note, corrected\n").unwrap();
    app.drop_files(std::slice::from_ref(&again)).await;
    app.wait_js("return document.getElementById('dialog').open", 10)
        .await;
    w.stop("name-clash").await;
    app.click("#dialog-actions button[value='version']").await;
    // The import before ended "partial": this one ends "done".
    app.wait_js(
        "return document.getElementById('import-panel').dataset.state === 'done'",
        60,
    )
    .await;
    app.click("#import-close").await;
    app.select_row("Okafor, Ada/Visit note 2026-11-30.txt")
        .await;
    app.click("#act-history").await;
    app.wait_js(
        "return document.getElementById('dialog').open && document.querySelectorAll('#dialog-body tr').length === 3",
        10,
    )
    .await;
    w.stop("versions").await;
    app.js("document.getElementById('dialog').close(); return true")
        .await;

    // Sharing, then the trash.
    app.select_row("Okafor, Ada/Chest X-ray report.pdf").await;
    app.click("#act-share").await;
    app.wait_js("return !!document.getElementById('share-note')", 10)
        .await;
    w.stop("share").await;
    app.js("document.getElementById('dialog').close(); return true")
        .await;
    app.select_row("Okafor, Ada/Consent form signed.pdf").await;
    app.click("#act-trash").await;
    app.wait_js("return document.getElementById('dialog').open", 10)
        .await;
    w.stop("move-to-trash").await;
    app.click("#dialog-actions button.primary").await;
    app.wait_js(
        "return !document.querySelector('#rows .tr[data-path=\"Okafor, Ada/Consent form signed.pdf\"]')",
        10,
    )
    .await;
    app.click("#btn-trash-view").await;
    app.wait_js(
        "return document.getElementById('dialog').open && !!document.querySelector('#dialog-body table')",
        10,
    )
    .await;
    w.stop("trash").await;
    app.js("document.getElementById('dialog').close(); return true")
        .await;

    // Search.
    app.fill("#search", "visit").await;
    app.wait_js(
        "return document.querySelectorAll('#rows .tr').length === 3",
        10,
    )
    .await;
    w.stop("search").await;
    app.js("const s = document.getElementById('search'); s.value = ''; s.dispatchEvent(new KeyboardEvent('keydown', {key: 'Escape'})); return true").await;

    // Activity, Check vault, Team, Settings.
    app.click("#activity-button").await;
    app.wait_js(
        "const v = document.getElementById('activity-view'); return !v.hidden && v.dataset.state === 'ready'",
        20,
    )
    .await;
    w.stop("activity").await;
    app.click("#activity-close").await;
    check_finds_nothing(&app).await;
    w.stop("check-vault").await;
    app.js("document.getElementById('dialog').close(); return true")
        .await;
    app.click("#team-button").await;
    app.wait_js(
        "const v = document.getElementById('team-view'); return !v.hidden && v.dataset.state === 'ready'",
        20,
    )
    .await;
    w.stop("team").await;
    app.click("#team-close").await;
    app.click("#btn-settings").await;
    app.wait_js("return !!document.getElementById('scan-dir')", 10)
        .await;
    w.stop("settings").await;
    app.js("document.getElementById('dialog').close(); return true")
        .await;

    // Lock, a wrong passphrase.
    app.click("#btn-lock").await;
    app.wait_screen("unlock").await;
    w.stop("locked").await;
    app.fill("#unlock-pass", "not the passphrase").await;
    app.click("#unlock-submit").await;
    app.wait_js(
        "return !document.querySelector('#unlock-form .form-error').hidden",
        20,
    )
    .await;
    w.stop("wrong-passphrase").await;
    let Walk {
        report, problems, ..
    } = w;
    app.quit().await;

    std::fs::write(dir.join("axe.txt"), &report).unwrap();
    eprintln!("{}x{} {theme}:\n{report}", size.0, size.1);
    if std::env::var_os("CHARTSAFE_UPDATE_SCREENSHOTS").is_some() {
        publish(&dir, &format!("{}x{}-{theme}", size.0, size.1));
    }
    assert!(
        problems.is_empty(),
        "accessibility problems:\n{}",
        problems.join("\n")
    );
}

/// A clinic's patient folders to drop.
fn patients(scratch: &Path) -> PathBuf {
    let src = scratch.join("Patients");
    for (name, files) in [
        (
            "Álvarez, José",
            &["CBC 2026-11-02.pdf", "Referral – cardiology.pdf"][..],
        ),
        (
            "Chen, Mei",
            &["Insurance claim 4471.pdf", "Lipid panel.pdf"][..],
        ),
        (
            "Okafor, Ada",
            &[
                "Chest X-ray report.pdf",
                "Consent form signed.pdf",
                "Visit note 2026-11-30.txt",
            ][..],
        ),
        ("Schmidt, Karl", &["Visit note 2026-10-12.txt"][..]),
    ] {
        let d = src.join(name);
        std::fs::create_dir_all(&d).unwrap();
        for f in files {
            let body = if f.ends_with(".txt") {
                format!("{name}\nVisit note\n\nS: Follow-up after lab results.\nO: BP 128/82, HR 72.\nA: Improving.\nP: Repeat labs in 3 months.\n")
            } else {
                format!("%PDF-1.4 {name} {f}\n").repeat(300)
            };
            std::fs::write(d.join(f), body).unwrap();
        }
    }
    std::fs::write(
        src.join("Visit note 2026-12-01 walk-in.txt"),
        "Walk-in visit note\n",
    )
    .unwrap();
    src
}

/// Copies the screenshots to docs/screenshots/screens/NAME/.
fn publish(from: &Path, name: &str) {
    let to = root().join("docs/screenshots/screens").join(name);
    let _ = std::fs::remove_dir_all(&to);
    std::fs::create_dir_all(&to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let file = p.file_name().unwrap().to_string_lossy().into_owned();
        std::fs::copy(&p, to.join(file)).unwrap();
    }
}

#[tokio::test(flavor = "current_thread")]
async fn every_screen_at_1280x800_light() {
    walk_every_screen((1280, 800), false).await;
}

#[tokio::test(flavor = "current_thread")]
async fn every_screen_at_1024x700_light() {
    walk_every_screen((1024, 700), false).await;
}

#[tokio::test(flavor = "current_thread")]
async fn every_screen_at_1280x800_dark() {
    walk_every_screen((1280, 800), true).await;
}

#[tokio::test(flavor = "current_thread")]
async fn every_screen_at_1024x700_dark() {
    walk_every_screen((1024, 700), true).await;
}
