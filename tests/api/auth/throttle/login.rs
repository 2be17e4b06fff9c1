//! Attacks on login and registration: bursts that race the throttles, a flooded hashing
//! queue, probing registrations, IPv6 address rotation, huge usernames and forged
//! `X-Forwarded-For` lines.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

const BAD_CREDENTIALS: &str = r#"{"detail":"No active account found with the given credentials"}"#;

/// `POST /api/token/` with `X-Forwarded-For: <each of xff>` (one header line each).
async fn login_via(app: &TestApp, username: &str, password: &str, xff: &[&str]) -> Resp {
    let mut req = app
        .client
        .post(app.url("/api/token/"))
        .json(&json!({"username": username, "password": password}));
    for line in xff {
        req = req.header("x-forwarded-for", *line);
    }
    read(req.send().await.expect("request")).await
}

fn count(responses: &[Resp], status: StatusCode) -> usize {
    responses.iter().filter(|r| r.status == status).count()
}

/// Every 429 and 503 says when to come back and why, DRF-shaped.
fn assert_retry_after(responses: &[Resp]) {
    for r in responses {
        if r.status == StatusCode::TOO_MANY_REQUESTS || r.status == StatusCode::SERVICE_UNAVAILABLE
        {
            let retry: u64 = r
                .header("retry-after")
                .unwrap_or_else(|| panic!("no Retry-After: {r:?}"))
                .parse()
                .expect("seconds");
            assert!(retry >= 1, "{r:?}");
            assert!(r.json()["detail"].is_string(), "{r:?}");
        }
    }
}

