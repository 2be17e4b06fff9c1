//! Credentials end when they should, scopes mean what they say, and nothing secret lies
//! around: attacks on the real server and binary that worked before issue 11.

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

/// Polls `GET path` with `token` until it is refused; fails unless that happens within
/// `within` of `since`.
async fn refused_within(app: &TestApp, path: &str, token: &str, since: Instant, within: Duration) {
    loop {
        let r = app.get(path, token).await;
        if r.status == StatusCode::UNAUTHORIZED {
            return;
        }
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert!(
            since.elapsed() < within,
            "{path} still answered 200 {:?} after the change",
            since.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_password_reset_ends_every_older_credential_within_two_seconds() {
    let app = spawn_app().await;
    let (access, refresh) = app.user("reset1").await;
    let script = api_token(&app, &access, &["tasks:read"]).await;
    let (bystander, _) = app.user("bystander1").await;
    // Warm the account cache, as a busy server would have it.
    assert_eq!(
        app.get("/api/users/me/", &access).await.status,
        StatusCode::OK
    );
    assert_eq!(app.get("/api/tasks/", &script).await.status, StatusCode::OK);

    let new_password = "Blue-Mariposa-42";
    let changed = user(
        &app,
        &["set-password", "--username", "reset1", "--password-stdin"],
        Some(&format!("{new_password}\n")),
    )
    .await;
    let at = Instant::now();
    changed.ok();
    assert!(
        changed
            .stdout
            .contains("1 refresh token and 1 API token revoked"),
        "{changed:?}"
    );

    refused_within(&app, "/api/users/me/", &access, at, Duration::from_secs(2)).await;
    refused_within(&app, "/api/tasks/", &script, at, Duration::from_secs(2)).await;
    assert_eq!(app.refresh(&refresh).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.login("reset1", PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
    // A login right after the change (often in the same second) works at once.
    let fresh = app.login("reset1", new_password).await;
    assert_eq!(fresh.status, StatusCode::OK, "{}", fresh.text);
    let fresh = fresh.json();
    let r = app
        .get("/api/users/me/", fresh["access"].as_str().unwrap())
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app.refresh(fresh["refresh"].as_str().unwrap()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // Nobody else was touched.
    assert_eq!(
        app.get("/api/users/me/", &bystander).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn deactivation_ends_every_credential_and_reactivation_brings_none_back() {
    let app = spawn_app().await;
    let (access, refresh) = app.user("pause1").await;
    let script = api_token(&app, &access, &["tasks:read"]).await;

    user(&app, &["deactivate", "--username", "pause1"], None)
        .await
        .ok();
    user(&app, &["activate", "--username", "pause1"], None)
        .await
        .ok();
    let at = Instant::now();

    refused_within(&app, "/api/users/me/", &access, at, Duration::from_secs(2)).await;
    refused_within(&app, "/api/tasks/", &script, at, Duration::from_secs(2)).await;
    assert_eq!(app.refresh(&refresh).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.login("pause1", PASSWORD).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_stream_on_an_ended_session_closes_with_4003() {
    let app = spawn_app().await;
    let (access, _) = app.user("stream1").await;
    let mut ws = app.ws(&access, None).await;

    user(
        &app,
        &["set-password", "--username", "stream1", "--password-stdin"],
        Some("Blue-Mariposa-42\n"),
    )
    .await
    .ok();

    match ws.next_within(Duration::from_secs(5)).await {
        WsNext::Closed(Some(4003), reason) => assert!(reason.contains("since="), "{reason}"),
        other => panic!("expected close 4003, got {other:?}"),
    }
}

#[tokio::test]
async fn write_implies_read_and_is_listed_so() {
    let app = spawn_app().await;
    let (session, _) = app.user("scopes1").await;
    let task = app.new_task(&session, "Seen by writers").await;
    let writer = api_token(&app, &session, &["tasks:write"]).await;

    let listed = app.get("/api/tokens/", &session).await.json();
    assert_eq!(listed[0]["scopes"], json!(["tasks:read", "tasks:write"]));
    // What a writer is answered with, it may also read: the listing says so.
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/tasks/{}/", task["id"]),
            Some(&writer),
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(app.get("/api/tasks/", &writer).await.status, StatusCode::OK);
}

#[tokio::test]
async fn the_account_routes_need_the_account_read_scope() {
    let app = spawn_app().await;
    let (session, _) = app.user("scopes2").await;
    let tasks_only = api_token(&app, &session, &["tasks:read", "tasks:write"]).await;
    let account = api_token(&app, &session, &["account:read"]).await;
    let me = app.get("/api/users/me/", &session).await.json();

    for path in [
        "/api/users/me/".to_owned(),
        "/api/users/".to_owned(),
        format!("/api/users/{}/", me["id"]),
        "/api/".to_owned(),
    ] {
        let r = app.get(&path, &tasks_only).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}: {}", r.text);
        assert_eq!(r.json()["code"], "insufficient_scope", "{path}");
        assert_eq!(
            app.get(&path, &account).await.status,
            StatusCode::OK,
            "{path}"
        );
        // Sessions are unaffected.
        assert_eq!(
            app.get(&path, &session).await.status,
            StatusCode::OK,
            "{path}"
        );
    }
    // account:read reads the account, not the tasks.
    assert_eq!(
        app.get("/api/tasks/", &account).await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn api_tokens_never_travel_in_urls() {
    let app = spawn_app().await;
    let (session, _) = app.user("urls1").await;
    let script = api_token(&app, &session, &["tasks:read"]).await;

    // Refused before the upgrade: a plain HTTP 401, no socket.
    let r = app
        .client
        .get(app.url(&format!("/ws/tasks/?token={script}")))
        .header("connection", "Upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "token_in_url");
    let err = tokio_tungstenite::connect_async(app.ws_url(&format!("/ws/tasks/?token={script}")))
        .await
        .expect_err("no socket for an API token in the URL");
    assert!(err.to_string().contains("401"), "{err}");

    // In the header it works.
    let mut ws = app.ws_bearer(&script).await;
    app.new_task(&session, "Heard through the header").await;
    assert_eq!(
        ws.next_json().await["task"]["title"],
        "Heard through the header"
    );
}

/// Every value (as text) in every table of the database.
async fn all_text(app: &TestApp) -> Vec<String> {
    let c = db(app).await;
    let mut out = Vec::new();
    for t in c.tables().await {
        for row in c.rows(&format!("SELECT * FROM \"{t}\""), &[]).await {
            out.extend(row.into_iter().flatten());
        }
    }
    out
}

#[tokio::test]
async fn a_rotated_pair_is_forgotten_once_its_grace_window_passes() {
    let app = spawn_app_with(|a| a.refresh_grace = Duration::from_secs(1)).await;
    let (_, refresh) = app.user("sweep1").await;
    let rotated = app.refresh(&refresh).await;
    assert_eq!(rotated.status, StatusCode::OK);
    let new_refresh = rotated.json()["refresh"].as_str().unwrap().to_owned();
    // Within the window the pair is kept, so a retry gets the same answer.
    assert!(
        all_text(&app)
            .await
            .iter()
            .any(|s| s.contains(&new_refresh))
    );

    tokio::time::sleep(Duration::from_secs(3)).await;
    let jwts: Vec<String> = all_text(&app)
        .await
        .into_iter()
        .filter(|s| s.contains("eyJ"))
        .collect();
    assert!(jwts.is_empty(), "JWTs left in the database: {jwts:?}");
    // A replay now is reuse: the family is revoked, the successor included.
    assert_eq!(app.refresh(&refresh).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.refresh(&new_refresh).await.status,
        StatusCode::UNAUTHORIZED
    );
}

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[tokio::test]
async fn the_database_its_journal_files_and_backups_are_private_whatever_the_umask() {
    if skip_on_postgres("file modes of SQLite's files; PostgreSQL keeps its own files") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db_path = dir.path().join("private.db");
    let p = spawn_tasklane_with_umask(&db_path, &[], "000");
    let client = reqwest::Client::new();
    let token = user_on(&client, &p, "private1").await;
    let r = client
        .post(p.url("/api/tasks/"))
        .bearer_auth(&token)
        .json(&json!({"title": "Kept private"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);

    for suffix in ["", "-wal", "-shm"] {
        let f = dir.path().join(format!("private.db{suffix}"));
        assert_eq!(mode(&f), 0o600, "{}", f.display());
    }

    let backup = dir.path().join("copy.db");
    let mut sh = tokio::process::Command::new("sh");
    sh.args(["-c", "umask 000 && exec \"$@\"", "sh"])
        .arg(env!("CARGO_BIN_EXE_tasklane"))
        .args(["backup", "--no-progress", "--db"])
        .arg(&db_path)
        .arg(&backup);
    let out = sh.output().await.unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(mode(&backup), 0o600);
}

#[tokio::test]
async fn help_never_shows_a_secret_from_the_environment() {
    let secret_url = "redis://:hunter2-redis-password@127.0.0.1:6379";
    let database_url = "postgres://tasklane:hunter2-db-password@db.example/tasklane";
    let jwt_secret = "jwt-secret-that-must-not-show-0123456789";
    for args in [
        &["--help"][..],
        &["serve", "--help"][..],
        &["user", "list", "--help"][..],
    ] {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_tasklane"))
            .args(args)
            .env("TASKLANE_REDIS_URL", secret_url)
            .env("TASKLANE_DATABASE_URL", database_url)
            .env("TASKLANE_JWT_SECRET", jwt_secret)
            .output()
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("--database-url"), "{text}");
        assert!(
            !text.contains("hunter2"),
            "{args:?} shows the Redis or database password"
        );
        assert!(!text.contains(jwt_secret), "{args:?} shows the JWT secret");
    }
    // The CLI's own runs never print it either.
    let run = tasklane(&["migrate", "--help"], None).await;
    assert!(!run.stdout.contains("hunter2"));
}
