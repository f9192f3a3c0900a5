//! POSIX accounts (RFC 2307): numbers allocated and never reused, set over
//! SCIM, served over LDAP as posixAccount / posixGroup with integer
//! ordering in filters.

mod common;

use common::*;
use ldap3::{Scope, SearchEntry};
use reqwest::{Method, StatusCode};
use serde_json::json;

const POSIX_USER: &str = "urn:roster:params:scim:schemas:extension:posix:1.0:User";
const POSIX_GROUP: &str = "urn:roster:params:scim:schemas:extension:posix:1.0:Group";

async fn search(
    ldap: &mut ldap3::Ldap,
    base: &str,
    filter: &str,
    attrs: Vec<&str>,
) -> Vec<SearchEntry> {
    let (entries, res) = ldap
        .search(base, Scope::Subtree, filter, attrs)
        .await
        .unwrap()
        .success()
        .unwrap_or_else(|e| panic!("{filter}: {e}"));
    let _ = res;
    entries.into_iter().map(SearchEntry::construct).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn new_accounts_get_numbers_that_hosts_can_read() {
    // alice reads every entry as a member of devs, the reader group here.
    let t = start_with(|c| c.ldap.reader_group = "devs".into()).await;
    let alice = t
        .create_user("alice", Some("S3cure-pass!"), "alice@example.com")
        .await;
    let bob = t.create_user("bob", None, "bob@example.com").await;
    let (_, a) = t.scim(Method::GET, &format!("/Users/{alice}"), None).await;
    let (_, b) = t.scim(Method::GET, &format!("/Users/{bob}"), None).await;
    let uid_a = a[POSIX_USER]["uidNumber"].as_i64().unwrap();
    let uid_b = b[POSIX_USER]["uidNumber"].as_i64().unwrap();
    assert!(uid_a >= 10000 && uid_b >= 10000 && uid_a != uid_b, "{a}");
    assert_eq!(
        a[POSIX_USER]["gidNumber"], 100,
        "the configured primary group"
    );
    assert!(
        a[POSIX_USER].get("homeDirectory").is_none(),
        "defaults are not stored"
    );
    let devs = t.create_group("devs", &[&alice]).await;
    let (_, g) = t.scim(Method::GET, &format!("/Groups/{devs}"), None).await;
    let gid = g[POSIX_GROUP]["gidNumber"].as_i64().unwrap();
    assert!(gid >= 10000, "{g}");

    let mut ldap = t.ldap_as("alice", "S3cure-pass!").await;
    let found = search(
        &mut ldap,
        BASE_DN,
        "(&(objectClass=posixAccount)(uid=alice))",
        vec![
            "uidNumber",
            "gidNumber",
            "homeDirectory",
            "loginShell",
            "gecos",
            "objectClass",
        ],
    )
    .await;
    assert_eq!(found.len(), 1);
    let e = &found[0].attrs;
    assert_eq!(e["uidNumber"], [uid_a.to_string()]);
    assert_eq!(e["gidNumber"], ["100"]);
    assert_eq!(e["homeDirectory"], ["/home/alice"]);
    assert_eq!(e["loginShell"], ["/bin/bash"]);
    assert_eq!(e["gecos"], ["alice"]);
    assert!(e["objectClass"].contains(&"posixAccount".to_string()));

    // Numbers order as numbers: 9 < 10000.
    let by_number = search(&mut ldap, BASE_DN, "(uidNumber>=9)", vec!["uid"]).await;
    assert_eq!(by_number.len(), 2);
    let none = search(&mut ldap, BASE_DN, "(uidNumber<=9999)", vec!["uid"]).await;
    assert!(none.is_empty());
    let exact = search(
        &mut ldap,
        BASE_DN,
        &format!("(uidNumber={uid_b})"),
        vec!["uid"],
    )
    .await;
    assert_eq!(exact[0].attrs["uid"], ["bob"]);

    // The group, as nslcd asks for it.
    let groups = search(
        &mut ldap,
        BASE_DN,
        "(&(objectClass=posixGroup)(memberUid=alice))",
        vec![
            "cn",
            "gidNumber",
            "memberUid",
            "uniqueMember",
            "objectClass",
        ],
    )
    .await;
    assert_eq!(groups.len(), 1);
    let e = &groups[0].attrs;
    assert_eq!(e["cn"], ["devs"]);
    assert_eq!(e["gidNumber"], [gid.to_string()]);
    assert_eq!(e["memberUid"], ["alice"]);
    assert_eq!(e["uniqueMember"], [user_dn("alice")]);
    for class in ["groupOfNames", "groupOfUniqueNames", "posixGroup"] {
        assert!(e["objectClass"].contains(&class.to_string()), "{class}");
    }
    let by_gid = search(
        &mut ldap,
        BASE_DN,
        &format!("(&(objectClass=posixGroup)(gidNumber={gid}))"),
        vec!["cn"],
    )
    .await;
    assert_eq!(by_gid.len(), 1);

    // A deleted user's number is not handed out again.
    t.scim(Method::DELETE, &format!("/Users/{bob}"), None).await;
    let carol = t.create_user("carol", None, "carol@example.com").await;
    let (_, c) = t.scim(Method::GET, &format!("/Users/{carol}"), None).await;
    let uid_c = c[POSIX_USER]["uidNumber"].as_i64().unwrap();
    assert!(uid_c != uid_a && uid_c != uid_b, "{uid_c}");
}

#[tokio::test(flavor = "multi_thread")]
async fn numbers_are_set_over_scim_kept_by_put_and_unique() {
    let t = start().await;
    let (status, user) = t
        .scim(
            Method::POST,
            "/Users",
            Some(json!({"schemas": [USER_URN, POSIX_USER], "userName": "migrated",
                POSIX_USER: {"uidNumber": 5001, "gidNumber": "5000", "loginShell": "/bin/zsh", "homeDirectory": "/srv/migrated"}})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    assert_eq!(
        user[POSIX_USER],
        json!({"uidNumber": 5001, "gidNumber": 5000, "homeDirectory": "/srv/migrated", "loginShell": "/bin/zsh"})
    );
    let id = user["id"].as_str().unwrap();

    let (status, body) = t
        .scim(
            Method::POST,
            "/Users",
            Some(json!({"userName": "clash", POSIX_USER: {"uidNumber": 5001}})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["scimType"], "uniqueness");
    let (status, body) = t
        .scim(
            Method::POST,
            "/Users",
            Some(json!({"userName": "bad", POSIX_USER: {"uidNumber": -1}})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // An identity provider's PUT knows nothing of POSIX: the numbers stay.
    let (status, user) = t
        .scim(
            Method::PUT,
            &format!("/Users/{id}"),
            Some(json!({"schemas": [USER_URN], "userName": "migrated", "title": "Ops"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{user}");
    assert_eq!(user[POSIX_USER]["uidNumber"], 5001);
    // A PATCH by attribute path changes one value.
    let (status, user) = t
        .scim(
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(json!({"schemas": [PATCH_URN], "Operations": [
                {"op": "replace", "path": format!("{POSIX_USER}:loginShell"), "value": "/bin/fish"}]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{user}");
    assert_eq!(user[POSIX_USER]["loginShell"], "/bin/fish");
    assert_eq!(user[POSIX_USER]["uidNumber"], 5001);
    let (_, list) = t
        .scim(
            Method::GET,
            &format!(
                "/Users?filter={}",
                urlencode(&format!(
                    "{POSIX_USER}:uidNumber ge 5001 and {POSIX_USER}:uidNumber lt 10000"
                ))
            ),
            None,
        )
        .await;
    assert_eq!(list["totalResults"], 1, "{list}");

    // Removing the extension makes the user a non-POSIX account.
    let (status, user) = t
        .scim(
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(json!({"schemas": [PATCH_URN], "Operations": [{"op": "remove", "path": POSIX_USER}]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{user}");
    assert!(user.get(POSIX_USER).is_none(), "{user}");

    // Groups: a gidNumber set at creation, changed by PATCH, kept by PUT.
    let (status, group) = t
        .scim(
            Method::POST,
            "/Groups",
            Some(
                json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group", POSIX_GROUP],
                "displayName": "staff", POSIX_GROUP: {"gidNumber": 5000}}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{group}");
    let gid = group["id"].as_str().unwrap();
    let (status, group) = t
        .scim(
            Method::PATCH,
            &format!("/Groups/{gid}"),
            Some(json!({"schemas": [PATCH_URN], "Operations": [
                {"op": "replace", "path": format!("{POSIX_GROUP}:gidNumber"), "value": 5002}]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{group}");
    assert_eq!(group[POSIX_GROUP]["gidNumber"], 5002);
    let (_, group) = t
        .scim(
            Method::PUT,
            &format!("/Groups/{gid}"),
            Some(json!({"displayName": "staff"})),
        )
        .await;
    assert_eq!(group[POSIX_GROUP]["gidNumber"], 5002);
    let (status, body) = t
        .scim(
            Method::POST,
            "/Groups",
            Some(json!({"displayName": "other", POSIX_GROUP: {"gidNumber": 5002}})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn posix_can_be_turned_off() {
    let t = start_with(|c| c.posix.enabled = false).await;
    let alice = t
        .create_user("alice", Some("S3cure-pass!"), "alice@example.com")
        .await;
    let (_, a) = t.scim(Method::GET, &format!("/Users/{alice}"), None).await;
    assert!(a.get(POSIX_USER).is_none(), "{a}");
    let mut ldap = t.ldap_as("alice", "S3cure-pass!").await;
    let found = search(&mut ldap, BASE_DN, "(uid=alice)", vec!["*"]).await;
    assert!(!found[0].attrs["objectClass"].contains(&"posixAccount".to_string()));
    assert!(!found[0].attrs.contains_key("uidNumber"));
    assert!(search(
        &mut ldap,
        BASE_DN,
        "(objectClass=posixAccount)",
        vec!["uid"]
    )
    .await
    .is_empty());
    // Numbers a client set over SCIM are kept, but while POSIX is off no
    // LDAP filter sees them (the entries do not show them either).
    let (status, body) = t
        .scim(
            Method::POST,
            "/Users",
            Some(json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", POSIX_USER],
                "userName": "bob",
                POSIX_USER: {"uidNumber": 5000, "gidNumber": 5000},
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    t.make_readers(&[&alice]).await;
    let mut ldap = t.ldap_as("alice", "S3cure-pass!").await;
    for filter in [
        "(objectClass=posixAccount)",
        "(uidNumber=5000)",
        "(uidNumber>=1)",
        "(gidNumber=*)",
        "(&(uid=bob)(!(uidNumber=1)))",
    ] {
        let found = search(&mut ldap, BASE_DN, filter, vec!["uid"]).await;
        assert!(found.is_empty(), "{filter} found {found:?}");
    }
    assert_eq!(
        search(&mut ldap, BASE_DN, "(uid=bob)", vec!["uid"])
            .await
            .len(),
        1
    );
}
