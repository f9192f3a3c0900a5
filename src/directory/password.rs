//! Password hashing with argon2id, bounded to a few verifications at once
//! so that a flood of binds cannot exhaust memory or starve other work.

use std::sync::Arc;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use super::error::DirectoryError;
use crate::config::PasswordConfig;

/// Longest password accepted, in bytes; longer input is refused unhashed.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Hashes and verifies passwords on the blocking pool, a bounded number
/// at a time.
#[derive(Clone)]
pub struct Hasher {
    params: Params,
    permits: Arc<Semaphore>,
    /// A hash of a random password, verified for unknown users so that they
    /// cost the same time as known ones.
    dummy: Arc<String>,
}

impl Hasher {
    pub fn new(config: &PasswordConfig) -> Result<Hasher, DirectoryError> {
        let params = Params::new(
            config.argon2_memory_kib,
            config.argon2_iterations,
            config.argon2_parallelism,
            None,
        )
        .map_err(|e| DirectoryError::Internal(format!("argon2 parameters: {e}")))?;
        let permits = match config.max_concurrent_hashes {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        };
        let dummy = hash_with(&params, &crate::directory::token::random_text(24))?;
        Ok(Hasher {
            params,
            permits: Arc::new(Semaphore::new(permits)),
            dummy: Arc::new(dummy),
        })
    }

    /// Hashes a password into a PHC string (`$argon2id$…`).
    pub async fn hash(&self, password: &str) -> Result<String, DirectoryError> {
        // The permit moves into the blocking task: if the caller goes away,
        // the hash still counts against the bound until it is done.
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(internal)?;
        let params = self.params.clone();
        let password = password.to_string();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            hash_with(&params, &password)
        })
        .await
        .map_err(internal)?
    }

    /// Checks a password against a stored hash; `None` (no such user, or no
    /// password set) is checked against a dummy hash and always fails.
    pub async fn verify(&self, password: &str, hash: Option<&str>) -> bool {
        let Ok(permit) = self.permits.clone().acquire_owned().await else {
            return false;
        };
        let (hash, real) = match hash {
            Some(h) => (h.to_string(), true),
            None => (self.dummy.as_str().to_string(), false),
        };
        let password = password.to_string();
        let ok = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            PasswordHash::new(&hash)
                .map(|parsed| {
                    Argon2::default()
                        .verify_password(password.as_bytes(), &parsed)
                        .is_ok()
                })
                .unwrap_or(false)
        })
        .await
        .unwrap_or(false);
        ok && real
    }
}

fn hash_with(params: &Params, password: &str) -> Result<String, DirectoryError> {
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let salt = SaltString::generate(&mut OsRng);
    argon
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(internal)
}

fn internal(e: impl std::fmt::Display) -> DirectoryError {
    DirectoryError::Internal(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_are_argon2id() {
        let config = PasswordConfig {
            argon2_memory_kib: 1024,
            argon2_iterations: 1,
            ..PasswordConfig::default()
        };
        let hasher = Hasher::new(&config).unwrap();
        let hash = hasher.hash("correct horse").await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(hasher.verify("correct horse", Some(&hash)).await);
        assert!(!hasher.verify("wrong horse", Some(&hash)).await);
        assert!(!hasher.verify("correct horse", None).await);
    }
}
