//! The account rules, in one place: whether an account may log in now,
//! what a failed login does, when a lock runs out and when an account
//! becomes inactive. SCIM, LDAP and the command line all reach them through
//! [`super::Directory`], so they cannot disagree.

use std::time::Duration;

use super::model::{Status, User};
use super::time::Timestamp;
use crate::config::{PasswordConfig, PolicyConfig};

/// Whether a login from `client` (an IP address) is allowed by `user`'s
/// IP allow-list: always when the list is empty, never from an unknown
/// address when it is not.
pub fn address_allowed(user: &User, client: Option<&str>) -> bool {
    let list = &user.attrs.account.ip_allow_list;
    if list.is_empty() {
        return true;
    }
    let Some(ip) = client.and_then(|c| c.parse::<std::net::IpAddr>().ok()) else {
        return false;
    };
    list.iter().any(|entry| match parse_network(entry) {
        Some(net) => net.contains(&ip),
        None => false,
    })
}

/// An allow-list entry: a network in CIDR notation, or one address.
pub fn parse_network(entry: &str) -> Option<ipnet::IpNet> {
    entry.parse::<ipnet::IpNet>().ok().or_else(|| {
        entry
            .parse::<std::net::IpAddr>()
            .ok()
            .map(ipnet::IpNet::from)
    })
}

/// What an account's state means for a login attempt now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// It may log in.
    Allowed,
    /// Locked, but the lock has run out: a right password lifts it.
    LockRanOut,
    /// Active until now, but not used for longer than the inactivity
    /// window: it becomes inactive instead of logging in.
    TurnsInactive,
    /// Disabled, locked or inactive.
    Refused,
}

/// How the store counts a failed login (see `Store::record_login_failure`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockRule {
    /// The count that locks the account; 0 never locks.
    pub max_failures: i64,
    /// Failures before this no longer count: the count starts again.
    pub window_start: Option<Timestamp>,
    /// Locks taken before this have run out: another failure locks again.
    pub expired_before: Option<Timestamp>,
}

/// The rules, as configured.
#[derive(Debug, Clone)]
pub struct Policy {
    config: PolicyConfig,
    /// `password.max_age`: zero, passwords never expire.
    max_age: Duration,
    /// `password.expiry_warning`.
    expiry_warning: Duration,
    /// `password.grace_logins`.
    grace_logins: i64,
}

fn before(now: Timestamp, span: Duration) -> Option<Timestamp> {
    (!span.is_zero()).then(|| Timestamp(now.0.saturating_sub(span.as_millis() as i64)))
}

impl Policy {
    pub fn new(config: &PolicyConfig) -> Policy {
        Policy {
            config: config.clone(),
            max_age: Duration::ZERO,
            expiry_warning: Duration::ZERO,
            grace_logins: 0,
        }
    }

    /// The same rules, with the password expiry of `password`.
    pub fn with_passwords(self, password: &PasswordConfig) -> Policy {
        Policy {
            max_age: password.max_age,
            expiry_warning: password.expiry_warning,
            grace_logins: password.grace_logins.max(0),
            ..self
        }
    }

    /// Binds allowed on an expired password.
    pub fn grace_logins(&self) -> i64 {
        self.grace_logins
    }

    /// The seconds until `user`'s password expires, when that is within
    /// the warning period.
    pub fn expires_within_warning(&self, user: &User, now: Timestamp) -> Option<i64> {
        let at = self.password_expires(user)?;
        let left = at.0 - now.0;
        (left > 0 && left <= self.expiry_warning.as_millis() as i64).then_some(left / 1000)
    }

    /// When `user`'s password expires, if it does.
    pub fn password_expires(&self, user: &User) -> Option<Timestamp> {
        if self.max_age.is_zero() || user.attrs.account.password_never_expires == Some(true) {
            return None;
        }
        let changed = user.password_changed?;
        Some(Timestamp(
            changed.0.saturating_add(self.max_age.as_millis() as i64),
        ))
    }

    /// Whether `user`'s password has expired at `now`.
    pub fn password_expired(&self, user: &User, now: Timestamp) -> bool {
        self.password_expires(user).is_some_and(|at| at <= now)
    }

    pub fn config(&self) -> &PolicyConfig {
        &self.config
    }

    /// What `user`'s state means for a login at `now`.
    pub fn standing(&self, user: &User, now: Timestamp) -> Standing {
        match user.status {
            Status::Active if self.is_inactive(user, now) => Standing::TurnsInactive,
            Status::Active => Standing::Allowed,
            Status::Locked if self.lock_ran_out(user, now) => Standing::LockRanOut,
            Status::Locked | Status::Disabled | Status::Inactive | Status::Banned => {
                Standing::Refused
            }
        }
    }

    /// When the inactivity clock of `user` started: its last login, or its
    /// re-validation or creation when later.
    pub fn last_activity(user: &User) -> Timestamp {
        [user.logins.last_success, user.logins.revalidated]
            .into_iter()
            .flatten()
            .fold(user.meta.created, Timestamp::max)
    }

    /// Whether an active `user` has gone unused past the inactivity window
    /// (`reportsOnly` accounts never do).
    pub fn is_inactive(&self, user: &User, now: Timestamp) -> bool {
        !user.attrs.account.is_reports_only()
            && self
                .inactive_cutoff(now)
                .is_some_and(|cutoff| Self::last_activity(user) <= cutoff)
    }

