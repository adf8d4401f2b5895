//! Files created once (docs/FORMAT.md §1.2): write under a temporary name in
//! the same folder, make durable, rename. Nothing in the vault folder is ever
//! modified in place, so a sync client never uploads a half-written file.

use std::fs::{File, FileTimes};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use tempfile::{NamedTempFile, TempPath};

use crate::errors::StorageError;
use crate::failpoint::step;
use crate::format::TEMP_PREFIX;

/// Every file we write gets this modification time (2000-01-01 UTC), so file
/// times in the vault folder say nothing about when patient files changed
/// (docs/THREAT_MODEL.md §2). Folder times still change (see [`commit`]), and
/// the provider sees upload times.
fn fixed_time() -> std::time::SystemTime {
    UNIX_EPOCH + Duration::from_secs(946_684_800)
}

/// A new temporary file in `dir` (created if missing).
pub(crate) fn temp_in(dir: &Path) -> Result<NamedTempFile, StorageError> {
    step("create temporary file").map_err(|e| StorageError::write(dir, e))?;
    let make = || {
        tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .tempfile_in(dir)
    };
    match make() {
        Ok(t) => Ok(t),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).map_err(|e| StorageError::write(dir, e))?;
            make().map_err(|e| StorageError::write(dir, e))
        }
        Err(e) => Err(StorageError::write(dir, e)),
    }
}

/// A staged file: written and closed, not yet in place. Deleted on drop.
pub(crate) struct Staged {
    pub temp: TempPath,
    pub dest: PathBuf,
}

impl Staged {
    /// Closes a fully written temporary file, ready to go in place at `dest`.
    ///
    /// Its time is set to the fixed one; off Linux it is also synced here,
    /// while its handle is still open (on Linux one `syncfs` per batch does it).
    pub(crate) fn new(temp: NamedTempFile, dest: PathBuf) -> Result<Self, StorageError> {
        step("close staged file").map_err(|e| StorageError::write(&dest, e))?;
        let f = temp.as_file();
        f.set_times(
            FileTimes::new()
                .set_modified(fixed_time())
                .set_accessed(fixed_time()),
        )
        .map_err(|e| StorageError::write(&dest, e))?;
        if !cfg!(target_os = "linux") {
            f.sync_all().map_err(|e| StorageError::write(&dest, e))?;
        }
        Ok(Self {
            temp: temp.into_temp_path(),
            dest,
        })
    }
}

/// Renames staged files into place, without waiting for the disk: they are
/// durable only after the next [`commit`] (docs/FORMAT.md §1.2). Until then a
/// crash can leave them incomplete, which is harmless as long as no record
/// names them yet.
pub(crate) fn place(staged: Vec<Staged>) -> Result<(), StorageError> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    for s in staged {
        step("rename into place").map_err(|e| StorageError::write(&s.dest, e))?;
        s.temp
            .persist(&s.dest)
            .map_err(|e| StorageError::write(&s.dest, e.error))?;
        if let Some(parent) = s.dest.parent() {
            if !dirs.iter().any(|d| d == parent) {
                dirs.push(parent.to_owned());
            }
        }
    }
    // Off Linux there is no syncfs: the renames (and the shard folders, which
    // may be new) are made durable here, before any record can name them.
    if !cfg!(target_os = "linux") {
        for d in &dirs {
            sync_dir(d)?;
            if let Some(up) = d.parent() {
                sync_dir(up)?;
            }
        }
    }
    Ok(())
}

/// Puts one staged file in place durably, after everything written before it
/// (files placed with [`place`] included) is durable: after this returns, it
/// and they exist under their final names with their full content, even after
/// power loss.
///
/// On Linux one `syncfs` before and one after the rename cover a whole batch
/// (one `fsync` per file made adding thousands of small files slow);
/// elsewhere files were synced when staged, and folders are synced here.
/// An existing destination is never replaced: that is an error
/// (`AlreadyExists`), as FORMAT.md §1.2 requires for records, keyslots and
/// the header.
pub(crate) fn commit(root: &Path, last: Staged) -> Result<(), StorageError> {
    sync_fs(root)?;
    let dest = last.dest;
    step("commit rename").map_err(|e| StorageError::write(&dest, e))?;
    last.temp
        .persist_noclobber(&dest)
        .map_err(|e| StorageError::write(&dest, e.error))?;
    // Folder times are left alone: sync tools (unison among them) skip
    // folders whose time did not change, and would never see new files.
    if cfg!(target_os = "linux") {
        sync_fs(root)
    } else {
        // The blobs' folders were synced by `place`; this file's folder (and
        // the one above, in case the folder is new) now.
        if let Some(d) = dest.parent() {
            sync_dir(d)?;
            if let Some(up) = d.parent() {
                sync_dir(up)?;
            }
        }
        Ok(())
    }
}

