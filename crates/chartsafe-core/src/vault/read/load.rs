//! Reading every record of the vault folder and checking it (docs/FORMAT.md §5,
//! docs/THREAT_MODEL.md §4).

use crate::ids::EntryId;
use std::collections::{BTreeMap, HashMap, HashSet};

use crate::crypt::{self, DecryptFailure};
use crate::errors::ListError;
use crate::format::audit::{Action, Event, Outcome};
use crate::format::record::{self, Kind, OpenedRecord, RecordError};
use crate::format::{self as layout, Layout};
use crate::fsutil;
use crate::local::KnownHead;
use crate::tree::{Node, Tree};
use crate::vault::team::RecordVerdict;
use crate::vault::Vault;

/// A file name from the vault folder, safe to print (control characters escaped).
fn escape(name: &str) -> String {
    name.chars().flat_map(char::escape_debug).collect()
}

/// Largest record read; a bigger file is not one of ours.
pub(crate) const RECORD_MAX: u64 = 64 << 20;

/// Something wrong in the vault folder that does not stop the rest of it from
/// being used. Each names the file concerned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Problem {
    /// A record cannot be decrypted: damaged, truncated, or not encrypted to this vault.
    #[error("record {file} is damaged or not from this vault; its changes are ignored")]
    RecordUnreadable {
        /// The record file, relative to the vault folder.
        file: String,
    },
    /// A record's authentication code does not match: forged or altered.
    #[error("record {file} was forged or altered; its changes are ignored")]
    RecordForged {
        /// The record file.
        file: String,
    },
    /// A valid record sits under another name than its own: replayed or renamed.
    #[error("record {file} is a replay of record #{claims_seq} of device {claims_device} ({entries}); ignored")]
    RecordReplayed {
        /// The record file.
        file: String,
        /// The device the record names.
        claims_device: String,
        /// The sequence number the record names.
        claims_seq: u64,
        /// Names of the entries it touches.
        entries: String,
    },
    /// A record written by a newer ChartSafe.
    #[error("record {file} was written by a newer ChartSafe (format {format}); update ChartSafe to see its changes")]
    RecordFromNewerVersion {
        /// The record file.
        file: String,
        /// Its format.
        format: u32,
    },
    /// A record does not follow the one before it in its device's chain.
    #[error("record {file} does not follow record #{prev_seq} of device \"{device_name}\" (a record was replaced)")]
    ChainBroken {
        /// The record file.
        file: String,
        /// The device's name.
        device_name: String,
        /// The sequence number it should follow.
        prev_seq: u64,
    },
    /// A record names another place than where it was found (§5.7): copied
    /// from one collection's folder into another's.
    #[error("record {file} belongs in {belongs}/, not here (copied from another collection's folder); ignored")]
    RecordMisplaced {
        /// The record file.
        file: String,
        /// Where it says it belongs (`r` or `c/<collection id>`).
        belongs: String,
    },
    /// A record of another vault was copied in.
    #[error("record {file} belongs to another vault; ignored")]
    RecordFromOtherVault {
        /// The record file.
        file: String,
    },
    /// Records are missing from a device's chain.
    #[error("records #{first} to #{last} of device \"{device_name}\" are missing ({dir}): waiting for sync, or deleted")]
    RecordMissing {
        /// The device's record folder.
        dir: String,
        /// Its name.
        device_name: String,
        /// The first missing sequence number.
        first: u64,
        /// The last missing sequence number (equal to `first` for one).
        last: u64,
    },
    /// Two different valid records claim the same place in a device's chain.
    #[error("device \"{device_name}\" has two different records #{seq} ({dir}); both are shown")]
    RecordForked {
        /// The device's record folder.
        dir: String,
        /// Its name.
        device_name: String,
        /// The sequence number.
        seq: u64,
    },
    /// A record does not stand under the team log (FORMAT.md §11.6): its
    /// changes are not applied.
    #[error("record {file} of device \"{device_name}\" does not count: {reason}")]
    RecordRefused {
        /// The record file.
        file: String,
        /// The device's name, as the record gives it.
        device_name: String,
        /// Why.
        reason: String,
    },
    /// A record cannot be judged yet (FORMAT.md §11.6): its changes are not
    /// applied until what it needs syncs.
    #[error("record {file} of device \"{device_name}\" is waiting: {reason}")]
    RecordWaiting {
        /// The record file.
        file: String,
        /// The device's name, as the record gives it.
        device_name: String,
        /// Why.
        reason: String,
    },
    /// The team log went back to an older state than this device saw
    /// (FORMAT.md §11.7): an entry it had accepted is gone from the folder.
    /// It still counts here (from this device's copy) and was written back.
    #[error("the team log in the vault folder went back to an older state: {what} had disappeared (an older copy of t/ was restored, or files were deleted or replaced); this computer still counts it and wrote it back")]
    TeamRolledBack {
        /// What went back, for people ("the removal of \"Nurse Joy\"").
        what: String,
    },
    /// Another device's records went back to an older state than this device saw.
    #[error("records of device \"{device_name}\" were rolled back ({dir}): #{expected} was seen before, only #{found} is there now")]
    RolledBack {
        /// The device's record folder.
        dir: String,
        /// Its name.
        device_name: String,
        /// The newest sequence number seen before.
        expected: u64,
        /// The newest found now.
        found: u64,
    },
}

