//! The one error type every command returns to the UI.
//!
//! `message` is a sentence a receptionist understands; `details` is the
//! technical description for IT (it names the file concerned). Neither ever
//! holds key material; both stay inside the app (nothing is logged).

use chartsafe_core::{
    AddError, AuditWriteError, CreateError, GetError, ListError, MkdirError, MoveError, PathError,
    RecoverError, RemoveError, RestoreError, RevertError, SecretStoreError, StorageError,
    UnlockError, VerifyError, VersionsError,
};
use serde::Serialize;

/// What kind of failure, for the UI to choose what to offer next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The vault is locked (or was never opened): unlock first.
    Locked,
    /// The folder is not a ChartSafe vault.
    NotAVault,
    /// The folder for a new vault already holds other files.
    NotEmpty,
    /// The passphrase is too short.
    WeakPassphrase,
    /// The passphrase does not open the vault on this computer.
    WrongPassphrase,
    /// The recovery phrase is mistyped or belongs to another vault.
    WrongPhrase,
    /// This computer has not been set up for the vault (recovery needed).
    NotEnrolled,
    /// The vault is open in another ChartSafe window or program.
    Busy,
    /// No such file or folder in the vault (or on this computer).
    NotFound,
    /// The name is already in use.
    AlreadyExists,
    /// The name is not allowed.
    InvalidName,
    /// The file's content has not arrived from the other computer yet.
    WaitingForSync,
    /// The file in the cloud folder is damaged or was tampered with.
    Damaged,
    /// The disk or folder could not be read or written.
    Storage,
    /// The disk is full.
    DiskFull,
    /// The OS keychain failed.
    Keychain,
    /// The person cancelled.
    Cancelled,
    /// Too big to preview.
    TooBig,
    /// The activity (audit) log could not be written, so nothing was done.
    AuditLog,
    /// This computer or person may not change the vault (role, removed
    /// device, or an identity-file session).
    NotAllowed,
    /// Anything else (a bug): the details say what.
    Internal,
}

/// An error as the UI receives it: `{kind, message, details}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppError {
    /// What kind of failure.
    pub kind: Kind,
    /// One plain sentence.
    pub message: String,
    /// The technical description, for IT.
    pub details: String,
}

impl AppError {
    /// An error with a message and details.
    pub fn new(kind: Kind, message: impl Into<String>, details: impl ToString) -> Self {
        // Only the kind goes to the diagnostic log: the message and the
        // details can name files.
        tracing::warn!(?kind, "failed");
        Self {
            kind,
            message: message.into(),
            details: details.to_string(),
        }
    }

    /// The vault is locked.
    pub fn locked() -> Self {
        Self::new(
            Kind::Locked,
            "The vault is locked. Unlock it with your passphrase to continue.",
            "no vault is unlocked in this window",
        )
    }

    /// A bug or an unexpected failure.
    pub fn internal(details: impl ToString) -> Self {
        Self::new(
            Kind::Internal,
            "Something went wrong inside ChartSafe. Your files are safe; please try again, and tell IT if it keeps happening.",
            details,
        )
    }
}

fn storage(e: &StorageError) -> AppError {
    if e.is_disk_full() {
        AppError::new(
            Kind::DiskFull,
            "The disk is full. Nothing was lost; free some space and try again.",
            e,
        )
    } else if e.is_read_only() {
        AppError::new(
            Kind::Storage,
            "ChartSafe may not write to this folder. Ask IT to check its permissions.",
            e,
        )
    } else {
        AppError::new(
            Kind::Storage,
            "A file could not be read or written. Check that the folder is still there, then try again.",
            e,
        )
    }
}

fn refused(e: &chartsafe_core::WriteRefused) -> AppError {
    AppError::new(
        Kind::NotAllowed,
        format!("This change was not made: {e}."),
        "change refused by the team log",
    )
}

