//! Group definitions as JSON lines: one group a line, its attributes as a
//! SCIM Group resource has them and its members named (a user by
//! userName, a group by displayName) rather than by id, so that a file
//! moves between directories. Importing creates the groups that are
//! missing, then gives each group exactly the members its line lists;
//! importing the same file again changes nothing.

use std::collections::BTreeSet;

use serde_json::{json, Value};
use uuid::Uuid;

use super::users::Summary;
use crate::directory::attributes::{by_key, GROUP_ATTRS};
use crate::directory::{
    Actor, Directory, DirectoryError, Filter, Group, GroupAttrs, MemberKind, MemberRef, Op, Query,
    Value as QueryValue,
};
use crate::scim::resources::{group_from_json, group_to_json};

/// Groups as JSON lines, members by name.
pub fn write_json_lines(directory: &Directory, groups: &[Group]) -> String {
    let mut out = String::new();
    for g in groups {
        let mut r = group_to_json(g, "", false, directory.declared());
        if let Some(m) = r.as_object_mut() {
            m.remove("id");
            m.remove("meta");
            let mut members: Vec<(&str, &str)> = g
                .members
                .iter()
                .map(|m| (m.kind.as_str(), m.name.as_str()))
                .collect();
            members.sort();
            let members: Vec<Value> = members
                .into_iter()
                .map(|(kind, name)| json!({"type": kind, "name": name}))
                .collect();
            m.insert("members".into(), members.into());
        }
        out.push_str(&r.to_string());
        out.push('\n');
    }
    out
}

/// A line read: the group's resource without members, and its members
/// as (kind, name).
struct Line {
    number: usize,
    resource: Value,
    members: Vec<(MemberKind, String)>,
}

fn read_line(number: usize, text: &str) -> Result<Line, String> {
    let mut resource: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let Some(map) = resource.as_object_mut() else {
        return Err("not a JSON object".into());
    };
    let mut members = Vec::new();
    if let Some(list) = map.remove("members") {
        let Value::Array(list) = list else {
            return Err("members must be a list".into());
        };
        for m in list {
            let name = m
                .get("name")
                .and_then(Value::as_str)
                .ok_or("each member needs a name (a userName, or a group's displayName)")?;
            let kind = match m.get("type").and_then(Value::as_str) {
                None | Some("User") => MemberKind::User,
                Some("Group") => MemberKind::Group,
                Some(other) => return Err(format!("member type {other:?}: User or Group")),
            };
            members.push((kind, name.to_string()));
        }
    }
    Ok(Line {
        number,
        resource,
        members,
    })
}

/// The served group called `name`, if any.
async fn group_named(directory: &Directory, name: &str) -> Result<Option<Group>, DirectoryError> {
    let Some(def) = by_key(GROUP_ATTRS, "displayName") else {
        return Ok(None);
    };
    let filter = Filter::Compare(def, Op::Eq, QueryValue::Str(name.to_string()));
    let page = directory
        .find_groups(&Query::new(filter, 0, 1), true)
        .await?;
    Ok(page.items.into_iter().next())
}

/// The ids of a line's members, or the first that names nobody.
async fn member_ids(
    directory: &Directory,
    members: &[(MemberKind, String)],
) -> Result<Vec<Uuid>, String> {
    let mut ids = Vec::with_capacity(members.len());
    for (kind, name) in members {
        let id = match kind {
            MemberKind::User => directory
                .get_user_by_name(name)
                .await
                .map_err(|e| e.to_string())?
                .filter(|u| u.status != crate::directory::Status::Banned)
                .map(|u| u.id),
            MemberKind::Group => group_named(directory, name)
                .await
                .map_err(|e| e.to_string())?
                .map(|g| g.id),
        };
        ids.push(
            id.ok_or_else(|| format!("member {} {name:?} is not in the directory", kind.as_str()))?,
        );
    }
    Ok(ids)
}