/// Whether an entry's content can be read here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncState {
    /// Folders, and files whose content is in the vault folder.
    Available,
    /// The content was written by another device and has not arrived yet.
    WaitingForSync,
    /// The content was written by this device and is gone (deleted).
    Missing,
}

/// One visible entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryInfo {
    /// Path in the vault, `/`-separated, NFC.
    pub path: String,
    /// File or folder.
    pub kind: Kind,
    /// Plaintext size (files).
    pub size: u64,
    /// The source file's modification time, ms since the epoch, when known.
    pub modified: Option<i64>,
    /// When this version was written (writer's clock).
    pub changed: i64,
    /// The name of the device that wrote this version, as its record
    /// claims it (the team log's name for [`EntryInfo::changed_by_device`]
    /// is the one vouched for, §11.5).
    pub changed_by: String,
    /// The id of the device whose signed record wrote this version.
    pub changed_by_device: String,
    /// Whether the content is here.
    pub sync: SyncState,
    /// Shown as a conflict copy.
    pub conflict: bool,
    /// The entry id.
    pub id: EntryId,
}

/// The result of listing a vault.
#[derive(Debug, Clone)]
pub struct Listing {
    /// Every visible entry, sorted by path.
    pub entries: Vec<EntryInfo>,
    /// Problems found in the vault folder.
    pub problems: Vec<Problem>,
}

/// Everything read from the folder in one pass.
pub(crate) struct Snapshot {
    pub tree: Tree,
    pub problems: Vec<Problem>,
    /// Blob ids present in the folder.
    pub blobs: HashSet<String>,
    /// The collection each named blob belongs to (`None`: the vault's
    /// first): where its file is (FORMAT.md §14.3).
    pub blob_home: HashMap<String, Option<String>>,
}

impl Snapshot {
    /// The file of blob `blob`.
    pub(crate) fn blob_path(&self, layout: &Layout, blob: &str) -> std::path::PathBuf {
        let home = self.blob_home.get(blob).cloned().flatten();
        layout.for_collection(home.as_deref()).blob(blob)
    }

    /// The shard folder of blob `blob`.
    pub(crate) fn blob_shard(&self, layout: &Layout, blob: &str) -> std::path::PathBuf {
        let home = self.blob_home.get(blob).cloned().flatten();
        layout.for_collection(home.as_deref()).blob_shard(blob)
    }
}

/// Where a record file was found: its chain (collection and device) and
/// position. A record must name the same (FORMAT.md §5.7).
struct Position<'a> {
    coll: Option<&'a str>,
    device: &'a str,
    seq: u64,
}

