//! Discovery endpoints (RFC 7644 §4), served from the JSON in `schemas/`.

use std::sync::OnceLock;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use crate::directory::declared::{Declaration, Declared, Kind, Resource, Uniqueness};

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

/// The resource types, their extensions including the declared ones.
fn resource_types_with(declared: &Declared) -> Value {
    let mut all = all_resource_types().clone();
    for (resource, id) in [(Resource::User, "User"), (Resource::Group, "Group")] {
        let declarations = declared.of(resource);
        if declarations.is_empty() {
            continue;
        }
        let doc = all
            .as_array_mut()
            .and_then(|a| a.iter_mut().find(|d| d["id"] == id));
        if let Some(Value::Array(ext)) = doc.and_then(|d| d.get_mut("schemaExtensions")) {
            ext.push(json!({
                "schema": resource.urn(),
                "required": declarations.iter().any(|d| d.required),
            }));
        }
    }
    all
}

/// The schemas, with one for each resource type's declared attributes.
fn schemas_with(declared: &Declared) -> Value {
    let mut all = all_schemas().clone();
    for (resource, name) in [(Resource::User, "User"), (Resource::Group, "Group")] {
        let declarations = declared.of(resource);
        if declarations.is_empty() {
            continue;
        }
        let attributes: Vec<Value> = declarations.iter().map(attribute_schema).collect();
        if let Value::Array(a) = &mut all {
            a.push(json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
                "id": resource.urn(),
                "name": format!("Declared{name}"),
                "description": format!("The {name} attributes this server's operator declared (profile.attributes)"),
                "attributes": attributes,
                "meta": {
                    "resourceType": "Schema",
                    "location": format!("/Schemas/{}", resource.urn()),
                },
            }));
        }
    }
    all
}

/// A declared attribute as RFC 7643 §7 describes attributes.
fn attribute_schema(d: &Declaration) -> Value {
    let binary = d.kind == Kind::Binary;
    let mut a = json!({
        "name": d.name,
        "type": d.kind.scim_name(),
        "multiValued": d.multi_valued,
        "description": d.description,
        "required": d.required,
        "caseExact": d.case_exact,
        // A binary value is written here and read by its URL in photos.
        "mutability": if binary { "writeOnly" } else { "readWrite" },
        "returned": if binary { "never" } else { "default" },
        "uniqueness": match d.uniqueness {
            Uniqueness::None => "none",
            Uniqueness::Server => "server",
            Uniqueness::Global => "global",
        },
    });
    if !d.canonical_values.is_empty() {
        a["canonicalValues"] = json!(d.canonical_values);
    }
    if d.kind == Kind::Reference {
        a["referenceTypes"] = json!(d.reference_types);
    }
    a
}

pub async fn resource_types(State(state): State<ScimState>, headers: HeaderMap) -> Response {
    listing(&resource_types_with(state.directory.declared()), &headers)
}

pub async fn resource_type(
    State(state): State<ScimState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ScimResult<Response> {
    one(
        &resource_types_with(state.directory.declared()),
        &id,
        &headers,
        "resource type",
    )
}

pub async fn schemas(State(state): State<ScimState>, headers: HeaderMap) -> Response {
    listing(&schemas_with(state.directory.declared()), &headers)
}

pub async fn schema(
    State(state): State<ScimState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ScimResult<Response> {
    one(
        &schemas_with(state.directory.declared()),
        &id,
        &headers,
        "schema",
    )
}
