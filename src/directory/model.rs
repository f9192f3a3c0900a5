//! The directory's records: users, groups, their members, and who acts.
//!
//! Attribute names follow the SCIM core schema (RFC 7643), the directory's
//! canonical vocabulary; the LDAP face maps them through `attributes`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::time::Timestamp;

/// An account's state. Only `Active` accounts may authenticate; SCIM's
/// `active` is true exactly for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Active,
    /// Turned off by an administrator or an identity provider.
    Disabled,
    /// Too many failed logins; an administrator re-validates it (or the
    /// lockout duration runs out).
    Locked,
    /// No successful login within the inactivity window.
    Inactive,
    /// Deprovisioned (a SCIM DELETE): no longer served and its name free,
    /// but kept with its history until purged.
    Banned,
}

impl Status {
    pub const ALL: [Status; 5] = [
        Status::Active,
        Status::Disabled,
        Status::Locked,
        Status::Inactive,
        Status::Banned,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Disabled => "disabled",
            Status::Locked => "locked",
            Status::Inactive => "inactive",
            Status::Banned => "banned",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// What the server keeps about an account's logins: counted by the store
/// atomically, shown read-only over SCIM and LDAP. (The short serde names
/// are for the read model, which packs one of these with every user.)
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Logins {
    /// Failed logins since the last success or re-validation (within the
    /// failure window, when one is set).
    #[serde(rename = "f", skip_serializing_if = "is_zero")]
    pub failed: i64,
    #[serde(rename = "lf", skip_serializing_if = "Option::is_none")]
    pub last_failure: Option<Timestamp>,
    /// When the account was locked, while it is.
    #[serde(rename = "la", skip_serializing_if = "Option::is_none")]
    pub locked_at: Option<Timestamp>,
    /// The last successful login, to the configured precision.
    #[serde(rename = "ls", skip_serializing_if = "Option::is_none")]
    pub last_success: Option<Timestamp>,
    /// When an administrator last re-validated the account: the inactivity
    /// clock runs from here when it is later than the last login.
    #[serde(rename = "r", skip_serializing_if = "Option::is_none")]
    pub revalidated: Option<Timestamp>,
    /// When the user confirmed a TOTP authenticator; `None` when they have
    /// none (the secret itself is never in a served record).
    #[serde(rename = "t", skip_serializing_if = "Option::is_none")]
    pub totp_enrolled: Option<Timestamp>,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

impl Logins {
    /// Nothing recorded yet.
    pub fn is_empty(&self) -> bool {
        *self == Logins::default()
    }
}

/// Server-owned facts about a record.
#[derive(Debug, Clone, PartialEq)]
pub struct Meta {
    pub created: Timestamp,
    pub modified: Timestamp,
    /// Increases by one with every change; the basis of ETags.
    pub version: i64,
    /// Who created the record, as [`Actor::reference`] (empty if unknown).
    pub created_by: String,
    /// Who changed it last, likewise.
    pub modified_by: String,
}

/// The enterprise user extension (RFC 7643 §4.3).
pub const ENTERPRISE_USER_URN: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// A user's name parts (RFC 7643 §4.1.1).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Name {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub formatted: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub middle_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub honorific_prefix: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub honorific_suffix: Option<String>,
}

impl Name {
    pub fn is_empty(&self) -> bool {
        *self == Name::default()
    }
}

/// One value of a multi-valued attribute such as `emails` or `phoneNumbers`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MultiValue {
    pub value: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub primary: Option<bool>,
}

/// Account settings an administrator (or identity provider) writes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccountSettings {
    /// An account that exists without logging in (it receives reports):
    /// never made inactive for want of logins. `None` when never set (SCIM
    /// tells an unassigned value from `false`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reports_only: Option<bool>,
    /// The password was reset and must be changed at the next login.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub must_change_password: Option<bool>,
    /// The password does not expire, whatever `password.max_age` says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_never_expires: Option<bool>,
    /// The user must log in with a second factor (TOTP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa_required: Option<bool>,
    /// Addresses and networks (CIDR) the user may log in from; empty: any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ip_allow_list: Vec<String>,
}

impl AccountSettings {
    /// Whether the account is exempt from inactivity.
    pub fn is_reports_only(&self) -> bool {
        self.reports_only == Some(true)
    }

    /// Whether the password must be changed before anything else.
    pub fn must_change(&self) -> bool {
        self.must_change_password == Some(true)
    }

    /// Whether a second factor is required.
    pub fn requires_mfa(&self) -> bool {
        self.mfa_required == Some(true)
    }
}

