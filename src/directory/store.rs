//! The port the core needs from a database. `crate::store` implements it
//! for SQLite and PostgreSQL. Every method that changes data takes the
//! audit event to write in the same transaction.

use async_trait::async_trait;
use uuid::Uuid;

use super::audit::AuditEvent;
use super::error::StoreError;
use super::model::{Group, Member, MemberKind, Status, TokenRecord, User};
use super::policy::LockRule;
use super::query::{Page, Query};
use super::time::Timestamp;

/// Which audit events to read.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Events about these record ids only; empty: about anything.
    pub targets: Vec<Uuid>,
    /// Events at or after this time only.
    pub since: Option<Timestamp>,
    pub limit: usize,
}

/// A new user for `Store::insert_users`: the record, its password hash (if
/// any) and its creation event.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub user: User,
    pub hash: Option<String>,
    pub event: AuditEvent,
}

/// A user's TOTP secrets (base32), as stored.
#[derive(Debug, Clone, Default)]
pub struct TotpSecrets {
    /// The confirmed secret that binds check.
    pub confirmed: Option<String>,
    /// A secret handed out at enrolment, awaiting its first code.
    pub pending: Option<String>,
    /// The last time step accepted.
    pub last_step: Option<i64>,
}

/// Persistent storage of the directory.
#[async_trait]
pub trait Store: Send + Sync {
    /// Checks that the database answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// The attribute tables (built-in and declared) the store indexes by.
    fn attributes(&self) -> super::attributes::Attributes;

    /// Keeps a binary value under its digest (nothing changes when one is
    /// kept there already).
    async fn put_blob(&self, blob: &super::declared::Blob) -> Result<(), StoreError>;

    /// A binary value by its digest: its media type and bytes.
    async fn get_blob(&self, digest: &str) -> Result<Option<(String, Vec<u8>)>, StoreError>;

    /// Inserts a new user (and its password hash, if any).
    async fn insert_user(
        &self,
        user: &User,
        password_hash: Option<&str>,
        event: &AuditEvent,
    ) -> Result<(), StoreError>;

    /// Inserts many new users in one transaction, all or none (an import's
    /// batch; on a failure the caller inserts them one at a time).
    async fn insert_users(&self, users: &[NewUser]) -> Result<(), StoreError>;

    /// Replaces a user's attributes and status, provided its stored version
    /// is still `expected_version`. A `Some` hash replaces the password.
    /// The login counters are left alone, unless `revalidate`: then they
    /// are cleared and the inactivity clock restarts at the change.
    async fn update_user(
        &self,
        user: &User,
        expected_version: i64,
        password_hash: Option<&str>,
        revalidate: bool,
        event: &AuditEvent,
    ) -> Result<(), StoreError>;

    /// Counts a failed login of user `id` and writes `failure`, in one
    /// transaction that concurrent failures go through one at a time: the
    /// count starts again after `rule.window_start`; when it reaches
    /// `rule.max_failures` on an active account (or on one whose lock ran
    /// out) the account is locked and `lock` written too, once. Returns the
    /// user as it now is.
    async fn record_login_failure(
        &self,
        id: Uuid,
        rule: &LockRule,
        failure: &AuditEvent,
        lock: &AuditEvent,
    ) -> Result<Option<User>, StoreError>;

    /// Records a successful login at `event.at`: failures cleared, a lock
    /// that ran out lifted. Returns the user as it now is.
    async fn record_login_success(
        &self,
        id: Uuid,
        event: &AuditEvent,
    ) -> Result<Option<User>, StoreError>;

    /// Moves user `id` from status `from` to `to`, as the server decided
    /// (inactivity); nothing when it is no longer in `from`. Returns the
    /// user when it moved.
    async fn change_status(
        &self,
        id: Uuid,
        from: Status,
        to: Status,
        event: &AuditEvent,
    ) -> Result<Option<User>, StoreError>;

    /// Writes an event that goes with no change (a failed login of an
    /// unknown user).
    async fn write_event(&self, event: &AuditEvent) -> Result<(), StoreError>;

