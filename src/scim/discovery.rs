//! Discovery endpoints (RFC 7644 §4), served from the JSON in `schemas/`.

use std::sync::OnceLock;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::Value;

use super::error::{ScimError, ScimResult};
use super::{base_url, list_response, respond, ScimState};

fn load(cell: &'static OnceLock<Value>, text: &'static str) -> &'static Value {
    cell.get_or_init(|| serde_json::from_str(text).expect("schemas/ holds valid JSON"))
}

fn service_provider() -> &'static Value {
    static CELL: OnceLock<Value> = OnceLock::new();
    load(
        &CELL,
        include_str!("../../schemas/ServiceProviderConfig.json"),
    )
}

fn all_resource_types() -> &'static Value {
    static CELL: OnceLock<Value> = OnceLock::new();
    load(&CELL, include_str!("../../schemas/ResourceTypes.json"))
}

fn all_schemas() -> &'static Value {
    static CELL: OnceLock<Value> = OnceLock::new();
    load(&CELL, include_str!("../../schemas/Schemas.json"))
}

/// Makes a relative `meta.location` absolute.
fn located(mut doc: Value, base: &str) -> Value {
    if let Some(Value::String(loc)) = doc.pointer_mut("/meta/location") {
        if loc.starts_with('/') {
            *loc = format!("{base}{loc}");
        }
    }
    doc
}

pub async fn service_provider_config(
    State(state): State<ScimState>,
    headers: HeaderMap,
) -> Response {
    let mut doc = located(service_provider().clone(), &base_url(&headers));
    doc["filter"]["maxResults"] = state.max_results.into();
    doc["bulk"] = serde_json::json!({
        "supported": true,
        "maxOperations": state.bulk_max_operations,
        "maxPayloadSize": state.max_payload_bytes,
    });
    respond(StatusCode::OK, doc, None)
}

fn listing(all: &Value, headers: &HeaderMap) -> Response {
    let base = base_url(headers);
    let items: Vec<Value> = all
        .as_array()
        .map(|a| a.iter().map(|d| located(d.clone(), &base)).collect())
        .unwrap_or_default();
    respond(StatusCode::OK, list_response(items.len(), 0, items), None)
}

fn one(all: &Value, id: &str, headers: &HeaderMap, what: &str) -> ScimResult<Response> {
    let doc = all
        .as_array()
        .and_then(|a| {
            a.iter()
                .find(|d| d["id"].as_str().is_some_and(|i| i.eq_ignore_ascii_case(id)))
        })
        .ok_or_else(|| ScimError::not_found(format!("{what} {id} not found")))?;
    Ok(respond(
        StatusCode::OK,
        located(doc.clone(), &base_url(headers)),
        None,
    ))
}

pub async fn resource_types(headers: HeaderMap) -> Response {
    listing(all_resource_types(), &headers)
}

pub async fn resource_type(Path(id): Path<String>, headers: HeaderMap) -> ScimResult<Response> {
    one(all_resource_types(), &id, &headers, "resource type")
}

pub async fn schemas(headers: HeaderMap) -> Response {
    listing(all_schemas(), &headers)
}

pub async fn schema(Path(id): Path<String>, headers: HeaderMap) -> ScimResult<Response> {
    one(all_schemas(), &id, &headers, "schema")
}
