//! Key rotation and re-encryption (docs/FORMAT.md §13).
//!
//! Removing a member or a device replaces the collection key at once: a
//! signed `key_rotate` entry names the new key's public half, and keyslots
//! carry the key to every remaining device and to the recovery identity.
//! From then on every writer encrypts to the key the team log names, so
//! nothing written afterwards opens with a key the removed party held.
//! What was written before is re-encrypted by a [`RekeyJob`], which can
//! stop at any point (kill -9 included) and simply runs again: a file
//! already under the current key is recognised from its header and left
//! alone.

use std::collections::{BTreeMap, HashSet};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::crypt::{self, DecryptFailure, HEADER_MAX};
use crate::errors::{RekeyError, StorageError, TeamActionError, WriteRefused};
use crate::format::audit::{Action, Event};
use crate::format::team::{self as fmt, Entry, OpenedTeamEntry};
use crate::format::{self as layout, Layout, TEMP_PREFIX};
use crate::fsutil;
use crate::ids;
use crate::keys::{AgeIdentity, CollectionKey, KeyslotPlain};
use crate::traits::{NoProgress, Progress};

use crate::vault::{open_keyslot, write_keyslot, Vault, KEYSLOT_MAX};

/// Largest file re-encrypted in memory (team entries, most records and
/// audit batches); larger ones are streamed, so that a worker holds at
/// most three copies of this much (docs/FORMAT.md §13.3).
const SMALL_MAX: u64 = 1 << 20;

/// Files or bytes after which a batch of re-encrypted files is made durable
/// and put in place (FORMAT.md §13.3).
const BATCH_FILES: usize = 256;
const BATCH_BYTES: u64 = 64 << 20;

/// What [`Vault::rotate_key`] did.
#[derive(Debug, Clone)]
pub struct Rotation {
    /// How many computers received the new key.
    pub devices: usize,
    /// The new key's generation (the `key_rotate` entry's hash).
    pub generation: String,
}

/// Whether the files in the vault folder are all under the current key, as
/// far as this computer knows (FORMAT.md §13).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RekeyStatus {
    /// The current key's generation, if the key was ever rotated.
    pub generation: Option<String>,
    /// Whether this computer holds the current key (it can re-encrypt).
    pub holds_key: bool,
    /// Whether this computer finished a pass for the current key.
    pub finished: bool,
}

impl RekeyStatus {
    /// Whether a re-encryption pass is due on this computer.
    pub fn due(&self) -> bool {
        self.generation.is_some() && !self.finished
    }
}

/// The outcome of one [`RekeyJob::run`].
#[derive(Debug, Clone, Default)]
pub struct RekeyReport {
    /// Files looked at.
    pub files: u64,
    /// Files re-encrypted in this run.
    pub rewritten: u64,
    /// Files already under the current key.
    pub current: u64,
    /// Bytes of the files re-encrypted.
    pub bytes: u64,
    /// Files left as they were, with the reason (damaged, or not a vault
    /// file this computer's keys open): the health check reports them too.
    pub skipped: Vec<(String, String)>,
    /// Whether the run was cancelled before the end.
    pub cancelled: bool,
}

/// A re-encryption pass over the vault folder that runs without the vault:
/// the app runs it on a worker thread while the person keeps working.
pub struct RekeyJob {
    root: PathBuf,
    /// Every collection key held, with its collection, newest last.
    identities: Vec<(String, AgeIdentity)>,
    /// The recovery identity, when the vault was opened with it.
    recovery: Option<AgeIdentity>,
    /// The collections whose records and blobs this pass moves.
    targets: Vec<Target>,
    /// The audit log's collection, if it has one this device reads.
    audit: Option<Target>,
    /// The vault's first collection (its `key_rotate` entries stay under
    /// the key before theirs).
    default: String,
    generation: String,
}

impl std::fmt::Debug for RekeyJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RekeyJob")
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

/// The keyslots an entry names: the collection they are for, the
/// recipient of the key they carry (`None` for a grant, which carries every
/// key of its collection), the slots by device, and the recovery slot.
type Slots<'a> = (
    &'a str,
    Option<&'a str>,
    &'a BTreeMap<String, String>,
    Option<&'a str>,
);

fn slots_of(entry: &Entry) -> Option<Slots<'_>> {
    match entry {
        Entry::KeyRotate {
            collection,
            recipient,
            slots,
            recovery_slot,
        }
        | Entry::CollectionAdd {
            collection,
            recipient,
            slots,
            recovery_slot,
            ..
        } => Some((collection, Some(recipient), slots, Some(recovery_slot))),
        Entry::Grant {
            collection, slots, ..
        } => Some((collection, None, slots, None)),
        _ => None,
    }
}

