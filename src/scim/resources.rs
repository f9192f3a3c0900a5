//! SCIM JSON ↔ the core's records. Strict in what is returned (RFC 7643
//! shapes, `meta`, computed `groups`, never a password), tolerant in what
//! is accepted (attribute names in any case, booleans as strings, nulls as
//! "no value", read-only attributes ignored).

use serde_json::{json, Map, Value};
use uuid::Uuid;

pub use crate::directory::attributes::{
    ACCOUNT_USER_URN, GROUP_EXTENSION_URN, POSIX_GROUP_URN, POSIX_USER_URN,
};
use crate::directory::declared::{
    blob_digest, Declared, Kind, Resource, CUSTOM_GROUP_URN, CUSTOM_USER_URN,
};
use crate::directory::policy::Policy;
use crate::directory::{
    AccountSettings, Directory, Group, GroupAttrs, MemberRef, Meta, PosixAccount, Status, User,
    UserAttrs,
};

use super::error::{ScimError, ScimResult};

pub const USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub use crate::directory::ENTERPRISE_USER_URN as ENTERPRISE_URN;
pub const LIST_URN: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// The document key of [`UserAttrs::active_unassigned`], never shown to clients.
const ACTIVE_UNASSIGNED: &str = "_activeUnassigned";
pub const PATCH_URN: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// Every attribute and sub-attribute name Roster knows, in canonical case.
const CANONICAL: &[&str] = &[
    "schemas",
    "id",
    "externalId",
    "meta",
    "userName",
    "name",
    "displayName",
    "nickName",
    "profileUrl",
    "title",
    "userType",
    "preferredLanguage",
    "locale",
    "timezone",
    "active",
    "password",
    "emails",
    "phoneNumbers",
    "ims",
    "photos",
    "addresses",
    "groups",
    "entitlements",
    "roles",
    "x509Certificates",
    "members",
    "formatted",
    "familyName",
    "givenName",
    "middleName",
    "honorificPrefix",
    "honorificSuffix",
    "value",
    "display",
    "type",
    "primary",
    "$ref",
    "streetAddress",
    "locality",
    "region",
    "postalCode",
    "country",
    "employeeNumber",
    "costCenter",
    "organization",
    "division",
    "department",
    "manager",
    "uidNumber",
    "gidNumber",
    "homeDirectory",
    "loginShell",
    "gecos",
];

/// The canonical spelling of an attribute name, if Roster knows it.
pub fn canonical(name: &str) -> Option<&'static str> {
    CANONICAL
        .iter()
        .copied()
        .find(|c| c.eq_ignore_ascii_case(name))
}

/// Renames known keys to their canonical case, recursively, and turns the
/// strings "true"/"false" into booleans for `active` and `primary`.
pub fn canonicalize(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let old = std::mem::take(map);
            for (k, mut v) in old {
                let key = canonical(&k).map(str::to_string).unwrap_or(k);
                canonicalize(&mut v);
                if key == "active" || key == "primary" {
                    if let Value::String(s) = &v {
                        match s.to_ascii_lowercase().as_str() {
                            "true" => v = Value::Bool(true),
                            "false" => v = Value::Bool(false),
                            _ => {}
                        }
                    }
                }
                map.insert(key, v);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(canonicalize),
        _ => {}
    }
}

/// Drops null values (RFC 7644 §3.5.1: null means "no value").
fn drop_nulls(map: &mut Map<String, Value>) {
    map.retain(|_, v| !v.is_null());
    for v in map.values_mut() {
        match v {
            Value::Object(inner) => drop_nulls(inner),
            Value::Array(items) => {
                items.retain(|i| !i.is_null());
                for i in items {
                    if let Value::Object(inner) = i {
                        drop_nulls(inner);
                    }
                }
            }
            _ => {}
        }
    }
}

fn object(body: Value) -> ScimResult<Map<String, Value>> {
    match body {
        Value::Object(map) => Ok(map),
        _ => Err(ScimError::bad_request(
            "invalidSyntax",
            "the request body must be a JSON object",
        )),
    }
}

/// Turns serde's complaint about a document into a SCIM error.
fn shape_error(e: serde_json::Error) -> ScimError {
    let msg = e.to_string();
    let msg = msg.split(" at line").next().unwrap_or(&msg).to_string();
    ScimError::invalid_value(
        msg.replace("unknown field", "unknown attribute")
            .replace("field", "attribute"),
    )
}

