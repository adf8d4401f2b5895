//! The vault: opening it with one of its keys, reading its records, and
//! writing new ones (docs/FORMAT.md §4–§6).

// One folder per capability, each file named for the part of
// docs/FORMAT.md it implements (ARCHITECTURE.md has the map).
mod audit;
mod read;
mod team;
#[cfg(test)]
mod tests;
mod verify;
mod write;

use audit::sign as audit_sign;
use read::{get, load, many, share};
use team::{collections, join, rotate, trust, view as team_view};
use write::{add, change};

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};

pub use add::{AddFailure, AddOptions, AddReport, OnExisting};
pub use audit::{
    utc_time, AuditChain, AuditEntry, AuditFilter, AuditLog, AuditProblem, PendingEvents,
};
pub use change::{PurgeReport, PurgeTarget, TrashEntry, VersionInfo};
pub use collections::CollectionInfo;
pub use get::{Access, ContentCheck};
pub use join::{Invitation, JoinRequestInfo, PendingJoin, Removal};
pub use load::{EntryInfo, Listing, Problem, SyncState};
pub use many::GetManyReport;
pub use rotate::{RekeyJob, RekeyReport, RekeyStatus, Rotation};
pub use share::{share_passphrase, ShareKey, SHARE_PASSPHRASE_WORDS, SHARE_SCRYPT_LOG_N};
pub use team_view::{DeviceView, MemberView, RejectedEntry, TeamView, TeamViewError};
pub use verify::{HealthProblem, HealthReport, RepairReport, VerifyError};

use crate::crypt::{self, DecryptFailure};
use crate::errors::{AuditWriteError, CreateError, RecoverError, StorageError, UnlockError};
use crate::format::audit::{Action, Event, Outcome};
use crate::format::header::{Header, HeaderError};
use crate::format::record::{Op, RecordBody, RECORD_VERSION, SIGNED_RECORD_VERSION};
use crate::format::team::Entry;
use crate::format::Layout;
use crate::fsutil;
use crate::ids;
use crate::keys::{AgeIdentity, DeviceSecret, KdfParams, KeyslotPlain, RecoveryPhrase, VaultKeys};
use crate::local::{DeviceState, KnownHead, LocalDir};
use crate::traits::{Clock, SecretStore, SystemClock};
use team::TeamWriteError;

/// Largest header read; anything bigger is not ours (FORMAT.md §1.1).
const HEADER_MAX: u64 = 64 << 10;

/// Largest keyslot read; anything bigger is not ours (FORMAT.md §4).
const KEYSLOT_MAX: u64 = 1 << 20;

/// Shortest passphrase accepted for a device.
pub const MIN_PASSPHRASE_CHARS: usize = 8;

/// How a vault is opened on this device.
pub struct Options {
    /// Folder for this device's local state (not the vault folder).
    pub state_dir: PathBuf,
    /// This device's name, shown to people in conflict names.
    pub device_name: String,
    /// scrypt work factor for new passphrases (log2 N).
    pub kdf_log_n: u8,
    /// The clock.
    pub clock: Box<dyn Clock + Send + Sync>,
    /// How long purged contents stay in the vault folder, in ms, in case a
    /// device that has not synced yet still uses them (default 7 days).
    pub purge_grace_ms: i64,
    /// How old (by arrival on this machine) a content file that no record
    /// names must be before `repair` removes it, in ms (default 30 days: its
    /// record may still be on its way from a device that was offline).
    pub orphan_grace_ms: i64,
    /// The program and version written into audit batches
    /// ("chartsafe 0.4.0"); defaults to this library's name and version.
    pub app: String,
    /// The person's name, written into the team log when this device
    /// creates the vault or re-establishes an admin with the recovery
    /// phrase (FORMAT.md §11.3); defaults to "Administrator".
    pub member_name: String,
    /// The vault's root key (`cssign1…`) for [`Vault::unlock_with_identities`]:
    /// an identity-file session checks signed changes against it (the file
    /// written by `chartsafe recovery identity` names it). Ignored when this
    /// computer pinned one already.
    pub root: Option<String>,
    /// Which member of the team log the recovery phrase enrols this device
    /// as ([`Vault::recover`]); never taken from a keyslot (FORMAT.md §4.2).
    pub recover_as: RecoverAs,
}

/// Whom [`Vault::recover`] makes this device a computer of. The member comes
/// from the signed team log, never from a keyslot in the folder: anyone who
/// can write there can plant a keyslot naming themselves (FORMAT.md §4.2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum RecoverAs {
    /// The member the genesis made, the person who created the vault and
    /// was shown the phrase; a new admin if that member was removed.
    #[default]
    Founder,
    /// An active member, by id or exact name, as the team log lists them.
    Member(String),
    /// A new member (named by [`Options::member_name`]), made an admin.
    NewAdmin,
}

impl Options {
    /// Defaults: the system clock and the default KDF cost.
    pub fn new(state_dir: impl Into<PathBuf>, device_name: impl Into<String>) -> Self {
        Self {
            state_dir: state_dir.into(),
            device_name: crate::names::clean_device_name(&device_name.into()),
            kdf_log_n: KdfParams::DEFAULT_LOG_N,
            clock: Box::new(SystemClock),
            purge_grace_ms: 7 * 24 * 3600 * 1000,
            orphan_grace_ms: 30 * 24 * 3600 * 1000,
            app: format!("chartsafe-core {}", env!("CARGO_PKG_VERSION")),
            member_name: "Administrator".to_owned(),
            root: None,
            recover_as: RecoverAs::Founder,
        }
    }
}

