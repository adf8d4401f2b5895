//! The file commands: add, list, get, export, move, trash, purge,
//! versions and the vault's summary.

use std::io::Write;
use std::path::{Path, PathBuf};

use chartsafe_core::{names, Access, Kind, PurgeTarget, ShareKey, SyncState, Vault};

use crate::exit::{code, Failure};
use crate::{open, output, vault_dir, Cli};

/// `chartsafe add SOURCE... [--to FOLDER]`.
pub fn add(vault: &mut Vault, sources: &[PathBuf], to: &str) -> Result<u8, Failure> {
    let bar = output::Bar::new();
    let report = vault.add(sources, to, &bar)?;
    drop(bar);
    eprintln!(
        "added {}, replaced {}, unchanged {}, {} created",
        output::count(report.added, "file", "files"),
        report.replaced,
        report.unchanged,
        output::count(report.folders, "folder", "folders"),
    );
    Ok(0)
}

/// `chartsafe ls [PATH] [--json]`.
pub fn ls(vault: &mut Vault, path: &str, json: bool, out: &mut impl Write) -> Result<u8, Failure> {
    let listing = vault.list()?;
    let prefix = names::split_path(path)
        .map_err(|e| Failure::new(code::PATH, format!("\"{path}\": {e}"), None))?
        .join("/");
    let shown: Vec<_> = listing
        .entries
        .iter()
        .filter(|e| {
            prefix.is_empty() || e.path == prefix || e.path.starts_with(&format!("{prefix}/"))
        })
        .collect();
    if !prefix.is_empty() && shown.is_empty() {
        return Err(Failure::new(
            code::PATH,
            format!("\"{prefix}\" is not in the vault"),
            None,
        ));
    }
    for e in shown {
        let line = if json {
            output::entry_json(e)
        } else {
            output::entry_line(e)
        };
        writeln!(out, "{line}").map_err(output::broken)?;
    }
    Ok(output::problems(&listing.problems))
}

/// `chartsafe get PATH [-o OUT] [--version N]`: to OUT, or to standard
/// output (also for `-o -`).
pub fn get(
    vault: &mut Vault,
    path: &str,
    to: Option<&Path>,
    version: Option<usize>,
) -> Result<u8, Failure> {
    match to {
        Some(p) if p != Path::new("-") => {
            let bar = output::Bar::new();
            vault.get(path, version, p, Access::Exported, &bar)?;
        }
        _ => {
            let mut stdout = std::io::stdout();
            vault.get_to_writer(path, version, &mut stdout, Access::Exported)?;
            stdout.flush().map_err(output::broken)?;
        }
    }
    Ok(0)
}

/// `chartsafe export PATH... --to DIR` (chartsafe_api::export, as the
/// app's Export).
pub fn export(vault: &mut Vault, paths: &[String], to: &Path) -> Result<u8, Failure> {
    let count = chartsafe_api::export(vault, paths, to, &chartsafe_core::NoProgress)?;
    eprintln!(
        "exported {} to {}",
        output::count(count, "file", "files"),
        to.display()
    );
    Ok(0)
}

/// `chartsafe share PATH --note TEXT [--recipient AGE1] [-o PATH]`: the
/// passphrase alone on standard output (for scripts), the rest on
/// standard error.
pub fn share(
    cli: &Cli,
    path: &str,
    note: &str,
    recipient: Option<&str>,
    to: Option<&Path>,
    version: Option<usize>,
    out: &mut impl Write,
) -> Result<u8, Failure> {
    if note.trim().is_empty() {
        return Err(Failure::new(
            code::USAGE,
            "--note is empty",
            Some("say for whom the file is, e.g. --note \"Dr Lee, Riverside Cardiology\""),
        ));
    }
    let key = match recipient {
        Some(text) => ShareKey::recipient(text).ok_or_else(|| {
            Failure::new(
                code::USAGE,
                format!("--recipient {text:?} is not an age public key"),
                Some("it starts with age1 (age-keygen -y prints it)"),
            )
        })?,
        None => ShareKey::Passphrase(chartsafe_core::share_passphrase()),
    };
    let name = path.rsplit('/').next().unwrap_or(path);
    let file_name = chartsafe_api::share_file_name(name);
    let dest = match to {
        Some(p) if p.is_dir() => p.join(&file_name),
        Some(p) => p.to_owned(),
        None => PathBuf::from(&file_name),
    };
    let mut vault = open(cli)?;
    let at = vault.share(path, version, &key, note, &dest)?;
    if let ShareKey::Passphrase(p) = &key {
        use secrecy::ExposeSecret;
        writeln!(out, "{}", p.expose_secret()).map_err(output::broken)?;
    }
    eprintln!(
        "Shared \"{}\" as {} for {}.",
        names::printable(path),
        at.display(),
        names::printable(note.trim())
    );
    if key.is_passphrase() {
        eprintln!(
            "The passphrase (above) is shown only now: give it by phone or in person, not with the file."
        );
    }
    eprintln!();
    eprintln!(
        "{}",
        chartsafe_api::how_to_open(&at, name, key.is_passphrase())
    );
    Ok(0)
}

