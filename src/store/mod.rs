//! The store adapters: one SQL implementation of the core's [`Store`] port,
//! shared by SQLite (the embedded default) and PostgreSQL. Each backend has
//! its own connection setup and migrations (`sqlite.rs`, `postgres.rs`);
//! the statements themselves are written once, in portable SQL.

mod bulk;
mod credentials;
mod packed;
mod postgres;
mod reindex;
pub mod sql;
mod sqlite;
mod view;
mod viewed;
mod writer;

use std::sync::Arc;

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::AnyConnection;
use sqlx::AnyPool;
use sqlx::{Any, Row};
use uuid::Uuid;

use crate::config::StoreConfig;
use crate::directory::attributes::{AttrDef, Attributes};
use crate::directory::declared::Blob;
use crate::directory::policy::LockRule;
use crate::directory::store::{AuditFilter, NewUser, TotpSecrets};
use crate::directory::{
    AuditEvent, Group, GroupAttrs, GroupRef, Logins, Member, MemberKind, Meta, Page, Query, Status,
    Store, StoreError, Timestamp, TokenRecord, TokenScope, User, UserAttrs,
};
use credentials::write_password;
use futures::future::BoxFuture;
use futures::TryStreamExt;
use sql::{condition, Arg, Sql, GROUPS, USERS};
use writer::{Job, Writer};

/// Opens the database named by `url`, applying migrations. Reads go to the
/// database each time: for the command-line tools.
pub async fn open(
    url: &str,
    config: &StoreConfig,
    attrs: Attributes,
) -> Result<Arc<dyn Store>, StoreError> {
    Ok(Arc::new(open_sql(url, config, attrs).await?))
}

/// Opens the database for a server: reads are answered by an in-memory
/// view loaded now and kept in step with the database (see `viewed`).
pub async fn open_served(
    url: &str,
    config: &StoreConfig,
    attrs: Attributes,
) -> Result<Arc<dyn Store>, StoreError> {
    let sql = open_sql(url, config, attrs).await?;
    viewed::ViewedStore::start(sql, config).await
}

async fn open_sql(
    url: &str,
    config: &StoreConfig,
    attrs: Attributes,
) -> Result<SqlStore, StoreError> {
    sqlx::any::install_default_drivers();
    let (read, write) = if url.starts_with("sqlite:") {
        let (read, write) = sqlite::open(url, config).await?;
        (read, Writer::batched(write))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        let (read, write) = postgres::open(url, config).await?;
        (read, Writer::Pool(write))
    } else {
        return Err(StoreError::Backend(format!(
            "unsupported database URL {:?}: use sqlite://… or postgres://…",
            redact(url)
        )));
    };
    Ok(SqlStore {
        read,
        write,
        own: Arc::default(),
        attrs,
    })
}

/// A database URL with any password replaced, fit for messages and logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..scheme + 3], user, &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// The SQL store. Writes go through `write` (a single connection for
/// SQLite, so writers never contend), reads through `read`.
struct SqlStore {
    read: AnyPool,
    write: Writer,
    own: Arc<OwnEvents>,
    /// The attribute tables, for the index rows of users.
    attrs: Attributes,
}

fn backend(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &e {
        if db.is_unique_violation() {
            let what = format!("{} {}", db.message(), db.constraint().unwrap_or_default());
            if what.contains("user_name") {
                return StoreError::Conflict("userName");
            }
            if what.contains("display_name") {
                return StoreError::Conflict("displayName");
            }
            if what.contains("scim_tokens") {
                return StoreError::Conflict("token");
            }
            if what.contains("uid_number") {
                return StoreError::Conflict("uidNumber");
            }
            if what.contains("gid_number") {
                return StoreError::Conflict("gidNumber");
            }
        }
    }
    StoreError::Backend(e.to_string())
}

fn bad_row(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("unreadable {what}: {e}"))
}

/// Runs a statement built with [`Sql`].
fn query(sql: &Sql) -> sqlx::query::Query<'_, Any, sqlx::any::AnyArguments<'_>> {
    let mut q = sqlx::query(&sql.text);
    for arg in &sql.args {
        q = match arg {
            Arg::Text(s) => q.bind(s.as_str()),
            Arg::Int(i) => q.bind(*i),
            Arg::NullText => q.bind(None::<String>),
            Arg::NullInt => q.bind(None::<i64>),
        };
    }
    q
}

fn parse_id(s: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(s).map_err(|e| bad_row("id", e))
}

/// How one kind of record is listed: its layout, table, columns and
/// default order, and how a row is read.
struct Kind<T> {
    layout: &'static sql::Layout,
    from: &'static str,
    /// The records served at all (banned users are kept, not served).
    served: &'static str,
    columns: &'static str,
    order: &'static str,
    read: fn(&AnyRow) -> Result<T, StoreError>,
}

const USER_KIND: Kind<User> = Kind {
    layout: &USERS,
    from: "users u",
    served: "u.status <> 'banned'",
    columns: USER_COLUMNS,
    order: "u.user_name_lc",
    read: user_from_row,
};

const GROUP_KIND: Kind<Group> = Kind {
    layout: &GROUPS,
    from: "groups g",
    served: "g.status <> 'banned'",
    columns: GROUP_COLUMNS,
    order: "g.display_name_lc",
    read: group_from_row,
};

const USER_COLUMNS: &str = "u.id, u.status, u.doc, u.created_at, u.modified_at, u.version, \
     COALESCE(u.created_by, '') AS created_by, COALESCE(u.modified_by, '') AS modified_by, \
     (SELECT c.changed_at FROM credentials c WHERE c.user_id = u.id) AS password_changed_at, \
     u.failed_logins, u.last_failure_at, u.locked_at, u.last_login_at, u.revalidated_at, \
     u.totp_enrolled_at";
const GROUP_COLUMNS: &str = "g.id, g.doc, g.created_at, g.modified_at, g.version, \
     COALESCE(g.created_by, '') AS created_by, COALESCE(g.modified_by, '') AS modified_by";

fn meta(row: &AnyRow) -> Result<Meta, StoreError> {
    Ok(Meta {
        created: Timestamp(row.try_get("created_at").map_err(backend)?),
        modified: Timestamp(row.try_get("modified_at").map_err(backend)?),
        version: row.try_get("version").map_err(backend)?,
        created_by: row.try_get("created_by").map_err(backend)?,
        modified_by: row.try_get("modified_by").map_err(backend)?,
    })
}

fn user_from_row(row: &AnyRow) -> Result<User, StoreError> {
    let id: String = row.try_get("id").map_err(backend)?;
    let doc: String = row.try_get("doc").map_err(backend)?;
    let status: String = row.try_get("status").map_err(backend)?;
    Ok(User {
        id: parse_id(&id)?,
        attrs: serde_json::from_str::<UserAttrs>(&doc).map_err(|e| bad_row("user", e))?,
        status: Status::parse(&status).ok_or_else(|| bad_row("status", &status))?,
        meta: meta(row)?,
        groups: Vec::new(),
        password_changed: time_column(row, "password_changed_at")?,
        logins: Logins {
            failed: row.try_get("failed_logins").map_err(backend)?,
            last_failure: time_column(row, "last_failure_at")?,
            locked_at: time_column(row, "locked_at")?,
            last_success: time_column(row, "last_login_at")?,
            revalidated: time_column(row, "revalidated_at")?,
            totp_enrolled: time_column(row, "totp_enrolled_at")?,
        },
    })
}

