//! Moving from the original Django app: `tasklane import-django`, and its password hashes
//! at login. The originals are built by real Django 4.2 and simplejwt 5.3.1
//! (`scripts/django/original.py`, in the venv `scripts/django-venv.sh` makes), so hashes,
//! timestamps and tokens are the real thing.
//!
//! Skips loudly without the venv unless `REQUIRE_DJANGO=1` (CI).

mod hashes;
mod import;
mod limits;

use std::path::Path;
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
