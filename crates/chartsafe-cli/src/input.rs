//! Reading secrets from files, prompts and standard input.

use std::io::{IsTerminal, Read};
use std::path::Path;

use chartsafe_core::AgeIdentity;
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use crate::exit::{code, Failure};

/// A passphrase from `--passphrase-file` (first line) or a hidden prompt.
pub fn passphrase(
    file: Option<&Path>,
    prompt: &str,
    confirm: bool,
) -> Result<SecretString, Failure> {
    if let Some(file) = file {
        let text = Zeroizing::new(std::fs::read_to_string(file).map_err(|e| {
            Failure::new(
                code::OTHER,
                format!("could not read {}: {e}", file.display()),
                None,
            )
        })?);
        let line = text.lines().next().unwrap_or("").to_owned();
        return Ok(SecretString::from(line));
    }
    if !std::io::stdin().is_terminal() {
        return Err(Failure::new(
            code::AUTH,
            "no passphrase: standard input is not a terminal",
            Some("pass --passphrase-file FILE"),
        ));
    }
    let first = SecretString::from(
        rpassword::prompt_password(prompt)
            .map_err(|e| Failure::new(code::OTHER, e.to_string(), None))?,
    );
    if confirm {
        let again = SecretString::from(
            rpassword::prompt_password("Again: ")
                .map_err(|e| Failure::new(code::OTHER, e.to_string(), None))?,
        );
        if again.expose_secret() != first.expose_secret() {
            return Err(Failure::new(code::AUTH, "the two passphrases differ", None));
        }
    }
    Ok(first)
}

/// The recovery phrase from standard input (all of it) or a hidden prompt.
pub fn phrase() -> Result<SecretString, Failure> {
    secret("Recovery phrase (24 words): ")
}

/// An invitation from standard input (all of it) or a hidden prompt.
pub fn invitation() -> Result<SecretString, Failure> {
    secret("Invitation (from your admin): ")
}

fn secret(prompt: &str) -> Result<SecretString, Failure> {
    if std::io::stdin().is_terminal() {
        let p = rpassword::prompt_password(prompt)
            .map_err(|e| Failure::new(code::OTHER, e.to_string(), None))?;
        return Ok(SecretString::from(p));
    }
    let mut text = Zeroizing::new(String::new());
    std::io::stdin().read_to_string(&mut text).map_err(|e| {
        Failure::new(
            code::OTHER,
            format!("could not read standard input: {e}"),
            None,
        )
    })?;
    Ok(SecretString::from(text.trim().to_owned()))
}

/// Every `AGE-SECRET-KEY-1…` line of an age identity file.
pub fn identity_file(file: &Path) -> Result<Vec<AgeIdentity>, Failure> {
    let text = Zeroizing::new(std::fs::read_to_string(file).map_err(|e| {
        Failure::new(
            code::OTHER,
            format!("could not read {}: {e}", file.display()),
            None,
        )
    })?);
    let ids: Vec<AgeIdentity> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(AgeIdentity::parse)
        .collect();
    if ids.is_empty() {
        return Err(Failure::new(
            code::AUTH,
            format!("{} holds no AGE-SECRET-KEY-1 identity", file.display()),
            None,
        ));
    }
    Ok(ids)
}

/// The vault's root key named in an identity file written by `chartsafe
/// recovery identity` (a `# root key: cssign1…` comment, which age ignores).
pub fn identity_file_root(file: &Path) -> Option<String> {
    let text = std::fs::read_to_string(file).ok()?;
    text.lines().find_map(|l| {
        l.trim()
            .strip_prefix(ROOT_PREFIX)
            .map(|k| k.trim().to_owned())
    })
}

/// How `chartsafe recovery identity` names the root key in its output.
pub const ROOT_PREFIX: &str = "# root key: ";