/// Public facts about a vault folder, readable without a key.
#[derive(Debug, Clone)]
pub struct PublicInfo {
    /// The vault id.
    pub id: String,
    /// The format version.
    pub version: u32,
}

/// An unlocked vault.
pub struct Vault {
    layout: Layout,
    header: Header,
    keys: VaultKeys,
    local: LocalDir,
    device: DeviceState,
    clock: Box<dyn Clock + Send + Sync>,
    purge_grace_ms: i64,
    orphan_grace_ms: i64,
    /// The scrypt work factor of passphrase shares (share::SHARE_SCRYPT_LOG_N).
    share_log_n: u8,
    app: String,
    /// Whether this session's first audit batch (which announces the other
    /// chains' heads) has been written.
    announced: bool,
    /// The team log as read at open and after each entry written.
    team: team::TeamLog,
    /// The person's name for team entries this device writes.
    member_name: String,
    /// Keyslots the recovery identity opened that carry keys the team log
    /// does not name: planted (FORMAT.md §4.2), ignored and reported.
    planted: Vec<String>,
    /// Unsigned audit chains this device vouches for in its next batch
    /// (FORMAT.md §10.6).
    legacy_vouch: BTreeMap<String, crate::format::audit::Head>,
    _lock: File,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("id", &self.header.id)
            .finish_non_exhaustive()
    }
}

/// The keychain entry name of a vault (one entry per vault and OS user).
pub fn keychain_key(vault_id: &str) -> String {
    format!("vault-{vault_id}")
}

fn read_header(dir: &Path) -> Result<Header, UnlockError> {
    let layout = Layout::new(dir);
    let path = layout.header();
    // The header is tiny; anything big, or not a file, is not ours.
    let Some(bytes) = fsutil::read_limited(&path, HEADER_MAX)? else {
        return Err(UnlockError::NotAVault(dir.to_owned()));
    };
    Header::parse(&bytes).map_err(|e| UnlockError::Header(path, e))
}

/// Reads the public header of a vault folder.
pub fn public_info(dir: &Path) -> Result<PublicInfo, UnlockError> {
    let h = read_header(dir)?;
    Ok(PublicInfo {
        id: h.id,
        version: h.version,
    })
}

/// The keys of every keyslot a recovery identity opens that carries the
/// keys it derives, merged, with where each key came from. Anyone who knows
/// the public recovery recipient can plant a keyslot with their own keys:
/// one that does not carry the phrase's is skipped, and which keys of the
/// others count is the team log's to say (FORMAT.md §4.2,
/// `vouch_recovery_keys`).
fn recovery_keyslots(
    layout: &Layout,
    vault: &str,
    identities: &[&crate::keys::AgeIdentity],
) -> Result<(Option<VaultKeys>, BTreeMap<String, String>), crate::errors::StorageError> {
    let refs: Vec<&dyn age::Identity> = identities.iter().map(|i| i.as_age() as _).collect();
    let mut found = None;
    let mut origin = BTreeMap::new();
    for slot in fsutil::list_dir(&layout.keyslots())? {
        if crate::format::is_ignorable(&slot) {
            continue;
        }
        let Some(bytes) = fsutil::read_limited(&layout.keyslot(&slot), KEYSLOT_MAX)? else {
            continue;
        };
        if let Ok(k) = open_keyslot(&bytes, &refs, vault) {
            if identities.iter().any(|i| k.matches_recovery(i)) {
                note_origin(&mut origin, &slot, &k);
                merge_keys(&mut found, k);
            }
        }
    }
    Ok((found, origin))
}

fn check_passphrase(p: &SecretString) -> bool {
    p.expose_secret().chars().count() >= MIN_PASSPHRASE_CHARS
}

