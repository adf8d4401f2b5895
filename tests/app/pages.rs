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
    let labels: Vec<String> = serde_json::from_value(
        app.js("return [...document.querySelectorAll('#confirm-fields label')].map(l => l.textContent)")
            .await,
    )
    .unwrap();
    assert_eq!(labels.len(), 3);
    let position = |l: &str| -> usize {
        l.chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse::<usize>()
            .unwrap()
            - 1
    };
    // A wrong word is refused.
    app.fill("#confirm-word-0", "wrong").await;
    app.fill("#confirm-word-1", &words[position(&labels[1])])
        .await;
    app.fill("#confirm-word-2", &words[position(&labels[2])])
        .await;
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
    app.fill("#confirm-word-0", &words[position(&labels[0])])
        .await;
    if shots {
        app.screenshot("04-confirm-words").await;
    }
    app.click("#confirm-submit").await;
    app.wait_screen("main").await;
}

pub(crate) async fn unlock(app: &App, pass: &str) {
    app.wait_screen("unlock").await;
    app.fill("#unlock-pass", pass).await;
    app.click("#unlock-submit").await;
}
