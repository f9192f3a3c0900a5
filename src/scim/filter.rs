//! The SCIM filter language (RFC 7644 §3.4.2.2), parsed into the core's
//! query tree. Attribute names and operators are case-insensitive; nesting
//! depth and length are bounded so hostile input gets `invalidFilter`, not
//! a stack overflow.

use crate::directory::attributes::{by_scim, AttrDef, Syntax};
use crate::directory::query::MAX_FILTER_TERMS;
use crate::directory::{Filter, Op, Timestamp, Value};

use super::error::ScimError;

/// Longest filter accepted, in bytes.
pub const MAX_FILTER_BYTES: usize = 8192;
/// Deepest nesting of parentheses and `not`.
pub const MAX_FILTER_DEPTH: usize = 32;

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    OpenBracket,
    CloseBracket,
    Word(String),
    Text(String),
}

fn invalid(detail: impl Into<String>) -> ScimError {
    ScimError::bad_request("invalidFilter", detail)
}

fn tokenize(input: &str) -> Result<Vec<Token>, ScimError> {
    let bytes = input.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'(' => {
                tokens.push(Token::Open);
                i += 1;
            }
            b')' => {
                tokens.push(Token::Close);
                i += 1;
            }
            b'[' => {
                tokens.push(Token::OpenBracket);
                i += 1;
            }
            b']' => {
                tokens.push(Token::CloseBracket);
                i += 1;
            }
            b'"' => {
                let start = i;
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                if i >= bytes.len() {
                    return Err(invalid("unterminated string in filter"));
                }
                i += 1;
                let text: String = serde_json::from_str(&input[start..i])
                    .map_err(|_| invalid("invalid string literal in filter"))?;
                tokens.push(Token::Text(text));
            }
            _ => {
                let start = i;
                while i < bytes.len()
                    && !matches!(
                        bytes[i],
                        b' ' | b'\t' | b'\n' | b'\r' | b'(' | b')' | b'[' | b']' | b'"'
                    )
                {
                    i += 1;
                }
                tokens.push(Token::Word(input[start..i].to_string()));
            }
        }
    }
    Ok(tokens)
}

/// Whether a filter names a secret attribute (`password`), which a client
/// must never put in a request URI (RFC 7644 §3.4.2, `sensitive`).
pub fn names_secret(input: &str) -> bool {
    tokenize(input).is_ok_and(|tokens| {
        tokens.iter().any(|t| match t {
            Token::Word(w) => {
                let name = w.rsplit([':', '.']).next().unwrap_or(w);
                name.eq_ignore_ascii_case("password")
            }
            _ => false,
        })
    })
}

/// A parsed filter before its names are resolved: the grammar of RFC 7644
/// §3.4.2.2, bounded in depth, length and number of comparisons.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    /// `path pr`
    Present(String),
    /// `path op literal`; `ne` is kept as its own operator here.
    Compare(String, String, Literal),
    /// `path[inner]`: the inner names are sub-attributes of `path`.
    ValuePath(String, Box<Expr>),
}

/// A comparison value as written: a quoted string or a bare word
/// (`true`, `false`, `null`, a number).
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Quoted(String),
    Bare(String),
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    /// Inside `attr[…]` (value filters do not nest).
    in_value_path: bool,
    /// Comparisons read so far (bounded by [`MAX_FILTER_TERMS`]).
    terms: usize,
}

/// Parses filter text into its syntax tree.
pub fn parse_expr(input: &str) -> Result<Expr, ScimError> {
    if input.len() > MAX_FILTER_BYTES {
        return Err(invalid(format!(
            "filter longer than {MAX_FILTER_BYTES} bytes"
        )));
    }
    let mut parser = Parser {
        tokens: tokenize(input)?,
        pos: 0,
        in_value_path: false,
        terms: 0,
    };
    if parser.tokens.is_empty() {
        return Err(invalid("empty filter"));
    }
    let expr = parser.or(0)?;
    if parser.pos != parser.tokens.len() {
        return Err(invalid("unexpected text after the end of the filter"));
    }
    Ok(expr)
}

