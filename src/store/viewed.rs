//! The store a server runs on: every write goes to the database (and is
//! acknowledged once durable), then into the in-memory [`View`]; reads of
//! users and groups are answered by the view. Secrets (password hashes) and
//! anything a write depends on are always read from the database.
//!
//! Other writers — another node on the same PostgreSQL database, or the
//! command line on the same SQLite file — are caught up with by polling the
//! audit trail, which every change writes in its own transaction: each
//! `store.refresh_interval` the records named by new events are read again.
//! Event ids can commit out of order under concurrency, so the poll looks
//! back over a window of ids and skips the ones it has already seen.

use std::collections::BTreeSet;
use std::sync::{Arc, Weak};

use async_trait::async_trait;
use uuid::Uuid;

use super::view::{Loading, View};
use super::{reindex, OwnEvents, SqlStore};
use crate::config::StoreConfig;
use crate::directory::policy::LockRule;
use crate::directory::store::{AuditFilter, NewUser, TotpSecrets};
use crate::directory::{
    AuditEvent, Group, Member, MemberKind, Page, Query, Status, Store, StoreError, Timestamp,
    TokenRecord, User,
};

/// How far below the newest event id seen the poll looks again.
const LOOKBACK: i64 = 100;

/// Users read per query when the view is loaded.
const LOAD_BATCH: u32 = 2000;

pub struct ViewedStore {
    sql: SqlStore,
    view: View,
    /// Events this process wrote: already in the view.
    own: Arc<OwnEvents>,
    /// The newest event id applied, and the ids applied within the
    /// look-back window below it.
    seen: std::sync::Mutex<(i64, BTreeSet<i64>)>,
}

impl ViewedStore {
    /// Loads the view from the database and starts keeping it in step.
    pub async fn start(sql: SqlStore, config: &StoreConfig) -> Result<Arc<dyn Store>, StoreError> {
        let own = sql.track_own_events();
        let last = sql.last_change().await?;
        // What is committed up to `last` is in the load below; an event
        // below it that commits later is not among these and will be read.
        let committed = sql.event_ids(last.saturating_sub(LOOKBACK), last).await?;
        let view = View::new(sql.attrs);
        let mut loading = Loading::default();
        let mut after = None;
        let mut conn = sql.read_connection().await?;
        let declared = sql.declared_index_keys();
        let mut held = reindex::Counts::new();
        loop {
            let users = sql.users_after(&mut conn, after, LOAD_BATCH).await?;
            view.load_users(&mut loading, &users);
            sql.count_values(&declared, &users, &mut held);
            match users.last() {
                Some(last) if users.len() == LOAD_BATCH as usize => after = Some(last.id),
                _ => break,
            }
        }
        view.finish_loading(loading);
        // Declared attributes made indexed since the users got their
        // values: their index rows are written now.
        let indexed = sql.indexed_users(&declared).await?;
        let stale: Vec<&'static str> = declared
            .iter()
            .copied()
            .filter(|k| held.get(k).copied().unwrap_or(0) != indexed.get(k).copied().unwrap_or(0))
            .collect();
        if !stale.is_empty() {
            tracing::info!(attributes = ?stale, "indexing declared attributes");
            sql.clear_index(stale.clone()).await?;
            let mut after = None;
            loop {
                let users = sql.users_after(&mut conn, after, LOAD_BATCH).await?;
                sql.index_batch(&stale, &users).await?;
                match users.last() {
                    Some(last) if users.len() == LOAD_BATCH as usize => after = Some(last.id),
                    _ => break,
                }
            }
        }
        view.load_groups(&sql.all_groups().await?);
        let (u, g) = view.counts();
        tracing::info!(users = u, groups = g, "read model loaded");
        let store = Arc::new(ViewedStore {
            sql,
            view,
            own,
            seen: std::sync::Mutex::new((last, committed.into_iter().collect())),
        });
        let every = config.refresh_interval;
        if !every.is_zero() {
            tokio::spawn(poll(Arc::downgrade(&store), every));
        }
        Ok(store)
    }

