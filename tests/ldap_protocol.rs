//! LDAP behaviour beyond the quickstart: access for anonymous clients,
//! scopes, filters, attribute selection, limits, and hostile input.

mod common;

use std::time::Duration;

use common::*;
use ldap3::{Scope, SearchEntry};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn names(ldap: &mut ldap3::Ldap, base: &str, scope: Scope, filter: &str) -> Vec<String> {
    let (entries, res) = ldap
        .search(base, scope, filter, vec!["1.1"])
        .await
        .unwrap()
        .success()
        .unwrap();
    assert_eq!(res.rc, 0);
    let mut dns: Vec<String> = entries
        .into_iter()
        .map(|e| SearchEntry::construct(e).dn.to_lowercase())
        .collect();
    dns.sort();
    dns
}

#[tokio::test(flavor = "multi_thread")]
async fn anonymous_reads_only_the_root_dse() {
    let t = start().await;
    t.create_user("alice", Some("S3cure-pass!"), "alice@example.com")
        .await;
    let mut ldap = t.ldap().await;
    let (entries, _) = ldap
        .search(
            "",
            Scope::Base,
            "(objectClass=*)",
            vec!["namingContexts", "supportedLDAPVersion"],
        )
        .await
        .unwrap()
        .success()
        .unwrap();
    let root = SearchEntry::construct(entries.into_iter().next().unwrap());
    assert_eq!(root.attrs["namingContexts"], vec![BASE_DN]);
    assert_eq!(root.attrs["supportedLDAPVersion"], vec!["3"]);
    let res = ldap
        .search(BASE_DN, Scope::Subtree, "(uid=alice)", vec!["uid"])
        .await
        .unwrap();
    assert_eq!(res.1.rc, 50, "anonymous subtree search is refused");
    // An explicit anonymous bind is fine; an unauthenticated one is not (RFC 4513 §5.1.2).
    assert_eq!(ldap.simple_bind("", "").await.unwrap().rc, 0);
    assert_eq!(
        ldap.simple_bind(&user_dn("alice"), "").await.unwrap().rc,
        53
    );
    let res = ldap
        .search(BASE_DN, Scope::Subtree, "(uid=alice)", vec!["uid"])
        .await
        .unwrap();
    assert_eq!(res.1.rc, 50);
}