impl Vault {
    /// Creates a vault in `dir` (new or empty), enrols this device with
    /// `passphrase`, and returns the recovery phrase to show once.
    pub fn create(
        dir: &Path,
        store: &dyn SecretStore,
        passphrase: &SecretString,
        options: Options,
    ) -> Result<(Vault, RecoveryPhrase), CreateError> {
        if !check_passphrase(passphrase) {
            return Err(CreateError::WeakPassphrase(MIN_PASSPHRASE_CHARS));
        }
        match std::fs::read_dir(dir) {
            Ok(entries) => {
                let clutter = |e: &std::fs::DirEntry| {
                    e.file_name()
                        .to_str()
                        .is_some_and(crate::format::is_ignorable)
                };
                if entries.filter_map(Result::ok).any(|e| !clutter(&e)) {
                    return Err(CreateError::NotEmpty(dir.to_owned()));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(dir).map_err(|e| StorageError::write(dir, e))?;
            }
            Err(e) => return Err(StorageError::read(dir, e).into()),
        }
        let header = Header::new(ids::random_id());
        let layout = Layout::new(dir);
        let phrase = RecoveryPhrase::generate();
        let recovery = phrase.identity();
        let now = options.clock.now_ms();
        let keys = VaultKeys {
            member: ids::random_id(),
            collections: vec![(ids::random_id(), AgeIdentity::generate())],
            mac: recovery.derive_mac_key(),
            recovery: recovery.recipient(),
            recovery_identity: None,
            signing: None,
            device_identity: None,
            current: Default::default(),
            default: None,
        };
        let plain = keys.to_plain(&header.id, now);
        // The recovery keyslot: the phrase alone re-enrols a device (§4.2).
        write_keyslot(&layout, &ids::random_id(), &plain, &recovery.recipient())?;
        let local = LocalDir::new(&options.state_dir, &header.id);
        let lock = local.lock()?.ok_or(CreateError::Busy)?;
        drop(plain);
        let slot = ids::random_id();
        let kdf_log_n = options.kdf_log_n;
        // The team log starts with this device as its first admin's, signed
        // by the root key from the phrase, which the device pins
        // (FORMAT.md §11.1, §11.3).
        let root = phrase.root_signing_key();
        let mut device = DeviceState::new(&options.device_name);
        device.root = Some(root.public().to_string());
        let mut vault = Vault::assemble(layout, header, keys, local, device, options, lock);
        vault.keys.signing = Some(crate::sign::SigningKey::generate());
        let created = Event::new(vault.clock.now_ms(), Action::Created);
        let recipient = vault.record_and_enrol(created, store, passphrase, kdf_log_n, slot)?;
        let genesis = vault.own_entry_genesis(&root, recipient, Default::default());
        vault.append_team(genesis, Some(&root))?;
        // The audit log gets its own key, which only admins hold
        // (FORMAT.md §14.4).
        vault.ensure_audit_collection().map_err(CreateError::Team)?;
        // The creation's own first batch goes under that key too.
        if let Ok(job) = vault.rekey_job() {
            let report = job.run(&crate::traits::NoProgress)?;
            if report.skipped.is_empty() && !report.cancelled {
                vault.device.rekeyed = Some(job.generation().to_owned());
                vault.local.save(&vault.device)?;
            }
        }
        // The header goes last: a folder without it is not a vault yet.
        fsutil::write_new(dir, &vault.layout.header(), &vault.header.to_bytes())?;
        Ok((vault, phrase))
    }

    /// Opens the vault with this device's keychain entry and the member's passphrase.
    pub fn unlock(
        dir: &Path,
        store: &dyn SecretStore,
        passphrase: &SecretString,
        options: Options,
    ) -> Result<Vault, UnlockError> {
        let header = read_header(dir)?;
        let layout = Layout::new(dir);
        let local = LocalDir::new(&options.state_dir, &header.id);
        let device = local.load()?;
        let (Some(device), Some(secret)) = (device, store.get(&keychain_key(&header.id))?) else {
            return Err(UnlockError::NotEnrolled(header.id));
        };
        let (Some(slot), Some(kdf)) = (device.slot.clone(), device.kdf.clone()) else {
            return Err(UnlockError::NotEnrolled(header.id));
        };
        let identity = DeviceSecret::from_stored(secret)
            .device_identity(passphrase, &kdf)
            .ok_or(UnlockError::KeychainEntryDamaged)?;
        let path = layout.keyslot(&slot);
        let Some(bytes) = fsutil::read_limited(&path, KEYSLOT_MAX)? else {
            // A device that asked to join waits for its keyslot (FORMAT.md §12).
            if local.file_named("join.age").exists() {
                return Err(UnlockError::AwaitingApproval);
            }
            // Absent, or replaced by something that is not a keyslot.
            return Err(UnlockError::KeyslotMissing(format!("k/{slot}")));
        };
        let mut keys = match open_keyslot(&bytes, &[identity.as_age()], &header.id) {
            Ok(keys) => keys,
            Err(SlotError::NoMatch) => {
                // Recorded at the next unlock: without the keys nothing can
                // be written into the vault folder now (FORMAT.md §10.4).
                let event = Event::new(options.clock.now_ms(), Action::UnlockFailed)
                    .outcome(Outcome::Denied, "wrong passphrase");
                let _ = local.push_pending(event);
                return Err(UnlockError::WrongPassphrase);
            }
            Err(SlotError::Corrupt) => {
                return Err(UnlockError::KeyslotCorrupt(format!("k/{slot}")))
            }
        };
        keys.device_identity = Some(identity.clone());
        let event = Event::new(options.clock.now_ms(), Action::Unlocked).detail("passphrase");
        Self::finish_open(
            layout,
            header,
            keys,
            local,
            device,
            options,
            vec![event],
            OpenKind::Device(&identity),
        )
    }

    /// Opens the vault with the recovery identity (from `chartsafe recovery
    /// identity`, in an identity file), without the keychain. Other
    /// identities in the list are ignored.
    pub fn unlock_with_identities(
        dir: &Path,
        identities: &[AgeIdentity],
        options: Options,
    ) -> Result<Vault, UnlockError> {
        let header = read_header(dir)?;
        let layout = Layout::new(dir);
        // Only the recovery identity unlocks this way, and only keyslots
        // that carry what it derives (FORMAT.md §4.2).
        let all: Vec<&AgeIdentity> = identities.iter().collect();
        let (keys, origin) = recovery_keyslots(&layout, &header.id, &all)?;
        let mut keys = keys.ok_or(UnlockError::IdentityNotAccepted)?;
        // An identity-file session is no computer of the team: it signs
        // nothing, whatever a keyslot carries (FORMAT.md §10.6).
        keys.signing = None;
        // With the recovery identity itself, everything stays readable even
        // without the collection keys (docs/FORMAT.md §3.1).
        keys.recovery_identity = identities
            .iter()
            .find(|i| i.recipient().to_string() == keys.recovery.to_string())
            .cloned();
        let local = LocalDir::new(&options.state_dir, &header.id);
        let mut device = match local.load()? {
            Some(d) => d,
            None => {
                let d = DeviceState::new(&options.device_name);
                local.save(&d)?;
                d
            }
        };
        // The root key from the identity file (derived from the same phrase).
        if device.root.is_none() {
            let given = options
                .root
                .as_deref()
                .map(crate::sign::PublicSigningKey::parse);
            if let Some(Ok(root)) = given {
                device.root = Some(root.to_string());
            }
        }
        let event = Event::new(options.clock.now_ms(), Action::RecoveryUsed)
            .detail("unlocked with the recovery identity");
        Self::finish_open(
            layout,
            header,
            keys,
            local,
            device,
            options,
            vec![event],
            OpenKind::Identity(origin),
        )
    }

    /// Enrols this device from the recovery phrase alone (keychain empty, new
    /// machine): checks the phrase against the vault, stores a new device
    /// secret in the keychain and writes a keyslot for `new_passphrase`.
    pub fn recover(
        dir: &Path,
        phrase: &RecoveryPhrase,
        store: &dyn SecretStore,
        new_passphrase: &SecretString,
        options: Options,
    ) -> Result<Vault, RecoverError> {
        if !check_passphrase(new_passphrase) {
            return Err(RecoverError::WeakPassphrase(MIN_PASSPHRASE_CHARS));
        }
        let header = read_header(dir).map_err(RecoverError::Open)?;
        let layout = Layout::new(dir);
        let recovery = phrase.identity();
        let (found, origin) = recovery_keyslots(&layout, &header.id, &[&recovery])?;
        let local = LocalDir::new(&options.state_dir, &header.id);
        let Some(mut keys) = found else {
            let event = Event::new(options.clock.now_ms(), Action::RecoveryFailed)
                .outcome(Outcome::Denied, "the phrase does not belong to this vault");
            let _ = local.push_pending(event);
            return Err(RecoverError::WrongPhrase);
        };
        keys.recovery_identity = Some(recovery);
        let previous = local.load()?;
        let lock = local.lock()?.ok_or(RecoverError::Open(UnlockError::Busy))?;
        let slot = ids::random_id();
        let kdf_log_n = options.kdf_log_n;
        let mut device = previous.unwrap_or_else(|| DeviceState::new(&options.device_name));
        // The phrase is the vault's owner: an emergency device vouches once
        // for audit chains written before batches were signed (§10.6).
        device.audit_vouched = false;
        // The phrase gives the root key: pin it (FORMAT.md §11.1).
        let root = phrase.root_signing_key();
        device.root = Some(root.public().to_string());
        let recover_as = options.recover_as.clone();
        let mut vault = Vault::assemble(layout, header, keys, local, device, options, lock);
        vault.keys.signing = Some(crate::sign::SigningKey::generate());
        vault.load_team()?;
        // A vault with a team log whose log cannot be evaluated here yet
        // (not synced, or deleted): recovering now would start a second one.
        if vault.team().team.is_none() && (vault.header.has_team() || vault.has_team_entries()) {
            return Err(RecoverError::TeamNotReady);
        }
        vault.vouch_recovery_keys(&origin);
        if vault.team().team.is_none() && !vault.has_team_entries() {
            vault.pick_format1_keys()?;
        }
        if let Some(member) = vault.recovered_member(&recover_as)? {
            vault.keys.member = member;
        }
        // A device id the team log already lists (this machine, enrolled
        // before) gets a new id with its new signing key; the old id is
        // removed below (FORMAT.md §7, §11.3).
        let replaced = vault.team().team.as_ref().and_then(|t| {
            t.devices
                .contains_key(&vault.device.device)
                .then(|| vault.device.device.clone())
        });
        if replaced.is_some() {
            vault.device.device = ids::random_id();
        }
        let used = Event::new(vault.clock.now_ms(), Action::RecoveryUsed).detail("recovery phrase");
        let recipient = vault.record_and_enrol(used, store, new_passphrase, kdf_log_n, slot)?;
        vault.flag_planted_keyslots();
        if vault.team().team.is_some() {
            vault.rejoin_team(&root, recipient, replaced)?;
        } else if !vault.has_team_entries() {
            vault.start_team_log(&root, recipient)?;
        }
        Ok(vault)
    }

    /// Who a recovered device belongs to, from the signed team log, never
    /// from a keyslot (FORMAT.md §4.2): the founder by default, another
    /// active member the person names, or a new admin. A removed member is
    /// never revived (§11.5). `None` without a team log.
    fn recovered_member(&self, recover_as: &RecoverAs) -> Result<Option<String>, RecoverError> {
        let Some(t) = self.team().team.as_ref() else {
            return Ok(None);
        };
        Ok(Some(match recover_as {
            RecoverAs::Founder => t
                .founder
                .as_deref()
                .filter(|m| t.active_member(m).is_some())
                .map_or_else(ids::random_id, str::to_owned),
            RecoverAs::NewAdmin => ids::random_id(),
            RecoverAs::Member(who) => {
                let by_id = t.active_member(who).map(|m| m.id.clone());
                let by_name: Vec<&str> = t
                    .members
                    .values()
                    .filter(|m| !m.removed && m.name == *who)
                    .map(|m| m.id.as_str())
                    .collect();
                let shown = crate::names::printable(who);
                match (by_id, by_name.as_slice()) {
                    (Some(id), _) => id,
                    (None, [one]) => (*one).to_owned(),
                    (None, []) => return Err(RecoverError::NoSuchMember(shown)),
                    (None, _) => return Err(RecoverError::AmbiguousMember(shown)),
                }
            }
        }))
    }

    /// Emergency access re-establishes an admin (FORMAT.md §11.3); the
    /// device id this machine had before (`replaced`) is removed, with
    /// everything it wrote standing (FORMAT.md §7, §11.6).
    fn rejoin_team(
        &mut self,
        root: &crate::sign::SigningKey,
        recipient: String,
        replaced: Option<String>,
    ) -> Result<(), RecoverError> {
        let entry = Entry::RecoveryAdmin {
            member: self.keys.member.clone(),
            name: self.member_name.clone(),
            device_name: self.device.device_name.clone(),
            recipient,
            signing: self.own_signing_public(),
        };
        self.append_team(entry, Some(root))?;
        let Some(old) = replaced else {
            return Ok(());
        };
        let active = self
            .team()
            .team
            .as_ref()
            .is_some_and(|t| t.active_device(&old).is_some());
        if active {
            // Its newest record is in this machine's own state.
            let cutoffs = self
                .device
                .known
                .get(&old)
                .map(|k| (old.clone(), k.cutoff()))
                .into_iter()
                .collect();
            self.append_team(
                Entry::DeviceRemove {
                    device: old,
                    cutoffs,
                },
                None,
            )?;
        }
        Ok(())
    }

    /// A vault from before the team log: the phrase starts it, and the
    /// unsigned records there now stand as its legacy (FORMAT.md §11.6).
    /// They are read without the pinned root, as a version 1 reader would.
    fn start_team_log(
        &mut self,
        root: &crate::sign::SigningKey,
        recipient: String,
    ) -> Result<(), RecoverError> {
        let pinned = self.device.root.take();
        let read = self.load();
        self.device.root = pinned;
        self.local.save(&self.device)?;
        read.map_err(|crate::errors::ListError::Storage(s)| RecoverError::Storage(s))?;
        let legacy = self
            .device
            .known
            .iter()
            .map(|(d, k)| (d.clone(), k.cutoff()))
            .collect();
        let genesis = self.own_entry_genesis(root, recipient, legacy);
        self.append_team(genesis, Some(root))?;
        // From now on the vault has a team log: the header says so, and
        // version 1 programs refuse it instead of writing changes the team
        // would refuse (FORMAT.md §1.1).
        self.header.version = crate::format::header::VERSION;
        fsutil::write_replace(&self.layout.header(), &self.header.to_bytes())?;
        Ok(())
    }

    /// Records `first` and this device's enrolment, then enrols it with
    /// keyslot `slot`: the record is durable before the device gets its keys
    /// (FORMAT.md §10.4), so a blocked log enrols nothing.
    /// Returns the device's age recipient. The device keyslot carries the
    /// vault keys and this device's signing key (FORMAT.md §4).
    fn record_and_enrol(
        &mut self,
        first: Event,
        store: &dyn SecretStore,
        passphrase: &SecretString,
        kdf_log_n: u8,
        slot: String,
    ) -> Result<String, EnrolError> {
        let enrolled =
            Event::new(first.time, Action::DeviceEnrolled).detail(format!("keyslot k/{slot}"));
        self.append_audit(vec![first, enrolled])?;
        let mut plain = self.keys.to_plain(&self.header.id, self.clock.now_ms());
        plain.signing_key = self
            .keys
            .signing
            .as_ref()
            .map(|k| ids::hex(k.seed().as_ref()));
        let (device, identity) = enrol(
            &self.layout,
            &self.local,
            &self.header.id,
            &plain,
            store,
            passphrase,
            kdf_log_n,
            self.device.clone(),
            slot,
        )?;
        self.device = device;
        let recipient = identity.recipient().to_string();
        self.keys.device_identity = Some(identity);
        Ok(recipient)
    }

    /// An open vault from its parts (nothing is written).
    fn assemble(
        layout: Layout,
        header: Header,
        keys: VaultKeys,
        local: LocalDir,
        device: DeviceState,
        options: Options,
        lock: File,
    ) -> Vault {
        Vault {
            layout,
            header,
            keys,
            local,
            device,
            clock: options.clock,
            purge_grace_ms: options.purge_grace_ms,
            share_log_n: share::SHARE_SCRYPT_LOG_N,
            orphan_grace_ms: options.orphan_grace_ms,
            app: options.app,
            announced: false,
            team: Default::default(),
            member_name: crate::names::clean_device_name(&options.member_name),
            planted: Vec::new(),
            legacy_vouch: BTreeMap::new(),
            _lock: lock,
        }
    }

    /// `kind`: with a device identity, for a device that asked to join and
    /// may find its approval now (FORMAT.md §12.4); with the recovery
    /// identity, the keyslot each key came from.
    #[allow(clippy::too_many_arguments)]
    fn finish_open(
        layout: Layout,
        header: Header,
        keys: VaultKeys,
        local: LocalDir,
        device: DeviceState,
        options: Options,
        events: Vec<Event>,
        kind: OpenKind<'_>,
    ) -> Result<Vault, UnlockError> {
        let lock = local.lock()?.ok_or(UnlockError::Busy)?;
        let mut vault = Vault::assemble(layout, header, keys, local, device, options, lock);
        // The team first: it names the key everything new is encrypted to,
        // this first audit batch included (FORMAT.md §13.2); a device that
        // was just approved pins the root key before that.
        vault.load_team()?;
        match kind {
            OpenKind::Device(identity) => vault.complete_join(identity)?,
            OpenKind::Identity(origin) => {
                vault.vouch_recovery_keys(&origin);
                // The phrase's holder acts as the founder the root key
                // signed in, never as a member a keyslot names.
                if let Some(founder) = vault.team().team.as_ref().and_then(|t| t.founder.clone()) {
                    vault.keys.member = founder;
                }
            }
        }
        // No unaudited access: if the log cannot be written, the vault stays shut.
        vault.append_audit(events)?;
        vault.flag_planted_keyslots();
        Ok(vault)
    }

    /// The vault id.
    pub fn id(&self) -> &str {
        &self.header.id
    }

    /// The vault folder.
    pub fn dir(&self) -> &Path {
        self.layout.root()
    }

    /// This device's id (its record folder name under `r/`).
    pub fn device_id(&self) -> &str {
        &self.device.device
    }

    /// Whether this computer is an active admin's in the team log
    /// (docs/FORMAT.md §11.5).
    pub fn is_admin(&self) -> bool {
        self.team()
            .team
            .as_ref()
            .and_then(|t| t.role_of_device(self.device_id()))
            == Some(crate::format::team::Role::Admin)
    }

    /// This device's name.
    pub fn device_name(&self) -> &str {
        &self.device.device_name
    }

    /// Changes the scrypt work factor of passphrase shares from 2^18 to
    /// `2^log_n` (tests; a lower factor makes a weaker share).
    pub fn set_share_work_factor(&mut self, log_n: u8) {
        self.share_log_n = log_n.clamp(1, 30);
    }

    /// Changes how long purged contents are kept (see [`Options::purge_grace_ms`]).
    pub fn set_purge_grace_ms(&mut self, ms: i64) {
        self.purge_grace_ms = ms.max(0);
    }

    /// Changes how old an orphan must be for [`Vault::repair`] (see [`Options::orphan_grace_ms`]).
    pub fn set_orphan_grace_ms(&mut self, ms: i64) {
        self.orphan_grace_ms = ms.max(0);
    }

    /// The recovery identity, when the vault was opened with it.
    pub fn recovery_identity(&self) -> Option<&AgeIdentity> {
        self.keys.recovery_identity.as_ref()
    }

    /// Writes one record holding `ops` (docs/FORMAT.md §5.1), durably, as this
    /// device's next record.
    ///
    /// `events` describe the change for the audit log; they are appended
    /// first, so a change never lands without its audit record
    /// (docs/FORMAT.md §10.4). If the record then cannot be written, a
    /// `failed` event follows, as far as possible.
    fn commit_ops(
        &mut self,
        ops: Vec<Op>,
        staged: Vec<fsutil::Staged>,
        events: Vec<Event>,
    ) -> Result<(), CommitError> {
        if ops.is_empty() && staged.is_empty() {
            return Ok(());
        }
        // Refused before anything is logged or written (FORMAT.md §11.6).
        self.signing_for_write()?;
        let (coll, ops) = self.route_ops(ops)?;
        let failed = events.clone();
        self.append_audit(events)?;
        let result = self.commit_record(ops, staged, coll.as_deref());
        if let Err(e) = &result {
            let reason = e.to_string();
            let now = self.clock.now_ms();
            let failed = failed
                .into_iter()
                .map(|mut ev| {
                    ev.time = now;
                    ev.outcome(Outcome::Failed, reason.clone())
                })
                .collect();
            let _ = self.append_audit(failed);
        }
        result
    }

    fn commit_record(
        &mut self,
        ops: Vec<Op>,
        staged: Vec<fsutil::Staged>,
        coll: Option<&str>,
    ) -> Result<(), CommitError> {
        // Contents go in place first; the record's commit makes them durable
        // before the record itself appears, so a record never refers to a
        // blob that a crash lost (docs/FORMAT.md §1.2).
        let contents: Vec<std::path::PathBuf> = staged.iter().map(|s| s.dest.clone()).collect();
        // This device's newest record before this write: only the error
        // path below lists the folder to see whether a newer one got in.
        let head_before = self
            .device
            .known
            .get(&collections::scoped(coll, &self.device.device))
            .map_or(0, |h| h.seq);
        if let Err(e) = fsutil::place(staged) {
            remove_contents(&contents);
            return Err(e.into());
        }
        if ops.is_empty() {
            return Ok(());
        }
        let result = self.write_record(ops, coll);
        // A failed write (a full disk, a folder turned read-only) leaves no
        // content behind that no record names, unless the record did get
        // in place (only its last sync failed): then they are its.
        if result.is_err() {
            let dir = self
                .layout
                .for_collection(coll)
                .device_records(&self.device.device);
            let placed = fsutil::list_dir(&dir)
                .unwrap_or_default()
                .iter()
                .filter_map(|n| crate::format::chain_position(n))
                .any(|seq| seq > head_before);
            if !placed {
                remove_contents(&contents);
            }
        }
        result
    }

    /// Writes the next record of this device's chain holding `ops`.
    fn write_record(&mut self, ops: Vec<Op>, coll: Option<&str>) -> Result<(), CommitError> {
        // Continue after the newest record this device ever wrote or saw of
        // itself (kept up to date by `load`): numbers are never reused.
        let chain = collections::scoped(coll, &self.device.device);
        let head = self.device.known.get(&chain);
        let seq = head.map_or(1, |h| h.seq + 1);
        let prev = head.map(|h| h.hash.clone());
        let dir = self
            .layout
            .for_collection(coll)
            .device_records(&self.device.device);
        let own = self.device.device.clone();
        let recipients = self
            .keys
            .recipients_for(coll)
            .ok_or(crate::errors::WriteRefused::KeyNotHere)?;
        let signing = self.signing_for_write()?;
        let (seq, hash) = self.append_chain(
            &dir,
            seq,
            prev,
            load::RECORD_MAX,
            &recipients,
            // Everything placed before (the batch's contents) must be
            // durable before the record names it (FORMAT.md §1.2).
            false,
            |seq, prev| {
                let body = RecordBody {
                    format: if signing.is_some() {
                        SIGNED_RECORD_VERSION
                    } else {
                        RECORD_VERSION
                    },
                    vault: self.header.id.clone(),
                    device: own.clone(),
                    device_name: self.device.device_name.clone(),
                    author: self.keys.member.clone(),
                    seq,
                    prev,
                    time: self.clock.now_ms(),
                    ops: ops.clone(),
                    // Signed records name where they belong (FORMAT.md §5.7).
                    place: signing.is_some().then(|| RecordBody::place_of(coll)),
                    sig: None,
                };
                match signing {
                    Some(key) => body.seal_signed(key),
                    None => body.seal(&self.keys.mac),
                }
            },
            |plain, at| {
                crate::format::record::open(plain, &self.keys.mac)
                    .ok()
                    .filter(|r| {
                        r.body.device == own
                            && r.body.seq == at
                            && signing.is_none_or(|k| r.signed_by(&k.public()))
                    })
                    .map(|r| r.hash)
            },
        )?;
        let name = self.device.device_name.clone();
        self.device
            .known
            .insert(chain, KnownHead { seq, hash, name });
        Ok(self.local.save(&self.device)?)
    }
}

/// Deletes contents a failed write placed (best effort: what cannot be
/// deleted now is an orphan that `verify` reports and `verify --repair`
/// removes, FORMAT.md §1.2).
fn remove_contents(contents: &[std::path::PathBuf]) {
    for path in contents {
        if std::fs::remove_file(path).is_ok() {
            if let Some(shard) = path.parent() {
                let _ = std::fs::remove_dir(shard); // only if now empty
            }
        }
    }
}

impl Vault {
    /// The plaintext of the age file at `dest`, if it is a regular file of
    /// at most `max` bytes that our keys open: what sits where this device
    /// wanted to write (its own file it had not read, or anything planted:
    /// a folder, a huge file).
    fn plaintext_at(&self, dest: &Path, max: u64) -> Option<zeroize::Zeroizing<Vec<u8>>> {
        let bytes = fsutil::read_limited(dest, max).ok().flatten()?;
        crypt::decrypt_bytes(&bytes, &self.keys.identities()).ok()
    }

