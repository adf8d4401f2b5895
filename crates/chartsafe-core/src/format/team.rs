//! Team-log entries (docs/FORMAT.md §11; issue 5, step 2).
//!
//! A team entry says who may do what: it adds a member or a device, changes
//! a role, or removes someone. Its plaintext is the JSON object
//! `{"chartsafe_team":2,"sig":HEX,"root_sig":HEX?,"body":STRING}`, where
//! `body` is the JSON text of a [`TeamBody`] and `sig` is the Ed25519
//! signature (crate::sign) of the writing device over
//! `"chartsafe/v2 team\n" ‖ body`. `genesis` and `recovery_admin` entries also
//! carry `root_sig`, the vault root key's signature over
//! `"chartsafe/v2 team root\n" ‖ body` (§11.2). The signatures are checked by
//! `team::evaluate` (crate::team), which knows the devices' keys; this module only
//! checks the envelope and the shapes of ids and keys.

use std::collections::BTreeMap;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ids;
use crate::sign::{PublicSigningKey, SigningKey};

/// Version of the team-entry plaintext and of its body.
pub const TEAM_VERSION: u32 = 2;

/// Most `deps` an entry may name (§11.3): bounds the work one entry costs.
pub const MAX_DEPS: usize = 256;

/// Most keyslots one `key_rotate` entry may name (§11.3, §13).
pub const MAX_SLOTS: usize = 4096;

/// Signature domain of the writing device (§11.2).
pub(crate) const DOMAIN: &[u8] = b"chartsafe/v2 team\n";
/// Signature domain of the root key (§11.2).
pub(crate) const ROOT_DOMAIN: &[u8] = b"chartsafe/v2 team root\n";

/// A member's role (§11.3).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Manages members, devices, roles and collections; reads the audit log.
    /// Reads no collection unless granted.
    Admin,
    /// Reads and writes the collections granted.
    Staff,
    /// Reads the collections granted.
    Viewer,
}

impl Role {
    /// The role's name in the format and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Staff => "staff",
            Role::Viewer => "viewer",
        }
    }

    /// The role named `name` ([`Role::as_str`]).
    pub fn parse(name: &str) -> Option<Self> {
        [Role::Admin, Role::Staff, Role::Viewer]
            .into_iter()
            .find(|r| r.as_str() == name)
    }
}

/// A role named on the command line or by the window: `admin`, `staff` or
/// `viewer`.
impl std::str::FromStr for Role {
    type Err = crate::errors::UnknownRole;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::parse(name).ok_or_else(|| crate::errors::UnknownRole(name.to_owned()))
    }
}

/// The last record of a device's chain that stands when its write rights
/// end (§11.6): the newest one the writer of the entry had accepted.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Cutoff {
    /// Its position in the device's record chain.
    pub seq: u64,
    /// Its record hash.
    pub hash: String,
}

/// The vault's first collection and its first key (§11.3 `genesis`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FirstKey {
    /// The collection id (its keys' id in keyslots, §2.2).
    pub collection: String,
    /// The key's age recipient.
    pub recipient: String,
}

