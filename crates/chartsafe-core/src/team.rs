//! The team: who may do what, computed from the team log (docs/FORMAT.md
//! §11.4; issue 5, step 2).
//!
//! [`evaluate`] is a pure function of the set of entries and the pinned root
//! key: every device holding the same entries computes the same members,
//! devices, roles and rejections, whatever order the files arrived in. That
//! is what lets the synced folder, which is hostile, be the only channel:
//! nothing an attacker plants without a device's signing key counts, and a
//! removed or demoted member's backdated entries are voided (§11.5).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, HashSet};

use crate::format::team::{Entry, OpenedTeamEntry, Role, DOMAIN, ROOT_DOMAIN};
use crate::sign::PublicSigningKey;

/// A person in the team.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Their id.
    pub id: String,
    /// Their name.
    pub name: String,
    /// Their role.
    pub role: Role,
    /// Whether they were removed (their id is never accepted again).
    pub removed: bool,
}

/// A device in the team.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// Its id.
    pub id: String,
    /// The member it belongs to.
    pub member: String,
    /// Its name.
    pub name: String,
    /// Its age recipient (`age1…`): keyslots for it are encrypted to this.
    pub recipient: String,
    /// Its public signing key.
    pub signing: PublicSigningKey,
    /// Whether it was removed, itself or with its member.
    pub removed: bool,
}

/// Why an entry does not count (§11.5). Each is reported with the entry's
/// writer and position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// Written for another vault (replayed).
    #[error("it belongs to another vault")]
    OtherVault,
    /// The device signature does not verify: forged, or altered.
    #[error("its signature does not verify (forged or altered)")]
    BadSignature,
    /// The root key's signature is missing or does not verify.
    #[error("the vault's root key did not sign it")]
    BadRootSignature,
    /// A second genesis, or a genesis with another root key.
    #[error("it claims to start the team log, which was started already")]
    SecondGenesis,
    /// It does not build on the genesis.
    #[error("it does not build on this vault's team log")]
    NotRooted,
    /// Written by a device the team log does not list.
    #[error("its device is not a member's device")]
    UnknownDevice,
    /// Written by a removed device, or a removed member's device.
    #[error("its device was removed")]
    RemovedDevice,
    /// Its `seq` or `prev` does not continue the writer's chain.
    #[error("it does not continue its device's chain")]
    BrokenChain,
    /// The writer signed two different entries at one position: a copied
    /// or compromised device. Both and everything after them are refused.
    #[error(
        "its device signed two different entries at position {0} (a copied or compromised device)"
    )]
    Fork(u64),
    /// The writer's member is not an admin.
    #[error("its author is not an admin")]
    NotAdmin,
    /// It names a member or device that does not exist or was removed.
    #[error("it names a member or device that does not exist or was removed")]
    NoSuchTarget,
    /// It reuses the id or key of a member or device (ids are never reused).
    #[error("it reuses a member's or device's id or key")]
    Reused,
    /// It would leave the team without an admin who has a device.
    #[error("it would leave the team without an admin")]
    LastAdmin,
    /// A removal or demotion of its author voided it: the author's entries
    /// that the remover had not seen do not stand (§11.5).
    #[error("its author's rights were reduced by an entry that had not seen it")]
    Voided,
}

impl Rejection {
    /// The reason's name in test vectors and machine-readable output
    /// (FORMAT.md §11.5).
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::OtherVault => "other_vault",
            Rejection::BadSignature => "bad_signature",
            Rejection::BadRootSignature => "bad_root_signature",
            Rejection::SecondGenesis => "second_genesis",
            Rejection::NotRooted => "not_rooted",
            Rejection::UnknownDevice => "unknown_device",
            Rejection::RemovedDevice => "removed_device",
            Rejection::BrokenChain => "broken_chain",
            Rejection::Fork(_) => "fork",
            Rejection::NotAdmin => "not_admin",
            Rejection::NoSuchTarget => "no_such_target",
            Rejection::Reused => "reused",
            Rejection::LastAdmin => "last_admin",
            Rejection::Voided => "voided",
        }
    }
}

