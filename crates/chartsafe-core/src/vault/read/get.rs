//! Reading a file's content out of the vault (docs/FORMAT.md §3.3).

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use subtle::ConstantTimeEq;

use crate::crypt::{self, DecryptFailure, Digested};
use crate::errors::{GetError, PathError, StorageError};
use crate::format::audit::{Action, Event, Outcome};
use crate::format::record::{Content, Kind};
use crate::ids;
use crate::traits::Progress;
use crate::vault::change::{normalise, versions_of};
use crate::vault::load::Snapshot;
use crate::vault::Vault;

/// Why content is read: recorded in the audit log (docs/FORMAT.md §10.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Opened in another program.
    Opened,
    /// Shown inside the app.
    Previewed,
    /// Written out of the vault (export, `chartsafe get`).
    Exported,
}

impl Access {
    fn action(self) -> Action {
        match self {
            Self::Opened => Action::Opened,
            Self::Previewed => Action::Previewed,
            Self::Exported => Action::Exported,
        }
    }
}

/// What [`Vault::check_content`] found: the content matched its record.
#[derive(Debug, Clone)]
pub struct ContentCheck {
    /// The entry's id.
    pub entry: String,
    /// Its path.
    pub path: String,
    /// The SHA-256 of its plaintext (hex), as recorded and as read back.
    pub sha256: String,
    /// Its size in bytes.
    pub size: u64,
}

/// The content to read, and the facts needed to check it.
pub(in crate::vault) struct Source {
    pub(in crate::vault) path: String,
    pub(in crate::vault) entry: String,
    pub(in crate::vault) version: usize,
    pub(in crate::vault) content: Content,
    pub(in crate::vault) own: bool,
}

impl Vault {
    pub(in crate::vault) fn source(
        &mut self,
        path: &str,
        version: Option<usize>,
    ) -> Result<(Snapshot, Source), GetError> {
        let snap = self.load()?;
        let src = self.source_in(&snap, path, version)?;
        Ok((snap, src))
    }

    /// The content at `path` in an already loaded snapshot.
    pub(in crate::vault) fn source_in(
        &self,
        snap: &Snapshot,
        path: &str,
        version: Option<usize>,
    ) -> Result<Source, GetError> {
        let path = normalise(path)?;
        let node = snap.find(&path)?;
        if snap.tree.versions[node.version].state.kind == Kind::Dir {
            return Err(PathError::NotAFile { path }.into());
        }
        let list = versions_of(snap, node);
        let number = version.unwrap_or(1);
        let vi = *list
            .get(number.wrapping_sub(1))
            .ok_or(GetError::NoSuchVersion {
                path: path.clone(),
                version: number,
            })?;
        let v = &snap.tree.versions[vi];
        let content = v.state.content.clone().expect("file versions have content");
        let own = v.device == self.device.device;
        let entry = node.entry.clone();
        Ok(Source {
            path,
            entry,
            version: number,
            content,
            own,
        })
    }

