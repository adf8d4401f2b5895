//! Merging records into the tree people see (docs/FORMAT.md §6).
//!
//! The state is a pure function of the set of valid records: every device that
//! has the same records computes the same tree, whatever the order they arrived
//! in. That is what makes two synced devices converge.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::format::record::{EntryState, Kind, OpenedRecord, RecordBody, Status};
use crate::names;

/// One version of one entry: an operation from a record.
#[derive(Debug, Clone)]
pub(crate) struct Version {
    pub id: String,
    pub entry: String,
    pub parents: Vec<String>,
    pub state: EntryState,
    pub time: i64,
    pub device: String,
    pub device_name: String,
}

/// A visible item: an entry's current version (or a conflicting one) at a path.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub entry: String,
    /// Index into [`Tree::versions`].
    pub version: usize,
    pub path: String,
    /// This is a non-primary head shown as a conflict copy.
    pub conflict: bool,
}

/// An entry in the trash.
#[derive(Debug, Clone)]
pub(crate) struct Trashed {
    pub entry: String,
    pub version: usize,
    pub path: String,
}

/// Items and trash as [`Tree::shape`] lists them.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) type Shape = (Vec<(String, String, String, bool)>, Vec<(String, String)>);

/// The merged tree.
#[derive(Debug, Default)]
pub(crate) struct Tree {
    pub versions: Vec<Version>,
    /// Visible nodes, sorted by path.
    pub nodes: Vec<Node>,
    by_path: HashMap<String, usize>,
    /// Entries whose every head is in the trash and whose parent is not.
    pub trash: Vec<Trashed>,
    heads: HashMap<String, Vec<usize>>,
    /// Every version of each entry: [`Tree::versions_of`] in constant time
    /// (a scan per entry made `verify` of 100,000 files quadratic).
    by_entry: HashMap<String, Vec<usize>>,
}

fn newest_first(a: &Version, b: &Version) -> std::cmp::Ordering {
    b.time
        .cmp(&a.time)
        .then_with(|| b.device.cmp(&a.device))
        .then_with(|| b.id.cmp(&a.id))
}

impl Tree {
    /// Builds the tree from opened records (in any order).
    pub(crate) fn build(records: &[(String, OpenedRecord)]) -> Self {
        let mut versions = Vec::new();
        let mut seen = HashSet::new();
        for (_file, rec) in records {
            let RecordBody {
                device,
                device_name,
                time,
                ops,
                ..
            } = &rec.body;
            for (i, op) in ops.iter().enumerate() {
                let id = RecordBody::version_id(&rec.hash, i);
                if !seen.insert(id.clone()) {
                    continue; // the same record arrived twice (a sync client's copy)
                }
                versions.push(Version {
                    id,
                    entry: op.entry.clone(),
                    parents: op.parents.clone(),
                    state: op.state.clone(),
                    time: *time,
                    device: device.clone(),
                    device_name: device_name.clone(),
                });
            }
        }
        // Deterministic order whatever the arrival order.
        versions.sort_by(|a, b| a.id.cmp(&b.id));
        let mut tree = Tree {
            versions,
            ..Tree::default()
        };
        tree.compute();
        tree
    }

