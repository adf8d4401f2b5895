//! The health check: every record, every content file and every audit chain
//! (docs/FORMAT.md §10.5, docs/THREAT_MODEL.md §4.6).
//!
//! Content files are decrypted as streams into nothing but a hash, so the
//! check needs neither memory nor temporary space in proportion to the vault.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use super::audit::AuditProblem;
use super::change::versions_of;
use super::get::Source;
use super::load::{Problem, Snapshot};
use super::Vault;
use crate::crypt;
use crate::errors::{AuditWriteError, GetError, ListError, StorageError};
use crate::format::audit::{Action, Event};
use crate::format::{self as layout, TEMP_PREFIX};
use crate::fsutil;
use crate::traits::Progress;

/// Temporary files of a crashed write are removable after this long (ms).
const LEFTOVER_GRACE_MS: i64 = 24 * 3600 * 1000;

/// One thing wrong in the vault folder, with what can be done about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HealthProblem {
    /// A metadata record problem (see [`Problem`]).
    #[error(transparent)]
    Record(Problem),
    /// An audit chain problem (see [`AuditProblem`]).
    #[error(transparent)]
    Audit(AuditProblem),
    /// A file's content is not in the vault folder.
    #[error("\"{path}\" ({version}): its content {blob} is missing")]
    ContentMissing {
        /// The entry's path ("trash: …" for the trash).
        path: String,
        /// Which version ("current version", "version 3").
        version: String,
        /// The blob file.
        blob: String,
        /// Written by another device: it may still be on its way.
        waiting: bool,
    },
    /// A file's content does not decrypt (damaged or truncated).
    #[error("\"{path}\" ({version}): its content {blob} is damaged or truncated")]
    ContentDamaged {
        /// The entry's path.
        path: String,
        /// Which version.
        version: String,
        /// The blob file.
        blob: String,
    },
    /// A file's content decrypts to other bytes than its record names.
    #[error("\"{path}\" ({version}): its content {blob} is not the file that was stored (swapped or replaced)")]
    ContentSubstituted {
        /// The entry's path.
        path: String,
        /// Which version.
        version: String,
        /// The blob file.
        blob: String,
    },
    /// A file's content could not be read (permissions, an I/O error).
    #[error("\"{path}\" ({version}): its content {blob} could not be read: {error}")]
    ContentUnreadable {
        /// The entry's path.
        path: String,
        /// Which version.
        version: String,
        /// The blob file.
        blob: String,
        /// What went wrong.
        error: String,
    },
    /// A content file that no record names.
    #[error("{file} ({bytes} bytes) is not named by any record (an orphan)")]
    Orphan {
        /// The file, relative to the vault folder.
        file: String,
        /// Its size.
        bytes: u64,
        /// Old enough for `--repair` to remove it.
        removable: bool,
    },
    /// A temporary file left by an interrupted write.
    #[error("{file} is a temporary file left by an interrupted write")]
    Leftover {
        /// The file, relative to the vault folder.
        file: String,
        /// Old enough for `--repair` to remove it.
        removable: bool,
    },
}

impl HealthProblem {
    /// What can be done about it, for people.
    pub fn remedy(&self) -> String {
        match self {
            Self::Record(p) => match p {
                Problem::RecordMissing { .. } => "wait for the sync client to finish; if the records never come, they were deleted: restore them from a backup of the vault folder".into(),
                Problem::RolledBack { .. } => "records were removed from the vault folder: restore them from a backup, and check who can write to the cloud folder".into(),
                Problem::RecordFromNewerVersion { .. } => "update ChartSafe on this device".into(),
                Problem::RecordUnreadable { .. } => "if the sync client is still copying it, wait; otherwise restore that file from a backup or from another device's copy of the vault folder".into(),
                _ => "someone altered the vault folder: restore the file from a backup, and check who can write to the cloud folder".into(),
            },
            Self::Audit(p) => match p {
                AuditProblem::Missing { .. } => "wait for the sync client to finish; if the batches never come, they were deleted: restore them from a backup and report it to your security officer".into(),
                AuditProblem::NewerFormat { .. } => "update ChartSafe on this device".into(),
                _ => "the audit log was tampered with: keep a copy of the vault folder as evidence, restore the chain from a backup, and report it to your security officer".into(),
            },
            Self::ContentMissing { waiting: true, .. } => "wait for the sync client to bring it; if it never comes, restore an older version of the file (its version history) or the file from a backup".into(),
            Self::ContentUnreadable { .. } => "check the file's permissions and the disk, then check again".into(),
            Self::ContentMissing { .. } | Self::ContentDamaged { .. } | Self::ContentSubstituted { .. } => "restore an older version of the file (its version history), copy the vault folder again from another computer, or restore the file from a backup".into(),
            Self::Orphan { removable: true, .. } | Self::Leftover { removable: true, .. } => "safe to remove: let the repair remove it".into(),
            Self::Orphan { .. } => "leave it: its record may still be on its way from another computer, or be one of the damaged or missing records or contents; the repair removes such files once this computer has seen them for 30 days and every record and content is whole".into(),
            Self::Leftover { .. } => "leave it: a write may still be running; the repair removes it once this computer has seen it for a day".into(),
        }
    }

