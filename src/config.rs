//! Configuration: built-in defaults, then a TOML file, then `ROSTER_*`
//! environment variables, then command-line flags (each layer wins over the
//! one before it).
//!
//! Environment variables name a key by its section and key in upper case:
//! `ROSTER_BASE_DN`, `ROSTER_HTTP_LISTEN`, `ROSTER_PASSWORD_ARGON2_MEMORY_KIB`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

/// Every setting Roster has. Each field has a default, a TOML key and an
/// environment variable.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Directory for the embedded database and other state.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; empty means `sqlite://<data_dir>/roster.db`.
    pub database_url: String,
    /// The LDAP suffix under which `ou=people` and `ou=groups` live.
    pub base_dn: String,
    pub http: HttpConfig,
    pub ldap: LdapConfig,
    pub store: StoreConfig,
    pub password: PasswordConfig,
    pub policy: PolicyConfig,
    pub mfa: MfaConfig,
    pub audit: AuditConfig,
    pub groups: GroupsConfig,
    pub profile: ProfileConfig,
    pub posix: PosixConfig,
    pub tls: TlsConfig,
    pub log: LogConfig,
}

/// The account rules (`directory::policy`): lockout and inactivity.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolicyConfig {
    /// Failed logins that lock an account; 0 turns lockout off.
    pub max_failed_logins: i64,
    /// Failures older than this do not count; 0: they count until a
    /// success or an unlock.
    #[serde(with = "duration")]
    pub failure_window: Duration,
    /// How long a lock lasts; 0: until an administrator re-validates.
    #[serde(with = "duration")]
    pub lockout_duration: Duration,
    /// No successful login for this long makes an account inactive; 0 off.
    #[serde(with = "duration")]
    pub inactive_after: Duration,
    /// How often the background sweep looks for inactive accounts.
    #[serde(with = "duration")]
    pub inactivity_sweep_interval: Duration,
    /// A successful login is written at most this often per account.
    #[serde(with = "duration")]
    pub last_login_precision: Duration,
    /// Tell a bind with the right password on a locked account so, in the
    /// password policy response control (`accountLocked`). Off: a locked
    /// account fails exactly as a wrong password does.
    pub report_locked: bool,
}

/// TOTP multi-factor authentication (`directory::mfa`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MfaConfig {
    /// Users who must use MFA but have not enrolled yet may bind with the
    /// password alone (so that they can reach the enrolment page and
    /// applications meanwhile). Off: they cannot log in until an
    /// administrator enrols them or lifts the requirement.
    pub pending_may_bind: bool,
    /// The issuer shown in authenticator apps.
    pub issuer: String,
}

impl Default for MfaConfig {
    fn default() -> Self {
        MfaConfig {
            pending_may_bind: true,
            issuer: "Roster".into(),
        }
    }
}

/// Which characters names may hold (`directory::profile`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProfileConfig {
    /// A regular expression a userName must match.
    pub user_name_pattern: String,
    /// A regular expression given, family and middle names must match.
    pub name_pattern: String,
    /// No two users may share an email address.
    pub unique_email: bool,
    /// The declaration file of extra User and Group attributes (TOML or
    /// JSON); none when empty.
    pub attributes: Option<PathBuf>,
    /// Largest binary value (a profile picture) a declared attribute holds.
    pub max_binary_bytes: usize,
}

impl Default for ProfileConfig {
    fn default() -> Self {
        ProfileConfig {
            // Letters and marks of any script, digits, and . _ - @ + '
            user_name_pattern: r"^[\p{L}\p{M}\p{N}._@+'\-]+$".into(),
            // Letters and marks of any script, digits, space, apostrophes,
            // hyphen and period.
            name_pattern: r"^[\p{L}\p{M}\p{N} '’.\-]*$".into(),
            unique_email: true,
            attributes: None,
            max_binary_bytes: 5 * 1024 * 1024,
        }
    }
}

/// Groups.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GroupsConfig {
    /// Groups that cannot be deleted, renamed or have their permissions
    /// changed (their members can), by name.
    pub protected: Vec<String>,
}

