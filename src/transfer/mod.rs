//! Moving users and groups in and out of the directory in bulk. Today:
//! LDIF import, the migration path from OpenLDAP and other LDAP servers
//! (password hashes kept as they are, memberships by DN).

pub mod groups;
pub mod ldif;
pub mod table;
pub mod users;

use std::collections::HashMap;

use uuid::Uuid;

use crate::directory::declared::{Declared, Kind, CUSTOM_USER_URN};
use crate::directory::{
    Actor, Credential, Directory, DirectoryError, GroupAttrs, MemberRef, MultiValue, Name,
    NewAccount, PosixAccount, UserAttrs, ENTERPRISE_USER_URN,
};
use crate::ldap::dn::Dn;
use crate::ldap::tree::{Place, Tree};
use ldif::Entry;

/// New users written in one transaction.
const BATCH: usize = 500;

/// What an import did.
#[derive(Debug, Default)]
pub struct Report {
    pub users: usize,
    pub groups: usize,
    pub memberships: usize,
    /// Entries passed over on purpose (the tree's own entries, unknown
    /// classes), by reason.
    pub skipped: Vec<(usize, String)>,
    /// Entries that could not be imported: (line, why).
    pub failed: Vec<(usize, String)>,
}

/// A created user's name and id, or why it was not created.
type Created = Result<(String, Uuid), DirectoryError>;

/// What kind of record an entry becomes.
enum Record {
    User(Box<UserAttrs>, Option<String>),
    Group(GroupAttrs, Vec<String>),
}

fn is_user(e: &Entry) -> bool {
    [
        "inetOrgPerson",
        "person",
        "organizationalPerson",
        "posixAccount",
        "account",
    ]
    .iter()
    .any(|c| e.is_a(c))
}

fn is_group(e: &Entry) -> bool {
    ["groupOfNames", "groupOfUniqueNames", "posixGroup", "group"]
        .iter()
        .any(|c| e.is_a(c))
}

fn number(e: &Entry, attr: &str) -> Result<Option<i64>, String> {
    e.first(attr)
        .map(|v| {
            v.trim()
                .parse()
                .map_err(|_| format!("{attr}: {v:?} is not a number"))
        })
        .transpose()
}

fn some(v: Option<&str>) -> Option<String> {
    v.map(str::to_string).filter(|s| !s.is_empty())
}

/// An inetOrgPerson / posixAccount entry as a user.
fn user_of(e: &Entry, declared: &Declared) -> Result<Record, String> {
    let user_name = e
        .first("uid")
        .ok_or("a user entry needs a uid")?
        .to_string();
    let cn = e.first("cn");
    let display_name =
        some(e.first("displayName")).or_else(|| some(cn).filter(|c| *c != user_name));
    let mut emails: Vec<MultiValue> = e
        .get("mail")
        .iter()
        .map(|m| MultiValue {
            value: m.clone(),
            ..MultiValue::default()
        })
        .collect();
    if let Some(first) = emails.first_mut() {
        first.primary = Some(true);
    }
    let mut phone_numbers: Vec<MultiValue> = e
        .get("telephoneNumber")
        .iter()
        .map(|p| MultiValue {
            value: p.clone(),
            kind: Some("work".into()),
            ..MultiValue::default()
        })
        .collect();
    phone_numbers.extend(e.get("mobile").iter().map(|p| MultiValue {
        value: p.clone(),
        kind: Some("mobile".into()),
        ..MultiValue::default()
    }));
    let mut enterprise = serde_json::Map::new();
    for (ldap, scim) in [
        ("employeeNumber", "employeeNumber"),
        ("departmentNumber", "department"),
        ("o", "organization"),
    ] {
        if let Some(v) = some(e.first(ldap)) {
            enterprise.insert(scim.into(), v.into());
        }
    }
    let mut extensions = serde_json::Map::new();
    if !enterprise.is_empty() {
        extensions.insert(ENTERPRISE_USER_URN.into(), enterprise.into());
    }
    let custom = declared_of_entry(e, declared);
    if !custom.is_empty() {
        extensions.insert(CUSTOM_USER_URN.into(), custom.into());
    }
    let attrs = UserAttrs {
        user_name,
        display_name,
        name: Name {
            given_name: some(e.first("givenName")),
            family_name: some(e.first("sn")),
            ..Name::default()
        },
        title: some(e.first("title")),
        user_type: some(e.first("employeeType")),
        preferred_language: some(e.first("preferredLanguage")),
        profile_url: some(e.first("labeledURI")),
        emails,
        phone_numbers,
        extensions,
        posix: PosixAccount {
            uid_number: number(e, "uidNumber")?,
            gid_number: number(e, "gidNumber")?,
            home_directory: some(e.first("homeDirectory")),
            login_shell: some(e.first("loginShell")),
            gecos: some(e.first("gecos")),
        },
        ..UserAttrs::default()
    };
    Ok(Record::User(Box::new(attrs), some(e.first("userPassword"))))
}