    /// Whether `--repair` removes it.
    pub fn repairable(&self) -> bool {
        matches!(
            self,
            Self::Orphan {
                removable: true,
                ..
            } | Self::Leftover {
                removable: true,
                ..
            }
        )
    }
}

/// What [`Vault::verify`] found.
#[derive(Debug, Clone, Default)]
pub struct HealthReport {
    /// Every problem; empty when the vault is healthy.
    pub problems: Vec<HealthProblem>,
    /// Content files decrypted and checked.
    pub contents_checked: u64,
    /// Plaintext bytes checked.
    pub bytes_checked: u64,
    /// Audit entries read.
    pub audit_entries: u64,
}

/// What [`Vault::repair`] did.
#[derive(Debug, Clone, Default)]
pub struct RepairReport {
    /// Files removed, relative to the vault folder.
    pub removed: Vec<String>,
    /// Bytes freed.
    pub bytes: u64,
}

/// Errors of [`Vault::verify`] and [`Vault::repair`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// Reading the vault failed.
    #[error(transparent)]
    List(#[from] ListError),
    /// Reading or removing a file failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The check could not be recorded; nothing was removed.
    #[error(transparent)]
    Audit(#[from] AuditWriteError),
    /// The person (or a lock) stopped the check through [`Progress::cancelled`].
    #[error("the check was stopped")]
    Cancelled,
}

use crate::errors::Classify;

impl Classify for VerifyError {
    fn kind(&self) -> crate::errors::ErrorKind {
        match self {
            Self::List(l) => l.kind(),
            Self::Storage(s) => s.kind(),
            Self::Audit(a) => a.kind(),
            Self::Cancelled => crate::errors::ErrorKind::Cancelled,
        }
    }
}

/// Discards plaintext, failing once the work is cancelled, so that even a
/// single huge file stops promptly (a lock must not wait for a check).
struct CancelSink<'a>(&'a dyn Progress);

impl io::Write for CancelSink<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.0.cancelled() {
            return Err(crate::traits::Stopped.into());
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Whether `path` is a folder itself, not a link to one: the health
/// check never walks or removes through links (a planted `b/zz` pointing
/// elsewhere must not make files outside the vault look like orphans).
fn real_dir(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir())
}

/// Whether orphans must stay: a record problem (a damaged or unseen record
/// may name any of them) or a content problem (an orphan may be that content
/// under a name we do not recognise), FORMAT.md §10.5.
fn orphans_blocked(snap: &Snapshot, problems: &[HealthProblem]) -> bool {
    !snap.problems.is_empty()
        || problems.iter().any(|p| {
            matches!(
                p,
                HealthProblem::ContentMissing { .. }
                    | HealthProblem::ContentDamaged { .. }
                    | HealthProblem::ContentSubstituted { .. }
                    | HealthProblem::ContentUnreadable { .. }
            )
        })
}

/// A stray file found by [`Vault::strays`].
struct Stray {
    problem: HealthProblem,
    /// Its real path.
    path: PathBuf,
    /// Its key in the first-seen map: the path relative to the vault folder.
    key: String,
}

/// One content file to check, and the first version that names it.
struct Check {
    src: Source,
    label: String,
}

