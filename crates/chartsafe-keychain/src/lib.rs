//! The OS keychain behind [`chartsafe_core::SecretStore`], through the
//! `keyring` crate: Secret Service on Linux, Keychain on macOS, Credential
//! Manager on Windows.
//!
//! ```no_run
//! use chartsafe_core::SecretStore;
//! let store = chartsafe_keychain::Keychain::new();
//! let secret = store.get("vault-abc")?;
//! # Ok::<(), chartsafe_core::SecretStoreError>(())
//! ```
//!
//! The real platform stores are enabled explicitly in Cargo.toml: with no
//! platform feature, `keyring` silently falls back to an in-memory mock that
//! forgets everything when the process ends.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

use chartsafe_core::{SecretStore, SecretStoreError};
use secrecy::{ExposeSecret, SecretString};

/// The keychain service name. Debug builds use their own, so a developer's
/// test vaults never touch the entries of an installed ChartSafe.
pub const SERVICE: &str = if cfg!(debug_assertions) {
    "chartsafe-dev"
} else {
    "chartsafe"
};

/// The OS keychain.
#[derive(Debug, Clone)]
pub struct Keychain {
    service: String,
}

impl Default for Keychain {
    fn default() -> Self {
        Self::new()
    }
}

impl Keychain {
    /// The keychain under the default service name.
    pub fn new() -> Self {
        Self::with_service(SERVICE)
    }

    /// The keychain under the default service name; in test builds
    /// (`test-knobs`) under `CHARTSAFE_KEYCHAIN_SERVICE` if set (tests give
    /// simulated devices separate keychains in one session).
    pub fn from_env() -> Self {
        #[cfg(feature = "test-knobs")]
        if let Ok(s) = std::env::var("CHARTSAFE_KEYCHAIN_SERVICE") {
            if !s.is_empty() {
                return Self::with_service(&s);
            }
        }
        Self::new()
    }

    /// The keychain under another service name (tests).
    pub fn with_service(service: &str) -> Self {
        Self {
            service: service.to_owned(),
        }
    }

    fn entry(&self, key: &str) -> Result<keyring::Entry, SecretStoreError> {
        keyring::Entry::new(&self.service, key).map_err(describe)
    }
}

/// Describes a keyring error without any secret (keyring errors carry none,
/// but the text is rebuilt here to be sure).
fn describe(e: keyring::Error) -> SecretStoreError {
    let text = match &e {
        keyring::Error::PlatformFailure(inner) => format!("platform failure: {inner}"),
        keyring::Error::NoStorageAccess(inner) => {
            format!("no access to the keychain (is it locked, or is no keychain service running?): {inner}")
        }
        keyring::Error::NoEntry => "no entry".to_owned(),
        keyring::Error::BadEncoding(_) => "the stored value is not valid text".to_owned(),
        keyring::Error::TooLong(what, max) => format!("{what} is longer than {max}"),
        keyring::Error::Invalid(what, why) => format!("{what} is invalid: {why}"),
        keyring::Error::Ambiguous(_) => "several keychain entries match".to_owned(),
        other => other.to_string(),
    };
    SecretStoreError(text)
}

/// Runs a keychain call, and up to three more times after a pause if the
/// platform failed (not when access was refused: that would prompt again):
/// gnome-keyring-daemon is known to abort
/// when a client disconnects at the wrong moment, and is then started again.
fn with_retry<T>(call: impl Fn() -> keyring::Result<T>) -> keyring::Result<T> {
    let mut result = call();
    for _ in 0..3 {
        match result {
            Err(keyring::Error::PlatformFailure(_)) => {
                std::thread::sleep(std::time::Duration::from_millis(400));
                result = call();
            }
            _ => break,
        }
    }
    result
}

impl SecretStore for Keychain {
    fn get(&self, key: &str) -> Result<Option<SecretString>, SecretStoreError> {
        let entry = self.entry(key)?;
        match with_retry(|| entry.get_password()) {
            Ok(p) => Ok(Some(SecretString::from(p))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(describe(e)),
        }
    }

    fn set(&self, key: &str, secret: &SecretString) -> Result<(), SecretStoreError> {
        let entry = self.entry(key)?;
        with_retry(|| entry.set_password(secret.expose_secret())).map_err(describe)
    }

    fn delete(&self, key: &str) -> Result<(), SecretStoreError> {
        match self.entry(key)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(describe(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    //! These tests use the real keychain: run them inside
    //! `scripts/with-keyring.sh` (make test does).
    use super::*;

    #[test]
    fn value_survives_a_new_entry_object_and_delete_is_idempotent() {
        let store = Keychain::with_service("chartsafe-keychain-test");
        let key = format!("test-{}", std::process::id());
        store
            .set(&key, &SecretString::from("s3cret".to_owned()))
            .unwrap();
        // A fresh Entry object: the mock backend would say NoEntry here.
        let again = Keychain::with_service("chartsafe-keychain-test");
        assert_eq!(again.get(&key).unwrap().unwrap().expose_secret(), "s3cret");
        again.delete(&key).unwrap();
        again.delete(&key).unwrap();
        assert!(again.get(&key).unwrap().is_none());
    }
}
