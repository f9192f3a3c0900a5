//! PATCH (RFC 7644 §3.5.2) applied to a resource's JSON form: `add`,
//! `replace` and `remove`, with or without a path, dotted sub-attribute
//! paths, URN-qualified paths, and simple value filters such as
//! `emails[type eq "work"].value`. Operation names are case-insensitive.

use serde_json::{Map, Value};

use super::error::{ScimError, ScimResult};
use super::resources::{canonical, canonicalize, ENTERPRISE_URN};

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
    filter: Option<(String, String)>,
    sub: Option<String>,
}

fn canon(name: &str) -> String {
    canonical(name)
        .map(str::to_string)
        .unwrap_or_else(|| name.to_string())
}

/// What follows `urn` (and its `:`) in `path`, if the path starts with it.
fn strip_urn<'a>(path: &'a str, urn: &str) -> Option<&'a str> {
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
    if let Some(r) = strip_urn(rest, ENTERPRISE_URN) {
        extension = Some(ENTERPRISE_URN);
        rest = r;
    } else if let Some(r) = strip_urn(rest, core_urn) {
        rest = r;
    } else if rest.to_ascii_lowercase().starts_with("urn:") {
        return Err(invalid_path(format!("unknown schema in path {text:?}")));
    }
    let (head, filter, tail) = match rest.find('[') {
        Some(open) => {
            let close = rest
                .find(']')
                .ok_or_else(|| invalid_path(format!("unclosed '[' in {text:?}")))?;
            if close < open {
                return Err(invalid_path(format!("invalid path {text:?}")));
            }
            let inner = &rest[open + 1..close];
            let parts: Vec<&str> = inner.splitn(3, ' ').collect();
            if parts.len() != 3 || !parts[1].eq_ignore_ascii_case("eq") {
                return Err(invalid_path(format!(
                    "only filters of the form [attr eq \"value\"] are supported: {text:?}"
                )));
            }
            let value: String = serde_json::from_str(parts[2].trim()).map_err(|_| {
                invalid_path(format!("the value in {text:?} must be a quoted string"))
            })?;
            let tail = rest[close + 1..].trim_start_matches('.');
            (&rest[..open], Some((canon(parts[0]), value)), tail)
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

fn matches(item: &Value, filter: &(String, String)) -> bool {
    match item.get(&filter.0) {
        Some(Value::String(s)) => s.eq_ignore_ascii_case(&filter.1),
        Some(Value::Bool(b)) => b.to_string() == filter.1,
        _ => false,
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

/// Applies operations to a resource document in place.
pub fn apply(doc: &mut Map<String, Value>, ops: &[Operation], core_urn: &str) -> ScimResult<()> {
    for op in ops {
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
                    // Dotted or URN-qualified keys (as Entra ID sends) are paths.
                    let path = parse_path(&key, core_urn)?;
                    apply_one(doc, kind, &path, Some(value))?;
                }
            }
            (Some(text), kind) => {
                let path = parse_path(text, core_urn)?;
                apply_one(doc, kind, &path, op.value.clone())?;
            }
        }
    }
    Ok(())
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
                    item.insert(filter.0.clone(), Value::String(filter.1.clone()));
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