/// Parses `input` into a filter over the attributes in `table`; `core_urn`
/// is the resource's core schema, which may prefix attribute paths.
pub fn parse<T>(
    input: &str,
    table: &'static [AttrDef<T>],
    core_urn: &str,
) -> Result<Filter<T>, ScimError> {
    let expr = parse_expr(input)?;
    Resolver { table, core_urn }.filter(&expr, None)
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn peek_word(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn or(&mut self, depth: usize) -> Result<Expr, ScimError> {
        let mut parts = vec![self.and(depth)?];
        while self.peek_word("or") {
            self.pos += 1;
            parts.push(self.and(depth)?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::Or(parts)
        })
    }

    fn and(&mut self, depth: usize) -> Result<Expr, ScimError> {
        let mut parts = vec![self.unary(depth)?];
        while self.peek_word("and") {
            self.pos += 1;
            parts.push(self.unary(depth)?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::And(parts)
        })
    }

    fn unary(&mut self, depth: usize) -> Result<Expr, ScimError> {
        if depth >= MAX_FILTER_DEPTH {
            return Err(invalid(format!(
                "filter nested deeper than {MAX_FILTER_DEPTH}"
            )));
        }
        if self.peek_word("not") && self.tokens.get(self.pos + 1) == Some(&Token::Open) {
            self.pos += 1;
            return Ok(Expr::Not(Box::new(self.group(depth + 1)?)));
        }
        if self.peek() == Some(&Token::Open) {
            return self.group(depth + 1);
        }
        self.comparison(depth)
    }

    fn group(&mut self, depth: usize) -> Result<Expr, ScimError> {
        if self.next() != Some(Token::Open) {
            return Err(invalid("expected '('"));
        }
        let inner = self.or(depth)?;
        if self.next() != Some(Token::Close) {
            return Err(invalid("expected ')'"));
        }
        Ok(inner)
    }

    /// `attr[filter]`.
    fn value_path(&mut self, path: String, depth: usize) -> Result<Expr, ScimError> {
        if self.in_value_path {
            return Err(invalid("value filters cannot be nested"));
        }
        self.pos += 1; // '['
        self.in_value_path = true;
        let inner = self.or(depth + 1);
        self.in_value_path = false;
        let inner = inner?;
        if self.next() != Some(Token::CloseBracket) {
            return Err(invalid(format!("expected ']' to close {path}[")));
        }
        Ok(Expr::ValuePath(path, Box::new(inner)))
    }

    fn comparison(&mut self, depth: usize) -> Result<Expr, ScimError> {
        self.terms += 1;
        if self.terms > MAX_FILTER_TERMS {
            return Err(ScimError::bad_request(
                "tooMany",
                format!(
                    "a filter may hold at most {MAX_FILTER_TERMS} comparisons; page or split the query"
                ),
            ));
        }
        let path = match self.next() {
            Some(Token::Word(w)) => w,
            _ => return Err(invalid("expected an attribute name")),
        };
        if self.peek() == Some(&Token::OpenBracket) {
            return self.value_path(path, depth);
        }
        let op = match self.next() {
            Some(Token::Word(w)) => w.to_ascii_lowercase(),
            _ => return Err(invalid(format!("expected an operator after {path:?}"))),
        };
        if op == "pr" {
            return Ok(Expr::Present(path));
        }
        if !OPERATORS.contains(&op.as_str()) {
            return Err(invalid(format!("unknown operator {op:?}")));
        }
        let literal = match self.next() {
            Some(Token::Text(t)) => Literal::Quoted(t),
            Some(Token::Word(w)) => Literal::Bare(w),
            _ => {
                return Err(invalid(format!(
                    "expected a value after the operator for {path:?}"
                )))
            }
        };
        Ok(Expr::Compare(path, op, literal))
    }
}

/// The comparison operators, lower-cased.
const OPERATORS: &[&str] = &["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"];

/// Resolves a syntax tree's names against an attribute table.
struct Resolver<'a, T: 'static> {
    table: &'static [AttrDef<T>],
    core_urn: &'a str,
}

impl<T> Resolver<'_, T> {
    /// `element`: inside `attr[…]`, the multi-valued attribute whose
    /// sub-attributes the names refer to. Recursion is bounded by the
    /// parser's depth limit.
    fn filter(&self, expr: &Expr, element: Option<&'static str>) -> Result<Filter<T>, ScimError> {
        Ok(match expr {
            Expr::And(parts) => Filter::And(
                parts
                    .iter()
                    .map(|p| self.filter(p, element))
                    .collect::<Result<_, _>>()?,
            ),
            Expr::Or(parts) => Filter::Or(
                parts
                    .iter()
                    .map(|p| self.filter(p, element))
                    .collect::<Result<_, _>>()?,
            ),
            Expr::Not(inner) => Filter::Not(Box::new(self.filter(inner, element)?)),
            Expr::Present(path) => Filter::Present(self.attribute(path, element)?),
            Expr::Compare(path, op, literal) => {
                self.comparison(self.attribute(path, element)?, op, literal)?
            }
            Expr::ValuePath(path, inner) => {
                let parent = self.multi_valued(path)?;
                Filter::Element(parent, Box::new(self.filter(inner, Some(parent))?))
            }
        })
    }

    /// The name of the multi-valued attribute `path` names, whose
    /// sub-attributes are indexed element by element.
    fn multi_valued(&self, path: &str) -> Result<&'static str, ScimError> {
        let name = match path.rsplit_once(':') {
            Some((schema, name)) if schema.eq_ignore_ascii_case(self.core_urn) => name,
            _ => path,
        };
        self.table
            .iter()
            .filter_map(|d| d.element.as_ref().map(|e| e.parent))
            .find(|p| p.eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                invalid(format!(
                    "{path:?} is not a multi-valued attribute with sub-attributes"
                ))
            })
    }

    fn attribute(
        &self,
        path: &str,
        element: Option<&'static str>,
    ) -> Result<&'static AttrDef<T>, ScimError> {
        if let Some(parent) = element {
            let full = format!("{parent}.{path}");
            return by_scim(self.table, &full)
                .filter(|d| d.element.as_ref().is_some_and(|e| e.parent == parent))
                .ok_or_else(|| {
                    invalid(format!(
                        "{path:?} is not a filterable sub-attribute of {parent}"
                    ))
                });
        }
        let mut name = path;
        if path.len() > 4 && path[..4].eq_ignore_ascii_case("urn:") {
            let (schema, attr) = path
                .rsplit_once(':')
                .ok_or_else(|| invalid(format!("invalid attribute path {path:?}")))?;
            // Core attributes may carry their schema; extension attributes must.
            if schema.eq_ignore_ascii_case(self.core_urn) {
                name = attr;
            }
        }
        by_scim(self.table, name)
            .or_else(|| by_scim(self.table, &format!("{name}.value")))
            .ok_or_else(|| invalid(format!("unknown or unfilterable attribute {path:?}")))
    }

    fn comparison(
        &self,
        def: &'static AttrDef<T>,
        op: &str,
        literal: &Literal,
    ) -> Result<Filter<T>, ScimError> {
        let negate = op == "ne";
        let op = match op {
            "eq" | "ne" => Op::Eq,
            "co" => Op::Co,
            "sw" => Op::Sw,
            "ew" => Op::Ew,
            "gt" => Op::Gt,
            "ge" => Op::Ge,
            "lt" => Op::Lt,
            _ => Op::Le,
        };
        let filter = match value_for(def, literal)? {
            // `attr eq null` means the attribute has no value.
            None if op == Op::Eq => Filter::Not(Box::new(Filter::Present(def))),
            None => return Err(invalid("null can only be compared with eq or ne")),
            Some(v) => Filter::Compare(def, op, v),
        };
        Ok(if negate {
            Filter::Not(Box::new(filter))
        } else {
            filter
        })
    }
}

