//! `POST /Bulk` (RFC 7644 §3.7): many operations in one request, with
//! `bulkId` references between them (forward references too), an optional
//! `failOnErrors`, and limits on operations and payload size. Every
//! operation runs through the same code as its single-request form.

use std::collections::{HashMap, HashSet};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Extension;
use serde_json::{json, Map, Value};

use super::error::{ScimError, ScimResult};
use super::resources::etag;
use super::{base_url, groups, parse_id, read_json, respond, users, ScimState};
use crate::directory::Actor;

pub const BULK_RESPONSE_URN: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";

/// One operation of a BulkRequest.
struct BulkOp {
    method: String,
    bulk_id: Option<String>,
    version: Option<i64>,
    path: String,
    data: Option<Value>,
}

fn field(op: &Map<String, Value>, name: &str) -> Option<Value> {
    op.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.clone())
}

fn parse(body: Value, max_operations: usize) -> ScimResult<(Option<usize>, Vec<BulkOp>)> {
    let Value::Object(body) = body else {
        return Err(ScimError::bad_request(
            "invalidSyntax",
            "a BulkRequest must be a JSON object",
        ));
    };
    let fail_on_errors =
        match field(&body, "failOnErrors") {
            None | Some(Value::Null) => None,
            Some(v) => Some(v.as_u64().filter(|n| *n > 0).ok_or_else(|| {
                ScimError::invalid_value("failOnErrors must be a positive integer")
            })? as usize),
        };
    let Some(Value::Array(ops)) = field(&body, "Operations") else {
        return Err(ScimError::bad_request(
            "invalidSyntax",
            "a BulkRequest needs an \"Operations\" array",
        ));
    };
    if ops.len() > max_operations {
        return Err(ScimError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            None,
            format!(
                "the request has {} operations; maxOperations is {max_operations}",
                ops.len()
            ),
        ));
    }
    let ops = ops
        .into_iter()
        .map(|op| {
            let Value::Object(op) = op else {
                return Err(ScimError::bad_request(
                    "invalidSyntax",
                    "each bulk operation must be an object",
                ));
            };
            let text = |name: &str| field(&op, name).and_then(|v| v.as_str().map(str::to_string));
            let method = text("method")
                .map(|m| m.to_ascii_uppercase())
                .filter(|m| matches!(m.as_str(), "POST" | "PUT" | "PATCH" | "DELETE"))
                .ok_or_else(|| {
                    ScimError::bad_request(
                        "invalidSyntax",
                        "method must be POST, PUT, PATCH or DELETE",
                    )
                })?;
            let path = text("path").ok_or_else(|| {
                ScimError::bad_request("invalidSyntax", "each operation needs a path")
            })?;
            let version = match text("version") {
                Some(v) => Some(
                    v.trim_start_matches("W/")
                        .trim_matches('"')
                        .parse()
                        .map_err(|_| ScimError::invalid_value(format!("invalid version {v:?}")))?,
                ),
                None => None,
            };
            Ok(BulkOp {
                method,
                bulk_id: text("bulkId"),
                version,
                path,
                data: field(&op, "data"),
            })
        })
        .collect::<ScimResult<Vec<_>>>()?;
    Ok((fail_on_errors, ops))
}

/// The `bulkId:` references in a string or a JSON value.
fn references(value: &Value, found: &mut HashSet<String>) {
    match value {
        Value::String(s) => {
            if let Some(id) = s.strip_prefix("bulkId:") {
                found.insert(id.to_string());
            }
        }
        Value::Array(items) => items.iter().for_each(|v| references(v, found)),
        Value::Object(map) => map.values().for_each(|v| references(v, found)),
        _ => {}
    }
}

