//! Compiles the core's query tree into a parameterised SQL condition. The
//! same SQL serves SQLite and PostgreSQL: `$n` placeholders, `EXISTS`
//! subqueries over indexed tables, and NULL for LDAP's "undefined".

use crate::directory::attributes::{AttrDef, Storage, Syntax};
use crate::directory::{Filter, Op, Sort, Substrings, Value};

/// A value bound to a placeholder.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Text(String),
    Int(i64),
    /// A NULL in a text column.
    NullText,
    /// A NULL in an integer column.
    NullInt,
}

/// SQL text with its arguments, numbered `$1…` in order.
#[derive(Debug, Default)]
pub struct Sql {
    pub text: String,
    pub args: Vec<Arg>,
}

impl Sql {
    pub fn new(text: &str) -> Sql {
        Sql {
            text: text.to_string(),
            args: Vec::new(),
        }
    }

    /// Appends SQL text.
    pub fn push(&mut self, text: &str) -> &mut Sql {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder bound to `arg`.
    pub fn bind(&mut self, arg: Arg) -> &mut Sql {
        self.args.push(arg);
        let n = self.args.len();
        self.text.push('$');
        self.text.push_str(&n.to_string());
        self
    }

    /// Appends `$a, $b, …` for a list of texts.
    pub fn bind_list<I: IntoIterator<Item = String>>(&mut self, items: I) -> &mut Sql {
        for (i, item) in items.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.bind(Arg::Text(item));
        }
        self
    }
}

/// How the records of one kind are laid out.
pub struct Layout {
    /// Alias of the record's table in the query.
    pub alias: &'static str,
    /// The index table and its column naming the record, if the kind has one.
    pub index: Option<(&'static str, &'static str)>,
}

pub const USERS: Layout = Layout {
    alias: "u",
    index: Some(("user_index", "user_id")),
};

pub const GROUPS: Layout = Layout {
    alias: "g",
    index: None,
};

const UNDEFINED: &str = "CAST(NULL AS BOOLEAN)";

/// How deep nested groups are followed.
pub const MAX_NESTING: usize = 16;

/// Appends `ORDER BY` for a sort (values missing last, then `tiebreak`),
/// or `None` if the attribute cannot order records.
pub fn order_by<T>(sort: &Sort<T>, layout: &Layout, tiebreak: &str, sql: &mut Sql) -> Option<()> {
    let a = layout.alias;
    let expr = match sort.attr.storage {
        Storage::Column(column) => format!("{a}.{column}"),
        Storage::Status => format!("{a}.status"),
        Storage::Index => {
            let (table, key) = layout.index?;
            sql.args.push(Arg::Text(sort.attr.key.to_string()));
            format!(
                "(SELECT MIN(i.value) FROM {table} i WHERE i.{key} = {a}.id AND i.attr = ${})",
                sql.args.len()
            )
        }
        _ => return None,
    };
    let direction = if sort.descending { "DESC" } else { "ASC" };
    sql.push(&format!(
        " ORDER BY CASE WHEN {expr} IS NULL THEN 1 ELSE 0 END, {expr} {direction}, {tiebreak}"
    ));
    Some(())
}

/// Appends the SQL condition for `filter` to `sql`.
pub fn condition<T>(filter: &Filter<T>, layout: &Layout, sql: &mut Sql) {
    cond(filter, layout, false, sql)
}

/// Alias of the element row inside an `Element` filter.
const ELEMENT: &str = "e";

/// `in_element`: inside an `Element` filter, index lookups are tied to the
/// position of the element row [`ELEMENT`].
fn cond<T>(filter: &Filter<T>, layout: &Layout, in_element: bool, sql: &mut Sql) {
    match filter {
        Filter::True => {
            sql.push("1=1");
        }
        Filter::False => {
            sql.push("1=0");
        }
        Filter::Undefined => {
            sql.push(UNDEFINED);
        }
        Filter::And(parts) | Filter::Or(parts) => {
            let joiner = if matches!(filter, Filter::And(_)) {
                " AND "
            } else {
                " OR "
            };
            if parts.is_empty() {
                sql.push(if matches!(filter, Filter::And(_)) {
                    "1=1"
                } else {
                    "1=0"
                });
                return;
            }
            sql.push("(");
            for (i, part) in parts.iter().enumerate() {
                if i > 0 {
                    sql.push(joiner);
                }
                cond(part, layout, in_element, sql);
            }
            sql.push(")");
        }
        Filter::Not(inner) => {
            sql.push("NOT (");
            cond(inner, layout, in_element, sql);
            sql.push(")");
        }
        Filter::Element(parent, inner) => {
            let Some((table, key)) = layout.index.filter(|_| !in_element) else {
                sql.push(UNDEFINED);
                return;
            };
            // Every element has a value, so its `.value` row stands for it.
            sql.push(&format!(
                "EXISTS (SELECT 1 FROM {table} {ELEMENT} WHERE {ELEMENT}.{key} = {}.id AND {ELEMENT}.attr = ",
                layout.alias
            ))
            .bind(Arg::Text(format!("{parent}.value")))
            .push(&format!(" AND {ELEMENT}.pos IS NOT NULL AND "));
            cond(inner, layout, true, sql);
            sql.push(")");
        }
        Filter::Present(def) => attribute(def, None, layout, in_element, sql),
        Filter::Compare(def, op, value) => match comparison(def, *op, value) {
            Some(cmp) => attribute(def, Some(cmp), layout, in_element, sql),
            None => {
                sql.push(UNDEFINED);
            }
        },
        Filter::Substring(def, parts) => {
            if !def.syntax.textual() {
                sql.push(UNDEFINED);
                return;
            }
            let pattern = like_pattern(def, parts);
            attribute(
                def,
                Some(("LIKE", Arg::Text(pattern))),
                layout,
                in_element,
                sql,
            )
        }
    }
}