/// Whether one element of a multi-valued attribute (a JSON object such as
/// `{"type": "work", "value": "a@x"}`) satisfies a value filter's inner
/// expression; used by PATCH paths like `emails[type eq "work"]`. Strings
/// compare without regard to case, as the core schema's sub-attributes do;
/// booleans and numbers compare by value.
pub fn element_matches(expr: &Expr, item: &serde_json::Value) -> bool {
    use serde_json::Value as J;
    let field = |path: &str| {
        let name = path.rsplit('.').next().unwrap_or(path);
        item.as_object().and_then(|m| {
            m.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        })
    };
    match expr {
        Expr::And(parts) => parts.iter().all(|p| element_matches(p, item)),
        Expr::Or(parts) => parts.iter().any(|p| element_matches(p, item)),
        Expr::Not(inner) => !element_matches(inner, item),
        Expr::ValuePath(..) => false,
        Expr::Present(path) => field(path).is_some_and(|v| !v.is_null() && v != ""),
        Expr::Compare(path, op, literal) => {
            let actual = field(path);
            let matched = match (actual, literal) {
                (None | Some(J::Null), Literal::Bare(w)) if w == "null" => true,
                (None | Some(J::Null), _) => false,
                (Some(J::Bool(b)), Literal::Bare(w)) => {
                    matches!(op.as_str(), "eq" | "ne") && w.eq_ignore_ascii_case(&b.to_string())
                }
                (Some(J::Number(n)), Literal::Bare(w)) => {
                    let (a, b) = (n.as_f64(), w.parse::<f64>().ok());
                    match (a, b, op.as_str()) {
                        (Some(a), Some(b), "eq" | "ne") => a == b,
                        (Some(a), Some(b), "gt") => a > b,
                        (Some(a), Some(b), "ge") => a >= b,
                        (Some(a), Some(b), "lt") => a < b,
                        (Some(a), Some(b), "le") => a <= b,
                        _ => false,
                    }
                }
                (Some(J::String(a)), Literal::Quoted(b)) => {
                    let (a, b) = (a.to_lowercase(), b.to_lowercase());
                    match op.as_str() {
                        "eq" | "ne" => a == b,
                        "co" => a.contains(&b),
                        "sw" => a.starts_with(&b),
                        "ew" => a.ends_with(&b),
                        "gt" => a > b,
                        "ge" => a >= b,
                        "lt" => a < b,
                        _ => a <= b,
                    }
                }
                _ => false,
            };
            if op == "ne" {
                !matched
            } else {
                matched
            }
        }
    }
}

