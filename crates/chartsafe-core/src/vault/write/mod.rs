//! Writing the vault: adding files (docs/FORMAT.md §3, §5.2) and changing
//! the tree: folders, moves, the trash, versions (§5.3–§5.5). Every change
//! goes through `Vault::commit_ops` (vault/mod.rs).

pub(in crate::vault) mod add;
pub(in crate::vault) mod change;
