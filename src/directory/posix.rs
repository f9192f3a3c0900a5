//! POSIX numbers (RFC 2307): new users get a uidNumber and new groups a
//! gidNumber from the configured ranges, never one handed out before. The
//! store reserves numbers in blocks (one write per block, safe across
//! nodes); this process hands them out from its block.

use std::sync::Arc;

use tokio::sync::Mutex;

use super::error::DirectoryError;
use super::store::Store;
use crate::config::PosixConfig;

/// Numbers reserved at a time.
const BLOCK: i64 = 64;

/// A kind of POSIX number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Uid,
    Gid,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Uid => "uid",
            Kind::Gid => "gid",
        }
    }
}

/// Hands out uidNumbers and gidNumbers.
pub struct Allocator {
    pub config: PosixConfig,
    uid_range: (i64, i64),
    gid_range: (i64, i64),
    /// The rest of the current block per kind: (next, end).
    blocks: Mutex<[(i64, i64); 2]>,
}

impl Allocator {
    pub fn new(config: &PosixConfig) -> Result<Allocator, DirectoryError> {
        let range = |text: &str| {
            PosixConfig::range(text).map_err(|e| DirectoryError::Internal(format!("posix: {e}")))
        };
        Ok(Allocator {
            uid_range: range(&config.uid_range)?,
            gid_range: range(&config.gid_range)?,
            config: config.clone(),
            blocks: Mutex::new([(0, 0); 2]),
        })
    }

    /// The next number of a kind that was never handed out.
    pub async fn next(&self, store: &Arc<dyn Store>, kind: Kind) -> Result<i64, DirectoryError> {
        let (first, last) = match kind {
            Kind::Uid => self.uid_range,
            Kind::Gid => self.gid_range,
        };
        let mut blocks = self.blocks.lock().await;
        let block = &mut blocks[kind as usize];
        if block.0 >= block.1 {
            let start = store.reserve_numbers(kind.name(), first, BLOCK).await?;
            *block = (start, start + BLOCK);
        }
        let n = block.0;
        if n > last {
            return Err(DirectoryError::invalid(
                match kind {
                    Kind::Uid => "uidNumber",
                    Kind::Gid => "gidNumber",
                },
                format!(
                    "the configured range ends at {last}; widen posix.{}_range",
                    kind.name()
                ),
            ));
        }
        block.0 += 1;
        Ok(n)
    }
}
