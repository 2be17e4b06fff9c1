//! Moving from the original Django app: `tasklane import-django` on a database built by
//! real Django 4.2 and simplejwt 5.3.1 (`scripts/django/original.py`, in the venv
//! `scripts/django-venv.sh` makes), so hashes, timestamps and tokens are the real thing.
//!
//! Skips loudly without the venv unless `REQUIRE_DJANGO=1` (CI).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

/// The original's `SECRET_KEY` (a generated Django key is 50 characters or more).
const SECRET_KEY: &str = "django-insecure-q9$2v!x@0k#r7m^b&w1z*e5t(u)y_h3j-n8p+c4d6f%a";

/// Builds the original's database with real Django from `spec`; what Django reports.
fn original(spec: Value) -> Option<Value> {
    let python = django_python()?;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spec.json");
    std::fs::write(&path, spec.to_string()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/django/original.py");
    let out = Command::new(python)
        .arg(script)
        .arg(&path)
        .output()
        .expect("run the original's Django");
    assert!(
        out.status.success(),
        "Django failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).expect("Django's report"))
}

/// tasklane's database for the test: a SQLite file in `dir`, or (when the suite runs on
/// PostgreSQL) a database of its own there. The flags that name it, and what keeps it.
fn target(dir: &Path) -> (Vec<String>, Option<Arc<PgDatabase>>) {
    match suite_postgres() {
        Some(admin) => {
            let pg = Arc::new(PgDatabase::create_blocking(&admin));
            (vec!["--database-url".into(), pg.url.clone()], Some(pg))
        }
        None => (
            vec!["--db".into(), dir.join("tasklane.db").display().to_string()],
            None,
        ),
    }
}

async fn import(from: &str, target: &[String], extra: &[&str]) -> Run {
    let mut args = vec!["import-django", "--from", from];
    args.extend(target.iter().map(String::as_str));
    args.extend_from_slice(extra);
    tasklane(&args, None).await
}

/// A server on the imported database, signing with the original's `SECRET_KEY`.
fn serve(target: &[String], pg: Option<Arc<PgDatabase>>) -> Proc {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tasklane"));
    cmd.args(["serve", "--bind", "127.0.0.1:0", "--log", "info"])
        .args(target)
        .args(["--jwt-secret", SECRET_KEY, "--refresh-grace", "0s"]);
    run_command(cmd, pg)
}

async fn login(
    c: &reqwest::Client,
    p: &Proc,
    username: &str,
    password: &str,
) -> (StatusCode, Value) {
    let r = c
        .post(p.url("/api/token/"))
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .unwrap();
    (r.status(), r.json().await.unwrap_or(Value::Null))
}

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

fn spec(database: &str) -> Value {
    json!({
        "database": database,
        "secret_key": SECRET_KEY,
        "users": [
            {"username": "alice", "email": "alice@example.com", "password": PASSWORD,
             "date_joined": "2024-03-04T05:06:07.000000Z",
             "tasks": [
                {"title": "Write report", "description": "Quarterly report for Q3",
                 "created_at": "2025-01-02T03:04:05.678901Z", "updated_at": "2025-01-03T00:00:00Z"},
                {"title": "abc"},
                {"title": "Empty description", "description": "", "completed": true},
                {"title": "Deleted later"},
             ]},
            {"username": "bob", "email": "bob@example.com", "password": null},
            {"username": "carol", "email": "carol@example.com", "password": PASSWORD, "is_active": false},
        ],
        "delete_task_titles": ["Deleted later"],
        "tokens_for": ["alice"],
    })
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

/// `tasklane user …` on the imported database.
async fn user_command(flags: &[String], args: &[&str], stdin: Option<&str>) -> Run {
    let mut all = vec!["user"];
    all.extend_from_slice(args);
    all.extend(flags.iter().map(String::as_str));
    tasklane(&all, stdin).await
}

#[tokio::test]
async fn hashes_past_djangos_own_costs_import_as_unusable_passwords_to_reset() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite3");
    let user = |name: &str, hasher: &str, attrs: Value| {
        json!({"username": name, "email": format!("{name}@example.com"),
               "password": PASSWORD, "hasher": hasher, "hasher_attrs": attrs})
    };
    // Rows as a Django with costlier hasher settings stores them. The cost-17 bcrypt row
    // is a cost-4 one relabelled (making it takes seconds; the import never verifies).
    let mut bcrypt17 = user("dj_bcrypt17", "bcrypt_sha256", json!({"rounds": 4}));
    bcrypt17["edit_hash"] = json!(["$04$", "$17$"]);
    let spec = json!({
        "database": db.to_str().unwrap(),
        "secret_key": SECRET_KEY,
        "users": [
            // Django 4.2's defaults: pbkdf2_sha256 at 600,000, bcrypt at 12. Kept.
            {"username": "alice", "email": "alice@example.com", "password": PASSWORD},
            user("dj_bcrypt12", "bcrypt_sha256", json!({})),
            // Past them.
            user("dj_pbkdf2", "pbkdf2_sha256", json!({"iterations": 1_000_001})),
            bcrypt17,
            user("dj_argon2", "argon2", json!({"memory_cost": 131_072})),
            user("dj_scrypt", "scrypt", json!({"parallelism": 2})),
        ],
    });
    let Some(_) = original(spec) else { return };
    let (flags, pg) = target(dir.path());
    let from = db.to_str().unwrap();

    let run = import(from, &flags, &[]).await;
    assert_eq!(run.code, Some(0), "{run:#?}");
    assert!(
        run.stdout
            .contains("6 accounts (0 inactive, 4 without a usable password")
            && run.stdout.contains("4 warnings"),
        "{run:#?}"
    );
    for (id, name, hasher) in [
        (3, "dj_pbkdf2", "pbkdf2_sha256 1000001 iterations"),
        (4, "dj_bcrypt17", "bcrypt_sha256 cost 17"),
        (5, "dj_argon2", "argon2 m=131072 KiB"),
        (6, "dj_scrypt", "scrypt N=16384, r=8, p=2"),
    ] {
        let warning =
            format!("warning: account {id} (\"{name}\"): its password hash asks for more work");
        let line = run
            .stderr
            .lines()
            .find(|l| l.starts_with(&warning))
            .unwrap_or_else(|| panic!("no warning for {name}: {run:#?}"));
        assert!(line.contains(hasher), "{line}");
        assert!(
            line.contains("it needs a password reset")
                && line.contains(&format!("tasklane user set-password --username {name}")),
            "{line}"
        );
    }

    let p = serve(&flags, pg);
    let c = reqwest::Client::new();
    for name in ["alice", "dj_bcrypt12"] {
        let (status, body) = login(&c, &p, name, PASSWORD).await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
    }
    // Never verified: even the right password is refused, like a wrong one.
    for name in ["dj_pbkdf2", "dj_bcrypt17", "dj_argon2", "dj_scrypt"] {
        let (status, body) = login(&c, &p, name, PASSWORD).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}: {body}");
    }
    // The reset the warning names works while the server runs.
    let new_password = "Fresh-Start-Passw0rd";
    user_command(
        &flags,
        &[
            "set-password",
            "--username",
            "dj_bcrypt17",
            "--password-stdin",
        ],
        Some(&format!("{new_password}\n")),
    )
    .await
    .ok();
    let (status, body) = login(&c, &p, "dj_bcrypt17", new_password).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn fields_longer_than_the_api_accepts_stop_the_import_listed_by_row() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite3");
    // SQLite keeps whatever length Django's ORM hands it.
    let spec = json!({
        "database": db.to_str().unwrap(),
        "secret_key": SECRET_KEY,
        "users": [
            {"username": "alice", "email": "alice@example.com", "password": PASSWORD,
             "tasks": [
                {"title": "x".repeat(3 << 20)},
                {"title": "Fine title", "description": "d".repeat(5 << 20)},
                {"title": "abc"},
                // At the limits: fine.
                {"title": "t".repeat(255), "description": "d".repeat(10_000)},
             ]},
            {"username": "u".repeat(151), "email": "long-name@example.com", "password": PASSWORD},
            {"username": "carol", "email": format!("{}@example.com", "e".repeat(245)),
             "password": PASSWORD},
        ],
    });
    let Some(_) = original(spec) else { return };
    let (flags, _pg) = target(dir.path());
    for extra in [&["--dry-run"][..], &[]] {
        let run = import(db.to_str().unwrap(), &flags, extra).await;
        assert_eq!(run.code, Some(1), "{extra:?}: {}", run.stderr);
        for line in [
            "4 fields in",
            "nothing was written",
            "  auth_user 2: username of 151 characters (at most 150)",
            "  auth_user 3: email of 257 characters (at most 254)",
            "  tasks_task 1: title of 3145728 characters (at most 255)",
            "  tasks_task 2: description of 5242880 characters (at most 10000)",
        ] {
            assert!(run.stderr.contains(line), "{line:?} in {}", run.stderr);
        }
        assert!(!run.stderr.contains("tasks_task 4"), "{}", run.stderr);
        // The softer rules still only warn.
        assert!(
            run.stderr
                .contains("warning: task 3: a title of 3 characters"),
            "{}",
            run.stderr
        );
        assert!(run.stderr.len() < 20_000, "the fields were printed");
    }
    if let Some(path) = flags.get(1).filter(|_| flags[0] == "--db") {
        assert!(
            !PathBuf::from(path).exists(),
            "a refused import made the database"
        );
    } else {
        let listed = user_command(&flags, &["list", "--json"], None).await;
        let listed: Value = serde_json::from_str(listed.ok().stdout.trim()).unwrap();
        assert_eq!(listed, json!([]), "a refused import wrote accounts");
    }
}
