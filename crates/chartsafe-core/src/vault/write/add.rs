//! Adding files and folders (docs/FORMAT.md §1.2, §6).
//!
//! Work is done in batches: the contents of a batch are written under
//! temporary names, made durable together with one file-system sync, renamed
//! into place, and only then is the record that names them written. A crash
//! at any moment leaves either a complete batch or unreferenced blobs, never a
//! record pointing at missing content. A rerun skips files already stored.

use std::collections::{HashMap, HashSet};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::crypt::{self, StreamError};
use crate::errors::{AddError, PathError, StorageError};
use crate::format::audit::{Action, Event};
use crate::format::record::{Content, EntryState, Kind, Op, Status};
use crate::format::Layout;
use crate::fsutil::{self, Staged};
use crate::ids;
use crate::names;
use crate::traits::Progress;
use crate::vault::change::normalise;
use crate::vault::load::Snapshot;
use crate::vault::Vault;

/// Files per batch (one record, two file-system syncs). Staged files are
/// closed, so a batch holds no file handles.
const BATCH_FILES: usize = 1024;
/// Bytes per batch.
const BATCH_BYTES: u64 = 64 << 20;

/// What happens when a file is added under a name already in use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OnExisting {
    /// The file becomes a new version of the existing one (the default).
    #[default]
    NewVersion,
    /// The file is stored beside it as "name (2).ext", "name (3).ext", ….
    KeepBoth,
}

/// How [`Vault::add_with`] adds files.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AddOptions {
    /// What to do when a name is already in use.
    pub on_existing: OnExisting,
    /// Go on past source files that cannot be added (unreadable, vanished,
    /// bad name, not a regular file), listing them in
    /// [`AddReport::failed`]. Errors of the vault folder itself (full disk,
    /// no permission) still stop the whole operation.
    pub keep_going: bool,
    /// The files are edits of opened files being saved back: recorded in the
    /// audit log as `saved_back` instead of `added` (docs/FORMAT.md §10.2).
    pub saved_back: bool,
}

/// A source that was not added, and why.
#[derive(Debug)]
pub struct AddFailure {
    /// The source file or folder.
    pub source: PathBuf,
    /// Why it was not added.
    pub error: AddError,
}

/// What [`Vault::add`] did.
#[derive(Debug, Default)]
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
    /// Sources skipped with [`AddOptions::keep_going`].
    pub failed: Vec<AddFailure>,
    /// Each source file stored (new, replaced or unchanged) and the vault
    /// path that holds it now.
    pub stored: Vec<(PathBuf, String)>,
    /// The operation was cancelled through [`Progress::cancelled`]: files
    /// finished before that are stored, nothing of the others.
    pub cancelled: bool,
}

impl AddError {
    /// Whether this error concerns one source file rather than the vault.
    fn is_per_source(&self) -> bool {
        matches!(
            self,
            AddError::SourceMissing(_)
                | AddError::SourceVanished(_)
                | AddError::SourceChanged(_)
                | AddError::SourceNotRegular(_)
                | AddError::SourceName(..)
                | AddError::SourceUnreadable(..)
                | AddError::Path(_)
        )
    }
}

/// Passes reads of one source file through, reporting its progress, until
/// the operation is cancelled.
struct Cancellable<'a, R> {
    inner: R,
    source: &'a Path,
    done: u64,
    progress: &'a dyn Progress,
}

impl<R: io::Read> io::Read for Cancellable<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.progress.cancelled() {
            return Err(crate::traits::Stopped.into());
        }
        let n = self.inner.read(buf)?;
        self.done += n as u64;
        self.progress.file_progress(self.source, self.done);
        Ok(n)
    }
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
///
/// With `failed`, a source that cannot be added is listed there and skipped;
/// without, its error ends the scan.
fn scan(
    local: &Path,
    vault_path: String,
    out: &mut Vec<Item>,
    failed: &mut Option<&mut Vec<AddFailure>>,
) -> Result<(), AddError> {
    match scan_one(local, vault_path, out, failed) {
        Err(error) if error.is_per_source() => match failed {
            Some(list) => {
                list.push(AddFailure {
                    source: local.to_owned(),
                    error,
                });
                Ok(())
            }
            None => Err(error),
        },
        other => other,
    }
}

