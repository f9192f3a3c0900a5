//! LDIF import, the migration path from OpenLDAP: users keep their
//! password hashes, groups their members, and both protocols see them.

mod common;

use std::sync::Arc;

use base64::Engine as _;
use common::*;
use ldap3::{Scope, SearchEntry};
use reqwest::Method;
use roster::directory::{Actor, SystemClock};
use sha1::Digest as _;

fn ssha(password: &str) -> String {
    let salt = b"pepper!!";
    let mut bytes = sha1::Sha1::new()
        .chain_update(password.as_bytes())
        .chain_update(salt)
        .finalize()
        .to_vec();
    bytes.extend_from_slice(salt);
    format!(
        "{{SSHA}}{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

fn argon2(password: &str) -> String {
    use argon2::password_hash::{rand_core::OsRng, PasswordHasher, SaltString};
    let salt = SaltString::generate(&mut OsRng);
    let hash = argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .unwrap();
    format!("{{ARGON2}}{hash}")
}

#[tokio::test(flavor = "multi_thread")]
async fn an_openldap_export_imports_with_its_hashes_and_groups() {
    let t = start().await;
    let ldif = format!(
        "version: 1\n\
dn: dc=example,dc=com\nobjectClass: domain\ndc: example\n\n\
dn: ou=people,dc=example,dc=com\nobjectClass: organizationalUnit\nou: people\n\n\
# a user with an OpenLDAP {{SSHA}} hash\n\
dn: uid=sam,ou=people,dc=example,dc=com\nobjectClass: inetOrgPerson\nobjectClass: posixAccount\n\
uid: sam\ncn: Sam Salted\nsn: Salted\nmail: sam@example.com\nmail: s@example.com\n\
uidNumber: 7001\ngidNumber: 7000\nhomeDirectory: /home/sam\nuserPassword: {}\n\n\
dn: uid=ann,ou=people,dc=example,dc=com\nobjectClass: inetOrgPerson\nuid: ann\ncn: ann\nsn: A\n\
userPassword: {}\ndepartmentNumber: R&D\n\n\
dn: uid=cleo,ou=people,dc=example,dc=com\nobjectClass: inetOrgPerson\nuid: cleo\ncn: cleo\nsn: C\n\
userPassword: plain-text-pw\n\n\
# a sha512-crypt hash, as 389-ds or a shadow file has it\n\
dn: uid=dee,ou=people,dc=example,dc=com\nobjectClass: inetOrgPerson\nuid: dee\ncn: dee\nsn: D\n\
userPassword: {{CRYPT}}$6$saltsalt$Pp1oWfwJT4PksSG2QA.2pHtnI4vKoxJOBAoYt3djIyXhJIiWGRb0HR/zVE4XULteVyDP7sko86EFsm5Uni.Zd.\n\n\
dn: cn=Doe\\, John,ou=groups,dc=example,dc=com\nobjectClass: groupOfNames\ncn: Doe, John\n\
member: UID=Sam, OU=People,DC=example,DC=com\nmember: uid=ann,ou=people,dc=example,dc=com\n\n\
dn: cn=staff,ou=groups,dc=example,dc=com\nobjectClass: posixGroup\ncn: staff\ngidNumber: 7000\n\
memberUid: cleo\nmemberUid: ghost\n\n\
dn: cn=ldap-readers,ou=groups,dc=example,dc=com\nobjectClass: groupOfUniqueNames\ncn: ldap-readers\n\
uniqueMember: uid=ann,ou=people,dc=example,dc=com\n\n\
dn: cn=printer,dc=example,dc=com\nobjectClass: device\ncn: printer\n\n\
dn: uid=broken,ou=people,dc=example,dc=com\nobjectClass: inetOrgPerson\nuid: broken\nsn: B\n\
userPassword: {{CRYPT}}$6$salt$hash\n",
        ssha("sam-secret"),
        argon2("ann-secret"),
    );
    let other = roster::open_directory(&t.config, Arc::new(SystemClock))
        .await
        .unwrap();
    let base = roster::ldap::dn::Dn::parse(BASE_DN).unwrap();
    let report = roster::transfer::import_ldif(
        &other,
        &Actor::cli(),
        &roster::ldap::tree::Tree::new(base),
        &ldif,
    )
    .await
    .unwrap();
    assert_eq!(
        (report.users, report.groups, report.memberships),
        (4, 3, 4),
        "{report:?}"
    );
    assert_eq!(report.skipped.len(), 3, "{report:?}");
    assert_eq!(
        report.failed.len(),
        2,
        "the malformed {{CRYPT}} hash and the unknown memberUid: {report:?}"
    );

    // The server picks the imported records up from the store.
    let mut seen = false;
    for _ in 0..50 {
        let (_, list) = t
            .scim(Method::GET, "/Users?filter=userName+eq+%22sam%22", None)
            .await;
        if list["totalResults"] == 1 {
            let sam = &list["Resources"][0];
            assert_eq!(sam["displayName"], "Sam Salted");
            assert_eq!(sam["emails"][0]["value"], "sam@example.com");
            assert_eq!(sam["emails"][0]["primary"], true);
            assert_eq!(
                sam["urn:roster:params:scim:schemas:extension:posix:1.0:User"]["uidNumber"],
                7001
            );
            assert_eq!(sam["groups"][0]["display"], "Doe, John");
            seen = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(seen, "the server's view caught up with the import");

    // Every imported password binds; a wrong one does not.
    for (user, password) in [
        ("sam", "sam-secret"),
        ("ann", "ann-secret"),
        ("cleo", "plain-text-pw"),
        ("dee", "Imported-pass-1"),
    ] {
        let mut ldap = t.ldap().await;
        let res = ldap.simple_bind(&user_dn(user), password).await.unwrap();
        assert_eq!(res.rc, 0, "{user}");
        let res = ldap.simple_bind(&user_dn(user), "nope").await.unwrap();
        assert_eq!(res.rc, 49, "{user}");
    }
    // sam's {SSHA} hash was replaced by argon2id at the first bind.
    let events = t.server.directory.recent_audit(20).await.unwrap();
    assert!(events
        .iter()
        .any(|e| e.action == "user.password.rehash" && e.target_name == "sam"));
    let mut ldap = t.ldap().await;
    assert_eq!(
        ldap.simple_bind(&user_dn("sam"), "sam-secret")
            .await
            .unwrap()
            .rc,
        0
    );

    let mut ldap = t.ldap_as("ann", "ann-secret").await;
    let (found, _) = ldap
        .search(
            BASE_DN,
            Scope::Subtree,
            "(memberUid=cleo)",
            vec!["cn", "gidNumber"],
        )
        .await
        .unwrap()
        .success()
        .unwrap();
    let staff = SearchEntry::construct(found[0].clone());
    assert_eq!(staff.attrs["cn"], ["staff"]);
    assert_eq!(staff.attrs["gidNumber"], ["7000"]);
}
