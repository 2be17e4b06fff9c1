//! Secrets an operator's tools never show: not in the logs, `--help`, or start-up errors;
//! and the database, its journal files and backups readable by their owner only.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn logs_never_contain_passwords_tokens_or_hashes() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_tasklane(&dir.path().join("logs.db"), &[]);
    let client = reqwest::Client::new();
    let password = "Very-Secret-Passw0rd!";
    client
        .post(server.url("/api/register/"))
        .json(&json!({"username": "alice1", "email": "alice1@example.com", "password": password}))
        .send()
        .await
        .unwrap();
    let pair: Value = client
        .post(server.url("/api/token/"))
        .json(&json!({"username": "alice1", "password": password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = pair["access"].as_str().unwrap();
    let refresh = pair["refresh"].as_str().unwrap();
    client
        .post(server.url("/api/token/"))
        .json(&json!({"username": "alice1", "password": "wrong-guess-123"}))
        .send()
        .await
        .unwrap();
    client
        .post(server.url("/api/token/refresh/"))
        .json(&json!({ "refresh": refresh }))
        .send()
        .await
        .unwrap();
    let ticket = stream_ticket(&client, &server.url(""), access).await;
    let (ws, _) =
        tokio_tungstenite::connect_async(format!("ws://{}/ws/tasks/?ticket={ticket}", server.addr))
            .await
            .unwrap();
    drop(ws);
    let r = client
        .get(server.url("/api/tasks/?search=x"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(200)).await;

    let log = server.log();
    assert!(log.contains("/api/tasks"), "requests are logged:\n{log}");
    for secret in [
        password,
        "wrong-guess-123",
        access,
        refresh,
        &ticket,
        "$argon2id$",
        TEST_SECRET,
    ] {
        assert!(!log.contains(secret), "log leaked {secret}:\n{log}");
    }
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

#[tokio::test]
async fn a_short_jwt_secret_is_reported_by_its_length_never_its_value() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let db = db.to_str().unwrap();
    let secret = "HUNTER2-too-short";
    let by_flag = tasklane(&["serve", "--db", db, "--jwt-secret", secret], None).await;
    let by_env = tasklane_env(
        &["serve", "--db", db],
        &[("TASKLANE_JWT_SECRET", secret)],
        None,
    )
    .await;
    for run in [&by_flag, &by_env] {
        assert_eq!(run.code, Some(2), "{run:#?}");
        assert!(
            !run.stderr.contains("HUNTER2"),
            "the secret leaked: {run:#?}"
        );
        assert!(run.stderr.contains("--jwt-secret"), "{run:#?}");
        assert!(run.stderr.contains("TASKLANE_JWT_SECRET"), "{run:#?}");
        assert!(
            run.stderr.contains("at least 32 characters (it has 17)"),
            "{run:#?}"
        );
    }
    // Nor do the other secret-bearing flags show their values when they are refused.
    for (flag, value) in [
        ("--redis-url", "redis://:HUNTER2@[::1/0"),
        ("--redis-url", "HUNTER2"),
        ("--database-url", "mysql://bob:HUNTER2@127.0.0.1:1/x"),
        (
            "--database-url",
            "postgres://bob:HUNTER2@127.0.0.1:1/x?sslmode=sometimes",
        ),
        (
            "--database-url",
            "postgres://127.0.0.1:1/x?%70assword=HUNTER2",
        ),
    ] {
        let mut args = vec!["serve", "--bind", "127.0.0.1:0", flag, value];
        if flag == "--redis-url" {
            args.extend(["--db", db]);
        }
        args.extend(["--jwt-secret", TEST_SECRET]);
        let run = tasklane(&args, None).await;
        assert_eq!(run.code, Some(1), "{flag} {value}: {run:#?}");
        assert!(
            !run.stderr.contains("HUNTER2"),
            "{flag} {value} leaked: {run:#?}"
        );
    }
}