/// Replaces `bulkId:X` references with the ids they stand for.
fn resolve(value: &mut Value, ids: &HashMap<String, String>) {
    match value {
        Value::String(s) => {
            if let Some(id) = s.strip_prefix("bulkId:").and_then(|b| ids.get(b)) {
                *s = id.clone();
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| resolve(v, ids)),
        Value::Object(map) => map.values_mut().for_each(|v| resolve(v, ids)),
        _ => {}
    }
}

/// What one operation produced: status, and the resource id, location and
/// version it touched.
struct Done {
    status: StatusCode,
    id: Option<String>,
    location: Option<String>,
    version: Option<String>,
}

async fn execute(
    state: &ScimState,
    actor: &Actor,
    base: &str,
    op: &BulkOp,
    path: &str,
    data: Option<Value>,
) -> ScimResult<Done> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let data = || {
        let data = data.clone().ok_or_else(|| {
            ScimError::bad_request("invalidSyntax", format!("{} {path} needs data", op.method))
        })?;
        super::check_version(&data)?;
        Ok::<_, ScimError>(data)
    };
    let done = |status, id: String, location: String, version: String| Done {
        status,
        id: Some(id),
        location: Some(location),
        version: Some(version),
    };
    match (op.method.as_str(), segments.as_slice()) {
        ("POST", ["Users"]) => {
            let u = users::create_user(state, actor, data()?).await?;
            Ok(done(
                StatusCode::CREATED,
                u.id.to_string(),
                format!("{base}/Users/{}", u.id),
                etag(&u.meta),
            ))
        }
        ("POST", ["Groups"]) => {
            let g = groups::create_group(state, actor, data()?).await?;
            Ok(done(
                StatusCode::CREATED,
                g.id.to_string(),
                format!("{base}/Groups/{}", g.id),
                etag(&g.meta),
            ))
        }
        (method @ ("PUT" | "PATCH"), ["Users", id]) => {
            let id = parse_id(id, "user")?;
            let u = if method == "PUT" {
                users::replace_user(state, actor, id, data()?, op.version).await?
            } else {
                users::patch_user(state, actor, id, data()?, op.version).await?
            };
            Ok(done(
                StatusCode::OK,
                u.id.to_string(),
                format!("{base}/Users/{}", u.id),
                etag(&u.meta),
            ))
        }
        (method @ ("PUT" | "PATCH"), ["Groups", id]) => {
            let id = parse_id(id, "group")?;
            let g = if method == "PUT" {
                groups::replace_group(state, actor, id, data()?, op.version).await?
            } else {
                groups::patch_group(state, actor, id, data()?, op.version, false).await?
            };
            Ok(done(
                StatusCode::OK,
                g.id.to_string(),
                format!("{base}/Groups/{}", g.id),
                etag(&g.meta),
            ))
        }
        ("DELETE", ["Users", id]) => {
            state
                .directory
                .delete_user(actor, parse_id(id, "user")?)
                .await?;
            Ok(Done {
                status: StatusCode::NO_CONTENT,
                id: None,
                location: Some(format!("{base}{path}")),
                version: None,
            })
        }
        ("DELETE", ["Groups", id]) => {
            state
                .directory
                .delete_group(actor, parse_id(id, "group")?)
                .await?;
            Ok(Done {
                status: StatusCode::NO_CONTENT,
                id: None,
                location: Some(format!("{base}{path}")),
                version: None,
            })
        }
        _ => Err(ScimError::bad_request(
            "invalidPath",
            format!(
                "{} {path} is not a bulk operation Roster supports",
                op.method
            ),
        )),
    }
}

fn error_entry(op: &BulkOp, e: &ScimError) -> Value {
    let mut response = json!({
        "schemas": [super::error::ERROR_SCHEMA],
        "status": e.status.as_u16().to_string(),
        "detail": e.detail,
    });
    if let Some(t) = e.scim_type {
        response["scimType"] = t.into();
    }
    let mut entry =
        json!({"method": op.method, "status": e.status.as_u16().to_string(), "response": response});
    if let Some(b) = &op.bulk_id {
        entry["bulkId"] = b.clone().into();
    }
    entry
}

/// Most creates of one Bulk request in flight at once.
const CONCURRENT_CREATES: usize = 64;

/// An operation's path and data with its `bulkId` references resolved.
type Resolved = (String, Option<Value>);

/// The operation resolved; `None` while an operation it refers to has not
/// run yet.
fn prepare(
    op: &BulkOp,
    defined: &HashSet<String>,
    ids: &HashMap<String, String>,
) -> ScimResult<Option<Resolved>> {
    let mut refs = HashSet::new();
    for segment in op.path.split('/') {
        references(&Value::String(segment.to_string()), &mut refs);
    }
    if let Some(d) = &op.data {
        references(d, &mut refs);
    }
    if let Some(unknown) = refs.iter().find(|r| !defined.contains(*r)) {
        return Err(ScimError::invalid_value(format!(
            "no operation has bulkId {unknown:?}"
        )));
    }
    if refs.iter().any(|r| !ids.contains_key(r)) {
        return Ok(None);
    }
    let path: Vec<String> = op
        .path
        .split('/')
        .map(|segment| {
            let mut v = Value::String(segment.to_string());
            resolve(&mut v, ids);
            v.as_str().unwrap_or_default().to_string()
        })
        .collect();
    let mut data = op.data.clone();
    if let Some(d) = data.as_mut() {
        resolve(d, ids);
    }
    Ok(Some((path.join("/"), data)))
}

