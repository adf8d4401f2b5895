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

use std::collections::HashSet;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use crate::crypt::{self, DecryptFailure, HEADER_MAX};
use crate::errors::{RekeyError, StorageError, TeamActionError, WriteRefused};
use crate::format::audit::{Action, Event};
use crate::format::team::{self as fmt, Entry, OpenedTeamEntry};
use crate::format::{self as layout, Layout, TEMP_PREFIX};
use crate::fsutil;
use crate::ids;
use crate::keys::{AgeIdentity, CollectionKey, KeyslotPlain};
use crate::traits::{NoProgress, Progress};

use super::{open_keyslot, write_keyslot, Vault, KEYSLOT_MAX};

/// Largest file re-encrypted in memory (records, audit batches, team
/// entries); blobs are streamed.
const SMALL_MAX: u64 = 64 << 20;

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
    identities: Vec<AgeIdentity>,
    current: AgeIdentity,
    recipients: [age::x25519::Recipient; 2],
    generation: String,
}

impl std::fmt::Debug for RekeyJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RekeyJob")
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

impl Vault {
    /// The id of the vault's (only) collection: its keys' id in keyslots.
    pub(super) fn collection_id(&self) -> String {
        self.keys.collections[0].0.clone()
    }

    /// Opens the keyslots that `key_rotate` entries name for this device
    /// (or, in a session with the recovery identity, for it), for keys not
    /// held yet. Whether the entries count is decided later
    /// ([`Vault::settle_keys`]); until then the keys only read. Returns
    /// whether a key was gained.
    pub(super) fn take_rotated_keys(
        &mut self,
        entries: &[OpenedTeamEntry],
        tried: &mut HashSet<String>,
        fetched: &mut Vec<String>,
    ) -> Result<bool, StorageError> {
        let coll = self.collection_id();
        let own = self.device.device.clone();
        let mut gained = false;
        for e in entries {
            let Entry::KeyRotate {
                collection,
                recipient,
                slots,
                recovery_slot,
            } = &e.body.entry
            else {
                continue;
            };
            if *collection != coll || self.holds(recipient) {
                continue;
            }
            let mut candidates: Vec<(&String, AgeIdentity)> = Vec::new();
            if let (Some(slot), Some(id)) = (slots.get(&own), &self.keys.device_identity) {
                candidates.push((slot, id.clone()));
            }
            if let Some(id) = &self.keys.recovery_identity {
                candidates.push((recovery_slot, id.clone()));
            }
            for (slot, identity) in candidates {
                if !tried.insert(slot.clone()) {
                    continue;
                }
                let Some(bytes) = fsutil::read_limited(&self.layout.keyslot(slot), KEYSLOT_MAX)?
                else {
                    continue;
                };
                let Ok(keys) = open_keyslot(&bytes, &[identity.as_age()], &self.header.id) else {
                    continue;
                };
                // Only the key the entry names (a planted keyslot carries
                // another one).
                let found = keys
                    .collections
                    .iter()
                    .find(|(id, i)| *id == coll && i.recipient().to_string() == *recipient)
                    .map(|(_, i)| i.clone());
                if let Some(identity) = found {
                    self.keys.collections.push((coll.clone(), identity));
                    fetched.push(recipient.clone());
                    gained = true;
                    break;
                }
            }
        }
        Ok(gained)
    }

    /// Whether this session holds the key whose recipient is `recipient`.
    fn holds(&self, recipient: &str) -> bool {
        self.keys
            .collections
            .iter()
            .any(|(_, i)| i.recipient().to_string() == recipient)
    }

