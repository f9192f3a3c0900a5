//! `/Groups` handlers. Member changes by PATCH touch only the members named.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Extension;
use serde_json::Value;
use uuid::Uuid;

use super::error::{ScimError, ScimResult};
use super::patch::{OpKind, Operation};
use super::resources::{
    canonical, group_extension, group_from_json, group_to_json, member_refs, posix_group,
    string_list, GROUP_EXTENSION_URN, GROUP_URN, POSIX_GROUP_URN,
};
use super::{
    base_url, created, if_match, not_modified, params, parse_id, patch, read_json, resources,
    respond, ListParams, Projection, ScimState,
};
use crate::directory::{Actor, Filter, Group, GroupAttrs, MemberRef, Query as DirQuery};

/// Whether a projection leaves `members` out, so they need not be loaded.
fn wants_members(attributes: Option<&str>, excluded: Option<&str>) -> bool {
    let mentions = |list: Option<&str>| {
        list.is_some_and(|l| {
            l.split(',')
                .any(|a| a.trim().eq_ignore_ascii_case("members"))
        })
    };
    match attributes.filter(|a| !a.trim().is_empty()) {
        Some(_) => mentions(attributes),
        None => !mentions(excluded),
    }
}

pub async fn create(
    State(state): State<ScimState>,
    Extension(actor): Extension<Actor>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ScimResult<Response> {
    let group = create_group(&state, &actor, read_json(body)?).await?;
    Ok(created(
        group_to_json(
            &group,
            &base_url(&headers),
            true,
            state.directory.declared(),
        ),
        &group.meta,
    ))
}

/// Creates a group from a Group resource (POST /Groups and Bulk).
pub(super) async fn create_group(
    state: &ScimState,
    actor: &Actor,
    body: Value,
) -> ScimResult<Group> {
    let input = group_from_json(body)?;
    let members = input.members.unwrap_or_default();
    Ok(state
        .directory
        .create_group(actor, input.attrs, &members)
        .await?)
}

/// Replaces a group from a Group resource (PUT and Bulk); absent members
/// means no members.
pub(super) async fn replace_group(
    state: &ScimState,
    actor: &Actor,
    id: Uuid,
    body: Value,
    expected: Option<i64>,
) -> ScimResult<Group> {
    let input = group_from_json(body)?;
    let members = input.members.unwrap_or_default();
    Ok(state
        .directory
        .replace_group(
            actor,
            id,
            input.attrs,
            Some(&members),
            expected,
            !input.gid_asserted,
        )
        .await?)
}

pub async fn get(
    State(state): State<ScimState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    query: Result<Query<Projection>, QueryRejection>,
) -> ScimResult<Response> {
    let p = params(query)?;
    let group = state.directory.get_group(parse_id(&id, "group")?).await?;
    if let Some(response) = not_modified(&headers, &group.meta) {
        return Ok(response);
    }
    let mut body = group_to_json(
        &group,
        &base_url(&headers),
        true,
        state.directory.declared(),
    );
    resources::project(
        &mut body,
        p.attributes.as_deref(),
        p.excluded_attributes.as_deref(),
    );
    Ok(respond(StatusCode::OK, body, Some(&group.meta)))
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
        p.filter(state.directory.attributes().groups, GROUP_URN)?,
    )
    .await?;
    Ok(p.respond(total, offset, items.into_iter()))
}

/// `POST /Groups/.search`.
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
        p.filter(state.directory.attributes().groups, GROUP_URN)?,
    )
    .await?;
    Ok(p.respond(total, offset, items.into_iter()))
}

/// One page of groups, rendered: (total, offset, resources).
pub(super) async fn page(
    state: &ScimState,
    headers: &HeaderMap,
    p: &ListParams,
    filter: Filter<Group>,
) -> ScimResult<(usize, usize, Vec<Value>)> {
    let (offset, count) = p.window(state.max_results);
    let with_members = wants_members(p.attributes.as_deref(), p.excluded_attributes.as_deref());
    let query =
        DirQuery::new(filter, offset, count).sorted(p.sort(state.directory.attributes().groups)?);
    let page = state.directory.find_groups(&query, with_members).await?;
    let base = base_url(headers);
    Ok((
        page.total,
        offset,
        page.items
            .iter()
            .map(|g| group_to_json(g, &base, with_members, state.directory.declared()))
            .collect(),
    ))
}

