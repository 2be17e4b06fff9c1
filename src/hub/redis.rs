//! The Redis bridge: rings the other processes that share the database when this one
//! commits events. Redis is a doorbell, never a source of events.
//!
//! After each commit a process PUBLISHes a [`Hint`]: (database id, origin, user id, event
//! id), signed. A process hearing a hint for its own database, with a good signature, from
//! another process, hands `Signal::Hint` to that user's channel if the user has a stream
//! open here (otherwise it costs nothing), and the stream reads the events from its own
//! outbox. So nothing that is not in this process's database is ever delivered, whatever
//! is published on the channel; a hint naming events that don't exist costs one read that
//! finds nothing and never moves a stream's cursor.
//!
//! Two deployments sharing one Redis (and channel) don't hear each other: each database
//! has its own random id (`Store::database_id`), and hints for another id are dropped
//! unread. Hints are authenticated with HMAC-SHA256 under a key derived from the JWT
//! signing secret, which every process of a deployment already shares: whoever can publish
//! on the Redis without that secret cannot make streams read the database (a cheap
//! amplifier otherwise: one PUBLISH, one read per matching stream in every process).
//! Signatures don't stop replays of real hints; a replayed hint names events that exist,
//! which streams already past it ignore without reading.
//!
//! When Redis is unreachable, HTTP and local streams carry on, the bridge reconnects with
//! backoff, and meanwhile streams are poked every few seconds to read the outbox, so
//! events made through other processes still arrive (late). On reconnect, a final poke
//! fills whatever was missed. Transitions are logged once, not per event.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use futures_util::StreamExt;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::mpsc;

use super::{Inner, Signal};

/// Hints waiting to be published while Redis is slow or away; past this they are dropped
/// (the events are in the outbox, and other processes' streams poll it while degraded).
const OUTBOX_QUEUE: usize = 10_000;
/// How often streams re-read the outbox while Redis is away.
const POLL_WHILE_DEGRADED: Duration = Duration::from_secs(2);
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
const TIMEOUT: Duration = Duration::from_secs(5);
/// First word of every hint; a new format gets a new one.
const HINT_VERSION: &str = "tasklane-hint-1";
/// Longer messages on the channel are not hints, and are dropped before parsing.
const MAX_HINT_BYTES: usize = 256;

#[derive(Debug, Clone)]
pub struct Config {
    /// `redis://host:port/db`
    pub url: String,
    /// Channel name prefix: hints go on `<prefix>:events`.
    pub prefix: String,
    /// This database's identity (`Store::database_id`): hints for any other are ignored.
    pub database_id: String,
    /// Signs and checks hints.
    pub key: HintKey,
}

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

/// "User `user_id` of database `database_id` has events through `event_id`", from process
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
        let positive = |s: &str| s.parse::<i64>().ok().filter(|n| *n > 0);
        let (Some(user_id), Some(event_id)) = (positive(user_id), positive(event_id)) else {
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

pub(super) struct Bridge {
    out: mpsc::Sender<(i64, i64)>,
    state: Arc<State>,
}

struct State {
    subscribed: AtomicBool,
    publishing: AtomicBool,
    /// This process's id: its own hints coming back from Redis are skipped.
    origin: String,
    channel: String,
    database_id: String,
    key: HintKey,
    /// A badly signed hint for this database has been logged (once per process).
    warned_bad_signature: AtomicBool,
}

impl Bridge {
    /// Checks the URL and starts the background tasks; connecting happens there, so a
    /// Redis that is down at start only means starting degraded.
    pub(super) fn start(config: Config, hub: Weak<Inner>) -> Result<Bridge, redis::RedisError> {
        let client = redis::Client::open(config.url.as_str())?;
        let state = Arc::new(State {
            subscribed: AtomicBool::new(false),
            publishing: AtomicBool::new(false),
            origin: crate::clock::new_id(),
            channel: format!("{}:events", config.prefix),
            database_id: config.database_id,
            key: config.key,
            warned_bad_signature: AtomicBool::new(false),
        });
        let (out, rx) = mpsc::channel(OUTBOX_QUEUE);
        tokio::spawn(publish_loop(client.clone(), state.clone(), rx));
        tokio::spawn(subscribe_loop(client, state.clone(), hub));
        Ok(Bridge { out, state })
    }

    /// Rings the other processes: `user_id` has events through `event_id`.
    pub(super) fn publish(&self, user_id: i64, event_id: i64) {
        // A full queue means Redis has been away for a while: the outbox has the event.
        let _ = self.out.try_send((user_id, event_id));
    }

    pub(super) fn is_connected(&self) -> bool {
        self.state.subscribed.load(Ordering::Relaxed)
            && self.state.publishing.load(Ordering::Relaxed)
    }
}

impl State {
    /// What a message heard on the channel asks of this process: ring `user_id`'s streams
    /// up to an event id, or nothing.
    fn heard(&self, payload: &[u8]) -> Option<(i64, i64)> {
        match Hint::decode(payload, &self.database_id, &self.key) {
            Ok(h) if h.origin == self.origin => None,
            Ok(h) => Some((h.user_id, h.event_id)),
            Err(Ignored::BadSignature) => {
                if !self.warned_bad_signature.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        channel = %self.channel,
                        "redis: ignoring a hint for this database with a bad signature \
                         (a publisher without the signing secret, or processes started \
                         with different --jwt-secret); further ones are logged at debug"
                    );
                } else {
                    tracing::debug!("redis: ignoring a badly signed hint");
                }
                None
            }
            Err(why) => {
                tracing::debug!(?why, "redis: ignoring a message");
                None
            }
        }
    }
}

