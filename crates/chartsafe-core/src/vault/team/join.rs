//! Enrolment without a server (docs/FORMAT.md §12): an admin's invitations,
//! the joining device's request, the admin's approval after checking the
//! code, and the joining device's first unlock.

use crate::ids::RequestId;
use std::path::Path;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::crypt;
use crate::errors::{JoinRequestError, StorageError, TeamActionError, UnlockError, WriteRefused};
use crate::format::audit::{Action, Event, Outcome};
use crate::format::join::{self, Invite, JoinBody, OpenedJoin};
use crate::format::team::{Entry, Role};
use crate::fsutil;
use crate::ids;
use crate::keys::{AgeIdentity, DeviceSecret, KdfParams};
use crate::local::{DeviceState, LocalDir};
use crate::sign::{PublicSigningKey, SigningKey};
use crate::traits::SecretStore;

use crate::vault::{keychain_key, read_header, write_keyslot, Options, Vault};

/// Folder of join requests (FORMAT.md §12).
pub(crate) const JOIN_DIR: &str = "j";
/// How long an invitation can be used.
const INVITE_TTL_MS: i64 = 7 * 24 * 3600 * 1000;
/// Largest join request read.
const REQUEST_MAX: u64 = 64 << 10;

/// An invitation just made: give `text` to the person, out of band.
pub struct Invitation {
    /// The text to give (52 characters in groups of four).
    pub text: SecretString,
    /// Its public id.
    pub id: String,
    /// Until when it can be used (ms).
    pub expires: i64,
}

/// A join request an admin's invitation opens.
#[derive(Debug, Clone)]
pub struct JoinRequestInfo {
    /// The request's file id (`j/<id>`), for [`Vault::approve`].
    pub id: RequestId,
    /// The person's name, as they typed it.
    pub name: String,
    /// The device's name.
    pub device_name: String,
    /// Whether it is a new person (else a new device of a member).
    pub new_member: bool,
    /// When it was made (the joining device's clock).
    pub time: i64,
}

/// What the joining device shows after writing its request.
#[derive(Debug, Clone)]
pub struct PendingJoin {
    /// The code the person reads out to the admin.
    pub code: String,
    /// The request's file id.
    pub request: RequestId,
}

/// An invitation as the admin's device keeps it (encrypted, §7).
#[derive(Serialize, Deserialize)]
struct KeptInvite {
    text: String,
    created: i64,
    expires: i64,
}

impl Drop for KeptInvite {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.text.zeroize();
    }
}

/// What the joining device keeps until its first unlock (encrypted to its
/// own device identity): its signing key and the invitation.
#[derive(Serialize, Deserialize)]
struct KeptJoin {
    signing_key: String,
    invite: String,
}

impl Drop for KeptJoin {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.signing_key.zeroize();
        self.invite.zeroize();
    }
}

fn invites_file(local: &LocalDir) -> std::path::PathBuf {
    local.file_named("invites.age")
}

fn join_file(local: &LocalDir) -> std::path::PathBuf {
    local.file_named("join.age")
}

impl Vault {
    /// The admin's signing key, or why this device may not manage the team.
    pub(in crate::vault) fn admin_key(&self) -> Result<(), TeamActionError> {
        self.signing_for_write()?
            .ok_or(TeamActionError::Refused(WriteRefused::NoTeam))?;
        let team = self.team().team.as_ref().ok_or(WriteRefused::NoTeam)?;
        match team.role_of_device(self.device_id()) {
            Some(Role::Admin) => Ok(()),
            _ => Err(TeamActionError::NotAdmin),
        }
    }

    /// The key this device's invitations are kept under: derived from its
    /// own signing key, so that nobody else holding the vault keys (a
    /// removed member with a copy of this computer's state folder) can read
    /// them (FORMAT.md §7).
    fn invites_key(&self) -> Option<AgeIdentity> {
        let seed = self.keys.signing.as_ref()?.seed();
        let mut sk = zeroize::Zeroizing::new([0u8; 32]);
        hkdf::Hkdf::<sha2::Sha256>::new(Some(b"chartsafe/v2"), seed.as_ref())
            .expand(b"kept invitations", sk.as_mut())
            .expect("32 bytes is a valid HKDF output length");
        Some(AgeIdentity::from_secret_bytes(&sk))
    }

