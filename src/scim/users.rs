//! `/Users` handlers.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Extension;
use serde_json::Value;

use super::error::{ScimError, ScimResult};
use super::resources::{user_from_json, user_to_json, USER_URN};
use super::{
    base_url, created, if_match, not_modified, params, parse_id, patch, read_json, resources,
    respond, ListParams, Projection, ScimState,
};
use crate::directory::{Actor, DirectoryError, Filter, Query as DirQuery, User, UserChange};
use uuid::Uuid;

/// How often a PATCH is retried when the user changes underneath it.
const PATCH_ATTEMPTS: usize = 5;

pub async fn create(
    State(state): State<ScimState>,
    Extension(actor): Extension<Actor>,
    headers: HeaderMap,
    query: Result<Query<Projection>, QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> ScimResult<Response> {
    let projection = params(query)?;
    let user = create_user(&state, &actor, read_json(body)?).await?;
    Ok(created(
        rendered(&state, &user, &headers, &projection),
        &user.meta,
    ))
}

/// A user as a response shows it, projected as the request asked.
fn rendered(state: &ScimState, user: &User, headers: &HeaderMap, projection: &Projection) -> Value {
    let mut body = user_to_json(user, &base_url(headers), &state.directory);
    resources::project(
        &mut body,
        projection.attributes.as_deref(),
        projection.excluded_attributes.as_deref(),
    );
    body
}

/// Creates a user from a User resource (POST /Users and Bulk).
pub(super) async fn create_user(state: &ScimState, actor: &Actor, body: Value) -> ScimResult<User> {
    let input = user_from_json(body)?;
    Ok(state
        .directory
        .create_user(
            actor,
            input.attrs,
            input.active.unwrap_or(true),
            input.password,
        )
        .await?)
}

/// Replaces a user from a User resource (PUT and Bulk).
pub(super) async fn replace_user(
    state: &ScimState,
    actor: &Actor,
    id: Uuid,
    body: Value,
    expected: Option<i64>,
) -> ScimResult<User> {
    let input = user_from_json(body)?;
    let change = UserChange {
        keep_posix: !input.posix_asserted,
        attrs: input.attrs,
        active: input.active,
        password: input.password,
        expected_version: expected,
    };
    Ok(state.directory.replace_user(actor, id, change).await?)
}

/// Applies a PatchOp to a user (PATCH and Bulk), retrying when the user
/// changes underneath unless the client named a version.
pub(super) async fn patch_user(
    state: &ScimState,
    actor: &Actor,
    id: Uuid,
    body: Value,
    expected: Option<i64>,
) -> ScimResult<User> {
    let ops = patch::parse(body)?;
    for _ in 0..PATCH_ATTEMPTS {
        let current = state.directory.get_user(id).await?;
        if expected.is_some_and(|v| v != current.meta.version) {
            return Err(DirectoryError::VersionMismatch.into());
        }
        let Value::Object(mut doc) = user_to_json(&current, "", &state.directory) else {
            return Err(DirectoryError::Internal("user did not render as an object".into()).into());
        };
        for computed in ["meta", "groups", "schemas", "id"] {
            doc.remove(computed);
        }
        patch::apply(&mut doc, &ops, USER_URN)?;
        let input = user_from_json(Value::Object(doc))?;
        // The document was complete: what it lacks now was removed.
        let change = UserChange {
            attrs: input.attrs,
            active: input.active,
            password: input.password,
            expected_version: Some(current.meta.version),
            keep_posix: false,
        };
        match state.directory.replace_user(actor, id, change).await {
            Ok(user) => return Ok(user),
            Err(DirectoryError::VersionMismatch) if expected.is_none() => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ScimError::new(
        StatusCode::CONFLICT,
        None,
        "the user kept changing; try again",
    ))
}

pub async fn get(
    State(state): State<ScimState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    query: Result<Query<Projection>, QueryRejection>,
) -> ScimResult<Response> {
    let projection = params(query)?;
    let user = state.directory.get_user(parse_id(&id, "user")?).await?;
    if let Some(response) = not_modified(&headers, &user.meta) {
        return Ok(response);
    }
    Ok(respond(
        StatusCode::OK,
        rendered(&state, &user, &headers, &projection),
        Some(&user.meta),
    ))
}

pub async fn list(
    State(state): State<ScimState>,
    headers: HeaderMap,
    query: Result<Query<ListParams>, QueryRejection>,
) -> ScimResult<Response> {
    let p = ListParams::from_uri(query)?;
    let (total, offset, items) = page(
        &state,
        &headers,
        &p,
        p.filter(state.directory.attributes().users, USER_URN)?,
    )
    .await?;
    Ok(p.respond(total, offset, items.into_iter()))
}

/// `POST /Users/.search`.
pub async fn search(
    State(state): State<ScimState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ScimResult<Response> {
    let p = ListParams::from_body(read_json(body)?)?;
    let (total, offset, items) = page(
        &state,
        &headers,
        &p,
        p.filter(state.directory.attributes().users, USER_URN)?,
    )
    .await?;
    Ok(p.respond(total, offset, items.into_iter()))
}

/// One page of users, rendered: (total, offset, resources).
pub(super) async fn page(
    state: &ScimState,
    headers: &HeaderMap,
    p: &ListParams,
    filter: Filter<User>,
) -> ScimResult<(usize, usize, Vec<Value>)> {
    let (offset, count) = p.window(state.max_results);
    let query =
        DirQuery::new(filter, offset, count).sorted(p.sort(state.directory.attributes().users)?);
    let page = state.directory.find_users(&query).await?;
    let base = base_url(headers);
    Ok((
        page.total,
        offset,
        page.items
            .iter()
            .map(|u| user_to_json(u, &base, &state.directory))
            .collect(),
    ))
}

pub async fn replace(
    State(state): State<ScimState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
    headers: HeaderMap,
    query: Result<Query<Projection>, QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> ScimResult<Response> {
    let projection = params(query)?;
    let id = parse_id(&id, "user")?;
    let user = replace_user(&state, &actor, id, read_json(body)?, if_match(&headers)?).await?;
    Ok(respond(
        StatusCode::OK,
        rendered(&state, &user, &headers, &projection),
        Some(&user.meta),
    ))
}

pub async fn patch(
    State(state): State<ScimState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
    headers: HeaderMap,
    query: Result<Query<Projection>, QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> ScimResult<Response> {
    let projection = params(query)?;
    let id = parse_id(&id, "user")?;
    let user = patch_user(&state, &actor, id, read_json(body)?, if_match(&headers)?).await?;
    Ok(respond(
        StatusCode::OK,
        rendered(&state, &user, &headers, &projection),
        Some(&user.meta),
    ))
}

pub async fn delete(
    State(state): State<ScimState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> ScimResult<StatusCode> {
    state
        .directory
        .delete_user(&actor, parse_id(&id, "user")?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /Users/{id}/photos/{name}`: the binary declared attribute `name`
/// of a user (a profile picture), the URL its `photos` value gives.
pub async fn binary(
    State(state): State<ScimState>,
    Path((id, name)): Path<(String, String)>,
) -> ScimResult<Response> {
    let user = state.directory.get_user(parse_id(&id, "user")?).await?;
    let Some(blob) = state.directory.user_binary(&user, &name).await? else {
        return Err(ScimError::not_found(format!(
            "user {id} has no {name} value"
        )));
    };
    axum::http::Response::builder()
        .status(StatusCode::OK)
        .header(axum::http::header::CONTENT_TYPE, blob.media_type)
        .header(axum::http::header::ETAG, format!("\"{}\"", blob.digest))
        .header(axum::http::header::CACHE_CONTROL, "private, max-age=300")
        .header("X-Content-Type-Options", "nosniff")
        .body(axum::body::Body::from(blob.bytes))
        .map_err(|e| ScimError::from(DirectoryError::Internal(e.to_string())))
}
