//! What the folder claims, checked against what this device knows
//! (docs/THREAT_MODEL.md §4.5): keyslots the recovery identity opens are
//! believed only for the keys the signed team log names, and team entries
//! this device accepted are kept outside the folder, so that restoring an
//! older copy of `t/` undoes nothing here (FORMAT.md §11.7).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use crate::crypt;
use crate::format::audit::{Action, Event, Outcome};
use crate::format::team::{self as fmt, Entry, OpenedTeamEntry};
use crate::format::Layout;
use crate::fsutil;
use crate::vault::Vault;

impl Vault {
    /// Drops every collection key that came from a keyslot opened with the
    /// recovery identity and that the team log does not name for its
    /// collection (FORMAT.md §4.2). Such a keyslot is planted: its public
    /// recipient is known to every member, and every member holds the MAC
    /// key it must carry, so it proves nothing by opening. The keyslots
    /// are remembered (see [`Vault::planted_keyslots`]).
    ///
    /// `origin` maps each key (`"<collection> <recipient>"`) to the keyslot
    /// that carried it.
    /// Without a team (a vault from before the team log) nothing can vouch
    /// for a key, and nothing is dropped.
    pub(in crate::vault) fn vouch_recovery_keys(&mut self, origin: &BTreeMap<String, String>) {
        let Some(team) = self.team().team.as_ref() else {
            return;
        };
        let named: BTreeSet<(String, String)> = team
            .keys
            .iter()
            .map(|k| (k.collection.clone(), k.recipient.clone()))
            .collect();
        let known: BTreeSet<String> = team
            .keys
            .iter()
            .map(|k| k.collection.clone())
            .chain(team.default_collection.clone())
            .collect();
        // A team log written before the genesis named its key names no key
        // for the first collection: its keys are kept as they were.
        let legacy = team.default_collection.is_none();
        let mut planted = BTreeSet::new();
        self.keys.collections.retain(|(collection, identity)| {
            let recipient = identity.recipient().to_string();
            let Some(slot) = origin.get(&format!("{collection} {recipient}")) else {
                // Not from a recovery keyslot (taken from a team entry).
                return true;
            };
            let vouched = named.contains(&(collection.clone(), recipient))
                || (legacy && !known.contains(collection));
            if !vouched {
                planted.insert(slot.clone());
            }
            vouched
        });
        // The first collection must keep a key to fall back on; the
        // recovery identity reads everything in any case (FORMAT.md §3.1).
        self.planted = planted.into_iter().collect();
    }

    /// Keyslots the recovery identity opened whose keys the team log does
    /// not name: planted by someone who can write to the folder, and
    /// ignored (FORMAT.md §4.2). Empty for an ordinary unlock.
    pub fn planted_keyslots(&self) -> &[String] {
        &self.planted
    }

    /// Records each planted keyslot once in the audit log
    /// (`change_refused`), best effort like [`Vault::flag_refused`].
    pub(in crate::vault) fn flag_planted_keyslots(&mut self) {
        let now = self.clock.now_ms();
        let fresh: Vec<String> = self
            .planted
            .iter()
            .filter(|s| !self.device.flagged.contains(&format!("k {s}")))
            .cloned()
            .collect();
        if fresh.is_empty() {
            return;
        }
        let events = fresh
            .iter()
            .map(|slot| {
                Event::new(now, Action::ChangeRefused)
                    .outcome(
                        Outcome::Denied,
                        "it opens with the recovery phrase but carries keys the team log does \
                         not name: planted",
                    )
                    .detail(format!("keyslot k/{}", crate::names::printable(slot)))
            })
            .collect();
        if self.append_audit(events).is_ok() {
            self.device
                .flagged
                .extend(fresh.iter().map(|s| format!("k {s}")));
            let _ = self.local.save(&self.device);
        }
    }
}

/// A team entry this device kept a copy of and did not read from the folder.
pub(in crate::vault) struct KeptEntry {
    pub(in crate::vault) entry: OpenedTeamEntry,
    pub(in crate::vault) bytes: Vec<u8>,
    /// The folder no longer holds it: no file at its name (deleted, or an
    /// older copy of `t/` restored), or a file this device should open
    /// (it holds the team log's current key) and does not: replaced.
    /// Otherwise its file is there and this device's keys no longer open it.
    pub(in crate::vault) gone: bool,
}

/// Largest kept team entry read back (as in the folder, FORMAT.md §11).
const KEPT_MAX: u64 = 1 << 20;

/// An entry as people read it, with names from `team` where it has them:
/// what went back when the entry vanished from the folder.
pub(in crate::vault) fn describe_entry(entry: &Entry, team: Option<&crate::team::Team>) -> String {
    let member = |id: &str| {
        team.and_then(|t| t.members.get(id))
            .map_or_else(|| format!("member {id}"), |m| format!("\"{}\"", m.name))
    };
    let device = |id: &str| {
        team.and_then(|t| t.devices.get(id)).map_or_else(
            || format!("computer {id}"),
            |d| format!("computer \"{}\"", d.name),
        )
    };
    match entry {
        Entry::Genesis { .. } => "the team log's beginning".to_owned(),
        Entry::MemberAdd { member: m, .. } => format!("the addition of {}", member(m)),
        Entry::DeviceAdd { device: d, .. } => format!("the addition of {}", device(d)),
        Entry::RoleSet {
            member: m, role, ..
        } => {
            format!("{} becoming {}", member(m), role.as_str())
        }
        Entry::MemberRemove { member: m, .. } => format!("the removal of {}", member(m)),
        Entry::DeviceRemove { device: d, .. } => format!("the removal of {}", device(d)),
        Entry::RecoveryAdmin { member: m, .. } => {
            format!("the recovery phrase's use by {}", member(m))
        }
        Entry::KeyRotate { collection, .. } => format!("a new key for collection {collection}"),
        Entry::CollectionAdd { collection, .. } => {
            format!("the creation of collection {collection}")
        }
        Entry::Grant {
            collection,
            member: m,
            ..
        } => format!("a grant of collection {collection} to {}", member(m)),
        Entry::Revoke {
            collection,
            member: m,
            ..
        } => format!(
            "the revocation of collection {collection} from {}",
            member(m)
        ),
    }
}

