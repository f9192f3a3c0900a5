//! SCIM bearer tokens: `roster_<id>_<secret>`. The id finds the record; the
//! secret is stored only as its SHA-256 hash and compared in constant time.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

const PREFIX: &str = "roster_";

/// `n` random bytes as URL-safe base64 text.
pub fn random_text(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The SHA-256 of a one-time secret (a set-password link's token), hex:
/// what the store keeps instead of the secret.
pub fn digest_hex(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A freshly made token: the text to hand out once, and what to store.
pub struct NewToken {
    pub text: String,
    pub id: String,
    pub secret_hash: Vec<u8>,
}

/// Makes a new random token.
pub fn generate() -> NewToken {
    let mut id = [0u8; 6];
    rand::rngs::OsRng.fill_bytes(&mut id);
    let id: String = id.iter().map(|b| format!("{b:02x}")).collect();
    let secret = random_text(32);
    NewToken {
        text: format!("{PREFIX}{id}_{secret}"),
        secret_hash: hash_secret(&secret),
        id,
    }
}

fn hash_secret(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// Splits presented token text into its id and secret.
pub fn split(text: &str) -> Option<(&str, &str)> {
    let rest = text.strip_prefix(PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    (id.len() == 12 && !secret.is_empty()).then_some((id, secret))
}

/// Whether `secret` hashes to `stored`, in constant time.
pub fn secret_matches(secret: &str, stored: &[u8]) -> bool {
    hash_secret(secret).ct_eq(stored).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_verify() {
        let t = generate();
        let (id, secret) = split(&t.text).unwrap();
        assert_eq!(id, t.id);
        assert!(secret_matches(secret, &t.secret_hash));
        assert!(!secret_matches("other", &t.secret_hash));
        assert!(split("Bearer nonsense").is_none());
    }
}