    /// FORMAT.md §6.1, step by step: heads, the version shown for each
    /// entry, effective parents, folders kept for what they hold, names in
    /// each folder, paths, and the trash.
    fn compute(&mut self) {
        for (i, v) in self.versions.iter().enumerate() {
            self.by_entry.entry(v.entry.clone()).or_default().push(i);
        }
        let heads = heads(&self.versions);
        let picked = pick(&self.versions, &heads);
        let parents = Parents::new(&self.versions, &picked.representative);
        let mut shown = picked.shown;
        let shown_entries = add_ancestors(&mut shown, &parents, &picked.representative);
        let folders = folders(
            &self.versions,
            &shown,
            &parents,
            &picked.representative,
            &shown_entries,
        );
        let (display, parent_index) = display_names(&self.versions, &shown, &folders);
        let (nodes, paths, index_of_entry) = place(&shown, &display, &parent_index);
        self.trash = trash(
            &self.versions,
            &picked.trashed,
            &parents,
            &index_of_entry,
            &paths,
        );
        self.by_path = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.path.clone(), i))
            .collect();
        self.nodes = nodes;
        drop(picked.representative);
        self.heads = heads;
    }

    /// What two devices with the same records must agree on: every item's
    /// path, entry, version and conflict flag, then the trash's paths and
    /// entries (the property tests and the fuzz targets compare these).
    #[cfg(any(test, feature = "fuzzing"))]
    pub(crate) fn shape(&self) -> Shape {
        (
            self.nodes
                .iter()
                .map(|n| {
                    (
                        n.path.clone(),
                        n.entry.clone(),
                        self.versions[n.version].id.clone(),
                        n.conflict,
                    )
                })
                .collect(),
            self.trash
                .iter()
                .map(|x| (x.path.clone(), x.entry.clone()))
                .collect(),
        )
    }

    /// The visible node at a path (already normalised).
    pub(crate) fn node(&self, path: &str) -> Option<&Node> {
        self.by_path.get(path).map(|&i| &self.nodes[i])
    }

    /// Every entry with its head versions (newest first).
    pub(crate) fn entries(&self) -> impl Iterator<Item = (&String, &[usize])> {
        self.heads.iter().map(|(e, h)| (e, h.as_slice()))
    }

    /// Head versions of an entry, newest first.
    pub(crate) fn heads(&self, entry: &str) -> &[usize] {
        self.heads.get(entry).map_or(&[], Vec::as_slice)
    }

    /// Visible nodes below a folder path (not the folder itself).
    pub(crate) fn descendants<'a>(&'a self, path: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        let prefix = format!("{path}/");
        self.nodes
            .iter()
            .filter(move |n| n.path.starts_with(&prefix))
    }

    /// Every version of an entry, newest first.
    pub(crate) fn versions_of(&self, entry: &str) -> Vec<usize> {
        let mut out = self.by_entry.get(entry).cloned().unwrap_or_default();
        out.sort_by(|&a, &b| newest_first(&self.versions[a], &self.versions[b]));
        out
    }

    /// Entries (with their head version) whose heads are all in the trash.
    pub(crate) fn trashed_entries(&self) -> impl Iterator<Item = (&String, usize)> {
        self.heads.iter().filter_map(|(e, list)| {
            let all_trash = list
                .iter()
                .all(|&i| self.versions[i].state.status != Status::Live);
            let t = list
                .iter()
                .copied()
                .find(|&i| self.versions[i].state.status == Status::Trash)?;
            all_trash.then_some((e, t))
        })
    }
}

/// The heads of each entry: its versions no version of the same entry
/// supersedes, newest first. A version supersedes only versions of its own
/// entry: an operation cannot hide another entry's version (one of another
/// collection, FORMAT.md §14.3) by naming it.
fn heads(versions: &[Version]) -> HashMap<String, Vec<usize>> {
    let superseded: HashSet<(&str, &str)> = versions
        .iter()
        .flat_map(|v| {
            v.parents
                .iter()
                .map(move |p| (v.entry.as_str(), p.as_str()))
        })
        .collect();
    let mut heads: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, v) in versions.iter().enumerate() {
        if !superseded.contains(&(v.entry.as_str(), v.id.as_str())) {
            heads.entry(v.entry.clone()).or_default().push(i);
        }
    }
    for list in heads.values_mut() {
        list.sort_by(|&a, &b| newest_first(&versions[a], &versions[b]));
    }
    heads
}

/// A version to show: an entry's primary live head, or a conflicting one.
struct Shown {
    entry: String,
    version: usize,
    conflict: bool,
}

/// What [`pick`] chose for each entry.
struct Picked<'a> {
    shown: Vec<Shown>,
    /// The version that stands for each entry (its primary live head, else
    /// its trashed head, else its newest head).
    representative: HashMap<&'a str, usize>,
    /// Entries whose every head is in the trash, with the trashed head.
    trashed: Vec<(String, usize)>,
}

