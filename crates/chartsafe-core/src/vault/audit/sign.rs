//! Signed audit batches judged against the team log (docs/FORMAT.md §10.6,
//! docs/THREAT_MODEL.md §4.7): which unsigned batches still count, and the
//! one-time vouch an admin's computer writes for chains from before
//! batches were signed.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::format::audit::{self as fmt, Action, Event, Head};
use crate::format::team::{Entry, Role};
use crate::team::Team;
use crate::vault::audit::AuditProblem;
use crate::vault::Vault;

/// Every accepted batch, by chain (device id) and position.
pub(in crate::vault) type Chains = BTreeMap<String, BTreeMap<u64, Vec<fmt::OpenedBatch>>>;

/// The position of a chain's first signed batch (`u64::MAX` if none):
/// unsigned batches count only before it. A device signs every batch once
/// it can, so an unsigned batch after its first signed one was planted by
/// someone holding the shared MAC key (FORMAT.md §10.6).
fn first_signed(chain: &BTreeMap<u64, Vec<fmt::OpenedBatch>>) -> u64 {
    chain
        .iter()
        .find(|(_, bs)| bs.iter().any(|b| b.is_signed()))
        .map_or(u64::MAX, |(&seq, _)| seq)
}

/// Marks `start` and every batch before it on its `prev` chain, among the
/// unsigned batches before `limit` (`by_hash`: the chain's batches).
fn cover(
    by_hash: &HashMap<&str, &fmt::OpenedBatch>,
    start: Option<&str>,
    limit: u64,
    covered: &mut HashSet<String>,
) {
    let mut cur = start.map(str::to_owned);
    while let Some(h) = cur.take() {
        let Some(b) = by_hash.get(h.as_str()) else {
            break;
        };
        if b.body.seq >= limit || b.is_signed() || !covered.insert(h) {
            break;
        }
        cur = b.body.prev.clone();
    }
}

/// The problems of unsigned batches no signature vouches for: those at or
/// after their chain's first signed batch, and before it those on no
/// signed batch's `prev` chain (a device vouches for its own past when it
/// starts signing) and under no vouch (`legacy`) of an active admin's
/// computer, nor under the one this device is about to write (`vouch`).
/// One problem per chain; and the hashes of those batches, whose events
/// are marked. `late`: batches written after their computer's removal,
/// which vouch for nothing.
pub(in crate::vault) fn unsigned_problems(
    team: &Team,
    chains: &Chains,
    vouch: &BTreeMap<String, Head>,
    late: &HashSet<String>,
    name_of: &dyn Fn(&str, &Chains) -> String,
    dir_of: &dyn Fn(&str) -> String,
) -> (Vec<AuditProblem>, HashSet<String>) {
    let mut covered = HashSet::new();
    let admin = |device: &str| {
        team.active_device(device)
            .and_then(|d| team.active_member(&d.member))
            .is_some_and(|m| m.role == Role::Admin)
    };
    let maps: BTreeMap<&str, HashMap<&str, &fmt::OpenedBatch>> = chains
        .iter()
        .map(|(d, chain)| {
            (
                d.as_str(),
                chain
                    .values()
                    .flatten()
                    .map(|b| (b.hash.as_str(), b))
                    .collect(),
            )
        })
        .collect();
    let limits: BTreeMap<&str, u64> = chains
        .iter()
        .map(|(d, c)| (d.as_str(), first_signed(c)))
        .collect();
    let mut vouches: Vec<(&String, &Head)> = vouch.iter().collect();
    for (device, chain) in chains {
        let by_hash = &maps[device.as_str()];
        let limit = limits[device.as_str()];
        for b in chain.values().flatten().filter(|b| b.is_signed()) {
            if late.contains(&b.hash) {
                continue;
            }
            cover(by_hash, b.body.prev.as_deref(), limit, &mut covered);
            if admin(&b.body.device) {
                vouches.extend(b.body.legacy.iter());
            }
        }
    }
    for (device, head) in vouches {
        if let (Some(chain), Some(by_hash)) = (chains.get(device), maps.get(device.as_str())) {
            let at = chain.get(&head.seq).into_iter().flatten();
            if at.into_iter().any(|b| b.hash == head.hash) {
                cover(
                    by_hash,
                    Some(&head.hash),
                    limits[device.as_str()],
                    &mut covered,
                );
            }
        }
    }
    let mut out = Vec::new();
    let mut unverified = HashSet::new();
    for (device, chain) in chains {
        let loose: Vec<u64> = chain
            .iter()
            .filter(|(_, bs)| {
                bs.iter()
                    .any(|b| !b.is_signed() && !covered.contains(&b.hash))
            })
            .map(|(&seq, _)| seq)
            .collect();
        unverified.extend(
            chain
                .values()
                .flatten()
                .filter(|b| !b.is_signed() && !covered.contains(&b.hash))
                .map(|b| b.hash.clone()),
        );
        if let Some(&first) = loose.first() {
            out.push(AuditProblem::Unsigned {
                chain: name_of(device, chains),
                dir: dir_of(device),
                first,
                count: loose.len() as u64,
            });
        }
    }
    (out, unverified)
}