/// A user as the LDIF entry [`user_of`] reads back: inetOrgPerson (and
/// posixAccount when it has a uidNumber), without its password.
pub fn user_entry(
    tree: &Tree,
    user: &crate::directory::User,
) -> (String, Vec<(&'static str, Vec<String>)>) {
    let a = &user.attrs;
    let one = |v: &Option<String>| v.iter().cloned().collect::<Vec<_>>();
    let number = |n: Option<i64>| n.iter().map(i64::to_string).collect::<Vec<_>>();
    let mut classes = vec!["inetOrgPerson".to_string()];
    if a.posix.uid_number.is_some() {
        classes.push("posixAccount".into());
    }
    let mut mails: Vec<&MultiValue> = a.emails.iter().collect();
    mails.sort_by_key(|e| e.primary != Some(true));
    let phones = |mobile: bool| {
        a.phone_numbers
            .iter()
            .filter(|p| (p.kind.as_deref() == Some("mobile")) == mobile)
            .map(|p| p.value.clone())
            .collect::<Vec<_>>()
    };
    let enterprise = |key: &str| a.enterprise(key).into_iter().collect::<Vec<_>>();
    let attrs = vec![
        ("objectClass", classes),
        ("uid", vec![a.user_name.clone()]),
        ("cn", vec![user.common_name().to_string()]),
        ("displayName", one(&a.display_name)),
        ("givenName", one(&a.name.given_name)),
        ("sn", one(&a.name.family_name)),
        ("mail", mails.iter().map(|e| e.value.clone()).collect()),
        ("telephoneNumber", phones(false)),
        ("mobile", phones(true)),
        ("title", one(&a.title)),
        ("employeeType", one(&a.user_type)),
        ("preferredLanguage", one(&a.preferred_language)),
        ("labeledURI", one(&a.profile_url)),
        ("employeeNumber", enterprise("employeeNumber")),
        ("departmentNumber", enterprise("department")),
        ("o", enterprise("organization")),
        ("uidNumber", number(a.posix.uid_number)),
        ("gidNumber", number(a.posix.gid_number)),
        ("homeDirectory", one(&a.posix.home_directory)),
        ("loginShell", one(&a.posix.login_shell)),
        ("gecos", one(&a.posix.gecos)),
    ];
    let mut attrs: Vec<(&'static str, Vec<String>)> =
        attrs.into_iter().filter(|(_, v)| !v.is_empty()).collect();
    // Declared attributes, as an LDAP search shows them.
    for def in tree.attrs.users.iter().filter(|d| d.declared.is_some()) {
        let values = crate::ldap::ldap_values(def, user);
        if !values.is_empty() {
            attrs.push((def.ldap[0], values));
        }
    }
    (tree.user_dn(&a.user_name).to_string(), attrs)
}

/// The declared (non-binary) attributes of an LDIF entry, under their SCIM
/// names, to be checked like any write; times from GeneralizedTime.
fn declared_of_entry(e: &Entry, declared: &Declared) -> serde_json::Map<String, serde_json::Value> {
    let mut out = serde_json::Map::new();
    for d in declared.users.iter().filter(|d| d.kind != Kind::Binary) {
        let values: Vec<serde_json::Value> = e
            .get(&d.ldap)
            .iter()
            .map(|v| match d.kind {
                Kind::DateTime => crate::directory::Timestamp::parse_generalized(v)
                    .map(|t| t.rfc3339())
                    .unwrap_or_else(|| v.clone())
                    .into(),
                _ => v.clone().into(),
            })
            .collect();
        match (d.multi_valued, values.len()) {
            (_, 0) => {}
            (true, _) => {
                out.insert(d.name.clone(), values.into());
            }
            (false, _) => {
                out.insert(d.name.clone(), values[0].clone());
            }
        }
    }
    out
}

/// Users as LDIF, one entry each.
pub fn write_users_ldif(tree: &Tree, users: &[crate::directory::User]) -> String {
    let mut out = String::from("version: 1\n\n");
    for u in users {
        let (dn, attrs) = user_entry(tree, u);
        ldif::write_entry(&mut out, &dn, &attrs);
    }
    out
}

/// A groupOfNames / groupOfUniqueNames / posixGroup entry as a group, with
/// its members as DNs (memberUid names become user DNs).
fn group_of(e: &Entry, tree: &Tree) -> Result<Record, String> {
    let display_name = e.first("cn").ok_or("a group entry needs a cn")?.to_string();
    let mut members: Vec<String> = e
        .get("member")
        .iter()
        .chain(e.get("uniqueMember"))
        .cloned()
        .collect();
    members.extend(
        e.get("memberUid")
            .iter()
            .map(|name| tree.user_dn(name).to_string()),
    );
    let attrs = GroupAttrs {
        display_name,
        gid_number: number(e, "gidNumber")?,
        ..GroupAttrs::default()
    };
    Ok(Record::Group(attrs, members))
}

/// Imports the users and groups of an LDIF file. Users come first, then
/// groups, then memberships (by DN, so any order in the file works). A
/// password already hashed (`{SSHA}`, `{ARGON2}`, …) is kept as it is; a
/// cleartext `userPassword` is hashed with argon2id. Entries that fail are
/// reported and the rest go on.
pub async fn import_ldif(
    directory: &Directory,
    actor: &Actor,
    tree: &Tree,
    text: &str,
) -> Result<Report, ldif::LdifError> {
    let entries = ldif::parse(text)?;
    let mut report = Report::default();
    let mut users = Vec::new();
    let mut groups = Vec::new();
    for e in &entries {
        let place = Dn::parse(&e.dn).ok().map(|dn| tree.place(&dn));
        let record = if is_user(e) {
            user_of(e, tree.attrs.declared)
        } else if is_group(e) {
            group_of(e, tree)
        } else {
            let why = match place {
                Some(Ok(Place::Base | Place::People | Place::Groups)) => {
                    "served by Roster itself".to_string()
                }
                _ => format!("not a user or group ({})", e.get("objectClass").join(", ")),
            };
            report.skipped.push((e.line, format!("{}: {why}", e.dn)));
            continue;
        };
        match record {
            Ok(Record::User(attrs, password)) => users.push((e.line, attrs, password)),
            Ok(Record::Group(attrs, members)) => {
                groups.push((e.line, e.dn.clone(), attrs, members))
            }
            Err(why) => report.failed.push((e.line, format!("{}: {why}", e.dn))),
        }
    }

    // Users in batches, each one transaction.
    let mut made: Vec<(usize, Created)> = Vec::with_capacity(users.len());
    for chunk in users.chunks(BATCH) {
        let accounts = chunk
            .iter()
            .map(|(_, attrs, password)| NewAccount {
                attrs: (**attrs).clone(),
                active: true,
                credential: match password {
                    Some(p) if p.starts_with('{') || p.starts_with("$argon2") => {
                        Credential::Hash(p.clone())
                    }
                    Some(p) => Credential::InUse(p.clone()),
                    None => Credential::None,
                },
            })
            .collect();
        let results = directory.create_users(actor, accounts).await;
        for ((line, _, _), result) in chunk.iter().zip(results) {
            made.push((*line, result.map(|u| (u.attrs.user_name.clone(), u.id))));
        }
    }
    // Member DNs are matched normalised: names without regard to case.
    let mut ids: HashMap<String, Uuid> = HashMap::new();
    for (line, result) in made {
        match result {
            Ok((name, id)) => {
                ids.insert(tree.user_dn(&name).to_string().to_lowercase(), id);
                report.users += 1;
            }
            Err(e) => report.failed.push((line, e.to_string())),
        }
    }
    let mut memberships = Vec::new();
    for (line, dn, attrs, members) in groups {
        let name = attrs.display_name.clone();
        match directory.create_group(actor, attrs, &[]).await {
            Ok(g) => {
                report.groups += 1;
                ids.insert(tree.group_dn(&name).to_string().to_lowercase(), g.id);
                memberships.push((line, dn, g.id, members));
            }
            Err(e) => report.failed.push((line, format!("{dn}: {e}"))),
        }
    }
    let normalised = |dn: &str| Dn::parse(dn).ok().map(|d| d.to_string().to_lowercase());
    for (line, dn, group, members) in memberships {
        let mut refs = Vec::new();
        for m in &members {
            match normalised(m).and_then(|n| ids.get(&n)) {
                Some(id) => refs.push(MemberRef {
                    id: *id,
                    display: None,
                }),
                None => report
                    .failed
                    .push((line, format!("{dn}: member {m} is not in the directory"))),
            }
        }
        if refs.is_empty() {
            continue;
        }
        match directory
            .modify_group_members(actor, group, &refs, &[])
            .await
        {
            Ok(()) => report.memberships += refs.len(),
            Err(e) => report.failed.push((line, format!("{dn}: {e}"))),
        }
    }
    Ok(report)
}