impl Default for GroupsConfig {
    fn default() -> Self {
        GroupsConfig {
            protected: vec!["administrators".into()],
        }
    }
}

/// The audit trail.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditConfig {
    /// Events older than this are deleted (daily); 0: kept forever.
    #[serde(with = "duration")]
    pub retention: Duration,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            retention: Duration::ZERO,
        }
    }
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig {
            max_failed_logins: 10,
            failure_window: Duration::ZERO,
            lockout_duration: Duration::ZERO,
            inactive_after: Duration::from_secs(90 * 24 * 3600),
            inactivity_sweep_interval: Duration::from_secs(3600),
            last_login_precision: Duration::from_secs(60),
            report_locked: false,
        }
    }
}

/// The certificate LDAPS, StartTLS and (with `http.https`) SCIM serve.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM file with the server certificate, then its chain.
    pub cert: Option<PathBuf>,
    /// PEM file with the certificate's private key.
    pub key: Option<PathBuf>,
}

impl TlsConfig {
    pub fn enabled(&self) -> bool {
        self.cert.is_some() && self.key.is_some()
    }
}

/// POSIX accounts for hosts (nslcd, SSSD): numbers allocated to users and
/// groups, and the defaults served when a user has none of its own.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PosixConfig {
    /// Serve posixAccount / posixGroup and allocate numbers.
    pub enabled: bool,
    /// uidNumbers handed to new users, as `first-last`.
    pub uid_range: String,
    /// gidNumbers handed to new groups, as `first-last`.
    pub gid_range: String,
    /// A new user's gidNumber (primary group) when none is given.
    pub primary_gid: i64,
    /// homeDirectory when a user has none; `{uid}` is the user's name.
    pub home: String,
    /// loginShell when a user has none.
    pub shell: String,
}

impl Default for PosixConfig {
    fn default() -> Self {
        PosixConfig {
            enabled: true,
            uid_range: "10000-2000000000".into(),
            gid_range: "10000-2000000000".into(),
            primary_gid: 100,
            home: "/home/{uid}".into(),
            shell: "/bin/bash".into(),
        }
    }
}

impl PosixConfig {
    /// The home directory served for a user who has none of their own.
    pub fn home_of(&self, user_name: &str) -> String {
        self.home.replace("{uid}", user_name)
    }

    /// A `first-last` range, checked.
    pub fn range(text: &str) -> Result<(i64, i64), String> {
        let (a, b) = text
            .split_once('-')
            .ok_or_else(|| format!("{text:?}: write a range as first-last"))?;
        let (a, b): (i64, i64) = (
            a.trim()
                .parse()
                .map_err(|_| format!("{text:?}: not a number"))?,
            b.trim()
                .parse()
                .map_err(|_| format!("{text:?}: not a number"))?,
        );
        if a < 1 || b < a {
            return Err(format!(
                "{text:?}: first must be at least 1 and not above last"
            ));
        }
        Ok((a, b))
    }
}

/// The SCIM/HTTP listener.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    pub listen: SocketAddr,
    /// Time a client has to send the request line and headers.
    #[serde(with = "duration")]
    pub header_read_timeout: Duration,
    /// Time a whole request may take.
    #[serde(with = "duration")]
    pub request_timeout: Duration,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Largest `count` a SCIM list returns per page.
    pub max_results: usize,
    /// Most operations in one SCIM Bulk request.
    pub bulk_max_operations: usize,
    /// Serve SCIM over TLS with the `[tls]` certificate.
    pub https: bool,
    /// The URL users reach this listener at, for the links Roster hands
    /// out (`roster user invite`); empty: http(s)://<listen>.
    pub public_url: String,
}

impl HttpConfig {
    /// The base URL of links to this listener.
    pub fn public_url(&self) -> String {
        match self.public_url.is_empty() {
            false => self.public_url.trim_end_matches('/').to_string(),
            true => format!(
                "{}://{}",
                if self.https { "https" } else { "http" },
                self.listen
            ),
        }
    }
}

