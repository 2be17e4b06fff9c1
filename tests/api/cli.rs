//! The operator commands (`tasklane user …`, `backup`, `migrate`), run as the built
//! binary against the database file of a live server.

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use crate::helpers::*;

/// What a run of the binary printed and how it exited.
#[derive(Debug)]
pub(crate) struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn ok(&self) -> &Self {
        assert_eq!(self.code, Some(0), "{self:#?}");
        self
    }

    pub fn failed(&self) -> &Self {
        assert_eq!(self.code, Some(1), "{self:#?}");
        self
    }
}

/// Runs `tasklane ARGS` with `stdin` (closed when `None`), no `TASKLANE_*` variables (nor
/// libpq's `PGPASSWORD` and `PGPASSFILE`).
pub(crate) async fn tasklane(args: &[&str], stdin: Option<&str>) -> Run {
    tasklane_env(args, &[], stdin).await
}

/// [`tasklane`] with the environment variables `env` set.
pub(crate) async fn tasklane_env(args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Run {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_tasklane"));
    cmd.args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("TASKLANE_") {
            cmd.env_remove(k);
        }
    }
    cmd.env_remove("PGPASSWORD").env_remove("PGPASSFILE");
    cmd.envs(env.iter().copied());

    let mut child = cmd.spawn().expect("spawn tasklane");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("stdin");
        pipe.write_all(input.as_bytes()).await.expect("write stdin");
        drop(pipe);
    }
    let out = tokio::time::timeout(std::time::Duration::from_secs(20), child.wait_with_output())
        .await
        .expect("tasklane finished in time")
        .expect("tasklane output");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `tasklane user ARGS --db <the app's database>` (or `--database-url`).
pub(crate) async fn user(app: &TestApp, args: &[&str], stdin: Option<&str>) -> Run {
    let db = app.db_flags();
    let mut all = vec!["user"];
    all.extend_from_slice(args);
    all.extend(db.iter().map(String::as_str));
    tasklane(&all, stdin).await
}

/// The `field: message` lines the CLI prints for a DRF error body.
fn as_lines(body: &Value) -> Vec<String> {
    body.as_object()
        .expect("field errors")
        .iter()
        .flat_map(|(f, messages)| {
            messages
                .as_array()
                .expect("messages")
                .iter()
                .map(move |m| format!("{f}: {}", m.as_str().expect("message")))
        })
        .collect()
}

fn error_lines(run: &Run) -> Vec<String> {
    run.stderr
        .lines()
        .filter(|l| l.starts_with("  "))
        .map(|l| l.trim().to_owned())
        .collect()
}

#[tokio::test]
async fn an_account_created_on_the_command_line_can_log_in_and_is_listed() {
    let app = spawn_app().await;
    app.user("alice1").await;

    let created = user(
        &app,
        &[
            "create",
            "--username",
            "carol1",
            "--email",
            "carol1@example.com",
            "--password-stdin",
        ],
        Some(&format!("{PASSWORD}\n")),
    )
    .await;
    let table = user(&app, &["list"], None).await;
    let listed = user(&app, &["list", "--json"], None).await;

    created.ok();
    assert!(
        created.stdout.contains("created user carol1"),
        "{created:?}"
    );
    assert_eq!(app.login("carol1", PASSWORD).await.status, StatusCode::OK);
    let lines: Vec<&str> = table.ok().stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(lines[0].starts_with("ID  USERNAME  EMAIL"), "{lines:?}");
    assert!(
        lines[2].contains("carol1") && lines[2].ends_with("yes"),
        "{lines:?}"
    );
    let rows: Value = serde_json::from_str(&listed.ok().stdout).expect("json");
    assert_eq!(
        rows,
        json!([
            {"id": 1, "username": "alice1", "email": "alice1@example.com", "active": true},
            {"id": 2, "username": "carol1", "email": "carol1@example.com", "active": true},
        ])
    );
}

