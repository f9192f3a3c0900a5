//! Credentials under the account rules, through SCIM, LDAP and the
//! self-service endpoints: the password quality policy and history, expiry
//! warnings and grace logins, TOTP enrolment and password+code binds with
//! replays refused, and per-user IP allow-lists.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{
    account, bind_rc, cli, ppolicy_response, read_entry, start_with, start_with_clock, until,
    user_dn, TestServer, ACCOUNT_URN, PPOLICY_OID,
};
use ldap3::exop::PasswordModify;
use reqwest::{Method, StatusCode};
use roster::directory::{totp, Actor, Clock, ManualClock, SystemClock};
use serde_json::{json, Value};

const PATCH_URN: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const PASSWORD: &str = "S3cure-pass!";
const DAY_MS: i64 = 24 * 3600 * 1000;

fn ppolicy() -> ldap3::controls::RawControl {
    ldap3::controls::RawControl {
        ctype: PPOLICY_OID.into(),
        crit: false,
        val: None,
    }
}

/// Password Modify of one's own password with the password policy control:
/// the result code and the control's value.
async fn change_own(t: &TestServer, user: &str, old: &str, new: &str) -> (u32, Option<Vec<u8>>) {
    let mut ldap = t.ldap_as(user, old).await;
    let res = ldap
        .with_controls(ppolicy())
        .extended(PasswordModify {
            user_id: None,
            old_pass: Some(old),
            new_pass: Some(new),
        })
        .await
        .unwrap()
        .1;
    (res.rc, ppolicy_response(&res.ctrls))
}

async fn patch(t: &TestServer, id: &str, path: &str, value: Value) -> (StatusCode, Value) {
    t.scim(
        Method::PATCH,
        &format!("/Users/{id}"),
        Some(json!({"schemas": [PATCH_URN], "Operations": [{"op": "replace", "path": path, "value": value}]})),
    )
    .await
}