    fn kept_invites(&self) -> Vec<KeptInvite> {
        let Some(key) = self.invites_key() else {
            return Vec::new();
        };
        let Ok(Some(bytes)) = fsutil::read_limited(&invites_file(&self.local), 1 << 20) else {
            return Vec::new();
        };
        crypt::decrypt_bytes(&bytes, &[key.as_age()])
            .ok()
            .and_then(|p| serde_json::from_slice(&p).ok())
            .unwrap_or_default()
    }

    fn keep_invites(&self, invites: &[KeptInvite]) -> Result<(), StorageError> {
        let json = zeroize::Zeroizing::new(serde_json::to_vec(invites).expect("serialises"));
        let key = self
            .invites_key()
            .expect("an admin's device has a signing key");
        let bytes = crypt::encrypt_bytes(&json, &[key.recipient()]);
        self.local.ensure_dir()?;
        fsutil::write_replace(&invites_file(&self.local), &bytes)
    }

    /// Makes an invitation (FORMAT.md §12.1), valid for 7 days and kept on
    /// this device (encrypted) to open the requests made with it.
    pub fn invite(&mut self) -> Result<Invitation, TeamActionError> {
        self.admin_key()?;
        let root = self.pinned_root().ok_or(WriteRefused::NoTeam)?;
        let invite = Invite::new(&root);
        let now = self.clock.now_ms();
        let expires = now + INVITE_TTL_MS;
        let id = invite.id();
        self.append_audit(vec![Event::new(now, Action::InviteCreated).detail(
            format!(
                "invitation {id}, valid until {}",
                crate::names::date_time(expires)
            ),
        )])?;
        let text = invite.to_text();
        let mut kept = self.kept_invites();
        kept.retain(|k| k.expires > now);
        kept.push(KeptInvite {
            text: text.expose_secret().to_owned(),
            created: now,
            expires,
        });
        self.keep_invites(&kept)?;
        Ok(Invitation { text, id, expires })
    }

    /// The join requests in the folder that this device's unexpired
    /// invitations open (others are not for this device, and are skipped).
    pub fn join_requests(&mut self) -> Result<Vec<JoinRequestInfo>, TeamActionError> {
        self.admin_key()?;
        Ok(self
            .open_requests()?
            .into_iter()
            .map(|(id, _, r)| JoinRequestInfo {
                id: RequestId::checked(id),
                name: r.body.name.clone(),
                device_name: r.body.device_name.clone(),
                new_member: r.body.new_member,
                time: r.body.time,
            })
            .collect())
    }

    fn open_requests(&self) -> Result<Vec<(String, Invite, OpenedJoin)>, StorageError> {
        let now = self.clock.now_ms();
        let invites: Vec<Invite> = self
            .kept_invites()
            .iter()
            .filter(|k| k.expires > now)
            .filter_map(|k| Invite::parse(&k.text).ok())
            .collect();
        let dir = self.layout.root().join(JOIN_DIR);
        let mut out = Vec::new();
        for name in fsutil::list_dir(&dir)? {
            if !ids::is_id(&name) {
                continue;
            }
            let Some(bytes) = fsutil::read_limited(&dir.join(&name), REQUEST_MAX)? else {
                continue;
            };
            for invite in &invites {
                let identity = invite.identity();
                let Ok(plain) = crypt::decrypt_bytes(&bytes, &[identity.as_age()]) else {
                    continue;
                };
                if let Ok(opened) = join::open(&plain, self.id(), invite) {
                    out.push((name.clone(), invite.clone(), opened));
                    break;
                }
            }
        }
        out.sort_by(|a, b| a.2.body.time.cmp(&b.2.body.time).then(a.0.cmp(&b.0)));
        Ok(out)
    }