/// Where a user stands with multi-factor authentication, as the back
/// offices list it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MfaState {
    /// Not required (the user may still have enrolled an optional factor).
    NotRequired,
    /// Required, not enrolled yet.
    RequiredPending,
    /// Required and enrolled.
    RequiredActive,
}

impl MfaState {
    pub fn as_str(self) -> &'static str {
        match self {
            MfaState::NotRequired => "notRequired",
            MfaState::RequiredPending => "requiredPending",
            MfaState::RequiredActive => "requiredActive",
        }
    }
}

impl AccountSettings {
    pub fn is_empty(&self) -> bool {
        *self == AccountSettings::default()
    }
}

/// A user's POSIX account attributes (RFC 2307 `posixAccount`), served over
/// LDAP to hosts (SSSD, nslcd) and set over SCIM through Roster's POSIX
/// extension. `uidNumber` is allocated on creation when not given.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PosixAccount {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid_number: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gid_number: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub home_directory: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login_shell: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gecos: Option<String>,
}

impl PosixAccount {
    pub fn is_empty(&self) -> bool {
        *self == PosixAccount::default()
    }
}

/// Everything about a user that a client may write. Stored as one document;
/// the searchable parts are also indexed (see `attributes`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserAttrs {
    pub user_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    #[serde(default, skip_serializing_if = "Name::is_empty")]
    pub name: Name,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nick_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_language: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub emails: Vec<MultiValue>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phone_numbers: Vec<MultiValue>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ims: Vec<MultiValue>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub photos: Vec<MultiValue>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<MultiValue>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entitlements: Vec<MultiValue>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub x509_certificates: Vec<MultiValue>,
    /// Postal addresses, kept exactly as sent (RFC 7643 §4.1.2).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<Map<String, Value>>,
    /// Schema extensions by URN, e.g. the enterprise user extension.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub extensions: Map<String, Value>,
    #[serde(default, skip_serializing_if = "PosixAccount::is_empty")]
    pub posix: PosixAccount,
    /// The account settings an administrator writes (Roster's account
    /// extension; the account's state is the server's, in `User`).
    #[serde(default, skip_serializing_if = "AccountSettings::is_empty")]
    pub account: AccountSettings,
    /// A client removed `active` (RFC 7644 §3.5.2.2): the resource does not
    /// report it until it is set again. The account's status is unchanged.
    #[serde(
        rename = "_activeUnassigned",
        default,
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub active_unassigned: bool,
}

impl UserAttrs {
    /// A string attribute of the enterprise extension; `path` may name a
    /// sub-attribute, as in `manager.value`.
    pub fn enterprise(&self, path: &str) -> Option<String> {
        let mut v = self.extensions.get(ENTERPRISE_USER_URN)?;
        for part in path.split('.') {
            v = v.get(part)?;
        }
        v.as_str().map(str::to_string)
    }

    /// The primary email, or the first one.
    pub fn primary_email(&self) -> Option<&str> {
        self.emails
            .iter()
            .find(|e| e.primary == Some(true))
            .or_else(|| self.emails.first())
            .map(|e| e.value.as_str())
    }

    /// The country of the primary address (or the first one), if any.
    pub fn country(&self) -> Option<String> {
        self.addresses
            .iter()
            .find(|a| a.get("primary") == Some(&Value::Bool(true)))
            .or_else(|| self.addresses.first())
            .and_then(|a| a.get("country"))
            .and_then(Value::as_str)
            .map(str::to_string)
    }
}

/// A group a user belongs to, as seen from the user: directly, or through
/// a group that is a member of it.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupRef {
    pub id: Uuid,
    pub display_name: String,
    pub direct: bool,
    /// The permissions the group carries (for the user's effective ones).
    pub permissions: Vec<String>,
}

/// A stored user.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: Uuid,
    pub attrs: UserAttrs,
    pub status: Status,
    pub meta: Meta,
    /// Groups the user is a member of, directly or through nested groups,
    /// ordered by name.
    pub groups: Vec<GroupRef>,
    /// When the password was last set, if the user has one.
    pub password_changed: Option<Timestamp>,
    pub logins: Logins,
}

impl User {
    /// The user's MFA state: required or not, enrolled or not.
    pub fn mfa_state(&self) -> MfaState {
        match (
            self.attrs.account.requires_mfa(),
            self.logins.totp_enrolled.is_some(),
        ) {
            (false, _) => MfaState::NotRequired,
            (true, false) => MfaState::RequiredPending,
            (true, true) => MfaState::RequiredActive,
        }
    }

