//! The team: who may do what, computed from the team log (docs/FORMAT.md
//! §11.4; issue 5, step 2).
//!
//! [`evaluate`] is a pure function of the set of entries and the pinned root
//! key: every device holding the same entries computes the same members,
//! devices, roles and rejections, whatever order the files arrived in. That
//! is what lets the synced folder, which is hostile, be the only channel:
//! nothing an attacker plants without a device's signing key counts, and a
//! removed or demoted member's backdated entries are voided (§11.5).

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, HashSet};

use crate::format::team::{Cutoff, Entry, OpenedTeamEntry, Role, DOMAIN, ROOT_DOMAIN};
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
    /// The hash of the entry that added it.
    pub added_by: String,
    /// When its write rights ended (removed, or its member made a viewer):
    /// the last of its records that stands, or `None` inside if the entry
    /// that ended them named none, so that none stands (§11.6).
    pub cutoff: Option<Option<Cutoff>>,
    /// With `cutoff`: the last record that stands of its chain in each
    /// collection made with `collection_add` (§14.3); a collection not
    /// named here keeps none of its records past the end of its rights.
    pub chain_cutoffs: BTreeMap<String, Cutoff>,
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
    /// Its author may not read the collection it concerns.
    #[error("its author may not read that collection")]
    NoAccess,
    /// A removal or demotion of its author voided it: the author's entries
    /// that the remover had not seen do not stand (§11.5).
    #[error("its author's rights were reduced by an entry that had not seen it")]
    Voided,
}

impl Rejection {
    /// Whether the entry is authentic and was refused only for what it
    /// tried to do (rules 7–9): its writer's chain continues after it.
    pub fn is_permission(&self) -> bool {
        matches!(
            self,
            Rejection::Voided
                | Rejection::RemovedDevice
                | Rejection::NotAdmin
                | Rejection::NoSuchTarget
                | Rejection::Reused
                | Rejection::LastAdmin
                | Rejection::NoAccess
        )
    }

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
            Rejection::NoAccess => "no_access",
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
    /// For each device, its last authentic entry `(seq, hash)` (rules 1–5
    /// of §11.5), counted or refused for what it tried to do: where the
    /// device's chain continues.
    pub chains: BTreeMap<String, (u64, String)>,
    /// From the genesis: for each device that wrote records before the team
    /// log, its last unsigned record that stands (§11.6).
    pub legacy: BTreeMap<String, Cutoff>,
    /// The key rotations that count, in the total order (§13): the last one
    /// of a collection names the only key anyone encrypts to. A
    /// `collection_add` counts as its collection's first.
    pub keys: Vec<KeyGeneration>,
    /// The collections made with `collection_add` (§14), by id. Any other
    /// collection id (the vault's first collection) is read by every
    /// member.
    pub collections: BTreeMap<String, Collection>,
    /// The vault's first collection, if the genesis names it.
    pub default_collection: Option<String>,
    /// The member the genesis made: the person who created the vault (and
    /// was shown its recovery phrase). Signed by the root key, so the
    /// phrase recovers to this member by default (FORMAT.md §4.2).
    pub founder: Option<String>,
    /// Collections whose key a device or member that could read them no
    /// longer may (removed, demoted, revoked), with no rotation since
    /// (§13.1): a rotation is owed.
    pub owed: BTreeSet<String>,
}

impl KeyGeneration {
    /// The generation named by entry `hash` with body `b`.
    fn new(
        hash: &str,
        b: &crate::format::team::TeamBody,
        collection: &str,
        recipient: &str,
        slots: BTreeMap<String, String>,
        recovery_slot: &str,
    ) -> Self {
        Self {
            hash: hash.to_owned(),
            collection: collection.to_owned(),
            recipient: recipient.to_owned(),
            slots,
            recovery_slot: recovery_slot.to_owned(),
            by: b.device.clone(),
            time: b.time,
        }
    }
}

/// A collection with its own key (§14).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collection {
    /// Its id.
    pub id: String,
    /// Whether it is the audit log's (admins only, §14.4).
    pub audit: bool,
    /// The members granted it, with whether they may change it.
    pub readers: BTreeMap<String, bool>,
    /// Devices whose changes to it end at a cutoff (their member's grant
    /// was revoked): the last record that stands, or `None` for none.
    pub cutoffs: BTreeMap<String, Option<Cutoff>>,
}

