//! Error types, one enum per public operation (docs/FORMAT.md for the terms).
//!
//! Messages name the file or vault path concerned, say what to do next
//! without naming a command of either shell, and never hold key material.
//! Vault-folder files are named by their relative path, made only of random
//! identifiers; vault paths (which can be patient names) appear only in errors
//! returned to the unlocked user, never in the vault folder (docs/THREAT_MODEL.md §6).
//!
//! Every error says what kind of failure it is through [`Classify`]: the
//! shells turn an [`ErrorKind`] into an exit code or a sentence with an
//! exhaustive `match`, so a new kind does not compile until both decide.

use std::fmt;
use std::io;
use std::path::PathBuf;

use crate::format::header::HeaderError;
use crate::names::NameError;
use crate::traits::SecretStoreError;

/// What kind of failure an error is, as [`std::io::ErrorKind`] is for I/O.
///
/// Deliberately exhaustive: a shell matches on every kind, so adding one is
/// a decision each shell must make.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The passphrase does not open this computer's key.
    WrongPassphrase,
    /// The recovery phrase is malformed or belongs to another vault.
    WrongPhrase,
    /// A verification code or invitation does not match.
    WrongCode,
    /// This computer has no usable key for the vault: it must be set up
    /// with the recovery phrase, an identity file, or an invitation.
    NotEnrolled,
    /// This computer asked to join and has not been approved yet.
    AwaitingApproval,
    /// The folder is not a vault, or not the vault expected.
    NotAVault,
    /// The vault was written by a newer ChartSafe.
    NewerFormat,
    /// A new vault's folder already holds files.
    NotEmpty,
    /// The passphrase is too short.
    WeakPassphrase,
    /// Another ChartSafe process is using the vault on this computer.
    Busy,
    /// Nothing is at that path, version, member or request.
    NotFound,
    /// The name is taken, or the thing is already done.
    AlreadyExists,
    /// A name matches more than one member or device.
    Ambiguous,
    /// A name or a source file cannot be used.
    InvalidName,
    /// A source file changed or vanished while it was read.
    SourceChanged,
    /// Content written elsewhere has not synced to this computer yet.
    WaitingForSync,
    /// A file in the vault folder is damaged, replaced, planted or missing.
    Damaged,
    /// The team log does not allow this device or member to do it.
    Refused,
    /// There is nothing to do.
    NothingToDo,
    /// The disk is full.
    DiskFull,
    /// The folder may not be written (permissions, read-only file system).
    ReadOnly,
    /// Another file-system failure.
    Storage,
    /// The audit log could not be written, so nothing was done.
    AuditLog,
    /// The OS keychain failed.
    Keychain,
    /// The person stopped the operation.
    Cancelled,
}

impl ErrorKind {
    /// The kind of a file-system failure: a full disk, a folder that may
    /// not be written, or another storage failure.
    pub fn of_io(e: &io::Error) -> Self {
        if is_full(e) {
            Self::DiskFull
        } else if is_read_only(e) {
            Self::ReadOnly
        } else {
            Self::Storage
        }
    }
}

/// An error that knows what kind of failure it is.
pub trait Classify: std::error::Error {
    /// The kind of failure.
    fn kind(&self) -> ErrorKind;
}

/// A file-system failure while reading or writing a file.
#[derive(Debug, thiserror::Error)]
#[error("{action} {}: {cause}", printable(file))]
pub struct StorageError {
    action: &'static str,
    file: PathBuf,
    #[source]
    cause: StorageCause,
}

/// Why a file could not be read or written.
#[derive(Debug)]
#[non_exhaustive]
pub enum StorageCause {
    /// The operating system refused.
    Io(io::Error),
    /// A folder holds far more names than ChartSafe writes: files were
    /// planted in it to slow every reader down (docs/THREAT_MODEL.md §4).
    TooManyNames(usize),
    /// Every position this device could write next is taken by files it did
    /// not write (docs/FORMAT.md §6.2).
    PositionsTaken,
}

