//! Starts a real Roster on ephemeral ports with a fresh database and gives
//! tests real clients for it. With `ROSTER_TEST_DATABASE_URL=postgres://…`
//! each server gets its own new PostgreSQL database; otherwise a temporary
//! SQLite file.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use ldap3::{drive, Ldap, LdapConnAsync};
use reqwest::{Method, StatusCode};
use roster::config::Config;
use roster::directory::SystemClock;
use roster::Server;
use serde_json::{json, Value};
use sqlx::Connection;

pub const USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const PATCH_URN: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const BASE_DN: &str = "dc=example,dc=com";

pub struct TestServer {
    pub server: Server,
    pub config: Config,
    pub token: String,
    pub http: reqwest::Client,
    pub scim: String,
    pub ldap_url: String,
    _dir: tempfile::TempDir,
}

/// A database URL for a new, empty database.
async fn fresh_database(dir: &std::path::Path) -> String {
    match std::env::var("ROSTER_TEST_DATABASE_URL") {
        Ok(admin) if admin.starts_with("postgres") => {
            let name = format!("roster_t_{}", uuid::Uuid::new_v4().simple());
            let mut conn = sqlx::PgConnection::connect(&admin)
                .await
                .expect("connect to PostgreSQL");
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut conn)
                .await
                .expect("create test database");
            let (prefix, _) = admin.rsplit_once('/').expect("database URL with a path");
            format!("{prefix}/{name}")
        }
        _ => format!("sqlite://{}/roster.db", dir.display()),
    }
}

/// The configuration tests run with: ephemeral ports, a fresh database.
pub async fn test_config(dir: &std::path::Path) -> Config {
    let mut config = Config {
        data_dir: dir.to_path_buf(),
        database_url: fresh_database(dir).await,
        ..Config::default()
    };
    config.http.listen = "127.0.0.1:0".parse().unwrap();
    config.ldap.listen = "127.0.0.1:0".parse().unwrap();
    config
}

/// Starts a server with the default test configuration.
pub async fn start() -> TestServer {
    start_with(|_| {}).await
}

/// Starts a server after letting `tweak` change the test configuration.
pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> TestServer {
    start_with_clock(Arc::new(SystemClock), tweak).await
}

/// Starts a server on `clock` (a `ManualClock` lets a test jump ahead).
pub async fn start_with_clock(
    clock: Arc<dyn roster::directory::Clock>,
    tweak: impl FnOnce(&mut Config),
) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path()).await;
    tweak(&mut config);
    let server = Server::start(&config, clock).await.expect("server starts");
    let token = server
        .bootstrap_token
        .clone()
        .expect("a fresh store makes a bootstrap token");
    TestServer {
        scim: format!("http://{}/scim/v2", server.http_addr),
        ldap_url: format!("ldap://{}", server.ldap_addr),
        http: reqwest::Client::new(),
        server,
        config,
        token,
        _dir: dir,
    }
}

