//! End-to-end tests of the desktop app through its real window (Xvfb,
//! tauri-driver, WebKitWebDriver) with the real keychain, one module per
//! screen.
//!
//! Screenshots of each screen go to target/screenshots/.

mod a11y;
mod activity_screen;
mod files_screen;
mod first_run;
mod harness;
mod installed;
mod pages;
mod scanner_screen;
mod screens;
mod setup_screens;
mod share_screen;
mod support;
mod team_screen;
mod tour;