    /// Approves join request `request` if `typed_code` is its code (the one
    /// the person reads from their screen): adds the person (a new member
    /// gets `role`) and their device to the team log, and gives the device
    /// the vault keys in its keyslot (FORMAT.md §12). A wrong code approves
    /// nothing and is recorded.
    pub fn approve(
        &mut self,
        request: &str,
        typed_code: &str,
        role: Role,
    ) -> Result<(), TeamActionError> {
        self.approve_for(request, typed_code, Err(role))
    }

    /// Approves a join request as another computer of the existing member
    /// `who` (id or exact name), if `typed_code` is the request's code
    /// (FORMAT.md §12.4): the admin, who checked the code with that person,
    /// decides whose computer it is; the request's own member id is not
    /// used. The computer receives the keys of what that member may read.
    pub fn approve_computer(
        &mut self,
        request: &str,
        typed_code: &str,
        who: &str,
    ) -> Result<(), TeamActionError> {
        let team = self.team().team.as_ref().ok_or(WriteRefused::NoTeam)?;
        let found: Vec<&crate::team::Member> = team
            .members
            .values()
            .filter(|m| !m.removed && (m.id == who || m.name == who))
            .collect();
        let member = match found.as_slice() {
            [m] => m.id.clone(),
            [] => return Err(TeamActionError::NoSuchTarget(crate::names::printable(who))),
            _ => return Err(TeamActionError::Ambiguous(crate::names::printable(who))),
        };
        self.approve_for(request, typed_code, Ok(member))
    }

    /// `target`: an existing member's id, or the role of a new member.
    fn approve_for(
        &mut self,
        request: &str,
        typed_code: &str,
        target: Result<String, Role>,
    ) -> Result<(), TeamActionError> {
        self.admin_key()?;
        let requests = self.open_requests()?;
        let (_, invite, opened) = requests
            .into_iter()
            .find(|(id, _, _)| id == request)
            .ok_or_else(|| TeamActionError::NoSuchRequest(crate::names::printable(request)))?;
        let b = &opened.body;
        let joining = self.joining(b, &target)?;
        let now = self.clock.now_ms();
        if !join::code_matches(typed_code, &join::join_code(&invite, &opened.hash)) {
            self.append_audit(vec![Event::new(now, Action::JoinRefused)
                .outcome(Outcome::Denied, "the code did not match")
                .detail(joining.who)])?;
            return Err(TeamActionError::CodeMismatch);
        }
        let team = self.team().team.as_ref().ok_or(WriteRefused::NoTeam)?;
        let member = &joining.member;
        // A request names a member id; only a new person's is used. A
        // request naming someone else's id (ids are in every record) never
        // attaches a device to them: whose computer it is, the admin says
        // (FORMAT.md §12.4).
        // A retry after a crash finds its own entries: the device with this
        // request's key, under this member.
        let done = is_listed(team, b, member);
        let member_taken = joining.new_member && team.members.contains_key(member);
        if !done && (member_taken || team.devices.contains_key(&b.device)) {
            return Err(TeamActionError::NotAccepted(
                "the request reuses the id of a member or computer already in the team".into(),
            ));
        }
        self.append_audit(vec![
            Event::new(now, Action::MemberApproved).detail(joining.who.clone())
        ])?;
        if !done {
            self.add_joining(b, &joining, &opened.hash)?;
        }
        // Only a device the team log now lists, under the new member, gets
        // the vault keys.
        let team = self.team().team.as_ref().ok_or(WriteRefused::NoTeam)?;
        if !(is_listed(team, b, member) && team.active_member(member).is_some()) {
            let why = team.rejected.last().map_or_else(
                || "the new entries do not count".to_owned(),
                |r| r.reason.to_string(),
            );
            return Err(TeamActionError::NotAccepted(why));
        }
        match self.write_join_keyslot(b, member, now) {
            Ok(()) => {}
            // Written by an earlier attempt that stopped before the end.
            Err(e) if done && e.already_exists() => {}
            Err(e) => return Err(e.into()),
        }
        let _ = std::fs::remove_file(self.layout.root().join(JOIN_DIR).join(request));
        Ok(())
    }

