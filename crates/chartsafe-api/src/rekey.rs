//! Re-encrypting after a change of keys (docs/FORMAT.md §13.3): when both
//! shells start it.

use chartsafe_core::{RekeyError, RekeyJob, Vault};

/// The re-encryption this computer should run now, if any: after a removal,
/// a revocation, a rotation, or a new collection.
///
/// A rotation that a removal left owed (a crash between the two) is done
/// first; if it fails it is owed still, and the next call tries again
/// (`chartsafe rotate` reports why). Only an admin's computer re-encrypts,
/// and only while a pass to the current key is unfinished: otherwise
/// `Ok(None)`.
///
/// # Errors
///
/// [`RekeyError::KeyNotHere`] when a pass is due but the current key has
/// not synced to this computer yet.
pub fn rekey_if_due(vault: &mut Vault) -> Result<Option<RekeyJob>, RekeyError> {
    if !vault.is_admin() {
        return Ok(None);
    }
    if !vault.rotation_owed().is_empty() {
        let _ = vault.rotate_owed();
    }
    if !vault.rekey_status().due() {
        return Ok(None);
    }
    vault.rekey_job().map(Some)
}