#[tokio::test(flavor = "multi_thread")]
async fn scopes_filters_and_attribute_selection() {
    // alice reads every entry as a member of devs, the reader group here.
    let t = start_with(|c| c.ldap.reader_group = "devs".into()).await;
    let alice = t
        .create_user("alice", Some("S3cure-pass!"), "alice@example.com")
        .await;
    let bob = t.create_user("bob", None, "bob@example.org").await;
    t.create_group("devs", &[&alice, &bob]).await;
    let mut ldap = t.ldap_as("alice", "S3cure-pass!").await;
    let people = format!("ou=people,{BASE_DN}");
    let groups = format!("ou=groups,{BASE_DN}");
    let all = vec![
        BASE_DN.to_string(),
        group_dn("devs"),
        groups.clone(),
        people.clone(),
        user_dn("alice"),
        user_dn("bob"),
    ];
    let mut all_sorted = all.clone();
    all_sorted.sort();
    assert_eq!(
        names(&mut ldap, BASE_DN, Scope::Subtree, "(objectClass=*)").await,
        all_sorted
    );
    assert_eq!(
        names(&mut ldap, BASE_DN, Scope::OneLevel, "(objectClass=*)").await,
        vec![groups.clone(), people.clone()]
    );
    assert_eq!(
        names(&mut ldap, BASE_DN, Scope::Base, "(objectClass=*)").await,
        vec![BASE_DN.to_string()]
    );
    assert_eq!(
        names(
            &mut ldap,
            &people,
            Scope::OneLevel,
            "(objectClass=inetOrgPerson)"
        )
        .await,
        vec![user_dn("alice"), user_dn("bob")]
    );
    assert_eq!(
        names(&mut ldap, &user_dn("BOB"), Scope::Base, "(objectClass=*)").await,
        vec![user_dn("bob")]
    );
    assert_eq!(
        names(&mut ldap, BASE_DN, Scope::Subtree, "(mail=*@example.org)").await,
        vec![user_dn("bob")]
    );
    assert_eq!(
        names(
            &mut ldap,
            BASE_DN,
            Scope::Subtree,
            "(&(uid=a*e)(!(uid=bob)))"
        )
        .await,
        vec![user_dn("alice")]
    );
    assert_eq!(
        names(&mut ldap, BASE_DN, Scope::Subtree, "(|(uid=bob)(cn=devs))").await,
        vec![group_dn("devs"), user_dn("bob")]
    );
    assert_eq!(
        names(&mut ldap, BASE_DN, Scope::Subtree, "(givenName=ALICE)").await,
        vec![user_dn("alice")]
    );
    assert_eq!(
        names(
            &mut ldap,
            BASE_DN,
            Scope::Subtree,
            "(createTimestamp>=20000101000000Z)"
        )
        .await
        .len(),
        3
    );
    // Unknown attributes are undefined: they match nothing, not even negated.
    assert!(names(&mut ldap, BASE_DN, Scope::Subtree, "(shoeSize=44)")
        .await
        .is_empty());
    assert!(
        names(&mut ldap, BASE_DN, Scope::Subtree, "(!(shoeSize=44))")
            .await
            .is_empty()
    );
    // Absent attributes are false, so their negation matches.
    assert_eq!(
        names(&mut ldap, &people, Scope::OneLevel, "(!(title=x))")
            .await
            .len(),
        2
    );

    // Attribute lists: *, +, 1.1, names in any case, typesOnly; never a password.
    let (entries, _) = ldap
        .search(
            &user_dn("alice"),
            Scope::Base,
            "(objectClass=*)",
            vec!["*", "+"],
        )
        .await
        .unwrap()
        .success()
        .unwrap();
    let e = SearchEntry::construct(entries.into_iter().next().unwrap());
    for attr in [
        "uid",
        "cn",
        "sn",
        "givenName",
        "mail",
        "memberOf",
        "objectClass",
        "entryUUID",
        "createTimestamp",
        "modifyTimestamp",
    ] {
        assert!(e.attrs.contains_key(attr), "{attr} in {:?}", e.attrs.keys());
    }
    assert_eq!(e.attrs["entryUUID"], vec![alice.clone()]);
    let everything = format!("{:?}", e.attrs).to_lowercase();
    assert!(
        !everything.contains("password") && !everything.contains("argon2"),
        "{everything}"
    );
    let (entries, _) = ldap
        .search(
            &user_dn("alice"),
            Scope::Base,
            "(objectClass=*)",
            vec!["userPassword", "MAIL"],
        )
        .await
        .unwrap()
        .success()
        .unwrap();
    let e = SearchEntry::construct(entries.into_iter().next().unwrap());
    assert_eq!(e.attrs.keys().collect::<Vec<_>>(), vec!["mail"]);
    let (entries, _) = ldap
        .search(
            &user_dn("alice"),
            Scope::Base,
            "(objectClass=*)",
            Vec::<&str>::new(),
        )
        .await
        .unwrap()
        .success()
        .unwrap();
    let e = SearchEntry::construct(entries.into_iter().next().unwrap());
    assert!(
        e.attrs.contains_key("uid") && !e.attrs.contains_key("entryUUID"),
        "operational attributes only on request"
    );

    // Bases that do not exist.
    let res = ldap
        .search(
            &user_dn("nobody"),
            Scope::Base,
            "(objectClass=*)",
            vec!["uid"],
        )
        .await
        .unwrap();
    assert_eq!(res.1.rc, 32);
    assert_eq!(res.1.matched.to_lowercase(), people);
    let res = ldap
        .search(
            "dc=other,dc=org",
            Scope::Subtree,
            "(objectClass=*)",
            vec!["uid"],
        )
        .await
        .unwrap();
    assert_eq!(res.1.rc, 32);
    let res = ldap
        .search("not a dn", Scope::Subtree, "(objectClass=*)", vec!["uid"])
        .await
        .unwrap();
    assert_eq!(res.1.rc, 34);
    // Writes are refused with a pointer to SCIM.
    let res = ldap.delete(&user_dn("bob")).await.unwrap();
    assert_eq!(res.rc, 53);
}

#[tokio::test(flavor = "multi_thread")]
async fn size_limits_are_honoured() {
    let t = start_with(|c| c.ldap.max_search_results = 4).await;
    for i in 0..6 {
        let pw = if i == 0 { Some("S3cure-pass!") } else { None };
        t.create_user(&format!("user{i}"), pw, &format!("u{i}@example.com"))
            .await;
    }
    let user0 = t
        .server
        .directory
        .get_user_by_name("user0")
        .await
        .unwrap()
        .unwrap();
    t.make_readers(&[&user0.id.to_string()]).await;
    let mut ldap = t.ldap_as("user0", "S3cure-pass!").await;
    let people = format!("ou=people,{BASE_DN}");
    let stream = ldap.with_search_options(ldap3::SearchOptions::new().sizelimit(2));
    let ldap3::SearchResult(entries, res) = stream
        .search(&people, Scope::OneLevel, "(uid=*)", vec!["uid"])
        .await
        .unwrap();
    assert_eq!(res.rc, 4, "sizeLimitExceeded");
    assert_eq!(entries.len(), 2);
    // The server's own limit applies when the client asks for more.
    let ldap3::SearchResult(entries, res) = ldap
        .search(&people, Scope::OneLevel, "(uid=*)", vec!["uid"])
        .await
        .unwrap();
    assert_eq!(res.rc, 4);
    assert_eq!(entries.len(), 4);
}

