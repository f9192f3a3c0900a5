//! Password hashing with argon2id on a fixed pool of hashing threads (one
//! per core unless configured), so that a flood of binds cannot exhaust
//! memory or starve other work. Each thread keeps its argon2 memory (19 MiB
//! at the default parameters) from one hash to the next: no allocation and
//! no page faults per hash, so the pool runs at the machine's hashing limit.

use std::sync::{Arc, Mutex};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::{mpsc, oneshot};

use super::error::DirectoryError;
use crate::config::PasswordConfig;

/// Longest password accepted, in bytes; longer input is refused unhashed.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Hashes waiting for a thread before new ones wait for room.
const QUEUE: usize = 1024;

/// Work for a hashing thread, given that thread's argon2 memory.
type Work = Box<dyn FnOnce(&mut Vec<Block>) + Send>;

/// Hashes and verifies passwords on the hashing threads.
#[derive(Clone)]
pub struct Hasher {
    params: Params,
    queue: mpsc::Sender<Work>,
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
        let threads = match config.max_concurrent_hashes {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        };
        let (queue, jobs) = mpsc::channel::<Work>(QUEUE);
        let jobs = Arc::new(Mutex::new(jobs));
        for i in 0..threads {
            let jobs = jobs.clone();
            std::thread::Builder::new()
                .name(format!("roster-argon2-{i}"))
                .spawn(move || {
                    let mut memory: Vec<Block> = Vec::new();
                    loop {
                        let job = match jobs.lock() {
                            Ok(mut jobs) => jobs.blocking_recv(),
                            Err(_) => None,
                        };
                        match job {
                            Some(work) => work(&mut memory),
                            // Every Hasher is gone.
                            None => return,
                        }
                    }
                })
                .map_err(internal)?;
        }
        let mut memory = Vec::new();
        let dummy = hash_with(
            &params,
            &crate::directory::token::random_text(24),
            &mut memory,
        )?;
        Ok(Hasher {
            params,
            queue,
            dummy: Arc::new(dummy),
        })
    }

    /// Runs `f` on a hashing thread and waits for its answer.
    async fn run<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Vec<Block>) -> R + Send + 'static,
    ) -> Result<R, DirectoryError> {
        let (tx, rx) = oneshot::channel();
        let work: Work = Box::new(move |memory| {
            let _ = tx.send(f(memory));
        });
        self.queue
            .send(work)
            .await
            .map_err(|_| DirectoryError::Internal("the hashing threads have stopped".into()))?;
        rx.await
            .map_err(|_| DirectoryError::Internal("a hashing thread failed".into()))
    }

    /// Hashes a password into a PHC string (`$argon2id$…`).
    pub async fn hash(&self, password: &str) -> Result<String, DirectoryError> {
        let params = self.params.clone();
        let password = password.to_string();
        self.run(move |memory| hash_with(&params, &password, memory))
            .await?
    }

    /// Checks a password against a stored hash; `None` (no such user, or no
    /// password set) is checked against a dummy hash and always fails.
    /// Hashes imported from other directories (`{SSHA}`, `{SSHA256}`,
    /// `{SSHA512}`, `{ARGON2}`) verify too; a failed check of a cheap scheme
    /// still spends an argon2id verification, so that neither the reply nor
    /// its timing tells an imported account from an unknown one.
    pub async fn verify(&self, password: &str, hash: Option<&str>) -> Verdict {
        let argon2 = match hash.map(Scheme::of) {
            Some(Scheme::Argon2(phc)) => Some(phc.to_string()),
            Some(Scheme::Salted(kind, digest_and_salt)) => {
                if salted_matches(kind, digest_and_salt, password) {
                    return Verdict {
                        ok: true,
                        outdated: true,
                    };
                }
                None
            }
            Some(scheme @ (Scheme::Pbkdf2Sha256(_) | Scheme::Crypt(_))) => {
                // Thousands of rounds: on a hashing thread, not the caller's.
                let (value, pw) = (hash.unwrap_or_default().to_string(), password.to_string());
                let pbkdf2 = matches!(scheme, Scheme::Pbkdf2Sha256(_));
                let ok = self
                    .run(move |_| match Scheme::of(&value) {
                        Scheme::Pbkdf2Sha256(v) if pbkdf2 => pbkdf2_matches(v, &pw),
                        Scheme::Crypt(v) => crypt_matches(v, &pw),
                        _ => false,
                    })
                    .await
                    .unwrap_or(false);
                if ok {
                    return Verdict {
                        ok: true,
                        outdated: true,
                    };
                }
                None
            }
            Some(Scheme::Unknown) | None => None,
        };
        let real = argon2.is_some();
        let hash = argon2.unwrap_or_else(|| self.dummy.as_str().to_string());
        let password = password.to_string();
        let ok = self
            .run(move |memory| verify_with(&hash, &password, memory))
            .await
            .unwrap_or(false);
        Verdict {
            ok: ok && real,
            outdated: false,
        }
    }
}

