//! Points in time, and the injected clock that tells the current one.

use std::sync::atomic::{AtomicI64, Ordering};

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

/// Milliseconds since the Unix epoch, UTC.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

impl Timestamp {
    fn datetime(self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp_nanos(self.0 as i128 * 1_000_000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    /// `2026-11-23T08:15:00.123Z` (SCIM's `dateTime`).
    pub fn rfc3339(self) -> String {
        let dt = self.datetime();
        let fmt = format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
        );
        dt.format(&fmt).unwrap_or_default()
    }

    /// `20261123081500.123Z` (LDAP's GeneralizedTime).
    pub fn generalized(self) -> String {
        let dt = self.datetime();
        let fmt =
            format_description!("[year][month][day][hour][minute][second].[subsecond digits:3]Z");
        dt.format(&fmt).unwrap_or_default()
    }

    /// Parses an RFC 3339 date-time such as SCIM filters carry.
    pub fn parse_rfc3339(text: &str) -> Option<Timestamp> {
        let dt = OffsetDateTime::parse(text, &Rfc3339).ok()?;
        Some(Timestamp((dt.unix_timestamp_nanos() / 1_000_000) as i64))
    }

    /// Parses GeneralizedTime (`YYYYMMDDHHMMSS[.fff]Z`, or an offset
    /// `±HHMM`) such as LDAP filters carry.
    pub fn parse_generalized(text: &str) -> Option<Timestamp> {
        let text = text.trim();
        let (body, offset) = if let Some(body) = text.strip_suffix(['Z', 'z']) {
            (body, UtcOffset::UTC)
        } else if text.len() > 5 && matches!(text.as_bytes()[text.len() - 5], b'+' | b'-') {
            let (body, off) = text.split_at(text.len() - 5);
            let sign = if off.starts_with('-') { -1 } else { 1 };
            let h: i8 = off[1..3].parse().ok()?;
            let m: i8 = off[3..5].parse().ok()?;
            (body, UtcOffset::from_hms(sign * h, sign * m, 0).ok()?)
        } else {
            return None;
        };
        let (whole, frac) = match body.split_once(['.', ',']) {
            Some((w, f)) => (w, f),
            None => (body, ""),
        };
        if whole.len() != 14 || !whole.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let fmt = format_description!("[year][month][day][hour][minute][second]");
        let dt = PrimitiveDateTime::parse(whole, &fmt)
            .ok()?
            .assume_offset(offset);
        let mut millis = (dt.unix_timestamp_nanos() / 1_000_000) as i64;
        if !frac.is_empty() {
            if !frac.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let digits: String = frac.chars().chain("000".chars()).take(3).collect();
            millis += digits.parse::<i64>().ok()?;
        }
        Some(Timestamp(millis))
    }
}

/// Where the directory learns the time; tests inject one they can move.
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

/// The system's clock.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp((OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64)
    }
}

/// A clock that stands still until told to move; for tests.
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn new(start: Timestamp) -> ManualClock {
        ManualClock(AtomicI64::new(start.0))
    }

    /// Moves the clock forward by `millis`.
    pub fn advance(&self, millis: i64) {
        self.0.fetch_add(millis, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_round_trip() {
        let t = Timestamp(1_795_000_000_123);
        assert_eq!(Timestamp::parse_rfc3339(&t.rfc3339()), Some(t));
        assert_eq!(Timestamp::parse_generalized(&t.generalized()), Some(t));
        assert_eq!(
            Timestamp::parse_generalized("20261123081500Z")
                .unwrap()
                .rfc3339(),
            "2026-11-23T08:15:00.000Z"
        );
        assert_eq!(
            Timestamp::parse_generalized("20261123101500+0200"),
            Timestamp::parse_generalized("20261123081500Z")
        );
        assert_eq!(Timestamp::parse_generalized("2026"), None);
    }
}
