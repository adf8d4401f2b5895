//! Accessibility checks run inside the real window: axe-core (vendored in
//! tests/fixtures/axe-core, never shipped: the app serves ui/ only) and a
//! keyboard walk with real Tab presses.

use std::fmt::Write as _;
use std::time::Duration;

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use serde::Deserialize;
use serde_json::json;

use crate::harness::{root, App};

/// One axe rule broken on a screen.
#[derive(Debug, Deserialize)]
pub(crate) struct Violation {
    pub id: String,
    pub impact: Option<String>,
    pub nodes: u32,
    pub targets: Vec<String>,
    pub summary: String,
}

impl Violation {
    /// "serious" and "critical": what the issue allows none of.
    pub(crate) fn serious(&self) -> bool {
        matches!(self.impact.as_deref(), Some("serious" | "critical"))
    }
}

/// Runs axe-core on the page as it is now (WCAG 2.x A and AA rules and
/// axe's best practices).
pub(crate) async fn axe(app: &App) -> Vec<Violation> {
    let loaded = app.js("return !!window.axe").await;
    if loaded != json!(true) {
        let source =
            std::fs::read_to_string(root().join("tests/fixtures/axe-core/axe.min.js")).unwrap();
        app.client()
            .execute(&format!("{source}\n;return true;"), vec![])
            .await
            .expect("axe-core loads in the window");
    }
    let v = app
        .client()
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, {
               resultTypes: ['violations'],
               runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] },
             }).then((r) => done(r.violations.map((v) => ({
               id: v.id, impact: v.impact, nodes: v.nodes.length,
               targets: v.nodes.slice(0, 4).map((n) => n.target.join(' ')),
               summary: (v.nodes[0] && v.nodes[0].failureSummary || '').replace(/[ \\n]+/g, ' '),
             })))).catch((e) => done(String(e)));",
            vec![],
        )
        .await
        .expect("axe runs");
    serde_json::from_value(v.clone()).unwrap_or_else(|_| panic!("axe failed: {v}"))
}

/// A line per violation, for the report.
pub(crate) fn describe(violations: &[Violation]) -> String {
    let mut out = String::new();
    for v in violations {
        let _ = writeln!(
            out,
            "    {} ({}, {} nodes): {}\n      {}",
            v.id,
            v.impact.as_deref().unwrap_or("?"),
            v.nodes,
            v.targets.join(" | "),
            v.summary
        );
    }
    out
}

/// What Tab reached.
#[derive(Debug, Deserialize)]
pub(crate) struct Reached {
    pub name: String,
    pub visible_focus: bool,
}

/// Presses Tab enough times to go round the screen (or the open dialog),
/// recording each control that takes focus and whether its focus shows.
/// Returns the controls reached, and the ones that Tab never reached.
pub(crate) async fn tab_walk(app: &App) -> (Vec<Reached>, Vec<String>) {
    let tabbable = "const scope = document.getElementById('dialog').open
                       ? document.getElementById('dialog')
                       : document.querySelector('section.screen:not([hidden])') || document.body;
                     const name = (e) => e.id ? '#' + e.id
                       : `${e.tagName.toLowerCase()} \"${(e.getAttribute('aria-label') || e.textContent || e.value || '').trim().slice(0, 30)}\"`;
                     const shown = (e) => e.getClientRects().length > 0 && getComputedStyle(e).visibility !== 'hidden';
                     const list = [...scope.querySelectorAll('a[href], button, input, select, textarea, summary, [tabindex]')]
                       .filter((e) => !e.disabled && e.tabIndex >= 0 && shown(e) && !e.closest('[inert], [hidden]'))
                       .filter((e) => !(e.type === 'radio' && !e.checked && scope.querySelector(`input[type=radio][name=\"${e.name}\"]:checked`)));";
    let n = app
        .js(&format!(
            "{tabbable}
             window.__reached = [];
             // Sampled rather than heard: a date field's parts take focus
             // without a focusin event reaching the document.
             // Focus left by a click or by the page does not count: the
             // walk starts from nothing focused.
             clearInterval(window.__focusTimer);
             if (document.activeElement) document.activeElement.blur();
             let last = null;
             window.__focusTimer = setInterval(() => {{
               const t = document.activeElement;
               if (!t || t === last || t === document.body) return;
               last = t;
               const cs = getComputedStyle(t);
               const outline = cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) >= 1;
               window.__reached.push({{ name: name(t), visible_focus: outline || cs.boxShadow !== 'none' }});
             }}, 5);
             return list.length;"
        ))
        .await
        .as_u64()
        .unwrap();
    let mut keys = KeyActions::new("keyboard".into());
    // Twice round (a date field takes a Tab per part; leaving the page
    // and coming back takes a few).
    for _ in 0..(2 * n + 6) {
        keys = keys
            .then(KeyAction::Down { value: '\u{e004}' })
            .then(KeyAction::Up { value: '\u{e004}' })
            .pause(Duration::from_millis(25));
    }
    app.client()
        .perform_actions(keys)
        .await
        .expect("Tab presses");
    let reached: Vec<Reached> = serde_json::from_value(
        app.js("clearInterval(window.__focusTimer); return window.__reached")
            .await,
    )
    .unwrap();
    let missed: Vec<String> = serde_json::from_value(
        app.js(&format!(
            "{tabbable}
             const got = new Set(window.__reached.map((r) => r.name));
             return list.map(name).filter((x) => !got.has(x));"
        ))
        .await,
    )
    .unwrap();
    (reached, missed)
}