/// The typed assertion value for `def`; `None` for the literal `null`.
fn value_for<T>(def: &AttrDef<T>, literal: &Literal) -> Result<Option<Value>, ScimError> {
    let (text, quoted) = match literal {
        Literal::Quoted(t) => (t.clone(), true),
        Literal::Bare(w) => (w.clone(), false),
    };
    if !quoted && text == "null" {
        return Ok(None);
    }
    let value = match def.syntax {
        Syntax::Boolean => match text.to_ascii_lowercase().as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => return Err(invalid(format!("{} takes true or false", def.key))),
        },
        Syntax::Time => Value::Time(Timestamp::parse_rfc3339(&text).ok_or_else(|| {
            invalid(format!(
                "{} takes a date-time such as 2026-01-31T12:00:00Z",
                def.key
            ))
        })?),
        _ => {
            if !quoted && !matches!(text.as_str(), "true" | "false") && text.parse::<f64>().is_err()
            {
                return Err(invalid(format!("string values must be quoted: {text}")));
            }
            Value::Str(text)
        }
    };
    Ok(Some(value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::attributes::USER_ATTRS;
    use crate::directory::User;

    const URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

    fn p(s: &str) -> Result<Filter<User>, ScimError> {
        parse(s, USER_ATTRS, URN)
    }

    #[test]
    fn parses_the_grammar() {
        assert!(
            matches!(p(r#"userName eq "bjensen""#).unwrap(), Filter::Compare(d, Op::Eq, _) if d.key == "userName")
        );
        assert!(matches!(
            p(r#"USERNAME EQ "x""#).unwrap(),
            Filter::Compare(..)
        ));
        assert!(matches!(
            p(&format!(r#"{URN}:userName eq "x""#)).unwrap(),
            Filter::Compare(..)
        ));
        assert!(
            matches!(p(r#"emails eq "a@b.c""#).unwrap(), Filter::Compare(d, ..) if d.key == "emails.value")
        );
        assert!(
            matches!(p(r#"title pr and not (userName sw "a" or userName ew "b")"#).unwrap(), Filter::And(v) if v.len() == 2)
        );
        assert!(matches!(p(r#"userName ne "x""#).unwrap(), Filter::Not(_)));
        assert!(matches!(
            p(r#"meta.lastModified gt "2026-01-01T00:00:00Z""#).unwrap(),
            Filter::Compare(_, Op::Gt, Value::Time(_))
        ));
        assert!(matches!(
            p("active eq true").unwrap(),
            Filter::Compare(_, _, Value::Bool(true))
        ));
    }

    #[test]
    fn parses_value_filters() {
        let f = p(r#"emails[type eq "work" and value co "@x"] or userName eq "a""#).unwrap();
        let Filter::Or(parts) = f else { panic!("or") };
        assert!(
            matches!(&parts[0], Filter::Element("emails", inner) if matches!(**inner, Filter::And(_)))
        );
        assert!(matches!(
            p(r#"EMAILS[Primary eq true]"#).unwrap(),
            Filter::Element("emails", _)
        ));
        for bad in [
            r#"emails[shoe eq "x"]"#,
            r#"emails[type eq "w""#,
            r#"userName[type eq "w"]"#,
            r#"emails[ims[type eq "a"]]"#,
            r#"emails[userName eq "a"]"#,
        ] {
            assert_eq!(
                p(bad).unwrap_err().scim_type,
                Some("invalidFilter"),
                "{bad}"
            );
        }
    }

    #[test]
    fn rejects_bad_filters() {
        for bad in [
            "",
            "userName",
            r#"userName eq"#,
            r#"userName zz "x""#,
            r#"nosuch eq "x""#,
            r#"userName eq bare"#,
            r#"(userName eq "x""#,
            r#"userName eq "x" extra"#,
            r#"meta.created gt "yesterday""#,
        ] {
            let e = p(bad).unwrap_err();
            assert_eq!(e.scim_type, Some("invalidFilter"), "{bad}");
        }
    }

    #[test]
    fn finds_secrets_outside_string_literals() {
        assert!(super::names_secret(r#"password eq "x""#));
        assert!(super::names_secret(
            r#"urn:ietf:params:scim:schemas:core:2.0:User:Password pr"#
        ));
        assert!(!super::names_secret(r#"userName eq "password""#));
    }

    #[test]
    fn too_many_comparisons_are_refused() {
        let many = vec![r#"userName eq "x""#; MAX_FILTER_TERMS + 1].join(" or ");
        assert_eq!(p(&many).unwrap_err().scim_type, Some("tooMany"));
        let enough = vec![r#"userName eq "x""#; MAX_FILTER_TERMS].join(" or ");
        assert!(p(&enough).is_ok());
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let deep = format!("{}userName eq \"x\"{}", "(".repeat(5000), ")".repeat(5000));
        assert_eq!(p(&deep).unwrap_err().scim_type, Some("invalidFilter"));
        let nots = format!(
            "{}userName eq \"x\"{}",
            "not (".repeat(1000),
            ")".repeat(1000)
        );
        assert_eq!(p(&nots).unwrap_err().scim_type, Some("invalidFilter"));
    }
}
