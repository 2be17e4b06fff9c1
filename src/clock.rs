//! Time and random identifiers, defined once: the API's timestamp format, unix seconds,
//! and the ids tokens and databases carry.

use chrono::{DateTime, Utc};

/// The API's timestamp format: RFC 3339, UTC, microseconds, `Z`
/// (`2026-11-25T11:42:56.437485Z`). Such strings sort as text.
pub const TIMESTAMP_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.6fZ";

/// `at` in the API's timestamp format.
pub fn timestamp(at: DateTime<Utc>) -> String {
    at.format(TIMESTAMP_FORMAT).to_string()
}

/// The current instant in the API's timestamp format.
pub fn now_timestamp() -> String {
    timestamp(Utc::now())
}

/// The instant `age` ago in the API's timestamp format (the epoch if that is out of range).
pub fn timestamp_ago(age: std::time::Duration) -> String {
    let age = chrono::Duration::from_std(age).unwrap_or(chrono::Duration::MAX);
    timestamp(
        Utc::now()
            .checked_sub_signed(age)
            .unwrap_or(DateTime::UNIX_EPOCH),
    )
}

/// Unix seconds now.
pub fn now_secs() -> i64 {
    Utc::now().timestamp()
}

/// Unix seconds now, with sub-second precision.
pub fn now_secs_f64() -> f64 {
    Utc::now().timestamp_micros() as f64 / 1e6
}

/// 32 lowercase hex characters, like simplejwt's `uuid4().hex`: token ids, process and
/// database identities.
pub fn new_id() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// A new random signing secret: 64 bytes, hex-encoded.
pub fn new_secret() -> String {
    hex::encode(rand::random::<[u8; 64]>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_have_microseconds_and_z() {
        let at = DateTime::from_timestamp(1_700_000_000, 123_456_000).unwrap();
        assert_eq!(timestamp(at), "2023-11-14T22:13:20.123456Z");
        assert_eq!(
            timestamp_ago(std::time::Duration::MAX),
            "1970-01-01T00:00:00.000000Z"
        );
    }
}