impl fmt::Display for StorageCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) if is_full(e) => f.write_str("the disk is full"),
            Self::Io(e) if is_read_only_fs(e) => f.write_str("the file system is read-only"),
            Self::Io(e) => e.fmt(f),
            Self::TooManyNames(max) => write!(
                f,
                "this folder holds more than {max} names, far more than ChartSafe writes: \
                 files were planted in it to slow every reader down; move them away"
            ),
            Self::PositionsTaken => f.write_str(
                "a thousand positions of this device's chain are taken by files it did not write",
            ),
        }
    }
}

impl std::error::Error for StorageCause {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io(e) => Some(e),
            _ => None,
        }
    }
}

fn is_full(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::StorageFull || e.raw_os_error() == Some(28)
}

fn is_read_only_fs(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::ReadOnlyFilesystem || e.raw_os_error() == Some(30)
}

/// Read-only in the person's sense: the file system, or the folder's
/// permissions.
fn is_read_only(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::PermissionDenied || is_read_only_fs(e)
}

impl StorageError {
    pub(crate) fn read(file: impl Into<PathBuf>, source: io::Error) -> Self {
        Self {
            action: "could not read",
            file: file.into(),
            cause: StorageCause::Io(source),
        }
    }
    pub(crate) fn write(file: impl Into<PathBuf>, source: io::Error) -> Self {
        Self {
            action: "could not write",
            file: file.into(),
            cause: StorageCause::Io(source),
        }
    }
    pub(crate) fn planted(file: impl Into<PathBuf>, cause: StorageCause) -> Self {
        Self {
            action: "could not use",
            file: file.into(),
            cause,
        }
    }
    /// The file or folder concerned.
    pub fn file(&self) -> &std::path::Path {
        &self.file
    }
    /// Why it failed.
    pub fn cause(&self) -> &StorageCause {
        &self.cause
    }
    /// Whether the file was already there (a name taken by another writer).
    pub(crate) fn already_exists(&self) -> bool {
        matches!(&self.cause, StorageCause::Io(e) if e.kind() == io::ErrorKind::AlreadyExists)
    }
    /// Whether the disk is full.
    pub fn is_disk_full(&self) -> bool {
        matches!(&self.cause, StorageCause::Io(e) if is_full(e))
    }
}

impl Classify for StorageError {
    fn kind(&self) -> ErrorKind {
        match &self.cause {
            StorageCause::Io(e) => ErrorKind::of_io(e),
            StorageCause::TooManyNames(_) | StorageCause::PositionsTaken => ErrorKind::Damaged,
        }
    }
}

/// A path safe to print: control characters (which a planted file name in the
/// vault folder could hold) are escaped.
fn printable(path: &std::path::Path) -> String {
    crate::names::printable(&path.to_string_lossy())
}

/// A vault path that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PathError {
    /// A name in the path is not allowed.
    #[error("\"{}\": {reason}", shorten(path))]
    InvalidName {
        /// The path as given (shortened in the message).
        path: String,
        /// Why.
        reason: NameError,
    },
    /// Nothing is at that path.
    #[error("\"{path}\" is not in the vault")]
    NotFound {
        /// The path.
        path: String,
    },
    /// A folder was expected.
    #[error("\"{path}\" is not a folder")]
    NotAFolder {
        /// The path.
        path: String,
    },
    /// A file was expected.
    #[error("\"{path}\" is a folder, not a file")]
    NotAFile {
        /// The path.
        path: String,
    },
    /// The path is taken.
    #[error("\"{path}\" already exists in the vault")]
    AlreadyExists {
        /// The path.
        path: String,
    },
    /// A folder cannot move into itself.
    #[error("\"{path}\" cannot be moved into itself")]
    IntoItself {
        /// The path.
        path: String,
    },
}

/// Shortens a path for a message: long names are cut and control characters escaped.
pub(crate) fn shorten(path: &str) -> String {
    let escaped: String = path.chars().flat_map(char::escape_debug).collect();
    if escaped.chars().count() > 80 {
        let head: String = escaped.chars().take(60).collect();
        format!("{head}… ({} characters)", path.chars().count())
    } else {
        escaped
    }
}

