//! TLS: LDAPS, StartTLS (with nothing carried across the upgrade), and
//! simple binds refused on plain connections once a certificate is set.
//! (The certificate chain itself is checked by the real clients in
//! `interop/run.sh`: ldapwhoami with LDAPTLS_CACERT, curl --cacert.)

mod common;

use std::time::Duration;

use common::*;
use ldap3::exop::{WhoAmI, WhoAmIResp};
use ldap3::{drive, LdapConnAsync, LdapConnSettings};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn start_tls_server(require: Option<bool>) -> (TestServer, tempfile::TempDir) {
    let certs = tempfile::tempdir().unwrap();
    roster::tls::dev_certificates(certs.path()).unwrap();
    let (cert, key) = (
        certs.path().join("server.pem"),
        certs.path().join("server.key"),
    );
    let t = start_with(|c| {
        c.tls.cert = Some(cert);
        c.tls.key = Some(key);
        c.ldap.ldaps_listen = "127.0.0.1:0".parse().unwrap();
        c.ldap.require_tls_for_bind = require;
    })
    .await;
    (t, certs)
}

async fn connect(url: &str, starttls: bool) -> ldap3::Ldap {
    let settings = LdapConnSettings::new()
        .set_conn_timeout(Duration::from_secs(5))
        .set_starttls(starttls)
        .set_no_tls_verify(true);
    let (conn, ldap) = LdapConnAsync::with_settings(settings, url)
        .await
        .expect("connects");
    drive!(conn);
    ldap
}

async fn whoami(ldap: &mut ldap3::Ldap) -> String {
    let (exop, _) = ldap.extended(WhoAmI).await.unwrap().success().unwrap();
    exop.parse::<WhoAmIResp>().authzid
}

#[tokio::test(flavor = "multi_thread")]
async fn ldaps_and_starttls_bind_and_plain_binds_are_refused() {
    let (t, _certs) = start_tls_server(None).await;
    t.create_user("alice", Some("S3cure-pass!"), "alice@example.com")
        .await;
    let ldaps = format!("ldaps://{}", t.server.ldaps_addr.expect("LDAPS listens"));

    let mut ldap = connect(&ldaps, false).await;
    assert_eq!(
        ldap.simple_bind(&user_dn("alice"), "S3cure-pass!")
            .await
            .unwrap()
            .rc,
        0
    );
    assert_eq!(whoami(&mut ldap).await, format!("dn:{}", user_dn("alice")));

    let mut ldap = connect(&t.ldap_url, true).await;
    assert_eq!(
        ldap.simple_bind(&user_dn("alice"), "S3cure-pass!")
            .await
            .unwrap()
            .rc,
        0
    );
    assert_eq!(whoami(&mut ldap).await, format!("dn:{}", user_dn("alice")));

    // Without TLS: anonymous reads of the rootDSE still work, binds do not.
    let mut plain = t.ldap().await;
    let res = plain
        .simple_bind(&user_dn("alice"), "S3cure-pass!")
        .await
        .unwrap();
    assert_eq!(res.rc, 13, "confidentialityRequired: {res:?}");
    assert_eq!(whoami(&mut plain).await, "");
    let (root, _) = plain
        .search(
            "",
            ldap3::Scope::Base,
            "(objectClass=*)",
            vec!["supportedExtension"],
        )
        .await
        .unwrap()
        .success()
        .unwrap();
    let root = ldap3::SearchEntry::construct(root[0].clone());
    assert!(root.attrs["supportedExtension"].contains(&"1.3.6.1.4.1.1466.20037".to_string()));
}

#[tokio::test(flavor = "multi_thread")]
async fn plain_binds_can_be_allowed_and_starttls_needs_a_certificate() {
    let (t, _certs) = start_tls_server(Some(false)).await;
    t.create_user("alice", Some("S3cure-pass!"), "alice@example.com")
        .await;
    let mut plain = t.ldap().await;
    assert_eq!(
        plain
            .simple_bind(&user_dn("alice"), "S3cure-pass!")
            .await
            .unwrap()
            .rc,
        0
    );

    let without = start().await;
    assert!(without.server.ldaps_addr.is_none());
    let settings = LdapConnSettings::new()
        .set_conn_timeout(Duration::from_secs(5))
        .set_starttls(true)
        .set_no_tls_verify(true);
    assert!(
        LdapConnAsync::with_settings(settings, &without.ldap_url)
            .await
            .is_err(),
        "StartTLS is refused where no certificate is set"
    );
}

/// A StartTLS request with a bind smuggled right after it in the same
/// packet: the server answers the StartTLS and closes, never reading the
/// plaintext bind as if it came over TLS.
#[tokio::test(flavor = "multi_thread")]
async fn nothing_follows_a_starttls_request_across_the_upgrade() {
    let (t, _certs) = start_tls_server(None).await;
    let oid = b"1.3.6.1.4.1.1466.20037";
    let mut starttls = vec![
        0x30,
        (5 + 2 + oid.len()) as u8,
        0x02,
        0x01,
        0x01,
        0x77,
        (2 + oid.len()) as u8,
        0x80,
        oid.len() as u8,
    ];
    starttls.extend_from_slice(oid);
    // bindRequest, message id 2: anonymous simple bind.
    let bind = [
        0x30, 0x0c, 0x02, 0x01, 0x02, 0x60, 0x07, 0x02, 0x01, 0x03, 0x04, 0x00, 0x80, 0x00,
    ];
    let mut stream = tokio::net::TcpStream::connect(t.ldap_url.trim_start_matches("ldap://"))
        .await
        .unwrap();
    let mut packet = starttls.clone();
    packet.extend_from_slice(&bind);
    stream.write_all(&packet).await.unwrap();
    let mut got = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut got)).await;
    assert!(read.is_ok(), "the server closed the connection");
    // Only the StartTLS response (message id 1) came back, no bind response.
    assert!(!got.is_empty());
    assert_eq!(&got[2..5], &[0x02, 0x01, 0x01], "{got:02x?}");
    assert!(
        !got.windows(2).any(|w| w == [0x61, 0x07]),
        "no bindResponse: {got:02x?}"
    );
}
