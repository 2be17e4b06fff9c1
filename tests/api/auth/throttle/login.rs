//! Login throttling under attack: bursts that race the throttles, guesses at many
//! usernames from one address, a flooded hashing queue, huge usernames, and two processes
//! counting the same attempts.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

use super::{assert_retry_after, count, login_via};

#[tokio::test]
async fn repeated_failed_logins_are_throttled_per_address_and_username() {
    // Arrange
    let app = spawn_app_with(|a| a.login_failures = 3).await;
    app.user("alice1").await;
    app.user("bob1").await;

    // Act + Assert: failures count, a success clears them.
    for _ in 0..2 {
        assert_eq!(
            app.login("alice1", "wrong-password").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(app.login("alice1", PASSWORD).await.status, StatusCode::OK);
    for _ in 0..3 {
        assert_eq!(
            app.login("alice1", "wrong-password").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let r = app.login("alice1", "wrong-password").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=15 * 60 + 1).contains(&retry), "{retry}");
    assert!(r.json()["detail"].as_str().unwrap().contains("throttled"));
    // Even the right password waits: guessing must not be able to tell it apart.
    assert_eq!(
        app.login("alice1", PASSWORD).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Other users are unaffected.
    assert_eq!(app.login("bob1", PASSWORD).await.status, StatusCode::OK);
}

#[tokio::test]
async fn one_address_guessing_many_usernames_is_throttled() {
    let app = spawn_app_with(|a| a.login_failures_per_address = 4).await;
    for i in 0..4 {
        assert_eq!(
            app.login(&format!("user{i}"), "wrong-password")
                .await
                .status,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        app.login("user9", "wrong-password").await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

const BAD_CREDENTIALS: &str = r#"{"detail":"No active account found with the given credentials"}"#;

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