fn audit(e: &AuditWriteError) -> AppError {
    AppError::new(
        if e.is_disk_full() { Kind::DiskFull } else { Kind::AuditLog },
        "ChartSafe records every use of the vault in its activity log, and the log could not be written, so this was not done. Check that the cloud folder is there, has space and may be written to.",
        e,
    )
}

impl From<AuditWriteError> for AppError {
    fn from(e: AuditWriteError) -> Self {
        audit(&e)
    }
}

impl From<VerifyError> for AppError {
    fn from(e: VerifyError) -> Self {
        match e {
            VerifyError::List(l) => l.into(),
            VerifyError::Storage(s) => storage(&s),
            VerifyError::Audit(a) => audit(&a),
            VerifyError::Cancelled => {
                AppError::new(Kind::Cancelled, "The check was stopped.", "cancelled")
            }
            other => AppError::internal(other),
        }
    }
}

fn keychain(e: &SecretStoreError) -> AppError {
    AppError::new(
        Kind::Keychain,
        "The computer's keychain did not answer. Log out and back in, or ask IT to check it.",
        e,
    )
}

impl From<PathError> for AppError {
    fn from(e: PathError) -> Self {
        match &e {
            PathError::NotFound { .. } => AppError::new(
                Kind::NotFound,
                "That file or folder is no longer in the vault. It may have been moved on another computer.",
                e,
            ),
            PathError::AlreadyExists { .. } => AppError::new(
                Kind::AlreadyExists,
                "There is already a file or folder with that name here. Choose another name.",
                e,
            ),
            PathError::InvalidName { .. } => AppError::new(
                Kind::InvalidName,
                "That name cannot be used. Names cannot contain / or be empty, . or ..",
                e,
            ),
            PathError::IntoItself { .. } => AppError::new(
                Kind::InvalidName,
                "A folder cannot be moved into itself.",
                e,
            ),
            _ => AppError::new(
                Kind::InvalidName,
                "That cannot be done here: a file and a folder have the same name.",
                e,
            ),
        }
    }
}

impl From<ListError> for AppError {
    fn from(e: ListError) -> Self {
        match e {
            ListError::Storage(s) => storage(&s),
            other => AppError::internal(other),
        }
    }
}

impl From<UnlockError> for AppError {
    fn from(e: UnlockError) -> Self {
        match &e {
            UnlockError::NotAVault(_) | UnlockError::Header(..) => AppError::new(
                Kind::NotAVault,
                "This folder is not a ChartSafe vault. Choose the folder that holds chartsafe-vault.json.",
                e,
            ),
            UnlockError::NotEnrolled(_) | UnlockError::IdentityNotAccepted => AppError::new(
                Kind::NotEnrolled,
                "This computer is not set up for this vault yet. Use the recovery phrase to set it up.",
                e,
            ),
            UnlockError::WrongPassphrase => AppError::new(
                Kind::WrongPassphrase,
                "That passphrase is not right. Check Caps Lock and try again.",
                e,
            ),
            UnlockError::KeyslotMissing(_) | UnlockError::KeyslotCorrupt(_) => AppError::new(
                Kind::Damaged,
                "This computer's key file in the vault is missing or damaged. Use the recovery phrase to set this computer up again.",
                e,
            ),
            UnlockError::KeychainEntryDamaged => AppError::new(
                Kind::NotEnrolled,
                "This computer's keychain entry for the vault is damaged. Use the recovery phrase to set this computer up again.",
                e,
            ),
            UnlockError::Busy => AppError::new(
                Kind::Busy,
                "This vault is already open in another ChartSafe window or program on this computer. Close it there first.",
                e,
            ),
            UnlockError::Storage(s) => storage(s),
            UnlockError::Audit(a) => audit(a),
            UnlockError::Keychain(k) => keychain(k),
            _ => AppError::internal(e),
        }
    }
}