/// The LIKE pattern for an LDAP substring assertion.
fn like_pattern<T>(def: &AttrDef<T>, parts: &Substrings) -> String {
    let mut p = String::new();
    p.push_str(&escape_like(
        &def.normalize(parts.initial.as_deref().unwrap_or("")),
    ));
    p.push('%');
    for any in &parts.any {
        p.push_str(&escape_like(&def.normalize(any)));
        p.push('%');
    }
    p.push_str(&escape_like(
        &def.normalize(parts.last.as_deref().unwrap_or("")),
    ));
    p
}

/// The argument and SQL operator for comparing `def` with `value`, or
/// `None` when the value cannot be compared with the attribute.
fn comparison<T>(def: &AttrDef<T>, op: Op, value: &Value) -> Option<(&'static str, Arg)> {
    let arg = match (def.syntax, value) {
        (Syntax::Time, Value::Time(t)) => Arg::Int(t.0),
        (Syntax::Time, _) => return None,
        // Integer columns hold numbers; index rows hold sortable text.
        (Syntax::Integer, Value::Str(s)) if matches!(def.storage, Storage::Column(_)) => {
            Arg::Int(s.trim().parse().ok()?)
        }
        (Syntax::Integer | Syntax::Decimal, Value::Str(s)) => {
            Arg::Text(def.syntax.sortable_number(s)?)
        }
        (Syntax::Integer | Syntax::Decimal, _) => return None,
        (_, Value::Str(s)) => Arg::Text(def.normalize(s)),
        (_, Value::Bool(b)) => Arg::Text(b.to_string()),
        (_, Value::Time(t)) => Arg::Text(t.generalized()),
    };
    let like = |pattern: String| Some(("LIKE", Arg::Text(pattern)));
    match (op, arg) {
        (Op::Eq, a) => Some(("=", a)),
        (Op::Gt, a) => Some((">", a)),
        (Op::Ge, a) => Some((">=", a)),
        (Op::Lt, a) => Some(("<", a)),
        (Op::Le, a) => Some(("<=", a)),
        (Op::Co, Arg::Text(s)) => like(format!("%{}%", escape_like(&s))),
        (Op::Sw, Arg::Text(s)) => like(format!("{}%", escape_like(&s))),
        (Op::Ew, Arg::Text(s)) => like(format!("%{}", escape_like(&s))),
        (_, Arg::Int(_) | Arg::NullText | Arg::NullInt) => None,
    }
}

fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Appends `<column> <op> $n`, with LIKE's escape clause when needed.
fn compare(column: &str, op: &str, arg: Arg, sql: &mut Sql) {
    sql.push(column).push(" ").push(op).push(" ").bind(arg);
    if op == "LIKE" {
        sql.push(" ESCAPE '\\'");
    }
}