    /// Writes this device's next file of a chain (`r/<device>/` or
    /// `a/<device>/`) at position `seq`, linked to `prev`; returns the
    /// position and hash it got. A taken name is never overwritten (our own
    /// file we had not read, or anything planted): the next number is tried,
    /// linked to what sits there if `own_hash` recognises it as this
    /// device's file at that position (FORMAT.md §7 "Writing", §10.4). A
    /// thousand taken names in a row end the attempt. With `alone`, only
    /// the new file is made durable, not what was written before it.
    #[allow(clippy::too_many_arguments)]
    fn append_chain(
        &self,
        dir: &Path,
        mut seq: u64,
        mut prev: Option<String>,
        max: u64,
        recipients: &[age::x25519::Recipient],
        alone: bool,
        seal: impl Fn(u64, Option<String>) -> (Vec<u8>, String),
        own_hash: impl Fn(&[u8], u64) -> Option<String>,
    ) -> Result<(u64, String), StorageError> {
        for _ in 0..1000 {
            let (plain, hash) = seal(seq, prev.clone());
            let bytes = crypt::encrypt_bytes(&plain, recipients);
            let dest = dir.join(Layout::record_name(seq));
            let written = if alone {
                fsutil::write_new_alone(&dest, &bytes)
            } else {
                fsutil::write_new(self.layout.root(), &dest, &bytes)
            };
            match written {
                Ok(()) => return Ok((seq, hash)),
                Err(e) if e.already_exists() => {
                    prev = self
                        .plaintext_at(&dest, max)
                        .and_then(|p| own_hash(&p, seq));
                    seq += 1;
                }
                Err(e) => return Err(e),
            }
        }
        Err(StorageError::planted(
            dir,
            crate::errors::StorageCause::PositionsTaken,
        ))
    }
}

/// Why a change could not be committed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CommitError {
    #[error(transparent)]
    Storage(StorageError),
    #[error(transparent)]
    Audit(AuditWriteError),
    #[error(transparent)]
    Refused(crate::errors::WriteRefused),
}

