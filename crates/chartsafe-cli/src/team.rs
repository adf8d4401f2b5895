//! `chartsafe members`: the team as this device computes it from the signed
//! team log (docs/FORMAT.md §11).

use std::io::Write;

use chartsafe_core::{names, Role, TeamView, Vault};
use secrecy::ExposeSecret;

use crate::exit::{code, Failure};
use crate::output;

/// Prints the members, their roles and devices, then what in the team log
/// does not count (to standard error). With `json`, one object.
pub fn members(vault: &Vault, json: bool, out: &mut dyn Write) -> Result<u8, Failure> {
    let team = vault.team_view()?;
    if json {
        writeln!(out, "{}", members_json(&team)).map_err(output::broken)?;
    } else {
        for m in &team.members {
            let state = if m.removed { "  (removed)" } else { "" };
            writeln!(
                out,
                "{:<24}  {:<7}  {}{state}",
                output::clip(&names::printable(&m.name), 24),
                m.role.as_str(),
                m.id
            )
            .map_err(output::broken)?;
            for d in &m.devices {
                let notes: Vec<&str> = [(d.this_device, "this device"), (d.removed, "removed")]
                    .into_iter()
                    .filter_map(|(on, note)| on.then_some(note))
                    .collect();
                let notes = if notes.is_empty() {
                    String::new()
                } else {
                    format!("  ({})", notes.join(", "))
                };
                writeln!(
                    out,
                    "    device {:<24}  {}{notes}",
                    output::clip(&names::printable(&d.name), 24),
                    d.id
                )
                .map_err(output::broken)?;
            }
        }
    }
    warn_team_problems(&team);
    Ok(if team.has_problems() {
        code::PROBLEMS
    } else {
        0
    })
}

/// `chartsafe members --json`: one object.
fn members_json(team: &TeamView) -> serde_json::Value {
    let members: Vec<_> = team
        .members
        .iter()
        .map(|m| {
            let devices: Vec<_> = m
                .devices
                .iter()
                .map(|d| {
                    serde_json::json!({"id": d.id, "name": d.name, "removed": d.removed,
                                       "signing": d.signing, "this_device": d.this_device})
                })
                .collect();
            serde_json::json!({
                "id": m.id, "name": m.name, "role": m.role.as_str(), "removed": m.removed,
                "devices": devices,
            })
        })
        .collect();
    let rejected: Vec<_> = team
        .rejected
        .iter()
        .map(|r| {
            serde_json::json!({"device": r.device, "seq": r.seq, "kind": r.kind,
                               "reason": r.code, "message": r.reason})
        })
        .collect();
    serde_json::json!({
        "members": members, "rejected": rejected, "pending": team.pending,
        "unreadable": team.unreadable.iter().map(|(f, _)| f).collect::<Vec<_>>(),
        "rolled_back": team.rolled_back,
    })
}

/// What in the team log does not count, cannot be read, went back, or
/// waits: to standard error.
fn warn_team_problems(team: &TeamView) {
    for r in &team.rejected {
        eprintln!(
            "warning: team entry t/{}/{:010} ({}) does not count: {}",
            r.device, r.seq, r.kind, r.reason
        );
    }
    for (file, why) in &team.unreadable {
        eprintln!(
            "warning: {} is not a team entry this vault can read: {}",
            names::printable(file),
            names::printable(why)
        );
    }
    for what in &team.rolled_back {
        eprintln!(
            "warning: the team log in the vault folder went back to an older state: {} had disappeared or been replaced; this computer still counts it (from its own copy) and wrote it back",
            names::printable(what)
        );
    }
    if team.pending > 0 {
        eprintln!(
            "note: {} team entr{} wait for entries that have not synced yet",
            team.pending,
            if team.pending == 1 { "y" } else { "ies" }
        );
    }
}

/// `chartsafe invite`: a new invitation, printed once.
pub fn invite(vault: &mut Vault, out: &mut dyn Write) -> Result<u8, Failure> {
    let inv = vault.invite()?;
    writeln!(out, "{}", inv.text.expose_secret()).map_err(output::broken)?;
    eprintln!(
        "Give this invitation to the person, in person or by phone (not by email), until {}.",
        output::times().date_time(inv.expires)
    );
    eprintln!("On their computer: chartsafe --vault DIR --name \"Their Name\" join");
    eprintln!("Then approve with the code they read out: chartsafe requests; chartsafe approve ID --code \"NNNN NNNN\"");
    Ok(0)
}