/// What one entry does (§11.3). The field `kind` names the variant.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Entry {
    /// The first entry: the vault's root key, its first member (an admin)
    /// and that member's device, which is the entry's writer.
    Genesis {
        /// The root public key (`cssign1…`), pinned by every device.
        root: String,
        /// The first member's id.
        member: String,
        /// The first member's name.
        name: String,
        /// The writing device's name.
        device_name: String,
        /// The writing device's age recipient (`age1…`).
        recipient: String,
        /// The writing device's public signing key (`cssign1…`).
        signing: String,
        /// For a vault that had records before its team log: the last
        /// unsigned record of each device's chain that stands (§11.6).
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        legacy: BTreeMap<String, Cutoff>,
        /// The vault's first collection and the key everything in it is
        /// encrypted to until a rotation (§13.2): no keyslot in the folder,
        /// planted or not, decides it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<FirstKey>,
    },
    /// An admin adds a person.
    MemberAdd {
        /// The new member's id (never used before in this vault).
        member: String,
        /// Their name.
        name: String,
        /// Their role.
        role: Role,
    },
    /// An admin adds a device of a member, after checking its join code.
    DeviceAdd {
        /// The member it belongs to.
        member: String,
        /// The new device's id (never used before in this vault).
        device: String,
        /// Its name.
        name: String,
        /// Its age recipient (`age1…`).
        recipient: String,
        /// Its public signing key (`cssign1…`).
        signing: String,
        /// SHA-256 (hex) of the join request approved, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request: Option<String>,
    },
    /// An admin changes a member's role.
    RoleSet {
        /// The member.
        member: String,
        /// The new role.
        role: Role,
        /// When the role is viewer: the member's devices' record cutoffs.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        cutoffs: BTreeMap<String, Cutoff>,
    },
    /// An admin removes a person and all their devices.
    MemberRemove {
        /// The member.
        member: String,
        /// The member's devices' record cutoffs.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        cutoffs: BTreeMap<String, Cutoff>,
    },
    /// An admin, or the device's own member, removes a device.
    DeviceRemove {
        /// The device.
        device: String,
        /// The device's record cutoff.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        cutoffs: BTreeMap<String, Cutoff>,
    },
    /// The recovery phrase makes the writing device an admin's device
    /// (emergency access): the member is new, or an existing one made admin.
    RecoveryAdmin {
        /// The member (new, or existing and not removed).
        member: String,
        /// Their name (used when the member is new).
        name: String,
        /// The writing device's name.
        device_name: String,
        /// The writing device's age recipient.
        recipient: String,
        /// The writing device's public signing key.
        signing: String,
    },
    /// An admin replaces a collection's key (§13): everything written
    /// afterwards is encrypted to `recipient`, which the devices named in
    /// `slots` and the recovery identity receive in keyslots. Written after
    /// every removal, and by `chartsafe rotate`.
    KeyRotate {
        /// The collection whose key is replaced (the id of its keys in
        /// keyslots, §2.2).
        collection: String,
        /// The new key's age recipient (`age1…`): the only key anyone
        /// encrypts to from now on, and the check on the keyslots.
        recipient: String,
        /// For each device given the new key: its keyslot id, `k/<id>`.
        slots: BTreeMap<String, String>,
        /// The keyslot holding the new key for the recovery identity.
        recovery_slot: String,
    },
    /// An admin makes a collection with its own key (§14): only admins and
    /// the members granted it may read it. With `audit`, it is the audit
    /// log's collection (§14.4): admins only, no grants.
    CollectionAdd {
        /// The new collection's id (never used before in this vault).
        collection: String,
        /// Whether this is the audit log's collection.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        audit: bool,
        /// Its first key's age recipient.
        recipient: String,
        /// Keyslots carrying the key, by device (the admins' devices).
        slots: BTreeMap<String, String>,
        /// The keyslot carrying it to the recovery identity.
        recovery_slot: String,
    },
    /// An admin lets a member read (and, with `write`, change) a
    /// collection; `slots` carry every key of the collection to the
    /// member's devices (§14.2).
    Grant {
        /// The collection.
        collection: String,
        /// The member.
        member: String,
        /// Whether they may change it too.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        write: bool,
        /// Keyslots, by device of the member.
        slots: BTreeMap<String, String>,
    },
    /// An admin takes a collection away from a member (followed by a
    /// `key_rotate` of it): their changes to it after `cutoffs` do not
    /// stand.
    Revoke {
        /// The collection.
        collection: String,
        /// The member.
        member: String,
        /// The member's devices' record cutoffs in the collection.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        cutoffs: BTreeMap<String, Cutoff>,
    },
}

