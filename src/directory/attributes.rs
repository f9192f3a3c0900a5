//! The one attribute map: every searchable attribute with its SCIM path, its
//! LDAP names, its matching syntax, where the store keeps it, and how its
//! values are read from a record. Both filter translators and the LDAP entry
//! builder use this table, so SCIM and LDAP always agree.

use super::declared::{self, Declaration, Declared, Kind};
use super::model::{Group, MultiValue, User};
use super::query::Record;

/// How values compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    /// Strings compared without regard to case.
    CaseIgnore,
    /// Strings compared exactly.
    CaseExact,
    Boolean,
    /// Date-times (RFC 3339 in SCIM, GeneralizedTime in LDAP).
    Time,
    /// A record id (UUID), compared without regard to case.
    Id,
    /// Whole numbers, ordered as numbers (uidNumber, gidNumber).
    Integer,
    /// Decimal numbers, ordered as numbers.
    Decimal,
}

impl Syntax {
    /// Whether values are ordered as numbers (kept as sortable text).
    pub fn numeric(self) -> bool {
        matches!(self, Syntax::Integer | Syntax::Decimal)
    }

    /// Whether substring matching applies.
    pub fn textual(self) -> bool {
        !matches!(
            self,
            Syntax::Time | Syntax::Boolean | Syntax::Integer | Syntax::Decimal
        )
    }

    /// A number's sortable text, or `None` when `text` is not one.
    pub fn sortable_number(self, text: &str) -> Option<String> {
        match self {
            Syntax::Integer => text.trim().parse::<i64>().ok().map(sortable_integer),
            Syntax::Decimal => text
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|n| n.is_finite())
                .map(sortable_decimal),
            _ => None,
        }
    }
}

/// Where the store finds an attribute's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    /// A column of the record's own table.
    Column(&'static str),
    /// Only on the record itself (a declared attribute that is not
    /// `indexed`): the read model evaluates it on each record; the
    /// command-line tools' SQL cannot filter by it.
    Record,
    /// Rows of the record's index table under the attribute's key.
    Index,
    /// The user's status (`active` is true when it is `active`).
    Status,
    /// Ids of the groups a user is a direct member of.
    MemberOfId,
    /// Names of the groups a user is a direct member of.
    MemberOfName,
    /// Names of the groups a user is a member of, directly or through
    /// nested groups (LDAP's memberOf, and the in-chain rule).
    MemberOfChain,
    /// userNames of a group's user members, directly or through nested
    /// groups (the in-chain rule on member).
    MemberChain,
    /// The permissions of the groups a user is in, directly or through
    /// nested groups, and the user's own entitlements.
    Permissions,
    /// Ids of a group's members.
    MemberId,
    /// userNames of a group's user members.
    MemberUserName,
    /// displayNames of a group's group members.
    MemberGroupName,
}

/// One searchable attribute of records of type `T`.
pub struct AttrDef<T> {
    /// The canonical name (the SCIM path where there is one); the key of
    /// the attribute's rows in the index table.
    pub key: &'static str,
    /// Whether SCIM filters may name it by `key`.
    pub scim: bool,
    /// Names LDAP filters and attribute lists may use (first is canonical).
    pub ldap: &'static [&'static str],
    pub syntax: Syntax,
    pub storage: Storage,
    /// The attribute's values on a record, unnormalised.
    pub values: fn(&T) -> Vec<String>,
    /// For a sub-attribute of a multi-valued attribute (`emails.type`): the
    /// parent, and the values with the position of the element each is in.
    pub element: Option<Element<T>>,
    /// The declaration of a declared attribute, whose values are read from
    /// the record's custom extension (`values` is unused then).
    pub declared: Option<&'static Declaration>,
}

impl<T> Clone for AttrDef<T> {
    fn clone(&self) -> Self {
        AttrDef {
            key: self.key,
            scim: self.scim,
            ldap: self.ldap,
            syntax: self.syntax,
            storage: self.storage,
            values: self.values,
            element: self.element.as_ref().map(|e| Element {
                parent: e.parent,
                values: e.values,
            }),
            declared: self.declared,
        }
    }
}