impl TestServer {
    /// Sends a SCIM request with the bootstrap token; returns status and JSON body.
    pub async fn scim(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.scim))
            .bearer_auth(&self.token)
            .header("Content-Type", "application/scim+json");
        if let Some(b) = body {
            req = req.body(b.to_string());
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let text = resp.text().await.unwrap();
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).expect("JSON body")
        };
        (status, json)
    }

    /// Creates a user over SCIM and returns its id.
    pub async fn create_user(&self, name: &str, password: Option<&str>, email: &str) -> String {
        let mut body = json!({
            "schemas": [USER_URN],
            "userName": name,
            "name": {"givenName": name, "familyName": "Tester"},
            "emails": [{"value": email, "primary": true}],
        });
        if let Some(p) = password {
            body["password"] = p.into();
        }
        let (status, user) = self.scim(Method::POST, "/Users", Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{user}");
        user["id"].as_str().unwrap().to_string()
    }

    /// Creates a group over SCIM with the given member ids; returns its id.
    pub async fn create_group(&self, name: &str, members: &[&str]) -> String {
        let members: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
        let (status, group) = self
            .scim(
                Method::POST,
                "/Groups",
                Some(json!({"displayName": name, "members": members})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{group}");
        group["id"].as_str().unwrap().to_string()
    }

    /// Puts users in the LDAP reader group (created if needed), so that
    /// their binds may read every entry.
    pub async fn make_readers(&self, ids: &[&str]) {
        let (_, found) = self
            .scim(
                Method::GET,
                "/Groups?filter=displayName+eq+%22ldap-readers%22",
                None,
            )
            .await;
        match found["Resources"][0]["id"].as_str() {
            Some(group) => {
                let members: Vec<Value> = ids.iter().map(|m| json!({"value": m})).collect();
                let (status, body) = self
                    .scim(
                        Method::PATCH,
                        &format!("/Groups/{group}"),
                        Some(json!({"schemas": [PATCH_URN], "Operations": [{"op": "add", "path": "members", "value": members}]})),
                    )
                    .await;
                assert_eq!(status, StatusCode::OK, "{body}");
            }
            None => {
                self.create_group("ldap-readers", ids).await;
            }
        }
    }

    /// A new LDAP connection.
    pub async fn ldap(&self) -> Ldap {
        let settings = ldap3::LdapConnSettings::new().set_conn_timeout(Duration::from_secs(5));
        let (conn, ldap) = LdapConnAsync::with_settings(settings, &self.ldap_url)
            .await
            .expect("LDAP connects");
        drive!(conn);
        ldap
    }

    /// A new LDAP connection bound as `user` with `password`.
    pub async fn ldap_as(&self, user: &str, password: &str) -> Ldap {
        let mut ldap = self.ldap().await;
        let res = ldap.simple_bind(&user_dn(user), password).await.unwrap();
        assert_eq!(res.rc, 0, "bind as {user}: {res:?}");
        ldap
    }
}

/// The password policy control (draft-behera) OID.
pub const PPOLICY_OID: &str = "1.3.6.1.4.1.42.2.27.8.5.1";

/// The password policy response control's value in a result, if any.
pub fn ppolicy_response(ctrls: &[ldap3::controls::Control]) -> Option<Vec<u8>> {
    ctrls.iter().find_map(|ldap3::controls::Control(_, raw)| {
        (raw.ctype == PPOLICY_OID).then(|| raw.val.clone().unwrap_or_default())
    })
}

impl TestServer {
    /// A new connection, bound as `user` with the password policy request
    /// control: the connection, the result code and text, and the
    /// response control's value.
    pub async fn ppolicy_bind(
        &self,
        user: &str,
        password: &str,
    ) -> (Ldap, u32, String, Option<Vec<u8>>) {
        let mut ldap = self.ldap().await;
        let res = ldap
            .with_controls(ldap3::controls::RawControl {
                ctype: PPOLICY_OID.into(),
                crit: false,
                val: None,
            })
            .simple_bind(&user_dn(user), password)
            .await
            .unwrap();
        let control = ppolicy_response(&res.ctrls);
        (ldap, res.rc, res.text, control)
    }
}

pub fn user_dn(name: &str) -> String {
    format!("uid={name},ou=people,{BASE_DN}")
}

pub fn group_dn(name: &str) -> String {
    format!("cn={name},ou=groups,{BASE_DN}")
}

/// Runs the `roster` command line on the test server's store.
pub fn cli(t: &TestServer, args: &[&str]) -> (bool, String) {
    cli_with_env(t, args, &[])
}

/// Runs the `roster` command line on the test server's store with extra
/// `ROSTER_*` settings in its environment.
pub fn cli_with_env(
    t: &TestServer,
    args: &[&str],
    env: &[(&str, &std::path::Path)],
) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_roster"))
        .args(args)
        .args([
            "--data-dir",
            t.config.data_dir.to_str().unwrap(),
            "--database-url",
            &t.config.database_url,
        ])
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Writes `text` to a file `name` in the test server's data directory;
/// returns its path.
pub fn write_file(t: &TestServer, name: &str, text: &str) -> String {
    let path = t.config.data_dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

/// `s` percent-encoded for a URL's query (unreserved characters as they are).
pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Waits until the server's view (polling the audit trail) shows what the
/// command line wrote.
pub async fn until(what: &str, mut check: impl AsyncFnMut() -> bool) {
    for _ in 0..60 {
        if check().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("never happened: {what}");
}

/// Roster's account extension URN.
pub const ACCOUNT_URN: &str = "urn:roster:params:scim:schemas:extension:account:1.0:User";

/// The result code of a simple bind as `user`.
pub async fn bind_rc(t: &TestServer, user: &str, password: &str) -> u32 {
    let mut ldap = t.ldap().await;
    ldap.simple_bind(&user_dn(user), password).await.unwrap().rc
}

/// The account extension of a user, over SCIM (returned when asked for).
pub async fn account(t: &TestServer, id: &str) -> serde_json::Value {
    let (status, body) = t
        .scim(
            Method::GET,
            &format!("/Users/{id}?attributes={ACCOUNT_URN}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body["schemas"]
            .as_array()
            .unwrap()
            .contains(&json!(ACCOUNT_URN)),
        "{body}"
    );
    body[ACCOUNT_URN].clone()
}

/// One entry, read with a base search for `attrs` on an open connection.
pub async fn read_entry(ldap: &mut Ldap, dn: &str, attrs: Vec<&str>) -> ldap3::SearchEntry {
    let (entries, _) = ldap
        .search(dn, ldap3::Scope::Base, "(objectClass=*)", attrs)
        .await
        .unwrap()
        .success()
        .unwrap();
    ldap3::SearchEntry::construct(entries.into_iter().next().expect("the entry"))
}