/// The argon2 memory for `params`, reusing what the thread already has.
fn blocks<'m>(memory: &'m mut Vec<Block>, params: &Params) -> &'m mut [Block] {
    let count = params.block_count();
    if memory.len() < count {
        memory.resize(count, Block::default());
    }
    &mut memory[..count]
}

fn hash_with(
    params: &Params,
    password: &str,
    memory: &mut Vec<Block>,
) -> Result<String, DirectoryError> {
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let salt = SaltString::generate(&mut OsRng);
    let mut raw = [0u8; 64];
    let raw_salt = salt.decode_b64(&mut raw).map_err(internal)?;
    let mut out = vec![0u8; params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN)];
    argon
        .hash_password_into_with_memory(
            password.as_bytes(),
            raw_salt,
            &mut out,
            blocks(memory, params),
        )
        .map_err(internal)?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params).map_err(internal)?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(internal)?),
    };
    Ok(phc.to_string())
}

/// Whether `password` matches an argon2 PHC string (any argon2 variant and
/// parameters it names); the comparison of outputs is constant-time.
fn verify_with(phc: &str, password: &str, memory: &mut Vec<Block>) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) = (
        Algorithm::try_from(parsed.algorithm),
        Params::try_from(&parsed),
    ) else {
        return false;
    };
    let version = parsed
        .version
        .map_or(Ok(Version::V0x13), Version::try_from)
        .unwrap_or(Version::V0x13);
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let mut raw = [0u8; 64];
    let Ok(raw_salt) = salt.decode_b64(&mut raw) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    let argon = Argon2::new(algorithm, version, params.clone());
    if argon
        .hash_password_into_with_memory(
            password.as_bytes(),
            raw_salt,
            &mut out,
            blocks(memory, &params),
        )
        .is_err()
    {
        return false;
    }
    Output::new(&out).is_ok_and(|o| o == expected)
}

/// The outcome of a password check.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Verdict {
    pub ok: bool,
    /// The password matched a hash of a weaker, imported scheme: it should
    /// be hashed again with argon2id.
    pub outdated: bool,
}

/// The salted SHA schemes of OpenLDAP and other directories.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Salted {
    Sha1,
    Sha256,
    Sha512,
}

