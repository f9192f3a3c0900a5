//! The shape of the LDAP tree: the base entry, `ou=people` and `ou=groups`
//! under it, users `uid=NAME,ou=people,BASE` and groups
//! `cn=NAME,ou=groups,BASE`.

use super::dn::Dn;
use crate::directory::attributes::Attributes;

/// An entry a DN names, by its place in the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    Base,
    People,
    Groups,
    User(String),
    Group(String),
}

/// The tree under the configured base DN.
#[derive(Debug, Clone)]
pub struct Tree {
    pub base: Dn,
    pub people: Dn,
    pub groups: Dn,
    /// Whether entries are `posixAccount`/`posixGroup` (`[posix] enabled`):
    /// when not, filters on those classes and attributes match nothing.
    pub posix: bool,
    /// The attribute tables (built-in and declared) entries and filters use.
    pub attrs: Attributes,
}

impl Tree {
    pub fn new(base: Dn) -> Tree {
        Tree {
            people: Dn::child("ou", "people", &base),
            groups: Dn::child("ou", "groups", &base),
            base,
            posix: true,
            attrs: Attributes::default(),
        }
    }

    /// The same tree, with POSIX entries served or not.
    pub fn with_posix(self, posix: bool) -> Tree {
        Tree { posix, ..self }
    }

    /// The same tree, serving the attributes of `attrs`.
    pub fn with_attributes(self, attrs: Attributes) -> Tree {
        Tree { attrs, ..self }
    }

    pub fn user_dn(&self, user_name: &str) -> Dn {
        Dn::child("uid", user_name, &self.people)
    }

    pub fn group_dn(&self, name: &str) -> Dn {
        Dn::child("cn", name, &self.groups)
    }

    /// Where `dn` lies in the tree, or `Err` with the DN of the nearest
    /// entry that exists above it (for `matchedDN`).
    pub fn place(&self, dn: &Dn) -> Result<Place, Dn> {
        let Some(rel) = dn.relative_to(&self.base) else {
            return Err(Dn::default());
        };
        let single = |i: usize, attr: &str| -> Option<String> {
            match rel.get(i) {
                Some(rdn) if rdn.0.len() == 1 && rdn.0[0].attr.eq_ignore_ascii_case(attr) => {
                    Some(rdn.0[0].value.clone())
                }
                _ => None,
            }
        };
        let container = rel
            .last()
            .and_then(|_| single(rel.len() - 1, "ou"))
            .map(|v| v.to_lowercase());
        match (rel.len(), container.as_deref()) {
            (0, _) => Ok(Place::Base),
            (1, Some("people")) => Ok(Place::People),
            (1, Some("groups")) => Ok(Place::Groups),
            (2, Some("people")) => single(0, "uid").map(Place::User).ok_or(self.people.clone()),
            (2, Some("groups")) => single(0, "cn").map(Place::Group).ok_or(self.groups.clone()),
            (_, Some("people")) => Err(self.people.clone()),
            (_, Some("groups")) => Err(self.groups.clone()),
            _ => Err(self.base.clone()),
        }
    }

    /// The user a DN names, if it names one.
    pub fn user_name(&self, dn: &str) -> Option<String> {
        match self.place(&Dn::parse(dn).ok()?) {
            Ok(Place::User(name)) => Some(name),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_entries() {
        let tree = Tree::new(Dn::parse("dc=example,dc=com").unwrap());
        let p = |s: &str| tree.place(&Dn::parse(s).unwrap());
        assert_eq!(p("dc=example,dc=com"), Ok(Place::Base));
        assert_eq!(p("ou=People,dc=example,dc=com"), Ok(Place::People));
        assert_eq!(
            p("uid=alice,ou=people,dc=example,dc=com"),
            Ok(Place::User("alice".into()))
        );
        assert_eq!(
            p(r"cn=Doe\, John,ou=groups,dc=example,dc=com"),
            Ok(Place::Group("Doe, John".into()))
        );
        assert_eq!(
            p("cn=x,ou=people,dc=example,dc=com"),
            Err(tree.people.clone())
        );
        assert_eq!(p("ou=other,dc=example,dc=com"), Err(tree.base.clone()));
        assert_eq!(p("dc=other"), Err(Dn::default()));
        assert_eq!(
            tree.user_dn("a,b").to_string(),
            r"uid=a\,b,ou=people,dc=example,dc=com"
        );
    }
}