/// `chartsafe rm PATH`.
pub fn rm(vault: &mut Vault, path: &str) -> Result<u8, Failure> {
    vault.remove(path)?;
    eprintln!("moved to the trash; `chartsafe restore` brings it back");
    Ok(0)
}

/// `chartsafe trash`.
pub fn trash(vault: &mut Vault, out: &mut impl Write) -> Result<u8, Failure> {
    for t in vault.trash()? {
        let size = if t.kind == Kind::Dir {
            "folder".to_owned()
        } else {
            t.size.to_string()
        };
        writeln!(
            out,
            "{}  {:>12}  {}  {:<16}  {}",
            t.id,
            size,
            output::times().date_time(t.trashed),
            output::clip(&t.trashed_by, 16),
            t.path
        )
        .map_err(output::broken)?;
    }
    Ok(0)
}

/// `chartsafe purge [WHAT | --all] [--now]`.
pub fn purge(cli: &Cli, what: Option<&str>, all: bool, now: bool) -> Result<u8, Failure> {
    let target = match (what, all) {
        (_, true) => PurgeTarget::All,
        (Some(w), false) => PurgeTarget::One(w.to_owned()),
        (None, false) if now => PurgeTarget::Expired,
        (None, false) => {
            return Err(Failure::new(
                code::USAGE,
                "name what to purge, or pass --all",
                None,
            ))
        }
    };
    let mut vault = open(cli)?;
    if now {
        vault.set_purge_grace_ms(0);
    }
    let r = vault.purge(target)?;
    eprintln!(
        "purged {}; deleted {}; {} kept for the 7-day grace period",
        output::count(r.entries, "entry", "entries"),
        output::count(r.deleted, "content file", "content files"),
        r.waiting
    );
    Ok(0)
}

/// `chartsafe versions PATH`.
pub fn versions(vault: &mut Vault, path: &str, out: &mut impl Write) -> Result<u8, Failure> {
    for v in vault.versions(path)? {
        writeln!(
            out,
            "{:>3}  {:>12}  {}  {:<16}  {}",
            v.number,
            v.size,
            output::times().date_time(v.changed),
            output::clip(&v.changed_by, 16),
            v.name
        )
        .map_err(output::broken)?;
    }
    Ok(0)
}

/// `chartsafe info`: the public header first (it needs no key), then the
/// counts.
pub fn info(cli: &Cli, out: &mut impl Write) -> Result<u8, Failure> {
    let dir = vault_dir(cli)?;
    let public = chartsafe_core::public_info(&dir)?;
    let mut vault = open(cli)?;
    let listing = vault.list()?;
    let files: Vec<_> = listing
        .entries
        .iter()
        .filter(|e| e.kind == Kind::File)
        .collect();
    let bytes: u64 = files.iter().map(|e| e.size).sum();
    let count = |state| files.iter().filter(|e| e.sync == state).count();
    let lines = [
        format!("vault:       {}", public.id),
        format!("format:      {}", public.version),
        format!("folder:      {}", dir.display()),
        format!(
            "this device: {} ({})",
            vault.device_name(),
            vault.device_id()
        ),
        format!("files:       {} ({} bytes)", files.len(), bytes),
        format!("folders:     {}", listing.entries.len() - files.len()),
        format!(
            "conflicts:   {}",
            listing.entries.iter().filter(|e| e.conflict).count()
        ),
        format!("waiting:     {}", count(SyncState::WaitingForSync)),
        format!("missing:     {}", count(SyncState::Missing)),
        format!("problems:    {}", listing.problems.len()),
    ];
    for line in lines {
        writeln!(out, "{line}").map_err(output::broken)?;
    }
    Ok(output::problems(&listing.problems))
}