impl Entry {
    /// The kind's name in the format (`genesis`, `member_add`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            Entry::Genesis { .. } => "genesis",
            Entry::MemberAdd { .. } => "member_add",
            Entry::DeviceAdd { .. } => "device_add",
            Entry::RoleSet { .. } => "role_set",
            Entry::MemberRemove { .. } => "member_remove",
            Entry::DeviceRemove { .. } => "device_remove",
            Entry::RecoveryAdmin { .. } => "recovery_admin",
            Entry::KeyRotate { .. } => "key_rotate",
            Entry::CollectionAdd { .. } => "collection_add",
            Entry::Grant { .. } => "grant",
            Entry::Revoke { .. } => "revoke",
        }
    }

    /// Whether the root key must sign it too.
    pub fn needs_root(&self) -> bool {
        matches!(self, Entry::Genesis { .. } | Entry::RecoveryAdmin { .. })
    }
}

/// The signed content of one team entry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TeamBody {
    /// Format version of the body.
    pub format: u32,
    /// The vault (no replay across vaults).
    pub vault: String,
    /// The writing device; its chain is `t/<device>/<seq>`.
    pub device: String,
    /// Position in the device's team chain, from 1, increasing; a
    /// position taken by a file the device did not write is skipped.
    pub seq: u64,
    /// SHA-256 (hex) of the body of the device's previous entry; `None` for
    /// its first.
    pub prev: Option<String>,
    /// The heads of the team log the writer had accepted, other than `prev`
    /// (sorted hashes): with `prev`, the entry's causal past (§11.4).
    pub deps: Vec<String>,
    /// When it was written, ms since the Unix epoch (the writer's clock).
    pub time: i64,
    /// What it does.
    pub entry: Entry,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    chartsafe_team: u32,
    sig: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    root_sig: Option<String>,
    body: String,
}

/// Why a team entry's plaintext was refused before its signatures are
/// looked at.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TeamEntryError {
    /// Not a team-entry envelope.
    #[error("not a team entry")]
    Malformed,
    /// Written by a newer ChartSafe.
    #[error("written by a newer ChartSafe (team format {0})")]
    NewerFormat(u32),
    /// The body, an id, a key or a signature has the wrong shape.
    #[error("the entry's content is malformed")]
    BadBody,
}

/// A team entry whose envelope and shapes are valid; its signatures are not
/// checked yet.
#[derive(Debug, Clone)]
pub struct OpenedTeamEntry {
    /// The body.
    pub body: TeamBody,
    /// SHA-256 (hex) of the body text: the entry's identity.
    pub hash: String,
    /// The exact body text (what the signatures cover).
    pub(crate) text: String,
    /// The writing device's signature.
    pub(crate) sig: [u8; 64],
    /// The root key's signature, for `genesis` and `recovery_admin`.
    pub(crate) root_sig: Option<[u8; 64]>,
}

impl TeamBody {
    /// Serialises and signs: the plaintext envelope and the body hash.
    /// `root` must be given exactly for the kinds that need it.
    pub fn seal(&self, device: &SigningKey, root: Option<&SigningKey>) -> (Vec<u8>, String) {
        let body = serde_json::to_string(self).expect("a team body serialises");
        let hash = ids::hex(&Sha256::digest(body.as_bytes()));
        let envelope = Envelope {
            chartsafe_team: TEAM_VERSION,
            sig: ids::hex(&device.sign(DOMAIN, body.as_bytes())),
            root_sig: root.map(|r| ids::hex(&r.sign(ROOT_DOMAIN, body.as_bytes()))),
            body,
        };
        (
            serde_json::to_vec(&envelope).expect("an envelope serialises"),
            hash,
        )
    }