impl From<crate::errors::WriteRefused> for CommitError {
    fn from(e: crate::errors::WriteRefused) -> Self {
        Self::Refused(e)
    }
}

impl From<StorageError> for CommitError {
    fn from(e: StorageError) -> Self {
        Self::Storage(e)
    }
}
impl From<AuditWriteError> for CommitError {
    fn from(e: AuditWriteError) -> Self {
        Self::Audit(e)
    }
}

macro_rules! from_commit {
    ($($t:ty),*) => {$(
        impl From<CommitError> for $t {
            fn from(e: CommitError) -> Self {
                match e {
                    CommitError::Storage(e) => Self::Storage(e),
                    CommitError::Audit(e) => Self::Audit(e),
                    CommitError::Refused(e) => Self::Refused(e),
                }
            }
        }
    )*};
}
from_commit!(
    crate::errors::AddError,
    crate::errors::MkdirError,
    crate::errors::MoveError,
    crate::errors::RemoveError,
    crate::errors::RestoreError,
    crate::errors::PurgeError,
    crate::errors::RevertError
);

/// How [`Vault::finish_open`] was reached.
enum OpenKind<'a> {
    /// With this device's identity (its own keyslot).
    Device(&'a AgeIdentity),
    /// With the recovery identity: for each key (`"<collection> <recipient>"`),
    /// the first keyslot that carried it.
    Identity(BTreeMap<String, String>),
}