fn backoff(attempt: u32) -> Duration {
    let base = BACKOFF_MIN.saturating_mul(2u32.saturating_pow(attempt.min(10)));
    let base = base.min(BACKOFF_MAX);
    // Up to 25% jitter, so restarted processes don't reconnect in lockstep.
    base + base.mul_f64(rand::random::<f64>() * 0.25)
}

/// Logs a transition of `flag` once.
fn set(flag: &AtomicBool, up: bool, what: &str, error: Option<&dyn std::fmt::Display>) {
    if flag.swap(up, Ordering::Relaxed) != up {
        match (up, error) {
            (true, _) => tracing::info!("redis {what}: connected"),
            (false, Some(e)) => {
                tracing::warn!(error = %e, "redis {what}: lost, reconnecting with backoff")
            }
            (false, None) => tracing::warn!("redis {what}: lost, reconnecting with backoff"),
        }
    }
}

async fn publish_loop(
    client: redis::Client,
    state: Arc<State>,
    mut rx: mpsc::Receiver<(i64, i64)>,
) {
    let mut attempt = 0;
    let mut first_failure_logged = false;
    'connect: loop {
        let conn = tokio::time::timeout(TIMEOUT, client.get_multiplexed_async_connection()).await;
        let mut conn = match conn {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => {
                if !first_failure_logged {
                    tracing::warn!(error = %e, "redis publish: cannot connect, retrying with backoff");
                    first_failure_logged = true;
                }
                set(&state.publishing, false, "publish", Some(&e));
                tokio::time::sleep(backoff(attempt)).await;
                attempt += 1;
                continue;
            }
            Err(_) => {
                set(
                    &state.publishing,
                    false,
                    "publish",
                    Some(&"connect timed out"),
                );
                attempt += 1;
                continue;
            }
        };
        attempt = 0;
        first_failure_logged = true;
        set(&state.publishing, true, "publish", None);
        while let Some((user_id, event_id)) = rx.recv().await {
            let payload = Hint {
                database_id: &state.database_id,
                origin: &state.origin,
                user_id,
                event_id,
            }
            .encode(&state.key);
            let sent = tokio::time::timeout(
                TIMEOUT,
                redis::cmd("PUBLISH")
                    .arg(&state.channel)
                    .arg(payload)
                    .query_async::<i64>(&mut conn),
            )
            .await;
            match sent {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    set(&state.publishing, false, "publish", Some(&e));
                    continue 'connect;
                }
                Err(_) => {
                    set(&state.publishing, false, "publish", Some(&"timed out"));
                    continue 'connect;
                }
            }
        }
        return; // the hub is gone
    }
}

async fn subscribe_loop(client: redis::Client, state: Arc<State>, hub: Weak<Inner>) {
    let mut attempt = 0;
    let mut first_failure_logged = false;
    loop {
        let pubsub = async {
            let mut ps = client.get_async_pubsub().await?;
            ps.subscribe(&state.channel).await?;
            Ok::<_, redis::RedisError>(ps)
        };
        match tokio::time::timeout(TIMEOUT, pubsub).await {
            Ok(Ok(ps)) => {
                attempt = 0;
                first_failure_logged = true;
                set(&state.subscribed, true, "subscribe", None);
                // Whatever was committed elsewhere while we were away is in the outbox.
                if !poke(&hub) {
                    return;
                }
                let mut messages = ps.into_on_message();
                while let Some(msg) = messages.next().await {
                    let Some(hub) = hub.upgrade() else { return };
                    if let Some((user_id, upto)) = state.heard(msg.get_payload_bytes()) {
                        hub.deliver(user_id, Signal::Hint { upto });
                    }
                }
                set(
                    &state.subscribed,
                    false,
                    "subscribe",
                    Some(&"connection closed"),
                );
            }
            Ok(Err(e)) => {
                if !first_failure_logged {
                    tracing::warn!(error = %e, "redis subscribe: cannot connect, retrying with backoff");
                    first_failure_logged = true;
                }
                set(&state.subscribed, false, "subscribe", Some(&e));
            }
            Err(_) => set(
                &state.subscribed,
                false,
                "subscribe",
                Some(&"connect timed out"),
            ),
        }
        // Degraded: keep streams fed from the outbox until Redis is back.
        let wait = backoff(attempt);
        attempt += 1;
        let until = tokio::time::Instant::now() + wait;
        loop {
            if !poke(&hub) {
                return;
            }
            let now = tokio::time::Instant::now();
            if now >= until {
                break;
            }
            tokio::time::sleep((until - now).min(POLL_WHILE_DEGRADED)).await;
        }
    }
}

/// Pokes every stream of this process; false when the hub is gone.
fn poke(hub: &Weak<Inner>) -> bool {
    match hub.upgrade() {
        Some(h) => {
            h.poke_all();
            true
        }
        None => false,
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
