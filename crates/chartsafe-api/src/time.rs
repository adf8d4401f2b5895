//! Times as people read them: in this computer's time zone and in the date
//! order of their locale, or in UTC when asked. The vault stores
//! milliseconds since the epoch (UTC) everywhere (docs/FORMAT.md §10.1);
//! only the shells' text changes. Copies for other programs (CSV) use ISO
//! 8601 with the offset, so that nothing is ambiguous; JSON stays in UTC.

use jiff::tz::TimeZone;
use jiff::Timestamp;

/// How the command line writes times: built once, at start.
#[derive(Debug, Clone)]
pub struct TimeStyle {
    tz: TimeZone,
    /// `strftime` pattern of a date.
    date: String,
    twelve_hour: bool,
    utc: bool,
}

impl TimeStyle {
    /// This computer's time zone (`TZ`, else the system's) and the date
    /// order and clock of the person's locale (ISO 8601 dates and a 24-hour
    /// clock when the locale states none).
    pub fn local() -> Self {
        let patterns = chartsafe_platform::locale::time_patterns();
        Self {
            tz: TimeZone::try_system().unwrap_or(TimeZone::UTC),
            date: patterns
                .as_ref()
                .map_or_else(|| "%Y-%m-%d".to_owned(), |p| p.date.clone()),
            twelve_hour: patterns.is_some_and(|p| p.twelve_hour),
            utc: false,
        }
    }

    /// UTC, ISO 8601 dates, a 24-hour clock, and "UTC" after each time.
    pub fn utc() -> Self {
        Self {
            tz: TimeZone::UTC,
            date: "%Y-%m-%d".to_owned(),
            twelve_hour: false,
            utc: true,
        }
    }

    /// A style with an explicit zone and date pattern (tests, and callers
    /// that know better).
    pub fn with(tz: TimeZone, date: &str, twelve_hour: bool) -> Self {
        Self {
            tz,
            date: date.to_owned(),
            twelve_hour,
            utc: false,
        }
    }

    /// The time zone times are shown in.
    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }

    fn zoned(&self, ms: i64) -> jiff::ZonedDateTime {
        Timestamp::from_millisecond(ms)
            .unwrap_or(Timestamp::UNIX_EPOCH)
            .to_zoned_datetime(self.tz.clone())
    }

    fn clock(&self, seconds: bool) -> &'static str {
        match (self.twelve_hour, seconds) {
            (true, false) => "%-I:%M %p",
            (true, true) => "%-I:%M:%S %p",
            (false, false) => "%H:%M",
            (false, true) => "%H:%M:%S",
        }
    }

    fn suffix(&self) -> &'static str {
        if self.utc {
            " UTC"
        } else {
            ""
        }
    }

    /// A date: `12/07/2026`, `07.12.2026`, `2026-12-07`.
    pub fn date(&self, ms: i64) -> String {
        self.zoned(ms).strftime(&self.date).to_string()
    }

    /// A date and a clock time to the minute: `12/07/2026 6:31 PM`.
    pub fn date_time(&self, ms: i64) -> String {
        self.date_and_clock(ms, false)
    }

    /// As [`TimeStyle::date_time`], to the second.
    pub fn date_time_seconds(&self, ms: i64) -> String {
        self.date_and_clock(ms, true)
    }

    fn date_and_clock(&self, ms: i64, seconds: bool) -> String {
        let z = self.zoned(ms);
        format!(
            "{} {}{}",
            z.strftime(&self.date),
            z.strftime(self.clock(seconds)),
            self.suffix()
        )
    }

    /// ISO 8601 to the second with the offset of this style's zone:
    /// `2026-12-07T18:31:05+01:00` (`Z` in UTC), for copies of the log.
    pub fn iso(&self, ms: i64) -> String {
        let z = self.zoned(ms);
        if self.utc {
            z.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
        } else {
            z.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
        }
    }

    /// Reads a time a person typed: `YYYY-MM-DD`, `YYYY-MM-DD HH:MM[:SS]`
    /// or with `T`, in this style's zone unless it ends in `Z` or an
    /// offset (`+01:00`); or an age before `now`: `7d`, `12h`, `30m`.
    /// Returns ms since the epoch.
    pub fn parse(&self, text: &str, now: i64) -> Option<i64> {
        let t = text.trim();
        if let Some(unit) = t.chars().last().filter(|c| "dhm".contains(*c)) {
            if let Ok(n) = t[..t.len() - 1].parse::<i64>() {
                let ms: i64 = match unit {
                    'd' => 86_400_000,
                    'h' => 3_600_000,
                    _ => 60_000,
                };
                return Some(now - n.checked_mul(ms)?);
            }
        }
        let t = t.replacen(' ', "T", 1);
        if let Ok(ts) = t.parse::<Timestamp>() {
            return Some(ts.as_millisecond());
        }
        let civil: jiff::civil::DateTime = match t.parse() {
            Ok(dt) => dt,
            Err(_) => t
                .parse::<jiff::civil::Date>()
                .ok()?
                .to_datetime(jiff::civil::Time::midnight()),
        };
        civil
            .to_zoned_datetime(self.tz.clone())
            .ok()
            .map(|z| z.timestamp().as_millisecond())
    }
}

