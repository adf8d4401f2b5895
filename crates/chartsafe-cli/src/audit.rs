//! `chartsafe audit` and `chartsafe verify` (docs/FORMAT.md §10).

use std::io::{IsTerminal, Write};

use chartsafe_api::{ExportFormat, LogStyle, People};
use chartsafe_core::{names, Action, AuditEntry, AuditFilter, EntryId, Vault};

use crate::exit::{code, Failure};
use crate::output::{self, broken};
use crate::{AuditArgs, AuditCommand, AuditFormat};

fn time_arg(text: &Option<String>, now: i64, flag: &str) -> Result<Option<i64>, Failure> {
    text.as_deref()
        .map(|t| {
            output::times().parse(t, now).ok_or_else(|| {
                Failure::new(
                    2,
                    format!("{flag} {t:?}: not a time"),
                    Some("use YYYY-MM-DD or YYYY-MM-DD HH:MM (this computer's time zone, UTC with --utc, or ending in Z or +01:00), or an age such as 7d or 12h"),
                )
            })
        })
        .transpose()
}

/// One row of the table. Text from the log is printed with control
/// characters escaped (a file name or a planted event may hold them).
fn entry_line(e: &AuditEntry, people: &People, ids: bool) -> String {
    let safe = names::printable;
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
    let mut member = safe(&people.member(&e.member));
    let mut device = safe(&people.device(&e.device, &e.device_name));
    if ids {
        member = format!("{member} ({})", e.member);
        device = format!("{device} ({})", e.device);
    }
    let (mw, dw) = if ids { (48, 48) } else { (20, 16) };
    format!(
        "{}  {:<mw$}  {:<dw$}  {:<16}  {:<10}  {what}",
        output::times().date_time_seconds(e.time),
        output::clip(&member, mw),
        output::clip(&device, dw),
        safe(&e.action),
        output::clip(&outcome, 40),
    )
}

/// `chartsafe audit` and `chartsafe audit verify`.
pub fn run(vault: &mut Vault, args: &AuditArgs, out: &mut dyn Write) -> Result<u8, Failure> {
    if matches!(args.command, Some(AuditCommand::Verify)) {
        return verify_chains(vault, out);
    }
    let people = People::of(vault);
    let filter = filter(vault, args, &people)?;
    let log = chartsafe_api::read_log(vault)?;
    let shown: Vec<&AuditEntry> = log.filter(&filter).collect();
    let style = LogStyle {
        people,
        time: output::times().clone(),
        ids: args.ids,
    };
    // A copy of the log (with file names) for another program is recorded
    // first, like every other way out of the vault (FORMAT.md §10.2).
    let format = match args.format {
        AuditFormat::Csv => ExportFormat::Csv,
        AuditFormat::Json => ExportFormat::JsonLines,
        AuditFormat::Table => {
            print_table(&shown, &style, out)?;
            return Ok(problems(&log));
        }
    };
    chartsafe_api::export_entries(vault, &shown, format, &style, "command line", out)?;
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
        "{} in {}: {}",
        output::count(log.entries.len(), "entry", "entries"),
        output::count(log.chains.len(), "chain", "chains"),
        match log.problems.len() {
            0 => "every chain is intact".to_owned(),
            n => output::count(n, "problem", "problems"),
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
fn filter(vault: &mut Vault, args: &AuditArgs, people: &People) -> Result<AuditFilter, Failure> {
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
        member: member_arg(args.member.as_deref(), people)?,
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
fn print_table(
    shown: &[&AuditEntry],
    style: &LogStyle,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    let lines: Vec<String> = shown
        .iter()
        .map(|e| entry_line(e, &style.people, style.ids))
        .collect();
    // Times are as wide as the locale writes them ("12/07/2026 6:31:05 PM").
    let width = shown
        .iter()
        .map(|e| output::times().date_time_seconds(e.time).chars().count())
        .max()
        .unwrap_or(19);
    let (mw, dw) = if style.ids { (48, 48) } else { (20, 16) };
    writeln!(
        out,
        "{:<width$}  {:<mw$}  {:<dw$}  {:<16}  {:<10}  PATH (DETAIL)",
        "TIME", "MEMBER", "COMPUTER", "ACTION", "OUTCOME"
    )
    .map_err(broken)?;
    for (e, line) in shown.iter().zip(lines) {
        let time = output::times().date_time_seconds(e.time);
        let rest = line.get(time.len()..).unwrap_or_default();
        writeln!(out, "{time:<width$}{rest}").map_err(broken)?;
    }
    Ok(())
}

/// `--member`: a name (any case) is the id of that member; otherwise the
/// text is an id or its first characters.
fn member_arg(text: Option<&str>, people: &People) -> Result<Option<String>, Failure> {
    let Some(text) = text else { return Ok(None) };
    let ids = people.member_ids(text);
    match ids.len() {
        0 | 1 => Ok(Some(
            ids.into_iter().next().unwrap_or_else(|| text.to_owned()),
        )),
        n => Err(Failure::new(
            code::USAGE,
            format!(
                "--member {text:?}: {} have that name",
                output::count(n, "member", "members")
            ),
            Some("give the member's id instead (chartsafe members)"),
        )),
    }
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
        "checked {} ({} bytes) and {} in {:.1} s: {}",
        output::count(report.contents_checked, "content file", "content files"),
        report.bytes_checked,
        output::count(report.audit_entries, "audit entry", "audit entries"),
        started.elapsed().as_secs_f64(),
        match report.problems.len() {
            0 => "no problems".to_owned(),
            n => output::count(n, "problem", "problems"),
        }
    );
    let fixable = report.problems.iter().filter(|p| p.repairable()).count();
    if !repair && fixable > 0 {
        eprintln!(
            "hint: `chartsafe verify --repair` removes the {} that {} safe to remove",
            output::count(fixable, "file", "files"),
            if fixable == 1 { "is" } else { "are" }
        );
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
                            "--repair would remove {}; not asking without a terminal",
                            output::count(fixable.len(), "file", "files")
                        ),
                        Some("run it in a terminal, or add --yes"),
                    ));
                }
                eprint!(
                    "Remove the {} listed above that no record uses? [y/N] ",
                    output::count(fixable.len(), "file", "files")
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
                "removed {}, {} bytes",
                output::count(done.removed.len(), "file", "files"),
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
    use chartsafe_api::TimeStyle;

    /// `--since` and `--until` under `--utc` (the zone's own reading is
    /// tested in chartsafe_api::time and end to end).
    #[test]
    fn times_parse_as_utc() {
        let now = 1_780_000_000_000;
        let parse = |t| TimeStyle::utc().parse(t, now);
        assert_eq!(parse("1970-01-01"), Some(0));
        assert_eq!(parse("2026-05-28T20:26:40Z"), Some(1_780_000_000_000));
        assert_eq!(parse("2026-05-28 20:26"), Some(1_779_999_960_000));
        assert_eq!(parse("7d"), Some(now - 7 * 86_400_000));
        assert_eq!(parse("2026-13-01"), None);
        assert_eq!(parse("soon"), None);
    }
}