impl Vault {
    /// This device's copies of the team entries it accepted
    /// (`<state>/team/<entry hash>`, FORMAT.md §7).
    fn kept_team_dir(&self) -> std::path::PathBuf {
        self.local.file_named("team")
    }

    /// The entries this device keeps a copy of that it did not read from
    /// the folder (`files`: the entries read, by hash): each with the bytes
    /// of the copy and whether its file is gone from the folder (else it
    /// is there, but this device's keys no longer open it). Copies that do
    /// not open, or whose content is not the entry their name says, are
    /// skipped.
    pub(in crate::vault) fn kept_team_entries_missing(
        &self,
        files: &HashMap<String, Vec<u8>>,
    ) -> Vec<KeptEntry> {
        let Ok(dir) = std::fs::read_dir(self.kept_team_dir()) else {
            return Vec::new();
        };
        let identities = self.keys.identities();
        let mut out = Vec::new();
        for item in dir.flatten() {
            let Some(hash) = item.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            if files.contains_key(&hash) || hash.len() != 64 {
                continue;
            }
            let Ok(Some(bytes)) = fsutil::read_limited(&item.path(), KEPT_MAX) else {
                continue;
            };
            let Ok(plain) = crypt::decrypt_bytes(&bytes, &identities) else {
                continue;
            };
            match fmt::open(&plain) {
                Ok(e) if e.hash == hash => {
                    // Decided by the caller once the team is known; for now,
                    // whether a file is at its name at all.
                    let gone = !self
                        .layout
                        .device_team(&e.body.device)
                        .join(Layout::record_name(e.body.seq))
                        .exists();
                    out.push(KeptEntry {
                        entry: e,
                        bytes,
                        gone,
                    });
                }
                _ => continue,
            }
        }
        out.sort_by(|a, b| a.entry.hash.cmp(&b.entry.hash));
        out
    }

    /// Keeps a copy of every entry that counts and is not kept yet, and
    /// writes the `missing` ones that count back into the folder under
    /// their own names (when the name is free), so that other computers
    /// see them again. Best effort: local copies only strengthen rollback
    /// detection, and a folder that cannot be written is reported elsewhere.
    pub(in crate::vault) fn keep_team_entries(&mut self, missing: &[KeptEntry]) {
        let Some(team) = self.team.status.team.as_ref() else {
            return;
        };
        let dir = self.kept_team_dir();
        let kept: HashSet<String> = std::fs::read_dir(&dir)
            .map(|d| {
                d.flatten()
                    .filter_map(|i| i.file_name().to_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let counted: HashSet<&str> = team.order.iter().map(String::as_str).collect();
        for hash in &team.order {
            if kept.contains(hash) {
                continue;
            }
            if let Some(bytes) = self.team.files.get(hash) {
                if std::fs::create_dir_all(&dir).is_ok() {
                    let _ = fsutil::write_replace(&dir.join(hash), bytes);
                }
            }
        }
        for KeptEntry {
            entry: e,
            bytes,
            gone,
        } in missing
        {
            if !gone || !counted.contains(e.hash.as_str()) {
                continue;
            }
            let dest = self
                .layout
                .device_team(&e.body.device)
                .join(Layout::record_name(e.body.seq));
            let _ = fsutil::write_new(self.layout.root(), &dest, bytes);
        }
    }
}

impl Vault {
    /// A vault from before the team log (format 1), when the recovery
    /// phrase is about to start its log: the first collection's key, which
    /// the genesis will name for good, is the key that opens the vault's
    /// existing records, not whichever recovery keyslot sorts first (one
    /// planted by an enrolled device could); and the member is the author
    /// of those records (FORMAT.md §4.2). With no record yet, nothing is
    /// changed.
    pub(in crate::vault) fn pick_format1_keys(
        &mut self,
    ) -> Result<(), crate::errors::StorageError> {
        let dir = self.layout.records();
        let mut sample = None;
        'chains: for device in fsutil::list_dir(&dir)? {
            if !crate::ids::is_id(&device) {
                continue;
            }
            for name in fsutil::list_dir(&dir.join(&device))? {
                if crate::format::chain_position(&name).is_none() {
                    continue;
                }
                if let Some(bytes) = fsutil::read_limited(
                    &dir.join(&device).join(&name),
                    crate::vault::load::RECORD_MAX,
                )? {
                    sample = Some(bytes);
                    break 'chains;
                }
            }
        }
        let Some(bytes) = sample else {
            return Ok(());
        };
        let Some(pos) = self
            .keys
            .collections
            .iter()
            .position(|(_, k)| crypt::decrypt_bytes(&bytes, &[k.as_age()]).is_ok())
        else {
            return Ok(());
        };
        let key = self.keys.collections.remove(pos);
        let author = crypt::decrypt_bytes(&bytes, &[key.1.as_age()])
            .ok()
            .and_then(|p| crate::format::record::open(&p, &self.keys.mac).ok())
            .map(|r| r.body.author);
        self.keys.collections.insert(0, key);
        if let Some(author) = author {
            self.keys.member = author;
        }
        Ok(())
    }
}
