//! LDAP load benchmark: runs the same operations against any LDAP server
//! (Roster or OpenLDAP slapd) holding the data `interop/bench/ldap_data.py`
//! generates, at several connection counts, and prints ops/s with p50/p99
//! latency as Markdown table rows. `interop/bench/ldap.sh` starts both
//! servers and runs it against each.
//!
//! Usage: ldap-bench URL BIND_DN BIND_PASSWORD BASE_DN USERS SCHEME_USERS LABEL
//!
//! SCHEME_USERS lists `scheme:first:count` ranges of users whose password
//! is `Bench-password-<n>` (for example `argon2:0:500,ssha:500:500`).
//! For the server labelled `roster`, binds that verify an argon2id hash are
//! also reported as a share of the hashing bound, measured by this process
//! just before each of those runs while the server is idle.

#[path = "argon2_bound.rs"]
mod argon2_bound;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ldap3::controls::{Control, ControlType, PagedResults};
use ldap3::{drive, Ldap, LdapConnAsync, LdapConnSettings, Scope, SearchEntry};

struct Stats {
    name: String,
    conns: usize,
    ops: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
    failed: usize,
}

impl Stats {
    fn row(&self, label: &str) -> String {
        let mut l = self.latencies.clone();
        l.sort();
        let pct = |p: f64| {
            l.get(((l.len() as f64 * p) as usize).min(l.len().saturating_sub(1)))
                .copied()
                .unwrap_or_default()
        };
        format!(
            "| {:<8} | {:<34} | {:>5} | {:>9.0} | {:>8.2} | {:>8.2} | {:>6} |",
            label,
            self.name,
            self.conns,
            (self.ops - self.failed) as f64 / self.elapsed.as_secs_f64(),
            pct(0.50).as_secs_f64() * 1000.0,
            pct(0.99).as_secs_f64() * 1000.0,
            self.failed,
        )
    }
}

/// One client connection and the paged-search cookie it walks with.
#[derive(Clone)]
struct Conn {
    ldap: Ldap,
    cookie: Vec<u8>,
}

/// A connection bound as `dn`, or left anonymous when `dn` is empty.
async fn connect(url: &str, dn: &str, password: &str) -> Conn {
    let settings = LdapConnSettings::new().set_conn_timeout(Duration::from_secs(10));
    let (conn, mut ldap) = LdapConnAsync::with_settings(settings, url)
        .await
        .expect("connect");
    drive!(conn);
    if !dn.is_empty() {
        let res = ldap.simple_bind(dn, password).await.expect("bind");
        assert_eq!(res.rc, 0, "service bind as {dn}: {res:?}");
    }
    Conn {
        ldap,
        cookie: Vec::new(),
    }
}

/// Runs `ops` operations over `conns` connections, each connection doing
/// the next operation number `i` with `op(ldap, i)`.
async fn measure<F, Fut>(name: &str, conns: usize, ops: usize, pool: &[Conn], op: F) -> Stats
where
    F: Fn(Conn, usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = (Conn, bool)> + Send,
{
    let op = Arc::new(op);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for conn in pool.iter().take(conns).cloned() {
        let (op, next) = (op.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut conn = conn;
            let (mut lat, mut failed) = (Vec::new(), 0);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= ops {
                    return (lat, failed);
                }
                let t = Instant::now();
                let (c, ok) = op(conn, i).await;
                conn = c;
                if ok {
                    lat.push(t.elapsed());
                } else {
                    failed += 1;
                }
            }
        }));
    }
    let (mut latencies, mut failed) = (Vec::new(), 0);
    for t in tasks {
        let (l, f) = t.await.unwrap();
        latencies.extend(l);
        failed += f;
    }
    Stats {
        name: name.into(),
        conns,
        ops,
        elapsed: started.elapsed(),
        latencies,
        failed,
    }
}

