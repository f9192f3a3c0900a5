//! SCIM load benchmark: loads users and groups through SCIM Bulk, then
//! measures each operation at 1 and 32 concurrent connections and prints
//! ops/s with p50/p99 latency. Run it with `interop/bench/scim.sh`, which
//! starts the server under test in its own session.
//!
//! Usage: scim-bench URL TOKEN [USERS] [GROUPS]

#[path = "argon2_bound.rs"]
mod argon2_bound;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

// The server's allocator, so that the argon2id bound below (19 MiB per
// hash) is measured as the server hashes.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const PATCH_URN: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const BULK_URN: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
const USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

struct Stats {
    name: String,
    conns: usize,
    ops: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
    failed: usize,
}

impl Stats {
    fn print(&self) {
        let mut l = self.latencies.clone();
        l.sort();
        let pct = |p: f64| {
            l.get(((l.len() as f64 * p) as usize).min(l.len().saturating_sub(1)))
                .copied()
                .unwrap_or_default()
        };
        println!(
            "| {:<34} | {:>5} | {:>9.0} | {:>8.2} | {:>8.2} | {:>6} |",
            self.name,
            self.conns,
            (self.ops - self.failed) as f64 / self.elapsed.as_secs_f64(),
            pct(0.50).as_secs_f64() * 1000.0,
            pct(0.99).as_secs_f64() * 1000.0,
            self.failed,
        );
    }
}

#[derive(Clone)]
struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Client {
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req
                .header("Content-Type", "application/scim+json")
                .body(b.to_string());
        }
        // A server that cannot keep up (refused or timed-out connections)
        // fails the operation; the table counts it.
        let Ok(resp) = req.send().await else {
            return (0, Value::Null);
        };
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

