//! The one query language inside Roster. SCIM and LDAP filters are both
//! translated into a [`Filter`]; the store compiles it into indexed SQL.

use super::attributes::{AttrDef, Storage, Syntax};
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

/// A record as the in-memory evaluator sees it: the values of each
/// attribute, normalised as the index keeps them. [`Hydrated`] reads a
/// complete record; a read model may answer membership attributes from its
/// own maps instead of loading every member.
pub trait Subject<T: 'static> {
    /// Whether any value of `def` (only those of element `pos`, for a
    /// sub-attribute inside a value filter) satisfies `test`; `test` gets
    /// the normalised value.
    fn any(
        &self,
        def: &'static AttrDef<T>,
        pos: Option<usize>,
        test: &mut dyn FnMut(&str) -> bool,
    ) -> bool;

    /// The positions of the elements of the multi-valued attribute `parent`.
    fn positions(&self, parent: &str) -> Vec<usize>;

    /// Whether `def` has the normalised `value`, when the record can tell
    /// faster than by walking its values (a group asked whether one user is
    /// among its 10,000 members); `None` to walk them.
    fn has(&self, def: &'static AttrDef<T>, value: &str) -> Option<bool> {
        let _ = (def, value);
        None
    }

    /// The record's status by name (what sorting on `active` orders by),
    /// for records that have one.
    fn status(&self) -> Option<&'static str> {
        None
    }
}

/// A complete record (a user with its groups, a group with its members'
/// names) as a [`Subject`].
pub struct Hydrated<'a, T>(pub &'a T);

impl<T: Record> Subject<T> for Hydrated<'_, T> {
    fn any(
        &self,
        def: &'static AttrDef<T>,
        pos: Option<usize>,
        test: &mut dyn FnMut(&str) -> bool,
    ) -> bool {
        match (pos, &def.element) {
            (Some(p), Some(e)) => (e.values)(self.0)
                .iter()
                .any(|(i, v)| *i == p && test(&def.normalize(v))),
            // Inside a value filter only the element's own sub-attributes
            // are tied to its position; an indexed attribute outside the
            // element has no position and never matches there.
            (Some(_), None) if def.storage == Storage::Index => false,
            _ => def
                .values_of(self.0)
                .iter()
                .any(|v| test(&def.normalize(v))),
        }
    }

    fn positions(&self, parent: &str) -> Vec<usize> {
        let key = format!("{parent}.value");
        let Some(def) = T::table().iter().find(|d| d.key == key) else {
            return Vec::new();
        };
        let mut out: Vec<usize> = def
            .element
            .as_ref()
            .map(|e| (e.values)(self.0).into_iter().map(|(i, _)| i).collect())
            .unwrap_or_default();
        out.dedup();
        out
    }
}

/// A kind of record with its attribute table.
pub trait Record: Sized + 'static {
    /// The built-in attributes (those with sub-attributes among them).
    fn table() -> &'static [AttrDef<Self>];
    /// The record's schema extensions by URN (declared values among them).
    fn extensions(&self) -> &serde_json::Map<String, serde_json::Value>;
}

impl Record for super::model::User {
    fn table() -> &'static [AttrDef<Self>] {
        super::attributes::USER_ATTRS
    }

    fn extensions(&self) -> &serde_json::Map<String, serde_json::Value> {
        &self.attrs.extensions
    }
}

impl Record for super::model::Group {
    fn table() -> &'static [AttrDef<Self>] {
        super::attributes::GROUP_ATTRS
    }

    fn extensions(&self) -> &serde_json::Map<String, serde_json::Value> {
        &self.attrs.extensions
    }
}

