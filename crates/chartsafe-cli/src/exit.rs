//! Errors as the user sees them: a message naming the file, a hint saying
//! what to try next, and a documented exit code.
//!
//! The core decides what kind of failure an error is ([`ErrorKind`]); this
//! module decides, in one exhaustive `match`, what each kind means on the
//! command line. A new kind does not compile until it is given a code here.

use chartsafe_core::{Classify, ErrorKind};

/// Exit codes, as listed in `chartsafe --help`.
pub mod code {
    /// Some other error.
    pub const OTHER: u8 = 1;
    /// A usage error (as clap's own).
    pub const USAGE: u8 = 2;
    /// The vault has problems (shown as warnings); the command itself completed.
    pub const PROBLEMS: u8 = 3;
    /// Wrong passphrase, recovery phrase, code or identity, device not
    /// enrolled, or the change is not allowed.
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
  1  other error (a newer vault format, a busy vault, a weak passphrase, ...)
  2  usage error
  3  the vault has problems (printed as warnings); the command itself completed
  4  wrong passphrase, recovery phrase, code or identity, this device is not
     enrolled or its keychain failed, or it may not make this change (its
     role, a removed device, or an identity-file session)
  5  no such path, member or version, a name that is not allowed or taken,
     or a source file that changed while it was read
  6  content damaged, replaced or deleted in the vault folder
  7  content not synced to this device yet, or a join not yet approved
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

    /// A core error: its message, with the code and hint of its kind.
    pub fn of(e: &dyn Classify) -> Self {
        let (code, hint) = meaning(e.kind());
        Self::new(code, e.to_string(), hint)
    }
}

/// What each kind of failure means on the command line: its exit code and
/// the next step, naming the command that takes it.
fn meaning(kind: ErrorKind) -> (u8, Option<&'static str>) {
    use code::*;
    use ErrorKind as K;
    match kind {
        K::WrongPassphrase => (
            AUTH,
            Some("type it again; if it is lost, use `chartsafe recover` with the recovery phrase"),
        ),
        K::WrongPhrase => (
            AUTH,
            Some("type the 24 words printed when this vault was created, in order, separated by spaces"),
        ),
        K::WrongCode => (
            AUTH,
            Some("type it again exactly as given; if it still differs, ask the person to read it from their screen"),
        ),
        K::NotEnrolled => (
            AUTH,
            Some("enrol this computer with `chartsafe recover` and the recovery phrase, `chartsafe join` and an invitation, or use --identity FILE"),
        ),
        K::Refused => (
            AUTH,
            Some("ask an admin (`chartsafe members` lists them); a session opened with --identity cannot sign changes: enrol with `chartsafe recover`"),
        ),
        K::Keychain => (
            AUTH,
            Some("unlock the desktop keyring (log out and in again), or check the Secret Service is running"),
        ),
        K::AwaitingApproval => (
            WAITING,
            Some("show the admin the code `chartsafe join` printed; once they approve and it syncs, run this again"),
        ),
        K::WaitingForSync => (
            WAITING,
            Some("let the sync client finish on both devices, then run the same command again"),
        ),
        K::NotAVault => (
            PATH,
            Some("name the vault folder (the one holding chartsafe-vault.json) with --vault DIR or CHARTSAFE_VAULT"),
        ),
        K::NotEmpty => (PATH, Some("choose a new folder inside the synced folder")),
        K::NotFound => (
            PATH,
            Some("list the vault with `chartsafe ls`, versions with `chartsafe versions PATH`, the team with `chartsafe members`"),
        ),
        K::AlreadyExists => (PATH, Some("choose another name, or remove the existing one first")),
        K::Ambiguous => (PATH, Some("use the id `chartsafe members` shows")),
        K::InvalidName => (
            PATH,
            Some("names cannot hold slashes or control characters, be . or .., or exceed 255 bytes"),
        ),
        K::SourceChanged => (
            PATH,
            Some("run the same command again once the file is saved: files already stored are skipped"),
        ),
        K::Damaged => (
            INTEGRITY,
            Some("run `chartsafe verify`; restore an older version with `chartsafe versions`, or the file from the sync service's history"),
        ),
        K::DiskFull => (
            STORAGE,
            Some("free some space on that disk and run the same command again; nothing was changed"),
        ),
        K::ReadOnly => (
            STORAGE,
            Some("the folder is read-only: check its permissions or the sync client's state"),
        ),
        K::Storage => (STORAGE, None),
        K::AuditLog => (
            STORAGE,
            Some("every access is recorded in the vault folder, so it must be there and writable; nothing was read or changed"),
        ),
        K::NewerFormat => (OTHER, Some("install the newest ChartSafe")),
        K::WeakPassphrase => (OTHER, Some("choose a longer passphrase: a few unrelated words")),
        K::Busy => (OTHER, Some("close the ChartSafe app or the other command using this vault")),
        K::NothingToDo => (OTHER, None),
        K::Cancelled => (OTHER, None),
    }
}

impl From<chartsafe_api::ExportError> for Failure {
    fn from(e: chartsafe_api::ExportError) -> Self {
        Self::of(&e)
    }
}

impl From<chartsafe_api::IntakeError> for Failure {
    fn from(e: chartsafe_api::IntakeError) -> Self {
        match e {
            chartsafe_api::IntakeError::InsideVault(_) => Self::new(
                code::USAGE,
                e.to_string(),
                Some("DIR is the folder the scanner saves to, outside the vault folder"),
            ),
            e => Self::of(&e),
        }
    }
}

impl From<chartsafe_api::AuditError> for Failure {
    fn from(e: chartsafe_api::AuditError) -> Self {
        match e {
            // The copy goes to standard output.
            chartsafe_api::AuditError::Write { file: None, source } => {
                crate::output::broken(source)
            }
            e => Self::of(&e),
        }
    }
}

macro_rules! classified {
    ($($t:ident),* $(,)?) => {$(
        impl From<chartsafe_core::$t> for Failure {
            fn from(e: chartsafe_core::$t) -> Self {
                Self::of(&e)
            }
        }
    )*};
}

// Every core error converts by its kind; the list is the core's own.
chartsafe_core::for_each_error!(classified);

#[cfg(test)]
mod tests {
    use super::*;

    /// The exit codes of the commonest kinds are part of the scripting
    /// contract (`chartsafe --help`).
    #[test]
    fn kinds_keep_their_documented_exit_codes() {
        for (kind, code) in [
            (ErrorKind::WrongPassphrase, 4),
            (ErrorKind::NotEnrolled, 4),
            (ErrorKind::Refused, 4),
            (ErrorKind::NotFound, 5),
            (ErrorKind::InvalidName, 5),
            (ErrorKind::Damaged, 6),
            (ErrorKind::WaitingForSync, 7),
            (ErrorKind::AwaitingApproval, 7),
            (ErrorKind::DiskFull, 8),
            (ErrorKind::AuditLog, 8),
        ] {
            assert_eq!(meaning(kind).0, code, "{kind:?}");
        }
    }
}
