//! Reading the audit log and taking copies of it out of the vault
//! (docs/FORMAT.md §10, §14.4).

use std::io::Write;
use std::path::{Path, PathBuf};

use chartsafe_core::{
    utc_time, Action, AuditEntry, AuditLog, AuditWriteError, Classify, ErrorKind, Event, ListError,
    Vault,
};

use crate::people::People;
use crate::time::{count, TimeStyle};

/// Errors of [`read_log`] and [`export_entries`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// This computer may not read the log: it has its own key, which only
    /// admins' computers hold (FORMAT.md §14.4).
    #[error(
        "only admins read the audit log: it has its own key, which only admins' computers hold"
    )]
    AdminsOnly,
    /// The vault could not be read.
    #[error(transparent)]
    List(#[from] ListError),
    /// The export could not be recorded, so nothing was written.
    #[error(transparent)]
    Record(#[from] AuditWriteError),
    /// The copy could not be written; the export was recorded.
    #[error("could not write {}: {source}", file.as_deref().map_or("the export".into(), |f| f.display().to_string()))]
    Write {
        /// The file written, or `None` for a stream.
        file: Option<PathBuf>,
        /// Why.
        source: std::io::Error,
    },
}

impl Classify for AuditError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::AdminsOnly => ErrorKind::Refused,
            Self::List(e) => e.kind(),
            Self::Record(e) => e.kind(),
            Self::Write { source, .. } => ErrorKind::of_io(source),
        }
    }
}

/// Every device's audit chain, checked and merged (oldest first), with the
/// problems found.
///
/// # Errors
///
/// [`AuditError::AdminsOnly`] on a computer that may not read the log, and
/// [`AuditError::List`] when the vault cannot be read.
pub fn read_log(vault: &mut Vault) -> Result<AuditLog, AuditError> {
    let log = vault.audit_log()?;
    if log.restricted {
        return Err(AuditError::AdminsOnly);
    }
    Ok(log)
}

/// How a copy of the log is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// CSV with the header [`CSV_HEADER`], CRLF lines.
    Csv,
    /// One JSON object per line (the fields of [`entry_json`]).
    JsonLines,
}

impl ExportFormat {
    fn name(self) -> &'static str {
        match self {
            Self::Csv => "CSV",
            Self::JsonLines => "JSON",
        }
    }
}

/// How a copy of the log names people and writes times.
#[derive(Debug, Clone)]
pub struct LogStyle {
    /// Members' and computers' names.
    pub people: People,
    /// The zone of the CSV's times (JSON is always in UTC).
    pub time: TimeStyle,
    /// Whether the CSV also holds the member, computer and entry ids (JSON
    /// always does).
    pub ids: bool,
}

impl LogStyle {
    /// Names from `vault`'s team log, times in this computer's zone, no
    /// ids in CSV.
    pub fn local(vault: &Vault) -> Self {
        Self {
            people: People::of(vault),
            time: TimeStyle::local(),
            ids: false,
        }
    }
}

/// One entry as the JSON object `chartsafe audit --format json` prints: a
/// contract with scripts, so fields are only ever added. Times are UTC;
/// `member_name` and `computer_name` are the team log's names.
pub fn entry_json(e: &AuditEntry, people: &People) -> serde_json::Value {
    serde_json::json!({
        "time": utc_time(e.time),
        "time_ms": e.time,
        "member": e.member,
        "member_name": people.member(&e.member),
        "device": e.device,
        "device_name": e.device_name,
        "computer_name": people.device(&e.device, &e.device_name),
        "action": e.action,
        "entry": e.entry,
        "path": e.path,
        "outcome": e.outcome,
        "reason": e.reason,
        "detail": e.detail,
        "app": e.app,
        "unverified": e.unverified,
    })
}

/// Writes `entries` to `out` in `format`, after recording the export in the
/// audit log: no copy of the log (which names patients' files) leaves the
/// vault unrecorded (FORMAT.md §10.2). `via` says through what ("app",
/// "command line"). Returns the number of entries written.
///
/// # Errors
///
/// [`AuditError::Record`] when the export could not be recorded (nothing
/// was written), [`AuditError::Write`] when writing failed.
pub fn export_entries(
    vault: &mut Vault,
    entries: &[&AuditEntry],
    format: ExportFormat,
    style: &LogStyle,
    via: &str,
    out: &mut dyn Write,
) -> Result<usize, AuditError> {
    record_export(vault, entries.len(), format, via)?;
    write_entries(entries, format, style, out)
        .map_err(|source| AuditError::Write { file: None, source })?;
    Ok(entries.len())
}

