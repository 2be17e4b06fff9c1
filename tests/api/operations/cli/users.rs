//! `tasklane user …`, run as the built binary against the database of a live server:
//! accounts created, deactivated and given a new password, under registration's rules.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

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