    /// Who a request joins as: the new person it names, with `role`
    /// (`Err`), or another computer of the existing member `Ok(id)`.
    fn joining(
        &self,
        b: &JoinBody,
        target: &Result<String, Role>,
    ) -> Result<Joining, TeamActionError> {
        let team = self.team().team.as_ref().ok_or(WriteRefused::NoTeam)?;
        Ok(match target {
            Err(role) => Joining {
                member: b.member.clone(),
                new_member: true,
                role: *role,
                who: format!(
                    "{} ({}), device \"{}\"",
                    b.name,
                    role.as_str(),
                    b.device_name
                ),
            },
            Ok(m) => Joining {
                member: m.clone(),
                new_member: false,
                role: team.active_member(m).map_or(Role::Viewer, |x| x.role),
                who: format!(
                    "another computer of {}, device \"{}\"",
                    team.members.get(m).map_or("?", |x| x.name.as_str()),
                    b.device_name
                ),
            },
        })
    }

    /// Writes the team entries that add the request's person (if new) and
    /// device; `request` is the request's hash, which `device_add` names.
    fn add_joining(
        &mut self,
        b: &JoinBody,
        joining: &Joining,
        request: &str,
    ) -> Result<(), TeamActionError> {
        if joining.new_member {
            let entry = Entry::MemberAdd {
                member: joining.member.clone(),
                name: b.name.clone(),
                role: joining.role,
            };
            self.append_team(entry, None)?;
        }
        let entry = Entry::DeviceAdd {
            member: joining.member.clone(),
            device: b.device.clone(),
            name: b.device_name.clone(),
            recipient: b.recipient.clone(),
            signing: b.signing.clone(),
            request: Some(request.to_owned()),
        };
        self.append_team(entry, None)?;
        Ok(())
    }

    /// The keyslot that gives the new device the vault keys, under its
    /// member id; its own signing key it adds itself at its first unlock.
    /// Only the keys of the collections it may read: the vault's first,
    /// and (for an admin) every other (FORMAT.md §14.2).
    fn write_join_keyslot(&self, b: &JoinBody, member: &str, now: i64) -> Result<(), StorageError> {
        let team = self.team().team.as_ref();
        let mut plain = self.keys.to_plain(self.id(), now);
        plain.member = member.to_owned();
        let default = self.collection_id();
        plain.collections.retain_mut(|c| {
            let keep = c.id == default || team.is_some_and(|t| t.may_read(&b.device, &c.id));
            if !keep {
                use zeroize::Zeroize;
                c.identity.zeroize();
            }
            keep
        });
        let recipient: age::x25519::Recipient = b
            .recipient
            .parse()
            .expect("checked when the request was opened");
        write_keyslot(&self.layout, &b.slot, &plain, &recipient)
    }

