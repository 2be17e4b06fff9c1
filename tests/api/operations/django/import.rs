//! Moving from the original Django app: `tasklane import-django` on a database built by
//! real Django 4.2 and simplejwt 5.3.1, on SQLite or PostgreSQL: users, tasks and tokens
//! move over, and accounts that cannot coexist are listed with nothing written.

use std::path::PathBuf;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

use super::{SECRET_KEY, import, login, original, serve, spec, target};

async fn refresh(c: &reqwest::Client, p: &Proc, token: &str) -> (StatusCode, Value) {
    let r = c
        .post(p.url("/api/token/refresh/"))
        .json(&json!({"refresh": token}))
        .send()
        .await
        .unwrap();
    (r.status(), r.json().await.unwrap_or(Value::Null))
}

/// Django's ISO time (`2025-01-02T03:04:05.678901+00:00`) as the API writes it.
fn api_time(django: &str) -> String {
    let t = chrono::DateTime::parse_from_rfc3339(django).unwrap();
    t.naive_utc().format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

#[tokio::test]
async fn an_original_sqlite_database_moves_over_with_its_users_tasks_and_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite3");
    let Some(django) = original(spec(db.to_str().unwrap())) else {
        return;
    };
    let (flags, pg) = target(dir.path());
    let from = db.to_str().unwrap();

    // A dry run says what would happen and writes nothing (not even a new file).
    let dry = import(from, &flags, &["--dry-run"]).await;
    assert_eq!(dry.code, Some(0), "{dry:#?}");
    assert!(
        dry.stdout.contains("3 accounts") && dry.stdout.contains("3 tasks"),
        "{dry:#?}"
    );
    assert!(
        dry.stderr.contains("task 2: a title of 3 characters"),
        "{dry:#?}"
    );
    if pg.is_none() {
        assert!(
            !dir.path().join("tasklane.db").exists(),
            "a dry run made the database"
        );
    }

    let run = import(from, &flags, &[]).await;
    assert_eq!(run.code, Some(0), "{run:#?}");
    assert!(run.stdout.contains("imported"), "{run:#?}");
    // A second import is refused, and changes nothing.
    let again = import(from, &flags, &[]).await;
    assert_eq!(again.code, Some(1), "{again:#?}");
    assert!(
        again.stderr.contains("already holds 3 accounts"),
        "{again:#?}"
    );

    let p = serve(&flags, pg);
    let c = reqwest::Client::new();
    // The original's access token works: same claims, same ids, same key.
    let tokens = &django["tokens"]["alice"];
    let r = c
        .get(p.url("/api/tasks/?ordering=id"))
        .bearer_auth(tokens["access"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "the original's access token was refused"
    );
    let listed: Value = r.json().await.unwrap();
    // Ids, fields and timestamps to the microsecond.
    let expected: Vec<Value> = django["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            json!({
                "id": t["id"], "title": t["title"], "description": t["description"],
                "completed": t["completed"],
                "created_at": api_time(t["created_at"].as_str().unwrap()),
                "updated_at": api_time(t["updated_at"].as_str().unwrap()),
            })
        })
        .collect();
    let got: Vec<Value> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            json!({
                "id": t["id"], "title": t["title"], "description": t["description"],
                "completed": t["completed"], "created_at": t["created_at"],
                "updated_at": t["updated_at"],
            })
        })
        .collect();
    assert_eq!(got, expected);
    assert_eq!(listed[0]["created_at"], "2025-01-02T03:04:05.678901Z");
    assert_eq!(listed[0]["user"]["id"], django["users"]["alice"]);

    // The original's refresh token rotates once; used again, it is refused.
    let (status, pair) = refresh(&c, &p, tokens["refresh"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{pair}");
    let (status, _) = refresh(&c, &p, pair["refresh"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "the adopted login's new token");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (status, body) = refresh(&c, &p, tokens["refresh"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");

    // Passwords: Django's hash logs in (and becomes argon2id); an unusable password and
    // an inactive account never do.
    let (status, body) = login(&c, &p, "alice", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = login(&c, &p, "alice", "not-her-password").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    for (name, password) in [("bob", PASSWORD), ("bob", ""), ("carol", PASSWORD)] {
        let (status, body) = login(&c, &p, name, password).await;
        assert!(
            status == StatusCode::UNAUTHORIZED || status == StatusCode::BAD_REQUEST,
            "{name}: {status} {body}"
        );
    }

    // New ids continue past every id the original handed out, the deleted task's too.
    let access = body_access(&c, &p).await;
    let r = c
        .post(p.url("/api/tasks/"))
        .bearer_auth(&access)
        .json(&json!({"title": "After the move"}))
        .send()
        .await
        .unwrap();
    let new: Value = r.json().await.unwrap();
    assert_eq!(new["id"], 5, "{new}");
    // Each history starts at the import: the first change is event 1.
    let r = c
        .get(p.url("/api/changes/?since=0"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    let changes: Value = r.json().await.unwrap();
    assert_eq!(changes["events"][0]["event_id"], 1, "{changes}");
    assert_eq!(changes["events"][0]["task"]["id"], 5, "{changes}");
}

async fn body_access(c: &reqwest::Client, p: &Proc) -> String {
    let (status, body) = login(c, p, "alice", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["access"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn accounts_that_cannot_coexist_are_listed_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite3");
    let spec = json!({
        "database": db.to_str().unwrap(),
        "secret_key": SECRET_KEY,
        "users": [
            {"username": "alice", "email": "Alice@Example.com", "password": PASSWORD},
            {"username": "alice2", "email": "alice@example.com", "password": PASSWORD},
            {"username": "ｂｏｂ", "email": "bob1@example.com", "password": PASSWORD},
            {"username": "bob", "email": "bob2@example.com", "password": PASSWORD},
            {"username": "dave", "email": "dave@example.com", "password": PASSWORD},
        ],
    });
    let Some(_) = original(spec) else { return };
    let (flags, _pg) = target(dir.path());
    for extra in [&["--dry-run"][..], &[]] {
        let run = import(db.to_str().unwrap(), &flags, extra).await;
        assert_eq!(run.code, Some(1), "{run:#?}");
        assert!(run.stderr.contains("2 groups of accounts"), "{run:#?}");
        assert!(
            run.stderr.contains(r#"email "alice@example.com": accounts 1 ("alice", "Alice@Example.com"), 2 ("alice2", "alice@example.com")"#),
            "{run:#?}"
        );
        assert!(
            run.stderr
                .contains(r#"username "bob": accounts 3 ("ｂｏｂ""#),
            "{run:#?}"
        );
    }
    if let Some(path) = flags.get(1).filter(|_| flags[0] == "--db") {
        assert!(
            !PathBuf::from(path).exists(),
            "a refused import made the database"
        );
    }
}

#[tokio::test]
async fn an_original_on_postgresql_imports_the_same_way() {
    let Some(pg_original) = fresh_pg().await else {
        return;
    };
    let Some(django) = original(spec(&pg_original.url)) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (flags, pg) = target(dir.path());
    let run = import(&pg_original.url, &flags, &[]).await;
    assert_eq!(run.code, Some(0), "{run:#?}");
    assert!(
        run.stdout.contains("3 accounts") && run.stdout.contains("3 tasks"),
        "{run:#?}"
    );
    let p = serve(&flags, pg);
    let c = reqwest::Client::new();
    let r = c
        .get(p.url("/api/tasks/?ordering=id"))
        .bearer_auth(django["tokens"]["alice"]["access"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let listed: Value = r.json().await.unwrap();
    assert_eq!(listed[0]["created_at"], "2025-01-02T03:04:05.678901Z");
    assert_eq!(listed.as_array().unwrap().len(), 3);
    let r = c
        .post(p.url("/api/tasks/"))
        .bearer_auth(django["tokens"]["alice"]["access"].as_str().unwrap())
        .json(&json!({"title": "After the move"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["id"], 5);
}