impl From<CreateError> for AppError {
    fn from(e: CreateError) -> Self {
        match &e {
            CreateError::NotEmpty(_) => AppError::new(
                Kind::NotEmpty,
                "This folder already holds other files. Choose an empty folder, or a new name for one.",
                e,
            ),
            CreateError::WeakPassphrase(n) => AppError::new(
                Kind::WeakPassphrase,
                format!("The passphrase must have at least {n} characters."),
                e,
            ),
            CreateError::Storage(s) => storage(s),
            CreateError::Audit(a) => audit(a),
            CreateError::Keychain(k) => keychain(k),
            _ => AppError::internal(e),
        }
    }
}

impl From<RecoverError> for AppError {
    fn from(e: RecoverError) -> Self {
        match e {
            RecoverError::Open(u) => u.into(),
            RecoverError::TeamNotReady => AppError::new(
                Kind::WaitingForSync,
                "The vault's team list has not finished syncing to this computer. Wait until the cloud folder is up to date, then try again.",
                "team log not ready",
            ),
            RecoverError::WrongPhrase => AppError::new(
                Kind::WrongPhrase,
                "Those words do not open this vault. Check each word and its order.",
                "no recovery keyslot opens with this phrase",
            ),
            RecoverError::WeakPassphrase(n) => AppError::new(
                Kind::WeakPassphrase,
                format!("The new passphrase must have at least {n} characters."),
                "passphrase too short",
            ),
            RecoverError::Storage(s) => storage(&s),
            RecoverError::Audit(a) => audit(&a),
            RecoverError::Keychain(k) => keychain(&k),
            other => AppError::internal(other),
        }
    }
}

impl From<AddError> for AppError {
    fn from(e: AddError) -> Self {
        match e {
            AddError::List(l) => l.into(),
            AddError::Path(p) => p.into(),
            AddError::Storage(s) => storage(&s),
            AddError::Audit(a) => audit(&a),
            AddError::Refused(r) => refused(&r),
            AddError::Cancelled => AppError::new(Kind::Cancelled, "Cancelled.", "cancelled"),
            AddError::SourceMissing(_) => AppError::new(
                Kind::NotFound,
                "The file is not on this computer any more (it was moved or deleted).",
                e,
            ),
            AddError::SourceVanished(_) => AppError::new(
                Kind::NotFound,
                "The file was moved or deleted while it was being added, so nothing of it was stored.",
                e,
            ),
            AddError::SourceChanged(_) => AppError::new(
                Kind::Storage,
                "The file changed while it was being added (it may still be being saved), so nothing of it was stored. Add it again once it is saved.",
                e,
            ),
            AddError::SourceNotRegular(_) => AppError::new(
                Kind::InvalidName,
                "This is not an ordinary file, so it cannot be added.",
                e,
            ),
            AddError::SourceName(..) => AppError::new(
                Kind::InvalidName,
                "The file's name cannot be used in the vault (it is too long or has odd characters). Rename it and try again.",
                e,
            ),
            AddError::SourceUnreadable(..) => AppError::new(
                Kind::Storage,
                "The file could not be read. It may be open in another program or you may not have access to it.",
                e,
            ),
            other => AppError::internal(other),
        }
    }
}

impl From<GetError> for AppError {
    fn from(e: GetError) -> Self {
        match e {
            GetError::List(l) => l.into(),
            GetError::Path(p) => p.into(),
            GetError::Storage(s) => storage(&s),
            GetError::Audit(a) => audit(&a),
            GetError::WaitingForSync { .. } => AppError::new(
                Kind::WaitingForSync,
                "This file has not finished arriving from the other computer. Wait for the cloud folder to finish syncing, then try again.",
                e,
            ),
            GetError::BlobMissing { .. } => AppError::new(
                Kind::Damaged,
                "This file's encrypted content is missing from the cloud folder. An older version may still open.",
                e,
            ),
            GetError::BlobCorrupt { .. }
            | GetError::BlobSubstituted { .. }
            | GetError::NotOurKey { .. } => AppError::new(
                Kind::Damaged,
                "This file is damaged or was changed outside ChartSafe, so it was not opened. An older version may still open; tell IT.",
                e,
            ),
            GetError::Output(..) => AppError::new(
                Kind::Storage,
                "The file could not be saved on this computer. Check the disk has space and the folder can be written.",
                e,
            ),
            GetError::NoSuchVersion { .. } => AppError::new(
                Kind::NotFound,
                "That version no longer exists.",
                e,
            ),
            other => AppError::internal(other),
        }
    }
}

