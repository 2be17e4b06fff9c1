//! A task's due date and assignee: set, changed and cleared on create, `PUT` and
//! `PATCH`; refused with DRF's field errors; filtered and ordered by in the list (pages
//! included); carried by events and idempotent replays; and read as `null` from a
//! database made before they existed. On SQLite, or on PostgreSQL with
//! `TASKLANE_TEST_DATABASE_URL`.

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

async fn patch(app: &TestApp, token: &str, id: i64, body: Value) -> Resp {
    let path = format!("/api/tasks/{id}/");
    app.call(Method::PATCH, &path, Some(token), Some(body))
        .await
}

fn ids(r: &Resp) -> Vec<i64> {
    let list = r.json();
    let list = list.as_array().unwrap_or_else(|| panic!("{}", r.text));
    list.iter().map(|t| t["id"].as_i64().unwrap()).collect()
}

#[tokio::test]
async fn due_at_and_assignee_are_set_kept_and_cleared() {
    let app = spawn_app().await;
    let (token, _) = app.user("alice1").await;
    let me = app.new_task(&token, "Warm up task").await["user"]["id"].clone();

    let r = app
        .create_task(
            &token,
            json!({"title": "Write report", "due_at": "2026-12-24T18:30:00+02:00", "assignee": me}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let t = r.json();
    assert_eq!(t["due_at"], "2026-12-24T16:30:00.000000Z");
    // The assignee is an id and a username, never an email.
    assert_eq!(t["assignee"], json!({"id": me, "username": "alice1"}));
    assert_eq!(t["project"], Value::Null);
    let id = t["id"].as_i64().unwrap();

    // `PUT` without them keeps them; the version moves as for any change.
    let path = format!("/api/tasks/{id}/");
    let put = app
        .call(
            Method::PUT,
            &path,
            Some(&token),
            Some(json!({"title": "Write the report"})),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.text);
    assert_eq!(put.json()["due_at"], "2026-12-24T16:30:00.000000Z");
    assert_eq!(put.json()["assignee"]["id"], me);
    assert_eq!(put.json()["version"], 2);

    // A new due date (fractions beyond microseconds are cut, no offset means UTC).
    let r = patch(
        &app,
        &token,
        id,
        json!({"due_at": "2027-01-02 03:04:05.1234567"}),
    )
    .await;
    assert_eq!(
        r.json()["due_at"],
        "2027-01-02T03:04:05.123456Z",
        "{}",
        r.text
    );
    assert_eq!(r.header("etag"), Some("\"v3\""));

    // `null` clears each; the other stays.
    let r = patch(&app, &token, id, json!({"assignee": null})).await;
    assert_eq!(r.json()["assignee"], Value::Null, "{}", r.text);
    assert_eq!(r.json()["due_at"], "2027-01-02T03:04:05.123456Z");
    let r = patch(
        &app,
        &token,
        id,
        json!({"due_at": null, "assignee": me.to_string()}),
    )
    .await;
    assert_eq!(r.json()["due_at"], Value::Null, "{}", r.text);
    assert_eq!(r.json()["assignee"]["username"], "alice1");

    let got = app.get(&path, &token).await.json();
    assert_eq!(got, r.json());
    assert_eq!(got["version"], 5);
}

#[tokio::test]
async fn bad_due_dates_and_assignees_are_field_errors() {
    let app = spawn_app().await;
    let (token, _) = app.user("alice1").await;
    let (bob, _) = app.user("bob1").await;
    let bobs_id = app.new_task(&bob, "Bob's own task").await["user"]["id"].clone();
    let id = app.new_task(&token, "Alice's task").await["id"]
        .as_i64()
        .unwrap();

    let format = "Datetime has wrong format. Use one of these formats instead: \
                  YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].";
    for due_at in [
        json!("tomorrow"),
        json!("2026-02-30T10:00:00Z"),
        json!(5),
        json!(true),
    ] {
        let r = patch(&app, &token, id, json!({ "due_at": due_at })).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{due_at}");
        assert_eq!(r.json(), json!({"due_at": [format]}), "{due_at}");
    }
    // Someone else, or nobody at all: a personal task is its owner's alone.
    let not_allowed = json!({"assignee": ["A personal task can only be assigned to its owner."]});
    for assignee in [bobs_id, json!(999_999)] {
        let r = app
            .create_task(
                &token,
                json!({"title": "Valid title", "assignee": assignee}),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(r.json(), not_allowed);
    }
    let r = patch(&app, &token, id, json!({"assignee": "bob1"})).await;
    assert_eq!(
        r.json(),
        json!({"assignee": ["Incorrect type. Expected pk value, received str."]})
    );
    // Every field's message at once, in the serializer's order.
    let r = app
        .create_task(
            &token,
            json!({"title": "abc", "due_at": "soon", "assignee": true}),
        )
        .await;
    let v = r.json();
    let fields: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(fields, ["title", "assignee", "due_at"], "{}", r.text);
    // Nothing changed, and another user's task is still a 404 whatever the body says.
    assert_eq!(
        app.get(&format!("/api/tasks/{id}/"), &token).await.json()["version"],
        1
    );
    let r = patch(&app, &bob, id, json!({"due_at": "soon"})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_list_filters_and_orders_by_due_date_and_assignee_across_pages() {
    let app = spawn_app().await;
    let (token, _) = app.user("alice1").await;
    let (bob, _) = app.user("bob1").await;
    app.new_task(&bob, "Bob's dated task").await;
    let me = app.new_task(&token, "Undated, nobody's").await["user"]["id"].clone();
    // ids 2..=7 are alice's: due dates with a tie, some assigned to her.
    for (title, due, assigned) in [
        ("Due on the third", Some("2026-12-03T00:00:00Z"), true),
        ("Undated but mine", None, true),
        ("Due on the first", Some("2026-12-01T00:00:00Z"), false),
        ("Also the third", Some("2026-12-03T00:00:00Z"), false),
        ("Due on the second", Some("2026-12-02T00:00:00Z"), true),
    ] {
        let body =
            json!({"title": title, "due_at": due, "assignee": assigned.then_some(me.clone())});
        let r = app.create_task(&token, body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }

    let list = |q: &'static str| {
        let app = &app;
        let token = &token;
        async move { app.list_tasks(token, q).await }
    };
    assert_eq!(ids(&list("?ordering=due_at").await), [5, 7, 3, 6, 2, 4]);
    assert_eq!(ids(&list("?ordering=-due_at").await), [6, 3, 7, 5, 4, 2]);
    assert_eq!(ids(&list("?assignee=me").await), [3, 4, 7]);
    assert_eq!(ids(&list("?assignee=none").await), [2, 5, 6]);
    let by_id = format!("?assignee={me}");
    assert_eq!(ids(&app.list_tasks(&token, &by_id).await), [3, 4, 7]);
    // Both bounds are included; an undated task matches neither.
    assert_eq!(
        ids(&list("?due_after=2026-12-02T00:00:00Z&ordering=due_at").await),
        [7, 3, 6]
    );
    assert_eq!(
        ids(&list("?due_before=2026-12-02T01:00:00%2B01:00").await),
        [5, 7]
    );
    let r =
        list("?due_before=2026-12-03T00:00:00Z&due_after=2026-12-02T00:00:00Z&assignee=me").await;
    assert_eq!(ids(&r), [3, 7]);
    assert_eq!(r.header("x-total-count"), Some("2"));

    // Pages follow the next link, which keeps the filters and the order.
    let mut seen = Vec::new();
    let mut next =
        "/api/tasks/?ordering=-due_at&due_after=2026-12-01T00:00:00Z&limit=2&count=true".to_owned();
    loop {
        let r = app.get(&next, &token).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.header("x-total-count"), Some("4"));
        seen.extend(ids(&r));
        let Some(link) = r.header("link") else { break };
        assert!(
            link.contains("due_after=2026-12-01T00%3A00%3A00.000000Z"),
            "{link}"
        );
        next = link
            .trim_start_matches('<')
            .split_once('>')
            .unwrap()
            .0
            .to_owned();
    }
    assert_eq!(seen, [6, 3, 7, 5]);

    // A change shows in the next list with the same query (kept pages stay right).
    let first = list("?ordering=due_at").await;
    patch(&app, &token, 2, json!({"due_at": "2026-11-30T00:00:00Z"})).await;
    assert_ne!(ids(&list("?ordering=due_at").await), ids(&first));
    assert_eq!(ids(&list("?ordering=due_at").await)[0], 2);

    for (q, field) in [
        ("?assignee=someone", "assignee"),
        ("?due_before=soon", "due_before"),
        ("?due_after=2026-13-01T00:00:00Z", "due_after"),
        ("?ordering=due", "ordering"),
    ] {
        let r = app.list_tasks(&token, q).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{q}");
        assert!(r.json()[field].is_array(), "{q}: {}", r.text);
    }
}

#[tokio::test]
async fn events_and_idempotent_replays_carry_the_fields() {
    let app = spawn_app().await;
    let (token, _) = app.user("alice1").await;
    let me = app.new_task(&token, "Warm up task").await["user"]["id"].clone();
    let body = json!({"title": "Keyed task", "due_at": "2026-12-24T00:00:00Z", "assignee": me});
    let keyed = |body: Value| {
        let app = &app;
        let token = &token;
        async move {
            app.with_header(
                Method::POST,
                "/api/tasks/",
                token,
                "Idempotency-Key",
                "k-1",
                Some(body),
            )
            .await
        }
    };
    let first = keyed(body.clone()).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    let again = keyed(body.clone()).await;
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.json(), first.json());
    assert_eq!(again.json()["due_at"], "2026-12-24T00:00:00.000000Z");
    // The same key with another due date is another request.
    let mut other = body.clone();
    other["due_at"] = json!("2026-12-25T00:00:00Z");
    assert_eq!(keyed(other).await.status, StatusCode::UNPROCESSABLE_ENTITY);

    let id = first.json()["id"].as_i64().unwrap();
    patch(&app, &token, id, json!({"due_at": null})).await;
    let changes = app.get("/api/changes/?since=0", &token).await.json();
    let events = changes["events"].as_array().unwrap();
    let tasks: Vec<&Value> = events.iter().map(|e| &e["task"]).collect();
    assert_eq!(tasks.len(), 3);
    assert_eq!(tasks[0]["due_at"], Value::Null);
    assert_eq!(tasks[0]["assignee"], Value::Null);
    assert_eq!(tasks[0]["project"], Value::Null);
    assert_eq!(tasks[1]["due_at"], "2026-12-24T00:00:00.000000Z");
    assert_eq!(
        tasks[1]["assignee"],
        json!({"id": me, "username": "alice1"})
    );
    assert_eq!(tasks[2]["due_at"], Value::Null);
    assert_eq!(tasks[2]["assignee"]["id"], me);
    // The event's task is the task as answered.
    let got = app.get(&format!("/api/tasks/{id}/"), &token).await.json();
    assert_eq!(*tasks[2], got);
}

#[tokio::test]
async fn a_database_from_before_opens_and_its_tasks_read_with_nulls() {
    let dir = Arc::new(TestDir::new().await);
    previous_release_database(&dir).await;
    let args = test_args(&dir);
    let app = start(dir, args).await;
    let r = app.login("olduser", PASSWORD).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let token = r.json()["access"].as_str().unwrap().to_owned();

    let list = app.list_tasks(&token, "?ordering=-due_at").await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    assert_eq!(list.json().as_array().unwrap().len(), 2, "{}", list.text);
    let old = list
        .json()
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == 1)
        .unwrap()
        .clone();
    assert_eq!(old["title"], "A task from before");
    assert_eq!(old["completed"], true);
    for field in ["project", "assignee", "due_at"] {
        assert_eq!(old[field], Value::Null, "{field}");
    }
    assert_eq!(
        ids(&app.list_tasks(&token, "?assignee=none&ordering=id").await),
        [1, 2]
    );
    // And the old task takes the new fields.
    let r = patch(
        &app,
        &token,
        1,
        json!({"due_at": "2026-12-24T00:00:00Z", "assignee": 1}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.json()["assignee"],
        json!({"id": 1, "username": "olduser"})
    );
}