impl Vault {
    /// Checks the whole vault: every record decrypts and authenticates,
    /// every content file that a visible, trashed or older version names is
    /// there and decrypts to exactly the bytes its record names, no content
    /// file is an orphan, and every audit chain is intact. Progress is
    /// reported in plaintext bytes; the check is recorded in the audit log.
    pub fn verify(&mut self, progress: &dyn Progress) -> Result<HealthReport, VerifyError> {
        let snap = self.load()?;
        let mut report = HealthReport::default();
        report
            .problems
            .extend(snap.problems.iter().cloned().map(HealthProblem::Record));

        let checks = self.content_checks(&snap);
        let total: u64 = checks.iter().map(|c| c.src.content.size).sum();
        progress.begin(checks.len() as u64, total);
        let found = self.check_contents(&snap, &checks, progress);
        progress.end();
        let (mut problems, checked, bytes) = found?;
        report.problems.append(&mut problems);
        report.contents_checked = checked;
        report.bytes_checked = bytes;

        let blocked = orphans_blocked(&snap, &report.problems);
        // A stray not seen before counts from now, so the map as it was
        // gives the same verdicts as the one noted afterwards.
        let first_seen = self.local.strays_seen();
        let found = self.strays(&snap, blocked, &first_seen)?;
        self.note_strays(&first_seen, &found);
        report.problems.extend(found.into_iter().map(|s| s.problem));

        let log = self.audit_log()?;
        report.audit_entries = log.entries.len() as u64;
        report
            .problems
            .extend(log.problems.into_iter().map(HealthProblem::Audit));

        let n = report.problems.len();
        let detail = match n {
            0 => "no problems".to_owned(),
            1 => "1 problem".to_owned(),
            n => format!("{n} problems"),
        };
        self.append_audit(vec![
            Event::new(self.clock.now_ms(), Action::Checked).detail(detail)
        ])?;
        Ok(report)
    }

    /// Every content file to check, each once, labelled by the first
    /// version that names it: visible files' versions, then the trash.
    fn content_checks(&self, snap: &Snapshot) -> Vec<Check> {
        let mut seen: HashMap<&str, ()> = HashMap::new();
        let mut out = Vec::new();
        let mut add = |path: &str, entry: &str, number: usize, vi: usize, out: &mut Vec<Check>| {
            let v = &snap.tree.versions[vi];
            let Some(content) = &v.state.content else {
                return;
            };
            if seen.insert(content.blob.as_str(), ()).is_some() {
                return;
            }
            out.push(Check {
                label: if number == 1 {
                    "current version".to_owned()
                } else {
                    format!("version {number}")
                },
                src: Source {
                    path: path.to_owned(),
                    entry: entry.to_owned(),
                    version: number,
                    content: content.clone(),
                    own: v.device == self.device.device,
                },
            });
        };
        for node in &snap.tree.nodes {
            for (i, vi) in versions_of(snap, node).into_iter().enumerate() {
                add(&node.path, &node.entry, i + 1, vi, &mut out);
            }
        }
        for t in &snap.tree.trash {
            // A trashed folder's files are trashed with it.
            let mut inside = vec![(t.entry.clone(), t.path.clone())];
            inside.extend(
                Self::trashed_below(snap, &t.entry, &t.path)
                    .into_iter()
                    .map(|(e, _, p)| (e, p)),
            );
            for (entry, path) in inside {
                let mut n = 0;
                for vi in snap.tree.versions_of(&entry) {
                    if snap.tree.versions[vi].state.content.is_some() {
                        n += 1;
                        add(&format!("trash: {path}"), &entry, n, vi, &mut out);
                    }
                }
            }
        }
        out
    }

