//! Writing many files out of the vault at once (export): decrypted on
//! every core, recorded in the audit log one batch at a time
//! (docs/FORMAT.md §3.3, §10.4).

use std::path::{Path, PathBuf};

use crate::errors::GetError;
use crate::names;
use crate::traits::{NoProgress, Progress};
use crate::vault::get::{Access, Source};
use crate::vault::load::Snapshot;
use crate::vault::Vault;

/// Files or bytes after which a batch of decrypted files is recorded and
/// put in place: bounds the plaintext waiting in temporary files, and how
/// long the first file takes to appear.
const BATCH_FILES: usize = 256;
const BATCH_BYTES: u64 = 64 << 20;

/// What [`Vault::get_many`] wrote.
#[derive(Debug, Default)]
pub struct GetManyReport {
    /// Where each file went, in the order asked (a file that found its
    /// output taken went to the first free "name (2)", "name (3)", …).
    pub written: Vec<PathBuf>,
    /// The person asked to stop: the files not written are not in
    /// `written`.
    pub cancelled: bool,
}

impl Vault {
    /// Decrypts the current version of each `(path, output)` pair, as
    /// [`Vault::get`] does, on as many threads as there are cores (at most
    /// 4). Files go in batches (256 files or 64 MiB): each batch is
    /// decrypted and checked into temporary files beside its outputs, then
    /// recorded in the audit log as one batch of `access` events, then
    /// renamed into place, never over an existing file. `progress` hears
    /// of each file and is asked between files whether to stop.
    ///
    /// # Errors
    ///
    /// The first failure stops everything: the batch it was in is not
    /// written (and is recorded as failed), the batches before it stay.
    pub fn get_many(
        &mut self,
        files: &[(String, PathBuf)],
        access: Access,
        progress: &dyn Progress,
    ) -> Result<GetManyReport, GetError> {
        let mut report = GetManyReport::default();
        if files.is_empty() {
            return Ok(report);
        }
        // One read of the vault for all of them.
        let snap = self.load()?;
        let mut sources = Vec::with_capacity(files.len());
        for (path, out) in files {
            sources.push((self.source_in(&snap, path, None)?, out.as_path()));
        }
        progress.begin(
            files.len() as u64,
            sources.iter().map(|(s, _)| s.content.size).sum(),
        );
        let mut rest = &sources[..];
        while !rest.is_empty() && !report.cancelled {
            let mut n = 0;
            let mut bytes = 0u64;
            while n < rest.len() && n < BATCH_FILES && bytes < BATCH_BYTES {
                bytes += rest[n].0.content.size;
                n += 1;
            }
            let (batch, later) = rest.split_at(n);
            rest = later;
            let temps = self.decrypt_all(&snap, batch, progress);
            // Every file of the batch decrypted and matched its record, or
            // the batch fails (the temporary files go on drop).
            let mut ready = Vec::with_capacity(batch.len());
            for ((src, out), temp) in batch.iter().zip(temps) {
                match temp {
                    None => report.cancelled = true,
                    Some(Ok(t)) => ready.push((src, *out, t)),
                    Some(Err(e)) => {
                        self.record_failure(src, access, &e);
                        return Err(e);
                    }
                }
            }
            if ready.is_empty() {
                continue;
            }
            // No unaudited access: the batch is recorded before any file
            // appears (FORMAT.md §10.4).
            let events = ready
                .iter()
                .map(|(src, _, _)| self.access_event(src, access))
                .collect();
            self.append_audit(events)?;
            for (src, out, temp) in ready {
                match place(temp, out) {
                    Ok(at) => report.written.push(at),
                    Err(e) => {
                        self.record_failure(src, access, &e);
                        return Err(e);
                    }
                }
            }
        }
        report.cancelled |= progress.cancelled() && report.written.len() < files.len();
        progress.end();
        Ok(report)
    }

    /// Decrypts each source into a checked temporary file beside its output,
    /// on the worker pool, in order. A slot is `None` when its file never
    /// started: cancelled, or an earlier failure stopped the workers.
    #[allow(clippy::type_complexity)]
    fn decrypt_all(
        &self,
        snap: &Snapshot,
        batch: &[(Source, &Path)],
        progress: &dyn Progress,
    ) -> Vec<Option<Result<tempfile::NamedTempFile, GetError>>> {
        crate::pool::run_ordered(
            batch,
            || progress.cancelled(),
            Result::is_err,
            |(src, out)| {
                progress.file_started(out, src.content.size);
                let result = self.get_checked(snap, src, out, &NoProgress);
                progress.advance(src.content.size);
                progress.file_done(out);
                result
            },
        )
    }
}

/// Renames `temp` to `out`, or to the first free "name (2)", "name (3)", …
/// beside it: never over an existing file (a case-insensitive disk can
/// make two vault names one).
pub(in crate::vault) fn place(
    mut temp: tempfile::NamedTempFile,
    out: &Path,
) -> Result<PathBuf, GetError> {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = out.parent().unwrap_or(Path::new("."));
    let mut at = out.to_owned();
    for n in 2..10_000u32 {
        match temp.persist_noclobber(&at) {
            Ok(_) => return Ok(at),
            Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => {
                temp = e.file;
                at = dir.join(names::suffixed_name(&name, &n.to_string()));
            }
            Err(e) => return Err(GetError::Output(at, e.error)),
        }
    }
    Err(GetError::Output(
        out.to_owned(),
        std::io::Error::new(std::io::ErrorKind::AlreadyExists, "no free name"),
    ))
}
