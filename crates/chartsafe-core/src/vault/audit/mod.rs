//! The audit log: appending this device's batches and reading and checking
//! every device's chain (docs/FORMAT.md §10, docs/THREAT_MODEL.md §4.7).

/// Signing this device's batches and judging others' (FORMAT.md §10.6).
pub(in crate::vault) mod sign;

use crate::ids::{DeviceId, EntryId, MemberId};
use std::collections::{BTreeMap, BTreeSet, HashSet};

use crate::crypt::{self, DecryptFailure};
use crate::errors::{AuditWriteError, ListError, StorageError};
use crate::format as layout;
use crate::format::audit::{self as fmt, Action, AuditBatchError, AuditBody, Event, Head};
use crate::fsutil;
use crate::local::KnownHead;
use crate::team::Team;
use crate::vault::audit_sign::{unsigned_problems, Chains};
use crate::vault::Vault;

/// Largest audit batch read; a bigger file is not one of ours.
const BATCH_MAX: u64 = 64 << 20;

/// One recorded action, as read from the log.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditEntry {
    /// When it happened (the writer's clock), ms since the Unix epoch (UTC).
    pub time: i64,
    /// The member id of the person using the vault.
    pub member: MemberId,
    /// The device id.
    pub device: DeviceId,
    /// The device's name.
    pub device_name: String,
    /// The program and version that wrote it.
    pub app: String,
    /// What was done (an [`Action`] name; newer writers may add others).
    pub action: String,
    /// The entry id, if an entry was concerned.
    pub entry: Option<EntryId>,
    /// The entry's path at that moment.
    pub path: Option<String>,
    /// `ok`, `denied` or `failed`.
    pub outcome: String,
    /// Why it was denied or failed.
    pub reason: Option<String>,
    /// More about it (lock reason, version number, new path…).
    pub detail: Option<String>,
    /// The batch's position in its device's chain.
    pub seq: u64,
    /// Whether no signature vouches for it (an unsigned batch in a vault
    /// with a team log, FORMAT.md §10.6): a claim by whoever holds the
    /// shared key, such as a recovery identity file session, or a forgery.
    /// Reported as [`AuditProblem::Unsigned`].
    pub unverified: bool,
}

/// One device's audit chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditChain {
    /// The device id (its folder `a/<id>`).
    pub device: DeviceId,
    /// Its name.
    pub device_name: String,
    /// Batches read and accepted.
    pub batches: u64,
    /// The highest position accepted (0 if none).
    pub head: u64,
}