/// A user as a client wrote it.
pub struct UserInput {
    pub attrs: UserAttrs,
    pub active: Option<bool>,
    pub password: Option<String>,
    /// Whether the resource carried the POSIX extension.
    pub posix_asserted: bool,
}

// By hand, so that the password never reaches a log line.
impl std::fmt::Debug for UserInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserInput")
            .field("attrs", &self.attrs)
            .field("active", &self.active)
            .field("password", &self.password.as_ref().map(|_| "********"))
            .finish()
    }
}

/// Reads a User resource from a POST or PUT body (or a patched document).
pub fn user_from_json(body: Value) -> ScimResult<UserInput> {
    let mut body = body;
    canonicalize(&mut body);
    let mut map = object(body)?;
    drop_nulls(&mut map);
    // `account` is the document's key for the account extension, which
    // clients reach only by its URN.
    for read_only in [
        "schemas",
        "id",
        "meta",
        "groups",
        "account",
        ACTIVE_UNASSIGNED,
    ] {
        map.remove(read_only);
    }
    let active = match map.remove("active") {
        None => None,
        Some(Value::Bool(b)) => Some(b),
        Some(other) => {
            return Err(ScimError::invalid_value(format!(
                "active must be a boolean, not {other}"
            )))
        }
    };
    let password = match map.remove("password") {
        None => None,
        Some(Value::String(p)) => Some(p),
        Some(_) => return Err(ScimError::invalid_value("password must be a string")),
    };
    let mut extensions = Map::new();
    let mut posix = None;
    let mut account = AccountSettings::default();
    let urn_keys: Vec<String> = map
        .keys()
        .filter(|k| k.to_ascii_lowercase().starts_with("urn:"))
        .cloned()
        .collect();
    for key in urn_keys {
        let value = map.remove(&key).unwrap_or(Value::Null);
        if key.eq_ignore_ascii_case(ACCOUNT_USER_URN) {
            account = account_settings(value)?;
            continue;
        }
        if key.eq_ignore_ascii_case(POSIX_USER_URN) {
            posix = Some(posix_account(value)?);
            continue;
        }
        if key.eq_ignore_ascii_case(CUSTOM_USER_URN) {
            // Checked against the declarations by the directory.
            extensions.insert(CUSTOM_USER_URN.to_string(), value);
            continue;
        }
        if key.eq_ignore_ascii_case(ENTERPRISE_URN) {
            if value.as_object().is_some_and(Map::is_empty) {
                continue;
            }
            let mut value = value;
            // Entra ID sends the manager as a bare id; keep the RFC's object.
            if let Some(manager) = value.get_mut("manager") {
                if let Value::String(id) = manager {
                    *manager = json!({ "value": id.clone() });
                }
            }
            if !value.is_object() {
                return Err(ScimError::invalid_value(format!(
                    "{ENTERPRISE_URN} must be an object"
                )));
            }
            extensions.insert(ENTERPRISE_URN.to_string(), value);
        } else {
            return Err(ScimError::invalid_value(format!(
                "unknown schema extension {key}"
            )));
        }
    }
    if !map.contains_key("userName") {
        return Err(ScimError::invalid_value("userName is required"));
    }
    let mut attrs: UserAttrs = serde_json::from_value(Value::Object(map)).map_err(shape_error)?;
    // The picture URLs Roster serves are its own, not the client's.
    attrs.photos.retain(|p| !is_served_binary(&p.value));
    attrs.extensions = extensions;
    attrs.account = account;
    let posix_asserted = posix.is_some();
    attrs.posix = posix.unwrap_or_default();
    Ok(UserInput {
        attrs,
        active,
        password,
        posix_asserted,
    })
}

/// A whole number, also when sent as a numeric string.
fn integer(value: &Value, attr: &str) -> ScimResult<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .ok_or_else(|| ScimError::invalid_value(format!("{attr} must be a whole number")))
}