impl<T: 'static> Filter<T> {
    /// Evaluates the filter against one record, three-valued like the SQL
    /// the store compiles it into: `None` is LDAP's "undefined", which
    /// neither matches nor stops matching under `Not`.
    pub fn eval(&self, record: &dyn Subject<T>) -> Option<bool> {
        self.eval_at(record, None)
    }

    fn eval_at(&self, record: &dyn Subject<T>, pos: Option<usize>) -> Option<bool> {
        match self {
            Filter::True => Some(true),
            Filter::False => Some(false),
            Filter::Undefined => None,
            Filter::And(parts) => {
                let mut out = Some(true);
                for p in parts {
                    match p.eval_at(record, pos) {
                        Some(false) => return Some(false),
                        None => out = None,
                        Some(true) => {}
                    }
                }
                out
            }
            Filter::Or(parts) => {
                let mut out = Some(false);
                for p in parts {
                    match p.eval_at(record, pos) {
                        Some(true) => return Some(true),
                        None => out = None,
                        Some(false) => {}
                    }
                }
                out
            }
            Filter::Not(inner) => inner.eval_at(record, pos).map(|b| !b),
            Filter::Element(parent, inner) => {
                if pos.is_some() {
                    return None;
                }
                let mut out = Some(false);
                for p in record.positions(parent) {
                    match inner.eval_at(record, Some(p)) {
                        Some(true) => return Some(true),
                        None => out = None,
                        Some(false) => {}
                    }
                }
                out
            }
            Filter::Present(def) => {
                if def.storage == Storage::Status {
                    return Some(true);
                }
                Some(record.any(def, pos, &mut |_| true))
            }
            Filter::Compare(def, op, value) => compare(record, def, *op, value, pos),
            Filter::Substring(def, parts) => {
                if !def.syntax.textual() {
                    return None;
                }
                let initial = parts.initial.as_deref().map(|s| def.normalize(s));
                let any: Vec<String> = parts.any.iter().map(|s| def.normalize(s)).collect();
                let last = parts.last.as_deref().map(|s| def.normalize(s));
                Some(record.any(def, pos, &mut |v| {
                    substring_matches(v, initial.as_deref(), &any, last.as_deref())
                }))
            }
        }
    }
}

/// Whether `v` matches `initial*any*…*last` (all already normalised).
pub fn substring_matches(
    v: &str,
    initial: Option<&str>,
    any: &[String],
    last: Option<&str>,
) -> bool {
    let mut rest = v;
    if let Some(i) = initial {
        match rest.strip_prefix(i) {
            Some(r) => rest = r,
            None => return false,
        }
    }
    for part in any {
        match rest.find(part.as_str()) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    last.is_none_or(|l| rest.ends_with(l))
}

/// `def op value` on a record, as the SQL comparison does it: strings by
/// their normalised bytes, times as instants, booleans as `true`/`false`.
fn compare<T: 'static>(
    record: &dyn Subject<T>,
    def: &'static AttrDef<T>,
    op: Op,
    value: &Value,
    pos: Option<usize>,
) -> Option<bool> {
    use std::cmp::Ordering;
    if def.storage == Storage::Status {
        return match (op, value) {
            (Op::Eq, Value::Bool(b)) => Some(record.any(def, pos, &mut |v| (v == "true") == *b)),
            (Op::Eq, Value::Str(s)) => {
                let b = s.eq_ignore_ascii_case("true");
                Some(record.any(def, pos, &mut |v| (v == "true") == b))
            }
            _ => None,
        };
    }
    let ordered = |ord: Ordering| match op {
        Op::Eq => ord == Ordering::Equal,
        Op::Gt => ord == Ordering::Greater,
        Op::Ge => ord != Ordering::Less,
        Op::Lt => ord == Ordering::Less,
        Op::Le => ord != Ordering::Greater,
        _ => false,
    };
    match (def.syntax, value) {
        (Syntax::Time, Value::Time(t)) => {
            if matches!(op, Op::Co | Op::Sw | Op::Ew) {
                return None;
            }
            Some(record.any(def, pos, &mut |v| {
                Timestamp::parse_generalized(v).is_some_and(|x| ordered(x.cmp(t)))
            }))
        }
        (Syntax::Time, _) => None,
        (Syntax::Integer | Syntax::Decimal, Value::Str(s)) => {
            let arg = def.syntax.sortable_number(s)?;
            if matches!(op, Op::Co | Op::Sw | Op::Ew) {
                return None;
            }
            Some(record.any(def, pos, &mut |v| ordered(v.cmp(arg.as_str()))))
        }
        (Syntax::Integer | Syntax::Decimal, _) => None,
        (_, value) => {
            let arg = match value {
                Value::Str(s) => def.normalize(s),
                Value::Bool(b) => b.to_string(),
                Value::Time(t) => t.generalized(),
            };
            if op == Op::Eq && pos.is_none() {
                if let Some(answer) = record.has(def, &arg) {
                    return Some(answer);
                }
            }
            Some(record.any(def, pos, &mut |v| match op {
                Op::Co => v.contains(arg.as_str()),
                Op::Sw => v.starts_with(arg.as_str()),
                Op::Ew => v.ends_with(arg.as_str()),
                _ => ordered(v.cmp(arg.as_str())),
            }))
        }
    }
}
