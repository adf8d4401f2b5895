//! `chartsafe audit` and `chartsafe verify` (docs/FORMAT.md §10).

use std::io::{IsTerminal, Write};

use chartsafe_api::ExportFormat;
use chartsafe_core::{names, Action, AuditEntry, AuditFilter, EntryId, Vault};

use crate::exit::{code, Failure};
use crate::output::{self, broken};
use crate::{AuditArgs, AuditCommand, AuditFormat};

/// Days from 1970-01-01 of a proleptic Gregorian date (H. Hinnant).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Reads `--since`/`--until`: a UTC date or date and time, or an age.
pub fn parse_time(text: &str, now: i64) -> Option<i64> {
    let t = text.trim();
    if let Some(unit) = t.chars().last().filter(|c| "dhm".contains(*c)) {
        if let Ok(n) = t[..t.len() - 1].parse::<i64>() {
            let ms = match unit {
                'd' => 86_400_000,
                'h' => 3_600_000,
                _ => 60_000,
            };
            return Some(now - n.checked_mul(ms)?);
        }
    }
    let t = t.trim_end_matches('Z');
    let (date, time) = t.split_once(['T', ' ']).unwrap_or((t, "00:00"));
    let d: Vec<i64> = date
        .split('-')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let h: Vec<i64> = time
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let [y, mo, da] = <[i64; 3]>::try_from(d).ok()?;
    let (hh, mm, ss) = match h[..] {
        [hh, mm] => (hh, mm, 0),
        [hh, mm, ss] => (hh, mm, ss),
        _ => return None,
    };
    let valid = (1..=12).contains(&mo)
        && (1..=31).contains(&da)
        && (0..24).contains(&hh)
        && (0..60).contains(&mm)
        && (0..61).contains(&ss);
    valid.then(|| ((days_from_civil(y, mo, da) * 24 + hh) * 60 + mm) * 60_000 + ss * 1000)
}

fn time_arg(text: &Option<String>, now: i64, flag: &str) -> Result<Option<i64>, Failure> {
    text.as_deref()
        .map(|t| {
            parse_time(t, now).ok_or_else(|| {
                Failure::new(
                    2,
                    format!("{flag} {t:?}: not a time"),
                    Some("use YYYY-MM-DD, YYYY-MM-DDTHH:MM (UTC), or an age such as 7d or 12h"),
                )
            })
        })
        .transpose()
}

/// One row of the table. Text from the log is printed with control
/// characters escaped (a file name or a planted event may hold them).
fn entry_line(e: &AuditEntry) -> String {
    let safe = names::printable;
    let secs = e.time.div_euclid(1000).rem_euclid(60);
    let mut outcome = match (e.outcome.as_str(), &e.reason) {
        ("ok", _) => String::new(),
        (o, Some(r)) => format!("{}: {}", o.to_uppercase(), safe(r)),
        (o, None) => o.to_uppercase(),
    };
    // Not signed by a computer of the team (FORMAT.md §10.6): a claim.
    if e.unverified {
        outcome = format!("UNVERIFIED {outcome}").trim_end().to_owned();
    }
    let mut what = e.path.as_deref().map(safe).unwrap_or_default();
    if let Some(d) = e.detail.as_deref().map(safe) {
        what = if what.is_empty() {
            format!("({d})")
        } else {
            format!("{what} ({d})")
        };
    }
    format!(
        "{}:{secs:02}  {:<16}  {:<8}  {:<16}  {:<10}  {what}",
        names::date_time(e.time),
        output::clip(&safe(&e.device_name), 16),
        safe(e.member.get(..8).unwrap_or(&e.member)),
        safe(&e.action),
        output::clip(&outcome, 40),
    )
}

/// `chartsafe audit` and `chartsafe audit verify`.
pub fn run(vault: &mut Vault, args: &AuditArgs, out: &mut dyn Write) -> Result<u8, Failure> {
    if matches!(args.command, Some(AuditCommand::Verify)) {
        return verify_chains(vault, out);
    }
    let filter = filter(vault, args)?;
    let log = chartsafe_api::read_log(vault)?;
    let shown: Vec<&AuditEntry> = log.filter(&filter).collect();
    // A copy of the log (with file names) for another program is recorded
    // first, like every other way out of the vault (FORMAT.md §10.2).
    let format = match args.format {
        AuditFormat::Csv => ExportFormat::Csv,
        AuditFormat::Json => ExportFormat::JsonLines,
        AuditFormat::Table => {
            print_table(&shown, out)?;
            return Ok(problems(&log));
        }
    };
    chartsafe_api::export_entries(vault, &shown, format, "command line", out)?;
    Ok(problems(&log))
}

/// Warns of each problem of the log; exit 3 if any.
fn problems(log: &chartsafe_core::AuditLog) -> u8 {
    for p in &log.problems {
        eprintln!("warning: {}", names::printable(&p.to_string()));
    }
    if log.problems.is_empty() {
        0
    } else {
        code::PROBLEMS
    }
}

/// `chartsafe audit verify`: every chain, then its problems; exit 6 if any.
fn verify_chains(vault: &mut Vault, out: &mut dyn Write) -> Result<u8, Failure> {
    let log = chartsafe_api::read_log(vault)?;
    for c in &log.chains {
        writeln!(
            out,
            "chain of \"{}\" (a/{}): {} batches, up to position {}",
            names::printable(&c.device_name),
            c.device,
            c.batches,
            c.head
        )
        .map_err(broken)?;
    }
    for p in &log.problems {
        writeln!(out, "problem: {}", names::printable(&p.to_string())).map_err(broken)?;
    }
    eprintln!(
        "{} entries in {} chains: {}",
        log.entries.len(),
        log.chains.len(),
        match log.problems.len() {
            0 => "every chain is intact".to_owned(),
            n => format!("{n} problem(s)"),
        }
    );
    Ok(if log.problems.is_empty() {
        0
    } else {
        code::INTEGRITY
    })
}

