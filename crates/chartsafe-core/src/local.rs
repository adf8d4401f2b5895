//! What a device keeps about a vault outside the vault folder
//! (docs/FORMAT.md §7): its device id, its keyslot, its KDF parameters and the
//! newest record it has seen from each device (rollback detection,
//! docs/THREAT_MODEL.md §4). Nothing here is secret; the secret half lives in
//! the OS keychain.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::errors::StorageError;
use crate::format::audit::{Action, Event};

/// Most events kept waiting on this device (FORMAT.md §10.4).
pub(crate) const PENDING_MAX: usize = 1000;
use crate::fsutil;
use crate::keys::KdfParams;

/// The newest record seen from one device.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct KnownHead {
    pub seq: u64,
    pub hash: String,
    /// The device's name, for messages when its records disappear.
    #[serde(default)]
    pub name: String,
}

impl KnownHead {
    /// The cutoff naming this record (FORMAT.md §11.3): the newest one seen.
    pub(crate) fn cutoff(&self) -> crate::format::team::Cutoff {
        crate::format::team::Cutoff {
            seq: self.seq,
            hash: self.hash.clone(),
        }
    }
}

/// The device state file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct DeviceState {
    pub device: String,
    pub device_name: String,
    #[serde(default)]
    pub slot: Option<String>,
    #[serde(default)]
    pub kdf: Option<KdfParams>,
    #[serde(default)]
    pub known: BTreeMap<String, KnownHead>,
    /// The newest audit batch this device has verified of each device's
    /// audit chain, its own included (FORMAT.md §10.3).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub audit_known: BTreeMap<String, KnownHead>,
    /// The vault's root signing key (`cssign1…`), pinned when this device
    /// created the vault or enrolled with the phrase (FORMAT.md §7, §11.1):
    /// the team log is checked against it, never against the folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<String>,
    /// The key generation (its `key_rotate` entry's hash) for which this
    /// device finished a re-encryption pass (FORMAT.md §7, §13.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rekeyed: Option<String>,
    /// For each collection, the newest key generation this device has seen
    /// counted (FORMAT.md §7, §13.2): a team log without it was rolled
    /// back, and this device keeps writing to the key it remembers.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub keys_seen: BTreeMap<String, KeySeen>,
    /// Refused changes this device has recorded in the audit log already
    /// (FORMAT.md §7, §11.6): a record file, or a team entry's hash.
    #[serde(default, skip_serializing_if = "std::collections::BTreeSet::is_empty")]
    pub flagged: std::collections::BTreeSet<String>,
    /// Whether this device has had its one chance to vouch for the audit
    /// chains written before batches were signed (FORMAT.md §7, §10.6).
    /// Absent (false) in a device state from before signed batches: an
    /// admin's computer then vouches at its first read of the log.
    #[serde(default)]
    pub audit_vouched: bool,
}

/// A key generation seen (its entry's hash and the key's recipient).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct KeySeen {
    pub hash: String,
    pub recipient: String,
}

impl DeviceState {
    /// A new device (a fresh id) not enrolled yet.
    pub(crate) fn new(device_name: &str) -> Self {
        Self {
            device: crate::ids::random_id(),
            device_name: device_name.to_owned(),
            slot: None,
            kdf: None,
            known: BTreeMap::new(),
            audit_known: BTreeMap::new(),
            root: None,
            rekeyed: None,
            keys_seen: BTreeMap::new(),
            flagged: Default::default(),
            audit_vouched: true,
        }
    }
}

/// The folder for one vault's local state.
#[derive(Clone)]
pub(crate) struct LocalDir {
    dir: PathBuf,
}

impl LocalDir {
    pub(crate) fn new(state_dir: &Path, vault_id: &str) -> Self {
        Self {
            dir: state_dir.join(vault_id),
        }
    }

    fn file(&self) -> PathBuf {
        self.dir.join("device.json")
    }