/// Runs `ops` operations over `conns` connections; `op(i)` does the i-th.
async fn measure<F, Fut>(name: &str, conns: usize, ops: usize, op: F) -> Stats
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let op = Arc::new(op);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    // A slow server gets a time budget per operation, not an hour.
    let budget = Duration::from_secs(
        std::env::var("BENCH_BUDGET_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(60),
    );
    let mut tasks = Vec::new();
    for _ in 0..conns {
        let (op, next) = (op.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let (mut lat, mut failed) = (Vec::new(), 0);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= ops || started.elapsed() > budget {
                    return (lat, failed);
                }
                let t = Instant::now();
                if op(i).await {
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
        ops: latencies.len() + failed,
        elapsed: started.elapsed(),
        latencies,
        failed,
    }
}

fn rand_index(i: usize, n: usize) -> usize {
    // A cheap scramble so that consecutive operations hit different records.
    (i.wrapping_mul(2_654_435_761) ^ (i >> 3)) % n
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--argon2-bound") {
        argon2_bound::print();
        return;
    }
    let (url, token) = (args[1].clone(), args[2].clone());
    if std::env::var("ONLY_PAGING").is_ok() {
        // Page through a store loaded before (for looking at paging alone).
        let http = reqwest::Client::new();
        let c = Client {
            http,
            base: url,
            token,
        };
        let (_, first) = c.send(reqwest::Method::GET, "/Users?count=0", None).await;
        paging(&c, first["totalResults"].as_u64().unwrap_or(0) as usize).await;
        return;
    }
    let n_users: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let n_groups: usize = args.get(4).and_then(|a| a.parse().ok()).unwrap_or(1_000);
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();
    let c = Client {
        http,
        base: url,
        token,
    };

    // ---- load, through SCIM Bulk ----
    let started = Instant::now();
    let batch = 1000;
    let loaded = measure("load: users via Bulk (1000/request)", 4, n_users.div_ceil(batch), {
        let c = c.clone();
        move |b| {
            let c = c.clone();
            async move {
                let ops: Vec<Value> = (b * batch..((b + 1) * batch).min(n_users))
                    .map(|i| json!({"method": "POST", "path": "/Users", "bulkId": format!("u{i}"), "data": {
                        "schemas": [USER_URN], "userName": format!("user{i:06}"), "name": {"givenName": "Bench", "familyName": format!("User{i}")},
                        "emails": [{"value": format!("user{i:06}@bench.example"), "type": "work", "primary": true}]}}))
                    .collect();
                let (s, body) = c.send(reqwest::Method::POST, "/Bulk", Some(&json!({"schemas": [BULK_URN], "Operations": ops}))).await;
                s == 200 && body["Operations"].as_array().is_some_and(|o| o.iter().all(|r| r["status"] == "201"))
            }
        }
    })
    .await;
    let user_rate = n_users as f64 / loaded.elapsed.as_secs_f64();
    // Ids, read back page by page.
    let mut ids = Vec::with_capacity(n_users);
    let mut start = 1;
    while ids.len() < n_users {
        let (_, page) = c
            .send(
                reqwest::Method::GET,
                &format!("/Users?startIndex={start}&count=1000&attributes=id"),
                None,
            )
            .await;
        let items = page["Resources"].as_array().cloned().unwrap_or_default();
        if items.is_empty() {
            break;
        }
        ids.extend(items.iter().map(|r| r["id"].as_str().unwrap().to_string()));
        start += items.len();
    }
    let ids = Arc::new(ids);
    // Groups with 10 to 500 members each, and one with 10,000.
    for g in 0..n_groups {
        let size = 10 + rand_index(g, 491);
        let members: Vec<Value> = (0..size)
            .map(|k| json!({"value": ids[rand_index(g * 1000 + k, ids.len())]}))
            .collect();
        let (s, _) = c
            .send(
                reqwest::Method::POST,
                "/Groups",
                Some(&json!({"schemas": [GROUP_URN], "displayName": format!("group{g:04}"), "members": members})),
            )
            .await;
        assert!(s == 201 || s == 400, "group {g}: {s}");
    }
    let big_members: Vec<Value> = ids
        .iter()
        .take(10_000)
        .map(|id| json!({"value": id}))
        .collect();
    let (s, big) = c
        .send(
            reqwest::Method::POST,
            "/Groups",
            Some(
                &json!({"schemas": [GROUP_URN], "displayName": "big-10k", "members": big_members}),
            ),
        )
        .await;
    assert_eq!(s, 201, "{big}");
    let big = big["id"].as_str().unwrap().to_string();
    println!(
        "loaded {} users in {:.1} s ({:.0} users/s through Bulk) and {} groups; total load {:.1} s\n",
        ids.len(),
        loaded.elapsed.as_secs_f64(),
        user_rate,
        n_groups + 1,
        started.elapsed().as_secs_f64()
    );

    println!(
        "| operation                          | conns |     ops/s | p50 (ms) | p99 (ms) | failed |"
    );
    println!(
        "|------------------------------------|-------|-----------|----------|----------|--------|"
    );
    let made = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let mut password_rates = Vec::new();
    for conns in [1usize, 32] {
        let scale = if conns == 1 { 1 } else { 4 };
        let tag = conns;
        measure("POST /Users (no password)", conns, 1000 * scale, {
            let (c, made) = (c.clone(), made.clone());
            move |i| {
                let (c, made) = (c.clone(), made.clone());
                async move {
                    let (s, u) = c
                        .send(
                            reqwest::Method::POST,
                            "/Users",
                            Some(&json!({"schemas": [USER_URN], "userName": format!("new{tag}-{i}")})),
                        )
                        .await;
                    if let Some(id) = u["id"].as_str() {
                        made.lock().unwrap().push(id.to_string());
                    }
                    s == 201
                }
            }
        })
        .await
        .print();
        let with_password = measure("POST /Users (argon2id password)", conns, 100 * scale, {
            let c = c.clone();
            move |i| {
                let c = c.clone();
                async move {
                    let body = json!({"schemas": [USER_URN], "userName": format!("pw{tag}-{i}"), "password": "Bench-password-123"});
                    c.send(reqwest::Method::POST, "/Users", Some(&body)).await.0 == 201
                }
            }
        })
        .await;
        with_password.print();
        password_rates.push((
            conns,
            with_password.ops as f64 / with_password.elapsed.as_secs_f64(),
        ));
        measure("GET /Users/{id}", conns, 3000 * scale, {
            let (c, ids) = (c.clone(), ids.clone());
            move |i| {
                let (c, ids) = (c.clone(), ids.clone());
                async move {
                    c.send(
                        reqwest::Method::GET,
                        &format!("/Users/{}", ids[rand_index(i, ids.len())]),
                        None,
                    )
                    .await
                    .0 == 200
                }
            }
        })
        .await
        .print();
        measure("GET /Users?filter=userName eq", conns, 3000 * scale, {
            let c = c.clone();
            let n = n_users;
            move |i| {
                let c = c.clone();
                async move {
                    let path = format!(
                        "/Users?filter=userName%20eq%20%22user{:06}%22",
                        rand_index(i, n)
                    );
                    let (s, body) = c.send(reqwest::Method::GET, &path, None).await;
                    s == 200 && body["totalResults"] == 1
                }
            }
        })
        .await
        .print();
        measure("PATCH /Users/{id} replace", conns, 1000 * scale, {
            let (c, ids) = (c.clone(), ids.clone());
            move |i| {
                let (c, ids) = (c.clone(), ids.clone());
                async move {
                    let body = json!({"schemas": [PATCH_URN], "Operations": [{"op": "replace", "path": "title", "value": format!("t{i}")}]});
                    matches!(c.send(reqwest::Method::PATCH, &format!("/Users/{}", ids[rand_index(i + 7, ids.len())]), Some(&body)).await.0, 200 | 204)
                }
            }
        })
        .await
        .print();
        let newcomers: Vec<String> = made.lock().unwrap().clone();
        let newcomers = Arc::new(newcomers);
        let big = big.clone();
        measure("PATCH add member to 10k group", conns, newcomers.len().min(1000 * scale), {
            let (c, newcomers) = (c.clone(), newcomers.clone());
            move |i| {
                let (c, newcomers, big) = (c.clone(), newcomers.clone(), big.clone());
                async move {
                    let body = json!({"schemas": [PATCH_URN], "Operations": [{"op": "add", "path": "members", "value": [{"value": newcomers[i]}]}]});
                    let resp = c
                        .http
                        .patch(format!("{}/Groups/{big}?excludedAttributes=members", c.base))
                        .bearer_auth(&c.token)
                        .header("Content-Type", "application/scim+json")
                        .body(body.to_string())
                        .send()
                        .await;
                    resp.is_ok_and(|r| matches!(r.status().as_u16(), 200 | 204))
                }
            }
        })
        .await
        .print();
        made.lock().unwrap().clear();
    }

    // ---- POST with a password against the hashing bound ----
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let bounds = argon2_bound::from_env();
    for (conns, rate) in password_rates {
        let threads = conns.min(cores);
        if let Some((_, bound)) = bounds.iter().find(|(t, _)| *t == threads) {
            println!(
                "POST /Users with a password at {conns} conns: {rate:.1}/s = {:.0}% of the argon2id bound ({bound:.1} hashes/s on {threads} thread(s))",
                100.0 * rate / bound
            );
        }
    }

    paging(&c, ids.len()).await;
}

/// Pages through every user, 100 at a time, and prints how the pages' times
/// compare with the first's.
async fn paging(c: &Client, total: usize) {
    let mut pages = Vec::new();
    let all = Instant::now();
    let mut start = 1;
    loop {
        let t = Instant::now();
        let (_, page) = c
            .send(
                reqwest::Method::GET,
                &format!("/Users?startIndex={start}&count=100"),
                None,
            )
            .await;
        pages.push(t.elapsed());
        let n = page["Resources"].as_array().map_or(0, Vec::len);
        if n < 100 {
            break;
        }
        start += n;
    }
    let first = pages[0];
    let slowest = *pages.iter().max().unwrap();
    let mut sorted = pages.clone();
    sorted.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let p99 = sorted[(sorted.len() * 99 / 100).min(sorted.len() - 1)];
    println!(
        "\npaging {total}+ users in pages of 100: {} pages in {:.1} s; first page {:.2} ms, median {:.2} ms, p99 {:.2} ms, slowest {:.2} ms ({:.1}x the first; the last page {:.2} ms)",
        pages.len(),
        all.elapsed().as_secs_f64(),
        ms(first),
        ms(sorted[sorted.len() / 2]),
        ms(p99),
        ms(slowest),
        slowest.as_secs_f64() / first.as_secs_f64(),
        ms(*pages.last().unwrap()),
    );
    // Whether pages get slower the deeper they are: the median page time of
    // each tenth of the walk, first tenth to last.
    let tenth = pages.len().div_ceil(10).max(1);
    let medians: Vec<String> = pages
        .chunks(tenth)
        .map(|chunk| {
            let mut c = chunk.to_vec();
            c.sort();
            format!("{:.2}", ms(c[c.len() / 2]))
        })
        .collect();
    println!(
        "median page time by tenth of the walk (ms): {}",
        medians.join(" ")
    );
}
