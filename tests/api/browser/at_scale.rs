//! The live page at 100,000 tasks (issue 25, "the page at scale"): the first rows show
//! within a second of logging in, the counts come from the server's totals, changes to
//! tasks the page has not loaded yet are counted and in the feed without breaking
//! anything, and scrolling loads page after page. Scrolling through all 100,000 (one DOM
//! row each) is a separate test, ignored for now: on a busy 2-core machine Chromium's
//! renderer fell behind past ~60,000 rows (1.4 GB, a script timing out after 30 s).

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::browser::{Browser, browser, console_errors};
use crate::helpers::*;

const TASKS: i64 = 100_000;

/// From the login's answer (the app view shows) to the first rows. Loading every task
/// first took 12 s at 20,000.
const FIRST_ROWS: Duration = Duration::from_secs(1);

/// Scrolling through all 100,000: 100 pages of 1,000, each one a request to a debug
/// build and 1,000 rows more in the page, on a machine that may be busy with builds.
const SCROLL: Duration = Duration::from_secs(900);

/// Scrolling down five pages.
const SCROLL_SOME: Duration = Duration::from_secs(300);

#[tokio::test]
async fn a_hundred_thousand_tasks_show_at_once_and_load_as_the_list_scrolls() {
    let Some(b) = browser().await else { return };
    let (app, access) = big_user().await;
    let (done, open) = (TASKS / 3, TASKS - TASKS / 3);

    b.client
        .goto(&app.url("/real_data/"))
        .await
        .expect("open page");
    b.until("the login form", async || {
        (b.js(
            "return !document.querySelector('#login-view').hidden",
            vec![],
        )
        .await
            == json!(true))
        .then_some(())
    })
    .await;
    // The page notes when the app view shows (the login answered) and when the first row
    // is in the list, in its own clock.
    b.js(
        "window.shownAt = null; window.firstRowAt = null;
         new MutationObserver(() => {
             if (window.shownAt === null && !document.querySelector('#app-view').hidden)
                 window.shownAt = performance.now();
         }).observe(document.querySelector('#app-view'), { attributes: true });
         new MutationObserver(() => {
             if (window.firstRowAt === null && document.querySelector('#tasks li.task'))
                 window.firstRowAt = performance.now();
         }).observe(document.querySelector('#tasks'), { childList: true });",
        vec![],
    )
    .await;
    b.fill("#username", "big1").await;
    b.fill("#password", PASSWORD).await;
    let submitted = Instant::now();
    b.submit("#login-form").await;
    let first = b
        .until("the first row", async || {
            b.task_id_titled(&format!("Task {TASKS:06}")).await
        })
        .await;
    let seen = submitted.elapsed();
    let took = b
        .js("return [window.shownAt, window.firstRowAt]", vec![])
        .await;
    let (shown, row) = (
        took[0].as_f64().expect("app view shown"),
        took[1].as_f64().expect("first row"),
    );
    let took = Duration::from_secs_f64((row - shown).max(0.0) / 1000.0);
    eprintln!("first row {took:?} after the login answered ({seen:?} after submitting)");
    let requests = b
        .js(
            "return performance.getEntriesByType('resource')
                 .filter(e => e.name.includes('/api/'))
                 .map(e => `${Math.round(e.startTime - window.shownAt)}+${Math.round(e.duration)} ms ${e.name}`)",
            vec![],
        )
        .await;
    eprintln!("requests (start after the app view showed + duration): {requests:#}");
    assert!(
        took < FIRST_ROWS,
        "the first rows took {took:?} after the login answered"
    );
    // One page, not every task; the counts are the totals.
    assert!(b.row_count().await < 1_000, "{} rows", b.row_count().await);
    b.until("the counts", async || {
        (b.counts().await == json!([open.to_string(), done.to_string()])).then_some(())
    })
    .await;
    assert_eq!(b.text("#list-heading .count").await, format!("({TASKS})"));
    b.until_connected("the stream").await;

    // Changes to tasks no page has brought yet: counted, in the feed, nothing breaks.
    let far = task_titled(&app, &access, "Task 000010").await; // open
    let gone = task_titled(&app, &access, "Task 000020").await; // open
    assert!(b.task_row(far).await.is_null(), "task 10 is not loaded yet");
    patch(&app, &access, far, json!({"completed": true})).await;
    b.until_feed("Updated “Task 000010”", "elsewhere", far)
        .await;
    b.until("the counts after the update", async || {
        (b.counts().await == json!([(open - 1).to_string(), (done + 1).to_string()])).then_some(())
    })
    .await;
    let r = app
        .call(
            Method::DELETE,
            &format!("/api/tasks/{gone}/"),
            Some(&access),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    b.until_feed("Deleted “Task 000020”", "elsewhere", gone)
        .await;
    b.until("the counts after the delete", async || {
        (b.counts().await == json!([(open - 2).to_string(), (done + 1).to_string()])).then_some(())
    })
    .await;
    // A new task shows at the top.
    let new = app.new_task(&access, "Made while scrolling").await["id"]
        .as_i64()
        .expect("id");
    b.until_feed("Added “Made while scrolling”", "elsewhere", new)
        .await;
    let top = b
        .js(
            "return Number(document.querySelector('#tasks li.task').dataset.taskId)",
            vec![],
        )
        .await;
    assert_eq!(top, json!(new), "the new task is the first row");
    assert!(b.task_row(first).await.is_object());

    // Scrolling loads page after page: each task once, newest first.
    let took = b.scroll_down(5_050, false, SCROLL_SOME).await;
    eprintln!("scrolled down 5 pages in {took:?}");
    let ids = b
        .js(
            "return [...document.querySelectorAll('#tasks li.task')].map(li => Number(li.dataset.taskId))",
            vec![],
        )
        .await;
    let ids: Vec<i64> = serde_json::from_value(ids).expect("ids");
    assert!(ids.len() >= 5_050, "{} rows", ids.len());
    assert!(
        ids.windows(2).all(|w| w[0] > w[1]),
        "not newest first, or twice"
    );
    // Inline edits work on a row from a later page.
    let later = ids[ids.len() - 1];
    edit_title(&b, later, "Renamed far down").await;
    assert_eq!(
        app.get(&format!("/api/tasks/{later}/"), &access)
            .await
            .json()["title"],
        "Renamed far down"
    );
    assert_eq!(
        b.counts().await,
        json!([(open - 1).to_string(), (done + 1).to_string()])
    );

    let console = b.console().await;
    let errors = console_errors(&console);
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    b.quit().await;
}

/// Every row, to the last: see the module's note on why it is ignored for now.
#[tokio::test]
#[ignore = "Chromium falls behind past ~60,000 rows on a busy 2-core machine"]
async fn a_hundred_thousand_tasks_scroll_to_the_end() {
    let Some(b) = browser().await else { return };
    let (app, _) = big_user().await;
    b.client
        .goto(&app.url("/real_data/"))
        .await
        .expect("open page");
    b.fill("#username", "big1").await;
    b.fill("#password", PASSWORD).await;
    b.submit("#login-form").await;
    b.until_connected("the page").await;
    let took = b.scroll_to_end(TASKS as usize, SCROLL).await;
    eprintln!("scrolled through {TASKS} tasks in {took:?}");
    let last = b
        .js(
            "const rows = document.querySelectorAll('#tasks li.task');
             const ids = new Set([...rows].map(li => li.dataset.taskId));
             return [ids.size, rows[rows.length - 1].querySelector('.task-title').textContent];",
            vec![],
        )
        .await;
    assert_eq!(last, json!([TASKS, "Task 000001"]));
    b.quit().await;
}

/// A server with user `big1`, who has `TASKS` tasks (seeded in the database); their
/// access token.
async fn big_user() -> (TestApp, String) {
    let app = spawn_app().await;
    let (access, _) = app.user("big1").await;
    let me = app.get("/api/users/me/", &access).await.json()["id"]
        .as_i64()
        .expect("id");
    let seeding = Instant::now();
    seed_tasks(&db(&app).await, me, TASKS).await;
    eprintln!("seeded {TASKS} tasks in {:?}", seeding.elapsed());
    (app, access)
}

async fn task_titled(app: &TestApp, access: &str, title: &str) -> i64 {
    let r = app
        .list_tasks(access, &format!("?search={}", title.replace(' ', "%20")))
        .await;
    let list: Vec<Value> = serde_json::from_str(&r.text).expect("a list");
    list.iter()
        .find(|t| t["title"] == title)
        .and_then(|t| t["id"].as_i64())
        .unwrap_or_else(|| panic!("no task {title:?}"))
}

async fn patch(app: &TestApp, access: &str, id: i64, body: Value) {
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/tasks/{id}/"),
            Some(access),
            Some(body),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

/// Renames task `id` through its row's edit form.
async fn edit_title(b: &Browser, id: i64, title: &str) {
    let row = crate::helpers::browser::row_css(id);
    b.click(&format!("{row} .task-edit")).await;
    b.fill(&format!("{row} .edit-title"), title).await;
    b.submit(&format!("{row} .task-edit-form")).await;
    b.until("the renamed row", async || {
        (b.task_row(id).await["title"] == title).then_some(())
    })
    .await;
}