/// An entry that does not count, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// The writing device, as the entry claims.
    pub device: String,
    /// Its position in that chain.
    pub seq: u64,
    /// Its hash.
    pub hash: String,
    /// Its kind (`member_add`, ...).
    pub kind: &'static str,
    /// Why.
    pub reason: Rejection,
}

/// The team as the log says, and what in the log does not count.
#[derive(Debug, Clone)]
pub struct Team {
    /// The vault's root key (pinned).
    pub root: PublicSigningKey,
    /// Every member ever added, by id.
    pub members: BTreeMap<String, Member>,
    /// Every device ever added, by id.
    pub devices: BTreeMap<String, Device>,
    /// The hashes of the entries that count, in the total order (§11.4).
    pub order: Vec<String>,
    /// The entries that count and no counted entry builds on: what the next
    /// entry names as `prev` and `deps`.
    pub heads: Vec<String>,
    /// The entries refused.
    pub rejected: Vec<Rejected>,
    /// Entries waiting for entries they build on (not synced yet): neither
    /// counted nor refused.
    pub pending: Vec<String>,
    /// For each device, its last entry that counts `(seq, hash)`.
    pub chains: BTreeMap<String, (u64, String)>,
}

/// Why no team could be computed at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TeamError {
    /// There is no genesis signed by the pinned root key.
    #[error("the team log has no valid beginning signed by this vault's root key")]
    NoGenesis,
}

impl Team {
    /// The member `id`, if present and not removed.
    pub fn active_member(&self, id: &str) -> Option<&Member> {
        self.members.get(id).filter(|m| !m.removed)
    }

    /// The device `id`, if present and not removed.
    pub fn active_device(&self, id: &str) -> Option<&Device> {
        self.devices.get(id).filter(|d| !d.removed)
    }

    /// The role of the device's member, if the device is active.
    pub fn role_of_device(&self, device: &str) -> Option<Role> {
        let d = self.active_device(device)?;
        Some(self.active_member(&d.member)?.role)
    }

    /// Whether an admin other than `except` has an active device.
    fn admin_left(&self, except_member: Option<&str>, except_device: Option<&str>) -> bool {
        self.devices.values().any(|d| {
            !d.removed
                && Some(d.id.as_str()) != except_device
                && Some(d.member.as_str()) != except_member
                && self
                    .active_member(&d.member)
                    .is_some_and(|m| m.role == Role::Admin)
        })
    }
}

/// Computes the team from the entries of the team log (§11.4, §11.5).
/// `vault` is the vault id and `root` the root key this device pinned.
pub fn evaluate(
    vault: &str,
    root: &PublicSigningKey,
    entries: Vec<OpenedTeamEntry>,
) -> Result<Team, TeamError> {
    // One copy of each entry.
    let mut by_hash: BTreeMap<String, OpenedTeamEntry> = BTreeMap::new();
    for e in entries {
        by_hash.entry(e.hash.clone()).or_insert(e);
    }
    let graph = Graph::new(&by_hash);

    // The voided set is a fixed point: run with a guess, collect what the
    // reductions that counted void, and run again until the two agree. A
    // reduction that is itself voided voids nothing, so the set can shrink
    // as well as grow; if it has not settled after a few rounds (a cycle of
    // concurrent mutual reductions), everything any round voided stays
    // voided, which is deterministic and errs towards fewer rights. Forks
    // are facts about signatures and only accumulate.
    let mut voided: BTreeSet<String> = BTreeSet::new();
    let mut forks: BTreeMap<String, u64> = BTreeMap::new();
    let mut earlier: BTreeSet<String> = BTreeSet::new();
    for round in 0..10 {
        let pass = Pass::new(vault, root, &by_hash, &graph, &voided, &forks);
        let (team, next, found) = pass.run()?;
        if next == voided && found == forks {
            return Ok(team);
        }
        earlier.extend(voided);
        voided = if round >= 6 {
            earlier.iter().cloned().chain(next).collect()
        } else {
            next
        };
        forks = found;
    }
    let pass = Pass::new(vault, root, &by_hash, &graph, &voided, &forks);
    Ok(pass.run()?.0)
}

