//! The on-disk layout of a vault folder (docs/FORMAT.md §1).
//!
//! ```text
//! VAULT/
//!   chartsafe-vault.json        public: format version and vault id, nothing else
//!   k/<slot id>                 keyslots: age files holding the vault keys
//!   r/<device id>/<seq>         metadata records: age files, one per change batch
//!   b/<2 chars>/<blob id>       contents: standard age files of the exact bytes
//!   a/<device id>/<seq>         audit batches: age files, one chain per device (§10)
//!   t/<device id>/<seq>         team log: signed entries, one chain per device (§11)
//! ```
//! Every name below `k/`, `r/`, `b/` and `a/` is a random identifier or a counter.

pub mod audit;
pub mod header;
pub mod join;
pub mod record;
pub mod team;

use std::path::{Path, PathBuf};

/// Name of the public header file.
pub const HEADER_FILE: &str = "chartsafe-vault.json";
/// Folder of keyslots.
pub const KEYSLOT_DIR: &str = "k";
/// Folder of metadata records.
pub const RECORD_DIR: &str = "r";
/// Folder of content blobs.
pub const BLOB_DIR: &str = "b";
/// Folder of audit chains (FORMAT.md §10).
pub const AUDIT_DIR: &str = "a";
/// Folder of team-log chains (FORMAT.md §11).
pub const TEAM_DIR: &str = "t";
/// Folder of the collections made with `collection_add` (FORMAT.md §14):
/// `c/<collection id>/r/…` and `c/<collection id>/b/…`.
pub const COLLECTION_DIR: &str = "c";
/// Prefix of temporary files written before their final rename (§1.2).
pub const TEMP_PREFIX: &str = ".cs-tmp-";

/// Paths inside one vault folder.
#[derive(Debug, Clone)]
pub struct Layout {
    root: PathBuf,
    /// Where records and blobs are: the vault folder, or a collection's
    /// folder under `c/` (FORMAT.md §14.3).
    content: PathBuf,
}

impl Layout {
    /// The layout of the vault folder `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        Self {
            content: root.clone(),
            root,
        }
    }
    /// The same vault, with the records and blobs of `collection` (`None`:
    /// the vault's first collection, at the top).
    pub fn for_collection(&self, collection: Option<&str>) -> Self {
        Self {
            root: self.root.clone(),
            content: match collection {
                None => self.root.clone(),
                Some(c) => self.collections().join(c),
            },
        }
    }
    /// The folder of collections (`c/`).
    pub fn collections(&self) -> PathBuf {
        self.root.join(COLLECTION_DIR)
    }
    /// The vault folder.
    pub fn root(&self) -> &Path {
        &self.root
    }
    /// The public header file.
    pub fn header(&self) -> PathBuf {
        self.root.join(HEADER_FILE)
    }
    /// The keyslot folder.
    pub fn keyslots(&self) -> PathBuf {
        self.root.join(KEYSLOT_DIR)
    }
    /// One keyslot.
    pub fn keyslot(&self, id: &str) -> PathBuf {
        self.keyslots().join(id)
    }
    /// The record folder.
    pub fn records(&self) -> PathBuf {
        self.content.join(RECORD_DIR)
    }
    /// The records of one device.
    pub fn device_records(&self, device: &str) -> PathBuf {
        self.records().join(device)
    }
    /// One record file name: the sequence number as 10 decimal digits.
    pub fn record_name(seq: u64) -> String {
        format!("{seq:010}")
    }
    /// The audit folder.
    pub fn audit(&self) -> PathBuf {
        self.root.join(AUDIT_DIR)
    }
    /// The audit chain of one device.
    pub fn device_audit(&self, device: &str) -> PathBuf {
        self.audit().join(device)
    }
    /// The team-log folder (FORMAT.md §11).
    pub fn team(&self) -> PathBuf {
        self.root.join(TEAM_DIR)
    }
    /// The team chain of one device.
    pub fn device_team(&self, device: &str) -> PathBuf {
        self.team().join(device)
    }
    /// The blob folder.
    pub fn blobs(&self) -> PathBuf {
        self.content.join(BLOB_DIR)
    }
    /// The shard folder of a blob: the first two characters of its id.
    pub fn blob_shard(&self, blob: &str) -> PathBuf {
        self.blobs().join(blob.get(..2).unwrap_or("__"))
    }
    /// One blob file.
    pub fn blob(&self, blob: &str) -> PathBuf {
        self.blob_shard(blob).join(blob)
    }
    /// A path relative to the vault folder, for messages (never a patient name:
    /// every component is a fixed folder name or a random identifier).
    pub fn relative<'a>(&self, path: &'a Path) -> std::borrow::Cow<'a, str> {
        path.strip_prefix(&self.root)
            .unwrap_or(path)
            .to_string_lossy()
    }
}

