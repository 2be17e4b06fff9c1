//! The Redis bridge: carries committed events between processes that share one database.
//!
//! Redis is only a doorbell. Each process PUBLISHes its events on one channel and forwards
//! what the others publish to its own streams; the outbox stays the source of truth. When
//! Redis is unreachable, HTTP and local streams carry on, the bridge reconnects with
//! backoff, and meanwhile streams are poked every few seconds to read the outbox, so
//! events made through other processes still arrive (late). On reconnect, a final poke
//! fills whatever was missed. Transitions are logged once, not per event.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::mpsc;

use super::{Inner, Signal};
use crate::model::{Action, Event};

/// Events waiting to be published while Redis is slow or away; past this they are only
/// in the outbox (other processes' streams poll it while the bridge is degraded).
const OUTBOX_QUEUE: usize = 10_000;
/// How often streams re-read the outbox while Redis is away.
const POLL_WHILE_DEGRADED: Duration = Duration::from_secs(2);
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
const TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub struct Config {
    /// `redis://host:port/db`
    pub url: String,
    /// Channel name prefix, so deployments can share one Redis: events go on `<prefix>:events`.
    pub prefix: String,
}

pub(super) struct Bridge {
    out: mpsc::Sender<Arc<Event>>,
    state: Arc<State>,
}

struct State {
    subscribed: AtomicBool,
    publishing: AtomicBool,
    /// This process's id: its own events coming back from Redis are skipped.
    origin: String,
    channel: String,
}

impl Bridge {
    /// Checks the URL and starts the background tasks; connecting happens there, so a
    /// Redis that is down at start only means starting degraded.
    pub(super) fn start(config: Config, hub: Weak<Inner>) -> Result<Bridge, redis::RedisError> {
        let client = redis::Client::open(config.url.as_str())?;
        let state = Arc::new(State {
            subscribed: AtomicBool::new(false),
            publishing: AtomicBool::new(false),
            origin: crate::auth::jwt::new_jti(),
            channel: format!("{}:events", config.prefix),
        });
        let (out, rx) = mpsc::channel(OUTBOX_QUEUE);
        tokio::spawn(publish_loop(client.clone(), state.clone(), rx));
        tokio::spawn(subscribe_loop(client, state.clone(), hub));
        Ok(Bridge { out, state })
    }

    pub(super) fn publish(&self, event: Arc<Event>) {
        // A full queue means Redis has been away for a while: the outbox has the event.
        let _ = self.out.try_send(event);
    }

    pub(super) fn is_connected(&self) -> bool {
        self.state.subscribed.load(Ordering::Relaxed)
            && self.state.publishing.load(Ordering::Relaxed)
    }
}

/// `origin user_id event_id action` on the first line, the event's JSON after it.
fn encode(origin: &str, e: &Event) -> String {
    format!(
        "{origin} {} {} {}\n{}",
        e.user_id,
        e.id,
        e.action.as_str(),
        e.json
    )
}

fn decode(payload: &str) -> Option<(&str, Event)> {
    let (head, json) = payload.split_once('\n')?;
    let mut parts = head.split(' ');
    let origin = parts.next()?;
    let user_id = parts.next()?.parse().ok()?;
    let id = parts.next()?.parse().ok()?;
    let action = Action::parse(parts.next()?)?;
    Some((
        origin,
        Event {
            id,
            user_id,
            action,
            json: json.to_owned(),
        },
    ))
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
    mut rx: mpsc::Receiver<Arc<Event>>,
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
        while let Some(event) = rx.recv().await {
            let payload = encode(&state.origin, &event);
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
                    let Ok(payload) = std::str::from_utf8(msg.get_payload_bytes()) else {
                        continue;
                    };
                    match decode(payload) {
                        Some((origin, _)) if origin == state.origin => {}
                        Some((_, event)) => hub.deliver(Signal::Event(Arc::new(event))),
                        None => tracing::debug!("redis: ignoring a malformed message"),
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
            h.deliver(Signal::Poke);
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_survives_the_wire_format() {
        let e = Event::new(
            7,
            3,
            Action::Update,
            r#"{"id":1}"#,
            "2026-01-01T00:00:00.000000Z",
        );
        let wire = encode("abc", &e);
        let (origin, back) = decode(&wire).unwrap();
        assert_eq!(origin, "abc");
        assert_eq!(
            (back.id, back.user_id, back.action, back.json),
            (7, 3, Action::Update, e.json)
        );
        assert!(decode("garbage").is_none());
        assert!(decode("a b c d\n{}").is_none());
    }
}