impl Vault {
    /// The id of the vault's first collection: its keys' id in keyslots.
    pub(in crate::vault) fn collection_id(&self) -> String {
        self.keys.default_collection().to_owned()
    }

    /// Opens the keyslots that team entries (`key_rotate`,
    /// `collection_add`, `grant`) name for this device (or, in a session
    /// with the recovery identity, for it), for keys not held yet. A key is
    /// taken only if an entry names its recipient for its collection.
    /// Whether the entries count is decided later ([`Vault::settle_keys`]);
    /// until then the keys only read. Returns whether a key was gained.
    pub(in crate::vault) fn take_rotated_keys(
        &mut self,
        entries: &[OpenedTeamEntry],
        tried: &mut HashSet<String>,
        fetched: &mut Vec<String>,
    ) -> Result<bool, StorageError> {
        let own = self.device.device.clone();
        // Every (collection, recipient) some entry names.
        let named: HashSet<(String, String)> = entries
            .iter()
            .filter_map(|e| slots_of(&e.body.entry))
            .filter_map(|(c, r, _, _)| Some((c.to_owned(), r?.to_owned())))
            .collect();
        let mut gained = false;
        // Public keys of what is held, computed once (each is a scalar
        // multiplication).
        let mut held: HashSet<String> = self
            .keys
            .collections
            .iter()
            .map(|(_, i)| i.recipient().to_string())
            .collect();
        for e in entries {
            let Some((collection, recipient, slots, recovery_slot)) = slots_of(&e.body.entry)
            else {
                continue;
            };
            if recipient.is_some_and(|r| held.contains(r)) {
                continue;
            }
            let mut candidates: Vec<(&str, AgeIdentity)> = Vec::new();
            if let (Some(slot), Some(id)) = (slots.get(&own), &self.keys.device_identity) {
                candidates.push((slot.as_str(), id.clone()));
            }
            if let (Some(slot), Some(id)) = (recovery_slot, &self.keys.recovery_identity) {
                candidates.push((slot, id.clone()));
            }
            for (slot, identity) in candidates {
                // Per entry: a planted entry naming a genuine keyslot must not
                // stop the genuine entry's key being taken.
                if !tried.insert(format!("{slot} {}", e.hash)) {
                    continue;
                }
                let Some(bytes) = fsutil::read_limited(&self.layout.keyslot(slot), KEYSLOT_MAX)?
                else {
                    continue;
                };
                let Ok(keys) = open_keyslot(&bytes, &[identity.as_age()], &self.header.id) else {
                    continue;
                };
                // Only keys an entry names (a planted keyslot carries others).
                for (id, key) in &keys.collections {
                    let r = key.recipient().to_string();
                    if id == collection
                        && named.contains(&(id.clone(), r.clone()))
                        && !held.contains(&r)
                    {
                        held.insert(r.clone());
                        self.keys.collections.push((id.clone(), key.clone()));
                        fetched.push(r);
                        gained = true;
                    }
                }
            }
        }
        Ok(gained)
    }

    /// The audit log's collection (FORMAT.md §14.4), if the team has one.
    pub(crate) fn audit_collection(&self) -> Option<String> {
        self.team()
            .team
            .as_ref()?
            .collections
            .values()
            .find(|c| c.audit)
            .map(|c| c.id.clone())
    }