impl PathError {
    pub(crate) fn invalid(path: &str, reason: NameError) -> Self {
        Self::InvalidName {
            path: path.to_owned(),
            reason,
        }
    }
}

/// The audit log could not be written, so the action was not done
/// (docs/FORMAT.md §10.4): nothing is read or changed without its record.
#[derive(Debug, thiserror::Error)]
#[error("the audit log could not be written, so this was not done: {0}")]
pub struct AuditWriteError(#[source] pub StorageError);

impl AuditWriteError {
    /// Whether the disk is full.
    pub fn is_disk_full(&self) -> bool {
        self.0.is_disk_full()
    }
}

/// This device may not change the vault (docs/FORMAT.md §11.6): nothing was
/// done.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriteRefused {
    /// The session has no signing key: opened with an identity file, or the
    /// device enrolled before the team log.
    #[error("this session cannot sign changes (opened with an identity file, or enrolled before the team log); set this computer up again with the recovery phrase to make changes")]
    NoSigningKey,
    /// The team log is missing or has not synced, so nobody could check the
    /// change.
    #[error("the vault's team log (t/) is missing or not synced yet, so changes cannot be signed and checked; wait for sync, or restore t/ in the vault folder")]
    NoTeam,
    /// The team log is there, but this device's keys no longer open it:
    /// it was removed and the key replaced (FORMAT.md §13), or its new
    /// keyslot has not synced yet.
    #[error("this computer's keys no longer open the vault's team log (t/): it was removed from the team and the vault's key replaced, or the new key has not synced to it yet")]
    KeysReplaced,
    /// The team log lacks a key change this device saw.
    #[error("the vault's team log (t/) is older than what this computer saw: a key change is missing (rolled back by someone with access to the folder, or not synced back yet). Nothing is changed until it is back: wait for sync, or restore t/ from a backup")]
    KeysRolledBack,
    /// The change would move an entry between collections (or put one
    /// collection's file in another's folder).
    #[error("files cannot move between collections: each collection has its own key and its own members. Export the file and add it to the other collection instead")]
    OtherCollection,
    /// The member may not change this collection.
    #[error("you may not change files in this collection (ask an admin for write access)")]
    NoCollectionAccess,
    /// This device is not an active member's device.
    #[error("this device is not an active member's device in the team log (removed, or its approval has not synced yet)")]
    NotMember,
    /// The member's role does not allow changes.
    #[error("your role ({0}) does not allow changes")]
    Role(&'static str),
    /// This computer has not received the key of the collection the change
    /// is in yet (its keyslot has not synced).
    #[error("this computer has not received this collection's key yet: wait for the cloud folder to sync, then try again")]
    KeyNotHere,
}

/// Errors of the team operations of an admin: [`crate::Vault::invite`],
/// [`crate::Vault::join_requests`] and [`crate::Vault::approve`]
/// (docs/FORMAT.md §12).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TeamActionError {
    /// This device is not an admin's, or cannot sign.
    #[error(transparent)]
    Refused(#[from] WriteRefused),
    /// Only an admin may do this.
    #[error("only an admin may invite and approve members")]
    NotAdmin,
    /// No join request with this id is readable with this device's invitations.
    #[error("no join request {0} for an invitation made on this computer (approved already, expired, or written for another admin's invitation)")]
    NoSuchRequest(String),
    /// The code typed is not the request's: refused, and recorded.
    #[error("the code does not match this request: it was not approved. Ask the person to read the code on their screen again; if it still differs, the request is not theirs (someone else may have written it)")]
    CodeMismatch,
    /// The request's member no longer exists.
    #[error("the request adds a device to a member who is not in the team")]
    NoSuchMember,
    /// No active member or device has this id or name.
    #[error("no member or device of the team is called {0}")]
    NoSuchTarget(String),
    /// The name matches several members or devices.
    #[error("{0} names more than one member or device: use the id shown in the team list")]
    Ambiguous(String),
    /// The team log would refuse it (the last admin, for instance).
    #[error("the team log would not accept this: {0}")]
    NotAccepted(String),
    /// Reading or writing failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The audit log could not be written; nothing was done.
    #[error(transparent)]
    Audit(#[from] AuditWriteError),
}

/// Errors of [`crate::Vault::rekey_job`] (docs/FORMAT.md §13.3).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RekeyError {
    /// The vault's key was never replaced: every file is under it already.
    #[error("the vault's key has never been replaced, so there is nothing to re-encrypt")]
    NeverRotated,
    /// This computer has not received the current key yet.
    #[error("this computer has not received the vault's current key yet (its keyslot has not synced); another admin's computer can re-encrypt, or wait for sync")]
    KeyNotHere,
}

/// Errors of [`crate::Vault::request_join`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JoinRequestError {
    /// The folder is not a vault, or its header cannot be used.
    #[error(transparent)]
    Open(UnlockError),
    /// The invitation text does not parse.
    #[error(transparent)]
    Invite(#[from] crate::format::join::InviteError),
    /// The new passphrase is too short.
    #[error("the passphrase must have at least {0} characters")]
    WeakPassphrase(usize),
    /// This computer is already enrolled in the vault.
    #[error("this computer is already enrolled in this vault")]
    AlreadyEnrolled,
    /// Writing failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The keychain failed.
    #[error(transparent)]
    Keychain(#[from] SecretStoreError),
}

/// Errors of [`crate::Vault::create`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CreateError {
    /// The folder exists and is not empty.
    #[error("{} is not empty: a vault needs a new or empty folder", .0.display())]
    NotEmpty(PathBuf),
    /// The passphrase is too short.
    #[error("the passphrase must have at least {0} characters")]
    WeakPassphrase(usize),
    /// Another ChartSafe process holds this computer's lock for the vault.
    #[error("another ChartSafe process is using this vault on this computer")]
    Busy,
    /// The new vault's team log or audit collection could not be set up.
    #[error("the new vault's team log could not be written: {0}")]
    Team(TeamActionError),
    /// Writing failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The keychain refused the device secret.
    #[error(transparent)]
    Keychain(#[from] SecretStoreError),
    /// The audit log could not be written; nothing was done.
    #[error(transparent)]
    Audit(#[from] AuditWriteError),
}

/// Errors of opening a vault: [`crate::Vault::unlock`], [`crate::Vault::unlock_with_identities`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UnlockError {
    /// The folder has no vault header.
    #[error("{} is not a ChartSafe vault (no {})", .0.display(), crate::format::HEADER_FILE)]
    NotAVault(PathBuf),
    /// The header cannot be used.
    #[error("{}: {}", .0.display(), .1)]
    Header(PathBuf, HeaderError),
    /// This device has no key for the vault.
    #[error("this computer is not enrolled in vault {0}: set it up with the recovery phrase, an identity file, or an invitation")]
    NotEnrolled(String),
    /// The passphrase does not open this device's keyslot.
    #[error("wrong passphrase for this vault")]
    WrongPassphrase,
    /// The device's keyslot is gone from the vault folder.
    #[error(
        "this device's keyslot {0} is missing from the vault folder (deleted, or not synced yet)"
    )]
    KeyslotMissing(String),
    /// The device secret in the keychain, or the local KDF parameters, are malformed.
    #[error(
        "this computer's keychain entry for the vault is damaged: set it up again with the recovery phrase"
    )]
    KeychainEntryDamaged,
    /// A keyslot decrypted but is not valid.
    #[error("keyslot {0} is damaged")]
    KeyslotCorrupt(String),
    /// No keyslot opens with the given identity.
    #[error("the identity does not open this vault")]
    IdentityNotAccepted,
    /// Another ChartSafe process is using the vault on this device.
    #[error("another ChartSafe process is using this vault on this device")]
    Busy,
    /// This computer asked to join and no admin has approved it yet (or the
    /// approval has not synced).
    #[error("this computer's request to join has not been approved yet (or the approval has not synced); show the admin the code that was shown when you asked to join")]
    AwaitingApproval,
    /// The team log of the folder is not the one of the invitation: a
    /// counterfeit vault, refused.
    #[error("this folder's team log does not belong to the vault you were invited to (its root key does not match the invitation); it was not used")]
    NotInvitedVault,
    /// This computer was approved, but its keys do not open the folder's
    /// team log: it was removed before it first opened the vault and the
    /// log re-encrypted to a new key (FORMAT.md §13), or that key has not
    /// synced to it yet.
    #[error("this computer's keys do not open the vault's team log (t/): it was removed from the team before it first opened the vault, and the vault's key replaced; or its new key has not synced yet")]
    KeysReplaced,
    /// Reading or writing failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The keychain failed.
    #[error(transparent)]
    Keychain(#[from] SecretStoreError),
    /// The audit log could not be written; nothing was done.
    #[error(transparent)]
    Audit(#[from] AuditWriteError),
}

/// Errors of [`crate::Vault::recover`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecoverError {
    /// The vault cannot be opened at all.
    #[error(transparent)]
    Open(UnlockError),
    /// The phrase is valid but belongs to another vault.
    #[error("this recovery phrase does not belong to this vault")]
    WrongPhrase,
    /// The vault has a team log that is not complete on this computer yet
    /// (still syncing, or deleted): recovery would start another one.
    #[error("the vault's team log (t/) is missing or incomplete on this computer: wait until the cloud folder has finished syncing, then try again")]
    TeamNotReady,
    /// The new passphrase is too short.
    #[error("the passphrase must have at least {0} characters")]
    WeakPassphrase(usize),
    /// The member to recover as is not an active member of the team log
    /// (FORMAT.md §4.2); the name or id asked for, escaped.
    #[error("no active member of the team is named \"{0}\": pick a name from the team list, or recover as a new admin")]
    NoSuchMember(String),
    /// Several active members have that name: give the member id instead.
    #[error(
        "several members are named \"{0}\": give the member id shown in the team list instead"
    )]
    AmbiguousMember(String),
    /// The recovered device could not sign its entry in the team log.
    #[error(transparent)]
    Refused(WriteRefused),
    /// Writing failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The keychain failed.
    #[error(transparent)]
    Keychain(#[from] SecretStoreError),
    /// The audit log could not be written; nothing was done.
    #[error(transparent)]
    Audit(#[from] AuditWriteError),
}

/// Errors of reading the vault's records ([`crate::Vault::list`] and every operation).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ListError {
    /// Reading failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Errors of [`crate::Vault::add`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AddError {
    /// Reading the vault failed.
    #[error(transparent)]
    List(#[from] ListError),
    /// A destination or source name is not allowed.
    #[error(transparent)]
    Path(#[from] PathError),
    /// A source file or folder does not exist.
    #[error("{}: no such file or folder", .0.display())]
    SourceMissing(PathBuf),
    /// A source file vanished or changed type while being added.
    #[error("{}: the file disappeared while it was being added; nothing of it was stored", .0.display())]
    SourceVanished(PathBuf),
    /// A source file changed (grew, shrank or was replaced) while being
    /// added: what was read is not a file that ever existed whole.
    #[error("{}: the file changed while it was being added (still being written?); nothing of it was stored", .0.display())]
    SourceChanged(PathBuf),
    /// A source is neither a regular file nor a folder (a pipe, socket or device).
    #[error("{}: not a regular file or folder (a pipe, socket or device); nothing was added", .0.display())]
    SourceNotRegular(PathBuf),
    /// A source file name is not allowed in the vault.
    #[error("{}: {}", .0.display(), .1)]
    SourceName(PathBuf, NameError),
    /// A source file could not be read.
    #[error("could not read {}: {}", .0.display(), .1)]
    SourceUnreadable(PathBuf, std::io::Error),
    /// Writing to the vault failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The person cancelled the operation (used inside the add; a cancelled
    /// add returns its report with [`crate::AddReport::cancelled`] set).
    #[error("cancelled")]
    Cancelled,
    /// The audit log could not be written; nothing was done.
    #[error(transparent)]
    Audit(#[from] AuditWriteError),
    /// This device may not change the vault; nothing was done.
    #[error(transparent)]
    Refused(#[from] WriteRefused),
}

/// Errors of [`crate::Vault::get`] and [`crate::Vault::get_to_writer`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GetError {
    /// Reading the vault failed.
    #[error(transparent)]
    List(#[from] ListError),
    /// The path is not usable.
    #[error(transparent)]
    Path(#[from] PathError),
    /// The requested version does not exist.
    #[error("\"{path}\" has no version {version}")]
    NoSuchVersion {
        /// The path.
        path: String,
        /// The version asked for.
        version: usize,
    },
    /// The content was written by another device and has not arrived yet.
    #[error("\"{path}\" is waiting for sync: its content ({blob}) has not arrived from another device yet")]
    WaitingForSync {
        /// The path.
        path: String,
        /// The blob file.
        blob: String,
    },
    /// The content was written by this device but is gone from the vault folder.
    #[error("the content of \"{path}\" ({blob}) is missing from the vault folder: it was deleted")]
    BlobMissing {
        /// The path.
        path: String,
        /// The blob file.
        blob: String,
    },
    /// The content file is damaged or truncated.
    #[error("the content of \"{path}\" ({blob}) is damaged or truncated; nothing was written")]
    BlobCorrupt {
        /// The path.
        path: String,
        /// The blob file.
        blob: String,
    },
    /// The content file decrypts, but to other bytes than recorded: it was swapped or replaced.
    #[error("the content of \"{path}\" ({blob}) is not the file that was stored (swapped or replaced); nothing was written")]
    BlobSubstituted {
        /// The path.
        path: String,
        /// The blob file.
        blob: String,
    },
    /// None of our keys opens the content file.
    #[error("the content of \"{path}\" ({blob}) is not encrypted to this vault's keys (replaced); nothing was written")]
    NotOurKey {
        /// The path.
        path: String,
        /// The blob file.
        blob: String,
    },
    /// Writing the output failed.
    #[error("could not write {}: {}", .0.display(), .1)]
    Output(PathBuf, std::io::Error),
    /// Reading the content file failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The audit log could not be written; nothing was done.
    #[error(transparent)]
    Audit(#[from] AuditWriteError),
}

macro_rules! change_error {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, thiserror::Error)]
        #[non_exhaustive]
        pub enum $name {
            /// Reading the vault failed.
            #[error(transparent)]
            List(#[from] ListError),
            /// The path is not usable.
            #[error(transparent)]
            Path(#[from] PathError),
            /// Writing to the vault failed.
            #[error(transparent)]
            Storage(#[from] StorageError),
            /// The audit log could not be written; nothing was done.
            #[error(transparent)]
            Audit(#[from] AuditWriteError),
            /// This device may not change the vault; nothing was done.
            #[error(transparent)]
            Refused(#[from] WriteRefused),
        }

        impl Classify for $name {
            fn kind(&self) -> ErrorKind {
                match self {
                    Self::List(l) => l.kind(),
                    Self::Path(p) => p.kind(),
                    Self::Storage(s) => s.kind(),
                    Self::Audit(a) => a.kind(),
                    Self::Refused(r) => r.kind(),
                }
            }
        }
    };
}

change_error!(
    /// Errors of [`crate::Vault::mkdir`].
    MkdirError
);
change_error!(
    /// Errors of [`crate::Vault::rename`].
    MoveError
);
change_error!(
    /// Errors of [`crate::Vault::remove`].
    RemoveError
);
change_error!(
    /// Errors of [`crate::Vault::restore`].
    RestoreError
);
change_error!(
    /// Errors of [`crate::Vault::purge`].
    PurgeError
);
change_error!(
    /// Errors of [`crate::Vault::versions`].
    VersionsError
);

/// Errors of [`crate::Vault::revert`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RevertError {
    /// Reading the vault failed.
    #[error(transparent)]
    List(#[from] ListError),
    /// The path is not usable.
    #[error(transparent)]
    Path(#[from] PathError),
    /// The requested version does not exist.
    #[error("\"{path}\" has no version {version}")]
    NoSuchVersion {
        /// The path.
        path: String,
        /// The version asked for.
        version: usize,
    },
    /// Writing to the vault failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The audit log could not be written; nothing was done.
    #[error(transparent)]
    Audit(#[from] AuditWriteError),
    /// This device may not change the vault; nothing was done.
    #[error(transparent)]
    Refused(#[from] WriteRefused),
}

/// A name that is not a role (`admin`, `staff` or `viewer`).
#[derive(Debug, thiserror::Error)]
#[error("\"{}\" is not a role: admin, staff or viewer", crate::names::printable(.0))]
pub struct UnknownRole(pub String);

// Each error's kind, decided here once for both shells.

impl Classify for UnknownRole {
    fn kind(&self) -> ErrorKind {
        ErrorKind::InvalidName
    }
}

impl Classify for PathError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::NotFound { .. } => ErrorKind::NotFound,
            Self::AlreadyExists { .. } => ErrorKind::AlreadyExists,
            Self::InvalidName { .. }
            | Self::NotAFolder { .. }
            | Self::NotAFile { .. }
            | Self::IntoItself { .. } => ErrorKind::InvalidName,
        }
    }
}

impl Classify for AuditWriteError {
    fn kind(&self) -> ErrorKind {
        match self.0.kind() {
            ErrorKind::DiskFull => ErrorKind::DiskFull,
            _ => ErrorKind::AuditLog,
        }
    }
}

impl Classify for WriteRefused {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::KeyNotHere => ErrorKind::WaitingForSync,
            // A missing or rolled-back team log could be sync lag or an
            // attack; either way this device may not write until it is back.
            Self::NoTeam
            | Self::KeysReplaced
            | Self::KeysRolledBack
            | Self::NoSigningKey
            | Self::OtherCollection
            | Self::NoCollectionAccess
            | Self::NotMember
            | Self::Role(_) => ErrorKind::Refused,
        }
    }
}

impl Classify for TeamActionError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Refused(r) => r.kind(),
            Self::NotAdmin | Self::NotAccepted(_) => ErrorKind::Refused,
            Self::NoSuchRequest(_) | Self::NoSuchMember | Self::NoSuchTarget(_) => {
                ErrorKind::NotFound
            }
            Self::CodeMismatch => ErrorKind::WrongCode,
            Self::Ambiguous(_) => ErrorKind::Ambiguous,
            Self::Storage(s) => s.kind(),
            Self::Audit(a) => a.kind(),
        }
    }
}

impl Classify for RekeyError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::NeverRotated => ErrorKind::NothingToDo,
            Self::KeyNotHere => ErrorKind::WaitingForSync,
        }
    }
}

