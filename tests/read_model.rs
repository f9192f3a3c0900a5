//! The server answers reads from an in-memory view of the store. These
//! tests hold it to the database: the same filters give the same answers
//! from the view as from SQL, and changes made by another writer on the same
//! database (another node, the command line) reach the view.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use reqwest::{Method, StatusCode};
use roster::directory::attributes::{by_key, GROUP_ATTRS, USER_ATTRS};
use roster::directory::{Actor, Protocol, Query, Sort, SystemClock, UserAttrs, UserChange};
use roster::scim::filter;
use serde_json::json;

const GROUP_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

#[tokio::test(flavor = "multi_thread")]
async fn the_view_and_the_database_agree_on_every_filter() {
    let t = start_with(|c| {
        c.policy.max_failed_logins = 1;
        // Names with SQL's LIKE characters (% and _), to check the escaping.
        c.profile.user_name_pattern = ".+".into();
        c.profile.name_pattern = ".*".into();
    })
    .await;
    let mut ids = Vec::new();
    for (i, (name, title, emails)) in [
        ("alice", Some("Engineer"), json!([{"value": "alice@work.example", "type": "work", "primary": true}, {"value": "alice@home.example", "type": "home"}])),
        ("bob", Some("engineering manager"), json!([{"value": "bob@work.example", "type": "home"}])),
        ("Carol", None, json!([{"value": "carol@x.example", "type": "work"}])),
        ("dave_%", Some("50% off"), json!([])),
        ("Eve", Some("engineer"), json!([{"value": "eve@work.example"}])),
    ]
    .into_iter()
    .enumerate()
    {
        let mut body = json!({"schemas": [USER_URN], "userName": name, "emails": emails,
            "externalId": format!("ext-{i}"),
            "name": {"givenName": name.to_uppercase(), "familyName": format!("F{}", 5 - i)}});
        if let Some(title) = title {
            body["title"] = title.into();
        }
        if i == 3 {
            body["active"] = false.into();
        }
        let (status, user) = t.scim(Method::POST, "/Users", Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{user}");
        ids.push(user["id"].as_str().unwrap().to_string());
    }
    let devs = t.create_group("devs", &[&ids[0], &ids[1]]).await;
    t.create_group("all", &[&ids[0], &ids[2], &ids[4], &devs])
        .await;
    t.create_group("Empty", &[]).await;
    // Eve is locked (one failed bind): statuses active, disabled, locked.
    let mut ldap = t.ldap().await;
    assert_eq!(
        ldap.simple_bind(&user_dn("Eve"), "wrong").await.unwrap().rc,
        49
    );

    let sql = roster::open_directory(&t.config, Arc::new(SystemClock))
        .await
        .unwrap();
    let view = &t.server.directory;
    let user_filters = [
        "userName eq \"ALICE\"",
        "userName sw \"c\"",
        "userName gt \"bob\"",
        "userName le \"carol\"",
        "userName co \"_%\"",
        "title co \"engineer\"",
        "title ew \"ER\"",
        "title pr",
        "not (title pr)",
        "title eq null",
        "emails[type eq \"work\" and value co \"@work\"]",
        "emails[type eq \"home\"] or userName eq \"eve\"",
        "emails.value ew \".example\" and not (emails.type eq \"home\")",
        "emails.primary eq true",
        "active eq false",
        "active eq true and title pr",
        "externalId eq \"ext-2\"",
        "externalId eq \"EXT-2\"",
        "name.givenName eq \"bob\"",
        "name.familyName ge \"F3\"",
        "groups.display eq \"devs\"",
        "groups.value eq \"00000000-0000-0000-0000-000000000000\"",
        "meta.created gt \"2000-01-01T00:00:00Z\"",
        "meta.lastModified lt \"2000-01-01T00:00:00Z\"",
        "(userName eq \"alice\" or userName eq \"bob\") and emails.type eq \"home\"",
    ];
    let mut filters: Vec<String> = user_filters.iter().map(|f| f.to_string()).collect();
    filters.push(format!("id eq \"{}\"", ids[1].to_uppercase()));
    filters.push(format!("groups.value eq \"{devs}\""));
    for text in &filters {
        let f = filter::parse(text, USER_ATTRS, USER_URN).unwrap();
        for sort in [
            None,
            Some(("title", false)),
            Some(("name.familyName", true)),
            Some(("active", false)),
            Some(("active", true)),
        ] {
            let sort = sort.map(|(key, descending)| Sort {
                attr: by_key(USER_ATTRS, key).unwrap(),
                descending,
            });
            let q = Query::new(f.clone(), 0, 100).sorted(sort.clone());
            let a = view.find_users(&q).await.unwrap();
            let b = sql.find_users(&q).await.unwrap();
            let names = |p: &roster::directory::Page<roster::directory::User>| {
                p.items
                    .iter()
                    .map(|u| u.attrs.user_name.clone())
                    .collect::<Vec<_>>()
            };
            assert_eq!(
                names(&a),
                names(&b),
                "{text} sorted by {:?}",
                sort.map(|s| s.attr.key)
            );
            assert_eq!(a.total, b.total, "{text}");
            assert_eq!(a.items, b.items, "{text}: whole records, groups included");
        }
        // Paging windows agree too.
        let q = Query::new(f.clone(), 1, 2);
        assert_eq!(
            view.find_users(&q).await.unwrap().items,
            sql.find_users(&q).await.unwrap().items,
            "{text} page 2"
        );
    }
    for text in [
        "displayName eq \"DEVS\"",
        "displayName sw \"e\"",
        "members.value pr",
        "not (members pr)",
        &format!("members.value eq \"{}\"", ids[0]),
        &format!("members eq \"{devs}\""),
        "externalId pr",
    ] {
        let f = filter::parse(text, GROUP_ATTRS, GROUP_URN).unwrap();
        let q = Query::new(f, 0, 100);
        for with_members in [false, true] {
            let a = view.find_groups(&q, with_members).await.unwrap();
            let b = sql.find_groups(&q, with_members).await.unwrap();
            assert_eq!(a.total, b.total, "{text}");
            assert_eq!(a.items, b.items, "{text} (members: {with_members})");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn changes_by_another_writer_reach_the_view() {
    let t = start_with(|c| c.store.refresh_interval = Duration::from_millis(100)).await;
    let alice = t.create_user("alice", None, "alice@example.com").await;
    // Another writer on the same database, as a second node or the CLI is.
    let other = roster::open_directory(&t.config, Arc::new(SystemClock))
        .await
        .unwrap();
    let actor = Actor::new("other-node", Protocol::System, None);
    let bob = other
        .create_user(
            &actor,
            UserAttrs {
                user_name: "bob".into(),
                ..UserAttrs::default()
            },
            true,
            None,
        )
        .await
        .unwrap();
    let group = other
        .create_group(
            &actor,
            roster::directory::GroupAttrs {
                display_name: "ops".into(),
                ..Default::default()
            },
            &[roster::directory::MemberRef {
                id: bob.id,
                display: None,
            }],
        )
        .await
        .unwrap();
    let mut renamed = other.get_user(alice.parse().unwrap()).await.unwrap();
    renamed.attrs.user_name = "alice2".into();
    other
        .replace_user(
            &actor,
            renamed.id,
            UserChange {
                attrs: renamed.attrs.clone(),
                ..UserChange::default()
            },
        )
        .await
        .unwrap();

    let mut seen = false;
    for _ in 0..50 {
        let (_, bob_over_scim) = t
            .scim(Method::GET, "/Users?filter=userName+eq+%22bob%22", None)
            .await;
        let (_, alice_now) = t.scim(Method::GET, &format!("/Users/{alice}"), None).await;
        if bob_over_scim["totalResults"] == 1
            && alice_now["userName"] == "alice2"
            && bob_over_scim["Resources"][0]["groups"][0]["display"] == "ops"
        {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        seen,
        "the other writer's users, group and rename reached the view"
    );

    other.delete_group(&actor, group.id).await.unwrap();
    other.delete_user(&actor, bob.id).await.unwrap();
    let mut gone = false;
    for _ in 0..50 {
        let (status, _) = t
            .scim(Method::GET, &format!("/Users/{}", bob.id), None)
            .await;
        let (groups, _) = t
            .scim(Method::GET, &format!("/Groups/{}", group.id), None)
            .await;
        if status == StatusCode::NOT_FOUND && groups == StatusCode::NOT_FOUND {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(gone, "deletions by the other writer reached the view");
}
