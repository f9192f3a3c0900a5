//! Directory records rendered as LDAP entries, the fixed entries (rootDSE
//! and containers), and the attribute selection a search asks for.

use crate::directory::policy::Policy;
use ldap3_proto::proto::{LdapPartialAttribute, LdapSearchResultEntry};

use super::dn::Dn;
use super::schema::SUBSCHEMA_DN;
use super::tree::Tree;
use crate::config::PosixConfig;
use crate::directory::attributes::{AttrDef, Storage, Syntax};
use crate::directory::query::Record;
use crate::directory::{Group, MemberKind, Meta, Timestamp, User};

pub const USER_CLASSES: &[&str] = &[
    "top",
    "person",
    "organizationalPerson",
    "inetOrgPerson",
    "rosterPerson",
];
/// Groups are served both ways (RFC 2307bis style) so that applications
/// reading `member` and those reading `uniqueMember` both work.
pub const GROUP_CLASSES: &[&str] = &["top", "groupOfNames", "groupOfUniqueNames"];
/// Added to users that have a uidNumber and groups that have a gidNumber.
pub const POSIX_USER_CLASS: &str = "posixAccount";
pub const POSIX_GROUP_CLASS: &str = "posixGroup";

/// Attributes served only when asked for by name or with `+`.
const OPERATIONAL: &[&str] = &[
    "entryUUID",
    "entryDN",
    "createTimestamp",
    "modifyTimestamp",
    "creatorsName",
    "modifiersName",
    "hasSubordinates",
    "subschemaSubentry",
    "pwdChangedTime",
    "pwdAccountLockedTime",
    "pwdFailureTime",
    "pwdLastSuccess",
    "pwdReset",
    "rosterAccountStatus",
    "rosterFailedLogins",
    "rosterPasswordExpiresAt",
    "rosterReportsOnly",
    "rosterMfaState",
    "rosterMfaMethods",
    "rosterIpAllowList",
    "rosterEffectivePermissions",
    "rosterPermission",
    "attributeTypes",
    "objectClasses",
    "supportedControl",
    "supportedExtension",
    "supportedLDAPVersion",
    "supportedSASLMechanisms",
    "namingContexts",
    "vendorName",
    "vendorVersion",
];

pub const OID_WHOAMI: &str = "1.3.6.1.4.1.4203.1.11.3";
pub const OID_PASSWORD_MODIFY: &str = "1.3.6.1.4.1.4203.1.11.1";

/// Attributes that hold secrets: never returned, never compared.
pub fn is_secret(name: &str) -> bool {
    ["userPassword", "authPassword", "userPKCS12"]
        .iter()
        .any(|s| s.eq_ignore_ascii_case(name))
}

/// Which attributes a search returns (RFC 4511 §4.5.1.8).
#[derive(Debug)]
pub struct Selection {
    all_user: bool,
    all_operational: bool,
    names: Vec<String>,
    types_only: bool,
}

impl Selection {
    pub fn new(requested: &[String], types_only: bool) -> Selection {
        let names: Vec<String> = requested.iter().map(|a| a.to_ascii_lowercase()).collect();
        let only_none = !names.is_empty() && names.iter().all(|n| n == "1.1");
        Selection {
            all_user: !only_none && (names.is_empty() || names.iter().any(|n| n == "*")),
            all_operational: names.iter().any(|n| n == "+"),
            names,
            types_only,
        }
    }

    /// Whether a group's members are needed for the entry (only when one
    /// of the attributes listing them is selected: loading the members of
    /// a large group is the costly part of a group search).
    pub fn wants_members(&self) -> bool {
        self.wants(&["member", "uniqueMember", "memberUid"])
    }

    /// Whether the request names `name` itself (not through `*`): what a
    /// binary attribute such as jpegPhoto needs to be sent.
    pub fn names(&self, name: &str) -> bool {
        !self.types_only && self.names.iter().any(|r| r.eq_ignore_ascii_case(name))
    }

    /// Whether an attribute known by `names` (canonical name first) is wanted.
    fn wants(&self, names: &[&str]) -> bool {
        let operational = OPERATIONAL.iter().any(|o| o.eq_ignore_ascii_case(names[0]));
        (if operational {
            self.all_operational
        } else {
            self.all_user
        }) || names
            .iter()
            .any(|n| self.names.iter().any(|r| r.eq_ignore_ascii_case(n)))
    }

