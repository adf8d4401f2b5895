//! Formatting for people and scripts, and the progress bar.

use std::io;
use std::sync::OnceLock;

use chartsafe_api::TimeStyle;
use chartsafe_core::{names, EntryInfo, Kind, Problem, Progress, SyncState};
use indicatif::{ProgressBar, ProgressStyle};

use crate::exit::{code, Failure};

/// A failed write to standard output (e.g. a closed pipe).
pub fn broken(e: io::Error) -> Failure {
    Failure::new(
        code::OTHER,
        format!("could not write to standard output: {e}"),
        None,
    )
}

static TIMES: OnceLock<TimeStyle> = OnceLock::new();

/// Chooses how times are printed, once, before anything is printed: this
/// computer's zone and locale, or UTC (`--utc`).
pub fn set_utc(utc: bool) {
    let _ = TIMES.set(if utc {
        TimeStyle::utc()
    } else {
        TimeStyle::local()
    });
}

/// How times are printed (see [`set_utc`]).
pub fn times() -> &'static TimeStyle {
    TIMES.get_or_init(TimeStyle::local)
}

/// "1 file", "3 files".
pub fn count(n: impl TryInto<u64>, one: &str, many: &str) -> String {
    chartsafe_api::count(n.try_into().unwrap_or(u64::MAX), one, many)
}

/// Cuts a string to `n` characters.
pub fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(n - 1).collect();
        out.push('…');
        out
    }
}

fn status(e: &EntryInfo) -> &'static str {
    match (e.sync, e.conflict) {
        (SyncState::WaitingForSync, _) => "waiting for sync",
        (SyncState::Missing, _) => "MISSING",
        (_, true) => "conflict",
        _ => "",
    }
}

/// One line of `chartsafe ls`.
pub fn entry_line(e: &EntryInfo) -> String {
    let (size, path) = match e.kind {
        Kind::Dir => ("-".to_owned(), format!("{}/", e.path)),
        Kind::File => (e.size.to_string(), e.path.clone()),
    };
    // Names may hold bidirectional or invisible characters that make one
    // name look like another: shown escaped (docs/THREAT_MODEL.md §4.5).
    format!(
        "{:>12}  {}  {:<16}  {:<16}  {}",
        size,
        times().date_time(e.changed),
        clip(&names::printable(&e.changed_by), 16),
        status(e),
        names::printable(&path)
    )
}

/// One JSON line of `chartsafe ls --json`.
pub fn entry_json(e: &EntryInfo) -> String {
    serde_json::json!({
        "path": e.path,
        "kind": if e.kind == Kind::Dir { "dir" } else { "file" },
        "size": e.size,
        "modified": e.modified,
        "changed": e.changed,
        "changed_by": e.changed_by,
        "sync": match e.sync {
            SyncState::Available => "available",
            SyncState::WaitingForSync => "waiting",
            SyncState::Missing => "missing",
        },
        "conflict": e.conflict,
        "id": e.id,
    })
    .to_string()
}

/// Prints problems as warnings; returns the exit code.
pub fn problems(problems: &[Problem]) -> u8 {
    for p in problems {
        eprintln!("warning: {}", names::printable(&p.to_string()));
    }
    if problems.is_empty() {
        0
    } else {
        code::PROBLEMS
    }
}

/// A progress bar on standard error (hidden when it is not a terminal).
pub struct Bar(ProgressBar);

impl Bar {
    pub fn new() -> Self {
        let bar = ProgressBar::hidden();
        Self(bar)
    }
}

impl Progress for Bar {
    fn begin(&self, files: u64, bytes: u64) {
        // Only large work gets a bar.
        if files < 50 && bytes < (64 << 20) {
            return;
        }
        self.0
            .set_draw_target(indicatif::ProgressDrawTarget::stderr());
        self.0.set_length(bytes);
        self.0.set_style(
            ProgressStyle::with_template(
                "{bar:40} {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
            )
            .expect("valid template"),
        );
    }
    fn advance(&self, bytes: u64) {
        self.0.inc(bytes);
    }
    fn end(&self) {
        self.0.finish_and_clear();
    }
}