    /// After the team is evaluated: keys fetched for entries that do not
    /// count are dropped, and each collection's current key is the one the
    /// last counted `key_rotate` or `collection_add` names (FORMAT.md
    /// §13.2).
    pub(in crate::vault) fn settle_keys(&mut self, fetched: &[String]) {
        let counted: HashSet<String> = self
            .team()
            .team
            .iter()
            .flat_map(|t| t.keys.iter())
            .map(|k| k.recipient.clone())
            .collect();
        self.keys.collections.retain(|(_, i)| {
            let r = i.recipient().to_string();
            !fetched.contains(&r) || counted.contains(&r)
        });
        // Start from what this device remembers, so that a team log
        // rolled back (or deleted) never sends writes to an older key.
        let mut current: BTreeMap<String, age::x25519::Recipient> = BTreeMap::new();
        for (c, seen) in &self.device.keys_seen {
            if let Ok(r) = seen.recipient.parse() {
                current.insert(c.clone(), r);
            }
        }
        let mut rolled_back = Vec::new();
        let mut changed = false;
        let team = self
            .team
            .status
            .team
            .as_ref()
            .map(|t| (t.keys.clone(), t.default_collection.clone()));
        if let Some((keys, default)) = &team {
            self.keys.default = default.clone();
            let mut newest: BTreeMap<&str, &crate::team::KeyGeneration> = BTreeMap::new();
            for k in keys {
                newest.insert(&k.collection, k);
            }
            for (c, k) in &newest {
                let seen = self.device.keys_seen.get(*c);
                // The generation remembered is gone from the folder: rolled
                // back. (One that is still there but no longer counts, a
                // voided rotation, is not.)
                let gone = seen.is_some_and(|s| {
                    s.hash != k.hash
                        && !keys.iter().any(|x| x.hash == s.hash)
                        && !self.has_team_entry(&s.hash)
                });
                if gone {
                    rolled_back.push((*c).to_owned());
                    continue;
                }
                if let Ok(r) = k.recipient.parse() {
                    current.insert((*c).to_owned(), r);
                }
                if seen.is_none_or(|s| s.hash != k.hash) {
                    self.device.keys_seen.insert(
                        (*c).to_owned(),
                        crate::local::KeySeen {
                            hash: k.hash.clone(),
                            recipient: k.recipient.clone(),
                        },
                    );
                    changed = true;
                }
            }
            for c in self.device.keys_seen.keys() {
                if !newest.contains_key(c.as_str()) {
                    rolled_back.push(c.clone());
                }
            }
        }
        self.keys.current = current;
        self.team.status.keys_rolled_back = rolled_back;
        if changed {
            // Best effort, like the record heads.
            let _ = self.local.save(&self.device);
        }
    }

    /// The collections this device may read under the team log: the
    /// vault's first, and those made with `collection_add` that the team
    /// lets it read (FORMAT.md §14.1).
    pub(crate) fn readable_collections(&self) -> Vec<Option<String>> {
        let mut out = vec![None];
        if let Some(t) = &self.team().team {
            for c in t.collections.keys() {
                if t.may_read(self.device_id(), c) {
                    out.push(Some(c.clone()));
                }
            }
        }
        out
    }

    /// A keyslot plaintext carrying `keys` of `collection` to `member`.
    fn grant_slot(
        &self,
        member: &str,
        collection: &str,
        keys: &[&AgeIdentity],
        now: i64,
    ) -> KeyslotPlain {
        KeyslotPlain {
            chartsafe_keyslot: 1,
            vault: self.header.id.clone(),
            member: member.to_owned(),
            collections: keys
                .iter()
                .map(|k| CollectionKey {
                    id: collection.to_owned(),
                    identity: secrecy::ExposeSecret::expose_secret(k.to_secret_text()).to_owned(),
                    created: now,
                })
                .collect(),
            mac_key: ids::hex(self.keys.mac.0.as_ref()),
            recovery_recipient: self.keys.recovery.to_string(),
            signing_key: None,
        }
    }

    /// Writes one keyslot per device in `to` (id, member, recipient) with
    /// `keys` of `collection`, and one for the recovery identity if
    /// `recovery`; returns the slot ids by device, and the recovery slot.
    pub(in crate::vault) fn write_slots(
        &self,
        collection: &str,
        keys: &[&AgeIdentity],
        to: &[(String, String, String)],
        recovery: bool,
    ) -> Result<(BTreeMap<String, String>, String), StorageError> {
        let now = self.clock.now_ms();
        let mut slots = BTreeMap::new();
        for (device, member, recipient) in to {
            let Ok(r) = recipient.parse::<age::x25519::Recipient>() else {
                continue;
            };
            let slot = ids::random_id();
            write_keyslot(
                &self.layout,
                &slot,
                &self.grant_slot(member, collection, keys, now),
                &r,
            )?;
            slots.insert(device.clone(), slot);
        }
        let recovery_slot = ids::random_id();
        if recovery {
            let member = self.keys.member.clone();
            write_keyslot(
                &self.layout,
                &recovery_slot,
                &self.grant_slot(&member, collection, keys, now),
                &self.keys.recovery.clone(),
            )?;
        }
        Ok((slots, recovery_slot))
    }

    /// The active devices that may read `collection`, as (id, member,
    /// recipient).
    pub(in crate::vault) fn readers_of(&self, collection: &str) -> Vec<(String, String, String)> {
        let Some(team) = self.team().team.as_ref() else {
            return Vec::new();
        };
        team.devices
            .values()
            .filter(|d| team.may_read(&d.id, collection))
            .map(|d| (d.id.clone(), d.member.clone(), d.recipient.clone()))
            .collect()
    }