    /// Builds the entry from all its attributes, keeping the wanted ones.
    fn entry(&self, dn: String, attrs: Vec<(&[&str], Vec<String>)>) -> LdapSearchResultEntry {
        let attributes = attrs
            .into_iter()
            .filter(|(names, values)| !values.is_empty() && self.wants(names))
            .map(|(names, values)| LdapPartialAttribute {
                atype: names[0].to_string(),
                vals: if self.types_only {
                    Vec::new()
                } else {
                    values.into_iter().map(String::into_bytes).collect()
                },
            })
            .collect();
        LdapSearchResultEntry { dn, attributes }
    }
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// An entry under construction: attributes are added only when the search
/// selected them, and their values computed only then.
struct Builder<'a> {
    sel: &'a Selection,
    attributes: Vec<LdapPartialAttribute>,
}

impl<'a> Builder<'a> {
    fn new(sel: &'a Selection) -> Builder<'a> {
        Builder {
            sel,
            attributes: Vec::new(),
        }
    }

    /// Adds the attribute known by `names` (canonical first) if selected.
    fn add(&mut self, names: &[&str], values: impl FnOnce() -> Vec<String>) {
        if !self.sel.wants(names) {
            return;
        }
        let values = values();
        if values.is_empty() {
            return;
        }
        self.attributes.push(LdapPartialAttribute {
            atype: names[0].to_string(),
            vals: if self.sel.types_only {
                Vec::new()
            } else {
                values.into_iter().map(String::into_bytes).collect()
            },
        });
    }

    fn finish(self, dn: String) -> LdapSearchResultEntry {
        LdapSearchResultEntry {
            dn,
            attributes: self.attributes,
        }
    }
}

/// `creatorsName` and `modifiersName` (RFC 4512 §3.4): the bind DN of an
/// LDAP actor, `cn=NAME,cn=PROTOCOL` for the others (a SCIM token's name,
/// an operator's login at the command line).
fn actors(b: &mut Builder<'_>, meta: &Meta) {
    b.add(&["creatorsName"], || {
        actor_dn(&meta.created_by).into_iter().collect()
    });
    b.add(&["modifiersName"], || {
        actor_dn(&meta.modified_by).into_iter().collect()
    });
}

fn actor_dn(reference: &str) -> Option<String> {
    let (protocol, name) = reference.split_once(':')?;
    if protocol == "ldap" && Dn::parse(name).is_ok() {
        return Some(name.to_string());
    }
    let parent = Dn::parse(&format!("cn={protocol}")).ok()?;
    Some(Dn::child("cn", name, &parent).to_string())
}

/// A user as an `inetOrgPerson` entry, and a `posixAccount` when POSIX is
/// served and the user has a uidNumber (home, shell and GECOS then have
/// their configured defaults).
pub fn user_entry(
    tree: &Tree,
    posix: Option<&PosixConfig>,
    policy: &Policy,
    user: &User,
    sel: &Selection,
) -> LdapSearchResultEntry {
    let dn = tree.user_dn(&user.attrs.user_name).to_string();
    let posix = posix.filter(|_| user.attrs.posix.uid_number.is_some());
    let mut b = Builder::new(sel);
    b.add(&["objectClass"], || {
        let mut classes = strings(USER_CLASSES);
        if !tree.attrs.declared.users.is_empty() {
            classes.push(super::schema::DECLARED_USER_CLASS.into());
        }
        if posix.is_some() {
            classes.push(POSIX_USER_CLASS.into());
        }
        classes
    });
    if let Some(config) = posix {
        let p = &user.attrs.posix;
        let name = &user.attrs.user_name;
        b.add(&["homeDirectory"], || {
            vec![p
                .home_directory
                .clone()
                .unwrap_or_else(|| config.home_of(name))]
        });
        b.add(&["loginShell"], || {
            vec![p
                .login_shell
                .clone()
                .unwrap_or_else(|| config.shell.clone())]
        });
        b.add(&["gecos"], || {
            vec![p
                .gecos
                .clone()
                .unwrap_or_else(|| user.common_name().to_string())]
        });
    }
    for def in tree
        .attrs
        .users
        .iter()
        .filter(|d| !d.ldap.is_empty())
        .filter(|d| posix.is_some() || !matches!(d.ldap[0], "uidNumber" | "gidNumber"))
    {
        b.add(def.ldap, || match def.storage {
            Storage::MemberOfChain => user
                .groups
                .iter()
                .map(|g| tree.group_dn(&g.display_name).to_string())
                .collect(),
            _ => ldap_values(def, user),
        });
    }
    let time = |t: Option<Timestamp>| t.iter().map(|t| t.generalized()).collect();
    b.add(&["pwdChangedTime"], || time(user.password_changed));
    b.add(&["pwdAccountLockedTime"], || time(user.logins.locked_at));
    b.add(&["pwdFailureTime"], || {
        time(user.logins.last_failure.filter(|_| user.logins.failed > 0))
    });
    b.add(&["pwdLastSuccess"], || time(user.logins.last_success));
    let account = &user.attrs.account;
    let boolean = |b: bool| vec![if b { "TRUE" } else { "FALSE" }.to_string()];
    b.add(&["pwdReset"], || match account.must_change() {
        true => boolean(true),
        false => Vec::new(),
    });
    b.add(&["rosterAccountStatus"], || {
        vec![user.status.as_str().to_string()]
    });
    b.add(&["rosterFailedLogins"], || {
        vec![user.logins.failed.to_string()]
    });
    b.add(&["rosterPasswordExpiresAt"], || {
        time(policy.password_expires(user))
    });
    b.add(&["rosterReportsOnly"], || {
        boolean(account.is_reports_only())
    });
    b.add(&["rosterMfaState"], || {
        vec![user.mfa_state().as_str().to_string()]
    });
    b.add(&["rosterMfaMethods"], || {
        user.mfa_methods().into_iter().map(String::from).collect()
    });
    b.add(&["rosterIpAllowList"], || account.ip_allow_list.clone());
    actors(&mut b, &user.meta);
    b.add(&["entryDN"], || vec![dn.clone()]);
    b.add(&["subschemaSubentry"], || vec![SUBSCHEMA_DN.into()]);
    b.add(&["hasSubordinates"], || vec!["FALSE".into()]);
    b.finish(dn)
}

/// A group as a `groupOfNames` and `groupOfUniqueNames` entry (member and
/// uniqueMember list member DNs), and a `posixGroup` (memberUid lists user
/// members' names) when POSIX is served and the group has a gidNumber.
pub fn group_entry(
    tree: &Tree,
    posix: Option<&PosixConfig>,
    group: &Group,
    sel: &Selection,
) -> LdapSearchResultEntry {
    let dn = tree.group_dn(&group.attrs.display_name).to_string();
    let posix = posix.filter(|_| group.attrs.gid_number.is_some());
    let mut b = Builder::new(sel);
    b.add(&["objectClass"], || {
        let mut classes = strings(GROUP_CLASSES);
        if !tree.attrs.declared.groups.is_empty() {
            classes.push(super::schema::DECLARED_GROUP_CLASS.into());
        }
        if posix.is_some() {
            classes.push(POSIX_GROUP_CLASS.into());
        }
        classes
    });
    for def in tree
        .attrs
        .groups
        .iter()
        .filter(|d| !d.ldap.is_empty())
        .filter(|d| posix.is_some() || !matches!(d.ldap[0], "gidNumber" | "memberUid"))
    {
        b.add(def.ldap, || match def.storage {
            Storage::MemberUserName if def.ldap[0] != "memberUid" => group
                .members
                .iter()
                .map(|m| match m.kind {
                    MemberKind::User => tree.user_dn(&m.name).to_string(),
                    MemberKind::Group => tree.group_dn(&m.name).to_string(),
                })
                .collect(),
            _ => ldap_values(def, group),
        });
    }
    b.add(&["rosterPermission"], || group.attrs.permissions.clone());
    actors(&mut b, &group.meta);
    b.add(&["entryDN"], || vec![dn.clone()]);
    b.add(&["subschemaSubentry"], || vec![SUBSCHEMA_DN.into()]);
    b.add(&["hasSubordinates"], || vec!["FALSE".into()]);
    b.finish(dn)
}

/// The attributes of a fixed entry, for filtering and rendering.
pub type FixedAttrs = Vec<(&'static [&'static str], Vec<String>)>;

