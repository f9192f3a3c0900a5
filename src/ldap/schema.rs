//! The subschema entry (RFC 4512 §4.2): the attribute types and object
//! classes Roster serves, in the definitions of RFC 4519, 4524, 2798, 2307
//! and 3045, readable anonymously at `cn=Subschema` like the rootDSE.

use super::entries::FixedAttrs;
use crate::directory::declared::{Declaration, Declared, Kind};

/// Where the subschema entry lives.
pub const SUBSCHEMA_DN: &str = "cn=Subschema";

const DIRECTORY_STRING: &str = "1.3.6.1.4.1.1466.115.121.1.15";
const IA5_STRING: &str = "1.3.6.1.4.1.1466.115.121.1.26";
const INTEGER: &str = "1.3.6.1.4.1.1466.115.121.1.27";
const DN: &str = "1.3.6.1.4.1.1466.115.121.1.12";
const GENERALIZED_TIME: &str = "1.3.6.1.4.1.1466.115.121.1.24";
const BOOLEAN: &str = "1.3.6.1.4.1.1466.115.121.1.7";
const OID: &str = "1.3.6.1.4.1.1466.115.121.1.38";
const OCTET_STRING: &str = "1.3.6.1.4.1.1466.115.121.1.40";
const TELEPHONE: &str = "1.3.6.1.4.1.1466.115.121.1.50";
const UUID: &str = "1.3.6.1.1.16.1";

/// How an attribute type matches.
#[derive(Clone, Copy)]
enum Rules {
    /// caseIgnoreMatch, with substrings and ordering.
    CaseIgnore,
    /// caseIgnoreIA5Match (mail, homeDirectory's cousin).
    CaseIgnoreIa5,
    /// caseExactIA5Match (homeDirectory, loginShell, memberUid).
    CaseExactIa5,
    Telephone,
    /// A two-letter country code (RFC 4517 Country String).
    Country,
    Integer,
    DistinguishedName,
    Time,
    Boolean,
    ObjectIdentifier,
    Uuid,
    Octets,
    /// A schema description (RFC 4517 §3.3), with its syntax OID.
    Description(&'static str),
}

/// One attribute type: OID, names, rules, syntax, and flags.
struct Type {
    oid: &'static str,
    names: &'static [&'static str],
    rules: Rules,
    single: bool,
    /// Operational (directoryOperation or dSAOperation) and not writable.
    operational: bool,
}

