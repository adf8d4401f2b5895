//! A newcomer's first run, counted and timed (issue 17): open the app on a
//! fresh computer, create a vault in the Dropbox folder it suggests,
//! confirm the recovery phrase, drop a first file, see it listed. Clicks
//! and keystrokes other than typing text are counted; the goal is at most
//! six. The time with the real passphrase KDF is a `make bench` figure.

use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, KeyAction, KeyActions};

use crate::harness::{App, Setup};
use crate::support::*;

const TAB: char = '\u{e004}';
const ENTER: char = '\u{e007}';

/// The person at the keyboard: what they do, counted.
struct Person<'a> {
    app: &'a App,
    actions: Vec<String>,
}

impl Person<'_> {
    async fn click(&mut self, css: &str) {
        self.actions.push(format!("click {css}"));
        self.app.click(css).await;
    }

    async fn press(&mut self, key: char, name: &str) {
        self.actions.push(format!("press {name}"));
        let keys = KeyActions::new("keyboard".into())
            .then(KeyAction::Down { value: key })
            .then(KeyAction::Up { value: key });
        self.app.client().perform_actions(keys).await.unwrap();
    }

    /// Types where the focus is (typing is not counted).
    async fn type_text(&self, text: &str) {
        let mut keys = KeyActions::new("keyboard".into());
        for c in text.chars() {
            keys = keys
                .then(KeyAction::Down { value: c })
                .then(KeyAction::Up { value: c });
        }
        self.app.client().perform_actions(keys).await.unwrap();
    }

    async fn focused(&self) -> String {
        self.app
            .js("return document.activeElement.id")
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

/// The first run; returns the actions taken and the wall-clock time from
/// launching the app to the file listed.
pub(crate) async fn first_run(real_kdf: bool) -> (Vec<String>, Duration) {
    let scratch = tempfile::tempdir().unwrap();
    let dropbox = scratch.path().join("home/Dropbox");
    std::fs::create_dir_all(&dropbox).unwrap();
    let file = scratch
        .path()
        .join("home/Desktop/Referral for Jane Roe.pdf");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, "%PDF-1.4 referral\n".repeat(5000)).unwrap();
    let app = App::start(Setup {
        real_kdf,
        ..Setup::new(scratch.path(), &service("first-run"))
    })
    .await;
    // From the launch (not from waiting for another test's window).
    let start = Instant::now();
    let mut me = Person {
        app: &app,
        actions: Vec::new(),
    };
    app.wait_screen("welcome").await;
    me.click("#go-create").await;
    app.wait_screen("create").await;
    // The Dropbox folder is chosen for them; the passphrase field has the focus.
    app.wait_js(
        "return document.activeElement.id === 'create-pass' && document.getElementById('create-path').value !== ''",
        10,
    )
    .await;
    let path = app
        .js("return document.getElementById('create-path').value")
        .await;
    assert!(
        path.as_str()
            .unwrap()
            .starts_with(dropbox.to_str().unwrap()),
        "{path}"
    );
    me.type_text(PASS).await;
    me.press(TAB, "Tab").await;
    assert_eq!(me.focused().await, "create-pass2");
    me.type_text(PASS).await;
    me.press(ENTER, "Enter").await;
    app.wait_screen("phrase").await;
    let words: Vec<String> = serde_json::from_value(
        app.js("return [...document.querySelectorAll('#phrase-words li')].map(l => l.textContent)")
            .await,
    )
    .unwrap();
    me.click("#phrase-next").await;
    app.wait_screen("confirm").await;
    assert_eq!(me.focused().await, "confirm-word-0");
    let asked = crate::pages::asked_words(&app, &words).await;
    // As read off the sheet: a space moves on to the next field.
    me.type_text(&asked.join(" ")).await;
    me.press(ENTER, "Enter").await;
    app.wait_screen("main").await;
    me.actions.push("drop the file".into());
    app.drop_files(std::slice::from_ref(&file)).await;
    app.wait_row("Referral for Jane Roe.pdf").await;
    let took = app.startup + start.elapsed();
    let Person { actions, .. } = me;
    app.quit().await;
    (actions, took)
}

#[tokio::test(flavor = "current_thread")]
async fn a_newcomer_lists_a_first_file_in_six_actions() {
    let (actions, took) = first_run(false).await;
    eprintln!(
        "first run: {} actions ({}), {:.1} s with the test KDF",
        actions.len(),
        actions.join(", "),
        took.as_secs_f64()
    );
    assert!(actions.len() <= 6, "{actions:?}");
}

/// `make bench`: the first run with the real KDF, against the goal.
#[tokio::test(flavor = "current_thread")]
#[ignore]
#[allow(clippy::print_stdout)]
async fn measure_first_run() {
    let (actions, took) = first_run(true).await;
    println!(
        "| First run (real KDF): launch, create in Dropbox, confirm, drop, listed | {} actions | {:.1} s | goal <= 6 actions, < 60 s | {:.1}x under the time goal |",
        actions.len(),
        took.as_secs_f64(),
        60.0 / took.as_secs_f64()
    );
}
