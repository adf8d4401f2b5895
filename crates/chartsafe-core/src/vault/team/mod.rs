//! The team log in the vault folder (docs/FORMAT.md §11): reading and
//! checking it when the vault opens, and appending this device's entries.

// The team's parts, each a section of docs/FORMAT.md: joining (§12),
// collections (§14), rotation and re-encryption (§13), which recovery keys
// the log vouches for (§4.2), and the read model the shells show (§11.5).
pub(in crate::vault) mod collections;
pub(in crate::vault) mod join;
pub(in crate::vault) mod rotate;
pub(in crate::vault) mod trust;
pub(in crate::vault) mod view;

use crate::crypt::{self, DecryptFailure};
use crate::errors::{StorageError, WriteRefused};
use crate::format as layout;
use crate::format::record::OpenedRecord;
use crate::format::team::{self as fmt, Entry, OpenedTeamEntry, TeamBody, TEAM_VERSION};
use crate::format::team::{Cutoff, Role};
use crate::fsutil;
use crate::sign::{PublicSigningKey, SigningKey};
use crate::team::{self, Team, TeamError};

use crate::vault::Vault;

/// Why a team entry this device's keys do not open is unusable.
const UNREADABLE_KEYS: &str = "this vault's keys do not open it";

/// Largest team entry read; anything bigger is not ours.
const ENTRY_MAX: u64 = 1 << 20;

/// What this device knows of the team (FORMAT.md §11).
#[derive(Debug, Clone, Default)]
pub(crate) struct TeamStatus {
    /// The team, when the log has a valid genesis under the root key this
    /// device pinned.
    pub team: Option<Team>,
    /// Why there is no team although this device pinned a root key: the
    /// log is missing (deleted, or not synced yet) or has no valid genesis.
    pub error: Option<TeamError>,
    /// Files under `t/` that could not be used, with the reason: not age
    /// files for this vault's keys, malformed, or from a newer ChartSafe.
    pub unreadable: Vec<(String, String)>,
    /// Collections whose newest key this device saw is no longer in the
    /// team log (it was rolled back, or has not synced back yet): writes
    /// are refused (FORMAT.md §13.2).
    pub keys_rolled_back: Vec<String>,
    /// Entries this device had accepted that are gone from the folder (an
    /// older copy of `t/` was restored, or files were deleted): described
    /// for people ("the removal of member \"Nurse Joy\""). They still count
    /// here, from this device's own copy, and are written back
    /// (FORMAT.md §7 `team/`, §11.7).
    pub rolled_back: Vec<String>,
    /// Whether the team log's first entry is in the folder but this
    /// device's keys no longer open it (only its own copy does): the log
    /// was re-encrypted to a key it was not given. It was removed, or its
    /// new key has not synced; it may not change anything.
    pub keys_replaced: bool,
}

/// The entries read, and what they say.
#[derive(Debug, Default)]
pub(in crate::vault) struct TeamLog {
    pub(in crate::vault) entries: Vec<OpenedTeamEntry>,
    pub(in crate::vault) status: TeamStatus,
    /// The file bytes of each entry read from the folder (first copy).
    pub(in crate::vault) files: std::collections::HashMap<String, Vec<u8>>,
}

/// Whether a record stands under the team log (FORMAT.md §11.6).
pub(crate) enum RecordVerdict {
    Stands,
    /// Cannot be judged yet (the team log, or its writer's approval, has not
    /// synced): not applied, reported.
    Waiting(String),
    /// Does not stand: not applied, reported.
    Refused(String),
}

/// The records a cutoff lets stand (see [`Vault::cuts_for`]).
pub(crate) struct ChainCut {
    allowed: std::collections::HashSet<String>,
    /// Whether the chain was followed to the device's first record.
    complete: bool,
    /// The cutoff's position.
    seq: u64,
}

/// The cutoffs of one device: the genesis's legacy one (unsigned records)
/// and the one its removal or demotion named (`Some(None)`: none stands).
#[derive(Default)]
pub(crate) struct Cuts {
    legacy: Option<ChainCut>,
    removal: Option<Option<ChainCut>>,
}

/// Why an entry could not be written.
#[derive(Debug)]
pub(in crate::vault) enum TeamWriteError {
    Storage(StorageError),
    /// This device has no signing key (opened with the recovery identity,
    /// or enrolled before the team log).
    NoKey,
}

impl From<StorageError> for TeamWriteError {
    fn from(e: StorageError) -> Self {
        Self::Storage(e)
    }
}

impl Vault {
    /// The team as this device sees it.
    pub(crate) fn team(&self) -> &TeamStatus {
        &self.team.status
    }