    /// Writes a join request into the vault folder `dir` for invitation
    /// `invite_text` (FORMAT.md §12.2), enrolling this device's keychain
    /// and passphrase, and returns the code to read out to the admin.
    /// `name` is the person's name.
    pub fn request_join(
        dir: &Path,
        invite_text: &str,
        name: &str,
        store: &dyn SecretStore,
        passphrase: &SecretString,
        options: Options,
    ) -> Result<PendingJoin, JoinRequestError> {
        if !crate::vault::check_passphrase(passphrase) {
            return Err(JoinRequestError::WeakPassphrase(
                crate::vault::MIN_PASSPHRASE_CHARS,
            ));
        }
        let invite = Invite::parse(invite_text)?;
        let header = read_header(dir).map_err(JoinRequestError::Open)?;
        let local = LocalDir::new(&options.state_dir, &header.id);
        if local.load()?.is_some_and(|d| d.slot.is_some()) {
            return Err(JoinRequestError::AlreadyEnrolled);
        }
        let mut device = DeviceState::new(&options.device_name);
        let secret = DeviceSecret::generate();
        let kdf = KdfParams::new(options.kdf_log_n);
        let identity = secret
            .device_identity(passphrase, &kdf)
            .expect("fresh parameters are valid");
        let signing = SigningKey::generate();
        let slot = ids::random_id();
        let body = JoinBody {
            format: join::JOIN_VERSION,
            vault: header.id.clone(),
            invite: invite.id(),
            member: ids::random_id(),
            new_member: true,
            name: crate::names::clean_device_name(name),
            device: device.device.clone(),
            device_name: device.device_name.clone(),
            recipient: identity.recipient().to_string(),
            signing: signing.public().to_string(),
            slot: slot.clone(),
            time: options.clock.now_ms(),
        };
        let (plain, hash) = body.seal(&signing);
        // The request first: if this stops half way, nothing here says this
        // computer is enrolled, and asking again makes a new request (an
        // earlier one nobody can use is harmless to approve).
        let request = ids::random_id();
        let layout = crate::format::Layout::new(dir);
        fsutil::write_new(
            layout.root(),
            &layout.root().join(JOIN_DIR).join(&request),
            &crypt::encrypt_bytes(&plain, &[invite.identity().recipient()]),
        )?;
        // Kept for the first unlock, readable only with this device's
        // keychain secret and passphrase.
        let kept = KeptJoin {
            signing_key: ids::hex(signing.seed().as_ref()),
            invite: invite.to_text().expose_secret().to_owned(),
        };
        let kept_json = zeroize::Zeroizing::new(serde_json::to_vec(&kept).expect("serialises"));
        local.ensure_dir()?;
        fsutil::write_replace(
            &join_file(&local),
            &crypt::encrypt_bytes(&kept_json, &[identity.recipient()]),
        )?;
        store.set(&keychain_key(&header.id), secret.as_stored())?;
        device.slot = Some(slot);
        device.kdf = Some(kdf);
        local.save(&device)?;
        Ok(PendingJoin {
            code: join::join_code(&invite, &hash),
            request: RequestId::checked(request),
        })
    }

    /// At the first unlock after approval: checks that the folder's team
    /// log is the invitation's (its root key's fingerprint), pins that root,
    /// and writes this device's own keyslot with its signing key
    /// (FORMAT.md §12.3, §4).
    pub(in crate::vault) fn complete_join(
        &mut self,
        identity: &AgeIdentity,
    ) -> Result<(), UnlockError> {
        let path = join_file(&self.local);
        let Some(bytes) = fsutil::read_limited(&path, 1 << 20)? else {
            return Ok(());
        };
        let Ok(plain) = crypt::decrypt_bytes(&bytes, &[identity.as_age()]) else {
            return Err(UnlockError::KeychainEntryDamaged);
        };
        let kept: KeptJoin =
            serde_json::from_slice(&plain).map_err(|_| UnlockError::KeychainEntryDamaged)?;
        let invite = Invite::parse(&kept.invite).map_err(|_| UnlockError::KeychainEntryDamaged)?;
        // The root: the genesis in the folder whose root matches the
        // invitation. Its entries are then checked against it as usual.
        let Some(root) = self
            .team_roots()
            .into_iter()
            .find(|r| invite.matches_root(r))
        else {
            // A log this device cannot open at all was re-encrypted to a
            // key it was never given: it was removed before its first
            // unlock. Either way nothing is pinned.
            return Err(if self.team.status.unreadable.is_empty() {
                UnlockError::NotInvitedVault
            } else {
                UnlockError::KeysReplaced
            });
        };
        self.device.root = Some(root.to_string());
        let seed: [u8; 32] = ids::unhex(&kept.signing_key)
            .and_then(|v| v.try_into().ok())
            .ok_or(UnlockError::KeychainEntryDamaged)?;
        self.keys.signing = Some(SigningKey::from_seed(&seed));
        self.load_team()?;
        let mine = self
            .team()
            .team
            .as_ref()
            .and_then(|t| t.devices.get(self.device_id()))
            .is_some_and(|d| Some(d.signing) == self.keys.signing.as_ref().map(|k| k.public()));
        if !mine {
            // Approved keys without our device in the team: not yet synced.
            self.device.root = None;
            return Err(UnlockError::AwaitingApproval);
        }
        let slot = ids::random_id();
        let mut plain = self.keys.to_plain(self.id(), self.clock.now_ms());
        plain.signing_key = Some(ids::hex(&seed));
        write_keyslot(&self.layout, &slot, &plain, &identity.recipient())?;
        self.device.slot = Some(slot);
        self.local.save(&self.device)?;
        let _ = std::fs::remove_file(&path);
        Ok(())
    }