    pub(in crate::vault) fn open_blob(
        &self,
        snap: &Snapshot,
        src: &Source,
    ) -> Result<(File, String), GetError> {
        let rel = self
            .layout
            .relative(&snap.blob_path(&self.layout, &src.content.blob))
            .into_owned();
        let missing = || {
            if src.own {
                GetError::BlobMissing {
                    path: src.path.clone(),
                    blob: rel.clone(),
                }
            } else {
                GetError::WaitingForSync {
                    path: src.path.clone(),
                    blob: rel.clone(),
                }
            }
        };
        if !snap.blobs.contains(&src.content.blob) {
            return Err(missing());
        }
        let file_path = snap.blob_path(&self.layout, &src.content.blob);
        // Only a regular file is opened: a planted pipe would block the
        // open forever, a folder or device would fail in odd ways.
        match std::fs::metadata(&file_path) {
            Ok(m) if !m.is_file() => {
                return Err(GetError::BlobCorrupt {
                    path: src.path.clone(),
                    blob: rel,
                })
            }
            _ => {}
        }
        let file = match File::open(&file_path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                // Only a sync client's copy arrived: use it (docs/FORMAT.md §6.3).
                let shard = snap.blob_shard(&self.layout, &src.content.blob);
                let copy = crate::fsutil::list_dir(&shard)?
                    .into_iter()
                    .find(|n| crate::format::strip_copy_marker(n, 26) == Some(&src.content.blob));
                match copy {
                    Some(n) => {
                        let copy = shard.join(n);
                        if !std::fs::metadata(&copy).is_ok_and(|m| m.is_file()) {
                            return Err(GetError::BlobCorrupt {
                                path: src.path.clone(),
                                blob: rel,
                            });
                        }
                        File::open(copy).map_err(|e| StorageError::read(&file_path, e))?
                    }
                    None => return Err(missing()),
                }
            }
            Err(e) => return Err(StorageError::read(&file_path, e).into()),
        };
        // An age file is its plaintext plus 16 bytes per 64 KiB chunk, a
        // 16-byte nonce and a header: anything much larger was replaced, and
        // is refused before it is read (docs/THREAT_MODEL.md §4).
        let len = file
            .metadata()
            .map_err(|e| StorageError::read(&file_path, e))?
            .len();
        let size = src.content.size;
        let chunks = size.div_ceil(64 << 10).max(1);
        let most = size.saturating_add(16 * chunks + 16 + crypt::HEADER_MAX as u64);
        if len > most {
            return Err(GetError::BlobCorrupt {
                path: src.path.clone(),
                blob: rel,
            });
        }
        Ok((file, rel))
    }

    /// Checks a finished decryption against the record (docs/FORMAT.md §5.2).
    pub(in crate::vault) fn check(
        src: &Source,
        rel: &str,
        result: Result<Digested, DecryptFailure>,
    ) -> Result<(), GetError> {
        let blob = rel.to_owned();
        let path = src.path.clone();
        match result {
            Ok(d) => {
                let expected = ids::unhex(&src.content.sha256).unwrap_or_default();
                let same_hash: bool = d.sha256.as_slice().ct_eq(&expected).into();
                if same_hash && d.size == src.content.size {
                    Ok(())
                } else {
                    Err(GetError::BlobSubstituted { path, blob })
                }
            }
            Err(DecryptFailure::NoMatchingKey) => Err(GetError::NotOurKey { path, blob }),
            Err(DecryptFailure::Corrupt) => Err(GetError::BlobCorrupt { path, blob }),
            Err(DecryptFailure::Io(e)) => Err(StorageError::read(blob, e).into()),
            Err(DecryptFailure::Write(e)) => {
                Err(GetError::Output(PathBuf::from("standard output"), e))
            }
        }
    }

    /// The audit event of reading `src`.
    pub(in crate::vault) fn access_event(&self, src: &Source, access: Access) -> Event {
        let e = Event::new(self.clock.now_ms(), access.action()).on(&src.entry, &src.path);
        if src.version == 1 {
            e
        } else {
            e.detail(format!("version {}", src.version))
        }
    }

    /// Records a failed read, as far as the log can be written: the
    /// original error is what the caller needs to see.
    pub(in crate::vault) fn record_failure(
        &mut self,
        src: &Source,
        access: Access,
        error: &GetError,
    ) {
        let e = self
            .access_event(src, access)
            .outcome(Outcome::Failed, error.to_string());
        let _ = self.append_audit(vec![e]);
    }

    /// Decrypts a file (version 1 = current, 2 = the one before, …) to `out`.
    ///
    /// The plaintext goes to a temporary file beside `out`, which is renamed
    /// only once the whole content authenticated and matched the record; on
    /// any failure nothing is left behind (docs/FORMAT.md §3.3). The read
    /// is recorded in the audit log as `access` before the file appears; if
    /// the log cannot be written, nothing is written out.
    pub fn get(
        &mut self,
        path: &str,
        version: Option<usize>,
        out: &Path,
        access: Access,
        progress: &dyn Progress,
    ) -> Result<(), GetError> {
        let (snap, src) = self.source(path, version)?;
        let result = self.get_checked(&snap, &src, out, progress);
        match result {
            Ok(temp) => {
                self.append_audit(vec![self.access_event(&src, access)])?;
                let placed = temp
                    .persist(out)
                    .map(|_| ())
                    .map_err(|e| GetError::Output(out.to_owned(), e.error));
                if let Err(e) = &placed {
                    // The log said "ok" a moment ago: it says what came of it.
                    self.record_failure(&src, access, e);
                }
                placed
            }
            Err(e) => {
                self.record_failure(&src, access, &e);
                Err(e)
            }
        }
    }

    pub(in crate::vault) fn get_checked(
        &self,
        snap: &Snapshot,
        src: &Source,
        out: &Path,
        progress: &dyn Progress,
    ) -> Result<tempfile::NamedTempFile, GetError> {
        let (file, rel) = self.open_blob(snap, src)?;
        let dir = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => std::path::PathBuf::from("."),
        };
        let mut temp = tempfile::Builder::new()
            .prefix(".chartsafe-")
            .tempfile_in(&dir)
            .map_err(|e| GetError::Output(out.to_owned(), e))?;
        progress.begin(1, src.content.size);
        let result = crypt::decrypt_stream(
            file,
            temp.as_file_mut(),
            src.content.size,
            &self.keys.identities(),
            progress,
        );
        progress.end();
        if let Err(DecryptFailure::Io(e)) = &result {
            if e.kind() != io::ErrorKind::NotFound {
                return Err(GetError::Output(
                    out.to_owned(),
                    io::Error::new(e.kind(), e.to_string()),
                ));
            }
        }
        Self::check(src, &rel, result)?;
        Ok(temp)
    }

    /// Decrypts the current version of `path` into nothing but a hash and
    /// checks it against its record, as every read does; writes nothing and
    /// records nothing (the caller records what it was for: the scanner
    /// folder reads back what it stored before removing the original).
    ///
    /// # Errors
    ///
    /// As [`Vault::get`].
    pub fn check_content(&mut self, path: &str) -> Result<ContentCheck, GetError> {
        let (snap, src) = self.source(path, None)?;
        let identities = self.keys.identities();
        let (file, rel) = self.open_blob(&snap, &src)?;
        let noop = crate::traits::NoProgress;
        let r = crypt::decrypt_stream(file, io::sink(), src.content.size, &identities, &noop);
        Self::check(&src, &rel, r)?;
        Ok(ContentCheck {
            entry: src
                .entry
                .rsplit('/')
                .next()
                .unwrap_or(&src.entry)
                .to_owned(),
            path: src.path.clone(),
            sha256: src.content.sha256.clone(),
            size: src.content.size,
        })
    }

    /// Decrypts a file to a writer (e.g. standard output).
    ///
    /// The content is first decrypted and checked without output, then
    /// decrypted again into `out`, so no unauthenticated plaintext reaches it
    /// unless the file changes between the two passes (then the error says so).
    /// The read is recorded as `access` between the passes.
    pub fn get_to_writer(
        &mut self,
        path: &str,
        version: Option<usize>,
        out: &mut (dyn Write + Send),
        access: Access,
    ) -> Result<(), GetError> {
        let (snap, src) = self.source(path, version)?;
        let noop = crate::traits::NoProgress;
        let identities = self.keys.identities();
        let first = self.open_blob(&snap, &src).and_then(|(file, rel)| {
            let r = crypt::decrypt_stream(file, io::sink(), src.content.size, &identities, &noop);
            Self::check(&src, &rel, r)
        });
        if let Err(e) = first {
            self.record_failure(&src, access, &e);
            return Err(e);
        }
        self.append_audit(vec![self.access_event(&src, access)])?;
        let identities = self.keys.identities();
        let second = self.open_blob(&snap, &src).and_then(|(file, rel)| {
            let r = crypt::decrypt_stream(file, out, src.content.size, &identities, &noop);
            Self::check(&src, &rel, r)
        });
        if let Err(e) = &second {
            self.record_failure(&src, access, e);
        }
        second
    }
}
