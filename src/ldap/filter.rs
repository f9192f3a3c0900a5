//! LDAP search filters (RFC 4511 §4.5.1) translated into the core's query
//! tree, one tree per kind of entry. Attributes the server does not know
//! become `Undefined`, which never matches, even under `!`.

use ldap3_proto::proto::{LdapFilter, LdapSubstringFilter};

use super::dn::Dn;
use super::entries::{GROUP_CLASSES, POSIX_GROUP_CLASS, POSIX_USER_CLASS, USER_CLASSES};
use super::tree::{Place, Tree};
use crate::directory::attributes::{
    by_key, by_ldap, is_posix, AttrDef, Syntax, GROUP_ATTRS, USER_ATTRS,
};
use crate::directory::query::Record;
use crate::directory::{Filter, Group, Op, Substrings, Timestamp, User, Value};

/// LDAP_MATCHING_RULE_IN_CHAIN (MS-ADTS): membership through nested groups.
pub const OID_IN_CHAIN: &str = "1.2.840.113556.1.4.1941";

/// Most filter elements accepted in one search.
pub const MAX_FILTER_ELEMENTS: usize = 512;

/// Why a filter cannot be run.
#[derive(Debug)]
pub struct FilterError(pub String);

/// Counts the elements of a filter and its nesting depth.
pub fn check(filter: &LdapFilter, max_depth: usize) -> Result<(), FilterError> {
    fn walk(
        f: &LdapFilter,
        depth: usize,
        count: &mut usize,
        max_depth: usize,
    ) -> Result<(), FilterError> {
        *count += 1;
        if depth > max_depth {
            return Err(FilterError(format!(
                "filter nested deeper than {max_depth}"
            )));
        }
        if *count > MAX_FILTER_ELEMENTS {
            return Err(FilterError(format!(
                "filter has more than {MAX_FILTER_ELEMENTS} elements"
            )));
        }
        match f {
            LdapFilter::And(v) | LdapFilter::Or(v) => v
                .iter()
                .try_for_each(|x| walk(x, depth + 1, count, max_depth)),
            LdapFilter::Not(x) => walk(x, depth + 1, count, max_depth),
            _ => Ok(()),
        }
    }
    walk(filter, 1, &mut 0, max_depth)
}

/// How one kind of entry answers the kind-specific parts of a filter.
trait Kind: Record {
    /// The attributes of this kind the tree serves.
    fn attrs(tree: &Tree) -> &'static [AttrDef<Self>];
    fn classes() -> &'static [&'static str];
    /// The auxiliary class of entries with declared attributes, when some
    /// are declared.
    fn declared_class(tree: &Tree) -> Option<&'static str>;
    /// The object class entries of this kind have only when they have an
    /// attribute (POSIX), and that attribute's LDAP name.
    fn optional_class() -> (&'static str, &'static str);
    /// A filter item on an attribute whose values are DNs (memberOf, member).
    fn dn_item(tree: &Tree, attr: &str, dn: &Dn) -> Option<Filter<Self>>;
    /// The in-chain rule (`1.2.840.113556.1.4.1941`) on `attr`: membership
    /// through nested groups.
    fn in_chain(tree: &Tree, attr: &str, dn: &Dn) -> Option<Filter<Self>>;
}

impl Kind for User {
    fn attrs(tree: &Tree) -> &'static [AttrDef<Self>] {
        tree.attrs.users
    }
    fn declared_class(tree: &Tree) -> Option<&'static str> {
        (!tree.attrs.declared.users.is_empty()).then_some(super::schema::DECLARED_USER_CLASS)
    }
    fn classes() -> &'static [&'static str] {
        USER_CLASSES
    }
    fn optional_class() -> (&'static str, &'static str) {
        (POSIX_USER_CLASS, "uidNumber")
    }
    fn dn_item(tree: &Tree, attr: &str, dn: &Dn) -> Option<Filter<User>> {
        if !attr.eq_ignore_ascii_case("memberOf") {
            return None;
        }
        // memberOf lists nested groups too, so it matches them as well.
        let def = by_key(USER_ATTRS, "memberOf")?;
        Some(match tree.place(dn) {
            Ok(Place::Group(name)) => Filter::Compare(def, Op::Eq, Value::Str(name)),
            _ => Filter::False,
        })
    }
    fn in_chain(tree: &Tree, attr: &str, dn: &Dn) -> Option<Filter<User>> {
        Self::dn_item(tree, attr, dn)
    }
}

