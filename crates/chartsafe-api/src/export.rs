//! Exporting: decrypting vault files and folders into a folder on this
//! computer, under names that are safe there and never over a file that is
//! already there (docs/FORMAT.md §5.5, docs/THREAT_MODEL.md §4.5).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use chartsafe_core::{
    names, Access, Classify, ErrorKind, GetError, Kind, ListError, PathError, Progress, Vault,
};

/// Errors of [`export`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// Reading the vault failed.
    #[error(transparent)]
    List(#[from] ListError),
    /// A path asked for is not in the vault.
    #[error(transparent)]
    Path(#[from] PathError),
    /// A file could not be decrypted or written out; what was written
    /// before it stays.
    #[error(transparent)]
    Get(#[from] GetError),
    /// [`Progress::cancelled`] said stop (the vault locked); what was
    /// written before stays.
    #[error("the export was stopped")]
    Cancelled,
}

impl Classify for ExportError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::List(e) => e.kind(),
            Self::Path(e) => e.kind(),
            Self::Get(e) => e.kind(),
            Self::Cancelled => ErrorKind::Cancelled,
        }
    }
}

/// Decrypts the files and folders at `paths` into the folder `dest`, each
/// read recorded as an export in the audit log; returns how many files
/// were written. A folder comes out with everything under it.
///
/// Names special on Windows or macOS (`CON`, `a:stream`, `x.`) are written
/// under safe look-alikes, and every output stays inside `dest`. An
/// existing file is never overwritten: the export takes "name (2)",
/// "name (3)", … (a case-insensitive disk can make two vault names one).
/// `progress` is asked before each file whether to stop.
///
/// # Errors
///
/// The first failure stops the export; the files written before it stay.
pub fn export(
    vault: &mut Vault,
    paths: &[String],
    dest: &Path,
    progress: &dyn Progress,
) -> Result<usize, ExportError> {
    let entries = vault.list()?.entries;
    // Every output is chosen first (folders made), then every file is
    // decrypted on the worker pool and recorded in the audit log a batch
    // at a time (Vault::get_many).
    let mut files: Vec<(String, PathBuf)> = Vec::new();
    let mut taken: HashSet<PathBuf> = HashSet::new();
    // Folders made by this export: each is made once, not once per file.
    let mut made: HashSet<PathBuf> = HashSet::new();
    for asked in paths {
        // "/Patients/Doe/" as "Patients/Doe", as `get` takes it.
        let path = match names::split_path(asked) {
            Ok(parts) if !parts.is_empty() => parts.join("/"),
            _ => asked.clone(),
        };
        let Some(top) = entries.iter().find(|e| e.path == path) else {
            return Err(PathError::NotFound {
                path: asked.clone(),
            }
            .into());
        };
        let target = free_name(dest, &names::local_file_name(last_name(&path)), &taken);
        if progress.cancelled() {
            return Err(ExportError::Cancelled);
        }
        if top.kind != Kind::Dir {
            taken.insert(target.clone());
            files.push((path, target));
            continue;
        }
        let prefix = format!("{path}/");
        create_dir(&target, &mut made)?;
        for e in entries.iter().filter(|e| e.path.starts_with(&prefix)) {
            let out = target.join(names::local_relative_path(&e.path[prefix.len()..]));
            if e.kind == Kind::Dir {
                create_dir(&out, &mut made)?;
                continue;
            }
            let parent = out.parent().unwrap_or(&target).to_owned();
            create_dir(&parent, &mut made)?;
            let file = free_name(&parent, &names::local_file_name(last_name(&e.path)), &taken);
            taken.insert(file.clone());
            files.push((e.path.clone(), file));
        }
    }
    let report = vault.get_many(&files, Access::Exported, progress)?;
    if report.cancelled {
        return Err(ExportError::Cancelled);
    }
    Ok(report.written.len())
}