/// A collection key named by a `key_rotate` entry that counts (§13).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyGeneration {
    /// The entry's hash.
    pub hash: String,
    /// The collection.
    pub collection: String,
    /// The key's age recipient.
    pub recipient: String,
    /// Keyslot ids by device.
    pub slots: BTreeMap<String, String>,
    /// The recovery identity's keyslot id.
    pub recovery_slot: String,
    /// The device that wrote the entry.
    pub by: String,
    /// When (the writer's clock).
    pub time: i64,
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

    /// The ids of every device of `member`, removed ones included.
    fn devices_of(&self, member: &str) -> Vec<String> {
        self.devices
            .values()
            .filter(|d| d.member == member)
            .map(|d| d.id.clone())
            .collect()
    }

    /// Every (device, collection) such that the device may read the
    /// collection, over the collections the log names keys for.
    fn reading(&self) -> BTreeSet<(String, String)> {
        let colls: BTreeSet<&String> = self.keys.iter().map(|k| &k.collection).collect();
        let mut out = BTreeSet::new();
        for d in self.devices.keys() {
            for c in &colls {
                if self.may_read(d, c) {
                    out.insert((d.clone(), (*c).clone()));
                }
            }
        }
        out
    }

    /// The newest key of `collection`, if it was ever rotated (§13).
    pub fn current_key(&self, collection: &str) -> Option<&KeyGeneration> {
        self.keys.iter().rev().find(|k| k.collection == collection)
    }

    /// Whether `device` may read `collection` (§14.1): an active device of
    /// an admin, or of a member granted it; any active device for a
    /// collection not made with `collection_add`.
    pub fn may_read(&self, device: &str, collection: &str) -> bool {
        let Some(role) = self.role_of_device(device) else {
            return false;
        };
        match self.collections.get(collection) {
            None => true,
            Some(_) if role == Role::Admin => true,
            Some(c) if c.audit => false,
            Some(c) => c.readers.contains_key(&self.devices[device].member),
        }
    }

    /// Whether `device`'s member may change `collection` (§14.1), cutoffs
    /// aside: admins and staff in a collection not made with
    /// `collection_add`; admins and staff granted `write` in one that was.
    pub fn may_write(&self, device: &str, collection: &str) -> bool {
        let Some(role) = self.role_of_device(device) else {
            return false;
        };
        match (self.collections.get(collection), role) {
            (_, Role::Viewer) => false,
            (None, _) | (Some(_), Role::Admin) => {
                !self.collections.get(collection).is_some_and(|c| c.audit)
            }
            (Some(c), _) => !c.audit && c.readers.get(&self.devices[device].member) == Some(&true),
        }
    }

    /// Whether an admin other than `except` has an active device.
    pub(crate) fn admin_left(
        &self,
        except_member: Option<&str>,
        except_device: Option<&str>,
    ) -> bool {
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

/// Most rounds of the voiding fixed point before the fallback (§11.5).
const MAX_ROUNDS: usize = 8;

/// Computes the team from the entries of the team log (§11.4, §11.5).
/// `vault` is the vault id and `root` the root key this device pinned.
pub fn evaluate(
    vault: &str,
    root: &PublicSigningKey,
    entries: Vec<OpenedTeamEntry>,
) -> Result<Team, TeamError> {
    // Entries by hash. The hash covers the body, not the signatures, so
    // copies of one entry may carry different signatures (a planted copy
    // with a garbage one): keep every distinct signature, and count the
    // entry as signed if any of them verifies, whichever copy came first.
    let mut by_hash: BTreeMap<String, Candidate> = BTreeMap::new();
    for e in entries {
        match by_hash.get_mut(&e.hash) {
            Some(c) => {
                if !c.sigs.contains(&e.sig) {
                    c.sigs.push(e.sig);
                }
                if let Some(r) = e.root_sig {
                    if !c.root_sigs.contains(&r) {
                        c.root_sigs.push(r);
                    }
                }
            }
            None => {
                let c = Candidate {
                    sigs: vec![e.sig],
                    root_sigs: e.root_sig.into_iter().collect(),
                    entry: e,
                };
                by_hash.insert(c.entry.hash.clone(), c);
            }
        }
    }
    let graph = Graph::new(&by_hash);
    let checked = RefCell::new(HashMap::new());
    let ctx = Context {
        vault,
        root,
        by_hash: &by_hash,
        graph: &graph,
        checked: &checked,
    };

    // The voided set is a fixed point (§11.5): judge with a guess (at first
    // none), collect what the reductions that counted void, and judge again
    // until the two agree. A reduction that is itself voided voids nothing,
    // so the set can shrink as well as grow; if it has not settled after
    // MAX_ROUNDS judgements, one more uses the union of every set tried.
    let mut voided: BTreeSet<&str> = BTreeSet::new();
    let mut tried: BTreeSet<&str> = BTreeSet::new();
    for _ in 0..MAX_ROUNDS {
        let (team, next) = Pass::new(&ctx, &voided).run()?;
        if next == voided {
            return Ok(team);
        }
        tried.extend(voided.iter().copied());
        voided = next;
    }
    tried.extend(voided.iter().copied());
    Ok(Pass::new(&ctx, &tried).run()?.0)
}

/// One entry, with every distinct signature found on its copies.
struct Candidate {
    entry: OpenedTeamEntry,
    sigs: Vec<[u8; 64]>,
    root_sigs: Vec<[u8; 64]>,
}

/// What every pass shares.
struct Context<'a> {
    vault: &'a str,
    root: &'a PublicSigningKey,
    by_hash: &'a BTreeMap<String, Candidate>,
    graph: &'a Graph<'a>,
    /// Signature checks already made: (entry, key, root?) → valid.
    #[allow(clippy::type_complexity)]
    checked: &'a RefCell<HashMap<(&'a str, [u8; 32], bool), bool>>,
}