impl Kind for Group {
    fn attrs(tree: &Tree) -> &'static [AttrDef<Self>] {
        tree.attrs.groups
    }
    fn declared_class(tree: &Tree) -> Option<&'static str> {
        (!tree.attrs.declared.groups.is_empty()).then_some(super::schema::DECLARED_GROUP_CLASS)
    }
    fn classes() -> &'static [&'static str] {
        GROUP_CLASSES
    }
    fn optional_class() -> (&'static str, &'static str) {
        (POSIX_GROUP_CLASS, "gidNumber")
    }
    fn dn_item(tree: &Tree, attr: &str, dn: &Dn) -> Option<Filter<Group>> {
        if !(attr.eq_ignore_ascii_case("member") || attr.eq_ignore_ascii_case("uniqueMember")) {
            return None;
        }
        Some(match tree.place(dn) {
            Ok(Place::User(name)) => Filter::Compare(
                by_key(GROUP_ATTRS, "members.userName")?,
                Op::Eq,
                Value::Str(name),
            ),
            Ok(Place::Group(name)) => Filter::Compare(
                by_key(GROUP_ATTRS, "members.groupName")?,
                Op::Eq,
                Value::Str(name),
            ),
            _ => Filter::False,
        })
    }
    fn in_chain(tree: &Tree, attr: &str, dn: &Dn) -> Option<Filter<Group>> {
        if !(attr.eq_ignore_ascii_case("member") || attr.eq_ignore_ascii_case("uniqueMember")) {
            return None;
        }
        Some(match tree.place(dn) {
            Ok(Place::User(name)) => Filter::Compare(
                by_key(GROUP_ATTRS, "members.chain")?,
                Op::Eq,
                Value::Str(name),
            ),
            // Groups inside groups: the direct rule is as far as it goes.
            Ok(Place::Group(_)) => Self::dn_item(tree, attr, dn)?,
            _ => Filter::False,
        })
    }
}

/// The assertion value for `def`, or `None` if it cannot be one.
fn value<T>(def: &AttrDef<T>, text: &str) -> Option<Value> {
    match def.syntax {
        Syntax::Time => Timestamp::parse_generalized(text).map(Value::Time),
        Syntax::Boolean => match text.to_ascii_uppercase().as_str() {
            "TRUE" => Some(Value::Bool(true)),
            "FALSE" => Some(Value::Bool(false)),
            _ => None,
        },
        _ => Some(Value::Str(text.to_string())),
    }
}

/// The attribute an LDAP name stands for in entries as served: without
/// POSIX, the POSIX attributes are not part of any entry.
fn served<T: Kind>(tree: &Tree, name: &str) -> Option<&'static AttrDef<T>> {
    by_ldap(T::attrs(tree), name).filter(|d| tree.posix || !is_posix(d.key))
}

fn compare<T: Kind>(tree: &Tree, attr: &str, op: Op, text: &str) -> Filter<T> {
    if attr.eq_ignore_ascii_case("objectClass") {
        let (class, attr) = T::optional_class();
        if op == Op::Eq && class.eq_ignore_ascii_case(text) {
            return served(tree, attr).map_or(Filter::False, Filter::Present);
        }
        let hit = op == Op::Eq
            && (T::classes().iter().any(|c| c.eq_ignore_ascii_case(text))
                || T::declared_class(tree).is_some_and(|c| c.eq_ignore_ascii_case(text)));
        return if hit { Filter::True } else { Filter::False };
    }
    if op == Op::Eq {
        if let Ok(dn) = Dn::parse(text) {
            if let Some(f) = T::dn_item(tree, attr, &dn) {
                return f;
            }
        }
    }
    match served(tree, attr) {
        Some(def) => match value(def, text) {
            Some(v) => Filter::Compare(def, op, v),
            None => Filter::Undefined,
        },
        None => Filter::Undefined,
    }
}

fn translate<T: Kind>(tree: &Tree, f: &LdapFilter) -> Filter<T> {
    match f {
        LdapFilter::And(v) => Filter::And(v.iter().map(|x| translate(tree, x)).collect()),
        LdapFilter::Or(v) => Filter::Or(v.iter().map(|x| translate(tree, x)).collect()),
        LdapFilter::Not(x) => Filter::Not(Box::new(translate(tree, x))),
        LdapFilter::Equality(a, v) | LdapFilter::Approx(a, v) => compare(tree, a, Op::Eq, v),
        LdapFilter::GreaterOrEqual(a, v) => compare(tree, a, Op::Ge, v),
        LdapFilter::LessOrEqual(a, v) => compare(tree, a, Op::Le, v),
        LdapFilter::Present(a) => {
            if a.eq_ignore_ascii_case("objectClass") {
                return Filter::True;
            }
            match served(tree, a) {
                Some(def) => Filter::Present(def),
                None => Filter::False,
            }
        }
        LdapFilter::Substring(
            a,
            LdapSubstringFilter {
                initial,
                any,
                final_,
            },
        ) => match served(tree, a) {
            Some(def) => Filter::Substring(
                def,
                Substrings {
                    initial: initial.clone(),
                    any: any.clone(),
                    last: final_.clone(),
                },
            ),
            None => Filter::Undefined,
        },
        LdapFilter::Extensible(m) => {
            let in_chain = m.matching_rule.as_deref() == Some(OID_IN_CHAIN);
            match (in_chain, m.type_.as_deref(), Dn::parse(&m.match_value)) {
                (true, Some(attr), Ok(dn)) => {
                    T::in_chain(tree, attr, &dn).unwrap_or(Filter::Undefined)
                }
                _ => Filter::Undefined,
            }
        }
    }
}

