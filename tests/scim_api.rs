//! SCIM behaviour beyond the quickstart: errors with the right status and
//! scimType, filters, paging, PUT/PATCH/DELETE, groups, discovery.

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

fn scim_type(body: &Value) -> &str {
    body["scimType"].as_str().unwrap_or("")
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_get_scim_errors_and_write_nothing() {
    let t = start().await;
    t.create_user("alice", Some("S3cure-pass!"), "alice@example.com")
        .await;
    let audit_before = t.server.directory.recent_audit(100).await.unwrap().len();

    let resp = t
        .http
        .post(format!("{}/Users", t.scim))
        .bearer_auth(&t.token)
        .header("Content-Type", "application/json")
        .body("{\"userName\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(resp.headers()["content-type"], "application/scim+json");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );
    assert_eq!(body["status"], "400");
    assert_eq!(scim_type(&body), "invalidSyntax");

    let cases = [
        (json!([1, 2]), StatusCode::BAD_REQUEST, "invalidSyntax"),
        (
            json!({"userName": "bob", "shoeSize": 44}),
            StatusCode::BAD_REQUEST,
            "invalidValue",
        ),
        (
            json!({"displayName": "no user name"}),
            StatusCode::BAD_REQUEST,
            "invalidValue",
        ),
        (
            json!({"userName": "bob", "active": "maybe"}),
            StatusCode::BAD_REQUEST,
            "invalidValue",
        ),
        (
            json!({"userName": "bob", "emails": [{"value": "not-an-address"}]}),
            StatusCode::BAD_REQUEST,
            "invalidValue",
        ),
        (
            json!({"userName": "bob", "emails": [{"value": "a@x.y", "primary": true}, {"value": "b@x.y", "primary": true}]}),
            StatusCode::BAD_REQUEST,
            "invalidValue",
        ),
        (
            json!({"userName": "bob", "urn:example:unknown": {"x": 1}}),
            StatusCode::BAD_REQUEST,
            "invalidValue",
        ),
        (
            json!({"userName": "  "}),
            StatusCode::BAD_REQUEST,
            "invalidValue",
        ),
        (
            json!({"userName": "ALICE"}),
            StatusCode::CONFLICT,
            "uniqueness",
        ),
    ];
    for (body, status, kind) in cases {
        let (got, err) = t.scim(Method::POST, "/Users", Some(body.clone())).await;
        assert_eq!(got, status, "{body} -> {err}");
        assert_eq!(scim_type(&err), kind, "{body} -> {err}");
        assert_eq!(err["status"], status.as_u16().to_string());
    }
    let (_, err) = t
        .scim(
            Method::POST,
            "/Users",
            Some(json!({"userName": "bob", "shoeSize": 44})),
        )
        .await;
    assert!(
        err["detail"].as_str().unwrap().contains("shoeSize"),
        "{err}"
    );

    // Unknown member ids: refused, and no group is left behind.
    let (status, err) = t
        .scim(Method::POST, "/Groups", Some(json!({"displayName": "devs", "members": [{"value": uuid::Uuid::new_v4().to_string()}]})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
    let (_, list) = t.scim(Method::GET, "/Groups", None).await;
    assert_eq!(list["totalResults"], 0);
    let (_, list) = t.scim(Method::GET, "/Users", None).await;
    assert_eq!(list["totalResults"], 1);
    assert_eq!(
        t.server.directory.recent_audit(100).await.unwrap().len(),
        audit_before,
        "failed writes leave no audit event"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn authentication_is_required_except_for_discovery() {
    let t = start().await;
    let wrong_secret = format!("{}x", t.token);
    for token in [
        None,
        Some("nonsense"),
        Some("roster_000000000000_abc"),
        Some(wrong_secret.as_str()),
    ] {
        let mut req = t.http.get(format!("{}/Users", t.scim));
        if let Some(tok) = token {
            req = req.bearer_auth(tok);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{token:?}");
        assert!(resp.headers().contains_key("www-authenticate"));
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["status"], "401");
    }
    for path in [
        "/ServiceProviderConfig",
        "/ResourceTypes",
        "/Schemas",
        "/ResourceTypes/User",
        &format!("/Schemas/{USER_URN}"),
    ] {
        let resp = t
            .http
            .get(format!("{}{path}", t.scim))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
    }
    let spc: Value = t
        .http
        .get(format!("{}/ServiceProviderConfig", t.scim))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(spc["patch"]["supported"], true);
    assert_eq!(spc["filter"]["maxResults"], t.config.http.max_results);
    let schemas: Value = t
        .http
        .get(format!("{}/Schemas", t.scim))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        schemas["totalResults"], 10,
        "User, EnterpriseUser, PosixAccount, Account, Group, PosixGroup, RosterGroup and the three discovery schemas"
    );
    let user_schema = &schemas["Resources"][0];
    let password = user_schema["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "password")
        .unwrap();
    assert_eq!(password["returned"], "never");

    let resp = t
        .http
        .delete(format!("{}/Schemas", t.scim))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    let resp = t
        .http
        .get(format!("{}/Nope", t.scim))
        .bearer_auth(&t.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let health = t
        .http
        .get(format!("http://{}/healthz", t.server.http_addr))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn not_found_and_oversize_and_precondition() {
    let t = start_with(|c| c.http.max_body_bytes = 4096).await;
    for path in [
        "/Users/not-a-uuid",
        &format!("/Users/{}", uuid::Uuid::new_v4()),
        &format!("/Groups/{}", uuid::Uuid::new_v4()),
    ] {
        let (status, err) = t.scim(Method::GET, path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(err["status"], "404");
    }
    let big = json!({"userName": "big", "displayName": "x".repeat(10_000)});
    let (status, err) = t.scim(Method::POST, "/Users", Some(big)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{err}");
    assert_eq!(err["status"], "413");

    let id = t.create_user("alice", None, "alice@example.com").await;
    let resp = t
        .http
        .put(format!("{}/Users/{id}", t.scim))
        .bearer_auth(&t.token)
        .header("If-Match", "W/\"7\"")
        .body(json!({"userName": "alice"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PRECONDITION_FAILED);

    // If-None-Match: 304 while the version is current, the resource after a change.
    let get = |tag: &str| {
        t.http
            .get(format!("{}/Users/{id}", t.scim))
            .bearer_auth(&t.token)
            .header("If-None-Match", tag)
            .send()
    };
    let resp = get("W/\"1\"").await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(resp.headers()["etag"], "W/\"1\"");
    let resp = get("W/\"0\"").await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);

    // /Me: tokens stand for no user.
    let (status, err) = t.scim(Method::GET, "/Me", None).await;
    assert_eq!(status, StatusCode::NOT_IMPLEMENTED);
    assert_eq!(err["status"], "501");
}

#[tokio::test(flavor = "multi_thread")]
async fn filters_and_paging() {
    let t = start().await;
    for i in 0..12 {
        let id = t
            .create_user(&format!("user{i:02}"), None, &format!("u{i}@example.com"))
            .await;
        if i == 3 {
            let patch = json!({"Operations": [{"op": "add", "value": {"externalId": "EXT-3", "displayName": "Three Musketeers"}}]});
            let (status, _) = t
                .scim(Method::PATCH, &format!("/Users/{id}"), Some(patch))
                .await;
            assert_eq!(status, StatusCode::OK);
        }
    }
    let count = |filter: &str| {
        let t = &t;
        let filter = filter.to_string();
        async move {
            let url = format!("/Users?filter={}", urlencode(&filter));
            let (status, body) = t.scim(Method::GET, &url, None).await;
            assert_eq!(status, StatusCode::OK, "{filter}: {body}");
            body["totalResults"].as_u64().unwrap()
        }
    };
    assert_eq!(count(r#"userName eq "USER03""#).await, 1);
    assert_eq!(count(r#"externalId eq "EXT-3""#).await, 1);
    assert_eq!(
        count(r#"externalId eq "ext-3""#).await,
        0,
        "externalId is caseExact"
    );
    assert_eq!(count(r#"emails.value eq "U3@EXAMPLE.COM""#).await, 1);
    assert_eq!(count(r#"emails eq "u3@example.com""#).await, 1);
    assert_eq!(count(r#"displayName eq "three musketeers""#).await, 1);
    assert_eq!(
        count(r#"userName sw "user0" and emails.value ew "@example.com""#).await,
        10
    );
    assert_eq!(
        count(r#"userName eq "user01" or userName eq "user02""#).await,
        2
    );
    assert_eq!(count(r#"not (userName sw "user0")"#).await, 2);
    assert_eq!(count(r#"displayName pr"#).await, 1);
    assert_eq!(
        count(r#"userName co "%""#).await,
        0,
        "LIKE wildcards are literal"
    );
    assert_eq!(
        count(&format!(r#"{USER_URN}:userName eq "user05""#)).await,
        1
    );
    assert_eq!(count(r#"meta.created gt "2000-01-01T00:00:00Z""#).await, 12);
    // Entra ID's test-connection filter on a random value.
    assert_eq!(
        count(&format!(r#"userName eq "{}""#, uuid::Uuid::new_v4())).await,
        0
    );

    let (status, err) = t
        .scim(
            Method::GET,
            &format!("/Users?filter={}", urlencode("userName zz 1")),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(scim_type(&err), "invalidFilter");
    let deep = format!("{}userName eq \"x\"{}", "(".repeat(5000), ")".repeat(5000));
    let (status, err) = t
        .scim(
            Method::GET,
            &format!("/Users?filter={}", urlencode(&deep)),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(scim_type(&err), "invalidFilter");

    // Pages are 1-based, stable and complete.
    let mut seen = Vec::new();
    for start in [1, 6, 11] {
        let (_, page) = t
            .scim(
                Method::GET,
                &format!("/Users?startIndex={start}&count=5"),
                None,
            )
            .await;
        assert_eq!(page["totalResults"], 12);
        assert_eq!(page["startIndex"], start);
        for r in page["Resources"].as_array().unwrap() {
            seen.push(r["userName"].as_str().unwrap().to_string());
        }
    }
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(seen.len(), 12);
    assert_eq!(sorted.len(), 12);
    // A page asked for directly (no previous page) agrees with the pages
    // served in sequence, and a filtered sequence continues correctly.
    let (_, jump) = t
        .scim(Method::GET, "/Users?startIndex=8&count=3", None)
        .await;
    let jumped: Vec<&str> = jump["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["userName"].as_str().unwrap())
        .collect();
    assert_eq!(
        jumped,
        seen[7..10].iter().map(String::as_str).collect::<Vec<_>>()
    );
    let mut filtered = Vec::new();
    for start in [1, 3, 5] {
        let (_, page) = t
            .scim(
                Method::GET,
                &format!(
                    "/Users?filter={}&startIndex={start}&count=2",
                    urlencode(r#"userName sw "user0""#)
                ),
                None,
            )
            .await;
        filtered.extend(
            page["Resources"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["userName"].as_str().unwrap().to_string()),
        );
    }
    assert_eq!(filtered, seen[..6].to_vec());
    let (_, page) = t.scim(Method::GET, "/Users?count=0", None).await;
    assert_eq!(page["totalResults"], 12);
    assert_eq!(page["Resources"].as_array().unwrap().len(), 0);
    let (_, page) = t
        .scim(Method::GET, "/Users?count=2&attributes=userName", None)
        .await;
    let first = page["Resources"][0].as_object().unwrap();
    let mut keys: Vec<&String> = first.keys().collect();
    keys.sort();
    assert_eq!(keys, vec!["id", "schemas", "userName"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn put_replaces_and_delete_removes() {
    let t = start().await;
    let id = t
        .create_user("alice", Some("S3cure-pass!"), "alice@example.com")
        .await;
    let group = t.create_group("devs", &[&id]).await;
    let (status, user) = t
        .scim(
            Method::PUT,
            &format!("/Users/{id}"),
            Some(json!({"schemas": [USER_URN], "userName": "alice", "title": "Engineer"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{user}");
    assert_eq!(user["title"], "Engineer");
    assert!(user.get("emails").is_none(), "PUT clears absent attributes");
    assert!(user.get("name").is_none());
    assert_eq!(user["meta"]["version"], "W/\"2\"");
    // The password was not part of the PUT, so it still works.
    let mut ldap = t.ldap().await;
    assert_eq!(
        ldap.simple_bind(&user_dn("alice"), "S3cure-pass!")
            .await
            .unwrap()
            .rc,
        0
    );

    let (status, _) = t.scim(Method::DELETE, &format!("/Users/{id}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = t.scim(Method::GET, &format!("/Users/{id}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = t.scim(Method::DELETE, &format!("/Users/{id}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, g) = t.scim(Method::GET, &format!("/Groups/{group}"), None).await;
    assert_eq!(g["members"].as_array().unwrap().len(), 0);
    assert_eq!(
        ldap.simple_bind(&user_dn("alice"), "S3cure-pass!")
            .await
            .unwrap()
            .rc,
        49
    );
    // The name is free again.
    t.create_user("alice", None, "alice@example.com").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn group_membership_patches_touch_only_named_members() {
    let t = start().await;
    let a = t.create_user("alice", None, "alice@example.com").await;
    let b = t.create_user("bob", None, "bob@example.com").await;
    let c = t.create_user("carol", None, "carol@example.com").await;
    let g = t.create_group("devs", &[&a]).await;
    let path = format!("/Groups/{g}");
    let members = |v: &Value| {
        let mut ids: Vec<String> = v["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["value"].as_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids
    };
    let sorted = |mut v: Vec<&String>| {
        v.sort();
        v.into_iter().cloned().collect::<Vec<_>>()
    };
    // Okta-style add, members without type; adding an existing member is harmless.
    let (status, group) = t
        .scim(Method::PATCH, &path, Some(json!({"schemas": [PATCH_URN], "Operations": [{"op": "add", "path": "members", "value": [{"value": b}, {"value": a}]}]})))
        .await;
    assert_eq!(status, StatusCode::OK, "{group}");
    assert_eq!(members(&group), sorted(vec![&a, &b]));
    // Entra ID removes with a value list and with a filter path.
    let (_, group) = t
        .scim(Method::PATCH, &path, Some(json!({"Operations": [{"op": "Remove", "path": "members", "value": [{"value": a}]}]})))
        .await;
    assert_eq!(members(&group), vec![b.clone()]);
    let (_, group) = t
        .scim(
            Method::PATCH,
            &path,
            Some(json!({"Operations": [
                {"op": "Add", "path": "members", "value": [{"value": c, "$ref": null}]},
                {"op": "Remove", "path": format!("members[value eq \"{b}\"]")}
            ]})),
        )
        .await;
    assert_eq!(members(&group), vec![c.clone()]);
    // Rename with the id along (Okta), then empty the group.
    let (status, group) = t
        .scim(Method::PATCH, &path, Some(json!({"Operations": [{"op": "replace", "value": {"id": g, "displayName": "developers"}}]})))
        .await;
    assert_eq!(status, StatusCode::OK, "{group}");
    assert_eq!(group["displayName"], "developers");
    assert_eq!(members(&group), vec![c.clone()]);
    let (_, group) = t
        .scim(
            Method::PATCH,
            &path,
            Some(json!({"Operations": [{"op": "replace", "path": "members", "value": []}]})),
        )
        .await;
    assert!(members(&group).is_empty());
    // Unknown attributes and members are errors, and change nothing.
    let (status, err) = t
        .scim(Method::PATCH, &path, Some(json!({"Operations": [{"op": "add", "path": "members", "value": [{"value": uuid::Uuid::new_v4().to_string()}]}]})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
    let (status, err) = t
        .scim(
            Method::PATCH,
            &path,
            Some(json!({"Operations": [{"op": "add", "path": "color", "value": "red"}]})),
        )
        .await;
    assert_eq!(
        (status, scim_type(&err)),
        (StatusCode::BAD_REQUEST, "invalidPath")
    );
    // Groups fetched without members, as Entra ID asks.
    let (_, list) = t
        .scim(Method::GET, "/Groups?excludedAttributes=members", None)
        .await;
    assert!(list["Resources"][0].get("members").is_none());
    assert_eq!(list["Resources"][0]["displayName"], "developers");
    let (status, _) = t
        .scim(
            Method::POST,
            "/Groups",
            Some(json!({"displayName": "DEVELOPERS"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
}

#[tokio::test(flavor = "multi_thread")]
async fn token_scopes_limit_what_a_token_may_do() {
    use roster::directory::{Actor, TokenScope};
    let t = start().await;
    let alice = t.create_user("alice", None, "alice@example.com").await;
    let group = t.create_group("devs", &[]).await;
    let dir = &t.server.directory;
    let reader = dir
        .create_token(&Actor::cli(), "auditor", TokenScope::ReadOnly)
        .await
        .unwrap();
    let users_only = dir
        .create_token(&Actor::cli(), "hr-sync", TokenScope::Users)
        .await
        .unwrap();
    let send = |token: &str, method: Method, path: String, body: Option<Value>| {
        let mut req = t
            .http
            .request(method, format!("{}{path}", t.scim))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.body(b.to_string());
        }
        async move { req.send().await.unwrap().status() }
    };
    let patch = json!({"Operations": [{"op": "replace", "path": "title", "value": "x"}]});
    let cases = [
        (
            &reader,
            Method::GET,
            "/Users".to_string(),
            None,
            StatusCode::OK,
        ),
        (
            &reader,
            Method::GET,
            format!("/Groups/{group}"),
            None,
            StatusCode::OK,
        ),
        (
            &reader,
            Method::POST,
            "/Users/.search".to_string(),
            Some(json!({})),
            StatusCode::OK,
        ),
        (
            &reader,
            Method::POST,
            "/Users".to_string(),
            Some(json!({"userName": "r"})),
            StatusCode::FORBIDDEN,
        ),
        (
            &reader,
            Method::PATCH,
            format!("/Users/{alice}"),
            Some(patch.clone()),
            StatusCode::FORBIDDEN,
        ),
        (
            &reader,
            Method::DELETE,
            format!("/Groups/{group}"),
            None,
            StatusCode::FORBIDDEN,
        ),
        (
            &users_only,
            Method::PATCH,
            format!("/Users/{alice}"),
            Some(patch.clone()),
            StatusCode::OK,
        ),
        (
            &users_only,
            Method::POST,
            "/Users".to_string(),
            Some(json!({"userName": "u"})),
            StatusCode::CREATED,
        ),
        (
            &users_only,
            Method::GET,
            "/Groups".to_string(),
            None,
            StatusCode::FORBIDDEN,
        ),
        (
            &users_only,
            Method::POST,
            "/Bulk".to_string(),
            Some(json!({"Operations": []})),
            StatusCode::FORBIDDEN,
        ),
    ];
    for (token, method, path, body, expected) in cases {
        let label = format!("{method} {path}");
        assert_eq!(send(token, method, path, body).await, expected, "{label}");
    }
    // The scope is in the audit trail, never the token.
    let events = dir.recent_audit(20).await.unwrap();
    let created = events.iter().find(|e| e.target_name == "auditor").unwrap();
    assert_eq!(created.attributes, vec!["scope=read-only"]);
    assert!(!format!("{events:?}").contains(&reader));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writes_commit_together_but_fail_alone() {
    let t = start().await;
    let before = t.server.directory.recent_audit(1000).await.unwrap().len();
    // 60 creates at once, 20 names each sent three times: exactly one of
    // each name wins, the others get 409, and nothing else is lost.
    let mut tasks = Vec::new();
    for i in 0..60 {
        let (http, url, token) = (t.http.clone(), format!("{}/Users", t.scim), t.token.clone());
        tasks.push(tokio::spawn(async move {
            let body = json!({"userName": format!("racer{}", i % 20), "emails": [{"value": format!("r{i}@example.com")}]});
            http.post(url).bearer_auth(token).body(body.to_string()).send().await.unwrap().status()
        }));
    }
    let mut created = 0;
    let mut conflicts = 0;
    for task in tasks {
        match task.await.unwrap() {
            StatusCode::CREATED => created += 1,
            StatusCode::CONFLICT => conflicts += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!((created, conflicts), (20, 40));
    let (_, list) = t.scim(Method::GET, "/Users?count=100", None).await;
    assert_eq!(list["totalResults"], 20);
    for user in list["Resources"].as_array().unwrap() {
        let email = user["emails"][0]["value"].as_str().unwrap();
        let (_, found) = t
            .scim(
                Method::GET,
                &format!("/Users?filter=emails.value%20eq%20%22{email}%22"),
                None,
            )
            .await;
        assert_eq!(
            found["totalResults"], 1,
            "the winner's index rows are there: {email}"
        );
    }
    let after = t.server.directory.recent_audit(1000).await.unwrap().len();
    assert_eq!(
        after - before,
        20,
        "one audit event per committed create, none for the failures"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sensitive_too_many_and_other_versions_are_refused() {
    let t = start().await;
    let id = t
        .create_user("alice", Some("S3cure-pass!"), "alice@example.com")
        .await;

    // A password in a URI would land in access logs: 403 sensitive.
    let (status, body) = t
        .scim(
            Method::GET,
            "/Users?filter=password+eq+%22S3cure-pass!%22",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(scim_type(&body), "sensitive");
    assert_eq!(body["status"], "403");
    // Inside a string literal it is only text.
    let (status, _) = t
        .scim(
            Method::GET,
            "/Users?filter=userName+eq+%22password%22",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let many = vec![r#"userName eq "x""#; 201].join(" or ");
    let (status, body) = t
        .scim(
            Method::POST,
            "/Users/.search",
            Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": many})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(scim_type(&body), "tooMany");

    for body in [
        json!({"schemas": ["urn:scim:schemas:core:1.0"], "userName": "old"}),
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:1.1:User"], "userName": "old"}),
    ] {
        let (status, answer) = t.scim(Method::POST, "/Users", Some(body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        assert_eq!(scim_type(&answer), "invalidVers");
    }
    let (status, answer) = t
        .scim(
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(
                json!({"schemas": ["urn:ietf:params:scim:api:messages:1.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "title", "value": "x"}]}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(scim_type(&answer), "invalidVers");
    let (_, user) = t.scim(Method::GET, &format!("/Users/{id}"), None).await;
    assert!(user.get("title").is_none(), "nothing was written: {user}");
}

#[tokio::test]
async fn the_core_profile_formats_are_checked() {
    let t = start().await;
    let good = json!({
        "userName": "łukasz", "name": {"givenName": "Łukasz"},
        "timezone": "Europe/Warsaw", "locale": "pl_PL", "preferredLanguage": "pl-PL, en;q=0.8",
        "addresses": [{"country": "PL", "locality": "Kraków"}],
        "phoneNumbers": [{"value": "tel:+48-22-000-0000"}],
    });
    let (status, body) = t.scim(Method::POST, "/Users", Some(good.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["locale"], "pl_PL", "kept as sent");
    for (attr, value, named) in [
        ("timezone", json!("Mars/Olympus_Mons"), "timezone"),
        ("locale", json!("not a locale"), "locale"),
        (
            "preferredLanguage",
            json!("en-US, 12345"),
            "preferredLanguage",
        ),
        (
            "addresses",
            json!([{"country": "Poland"}]),
            "addresses.country",
        ),
        (
            "phoneNumbers",
            json!([{"value": "call me"}]),
            "phoneNumbers",
        ),
    ] {
        let mut bad = good.clone();
        bad["userName"] = json!(format!("bad-{attr}"));
        bad[attr] = value;
        let (status, body) = t.scim(Method::POST, "/Users", Some(bad)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{attr}: {body}");
        assert_eq!(body["scimType"], "invalidValue");
        assert!(
            body["detail"].as_str().unwrap().starts_with(named),
            "{body}"
        );
    }
}

#[tokio::test]
async fn an_email_belongs_to_one_user() {
    let t = start().await;
    let ann = t.create_user("ann", None, "ann@example.com").await;
    let (status, body) = t
        .scim(
            Method::POST,
            "/Users",
            Some(json!({"userName": "bob", "emails": [{"value": "ANN@example.com"}]})),
        )
        .await;
    assert_eq!(
        (status, body["scimType"].as_str()),
        (StatusCode::CONFLICT, Some("uniqueness")),
        "{body}"
    );
    // Her own address again is no conflict.
    let (status, body) = t
        .scim(
            Method::PUT,
            &format!("/Users/{ann}"),
            Some(json!({"userName": "ann", "emails": [{"value": "ann@example.com"}], "title": "Lead"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // In one batch (an import's), the first account to give an address has it.
    let account = |name: &str| roster::directory::NewAccount {
        attrs: roster::directory::UserAttrs {
            user_name: name.into(),
            emails: vec![roster::directory::MultiValue {
                value: "twin@example.com".into(),
                ..Default::default()
            }],
            ..Default::default()
        },
        active: true,
        credential: roster::directory::Credential::None,
    };
    let made = t
        .server
        .directory
        .create_users(
            &roster::directory::Actor::cli(),
            vec![account("twin1"), account("twin2")],
        )
        .await;
    assert!(made[0].is_ok(), "{:?}", made[0]);
    assert!(
        matches!(&made[1], Err(roster::directory::DirectoryError::Uniqueness(a)) if a == "emails"),
        "{:?}",
        made[1]
    );

    // Once ann is deleted (banned), the address is free.
    let (status, _) = t.scim(Method::DELETE, &format!("/Users/{ann}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    t.create_user("bob", None, "ann@example.com").await;
}
