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
//! which streams already past it ignore without reading. The wire format and its signing
//! are in `hint`; this module holds the bridge's publish and subscribe loops.
//!
//! When Redis is unreachable, HTTP and local streams carry on, the bridge reconnects with
//! backoff, and meanwhile streams are poked every few seconds to read the outbox, so
//! events made through other processes still arrive (late). On reconnect, a final poke
//! fills whatever was missed. Transitions are logged once, not per event.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio::sync::mpsc;

use super::{Inner, Signal};

mod hint;

pub use hint::{Hint, HintKey, Ignored};

/// Hints waiting to be published while Redis is slow or away; past this they are dropped
/// (the events are in the outbox, and other processes' streams poll it while degraded).
const OUTBOX_QUEUE: usize = 10_000;
/// How often streams re-read the outbox while Redis is away.
const POLL_WHILE_DEGRADED: Duration = Duration::from_secs(2);
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
const TIMEOUT: Duration = Duration::from_secs(5);
/// The event id of a hint that says "this account changed" instead of naming events.
pub const ACCOUNT_CHANGED: i64 = 0;
/// How often an idle connection checks that Redis still answers.
const LIVENESS_EVERY: Duration = Duration::from_secs(2);
/// A connection with no sign of life for this long is not reported as connected, whatever
/// its loop believes: health never says "ok" without recent proof.
const STALE_AFTER: Duration = Duration::from_secs(2 * 2 + 5);

/// Where the bridge connects, and what its hints say and are signed with.
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

pub(super) struct Bridge {
    out: mpsc::Sender<(i64, i64)>,
    state: Arc<State>,
}

struct State {
    subscribed: AtomicBool,
    publishing: AtomicBool,
    /// When each connection last answered (ms since `born`): a PONG, a message, a
    /// publish.
    subscriber_alive: AtomicU64,
    publisher_alive: AtomicU64,
    born: Instant,
    /// This process's id: its own hints coming back from Redis are skipped.
    origin: String,
    channel: String,
    database_id: String,
    key: HintKey,
    /// A badly signed hint for this database has been logged (once per process).
    warned_bad_signature: AtomicBool,
}

/// A bridge's background tasks, not started yet: [`Starter::start`] them once the hub
/// they serve exists (a task that ran before would find no hub, and stop).
pub(super) struct Starter {
    client: redis::Client,
    state: Arc<State>,
    rx: mpsc::Receiver<(i64, i64)>,
}

impl Bridge {
    /// Checks the URL; connecting happens in the tasks [`Starter::start`] spawns, so a
    /// Redis that is down at start only means starting degraded.
    pub(super) fn new(config: Config) -> Result<(Bridge, Starter), redis::RedisError> {
        let client = redis::Client::open(config.url.as_str())?;
        let state = Arc::new(State {
            subscribed: AtomicBool::new(false),
            publishing: AtomicBool::new(false),
            subscriber_alive: AtomicU64::new(0),
            publisher_alive: AtomicU64::new(0),
            born: Instant::now(),
            origin: crate::clock::new_id(),
            channel: format!("{}:events", config.prefix),
            database_id: config.database_id,
            key: config.key,
            warned_bad_signature: AtomicBool::new(false),
        });
        let (out, rx) = mpsc::channel(OUTBOX_QUEUE);
        let starter = Starter {
            client,
            state: state.clone(),
            rx,
        };
        Ok((Bridge { out, state }, starter))
    }

    /// Rings the other processes: `user_id` has events through `event_id`.
    pub(super) fn publish(&self, user_id: i64, event_id: i64) {
        // A full queue means Redis has been away for a while: the outbox has the event.
        let _ = self.out.try_send((user_id, event_id));
    }

    pub(super) fn is_connected(&self) -> bool {
        let s = &self.state;
        s.subscribed.load(Ordering::Relaxed)
            && s.publishing.load(Ordering::Relaxed)
            && s.recent(&s.subscriber_alive)
            && s.recent(&s.publisher_alive)
    }
}

