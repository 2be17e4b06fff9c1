//! `X-Total-Count`: kept as counters (`task_counts`, maintained by triggers) for the
//! unfiltered and `completed` lists, built by the migration for a database from before,
//! kept by writes that bypass the API; for other filters, given when the page holds
//! every match, or counted on request (`count=true`) up to 10,000, and then marked with
//! `X-Total-Count-Capped`.

use std::sync::Arc;

use reqwest::StatusCode;

use crate::helpers::*;
use crate::projects::my_id;

async fn total(app: &TestApp, token: &str, query: &str) -> (String, Option<String>) {
    let r = app.list_tasks(token, query).await;
    assert_eq!(r.status, StatusCode::OK, "{query}: {}", r.text);
    (
        r.header("x-total-count")
            .unwrap_or_else(|| panic!("{query}: no X-Total-Count"))
            .to_owned(),
        r.header("x-total-count-capped").map(str::to_owned),
    )
}

#[tokio::test]
async fn the_migration_counts_the_tasks_of_a_database_from_before() {
    let dir = Arc::new(TestDir::new().await);
    previous_release_database(&dir).await;
    let args = test_args(&dir);
    let app = start(dir, args).await;
    let r = app.login("olduser", PASSWORD).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let token = r.json()["access"].as_str().unwrap().to_owned();
    // A page of one, so the total is not the page's length.
    assert_eq!(total(&app, &token, "?limit=1").await, ("2".into(), None));
    app.new_task(&token, "A task from after").await;
    assert_eq!(total(&app, &token, "?limit=1").await, ("3".into(), None));
    assert_eq!(
        total(&app, &token, "?limit=1&completed=false").await,
        ("2".into(), None)
    );
    let db = db(&app).await;
    assert_eq!(
        db.text(
            "SELECT tasks || ' ' || done FROM task_counts WHERE user_id = 1 AND project_id = 0",
            &[]
        )
        .await,
        "3 1"
    );
}

#[tokio::test]
async fn a_filtered_total_is_counted_to_10000_and_says_so() {
    let app = spawn_app().await;
    let (token, _) = app.user("alice1").await;
    let me = my_id(&app, &token).await;
    // Written straight into the database, as a script or an import would.
    let db = db(&app).await;
    db.execute(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10050) \
         INSERT INTO tasks (user_id, title, completed, created_at, updated_at, due_at) \
         SELECT ?1, 'Seeded task ' || i, FALSE, '2026-12-01T00:00:00.000000Z', \
         '2026-12-01T00:00:00.000000Z', '2026-12-24T00:00:00.000000Z' FROM n",
        &[&me],
    )
    .await;
    assert_eq!(
        total(&app, &token, "?limit=1").await,
        ("10050".into(), None)
    );
    assert_eq!(
        total(&app, &token, "?limit=1&completed=false&project=none").await,
        ("10050".into(), None)
    );
    assert_eq!(
        total(
            &app,
            &token,
            "?limit=1&due_after=2026-12-01T00:00:00Z&count=true"
        )
        .await,
        ("10000".into(), Some("true".into()))
    );
    // Not asked: a filter no counter keeps gives no total past one page (counting would
    // cost the matches, not the page), and its total when the page holds every match.
    let r = app
        .list_tasks(&token, "?limit=1&due_after=2026-12-01T00:00:00Z")
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.header("x-total-count"), None);
    assert_eq!(r.header("x-total-count-capped"), None);
    let link = r.header("link").unwrap();
    assert!(!link.contains("count="), "{link}");
    let r = app
        .list_tasks(&token, "?limit=1&due_after=2026-12-01T00:00:00Z&count=true")
        .await;
    assert!(r.header("link").unwrap().contains("count=true"));
    assert_eq!(
        total(&app, &token, "?limit=1&search=task%2010049").await,
        ("1".into(), None)
    );
    assert_eq!(
        total(&app, &token, "?limit=2&search=task%201004&count=true").await,
        ("11".into(), None)
    );
    assert_eq!(
        total(&app, &token, "?limit=1&completed=true").await,
        ("0".into(), None)
    );
}
