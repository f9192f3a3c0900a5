//! The read commands of `roster` for the people who run it: user list with
//! --search and --status, user show, group list and show, each with --json.

mod common;

use common::{bind_rc, cli, start_with};

#[tokio::test(flavor = "multi_thread")]
async fn users_are_searched_filtered_by_status_and_shown() {
    let t = start_with(|c| c.policy.max_failed_logins = 1).await;
    let ann = t
        .create_user("ann", Some("S3cure-pass!"), "ann.lee@example.com")
        .await;
    t.create_user("bob", Some("S3cure-pass!"), "bob@example.org")
        .await;
    t.create_user("zoe", None, "zoe@example.com").await;
    t.create_group("devs", &[&ann]).await;
    assert_eq!(bind_rc(&t, "bob", "wrong").await, 49, "bob is locked now");

    // --search looks in userName, first and last name and email.
    let (ok, out) = cli(&t, &["user", "list", "--search", "LEE"]);
    assert!(
        ok && out.contains("ann") && !out.contains("bob") && !out.contains("zoe"),
        "{out}"
    );
    let (_, out) = cli(&t, &["user", "list", "--search", "example.com", "--json"]);
    let names: Vec<String> = out
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["userName"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(names, ["ann", "zoe"]);
    let (_, out) = cli(&t, &["user", "list", "--status", "locked"]);
    assert!(out.contains("bob") && !out.contains("ann"), "{out}");
    let (ok, out) = cli(&t, &["user", "list", "--status", "sleepy"]);
    assert!(!ok && out.contains("unknown status"), "{out}");

    // show: every field, the groups, MFA state, who created it.
    let (ok, out) = cli(&t, &["user", "show", "ann"]);
    assert!(ok, "{out}");
    for expected in [
        "status             active",
        "groups             devs",
        "mfa                notRequired",
        "by scim:token:bootstrap-admin",
    ] {
        assert!(out.contains(expected), "{expected:?} in {out}");
    }
    let (ok, out) = cli(&t, &["user", "show", "bob", "--json"]);
    assert!(ok, "{out}");
    let bob: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(bob[common::ACCOUNT_URN]["status"], "locked");
    assert!(bob.get("password").is_none());

    let (ok, out) = cli(&t, &["group", "show", "devs"]);
    assert!(
        ok && out.contains("members    1") && out.contains("User ann"),
        "{out}"
    );
    let (ok, out) = cli(&t, &["group", "list", "--json"]);
    assert!(ok && out.contains("\"displayName\":\"devs\""), "{out}");
}