/// Remembers, for each key of `keys`, the keyslot `slot` it came from (the
/// first one wins, as in [`merge_keys`]).
fn note_origin(origin: &mut BTreeMap<String, String>, slot: &str, keys: &VaultKeys) {
    for (collection, identity) in &keys.collections {
        origin
            .entry(format!("{collection} {}", identity.recipient()))
            .or_insert_with(|| slot.to_owned());
    }
}

/// Adds the collection keys of `more` (another recovery keyslot: the first
/// one, or one a key rotation wrote, FORMAT.md §13.1) to `keys`. The keys
/// whose ids come first in byte order of their keyslots' names are the base.
/// Which keys count for writing is decided by the team log (§13.2).
fn merge_keys(keys: &mut Option<VaultKeys>, more: VaultKeys) {
    let Some(base) = keys else {
        *keys = Some(more);
        return;
    };
    // By collection and key: a planted keyslot naming a genuine key under
    // another collection's id must not hide the genuine one (FORMAT.md §4.2).
    for (id, identity) in &more.collections {
        let r = identity.recipient().to_string();
        if !base
            .collections
            .iter()
            .any(|(c, i)| c == id && i.recipient().to_string() == r)
        {
            base.collections.push((id.clone(), identity.clone()));
        }
    }
}

#[derive(Debug)]
enum SlotError {
    NoMatch,
    Corrupt,
}