/// Where a sub-attribute's values sit among its parent's elements.
pub struct Element<T> {
    pub parent: &'static str,
    pub values: fn(&T) -> Vec<(usize, String)>,
}

impl<T> std::fmt::Debug for AttrDef<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.key)
    }
}

impl<T> AttrDef<T> {
    /// Whether records can be ordered by this attribute.
    pub fn sortable(&self) -> bool {
        matches!(
            self.storage,
            Storage::Column(_) | Storage::Index | Storage::Status | Storage::Record
        )
    }

    /// The attribute's values on `record`, unnormalised.
    pub fn values_of(&self, record: &T) -> Vec<String>
    where
        T: Record,
    {
        match self.declared {
            Some(d) => declared::match_values(
                d.kind,
                record
                    .extensions()
                    .get(d.resource.urn())
                    .and_then(|e| e.get(&d.name)),
            ),
            None => (self.values)(record),
        }
    }

    /// The form in which a value is indexed and compared. Integers become
    /// fixed-width text that sorts as the numbers do.
    pub fn normalize(&self, value: &str) -> String {
        match self.syntax {
            Syntax::CaseIgnore | Syntax::Id => value.to_lowercase(),
            Syntax::Integer | Syntax::Decimal => self
                .syntax
                .sortable_number(value)
                .unwrap_or_else(|| value.to_string()),
            _ => value.to_string(),
        }
    }
}

/// An integer as 20 digits that sort as the integer does (negative numbers
/// first).
pub fn sortable_integer(n: i64) -> String {
    format!("{:020}", (n as i128 - i64::MIN as i128) as u64)
}

/// A finite decimal as 16 hex digits that sort as the number does.
pub fn sortable_decimal(n: f64) -> String {
    let n = if n == 0.0 { 0.0 } else { n }; // -0 sorts as 0
    let bits = n.to_bits();
    let key = if bits >> 63 == 1 {
        !bits
    } else {
        bits | 1 << 63
    };
    format!("{key:016x}")
}

fn one(v: &Option<String>) -> Vec<String> {
    v.iter().cloned().collect()
}

/// A sub-attribute of one element of a multi-valued attribute.
fn field(m: &MultiValue, name: &str) -> Option<String> {
    match name {
        "value" => Some(m.value.clone()),
        "type" => m.kind.clone(),
        "display" => m.display.clone(),
        "primary" => m.primary.map(|b| b.to_string()),
        _ => None,
    }
}

fn plain(list: &[MultiValue], name: &str) -> Vec<String> {
    list.iter().filter_map(|m| field(m, name)).collect()
}

fn positions(list: &[MultiValue], name: &str) -> Vec<(usize, String)> {
    list.iter()
        .enumerate()
        .filter_map(|(i, m)| field(m, name).map(|v| (i, v)))
        .collect()
}

macro_rules! attr {
    ($key:literal, scim: $scim:literal, ldap: [$($ldap:literal),*], $syntax:ident, $storage:expr, $values:expr) => {
        AttrDef {
            key: $key,
            scim: $scim,
            ldap: &[$($ldap),*],
            syntax: Syntax::$syntax,
            storage: $storage,
            values: $values,
            element: None,
            declared: None,
        }
    };
}

/// A sub-attribute of a multi-valued attribute of users, indexed with the
/// position of its element.
macro_rules! sub {
    ($parent:literal, $field:literal, ldap: [$($ldap:literal),*], $syntax:ident, $list:ident) => {
        AttrDef {
            key: concat!($parent, ".", $field),
            scim: true,
            ldap: &[$($ldap),*],
            syntax: Syntax::$syntax,
            storage: Storage::Index,
            values: |u: &User| plain(&u.attrs.$list, $field),
            element: Some(Element {
                parent: $parent,
                values: |u: &User| positions(&u.attrs.$list, $field),
            }),
            declared: None,
        }
    };
}

fn number(n: Option<i64>) -> Vec<String> {
    n.iter().map(i64::to_string).collect()
}

/// Roster's POSIX extension of the SCIM User resource.
pub const POSIX_USER_URN: &str = "urn:roster:params:scim:schemas:extension:posix:1.0:User";
/// Roster's account extension of the SCIM User resource: the account's
/// state as the rules (`directory::policy`) keep it.
pub const ACCOUNT_USER_URN: &str = "urn:roster:params:scim:schemas:extension:account:1.0:User";
/// Roster's POSIX extension of the SCIM Group resource.
pub const POSIX_GROUP_URN: &str = "urn:roster:params:scim:schemas:extension:posix:1.0:Group";

