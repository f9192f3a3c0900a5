//! LDAP operations and controls: who may read what, binds by name or mail,
//! paged results (RFC 2696), server-side sort (RFC 2891), compare,
//! password modify (RFC 3062), critical controls.

mod common;

use common::*;
use ldap3::controls::{Control, ControlType, PagedResults, RawControl};
use ldap3::exop::{PasswordModify, PasswordModifyResp};
use ldap3::{Scope, SearchEntry};

async fn uids(ldap: &mut ldap3::Ldap, filter: &str) -> Vec<String> {
    let (entries, res) = ldap
        .search(BASE_DN, Scope::Subtree, filter, vec!["uid"])
        .await
        .unwrap()
        .success()
        .unwrap();
    assert_eq!(res.rc, 0);
    entries
        .into_iter()
        .filter_map(|e| {
            SearchEntry::construct(e)
                .attrs
                .get("uid")
                .map(|v| v[0].clone())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn users_read_their_own_entry_and_readers_read_all() {
    let t = start().await;
    let alice = t
        .create_user("alice", Some("S3cure-pass!"), "alice@example.com")
        .await;
    let svc = t
        .create_user("svc-app", Some("S3rvice-pass!"), "svc@example.com")
        .await;
    t.create_user("bob", None, "bob@example.com").await;
    t.create_group("devs", &[&alice]).await;
    t.make_readers(&[&svc]).await;

    let mut user = t.ldap_as("alice", "S3cure-pass!").await;
    assert_eq!(uids(&mut user, "(objectClass=*)").await, ["alice"]);
    assert!(uids(&mut user, "(uid=bob)").await.is_empty());
    let (groups, _) = user
        .search(
            BASE_DN,
            Scope::Subtree,
            "(objectClass=groupOfNames)",
            vec!["cn"],
        )
        .await
        .unwrap()
        .success()
        .unwrap();
    assert!(groups.is_empty(), "a plain user sees no groups");
    let cmp = user
        .compare(&user_dn("bob"), "mail", "bob@example.com")
        .await
        .unwrap();
    assert_eq!(
        cmp.0.rc, 32,
        "another user's entry does not exist for alice"
    );

    let mut reader = t.ldap_as("svc-app", "S3rvice-pass!").await;
    let mut all = uids(&mut reader, "(objectClass=inetOrgPerson)").await;
    all.sort();
    assert_eq!(all, ["alice", "bob", "svc-app"]);
    // Secrets are never returned, even for "*" and "+" or by name.
    let (entries, _) = reader
        .search(
            BASE_DN,
            Scope::Subtree,
            "(uid=alice)",
            vec!["*", "+", "userPassword"],
        )
        .await
        .unwrap()
        .success()
        .unwrap();
    let e = SearchEntry::construct(entries[0].clone());
    assert!(
        !e.attrs
            .keys()
            .any(|k| k.eq_ignore_ascii_case("userPassword")),
        "{e:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn binds_by_user_name_or_mail_when_configured() {
    let strict = start().await;
    strict
        .create_user("alice", Some("S3cure-pass!"), "alice@example.com")
        .await;
    let mut ldap = strict.ldap().await;
    assert_eq!(
        ldap.simple_bind("alice", "S3cure-pass!").await.unwrap().rc,
        49
    );

    // Two accounts share an address (allowed when profile.unique_email is off).
    let t = start_with(|c| {
        c.ldap.bind_with = vec!["dn".into(), "uid".into(), "mail".into()];
        c.profile.unique_email = false;
    })
    .await;
    t.create_user("alice", Some("S3cure-pass!"), "alice@example.com")
        .await;
    t.create_user("twin1", Some("S3cure-pass!"), "shared@example.com")
        .await;
    t.create_user("twin2", Some("S3cure-pass!"), "shared@example.com")
        .await;
    for name in ["alice", "ALICE", "alice@example.com", &user_dn("alice")] {
        let mut ldap = t.ldap().await;
        assert_eq!(
            ldap.simple_bind(name, "S3cure-pass!").await.unwrap().rc,
            0,
            "{name}"
        );
        let (exop, _) = ldap
            .extended(ldap3::exop::WhoAmI)
            .await
            .unwrap()
            .success()
            .unwrap();
        assert_eq!(
            exop.parse::<ldap3::exop::WhoAmIResp>().authzid,
            format!("dn:{}", user_dn("alice"))
        );
    }
    let mut ldap = t.ldap().await;
    assert_eq!(ldap.simple_bind("alice", "wrong").await.unwrap().rc, 49);
    assert_eq!(
        ldap.simple_bind("shared@example.com", "S3cure-pass!")
            .await
            .unwrap()
            .rc,
        49,
        "an address two users share names neither"
    );
}

/// `SEQUENCE OF SEQUENCE { attributeType, reverseOrder [1] BOOLEAN }`.
fn sort_control(attr: &str, reverse: bool) -> RawControl {
    let mut key = vec![0x04, attr.len() as u8];
    key.extend_from_slice(attr.as_bytes());
    if reverse {
        key.extend_from_slice(&[0x81, 0x01, 0xff]);
    }
    let mut inner = vec![0x30, key.len() as u8];
    inner.extend(key);
    let mut val = vec![0x30, inner.len() as u8];
    val.extend(inner);
    RawControl {
        ctype: "1.2.840.113556.1.4.473".into(),
        crit: false,
        val: Some(val),
    }
}

/// The sortResult code of a sort response control.
fn sort_result(ctrls: &[Control]) -> Option<u8> {
    ctrls.iter().find_map(|Control(_, raw)| {
        (raw.ctype == "1.2.840.113556.1.4.474").then(|| raw.val.as_ref().unwrap()[4])
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn paged_results_walk_a_stable_snapshot_and_sort() {
    let t = start().await;
    let mut ids = Vec::new();
    for i in 0..25 {
        ids.push(
            t.create_user(&format!("u{i:02}"), None, &format!("u{i}@example.com"))
                .await,
        );
    }
    let svc = t
        .create_user("svc", Some("S3rvice-pass!"), "svc@example.com")
        .await;
    t.make_readers(&[&svc]).await;
    let mut ldap = t.ldap_as("svc", "S3rvice-pass!").await;
    let people = format!("ou=people,{BASE_DN}");
    let filter = "(uid=u*)";

    let mut seen = Vec::new();
    let mut cookie = Vec::new();
    let mut pages = 0;
    loop {
        let res = ldap
            .with_controls(PagedResults {
                size: 10,
                cookie: cookie.clone(),
            })
            .search(&people, Scope::OneLevel, filter, vec!["uid"])
            .await
            .unwrap();
        let (entries, done) = (res.0, res.1);
        assert_eq!(done.rc, 0, "{done:?}");
        pages += 1;
        let paged = done
            .ctrls
            .iter()
            .find_map(|c| match c {
                Control(Some(ControlType::PagedResults), raw) => Some(raw.parse::<PagedResults>()),
                _ => None,
            })
            .expect("a paged results response control");
        assert_eq!(paged.size, 25, "totalCount");
        seen.extend(
            entries
                .into_iter()
                .map(|e| SearchEntry::construct(e).attrs["uid"][0].clone()),
        );
        if pages == 1 {
            // Changes after the first page do not shift the pages.
            t.create_user("u00a", None, "late@example.com").await;
        }
        if paged.cookie.is_empty() {
            break;
        }
        cookie = paged.cookie;
    }
    assert_eq!(pages, 3);
    let expected: Vec<String> = (0..25).map(|i| format!("u{i:02}")).collect();
    assert_eq!(seen, expected, "every entry once, in order");

    // A cookie that is not ours is refused; a size of 0 abandons.
    let res = ldap
        .with_controls(PagedResults {
            size: 10,
            cookie: b"forged".to_vec(),
        })
        .search(&people, Scope::OneLevel, filter, vec!["uid"])
        .await
        .unwrap();
    assert_eq!(res.1.rc, 53);
    let first = ldap
        .with_controls(PagedResults {
            size: 5,
            cookie: vec![],
        })
        .search(&people, Scope::OneLevel, filter, vec!["uid"])
        .await
        .unwrap();
    let cookie = first
        .1
        .ctrls
        .iter()
        .find_map(|c| match c {
            Control(Some(ControlType::PagedResults), raw) => {
                Some(raw.parse::<PagedResults>().cookie)
            }
            _ => None,
        })
        .unwrap();
    let abandon = ldap
        .with_controls(PagedResults {
            size: 0,
            cookie: cookie.clone(),
        })
        .search(&people, Scope::OneLevel, filter, vec!["uid"])
        .await
        .unwrap();
    assert_eq!(abandon.1.rc, 0);
    assert!(abandon.0.is_empty());
    let after = ldap
        .with_controls(PagedResults { size: 5, cookie })
        .search(&people, Scope::OneLevel, filter, vec!["uid"])
        .await
        .unwrap();
    assert_eq!(after.1.rc, 53, "the abandoned cookie is gone");

    // Server-side sort: one key, reverse order.
    let res = ldap
        .with_controls(sort_control("uid", true))
        .search(&people, Scope::OneLevel, "(uid=u0*)", vec!["uid"])
        .await
        .unwrap();
    assert_eq!(res.1.rc, 0);
    assert_eq!(sort_result(&res.1.ctrls), Some(0));
    let order: Vec<String> = res
        .0
        .into_iter()
        .map(|e| SearchEntry::construct(e).attrs["uid"][0].clone())
        .collect();
    assert_eq!(
        order,
        ["u09", "u08", "u07", "u06", "u05", "u04", "u03", "u02", "u01", "u00a", "u00"]
    );
    let res = ldap
        .with_controls(sort_control("shoeSize", false))
        .search(&people, Scope::OneLevel, "(uid=u0*)", vec!["uid"])
        .await
        .unwrap();
    assert_eq!(
        res.1.rc, 0,
        "a non-critical sort that cannot be done still answers"
    );
    assert_eq!(sort_result(&res.1.ctrls), Some(16), "noSuchAttribute");

    // A critical control Roster does not implement fails the operation.
    let res = ldap
        .with_controls(RawControl {
            ctype: "1.2.3.4.5".into(),
            crit: true,
            val: None,
        })
        .search(&people, Scope::OneLevel, "(uid=u01)", vec!["uid"])
        .await
        .unwrap();
    assert_eq!(res.1.rc, 12);
    let res = ldap
        .with_controls(RawControl {
            ctype: "1.2.3.4.5".into(),
            crit: false,
            val: None,
        })
        .search(&people, Scope::OneLevel, "(uid=u01)", vec!["uid"])
        .await
        .unwrap();
    assert_eq!(res.1.rc, 0, "a non-critical one is ignored");
    let _ = ids;
}

#[tokio::test(flavor = "multi_thread")]
async fn binds_answer_the_password_policy_control() {
    let t = start().await;
    t.create_user("alice", Some("S3cure-pass!"), "alice@example.com")
        .await;
    for (password, rc) in [("S3cure-pass!", 0), ("wrong", 49)] {
        let (_, code, _, control) = t.ppolicy_bind("alice", password).await;
        assert_eq!(code, rc);
        // An empty PasswordPolicyResponseValue: no warning, and no error
        // that would tell a locked account from a wrong password.
        assert_eq!(control, Some(vec![0x30, 0x00]));
    }
    let mut ldap = t.ldap().await;
    let res = ldap
        .simple_bind(&user_dn("alice"), "S3cure-pass!")
        .await
        .unwrap();
    assert_eq!(ppolicy_response(&res.ctrls), None, "only when asked for");
}

#[tokio::test(flavor = "multi_thread")]
async fn compare_answers_true_false_and_undefined() {
    let t = start().await;
    let svc = t
        .create_user("svc", Some("S3rvice-pass!"), "svc@example.com")
        .await;
    let alice = t
        .create_user("alice", Some("S3cure-pass!"), "alice@example.com")
        .await;
    t.create_group("devs", &[&alice]).await;
    t.make_readers(&[&svc]).await;
    let mut ldap = t.ldap_as("svc", "S3rvice-pass!").await;
    let c = |dn: String, attr: &'static str, val: &'static str| (dn, attr, val);
    for ((dn, attr, val), rc) in [
        (c(user_dn("alice"), "mail", "ALICE@example.com"), 6),
        (c(user_dn("alice"), "mail", "bob@example.com"), 5),
        (
            c(
                user_dn("alice"),
                "memberOf",
                "cn=devs,ou=groups,dc=example,dc=com",
            ),
            6,
        ),
        (
            c(
                group_dn("devs"),
                "member",
                "uid=alice,ou=people,dc=example,dc=com",
            ),
            6,
        ),
        (c(group_dn("devs"), "cn", "ops"), 5),
        (c(user_dn("alice"), "shoeSize", "44"), 17),
        (c(user_dn("nobody"), "mail", "x"), 32),
        (c(user_dn("alice"), "userPassword", "S3cure-pass!"), 50),
        (c(format!("ou=people,{BASE_DN}"), "ou", "people"), 6),
    ] {
        let res = ldap.compare(&dn, attr, val).await.unwrap();
        assert_eq!(res.0.rc, rc, "{dn} {attr}={val}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn password_modify_for_oneself_and_by_administrators() {
    let t = start().await;
    let admin = t
        .create_user("root", Some("Adm1n-pass!!"), "root@example.com")
        .await;
    t.create_group("administrators", &[&admin]).await;
    t.create_user("alice", Some("S3cure-pass!"), "alice@example.com")
        .await;
    t.create_user("bob", Some("B0b-pass-w0rd!"), "bob@example.com")
        .await;

    // Oneself, with the old password.
    let mut alice = t.ldap_as("alice", "S3cure-pass!").await;
    let res = alice
        .extended(PasswordModify {
            user_id: None,
            old_pass: Some("wrong"),
            new_pass: Some("N3w-pass-w0rd!"),
        })
        .await
        .unwrap();
    assert_eq!(res.1.rc, 49);
    let res = alice
        .extended(PasswordModify {
            user_id: None,
            old_pass: None,
            new_pass: Some("N3w-pass-w0rd!"),
        })
        .await
        .unwrap();
    assert_eq!(res.1.rc, 53, "the old password is required");
    let res = alice
        .extended(PasswordModify {
            user_id: None,
            old_pass: Some("S3cure-pass!"),
            new_pass: Some("N3w-pass-w0rd!"),
        })
        .await
        .unwrap();
    assert_eq!(res.1.rc, 0, "{:?}", res.1);
    let mut check = t.ldap().await;
    assert_eq!(
        check
            .simple_bind(&user_dn("alice"), "N3w-pass-w0rd!")
            .await
            .unwrap()
            .rc,
        0
    );
    assert_eq!(
        check
            .simple_bind(&user_dn("alice"), "S3cure-pass!")
            .await
            .unwrap()
            .rc,
        49
    );
    // Not someone else's.
    let res = alice
        .extended(PasswordModify {
            user_id: Some(&user_dn("bob")),
            old_pass: None,
            new_pass: Some("x-Y-z-123-abc"),
        })
        .await
        .unwrap();
    assert_eq!(res.1.rc, 50);

    // An administrator sets bob's, and has one generated.
    let mut root = t.ldap_as("root", "Adm1n-pass!!").await;
    let (exop, res) = root
        .extended(PasswordModify {
            user_id: Some(&user_dn("bob")),
            old_pass: None,
            new_pass: None,
        })
        .await
        .unwrap()
        .success()
        .unwrap();
    assert_eq!(res.rc, 0);
    let generated = exop.parse::<PasswordModifyResp>().gen_pass;
    assert!(generated.len() >= 16, "{generated}");
    assert_eq!(
        check
            .simple_bind(&user_dn("bob"), &generated)
            .await
            .unwrap()
            .rc,
        0
    );
    // An administrator's change is a reset: bob must change it.
    let events = t.server.directory.recent_audit(10).await.unwrap();
    assert!(events.iter().any(|e| e.action == "user.password.reset"
        && e.target_name == "bob"
        && e.protocol == "ldap"
        && e.actor == user_dn("root")
        && e.attributes.contains(&"mustChangePassword".to_string())));
    // Anonymous: no.
    let mut anon = t.ldap().await;
    let res = anon
        .extended(PasswordModify {
            user_id: Some(&user_dn("bob")),
            old_pass: None,
            new_pass: Some("whatever1"),
        })
        .await
        .unwrap();
    assert_eq!(res.1.rc, 50);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_subschema_describes_every_attribute_served() {
    let t = start().await;
    let svc = t
        .create_user("svc", Some("S3rvice-pass!"), "svc@example.com")
        .await;
    t.make_readers(&[&svc]).await;

    let mut anon = t.ldap().await;
    let (root, _) = anon
        .search(
            "",
            Scope::Base,
            "(objectClass=*)",
            vec![
                "subschemaSubentry",
                "supportedControl",
                "supportedExtension",
            ],
        )
        .await
        .unwrap()
        .success()
        .unwrap();
    let root = SearchEntry::construct(root[0].clone());
    assert_eq!(root.attrs["subschemaSubentry"], ["cn=Subschema"]);
    assert!(root.attrs["supportedControl"].contains(&"1.2.840.113556.1.4.319".to_string()));
    assert!(root.attrs["supportedExtension"].contains(&"1.3.6.1.4.1.4203.1.11.1".to_string()));
    let (schema, res) = anon
        .search(
            "cn=Subschema",
            Scope::Base,
            "(objectClass=subschema)",
            vec!["attributeTypes", "objectClasses"],
        )
        .await
        .unwrap()
        .success()
        .unwrap();
    assert_eq!(res.rc, 0, "anonymous clients read the subschema");
    let schema = SearchEntry::construct(schema[0].clone());
    let types = &schema.attrs["attributeTypes"];
    let classes = &schema.attrs["objectClasses"];
    let defined = |name: &str| {
        types.iter().any(|d| {
            d.split('\'')
                .skip(1)
                .step_by(2)
                .any(|n| n.eq_ignore_ascii_case(name))
        })
    };

    let mut ldap = t.ldap_as("svc", "S3rvice-pass!").await;
    let (entries, _) = ldap
        .search(BASE_DN, Scope::Subtree, "(objectClass=*)", vec!["*", "+"])
        .await
        .unwrap()
        .success()
        .unwrap();
    assert!(entries.len() >= 5, "base, containers, a user, a group");
    for e in entries {
        let e = SearchEntry::construct(e);
        for name in e.attrs.keys() {
            assert!(
                defined(name),
                "{name} (in {}) has no attributeTypes definition",
                e.dn
            );
        }
        for class in &e.attrs["objectClass"] {
            assert!(
                classes
                    .iter()
                    .any(|d| d.contains(&format!("NAME '{class}'"))),
                "object class {class} is not defined"
            );
        }
    }
}

/// The uid (users) or cn (groups) of every entry a filter finds, sorted.
async fn names(ldap: &mut ldap3::Ldap, filter: String) -> Vec<String> {
    let (entries, res) = ldap
        .search(BASE_DN, Scope::Subtree, &filter, vec!["uid", "cn"])
        .await
        .unwrap()
        .success()
        .unwrap();
    assert_eq!(res.rc, 0);
    let mut names: Vec<String> = entries
        .into_iter()
        .map(|e| {
            let e = SearchEntry::construct(e);
            e.attrs.get("uid").or(e.attrs.get("cn")).unwrap()[0].clone()
        })
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread")]
async fn nested_groups_resolve_for_member_of_and_the_in_chain_rule() {
    // ops ⊃ eng ⊃ devs ∋ alice; a ⊃ b ⊃ a is a cycle. Readers: ops, nested.
    let t = start_with(|c| c.ldap.reader_group = "ops".into()).await;
    let alice = t
        .create_user("alice", Some("S3cure-pass!"), "alice@example.com")
        .await;
    let bob = t.create_user("bob", None, "bob@example.com").await;
    let devs = t.create_group("devs", &[&alice]).await;
    let eng = t.create_group("eng", &[&devs, &bob]).await;
    t.create_group("ops", &[&eng]).await;
    let b = t.create_group("b", &[&alice]).await;
    let a = t.create_group("a", &[&b]).await;
    let (status, body) = t
        .scim(
            reqwest::Method::PATCH,
            &format!("/Groups/{b}"),
            Some(serde_json::json!({"schemas": [PATCH_URN], "Operations": [{"op": "add", "path": "members", "value": [{"value": a}]}]})),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");

    // SCIM: direct and indirect groups.
    let (_, user) = t
        .scim(reqwest::Method::GET, &format!("/Users/{alice}"), None)
        .await;
    let mut kinds: Vec<(String, String)> = user["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["display"].as_str().unwrap().to_string(),
                g["type"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            ("a", "indirect"),
            ("b", "direct"),
            ("devs", "direct"),
            ("eng", "indirect"),
            ("ops", "indirect")
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );

    // alice reads everything: she is in ops through devs and eng.
    let mut ldap = t.ldap_as("alice", "S3cure-pass!").await;
    let (entries, _) = ldap
        .search(BASE_DN, Scope::Subtree, "(uid=alice)", vec!["memberOf"])
        .await
        .unwrap()
        .success()
        .unwrap();
    let mut member_of = SearchEntry::construct(entries[0].clone()).attrs["memberOf"].clone();
    member_of.sort();
    let mut expected: Vec<String> = ["a", "b", "devs", "eng", "ops"]
        .iter()
        .map(|g| group_dn(g))
        .collect();
    expected.sort();
    assert_eq!(member_of, expected);

    assert_eq!(
        names(&mut ldap, format!("(memberOf={})", group_dn("ops"))).await,
        ["alice", "bob"]
    );
    assert_eq!(
        names(
            &mut ldap,
            format!("(memberOf:1.2.840.113556.1.4.1941:={})", group_dn("ops"))
        )
        .await,
        ["alice", "bob"]
    );
    assert_eq!(
        names(
            &mut ldap,
            format!("(member:1.2.840.113556.1.4.1941:={})", user_dn("alice"))
        )
        .await,
        ["a", "b", "devs", "eng", "ops"]
    );
    assert_eq!(
        names(&mut ldap, format!("(member={})", user_dn("alice"))).await,
        ["b", "devs"]
    );
    assert_eq!(
        names(
            &mut ldap,
            format!(
                "(&(objectClass=groupOfNames)(member:1.2.840.113556.1.4.1941:={}))",
                user_dn("bob")
            )
        )
        .await,
        ["eng", "ops"]
    );
    // An unknown matching rule is undefined: it matches nothing, negated or not.
    assert!(names(&mut ldap, "(cn:1.2.3.4:=alice)".into())
        .await
        .is_empty());
    assert!(names(&mut ldap, "(!(cn:1.2.3.4:=alice))".into())
        .await
        .is_empty());
}

/// The operational attributes of the one entry a filter finds.
async fn operational(
    ldap: &mut ldap3::Ldap,
    filter: &str,
) -> std::collections::HashMap<String, Vec<String>> {
    let (found, _) = ldap
        .search(BASE_DN, Scope::Subtree, filter, vec!["+"])
        .await
        .unwrap()
        .success()
        .unwrap();
    SearchEntry::construct(found[0].clone()).attrs
}

#[tokio::test(flavor = "multi_thread")]
async fn operational_attributes_say_who_and_when() {
    let t = start().await;
    let svc = t
        .create_user("svc", Some("S3rvice-pass!"), "svc@example.com")
        .await;
    t.make_readers(&[&svc]).await;
    t.create_user("nopass", None, "nopass@example.com").await;
    let mut ldap = t.ldap_as("svc", "S3rvice-pass!").await;
    let svc_entry = operational(&mut ldap, "(uid=svc)").await;
    // The test server's token is the bootstrap administrator token.
    assert_eq!(
        svc_entry["creatorsName"],
        ["cn=token:bootstrap-admin,cn=scim"]
    );
    assert_eq!(
        svc_entry["modifiersName"],
        ["cn=token:bootstrap-admin,cn=scim"]
    );
    let changed = &svc_entry["pwdChangedTime"][0];
    assert!(changed.ends_with('Z') && changed.len() >= 15, "{changed}");
    assert!(!operational(&mut ldap, "(uid=nopass)")
        .await
        .contains_key("pwdChangedTime"));
    let group = operational(&mut ldap, "(cn=ldap-readers)").await;
    assert_eq!(group["creatorsName"], ["cn=token:bootstrap-admin,cn=scim"]);
    // Operational attributes stay out of a plain `*` search.
    let (found, _) = ldap
        .search(BASE_DN, Scope::Subtree, "(uid=svc)", vec!["*"])
        .await
        .unwrap()
        .success()
        .unwrap();
    assert!(!SearchEntry::construct(found[0].clone())
        .attrs
        .contains_key("creatorsName"));
}