/// A problem in the audit log. Each names the chain (device name and its
/// folder `a/<device id>`) and the position in it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuditProblem {
    /// A batch does not decrypt: damaged, truncated, or planted.
    #[error("audit chain of \"{chain}\" ({dir}), position {position}: {file} is damaged or was not written with this vault's keys (altered or planted)")]
    Unreadable {
        /// The device name.
        chain: String,
        /// The chain's folder.
        dir: String,
        /// The position (from the file name).
        position: u64,
        /// The file.
        file: String,
    },
    /// A batch's authentication code does not match.
    #[error(
        "audit chain of \"{chain}\" ({dir}), position {position}: {file} was forged or altered"
    )]
    Forged {
        /// The device name.
        chain: String,
        /// The chain's folder.
        dir: String,
        /// The position.
        position: u64,
        /// The file.
        file: String,
    },
    /// A batch written by a newer ChartSafe.
    #[error("audit chain of \"{chain}\" ({dir}), position {position}: {file} was written by a newer ChartSafe (format {format})")]
    NewerFormat {
        /// The device name.
        chain: String,
        /// The chain's folder.
        dir: String,
        /// The position.
        position: u64,
        /// The file.
        file: String,
        /// Its format.
        format: u32,
    },
    /// A valid batch of another vault.
    #[error("audit chain of \"{chain}\" ({dir}), position {position}: {file} belongs to another vault (replayed)")]
    OtherVault {
        /// The device name.
        chain: String,
        /// The chain's folder.
        dir: String,
        /// The position.
        position: u64,
        /// The file.
        file: String,
    },
    /// A valid batch under another position or chain than its own.
    #[error("audit chain of \"{chain}\" ({dir}), position {position}: {file} holds batch #{claims_position} of \"{claims_chain}\" (reordered or replayed)")]
    Misplaced {
        /// The device name.
        chain: String,
        /// The chain's folder.
        dir: String,
        /// The position where it was found.
        position: u64,
        /// The file.
        file: String,
        /// The chain it names.
        claims_chain: String,
        /// The position it names.
        claims_position: u64,
    },
    /// Positions missing inside a chain.
    #[error("audit chain of \"{chain}\" ({dir}): positions {first} to {last} are missing (removed, or waiting for sync)")]
    Missing {
        /// The device name.
        chain: String,
        /// The chain's folder.
        dir: String,
        /// First missing position.
        first: u64,
        /// Last missing position.
        last: u64,
    },
    /// A batch does not link to the one before it.
    #[error("audit chain of \"{chain}\" ({dir}), position {position}: does not follow position {} (a batch was replaced or inserted)", position - 1)]
    Broken {
        /// The device name.
        chain: String,
        /// The chain's folder.
        dir: String,
        /// The position.
        position: u64,
    },
    /// Two different valid batches at one position, or a batch other than
    /// the one seen there before.
    #[error("audit chain of \"{chain}\" ({dir}), position {position}: holds a different batch than {by} saw there (replaced, or two devices share an id)")]
    Forked {
        /// The device name.
        chain: String,
        /// The chain's folder.
        dir: String,
        /// The position.
        position: u64,
        /// Who saw the other one ("this device" or a device name).
        by: String,
    },
    /// A signed batch that does not count under the team log (FORMAT.md
    /// §10.6): forged with another computer's name, naming another member,
    /// from a computer the team log does not list, or written after its
    /// computer was removed. Its events are not shown.
    #[error(
        "audit chain of \"{chain}\" ({dir}), position {position}: {file} does not count: {reason}"
    )]
    Refused {
        /// The device name.
        chain: String,
        /// The chain's folder.
        dir: String,
        /// The position.
        position: u64,
        /// The file.
        file: String,
        /// Why.
        reason: String,
    },
    /// Batches authenticated only with the key every member shares, which
    /// no signature vouches for (FORMAT.md §10.6): written with the
    /// recovery identity file, or forged by a key holder. Their events are
    /// shown, marked by this problem.
    #[error("audit chain of \"{chain}\" ({dir}): {count} batch(es) from position {first} are not signed by a computer of the team (written with a recovery identity file, or forged by someone holding the shared key)")]
    Unsigned {
        /// The device name.
        chain: String,
        /// The chain's folder.
        dir: String,
        /// The first such position.
        first: u64,
        /// How many.
        count: u64,
    },
    /// A batch written by a removed computer after its removal (by its own
    /// clock, FORMAT.md §10.6): what the removed computer says it did. Its
    /// events are shown, marked unverified.
    #[error("audit chain of \"{chain}\" ({dir}), position {position}: written after computer \"{chain}\" was removed from the team; its events are what that computer claims")]
    AfterRemoval {
        /// The device name.
        chain: String,
        /// The chain's folder.
        dir: String,
        /// The position.
        position: u64,
    },
    /// A batch announces team-log entries this computer does not have
    /// (FORMAT.md §10.6): the team log here was rolled back, or has not
    /// synced yet.
    #[error("audit chain of \"{chain}\" ({dir}), position {position}: its computer had seen team log entries that are not in this vault folder (the team log was rolled back, or has not synced here yet)")]
    TeamAhead {
        /// The device name.
        chain: String,
        /// The chain's folder.
        dir: String,
        /// The position.
        position: u64,
    },
    /// A chain ends before a position that was seen or announced before.
    #[error("audit chain of \"{chain}\" ({dir}) is truncated: it ends at position {found}, but {by} saw position {expected}{}", if by == "this device" { "" } else { " (or those batches have not synced here yet)" })]
    Truncated {
        /// The device name.
        chain: String,
        /// The chain's folder.
        dir: String,
        /// The position seen before.
        expected: u64,
        /// The highest position there now.
        found: u64,
        /// Who saw it ("this device" or a device name).
        by: String,
    },
}

/// The whole audit log, merged in time order, and what is wrong with it.
#[derive(Debug, Clone, Default)]
pub struct AuditLog {
    /// Every recorded action of every chain, oldest first (time, then device, then position).
    pub entries: Vec<AuditEntry>,
    /// Every chain found.
    pub chains: Vec<AuditChain>,
    /// Problems found; empty when every chain is intact.
    pub problems: Vec<AuditProblem>,
    /// This computer may not read the log: it has its own key, which only
    /// admins receive (FORMAT.md §14.4). Nothing else is filled in.
    pub restricted: bool,
}

