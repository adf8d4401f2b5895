//! Metadata records (docs/FORMAT.md §5).
//!
//! A record is an age file whose plaintext is the JSON object
//! `{"chartsafe_record":1,"mac":HEX,"body":STRING}`, where `body` is itself the
//! JSON text of a [`RecordBody`] and `mac` is HMAC-SHA-256 of that text under
//! the vault's record key. Keeping the body as a string means the MAC covers
//! exact bytes (no canonical JSON needed) and `jq '.body|fromjson'` reads it.

use hmac::Mac;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ids;
use crate::keys::MacKey;

/// Version of the record plaintext authenticated with the shared MAC key.
pub const RECORD_VERSION: u32 = 1;
/// Version of the record plaintext signed by its device (§5.6).
pub const SIGNED_RECORD_VERSION: u32 = 2;
/// Signature domain of records (§5.6).
const SIGN_DOMAIN: &[u8] = b"chartsafe/v2 record\n";

/// The authenticated content of one record: a batch of operations written by
/// one device in one step.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RecordBody {
    /// Format version of the body (downgrade protection, §5.1).
    pub format: u32,
    /// The vault this record belongs to (no replay across vaults).
    pub vault: String,
    /// The device that wrote it (its folder name under `r/`).
    pub device: String,
    /// The device's name for people, shown in conflict names.
    pub device_name: String,
    /// The member who wrote it.
    pub author: String,
    /// Position in the device's chain, from 1; equals the file name.
    pub seq: u64,
    /// SHA-256 (hex) of the body of the device's record `seq - 1`; `None` for seq 1.
    pub prev: Option<String>,
    /// When it was written, ms since the Unix epoch (the writer's clock).
    pub time: i64,
    /// The operations.
    pub ops: Vec<Op>,
    /// Where the record belongs (§5.7): `"r"` for the vault's first
    /// collection, `"c/<collection id>"` for a collection with its own key.
    /// Readers refuse a record found anywhere else (copied from one
    /// collection's folder to another's). Written by every writer of
    /// signed records since issue 12; absent in older records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place: Option<String>,
    /// Reserved for member signatures (§5.4); absent in version 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sig: Option<String>,
}

/// One operation: the new state of one entry, superseding earlier versions.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Op {
    /// The entry (a random id, stable across renames and edits).
    pub entry: String,
    /// Version ids this state replaces (§5.3). Empty when the entry is new.
    pub parents: Vec<String>,
    /// The entry's full state after this operation.
    pub state: EntryState,
}

/// The full state of an entry in one version.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct EntryState {
    /// The folder entry holding it; `None` for the vault's top level.
    pub parent: Option<String>,
    /// Its name (Unicode NFC, §5.5).
    pub name: String,
    /// File or folder.
    pub kind: Kind,
    /// Visible, in the trash, or gone for good.
    pub status: Status,
    /// For files: the content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Content>,
    /// Reserved: the collection that holds the entry (§5.4). Absent means the default one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collection: Option<String>,
}

/// Entry kind.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A file with content.
    File,
    /// A folder.
    Dir,
}

/// Entry status.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Visible in listings.
    Live,
    /// In the trash; can be restored.
    Trash,
    /// Purged, or a conflict copy that was resolved; never shown.
    Gone,
}

/// A file's content: which blob holds it and what it must decrypt to.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Content {
    /// The blob id (`b/<2 chars>/<id>`).
    pub blob: String,
    /// Plaintext size in bytes.
    pub size: u64,
    /// SHA-256 (hex) of the plaintext: binds the name to its exact content (§5.2).
    pub sha256: String,
    /// The source file's modification time, ms since the epoch, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtime: Option<i64>,
}

/// The plaintext envelope of a record.
#[derive(Serialize, Deserialize)]
struct Envelope {
    chartsafe_record: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mac: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sig: Option<String>,
    body: String,
}

/// Why a record could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecordError {
    /// Not an envelope of a known version.
    #[error("not a ChartSafe record of a known version")]
    Malformed,
    /// The MAC does not match: the record was forged or altered.
    #[error("the record's authentication code does not match (forged or altered)")]
    BadMac,
    /// The body does not parse, or an id or name in it has the wrong shape.
    #[error("the record's body is not valid")]
    BadBody,
    /// The body was written by a newer ChartSafe (a format this build does not read).
    #[error("the record was written in format {0}, newer than this ChartSafe reads")]
    NewerFormat(u32),
}

/// A record whose MAC has been checked (version 1), or whose signature is
/// yet to be checked against the team log (version 2, §5.6).
#[derive(Debug, Clone)]
pub struct OpenedRecord {
    /// The body.
    pub body: RecordBody,
    /// SHA-256 (hex) of the body text: the record's identity in chains.
    pub hash: String,
    /// For a signed record: the signature and the exact body text it covers.
    pub(crate) signed: Option<([u8; 64], String)>,
}

