//! Page objects: what a person does on one screen, in the words of the
//! screen rather than of its selectors.

use std::path::Path;

use serde_json::json;

use crate::harness::App;
use crate::support::*;

/// Creates a vault through the first-run screens, confirming the phrase.
pub(crate) async fn create_through_ui(app: &App, vault: &Path, shots: bool) {
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
    // The message was about the short passphrase: typing a new one clears
    // it (it once stayed beside a strong passphrase).
    assert_eq!(
        app.js("return document.querySelector('#create-form .form-error').hidden")
            .await,
        json!(true)
    );
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
        // Copy reports what it did (the clipboard is cleared after a minute).
        app.click("#phrase-copy").await;
        app.wait_js(
            "return document.getElementById('phrase-copied').textContent !== ''",
            10,
        )
        .await;
        assert!(app.text("#phrase-copied").await.starts_with("Copied"));
    }
    app.click("#phrase-next").await;
    app.wait_screen("confirm").await;
    let asked = asked_words(app, &words).await;
    assert_eq!(asked.len(), 3);
    // A wrong word is refused.
    app.fill("#confirm-word-0", "wrong").await;
    app.fill("#confirm-word-1", &asked[1]).await;
    app.fill("#confirm-word-2", &asked[2]).await;
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
    app.fill("#confirm-word-0", &asked[0]).await;
    if shots {
        app.screenshot("04-confirm-words").await;
    }
    app.click("#confirm-submit").await;
    app.wait_screen("main").await;
}

/// On the confirm screen: the words it asks for, in its order, from the
/// 24 `words` shown before.
pub(crate) async fn asked_words(app: &App, words: &[String]) -> Vec<String> {
    let labels: Vec<String> = serde_json::from_value(
        app.js("return [...document.querySelectorAll('#confirm-fields label')].map(l => l.textContent)")
            .await,
    )
    .unwrap();
    labels
        .iter()
        .map(|l| {
            let at: usize = l
                .chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
                .parse()
                .unwrap();
            words[at - 1].clone()
        })
        .collect()
}

pub(crate) async fn unlock(app: &App, pass: &str) {
    app.wait_screen("unlock").await;
    app.fill("#unlock-pass", pass).await;
    app.click("#unlock-submit").await;
}

/// A JavaScript string literal of `text`.
fn js_str(text: &str) -> String {
    serde_json::to_string(text).unwrap()
}

/// The Team screen: members, join requests, collections.
pub(crate) struct TeamScreen<'a> {
    app: &'a App,
}

impl<'a> TeamScreen<'a> {
    /// Opens the screen from the main window and waits until it has read
    /// the team.
    pub(crate) async fn open(app: &'a App) -> TeamScreen<'a> {
        app.click("#team-button").await;
        let screen = TeamScreen { app };
        screen.wait_until("true", 20).await;
        screen
    }

    /// Closes and opens it again: it reads the team afresh.
    pub(crate) async fn reopen(self) -> TeamScreen<'a> {
        self.app.click("#team-close").await;
        TeamScreen::open(self.app).await
    }

    /// Waits until the screen is ready and `condition` (JavaScript) holds.
    pub(crate) async fn wait_until(&self, condition: &str, seconds: u64) {
        self.app
            .wait_js(
                &format!(
                    "const v = document.getElementById('team-view');
                     return !v.hidden && v.dataset.state === 'ready' && ({condition})"
                ),
                seconds,
            )
            .await;
    }

    /// How many members are listed, removed ones included.
    pub(crate) async fn member_count(&self) -> u64 {
        let n = self
            .app
            .js("return document.querySelectorAll('#team-members li.member').length")
            .await;
        n.as_u64().unwrap()
    }

    /// The text of the members list, or of its first member.
    pub(crate) async fn members(&self) -> String {
        self.text("team-members").await
    }

    pub(crate) async fn first_member(&self) -> String {
        let t = self
            .app
            .js("return document.querySelector('#team-members li.member').textContent")
            .await;
        t.as_str().unwrap().to_owned()
    }

    /// The text of the element with id `id`.
    pub(crate) async fn text(&self, id: &str) -> String {
        let t = self
            .app
            .js(&format!(
                "return document.getElementById({}).textContent",
                js_str(id)
            ))
            .await;
        t.as_str().unwrap().to_owned()
    }

    /// Makes an invitation; returns its text, shown once in a dialog, and
    /// closes the dialog (after `shot`, if given).
    pub(crate) async fn invite(&self, shot: Option<&str>) -> String {
        self.app.click("#team-invite").await;
        self.app
            .wait_js("return !!document.getElementById('team-invite-text')", 10)
            .await;
        let text = self.app.text("#team-invite-text").await;
        if let Some(name) = shot {
            self.app.screenshot(name).await;
        }
        self.app.click("#dialog-actions button.primary").await;
        text.trim().to_owned()
    }