/// Replaces files with re-encrypted copies of the same content
/// (docs/FORMAT.md §13.3): the copies are made durable first, then renamed
/// over the originals, then the renames are made durable. A crash leaves
/// every file whole, under the old key or the new one. A file that vanished
/// meanwhile (purged) is not brought back.
pub(crate) fn replace_all(root: &Path, staged: Vec<Staged>) -> Result<(), StorageError> {
    if staged.is_empty() {
        return Ok(());
    }
    if cfg!(target_os = "linux") {
        sync_fs(root)?;
    }
    let mut dirs: Vec<PathBuf> = Vec::new();
    for s in staged {
        if !s.dest.exists() {
            continue;
        }
        step("replace with re-encrypted copy").map_err(|e| StorageError::write(&s.dest, e))?;
        s.temp
            .persist(&s.dest)
            .map_err(|e| StorageError::write(&s.dest, e.error))?;
        if let Some(parent) = s.dest.parent() {
            if !dirs.iter().any(|d| d == parent) {
                dirs.push(parent.to_owned());
            }
        }
    }
    if cfg!(target_os = "linux") {
        sync_fs(root)
    } else {
        for d in &dirs {
            sync_dir(d)?;
        }
        Ok(())
    }
}

/// Writes `bytes` as a new file at `dest` durably, never replacing one (see [`commit`]).
pub(crate) fn write_new(root: &Path, dest: &Path, bytes: &[u8]) -> Result<(), StorageError> {
    commit(root, Staged::new(temp_with(dest, bytes)?, dest.to_owned())?)
}

/// A temporary file beside `dest` holding `bytes`.
fn temp_with(dest: &Path, bytes: &[u8]) -> Result<NamedTempFile, StorageError> {
    let dir = dest.parent().expect("destination has a folder");
    let mut temp = temp_in(dir)?;
    step("write new file").map_err(|e| StorageError::write(dest, e))?;
    temp.write_all(bytes)
        .map_err(|e| StorageError::write(dest, e))?;
    temp.flush().map_err(|e| StorageError::write(dest, e))?;
    Ok(temp)
}

/// Writes `bytes` as a new file at `dest` durably, never replacing one,
/// without making anything else durable: the file and its folders are
/// synced, not the whole filesystem. For files that depend on nothing
/// written before them (audit batches, FORMAT.md §10.4): a `syncfs` here
/// would also wait for unrelated writes in flight on the same disk, such
/// as the gigabyte `get` has just decrypted beside the vault.
pub(crate) fn write_new_alone(dest: &Path, bytes: &[u8]) -> Result<(), StorageError> {
    let dir = dest.parent().expect("destination has a folder");
    let temp = temp_with(dest, bytes)?;
    step("sync").map_err(|e| StorageError::write(dest, e))?;
    // Off Linux, Staged::new syncs it.
    if cfg!(target_os = "linux") {
        temp.as_file()
            .sync_all()
            .map_err(|e| StorageError::write(dest, e))?;
    }
    let last = Staged::new(temp, dest.to_owned())?;
    step("commit rename").map_err(|e| StorageError::write(dest, e))?;
    last.temp
        .persist_noclobber(dest)
        .map_err(|e| StorageError::write(dest, e.error))?;
    // The folder, and the one above in case the folder is new.
    sync_dir(dir)?;
    match dir.parent() {
        Some(up) => sync_dir(up),
        None => Ok(()),
    }
}

/// Replaces `dest` with `bytes` atomically (temporary file and rename) but
/// without waiting for the disk: for local state that may be lost in a
/// power cut without harm (docs/FORMAT.md §7).
pub(crate) fn write_replace(dest: &Path, bytes: &[u8]) -> Result<(), StorageError> {
    let dir = dest.parent().expect("destination has a folder");
    let mut temp = temp_in(dir)?;
    step("write local state").map_err(|e| StorageError::write(dest, e))?;
    temp.write_all(bytes)
        .map_err(|e| StorageError::write(dest, e))?;
    step("replace local state").map_err(|e| StorageError::write(dest, e))?;
    temp.persist(dest)
        .map_err(|e| StorageError::write(dest, e.error))?;
    Ok(())
}

#[cfg(target_os = "linux")]
fn sync_fs(root: &Path) -> Result<(), StorageError> {
    step("sync").map_err(|e| StorageError::write(root, e))?;
    let f = File::open(root).map_err(|e| StorageError::write(root, e))?;
    rustix::fs::syncfs(&f).map_err(|e| StorageError::write(root, io::Error::from(e)))
}

#[cfg(not(target_os = "linux"))]
fn sync_fs(_root: &Path) -> Result<(), StorageError> {
    Ok(())
}

