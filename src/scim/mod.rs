//! The SCIM 2.0 face (RFC 7643/7644): translates HTTP requests into calls
//! on the [`Directory`] and its answers into SCIM JSON.

mod auth;
mod bulk;
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
use axum::routing::{any, get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::directory::attributes::{by_scim, AttrDef};
use crate::directory::{Directory, Filter, Meta, Sort};
use error::{ScimError, ScimResult, CONTENT_TYPE};

/// What every SCIM handler needs.
#[derive(Clone)]
pub struct ScimState {
    pub directory: Directory,
    /// The largest page a list returns.
    pub max_results: usize,
    /// Most operations in one Bulk request.
    pub bulk_max_operations: usize,
    /// Largest request body, in bytes (Bulk's maxPayloadSize).
    pub max_payload_bytes: usize,
}

/// The path under which SCIM is served.
pub const BASE_PATH: &str = "/scim/v2";

/// The SCIM routes, to be nested under [`BASE_PATH`].
pub fn router(state: ScimState) -> Router {
    let protected = Router::new()
        .route("/Users", get(users::list).post(users::create))
        .route("/Users/.search", post(users::search))
        .route("/Groups/.search", post(groups::search))
        .route("/.search", post(root_search))
        .route("/Me", any(me))
        .route("/Bulk", post(bulk::bulk))
        .route(
            "/Users/{id}",
            get(users::get)
                .put(users::replace)
                .patch(users::patch)
                .delete(users::delete),
        )
        .route("/Users/{id}/photos/{name}", get(users::binary))
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

/// `POST /.search`: users, then groups, as one paged list. A filter that
/// names an attribute only one resource type has matches only that type.
async fn root_search(
    axum::extract::State(state): axum::extract::State<ScimState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ScimResult<Response> {
    let p = ListParams::from_body(read_json(body)?)?;
    if p.sort_by.is_some() {
        return Err(ScimError::invalid_value(
            "sortBy is not supported across resource types",
        ));
    }
    let attributes = state.directory.attributes();
    let user_filter = p.filter(attributes.users, resources::USER_URN);
    let group_filter = p.filter(attributes.groups, resources::GROUP_URN);
    let (user_filter, group_filter) = match (user_filter, group_filter) {
        (Err(e), Err(_)) => return Err(e),
        (u, g) => (u.unwrap_or(Filter::False), g.unwrap_or(Filter::False)),
    };
    let (users_total, offset, mut items) = users::page(&state, &headers, &p, user_filter).await?;
    // The groups' window continues where the users' ended.
    let (_, count) = p.window(state.max_results);
    let group_params = ListParams {
        start_index: Some(offset.saturating_sub(users_total) as i64 + 1),
        count: Some(count.saturating_sub(items.len()) as i64),
        ..p.clone()
    };
    let (groups_total, _, groups) =
        groups::page(&state, &headers, &group_params, group_filter).await?;
    items.extend(groups);
    Ok(p.respond(users_total + groups_total, offset, items.into_iter()))
}

/// `/Me` (RFC 7644 §3.11): SCIM callers authenticate with tokens, which
/// stand for no user, so there is no "me" to serve.
async fn me() -> ScimError {
    ScimError::new(
        StatusCode::NOT_IMPLEMENTED,
        None,
        "/Me is not available: SCIM clients authenticate with bearer tokens that stand for no user",
    )
}

/// A 304 answer when `If-None-Match` names the resource's current version.
fn not_modified(headers: &HeaderMap, meta: &Meta) -> Option<Response> {
    let current = resources::etag(meta);
    let matches = headers
        .get(header::IF_NONE_MATCH)?
        .to_str()
        .ok()?
        .split(',')
        .any(|tag| {
            tag.trim() == "*"
                || tag.trim().trim_start_matches("W/") == current.trim_start_matches("W/")
        });
    matches.then(|| {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        if let Ok(v) = HeaderValue::from_str(&current) {
            response.headers_mut().insert(header::ETAG, v);
        }
        response
    })
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
    let body = serde_json::from_slice(&bytes).map_err(|e| {
        ScimError::bad_request("invalidSyntax", format!("the body is not valid JSON: {e}"))
    })?;
    check_version(&body)?;
    Ok(body)
}

/// Refuses a message or resource whose `schemas` name another SCIM version
/// (SCIM 1.x's `urn:scim:schemas:…`, or a `…:1.0:…` IETF URN) with 400
/// `invalidVers`; every other URN is left to the handler.
fn check_version(body: &Value) -> ScimResult<()> {
    let Some(schemas) = body.get("schemas").and_then(Value::as_array) else {
        return Ok(());
    };
    for urn in schemas.iter().filter_map(Value::as_str) {
        let lower = urn.to_ascii_lowercase();
        let other_version = lower.starts_with("urn:scim:schemas:")
            || [
                "urn:ietf:params:scim:api:messages:",
                "urn:ietf:params:scim:schemas:core:",
            ]
            .iter()
            .any(|prefix| {
                lower
                    .strip_prefix(prefix)
                    .is_some_and(|rest| !rest.starts_with("2.0:"))
            });
        if other_version {
            return Err(ScimError::bad_request(
                "invalidVers",
                format!("{urn} belongs to another SCIM version; this server speaks SCIM 2.0"),
            ));
        }
    }
    Ok(())
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
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListParams {
    filter: Option<String>,
    start_index: Option<i64>,
    count: Option<i64>,
    attributes: Option<String>,
    excluded_attributes: Option<String>,
    sort_by: Option<String>,
    sort_order: Option<String>,
}

pub const SEARCH_URN: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

impl ListParams {
    /// Reads the query string of a `GET` list. A filter on `password` in a
    /// URI is refused with 403 `sensitive` (RFC 7644 §3.4.2): the secret
    /// would land in access logs.
    fn from_uri(q: Result<axum::extract::Query<ListParams>, QueryRejection>) -> ScimResult<Self> {
        let p = params(q)?;
        if p.filter.as_deref().is_some_and(filter::names_secret) {
            return Err(ScimError::new(
                StatusCode::FORBIDDEN,
                Some("sensitive"),
                "a filter on password must not travel in a URI; use POST .search",
            ));
        }
        Ok(p)
    }

    /// Reads a SearchRequest body (RFC 7644 §3.4.3); names in any case,
    /// attribute lists as arrays or comma-separated strings.
    fn from_body(body: Value) -> ScimResult<ListParams> {
        let Value::Object(map) = body else {
            return Err(ScimError::bad_request(
                "invalidSyntax",
                "a SearchRequest must be a JSON object",
            ));
        };
        let mut p = ListParams::default();
        for (key, value) in map {
            let text = |v: &Value| -> ScimResult<String> {
                match v {
                    Value::String(s) => Ok(s.clone()),
                    Value::Array(items) => Ok(items
                        .iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(",")),
                    _ => Err(ScimError::invalid_value(format!("{key} must be a string"))),
                }
            };
            let number = |v: &Value| {
                v.as_i64()
                    .ok_or_else(|| ScimError::invalid_value(format!("{key} must be an integer")))
            };
            match key.to_ascii_lowercase().as_str() {
                "schemas" => {}
                "filter" => p.filter = Some(text(&value)?),
                "startindex" => p.start_index = Some(number(&value)?),
                "count" => p.count = Some(number(&value)?),
                "attributes" => p.attributes = Some(text(&value)?),
                "excludedattributes" => p.excluded_attributes = Some(text(&value)?),
                "sortby" => p.sort_by = Some(text(&value)?),
                "sortorder" => p.sort_order = Some(text(&value)?),
                _ => {
                    return Err(ScimError::invalid_value(format!(
                        "unknown SearchRequest attribute {key}"
                    )))
                }
            }
        }
        Ok(p)
    }

    /// The requested ordering over the attributes in `table`.
    fn sort<T>(&self, table: &'static [AttrDef<T>]) -> ScimResult<Option<Sort<T>>> {
        let descending = match self
            .sort_order
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("ascending") => false,
            Some("descending") => true,
            Some(other) => {
                return Err(ScimError::invalid_value(format!(
                    "sortOrder must be ascending or descending, not {other:?}"
                )))
            }
        };
        let Some(path) = self.sort_by.as_deref().filter(|s| !s.trim().is_empty()) else {
            return Ok(None);
        };
        let name = path.rsplit_once(':').map_or(path, |(_, n)| n);
        let attr = by_scim(table, path)
            .or_else(|| by_scim(table, name))
            .or_else(|| by_scim(table, &format!("{name}.value")))
            .filter(|d| d.sortable())
            .ok_or_else(|| ScimError::invalid_value(format!("cannot sort by {path:?}")))?;
        Ok(Some(Sort { attr, descending }))
    }
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
    fn filter<T>(&self, table: &'static [AttrDef<T>], core_urn: &str) -> ScimResult<Filter<T>> {
        match self.filter.as_deref().filter(|f| !f.trim().is_empty()) {
            Some(text) => filter::parse(text, table, core_urn),
            None => Ok(Filter::True),
        }
    }

    /// The ListResponse for one page of rendered resources, projected as asked.
    fn respond(
        &self,
        total: usize,
        offset: usize,
        bodies: impl Iterator<Item = Value>,
    ) -> Response {
        let items = bodies
            .map(|mut body| {
                resources::project(
                    &mut body,
                    self.attributes.as_deref(),
                    self.excluded_attributes.as_deref(),
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
