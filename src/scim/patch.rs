//! PATCH (RFC 7644 §3.5.2) applied to a resource's JSON form: `add`,
//! `replace` and `remove`, with or without a path, dotted sub-attribute
//! paths, URN-qualified paths, and simple value filters such as
//! `emails[type eq "work"].value`. Operation names are case-insensitive.

use serde_json::{Map, Value};

use super::error::{ScimError, ScimResult};
use super::filter::{element_matches, parse_expr, Expr, Literal};
use super::resources::{
    canonical, canonicalize, ACCOUNT_SETTINGS, ACCOUNT_USER_URN, ENTERPRISE_URN, MFA_STATE,
    POSIX_USER_URN,
};
use crate::directory::declared::{CUSTOM_GROUP_URN, CUSTOM_USER_URN};

/// One PATCH operation.
#[derive(Debug, Clone)]
pub struct Operation {
    pub op: OpKind,
    pub path: Option<String>,
    pub value: Option<Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Add,
    Replace,
    Remove,
}

fn invalid_path(detail: impl Into<String>) -> ScimError {
    ScimError::bad_request("invalidPath", detail)
}

/// Reads the operations of a PatchOp request body.
pub fn parse(body: Value) -> ScimResult<Vec<Operation>> {
    let ops = match body {
        Value::Object(mut map) => {
            let key = map
                .keys()
                .find(|k| k.eq_ignore_ascii_case("Operations"))
                .cloned();
            key.and_then(|k| map.remove(&k))
        }
        _ => None,
    };
    let Some(Value::Array(ops)) = ops else {
        return Err(ScimError::bad_request(
            "invalidSyntax",
            "a PatchOp needs an \"Operations\" array",
        ));
    };
    if ops.is_empty() {
        return Err(ScimError::bad_request(
            "invalidSyntax",
            "\"Operations\" is empty",
        ));
    }
    ops.into_iter()
        .map(|op| {
            let Value::Object(mut op) = op else {
                return Err(ScimError::bad_request(
                    "invalidSyntax",
                    "each operation must be an object",
                ));
            };
            let mut field = |name: &str| {
                let key = op.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned();
                key.and_then(|k| op.remove(&k))
            };
            let kind = match field("op")
                .as_ref()
                .and_then(Value::as_str)
                .map(str::to_ascii_lowercase)
                .as_deref()
            {
                Some("add") => OpKind::Add,
                Some("replace") => OpKind::Replace,
                Some("remove") => OpKind::Remove,
                _ => {
                    return Err(ScimError::bad_request(
                        "invalidSyntax",
                        "op must be add, replace or remove",
                    ))
                }
            };
            let path = match field("path") {
                None | Some(Value::Null) => None,
                Some(Value::String(p)) if p.trim().is_empty() => None,
                Some(Value::String(p)) => Some(p),
                Some(_) => return Err(invalid_path("path must be a string")),
            };
            let mut value = field("value");
            if let Some(v) = value.as_mut() {
                canonicalize(v);
            }
            if kind != OpKind::Remove && value.is_none() {
                return Err(ScimError::bad_request(
                    "invalidSyntax",
                    "add and replace need a value",
                ));
            }
            if kind == OpKind::Remove && path.is_none() {
                return Err(ScimError::bad_request("noTarget", "remove needs a path"));
            }
            Ok(Operation {
                op: kind,
                path,
                value,
            })
        })
        .collect()
}

/// A parsed attribute path: `attr[filterAttr eq "value"].sub`.
#[derive(Debug, PartialEq)]
struct Path {
    /// The extension URN the path is inside, if any.
    extension: Option<&'static str>,
    attr: String,
    /// `attr[filter]`: which elements of a multi-valued attribute.
    filter: Option<Expr>,
    sub: Option<String>,
}

fn canon(name: &str) -> String {
    canonical(name)
        .map(str::to_string)
        .unwrap_or_else(|| name.to_string())
}