/// What a banned user's lower-cased name becomes: unique, and equal to no
/// userName (those have no control characters).
fn banned_name(id: Uuid) -> String {
    format!("\u{1}banned:{id}")
}

fn time_column(row: &AnyRow, name: &str) -> Result<Option<Timestamp>, StoreError> {
    Ok(row
        .try_get::<Option<i64>, _>(name)
        .map_err(backend)?
        .map(Timestamp))
}

fn group_from_row(row: &AnyRow) -> Result<Group, StoreError> {
    let id: String = row.try_get("id").map_err(backend)?;
    let doc: String = row.try_get("doc").map_err(backend)?;
    Ok(Group {
        id: parse_id(&id)?,
        attrs: serde_json::from_str::<GroupAttrs>(&doc).map_err(|e| bad_row("group", e))?,
        members: Vec::new(),
        meta: meta(row)?,
    })
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Backend(e.to_string()))
}

/// Ids of audit events this process wrote, so that the view's poll does not
/// read again what this process already applied (see `viewed`). Only
/// recorded for a server; the command line leaves it off.
#[derive(Default)]
pub struct OwnEvents {
    enabled: std::sync::atomic::AtomicBool,
    ids: std::sync::Mutex<std::collections::HashSet<i64>>,
}

impl OwnEvents {
    fn record(&self, id: i64) {
        if self.enabled.load(std::sync::atomic::Ordering::Relaxed) {
            if let Ok(mut ids) = self.ids.lock() {
                ids.insert(id);
            }
        }
    }

    /// Whether event `id` was written here; forgets it.
    fn take(&self, id: i64) -> bool {
        self.ids
            .lock()
            .map(|mut ids| ids.remove(&id))
            .unwrap_or(false)
    }

    /// Forgets ids at or below `floor` (events that never showed up, such
    /// as those of rolled-back jobs).
    fn forget_below(&self, floor: i64) {
        if let Ok(mut ids) = self.ids.lock() {
            ids.retain(|id| *id > floor);
        }
    }
}

async fn write_audit(
    conn: &mut AnyConnection,
    e: &AuditEvent,
    own: &OwnEvents,
) -> Result<(), StoreError> {
    let row = sqlx::query(
        "INSERT INTO audit_events (at, actor, protocol, client, action, target_kind, target_id, target_name, attributes) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(e.at.0)
    .bind(&e.actor)
    .bind(&e.protocol)
    .bind(e.client.as_deref())
    .bind(&e.action)
    .bind(&e.target_kind)
    .bind(&e.target_id)
    .bind(&e.target_name)
    .bind(to_json(&e.attributes)?)
    .fetch_one(&mut *conn)
    .await
    .map_err(backend)?;
    own.record(row.try_get(0).map_err(backend)?);
    Ok(())
}

/// Writes a user's index rows; `replace` first removes the old ones.
async fn write_user_index(
    conn: &mut AnyConnection,
    table: &'static [AttrDef<User>],
    user: &User,
    replace: bool,
) -> Result<(), StoreError> {
    let id = user.id.to_string();
    if replace {
        sqlx::query("DELETE FROM user_index WHERE user_id = $1")
            .bind(&id)
            .execute(&mut *conn)
            .await
            .map_err(backend)?;
    }
    bulk::insert_index_rows(conn, &bulk::index_rows(table, [user], None)).await?;
    Ok(())
}

async fn add_members(
    conn: &mut AnyConnection,
    group: Uuid,
    members: &[Member],
) -> Result<(), StoreError> {
    for chunk in members.chunks(400) {
        let mut sql = Sql::new(
            "INSERT INTO group_members (group_id, member_id, member_kind, display) VALUES ",
        );
        for (i, m) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.push("(")
                .bind(Arg::Text(group.to_string()))
                .push(", ")
                .bind(Arg::Text(m.id.to_string()))
                .push(", ")
                .bind(Arg::Text(m.kind.as_str().to_string()))
                .push(", ")
                .bind(m.display.clone().map_or(Arg::NullText, Arg::Text))
                .push(")");
        }
        sql.push(" ON CONFLICT (group_id, member_id) DO NOTHING");
        query(&sql).execute(&mut *conn).await.map_err(backend)?;
    }
    Ok(())
}

impl SqlStore {
    async fn run_write(&self, job: Job) -> Result<(), StoreError> {
        self.write.run(job).await
    }

    /// Fills in the direct groups of each user.
    async fn load_groups_of(&self, users: &mut [User]) -> Result<(), StoreError> {
        if users.is_empty() {
            return Ok(());
        }
        // Direct groups, and the groups those are members of, and so on.
        let mut sql = Sql::new(
            "WITH RECURSIVE chain(member_id, group_id, depth) AS (\
             SELECT member_id, group_id, 0 FROM group_members WHERE member_id IN (",
        );
        sql.bind_list(users.iter().map(|u| u.id.to_string()));
        sql.push(&format!(
            ") UNION SELECT c.member_id, m.group_id, c.depth + 1 FROM chain c \
             JOIN group_members m ON m.member_id = c.group_id WHERE c.depth < {}) \
             SELECT c.member_id, g.id, g.display_name, MIN(c.depth), g.doc FROM chain c JOIN groups g ON g.id = c.group_id \
             GROUP BY c.member_id, g.id, g.display_name, g.display_name_lc, g.doc ORDER BY g.display_name_lc",
            sql::MAX_NESTING
        ));
        let rows = query(&sql).fetch_all(&self.read).await.map_err(backend)?;
        for row in rows {
            let member: String = row.try_get(0).map_err(backend)?;
            let member = parse_id(&member)?;
            let id: String = row.try_get(1).map_err(backend)?;
            let depth: i64 = row.try_get(3).map_err(backend)?;
            let doc: String = row.try_get(4).map_err(backend)?;
            let attrs: GroupAttrs = serde_json::from_str(&doc).map_err(|e| bad_row("group", e))?;
            let group = GroupRef {
                id: parse_id(&id)?,
                display_name: row.try_get(2).map_err(backend)?,
                direct: depth == 0,
                permissions: attrs.permissions,
            };
            if let Some(u) = users.iter_mut().find(|u| u.id == member) {
                u.groups.push(group);
            }
        }
        Ok(())
    }

