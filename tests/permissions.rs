//! Groups that carry permissions, a user's effective permissions (nested
//! groups and entitlements) over SCIM and LDAP, and protected groups.

mod common;

use common::{account, read_entry, start, user_dn};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const GROUP_EXT: &str = "urn:roster:params:scim:schemas:extension:group:1.0:Group";
const PATCH_URN: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

async fn group_with(
    t: &common::TestServer,
    name: &str,
    members: &[&str],
    permissions: &[&str],
) -> Value {
    let members: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
    let (status, body) = t
        .scim(
            Method::POST,
            "/Groups",
            Some(json!({"displayName": name, "members": members, GROUP_EXT: {"permissions": permissions}})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

async fn patch(
    t: &common::TestServer,
    id: &str,
    op: &str,
    path: &str,
    value: Value,
) -> (StatusCode, Value) {
    t.scim(
        Method::PATCH,
        &format!("/Groups/{id}"),
        Some(json!({"schemas": [PATCH_URN], "Operations": [{"op": op, "path": path, "value": value}]})),
    )
    .await
}

#[tokio::test]
async fn effective_permissions_come_from_nested_groups_and_entitlements() {
    let t = start().await;
    let (status, ann) = t
        .scim(
            Method::POST,
            "/Users",
            Some(json!({"userName": "ann", "password": "S3cure-pass!", "entitlements": [{"value": "exports.run"}]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{ann}");
    let ann = ann["id"].as_str().unwrap().to_string();
    let reader = t
        .create_user("reader", Some("S3cure-pass!"), "r@example.com")
        .await;
    t.make_readers(&[&reader]).await;
    let agents = group_with(&t, "agents", &[&ann], &["calls.make"]).await;
    assert_eq!(agents[GROUP_EXT]["permissions"], json!(["calls.make"]));
    let agents = agents["id"].as_str().unwrap().to_string();
    let reporting = group_with(
        &t,
        "reporting",
        &[&agents],
        &["reports.read", "reports.read"],
    )
    .await;
    assert_eq!(
        reporting[GROUP_EXT]["permissions"],
        json!(["reports.read"]),
        "a set"
    );
    let reporting = reporting["id"].as_str().unwrap().to_string();

    let expected = json!(["calls.make", "exports.run", "reports.read"]);
    assert_eq!(account(&t, &ann).await["effectivePermissions"], expected);
    let mut ldap = t.ldap_as("reader", "S3cure-pass!").await;
    let entry = read_entry(
        &mut ldap,
        &user_dn("ann"),
        vec!["rosterEffectivePermissions"],
    )
    .await;
    assert_eq!(
        entry.attrs["rosterEffectivePermissions"],
        ["calls.make", "exports.run", "reports.read"]
    );
    let entry = read_entry(
        &mut ldap,
        &common::group_dn("reporting"),
        vec!["rosterPermission"],
    )
    .await;
    assert_eq!(entry.attrs["rosterPermission"], ["reports.read"]);

    // Filterable over SCIM (by name or full path) and LDAP; through the
    // nested group and through the entitlement alike.
    for (filter, found) in [
        (r#"effectivePermissions eq "reports.read""#, 1),
        (
            r#"urn:roster:params:scim:schemas:extension:account:1.0:User:effectivePermissions eq "EXPORTS.RUN""#,
            1,
        ),
        (r#"effectivePermissions sw "calls.""#, 1),
        (r#"effectivePermissions eq "nothing.granted""#, 0),
    ] {
        let url = format!("/Users?filter={}", common::urlencode(filter));
        let (status, list) = t.scim(Method::GET, &url, None).await;
        assert_eq!(status, StatusCode::OK, "{filter}: {list}");
        assert_eq!(list["totalResults"], found, "{filter}: {list}");
    }
    let (found, _) = ldap
        .search(
            "ou=people,dc=example,dc=com",
            ldap3::Scope::OneLevel,
            "(rosterEffectivePermissions=reports.read)",
            vec!["uid"],
        )
        .await
        .unwrap()
        .success()
        .unwrap();
    assert_eq!(found.len(), 1);

    // PATCH adds, removes and replaces permissions; the user follows.
    let path = format!("{GROUP_EXT}:permissions");
    let (status, body) = patch(&t, &reporting, "add", &path, json!(["reports.write"])).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body[GROUP_EXT]["permissions"],
        json!(["reports.read", "reports.write"])
    );
    let (_, body) = patch(&t, &reporting, "remove", &path, json!(["reports.read"])).await;
    assert_eq!(body[GROUP_EXT]["permissions"], json!(["reports.write"]));
    assert_eq!(
        account(&t, &ann).await["effectivePermissions"],
        json!(["calls.make", "exports.run", "reports.write"])
    );
    let (status, body) = patch(&t, &reporting, "add", &path, json!([""])).await;
    assert_eq!(
        (status, body["scimType"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalidValue"))
    );
}

#[tokio::test]
async fn a_protected_group_keeps_its_name_and_permissions_but_not_its_members() {
    let t = start().await;
    let ann = t.create_user("ann", None, "ann@example.com").await;
    let admins = group_with(&t, "Administrators", &[], &["everything"]).await;
    let admins = admins["id"].as_str().unwrap().to_string();
    let (status, body) = t
        .scim(Method::DELETE, &format!("/Groups/{admins}"), None)
        .await;
    assert_eq!(
        (status, body["scimType"].as_str()),
        (StatusCode::FORBIDDEN, Some("mutability")),
        "{body}"
    );
    let path = format!("{GROUP_EXT}:permissions");
    let (status, body) = patch(&t, &admins, "add", &path, json!(["more"])).await;
    assert_eq!(
        (status, body["scimType"].as_str()),
        (StatusCode::FORBIDDEN, Some("mutability")),
        "{body}"
    );
    let (status, _) = patch(&t, &admins, "replace", "displayName", json!("admins")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = patch(&t, &admins, "add", "members", json!([{"value": ann}])).await;
    assert_eq!(status, StatusCode::OK, "members may change: {body}");
    let (status, body) = t
        .scim(Method::GET, &format!("/Groups/{admins}"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["members"].as_array().unwrap().len(), 1);
    assert_eq!(body[GROUP_EXT]["permissions"], json!(["everything"]));
    // Other groups are deleted (banned) as usual.
    let other = group_with(&t, "others", &[], &[]).await;
    let (status, _) = t
        .scim(
            Method::DELETE,
            &format!("/Groups/{}", other["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}