/// Reads the POSIX extension of a User.
fn posix_account(value: Value) -> ScimResult<PosixAccount> {
    let Value::Object(map) = value else {
        return Err(ScimError::invalid_value(format!(
            "{POSIX_USER_URN} must be an object"
        )));
    };
    let mut p = PosixAccount::default();
    for (key, v) in map {
        let text = || {
            v.as_str()
                .map(str::to_string)
                .ok_or_else(|| ScimError::invalid_value(format!("{key} must be a string")))
        };
        match key.as_str() {
            "uidNumber" => p.uid_number = Some(integer(&v, &key)?),
            "gidNumber" => p.gid_number = Some(integer(&v, &key)?),
            "homeDirectory" => p.home_directory = Some(text()?),
            "loginShell" => p.login_shell = Some(text()?),
            "gecos" => p.gecos = Some(text()?),
            "schemas" => {}
            _ => {
                return Err(ScimError::invalid_value(format!(
                    "{key} is not an attribute of {POSIX_USER_URN}"
                )))
            }
        }
    }
    Ok(p)
}

/// The account extension's attributes clients write (see
/// `account_settings`).
pub const ACCOUNT_SETTINGS: &[&str] = &[
    "reportsOnly",
    "mustChangePassword",
    "passwordNeverExpires",
    "mfa",
    "ipAllowList",
];

/// The sub-attributes of `mfa` the server keeps (only `required` is
/// written by clients).
pub const MFA_STATE: &[&str] = &["state", "methods"];

/// The account extension's read-only attributes: the server's account
/// state, returned only when asked for (`attributes=`).
const ACCOUNT_STATE: &[&str] = &[
    "status",
    "failedLogins",
    "lastLogin",
    "lastFailedLogin",
    "lockedAt",
    "passwordChangedAt",
    "passwordExpiresAt",
    "createdBy",
    "effectivePermissions",
];

/// The writable part of the account extension; what a client sends for the
/// read-only part is ignored (RFC 7643 §2.2).
fn account_settings(value: Value) -> ScimResult<AccountSettings> {
    let map = match value {
        Value::Object(map) => map,
        Value::Null => Map::new(),
        _ => {
            return Err(ScimError::invalid_value(format!(
                "{ACCOUNT_USER_URN} must be an object"
            )))
        }
    };
    let flag = |key: &str, v: Value| match v {
        Value::Bool(b) => Ok(Some(b)),
        Value::Null => Ok(None),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        other => Err(ScimError::invalid_value(format!(
            "{key} must be a boolean, not {other}"
        ))),
    };
    let mut a = AccountSettings::default();
    for (key, v) in map {
        match key.as_str() {
            k if k.eq_ignore_ascii_case("reportsOnly") => a.reports_only = flag(k, v)?,
            k if k.eq_ignore_ascii_case("mustChangePassword") => {
                a.must_change_password = flag(k, v)?
            }
            k if k.eq_ignore_ascii_case("passwordNeverExpires") => {
                a.password_never_expires = flag(k, v)?
            }
            k if k.eq_ignore_ascii_case("mfa") => match v {
                Value::Object(mfa) => {
                    for (sub, v) in mfa {
                        if sub.eq_ignore_ascii_case("required") {
                            a.mfa_required = flag("mfa.required", v)?;
                        } else if !MFA_STATE.iter().any(|s| s.eq_ignore_ascii_case(&sub)) {
                            return Err(ScimError::invalid_value(format!(
                                "mfa.{sub} is not an attribute of {ACCOUNT_USER_URN}"
                            )));
                        }
                    }
                }
                Value::Null => a.mfa_required = None,
                other => {
                    return Err(ScimError::invalid_value(format!(
                        "mfa must be an object, not {other}"
                    )))
                }
            },
            k if k.eq_ignore_ascii_case("ipAllowList") => {
                a.ip_allow_list = string_list("ipAllowList", &v)?
            }
            "schemas" => {}
            k if ACCOUNT_STATE.iter().any(|s| s.eq_ignore_ascii_case(k)) => {}
            _ => {
                return Err(ScimError::invalid_value(format!(
                    "{key} is not an attribute of {ACCOUNT_USER_URN}"
                )))
            }
        }
    }
    Ok(a)
}

fn meta_json(meta: &Meta, kind: &str, location: String) -> Value {
    json!({
        "resourceType": kind,
        "created": meta.created.rfc3339(),
        "lastModified": meta.modified.rfc3339(),
        "location": location,
        "version": etag(meta),
    })
}

