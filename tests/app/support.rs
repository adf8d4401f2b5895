//! Helpers shared by the app tests: the command line beside the window, a
//! second computer by rsync, and files on disk.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::harness::App;

pub(crate) const PASS: &str = "correct horse battery staple";

pub(crate) fn service(tag: &str) -> String {
    format!("chartsafe-app-test-{}-{tag}", std::process::id())
}

/// Runs the `chartsafe` command as the same computer as the app.
pub(crate) fn cli(
    env: &[(String, String)],
    pass_file: &Path,
    args: &[&str],
) -> std::process::Output {
    let mut c = Command::new(crate::harness::cli_bin());
    for (k, v) in env {
        c.env(k, v);
    }
    c.arg("--passphrase-file").arg(pass_file).args(args);
    c.output().expect("run chartsafe")
}

/// Runs the `chartsafe` command and checks that it succeeded.
pub(crate) fn cli_ok(
    env: &[(String, String)],
    pass_file: &Path,
    args: &[&str],
) -> std::process::Output {
    let out = cli(env, pass_file, args);
    assert!(
        out.status.success(),
        "chartsafe {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Makes a vault at `vault` with the command line, as the computer `env`
/// describes, holding one file `name` (with `text`) in folder `to`;
/// returns the recovery phrase.
pub(crate) fn vault_with_file(
    env: &[(String, String)],
    pass: &Path,
    vault: &Path,
    (name, text, to): (&str, &str, &str),
) -> String {
    let v = vault.to_str().unwrap();
    let out = cli_ok(env, pass, &["init", v]);
    let doc = pass.with_file_name(name);
    std::fs::write(&doc, text).unwrap();
    cli_ok(
        env,
        pass,
        &["--vault", v, "add", doc.to_str().unwrap(), "--to", to],
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Runs the `chartsafe` command with `stdin`.
pub(crate) fn cli_stdin(
    env: &[(String, String)],
    pass_file: &Path,
    args: &[&str],
    stdin: &str,
) -> std::process::Output {
    use std::io::Write;
    let mut c = Command::new(crate::harness::cli_bin());
    for (k, v) in env {
        c.env(k, v);
    }
    c.arg("--passphrase-file")
        .arg(pass_file)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = c.spawn().expect("run chartsafe");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

pub(crate) fn rsync(from: &Path, to: &Path) {
    let ok = Command::new("rsync")
        .arg("-a")
        .arg(format!("{}/", from.display()))
        .arg(format!("{}/", to.display()))
        .status()
        .expect("rsync")
        .success();
    assert!(ok, "rsync");
}

/// Waits (up to 20 s) for the stand-in program to note the file it was
/// given in `marker`, and returns that file.
pub(crate) async fn opened_by(marker: &Path) -> PathBuf {
    let start = std::time::Instant::now();
    while !marker.exists() {
        assert!(
            start.elapsed().as_secs() < 20,
            "the stand-in program was started"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    PathBuf::from(std::fs::read_to_string(marker).unwrap().trim())
}

/// Runs Check vault from the toolbar and waits for "No problems".
pub(crate) async fn check_finds_nothing(app: &App) {
    app.click("#check-button").await;
    app.wait_js(
        "const r = document.getElementById('check-result');
         return !!r && /No problems/.test(r.innerText)",
        30,
    )
    .await;
}

/// Files under `dir`, recursively.
pub(crate) fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// A stand-in "default application": appends a line to the file it opens,
/// as a person editing and saving would, and leaves a note of what it opened.
pub(crate) fn editor_script(dir: &Path, edit: bool) -> PathBuf {
    let script = dir.join(if edit { "editor.sh" } else { "viewer.sh" });
    let body = if edit {
        "#!/bin/sh\necho \"$1\" > \"$(dirname \"$0\")/opened-by-editor\"\nsleep 1\nprintf 'edited in the app\\n' >> \"$1\"\n"
    } else {
        "#!/bin/sh\necho \"$1\" > \"$(dirname \"$0\")/opened-by-viewer\"\n"
    };
    std::fs::write(&script, body).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    script
}