impl OpenedRecord {
    /// Whether the record is signed (version 2).
    pub fn is_signed(&self) -> bool {
        self.signed.is_some()
    }

    /// Whether a signed record carries `key`'s signature.
    pub fn signed_by(&self, key: &crate::sign::PublicSigningKey) -> bool {
        self.signed
            .as_ref()
            .is_some_and(|(sig, text)| key.verify(SIGN_DOMAIN, text.as_bytes(), sig))
    }
}

impl RecordBody {
    /// Serialises, authenticates and returns the plaintext envelope and the body hash.
    pub fn seal(&self, mac: &MacKey) -> (Vec<u8>, String) {
        let body = serde_json::to_string(self).expect("a record body serialises");
        let hash = ids::hex(&Sha256::digest(body.as_bytes()));
        let tag = compute_mac(mac, body.as_bytes());
        let envelope = Envelope {
            chartsafe_record: RECORD_VERSION,
            mac: Some(tag),
            sig: None,
            body,
        };
        (
            serde_json::to_vec(&envelope).expect("an envelope serialises"),
            hash,
        )
    }

    /// Serialises and signs with the writing device's key (§5.6): the
    /// plaintext envelope and the body hash. The body's `format` must be 2.
    pub fn seal_signed(&self, key: &crate::sign::SigningKey) -> (Vec<u8>, String) {
        debug_assert_eq!(self.format, SIGNED_RECORD_VERSION);
        let body = serde_json::to_string(self).expect("a record body serialises");
        let hash = ids::hex(&Sha256::digest(body.as_bytes()));
        let envelope = Envelope {
            chartsafe_record: SIGNED_RECORD_VERSION,
            mac: None,
            sig: Some(ids::hex(&key.sign(SIGN_DOMAIN, body.as_bytes()))),
            body,
        };
        (
            serde_json::to_vec(&envelope).expect("an envelope serialises"),
            hash,
        )
    }

    /// Whether every identifier and name has its documented shape
    /// (docs/FORMAT.md §5.1): ids are used to build paths, so a record that
    /// authenticates but holds `../x` as a blob id must still be refused.
    fn is_well_formed(&self) -> bool {
        let hex64 = |s: &str| s.len() == 64 && ids::is_hex(s);
        let version = |s: &str| {
            s.split_once('.').is_some_and(|(h, i)| {
                h.len() == 32
                    && ids::is_hex(h)
                    && !i.is_empty()
                    && i.bytes().all(|b| b.is_ascii_digit())
            })
        };
        ids::is_id(&self.vault)
            && ids::is_id(&self.device)
            && crate::names::clean_device_name(&self.device_name) == self.device_name
            && ids::is_id(&self.author)
            && self.seq > 0
            && self.prev.as_deref().is_none_or(hex64)
            && self
                .place
                .as_deref()
                .is_none_or(|p| p == "r" || p.strip_prefix("c/").is_some_and(ids::is_id))
            && self.ops.iter().all(|op| {
                let s = &op.state;
                ids::is_id(&op.entry)
                    && op.parents.iter().all(|p| version(p))
                    && s.parent.as_deref().is_none_or(ids::is_id)
                    && crate::names::normalise_name(&s.name).is_ok_and(|n| n == s.name)
                    && s.content
                        .as_ref()
                        .is_none_or(|c| ids::is_id(&c.blob) && hex64(&c.sha256))
                    && (s.kind == Kind::File) == s.content.is_some()
            })
    }

    /// The place (§5.7) of a record in collection `collection` (`None`:
    /// the vault's first).
    pub fn place_of(collection: Option<&str>) -> String {
        match collection {
            None => "r".to_owned(),
            Some(c) => format!("c/{c}"),
        }
    }

    /// The id of the version made by op number `index` of the record whose body hash is `hash`.
    pub fn version_id(hash: &str, index: usize) -> String {
        format!("{}.{index}", &hash[..32])
    }
}

/// The MAC domain of records (FORMAT.md §5.1).
const DOMAIN: &[u8] = b"chartsafe/v1 record\n";

fn compute_mac(mac: &MacKey, body: &[u8]) -> String {
    let mut m = super::keyed_mac(mac, DOMAIN);
    m.update(body);
    ids::hex(&m.finalize().into_bytes())
}