/// The LDAP listener.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LdapConfig {
    pub listen: SocketAddr,
    /// Address for LDAP over TLS; served when a certificate is configured.
    pub ldaps_listen: SocketAddr,
    /// Refuse simple binds on connections without TLS (result 13,
    /// confidentialityRequired); unset means: when a certificate is
    /// configured.
    pub require_tls_for_bind: Option<bool>,
    /// Largest accepted LDAP message, in bytes.
    pub max_pdu_bytes: usize,
    /// A connection with no request for this long is closed.
    #[serde(with = "duration")]
    pub idle_timeout: Duration,
    /// Most entries one search returns when the client sets no smaller limit.
    pub max_search_results: usize,
    /// Deepest accepted nesting of a search filter.
    pub max_filter_depth: usize,
    /// How a bind may name its user: `dn` (uid=NAME,ou=people,BASE), `uid`
    /// (the bare userName) and `mail` (an email address one user has).
    pub bind_with: Vec<String>,
    /// Members of this group (service accounts of applications) may read
    /// every entry; other users read only their own.
    pub reader_group: String,
    /// Members of this group read every entry and set other users'
    /// passwords.
    pub admin_group: String,
}

/// Database pool settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// Connections used for reads.
    pub max_connections: u32,
    /// How long a write waits for a locked SQLite database.
    #[serde(with = "duration")]
    pub busy_timeout: Duration,
    /// How often a server reads changes made by other writers (other
    /// nodes, the command line) into its in-memory view; 0 never.
    #[serde(with = "duration")]
    pub refresh_interval: Duration,
}

/// Password hashing (argon2id).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PasswordConfig {
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    pub argon2_parallelism: u32,
    /// Most password verifications at once; 0 means the number of cores.
    pub max_concurrent_hashes: usize,
    /// Replace an imported `{SSHA}`-style hash with argon2id at the user's
    /// first successful bind.
    pub rehash_on_bind: bool,
    /// A password an operator sets for someone (`roster user
    /// reset-password`, an LDAP administrator's Password Modify) must be
    /// changed at the next login.
    pub must_change_after_reset: bool,
    /// Passwords an identity provider sets over SCIM must be changed too
    /// (off: password sync from Okta must not force every user to change).
    pub must_change_after_scim_set: bool,
    /// How long a password lasts; 0: it never expires (per user:
    /// `passwordNeverExpires`).
    #[serde(with = "duration")]
    pub max_age: Duration,
    /// Fewest characters a new password may have.
    pub min_length: usize,
    /// Fewest character classes (lowercase, uppercase, digits, other) a new
    /// password must mix.
    pub min_classes: usize,
    /// Classes a new password must contain, by name: `lower`, `upper`,
    /// `digit`, `other`.
    pub required_classes: Vec<String>,
    /// How many passwords, the current one included, may not be set again
    /// (0: any; at most 24).
    pub history: usize,
    /// How long before expiry a bind that asked for the password policy
    /// control is told how much time is left (`timeBeforeExpiration`).
    #[serde(with = "duration")]
    pub expiry_warning: Duration,
    /// Binds still allowed with an expired password, each told how many
    /// remain (`graceAuthNsRemaining`); 0: none.
    pub grace_logins: i64,
    /// How long a set-password link from `roster user invite` works.
    #[serde(with = "duration")]
    pub invite_valid_for: Duration,
}

/// Logging.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// A tracing filter such as `info` or `roster=debug,info`.
    pub level: String,
    /// `text` or `json`.
    pub format: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("./data"),
            database_url: String::new(),
            base_dn: "dc=example,dc=com".into(),
            http: HttpConfig::default(),
            ldap: LdapConfig::default(),
            store: StoreConfig::default(),
            password: PasswordConfig::default(),
            policy: PolicyConfig::default(),
            mfa: MfaConfig::default(),
            audit: AuditConfig::default(),
            groups: GroupsConfig::default(),
            profile: ProfileConfig::default(),
            posix: PosixConfig::default(),
            tls: TlsConfig::default(),
            log: LogConfig::default(),
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: ([127, 0, 0, 1], 8080).into(),
            header_read_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_body_bytes: 1024 * 1024,
            max_results: 1000,
            bulk_max_operations: 1000,
            https: false,
            public_url: String::new(),
        }
    }
}

