//! `chartsafe`: the command-line face of the ChartSafe vault engine.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod audit;
mod edit;
mod enrol;
mod exit;
mod files;
mod input;
mod output;
mod team;
mod watch;

use std::path::PathBuf;
use std::process::ExitCode;

use chartsafe_core::{names, Options, Role, SecretStore, Vault};
use chartsafe_keychain::Keychain;
use clap::{Parser, Subcommand};

use exit::{code, Failure};

/// Keeps patient files safe in any cloud folder: everything is encrypted with
/// age before it reaches the folder.
#[derive(Parser)]
#[command(name = "chartsafe", version, after_help = exit::EXIT_CODES)]
struct Cli {
    /// The vault folder.
    #[arg(long, global = true, env = "CHARTSAFE_VAULT", value_name = "DIR")]
    vault: Option<PathBuf>,
    /// Read the passphrase from the first line of FILE instead of prompting.
    #[arg(
        long,
        global = true,
        env = "CHARTSAFE_PASSPHRASE_FILE",
        value_name = "FILE"
    )]
    passphrase_file: Option<PathBuf>,
    /// Unlock with the recovery identity (a file written by `chartsafe recovery
    /// identity`) instead of the keychain and passphrase.
    #[arg(long, global = true, value_name = "FILE")]
    identity: Option<PathBuf>,
    /// Folder for this device's local state.
    #[arg(
        long,
        global = true,
        env = "CHARTSAFE_STATE_DIR",
        value_name = "DIR",
        hide_env_values = true
    )]
    state_dir: Option<PathBuf>,
    /// This device's name, shown in conflict names (default: the host name).
    #[arg(
        long,
        global = true,
        env = "CHARTSAFE_DEVICE_NAME",
        value_name = "NAME"
    )]
    device_name: Option<String>,
    /// Your name, written into the team log when you create a vault or use
    /// the recovery phrase (default: "Administrator").
    #[arg(
        long,
        global = true,
        env = "CHARTSAFE_MEMBER_NAME",
        value_name = "NAME"
    )]
    name: Option<String>,
    /// Show times in UTC instead of this computer's time zone and date order.
    #[arg(long, global = true)]
    utc: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum CollectionsCommand {
    /// Make a collection: a new folder at the top of the vault with its own
    /// key, read by admins until members are granted it.
    Add {
        /// The folder's name.
        name: String,
    },
}