    /// The root keys named by the geneses in the folder (unverified).
    fn team_roots(&self) -> Vec<PublicSigningKey> {
        self.team_entries()
            .filter_map(|e| match &e.body.entry {
                Entry::Genesis { root, .. } => PublicSigningKey::parse(root).ok(),
                _ => None,
            })
            .collect()
    }
}

/// What [`Vault::remove_from_team`] removed.
#[derive(Debug, Clone)]
pub struct Removal {
    /// The member's or device's name.
    pub name: String,
    /// Whether a whole member (else one device).
    pub member: bool,
    /// How many devices lost their rights.
    pub devices: usize,
    /// Names of the devices of which this computer has accepted no change:
    /// if they wrote any that has not synced here, it will not count
    /// (FORMAT.md §11.6).
    pub unseen: Vec<String>,
    /// The key rotation that followed (FORMAT.md §13.1): what is written
    /// from now on is under a key the removed party never had.
    pub rotation: Option<crate::vault::Rotation>,
}

impl Vault {
    /// Removes a member (every device of theirs) or one device from the
    /// team, by id or exact name (FORMAT.md §11.3): from now on their
    /// changes are refused, after the newest record of each of their
    /// devices this device has accepted (the cutoff, §11.6). Admins only,
    /// except that anyone may remove their own devices. The collection key
    /// is then replaced ([`Vault::rotate_key`]), so nothing written
    /// afterwards opens with the keys they held; what is already in the
    /// folder is re-encrypted by [`Vault::rekey_job`] (THREAT_MODEL §3.3).
    pub fn remove_from_team(&mut self, who: &str) -> Result<Removal, TeamActionError> {
        // The newest records of every device, as accepted now.
        self.load()
            .map_err(|crate::errors::ListError::Storage(s)| TeamActionError::Storage(s))?;
        self.signing_for_write()?
            .ok_or(TeamActionError::Refused(WriteRefused::NoTeam))?;
        let team = self.team().team.as_ref().ok_or(WriteRefused::NoTeam)?;
        let (entry, removal, targets) = removal_of(team, who)?;
        may_remove(team, self.device_id(), &entry)?;
        let cutoffs: std::collections::BTreeMap<String, crate::format::team::Cutoff> = targets
            .iter()
            .filter_map(|d| Some((d.clone(), self.device.known.get(d)?.cutoff())))
            .collect();
        let mut removal = removal;
        removal.unseen = targets
            .iter()
            .filter(|d| !cutoffs.contains_key(*d))
            .filter_map(|d| team.devices.get(d).map(|x| x.name.clone()))
            .collect();
        let entry = match entry {
            Entry::MemberRemove { member, .. } => Entry::MemberRemove { member, cutoffs },
            Entry::DeviceRemove { device, .. } => Entry::DeviceRemove { device, cutoffs },
            other => other,
        };
        let now = self.clock.now_ms();
        let what = format!(
            "{} \"{}\" ({} device(s))",
            if removal.member { "member" } else { "device" },
            removal.name,
            removal.devices
        );
        self.append_audit(vec![Event::new(now, Action::Removed).detail(what.clone())])?;
        let hash = self.append_team(entry, None)?;
        // The team log judges it like everyone else's entry.
        let team = self.team().team.as_ref().ok_or(WriteRefused::NoTeam)?;
        if let Some(r) = team.rejected.iter().find(|r| r.hash == hash) {
            return Err(TeamActionError::NotAccepted(r.reason.to_string()));
        }
        // Reading ends too, for everything written from now on: a new key
        // for everyone left (FORMAT.md §13.1). If this fails, the removal
        // stands and `rotate` finishes the job.
        removal.rotation = Some(self.rotate_key(&format!("removal of {what}"))?);
        Ok(removal)
    }
}