/// The weak ETag of a record's version.
pub fn etag(meta: &Meta) -> String {
    format!("W/\"{}\"", meta.version)
}

/// The path under a user's location at which Roster serves its binary
/// declared attribute `name` (a profile picture).
pub fn binary_path(name: &str) -> String {
    format!("photos/{name}")
}

/// Whether `url` is one of the binary URLs Roster serves.
fn is_served_binary(url: &str) -> bool {
    url.split_once("/Users/")
        .and_then(|(_, rest)| rest.split_once("/photos/"))
        .is_some_and(|(id, _)| Uuid::parse_str(id).is_ok())
}

/// Renders a user as a SCIM User resource. `base` is the SCIM base URL.
pub fn user_to_json(user: &User, base: &str, directory: &Directory) -> Value {
    let (policy, declared) = (directory.policy(), directory.declared());
    let mut attrs = match serde_json::to_value(&user.attrs) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    attrs.remove(ACTIVE_UNASSIGNED);
    let mut schemas = vec![Value::from(USER_URN)];
    let mut extensions = match attrs.remove("extensions") {
        Some(Value::Object(ext)) => ext,
        _ => Map::new(),
    };
    let served = declared.served(Resource::User, &user.attrs.extensions);
    match served.is_empty() {
        true => extensions.remove(CUSTOM_USER_URN),
        false => extensions.insert(CUSTOM_USER_URN.into(), Value::Object(served)),
    };
    let location = format!("{base}/Users/{}", user.id);
    for d in declared.users.iter().filter(|d| d.kind == Kind::Binary) {
        if blob_digest(&user.attrs.extensions, Resource::User, &d.name).is_some() {
            let photos = attrs.entry("photos").or_insert_with(|| json!([]));
            if let Value::Array(list) = photos {
                list.push(json!({
                    "value": format!("{location}/{}", binary_path(&d.name)),
                    "type": "photo",
                    "display": d.name,
                }));
            }
        }
    }
    schemas.extend(extensions.keys().map(|urn| Value::from(urn.as_str())));
    let posix = attrs.remove("posix");
    if posix.is_some() {
        schemas.push(POSIX_USER_URN.into());
    }
    attrs.remove("account");
    schemas.push(ACCOUNT_USER_URN.into());
    let mut map = Map::new();
    map.insert("schemas".into(), Value::Array(schemas));
    map.insert("id".into(), user.id.to_string().into());
    map.extend(attrs);
    // `active` says whether the account is active, unless a client removed
    // it (RFC 7644 §3.5.2.2): then it is unassigned until set again, and the
    // account keeps the status it had.
    if !user.attrs.active_unassigned {
        map.insert("active".into(), (user.status == Status::Active).into());
    }
    if !user.groups.is_empty() {
        let groups: Vec<Value> = user
            .groups
            .iter()
            .map(|g| {
                json!({
                    "value": g.id.to_string(),
                    "display": g.display_name,
                    "$ref": format!("{base}/Groups/{}", g.id),
                    "type": if g.direct { "direct" } else { "indirect" },
                })
            })
            .collect();
        map.insert("groups".into(), Value::Array(groups));
    }
    map.extend(extensions);
    if let Some(posix) = posix {
        map.insert(POSIX_USER_URN.into(), posix);
    }
    map.insert(ACCOUNT_USER_URN.into(), account_json(user, policy));
    map.insert("meta".into(), meta_json(&user.meta, "User", location));
    Value::Object(map)
}