fn scan_one(
    local: &Path,
    vault_path: String,
    out: &mut Vec<Item>,
    failed: &mut Option<&mut Vec<AddFailure>>,
) -> Result<(), AddError> {
    let meta = match std::fs::metadata(local) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(AddError::SourceMissing(local.to_owned()))
        }
        Err(e) => return Err(AddError::SourceUnreadable(local.to_owned(), e)),
    };
    if meta.is_dir() {
        let mut children: Vec<PathBuf> = std::fs::read_dir(local)
            .map_err(|e| AddError::SourceUnreadable(local.to_owned(), e))?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .map_err(|e| AddError::SourceUnreadable(local.to_owned(), e))?;
        out.push(Item::Dir {
            path: vault_path.clone(),
        });
        children.sort();
        for child in children {
            let name = match name_of(&child) {
                Ok(name) => name,
                Err(error) => match failed {
                    Some(list) => {
                        list.push(AddFailure {
                            source: child,
                            error,
                        });
                        continue;
                    }
                    None => return Err(error),
                },
            };
            scan(&child, names::join(&vault_path, &name), out, failed)?;
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

/// A file's size, modification time and identity: any write or
/// replacement changes at least one of them.
fn stamp(m: &std::fs::Metadata) -> (u64, Option<std::time::SystemTime>, u64) {
    #[cfg(unix)]
    let id = std::os::unix::fs::MetadataExt::ino(m);
    #[cfg(not(unix))]
    let id = 0;
    (m.len(), m.modified().ok(), id)
}

impl Vault {
    /// Encrypts one source file into a temporary file beside its blob's final name.
    fn stage_blob(
        &self,
        layout: &Layout,
        blob: &str,
        local: &Path,
        size: u64,
        recipients: &[age::x25519::Recipient],
        progress: &dyn Progress,
    ) -> Result<(tempfile::NamedTempFile, crypt::Digested), AddError> {
        let blob_path = layout.blob(blob);
        let file = std::fs::File::open(local);
        // What the file was when reading began: compared with what it is
        // after, so a file still being written is refused, not stored torn.
        let before = file
            .as_ref()
            .ok()
            .and_then(|f| f.metadata().ok())
            .map(|m| stamp(&m));
        let source = match file {
            Ok(f) => Cancellable {
                inner: f,
                source: local,
                done: 0,
                progress,
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(AddError::SourceVanished(local.to_owned()))
            }
            Err(e) => return Err(AddError::SourceUnreadable(local.to_owned(), e)),
        };
        let temp = fsutil::temp_in(&layout.blob_shard(blob))?;
        // Buffered: age writes its header in many small pieces.
        let mut writer =
            std::io::BufWriter::with_capacity(64 << 10, fsutil::WriteBehind::new(temp.as_file()));
        let digest = crypt::encrypt_stream(source, &mut writer, size, recipients, progress)
            .and_then(|d| writer.flush().map(|()| d).map_err(StreamError::Write));
        drop(writer);
        match digest {
            Ok(d) => {
                let after = std::fs::metadata(local).ok().map(|m| stamp(&m));
                if d.size != size || before.is_none() || after != before {
                    return Err(AddError::SourceChanged(local.to_owned()));
                }
                Ok((temp, d))
            }
            Err(StreamError::Read(_)) if progress.cancelled() => Err(AddError::Cancelled),
            Err(StreamError::Read(e)) => Err(AddError::SourceUnreadable(local.to_owned(), e)),
            Err(StreamError::Write(e)) => Err(StorageError::write(&blob_path, e).into()),
        }
    }

    /// Adds files and folders (recursively, keeping folder names) into the
    /// vault folder `dest` ("" for the top level), creating it if missing.
    /// A file under a name in use becomes its new version; the first source
    /// that cannot be added stops the operation before anything is written.
    pub fn add(
        &mut self,
        sources: &[PathBuf],
        dest: &str,
        progress: &dyn Progress,
    ) -> Result<AddReport, AddError> {
        self.add_with(sources, dest, &AddOptions::default(), progress)
    }

    /// [`Vault::add`] with options: keep both files on a name clash, and go
    /// on past sources that cannot be added. [`Progress::cancelled`] stops
    /// the work; the files finished by then are kept.
    pub fn add_with(
        &mut self,
        sources: &[PathBuf],
        dest: &str,
        options: &AddOptions,
        progress: &dyn Progress,
    ) -> Result<AddReport, AddError> {
        let dest = normalise(dest)?;
        let mut items = Vec::new();
        let mut failed = Vec::new();
        let mut sink = options.keep_going.then_some(&mut failed);
        for source in sources {
            let name =
                match name_of(&std::path::absolute(source).unwrap_or_else(|_| source.clone())) {
                    Ok(name) => name,
                    Err(error) => match &mut sink {
                        Some(list) => {
                            list.push(AddFailure {
                                source: source.clone(),
                                error,
                            });
                            continue;
                        }
                        None => return Err(error),
                    },
                };
            scan(source, names::join(&dest, &name), &mut items, &mut sink)?;
        }
        let snap = self.load()?;
        // Check every target before writing anything.
        drop_clashes(&snap, &mut items, options, &mut failed)?;
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
        let result = self.add_items(&snap, &dest, items, options, progress);
        progress.end();
        result.map(|mut report| {
            failed.append(&mut report.failed);
            report.failed = failed;
            report
        })
    }

    fn add_items(
        &mut self,
        snap: &Snapshot,
        dest: &str,
        items: Vec<Item>,
        options: &AddOptions,
        progress: &dyn Progress,
    ) -> Result<AddReport, AddError> {
        let mut report = AddReport::default();
        // Paths given out in this operation (for "name (2)").
        let mut taken: HashSet<String> = HashSet::new();
        let mut folders: HashMap<String, Option<String>> = HashMap::new();
        let mut ops: Vec<Op> = Vec::new();
        let mut events: Vec<Event> = Vec::new();
        let dest_folder = self.ensure_folders(snap, dest, &mut ops, &mut events)?;
        // Everything goes into the destination's collection (FORMAT.md §14).
        let coll = dest_folder
            .as_deref()
            .and_then(|k| crate::vault::collections::split_key(k).0)
            .map(str::to_owned);
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
                    let (entry, op, event) = self.folder_op(&path, &folders);
                    ops.push(op);
                    events.push(event);
                    report.folders += 1;
                    folders.insert(path, Some(entry));
                }
                Item::File {
                    path,
                    local,
                    size,
                    mtime,
                } => {
                    if report.cancelled || progress.cancelled() {
                        report.cancelled = true;
                        continue;
                    }
                    let source = Source { local, size, mtime };
                    let job = match file_job(snap, &mut taken, &folders, path, source, options)? {
                        Planned::Store(job) => *job,
                        Planned::Unchanged(source, at) => {
                            report.unchanged += 1;
                            report.stored.push((source.local.clone(), at));
                            progress.advance(source.size);
                            progress.file_done(&source.local);
                            continue;
                        }
                    };
                    job_bytes += job.size;
                    jobs.push(job);
                    if jobs.len() >= BATCH_FILES || job_bytes >= BATCH_BYTES {
                        let jobs = std::mem::take(&mut jobs);
                        self.run_batch(
                            coll.as_deref(),
                            jobs,
                            &mut ops,
                            &mut events,
                            &mut report,
                            options,
                            progress,
                        )?;
                        job_bytes = 0;
                    }
                }
            }
        }
        self.run_batch(
            coll.as_deref(),
            jobs,
            &mut ops,
            &mut events,
            &mut report,
            options,
            progress,
        )?;
        Ok(report)
    }

    /// A new folder at `path`, in its parent's collection (FORMAT.md
    /// §14.3): its entry key, its op and its audit event.
    fn folder_op(
        &self,
        path: &str,
        folders: &HashMap<String, Option<String>>,
    ) -> (String, Op, Event) {
        let (parent_path, name) = crate::vault::change::split_parent(path);
        let parent = folders.get(parent_path).cloned().flatten();
        let collection = parent
            .as_deref()
            .and_then(|p| crate::vault::collections::split_key(p).0);
        let entry = crate::vault::collections::scoped(collection, &ids::random_id());
        let event = Event::new(self.clock.now_ms(), Action::FolderCreated).on(&entry, path);
        let op = Op {
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
        };
        (entry, op, event)
    }

    /// Encrypts a batch of files on every core, then commits them with the
    /// pending `ops` in one record.
    #[allow(clippy::too_many_arguments)]
    fn run_batch(
        &mut self,
        coll: Option<&str>,
        jobs: Vec<Job>,
        ops: &mut Vec<Op>,
        events: &mut Vec<Event>,
        report: &mut AddReport,
        options: &AddOptions,
        progress: &dyn Progress,
    ) -> Result<(), AddError> {
        let recipients = self
            .keys
            .recipients_for(coll)
            .ok_or(crate::errors::WriteRefused::NoCollectionAccess)?;
        let layout = self.layout.for_collection(coll);
        // On error, every staged file of this batch is dropped (deleted).
        let results = self.stage_all(&layout, &jobs, &recipients, options.keep_going, progress)?;
        let mut staged: Vec<Staged> = Vec::with_capacity(jobs.len());
        for (job, result) in jobs.into_iter().zip(results) {
            let (temp, digest) = match result {
                Some(Ok(done)) => done,
                None | Some(Err(AddError::Cancelled)) => {
                    report.cancelled = true;
                    continue;
                }
                Some(Err(error)) => {
                    // stage_all returned only per-source errors.
                    progress.file_done(&job.local);
                    report.failed.push(AddFailure {
                        source: job.local,
                        error,
                    });
                    continue;
                }
            };
            progress.file_done(&job.local);
            report.stored.push((job.local.clone(), job.path.clone()));
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
            staged.push(Staged::new(temp, layout.blob(&job.blob))?);
            let replaced = job.entry.is_some();
            let entry = job.entry.unwrap_or_else(ids::random_id);
            let action = if options.saved_back {
                Action::SavedBack
            } else {
                Action::Added
            };
            let mut event = Event::new(self.clock.now_ms(), action).on(&entry, &job.path);
            if replaced && !options.saved_back {
                event = event.detail("new version");
            }
            events.push(event);
            ops.push(Op {
                entry,
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
        if ops.is_empty() && staged.is_empty() {
            return Ok(());
        }
        self.commit_ops(std::mem::take(ops), staged, std::mem::take(events))?;
        Ok(())
    }

    /// Stages every job, on as many threads as there are cores (at most 4).
    ///
    /// A job's slot is `None` when it never ran (cancelled). Any error fails
    /// the batch, except per-source errors with `keep_going` and
    /// cancellation, which are left in their slots.
    fn stage_all(
        &self,
        layout: &Layout,
        jobs: &[Job],
        recipients: &[age::x25519::Recipient],
        keep_going: bool,
        progress: &dyn Progress,
    ) -> Result<Vec<Option<StageResult>>, AddError> {
        let tolerated = |result: &StageResult| match result {
            Ok(_) | Err(AddError::Cancelled) => true,
            Err(e) => keep_going && e.is_per_source(),
        };
        let results = crate::pool::run_ordered(
            jobs,
            || progress.cancelled(),
            |r| !tolerated(r),
            |job| {
                progress.file_started(&job.local, job.size);
                self.stage_blob(
                    layout, &job.blob, &job.local, job.size, recipients, progress,
                )
            },
        );
        // Every worker has stopped: empty shard folders of failed jobs can go
        // (this fails harmlessly if anything is in them).
        for (job, r) in jobs.iter().zip(&results) {
            if matches!(r, Some(Err(_))) {
                let _ = std::fs::remove_dir(layout.blob_shard(&job.blob));
            }
        }
        // Any intolerable failure fails the batch, whichever job it was: a
        // job that was never started must not make a later job's error go
        // unseen.
        let fatal = results.iter().position(|r| match r {
            Some(Err(AddError::Cancelled)) => false,
            Some(Err(e)) => !(keep_going && e.is_per_source()),
            _ => false,
        });
        if let Some(pos) = fatal {
            let err = results.into_iter().nth(pos).flatten().expect("found above");
            return Err(err.expect_err("found above"));
        }
        Ok(results)
    }
}

type StageResult = Result<(tempfile::NamedTempFile, crypt::Digested), AddError>;

/// The first of "name (2).ext", "name (3).ext", … free in the vault and in
/// this operation.
/// Refuses every item whose path in the vault is taken by the other kind
/// (a file where a folder goes, or the reverse): the first stops the add,
/// or with `keep_going` each is listed in `failed` and dropped, a refused
/// folder with everything inside it.
fn drop_clashes(
    snap: &Snapshot,
    items: &mut Vec<Item>,
    options: &AddOptions,
    failed: &mut Vec<AddFailure>,
) -> Result<(), AddError> {
    let mut clashes = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let clash = match item {
            Item::Dir { path } => snap.tree.node(path).and_then(|n| {
                (snap.tree.versions[n.version].state.kind != Kind::Dir)
                    .then(|| PathError::NotAFolder { path: path.clone() })
            }),
            Item::File { path, .. } => snap.tree.node(path).and_then(|n| {
                (snap.tree.versions[n.version].state.kind == Kind::Dir)
                    .then(|| PathError::NotAFile { path: path.clone() })
            }),
        };
        if let Some(e) = clash {
            if !options.keep_going {
                return Err(e.into());
            }
            clashes.push((i, e));
        }
    }
    for (i, e) in clashes.into_iter().rev() {
        let item = items.remove(i);
        let (path, source) = match &item {
            Item::Dir { path } => (path.clone(), None),
            Item::File { path, local, .. } => (path.clone(), Some(local.clone())),
        };
        let inside = format!("{path}/");
        items.retain(|it| match it {
            Item::Dir { path } | Item::File { path, .. } => !path.starts_with(&inside),
        });
        failed.push(AddFailure {
            source: source.unwrap_or_else(|| PathBuf::from(&path)),
            error: e.into(),
        });
    }
    Ok(())
}

/// A source file as scanned.
struct Source {
    local: PathBuf,
    size: u64,
    mtime: Option<i64>,
}

/// What to do with one source file.
enum Planned {
    /// Store it (a new file or a new version).
    Store(Box<Job>),
    /// Nothing: the vault's version at its path (the second field) is the
    /// same file.
    Unchanged(Source, String),
}

/// The job that stores `source` at `path`, or nothing when the vault's
/// version there is the same file (same size and modification time, the
/// quick check rsync makes). With [`OnExisting::KeepBoth`] a different file
/// takes a free name instead ("name (2)"); `taken` holds the paths given
/// out in this operation.
fn file_job(
    snap: &Snapshot,
    taken: &mut HashSet<String>,
    folders: &HashMap<String, Option<String>>,
    mut path: String,
    source: Source,
    options: &AddOptions,
) -> Result<Planned, AddError> {
    let (size, mtime) = (source.size, source.mtime);
    let same_file = |c: &Content| c.size == size && c.mtime.is_some() && c.mtime == mtime;
    let mut existing = snap.tree.node(&path).filter(|n| !n.conflict);
    if options.on_existing == OnExisting::KeepBoth && (existing.is_some() || taken.contains(&path))
    {
        let same = existing
            .and_then(|n| snap.tree.versions[n.version].state.content.as_ref())
            .is_some_and(same_file);
        if !same {
            path = free_path(snap, taken, &path);
            existing = None;
        }
    }
    taken.insert(path.clone());
    let old = existing.map(|n| &snap.tree.versions[n.version]);
    let old_content = old.and_then(|v| v.state.content.clone());
    if old_content.as_ref().is_some_and(same_file) {
        return Ok(Planned::Unchanged(source, path));
    }
    // A new version stays where its file is, under its own name (FORMAT.md
    // §5.3): the path it is shown at may be a clash's conflict name, or the
    // top level while its folder's record has not arrived (§6.1 step 4),
    // and an edit must not move or rename it.
    let (parent, name) = match old {
        Some(v) => (v.state.parent.clone(), v.state.name.clone()),
        None => {
            let (parent_path, name) = crate::vault::change::split_parent(&path);
            let parent = match folders.get(parent_path) {
                Some(p) => p.clone(),
                None => snap.folder(parent_path)?,
            };
            (parent, name.to_owned())
        }
    };
    let (entry, parents) = match (existing, old) {
        (Some(n), Some(v)) => (Some(n.entry.clone()), vec![v.id.clone()]),
        _ => (None, Vec::new()),
    };
    Ok(Planned::Store(Box::new(Job {
        local: source.local,
        size,
        mtime,
        parent,
        name,
        entry,
        parents,
        old_content,
        blob: ids::random_id(),
        path,
    })))
}

fn free_path(snap: &Snapshot, taken: &HashSet<String>, path: &str) -> String {
    let (parent, name) = crate::vault::change::split_parent(path);
    (2u64..)
        .map(|n| names::join(parent, &names::suffixed_name(name, &n.to_string())))
        .find(|p| snap.tree.node(p).is_none() && !taken.contains(p))
        .expect("some number is free")
}

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
    /// Its path in the vault, for the audit log.
    path: String,
}