    /// The root key this device pinned, if any.
    pub(in crate::vault) fn pinned_root(&self) -> Option<PublicSigningKey> {
        PublicSigningKey::parse(self.device.root.as_deref()?).ok()
    }

    /// Whether this device holds the key the team log says its first
    /// collection is under now: if not, the log was re-encrypted to a key it
    /// was not given (removed, or its keyslot has not synced), and it cannot
    /// tell a replaced entry from one it may no longer read.
    fn holds_current_key(&self, team: Option<&Team>) -> bool {
        team.and_then(|t| t.current_key(t.default_collection.as_deref()?))
            .is_none_or(|k| self.holds_recipient(&k.recipient))
    }

    fn holds_recipient(&self, recipient: &str) -> bool {
        self.keys
            .collections
            .iter()
            .any(|(_, i)| i.recipient().to_string() == recipient)
    }

    /// Whether a rotation of the first collection, genuinely signed by a
    /// computer this device knows, names a key it was not given: the
    /// entries it builds on (a removal) were re-encrypted to that key, so
    /// they are waiting here, and the team this device computes is older
    /// than the folder's (FORMAT.md §11.7, §13.2).
    fn rotated_away(&self, t: &Team, entries: &[OpenedTeamEntry]) -> bool {
        let Some(first) = t.default_collection.as_deref() else {
            return false;
        };
        entries.iter().any(|e| match &e.body.entry {
            Entry::KeyRotate {
                collection,
                recipient,
                ..
            } => {
                collection == first
                    && !self.holds_recipient(recipient)
                    && t.devices
                        .get(&e.body.device)
                        .is_some_and(|d| d.signing.verify(fmt::DOMAIN, e.text.as_bytes(), &e.sig))
            }
            _ => false,
        })
    }

    /// Reads every entry under `t/` and evaluates the team (§11.4, §11.5).
    /// Keys that rotations handed this device are picked up on the way
    /// (§13): an entry encrypted to a newer key can only be read once the
    /// rotation before it gave that key, so reading repeats while new keys
    /// arrive.
    pub(in crate::vault) fn load_team(&mut self) -> Result<(), StorageError> {
        let mut tried = std::collections::HashSet::new();
        let mut fetched = Vec::new();
        let (entries, unreadable, files, missing) = loop {
            let (mut entries, unreadable, files) = self.read_team_files()?;
            // Entries this device accepted before that it did not read from
            // the folder: gone (a rollback) or no longer opening with its
            // keys. Either way they count here, from its own copy
            // (FORMAT.md §11.7).
            let missing = self.kept_team_entries_missing(&files);
            entries.extend(missing.iter().map(|k| k.entry.clone()));
            if !self.take_rotated_keys(&entries, &mut tried, &mut fetched)? {
                break (entries, unreadable, files, missing);
            }
        };
        let (team, error) = match self.pinned_root() {
            None => (None, None),
            Some(root) => match team::evaluate(&self.header.id, &root, entries.clone()) {
                Ok(t) => (Some(t), None),
                Err(e) => (None, Some(e)),
            },
        };
        let holds_current = self.holds_current_key(team.as_ref());
        let mut missing = missing;
        for k in &mut missing {
            k.gone = k.gone || holds_current;
        }
        // What went back is reported for the whole session: the first
        // read writes it back, later reads find it in the folder again.
        let mut rolled_back = std::mem::take(&mut self.team.status.rolled_back);
        for k in missing.iter().filter(|k| k.gone) {
            let what = crate::vault::trust::describe_entry(&k.entry.body.entry, team.as_ref());
            if !rolled_back.contains(&what) {
                rolled_back.push(what);
            }
        }
        let rotated_away = team
            .as_ref()
            .is_some_and(|t| self.rotated_away(t, &entries));
        let keys_replaced = !holds_current || rotated_away;
        let status = TeamStatus {
            team,
            error,
            unreadable,
            keys_rolled_back: Vec::new(),
            rolled_back,
            keys_replaced,
        };
        self.team = TeamLog {
            entries,
            status,
            files,
        };
        self.keep_team_entries(&missing);
        self.settle_keys(&fetched);
        // Whose computer this is comes from the signed team log, never from
        // the keyslot (a field anyone writing the folder could fill in).
        let member = self
            .team
            .status
            .team
            .as_ref()
            .and_then(|t| t.active_device(&self.device.device))
            .map(|d| d.member.clone());
        if let Some(member) = member {
            self.keys.member = member;
        }
        Ok(())
    }