/// A self-service request with HTTP Basic credentials.
async fn self_service(
    t: &TestServer,
    path: &str,
    user: &str,
    secret: &str,
    body: Value,
) -> (StatusCode, Value) {
    let resp = t
        .http
        .post(format!("http://{}/self-service{path}", t.server.http_addr))
        .basic_auth(user, Some(secret))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_password_policy_holds_over_scim_and_ldap() {
    let t = start_with(|_| {}).await;
    // SCIM: 400 invalidValue, every broken rule named.
    let (status, err) = t
        .scim(
            Method::POST,
            "/Users",
            Some(json!({"userName": "alice", "password": "alice1"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
    assert_eq!(err["scimType"], "invalidValue");
    let detail = err["detail"].as_str().unwrap();
    for rule in ["at least 12 characters", "at least 3 of", "userName"] {
        assert!(detail.contains(rule), "{rule} in {detail}");
    }
    let (status, err) = t
        .scim(
            Method::POST,
            "/Users",
            Some(json!({"userName": "bob", "password": "Secret-Jdoe-991", "emails": [{"value": "jdoe@example.com"}]})),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "the email's local part: {err}"
    );
    let alice = t
        .create_user("alice", Some(PASSWORD), "alice@example.com")
        .await;

    // LDAP Password Modify: constraintViolation (19) with the ppolicy error.
    let cases = [
        ("Sh0rt-pw", 6u8),          // passwordTooShort
        ("alllowercaseletters", 5), // insufficientPasswordQuality
        ("My-Alice-pass-1", 5),     // contains the userName
        (PASSWORD, 8),              // passwordInHistory: the current one
    ];
    for (new, error) in cases {
        let (rc, control) = change_own(&t, "alice", PASSWORD, new).await;
        assert_eq!(rc, 19, "{new}");
        assert_eq!(control, Some(vec![0x30, 0x03, 0x81, 0x01, error]), "{new}");
    }
    // Two changes later, the first password is still in the history, over
    // SCIM too; a new one is fine on both.
    assert_eq!(
        change_own(&t, "alice", PASSWORD, "Second-pass-02").await.0,
        0
    );
    assert_eq!(
        change_own(&t, "alice", "Second-pass-02", "Third-pass-003")
            .await
            .0,
        0
    );
    let (status, err) = patch(&t, &alice, "password", json!(PASSWORD)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
    assert!(
        err["detail"].as_str().unwrap().contains("last 5 passwords"),
        "{err}"
    );
    let (status, err) = patch(&t, &alice, "password", json!("Fourth-pass-04")).await;
    assert_eq!(status, StatusCode::OK, "{err}");
    assert_eq!(bind_rc(&t, "alice", "Fourth-pass-04").await, 0);

    // A generated password meets the policy (and is never in the history).
    let generated = t
        .server
        .directory
        .reset_password(&Actor::cli(), alice.parse().unwrap())
        .await
        .unwrap();
    assert!(generated.len() >= 20, "{generated}");
    // The reset shows over LDAP as pwdReset (OpenLDAP's ppolicy name).
    let reader = t
        .create_user("reader", Some(PASSWORD), "reader@example.com")
        .await;
    t.make_readers(&[&reader]).await;
    let mut ldap = t.ldap_as("reader", PASSWORD).await;
    let entry = read_entry(
        &mut ldap,
        &user_dn("alice"),
        vec!["pwdReset", "pwdChangedTime"],
    )
    .await;
    assert_eq!(entry.attrs["pwdReset"], vec!["TRUE"]);
    assert_eq!(entry.attrs["pwdChangedTime"].len(), 1);
}

#[tokio::test]
async fn a_password_nearing_expiry_warns_and_an_expired_one_has_grace_logins() {
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let t = start_with_clock(clock.clone(), |c| {
        c.password.max_age = Duration::from_secs(30 * 86400);
        c.password.expiry_warning = Duration::from_secs(14 * 86400);
        c.password.grace_logins = 2;
    })
    .await;
    let alice = t
        .create_user("alice", Some(PASSWORD), "alice@example.com")
        .await;
    let (_, rc, _, control) = t.ppolicy_bind("alice", PASSWORD).await;
    assert_eq!((rc, control), (0, Some(vec![0x30, 0x00])), "no warning yet");

    // 20 days on, 10 days (864,000 s) are left: timeBeforeExpiration.
    clock.advance(20 * DAY_MS);
    let (_, rc, _, control) = t.ppolicy_bind("alice", PASSWORD).await;
    assert_eq!(rc, 0);
    let control = control.unwrap();
    assert_eq!(control[..5], [0x30, 0x07, 0xA0, 0x05, 0x80], "{control:?}");
    let seconds = control[6..]
        .iter()
        .fold(0i64, |n, b| n << 8 | i64::from(*b));
    assert_eq!(control[5], 3);
    assert!((863_990..=864_000).contains(&seconds), "{seconds}");

    // Expired: two grace logins, each told how many remain, then none.
    clock.advance(11 * DAY_MS);
    for left in [1u8, 0] {
        let (_, rc, _, control) = t.ppolicy_bind("alice", PASSWORD).await;
        assert_eq!(rc, 0, "grace login");
        assert_eq!(
            control,
            Some(vec![0x30, 0x05, 0xA0, 0x03, 0x81, 0x01, left])
        );
    }
    let (_, rc, _, control) = t.ppolicy_bind("alice", PASSWORD).await;
    assert_eq!(rc, 49);
    assert_eq!(
        control,
        Some(vec![0x30, 0x03, 0x81, 0x01, 0x00]),
        "passwordExpired"
    );
    // A new password (set by an administrator over SCIM) starts again.
    let (status, body) = patch(&t, &alice, "password", json!("Renewed-pass-1")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(bind_rc(&t, "alice", "Renewed-pass-1").await, 0);
    let events = t.server.directory.recent_audit(30).await.unwrap();
    assert_eq!(
        events
            .iter()
            .filter(|e| e.action == "user.login.grace")
            .count(),
        2
    );
}

#[tokio::test]
async fn totp_is_enrolled_by_the_user_and_then_needed_at_every_bind() {
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let t = start_with_clock(clock.clone(), |c| {
        c.store.refresh_interval = Duration::from_millis(100)
    })
    .await;
    let alice = t
        .create_user("alice", Some(PASSWORD), "alice@example.com")
        .await;
    let reader = t
        .create_user("reader", Some(PASSWORD), "reader@example.com")
        .await;
    t.make_readers(&[&reader]).await;

    // Required over SCIM: pending, and (pending_may_bind) the password
    // alone still binds.
    let (status, body) = patch(
        &t,
        &alice,
        &format!("{ACCOUNT_URN}:mfa.required"),
        json!(true),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mfa = &account(&t, &alice).await["mfa"];
    assert_eq!(mfa["required"], true);
    assert_eq!(mfa["state"], "requiredPending");
    assert_eq!(mfa["methods"], json!([]));
    let (status, body) = patch(
        &t,
        &alice,
        &format!("{ACCOUNT_URN}:mfa.state"),
        json!("requiredActive"),
    )
    .await;
    assert_eq!(
        (status, body["scimType"].as_str()),
        (StatusCode::BAD_REQUEST, Some("mutability"))
    );
    assert_eq!(bind_rc(&t, "alice", PASSWORD).await, 0);

    // Enrolment: wrong credentials are 401; then a secret, URI and QR code.
    let (status, _) = self_service(&t, "/mfa/totp", "alice", "wrong", json!({})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, started) = self_service(&t, "/mfa/totp", "alice", PASSWORD, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{started}");
    let secret = started["secret"].as_str().unwrap().to_string();
    assert!(started["otpauthUri"]
        .as_str()
        .unwrap()
        .starts_with("otpauth://totp/Roster:alice?"));
    assert!(started["qrCode"]
        .as_str()
        .unwrap()
        .starts_with("data:image/svg+xml;base64,"));
    let (status, _) = self_service(
        &t,
        "/mfa/totp/confirm",
        "alice",
        PASSWORD,
        json!({"code": "000000"}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "not the current code");
    let code = totp::code_at(&secret, clock.now()).unwrap();
    let (status, confirmed) = self_service(
        &t,
        "/mfa/totp/confirm",
        "alice",
        PASSWORD,
        json!({"code": code}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{confirmed}");
    assert_eq!(confirmed["mfa"]["state"], "requiredActive");
    let mfa = &account(&t, &alice).await["mfa"];
    assert_eq!(
        (mfa["state"].as_str(), &mfa["methods"]),
        (Some("requiredActive"), &json!(["totp"]))
    );

    // The password alone no longer binds; password+code does, once per
    // time step: the code used to confirm, and a replayed one, fail.
    assert_eq!(bind_rc(&t, "alice", PASSWORD).await, 49);
    assert_eq!(
        bind_rc(&t, "alice", &format!("{PASSWORD}{code}")).await,
        49,
        "used to confirm"
    );
    clock.advance(30_000);
    let code = totp::code_at(&secret, clock.now()).unwrap();
    assert_eq!(bind_rc(&t, "alice", &format!("{PASSWORD}{code}")).await, 0);
    assert_eq!(
        bind_rc(&t, "alice", &format!("{PASSWORD}{code}")).await,
        49,
        "replay"
    );
    clock.advance(30_000);
    let code = totp::code_at(&secret, clock.now()).unwrap();
    let mut ldap = t.ldap().await;
    let res = ldap
        .simple_bind(&user_dn("alice"), &format!("{PASSWORD}{code}"))
        .await
        .unwrap();
    assert_eq!(res.rc, 0);

    // Over LDAP the state is shown as operational attributes.
    let mut ldap = t.ldap_as("reader", PASSWORD).await;
    let entry = read_entry(
        &mut ldap,
        &user_dn("alice"),
        vec!["rosterMfaState", "rosterMfaMethods", "rosterAccountStatus"],
    )
    .await;
    assert_eq!(entry.attrs["rosterMfaState"], vec!["requiredActive"]);
    assert_eq!(entry.attrs["rosterMfaMethods"], vec!["totp"]);
    assert_eq!(entry.attrs["rosterAccountStatus"], vec!["active"]);

    // An administrator's reset (`roster user mfa reset`): pending again,
    // the password alone binds; `disable` lifts the requirement.
    let (ok, out) = cli(&t, &["user", "mfa", "reset", "alice"]);
    assert!(ok && out.contains("requiredPending"), "{out}");
    until("the reset is served", async || {
        account(&t, &alice).await["mfa"]["state"] == "requiredPending"
    })
    .await;
    assert_eq!(bind_rc(&t, "alice", PASSWORD).await, 0);
    let (ok, out) = cli(&t, &["user", "mfa", "disable", "alice"]);
    assert!(ok && out.contains("notRequired"), "{out}");
    let (ok, out) = cli(&t, &["user", "mfa", "require", "alice"]);
    assert!(ok && out.contains("requiredPending"), "{out}");
    let events = t.server.directory.recent_audit(50).await.unwrap();
    for action in ["user.mfa.start", "user.mfa.enrol", "user.mfa.reset"] {
        assert!(events.iter().any(|e| e.action == action), "{action}");
    }
    assert!(
        events
            .iter()
            .any(|e| e.action == "user.login.failure" && e.attributes == ["otp"]),
        "the replay is a failed login"
    );
}

#[tokio::test]
async fn without_pending_may_bind_an_unenrolled_user_can_only_enrol() {
    let t = start_with(|c| c.mfa.pending_may_bind = false).await;
    let alice = t
        .create_user("alice", Some(PASSWORD), "alice@example.com")
        .await;
    let (status, _) = patch(
        &t,
        &alice,
        &format!("{ACCOUNT_URN}:mfa"),
        json!({"required": true}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(bind_rc(&t, "alice", PASSWORD).await, 49);
    let (status, started) = self_service(&t, "/mfa/totp", "alice", PASSWORD, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{started}");
    assert_eq!(
        account(&t, &alice).await["failedLogins"],
        0,
        "not counted as failures"
    );
}

#[tokio::test]
async fn an_ip_allow_list_refuses_other_addresses_without_counting_failures() {
    let t = start_with(|c| c.policy.max_failed_logins = 3).await;
    let alice = t
        .create_user("alice", Some(PASSWORD), "alice@example.com")
        .await;
    let path = format!("{ACCOUNT_URN}:ipAllowList");
    let (status, err) = patch(&t, &alice, &path, json!(["10.0.0.0/8", "not-an-address"])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
    assert!(
        err["detail"].as_str().unwrap().contains("not-an-address"),
        "{err}"
    );
    let (status, body) = patch(&t, &alice, &path, json!(["10.0.0.0/8", "2001:db8::/32"])).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body[ACCOUNT_URN]["ipAllowList"],
        json!(["10.0.0.0/8", "2001:db8::/32"])
    );

    // A set: adding a value it has changes nothing.
    let (status, body) = t
        .scim(
            Method::PATCH,
            &format!("/Users/{alice}"),
            Some(json!({"schemas": [PATCH_URN], "Operations": [{"op": "add", "path": path, "value": ["10.0.0.0/8"]}]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body[ACCOUNT_URN]["ipAllowList"],
        json!(["10.0.0.0/8", "2001:db8::/32"])
    );

    // From 127.0.0.1: refused with the right password, and more attempts
    // than the lockout limit lock nothing.
    for password in [PASSWORD, "wrong", "wrong", "wrong", "wrong"] {
        assert_eq!(bind_rc(&t, "alice", password).await, 49);
    }
    let (status, _) = self_service(&t, "/mfa/totp", "alice", PASSWORD, json!({})).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "self-service is held to it too"
    );
    let state = account(&t, &alice).await;
    assert_eq!(
        (state["status"].as_str(), &state["failedLogins"]),
        (Some("active"), &json!(0))
    );
    let events = t.server.directory.recent_audit(20).await.unwrap();
    assert!(events
        .iter()
        .any(|e| e.action == "user.login.refused" && e.attributes == ["ipAllowList"]));

    // Allowing this address lets the password in.
    let (status, _) = patch(&t, &alice, &path, json!(["127.0.0.1"])).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(bind_rc(&t, "alice", PASSWORD).await, 0);
}

/// Posts the set-password form.
async fn post_form(
    t: &TestServer,
    token: &str,
    password: &str,
    confirm: &str,
) -> (StatusCode, String) {
    let resp = t
        .http
        .post(format!(
            "http://{}/self-service/set-password",
            t.server.http_addr
        ))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!(
            "token={token}&password={password}&confirm={confirm}"
        ))
        .send()
        .await
        .unwrap();
    (resp.status(), resp.text().await.unwrap())
}

#[tokio::test]
async fn an_invited_user_sets_a_password_once_through_the_link() {
    let t = start_with(|_| {}).await;
    let id = t.create_user("newbie", None, "newbie@example.com").await;
    assert_eq!(bind_rc(&t, "newbie", PASSWORD).await, 49, "no password yet");

    let (ok, out) = cli(&t, &["user", "invite", "newbie"]);
    assert!(ok, "{out}");
    let link = out.trim();
    let (_, token) = link.split_once("/self-service/set-password#").expect(link);
    let page = t
        .http
        .get(format!(
            "http://{}/self-service/set-password",
            t.server.http_addr
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    assert!(page.text().await.unwrap().contains("<form method=\"post\""));

    let (status, body) = post_form(&t, token, "short", "short").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("at least 12 characters"), "{body}");
    let (status, _) = post_form(&t, token, "Chosen-pass-01", "Chosen-pass-02").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "the two differ");
    let (status, body) = post_form(&t, token, "Chosen-pass-01", "Chosen-pass-01").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("newbie"), "{body}");
    assert_eq!(bind_rc(&t, "newbie", "Chosen-pass-01").await, 0);
    assert_ne!(account(&t, &id).await["mustChangePassword"], true);

    // Used once: the link is spent, and a forged one is no better.
    let (status, body) = post_form(&t, token, "Another-pass-02", "Another-pass-02").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, _) = post_form(&t, "forged", "Another-pass-02", "Another-pass-02").await;
    assert_eq!(status, StatusCode::CONFLICT);
    let events = t.server.directory.recent_audit(20).await.unwrap();
    for action in ["user.invite", "user.password.change"] {
        assert!(events.iter().any(|e| e.action == action), "{action}");
    }
}

#[tokio::test]
async fn a_pre_hashed_password_over_scim_is_an_imported_hash() {
    use base64::Engine as _;
    use sha1::Digest as _;
    let t = start_with(|_| {}).await;
    // {SSHA} of "old-secret" (which the quality policy would refuse: the
    // password is already in use in the directory it comes from).
    let salt = b"s4lt";
    let mut bytes = sha1::Sha1::new()
        .chain_update(b"old-secret")
        .chain_update(salt)
        .finalize()
        .to_vec();
    bytes.extend_from_slice(salt);
    let hash = format!(
        "{{SSHA}}{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    );
    let (status, body) = t
        .scim(
            Method::POST,
            "/Users",
            Some(json!({"userName": "migrated", "password": hash})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(body.get("password").is_none(), "never returned");
    assert_eq!(bind_rc(&t, "migrated", "old-secret").await, 0);
    assert_eq!(
        bind_rc(&t, "migrated", &hash).await,
        49,
        "the hash is no password"
    );
    let events = t.server.directory.recent_audit(10).await.unwrap();
    assert!(events.iter().any(|e| e.action == "user.password.rehash"));
    // A malformed hash is refused, not taken as a password.
    let (status, err) = t
        .scim(
            Method::POST,
            "/Users",
            Some(json!({"userName": "broken", "password": "{SSHA}not-base64!"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
}