    /// Fills in the members of each group.
    async fn load_members_of(&self, groups: &mut [Group]) -> Result<(), StoreError> {
        if groups.is_empty() {
            return Ok(());
        }
        let mut sql = Sql::new(
            "SELECT m.group_id, m.member_id, m.member_kind, u.user_name, m.display, mg.display_name \
             FROM group_members m LEFT JOIN users u ON u.id = m.member_id LEFT JOIN groups mg ON mg.id = m.member_id \
             WHERE m.group_id IN (",
        );
        sql.bind_list(groups.iter().map(|g| g.id.to_string()))
            .push(") ORDER BY m.group_id, m.member_kind DESC, u.user_name_lc, mg.display_name_lc");
        let rows = query(&sql).fetch_all(&self.read).await.map_err(backend)?;
        for row in rows {
            let group: String = row.try_get(0).map_err(backend)?;
            let group = parse_id(&group)?;
            let id: String = row.try_get(1).map_err(backend)?;
            let kind: String = row.try_get(2).map_err(backend)?;
            let user_name: Option<String> = row.try_get(3).map_err(backend)?;
            let display: Option<String> = row.try_get(4).map_err(backend)?;
            let group_name: Option<String> = row.try_get(5).map_err(backend)?;
            let (kind, name) = if kind == "Group" {
                (MemberKind::Group, group_name)
            } else {
                (MemberKind::User, user_name)
            };
            let Some(name) = name else { continue };
            let member = Member {
                id: parse_id(&id)?,
                kind,
                name,
                display,
            };
            if let Some(g) = groups.iter_mut().find(|g| g.id == group) {
                g.members.push(member);
            }
        }
        Ok(())
    }

    /// Counts the records a query matches and reads its page, ordered by
    /// `order`, from `from` (a table with its alias).
    async fn page<T>(&self, q: &Query<T>, kind: &Kind<T>) -> Result<Page<T>, StoreError> {
        let Kind {
            layout,
            from,
            columns,
            order,
            read,
            ..
        } = kind;
        let mut count = Sql::new(&format!("SELECT COUNT(*) FROM {from}"));
        where_clause(&mut count, q, kind);
        let total: i64 = query(&count)
            .fetch_one(&self.read)
            .await
            .map_err(backend)?
            .try_get(0)
            .map_err(backend)?;
        let mut items = Vec::new();
        if q.limit > 0 && (q.offset as i64) < total {
            let mut sql = Sql::new(&format!("SELECT {columns} FROM {from}"));
            where_clause(&mut sql, q, kind);
            let sorted = match &q.sort {
                Some(sort) => sql::order_by(sort, layout, order, &mut sql),
                None => None,
            };
            if sorted.is_none() {
                sql.push(" ORDER BY ").push(order);
            }
            page_clause(&mut sql, q.offset, q.limit);
            let rows = query(&sql).fetch_all(&self.read).await.map_err(backend)?;
            items = rows.iter().map(read).collect::<Result<Vec<_>, _>>()?;
        }
        Ok(Page {
            total: total as usize,
            items,
        })
    }

    /// The ids a query matches, in its order and window.
    async fn ids<T>(&self, q: &Query<T>, kind: &Kind<T>) -> Result<Vec<Uuid>, StoreError> {
        let alias = kind.layout.alias;
        let mut sql = Sql::new(&format!("SELECT {alias}.id FROM {}", kind.from));
        where_clause(&mut sql, q, kind);
        let sorted = match &q.sort {
            Some(sort) => sql::order_by(sort, kind.layout, kind.order, &mut sql),
            None => None,
        };
        if sorted.is_none() {
            sql.push(" ORDER BY ").push(kind.order);
        }
        page_clause(&mut sql, q.offset, q.limit);
        let rows = query(&sql).fetch_all(&self.read).await.map_err(backend)?;
        rows.iter()
            .map(|r| parse_id(&r.try_get::<String, _>(0).map_err(backend)?))
            .collect()
    }

    async fn one_user(&self, column: &str, value: String) -> Result<Option<User>, StoreError> {
        let text = format!("SELECT {USER_COLUMNS} FROM users u WHERE u.{column} = $1");
        let row = sqlx::query(&text)
            .bind(value)
            .fetch_optional(&self.read)
            .await
            .map_err(backend)?;
        let Some(row) = row else { return Ok(None) };
        let mut users = [user_from_row(&row)?];
        self.load_groups_of(&mut users).await?;
        let [user] = users;
        Ok(Some(user))
    }
}

/// What banning a kind of record changes: its table, the lower-cased name
/// column that keeps names unique, and the memberships that end with it.
struct Ban {
    table: &'static str,
    name_column: &'static str,
    /// The column the name is lower-cased from again at a restore.
    name_source: &'static str,
    memberships: &'static str,
    /// The status a restored record comes back with.
    restored: &'static str,
}

const BANNED_USER: Ban = Ban {
    table: "users",
    name_column: "user_name_lc",
    name_source: "user_name",
    memberships: "DELETE FROM group_members WHERE member_id = $1",
    // Disabled until an administrator activates it.
    restored: "disabled",
};

const BANNED_GROUP: Ban = Ban {
    table: "groups",
    name_column: "display_name_lc",
    name_source: "display_name",
    memberships: "DELETE FROM group_members WHERE group_id = $1 OR member_id = $1",
    restored: "active",
};

impl SqlStore {
    /// Bans a user or a group: status banned, its name column a marker no
    /// name can equal (names have no control characters), so the name is
    /// free; its memberships end; the record and its history stay.
    async fn ban(&self, ban: &'static Ban, id: Uuid, event: &AuditEvent) -> Result<(), StoreError> {
        let event = event.clone();
        let own = self.own.clone();
        self.run_write(job(move |conn| {
            Box::pin(async move {
                let done = sqlx::query(&format!(
                    "UPDATE {} SET status = $1, {} = $2, modified_at = $3, \
                     version = version + 1, modified_by = $4 WHERE id = $5 AND status <> $1",
                    ban.table, ban.name_column
                ))
                .bind(Status::Banned.as_str())
                .bind(banned_name(id))
                .bind(event.at.0)
                .bind(event.actor_reference())
                .bind(id.to_string())
                .execute(&mut *conn)
                .await
                .map_err(backend)?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
                sqlx::query(ban.memberships)
                    .bind(id.to_string())
                    .execute(&mut *conn)
                    .await
                    .map_err(backend)?;
                write_audit(conn, &event, &own).await
            })
        }))
        .await
    }

    /// Brings a banned record back with its name (`Conflict` when another
    /// record has taken it meanwhile).
    async fn restore(
        &self,
        ban: &'static Ban,
        id: Uuid,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        let event = event.clone();
        let own = self.own.clone();
        self.run_write(job(move |conn| {
            Box::pin(async move {
                let row = sqlx::query(&format!(
                    "SELECT {} FROM {} WHERE id = $1 AND status = $2",
                    ban.name_source, ban.table
                ))
                .bind(id.to_string())
                .bind(Status::Banned.as_str())
                .fetch_optional(&mut *conn)
                .await
                .map_err(backend)?;
                let Some(row) = row else {
                    return Err(StoreError::NotFound);
                };
                let name: String = row.try_get(0).map_err(backend)?;
                // Lower-cased as everywhere else (SQL's LOWER depends on
                // the database's locale).
                let done = sqlx::query(&format!(
                    "UPDATE {} SET status = $1, {} = $6, modified_at = $2, \
                     version = version + 1, modified_by = $3 WHERE id = $4 AND status = $5",
                    ban.table, ban.name_column
                ))
                .bind(ban.restored)
                .bind(event.at.0)
                .bind(event.actor_reference())
                .bind(id.to_string())
                .bind(Status::Banned.as_str())
                .bind(name.to_lowercase())
                .execute(&mut *conn)
                .await
                .map_err(backend)?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
                write_audit(conn, &event, &own).await
            })
        }))
        .await
    }
}