/// What follows `urn` (and its `:`) in `path`, if the path starts with it.
pub(super) fn strip_urn<'a>(path: &'a str, urn: &str) -> Option<&'a str> {
    let head = path.get(..urn.len())?;
    if !head.eq_ignore_ascii_case(urn) {
        return None;
    }
    match path[urn.len()..].strip_prefix(':') {
        Some(rest) => Some(rest),
        None if path.len() == urn.len() => Some(""),
        None => None,
    }
}

fn parse_path(text: &str, core_urn: &str) -> ScimResult<Path> {
    let mut rest = text.trim();
    let mut extension = None;
    if let Some(r) = strip_urn(rest, ACCOUNT_USER_URN) {
        // Only the settings are writable; the state is the server's.
        let head = r.split(['.', '[']).next().unwrap_or(r);
        let sub = r.strip_prefix(head).and_then(|s| s.strip_prefix('.'));
        let server_kept = |sub: &str| MFA_STATE.iter().any(|s| sub.eq_ignore_ascii_case(s));
        if (!head.is_empty()
            && !ACCOUNT_SETTINGS
                .iter()
                .any(|w| head.eq_ignore_ascii_case(w)))
            || (head.eq_ignore_ascii_case("mfa") && sub.is_some_and(server_kept))
        {
            return Err(ScimError::bad_request(
                "mutability",
                format!(
                    "{text} is kept by the server (the account's state) and cannot be modified"
                ),
            ));
        }
        extension = Some(ACCOUNT_USER_URN);
        rest = r;
    } else if let Some(r) = strip_urn(rest, ENTERPRISE_URN) {
        extension = Some(ENTERPRISE_URN);
        rest = r;
    } else if let Some(r) = strip_urn(rest, POSIX_USER_URN) {
        extension = Some(POSIX_USER_URN);
        rest = r;
    } else if let Some(r) = strip_urn(rest, CUSTOM_USER_URN) {
        extension = Some(CUSTOM_USER_URN);
        rest = r;
    } else if let Some(r) = strip_urn(rest, CUSTOM_GROUP_URN) {
        extension = Some(CUSTOM_GROUP_URN);
        rest = r;
    } else if let Some(r) = strip_urn(rest, core_urn) {
        rest = r;
    } else if rest.to_ascii_lowercase().starts_with("urn:") {
        return Err(invalid_path(format!("unknown schema in path {text:?}")));
    }
    let (head, filter, tail) = match rest.find('[') {
        Some(open) => {
            let close = rest
                .rfind(']')
                .ok_or_else(|| invalid_path(format!("unclosed '[' in {text:?}")))?;
            if close < open {
                return Err(invalid_path(format!("invalid path {text:?}")));
            }
            let inner = &rest[open + 1..close];
            let filter = parse_expr(inner).map_err(|e| {
                invalid_path(format!("invalid value filter in {text:?}: {}", e.detail))
            })?;
            let tail = rest[close + 1..].trim_start_matches('.');
            (&rest[..open], Some(filter), tail)
        }
        None => match rest.split_once('.') {
            Some((h, t)) => (h, None, t),
            None => (rest, None, ""),
        },
    };
    if head.is_empty() && (extension.is_none() || filter.is_some() || !tail.is_empty()) {
        return Err(invalid_path(format!("invalid path {text:?}")));
    }
    Ok(Path {
        extension,
        attr: canon(head),
        filter,
        sub: (!tail.is_empty()).then(|| canon(tail)),
    })
}

fn matches(item: &Value, filter: &Expr) -> bool {
    element_matches(filter, item)
}

/// The sub-attribute values a value filter pins with `eq` (`type eq
/// "work"`, joined by `and`), with which a new element is seeded when an
/// `add` finds none (as Entra ID expects of `emails[type eq "work"].value`).
fn pinned(filter: &Expr, into: &mut Map<String, Value>) {
    match filter {
        Expr::Compare(path, op, literal) if op == "eq" => {
            let value = match literal {
                Literal::Quoted(s) => Value::String(s.clone()),
                Literal::Bare(w) => match w.to_ascii_lowercase().as_str() {
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    _ => return,
                },
            };
            into.insert(canon(path), value);
        }
        Expr::And(parts) => parts.iter().for_each(|p| pinned(p, into)),
        _ => {}
    }
}

