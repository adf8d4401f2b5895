//! The ChartSafe vault engine.
//!
//! A vault is a folder inside any cloud-synced folder that holds only
//! ciphertext and random identifiers (docs/FORMAT.md). This crate creates,
//! unlocks, reads and changes vaults. It never prints, prompts, reads the clock
//! or touches the OS keychain itself: callers implement [`SecretStore`],
//! [`Clock`] and [`Progress`].
//!
//! ```no_run
//! use chartsafe_core::{Options, Vault, NoProgress, SecretStore};
//! # fn demo(store: &dyn SecretStore) -> Result<(), Box<dyn std::error::Error>> {
//! let passphrase = secrecy::SecretString::from("correct horse battery".to_owned());
//! let options = Options::new("/home/me/.local/share/chartsafe", "front desk");
//! let (mut vault, phrase) = Vault::create("Dropbox/Clinic".as_ref(), store, &passphrase, options)?;
//! // Show `phrase.words()` to the person once; it is never stored.
//! vault.add(&["lab-results.pdf".into()], "", &NoProgress)?;
//! for entry in vault.list()?.entries {
//!     let _ = (entry.path, entry.size);
//! }
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs, unreachable_pub)]

// The format's building blocks are public only for the test vectors
// (FORMAT.md §9), the attack tests that forge what an insider could, the
// benchmarks and the fuzz targets: hidden from the documentation, not part
// of the API, and never used by the shells.
mod crypt;
mod errors;
mod failpoint;
#[doc(hidden)]
pub mod format;
mod fsutil;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
#[doc(hidden)]
pub mod ids;
#[doc(hidden)]
pub mod keys;
mod local;
pub mod names;
mod pool;
#[doc(hidden)]
pub mod sign;
#[doc(hidden)]
pub mod team;
mod traits;
mod tree;
mod vault;

pub use errors::*;
pub use format::audit::{Action, Event, Outcome};
pub use format::header::HeaderError;
pub use format::join::InviteError;
pub use format::record::{Kind, Status};
pub use format::team::Role;
pub use ids::{CollectionId, DeviceId, EntryId, MemberId, RequestId};
pub use keys::{AgeIdentity, PhraseError, RecoveryPhrase};
pub use traits::{Clock, NoProgress, Progress, SecretStore, SecretStoreError, SystemClock};
pub use vault::{
    keychain_key, public_info, Listing, Options, Problem, PublicInfo, RecoverAs, Vault,
    MIN_PASSPHRASE_CHARS,
};
pub use vault::{share_passphrase, ShareKey, SHARE_PASSPHRASE_WORDS, SHARE_SCRYPT_LOG_N};
pub use vault::{utc_time, PendingEvents};
pub use vault::{
    Access, AddFailure, AddOptions, AddReport, AuditChain, AuditEntry, AuditFilter, AuditLog,
    AuditProblem, ContentCheck, EntryInfo, GetManyReport, HealthProblem, HealthReport, OnExisting,
    PurgeReport, PurgeTarget, RepairReport, SyncState, TrashEntry, VerifyError, VersionInfo,
};
pub use vault::{CollectionInfo, RekeyJob, RekeyReport, RekeyStatus, Rotation};
pub use vault::{DeviceView, MemberView, RejectedEntry, TeamView, TeamViewError};
pub use vault::{Invitation, JoinRequestInfo, PendingJoin, Removal};

/// Calls the macro `$m` with the name of every public error type of this
/// crate (all of them [`Classify`]), so that a shell converts each one, a
/// new one included, without a list of its own.
///
/// ```
/// macro_rules! count {
///     ($($t:ident),* $(,)?) => { [$(stringify!($t)),*].len() };
/// }
/// assert!(chartsafe_core::for_each_error!(count) > 20);
/// ```
#[macro_export]
macro_rules! for_each_error {
    ($m:ident) => {
        $m! {
            AddError,
            AuditWriteError,
            CreateError,
            GetError,
            HeaderError,
            InviteError,
            JoinRequestError,
            ListError,
            MkdirError,
            MoveError,
            PathError,
            PhraseError,
            PurgeError,
            RecoverError,
            RekeyError,
            RemoveError,
            RestoreError,
            RevertError,
            SecretStoreError,
            StorageError,
            TeamActionError,
            TeamViewError,
            UnknownRole,
            UnlockError,
            VerifyError,
            VersionsError,
        }
    };
}