/// The causal graph: each entry's `prev` and `deps`, as far as present.
struct Graph<'a> {
    /// For each entry, the entries it builds on that are present.
    parents: HashMap<&'a str, Vec<&'a str>>,
    /// Entries with a dependency that is not present (transitively).
    pending: HashSet<&'a str>,
    /// A total order of the entries that are not pending (Kahn's algorithm,
    /// smallest `(time, device, hash)` first among the ready ones).
    order: Vec<&'a str>,
}

impl<'a> Graph<'a> {
    fn new(by_hash: &'a BTreeMap<String, OpenedTeamEntry>) -> Self {
        let mut parents: HashMap<&str, Vec<&str>> = HashMap::new();
        let mut children: HashMap<&str, Vec<&str>> = HashMap::new();
        let mut missing: HashMap<&str, usize> = HashMap::new();
        let mut waiting: HashMap<&str, usize> = HashMap::new();
        for (h, e) in by_hash {
            let mut ps = Vec::new();
            let mut absent = 0;
            for d in e.body.prev.iter().chain(&e.body.deps) {
                match by_hash.get_key_value(d.as_str()) {
                    Some((k, _)) => {
                        ps.push(k.as_str());
                        children.entry(k.as_str()).or_default().push(h.as_str());
                    }
                    None => absent += 1,
                }
            }
            waiting.insert(h.as_str(), ps.len());
            missing.insert(h.as_str(), absent);
            parents.insert(h.as_str(), ps);
        }
        // Kahn's algorithm; an entry missing a dependency, or building on one
        // that is, never becomes ready (a cycle cannot be made: hashes).
        type Key<'k> = Reverse<(i64, &'k str, &'k str)>;
        let key = |h: &'a str| -> Key<'a> {
            let e = &by_hash[h];
            Reverse((e.body.time, e.body.device.as_str(), h))
        };
        let mut ready: BinaryHeap<Key<'a>> = waiting
            .iter()
            .filter(|(h, n)| **n == 0 && missing[**h] == 0)
            .map(|(h, _)| key(h))
            .collect();
        let mut order = Vec::new();
        while let Some(Reverse((_, _, h))) = ready.pop() {
            order.push(h);
            for c in children.get(h).into_iter().flatten() {
                let n = waiting.get_mut(c).expect("every entry has a count");
                *n -= 1;
                if *n == 0 && missing[c] == 0 {
                    ready.push(key(c));
                }
            }
        }
        let placed: HashSet<&str> = order.iter().copied().collect();
        let pending = by_hash
            .keys()
            .map(String::as_str)
            .filter(|h| !placed.contains(h))
            .collect();
        Self {
            parents,
            pending,
            order,
        }
    }

    /// Whether `later` has `earlier` in its causal past.
    fn builds_on(&self, later: &'a str, earlier: &str) -> bool {
        self.past(later).contains(earlier)
    }

    /// The causal past of `h` (not including it).
    fn past(&self, h: &'a str) -> HashSet<&'a str> {
        let mut seen = HashSet::new();
        let mut stack: Vec<&str> = self.parents[h].clone();
        while let Some(p) = stack.pop() {
            if seen.insert(p) {
                stack.extend(self.parents[p].iter().copied());
            }
        }
        seen
    }
}

/// Whose rights an entry reduces.
enum Target {
    Member(String),
    Device(String),
}

/// One pass over the entries in the total order, with a guess of the
/// voided entries and the forks known.
struct Pass<'a> {
    vault: &'a str,
    root: &'a PublicSigningKey,
    by_hash: &'a BTreeMap<String, OpenedTeamEntry>,
    graph: &'a Graph<'a>,
    voided: &'a BTreeSet<String>,
    forks: BTreeMap<String, u64>,
    team: Team,
    counted: HashSet<&'a str>,
    refused: HashMap<&'a str, Rejection>,
    /// (device, seq) → the authentic entry seen there first.
    positions: HashMap<(&'a str, u64), &'a str>,
    started: bool,
}

impl<'a> Pass<'a> {
    fn new(
        vault: &'a str,
        root: &'a PublicSigningKey,
        by_hash: &'a BTreeMap<String, OpenedTeamEntry>,
        graph: &'a Graph<'a>,
        voided: &'a BTreeSet<String>,
        forks: &BTreeMap<String, u64>,
    ) -> Self {
        let mut pending: Vec<String> = graph.pending.iter().map(|h| h.to_string()).collect();
        pending.sort();
        Self {
            vault,
            root,
            by_hash,
            graph,
            voided,
            forks: forks.clone(),
            team: Team {
                root: *root,
                members: BTreeMap::new(),
                devices: BTreeMap::new(),
                order: Vec::new(),
                heads: Vec::new(),
                rejected: Vec::new(),
                pending,
                chains: BTreeMap::new(),
            },
            counted: HashSet::new(),
            refused: HashMap::new(),
            positions: HashMap::new(),
            started: false,
        }
    }