impl Default for LdapConfig {
    fn default() -> Self {
        LdapConfig {
            listen: ([127, 0, 0, 1], 3389).into(),
            ldaps_listen: ([127, 0, 0, 1], 3636).into(),
            require_tls_for_bind: None,
            max_pdu_bytes: 128 * 1024,
            idle_timeout: Duration::from_secs(300),
            max_search_results: 10_000,
            max_filter_depth: 32,
            bind_with: vec!["dn".into()],
            reader_group: "ldap-readers".into(),
            admin_group: "administrators".into(),
        }
    }
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            max_connections: 8,
            busy_timeout: Duration::from_secs(5),
            refresh_interval: Duration::from_secs(1),
        }
    }
}

impl Default for PasswordConfig {
    fn default() -> Self {
        // OWASP's argon2id recommendation: m=19 MiB, t=2, p=1.
        PasswordConfig {
            argon2_memory_kib: 19 * 1024,
            argon2_iterations: 2,
            argon2_parallelism: 1,
            max_concurrent_hashes: 0,
            rehash_on_bind: true,
            must_change_after_reset: true,
            must_change_after_scim_set: false,
            max_age: Duration::ZERO,
            min_length: 12,
            min_classes: 3,
            required_classes: Vec::new(),
            history: 5,
            expiry_warning: Duration::from_secs(14 * 86400),
            grace_logins: 0,
            invite_valid_for: Duration::from_secs(72 * 3600),
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".into(),
            format: "text".into(),
        }
    }
}

/// Sections whose keys are written `ROSTER_<SECTION>_<KEY>` in the environment.
const SECTIONS: [&str; 12] = [
    "http", "ldap", "store", "password", "policy", "mfa", "audit", "groups", "profile", "posix",
    "tls", "log",
];

/// Maps `HTTP_LISTEN` to `http.listen` and `BASE_DN` to `base_dn`.
fn env_key(key: &str) -> String {
    let lower = key.to_ascii_lowercase();
    for section in SECTIONS {
        if let Some(rest) = lower
            .strip_prefix(section)
            .and_then(|r| r.strip_prefix('_'))
        {
            return format!("{section}.{rest}");
        }
    }
    lower
}

/// Every setting's key, `section.key` or `key`.
fn known_keys() -> Vec<String> {
    let mut keys = Vec::new();
    if let Ok(serde_json::Value::Object(top)) = serde_json::to_value(Config::default()) {
        for (k, v) in top {
            match v {
                serde_json::Value::Object(section) => {
                    keys.extend(section.keys().map(|sk| format!("{k}.{sk}")));
                }
                _ => keys.push(k),
            }
        }
    }
    keys
}

impl Config {
    /// Loads defaults ← `file` ← `ROSTER_*` environment ← `overrides`
    /// (a serialisable value holding only the flags that were given).
    pub fn load(file: Option<&Path>, overrides: impl Serialize) -> Result<Config, String> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            if !path.exists() {
                return Err(format!("config file {} does not exist", path.display()));
            }
            figment = figment.merge(Toml::file(path));
        }
        // Only variables that name a setting are read, so that other
        // ROSTER_* variables (ROSTER_CONFIG, test settings) do no harm.
        let known = known_keys();
        figment = figment
            .merge(Env::prefixed("ROSTER_").filter_map(move |k| {
                let key = env_key(k.as_str());
                known.contains(&key).then(|| key.into())
            }))
            .merge(Serialized::defaults(overrides));
        let config: Config = figment.extract().map_err(|e| e.to_string())?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), String> {
        crate::ldap::dn::Dn::parse(&self.base_dn)
            .map_err(|e| format!("base_dn {:?}: {e}", self.base_dn))?;
        if !matches!(self.log.format.as_str(), "text" | "json") {
            return Err(format!(
                "log.format must be \"text\" or \"json\", not {:?}",
                self.log.format
            ));
        }
        if self.ldap.max_pdu_bytes < 1024 {
            return Err("ldap.max_pdu_bytes must be at least 1024".into());
        }
        if self.tls.cert.is_some() != self.tls.key.is_some() {
            return Err("tls.cert and tls.key go together: give both or neither".into());
        }
        if self.http.https && !self.tls.enabled() {
            return Err("http.https needs tls.cert and tls.key".into());
        }
        PosixConfig::range(&self.posix.uid_range).map_err(|e| format!("posix.uid_range {e}"))?;
        PosixConfig::range(&self.posix.gid_range).map_err(|e| format!("posix.gid_range {e}"))?;
        Ok(())
    }

    /// The database URL, with the SQLite default filled in.
    pub fn database_url(&self) -> String {
        if self.database_url.is_empty() {
            format!("sqlite://{}/roster.db", self.data_dir.display())
        } else {
            self.database_url.clone()
        }
    }
}