/// The base entry and the two containers.
pub fn container_attrs(tree: &Tree, which: &super::tree::Place) -> (String, FixedAttrs) {
    use super::tree::Place;
    match which {
        Place::People | Place::Groups => {
            let (dn, ou) = if *which == Place::People {
                (&tree.people, "people")
            } else {
                (&tree.groups, "groups")
            };
            (
                dn.to_string(),
                vec![
                    (&["objectClass"], strings(&["top", "organizationalUnit"])),
                    (&["ou"], vec![ou.into()]),
                    (&["entryDN"], vec![dn.to_string()]),
                    (&["subschemaSubentry"], vec![SUBSCHEMA_DN.into()]),
                    (&["hasSubordinates"], vec!["TRUE".into()]),
                ],
            )
        }
        _ => {
            let first = tree.base.0.first().and_then(|r| r.0.first());
            let (classes, rdn): (&[&str], _) =
                match first.map(|a| a.attr.to_ascii_lowercase()).as_deref() {
                    Some("dc") => (&["top", "domain"], first),
                    Some("o") => (&["top", "organization"], first),
                    Some("ou") => (&["top", "organizationalUnit"], first),
                    _ => (&["top"], None),
                };
            let mut attrs: FixedAttrs = vec![(&["objectClass"], strings(classes))];
            if let Some(a) = rdn {
                let name: &'static [&'static str] = match a.attr.to_ascii_lowercase().as_str() {
                    "dc" => &["dc"],
                    "o" => &["o"],
                    _ => &["ou"],
                };
                attrs.push((name, vec![a.value.clone()]));
            }
            attrs.push((&["entryDN"], vec![tree.base.to_string()]));
            attrs.push((&["subschemaSubentry"], vec![SUBSCHEMA_DN.into()]));
            attrs.push((&["hasSubordinates"], vec!["TRUE".into()]));
            (tree.base.to_string(), attrs)
        }
    }
}