/// How a stored hash is written.
enum Scheme<'a> {
    /// A PHC string (`$argon2id$…`), bare or after `{ARGON2}`.
    Argon2(&'a str),
    /// `{SSHA}base64(digest ‖ salt)` and its SHA-2 siblings.
    Salted(Salted, &'a str),
    /// `{PBKDF2-SHA256}rounds$salt$checksum`, salt and checksum in adapted
    /// base64 (OpenLDAP's pw-pbkdf2 module, passlib).
    Pbkdf2Sha256(&'a str),
    /// `{CRYPT}$6$…` (sha512-crypt) or `{CRYPT}$5$…` (sha256-crypt), as
    /// 389-ds and Linux shadow files write them.
    Crypt(&'a str),
    Unknown,
}

/// The most rounds an imported PBKDF2 or SHA-crypt hash may ask for: a
/// bind must not be made to cost seconds.
const MAX_IMPORTED_ROUNDS: u32 = 1_000_000;

/// Rounds, salt and checksum of a `{PBKDF2-SHA256}` value.
fn decode_pbkdf2(value: &str) -> Option<(u32, Vec<u8>, Vec<u8>)> {
    use base64::Engine as _;
    let mut parts = value.trim().split('$');
    let rounds: u32 = parts.next()?.parse().ok()?;
    let ab64 = |s: &str| {
        base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(s.trim_end_matches('=').replace('.', "+"))
            .ok()
    };
    let salt = ab64(parts.next()?)?;
    let checksum = ab64(parts.next()?)?;
    let sane = (1..=MAX_IMPORTED_ROUNDS).contains(&rounds) && !checksum.is_empty();
    (parts.next().is_none() && sane).then_some((rounds, salt, checksum))
}

fn pbkdf2_matches(value: &str, password: &str) -> bool {
    use subtle::ConstantTimeEq as _;
    let Some((rounds, salt, checksum)) = decode_pbkdf2(value) else {
        return false;
    };
    let mut out = vec![0u8; checksum.len()];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password.as_bytes(), &salt, rounds, &mut out);
    out.ct_eq(&checksum).into()
}

/// Whether a `{CRYPT}` value is a SHA-crypt hash within the rounds bound.
fn crypt_is_sane(value: &str) -> bool {
    // The checksum is 86 characters for SHA-512, 43 for SHA-256.
    let checksum = value.rsplit('$').next().map_or(0, str::len);
    let kind = (value.starts_with("$6$") && checksum == 86)
        || (value.starts_with("$5$") && checksum == 43);
    let rounds = value
        .split('$')
        .nth(2)
        .and_then(|p| p.strip_prefix("rounds="))
        .map_or(Some(5000), |r| r.parse::<u32>().ok());
    kind && rounds.is_some_and(|r| r <= MAX_IMPORTED_ROUNDS)
}

fn crypt_matches(value: &str, password: &str) -> bool {
    if !crypt_is_sane(value) {
        return false;
    }
    if value.starts_with("$6$") {
        sha_crypt::sha512_check(password, value).is_ok()
    } else {
        sha_crypt::sha256_check(password, value).is_ok()
    }
}

impl Scheme<'_> {
    fn of(hash: &str) -> Scheme<'_> {
        if hash.starts_with("$argon2") {
            return Scheme::Argon2(hash);
        }
        let Some(rest) = hash.strip_prefix('{') else {
            return Scheme::Unknown;
        };
        let Some((name, value)) = rest.split_once('}') else {
            return Scheme::Unknown;
        };
        match name.to_ascii_uppercase().as_str() {
            "ARGON2" if value.starts_with("$argon2") => Scheme::Argon2(value),
            "SSHA" => Scheme::Salted(Salted::Sha1, value),
            "SSHA256" => Scheme::Salted(Salted::Sha256, value),
            "SSHA512" => Scheme::Salted(Salted::Sha512, value),
            "PBKDF2-SHA256" => Scheme::Pbkdf2Sha256(value),
            "CRYPT" => Scheme::Crypt(value),
            _ => Scheme::Unknown,
        }
    }
}

/// Whether a stored hash is written in a scheme Roster can verify.
/// Whether `text` is written as a hash of a scheme Roster knows (`{SSHA}…`,
/// `$argon2id$…`), well-formed or not.
pub fn names_a_scheme(text: &str) -> bool {
    !matches!(Scheme::of(text), Scheme::Unknown)
}

pub fn is_verifiable(hash: &str) -> bool {
    match Scheme::of(hash) {
        Scheme::Argon2(phc) => PasswordHash::new(phc).is_ok(),
        Scheme::Salted(kind, value) => decode_salted(kind, value).is_some(),
        Scheme::Pbkdf2Sha256(value) => decode_pbkdf2(value).is_some(),
        Scheme::Crypt(value) => crypt_is_sane(value),
        Scheme::Unknown => false,
    }
}

/// The digest and salt of a salted-SHA value.
fn decode_salted(kind: Salted, value: &str) -> Option<(Vec<u8>, Vec<u8>)> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .ok()?;
    let len = match kind {
        Salted::Sha1 => 20,
        Salted::Sha256 => 32,
        Salted::Sha512 => 64,
    };
    (bytes.len() > len).then(|| {
        let (digest, salt) = bytes.split_at(len);
        (digest.to_vec(), salt.to_vec())
    })
}