fn open_keyslot(
    bytes: &[u8],
    identities: &[&dyn age::Identity],
    vault: &str,
) -> Result<VaultKeys, SlotError> {
    let plain = crypt::decrypt_bytes(bytes, identities).map_err(|e| match e {
        DecryptFailure::NoMatchingKey => SlotError::NoMatch,
        _ => SlotError::Corrupt,
    })?;
    let slot: KeyslotPlain = serde_json::from_slice(&plain).map_err(|_| SlotError::Corrupt)?;
    // A keyslot of another vault copied in is refused (docs/THREAT_MODEL.md §4).
    if slot.chartsafe_keyslot != 1 || slot.vault != vault {
        return Err(SlotError::Corrupt);
    }
    VaultKeys::from_plain(&slot).ok_or(SlotError::Corrupt)
}

fn write_keyslot(
    layout: &Layout,
    slot: &str,
    plain: &KeyslotPlain,
    to: &age::x25519::Recipient,
) -> Result<(), StorageError> {
    // Pre-sized, so that growing it leaves no copies of the keys behind.
    let mut json = zeroize::Zeroizing::new(Vec::with_capacity(16 << 10));
    serde_json::to_writer(&mut *json, plain).expect("keyslot serialises");
    let bytes = crypt::encrypt_bytes(&json, std::slice::from_ref(to));
    fsutil::write_new(layout.root(), &layout.keyslot(slot), &bytes)
}

