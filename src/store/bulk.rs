//! Many new users in one write transaction with multi-row statements (an
//! import's batch): a few statements for hundreds of users instead of
//! several for each, which is what makes a 100,000-row import fast. All
//! or nothing: the caller tries the users one by one when a batch fails.

use sqlx::{AnyConnection, Row};

use super::sql::{Arg, Sql};
use super::{backend, job, query, to_json, OwnEvents, SqlStore};
use crate::directory::attributes::{user_index, AttrDef};
use crate::directory::store::NewUser;
use crate::directory::{AuditEvent, StoreError, User};

/// Rows a multi-row statement carries at most (well below the backends'
/// limits on parameters: 32,766 for SQLite, 65,535 for PostgreSQL). Kept
/// small: SQLite finds a parameter's name by walking the statement's list
/// of names, so binding costs grow with the square of the parameters (at
/// 200 rows that was 15% of an import's CPU; at 50, 5%).
const ROWS: usize = 50;

fn text(v: &Option<String>) -> Arg {
    v.clone().map_or(Arg::NullText, Arg::Text)
}

/// `INSERT INTO … VALUES (…), (…)` for `rows`, each row's arguments from
/// `row`; one statement per [`ROWS`] rows.
pub(super) async fn insert_rows<T>(
    conn: &mut AnyConnection,
    head: &str,
    rows: &[T],
    tail: &str,
    row: impl Fn(&T) -> Vec<Arg>,
) -> Result<Vec<sqlx::any::AnyRow>, StoreError> {
    let mut returned = Vec::new();
    for chunk in rows.chunks(ROWS) {
        let mut sql = Sql::new(head);
        for (i, r) in chunk.iter().enumerate() {
            sql.push(if i == 0 { "(" } else { ", (" });
            for (j, arg) in row(r).into_iter().enumerate() {
                if j > 0 {
                    sql.push(", ");
                }
                sql.bind(arg);
            }
            sql.push(")");
        }
        sql.push(tail);
        returned.extend(query(&sql).fetch_all(&mut *conn).await.map_err(backend)?);
    }
    Ok(returned)
}

/// The index rows of `users` (or of their attributes `only` names), with
/// the user each belongs to.
pub(super) fn index_rows<'a>(
    table: &'static [AttrDef<User>],
    users: impl IntoIterator<Item = &'a User>,
    only: Option<&[&'static str]>,
) -> Vec<(String, &'static str, String, Option<usize>)> {
    users
        .into_iter()
        .flat_map(|u| {
            let id = u.id.to_string();
            user_index(table, u)
                .into_iter()
                .filter(|(k, _, _)| only.is_none_or(|keys| keys.contains(k)))
                .map(move |(key, value, pos)| (id.clone(), key, value, pos))
        })
        .collect()
}

/// Inserts index rows as [`index_rows`] makes them.
pub(super) async fn insert_index_rows(
    conn: &mut AnyConnection,
    rows: &[(String, &'static str, String, Option<usize>)],
) -> Result<(), StoreError> {
    insert_rows(
        conn,
        "INSERT INTO user_index (user_id, attr, value, pos) VALUES ",
        rows,
        "",
        |(id, key, value, pos)| {
            vec![
                Arg::Text(id.clone()),
                Arg::Text(key.to_string()),
                Arg::Text(value.clone()),
                pos.map_or(Arg::NullInt, |p| Arg::Int(p as i64)),
            ]
        },
    )
    .await?;
    Ok(())
}

/// Writes the audit events, recording their ids as this process's own.
async fn write_audits(
    conn: &mut AnyConnection,
    events: &[&AuditEvent],
    own: &OwnEvents,
) -> Result<(), StoreError> {
    let rows = insert_rows(
        conn,
        "INSERT INTO audit_events (at, actor, protocol, client, action, target_kind, target_id, target_name, attributes) VALUES ",
        events,
        " RETURNING id",
        |e| {
            vec![
                Arg::Int(e.at.0),
                Arg::Text(e.actor.clone()),
                Arg::Text(e.protocol.clone()),
                text(&e.client),
                Arg::Text(e.action.clone()),
                Arg::Text(e.target_kind.clone()),
                Arg::Text(e.target_id.clone()),
                Arg::Text(e.target_name.clone()),
                Arg::Text(serde_json::to_string(&e.attributes).unwrap_or_else(|_| "[]".into())),
            ]
        },
    )
    .await?;
    for row in rows {
        own.record(row.try_get(0).map_err(backend)?);
    }
    Ok(())
}

impl SqlStore {
    pub(super) async fn insert_many(&self, users: &[NewUser]) -> Result<(), StoreError> {
        let users = users.to_vec();
        let own = self.own.clone();
        let table = self.attrs.users;
        self.run_write(job(move |conn| {
            Box::pin(async move {
                let docs = users
                    .iter()
                    .map(|n| to_json(&n.user.attrs))
                    .collect::<Result<Vec<_>, _>>()?;
                let rows: Vec<(&NewUser, &String)> = users.iter().zip(&docs).collect();
                insert_rows(
                    conn,
                    "INSERT INTO users (id, user_name, user_name_lc, display_name, external_id, status, doc, created_at, modified_at, version, uid_number, created_by, modified_by) VALUES ",
                    &rows,
                    "",
                    |(n, doc)| {
                        let u = &n.user;
                        vec![
                            Arg::Text(u.id.to_string()),
                            Arg::Text(u.attrs.user_name.clone()),
                            Arg::Text(u.attrs.user_name.to_lowercase()),
                            text(&u.attrs.display_name),
                            text(&u.attrs.external_id),
                            Arg::Text(u.status.as_str().into()),
                            Arg::Text((*doc).clone()),
                            Arg::Int(u.meta.created.0),
                            Arg::Int(u.meta.modified.0),
                            Arg::Int(u.meta.version),
                            u.attrs.posix.uid_number.map_or(Arg::NullInt, Arg::Int),
                            Arg::Text(u.meta.created_by.clone()),
                            Arg::Text(u.meta.modified_by.clone()),
                        ]
                    },
                )
                .await?;
                let index = index_rows(table, users.iter().map(|n| &n.user), None);
                insert_index_rows(conn, &index).await?;
                let hashed: Vec<&NewUser> = users.iter().filter(|n| n.hash.is_some()).collect();
                insert_rows(
                    conn,
                    "INSERT INTO credentials (user_id, password_hash, changed_at) VALUES ",
                    &hashed,
                    "",
                    |n| {
                        vec![
                            Arg::Text(n.user.id.to_string()),
                            text(&n.hash),
                            Arg::Int(n.user.meta.modified.0),
                        ]
                    },
                )
                .await?;
                let events: Vec<&AuditEvent> = users.iter().map(|n| &n.event).collect();
                write_audits(conn, &events, &own).await
            })
        }))
        .await
    }
}
