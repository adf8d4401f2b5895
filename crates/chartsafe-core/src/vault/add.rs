//! Adding files and folders (docs/FORMAT.md §1.2, §6).
//!
//! Work is done in batches: the contents of a batch are written under
//! temporary names, made durable together with one file-system sync, renamed
//! into place, and only then is the record that names them written. A crash
//! at any moment leaves either a complete batch or unreferenced blobs, never a
//! record pointing at missing content. A rerun skips files already stored.

use std::collections::HashMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use super::change::normalise;
use super::load::Snapshot;
use super::Vault;
use crate::crypt::{self, StreamError};
use crate::errors::{AddError, PathError, StorageError};
use crate::format::record::{Content, EntryState, Kind, Op, Status};
use crate::fsutil::{self, Staged};
use crate::ids;
use crate::names;
use crate::traits::Progress;

/// Files per batch (one record, two file-system syncs). Staged files are
/// closed, so a batch holds no file handles.
const BATCH_FILES: usize = 1024;
/// Bytes per batch.
const BATCH_BYTES: u64 = 64 << 20;

/// What [`Vault::add`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddReport {
    /// New files.
    pub added: usize,
    /// Files that replaced an older version.
    pub replaced: usize,
    /// Files already stored with the same content.
    pub unchanged: usize,
    /// Folders created.
    pub folders: usize,
    /// Bytes encrypted.
    pub bytes: u64,
}

enum Item {
    Dir {
        path: String,
    },
    File {
        path: String,
        local: PathBuf,
        size: u64,
        mtime: Option<i64>,
    },
}

fn name_of(local: &Path) -> Result<String, AddError> {
    let raw = local
        .file_name()
        .ok_or_else(|| AddError::SourceName(local.to_owned(), names::NameError::Empty))?;
    let text = raw
        .to_str()
        .ok_or_else(|| AddError::SourceName(local.to_owned(), names::NameError::NotUnicode))?;
    names::normalise_name(text).map_err(|e| AddError::SourceName(local.to_owned(), e))
}

fn mtime_ms(meta: &std::fs::Metadata) -> Option<i64> {
    let t = meta.modified().ok()?;
    let d = t.duration_since(std::time::UNIX_EPOCH).ok()?;
    i64::try_from(d.as_millis()).ok()
}

/// Lists what to add, checking every name before anything is written.
fn scan(local: &Path, vault_path: String, out: &mut Vec<Item>) -> Result<(), AddError> {
    let meta = match std::fs::metadata(local) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(AddError::SourceMissing(local.to_owned()))
        }
        Err(e) => return Err(AddError::SourceUnreadable(local.to_owned(), e)),
    };
    if meta.is_dir() {
        out.push(Item::Dir {
            path: vault_path.clone(),
        });
        let mut children: Vec<PathBuf> = std::fs::read_dir(local)
            .map_err(|e| AddError::SourceUnreadable(local.to_owned(), e))?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .map_err(|e| AddError::SourceUnreadable(local.to_owned(), e))?;
        children.sort();
        for child in children {
            let name = name_of(&child)?;
            scan(&child, names::join(&vault_path, &name), out)?;
        }
    } else if !meta.is_file() {
        // A pipe could block forever, a device never end: refused up front.
        return Err(AddError::SourceNotRegular(local.to_owned()));
    } else {
        out.push(Item::File {
            path: vault_path,
            local: local.to_owned(),
            size: meta.len(),
            mtime: mtime_ms(&meta),
        });
    }
    Ok(())
}