/// Adds `value` to a multi-valued array, skipping values already there.
fn merge_into(array: &mut Vec<Value>, value: Value) {
    let items = match value {
        Value::Array(items) => items,
        other => vec![other],
    };
    for item in items {
        if !array.contains(&item) {
            array.push(item);
        }
    }
}

/// Attributes the server owns: a path naming one is refused with
/// `mutability`; inside a no-path value (Okta sends `id` there) they are
/// ignored.
const READ_ONLY: &[&str] = &["id", "meta", "schemas", "groups"];

/// Applies operations to a resource document in place. When an operation
/// makes a value `primary`, the values that were primary before stop being
/// so (RFC 7643 §2.4: at most one primary value).
pub fn apply(doc: &mut Map<String, Value>, ops: &[Operation], core_urn: &str) -> ScimResult<()> {
    for op in ops {
        let before = doc.clone();
        match (&op.path, op.op) {
            (None, OpKind::Remove) => {
                return Err(ScimError::bad_request("noTarget", "remove needs a path"))
            }
            (None, kind) => {
                let Some(Value::Object(values)) = op.value.clone() else {
                    return Err(ScimError::invalid_value(
                        "an operation without a path needs an object value",
                    ));
                };
                for (key, value) in values {
                    if READ_ONLY.contains(&canon(&key).as_str()) {
                        continue;
                    }
                    // Dotted or URN-qualified keys (as Entra ID sends) are paths.
                    let path = parse_path(&key, core_urn)?;
                    apply_one(doc, kind, &path, Some(value))?;
                }
            }
            (Some(text), kind) => {
                let path = parse_path(text, core_urn)?;
                if path.extension.is_none() && READ_ONLY.contains(&path.attr.as_str()) {
                    return Err(ScimError::bad_request(
                        "mutability",
                        format!("{} is set by the server and cannot be modified", path.attr),
                    ));
                }
                apply_one(doc, kind, &path, op.value.clone())?;
            }
        }
        settle_primary(&before, doc);
    }
    Ok(())
}

/// Where an operation left two or more values of a multi-valued attribute
/// primary, the ones that were primary before give way.
fn settle_primary(before: &Map<String, Value>, doc: &mut Map<String, Value>) {
    let is_primary = |v: &Value| v.get("primary") == Some(&Value::Bool(true));
    for (attr, value) in doc.iter_mut() {
        let Value::Array(items) = value else { continue };
        if items.iter().filter(|v| is_primary(v)).count() < 2 {
            continue;
        }
        let old: Vec<&Value> = match before.get(attr) {
            Some(Value::Array(old)) => old.iter().filter(|v| is_primary(v)).collect(),
            _ => continue,
        };
        for item in items.iter_mut() {
            if is_primary(item) && old.contains(&&*item) {
                if let Value::Object(m) = item {
                    m.insert("primary".into(), Value::Bool(false));
                }
            }
        }
    }
}

