//! Entry names and vault paths (docs/FORMAT.md §5.5).
//!
//! Names are stored in Unicode NFC, so a name typed on macOS (NFD) and the same
//! name typed on Windows (NFC) are the same entry. Names are limited to what
//! every desktop file system can hold in length and separators; characters
//! that only Windows forbids (`:*?"<>|`) are allowed and must be mapped when
//! exporting there.

use unicode_normalization::UnicodeNormalization;

/// Longest name, in UTF-8 bytes (the limit of ext4, NTFS and APFS).
pub(crate) const MAX_NAME_BYTES: usize = 255;

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
    /// Longer than 255 bytes of UTF-8.
    #[error("the name is {0} bytes long; at most 255 are allowed")]
    TooLong(usize),
    /// Not valid Unicode (a source file name in another encoding).
    #[error("the name is not valid Unicode")]
    NotUnicode,
}

/// Checks one name and returns its NFC form.
pub(crate) fn normalise_name(name: &str) -> Result<String, NameError> {
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
pub(crate) fn join(parent: &str, name: &str) -> String {
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
pub(crate) fn conflict_name(name: &str, device: &str, date: &str) -> String {
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
pub(crate) fn clean_device_name(name: &str) -> String {
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

/// Whether `c` changes how the text around it is shown without being
/// visible itself: Unicode bidirectional controls (U+202E makes
/// `report\u{202e}fdp.exe` read as `reportexe.pdf`), zero-width and other
/// invisible format characters (so two different names look the same), and
/// tag characters (docs/THREAT_MODEL.md §4.5).
pub(crate) fn is_deceptive(c: char) -> bool {
    matches!(c,
        '\u{00ad}'                      // soft hyphen
        | '\u{034f}'                    // combining grapheme joiner
        | '\u{061c}'                    // Arabic letter mark
        | '\u{115f}' | '\u{1160}'        // Hangul fillers
        | '\u{17b4}' | '\u{17b5}'
        | '\u{180b}'..='\u{180f}'        // Mongolian variation selectors, vowel separator
        | '\u{200b}'..='\u{200f}'        // zero-width space, joiners, LRM, RLM
        | '\u{202a}'..='\u{202e}'        // embeddings and overrides
        | '\u{2060}'..='\u{206f}'        // word joiner, invisible operators, isolates
        | '\u{3164}'                    // Hangul filler
        | '\u{fe00}'..='\u{fe0f}'        // variation selectors
        | '\u{feff}'                    // zero-width no-break space
        | '\u{ffa0}'                    // halfwidth Hangul filler
        | '\u{fff9}'..='\u{fffb}'        // interlinear annotation
        | '\u{1d173}'..='\u{1d17a}'      // musical formatting
        | '\u{e0000}'..='\u{e0fff}'      // tags and variation selectors supplement
    )
}

/// Text safe to show in a terminal, a log or a window: control characters
/// (which a planted file name can hold, to drive a terminal) and the
/// invisible characters of `is_deceptive` (which make a name masquerade as
/// another) become escapes such as `\u{1b}` and `\u{202e}`. Names chosen by
/// people (members, devices, join requests) and names read from the vault
/// folder go through it before they are shown.
pub fn printable(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            if c.is_control() || is_deceptive(c) {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

/// Whether `text` holds a character [`printable`] escapes.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn needs_escaping(text: &str) -> bool {
    text.chars().any(|c| c.is_control() || is_deceptive(c))
}

/// Names Windows gives to devices: a file so named (with any extension,
/// in any case) opens the device instead (`CON.txt` is the console).
const WINDOWS_DEVICES: [&str; 6] = ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"];

/// The name under which a vault entry named `name` is written to this
/// computer's disk (export, open): the same name where every desktop system
/// takes it as an ordinary file name, else a safe look-alike. A pure
/// function, the same on every OS, so what a file becomes does not depend
/// on where it is exported (docs/THREAT_MODEL.md §4.5):
///
/// - `<>:"|?*`, `/`, `\`, control characters and the invisible characters
///   of `is_deceptive` become `_` (`a:stream` would write an NTFS
///   alternate stream, `C:x` a drive-relative path; `:` is `/` to macOS's
///   Finder);
/// - trailing dots and spaces, which Windows strips (so `x.` would write
///   `x`), become `_`;
/// - a Windows device name (`CON`, `PRN`, `AUX`, `NUL`, `COM0`–`COM9`,
///   `LPT0`–`LPT9`, their superscript-digit forms, `CONIN$`, `CONOUT$`),
///   alone or before a dot, gets a `_` in front;
/// - an empty result, `.` or `..` becomes `_`.
///
/// The result is at most 255 bytes, like every vault name (§5.5): a device
/// name at that length loses its last character to the `_`.
pub fn local_file_name(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_control() || is_deceptive(c) || "<>:\"|?*/\\".contains(c) {
                '_'
            } else {
                c
            }
        })
        .collect();
    // Windows reads "CON." and "CON .txt" as the device, as it does "CON".
    let stem = out
        .trim_end_matches(['.', ' '])
        .split('.')
        .next()
        .unwrap_or("")
        .trim_end()
        .to_uppercase();
    let kept = out.trim_end_matches(['.', ' ']).len();
    if kept < out.len() {
        let tail = out.len() - kept;
        out.truncate(kept);
        out.extend(std::iter::repeat_n('_', tail));
    }
    let numbered = |prefix: &str| {
        stem.strip_prefix(prefix).is_some_and(|n| {
            let mut d = n.chars();
            matches!((d.next(), d.next()), (Some(c), None) if c.is_ascii_digit() || "\u{b9}\u{b2}\u{b3}".contains(c))
        })
    };
    if WINDOWS_DEVICES.contains(&stem.as_str()) || numbered("COM") || numbered("LPT") {
        out.insert(0, '_');
        // Still at most 255 bytes (FORMAT.md §5.5).
        while out.len() > MAX_NAME_BYTES {
            out.pop();
        }
    }
    if out.is_empty() || out == "." || out == ".." {
        return "_".to_owned();
    }
    out
}

/// A vault path (`a/b/c`) as a relative path on this computer's disk: each
/// name through [`local_file_name`], so the result has only normal
/// components and stays inside the folder it is joined to.
pub fn local_relative_path(path: &str) -> std::path::PathBuf {
    path.split('/')
        .filter(|n| !n.is_empty())
        .map(local_file_name)
        .collect()
}

/// A UTC date `YYYY-MM-DD` from ms since the epoch (civil-from-days, H. Hinnant).
pub(crate) fn date(ms: i64) -> String {
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
    fn deceptive_characters_are_escaped() {
        // Attack 6 of issue 12: a right-to-left override makes
        // "invoice\u{202e}fdp.exe" read as "invoiceexe.pdf".
        assert_eq!(
            printable("invoice\u{202e}fdp.exe"),
            "invoice\\u{202e}fdp.exe"
        );
        assert_eq!(printable("Dr\u{200b}Who"), "Dr\\u{200b}Who");
        assert_eq!(printable("a\u{2067}b\u{2069}"), "a\\u{2067}b\\u{2069}");
        assert_eq!(printable("bell\u{7}"), "bell\\u{7}");
        assert_eq!(printable("new\nline"), "new\\nline");
        assert_eq!(printable("\u{feff}x"), "\\u{feff}x");
        // Ordinary text of every script is left alone.
        for ok in [
            "Jos\u{e9}.pdf",
            "\u{5e9}\u{5dc}\u{5d5}\u{5dd}.txt",
            "\u{4e2d}\u{6587}",
            "Zo\u{eb} M\u{fc}ller",
        ] {
            assert_eq!(printable(ok), ok);
            assert!(!needs_escaping(ok));
        }
    }

    #[test]
    fn names_special_on_windows_or_macos_are_made_safe() {
        let cases = [
            ("report.pdf", "report.pdf"),
            ("CON", "_CON"),
            ("con.txt", "_con.txt"),
            ("Nul.tar.gz", "_Nul.tar.gz"),
            ("COM1.log", "_COM1.log"),
            ("lpt9", "_lpt9"),
            ("COM\u{b9}", "_COM\u{b9}"),
            ("CONOUT$", "_CONOUT$"),
            ("COM10.txt", "COM10.txt"),
            ("CONSOLE.txt", "CONSOLE.txt"),
            ("a:stream", "a_stream"),
            ("C:x", "C_x"),
            ("what?.txt", "what_.txt"),
            ("<script>", "_script_"),
            ("trailing.", "trailing_"),
            ("trailing . .", "trailing____"),
            ("CON.", "_CON_"),
            ("..", "__"),
            (".", "_"),
            ("a\\b", "a_b"),
            ("invoice\u{202e}fdp.exe", "invoice_fdp.exe"),
            ("\u{4e2d}\u{6587}.txt", "\u{4e2d}\u{6587}.txt"),
            (".hidden", ".hidden"),
        ];
        for (name, want) in cases {
            assert_eq!(local_file_name(name), want, "{name:?}");
        }
    }

    proptest::proptest! {
        /// Whatever a name holds, the local name is one plain component:
        /// joined to a folder, it stays inside it, on every OS.
        #[test]
        fn local_names_stay_inside(name in "\\PC{1,40}") {
            let local = local_file_name(&name);
            proptest::prop_assert!(!local.is_empty());
            proptest::prop_assert!(local != "." && local != "..");
            proptest::prop_assert!(!local.contains(['/', '\\', ':']));
            proptest::prop_assert!(!local.ends_with(['.', ' ']));
            let joined = std::path::Path::new("base").join(&local);
            proptest::prop_assert_eq!(joined.parent(), Some(std::path::Path::new("base")));
            let rel = local_relative_path(&format!("{name}/x/{name}"));
            proptest::prop_assert!(rel
                .components()
                .all(|c| matches!(c, std::path::Component::Normal(_))));
        }
    }

    #[test]
    fn dates_are_civil() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(1_780_000_000_000), "2026-05-28");
        assert_eq!(date_time(1_780_000_000_000), "2026-05-28 20:26");
    }
}