macro_rules! change_error {
    ($($t:ident),*) => {$(
        impl From<$t> for AppError {
            fn from(e: $t) -> Self {
                match e {
                    $t::List(l) => l.into(),
                    $t::Path(p) => p.into(),
                    $t::Storage(s) => storage(&s),
                    $t::Audit(a) => audit(&a),
                    $t::Refused(r) => refused(&r),
                    other => AppError::internal(other),
                }
            }
        }
    )*};
}
change_error!(
    MkdirError,
    MoveError,
    RemoveError,
    RestoreError,
    VersionsError
);

impl From<RevertError> for AppError {
    fn from(e: RevertError) -> Self {
        match e {
            RevertError::List(l) => l.into(),
            RevertError::Path(p) => p.into(),
            RevertError::Storage(s) => storage(&s),
            RevertError::Audit(a) => audit(&a),
            RevertError::Refused(r) => refused(&r),
            RevertError::NoSuchVersion { .. } => {
                AppError::new(Kind::NotFound, "That version no longer exists.", e)
            }
            other => AppError::internal(other),
        }
    }
}

impl From<tauri::Error> for AppError {
    fn from(e: tauri::Error) -> Self {
        AppError::internal(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The JSON of every kind is part of the UI contract (ui/js/logic.js).
    #[test]
    fn every_kind_serialises_to_its_pinned_name() {
        let pinned = [
            (Kind::Locked, "locked"),
            (Kind::NotAVault, "not_a_vault"),
            (Kind::NotEmpty, "not_empty"),
            (Kind::WeakPassphrase, "weak_passphrase"),
            (Kind::WrongPassphrase, "wrong_passphrase"),
            (Kind::WrongPhrase, "wrong_phrase"),
            (Kind::NotEnrolled, "not_enrolled"),
            (Kind::Busy, "busy"),
            (Kind::NotFound, "not_found"),
            (Kind::AlreadyExists, "already_exists"),
            (Kind::InvalidName, "invalid_name"),
            (Kind::WaitingForSync, "waiting_for_sync"),
            (Kind::Damaged, "damaged"),
            (Kind::Storage, "storage"),
            (Kind::DiskFull, "disk_full"),
            (Kind::Keychain, "keychain"),
            (Kind::Cancelled, "cancelled"),
            (Kind::TooBig, "too_big"),
            (Kind::AuditLog, "audit_log"),
            (Kind::Internal, "internal"),
        ];
        for (kind, name) in pinned {
            let e = AppError::new(kind, "A sentence.", "details");
            assert_eq!(
                serde_json::to_string(&e).unwrap(),
                format!(r#"{{"kind":"{name}","message":"A sentence.","details":"details"}}"#)
            );
        }
    }

    #[test]
    fn core_errors_map_to_plain_sentences_naming_the_file_in_details() {
        let e: AppError = UnlockError::WrongPassphrase.into();
        assert_eq!(e.kind, Kind::WrongPassphrase);
        let e: AppError = AddError::SourceUnreadable(
            "/home/a/scan 7.pdf".into(),
            std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        )
        .into();
        assert_eq!(e.kind, Kind::Storage);
        assert!(e.details.contains("scan 7.pdf"), "{}", e.details);
        assert!(!e.message.contains("scan 7.pdf"));
        let e: AppError = PathError::NotFound {
            path: "a/b.txt".into(),
        }
        .into();
        assert_eq!(e.kind, Kind::NotFound);
        assert!(e.message.ends_with('.'));
    }
}