    /// Every entry file under `t/` this device's keys open, and those they
    /// do not, with the reason.
    #[allow(clippy::type_complexity)]
    fn read_team_files(
        &self,
    ) -> Result<
        (
            Vec<OpenedTeamEntry>,
            Vec<(String, String)>,
            std::collections::HashMap<String, Vec<u8>>,
        ),
        StorageError,
    > {
        let root_dir = self.layout.team();
        // Team entries are under the first collection's keys.
        let identities = self.keys.identities_for(None);
        let mut entries = Vec::new();
        let mut unreadable = Vec::new();
        let mut files = std::collections::HashMap::new();
        for copies in fsutil::device_folders(&root_dir)?.values() {
            for folder in copies {
                let dir = root_dir.join(folder);
                for name in fsutil::list_dir(&dir)? {
                    if layout::chain_position(&name).is_none() {
                        continue;
                    }
                    let file = format!("t/{folder}/{name}");
                    let Some(bytes) = fsutil::read_limited(&dir.join(&name), ENTRY_MAX)? else {
                        unreadable.push((file, "not a file ChartSafe wrote".to_owned()));
                        continue;
                    };
                    let plain = match crypt::decrypt_bytes(&bytes, &identities) {
                        Ok(p) => p,
                        Err(DecryptFailure::Io(e)) => {
                            return Err(StorageError::read(dir.join(&name), e))
                        }
                        Err(_) => {
                            unreadable.push((file, UNREADABLE_KEYS.to_owned()));
                            continue;
                        }
                    };
                    match fmt::open(&plain) {
                        Ok(e) => {
                            files.entry(e.hash.clone()).or_insert(bytes);
                            entries.push(e);
                        }
                        Err(e) => unreadable.push((file, e.to_string())),
                    }
                }
            }
        }
        Ok((entries, unreadable, files))
    }

    /// The key this device signs its records with; `None` in a vault
    /// without a team log, where records are version 1; or why this device
    /// may not change the vault (FORMAT.md §11.6).
    pub(in crate::vault) fn signing_for_write(&self) -> Result<Option<&SigningKey>, WriteRefused> {
        if self.pinned_root().is_none() {
            return if self.has_team_entries() {
                Err(WriteRefused::NoSigningKey)
            } else {
                Ok(None)
            };
        }
        if self.team.status.keys_replaced {
            return Err(WriteRefused::KeysReplaced);
        }
        let Some(team) = self.team.status.team.as_ref() else {
            let genesis = self
                .team
                .entries
                .iter()
                .any(|e| matches!(e.body.entry, Entry::Genesis { .. }));
            let locked_out = !genesis
                && self
                    .team
                    .status
                    .unreadable
                    .iter()
                    .any(|(_, why)| why == UNREADABLE_KEYS);
            return Err(if locked_out {
                WriteRefused::KeysReplaced
            } else {
                WriteRefused::NoTeam
            });
        };
        if !self.team.status.keys_rolled_back.is_empty() {
            return Err(WriteRefused::KeysRolledBack);
        }
        let key = self
            .keys
            .signing
            .as_ref()
            .ok_or(WriteRefused::NoSigningKey)?;
        match team.role_of_device(&self.device.device) {
            None => Err(WriteRefused::NotMember),
            Some(Role::Viewer) => Err(WriteRefused::Role("viewer")),
            Some(_) if team.devices[&self.device.device].cutoff.is_some() => {
                Err(WriteRefused::NotMember)
            }
            Some(_) if team.devices[&self.device.device].signing != key.public() => {
                Err(WriteRefused::NoSigningKey)
            }
            Some(_) => Ok(Some(key)),
        }
    }

