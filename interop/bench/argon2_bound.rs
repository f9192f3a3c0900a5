//! The hashing bound both benchmarks report against: argon2id hashes per
//! second on this machine with Roster's default parameters (m = 19 MiB,
//! t = 2, p = 1), measured on 1 thread and on every core, in a process of
//! its own (the scripts run `BENCH --argon2-bound` with setsid, like the
//! servers). Each thread hashes into memory it keeps, as Roster's hashing
//! threads do, so this is the work itself with no allocation or page
//! faults: POST /Users with a password and a bind with an argon2id
//! password cannot beat it.

use std::sync::{Arc, Barrier};
use std::time::Instant;

/// Hashes per second on `threads` threads hashing `per_thread` each at once.
pub fn hashes_per_second(threads: usize, per_thread: usize) -> f64 {
    use argon2::{Algorithm, Argon2, Block, Params, Version};
    let ready = Arc::new(Barrier::new(threads + 1));
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let ready = ready.clone();
            std::thread::spawn(move || {
                let params = Params::new(19_456, 2, 1, None).unwrap();
                let mut memory = vec![Block::default(); params.block_count()];
                let hasher = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
                let mut out = [0u8; 32];
                // One hash first, so that the memory is mapped in.
                hasher
                    .hash_password_into_with_memory(b"warm", &[9; 16], &mut out, &mut memory)
                    .unwrap();
                ready.wait();
                for i in 0..per_thread {
                    let salt = [i as u8; 16];
                    hasher
                        .hash_password_into_with_memory(
                            b"Bench-password-123",
                            &salt,
                            &mut out,
                            &mut memory,
                        )
                        .unwrap();
                }
            })
        })
        .collect();
    ready.wait();
    let started = Instant::now();
    for w in workers {
        w.join().unwrap();
    }
    (threads * per_thread) as f64 / started.elapsed().as_secs_f64()
}

/// Prints `threads:rate` for 1 thread and for every core, after a warm-up.
pub fn print() {
    for threads in [
        1,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    ] {
        hashes_per_second(threads, 5);
        println!("{threads}:{:.2}", hashes_per_second(threads, 20));
    }
}

/// The bounds `print` wrote, as the scripts pass them on in ARGON2_BOUND
/// (`1:54.10 2:101.30`): (threads, hashes/s) pairs.
#[allow(dead_code)] // the SCIM benchmark's; the LDAP one measures in-process
pub fn from_env() -> Vec<(usize, f64)> {
    std::env::var("ARGON2_BOUND")
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| {
            let (t, r) = p.split_once(':')?;
            Some((t.parse().ok()?, r.parse().ok()?))
        })
        .collect()
}