impl Classify for JoinRequestError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Open(u) => u.kind(),
            Self::Invite(_) => ErrorKind::WrongCode,
            Self::WeakPassphrase(_) => ErrorKind::WeakPassphrase,
            Self::AlreadyEnrolled => ErrorKind::AlreadyExists,
            Self::Storage(s) => s.kind(),
            Self::Keychain(_) => ErrorKind::Keychain,
        }
    }
}

impl Classify for CreateError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::NotEmpty(_) => ErrorKind::NotEmpty,
            Self::WeakPassphrase(_) => ErrorKind::WeakPassphrase,
            Self::Busy => ErrorKind::Busy,
            Self::Team(t) => t.kind(),
            Self::Storage(s) => s.kind(),
            Self::Keychain(_) => ErrorKind::Keychain,
            Self::Audit(a) => a.kind(),
        }
    }
}

impl Classify for HeaderError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Malformed(_) => ErrorKind::NotAVault,
            Self::UnsupportedVersion(_) => ErrorKind::NewerFormat,
        }
    }
}

impl Classify for UnlockError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::NotAVault(_) | Self::NotInvitedVault => ErrorKind::NotAVault,
            Self::Header(_, h) => h.kind(),
            Self::NotEnrolled(_) | Self::KeychainEntryDamaged | Self::IdentityNotAccepted => {
                ErrorKind::NotEnrolled
            }
            Self::WrongPassphrase => ErrorKind::WrongPassphrase,
            Self::KeyslotMissing(_) | Self::KeyslotCorrupt(_) => ErrorKind::Damaged,
            Self::Busy => ErrorKind::Busy,
            Self::AwaitingApproval => ErrorKind::AwaitingApproval,
            Self::KeysReplaced => ErrorKind::Refused,
            Self::Storage(s) => s.kind(),
            Self::Keychain(_) => ErrorKind::Keychain,
            Self::Audit(a) => a.kind(),
        }
    }
}