    /// Replaces the key of every collection this device may read
    /// (FORMAT.md §13.1): the vault's first, and those made with
    /// `collection_add`. After a removal, that is every collection the
    /// removed party could read that this device can rotate. `why` goes
    /// into the audit log. The files already there are re-encrypted by
    /// [`Vault::rekey_job`].
    pub fn rotate_key(&mut self, why: &str) -> Result<Rotation, TeamActionError> {
        let mut first = None;
        for c in self.readable_collections() {
            let r = self.rotate_collection(c.as_deref(), why)?;
            first.get_or_insert(r);
        }
        Ok(first.expect("the first collection is always readable"))
    }

    /// The collections this device may read whose key is owed a rotation
    /// (someone who could read them no longer may, and no rotation came
    /// since: a crash between the removal and its rotation, or a rotation
    /// that did not count, FORMAT.md §13.1).
    pub fn rotation_owed(&self) -> Vec<Option<String>> {
        let Some(team) = self.team().team.as_ref() else {
            return Vec::new();
        };
        let default = self.collection_id();
        self.readable_collections()
            .into_iter()
            .filter(|c| team.owed.contains(c.as_deref().unwrap_or(&default)))
            .collect()
    }

    /// Rotates every collection in [`Vault::rotation_owed`]; returns how
    /// many.
    pub fn rotate_owed(&mut self) -> Result<usize, TeamActionError> {
        let owed = self.rotation_owed();
        for c in &owed {
            self.rotate_collection(c.as_deref(), "a rotation owed since a removal")?;
        }
        Ok(owed.len())
    }

    /// Replaces the key of one collection (`None`: the vault's first): a
    /// new key, a keyslot with it for every active device that may read the
    /// collection and for the recovery identity, and the signed
    /// `key_rotate` entry naming it.
    pub(in crate::vault) fn rotate_collection(
        &mut self,
        collection: Option<&str>,
        why: &str,
    ) -> Result<Rotation, TeamActionError> {
        self.signing_for_write()?
            .ok_or(TeamActionError::Refused(WriteRefused::NoTeam))?;
        let coll = collection.map_or_else(|| self.collection_id(), str::to_owned);
        let devices = self.readers_of(&coll);
        let fresh = AgeIdentity::generate();
        let now = self.clock.now_ms();
        let detail = format!("{why}; new key for {} computer(s)", devices.len());
        self.append_audit(vec![Event::new(now, Action::KeyRotated).detail(detail)])?;
        let (slots, recovery_slot) = self.write_slots(&coll, &[&fresh], &devices, true)?;
        let given = slots.len();
        let recipient = fresh.recipient().to_string();
        if collection.is_none() {
            // The entry goes to the key before this one (below), so that
            // devices without the new key find their keyslot.
            let previous = self.keys.recipients()[0].clone();
            self.keys.current.insert(coll.clone(), previous);
        }
        // This session holds the new key at once, whatever its own
        // keyslots say.
        self.keys.collections.push((coll.clone(), fresh));
        let entry = Entry::KeyRotate {
            collection: coll,
            recipient,
            slots,
            recovery_slot,
        };
        let hash = self.append_team(entry, None)?;
        let team = self.team().team.as_ref().ok_or(WriteRefused::NoTeam)?;
        if let Some(r) = team.rejected.iter().find(|r| r.hash == hash) {
            return Err(TeamActionError::NotAccepted(r.reason.to_string()));
        }
        Ok(Rotation {
            devices: given,
            generation: hash,
        })
    }

    /// The current key generations of the collections this device may
    /// read, as one marker (FORMAT.md §7 `rekeyed`), and whether it holds
    /// each of those keys.
    fn rekey_marker(&self) -> (Option<String>, bool) {
        let Some(team) = self.team().team.as_ref() else {
            return (None, false);
        };
        let mut parts = Vec::new();
        let mut holds = true;
        for c in self.readable_collections() {
            let id = c.clone().unwrap_or_else(|| self.collection_id());
            if let Some(k) = team.current_key(&id) {
                parts.push(k.hash.clone());
                holds &= self.keys.current_identity_for(c.as_deref()).is_some();
            }
        }
        if parts.is_empty() {
            (None, false)
        } else {
            (Some(parts.join(",")), holds)
        }
    }

    /// Whether files may still be under an older key (FORMAT.md §13.3).
    pub fn rekey_status(&self) -> RekeyStatus {
        let (generation, holds_key) = self.rekey_marker();
        RekeyStatus {
            holds_key,
            finished: generation.is_some() && self.device.rekeyed == generation,
            generation,
        }
    }