/// Which entries [`AuditLog::filter`] keeps. Empty fields match everything.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// At or after this time (ms).
    pub since: Option<i64>,
    /// Before this time (ms).
    pub until: Option<i64>,
    /// Member id or a prefix of it.
    pub member: Option<String>,
    /// Device id, a prefix of it, or its name (any case).
    pub device: Option<String>,
    /// Entry ids; an entry also matches when its path at the time equals
    /// one of `paths` or lies below it.
    pub entries: Vec<EntryId>,
    /// Paths (see `entries`).
    pub paths: Vec<String>,
    /// Action names.
    pub actions: Vec<String>,
}

impl AuditFilter {
    /// Whether `e` passes.
    pub fn matches(&self, e: &AuditEntry) -> bool {
        self.since.is_none_or(|t| e.time >= t)
            && self.until.is_none_or(|t| e.time < t)
            && self
                .member
                .as_deref()
                .is_none_or(|m| e.member.starts_with(m))
            && self
                .device
                .as_deref()
                .is_none_or(|d| e.device.starts_with(d) || e.device_name.eq_ignore_ascii_case(d))
            && (self.actions.is_empty() || self.actions.contains(&e.action))
            && ((self.entries.is_empty() && self.paths.is_empty())
                || e.entry
                    .as_ref()
                    .is_some_and(|id| self.entries.iter().any(|x| id == x))
                || e.path.as_ref().is_some_and(|p| {
                    self.paths
                        .iter()
                        .any(|x| p == x || p.starts_with(&format!("{x}/")))
                }))
    }
}

impl AuditLog {
    /// The entries `filter` keeps, in order.
    pub fn filter<'a>(&'a self, filter: &'a AuditFilter) -> impl Iterator<Item = &'a AuditEntry> {
        self.entries.iter().filter(|e| filter.matches(e))
    }
}

/// A UTC time stamp `YYYY-MM-DDTHH:MM:SS.mmmZ` (RFC 3339) from ms since the epoch.
pub fn utc_time(ms: i64) -> String {
    let secs = ms.div_euclid(1000).rem_euclid(86_400);
    format!(
        "{}T{:02}:{:02}:{:02}.{:03}Z",
        crate::names::date(ms),
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        ms.rem_euclid(1000)
    )
}

/// See [`Vault::pending_events`].
#[derive(Clone)]
pub struct PendingEvents(crate::local::LocalDir);

impl PendingEvents {
    /// Notes a lock at `time` (ms) for `reason`, to be written at the next open.
    pub fn push_lock(&self, time: i64, reason: &str) {
        let _ = self
            .0
            .push_pending(Event::new(time, Action::Locked).detail(reason));
    }
}

impl std::fmt::Debug for PendingEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PendingEvents")
    }
}

/// Why one batch file was not accepted.
enum Bad {
    Unreadable,
    Forged,
    Newer(u32),
    OtherVault,
    Misplaced(String, u64),
    Refused(String),
}

/// Why a signed batch does not count under `team` (FORMAT.md §10.6);
/// `None` if it does, or if it is unsigned (judged by coverage).
fn refuse_batch(team: &crate::team::Team, b: &fmt::OpenedBatch) -> Option<String> {
    if !b.is_signed() {
        return None;
    }
    let Some(d) = team.devices.get(&b.body.device) else {
        return Some("it was written by a computer the team log does not list".into());
    };
    if !b.signed_by(&d.signing) {
        return Some(format!(
            "its signature is not computer \"{}\"'s: forged or altered",
            d.name
        ));
    }
    if b.body.member != d.member {
        return Some("it names another member than its computer's".into());
    }
    None
}

/// Whether a batch of a removed computer was written (by its own clock)
/// after its removal: its own events, which only that computer vouches for
/// (FORMAT.md §10.6).
fn after_removal(
    removed_at: &std::collections::HashMap<String, i64>,
    b: &fmt::OpenedBatch,
) -> bool {
    removed_at
        .get(&b.body.device)
        .is_some_and(|t| b.body.time > *t)
}

/// A file name from the vault folder, safe to print.
fn escape(name: &str) -> String {
    name.chars().flat_map(char::escape_debug).collect()
}

impl Vault {
    /// The identifying string written into batches as `app`.
    pub fn app(&self) -> &str {
        &self.app
    }

    /// The other chains' heads, announced once per session (§10.3).
    fn heads_to_announce(&self) -> BTreeMap<String, Head> {
        if self.announced {
            return BTreeMap::new();
        }
        let own = &self.device.device;
        self.device
            .audit_known
            .iter()
            .filter(|(d, _)| *d != own)
            .map(|(d, k)| {
                let head = Head {
                    seq: k.seq,
                    hash: k.hash.clone(),
                };
                (d.clone(), head)
            })
            .collect()
    }

