//! Audit batches (docs/FORMAT.md §10).
//!
//! An audit batch is an age file `a/<device id>/<seq>` whose plaintext is the
//! JSON object `{"chartsafe_audit":1,"mac":HEX,"body":STRING}`: the same shape
//! as a metadata record (§5.1), with its own envelope member and its own MAC
//! domain, so that a record can never pass for an audit batch or the reverse.
//! Each device appends its own chain; `prev` links each batch to the one
//! before it.

use std::collections::BTreeMap;

use hmac::Mac;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ids;
use crate::keys::MacKey;

/// Version of the audit envelope and body.
pub const AUDIT_VERSION: u32 = 1;

/// The MAC domain of audit batches (FORMAT.md §10.1).
const DOMAIN: &[u8] = b"chartsafe/v1 audit\n";
/// The signature domain of audit batches (FORMAT.md §10.6).
const SIGN_DOMAIN: &[u8] = b"chartsafe/v2 audit\n";
/// Most team heads one batch announces (as `deps` of team entries, §11.3).
pub const MAX_TEAM_HEADS: usize = 256;
/// Most chains one batch vouches for (`legacy`, §10.6).
pub const MAX_LEGACY: usize = 4096;

/// The authenticated content of one audit batch: the events one device
/// recorded in one step.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AuditBody {
    /// Body format, 1.
    pub format: u32,
    /// The vault id.
    pub vault: String,
    /// The device that wrote it (its folder name under `a/`).
    pub device: String,
    /// The device's name for people.
    pub device_name: String,
    /// The member who was using the vault.
    pub member: String,
    /// Position in the device's audit chain, from 1; equals the file name.
    pub seq: u64,
    /// Batch hash of the device's batch `seq - 1`; `None` for seq 1.
    pub prev: Option<String>,
    /// When the batch was written (writer's clock), ms.
    pub time: i64,
    /// The program and its version ("chartsafe 0.4.0", "ChartSafe app 0.4.0").
    pub app: String,
    /// The events, oldest first.
    pub events: Vec<Event>,
    /// Heads of other devices' audit chains that the writer had verified:
    /// device id to head. A chain found shorter than a head announced here
    /// was truncated (FORMAT.md §10.3).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub seen: BTreeMap<String, Head>,
    /// The heads of the team log the writer had accepted (entry hashes):
    /// a reader whose team log lacks one was rolled back, or has not
    /// synced yet (FORMAT.md §10.6). Signed batches only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub team: Vec<String>,
    /// Unsigned chains an admin's computer vouches for when it starts
    /// signing: device id to the head it had verified (FORMAT.md §10.6).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub legacy: BTreeMap<String, Head>,
}

/// The newest batch of a chain, as announced by a device that read it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Head {
    /// Its sequence number.
    pub seq: u64,
    /// Its batch hash.
    pub hash: String,
}

/// One recorded action.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Event {
    /// When it happened, ms (the writer's clock).
    pub time: i64,
    /// What was done (see [`Action`]); unknown names from newer writers are kept as they are.
    pub action: String,
    /// The entry concerned, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<String>,
    /// The entry's path at that moment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// `ok`, `denied` or `failed`.
    pub outcome: String,
    /// Why it was denied or failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// More about it: the lock reason, the version restored, the new path…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The actions recorded (FORMAT.md §10.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Action {
    /// The vault was created.
    Created,
    /// The vault was unlocked with the passphrase.
    Unlocked,
    /// An unlock was refused (wrong passphrase).
    UnlockFailed,
    /// The vault was locked (detail: manual, idle, sleep, screen lock, quit).
    Locked,
    /// A file was added, or a new version of it stored.
    Added,
    /// A folder was created.
    FolderCreated,
    /// A file was opened in another program.
    Opened,
    /// A file was previewed inside the app.
    Previewed,
    /// An opened file's edit was saved back as a new version.
    SavedBack,
    /// A file was decrypted out of the vault (export, `chartsafe get`).
    Exported,
    /// An entry was renamed in its folder.
    Renamed,
    /// An entry was moved to another folder.
    Moved,
    /// An entry was moved to the trash.
    Deleted,
    /// An entry was restored from the trash.
    Restored,
    /// An entry was deleted for good.
    Purged,
    /// An older version of a file was made current.
    VersionRestored,
    /// The recovery phrase (or recovery identity) was used.
    RecoveryUsed,
    /// The recovery phrase was refused.
    RecoveryFailed,
    /// A device was enrolled (got a keyslot).
    DeviceEnrolled,
    /// The audit log was exported.
    AuditExported,
    /// The vault's health was checked.
    Checked,
    /// A health-check repair removed files.
    Repaired,
    /// An admin made an invitation (detail: its id).
    InviteCreated,
    /// An admin approved a join request (detail: who, which device, role).
    MemberApproved,
    /// An approval was refused because the code did not match.
    JoinRefused,
    /// A member or a device was removed from the team (detail: who).
    Removed,
    /// A collection's key was replaced (detail: why, and how many
    /// computers received the new key).
    KeyRotated,
    /// Files were re-encrypted to the current key (detail: counts).
    Rekeyed,
    /// A collection was made (detail: its id; the entry: its folder).
    CollectionCreated,
    /// A member was given a collection (detail: who, read or write).
    Granted,
    /// A member's access to a collection was taken away (detail: who).
    Revoked,
    /// A change or team entry found in the folder was refused (outcome
    /// `denied`; detail: the file and its device; reason: why).
    ChangeRefused,
    /// An admin's computer, signing batches for the first time, vouched
    /// for the chains written before batches were signed (detail: how
    /// many; FORMAT.md §10.6).
    AuditVouched,
    /// A file was re-encrypted for someone outside the vault (detail: for
    /// whom, and with a passphrase or which age key; FORMAT.md §15).
    Shared,
    /// A file of the watched scanner folder was stored, read back and
    /// matched, and its original removed; or left where it was (outcome
    /// `failed`, reason: why) (FORMAT.md §16).
    Scanned,
}

