//! `tasklane copy`: a deployment moved SQLite → PostgreSQL → SQLite keeps working for its
//! users: the same passwords, sessions, API tokens, ids, idempotency keys and streams.
//! Its databases can come from the environment.
//!
//! Needs PostgreSQL (see `scaling::postgres`); skips loudly without it unless
//! `REQUIRE_POSTGRES=1`.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

/// What a deployment's users hold: what must still work after the move.
struct Held {
    refresh: String,
    api_token: String,
    /// Alice's tasks as listed, ordered by id.
    tasks: Value,
    /// The id of alice's last task, deleted: never to be handed out again.
    deleted_id: i64,
    /// Alice's last event id.
    last_event: i64,
    keyed: Value,
    /// Bob's shared project: its id, bob's list of projects, its members and pending
    /// invitations, and its tasks (with an assignee and a due date) as carol lists them.
    project: Value,
    projects: Value,
    members: Value,
    invitations: Value,
    project_tasks: Value,
    /// The id of bob's last project, deleted: never to be handed out again.
    deleted_project: i64,
}

async fn get_json(c: &reqwest::Client, p: &Proc, path: &str, token: &str) -> Value {
    let r = c.get(p.url(path)).bearer_auth(token).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{path}");
    r.json().await.unwrap()
}

async fn access_token(c: &reqwest::Client, p: &Proc, name: &str) -> String {
    let (status, pair) = login(c, p, name).await;
    assert_eq!(status, StatusCode::OK, "{pair}");
    pair["access"].as_str().unwrap().to_owned()
}

/// What bob and carol see of the shared project on `p`: (projects, members, invitations,
/// project tasks).
async fn project_view(c: &reqwest::Client, p: &Proc, project: &Value) -> [Value; 4] {
    let bob = access_token(c, p, "bob").await;
    let carol = access_token(c, p, "carol").await;
    [
        get_json(c, p, "/api/projects/", &bob).await,
        get_json(c, p, &format!("/api/projects/{project}/members/"), &bob).await,
        get_json(c, p, &format!("/api/projects/{project}/invitations/"), &bob).await,
        get_json(
            c,
            p,
            &format!("/api/tasks/?project={project}&ordering=id"),
            &carol,
        )
        .await,
    ]
}

