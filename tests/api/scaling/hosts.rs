//! Several hosts as one server: real processes, each started from an empty folder of its
//! own (no shared disk), on one PostgreSQL database and one Redis, with no `--jwt-secret`
//! (the signing secret is shared through the database); throttles count across them.
//!
//! Needs PostgreSQL and Redis; each skips loudly without them unless `REQUIRE_POSTGRES=1`
//! / `REQUIRE_REDIS=1` (CI).

use std::process::Command;
use std::time::Duration;

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

/// `n` processes on `db` and `redis`, each in its own empty working directory.
fn hosts(
    db: &PgDatabase,
    redis: &str,
    n: usize,
    extra: &[&str],
) -> (Vec<Proc>, Vec<tempfile::TempDir>) {
    let channel = format!("tasklane-hosts-{}", rand::random::<u64>());
    let mut procs = Vec::new();
    let mut dirs = Vec::new();
    for _ in 0..n {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tasklane"));
        cmd.current_dir(dir.path())
            .args(["serve", "--bind", "127.0.0.1:0", "--log", "info"])
            .args(["--database-url", &db.url])
            .args(["--redis-url", redis, "--redis-channel", &channel])
            .args(extra);
        procs.push(run_command(cmd, None));
        dirs.push(dir);
    }
    (procs, dirs)
}

pub(super) async fn send(
    c: &reqwest::Client,
    p: &Proc,
    path: &str,
    token: Option<&str>,
    key: Option<&str>,
    body: Value,
) -> Resp {
    let mut r = c.post(p.url(path)).json(&body);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    if let Some(k) = key {
        r = r.header("Idempotency-Key", k);
    }
    read(r.send().await.unwrap()).await
}

