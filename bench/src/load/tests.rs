//! Tests of the open loop's timetable, tally and generator, against a local server.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::time::Instant;

use super::*;

use super::schedule::Schedule;
use super::tally::{Fate, OpenOutcome, Tally};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn the_window_holds_the_requests_intended_in_it() {
    let s = Schedule::new(1000.0, ms(1000), ms(3000)).unwrap();
    assert_eq!(s.offset(1500), ms(1500));
    assert_eq!(
        (s.first_measured(), s.end(), s.measured()),
        (1000, 4000, 3000)
    );
    assert!(!s.is_measured(999));
    assert!(s.is_measured(1000));
    assert!(s.is_measured(3999));
    assert!(!s.is_measured(4000));
}

#[test]
fn window_bounds_hold_for_awkward_rates() {
    for rate in [0.5, 3.0, 7.0, 333.3, 41_234.5, 1e6] {
        for (w, d) in [(0, 100), (1000, 3000), (17, 5)] {
            let s = Schedule::new(rate, ms(w), ms(d)).unwrap();
            let (first, end) = (s.first_measured(), s.end());
            let what = format!("rate {rate}, warm-up {w} ms, duration {d} ms");
            // `first` is the first request intended at or after the warm-up's end,
            assert!(s.offset(first) >= ms(w), "{what}");
            assert!(first == 0 || s.offset(first - 1) < ms(w), "{what}");
            // and `end` the first at or after the window's end.
            assert!(s.offset(end) >= ms(w + d), "{what}");
            assert!(end == first || s.offset(end - 1) < ms(w + d), "{what}");
            let expect = d as f64 / 1000.0 * s.rate();
            assert!((s.measured() as f64 - expect).abs() <= 1.0, "{what}");
        }
    }
}

#[test]
fn a_request_falls_due_exactly_at_its_intended_time() {
    // A period of 333,333,333 ns: the rounding must not shift a request by one.
    let s = Schedule::new(3.0, ms(0), ms(2000)).unwrap();
    assert_eq!(s.due(Duration::ZERO), 1);
    for k in 1..s.end() {
        assert_eq!(s.due(s.offset(k)), k + 1);
        assert_eq!(s.due(s.offset(k) - Duration::from_nanos(1)), k);
    }
    assert_eq!(s.due(Duration::from_secs(3600)), s.end());
}

#[test]
fn out_of_range_rates_are_refused() {
    for rate in [0.0, -1.0, f64::NAN, f64::INFINITY, 2e9, 1e-10] {
        assert_eq!(Schedule::new(rate, ms(0), ms(1)), None, "rate {rate}");
    }
    assert!(Schedule::new(1e9, ms(0), ms(1)).is_some());
}

#[test]
fn latency_counts_from_the_intended_time_and_unsent_requests_count_as_late() {
    // Requests 10..20 are measured.
    let s = Schedule::new(1000.0, ms(10), ms(10)).unwrap();
    let t0 = Instant::now();
    let at = |m: u64| t0 + ms(m);
    let mut tally = Tally::new();
    tally.record(&s, 3, (at(3), at(3), at(4)), Fate::Failed("500".into()));
    // Intended at 10 ms, queued until 15, answered at 16: 6 ms, not 1.
    tally.record(&s, 10, (at(10), at(15), at(16)), Fate::Ok);
    tally.record(&s, 11, (at(11), at(15), at(16)), Fate::Failed("503".into()));
    tally.record(&s, 12, (at(12), at(16), at(40)), Fate::TimedOut);
    let mut sum = Tally::new();
    sum.add(tally);
    let out = OpenOutcome::new(s, ms(5), sum);
    assert_eq!(out.intended, 10);
    let counts = (
        out.ok,
        out.errors,
        out.timeouts,
        out.late,
        out.warmup_errors,
    );
    assert_eq!(counts, (1, 1, 1, 7, 1));
    assert_eq!(out.latency.len(), 1);
    assert!(out.latency.equivalent(out.latency.max(), 6000));
    assert_eq!(out.send_delay.len(), 3);
    assert!(out.send_delay.equivalent(out.send_delay.max(), 5000));
    assert_eq!(out.first_error.as_deref(), Some("500"));
}

type Arrivals = Arc<std::sync::Mutex<Vec<Instant>>>;

