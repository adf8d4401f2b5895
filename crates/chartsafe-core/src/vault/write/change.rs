//! Changing the tree: folders, moves, trash, restore, purge, and versions
//! (docs/FORMAT.md §6).

use crate::ids::EntryId;
use std::collections::HashSet;

use crate::errors::{
    MkdirError, MoveError, PathError, PurgeError, RemoveError, RestoreError, RevertError,
    StorageError, VersionsError,
};
use crate::format::audit::{Action, Event};
use crate::format::record::{EntryState, Kind, Op, Status};
use crate::ids;
use crate::names;
use crate::tree::Node;
use crate::vault::load::Snapshot;
use crate::vault::Vault;

/// One version of a file, as listed by [`Vault::versions`].
#[derive(Debug, Clone)]
pub struct VersionInfo {
    /// 1 for the current version, 2 for the one before, …
    pub number: usize,
    /// Plaintext size.
    pub size: u64,
    /// When it was written.
    pub changed: i64,
    /// The name of the device that wrote it, as its record claims it.
    pub changed_by: String,
    /// The id of the device whose signed record wrote it.
    pub changed_by_device: String,
    /// The name it had then.
    pub name: String,
}

/// One entry in the trash, as listed by [`Vault::trash`].
#[derive(Debug, Clone)]
pub struct TrashEntry {
    /// The entry id (accepted by [`Vault::restore`] and [`Vault::purge`]).
    pub id: EntryId,
    /// Where it was.
    pub path: String,
    /// File or folder.
    pub kind: Kind,
    /// Size (files).
    pub size: u64,
    /// When it was moved to the trash.
    pub trashed: i64,
    /// The name of the device that moved it, as its record claims it.
    pub trashed_by: String,
    /// The id of the device whose signed record moved it.
    pub trashed_by_device: String,
}

/// What [`Vault::purge`] removes.
#[derive(Debug, Clone)]
pub enum PurgeTarget {
    /// Every entry in the trash.
    All,
    /// One trash entry, by original path or entry id.
    One(String),
    /// Nothing new: only delete contents whose grace period is over.
    Expired,
}

/// What [`Vault::purge`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PurgeReport {
    /// Entries removed from the trash for good.
    pub entries: usize,
    /// Content files deleted from the vault folder.
    pub deleted: usize,
    /// Content files of purged entries kept until their grace period is over,
    /// in case a device that has not synced yet still uses them.
    pub waiting: usize,
}

/// Normalises a user-given vault path.
pub(crate) fn normalise(path: &str) -> Result<String, PathError> {
    names::split_path(path)
        .map(|parts| parts.join("/"))
        .map_err(|e| PathError::invalid(path, e))
}

pub(crate) fn split_parent(path: &str) -> (&str, &str) {
    match path.rfind('/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => ("", path),
    }
}

impl Snapshot {
    /// The node at `path`, or `NotFound`.
    pub(crate) fn find(&self, path: &str) -> Result<&Node, PathError> {
        self.tree.node(path).ok_or_else(|| PathError::NotFound {
            path: path.to_owned(),
        })
    }

    /// The folder entry id at `path` (`None` = top level).
    pub(crate) fn folder(&self, path: &str) -> Result<Option<String>, PathError> {
        if path.is_empty() {
            return Ok(None);
        }
        let node = self.find(path)?;
        if self.tree.versions[node.version].state.kind != Kind::Dir {
            return Err(PathError::NotAFolder {
                path: path.to_owned(),
            });
        }
        Ok(Some(node.entry.clone()))
    }

    /// The operation target for a node: its entry and the head it replaces.
    ///
    /// A conflict copy is first split off into an entry of its own, and its
    /// head in the original entry retired (docs/FORMAT.md §6.2), so that
    /// acting on it resolves the conflict.
    pub(crate) fn target(
        &self,
        node: &Node,
        ops: &mut Vec<Op>,
    ) -> (String, Vec<String>, EntryState) {
        let v = &self.tree.versions[node.version];
        if !node.conflict {
            return (node.entry.clone(), vec![v.id.clone()], v.state.clone());
        }
        let mut retired = v.state.clone();
        retired.status = Status::Gone;
        ops.push(Op {
            entry: node.entry.clone(),
            parents: vec![v.id.clone()],
            state: retired,
        });
        let mut state = v.state.clone();
        // The copy keeps the name it is shown under (already NFC and within limits).
        if let Ok(name) = names::normalise_name(split_parent(&node.path).1) {
            state.name = name;
        }
        (ids::random_id(), Vec::new(), state)
    }
}