impl Action {
    /// Every action, in the order above.
    pub const ALL: [Action; 35] = [
        Self::Created,
        Self::Unlocked,
        Self::UnlockFailed,
        Self::Locked,
        Self::Added,
        Self::FolderCreated,
        Self::Opened,
        Self::Previewed,
        Self::SavedBack,
        Self::Exported,
        Self::Renamed,
        Self::Moved,
        Self::Deleted,
        Self::Restored,
        Self::Purged,
        Self::VersionRestored,
        Self::RecoveryUsed,
        Self::RecoveryFailed,
        Self::DeviceEnrolled,
        Self::AuditExported,
        Self::Checked,
        Self::Repaired,
        Self::InviteCreated,
        Self::MemberApproved,
        Self::JoinRefused,
        Self::Removed,
        Self::KeyRotated,
        Self::Rekeyed,
        Self::CollectionCreated,
        Self::Granted,
        Self::Revoked,
        Self::ChangeRefused,
        Self::AuditVouched,
        Self::Shared,
        Self::Scanned,
    ];

    /// The name written in batches.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Unlocked => "unlocked",
            Self::UnlockFailed => "unlock_failed",
            Self::Locked => "locked",
            Self::Added => "added",
            Self::FolderCreated => "folder_created",
            Self::Opened => "opened",
            Self::Previewed => "previewed",
            Self::SavedBack => "saved_back",
            Self::Exported => "exported",
            Self::Renamed => "renamed",
            Self::Moved => "moved",
            Self::Deleted => "deleted",
            Self::Restored => "restored",
            Self::Purged => "purged",
            Self::VersionRestored => "version_restored",
            Self::RecoveryUsed => "recovery_used",
            Self::RecoveryFailed => "recovery_failed",
            Self::DeviceEnrolled => "device_enrolled",
            Self::AuditExported => "audit_exported",
            Self::Checked => "checked",
            Self::Repaired => "repaired",
            Self::InviteCreated => "invite_created",
            Self::MemberApproved => "member_approved",
            Self::JoinRefused => "join_refused",
            Self::Removed => "removed",
            Self::KeyRotated => "key_rotated",
            Self::Rekeyed => "rekeyed",
            Self::CollectionCreated => "collection_created",
            Self::Granted => "granted",
            Self::Revoked => "revoked",
            Self::ChangeRefused => "change_refused",
            Self::AuditVouched => "audit_vouched",
            Self::Shared => "shared",
            Self::Scanned => "scanned",
        }
    }

    /// The action with this name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == name)
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How an action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It was done.
    Ok,
    /// It was refused (wrong passphrase, wrong phrase).
    Denied,
    /// It was attempted and failed.
    Failed,
}

impl Outcome {
    /// The name written in batches.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Denied => "denied",
            Self::Failed => "failed",
        }
    }
}