/// Roster's group extension: the permissions a group carries.
pub const GROUP_EXTENSION_URN: &str = "urn:roster:params:scim:schemas:extension:group:1.0:Group";

/// The searchable attributes of users.
pub static USER_ATTRS: &[AttrDef<User>] = &[
    attr!("id", scim: true, ldap: ["entryUUID"], Id, Storage::Column("id"), |u| vec![u.id.to_string()]),
    attr!("userName", scim: true, ldap: ["uid", "userid"], CaseIgnore, Storage::Column("user_name_lc"), |u| vec![u.attrs.user_name.clone()]),
    attr!("externalId", scim: true, ldap: [], CaseExact, Storage::Column("external_id"), |u| one(&u.attrs.external_id)),
    attr!("active", scim: true, ldap: [], Boolean, Storage::Status, |u| vec![(u.status == super::model::Status::Active).to_string()]),
    attr!("meta.created", scim: true, ldap: ["createTimestamp"], Time, Storage::Column("created_at"), |u| vec![u.meta.created.generalized()]),
    attr!("meta.lastModified", scim: true, ldap: ["modifyTimestamp"], Time, Storage::Column("modified_at"), |u| vec![u.meta.modified.generalized()]),
    attr!("cn", scim: false, ldap: ["cn", "commonName"], CaseIgnore, Storage::Index, |u| vec![u.common_name().to_string()]),
    attr!("displayName", scim: true, ldap: ["displayName"], CaseIgnore, Storage::Index, |u| one(&u.attrs.display_name)),
    attr!("name.givenName", scim: true, ldap: ["givenName", "gn"], CaseIgnore, Storage::Index, |u| one(&u.attrs.name.given_name)),
    attr!("name.familyName", scim: true, ldap: ["sn", "surname"], CaseIgnore, Storage::Index, |u| one(&u.attrs.name.family_name)),
    attr!("name.formatted", scim: true, ldap: [], CaseIgnore, Storage::Index, |u| one(&u.attrs.name.formatted)),
    attr!("name.middleName", scim: true, ldap: [], CaseIgnore, Storage::Index, |u| one(&u.attrs.name.middle_name)),
    attr!("nickName", scim: true, ldap: [], CaseIgnore, Storage::Index, |u| one(&u.attrs.nick_name)),
    attr!("title", scim: true, ldap: ["title"], CaseIgnore, Storage::Index, |u| one(&u.attrs.title)),
    attr!("userType", scim: true, ldap: ["employeeType"], CaseIgnore, Storage::Index, |u| one(&u.attrs.user_type)),
    attr!("preferredLanguage", scim: true, ldap: ["preferredLanguage"], CaseIgnore, Storage::Index, |u| one(&u.attrs.preferred_language)),
    attr!("locale", scim: true, ldap: ["rosterLocale"], CaseIgnore, Storage::Index, |u| one(&u.attrs.locale)),
    attr!("timezone", scim: true, ldap: ["rosterTimezone"], CaseIgnore, Storage::Index, |u| one(&u.attrs.timezone)),
    // The primary address's country, as LDAP's single-valued `c` has it.
    attr!("addresses.country", scim: true, ldap: ["c", "countryName"], CaseIgnore, Storage::Index, |u| u.attrs.country().into_iter().collect()),
    attr!("profileUrl", scim: true, ldap: ["labeledURI"], CaseExact, Storage::Index, |u| one(&u.attrs.profile_url)),
    sub!("emails", "value", ldap: ["mail", "email"], CaseIgnore, emails),
    sub!("emails", "type", ldap: [], CaseIgnore, emails),
    sub!("emails", "primary", ldap: [], Boolean, emails),
    sub!("phoneNumbers", "value", ldap: ["telephoneNumber"], CaseIgnore, phone_numbers),
    sub!("phoneNumbers", "type", ldap: [], CaseIgnore, phone_numbers),
    sub!("ims", "value", ldap: [], CaseIgnore, ims),
    sub!("ims", "type", ldap: [], CaseIgnore, ims),
    sub!("roles", "value", ldap: ["rosterRole"], CaseIgnore, roles),
    sub!("entitlements", "value", ldap: [], CaseIgnore, entitlements),
    attr!("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", scim: true, ldap: ["employeeNumber"], CaseIgnore, Storage::Index, |u| one(&u.attrs.enterprise("employeeNumber"))),
    attr!("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter", scim: true, ldap: [], CaseIgnore, Storage::Index, |u| one(&u.attrs.enterprise("costCenter"))),
    attr!("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:organization", scim: true, ldap: ["o"], CaseIgnore, Storage::Index, |u| one(&u.attrs.enterprise("organization"))),
    attr!("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:division", scim: true, ldap: [], CaseIgnore, Storage::Index, |u| one(&u.attrs.enterprise("division"))),
    attr!("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", scim: true, ldap: ["departmentNumber"], CaseIgnore, Storage::Index, |u| one(&u.attrs.enterprise("department"))),
    attr!("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value", scim: true, ldap: [], Id, Storage::Index, |u| one(&u.attrs.enterprise("manager.value"))),
    attr!("urn:roster:params:scim:schemas:extension:posix:1.0:User:uidNumber", scim: true, ldap: ["uidNumber"], Integer, Storage::Column("uid_number"), |u| number(u.attrs.posix.uid_number)),
    attr!("urn:roster:params:scim:schemas:extension:posix:1.0:User:gidNumber", scim: true, ldap: ["gidNumber"], Integer, Storage::Index, |u| number(u.attrs.posix.gid_number)),
    attr!("urn:roster:params:scim:schemas:extension:posix:1.0:User:homeDirectory", scim: true, ldap: [], CaseExact, Storage::Index, |u| one(&u.attrs.posix.home_directory)),
    attr!("urn:roster:params:scim:schemas:extension:posix:1.0:User:loginShell", scim: true, ldap: [], CaseExact, Storage::Index, |u| one(&u.attrs.posix.login_shell)),
    attr!("urn:roster:params:scim:schemas:extension:posix:1.0:User:gecos", scim: true, ldap: [], CaseIgnore, Storage::Index, |u| one(&u.attrs.posix.gecos)),
    attr!("groups.value", scim: true, ldap: [], Id, Storage::MemberOfId, |u| u.groups.iter().filter(|g| g.direct).map(|g| g.id.to_string()).collect()),
    attr!("groups.display", scim: true, ldap: [], CaseIgnore, Storage::MemberOfName, |u| u.groups.iter().filter(|g| g.direct).map(|g| g.display_name.clone()).collect()),
    attr!("memberOf", scim: false, ldap: ["memberOf"], CaseIgnore, Storage::MemberOfChain, |u| u.groups.iter().map(|g| g.display_name.clone()).collect()),
    attr!("urn:roster:params:scim:schemas:extension:account:1.0:User:effectivePermissions", scim: true, ldap: ["rosterEffectivePermissions"], CaseIgnore, Storage::Permissions, |u| u.effective_permissions()),
];