    /// The team, the entries the counted reductions and forks void, and
    /// the forks known after this pass.
    #[allow(clippy::type_complexity)]
    fn run(mut self) -> Result<(Team, BTreeSet<String>, BTreeMap<String, u64>), TeamError> {
        let mut reductions: Vec<(&str, Target)> = Vec::new();
        for &h in &self.graph.order {
            let e = &self.by_hash[h];
            let verdict = self
                .authentic(e)
                .and_then(|()| self.unforked(h, e))
                .and_then(|()| self.permitted(h, e));
            match verdict {
                Ok(()) => {
                    if let Some(t) = apply(&mut self.team, e) {
                        reductions.push((h, t));
                    }
                    self.started = true;
                    self.counted.insert(h);
                    self.team.order.push(h.to_owned());
                    self.team
                        .chains
                        .insert(e.body.device.clone(), (e.body.seq, h.to_owned()));
                }
                Err(reason) => {
                    self.refused.insert(h, reason);
                }
            }
        }
        if !self.started {
            return Err(TeamError::NoGenesis);
        }

        // What the counted reductions void: the reduced party's entries
        // that are not in the reduction's causal past (§11.5).
        let mut next: BTreeSet<String> = BTreeSet::new();
        for (r, target) in &reductions {
            let past = self.graph.past(r);
            for (h, e) in self.by_hash {
                // Entries the reduction saw stand; entries that saw it are
                // judged by the rights left after it.
                if h == r
                    || past.contains(h.as_str())
                    || self.graph.pending.contains(h.as_str())
                    || self.graph.builds_on(h, r)
                {
                    continue;
                }
                let by = &e.body.device;
                let hit = match target {
                    Target::Device(d) => by == d,
                    Target::Member(m) => self.team.devices.get(by).map(|d| &d.member) == Some(m),
                };
                if hit {
                    next.insert(h.clone());
                }
            }
        }

        let Pass {
            mut team,
            refused,
            counted,
            graph,
            by_hash,
            forks,
            ..
        } = self;
        for &h in &graph.order {
            if let Some(reason) = refused.get(h) {
                let e = &by_hash[h];
                team.rejected.push(Rejected {
                    device: e.body.device.clone(),
                    seq: e.body.seq,
                    hash: h.to_owned(),
                    kind: e.body.entry.kind(),
                    reason: reason.clone(),
                });
            }
        }
        let built_on: HashSet<&str> = team
            .order
            .iter()
            .flat_map(|h| graph.parents[h.as_str()].iter().copied())
            .filter(|p| counted.contains(p))
            .collect();
        team.heads = team
            .order
            .iter()
            .filter(|h| !built_on.contains(h.as_str()))
            .cloned()
            .collect();
        team.heads.sort();
        Ok((team, next, forks))
    }