fn scramble(i: usize, n: usize) -> usize {
    (i.wrapping_mul(2_654_435_761) ^ (i >> 3)) % n
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--argon2-bound") {
        argon2_bound::print();
        return;
    }
    let mut shares = Vec::new();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (url, bind_dn, bind_pw, base) = (
        args[1].clone(),
        args[2].clone(),
        args[3].clone(),
        args[4].clone(),
    );
    let users: usize = args[5].parse().expect("USERS");
    let ranges: Vec<(String, usize, usize)> = args[6]
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|r| {
            let p: Vec<&str> = r.split(':').collect();
            (
                p[0].to_string(),
                p[1].parse().unwrap(),
                p[2].parse().unwrap(),
            )
        })
        .collect();
    let label = args.get(7).cloned().unwrap_or_default();
    let conn_counts: Vec<usize> = std::env::var("CONNS")
        .unwrap_or_else(|_| "1,16,64".into())
        .split(',')
        .map(|c| c.parse().unwrap())
        .collect();
    let max_conns = *conn_counts.iter().max().unwrap();
    // Searches run on connections bound as the service account; binds on
    // connections of their own (a bind changes who the connection is).
    let mut pool = Vec::new();
    let mut bind_pool = Vec::new();
    for _ in 0..max_conns {
        pool.push(connect(&url, &bind_dn, &bind_pw).await);
        bind_pool.push(connect(&url, "", "").await);
    }
    let people = format!("ou=people,{base}");
    let groups = format!("ou=groups,{base}");
    let scale = |conns: usize| if conns == 1 { 1 } else { 4 };

    for &conns in &conn_counts {
        let s = scale(conns);
        let people_ = people.clone();
        let st = measure(
            "search uid= (eq, 4 attributes)",
            conns,
            4000 * s,
            &pool,
            move |mut l, i| {
                let base = people_.clone();
                async move {
                    let f = format!("(uid=user{:06})", scramble(i, users));
                    let r = l
                        .ldap
                        .search(
                            &base,
                            Scope::Subtree,
                            &f,
                            vec!["cn", "mail", "uidNumber", "memberOf"],
                        )
                        .await
                        .and_then(|r| r.success());
                    let ok = matches!(&r, Ok((e, _)) if e.len() == 1);
                    (l, ok)
                }
            },
        )
        .await;
        println!("{}", st.row(&label));

        let people_ = people.clone();
        let st = measure(
            "search mail=prefix* (10 entries)",
            conns,
            200 * s,
            &pool,
            move |mut l, i| {
                let base = people_.clone();
                async move {
                    let f = format!("(mail=user{:05}*)", scramble(i, users / 10));
                    let r = l
                        .ldap
                        .search(&base, Scope::Subtree, &f, vec!["uid", "cn", "mail"])
                        .await
                        .and_then(|r| r.success());
                    let ok = matches!(&r, Ok((e, _)) if e.len() == 10);
                    (l, ok)
                }
            },
        )
        .await;
        println!("{}", st.row(&label));

        let (groups_, people_) = (groups.clone(), people.clone());
        let st = measure(
            "groups with member=<user DN>",
            conns,
            2000 * s,
            &pool,
            move |mut l, i| {
                let (base, people) = (groups_.clone(), people_.clone());
                async move {
                    let f = format!(
                        "(&(objectClass=groupOfNames)(member=uid=user{:06},{people}))",
                        scramble(i, users)
                    );
                    let r = l
                        .ldap
                        .search(&base, Scope::Subtree, &f, vec!["cn"])
                        .await
                        .and_then(|r| r.success());
                    (l, r.is_ok())
                }
            },
        )
        .await;
        println!("{}", st.row(&label));

        // Paged search over all users: one operation is one page of 500;
        // each connection walks the whole list from the start, again and again.
        let people_ = people.clone();
        let pages = if conns == 1 {
            users / 500
        } else {
            2 * users / 500
        };
        let st = measure(
            "paged search, all users, 500/page",
            conns,
            pages,
            &pool,
            move |mut l, _| {
                let base = people_.clone();
                async move {
                    let cookie = std::mem::take(&mut l.cookie);
                    let r = l
                        .ldap
                        .with_controls(PagedResults { size: 500, cookie })
                        .search(
                            &base,
                            Scope::OneLevel,
                            "(objectClass=inetOrgPerson)",
                            vec!["uid", "cn", "mail"],
                        )
                        .await;
                    let Ok(ldap3::SearchResult(found, res)) = r else {
                        return (l, false);
                    };
                    let next = res.ctrls.iter().find_map(|c| match c {
                        Control(Some(ControlType::PagedResults), raw) => {
                            Some(raw.parse::<PagedResults>().cookie)
                        }
                        _ => None,
                    });
                    let ok = res.rc == 0 && !found.is_empty() && found.len() <= 500;
                    l.cookie = next.unwrap_or_default();
                    let _ = found.into_iter().map(SearchEntry::construct).count();
                    (l, ok)
                }
            },
        )
        .await;
        println!("{}", st.row(&label));

        for (scheme, first, count) in &ranges {
            let (scheme, first, count) = (scheme.clone(), *first, *count);
            for right in [true, false] {
                let people_ = people.clone();
                let name = format!(
                    "bind {scheme}, {} password",
                    if right { "right" } else { "wrong" }
                );
                // A failed bind costs an argon2id verification in Roster
                // whatever the stored scheme (the timing must not tell).
                let hashed = scheme == "argon2" || !right;
                let ops = if hashed { 40 * s } else { 2000 * s };
                let threads = conns.min(cores);
                let bound = (hashed && label == "roster")
                    .then(|| argon2_bound::hashes_per_second(threads, 40));
                let st = measure(&name, conns, ops, &bind_pool, move |mut l, i| {
                    let people = people_.clone();
                    async move {
                        let n = first + scramble(i, count);
                        let pw = if right {
                            format!("Bench-password-{n}")
                        } else {
                            "wrong-password".to_string()
                        };
                        let r = l
                            .ldap
                            .simple_bind(&format!("uid=user{n:06},{people}"), &pw)
                            .await;
                        let ok = matches!(&r, Ok(res) if res.rc == if right { 0 } else { 49 });
                        (l, ok)
                    }
                })
                .await;
                println!("{}", st.row(&label));
                if let Some(bound) = bound {
                    let rate = (st.ops - st.failed) as f64 / st.elapsed.as_secs_f64();
                    shares.push(format!(
                        "{name} at {conns} conns: {rate:.1}/s = {:.0}% of the argon2id bound ({bound:.1} hashes/s on {threads} thread(s), measured just before)",
                        100.0 * rate / bound
                    ));
                }
            }
        }
    }
    if !shares.is_empty() {
        println!();
        for s in shares {
            println!("{s}");
        }
    }
}
