//! Errors as the user sees them: a message naming the file, a hint saying
//! what to try next, and a documented exit code.

use chartsafe_core::{
    AddError, AuditWriteError, CreateError, GetError, ListError, MkdirError, MoveError, PathError,
    PhraseError, PurgeError, RecoverError, RemoveError, RestoreError, StorageError, UnlockError,
    VersionsError,
};

/// Exit codes, as listed in `chartsafe --help`.
pub mod code {
    /// Some other error.
    pub const OTHER: u8 = 1;
    /// The vault has problems (shown as warnings); the command itself completed.
    pub const PROBLEMS: u8 = 3;
    /// Wrong passphrase, recovery phrase or identity, or device not enrolled.
    pub const AUTH: u8 = 4;
    /// No such path in the vault or on disk, or a name that is not allowed.
    pub const PATH: u8 = 5;
    /// Content damaged, replaced or deleted in the vault folder.
    pub const INTEGRITY: u8 = 6;
    /// Content not synced to this device yet.
    pub const WAITING: u8 = 7;
    /// Disk full, read-only folder, or another file-system error.
    pub const STORAGE: u8 = 8;
}

/// The text of `--help`'s exit code section.
pub const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  other error
  2  usage error
  3  the vault has problems (printed as warnings); the command itself completed
  4  wrong passphrase, recovery phrase or identity, this device is not enrolled,
     or it may not make this change (its role, or an identity-file session)
  5  no such path, or a name that is not allowed
  6  content damaged, replaced or deleted in the vault folder
  7  content not synced to this device yet
  8  disk full, read-only folder, or another file-system error";

/// An error ready to show.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
    pub hint: Option<String>,
}

impl Failure {
    pub fn new(code: u8, message: impl Into<String>, hint: Option<&str>) -> Self {
        Self {
            code,
            message: message.into(),
            hint: hint.map(str::to_owned),
        }
    }
}

fn storage(e: &StorageError) -> Failure {
    let hint = if e.is_disk_full() {
        Some("free some space on that disk and run the same command again; nothing was changed")
    } else if e.is_read_only() {
        Some("the folder is read-only: check its permissions or the sync client's state")
    } else {
        None
    };
    Failure::new(code::STORAGE, e.to_string(), hint)
}

/// The audit log could not be written: the action was refused (FORMAT.md §10.4).
pub fn audit(e: &AuditWriteError) -> Failure {
    let hint = if e.is_disk_full() {
        "free some space on that disk and run the same command again; nothing was read or changed"
    } else if e.0.is_read_only() {
        "every access is recorded in the vault folder, so it must be writable: check its permissions or the sync client's state"
    } else {
        "every access is recorded in the vault folder; nothing was read or changed"
    };
    Failure::new(code::STORAGE, e.to_string(), Some(hint))
}

fn path(e: &PathError) -> Failure {
    let hint = match e {
        PathError::NotFound { .. } => Some("list the vault with `chartsafe ls`"),
        PathError::InvalidName { .. } => {
            Some("names cannot hold / \\ or control characters, be . or .., or exceed 255 bytes")
        }
        _ => None,
    };
    Failure::new(code::PATH, e.to_string(), hint)
}

fn list(e: &ListError) -> Failure {
    match e {
        ListError::Storage(s) => storage(s),
        other => Failure::new(code::OTHER, other.to_string(), None),
    }
}

impl From<StorageError> for Failure {
    fn from(e: StorageError) -> Self {
        storage(&e)
    }
}

impl From<ListError> for Failure {
    fn from(e: ListError) -> Self {
        list(&e)
    }
}

impl From<PathError> for Failure {
    fn from(e: PathError) -> Self {
        path(&e)
    }
}

impl From<CreateError> for Failure {
    fn from(e: CreateError) -> Self {
        match &e {
            CreateError::Storage(s) => storage(s),
            CreateError::Audit(a) => audit(a),
            CreateError::NotEmpty(_) => Failure::new(
                code::PATH,
                e.to_string(),
                Some("choose a new folder inside the synced folder"),
            ),
            _ => Failure::new(code::OTHER, e.to_string(), None),
        }
    }
}

impl From<UnlockError> for Failure {
    fn from(e: UnlockError) -> Self {
        match &e {
            UnlockError::Storage(s) => storage(s),
            UnlockError::Audit(a) => audit(a),
            UnlockError::WrongPassphrase => {
                Failure::new(code::AUTH, e.to_string(), Some("type it again; if it is lost, use `chartsafe recover` with the recovery phrase"))
            }
            UnlockError::NotEnrolled(_)
            | UnlockError::IdentityNotAccepted
            | UnlockError::KeychainEntryDamaged => {
                Failure::new(code::AUTH, e.to_string(), None)
            }
            UnlockError::AwaitingApproval => Failure::new(code::WAITING, e.to_string(), None),
            UnlockError::NotInvitedVault => Failure::new(code::INTEGRITY, e.to_string(), None),
            UnlockError::NotAVault(_) => Failure::new(
                code::PATH,
                e.to_string(),
                Some("name the vault folder with --vault DIR or CHARTSAFE_VAULT"),
            ),
            UnlockError::KeyslotMissing(_) | UnlockError::KeyslotCorrupt(_) => Failure::new(
                code::INTEGRITY,
                e.to_string(),
                Some("wait for the sync client to finish, or re-enrol with `chartsafe recover`"),
            ),
            _ => Failure::new(code::OTHER, e.to_string(), None),
        }
    }
}