/// Each chain's newest record: chain -> (position, hash, device name).
type Heads = BTreeMap<String, (u64, String, String)>;

/// What [`Vault::load`] gathers while reading the chains.
#[derive(Default)]
struct Read {
    problems: Vec<Problem>,
    opened: Vec<(String, OpenedRecord)>,
    heads: Heads,
}

/// A chain's own problems: gaps (one per gap, however long: a forged
/// number must not make a list of billions), forks, records that do not
/// name the one before them (FORMAT.md §5.1), and a record this device saw
/// that is no longer the same one.
fn record_chain_problems(
    rel: &str,
    by_seq: &BTreeMap<u64, Vec<OpenedRecord>>,
    known: Option<&KnownHead>,
) -> Vec<Problem> {
    let mut problems = Vec::new();
    let device_name = by_seq
        .values()
        .next_back()
        .map(|recs| recs[0].body.device_name.clone())
        .unwrap_or_default();
    let mut expected = 1;
    let mut previous: Option<(u64, &Vec<OpenedRecord>)> = None;
    for (&seq, recs) in by_seq {
        let name = recs[0].body.device_name.clone();
        if seq > expected {
            problems.push(Problem::RecordMissing {
                dir: rel.to_owned(),
                device_name: name.clone(),
                first: expected,
                last: seq - 1,
            });
        }
        if recs.len() > 1 {
            problems.push(Problem::RecordForked {
                dir: rel.to_owned(),
                device_name: name,
                seq,
            });
        }
        expected = seq.saturating_add(1);
    }
    for (&seq, recs) in by_seq {
        if let Some((prev_seq, prev_recs)) = previous {
            let follows = |r: &OpenedRecord| {
                prev_recs
                    .iter()
                    .any(|p| r.body.prev.as_deref() == Some(p.hash.as_str()))
            };
            if prev_seq.checked_add(1) == Some(seq) && !recs.iter().any(follows) {
                problems.push(Problem::ChainBroken {
                    file: format!("{rel}/{}", Layout::record_name(seq)),
                    device_name: device_name.clone(),
                    prev_seq,
                });
            }
        }
        previous = Some((seq, recs));
    }
    if let Some(known) = known {
        if let Some(recs) = by_seq.get(&known.seq) {
            if !recs.iter().any(|r| r.hash == known.hash) {
                problems.push(Problem::RecordForked {
                    dir: rel.to_owned(),
                    device_name,
                    seq: known.seq,
                });
            }
        }
    }
    problems
}

impl Vault {
    /// Reads and checks every record.
    pub(crate) fn load(&mut self) -> Result<Snapshot, ListError> {
        // Who may write, as the team log says now (FORMAT.md §11.6).
        self.load_team()?;
        let mut read = Read {
            problems: self
                .team()
                .rolled_back
                .iter()
                .map(|what| Problem::TeamRolledBack { what: what.clone() })
                .collect(),
            ..Read::default()
        };
        // Every collection this device may read: its record chains are read
        // the same way, each under its own folder (FORMAT.md §14.3).
        let collections = self.readable_collections();
        for coll in &collections {
            // A sync client may copy a whole device folder (`<id> (1)`): its
            // records are read as the device's own (FORMAT.md §6.3).
            let records_dir = self.layout.for_collection(coll.as_deref()).records();
            for (device, copies) in fsutil::device_folders(&records_dir)? {
                self.read_chain(coll.as_deref(), &device, &copies, &mut read)?;
            }
        }
        let reading: HashSet<Option<&str>> = collections.iter().map(|c| c.as_deref()).collect();
        read.problems
            .extend(self.rolled_back_chains(&read.heads, &reading));
        self.remember_record_heads(&read.heads);
        let blobs = self.blob_ids(&collections)?;
        self.flag_refused(&read.problems);
        let tree = Tree::build(&read.opened);
        // Where each blob a version names lives: its entry's collection.
        let mut blob_home = HashMap::new();
        for v in &tree.versions {
            if let Some(c) = &v.state.content {
                let (coll, _) = crate::vault::collections::split_key(&v.entry);
                blob_home.insert(c.blob.clone(), coll.map(str::to_owned));
            }
        }
        Ok(Snapshot {
            tree,
            problems: read.problems,
            blobs,
            blob_home,
        })
    }