/// Enrols `device`: a new device secret in the keychain, a keyslot `slot`
/// for (device secret, passphrase) in the vault folder, and the local state.
#[allow(clippy::too_many_arguments)]
fn enrol(
    layout: &Layout,
    local: &LocalDir,
    vault: &str,
    plain: &KeyslotPlain,
    store: &dyn SecretStore,
    passphrase: &SecretString,
    kdf_log_n: u8,
    mut device: DeviceState,
    slot: String,
) -> Result<(DeviceState, AgeIdentity), EnrolError> {
    let secret = DeviceSecret::generate();
    let kdf = KdfParams::new(kdf_log_n);
    let identity = secret
        .device_identity(passphrase, &kdf)
        .expect("fresh parameters are valid");
    write_keyslot(layout, &slot, plain, &identity.recipient())?;
    store.set(&keychain_key(vault), secret.as_stored())?;
    device.slot = Some(slot);
    device.kdf = Some(kdf);
    local.save(&device)?;
    Ok((device, identity))
}

/// Failures of enrolment, converted into the caller's error type.
#[derive(Debug)]
enum EnrolError {
    Storage(StorageError),
    Keychain(crate::traits::SecretStoreError),
    Audit(AuditWriteError),
}

impl From<AuditWriteError> for EnrolError {
    fn from(e: AuditWriteError) -> Self {
        Self::Audit(e)
    }
}

impl From<StorageError> for EnrolError {
    fn from(e: StorageError) -> Self {
        Self::Storage(e)
    }
}
impl From<crate::traits::SecretStoreError> for EnrolError {
    fn from(e: crate::traits::SecretStoreError) -> Self {
        Self::Keychain(e)
    }
}
impl From<EnrolError> for CreateError {
    fn from(e: EnrolError) -> Self {
        match e {
            EnrolError::Storage(e) => Self::Storage(e),
            EnrolError::Keychain(e) => Self::Keychain(e),
            EnrolError::Audit(e) => Self::Audit(e),
        }
    }
}
impl From<EnrolError> for RecoverError {
    fn from(e: EnrolError) -> Self {
        match e {
            EnrolError::Storage(e) => Self::Storage(e),
            EnrolError::Keychain(e) => Self::Keychain(e),
            EnrolError::Audit(e) => Self::Audit(e),
        }
    }
}

impl From<TeamWriteError> for CreateError {
    fn from(e: TeamWriteError) -> Self {
        match e {
            TeamWriteError::Storage(e) => Self::Storage(e),
            TeamWriteError::NoKey => Self::Team(crate::errors::WriteRefused::NoSigningKey.into()),
        }
    }
}
impl From<TeamWriteError> for RecoverError {
    fn from(e: TeamWriteError) -> Self {
        match e {
            TeamWriteError::Storage(e) => Self::Storage(e),
            TeamWriteError::NoKey => Self::Refused(crate::errors::WriteRefused::NoSigningKey),
        }
    }
}

impl From<HeaderError> for UnlockError {
    fn from(e: HeaderError) -> Self {
        Self::Header(PathBuf::from(crate::format::HEADER_FILE), e)
    }
}