/// The searchable attributes of groups.
pub static GROUP_ATTRS: &[AttrDef<Group>] = &[
    attr!("id", scim: true, ldap: ["entryUUID"], Id, Storage::Column("id"), |g| vec![g.id.to_string()]),
    attr!("displayName", scim: true, ldap: ["cn", "commonName"], CaseIgnore, Storage::Column("display_name_lc"), |g| vec![g.attrs.display_name.clone()]),
    attr!("externalId", scim: true, ldap: [], CaseExact, Storage::Column("external_id"), |g| one(&g.attrs.external_id)),
    attr!("meta.created", scim: true, ldap: ["createTimestamp"], Time, Storage::Column("created_at"), |g| vec![g.meta.created.generalized()]),
    attr!("meta.lastModified", scim: true, ldap: ["modifyTimestamp"], Time, Storage::Column("modified_at"), |g| vec![g.meta.modified.generalized()]),
    attr!("urn:roster:params:scim:schemas:extension:posix:1.0:Group:gidNumber", scim: true, ldap: ["gidNumber"], Integer, Storage::Column("gid_number"), |g| number(g.attrs.gid_number)),
    attr!("members.value", scim: true, ldap: [], Id, Storage::MemberId, |g| g.members.iter().map(|m| m.id.to_string()).collect()),
    attr!("members.userName", scim: false, ldap: ["member"], CaseIgnore, Storage::MemberUserName, |g| {
        g.members.iter().filter(|m| m.kind == super::model::MemberKind::User).map(|m| m.name.clone()).collect()
    }),
    attr!("uniqueMember", scim: false, ldap: ["uniqueMember"], CaseIgnore, Storage::MemberUserName, |g| {
        g.members.iter().filter(|m| m.kind == super::model::MemberKind::User).map(|m| m.name.clone()).collect()
    }),
    // Reached only through the in-chain matching rule on `member`.
    attr!("members.chain", scim: false, ldap: [], CaseIgnore, Storage::MemberChain, |g| {
        g.members.iter().filter(|m| m.kind == super::model::MemberKind::User).map(|m| m.name.clone()).collect()
    }),
    attr!("memberUid", scim: false, ldap: ["memberUid"], CaseIgnore, Storage::MemberUserName, |g| {
        g.members.iter().filter(|m| m.kind == super::model::MemberKind::User).map(|m| m.name.clone()).collect()
    }),
    attr!("members.groupName", scim: false, ldap: [], CaseIgnore, Storage::MemberGroupName, |g| {
        g.members.iter().filter(|m| m.kind == super::model::MemberKind::Group).map(|m| m.name.clone()).collect()
    }),
];