    /// Reads one device's record chain in collection `coll` (its folder and
    /// any sync-client copies of it), checks each record, then the chain.
    fn read_chain(
        &self,
        coll: Option<&str>,
        device: &str,
        copies: &[String],
        read: &mut Read,
    ) -> Result<(), ListError> {
        let records_dir = self.layout.for_collection(coll).records();
        let prefix = match coll {
            None => "r".to_owned(),
            Some(c) => format!("c/{c}/r"),
        };
        // Only this collection's keys: a record copied here from another
        // collection's folder does not open (FORMAT.md §14.3).
        let identities = self.keys.identities_only(coll);
        let mut candidates: Vec<(String, u64, OpenedRecord)> = Vec::new();
        for folder in copies {
            let dir = records_dir.join(folder);
            for name in fsutil::list_dir(&dir)? {
                let Some(seq) = layout::chain_position(&name) else {
                    continue;
                };
                // Names read from the folder are untrusted: escaped for messages.
                let file = format!("{prefix}/{}/{}", escape(folder), escape(&name));
                let at = Position { coll, device, seq };
                match self.open_record(&dir.join(&name), &identities, &at, &file)? {
                    Ok(rec) => candidates.push((file, seq, rec)),
                    Err(problem) => read.problems.push(problem),
                }
            }
        }
        // Judged once the whole chain is read: cutoffs follow `prev`
        // (FORMAT.md §11.6).
        let all: Vec<&OpenedRecord> = candidates.iter().map(|(_, _, r)| r).collect();
        let cuts = self.cuts_for(device, coll, &all);
        let mut by_seq: BTreeMap<u64, Vec<OpenedRecord>> = BTreeMap::new();
        for (file, seq, rec) in candidates {
            let device_name = rec.body.device_name.clone();
            match self.judge_record(&rec, &cuts, coll) {
                RecordVerdict::Stands => {}
                RecordVerdict::Waiting(reason) => {
                    read.problems.push(Problem::RecordWaiting {
                        file,
                        device_name,
                        reason,
                    });
                    continue;
                }
                RecordVerdict::Refused(reason) => {
                    read.problems.push(Problem::RecordRefused {
                        file,
                        device_name,
                        reason,
                    });
                    continue;
                }
            }
            let same = by_seq.entry(seq).or_default();
            if !same.iter().any(|r| r.hash == rec.hash) {
                same.push(rec);
            }
        }
        let rel = format!("{prefix}/{device}");
        let chain = crate::vault::collections::scoped(coll, device);
        let known = self.device.known.get(&chain);
        read.problems
            .extend(record_chain_problems(&rel, &by_seq, known));
        if let Some((&seq, recs)) = by_seq.iter().next_back() {
            let device_name = recs[0].body.device_name.clone();
            read.heads
                .insert(chain, (seq, recs[0].hash.clone(), device_name));
        }
        for (seq, recs) in by_seq {
            for mut r in recs {
                // Judged: the signed text is not needed again, and is as
                // big as the record (memory at 100k files).
                r.signed = None;
                let r = match coll {
                    None => r,
                    Some(c) => crate::vault::collections::scope_record(r, c),
                };
                read.opened
                    .push((format!("{rel}/{}", Layout::record_name(seq)), r));
            }
        }
        Ok(())
    }

