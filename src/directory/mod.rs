//! The core: the only place that knows the directory's rules. Both protocol
//! faces call [`Directory`]; it validates, hashes, records audit events and
//! hands durable changes to a [`Store`].

pub mod attributes;
pub mod audit;
mod credentials;
mod custom;
pub mod declared;
pub mod error;
pub mod model;
pub mod password;
pub mod policy;
pub mod posix;
pub mod profile;
pub mod quality;
pub mod query;
pub mod store;
pub mod time;
pub mod token;
pub mod totp;
mod validate;

use std::sync::Arc;

use uuid::Uuid;

pub use audit::AuditEvent;
pub use credentials::Enrolment;
pub use error::{DirectoryError, StoreError};
pub use model::*;
pub use query::{Filter, Op, Page, Query, Sort, Substrings, Value};
pub use store::Store;
pub use time::{Clock, ManualClock, SystemClock, Timestamp};

use crate::config::{Config, MfaConfig, PosixConfig};
use declared::Resource;
use password::Hasher;
use policy::{Policy, Standing};
use posix::Allocator;
use quality::Quality;

type Result<T> = std::result::Result<T, DirectoryError>;

/// A successful login: the user as they now are, and what they should be
/// told (the password policy control's warning, over LDAP).
#[derive(Debug, Clone)]
pub struct Login {
    pub user: User,
    pub warning: Option<Warning>,
}

/// A warning that goes with a successful login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Warning {
    /// The password expires in this many seconds (`password.expiry_warning`).
    ExpiresIn(i64),
    /// The password has expired; this many grace logins remain.
    GraceLeft(i64),
}

/// A new account for `Directory::create_users`.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub attrs: UserAttrs,
    pub active: bool,
    pub credential: Credential,
}

/// How a new account's password arrives.
#[derive(Clone)]
pub enum Credential {
    None,
    /// A password to check against the policy and hash.
    Password(String),
    /// A hash from another directory (`{SSHA}…`, `$argon2id$…`).
    Hash(String),
    /// A cleartext password already in use elsewhere (an LDIF export's
    /// `userPassword`): hashed, not held to the quality rules.
    InUse(String),
}

// By hand: a password never reaches a log line.
impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Credential::None => "None",
            Credential::Password(_) => "Password(********)",
            Credential::Hash(_) => "Hash(…)",
            Credential::InUse(_) => "InUse(********)",
        })
    }
}

/// Why credentials are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    /// A login (an LDAP bind).
    Login,
    /// Enrolling a second factor: a required factor that is not enrolled
    /// yet does not stop it.
    Enrol,
}

/// The directory service shared by SCIM, LDAP and the CLI.
#[derive(Clone)]
pub struct Directory {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    hasher: Hasher,
    tokens: Arc<TokenCache>,
    /// Replace imported hashes of weaker schemes with argon2id at the
    /// first successful bind.
    rehash_on_bind: bool,
    /// Whether a password set by an operator / over SCIM must be changed.
    must_change_after_reset: bool,
    must_change_after_scim_set: bool,
    /// POSIX numbers for new users and groups; `None` when POSIX is off.
    posix: Option<Arc<Allocator>>,
    /// The account rules.
    policy: Arc<Policy>,
    /// The password quality rules.
    quality: Arc<Quality>,
    mfa: MfaConfig,
    /// `groups.protected`: groups that cannot be deleted, renamed or have
    /// their permissions changed.
    protected_groups: Vec<String>,
    /// The name rules.
    profile: Arc<profile::Profile>,
    /// `profile.unique_email`.
    unique_email: bool,
    /// `password.invite_valid_for`.
    invite_valid_for: std::time::Duration,
    /// `audit.retention`: zero keeps events forever.
    audit_retention: std::time::Duration,
}

/// Token records recently read from the store, so that a SCIM request does
/// not cost a database read to authenticate. Only the stored (hashed)
/// record is kept; the presented secret is checked on every request.
#[derive(Default)]
struct TokenCache(
    std::sync::Mutex<std::collections::HashMap<String, (TokenRecord, std::time::Instant)>>,
);

/// How long a token record is trusted without reading it again.
const TOKEN_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(10);
/// Most token records kept.
const TOKEN_CACHE_SIZE: usize = 1024;

impl TokenCache {
    fn get(&self, id: &str) -> Option<TokenRecord> {
        let cache = self.0.lock().ok()?;
        cache
            .get(id)
            .filter(|(_, at)| at.elapsed() < TOKEN_CACHE_TTL)
            .map(|(record, _)| record.clone())
    }

    fn put(&self, record: &TokenRecord) {
        if let Ok(mut cache) = self.0.lock() {
            if cache.len() >= TOKEN_CACHE_SIZE {
                cache.clear();
            }
            cache.insert(
                record.id.clone(),
                (record.clone(), std::time::Instant::now()),
            );
        }
    }
}

/// A new password to set, or leave the current one.
pub type NewPassword = Option<String>;

/// A replacement of a user's writable attributes.
#[derive(Debug, Clone, Default)]
pub struct UserChange {
    pub attrs: UserAttrs,
    /// The new active flag; `None` leaves the status and unassigns `active`.
    pub active: Option<bool>,
    pub password: NewPassword,
    /// Fail unless the user is still at this version.
    pub expected_version: Option<i64>,
    /// Keep the POSIX attributes the user has (a replacement that does not
    /// assert them: identity providers know nothing of them, and clearing
    /// a uidNumber would orphan the user's files).
    pub keep_posix: bool,
}