impl Vault {
    /// When each removed device left the team: the time of the first
    /// counted entry that removed it or its member (FORMAT.md §10.6).
    pub(in crate::vault) fn removal_times(&self) -> HashMap<String, i64> {
        let mut out = HashMap::new();
        let Some(team) = self.team().team.as_ref() else {
            return out;
        };
        let bodies: HashMap<&str, &crate::format::team::TeamBody> = self
            .team_entries()
            .map(|e| (e.hash.as_str(), &e.body))
            .collect();
        for hash in &team.order {
            let Some(b) = bodies.get(hash.as_str()) else {
                continue;
            };
            let gone: Vec<&str> = match &b.entry {
                Entry::DeviceRemove { device, .. } => vec![device.as_str()],
                Entry::MemberRemove { member, .. } => team
                    .devices
                    .values()
                    .filter(|d| d.member == *member)
                    .map(|d| d.id.as_str())
                    .collect(),
                _ => continue,
            };
            for d in gone {
                out.entry(d.to_owned()).or_insert(b.time);
            }
        }
        out
    }

    /// The chains this device vouches for now, if it is an admin's computer
    /// that signs and has not had its one chance yet: for each chain, its
    /// newest unsigned batch before the chain's first signed one (FORMAT.md
    /// §10.6).
    pub(in crate::vault) fn vouch_candidates(
        &self,
        team: &Team,
        chains: &Chains,
    ) -> BTreeMap<String, Head> {
        if self.device.audit_vouched
            || self.keys.signing.is_none()
            || team.role_of_device(self.device_id()) != Some(Role::Admin)
        {
            return BTreeMap::new();
        }
        let mut out = BTreeMap::new();
        for (device, chain) in chains {
            let limit = first_signed(chain);
            let newest = chain
                .range(..limit)
                .rev()
                .find_map(|(&seq, bs)| bs.iter().find(|b| !b.is_signed()).map(|b| (seq, b)));
            if let Some((seq, b)) = newest {
                out.insert(
                    device.clone(),
                    Head {
                        seq,
                        hash: b.hash.clone(),
                    },
                );
            }
        }
        out.into_iter().take(fmt::MAX_LEGACY).collect()
    }

    /// Writes the vouch (one batch, `audit_vouched`) and remembers that
    /// this device had its chance. Nothing to vouch for: only remembered,
    /// for an admin's computer. Best effort: if the batch cannot be
    /// written, the next read tries again.
    pub(in crate::vault) fn write_vouch(&mut self, vouch: BTreeMap<String, Head>) {
        if self.device.audit_vouched || self.keys.signing.is_none() {
            return;
        }
        let admin = self
            .team()
            .team
            .as_ref()
            .is_some_and(|t| t.role_of_device(self.device_id()) == Some(Role::Admin));
        if !admin {
            return;
        }
        if !vouch.is_empty() {
            let n = vouch.len();
            self.legacy_vouch = vouch;
            let event = Event::new(self.clock.now_ms(), Action::AuditVouched).detail(format!(
                "{n} audit chain(s) written before batches were signed"
            ));
            if self.append_audit(vec![event]).is_err() {
                self.legacy_vouch.clear();
                return;
            }
        }
        self.device.audit_vouched = true;
        let _ = self.local.save(&self.device);
    }
}
