//! Who members and computers are, by name: the audit log and the shells
//! show names where the vault stores ids (docs/FORMAT.md §10.1, §11.5).

use std::collections::HashMap;

use chartsafe_core::{names, AuditEntry, Vault};

/// Members' and computers' names, from the signed team log.
#[derive(Debug, Clone, Default)]
pub struct People {
    members: HashMap<String, String>,
    devices: HashMap<String, String>,
    /// Computer id → its member's id.
    owners: HashMap<String, String>,
}

impl People {
    /// The names the team log gives; none when the vault has no team log
    /// this computer can read (ids are shown then).
    pub fn of(vault: &Vault) -> Self {
        let mut people = Self::default();
        if let Ok(team) = vault.team_view() {
            for m in team.members {
                for d in &m.devices {
                    people.devices.insert(d.id.to_string(), d.name.clone());
                    people.owners.insert(d.id.to_string(), m.id.to_string());
                }
                people.members.insert(m.id.to_string(), m.name);
            }
        }
        people
    }

    /// Names given directly (tests, and shells that hold their own).
    pub fn from_names(
        members: impl IntoIterator<Item = (String, String)>,
        devices: impl IntoIterator<Item = (String, String)>,
    ) -> Self {
        Self {
            members: members.into_iter().collect(),
            devices: devices.into_iter().collect(),
            owners: HashMap::new(),
        }
    }

    /// The name of the member whose computer `device` is, when the team
    /// log says.
    pub fn owner_of(&self, device: &str) -> Option<&str> {
        self.owners
            .get(device)
            .and_then(|m| self.members.get(m))
            .map(String::as_str)
    }

    /// Member id → name, for shells that look names up themselves.
    pub fn members(&self) -> &HashMap<String, String> {
        &self.members
    }

    /// Computer id → name, as the team log gives them.
    pub fn devices(&self) -> &HashMap<String, String> {
        &self.devices
    }

    /// The member's name, or the first 8 characters of the id when the
    /// team log does not name them. Not escaped: callers print it with
    /// [`names::printable`] or put it in a field.
    pub fn member(&self, id: &str) -> String {
        self.members
            .get(id)
            .cloned()
            .unwrap_or_else(|| id.get(..8).unwrap_or(id).to_owned())
    }

    /// The computer's name as the team log gives it, else the name its own
    /// audit batch gave (which that computer chose), else its id.
    pub fn device(&self, id: &str, own_name: &str) -> String {
        match self.devices.get(id) {
            Some(n) => n.clone(),
            None if !own_name.is_empty() => own_name.to_owned(),
            None => id.get(..8).unwrap_or(id).to_owned(),
        }
    }

    /// Who did `e`, for one line: "Dr Ada Rossi on Front desk PC".
    pub fn who(&self, e: &AuditEntry) -> String {
        format!(
            "{} on {}",
            names::printable(&self.member(&e.member)),
            names::printable(&self.device(&e.device, &e.device_name))
        )
    }

    /// Whether `text` names this member: their id or its first characters,
    /// or their name (any case).
    pub fn member_matches(&self, id: &str, text: &str) -> bool {
        let text = text.trim();
        !text.is_empty()
            && (id.starts_with(text)
                || self
                    .members
                    .get(id)
                    .is_some_and(|n| n.to_lowercase() == text.to_lowercase()))
    }

    /// Every member id whose name or id `text` names.
    pub fn member_ids(&self, text: &str) -> Vec<String> {
        self.members
            .keys()
            .filter(|id| self.member_matches(id, text))
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_team_and_ids_stand_in() {
        let p = People::from_names(
            [("26n4v2s7abcd".to_owned(), "Dr Ada Rossi".to_owned())],
            [("dev0000000000001".to_owned(), "Front desk".to_owned())],
        );
        assert_eq!(p.member("26n4v2s7abcd"), "Dr Ada Rossi");
        assert_eq!(p.member("zzzzzzzzzzzz"), "zzzzzzzz");
        assert_eq!(p.device("dev0000000000001", "laptop"), "Front desk");
        assert_eq!(p.device("other", "laptop"), "laptop");
        assert!(p.member_matches("26n4v2s7abcd", "dr ada rossi"));
        assert!(p.member_matches("26n4v2s7abcd", "26n4"));
        assert!(!p.member_matches("26n4v2s7abcd", "Ada"));
        assert_eq!(p.member_ids("DR ADA ROSSI"), ["26n4v2s7abcd"]);
    }
}