    /// After the team is evaluated: keys fetched for entries that do not
    /// count are dropped, and the current key is the one the last counted
    /// rotation names (FORMAT.md §13.2).
    pub(super) fn settle_keys(&mut self, fetched: &[String]) {
        let coll = self.collection_id();
        let counted: HashSet<String> = self
            .team()
            .team
            .iter()
            .flat_map(|t| t.keys.iter())
            .filter(|k| k.collection == coll)
            .map(|k| k.recipient.clone())
            .collect();
        self.keys.collections.retain(|(_, i)| {
            let r = i.recipient().to_string();
            !fetched.contains(&r) || counted.contains(&r)
        });
        self.keys.current = self
            .team()
            .team
            .as_ref()
            .and_then(|t| t.current_key(&coll))
            .and_then(|k| k.recipient.parse().ok());
    }

    /// Replaces the collection key (FORMAT.md §13.1): a new key, a keyslot
    /// with it for every active device of the team and for the recovery
    /// identity, and the signed `key_rotate` entry naming it. Everything
    /// written from now on, by any device that has seen the entry, is
    /// encrypted to the new key. `why` goes into the audit log. The files
    /// already there are re-encrypted by [`Vault::rekey_job`].
    pub fn rotate_key(&mut self, why: &str) -> Result<Rotation, TeamActionError> {
        self.signing_for_write()?
            .ok_or(TeamActionError::Refused(WriteRefused::NoTeam))?;
        let team = self.team().team.as_ref().ok_or(WriteRefused::NoTeam)?;
        let devices: Vec<(String, String, String)> = team
            .devices
            .values()
            .filter(|d| team.role_of_device(&d.id).is_some())
            .map(|d| (d.id.clone(), d.member.clone(), d.recipient.clone()))
            .collect();
        let coll = self.collection_id();
        let fresh = AgeIdentity::generate();
        let now = self.clock.now_ms();
        let detail = format!("{why}; new key for {} computer(s)", devices.len());
        self.append_audit(vec![Event::new(now, Action::KeyRotated).detail(detail)])?;
        let slot_for = |member: &str| KeyslotPlain {
            chartsafe_keyslot: 1,
            vault: self.header.id.clone(),
            member: member.to_owned(),
            collections: vec![CollectionKey {
                id: coll.clone(),
                identity: secrecy::ExposeSecret::expose_secret(fresh.to_secret_text()).to_owned(),
                created: now,
            }],
            mac_key: ids::hex(self.keys.mac.0.as_ref()),
            recovery_recipient: self.keys.recovery.to_string(),
            signing_key: None,
        };
        let mut slots = std::collections::BTreeMap::new();
        for (device, member, recipient) in &devices {
            let Ok(to) = recipient.parse::<age::x25519::Recipient>() else {
                continue;
            };
            let slot = ids::random_id();
            write_keyslot(&self.layout, &slot, &slot_for(member), &to)?;
            slots.insert(device.clone(), slot);
        }
        let recovery_slot = ids::random_id();
        let member = self.keys.member.clone();
        write_keyslot(
            &self.layout,
            &recovery_slot,
            &slot_for(&member),
            &self.keys.recovery.clone(),
        )?;
        let given = slots.len();
        // The entry goes to the key before this one (below); this session
        // holds the new one at once, whatever its own keyslots say.
        self.keys.current = Some(self.keys.recipients()[0].clone());
        self.keys.collections.push((coll.clone(), fresh));
        let entry = Entry::KeyRotate {
            collection: coll,
            recipient: self
                .keys
                .collections
                .last()
                .expect("pushed")
                .1
                .recipient()
                .to_string(),
            slots,
            recovery_slot,
        };
        // Encrypted to the key before this one (the current one until the
        // entry counts), so that every device that may read can find its
        // keyslot (FORMAT.md §13.1).
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

    /// Whether files may still be under an older key (FORMAT.md §13.3).
    pub fn rekey_status(&self) -> RekeyStatus {
        let coll = self.collection_id();
        let generation = self
            .team()
            .team
            .as_ref()
            .and_then(|t| t.current_key(&coll))
            .map(|k| k.hash.clone());
        RekeyStatus {
            holds_key: generation.is_some() && self.keys.current_identity().is_some(),
            finished: generation.is_some() && self.device.rekeyed == generation,
            generation,
        }
    }

    /// A re-encryption pass to the current key, to run with
    /// [`RekeyJob::run`] and then [`Vault::finish_rekey`].
    pub fn rekey_job(&self) -> Result<RekeyJob, RekeyError> {
        let status = self.rekey_status();
        let generation = status.generation.ok_or(RekeyError::NeverRotated)?;
        let current = self
            .keys
            .current_identity()
            .ok_or(RekeyError::KeyNotHere)?
            .clone();
        let mut identities: Vec<AgeIdentity> = self
            .keys
            .collections
            .iter()
            .map(|(_, i)| i.clone())
            .collect();
        identities.extend(self.keys.recovery_identity.iter().cloned());
        Ok(RekeyJob {
            root: self.layout.root().to_owned(),
            identities,
            current,
            recipients: self.keys.recipients(),
            generation,
        })
    }

    /// Records a finished (or stopped) pass: an audit event, and, when it
    /// ran to the end, that this computer need not run it again for this
    /// key.
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

/// One file to look at.
struct Item {
    path: PathBuf,
    size: u64,
    team: bool,
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
        let mut items = Vec::new();
        collect(&layout.blobs(), false, &mut items)?;
        for (dir, team) in [
            (layout.records(), false),
            (layout.audit(), false),
            (layout.team(), true),
        ] {
            for folder in fsutil::list_dir(&dir)? {
                if layout::is_ignorable(&folder) || folder.starts_with(TEMP_PREFIX) {
                    continue;
                }
                collect(&dir.join(folder), team, &mut items)?;
            }
        }
        let total: u64 = items.iter().map(|i| i.size).sum();
        progress.begin(items.len() as u64, total);
        let mut report = RekeyReport::default();
        let mut batch: Vec<fsutil::Staged> = Vec::new();
        let mut batch_bytes = 0u64;
        for item in &items {
            if progress.cancelled() {
                report.cancelled = true;
                break;
            }
            report.files += 1;
            let relative = layout.relative(&item.path).into_owned();
            match self.rekey_one(item)? {
                Outcome::Current => report.current += 1,
                Outcome::Skipped(why) => report.skipped.push((relative, why)),
                Outcome::Staged(staged) => {
                    batch_bytes += item.size;
                    report.rewritten += 1;
                    report.bytes += item.size;
                    batch.push(staged);
                }
            }
            progress.advance(item.size);
            progress.file_done(&item.path);
            if batch.len() >= BATCH_FILES || batch_bytes >= BATCH_BYTES {
                fsutil::replace_all(&self.root, std::mem::take(&mut batch))?;
                batch_bytes = 0;
            }
        }
        fsutil::replace_all(&self.root, batch)?;
        progress.end();
        Ok(report)
    }

    /// Looks at one file and, if it is under an older key, stages its
    /// re-encrypted copy.
    fn rekey_one(&self, item: &Item) -> Result<Outcome, StorageError> {
        let mut file = match std::fs::File::open(&item.path) {
            Ok(f) => f,
            // Purged or moved by sync meanwhile: nothing to do.
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Outcome::Current),
            Err(e) => return Err(StorageError::read(&item.path, e)),
        };
        // The header must end within HEADER_MAX bytes (FORMAT.md §3.3); the
        // payload's 16-byte nonce follows the header's last line.
        let mut prefix = Vec::with_capacity(HEADER_MAX + 80);
        (&mut file)
            .take(HEADER_MAX as u64 + 80)
            .read_to_end(&mut prefix)
            .map_err(|e| StorageError::read(&item.path, e))?;
        if !crypt::header_ends_in(&prefix[..prefix.len().min(HEADER_MAX)]) {
            return Ok(Outcome::Skipped("not an age file ChartSafe wrote".into()));
        }
        // Under the current key already? Only the header is read for that.
        let current = age::Decryptor::new_buffered(&prefix[..]).map(|d| {
            d.decrypt(std::iter::once(self.current.as_age() as &dyn age::Identity))
                .map(|_| ())
        });
        match current {
            Ok(Ok(())) => return Ok(Outcome::Current),
            Ok(Err(age::DecryptError::NoMatchingKeys)) => {}
            _ => return Ok(Outcome::Skipped("damaged".into())),
        }
        let ids: Vec<&dyn age::Identity> =
            self.identities.iter().map(|i| i.as_age() as _).collect();
        let dir = item.path.parent().expect("files are in folders");
        let mut temp = fsutil::temp_in(dir)?;
        if item.team || item.size <= SMALL_MAX {
            let mut bytes = prefix;
            file.read_to_end(&mut bytes)
                .map_err(|e| StorageError::read(&item.path, e))?;
            let plain = match crypt::decrypt_bytes(&bytes, &ids) {
                Ok(p) => p,
                Err(DecryptFailure::Io(e)) => return Err(StorageError::read(&item.path, e)),
                Err(DecryptFailure::NoMatchingKey) => {
                    return Ok(Outcome::Skipped("no key of this vault opens it".into()))
                }
                Err(_) => return Ok(Outcome::Skipped("damaged".into())),
            };
            if item.team {
                // A key_rotate entry stays under the key before its own, for
                // devices still holding only that one (FORMAT.md §13.1).
                match fmt::open(&plain) {
                    Ok(e) if matches!(e.body.entry, Entry::KeyRotate { .. }) => {
                        return Ok(Outcome::Current)
                    }
                    Ok(_) => {}
                    Err(_) => return Ok(Outcome::Skipped("not a team entry".into())),
                }
            }
            let out = crypt::encrypt_bytes(&plain, &self.recipients);
            io::Write::write_all(&mut temp, &out)
                .map_err(|e| StorageError::write(&item.path, e))?;
        } else {
            let input = io::Cursor::new(prefix).chain(file);
            let decryptor =
                match age::Decryptor::new_buffered(io::BufReader::with_capacity(64 << 10, input)) {
                    Ok(d) => d,
                    Err(_) => return Ok(Outcome::Skipped("damaged".into())),
                };
            let reader = match decryptor.decrypt(ids.iter().copied()) {
                Ok(r) => r,
                Err(age::DecryptError::NoMatchingKeys) => {
                    return Ok(Outcome::Skipped("no key of this vault opens it".into()))
                }
                Err(_) => return Ok(Outcome::Skipped("damaged".into())),
            };
            let writer = fsutil::WriteBehind::new(temp.as_file());
            match crypt::encrypt_stream(reader, writer, item.size, &self.recipients, &NoProgress) {
                Ok(_) => {}
                // A bad chunk of the old file: it stays as it was.
                Err(crypt::StreamError::Read(e))
                    if matches!(
                        e.kind(),
                        io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof
                    ) =>
                {
                    return Ok(Outcome::Skipped("damaged".into()))
                }
                Err(crypt::StreamError::Read(e)) => return Err(StorageError::read(&item.path, e)),
                Err(crypt::StreamError::Write(e)) => {
                    return Err(StorageError::write(&item.path, e))
                }
            }
        }
        Ok(Outcome::Staged(fsutil::Staged::new(
            temp,
            item.path.clone(),
        )?))
    }
}

enum Outcome {
    Current,
    Skipped(String),
    Staged(fsutil::Staged),
}

/// The regular files under `dir` (one level of shard or device folders for
/// `b/`, the chain files otherwise), without following links.
fn collect(dir: &Path, team: bool, out: &mut Vec<Item>) -> Result<(), StorageError> {
    let is_blobs = dir.file_name().is_some_and(|n| n == "b");
    let mut dirs = vec![dir.to_owned()];
    if is_blobs {
        dirs = fsutil::list_dir(dir)?
            .into_iter()
            .filter(|n| !layout::is_ignorable(n) && !n.starts_with(TEMP_PREFIX))
            .map(|n| dir.join(n))
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
                }),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(StorageError::read(&path, e)),
            }
        }
    }
    Ok(())
}
