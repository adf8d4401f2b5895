//! ChartSafe's use cases, written once for both shells.
//!
//! The `chartsafe` command and the desktop app are adapters: they parse
//! what the person typed or clicked, call a function here or a method of
//! [`chartsafe_core::Vault`], and render the result or the error's
//! [`chartsafe_core::ErrorKind`]. What both shells must decide the same
//! way lives here: where this computer keeps its state, what it is called,
//! whether this computer is set up for a vault before asking for a
//! passphrase, when to re-encrypt after a change of keys, how a file is
//! opened in another program and saved back, and how files leave the vault
//! for a folder on this computer. GitButler's
//! `but-api`, shared by its desktop app and its `but` command, is the model.
//!
//! ```no_run
//! use chartsafe_api::Setup;
//! # fn demo(store: &dyn chartsafe_core::SecretStore) -> Result<(), Box<dyn std::error::Error>> {
//! let setup = Setup::for_this_computer("chartsafe 0.1");
//! let dir = std::path::Path::new("/home/me/Dropbox/Clinic");
//! chartsafe_api::check_enrolled(dir, store)?; // before asking for a passphrase
//! let passphrase = secrecy::SecretString::from("correct horse battery".to_owned());
//! let mut vault = chartsafe_core::Vault::unlock(dir, store, &passphrase, setup.options())?;
//! if let Some(job) = chartsafe_api::rekey_if_due(&mut vault)? {
//!     let report = job.run(&chartsafe_core::NoProgress)?;
//!     vault.finish_rekey(&job, &report)?;
//! }
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs, unreachable_pub)]

mod audit;
mod edit;
mod export;
mod intake;
mod people;
mod rekey;
mod session;
mod setup;
mod share;
#[cfg(test)]
mod test_support;
mod time;

pub use audit::{
    entry_json, export_entries, export_entries_to_file, read_log, AuditError, ExportFormat,
    LogStyle, CSV_HEADER, CSV_HEADER_IDS,
};
pub use edit::{
    default_private_root, private_root, remove_leftovers, EditError, OpenFiles, SavedHook, APP_ID,
};
pub use export::{export, ExportError};
pub use intake::{Intake, IntakeError, Taken, SETTLE};
pub use people::People;
pub use rekey::rekey_if_due;
pub use session::{create, recover, NewVault, PhraseCheck, Recovered};
pub use setup::{check_enrolled, default_device_name, default_state_dir, Setup};
pub use share::{how_to_open, share_file_name};
pub use time::{count, TimeStyle};
