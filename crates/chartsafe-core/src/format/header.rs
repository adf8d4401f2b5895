//! The one public file of a vault: format version and vault id (docs/FORMAT.md §1.1).

use serde::{Deserialize, Serialize};

/// The public header as stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Header {
    /// Always `"chartsafe"`.
    pub format: String,
    /// The format version. Readers refuse versions they do not know.
    pub version: u32,
    /// The vault id: 26 random base32 characters.
    pub id: String,
}

/// The version this code writes: 2, a vault with a team log (FORMAT.md
/// §1.1, §11). It reads 1 and 2.
pub const VERSION: u32 = 2;
/// The oldest version this code reads.
pub const MIN_VERSION: u32 = 1;

/// A header that could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HeaderError {
    /// The file is not the JSON object described in FORMAT.md §1.1.
    #[error("the vault header is not valid: {0}")]
    Malformed(String),
    /// A format version this build does not read (a newer ChartSafe wrote it).
    #[error("the vault uses format version {0}; this ChartSafe reads versions 1 and 2")]
    UnsupportedVersion(u32),
}

impl Header {
    /// A header for a new vault (the current version).
    pub fn new(id: String) -> Self {
        Self {
            format: "chartsafe".into(),
            version: VERSION,
            id,
        }
    }

    /// Parses and checks the header bytes.
    pub fn parse(bytes: &[u8]) -> Result<Self, HeaderError> {
        let header: Header =
            serde_json::from_slice(bytes).map_err(|e| HeaderError::Malformed(e.to_string()))?;
        if header.format != "chartsafe" {
            return Err(HeaderError::Malformed(
                "\"format\" is not \"chartsafe\"".into(),
            ));
        }
        if !(MIN_VERSION..=VERSION).contains(&header.version) {
            return Err(HeaderError::UnsupportedVersion(header.version));
        }
        if !crate::ids::is_id(&header.id) {
            return Err(HeaderError::Malformed("\"id\" is not a vault id".into()));
        }
        Ok(header)
    }

    /// Whether the vault has a team log (version 2): its devices then expect
    /// one, and the recovery phrase does not start another (FORMAT.md §11).
    pub fn has_team(&self) -> bool {
        self.version >= 2
    }

    /// The bytes to write.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(self).expect("a header serialises");
        out.push(b'\n');
        out
    }
}