impl Classify for RecoverError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Open(u) => u.kind(),
            Self::WrongPhrase => ErrorKind::WrongPhrase,
            Self::TeamNotReady => ErrorKind::WaitingForSync,
            Self::WeakPassphrase(_) => ErrorKind::WeakPassphrase,
            Self::NoSuchMember(_) => ErrorKind::NotFound,
            Self::AmbiguousMember(_) => ErrorKind::Ambiguous,
            Self::Refused(r) => r.kind(),
            Self::Storage(s) => s.kind(),
            Self::Keychain(_) => ErrorKind::Keychain,
            Self::Audit(a) => a.kind(),
        }
    }
}

impl Classify for ListError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Storage(s) => s.kind(),
        }
    }
}

impl Classify for AddError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::List(l) => l.kind(),
            Self::Path(p) => p.kind(),
            Self::SourceMissing(_) => ErrorKind::NotFound,
            Self::SourceVanished(_) | Self::SourceChanged(_) => ErrorKind::SourceChanged,
            Self::SourceNotRegular(_) | Self::SourceName(..) => ErrorKind::InvalidName,
            Self::SourceUnreadable(_, e) if is_read_only(e) => ErrorKind::ReadOnly,
            Self::SourceUnreadable(..) => ErrorKind::Storage,
            Self::Storage(s) => s.kind(),
            Self::Cancelled => ErrorKind::Cancelled,
            Self::Audit(a) => a.kind(),
            Self::Refused(r) => r.kind(),
        }
    }
}