/// Parses durations written like `90d`, `15m`, `2s` or `0s`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    humantime::parse_duration(text).map_err(|e| format!("invalid duration {text:?}: {e}"))
}

/// Serde support for durations as `"90d"` strings.
pub mod duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Seconds(u64),
        }
        match Raw::deserialize(d)? {
            Raw::Text(t) => super::parse_duration(&t).map_err(serde::de::Error::custom),
            Raw::Seconds(s) => Ok(Duration::from_secs(s)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_keys_map_to_sections() {
        assert_eq!(env_key("HTTP_LISTEN"), "http.listen");
        assert_eq!(env_key("BASE_DN"), "base_dn");
        assert_eq!(
            env_key("PASSWORD_ARGON2_MEMORY_KIB"),
            "password.argon2_memory_kib"
        );
        assert_eq!(env_key("DATA_DIR"), "data_dir");
    }

    #[test]
    fn flags_win_over_environment_over_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("roster.toml");
        std::fs::write(
            &file,
            "base_dn = \"dc=file,dc=org\"\ndata_dir = \"/from/file\"\n[http]\nlisten = \"127.0.0.1:1111\"\n[ldap]\nidle_timeout = \"2m\"\n",
        )
        .unwrap();
        // Each variable is unique to this test, so parallel tests do not see it.
        std::env::set_var("ROSTER_HTTP_LISTEN", "127.0.0.1:2222");
        std::env::set_var("ROSTER_BASE_DN", "dc=env,dc=org");
        std::env::set_var("ROSTER_NOT_A_SETTING", "ignored");
        let flags = serde_json::json!({"base_dn": "dc=flag,dc=org"});
        let config = Config::load(Some(&file), flags).unwrap();
        std::env::remove_var("ROSTER_HTTP_LISTEN");
        std::env::remove_var("ROSTER_BASE_DN");
        std::env::remove_var("ROSTER_NOT_A_SETTING");
        assert_eq!(config.base_dn, "dc=flag,dc=org");
        assert_eq!(config.http.listen.to_string(), "127.0.0.1:2222");
        assert_eq!(config.data_dir, PathBuf::from("/from/file"));
        assert_eq!(config.ldap.idle_timeout, Duration::from_secs(120));
        assert_eq!(config.database_url(), "sqlite:///from/file/roster.db");
        assert_eq!(
            config.ldap.listen.to_string(),
            "127.0.0.1:3389",
            "defaults fill the rest"
        );

        std::fs::write(&file, "[http]\nlisten = \"nowhere\"\n").unwrap();
        assert!(Config::load(Some(&file), serde_json::json!({})).is_err());
        std::fs::write(&file, "[htp]\nlisten = \"127.0.0.1:1\"\n").unwrap();
        assert!(
            Config::load(Some(&file), serde_json::json!({})).is_err(),
            "typos in the file are errors"
        );
        assert!(Config::load(
            Some(&dir.path().join("missing.toml")),
            serde_json::json!({})
        )
        .is_err());
    }

    #[test]
    fn durations_parse() {
        assert_eq!(
            parse_duration("90d").unwrap(),
            Duration::from_secs(90 * 86400)
        );
        assert_eq!(parse_duration("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_duration("0s").unwrap(), Duration::ZERO);
        assert!(parse_duration("soon").is_err());
    }
}
