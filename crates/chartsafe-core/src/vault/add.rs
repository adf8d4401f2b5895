//! Adding files and folders (docs/FORMAT.md §1.2, §6).
//!
//! Work is done in batches: the contents of a batch are written under
//! temporary names, made durable together with one file-system sync, renamed
//! into place, and only then is the record that names them written. A crash
//! at any moment leaves either a complete batch or unreferenced blobs, never a
//! record pointing at missing content. A rerun skips files already stored.

use std::collections::HashMap;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

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

/// Files per batch (one record, one sync).
const BATCH_FILES: usize = 256;
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
        let mut temp = fsutil::temp_in(&self.layout.blob_shard(blob))?;
        let mut writer = BufWriter::with_capacity(256 << 10, temp.as_file_mut());
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
        let mut staged: Vec<Staged> = Vec::new();
        let mut batch_bytes = 0u64;
        let before = ops.len();
        let dest_folder = self.ensure_folders(snap, dest, &mut ops)?;
        report.folders += ops.len() - before;
        folders.insert(dest.to_owned(), dest_folder);
        let recipients = self.keys.recipients();

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
                    let old_content = old.and_then(|v| v.state.content.as_ref());
                    // Quick check, as rsync does: same size and modification time.
                    if let Some(c) = old_content {
                        if c.size == size && c.mtime.is_some() && c.mtime == mtime {
                            report.unchanged += 1;
                            progress.advance(size);
                            progress.file_done();
                            continue;
                        }
                    }
                    let blob = ids::random_id();
                    let blob_path = self.layout.blob(&blob);
                    let (temp, digest) =
                        match self.stage_blob(&blob, &local, size, &recipients, progress) {
                            Ok(staged) => staged,
                            Err(e) => {
                                // Leave no empty shard folder behind (it fails if not empty).
                                let _ = std::fs::remove_dir(self.layout.blob_shard(&blob));
                                return Err(e);
                            }
                        };
                    let sha256 = ids::hex(&digest.sha256);
                    if let Some(c) = old_content {
                        if c.sha256 == sha256 && c.size == digest.size {
                            report.unchanged += 1;
                            progress.file_done();
                            continue; // the temporary blob is deleted on drop
                        }
                    }
                    let (parent_path, name) = super::change::split_parent(&path);
                    let parent = match folders.get(parent_path) {
                        Some(p) => p.clone(),
                        None => snap.folder(parent_path)?,
                    };
                    let (entry, parents) = match (existing, old) {
                        (Some(n), Some(v)) => (n.entry.clone(), vec![v.id.clone()]),
                        _ => (ids::random_id(), Vec::new()),
                    };
                    if existing.is_some() {
                        report.replaced += 1;
                    } else {
                        report.added += 1;
                    }
                    report.bytes += digest.size;
                    ops.push(Op {
                        entry,
                        parents,
                        state: EntryState {
                            parent,
                            name: name.to_owned(),
                            kind: Kind::File,
                            status: Status::Live,
                            content: Some(Content {
                                blob,
                                size: digest.size,
                                sha256,
                                mtime,
                            }),
                            collection: None,
                        },
                    });
                    staged.push(Staged {
                        temp,
                        dest: blob_path,
                    });
                    batch_bytes += digest.size;
                    progress.file_done();
                    if staged.len() >= BATCH_FILES || batch_bytes >= BATCH_BYTES {
                        self.commit_ops(std::mem::take(&mut ops), std::mem::take(&mut staged))?;
                        batch_bytes = 0;
                    }
                }
            }
        }
        self.commit_ops(ops, staged)?;
        Ok(report)
    }
}