    /// Decrypts every content file into a hash, on two threads.
    fn check_contents(
        &self,
        snap: &Snapshot,
        checks: &[Check],
        progress: &dyn Progress,
    ) -> Result<(Vec<HealthProblem>, u64, u64), VerifyError> {
        let next = AtomicUsize::new(0);
        let found: Mutex<Vec<(usize, HealthProblem)>> = Mutex::new(Vec::new());
        let stopped = std::sync::atomic::AtomicBool::new(false);
        let done = AtomicUsize::new(0);
        let bytes = std::sync::atomic::AtomicU64::new(0);
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, 4);
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|| {
                    let identities = self.keys.identities();
                    loop {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        let Some(c) = checks.get(i) else { break };
                        if stopped.load(Ordering::SeqCst) || progress.cancelled() {
                            stopped.store(true, Ordering::SeqCst);
                            break;
                        }
                        let result = self.open_blob(snap, &c.src).and_then(|(file, rel)| {
                            let r = crypt::decrypt_stream(
                                file,
                                CancelSink(progress),
                                c.src.content.size,
                                &identities,
                                progress,
                            );
                            Self::check(&c.src, &rel, r)
                        });
                        if progress.cancelled() {
                            stopped.store(true, Ordering::SeqCst);
                            break;
                        }
                        done.fetch_add(1, Ordering::SeqCst);
                        let problem = match result {
                            Ok(()) => {
                                bytes.fetch_add(c.src.content.size, Ordering::SeqCst);
                                continue;
                            }
                            Err(e) => self.problem_of(snap, c, e),
                        };
                        found.lock().expect("verify lock").push((i, problem));
                    }
                });
            }
        });
        if stopped.into_inner() {
            return Err(VerifyError::Cancelled);
        }
        let mut found = found.into_inner().expect("verify lock");
        found.sort_by_key(|(i, _)| *i);
        Ok((
            found.into_iter().map(|(_, p)| p).collect(),
            done.into_inner() as u64,
            bytes.into_inner(),
        ))
    }

    /// The health problem a failed check of `c` is (FORMAT.md §10.5).
    fn problem_of(&self, snap: &Snapshot, c: &Check, e: GetError) -> HealthProblem {
        let path = c.src.path.clone();
        let version = c.label.clone();
        match e {
            GetError::BlobMissing { blob, .. } => HealthProblem::ContentMissing {
                path,
                version,
                blob,
                waiting: false,
            },
            GetError::WaitingForSync { blob, .. } => HealthProblem::ContentMissing {
                path,
                version,
                blob,
                waiting: true,
            },
            GetError::BlobSubstituted { blob, .. } | GetError::NotOurKey { blob, .. } => {
                HealthProblem::ContentSubstituted {
                    path,
                    version,
                    blob,
                }
            }
            GetError::BlobCorrupt { blob, .. } => HealthProblem::ContentDamaged {
                path,
                version,
                blob,
            },
            // One unreadable file must not stop the check.
            other => HealthProblem::ContentUnreadable {
                path,
                version,
                blob: self
                    .layout
                    .relative(&snap.blob_path(&self.layout, &c.src.content.blob))
                    .into_owned(),
                error: match other {
                    GetError::Storage(e) => e.cause().to_string(),
                    e => e.to_string(),
                },
            },
        }
    }

    /// Content files no version names, and our own temporary files.
    ///
    /// Whether one may be removed does not depend on file times (sync
    /// clients and some mounts set them to anything): this device notes
    /// when it first saw each stray (`first_seen`, kept in its local state)
    /// and counts from then (FORMAT.md §10.5). No orphan is removable while
    /// `blocked` (a record or a content is damaged or missing: it may be
    /// the very file), nor one whose name begins with a blob id a record
    /// names (a copy under a name we do not recognise may be the only one).
    fn strays(
        &self,
        snap: &Snapshot,
        blocked: bool,
        first_seen: &BTreeMap<String, i64>,
    ) -> Result<Vec<Stray>, VerifyError> {
        let named: std::collections::HashSet<&str> = snap
            .tree
            .versions
            .iter()
            .filter_map(|v| v.state.content.as_ref().map(|c| c.blob.as_str()))
            .collect();
        let now = self.clock.now_ms();
        let seen_for = |key: &str| now.saturating_sub(first_seen.get(key).copied().unwrap_or(now));
        let mut out = Vec::new();
        let mut look = |dir: &Path, rel: &str, blobs: Option<&str>| -> Result<(), VerifyError> {
            for name in fsutil::list_dir(dir)? {
                let path = dir.join(&name);
                let Ok(meta) = std::fs::symlink_metadata(&path) else {
                    continue;
                };
                if !meta.is_file() {
                    continue;
                }
                let key = format!("{rel}/{name}");
                let file = format!("{rel}/{}", name.escape_debug());
                if name.starts_with(TEMP_PREFIX) {
                    let problem = HealthProblem::Leftover {
                        file,
                        removable: seen_for(&key) >= LEFTOVER_GRACE_MS,
                    };
                    out.push(Stray { problem, path, key });
                    continue;
                }
                let Some(shard) = blobs else { continue };
                if layout::is_ignorable(&name) {
                    continue;
                }
                // A blob counts only under its own name in its own shard (§1);
                // a sync client's copy of a named blob is not an orphan.
                let base = layout::strip_copy_marker(&name, 26);
                let ours = base.is_some_and(|b| b.get(..2) == Some(shard) && named.contains(b));
                if !ours {
                    let names_a_blob = name.get(..26).is_some_and(|b| named.contains(b));
                    let problem = HealthProblem::Orphan {
                        file,
                        bytes: meta.len(),
                        removable: !blocked
                            && !names_a_blob
                            && seen_for(&key) >= self.orphan_grace_ms,
                    };
                    out.push(Stray { problem, path, key });
                }
            }
            Ok(())
        };
        let root = self.layout.root();
        let blobs = self.layout.blobs();
        if real_dir(&blobs) {
            for shard in fsutil::list_dir(&blobs)? {
                let dir = blobs.join(&shard);
                if !layout::is_ignorable(&shard) && real_dir(&dir) {
                    look(&dir, &format!("b/{shard}"), Some(&shard))?;
                }
            }
        }
        for (top, sub) in [("r", true), ("a", true), ("k", false)] {
            let dir = root.join(top);
            if !real_dir(&dir) {
                continue;
            }
            look(&dir, top, None)?;
            if sub {
                for d in fsutil::list_dir(&dir)? {
                    let p = dir.join(&d);
                    if real_dir(&p) {
                        look(&p, &format!("{top}/{d}"), None)?;
                    }
                }
            }
        }
        look(root, ".", None)?;
        Ok(out)
    }

    /// Notes when this device first saw each stray, forgetting those gone.
    fn note_strays(&self, before: &BTreeMap<String, i64>, strays: &[Stray]) {
        let now = self.clock.now_ms();
        let after: BTreeMap<String, i64> = strays
            .iter()
            .map(|s| (s.key.clone(), before.get(&s.key).copied().unwrap_or(now)))
            .collect();
        if after != *before {
            // Best effort: losing it only restarts the waiting period.
            let _ = self.local.save_strays_seen(&after);
        }
    }

    /// Removes the problems of `report` that are safe to remove (old
    /// orphans and leftovers), after checking again that each still is one.
    /// The repair is recorded in the audit log first.
    pub fn repair(&mut self, report: &HealthReport) -> Result<RepairReport, VerifyError> {
        let snap = self.load()?;
        let blocked = orphans_blocked(&snap, &report.problems);
        let first_seen = self.local.strays_seen();
        let targets: Vec<(String, u64, PathBuf)> = self
            .strays(&snap, blocked, &first_seen)?
            .into_iter()
            .filter(|s| s.problem.repairable() && report.problems.contains(&s.problem))
            .map(|s| match s.problem {
                HealthProblem::Orphan { file, bytes, .. } => (file, bytes, s.path),
                HealthProblem::Leftover { file, .. } => (file, 0, s.path),
                _ => unreachable!("only orphans and leftovers are repairable"),
            })
            .collect();
        let mut out = RepairReport::default();
        if targets.is_empty() {
            return Ok(out);
        }
        let event = Event::new(self.clock.now_ms(), Action::Repaired)
            .detail(format!("removing {} files", targets.len()));
        self.append_audit(vec![event])?;
        let root = self.layout.root().to_owned();
        for (file, bytes, path) in targets {
            // Just before removing: still a plain file, in real folders of
            // the vault (no folder on the way was swapped for a link).
            let inside = path.strip_prefix(&root).ok().is_some_and(|rel| {
                rel.ancestors()
                    .skip(1)
                    .filter(|a| !a.as_os_str().is_empty())
                    .all(|a| real_dir(&root.join(a)))
            });
            let plain = std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file());
            if !(inside && plain) {
                continue;
            }
            match std::fs::remove_file(&path) {
                Ok(()) => {
                    out.removed.push(file);
                    out.bytes += bytes;
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(StorageError::write(path, e).into()),
            }
        }
        Ok(out)
    }
}