/// The account extension: the settings, and the account's state (read-only;
/// `project` keeps it only when asked for).
fn account_json(user: &User, policy: &Policy) -> Value {
    let mut m = Map::new();
    if let Some(r) = user.attrs.account.reports_only {
        m.insert("reportsOnly".into(), r.into());
    }
    if let Some(r) = user.attrs.account.must_change_password {
        m.insert("mustChangePassword".into(), r.into());
    }
    if let Some(r) = user.attrs.account.password_never_expires {
        m.insert("passwordNeverExpires".into(), r.into());
    }
    if !user.attrs.account.ip_allow_list.is_empty() {
        m.insert(
            "ipAllowList".into(),
            user.attrs.account.ip_allow_list.clone().into(),
        );
    }
    let mut mfa = Map::new();
    if let Some(r) = user.attrs.account.mfa_required {
        mfa.insert("required".into(), r.into());
    }
    mfa.insert("state".into(), user.mfa_state().as_str().into());
    mfa.insert("methods".into(), user.mfa_methods().into());
    m.insert("mfa".into(), Value::Object(mfa));
    m.insert("status".into(), user.status.as_str().into());
    m.insert("failedLogins".into(), user.logins.failed.into());
    let times = [
        ("lastLogin", user.logins.last_success),
        ("lastFailedLogin", user.logins.last_failure),
        ("lockedAt", user.logins.locked_at),
        ("passwordChangedAt", user.password_changed),
        ("passwordExpiresAt", policy.password_expires(user)),
    ];
    for (name, at) in times {
        if let Some(t) = at {
            m.insert(name.into(), t.rfc3339().into());
        }
    }
    if !user.meta.created_by.is_empty() {
        m.insert("createdBy".into(), user.meta.created_by.clone().into());
    }
    m.insert(
        "effectivePermissions".into(),
        user.effective_permissions().into(),
    );
    Value::Object(m)
}

/// The permissions in Roster's group extension object.
pub fn group_extension(value: &Value) -> ScimResult<Vec<String>> {
    let Value::Object(map) = value else {
        return Err(ScimError::invalid_value(format!(
            "{GROUP_EXTENSION_URN} must be an object"
        )));
    };
    let mut permissions = Vec::new();
    for (key, v) in map {
        if key.eq_ignore_ascii_case("permissions") {
            permissions = string_list("permissions", v)?;
        } else if key != "schemas" {
            return Err(ScimError::invalid_value(format!(
                "{key} is not an attribute of {GROUP_EXTENSION_URN}"
            )));
        }
    }
    Ok(permissions)
}

/// A multi-valued string attribute's values (one string is taken as a
/// list of one; null as none).
pub fn string_list(attr: &str, value: &Value) -> ScimResult<Vec<String>> {
    match value {
        Value::Null => Ok(Vec::new()),
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::String(s) => Ok(s.clone()),
                other => Err(ScimError::invalid_value(format!(
                    "{attr} holds strings, not {other}"
                ))),
            })
            .collect(),
        other => Err(ScimError::invalid_value(format!(
            "{attr} must be a list of strings, not {other}"
        ))),
    }
}

/// A group as a client wrote it; `members` is `None` when absent.
pub struct GroupInput {
    pub attrs: GroupAttrs,
    pub members: Option<Vec<MemberRef>>,
    /// Whether the resource carried the POSIX extension.
    pub gid_asserted: bool,
}

/// Reads the members named in a `members` value: an array of objects (or
/// one object) with `value` (the member's id) and optional `display`.
pub fn member_refs(value: &Value) -> ScimResult<Vec<MemberRef>> {
    let items = match value {
        Value::Array(items) => items.as_slice(),
        Value::Object(_) => std::slice::from_ref(value),
        _ => {
            return Err(ScimError::invalid_value(
                "members must be an array of {\"value\": id}",
            ))
        }
    };
    items
        .iter()
        .map(|m| {
            let id = m.get("value").and_then(Value::as_str).ok_or_else(|| {
                ScimError::invalid_value("each member needs a \"value\" with the member's id")
            })?;
            let id = Uuid::parse_str(id)
                .map_err(|_| ScimError::invalid_value(format!("no user or group has id {id}")))?;
            let display = m.get("display").and_then(Value::as_str).map(str::to_string);
            Ok(MemberRef { id, display })
        })
        .collect()
}

