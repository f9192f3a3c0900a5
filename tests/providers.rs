//! Replays of what identity providers really send, from their published
//! request formats: Microsoft Entra ID, Okta, OneLogin, JumpCloud.

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const ENTERPRISE_URN: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const GROUP_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

async fn patch(t: &TestServer, path: &str, ops: Value) -> Value {
    let (status, body) = t
        .scim(
            Method::PATCH,
            path,
            Some(json!({"schemas": [PATCH_URN], "Operations": ops})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "PATCH {path} {ops}: {body}");
    body
}

/// A raw GET with the query string exactly as a provider writes it.
async fn get_raw(t: &TestServer, path_and_query: &str) -> (StatusCode, Value) {
    let resp = t
        .http
        .get(format!("{}{path_and_query}", t.scim))
        .bearer_auth(&t.token)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn entra_id_user_lifecycle() {
    let t = start().await;
    // "Test connection": a filter on a random GUID, spaces sent as '+'.
    let (status, list) = get_raw(
        &t,
        "/Users?filter=userName+eq+%2255c3c3f4-4d1f-4b1a-9f6e-6d9c1e1f2a3b%22",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["totalResults"], 0);
    assert_eq!(list["Resources"], json!([]));

    let create = json!({
        "schemas": [USER_URN, ENTERPRISE_URN],
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "userName": "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1",
        "active": true,
        "emails": [{"primary": true, "type": "work", "value": "Test_User_fd0ea19b@testuser.com"}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        "roles": []
    });
    let (status, user) = t.scim(Method::POST, "/Users", Some(create)).await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    let id = user["id"].as_str().unwrap().to_string();
    let path = format!("/Users/{id}");
    let (status, dup) = t
        .scim(
            Method::POST,
            "/Users",
            Some(json!({"userName": "test_user_AB6490EE-1e48-479e-a20b-2d77186b5dd1"})),
        )
        .await;
    assert_eq!(
        (status, dup["scimType"].as_str()),
        (StatusCode::CONFLICT, Some("uniqueness"))
    );
    let (_, found) = get_raw(
        &t,
        "/Users?filter=userName+eq+%22Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1%22",
    )
    .await;
    assert_eq!(found["Resources"][0]["id"], id.as_str());

    // Capitalised ops, value filters, sub-attributes in any case.
    let user = patch(&t, &path, json!([
        {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "updatedEmail@microsoft.com"},
        {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"},
        {"op": "Add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 555 0199"},
        {"op": "Add", "path": "emails", "value": [{"Value": "home@example.com", "Type": "home"}]}
    ])).await;
    assert_eq!(user["emails"][0]["value"], "updatedEmail@microsoft.com");
    assert_eq!(
        user["emails"][1],
        json!({"value": "home@example.com", "type": "home"})
    );
    assert_eq!(user["name"]["familyName"], "updatedFamilyName");
    assert_eq!(
        user["phoneNumbers"],
        json!([{"type": "mobile", "value": "+1 555 0199"}])
    );

    // No-path replace with dotted and URN-qualified keys; manager as a bare id.
    let boss = t.create_user("boss", None, "boss@example.com").await;
    let user = patch(&t, &path, json!([
        {"op": "replace", "value": {"name.givenName": "Given", (format!("{ENTERPRISE_URN}:employeeNumber")): "4711", "displayName": "Given Name"}},
        {"op": "Add", "path": format!("{ENTERPRISE_URN}:manager"), "value": boss}
    ])).await;
    assert_eq!(user["name"]["givenName"], "Given");
    assert_eq!(user[ENTERPRISE_URN]["employeeNumber"], "4711");
    assert_eq!(user[ENTERPRISE_URN]["manager"], json!({"value": boss}));
    let (_, by_number) = get_raw(
        &t,
        &format!("/Users?filter={ENTERPRISE_URN}:employeeNumber+eq+%224711%22"),
    )
    .await;
    assert_eq!(by_number["totalResults"], 1);
    let (_, by_manager) = get_raw(
        &t,
        &format!("/Users?filter={ENTERPRISE_URN}:manager+eq+%22{boss}%22"),
    )
    .await;
    assert_eq!(by_manager["totalResults"], 1);

    // Disable with a string boolean; still retrievable by GET and filter.
    let user = patch(
        &t,
        &path,
        json!([{"op": "Replace", "path": "active", "value": "False"}]),
    )
    .await;
    assert_eq!(user["active"], false);
    let (status, _) = t.scim(Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::OK);
    let (_, found) = get_raw(
        &t,
        "/Users?filter=externalId+eq+%220a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef%22",
    )
    .await;
    assert_eq!(found["totalResults"], 1);
    let user = patch(
        &t,
        &path,
        json!([{"op": "Replace", "path": "active", "value": "True"}]),
    )
    .await;
    assert_eq!(user["active"], true);

    let (status, _) = t.scim(Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, err) = t.scim(Method::GET, &path, None).await;
    assert_eq!(
        (status, err["status"].as_str()),
        (StatusCode::NOT_FOUND, Some("404"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn entra_id_group_push() {
    let t = start().await;
    let u1 = t.create_user("u1", None, "u1@example.com").await;
    let u2 = t.create_user("u2", None, "u2@example.com").await;
    let (status, group) = t
        .scim(Method::POST, "/Groups", Some(json!({
            "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
            "displayName": "displayName",
            "meta": {"resourceType": "Group"},
            "schemas": [GROUP_URN, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
            "members": []
        })))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{group}");
    let id = group["id"].as_str().unwrap().to_string();
    let path = format!("/Groups/{id}");
    let (_, found) = get_raw(
        &t,
        "/Groups?excludedAttributes=members&filter=displayName+eq+%22displayName%22",
    )
    .await;
    assert_eq!(found["totalResults"], 1);
    assert!(found["Resources"][0].get("members").is_none());

    patch(&t, &path, json!([{"op": "Add", "path": "members", "value": [{"$ref": null, "value": u1}, {"$ref": null, "value": u2}]}])).await;
    let group = patch(
        &t,
        &path,
        json!([{"op": "Remove", "path": "members", "value": [{"$ref": null, "value": u1}]}]),
    )
    .await;
    assert_eq!(group["members"].as_array().unwrap().len(), 1);
    assert_eq!(group["members"][0]["value"], u2.as_str());
    let group = patch(
        &t,
        &path,
        json!([{"op": "Replace", "path": "displayName", "value": "1879db59updatedDisplayName"}]),
    )
    .await;
    assert_eq!(group["displayName"], "1879db59updatedDisplayName");
    assert_eq!(
        group["members"].as_array().unwrap().len(),
        1,
        "a rename keeps the members"
    );
    let (status, _) = t.scim(Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

#[tokio::test(flavor = "multi_thread")]
async fn okta_user_and_group_flows() {
    let t = start().await;
    let (status, list) = get_raw(
        &t,
        "/Users?filter=userName%20eq%20%22test.user%40okta.local%22&startIndex=1&count=100",
    )
    .await;
    assert_eq!(
        (status, list["totalResults"].as_u64()),
        (StatusCode::OK, Some(0))
    );
    let create = json!({
        "schemas": [USER_URN],
        "userName": "test.user@okta.local",
        "name": {"givenName": "Test", "familyName": "User"},
        "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work"}],
        "displayName": "Test User",
        "locale": "en-US",
        "externalId": "00ujl29u0le5T6Aj10h7",
        "groups": [],
        "password": "1mz050nq-Okta-PW",
        "active": true
    });
    let (status, user) = t.scim(Method::POST, "/Users", Some(create.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    let id = user["id"].as_str().unwrap().to_string();
    let (status, err) = t.scim(Method::POST, "/Users", Some(create.clone())).await;
    assert_eq!(
        (status, err["scimType"].as_str()),
        (StatusCode::CONFLICT, Some("uniqueness"))
    );
    // The provisioned password works over LDAP.
    let mut ldap = t.ldap().await;
    assert_eq!(
        ldap.simple_bind(&user_dn("test.user@okta.local"), "1mz050nq-Okta-PW")
            .await
            .unwrap()
            .rc,
        0
    );

    // Updates are a PUT of the whole user, with the id and a new password.
    let mut put = create.clone();
    put["id"] = id.clone().into();
    put["name"]["familyName"] = "Renamed".into();
    put["password"] = "n3w-Okta-pass".into();
    let (status, user) = t
        .scim(Method::PUT, &format!("/Users/{id}"), Some(put))
        .await;
    assert_eq!(status, StatusCode::OK, "{user}");
    assert_eq!(user["name"]["familyName"], "Renamed");
    assert_eq!(
        ldap.simple_bind(&user_dn("test.user@okta.local"), "n3w-Okta-pass")
            .await
            .unwrap()
            .rc,
        0
    );

    // Deactivation is a no-path replace.
    let user = patch(
        &t,
        &format!("/Users/{id}"),
        json!([{"op": "replace", "value": {"active": false}}]),
    )
    .await;
    assert_eq!(user["active"], false);
    assert_eq!(
        ldap.simple_bind(&user_dn("test.user@okta.local"), "n3w-Okta-pass")
            .await
            .unwrap()
            .rc,
        49
    );

    // Groups: create, rename with the id along, add, remove, empty, delete.
    let (status, group) = t
        .scim(
            Method::POST,
            "/Groups",
            Some(json!({"schemas": [GROUP_URN], "displayName": "Test SCIMv2", "members": []})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let gid = group["id"].as_str().unwrap().to_string();
    let gpath = format!("/Groups/{gid}");
    let group = patch(
        &t,
        &gpath,
        json!([{"op": "replace", "value": {"id": gid, "displayName": "Test SCIMv2 renamed"}}]),
    )
    .await;
    assert_eq!(group["displayName"], "Test SCIMv2 renamed");
    let group = patch(&t, &gpath, json!([{"op": "add", "path": "members", "value": [{"value": id, "display": "test.user@okta.local"}]}])).await;
    assert_eq!(group["members"][0]["display"], "test.user@okta.local");
    let group = patch(
        &t,
        &gpath,
        json!([{"op": "remove", "path": format!("members[value eq \"{id}\"]")}]),
    )
    .await;
    assert_eq!(group["members"], json!([]));
    patch(
        &t,
        &gpath,
        json!([{"op": "add", "path": "members", "value": [{"value": id}]}]),
    )
    .await;
    let group = patch(
        &t,
        &gpath,
        json!([{"op": "replace", "path": "members", "value": []}]),
    )
    .await;
    assert_eq!(group["members"], json!([]));
    let (status, _) = t.scim(Method::DELETE, &gpath, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    // Errors are SCIM Error JSON.
    let (status, err) = t
        .scim(
            Method::GET,
            &format!("/Users/{}", uuid::Uuid::new_v4()),
            None,
        )
        .await;
    assert_eq!(
        (status, err["schemas"][0].as_str()),
        (
            StatusCode::NOT_FOUND,
            Some("urn:ietf:params:scim:api:messages:2.0:Error")
        )
    );
    let resp = t
        .http
        .get(format!("{}/Users", t.scim))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["status"], "401");
}

#[tokio::test(flavor = "multi_thread")]
async fn onelogin_and_jumpcloud_shapes() {
    let t = start().await;
    // OneLogin: string booleans and a null id on create.
    let (status, user) = t
        .scim(Method::POST, "/Users", Some(json!({
            "schemas": [USER_URN], "id": null, "userName": "ol.user", "active": "true",
            "name": {"givenName": "One", "familyName": "Login"}, "emails": [{"value": "ol@example.com", "primary": "true"}]
        })))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    assert_eq!(user["active"], true);
    assert_eq!(user["emails"][0]["primary"], true);

    // JumpCloud's test connection creates, then deletes, a user and a group.
    let (status, probe) = t
        .scim(
            Method::POST,
            "/Users",
            Some(json!({"schemas": [USER_URN], "userName": "jc-probe-user"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, group) = t
        .scim(
            Method::POST,
            "/Groups",
            Some(json!({"schemas": [GROUP_URN], "displayName": "jc-probe-group"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    for path in [
        format!("/Users/{}", probe["id"].as_str().unwrap()),
        format!("/Groups/{}", group["id"].as_str().unwrap()),
    ] {
        let (status, _) = t.scim(Method::DELETE, &path, None).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{path}");
    }
    let (_, list) = t.scim(Method::GET, "/Users", None).await;
    assert_eq!(list["totalResults"], 1);
}
