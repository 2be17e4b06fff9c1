//! The closed-loop generator ([`run`]): each connection sends its next request as soon
//! as the previous answer is read (see the module `load` for what that measures).

use std::net::SocketAddr;
use std::time::Duration;

use hdrhistogram::Histogram;
use hyper::StatusCode;
use tokio::time::Instant;

use crate::http::{Conn, excerpt};

use super::{MakeReq, Plan, histogram};

/// What one run measured.
pub struct Outcome {
    /// Successful requests started inside the measured window.
    pub requests: u64,
    /// Failed requests (wrong status, transport error, time-out), warm-up included.
    pub errors: u64,
    pub first_error: Option<String>,
    /// Latency of the measured successful requests, microseconds.
    pub latency: Histogram<u64>,
    pub window: Duration,
}

impl Outcome {
    pub fn rate(&self) -> f64 {
        self.requests as f64 / self.window.as_secs_f64()
    }
}

pub async fn run(addr: SocketAddr, plan: Plan, make: MakeReq) -> Outcome {
    let start = Instant::now();
    let measure_from = start + plan.warmup;
    let until = measure_from + plan.duration;
    let workers: Vec<_> = (0..plan.connections)
        .map(|c| {
            let make = make.clone();
            tokio::spawn(worker(addr, c, plan.expect, measure_from, until, make))
        })
        .collect();
    let mut out = Outcome {
        requests: 0,
        errors: 0,
        first_error: None,
        latency: histogram(),
        window: plan.duration,
    };
    for w in workers {
        match w.await {
            Ok(r) => {
                out.requests += r.requests;
                out.errors += r.errors;
                out.first_error = out.first_error.or(r.first_error);
                // Same bounds on both sides, so adding cannot fail.
                let _ = out.latency.add(&r.latency);
            }
            Err(e) => {
                out.errors += 1;
                out.first_error
                    .get_or_insert_with(|| format!("worker failed: {e}"));
            }
        }
    }
    out
}

pub(super) struct WorkerOutcome {
    requests: u64,
    errors: u64,
    first_error: Option<String>,
    latency: Histogram<u64>,
}

pub(super) async fn worker(
    addr: SocketAddr,
    index: usize,
    expect: StatusCode,
    measure_from: Instant,
    until: Instant,
    make: MakeReq,
) -> WorkerOutcome {
    let mut conn = Conn::new(addr);
    let mut out = WorkerOutcome {
        requests: 0,
        errors: 0,
        first_error: None,
        latency: histogram(),
    };
    let mut seq = 0u64;
    loop {
        let sent = Instant::now();
        if sent >= until {
            return out;
        }
        let req = make(index, seq);
        seq += 1;
        let want = req.expect.unwrap_or(expect);
        let result = conn.send(&req).await;
        let took = sent.elapsed();
        match result {
            Ok((status, _)) if status == want => {
                if sent >= measure_from {
                    out.requests += 1;
                    out.latency.saturating_record(took.as_micros() as u64);
                }
            }
            Ok((status, body)) => {
                out.errors += 1;
                out.first_error
                    .get_or_insert_with(|| format!("{status} {}", excerpt(&body)));
            }
            Err(e) => {
                out.errors += 1;
                out.first_error.get_or_insert_with(|| format!("{e:#}"));
                // Don't spin on a refused connection.
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}
