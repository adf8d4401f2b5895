//! How this person writes dates and clock times: the date order and clock
//! of their locale, for the command line (the app's window asks its web
//! view, which knows the locale itself).
//!
//! On Linux this is the C library's own locale data (`LC_ALL`, `LC_TIME`,
//! `LANG`, as every program there reads them), asked through a private
//! locale object, so nothing global changes under other threads. Elsewhere,
//! and under the `C`/`POSIX` locale, which states no preference, there is
//! none, and callers write ISO 8601 dates.

/// The locale's date and clock, as `strftime` patterns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimePatterns {
    /// The date: `%m/%d/%Y` in the United States, `%d.%m.%Y` in Germany.
    pub date: String,
    /// Whether the clock runs to 12 with AM and PM rather than to 24.
    pub twelve_hour: bool,
}

/// The locale named by the environment, the way POSIX reads it: `LC_ALL`,
/// then `LC_TIME`, then `LANG`, the first one set and not empty.
fn locale_name(var: impl Fn(&str) -> Option<String>) -> Option<String> {
    ["LC_ALL", "LC_TIME", "LANG"]
        .into_iter()
        .filter_map(var)
        .find(|v| !v.is_empty())
}

/// Whether a locale name states no preference: `C`, `POSIX`, `C.UTF-8`.
fn is_neutral(name: &str) -> bool {
    let base = name.split(['.', '@']).next().unwrap_or(name);
    base == "C" || base == "POSIX"
}

/// Turns the locale's `D_FMT` and `T_FMT` into [`TimePatterns`]; `None`
/// when the date pattern is empty or holds a directive a reader could not
/// expand safely (only the common ones are kept).
fn patterns(date: &str, time: &str) -> Option<TimePatterns> {
    let allowed = |c: char| "dmyYebBaAjF%".contains(c);
    let mut chars = date.chars();
    let mut any = false;
    while let Some(c) = chars.next() {
        if c == '%' {
            let d = chars.next()?;
            // `%-d`: a padding flag before the letter.
            let d = if "-_0".contains(d) { chars.next()? } else { d };
            if !allowed(d) {
                return None;
            }
            any = true;
        }
    }
    if !any {
        return None;
    }
    Some(TimePatterns {
        date: date.to_owned(),
        twelve_hour: time.contains("%p") || time.contains("%r") || time.contains("%I"),
    })
}

/// The date and clock of the locale this process runs under, or `None`
/// when it states no preference or cannot be read.
pub fn time_patterns() -> Option<TimePatterns> {
    let name = locale_name(|v| std::env::var(v).ok())?;
    if is_neutral(&name) {
        return None;
    }
    let (date, time) = sys::formats()?;
    patterns(&date, &time)
}

#[cfg(target_os = "linux")]
mod sys {
    use std::ffi::CStr;

    /// The `D_FMT` and `T_FMT` of the environment's `LC_TIME` locale.
    pub(super) fn formats() -> Option<(String, String)> {
        // SAFETY: newlocale copies the empty name and returns a new locale
        // object (or null, checked) owned here and freed below.
        #[allow(unsafe_code)]
        let loc =
            unsafe { libc::newlocale(libc::LC_TIME_MASK, c"".as_ptr(), std::ptr::null_mut()) };
        if loc.is_null() {
            return None;
        }
        let read = |item| {
            // SAFETY: `loc` is a live locale object; nl_langinfo_l returns a
            // NUL-terminated string owned by it (never null), copied out
            // here before the object is freed.
            #[allow(unsafe_code)]
            let text = unsafe { CStr::from_ptr(libc::nl_langinfo_l(item, loc)) };
            text.to_string_lossy().into_owned()
        };
        let out = (read(libc::D_FMT), read(libc::T_FMT));
        // SAFETY: `loc` came from newlocale and is not used after this.
        #[allow(unsafe_code)]
        unsafe {
            libc::freelocale(loc)
        };
        Some(out)
    }
}

#[cfg(not(target_os = "linux"))]
mod sys {
    /// Not read on this system: ISO 8601 dates.
    pub(super) fn formats() -> Option<(String, String)> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_is_read_in_posix_order() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        assert_eq!(
            locale_name(env(&[("LANG", "de_DE.UTF-8"), ("LC_TIME", "en_US.UTF-8")])),
            Some("en_US.UTF-8".into())
        );
        assert_eq!(
            locale_name(env(&[("LC_ALL", ""), ("LANG", "fr_FR.UTF-8")])),
            Some("fr_FR.UTF-8".into())
        );
        assert_eq!(locale_name(env(&[])), None);
        assert!(is_neutral("C.UTF-8") && is_neutral("POSIX") && !is_neutral("en_US.UTF-8"));
    }

    #[test]
    fn glibc_patterns_are_kept_and_odd_ones_refused() {
        let us = patterns("%m/%d/%Y", "%r").unwrap();
        assert_eq!(us.date, "%m/%d/%Y");
        assert!(us.twelve_hour);
        let de = patterns("%d.%m.%Y", "%T").unwrap();
        assert!(!de.twelve_hour);
        assert!(patterns("%-d/%m/%y", "%H:%M").is_some());
        assert_eq!(patterns("", "%T"), None);
        assert_eq!(patterns("%d %Q", "%T"), None, "unknown directive");
        assert_eq!(patterns("%d/%m/%", "%T"), None, "dangling %");
    }
}