    /// A re-encryption pass to the current keys, to run with
    /// [`RekeyJob::run`] and then [`Vault::finish_rekey`].
    pub fn rekey_job(&self) -> Result<RekeyJob, RekeyError> {
        let status = self.rekey_status();
        let generation = status.generation.ok_or(RekeyError::NeverRotated)?;
        if !status.holds_key {
            return Err(RekeyError::KeyNotHere);
        }
        let identities = self.keys.collections.clone();
        let recovery = self.keys.recovery_identity.clone();
        let mut targets = Vec::new();
        for c in self.readable_collections() {
            if let (Some(current), Some(recipients)) = (
                self.keys.current_identity_for(c.as_deref()),
                self.keys.recipients_for(c.as_deref()),
            ) {
                targets.push(Target {
                    collection: c,
                    current: current.clone(),
                    recipients,
                });
            }
        }
        // The audit log goes to its own collection's key when it has one
        // (FORMAT.md §14.4); only a device that reads it can move it.
        let audit = self.audit_collection().and_then(|c| {
            Some(Target {
                current: self.keys.current_identity_for(Some(&c))?.clone(),
                recipients: self.keys.recipients_for(Some(&c))?,
                collection: Some(c),
            })
        });
        Ok(RekeyJob {
            root: self.layout.root().to_owned(),
            identities,
            recovery,
            targets,
            audit,
            default: self.collection_id(),
            generation,
        })
    }

    /// Records a finished (or stopped) pass: an audit event, and, when it
    /// ran to the end, that this computer need not run it again for these
    /// keys.
    pub fn finish_rekey(
        &mut self,
        job: &RekeyJob,
        report: &RekeyReport,
    ) -> Result<(), crate::errors::AuditWriteError> {
        let detail = format!(
            "{} re-encrypted, {} already under the current key, {} left as they were{}",
            report.rewritten,
            report.current,
            report.skipped.len(),
            if report.cancelled {
                "; stopped before the end"
            } else {
                ""
            }
        );
        let now = self.clock.now_ms();
        self.append_audit(vec![Event::new(now, Action::Rekeyed).detail(detail)])?;
        if !report.cancelled {
            self.device.rekeyed = Some(job.generation.clone());
            self.local
                .save(&self.device)
                .map_err(crate::errors::AuditWriteError)?;
        }
        Ok(())
    }
}

/// Where one collection's files go in a pass.
struct Target {
    collection: Option<String>,
    current: AgeIdentity,
    recipients: [age::x25519::Recipient; 2],
}

/// One file to look at.
struct Item {
    path: PathBuf,
    size: u64,
    team: bool,
    /// Which target's key it goes to.
    target: usize,
}

impl RekeyJob {
    /// The generation this pass re-encrypts to.
    pub fn generation(&self) -> &str {
        &self.generation
    }

    /// Re-encrypts every content file, record, audit batch and team entry
    /// (but `key_rotate` entries, which stay readable with the key before
    /// theirs, §13.1) that is not under the current key yet. Each file is
    /// decrypted and encrypted again as a stream into a temporary file
    /// beside it; batches are made durable before they replace the
    /// originals, so a crash leaves every file whole under one key or the
    /// other. Stops between files when `progress` is cancelled.
    pub fn run(&self, progress: &dyn Progress) -> Result<RekeyReport, StorageError> {
        let layout = Layout::new(&self.root);
        let mut all: Vec<&Target> = self.targets.iter().collect();
        let default = self
            .targets
            .iter()
            .position(|t| t.collection.is_none())
            .expect("the first collection is a target");
        let audit = match &self.audit {
            Some(a) => {
                all.push(a);
                all.len() - 1
            }
            None => default,
        };
        let mut items = Vec::new();
        for (i, t) in self.targets.iter().enumerate() {
            let l = layout.for_collection(t.collection.as_deref());
            collect(&l.blobs(), false, i, &mut items)?;
            let records = l.records();
            for folder in fsutil::list_dir(&records)? {
                if layout::is_ignorable(&folder) || folder.starts_with(TEMP_PREFIX) {
                    continue;
                }
                collect(&records.join(folder), false, i, &mut items)?;
            }
        }
        for (dir, team, target) in [
            (layout.audit(), false, audit),
            (layout.team(), true, default),
        ] {
            for folder in fsutil::list_dir(&dir)? {
                if layout::is_ignorable(&folder) || folder.starts_with(TEMP_PREFIX) {
                    continue;
                }
                collect(&dir.join(folder), team, target, &mut items)?;
            }
        }
        let total: u64 = items.iter().map(|i| i.size).sum();
        progress.begin(items.len() as u64, total);
        let mut report = RekeyReport::default();
        let mut rest = &items[..];
        while !rest.is_empty() {
            // A batch: up to BATCH_FILES files or BATCH_BYTES bytes.
            let mut n = 0;
            let mut bytes = 0u64;
            while n < rest.len() && n < BATCH_FILES && bytes < BATCH_BYTES {
                bytes += rest[n].size;
                n += 1;
            }
            let (chunk, later) = rest.split_at(n);
            rest = later;
            let mut batch: Vec<fsutil::Staged> = Vec::new();
            for (item, outcome) in chunk.iter().zip(self.rekey_all(chunk, &all, progress)) {
                // Not started: the person asked to stop.
                let Some(outcome) = outcome else {
                    report.cancelled = true;
                    continue;
                };
                report.files += 1;
                match outcome? {
                    Outcome::Current => report.current += 1,
                    Outcome::Skipped(why) => report
                        .skipped
                        .push((layout.relative(&item.path).into_owned(), why)),
                    Outcome::Staged(staged) => {
                        report.rewritten += 1;
                        report.bytes += item.size;
                        batch.push(staged);
                    }
                }
            }
            fsutil::replace_all(&self.root, batch)?;
            if report.cancelled {
                break;
            }
        }
        // Stopped inside the last file: not the end either.
        report.cancelled |= progress.cancelled();
        progress.end();
        Ok(report)
    }