fn apply_one(
    doc: &mut Map<String, Value>,
    kind: OpKind,
    path: &Path,
    value: Option<Value>,
) -> ScimResult<()> {
    let target: &mut Map<String, Value> = match path.extension {
        Some(urn) => {
            let entry = doc
                .entry(urn.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            entry.as_object_mut().expect("object")
        }
        None => doc,
    };
    if path.attr.is_empty() {
        // The whole extension object.
        match (kind, value) {
            (OpKind::Remove, _) => target.clear(),
            (_, Some(Value::Object(v))) => target.extend(v),
            _ => {
                return Err(ScimError::invalid_value(
                    "an extension's value must be an object",
                ))
            }
        }
        return Ok(());
    }
    let attr = path.attr.clone();
    if let Some(filter) = &path.filter {
        let array = target
            .entry(attr.clone())
            .or_insert_with(|| Value::Array(Vec::new()));
        let Value::Array(items) = array else {
            return Err(invalid_path(format!("{attr} is not multi-valued")));
        };
        let hits = items.iter().filter(|i| matches(i, filter)).count();
        match (kind, &path.sub) {
            (OpKind::Remove, None) => items.retain(|i| !matches(i, filter)),
            (OpKind::Remove, Some(sub)) => {
                for i in items.iter_mut().filter(|i| matches(i, filter)) {
                    if let Value::Object(m) = i {
                        m.remove(sub);
                    }
                }
            }
            (_, sub) => {
                let value = value.unwrap_or(Value::Null);
                if hits == 0 {
                    if kind == OpKind::Replace && sub.is_none() {
                        return Err(ScimError::bad_request(
                            "noTarget",
                            format!("no {attr} value matches the filter"),
                        ));
                    }
                    // Entra ID adds to emails[type eq "work"].value when no work email exists yet.
                    let mut item = Map::new();
                    pinned(filter, &mut item);
                    match sub {
                        Some(s) => {
                            item.insert(s.clone(), value);
                        }
                        None => {
                            if let Value::Object(v) = value {
                                item.extend(v);
                            }
                        }
                    }
                    items.push(Value::Object(item));
                } else {
                    for i in items.iter_mut().filter(|i| matches(i, filter)) {
                        if let Value::Object(m) = i {
                            match (sub, &value) {
                                (Some(s), v) => {
                                    m.insert(s.clone(), v.clone());
                                }
                                (None, Value::Object(v)) => m.extend(v.clone()),
                                (None, _) => {
                                    return Err(ScimError::invalid_value(
                                        "the value must be an object",
                                    ))
                                }
                            }
                        }
                    }
                }
            }
        }
        return Ok(());
    }
    match (kind, &path.sub) {
        (OpKind::Remove, None) => {
            match (target.get_mut(&attr), value) {
                // Remove the listed values of a multi-valued attribute.
                (Some(Value::Array(items)), Some(v)) => {
                    let gone = match v {
                        Value::Array(a) => a,
                        other => vec![other],
                    };
                    items.retain(|i| {
                        !gone.iter().any(|g| {
                            g == i || (g.get("value").is_some() && g.get("value") == i.get("value"))
                        })
                    });
                }
                _ => {
                    target.remove(&attr);
                }
            }
        }
        (OpKind::Remove, Some(sub)) => {
            if let Some(Value::Object(m)) = target.get_mut(&attr) {
                m.remove(sub);
            }
        }
        (kind, None) => {
            let value = value.unwrap_or(Value::Null);
            match (kind, target.get_mut(&attr)) {
                (OpKind::Add, Some(Value::Array(items))) => merge_into(items, value),
                (OpKind::Add, Some(Value::Object(m))) if value.is_object() => {
                    if let Value::Object(v) = value {
                        m.extend(v);
                    }
                }
                _ => {
                    target.insert(attr, value);
                }
            }
        }
        (_, Some(sub)) => {
            let entry = target
                .entry(attr.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                return Err(invalid_path(format!("{attr} has no sub-attributes")));
            }
            entry
                .as_object_mut()
                .expect("object")
                .insert(sub.clone(), value.unwrap_or(Value::Null));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

    fn run(doc: Value, body: Value) -> Value {
        let mut doc = doc.as_object().unwrap().clone();
        apply(&mut doc, &parse(body).unwrap(), URN).unwrap();
        Value::Object(doc)
    }

    #[test]
    fn applies_the_common_shapes() {
        let doc =
            json!({"userName": "a", "active": true, "emails": [{"value": "a@x", "type": "work"}]});
        let out = run(
            doc.clone(),
            json!({"Operations": [{"op": "Replace", "path": "active", "value": false}]}),
        );
        assert_eq!(out["active"], false);
        let out = run(
            doc.clone(),
            json!({"Operations": [{"op": "replace", "value": {"name.givenName": "Al", "active": false}}]}),
        );
        assert_eq!(out["name"]["givenName"], "Al");
        let out = run(
            doc.clone(),
            json!({"Operations": [{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "b@x"}]}),
        );
        assert_eq!(out["emails"][0]["value"], "b@x");
        let out = run(
            doc.clone(),
            json!({"Operations": [{"op": "add", "path": "emails[type eq \"home\"].value", "value": "h@x"}]}),
        );
        assert_eq!(out["emails"].as_array().unwrap().len(), 2);
        let out = run(
            doc.clone(),
            json!({"Operations": [{"op": "add", "path": "emails", "value": [{"value": "a@x", "type": "work"}]}]}),
        );
        assert_eq!(out["emails"].as_array().unwrap().len(), 1);
        let out = run(
            doc.clone(),
            json!({"Operations": [{"op": "remove", "path": "emails"}]}),
        );
        assert!(out.get("emails").is_none());
        let out = run(
            doc,
            json!({"Operations": [{"op": "add", "path": format!("{ENTERPRISE_URN}:department"), "value": "R&D"}]}),
        );
        assert_eq!(out[ENTERPRISE_URN]["department"], "R&D");
    }

    #[test]
    fn value_filters_use_the_whole_grammar() {
        let doc = json!({"userName": "a", "emails": [
            {"value": "a@work.example", "type": "work"},
            {"value": "a@home.example", "type": "home"},
            {"value": "b@work.example", "type": "other"}]});
        let out = run(
            doc.clone(),
            json!({"Operations": [{"op": "remove", "path": "emails[type eq \"work\" or value ew \"@work.example\"]"}]}),
        );
        assert_eq!(
            out["emails"],
            json!([{"value": "a@home.example", "type": "home"}])
        );
        let out = run(
            doc.clone(),
            json!({"Operations": [{"op": "replace", "path": "emails[not (type eq \"home\") and value sw \"b\"].display", "value": "B"}]}),
        );
        assert_eq!(out["emails"][2]["display"], "B");
        assert!(out["emails"][0].get("display").is_none());
        let mut d = doc.as_object().unwrap().clone();
        let ops = parse(json!({"Operations": [{"op": "replace", "path": "emails[type eq \"fax\"]", "value": {"value": "x"}}]})).unwrap();
        assert_eq!(
            apply(&mut d, &ops, URN).unwrap_err().scim_type,
            Some("noTarget")
        );
        let bad = parse(json!({"Operations": [{"op": "remove", "path": "emails[type zz \"w\"]"}]}))
            .unwrap();
        assert_eq!(
            apply(&mut d, &bad, URN).unwrap_err().scim_type,
            Some("invalidPath")
        );
    }

    #[test]
    fn a_new_primary_value_takes_over() {
        let doc = json!({"userName": "a", "emails": [{"value": "a@x", "primary": true}]});
        let out = run(
            doc,
            json!({"Operations": [{"op": "add", "path": "emails", "value": [{"value": "b@x", "primary": true}]}]}),
        );
        assert_eq!(
            out["emails"],
            json!([{"value": "a@x", "primary": false}, {"value": "b@x", "primary": true}])
        );
    }

    #[test]
    fn server_owned_attributes_are_not_patched() {
        let mut doc = json!({"userName": "a"}).as_object().unwrap().clone();
        for path in ["id", "meta.created", "groups"] {
            let ops = parse(json!({"Operations": [{"op": "replace", "path": path, "value": "x"}]}))
                .unwrap();
            assert_eq!(
                apply(&mut doc, &ops, URN).unwrap_err().scim_type,
                Some("mutability"),
                "{path}"
            );
        }
        // Okta's rename carries the id in a no-path replace: ignored.
        let ops = parse(
            json!({"Operations": [{"op": "replace", "value": {"id": "1", "userName": "b"}}]}),
        )
        .unwrap();
        apply(&mut doc, &ops, URN).unwrap();
        assert_eq!(Value::Object(doc), json!({"userName": "b"}));
    }

    #[test]
    fn refuses_bad_operations() {
        assert!(parse(json!({"Operations": []})).is_err());
        assert!(parse(json!({"Operations": [{"op": "move", "path": "a"}]})).is_err());
        assert_eq!(
            parse(json!({"Operations": [{"op": "remove"}]}))
                .unwrap_err()
                .scim_type,
            Some("noTarget")
        );
        assert!(parse_path("urn:nope:x", URN).is_err());
    }
}