/// As [`export_entries`], into the file `dest`: written whole beside it and
/// renamed into place, so a failure leaves no half file (and an existing
/// `dest`, which the person chose to replace, stays until then).
///
/// # Errors
///
/// As [`export_entries`]; [`AuditError::Write`] names `dest`.
pub fn export_entries_to_file(
    vault: &mut Vault,
    entries: &[&AuditEntry],
    format: ExportFormat,
    style: &LogStyle,
    via: &str,
    dest: &Path,
) -> Result<usize, AuditError> {
    record_export(vault, entries.len(), format, via)?;
    let write = || -> std::io::Result<()> {
        let dir = dest
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let mut temp = tempfile::NamedTempFile::new_in(dir)?;
        let mut out = std::io::BufWriter::new(temp.as_file_mut());
        write_entries(entries, format, style, &mut out)?;
        out.flush()?;
        drop(out);
        temp.as_file().sync_all()?;
        temp.persist(dest).map_err(|e| e.error)?;
        Ok(())
    };
    write().map_err(|source| AuditError::Write {
        file: Some(dest.to_owned()),
        source,
    })?;
    Ok(entries.len())
}

fn count_of(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

fn record_export(
    vault: &mut Vault,
    n: usize,
    format: ExportFormat,
    via: &str,
) -> Result<(), AuditWriteError> {
    let now = vault.now_ms();
    vault.record(Event::new(now, Action::AuditExported).detail(format!(
        "{}, {}, {via}",
        count(count_of(n), "entry", "entries"),
        format.name()
    )))
}

fn write_entries(
    entries: &[&AuditEntry],
    format: ExportFormat,
    style: &LogStyle,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    match format {
        ExportFormat::Csv => write_csv(entries.iter().copied(), style, out),
        ExportFormat::JsonLines => {
            for e in entries {
                writeln!(out, "{}", entry_json(e, &style.people))?;
            }
            Ok(())
        }
    }
}

/// The header line of the CSV export ([`ExportFormat::Csv`]): names, and
/// times in ISO 8601 with the offset of the zone they are written in.
pub const CSV_HEADER: &str = "time,member,computer,action,path,outcome,reason,detail,app,verified";

/// The header with ids ([`LogStyle::ids`]): the same columns, then the ids.
pub const CSV_HEADER_IDS: &str =
    "time,member,computer,action,path,outcome,reason,detail,app,verified,member_id,computer_id,entry_id";

/// One CSV field (RFC 4180). A field a spreadsheet would run as a formula
/// (starting with `=`, `+`, `-`, `@`, tab or carriage return; a file name
/// can) gets a leading `'` so that it is shown as text.
fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// Writes entries as CSV: [`CSV_HEADER`], then one line per entry (CRLF
/// line ends, as RFC 4180 says). The output holds file names: it is as
/// sensitive as the files.
fn write_csv<'a>(
    entries: impl IntoIterator<Item = &'a AuditEntry>,
    style: &LogStyle,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    let header = if style.ids {
        CSV_HEADER_IDS
    } else {
        CSV_HEADER
    };
    write!(out, "{header}\r\n")?;
    for e in entries {
        let mut fields = vec![
            style.time.iso(e.time),
            style.people.member(&e.member),
            style.people.device(&e.device, &e.device_name),
            e.action.clone(),
            e.path.clone().unwrap_or_default(),
            e.outcome.clone(),
            e.reason.clone().unwrap_or_default(),
            e.detail.clone().unwrap_or_default(),
            e.app.clone(),
            // "no": no signature vouches for it (FORMAT.md §10.6).
            if e.unverified { "no" } else { "yes" }.to_owned(),
        ];
        if style.ids {
            fields.push(e.member.to_string());
            fields.push(e.device.to_string());
            fields.push(
                e.entry
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
            );
        }
        let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        write!(out, "{}\r\n", line.join(","))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::new_vault;
    use chartsafe_core::Role;
    use secrecy::{ExposeSecret, SecretString};

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        assert_eq!(csv_field("plain.pdf"), "plain.pdf");
        assert_eq!(csv_field("a,b \"c\".pdf"), "\"a,b \"\"c\"\".pdf\"");
        assert_eq!(csv_field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(csv_field("-2+3,x"), "\"'-2+3,x\"");
    }

    #[test]
    fn an_export_is_recorded_before_it_is_written_and_names_its_format() {
        let tmp = tempfile::tempdir().unwrap();
        let mut vault = new_vault(tmp.path());
        let log = read_log(&mut vault).unwrap();
        let entries: Vec<&AuditEntry> = log.entries.iter().collect();
        let dest = tmp.path().join("activity.csv");
        let style = LogStyle::local(&vault);
        let n = export_entries_to_file(
            &mut vault,
            &entries,
            ExportFormat::Csv,
            &style,
            "app",
            &dest,
        )
        .unwrap();
        assert_eq!(n, entries.len());
        let csv = std::fs::read_to_string(&dest).unwrap();
        assert_eq!(csv.lines().count(), n + 1, "{csv}");
        let mut out = Vec::new();
        export_entries(
            &mut vault,
            &entries[..1],
            ExportFormat::JsonLines,
            &style,
            "command line",
            &mut out,
        )
        .unwrap();
        let line: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(line["time_ms"], entries[0].time);
        assert_eq!(line["member_name"], "Administrator");
        let after = read_log(&mut vault).unwrap();
        let details: Vec<_> = after
            .entries
            .iter()
            .filter(|e| e.action == "audit_exported")
            .filter_map(|e| e.detail.clone())
            .collect();
        assert_eq!(
            details,
            [
                format!("{n} entries, CSV, app"),
                "1 entry, JSON, command line".to_owned()
            ]
        );
    }

    #[test]
    fn a_failed_write_names_the_file_and_leaves_no_half_file() {
        let tmp = tempfile::tempdir().unwrap();
        let mut vault = new_vault(tmp.path());
        let log = read_log(&mut vault).unwrap();
        let entries: Vec<&AuditEntry> = log.entries.iter().collect();
        let dest = tmp.path().join("no such folder/activity.csv");
        let style = LogStyle::local(&vault);
        let e = export_entries_to_file(
            &mut vault,
            &entries,
            ExportFormat::Csv,
            &style,
            "app",
            &dest,
        )
        .unwrap_err();
        assert!(e.to_string().contains("no such folder"), "{e}");
        assert_eq!(e.kind(), ErrorKind::Storage);
        assert!(!tmp.path().join("no such folder").exists());
    }

    /// The CSV names people and computers, writes times in ISO 8601 with
    /// the offset of the zone, and holds ids only when asked.
    #[test]
    fn csv_rows_name_people_and_carry_the_offset() {
        let tmp = tempfile::tempdir().unwrap();
        let mut vault = new_vault(tmp.path());
        let log = read_log(&mut vault).unwrap();
        let entries: Vec<&AuditEntry> = log.entries.iter().collect();
        let first = entries[0];
        let mut style = LogStyle {
            people: People::of(&vault),
            time: TimeStyle::with(
                jiff::tz::TimeZone::get("Europe/Berlin").unwrap(),
                "%d.%m.%Y",
                false,
            ),
            ids: false,
        };
        let mut out = Vec::new();
        write_csv(entries.iter().copied(), &style, &mut out).unwrap();
        let csv = String::from_utf8(out).unwrap();
        let mut lines = csv.lines();
        assert_eq!(lines.next(), Some(CSV_HEADER));
        let row = lines.next().unwrap();
        assert!(row.starts_with(&style.time.iso(first.time)), "{row}");
        assert!(row.contains("+01:00") || row.contains("+02:00"), "{row}");
        assert!(row.contains(",Administrator,"), "{row}");
        assert!(!csv.contains(first.member.as_str()), "no ids unless asked");
        style.ids = true;
        let mut out = Vec::new();
        write_csv(entries.iter().copied(), &style, &mut out).unwrap();
        let csv = String::from_utf8(out).unwrap();
        assert!(csv.starts_with(CSV_HEADER_IDS));
        assert!(csv.contains(first.member.as_str()));
    }

    /// A staff member's computer is refused by both shells alike (the app
    /// once showed it an empty Activity list instead).
    #[test]
    fn a_staff_computer_is_told_only_admins_read_the_log() {
        let tmp = tempfile::tempdir().unwrap();
        let mut admin = new_vault(tmp.path());
        // A collection gives the log its own key (FORMAT.md §14.4).
        admin.create_collection("Billing").unwrap();
        let invitation = admin.invite().unwrap();
        // Another computer: its own keychain namespace.
        let store = chartsafe_keychain::Keychain::with_service(&format!(
            "chartsafe-api-tests-staff-{}",
            std::process::id()
        ));
        let pass = SecretString::from("member passphrase".to_owned());
        let options = || {
            let mut o = chartsafe_core::Options::new(tmp.path().join("staff-state"), "front desk");
            o.kdf_log_n = 4;
            o
        };
        let vault_dir = tmp.path().join("vault");
        let pending = Vault::request_join(
            &vault_dir,
            invitation.text.expose_secret(),
            "Front Desk",
            &store,
            &pass,
            options(),
        )
        .unwrap();
        let request = admin.join_requests().unwrap().remove(0).id;
        admin.approve(&request, &pending.code, Role::Staff).unwrap();
        let mut staff = Vault::unlock(&vault_dir, &store, &pass, options()).unwrap();
        staff.list().unwrap();
        let e = read_log(&mut staff).unwrap_err();
        assert!(matches!(e, AuditError::AdminsOnly), "{e}");
        assert_eq!(e.kind(), ErrorKind::Refused);
        assert!(read_log(&mut admin).is_ok());
    }
}
