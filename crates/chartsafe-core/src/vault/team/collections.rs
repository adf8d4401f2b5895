//! Collections with their own keys (docs/FORMAT.md §14): who reads and
//! changes which folder, and how the tree keeps each collection's entries
//! apart.
//!
//! Inside this library an entry of a collection made with `collection_add`
//! is known by the key `<collection id>/<entry id>`, and its parent folder
//! likewise; the vault's first collection keeps bare entry ids. Records
//! store bare ids: the chain a record is read from says its collection, so
//! an operation can never reach an entry of another collection (an entry
//! cannot hop collections, and a folder of one cannot hold another's
//! files: a parent in another collection is simply not found).

use crate::errors::{TeamActionError, WriteRefused};
use crate::format::audit::{Action, Event};
use crate::format::record::{Op, OpenedRecord};
use crate::format::team::Entry;
use crate::ids::{CollectionId, MemberId};
use crate::keys::AgeIdentity;

use crate::vault::Vault;

/// The tree's key of entry `id` of `collection`; also the key of a device's
/// record chain in local state (FORMAT.md §7 `known`: the device id, or
/// `<collection id>/<device id>`).
pub(crate) fn scoped(collection: Option<&str>, id: &str) -> String {
    match collection {
        None => id.to_owned(),
        Some(c) => format!("{c}/{id}"),
    }
}

/// The collection and bare id of a tree key.
pub(crate) fn split_key(key: &str) -> (Option<&str>, &str) {
    match key.split_once('/') {
        Some((c, id)) => (Some(c), id),
        None => (None, key),
    }
}

/// A record of `collection` with its entry and parent ids scoped to it.
pub(crate) fn scope_record(mut rec: OpenedRecord, collection: &str) -> OpenedRecord {
    for op in &mut rec.body.ops {
        op.entry = scoped(Some(collection), &op.entry);
        if let Some(p) = &op.state.parent {
            op.state.parent = Some(scoped(Some(collection), p));
        }
    }
    rec
}

impl Vault {
    /// The collection a change's operations belong to, and the operations
    /// with bare ids, as a record stores them. Every operation must be in
    /// one collection, and a parent folder in the same one; in a
    /// collection made with `collection_add`, the member must have write
    /// access (FORMAT.md §14.1).
    pub(in crate::vault) fn route_ops(
        &self,
        ops: Vec<Op>,
    ) -> Result<(Option<String>, Vec<Op>), WriteRefused> {
        // New entries (no earlier version) have bare ids: the collection of
        // their parent, which may itself be new in this change (a folder
        // tree added at once), says where they go.
        let mut new: std::collections::HashMap<String, Option<String>> = Default::default();
        let parent_coll =
            |p: &str, new: &std::collections::HashMap<String, Option<String>>| match split_key(p) {
                (Some(c), _) => Some(c.to_owned()),
                (None, id) => new.get(id).cloned().flatten(),
            };
        let mut coll: Option<Option<String>> = None;
        let mut out = Vec::with_capacity(ops.len());
        for mut op in ops {
            let (ec, id) = split_key(&op.entry);
            let pc = op.state.parent.as_deref().map(|p| parent_coll(p, &new));
            let this: Option<String> = match ec {
                Some(c) => Some(c.to_owned()),
                None if op.parents.is_empty() => {
                    let c = pc.clone().flatten();
                    new.insert(id.to_owned(), c.clone());
                    c
                }
                // An existing entry of the vault's first collection.
                None => None,
            };
            if let Some(pc) = &pc {
                if *pc != this {
                    return Err(WriteRefused::OtherCollection);
                }
            }
            match &coll {
                None => coll = Some(this.clone()),
                Some(c) if *c != this => return Err(WriteRefused::OtherCollection),
                Some(_) => {}
            }
            op.entry = id.to_owned();
            if let Some(p) = op.state.parent.take() {
                op.state.parent = Some(split_key(&p).1.to_owned());
            }
            out.push(op);
        }
        let coll = coll.flatten();
        if let (Some(c), Some(team)) = (&coll, self.team().team.as_ref()) {
            if !team.may_write(self.device_id(), c) {
                return Err(WriteRefused::NoCollectionAccess);
            }
        }
        Ok((coll, out))
    }
}

/// A collection as this computer sees it (FORMAT.md §14).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectionInfo {
    /// Its id.
    pub id: CollectionId,
    /// Its folder at the top of the vault, when this computer reads it.
    pub name: Option<String>,
    /// Whether it is the audit log's (admins only).
    pub audit: bool,
    /// The members granted it: id, name, and whether they may change it.
    pub readers: Vec<(MemberId, String, bool)>,
}