#[derive(Subcommand)]
enum Command {
    /// Create a vault in DIR (new or empty) and print its recovery phrase once.
    Init {
        /// The new vault folder, inside the synced folder.
        dir: PathBuf,
    },
    /// List the team: members, their roles and devices, from the signed team
    /// log (entries that do not count are printed as warnings).
    Members {
        /// One JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Make an invitation for a new person (admins): give its text to them in
    /// person or by phone.
    Invite,
    /// Ask to join a vault with an invitation (on the new person's computer):
    /// prints the code to read out to the admin. Needs --name.
    Join {
        /// The invitation text (default: read from standard input).
        #[arg(long)]
        invite: Option<String>,
    },
    /// List the join requests made with this computer's invitations (admins).
    Requests,
    /// Approve a join request after checking its code with the person (admins).
    Approve {
        /// The request id from `chartsafe requests`.
        request: String,
        /// The code the person reads out from their screen.
        #[arg(long)]
        code: String,
        /// The new member's role: admin, staff or viewer.
        #[arg(long, default_value = "staff", conflicts_with = "computer_of")]
        role: Role,
        /// Not a new member: another computer of this existing member (name
        /// or id), who read you the code.
        #[arg(long, value_name = "MEMBER")]
        computer_of: Option<String>,
    },
    /// Remove a member (all their computers) or one computer from the team,
    /// by id or exact name: their later changes are refused everywhere.
    Remove {
        /// A member or device id (from `chartsafe members`) or exact name.
        who: String,
    },
    /// List the collections this computer reads (folders with their own
    /// key and members), or make one (admins).
    Collections {
        #[command(subcommand)]
        command: Option<CollectionsCommand>,
    },
    /// Let a member read a collection (admins); with --write, change it too.
    Grant {
        /// The collection's folder name or id (from `chartsafe collections`).
        collection: String,
        /// The member's name or id (from `chartsafe members`).
        who: String,
        /// They may also change files in it (staff and admins).
        #[arg(long)]
        write: bool,
    },
    /// Take a collection away from a member (admins): its key is replaced
    /// and its files re-encrypted, so they read nothing of it afterwards.
    Revoke {
        /// The collection's folder name or id.
        collection: String,
        /// The member's name or id.
        who: String,
    },
    /// Replace the vault's key and re-encrypt every file to the new one
    /// (done after every `remove`). Stopped or killed, it resumes with
    /// `--resume`.
    Rotate {
        /// Only finish re-encrypting to the current key (no new key).
        #[arg(long, conflicts_with = "status")]
        resume: bool,
        /// Only say whether files may still be under an older key.
        #[arg(long)]
        status: bool,
    },
    /// Add files and folders (recursively, keeping folder names).
    Add {
        /// Files and folders on this computer.
        #[arg(required = true)]
        sources: Vec<PathBuf>,
        /// The vault folder to add into (created if missing).
        #[arg(long, default_value = "")]
        to: String,
    },
    /// List the vault: sizes, dates, sync status.
    Ls {
        /// Only this folder or file.
        #[arg(default_value = "")]
        path: String,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Decrypt a file to OUT, or to standard output.
    Get {
        /// The file in the vault.
        path: String,
        /// Where to write it (default: standard output).
        #[arg(short, long, value_name = "OUT")]
        output: Option<PathBuf>,
        /// Version number from `chartsafe versions` (1 = current).
        #[arg(long)]
        version: Option<usize>,
    },
    /// Open a file in its default program: what you save there is saved back
    /// into the vault as a new version. The decrypted copy lives in a folder
    /// only you can enter and is removed when you press Enter (or Ctrl-C).
    Open {
        /// The file in the vault.
        path: String,
    },
    /// Decrypt files and folders into the folder TO on this computer, never
    /// over a file already there ("name (2)" instead).
    Export {
        /// Files and folders in the vault.
        #[arg(required = true)]
        paths: Vec<String>,
        /// The folder to write them in.
        #[arg(long, value_name = "DIR")]
        to: PathBuf,
    },
    /// Send one file to someone without ChartSafe: one age file that opens
    /// with a new passphrase (printed once, on standard output) or with
    /// their own age key; recorded in the audit log with NOTE.
    Share {
        /// The file in the vault.
        path: String,
        /// For whom, recorded in the audit log ("Dr Lee, Riverside
        /// Cardiology").
        #[arg(long)]
        note: String,
        /// Their age public key (age1…) instead of a passphrase.
        #[arg(long, value_name = "AGE1")]
        recipient: Option<String>,
        /// Where to write it: a file, or a folder to put NAME.age in
        /// (default: NAME.age in the current folder). Never over a file.
        #[arg(long, short = 'o', value_name = "PATH")]
        to: Option<PathBuf>,
        /// This version instead of the current one (see `versions`).
        #[arg(long)]
        version: Option<usize>,
    },
    /// Watch a folder a scanner or fax program writes to: each file, once
    /// complete, is encrypted into the vault folder PATH, read back and
    /// compared, and then removed from DIR; a file that cannot be taken
    /// stays, with a warning. Runs until Ctrl-C.
    Watch {
        /// The folder the scanner writes to.
        dir: PathBuf,
        /// The vault folder the files go into ("" for the top).
        #[arg(long, value_name = "PATH")]
        to: String,
        /// Seconds a file's size must stay the same before it is taken.
        #[arg(long, default_value_t = 2)]
        settle: u64,
        /// Take what is complete now, then stop (for scripts and tests).
        #[arg(long)]
        once: bool,
    },
    /// Create a folder (and missing folders above it).
    Mkdir {
        /// The folder to create.
        path: String,
    },
    /// Move or rename a file or folder.
    Mv {
        /// What to move.
        from: String,
        /// The new path, or an existing folder to move into.
        to: String,
    },
    /// Move a file or folder to the trash.
    Rm {
        /// What to remove.
        path: String,
    },
    /// List the trash.
    Trash,
    /// Restore from the trash (by original path or id).
    Restore {
        /// Original path or id from `chartsafe trash`.
        what: String,
    },
    /// Delete from the trash for good, with every version. Content files are
    /// kept 7 days more, in case a device that has not synced yet still uses
    /// them; every purge deletes those whose time is over.
    Purge {
        /// Original path or id from `chartsafe trash`.
        what: Option<String>,
        /// Empty the whole trash.
        #[arg(long, conflicts_with = "what")]
        all: bool,
        /// Delete the content files now, without the 7-day wait. Only when every
        /// device has synced: a device's unsynced edit of a purged file would
        /// come back without its content.
        #[arg(long)]
        now: bool,
    },
    /// List the versions of a file.
    Versions {
        /// The file.
        path: String,
    },
    /// Enrol this device from the recovery phrase (read from standard input or a prompt).
    ///
    /// The device becomes a computer of the vault's founder (the member who
    /// created it), made an admin again, unless --as or --new-admin says
    /// otherwise. Who is who comes from the signed team log only.
    Recover {
        /// Become a computer of this active member (name or id, as `chartsafe members` shows).
        #[arg(long = "as", value_name = "MEMBER", conflicts_with = "new_admin")]
        as_member: Option<String>,
        /// Become a new admin member (named by --name).
        #[arg(long)]
        new_admin: bool,
    },
    /// Recovery phrase tools.
    Recovery {
        #[command(subcommand)]
        command: RecoveryCommand,
    },
    /// Show facts about the vault and its health.
    Info,
    /// Show the audit log: who did what, when, on which device (every
    /// device's chain, merged in time order). Times are UTC.
    Audit(AuditArgs),
    /// Check the whole vault: every record, every content file (decrypted
    /// and compared with its record), orphans, and every audit chain. Each
    /// problem is printed with what can be done about it.
    Verify {
        /// Then remove what is safe to remove (orphans at least 30 days old
        /// while every record is readable, old temporary files), after asking.
        #[arg(long)]
        repair: bool,
        /// Do not ask before repairing.
        #[arg(long, requires = "repair")]
        yes: bool,
        /// How many days a content file must have been in this vault folder,
        /// unused by any record, before --repair removes it. A device that
        /// was offline may still be uploading its record.
        #[arg(long, value_name = "DAYS", default_value_t = 30, requires = "repair")]
        orphan_days: u32,
    },
    /// Print the shell completion script for SHELL (the Linux packages
    /// install it already): `chartsafe completions bash > ~/.local/share/bash-completion/completions/chartsafe`.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), as installed by the Linux packages.
    #[command(hide = true)]
    Manpage,
}

#[derive(clap::Args)]
struct AuditArgs {
    #[command(subcommand)]
    command: Option<AuditCommand>,
    /// Only from this time on: YYYY-MM-DD or YYYY-MM-DD HH:MM[:SS] in this
    /// computer's time zone (UTC with --utc; or ending in Z or an offset
    /// such as +01:00), or an age such as 7d, 12h, 30m.
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    /// Only before this time (same forms as --since).
    #[arg(long, value_name = "TIME")]
    until: Option<String>,
    /// Only this member (name, id or its first characters).
    #[arg(long)]
    member: Option<String>,
    /// Only this device (name, id or its first characters).
    #[arg(long)]
    device: Option<String>,
    /// Only this file or folder (its current path, a path it had, or its id).
    #[arg(long)]
    entry: Option<String>,
    /// Only these actions (repeat, or separate with commas): created,
    /// unlocked, unlock_failed, locked, added, folder_created, opened,
    /// previewed, saved_back, exported, renamed, moved, deleted, restored,
    /// purged, version_restored, recovery_used, recovery_failed,
    /// device_enrolled, audit_exported, checked, repaired.
    #[arg(long, value_delimiter = ',')]
    action: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = AuditFormat::Table)]
    format: AuditFormat,
    /// Also show member, computer and file ids (the table and CSV; JSON
    /// always has them).
    #[arg(long)]
    ids: bool,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check every device's audit chain: exit 0 when all are intact, 6 when
    /// one was altered, truncated, reordered or has planted batches.
    Verify,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum AuditFormat {
    /// Columns for people.
    Table,
    /// RFC 4180 CSV, for spreadsheets.
    Csv,
    /// One JSON object per line.
    Json,
}

#[derive(Subcommand)]
enum RecoveryCommand {
    /// Print the age identity (AGE-SECRET-KEY-1…) of a recovery phrase read
    /// from standard input or a prompt, for use with stock `age -d -i`.
    Identity,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(c) => ExitCode::from(c),
        Err(f) => {
            eprintln!("error: {}", names::printable(&f.message));
            if let Some(h) = f.hint {
                eprintln!("hint: {h}");
            }
            ExitCode::from(f.code)
        }
    }
}