async fn wait_all_ok(c: &reqwest::Client, procs: &[Proc]) {
    for p in procs {
        let mut last = Value::Null;
        for _ in 0..200 {
            last = c
                .get(p.url("/healthz"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if last["redis"] == "ok" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(last["redis"], "ok", "{last}\n{}", p.log());
        assert_eq!(last["backend"], "postgres", "{last}");
    }
}

#[tokio::test]
async fn three_hosts_on_one_postgres_and_one_redis_act_as_one_server() {
    let Some(db) = fresh_pg().await else { return };
    let Some(redis) = shared_redis().await else {
        return;
    };
    let (procs, _dirs) = hosts(&db, &redis, 3, &[]);
    let [a, b, c] = &procs[..] else {
        unreachable!()
    };
    let client = reqwest::Client::new();
    wait_all_ok(&client, &procs).await;

    // An account made through A logs in through B; B's token works on A and C: one
    // signing secret, generated once and shared through the database.
    let r = send(
        &client,
        a,
        "/api/register/",
        None,
        None,
        json!({"username": "alice", "email": "alice@example.com", "password": PASSWORD}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = send(
        &client,
        b,
        "/api/token/",
        None,
        None,
        json!({"username": "alice", "password": PASSWORD}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let token = r.json()["access"].as_str().unwrap().to_owned();
    for p in [a, c] {
        let r = client
            .get(p.url("/api/tasks/"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            StatusCode::OK,
            "a token from B was refused by {}",
            p.addr
        );
    }

    // Concurrent writes through A and B reach a socket on C as events 1..N, in order,
    // once each.
    let mut ws = ws_on(c, &token, None).await;
    let n = 60;
    let writes = (0..n).map(|i| {
        let p = if i % 2 == 0 { a } else { b };
        let (client, token) = (&client, &token);
        async move {
            send(
                client,
                p,
                "/api/tasks/",
                Some(token),
                None,
                json!({"title": format!("Task {i}")}),
            )
            .await
            .status
        }
    });
    let statuses = join_all(writes).await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::CREATED),
        "{statuses:?}"
    );
    let events = ws.events_through(n).await;
    assert_eq!(ids(&events), (1..=n).collect::<Vec<_>>());
    assert!(matches!(
        ws.next_within(Duration::from_millis(500)).await,
        WsNext::Timeout
    ));

    // An idempotency key used on A replays on B and C, even when they race.
    let first = send(
        &client,
        a,
        "/api/tasks/",
        Some(&token),
        Some("k-1"),
        json!({"title": "Made once"}),
    )
    .await;
    assert_eq!(first.status, StatusCode::CREATED);
    for p in [b, c] {
        let again = send(
            &client,
            p,
            "/api/tasks/",
            Some(&token),
            Some("k-1"),
            json!({"title": "Made once"}),
        )
        .await;
        assert_eq!(again.status, StatusCode::CREATED);
        assert_eq!(again.header("idempotent-replayed"), Some("true"));
        assert_eq!(again.json(), first.json());
    }
    let racing = (0..9).map(|i| {
        let p = &procs[i % 3];
        let (client, token) = (&client, &token);
        async move {
            send(
                client,
                p,
                "/api/tasks/",
                Some(token),
                Some("k-2"),
                json!({"title": "Raced once"}),
            )
            .await
        }
    });
    let answers = join_all(racing).await;
    assert!(answers.iter().all(|r| r.status == StatusCode::CREATED));
    let made = answers
        .iter()
        .filter(|r| r.header("idempotent-replayed").is_none())
        .count();
    assert_eq!(made, 1, "one key made {made} tasks across hosts");
    let task_ids: std::collections::BTreeSet<i64> = answers
        .iter()
        .map(|r| r.json()["id"].as_i64().unwrap())
        .collect();
    assert_eq!(task_ids.len(), 1);
    // Two keyed creates made events n+1 and n+2, and nothing else did.
    assert_eq!(ids(&ws.events_through(n + 2).await), [n + 1, n + 2]);
}

#[tokio::test]
async fn throttles_count_across_hosts() {
    let Some(db) = fresh_pg().await else { return };
    let Some(redis) = shared_redis().await else {
        return;
    };
    let (procs, _dirs) = hosts(
        &db,
        &redis,
        3,
        &["--login-failures", "5", "--registrations-per-address", "3"],
    );
    let client = reqwest::Client::new();
    wait_all_ok(&client, &procs).await;

    // Three registrations from one address, one per host, then the fourth is refused
    // whichever host gets it.
    let mut statuses = Vec::new();
    for (i, p) in procs.iter().chain(&procs[..1]).enumerate() {
        let name = format!("user{i}");
        let r = send(
            &client,
            p,
            "/api/register/",
            None,
            None,
            json!({"username": name, "email": format!("{name}@example.com"), "password": PASSWORD}),
        )
        .await;
        statuses.push(r.status);
    }
    assert_eq!(
        statuses,
        [
            StatusCode::CREATED,
            StatusCode::CREATED,
            StatusCode::CREATED,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );

    // Thirty wrong passwords for one account, spread over the hosts at once: five reach
    // the password check in all, as on one server.
    let guesses = (0..30).map(|i| {
        let p = &procs[i % 3];
        let client = &client;
        async move {
            send(
                client,
                p,
                "/api/token/",
                None,
                None,
                json!({"username": "user0", "password": format!("wrong-{i}")}),
            )
            .await
        }
    });
    let answers = join_all(guesses).await;
    let count = |s: StatusCode| answers.iter().filter(|r| r.status == s).count();
    assert_eq!(
        count(StatusCode::UNAUTHORIZED),
        5,
        "guesses that reached the hash"
    );
    let statuses: Vec<u16> = answers.iter().map(|r| r.status.as_u16()).collect();
    let errors: Vec<String> = procs
        .iter()
        .flat_map(|p| {
            p.log()
                .lines()
                .filter(|l| l.contains("ERROR") || l.contains("WARN"))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(
        count(StatusCode::TOO_MANY_REQUESTS),
        25,
        "{statuses:?}\n{}",
        errors.join("\n")
    );
    assert!(
        answers
            .iter()
            .filter(|r| r.status == StatusCode::TOO_MANY_REQUESTS)
            .all(|r| r.header("retry-after").is_some())
    );
    // And the right password is refused too until the window passes, on every host.
    for p in &procs {
        let r = send(
            &client,
            p,
            "/api/token/",
            None,
            None,
            json!({"username": "user0", "password": PASSWORD}),
        )
        .await;
        assert_eq!(
            r.status,
            StatusCode::TOO_MANY_REQUESTS,
            "{} let the account in",
            p.addr
        );
    }
}