const fn t(oid: &'static str, names: &'static [&'static str], rules: Rules, single: bool) -> Type {
    Type {
        oid,
        names,
        rules,
        single,
        operational: false,
    }
}

const fn op(oid: &'static str, names: &'static [&'static str], rules: Rules) -> Type {
    Type {
        oid,
        names,
        rules,
        single: true,
        operational: true,
    }
}

/// A multi-valued operational attribute type.
const fn opm(oid: &'static str, names: &'static [&'static str], rules: Rules) -> Type {
    Type {
        oid,
        names,
        rules,
        single: false,
        operational: true,
    }
}

/// Every attribute type an entry Roster serves can have.
const TYPES: &[Type] = &[
    t("2.5.4.0", &["objectClass"], Rules::ObjectIdentifier, false),
    t("2.5.4.3", &["cn", "commonName"], Rules::CaseIgnore, false),
    t("2.5.4.4", &["sn", "surname"], Rules::CaseIgnore, false),
    t("2.5.4.42", &["givenName", "gn"], Rules::CaseIgnore, false),
    t("2.5.4.12", &["title"], Rules::CaseIgnore, false),
    t("2.5.4.6", &["c", "countryName"], Rules::Country, true),
    t(
        "2.25.300838043137499866577779599087285805970.1.10",
        &["rosterLocale"],
        Rules::CaseIgnore,
        true,
    ),
    t(
        "2.25.300838043137499866577779599087285805970.1.11",
        &["rosterTimezone"],
        Rules::CaseIgnore,
        true,
    ),
    t(
        "2.25.300838043137499866577779599087285805970.1.12",
        &["rosterRole"],
        Rules::CaseIgnore,
        false,
    ),
    t(
        "2.5.4.10",
        &["o", "organizationName"],
        Rules::CaseIgnore,
        false,
    ),
    t(
        "2.5.4.11",
        &["ou", "organizationalUnitName"],
        Rules::CaseIgnore,
        false,
    ),
    t("2.5.4.20", &["telephoneNumber"], Rules::Telephone, false),
    t("2.5.4.35", &["userPassword"], Rules::Octets, false),
    t("2.5.4.31", &["member"], Rules::DistinguishedName, false),
    t(
        "2.5.4.50",
        &["uniqueMember"],
        Rules::DistinguishedName,
        false,
    ),
    t(
        "0.9.2342.19200300.100.1.1",
        &["uid", "userid"],
        Rules::CaseIgnore,
        false,
    ),
    t(
        "0.9.2342.19200300.100.1.3",
        &["mail", "email", "rfc822Mailbox"],
        Rules::CaseIgnoreIa5,
        false,
    ),
    t(
        "0.9.2342.19200300.100.1.25",
        &["dc", "domainComponent"],
        Rules::CaseIgnoreIa5,
        true,
    ),
    t(
        "2.16.840.1.113730.3.1.241",
        &["displayName"],
        Rules::CaseIgnore,
        true,
    ),
    t(
        "2.16.840.1.113730.3.1.3",
        &["employeeNumber"],
        Rules::CaseIgnore,
        true,
    ),
    t(
        "2.16.840.1.113730.3.1.4",
        &["employeeType"],
        Rules::CaseIgnore,
        false,
    ),
    t(
        "2.16.840.1.113730.3.1.2",
        &["departmentNumber"],
        Rules::CaseIgnore,
        false,
    ),
    t(
        "2.16.840.1.113730.3.1.39",
        &["preferredLanguage"],
        Rules::CaseIgnore,
        true,
    ),
    t(
        "1.3.6.1.4.1.250.1.57",
        &["labeledURI"],
        Rules::CaseIgnore,
        false,
    ),
    t("1.3.6.1.1.1.1.0", &["uidNumber"], Rules::Integer, true),
    t("1.3.6.1.1.1.1.1", &["gidNumber"], Rules::Integer, true),
    t("1.3.6.1.1.1.1.2", &["gecos"], Rules::CaseIgnoreIa5, true),
    t(
        "1.3.6.1.1.1.1.3",
        &["homeDirectory"],
        Rules::CaseExactIa5,
        true,
    ),
    t(
        "1.3.6.1.1.1.1.4",
        &["loginShell"],
        Rules::CaseExactIa5,
        true,
    ),
    t(
        "1.3.6.1.1.1.1.12",
        &["memberUid"],
        Rules::CaseExactIa5,
        false,
    ),
    t(
        "1.2.840.113556.1.2.102",
        &["memberOf"],
        Rules::DistinguishedName,
        false,
    ),
    op("1.3.6.1.1.16.4", &["entryUUID"], Rules::Uuid),
    op("1.3.6.1.1.20", &["entryDN"], Rules::DistinguishedName),
    op("2.5.18.1", &["createTimestamp"], Rules::Time),
    op("2.5.18.2", &["modifyTimestamp"], Rules::Time),
    op("2.5.18.3", &["creatorsName"], Rules::DistinguishedName),
    op("2.5.18.4", &["modifiersName"], Rules::DistinguishedName),
    op("2.5.18.9", &["hasSubordinates"], Rules::Boolean),
    op(
        "2.5.18.10",
        &["subschemaSubentry"],
        Rules::DistinguishedName,
    ),
    op(
        "1.3.6.1.4.1.42.2.27.8.1.16",
        &["pwdChangedTime"],
        Rules::Time,
    ),
    // The account's login state, named as OpenLDAP's ppolicy overlay does
    // (draft-behera-ldap-password-policy): only the latest failure is kept.
    op(
        "1.3.6.1.4.1.42.2.27.8.1.17",
        &["pwdAccountLockedTime"],
        Rules::Time,
    ),
    opm(
        "1.3.6.1.4.1.42.2.27.8.1.19",
        &["pwdFailureTime"],
        Rules::Time,
    ),
    op(
        "1.3.6.1.4.1.42.2.27.8.1.29",
        &["pwdLastSuccess"],
        Rules::Time,
    ),
    op("1.3.6.1.4.1.42.2.27.8.1.22", &["pwdReset"], Rules::Boolean),
    // Roster's own account state, under its UUID-derived arc (X.667:
    // 2.25.<UUID e2534cb0-8cc3-4da4-bc6b-c7226587a392>), .1 attribute types.
    op(
        "2.25.300838043137499866577779599087285805970.1.1",
        &["rosterAccountStatus"],
        Rules::CaseIgnore,
    ),
    op(
        "2.25.300838043137499866577779599087285805970.1.2",
        &["rosterFailedLogins"],
        Rules::Integer,
    ),
    op(
        "2.25.300838043137499866577779599087285805970.1.3",
        &["rosterPasswordExpiresAt"],
        Rules::Time,
    ),
    op(
        "2.25.300838043137499866577779599087285805970.1.4",
        &["rosterReportsOnly"],
        Rules::Boolean,
    ),
    op(
        "2.25.300838043137499866577779599087285805970.1.5",
        &["rosterMfaState"],
        Rules::CaseIgnore,
    ),
    opm(
        "2.25.300838043137499866577779599087285805970.1.6",
        &["rosterMfaMethods"],
        Rules::CaseIgnore,
    ),
    opm(
        "2.25.300838043137499866577779599087285805970.1.7",
        &["rosterIpAllowList"],
        Rules::CaseIgnoreIa5,
    ),
    opm(
        "2.25.300838043137499866577779599087285805970.1.8",
        &["rosterEffectivePermissions"],
        Rules::CaseIgnore,
    ),
    opm(
        "2.25.300838043137499866577779599087285805970.1.9",
        &["rosterPermission"],
        Rules::CaseIgnore,
    ),
    // The subschema's own attributes (RFC 4512 §4.2), which clients such as
    // python ldap3 ask for by name and check against this list.
    opm(
        "2.5.21.5",
        &["attributeTypes"],
        Rules::Description("1.3.6.1.4.1.1466.115.121.1.3"),
    ),
    opm(
        "2.5.21.6",
        &["objectClasses"],
        Rules::Description("1.3.6.1.4.1.1466.115.121.1.37"),
    ),
    opm(
        "2.5.21.4",
        &["matchingRules"],
        Rules::Description("1.3.6.1.4.1.1466.115.121.1.30"),
    ),
    opm(
        "2.5.21.8",
        &["matchingRuleUse"],
        Rules::Description("1.3.6.1.4.1.1466.115.121.1.31"),
    ),
    opm(
        "1.3.6.1.4.1.1466.101.120.16",
        &["ldapSyntaxes"],
        Rules::Description("1.3.6.1.4.1.1466.115.121.1.54"),
    ),
    opm(
        "2.5.21.2",
        &["dITContentRules"],
        Rules::Description("1.3.6.1.4.1.1466.115.121.1.16"),
    ),
    opm(
        "2.5.21.1",
        &["dITStructureRules"],
        Rules::Description("1.3.6.1.4.1.1466.115.121.1.17"),
    ),
    opm(
        "2.5.21.7",
        &["nameForms"],
        Rules::Description("1.3.6.1.4.1.1466.115.121.1.35"),
    ),
    // The rootDSE's (RFC 4512 §5.1, RFC 3045).
    opm(
        "1.3.6.1.4.1.1466.101.120.5",
        &["namingContexts"],
        Rules::DistinguishedName,
    ),
    opm(
        "1.3.6.1.4.1.1466.101.120.6",
        &["altServer"],
        Rules::CaseIgnoreIa5,
    ),
    opm(
        "1.3.6.1.4.1.1466.101.120.7",
        &["supportedExtension"],
        Rules::ObjectIdentifier,
    ),
    opm(
        "1.3.6.1.4.1.1466.101.120.13",
        &["supportedControl"],
        Rules::ObjectIdentifier,
    ),
    opm(
        "1.3.6.1.4.1.1466.101.120.14",
        &["supportedSASLMechanisms"],
        Rules::CaseIgnore,
    ),
    opm(
        "1.3.6.1.4.1.1466.101.120.15",
        &["supportedLDAPVersion"],
        Rules::Integer,
    ),
    op("1.3.6.1.1.4", &["vendorName"], Rules::CaseIgnore),
    op("1.3.6.1.1.5", &["vendorVersion"], Rules::CaseIgnore),
];

/// An object class: OID, name, kind, superior, required and allowed types.
type Class = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
);

/// The object classes of the entries Roster serves.
const CLASSES: &[Class] = &[
    ("2.5.6.0", "top", "ABSTRACT", "", &["objectClass"], &[]),
    (
        "2.5.6.6",
        "person",
        "STRUCTURAL",
        "top",
        &["sn", "cn"],
        &["userPassword", "telephoneNumber"],
    ),
    // Roster's auxiliary class for the profile attributes LDAP has no
    // standard person class for.
    (
        "2.25.300838043137499866577779599087285805970.3.3",
        "rosterPerson",
        "AUXILIARY",
        "top",
        &[],
        &["c", "rosterLocale", "rosterTimezone", "rosterRole"],
    ),
    (
        "2.5.6.7",
        "organizationalPerson",
        "STRUCTURAL",
        "person",
        &[],
        &["title", "ou"],
    ),
    (
        "2.16.840.1.113730.3.2.2",
        "inetOrgPerson",
        "STRUCTURAL",
        "organizationalPerson",
        &[],
        &[
            "displayName",
            "employeeNumber",
            "employeeType",
            "departmentNumber",
            "givenName",
            "labeledURI",
            "mail",
            "o",
            "preferredLanguage",
            "uid",
        ],
    ),
    (
        "1.3.6.1.1.1.2.0",
        "posixAccount",
        "AUXILIARY",
        "top",
        &["cn", "uid", "uidNumber", "gidNumber", "homeDirectory"],
        &["userPassword", "loginShell", "gecos"],
    ),
    (
        "2.5.6.9",
        "groupOfNames",
        "STRUCTURAL",
        "top",
        &["cn"],
        &["member", "o", "ou"],
    ),
    (
        "2.5.6.17",
        "groupOfUniqueNames",
        "STRUCTURAL",
        "top",
        &["cn"],
        &["uniqueMember", "o", "ou"],
    ),
    // RFC 2307bis: AUXILIARY, so that it combines with groupOfNames.
    (
        "1.3.6.1.1.1.2.2",
        "posixGroup",
        "AUXILIARY",
        "top",
        &["gidNumber"],
        &["memberUid", "cn"],
    ),
    (
        "2.5.6.5",
        "organizationalUnit",
        "STRUCTURAL",
        "top",
        &["ou"],
        &[],
    ),
    (
        "2.5.6.4",
        "organization",
        "STRUCTURAL",
        "top",
        &["o"],
        &["ou"],
    ),
    (
        "0.9.2342.19200300.100.4.13",
        "domain",
        "STRUCTURAL",
        "top",
        &["dc"],
        &["o"],
    ),
    (
        "2.5.20.1",
        "subschema",
        "AUXILIARY",
        "",
        &[],
        &["attributeTypes", "objectClasses"],
    ),
];

fn names(list: &[&str]) -> String {
    match list {
        [one] => format!("'{one}'"),
        many => format!(
            "( {} )",
            many.iter()
                .map(|n| format!("'{n}'"))
                .collect::<Vec<_>>()
                .join(" ")
        ),
    }
}

fn oids(list: &[&str]) -> String {
    match list {
        [one] => one.to_string(),
        many => format!("( {} )", many.join(" $ ")),
    }
}

fn attribute_type(t: &Type) -> String {
    let (equality, ordering, substr, syntax) = match t.rules {
        Rules::CaseIgnore => (
            "caseIgnoreMatch",
            Some("caseIgnoreOrderingMatch"),
            Some("caseIgnoreSubstringsMatch"),
            DIRECTORY_STRING,
        ),
        Rules::CaseIgnoreIa5 => (
            "caseIgnoreIA5Match",
            None,
            Some("caseIgnoreIA5SubstringsMatch"),
            IA5_STRING,
        ),
        Rules::CaseExactIa5 => ("caseExactIA5Match", None, None, IA5_STRING),
        Rules::Telephone => (
            "telephoneNumberMatch",
            None,
            Some("telephoneNumberSubstringsMatch"),
            TELEPHONE,
        ),
        Rules::Country => (
            "caseIgnoreMatch",
            None,
            Some("caseIgnoreSubstringsMatch"),
            "1.3.6.1.4.1.1466.115.121.1.11",
        ),
        Rules::Integer => ("integerMatch", Some("integerOrderingMatch"), None, INTEGER),
        Rules::DistinguishedName => ("distinguishedNameMatch", None, None, DN),
        Rules::Time => (
            "generalizedTimeMatch",
            Some("generalizedTimeOrderingMatch"),
            None,
            GENERALIZED_TIME,
        ),
        Rules::Boolean => ("booleanMatch", None, None, BOOLEAN),
        Rules::ObjectIdentifier => ("objectIdentifierMatch", None, None, OID),
        Rules::Uuid => ("uuidMatch", Some("uuidOrderingMatch"), None, UUID),
        Rules::Octets => ("octetStringMatch", None, None, OCTET_STRING),
        Rules::Description(syntax) => ("objectIdentifierFirstComponentMatch", None, None, syntax),
    };
    let mut d = format!("( {} NAME {} EQUALITY {equality}", t.oid, names(t.names));
    if let Some(o) = ordering {
        d.push_str(&format!(" ORDERING {o}"));
    }
    if let Some(s) = substr {
        d.push_str(&format!(" SUBSTR {s}"));
    }
    d.push_str(&format!(" SYNTAX {syntax}"));
    if t.single {
        d.push_str(" SINGLE-VALUE");
    }
    if t.operational {
        d.push_str(" NO-USER-MODIFICATION USAGE directoryOperation");
    }
    d.push_str(" )");
    d
}

fn object_class(c: &Class) -> String {
    let (oid, name, kind, sup, must, may) = c;
    let mut d = format!("( {oid} NAME '{name}'");
    if !sup.is_empty() {
        d.push_str(&format!(" SUP {sup}"));
    }
    d.push_str(&format!(" {kind}"));
    if !must.is_empty() {
        d.push_str(&format!(" MUST {}", oids(must)));
    }
    if !may.is_empty() {
        d.push_str(&format!(" MAY {}", oids(may)));
    }
    d.push_str(" )");
    d
}

/// Whether the schema defines an attribute type by one of its names.
#[cfg(test)]
fn defines(name: &str) -> bool {
    TYPES
        .iter()
        .any(|t| t.names.iter().any(|n| n.eq_ignore_ascii_case(name)))
}

/// The auxiliary classes of entries with declared attributes, by resource.
pub const DECLARED_USER_CLASS: &str = "rosterDeclaredUser";
pub const DECLARED_GROUP_CLASS: &str = "rosterDeclaredGroup";

/// The standard definition of jpegPhoto (RFC 2798), which a declared binary
/// attribute of that name takes.
const JPEG_PHOTO: &str = "( 0.9.2342.19200300.100.1.60 NAME 'jpegPhoto' EQUALITY octetStringMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.28 )";

/// A declared attribute's type description.
fn declared_type(d: &Declaration) -> String {
    if d.kind == Kind::Binary && d.ldap.eq_ignore_ascii_case("jpegPhoto") {
        return JPEG_PHOTO.to_string();
    }
    let rules = match d.kind {
        Kind::String | Kind::Reference if d.case_exact => "EQUALITY caseExactMatch ORDERING caseExactOrderingMatch SUBSTR caseExactSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15".to_string(),
        Kind::String | Kind::Reference | Kind::Decimal => format!("EQUALITY caseIgnoreMatch ORDERING caseIgnoreOrderingMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX {DIRECTORY_STRING}"),
        Kind::Boolean => format!("EQUALITY booleanMatch SYNTAX {BOOLEAN}"),
        Kind::Integer => format!("EQUALITY integerMatch ORDERING integerOrderingMatch SYNTAX {INTEGER}"),
        Kind::DateTime => format!("EQUALITY generalizedTimeMatch ORDERING generalizedTimeOrderingMatch SYNTAX {GENERALIZED_TIME}"),
        Kind::Binary => format!("EQUALITY octetStringMatch SYNTAX {OCTET_STRING}"),
    };
    let mut t = format!("( {} NAME '{}'", d.oid, d.ldap);
    if !d.description.is_empty() {
        t.push_str(&format!(
            " DESC '{}'",
            d.description.replace(['\\', '\''], "")
        ));
    }
    t.push_str(&format!(" {rules}"));
    if !d.multi_valued {
        t.push_str(" SINGLE-VALUE");
    }
    t.push_str(" )");
    t
}

/// The auxiliary class allowing a resource's declared attributes.
fn declared_class(oid: &str, name: &str, declarations: &[Declaration]) -> String {
    let may: Vec<&str> = declarations.iter().map(|d| d.ldap.as_str()).collect();
    format!(
        "( {oid} NAME '{name}' SUP top AUXILIARY MAY {} )",
        oids(&may)
    )
}

/// The attributes of the subschema entry: the built-in definitions and
/// those of the declared attributes.
pub fn subschema_attrs(declared: &Declared) -> FixedAttrs {
    let mut types: Vec<String> = TYPES.iter().map(attribute_type).collect();
    let mut classes: Vec<String> = CLASSES.iter().map(object_class).collect();
    let all = declared.users.iter().chain(declared.groups.iter());
    for d in all {
        let t = declared_type(d);
        if !types.contains(&t) {
            types.push(t);
        }
    }
    if !declared.users.is_empty() {
        classes.push(declared_class(
            "2.25.300838043137499866577779599087285805970.3.1",
            DECLARED_USER_CLASS,
            &declared.users,
        ));
    }
    if !declared.groups.is_empty() {
        classes.push(declared_class(
            "2.25.300838043137499866577779599087285805970.3.2",
            DECLARED_GROUP_CLASS,
            &declared.groups,
        ));
    }
    vec![
        (&["objectClass"], vec!["top".into(), "subschema".into()]),
        (&["cn"], vec!["Subschema".into()]),
        (&["attributeTypes"], types),
        (&["objectClasses"], classes),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definitions_are_well_formed() {
        let types: Vec<String> = TYPES.iter().map(attribute_type).collect();
        assert!(types.contains(&"( 1.3.6.1.1.1.1.0 NAME 'uidNumber' EQUALITY integerMatch ORDERING integerOrderingMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )".to_string()));
        for c in CLASSES {
            for a in c.4.iter().chain(c.5.iter()) {
                assert!(
                    defines(a) || *a == "attributeTypes" || *a == "objectClasses",
                    "{a} in {}",
                    c.1
                );
            }
        }
        let oc: Vec<String> = CLASSES.iter().map(object_class).collect();
        assert!(oc.iter().any(|d| d.starts_with(
            "( 1.3.6.1.1.1.2.0 NAME 'posixAccount' SUP top AUXILIARY MUST ( cn $ uid"
        )));
    }
}