/// The primary live head of each entry, its conflicting live heads (files
/// only, and only if they differ in name, folder or content), and the
/// entries in the trash.
fn pick<'a>(versions: &[Version], heads: &'a HashMap<String, Vec<usize>>) -> Picked<'a> {
    let mut picked = Picked {
        shown: Vec::new(),
        representative: HashMap::new(),
        trashed: Vec::new(),
    };
    let mut entries: Vec<&String> = heads.keys().collect();
    entries.sort();
    for entry in entries {
        let list = &heads[entry];
        picked.representative.insert(entry.as_str(), list[0]);
        let live: Vec<usize> = list
            .iter()
            .copied()
            .filter(|&i| versions[i].state.status == Status::Live)
            .collect();
        if let Some(&primary) = live.first() {
            picked.representative.insert(entry.as_str(), primary);
            picked.shown.push(Shown {
                entry: entry.clone(),
                version: primary,
                conflict: false,
            });
            let p = &versions[primary].state;
            if p.kind != Kind::File {
                continue;
            }
            for &other in &live[1..] {
                let o = &versions[other].state;
                let same = o.name == p.name
                    && o.parent == p.parent
                    && o.content.as_ref().map(|c| &c.sha256)
                        == p.content.as_ref().map(|c| &c.sha256);
                if !same {
                    picked.shown.push(Shown {
                        entry: entry.clone(),
                        version: other,
                        conflict: true,
                    });
                }
            }
        } else if let Some(&t) = list
            .iter()
            .find(|&&i| versions[i].state.status == Status::Trash)
        {
            picked.representative.insert(entry.as_str(), t);
            picked.trashed.push((entry.clone(), t));
        }
    }
    picked
}

/// Effective parents: an unknown or non-folder parent means the top level;
/// cycles (from concurrent moves) are broken at their smallest entry id.
struct Parents<'a> {
    versions: &'a [Version],
    representative: &'a HashMap<&'a str, usize>,
    cut: HashSet<String>,
}

impl<'a> Parents<'a> {
    fn new(versions: &'a [Version], representative: &'a HashMap<&'a str, usize>) -> Self {
        let mut parents = Self {
            versions,
            representative,
            cut: HashSet::new(),
        };
        let mut all: Vec<&str> = representative.keys().copied().collect();
        all.sort();
        for start in all {
            let mut path = vec![start.to_owned()];
            let mut cur = start.to_owned();
            while let Some(p) = parents.effective(&cur) {
                if let Some(pos) = path.iter().position(|x| *x == p) {
                    let min = path[pos..].iter().min().expect("non-empty cycle").clone();
                    parents.cut.insert(min);
                    break;
                }
                path.push(p.clone());
                cur = p;
            }
        }
        parents
    }

    /// The parent as recorded, if it is a known folder.
    fn recorded(&self, entry: &str) -> Option<String> {
        let v = &self.versions[*self.representative.get(entry)?];
        let parent = v.state.parent.as_ref()?;
        let pv = &self.versions[*self.representative.get(parent.as_str())?];
        (pv.state.kind == Kind::Dir).then(|| parent.clone())
    }

    /// The parent the tree uses: none where a cycle was cut.
    fn effective(&self, entry: &str) -> Option<String> {
        if self.cut.contains(entry) {
            None
        } else {
            self.recorded(entry)
        }
    }
}

/// Adds the folders above everything shown that are not shown themselves
/// (a folder deleted while another device added into it stays visible);
/// returns every entry shown.
fn add_ancestors(
    shown: &mut Vec<Shown>,
    parents: &Parents<'_>,
    representative: &HashMap<&str, usize>,
) -> HashSet<String> {
    let mut shown_entries: HashSet<String> = shown.iter().map(|s| s.entry.clone()).collect();
    let mut extra_dirs: Vec<String> = Vec::new();
    for s in shown.iter() {
        let mut cur = s.entry.clone();
        while let Some(p) = parents.effective(&cur) {
            if !shown_entries.insert(p.clone()) {
                break;
            }
            extra_dirs.push(p.clone());
            cur = p;
        }
    }
    extra_dirs.sort();
    for d in extra_dirs {
        let version = representative[d.as_str()];
        shown.push(Shown {
            entry: d,
            version,
            conflict: false,
        });
    }
    shown_entries
}