impl Classify for GetError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::List(l) => l.kind(),
            Self::Path(p) => p.kind(),
            Self::NoSuchVersion { .. } => ErrorKind::NotFound,
            Self::WaitingForSync { .. } => ErrorKind::WaitingForSync,
            Self::BlobMissing { .. }
            | Self::BlobCorrupt { .. }
            | Self::BlobSubstituted { .. }
            | Self::NotOurKey { .. } => ErrorKind::Damaged,
            Self::Output(_, e) if is_full(e) => ErrorKind::DiskFull,
            Self::Output(_, e) if is_read_only(e) => ErrorKind::ReadOnly,
            Self::Output(..) => ErrorKind::Storage,
            Self::Storage(s) => s.kind(),
            Self::Audit(a) => a.kind(),
        }
    }
}

impl Classify for RevertError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::List(l) => l.kind(),
            Self::Path(p) => p.kind(),
            Self::NoSuchVersion { .. } => ErrorKind::NotFound,
            Self::Storage(s) => s.kind(),
            Self::Audit(a) => a.kind(),
            Self::Refused(r) => r.kind(),
        }
    }
}

impl Classify for SecretStoreError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Keychain
    }
}

impl Classify for crate::keys::PhraseError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::WrongPhrase
    }
}

impl Classify for crate::format::join::InviteError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::WrongCode
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_in_storage_errors_cannot_drive_the_terminal() {
        let e = StorageError::read(
            "r/x/0000000001 (\u{1b}]52;c;aGk=\u{7})",
            io::Error::other("boom"),
        );
        let text = e.to_string();
        assert!(!text.chars().any(char::is_control), "{text:?}");
        assert!(text.contains("\\u{1b}"), "{text}");
    }

    #[test]
    fn long_names_are_shortened_in_messages() {
        let e = PathError::invalid(&"x".repeat(10_000), NameError::TooLong(10_000));
        assert!(e.to_string().len() < 200);
    }
}
