//! The fan-out scenario: task events delivered to many WebSocket subscribers while
//! writers create tasks, with each event's delivery latency and any loss.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use futures_util::StreamExt;
use hdrhistogram::Histogram;
use hyper::StatusCode;
use serde::Deserialize;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::api::{User, create_task_req};
use crate::http::{Conn, excerpt};
use crate::load::histogram;

use super::{DRAIN_TIMEOUT, Socket, TITLE_PREFIX, open_many};

// ---------------------------------------------------------------------------------------
// Fan-out

#[derive(Clone, Debug)]
pub struct FanoutPlan {
    pub subscribers: usize,
    pub writers: usize,
    /// Target writes per second, all writers together.
    pub rate: f64,
    pub duration: Duration,
    pub connect_concurrency: usize,
}

pub struct FanoutOutcome {
    pub subscribers: usize,
    pub connect_failures: usize,
    pub connect_first_error: Option<String>,
    pub connect_time: Duration,
    /// Open streams `/healthz` counted once every subscriber was connected.
    pub server_streams: Option<u64>,
    pub writes_ok: u64,
    pub write_errors: u64,
    pub write_first_error: Option<String>,
    pub write_latency: Histogram<u64>,
    pub write_window: Duration,
    pub expected_deliveries: u64,
    pub deliveries: u64,
    pub lost: u64,
    pub duplicates: u64,
    pub out_of_order: u64,
    /// Events with an id past what the successful writes account for (a write that
    /// failed on the client after the server committed it).
    pub unexpected: u64,
    /// Text frames that were not task events.
    pub bad_frames: u64,
    /// Sockets the server closed (or that failed) before the end.
    pub closed_early: usize,
    pub closed_first: Option<String>,
    pub drain_time: Duration,
    /// Event `at` (stamped in the write transaction) to receipt, µs.
    pub commit_to_receipt: Histogram<u64>,
    /// The writer sending the POST to receipt, µs.
    pub send_to_receipt: Histogram<u64>,
}

impl FanoutOutcome {
    pub fn write_rate(&self) -> f64 {
        self.writes_ok as f64 / self.write_window.as_secs_f64()
    }
}

