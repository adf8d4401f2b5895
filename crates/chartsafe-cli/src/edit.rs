//! `chartsafe open`: a file edited in its default program, as the app's
//! Open does (chartsafe_api::OpenFiles), for people who work from a
//! terminal and for admins checking a file on a server with a desktop.

use std::io::BufRead;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};

use chartsafe_api::{OpenFiles, SavedHook};
use chartsafe_core::{names, Vault};

use crate::exit::{code, Failure};

/// Why the wait ended.
enum Done {
    /// Enter was pressed, or standard input closed.
    Input,
    /// Ctrl-C, or a request to stop (SIGTERM, SIGHUP).
    Signal,
}

/// `chartsafe open PATH`: decrypts PATH into this person's private folder
/// (the one the app uses, docs/THREAT_MODEL.md §6.1), hands it to its
/// default program (the `open` crate: xdg-open, `open`, or the Windows
/// shell; never a command line of ours), saves each change made there back
/// into the vault as a new version, and removes the copy when Enter is
/// pressed, standard input closes, or the command is interrupted.
pub fn open_in_program(vault: Vault, path: &str) -> Result<u8, Failure> {
    let root = chartsafe_api::default_private_root();
    // Copies left by a process that crashed or was killed (an app's or
    // another `chartsafe open`'s): those of running ones are kept.
    chartsafe_api::remove_leftovers(&root);
    let vault = Arc::new(Mutex::new(vault));
    let files = OpenFiles::new(&root);
    let unsaved = Arc::new(AtomicUsize::new(0));
    let hook: SavedHook = {
        let unsaved = unsaved.clone();
        Arc::new(move |path, result| match result {
            Ok(()) => eprintln!("saved back into the vault: {}", names::printable(path)),
            Err(e) => {
                unsaved.fetch_add(1, Ordering::SeqCst);
                eprintln!(
                    "error: could not save {} back into the vault: {}",
                    names::printable(path),
                    names::printable(&e.to_string())
                );
            }
        })
    };
    let local = files
        .open(&vault, path, hook)
        .map_err(|e| Failure::of(&e))?;
    // Ctrl-C must still remove the copy: the handler only ends the wait.
    let (tx, done) = mpsc::channel();
    let on_signal = tx.clone();
    ctrlc::set_handler(move || {
        let _ = on_signal.send(Done::Signal);
    })
    .map_err(|e| {
        files.close_all();
        Failure::new(
            code::OTHER,
            format!("could not watch for Ctrl-C: {e}"),
            None,
        )
    })?;
    if let Err(e) = open::that_detached(&local) {
        files.close_all();
        return Err(Failure::new(
            code::OTHER,
            format!(
                "no program could open {}: {e}",
                names::printable(path.rsplit('/').next().unwrap_or(path))
            ),
            Some("`chartsafe get PATH -o FILE` writes a copy you open yourself"),
        ));
    }
    eprintln!(
        "opened {} in its default program; what you save there is saved back into the vault.\n\
         Save and close it, then press Enter here: the decrypted copy is removed.",
        names::printable(path)
    );
    std::thread::Builder::new()
        .name("wait for Enter".into())
        .spawn(move || {
            let mut line = String::new();
            let _ = std::io::stdin().lock().read_line(&mut line);
            let _ = tx.send(Done::Input);
        })
        .map_err(|e| {
            files.close_all();
            Failure::new(code::OTHER, format!("could not wait for Enter: {e}"), None)
        })?;
    let why = done.recv().unwrap_or(Done::Input);
    // Saves back a change made since the last save was seen, then removes
    // the copy and its folder.
    let failed = files.close_all() + unsaved.load(Ordering::SeqCst);
    if matches!(why, Done::Signal) {
        eprintln!("interrupted: the decrypted copy is removed");
    }
    if failed > 0 {
        return Err(Failure::new(
            code::STORAGE,
            format!(
                "{} to {} could not be saved back into the vault",
                crate::output::count(failed, "change", "changes"),
                names::printable(path)
            ),
            Some("the errors above say why; the decrypted copy is removed"),
        ));
    }
    eprintln!(
        "closed {}: the decrypted copy is removed",
        names::printable(path)
    );
    Ok(if matches!(why, Done::Signal) { 130 } else { 0 })
}