/// Imports group definitions; with `dry_run` checks them (every member
/// must exist, or be a group of the file) and writes nothing.
pub async fn import(directory: &Directory, actor: &Actor, text: &str, dry_run: bool) -> Summary {
    let mut summary = Summary::default();
    let mut lines = Vec::new();
    for (i, l) in text.lines().enumerate() {
        if l.trim().is_empty() {
            continue;
        }
        match read_line(i + 1, l) {
            Ok(line) => lines.push(line),
            Err(why) => summary.failed.push((i + 1, why)),
        }
    }
    // First the groups themselves, so that members may name any of them.
    let mut targets = Vec::new();
    for line in lines {
        let input = match group_from_json(line.resource.clone()) {
            Ok(input) => input,
            Err(e) => {
                summary.failed.push((line.number, e.detail));
                continue;
            }
        };
        let name = input.attrs.display_name.clone();
        let existing = match group_named(directory, &name).await {
            Ok(g) => g,
            Err(e) => {
                summary.failed.push((line.number, e.to_string()));
                continue;
            }
        };
        // An existing group's permissions become the line's.
        let permissions = input.attrs.permissions.clone();
        let permissions_changed = existing
            .as_ref()
            .is_some_and(|g| g.attrs.permissions != permissions);
        let existing = match existing {
            Some(g) if permissions_changed && !dry_run => {
                let attrs = GroupAttrs {
                    permissions,
                    ..g.attrs.clone()
                };
                match directory
                    .replace_group(actor, g.id, attrs, None, Some(g.meta.version), true)
                    .await
                {
                    Ok(g) => Some(g),
                    Err(e) => {
                        summary.failed.push((line.number, format!("{name}: {e}")));
                        continue;
                    }
                }
            }
            other => other,
        };
        let (group, fresh) = match existing {
            Some(g) => (Some(g), false),
            None if dry_run => (None, true),
            None => match directory.create_group(actor, input.attrs, &[]).await {
                Ok(g) => (Some(g), true),
                Err(e) => {
                    summary.failed.push((line.number, e.to_string()));
                    continue;
                }
            },
        };
        targets.push((line, name, group, fresh, permissions_changed));
    }
    let new_in_file: BTreeSet<String> = targets
        .iter()
        .filter(|(_, _, _, fresh, _)| *fresh)
        .map(|(_, name, _, _, _)| name.to_lowercase())
        .collect();
    // Then each group's members, exactly as listed.
    for (line, name, group, fresh, permissions_changed) in targets {
        let Some(group) = group else {
            // A dry run: a group still to be created; its members must exist
            // (or be groups of the file).
            let check: Vec<(MemberKind, String)> = line
                .members
                .iter()
                .filter(|(kind, n)| {
                    !(*kind == MemberKind::Group && new_in_file.contains(&n.to_lowercase()))
                })
                .cloned()
                .collect();
            match member_ids(directory, &check).await {
                Ok(_) => summary.created += 1,
                Err(why) => summary.failed.push((line.number, format!("{name}: {why}"))),
            }
            continue;
        };
        let wanted = match member_ids(directory, &line.members).await {
            Ok(ids) => ids,
            Err(why) => {
                summary.failed.push((line.number, format!("{name}: {why}")));
                continue;
            }
        };
        let have: BTreeSet<Uuid> = group.members.iter().map(|m| m.id).collect();
        let want: BTreeSet<Uuid> = wanted.iter().copied().collect();
        let count = match (fresh, have == want && !permissions_changed) {
            (true, _) => &mut summary.created,
            (false, true) => &mut summary.unchanged,
            (false, false) => &mut summary.updated,
        };
        if have == want || dry_run {
            *count += 1;
            continue;
        }
        let add: Vec<MemberRef> = want
            .difference(&have)
            .map(|id| MemberRef {
                id: *id,
                display: None,
            })
            .collect();
        let remove: Vec<Uuid> = have.difference(&want).copied().collect();
        match directory
            .modify_group_members(actor, group.id, &add, &remove)
            .await
        {
            Ok(()) if fresh => summary.created += 1,
            Ok(()) => summary.updated += 1,
            Err(e) => summary.failed.push((line.number, format!("{name}: {e}"))),
        }
    }
    summary.failed.sort_by_key(|(line, _)| *line);
    summary
}
