//! Setting a computer up for a vault: creating one, joining with an
//! invitation, recovering with the phrase, and the phrase's identity file.

use std::io::Write;
use std::path::Path;

use chartsafe_core::{AgeIdentity, RecoverAs, RecoveryPhrase};
use chartsafe_keychain::Keychain;
use secrecy::ExposeSecret;

use crate::exit::{code, Failure};
use crate::{input, options, output, team, vault_dir, warn_planted, Cli};

/// `chartsafe init DIR`: the phrase goes to standard output, once.
pub fn init(cli: &Cli, dir: &Path, out: &mut impl Write) -> Result<u8, Failure> {
    let passphrase = input::passphrase(cli.passphrase_file.as_deref(), "New passphrase: ", true)?;
    let store = Keychain::from_env();
    // The words are not asked back here: scripts read them from stdout.
    let chartsafe_api::NewVault { vault, phrase, .. } =
        chartsafe_api::create(dir, &store, &passphrase, options(cli))?;
    eprintln!("Created vault {} in {}.", vault.id(), dir.display());
    eprintln!("Write down this recovery phrase and keep it offline. It is shown only once,");
    eprintln!("and it alone recovers every file if this computer is lost:");
    writeln!(out, "{}", phrase.words().expose_secret()).map_err(output::broken)?;
    Ok(0)
}

/// `chartsafe --name NAME join [INVITATION]`.
pub fn join(cli: &Cli, invite: Option<&str>, out: &mut impl Write) -> Result<u8, Failure> {
    let dir = vault_dir(cli)?;
    let Some(name) = cli.name.clone() else {
        return Err(Failure::new(
            code::USAGE,
            "give your name with --name \"Your Name\"",
            None,
        ));
    };
    let invite = match invite {
        Some(i) => secrecy::SecretString::from(i.to_owned()),
        None => input::invitation()?,
    };
    let passphrase = input::passphrase(
        cli.passphrase_file.as_deref(),
        "New passphrase for this device: ",
        true,
    )?;
    team::join(
        &dir,
        invite.expose_secret(),
        &name,
        &passphrase,
        options(cli),
        out,
    )
}

/// `chartsafe recover [--as MEMBER | --new-admin]`.
pub fn recover(cli: &Cli, as_member: Option<&str>, new_admin: bool) -> Result<u8, Failure> {
    let dir = vault_dir(cli)?;
    let phrase = RecoveryPhrase::parse(input::phrase()?.expose_secret())?;
    let passphrase = input::passphrase(
        cli.passphrase_file.as_deref(),
        "New passphrase for this device: ",
        true,
    )?;
    let recover_as = match (as_member, new_admin) {
        (Some(m), _) => RecoverAs::Member(m.to_owned()),
        (None, true) => RecoverAs::NewAdmin,
        (None, false) => RecoverAs::Founder,
    };
    let store = Keychain::from_env();
    let chartsafe_api::Recovered { vault, planted } =
        chartsafe_api::recover(&dir, &phrase, recover_as, &store, &passphrase, options(cli))?;
    warn_planted(&planted);
    eprintln!(
        "This device (\"{}\") is enrolled in vault {}; unlock it with the new passphrase.",
        vault.device_name(),
        vault.id()
    );
    Ok(0)
}

/// `chartsafe recovery identity`: an identity file for stock `age -d -i`.
pub fn recovery_identity(out: &mut impl Write) -> Result<u8, Failure> {
    let phrase = RecoveryPhrase::parse(input::phrase()?.expose_secret())?;
    let identity: AgeIdentity = phrase.identity();
    let lines = [
        format!(
            "# ChartSafe recovery identity; public key: {}",
            identity.recipient()
        ),
        format!(
            "{}{}",
            input::ROOT_PREFIX,
            phrase.root_signing_key().public()
        ),
    ];
    for line in lines {
        writeln!(out, "{line}").map_err(output::broken)?;
    }
    writeln!(out, "{}", identity.to_secret_text().expose_secret()).map_err(output::broken)?;
    Ok(0)
}
