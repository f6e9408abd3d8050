//! `config`: the repository's fixed parameters, written once at init.

use super::{frame, unframe};
use crate::chunker::ChunkerParams;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// Magic of the config object.
pub const MAGIC: &[u8; 8] = b"CAIRNCFG";
/// Version of the config layout.
pub const VERSION: u16 = 1;

/// Repository parameters; public (holds no secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoConfig {
    /// Random repository id.
    pub repo_id: [u8; 16],
    /// Creation time, unix milliseconds.
    pub created_ms: i64,
    /// Chunking parameters (dedup depends on them never changing).
    pub chunker: ChunkerParams,
    /// Target pack size in bytes.
    pub pack_target: u32,
    /// zstd level for chunk payloads.
    pub zstd_level: i32,
}

impl RepoConfig {
    /// Encode to bytes.
    pub fn encode(&self) -> Vec<u8> {
        frame(MAGIC, VERSION, self)
    }

    /// Decode and validate.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let c: RepoConfig = unframe(bytes, MAGIC, VERSION, "config")?;
        if !c.chunker.valid()
            || !(1 << 16..=1 << 30).contains(&c.pack_target)
            || !(-7..=22).contains(&c.zstd_level)
        {
            return Err(Error::corrupt("config", "parameters out of range"));
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejects() {
        let c = RepoConfig {
            repo_id: [3; 16],
            created_ms: 5,
            chunker: ChunkerParams::default(),
            pack_target: 16 << 20,
            zstd_level: 3,
        };
        let b = c.encode();
        assert_eq!(RepoConfig::decode(&b).unwrap(), c);
        assert!(RepoConfig::decode(&b[..b.len() - 1]).is_err());
        let mut v = b.clone();
        v[8] = 9;
        assert!(RepoConfig::decode(&v)
            .unwrap_err()
            .to_string()
            .contains("version 9"));
        let bad = RepoConfig {
            pack_target: 5,
            ..c
        };
        assert!(RepoConfig::decode(&bad.encode()).is_err());
    }
}