/// Checks and parses a decrypted envelope: a version 1 record's MAC, or a
/// version 2 record's shape (its signature is checked against the team
/// log by the reader, §5.6).
pub fn open(plaintext: &[u8], mac: &MacKey) -> Result<OpenedRecord, RecordError> {
    let envelope: Envelope =
        serde_json::from_slice(plaintext).map_err(|_| RecordError::Malformed)?;
    let signed = match (envelope.chartsafe_record, &envelope.mac, &envelope.sig) {
        (RECORD_VERSION, Some(given), None) => {
            let given = ids::unhex(given).ok_or(RecordError::BadMac)?;
            let mut m = super::keyed_mac(mac, DOMAIN);
            m.update(envelope.body.as_bytes());
            // Constant-time comparison (hmac's verify).
            m.verify_slice(&given).map_err(|_| RecordError::BadMac)?;
            None
        }
        (SIGNED_RECORD_VERSION, None, Some(sig)) => {
            let sig: [u8; 64] = ids::unhex(sig)
                .and_then(|s| s.try_into().ok())
                .ok_or(RecordError::BadBody)?;
            Some(sig)
        }
        (v, _, _) if v > SIGNED_RECORD_VERSION => return Err(RecordError::NewerFormat(v)),
        _ => return Err(RecordError::Malformed),
    };
    let body: RecordBody =
        serde_json::from_str(&envelope.body).map_err(|_| RecordError::BadBody)?;
    if body.format > SIGNED_RECORD_VERSION {
        return Err(RecordError::NewerFormat(body.format));
    }
    if body.format != envelope.chartsafe_record || body.sig.is_some() || !body.is_well_formed() {
        return Err(RecordError::BadBody);
    }
    let hash = ids::hex(&Sha256::digest(envelope.body.as_bytes()));
    Ok(OpenedRecord {
        body,
        hash,
        signed: signed.map(|sig| (sig, envelope.body)),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use zeroize::Zeroizing;

    fn key(b: u8) -> MacKey {
        MacKey(Zeroizing::new([b; 32]))
    }

    pub(crate) fn sample() -> RecordBody {
        RecordBody {
            format: 1,
            place: None,
            vault: "v".repeat(26),
            device: "d".repeat(26),
            device_name: "front desk".into(),
            author: "m".repeat(26),
            seq: 1,
            prev: None,
            time: 1_700_000_000_000,
            ops: vec![Op {
                entry: "e".repeat(26),
                parents: vec![],
                state: EntryState {
                    parent: None,
                    name: "Lab results.pdf".into(),
                    kind: Kind::File,
                    status: Status::Live,
                    content: Some(Content {
                        blob: "b".repeat(26),
                        size: 3,
                        sha256: "00".repeat(32),
                        mtime: None,
                    }),
                    collection: None,
                },
            }],
            sig: None,
        }
    }

    proptest::proptest! {
        /// Any valid body survives seal and open unchanged (FORMAT.md §5.1).
        #[test]
        fn any_valid_body_round_trips(
            name in "[^/\\\\\\p{Cc}]{1,40}",
            device_name in "[a-zA-Z0-9 ._-]{1,30}",
            size in proptest::prelude::any::<u64>(),
            time in proptest::prelude::any::<i64>(),
            seq in 1u64..u64::MAX,
        ) {
            let name = crate::names::normalise_name(&name);
            proptest::prop_assume!(name.is_ok());
            let device_name = crate::names::clean_device_name(&device_name);
            let mut body = sample();
            body.ops[0].state.name = name.unwrap();
            body.ops[0].state.content.as_mut().unwrap().size = size;
            body.device_name = device_name;
            body.time = time;
            body.seq = seq;
            let (bytes, hash) = body.seal(&key(3));
            let opened = open(&bytes, &key(3)).unwrap();
            proptest::prop_assert_eq!(opened.body, body);
            proptest::prop_assert_eq!(opened.hash, hash);
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
    fn authenticated_but_malformed_ids_are_refused() {
        for break_it in [
            (|b: &mut RecordBody| {
                b.ops[0].state.content.as_mut().unwrap().blob = "../../etc/passwd".into()
            }) as fn(&mut RecordBody),
            |b| b.ops[0].entry = "short".into(),
            |b| b.ops[0].state.name = "a/b".into(),
            |b| b.ops[0].state.name = "Jose\u{301}".into(),
            |b| b.ops[0].parents = vec!["nope".into()],
            |b| b.ops[0].state.content = None,
        ] {
            let mut b = sample();
            break_it(&mut b);
            let (bytes, _) = b.seal(&key(1));
            assert_eq!(open(&bytes, &key(1)).unwrap_err(), RecordError::BadBody);
        }
    }

    #[test]
    fn wrong_key_or_altered_body_is_bad_mac() {
        let (bytes, _) = sample().seal(&key(1));
        assert_eq!(open(&bytes, &key(2)).unwrap_err(), RecordError::BadMac);
        let text = String::from_utf8(bytes)
            .unwrap()
            .replace("Lab results", "Lab resultz");
        assert_eq!(
            open(text.as_bytes(), &key(1)).unwrap_err(),
            RecordError::BadMac
        );
    }
}
