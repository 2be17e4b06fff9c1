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

/// A date-time as DRF's `DateTimeField` reads one, in the API's timestamp format:
/// ISO 8601 / RFC 3339 (`T` or a space between date and time), seconds and fractions
/// optional (more than six digits are cut to microseconds), with `Z` or an offset, which
/// is converted to UTC; without one the time is taken as UTC (the original's time zone).
/// `None` when it is not such a date-time.
pub fn parse_timestamp(text: &str) -> Option<String> {
    use chrono::NaiveDateTime;
    let s = text.trim();
    if s.len() < 16 || !s.is_ascii() {
        return None;
    }
    let s = s.replacen(' ', "T", 1);
    // The offset: `Z`, `±HH:MM`, `±HHMM` or `±HH` after the time.
    let (local, offset_secs) = if let Some(local) = s.strip_suffix(['Z', 'z']) {
        (local.to_owned(), 0)
    } else {
        let time_start = s.find('T')? + 1;
        match s[time_start..].rfind(['+', '-']) {
            Some(at) => {
                let at = time_start + at;
                let sign = if &s[at..at + 1] == "-" { -1 } else { 1 };
                let digits: String = s[at + 1..].chars().filter(|c| *c != ':').collect();
                if !(digits.len() == 2 || digits.len() == 4)
                    || !digits.bytes().all(|b| b.is_ascii_digit())
                    || s[at + 1..].matches(':').count() > usize::from(digits.len() == 4)
                {
                    return None;
                }
                let hours: i32 = digits[..2].parse().ok()?;
                let minutes: i32 = match &digits[2..] {
                    "" => 0,
                    m => m.parse().ok()?,
                };
                if hours > 23 || minutes > 59 {
                    return None;
                }
                (s[..at].to_owned(), sign * (hours * 3600 + minutes * 60))
            }
            None => (s.clone(), 0),
        }
    };
    let naive = ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(&local, f).ok())?;
    let utc = naive.checked_sub_signed(chrono::Duration::seconds(i64::from(offset_secs)))?;
    let micros = utc.and_utc().timestamp_micros();
    let at = DateTime::from_timestamp_micros(micros)?;
    // Four-digit years only, so the text sorts as the instant does.
    (1..=9999)
        .contains(&chrono::Datelike::year(&at))
        .then(|| timestamp(at))
}

/// The current instant and the instant `ttl` from now, in the API's timestamp format
/// (the later one capped at the far future if out of range).
pub fn now_and_in(ttl: std::time::Duration) -> (String, String) {
    let now = Utc::now();
    let ttl = chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::MAX);
    let later = now
        .checked_add_signed(ttl)
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    (timestamp(now), timestamp(later))
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
    fn date_times_are_read_as_drf_reads_them_and_written_in_utc() {
        for (given, want) in [
            ("2026-12-07T10:00:00Z", "2026-12-07T10:00:00.000000Z"),
            (
                "2026-12-07T10:00:00.1234567Z",
                "2026-12-07T10:00:00.123456Z",
            ),
            ("2026-12-07 10:00", "2026-12-07T10:00:00.000000Z"),
            ("2026-12-07T10:00:00+02:00", "2026-12-07T08:00:00.000000Z"),
            ("2026-12-07T01:30:00-0130", "2026-12-07T03:00:00.000000Z"),
            ("2026-12-07T10:00:00.5+05", "2026-12-07T05:00:00.500000Z"),
            ("2026-12-31T23:00:00-02:00", "2027-01-01T01:00:00.000000Z"),
        ] {
            assert_eq!(parse_timestamp(given).as_deref(), Some(want), "{given}");
        }
        for bad in [
            "",
            "tomorrow",
            "2026-12-07",
            "2026-13-07T10:00:00Z",
            "2026-12-07T25:00:00Z",
            "2026-12-07T10:00:00+25:00",
            "2026-12-07T10:00:00+02:00:00",
            "2026-12-07T10:00:00Zjunk",
            "99999-12-07T10:00:00Z",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
    }

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
