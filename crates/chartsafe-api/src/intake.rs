//! The scanner folder: a plain folder where a scanner or fax program drops
//! PDFs. Each file, once complete, is encrypted into a vault folder, read
//! back and compared with the file on disk, recorded, and only then removed
//! from the watched folder; a file that cannot be taken stays where it is,
//! with the reason (docs/FORMAT.md §16, docs/THREAT_MODEL.md §6.4).
//!
//! Both shells drive it the same way: [`Intake::ready`] says which files
//! are complete, [`Intake::take`] takes one. The app runs it while
//! unlocked; `chartsafe watch DIR --to PATH` on a scanning PC.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use chartsafe_core::{
    AddOptions, Classify, ErrorKind, Event, NoProgress, OnExisting, Outcome, Vault,
};
use sha2::{Digest, Sha256};

/// How long a file's size and time must stay the same before it is taken:
/// scanners write a page at a time.
pub const SETTLE: Duration = Duration::from_secs(2);

/// Errors of [`Intake::new`] and [`Intake::ready`]: the watched folder
/// itself (one file's trouble is a [`Taken::Left`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IntakeError {
    /// The watched folder cannot be read.
    #[error("cannot read the watched folder {}: {source}", dir.display())]
    Folder {
        /// The folder.
        dir: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The watched folder is the vault folder or inside it: its files are
    /// the vault's own.
    #[error("the watched folder {} is inside the vault folder; choose the folder the scanner writes to", .0.display())]
    InsideVault(PathBuf),
}

impl Classify for IntakeError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Folder { source, .. } => ErrorKind::of_io(source),
            Self::InsideVault(_) => ErrorKind::InvalidName,
        }
    }
}

/// What became of one file.
#[derive(Debug)]
pub enum Taken {
    /// Stored at `path` in the vault, read back and matched; the original
    /// is gone from the watched folder.
    Stored {
        /// The file that was in the watched folder.
        file: PathBuf,
        /// Where it is in the vault.
        path: String,
    },
    /// Left where it is; `why` says why (it is recorded too).
    Left {
        /// The file.
        file: PathBuf,
        /// Why, for people.
        why: String,
    },
}

/// What was last seen of a file that is not complete yet.
struct Seen {
    size: u64,
    modified: Option<SystemTime>,
    since: Instant,
}

/// A watched folder and the vault folder its files go to.
pub struct Intake {
    dir: PathBuf,
    to: String,
    settle: Duration,
    seen: HashMap<PathBuf, Seen>,
    /// Files left with a reason, not retried until they change.
    left: HashMap<PathBuf, (u64, Option<SystemTime>)>,
}

impl Intake {
    /// Watches `dir`; files go into the vault folder `to` ("" for the top).
    ///
    /// # Errors
    ///
    /// [`IntakeError`] when `dir` cannot be read or is inside the vault
    /// folder `vault_dir`.
    pub fn new(
        dir: &Path,
        to: &str,
        vault_dir: &Path,
        settle: Duration,
    ) -> Result<Self, IntakeError> {
        let folder = |source| IntakeError::Folder {
            dir: dir.to_owned(),
            source,
        };
        let real = std::fs::canonicalize(dir).map_err(folder)?;
        if !real.is_dir() {
            return Err(folder(io::Error::new(
                io::ErrorKind::NotADirectory,
                "not a folder",
            )));
        }
        if let Ok(vault) = std::fs::canonicalize(vault_dir) {
            if real.starts_with(&vault) || vault.starts_with(&real) {
                return Err(IntakeError::InsideVault(dir.to_owned()));
            }
        }
        Ok(Self {
            dir: real,
            to: to.trim_matches('/').to_owned(),
            settle,
            seen: HashMap::new(),
            left: HashMap::new(),
        })
    }

