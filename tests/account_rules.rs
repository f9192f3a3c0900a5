//! The account rules (`directory::policy`) through both protocols: LDAP
//! binds count failures and lock, SCIM shows the lock and re-validates;
//! accounts unused past the inactivity window become inactive at a bind and
//! by the background sweep.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{
    account, bind_rc, cli, start_with, start_with_clock, until, user_dn, TestServer, ACCOUNT_URN,
};
use ldap3::{Scope, SearchEntry};
use reqwest::{Method, StatusCode};
use roster::directory::{Clock, ManualClock, SystemClock};
use serde_json::json;

const PATCH_URN: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const PASSWORD: &str = "S3cure-pass!";
const DAY_MS: i64 = 24 * 3600 * 1000;

async fn set_active(t: &TestServer, id: &str, active: bool) -> serde_json::Value {
    let (status, body) = t
        .scim(
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(json!({"schemas": [PATCH_URN], "Operations": [{"op": "replace", "path": "active", "value": active}]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn active(t: &TestServer, id: &str) -> bool {
    let (status, body) = t.scim(Method::GET, &format!("/Users/{id}"), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["active"].as_bool().expect("active is shown")
}

/// The operational attributes of `user`'s entry, as a reader sees them.
async fn account_attrs(t: &TestServer, reader: &str, user: &str) -> SearchEntry {
    let mut ldap = t.ldap_as(reader, PASSWORD).await;
    let (entries, _) = ldap
        .search(
            &user_dn(user),
            Scope::Base,
            "(objectClass=*)",
            vec!["pwdAccountLockedTime", "pwdFailureTime", "pwdLastSuccess"],
        )
        .await
        .unwrap()
        .success()
        .unwrap();
    SearchEntry::construct(entries.into_iter().next().expect("the entry"))
}

async fn actions(t: &TestServer, limit: usize) -> Vec<String> {
    let events = t.server.directory.recent_audit(limit).await.unwrap();
    events.into_iter().map(|e| e.action).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_passwords_lock_an_account_until_scim_revalidates_it() {
    let t = start_with(|c| c.policy.max_failed_logins = 3).await;
    let alice = t
        .create_user("alice", Some(PASSWORD), "alice@example.com")
        .await;
    let reader = t
        .create_user("reader", Some(PASSWORD), "reader@example.com")
        .await;
    t.make_readers(&[&reader]).await;

    // Two failures do not lock; a success clears them.
    assert_eq!(bind_rc(&t, "alice", "wrong-1").await, 49);
    assert_eq!(bind_rc(&t, "alice", "wrong-2").await, 49);
    let seen = account_attrs(&t, "reader", "alice").await;
    assert!(seen.attrs.contains_key("pwdFailureTime"), "{seen:?}");
    assert_eq!(bind_rc(&t, "alice", PASSWORD).await, 0);
    let seen = account_attrs(&t, "reader", "alice").await;
    assert!(!seen.attrs.contains_key("pwdFailureTime"), "{seen:?}");
    assert!(seen.attrs.contains_key("pwdLastSuccess"), "{seen:?}");

    // Three in a row lock it: then even the right password fails, the same
    // way as a wrong one, and SCIM shows it inactive.
    for n in 0..3 {
        assert_eq!(bind_rc(&t, "alice", &format!("wrong-{n}")).await, 49);
    }
    assert_eq!(bind_rc(&t, "alice", PASSWORD).await, 49);
    assert!(!active(&t, &alice).await);
    let state = account(&t, &alice).await;
    assert_eq!(state["status"], "locked", "{state}");
    assert_eq!(
        state["failedLogins"], 4,
        "three wrong, then the right one refused: {state}"
    );
    assert!(state["lockedAt"].is_string(), "{state}");
    let seen = account_attrs(&t, "reader", "alice").await;
    assert!(seen.attrs.contains_key("pwdAccountLockedTime"), "{seen:?}");

    // The state is the server's: a client cannot write it.
    let (status, body) = t
        .scim(
            Method::PATCH,
            &format!("/Users/{alice}"),
            Some(json!({"schemas": [PATCH_URN], "Operations": [{"op": "replace", "path": format!("{ACCOUNT_URN}:status"), "value": "active"}]})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["scimType"], "mutability");
    let (status, body) = t
        .scim(
            Method::PUT,
            &format!("/Users/{alice}"),
            Some(
                json!({"userName": "alice", ACCOUNT_URN: {"status": "active", "failedLogins": 0}}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body.get(ACCOUNT_URN).is_none(),
        "returned only when asked for: {body}"
    );
    assert_eq!(
        account(&t, &alice).await["status"],
        "locked",
        "ignored on PUT"
    );
    let recent = actions(&t, 6).await;
    assert_eq!(
        recent.iter().filter(|a| *a == "user.lock").count(),
        1,
        "{recent:?}"
    );

    // An administrator re-validates over SCIM: the bind works again and
    // the count starts from nothing.
    let body = set_active(&t, &alice, true).await;
    assert_eq!(body["active"], true);
    let state = account(&t, &alice).await;
    assert_eq!(state["status"], "active");
    assert_eq!(state["failedLogins"], 0);
    let seen = account_attrs(&t, "reader", "alice").await;
    assert!(!seen.attrs.contains_key("pwdAccountLockedTime"), "{seen:?}");
    assert!(!seen.attrs.contains_key("pwdFailureTime"), "{seen:?}");
    assert_eq!(bind_rc(&t, "alice", PASSWORD).await, 0);
    assert_eq!(bind_rc(&t, "alice", "wrong-again").await, 49);
    assert_eq!(bind_rc(&t, "alice", PASSWORD).await, 0);
    assert_eq!(
        actions(&t, 10)
            .await
            .iter()
            .filter(|a| *a == "user.revalidate")
            .count(),
        1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_wrong_binds_lock_once_and_nothing_gets_in_after() {
    // Cheap hashes: this is about counting, not hashing.
    let t = start_with(|c| {
        c.policy.max_failed_logins = 10;
        c.password.argon2_memory_kib = 64;
        c.password.argon2_iterations = 1;
    })
    .await;
    let alice = t
        .create_user("alice", Some(PASSWORD), "alice@example.com")
        .await;
    let mut binds = Vec::new();
    for i in 0..200 {
        let ldap_url = t.ldap_url.clone();
        binds.push(tokio::spawn(async move {
            let (conn, mut ldap) = ldap3::LdapConnAsync::new(&ldap_url).await.unwrap();
            ldap3::drive!(conn);
            ldap.simple_bind(&user_dn("alice"), &format!("wrong-{i}"))
                .await
                .unwrap()
                .rc
        }));
    }
    for b in binds {
        assert_eq!(b.await.unwrap(), 49);
    }
    assert_eq!(bind_rc(&t, "alice", PASSWORD).await, 49);
    assert!(!active(&t, &alice).await);
    let recent = actions(&t, 300).await;
    assert_eq!(recent.iter().filter(|a| *a == "user.lock").count(), 1);
    assert_eq!(
        recent.iter().filter(|a| *a == "user.login.failure").count(),
        200
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lock_with_a_duration_runs_out_and_relocks_on_the_next_failure() {
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let t = start_with_clock(clock.clone(), |c| {
        c.policy.max_failed_logins = 2;
        c.policy.lockout_duration = Duration::from_secs(600);
    })
    .await;
    let alice = t
        .create_user("alice", Some(PASSWORD), "alice@example.com")
        .await;
    for _ in 0..2 {
        assert_eq!(bind_rc(&t, "alice", "wrong").await, 49);
    }
    assert_eq!(bind_rc(&t, "alice", PASSWORD).await, 49);
    clock.advance(601_000);
    // Ran out: one more failure locks it again at once.
    assert_eq!(bind_rc(&t, "alice", "wrong").await, 49);
    assert_eq!(bind_rc(&t, "alice", PASSWORD).await, 49);
    clock.advance(601_000);
    assert_eq!(bind_rc(&t, "alice", PASSWORD).await, 0);
    assert!(active(&t, &alice).await);
    let locks = actions(&t, 20).await;
    assert_eq!(
        locks.iter().filter(|a| *a == "user.lock").count(),
        2,
        "{locks:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn failures_outside_the_window_do_not_count() {
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let t = start_with_clock(clock.clone(), |c| {
        c.policy.max_failed_logins = 3;
        c.policy.failure_window = Duration::from_secs(60);
    })
    .await;
    let alice = t
        .create_user("alice", Some(PASSWORD), "alice@example.com")
        .await;
    for _ in 0..2 {
        assert_eq!(bind_rc(&t, "alice", "wrong").await, 49);
        clock.advance(61_000);
    }
    assert_eq!(bind_rc(&t, "alice", "wrong").await, 49);
    assert!(
        active(&t, &alice).await,
        "spread-out failures must not lock"
    );
    assert_eq!(bind_rc(&t, "alice", "wrong").await, 49);
    assert_eq!(bind_rc(&t, "alice", "wrong").await, 49);
    assert!(!active(&t, &alice).await, "three within the window lock");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unused_account_becomes_inactive_at_bind_and_by_the_sweep() {
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let t = start_with_clock(clock.clone(), |c| {
        c.policy.inactivity_sweep_interval = Duration::from_millis(100);
    })
    .await;
    let alice = t
        .create_user("alice", Some(PASSWORD), "alice@example.com")
        .await;
    let bob = t
        .create_user("bob", Some(PASSWORD), "bob@example.com")
        .await;
    let carol = t
        .create_user("carol", Some(PASSWORD), "carol@example.com")
        .await;
    // dave only receives reports: exempt, and it shows by default.
    let dave = t
        .create_user("dave", Some(PASSWORD), "dave@example.com")
        .await;
    let (status, body) = t
        .scim(
            Method::PATCH,
            &format!("/Users/{dave}"),
            Some(json!({"schemas": [PATCH_URN], "Operations": [{"op": "replace", "path": format!("{ACCOUNT_URN}:reportsOnly"), "value": true}]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body[ACCOUNT_URN], json!({"reportsOnly": true}), "{body}");
    clock.advance(60 * DAY_MS);
    assert_eq!(bind_rc(&t, "carol", PASSWORD).await, 0);
    clock.advance(31 * DAY_MS);

    // alice tries first: her bind finds her inactive, and fails as a
    // wrong password would.
    assert_eq!(bind_rc(&t, "alice", PASSWORD).await, 49);
    assert!(!active(&t, &alice).await);
    assert_eq!(account(&t, &alice).await["status"], "inactive");
    // bob never tries: the sweep makes him inactive, visible over SCIM
    // without anyone logging in.
    let mut waited = 0;
    while active(&t, &bob).await {
        assert!(waited < 50, "the sweep did not run");
        tokio::time::sleep(Duration::from_millis(100)).await;
        waited += 1;
    }
    // carol logged in 31 days ago: still active.
    assert!(active(&t, &carol).await);
    assert!(account(&t, &carol).await["lastLogin"].is_string());
    assert!(active(&t, &dave).await, "reportsOnly accounts are exempt");
    assert_eq!(bind_rc(&t, "dave", PASSWORD).await, 0);
    assert_eq!(bind_rc(&t, "carol", PASSWORD).await, 0);
    let recent = actions(&t, 20).await;
    assert_eq!(
        recent.iter().filter(|a| *a == "user.inactivate").count(),
        2,
        "{recent:?}"
    );

    // Re-validating restarts the clock.
    set_active(&t, &bob, true).await;
    assert_eq!(bind_rc(&t, "bob", PASSWORD).await, 0);
    let (_, filtered) = t
        .scim(Method::GET, "/Users?filter=active%20eq%20false", None)
        .await;
    assert_eq!(filtered["totalResults"], 1, "{filtered}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deleted_user_is_banned_kept_and_can_be_restored_or_purged() {
    let t = start_with(|c| c.store.refresh_interval = Duration::from_millis(100)).await;
    let old = t
        .create_user("alice", Some(PASSWORD), "alice@example.com")
        .await;
    let reader = t
        .create_user("reader", Some(PASSWORD), "reader@example.com")
        .await;
    t.make_readers(&[&reader, &old]).await;

    // SCIM DELETE bans: gone from SCIM and LDAP, no bind, the name free.
    let (status, _) = t.scim(Method::DELETE, &format!("/Users/{old}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = t.scim(Method::GET, &format!("/Users/{old}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(bind_rc(&t, "alice", PASSWORD).await, 49);
    let mut ldap = t.ldap_as("reader", PASSWORD).await;
    let (found, _) = ldap
        .search(
            common::BASE_DN,
            Scope::Subtree,
            "(|(uid=alice)(member=*))",
            vec!["uid", "member"],
        )
        .await
        .unwrap()
        .success()
        .unwrap();
    let found: Vec<SearchEntry> = found.into_iter().map(SearchEntry::construct).collect();
    assert!(
        found.iter().all(|e| !e
            .attrs
            .get("member")
            .is_some_and(|m| m.contains(&user_dn("alice")))),
        "the banned user's memberships end: {found:?}"
    );
    assert!(
        found.iter().all(|e| !e.attrs.contains_key("uid")),
        "{found:?}"
    );
    let new = t
        .create_user("alice", Some("An0ther-pass!"), "alice@example.com")
        .await;
    assert_ne!(new, old);

    // The command line lists banned users; a restore needs the name free.
    let (ok, out) = cli(&t, &["user", "list", "--banned"]);
    assert!(ok && out.contains(&old), "{out}");
    let (ok, out) = cli(&t, &["user", "restore", "alice"]);
    assert!(!ok && out.contains("userName"), "{out}");
    let (status, _) = t.scim(Method::DELETE, &format!("/Users/{new}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (ok, out) = cli(&t, &["user", "restore", "alice"]);
    assert!(!ok && out.contains("id"), "two banned alices: {out}");
    let (ok, out) = cli(&t, &["user", "restore", &old]);
    assert!(ok, "{out}");
    until("the restored user is served", async || {
        t.scim(Method::GET, &format!("/Users/{old}"), None).await.0 == StatusCode::OK
    })
    .await;
    assert!(!active(&t, &old).await, "restored users come back disabled");
    let (ok, out) = cli(&t, &["user", "activate", "alice"]);
    assert!(ok, "{out}");
    until("the activated user binds", async || {
        bind_rc(&t, "alice", PASSWORD).await == 0
    })
    .await;

    // Purge erases the other one for good; the audit trail keeps it all.
    let (ok, out) = cli(&t, &["user", "purge", "alice"]);
    assert!(ok, "{out}");
    let (_, out) = cli(&t, &["user", "list", "--banned"]);
    assert!(!out.contains(&new), "{out}");
    // `roster audit --user` reads one account's history, the time it was
    // banned included.
    let (ok, out) = cli(
        &t,
        &["audit", "--user", "alice", "--json", "--limit", "100"],
    );
    assert!(ok, "{out}");
    let events: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(events.iter().all(|e| e["id"] == old.as_str()), "{out}");
    for action in [
        "user.create",
        "user.ban",
        "user.restore",
        "user.revalidate",
        "user.login",
    ] {
        assert!(
            events.iter().any(|e| e["action"] == action),
            "{action}: {out}"
        );
    }
    let (ok, out) = cli(&t, &["audit", "--since", "2999-01-01T00:00:00Z", "--json"]);
    assert!(ok && out.trim().is_empty(), "{out}");
    let (ok, out) = cli(&t, &["audit", "--since", "1h", "--json", "--limit", "3"]);
    assert!(ok && out.lines().count() == 3, "{out}");
    let (ok, _) = cli(&t, &["audit", "--user", "nobody"]);
    assert!(!ok);
    let recent = actions(&t, 40).await;
    for (action, n) in [
        ("user.ban", 2),
        ("user.restore", 1),
        ("user.purge", 1),
        ("user.revalidate", 1),
    ] {
        assert_eq!(
            recent.iter().filter(|a| *a == action).count(),
            n,
            "{action}: {recent:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deleted_group_is_banned_its_name_free_and_its_memberships_ended() {
    let t = start_with(|_| {}).await;
    let alice = t
        .create_user("alice", Some(PASSWORD), "alice@example.com")
        .await;
    let devs = t.create_group("devs", &[&alice]).await;
    let outer = t.create_group("outer", &[&devs]).await;
    let (status, _) = t
        .scim(Method::DELETE, &format!("/Groups/{devs}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = t.scim(Method::GET, &format!("/Groups/{devs}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, again) = t
        .scim(Method::DELETE, &format!("/Groups/{devs}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{again}");
    // Gone from alice's groups and from the group it was in, over SCIM
    // and LDAP.
    let (_, user) = t.scim(Method::GET, &format!("/Users/{alice}"), None).await;
    assert!(user.get("groups").is_none(), "{user}");
    let (_, group) = t.scim(Method::GET, &format!("/Groups/{outer}"), None).await;
    assert!(
        group
            .get("members")
            .is_none_or(|m| m.as_array().unwrap().is_empty()),
        "{group}"
    );
    let mut ldap = t.ldap_as("alice", PASSWORD).await;
    let (found, _) = ldap
        .search(
            &user_dn("alice"),
            Scope::Base,
            "(objectClass=*)",
            vec!["memberOf"],
        )
        .await
        .unwrap()
        .success()
        .unwrap();
    let entry = SearchEntry::construct(found.into_iter().next().unwrap());
    assert!(!entry.attrs.contains_key("memberOf"), "{entry:?}");
    // The name is free; the banned group cannot be made a member.
    let fresh = t.create_group("devs", &[]).await;
    assert_ne!(fresh, devs);
    let (status, body) = t
        .scim(
            Method::PATCH,
            &format!("/Groups/{outer}"),
            Some(json!({"schemas": [PATCH_URN], "Operations": [{"op": "add", "path": "members", "value": [{"value": devs}]}]})),
        )
        .await;
    assert!(status.is_client_error(), "{status} {body}");
    assert!(actions(&t, 10).await.contains(&"group.ban".to_string()));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reset_password_must_be_changed_before_anything_else() {
    use ldap3::exop::{PasswordModify, WhoAmI};
    let t = start_with(|c| c.store.refresh_interval = Duration::from_millis(100)).await;
    let alice = t
        .create_user("alice", Some(PASSWORD), "alice@example.com")
        .await;
    // A password an identity provider sets does not force a change.
    let mut ldap = t.ldap_as("alice", PASSWORD).await;
    assert_eq!(ldap.extended(WhoAmI).await.unwrap().1.rc, 0);

    // An operator resets it: printed once, to be changed at the next login.
    let (ok, out) = cli(&t, &["user", "reset-password", "alice"]);
    assert!(ok, "{out}");
    let generated = out.trim().to_string();
    assert_eq!(out.lines().count(), 1, "only the password: {out}");
    until("the reset reaches the server", async || {
        account(&t, &alice).await["mustChangePassword"] == true
    })
    .await;
    let (mut ldap, rc, _, control) = t.ppolicy_bind("alice", &generated).await;
    assert_eq!(rc, 0, "the bind itself succeeds");
    assert_eq!(
        control,
        Some(vec![0x30, 0x03, 0x81, 0x01, 0x02]),
        "changeAfterReset"
    );
    assert_eq!(ldap.extended(WhoAmI).await.unwrap().1.rc, 50);
    let done = ldap
        .search(
            &user_dn("alice"),
            Scope::Base,
            "(objectClass=*)",
            vec!["uid"],
        )
        .await
        .unwrap();
    assert_eq!(done.1.rc, 50);

    // Changing it (with the reset password as the old one) lifts that.
    let res = ldap
        .extended(PasswordModify {
            user_id: None,
            old_pass: Some(&generated),
            new_pass: Some("Ch0sen-by-her-own"),
        })
        .await
        .unwrap();
    assert_eq!(res.1.rc, 0, "{:?}", res.1);
    assert_eq!(ldap.extended(WhoAmI).await.unwrap().1.rc, 0);
    assert_eq!(account(&t, &alice).await["mustChangePassword"], false);
    assert_eq!(bind_rc(&t, "alice", "Ch0sen-by-her-own").await, 0);

    // An administrator may also ask for a change over SCIM.
    let (status, body) = t
        .scim(
            Method::PATCH,
            &format!("/Users/{alice}"),
            Some(json!({"schemas": [PATCH_URN], "Operations": [{"op": "replace", "path": format!("{ACCOUNT_URN}:mustChangePassword"), "value": true}]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut ldap = t.ldap_as("alice", "Ch0sen-by-her-own").await;
    assert_eq!(ldap.extended(WhoAmI).await.unwrap().1.rc, 50);
    let recent = actions(&t, 20).await;
    assert!(
        recent.contains(&"user.password.reset".to_string()),
        "{recent:?}"
    );
    assert!(
        recent.contains(&"user.password.change".to_string()),
        "{recent:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_password_fails_like_a_wrong_one_and_says_so_to_ppolicy() {
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let t = start_with_clock(clock.clone(), |c| {
        c.password.max_age = Duration::from_secs(30 * 24 * 3600);
    })
    .await;
    let alice = t
        .create_user("alice", Some(PASSWORD), "alice@example.com")
        .await;
    t.create_user("bob", Some(PASSWORD), "bob@example.com")
        .await;
    assert_eq!(bind_rc(&t, "alice", PASSWORD).await, 0);
    let (status, body) = t
        .scim(
            Method::PATCH,
            &format!("/Users/{alice}"),
            Some(json!({"schemas": [PATCH_URN], "Operations": [{"op": "replace", "path": format!("{ACCOUNT_URN}:passwordNeverExpires"), "value": true}]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    clock.advance(31 * DAY_MS);
    let ppolicy_bind = |user: &'static str, password: &'static str| {
        let t = &t;
        async move {
            let (_, rc, text, control) = t.ppolicy_bind(user, password).await;
            (rc, text, control)
        }
    };
    // bob's expired: 49 and the same (empty) text as a wrong password, but
    // the control, given to whoever knew the password, says passwordExpired.
    let (rc, text, control) = ppolicy_bind("bob", PASSWORD).await;
    assert_eq!((rc, text.as_str()), (49, ""));
    assert_eq!(
        control,
        Some(vec![0x30, 0x03, 0x81, 0x01, 0x00]),
        "passwordExpired"
    );
    let (rc, _, control) = ppolicy_bind("bob", "wrong").await;
    assert_eq!(rc, 49);
    assert_eq!(
        control,
        Some(vec![0x30, 0x00]),
        "a wrong password learns nothing"
    );
    // alice's never expires.
    assert_eq!(ppolicy_bind("alice", PASSWORD).await.0, 0);
    assert!(account(&t, &alice).await.get("passwordExpiresAt").is_none());
    let (_, found) = t
        .scim(
            Method::GET,
            &format!("/Users?filter=userName%20eq%20%22bob%22&attributes={ACCOUNT_URN}"),
            None,
        )
        .await;
    assert!(
        found["Resources"][0][ACCOUNT_URN]["passwordExpiresAt"].is_string(),
        "{found}"
    );
    assert!(actions(&t, 10)
        .await
        .contains(&"user.login.expired".to_string()));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deleted_group_is_banned_kept_and_can_be_restored_or_purged() {
    let t = start_with(|c| c.store.refresh_interval = Duration::from_millis(100)).await;
    let alice = t
        .create_user("alice", Some(PASSWORD), "alice@example.com")
        .await;
    t.make_readers(&[&alice]).await;
    let old = t.create_group("ops", &[&alice]).await;
    let (status, _) = t
        .scim(Method::DELETE, &format!("/Groups/{old}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = t.scim(Method::GET, &format!("/Groups/{old}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let mut ldap = t.ldap_as("alice", PASSWORD).await;
    let (found, _) = ldap
        .search(common::BASE_DN, Scope::Subtree, "(cn=ops)", vec!["cn"])
        .await
        .unwrap()
        .success()
        .unwrap();
    assert!(found.is_empty(), "a banned group is not served over LDAP");
    // Its name is free; a restore needs it free again.
    let new = t.create_group("ops", &[]).await;
    let (ok, out) = cli(&t, &["group", "list", "--banned"]);
    assert!(ok && out.contains(&old) && !out.contains(&new), "{out}");
    let (ok, out) = cli(&t, &["group", "restore", "ops"]);
    assert!(!ok && out.contains("already in use"), "{out}");
    let (status, _) = t
        .scim(Method::DELETE, &format!("/Groups/{new}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (ok, out) = cli(&t, &["group", "restore", &old]);
    assert!(ok, "{out}");
    until("the restored group is served", async || {
        t.scim(Method::GET, &format!("/Groups/{old}"), None).await.0 == StatusCode::OK
    })
    .await;
    let (_, group) = t.scim(Method::GET, &format!("/Groups/{old}"), None).await;
    assert_eq!(
        group["members"],
        serde_json::json!([]),
        "memberships ended with the ban: {group}"
    );
    let (ok, out) = cli(&t, &["group", "list", "--json"]);
    assert!(ok && out.contains(&old), "{out}");
    let (ok, out) = cli(&t, &["group", "purge", "ops"]);
    assert!(ok, "{out}");
    let (_, out) = cli(&t, &["group", "list", "--banned"]);
    assert!(!out.contains(&new), "{out}");
    let events = t.server.directory.recent_audit(50).await.unwrap();
    for action in ["group.ban", "group.restore", "group.purge"] {
        assert!(events.iter().any(|e| e.action == action), "{action}");
    }
}

#[tokio::test]
async fn a_locked_account_is_told_so_only_when_configured_and_only_with_the_right_password() {
    let t = start_with(|c| {
        c.policy.max_failed_logins = 2;
        c.policy.report_locked = true;
    })
    .await;
    t.create_user("alice", Some(PASSWORD), "alice@example.com")
        .await;
    for _ in 0..2 {
        assert_eq!(bind_rc(&t, "alice", "wrong").await, 49);
    }
    let (_, rc, _, control) = t.ppolicy_bind("alice", PASSWORD).await;
    assert_eq!(rc, 49);
    assert_eq!(
        control,
        Some(vec![0x30, 0x03, 0x81, 0x01, 0x01]),
        "accountLocked"
    );
    let (_, rc, _, control) = t.ppolicy_bind("alice", "wrong").await;
    assert_eq!(
        (rc, control),
        (49, Some(vec![0x30, 0x00])),
        "a wrong password learns nothing"
    );

    // By default nobody is told.
    let quiet = start_with(|c| c.policy.max_failed_logins = 2).await;
    quiet
        .create_user("alice", Some(PASSWORD), "alice@example.com")
        .await;
    for _ in 0..2 {
        assert_eq!(bind_rc(&quiet, "alice", "wrong").await, 49);
    }
    let (_, rc, _, control) = quiet.ppolicy_bind("alice", PASSWORD).await;
    assert_eq!((rc, control), (49, Some(vec![0x30, 0x00])));
}

#[tokio::test]
async fn audit_events_older_than_the_retention_are_pruned() {
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let t = start_with_clock(clock.clone(), |c| {
        c.audit.retention = Duration::from_secs(86400)
    })
    .await;
    t.create_user("alice", Some(PASSWORD), "alice@example.com")
        .await;
    clock.advance(2 * DAY_MS);
    assert_eq!(bind_rc(&t, "alice", PASSWORD).await, 0);
    let pruned = t.server.directory.prune_audit().await.unwrap();
    assert!(pruned >= 2, "the token and the user's creation: {pruned}");
    let events = t.server.directory.recent_audit(50).await.unwrap();
    assert!(events.iter().all(|e| e.action != "user.create"));
    assert!(
        events.iter().any(|e| e.action == "user.login"),
        "the recent login stays"
    );
}
