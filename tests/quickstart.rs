//! The README's quickstart flows, end to end: SCIM writes, LDAP reads and
//! binds, deactivation over SCIM seen by LDAP, and the command line.

mod common;

use common::*;
use ldap3::exop::{WhoAmI, WhoAmIResp};
use ldap3::{Scope, SearchEntry};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn create_user_returns_resource_without_password() {
    let t = start().await;
    let body = json!({
        "schemas": [USER_URN],
        "userName": "alice",
        "password": "S3cure-pass!",
        "name": {"givenName": "Alice", "familyName": "Liddell"},
        "emails": [{"value": "alice@example.com", "primary": true}]
    });
    let resp = t
        .http
        .post(format!("{}/Users", t.scim))
        .bearer_auth(&t.token)
        .header("Content-Type", "application/scim+json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert_eq!(resp.headers()["content-type"], "application/scim+json");
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    let etag = resp.headers()["etag"].to_str().unwrap().to_string();
    let text = resp.text().await.unwrap();
    // Neither the secret nor a password attribute (the account extension's
    // passwordChangedAt says only when it was set).
    assert!(
        !text.contains("S3cure-pass!") && !text.to_lowercase().contains("\"password\""),
        "{text}"
    );
    let user: serde_json::Value = serde_json::from_str(&text).unwrap();
    let id = user["id"].as_str().unwrap();
    assert_eq!(location, format!("{}/Users/{id}", t.scim));
    assert_eq!(user["meta"]["location"], location);
    assert_eq!(user["meta"]["version"], etag);
    assert_eq!(user["userName"], "alice");
    assert_eq!(user["active"], true);
    assert_eq!(user["name"]["familyName"], "Liddell");
    assert_eq!(user["emails"][0]["value"], "alice@example.com");
    assert_eq!(user["schemas"][0], USER_URN);

    // The same resource comes back from GET, and the stored hash is argon2id.
    let (status, fetched) = t.scim(Method::GET, &format!("/Users/{id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetched, user);
    let uuid = uuid::Uuid::parse_str(id).unwrap();
    let page = t
        .server
        .directory
        .find_users(&roster::directory::Query::new(
            roster::directory::Filter::True,
            0,
            10,
        ))
        .await
        .unwrap();
    assert_eq!(page.total, 1);
    assert_eq!(page.items[0].id, uuid);
}

#[tokio::test(flavor = "multi_thread")]
async fn whoami_and_wrong_password() {
    let t = start().await;
    t.create_user("alice", Some("S3cure-pass!"), "alice@example.com")
        .await;
    let mut ldap = t.ldap_as("alice", "S3cure-pass!").await;
    let (exop, res) = ldap.extended(WhoAmI).await.unwrap().success().unwrap();
    assert_eq!(res.rc, 0);
    let who: WhoAmIResp = exop.parse();
    assert_eq!(who.authzid, format!("dn:{}", user_dn("alice")));

    for (dn, password) in [
        (user_dn("alice"), "wrong password"),
        (user_dn("ALICE"), "wrong password"),
        (user_dn("nobody"), "S3cure-pass!"),
        (format!("cn=admin,{BASE_DN}"), "S3cure-pass!"),
    ] {
        let mut ldap = t.ldap().await;
        let res = ldap.simple_bind(&dn, password).await.unwrap();
        assert_eq!(res.rc, 49, "{dn}");
        // A failed bind leaves the connection anonymous.
        let (exop, _) = ldap.extended(WhoAmI).await.unwrap().success().unwrap();
        assert_eq!(exop.parse::<WhoAmIResp>().authzid, "");
    }
    // The DN is case-insensitive, the password is not.
    let mut ldap = t.ldap().await;
    assert_eq!(
        ldap.simple_bind(&user_dn("ALICE"), "S3cure-pass!")
            .await
            .unwrap()
            .rc,
        0
    );
    assert_eq!(
        ldap.simple_bind(&user_dn("alice"), "s3cure-pass!")
            .await
            .unwrap()
            .rc,
        49
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn search_by_mail_lists_scim_groups_in_member_of() {
    // alice reads every entry as a member of ops, the reader group here.
    let t = start_with(|c| c.ldap.reader_group = "ops".into()).await;
    let alice = t
        .create_user("alice", Some("S3cure-pass!"), "alice@example.com")
        .await;
    let bob = t
        .create_user("bob", Some("An0ther-pass!"), "bob@example.com")
        .await;
    t.create_group("devs", &[&alice, &bob]).await;
    t.create_group("ops", &[&alice]).await;
    t.create_group("sales", &[&bob]).await;

    let mut ldap = t.ldap_as("alice", "S3cure-pass!").await;
    let (entries, res) = ldap
        .search(
            BASE_DN,
            Scope::Subtree,
            "(mail=alice@example.com)",
            vec!["cn", "mail", "memberOf"],
        )
        .await
        .unwrap()
        .success()
        .unwrap();
    assert_eq!(res.rc, 0);
    assert_eq!(entries.len(), 1);
    let e = SearchEntry::construct(entries.into_iter().next().unwrap());
    assert_eq!(e.dn, user_dn("alice"));
    assert_eq!(e.attrs["mail"], vec!["alice@example.com"]);
    assert_eq!(e.attrs["cn"], vec!["alice"]);
    let mut groups = e.attrs["memberOf"].clone();
    groups.sort();
    assert_eq!(groups, vec![group_dn("devs"), group_dn("ops")]);
    assert!(
        !e.attrs.contains_key("uid"),
        "only the requested attributes"
    );

    // The group side: member DNs, and filters on memberOf and member.
    let (entries, _) = ldap
        .search(
            BASE_DN,
            Scope::Subtree,
            &format!("(memberOf={})", group_dn("sales")),
            vec!["uid"],
        )
        .await
        .unwrap()
        .success()
        .unwrap();
    let names: Vec<String> = entries
        .into_iter()
        .map(|e| SearchEntry::construct(e).attrs["uid"][0].clone())
        .collect();
    assert_eq!(names, vec!["bob"]);
    let (entries, _) = ldap
        .search(
            &format!("ou=groups,{BASE_DN}"),
            Scope::OneLevel,
            &format!("(&(objectClass=groupOfNames)(member={}))", user_dn("bob")),
            vec!["cn", "member"],
        )
        .await
        .unwrap()
        .success()
        .unwrap();
    let mut found: Vec<(String, usize)> = entries
        .into_iter()
        .map(SearchEntry::construct)
        .map(|e| (e.attrs["cn"][0].clone(), e.attrs["member"].len()))
        .collect();
    found.sort();
    assert_eq!(
        found,
        vec![("devs".to_string(), 2), ("sales".to_string(), 1)]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn deactivation_over_scim_blocks_ldap_bind() {
    let t = start().await;
    let id = t
        .create_user("alice", Some("S3cure-pass!"), "alice@example.com")
        .await;
    let patch = |active: serde_json::Value| json!({"schemas": [PATCH_URN], "Operations": [{"op": "replace", "path": "active", "value": active}]});
    let (status, user) = t
        .scim(
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(patch(json!(false))),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(user["active"], false);
    let mut ldap = t.ldap().await;
    assert_eq!(
        ldap.simple_bind(&user_dn("alice"), "S3cure-pass!")
            .await
            .unwrap()
            .rc,
        49
    );
    // Still retrievable, and filterable, while inactive.
    let (status, list) = t
        .scim(Method::GET, "/Users?filter=active%20eq%20false", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["totalResults"], 1);

    let (status, user) = t
        .scim(
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(patch(json!(true))),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(user["active"], true);
    assert_eq!(
        ldap.simple_bind(&user_dn("alice"), "S3cure-pass!")
            .await
            .unwrap()
            .rc,
        0
    );

    // The audit trail has every change, with the token's name and no
    // secret, and every login: refused while disabled, then a success
    // after the re-validation.
    let events = t.server.directory.recent_audit(10).await.unwrap();
    let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        vec![
            "user.login",
            "user.revalidate",
            "user.login.refused",
            "user.update",
            "user.create",
            "token.create"
        ]
    );
    for e in &events[..5] {
        match e.protocol.as_str() {
            "scim" => assert_eq!(e.actor, "token:bootstrap-admin"),
            "ldap" => assert_eq!(e.actor, user_dn("alice")),
            other => panic!("{other}"),
        }
    }
    assert_eq!(events[1].attributes, vec!["active"]);
    assert_eq!(events[3].attributes, vec!["active"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn cli_creates_tokens_and_lists_users_from_the_same_store() {
    let t = start().await;
    t.create_user("alice", None, "alice@example.com").await;
    let roster = env!("CARGO_BIN_EXE_roster");
    let store_args = [
        "--data-dir",
        t.config.data_dir.to_str().unwrap(),
        "--database-url",
        &t.config.database_url,
    ];
    let out = std::process::Command::new(roster)
        .args(["token", "create", "--name", "okta"])
        .args(store_args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let token = stdout.trim_end();
    assert_eq!(
        stdout.lines().count(),
        1,
        "only the token on stdout: {stdout:?}"
    );
    assert!(token.starts_with("roster_"));
    // The new token works against the running server.
    let resp = t
        .http
        .get(format!("{}/Users", t.scim))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);

    let out = std::process::Command::new(roster)
        .args(["user", "list"])
        .args(store_args)
        .output()
        .unwrap();
    assert!(out.status.success());
    let listing = String::from_utf8(out.stdout).unwrap();
    assert!(
        listing
            .lines()
            .any(|l| l.starts_with("alice ") && l.contains("alice@example.com")),
        "{listing}"
    );

    let out = std::process::Command::new(roster)
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--config",
        "--data-dir",
        "--database-url",
        "--http-listen",
        "--ldap-listen",
        "--base-dn",
    ] {
        assert!(help.contains(flag), "serve --help names {flag}");
    }
}