fn salted_matches(kind: Salted, value: &str, password: &str) -> bool {
    use sha1::Digest as _;
    use subtle::ConstantTimeEq as _;
    let Some((digest, salt)) = decode_salted(kind, value) else {
        return false;
    };
    let computed: Vec<u8> = match kind {
        Salted::Sha1 => sha1::Sha1::new()
            .chain_update(password.as_bytes())
            .chain_update(&salt)
            .finalize()
            .to_vec(),
        Salted::Sha256 => sha2::Sha256::new()
            .chain_update(password.as_bytes())
            .chain_update(&salt)
            .finalize()
            .to_vec(),
        Salted::Sha512 => sha2::Sha512::new()
            .chain_update(password.as_bytes())
            .chain_update(&salt)
            .finalize()
            .to_vec(),
    };
    computed.ct_eq(&digest).into()
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
        assert!(hash.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"), "{hash}");
        // Standard PHC strings, which any argon2 implementation verifies.
        use argon2::PasswordVerifier as _;
        assert!(Argon2::default()
            .verify_password(b"correct horse", &PasswordHash::new(&hash).unwrap())
            .is_ok());
        assert!(hasher.verify("correct horse", Some(&hash)).await.ok);
        assert!(!hasher.verify("wrong horse", Some(&hash)).await.ok);
        assert!(!hasher.verify("correct horse", None).await.ok);
        let imported = format!("{{ARGON2}}{hash}");
        assert!(is_verifiable(&imported));
        assert_eq!(
            hasher.verify("correct horse", Some(&imported)).await,
            Verdict {
                ok: true,
                outdated: false
            }
        );
    }

    #[tokio::test]
    async fn imported_salted_sha_hashes_verify_and_ask_for_argon2id() {
        let hasher = Hasher::new(&PasswordConfig {
            argon2_memory_kib: 1024,
            argon2_iterations: 1,
            ..PasswordConfig::default()
        })
        .unwrap();
        // Made by OpenLDAP's `slappasswd -h {SSHA} -s secret`.
        let ssha = "{SSHA}3hxeXQUNDAnymyUVwQUAi1axPwe/ywgV";
        assert!(is_verifiable(ssha));
        assert!(hasher.verify("secret", Some(ssha)).await.outdated);
        assert!(hasher.verify("secret", Some(ssha)).await.ok);
        assert!(!hasher.verify("Secret", Some(ssha)).await.ok);
        use base64::Engine as _;
        use sha2::Digest as _;
        let salt = b"12345678";
        let mut bytes = sha2::Sha512::new()
            .chain_update(b"pw")
            .chain_update(salt)
            .finalize()
            .to_vec();
        bytes.extend_from_slice(salt);
        let ssha512 = format!(
            "{{SSHA512}}{}",
            base64::engine::general_purpose::STANDARD.encode(bytes)
        );
        assert!(hasher.verify("pw", Some(&ssha512)).await.ok);
        assert!(
            !is_verifiable("{CRYPT}$1$abc$def"),
            "MD5-crypt is not taken"
        );
        assert!(!is_verifiable("{SSHA}not base64!"));
    }

    #[tokio::test]
    async fn imported_pbkdf2_and_sha_crypt_hashes_verify_and_ask_for_argon2id() {
        let hasher = Hasher::new(&PasswordConfig {
            argon2_memory_kib: 1024,
            argon2_iterations: 1,
            ..PasswordConfig::default()
        })
        .unwrap();
        // Made by Python: hashlib.pbkdf2_hmac and crypt.crypt (glibc).
        let imported = [
            "{PBKDF2-SHA256}29000$MDEyMzQ1Njc4OWFiY2RlZg$yiGhNGUR49dcW6iLM0/ym1gkjCLl2T3GgVTSaumg2YE",
            "{CRYPT}$6$rounds=5000$saltsaltsalt$K/S6RtzwwDLB.9KMI2pzV3KdAQsFRmawTpWmiAs3Gnf01DsoObJXjTW4shb4x5USbQ9TZZggYW5k392y9dRiN/",
            "{CRYPT}$6$saltsalt$Pp1oWfwJT4PksSG2QA.2pHtnI4vKoxJOBAoYt3djIyXhJIiWGRb0HR/zVE4XULteVyDP7sko86EFsm5Uni.Zd.",
        ];
        for hash in imported {
            assert!(is_verifiable(hash), "{hash}");
            let right = hasher.verify("Imported-pass-1", Some(hash)).await;
            assert!(right.ok && right.outdated, "{hash}");
            assert!(
                !hasher.verify("Imported-pass-2", Some(hash)).await.ok,
                "{hash}"
            );
        }
        // Rounds that would make a bind cost seconds are refused at import.
        assert!(!is_verifiable("{PBKDF2-SHA256}99999999$MDEy$yiGh"));
        assert!(!is_verifiable("{CRYPT}$6$rounds=99999999$salt$hash"));
    }
}