/// Reads a Group resource from a POST or PUT body.
pub fn group_from_json(body: Value) -> ScimResult<GroupInput> {
    let mut body = body;
    canonicalize(&mut body);
    let mut map = object(body)?;
    drop_nulls(&mut map);
    for read_only in ["schemas", "id", "meta"] {
        map.remove(read_only);
    }
    let members = map.remove("members").map(|m| member_refs(&m)).transpose()?;
    let posix_key = map
        .keys()
        .find(|k| k.eq_ignore_ascii_case(POSIX_GROUP_URN))
        .cloned();
    let gid = match posix_key.and_then(|k| map.remove(&k)) {
        Some(v) => Some(posix_group(&v)?),
        None => None,
    };
    let extension_key = map
        .keys()
        .find(|k| k.eq_ignore_ascii_case(GROUP_EXTENSION_URN))
        .cloned();
    let permissions = match extension_key.and_then(|k| map.remove(&k)) {
        Some(v) => group_extension(&v)?,
        None => Vec::new(),
    };
    let custom_key = map
        .keys()
        .find(|k| k.eq_ignore_ascii_case(CUSTOM_GROUP_URN))
        .cloned();
    let mut extensions = Map::new();
    if let Some(value) = custom_key.and_then(|k| map.remove(&k)) {
        // Checked against the declarations by the directory.
        extensions.insert(CUSTOM_GROUP_URN.to_string(), value);
    }
    // Provider-specific extension schemas on groups carry nothing Roster keeps.
    map.retain(|k, _| {
        !k.to_ascii_lowercase().starts_with("urn:") && !k.to_ascii_lowercase().starts_with("http")
    });
    if !map.contains_key("displayName") {
        return Err(ScimError::invalid_value("displayName is required"));
    }
    let mut attrs: GroupAttrs = serde_json::from_value(Value::Object(map)).map_err(shape_error)?;
    attrs.gid_number = gid.flatten();
    attrs.permissions = permissions;
    attrs.extensions = extensions;
    Ok(GroupInput {
        attrs,
        members,
        gid_asserted: gid.is_some(),
    })
}

/// Reads the POSIX extension of a Group: its gidNumber, if it has one.
pub fn posix_group(value: &Value) -> ScimResult<Option<i64>> {
    let Value::Object(map) = value else {
        return Err(ScimError::invalid_value(format!(
            "{POSIX_GROUP_URN} must be an object"
        )));
    };
    let mut gid = None;
    for (key, v) in map {
        match key.as_str() {
            "gidNumber" => gid = Some(integer(v, key)?),
            "schemas" => {}
            _ => {
                return Err(ScimError::invalid_value(format!(
                    "{key} is not an attribute of {POSIX_GROUP_URN}"
                )))
            }
        }
    }
    Ok(gid)
}

/// Renders a group as a SCIM Group resource.
pub fn group_to_json(group: &Group, base: &str, with_members: bool, declared: &Declared) -> Value {
    let mut attrs = match serde_json::to_value(&group.attrs) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    for key in ["extensions", "gidNumber", "permissions"] {
        attrs.remove(key);
    }
    let mut schemas = vec![GROUP_URN];
    if group.attrs.gid_number.is_some() {
        schemas.push(POSIX_GROUP_URN);
    }
    if !group.attrs.permissions.is_empty() {
        schemas.push(GROUP_EXTENSION_URN);
    }
    let served = declared.served(Resource::Group, &group.attrs.extensions);
    if !served.is_empty() {
        schemas.push(CUSTOM_GROUP_URN);
    }
    let mut map = Map::new();
    map.insert("schemas".into(), json!(schemas));
    map.insert("id".into(), group.id.to_string().into());
    map.extend(attrs);
    if let Some(gid) = group.attrs.gid_number {
        map.insert(POSIX_GROUP_URN.into(), json!({ "gidNumber": gid }));
    }
    if !group.attrs.permissions.is_empty() {
        map.insert(
            GROUP_EXTENSION_URN.into(),
            json!({ "permissions": group.attrs.permissions }),
        );
    }
    if !served.is_empty() {
        map.insert(CUSTOM_GROUP_URN.into(), Value::Object(served));
    }
    if with_members {
        let members: Vec<Value> = group
            .members
            .iter()
            .map(|m| {
                let path = match m.kind {
                    crate::directory::MemberKind::User => "Users",
                    crate::directory::MemberKind::Group => "Groups",
                };
                let mut member = json!({
                    "value": m.id.to_string(),
                    "$ref": format!("{base}/{path}/{}", m.id),
                    "type": m.kind.as_str(),
                });
                if let Some(d) = &m.display {
                    member["display"] = d.clone().into();
                }
                member
            })
            .collect();
        map.insert("members".into(), Value::Array(members));
    }
    map.insert(
        "meta".into(),
        meta_json(&group.meta, "Group", format!("{base}/Groups/{}", group.id)),
    );
    Value::Object(map)
}

