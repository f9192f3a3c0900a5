//! SCIM searching and round-trips: POST .search (per type and at the root),
//! sortBy/sortOrder, values kept exactly as sent, unassigning attributes.

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const SEARCH_URN: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
const ENTERPRISE_URN: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const POSIX_URN: &str = "urn:roster:params:scim:schemas:extension:posix:1.0:User";

fn names(list: &Value, key: &str) -> Vec<String> {
    list["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[key].as_str().unwrap_or("-").to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn search_requests_per_type_and_at_the_root() {
    let t = start().await;
    let a = t.create_user("alice", None, "alice@example.com").await;
    t.create_user("bob", None, "bob@example.com").await;
    t.create_group("admins", &[&a]).await;
    let (status, list) = t
        .scim(Method::POST, "/Users/.search", Some(json!({
            "schemas": [SEARCH_URN], "filter": "userName sw \"a\"", "attributes": ["userName"], "startIndex": 1, "count": 10
        })))
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["totalResults"], 1);
    assert_eq!(names(&list, "userName"), vec!["alice"]);
    assert!(
        list["Resources"][0].get("emails").is_none(),
        "only the requested attributes"
    );

    // At the root: users then groups; a filter on an attribute only groups
    // have finds only groups.
    let (_, all) = t
        .scim(
            Method::POST,
            "/.search",
            Some(json!({"schemas": [SEARCH_URN]})),
        )
        .await;
    assert_eq!(all["totalResults"], 3);
    let (_, page) = t
        .scim(
            Method::POST,
            "/.search",
            Some(json!({"startIndex": 3, "count": 5})),
        )
        .await;
    assert_eq!(page["Resources"].as_array().unwrap().len(), 1);
    assert_eq!(page["Resources"][0]["displayName"], "admins");
    let (_, groups) = t
        .scim(
            Method::POST,
            "/.search",
            Some(json!({"filter": format!("members.value eq \"{a}\"")})),
        )
        .await;
    assert_eq!(groups["totalResults"], 1);
    let (status, err) = t
        .scim(
            Method::POST,
            "/.search",
            Some(json!({"filter": "shoeSize eq 3"})),
        )
        .await;
    assert_eq!(
        (status, err["scimType"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalidFilter"))
    );
    let (status, _) = t
        .scim(
            Method::POST,
            "/Users/.search",
            Some(json!({"colour": "red"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread")]
async fn value_filters_match_within_one_element() {
    let t = start().await;
    for (name, work, home) in [
        ("ann", "ann@x.com", "ann@home.org"),
        ("ben", "ben@home.org", "ben@x.com"),
    ] {
        let (status, _) = t
            .scim(Method::POST, "/Users", Some(json!({"userName": name, "emails": [
                {"value": work, "type": "work", "primary": true}, {"value": home, "type": "home"}
            ]})))
            .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let find = |filter: &str| {
        let t = &t;
        let filter = filter.to_string();
        async move {
            let (status, list) = t
                .scim(
                    Method::POST,
                    "/Users/.search",
                    Some(json!({"filter": filter})),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{filter}: {list}");
            let mut found = names(&list, "userName");
            found.sort();
            found
        }
    };
    assert_eq!(
        find(r#"emails[type eq "work" and value co "@x.com"]"#).await,
        vec!["ann"]
    );
    assert_eq!(
        find(r#"emails[type eq "home" and value ew "x.com"]"#).await,
        vec!["ben"]
    );
    assert_eq!(
        find(r#"emails.type eq "work" and emails.value co "@x.com""#).await,
        vec!["ann", "ben"],
        "uncorrelated"
    );
    assert_eq!(
        find(r#"emails[primary eq true and value sw "ben"]"#).await,
        vec!["ben"]
    );
    assert_eq!(
        find(r#"emails[not (type eq "work")] and userName eq "ann""#).await,
        vec!["ann"]
    );
    let (status, err) = t
        .scim(
            Method::POST,
            "/Users/.search",
            Some(json!({"filter": "emails[shoe eq 1]"})),
        )
        .await;
    assert_eq!(
        (status, err["scimType"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalidFilter"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sorting_by_columns_and_indexed_attributes() {
    let t = start().await;
    for (name, title) in [
        ("carol", Some("Zookeeper")),
        ("alice", Some("Engineer")),
        ("bob", None),
    ] {
        let id = t
            .create_user(name, None, &format!("{name}@example.com"))
            .await;
        if let Some(title) = title {
            let (status, _) = t
                .scim(
                    Method::PATCH,
                    &format!("/Users/{id}"),
                    Some(json!({"Operations": [{"op": "add", "path": "title", "value": title}]})),
                )
                .await;
            assert_eq!(status, StatusCode::OK);
        }
    }
    let (_, list) = t
        .scim(
            Method::GET,
            "/Users?sortBy=userName&sortOrder=descending",
            None,
        )
        .await;
    assert_eq!(names(&list, "userName"), vec!["carol", "bob", "alice"]);
    let (_, list) = t.scim(Method::GET, "/Users?sortBy=title", None).await;
    assert_eq!(
        names(&list, "userName"),
        vec!["alice", "carol", "bob"],
        "missing values sort last"
    );
    let (_, list) = t
        .scim(
            Method::GET,
            "/Users?sortBy=title&sortOrder=descending",
            None,
        )
        .await;
    assert_eq!(names(&list, "userName"), vec!["carol", "alice", "bob"]);
    let (_, list) = t
        .scim(
            Method::GET,
            "/Users?sortBy=emails&count=1&startIndex=2",
            None,
        )
        .await;
    assert_eq!(names(&list, "userName"), vec!["bob"]);
    let (status, err) = t.scim(Method::GET, "/Users?sortBy=groups", None).await;
    assert_eq!(
        (status, err["scimType"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalidValue"))
    );
    let (status, _) = t
        .scim(
            Method::GET,
            "/Users?sortBy=userName&sortOrder=sideways",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread")]
async fn values_round_trip_as_sent() {
    let t = start().await;
    let body = json!({
        "schemas": [USER_URN, ENTERPRISE_URN],
        "userName": "dora",
        "emails": [
            {"value": "dora@work.example", "type": "work", "primary": true, "display": "Work"},
            {"value": "dora@home.example", "type": "home", "primary": false}
        ],
        "phoneNumbers": [{"value": "+1 555 0100", "type": "mobile"}],
        "addresses": [{"streetAddress": "1 Main St", "locality": "Springfield", "type": "work", "primary": true}],
        (ENTERPRISE_URN): {"employeeNumber": "701", "department": "R&D"}
    });
    let (status, user) = t.scim(Method::POST, "/Users", Some(body.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    for key in ["emails", "phoneNumbers", "addresses", ENTERPRISE_URN] {
        assert_eq!(user[key], body[key], "{key}");
    }
    assert_eq!(
        user["schemas"],
        json!([USER_URN, ENTERPRISE_URN, POSIX_URN])
    );
    let id = user["id"].as_str().unwrap();
    let u = t.create_user("eve", None, "eve@example.com").await;
    let (_, group) = t
        .scim(Method::POST, "/Groups", Some(json!({"displayName": "g", "members": [{"value": u, "display": "Eve (contractor)"}, {"value": id}]})))
        .await;
    let members = group["members"].as_array().unwrap();
    let eve = members.iter().find(|m| m["value"] == u).unwrap();
    assert_eq!(eve["display"], "Eve (contractor)");
    assert_eq!(eve["type"], "User");
    assert!(members
        .iter()
        .find(|m| m["value"] == id)
        .unwrap()
        .get("display")
        .is_none());

    // Removing the whole extension, and removing `active`, unassign them.
    let (_, user) = t
        .scim(
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(json!({"Operations": [{"op": "remove", "path": ENTERPRISE_URN}]})),
        )
        .await;
    assert!(user.get(ENTERPRISE_URN).is_none(), "{user}");
    assert_eq!(user["schemas"], json!([USER_URN, POSIX_URN]));
    let (_, user) = t
        .scim(
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(json!({"Operations": [{"op": "remove", "path": "active"}]})),
        )
        .await;
    assert!(user.get("active").is_none(), "{user}");
    let (_, list) = t
        .scim(Method::GET, "/Users?filter=active%20eq%20true", None)
        .await;
    assert_eq!(
        list["totalResults"], 2,
        "the account itself is still active"
    );
    let (_, user) = t
        .scim(
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(json!({"Operations": [{"op": "add", "path": "active", "value": true}]})),
        )
        .await;
    assert_eq!(user["active"], true);
}
