//! The SCIM 2.0 face (RFC 7643/7644): translates HTTP requests into calls
//! on the [`Directory`] and its answers into SCIM JSON.

mod auth;
mod discovery;
pub mod error;
pub mod filter;
mod groups;
pub mod patch;
pub mod resources;
mod users;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::directory::{Directory, Meta};
use error::{ScimError, ScimResult, CONTENT_TYPE};

/// What every SCIM handler needs.
#[derive(Clone)]
pub struct ScimState {
    pub directory: Directory,
    /// The largest page a list returns.
    pub max_results: usize,
}

/// The path under which SCIM is served.
pub const BASE_PATH: &str = "/scim/v2";

/// The SCIM routes, to be nested under [`BASE_PATH`].
pub fn router(state: ScimState) -> Router {
    let protected = Router::new()
        .route("/Users", get(users::list).post(users::create))
        .route(
            "/Users/{id}",
            get(users::get)
                .put(users::replace)
                .patch(users::patch)
                .delete(users::delete),
        )
        .route("/Groups", get(groups::list).post(groups::create))
        .route(
            "/Groups/{id}",
            get(groups::get)
                .put(groups::replace)
                .patch(groups::patch)
                .delete(groups::delete),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ));
    let open = Router::new()
        .route(
            "/ServiceProviderConfig",
            get(discovery::service_provider_config),
        )
        .route("/ResourceTypes", get(discovery::resource_types))
        .route("/ResourceTypes/{id}", get(discovery::resource_type))
        .route("/Schemas", get(discovery::schemas))
        .route("/Schemas/{id}", get(discovery::schema));
    Router::new()
        .nest(
            BASE_PATH,
            protected
                .merge(open)
                .fallback(not_found)
                .method_not_allowed_fallback(method_not_allowed),
        )
        .with_state(state)
}

async fn not_found() -> ScimError {
    ScimError::not_found("no such SCIM endpoint")
}

async fn method_not_allowed() -> ScimError {
    ScimError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        None,
        "method not allowed on this endpoint",
    )
}

/// The SCIM base URL as the client addressed it, for `location` and `$ref`.
fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        })
        .unwrap_or("localhost");
    format!("http://{host}{BASE_PATH}")
}

/// A SCIM JSON response, with an ETag when the resource has a version.
fn respond(status: StatusCode, body: Value, meta: Option<&Meta>) -> Response {
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    if let Some(meta) = meta {
        if let Ok(v) = HeaderValue::from_str(&resources::etag(meta)) {
            headers.insert(header::ETAG, v);
        }
    }
    response
}

/// Reads a request body as JSON, with SCIM errors for what is wrong.
fn read_json(body: Result<Bytes, BytesRejection>) -> ScimResult<Value> {
    let bytes = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ScimError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                None,
                "the request body is too large",
            )
        } else {
            ScimError::bad_request("invalidSyntax", rejection.body_text())
        }
    })?;
    serde_json::from_slice(&bytes).map_err(|e| {
        ScimError::bad_request("invalidSyntax", format!("the body is not valid JSON: {e}"))
    })
}

/// A resource id from the path; anything that is not an id is simply unknown.
fn parse_id(id: &str, kind: &str) -> ScimResult<Uuid> {
    Uuid::parse_str(id).map_err(|_| ScimError::not_found(format!("{kind} {id} not found")))
}

/// The version named by an `If-Match` header, if any (`*` means any).
fn if_match(headers: &HeaderMap) -> ScimResult<Option<i64>> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or_default().trim();
    if text == "*" {
        return Ok(None);
    }
    text.trim_start_matches("W/")
        .trim_matches('"')
        .parse()
        .map(Some)
        .map_err(|_| {
            ScimError::new(
                StatusCode::PRECONDITION_FAILED,
                None,
                "If-Match does not name a version of this resource",
            )
        })
}

/// Query parameters of a list request (RFC 7644 §3.4.2).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListParams {
    filter: Option<String>,
    start_index: Option<i64>,
    count: Option<i64>,
    attributes: Option<String>,
    excluded_attributes: Option<String>,
}

/// Projection parameters of a single-resource request.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Projection {
    attributes: Option<String>,
    excluded_attributes: Option<String>,
}

fn params<T: Default>(q: Result<axum::extract::Query<T>, QueryRejection>) -> ScimResult<T> {
    q.map(|axum::extract::Query(p)| p).map_err(|e| {
        ScimError::invalid_value(format!("invalid query parameters: {}", e.body_text()))
    })
}

impl ListParams {
    /// The 0-based offset and page size, clamped to the configured maximum.
    fn window(&self, max: usize) -> (usize, usize) {
        let start = self.start_index.unwrap_or(1).max(1) as usize;
        let count = self.count.map_or(max, |c| c.clamp(0, max as i64) as usize);
        (start - 1, count)
    }
}

impl ListParams {
    /// The filter of a list request over the attributes in `table`.
    fn filter<T>(
        &self,
        table: &'static [crate::directory::attributes::AttrDef<T>],
        core_urn: &str,
    ) -> ScimResult<crate::directory::Filter<T>> {
        match self.filter.as_deref().filter(|f| !f.trim().is_empty()) {
            Some(text) => filter::parse(text, table, core_urn),
            None => Ok(crate::directory::Filter::True),
        }
    }

    /// The ListResponse for one page of rendered resources, projected as asked.
    fn respond(
        &self,
        total: usize,
        offset: usize,
        bodies: impl Iterator<Item = Value>,
        core_urn: &str,
    ) -> Response {
        let items = bodies
            .map(|mut body| {
                resources::project(
                    &mut body,
                    self.attributes.as_deref(),
                    self.excluded_attributes.as_deref(),
                    core_urn,
                );
                body
            })
            .collect();
        respond(StatusCode::OK, list_response(total, offset, items), None)
    }
}

/// A 201 response with the new resource, its ETag and its `Location`.
fn created(body: Value, meta: &Meta) -> Response {
    let location = body
        .pointer("/meta/location")
        .and_then(Value::as_str)
        .map(str::to_string);
    let mut response = respond(StatusCode::CREATED, body, Some(meta));
    if let Some(v) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response
}

/// A ListResponse body.
fn list_response(total: usize, offset: usize, resources: Vec<Value>) -> Value {
    json!({
        "schemas": [resources::LIST_URN],
        "totalResults": total,
        "startIndex": offset + 1,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}
