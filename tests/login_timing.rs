//! A failed bind takes the same time whether the name is unknown, the
//! password wrong, the account locked or the client outside the account's
//! IP allow-list: the same argon2id work and the
//! same audited write, so that timing does not tell which accounts exist or
//! are locked. Alone in its test binary, so that no other test shares the
//! cores while it measures; the kinds are measured in turns, so that
//! the machine's drift falls on all alike, and a measurement that
//! finds them apart is taken again (up to five times) before the test
//! fails: a real difference shows every time, a burst of noise does not.

mod common;

use std::time::{Duration, Instant};

use common::{start_with, user_dn};

const ROUNDS: usize = 21;
const ATTEMPTS: usize = 5;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_users_wrong_passwords_locked_accounts_and_other_addresses_fail_alike() {
    // Roster's default argon2id parameters: the time a real bind costs.
    let t = start_with(|c| c.policy.max_failed_logins = 1).await;
    t.create_user("alice", Some("S3cure-pass!"), "alice@example.com")
        .await;
    t.create_user("locked", Some("S3cure-pass!"), "locked@example.com")
        .await;
    let (status, body) = t
        .scim(
            reqwest::Method::POST,
            "/Users",
            Some(serde_json::json!({
                "userName": "elsewhere", "password": "S3cure-pass!",
                common::ACCOUNT_URN: {"ipAllowList": ["10.0.0.0/8"]},
            })),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{body}");
    let mut ldap = t.ldap().await;
    assert_eq!(
        ldap.simple_bind(&user_dn("locked"), "wrong")
            .await
            .unwrap()
            .rc,
        49
    );
    let cases = [
        ("unknown user", user_dn("nobody"), "S3cure-pass!"),
        ("wrong password", user_dn("alice"), "wrong-password"),
        ("locked account", user_dn("locked"), "S3cure-pass!"),
        (
            "outside its IP allow-list",
            user_dn("elsewhere"),
            "S3cure-pass!",
        ),
    ];
    // One round first, not measured (warm connections and caches).
    for (_, dn, password) in &cases {
        ldap.simple_bind(dn, password).await.unwrap();
    }
    let mut reports = Vec::new();
    for _ in 0..ATTEMPTS {
        let mut samples: Vec<Vec<Duration>> = vec![Vec::new(); cases.len()];
        for _ in 0..ROUNDS {
            for (i, (what, dn, password)) in cases.iter().enumerate() {
                let started = Instant::now();
                let res = ldap.simple_bind(dn, password).await.unwrap();
                samples[i].push(started.elapsed());
                assert_eq!(res.rc, 49, "{what}");
                assert_eq!(res.text, "", "{what}: the same (empty) message");
            }
        }
        let medians: Vec<Duration> = samples.into_iter().map(median).collect();
        let fastest = *medians.iter().min().unwrap();
        let slowest = *medians.iter().max().unwrap();
        let report: Vec<String> = cases
            .iter()
            .zip(&medians)
            .map(|((what, _, _), m)| format!("{what} {:.1} ms", m.as_secs_f64() * 1000.0))
            .collect();
        println!("median bind times: {}", report.join(", "));
        if slowest.as_secs_f64() <= fastest.as_secs_f64() * 1.2 {
            return;
        }
        reports.push(report.join(", "));
    }
    panic!(
        "failed binds differ by more than 20% in every measurement: {}",
        reports.join(" / ")
    );
}
