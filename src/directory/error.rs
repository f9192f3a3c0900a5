//! Errors of the core and of its store port. Each protocol face maps
//! [`DirectoryError`] to its own codes (SCIM status + scimType, LDAP result).

use thiserror::Error;

/// What can go wrong in a store.
#[derive(Debug, Error)]
pub enum StoreError {
    /// A uniqueness constraint on the named attribute failed.
    #[error("{0} is already taken")]
    Conflict(&'static str),
    #[error("no such record")]
    NotFound,
    /// The record changed since it was read (optimistic concurrency).
    #[error("the record was changed by someone else")]
    VersionMismatch,
    #[error("database error: {0}")]
    Backend(String),
}

/// What can go wrong in a directory operation.
#[derive(Debug, Error)]
pub enum DirectoryError {
    #[error("{0} not found")]
    NotFound(String),
    /// The named attribute must be unique and the value is taken.
    #[error("{0} is already in use")]
    Uniqueness(String),
    /// A value breaks a rule; `attribute` names the attribute.
    #[error("{attribute}: {detail}")]
    Invalid { attribute: String, detail: String },
    /// The record's version is not the one the client expected.
    #[error("the resource was modified concurrently")]
    VersionMismatch,
    /// Authentication failed. Deliberately says nothing more.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// The right password, but it has expired (`password.max_age`). Told
    /// only to whoever knows the password; answered like a wrong one.
    #[error("the password has expired")]
    PasswordExpired,
    /// The right password on a locked account, told only when
    /// `policy.report_locked`; otherwise that is `InvalidCredentials`.
    #[error("the account is locked")]
    AccountLocked,
    /// A new password breaks the password policy (`[password]`).
    #[error("password: {0}")]
    PasswordRejected(super::quality::Rejection),
    /// A protected group (`groups.protected`) cannot be changed so.
    #[error("{0}")]
    Protected(String),
    /// The request conflicts with the record's state (enrolling a second
    /// factor twice, say).
    #[error("{0}")]
    Conflict(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl DirectoryError {
    pub fn invalid(attribute: impl Into<String>, detail: impl Into<String>) -> DirectoryError {
        DirectoryError::Invalid {
            attribute: attribute.into(),
            detail: detail.into(),
        }
    }
}

impl From<StoreError> for DirectoryError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(attr) => DirectoryError::Uniqueness(attr.to_string()),
            StoreError::NotFound => DirectoryError::NotFound("resource".into()),
            StoreError::VersionMismatch => DirectoryError::VersionMismatch,
            StoreError::Backend(m) => DirectoryError::Internal(m),
        }
    }
}
