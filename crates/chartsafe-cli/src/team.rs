//! `chartsafe members`: the team as this device computes it from the signed
//! team log (docs/FORMAT.md §11).

use std::io::Write;

use chartsafe_core::{names, Role, Vault};
use secrecy::ExposeSecret;

use crate::exit::{code, Failure};
use crate::output;

/// Prints the members, their roles and devices, then what in the team log
/// does not count (to standard error). With `json`, one object.
pub fn members(vault: &Vault, json: bool, out: &mut dyn Write) -> Result<u8, Failure> {
    let status = vault.team();
    let Some(team) = &status.team else {
        return Err(match &status.error {
            Some(e) => Failure::new(
                code::INTEGRITY,
                format!("no team: {e}"),
                Some("the team log (t/ in the vault folder) was deleted, or has not synced yet"),
            ),
            None => Failure::new(
                code::OTHER,
                "this device knows no team for this vault",
                Some("a vault made before the team log gets one when the recovery phrase is used (`chartsafe recover`)"),
            ),
        });
    };
    if json {
        let members: Vec<_> = team
            .members
            .values()
            .map(|m| {
                serde_json::json!({
                    "id": m.id, "name": m.name, "role": m.role.as_str(), "removed": m.removed,
                    "devices": team.devices.values().filter(|d| d.member == m.id).map(|d| {
                        serde_json::json!({"id": d.id, "name": d.name, "removed": d.removed,
                                           "signing": d.signing.to_string(),
                                           "this_device": d.id == vault.device_id()})
                    }).collect::<Vec<_>>(),
                })
            })
            .collect();
        let rejected: Vec<_> = team
            .rejected
            .iter()
            .map(|r| {
                serde_json::json!({"device": r.device, "seq": r.seq, "kind": r.kind,
                                   "reason": r.reason.code(), "message": r.reason.to_string()})
            })
            .collect();
        let value = serde_json::json!({
            "members": members, "rejected": rejected, "pending": team.pending.len(),
            "unreadable": status.unreadable.iter().map(|(f, _)| f).collect::<Vec<_>>(),
        });
        writeln!(out, "{value}").map_err(output::broken)?;
    } else {
        for m in team.members.values() {
            let state = if m.removed { "  (removed)" } else { "" };
            writeln!(
                out,
                "{:<24}  {:<7}  {}{state}",
                output::clip(&names::printable(&m.name), 24),
                m.role.as_str(),
                m.id
            )
            .map_err(output::broken)?;
            for d in team.devices.values().filter(|d| d.member == m.id) {
                let mut notes = Vec::new();
                if d.id == vault.device_id() {
                    notes.push("this device");
                }
                if d.removed {
                    notes.push("removed");
                }
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
    for r in &team.rejected {
        eprintln!(
            "warning: team entry t/{}/{:010} ({}) does not count: {}",
            r.device, r.seq, r.kind, r.reason
        );
    }
    for (file, why) in &status.unreadable {
        eprintln!("warning: {file} is not a team entry this vault can read: {why}");
    }
    let problems = !team.rejected.is_empty() || !status.unreadable.is_empty();
    if !team.pending.is_empty() {
        eprintln!(
            "note: {} team entr{} wait for entries that have not synced yet",
            team.pending.len(),
            if team.pending.len() == 1 { "y" } else { "ies" }
        );
    }
    Ok(if problems { code::PROBLEMS } else { 0 })
}

/// `chartsafe invite`: a new invitation, printed once.
pub fn invite(vault: &mut Vault, out: &mut dyn Write) -> Result<u8, Failure> {
    let inv = vault.invite()?;
    writeln!(out, "{}", inv.text.expose_secret()).map_err(output::broken)?;
    eprintln!(
        "Give this invitation to the person, in person or by phone (not by email), until {} UTC.",
        names::date_time(inv.expires)
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
            names::date_time(r.time),
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

/// The role named on the command line.
pub fn role(text: &str) -> Result<Role, Failure> {
    Role::parse(text).ok_or_else(|| {
        Failure::new(
            2,
            format!(
                "\"{}\" is not a role: admin, staff or viewer",
                names::printable(text)
            ),
            None,
        )
    })
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
        "Removed {} \"{}\" ({} computer(s)): changes made from there after the last one this computer had seen are refused on every computer.",
        if r.member { "member" } else { "computer" },
        names::printable(&r.name),
        r.devices
    );
    for name in &r.unseen {
        eprintln!(
            "warning: no change from computer \"{}\" has reached this computer: anything it wrote that has not synced here yet will not count",
            names::printable(name)
        );
    }
    eprintln!(
        "Note: removal does not yet take reading away. Until keys can be rotated, whoever was removed can still decrypt files they get from the cloud folder: remove their access to the folder too (docs/THREAT_MODEL.md §3.3)."
    );
    Ok(0)
}