impl From<RecoverError> for Failure {
    fn from(e: RecoverError) -> Self {
        match e {
            RecoverError::Open(u) => u.into(),
            RecoverError::Storage(s) => storage(&s),
            RecoverError::Audit(a) => audit(&a),
            RecoverError::WrongPhrase => Failure::new(
                code::AUTH,
                RecoverError::WrongPhrase.to_string(),
                Some("check that this is the phrase printed when this vault was created"),
            ),
            RecoverError::TeamNotReady => {
                Failure::new(code::WAITING, RecoverError::TeamNotReady.to_string(), None)
            }
            other => Failure::new(code::OTHER, other.to_string(), None),
        }
    }
}

impl From<PhraseError> for Failure {
    fn from(e: PhraseError) -> Self {
        Failure::new(
            code::AUTH,
            e.to_string(),
            Some("type the 24 words in order, separated by spaces"),
        )
    }
}

impl From<AddError> for Failure {
    fn from(e: AddError) -> Self {
        match &e {
            AddError::List(l) => list(l),
            AddError::Path(p) => path(p),
            AddError::Storage(s) => storage(s),
            AddError::Audit(a) => audit(a),
            AddError::SourceMissing(_)
            | AddError::SourceName(..)
            | AddError::SourceNotRegular(_) => Failure::new(code::PATH, e.to_string(), None),
            AddError::SourceVanished(_) | AddError::SourceChanged(_) => Failure::new(
                code::PATH,
                e.to_string(),
                Some("run the same command again: files already stored are skipped"),
            ),
            AddError::Refused(_) => refused(&e),
            _ => Failure::new(code::OTHER, e.to_string(), None),
        }
    }
}

impl From<GetError> for Failure {
    fn from(e: GetError) -> Self {
        match &e {
            GetError::List(l) => list(l),
            GetError::Path(p) => path(p),
            GetError::Storage(s) => storage(s),
            GetError::Audit(a) => audit(a),
            GetError::NoSuchVersion { .. } => {
                Failure::new(code::PATH, e.to_string(), Some("list versions with `chartsafe versions PATH`"))
            }
            GetError::WaitingForSync { .. } => Failure::new(
                code::WAITING,
                e.to_string(),
                Some("let the sync client finish on both devices, then try again"),
            ),
            GetError::BlobMissing { .. }
            | GetError::BlobCorrupt { .. }
            | GetError::BlobSubstituted { .. }
            | GetError::NotOurKey { .. } => Failure::new(
                code::INTEGRITY,
                e.to_string(),
                Some("restore an older version with `chartsafe versions`, or the file from the sync service's history"),
            ),
            GetError::Output(..) => Failure::new(code::STORAGE, e.to_string(), None),
            _ => Failure::new(code::OTHER, e.to_string(), None),
        }
    }
}

macro_rules! change_failure {
    ($($t:ident),*) => {$(
        impl From<$t> for Failure {
            fn from(e: $t) -> Self {
                match &e {
                    $t::List(l) => list(l),
                    $t::Path(p) => path(p),
                    $t::Storage(s) => storage(s),
                    $t::Audit(a) => audit(a),
                    $t::Refused(_) => refused(&e),
                    _ => Failure::new(code::OTHER, e.to_string(), None),
                }
            }
        }
    )*};
}
change_failure!(
    MkdirError,
    MoveError,
    RemoveError,
    RestoreError,
    PurgeError,
    VersionsError
);

impl From<chartsafe_core::TeamActionError> for Failure {
    fn from(e: chartsafe_core::TeamActionError) -> Self {
        use chartsafe_core::TeamActionError as T;
        match &e {
            T::Storage(s) => storage(s),
            T::Audit(a) => audit(a),
            T::NoSuchTarget(_) | T::Ambiguous(_) => Failure::new(
                code::PATH,
                e.to_string(),
                Some("list the team with `chartsafe members`"),
            ),
            T::NoSuchRequest(_) => Failure::new(
                code::PATH,
                e.to_string(),
                Some("list them with `chartsafe requests`"),
            ),
            _ => refused(&e),
        }
    }
}

impl From<chartsafe_core::RekeyError> for Failure {
    fn from(e: chartsafe_core::RekeyError) -> Self {
        use chartsafe_core::RekeyError as R;
        match e {
            R::KeyNotHere => Failure::new(
                code::WAITING,
                e.to_string(),
                Some("let the folder sync, then run `chartsafe rotate --resume` again"),
            ),
            other => Failure::new(code::OTHER, other.to_string(), None),
        }
    }
}

impl From<chartsafe_core::JoinRequestError> for Failure {
    fn from(e: chartsafe_core::JoinRequestError) -> Self {
        use chartsafe_core::JoinRequestError as J;
        match e {
            J::Open(u) => u.into(),
            J::Storage(s) => storage(&s),
            J::Invite(_) => Failure::new(
                code::AUTH,
                e.to_string(),
                Some("type the invitation again, exactly as the admin gave it"),
            ),
            other => Failure::new(code::OTHER, other.to_string(), None),
        }
    }
}

/// This device may not change the vault (exit 4, as for other questions of
/// who may do what).
fn refused(e: &dyn std::fmt::Display) -> Failure {
    Failure::new(code::AUTH, e.to_string(), None)
}