/// A store that reads each key from the keychain at most once per process.
/// Every keychain call is a new D-Bus connection on Linux; fewer calls are
/// faster and give gnome-keyring fewer chances to hit its disconnect race.
struct OnceStore {
    inner: Keychain,
    read: std::cell::RefCell<Vec<(String, Option<secrecy::SecretString>)>>,
}

impl OnceStore {
    fn new(inner: Keychain) -> Self {
        Self {
            inner,
            read: std::cell::RefCell::new(Vec::new()),
        }
    }
}

impl SecretStore for OnceStore {
    fn get(
        &self,
        key: &str,
    ) -> Result<Option<secrecy::SecretString>, chartsafe_core::SecretStoreError> {
        if let Some((_, v)) = self.read.borrow().iter().find(|(k, _)| k == key) {
            return Ok(v.clone());
        }
        let v = self.inner.get(key)?;
        self.read.borrow_mut().push((key.to_owned(), v.clone()));
        Ok(v)
    }
    fn set(
        &self,
        key: &str,
        secret: &secrecy::SecretString,
    ) -> Result<(), chartsafe_core::SecretStoreError> {
        self.read.borrow_mut().retain(|(k, _)| k != key);
        self.inner.set(key, secret)
    }
    fn delete(&self, key: &str) -> Result<(), chartsafe_core::SecretStoreError> {
        self.read.borrow_mut().retain(|(k, _)| k != key);
        self.inner.delete(key)
    }
}