fn last_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Makes `dir` and its parents unless this export already made it (5,000
/// files in one folder cost one `mkdir`, not 5,000).
fn create_dir(dir: &Path, made: &mut HashSet<PathBuf>) -> Result<(), ExportError> {
    if made.contains(dir) {
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(|e| GetError::Output(dir.to_owned(), e))?;
    made.insert(dir.to_owned());
    Ok(())
}

/// "name", else "name (2)", "name (3)", …: the first that does not exist
/// and is not `taken` by this export.
fn free_name(dir: &Path, name: &str, taken: &HashSet<PathBuf>) -> PathBuf {
    let free = |p: &PathBuf| !p.exists() && !taken.contains(p);
    let first = dir.join(name);
    if free(&first) {
        return first;
    }
    (2..)
        .map(|n| dir.join(names::suffixed_name(name, &n.to_string())))
        .find(free)
        .expect("some name is free")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::new_vault;
    use chartsafe_core::NoProgress;

    #[test]
    fn a_folder_comes_out_whole_twice_without_overwriting_and_each_file_is_audited() {
        let tmp = tempfile::tempdir().unwrap();
        let mut vault = new_vault(tmp.path());
        let src = tmp.path().join("Doe");
        std::fs::create_dir_all(src.join("Labs")).unwrap();
        std::fs::write(src.join("referral.pdf"), b"referral").unwrap();
        std::fs::write(src.join("Labs/CON.txt"), b"cbc").unwrap();
        vault.add(&[src], "", &NoProgress).unwrap();
        let out = tmp.path().join("out");
        std::fs::create_dir(&out).unwrap();
        let paths = ["Doe".to_owned()];
        assert_eq!(export(&mut vault, &paths, &out, &NoProgress).unwrap(), 2);
        assert_eq!(export(&mut vault, &paths, &out, &NoProgress).unwrap(), 2);
        assert_eq!(
            std::fs::read(out.join("Doe/referral.pdf")).unwrap(),
            b"referral"
        );
        assert_eq!(
            std::fs::read(out.join("Doe (2)/referral.pdf")).unwrap(),
            b"referral"
        );
        // CON is a device on Windows: written under a look-alike.
        let labs: Vec<_> = std::fs::read_dir(out.join("Doe/Labs")).unwrap().collect();
        assert_eq!(labs.len(), 1);
        let audit = vault.audit_log().unwrap();
        let exported = audit
            .entries
            .iter()
            .filter(|e| e.action == "exported")
            .count();
        assert_eq!(exported, 4, "every file written is recorded");
    }

    #[test]
    fn a_stop_and_a_missing_path_write_nothing() {
        struct Stop;
        impl Progress for Stop {
            fn cancelled(&self) -> bool {
                true
            }
        }
        let tmp = tempfile::tempdir().unwrap();
        let mut vault = new_vault(tmp.path());
        vault.mkdir("Empty").unwrap();
        let out = tmp.path().join("out");
        std::fs::create_dir(&out).unwrap();
        let e = export(&mut vault, &["Empty".to_owned()], &out, &Stop).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Cancelled);
        let e = export(&mut vault, &["Nobody".to_owned()], &out, &NoProgress).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert_eq!(std::fs::read_dir(&out).unwrap().count(), 0);
    }

    #[test]
    fn a_taken_name_gets_the_next_free_number() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("scan.pdf"), b"x").unwrap();
        std::fs::write(dir.path().join("scan (2).pdf"), b"x").unwrap();
        assert_eq!(
            free_name(dir.path(), "scan.pdf", &HashSet::new()),
            dir.path().join("scan (3).pdf")
        );
        let none = HashSet::new();
        assert_eq!(
            free_name(dir.path(), "new.pdf", &none),
            dir.path().join("new.pdf")
        );
        // Names this export already chose count as taken.
        let taken = HashSet::from([dir.path().join("new.pdf")]);
        assert_eq!(
            free_name(dir.path(), "new.pdf", &taken),
            dir.path().join("new (2).pdf")
        );
    }

    /// More files than one batch: all written, each recorded, in a few
    /// audit batches rather than one per file; "/Doe/" is "Doe".
    #[test]
    fn many_files_come_out_in_batches_each_recorded() {
        let tmp = tempfile::tempdir().unwrap();
        let mut vault = new_vault(tmp.path());
        let src = tmp.path().join("Doe");
        std::fs::create_dir_all(&src).unwrap();
        for i in 0..600 {
            std::fs::write(src.join(format!("scan {i:03}.txt")), format!("scan {i}")).unwrap();
        }
        vault.add(&[src], "", &NoProgress).unwrap();
        let batches_before = std::fs::read_dir(tmp.path().join("vault/a"))
            .unwrap()
            .flatten()
            .map(|d| std::fs::read_dir(d.path()).unwrap().count())
            .sum::<usize>();
        let out = tmp.path().join("out");
        std::fs::create_dir(&out).unwrap();
        let n = export(&mut vault, &["/Doe/".to_owned()], &out, &NoProgress).unwrap();
        assert_eq!(n, 600);
        for i in [0, 255, 256, 599] {
            assert_eq!(
                std::fs::read_to_string(out.join(format!("Doe/scan {i:03}.txt"))).unwrap(),
                format!("scan {i}")
            );
        }
        let audit = vault.audit_log().unwrap();
        let exported = audit
            .entries
            .iter()
            .filter(|e| e.action == "exported")
            .count();
        assert_eq!(exported, 600);
        let batches_after = std::fs::read_dir(tmp.path().join("vault/a"))
            .unwrap()
            .flatten()
            .map(|d| std::fs::read_dir(d.path()).unwrap().count())
            .sum::<usize>();
        assert_eq!(batches_after - batches_before, 3, "256 + 256 + 88 files");
    }

    /// A damaged content file fails its whole batch: no file of it is
    /// written (not even the sound ones), and the failure is recorded.
    #[test]
    fn a_damaged_file_writes_nothing_of_its_batch() {
        let tmp = tempfile::tempdir().unwrap();
        let mut vault = new_vault(tmp.path());
        let src = tmp.path().join("Doe");
        std::fs::create_dir_all(&src).unwrap();
        for name in ["a.txt", "b.txt", "c.txt"] {
            std::fs::write(src.join(name), name).unwrap();
        }
        vault.add(&[src], "", &NoProgress).unwrap();
        let shard = std::fs::read_dir(tmp.path().join("vault/b"))
            .unwrap()
            .flatten()
            .find(|d| d.path().is_dir())
            .unwrap()
            .path();
        let blob = std::fs::read_dir(shard)
            .unwrap()
            .flatten()
            .next()
            .unwrap()
            .path();
        std::fs::write(&blob, b"age-encryption.org/v1\n").unwrap();
        let out = tmp.path().join("out");
        std::fs::create_dir(&out).unwrap();
        let e = export(&mut vault, &["Doe".to_owned()], &out, &NoProgress).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Damaged, "{e}");
        let written: Vec<_> = std::fs::read_dir(out.join("Doe"))
            .unwrap()
            .flatten()
            .collect();
        assert!(written.is_empty(), "{written:?}");
        let audit = vault.audit_log().unwrap();
        assert!(audit
            .entries
            .iter()
            .any(|e| e.action == "exported" && e.outcome != "ok"));
    }
}
