//! Import and export of users as CSV and JSON lines through the `roster`
//! command line, against a running server's store: a dry run reports every
//! bad row and writes nothing; an import creates, a second one changes
//! nothing, an edited file updates only what it holds; an export reads
//! back unchanged.

mod common;

use std::time::Duration;

use common::{bind_rc, cli, start_with, until, write_file};
use reqwest::{Method, StatusCode};

const CSV: &str = "\
User Name,First Name,Last Name,Email,Title,password,uidNumber
ann,Ann,Lee,ann@example.com,Engineer,Orchid-pass-01,7001
bob,Bob,Ray,bob@example.com,,,7002
Łukasz,Łukasz,Ó,lukasz@example.com,Tester,,
";

#[tokio::test(flavor = "multi_thread")]
async fn csv_imports_once_updates_what_changed_and_round_trips() {
    let t = start_with(|c| c.store.refresh_interval = Duration::from_millis(100)).await;

    // A dry run with bad rows: every one reported by line, nothing written.
    let bad = format!(
        "{CSV}carl,Carl,,not-an-email,,,\nann,Again,,,,,\ndora,Dora,,,,short,\neve,Eve,,,,,seven\n"
    );
    let path = write_file(&t, "bad.csv", &bad);
    let (ok, out) = cli(&t, &["import", "users", &path, "--dry-run"]);
    assert!(!ok, "{out}");
    for expected in [
        "line 5: emails",
        "line 6: userName:ann is on an earlier row too",
        "line 7: password",
        "line 8: uidNumber",
        "3 users would be created",
        "4 rows failed",
        "nothing was written",
    ] {
        assert!(out.contains(expected), "{expected:?} in {out}");
    }
    let (_, list) = t.scim(Method::GET, "/Users", None).await;
    assert_eq!(list["totalResults"], 0, "a dry run writes nothing");

    // The import proper, then the same file again.
    let path = write_file(&t, "users.csv", CSV);
    let (ok, out) = cli(&t, &["import", "users", &path]);
    assert!(
        ok && out.contains("3 users were created, 0 updated, 0 unchanged; 0 rows failed"),
        "{out}"
    );
    let (ok, out) = cli(&t, &["import", "users", &path]);
    assert!(
        ok && out.contains("0 users were created, 0 updated, 3 unchanged"),
        "{out}"
    );
    until("the server sees the import", async || {
        bind_rc(&t, "ann", "Orchid-pass-01").await == 0
    })
    .await;
    let (_, ann) = t
        .scim(Method::GET, "/Users?filter=userName+eq+%22ann%22", None)
        .await;
    let ann = &ann["Resources"][0];
    assert_eq!(ann["name"]["familyName"], "Lee");
    assert_eq!(ann["title"], "Engineer");
    assert_eq!(
        ann["urn:roster:params:scim:schemas:extension:posix:1.0:User"]["uidNumber"],
        7001
    );

    // A batch with a row the store refuses (a uidNumber taken) falls back
    // to one at a time: the others are created, that one is reported.
    let path = write_file(&t, "clash.csv", "userName,uidNumber\ncleo,7001\ndan,\n");
    let (ok, out) = cli(&t, &["import", "users", &path]);
    assert!(
        !ok && out.contains("line 2: uidNumber is already in use"),
        "{out}"
    );
    assert!(out.contains("1 users were created"), "{out}");

    // A file with fewer columns updates what it has and keeps the rest.
    let path = write_file(&t, "titles.csv", "userName,title\nann,Architect\nbob,\n");
    let (ok, out) = cli(&t, &["import", "users", &path]);
    assert!(
        ok && out.contains("0 users were created, 1 updated, 1 unchanged"),
        "{out}"
    );
    until("the new title is served", async || {
        let (_, r) = t
            .scim(Method::GET, "/Users?filter=title+eq+%22Architect%22", None)
            .await;
        r["totalResults"] == 1
    })
    .await;

    // Export, import into an empty directory, export again: the same text.
    let (ok, exported) = cli(&t, &["export", "users", "--format", "csv"]);
    assert!(ok, "{exported}");
    assert!(
        exported.starts_with("userName,externalId,name.givenName"),
        "{exported}"
    );
    assert!(exported.contains("Łukasz,,Łukasz,Ó"), "{exported}");
    assert!(
        !exported.contains("Orchid-pass-01"),
        "no password is exported"
    );
    let other = start_with(|_| {}).await;
    let path = write_file(&other, "export.csv", &exported);
    let (ok, out) = cli(&other, &["import", "users", &path]);
    assert!(ok && out.contains("4 users were created"), "{out}");
    let (_, again) = cli(&other, &["export", "users", "--format", "csv"]);
    assert_eq!(again, exported);
    let (status, _) = other
        .scim(Method::GET, "/Users?filter=userName+eq+%22bob%22", None)
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn json_lines_round_trip_with_extensions() {
    let t = start_with(|_| {}).await;
    let lines = concat!(
        r#"{"userName":"ann","name":{"givenName":"Ann"},"emails":[{"value":"ann@example.com","primary":true},{"value":"a.lee@example.org","type":"home"}],"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"R&D"},"urn:roster:params:scim:schemas:extension:account:1.0:User":{"reportsOnly":true}}"#,
        "\n\n",
        r#"{"userName":"bob","active":false,"phoneNumbers":[{"value":"+1 555 0100","type":"work"}]}"#,
        "\n",
        "not json\n",
    );
    let path = write_file(&t, "users.jsonl", lines);
    let (ok, out) = cli(&t, &["import", "users", &path]);
    assert!(!ok && out.contains("line 4: not JSON"), "{out}");
    assert!(out.contains("2 users were created"), "{out}");
    let (ok, exported) = cli(&t, &["export", "users", "--format", "json"]);
    assert!(ok, "{exported}");
    assert!(exported.contains(r#""department":"R&D""#), "{exported}");
    assert!(exported.contains(r#""reportsOnly":true"#), "{exported}");
    assert!(exported.contains(r#""active":false"#), "{exported}");
    let path = write_file(&t, "export.jsonl", &exported);
    let (ok, out) = cli(&t, &["import", "users", &path]);
    assert!(
        ok && out.contains("0 users were created, 0 updated, 2 unchanged"),
        "{out}"
    );
    let other = start_with(|_| {}).await;
    let path = write_file(&other, "export.jsonl", &exported);
    let (ok, out) = cli(&other, &["import", "users", &path]);
    assert!(ok && out.contains("2 users were created"), "{out}");
    let (_, again) = cli(&other, &["export", "users", "--format", "json"]);
    assert_eq!(again, exported);
}

#[tokio::test(flavor = "multi_thread")]
async fn ldif_exports_read_back_unchanged() {
    let t = start_with(|_| {}).await;
    let (status, body) = t
        .scim(
            Method::POST,
            "/Users",
            Some(serde_json::json!({
                "userName": "łukasz", "displayName": "Łukasz Ó", "title": "Tester",
                "name": {"givenName": "Łukasz", "familyName": "Ó"},
                "emails": [{"value": "l@example.org"}, {"value": "lukasz@example.com", "primary": true}],
                "phoneNumbers": [{"value": "+48 600 000 000", "type": "mobile"}, {"value": "+48 22 000", "type": "work"}],
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "QA", "employeeNumber": "42"},
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    t.create_user("bob", None, "bob@example.com").await;
    let (ok, exported) = cli(&t, &["export", "users", "--format", "ldif"]);
    assert!(ok, "{exported}");
    assert!(
        exported.contains("dn:: "),
        "a non-ASCII DN is base64: {exported}"
    );
    assert!(exported.contains("mobile: +48 600 000 000"), "{exported}");
    assert!(exported.contains("objectClass: posixAccount"), "{exported}");
    let other = start_with(|_| {}).await;
    let path = write_file(&other, "export.ldif", &exported);
    let (ok, out) = cli(&other, &["import", "users", &path]);
    assert!(ok && out.contains("imported 2 users"), "{out}");
    let (_, again) = cli(&other, &["export", "users", "--format", "ldif"]);
    assert_eq!(again, exported);
}

#[tokio::test(flavor = "multi_thread")]
async fn group_definitions_move_between_directories_by_name() {
    let t = start_with(|_| {}).await;
    let ann = t.create_user("ann", None, "ann@example.com").await;
    let bob = t.create_user("bob", None, "bob@example.com").await;
    let devs = t.create_group("devs", &[&ann, &bob]).await;
    t.create_group("staff", &[&devs]).await;
    t.create_group("empty", &[]).await;
    let (status, body) = t
        .scim(
            Method::PATCH,
            &format!("/Groups/{devs}"),
            Some(serde_json::json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "add", "path": "urn:roster:params:scim:schemas:extension:group:1.0:Group:permissions", "value": ["code.push"]}]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (ok, exported) = cli(&t, &["export", "groups"]);
    assert!(
        exported.contains(r#""permissions":["code.push"]"#),
        "{exported}"
    );
    assert!(ok, "{exported}");
    assert!(
        exported
            .contains(r#""members":[{"type":"User","name":"ann"},{"type":"User","name":"bob"}]"#),
        "{exported}"
    );
    assert!(
        exported.contains(r#"{"type":"Group","name":"devs"}"#),
        "{exported}"
    );
    assert!(!exported.contains(&ann), "members by name, not id");

    // Another directory with the same users: a dry run, then the import
    // (staff comes before devs in the file; nesting still resolves).
    let other = start_with(|_| {}).await;
    other.create_user("ann", None, "ann@example.com").await;
    let reversed: String = exported.lines().rev().map(|l| format!("{l}\n")).collect();
    let path = write_file(&other, "groups.jsonl", &reversed);
    let (ok, out) = cli(&other, &["import", "groups", &path, "--dry-run"]);
    assert!(
        !ok && out.contains("devs: member User \"bob\" is not in the directory"),
        "{out}"
    );
    other.create_user("bob", None, "bob@example.com").await;
    let (ok, out) = cli(&other, &["import", "groups", &path, "--dry-run"]);
    assert!(ok && out.contains("3 groups would be created"), "{out}");
    let (ok, out) = cli(&other, &["import", "groups", &path]);
    assert!(
        ok && out.contains("3 groups were created, 0 updated, 0 unchanged"),
        "{out}"
    );
    let (_, again) = cli(&other, &["export", "groups"]);
    assert_eq!(again, exported);
    let (ok, out) = cli(&other, &["import", "groups", &path]);
    assert!(
        ok && out.contains("0 groups were created, 0 updated, 3 unchanged"),
        "{out}"
    );

    // An edited definition: exactly the members and permissions it lists.
    let edited = exported
        .replace(r#",{"type":"User","name":"bob"}"#, "")
        .replace(r#"["code.push"]"#, r#"["code.push","code.review"]"#);
    let path = write_file(&other, "edited.jsonl", &edited);
    let (ok, out) = cli(&other, &["import", "groups", &path]);
    assert!(
        ok && out.contains("0 groups were created, 1 updated, 2 unchanged"),
        "{out}"
    );
    let (ok, out) = cli(&other, &["group", "show", "devs"]);
    assert!(
        ok && out.contains("members    1") && !out.contains("bob"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_spreadsheet_imports_like_csv() {
    let t = start_with(|_| {}).await;
    let path = t.config.data_dir.join("people.xlsx");
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (c, header) in ["User Name", "First Name", "Email", "uidNumber", "active"]
        .iter()
        .enumerate()
    {
        sheet.write_string(0, c as u16, *header).unwrap();
    }
    sheet.write_string(1, 0, "ann").unwrap();
    sheet.write_string(1, 1, "Ann").unwrap();
    sheet.write_string(1, 2, "ann@example.com").unwrap();
    sheet.write_number(1, 3, 7001.0).unwrap();
    sheet.write_boolean(1, 4, false).unwrap();
    sheet.write_string(2, 0, "bob").unwrap();
    sheet.write_string(2, 2, "not an email").unwrap();
    book.save(&path).unwrap();
    let (ok, out) = cli(&t, &["import", "users", path.to_str().unwrap()]);
    assert!(!ok && out.contains("line 3: emails"), "{out}");
    assert!(out.contains("1 users were created"), "{out}");
    let (_, exported) = cli(&t, &["export", "users"]);
    assert!(
        exported.contains("ann,,Ann,,,,,ann@example.com"),
        "{exported}"
    );
    assert!(
        exported.contains(",7001,100,,,,false"),
        "the number as typed, and inactive: {exported}"
    );
}