impl From<crate::vault::team::TeamWriteError> for TeamActionError {
    fn from(e: crate::vault::team::TeamWriteError) -> Self {
        match e {
            crate::vault::team::TeamWriteError::Storage(s) => Self::Storage(s),
            crate::vault::team::TeamWriteError::NoKey => WriteRefused::NoSigningKey.into(),
        }
    }
}

/// Whom a join request adds, as the approving admin decided.
struct Joining {
    member: String,
    new_member: bool,
    role: Role,
    /// For the audit log: the person (or member) and the computer.
    who: String,
}

/// Whether the team lists the request's device, with the request's
/// signing key, under `member`, and not removed.
fn is_listed(team: &crate::team::Team, b: &JoinBody, member: &str) -> bool {
    team.devices
        .get(&b.device)
        .is_some_and(|d| d.member == member && d.signing.to_string() == b.signing && !d.removed)
}

/// The entry that removes `who` (a member or a computer, by id or exact
/// name), what it removes, and the devices that lose their rights.
fn removal_of(
    team: &crate::team::Team,
    who: &str,
) -> Result<(Entry, Removal, Vec<String>), TeamActionError> {
    let members: Vec<_> = team
        .members
        .values()
        .filter(|m| !m.removed && (m.id == who || m.name == who))
        .collect();
    let devices: Vec<_> = team
        .devices
        .values()
        .filter(|d| !d.removed && (d.id == who || d.name == who))
        .collect();
    let shown = crate::names::printable(who);
    let removal = |name: &str, member: bool, devices: usize| Removal {
        name: name.to_owned(),
        member,
        devices,
        unseen: Vec::new(),
        rotation: None,
    };
    match (members.as_slice(), devices.as_slice()) {
        ([m], []) => {
            let targets: Vec<String> = team
                .devices
                .values()
                .filter(|d| d.member == m.id && !d.removed)
                .map(|d| d.id.clone())
                .collect();
            let entry = Entry::MemberRemove {
                member: m.id.clone(),
                cutoffs: Default::default(),
            };
            Ok((entry, removal(&m.name, true, targets.len()), targets))
        }
        ([], [d]) => {
            let entry = Entry::DeviceRemove {
                device: d.id.clone(),
                cutoffs: Default::default(),
            };
            Ok((entry, removal(&d.name, false, 1), vec![d.id.clone()]))
        }
        ([], []) => Err(TeamActionError::NoSuchTarget(shown)),
        _ => Err(TeamActionError::Ambiguous(shown)),
    }
}

/// Whether this device (`own`) may write `entry`: an admin removes anyone,
/// a member one of their own computers; never the last admin (§11.5).
fn may_remove(team: &crate::team::Team, own: &str, entry: &Entry) -> Result<(), TeamActionError> {
    let own_member = team.devices.get(own).map(|d| &d.member);
    let is_admin = team.role_of_device(own) == Some(Role::Admin);
    let own_device = matches!(entry, Entry::DeviceRemove { device, .. }
        if team.devices.get(device).map(|d| &d.member) == own_member);
    if !is_admin && !own_device {
        return Err(TeamActionError::NotAdmin);
    }
    let last_admin = match entry {
        Entry::MemberRemove { member, .. } => {
            team.members[member].role == Role::Admin && !team.admin_left(Some(member), None)
        }
        Entry::DeviceRemove { device, .. } => {
            team.role_of_device(device) == Some(Role::Admin) && !team.admin_left(None, Some(device))
        }
        _ => false,
    };
    if last_admin {
        return Err(TeamActionError::NotAccepted(
            crate::team::Rejection::LastAdmin.to_string(),
        ));
    }
    Ok(())
}