/// The filter the flags ask for. `--entry` takes an id, or a path: the
/// entry now at that path (its whole history, under every name it had) and
/// whatever was recorded under that path.
fn filter(vault: &mut Vault, args: &AuditArgs) -> Result<AuditFilter, Failure> {
    let now = vault.now_ms();
    for a in &args.action {
        if Action::parse(a).is_none() {
            return Err(Failure::new(
                code::USAGE,
                format!("--action {a:?}: no such action"),
                Some("see `chartsafe audit --help` for the list"),
            ));
        }
    }
    let mut filter = AuditFilter {
        since: time_arg(&args.since, now, "--since")?,
        until: time_arg(&args.until, now, "--until")?,
        member: args.member.clone(),
        device: args.device.clone(),
        actions: args.action.clone(),
        ..AuditFilter::default()
    };
    if let Some(entry) = &args.entry {
        if let Some(id) = EntryId::parse(entry) {
            filter.entries.push(id);
        } else {
            let path = names::split_path(entry)
                .map_err(|e| Failure::new(code::PATH, format!("\"{entry}\": {e}"), None))?
                .join("/");
            if let Some(e) = vault.list()?.entries.into_iter().find(|e| e.path == path) {
                filter.entries.push(e.id);
            }
            filter.paths.push(path);
        }
    }
    Ok(filter)
}

/// The entries as a table.
fn print_table(shown: &[&AuditEntry], out: &mut dyn Write) -> Result<(), Failure> {
    writeln!(
        out,
        "{:<19}  {:<16}  {:<8}  {:<16}  {:<10}  PATH (DETAIL)",
        "TIME (UTC)", "DEVICE", "MEMBER", "ACTION", "OUTCOME"
    )
    .map_err(broken)?;
    for e in shown {
        writeln!(out, "{}", entry_line(e)).map_err(broken)?;
    }
    Ok(())
}

/// `chartsafe verify [--repair [--yes]]`.
pub fn verify(
    vault: &mut Vault,
    repair: bool,
    yes: bool,
    out: &mut dyn Write,
) -> Result<u8, Failure> {
    let bar = output::Bar::new();
    let started = std::time::Instant::now();
    let report = vault.verify(&bar)?;
    drop(bar);
    for p in &report.problems {
        writeln!(out, "problem: {p}").map_err(broken)?;
        writeln!(out, "    fix: {}", p.remedy()).map_err(broken)?;
    }
    eprintln!(
        "checked {} content file(s) ({} bytes) and {} audit entries in {:.1} s: {}",
        report.contents_checked,
        report.bytes_checked,
        report.audit_entries,
        started.elapsed().as_secs_f64(),
        match report.problems.len() {
            0 => "no problems".to_owned(),
            n => format!("{n} problem(s)"),
        }
    );
    let fixable = report.problems.iter().filter(|p| p.repairable()).count();
    if !repair && fixable > 0 {
        eprintln!("hint: `chartsafe verify --repair` removes the {fixable} file(s) that are safe to remove");
    }
    if repair {
        let fixable: Vec<_> = report.problems.iter().filter(|p| p.repairable()).collect();
        if fixable.is_empty() {
            eprintln!("nothing that --repair may remove");
        } else {
            if !yes {
                if !std::io::stdin().is_terminal() {
                    return Err(Failure::new(
                        2,
                        format!(
                            "--repair would remove {} file(s); not asking without a terminal",
                            fixable.len()
                        ),
                        Some("run it in a terminal, or add --yes"),
                    ));
                }
                eprint!(
                    "Remove {} file(s) listed above that no record uses? [y/N] ",
                    fixable.len()
                );
                let mut answer = String::new();
                std::io::stdin().read_line(&mut answer).map_err(broken)?;
                if !matches!(answer.trim(), "y" | "Y" | "yes") {
                    eprintln!("nothing removed");
                    return Ok(if report.problems.is_empty() {
                        0
                    } else {
                        code::INTEGRITY
                    });
                }
            }
            let done = vault.repair(&report)?;
            for f in &done.removed {
                writeln!(out, "removed: {f}").map_err(broken)?;
            }
            eprintln!(
                "removed {} file(s), {} bytes",
                done.removed.len(),
                done.bytes
            );
            let left = report.problems.len() - done.removed.len();
            return Ok(if left == 0 { 0 } else { code::INTEGRITY });
        }
    }
    Ok(if report.problems.is_empty() {
        0
    } else {
        code::INTEGRITY
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_as_utc() {
        let now = 1_780_000_000_000;
        assert_eq!(parse_time("1970-01-01", now), Some(0));
        assert_eq!(
            parse_time("2026-05-28T20:26:40Z", now),
            Some(1_780_000_000_000)
        );
        assert_eq!(parse_time("2026-05-28 20:26", now), Some(1_779_999_960_000));
        assert_eq!(parse_time("7d", now), Some(now - 7 * 86_400_000));
        assert_eq!(parse_time("2026-13-01", now), None);
        assert_eq!(parse_time("soon", now), None);
    }
}