/// `chartsafe requests`: the join requests this device's invitations open.
pub fn requests(vault: &mut Vault, out: &mut dyn Write) -> Result<u8, Failure> {
    let list = vault.join_requests()?;
    for r in &list {
        writeln!(
            out,
            "{}  {}  {:<24}  {:<24}  {}",
            r.id,
            output::times().date_time(r.time),
            output::clip(&names::printable(&r.name), 24),
            output::clip(&names::printable(&r.device_name), 24),
            if r.new_member {
                "new member"
            } else {
                "new device"
            }
        )
        .map_err(output::broken)?;
    }
    if list.is_empty() {
        eprintln!("no join requests for invitations made on this computer");
    }
    Ok(0)
}

/// `chartsafe approve ID --code CODE`.
pub fn approve(vault: &mut Vault, request: &str, code: &str, role: Role) -> Result<u8, Failure> {
    vault.approve(request, code, role)?;
    eprintln!(
        "Approved: the person's computer can now unlock the vault (once the folder has synced) as {}.",
        role.as_str()
    );
    Ok(0)
}

/// `chartsafe approve ID --code CODE --computer-of MEMBER`.
pub fn approve_computer(
    vault: &mut Vault,
    request: &str,
    code: &str,
    who: &str,
) -> Result<u8, Failure> {
    vault.approve_computer(request, code, who)?;
    eprintln!(
        "Approved: the computer can now unlock the vault (once the folder has synced) as {}'s, with what they may read.",
        names::printable(who)
    );
    Ok(0)
}

/// `chartsafe join`: writes a join request and prints the code to read out.
pub fn join(
    dir: &std::path::Path,
    invite: &str,
    name: &str,
    passphrase: &secrecy::SecretString,
    options: chartsafe_core::Options,
    out: &mut dyn Write,
) -> Result<u8, Failure> {
    let pending = Vault::request_join(
        dir,
        invite,
        name,
        &chartsafe_keychain::Keychain::from_env(),
        passphrase,
        options,
    )?;
    writeln!(out, "{}", pending.code).map_err(output::broken)?;
    eprintln!("Read this code out to the admin who invited you; they type it to approve you.");
    eprintln!("Once approved and synced, unlock as usual (for example `chartsafe ls`).");
    Ok(0)
}

/// `chartsafe remove WHO`.
pub fn remove(vault: &mut Vault, who: &str) -> Result<u8, Failure> {
    let r = vault.remove_from_team(who)?;
    eprintln!(
        "Removed {} \"{}\" ({}): changes made from there after the last one this computer had seen are refused on every computer.",
        if r.member { "member" } else { "computer" },
        names::printable(&r.name),
        output::count(r.devices, "computer", "computers")
    );
    for name in &r.unseen {
        eprintln!(
            "warning: no change from computer \"{}\" has reached this computer: anything it wrote that has not synced here yet will not count",
            names::printable(name)
        );
    }
    if let Some(rot) = &r.rotation {
        eprintln!(
            "The vault's key was replaced: what is written from now on opens only with the new key, which {} received.",
            output::count(rot.devices, "computer", "computers")
        );
    }
    eprintln!(
        "What they could read before, they may have copied; the files in the folder are now re-encrypted so that their old key opens none of them (docs/THREAT_MODEL.md §3.3)."
    );
    rekey(vault)
}

/// `chartsafe collections`.
pub fn collections(vault: &mut Vault, out: &mut dyn Write) -> Result<u8, Failure> {
    for c in vault.collections()? {
        let name = match (&c.name, c.audit) {
            (_, true) => "(the audit log)".to_owned(),
            (Some(n), _) => names::printable(n),
            (None, _) => "(its folder has not synced yet)".to_owned(),
        };
        let readers: Vec<String> = c
            .readers
            .iter()
            .map(|(_, n, w)| {
                format!(
                    "{}{}",
                    names::printable(n),
                    if *w { " (write)" } else { "" }
                )
            })
            .collect();
        let readers = if c.audit {
            "admins".to_owned()
        } else if readers.is_empty() {
            "admins only".to_owned()
        } else {
            format!("admins, {}", readers.join(", "))
        };
        writeln!(out, "{:<24}  {}  {readers}", output::clip(&name, 24), c.id)
            .map_err(output::broken)?;
    }
    Ok(0)
}

/// `chartsafe collections add NAME`.
pub fn add_collection(vault: &mut Vault, name: &str) -> Result<u8, Failure> {
    let id = vault.create_collection(name)?;
    eprintln!(
        "Made collection \"{}\" ({id}): only admins read it until you grant it (`chartsafe grant`).",
        names::printable(name)
    );
    // The audit log may have got its own key with it: move what is there.
    if vault.rekey_status().due() {
        return rekey(vault);
    }
    Ok(0)
}

/// `chartsafe grant COLLECTION WHO [--write]`.
pub fn grant(vault: &mut Vault, collection: &str, who: &str, write: bool) -> Result<u8, Failure> {
    vault.grant(collection, who, write)?;
    eprintln!(
        "{} may now {} {}; their computers get its key once the folder has synced.",
        names::printable(who),
        if write { "read and change" } else { "read" },
        names::printable(collection)
    );
    Ok(0)
}