impl Vault {
    /// Encrypts one source file into a temporary file beside its blob's final name.
    fn stage_blob(
        &self,
        blob: &str,
        local: &Path,
        size: u64,
        recipients: &[age::x25519::Recipient],
        progress: &dyn Progress,
    ) -> Result<(tempfile::NamedTempFile, crypt::Digested), AddError> {
        let blob_path = self.layout.blob(blob);
        let source = match std::fs::File::open(local) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(AddError::SourceVanished(local.to_owned()))
            }
            Err(e) => return Err(AddError::SourceUnreadable(local.to_owned(), e)),
        };
        let temp = fsutil::temp_in(&self.layout.blob_shard(blob))?;
        // Buffered: age writes its header in many small pieces.
        let mut writer =
            std::io::BufWriter::with_capacity(64 << 10, fsutil::WriteBehind::new(temp.as_file()));
        let digest = crypt::encrypt_stream(source, &mut writer, size, recipients, progress)
            .and_then(|d| writer.flush().map(|()| d).map_err(StreamError::Write));
        drop(writer);
        match digest {
            Ok(d) => Ok((temp, d)),
            Err(StreamError::Read(e)) => Err(AddError::SourceUnreadable(local.to_owned(), e)),
            Err(StreamError::Write(e)) => Err(StorageError::write(&blob_path, e).into()),
        }
    }

    /// Adds files and folders (recursively, keeping folder names) into the
    /// vault folder `dest` ("" for the top level), creating it if missing.
    pub fn add(
        &mut self,
        sources: &[PathBuf],
        dest: &str,
        progress: &dyn Progress,
    ) -> Result<AddReport, AddError> {
        let dest = normalise(dest)?;
        let mut items = Vec::new();
        for source in sources {
            let name = name_of(&std::path::absolute(source).unwrap_or_else(|_| source.clone()))?;
            scan(source, names::join(&dest, &name), &mut items)?;
        }
        let snap = self.load()?;
        // Check every target before writing anything.
        for item in &items {
            match item {
                Item::Dir { path } => {
                    if let Some(n) = snap.tree.node(path) {
                        if snap.tree.versions[n.version].state.kind != Kind::Dir {
                            return Err(PathError::NotAFolder { path: path.clone() }.into());
                        }
                    }
                }
                Item::File { path, .. } => {
                    if let Some(n) = snap.tree.node(path) {
                        if snap.tree.versions[n.version].state.kind == Kind::Dir {
                            return Err(PathError::NotAFile { path: path.clone() }.into());
                        }
                    }
                }
            }
        }
        let total: u64 = items
            .iter()
            .map(|i| {
                if let Item::File { size, .. } = i {
                    *size
                } else {
                    0
                }
            })
            .sum();
        let files = items
            .iter()
            .filter(|i| matches!(i, Item::File { .. }))
            .count();
        progress.begin(files as u64, total);
        let result = self.add_items(&snap, &dest, items, progress);
        progress.end();
        result
    }

    fn add_items(
        &mut self,
        snap: &Snapshot,
        dest: &str,
        items: Vec<Item>,
        progress: &dyn Progress,
    ) -> Result<AddReport, AddError> {
        let mut report = AddReport::default();
        let mut folders: HashMap<String, Option<String>> = HashMap::new();
        let mut ops: Vec<Op> = Vec::new();
        let dest_folder = self.ensure_folders(snap, dest, &mut ops)?;
        report.folders += ops.len();
        folders.insert(dest.to_owned(), dest_folder);
        let mut jobs: Vec<Job> = Vec::new();
        let mut job_bytes = 0u64;

        for item in items {
            match item {
                Item::Dir { path } => {
                    if let Some(n) = snap.tree.node(&path) {
                        folders.insert(path, Some(n.entry.clone()));
                        continue;
                    }
                    let (parent_path, name) = super::change::split_parent(&path);
                    let parent = folders.get(parent_path).cloned().flatten();
                    let entry = ids::random_id();
                    ops.push(Op {
                        entry: entry.clone(),
                        parents: Vec::new(),
                        state: EntryState {
                            parent,
                            name: name.to_owned(),
                            kind: Kind::Dir,
                            status: Status::Live,
                            content: None,
                            collection: None,
                        },
                    });
                    report.folders += 1;
                    folders.insert(path, Some(entry));
                }
                Item::File {
                    path,
                    local,
                    size,
                    mtime,
                } => {
                    let existing = snap.tree.node(&path).filter(|n| !n.conflict);
                    let old = existing.map(|n| &snap.tree.versions[n.version]);
                    let old_content = old.and_then(|v| v.state.content.clone());
                    // Quick check, as rsync does: same size and modification time.
                    if let Some(c) = &old_content {
                        if c.size == size && c.mtime.is_some() && c.mtime == mtime {
                            report.unchanged += 1;
                            progress.advance(size);
                            progress.file_done();
                            continue;
                        }
                    }
                    let (parent_path, name) = super::change::split_parent(&path);
                    let parent = match folders.get(parent_path) {
                        Some(p) => p.clone(),
                        None => snap.folder(parent_path)?,
                    };
                    let (entry, parents) = match (existing, old) {
                        (Some(n), Some(v)) => (Some(n.entry.clone()), vec![v.id.clone()]),
                        _ => (None, Vec::new()),
                    };
                    job_bytes += size;
                    jobs.push(Job {
                        local,
                        size,
                        mtime,
                        parent,
                        name: name.to_owned(),
                        entry,
                        parents,
                        old_content,
                        blob: ids::random_id(),
                    });
                    if jobs.len() >= BATCH_FILES || job_bytes >= BATCH_BYTES {
                        self.run_batch(std::mem::take(&mut jobs), &mut ops, &mut report, progress)?;
                        job_bytes = 0;
                    }
                }
            }
        }
        self.run_batch(jobs, &mut ops, &mut report, progress)?;
        Ok(report)
    }

    /// Encrypts a batch of files on every core, then commits them with the
    /// pending `ops` in one record.
    fn run_batch(
        &mut self,
        jobs: Vec<Job>,
        ops: &mut Vec<Op>,
        report: &mut AddReport,
        progress: &dyn Progress,
    ) -> Result<(), AddError> {
        let recipients = self.keys.recipients();
        // On error, every staged file of this batch is dropped (deleted).
        let results = self.stage_all(&jobs, &recipients, progress)?;
        let mut staged: Vec<Staged> = Vec::with_capacity(jobs.len());
        for (job, (temp, digest)) in jobs.into_iter().zip(results) {
            progress.file_done();
            let sha256 = ids::hex(&digest.sha256);
            if let Some(c) = &job.old_content {
                if c.sha256 == sha256 && c.size == digest.size {
                    report.unchanged += 1;
                    continue; // the temporary blob is deleted on drop
                }
            }
            if job.entry.is_some() {
                report.replaced += 1;
            } else {
                report.added += 1;
            }
            report.bytes += digest.size;
            staged.push(Staged::new(temp, self.layout.blob(&job.blob))?);
            ops.push(Op {
                entry: job.entry.unwrap_or_else(ids::random_id),
                parents: job.parents,
                state: EntryState {
                    parent: job.parent,
                    name: job.name,
                    kind: Kind::File,
                    status: Status::Live,
                    content: Some(Content {
                        blob: job.blob,
                        size: digest.size,
                        sha256,
                        mtime: job.mtime,
                    }),
                    collection: None,
                },
            });
        }
        self.commit_ops(std::mem::take(ops), staged)?;
        Ok(())
    }

    /// Stages every job, on as many threads as there are cores (at most 4).
    fn stage_all(
        &self,
        jobs: &[Job],
        recipients: &[age::x25519::Recipient],
        progress: &dyn Progress,
    ) -> Result<Vec<(tempfile::NamedTempFile, crypt::Digested)>, AddError> {
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, 4);
        let next = AtomicUsize::new(0);
        let failed = AtomicBool::new(false);
        let slots: Vec<Mutex<Option<StageResult>>> =
            jobs.iter().map(|_| Mutex::new(None)).collect();
        let work = || loop {
            let i = next.fetch_add(1, Ordering::SeqCst);
            if i >= jobs.len() || failed.load(Ordering::SeqCst) {
                break;
            }
            let job = &jobs[i];
            let result = self.stage_blob(&job.blob, &job.local, job.size, recipients, progress);
            if result.is_err() {
                failed.store(true, Ordering::SeqCst);
            }
            *slots[i].lock().expect("no poisoned slot") = Some(result);
        };
        if threads == 1 || jobs.len() < 2 {
            work();
        } else {
            std::thread::scope(|scope| {
                for _ in 1..threads {
                    scope.spawn(work);
                }
                work();
            });
        }
        let results: Vec<Option<StageResult>> = slots
            .into_iter()
            .map(|s| s.into_inner().expect("no poisoned slot"))
            .collect();
        // Any failure fails the batch, whichever job it was: a job that was
        // never started must not make a later job's error go unseen.
        if let Some(pos) = results.iter().position(|r| matches!(r, Some(Err(_)))) {
            let blob = &jobs[pos].blob;
            let err = results.into_iter().nth(pos).flatten().expect("found above");
            // Every worker has stopped: an empty shard folder can go (this
            // fails harmlessly if anything is in it).
            let _ = std::fs::remove_dir(self.layout.blob_shard(blob));
            return Err(err.expect_err("found above"));
        }
        Ok(results
            .into_iter()
            .map(|r| {
                r.expect("every job ran when none failed")
                    .expect("no error")
            })
            .collect())
    }
}

type StageResult = Result<(tempfile::NamedTempFile, crypt::Digested), AddError>;

/// One file to encrypt and record.
struct Job {
    local: PathBuf,
    size: u64,
    mtime: Option<i64>,
    parent: Option<String>,
    name: String,
    entry: Option<String>,
    parents: Vec<String>,
    old_content: Option<Content>,
    blob: String,
}