/// Reads until the server closes the connection; returns what it sent.
async fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return got,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => panic!("the server kept the connection open"),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_and_oversized_pdus_close_only_that_connection() {
    let t = start_with(|c| c.ldap.max_pdu_bytes = 16 * 1024).await;
    t.create_user("alice", Some("S3cure-pass!"), "alice@example.com")
        .await;
    let mut healthy = t.ldap_as("alice", "S3cure-pass!").await;

    // Not BER at all.
    let mut bad = TcpStream::connect(t.server.ldap_addr).await.unwrap();
    bad.write_all(b"\x30\x05\x02\x01\x01\xff\xff GET / HTTP/1.1\r\n\r\n")
        .await
        .unwrap();
    let notice = read_until_closed(&mut bad).await;
    assert!(
        notice.windows(22).any(|w| w == b"1.3.6.1.4.1.1466.20036"),
        "a notice of disconnection precedes the close"
    );
    // A PDU larger than the limit.
    let mut big = TcpStream::connect(t.server.ldap_addr).await.unwrap();
    let payload = vec![b'a'; 64 * 1024];
    let mut pdu = vec![0x30, 0x83];
    pdu.extend_from_slice(&((payload.len() + 8) as u32).to_be_bytes()[1..]);
    pdu.extend_from_slice(&[0x02, 0x01, 0x01, 0x60, 0x83]);
    pdu.extend_from_slice(&(payload.len() as u32).to_be_bytes()[1..]);
    let _ = big.write_all(&pdu).await;
    let _ = big.write_all(&payload).await;
    read_until_closed(&mut big).await;

    // The other connection and new ones carry on.
    let (entries, _) = healthy
        .search(BASE_DN, Scope::Subtree, "(uid=alice)", vec!["uid"])
        .await
        .unwrap()
        .success()
        .unwrap();
    assert_eq!(entries.len(), 1);
    t.ldap_as("alice", "S3cure-pass!").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_connections_time_out() {
    let t = start_with(|c| c.ldap.idle_timeout = Duration::from_millis(500)).await;
    let mut idle = TcpStream::connect(t.server.ldap_addr).await.unwrap();
    let started = std::time::Instant::now();
    read_until_closed(&mut idle).await;
    assert!(started.elapsed() >= Duration::from_millis(400));
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_http_headers_are_cut_off() {
    let t = start_with(|c| c.http.header_read_timeout = Duration::from_millis(500)).await;
    let mut slow = TcpStream::connect(t.server.http_addr).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    read_until_closed(&mut slow).await;
    assert!(started.elapsed() >= Duration::from_millis(400));
    // Others are still served.
    let resp = t
        .http
        .get(format!("http://{}/healthz", t.server.http_addr))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), reqwest::StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invalid_request_with_a_message_id_gets_protocol_error_and_the_connection_goes_on() {
    let t = start().await;
    let mut conn = TcpStream::connect(t.server.ldap_addr).await.unwrap();
    // bindRequest, message id 7, whose version is an OCTET STRING: well-formed
    // BER, not a valid request.
    let invalid = [
        0x30, 0x0c, 0x02, 0x01, 0x07, 0x60, 0x07, 0x04, 0x01, 0x03, 0x04, 0x00, 0x80, 0x00,
    ];
    conn.write_all(&invalid).await.unwrap();
    let mut buf = [0u8; 256];
    let n = tokio::time::timeout(Duration::from_secs(5), conn.read(&mut buf))
        .await
        .expect("an answer")
        .unwrap();
    // LDAPMessage { 7, bindResponse [APPLICATION 1] { resultCode 2 (protocolError) … } }
    assert_eq!(&buf[2..5], &[0x02, 0x01, 0x07], "{:02x?}", &buf[..n]);
    assert_eq!(buf[5], 0x61, "a bindResponse: {:02x?}", &buf[..n]);
    assert_eq!(
        &buf[7..10],
        &[0x0a, 0x01, 0x02],
        "protocolError: {:02x?}",
        &buf[..n]
    );
    // The same connection still answers: an anonymous bind, message id 8.
    let valid = [
        0x30, 0x0c, 0x02, 0x01, 0x08, 0x60, 0x07, 0x02, 0x01, 0x03, 0x04, 0x00, 0x80, 0x00,
    ];
    conn.write_all(&valid).await.unwrap();
    let n = tokio::time::timeout(Duration::from_secs(5), conn.read(&mut buf))
        .await
        .expect("an answer")
        .unwrap();
    assert_eq!(&buf[2..5], &[0x02, 0x01, 0x08], "{:02x?}", &buf[..n]);
    assert_eq!(
        &buf[7..10],
        &[0x0a, 0x01, 0x00],
        "success: {:02x?}",
        &buf[..n]
    );
}