impl Vault {
    /// The collections made with `collection_add` that this computer may
    /// read (an admin's: all of them), with their folders and members.
    /// Collections it may not read are not listed (FORMAT.md §14.5).
    pub fn collections(&mut self) -> Result<Vec<CollectionInfo>, crate::errors::ListError> {
        let snap = self.load()?;
        let Some(team) = self.team().team.as_ref() else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for c in team.collections.values() {
            if !team.may_read(self.device_id(), &c.id) {
                continue;
            }
            let prefix = format!("{}/", c.id);
            let name = snap
                .tree
                .nodes
                .iter()
                .find(|n| n.entry.starts_with(&prefix) && !n.path.contains('/'))
                .map(|n| n.path.clone());
            let readers = c
                .readers
                .iter()
                .filter_map(|(m, w)| {
                    let member = team.active_member(m)?;
                    Some((MemberId::checked(m.clone()), member.name.clone(), *w))
                })
                .collect();
            out.push(CollectionInfo {
                id: CollectionId::checked(c.id.clone()),
                name,
                audit: c.audit,
                readers,
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    /// Makes the audit log's collection if the team has none yet (admins):
    /// from then on audit batches are encrypted to a key only admins hold
    /// (FORMAT.md §14.4). Returns whether it was made.
    pub(crate) fn ensure_audit_collection(&mut self) -> Result<bool, TeamActionError> {
        if self.audit_collection().is_some() {
            return Ok(false);
        }
        self.add_collection(true)?;
        Ok(true)
    }

    /// Writes a `collection_add` with a new key for the admins' devices and
    /// the recovery identity; returns the new collection's id.
    fn add_collection(&mut self, audit: bool) -> Result<String, TeamActionError> {
        self.admin_key()?;
        let id = crate::ids::random_id();
        let fresh = AgeIdentity::generate();
        let team = self.team().team.as_ref().ok_or(WriteRefused::NoTeam)?;
        let admins: Vec<(String, String, String)> = team
            .devices
            .values()
            .filter(|d| team.role_of_device(&d.id) == Some(crate::format::team::Role::Admin))
            .map(|d| (d.id.clone(), d.member.clone(), d.recipient.clone()))
            .collect();
        let (slots, recovery_slot) = self.write_slots(&id, &[&fresh], &admins, true)?;
        let recipient = fresh.recipient().to_string();
        self.keys.collections.push((id.clone(), fresh));
        let hash = self.append_team(
            Entry::CollectionAdd {
                collection: id.clone(),
                audit,
                recipient,
                slots,
                recovery_slot,
            },
            None,
        )?;
        self.refused_entry(&hash)?;
        Ok(id)
    }

    /// An error if the entry `hash` this device just wrote does not count.
    pub(in crate::vault) fn refused_entry(&self, hash: &str) -> Result<(), TeamActionError> {
        let team = self.team().team.as_ref().ok_or(WriteRefused::NoTeam)?;
        match team.rejected.iter().find(|r| r.hash == hash) {
            Some(r) => Err(TeamActionError::NotAccepted(r.reason.to_string())),
            None => Ok(()),
        }
    }

    /// Makes a collection (admins): a new folder `name` at the top of the
    /// vault with its own key, which only admins read until members are
    /// granted it ([`Vault::grant`]). Returns its id. An existing folder
    /// cannot become a collection: its names and contents are in the vault's
    /// first collection's history for good (FORMAT.md §14.1).
    pub fn create_collection(&mut self, name: &str) -> Result<CollectionId, TeamActionError> {
        self.admin_key()?;
        let name = crate::names::normalise_name(name)
            .map_err(|e| TeamActionError::NotAccepted(e.to_string()))?;
        let snap = self
            .load()
            .map_err(|crate::errors::ListError::Storage(s)| TeamActionError::Storage(s))?;
        if snap.tree.node(&name).is_some() {
            return Err(TeamActionError::NotAccepted(format!(
                "\"{name}\" exists already at the top of the vault: a collection is a new folder (an existing folder's names and contents stay in the history of the files everyone reads)"
            )));
        }
        self.ensure_audit_collection()?;
        let now = self.clock.now_ms();
        self.append_audit(vec![
            Event::new(now, Action::CollectionCreated).detail(name.clone())
        ])?;
        let id = self.add_collection(false)?;
        let entry = scoped(Some(&id), &crate::ids::random_id());
        let op = Op {
            entry: entry.clone(),
            parents: Vec::new(),
            state: crate::format::record::EntryState {
                parent: None,
                name: name.clone(),
                kind: crate::format::record::Kind::Dir,
                status: crate::format::record::Status::Live,
                content: None,
                collection: None,
            },
        };
        let event = Event::new(now, Action::FolderCreated).on(&entry, &name);
        self.commit_ops(vec![op], Vec::new(), vec![event])
            .map_err(|e| match e {
                crate::vault::CommitError::Storage(s) => TeamActionError::Storage(s),
                crate::vault::CommitError::Audit(a) => TeamActionError::Audit(a),
                crate::vault::CommitError::Refused(r) => TeamActionError::Refused(r),
            })?;
        Ok(CollectionId::checked(id))
    }

    /// The collection called `name` (its folder, or its id) that this
    /// computer reads.
    fn find_collection(&mut self, name: &str) -> Result<String, TeamActionError> {
        let all = self
            .collections()
            .map_err(|crate::errors::ListError::Storage(s)| TeamActionError::Storage(s))?;
        let found: Vec<&CollectionInfo> = all
            .iter()
            .filter(|c| !c.audit && (c.id == name || c.name.as_deref() == Some(name)))
            .collect();
        match found.as_slice() {
            [c] => Ok(c.id.to_string()),
            [] => Err(TeamActionError::NoSuchTarget(crate::names::printable(name))),
            _ => Err(TeamActionError::Ambiguous(crate::names::printable(name))),
        }
    }

    /// The active member called `who` (id or exact name).
    fn find_member(&self, who: &str) -> Result<(String, String), TeamActionError> {
        let team = self.team().team.as_ref().ok_or(WriteRefused::NoTeam)?;
        let found: Vec<_> = team
            .members
            .values()
            .filter(|m| !m.removed && (m.id == who || m.name == who))
            .collect();
        match found.as_slice() {
            [m] => Ok((m.id.clone(), m.name.clone())),
            [] => Err(TeamActionError::NoSuchTarget(crate::names::printable(who))),
            _ => Err(TeamActionError::Ambiguous(crate::names::printable(who))),
        }
    }

    /// Lets member `who` read collection `collection` (and change it, with
    /// `write`), admins only: keyslots with every key of the collection for
    /// each of the member's devices, and a signed `grant` (FORMAT.md §14.2).
    pub fn grant(
        &mut self,
        collection: &str,
        who: &str,
        write: bool,
    ) -> Result<(), TeamActionError> {
        self.admin_key()?;
        let coll = self.find_collection(collection)?;
        let (member, name) = self.find_member(who)?;
        let team = self.team().team.as_ref().ok_or(WriteRefused::NoTeam)?;
        let devices: Vec<(String, String, String)> = team
            .devices
            .values()
            .filter(|d| d.member == member && !d.removed)
            .map(|d| (d.id.clone(), d.member.clone(), d.recipient.clone()))
            .collect();
        let keys: Vec<AgeIdentity> = self
            .keys
            .collections
            .iter()
            .filter(|(id, _)| *id == coll)
            .map(|(_, k)| k.clone())
            .collect();
        if keys.is_empty() {
            return Err(TeamActionError::NotAccepted(
                "this computer has not received the collection's key yet".into(),
            ));
        }
        let now = self.clock.now_ms();
        let what = format!(
            "{} \"{}\": {}",
            coll,
            name,
            if write { "read and change" } else { "read" }
        );
        self.append_audit(vec![Event::new(now, Action::Granted).detail(what)])?;
        let refs: Vec<&AgeIdentity> = keys.iter().collect();
        let (slots, _) = self.write_slots(&coll, &refs, &devices, false)?;
        let hash = self.append_team(
            Entry::Grant {
                collection: coll,
                member,
                write,
                slots,
            },
            None,
        )?;
        self.refused_entry(&hash)
    }

    /// Takes collection `collection` away from member `who` (admins): a
    /// signed `revoke` with the cutoffs of their devices' chains in it,
    /// then a new key for the collection (FORMAT.md §14.2, §13.1). What is
    /// already there is re-encrypted by [`Vault::rekey_job`].
    pub fn revoke(&mut self, collection: &str, who: &str) -> Result<(), TeamActionError> {
        self.admin_key()?;
        let coll = self.find_collection(collection)?;
        let (member, name) = self.find_member(who)?;
        let team = self.team().team.as_ref().ok_or(WriteRefused::NoTeam)?;
        let cutoffs = team
            .devices
            .values()
            .filter(|d| d.member == member)
            .filter_map(|d| {
                let k = self.device.known.get(&scoped(Some(&coll), &d.id))?;
                Some((d.id.clone(), k.cutoff()))
            })
            .collect();
        let now = self.clock.now_ms();
        self.append_audit(vec![
            Event::new(now, Action::Revoked).detail(format!("{coll} \"{name}\""))
        ])?;
        let hash = self.append_team(
            Entry::Revoke {
                collection: coll.clone(),
                member,
                cutoffs,
            },
            None,
        )?;
        self.refused_entry(&hash)?;
        self.rotate_collection(Some(&coll), "access taken away")?;
        Ok(())
    }
}