    /// The watched folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The files of the watched folder that are complete at `now`: regular
    /// files (not hidden, not a program's temporary or partial file) whose
    /// size and modification time have not changed for the settle time,
    /// and that no program holds locked. Subfolders are not entered.
    ///
    /// # Errors
    ///
    /// [`IntakeError::Folder`] when the folder cannot be listed.
    pub fn ready(&mut self, now: Instant) -> Result<Vec<PathBuf>, IntakeError> {
        let entries = std::fs::read_dir(&self.dir).map_err(|source| IntakeError::Folder {
            dir: self.dir.clone(),
            source,
        })?;
        let mut present = Vec::new();
        let mut ready = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if skipped_name(&name) {
                continue;
            }
            let path = entry.path();
            // Not following links: a link could point anywhere.
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            if !meta.is_file() {
                continue;
            }
            present.push(path.clone());
            let (size, modified) = (meta.len(), meta.modified().ok());
            if self.left.get(&path) == Some(&(size, modified)) {
                continue;
            }
            self.left.remove(&path);
            let seen = self.seen.entry(path.clone()).or_insert(Seen {
                size,
                modified,
                since: now,
            });
            if seen.size != size || seen.modified != modified {
                *seen = Seen {
                    size,
                    modified,
                    since: now,
                };
                continue;
            }
            if now.duration_since(seen.since) >= self.settle && !locked(&path) {
                ready.push(path);
            }
        }
        self.seen.retain(|p, _| present.contains(p));
        self.left.retain(|p, _| present.contains(p));
        ready.sort();
        Ok(ready)
    }

    /// Takes `file`: as [`Intake::take_all`] with one file.
    pub fn take(&mut self, vault: &mut Vault, file: &Path) -> Taken {
        self.take_all(vault, &[file.to_owned()])
            .pop()
            .expect("one result per file")
    }

    /// Takes `files` (from [`Intake::ready`]) together: stores them in the
    /// vault folder under their own names (never over another file: "scan
    /// (2).pdf"), reads each stored content back and compares it with the
    /// file on disk, records that, and removes the originals. Anything that
    /// goes wrong with a file leaves it where it is (recorded when the vault
    /// could be written), not retried until it changes. One result per
    /// file, in order.
    pub fn take_all(&mut self, vault: &mut Vault, files: &[PathBuf]) -> Vec<Taken> {
        let mut results: Vec<Option<FileResult>> = vec![None; files.len()];
        // What each file was before it was stored.
        let mut before = Vec::with_capacity(files.len());
        let mut sources = Vec::new();
        for (i, file) in files.iter().enumerate() {
            self.seen.remove(file);
            match digest(file) {
                Ok(d) => {
                    before.push(Some(d));
                    sources.push(file.clone());
                }
                Err(e) => {
                    before.push(None);
                    results[i] = Some(Err((None, format!("cannot read it: {e}"))));
                }
            }
        }
        let options = AddOptions {
            on_existing: OnExisting::KeepBoth,
            keep_going: true,
            saved_back: false,
        };
        let mut stored: HashMap<PathBuf, String> = HashMap::new();
        match vault.add_with(&sources, &self.to, &options, &NoProgress) {
            Ok(report) => {
                for f in report.failed {
                    if let Some(i) = files.iter().position(|p| *p == f.source) {
                        results[i] = Some(Err((None, f.error.to_string())));
                    }
                }
                stored.extend(report.stored);
            }
            Err(e) => {
                for (i, r) in results.iter_mut().enumerate() {
                    if r.is_none() && before[i].is_some() {
                        *r = Some(Err((None, e.to_string())));
                    }
                }
            }
        }
        // Read back: each stored copy decrypts to what its record says,
        // which is what was on disk before, and still is.
        let mut events = Vec::new();
        let mut checked = Vec::new();
        for (i, file) in files.iter().enumerate() {
            if results[i].is_some() {
                continue;
            }
            let Some(path) = stored.get(file).cloned() else {
                results[i] = Some(Err((None, "it was not stored".to_owned())));
                continue;
            };
            let was = before[i].as_ref().expect("read before");
            let check = match vault.check_content(&path) {
                Ok(c) => c,
                Err(e) => {
                    results[i] = Some(Err((Some(path), format!("reading it back failed: {e}"))));
                    continue;
                }
            };
            let now = digest(file).ok();
            if check.sha256 != was.0 || check.size != was.1 || now.as_ref() != Some(was) {
                results[i] = Some(Err((
                    Some(path),
                    "it changed while it was being taken; it is taken again once it is complete"
                        .to_owned(),
                )));
                continue;
            }
            events.push(
                Event::new(vault.now_ms(), chartsafe_core::Action::Scanned)
                    .on(&check.entry, &path)
                    .detail(format!(
                        "from the watched folder ({}): read back and matched; original removed",
                        file_name(file)
                    )),
            );
            checked.push((i, path));
        }
        // Recorded before any original goes (FORMAT.md §16 step 4).
        if let Err(e) = vault.record_all(events) {
            for (i, path) in checked.drain(..) {
                results[i] = Some(Err((Some(path), e.to_string())));
            }
        }
        for (i, path) in checked {
            results[i] = Some(match std::fs::remove_file(&files[i]) {
                Ok(()) => Ok(path),
                Err(e) => Err((
                    Some(path),
                    format!("the original could not be removed: {e}"),
                )),
            });
        }
        let mut failed = Vec::new();
        let out = files
            .iter()
            .zip(results)
            .map(|(file, r)| match r.expect("every file decided") {
                Ok(path) => Taken::Stored {
                    file: file.clone(),
                    path,
                },
                Err((path, why)) => {
                    let detail = match &path {
                        Some(p) => format!(
                            "{} stored at {p} but left in the watched folder",
                            file_name(file)
                        ),
                        None => format!("{} left in the watched folder", file_name(file)),
                    };
                    failed.push(
                        Event::new(vault.now_ms(), chartsafe_core::Action::Scanned)
                            .detail(detail)
                            .outcome(Outcome::Failed, why.clone()),
                    );
                    if let Ok(meta) = std::fs::metadata(file) {
                        self.left
                            .insert(file.clone(), (meta.len(), meta.modified().ok()));
                    }
                    Taken::Left {
                        file: file.clone(),
                        why,
                    }
                }
            })
            .collect();
        let _ = vault.record_all(failed);
        out
    }
}