    /// Whether the entry is what its writer signed, for this vault, in its
    /// writer's chain.
    fn authentic(&self, e: &OpenedTeamEntry) -> Result<(), Rejection> {
        let b = &e.body;
        let team = &self.team;
        if b.vault != self.vault {
            return Err(Rejection::OtherVault);
        }
        // The writer's key: from the team so far, or from the entry itself
        // for the two kinds that bring their own device (and that the root
        // key signs).
        let key = match &b.entry {
            Entry::Genesis { signing, .. } | Entry::RecoveryAdmin { signing, .. } => {
                let root_sig = e.root_sig.as_ref().ok_or(Rejection::BadRootSignature)?;
                if !self.root.verify(ROOT_DOMAIN, e.text.as_bytes(), root_sig) {
                    return Err(Rejection::BadRootSignature);
                }
                let k = PublicSigningKey::parse(signing).map_err(|_| Rejection::BadSignature)?;
                if team.devices.contains_key(&b.device)
                    || team.devices.values().any(|d| d.signing == k)
                {
                    return Err(Rejection::Reused);
                }
                k
            }
            _ => match team.devices.get(&b.device) {
                Some(d) => d.signing,
                None if !self.started => return Err(Rejection::NotRooted),
                None => return Err(Rejection::UnknownDevice),
            },
        };
        if !key.verify(DOMAIN, e.text.as_bytes(), &e.sig) {
            return Err(Rejection::BadSignature);
        }
        if let Entry::Genesis { root, .. } = &b.entry {
            if self.started || PublicSigningKey::parse(root).ok().as_ref() != Some(self.root) {
                return Err(Rejection::SecondGenesis);
            }
            if !b.deps.is_empty() {
                return Err(Rejection::BrokenChain);
            }
        } else if !self.started || (b.prev.is_none() && b.deps.is_empty()) {
            return Err(Rejection::NotRooted);
        }
        // The chain: `prev` is the writer's entry at `seq - 1` (opening
        // checked that seq 1 has none and later ones have one).
        if let Some(p) = &b.prev {
            let prev = self.by_hash.get(p).ok_or(Rejection::BrokenChain)?;
            if prev.body.device != b.device || prev.body.seq + 1 != b.seq {
                return Err(Rejection::BrokenChain);
            }
            if !self.counted.contains(p.as_str()) {
                // Its own chain's earlier entry was refused as forged or
                // broken: nothing after it can be placed in that chain.
                match self.refused.get(p.as_str()) {
                    Some(Rejection::BadSignature | Rejection::BrokenChain) | None => {
                        return Err(Rejection::BrokenChain)
                    }
                    Some(_) => {}
                }
            }
        }
        Ok(())
    }

    /// Whether the writer signed another entry at the same position (or
    /// before, in this chain).
    fn unforked(&mut self, h: &'a str, e: &'a OpenedTeamEntry) -> Result<(), Rejection> {
        let dev = e.body.device.as_str();
        let pos = (dev, e.body.seq);
        match self.positions.get(&pos) {
            Some(&other) if other != h => {
                let at = self.forks.entry(dev.to_owned()).or_insert(e.body.seq);
                *at = (*at).min(e.body.seq);
            }
            _ => {
                self.positions.insert(pos, h);
            }
        }
        match self.forks.get(dev) {
            Some(&at) if e.body.seq >= at => Err(Rejection::Fork(at)),
            _ => Ok(()),
        }
    }