/// Records an operation's outcome in its response slot; 1 if it failed.
fn record(
    op: &BulkOp,
    outcome: ScimResult<Done>,
    ids: &mut HashMap<String, String>,
    slot: &mut Option<Value>,
) -> usize {
    match outcome {
        Ok(done) => {
            if let (Some(b), Some(id)) = (&op.bulk_id, &done.id) {
                ids.insert(b.clone(), id.clone());
            }
            let mut entry =
                json!({"method": op.method, "status": done.status.as_u16().to_string()});
            if let Some(b) = &op.bulk_id {
                entry["bulkId"] = b.clone().into();
            }
            if let Some(l) = done.location {
                entry["location"] = l.into();
            }
            if let Some(v) = done.version {
                entry["version"] = v.into();
            }
            *slot = Some(entry);
            0
        }
        Err(e) => {
            *slot = Some(error_entry(op, &e));
            1
        }
    }
}

pub async fn bulk(
    State(state): State<ScimState>,
    Extension(actor): Extension<Actor>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ScimResult<Response> {
    let (fail_on_errors, ops) = parse(read_json(body)?, state.bulk_max_operations)?;
    let base = base_url(&headers);
    let defined: HashSet<String> = ops.iter().filter_map(|o| o.bulk_id.clone()).collect();
    let mut ids: HashMap<String, String> = HashMap::new();
    let mut results: Vec<Option<Value>> = vec![None; ops.len()];
    let mut pending: Vec<usize> = (0..ops.len()).collect();
    let mut errors = 0;
    while !pending.is_empty() {
        // What can run now, in request order: resolved operations, and
        // operations naming a bulkId no operation has (they fail).
        let mut ready: Vec<(usize, ScimResult<Resolved>)> = Vec::new();
        for &i in &pending {
            match prepare(&ops[i], &defined, &ids) {
                Ok(None) => {} // waits for the operation it refers to
                Ok(Some(resolved)) => ready.push((i, Ok(resolved))),
                Err(e) => ready.push((i, Err(e))),
            }
        }
        if ready.is_empty() {
            // What is left refers, directly or not, to itself.
            for i in std::mem::take(&mut pending) {
                let e = ScimError::new(StatusCode::CONFLICT, None, "circular bulkId references");
                results[i] = Some(error_entry(&ops[i], &e));
            }
            break;
        }
        // Consecutive creates run together, so that they share commits;
        // everything else runs alone, in order. With failOnErrors, all alone.
        let mut groups: Vec<Vec<(usize, ScimResult<Resolved>)>> = Vec::new();
        for item in ready {
            let joins = fail_on_errors.is_none()
                && ops[item.0].method == "POST"
                && item.1.is_ok()
                && groups.last().is_some_and(|g| {
                    g.len() < CONCURRENT_CREATES
                        && g.iter().all(|(j, r)| ops[*j].method == "POST" && r.is_ok())
                });
            match groups.last_mut() {
                Some(group) if joins => group.push(item),
                _ => groups.push(vec![item]),
            }
        }
        for group in groups {
            let outcomes = futures::future::join_all(group.iter().map(|(i, resolved)| async {
                match resolved {
                    Ok((path, data)) => {
                        execute(&state, &actor, &base, &ops[*i], path, data.clone()).await
                    }
                    Err(e) => Err(ScimError::new(e.status, e.scim_type, e.detail.clone())),
                }
            }))
            .await;
            for ((i, _), outcome) in group.into_iter().zip(outcomes) {
                pending.retain(|p| *p != i);
                errors += record(&ops[i], outcome, &mut ids, &mut results[i]);
            }
            if fail_on_errors.is_some_and(|n| errors >= n) {
                pending.clear();
                break;
            }
        }
    }
    let operations: Vec<Value> = results.into_iter().flatten().collect();
    Ok(respond(
        StatusCode::OK,
        json!({"schemas": [BULK_RESPONSE_URN], "Operations": operations}),
        None,
    ))
}