    /// One record file at position `at` of a chain: the record, or the
    /// problem that keeps it out. Only a failure to read the
    /// folder is an error.
    fn open_record(
        &self,
        path: &std::path::Path,
        identities: &[&dyn age::Identity],
        at: &Position<'_>,
        file: &str,
    ) -> Result<Result<OpenedRecord, Problem>, ListError> {
        let file = file.to_owned();
        let Some(bytes) = fsutil::read_limited(path, RECORD_MAX)? else {
            return Ok(Err(Problem::RecordUnreadable { file }));
        };
        let plain = match crypt::decrypt_bytes(&bytes, identities) {
            Ok(p) => p,
            Err(DecryptFailure::Io(e)) => {
                return Err(crate::errors::StorageError::read(path, e).into())
            }
            Err(_) => return Ok(Err(Problem::RecordUnreadable { file })),
        };
        let rec = match record::open(&plain, &self.keys.mac) {
            Ok(r) => r,
            Err(RecordError::BadMac) => return Ok(Err(Problem::RecordForged { file })),
            Err(RecordError::NewerFormat(format)) => {
                return Ok(Err(Problem::RecordFromNewerVersion { file, format }))
            }
            Err(_) => return Ok(Err(Problem::RecordUnreadable { file })),
        };
        if rec.body.vault != self.header.id {
            return Ok(Err(Problem::RecordFromOtherVault { file }));
        }
        // A signed record names where it belongs (§5.7): one copied from
        // elsewhere is refused.
        let place = record::RecordBody::place_of(at.coll);
        if rec.body.place.as_ref().is_some_and(|p| *p != place) {
            return Ok(Err(Problem::RecordMisplaced {
                file,
                belongs: escape(rec.body.place.as_deref().unwrap_or_default()),
            }));
        }
        if rec.body.device != at.device || rec.body.seq != at.seq {
            let entries = rec
                .body
                .ops
                .iter()
                .map(|o| format!("\"{}\"", o.state.name))
                .collect::<Vec<_>>()
                .join(", ");
            return Ok(Err(Problem::RecordReplayed {
                file,
                claims_device: rec.body.device_name.clone(),
                claims_seq: rec.body.seq,
                entries,
            }));
        }
        Ok(Ok(rec))
    }

    /// Chains shorter than this device saw them: rolled back by someone who
    /// can write to the folder, or not synced back yet.
    fn rolled_back_chains(&self, heads: &Heads, reading: &HashSet<Option<&str>>) -> Vec<Problem> {
        let mut problems = Vec::new();
        for (chain, known) in &self.device.known {
            let (coll, device) = crate::vault::collections::split_key(chain);
            // A collection this device no longer reads is not rolled back.
            if !reading.contains(&coll) {
                continue;
            }
            let found = heads.get(chain).map_or(0, |h| h.0);
            if found < known.seq {
                let dir = match coll {
                    None => format!("r/{device}"),
                    Some(c) => format!("c/{c}/r/{device}"),
                };
                let device_name = heads
                    .get(chain)
                    .map_or_else(|| known.name.clone(), |h| h.2.clone());
                problems.push(Problem::RolledBack {
                    dir,
                    device_name,
                    expected: known.seq,
                    found,
                });
            }
        }
        problems
    }

    /// Remembers the newest head of each chain, for rollback detection.
    fn remember_record_heads(&mut self, heads: &Heads) {
        let mut changed = false;
        for (device, (seq, hash, name)) in heads {
            let newer = self.device.known.get(device).is_none_or(|k| *seq > k.seq);
            if newer {
                self.device.known.insert(
                    device.clone(),
                    KnownHead {
                        seq: *seq,
                        hash: hash.clone(),
                        name: name.clone(),
                    },
                );
                changed = true;
            }
        }
        if changed {
            // Best effort: failing to remember heads only weakens rollback detection.
            let _ = self.local.save(&self.device);
        }
    }