/// What became of one file in [`Intake::take_all`]: its vault path, or
/// (the vault path if it was stored, why it was left).
type FileResult = Result<String, (Option<String>, String)>;

/// A file name only, for the log: the watched folder's path stays out.
fn file_name(file: &Path) -> String {
    file.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Names a scanner or another program writes and renames, or that are not
/// documents: hidden files, partial downloads, Office lock files.
fn skipped_name(name: &str) -> bool {
    let lower = name.to_lowercase();
    name.starts_with('.')
        || name.starts_with("~$")
        || name.ends_with('~')
        || [".part", ".partial", ".tmp", ".crdownload", ".download"]
            .iter()
            .any(|s| lower.ends_with(s))
        || lower == "desktop.ini"
        || lower == "thumbs.db"
}

/// Whether another program holds the file locked (a scanner that is still
/// writing it, on systems where programs lock what they write).
fn locked(file: &Path) -> bool {
    match File::open(file) {
        Ok(f) => match f.try_lock() {
            Ok(()) => {
                let _ = f.unlock();
                false
            }
            Err(std::fs::TryLockError::WouldBlock) => true,
            Err(std::fs::TryLockError::Error(_)) => false,
        },
        // Windows refuses to open a file another program writes.
        Err(_) => true,
    }
}

/// SHA-256 (hex) and size of a file on disk.
fn digest(file: &Path) -> io::Result<(String, u64)> {
    let mut f = File::open(file)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 << 10];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    let hex: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok((hex, size))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::new_vault;

    #[test]
    fn temporary_and_hidden_names_are_not_taken() {
        for n in [
            ".scan.pdf",
            "~$letter.docx",
            "scan.pdf.part",
            "a.tmp",
            "x~",
            "Thumbs.db",
        ] {
            assert!(skipped_name(n), "{n}");
        }
        for n in ["scan 0001.pdf", "fax-2026-12-07.tif", "partial results.pdf"] {
            assert!(!skipped_name(n), "{n}");
        }
    }

    /// A file is taken only once it stopped changing; it is then in the
    /// vault (a second scan with the same name beside it), read back, and
    /// gone from the folder; each is recorded.
    #[test]
    fn complete_files_are_stored_checked_and_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let mut vault = new_vault(tmp.path());
        let scans = tmp.path().join("scans");
        std::fs::create_dir(&scans).unwrap();
        let mut intake = Intake::new(
            &scans,
            "Inbox",
            &tmp.path().join("vault"),
            Duration::from_secs(2),
        )
        .unwrap();
        let t0 = Instant::now();
        std::fs::write(scans.join("scan 0001.pdf"), b"%PDF page one").unwrap();
        std::fs::write(scans.join("scan.pdf.part"), b"%PDF half").unwrap();
        assert!(intake.ready(t0).unwrap().is_empty(), "just seen");
        // It grows: the clock starts again.
        std::fs::write(scans.join("scan 0001.pdf"), b"%PDF page one, page two").unwrap();
        assert!(intake
            .ready(t0 + Duration::from_secs(1))
            .unwrap()
            .is_empty());
        assert!(intake
            .ready(t0 + Duration::from_secs(2))
            .unwrap()
            .is_empty());
        let ready = intake.ready(t0 + Duration::from_secs(4)).unwrap();
        assert_eq!(ready, [intake.dir().join("scan 0001.pdf")]);
        match intake.take(&mut vault, &ready[0]) {
            Taken::Stored { path, .. } => assert_eq!(path, "Inbox/scan 0001.pdf"),
            Taken::Left { why, .. } => panic!("{why}"),
        }
        assert!(!scans.join("scan 0001.pdf").exists());
        assert!(scans.join("scan.pdf.part").exists(), "partial files stay");

        // The scanner numbers from 1 again: the new scan goes beside it.
        std::fs::write(scans.join("scan 0001.pdf"), b"%PDF another patient").unwrap();
        let t1 = t0 + Duration::from_secs(10);
        intake.ready(t1).unwrap();
        let ready = intake.ready(t1 + Duration::from_secs(3)).unwrap();
        match intake.take(&mut vault, &ready[0]) {
            Taken::Stored { path, .. } => assert_eq!(path, "Inbox/scan 0001 (2).pdf"),
            Taken::Left { why, .. } => panic!("{why}"),
        }
        let mut back = Vec::new();
        vault
            .get_to_writer(
                "Inbox/scan 0001.pdf",
                None,
                &mut back,
                chartsafe_core::Access::Exported,
            )
            .unwrap();
        assert_eq!(back, b"%PDF page one, page two");
        let log = vault.audit_log().unwrap();
        let scanned: Vec<_> = log
            .entries
            .iter()
            .filter(|e| e.action == "scanned")
            .collect();
        assert_eq!(scanned.len(), 2);
        assert!(scanned.iter().all(|e| e.outcome == "ok"));
        assert!(scanned[0]
            .detail
            .as_deref()
            .unwrap()
            .contains("read back and matched"));
    }

    #[test]
    fn the_vault_folder_itself_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let _vault = new_vault(tmp.path());
        let e = Intake::new(
            &tmp.path().join("vault"),
            "",
            &tmp.path().join("vault"),
            SETTLE,
        );
        assert!(matches!(e, Err(IntakeError::InsideVault(_))));
    }
}