impl Event {
    /// An event with no entry, outcome ok.
    pub fn new(time: i64, action: Action) -> Self {
        Self {
            time,
            action: action.as_str().to_owned(),
            entry: None,
            path: None,
            outcome: Outcome::Ok.as_str().to_owned(),
            reason: None,
            detail: None,
        }
    }
    /// Names the entry and its path.
    pub fn on(mut self, entry: &str, path: &str) -> Self {
        // Entries of a collection are `<collection>/<id>` inside the
        // library; the log names the entry id (FORMAT.md §10.2, §14).
        let id = entry.rsplit('/').next().unwrap_or(entry);
        self.entry = Some(id.to_owned());
        self.path = Some(path.to_owned());
        self
    }
    /// Sets the outcome and its reason.
    pub fn outcome(mut self, outcome: Outcome, reason: impl Into<String>) -> Self {
        self.outcome = outcome.as_str().to_owned();
        self.reason = Some(reason.into());
        self
    }
    /// Sets the detail.
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

/// The plaintext envelope of an audit batch.
#[derive(Serialize, Deserialize)]
struct Envelope {
    chartsafe_audit: u32,
    mac: String,
    /// The writing device's signature (§10.6); absent in batches written
    /// before batches were signed. Readers of that time ignore it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sig: Option<String>,
    body: String,
}

/// Why an audit batch could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuditBatchError {
    /// Not an audit envelope of a known version.
    #[error("not a ChartSafe audit batch of a known version")]
    Malformed,
    /// The MAC does not match: forged or altered.
    #[error("the audit batch's authentication code does not match (forged or altered)")]
    BadMac,
    /// The body does not parse or has the wrong shape.
    #[error("the audit batch's body is not valid")]
    BadBody,
    /// Written by a newer ChartSafe.
    #[error("the audit batch was written in format {0}, newer than this ChartSafe reads")]
    NewerFormat(u32),
}

/// A batch whose MAC has been checked.
#[derive(Debug, Clone)]
pub struct OpenedBatch {
    /// The body.
    pub body: AuditBody,
    /// SHA-256 (hex) of the body text.
    pub hash: String,
    /// The signature and the exact body text it covers, for a signed batch.
    pub(crate) signed: Option<([u8; 64], String)>,
}

impl OpenedBatch {
    /// Whether the batch carries a signature (checked against the team log
    /// by the reader, FORMAT.md §10.6).
    pub fn is_signed(&self) -> bool {
        self.signed.is_some()
    }

    /// Whether its signature verifies with `key`.
    pub fn signed_by(&self, key: &crate::sign::PublicSigningKey) -> bool {
        self.signed
            .as_ref()
            .is_some_and(|(sig, text)| key.verify(SIGN_DOMAIN, text.as_bytes(), sig))
    }
}

impl AuditBody {
    /// Serialises and authenticates; returns the plaintext envelope and the batch hash.
    pub fn seal(&self, mac: &MacKey) -> (Vec<u8>, String) {
        self.seal_with(mac, None)
    }

    /// Serialises, authenticates with the MAC key (which readers of earlier
    /// versions check) and signs with the device's key (FORMAT.md §10.6).
    pub fn seal_signed(&self, mac: &MacKey, key: &crate::sign::SigningKey) -> (Vec<u8>, String) {
        self.seal_with(mac, Some(key))
    }

    fn seal_with(&self, mac: &MacKey, key: Option<&crate::sign::SigningKey>) -> (Vec<u8>, String) {
        let body = serde_json::to_string(self).expect("an audit body serialises");
        let hash = ids::hex(&Sha256::digest(body.as_bytes()));
        let mut m = super::keyed_mac(mac, DOMAIN);
        m.update(body.as_bytes());
        let sig = key.map(|k| ids::hex(&k.sign(SIGN_DOMAIN, body.as_bytes())));
        let envelope = Envelope {
            chartsafe_audit: AUDIT_VERSION,
            mac: ids::hex(&m.finalize().into_bytes()),
            sig,
            body,
        };
        (
            serde_json::to_vec(&envelope).expect("an envelope serialises"),
            hash,
        )
    }

    fn is_well_formed(&self) -> bool {
        let hex64 = |s: &str| s.len() == 64 && ids::is_hex(s);
        ids::is_id(&self.vault)
            && ids::is_id(&self.device)
            && ids::is_id(&self.member)
            && crate::names::clean_device_name(&self.device_name) == self.device_name
            && self.seq > 0
            && self.prev.as_deref().is_none_or(hex64)
            && self
                .seen
                .iter()
                .all(|(d, h)| ids::is_id(d) && h.seq > 0 && hex64(&h.hash))
            && self.team.len() <= MAX_TEAM_HEADS
            && self.team.iter().all(|h| hex64(h))
            && self.legacy.len() <= MAX_LEGACY
            && self
                .legacy
                .iter()
                .all(|(d, h)| ids::is_id(d) && h.seq > 0 && hex64(&h.hash))
            && self.events.iter().all(|e| {
                e.entry.as_deref().is_none_or(ids::is_id)
                    && !e.action.is_empty()
                    && !e.outcome.is_empty()
            })
    }
}