impl Starter {
    /// Starts publishing and subscribing for `hub`, which must be upgradable already.
    pub(super) fn start(self, hub: Weak<Inner>) {
        let Starter { client, state, rx } = self;
        // Once a loop stops (the hub is gone), it is not connected whatever it last was.
        let (c, s) = (client.clone(), state.clone());
        tokio::spawn(async move {
            publish_loop(c, s.clone(), rx).await;
            s.publishing.store(false, Ordering::Relaxed);
        });
        let s = state;
        tokio::spawn(async move {
            subscribe_loop(client, s.clone(), hub).await;
            s.subscribed.store(false, Ordering::Relaxed);
        });
    }
}

impl State {
    /// Notes that a connection just answered.
    fn alive(&self, at: &AtomicU64) {
        at.store(self.born.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    /// The connection answered within [`STALE_AFTER`].
    fn recent(&self, at: &AtomicU64) -> bool {
        let now = self.born.elapsed().as_millis() as u64;
        now.saturating_sub(at.load(Ordering::Relaxed)) <= STALE_AFTER.as_millis() as u64
    }

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
        state.alive(&state.publisher_alive);
        set(&state.publishing, true, "publish", None);
        // An idle connection is PINGed, so a Redis that went away is noticed (and
        // reported) before the next hint needs it.
        let mut check =
            tokio::time::interval_at(tokio::time::Instant::now() + LIVENESS_EVERY, LIVENESS_EVERY);
        loop {
            let command = tokio::select! {
                next = rx.recv() => {
                    let Some((user_id, event_id)) = next else { return };
                    let payload = Hint {
                        database_id: &state.database_id,
                        origin: &state.origin,
                        user_id,
                        event_id,
                    }
                    .encode(&state.key);
                    let mut publish = redis::cmd("PUBLISH");
                    publish.arg(&state.channel).arg(payload);
                    publish
                }
                _ = check.tick() => redis::cmd("PING"),
            };
            let sent =
                tokio::time::timeout(TIMEOUT, command.query_async::<redis::Value>(&mut conn)).await;
            match sent {
                Ok(Ok(_)) => state.alive(&state.publisher_alive),
                Ok(Err(e)) => {
                    set(&state.publishing, false, "publish", Some(&e));
                    continue 'connect;
                }
                Err(_) => {
                    set(&state.publishing, false, "publish", Some(&"timed out"));
                    continue 'connect;
                }
            }
            check.reset();
        }
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
                state.alive(&state.subscriber_alive);
                set(&state.subscribed, true, "subscribe", None);
                // Whatever was committed elsewhere while we were away is in the outbox.
                if !poke(&hub) {
                    return;
                }
                // A dead server does not always end the message stream (seen after
                // SIGKILL: no EOF ever came), so the connection is also PINGed.
                let (mut sink, mut messages) = ps.split();
                let mut check = tokio::time::interval_at(
                    tokio::time::Instant::now() + LIVENESS_EVERY,
                    LIVENESS_EVERY,
                );
                let why = loop {
                    tokio::select! {
                        msg = messages.next() => {
                            let Some(msg) = msg else { break "connection closed" };
                            state.alive(&state.subscriber_alive);
                            let Some(hub) = hub.upgrade() else { return };
                            match state.heard(msg.get_payload_bytes()) {
                                Some((user_id, ACCOUNT_CHANGED)) => hub.account_changed(user_id),
                                Some((user_id, upto)) => hub.deliver(user_id, Signal::Hint { upto }),
                                None => {}
                            }
                        }
                        _ = check.tick() => {
                            let pong = tokio::time::timeout(TIMEOUT, sink.ping::<redis::Value>()).await;
                            if !matches!(pong, Ok(Ok(_))) {
                                break "no answer to PING";
                            }
                            state.alive(&state.subscriber_alive);
                        }
                    }
                };
                set(&state.subscribed, false, "subscribe", Some(&why));
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
