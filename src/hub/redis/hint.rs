//! The hint's wire format and its signature: what goes on the channel, and the checks
//! a message passes before it is acted on.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// First word of every hint; a new format gets a new one.
const HINT_VERSION: &str = "tasklane-hint-1";
/// Longer messages on the channel are not hints, and are dropped before parsing.
const MAX_HINT_BYTES: usize = 256;

/// The key hints are signed with: HMAC-SHA256 of a fixed label under the JWT signing
/// secret, so it never equals the secret and needs no configuration of its own.
#[derive(Clone)]
pub struct HintKey([u8; 32]);

impl HintKey {
    pub fn from_secret(secret: &[u8]) -> HintKey {
        let mut mac = hmac_with(secret);
        mac.update(b"tasklane redis hint key v1");
        HintKey(mac.finalize().into_bytes().into())
    }
}

impl std::fmt::Debug for HintKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HintKey(..)")
    }
}

fn hmac_with(key: &[u8]) -> Hmac<Sha256> {
    Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length")
}

/// "User `user_id` of database `database_id` has events through `event_id`" (or, with
/// event id 0, "the account changed: check its credentials again"), from process
/// `origin`. On the wire: the five fields and an HMAC-SHA256 of them, space-separated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hint<'a> {
    pub database_id: &'a str,
    pub origin: &'a str,
    pub user_id: i64,
    pub event_id: i64,
}

/// Why a message on the channel was not acted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ignored {
    /// Not a hint at all (an older format, garbage, too long).
    Malformed,
    /// A hint for another database: another deployment sharing the Redis.
    OtherDatabase,
    /// For this database, but not signed with this deployment's key.
    BadSignature,
}

impl<'a> Hint<'a> {
    /// The signed wire form.
    pub fn encode(&self, key: &HintKey) -> String {
        let body = format!(
            "{HINT_VERSION} {} {} {} {}",
            self.database_id, self.origin, self.user_id, self.event_id
        );
        let mut mac = hmac_with(&key.0);
        mac.update(body.as_bytes());
        let sig = hex::encode(mac.finalize().into_bytes());
        format!("{body} {sig}")
    }

    /// A hint for `database_id`, signed with `key`; anything else is ignored, and says why.
    pub fn decode(payload: &'a [u8], database_id: &str, key: &HintKey) -> Result<Self, Ignored> {
        if payload.len() > MAX_HINT_BYTES {
            return Err(Ignored::Malformed);
        }
        let text = std::str::from_utf8(payload).map_err(|_| Ignored::Malformed)?;
        let (body, sig) = text.rsplit_once(' ').ok_or(Ignored::Malformed)?;
        let parts: Vec<&str> = body.split(' ').collect();
        let [HINT_VERSION, db, origin, user_id, event_id] = parts[..] else {
            return Err(Ignored::Malformed);
        };
        let at_least = |s: &str, min: i64| s.parse::<i64>().ok().filter(|n| *n >= min);
        let (Some(user_id), Some(event_id)) = (at_least(user_id, 1), at_least(event_id, 0)) else {
            return Err(Ignored::Malformed);
        };
        let sig = hex::decode(sig).map_err(|_| Ignored::Malformed)?;
        if db != database_id {
            return Err(Ignored::OtherDatabase);
        }
        let mut mac = hmac_with(&key.0);
        mac.update(body.as_bytes());
        // Constant-time comparison.
        mac.verify_slice(&sig).map_err(|_| Ignored::BadSignature)?;
        Ok(Hint {
            database_id: db,
            origin,
            user_id,
            event_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DB: &str = "0123456789abcdef0123456789abcdef";

    fn hint(user_id: i64, event_id: i64) -> Hint<'static> {
        Hint {
            database_id: DB,
            origin: "abc",
            user_id,
            event_id,
        }
    }

    #[test]
    fn a_hint_survives_the_wire_format() {
        let key = HintKey::from_secret(b"secret");
        let wire = hint(3, 7).encode(&key);
        assert_eq!(Hint::decode(wire.as_bytes(), DB, &key), Ok(hint(3, 7)));
    }

    #[test]
    fn hints_for_another_database_are_ignored() {
        let key = HintKey::from_secret(b"secret");
        let wire = hint(3, 7).encode(&key);
        let other = "ffffffffffffffffffffffffffffffff";
        assert_eq!(
            Hint::decode(wire.as_bytes(), other, &key),
            Err(Ignored::OtherDatabase)
        );
    }

    #[test]
    fn hints_not_signed_with_the_key_are_ignored() {
        let key = HintKey::from_secret(b"secret");
        let wire = hint(3, 7).encode(&HintKey::from_secret(b"another secret"));
        assert_eq!(
            Hint::decode(wire.as_bytes(), DB, &key),
            Err(Ignored::BadSignature)
        );
        // Changing any field breaks the signature.
        let wire = hint(3, 7)
            .encode(&key)
            .replacen(" 3 7 ", " 3 999999999 ", 1);
        assert_eq!(
            Hint::decode(wire.as_bytes(), DB, &key),
            Err(Ignored::BadSignature)
        );
    }

    #[test]
    fn anything_else_on_the_channel_is_malformed() {
        let key = HintKey::from_secret(b"secret");
        let signed_zero = hint(0, 7).encode(&key);
        let long = format!("{} {}", hint(3, 7).encode(&key), "0".repeat(300));
        for junk in [
            "",
            "garbage",
            "{}",
            // The old wire format, which carried whole events.
            "abc 1 1 create\n{\"event_id\":1}",
            &signed_zero,
            &long,
            &format!("tasklane-hint-2 {DB} abc 3 7 00"),
            &format!("tasklane-hint-1 {DB} abc 3 7 not-hex"),
            &format!("tasklane-hint-1 {DB} abc 3 -7 00"),
            &format!("tasklane-hint-1 {DB} abc 3 7"),
        ] {
            assert_eq!(
                Hint::decode(junk.as_bytes(), DB, &key),
                Err(Ignored::Malformed),
                "{junk:?}"
            );
        }
        assert_eq!(
            Hint::decode(&[0xff, 0xfe], DB, &key),
            Err(Ignored::Malformed)
        );
    }

    #[test]
    fn the_hint_key_is_not_the_secret_and_depends_on_it() {
        let a = HintKey::from_secret(b"secret");
        assert_ne!(a.0.as_slice(), b"secret".as_slice());
        assert_ne!(a.0, HintKey::from_secret(b"secret2").0);
        assert_eq!(a.0, HintKey::from_secret(b"secret").0);
    }
}
