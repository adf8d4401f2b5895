//! The one error type every command returns to the UI.
//!
//! `message` is a sentence a receptionist understands; `details` is the
//! technical description for IT (it names the file concerned). Neither ever
//! holds key material; both stay inside the app (nothing is logged).

use chartsafe_core::{Classify, ErrorKind};
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
    /// A verification code or invitation does not match.
    WrongCode,
    /// An administrator has not approved this computer yet.
    AwaitingApproval,
    /// The vault was made by a newer ChartSafe.
    NewerFormat,
    /// A file changed or moved while it was being added.
    SourceChanged,
    /// There is nothing to do.
    NothingToDo,
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

/// What each kind of core failure means in the window: the UI's kind and a
/// sentence a receptionist understands. One exhaustive `match`: a new kind
/// does not compile until it is decided here (and in the CLI's exit codes).
fn meaning(kind: ErrorKind, what: &str) -> (Kind, String) {
    use ErrorKind as K;
    let (kind, sentence) = match kind {
        K::WrongPassphrase => (Kind::WrongPassphrase, "That passphrase is not right. Check Caps Lock and try again."),
        K::WrongPhrase => (Kind::WrongPhrase, "Those words do not open this vault. Check each word and its order."),
        K::WrongCode => (Kind::WrongCode, "That code does not match. Type it again exactly as given; if it still differs, do not go on: it is not theirs."),
        K::NotEnrolled => (Kind::NotEnrolled, "This computer is not set up for this vault yet. Use the recovery phrase, or ask an administrator for an invitation."),
        K::AwaitingApproval => (Kind::AwaitingApproval, "An administrator has not approved this computer yet, or the approval has not synced. Show them the code from your request, then try again."),
        K::NotAVault => (Kind::NotAVault, "This folder is not a ChartSafe vault. Choose the folder that holds chartsafe-vault.json."),
        K::NewerFormat => (Kind::NewerFormat, "This vault was made by a newer ChartSafe. Install the newest version to open it."),
        K::NotEmpty => (Kind::NotEmpty, "This folder already holds other files. Choose an empty folder, or a new name for one."),
        K::WeakPassphrase => (Kind::WeakPassphrase, "Use a few unrelated words."),
        K::Busy => (Kind::Busy, "This vault is already open in another ChartSafe window or program on this computer. Close it there first."),
        K::NotFound => (Kind::NotFound, "It is no longer there: it was moved, renamed or removed, on this computer or another."),
        K::AlreadyExists => (Kind::AlreadyExists, "There is already one with that name here. Choose another name."),
        K::Ambiguous => (Kind::InvalidName, "More than one person or computer has that name. Choose them from the team list."),
        K::InvalidName => (Kind::InvalidName, "That name or file cannot be used. Names cannot contain / or be empty, . or .., and only ordinary files can be added."),
        K::SourceChanged => (Kind::SourceChanged, "The file changed or moved while it was being added, so nothing of it was stored. Add it again once it is saved."),
        K::WaitingForSync => (Kind::WaitingForSync, "This has not finished arriving from the other computer. Wait for the cloud folder to finish syncing, then try again."),
        K::Damaged => (Kind::Damaged, "A file in the cloud folder is damaged or was changed outside ChartSafe, so it was not used. An older version may still open; tell IT."),
        K::Refused => (Kind::NotAllowed, "This was not done: the team list does not allow it."),
        K::NothingToDo => (Kind::NothingToDo, "There is nothing to do."),
        K::DiskFull => (Kind::DiskFull, "The disk is full. Nothing was lost; free some space and try again."),
        K::ReadOnly => (Kind::Storage, "ChartSafe may not write to this folder. Ask IT to check its permissions."),
        K::Storage => (Kind::Storage, "A file could not be read or written. Check that the folder is still there, then try again."),
        K::AuditLog => (Kind::AuditLog, "ChartSafe records every use of the vault in its activity log, and the log could not be written, so this was not done. Check that the cloud folder is there, has space and may be written to."),
        K::Keychain => (Kind::Keychain, "The computer's keychain did not answer. Log out and back in, or ask IT to check it."),
        K::Cancelled => (Kind::Cancelled, "Stopped."),
    };
    // For these kinds the core's own sentence (the reason for a refusal,
    // the passphrase's minimum length) is what the person needs to read.
    let message = match kind {
        Kind::NotAllowed => format!("{sentence} {}", capitalised(what)),
        Kind::WeakPassphrase => format!("{} {sentence}", capitalised(what)),
        _ => sentence.to_owned(),
    };
    (kind, message)
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    let mut out: String = chars
        .next()
        .map(|c| c.to_uppercase().collect())
        .unwrap_or_default();
    out.extend(chars);
    if !out.ends_with('.') {
        out.push('.');
    }
    out
}

impl AppError {
    /// A core error: the sentence of its kind, its own text as details.
    pub fn of(e: &dyn Classify) -> Self {
        let details = e.to_string();
        let (kind, message) = meaning(e.kind(), &details);
        Self::new(kind, message, details)
    }
}

macro_rules! classified {
    ($($t:ident),* $(,)?) => {$(
        impl From<chartsafe_core::$t> for AppError {
            fn from(e: chartsafe_core::$t) -> Self {
                Self::of(&e)
            }
        }
    )*};
}

// Every core error converts by its kind; the list is the core's own.
chartsafe_core::for_each_error!(classified);

impl From<chartsafe_api::EditError> for AppError {
    fn from(e: chartsafe_api::EditError) -> Self {
        match e {
            chartsafe_api::EditError::Locked => AppError::locked(),
            e => Self::of(&e),
        }
    }
}

impl From<chartsafe_api::AuditError> for AppError {
    fn from(e: chartsafe_api::AuditError) -> Self {
        match e {
            chartsafe_api::AuditError::AdminsOnly => Self::new(
                Kind::NotAllowed,
                "Only administrators can see the activity record: it has its own key, which only their computers hold.",
                e,
            ),
            e => Self::of(&e),
        }
    }
}

impl From<chartsafe_api::IntakeError> for AppError {
    fn from(e: chartsafe_api::IntakeError) -> Self {
        match e {
            chartsafe_api::IntakeError::InsideVault(_) => Self::new(
                Kind::InvalidName,
                "That folder is the vault folder or inside it. Choose the folder the scanner or fax program saves to.",
                e,
            ),
            e => Self::of(&e),
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
            (Kind::WrongCode, "wrong_code"),
            (Kind::AwaitingApproval, "awaiting_approval"),
            (Kind::NewerFormat, "newer_format"),
            (Kind::SourceChanged, "source_changed"),
            (Kind::NothingToDo, "nothing_to_do"),
            (Kind::NotAllowed, "not_allowed"),
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
        use chartsafe_core::{AddError, PathError, UnlockError};
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

    /// The drift this module was rewritten for: a computer waiting for its
    /// approval was shown "something went wrong inside ChartSafe".
    #[test]
    fn a_computer_awaiting_approval_is_told_so() {
        let e: AppError = chartsafe_core::UnlockError::AwaitingApproval.into();
        assert_eq!(e.kind, Kind::AwaitingApproval);
        assert!(e.message.contains("approved"), "{}", e.message);
    }
}