impl<'a> Context<'a> {
    /// Whether any copy of entry `h` carries `key`'s signature (the root
    /// key's, if `root`).
    fn signed(&self, h: &'a str, key: &PublicSigningKey, root: bool) -> bool {
        let k = (h, key.to_bytes(), root);
        if let Some(v) = self.checked.borrow().get(&k) {
            return *v;
        }
        let c = &self.by_hash[h];
        let text = c.entry.text.as_bytes();
        let ok = if root {
            c.root_sigs.iter().any(|s| key.verify(ROOT_DOMAIN, text, s))
        } else {
            c.sigs.iter().any(|s| key.verify(DOMAIN, text, s))
        };
        self.checked.borrow_mut().insert(k, ok);
        ok
    }
}

/// The causal graph: each entry's `prev` and `deps`, as far as present.
struct Graph<'a> {
    /// For each entry, the entries it builds on that are present.
    parents: HashMap<&'a str, Vec<&'a str>>,
    /// For each entry, the entries that build on it directly.
    children: HashMap<&'a str, Vec<&'a str>>,
    /// Entries with a dependency that is not present (transitively).
    pending: HashSet<&'a str>,
    /// A total order of the entries that are not pending (Kahn's algorithm,
    /// smallest `(time, device, hash)` first among the ready ones).
    order: Vec<&'a str>,
}