    /// What a signed batch vouches for (FORMAT.md §10.6): the team log's
    /// heads this device accepted, and (once) the legacy chains it vouches
    /// for. Nothing for a device without a signing key.
    fn vouches(&mut self) -> (Vec<String>, BTreeMap<String, Head>) {
        if self.keys.signing.is_none() {
            return (Vec::new(), BTreeMap::new());
        }
        let team = self
            .team()
            .team
            .as_ref()
            .map(|t| t.heads.iter().take(fmt::MAX_TEAM_HEADS).cloned().collect())
            .unwrap_or_default();
        (team, std::mem::take(&mut self.legacy_vouch))
    }

    /// Appends `events` to this device's audit chain as one batch, durably,
    /// together with the events that were waiting locally (FORMAT.md §10.4).
    pub(crate) fn append_audit(&mut self, mut events: Vec<Event>) -> Result<(), AuditWriteError> {
        let pending = self.local.pending();
        let had_pending = !pending.is_empty();
        if had_pending {
            let mut all = pending;
            all.append(&mut events);
            events = all;
        }
        if events.is_empty() {
            return Ok(());
        }
        let own = self.device.device.clone();
        let seen = self.heads_to_announce();
        let head = self.device.audit_known.get(&own);
        let seq = head.map_or(1, |h| h.seq + 1);
        let prev = head.map(|h| h.hash.clone());
        let dir = self.layout.device_audit(&own);
        std::fs::create_dir_all(&dir).map_err(|e| AuditWriteError(StorageError::write(&dir, e)))?;
        // To the audit log's own key once the team has one: admins only
        // read it (FORMAT.md §14.4).
        let recipients = self
            .audit_collection()
            .and_then(|c| self.keys.recipients_for(Some(&c)))
            .unwrap_or_else(|| self.keys.recipients());
        let (team, legacy) = self.vouches();
        let (seq, hash) = self
            .append_chain(
                &dir,
                seq,
                prev,
                BATCH_MAX,
                &recipients,
                // A batch depends on nothing written before it: syncing
                // the whole filesystem would wait for unrelated writes.
                true,
                |seq, prev| {
                    let body = AuditBody {
                        format: fmt::AUDIT_VERSION,
                        vault: self.header.id.clone(),
                        device: own.clone(),
                        device_name: self.device.device_name.clone(),
                        member: self.keys.member.clone(),
                        seq,
                        prev,
                        time: self.clock.now_ms(),
                        app: self.app.clone(),
                        events: events.clone(),
                        seen: seen.clone(),
                        team: team.clone(),
                        legacy: legacy.clone(),
                    };
                    match &self.keys.signing {
                        Some(key) => body.seal_signed(&self.keys.mac, key),
                        None => body.seal(&self.keys.mac),
                    }
                },
                // A batch at our next name is built on only if it is ours:
                // signed with our key when we sign (anyone holding the MAC
                // key can plant an unsigned one there, FORMAT.md §10.6).
                |plain, at| {
                    fmt::open(plain, &self.keys.mac)
                        .ok()
                        .filter(|b| b.body.device == own && b.body.seq == at)
                        .filter(|b| match &self.keys.signing {
                            Some(k) => b.signed_by(&k.public()),
                            None => true,
                        })
                        .map(|b| b.hash)
                },
            )
            .map_err(AuditWriteError)?;
        let name = self.device.device_name.clone();
        self.device
            .audit_known
            .insert(own, KnownHead { seq, hash, name });
        self.announced = true;
        if had_pending {
            self.local.clear_pending();
        }
        // Losing this only weakens truncation detection of our own chain.
        let _ = self.local.save(&self.device);
        Ok(())
    }

    /// Records one event for the caller (the app records what only it
    /// sees: an audit export, for instance). Fails if it cannot be written.
    pub fn record(&mut self, event: Event) -> Result<(), AuditWriteError> {
        self.append_audit(vec![event])
    }

    /// Records several events as one batch (one write and one sync).
    pub fn record_all(&mut self, events: Vec<Event>) -> Result<(), AuditWriteError> {
        if events.is_empty() {
            return Ok(());
        }
        self.append_audit(events)
    }

    /// The current time by the vault's clock.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// A handle that records a lock on this device even when the vault
    /// itself cannot be had (an operation holds it): the event waits
    /// locally and goes into the next batch (FORMAT.md §10.4).
    pub fn pending_events(&self) -> PendingEvents {
        PendingEvents(self.local.clone())
    }