impl Vault {
    /// Creates a folder, and any missing folders above it.
    pub fn mkdir(&mut self, path: &str) -> Result<(), MkdirError> {
        let path = normalise(path)?;
        let snap = self.load()?;
        if snap.tree.node(&path).is_some() {
            return Err(PathError::AlreadyExists { path }.into());
        }
        let mut ops = Vec::new();
        let mut events = Vec::new();
        self.ensure_folders(&snap, &path, &mut ops, &mut events)?;
        self.commit_ops(ops, Vec::new(), events)?;
        Ok(())
    }

    /// Returns the folder entry at `path`, adding ops that create it and its
    /// missing ancestors.
    pub(crate) fn ensure_folders(
        &self,
        snap: &Snapshot,
        path: &str,
        ops: &mut Vec<Op>,
        events: &mut Vec<Event>,
    ) -> Result<Option<String>, PathError> {
        let mut parent: Option<String> = None;
        let mut so_far = String::new();
        let mut creating = false;
        for name in path.split('/').filter(|s| !s.is_empty()) {
            so_far = names::join(&so_far, name);
            if !creating {
                if let Some(node) = snap.tree.node(&so_far) {
                    if snap.tree.versions[node.version].state.kind != Kind::Dir {
                        return Err(PathError::NotAFolder { path: so_far });
                    }
                    parent = Some(node.entry.clone());
                    continue;
                }
                creating = true;
            }
            // In its parent's collection (FORMAT.md §14.3): a key that says
            // so, for the changes that will name it as their folder.
            let coll = parent
                .as_deref()
                .and_then(|p| crate::vault::collections::split_key(p).0);
            let entry = crate::vault::collections::scoped(coll, &ids::random_id());
            events.push(Event::new(self.clock.now_ms(), Action::FolderCreated).on(&entry, &so_far));
            ops.push(Op {
                entry: entry.clone(),
                parents: Vec::new(),
                state: EntryState {
                    parent: parent.clone(),
                    name: name.to_owned(),
                    kind: Kind::Dir,
                    status: Status::Live,
                    content: None,
                    collection: None,
                },
            });
            parent = Some(entry);
        }
        Ok(parent)
    }

    /// Moves or renames `from` to `to`. If `to` is a folder, `from` moves into it.
    pub fn rename(&mut self, from: &str, to: &str) -> Result<(), MoveError> {
        let from = normalise(from)?;
        let to = normalise(to)?;
        let snap = self.load()?;
        let node = snap.find(&from)?.clone();
        let (dest_parent, dest_name) = match snap.tree.node(&to) {
            Some(n) if snap.tree.versions[n.version].state.kind == Kind::Dir => {
                (to.clone(), split_parent(&from).1.to_owned())
            }
            Some(_) => return Err(PathError::AlreadyExists { path: to }.into()),
            None => {
                let (p, n) = split_parent(&to);
                (p.to_owned(), n.to_owned())
            }
        };
        if dest_name.is_empty() {
            return Err(PathError::AlreadyExists { path: to }.into());
        }
        let full = names::join(&dest_parent, &dest_name);
        if full == from {
            return Ok(());
        }
        if snap.tree.node(&full).is_some() {
            return Err(PathError::AlreadyExists { path: full }.into());
        }
        if dest_parent == from || dest_parent.starts_with(&format!("{from}/")) {
            return Err(PathError::IntoItself { path: from }.into());
        }
        let parent = snap.folder(&dest_parent)?;
        let mut ops = Vec::new();
        let (entry, parents, mut state) = snap.target(&node, &mut ops);
        let action = if split_parent(&from).0 == dest_parent {
            Action::Renamed
        } else {
            Action::Moved
        };
        let event = Event::new(self.clock.now_ms(), action)
            .on(&node.entry, &from)
            .detail(format!("to {full}"));
        state.parent = parent;
        state.name = dest_name;
        state.status = Status::Live;
        ops.push(Op {
            entry,
            parents,
            state,
        });
        self.commit_ops(ops, Vec::new(), vec![event])?;
        Ok(())
    }