    /// Up to `limit` active users, in id order after `after`, whose last
    /// login, re-validation and creation are all at or before `cutoff`.
    async fn inactive_candidates(
        &self,
        cutoff: Timestamp,
        after: Option<Uuid>,
        limit: usize,
    ) -> Result<Vec<Uuid>, StoreError>;

    /// Deletes a user and its memberships for good (a purge; a SCIM DELETE
    /// bans instead).
    async fn delete_user(&self, id: Uuid, event: &AuditEvent) -> Result<(), StoreError>;

    /// Bans a user: its status becomes banned, its userName is free for a
    /// new account and its memberships end; the record and its audit
    /// history stay. `NotFound` when there is no such user or it is
    /// banned already.
    async fn ban_user(&self, id: Uuid, event: &AuditEvent) -> Result<(), StoreError>;

    /// Brings a banned user back as `disabled`, its userName taken again
    /// (`Conflict` when another account has it meanwhile).
    async fn restore_user(&self, id: Uuid, event: &AuditEvent) -> Result<(), StoreError>;

    /// Banned users, by userName.
    async fn banned_users(&self) -> Result<Vec<User>, StoreError>;

    async fn get_user(&self, id: Uuid) -> Result<Option<User>, StoreError>;

    /// Finds a user by userName, ignoring case.
    async fn get_user_by_name(&self, user_name: &str) -> Result<Option<User>, StoreError>;

    /// The stored password hash of a user, if one is set.
    async fn password_hash(&self, id: Uuid) -> Result<Option<String>, StoreError>;

    /// Stores a user's password hash: a new password changed at `changed`,
    /// or (`None`) a new hash of the same password, whose time of change
    /// stays.
    async fn set_password(
        &self,
        id: Uuid,
        hash: &str,
        changed: Option<Timestamp>,
        event: &AuditEvent,
    ) -> Result<(), StoreError>;

    /// The user's current password hash and up to `limit - 1` earlier
    /// ones, newest first (`limit` 0: none).
    async fn password_history(&self, id: Uuid, limit: usize) -> Result<Vec<String>, StoreError>;

    /// Counts a bind made with an expired password, unless `max` have been
    /// made since the password was set: how many remain after this one, or
    /// `None` when none did.
    async fn use_grace_login(&self, id: Uuid, max: i64) -> Result<Option<i64>, StoreError>;

    /// Stores a TOTP secret awaiting confirmation (replacing one that was
    /// never confirmed; a confirmed one stays until this one is).
    async fn start_totp(
        &self,
        id: Uuid,
        secret: &str,
        event: &AuditEvent,
    ) -> Result<(), StoreError>;

    async fn totp_secrets(&self, id: Uuid) -> Result<TotpSecrets, StoreError>;

    /// Makes the pending secret the confirmed one, `step` used, and the
    /// user enrolled at `event.at` (`NotFound` when nothing is pending).
    async fn confirm_totp(
        &self,
        id: Uuid,
        step: i64,
        event: &AuditEvent,
    ) -> Result<Option<User>, StoreError>;

    /// Uses time step `step` of user `id`'s confirmed secret, atomically:
    /// false when it or a later step was used already (a replay).
    async fn use_totp_step(&self, id: Uuid, step: i64) -> Result<bool, StoreError>;

    /// Removes the user's TOTP (an administrator's reset or disable).
    async fn remove_totp(&self, id: Uuid, event: &AuditEvent) -> Result<Option<User>, StoreError>;

    /// Stores a set-password link's token hash for user `id`, valid until
    /// `expires`.
    async fn insert_invite(
        &self,
        id: Uuid,
        token_hash: &str,
        expires: Timestamp,
        event: &AuditEvent,
    ) -> Result<(), StoreError>;

    /// The user a set-password link is for, if it is unused and unexpired
    /// at `now`; with `redeem`, it is used up (atomically: once).
    async fn invite_user(
        &self,
        token_hash: &str,
        now: Timestamp,
        redeem: bool,
    ) -> Result<Option<Uuid>, StoreError>;