    /// Locks the vault: records why (manual, idle, sleep, screen lock,
    /// quit) and lets go of the keys. Always succeeds: if the event cannot
    /// be written into the vault folder, it waits on this device and goes
    /// into the next batch (FORMAT.md §10.4).
    pub fn lock(mut self, reason: &str) {
        self.record_lock(reason);
    }

    /// Records a lock without giving up the vault, for callers that hold it
    /// shared and drop it afterwards. Always succeeds, as [`Vault::lock`].
    pub fn record_lock(&mut self, reason: &str) {
        let event = Event::new(self.clock.now_ms(), Action::Locked).detail(reason);
        if self.append_audit(vec![event.clone()]).is_err() {
            let _ = self.local.push_pending(event);
        }
    }

    /// Reads every device's audit chain, checks it (FORMAT.md §10.3) and
    /// merges the entries in time order. Afterwards this device remembers the
    /// heads it verified, and announces them in its next batch.
    pub fn audit_log(&mut self) -> Result<AuditLog, ListError> {
        // Batches are judged by the team log as it is now (FORMAT.md §10.6).
        self.load_team()?;
        if let (Some(c), Some(team)) = (self.audit_collection(), self.team().team.as_ref()) {
            if !team.may_read(self.device_id(), &c) {
                return Ok(AuditLog {
                    restricted: true,
                    ..AuditLog::default()
                });
            }
        }
        // With a team log, batches are judged by it (FORMAT.md §10.6).
        let team = match self.pinned_root() {
            Some(_) => self.team().team.clone(),
            None => None,
        };
        let (chains, rejected) = self.read_audit_chains(team.as_ref())?;
        let remembered = self.remembered_chain_names();
        let name_of = |device: &str, chains: &Chains| chain_name(device, chains, &remembered);
        let occupied = occupied_positions(&chains, &rejected);
        let mut problems = rejected_problems(rejected, &chains, &name_of);
        let claims = self.head_claims(&chains);
        let vouch = match &team {
            Some(t) => self.vouch_candidates(t, &chains),
            None => BTreeMap::new(),
        };
        let unverified = match &team {
            Some(t) => self.signature_problems(t, &chains, &vouch, &name_of, &mut problems),
            None => HashSet::new(),
        };
        let mut out = AuditLog::default();
        let mut learned = false;
        let mut devices: Vec<&String> = chains.keys().chain(claims.keys()).collect();
        devices.sort();
        devices.dedup();
        let empty = BTreeMap::new();
        for device in devices {
            let by_seq = chains.get(device).unwrap_or(&empty);
            let chain = name_of(device, &chains);
            let at = Place {
                chain: &chain,
                dir: &dir_of(device),
            };
            problems.extend(gaps(&at, occupied.get(device.as_str())));
            problems.extend(links(&at, by_seq));
            problems.extend(truncation(&at, by_seq, claims.get(device)));
            if by_seq.is_empty() {
                continue;
            }
            let head = by_seq.keys().next_back().copied().unwrap_or(0);
            out.chains.push(AuditChain {
                device: DeviceId::checked(device.clone()),
                device_name: chain.clone(),
                batches: by_seq.values().map(|b| b.len() as u64).sum(),
                head,
            });
            out.entries.extend(entries(by_seq, &unverified));
            learned |= self.remember_head(device, &chain, head, by_seq);
        }
        if learned {
            // Best effort: losing it only weakens truncation detection.
            let _ = self.local.save(&self.device);
        }
        self.write_vouch(vouch);
        // A stable order: time, then device, then position (entries of one
        // batch keep their order: the sort is stable).
        out.entries.sort_by(|a, b| {
            a.time
                .cmp(&b.time)
                .then_with(|| a.device.cmp(&b.device))
                .then_with(|| a.seq.cmp(&b.seq))
        });
        out.problems = problems;
        Ok(out)
    }

