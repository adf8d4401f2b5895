//! The health check: every record, every content file and every audit chain
//! (docs/FORMAT.md §10.5, docs/THREAT_MODEL.md §4.6).
//!
//! Content files are decrypted as streams into nothing but a hash, so the
//! check needs neither memory nor temporary space in proportion to the vault.

use std::collections::HashMap;
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
            Self::ContentMissing { .. } | Self::ContentDamaged { .. } | Self::ContentSubstituted { .. } => "restore an older version of the file (its version history), copy the vault folder again from another computer, or restore the file from a backup".into(),
            Self::Orphan { removable: true, .. } | Self::Leftover { removable: true, .. } => "safe to remove: let the repair remove it".into(),
            Self::Orphan { .. } => "leave it: its record may still be on its way from another computer, or be one of the damaged or missing records; the repair removes such files once they are 30 days old and every record is readable".into(),
            Self::Leftover { .. } => "leave it: a write may still be running; the repair removes it once it is a day old".into(),
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
}

/// How old a file in the vault folder is by this machine's clock: when it
/// arrived here (the status-change time on Unix, as its modification time
/// is fixed, FORMAT.md §1.2).
fn age_ms(meta: &std::fs::Metadata, now: i64) -> i64 {
    #[cfg(unix)]
    let arrived = {
        use std::os::unix::fs::MetadataExt;
        meta.ctime().saturating_mul(1000)
    };
    #[cfg(not(unix))]
    let arrived = meta
        .created()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(now, |d| d.as_millis() as i64);
    now.saturating_sub(arrived)
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

        report
            .problems
            .extend(self.strays(&snap)?.into_iter().map(|(p, _)| p));

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
            let mut inside: Vec<(String, String)> = vec![(t.entry.clone(), t.path.clone())];
            // A trashed folder's files are trashed with it.
            let mut i = 0;
            while i < inside.len() {
                let (parent, ppath) = inside[i].clone();
                for (e, hv) in snap.tree.trashed_entries() {
                    let v = &snap.tree.versions[hv];
                    if v.state.parent.as_deref() == Some(parent.as_str()) && *e != t.entry {
                        inside.push((e.clone(), crate::names::join(&ppath, &v.state.name)));
                    }
                }
                i += 1;
            }
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
        let fatal: Mutex<Option<StorageError>> = Mutex::new(None);
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
                        if fatal.lock().expect("verify lock").is_some() {
                            break;
                        }
                        let result = self.open_blob(snap, &c.src).and_then(|(file, rel)| {
                            let r = crypt::decrypt_stream(
                                file,
                                io::sink(),
                                c.src.content.size,
                                &identities,
                                progress,
                            );
                            Self::check(&c.src, &rel, r)
                        });
                        done.fetch_add(1, Ordering::SeqCst);
                        let problem = match result {
                            Ok(()) => {
                                bytes.fetch_add(c.src.content.size, Ordering::SeqCst);
                                continue;
                            }
                            Err(GetError::BlobMissing { blob, .. }) => {
                                HealthProblem::ContentMissing {
                                    path: c.src.path.clone(),
                                    version: c.label.clone(),
                                    blob,
                                    waiting: false,
                                }
                            }
                            Err(GetError::WaitingForSync { blob, .. }) => {
                                HealthProblem::ContentMissing {
                                    path: c.src.path.clone(),
                                    version: c.label.clone(),
                                    blob,
                                    waiting: true,
                                }
                            }
                            Err(
                                GetError::BlobSubstituted { blob, .. }
                                | GetError::NotOurKey { blob, .. },
                            ) => HealthProblem::ContentSubstituted {
                                path: c.src.path.clone(),
                                version: c.label.clone(),
                                blob,
                            },
                            Err(GetError::BlobCorrupt { blob, .. }) => {
                                HealthProblem::ContentDamaged {
                                    path: c.src.path.clone(),
                                    version: c.label.clone(),
                                    blob,
                                }
                            }
                            Err(GetError::Storage(e)) => {
                                *fatal.lock().expect("verify lock") = Some(e);
                                break;
                            }
                            Err(other) => {
                                let e = StorageError::read(
                                    self.layout.blob(&c.src.content.blob),
                                    io::Error::other(other.to_string()),
                                );
                                *fatal.lock().expect("verify lock") = Some(e);
                                break;
                            }
                        };
                        found.lock().expect("verify lock").push((i, problem));
                    }
                });
            }
        });
        if let Some(e) = fatal.into_inner().expect("verify lock") {
            return Err(e.into());
        }
        let mut found = found.into_inner().expect("verify lock");
        found.sort_by_key(|(i, _)| *i);
        Ok((
            found.into_iter().map(|(_, p)| p).collect(),
            done.into_inner() as u64,
            bytes.into_inner(),
        ))
    }

    /// Content files no version names, and our own temporary files, each
    /// with its real path (the problem's name is escaped for printing).
    fn strays(&self, snap: &Snapshot) -> Result<Vec<(HealthProblem, PathBuf)>, VerifyError> {
        let named: std::collections::HashSet<&str> = snap
            .tree
            .versions
            .iter()
            .filter_map(|v| v.state.content.as_ref().map(|c| c.blob.as_str()))
            .collect();
        let now = self.clock.now_ms();
        // A record that cannot be read, or has not arrived, may name any
        // of them: then no orphan is removable (FORMAT.md §10.5).
        let records_complete = snap.problems.is_empty();
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
                let file = format!("{rel}/{}", name.escape_debug());
                if name.starts_with(TEMP_PREFIX) {
                    let p = HealthProblem::Leftover {
                        file,
                        removable: age_ms(&meta, now) >= LEFTOVER_GRACE_MS,
                    };
                    out.push((p, path));
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
                    let p = HealthProblem::Orphan {
                        file,
                        bytes: meta.len(),
                        removable: records_complete && age_ms(&meta, now) >= self.orphan_grace_ms,
                    };
                    out.push((p, path));
                }
            }
            Ok(())
        };
        for shard in fsutil::list_dir(&self.layout.blobs())? {
            if layout::is_ignorable(&shard) {
                continue;
            }
            let dir = self.layout.blobs().join(&shard);
            if dir.is_dir() {
                look(&dir, &format!("b/{}", shard.escape_debug()), Some(&shard))?;
            }
        }
        for (top, sub) in [("r", true), ("a", true), ("k", false)] {
            let dir = self.layout.root().join(top);
            look(&dir, top, None)?;
            if sub {
                for d in fsutil::list_dir(&dir)? {
                    let p = dir.join(&d);
                    if p.is_dir() {
                        look(&p, &format!("{top}/{}", d.escape_debug()), None)?;
                    }
                }
            }
        }
        look(self.layout.root(), ".", None)?;
        Ok(out)
    }

    /// Removes the problems of `report` that are safe to remove (old
    /// orphans and leftovers), after checking again that each still is one.
    /// The repair is recorded in the audit log first.
    pub fn repair(&mut self, report: &HealthReport) -> Result<RepairReport, VerifyError> {
        let snap = self.load()?;
        let targets: Vec<(String, u64, PathBuf)> = self
            .strays(&snap)?
            .into_iter()
            .filter(|(p, _)| p.repairable() && report.problems.contains(p))
            .map(|(p, path)| match p {
                HealthProblem::Orphan { file, bytes, .. } => (file, bytes, path),
                HealthProblem::Leftover { file, .. } => (file, 0, path),
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
        for (file, bytes, path) in targets {
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