/// A loopback HTTP/1.1 server that answers each request `200` after `delay`, or
/// never with `None`, and notes when each request arrived.
async fn server(delay: Option<Duration>) -> (SocketAddr, Arrivals) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let arrivals = Arrivals::default();
    let noted = arrivals.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let noted = noted.clone();
            tokio::spawn(async move {
                let (mut buf, mut chunk) = (Vec::new(), [0u8; 4096]);
                loop {
                    match sock.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                    // Bodiless requests: each ends with an empty line.
                    while let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        buf.drain(..i + 4);
                        noted.lock().unwrap().push(Instant::now());
                        let Some(delay) = delay else { continue };
                        tokio::time::sleep(delay).await;
                        let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
                        if sock.write_all(ok).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    (addr, arrivals)
}

fn get() -> MakeReq {
    Arc::new(|_, _| Req::get("/", None))
}

fn plan(connections: usize, warmup: u64, duration: u64) -> Plan {
    Plan {
        connections,
        warmup: ms(warmup),
        duration: ms(duration),
        expect: StatusCode::OK,
    }
}

#[tokio::test]
async fn a_server_that_keeps_up_answers_every_request_on_schedule() {
    let (addr, arrivals) = server(Some(Duration::ZERO)).await;
    let open = Open {
        rate: 500.0,
        drain: ms(1000),
    };
    let t0 = Instant::now();
    let out = run_open(addr, plan(8, 100, 200), open, get())
        .await
        .unwrap();
    assert_eq!(out.intended, 100);
    assert_eq!((out.ok, out.errors, out.timeouts, out.late), (100, 0, 0, 0));
    assert_eq!(out.latency.len(), 100);
    // Paced, not sent in bursts: the i-th request to arrive was not sent before
    // request i was due.
    let arrivals = arrivals.lock().unwrap();
    assert_eq!(arrivals.len(), 150);
    for (i, at) in arrivals.iter().enumerate() {
        let due = t0 + out.schedule.offset(i as u64);
        assert!(*at >= due, "request {i} arrived {:?} early", due - *at);
    }
}

#[tokio::test]
async fn a_request_due_just_before_the_end_is_not_late_for_the_pacer_lag() {
    // The last request is intended 10 µs before the window ends; the pacer releases
    // it after, to idle connections.
    let (addr, _) = server(Some(Duration::ZERO)).await;
    let open = Open {
        rate: 1000.0,
        drain: ms(1000),
    };
    let mut plan = plan(4, 0, 0);
    plan.duration = Duration::from_micros(49_010);
    let out = run_open(addr, plan, open, get()).await.unwrap();
    assert_eq!(out.intended, 50);
    assert_eq!((out.ok, out.late), (50, 0));
}

#[tokio::test]
async fn a_slow_server_shows_its_backlog_in_the_latency() {
    // One connection, 5 ms an answer (200/s), asked for 1000/s.
    let (addr, _) = server(Some(ms(5))).await;
    let open = Open {
        rate: 1000.0,
        drain: ms(1000),
    };
    let out = run_open(addr, plan(1, 0, 300), open, get()).await.unwrap();
    assert_eq!(out.intended, 300);
    assert_eq!(out.ok + out.errors + out.timeouts + out.late, out.intended);
    assert!(out.ok <= 62, "{} answered", out.ok);
    assert!(out.late >= 200, "{} late", out.late);
    // Each answer takes ~5 ms, but the later requests waited their turn for ~200 ms.
    assert!(out.latency.max() >= 100_000, "max {} µs", out.latency.max());
    // The closed loop on the same server only sees the service time.
    let closed = run(addr, plan(1, 0, 100), get()).await;
    assert!(closed.latency.max() < out.latency.max() / 4);
}

#[tokio::test]
async fn a_server_that_never_answers_ends_the_run_after_the_drain() {
    let (addr, _) = server(None).await;
    let open = Open {
        rate: 1000.0,
        drain: ms(100),
    };
    let t = Instant::now();
    let out = run_open(addr, plan(2, 0, 200), open, get()).await.unwrap();
    let took = t.elapsed();
    // The two connections each sent one request; the rest never left.
    let counts = (out.ok, out.errors, out.timeouts, out.late);
    assert_eq!(counts, (0, 0, 2, 198));
    assert!(out.first_error.is_some());
    assert!(took >= ms(300) && took < ms(1500), "{took:?}");
}