    /// Accounts whose last activity is at or before this are inactive at
    /// `now`; `None` when inactivity is off.
    pub fn inactive_cutoff(&self, now: Timestamp) -> Option<Timestamp> {
        before(now, self.config.inactive_after)
    }

    fn lock_ran_out(&self, user: &User, now: Timestamp) -> bool {
        match (
            user.logins.locked_at,
            before(now, self.config.lockout_duration),
        ) {
            (Some(at), Some(cutoff)) => at <= cutoff,
            _ => false,
        }
    }

    /// How the store is to count a failed login at `now`.
    pub fn lock_rule(&self, now: Timestamp) -> LockRule {
        LockRule {
            max_failures: self.config.max_failed_logins.max(0),
            window_start: before(now, self.config.failure_window),
            expired_before: before(now, self.config.lockout_duration),
        }
    }

    /// Whether a successful login at `now` must be written: failures to
    /// clear, a lock to lift, or a last login older than the precision.
    pub fn success_due(&self, user: &User, now: Timestamp) -> bool {
        let precision = self.config.last_login_precision.as_millis() as i64;
        user.logins.failed > 0
            || user.status != Status::Active
            || user
                .logins
                .last_success
                .is_none_or(|at| now.0 - at.0 >= precision)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::model::{Logins, Meta, UserAttrs};

    const DAY: i64 = 24 * 3600 * 1000;

    fn user(status: Status, logins: Logins) -> User {
        User {
            id: uuid::Uuid::new_v4(),
            attrs: UserAttrs::default(),
            status,
            meta: Meta {
                created: Timestamp(0),
                modified: Timestamp(0),
                version: 1,
                created_by: String::new(),
                modified_by: String::new(),
            },
            groups: Vec::new(),
            password_changed: None,
            logins,
        }
    }

    #[test]
    fn inactivity_counts_from_the_latest_of_creation_login_and_revalidation() {
        let policy = Policy::new(&PolicyConfig::default());
        let fresh = user(Status::Active, Logins::default());
        assert_eq!(
            policy.standing(&fresh, Timestamp(89 * DAY)),
            Standing::Allowed
        );
        assert_eq!(
            policy.standing(&fresh, Timestamp(90 * DAY)),
            Standing::TurnsInactive
        );
        let used = user(
            Status::Active,
            Logins {
                last_success: Some(Timestamp(50 * DAY)),
                ..Logins::default()
            },
        );
        assert_eq!(
            policy.standing(&used, Timestamp(100 * DAY)),
            Standing::Allowed
        );
        let revalidated = user(
            Status::Active,
            Logins {
                last_success: Some(Timestamp(DAY)),
                revalidated: Some(Timestamp(60 * DAY)),
                ..Logins::default()
            },
        );
        assert_eq!(
            policy.standing(&revalidated, Timestamp(149 * DAY)),
            Standing::Allowed
        );
        let off = Policy::new(&PolicyConfig {
            inactive_after: Duration::ZERO,
            ..PolicyConfig::default()
        });
        assert_eq!(
            off.standing(&fresh, Timestamp(1000 * DAY)),
            Standing::Allowed
        );
    }

    #[test]
    fn reports_only_accounts_never_become_inactive() {
        let policy = Policy::new(&PolicyConfig::default());
        let mut u = user(Status::Active, Logins::default());
        u.attrs.account.reports_only = Some(true);
        assert_eq!(policy.standing(&u, Timestamp(900 * DAY)), Standing::Allowed);
    }

    #[test]
    fn a_lock_runs_out_only_with_a_lockout_duration() {
        let locked = user(
            Status::Locked,
            Logins {
                failed: 10,
                locked_at: Some(Timestamp(DAY)),
                ..Logins::default()
            },
        );
        let forever = Policy::new(&PolicyConfig::default());
        assert_eq!(
            forever.standing(&locked, Timestamp(80 * DAY)),
            Standing::Refused
        );
        let hour = Policy::new(&PolicyConfig {
            lockout_duration: Duration::from_secs(3600),
            ..PolicyConfig::default()
        });
        assert_eq!(
            hour.standing(&locked, Timestamp(DAY + 1000)),
            Standing::Refused
        );
        assert_eq!(
            hour.standing(&locked, Timestamp(DAY + 3_600_000)),
            Standing::LockRanOut
        );
        assert_eq!(
            hour.lock_rule(Timestamp(DAY + 3_600_000)).expired_before,
            Some(Timestamp(DAY))
        );
    }

    #[test]
    fn a_success_is_written_once_per_precision_unless_there_is_state_to_clear() {
        let policy = Policy::new(&PolicyConfig::default());
        let mut u = user(Status::Active, Logins::default());
        assert!(policy.success_due(&u, Timestamp(1000)));
        u.logins.last_success = Some(Timestamp(1000));
        assert!(!policy.success_due(&u, Timestamp(59_000)));
        assert!(policy.success_due(&u, Timestamp(61_000)));
        u.logins.failed = 1;
        assert!(policy.success_due(&u, Timestamp(2000)));
    }
}