    /// Runs [`Self::rekey_one`] for every item on as many threads as there
    /// are cores (at most 4), in order of the items. A slot is `None` when
    /// its item never started: cancelled, or an earlier error stopped the
    /// workers (that error is in its own slot).
    #[allow(clippy::type_complexity)]
    fn rekey_all(
        &self,
        items: &[Item],
        targets: &[&Target],
        progress: &dyn Progress,
    ) -> Vec<Option<Result<Outcome, StorageError>>> {
        crate::pool::run_ordered(
            items,
            || progress.cancelled(),
            Result::is_err,
            |item| {
                let result = self.rekey_one(item, targets[item.target], progress);
                progress.advance(item.size);
                progress.file_done(&item.path);
                result
            },
        )
    }

    /// Looks at one file and, if it is under an older key, stages its
    /// re-encrypted copy.
    fn rekey_one(
        &self,
        item: &Item,
        target: &Target,
        progress: &dyn Progress,
    ) -> Result<Outcome, StorageError> {
        let (file, size, prefix) = match open_old(item)? {
            Ok(old) => old,
            Err(outcome) => return Ok(outcome),
        };
        // One decryption says both whether the file is under the current
        // key already and, if not, opens it: the keys most likely to open
        // an old file come first, then the current key (marked), then the
        // recovery identity, which opens every file. Each key tried costs
        // an X25519 operation per stanza, which dominates small files.
        let current_hit = AtomicBool::new(false);
        let current = Marked {
            inner: target.current.as_age(),
            hit: &current_hit,
        };
        let current_key = target.current.recipient().to_string();
        let collection = target.collection.as_deref().unwrap_or(&self.default);
        let not_current =
            |(_, i): &&(String, AgeIdentity)| i.recipient().to_string() != current_key;
        let mut ids: Vec<&dyn age::Identity> = Vec::new();
        ids.extend(
            self.identities
                .iter()
                .rev()
                .filter(|(c, _)| c == collection)
                .filter(not_current)
                .map(|(_, i)| i.as_age() as &dyn age::Identity),
        );
        ids.extend(
            self.identities
                .iter()
                .filter(|(c, _)| c != collection)
                .filter(not_current)
                .map(|(_, i)| i.as_age() as &dyn age::Identity),
        );
        ids.push(&current);
        ids.extend(
            self.recovery
                .iter()
                .map(|i| i.as_age() as &dyn age::Identity),
        );
        let dir = item.path.parent().expect("files are in folders");
        let mut temp = fsutil::temp_in(dir)?;
        let early = if size <= SMALL_MAX {
            self.rekey_small(item, target, &ids, &current_hit, file, prefix, &mut temp)?
        } else {
            let old = io::Cursor::new(prefix).chain(file);
            rekey_stream(item, target, &ids, &current_hit, old, size, &temp, progress)?
        };
        if let Some(outcome) = early {
            return Ok(outcome);
        }
        Ok(Outcome::Staged(fsutil::Staged::new(
            temp,
            item.path.clone(),
        )?))
    }

