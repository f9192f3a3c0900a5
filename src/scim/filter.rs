//! The SCIM filter language (RFC 7644 §3.4.2.2), parsed into the core's
//! query tree. Attribute names and operators are case-insensitive; nesting
//! depth and length are bounded so hostile input gets `invalidFilter`, not
//! a stack overflow.

use crate::directory::attributes::{by_scim, AttrDef, Syntax};
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

struct Parser<'a, T: 'static> {
    tokens: Vec<Token>,
    pos: usize,
    table: &'static [AttrDef<T>],
    core_urn: &'a str,
    /// Inside `attr[…]`: the multi-valued attribute whose sub-attributes
    /// the names refer to.
    element: Option<&'static str>,
}

/// Parses `input` into a filter over the attributes in `table`; `core_urn`
/// is the resource's core schema, which may prefix attribute paths.
pub fn parse<T>(
    input: &str,
    table: &'static [AttrDef<T>],
    core_urn: &str,
) -> Result<Filter<T>, ScimError> {
    if input.len() > MAX_FILTER_BYTES {
        return Err(invalid(format!(
            "filter longer than {MAX_FILTER_BYTES} bytes"
        )));
    }
    let mut parser = Parser {
        tokens: tokenize(input)?,
        pos: 0,
        table,
        core_urn,
        element: None,
    };
    if parser.tokens.is_empty() {
        return Err(invalid("empty filter"));
    }
    let filter = parser.or(0)?;
    if parser.pos != parser.tokens.len() {
        return Err(invalid("unexpected text after the end of the filter"));
    }
    Ok(filter)
}

impl<T> Parser<'_, T> {
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

    fn or(&mut self, depth: usize) -> Result<Filter<T>, ScimError> {
        let mut parts = vec![self.and(depth)?];
        while self.peek_word("or") {
            self.pos += 1;
            parts.push(self.and(depth)?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Filter::Or(parts)
        })
    }

    fn and(&mut self, depth: usize) -> Result<Filter<T>, ScimError> {
        let mut parts = vec![self.unary(depth)?];
        while self.peek_word("and") {
            self.pos += 1;
            parts.push(self.unary(depth)?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Filter::And(parts)
        })
    }

    fn unary(&mut self, depth: usize) -> Result<Filter<T>, ScimError> {
        if depth >= MAX_FILTER_DEPTH {
            return Err(invalid(format!(
                "filter nested deeper than {MAX_FILTER_DEPTH}"
            )));
        }
        if self.peek_word("not") && self.tokens.get(self.pos + 1) == Some(&Token::Open) {
            self.pos += 1;
            return Ok(Filter::Not(Box::new(self.group(depth + 1)?)));
        }
        if self.peek() == Some(&Token::Open) {
            return self.group(depth + 1);
        }
        self.comparison(depth)
    }

    fn group(&mut self, depth: usize) -> Result<Filter<T>, ScimError> {
        if self.next() != Some(Token::Open) {
            return Err(invalid("expected '('"));
        }
        let inner = self.or(depth)?;
        if self.next() != Some(Token::Close) {
            return Err(invalid("expected ')'"));
        }
        Ok(inner)
    }

    /// `attr[filter]`: the inner filter names sub-attributes of `attr`.
    fn value_filter(&mut self, path: &str, depth: usize) -> Result<Filter<T>, ScimError> {
        if self.element.is_some() {
            return Err(invalid("value filters cannot be nested"));
        }
        let name = match path.rsplit_once(':') {
            Some((schema, name)) if schema.eq_ignore_ascii_case(self.core_urn) => name,
            _ => path,
        };
        let parent = self
            .table
            .iter()
            .filter_map(|d| d.element.as_ref().map(|e| e.parent))
            .find(|p| p.eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                invalid(format!(
                    "{path:?} is not a multi-valued attribute with sub-attributes"
                ))
            })?;
        self.pos += 1; // '['
        self.element = Some(parent);
        let inner = self.or(depth + 1);
        self.element = None;
        let inner = inner?;
        if self.next() != Some(Token::CloseBracket) {
            return Err(invalid(format!("expected ']' to close {path}[")));
        }
        Ok(Filter::Element(parent, Box::new(inner)))
    }

    fn attribute(&self, path: &str) -> Result<&'static AttrDef<T>, ScimError> {
        if let Some(parent) = self.element {
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

    fn comparison(&mut self, depth: usize) -> Result<Filter<T>, ScimError> {
        let path = match self.next() {
            Some(Token::Word(w)) => w,
            _ => return Err(invalid("expected an attribute name")),
        };
        if self.peek() == Some(&Token::OpenBracket) {
            return self.value_filter(&path, depth);
        }
        let def = self.attribute(&path)?;
        let op = match self.next() {
            Some(Token::Word(w)) => w.to_ascii_lowercase(),
            _ => return Err(invalid(format!("expected an operator after {path:?}"))),
        };
        if op == "pr" {
            return Ok(Filter::Present(def));
        }
        let negate = op == "ne";
        let op = match op.as_str() {
            "eq" | "ne" => Op::Eq,
            "co" => Op::Co,
            "sw" => Op::Sw,
            "ew" => Op::Ew,
            "gt" => Op::Gt,
            "ge" => Op::Ge,
            "lt" => Op::Lt,
            "le" => Op::Le,
            other => return Err(invalid(format!("unknown operator {other:?}"))),
        };
        let literal = self
            .next()
            .ok_or_else(|| invalid(format!("expected a value after the operator for {path:?}")))?;
        let value = value_for(def, literal)?;
        let filter = match value {
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

/// The typed assertion value for `def`; `None` for the literal `null`.
fn value_for<T>(def: &AttrDef<T>, literal: Token) -> Result<Option<Value>, ScimError> {
    let (text, quoted) = match literal {
        Token::Text(t) => (t, true),
        Token::Word(w) => (w, false),
        _ => return Err(invalid("expected a value")),
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
