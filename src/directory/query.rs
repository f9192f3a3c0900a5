//! The one query language inside Roster. SCIM and LDAP filters are both
//! translated into a [`Filter`]; the store compiles it into indexed SQL.

use super::attributes::AttrDef;
use super::time::Timestamp;

/// Most comparisons one filter may hold, whichever protocol sent it: each
/// becomes an indexed lookup, and a client that needs more should page.
pub const MAX_FILTER_TERMS: usize = 200;

/// A comparison between an attribute's values and an assertion value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    /// Contains.
    Co,
    /// Starts with.
    Sw,
    /// Ends with.
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

/// An assertion value, already parsed for the attribute's syntax.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(String),
    Bool(bool),
    Time(Timestamp),
}

/// A filter over records of type `T` (users or groups).
///
/// Evaluation is three-valued as in LDAP: `Undefined` (an attribute the
/// server does not know) is neither true nor false, and `Not(Undefined)`
/// stays undefined, so such entries never match.
#[derive(Debug, Clone)]
pub enum Filter<T: 'static> {
    True,
    False,
    Undefined,
    And(Vec<Filter<T>>),
    Or(Vec<Filter<T>>),
    Not(Box<Filter<T>>),
    Present(&'static AttrDef<T>),
    Compare(&'static AttrDef<T>, Op, Value),
    /// LDAP's `initial*any*…*final` pattern.
    Substring(&'static AttrDef<T>, Substrings),
    /// True when one element of the named multi-valued attribute satisfies
    /// the inner filter, whose attributes are that attribute's
    /// sub-attributes (SCIM's `emails[type eq "work" and value co "@x"]`).
    Element(&'static str, Box<Filter<T>>),
}

/// The parts of a substring assertion, in order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Substrings {
    pub initial: Option<String>,
    pub any: Vec<String>,
    pub last: Option<String>,
}

impl<T: 'static> Filter<T> {
    /// `a AND b`, folding the trivial cases.
    pub fn and(self, other: Filter<T>) -> Filter<T> {
        match (self, other) {
            (Filter::True, f) | (f, Filter::True) => f,
            (Filter::And(mut a), f) => {
                a.push(f);
                Filter::And(a)
            }
            (a, b) => Filter::And(vec![a, b]),
        }
    }

    /// Nesting depth, for the limits both faces enforce.
    pub fn depth(&self) -> usize {
        match self {
            Filter::And(v) | Filter::Or(v) => 1 + v.iter().map(Filter::depth).max().unwrap_or(0),
            Filter::Not(f) | Filter::Element(_, f) => 1 + f.depth(),
            _ => 1,
        }
    }
}

/// An ordering by one attribute; records without a value come last.
#[derive(Debug, Clone)]
pub struct Sort<T: 'static> {
    pub attr: &'static AttrDef<T>,
    pub descending: bool,
}

/// A filtered, sorted, paged request for records.
#[derive(Debug, Clone)]
pub struct Query<T: 'static> {
    pub filter: Filter<T>,
    /// `None` orders by the record's name (userName, displayName).
    pub sort: Option<Sort<T>>,
    /// Records to skip (0-based).
    pub offset: usize,
    /// Most records to return; 0 returns only the total.
    pub limit: usize,
}

impl<T: 'static> Query<T> {
    pub fn new(filter: Filter<T>, offset: usize, limit: usize) -> Query<T> {
        Query {
            filter,
            sort: None,
            offset,
            limit,
        }
    }

    /// The same query, sorted.
    pub fn sorted(mut self, sort: Option<Sort<T>>) -> Query<T> {
        self.sort = sort;
        self
    }
}

/// One page of results and how many records matched in all.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub total: usize,
    pub items: Vec<T>,
}