    /// Whether the writer had the right to do what the entry does.
    fn permitted(&self, h: &str, e: &OpenedTeamEntry) -> Result<(), Rejection> {
        let b = &e.body;
        let team = &self.team;
        if self.voided.contains(h) {
            return Err(Rejection::Voided);
        }
        let brings_device = b.entry.needs_root();
        if !brings_device && team.role_of_device(&b.device).is_none() {
            return Err(Rejection::RemovedDevice);
        }
        let is_admin = team.role_of_device(&b.device) == Some(Role::Admin);
        let fresh_device = |id: &str, signing: &str| {
            let k = PublicSigningKey::parse(signing).ok();
            !team.devices.contains_key(id) && !team.devices.values().any(|d| Some(d.signing) == k)
        };
        match &b.entry {
            Entry::Genesis { .. } => Ok(()),
            Entry::MemberAdd { member, .. } => {
                if !is_admin {
                    Err(Rejection::NotAdmin)
                } else if team.members.contains_key(member) {
                    Err(Rejection::Reused)
                } else {
                    Ok(())
                }
            }
            Entry::DeviceAdd {
                member,
                device,
                signing,
                ..
            } => {
                if !is_admin {
                    Err(Rejection::NotAdmin)
                } else if team.active_member(member).is_none() {
                    Err(Rejection::NoSuchTarget)
                } else if !fresh_device(device, signing) {
                    Err(Rejection::Reused)
                } else {
                    Ok(())
                }
            }
            Entry::RoleSet { member, role } => {
                if !is_admin {
                    return Err(Rejection::NotAdmin);
                }
                let m = team.active_member(member).ok_or(Rejection::NoSuchTarget)?;
                if m.role == Role::Admin
                    && *role != Role::Admin
                    && !team.admin_left(Some(member), None)
                {
                    Err(Rejection::LastAdmin)
                } else {
                    Ok(())
                }
            }
            Entry::MemberRemove { member } => {
                if !is_admin {
                    return Err(Rejection::NotAdmin);
                }
                let m = team.active_member(member).ok_or(Rejection::NoSuchTarget)?;
                if m.role == Role::Admin && !team.admin_left(Some(member), None) {
                    Err(Rejection::LastAdmin)
                } else {
                    Ok(())
                }
            }
            Entry::DeviceRemove { device } => {
                let d = team.active_device(device).ok_or(Rejection::NoSuchTarget)?;
                let own = team.devices.get(&b.device).map(|w| &w.member) == Some(&d.member);
                if !is_admin && !own {
                    Err(Rejection::NotAdmin)
                } else if team.active_member(&d.member).map(|m| m.role) == Some(Role::Admin)
                    && !team.admin_left(None, Some(device))
                {
                    Err(Rejection::LastAdmin)
                } else {
                    Ok(())
                }
            }
            Entry::RecoveryAdmin { member, .. } => {
                // The phrase may make anyone an admin, but never revive a
                // removed member's id.
                match team.members.get(member) {
                    Some(m) if m.removed => Err(Rejection::Reused),
                    _ => Ok(()),
                }
            }
        }
    }
}

/// Applies an entry that counts; returns whose rights it reduced.
fn apply(team: &mut Team, e: &OpenedTeamEntry) -> Option<Target> {
    let b = &e.body;
    let key = |s: &str| PublicSigningKey::parse(s).expect("checked when opened");
    let add_device = |team: &mut Team, id: &str, member: &str, name: &str, r: &str, s: &str| {
        team.devices.insert(
            id.to_owned(),
            Device {
                id: id.to_owned(),
                member: member.to_owned(),
                name: name.to_owned(),
                recipient: r.to_owned(),
                signing: key(s),
                removed: false,
            },
        );
    };
    match &b.entry {
        Entry::Genesis {
            member,
            name,
            device_name,
            recipient,
            signing,
            ..
        }
        | Entry::RecoveryAdmin {
            member,
            name,
            device_name,
            recipient,
            signing,
        } => {
            let m = team.members.entry(member.clone()).or_insert(Member {
                id: member.clone(),
                name: name.clone(),
                role: Role::Admin,
                removed: false,
            });
            m.role = Role::Admin;
            add_device(team, &b.device, member, device_name, recipient, signing);
            None
        }
        Entry::MemberAdd { member, name, role } => {
            team.members.insert(
                member.clone(),
                Member {
                    id: member.clone(),
                    name: name.clone(),
                    role: *role,
                    removed: false,
                },
            );
            None
        }
        Entry::DeviceAdd {
            member,
            device,
            name,
            recipient,
            signing,
            ..
        } => {
            add_device(team, device, member, name, recipient, signing);
            None
        }
        Entry::RoleSet { member, role } => {
            let m = team.members.get_mut(member).expect("checked");
            let lower = rank(*role) > rank(m.role);
            m.role = *role;
            lower.then(|| Target::Member(member.clone()))
        }
        Entry::MemberRemove { member } => {
            team.members.get_mut(member).expect("checked").removed = true;
            for d in team.devices.values_mut().filter(|d| &d.member == member) {
                d.removed = true;
            }
            Some(Target::Member(member.clone()))
        }
        Entry::DeviceRemove { device } => {
            team.devices.get_mut(device).expect("checked").removed = true;
            Some(Target::Device(device.clone()))
        }
    }
}

/// Admin 0, staff 1, viewer 2: a larger number is fewer rights.
fn rank(r: Role) -> u8 {
    match r {
        Role::Admin => 0,
        Role::Staff => 1,
        Role::Viewer => 2,
    }
}

#[cfg(test)]
#[path = "team_tests.rs"]
mod tests;