/// `chartsafe revoke COLLECTION WHO`.
pub fn revoke(vault: &mut Vault, collection: &str, who: &str) -> Result<u8, Failure> {
    vault.revoke(collection, who)?;
    eprintln!(
        "{} no longer reads {}: its key was replaced; re-encrypting what is there.",
        names::printable(who),
        names::printable(collection)
    );
    rekey(vault)
}

/// `chartsafe rotate [--resume | --status]`.
pub fn rotate(
    vault: &mut Vault,
    resume: bool,
    status: bool,
    out: &mut impl Write,
) -> Result<u8, Failure> {
    if status {
        let s = vault.rekey_status();
        let text = match &s.generation {
            None => "The vault's key has never been replaced.".to_owned(),
            Some(g) => format!(
                "Current key: generation {}\nThis computer {} the current key.\nRe-encryption to it on this computer: {}.",
                &g[..16],
                if s.holds_key { "holds" } else { "has not received" },
                if s.finished {
                    "finished"
                } else {
                    "not finished (`chartsafe rotate --resume`)"
                }
            ),
        };
        let owed = vault.rotation_owed().len();
        let text = if owed > 0 {
            format!(
                "{text}\nA removal left {} to replace: run `chartsafe rotate --resume`.",
                output::count(owed, "key", "keys")
            )
        } else {
            text
        };
        writeln!(out, "{text}").map_err(output::broken)?;
        return Ok(0);
    }
    // A rotation a removal left owed (a crash between the two) comes first.
    let owed = vault.rotate_owed()?;
    if owed > 0 {
        eprintln!(
            "Replaced the key of {} that a removal had left to replace.",
            output::count(owed, "collection", "collections")
        );
    }
    if !resume {
        let rot = vault.rotate_key("chartsafe rotate")?;
        eprintln!(
            "The vault's key was replaced; {} received the new one.",
            output::count(rot.devices, "computer", "computers")
        );
    }
    rekey(vault)
}

/// Re-encrypts the vault folder to the current key, with progress, when a
/// pass is due (the same decision as the app's: chartsafe_api::rekey_if_due).
fn rekey(vault: &mut Vault) -> Result<u8, Failure> {
    let Some(job) = chartsafe_api::rekey_if_due(vault)? else {
        eprintln!("Every file this computer can read is under the current key already.");
        return Ok(0);
    };
    let bar = RekeyProgress::default();
    let report = job.run(&bar)?;
    vault.finish_rekey(&job, &report)?;
    eprintln!(
        "Re-encrypted {} ({} MiB); {} under the current key already.",
        output::count(report.rewritten, "file", "files"),
        report.bytes >> 20,
        output::count(report.current, "file was", "files were")
    );
    for (file, why) in &report.skipped {
        eprintln!("warning: {}: left as it was: {why}", names::printable(file));
    }
    Ok(if report.skipped.is_empty() {
        0
    } else {
        crate::exit::code::PROBLEMS
    })
}

/// Progress of a re-encryption: a bar on a terminal, else a line at each
/// tenth of the work (for logs and scripts).
#[derive(Default)]
struct RekeyProgress {
    total: std::sync::atomic::AtomicU64,
    done: std::sync::atomic::AtomicU64,
    files: std::sync::atomic::AtomicU64,
    bar: std::sync::OnceLock<indicatif::ProgressBar>,
}

impl chartsafe_core::Progress for RekeyProgress {
    fn begin(&self, files: u64, bytes: u64) {
        use std::io::IsTerminal;
        self.total
            .store(bytes.max(1), std::sync::atomic::Ordering::SeqCst);
        eprintln!(
            "Re-encrypting {}, {} MiB, to the current key…",
            output::count(files, "file", "files"),
            bytes >> 20
        );
        if std::io::stderr().is_terminal() {
            let bar = indicatif::ProgressBar::new(bytes);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:40} {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
                )
                .expect("valid template"),
            );
            let _ = self.bar.set(bar);
        }
    }
    fn advance(&self, bytes: u64) {
        use std::sync::atomic::Ordering::SeqCst;
        let total = self.total.load(SeqCst);
        let before = self.done.fetch_add(bytes, SeqCst);
        let after = before + bytes;
        if let Some(bar) = self.bar.get() {
            bar.inc(bytes);
        } else if before * 10 / total != after * 10 / total {
            eprintln!("re-encrypted {}%", (after * 100 / total).min(100));
        }
    }
    fn file_done(&self, _: &std::path::Path) {
        self.files.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
    fn end(&self) {
        if let Some(bar) = self.bar.get() {
            bar.finish_and_clear();
        }
    }
}