fn sync_dir(dir: &Path) -> Result<(), StorageError> {
    #[cfg(unix)]
    {
        let f = File::open(dir).map_err(|e| StorageError::write(dir, e))?;
        f.sync_all().map_err(|e| StorageError::write(dir, e))?;
    }
    let _ = dir;
    Ok(())
}

/// Writes to a new file, starting the kernel's write-back every 16 MiB
/// (Linux) so that the durable sync at the end of a batch has little left to
/// do: the disk works while the CPU encrypts.
pub(crate) struct WriteBehind<'a> {
    file: &'a File,
    started: u64,
    pos: u64,
}

impl<'a> WriteBehind<'a> {
    pub(crate) fn new(file: &'a File) -> Self {
        Self {
            file,
            started: 0,
            pos: 0,
        }
    }
}

impl Write for WriteBehind<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        step("write content")?;
        let n = (&mut &*self.file).write(buf)?;
        self.pos += n as u64;
        if self.pos - self.started >= 16 << 20 {
            #[cfg(target_os = "linux")]
            {
                // DONTNEED on dirty pages queues them for write-back without
                // waiting (the ciphertext need not stay cached); best effort.
                let len = std::num::NonZeroU64::new(self.pos - self.started);
                let _ =
                    rustix::fs::fadvise(self.file, self.started, len, rustix::fs::Advice::DontNeed);
            }
            self.started = self.pos;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Reads a small file of at most `max` bytes; `None` if it is larger or not a
/// regular file (a folder where a record should be, say): such files are not
/// ours, and reading them whole could exhaust memory.
///
/// A file that vanished since its folder was listed (a sync client at work),
/// or a dangling symbolic link, is `None` too.
pub(crate) fn read_limited(path: &Path, max: u64) -> Result<Option<Vec<u8>>, StorageError> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StorageError::read(path, e)),
    };
    if !meta.is_file() || meta.len() > max {
        return Ok(None);
    }
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StorageError::read(path, e)),
    }
}

/// Names in a folder, sorted; an absent folder is empty.
pub(crate) fn list_dir(dir: &Path) -> Result<Vec<String>, StorageError> {
    list_dir_max(dir, FOLDER_MAX)
}

/// Most names read from one folder of the vault. ChartSafe's own folders
/// stay far below it (blobs are spread over 1024 shards; a device writes
/// one record per change batch); past it, the folder was filled by
/// someone else, and reading it would cost every reader time and memory
/// without bound (docs/THREAT_MODEL.md §4.6).
pub(crate) const FOLDER_MAX: usize = 1 << 20;

/// [`list_dir`] with another bound (tests).
pub(crate) fn list_dir_max(dir: &Path, max: usize) -> Result<Vec<String>, StorageError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        // Absent, or a stray file where a folder should be (docs/FORMAT.md §1):
        // nothing of ours is in it.
        Err(e)
            if e.kind() == io::ErrorKind::NotFound || e.kind() == io::ErrorKind::NotADirectory =>
        {
            return Ok(Vec::new())
        }
        Err(e) => return Err(StorageError::read(dir, e)),
    };
    let mut out = Vec::new();
    for (n, entry) in entries.enumerate() {
        if n >= max {
            return Err(StorageError::planted(
                dir,
                crate::errors::StorageCause::TooManyNames(max),
            ));
        }
        let entry = entry.map_err(|e| StorageError::read(dir, e))?;
        if let Ok(name) = entry.file_name().into_string() {
            out.push(name);
        }
    }
    out.sort();
    Ok(out)
}

/// The device folders under `dir` (`r/` or `a/`), by device id, each with
/// the folder names that hold its files: its own and sync clients' copies
/// of it (`<id> (1)`, FORMAT.md §6.3).
pub(crate) fn device_folders(
    dir: &Path,
) -> Result<std::collections::BTreeMap<String, Vec<String>>, StorageError> {
    let mut folders: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for name in list_dir(dir)? {
        if crate::format::is_ignorable(&name) {
            continue;
        }
        if let Some(base) =
            crate::format::strip_copy_marker(&name, 26).filter(|b| crate::ids::is_id(b))
        {
            folders
                .entry(base.to_owned())
                .or_default()
                .push(name.clone());
        }
    }
    Ok(folders)
}

#[cfg(test)]
mod folder_tests {
    use super::*;

    #[test]
    fn a_folder_with_more_names_than_the_bound_is_refused_by_name() {
        let tmp = tempfile::tempdir().unwrap();
        for i in 0..5 {
            std::fs::write(tmp.path().join(format!("{i:010}")), b"x").unwrap();
        }
        assert_eq!(list_dir_max(tmp.path(), 5).unwrap().len(), 5);
        let err = list_dir_max(tmp.path(), 4).unwrap_err();
        let text = err.to_string();
        assert!(text.contains(&tmp.path().display().to_string()), "{text}");
        assert!(text.contains("more than 4 names"), "{text}");
    }
}
