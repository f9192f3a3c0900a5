//! Request controls the LDAP face understands, and the rule for the rest:
//! a control marked critical that is not implemented fails the operation
//! with `unavailableCriticalExtension`; one not marked critical is ignored.

use ldap3_proto::control::{LdapControl, ServerSortRequet};

use crate::directory::quality::{Broken, Rejection};
use crate::directory::Warning;

/// OIDs of the controls served, for the rootDSE's `supportedControl`.
pub const SUPPORTED: &[&str] = &[
    "1.2.840.113556.1.4.319",    // Simple Paged Results (RFC 2696)
    "1.2.840.113556.1.4.473",    // Server-Side Sort (RFC 2891)
    "2.16.840.1.113730.3.4.2",   // ManageDsaIT (RFC 3296)
    "1.3.6.1.4.1.42.2.27.8.5.1", // Password Policy (draft-behera)
];

/// The errors of the password policy response control that Roster gives
/// (draft-behera §6.2, their ENUMERATED values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PpolicyError {
    PasswordExpired = 0,
    /// Told only with `policy.report_locked`.
    AccountLocked = 1,
    ChangeAfterReset = 2,
    InsufficientPasswordQuality = 5,
    PasswordTooShort = 6,
    PasswordInHistory = 8,
}

impl PpolicyError {
    /// The error for a password the quality policy rejected: too short
    /// first, then reuse when that is all, else poor quality.
    pub fn of_rejection(rejection: &Rejection) -> PpolicyError {
        let broken = &rejection.0;
        if broken.iter().any(|b| matches!(b, Broken::TooShort(_))) {
            PpolicyError::PasswordTooShort
        } else if broken.iter().all(|b| matches!(b, Broken::InHistory(_))) {
            PpolicyError::PasswordInHistory
        } else {
            PpolicyError::InsufficientPasswordQuality
        }
    }
}

/// A non-negative INTEGER's content octets, shortest form.
fn integer(n: i64) -> Vec<u8> {
    let mut bytes = n.max(0).to_be_bytes().to_vec();
    while bytes.len() > 1 && bytes[0] == 0 && bytes[1] & 0x80 == 0 {
        bytes.remove(0);
    }
    bytes
}

/// The password policy response control (draft-behera §6.2) for a request
/// that asked for it: a `PasswordPolicyResponseValue` with the warning and
/// error, if any, else empty.
pub fn password_policy_response(
    warning: Option<Warning>,
    error: Option<PpolicyError>,
) -> LdapControl {
    let mut inner = Vec::new();
    if let Some(w) = warning {
        // warning [0] CHOICE { timeBeforeExpiration [0], graceAuthNsRemaining [1] }
        let (tag, n) = match w {
            Warning::ExpiresIn(seconds) => (0x80, seconds),
            Warning::GraceLeft(left) => (0x81, left),
        };
        let n = integer(n);
        inner.extend([0xA0, (n.len() + 2) as u8, tag, n.len() as u8]);
        inner.extend(n);
    }
    if let Some(e) = error {
        // error [1] ENUMERATED
        inner.extend([0x81, 0x01, e as u8]);
    }
    let mut value = vec![0x30, inner.len() as u8];
    value.extend(inner);
    LdapControl::Unknown {
        oid: OID_PASSWORD_POLICY.to_string(),
        criticality: false,
        value: Some(value),
    }
}

/// The password policy control's OID, for requests and responses alike.
pub const OID_PASSWORD_POLICY: &str = "1.3.6.1.4.1.42.2.27.8.5.1";

/// What a request's controls ask for.
#[derive(Debug, Default)]
pub struct Requested {
    /// Simple Paged Results: page size and cookie.
    pub paged: Option<(i64, Vec<u8>)>,
    /// Server-Side Sort keys.
    pub sort: Option<Vec<ServerSortRequet>>,
    /// The password policy control (draft-behera) was sent.
    pub password_policy: bool,
}

/// Reads a request's controls; `Err` names a critical control that is not
/// implemented.
pub fn read(controls: &[LdapControl]) -> Result<Requested, String> {
    let mut out = Requested::default();
    for c in controls {
        match c {
            LdapControl::SimplePagedResults { size, cookie } => {
                out.paged = Some((*size, cookie.clone()))
            }
            LdapControl::ServerSort { sort_requests } => out.sort = Some(sort_requests.clone()),
            LdapControl::PasswordPolicyRequest { .. } => out.password_policy = true,
            // Roster has no referrals or aliases: ManageDsaIT changes nothing.
            LdapControl::ManageDsaIT { .. } => {}
            LdapControl::Unknown {
                oid,
                criticality: true,
                ..
            } => return Err(oid.clone()),
            LdapControl::SyncRequest {
                criticality: true, ..
            } => return Err("1.3.6.1.4.1.4203.1.9.1.1".into()),
            LdapControl::SearchOptions {
                criticality: true, ..
            } => return Err("1.2.840.113556.1.4.1340".into()),
            LdapControl::ShowDeleted { criticality: true } => {
                return Err("1.2.840.113556.1.4.417".into())
            }
            LdapControl::SdFlags {
                criticality: true, ..
            } => return Err("1.2.840.113556.1.4.801".into()),
            LdapControl::ExtendedDn {
                criticality: true, ..
            } => return Err("1.2.840.113556.1.4.529".into()),
            _ => {}
        }
    }
    Ok(out)
}