/// Checks and parses a decrypted audit envelope.
pub fn open(plaintext: &[u8], mac: &MacKey) -> Result<OpenedBatch, AuditBatchError> {
    let envelope: Envelope =
        serde_json::from_slice(plaintext).map_err(|_| AuditBatchError::Malformed)?;
    if envelope.chartsafe_audit != AUDIT_VERSION {
        return Err(AuditBatchError::Malformed);
    }
    let given = ids::unhex(&envelope.mac).ok_or(AuditBatchError::BadMac)?;
    let mut m = super::keyed_mac(mac, DOMAIN);
    m.update(envelope.body.as_bytes());
    m.verify_slice(&given)
        .map_err(|_| AuditBatchError::BadMac)?;
    // The version first: a newer body may not parse as this one.
    #[derive(Deserialize)]
    struct Version {
        format: u32,
    }
    if let Ok(v) = serde_json::from_str::<Version>(&envelope.body) {
        if v.format > AUDIT_VERSION {
            return Err(AuditBatchError::NewerFormat(v.format));
        }
    }
    let body: AuditBody =
        serde_json::from_str(&envelope.body).map_err(|_| AuditBatchError::BadBody)?;
    if body.format != AUDIT_VERSION || !body.is_well_formed() {
        return Err(AuditBatchError::BadBody);
    }
    let signed = match &envelope.sig {
        None => None,
        Some(sig) => {
            let sig: [u8; 64] = ids::unhex(sig)
                .and_then(|s| s.try_into().ok())
                .ok_or(AuditBatchError::BadBody)?;
            Some((sig, envelope.body.clone()))
        }
    };
    // A signed body carries what only signed bodies may; an unsigned one
    // announcing team heads or vouching for chains is malformed.
    if signed.is_none() && (!body.team.is_empty() || !body.legacy.is_empty()) {
        return Err(AuditBatchError::BadBody);
    }
    let hash = ids::hex(&Sha256::digest(envelope.body.as_bytes()));
    Ok(OpenedBatch { body, hash, signed })
}

#[cfg(test)]
mod tests {
    use super::*;
    use zeroize::Zeroizing;

    fn key(b: u8) -> MacKey {
        MacKey(Zeroizing::new([b; 32]))
    }

    fn sample() -> AuditBody {
        AuditBody {
            format: 1,
            team: Vec::new(),
            legacy: Default::default(),
            vault: "v".repeat(26),
            device: "d".repeat(26),
            device_name: "front desk".into(),
            member: "m".repeat(26),
            seq: 1,
            prev: None,
            time: 1_700_000_000_000,
            app: "chartsafe 0.0.0".into(),
            events: vec![
                Event::new(1_700_000_000_000, Action::Opened).on(&"e".repeat(26), "Lab.pdf")
            ],
            seen: BTreeMap::new(),
        }
    }

    #[test]
    fn seal_then_open_round_trips() {
        let (bytes, hash) = sample().seal(&key(1));
        let opened = open(&bytes, &key(1)).unwrap();
        assert_eq!(opened.body, sample());
        assert_eq!(opened.hash, hash);
    }

    #[test]
    fn a_metadata_record_is_not_an_audit_batch_and_the_reverse() {
        let (audit, _) = sample().seal(&key(1));
        assert!(crate::format::record::open(&audit, &key(1)).is_err());
        let (record, _) = crate::format::record::tests::sample().seal(&key(1));
        assert_eq!(
            open(&record, &key(1)).unwrap_err(),
            AuditBatchError::Malformed
        );
        // Even with the envelope member renamed, the MAC domain differs.
        let renamed = String::from_utf8(record)
            .unwrap()
            .replace("chartsafe_record", "chartsafe_audit");
        assert_eq!(
            open(renamed.as_bytes(), &key(1)).unwrap_err(),
            AuditBatchError::BadMac
        );
    }

    #[test]
    fn altered_or_malformed_batches_are_refused() {
        let (bytes, _) = sample().seal(&key(1));
        assert_eq!(open(&bytes, &key(2)).unwrap_err(), AuditBatchError::BadMac);
        let text = String::from_utf8(bytes)
            .unwrap()
            .replace("opened", "exportd");
        assert_eq!(
            open(text.as_bytes(), &key(1)).unwrap_err(),
            AuditBatchError::BadMac
        );
        let mut b = sample();
        b.events[0].entry = Some("../x".into());
        let (bytes, _) = b.seal(&key(1));
        assert_eq!(open(&bytes, &key(1)).unwrap_err(), AuditBatchError::BadBody);
    }

    #[test]
    fn action_names_round_trip() {
        for a in Action::ALL {
            assert_eq!(Action::parse(a.as_str()), Some(a));
        }
    }
}
