//! Files created once (docs/FORMAT.md §1.2): write under a temporary name in
//! the same folder, make durable, rename. Nothing in the vault folder is ever
//! modified in place, so a sync client never uploads a half-written file.

use std::fs::{File, FileTimes};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use tempfile::NamedTempFile;

use crate::errors::StorageError;
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
    std::fs::create_dir_all(dir).map_err(|e| StorageError::write(dir, e))?;
    tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .tempfile_in(dir)
        .map_err(|e| StorageError::write(dir, e))
}

/// A staged file: written, not yet in place.
pub(crate) struct Staged {
    pub temp: NamedTempFile,
    pub dest: PathBuf,
}

/// Puts staged files in place durably: after this returns, every one of them
/// exists under its final name with its full content, even after power loss.
///
/// On Linux one `syncfs` covers the whole batch (instead of one `fsync` per
/// file, which made adding thousands of small files slow); elsewhere each file
/// and folder is synced. With `no_clobber`, an existing destination is an error
/// (`AlreadyExists`) and nothing is replaced.
pub(crate) fn commit(
    root: &Path,
    staged: Vec<Staged>,
    no_clobber: bool,
) -> Result<(), StorageError> {
    for s in &staged {
        let f = s.temp.as_file();
        f.set_times(
            FileTimes::new()
                .set_modified(fixed_time())
                .set_accessed(fixed_time()),
        )
        .map_err(|e| StorageError::write(s.temp.path(), e))?;
        if !cfg!(target_os = "linux") {
            f.sync_all().map_err(|e| StorageError::write(&s.dest, e))?;
        }
    }
    sync_fs(root)?;
    let mut dirs: Vec<PathBuf> = Vec::new();
    for s in staged {
        let dest = s.dest;
        let result = if no_clobber {
            s.temp.persist_noclobber(&dest).map(drop)
        } else {
            s.temp.persist(&dest).map(drop)
        };
        result.map_err(|e| StorageError::write(&dest, e.error))?;
        if let Some(parent) = dest.parent() {
            if !dirs.iter().any(|d| d == parent) {
                dirs.push(parent.to_owned());
            }
        }
    }
    // Folder times are left alone: sync tools (unison among them) skip
    // folders whose time did not change, and would never see new files.
    if cfg!(target_os = "linux") {
        sync_fs(root)
    } else {
        for d in dirs {
            sync_dir(&d)?;
        }
        Ok(())
    }
}

/// Writes `bytes` as a new file at `dest` durably (see [`commit`]).
pub(crate) fn write_new(
    root: &Path,
    dest: &Path,
    bytes: &[u8],
    no_clobber: bool,
) -> Result<(), StorageError> {
    let dir = dest.parent().expect("destination has a folder");
    let mut temp = temp_in(dir)?;
    temp.write_all(bytes)
        .map_err(|e| StorageError::write(dest, e))?;
    temp.flush().map_err(|e| StorageError::write(dest, e))?;
    commit(
        root,
        vec![Staged {
            temp,
            dest: dest.to_owned(),
        }],
        no_clobber,
    )
}

#[cfg(target_os = "linux")]
fn sync_fs(root: &Path) -> Result<(), StorageError> {
    let f = File::open(root).map_err(|e| StorageError::write(root, e))?;
    rustix::fs::syncfs(&f).map_err(|e| StorageError::write(root, io::Error::from(e)))
}

#[cfg(not(target_os = "linux"))]
fn sync_fs(_root: &Path) -> Result<(), StorageError> {
    Ok(())
}

#[cfg_attr(target_os = "linux", allow(dead_code))]
fn sync_dir(dir: &Path) -> Result<(), StorageError> {
    #[cfg(unix)]
    {
        let f = File::open(dir).map_err(|e| StorageError::write(dir, e))?;
        f.sync_all().map_err(|e| StorageError::write(dir, e))?;
    }
    let _ = dir;
    Ok(())
}

/// Reads a whole small file.
pub(crate) fn read(path: &Path) -> Result<Vec<u8>, StorageError> {
    std::fs::read(path).map_err(|e| StorageError::read(path, e))
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
pub(crate) fn read_limited(path: &Path, max: u64) -> Result<Option<Vec<u8>>, StorageError> {
    let meta = std::fs::metadata(path).map_err(|e| StorageError::read(path, e))?;
    if !meta.is_file() || meta.len() > max {
        return Ok(None);
    }
    read(path).map(Some)
}

/// Names in a folder, sorted; an absent folder is empty.
pub(crate) fn list_dir(dir: &Path) -> Result<Vec<String>, StorageError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(StorageError::read(dir, e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| StorageError::read(dir, e))?;
        if let Ok(name) = entry.file_name().into_string() {
            out.push(name);
        }
    }
    out.sort();
    Ok(out)
}