/// The rootDSE (RFC 4512 §5.1).
pub fn root_dse_attrs(tree: &Tree, starttls: bool) -> FixedAttrs {
    let mut extensions = vec![OID_WHOAMI.to_string(), OID_PASSWORD_MODIFY.to_string()];
    if starttls {
        extensions.push(super::OID_STARTTLS.to_string());
    }
    vec![
        (&["objectClass"], strings(&["top"])),
        (&["namingContexts"], vec![tree.base.to_string()]),
        (&["supportedLDAPVersion"], vec!["3".into()]),
        (&["supportedExtension"], extensions),
        (&["supportedControl"], strings(super::controls::SUPPORTED)),
        (
            &["subschemaSubentry"],
            vec![super::schema::SUBSCHEMA_DN.into()],
        ),
        (&["vendorName"], vec!["Roster".into()]),
        (
            &["vendorVersion"],
            vec![format!("Roster {}", env!("CARGO_PKG_VERSION"))],
        ),
    ]
}

/// Renders a fixed entry. The rootDSE returns everything for `*` or no list.
pub fn fixed_entry(dn: String, attrs: FixedAttrs, sel: &Selection) -> LdapSearchResultEntry {
    let attrs = attrs.into_iter().map(|(n, v)| (n as &[&str], v)).collect();
    sel.entry(dn, attrs)
}

/// Attribute names and values of a fixed entry, for [`super::filter::matches_static`].
pub fn as_pairs(attrs: &FixedAttrs) -> Vec<(&str, Vec<String>)> {
    attrs.iter().map(|(n, v)| (n[0], v.clone())).collect()
}

/// An attribute's values as LDAP writes them (booleans as TRUE / FALSE).
pub(crate) fn ldap_values<T: Record>(def: &AttrDef<T>, record: &T) -> Vec<String> {
    let values = def.values_of(record);
    match def.syntax {
        Syntax::Boolean => values.iter().map(|v| v.to_uppercase()).collect(),
        _ => values,
    }
}
