//! The team as people see it: a read model of the team log that the shells
//! render, instead of reaching into [`crate::team::Team`]'s fields
//! (docs/FORMAT.md §11.5).

use crate::errors::{Classify, ErrorKind};
use crate::format::team::Role;
use crate::ids::{DeviceId, MemberId};
use crate::vault::Vault;

/// The team as this computer computes it from the signed team log.
#[derive(Debug, Clone)]
pub struct TeamView {
    /// Every member ever added, in id order, removed ones included.
    pub members: Vec<MemberView>,
    /// Whether this computer is an active admin's: it may invite, approve
    /// and remove.
    pub admin: bool,
    /// Team entries that do not count, and why.
    pub rejected: Vec<RejectedEntry>,
    /// Files under `t/` that could not be used: (file, why).
    pub unreadable: Vec<(String, String)>,
    /// Entries this computer had accepted that are gone from the folder,
    /// described for people; they still count here (FORMAT.md §11.7).
    pub rolled_back: Vec<String>,
    /// Team entries waiting for entries that have not synced yet.
    pub pending: usize,
}

impl TeamView {
    /// Whether anything in the team log does not count, cannot be read, or
    /// went back.
    pub fn has_problems(&self) -> bool {
        !self.rejected.is_empty() || !self.unreadable.is_empty() || !self.rolled_back.is_empty()
    }
}

/// A member and their computers.
#[derive(Debug, Clone)]
pub struct MemberView {
    /// The member id.
    pub id: MemberId,
    /// Their name as written in the team log (escape before printing).
    pub name: String,
    /// Their role.
    pub role: Role,
    /// Whether they were removed.
    pub removed: bool,
    /// Their computers, in id order.
    pub devices: Vec<DeviceView>,
}

/// One computer of a member.
#[derive(Debug, Clone)]
pub struct DeviceView {
    /// The device id.
    pub id: DeviceId,
    /// Its name (escape before printing).
    pub name: String,
    /// Whether it was removed.
    pub removed: bool,
    /// Whether it is this computer.
    pub this_device: bool,
    /// Its public signing key (`cssign1…`).
    pub signing: String,
}

/// A team entry that does not count.
#[derive(Debug, Clone)]
pub struct RejectedEntry {
    /// The device whose chain holds it.
    pub device: String,
    /// Its position in that chain.
    pub seq: u64,
    /// What it tried to do ("add member", "remove device", …).
    pub kind: &'static str,
    /// A stable code for scripts.
    pub code: &'static str,
    /// Why it does not count, for people.
    pub reason: String,
}

/// Errors of [`Vault::team_view`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TeamViewError {
    /// This computer pinned the vault's root key but the team log cannot be
    /// used: deleted, not synced yet, or without a valid beginning.
    #[error(
        "no team: {0}; the team log (t/ in the vault folder) was deleted, or has not synced yet"
    )]
    Unreadable(String),
    /// The vault predates the team log on this computer: using the recovery
    /// phrase here starts one.
    #[error("this computer knows no team for this vault: it was made before the team log; using the recovery phrase on this computer starts one")]
    NoTeam,
}

impl Classify for TeamViewError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Unreadable(_) => ErrorKind::Damaged,
            Self::NoTeam => ErrorKind::NotFound,
        }
    }
}

impl Vault {
    /// The team as this computer computes it from the signed team log.
    ///
    /// # Errors
    ///
    /// [`TeamViewError`] when there is no team to show.
    pub fn team_view(&self) -> Result<TeamView, TeamViewError> {
        let status = self.team();
        let Some(team) = &status.team else {
            return Err(match &status.error {
                Some(e) => TeamViewError::Unreadable(e.to_string()),
                None => TeamViewError::NoTeam,
            });
        };
        let me = self.device_id();
        let members = team
            .members
            .values()
            .map(|m| MemberView {
                id: MemberId::checked(m.id.clone()),
                name: m.name.clone(),
                role: m.role,
                removed: m.removed,
                devices: team
                    .devices
                    .values()
                    .filter(|d| d.member == m.id)
                    .map(|d| DeviceView {
                        id: DeviceId::checked(d.id.clone()),
                        name: d.name.clone(),
                        removed: d.removed,
                        this_device: d.id == me,
                        signing: d.signing.to_string(),
                    })
                    .collect(),
            })
            .collect();
        let rejected = team
            .rejected
            .iter()
            .map(|r| RejectedEntry {
                device: r.device.clone(),
                seq: r.seq,
                kind: r.kind,
                code: r.reason.code(),
                reason: r.reason.to_string(),
            })
            .collect();
        Ok(TeamView {
            members,
            admin: team.role_of_device(me) == Some(Role::Admin),
            rejected,
            unreadable: status.unreadable.clone(),
            rolled_back: status.rolled_back.clone(),
            pending: team.pending.len(),
        })
    }
}