pub async fn replace(
    State(state): State<ScimState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ScimResult<Response> {
    let id = parse_id(&id, "group")?;
    let group = replace_group(&state, &actor, id, read_json(body)?, if_match(&headers)?).await?;
    Ok(respond(
        StatusCode::OK,
        group_to_json(
            &group,
            &base_url(&headers),
            true,
            state.directory.declared(),
        ),
        Some(&group.meta),
    ))
}

/// What a group PATCH amounts to.
#[derive(Default)]
struct GroupChange {
    display_name: Option<String>,
    external_id: Option<Option<String>>,
    gid_number: Option<Option<i64>>,
    /// A new complete member list.
    members: Option<Vec<MemberRef>>,
    add: Vec<MemberRef>,
    remove: Vec<Uuid>,
    /// Changes to the permissions, in order: add these, replace with
    /// these, remove these (`None`: all).
    permissions: Vec<(OpKind, Option<Vec<String>>)>,
}

fn string_value(v: &Value, attr: &str) -> ScimResult<String> {
    v.as_str()
        .map(str::to_string)
        .ok_or_else(|| ScimError::invalid_value(format!("{attr} must be a string")))
}

/// The member id in a path like `members[value eq "…"]`.
fn member_in_path(path: &str) -> ScimResult<Option<Uuid>> {
    let Some(open) = path.find('[') else {
        return Ok(None);
    };
    let inner = path[open + 1..].trim_end_matches(']');
    let parts: Vec<&str> = inner.splitn(3, ' ').collect();
    match parts.as_slice() {
        [attr, op, value]
            if attr.eq_ignore_ascii_case("value") && op.eq_ignore_ascii_case("eq") =>
        {
            let id: String = serde_json::from_str(value.trim()).map_err(|_| {
                ScimError::bad_request("invalidPath", format!("invalid filter in {path:?}"))
            })?;
            Uuid::parse_str(&id)
                .map(Some)
                .map_err(|_| ScimError::bad_request("noTarget", format!("no member has id {id}")))
        }
        _ => Err(ScimError::bad_request(
            "invalidPath",
            format!("unsupported member filter in {path:?}"),
        )),
    }
}

fn plan(ops: &[Operation]) -> ScimResult<GroupChange> {
    let mut change = GroupChange::default();
    for op in ops {
        let entries: Vec<(String, Option<Value>)> = match (&op.path, &op.value) {
            (Some(path), value) => vec![(path.clone(), value.clone())],
            (None, Some(Value::Object(map))) => map
                .iter()
                .map(|(k, v)| (k.clone(), Some(v.clone())))
                .collect(),
            (None, _) => {
                return Err(ScimError::invalid_value(
                    "an operation without a path needs an object value",
                ))
            }
        };
        for (path, value) in entries {
            // The POSIX extension, whole or by attribute.
            if let Some(rest) = patch::strip_urn(&path, POSIX_GROUP_URN) {
                change.gid_number = Some(match (rest, op.op, &value) {
                    (_, OpKind::Remove, _) => None,
                    ("", _, Some(v)) => posix_group(v)?,
                    (a, _, Some(v)) if a.eq_ignore_ascii_case("gidNumber") => {
                        posix_group(&serde_json::json!({ "gidNumber": v }))?
                    }
                    _ => {
                        return Err(ScimError::bad_request(
                            "invalidPath",
                            format!("{path:?} is not a group attribute"),
                        ))
                    }
                });
                continue;
            }
            // Roster's group extension, whole or its permissions.
            if let Some(rest) = patch::strip_urn(&path, GROUP_EXTENSION_URN) {
                let values = match (rest, &value) {
                    (_, None) => None,
                    ("", Some(v)) => Some(group_extension(v)?),
                    (a, Some(v)) if a.eq_ignore_ascii_case("permissions") => {
                        Some(string_list("permissions", v)?)
                    }
                    _ => {
                        return Err(ScimError::bad_request(
                            "invalidPath",
                            format!("{path:?} is not a group attribute"),
                        ))
                    }
                };
                change.permissions.push((op.op, values));
                continue;
            }
            let attr = path.split(['[', '.']).next().unwrap_or_default();
            let attr = attr.rsplit(':').next().unwrap_or(attr);
            match (canonical(attr), op.op) {
                (Some("members"), kind) => {
                    if let Some(id) = member_in_path(&path)? {
                        match kind {
                            OpKind::Remove => change.remove.push(id),
                            _ => {
                                return Err(ScimError::bad_request(
                                    "invalidPath",
                                    "members[...] can only be removed",
                                ))
                            }
                        }
                        continue;
                    }
                    let ids = match &value {
                        Some(v) => member_refs(v)?,
                        None => Vec::new(),
                    };
                    match kind {
                        OpKind::Add => change.add.extend(ids),
                        OpKind::Remove if value.is_some() => {
                            change.remove.extend(ids.iter().map(|r| r.id))
                        }
                        OpKind::Remove | OpKind::Replace => {
                            change.members = Some(ids);
                            change.add.clear();
                            change.remove.clear();
                        }
                    }
                }
                (Some("displayName"), OpKind::Remove) => {
                    return Err(ScimError::bad_request(
                        "mutability",
                        "displayName is required and cannot be removed",
                    ))
                }
                (Some("displayName"), _) => {
                    change.display_name =
                        Some(string_value(&value.unwrap_or_default(), "displayName")?)
                }
                (Some("externalId"), OpKind::Remove) => change.external_id = Some(None),
                (Some("externalId"), _) => {
                    change.external_id = Some(Some(string_value(
                        &value.unwrap_or_default(),
                        "externalId",
                    )?))
                }
                // Okta's rename sends the id along; it cannot change.
                (Some("id"), _) | (Some("schemas"), _) | (Some("meta"), _) => {}
                _ => {
                    return Err(ScimError::bad_request(
                        "invalidPath",
                        format!("{path:?} is not a group attribute"),
                    ))
                }
            }
        }
    }
    Ok(change)
}

pub async fn patch(
    State(state): State<ScimState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
    headers: HeaderMap,
    query: Result<Query<Projection>, QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> ScimResult<Response> {
    let id = parse_id(&id, "group")?;
    let p = params(query)?;
    let with_members = wants_members(p.attributes.as_deref(), p.excluded_attributes.as_deref());
    let group = patch_group(
        &state,
        &actor,
        id,
        read_json(body)?,
        if_match(&headers)?,
        with_members,
    )
    .await?;
    let mut body = group_to_json(
        &group,
        &base_url(&headers),
        with_members,
        state.directory.declared(),
    );
    resources::project(
        &mut body,
        p.attributes.as_deref(),
        p.excluded_attributes.as_deref(),
    );
    Ok(respond(StatusCode::OK, body, Some(&group.meta)))
}

/// Applies a PatchOp to a group (PATCH and Bulk). Changes that only add or
/// remove members touch only those members.
pub(super) async fn patch_group(
    state: &ScimState,
    actor: &Actor,
    id: Uuid,
    body: Value,
    expected: Option<i64>,
    with_members: bool,
) -> ScimResult<Group> {
    let change = plan(&patch::parse(body)?)?;
    let dir = &state.directory;
    let attrs_change = change.display_name.is_some()
        || change.external_id.is_some()
        || change.gid_number.is_some()
        || !change.permissions.is_empty();
    if !attrs_change && change.members.is_none() && expected.is_none() {
        // Only members named: add and remove them, nothing else.
        dir.modify_group_members(actor, id, &change.add, &change.remove)
            .await?;
    } else {
        let current = dir.get_group(id).await?;
        let attrs = GroupAttrs {
            display_name: change
                .display_name
                .unwrap_or(current.attrs.display_name.clone()),
            external_id: change
                .external_id
                .unwrap_or(current.attrs.external_id.clone()),
            extensions: current.attrs.extensions.clone(),
            gid_number: change.gid_number.unwrap_or(current.attrs.gid_number),
            permissions: apply_permissions(&current.attrs.permissions, &change.permissions),
        };
        let touched =
            change.members.is_some() || !change.add.is_empty() || !change.remove.is_empty();
        let members: Option<Vec<MemberRef>> = touched.then(|| {
            let mut all = change.members.clone().unwrap_or_else(|| {
                current
                    .members
                    .iter()
                    .map(|m| MemberRef {
                        id: m.id,
                        display: m.display.clone(),
                    })
                    .collect()
            });
            all.retain(|m| !change.remove.contains(&m.id));
            for a in &change.add {
                if !all.iter().any(|m| m.id == a.id) {
                    all.push(a.clone());
                }
            }
            all
        });
        dir.replace_group(
            actor,
            id,
            attrs,
            members.as_deref(),
            Some(expected.unwrap_or(current.meta.version)),
            false,
        )
        .await?;
    }
    Ok(dir.get_group_with(id, with_members).await?)
}

/// The permissions after a PATCH's changes to them.
fn apply_permissions(current: &[String], ops: &[(OpKind, Option<Vec<String>>)]) -> Vec<String> {
    let mut all = current.to_vec();
    for (kind, values) in ops {
        match (kind, values) {
            // Each once: validation keeps the first of repeats.
            (OpKind::Add, Some(v)) => all.extend(v.iter().cloned()),
            (OpKind::Replace, Some(v)) => all = v.clone(),
            (OpKind::Remove, Some(v)) => all.retain(|p| !v.contains(p)),
            (_, None) => all.clear(),
        }
    }
    all
}

pub async fn delete(
    State(state): State<ScimState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> ScimResult<StatusCode> {
    state
        .directory
        .delete_group(&actor, parse_id(&id, "group")?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
