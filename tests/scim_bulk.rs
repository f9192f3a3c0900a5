//! SCIM Bulk (RFC 7644 §3.7): bulkId references in both directions,
//! failOnErrors, per-operation statuses, and the limits.

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const BULK_URN: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";

async fn bulk(t: &TestServer, body: Value) -> (StatusCode, Value) {
    t.scim(Method::POST, "/Bulk", Some(body)).await
}

#[tokio::test(flavor = "multi_thread")]
async fn bulk_ids_resolve_forward_and_backward() {
    let t = start().await;
    let (status, resp) = bulk(&t, json!({
        "schemas": [BULK_URN],
        "Operations": [
            // The group refers forward to a user created later in the list.
            {"method": "POST", "path": "/Groups", "bulkId": "g1", "data": {"displayName": "team", "members": [{"type": "User", "value": "bulkId:u1"}]}},
            {"method": "POST", "path": "/Users", "bulkId": "u1", "data": {"schemas": [USER_URN], "userName": "bulky"}},
            {"method": "PATCH", "path": "/Users/bulkId:u1", "data": {"Operations": [{"op": "add", "path": "title", "value": "Batch"}]}},
            {"method": "POST", "path": "/Users", "bulkId": "u2", "data": {"userName": "bulky2"}},
            {"method": "DELETE", "path": "/Users/bulkId:u2"}
        ]
    })).await;
    assert_eq!(status, StatusCode::OK, "{resp}");
    assert_eq!(
        resp["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
    );
    let ops = resp["Operations"].as_array().unwrap();
    let statuses: Vec<&str> = ops.iter().map(|o| o["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, vec!["201", "201", "200", "201", "204"], "{resp}");
    assert_eq!(ops[0]["bulkId"], "g1");
    let user_location = ops[1]["location"].as_str().unwrap();
    let user_id = user_location.rsplit('/').next().unwrap();
    let group_id = ops[0]["location"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let (_, group) = t
        .scim(Method::GET, &format!("/Groups/{group_id}"), None)
        .await;
    assert_eq!(group["members"][0]["value"], user_id);
    let (_, user) = t
        .scim(Method::GET, &format!("/Users/{user_id}"), None)
        .await;
    assert_eq!(user["title"], "Batch");
    assert_eq!(ops[2]["version"], user["meta"]["version"]);
    let (_, list) = t.scim(Method::GET, "/Users", None).await;
    assert_eq!(list["totalResults"], 1, "bulky2 was created and deleted");
}

#[tokio::test(flavor = "multi_thread")]
async fn bulk_errors_are_per_operation() {
    let t = start().await;
    t.create_user("taken", None, "taken@example.com").await;
    let (status, resp) = bulk(&t, json!({
        "schemas": [BULK_URN],
        "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "a", "data": {"userName": "taken"}},
            {"method": "POST", "path": "/Users", "bulkId": "b", "data": {"userName": "fresh"}},
            {"method": "POST", "path": "/Groups", "bulkId": "c", "data": {"displayName": "x", "members": [{"value": "bulkId:nope"}]}},
            {"method": "POST", "path": "/Groups", "bulkId": "d", "data": {"displayName": "d", "members": [{"value": "bulkId:e"}]}},
            {"method": "POST", "path": "/Groups", "bulkId": "e", "data": {"displayName": "e", "members": [{"value": "bulkId:d"}]}},
            {"method": "GET", "path": "/Users"}
        ]
    })).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "an unsupported method fails the whole request: {resp}"
    );

    let (status, resp) = bulk(&t, json!({
        "schemas": [BULK_URN],
        "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "a", "data": {"userName": "taken"}},
            {"method": "POST", "path": "/Users", "bulkId": "b", "data": {"userName": "fresh"}},
            {"method": "POST", "path": "/Groups", "bulkId": "c", "data": {"displayName": "x", "members": [{"value": "bulkId:nope"}]}},
            {"method": "POST", "path": "/Groups", "bulkId": "d", "data": {"displayName": "d", "members": [{"value": "bulkId:e"}]}},
            {"method": "POST", "path": "/Groups", "bulkId": "e", "data": {"displayName": "e", "members": [{"value": "bulkId:d"}]}}
        ]
    })).await;
    assert_eq!(status, StatusCode::OK, "{resp}");
    let ops = resp["Operations"].as_array().unwrap();
    let statuses: Vec<&str> = ops.iter().map(|o| o["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, vec!["409", "201", "400", "409", "409"], "{resp}");
    assert_eq!(ops[0]["response"]["scimType"], "uniqueness");
    assert_eq!(ops[0]["response"]["status"], "409");

    // failOnErrors stops after that many errors.
    let (_, resp) = bulk(
        &t,
        json!({
            "schemas": [BULK_URN], "failOnErrors": 1,
            "Operations": [
                {"method": "POST", "path": "/Users", "bulkId": "a", "data": {"userName": "taken"}},
                {"method": "POST", "path": "/Users", "bulkId": "b", "data": {"userName": "never"}}
            ]
        }),
    )
    .await;
    assert_eq!(resp["Operations"].as_array().unwrap().len(), 1);
    let (_, list) = t
        .scim(
            Method::GET,
            "/Users?filter=userName%20eq%20%22never%22",
            None,
        )
        .await;
    assert_eq!(list["totalResults"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn bulk_limits_are_advertised_and_enforced() {
    let t = start_with(|c| c.http.bulk_max_operations = 3).await;
    let (_, spc) = t.scim(Method::GET, "/ServiceProviderConfig", None).await;
    assert_eq!(
        spc["bulk"],
        json!({"supported": true, "maxOperations": 3, "maxPayloadSize": t.config.http.max_body_bytes})
    );
    let op = json!({"method": "POST", "path": "/Users", "data": {"userName": "x"}});
    let (status, err) = bulk(
        &t,
        json!({"schemas": [BULK_URN], "Operations": [op, op, op, op]}),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(err["status"], "413");
    let (_, list) = t.scim(Method::GET, "/Users", None).await;
    assert_eq!(
        list["totalResults"], 0,
        "nothing of a refused request is applied"
    );
}