impl Directory {
    /// The service over `store`, with the rules `config` sets.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, config: &Config) -> Result<Directory> {
        let (password, posix, policy) = (&config.password, &config.posix, &config.policy);
        let quality = Quality::new(password).map_err(|e| DirectoryError::invalid("config", e))?;
        Ok(Directory {
            quality: Arc::new(quality),
            mfa: config.mfa.clone(),
            audit_retention: config.audit.retention,
            invite_valid_for: config.password.invite_valid_for,
            protected_groups: config.groups.protected.clone(),
            unique_email: config.profile.unique_email,
            profile: Arc::new(
                profile::Profile::new(&config.profile)
                    .map_err(|e| DirectoryError::invalid("config", e))?,
            ),
            posix: match posix.enabled {
                true => Some(Arc::new(Allocator::new(posix)?)),
                false => None,
            },
            store,
            clock,
            hasher: Hasher::new(password)?,
            tokens: Arc::default(),
            rehash_on_bind: password.rehash_on_bind,
            must_change_after_reset: password.must_change_after_reset,
            must_change_after_scim_set: password.must_change_after_scim_set,
            policy: Arc::new(Policy::new(policy).with_passwords(password)),
        })
    }

    /// The account rules in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The current time by the injected clock.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Whether the store answers.
    pub async fn healthy(&self) -> bool {
        self.store.ping().await.is_ok()
    }

    // ----- users -----

    /// Creates a user. `password`, when given, is hashed with argon2id.
    pub async fn create_user(
        &self,
        actor: &Actor,
        attrs: UserAttrs,
        active: bool,
        password: NewPassword,
    ) -> Result<User> {
        let mut attrs = self.valid_user(attrs)?;
        self.emails_free(&attrs, None).await?;
        self.checked_declared(Resource::User, &mut attrs.extensions, None, None)
            .await?;
        let hash = self
            .hash_new_password(actor, &password, &attrs, None)
            .await?;
        self.provisioned(actor, &mut attrs, hash.is_some());
        self.insert_new_user(actor, attrs, active, hash).await
    }

    /// A password an identity provider sets over SCIM must be changed at
    /// the next login only when `password.must_change_after_scim_set`.
    fn provisioned(&self, actor: &Actor, attrs: &mut UserAttrs, password_set: bool) {
        if password_set && actor.protocol == Protocol::Scim && self.must_change_after_scim_set {
            attrs.account.must_change_password = Some(true);
        }
    }

    /// A user's attributes checked and normalised (`validate`) and held to
    /// the name rules (`profile`).
    fn valid_user(&self, attrs: UserAttrs) -> Result<UserAttrs> {
        let attrs = validate::user(attrs)?;
        self.profile.check(&attrs)?;
        Ok(attrs)
    }

    /// Whether no two users may share an email address.
    pub fn unique_email(&self) -> bool {
        self.unique_email
    }

    /// With `profile.unique_email`, fails with `Uniqueness("emails")` when
    /// another served user (not `me`) has one of the user's email
    /// addresses, ignoring case. Checked before the write: two writers
    /// giving one address at the same instant could both pass.
    async fn emails_free(&self, attrs: &UserAttrs, me: Option<Uuid>) -> Result<()> {
        if !self.unique_email {
            return Ok(());
        }
        let Some(def) = attributes::by_key(attributes::USER_ATTRS, "emails.value") else {
            return Ok(());
        };
        for email in &attrs.emails {
            let value = def.normalize(&email.value);
            let ids = self.store.users_with(def.key, &value, 2).await?;
            if ids.iter().any(|id| Some(*id) != me) {
                return Err(DirectoryError::Uniqueness("emails".into()));
            }
        }
        Ok(())
    }

    /// Checks a user's attributes as a write would (for a dry run): the
    /// normalised attributes, or the rule they break.
    pub fn check_user(&self, attrs: UserAttrs) -> Result<UserAttrs> {
        let mut attrs = self.valid_user(attrs)?;
        self.declared()
            .check(Resource::User, &mut attrs.extensions, None)?;
        Ok(attrs)
    }

    /// The POSIX settings, when POSIX accounts are served.
    pub fn posix(&self) -> Option<&PosixConfig> {
        self.posix.as_deref().map(|a| &a.config)
    }

    /// Stores a new user, allocating its uidNumber when it has none (and
    /// trying the next one should another writer have taken it).
    async fn insert_new_user(
        &self,
        actor: &Actor,
        mut attrs: UserAttrs,
        active: bool,
        hash: Option<String>,
    ) -> Result<User> {
        attrs.active_unassigned = false;
        let allocate = self.posix.is_some() && attrs.posix.uid_number.is_none();
        if let Some(posix) = &self.posix {
            attrs
                .posix
                .gid_number
                .get_or_insert(posix.config.primary_gid);
        }
        for _ in 0..32 {
            if allocate {
                if let Some(posix) = &self.posix {
                    attrs.posix.uid_number = Some(posix.next(&self.store, posix::Kind::Uid).await?);
                }
            }
            match self
                .insert_user_once(actor, attrs.clone(), active, hash.as_deref())
                .await
            {
                Err(DirectoryError::Uniqueness(a)) if allocate && a == "uidNumber" => continue,
                other => return other,
            }
        }
        Err(DirectoryError::Uniqueness("uidNumber".into()))
    }

    async fn insert_user_once(
        &self,
        actor: &Actor,
        attrs: UserAttrs,
        active: bool,
        hash: Option<&str>,
    ) -> Result<User> {
        let (user, event) = self.new_record(actor, attrs, active, hash.is_some());
        self.store.insert_user(&user, hash, &event).await?;
        Ok(user)
    }

    /// A new user's record, and the event of its creation.
    fn new_record(
        &self,
        actor: &Actor,
        attrs: UserAttrs,
        active: bool,
        with_password: bool,
    ) -> (User, AuditEvent) {
        let now = self.now();
        let user = User {
            id: Uuid::new_v4(),
            attrs,
            status: if active {
                Status::Active
            } else {
                Status::Disabled
            },
            meta: Meta {
                created: now,
                modified: now,
                version: 1,
                created_by: actor.reference(),
                modified_by: actor.reference(),
            },
            groups: Vec::new(),
            password_changed: with_password.then_some(now),
            logins: Logins::default(),
        };
        let mut changed = vec!["userName".to_string()];
        if with_password {
            changed.push("password".into());
        }
        let event = AuditEvent::new(
            now,
            actor,
            "user.create",
            "user",
            user.id,
            &user.attrs.user_name,
            changed,
        );
        (user, event)
    }

    /// Creates many users (an import's batch): each checked as
    /// `create_user` / `import_user` would, then all written in one
    /// transaction; when that fails (a name taken meanwhile, say), one at
    /// a time, so that each gets its own outcome. In the order given.
    pub async fn create_users(
        &self,
        actor: &Actor,
        accounts: Vec<NewAccount>,
    ) -> Vec<Result<User>> {
        let mut prepared =
            futures::future::join_all(accounts.into_iter().map(|a| self.prepare_account(actor, a)))
                .await;
        // The store knows none of the batch yet: an address (or a value of
        // a unique declared attribute) two of its accounts give goes to the
        // first.
        let mut seen = std::collections::HashSet::new();
        for p in prepared.iter_mut() {
            let Ok((attrs, _, _)) = p else { continue };
            let mut unique = self.declared_unique_values(attrs);
            if self.unique_email {
                unique.extend(
                    attrs
                        .emails
                        .iter()
                        .map(|e| ("emails".to_string(), e.value.to_lowercase())),
                );
            }
            if let Some((attribute, _)) = unique.iter().find(|u| seen.contains(*u)) {
                *p = Err(DirectoryError::Uniqueness(attribute.clone()));
                continue;
            }
            seen.extend(unique);
        }
        let mut batch = Vec::new();
        let mut results: Vec<Option<Result<User>>> = Vec::with_capacity(prepared.len());
        for p in &prepared {
            match p {
                // Its error is answered below, from `prepared`.
                Err(_) => results.push(None),
                Ok((attrs, active, hash)) => {
                    let mut attrs = attrs.clone();
                    attrs.active_unassigned = false;
                    if let Some(posix) = &self.posix {
                        attrs
                            .posix
                            .gid_number
                            .get_or_insert(posix.config.primary_gid);
                        if attrs.posix.uid_number.is_none() {
                            match posix.next(&self.store, posix::Kind::Uid).await {
                                Ok(n) => attrs.posix.uid_number = Some(n),
                                Err(e) => {
                                    results.push(Some(Err(e)));
                                    continue;
                                }
                            }
                        }
                    }
                    let (user, event) = self.new_record(actor, attrs, *active, hash.is_some());
                    batch.push(store::NewUser {
                        user,
                        hash: hash.clone(),
                        event,
                    });
                    results.push(None);
                }
            }
        }
        let written = self.store.insert_users(&batch).await.is_ok();
        let mut made = batch.into_iter();
        let mut out = Vec::with_capacity(results.len());
        for (slot, p) in results.into_iter().zip(prepared) {
            out.push(match (slot, p) {
                (Some(done), _) => done,
                (None, Ok((attrs, active, hash))) => match (written, made.next()) {
                    (true, Some(n)) => Ok(n.user),
                    _ => self.insert_new_user(actor, attrs, active, hash).await,
                },
                (None, Err(e)) => Err(e),
            });
        }
        out
    }

    /// Checks a new account and hashes its password.
    async fn prepare_account(
        &self,
        actor: &Actor,
        account: NewAccount,
    ) -> Result<(UserAttrs, bool, Option<String>)> {
        let mut attrs = self.valid_user(account.attrs)?;
        self.emails_free(&attrs, None).await?;
        self.checked_declared(Resource::User, &mut attrs.extensions, None, None)
            .await?;
        let hash = match account.credential {
            Credential::None => None,
            Credential::Password(p) => {
                self.hash_new_password(actor, &Some(p), &attrs, None)
                    .await?
            }
            Credential::Hash(h) if password::is_verifiable(&h) => Some(h),
            Credential::InUse(p) => Some(self.hash_existing_password(&p).await?),
            Credential::Hash(_) => {
                return Err(DirectoryError::invalid(
                    "userPassword",
                    "the hash scheme is not one Roster verifies ({SSHA}, {SSHA256}, {SSHA512}, {PBKDF2-SHA256}, {CRYPT} with SHA-crypt, {ARGON2})",
                ))
            }
        };
        Ok((attrs, account.active, hash))
    }

    /// Replaces a user's writable attributes, and its active flag when
    /// given. With `expected_version`, fails if the user changed since.
    pub async fn replace_user(&self, actor: &Actor, id: Uuid, change: UserChange) -> Result<User> {
        let UserChange {
            attrs,
            active,
            password,
            expected_version,
            keep_posix,
        } = change;
        let mut attrs = self.valid_user(attrs)?;
        self.emails_free(&attrs, Some(id)).await?;
        let current = self.get_user(id).await?;
        self.checked_declared(
            Resource::User,
            &mut attrs.extensions,
            Some(&current.attrs.extensions),
            Some(id),
        )
        .await?;
        attrs.active_unassigned = active.is_none();
        let hash = self
            .hash_new_password(actor, &password, &attrs, Some(id))
            .await?;
        self.provisioned(actor, &mut attrs, hash.is_some());
        if let Some(v) = expected_version {
            if v != current.meta.version {
                return Err(DirectoryError::VersionMismatch);
            }
        }
        if keep_posix {
            attrs.posix = current.attrs.posix.clone();
        }
        let status = match active {
            None => current.status,
            Some(true) => Status::Active,
            Some(false) => Status::Disabled,
        };
        // Setting active on a locked, inactive or disabled account
        // re-validates it: failures cleared, inactivity clock restarted.
        let revalidate = active == Some(true) && current.status != Status::Active;
        let mut changed = changed_user_attributes(&current.attrs, &attrs);
        if status != current.status {
            changed.push("active".into());
        }
        if hash.is_some() {
            changed.push("password".into());
        }
        let now = self.now();
        let logins = match revalidate {
            true => Logins {
                revalidated: Some(now),
                last_success: current.logins.last_success,
                totp_enrolled: current.logins.totp_enrolled,
                ..Logins::default()
            },
            false => current.logins.clone(),
        };
        let user = User {
            attrs,
            status,
            meta: Meta {
                modified: now,
                version: current.meta.version + 1,
                modified_by: actor.reference(),
                ..current.meta
            },
            password_changed: hash.as_ref().map(|_| now).or(current.password_changed),
            logins,
            ..current
        };
        let action = if revalidate {
            "user.revalidate"
        } else {
            "user.update"
        };
        let event = AuditEvent::new(
            now,
            actor,
            action,
            "user",
            id,
            &user.attrs.user_name,
            changed,
        );
        self.store
            .update_user(
                &user,
                user.meta.version - 1,
                hash.as_deref(),
                revalidate,
                &event,
            )
            .await?;
        Ok(user)
    }

    /// Deprovisions a user (SCIM DELETE): banned, not erased. It is no
    /// longer served over SCIM or LDAP and cannot log in, its userName is
    /// free for a new account, its memberships end; its record and audit
    /// history stay (`banned_users`, `restore_user`, `purge_user`).
    pub async fn delete_user(&self, actor: &Actor, id: Uuid) -> Result<()> {
        let user = self.get_user(id).await?;
        let event = AuditEvent::new(
            self.now(),
            actor,
            "user.ban",
            "user",
            id,
            &user.attrs.user_name,
            vec!["status".into()],
        );
        self.store.ban_user(id, &event).await?;
        Ok(())
    }

    /// Banned users, by userName (the command line reads them).
    pub async fn banned_users(&self) -> Result<Vec<User>> {
        Ok(self.store.banned_users().await?)
    }

    /// Brings a banned user back, disabled until an administrator
    /// activates it; fails with `Uniqueness` when its userName was taken
    /// meanwhile.
    pub async fn restore_user(&self, actor: &Actor, user: &User) -> Result<()> {
        let event = AuditEvent::new(
            self.now(),
            actor,
            "user.restore",
            "user",
            user.id,
            &user.attrs.user_name,
            vec!["status".into()],
        );
        self.store.restore_user(user.id, &event).await?;
        Ok(())
    }

    /// Erases a user (an erasure request): the record goes; the audit
    /// trail keeps its history and records the purge.
    pub async fn purge_user(&self, actor: &Actor, user: &User) -> Result<()> {
        let event = AuditEvent::new(
            self.now(),
            actor,
            "user.purge",
            "user",
            user.id,
            &user.attrs.user_name,
            vec![],
        );
        self.store.delete_user(user.id, &event).await?;
        Ok(())
    }

    /// Re-validates a locked, inactive or disabled user (the CLI's
    /// `user activate`; SCIM does it with `active: true`).
    pub async fn activate_user(&self, actor: &Actor, id: Uuid) -> Result<User> {
        let current = self.get_user(id).await?;
        self.replace_user(
            actor,
            id,
            UserChange {
                attrs: current.attrs.clone(),
                active: Some(true),
                password: None,
                expected_version: Some(current.meta.version),
                keep_posix: true,
            },
        )
        .await
    }

    /// A user that is served (not banned).
    pub async fn get_user(&self, id: Uuid) -> Result<User> {
        self.store
            .get_user(id)
            .await?
            .filter(|u| u.status != Status::Banned)
            .ok_or_else(|| DirectoryError::NotFound(format!("user {id}")))
    }

    pub async fn get_user_by_name(&self, user_name: &str) -> Result<Option<User>> {
        Ok(self.store.get_user_by_name(user_name).await?)
    }

    pub async fn find_users(&self, query: &Query<User>) -> Result<Page<User>> {
        Ok(self.store.list_users(query).await?)
    }

    /// The ids of the users a query matches (for paging over a snapshot).
    pub async fn find_user_ids(&self, query: &Query<User>) -> Result<Vec<Uuid>> {
        Ok(self.store.user_ids(query).await?)
    }

    /// The ids of the groups a query matches.
    pub async fn find_group_ids(&self, query: &Query<Group>) -> Result<Vec<Uuid>> {
        Ok(self.store.group_ids(query).await?)
    }

    /// Checks a user's credentials and applies the account rules
    /// ([`policy`]): a login from outside the user's IP allow-list is
    /// refused without checking the password or counting a failure; a
    /// wrong password (or TOTP code, for a user who has one: appended to
    /// the password) is counted and may lock the account; an account
    /// unused past the inactivity window becomes inactive instead of
    /// logging in; a lock that ran out is lifted by the right password.
    /// Unknown users, users without a password, accounts that are not
    /// active and wrong passwords all fail the same way, after the same
    /// hashing work and one audited write. `actor` is who asks (its name
    /// what the client presented, e.g. the bind DN; its client address is
    /// checked against the allow-list).
    pub async fn authenticate(
        &self,
        actor: &Actor,
        user_name: &str,
        presented: &str,
    ) -> Result<Login> {
        self.log_in(actor, user_name, presented, Purpose::Login)
            .await
    }

    async fn log_in(
        &self,
        actor: &Actor,
        user_name: &str,
        presented: &str,
        purpose: Purpose,
    ) -> Result<Login> {
        if presented.len() > password::MAX_PASSWORD_BYTES + totp::DIGITS {
            return Err(DirectoryError::InvalidCredentials);
        }
        let user = self.store.get_user_by_name(user_name).await?;
        let enrolled = user
            .as_ref()
            .is_some_and(|u| u.logins.totp_enrolled.is_some());
        let (password, code) = credentials::split_code(presented, enrolled);
        let allowed = user
            .as_ref()
            .is_none_or(|u| policy::address_allowed(u, actor.client.as_deref()));
        let hash = match &user {
            Some(u) if allowed => self.store.password_hash(u.id).await?,
            _ => None,
        };
        let verdict = self.hasher.verify(password, hash.as_deref()).await;
        let Some(user) = user else {
            self.record_unknown_login(actor).await;
            return Err(DirectoryError::InvalidCredentials);
        };
        let now = self.now();
        let event = |action: &str, attributes: &[&str]| {
            AuditEvent::new(
                now,
                actor,
                action,
                "user",
                user.id,
                &user.attrs.user_name,
                attributes.iter().map(|a| a.to_string()).collect(),
            )
        };
        if !allowed {
            // Not a failure: an attacker elsewhere cannot lock the user out.
            self.store
                .write_event(&event("user.login.refused", &["ipAllowList"]))
                .await?;
            return Err(DirectoryError::InvalidCredentials);
        }
        let standing = self.policy.standing(&user, now);
        let right = verdict.ok
            && match (enrolled, standing) {
                (true, Standing::Allowed | Standing::LockRanOut) => {
                    self.second_factor(&user, code).await?
                }
                _ => true,
            };
        match (right, standing) {
            (true, Standing::Allowed | Standing::LockRanOut)
                if !enrolled
                    && user.attrs.account.requires_mfa()
                    && purpose == Purpose::Login
                    && !self.mfa.pending_may_bind =>
            {
                // MFA required but not enrolled, and that is not enough.
                self.store
                    .write_event(&event("user.login.refused", &["mfa"]))
                    .await?;
                Err(DirectoryError::InvalidCredentials)
            }
            (true, Standing::Allowed | Standing::LockRanOut)
                if self.policy.password_expired(&user, now) =>
            {
                let grace = self.policy.grace_logins();
                let left = match grace {
                    0 => None,
                    max => self.store.use_grace_login(user.id, max).await?,
                };
                let Some(left) = left else {
                    // Not a wrong password (no failure counted), not a login.
                    self.store
                        .write_event(&event("user.login.expired", &["password"]))
                        .await?;
                    return Err(DirectoryError::PasswordExpired);
                };
                let user = self
                    .store
                    .record_login_success(user.id, &event("user.login.grace", &["password"]))
                    .await?
                    .unwrap_or(user);
                Ok(Login {
                    user,
                    warning: Some(Warning::GraceLeft(left)),
                })
            }
            (true, Standing::Allowed | Standing::LockRanOut) => {
                let user = if self.policy.success_due(&user, now) {
                    self.store
                        .record_login_success(user.id, &event("user.login", &[]))
                        .await?
                        .unwrap_or(user)
                } else {
                    user
                };
                if verdict.outdated && self.rehash_on_bind {
                    self.rehash(&user, password).await;
                }
                let warning = self
                    .policy
                    .expires_within_warning(&user, now)
                    .map(Warning::ExpiresIn);
                Ok(Login { user, warning })
            }
            (true, Standing::TurnsInactive) => {
                let moved = event("user.inactivate", &["status"]);
                self.store
                    .change_status(user.id, Status::Active, Status::Inactive, &moved)
                    .await?;
                Err(DirectoryError::InvalidCredentials)
            }
            (right, standing) => {
                let (reason, attributes): (&str, &[&str]) = match (right, verdict.ok) {
                    (true, _) => ("user.login.refused", &[]),
                    (false, true) => ("user.login.failure", &["otp"]),
                    (false, false) => ("user.login.failure", &[]),
                };
                self.store
                    .record_login_failure(
                        user.id,
                        &self.policy.lock_rule(now),
                        &event(reason, attributes),
                        &event("user.lock", &["status"]),
                    )
                    .await?;
                let locked =
                    right && standing == Standing::Refused && user.status == Status::Locked;
                match locked && self.policy.config().report_locked {
                    true => Err(DirectoryError::AccountLocked),
                    false => Err(DirectoryError::InvalidCredentials),
                }
            }
        }
    }

    /// Audits a failed login that names no user (what was presented is in
    /// the actor), which also costs the same write as a known user's.
    async fn record_unknown_login(&self, actor: &Actor) {
        let event = AuditEvent::new(
            self.now(),
            actor,
            "login.failure",
            "login",
            "",
            &actor.name,
            vec![],
        );
        if let Err(e) = self.store.write_event(&event).await {
            tracing::warn!(error = %e, "could not audit a failed login");
        }
    }

    /// Checks every active account against the inactivity window and
    /// makes those unused past it inactive, each with an audit event.
    /// Returns how many changed.
    pub async fn sweep_inactive(&self) -> Result<usize> {
        let now = self.now();
        let Some(cutoff) = self.policy.inactive_cutoff(now) else {
            return Ok(0);
        };
        let actor = Actor::new("inactivity-sweep", Protocol::System, None);
        let mut moved = 0;
        let mut after = None;
        loop {
            let ids = self.store.inactive_candidates(cutoff, after, 500).await?;
            let batch = ids.len();
            after = ids.last().copied();
            for id in ids {
                // The rule itself decides (reportsOnly accounts are exempt).
                let Some(user) = self.store.get_user(id).await? else {
                    continue;
                };
                if !self.policy.is_inactive(&user, now) {
                    continue;
                }
                let name = user.attrs.user_name;
                let event = AuditEvent::new(
                    now,
                    &actor,
                    "user.inactivate",
                    "user",
                    id,
                    &name,
                    vec!["status".into()],
                );
                if self
                    .store
                    .change_status(id, Status::Active, Status::Inactive, &event)
                    .await?
                    .is_some()
                {
                    moved += 1;
                }
            }
            if batch < 500 {
                return Ok(moved);
            }
        }
    }

    /// Spends the same hashing work (and audited write) as a real
    /// verification and fails; for credentials that name no account at all.
    pub async fn reject_credentials(&self, actor: &Actor, password: &str) -> DirectoryError {
        if password.len() <= password::MAX_PASSWORD_BYTES {
            self.hasher.verify(password, None).await;
            self.record_unknown_login(actor).await;
        }
        DirectoryError::InvalidCredentials
    }

    // ----- groups -----

    /// Checks that every named member exists (and is not the group
    /// itself), dropping repeats; returns them with their kinds.
    async fn resolve_members(
        &self,
        group: Option<Uuid>,
        refs: &[MemberRef],
    ) -> Result<Vec<Member>> {
        let mut unique: Vec<&MemberRef> = Vec::with_capacity(refs.len());
        for r in refs {
            if Some(r.id) == group {
                return Err(DirectoryError::invalid(
                    "members",
                    "a group cannot be a member of itself",
                ));
            }
            if !unique.iter().any(|u| u.id == r.id) {
                unique.push(r);
            }
        }
        let ids: Vec<Uuid> = unique.iter().map(|r| r.id).collect();
        let found = self.store.resolve_members(&ids).await?;
        unique
            .into_iter()
            .map(|r| match found.iter().find(|(id, _)| *id == r.id) {
                Some((_, kind)) => Ok(Member {
                    id: r.id,
                    kind: *kind,
                    name: String::new(),
                    display: r.display.clone(),
                }),
                None => Err(DirectoryError::invalid(
                    "members",
                    format!("no user or group has id {}", r.id),
                )),
            })
            .collect()
    }

    /// Creates a group with the given members (ids of users or groups).
    pub async fn create_group(
        &self,
        actor: &Actor,
        attrs: GroupAttrs,
        members: &[MemberRef],
    ) -> Result<Group> {
        let mut attrs = validate::group(attrs)?;
        self.checked_declared(Resource::Group, &mut attrs.extensions, None, None)
            .await?;
        let id = Uuid::new_v4();
        let found = self.resolve_members(Some(id), members).await?;
        let allocate = self.posix.is_some() && attrs.gid_number.is_none();
        for _ in 0..32 {
            if allocate {
                if let Some(posix) = &self.posix {
                    attrs.gid_number = Some(posix.next(&self.store, posix::Kind::Gid).await?);
                }
            }
            match self
                .insert_group_once(actor, id, attrs.clone(), found.clone())
                .await
            {
                Err(DirectoryError::Uniqueness(a)) if allocate && a == "gidNumber" => continue,
                other => return other,
            }
        }
        Err(DirectoryError::Uniqueness("gidNumber".into()))
    }

    async fn insert_group_once(
        &self,
        actor: &Actor,
        id: Uuid,
        attrs: GroupAttrs,
        found: Vec<Member>,
    ) -> Result<Group> {
        let now = self.now();
        let group = Group {
            id,
            attrs,
            members: found,
            meta: Meta {
                created: now,
                modified: now,
                version: 1,
                created_by: actor.reference(),
                modified_by: actor.reference(),
            },
        };
        let mut changed = vec!["displayName".to_string()];
        if !group.members.is_empty() {
            changed.push("members".into());
        }
        let event = AuditEvent::new(
            now,
            actor,
            "group.create",
            "group",
            id,
            &group.attrs.display_name,
            changed,
        );
        self.store.insert_group(&group, &event).await?;
        self.get_group(id).await
    }

    /// Replaces a group's attributes, and its members when `members` is given.
    pub async fn replace_group(
        &self,
        actor: &Actor,
        id: Uuid,
        attrs: GroupAttrs,
        members: Option<&[MemberRef]>,
        expected_version: Option<i64>,
        keep_gid: bool,
    ) -> Result<Group> {
        let mut attrs = validate::group(attrs)?;
        let current = self.get_group(id).await?;
        self.checked_declared(
            Resource::Group,
            &mut attrs.extensions,
            Some(&current.attrs.extensions),
            Some(id),
        )
        .await?;
        if let Some(v) = expected_version {
            if v != current.meta.version {
                return Err(DirectoryError::VersionMismatch);
            }
        }
        if keep_gid {
            attrs.gid_number = current.attrs.gid_number;
        }
        if self.is_protected(&current) {
            if attrs.permissions != current.attrs.permissions {
                return Err(DirectoryError::Protected(format!(
                    "the permissions of {} (a protected group) cannot be changed",
                    current.attrs.display_name
                )));
            }
            if !attrs
                .display_name
                .eq_ignore_ascii_case(&current.attrs.display_name)
            {
                return Err(DirectoryError::Protected(format!(
                    "{} is a protected group and cannot be renamed",
                    current.attrs.display_name
                )));
            }
        }
        let mut changed = Vec::new();
        if attrs.display_name != current.attrs.display_name {
            changed.push("displayName".to_string());
        }
        if attrs.permissions != current.attrs.permissions {
            changed.push("permissions".to_string());
        }
        if attrs.external_id != current.attrs.external_id {
            changed.push("externalId".to_string());
        }
        let new_members = match members {
            Some(ids) => {
                changed.push("members".into());
                self.resolve_members(Some(id), ids).await?
            }
            None => current.members.clone(),
        };
        let now = self.now();
        let group = Group {
            id,
            attrs,
            members: new_members,
            meta: Meta {
                modified: now,
                version: current.meta.version + 1,
                modified_by: actor.reference(),
                ..current.meta
            },
        };
        let event = AuditEvent::new(
            now,
            actor,
            "group.update",
            "group",
            id,
            &group.attrs.display_name,
            changed,
        );
        self.store
            .update_group(&group, current.meta.version, members.is_some(), &event)
            .await?;
        self.get_group(id).await
    }

    /// Adds and removes members without rewriting the rest of the group.
    pub async fn modify_group_members(
        &self,
        actor: &Actor,
        id: Uuid,
        add: &[MemberRef],
        remove: &[Uuid],
    ) -> Result<()> {
        let Some(group) = self.store.get_group(id, false).await? else {
            return Err(DirectoryError::NotFound(format!("group {id}")));
        };
        let add = self.resolve_members(Some(id), add).await?;
        let now = self.now();
        let event = AuditEvent::new(
            now,
            actor,
            "group.members",
            "group",
            id,
            &group.attrs.display_name,
            vec!["members".into()],
        );
        self.store
            .modify_members(id, &add, remove, now, &event)
            .await?;
        Ok(())
    }

    /// Deprovisions a group (SCIM DELETE): banned, as users are, not
    /// erased: no longer served, its name free, its memberships ended.
    pub async fn delete_group(&self, actor: &Actor, id: Uuid) -> Result<()> {
        let group = self.get_group(id).await?;
        if self.is_protected(&group) {
            return Err(DirectoryError::Protected(format!(
                "{} is a protected group (groups.protected) and cannot be deleted",
                group.attrs.display_name
            )));
        }
        let event = AuditEvent::new(
            self.now(),
            actor,
            "group.ban",
            "group",
            id,
            &group.attrs.display_name,
            vec!["status".into()],
        );
        self.store.ban_group(id, &event).await?;
        Ok(())
    }

    /// Whether `group` is named in `groups.protected`.
    pub fn is_protected(&self, group: &Group) -> bool {
        self.protected_groups
            .iter()
            .any(|p| p.eq_ignore_ascii_case(&group.attrs.display_name))
    }

    /// Banned groups, by name (the command line reads them).
    pub async fn banned_groups(&self) -> Result<Vec<Group>> {
        Ok(self.store.banned_groups().await?)
    }

    /// Brings a banned group back, without the memberships its ban ended;
    /// fails with `Uniqueness` when its name was taken meanwhile.
    pub async fn restore_group(&self, actor: &Actor, group: &Group) -> Result<()> {
        let event = self.group_event(actor, "group.restore", group, &["status"]);
        self.store.restore_group(group.id, &event).await?;
        Ok(())
    }

    /// Erases a banned group; the audit trail keeps its history.
    pub async fn purge_group(&self, actor: &Actor, group: &Group) -> Result<()> {
        let event = self.group_event(actor, "group.purge", group, &[]);
        self.store.delete_group(group.id, &event).await?;
        Ok(())
    }

    fn group_event(
        &self,
        actor: &Actor,
        action: &str,
        group: &Group,
        attributes: &[&str],
    ) -> AuditEvent {
        AuditEvent::new(
            self.now(),
            actor,
            action,
            "group",
            group.id,
            &group.attrs.display_name,
            attributes.iter().map(|a| a.to_string()).collect(),
        )
    }

    pub async fn get_group(&self, id: Uuid) -> Result<Group> {
        self.get_group_with(id, true).await
    }

    /// A group, with its members only when `with_members` (a group may
    /// have tens of thousands).
    pub async fn get_group_with(&self, id: Uuid, with_members: bool) -> Result<Group> {
        self.store
            .get_group(id, with_members)
            .await?
            .ok_or_else(|| DirectoryError::NotFound(format!("group {id}")))
    }

    pub async fn find_groups(
        &self,
        query: &Query<Group>,
        with_members: bool,
    ) -> Result<Page<Group>> {
        Ok(self.store.list_groups(query, with_members).await?)
    }

    // ----- tokens and audit -----

    /// Creates a SCIM bearer token and returns its text, which is shown
    /// once and never stored.
    pub async fn create_token(
        &self,
        actor: &Actor,
        name: &str,
        scope: TokenScope,
    ) -> Result<String> {
        let name = name.trim();
        if name.is_empty() || name.len() > 128 {
            return Err(DirectoryError::invalid(
                "name",
                "a token name is 1 to 128 characters",
            ));
        }
        let token = token::generate();
        let record = TokenRecord {
            id: token.id.clone(),
            name: name.to_string(),
            secret_hash: token.secret_hash.clone(),
            scope,
            created: self.now(),
        };
        let event = AuditEvent::new(
            record.created,
            actor,
            "token.create",
            "token",
            &record.id,
            name,
            vec![format!("scope={}", scope.as_str())],
        );
        self.store.insert_token(&record, &event).await?;
        Ok(token.text)
    }

    /// Creates the bootstrap administrator token if the store has no token
    /// yet, returning its text that one time.
    pub async fn bootstrap_token(&self) -> Result<Option<String>> {
        if self.store.count_tokens().await? > 0 {
            return Ok(None);
        }
        let actor = Actor::new("bootstrap", Protocol::System, None);
        self.create_token(&actor, "bootstrap-admin", TokenScope::Admin)
            .await
            .map(Some)
    }

    /// The token record a presented bearer token belongs to, if valid.
    pub async fn verify_token(&self, text: &str) -> Result<Option<TokenRecord>> {
        let Some((id, secret)) = token::split(text) else {
            return Ok(None);
        };
        let record = match self.tokens.get(id) {
            Some(r) => Some(r),
            None => {
                let r = self.store.get_token(id).await?;
                if let Some(r) = &r {
                    self.tokens.put(r);
                }
                r
            }
        };
        Ok(record.filter(|r| token::secret_matches(secret, &r.secret_hash)))
    }

    /// The newest audit events, newest first.
    /// Deletes the audit events older than `audit.retention` (nothing when
    /// it is 0, the default: kept forever); returns how many went.
    pub async fn prune_audit(&self) -> Result<u64> {
        if self.audit_retention.is_zero() {
            return Ok(0);
        }
        let span = self.audit_retention.as_millis() as i64;
        let before = Timestamp(self.now().0.saturating_sub(span));
        Ok(self.store.prune_audit(before).await?)
    }

    pub async fn recent_audit(&self, limit: usize) -> Result<Vec<AuditEvent>> {
        Ok(self.store.recent_audit(limit).await?)
    }

    /// The newest `limit` audit events since `since`, only those about the
    /// user called `user` when given (a banned user keeps its history, and
    /// so do earlier accounts of the same name).
    pub async fn audit(
        &self,
        user: Option<&str>,
        since: Option<Timestamp>,
        limit: usize,
    ) -> Result<Vec<AuditEvent>> {
        let mut targets = Vec::new();
        if let Some(name) = user {
            targets.extend(self.store.get_user_by_name(name).await?.map(|u| u.id));
            targets.extend(
                self.store
                    .banned_users()
                    .await?
                    .into_iter()
                    .filter(|u| u.attrs.user_name.eq_ignore_ascii_case(name))
                    .map(|u| u.id),
            );
            if targets.is_empty() {
                return Err(DirectoryError::NotFound(format!("user {name}")));
            }
        }
        let filter = store::AuditFilter {
            targets,
            since,
            limit,
        };
        Ok(self.store.audit(&filter).await?)
    }
}

/// Names of the top-level attributes that differ between two versions.
fn changed_user_attributes(old: &UserAttrs, new: &UserAttrs) -> Vec<String> {
    let (Ok(serde_json::Value::Object(a)), Ok(serde_json::Value::Object(b))) =
        (serde_json::to_value(old), serde_json::to_value(new))
    else {
        return Vec::new();
    };
    let mut keys: Vec<String> = a
        .keys()
        .chain(b.keys())
        .filter(|k| a.get(*k) != b.get(*k))
        .cloned()
        .collect();
    keys.sort();
    keys.dedup();
    keys
}