/// What a subscriber saw.
#[derive(Default)]
pub(super) struct Seen {
    ids: Vec<i64>,
    commit_to_receipt: Vec<u64>,
    send_to_receipt: Vec<u64>,
    /// Text frames that were not task events.
    bad_frames: u64,
    closed: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct Frame {
    event_id: i64,
    at: Option<String>,
    task: Option<FrameTask>,
}

#[derive(Deserialize)]
pub(super) struct FrameTask {
    title: String,
}

pub async fn fanout(
    addr: SocketAddr,
    users: &[User],
    plan: &FanoutPlan,
) -> anyhow::Result<FanoutOutcome> {
    anyhow::ensure!(!users.is_empty(), "fan-out needs users");
    let epoch = Instant::now();
    let (stop_tx, stop_rx) = watch::channel(false);
    let last_seen: Arc<Vec<AtomicI64>> =
        Arc::new((0..plan.subscribers).map(|_| AtomicI64::new(0)).collect());

    // Subscribers first, so every event of these fresh users is live.
    let started = Instant::now();
    let (subs, failures) = {
        let last_seen = last_seen.clone();
        open_many(
            addr,
            users,
            plan.subscribers,
            plan.connect_concurrency,
            WebSocketConfig::default(),
            move |i, socket| {
                let stop = stop_rx.clone();
                let last_seen = last_seen.clone();
                tokio::spawn(subscriber(socket, epoch, stop, last_seen, i))
            },
        )
        .await
    };
    let connect_time = started.elapsed();
    let server_streams = crate::api::open_streams(addr).await.ok();

    // Writers: paced POSTs spread over the users.
    let writers = plan.writers.clamp(1, users.len());
    let interval = Duration::from_secs_f64(writers as f64 / plan.rate.max(0.1));
    let write_start = Instant::now();
    let until = write_start + plan.duration;
    let handles: Vec<_> = (0..writers)
        .map(|w| {
            let mine: Vec<(usize, Arc<str>)> = (w..users.len())
                .step_by(writers)
                .map(|u| (u, users[u].token.clone()))
                .collect();
            let first = write_start + interval.mul_f64(w as f64 / writers as f64);
            tokio::spawn(writer(addr, mine, first, interval, until, epoch))
        })
        .collect();
    let mut ok_per_user = vec![0u64; users.len()];
    let mut write_errors = 0;
    let mut write_first_error = None;
    let mut write_latency = histogram();
    for h in handles {
        let w = h.await.context("writer task")?;
        for (u, n) in w.ok {
            ok_per_user[u] += n;
        }
        write_errors += w.errors;
        write_first_error = write_first_error.or(w.first_error);
        let _ = write_latency.add(&w.latency);
    }
    let write_window = write_start.elapsed();

    // Let every subscriber catch up (or the drain time-out pass), then stop them.
    let drain_start = Instant::now();
    let caught_up = || {
        subs.iter().all(|(i, _)| {
            let want = ok_per_user[i % users.len()] as i64;
            last_seen[*i].load(Ordering::Relaxed) >= want
        })
    };
    while !caught_up() && drain_start.elapsed() < DRAIN_TIMEOUT {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let drain_time = drain_start.elapsed();
    let _ = stop_tx.send(true);

    let mut out = FanoutOutcome {
        subscribers: subs.len(),
        connect_failures: failures.count.load(Ordering::Relaxed),
        connect_first_error: failures.first(),
        connect_time,
        server_streams,
        writes_ok: ok_per_user.iter().sum(),
        write_errors,
        write_first_error,
        write_latency,
        write_window,
        expected_deliveries: 0,
        deliveries: 0,
        lost: 0,
        duplicates: 0,
        out_of_order: 0,
        unexpected: 0,
        bad_frames: 0,
        closed_early: 0,
        closed_first: None,
        drain_time,
        commit_to_receipt: histogram(),
        send_to_receipt: histogram(),
    };
    for (i, handle) in subs {
        let seen = handle.await.context("subscriber task")?;
        let expected = ok_per_user[i % users.len()] as i64;
        out.expected_deliveries += expected as u64;
        out.deliveries += seen.ids.len() as u64;
        out.bad_frames += seen.bad_frames;
        let distinct: HashSet<i64> = seen.ids.iter().copied().collect();
        out.duplicates += (seen.ids.len() - distinct.len()) as u64;
        out.lost += (1..=expected).filter(|id| !distinct.contains(id)).count() as u64;
        out.unexpected += distinct.iter().filter(|&&id| id > expected).count() as u64;
        out.out_of_order += seen.ids.windows(2).filter(|w| w[1] <= w[0]).count() as u64;
        if let Some(why) = seen.closed {
            out.closed_early += 1;
            out.closed_first.get_or_insert(why);
        }
        for us in seen.commit_to_receipt {
            out.commit_to_receipt.saturating_record(us);
        }
        for us in seen.send_to_receipt {
            out.send_to_receipt.saturating_record(us);
        }
    }
    Ok(out)
}

pub(super) async fn subscriber(
    mut socket: Socket,
    epoch: Instant,
    mut stop: watch::Receiver<bool>,
    last_seen: Arc<Vec<AtomicI64>>,
    index: usize,
) -> Seen {
    let mut seen = Seen::default();
    loop {
        tokio::select! {
            biased;
            _ = stop.changed() => break,
            msg = socket.next() => match msg {
                Some(Ok(Message::Text(text))) => {
                    let received = Instant::now();
                    let wall = SystemTime::now();
                    let Ok(frame) = serde_json::from_str::<Frame>(text.as_str()) else {
                        seen.bad_frames += 1;
                        continue;
                    };
                    seen.ids.push(frame.event_id);
                    last_seen[index].fetch_max(frame.event_id, Ordering::Relaxed);
                    if let Some(us) = frame.at.as_deref().and_then(|at| micros_since(at, wall)) {
                        seen.commit_to_receipt.push(us);
                    }
                    if let Some(sent) = frame.task.as_ref().and_then(|t| t.title.strip_prefix(TITLE_PREFIX)).and_then(|t| t.parse::<u64>().ok()) {
                        let at = (received - epoch).as_micros() as u64;
                        seen.send_to_receipt.push(at.saturating_sub(sent));
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    seen.closed = Some(format!("closed by server: {frame:?}"));
                    break;
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    seen.closed = Some(format!("socket error: {e}"));
                    break;
                }
                None => {
                    seen.closed = Some("socket ended".into());
                    break;
                }
            },
        }
    }
    seen
}

/// Microseconds from the RFC 3339 time `at` to `now` (0 if `at` is later).
pub(super) fn micros_since(at: &str, now: SystemTime) -> Option<u64> {
    let at = chrono::DateTime::parse_from_rfc3339(at)
        .ok()?
        .timestamp_micros();
    let now = i64::try_from(now.duration_since(UNIX_EPOCH).ok()?.as_micros()).ok()?;
    Some(u64::try_from(now - at).unwrap_or(0))
}

pub(super) struct WriterOutcome {
    ok: Vec<(usize, u64)>,
    errors: u64,
    first_error: Option<String>,
    latency: Histogram<u64>,
}

/// POSTs a task every `interval`, round-robin over `users` (index, token), until `until`.
pub(super) async fn writer(
    addr: SocketAddr,
    users: Vec<(usize, Arc<str>)>,
    first: Instant,
    interval: Duration,
    until: Instant,
    epoch: Instant,
) -> WriterOutcome {
    let mut out = WriterOutcome {
        ok: users.iter().map(|(u, _)| (*u, 0)).collect(),
        errors: 0,
        first_error: None,
        latency: histogram(),
    };
    let mut conn = Conn::new(addr);
    let mut tick = tokio::time::interval_at(first, interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for k in 0.. {
        if tokio::time::timeout_at(until, tick.tick()).await.is_err() {
            break;
        }
        let sent = Instant::now();
        if sent >= until {
            break;
        }
        let slot = k % users.len();
        let title = format!("{TITLE_PREFIX}{}", (sent - epoch).as_micros());
        let result = conn.send(&create_task_req(&users[slot].1, &title)).await;
        match result {
            Ok((StatusCode::CREATED, _)) => {
                out.ok[slot].1 += 1;
                out.latency
                    .saturating_record(sent.elapsed().as_micros() as u64);
            }
            Ok((status, body)) => {
                out.errors += 1;
                out.first_error
                    .get_or_insert_with(|| format!("{status} {}", excerpt(&body)));
            }
            Err(e) => {
                out.errors += 1;
                out.first_error.get_or_insert_with(|| format!("{e:#}"));
            }
        }
    }
    out
}
