//! Reading the vault: its records merged into the tree (docs/FORMAT.md
//! §5, §6) and its contents decrypted (§3.3).

pub(in crate::vault) mod get;
pub(in crate::vault) mod load;
pub(in crate::vault) mod many;
pub(in crate::vault) mod share;
