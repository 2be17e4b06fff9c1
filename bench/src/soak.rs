//! The soak (`--only soak`): one user lists its tasks and creates more, 9 lists to 1
//! create on each connection, closed loop, for `--soak-rounds` rounds of `--duration`
//! back to back. Its tasks grow round after round (about a tenth of the requests add
//! one); a list that costs its page keeps the rate flat, one that costs the tasks does
//! not. Each round is a row: its rate, its latency, the tasks at its end and its rate
//! over the first round's.

use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use hyper::StatusCode;
use serde_json::{Value, json};

use crate::http::{Conn, Req, excerpt};
use crate::load::{MakeReq, Plan};
use crate::report::Row;
use crate::scenarios::{Subject, http_scenario, users};
use crate::{Args, api};

pub async fn soak(
    target: Subject<'_>,
    prefix: &str,
    args: &Args,
) -> anyhow::Result<(Vec<Row>, Value)> {
    let user = users(target.addr, &format!("{prefix}soak"), 1)
        .await?
        .remove(0);
    let token = user.token.clone();
    let make: MakeReq = Arc::new(move |c, seq| {
        if seq % 10 == 9 {
            let mut req = api::create_task_req(&token, &format!("Soak task {c}-{seq}"));
            req.expect = Some(StatusCode::CREATED);
            req
        } else {
            Req::get("/api/tasks/", Some(token.clone()))
        }
    });
    let mut rows = Vec::new();
    let mut rounds = Vec::new();
    let mut first_rate = None;
    for round in 1..=args.soak_rounds {
        let plan = Plan {
            connections: args.connections,
            warmup: if round == 1 {
                args.warmup
            } else {
                Duration::ZERO
            },
            duration: args.duration,
            expect: StatusCode::OK,
        };
        let (mut r, v) = http_scenario(
            target,
            &format!("soak round {round}"),
            plan,
            None,
            make.clone(),
        )
        .await;
        let tasks = total(target.addr, &user.token).await?;
        let rate = v["closed_loop"]["rate_per_s"].as_f64().unwrap_or(0.0);
        let first = *first_rate.get_or_insert(rate);
        let ratio = if first > 0.0 { rate / first } else { 0.0 };
        for row in &mut r {
            row.notes = format!(
                "{tasks} tasks at its end; {ratio:.2}× round 1; 9 lists : 1 create; {}",
                row.notes
            );
        }
        rows.extend(r);
        rounds.push(json!({
            "round": round,
            "tasks_at_end": tasks,
            "rate_over_round_1": (ratio * 100.0).round() / 100.0,
            "run": v,
        }));
    }
    Ok((
        rows,
        json!({
            "mix": "each connection: 9 GET /api/tasks/ then 1 POST /api/tasks/",
            "round_duration_s": args.duration.as_secs_f64(),
            "rounds": rounds,
        }),
    ))
}

/// The user's `X-Total-Count`.
async fn total(addr: std::net::SocketAddr, token: &Arc<str>) -> anyhow::Result<u64> {
    let (status, headers, body) = Conn::new(addr)
        .send_full(&Req::get("/api/tasks/?limit=1", Some(token.clone())))
        .await?;
    if status != StatusCode::OK {
        bail!("list tasks: {status} {}", excerpt(&body));
    }
    Ok(headers
        .get("x-total-count")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0))
}