    /// Every batch file of `a/`, opened and checked one by one: the
    /// accepted batches by device and position, and the files refused with
    /// why (their chain's name is known only once every file is read).
    fn read_audit_chains(&self, team: Option<&Team>) -> Result<(Chains, Vec<Rejected>), ListError> {
        let identities = self.keys.identities();
        let root = self.layout.audit();
        let mut chains = Chains::new();
        let mut rejected = Vec::new();
        for (device, copies) in &fsutil::device_folders(&root)? {
            let by_seq = chains.entry(device.clone()).or_default();
            for folder in copies {
                let dir = root.join(folder);
                for name in fsutil::list_dir(&dir)? {
                    let Some(seq) = layout::chain_position(&name) else {
                        continue;
                    };
                    let file = format!("a/{}/{}", escape(folder), escape(&name));
                    let batch =
                        match self.open_batch(&dir.join(&name), &identities, device, seq, team)? {
                            Ok(batch) => batch,
                            Err(bad) => {
                                rejected.push((device.clone(), seq, file, bad));
                                continue;
                            }
                        };
                    let same = by_seq.entry(seq).or_default();
                    if !same.iter().any(|b| b.hash == batch.hash) {
                        same.push(batch);
                    }
                }
            }
        }
        Ok((chains, rejected))
    }

    /// One batch file at position `seq` of `device`'s chain: the batch, or
    /// why it does not count. Only a failure to read the folder is an error.
    fn open_batch(
        &self,
        path: &std::path::Path,
        identities: &[&dyn age::Identity],
        device: &str,
        seq: u64,
        team: Option<&Team>,
    ) -> Result<Result<fmt::OpenedBatch, Bad>, ListError> {
        let Some(bytes) = fsutil::read_limited(path, BATCH_MAX)? else {
            return Ok(Err(Bad::Unreadable));
        };
        let plain = match crypt::decrypt_bytes(&bytes, identities) {
            Ok(p) => p,
            Err(DecryptFailure::Io(e)) => return Err(StorageError::read(path, e).into()),
            Err(_) => return Ok(Err(Bad::Unreadable)),
        };
        let batch = match fmt::open(&plain, &self.keys.mac) {
            Ok(b) => b,
            Err(AuditBatchError::BadMac) => return Ok(Err(Bad::Forged)),
            Err(AuditBatchError::NewerFormat(f)) => return Ok(Err(Bad::Newer(f))),
            Err(_) => return Ok(Err(Bad::Unreadable)),
        };
        if batch.body.vault != self.header.id {
            return Ok(Err(Bad::OtherVault));
        }
        if batch.body.device != device || batch.body.seq != seq {
            let bad = Bad::Misplaced(batch.body.device_name.clone(), batch.body.seq);
            return Ok(Err(bad));
        }
        if let Some(reason) = team.and_then(|t| refuse_batch(t, &batch)) {
            return Ok(Err(Bad::Refused(reason)));
        }
        Ok(Ok(batch))
    }

    /// Chain names this device remembers, for chains whose batches are all
    /// gone.
    fn remembered_chain_names(&self) -> BTreeMap<String, String> {
        self.device
            .known
            .iter()
            .chain(self.device.audit_known.iter())
            .filter(|(_, k)| !k.name.is_empty())
            .map(|(d, k)| (d.clone(), k.name.clone()))
            .collect()
    }

    /// Heads announced by others, and by this device's memory (§10.3): by
    /// device, (position, hash, who claims it).
    fn head_claims(&self, chains: &Chains) -> BTreeMap<String, Vec<Claim>> {
        let mut claims: BTreeMap<String, Vec<Claim>> = BTreeMap::new();
        for (device, known) in &self.device.audit_known {
            claims.entry(device.clone()).or_default().push((
                known.seq,
                known.hash.clone(),
                "this device".to_owned(),
            ));
        }
        for b in chains.values().flat_map(|c| c.values()).flatten() {
            for (device, head) in &b.body.seen {
                if *device != b.body.device {
                    claims.entry(device.clone()).or_default().push((
                        head.seq,
                        head.hash.clone(),
                        format!("\"{}\"", b.body.device_name),
                    ));
                }
            }
        }
        claims
    }