    /// Whether `rec` stands under the team log (FORMAT.md §11.6). A device
    /// that pinned no root key (identity-file sessions without the root
    /// key, devices enrolled before the team log) accepts version 1 records
    /// only.
    /// The records of `device` that a cutoff lets stand: the one it names
    /// and those before it on its `prev` chain (FORMAT.md §11.6), for the
    /// legacy cutoff of unsigned records and the removal cutoff of signed
    /// ones. `recs` are every record read of that device.
    /// `collection`: the chain's collection (`None`: the vault's first),
    /// FORMAT.md §14.3.
    pub(crate) fn cuts_for(
        &self,
        device: &str,
        collection: Option<&str>,
        recs: &[&OpenedRecord],
    ) -> Cuts {
        let Some(team) = &self.team.status.team else {
            return Cuts::default();
        };
        let chain = |c: &Cutoff| {
            let by_hash: std::collections::HashMap<&str, &OpenedRecord> =
                recs.iter().map(|r| (r.hash.as_str(), *r)).collect();
            let mut allowed = std::collections::HashSet::new();
            let mut complete = false;
            let mut cur = Some(c.hash.clone());
            while let Some(h) = cur.take() {
                let Some(r) = by_hash.get(h.as_str()) else {
                    break;
                };
                if !allowed.insert(h) {
                    break;
                }
                match &r.body.prev {
                    Some(p) => cur = Some(p.clone()),
                    None => complete = true,
                }
            }
            ChainCut {
                allowed,
                complete,
                seq: c.seq,
            }
        };
        let Some(coll) = collection else {
            return Cuts {
                legacy: team.legacy.get(device).map(chain),
                removal: team
                    .devices
                    .get(device)
                    .and_then(|d| d.cutoff.as_ref())
                    .map(|c| c.as_ref().map(chain)),
            };
        };
        // In a collection: the device's removal (or demotion) names the
        // chain's cutoff under `<collection>/<device>`; a revocation of its
        // member's grant names its own.
        let d = team.devices.get(device);
        let removal = match d.and_then(|d| d.cutoff.as_ref()) {
            Some(_) => Some(d.and_then(|d| d.chain_cutoffs.get(coll)).map(chain)),
            None => team
                .collections
                .get(coll)
                .and_then(|c| c.cutoffs.get(device))
                .map(|c| c.as_ref().map(chain)),
        };
        Cuts {
            legacy: None,
            removal,
        }
    }

    pub(crate) fn judge_record(
        &self,
        rec: &OpenedRecord,
        cuts: &Cuts,
        collection: Option<&str>,
    ) -> RecordVerdict {
        if self.pinned_root().is_none() {
            // Without the root key, nothing says whose key a signature must
            // be: a signed record cannot be checked, and is not trusted.
            return if rec.is_signed() {
                RecordVerdict::Refused(
                    "it is signed, and this session has no root key to check signatures with: use an identity file written from the recovery phrase by a current ChartSafe (it names the root key), or set this computer up with the recovery phrase".into(),
                )
            } else {
                RecordVerdict::Stands
            };
        }
        let Some(team) = &self.team.status.team else {
            return RecordVerdict::Waiting(
                "the team log that says who may write is missing or not synced yet".into(),
            );
        };
        let b = &rec.body;
        // At or before a cutoff: on the `prev` chain that ends at the record
        // it names. Below the cutoff but off a chain not read in full yet,
        // it waits.
        let judge_cut = |cut: &ChainCut, refused: String| {
            if cut.allowed.contains(&rec.hash) {
                RecordVerdict::Stands
            } else if !cut.complete && b.seq <= cut.seq {
                RecordVerdict::Waiting(
                    "the changes its device's cutoff names have not all synced yet".into(),
                )
            } else {
                RecordVerdict::Refused(refused)
            }
        };
        if !rec.is_signed() {
            let refused =
                "it is not signed: written by a device without a signing key, or forged by \
                     someone holding the shared key"
                    .to_owned();
            return match &cuts.legacy {
                Some(cut) => judge_cut(cut, refused),
                None => RecordVerdict::Refused(refused),
            };
        }
        let Some(device) = team.devices.get(&b.device) else {
            return RecordVerdict::Waiting(
                "its device is not in the team log (yet): its approval may not have synced".into(),
            );
        };
        if !rec.signed_by(&device.signing) {
            return RecordVerdict::Refused(
                "its signature does not verify: forged or altered".into(),
            );
        }
        if b.author != device.member {
            return RecordVerdict::Refused(
                "it names another author than its device's member".into(),
            );
        }
        let ended = format!(
            "it was written after the write rights of device \"{}\" ended",
            device.name
        );
        let role = team.members.get(&device.member).map(|m| m.role);
        let granted = |c: &str| {
            team.collections
                .get(c)
                .is_some_and(|c| c.readers.get(&device.member) == Some(&true))
        };
        match &cuts.removal {
            Some(Some(cut)) => judge_cut(cut, ended),
            Some(None) => RecordVerdict::Refused(ended),
            None => match (role, collection) {
                (Some(Role::Admin), _) | (Some(Role::Staff), None) => RecordVerdict::Stands,
                (Some(Role::Staff), Some(c)) if granted(c) => RecordVerdict::Stands,
                (Some(Role::Staff), Some(_)) => {
                    RecordVerdict::Refused("its author may not change this collection".into())
                }
                _ => RecordVerdict::Refused(
                    "its author is a viewer, who may not change files".into(),
                ),
            },
        }
    }

    /// This device's public signing key, as text (empty without a key).
    pub(in crate::vault) fn own_signing_public(&self) -> String {
        self.keys
            .signing
            .as_ref()
            .map(|k| k.public().to_string())
            .unwrap_or_default()
    }