/// Reads for loading and refreshing the in-memory view.
impl SqlStore {
    /// From now on, remember which audit events this process writes.
    fn track_own_events(&self) -> Arc<OwnEvents> {
        self.own
            .enabled
            .store(true, std::sync::atomic::Ordering::Relaxed);
        self.own.clone()
    }

    /// Up to `limit` users (without groups) in id order, after the user
    /// `after`: the view is loaded a batch at a time.
    /// On `conn`: the whole load goes through one connection, so that
    /// only one connection's page cache fills up with the users table.
    async fn users_after(
        &self,
        conn: &mut AnyConnection,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<User>, StoreError> {
        let after = after.map(|id| id.to_string()).unwrap_or_default();
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM users u WHERE u.id > $1 AND u.status <> 'banned' \
             ORDER BY u.id LIMIT {limit}"
        );
        let rows = sqlx::query(&sql)
            .bind(after)
            .fetch_all(&mut *conn)
            .await
            .map_err(backend)?;
        rows.iter().map(user_from_row).collect()
    }

    /// A read connection of its own, for loading the view.
    async fn read_connection(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Any>, StoreError> {
        self.read.acquire().await.map_err(backend)
    }

    /// Every group with its member rows (member names left empty: the view
    /// looks them up).
    async fn all_groups(&self) -> Result<Vec<Group>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {GROUP_COLUMNS} FROM groups g WHERE g.status <> 'banned'"
        ))
        .fetch_all(&self.read)
        .await
        .map_err(backend)?;
        let mut groups = rows
            .iter()
            .map(group_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        let index: std::collections::HashMap<Uuid, usize> =
            groups.iter().enumerate().map(|(i, g)| (g.id, i)).collect();
        // Streamed: a large directory has millions of member rows.
        let mut rows =
            sqlx::query("SELECT group_id, member_id, member_kind, display FROM group_members")
                .fetch(&self.read);
        while let Some(row) = rows.try_next().await.map_err(backend)? {
            let group: String = row.try_get(0).map_err(backend)?;
            let id: String = row.try_get(1).map_err(backend)?;
            let kind: String = row.try_get(2).map_err(backend)?;
            let display: Option<String> = row.try_get(3).map_err(backend)?;
            if let Some(i) = index.get(&parse_id(&group)?) {
                groups[*i].members.push(Member {
                    id: parse_id(&id)?,
                    kind: if kind == "Group" {
                        MemberKind::Group
                    } else {
                        MemberKind::User
                    },
                    name: String::new(),
                    display,
                });
            }
        }
        Ok(groups)
    }

    /// Audit events after `after` that changed a user or group:
    /// (event id, target kind, target id).
    async fn changes_after(&self, after: i64) -> Result<Vec<(i64, String, Uuid)>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, target_kind, target_id FROM audit_events \
             WHERE id > $1 AND target_kind IN ('user', 'group') ORDER BY id LIMIT 10000",
        )
        .bind(after)
        .fetch_all(&self.read)
        .await
        .map_err(backend)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let id: i64 = row.try_get(0).map_err(backend)?;
            let kind: String = row.try_get(1).map_err(backend)?;
            let target: String = row.try_get(2).map_err(backend)?;
            if let Ok(target) = Uuid::parse_str(&target) {
                out.push((id, kind, target));
            }
        }
        Ok(out)
    }

    /// The ids of the audit events with `low < id <= high`.
    async fn event_ids(&self, low: i64, high: i64) -> Result<Vec<i64>, StoreError> {
        let rows = sqlx::query("SELECT id FROM audit_events WHERE id > $1 AND id <= $2")
            .bind(low)
            .bind(high)
            .fetch_all(&self.read)
            .await
            .map_err(backend)?;
        rows.iter().map(|r| r.try_get(0).map_err(backend)).collect()
    }

    /// The newest audit event id, 0 when there is none.
    async fn last_change(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COALESCE(MAX(id), 0) FROM audit_events")
            .fetch_one(&self.read)
            .await
            .map_err(backend)?;
        row.try_get(0).map_err(backend)
    }
}

/// Fails with NotFound or VersionMismatch after an update matched no row.
async fn missed_update(conn: &mut AnyConnection, table: &str, id: Uuid) -> StoreError {
    let text = format!("SELECT 1 FROM {table} WHERE id = $1");
    match sqlx::query(&text)
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await
    {
        Ok(Some(_)) => StoreError::VersionMismatch,
        Ok(None) => StoreError::NotFound,
        Err(e) => backend(e),
    }
}

/// Wraps a write closure as a [`Job`]; the bound lets the closure's
/// borrow of the connection be inferred.
fn job<F>(f: F) -> Job
where
    F: for<'c> FnOnce(&'c mut AnyConnection) -> BoxFuture<'c, Result<(), StoreError>>
        + Send
        + 'static,
{
    Box::new(f)
}

/// Appends ` WHERE <served> AND (<filter>)` for the query's filter.
fn where_clause<T, K>(sql: &mut Sql, query: &Query<T>, kind: &Kind<K>) {
    sql.push(" WHERE ").push(kind.served).push(" AND (");
    condition(&query.filter, kind.layout, sql);
    sql.push(")");
}

/// Appends the page window.
fn page_clause(sql: &mut Sql, offset: usize, limit: usize) {
    sql.push(" LIMIT ")
        .bind(Arg::Int(limit as i64))
        .push(" OFFSET ")
        .bind(Arg::Int(offset as i64));
}