    /// What the user may do: the permissions of every group they are in,
    /// directly or through nested groups, and their own entitlements;
    /// sorted, each once.
    pub fn effective_permissions(&self) -> Vec<String> {
        let mut all: Vec<String> = self
            .groups
            .iter()
            .flat_map(|g| g.permissions.iter().cloned())
            .chain(self.attrs.entitlements.iter().map(|e| e.value.clone()))
            .collect();
        all.sort();
        all.dedup();
        all
    }

    /// The second factors the user has enrolled.
    pub fn mfa_methods(&self) -> Vec<&'static str> {
        match self.logins.totp_enrolled {
            Some(_) => vec!["totp"],
            None => Vec::new(),
        }
    }

    /// The common name served over LDAP: displayName, else userName.
    pub fn common_name(&self) -> &str {
        self.attrs
            .display_name
            .as_deref()
            .unwrap_or(&self.attrs.user_name)
    }
}

/// What a member of a group is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MemberKind {
    User,
    Group,
}

impl MemberKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MemberKind::User => "User",
            MemberKind::Group => "Group",
        }
    }
}

/// A member of a group, with the member's current name.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub id: Uuid,
    pub kind: MemberKind,
    /// userName of a user member, displayName of a group member.
    pub name: String,
    /// The display text the client sent with the member, kept as sent.
    pub display: Option<String>,
}

/// A member as a client names it: an id, and optional display text.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberRef {
    pub id: Uuid,
    pub display: Option<String>,
}

/// Everything about a group that a client may write, except its members.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GroupAttrs {
    pub display_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub extensions: Map<String, Value>,
    /// The group's POSIX number (`posixGroup`), allocated on creation when
    /// not given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gid_number: Option<i64>,
    /// What membership grants (Roster's group extension), a set.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub permissions: Vec<String>,
}

/// A stored group.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub id: Uuid,
    pub attrs: GroupAttrs,
    pub members: Vec<Member>,
    pub meta: Meta,
}

/// The protocol a request arrived by; recorded in the audit trail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Scim,
    Ldap,
    Cli,
    /// Roster's own HTTP pages for users (self-service).
    Http,
    System,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Scim => "scim",
            Protocol::Ldap => "ldap",
            Protocol::Cli => "cli",
            Protocol::Http => "http",
            Protocol::System => "system",
        }
    }
}

/// Who asks for a change: the audit trail records it.
#[derive(Debug, Clone, PartialEq)]
pub struct Actor {
    /// A token name, a bind DN, or the operator's login for the CLI.
    pub name: String,
    pub protocol: Protocol,
    /// The client's address, when it came over the network.
    pub client: Option<String>,
}

impl Actor {
    /// How the actor is recorded on the records it creates and changes:
    /// `protocol:name`, e.g. `scim:okta-provisioning`,
    /// `ldap:uid=root,ou=people,dc=example,dc=com`.
    pub fn reference(&self) -> String {
        format!("{}:{}", self.protocol.as_str(), self.name)
    }

    pub fn new(name: impl Into<String>, protocol: Protocol, client: Option<String>) -> Actor {
        Actor {
            name: name.into(),
            protocol,
            client,
        }
    }

    /// The operator at the command line.
    pub fn cli() -> Actor {
        let login = std::env::var("USER").unwrap_or_else(|_| "operator".into());
        Actor::new(login, Protocol::Cli, None)
    }
}

/// What a SCIM token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenScope {
    /// Everything.
    Admin,
    /// Reads and searches only.
    ReadOnly,
    /// Reads and writes users only (no groups, no Bulk).
    Users,
}

/// What a SCIM request touches, for [`TokenScope::allows`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeTarget {
    Users,
    /// Groups, Bulk, searches across resource types.
    Other,
}

impl TokenScope {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenScope::Admin => "admin",
            TokenScope::ReadOnly => "read-only",
            TokenScope::Users => "users",
        }
    }

    pub fn parse(s: &str) -> Option<TokenScope> {
        match s {
            "admin" => Some(TokenScope::Admin),
            "read-only" => Some(TokenScope::ReadOnly),
            "users" => Some(TokenScope::Users),
            _ => None,
        }
    }

    /// Whether a request that `writes` (or only reads) `target` is allowed.
    pub fn allows(self, writes: bool, target: ScopeTarget) -> bool {
        match self {
            TokenScope::Admin => true,
            TokenScope::ReadOnly => !writes,
            TokenScope::Users => target == ScopeTarget::Users,
        }
    }
}

/// A SCIM bearer token as stored: the secret part only as a hash.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenRecord {
    /// The public part of the token, used to look it up.
    pub id: String,
    pub name: String,
    pub scope: TokenScope,
    /// SHA-256 of the secret part.
    pub secret_hash: Vec<u8>,
    pub created: Timestamp,
}