    /// Re-encrypts a small file in memory into `temp`; `Some` when it is
    /// left as it is.
    #[allow(clippy::too_many_arguments)]
    fn rekey_small(
        &self,
        item: &Item,
        target: &Target,
        ids: &[&dyn age::Identity],
        current: &AtomicBool,
        mut file: std::fs::File,
        mut bytes: Vec<u8>,
        temp: &mut tempfile::NamedTempFile,
    ) -> Result<Option<Outcome>, StorageError> {
        // Bounded even if the file grows meanwhile.
        (&mut file)
            .take((SMALL_MAX + 1).saturating_sub(bytes.len() as u64))
            .read_to_end(&mut bytes)
            .map_err(|e| StorageError::read(&item.path, e))?;
        let plain = match crypt::decrypt_bytes(&bytes, ids) {
            Ok(p) => p,
            Err(DecryptFailure::Io(e)) => return Err(StorageError::read(&item.path, e)),
            Err(DecryptFailure::NoMatchingKey) => {
                return Ok(Some(Outcome::Skipped(
                    "no key of this vault opens it".into(),
                )))
            }
            Err(_) => return Ok(Some(Outcome::Skipped("damaged".into()))),
        };
        if current.load(Ordering::SeqCst) {
            return Ok(Some(Outcome::Current));
        }
        if item.team {
            // A key_rotate entry stays under the key before its own, for
            // devices still holding only that one (FORMAT.md §13.1).
            match fmt::open(&plain) {
                Ok(e) if matches!(&e.body.entry, Entry::KeyRotate { collection, .. } if *collection == self.default) => {
                    return Ok(Some(Outcome::Current))
                }
                Ok(_) => {}
                Err(_) => return Ok(Some(Outcome::Skipped("not a team entry".into()))),
            }
        }
        let out = crypt::encrypt_bytes(&plain, &target.recipients);
        io::Write::write_all(temp, &out).map_err(|e| StorageError::write(&item.path, e))?;
        Ok(None)
    }
}

/// Largest team entry re-encrypted (as read, FORMAT.md §11).
const TEAM_ENTRY_MAX: u64 = 1 << 20;

/// Opens a file for reading without following a link, and without blocking
/// on a FIFO planted in its place.
fn open_plain(path: &Path) -> io::Result<std::fs::File> {
    let mut o = std::fs::OpenOptions::new();
    o.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.custom_flags((rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK).bits() as i32);
    }
    #[cfg(windows)]
    {
        use std::os::windows::fs::OpenOptionsExt;
        // FILE_FLAG_OPEN_REPARSE_POINT: a symbolic link or junction is
        // opened itself, not followed; its (empty) contents then fail the
        // age header check.
        const FILE_FLAG_OPEN_REPARSE_POINT: u32 = 0x0020_0000;
        o.custom_flags(FILE_FLAG_OPEN_REPARSE_POINT);
    }
    o.open(path)
}

/// A reader that fails once the person asked to stop.
struct StopRead<'p, R> {
    inner: R,
    progress: &'p dyn Progress,
}

impl<R: Read> Read for StopRead<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.progress.cancelled() {
            return Err(crate::traits::Stopped.into());
        }
        self.inner.read(buf)
    }
}

/// Opens the file of `item` and reads the start of its age header: the
/// file, its size and what was read; or `Err` with the outcome when there
/// is nothing to re-encrypt (gone, not a regular file, not an age file
/// ChartSafe wrote).
#[allow(clippy::type_complexity)]
fn open_old(item: &Item) -> Result<Result<(std::fs::File, u64, Vec<u8>), Outcome>, StorageError> {
    let mut file = match open_plain(&item.path) {
        Ok(f) => f,
        // Purged or moved by sync meanwhile: nothing to do.
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Err(Outcome::Current)),
        // A link or something else planted in its place.
        Err(_) => return Ok(Err(Outcome::Skipped("not a regular file".into()))),
    };
    let size = match file.metadata() {
        Ok(m) if m.is_file() => m.len(),
        Ok(_) => return Ok(Err(Outcome::Skipped("not a regular file".into()))),
        Err(e) => return Err(StorageError::read(&item.path, e)),
    };
    if item.team && size > TEAM_ENTRY_MAX {
        return Ok(Err(Outcome::Skipped("too large for a team entry".into())));
    }
    // The header must end within HEADER_MAX bytes (FORMAT.md §3.3); the
    // payload's 16-byte nonce follows the header's last line.
    let mut prefix = Vec::with_capacity(HEADER_MAX + 80);
    (&mut file)
        .take(HEADER_MAX as u64 + 80)
        .read_to_end(&mut prefix)
        .map_err(|e| StorageError::read(&item.path, e))?;
    if !crypt::header_acceptable(&prefix[..prefix.len().min(HEADER_MAX)]) {
        return Ok(Err(Outcome::Skipped(
            "not an age file ChartSafe wrote".into(),
        )));
    }
    Ok(Ok((file, size, prefix)))
}

