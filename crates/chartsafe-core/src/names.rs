//! Entry names and vault paths (docs/FORMAT.md §5.5).
//!
//! Names are stored in Unicode NFC, so a name typed on macOS (NFD) and the same
//! name typed on Windows (NFC) are the same entry. Names are limited to what
//! every desktop file system can hold in length and separators; characters
//! that only Windows forbids (`:*?"<>|`) are allowed and must be mapped when
//! exporting there.

use unicode_normalization::UnicodeNormalization;

/// Longest name, in UTF-8 bytes (the limit of ext4, NTFS and APFS).
pub const MAX_NAME_BYTES: usize = 255;

/// Why a name was refused. The name itself is not repeated (it can be long or
/// hold control characters); callers name the path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    /// Empty.
    #[error("the name is empty")]
    Empty,
    /// `.` or `..`.
    #[error("\".\" and \"..\" are not names")]
    Dots,
    /// Holds `/` or `\`.
    #[error("a name cannot hold \"/\" or \"\\\"")]
    Separator,
    /// Holds a control character (newline, tab, NUL, …).
    #[error("a name cannot hold control characters")]
    Control,
    /// Longer than [`MAX_NAME_BYTES`].
    #[error("the name is {0} bytes long; at most 255 are allowed")]
    TooLong(usize),
    /// Not valid Unicode (a source file name in another encoding).
    #[error("the name is not valid Unicode")]
    NotUnicode,
}

/// Checks one name and returns its NFC form.
pub fn normalise_name(name: &str) -> Result<String, NameError> {
    let nfc: String = name.nfc().collect();
    if nfc.is_empty() {
        return Err(NameError::Empty);
    }
    if nfc == "." || nfc == ".." {
        return Err(NameError::Dots);
    }
    if nfc.contains('/') || nfc.contains('\\') {
        return Err(NameError::Separator);
    }
    if nfc.chars().any(char::is_control) {
        return Err(NameError::Control);
    }
    if nfc.len() > MAX_NAME_BYTES {
        return Err(NameError::TooLong(nfc.len()));
    }
    Ok(nfc)
}

/// Splits a vault path (`a/b/c`, leading and trailing `/` ignored) into
/// checked NFC names. The empty path is the top level.
pub fn split_path(path: &str) -> Result<Vec<String>, NameError> {
    let trimmed = path.trim_matches('/');
    if trimmed.is_empty() {
        return Ok(Vec::new());
    }
    trimmed.split('/').map(normalise_name).collect()
}

/// Joins names into a vault path.
pub fn join(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_owned()
    } else {
        format!("{parent}/{name}")
    }
}

/// The name shown for a conflict copy: `stem (conflict, DEVICE, DATE).ext`.
///
/// The device name comes from another device's record: separators and
/// control characters are replaced and it is cut to 40 characters, so the
/// result is still one valid name.
pub fn conflict_name(name: &str, device: &str, date: &str) -> String {
    let (stem, ext) = split_extension(name);
    let device: String = clean_device_name(device).chars().take(40).collect();
    fit(stem, &format!(" (conflict, {device}, {date}){ext}"))
}

/// A name with a suffix before its extension: `stem (SUFFIX).ext`.
pub fn suffixed_name(name: &str, suffix: &str) -> String {
    let (stem, ext) = split_extension(name);
    fit(stem, &format!(" ({suffix}){ext}"))
}

/// A device name as shown to people and stored in records: NFC, no control
/// characters or separators, at most 64 characters (FORMAT.md §5.1).
pub fn clean_device_name(name: &str) -> String {
    let cleaned: String = name
        .nfc()
        .map(|c| {
            if c == '/' || c == '\\' || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .take(64)
        .collect();
    let trimmed = cleaned.trim();
    if trimmed.is_empty() {
        "device".to_owned()
    } else {
        trimmed.to_owned()
    }
}

/// `stem` + `tail`, with the stem shortened (at a character boundary) so the
/// whole stays within [`MAX_NAME_BYTES`], in NFC.
fn fit(stem: &str, tail: &str) -> String {
    let room = MAX_NAME_BYTES.saturating_sub(tail.len());
    let mut end = stem.len().min(room);
    while !stem.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{tail}", &stem[..end]).nfc().collect()
}

fn split_extension(name: &str) -> (&str, &str) {
    match name.rfind('.') {
        Some(i) if i > 0 && name.len() - i <= 10 => (&name[..i], &name[i..]),
        _ => (name, ""),
    }
}

/// Text safe to show in a terminal or a log: control characters (which a
/// planted file name can hold, to drive a terminal) become escapes such as
/// `\u{1b}`.
pub fn printable(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

/// A UTC date `YYYY-MM-DD` from ms since the epoch (civil-from-days, H. Hinnant).
pub fn date(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!("{y:04}-{m:02}-{d:02}")
}

/// A UTC time `YYYY-MM-DD HH:MM` from ms since the epoch.
pub fn date_time(ms: i64) -> String {
    let secs = ms.div_euclid(1000).rem_euclid(86_400);
    format!("{} {:02}:{:02}", date(ms), secs / 3600, secs / 60 % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert_eq!(normalise_name(""), Err(NameError::Empty));
        assert_eq!(normalise_name(".."), Err(NameError::Dots));
        assert_eq!(normalise_name("a/b"), Err(NameError::Separator));
        assert_eq!(normalise_name("a\nb"), Err(NameError::Control));
        assert_eq!(
            normalise_name(&"x".repeat(10_000)),
            Err(NameError::TooLong(10_000))
        );
        assert_eq!(normalise_name("ok.pdf").unwrap(), "ok.pdf");
    }

    #[test]
    fn nfd_and_nfc_are_the_same_name() {
        let nfd = "Jose\u{301}.pdf";
        let nfc = "Jos\u{e9}.pdf";
        assert_eq!(normalise_name(nfd).unwrap(), normalise_name(nfc).unwrap());
    }

    #[test]
    fn paths_split() {
        assert_eq!(split_path("/a/b/").unwrap(), vec!["a", "b"]);
        assert!(split_path("").unwrap().is_empty());
        assert_eq!(split_path("a/../b"), Err(NameError::Dots));
    }

    #[test]
    fn conflict_names_keep_the_extension() {
        assert_eq!(
            conflict_name("lab.pdf", "desk", "2026-01-31"),
            "lab (conflict, desk, 2026-01-31).pdf"
        );
        assert_eq!(
            conflict_name("notes", "desk", "d"),
            "notes (conflict, desk, d)"
        );
    }

    #[test]
    fn dates_are_civil() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(1_780_000_000_000), "2026-05-28");
        assert_eq!(date_time(1_780_000_000_000), "2026-05-28 20:26");
    }
}