#[async_trait]
impl Store for SqlStore {
    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.read)
            .await
            .map_err(backend)?;
        Ok(())
    }

    fn attributes(&self) -> Attributes {
        self.attrs
    }

    async fn put_blob(&self, blob: &Blob) -> Result<(), StoreError> {
        let blob = blob.clone();
        self.run_write(job(move |conn| {
            Box::pin(async move {
                sqlx::query(
                    "INSERT INTO blobs (digest, media_type, data) VALUES ($1, $2, $3) \
                     ON CONFLICT (digest) DO NOTHING",
                )
                .bind(&blob.digest)
                .bind(&blob.media_type)
                .bind(blob.bytes.clone())
                .execute(&mut *conn)
                .await
                .map_err(backend)?;
                Ok(())
            })
        }))
        .await
    }

    async fn get_blob(&self, digest: &str) -> Result<Option<(String, Vec<u8>)>, StoreError> {
        let row = sqlx::query("SELECT media_type, data FROM blobs WHERE digest = $1")
            .bind(digest)
            .fetch_optional(&self.read)
            .await
            .map_err(backend)?;
        match row {
            Some(r) => Ok(Some((
                r.try_get(0).map_err(backend)?,
                r.try_get(1).map_err(backend)?,
            ))),
            None => Ok(None),
        }
    }

    async fn insert_user(
        &self,
        user: &User,
        password_hash: Option<&str>,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        let user = user.clone();
        let password_hash = password_hash.map(str::to_string);
        let event = event.clone();
        let own = self.own.clone();
        let table = self.attrs.users;
        self.run_write(job(move |conn| Box::pin(async move {
        sqlx::query(
            "INSERT INTO users (id, user_name, user_name_lc, display_name, external_id, status, doc, created_at, modified_at, version, uid_number, created_by, modified_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(user.id.to_string())
        .bind(&user.attrs.user_name)
        .bind(user.attrs.user_name.to_lowercase())
        .bind(user.attrs.display_name.as_deref())
        .bind(user.attrs.external_id.as_deref())
        .bind(user.status.as_str())
        .bind(to_json(&user.attrs)?)
        .bind(user.meta.created.0)
        .bind(user.meta.modified.0)
        .bind(user.meta.version)
        .bind(user.attrs.posix.uid_number)
        .bind(&user.meta.created_by)
        .bind(&user.meta.modified_by)
        .execute(&mut *conn)
        .await
        .map_err(backend)?;
        write_user_index(conn, table, &user, false).await?;
        write_password(conn, user.id, password_hash.as_deref(), user.meta.modified).await?;
        write_audit(conn, &event, &own).await?;
        Ok(())
        }))).await
    }

    async fn insert_users(&self, users: &[NewUser]) -> Result<(), StoreError> {
        self.insert_many(users).await
    }

    async fn update_user(
        &self,
        user: &User,
        expected_version: i64,
        password_hash: Option<&str>,
        revalidate: bool,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        let user = user.clone();
        let password_hash = password_hash.map(str::to_string);
        let event = event.clone();
        let own = self.own.clone();
        let table = self.attrs.users;
        self.run_write(job(move |conn| Box::pin(async move {
        // Login counters are the store's own; a re-validation clears them
        // and restarts the inactivity clock.
        let done = sqlx::query(
            "UPDATE users SET user_name = $1, user_name_lc = $2, display_name = $3, external_id = $4, status = $5, \
             doc = $6, modified_at = $7, version = $8, uid_number = $11, modified_by = $12, \
             failed_logins = CASE WHEN $13 = 1 THEN 0 ELSE failed_logins END, \
             last_failure_at = CASE WHEN $13 = 1 THEN NULL ELSE last_failure_at END, \
             locked_at = CASE WHEN $13 = 1 THEN NULL ELSE locked_at END, \
             revalidated_at = CASE WHEN $13 = 1 THEN $7 ELSE revalidated_at END \
             WHERE id = $9 AND version = $10",
        )
        .bind(&user.attrs.user_name)
        .bind(user.attrs.user_name.to_lowercase())
        .bind(user.attrs.display_name.as_deref())
        .bind(user.attrs.external_id.as_deref())
        .bind(user.status.as_str())
        .bind(to_json(&user.attrs)?)
        .bind(user.meta.modified.0)
        .bind(user.meta.version)
        .bind(user.id.to_string())
        .bind(expected_version)
        .bind(user.attrs.posix.uid_number)
        .bind(&user.meta.modified_by)
        .bind(i64::from(revalidate))
        .execute(&mut *conn)
        .await
        .map_err(backend)?;
        if done.rows_affected() == 0 {
            return Err(missed_update(conn, "users", user.id).await);
        }
        write_user_index(conn, table, &user, true).await?;
        write_password(conn, user.id, password_hash.as_deref(), user.meta.modified).await?;
        write_audit(conn, &event, &own).await?;
        Ok(())
        }))).await
    }

    async fn delete_user(&self, id: Uuid, event: &AuditEvent) -> Result<(), StoreError> {
        let id_text = id.to_string();
        let event = event.clone();
        let own = self.own.clone();
        self.write
            .run(job(move |conn| {
                Box::pin(async move {
                    for statement in [
                        "DELETE FROM group_members WHERE member_id = $1",
                        "DELETE FROM user_index WHERE user_id = $1",
                        "DELETE FROM credentials WHERE user_id = $1",
                        "DELETE FROM password_history WHERE user_id = $1",
                        "DELETE FROM totp WHERE user_id = $1",
                        "DELETE FROM invites WHERE user_id = $1",
                    ] {
                        sqlx::query(statement)
                            .bind(&id_text)
                            .execute(&mut *conn)
                            .await
                            .map_err(backend)?;
                    }
                    let done = sqlx::query("DELETE FROM users WHERE id = $1")
                        .bind(&id_text)
                        .execute(&mut *conn)
                        .await
                        .map_err(backend)?;
                    if done.rows_affected() == 0 {
                        return Err(StoreError::NotFound);
                    }
                    write_audit(conn, &event, &own).await?;
                    Ok(())
                })
            }))
            .await
    }

    async fn ban_user(&self, id: Uuid, event: &AuditEvent) -> Result<(), StoreError> {
        self.ban(&BANNED_USER, id, event).await
    }

    async fn restore_user(&self, id: Uuid, event: &AuditEvent) -> Result<(), StoreError> {
        self.restore(&BANNED_USER, id, event).await
    }

    async fn banned_users(&self) -> Result<Vec<User>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users u WHERE u.status = $1 ORDER BY u.user_name, u.id"
        ))
        .bind(Status::Banned.as_str())
        .fetch_all(&self.read)
        .await
        .map_err(backend)?;
        rows.iter().map(user_from_row).collect()
    }

    async fn get_user(&self, id: Uuid) -> Result<Option<User>, StoreError> {
        self.one_user("id", id.to_string()).await
    }

    async fn get_user_by_name(&self, user_name: &str) -> Result<Option<User>, StoreError> {
        self.one_user("user_name_lc", user_name.to_lowercase())
            .await
    }

    async fn password_hash(&self, id: Uuid) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT password_hash FROM credentials WHERE user_id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.read)
            .await
            .map_err(backend)?;
        row.map(|r| r.try_get(0).map_err(backend)).transpose()
    }

    async fn set_password(
        &self,
        id: Uuid,
        hash: &str,
        changed: Option<Timestamp>,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        let hash = hash.to_string();
        let event = event.clone();
        let own = self.own.clone();
        self.run_write(job(move |conn| {
            Box::pin(async move {
                match changed {
                    Some(at) => write_password(conn, id, Some(&hash), at).await?,
                    None => {
                        sqlx::query("UPDATE credentials SET password_hash = $1 WHERE user_id = $2")
                            .bind(&hash)
                            .bind(id.to_string())
                            .execute(&mut *conn)
                            .await
                            .map_err(backend)?;
                    }
                }
                write_audit(conn, &event, &own).await?;
                Ok(())
            })
        }))
        .await
    }

    async fn password_history(&self, id: Uuid, limit: usize) -> Result<Vec<String>, StoreError> {
        self.history_of(id, limit).await
    }

    async fn users_with(
        &self,
        key: &'static str,
        value: &str,
        limit: usize,
    ) -> Result<Vec<Uuid>, StoreError> {
        let rows = sqlx::query(
            "SELECT DISTINCT i.user_id FROM user_index i JOIN users u ON u.id = i.user_id \
             WHERE i.attr = $1 AND i.value = $2 AND u.status <> 'banned' LIMIT $3",
        )
        .bind(key)
        .bind(value)
        .bind(limit as i64)
        .fetch_all(&self.read)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|r| parse_id(&r.try_get::<String, _>(0).map_err(backend)?))
            .collect()
    }

    async fn use_grace_login(&self, id: Uuid, max: i64) -> Result<Option<i64>, StoreError> {
        self.grace_login(id, max).await
    }

    async fn start_totp(
        &self,
        id: Uuid,
        secret: &str,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        self.pending_totp(id, secret, event).await
    }

    async fn totp_secrets(&self, id: Uuid) -> Result<TotpSecrets, StoreError> {
        self.secrets(id).await
    }

    async fn confirm_totp(
        &self,
        id: Uuid,
        step: i64,
        event: &AuditEvent,
    ) -> Result<Option<User>, StoreError> {
        self.confirm(id, step, event).await
    }

    async fn use_totp_step(&self, id: Uuid, step: i64) -> Result<bool, StoreError> {
        self.take_step(id, step).await
    }

    async fn remove_totp(&self, id: Uuid, event: &AuditEvent) -> Result<Option<User>, StoreError> {
        self.drop_totp(id, event).await
    }

    async fn insert_invite(
        &self,
        id: Uuid,
        token_hash: &str,
        expires: Timestamp,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        self.add_invite(id, token_hash, expires, event).await
    }

    async fn invite_user(
        &self,
        token_hash: &str,
        now: Timestamp,
        redeem: bool,
    ) -> Result<Option<Uuid>, StoreError> {
        self.invited(token_hash, now, redeem).await
    }

    async fn record_login_failure(
        &self,
        id: Uuid,
        rule: &LockRule,
        failure: &AuditEvent,
        lock: &AuditEvent,
    ) -> Result<Option<User>, StoreError> {
        let (rule, failure, lock) = (rule.clone(), failure.clone(), lock.clone());
        let own = self.own.clone();
        self.run_write(job(move |conn| {
            Box::pin(async move {
                let now = failure.at.0;
                // The count and the lock are decided inside the write
                // transaction: concurrent failures are counted one after
                // another, and only one of them locks.
                let row = sqlx::query(
                    "UPDATE users SET failed_logins = CASE \
                       WHEN $1 IS NOT NULL AND (last_failure_at IS NULL OR last_failure_at < $1) THEN 1 \
                       ELSE failed_logins + 1 END, \
                     last_failure_at = $2 WHERE id = $3 RETURNING failed_logins, status, locked_at",
                )
                .bind(rule.window_start.map(|t| t.0))
                .bind(now)
                .bind(id.to_string())
                .fetch_optional(&mut *conn)
                .await
                .map_err(backend)?;
                let Some(row) = row else {
                    return Err(StoreError::NotFound);
                };
                let failed: i64 = row.try_get(0).map_err(backend)?;
                let status: String = row.try_get(1).map_err(backend)?;
                let locked_at: Option<i64> = row.try_get(2).map_err(backend)?;
                let ran_out = matches!(
                    (locked_at, rule.expired_before),
                    (Some(at), Some(cutoff)) if at <= cutoff.0
                );
                let locks = rule.max_failures > 0
                    && failed >= rule.max_failures
                    && (status == Status::Active.as_str()
                        || (status == Status::Locked.as_str() && ran_out));
                write_audit(conn, &failure, &own).await?;
                if locks {
                    sqlx::query(
                        "UPDATE users SET status = $1, locked_at = $2, modified_at = $2, \
                         version = version + 1, modified_by = $3 WHERE id = $4",
                    )
                    .bind(Status::Locked.as_str())
                    .bind(now)
                    .bind(lock.actor_reference())
                    .bind(id.to_string())
                    .execute(&mut *conn)
                    .await
                    .map_err(backend)?;
                    write_audit(conn, &lock, &own).await?;
                }
                Ok(())
            })
        }))
        .await?;
        self.get_user(id).await
    }

    async fn record_login_success(
        &self,
        id: Uuid,
        event: &AuditEvent,
    ) -> Result<Option<User>, StoreError> {
        let event = event.clone();
        let own = self.own.clone();
        self.run_write(job(move |conn| {
            Box::pin(async move {
                // A lock that ran out is lifted: the account is active again
                // (a change of the record, so a new version).
                sqlx::query(
                    "UPDATE users SET last_login_at = $1, failed_logins = 0, last_failure_at = NULL, \
                     version = CASE WHEN status = $2 THEN version + 1 ELSE version END, \
                     modified_at = CASE WHEN status = $2 THEN $1 ELSE modified_at END, \
                     locked_at = NULL, \
                     status = CASE WHEN status = $2 THEN $3 ELSE status END WHERE id = $4",
                )
                .bind(event.at.0)
                .bind(Status::Locked.as_str())
                .bind(Status::Active.as_str())
                .bind(id.to_string())
                .execute(&mut *conn)
                .await
                .map_err(backend)?;
                write_audit(conn, &event, &own).await?;
                Ok(())
            })
        }))
        .await?;
        self.get_user(id).await
    }

    async fn change_status(
        &self,
        id: Uuid,
        from: Status,
        to: Status,
        event: &AuditEvent,
    ) -> Result<Option<User>, StoreError> {
        let event = event.clone();
        let own = self.own.clone();
        let moved = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let moved_ = moved.clone();
        self.run_write(job(move |conn| {
            Box::pin(async move {
                let done = sqlx::query(
                    "UPDATE users SET status = $1, modified_at = $2, version = version + 1, \
                     modified_by = $3 WHERE id = $4 AND status = $5",
                )
                .bind(to.as_str())
                .bind(event.at.0)
                .bind(event.actor_reference())
                .bind(id.to_string())
                .bind(from.as_str())
                .execute(&mut *conn)
                .await
                .map_err(backend)?;
                if done.rows_affected() == 1 {
                    write_audit(conn, &event, &own).await?;
                    moved_.store(true, std::sync::atomic::Ordering::SeqCst);
                }
                Ok(())
            })
        }))
        .await?;
        if moved.load(std::sync::atomic::Ordering::SeqCst) {
            self.get_user(id).await
        } else {
            Ok(None)
        }
    }

    async fn write_event(&self, event: &AuditEvent) -> Result<(), StoreError> {
        let event = event.clone();
        let own = self.own.clone();
        self.run_write(job(move |conn| {
            Box::pin(async move { write_audit(conn, &event, &own).await })
        }))
        .await
    }

    async fn inactive_candidates(
        &self,
        cutoff: Timestamp,
        after: Option<Uuid>,
        limit: usize,
    ) -> Result<Vec<Uuid>, StoreError> {
        let rows = sqlx::query(
            "SELECT id FROM users WHERE status = $1 AND id > $4 AND created_at <= $2 \
             AND (last_login_at IS NULL OR last_login_at <= $2) \
             AND (revalidated_at IS NULL OR revalidated_at <= $2) ORDER BY id LIMIT $3",
        )
        .bind(Status::Active.as_str())
        .bind(cutoff.0)
        .bind(limit as i64)
        .bind(after.map(|id| id.to_string()).unwrap_or_default())
        .fetch_all(&self.read)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|r| parse_id(&r.try_get::<String, _>(0).map_err(backend)?))
            .collect()
    }

    async fn list_users(&self, q: &Query<User>) -> Result<Page<User>, StoreError> {
        let mut page = self.page(q, &USER_KIND).await?;
        self.load_groups_of(&mut page.items).await?;
        Ok(page)
    }

    async fn user_ids(&self, q: &Query<User>) -> Result<Vec<Uuid>, StoreError> {
        self.ids(q, &USER_KIND).await
    }

    async fn group_ids(&self, q: &Query<Group>) -> Result<Vec<Uuid>, StoreError> {
        self.ids(q, &GROUP_KIND).await
    }

    async fn resolve_members(&self, ids: &[Uuid]) -> Result<Vec<(Uuid, MemberKind)>, StoreError> {
        let mut found = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            // Banned records are no members.
            let mut sql =
                Sql::new("SELECT id, 'User' FROM users WHERE status <> 'banned' AND id IN (");
            sql.bind_list(chunk.iter().map(Uuid::to_string));
            sql.push(
                ") UNION ALL SELECT id, 'Group' FROM groups WHERE status <> 'banned' AND id IN (",
            );
            sql.bind_list(chunk.iter().map(Uuid::to_string));
            sql.push(")");
            for row in query(&sql).fetch_all(&self.read).await.map_err(backend)? {
                let id: String = row.try_get(0).map_err(backend)?;
                let kind: String = row.try_get(1).map_err(backend)?;
                let kind = if kind == "Group" {
                    MemberKind::Group
                } else {
                    MemberKind::User
                };
                found.push((parse_id(&id)?, kind));
            }
        }
        Ok(found)
    }

    async fn insert_group(&self, group: &Group, event: &AuditEvent) -> Result<(), StoreError> {
        let group = group.clone();
        let event = event.clone();
        let own = self.own.clone();
        self.run_write(job(move |conn| Box::pin(async move {
        sqlx::query(
            "INSERT INTO groups (id, display_name, display_name_lc, external_id, doc, created_at, modified_at, version, gid_number, created_by, modified_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(group.id.to_string())
        .bind(&group.attrs.display_name)
        .bind(group.attrs.display_name.to_lowercase())
        .bind(group.attrs.external_id.as_deref())
        .bind(to_json(&group.attrs)?)
        .bind(group.meta.created.0)
        .bind(group.meta.modified.0)
        .bind(group.meta.version)
        .bind(group.attrs.gid_number)
        .bind(&group.meta.created_by)
        .bind(&group.meta.modified_by)
        .execute(&mut *conn)
        .await
        .map_err(backend)?;
        add_members(conn, group.id, &group.members).await?;
        write_audit(conn, &event, &own).await?;
        Ok(())
        }))).await
    }

    async fn update_group(
        &self,
        group: &Group,
        expected_version: i64,
        replace_members: bool,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        let group = group.clone();
        let event = event.clone();
        let own = self.own.clone();
        self.run_write(job(move |conn| Box::pin(async move {
        let done = sqlx::query(
            "UPDATE groups SET display_name = $1, display_name_lc = $2, external_id = $3, doc = $4, \
             modified_at = $5, version = $6, gid_number = $9, modified_by = $10 WHERE id = $7 AND version = $8",
        )
        .bind(&group.attrs.display_name)
        .bind(group.attrs.display_name.to_lowercase())
        .bind(group.attrs.external_id.as_deref())
        .bind(to_json(&group.attrs)?)
        .bind(group.meta.modified.0)
        .bind(group.meta.version)
        .bind(group.id.to_string())
        .bind(expected_version)
        .bind(group.attrs.gid_number)
        .bind(&group.meta.modified_by)
        .execute(&mut *conn)
        .await
        .map_err(backend)?;
        if done.rows_affected() == 0 {
            return Err(missed_update(conn, "groups", group.id).await);
        }
        if replace_members {
            sqlx::query("DELETE FROM group_members WHERE group_id = $1")
                .bind(group.id.to_string())
                .execute(&mut *conn)
                .await
                .map_err(backend)?;
            add_members(conn, group.id, &group.members).await?;
        }
        write_audit(conn, &event, &own).await?;
        Ok(())
        }))).await
    }

    async fn modify_members(
        &self,
        group_id: Uuid,
        add: &[Member],
        remove: &[Uuid],
        modified: Timestamp,
        event: &AuditEvent,
    ) -> Result<i64, StoreError> {
        let add = add.to_vec();
        let remove = remove.to_vec();
        let event = event.clone();
        let own = self.own.clone();
        let version = Arc::new(std::sync::atomic::AtomicI64::new(0));
        let new_version = version.clone();
        self.write
            .run(job(move |conn| {
                Box::pin(async move {
                    let row = sqlx::query(
                        "UPDATE groups SET modified_at = $1, version = version + 1, modified_by = $3 WHERE id = $2 RETURNING version",
                    )
                    .bind(modified.0)
                    .bind(group_id.to_string())
                    .bind(event.actor_reference())
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(backend)?;
                    let Some(row) = row else {
                        return Err(StoreError::NotFound);
                    };
                    let v: i64 = row.try_get(0).map_err(backend)?;
                    new_version.store(v, std::sync::atomic::Ordering::SeqCst);
                    for chunk in remove.chunks(500) {
                        let mut sql = Sql::new("DELETE FROM group_members WHERE group_id = ");
                        sql.bind(Arg::Text(group_id.to_string()))
                            .push(" AND member_id IN (");
                        sql.bind_list(chunk.iter().map(Uuid::to_string)).push(")");
                        query(&sql).execute(&mut *conn).await.map_err(backend)?;
                    }
                    add_members(conn, group_id, &add).await?;
                    write_audit(conn, &event, &own).await?;
                    Ok(())
                })
            }))
            .await?;
        Ok(version.load(std::sync::atomic::Ordering::SeqCst))
    }

    async fn delete_group(&self, id: Uuid, event: &AuditEvent) -> Result<(), StoreError> {
        let id_text = id.to_string();
        let event = event.clone();
        let own = self.own.clone();
        self.write
            .run(job(move |conn| {
                Box::pin(async move {
                    sqlx::query("DELETE FROM group_members WHERE group_id = $1 OR member_id = $1")
                        .bind(&id_text)
                        .execute(&mut *conn)
                        .await
                        .map_err(backend)?;
                    let done = sqlx::query("DELETE FROM groups WHERE id = $1")
                        .bind(&id_text)
                        .execute(&mut *conn)
                        .await
                        .map_err(backend)?;
                    if done.rows_affected() == 0 {
                        return Err(StoreError::NotFound);
                    }
                    write_audit(conn, &event, &own).await?;
                    Ok(())
                })
            }))
            .await
    }

    async fn ban_group(&self, id: Uuid, event: &AuditEvent) -> Result<(), StoreError> {
        self.ban(&BANNED_GROUP, id, event).await
    }

    async fn restore_group(&self, id: Uuid, event: &AuditEvent) -> Result<(), StoreError> {
        self.restore(&BANNED_GROUP, id, event).await
    }

    async fn banned_groups(&self) -> Result<Vec<Group>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {GROUP_COLUMNS} FROM groups g WHERE g.status = $1 ORDER BY g.display_name, g.id"
        ))
        .bind(Status::Banned.as_str())
        .fetch_all(&self.read)
        .await
        .map_err(backend)?;
        rows.iter().map(group_from_row).collect()
    }

    async fn get_group(&self, id: Uuid, with_members: bool) -> Result<Option<Group>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {GROUP_COLUMNS} FROM groups g WHERE g.id = $1 AND g.status <> 'banned'"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.read)
        .await
        .map_err(backend)?;
        let Some(row) = row else { return Ok(None) };
        let mut groups = [group_from_row(&row)?];
        if with_members {
            self.load_members_of(&mut groups).await?;
        }
        let [group] = groups;
        Ok(Some(group))
    }

    async fn list_groups(
        &self,
        q: &Query<Group>,
        with_members: bool,
    ) -> Result<Page<Group>, StoreError> {
        let mut page = self.page(q, &GROUP_KIND).await?;
        if with_members {
            self.load_members_of(&mut page.items).await?;
        }
        Ok(page)
    }

    async fn insert_token(
        &self,
        token: &TokenRecord,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        let token = token.clone();
        let event = event.clone();
        let own = self.own.clone();
        self.run_write(job(move |conn| Box::pin(async move {
        sqlx::query(
            "INSERT INTO scim_tokens (id, name, secret_hash, created_at, scope) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&token.id)
        .bind(&token.name)
        .bind(hex(&token.secret_hash))
        .bind(token.created.0)
        .bind(token.scope.as_str())
        .execute(&mut *conn)
        .await
        .map_err(backend)?;
        write_audit(conn, &event, &own).await?;
        Ok(())
        }))).await
    }

    async fn get_token(&self, id: &str) -> Result<Option<TokenRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT id, name, secret_hash, created_at, scope FROM scim_tokens WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.read)
        .await
        .map_err(backend)?;
        let Some(row) = row else { return Ok(None) };
        let hash: String = row.try_get(2).map_err(backend)?;
        let scope: String = row.try_get(4).map_err(backend)?;
        Ok(Some(TokenRecord {
            scope: TokenScope::parse(&scope).ok_or_else(|| bad_row("token scope", &scope))?,
            id: row.try_get(0).map_err(backend)?,
            name: row.try_get(1).map_err(backend)?,
            secret_hash: unhex(&hash).ok_or_else(|| bad_row("token", "hash"))?,
            created: Timestamp(row.try_get(3).map_err(backend)?),
        }))
    }

    async fn reserve_numbers(&self, kind: &str, first: i64, count: i64) -> Result<i64, StoreError> {
        let kind = kind.to_string();
        let start = Arc::new(std::sync::atomic::AtomicI64::new(0));
        let out = start.clone();
        self.run_write(job(move |conn| {
            Box::pin(async move {
                sqlx::query(
                    "INSERT INTO posix_counters (kind, next) VALUES ($1, $2) ON CONFLICT (kind) DO NOTHING",
                )
                .bind(&kind)
                .bind(first)
                .execute(&mut *conn)
                .await
                .map_err(backend)?;
                let row = sqlx::query(
                    "UPDATE posix_counters SET next = (CASE WHEN next < $3 THEN $3 ELSE next END) + $1 \
                     WHERE kind = $2 RETURNING next",
                )
                .bind(count)
                .bind(&kind)
                .bind(first)
                .fetch_one(&mut *conn)
                .await
                .map_err(backend)?;
                let next: i64 = row.try_get(0).map_err(backend)?;
                out.store(next - count, std::sync::atomic::Ordering::SeqCst);
                Ok(())
            })
        }))
        .await?;
        Ok(start.load(std::sync::atomic::Ordering::SeqCst))
    }

    async fn count_tokens(&self) -> Result<usize, StoreError> {
        let n: i64 = sqlx::query("SELECT COUNT(*) FROM scim_tokens")
            .fetch_one(&self.read)
            .await
            .map_err(backend)?
            .try_get(0)
            .map_err(backend)?;
        Ok(n as usize)
    }

    async fn prune_audit(&self, before: Timestamp) -> Result<u64, StoreError> {
        self.write_returning(move |conn| {
            Box::pin(async move {
                let done = sqlx::query("DELETE FROM audit_events WHERE at < $1")
                    .bind(before.0)
                    .execute(&mut *conn)
                    .await
                    .map_err(backend)?;
                Ok(done.rows_affected())
            })
        })
        .await
    }

    async fn audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEvent>, StoreError> {
        let mut sql = Sql::new(
            "SELECT at, actor, protocol, client, action, target_kind, target_id, target_name, attributes \
             FROM audit_events WHERE at >= ",
        );
        sql.bind(Arg::Int(filter.since.map_or(i64::MIN, |t| t.0)));
        if !filter.targets.is_empty() {
            sql.push(" AND target_id IN (");
            sql.bind_list(filter.targets.iter().map(Uuid::to_string));
            sql.push(")");
        }
        sql.push(" ORDER BY id DESC LIMIT ")
            .bind(Arg::Int(filter.limit as i64));
        let rows = query(&sql).fetch_all(&self.read).await.map_err(backend)?;
        rows.iter()
            .map(|r| {
                let attributes: String = r.try_get(8).map_err(backend)?;
                Ok(AuditEvent {
                    at: Timestamp(r.try_get(0).map_err(backend)?),
                    actor: r.try_get(1).map_err(backend)?,
                    protocol: r.try_get(2).map_err(backend)?,
                    client: r.try_get(3).map_err(backend)?,
                    action: r.try_get(4).map_err(backend)?,
                    target_kind: r.try_get(5).map_err(backend)?,
                    target_id: r.try_get(6).map_err(backend)?,
                    target_name: r.try_get(7).map_err(backend)?,
                    attributes: serde_json::from_str(&attributes)
                        .map_err(|e| bad_row("audit", e))?,
                })
            })
            .collect()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn redacts_passwords_in_urls() {
        assert_eq!(
            super::redact("postgres://roster:secret@db/roster"),
            "postgres://roster:***@db/roster"
        );
        assert_eq!(
            super::redact("sqlite://data/roster.db"),
            "sqlite://data/roster.db"
        );
    }
}
