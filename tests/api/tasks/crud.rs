//! Task CRUD: the original's shape and field rules, `PUT` and `PATCH`, delete, another
//! user's tasks, trailing slashes, and bad requests. (Listing: `list`.)

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn a_task_has_the_originals_shape() {
    let app = spawn_app().await;
    let (token, _) = app.user("alice1").await;
    let r = app
        .create_task(&token, json!({"title": "Write report", "description": "Quarterly report for Q3", "id": 999, "user": 5, "created_at": "2000-01-01T00:00:00Z"}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let t = r.json();
    let keys: Vec<&str> = t.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "id",
            "title",
            "description",
            "completed",
            "created_at",
            "updated_at",
            "user",
            "version",
            // Added since, after the original's keys, all null by default.
            "project",
            "assignee",
            "due_at"
        ]
    );
    assert_eq!(t["project"], Value::Null);
    assert_eq!(t["assignee"], Value::Null);
    assert_eq!(t["due_at"], Value::Null);
    assert_eq!(t["id"], 1);
    assert_eq!(t["completed"], false);
    assert_eq!(
        t["user"],
        json!({"id": 1, "username": "alice1", "email": "alice1@example.com"})
    );
    let created = t["created_at"].as_str().unwrap();
    assert_eq!(
        created.len(),
        "2026-11-25T11:42:56.437485Z".len(),
        "{created}"
    );
    assert!(created.ends_with('Z') && created.starts_with("20"));
    assert_eq!(
        app.new_task(&token, "Second task").await["description"],
        Value::Null
    );
}