    /// Moves a file or folder (with everything in it) to the trash.
    pub fn remove(&mut self, path: &str) -> Result<(), RemoveError> {
        let path = normalise(path)?;
        if path.is_empty() {
            return Err(PathError::NotFound { path }.into());
        }
        let snap = self.load()?;
        let node = snap.find(&path)?.clone();
        let mut ops = Vec::new();
        let mut events = Vec::new();
        let mut targets = vec![node];
        targets.extend(snap.tree.descendants(&path).cloned());
        for n in &targets {
            events.push(Event::new(self.clock.now_ms(), Action::Deleted).on(&n.entry, &n.path));
        }
        for n in &targets {
            let (entry, parents, mut state) = snap.target(n, &mut ops);
            state.status = Status::Trash;
            if n.conflict {
                // The split-off copy keeps its parent folder.
                state.parent = snap.tree.versions[n.version].state.parent.clone();
            }
            ops.push(Op {
                entry,
                parents,
                state,
            });
        }
        self.commit_ops(ops, Vec::new(), events)?;
        Ok(())
    }

    /// Lists the trash.
    pub fn trash(&mut self) -> Result<Vec<TrashEntry>, crate::errors::ListError> {
        let snap = self.load()?;
        Ok(snap
            .tree
            .trash
            .iter()
            .map(|t| {
                let v = &snap.tree.versions[t.version];
                TrashEntry {
                    id: EntryId::checked(t.entry.clone()),
                    path: t.path.clone(),
                    kind: v.state.kind,
                    size: v.state.content.as_ref().map_or(0, |c| c.size),
                    trashed: v.time,
                    trashed_by: v.device_name.clone(),
                    trashed_by_device: v.device.clone(),
                }
            })
            .collect())
    }

    /// Finds trash entries by original path or entry id.
    fn trash_match(snap: &Snapshot, what: &str) -> Result<Vec<String>, PathError> {
        if ids::is_id(what) && snap.tree.trash.iter().any(|t| t.entry == what) {
            return Ok(vec![what.to_owned()]);
        }
        let path = normalise(what)?;
        let found: Vec<String> = snap
            .tree
            .trash
            .iter()
            .filter(|t| t.path == path)
            .map(|t| t.entry.clone())
            .collect();
        if found.is_empty() {
            return Err(PathError::NotFound {
                path: format!("trash:{path}"),
            });
        }
        Ok(found)
    }

    /// Entries trashed together with `entry` below it (a folder's
    /// contents), each with its version and its path in the trash below
    /// `path`; a folder comes before what it holds.
    pub(crate) fn trashed_below(
        snap: &Snapshot,
        entry: &str,
        path: &str,
    ) -> Vec<(String, usize, String)> {
        let mut out = Vec::new();
        let mut frontier = vec![(entry.to_owned(), path.to_owned())];
        // Folders moved into each other form a cycle: each is walked once.
        let mut seen: std::collections::HashSet<String> = [entry.to_owned()].into();
        let trashed: Vec<(String, usize)> = snap
            .tree
            .trashed_entries()
            .map(|(e, v)| (e.clone(), v))
            .collect();
        while let Some((parent, parent_path)) = frontier.pop() {
            for (e, v) in &trashed {
                let state = &snap.tree.versions[*v].state;
                if state.parent.as_deref() == Some(parent.as_str()) && seen.insert(e.clone()) {
                    let inside = names::join(&parent_path, &state.name);
                    out.push((e.clone(), *v, inside.clone()));
                    frontier.push((e.clone(), inside));
                }
            }
        }
        out
    }

