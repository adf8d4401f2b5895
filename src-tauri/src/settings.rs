//! What the app remembers between runs: the last vault folder, the idle
//! time before locking, the scanner folder. Kept in the app's config folder, never in the vault
//! folder; it holds no secret and no patient file name.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Idle minutes before the vault locks by itself, unless the person sets another.
pub const DEFAULT_IDLE_MINUTES: u32 = 5;

/// The remembered settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Settings {
    /// The vault folder opened last.
    pub last_vault: Option<PathBuf>,
    /// Minutes without activity before the vault locks (1 to 240).
    pub idle_minutes: u32,
    /// Whether to look for updates (IT's policy file overrides it).
    pub update_check: bool,
    /// The scanner folder watched while its vault is unlocked (scanner.rs).
    pub scanner: Option<crate::scanner::ScanSetting>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            last_vault: None,
            idle_minutes: DEFAULT_IDLE_MINUTES,
            update_check: true,
            scanner: None,
        }
    }
}

impl Settings {
    /// Reads the settings file; a missing or unreadable one gives the defaults.
    pub fn load(file: &Path) -> Self {
        std::fs::read(file)
            .ok()
            .and_then(|b| serde_json::from_slice::<Settings>(&b).ok())
            .map(|mut s| {
                s.idle_minutes = s.idle_minutes.clamp(1, 240);
                s
            })
            .unwrap_or_default()
    }

    /// Writes the settings file (temporary file, then rename).
    pub fn save(&self, file: &Path) -> std::io::Result<()> {
        let dir = file.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let mut temp = tempfile::NamedTempFile::new_in(dir)?;
        serde_json::to_writer_pretty(&mut temp, self)?;
        temp.persist(file).map_err(|e| e.error)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_survive_a_round_trip_and_bad_files_give_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sub/app.json");
        assert_eq!(Settings::load(&file), Settings::default());
        let s = Settings {
            last_vault: Some("/home/a/Dropbox/Clinic".into()),
            idle_minutes: 9,
            update_check: false,
            scanner: Some(crate::scanner::ScanSetting {
                vault: "/home/a/Dropbox/Clinic".into(),
                dir: "/home/a/Scans".into(),
                to: "Scans".into(),
            }),
        };
        s.save(&file).unwrap();
        assert_eq!(Settings::load(&file), s);
        std::fs::write(&file, "{not json").unwrap();
        assert_eq!(Settings::load(&file), Settings::default());
        std::fs::write(&file, r#"{"idle_minutes": 0}"#).unwrap();
        assert_eq!(Settings::load(&file).idle_minutes, 1);
        // Files written before the update setting existed keep checking.
        std::fs::write(&file, r#"{"idle_minutes": 7}"#).unwrap();
        assert!(Settings::load(&file).update_check);
    }
}