/// The attribute tables a server runs with: the built-in attributes and
/// the declared ones (`directory::declared`), built once at start.
#[derive(Debug, Clone, Copy)]
pub struct Attributes {
    pub users: &'static [AttrDef<User>],
    pub groups: &'static [AttrDef<Group>],
    /// The declarations the declared attributes come from.
    pub declared: &'static Declared,
}

/// No declarations.
static NONE_DECLARED: Declared = Declared {
    users: Vec::new(),
    groups: Vec::new(),
    max_binary_bytes: 0,
};

impl Default for Attributes {
    fn default() -> Self {
        Attributes {
            users: USER_ATTRS,
            groups: GROUP_ATTRS,
            declared: &NONE_DECLARED,
        }
    }
}

fn no_values<T>(_: &T) -> Vec<String> {
    Vec::new()
}

/// The definition of a declared (non-binary) attribute.
fn declared_def<T>(d: &'static Declaration) -> AttrDef<T> {
    let syntax = match d.kind {
        Kind::String | Kind::Reference if d.case_exact => Syntax::CaseExact,
        Kind::String | Kind::Reference | Kind::Binary => Syntax::CaseIgnore,
        Kind::Boolean => Syntax::Boolean,
        Kind::Integer => Syntax::Integer,
        Kind::Decimal => Syntax::Decimal,
        Kind::DateTime => Syntax::Time,
    };
    AttrDef {
        key: Box::leak(d.path.clone().into_boxed_str()),
        scim: true,
        ldap: Box::leak(vec![&*Box::leak(d.ldap.clone().into_boxed_str())].into_boxed_slice()),
        syntax,
        // Only user values have an index table.
        storage: match d.indexed && d.resource == declared::Resource::User {
            true => Storage::Index,
            false => Storage::Record,
        },
        values: no_values,
        element: None,
        declared: Some(d),
    }
}

impl Attributes {
    /// The built-in tables and `declared`'s attributes after them. The
    /// tables live as long as the process: a server builds them once.
    pub fn new(declared: &Declared) -> Attributes {
        let declared: &'static Declared = Box::leak(Box::new(declared.clone()));
        let mut users: Vec<AttrDef<User>> = USER_ATTRS.to_vec();
        users.extend(
            declared
                .users
                .iter()
                .filter(|d| d.kind != Kind::Binary)
                .map(declared_def),
        );
        let mut groups: Vec<AttrDef<Group>> = GROUP_ATTRS.to_vec();
        groups.extend(
            declared
                .groups
                .iter()
                .filter(|d| d.kind != Kind::Binary)
                .map(declared_def),
        );
        Attributes {
            users: Box::leak(users.into_boxed_slice()),
            groups: Box::leak(groups.into_boxed_slice()),
            declared,
        }
    }