/// The shown items of each folder (`None`: the top level), by index into
/// `shown`.
fn folders(
    versions: &[Version],
    shown: &[Shown],
    parents: &Parents<'_>,
    representative: &HashMap<&str, usize>,
    shown_entries: &HashSet<String>,
) -> BTreeMap<Option<String>, Vec<usize>> {
    let mut folders: BTreeMap<Option<String>, Vec<usize>> = BTreeMap::new();
    for (i, s) in shown.iter().enumerate() {
        let parent = if s.conflict {
            // The conflicting version's own folder, if it is shown and is a
            // folder: a hostile writer may name a file (found by the `tree`
            // fuzz target).
            versions[s.version]
                .state
                .parent
                .clone()
                .filter(|p| shown_entries.contains(p))
                .filter(|p| {
                    representative
                        .get(p.as_str())
                        .is_some_and(|&r| versions[r].state.kind == Kind::Dir)
                })
        } else {
            parents.effective(&s.entry)
        };
        folders.entry(parent).or_default().push(i);
    }
    folders
}

/// Names within each folder: conflict copies are labelled, then any
/// remaining clash is resolved with the newest keeping the name. Returns
/// each shown item's name and folder.
fn display_names(
    versions: &[Version],
    shown: &[Shown],
    folders: &BTreeMap<Option<String>, Vec<usize>>,
) -> (Vec<String>, Vec<Option<String>>) {
    let mut display: Vec<String> = vec![String::new(); shown.len()];
    let mut parent_index: Vec<Option<String>> = vec![None; shown.len()];
    for (parent, members) in folders {
        let mut by_name: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for &i in members {
            let v = &versions[shown[i].version];
            let name = if shown[i].conflict {
                names::conflict_name(&v.state.name, &v.device_name, &names::date(v.time))
            } else {
                v.state.name.clone()
            };
            by_name.entry(name).or_default().push(i);
            parent_index[i] = parent.clone();
        }
        let mut taken: HashSet<String> = by_name.keys().cloned().collect();
        for (name, mut group) in by_name {
            group.sort_by(|&a, &b| {
                newest_first(&versions[shown[a].version], &versions[shown[b].version])
            });
            display[group[0]] = name.clone();
            for &i in &group[1..] {
                let candidate =
                    unique_conflict_name(&name, &versions[shown[i].version], &shown[i], &taken);
                taken.insert(candidate.clone());
                display[i] = candidate;
            }
        }
    }
    (display, parent_index)
}

/// A conflict name for a version that lost `name` to a newer one; on the
/// same device and day, more of the entry id until it is unique.
fn unique_conflict_name(name: &str, v: &Version, shown: &Shown, taken: &HashSet<String>) -> String {
    let base = names::conflict_name(name, &v.device_name, &names::date(v.time));
    let mut candidate = base.clone();
    let mut len = 6;
    while taken.contains(&candidate) {
        let id = &shown.entry;
        let short = id.get(..len.min(id.len())).unwrap_or(id);
        candidate = names::suffixed_name(&base, short);
        if len >= id.len() {
            candidate = names::suffixed_name(&candidate, &format!("{}", shown.version));
            break;
        }
        len += 2;
    }
    candidate
}