    /// The genesis entry for this device as the vault's first admin's.
    pub(in crate::vault) fn own_entry_genesis(
        &self,
        root: &SigningKey,
        recipient: String,
        legacy: std::collections::BTreeMap<String, Cutoff>,
    ) -> Entry {
        Entry::Genesis {
            root: root.public().to_string(),
            member: self.keys.member.clone(),
            name: self.member_name.clone(),
            device_name: self.device.device_name.clone(),
            recipient,
            signing: self.own_signing_public(),
            legacy,
            key: self
                .keys
                .collections
                .first()
                .map(|(id, k)| crate::format::team::FirstKey {
                    collection: id.clone(),
                    recipient: k.recipient().to_string(),
                }),
        }
    }

    /// Whether the folder holds a team entry with this hash (counted or
    /// not).
    pub(in crate::vault) fn has_team_entry(&self, hash: &str) -> bool {
        self.team.entries.iter().any(|e| e.hash == hash)
    }

    /// Every team entry read from the folder (unverified).
    pub(in crate::vault) fn team_entries(&self) -> impl Iterator<Item = &OpenedTeamEntry> {
        self.team.entries.iter()
    }

    /// Whether the folder holds any team entry at all (readable or not).
    pub(in crate::vault) fn has_team_entries(&self) -> bool {
        !self.team.entries.is_empty() || !self.team.status.unreadable.is_empty()
    }

    /// Signs and writes `entry` as this device's next team entry, having
    /// seen the current heads; `root` co-signs `genesis` and
    /// `recovery_admin`. Returns the entry's hash; the team is re-read.
    pub(in crate::vault) fn append_team(
        &mut self,
        entry: Entry,
        root: Option<&SigningKey>,
    ) -> Result<String, TeamWriteError> {
        let key = self.keys.signing.as_ref().ok_or(TeamWriteError::NoKey)?;
        let own = self.device.device.clone();
        // After the newest entry of this device's chain in the folder that
        // this device signed, counted or not: positions are never reused,
        // and an entry planted under this device's id is not followed.
        let public = key.public();
        let last = self
            .team
            .entries
            .iter()
            .filter(|e| {
                e.body.device == own && public.verify(fmt::DOMAIN, e.text.as_bytes(), &e.sig)
            })
            .max_by_key(|e| e.body.seq);
        let (seq, prev) = last.map_or((1, None), |e| (e.body.seq + 1, Some(e.hash.clone())));
        let heads = self
            .team
            .status
            .team
            .as_ref()
            .map(|t| t.heads.clone())
            .unwrap_or_default();
        let time = self.clock.now_ms();
        let vault = self.header.id.clone();
        let dir = self.layout.device_team(&own);
        // Like `append_chain`, but a position taken by a file this device
        // did not sign is skipped without building on it: `prev` stays this
        // device's own last entry (FORMAT.md §11.5 rule 5).
        let mut seq = seq;
        let mut prev = prev;
        let mut written = None;
        for _ in 0..1000 {
            // At most MAX_DEPS (FORMAT.md §11.3); the heads are sorted, so
            // which ones is deterministic, and what is left out is still
            // reached through `prev` chains or named by later entries.
            let deps = heads
                .iter()
                .filter(|h| Some(*h) != prev.as_ref())
                .take(fmt::MAX_DEPS)
                .cloned()
                .collect();
            let (plain, hash) = TeamBody {
                format: TEAM_VERSION,
                vault: vault.clone(),
                device: own.clone(),
                seq,
                prev: prev.clone(),
                deps,
                time,
                entry: entry.clone(),
            }
            .seal(key, root);
            let bytes = crypt::encrypt_bytes(&plain, &self.keys.recipients());
            let dest = dir.join(layout::Layout::record_name(seq));
            match fsutil::write_new(self.layout.root(), &dest, &bytes) {
                Ok(()) => {
                    written = Some(hash);
                    break;
                }
                Err(e) if e.already_exists() => {
                    let mine = self
                        .plaintext_at(&dest, ENTRY_MAX)
                        .and_then(|p| fmt::open(&p).ok())
                        .filter(|e| {
                            e.body.device == own
                                && public.verify(fmt::DOMAIN, e.text.as_bytes(), &e.sig)
                        });
                    if let Some(e) = mine {
                        prev = Some(e.hash);
                    }
                    seq += 1;
                }
                Err(e) => return Err(e.into()),
            }
        }
        let Some(hash) = written else {
            return Err(
                StorageError::planted(&dir, crate::errors::StorageCause::PositionsTaken).into(),
            );
        };
        self.load_team()?;
        Ok(hash)
    }
}
