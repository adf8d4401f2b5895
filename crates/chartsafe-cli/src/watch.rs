//! `chartsafe watch DIR --to PATH`: the scanner folder on a scanning PC
//! (chartsafe_api::Intake, docs/FORMAT.md §16).

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use chartsafe_api::{Intake, Taken};
use chartsafe_core::names;
use notify::Watcher;

use crate::exit::{code, Failure};
use crate::{open, vault_dir, Cli};

/// Watches `dir` until Ctrl-C (or, with `once`, until nothing in it is
/// complete or changing any more). Exit 3 if a file was left.
pub fn run(cli: &Cli, dir: &Path, to: &str, settle: Duration, once: bool) -> Result<u8, Failure> {
    let mut vault = open(cli)?;
    let mut intake = Intake::new(dir, to, &vault_dir(cli)?, settle)?;
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst)).map_err(|e| {
            Failure::new(code::OTHER, format!("cannot watch for Ctrl-C: {e}"), None)
        })?;
    }
    // Events wake the loop early; the listing every half second is what
    // counts (network shares send no events).
    let (tx, rx) = mpsc::channel();
    let mut watcher = notify::recommended_watcher(move |_| {
        let _ = tx.send(());
    })
    .ok();
    if let Some(w) = watcher.as_mut() {
        let _ = w.watch(intake.dir(), notify::RecursiveMode::NonRecursive);
    }
    if !once {
        eprintln!(
            "Watching {} for files to encrypt into \"{}\"; Ctrl-C stops.",
            intake.dir().display(),
            names::printable(to)
        );
    }
    let started = Instant::now();
    let mut left = 0u32;
    let mut quiet_since = Instant::now();
    while !stop.load(Ordering::SeqCst) {
        let ready = intake.ready(Instant::now())?;
        for taken in intake.take_all(&mut vault, &ready) {
            match taken {
                Taken::Stored { file, path } => eprintln!(
                    "{}: encrypted into \"{}\", read back, removed from the folder",
                    names::printable(&file.display().to_string()),
                    names::printable(&path)
                ),
                Taken::Left { file, why } => {
                    left += 1;
                    eprintln!(
                        "warning: {}: left where it is: {}",
                        names::printable(&file.display().to_string()),
                        names::printable(&why)
                    );
                }
            }
        }
        if once {
            // Done when nothing was ready for longer than the settle time
            // (every file there has either been taken, left, or skipped).
            if !ready.is_empty() {
                quiet_since = Instant::now();
            } else if quiet_since.elapsed() > settle + Duration::from_millis(600)
                || started.elapsed() > Duration::from_secs(3600)
            {
                break;
            }
        }
        let _ = rx.recv_timeout(Duration::from_millis(500));
        while rx.try_recv().is_ok() {}
    }
    Ok(if left > 0 { code::PROBLEMS } else { 0 })
}
