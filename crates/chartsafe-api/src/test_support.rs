//! What the use-case tests share: a real keychain and a new vault.

use std::path::Path;

use chartsafe_core::Vault;
use secrecy::SecretString;

/// The real OS keychain (the Secret Service that `make test` starts), in a
/// namespace of this test run's own.
pub(crate) fn keychain() -> chartsafe_keychain::Keychain {
    chartsafe_keychain::Keychain::with_service(&format!(
        "chartsafe-api-tests-{}",
        std::process::id()
    ))
}

/// A new vault in `dir/vault`, this computer's state in `dir/state`.
pub(crate) fn new_vault(dir: &Path) -> Vault {
    let mut options = chartsafe_core::Options::new(dir.join("state"), "desk");
    options.kdf_log_n = 4;
    let pass = SecretString::from("correct horse battery".to_owned());
    Vault::create(&dir.join("vault"), &keychain(), &pass, options)
        .unwrap()
        .0
}
