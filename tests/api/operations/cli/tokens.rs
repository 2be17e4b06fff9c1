//! `tasklane token …`: API tokens created, listed and revoked on the command line; and
//! what users wrote (token names, usernames) never drives the operator's terminal.

use serde_json::Value;

use crate::helpers::*;

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

/// What a terminal would act on instead of showing: ESC (CSI and OSC sequences), BEL,
/// the C1 CSI, bidi overrides and isolates, zero-width and line-separator characters.
const RAW: &[char] = &[
    '\u{1b}', '\u{7}', '\u{9b}', '\u{202e}', '\u{2066}', '\u{2069}', '\u{200b}', '\u{2028}',
];

fn assert_no_raw(what: &str, text: &str) {
    if let Some(c) = text.chars().find(|c| RAW.contains(c)) {
        panic!("{what} printed U+{:04X} raw:\n{text:?}", c as u32);
    }
}

/// A hostile username, as an imported or older row may hold: sets the terminal's
/// title, clears the screen, and reverses what follows.
const EVIL_NAME: &str = "mallory\u{1b}]0;owned\u{7}\u{1b}[2J\u{9b}31m\u{202e}nimda\u{2066}";

/// A hostile token name.
const EVIL_TOKEN: &str = "backup\u{1b}]8;;https://evil.example\u{7}click\u{1b}]8;;\u{7}\u{202e}";

#[tokio::test]
async fn a_token_name_with_escape_sequences_is_refused_on_the_command_line() {
    let app = spawn_app().await;
    app.user("alice1").await;
    let mut args = vec!["token", "create", "--user", "alice1", "--name", EVIL_TOKEN];
    let db = app.db_flags();
    args.extend(db.iter().map(String::as_str));
    let run = tasklane(&args, None).await;
    run.failed();
    assert!(
        run.stderr
            .contains("name: Control and format characters are not allowed (U+001B)."),
        "{run:#?}"
    );
    assert_no_raw("token create", &run.stderr);
    assert_no_raw("token create", &run.stdout);
}

#[tokio::test]
async fn token_and_user_lists_escape_what_users_wrote() {
    let app = spawn_app().await;
    let (session, _) = app.user("alice1").await;
    app.user("victim1").await;
    api_token(&app, &session, &["tasks:read"]).await;
    // Rows written before names were checked, or imported: the lists must cope.
    let db = db(&app).await;
    db.execute("UPDATE api_tokens SET name = ?1", &[&EVIL_TOKEN])
        .await;
    db.execute(
        "UPDATE users SET username = ?1 WHERE username = 'victim1'",
        &[&EVIL_NAME],
    )
    .await;
    let flags = app.db_flags();
    let run = |args: &'static [&'static str]| {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(flags.iter().map(String::as_str));
        async move { tasklane(&all, None).await }
    };

    let tokens = run(&["token", "list", "--user", "alice1"]).await;
    let tokens_json = run(&["token", "list", "--user", "alice1", "--json"]).await;
    let users = run(&["user", "list"]).await;
    let users_json = run(&["user", "list", "--json"]).await;

    for (what, r) in [
        ("token list", &tokens),
        ("token list --json", &tokens_json),
        ("user list", &users),
        ("user list --json", &users_json),
    ] {
        r.ok();
        assert_no_raw(what, &r.stdout);
        assert_no_raw(what, &r.stderr);
    }
    // Tables show the characters as escapes, in place.
    assert!(
        tokens
            .stdout
            .contains(r"backup\u{1b}]8;;https://evil.example\u{7}click"),
        "{tokens:#?}"
    );
    assert!(
        users
            .stdout
            .contains(r"mallory\u{1b}]0;owned\u{7}\u{1b}[2J\u{9b}31m\u{202e}nimda\u{2066}"),
        "{users:#?}"
    );
    // JSON stays JSON, and means exactly what the database holds.
    let listed: Value = serde_json::from_str(&tokens_json.stdout).expect("token list JSON");
    assert_eq!(listed[0]["name"], EVIL_TOKEN);
    let listed: Value = serde_json::from_str(&users_json.stdout).expect("user list JSON");
    assert_eq!(listed[1]["username"], EVIL_NAME);
    assert!(users_json.stdout.contains(r"\u202e"), "{users_json:#?}");

    // Lines that name the account escape it too.
    let mut args = vec!["user", "deactivate", "--username", EVIL_NAME];
    args.extend(flags.iter().map(String::as_str));
    let run = tasklane(&args, None).await;
    run.ok();
    assert_no_raw("user deactivate", &run.stdout);
    assert!(run.stdout.contains(r"mallory\u{1b}"), "{run:#?}");
}