impl<'a> Graph<'a> {
    fn new(by_hash: &'a BTreeMap<String, Candidate>) -> Self {
        let mut parents: HashMap<&str, Vec<&str>> = HashMap::new();
        let mut children: HashMap<&str, Vec<&str>> = HashMap::new();
        let mut missing: HashMap<&str, usize> = HashMap::new();
        let mut waiting: HashMap<&str, usize> = HashMap::new();
        for (h, c) in by_hash {
            let b = &c.entry.body;
            let mut ps = Vec::new();
            let mut absent = 0;
            for d in b.prev.iter().chain(&b.deps) {
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
        // that is, never becomes ready (hash references cannot form a cycle).
        type Key<'k> = Reverse<(i64, &'k str, &'k str)>;
        let key = |h: &'a str| -> Key<'a> {
            let b = &by_hash[h].entry.body;
            Reverse((b.time, b.device.as_str(), h))
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
            children,
            pending,
            order,
        }
    }

    /// Everything reachable from `h` through `next` (not including `h`).
    fn reach(&self, h: &'a str, next: &HashMap<&'a str, Vec<&'a str>>) -> HashSet<&'a str> {
        let mut seen = HashSet::new();
        let mut stack: Vec<&str> = next.get(h).cloned().unwrap_or_default();
        while let Some(p) = stack.pop() {
            if seen.insert(p) {
                stack.extend(next.get(p).into_iter().flatten().copied());
            }
        }
        seen
    }

    /// The causal past of `h`.
    fn past(&self, h: &'a str) -> HashSet<&'a str> {
        self.reach(h, &self.parents)
    }

    /// The entries that have `h` in their causal past.
    fn future(&self, h: &'a str) -> HashSet<&'a str> {
        self.reach(h, &self.children)
    }
}

/// Whose rights an entry reduces.
enum Target {
    Member(String),
    Device(String),
}

/// One judgement of every entry in the total order, with a guess of the
/// voided entries.
struct Pass<'c, 'a> {
    ctx: &'c Context<'a>,
    voided: &'c BTreeSet<&'a str>,
    team: Team,
    counted: HashSet<&'a str>,
    refused: HashMap<&'a str, Rejection>,
    /// (device, seq) → the entry that counted there.
    positions: HashMap<(&'a str, u64), &'a str>,
    /// (device, prev) → the entry that counted after it.
    successors: HashMap<(&'a str, Option<&'a str>), &'a str>,
    genesis: Option<&'a str>,
}

impl<'c, 'a> Pass<'c, 'a> {
    fn new(ctx: &'c Context<'a>, voided: &'c BTreeSet<&'a str>) -> Self {
        let mut pending: Vec<String> = ctx.graph.pending.iter().map(|h| h.to_string()).collect();
        pending.sort();
        Self {
            ctx,
            voided,
            team: Team {
                root: *ctx.root,
                members: BTreeMap::new(),
                devices: BTreeMap::new(),
                order: Vec::new(),
                heads: Vec::new(),
                rejected: Vec::new(),
                pending,
                chains: BTreeMap::new(),
                legacy: BTreeMap::new(),
                keys: Vec::new(),
                collections: BTreeMap::new(),
                default_collection: None,
                founder: None,
                owed: BTreeSet::new(),
            },
            counted: HashSet::new(),
            refused: HashMap::new(),
            positions: HashMap::new(),
            successors: HashMap::new(),
            genesis: None,
        }
    }

    /// The team, and the entries the counted reductions void.
    fn run(mut self) -> Result<(Team, BTreeSet<&'a str>), TeamError> {
        let ctx = self.ctx;
        let mut reductions: Vec<(&str, Target)> = Vec::new();
        for &h in &ctx.graph.order {
            let e = &ctx.by_hash[h].entry;
            let authentic = self.authentic(h, e);
            if authentic.is_ok() {
                // Writers continue after their last authentic entry,
                // counted or not (FORMAT.md §11.5).
                self.team
                    .chains
                    .insert(e.body.device.clone(), (e.body.seq, h.to_owned()));
            }
            let verdict = authentic
                .and_then(|()| self.permitted(h, e))
                .and_then(|()| self.unforked(h, e));
            match verdict {
                Ok(()) => {
                    if let Some(t) = self.count(h, e) {
                        reductions.push((h, t));
                    }
                }
                Err(reason) => {
                    self.refused.insert(h, reason);
                }
            }
        }
        if self.genesis.is_none() {
            return Err(TeamError::NoGenesis);
        }
        let next = self.voided_by(&reductions);
        Ok((self.finish(), next))
    }

    /// Counts entry `h`: applies it, and owes a rotation of every
    /// collection someone stopped reading (§13.1). Returns whose rights it
    /// reduced.
    fn count(&mut self, h: &'a str, e: &'a OpenedTeamEntry) -> Option<Target> {
        let reduces = matches!(
            e.body.entry,
            Entry::MemberRemove { .. }
                | Entry::DeviceRemove { .. }
                | Entry::RoleSet { .. }
                | Entry::Revoke { .. }
        );
        let before = if reduces {
            self.team.reading()
        } else {
            BTreeSet::new()
        };
        let target = apply(&mut self.team, e, h);
        if reduces {
            // Whoever stopped reading a collection may keep its key.
            let after = self.team.reading();
            for (_, c) in before.difference(&after) {
                self.team.owed.insert(c.clone());
            }
        }
        if matches!(e.body.entry, Entry::Genesis { .. }) {
            self.genesis = Some(h);
        }
        self.counted.insert(h);
        let dev = e.body.device.as_str();
        self.positions.insert((dev, e.body.seq), h);
        self.successors.insert((dev, e.body.prev.as_deref()), h);
        self.team.order.push(h.to_owned());
        target
    }

    /// What the counted reductions void: the reduced party's entries that
    /// are neither in the reduction's causal past nor build on it (§11.5).
    fn voided_by(&self, reductions: &[(&str, Target)]) -> BTreeSet<&'a str> {
        let ctx = self.ctx;
        let mut next: BTreeSet<&'a str> = BTreeSet::new();
        for (r, target) in reductions {
            let by_target: Vec<&'a str> = ctx
                .graph
                .order
                .iter()
                .copied()
                .filter(|h| {
                    let by = &ctx.by_hash[*h].entry.body.device;
                    match target {
                        Target::Device(d) => by == d,
                        Target::Member(m) => {
                            self.team.devices.get(by).map(|d| &d.member) == Some(m)
                        }
                    }
                })
                .filter(|h| h != r)
                .collect();
            if by_target.is_empty() {
                continue;
            }
            let past = ctx.graph.past(r);
            let future = ctx.graph.future(r);
            next.extend(
                by_target
                    .into_iter()
                    .filter(|h| !past.contains(h) && !future.contains(h)),
            );
        }
        next
    }

    /// The team with the refused entries listed and its heads: the counted
    /// entries no counted entry builds on.
    fn finish(self) -> Team {
        let ctx = self.ctx;
        let Pass {
            mut team,
            refused,
            counted,
            ..
        } = self;
        for &h in &ctx.graph.order {
            if let Some(reason) = refused.get(h) {
                let e = &ctx.by_hash[h].entry;
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
            .flat_map(|h| ctx.graph.parents[h.as_str()].iter().copied())
            .filter(|p| counted.contains(p))
            .collect();
        team.heads = team
            .order
            .iter()
            .filter(|h| !built_on.contains(h.as_str()))
            .cloned()
            .collect();
        team.heads.sort();
        team
    }

    /// Rules 1–5 of §11.5, in that order: whether the entry is what its
    /// writer signed, for this vault, built on the team log, in its
    /// writer's chain.
    fn authentic(&self, h: &'a str, e: &'a OpenedTeamEntry) -> Result<(), Rejection> {
        let ctx = self.ctx;
        let b = &e.body;
        let team = &self.team;
        // 1. This vault.
        if b.vault != ctx.vault {
            return Err(Rejection::OtherVault);
        }
        // 2. The root key's signature, for the kinds that need it.
        if b.entry.needs_root() && !ctx.signed(h, ctx.root, true) {
            return Err(Rejection::BadRootSignature);
        }
        // 3. The writer's signature: with the entry's own key for the kinds
        // that bring their device, else with the key the team gives it.
        let key = match &b.entry {
            Entry::Genesis { signing, .. } | Entry::RecoveryAdmin { signing, .. } => {
                PublicSigningKey::parse(signing).map_err(|_| Rejection::BadSignature)?
            }
            _ => match team.devices.get(&b.device) {
                Some(d) => d.signing,
                None => return Err(Rejection::UnknownDevice),
            },
        };
        if !ctx.signed(h, &key, false) {
            return Err(Rejection::BadSignature);
        }
        // 4. Built on this vault's team log: the genesis first, and every
        // device's first entry has in its causal past the genesis and the
        // entry that added the device (later entries inherit that through
        // `prev`), so that nobody can claim to have seen less than the
        // entries that let them write.
        match &b.entry {
            Entry::Genesis { root, .. } => {
                if self.genesis.is_some()
                    || PublicSigningKey::parse(root).ok().as_ref() != Some(ctx.root)
                {
                    return Err(Rejection::SecondGenesis);
                }
                if !b.deps.is_empty() {
                    return Err(Rejection::NotRooted);
                }
            }
            _ => {
                let Some(genesis) = self.genesis else {
                    return Err(Rejection::NotRooted);
                };
                if b.prev.is_none() {
                    let past = ctx.graph.past(h);
                    let added_by = match &b.entry {
                        Entry::RecoveryAdmin { .. } => genesis,
                        _ => team.devices[&b.device].added_by.as_str(),
                    };
                    if !past.contains(genesis) || !past.contains(added_by) {
                        return Err(Rejection::NotRooted);
                    }
                }
            }
        }
        // 5. The chain: `prev` is an earlier authentic entry of the writer
        // (positions may be skipped: one taken by a planted file is).
        if let Some(p) = &b.prev {
            let prev = &ctx.by_hash[p.as_str()].entry.body;
            if prev.device != b.device || prev.seq >= b.seq {
                return Err(Rejection::BrokenChain);
            }
            match self.refused.get(p.as_str()) {
                Some(Rejection::Fork(at)) => return Err(Rejection::Fork(*at)),
                Some(r) if !r.is_permission() => return Err(Rejection::BrokenChain),
                _ => {}
            }
        }
        if let Entry::RecoveryAdmin { .. } | Entry::Genesis { .. } = &b.entry {
            if b.prev.is_some() {
                return Err(Rejection::BrokenChain);
            }
        }
        if let Entry::RecoveryAdmin { .. } = &b.entry {
            if team.devices.contains_key(&b.device)
                || team.devices.values().any(|d| d.signing == key)
            {
                return Err(Rejection::Reused);
            }
        }
        Ok(())
    }

    /// Rule 6: a second entry that would count at a position, or after a
    /// `prev`, where the writer already has one (a copied or compromised
    /// device). The first in the order stands; only entries that would
    /// otherwise count are compared, so a removed device cannot refuse its
    /// own history.
    fn unforked(&self, h: &'a str, e: &'a OpenedTeamEntry) -> Result<(), Rejection> {
        let dev = e.body.device.as_str();
        let at_position = self.positions.get(&(dev, e.body.seq));
        let after_prev = self.successors.get(&(dev, e.body.prev.as_deref()));
        match at_position.or(after_prev) {
            Some(&other) if other != h => Err(Rejection::Fork(e.body.seq)),
            _ => Ok(()),
        }
    }

    /// Rules 7–9: whether the writer had the right to do what the entry does.
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
        if admins_only(&b.entry) && !is_admin {
            return Err(Rejection::NotAdmin);
        }
        match &b.entry {
            Entry::Genesis { .. } => Ok(()),
            Entry::MemberAdd { member, .. } => {
                refuse_if(team.members.contains_key(member), Rejection::Reused)
            }
            Entry::DeviceAdd {
                member,
                device,
                signing,
                ..
            } => may_add_device(team, member, device, signing),
            Entry::RoleSet { member, role, .. } => {
                let m = team.active_member(member).ok_or(Rejection::NoSuchTarget)?;
                let last = m.role == Role::Admin && *role != Role::Admin;
                refuse_if(
                    last && !team.admin_left(Some(member), None),
                    Rejection::LastAdmin,
                )
            }
            Entry::MemberRemove { member, .. } => {
                let m = team.active_member(member).ok_or(Rejection::NoSuchTarget)?;
                let last = m.role == Role::Admin && !team.admin_left(Some(member), None);
                refuse_if(last, Rejection::LastAdmin)
            }
            Entry::DeviceRemove { device, .. } => {
                may_remove_device(team, &b.device, device, is_admin)
            }
            Entry::KeyRotate {
                slots, collection, ..
            } => may_rotate(team, &b.device, collection, slots),
            Entry::CollectionAdd {
                collection, slots, ..
            } => may_add_collection(team, collection, slots),
            Entry::Grant {
                collection,
                member,
                slots,
                ..
            } => {
                let c = team.collections.get(collection);
                let elsewhere =
                    |d: &String| team.active_device(d).is_none_or(|d| d.member != *member);
                let no_target = c.is_none_or(|c| c.audit)
                    || team.active_member(member).is_none()
                    || slots.keys().any(elsewhere);
                refuse_if(no_target, Rejection::NoSuchTarget)
            }
            Entry::Revoke {
                collection, member, ..
            } => {
                let c = team.collections.get(collection);
                refuse_if(
                    c.is_none_or(|c| !c.readers.contains_key(member)),
                    Rejection::NoSuchTarget,
                )
            }
            Entry::RecoveryAdmin { member, .. } => {
                // The phrase may make anyone an admin, but never revive a
                // removed member's id.
                let removed = team.members.get(member).is_some_and(|m| m.removed);
                refuse_if(removed, Rejection::Reused)
            }
        }
    }
}

/// Entries only an admin's device may write (§11.5); the others have
/// rules of their own.
fn admins_only(entry: &Entry) -> bool {
    matches!(
        entry,
        Entry::MemberAdd { .. }
            | Entry::DeviceAdd { .. }
            | Entry::RoleSet { .. }
            | Entry::MemberRemove { .. }
            | Entry::CollectionAdd { .. }
            | Entry::Grant { .. }
            | Entry::Revoke { .. }
    )
}

fn refuse_if(refused: bool, why: Rejection) -> Result<(), Rejection> {
    if refused {
        Err(why)
    } else {
        Ok(())
    }
}

/// A device joins an active member under an id and a signing key never
/// seen before.
fn may_add_device(team: &Team, member: &str, device: &str, signing: &str) -> Result<(), Rejection> {
    let key = PublicSigningKey::parse(signing).ok();
    let fresh = !team.devices.contains_key(device)
        && !team.devices.values().any(|d| Some(d.signing) == key);
    if team.active_member(member).is_none() {
        Err(Rejection::NoSuchTarget)
    } else {
        refuse_if(!fresh, Rejection::Reused)
    }
}

/// An admin removes any device, anyone one of their own; never the last
/// admin's last device.
fn may_remove_device(
    team: &Team,
    writer: &str,
    device: &str,
    is_admin: bool,
) -> Result<(), Rejection> {
    let d = team.active_device(device).ok_or(Rejection::NoSuchTarget)?;
    let own = team.devices.get(writer).map(|w| &w.member) == Some(&d.member);
    if !is_admin && !own {
        return Err(Rejection::NotAdmin);
    }
    let admins = team.active_member(&d.member).map(|m| m.role) == Some(Role::Admin);
    refuse_if(
        admins && !team.admin_left(None, Some(device)),
        Rejection::LastAdmin,
    )
}

/// A rotation goes only to devices that may read: a rotation concurrent
/// with a removal, placed after it, that hands the removed device the new
/// key does not count (§13).
fn may_rotate(
    team: &Team,
    writer: &str,
    collection: &str,
    slots: &BTreeMap<String, String>,
) -> Result<(), Rejection> {
    if team.role_of_device(writer).is_none() {
        Err(Rejection::RemovedDevice)
    } else if !team.may_read(writer, collection) {
        Err(Rejection::NoAccess)
    } else {
        refuse_if(
            slots.keys().any(|d| !team.may_read(d, collection)),
            Rejection::NoSuchTarget,
        )
    }
}

/// A new collection has an id never used, and its first key goes to
/// admins' devices only.
fn may_add_collection(
    team: &Team,
    collection: &str,
    slots: &BTreeMap<String, String>,
) -> Result<(), Rejection> {
    let used = team.collections.contains_key(collection)
        || team.keys.iter().any(|k| k.collection == *collection);
    if used {
        Err(Rejection::Reused)
    } else {
        let not_admin = |d: &String| team.role_of_device(d) != Some(Role::Admin);
        refuse_if(slots.keys().any(not_admin), Rejection::NoSuchTarget)
    }
}

/// Applies entry `h`, which counts; returns whose rights it reduced. One
/// arm per kind of entry (§11.4), each a function below.
fn apply(team: &mut Team, e: &OpenedTeamEntry, h: &str) -> Option<Target> {
    let b = &e.body;
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
            let admin = NewDevice {
                id: &b.device,
                member,
                name: device_name,
                recipient,
                signing,
            };
            add_admin(team, name, admin, h);
            if let Entry::Genesis { legacy, key, .. } = &b.entry {
                team.founder = Some(member.clone());
                team.legacy = legacy.clone();
                if let Some(k) = key {
                    team.default_collection = Some(k.collection.clone());
                    let first =
                        KeyGeneration::new(h, b, &k.collection, &k.recipient, BTreeMap::new(), "");
                    team.keys.push(first);
                }
            }
            None
        }
        Entry::MemberAdd { member, name, role } => {
            let m = Member {
                id: member.clone(),
                name: name.clone(),
                role: *role,
                removed: false,
            };
            team.members.insert(member.clone(), m);
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
            let new = NewDevice {
                id: device,
                member,
                name,
                recipient,
                signing,
            };
            add_device(team, new, h);
            None
        }
        Entry::RoleSet {
            member,
            role,
            cutoffs,
        } => set_role(team, member, *role, cutoffs),
        Entry::MemberRemove { member, cutoffs } => remove_member(team, member, cutoffs),
        Entry::DeviceRemove { device, cutoffs } => remove_device(team, device, cutoffs),
        Entry::KeyRotate {
            collection,
            recipient,
            slots,
            recovery_slot,
        } => {
            team.owed.remove(collection);
            let key = KeyGeneration::new(h, b, collection, recipient, slots.clone(), recovery_slot);
            team.keys.push(key);
            None
        }
        Entry::CollectionAdd {
            collection,
            audit,
            recipient,
            slots,
            recovery_slot,
        } => {
            let c = Collection {
                id: collection.clone(),
                audit: *audit,
                readers: BTreeMap::new(),
                cutoffs: BTreeMap::new(),
            };
            team.collections.insert(collection.clone(), c);
            let key = KeyGeneration::new(h, b, collection, recipient, slots.clone(), recovery_slot);
            team.keys.push(key);
            None
        }
        Entry::Grant {
            collection,
            member,
            write,
            ..
        } => grant(team, collection, member, *write),
        Entry::Revoke {
            collection,
            member,
            cutoffs,
        } => revoke(team, collection, member, cutoffs),
    }
}

/// A device an entry adds, as the entry names it.
struct NewDevice<'a> {
    id: &'a str,
    member: &'a str,
    name: &'a str,
    recipient: &'a str,
    signing: &'a str,
}

/// Adds the device `d`, which entry `h` added.
fn add_device(team: &mut Team, d: NewDevice<'_>, h: &str) {
    let device = Device {
        id: d.id.to_owned(),
        member: d.member.to_owned(),
        name: d.name.to_owned(),
        recipient: d.recipient.to_owned(),
        signing: PublicSigningKey::parse(d.signing).expect("checked when opened"),
        removed: false,
        added_by: h.to_owned(),
        cutoff: None,
        chain_cutoffs: BTreeMap::new(),
    };
    team.devices.insert(d.id.to_owned(), device);
}

/// The genesis or a recovery makes `device`'s member (named `name` if new)
/// an admin, and adds the device.
fn add_admin(team: &mut Team, name: &str, device: NewDevice<'_>, h: &str) {
    let member = device.member;
    let m = team.members.entry(member.to_owned()).or_insert(Member {
        id: member.to_owned(),
        name: name.to_owned(),
        role: Role::Admin,
        removed: false,
    });
    m.role = Role::Admin;
    add_device(team, device, h);
}

/// Sets `member`'s role. Write rights end at a demotion to viewer, and come
/// back with a promotion for records after the cutoff (§11.6).
fn set_role(
    team: &mut Team,
    member: &str,
    role: Role,
    cutoffs: &BTreeMap<String, Cutoff>,
) -> Option<Target> {
    let m = team.members.get_mut(member).expect("checked");
    let lower = rank(role) > rank(m.role);
    let could_write = m.role != Role::Viewer;
    m.role = role;
    for d in team.devices.values_mut().filter(|d| d.member == member) {
        if role == Role::Viewer && could_write {
            d.cutoff = Some(cutoffs.get(&d.id).cloned());
            d.chain_cutoffs = chain_cutoffs(cutoffs, &d.id);
        } else if role != Role::Viewer && !d.removed {
            d.cutoff = None;
            d.chain_cutoffs.clear();
        }
    }
    lower.then(|| Target::Member(member.to_owned()))
}

/// Removes `member` and every device of theirs, each cut off where the
/// entry says unless an earlier entry already did (§11.6).
fn remove_member(
    team: &mut Team,
    member: &str,
    cutoffs: &BTreeMap<String, Cutoff>,
) -> Option<Target> {
    team.members.get_mut(member).expect("checked").removed = true;
    for d in team.devices.values_mut().filter(|d| d.member == member) {
        if !d.removed {
            d.removed = true;
            if d.cutoff.is_none() {
                d.cutoff = Some(cutoffs.get(&d.id).cloned());
                d.chain_cutoffs = chain_cutoffs(cutoffs, &d.id);
            }
        }
    }
    Some(Target::Member(member.to_owned()))
}

/// Removes one device, cut off where the entry says unless an earlier
/// entry already did.
fn remove_device(
    team: &mut Team,
    device: &str,
    cutoffs: &BTreeMap<String, Cutoff>,
) -> Option<Target> {
    let d = team.devices.get_mut(device).expect("checked");
    d.removed = true;
    if d.cutoff.is_none() {
        d.cutoff = Some(cutoffs.get(device).cloned());
        d.chain_cutoffs = chain_cutoffs(cutoffs, device);
    }
    Some(Target::Device(device.to_owned()))
}

/// Grants `collection` to `member`; with `write`, their devices' earlier
/// cutoffs in it end (§11.6, §14.1).
fn grant(team: &mut Team, collection: &str, member: &str, write: bool) -> Option<Target> {
    let devices = team.devices_of(member);
    let c = team.collections.get_mut(collection).expect("checked");
    c.readers.insert(member.to_owned(), write);
    if write {
        for d in devices {
            c.cutoffs.remove(&d);
        }
    }
    None
}

/// Takes `collection` from `member`; a writer's devices are cut off in it
/// where the entry says (§11.6, §14.1).
fn revoke(
    team: &mut Team,
    collection: &str,
    member: &str,
    cutoffs: &BTreeMap<String, Cutoff>,
) -> Option<Target> {
    let devices = team.devices_of(member);
    let c = team.collections.get_mut(collection).expect("checked");
    let could_write = c.readers.remove(member) == Some(true);
    if could_write {
        for d in devices {
            c.cutoffs
                .entry(d.clone())
                .or_insert_with(|| cutoffs.get(&d).cloned());
        }
    }
    None
}

/// The cutoffs of `device`'s chains in collections (keys
/// `<collection>/<device>`), by collection.
fn chain_cutoffs(cutoffs: &BTreeMap<String, Cutoff>, device: &str) -> BTreeMap<String, Cutoff> {
    cutoffs
        .iter()
        .filter_map(|(k, c)| {
            let (coll, d) = k.split_once('/')?;
            (d == device).then(|| (coll.to_owned(), c.clone()))
        })
        .collect()
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