    /// Restores an entry from the trash (by original path or id) to where it was.
    /// If that name is taken meanwhile, the restored entry gets " (restored DATE)".
    pub fn restore(&mut self, what: &str) -> Result<(), RestoreError> {
        let snap = self.load()?;
        let mut ops = Vec::new();
        let mut events = Vec::new();
        let now = self.clock.now_ms();
        for entry in Self::trash_match(&snap, what)? {
            let trashed = snap
                .tree
                .trash
                .iter()
                .find(|t| t.entry == entry)
                .expect("matched");
            events.push(Event::new(now, Action::Restored).on(&entry, &trashed.path));
            let mut state = snap.tree.versions[trashed.version].state.clone();
            state.status = Status::Live;
            let (parent_path, _) = split_parent(&trashed.path);
            let taken = snap
                .tree
                .node(&names::join(parent_path, &state.name))
                .is_some();
            if taken {
                let date = names::date(self.clock.now_ms());
                state.name = names::suffixed_name(&state.name, &format!("restored {date}"));
            }
            let parents: Vec<String> = snap
                .tree
                .heads(&entry)
                .iter()
                .map(|&i| snap.tree.versions[i].id.clone())
                .collect();
            ops.push(Op {
                entry: entry.clone(),
                parents,
                state,
            });
            for (child, cv, inside) in Self::trashed_below(&snap, &entry, &trashed.path) {
                events.push(
                    Event::new(now, Action::Restored)
                        .on(&child, &inside)
                        .detail("with its folder"),
                );
                let mut state = snap.tree.versions[cv].state.clone();
                state.status = Status::Live;
                let parents = snap
                    .tree
                    .heads(&child)
                    .iter()
                    .map(|&i| snap.tree.versions[i].id.clone())
                    .collect();
                ops.push(Op {
                    entry: child,
                    parents,
                    state,
                });
            }
        }
        self.commit_ops(ops, Vec::new(), events)?;
        Ok(())
    }

    /// Deletes trash entries for good, with every version of their contents.
    ///
    /// The entries go at once; their content files are deleted only once the
    /// purge is older than [`crate::vault::Options::purge_grace_ms`], and only if no
    /// version that can still be shown or restored uses them: a device that
    /// has not synced yet may have renamed, restored or edited the entry
    /// meanwhile, and its version would otherwise come back without content
    /// (docs/FORMAT.md §5.3). Every purge also deletes what has expired since.
    pub fn purge(&mut self, target: PurgeTarget) -> Result<PurgeReport, PurgeError> {
        let snap = self.load()?;
        let roots: Vec<String> = match &target {
            PurgeTarget::All => snap.tree.trash.iter().map(|t| t.entry.clone()).collect(),
            PurgeTarget::One(what) => Self::trash_match(&snap, what)?,
            PurgeTarget::Expired => Vec::new(),
        };
        // Each root and its contents, with their paths in the trash.
        let mut entries: Vec<(String, usize, String)> = Vec::new();
        for root in &roots {
            let trashed = snap
                .tree
                .trash
                .iter()
                .find(|t| &t.entry == root)
                .expect("matched");
            entries.push((root.clone(), trashed.version, trashed.path.clone()));
            entries.extend(Self::trashed_below(&snap, root, &trashed.path));
        }
        let mut ops = Vec::new();
        let mut events = Vec::new();
        let now = self.clock.now_ms();
        for (entry, head, path) in &entries {
            events.push(Event::new(now, Action::Purged).on(entry, path));
            let mut state = snap.tree.versions[*head].state.clone();
            state.status = Status::Gone;
            let parents = snap
                .tree
                .heads(entry)
                .iter()
                .map(|&i| snap.tree.versions[i].id.clone())
                .collect();
            ops.push(Op {
                entry: entry.clone(),
                parents,
                state,
            });
        }
        self.commit_ops(ops, Vec::new(), events)?;
        // The record is durable; now the contents whose time has come.
        let (deleted, waiting) = self.delete_expired_contents()?;
        Ok(PurgeReport {
            entries: entries.len(),
            deleted,
            waiting,
        })
    }

