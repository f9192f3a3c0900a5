//! Declared attributes (`profile.attributes`), with the example declaration
//! file `schemas/backoffice.toml`: every declared field written over SCIM,
//! read and filtered over SCIM and LDAP; values held to their declarations;
//! the picture served as jpegPhoto and at its photos URL; declarations
//! added and removed on a store that has data.

mod common;

use base64::Engine;
use common::*;
use ldap3::{Scope, SearchEntry};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const CUSTOM: &str = "urn:roster:params:scim:schemas:extension:custom:1.0:User";
const CUSTOM_GROUP: &str = "urn:roster:params:scim:schemas:extension:custom:1.0:Group";

/// A 1×1 PNG.
const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

fn example() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/backoffice.toml")
}

async fn start() -> TestServer {
    with_reader(start_with(|c| c.profile.attributes = Some(example())).await).await
}

const READER_PASSWORD: &str = "Looks-up-4-others";

/// The server, with a user `reader` who may read every entry over LDAP.
async fn with_reader(t: TestServer) -> TestServer {
    let id = t
        .create_user("reader", Some(READER_PASSWORD), "reader@example.com")
        .await;
    t.make_readers(&[&id]).await;
    t
}

/// An LDAP connection bound as the reader.
async fn reader(t: &TestServer) -> ldap3::Ldap {
    t.ldap_as("reader", READER_PASSWORD).await
}

/// One declared field: the value written, what SCIM gives back, the LDAP
/// values, and a SCIM and an LDAP filter that match it.
struct Field {
    name: &'static str,
    write: Value,
    read: Value,
    ldap: &'static [&'static str],
    scim_filter: &'static str,
    ldap_filter: &'static str,
}

fn fields() -> Vec<Field> {
    let f = |name, write: Value, read: Value, ldap, scim_filter, ldap_filter| Field {
        name,
        write,
        read,
        ldap,
        scim_filter,
        ldap_filter,
    };
    vec![
        f(
            "agentExtension",
            json!("101"),
            json!("101"),
            &["101"],
            r#"agentExtension eq "101""#,
            "(agentExtension=101)",
        ),
        f(
            "callerId",
            json!("+49 30 1234567"),
            json!("+49 30 1234567"),
            &["+49 30 1234567"],
            r#"callerId sw "+49""#,
            "(callerId=+49*)",
        ),
        f(
            "chatNickname",
            json!("Ann the Agent"),
            json!("Ann the Agent"),
            &["Ann the Agent"],
            r#"chatNickname co "the""#,
            "(chatNickname=*the*)",
        ),
        f(
            "defaultTicketQueue",
            json!("billing"),
            json!("billing"),
            &["billing"],
            r#"defaultTicketQueue eq "BILLING""#,
            "(defaultTicketQueue=Billing)",
        ),
        f(
            "isAgent",
            json!(true),
            json!(true),
            &["TRUE"],
            "isAgent eq true",
            "(isAgent=TRUE)",
        ),
        f(
            "allowManualCalls",
            json!("false"),
            json!(false),
            &["FALSE"],
            "allowManualCalls eq false",
            "(allowManualCalls=FALSE)",
        ),
        f(
            "outgoingCallMode",
            json!("Manual"),
            json!("manual"),
            &["manual"],
            r#"outgoingCallMode eq "manual""#,
            "(outgoingCallMode=manual)",
        ),
        f(
            "muteMicrophoneByDefault",
            json!(true),
            json!(true),
            &["TRUE"],
            "muteMicrophoneByDefault eq true",
            "(muteMicrophoneByDefault=TRUE)",
        ),
        f(
            "maskClientData",
            json!(true),
            json!(true),
            &["TRUE"],
            "maskClientData eq true",
            "(maskClientData=TRUE)",
        ),
        f(
            "anonymousModeByDefault",
            json!(false),
            json!(false),
            &["FALSE"],
            "anonymousModeByDefault eq false",
            "(anonymousModeByDefault=FALSE)",
        ),
        f(
            "participatesInCampaigns",
            json!(true),
            json!(true),
            &["TRUE"],
            "participatesInCampaigns eq true",
            "(participatesInCampaigns=TRUE)",
        ),
        f(
            "allowedClientTags",
            json!(["vip", "Wholesale", "VIP"]),
            json!(["vip", "Wholesale"]),
            &["vip", "Wholesale"],
            r#"allowedClientTags eq "wholesale""#,
            "(allowedClientTags=wholesale)",
        ),
        f(
            "allowedCountries",
            json!(["DE", "FR"]),
            json!(["DE", "FR"]),
            &["DE", "FR"],
            r#"allowedCountries eq "fr""#,
            "(allowedCountries=FR)",
        ),
        f(
            "allowedCountriesExcept",
            json!(true),
            json!(true),
            &["TRUE"],
            "allowedCountriesExcept eq true",
            "(allowedCountriesExcept=TRUE)",
        ),
        f(
            "telegramChatId",
            json!(-1001234567),
            json!(-1001234567),
            &["-1001234567"],
            "telegramChatId lt -1000000000",
            "(telegramChatId<=-1000000000)",
        ),
        f(
            "slackId",
            json!("U024BE7LH"),
            json!("U024BE7LH"),
            &["U024BE7LH"],
            r#"slackId eq "U024BE7LH""#,
            "(slackId=U024BE7LH)",
        ),
        f(
            "notifyOn",
            json!(["ticket.assigned", "call.missed"]),
            json!(["ticket.assigned", "call.missed"]),
            &["ticket.assigned", "call.missed"],
            r#"notifyOn eq "call.missed""#,
            "(notifyOn=call.missed)",
        ),
        f(
            "teams",
            json!(["Support", "Sales"]),
            json!(["Support", "Sales"]),
            &["Support", "Sales"],
            r#"teams sw "sup""#,
            "(teams=sup*)",
        ),
        f(
            "maxConcurrentChats",
            json!(3),
            json!(3),
            &["3"],
            "maxConcurrentChats ge 3",
            "(maxConcurrentChats>=3)",
        ),
        f(
            "commissionRate",
            json!(0.125),
            json!(0.125),
            &["0.125"],
            "commissionRate gt 0.1",
            "(commissionRate=0.125)",
        ),
        f(
            "employedSince",
            json!("2024-03-01T09:00:00+01:00"),
            json!("2024-03-01T08:00:00.000Z"),
            &["20240301080000.000Z"],
            r#"employedSince lt "2025-01-01T00:00:00Z""#,
            "(employedSince<=20250101000000Z)",
        ),
        f(
            "crmProfile",
            json!("https://crm.example.com/u/ann"),
            json!("https://crm.example.com/u/ann"),
            &["https://crm.example.com/u/ann"],
            r#"crmProfile ew "/ann""#,
            "(crmProfile=*/ann)",
        ),
    ]
}

