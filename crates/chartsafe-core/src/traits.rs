//! The seams through which the core reaches the outside world.
//!
//! The core never prints, prompts, reads the clock or touches the OS keychain
//! directly: callers (the CLI, the desktop app, tests) implement these traits.

use secrecy::SecretString;

/// Where a device keeps its half of the unlock secret (docs/THREAT_MODEL.md §3).
///
/// Implemented by `chartsafe-keychain` over the OS keychain; tests of the core
/// use an in-memory store. "No entry" is `Ok(None)`, and deleting an absent
/// entry succeeds.
pub trait SecretStore {
    /// Reads the secret stored under `key`.
    fn get(&self, key: &str) -> Result<Option<SecretString>, SecretStoreError>;
    /// Stores `secret` under `key`, replacing any previous value.
    fn set(&self, key: &str, secret: &SecretString) -> Result<(), SecretStoreError>;
    /// Removes the secret under `key`; succeeds when there is none.
    fn delete(&self, key: &str) -> Result<(), SecretStoreError>;
}

/// A failure of the secret store, described without any secret in it.
#[derive(Debug, thiserror::Error)]
#[error("the OS keychain failed: {0}")]
pub struct SecretStoreError(pub String);

/// The wall clock, as milliseconds since the Unix epoch (UTC).
pub trait Clock {
    /// The current time.
    fn now_ms(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }
}

/// Receives progress of long operations (adding or getting files).
///
/// Methods may be called from several worker threads at once.
pub trait Progress: Sync {
    /// The work is known: `files` files holding `bytes` bytes.
    fn begin(&self, files: u64, bytes: u64) {
        let _ = (files, bytes);
    }
    /// `bytes` more bytes were processed.
    fn advance(&self, bytes: u64) {
        let _ = bytes;
    }
    /// Work on the file `source` (of `size` bytes) started.
    fn file_started(&self, source: &std::path::Path, size: u64) {
        let _ = (source, size);
    }
    /// `done` bytes of the file `source` have been read so far.
    fn file_progress(&self, source: &std::path::Path, done: u64) {
        let _ = (source, done);
    }
    /// The file `source` is complete (stored, found unchanged, or failed).
    fn file_done(&self, source: &std::path::Path) {
        let _ = source;
    }
    /// The work has ended (successfully or not).
    fn end(&self) {}
    /// Whether the person asked to stop. Checked between files and between
    /// chunks of a file; work already finished is kept.
    fn cancelled(&self) -> bool {
        false
    }
}

/// A [`Progress`] that ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {}

/// The person stopped the work: what a reader or writer inside a long
/// operation returns once [`Progress::cancelled`] is true. Its kind is
/// `Other`, never `Interrupted`, which `read_to_end` and `write_all` retry
/// forever; callers tell a stop from a failure by asking the progress sink.
#[derive(Debug, thiserror::Error)]
#[error("stopped")]
pub(crate) struct Stopped;

impl From<Stopped> for std::io::Error {
    fn from(stopped: Stopped) -> Self {
        std::io::Error::other(stopped)
    }
}

#[cfg(test)]
pub(crate) mod memory {
    //! An in-memory [`SecretStore`] for the core's unit tests only.
    use super::*;
    use secrecy::ExposeSecret;
    use std::collections::HashMap;
    use std::sync::Mutex;

    #[derive(Default)]
    pub(crate) struct MemoryStore(Mutex<HashMap<String, String>>);

    impl SecretStore for MemoryStore {
        fn get(&self, key: &str) -> Result<Option<SecretString>, SecretStoreError> {
            Ok(self
                .0
                .lock()
                .unwrap()
                .get(key)
                .map(|s| SecretString::from(s.clone())))
        }
        fn set(&self, key: &str, secret: &SecretString) -> Result<(), SecretStoreError> {
            self.0
                .lock()
                .unwrap()
                .insert(key.to_owned(), secret.expose_secret().to_owned());
            Ok(())
        }
        fn delete(&self, key: &str) -> Result<(), SecretStoreError> {
            self.0.lock().unwrap().remove(key);
            Ok(())
        }
    }
}