#[tokio::test]
async fn the_command_line_refuses_what_registration_refuses_with_the_same_messages() {
    let app = spawn_app().await;
    app.user("alice1").await;
    let cases = [
        ("bad user!", "not-an-email", "123"),
        ("alice1", "ALICE1@example.com", "password"),
        ("zed1", "zed1@example.com", "zed1zed"),
    ];

    for (username, email, password) in cases {
        let api = app.register(username, email, password).await;
        let cli = user(
            &app,
            &[
                "create",
                "--username",
                username,
                "--email",
                email,
                "--password",
                password,
            ],
            None,
        )
        .await;

        assert_eq!(api.status, StatusCode::BAD_REQUEST, "{}", api.text);
        cli.failed();
        assert_eq!(error_lines(&cli), as_lines(&api.json()), "{cli:?}");
    }
    let listed = user(&app, &["list", "--json"], None).await;
    assert_eq!(
        serde_json::from_str::<Value>(&listed.ok().stdout).unwrap()[1],
        Value::Null
    );
}

#[tokio::test]
async fn a_deactivated_user_cannot_log_in_refresh_or_call_the_api_until_reactivated() {
    let app = spawn_app().await;
    let (access, refresh) = app.user("dave1").await;

    let off = user(&app, &["deactivate", "--username", "dave1"], None).await;

    off.ok();
    assert!(
        off.stdout
            .contains("1 refresh token and 0 API tokens revoked"),
        "{off:?}"
    );
    assert_eq!(
        app.login("dave1", PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.refresh(&refresh).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.get("/api/users/me/", &access).await.status,
        StatusCode::UNAUTHORIZED
    );
    let listed = user(&app, &["list", "--json"], None).await;
    assert_eq!(
        serde_json::from_str::<Value>(&listed.ok().stdout).unwrap()[0]["active"],
        false
    );

    user(&app, &["activate", "--username", "dave1"], None)
        .await
        .ok();
    assert_eq!(app.login("dave1", PASSWORD).await.status, StatusCode::OK);
    // Reactivating does not bring the revoked login back.
    assert_eq!(app.refresh(&refresh).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn set_password_replaces_the_password_and_ends_every_login() {
    let app = spawn_app().await;
    let (_, first) = app.user("erin1").await;
    let second = app.login("erin1", PASSWORD).await.json()["refresh"]
        .as_str()
        .unwrap()
        .to_owned();
    let new_password = "Blue-Mariposa-42";

    let weak = user(
        &app,
        &["set-password", "--username", "erin1", "--password-stdin"],
        Some("erin1erin\n"),
    )
    .await;
    let changed = user(
        &app,
        &["set-password", "--username", "erin1", "--password-stdin"],
        Some(&format!("{new_password}\n")),
    )
    .await;

    weak.failed();
    assert_eq!(
        error_lines(&weak),
        ["password: The password is too similar to the username."]
    );
    changed.ok();
    assert!(
        changed
            .stdout
            .contains("2 refresh tokens and 0 API tokens revoked"),
        "{changed:?}"
    );
    assert_eq!(
        app.login("erin1", PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login("erin1", new_password).await.status,
        StatusCode::OK
    );
    for old in [first, second] {
        let r = app.refresh(&old).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    }
}

#[tokio::test]
async fn unknown_users_and_missing_databases_are_errors_not_panics() {
    let app = spawn_app().await;
    let missing = app.dir.path().join("nope.db");
    let missing_flags = match suite_postgres() {
        Some(server) => vec![
            "--database-url".to_owned(),
            with_database(&server, "tasklane_no_such_database"),
        ],
        None => vec!["--db".to_owned(), missing.display().to_string()],
    };

    let unknown = user(&app, &["activate", "--username", "ghost"], None).await;
    let mut list = vec!["user", "list"];
    list.extend(missing_flags.iter().map(String::as_str));
    let no_db = tasklane(&list, None).await;

    unknown.failed();
    assert!(
        unknown.stderr.contains(r#"no user named "ghost""#),
        "{unknown:?}"
    );
    no_db.failed();
    assert!(no_db.stderr.contains("does not exist"), "{no_db:?}");
    assert!(
        !missing.exists(),
        "a mistyped --db must not create a database"
    );
}

#[tokio::test]
async fn a_backup_taken_while_the_server_writes_is_consistent_and_complete() {
    if skip_on_postgres("SQLite's online backup; PostgreSQL's is pg_dump (see the test below)") {
        return;
    }
    let app = Arc::new(spawn_app().await);
    let (token, _) = app.user("frank1").await;
    let description = "x".repeat(3000);
    let mut before = Vec::new();
    for i in 0..20 {
        let t = app
            .create_task(
                &token,
                json!({"title": format!("Before backup {i}"), "description": description}),
            )
            .await;
        assert_eq!(t.status, StatusCode::CREATED, "{}", t.text);
        before.push(t.json()["id"].as_i64().unwrap());
    }
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicUsize::new(0));
    let writer = tokio::spawn({
        let (app, token, stop, written) =
            (app.clone(), token.clone(), stop.clone(), written.clone());
        async move {
            while !stop.load(Ordering::Relaxed) {
                let t = app
                    .create_task(
                        &token,
                        json!({"title": "During backup", "description": "y".repeat(2000)}),
                    )
                    .await;
                assert_eq!(t.status, StatusCode::CREATED, "{}", t.text);
                written.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    let out = app.dir.path().join("backup.db");
    let out_arg = out.to_str().unwrap().to_owned();
    let db_path = app.db_path();
    let db_arg = db_path.to_str().unwrap();
    // Let the writer get going, then copy one page per step so writes land mid-copy.
    while written.load(Ordering::Relaxed) < 3 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let at_start = written.load(Ordering::Relaxed);

    let run = tasklane(
        &[
            "backup",
            &out_arg,
            "--db",
            db_arg,
            "--pages-per-step",
            "1",
            "--step-pause",
            "2ms",
        ],
        None,
    )
    .await;
    let during = written.load(Ordering::Relaxed) - at_start;
    stop.store(true, Ordering::Relaxed);
    writer.await.expect("writer");

    run.ok();
    assert!(run.stdout.contains("integrity check ok"), "{run:?}");
    assert!(during > 0, "the server kept writing during the backup");
    let copy = rusqlite::Connection::open(&out).expect("open backup");
    let check: String = copy
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    let mode: String = copy
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "delete", "the copy is one self-contained file");
    let users: Vec<String> = copy
        .prepare("SELECT username FROM users")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(users, ["frank1"]);
    let ids: Vec<i64> = copy
        .prepare("SELECT id FROM tasks ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(
        before.iter().all(|id| ids.contains(id)),
        "tasks from before the backup are in it"
    );
    assert!(
        ids.len() >= before.len() + at_start,
        "{} tasks in the copy",
        ids.len()
    );
    // A snapshot: ids are handed out in order, so the copy holds a prefix of them.
    let live_ids: Vec<i64> = db(&app)
        .await
        .rows("SELECT id FROM tasks ORDER BY id", &[])
        .await
        .into_iter()
        .map(|r| r[0].as_deref().unwrap().parse().unwrap())
        .collect();
    assert!(
        live_ids.len() > ids.len(),
        "writes after the snapshot are not in the copy"
    );
    assert_eq!(ids, live_ids[..ids.len()]);
    drop(copy);
    let again = tasklane(&["backup", &out_arg, "--db", db_arg], None).await;
    let forced = tasklane(&["backup", &out_arg, "--db", db_arg, "--force"], None).await;
    again.failed();
    assert!(again.stderr.contains("already exists"), "{again:?}");
    forced.ok();
}

#[tokio::test]
async fn a_backup_of_a_postgresql_database_points_to_pg_dump() {
    let run = tasklane(
        &[
            "backup",
            "copy.db",
            "--database-url",
            "postgres://alice:hunter2@127.0.0.1:1/tasklane",
        ],
        None,
    )
    .await;
    run.failed();
    assert!(run.stderr.contains("pg_dump"), "{run:?}");
    assert!(run.stderr.contains("tasklane copy"), "{run:?}");
    assert!(!run.stderr.contains("hunter2"), "{run:?}");
    assert!(!std::path::Path::new("copy.db").exists());
}

#[tokio::test]
async fn a_database_url_that_is_not_postgresql_is_refused_without_showing_its_password() {
    let run = tasklane(
        &[
            "user",
            "list",
            "--database-url",
            "postgress://alice:hunter2@127.0.0.1:1/tasklane",
        ],
        None,
    )
    .await;
    run.failed();
    assert!(run.stderr.contains("postgres://"), "{run:?}");
    assert!(run.stderr.contains("alice:***@"), "{run:?}");
    assert!(!run.stderr.contains("hunter2"), "{run:?}");
}

#[tokio::test]
async fn the_file_and_the_url_cannot_both_be_given() {
    for args in [
        &["user", "list"][..],
        &["migrate"][..],
        &["serve", "--bind", "127.0.0.1:0"][..],
    ] {
        let mut all = args.to_vec();
        all.extend([
            "--db",
            "x.db",
            "--database-url",
            "postgres://u:hunter2@h/db",
        ]);
        let run = tasklane(&all, None).await;
        assert_eq!(run.code, Some(2), "{all:?}: {run:?}");
        assert!(run.stderr.contains("cannot be used with"), "{run:?}");
        assert!(!run.stderr.contains("hunter2"), "{run:?}");
    }
}

#[tokio::test]
async fn migrate_prints_the_schema_version_before_and_after() {
    let app = spawn_app().await;
    // A new database: a file, or on PostgreSQL an empty database of the test's own.
    let fresh_pg = match suite_postgres() {
        Some(server) => Some(PgDatabase::create(&server).await),
        None => None,
    };
    let (latest, fresh, note) = match &fresh_pg {
        Some(pg) => (
            tasklane::store::postgres::admin::latest_schema_version(),
            vec!["--database-url".to_owned(), pg.url.clone()],
            "schema created",
        ),
        None => (
            tasklane::store::sqlite::admin::latest_schema_version(),
            vec![
                "--db".to_owned(),
                app.dir.path().join("fresh.db").display().to_string(),
            ],
            "new database created",
        ),
    };
    let migrate = |db: Vec<String>| async move {
        let mut all = vec!["migrate"];
        all.extend(db.iter().map(String::as_str));
        tasklane(&all, None).await
    };

    let created = migrate(fresh.clone()).await;
    let again = migrate(fresh.clone()).await;
    let live = migrate(app.db_flags()).await;

    assert!(
        created
            .ok()
            .stdout
            .contains(&format!("schema version 0 -> {latest} ({note})")),
        "{created:?}"
    );
    assert!(
        again
            .ok()
            .stdout
            .contains(&format!("schema version {latest} -> {latest} (up to date)")),
        "{again:?}"
    );
    assert!(live.ok().stdout.contains("(up to date)"), "{live:?}");
    let v = match &fresh_pg {
        Some(pg) => pg_connect(&pg.url)
            .await
            .query_one("SELECT count(*) FROM tasklane_migrations", &[])
            .await
            .unwrap()
            .get::<_, i64>(0),
        None => rusqlite::Connection::open(app.dir.path().join("fresh.db"))
            .unwrap()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap(),
    };
    assert_eq!(v, latest);
}

#[tokio::test]
async fn api_tokens_can_be_created_listed_and_revoked_on_the_command_line() {
    let app = spawn_app().await;
    app.user("alice1").await;
    let db = app.db_flags();
    let (flag, db) = (db[0].as_str(), db[1].as_str());

    let run = tasklane(
        &[
            "token",
            "create",
            "--user",
            "alice1",
            "--name",
            "cron",
            "--scopes",
            "tasks:read,tasks:write",
            flag,
            db,
        ],
        None,
    )
    .await;
    run.ok();
    let secret = run
        .stdout
        .lines()
        .last()
        .expect("secret line")
        .trim()
        .to_owned();
    assert!(secret.starts_with("tlp_"), "{run:#?}");
    assert_eq!(
        app.get("/api/tasks/", &secret).await.status,
        reqwest::StatusCode::OK
    );

    let list = tasklane(
        &["token", "list", "--user", "alice1", "--json", flag, db],
        None,
    )
    .await;
    list.ok();
    assert!(!list.stdout.contains(&secret));
    let listed: Value = serde_json::from_str(&list.stdout).expect("json");
    let id = listed[0]["id"].as_i64().expect("id").to_string();

    tasklane(
        &["token", "revoke", "--user", "alice1", "--id", &id, flag, db],
        None,
    )
    .await
    .ok();
    assert_eq!(
        app.get("/api/tasks/", &secret).await.status,
        reqwest::StatusCode::UNAUTHORIZED
    );
    tasklane(
        &[
            "token", "create", "--user", "alice1", "--name", "x", "--scopes", "admin", flag, db,
        ],
        None,
    )
    .await
    .failed();
    tasklane(&["token", "list", "--user", "nobody", flag, db], None)
        .await
        .failed();
}

#[tokio::test]
async fn the_command_line_normalises_usernames_like_the_api() {
    // Arrange
    let app = spawn_app().await;
    app.user("alice").await;
    let new_password = "Blue-Mariposa-42";

    // Act: full-width "alice" everywhere a username comes in.
    let twin = user(
        &app,
        &[
            "create",
            "--username",
            "ａｌｉｃｅ",
            "--email",
            "twin@example.com",
            "--password",
            PASSWORD,
        ],
        None,
    )
    .await;
    let changed = user(
        &app,
        &[
            "set-password",
            "--username",
            "ａｌｉｃｅ",
            "--password-stdin",
        ],
        Some(&format!("{new_password}\n")),
    )
    .await;
    let off = user(&app, &["deactivate", "--username", "ａｌｉｃｅ"], None).await;
    let on = user(&app, &["activate", "--username", "ａｌｉｃｅ"], None).await;
    let created = user(
        &app,
        &[
            "create",
            "--username",
            "ｃａｒｏｌ１",
            "--email",
            "carol1@example.com",
            "--password",
            PASSWORD,
        ],
        None,
    )
    .await;

    // Assert
    twin.failed();
    assert_eq!(
        error_lines(&twin),
        ["username: A user with that username already exists."]
    );
    changed.ok();
    assert!(
        changed.stdout.contains("password of alice changed"),
        "{changed:?}"
    );
    off.ok();
    assert!(off.stdout.contains("alice deactivated"), "{off:?}");
    on.ok();
    assert_eq!(
        app.login("alice", new_password).await.status,
        StatusCode::OK
    );
    created.ok();
    assert!(
        created.stdout.contains("created user carol1"),
        "{created:?}"
    );
    assert_eq!(app.login("carol1", PASSWORD).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_start_up_error_is_printed_once() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    for format in ["text", "json"] {
        let run = tasklane(
            &[
                "serve",
                "--bind",
                &addr,
                "--db",
                db.to_str().unwrap(),
                "--log-format",
                format,
            ],
            None,
        )
        .await;
        assert_eq!(run.code, Some(1), "{run:#?}");
        assert_eq!(
            run.stderr.matches("cannot listen on").count(),
            1,
            "{format}: {run:#?}"
        );
    }
    // With the log off, it is still said.
    let run = tasklane(
        &[
            "serve",
            "--bind",
            &addr,
            "--db",
            db.to_str().unwrap(),
            "--log",
            "off",
        ],
        None,
    )
    .await;
    assert_eq!(
        run.stderr.matches("cannot listen on").count(),
        1,
        "{run:#?}"
    );
}

#[tokio::test]
async fn the_first_start_says_how_to_get_an_account() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("first.db");
    let first = spawn_tasklane(&db, &[]);
    let hint = "no account yet";
    assert!(first.log().contains(hint), "{}", first.log());
    assert!(
        first.log().contains("tasklane user create"),
        "{}",
        first.log()
    );
    let client = reqwest::Client::new();
    user_on(&client, &first, "alice").await;
    // A later start on the same database (the first still running) says nothing of it.
    let second = spawn_tasklane(&db, &[]);
    assert!(!second.log().contains(hint), "{}", second.log());
}

#[tokio::test]
async fn the_command_line_fits_the_shell() {
    for (shell, mark) in [
        ("bash", "_tasklane()"),
        ("zsh", "#compdef tasklane"),
        ("fish", "complete -c tasklane"),
    ] {
        let run = tasklane(&["completions", shell], None).await;
        run.ok();
        assert!(run.stdout.contains(mark), "{shell}: {run:#?}");
        assert!(
            run.stdout.contains("import-django"),
            "{shell} misses a command"
        );
    }
    let man = tasklane(&["man"], None).await;
    man.ok();
    assert!(man.stdout.contains(".TH tasklane 1"), "{man:#?}");
    assert!(
        man.stdout.contains("database\\-url"),
        "the man page lists the flags"
    );

    let help = tasklane(&["--help"], None).await;
    help.ok();
    let headings: Vec<usize> = ["Server:", "Auth:", "Streams:", "Limits:", "Operations:"]
        .iter()
        .map(|h| {
            help.stdout
                .find(&format!("\n{h}\n"))
                .unwrap_or_else(|| panic!("no {h}"))
        })
        .collect();
    assert!(headings.is_sorted(), "headings out of order");
    // Each flag under its heading.
    let at = |flag: &str| help.stdout.find(flag).unwrap();
    assert!(at("--jwt-secret") > headings[1] && at("--jwt-secret") < headings[2]);
    assert!(at("--redis-url") > headings[2] && at("--redis-url") < headings[3]);
    assert!(help.stdout.contains("Exit status: 0 on success; 1"));

    let usage = tasklane(&["--no-such-flag"], None).await;
    assert_eq!(usage.code, Some(2), "{usage:#?}");
}
