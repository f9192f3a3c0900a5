//! TOTP (RFC 6238) as authenticator apps use it: SHA-1, 6 digits, 30-second
//! steps, a 160-bit secret; a code of the step before or after the current
//! one is accepted too (clock drift). The time step that matched is
//! returned so that the store can refuse to accept it twice.

use rand::RngCore;
use totp_rs::{Algorithm, Secret, TOTP};

use super::time::Timestamp;

/// Seconds per time step.
const STEP: u64 = 30;
/// Digits of a code.
pub const DIGITS: usize = 6;

/// A fresh random secret, base32 as authenticator apps take it.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    Secret::Raw(bytes.to_vec()).to_encoded().to_string()
}

fn totp(secret: &str, issuer: &str, account: &str) -> Option<TOTP> {
    let bytes = Secret::Encoded(secret.to_string()).to_bytes().ok()?;
    // The otpauth label may not hold ':'; neither may the issuer.
    TOTP::new(
        Algorithm::SHA1,
        DIGITS,
        1,
        STEP,
        bytes,
        Some(issuer.replace(':', "")),
        account.replace(':', ""),
    )
    .ok()
}

/// The `otpauth://` URI an authenticator app enrols from.
pub fn uri(secret: &str, issuer: &str, account: &str) -> Option<String> {
    totp(secret, issuer, account).map(|t| t.get_url())
}

/// The URI as a QR code, an SVG image.
pub fn qr_svg(uri: &str) -> Option<String> {
    let code = qrcode::QrCode::new(uri.as_bytes()).ok()?;
    Some(
        code.render::<qrcode::render::svg::Color>()
            .min_dimensions(200, 200)
            .build(),
    )
}

/// The time step of `now`.
pub fn step_of(now: Timestamp) -> i64 {
    now.0.div_euclid(1000) / STEP as i64
}

/// The time step whose code `code` is, within one step of `now`; `None`
/// when it is none of them (or the secret is unusable).
pub fn matching_step(secret: &str, code: &str, now: Timestamp) -> Option<i64> {
    if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let t = totp(secret, "", "")?;
    let current = step_of(now);
    // Every candidate is computed and compared in constant time, so the
    // time taken does not tell which one matched.
    let mut found = None;
    for step in [current - 1, current, current + 1] {
        let at = (step.max(0) as u64) * STEP;
        let expected = t.generate(at);
        let equal = subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), code.as_bytes());
        if bool::from(equal) && found.is_none() {
            found = Some(step);
        }
    }
    found
}

/// The code of `secret` at `now` (for tests and the enrolment page's
/// self-check; never sent anywhere).
pub fn code_at(secret: &str, now: Timestamp) -> Option<String> {
    let t = totp(secret, "", "")?;
    Some(t.generate((step_of(now).max(0) as u64) * STEP))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_their_step_and_its_neighbours_only() {
        let secret = new_secret();
        let now = Timestamp(1_700_000_000_000);
        let code = code_at(&secret, now).unwrap();
        assert_eq!(matching_step(&secret, &code, now), Some(step_of(now)));
        let later = Timestamp(now.0 + 30_000);
        assert_eq!(matching_step(&secret, &code, later), Some(step_of(now)));
        let much_later = Timestamp(now.0 + 90_000);
        assert_eq!(matching_step(&secret, &code, much_later), None);
        assert_eq!(matching_step(&secret, "12345", now), None);
        assert_eq!(matching_step(&secret, "abcdef", now), None);
    }

    #[test]
    fn the_uri_names_issuer_and_account() {
        let secret = new_secret();
        let uri = uri(&secret, "Roster", "alice").unwrap();
        assert!(uri.starts_with("otpauth://totp/Roster:alice?"), "{uri}");
        assert!(uri.contains(&format!("secret={secret}")), "{uri}");
        assert!(qr_svg(&uri).unwrap().starts_with("<?xml"));
    }
}