/// Each shown item at its path, sorted by path; also each item's path and
/// where each entry's (non-conflict) item is.
fn place<'a>(
    shown: &'a [Shown],
    display: &[String],
    parent_index: &[Option<String>],
) -> (Vec<Node>, Vec<Option<String>>, HashMap<&'a str, usize>) {
    let index_of_entry: HashMap<&str, usize> = shown
        .iter()
        .enumerate()
        .filter(|(_, s)| !s.conflict)
        .map(|(i, s)| (s.entry.as_str(), i))
        .collect();
    let mut paths: Vec<Option<String>> = vec![None; shown.len()];
    fn path_of(
        i: usize,
        paths: &mut Vec<Option<String>>,
        display: &[String],
        parent_index: &[Option<String>],
        index_of_entry: &HashMap<&str, usize>,
        depth: usize,
    ) -> String {
        if let Some(p) = &paths[i] {
            return p.clone();
        }
        let parent_path = match &parent_index[i] {
            Some(p) if depth < 4096 => match index_of_entry.get(p.as_str()) {
                Some(&pi) => path_of(pi, paths, display, parent_index, index_of_entry, depth + 1),
                None => String::new(),
            },
            _ => String::new(),
        };
        let path = names::join(&parent_path, &display[i]);
        paths[i] = Some(path.clone());
        path
    }
    let mut nodes = Vec::with_capacity(shown.len());
    for (i, s) in shown.iter().enumerate() {
        let path = path_of(i, &mut paths, display, parent_index, &index_of_entry, 0);
        nodes.push(Node {
            entry: s.entry.clone(),
            version: s.version,
            path,
            conflict: s.conflict,
        });
    }
    nodes.sort_by(|a, b| a.path.cmp(&b.path));
    (nodes, paths, index_of_entry)
}

