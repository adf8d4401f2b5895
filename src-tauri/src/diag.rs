//! The app's diagnostic log, for IT: `<data dir>/logs/chartsafe-app.log`
//! (`~/.local/share/chartsafe/logs` on Linux), kept under 5 MiB by moving
//! it to `.1` at start.
//!
//! It records what happened (commands called, how they ended, locks and
//! their reasons, counts and durations) and never what it happened to:
//! no file or folder names, no contents, no keys, no passphrases, no error
//! messages (which can name files), only error kinds. docs/THREAT_MODEL.md
//! §6.1 lists what it holds; an end-to-end test searches it after a session.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Size at which the log is moved aside at start.
const ROTATE_AT: u64 = 5 << 20;

/// The log file in `data_dir`.
pub fn file(data_dir: &Path) -> PathBuf {
    data_dir.join("logs").join("chartsafe-app.log")
}

/// Starts logging into `data_dir`; without a writable log, the app runs
/// without one.
pub fn init(data_dir: &Path) {
    let path = file(data_dir);
    let Some(dir) = path.parent() else { return };
    if std::fs::create_dir_all(dir).is_err() {
        return;
    }
    if std::fs::metadata(&path).is_ok_and(|m| m.len() > ROTATE_AT) {
        let _ = std::fs::rename(&path, path.with_extension("log.1"));
    }
    let mut options = File::options();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let Ok(f) = options.open(&path) else {
        return;
    };
    // Only this app's own events: libraries underneath (D-Bus, the web
    // view) are not reviewed for what they would write.
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let _ = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_target(false)
                .with_writer(Mutex::new(f)),
        )
        .with(
            tracing_subscriber::filter::Targets::new()
                .with_target("chartsafe_app", tracing::Level::INFO),
        )
        .try_init();
    // Panic messages can hold anything (a path in an `expect`): only where
    // it happened is kept, here and on standard error.
    std::panic::set_hook(Box::new(|info| {
        let at = info.location().map_or_else(
            || "unknown".to_owned(),
            |l| format!("{}:{}", l.file(), l.line()),
        );
        tracing::error!(at, "panic");
        eprintln!("ChartSafe stopped unexpectedly at {at}");
    }));
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        os = std::env::consts::OS,
        "started"
    );
}