/// "1 file", "2 files": a count and a noun in the right form. `one` and
/// `many` are the two English forms ("entry", "entries").
pub fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-07 17:31:05.250 UTC.
    const T: i64 = 1_796_664_665_250;

    fn berlin(date: &str, twelve: bool) -> TimeStyle {
        TimeStyle::with(TimeZone::get("Europe/Berlin").unwrap(), date, twelve)
    }

    #[test]
    fn local_times_follow_the_zone_and_the_locale() {
        let de = berlin("%d.%m.%Y", false);
        assert_eq!(de.date_time(T), "07.12.2026 18:31");
        assert_eq!(de.date_time_seconds(T), "07.12.2026 18:31:05");
        let us = TimeStyle::with(TimeZone::get("America/New_York").unwrap(), "%m/%d/%Y", true);
        assert_eq!(us.date_time(T), "12/07/2026 12:31 PM");
        assert_eq!(us.date(T), "12/07/2026");
        let utc = TimeStyle::utc();
        assert_eq!(utc.date_time(T), "2026-12-07 17:31 UTC");
    }

    #[test]
    fn copies_use_iso_8601_with_the_offset() {
        assert_eq!(
            berlin("%d.%m.%Y", false).iso(T),
            "2026-12-07T18:31:05+01:00"
        );
        // Summer time: the offset of that day, not of today.
        assert_eq!(
            berlin("%d.%m.%Y", false).iso(1_782_000_000_000),
            "2026-06-21T02:00:00+02:00"
        );
        assert_eq!(TimeStyle::utc().iso(T), "2026-12-07T17:31:05Z");
    }

    #[test]
    fn typed_times_are_read_in_the_zone_unless_they_name_one() {
        let de = berlin("%d.%m.%Y", false);
        let midnight_berlin = de.parse("2026-12-07", T).unwrap();
        assert_eq!(
            TimeStyle::utc().date_time(midnight_berlin),
            "2026-12-06 23:00 UTC"
        );
        assert_eq!(de.parse("2026-12-07 18:31:05", T), Some(T - 250));
        assert_eq!(de.parse("2026-12-07T17:31:05Z", T), Some(T - 250));
        assert_eq!(de.parse("2026-12-07T18:31:05+01:00", T), Some(T - 250));
        assert_eq!(de.parse("2h", T), Some(T - 7_200_000));
        assert_eq!(de.parse("2026-13-01", T), None);
        assert_eq!(de.parse("yesterday", T), None);
    }

    #[test]
    fn counts_have_the_right_form() {
        assert_eq!(count(1, "file", "files"), "1 file");
        assert_eq!(count(0, "file", "files"), "0 files");
        assert_eq!(count(22, "entry", "entries"), "22 entries");
    }
}