    fn is_well_formed(&self) -> bool {
        let hex64 = |s: &str| s.len() == 64 && ids::is_hex(s);
        let name = |s: &str| !s.is_empty() && crate::names::clean_device_name(s) == s;
        let signing = |s: &str| PublicSigningKey::parse(s).is_ok();
        let recipient = |s: &str| age::x25519::Recipient::from_str(s).is_ok();
        let mut sorted = self.deps.len() <= MAX_DEPS && self.deps.windows(2).all(|w| w[0] < w[1]);
        sorted &= self.deps.iter().all(|d| hex64(d));
        sorted &= self.prev.as_ref().is_none_or(|p| !self.deps.contains(p));
        let entry_ok = match &self.entry {
            Entry::Genesis {
                root,
                member,
                name: n,
                device_name,
                recipient: r,
                signing: s,
                legacy,
                key,
            } => {
                cutoffs_ok(legacy)
                    && key
                        .as_ref()
                        .is_none_or(|k| ids::is_id(&k.collection) && recipient(&k.recipient))
                    && signing(root)
                    && ids::is_id(member)
                    && name(n)
                    && name(device_name)
                    && recipient(r)
                    && signing(s)
            }
            Entry::MemberAdd {
                member, name: n, ..
            } => ids::is_id(member) && name(n),
            Entry::DeviceAdd {
                member,
                device,
                name: n,
                recipient: r,
                signing: s,
                request,
            } => {
                ids::is_id(member)
                    && ids::is_id(device)
                    && name(n)
                    && recipient(r)
                    && signing(s)
                    && request.as_deref().is_none_or(hex64)
            }
            Entry::RoleSet {
                member, cutoffs, ..
            }
            | Entry::MemberRemove { member, cutoffs } => ids::is_id(member) && cutoffs_ok(cutoffs),
            Entry::DeviceRemove { device, cutoffs } => ids::is_id(device) && cutoffs_ok(cutoffs),
            Entry::RecoveryAdmin {
                member,
                name: n,
                device_name,
                recipient: r,
                signing: s,
            } => ids::is_id(member) && name(n) && name(device_name) && recipient(r) && signing(s),
            Entry::KeyRotate {
                collection,
                recipient: r,
                slots,
                recovery_slot,
            } => {
                ids::is_id(collection)
                    && recipient(r)
                    && slots_ok(slots)
                    && ids::is_id(recovery_slot)
            }
            Entry::CollectionAdd {
                collection,
                recipient: r,
                slots,
                recovery_slot,
                ..
            } => {
                ids::is_id(collection)
                    && recipient(r)
                    && slots_ok(slots)
                    && ids::is_id(recovery_slot)
            }
            Entry::Grant {
                collection,
                member,
                slots,
                ..
            } => ids::is_id(collection) && ids::is_id(member) && slots_ok(slots),
            Entry::Revoke {
                collection,
                member,
                cutoffs,
            } => ids::is_id(collection) && ids::is_id(member) && cutoffs_ok(cutoffs),
        };
        ids::is_id(&self.vault)
            && ids::is_id(&self.device)
            && self.seq > 0
            && self.prev.as_deref().is_none_or(hex64)
            && sorted
            && entry_ok
    }
}

fn slots_ok(slots: &BTreeMap<String, String>) -> bool {
    slots.len() <= MAX_SLOTS && slots.iter().all(|(d, s)| ids::is_id(d) && ids::is_id(s))
}

/// Cutoffs are keyed by device id (its chain in the vault's first
/// collection, `r/`) or by `<collection id>/<device id>` (its chain in that
/// collection, §14.3).
fn cutoffs_ok(cutoffs: &BTreeMap<String, Cutoff>) -> bool {
    let key = |k: &str| match k.split_once('/') {
        Some((c, d)) => ids::is_id(c) && ids::is_id(d),
        None => ids::is_id(k),
    };
    cutoffs.len() <= MAX_DEPS
        && cutoffs
            .iter()
            .all(|(d, c)| key(d) && c.seq > 0 && c.hash.len() == 64 && ids::is_hex(&c.hash))
}

fn sig64(text: &str) -> Option<[u8; 64]> {
    if text.len() != 128 || text.bytes().any(|b| b.is_ascii_uppercase()) {
        return None;
    }
    ids::unhex(text)?.try_into().ok()
}