    /// Another file of this vault's local state.
    pub(crate) fn file_named(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Creates the folder if missing.
    pub(crate) fn ensure_dir(&self) -> Result<(), StorageError> {
        std::fs::create_dir_all(&self.dir).map_err(|e| StorageError::write(&self.dir, e))
    }

    pub(crate) fn load(&self) -> Result<Option<DeviceState>, StorageError> {
        let path = self.file();
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                StorageError::read(
                    &path,
                    std::io::Error::new(std::io::ErrorKind::InvalidData, e),
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StorageError::read(&path, e)),
        }
    }

    pub(crate) fn save(&self, state: &DeviceState) -> Result<(), StorageError> {
        std::fs::create_dir_all(&self.dir).map_err(|e| StorageError::write(&self.dir, e))?;
        let bytes = serde_json::to_vec_pretty(state).expect("device state serialises");
        fsutil::write_replace(&self.file(), &bytes)
    }

    fn pending_file(&self) -> PathBuf {
        self.dir.join("audit-pending.json")
    }

    /// Events that could not be written into the vault folder yet (a refused
    /// unlock, a lock while the folder was unreachable): they go into the next
    /// audit batch (FORMAT.md §10.4). They never name an entry.
    ///
    /// The file is outside the vault folder and unauthenticated: only the
    /// three kinds of event that go there are taken from it, without any
    /// entry, and at most [`PENDING_MAX`] of them.
    pub(crate) fn pending(&self) -> Vec<Event> {
        let all: Vec<Event> = std::fs::read(self.pending_file())
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        let allowed = [
            Action::UnlockFailed.as_str(),
            Action::RecoveryFailed.as_str(),
            Action::Locked.as_str(),
        ];
        all.into_iter()
            .filter(|e| {
                allowed.contains(&e.action.as_str()) && e.entry.is_none() && e.path.is_none()
            })
            .map(|mut e| {
                let clean = |s: String| -> String {
                    s.chars().filter(|c| !c.is_control()).take(200).collect()
                };
                e.reason = e.reason.map(clean);
                e.detail = e.detail.map(clean);
                e
            })
            .take(PENDING_MAX)
            .collect()
    }

    /// Adds an event to the pending list.
    pub(crate) fn push_pending(&self, event: Event) -> Result<(), StorageError> {
        let mut list = self.pending();
        if list.len() >= PENDING_MAX {
            // Many refused unlocks on one computer: the first ones and the
            // latest are kept.
            list.truncate(PENDING_MAX - 1);
        }
        list.push(event);
        std::fs::create_dir_all(&self.dir).map_err(|e| StorageError::write(&self.dir, e))?;
        let bytes = serde_json::to_vec_pretty(&list).expect("events serialise");
        fsutil::write_replace(&self.pending_file(), &bytes)
    }

    /// Forgets the pending events once they are in the vault folder.
    pub(crate) fn clear_pending(&self) {
        let _ = std::fs::remove_file(self.pending_file());
    }

    fn strays_file(&self) -> PathBuf {
        self.dir.join("strays-seen.json")
    }

    /// When this device first saw each stray file of the vault folder (path
    /// relative to it → ms): the health check's repair counts its waiting
    /// period from then, not from file times (FORMAT.md §10.5).
    pub(crate) fn strays_seen(&self) -> BTreeMap<String, i64> {
        std::fs::read(self.strays_file())
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// Saves the first-seen times.
    pub(crate) fn save_strays_seen(
        &self,
        seen: &BTreeMap<String, i64>,
    ) -> Result<(), StorageError> {
        std::fs::create_dir_all(&self.dir).map_err(|e| StorageError::write(&self.dir, e))?;
        let bytes = serde_json::to_vec_pretty(seen).expect("times serialise");
        fsutil::write_replace(&self.strays_file(), &bytes)
    }

    /// Takes this device's lock on the vault; `None` if another process holds it.
    pub(crate) fn lock(&self) -> Result<Option<File>, StorageError> {
        std::fs::create_dir_all(&self.dir).map_err(|e| StorageError::write(&self.dir, e))?;
        let path = self.dir.join("lock");
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| StorageError::write(&path, e))?;
        match file.try_lock() {
            Ok(()) => Ok(Some(file)),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => Err(StorageError::write(&path, e)),
        }
    }
}
