//! Where this computer keeps its state and what it is called: one answer
//! for the command and the app, so that both are the same device
//! (docs/FORMAT.md §7).

use std::path::{Path, PathBuf};

use chartsafe_core::{keychain_key, public_info, Options, SecretStore, UnlockError};

/// How this computer opens vaults: the plain inputs every use case needs.
#[derive(Debug, Clone)]
pub struct Setup {
    /// The folder of this computer's local state (docs/FORMAT.md §7).
    pub state_dir: PathBuf,
    /// This computer's name, shown in the team list and in conflict names.
    pub device_name: String,
    /// The person's name for a new vault or a recovery (default
    /// "Administrator").
    pub member_name: Option<String>,
    /// The program and version, written into the audit log.
    pub app: String,
}

impl Setup {
    /// This computer's defaults: [`default_state_dir`] and
    /// [`default_device_name`].
    pub fn for_this_computer(app: impl Into<String>) -> Self {
        Self {
            state_dir: default_state_dir(),
            device_name: default_device_name(),
            member_name: None,
            app: app.into(),
        }
    }

    /// The core's options for opening or creating a vault.
    pub fn options(&self) -> Options {
        let mut o = Options::new(&self.state_dir, self.device_name.clone());
        o.app = self.app.clone();
        if let Some(name) = &self.member_name {
            o.member_name = name.clone();
        }
        // Tests only: a cheaper passphrase KDF (docs/FORMAT.md §2.4). The
        // knob exists only in builds with the `test-knobs` feature, never
        // in the release binaries people run (docs/THREAT_MODEL.md §4.5).
        #[cfg(feature = "test-knobs")]
        if let Some(n) = std::env::var("CHARTSAFE_KDF_LOG_N")
            .ok()
            .and_then(|v| v.parse::<u8>().ok())
        {
            o.kdf_log_n = n.clamp(10, 22);
        }
        o
    }
}

/// This computer's local state folder: `$CHARTSAFE_STATE_DIR`, else the
/// system's per-user local data folder (`state_dir_in`), else `chartsafe`
/// in the working folder.
pub fn default_state_dir() -> PathBuf {
    std::env::var_os("CHARTSAFE_STATE_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| dirs::data_local_dir().map(|base| state_dir_in(&base, std::env::consts::OS)))
        .unwrap_or_else(|| PathBuf::from("chartsafe"))
}

/// The state folder inside `base`, the per-user local data folder of
/// system `os` (as in `std::env::consts::OS`): on Linux
/// `$XDG_DATA_HOME/chartsafe` or `~/.local/share/chartsafe`; on macOS
/// `~/Library/Application Support/ChartSafe`; on Windows
/// `%LOCALAPPDATA%\ChartSafe` (local, not roaming: the state names this
/// computer and must not follow a person to another one).
pub(crate) fn state_dir_in(base: &Path, os: &str) -> PathBuf {
    base.join(match os {
        "windows" | "macos" => "ChartSafe",
        _ => "chartsafe",
    })
}

/// This computer's name: `$CHARTSAFE_DEVICE_NAME`, else the host name
/// the operating system reports (on Windows and macOS too), else "this
/// computer".
pub fn default_device_name() -> String {
    std::env::var("CHARTSAFE_DEVICE_NAME")
        .ok()
        .or_else(host_name)
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "this computer".to_owned())
}

/// The host name, if it is text.
fn host_name() -> Option<String> {
    gethostname::gethostname()
        .into_string()
        .ok()
        .map(|s| s.trim().to_owned())
}

/// Whether this computer is set up for the vault in `dir`: checked before
/// asking for a passphrase, so that nobody types one for nothing.
///
/// # Errors
///
/// [`UnlockError::NotEnrolled`] when the keychain holds no key for the
/// vault; the errors of [`public_info`] when the folder is not a vault; a
/// keychain failure.
pub fn check_enrolled(dir: &Path, store: &dyn SecretStore) -> Result<(), UnlockError> {
    let info = public_info(dir)?;
    match store.get(&keychain_key(&info.id))? {
        Some(_) => Ok(()),
        None => Err(UnlockError::NotEnrolled(info.id)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The name the kernel reports (`uname -n`), not a file only some
    /// Linux systems have.
    #[cfg(target_os = "linux")]
    #[test]
    fn the_host_name_is_the_one_the_system_reports() {
        let kernel = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
        assert_eq!(host_name().as_deref(), Some(kernel.trim()));
    }

    #[test]
    fn each_system_keeps_the_state_where_its_people_expect_it() {
        let linux = state_dir_in(Path::new("/home/lee/.local/share"), "linux");
        assert_eq!(linux, Path::new("/home/lee/.local/share/chartsafe"));
        let mac = state_dir_in(Path::new("/Users/lee/Library/Application Support"), "macos");
        assert_eq!(
            mac,
            Path::new("/Users/lee/Library/Application Support/ChartSafe")
        );
        let win = state_dir_in(Path::new("C:/Users/lee/AppData/Local"), "windows");
        assert_eq!(win, Path::new("C:/Users/lee/AppData/Local/ChartSafe"));
        // Linux folder names of earlier releases stay where they were.
        assert!(
            default_state_dir().ends_with("chartsafe")
                || std::env::var_os("CHARTSAFE_STATE_DIR").is_some()
        );
    }

    #[test]
    fn the_options_carry_the_setup() {
        let setup = Setup {
            state_dir: "/tmp/state".into(),
            device_name: "Front desk".into(),
            member_name: Some("Dr Lee".into()),
            app: "test 1".into(),
        };
        let o = setup.options();
        assert_eq!(o.state_dir, Path::new("/tmp/state"));
        assert_eq!(o.device_name, "Front desk");
        assert_eq!(o.member_name, "Dr Lee");
        assert_eq!(o.app, "test 1");
    }

    #[test]
    fn a_folder_that_is_not_a_vault_is_named_before_any_passphrase() {
        // The real keychain (the Secret Service `make test` starts).
        let keychain = chartsafe_keychain::Keychain::with_service("chartsafe-api-tests");
        let dir = tempfile::tempdir().unwrap();
        let e = check_enrolled(dir.path(), &keychain).unwrap_err();
        assert!(matches!(e, UnlockError::NotAVault(_)), "{e}");
    }
}