    /// Deletes the content files that only versions gone for longer than
    /// the grace period name (another computer may not have synced the
    /// purge yet). Returns how many were deleted, and how many wait for
    /// their grace period to end.
    fn delete_expired_contents(&mut self) -> Result<(usize, usize), PurgeError> {
        let snap = self.load()?;
        let cutoff = self.clock.now_ms().saturating_sub(self.purge_grace_ms);
        let mut keep: HashSet<&str> = HashSet::new();
        let mut expired: HashSet<&str> = HashSet::new();
        let mut waiting: HashSet<&str> = HashSet::new();
        for (entry, heads) in snap.tree.entries() {
            let all_gone = heads
                .iter()
                .all(|&i| snap.tree.versions[i].state.status == Status::Gone);
            let gone_at = heads
                .iter()
                .map(|&i| snap.tree.versions[i].time)
                .max()
                .unwrap_or(i64::MAX);
            let set = if !all_gone {
                &mut keep
            } else if gone_at <= cutoff {
                &mut expired
            } else {
                &mut waiting
            };
            for vi in snap.tree.versions_of(entry) {
                if let Some(c) = &snap.tree.versions[vi].state.content {
                    set.insert(c.blob.as_str());
                }
            }
        }
        let mut deleted = 0;
        for blob in expired
            .iter()
            .filter(|b| !keep.contains(*b) && !waiting.contains(*b))
        {
            if !snap.blobs.contains(*blob) {
                continue;
            }
            let path = snap.blob_path(&self.layout, blob);
            crate::failpoint::step("delete content file")
                .map_err(|e| StorageError::write(&path, e))?;
            match std::fs::remove_file(&path) {
                Ok(()) => deleted += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(StorageError::write(path, e).into()),
            }
        }
        let waiting = waiting
            .iter()
            .filter(|b| !keep.contains(*b) && snap.blobs.contains(**b))
            .count();
        Ok((deleted, waiting))
    }

    /// Lists the versions of a file, newest (current) first.
    pub fn versions(&mut self, path: &str) -> Result<Vec<VersionInfo>, VersionsError> {
        let path = normalise(path)?;
        let snap = self.load()?;
        Ok(versions_of(&snap, snap.find(&path)?)
            .into_iter()
            .enumerate()
            .map(|(i, vi)| {
                let v = &snap.tree.versions[vi];
                VersionInfo {
                    number: i + 1,
                    size: v.state.content.as_ref().map_or(0, |c| c.size),
                    changed: v.time,
                    changed_by: v.device_name.clone(),
                    changed_by_device: v.device.clone(),
                    name: v.state.name.clone(),
                }
            })
            .collect())
    }
}

impl Vault {
    /// Makes an older version (2 = the one before the current, as numbered by
    /// [`Vault::versions`]) the current content of a file again. The current
    /// content stays in the history; nothing is re-encrypted.
    pub fn revert(&mut self, path: &str, version: usize) -> Result<(), RevertError> {
        let path = normalise(path)?;
        let snap = self.load()?;
        let node = snap.find(&path)?.clone();
        let list = versions_of(&snap, &node);
        let old = version
            .checked_sub(1)
            .and_then(|i| list.get(i))
            .and_then(|&vi| snap.tree.versions[vi].state.content.clone())
            .ok_or(RevertError::NoSuchVersion {
                path: path.clone(),
                version,
            })?;
        if version == 1 {
            return Ok(());
        }
        let mut ops = Vec::new();
        let event = Event::new(self.clock.now_ms(), Action::VersionRestored)
            .on(&node.entry, &path)
            .detail(format!("version {version}"));
        let (entry, parents, mut state) = snap.target(&node, &mut ops);
        state.content = Some(old);
        state.status = Status::Live;
        ops.push(Op {
            entry,
            parents,
            state,
        });
        self.commit_ops(ops, Vec::new(), vec![event])?;
        Ok(())
    }
}

/// Distinct contents of a node's entry, the node's own version first.
pub(crate) fn versions_of(snap: &Snapshot, node: &Node) -> Vec<usize> {
    let mut out = vec![node.version];
    let mut seen: HashSet<String> = HashSet::new();
    if let Some(c) = &snap.tree.versions[node.version].state.content {
        seen.insert(c.blob.clone());
    }
    for vi in snap.tree.versions_of(&node.entry) {
        if let Some(c) = &snap.tree.versions[vi].state.content {
            if seen.insert(c.blob.clone()) {
                out.push(vi);
            }
        }
    }
    if snap.tree.versions[node.version].state.content.is_none() {
        out.remove(0);
    }
    out
}