    /// Signatures (FORMAT.md §10.6): batches a removed computer wrote after
    /// its removal, unsigned batches no signed batch or admin vouches for,
    /// and signed batches naming team entries this device lacks. Returns
    /// the hashes of the batches no signature vouches for.
    fn signature_problems(
        &self,
        team: &Team,
        chains: &Chains,
        vouch: &BTreeMap<String, Head>,
        name_of: &dyn Fn(&str, &Chains) -> String,
        problems: &mut Vec<AuditProblem>,
    ) -> HashSet<String> {
        let removed_at = self.removal_times();
        let mut unverified = HashSet::new();
        let mut late = HashSet::new();
        for (device, by_seq) in chains {
            for (&position, batches) in by_seq {
                for b in batches.iter().filter(|b| after_removal(&removed_at, b)) {
                    unverified.insert(b.hash.clone());
                    late.insert(b.hash.clone());
                    problems.push(AuditProblem::AfterRemoval {
                        chain: name_of(device, chains),
                        dir: dir_of(device),
                        position,
                    });
                }
            }
        }
        let (found, loose) = unsigned_problems(team, chains, vouch, &late, name_of, &dir_of);
        problems.extend(found);
        unverified.extend(loose);
        let known: HashSet<&str> = self.team_entries().map(|e| e.hash.as_str()).collect();
        for (device, by_seq) in chains {
            let ahead = by_seq.iter().rev().find(|(_, bs)| {
                bs.iter().any(|b| {
                    b.is_signed() && b.body.team.iter().any(|h| !known.contains(h.as_str()))
                })
            });
            if let Some((&position, _)) = ahead {
                problems.push(AuditProblem::TeamAhead {
                    chain: name_of(device, chains),
                    dir: dir_of(device),
                    position,
                });
            }
        }
        unverified
    }

    /// Remembers the head of `device`'s chain verified now, for later
    /// truncation checks; whether it is newer than what was remembered.
    fn remember_head(
        &mut self,
        device: &str,
        chain: &str,
        head: u64,
        by_seq: &BTreeMap<u64, Vec<fmt::OpenedBatch>>,
    ) -> bool {
        let Some(batches) = by_seq.get(&head) else {
            return false;
        };
        let newer = self
            .device
            .audit_known
            .get(device)
            .is_none_or(|k| head > k.seq);
        if newer {
            self.device.audit_known.insert(
                device.to_owned(),
                KnownHead {
                    seq: head,
                    hash: batches[0].hash.clone(),
                    name: chain.to_owned(),
                },
            );
            self.announced = false;
        }
        newer
    }
}

/// A refused batch file: (device, position, file, why).
type Rejected = (String, u64, String, Bad);

/// A claim about a chain's head: (position, hash, who claims it).
type Claim = (u64, String, String);

/// A chain as messages name it: its device's name and its folder.
struct Place<'a> {
    chain: &'a str,
    dir: &'a str,
}

/// A chain's name for messages: from its own newest batch, else from what
/// this device remembers.
fn chain_name(device: &str, chains: &Chains, remembered: &BTreeMap<String, String>) -> String {
    chains
        .get(device)
        .and_then(|c| c.values().next_back())
        .map(|b| b[0].body.device_name.clone())
        .or_else(|| remembered.get(device).cloned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "unknown device".to_owned())
}

fn dir_of(device: &str) -> String {
    format!("a/{device}")
}

/// Positions where some file was found, good or bad: a bad file is
/// reported for itself, not also as a gap.
fn occupied_positions(chains: &Chains, rejected: &[Rejected]) -> BTreeMap<String, BTreeSet<u64>> {
    let mut occupied: BTreeMap<String, BTreeSet<u64>> = BTreeMap::new();
    for (device, position, _, _) in rejected {
        occupied
            .entry(device.clone())
            .or_default()
            .insert(*position);
    }
    for (device, by_seq) in chains {
        occupied
            .entry(device.clone())
            .or_default()
            .extend(by_seq.keys().copied());
    }
    occupied
}

/// One problem per refused file, named by its chain.
fn rejected_problems(
    rejected: Vec<Rejected>,
    chains: &Chains,
    name_of: &dyn Fn(&str, &Chains) -> String,
) -> Vec<AuditProblem> {
    rejected
        .into_iter()
        .map(|(device, position, file, bad)| {
            let chain = name_of(&device, chains);
            let dir = dir_of(&device);
            match bad {
                Bad::Unreadable => AuditProblem::Unreadable {
                    chain,
                    dir,
                    position,
                    file,
                },
                Bad::Forged => AuditProblem::Forged {
                    chain,
                    dir,
                    position,
                    file,
                },
                Bad::Newer(format) => AuditProblem::NewerFormat {
                    chain,
                    dir,
                    position,
                    file,
                    format,
                },
                Bad::OtherVault => AuditProblem::OtherVault {
                    chain,
                    dir,
                    position,
                    file,
                },
                Bad::Misplaced(claims_chain, claims_position) => AuditProblem::Misplaced {
                    chain,
                    dir,
                    position,
                    file,
                    claims_chain,
                    claims_position,
                },
                Bad::Refused(reason) => AuditProblem::Refused {
                    chain,
                    dir,
                    position,
                    file,
                    reason,
                },
            }
        })
        .collect()
}