    /// The content files present in the readable collections; a blob
    /// counts only in its own shard (FORMAT.md §1).
    fn blob_ids(&self, collections: &[Option<String>]) -> Result<HashSet<String>, ListError> {
        let mut blobs = HashSet::new();
        for coll in collections {
            let blob_dir = self.layout.for_collection(coll.as_deref()).blobs();
            for shard in fsutil::list_dir(&blob_dir)? {
                if layout::is_ignorable(&shard) {
                    continue;
                }
                for name in fsutil::list_dir(&blob_dir.join(&shard))? {
                    if layout::is_ignorable(&name) {
                        continue;
                    }
                    if let Some(base) = layout::strip_copy_marker(&name, 26) {
                        if base.get(..2) == Some(shard.as_str()) {
                            blobs.insert(base.to_owned());
                        }
                    }
                }
            }
        }
        Ok(blobs)
    }

    /// Records in this device's audit log, once each, every change it
    /// refused: records written without the right to (a viewer, a removed
    /// device, no write grant, a forgery) and team entries that do not
    /// count (FORMAT.md §11.5, §11.6). Best effort: a log that cannot be
    /// written now gets them at a later read.
    fn flag_refused(&mut self, problems: &[Problem]) {
        // A session without the root key trusts no signature: it refuses
        // everything signed, which says nothing about the writers.
        if self.pinned_root().is_none() {
            return;
        }
        let now = self.clock.now_ms();
        let mut events = Vec::new();
        let mut keys = Vec::new();
        for p in problems {
            if let Problem::TeamRolledBack { what } = p {
                let key = format!("rollback {what}");
                if !self.device.flagged.contains(&key) {
                    events.push(
                        Event::new(now, Action::ChangeRefused)
                            .outcome(Outcome::Denied, p.to_string())
                            .detail(format!("team log: {what}")),
                    );
                    keys.push(key);
                }
            }
            if let Problem::RecordRefused {
                file,
                device_name,
                reason,
            } = p
            {
                let key = format!("r {file}");
                if !self.device.flagged.contains(&key) {
                    events.push(
                        Event::new(now, Action::ChangeRefused)
                            .outcome(Outcome::Denied, reason.clone())
                            .detail(format!("{file}, from device \"{device_name}\"")),
                    );
                    keys.push(key);
                }
            }
        }
        if let Some(team) = &self.team().team {
            for r in &team.rejected {
                let key = format!("t {}", r.hash);
                if !self.device.flagged.contains(&key) {
                    events.push(
                        Event::new(now, Action::ChangeRefused)
                            .outcome(Outcome::Denied, r.reason.to_string())
                            .detail(format!(
                                "team entry {} of t/{} #{}",
                                r.kind, r.device, r.seq
                            )),
                    );
                    keys.push(key);
                }
            }
        }
        // Bounded: a flood of planted files is recorded up to a point.
        events.truncate(1000);
        keys.truncate(1000);
        if events.is_empty() || self.device.flagged.len() > 100_000 {
            return;
        }
        if self.append_audit(events).is_ok() {
            self.device.flagged.extend(keys);
            let _ = self.local.save(&self.device);
        }
    }

    /// Lists every visible entry and the problems found.
    pub fn list(&mut self) -> Result<Listing, ListError> {
        let snap = self.load()?;
        let entries = snap
            .tree
            .nodes
            .iter()
            .map(|n| self.entry_info(&snap, n))
            .collect();
        Ok(Listing {
            entries,
            problems: snap.problems,
        })
    }

    pub(crate) fn entry_info(&self, snap: &Snapshot, node: &Node) -> EntryInfo {
        let v = &snap.tree.versions[node.version];
        let content = v.state.content.as_ref();
        let sync = match content {
            Some(c) if !snap.blobs.contains(&c.blob) => {
                if v.device == self.device.device {
                    SyncState::Missing
                } else {
                    SyncState::WaitingForSync
                }
            }
            _ => SyncState::Available,
        };
        EntryInfo {
            path: node.path.clone(),
            kind: v.state.kind,
            size: content.map_or(0, |c| c.size),
            modified: content.and_then(|c| c.mtime),
            changed: v.time,
            changed_by: v.device_name.clone(),
            changed_by_device: v.device.clone(),
            sync,
            conflict: node.conflict,
            id: EntryId::checked(crate::vault::collections::split_key(&node.entry).1),
        }
    }
}
