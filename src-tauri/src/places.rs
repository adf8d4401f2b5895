//! Where a new vault could go: cloud-synced folders found on this computer.

use std::path::{Path, PathBuf};

use serde::Serialize;

/// A suggested location for a new vault.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Place {
    /// "Dropbox", "OneDrive", "Google Drive", "iCloud Drive".
    pub service: String,
    /// The suggested vault folder inside it (not created yet).
    pub path: PathBuf,
}

/// The sync services' usual folders, relative to the home folder.
const KNOWN: &[(&str, &str)] = &[
    ("Dropbox", "Dropbox"),
    ("Dropbox", "Dropbox (Personal)"),
    ("OneDrive", "OneDrive"),
    ("Google Drive", "Google Drive"),
    ("Google Drive", "GoogleDrive"),
    ("Google Drive", "My Drive"),
    ("iCloud Drive", "iCloudDrive"),
    (
        "iCloud Drive",
        "Library/Mobile Documents/com~apple~CloudDocs",
    ),
];

/// Finds sync folders under `home`, each with a free "ChartSafe" folder
/// name inside it.
pub fn suggest(home: &Path) -> Vec<Place> {
    let mut out = Vec::new();
    let mut add = |service: &str, dir: PathBuf| {
        if dir.is_dir() && !out.iter().any(|p: &Place| p.path.starts_with(&dir)) {
            out.push(Place {
                service: service.to_owned(),
                path: free_name(&dir),
            });
        }
    };
    for (service, rel) in KNOWN {
        add(service, home.join(rel));
    }
    // OneDrive for Business: "OneDrive - Clinic Name"; Dropbox teams likewise.
    for name in sorted_names(home) {
        if name.starts_with("OneDrive - ") {
            add("OneDrive", home.join(&name));
        } else if name.starts_with("Dropbox (") {
            add("Dropbox", home.join(&name));
        }
    }
    // macOS 12.3 and later: File Provider folders under
    // ~/Library/CloudStorage ("Dropbox", "OneDrive-Clinic",
    // "GoogleDrive-lee@clinic.org/My Drive").
    let cloud = home.join("Library/CloudStorage");
    for name in sorted_names(&cloud) {
        if name.starts_with("Dropbox") {
            add("Dropbox", cloud.join(&name));
        } else if name.starts_with("OneDrive") {
            add("OneDrive", cloud.join(&name));
        } else if name.starts_with("GoogleDrive-") {
            add("Google Drive", cloud.join(&name).join("My Drive"));
        }
    }
    out
}

/// The names (as text) inside `dir`, sorted; none if it cannot be read.
fn sorted_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    names
}

/// "ChartSafe", or "ChartSafe 2", … if taken by something that is not empty.
fn free_name(dir: &Path) -> PathBuf {
    let usable = |p: &Path| match std::fs::read_dir(p) {
        Ok(mut entries) => entries.next().is_none(),
        Err(_) => !p.exists(),
    };
    let first = dir.join("ChartSafe");
    if usable(&first) {
        return first;
    }
    (2..)
        .map(|n| dir.join(format!("ChartSafe {n}")))
        .find(|p| usable(p))
        .expect("some name is free")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_sync_folders_and_a_free_name_inside() {
        let home = tempfile::tempdir().unwrap();
        let h = home.path();
        std::fs::create_dir_all(h.join("Dropbox/ChartSafe")).unwrap();
        std::fs::write(h.join("Dropbox/ChartSafe/other.txt"), "x").unwrap();
        std::fs::create_dir_all(h.join("OneDrive - Riverside Clinic")).unwrap();
        std::fs::create_dir_all(h.join("Documents")).unwrap();
        let found = suggest(h);
        assert_eq!(
            found,
            vec![
                Place {
                    service: "Dropbox".into(),
                    path: h.join("Dropbox/ChartSafe 2")
                },
                Place {
                    service: "OneDrive".into(),
                    path: h.join("OneDrive - Riverside Clinic/ChartSafe")
                },
            ]
        );
    }

    #[test]
    fn finds_the_file_provider_folders_of_macos() {
        let home = tempfile::tempdir().unwrap();
        let cloud = home.path().join("Library/CloudStorage");
        std::fs::create_dir_all(cloud.join("GoogleDrive-lee@clinic.org/My Drive")).unwrap();
        std::fs::create_dir_all(cloud.join("OneDrive-RiversideClinic")).unwrap();
        let found: Vec<_> = suggest(home.path()).into_iter().map(|p| p.path).collect();
        assert_eq!(
            found,
            vec![
                cloud.join("GoogleDrive-lee@clinic.org/My Drive/ChartSafe"),
                cloud.join("OneDrive-RiversideClinic/ChartSafe"),
            ]
        );
    }
}