#[tokio::test]
async fn a_hundred_concurrent_wrong_passwords_reach_the_hash_at_most_five_times() {
    // Arrange
    let app = spawn_app_with(|a| a.trust_x_forwarded_for = true).await;
    app.user("alice1").await;
    let attacker = ["198.51.100.10"];

    // Act: 100 guesses at once, one account, one address.
    let guesses = (0..100).map(|i| {
        let app = &app;
        async move { login_via(app, "alice1", &format!("wrong-guess-{i}"), &attacker).await }
    });
    let responses = join_all(guesses).await;

    // Assert
    assert_eq!(count(&responses, StatusCode::UNAUTHORIZED), 5);
    assert_eq!(count(&responses, StatusCode::TOO_MANY_REQUESTS), 95);
    assert_retry_after(&responses);
    // The attacker's pair stays blocked, even with the right password ...
    let r = login_via(&app, "alice1", PASSWORD, &attacker).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    // ... while alice, from her own address, logs in.
    let alice = ["198.51.100.11"];
    assert_eq!(
        login_via(&app, "alice1", PASSWORD, &alice).await.status,
        StatusCode::OK
    );
    // A success clears her pair's count: 4 typos, a success, then 5 more typos are all
    // checked; the 6th in a row is throttled.
    for _ in 0..4 {
        let r = login_via(&app, "alice1", "typo-password", &alice).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        login_via(&app, "alice1", PASSWORD, &alice).await.status,
        StatusCode::OK
    );
    for _ in 0..5 {
        let r = login_via(&app, "alice1", "typo-password", &alice).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    }
    let r = login_via(&app, "alice1", "typo-password", &alice).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn concurrent_guesses_at_many_usernames_from_one_address_stop_at_the_address_limit() {
    let app = spawn_app_with(|a| {
        a.trust_x_forwarded_for = true;
        a.login_failures_per_address = 5;
    })
    .await;

    let guesses = (0..100).map(|i| {
        let app = &app;
        async move {
            login_via(
                app,
                &format!("user{i}"),
                "wrong-password",
                &["198.51.100.12"],
            )
            .await
        }
    });
    let responses = join_all(guesses).await;

    assert_eq!(count(&responses, StatusCode::UNAUTHORIZED), 5);
    assert_eq!(count(&responses, StatusCode::TOO_MANY_REQUESTS), 95);
    assert_retry_after(&responses);
    // Another address is not charged for it.
    let r = login_via(&app, "user0", "wrong-password", &["198.51.100.13"]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_burst_on_one_account_from_many_addresses_does_not_stall_other_logins() {
    // Arrange
    let app = Arc::new(spawn_app_with(|a| a.trust_x_forwarded_for = true).await);
    app.user("alice1").await;
    app.user("bob1").await;
    let hashed = Arc::new(AtomicUsize::new(0));

    // Act: 300 wrong passwords for alice at once, each from its own address (so the
    // per-address and per-pair limits let every one through), and bob logs in meanwhile.
    let burst: Vec<_> = (0..300)
        .map(|i| {
            let (app, hashed) = (app.clone(), hashed.clone());
            tokio::spawn(async move {
                let xff = format!("2001:db8:{i:x}::1");
                let r = login_via(&app, "alice1", "wrong-password", &[xff.as_str()]).await;
                if r.status == StatusCode::UNAUTHORIZED {
                    hashed.fetch_add(1, Ordering::SeqCst);
                }
                r
            })
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let hashed_before = hashed.load(Ordering::SeqCst);
    let bob = login_via(&app, "bob1", PASSWORD, &["198.51.100.20"]).await;
    let waited_for = hashed.load(Ordering::SeqCst) - hashed_before;
    let mut responses = Vec::new();
    for b in burst {
        responses.push(b.await.expect("burst task"));
    }

    // Assert: bob got in behind at most a few of alice's checks (not the whole burst),
    // and the burst got 401s and fast 503s, never a 500.
    eprintln!("burst: {waited_for} of alice's checks answered while bob logged in");
    assert_eq!(bob.status, StatusCode::OK, "{}", bob.text);
    assert!(
        waited_for <= 20,
        "bob waited for {waited_for} of the burst's password checks"
    );
    let (unauthorized, busy) = (
        count(&responses, StatusCode::UNAUTHORIZED),
        count(&responses, StatusCode::SERVICE_UNAVAILABLE),
    );
    assert_eq!(unauthorized + busy, 300, "{responses:?}");
    assert!(busy > 0);
    assert_retry_after(&responses);
}

#[tokio::test]
async fn a_full_hash_queue_answers_503_with_retry_after_at_once() {
    // Arrange: room for one password check at a time.
    let app = spawn_app_with(|a| a.hash_queue = 1).await;
    app.user("bob1").await;

    // Act: 40 logins at once, each for its own (unknown) name.
    let burst = (0..40).map(|i| {
        let app = &app;
        async move { app.login(&format!("nobody{i}"), "wrong-password").await }
    });
    let responses = join_all(burst).await;

    // Assert
    let busy: Vec<&Resp> = responses
        .iter()
        .filter(|r| r.status == StatusCode::SERVICE_UNAVAILABLE)
        .collect();
    assert!(!busy.is_empty(), "no 503 in {responses:?}");
    assert_eq!(
        busy.len() + count(&responses, StatusCode::UNAUTHORIZED),
        40,
        "{responses:?}"
    );
    assert_retry_after(&responses);
    assert_eq!(busy[0].header("retry-after"), Some("1"));
    // Turned-away attempts were never checked, so they don't count against anyone.
    assert_eq!(app.login("bob1", PASSWORD).await.status, StatusCode::OK);
}

#[test]
fn the_hash_queue_is_a_flag() {
    let parse = |args: &[&str]| {
        <tasklane::config::Cli as clap::Parser>::try_parse_from(args).map(|c| c.serve_args())
    };
    assert_eq!(
        parse(&["tasklane", "--hash-queue", "7"])
            .unwrap()
            .hash_queue,
        7
    );
    assert_eq!(parse(&["tasklane"]).unwrap().hash_queue, 64);
    assert!(parse(&["tasklane", "--hash-queue", "0"]).is_err());
}

#[tokio::test]
async fn registrations_count_whether_they_succeed_or_fail() {
    let app = spawn_app_with(|a| a.registrations_per_address = 3).await;
    assert_eq!(
        app.register("alice1", "alice1@example.com", PASSWORD)
            .await
            .status,
        StatusCode::CREATED
    );

    // Probing whether names are taken costs attempts too.
    for probe in ["alice1", "alice1"] {
        let r = app.register(probe, "probe@example.com", PASSWORD).await;
        assert_eq!(
            r.text,
            r#"{"username":["A user with that username already exists."]}"#
        );
    }
    let r = app.register("alice1", "probe@example.com", PASSWORD).await;

    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    assert!(r.header("retry-after").is_some());
    // A fresh, valid registration from the same address waits as well.
    let r = app.register("carol1", "carol1@example.com", PASSWORD).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn invalid_registrations_count_too() {
    let app = spawn_app_with(|a| a.registrations_per_address = 2).await;
    for _ in 0..2 {
        let r = app.register("bad user!", "not-an-email", "123").await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
    }
    let r = app.register("carol1", "carol1@example.com", PASSWORD).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn ipv6_clients_are_counted_per_64() {
    // Arrange: a server on the IPv6 loopback, behind a "proxy" naming the clients.
    let Some(app) = spawn_app_on("[::1]:0", |a| {
        a.trust_x_forwarded_for = true;
        a.login_failures_per_address = 2;
    })
    .await
    else {
        eprintln!("SKIPPED ipv6_clients_are_counted_per_64: cannot bind [::1] here");
        return;
    };
    let guess = |xff: &'static str| {
        let app = &app;
        async move {
            login_via(app, "nobody", "wrong-password", &[xff])
                .await
                .status
        }
    };

    // Act + Assert: two addresses in one /64 share its budget ...
    assert_eq!(guess("2001:db8:1:2::a").await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        guess("2001:db8:1:2:ffff:ffff:ffff:ffff").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        guess("2001:db8:1:2::b").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // ... the next /64 has its own ...
    assert_eq!(guess("2001:db8:1:3::a").await, StatusCode::UNAUTHORIZED);
    // ... and an IPv4-mapped address is that IPv4 address.
    assert_eq!(guess("::ffff:198.51.100.7").await, StatusCode::UNAUTHORIZED);
    assert_eq!(guess("198.51.100.7").await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        guess("[::ffff:198.51.100.7]:443").await,
        StatusCode::TOO_MANY_REQUESTS
    );

    // Without the proxy, the IPv6 peer itself is counted.
    let app = spawn_app_on("[::1]:0", |a| a.login_failures_per_address = 1)
        .await
        .expect("bound [::1] a moment ago");
    assert_eq!(
        app.login("nobody", "wrong-password").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login("nobody2", "wrong-password").await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn every_forwarded_for_line_is_read_and_the_rightmost_address_wins() {
    let app = spawn_app_with(|a| {
        a.trust_x_forwarded_for = true;
        a.login_failures_per_address = 2;
    })
    .await;
    // The client wrote the first line; the proxy appended the second.
    let two_lines = ["198.51.100.1", "203.0.113.5, 198.51.100.2:4321"];

    for _ in 0..2 {
        let r = login_via(&app, "nobody", "wrong-password", &two_lines).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let charged = login_via(&app, "nobody", "wrong-password", &["198.51.100.2"]).await;
    let spoofed = login_via(&app, "nobody", "wrong-password", &["198.51.100.1"]).await;

    assert_eq!(charged.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(spoofed.status, StatusCode::UNAUTHORIZED);
}

/// Resident memory of a process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

#[tokio::test]
async fn huge_usernames_get_the_unknown_user_401_and_cost_no_memory() {
    if !std::path::Path::new("/proc/self/status").exists() {
        eprintln!("SKIPPED huge_usernames_…: no /proc on this system");
        return;
    }
    // Arrange: the real binary behind a "proxy", warmed up (argon2's working areas).
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_tasklane(&dir.path().join("huge.db"), &["--trust-x-forwarded-for"]);
    let client = reqwest::Client::new();
    user_on(&client, &server, "alice1").await;
    let login = |username: String, xff: String| {
        let req = client
            .post(server.url("/api/token/"))
            .header("x-forwarded-for", xff)
            .json(&json!({"username": username, "password": "wrong-password"}));
        async move { read(req.send().await.expect("request")).await }
    };
    let warm = (0..8).map(|i| login("alice1".into(), format!("198.51.100.{i}")));
    join_all(warm).await;
    let huge = "a".repeat(900_000);
    for i in 0..10 {
        login(huge.clone(), format!("203.0.113.{i}")).await;
    }
    let before = rss_kib(server.child.id());

    // Act: 300 logins with 900 KB usernames, each from its own address.
    let mut statuses = Vec::new();
    for i in 0..300 {
        let r = login(huge.clone(), format!("2001:db8:{i:x}::1")).await;
        statuses.push((r.status, r.text));
    }
    let after = rss_kib(server.child.id());

    // Assert: each is the unknown user's 401, and the server kept none of them.
    for (status, text) in &statuses {
        assert_eq!(*status, StatusCode::UNAUTHORIZED);
        assert_eq!(text, BAD_CREDENTIALS);
    }
    let just_too_long = login("b".repeat(151), "198.51.100.99".into()).await;
    assert_eq!(just_too_long.status, StatusCode::UNAUTHORIZED);
    assert_eq!(just_too_long.text, BAD_CREDENTIALS);
    let grown = after.saturating_sub(before);
    eprintln!("huge usernames: RSS {before} KiB -> {after} KiB");
    assert!(
        grown < 16 * 1024,
        "the server grew by {grown} KiB ({before} -> {after})"
    );
}

#[tokio::test]
async fn two_processes_on_one_database_count_the_same_attempts() {
    // Two servers on one file (two processes, as far as the database knows), each
    // receiving half of the guesses: together they let through exactly the limit, as one
    // server would. Before, each counted its own five.
    let a = spawn_app_with(|a| {
        a.trust_x_forwarded_for = true;
        a.login_failures = 5;
        a.registrations_per_address = 3;
    })
    .await;
    let b = start(a.dir.clone(), a.args.clone()).await;
    a.user("alice1").await;
    let attacker = ["198.51.100.20"];
    let guesses = (0..40).map(|i| {
        let app = if i % 2 == 0 { &a } else { &b };
        async move { login_via(app, "alice1", &format!("wrong-guess-{i}"), &attacker).await }
    });
    let responses = join_all(guesses).await;
    assert_eq!(
        count(&responses, StatusCode::UNAUTHORIZED),
        5,
        "reached the hash"
    );
    assert_eq!(count(&responses, StatusCode::TOO_MANY_REQUESTS), 35);
    assert_retry_after(&responses);

    // Registrations: 3 from one address, over both.
    let mut statuses = Vec::new();
    for (i, app) in [&a, &b, &a, &b].into_iter().enumerate() {
        let name = format!("newcomer{i}");
        let r = app
            .client
            .post(app.url("/api/register/"))
            .header("x-forwarded-for", "203.0.113.9")
            .json(&json!({"username": name, "email": format!("{name}@example.com"), "password": PASSWORD}))
            .send()
            .await
            .unwrap()
            .status();
        statuses.push(r);
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
}