/// Appends the condition on `def`: presence when `cmp` is `None`, else
/// the prepared comparison (SQL operator and argument).
fn attribute<T>(
    def: &AttrDef<T>,
    cmp: Option<(&'static str, Arg)>,
    layout: &Layout,
    in_element: bool,
    sql: &mut Sql,
) {
    let a = layout.alias;
    // An EXISTS over a related table, with an optional comparison on `column`.
    let exists = |sql: &mut Sql, from: &str, column: &str, cmp: Option<(&'static str, Arg)>| {
        sql.push("EXISTS (SELECT 1 FROM ").push(from);
        if let Some((op, arg)) = cmp {
            sql.push(" AND ");
            compare(column, op, arg, sql);
        }
        sql.push(")");
    };
    match def.storage {
        Storage::Column(column) => {
            let column = format!("{a}.{column}");
            match cmp {
                None => {
                    sql.push(&column).push(" IS NOT NULL");
                }
                Some((op, arg)) => {
                    sql.push("(").push(&column).push(" IS NOT NULL AND ");
                    compare(&column, op, arg, sql);
                    sql.push(")");
                }
            }
        }
        Storage::Index => {
            let Some((table, key)) = layout.index else {
                sql.push(UNDEFINED);
                return;
            };
            sql.push("EXISTS (SELECT 1 FROM ")
                .push(table)
                .push(" i WHERE i.")
                .push(key)
                .push(&format!(" = {a}.id AND i.attr = "))
                .bind(Arg::Text(def.key.to_string()));
            if in_element {
                sql.push(&format!(" AND i.pos = {ELEMENT}.pos"));
            }
            if let Some((op, arg)) = cmp {
                sql.push(" AND ");
                compare("i.value", op, arg, sql);
            }
            sql.push(")");
        }
        // Not in any table the SQL can reach (see `Storage::Record`), or
        // computed over nested groups by the read model.
        Storage::Record | Storage::Permissions => {
            sql.push(UNDEFINED);
        }
        Storage::Status => match cmp {
            None => {
                sql.push("1=1");
            }
            Some(("=", Arg::Text(v))) => {
                sql.push(&format!("{a}.status "))
                    .push(if v == "true" { "=" } else { "<>" })
                    .push(" 'active'");
            }
            Some(_) => {
                sql.push(UNDEFINED);
            }
        },
        Storage::MemberOfChain => match cmp {
            None => exists(
                sql,
                &format!("group_members m WHERE m.member_id = {a}.id"),
                "",
                None,
            ),
            Some((op, arg)) => {
                // Everyone below the named groups, through nested groups.
                sql.push(&format!(
                    "{a}.id IN (WITH RECURSIVE down(id, depth) AS (SELECT m.member_id, 0 FROM group_members m \
                     JOIN groups g0 ON g0.id = m.group_id WHERE "
                ));
                compare("g0.display_name_lc", op, arg, sql);
                sql.push(&format!(
                    " UNION SELECT m.member_id, d.depth + 1 FROM down d JOIN group_members m ON m.group_id = d.id \
                     WHERE d.depth < {MAX_NESTING}) SELECT id FROM down)"
                ));
            }
        },
        Storage::MemberChain => match cmp {
            None => exists(
                sql,
                &format!("group_members m WHERE m.group_id = {a}.id"),
                "",
                None,
            ),
            Some((op, arg)) => {
                // Every group above the named users, through nested groups.
                sql.push(&format!(
                    "{a}.id IN (WITH RECURSIVE up(id, depth) AS (SELECT m.group_id, 0 FROM group_members m \
                     JOIN users u0 ON u0.id = m.member_id WHERE "
                ));
                compare("u0.user_name_lc", op, arg, sql);
                sql.push(&format!(
                    " UNION SELECT m.group_id, p.depth + 1 FROM up p JOIN group_members m ON m.member_id = p.id \
                     WHERE p.depth < {MAX_NESTING}) SELECT id FROM up)"
                ));
            }
        },
        Storage::MemberOfId => exists(
            sql,
            &format!("group_members m WHERE m.member_id = {a}.id"),
            "m.group_id",
            cmp,
        ),
        Storage::MemberOfName => exists(
            sql,
            &format!(
                "group_members m JOIN groups mg ON mg.id = m.group_id WHERE m.member_id = {a}.id"
            ),
            "mg.display_name_lc",
            cmp,
        ),
        Storage::MemberId => exists(
            sql,
            &format!("group_members m WHERE m.group_id = {a}.id"),
            "m.member_id",
            cmp,
        ),
        Storage::MemberUserName => exists(
            sql,
            &format!(
                "group_members m JOIN users mu ON mu.id = m.member_id WHERE m.group_id = {a}.id"
            ),
            "mu.user_name_lc",
            cmp,
        ),
        Storage::MemberGroupName => exists(
            sql,
            &format!(
                "group_members m JOIN groups mg ON mg.id = m.member_id WHERE m.group_id = {a}.id"
            ),
            "mg.display_name_lc",
            cmp,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::attributes::{by_key, USER_ATTRS};
    use crate::directory::User;

    #[test]
    fn compiles_index_and_column_comparisons() {
        let mail = by_key(USER_ATTRS, "emails.value").unwrap();
        let name = by_key(USER_ATTRS, "userName").unwrap();
        let f: Filter<User> = Filter::And(vec![
            Filter::Compare(mail, Op::Eq, Value::Str("A@X.com".into())),
            Filter::Not(Box::new(Filter::Compare(
                name,
                Op::Sw,
                Value::Str("b_%".into()),
            ))),
        ]);
        let mut sql = Sql::default();
        condition(&f, &USERS, &mut sql);
        assert_eq!(
            sql.text,
            "(EXISTS (SELECT 1 FROM user_index i WHERE i.user_id = u.id AND i.attr = $1 AND i.value = $2) \
             AND NOT ((u.user_name_lc IS NOT NULL AND u.user_name_lc LIKE $3 ESCAPE '\\')))"
        );
        assert_eq!(
            sql.args,
            vec![
                Arg::Text("emails.value".into()),
                Arg::Text("a@x.com".into()),
                Arg::Text("b\\_\\%%".into())
            ]
        );
    }
}