/// Re-encrypts a big file as a stream into `temp`, stopping when asked
/// (the file then stays as it was); `Some` when it is left as it is.
#[allow(clippy::too_many_arguments)]
fn rekey_stream(
    item: &Item,
    target: &Target,
    ids: &[&dyn age::Identity],
    current: &AtomicBool,
    old: impl Read + Send,
    size: u64,
    temp: &tempfile::NamedTempFile,
    progress: &dyn Progress,
) -> Result<Option<Outcome>, StorageError> {
    let decryptor = match age::Decryptor::new_buffered(io::BufReader::with_capacity(64 << 10, old))
    {
        Ok(d) => d,
        Err(_) => return Ok(Some(Outcome::Skipped("damaged".into()))),
    };
    let reader = match decryptor.decrypt(ids.iter().copied()) {
        Ok(r) => r,
        Err(age::DecryptError::NoMatchingKeys) => {
            return Ok(Some(Outcome::Skipped(
                "no key of this vault opens it".into(),
            )))
        }
        Err(_) => return Ok(Some(Outcome::Skipped("damaged".into()))),
    };
    if current.load(Ordering::SeqCst) {
        return Ok(Some(Outcome::Current));
    }
    let writer = fsutil::WriteBehind::new(temp.as_file());
    let reader = StopRead {
        inner: reader,
        progress,
    };
    // The plaintext's hash stays as recorded, and is checked at every read:
    // not computing it here halves the CPU time of the reading stage.
    match crypt::reencrypt_stream(reader, writer, size, &target.recipients, &NoProgress) {
        Ok(_) => Ok(None),
        // Asked to stop inside a big file: it stays as it was.
        Err(crypt::StreamError::Read(_)) if progress.cancelled() => Ok(Some(Outcome::Current)),
        // A bad chunk of the old file: it stays as it was.
        Err(crypt::StreamError::Read(e))
            if matches!(
                e.kind(),
                io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof
            ) =>
        {
            Ok(Some(Outcome::Skipped("damaged".into())))
        }
        Err(crypt::StreamError::Read(e)) => Err(StorageError::read(&item.path, e)),
        Err(crypt::StreamError::Write(e)) => Err(StorageError::write(&item.path, e)),
    }
}

/// An identity that notes when it opened a file (the current key: the
/// file needs no re-encryption).
struct Marked<'a> {
    inner: &'a age::x25519::Identity,
    hit: &'a AtomicBool,
}

impl age::Identity for Marked<'_> {
    fn unwrap_stanza(
        &self,
        stanza: &age_core::format::Stanza,
    ) -> Option<Result<age_core::format::FileKey, age::DecryptError>> {
        self.note(self.inner.unwrap_stanza(stanza))
    }

    fn unwrap_stanzas(
        &self,
        stanzas: &[age_core::format::Stanza],
    ) -> Option<Result<age_core::format::FileKey, age::DecryptError>> {
        self.note(self.inner.unwrap_stanzas(stanzas))
    }
}

impl Marked<'_> {
    fn note(
        &self,
        r: Option<Result<age_core::format::FileKey, age::DecryptError>>,
    ) -> Option<Result<age_core::format::FileKey, age::DecryptError>> {
        if matches!(r, Some(Ok(_))) {
            self.hit.store(true, Ordering::SeqCst);
        }
        r
    }
}

enum Outcome {
    Current,
    Skipped(String),
    Staged(fsutil::Staged),
}

/// The regular files under `dir` (one level of shard or device folders for
/// `b/`, the chain files otherwise), without following links.
fn collect(dir: &Path, team: bool, target: usize, out: &mut Vec<Item>) -> Result<(), StorageError> {
    // Folders are walked without following links (a planted link must not
    // lead the pass outside the vault folder).
    let real_dir = |p: &Path| std::fs::symlink_metadata(p).is_ok_and(|m| m.is_dir());
    if !real_dir(dir) {
        return Ok(());
    }
    let is_blobs = dir.file_name().is_some_and(|n| n == "b");
    let mut dirs = vec![dir.to_owned()];
    if is_blobs {
        dirs = fsutil::list_dir(dir)?
            .into_iter()
            .filter(|n| !layout::is_ignorable(n) && !n.starts_with(TEMP_PREFIX))
            .map(|n| dir.join(n))
            .filter(|p| real_dir(p))
            .collect();
    }
    for d in dirs {
        for name in fsutil::list_dir(&d)? {
            if layout::is_ignorable(&name) || name.starts_with(TEMP_PREFIX) {
                continue;
            }
            let path = d.join(&name);
            match std::fs::symlink_metadata(&path) {
                Ok(m) if m.is_file() => out.push(Item {
                    path,
                    size: m.len(),
                    team,
                    target,
                }),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(StorageError::read(&path, e)),
            }
        }
    }
    Ok(())
}