    /// Whether `name` is a built-in attribute's SCIM path (with or without
    /// the core URN) or LDAP name: what a declaration may not take.
    pub fn is_builtin(resource: declared::Resource, name: &str) -> bool {
        // A key's attribute name: after an extension's URN, before a
        // sub-attribute (`…:User:manager.value` → `manager`).
        let builtin = |key: &str, ldap: &[&str]| {
            let attr = key.rsplit(':').next().unwrap_or(key);
            key.eq_ignore_ascii_case(name)
                || attr
                    .split('.')
                    .next()
                    .is_some_and(|p| p.eq_ignore_ascii_case(name))
                || ldap.iter().any(|l| l.eq_ignore_ascii_case(name))
        };
        let reserved = [
            "objectClass",
            "userPassword",
            "photos",
            "password",
            "schemas",
            "meta",
            "groups",
            "members",
            "active",
            "name",
            "emails",
            "addresses",
            "x509Certificates",
            "entryDN",
            "subschemaSubentry",
            "pwdReset",
        ];
        if reserved.iter().any(|r| r.eq_ignore_ascii_case(name)) {
            return true;
        }
        match resource {
            declared::Resource::User => USER_ATTRS.iter().any(|d| builtin(d.key, d.ldap)),
            declared::Resource::Group => GROUP_ATTRS.iter().any(|d| builtin(d.key, d.ldap)),
        }
    }
}

/// Finds a definition by its SCIM path, ignoring case (RFC 7644 §3.4.2.2).
/// An extension's attribute may also be named without the URN.
pub fn by_scim<T>(table: &'static [AttrDef<T>], path: &str) -> Option<&'static AttrDef<T>> {
    table
        .iter()
        .find(|d| d.scim && d.key.eq_ignore_ascii_case(path))
        .or_else(|| {
            // An extension attribute (a declared one among them) by its
            // name alone, when no other attribute has that name.
            let suffix = format!(":{}", path.to_ascii_lowercase());
            let mut found = table.iter().filter(|d| {
                d.scim && !path.contains(':') && d.key.to_ascii_lowercase().ends_with(&suffix)
            });
            match (found.next(), found.next()) {
                (Some(d), None) => Some(d),
                _ => None,
            }
        })
}

/// Finds a definition by one of its LDAP names, ignoring case.
/// Whether an attribute belongs to the POSIX account or group only (the
/// POSIX extensions, and `memberUid`), not served when POSIX is off.
pub fn is_posix(key: &str) -> bool {
    key.starts_with(POSIX_USER_URN) || key.starts_with(POSIX_GROUP_URN) || key == "memberUid"
}

pub fn by_ldap<T>(table: &'static [AttrDef<T>], name: &str) -> Option<&'static AttrDef<T>> {
    table
        .iter()
        .find(|d| d.ldap.iter().any(|n| n.eq_ignore_ascii_case(name)))
}

/// Finds a definition by its key.
pub fn by_key<T>(table: &'static [AttrDef<T>], key: &str) -> Option<&'static AttrDef<T>> {
    table.iter().find(|d| d.key == key)
}

/// One row of a user's index: attribute key, normalised value, and the
/// position of the element it came from (for sub-attributes).
pub type IndexRow = (&'static str, String, Option<usize>);

/// The index rows of every attribute of `table` the store keeps in the
/// index table.
pub fn user_index(table: &'static [AttrDef<User>], user: &User) -> Vec<IndexRow> {
    let mut rows: Vec<IndexRow> = Vec::new();
    for def in table.iter().filter(|d| d.storage == Storage::Index) {
        let values: Vec<(Option<usize>, String)> = match &def.element {
            Some(e) => (e.values)(user)
                .into_iter()
                .map(|(i, v)| (Some(i), v))
                .collect(),
            None => def.values_of(user).into_iter().map(|v| (None, v)).collect(),
        };
        for (pos, v) in values {
            let v = def.normalize(&v);
            if !rows
                .iter()
                .any(|(k, x, p)| *k == def.key && *x == v && *p == pos)
            {
                rows.push((def.key, v, pos));
            }
        }
    }
    rows
}