/// This computer's setup: the flags and their environment variables, else
/// the defaults the desktop app uses too (chartsafe_api::Setup).
fn setup(cli: &Cli) -> chartsafe_api::Setup {
    let mut setup =
        chartsafe_api::Setup::for_this_computer(format!("chartsafe {}", env!("CARGO_PKG_VERSION")));
    if let Some(dir) = &cli.state_dir {
        setup.state_dir = dir.clone();
    }
    if let Some(name) = cli.device_name.as_ref().filter(|n| !n.trim().is_empty()) {
        setup.device_name = name.clone();
    }
    setup.member_name = cli.name.clone();
    setup
}

fn options(cli: &Cli) -> Options {
    setup(cli).options()
}

/// Keyslots the recovery identity opened that the team log does not vouch
/// for: planted in the folder, ignored (docs/FORMAT.md §4.2).
fn warn_planted(planted: &[String]) {
    for slot in planted {
        eprintln!(
            "warning: keyslot k/{} opens with the recovery phrase but carries keys the team log does not name: it was planted by someone who can write to the vault folder, and is ignored",
            names::printable(slot)
        );
    }
}

fn vault_dir(cli: &Cli) -> Result<PathBuf, Failure> {
    cli.vault.clone().ok_or_else(|| {
        Failure::new(
            code::USAGE,
            "no vault folder given",
            Some("pass --vault DIR or set CHARTSAFE_VAULT"),
        )
    })
}

fn open(cli: &Cli) -> Result<Vault, Failure> {
    let dir = vault_dir(cli)?;
    if let Some(file) = &cli.identity {
        let identities = input::identity_file(file)?;
        let mut options = options(cli);
        options.root = input::identity_file_root(file);
        let vault = Vault::unlock_with_identities(&dir, &identities, options)?;
        warn_planted(vault.planted_keyslots());
        return Ok(vault);
    }
    // One keychain read per command: the secret is kept for Vault::unlock.
    let store = OnceStore::new(Keychain::from_env());
    // Fail early, before asking for a passphrase, if this device has no key.
    chartsafe_api::check_enrolled(&dir, &store)?;
    let passphrase = input::passphrase(cli.passphrase_file.as_deref(), "Passphrase: ", false)?;
    Ok(Vault::unlock(&dir, &store, &passphrase, options(cli))?)
}