/// Applies `attributes` / `excludedAttributes` (RFC 7644 §3.9) to a
/// rendered resource. `schemas` and `id` are always returned.
pub fn project(resource: &mut Value, attributes: Option<&str>, excluded: Option<&str>) {
    let Value::Object(map) = resource else { return };
    // The top-level key each listed path names: an extension URN names the
    // whole extension object; a core URN prefix is dropped.
    let names = |list: &str| -> Vec<String> {
        list.split(',')
            .map(|a| {
                let a = a.trim();
                for urn in [
                    ENTERPRISE_URN,
                    POSIX_USER_URN,
                    POSIX_GROUP_URN,
                    GROUP_EXTENSION_URN,
                    ACCOUNT_USER_URN,
                    CUSTOM_USER_URN,
                    CUSTOM_GROUP_URN,
                ] {
                    if a.len() >= urn.len() && a[..urn.len()].eq_ignore_ascii_case(urn) {
                        return urn.to_ascii_lowercase();
                    }
                }
                let a = if a.to_ascii_lowercase().starts_with("urn:") {
                    a.rsplit_once(':').map_or(a, |(_, n)| n)
                } else {
                    a
                };
                a.split('.').next().unwrap_or(a).to_ascii_lowercase()
            })
            .collect()
    };
    let asked = attributes.filter(|l| !l.trim().is_empty());
    if let Some(list) = asked {
        let keep = names(list);
        map.retain(|k, _| k == "schemas" || k == "id" || keep.contains(&k.to_ascii_lowercase()));
    } else if let Some(list) = excluded {
        let drop = names(list);
        map.retain(|k, _| k == "schemas" || k == "id" || !drop.contains(&k.to_ascii_lowercase()));
    }
    // The account extension's state is `returned: request`: only when the
    // extension or one of its attributes is named. With nothing else in it,
    // the extension is not shown.
    let account = ACCOUNT_USER_URN.to_ascii_lowercase();
    if !asked.is_some_and(|list| names(list).contains(&account)) {
        if let Some(Value::Object(ext)) = map.get_mut(ACCOUNT_USER_URN) {
            ext.retain(|k, _| !ACCOUNT_STATE.contains(&k.as_str()));
            if let Some(Value::Object(mfa)) = ext.get_mut("mfa") {
                mfa.retain(|k, _| !MFA_STATE.contains(&k.as_str()));
                if mfa.is_empty() {
                    ext.remove("mfa");
                }
            }
            if ext.is_empty() {
                map.remove(ACCOUNT_USER_URN);
            }
        }
    }
    if !map.contains_key(ACCOUNT_USER_URN) {
        if let Some(Value::Array(schemas)) = map.get_mut("schemas") {
            schemas.retain(|s| s.as_str() != Some(ACCOUNT_USER_URN));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_provider_shapes() {
        let input = user_from_json(json!({
            "schemas": [USER_URN, ENTERPRISE_URN],
            "UserName": "alice",
            "id": null,
            "active": "True",
            "emails": [{"Value": "a@x.com", "type": "work", "primary": "true"}],
            "meta": {"resourceType": "User"},
            "roles": [],
            "title": null,
            (ENTERPRISE_URN): {"employeeNumber": "42"}
        }))
        .unwrap();
        assert_eq!(input.attrs.user_name, "alice");
        assert_eq!(input.active, Some(true));
        assert_eq!(input.attrs.emails[0].primary, Some(true));
        assert_eq!(
            input.attrs.extensions[ENTERPRISE_URN]["employeeNumber"],
            "42"
        );
    }

    #[test]
    fn rejects_unknown_attributes_and_bad_types() {
        let e = user_from_json(json!({"userName": "a", "shoeSize": 42})).unwrap_err();
        assert_eq!(e.scim_type, Some("invalidValue"));
        assert!(e.detail.contains("shoeSize"), "{}", e.detail);
        assert!(user_from_json(json!({"userName": "a", "active": 3})).is_err());
        assert!(user_from_json(json!({"displayName": "no name"})).is_err());
        assert!(user_from_json(json!([1, 2])).is_err());
    }
}
