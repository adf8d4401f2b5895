//! What differs between Windows, macOS and Linux, behind one small API:
//! being told when the screen locks or the computer sleeps
//! ([`lock_signals`]), folders only this user can enter
//! ([`private_dir`]), and how this person writes dates ([`locale`]).
//!
//! This is the only crate of the workspace that calls the systems' own C
//! and Objective-C APIs (through `windows-sys`, `objc2` and `dbus`, the
//! crates Tauri and keyring build on), so its `unsafe` blocks are the only
//! ones in ChartSafe; each says why it is sound. Pure decisions (which
//! message locks, which access list a folder gets) are plain functions,
//! tested on every system.

pub mod locale;
pub mod lock_signals;
pub mod private_dir;

pub use lock_signals::Reason;
pub use private_dir::create_private_dir;