async fn post(
    c: &reqwest::Client,
    p: &Proc,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> reqwest::Response {
    let mut r = c.post(p.url(path)).json(&body);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    r.send().await.unwrap()
}

async fn login(c: &reqwest::Client, p: &Proc, name: &str) -> (StatusCode, Value) {
    let r = post(
        c,
        p,
        "/api/token/",
        None,
        json!({"username": name, "password": PASSWORD}),
    )
    .await;
    (r.status(), r.json().await.unwrap_or(Value::Null))
}

async fn alice_tasks(c: &reqwest::Client, p: &Proc, token: &str) -> Value {
    let r = c
        .get(p.url("/api/tasks/?ordering=id"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

async fn keyed_create(c: &reqwest::Client, p: &Proc, token: &str) -> reqwest::Response {
    c.post(p.url("/api/tasks/"))
        .bearer_auth(token)
        .header("Idempotency-Key", "move-key-1")
        .json(&json!({"title": "Made once"}))
        .send()
        .await
        .unwrap()
}

/// Fills a deployment through its API.
async fn populate(c: &reqwest::Client, p: &Proc) -> Held {
    let alice = user_on(c, p, "alice").await;
    let bob = user_on(c, p, "bob").await;
    let (status, pair) = login(c, p, "alice").await;
    assert_eq!(status, StatusCode::OK);
    let refresh = pair["refresh"].as_str().unwrap().to_owned();
    let mut ids = Vec::new();
    let mut alice_id = 0;
    for i in 0..5 {
        // Odd tasks have an empty description, even ones none (NULL): both must survive.
        let body = if i % 2 == 0 {
            json!({"title": format!("Task {i}")})
        } else {
            json!({"title": format!("Task {i}"), "description": ""})
        };
        let r = post(c, p, "/api/tasks/", Some(&alice), body).await;
        assert_eq!(r.status(), StatusCode::CREATED);
        let t = r.json::<Value>().await.unwrap();
        ids.push(t["id"].as_i64().unwrap());
        alice_id = t["user"]["id"].as_i64().unwrap();
        post(
            c,
            p,
            "/api/tasks/",
            Some(&bob),
            json!({"title": format!("Bob's {i}")}),
        )
        .await;
    }
    let r = c
        .patch(p.url(&format!("/api/tasks/{}/", ids[1])))
        .bearer_auth(&alice)
        // A due date and an assignee travel too.
        .json(
            &json!({"completed": true, "title": "Ünïcødé ✓ 'quoted' \"twice\"",
            "due_at": "2026-12-24T18:00:00.000001Z", "assignee": alice_id}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let keyed = keyed_create(c, p, &alice).await;
    assert_eq!(keyed.status(), StatusCode::CREATED);
    let keyed: Value = keyed.json().await.unwrap();
    // The newest task goes: its id is the highest ever handed out, and must stay used.
    let last = keyed["id"].as_i64().unwrap();
    let extra = post(
        c,
        p,
        "/api/tasks/",
        Some(&alice),
        json!({"title": "Short-lived"}),
    )
    .await;
    let deleted_id = extra.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    assert!(deleted_id > last);
    let r = c
        .delete(p.url(&format!("/api/tasks/{deleted_id}/")))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    // A shared project (bob's), with a member and a pending invitation: they travel too.
    let carol = user_on(c, p, "carol").await;
    user_on(c, p, "dave").await;
    let r = post(
        c,
        p,
        "/api/projects/",
        Some(&bob),
        json!({"name": "Shared"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let project = r.json::<Value>().await.unwrap()["id"].clone();
    for (who, role) in [("carol", "editor"), ("dave", "viewer")] {
        let path = format!("/api/projects/{project}/invitations/");
        let r = post(
            c,
            p,
            &path,
            Some(&bob),
            json!({"username": who, "role": role}),
        )
        .await;
        assert_eq!(r.status(), StatusCode::CREATED);
        if who == "carol" {
            let inv = r.json::<Value>().await.unwrap()["id"].clone();
            let path = format!("/api/invitations/{inv}/accept/");
            let r = post(c, p, &path, Some(&carol), json!({})).await;
            assert_eq!(r.status(), StatusCode::OK);
        }
    }
    // Tasks in the project, with an assignee and a due date.
    let bob_id = get_json(c, p, "/api/users/me/", &bob).await["id"].clone();
    for (title, assignee) in [
        ("Shared task one", bob_id.clone()),
        ("Shared task two", Value::Null),
    ] {
        let r = post(
            c,
            p,
            "/api/tasks/",
            Some(&carol),
            json!({"title": title, "project": project, "assignee": assignee,
                   "due_at": "2027-01-02T03:04:05.000006Z"}),
        )
        .await;
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    // bob's newest project goes: its id must stay used.
    let r = post(c, p, "/api/projects/", Some(&bob), json!({"name": "Gone"})).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let deleted_project = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let r = c
        .delete(p.url(&format!("/api/projects/{deleted_project}/")))
        .bearer_auth(&bob)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let [projects, members, invitations, project_tasks] = project_view(c, p, &project).await;
    assert_eq!(members.as_array().unwrap().len(), 2, "{members}");
    assert_eq!(invitations.as_array().unwrap().len(), 1, "{invitations}");
    assert_eq!(
        project_tasks.as_array().unwrap().len(),
        2,
        "{project_tasks}"
    );
    assert_eq!(project_tasks[0]["assignee"]["username"], "bob");
    assert_eq!(project_tasks[0]["due_at"], "2027-01-02T03:04:05.000006Z");
    let r = post(
        c,
        p,
        "/api/tokens/",
        Some(&alice),
        json!({"name": "script", "scopes": ["tasks:read", "tasks:write"]}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let api_token = r.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    // A failed login: the throttle's count travels too.
    let r = post(
        c,
        p,
        "/api/token/",
        None,
        json!({"username": "alice", "password": "wrong"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    Held {
        refresh,
        api_token,
        tasks: alice_tasks(c, p, &alice).await,
        deleted_id,
        last_event: 5 + 1 + 1 + 1 + 1, // 5 creates, a PATCH, the keyed create, a create and its delete
        keyed,
        project,
        projects,
        members,
        invitations,
        project_tasks,
        deleted_project,
    }
}

/// `tasklane copy --from SRC --to DST`, which must succeed and say it checked.
async fn copy(from: &str, to: &str) -> String {
    let run = tasklane(&["copy", "--from", from, "--to", to], None).await;
    assert_eq!(run.code, Some(0), "{run:#?}");
    assert!(run.stdout.contains("checked:"), "{run:#?}");
    run.stdout
}

/// Everything the users held works on `p` as it did before the move.
async fn still_works(c: &reqwest::Client, p: &Proc, held: &Held) {
    // The same password logs in.
    let (status, pair) = login(c, p, "alice").await;
    assert_eq!(status, StatusCode::OK, "{pair}");
    let access = pair["access"].as_str().unwrap().to_owned();
    let dated = held
        .tasks
        .as_array()
        .unwrap()
        .iter()
        .find(|t| !t["due_at"].is_null());
    assert_eq!(dated.unwrap()["due_at"], "2026-12-24T18:00:00.000001Z");
    assert_eq!(dated.unwrap()["assignee"]["username"], "alice");
    // The same tasks, ids, timestamps, versions, due dates and assignees, byte for byte.
    assert_eq!(alice_tasks(c, p, &access).await, held.tasks);
    // Search finds each task by its title: the target's index has every row (SQLite's
    // triggers fill it as the copy inserts; PostgreSQL's indexes are the table's own).
    for t in held.tasks.as_array().unwrap() {
        let term: String = t["title"]
            .as_str()
            .unwrap()
            .bytes()
            .map(|b| format!("%{b:02X}"))
            .collect();
        let r = c
            .get(p.url(&format!("/api/tasks/?search={term}")))
            .bearer_auth(&access)
            .send()
            .await
            .unwrap();
        let found: Value = r.json().await.unwrap();
        assert!(
            found.as_array().unwrap().iter().any(|f| f["id"] == t["id"]),
            "search {} found {found}",
            t["title"]
        );
    }
    // The script's API token still reads and writes.
    let r = c
        .get(p.url("/api/tasks/"))
        .bearer_auth(&held.api_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "the old API token was refused");
    // The retried keyed create is answered from the kept response, not made again.
    let again = keyed_create(c, p, &access).await;
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(
        again
            .headers()
            .get("idempotent-replayed")
            .map(|v| v.to_str().unwrap()),
        Some("true")
    );
    assert_eq!(again.json::<Value>().await.unwrap(), held.keyed);
    // A stream resumes from an old event id: the missed events, no reset.
    let ticket = stream_ticket(c, &p.url(""), &access).await;
    let url = format!("ws://{}/ws/tasks/?ticket={ticket}&since=3", p.addr);
    let (inner, _) = tokio_tungstenite::connect_async(url).await.expect("ws");
    let mut ws = Ws { inner };
    let events = ws.events_through(held.last_event).await;
    assert_eq!(ids(&events), (4..=held.last_event).collect::<Vec<_>>());
    assert!(events.iter().all(|e| e["action"] != "reset"));
    // New ids continue past every id ever handed out, the deleted one included.
    let r = post(
        c,
        p,
        "/api/tasks/",
        Some(&access),
        json!({"title": "After the move"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let new: Value = r.json().await.unwrap();
    assert!(new["id"].as_i64().unwrap() > held.deleted_id, "{new}");
    let event = ws.next_json().await;
    assert_eq!(event["event_id"], held.last_event + 1, "{event}");
    // The projects, members, invitations and project tasks, with their ids, as before.
    let [projects, members, invitations, project_tasks] = project_view(c, p, &held.project).await;
    assert_eq!(projects, held.projects);
    assert_eq!(members, held.members);
    assert_eq!(invitations, held.invitations);
    assert_eq!(project_tasks, held.project_tasks);
    // A new project's id continues past every one handed out, the deleted one included;
    // so does a new invitation's.
    let bob = access_token(c, p, "bob").await;
    let r = post(
        c,
        p,
        "/api/projects/",
        Some(&bob),
        json!({"name": "After the move"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let new: Value = r.json().await.unwrap();
    assert!(new["id"].as_i64().unwrap() > held.deleted_project, "{new}");
    let r = post(
        c,
        p,
        &format!("/api/projects/{}/invitations/", new["id"]),
        Some(&bob),
        json!({"username": "alice", "role": "viewer"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let inv: Value = r.json().await.unwrap();
    let old_max = held.invitations.as_array().unwrap().iter();
    let old_max = old_max.map(|i| i["id"].as_i64().unwrap()).max().unwrap();
    assert!(inv["id"].as_i64().unwrap() > old_max, "{inv}");
}

#[tokio::test]
async fn copy_moves_a_deployment_sqlite_to_postgres_and_back() {
    let Some(pg) = fresh_pg().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first.db");
    let back = dir.path().join("back.db");
    let c = reqwest::Client::new();

    let p = spawn_tasklane_on_file(&first, &[]);
    let held = populate(&c, &p).await;
    drop(p);

    // SQLite → PostgreSQL: the deployment works there.
    let out = copy(first.to_str().unwrap(), &pg.url).await;
    assert!(out.contains("users"), "{out}");
    let on_pg = spawn_tasklane_on_url(&pg.url, &[]);
    // The refresh token from before the move rotates, once.
    let r = post(
        &c,
        &on_pg,
        "/api/token/refresh/",
        None,
        json!({"refresh": held.refresh}),
    )
    .await;
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "the session did not survive the move"
    );
    still_works(&c, &on_pg, &held).await;
    drop(on_pg);

    // PostgreSQL → SQLite: and back again. (The checks above added a task and an
    // event; the stream check expects them.)
    copy(&pg.url, back.to_str().unwrap()).await;
    let on_back = spawn_tasklane_on_file(&back, &[]);
    let (_, pair) = login(&c, &on_back, "alice").await;
    let mut held = held;
    held.tasks = alice_tasks(&c, &on_back, pair["access"].as_str().unwrap()).await;
    held.deleted_id = held
        .tasks
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .max()
        .unwrap();
    held.last_event += 1;
    // bob's project made there (with its invitation) is now the newest.
    let [projects, _, _, _] = project_view(&c, &on_back, &held.project).await;
    held.deleted_project = projects
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_i64().unwrap())
        .max()
        .unwrap();
    held.projects = projects;
    still_works(&c, &on_back, &held).await;
}

#[tokio::test]
async fn copy_refuses_a_target_that_holds_data_and_changes_nothing() {
    let Some(pg) = fresh_pg().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source.db");
    let c = reqwest::Client::new();
    let p = spawn_tasklane_on_file(&source, &[]);
    user_on(&c, &p, "alice").await;
    drop(p);

    // A target a server has started on holds its own settings (a signing secret).
    let target = dir.path().join("target.db");
    let t = spawn_tasklane_on_file(&target, &[]);
    user_on(&c, &t, "zed").await;
    drop(t);
    let users = |path: &std::path::Path| -> Vec<String> {
        let c = rusqlite::Connection::open(path).unwrap();
        let mut stmt = c.prepare("SELECT username FROM users ORDER BY id").unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    assert_eq!(users(&target), ["zed"]);
    for to in [target.to_str().unwrap(), &pg.url] {
        if to == pg.url {
            let t = spawn_tasklane_on_url(&pg.url, &[]);
            drop(t);
        }
        let run = tasklane(
            &["copy", "--from", source.to_str().unwrap(), "--to", to],
            None,
        )
        .await;
        assert_eq!(run.code, Some(1), "{run:#?}");
        assert!(run.stderr.contains("already holds data"), "{run:#?}");
    }
    assert_eq!(users(&target), ["zed"], "the target changed");

    // Nor does it copy a file onto itself, or from a file that isn't there.
    let run = tasklane(
        &[
            "copy",
            "--from",
            source.to_str().unwrap(),
            "--to",
            source.to_str().unwrap(),
        ],
        None,
    )
    .await;
    assert_eq!(run.code, Some(1), "{run:#?}");
    assert!(
        run.stderr.contains("both the source and the target"),
        "{run:#?}"
    );
    let missing = dir.path().join("missing.db");
    let made = dir.path().join("made.db");
    let run = tasklane(
        &[
            "copy",
            "--from",
            missing.to_str().unwrap(),
            "--to",
            made.to_str().unwrap(),
        ],
        None,
    )
    .await;
    assert_eq!(run.code, Some(1), "{run:#?}");
    assert!(run.stderr.contains("does not exist"), "{run:#?}");
    assert!(!missing.exists() && !made.exists());
}

#[tokio::test]
async fn a_failed_copy_leaves_no_half_made_target() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source.db");
    let c = reqwest::Client::new();
    let p = spawn_tasklane_on_file(&source, &[]);
    user_on(&c, &p, "alice").await;
    drop(p);
    // A value the target cannot hold: a boolean column holding 7 (SQLite lets a raw
    // write past the CHECK only with the check off; the copy must refuse, not guess).
    rusqlite::Connection::open(&source)
        .unwrap()
        .execute_batch("PRAGMA ignore_check_constraints = ON; UPDATE users SET is_active = 7")
        .unwrap();
    let target = dir.path().join("target.db");
    let run = tasklane(
        &[
            "copy",
            "--from",
            source.to_str().unwrap(),
            "--to",
            target.to_str().unwrap(),
        ],
        None,
    )
    .await;
    assert_eq!(run.code, Some(1), "{run:#?}");
    assert!(run.stderr.contains("users.is_active"), "{run:#?}");
    assert!(!target.exists(), "a half-made target was left behind");
}

#[tokio::test]
async fn copy_and_import_take_their_databases_from_the_environment() {
    let app = spawn_app().await;
    let (token, _) = app.user("alice1").await;
    app.new_task(&token, "Copied through the env").await;
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("copy.db");
    // The source as the server has it: its file, or its URL.
    let source = app.db_flags()[1].clone();
    let env = [
        ("TASKLANE_COPY_FROM", source.as_str()),
        ("TASKLANE_COPY_TO", target.to_str().unwrap()),
    ];
    let run = tasklane_env(&["copy", "--no-progress"], &env, None).await;
    run.ok();
    assert!(run.stdout.contains("copied "), "{run:#?}");
    assert!(target.exists());
    // `--help` names the variables, never their values.
    let help = tasklane_env(&["copy", "--help"], &env, None).await;
    help.ok();
    assert!(help.stdout.contains("TASKLANE_COPY_FROM"), "{help:#?}");
    assert!(help.stdout.contains("TASKLANE_COPY_TO"), "{help:#?}");
    assert!(!help.stdout.contains(target.to_str().unwrap()), "{help:#?}");

    // import-django reads TASKLANE_IMPORT_FROM (here a database that is not Django's).
    let into = dir.path().join("imported.db");
    let run = tasklane_env(
        &["import-django", "--db", into.to_str().unwrap(), "--dry-run"],
        &[("TASKLANE_IMPORT_FROM", target.to_str().unwrap())],
        None,
    )
    .await;
    run.failed();
    assert!(
        run.stderr.contains("is not the original's database"),
        "{run:#?}"
    );
    let help = tasklane(&["import-django", "--help"], None).await;
    assert!(help.stdout.contains("TASKLANE_IMPORT_FROM"), "{help:#?}");
}