    async fn list_users(&self, query: &Query<User>) -> Result<Page<User>, StoreError>;

    /// The ids of the users a query matches, in its order and window.
    async fn user_ids(&self, query: &Query<User>) -> Result<Vec<Uuid>, StoreError>;

    /// Up to `limit` served users with `value` (normalised as the index
    /// keeps it) in the indexed attribute `key`: one index lookup, where a
    /// filter query may scan (the command line has no in-memory view).
    async fn users_with(
        &self,
        key: &'static str,
        value: &str,
        limit: usize,
    ) -> Result<Vec<Uuid>, StoreError>;

    /// The ids of the groups a query matches, in its order and window.
    async fn group_ids(&self, query: &Query<Group>) -> Result<Vec<Uuid>, StoreError>;

    /// Which of `ids` exist, and whether each is a user or a group.
    async fn resolve_members(&self, ids: &[Uuid]) -> Result<Vec<(Uuid, MemberKind)>, StoreError>;

    /// Inserts a new group with its members.
    async fn insert_group(&self, group: &Group, event: &AuditEvent) -> Result<(), StoreError>;

    /// Replaces a group's attributes, and its members too when
    /// `replace_members`, provided its version is still `expected_version`.
    async fn update_group(
        &self,
        group: &Group,
        expected_version: i64,
        replace_members: bool,
        event: &AuditEvent,
    ) -> Result<(), StoreError>;

    /// Adds and removes the named members only; the rest of the group is
    /// not rewritten. Returns the group's new version.
    async fn modify_members(
        &self,
        group_id: Uuid,
        add: &[Member],
        remove: &[Uuid],
        modified: Timestamp,
        event: &AuditEvent,
    ) -> Result<i64, StoreError>;

    async fn delete_group(&self, id: Uuid, event: &AuditEvent) -> Result<(), StoreError>;

    /// Bans a group, as `ban_user` a user: no longer served, its name free,
    /// its memberships (its members, and where it is a member) ended; the
    /// record and its audit history stay.
    async fn ban_group(&self, id: Uuid, event: &AuditEvent) -> Result<(), StoreError>;

    /// Brings a banned group back (without the memberships that ended
    /// with the ban); `Conflict` when its name was taken meanwhile.
    async fn restore_group(&self, id: Uuid, event: &AuditEvent) -> Result<(), StoreError>;

    /// Banned groups, by name.
    async fn banned_groups(&self) -> Result<Vec<Group>, StoreError>;

    /// A group; its members are loaded only when `with_members`.
    async fn get_group(&self, id: Uuid, with_members: bool) -> Result<Option<Group>, StoreError>;

    /// Lists groups; members are loaded only when `with_members`.
    async fn list_groups(
        &self,
        query: &Query<Group>,
        with_members: bool,
    ) -> Result<Page<Group>, StoreError>;

    async fn insert_token(&self, token: &TokenRecord, event: &AuditEvent)
        -> Result<(), StoreError>;

    async fn get_token(&self, id: &str) -> Result<Option<TokenRecord>, StoreError>;

    async fn count_tokens(&self) -> Result<usize, StoreError>;

    /// Reserves `count` consecutive numbers of a kind (`uid`, `gid`) that
    /// were never handed out, the first of them at least `first`; returns
    /// the first reserved.
    async fn reserve_numbers(&self, kind: &str, first: i64, count: i64) -> Result<i64, StoreError>;

    /// The newest `limit` audit events, newest first.
    async fn recent_audit(&self, limit: usize) -> Result<Vec<AuditEvent>, StoreError> {
        self.audit(&AuditFilter {
            targets: Vec::new(),
            since: None,
            limit,
        })
        .await
    }

    /// Deletes the audit events from before `before`; returns how many.
    async fn prune_audit(&self, before: Timestamp) -> Result<u64, StoreError>;

    /// The newest events that `filter` selects, newest first.
    async fn audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEvent>, StoreError>;
}