    /// Puts a user the database just returned into the view.
    fn view_user(&self, user: Option<User>) -> Result<Option<User>, StoreError> {
        if let Some(u) = &user {
            self.view.put_user(u);
        }
        Ok(user)
    }

    /// Reads again the records that changed since the last poll.
    async fn refresh(&self) -> Result<usize, StoreError> {
        let low = {
            let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
            seen.0.saturating_sub(LOOKBACK)
        };
        let events = self.sql.changes_after(low).await?;
        let fresh: Vec<(i64, String, Uuid)> = {
            let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
            events
                .into_iter()
                .filter(|(id, _, _)| !seen.1.contains(id))
                .collect()
        };
        // What this process wrote is in the view already.
        let others: Vec<&(i64, String, Uuid)> = fresh
            .iter()
            .filter(|(id, _, _)| !self.own.take(*id))
            .collect();
        let mut targets: Vec<(String, Uuid)> =
            others.iter().map(|(_, k, t)| (k.clone(), *t)).collect();
        targets.sort();
        targets.dedup();
        for (kind, id) in &targets {
            if kind == "user" {
                match self.sql.get_user(*id).await? {
                    Some(user) if user.status == Status::Banned => self.view.withdraw_user(*id),
                    Some(user) => self.view.put_user(&user),
                    None => self.view.remove_user(*id),
                }
            } else {
                // A banned group reads as none; it may come back.
                match self.sql.get_group(*id, true).await? {
                    Some(group) => self.view.put_group(&group, true),
                    None => self.view.withdraw_group(*id),
                }
            }
        }
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let (high, ids) = &mut *seen;
        for (id, _, _) in &fresh {
            ids.insert(*id);
            *high = (*high).max(*id);
        }
        *ids = ids.split_off(&high.saturating_sub(LOOKBACK));
        self.own.forget_below(high.saturating_sub(LOOKBACK));
        Ok(targets.len())
    }
}

async fn poll(store: Weak<ViewedStore>, every: std::time::Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(store) = store.upgrade() else { return };
        match store.refresh().await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(records = n, "read model caught up"),
            Err(e) => tracing::warn!(error = %e, "read model refresh failed; retrying"),
        }
    }
}