/// Checks and parses a decrypted team entry (not its signatures).
pub fn open(plaintext: &[u8]) -> Result<OpenedTeamEntry, TeamEntryError> {
    let envelope: Envelope =
        serde_json::from_slice(plaintext).map_err(|_| TeamEntryError::Malformed)?;
    if envelope.chartsafe_team > TEAM_VERSION {
        return Err(TeamEntryError::NewerFormat(envelope.chartsafe_team));
    }
    if envelope.chartsafe_team != TEAM_VERSION {
        return Err(TeamEntryError::Malformed);
    }
    let sig = sig64(&envelope.sig).ok_or(TeamEntryError::BadBody)?;
    let root_sig = match &envelope.root_sig {
        Some(s) => Some(sig64(s).ok_or(TeamEntryError::BadBody)?),
        None => None,
    };
    let body: TeamBody =
        serde_json::from_str(&envelope.body).map_err(|_| TeamEntryError::BadBody)?;
    if body.format > TEAM_VERSION {
        return Err(TeamEntryError::NewerFormat(body.format));
    }
    if body.format != TEAM_VERSION
        || !body.is_well_formed()
        || body.entry.needs_root() != root_sig.is_some()
    {
        return Err(TeamEntryError::BadBody);
    }
    let hash = ids::hex(&Sha256::digest(envelope.body.as_bytes()));
    Ok(OpenedTeamEntry {
        body,
        hash,
        text: envelope.body,
        sig,
        root_sig,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(entry: Entry) -> TeamBody {
        TeamBody {
            format: 2,
            vault: "v".repeat(26),
            device: "d".repeat(26),
            seq: 1,
            prev: None,
            deps: vec![],
            time: 1,
            entry,
        }
    }

    #[test]
    fn seal_and_open_round_trip_and_shapes_are_checked() {
        let k = SigningKey::generate();
        let b = body(Entry::MemberAdd {
            member: "m".repeat(26),
            name: "Dr. Ana Lima".into(),
            role: Role::Staff,
        });
        let (plain, hash) = b.seal(&k, None);
        let o = open(&plain).unwrap();
        assert_eq!(o.body, b);
        assert_eq!(o.hash, hash);
        assert!(k.public().verify(DOMAIN, o.text.as_bytes(), &o.sig));

        // A root signature where none belongs, or none where one must be.
        let (plain, _) = b.seal(&k, Some(&k));
        assert_eq!(open(&plain).unwrap_err(), TeamEntryError::BadBody);
        let g = body(Entry::RecoveryAdmin {
            member: "m".repeat(26),
            name: "Owner".into(),
            device_name: "laptop".into(),
            recipient: age::x25519::Identity::generate().to_public().to_string(),
            signing: k.public().to_string(),
        });
        assert!(open(&g.seal(&k, Some(&k)).0).is_ok());
        assert_eq!(
            open(&g.seal(&k, None).0).unwrap_err(),
            TeamEntryError::BadBody
        );

        // Bad shapes: a path as an id, unsorted deps, an upper-case prev,
        // an unknown field, a newer version.
        let mut bad = b.clone();
        bad.device = "../x".into();
        assert!(open(&bad.seal(&k, None).0).is_err());
        let mut bad = b.clone();
        bad.deps = vec!["b".repeat(64), "a".repeat(64)];
        assert!(open(&bad.seal(&k, None).0).is_err());
        let mut bad = b.clone();
        bad.prev = Some("A".repeat(64));
        assert!(open(&bad.seal(&k, None).0).is_err());
        let text = String::from_utf8(b.seal(&k, None).0).unwrap();
        let extra = text.replacen("\"sig\"", "\"x\":1,\"sig\"", 1);
        assert_eq!(
            open(extra.as_bytes()).unwrap_err(),
            TeamEntryError::Malformed
        );
        let newer = text.replacen("\"chartsafe_team\":2", "\"chartsafe_team\":3", 1);
        assert_eq!(
            open(newer.as_bytes()).unwrap_err(),
            TeamEntryError::NewerFormat(3)
        );
    }
}