/// One problem per gap in a chain's positions, however long (a forged
/// number must not make a list of billions).
fn gaps(at: &Place<'_>, occupied: Option<&BTreeSet<u64>>) -> Vec<AuditProblem> {
    let mut problems = Vec::new();
    let mut expected = 1u64;
    for &seq in occupied.into_iter().flatten() {
        if seq > expected {
            problems.push(AuditProblem::Missing {
                chain: at.chain.to_owned(),
                dir: at.dir.to_owned(),
                first: expected,
                last: seq - 1,
            });
        }
        expected = seq.saturating_add(1);
    }
    problems
}

/// Two batches at one position, and batches that do not follow the one
/// before them (or a first batch that claims a predecessor).
fn links(at: &Place<'_>, by_seq: &BTreeMap<u64, Vec<fmt::OpenedBatch>>) -> Vec<AuditProblem> {
    let mut problems = Vec::new();
    let broken = |position| AuditProblem::Broken {
        chain: at.chain.to_owned(),
        dir: at.dir.to_owned(),
        position,
    };
    let mut previous: Option<(u64, &Vec<fmt::OpenedBatch>)> = None;
    for (&seq, batches) in by_seq {
        if batches.len() > 1 {
            problems.push(AuditProblem::Forked {
                chain: at.chain.to_owned(),
                dir: at.dir.to_owned(),
                position: seq,
                by: "another device".into(),
            });
        }
        if let Some((prev_seq, prev)) = previous {
            let follows = |b: &fmt::OpenedBatch| {
                prev.iter()
                    .any(|p| b.body.prev.as_deref() == Some(p.hash.as_str()))
            };
            if prev_seq + 1 == seq && !batches.iter().any(follows) {
                problems.push(broken(seq));
            }
        } else if seq == 1 && batches.iter().any(|b| b.body.prev.is_some()) {
            problems.push(broken(seq));
        }
        previous = Some((seq, batches));
    }
    problems
}

/// A chain shorter than a head someone announced (reported once, for the
/// strongest claim: the highest position, then this device's), and a
/// claimed head that is not the batch found at its position.
fn truncation(
    at: &Place<'_>,
    by_seq: &BTreeMap<u64, Vec<fmt::OpenedBatch>>,
    claims: Option<&Vec<Claim>>,
) -> Vec<AuditProblem> {
    let mut problems = Vec::new();
    let found = by_seq.keys().next_back().copied().unwrap_or(0);
    let mut reported_truncation = false;
    let mut list = claims.cloned().unwrap_or_default();
    list.sort_by(|a, b| {
        b.0.cmp(&a.0)
            .then_with(|| (a.2 != "this device").cmp(&(b.2 != "this device")))
    });
    for (seq, hash, by) in list {
        if found < seq {
            if !reported_truncation {
                problems.push(AuditProblem::Truncated {
                    chain: at.chain.to_owned(),
                    dir: at.dir.to_owned(),
                    expected: seq,
                    found,
                    by,
                });
                reported_truncation = true;
            }
        } else if let Some(batches) = by_seq.get(&seq) {
            if !batches.iter().any(|b| b.hash == hash) {
                problems.push(AuditProblem::Forked {
                    chain: at.chain.to_owned(),
                    dir: at.dir.to_owned(),
                    position: seq,
                    by,
                });
            }
        }
    }
    problems
}

/// The events of a chain's batches, as entries.
fn entries<'a>(
    by_seq: &'a BTreeMap<u64, Vec<fmt::OpenedBatch>>,
    unverified: &'a HashSet<String>,
) -> impl Iterator<Item = AuditEntry> + 'a {
    by_seq.values().flatten().flat_map(move |b| {
        let body = &b.body;
        body.events.iter().map(move |e| AuditEntry {
            time: e.time,
            // The batch was checked with is_well_formed (FORMAT.md §10.1).
            member: MemberId::checked(body.member.clone()),
            device: DeviceId::checked(body.device.clone()),
            device_name: body.device_name.clone(),
            app: body.app.clone(),
            action: e.action.clone(),
            entry: e.entry.clone().map(EntryId::checked),
            path: e.path.clone(),
            outcome: e.outcome.clone(),
            reason: e.reason.clone(),
            detail: e.detail.clone(),
            seq: body.seq,
            unverified: unverified.contains(&b.hash),
        })
    })
}

#[cfg(test)]
mod time_tests {
    use crate::vault::*;

    #[test]
    fn times_are_rfc_3339_utc_with_milliseconds() {
        assert_eq!(utc_time(1_780_000_000_123), "2026-05-28T20:26:40.123Z");
    }
}