#[async_trait]
impl Store for ViewedStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.sql.ping().await
    }

    fn attributes(&self) -> crate::directory::attributes::Attributes {
        self.sql.attrs
    }

    async fn put_blob(&self, blob: &crate::directory::declared::Blob) -> Result<(), StoreError> {
        self.sql.put_blob(blob).await
    }

    async fn get_blob(&self, digest: &str) -> Result<Option<(String, Vec<u8>)>, StoreError> {
        self.sql.get_blob(digest).await
    }

    async fn insert_user(
        &self,
        user: &User,
        password_hash: Option<&str>,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        self.sql.insert_user(user, password_hash, event).await?;
        self.view.put_user(user);
        Ok(())
    }

    async fn insert_users(&self, users: &[NewUser]) -> Result<(), StoreError> {
        self.sql.insert_users(users).await?;
        for n in users {
            self.view.put_user(&n.user);
        }
        Ok(())
    }

    async fn update_user(
        &self,
        user: &User,
        expected_version: i64,
        password_hash: Option<&str>,
        revalidate: bool,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        self.sql
            .update_user(user, expected_version, password_hash, revalidate, event)
            .await?;
        self.view.put_user(user);
        Ok(())
    }

    async fn record_login_failure(
        &self,
        id: Uuid,
        rule: &LockRule,
        failure: &AuditEvent,
        lock: &AuditEvent,
    ) -> Result<Option<User>, StoreError> {
        let user = self
            .sql
            .record_login_failure(id, rule, failure, lock)
            .await?;
        self.view_user(user)
    }

    async fn record_login_success(
        &self,
        id: Uuid,
        event: &AuditEvent,
    ) -> Result<Option<User>, StoreError> {
        let user = self.sql.record_login_success(id, event).await?;
        self.view_user(user)
    }

    async fn change_status(
        &self,
        id: Uuid,
        from: Status,
        to: Status,
        event: &AuditEvent,
    ) -> Result<Option<User>, StoreError> {
        let user = self.sql.change_status(id, from, to, event).await?;
        if user.is_none() {
            // Another writer moved it first (the inactivity sweep, a bind
            // on another connection): the view must not lag behind what
            // the caller is about to answer.
            if let Some(current) = self.sql.get_user(id).await? {
                if current.status != Status::Banned {
                    self.view.put_user(&current);
                }
            }
        }
        self.view_user(user)
    }

    async fn write_event(&self, event: &AuditEvent) -> Result<(), StoreError> {
        self.sql.write_event(event).await
    }

    async fn inactive_candidates(
        &self,
        cutoff: Timestamp,
        after: Option<Uuid>,
        limit: usize,
    ) -> Result<Vec<Uuid>, StoreError> {
        self.sql.inactive_candidates(cutoff, after, limit).await
    }

    async fn delete_user(&self, id: Uuid, event: &AuditEvent) -> Result<(), StoreError> {
        self.sql.delete_user(id, event).await?;
        self.view.remove_user(id);
        Ok(())
    }

    async fn ban_user(&self, id: Uuid, event: &AuditEvent) -> Result<(), StoreError> {
        self.sql.ban_user(id, event).await?;
        self.view.withdraw_user(id);
        Ok(())
    }

    async fn restore_user(&self, id: Uuid, event: &AuditEvent) -> Result<(), StoreError> {
        self.sql.restore_user(id, event).await?;
        let user = self.sql.get_user(id).await?;
        self.view_user(user)?;
        Ok(())
    }

    async fn banned_users(&self) -> Result<Vec<User>, StoreError> {
        self.sql.banned_users().await
    }

    async fn get_user(&self, id: Uuid) -> Result<Option<User>, StoreError> {
        Ok(self.view.get_user(&id))
    }

    async fn get_user_by_name(&self, user_name: &str) -> Result<Option<User>, StoreError> {
        Ok(self.view.get_user_by_name(user_name))
    }

    async fn password_hash(&self, id: Uuid) -> Result<Option<String>, StoreError> {
        self.sql.password_hash(id).await
    }

    async fn set_password(
        &self,
        id: Uuid,
        hash: &str,
        changed: Option<Timestamp>,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        self.sql.set_password(id, hash, changed, event).await?;
        if let Some(at) = changed {
            self.view.password_set(&id, at);
        }
        Ok(())
    }

    async fn password_history(&self, id: Uuid, limit: usize) -> Result<Vec<String>, StoreError> {
        self.sql.password_history(id, limit).await
    }

    async fn use_grace_login(&self, id: Uuid, max: i64) -> Result<Option<i64>, StoreError> {
        self.sql.use_grace_login(id, max).await
    }

    async fn start_totp(
        &self,
        id: Uuid,
        secret: &str,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        self.sql.start_totp(id, secret, event).await
    }

    async fn totp_secrets(&self, id: Uuid) -> Result<TotpSecrets, StoreError> {
        self.sql.totp_secrets(id).await
    }

    async fn confirm_totp(
        &self,
        id: Uuid,
        step: i64,
        event: &AuditEvent,
    ) -> Result<Option<User>, StoreError> {
        let user = self.sql.confirm_totp(id, step, event).await?;
        self.view_user(user)
    }

    async fn use_totp_step(&self, id: Uuid, step: i64) -> Result<bool, StoreError> {
        self.sql.use_totp_step(id, step).await
    }

    async fn remove_totp(&self, id: Uuid, event: &AuditEvent) -> Result<Option<User>, StoreError> {
        let user = self.sql.remove_totp(id, event).await?;
        self.view_user(user)
    }

    async fn insert_invite(
        &self,
        id: Uuid,
        token_hash: &str,
        expires: Timestamp,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        self.sql.insert_invite(id, token_hash, expires, event).await
    }

    async fn invite_user(
        &self,
        token_hash: &str,
        now: Timestamp,
        redeem: bool,
    ) -> Result<Option<Uuid>, StoreError> {
        self.sql.invite_user(token_hash, now, redeem).await
    }

    async fn list_users(&self, query: &Query<User>) -> Result<Page<User>, StoreError> {
        Ok(self.view.list_users(query))
    }

    async fn user_ids(&self, query: &Query<User>) -> Result<Vec<Uuid>, StoreError> {
        Ok(self.view.user_ids(query))
    }

    async fn group_ids(&self, query: &Query<Group>) -> Result<Vec<Uuid>, StoreError> {
        Ok(self.view.group_ids(query))
    }

    async fn users_with(
        &self,
        key: &'static str,
        value: &str,
        limit: usize,
    ) -> Result<Vec<Uuid>, StoreError> {
        // The view's own index answers it.
        let Some(def) = crate::directory::attributes::by_key(self.sql.attrs.users, key) else {
            return Ok(Vec::new());
        };
        let filter = crate::directory::Filter::Compare(
            def,
            crate::directory::Op::Eq,
            crate::directory::Value::Str(value.to_string()),
        );
        Ok(self.view.user_ids(&Query::new(filter, 0, limit)))
    }

    async fn resolve_members(&self, ids: &[Uuid]) -> Result<Vec<(Uuid, MemberKind)>, StoreError> {
        self.sql.resolve_members(ids).await
    }

    async fn insert_group(&self, group: &Group, event: &AuditEvent) -> Result<(), StoreError> {
        self.sql.insert_group(group, event).await?;
        self.view.put_group(group, true);
        Ok(())
    }

    async fn update_group(
        &self,
        group: &Group,
        expected_version: i64,
        replace_members: bool,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        self.sql
            .update_group(group, expected_version, replace_members, event)
            .await?;
        self.view.put_group(group, replace_members);
        Ok(())
    }

    async fn modify_members(
        &self,
        group_id: Uuid,
        add: &[Member],
        remove: &[Uuid],
        modified: Timestamp,
        event: &AuditEvent,
    ) -> Result<i64, StoreError> {
        let version = self
            .sql
            .modify_members(group_id, add, remove, modified, event)
            .await?;
        let by = event.actor_reference();
        self.view
            .modify_members(group_id, add, remove, modified, version, &by);
        Ok(version)
    }

    async fn delete_group(&self, id: Uuid, event: &AuditEvent) -> Result<(), StoreError> {
        self.sql.delete_group(id, event).await?;
        self.view.remove_group(id);
        Ok(())
    }

    async fn ban_group(&self, id: Uuid, event: &AuditEvent) -> Result<(), StoreError> {
        self.sql.ban_group(id, event).await?;
        self.view.withdraw_group(id);
        Ok(())
    }

    async fn restore_group(&self, id: Uuid, event: &AuditEvent) -> Result<(), StoreError> {
        self.sql.restore_group(id, event).await?;
        if let Some(group) = self.sql.get_group(id, true).await? {
            self.view.put_group(&group, true);
        }
        Ok(())
    }

    async fn banned_groups(&self) -> Result<Vec<Group>, StoreError> {
        self.sql.banned_groups().await
    }

    async fn get_group(&self, id: Uuid, with_members: bool) -> Result<Option<Group>, StoreError> {
        Ok(self.view.get_group(&id, with_members))
    }

    async fn list_groups(
        &self,
        query: &Query<Group>,
        with_members: bool,
    ) -> Result<Page<Group>, StoreError> {
        Ok(self.view.list_groups(query, with_members))
    }

    async fn insert_token(
        &self,
        token: &TokenRecord,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        self.sql.insert_token(token, event).await
    }

    async fn get_token(&self, id: &str) -> Result<Option<TokenRecord>, StoreError> {
        self.sql.get_token(id).await
    }

    async fn reserve_numbers(&self, kind: &str, first: i64, count: i64) -> Result<i64, StoreError> {
        self.sql.reserve_numbers(kind, first, count).await
    }

    async fn count_tokens(&self) -> Result<usize, StoreError> {
        self.sql.count_tokens().await
    }

    async fn prune_audit(&self, before: Timestamp) -> Result<u64, StoreError> {
        self.sql.prune_audit(before).await
    }

    async fn audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEvent>, StoreError> {
        self.sql.audit(filter).await
    }
}
