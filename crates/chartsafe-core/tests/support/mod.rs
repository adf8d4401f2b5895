//! What the measurements share: an in-memory keychain (they time the vault,
//! not the OS keychain) and options with a cheap passphrase KDF.

use std::collections::HashMap;
use std::sync::Mutex;

use chartsafe_core::{Options, SecretStore, SecretStoreError};
use secrecy::{ExposeSecret, SecretString};

/// An in-memory keychain.
#[derive(Default)]
pub struct Store(Mutex<HashMap<String, String>>);

impl SecretStore for Store {
    fn get(&self, key: &str) -> Result<Option<SecretString>, SecretStoreError> {
        Ok(self
            .0
            .lock()
            .unwrap()
            .get(key)
            .cloned()
            .map(SecretString::from))
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

/// Options for the device `name`, its state under `dir`, with a cheap KDF.
pub fn options(dir: &std::path::Path, name: &str) -> Options {
    let mut o = Options::new(dir.join(format!("state-{name}")), name);
    o.kdf_log_n = 10;
    o
}

/// The best (shortest) time of `n` runs of `f`, in seconds.
#[allow(dead_code)] // not every measurement uses it
pub fn best_of<T>(n: usize, mut f: impl FnMut() -> T) -> f64 {
    (0..n)
        .map(|_| {
            let t = std::time::Instant::now();
            let _ = f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

/// The passphrase every measured device uses.
pub fn pass() -> SecretString {
    SecretString::from("bench passphrase".to_owned())
}