/// Strips a copy marker that a sync client appended to one of our names
/// (docs/FORMAT.md §6.3), giving the name it is a copy of.
///
/// Recognised: Dropbox `name (Jane's conflicted copy 2026-01-31)`, Google Drive
/// `name (1)`, OneDrive `name-HOSTNAME`, Syncthing
/// `name.sync-conflict-20260131-101010-ABCDEFG`, unison `name (conflict_on_…)`
/// and Nextcloud `name (conflicted copy …)`. Our own names are fixed-length
/// identifiers or 10-digit counters, so anything after them is a marker.
pub fn strip_copy_marker(name: &str, base_len: usize) -> Option<&str> {
    if name.len() == base_len {
        return Some(name);
    }
    let base = name.get(..base_len)?;
    let rest = &name[base_len..];
    let is_marker = rest.starts_with(" (")
        || rest.starts_with('-')
        || rest.starts_with(".sync-conflict-")
        || rest.starts_with('_')
        || rest.starts_with(" ");
    is_marker.then_some(base)
}

/// HMAC-SHA-256 under the vault's MAC key (§2.3), started with `domain`:
/// records and audit batches each have their own (FORMAT.md §5.1, §10.1), so
/// one can never pass for the other.
pub(crate) fn keyed_mac(key: &crate::keys::MacKey, domain: &[u8]) -> hmac::Hmac<sha2::Sha256> {
    use hmac::Mac;
    let mut m =
        <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(key.0.as_ref()).expect("any key length");
    m.update(domain);
    m
}

/// The position a file in a chain folder (`r/<device>/`, `a/<device>/`)
/// stands for: ten decimal digits once a sync client's copy marker is
/// stripped (FORMAT.md §5.1 step 2, §10.3); `None` for anything else.
pub fn chain_position(name: &str) -> Option<u64> {
    if is_ignorable(name) {
        return None;
    }
    let base = strip_copy_marker(name, 10)?;
    if !base.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    base.parse().ok()
}

/// Whether a file in a vault folder is a sync tool's or our own temporary file,
/// or operating-system clutter, to be skipped when reading.
pub fn is_ignorable(name: &str) -> bool {
    name.starts_with('.')
        || name.starts_with('~')
        || name.ends_with(".tmp")
        || name.ends_with(".partial")
        || name.eq_ignore_ascii_case("desktop.ini")
        || name.eq_ignore_ascii_case("thumbs.db")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_markers_are_recognised() {
        let id = "abcdefghijklmnopqrstuvwxyz";
        assert_eq!(strip_copy_marker(id, 26), Some(id));
        for copy in [
            format!("{id} (Jane's conflicted copy 2026-01-31)"),
            format!("{id} (1)"),
            format!("{id}-FRONTDESK-PC"),
            format!("{id}.sync-conflict-20260131-101010-ABCDEFG"),
            format!("{id} (conflict_on_2026-01-31)"),
        ] {
            assert_eq!(strip_copy_marker(&copy, 26), Some(id), "{copy}");
        }
        assert_eq!(strip_copy_marker("abc", 26), None);
        assert_eq!(strip_copy_marker(&format!("{id}x"), 26), None);
    }

    #[test]
    fn temporary_files_are_ignored() {
        assert!(is_ignorable(".cs-tmp-abc"));
        assert!(is_ignorable(".unison.x.unison.tmp"));
        assert!(is_ignorable("desktop.ini"));
        assert!(!is_ignorable("abcdefghijklmnopqrstuvwxyz"));
    }
}