/// The filter as it applies to user entries.
pub fn for_users(tree: &Tree, f: &LdapFilter) -> Filter<User> {
    translate(tree, f)
}

/// The filter as it applies to group entries.
pub fn for_groups(tree: &Tree, f: &LdapFilter) -> Filter<Group> {
    translate(tree, f)
}

/// Attribute types the server knows besides those in the attribute map.
const FIXED_TYPES: &[&str] = &["objectClass", "ou", "dc", "o", "entryDN", "hasSubordinates"];

fn known_type(name: &str) -> bool {
    by_ldap(USER_ATTRS, name).is_some()
        || by_ldap(GROUP_ATTRS, name).is_some()
        || FIXED_TYPES.iter().any(|t| t.eq_ignore_ascii_case(name))
}

/// Evaluates a filter against a fixed entry (the rootDSE and containers),
/// whose attributes are given as name → values. Three-valued like the
/// store's evaluation: an unknown attribute type is undefined (`None`).
pub fn matches_static(f: &LdapFilter, attrs: &[(&str, Vec<String>)]) -> bool {
    evaluate(f, attrs) == Some(true)
}

fn evaluate(f: &LdapFilter, attrs: &[(&str, Vec<String>)]) -> Option<bool> {
    let values = |a: &str| {
        attrs
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(a))
            .map(|(_, v)| v)
    };
    // An item on an attribute the entry lacks is false if the type is known.
    let item = |a: &str, test: &dyn Fn(&Vec<String>) -> bool| match values(a) {
        Some(vals) => Some(test(vals)),
        None if known_type(a) => Some(false),
        None => None,
    };
    match f {
        LdapFilter::And(v) => v
            .iter()
            .try_fold(Some(true), |acc, x| match (acc, evaluate(x, attrs)) {
                (_, Some(false)) => Err(()),
                (Some(true), r) => Ok(r),
                (acc, _) => Ok(acc),
            })
            .unwrap_or(Some(false)),
        LdapFilter::Or(v) => v
            .iter()
            .try_fold(Some(false), |acc, x| match (acc, evaluate(x, attrs)) {
                (_, Some(true)) => Err(()),
                (Some(false), r) => Ok(r),
                (acc, _) => Ok(acc),
            })
            .unwrap_or(Some(true)),
        LdapFilter::Not(x) => evaluate(x, attrs).map(|b| !b),
        LdapFilter::Present(a) => Some(values(a).is_some()),
        LdapFilter::Equality(a, v) | LdapFilter::Approx(a, v) => {
            item(a, &|vals| vals.iter().any(|x| x.eq_ignore_ascii_case(v)))
        }
        LdapFilter::Substring(a, s) => {
            item(a, &|vals| vals.iter().any(|x| substring_matches(x, s)))
        }
        _ => None,
    }
}

/// A substring assertion on a fixed entry's value, without regard to case.
fn substring_matches(value: &str, s: &LdapSubstringFilter) -> bool {
    let lower = |t: &Option<String>| t.as_deref().map(str::to_lowercase);
    let any: Vec<String> = s.any.iter().map(|p| p.to_lowercase()).collect();
    crate::directory::query::substring_matches(
        &value.to_lowercase(),
        lower(&s.initial).as_deref(),
        &any,
        lower(&s.final_).as_deref(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use ldap3_proto::parse_ldap_filter_str;

    #[test]
    fn fixed_entries_use_three_valued_logic() {
        let attrs = vec![
            (
                "objectClass",
                vec!["top".to_string(), "organizationalUnit".to_string()],
            ),
            ("ou", vec!["people".to_string()]),
        ];
        let m = |f: &str| matches_static(&parse_ldap_filter_str(f).unwrap(), &attrs);
        assert!(m("(objectClass=organizationalUnit)"));
        assert!(m("(ou=PEO*)"));
        assert!(!m("(shoeSize=1)"));
        assert!(!m("(!(shoeSize=1))"), "undefined stays undefined under not");
        assert!(
            m("(!(uid=x))"),
            "a known attribute the entry lacks is false"
        );
        assert!(m("(|(shoeSize=1)(ou=people))"));
        assert!(!m("(&(shoeSize=1)(ou=people))"));
    }
}