    /// Waits for a join request; returns the text of the first.
    pub(crate) async fn first_request(&self) -> String {
        self.wait_until("!!document.querySelector('#team-requests li.request')", 20)
            .await;
        let t = self
            .app
            .js("return document.querySelector('#team-requests li.request').textContent")
            .await;
        t.as_str().unwrap().to_owned()
    }

    /// Approves the first request with `code`, as the person reads it out.
    pub(crate) async fn approve_first_request(&self, code: &str) {
        self.app
            .click("#team-requests li.request button.approve")
            .await;
        self.app
            .wait_js("return !!document.getElementById('team-code')", 10)
            .await;
        self.app.fill("#team-code", code).await;
        self.app.click("#dialog-actions button.primary").await;
    }

    /// Waits for a dialog saying `words`.
    pub(crate) async fn wait_dialog(&self, words: &str, seconds: u64) {
        self.app
            .wait_js(
                &format!(
                    "return document.getElementById('dialog').open
                         && document.getElementById('dialog-body').innerText.includes({})",
                    js_str(words)
                ),
                seconds,
            )
            .await;
    }

    /// Removes the first member not removed yet, confirming the warning.
    pub(crate) async fn remove_first_member(&self) {
        self.app
            .click("#team-members li.member[data-removed='false'] button.remove")
            .await;
        self.wait_dialog("new key", 10).await;
        self.app.click("#dialog-actions button.danger").await;
    }

    /// Makes a collection named `name`.
    pub(crate) async fn new_collection(&self, name: &str) {
        self.app.click("#team-new-collection").await;
        self.app
            .wait_js(
                "return !!document.getElementById('team-collection-name')",
                10,
            )
            .await;
        self.app.fill("#team-collection-name", name).await;
        self.app.click("#dialog-actions button.primary").await;
    }
}

/// The Activity view: the audit log as rows, newest first.
pub(crate) struct ActivityScreen<'a> {
    app: &'a App,
}

impl<'a> ActivityScreen<'a> {
    /// Opens the view from the main window; waits until it has read the
    /// log and `condition` (JavaScript, over `rows`, the rows shown) holds.
    pub(crate) async fn open(app: &'a App, condition: &str) -> ActivityScreen<'a> {
        app.click("#activity-button").await;
        let screen = ActivityScreen { app };
        screen.wait_rows(condition, 20).await;
        screen
    }

    /// "Who opened this?" on the selected file.
    pub(crate) async fn who_opened(app: &'a App, condition: &str) -> ActivityScreen<'a> {
        app.click("#who-opened").await;
        let screen = ActivityScreen { app };
        screen
            .wait_rows(
                &format!("!document.getElementById('activity-entry').hidden && ({condition})"),
                20,
            )
            .await;
        screen
    }

    /// Waits until the view is ready and `condition` holds over `rows`.
    pub(crate) async fn wait_rows(&self, condition: &str, seconds: u64) {
        self.app
            .wait_js(
                &format!(
                    "const v = document.getElementById('activity-view');
                     const rows = [...document.querySelectorAll('#activity-list .activity-row')];
                     return !v.hidden && v.dataset.state === 'ready' && ({condition})"
                ),
                seconds,
            )
            .await;
    }

    /// The text of the first (newest) row.
    pub(crate) async fn first_row(&self) -> String {
        let t = self
            .app
            .js("return document.querySelector('#activity-list .activity-row').innerText")
            .await;
        t.as_str().unwrap().to_owned()
    }

    /// How many rows are shown.
    pub(crate) async fn row_count(&self) -> u64 {
        let n = self
            .app
            .js("return document.querySelectorAll('#activity-list .activity-row').length")
            .await;
        n.as_u64().unwrap()
    }

    /// Types into the filter.
    pub(crate) async fn search(&self, text: &str) {
        self.app.fill("#activity-search", text).await;
    }

    /// The file the view is limited to ("Who opened this?").
    pub(crate) async fn entry_chip(&self) -> String {
        let t = self
            .app
            .js("return document.getElementById('activity-entry').textContent")
            .await;
        t.as_str().unwrap().to_owned()
    }

    /// Shows every entry again.
    pub(crate) async fn clear_entry(&self) {
        self.app.click("#activity-entry .chip-clear").await;
    }

    /// Exports the rows shown as CSV (the save dialog answers through the
    /// test hook).
    pub(crate) async fn export_csv(&self) {
        self.app.click("#activity-export").await;
    }

    /// Back to the files.
    pub(crate) async fn close(self) {
        self.app.click("#activity-close").await;
    }
}