/// The trash: trashed entries whose parent is not itself in the trash, the
/// parent being the effective one (steps 4 and 5): folders moved into each
/// other and then trashed are listed at the entry where the cycle is cut,
/// not lost (found by the convergence test).
fn trash(
    versions: &[Version],
    trashed: &[(String, usize)],
    parents: &Parents<'_>,
    index_of_entry: &HashMap<&str, usize>,
    paths: &[Option<String>],
) -> Vec<Trashed> {
    let trashed_set: HashSet<&str> = trashed.iter().map(|(e, _)| e.as_str()).collect();
    let mut trash = Vec::new();
    for (entry, version) in trashed {
        let parent = parents.effective(entry);
        if parent.as_deref().is_some_and(|p| trashed_set.contains(p)) {
            continue;
        }
        let parent_path = parent
            .as_deref()
            .and_then(|p| index_of_entry.get(p))
            .map(|&i| paths[i].clone().unwrap_or_default())
            .unwrap_or_default();
        let path = names::join(&parent_path, &versions[*version].state.name);
        trash.push(Trashed {
            entry: entry.clone(),
            version: *version,
            path,
        });
    }
    trash.sort_by(|a, b| a.path.cmp(&b.path).then_with(|| a.entry.cmp(&b.entry)));
    trash
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::record::{Content, Op, RecordBody};
    use proptest::prelude::*;

    /// Random records from three devices over a small pool of entries, names
    /// and folders: concurrent edits, moves (with cycles), trash and purge.
    fn records(script: &[(u8, u8, u8, u8, u8, u8)]) -> Vec<(String, OpenedRecord)> {
        let entries = ["e0", "e1", "e2", "e3", "d0", "d1"];
        let names = ["a.txt", "b.txt", "Labs", "a.txt"];
        let mut versions: Vec<(usize, String)> = Vec::new(); // (entry index, version id)
        let mut out = Vec::new();
        for (i, &(dev, e, parent, name, status, content)) in script.iter().enumerate() {
            let e = usize::from(e) % entries.len();
            let earlier: Vec<String> = versions
                .iter()
                .filter(|(x, _)| *x == e)
                .map(|(_, v)| v.clone())
                .collect();
            let parents: Vec<String> = earlier
                .iter()
                .rev()
                .take(usize::from(dev % 2) + 1)
                .cloned()
                .collect();
            let is_dir = entries[e].starts_with('d');
            let parent = match parent % 3 {
                0 => None,
                1 => Some("d0".to_owned()),
                _ => Some("d1".to_owned()),
            };
            let body = RecordBody {
                format: 1,
                place: None,
                vault: "v".into(),
                device: format!("dev{}", dev % 3),
                device_name: format!("device {}", dev % 3),
                author: "m".into(),
                seq: i as u64 + 1,
                prev: None,
                time: i64::from(content % 4) * 1000,
                ops: vec![Op {
                    entry: entries[e].into(),
                    parents,
                    state: EntryState {
                        parent,
                        name: names[usize::from(name) % names.len()].into(),
                        kind: if is_dir { Kind::Dir } else { Kind::File },
                        status: [Status::Live, Status::Live, Status::Trash, Status::Gone]
                            [usize::from(status % 4)],
                        content: (!is_dir).then(|| Content {
                            blob: format!("blob{content}"),
                            size: u64::from(content),
                            sha256: format!("{content:064}"),
                            mtime: None,
                        }),
                        collection: None,
                    },
                }],
                sig: None,
            };
            let hash = format!("{:032x}{:032x}", i + 1, 0);
            versions.push((e, RecordBody::version_id(&hash, 0)));
            out.push((
                format!("r/{i}"),
                OpenedRecord {
                    body,
                    hash,
                    signed: None,
                },
            ));
        }
        out
    }

    fn shape(t: &Tree) -> Shape {
        t.shape()
    }

    /// Found by the `tree` fuzz target: a signed writer's concurrent
    /// version of a file naming another *file* as its folder must not put
    /// the conflict copy inside that file.
    #[test]
    fn a_conflict_copy_never_lands_inside_a_file() {
        let file =
            |entry: &str, parents: Vec<String>, parent: Option<&str>, name: &str, b: u8| Op {
                entry: entry.into(),
                parents,
                state: EntryState {
                    parent: parent.map(str::to_owned),
                    name: name.into(),
                    kind: Kind::File,
                    status: Status::Live,
                    content: Some(Content {
                        blob: format!("blob{b}"),
                        size: 1,
                        sha256: format!("{b:064}"),
                        mtime: None,
                    }),
                    collection: None,
                },
            };
        let rec = |i: usize, device: &str, op: Op| {
            let hash = format!("{:032x}{:032x}", i, 0);
            let body = RecordBody {
                format: 1,
                place: None,
                vault: "v".into(),
                device: device.into(),
                device_name: device.into(),
                author: "m".into(),
                seq: 1,
                prev: None,
                // Device b's version is the older head: the conflict copy.
                time: if device == "b" { 0 } else { i as i64 },
                ops: vec![op],
                sig: None,
            };
            (
                format!("r/{i}"),
                OpenedRecord {
                    body,
                    hash,
                    signed: None,
                },
            )
        };
        let first = RecordBody::version_id(&format!("{:032x}{:032x}", 2, 0), 0);
        let recs = vec![
            rec(1, "a", file("f", vec![], None, "notes.txt", 1)),
            rec(2, "a", file("x", vec![], None, "x.txt", 2)),
            rec(3, "a", file("x", vec![first.clone()], None, "x.txt", 3)),
            rec(4, "b", file("x", vec![first], Some("f"), "y.txt", 4)),
        ];
        let t = Tree::build(&recs);
        assert_eq!(t.nodes.len(), 3, "{:?}", shape(&t));
        for n in &t.nodes {
            assert!(!n.path.contains('/'), "{} is inside a file", n.path);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        /// docs/FORMAT.md §6: the same records give the same tree in any order.
        #[test]
        fn merge_is_order_independent(
            script in proptest::collection::vec(any::<(u8, u8, u8, u8, u8, u8)>(), 1..25),
            seed in any::<u64>(),
        ) {
            let recs = records(&script);
            let mut shuffled = recs.clone();
            // A deterministic shuffle from the seed.
            let mut s = seed;
            for i in (1..shuffled.len()).rev() {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                shuffled.swap(i, (s >> 33) as usize % (i + 1));
            }
            let a = Tree::build(&recs);
            let b = Tree::build(&shuffled);
            prop_assert_eq!(shape(&a), shape(&b));
            // Paths are unique, and every path's folders are shown.
            let paths: HashSet<&str> = a.nodes.iter().map(|n| n.path.as_str()).collect();
            prop_assert_eq!(paths.len(), a.nodes.len());
            for n in &a.nodes {
                if let Some((parent, _)) = n.path.rsplit_once('/') {
                    prop_assert!(paths.contains(parent), "{} has no parent shown", n.path);
                }
            }
        }
    }
}