#[tokio::test]
async fn field_rules_match_the_original() {
    let app = spawn_app().await;
    let (token, _) = app.user("alice1").await;
    let long = |n: usize| "x".repeat(n);
    let bad: Vec<(Value, &str)> = vec![
        (
            json!({"title": "abcd"}),
            r#"{"title":["Title must be at least 5 characters long."]}"#,
        ),
        (
            json!({"description": "A description"}),
            r#"{"title":["This field is required."]}"#,
        ),
        (json!({}), r#"{"title":["This field is required."]}"#),
        (
            json!({"title": ""}),
            r#"{"title":["This field may not be blank."]}"#,
        ),
        (
            json!({"title": "     "}),
            r#"{"title":["This field may not be blank."]}"#,
        ),
        (
            json!({"title": null}),
            r#"{"title":["This field may not be null."]}"#,
        ),
        (
            json!({"title": long(256)}),
            r#"{"title":["Ensure this field has no more than 255 characters."]}"#,
        ),
        (
            json!({"title": "Valid title", "description": "short"}),
            r#"{"description":["Description must be at least 10 characters long if provided."]}"#,
        ),
        (
            json!({"title": "Valid title", "description": "123456789"}),
            r#"{"description":["Description must be at least 10 characters long if provided."]}"#,
        ),
        (
            json!({"title": "Valid title", "description": "   short    "}),
            r#"{"description":["Description must be at least 10 characters long if provided."]}"#,
        ),
        (
            json!({"title": "Valid title", "description": null}),
            r#"{"description":["This field may not be null."]}"#,
        ),
        (
            json!({"title": "abc", "description": "x"}),
            r#"{"title":["Title must be at least 5 characters long."],"description":["Description must be at least 10 characters long if provided."]}"#,
        ),
        (
            json!({"title": "Valid title", "completed": "notabool"}),
            r#"{"completed":["Must be a valid boolean."]}"#,
        ),
        (
            json!({"title": "Valid title", "completed": null}),
            r#"{"completed":["This field may not be null."]}"#,
        ),
        (
            json!({"title": true}),
            r#"{"title":["Not a valid string."]}"#,
        ),
        (
            json!({"title": {"a": 1}}),
            r#"{"title":["Not a valid string."]}"#,
        ),
        (
            json!({"title": "Nul \u{0} byte"}),
            r#"{"title":["Null characters are not allowed."]}"#,
        ),
        (
            json!([]),
            r#"{"non_field_errors":["Invalid data. Expected a dictionary, but got list."]}"#,
        ),
        (
            json!("text"),
            r#"{"non_field_errors":["Invalid data. Expected a dictionary, but got str."]}"#,
        ),
    ];
    for (body, expected) in bad {
        let r = app.create_task(&token, body.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(r.text, expected, "{body}");
    }
    let good: Vec<(Value, Value)> = vec![
        (
            json!({"title": "abcde"}),
            json!({"title": "abcde", "description": null, "completed": false}),
        ),
        (json!({"title": "  abcde  "}), json!({"title": "abcde"})),
        (json!({"title": long(255)}), json!({"title": long(255)})),
        (json!({"title": 12345}), json!({"title": "12345"})),
        (
            json!({"title": "Valid title", "description": "1234567890"}),
            json!({"description": "1234567890"}),
        ),
        (
            json!({"title": "Valid title", "description": "      "}),
            json!({"description": ""}),
        ),
        (
            json!({"title": "Valid title", "description": ""}),
            json!({"description": ""}),
        ),
        (
            json!({"title": "Valid title", "completed": "yes"}),
            json!({"completed": true}),
        ),
        (
            json!({"title": "Valid title", "completed": 0}),
            json!({"completed": false}),
        ),
        (
            json!({"title": "'); DROP TABLE tasks; --"}),
            json!({"title": "'); DROP TABLE tasks; --"}),
        ),
    ];
    for (body, expected) in good {
        let r = app.create_task(&token, body.clone()).await;
        assert_eq!(r.status, StatusCode::CREATED, "{body}: {}", r.text);
        let t = r.json();
        for (k, v) in expected.as_object().unwrap() {
            assert_eq!(&t[k], v, "{body}: {k}");
        }
    }
    let r = app
        .raw(
            Method::POST,
            "/api/tasks/",
            Some(&token),
            "application/x-www-form-urlencoded",
            "title=Form+task&description=From+a+form+post&completed=on",
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.json()["completed"], true);
}

#[tokio::test]
async fn put_replaces_and_patch_changes_only_what_is_given() {
    let app = spawn_app().await;
    let (token, _) = app.user("alice1").await;
    let t = app
        .create_task(
            &token,
            json!({"title": "Write report", "description": "Quarterly report for Q3"}),
        )
        .await
        .json();
    let path = format!("/api/tasks/{}/", t["id"]);

    let r = app
        .call(
            Method::PUT,
            &path,
            Some(&token),
            Some(json!({"title": "Updated report"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let put = r.json();
    assert_eq!(put["title"], "Updated report");
    assert_eq!(put["description"], "Quarterly report for Q3");
    assert_eq!(put["created_at"], t["created_at"]);
    assert_ne!(put["updated_at"], t["updated_at"]);

    let r = app
        .call(
            Method::PUT,
            &path,
            Some(&token),
            Some(json!({"description": "Only a description"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.text, r#"{"title":["This field is required."]}"#);

    let r = app
        .call(
            Method::PATCH,
            &path,
            Some(&token),
            Some(json!({"completed": true})),
        )
        .await;
    assert_eq!(r.json()["completed"], true);
    assert_eq!(r.json()["title"], "Updated report");

    let before = r.json()["updated_at"].clone();
    let r = app
        .call(Method::PATCH, &path, Some(&token), Some(json!({})))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_ne!(r.json()["updated_at"], before);

    let r = app
        .call(
            Method::PATCH,
            &path,
            Some(&token),
            Some(json!({"title": "ab"})),
        )
        .await;
    assert_eq!(
        r.text,
        r#"{"title":["Title must be at least 5 characters long."]}"#
    );
    let r = app
        .call(
            Method::PATCH,
            &path,
            Some(&token),
            Some(json!({"description": null})),
        )
        .await;
    assert_eq!(r.text, r#"{"description":["This field may not be null."]}"#);
}

#[tokio::test]
async fn delete_is_204_then_404() {
    let app = spawn_app().await;
    let (token, _) = app.user("alice1").await;
    let t = app.new_task(&token, "Short-lived").await;
    let path = format!("/api/tasks/{}/", t["id"]);
    let r = app.call(Method::DELETE, &path, Some(&token), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(r.text, "");
    let r = app.call(Method::DELETE, &path, Some(&token), None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.text, r#"{"detail":"No Task matches the given query."}"#);
    assert_eq!(
        app.get("/api/tasks/99999/", &token).await.text,
        r#"{"detail":"No Task matches the given query."}"#
    );
    assert_eq!(
        app.get("/api/tasks/abc/", &token).await.text,
        r#"{"detail":"Not found."}"#
    );
    assert_eq!(
        app.get("/api/tasks/-1/", &token).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/api/tasks/99999999999999999999999/", &token)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn another_users_task_is_404_and_unchanged() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice1").await;
    let (bob, _) = app.user("bob1").await;
    let t = app.new_task(&alice, "Alice's secret").await;
    let path = format!("/api/tasks/{}/", t["id"]);
    for (m, body) in [
        (Method::GET, None),
        (Method::PUT, Some(json!({"title": "Taken over by bob"}))),
        (Method::PATCH, Some(json!({"completed": true}))),
        (Method::PATCH, Some(json!({"title": "ab"}))),
        (Method::DELETE, None),
    ] {
        let r = app.call(m.clone(), &path, Some(&bob), body).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{m}");
        assert_eq!(
            r.text, r#"{"detail":"No Task matches the given query."}"#,
            "{m}"
        );
    }
    assert_eq!(app.get(&path, &alice).await.json(), t);
    assert_eq!(app.list_tasks(&bob, "").await.text, "[]");
}

#[tokio::test]
async fn every_route_works_with_and_without_its_trailing_slash() {
    let app = spawn_app().await;
    let (token, _) = app.user("alice1").await;
    let t = app.new_task(&token, "Slash test").await;
    for path in [
        "/api/tasks",
        "/api/tasks/",
        "/api/users/me",
        "/api/users/me/",
        "/api/users",
        "/api",
    ] {
        assert_eq!(app.get(path, &token).await.status, StatusCode::OK, "{path}");
    }
    let one = format!("/api/tasks/{}", t["id"]);
    assert_eq!(app.get(&one, &token).await.status, StatusCode::OK);
    let r = app
        .call(
            Method::PATCH,
            &one,
            Some(&token),
            Some(json!({"completed": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = app
        .call(
            Method::POST,
            "/api/tasks",
            Some(&token),
            Some(json!({"title": "No slash post"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(app.login("alice1", PASSWORD).await.status, StatusCode::OK);
    let r = app
        .call(
            Method::POST,
            "/api/token",
            None,
            Some(json!({"username": "alice1", "password": PASSWORD})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn bad_requests_get_clear_4xx_bodies() {
    let app = spawn_app_with(|a| a.max_body = 64 * 1024).await;
    let (token, _) = app.user("alice1").await;
    let t = Some(token.as_str());

    let r = app
        .raw(
            Method::POST,
            "/api/tasks/",
            t,
            "application/json",
            "notjson",
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.json()["detail"]
            .as_str()
            .unwrap()
            .starts_with("JSON parse error - ")
    );

    let r = app
        .raw(Method::POST, "/api/tasks/", t, "text/plain", "title=x")
        .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        r.text,
        r#"{"detail":"Unsupported media type \"text/plain\" in request."}"#
    );

    let huge = json!({"title": "x".repeat(100 * 1024)}).to_string();
    let r = app
        .raw(Method::POST, "/api/tasks/", t, "application/json", huge)
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(r.json()["detail"].is_string());

    let deep = "[".repeat(10_000) + &"]".repeat(10_000);
    let r = app
        .raw(Method::POST, "/api/tasks/", t, "application/json", deep)
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    let r = app
        .raw(
            Method::POST,
            "/api/tasks/",
            t,
            "application/json",
            vec![b'{', 0xff, 0xfe, b'}'],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    let r = app.call(Method::PUT, "/api/tasks/", t, None).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.text, r#"{"detail":"Method \"PUT\" not allowed."}"#);

    let r = app.get("/no/such/route", &token).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.text, r#"{"detail":"Not found."}"#);

    // Nothing above was written.
    assert_eq!(app.list_tasks(&token, "").await.text, "[]");
}