/// The ids of the users a SCIM filter finds.
async fn scim_ids(t: &TestServer, filter: &str) -> Vec<String> {
    let url = format!("/Users?filter={}", urlencode(filter));
    let (status, body) = t.scim(Method::GET, &url, None).await;
    assert_eq!(status, StatusCode::OK, "{filter}: {body}");
    body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

/// The uids an LDAP filter finds under ou=people.
async fn ldap_uids(t: &TestServer, filter: &str) -> Vec<String> {
    let mut ldap = reader(t).await;
    let (entries, _) = ldap
        .search(
            &format!("ou=people,{BASE_DN}"),
            Scope::OneLevel,
            filter,
            vec!["uid"],
        )
        .await
        .unwrap()
        .success()
        .unwrap_or_else(|e| panic!("{filter}: {e}"));
    entries
        .into_iter()
        .map(|e| SearchEntry::construct(e).attrs["uid"][0].clone())
        .collect()
}

async fn create(t: &TestServer, name: &str, custom: Value) -> (StatusCode, Value) {
    t.scim(
        Method::POST,
        "/Users",
        Some(json!({
            "schemas": [USER_URN, CUSTOM],
            "userName": name,
            "emails": [{"value": format!("{name}@example.com")}],
            CUSTOM: custom,
        })),
    )
    .await
}

#[tokio::test]
async fn every_declared_field_is_written_over_scim_and_read_and_filtered_over_scim_and_ldap() {
    let t = start().await;
    let fields = fields();
    let mut custom = serde_json::Map::new();
    for f in &fields {
        custom.insert(f.name.into(), f.write.clone());
    }
    let (status, ann) = create(&t, "ann", Value::Object(custom)).await;
    assert_eq!(status, StatusCode::CREATED, "{ann}");
    let id = ann["id"].as_str().unwrap().to_string();
    assert!(
        ann["schemas"].as_array().unwrap().contains(&json!(CUSTOM)),
        "{ann}"
    );
    // Someone with other values, whom no filter below may find.
    let (status, bob) = create(
        &t,
        "bob",
        json!({"agentExtension": "202", "isAgent": false, "teams": ["Billing"], "telegramChatId": 5, "maxConcurrentChats": 1, "commissionRate": 0.05, "employedSince": "2025-06-01T00:00:00Z"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{bob}");

    let (_, read) = t.scim(Method::GET, &format!("/Users/{id}"), None).await;
    let mut ldap = reader(&t).await;
    let names: Vec<&str> = fields.iter().map(|f| f.name).collect();
    let entry = read_entry(&mut ldap, &user_dn("ann"), names.clone()).await;
    for f in &fields {
        assert_eq!(
            read[CUSTOM][f.name], f.read,
            "SCIM read of {}: {read}",
            f.name
        );
        let mut got = entry.attrs.get(f.name).cloned().unwrap_or_default();
        let mut want: Vec<String> = f.ldap.iter().map(|s| s.to_string()).collect();
        got.sort();
        want.sort();
        assert_eq!(got, want, "LDAP read of {}", f.name);
        assert_eq!(
            scim_ids(&t, f.scim_filter).await,
            vec![id.clone()],
            "SCIM filter {}",
            f.scim_filter
        );
        let full = f
            .scim_filter
            .replacen(f.name, &format!("{CUSTOM}:{}", f.name), 1);
        assert_eq!(
            scim_ids(&t, &full).await,
            vec![id.clone()],
            "SCIM filter {full}"
        );
        assert_eq!(
            ldap_uids(&t, f.ldap_filter).await,
            vec!["ann".to_string()],
            "LDAP filter {}",
            f.ldap_filter
        );
    }
    // `*` brings the declared attributes too, and the entry says so.
    let all = read_entry(&mut ldap, &user_dn("ann"), vec!["*"]).await;
    assert!(all.attrs.contains_key("agentExtension"));
    assert!(all.attrs["objectClass"].contains(&"rosterDeclaredUser".to_string()));
    assert_eq!(
        ldap_uids(&t, "(&(objectClass=rosterDeclaredUser)(uid=ann))").await,
        vec!["ann".to_string()]
    );
    // Presence and negation work on declared attributes as on built-in ones.
    assert_eq!(
        ldap_uids(&t, "(&(isAgent=*)(!(isAgent=TRUE)))").await,
        vec!["bob".to_string()]
    );
    assert_eq!(scim_ids(&t, "chatNickname pr").await, vec![id.clone()]);
    // Asked for by path, a declared attribute comes with its extension.
    let (_, projected) = t
        .scim(
            Method::GET,
            &format!("/Users/{id}?attributes=userName,{CUSTOM}:agentExtension"),
            None,
        )
        .await;
    assert_eq!(projected[CUSTOM]["agentExtension"], "101", "{projected}");
    assert!(projected.get("emails").is_none(), "{projected}");
}

#[tokio::test]
async fn declared_attributes_are_in_the_schemas_and_the_subschema() {
    let t = start().await;
    let (status, schema) = t
        .scim(Method::GET, &format!("/Schemas/{CUSTOM}"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{schema}");
    let attrs = schema["attributes"].as_array().unwrap();
    for f in fields() {
        assert!(
            attrs.iter().any(|a| a["name"] == f.name),
            "{} in {schema}",
            f.name
        );
    }
    let mode = attrs
        .iter()
        .find(|a| a["name"] == "outgoingCallMode")
        .unwrap();
    assert_eq!(mode["canonicalValues"], json!(["automatic", "manual"]));
    let picture = attrs.iter().find(|a| a["name"] == "picture").unwrap();
    assert_eq!(picture["type"], "binary");
    assert_eq!(picture["returned"], "never");
    let ext = attrs
        .iter()
        .find(|a| a["name"] == "agentExtension")
        .unwrap();
    assert_eq!(ext["uniqueness"], "server");
    let (_, types) = t.scim(Method::GET, "/ResourceTypes/User", None).await;
    assert!(
        types["schemaExtensions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["schema"] == CUSTOM),
        "{types}"
    );
    // A picture of up to profile.max_binary_bytes (5 MiB) fits in a body.
    let (_, config) = t.scim(Method::GET, "/ServiceProviderConfig", None).await;
    assert!(
        config["bulk"]["maxPayloadSize"].as_u64().unwrap() > 5 * 1024 * 1024 / 3 * 4,
        "{config}"
    );
    let (_, group_types) = t.scim(Method::GET, "/ResourceTypes/Group", None).await;
    assert!(group_types["schemaExtensions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["schema"] == CUSTOM_GROUP));

    let mut ldap = t.ldap().await;
    let sub = read_entry(
        &mut ldap,
        "cn=Subschema",
        vec!["attributeTypes", "objectClasses"],
    )
    .await;
    let types = &sub.attrs["attributeTypes"];
    for f in fields() {
        assert!(
            types
                .iter()
                .any(|d| d.contains(&format!("NAME '{}'", f.name))),
            "{} in cn=Subschema",
            f.name
        );
    }
    assert!(types
        .iter()
        .any(|d| d.starts_with("( 0.9.2342.19200300.100.1.60 NAME 'jpegPhoto'")));
    assert!(types.iter().any(|d| d.contains("NAME 'isAgent'")
        && d.contains("booleanMatch")
        && d.contains("SINGLE-VALUE")));
    assert!(sub.attrs["objectClasses"]
        .iter()
        .any(|c| c.contains("'rosterDeclaredUser'") && c.contains("agentExtension")));
}

#[tokio::test]
async fn a_value_that_breaks_its_declaration_is_refused_with_the_rule_named() {
    let t = start().await;
    let cases = [
        (json!({"agentExtension": "12"}), "pattern"),
        (json!({"outgoingCallMode": "sometimes"}), "canonical"),
        (json!({"isAgent": "maybe"}), "boolean"),
        (json!({"telegramChatId": "abc"}), "whole number"),
        (json!({"maxConcurrentChats": 4}), "canonical"),
        (json!({"commissionRate": "lots"}), "decimal"),
        (json!({"employedSince": "yesterday"}), "RFC 3339"),
        (json!({"chatNickname": "x".repeat(41)}), "longer than 40"),
        (json!({"chatNickname": ["a", "b"]}), "single-valued"),
        (json!({"notifyOn": ["never"]}), "canonical"),
        (json!({"allowedCountries": ["Germany"]}), "pattern"),
        (json!({"shoeSize": 44}), "not a declared attribute"),
        (json!({"picture": "not base64!"}), "base64"),
        (
            json!({"picture": base64::engine::general_purpose::STANDARD.encode(b"plain text")}),
            "PNG, JPEG",
        ),
    ];
    for (i, (custom, rule)) in cases.into_iter().enumerate() {
        let (status, body) = create(&t, &format!("user{i}"), custom.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{custom}: {body}");
        assert_eq!(body["scimType"], "invalidValue", "{custom}: {body}");
        let detail = body["detail"].as_str().unwrap();
        assert!(detail.contains(rule), "{custom}: {detail}");
    }
    // Nothing was half-written.
    assert!(scim_ids(&t, r#"userName sw "user""#).await.is_empty());
    // And uniqueness: one agent per extension.
    assert_eq!(
        create(&t, "ann", json!({"agentExtension": "300"})).await.0,
        StatusCode::CREATED
    );
    let (status, body) = create(&t, "bob", json!({"agentExtension": "300"})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["scimType"], "uniqueness");
}

#[tokio::test]
async fn declared_attributes_are_patched_replaced_and_sorted() {
    let t = start().await;
    let (_, ann) = create(
        &t,
        "ann",
        json!({"teams": ["Support"], "chatNickname": "Ann", "maxConcurrentChats": 5}),
    )
    .await;
    let id = ann["id"].as_str().unwrap().to_string();
    let patch = |ops: Value| json!({"schemas": [PATCH_URN], "Operations": ops});
    let (status, body) = t
        .scim(
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(patch(json!([
                {"op": "add", "path": format!("{CUSTOM}:teams"), "value": ["Sales"]},
                {"op": "replace", "path": format!("{CUSTOM}:chatNickname"), "value": "Annie"},
                {"op": "remove", "path": format!("{CUSTOM}:maxConcurrentChats")},
                {"op": "add", "value": {format!("{CUSTOM}:isAgent"): true}},
            ]))),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body[CUSTOM],
        json!({"teams": ["Support", "Sales"], "chatNickname": "Annie", "isAgent": true})
    );
    // A PATCH value that breaks the declaration changes nothing.
    let (status, body) = t
        .scim(
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(patch(json!([{"op": "replace", "path": format!("{CUSTOM}:agentExtension"), "value": "1"}]))),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let mut ldap = reader(&t).await;
    let entry = read_entry(
        &mut ldap,
        &user_dn("ann"),
        vec!["teams", "chatNickname", "maxConcurrentChats"],
    )
    .await;
    assert_eq!(entry.attrs["chatNickname"], vec!["Annie"]);
    assert!(!entry.attrs.contains_key("maxConcurrentChats"));
    // PUT replaces the declared values with what it states.
    let (status, body) = t
        .scim(
            Method::PUT,
            &format!("/Users/{id}"),
            Some(json!({"schemas": [USER_URN], "userName": "ann", "emails": [{"value": "ann@example.com"}], CUSTOM: {"defaultTicketQueue": "vip"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body[CUSTOM], json!({"defaultTicketQueue": "vip"}));

    // Sorting, by an indexed and by an unindexed attribute.
    for (name, queue, chats) in [("cy", "alpha", 10), ("di", "zulu", 1)] {
        let (status, body) = create(
            &t,
            name,
            json!({"defaultTicketQueue": queue, "maxConcurrentChats": chats}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let order = |body: Value| -> Vec<String> {
        body["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["userName"].as_str().unwrap().to_string())
            .filter(|n| n != "reader")
            .collect()
    };
    let (_, by_queue) = t
        .scim(
            Method::GET,
            "/Users?sortBy=defaultTicketQueue&sortOrder=descending",
            None,
        )
        .await;
    assert_eq!(order(by_queue), ["di", "ann", "cy"]);
    let (_, by_chats) = t
        .scim(
            Method::GET,
            &format!("/Users?sortBy={CUSTOM}:maxConcurrentChats"),
            None,
        )
        .await;
    // Numbers as numbers (1 before 10); ann has none and comes last.
    assert_eq!(order(by_chats), ["di", "cy", "ann"]);
}

#[tokio::test]
async fn a_picture_is_served_as_jpeg_photo_and_at_its_photos_url() {
    let t = with_reader(
        start_with(|c| {
            c.profile.attributes = Some(example());
            c.profile.max_binary_bytes = 4096;
        })
        .await,
    )
    .await;
    let (status, ann) = create(&t, "ann", json!({"picture": PNG, "chatNickname": "Ann"})).await;
    assert_eq!(status, StatusCode::CREATED, "{ann}");
    let id = ann["id"].as_str().unwrap().to_string();
    // Not in the resource (writeOnly); its URL is in photos.
    assert!(ann[CUSTOM].get("picture").is_none(), "{ann}");
    let url = ann["photos"][0]["value"]
        .as_str()
        .expect("a photos URL")
        .to_string();
    assert_eq!(url, format!("{}/Users/{id}/photos/picture", t.scim));
    assert_eq!(ann["photos"][0]["type"], "photo");
    let png = base64::engine::general_purpose::STANDARD
        .decode(PNG)
        .unwrap();
    let response = t.http.get(&url).bearer_auth(&t.token).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "image/png");
    assert_eq!(response.bytes().await.unwrap().to_vec(), png);
    // Without the token, nothing.
    assert_eq!(
        t.http.get(&url).send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );

    let mut ldap = reader(&t).await;
    let entry = read_entry(&mut ldap, &user_dn("ann"), vec!["jpegPhoto"]).await;
    assert_eq!(entry.bin_attrs["jpegPhoto"], vec![png.clone()]);
    // Large values come only when asked for by name.
    let all = read_entry(&mut ldap, &user_dn("ann"), vec!["*"]).await;
    assert!(!all.bin_attrs.contains_key("jpegPhoto") && !all.attrs.contains_key("jpegPhoto"));
    let (entries, _) = ldap
        .search(
            &format!("ou=people,{BASE_DN}"),
            Scope::OneLevel,
            "(uid=ann)",
            vec!["jpegPhoto"],
        )
        .await
        .unwrap()
        .success()
        .unwrap();
    assert_eq!(
        SearchEntry::construct(entries[0].clone()).bin_attrs["jpegPhoto"],
        vec![png.clone()]
    );

    // A replacement that does not restate the picture keeps it, as with a
    // password; one that sends the photos URL back does not store it.
    let (status, body) = t
        .scim(
            Method::PUT,
            &format!("/Users/{id}"),
            Some(json!({"schemas": [USER_URN], "userName": "ann", "photos": ann["photos"].clone(), CUSTOM: {"chatNickname": "Annie"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["photos"].as_array().unwrap().len(), 1, "{body}");
    assert_eq!(
        t.http
            .get(&url)
            .bearer_auth(&t.token)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    // Too large for profile.max_binary_bytes.
    let mut big = png.clone();
    big.extend(std::iter::repeat_n(0u8, 5000));
    let big = base64::engine::general_purpose::STANDARD.encode(&big);
    let (status, body) = create(&t, "bob", json!({"picture": big})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("larger than 4096 bytes"),
        "{body}"
    );
    // Removed with PATCH.
    let (status, body) = t
        .scim(
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(json!({"schemas": [PATCH_URN], "Operations": [{"op": "replace", "path": format!("{CUSTOM}:picture"), "value": ""}]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("photos").is_none(), "{body}");
    assert_eq!(
        t.http
            .get(&url)
            .bearer_auth(&t.token)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_group_carries_declared_attributes_over_scim_and_ldap() {
    let t = start().await;
    let (status, group) = t
        .scim(
            Method::POST,
            "/Groups",
            Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group", CUSTOM_GROUP], "displayName": "support", CUSTOM_GROUP: {"ticketQueue": "L1", "supervised": "true"}})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{group}");
    assert_eq!(
        group[CUSTOM_GROUP],
        json!({"ticketQueue": "L1", "supervised": true})
    );
    t.create_group("sales", &[]).await;
    let (_, found) = t
        .scim(
            Method::GET,
            &format!("/Groups?filter={}", urlencode("ticketQueue eq \"l1\"")),
            None,
        )
        .await;
    assert_eq!(found["totalResults"], 1, "{found}");
    let mut ldap = reader(&t).await;
    let entry = read_entry(
        &mut ldap,
        &group_dn("support"),
        vec!["ticketQueue", "supervised"],
    )
    .await;
    assert_eq!(entry.attrs["ticketQueue"], vec!["L1"]);
    assert_eq!(entry.attrs["supervised"], vec!["TRUE"]);
    let (entries, _) = ldap
        .search(
            &format!("ou=groups,{BASE_DN}"),
            Scope::OneLevel,
            "(supervised=TRUE)",
            vec!["cn"],
        )
        .await
        .unwrap()
        .success()
        .unwrap();
    assert_eq!(entries.len(), 1);
    let (status, body) = t
        .scim(
            Method::POST,
            "/Groups",
            Some(json!({"displayName": "bad", CUSTOM_GROUP: {"supervised": "sometimes"}})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn declarations_added_and_removed_on_a_store_with_data() {
    // A store with users, served without declarations.
    let plain = common::start().await;
    let id = plain.create_user("ann", None, "ann@example.com").await;
    let (status, body) = create(&plain, "bob", json!({"teams": ["x"]})).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "without the declaration: {body}"
    );
    // The same store, served with the declarations.
    let mut config = plain.config.clone();
    config.profile.attributes = Some(example());
    let declared =
        roster::Server::start(&config, std::sync::Arc::new(roster::directory::SystemClock))
            .await
            .expect("starts on the same store");
    let scim = format!("http://{}/scim/v2", declared.http_addr);
    let request = |method: Method, path: String, body: Option<Value>| {
        let mut r = plain
            .http
            .request(method, format!("{scim}{path}"))
            .bearer_auth(&plain.token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        r.send()
    };
    let (_, before) = plain.scim(Method::GET, &format!("/Users/{id}"), None).await;
    let patch = json!({"schemas": [PATCH_URN], "Operations": [{"op": "add", "value": {CUSTOM: {"teams": ["Support"], "defaultTicketQueue": "L2"}}}]});
    let r = request(Method::PATCH, format!("/Users/{id}"), Some(patch))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = request(
        Method::GET,
        format!(
            "/Users?filter={}",
            urlencode("defaultTicketQueue eq \"l2\"")
        ),
        None,
    )
    .await
    .unwrap();
    let found: Value = r.json().await.unwrap();
    assert_eq!(
        found["totalResults"], 1,
        "an indexed declared attribute filters after the restart: {found}"
    );
    // Served without the declarations again: kept, not served.
    until("the plain server sees the change", async || {
        let (_, u) = plain.scim(Method::GET, &format!("/Users/{id}"), None).await;
        u["meta"]["version"] != before["meta"]["version"]
    })
    .await;
    let (_, u) = plain.scim(Method::GET, &format!("/Users/{id}"), None).await;
    assert!(u.get(CUSTOM).is_none(), "{u}");
    assert!(!u["schemas"].as_array().unwrap().contains(&json!(CUSTOM)));
    // A write through the undeclared server keeps them…
    let (status, _) = plain
        .scim(Method::PATCH, &format!("/Users/{id}"), Some(json!({"schemas": [PATCH_URN], "Operations": [{"op": "replace", "path": "title", "value": "Agent"}]})))
        .await;
    assert_eq!(status, StatusCode::OK);
    // …and the declared server serves them still.
    until("the declared server sees the title", async || {
        let r = request(Method::GET, format!("/Users/{id}"), None)
            .await
            .unwrap();
        let u: Value = r.json().await.unwrap();
        u["title"] == "Agent"
    })
    .await;
    let r = request(Method::GET, format!("/Users/{id}"), None)
        .await
        .unwrap();
    let u: Value = r.json().await.unwrap();
    assert_eq!(
        u[CUSTOM],
        json!({"teams": ["Support"], "defaultTicketQueue": "L2"}),
        "{u}"
    );
}

/// Runs the command line on the server's store with the example
/// declarations (as `ROSTER_PROFILE_ATTRIBUTES` gives them).
fn cli_declared(t: &TestServer, args: &[&str]) -> (bool, String) {
    cli_with_env(t, args, &[("ROSTER_PROFILE_ATTRIBUTES", &example())])
}

const BACKOFFICE_CSV: &str = "\
userName,First Name,Last Name,Email,Title,locale,timezone,agentExtension,isAgent,outgoingCallMode,allowedCountries,teams,telegramChatId,employedSince
ann,Ann,Lee,ann@example.com,Agent,de-DE,Europe/Berlin,101,yes,manual,DE;FR,Support;Sales,-1001234567,2024-03-01T08:00:00Z
bob,Bob,Ray,bob@example.com,Supervisor,en-GB,Europe/London,102,false,automatic,GB,Support,,
";

#[tokio::test(flavor = "multi_thread")]
async fn back_office_fields_import_and_export_as_csv_and_ldif() {
    let quick = || {
        start_with(|c| {
            c.profile.attributes = Some(example());
            c.store.refresh_interval = std::time::Duration::from_millis(100);
        })
    };
    let t = with_reader(quick().await).await;
    // A dry run names the bad cell's rule.
    let bad = format!(
        "{BACKOFFICE_CSV}carl,Carl,,carl@example.com,,,,1234,,,,,,\ndora,Dora,,dora@example.com,,,,101,,,,,,\n"
    );
    let (ok, out) = cli_declared(
        &t,
        &[
            "import",
            "users",
            &write_file(&t, "bad.csv", &bad),
            "--dry-run",
        ],
    );
    assert!(
        !ok && out.contains("line 4:") && out.contains("agentExtension") && out.contains("pattern"),
        "{out}"
    );
    // Two rows of one file may not share a unique declared value either.
    assert!(
        out.contains("line 5: agentExtension:101 is on an earlier row too"),
        "{out}"
    );
    let path = write_file(&t, "users.csv", BACKOFFICE_CSV);
    let (ok, out) = cli_declared(&t, &["import", "users", &path]);
    assert!(
        ok && out.contains("2 users were created, 0 updated, 0 unchanged; 0 rows failed"),
        "{out}"
    );
    let (ok, out) = cli_declared(&t, &["import", "users", &path]);
    assert!(
        ok && out.contains("0 users were created, 0 updated, 2 unchanged"),
        "{out}"
    );
    // Served over SCIM and LDAP as if written over SCIM.
    until("the server sees the import", async || {
        scim_ids(&t, "teams pr").await.len() == 2
    })
    .await;
    let found = scim_ids(&t, r#"teams eq "sales" and isAgent eq true"#).await;
    assert_eq!(found.len(), 1);
    let (_, ann) = t
        .scim(Method::GET, &format!("/Users/{}", found[0]), None)
        .await;
    assert_eq!(
        ann[CUSTOM],
        json!({"agentExtension": "101", "isAgent": true, "outgoingCallMode": "manual", "allowedCountries": ["DE", "FR"], "teams": ["Support", "Sales"], "telegramChatId": -1001234567, "employedSince": "2024-03-01T08:00:00.000Z"})
    );
    assert_eq!(
        ldap_uids(&t, "(&(outgoingCallMode=automatic)(teams=support))").await,
        vec!["bob".to_string()]
    );

    // CSV export → import into another store → the same export.
    let (ok, csv) = cli_declared(&t, &["export", "users", "--format", "csv"]);
    assert!(ok, "{csv}");
    assert!(
        csv.lines().next().unwrap().contains("agentExtension"),
        "{csv}"
    );
    let other = start().await;
    let (ok, out) = cli_declared(
        &other,
        &["import", "users", &write_file(&other, "export.csv", &csv)],
    );
    assert!(ok, "{out}");
    let (_, again) = cli_declared(&other, &["export", "users", "--format", "csv"]);
    assert_eq!(again, csv);

    // LDIF: the declared attributes under their LDAP names, read back.
    let (ok, ldif) = cli_declared(&t, &["export", "users", "--format", "ldif"]);
    assert!(
        ok && ldif.contains("agentExtension: 101") && ldif.contains("isAgent: TRUE"),
        "{ldif}"
    );
    let third = quick().await;
    let (ok, out) = cli_declared(
        &third,
        &[
            "import",
            "users",
            &write_file(&third, "export.ldif", &ldif),
            "--format",
            "ldif",
        ],
    );
    assert!(ok, "{out}");
    let (_, ldif_again) = cli_declared(&third, &["export", "users", "--format", "ldif"]);
    assert_eq!(ldif_again, ldif);
    until("the third server sees the import", async || {
        scim_ids(&third, r#"employedSince lt "2025-01-01T00:00:00Z""#)
            .await
            .len()
            == 1
    })
    .await;
}

#[tokio::test]
async fn the_core_fields_the_back_offices_keep_are_served_over_scim_and_ldap() {
    // locale, time zone, country, job title, phone and roles need no
    // declaration: they are SCIM core attributes, and LDAP attributes too.
    let t = start().await;
    let (status, ann) = t
        .scim(
            Method::POST,
            "/Users",
            Some(json!({
                "userName": "ann",
                "title": "Agent",
                "locale": "de-DE",
                "timezone": "Europe/Berlin",
                "phoneNumbers": [{"value": "+49 30 1234567", "type": "work"}],
                "addresses": [{"type": "work", "country": "DE", "locality": "Berlin", "primary": true}],
                "roles": [{"value": "Agent"}, {"value": "Admin"}],
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{ann}");
    let id = ann["id"].as_str().unwrap().to_string();
    create(&t, "bob", json!({})).await;
    let cases: [(&str, &str, &[&str], &str, &str); 6] = [
        (
            "title",
            "title",
            &["Agent"],
            r#"title eq "agent""#,
            "(title=Agent)",
        ),
        (
            "locale",
            "rosterLocale",
            &["de-DE"],
            r#"locale eq "de-DE""#,
            "(rosterLocale=de-de)",
        ),
        (
            "timezone",
            "rosterTimezone",
            &["Europe/Berlin"],
            r#"timezone sw "Europe/""#,
            "(rosterTimezone=Europe/*)",
        ),
        (
            "phone",
            "telephoneNumber",
            &["+49 30 1234567"],
            r#"phoneNumbers.value sw "+49""#,
            "(telephoneNumber=+49*)",
        ),
        (
            "country",
            "c",
            &["DE"],
            r#"addresses.country eq "de""#,
            "(c=DE)",
        ),
        (
            "roles",
            "rosterRole",
            &["Agent", "Admin"],
            r#"roles.value eq "admin""#,
            "(rosterRole=Admin)",
        ),
    ];
    let mut ldap = reader(&t).await;
    let mut names: Vec<&str> = cases.iter().map(|c| c.1).collect();
    names.push("objectClass");
    let entry = read_entry(&mut ldap, &user_dn("ann"), names).await;
    assert!(entry.attrs["objectClass"].contains(&"rosterPerson".to_string()));
    for (field, ldap_name, values, scim_filter, ldap_filter) in cases {
        assert_eq!(
            entry.attrs.get(ldap_name).map(Vec::as_slice),
            Some(&values.iter().map(|v| v.to_string()).collect::<Vec<_>>()[..]),
            "{field}"
        );
        assert_eq!(
            scim_ids(&t, scim_filter).await,
            vec![id.clone()],
            "{field}: {scim_filter}"
        );
        assert_eq!(
            ldap_uids(&t, ldap_filter).await,
            vec!["ann".to_string()],
            "{field}: {ldap_filter}"
        );
    }
    let mut sub = t.ldap().await;
    let schema = read_entry(&mut sub, "cn=Subschema", vec!["attributeTypes"]).await;
    for name in ["'c'", "'rosterLocale'", "'rosterTimezone'", "'rosterRole'"] {
        assert!(
            schema.attrs["attributeTypes"]
                .iter()
                .any(|d| d.contains(name)),
            "{name}"
        );
    }
}

#[tokio::test]
async fn a_declaration_made_indexed_later_gets_its_index_rows_at_start() {
    // teams, declared without `indexed`: no index rows.
    let plain_file = tempfile::NamedTempFile::with_suffix(".toml").unwrap();
    std::fs::write(
        plain_file.path(),
        "[[user]]\nname = \"teams\"\ntype = \"string\"\nmulti_valued = true\n",
    )
    .unwrap();
    let t = start_with(|c| c.profile.attributes = Some(plain_file.path().to_path_buf())).await;
    let (status, body) = create(&t, "ann", json!({"teams": ["Support", "Sales"]})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    sqlx::any::install_default_drivers();
    let db = sqlx::AnyPool::connect(&t.config.database_url)
        .await
        .unwrap();
    let rows = || async {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM user_index WHERE attr = $1")
            .bind(format!("{CUSTOM}:teams"))
            .fetch_one(&db)
            .await
            .unwrap();
        n
    };
    assert_eq!(rows().await, 0);
    // The example declares teams `indexed`: a server started with it
    // writes the rows the values call for.
    let mut config = t.config.clone();
    config.profile.attributes = Some(example());
    let indexed =
        roster::Server::start(&config, std::sync::Arc::new(roster::directory::SystemClock))
            .await
            .unwrap();
    assert_eq!(rows().await, 2);
    drop(indexed);
    // And a second start finds nothing to do (the rows are not doubled).
    let again = roster::Server::start(&config, std::sync::Arc::new(roster::directory::SystemClock))
        .await
        .unwrap();
    assert_eq!(rows().await, 2);
    drop(again);
}