/// Parses nothing and prints nothing itself: each command is a function of
/// `files`, `enrol`, `team` or `audit` that calls the core or
/// chartsafe_api and renders the result.
fn run(cli: Cli) -> Result<u8, Failure> {
    output::set_utc(cli.utc);
    let mut out = std::io::stdout().lock();
    let cli = &cli;
    match &cli.command {
        Command::Init { dir } => enrol::init(cli, dir, &mut out),
        Command::Join { invite } => enrol::join(cli, invite.as_deref(), &mut out),
        Command::Recover {
            as_member,
            new_admin,
        } => enrol::recover(cli, as_member.as_deref(), *new_admin),
        Command::Recovery {
            command: RecoveryCommand::Identity,
        } => enrol::recovery_identity(&mut out),
        Command::Add { sources, to } => files::add(&mut open(cli)?, sources, to),
        Command::Ls { path, json } => files::ls(&mut open(cli)?, path, *json, &mut out),
        Command::Get {
            path,
            output: to,
            version,
        } => {
            // `get` streams to standard output from a writer thread, which
            // must be able to take the lock this thread holds.
            drop(out);
            files::get(&mut open(cli)?, path, to.as_deref(), *version)
        }
        Command::Open { path } => edit::open_in_program(open(cli)?, path),
        Command::Export { paths, to } => files::export(&mut open(cli)?, paths, to),
        Command::Watch {
            dir,
            to,
            settle,
            once,
        } => watch::run(cli, dir, to, std::time::Duration::from_secs(*settle), *once),
        Command::Share {
            path,
            note,
            recipient,
            to,
            version,
        } => files::share(
            cli,
            path,
            note,
            recipient.as_deref(),
            to.as_deref(),
            *version,
            &mut out,
        ),
        Command::Mkdir { path } => {
            open(cli)?.mkdir(path)?;
            Ok(0)
        }
        Command::Mv { from, to } => {
            open(cli)?.rename(from, to)?;
            Ok(0)
        }
        Command::Rm { path } => files::rm(&mut open(cli)?, path),
        Command::Trash => files::trash(&mut open(cli)?, &mut out),
        Command::Restore { what } => {
            open(cli)?.restore(what)?;
            Ok(0)
        }
        Command::Purge { what, all, now } => files::purge(cli, what.as_deref(), *all, *now),
        Command::Versions { path } => files::versions(&mut open(cli)?, path, &mut out),
        Command::Info => files::info(cli, &mut out),
        Command::Members { json } => team::members(&open(cli)?, *json, &mut out),
        Command::Invite => team::invite(&mut open(cli)?, &mut out),
        Command::Remove { who } => team::remove(&mut open(cli)?, who),
        Command::Collections { command } => match command {
            None => team::collections(&mut open(cli)?, &mut out),
            Some(CollectionsCommand::Add { name }) => team::add_collection(&mut open(cli)?, name),
        },
        Command::Grant {
            collection,
            who,
            write,
        } => team::grant(&mut open(cli)?, collection, who, *write),
        Command::Revoke { collection, who } => team::revoke(&mut open(cli)?, collection, who),
        Command::Rotate { resume, status } => {
            team::rotate(&mut open(cli)?, *resume, *status, &mut out)
        }
        Command::Requests => team::requests(&mut open(cli)?, &mut out),
        Command::Approve {
            request,
            code,
            role,
            computer_of,
        } => match computer_of {
            Some(who) => team::approve_computer(&mut open(cli)?, request, code, who),
            None => team::approve(&mut open(cli)?, request, code, *role),
        },
        Command::Audit(args) => audit::run(&mut open(cli)?, args, &mut out),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(*shell, &mut Cli::command(), "chartsafe", &mut out);
            Ok(0)
        }
        Command::Manpage => {
            use clap::CommandFactory;
            clap_mangen::Man::new(Cli::command())
                .render(&mut out)
                .map_err(|e| {
                    Failure::new(code::STORAGE, format!("writing the manual page: {e}"), None)
                })?;
            Ok(0)
        }
        Command::Verify {
            repair,
            yes,
            orphan_days,
        } => {
            let mut vault = open(cli)?;
            vault.set_orphan_grace_ms(i64::from(*orphan_days) * 86_400_000);
            audit::verify(&mut vault, *repair, *yes, &mut out)
        }
    }
}
