//! The live page in a real headless Chromium (the harness: `helpers::browser`): a task
//! made through the API shows up (with its due date and assignee), lists past the first
//! thousand tasks as the list is scrolled, and the page works when CORS allows another
//! origin.

use std::time::Duration;

use fantoccini::Locator;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::browser::{Cdp, browser};
use crate::helpers::*;

#[tokio::test]
async fn the_live_page_shows_a_task_created_through_the_api() {
    let Some(b) = browser().await else { return };
    let app = spawn_app().await;
    let (access, _) = app.user("alice1").await;

    b.client
        .goto(&app.url("/real_data/"))
        .await
        .expect("open page");
    // app.js ran under the page's CSP: it filled the status pill and showed the login form.
    let state = b
        .until("app.js to run", async || {
            let v = b
                .js(
                    "const s = document.querySelector('#status');
                     return s && s.dataset.state && !document.querySelector('#login-view').hidden
                         ? s.dataset.state + ' ' + s.textContent : null;",
                    vec![],
                )
                .await;
            v.as_str().map(str::to_owned)
        })
        .await;
    assert_eq!(state, "offline offline");
    // …and app.css applied (no inline styles anywhere: the CSP forbids them).
    let font = b
        .js("return getComputedStyle(document.body).fontFamily", vec![])
        .await;
    assert!(
        font.as_str().unwrap_or_default().contains("system-ui"),
        "app.css not applied: {font}"
    );
    b.js(
        "window.cspViolations = [];
         document.addEventListener('securitypolicyviolation',
             e => window.cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));",
        vec![],
    )
    .await;

    // A wrong password shows the server's detail.
    b.fill("#username", "alice1").await;
    b.fill("#password", "not-the-password").await;
    b.submit("#login-form").await;
    b.until("the login error", async || {
        let t = b
            .js(
                "return document.querySelector('#login-error').textContent",
                vec![],
            )
            .await;
        t.as_str()
            .filter(|t| t.contains("No active account"))
            .map(drop)
    })
    .await;

    b.fill("#password", PASSWORD).await;
    b.submit("#login-form").await;
    b.until("the status pill to say connected", async || {
        let v = b
            .js(
                "const s = document.querySelector('#status');
                 return s.dataset.state === 'connected' && s.textContent.includes('connected');",
                vec![],
            )
            .await;
        (v == json!(true)).then_some(())
    })
    .await;
    let empty = b
        .js("return !document.querySelector('#empty').hidden", vec![])
        .await;
    assert_eq!(empty, json!(true), "the empty state shows with no tasks");

    // Created through the REST API: the row appears.
    let task = app.new_task(&access, "Buy oat milk").await;
    let id = task["id"].as_i64().expect("id");
    b.until("the API-created task to appear", async || {
        let row = b.task_row(id).await;
        (row["title"] == "Buy oat milk" && row["checked"] == false).then_some(())
    })
    .await;

    // Completed through the API: its checkbox gets checked.
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/tasks/{id}/"),
            Some(&access),
            Some(json!({"completed": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    b.until("the task's checkbox to be checked", async || {
        (b.task_row(id).await["checked"] == true).then_some(())
    })
    .await;

    // A due date and an assignee set through the API show in the row's line below it.
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/tasks/{id}/"),
            Some(&access),
            Some(json!({"due_at": "2026-12-24T18:00:00Z", "assignee": task["user"]["id"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    b.until("the due date and assignee to show", async || {
        let meta = b
            .js(
                "const li = document.querySelector(`#tasks li.task[data-task-id=\"${arguments[0]}\"]`);
                 const due = li && li.querySelector('.task-meta time.task-due');
                 return due && due.dateTime + ' ' + li.querySelector('.task-meta').textContent;",
                vec![json!(id)],
            )
            .await;
        meta.as_str()
            .filter(|m| {
                m.starts_with("2026-12-24T18:00:00.000000Z") && m.contains("assigned to alice1")
            })
            .map(drop)
    })
    .await;

    // Deleted through the API: the row goes.
    let r = app
        .call(
            Method::DELETE,
            &format!("/api/tasks/{id}/"),
            Some(&access),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    b.until("the deleted task to disappear", async || {
        b.task_row(id).await.is_null().then_some(())
    })
    .await;

    // The add form shows the server's field errors…
    b.fill("#new-title", "abc").await;
    b.submit("#add-form").await;
    b.until("the title's field error", async || {
        let t = b
            .js(
                "return document.querySelector('#new-title-error').textContent",
                vec![],
            )
            .await;
        t.as_str()
            .filter(|t| t.contains("at least 5 characters"))
            .map(drop)
    })
    .await;

    // …and adds a valid task, which the API then has.
    b.fill("#new-title", "Water the plants").await;
    b.fill("#new-description", "Both ferns, and the cactus on Sundays.")
        .await;
    b.submit("#add-form").await;
    let added = b
        .until("the page-added task to appear", async || {
            b.task_id_titled("Water the plants").await
        })
        .await;
    let listed = app.list_tasks(&access, "").await.json();
    let via_api = listed
        .as_array()
        .expect("array")
        .iter()
        .find(|t| t["id"] == added)
        .unwrap_or_else(|| panic!("task {added} not in GET /api/tasks/: {listed}"));
    assert_eq!(via_api["title"], "Water the plants");
    assert_eq!(
        via_api["description"],
        "Both ferns, and the cactus on Sundays."
    );
    let title_error = b
        .js(
            "return document.querySelector('#new-title-error').textContent",
            vec![],
        )
        .await;
    assert_eq!(
        title_error, "",
        "the field error clears after a good submit"
    );

    // Its checkbox completes it on the server.
    b.client
        .find(Locator::Css(&format!(
            "li.task[data-task-id=\"{added}\"] input[type=checkbox]"
        )))
        .await
        .expect("checkbox")
        .click()
        .await
        .expect("click");
    let mut done = false;
    for _ in 0..100 {
        let t = app
            .get(&format!("/api/tasks/{added}/"), &access)
            .await
            .json();
        if t["completed"] == true {
            done = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(done, "clicking the checkbox did not complete task {added}");

    // Newest first.
    app.new_task(&access, "Book the dentist").await;
    let newest = b
        .until("a third task at the top", async || {
            let v = b
                .js(
                    "return [...document.querySelectorAll('#tasks li.task .task-title')]
                         .map(e => e.textContent)",
                    vec![],
                )
                .await;
            let titles: Vec<String> = serde_json::from_value(v).ok()?;
            (titles.len() == 2).then_some(titles)
        })
        .await;
    assert_eq!(newest, ["Book the dentist", "Water the plants"]);

    if let Ok(path) = std::env::var("REAL_DATA_SCREENSHOT") {
        b.until("the rows' animations to end", async || {
            let n = b.js("return document.getAnimations().length", vec![]).await;
            (n == 0).then_some(())
        })
        .await;
        let png = b.client.screenshot().await.expect("screenshot");
        std::fs::write(&path, png).expect("write screenshot");
        // And as on a phone.
        b.client.set_window_size(400, 800).await.expect("narrow");
        let narrow = path.replace(".png", "-narrow.png");
        let png = b.client.screenshot().await.expect("screenshot");
        std::fs::write(&narrow, png).expect("write screenshot");
        // And in the dark.
        b.client
            .issue_cmd(Cdp(json!({
                "cmd": "Emulation.setEmulatedMedia",
                "params": {"features": [{"name": "prefers-color-scheme", "value": "dark"}]},
            })))
            .await
            .expect("emulate dark mode");
        let dark = path.replace(".png", "-dark.png");
        let png = b.client.screenshot().await.expect("screenshot");
        std::fs::write(&dark, png).expect("write screenshot");
        eprintln!("screenshots of the live page: {path}, {narrow}, {dark}");
    }

    let violations = b.js("return window.cspViolations", vec![]).await;
    assert_eq!(violations, json!([]), "CSP violations after load");
    let console = b.console().await;
    // The page's own 401 and 400 above are expected; nothing else may be logged as an error.
    let errors: Vec<&String> = console
        .iter()
        .filter(|m| {
            m.contains("Content Security Policy")
                || (m.contains("SEVERE")
                    && !m.contains(
                        "Failed to load resource: the server responded with a status of 4",
                    ))
        })
        .collect();
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    b.quit().await;
}

#[tokio::test]
async fn the_live_page_lists_every_task_past_the_first_thousand() {
    let Some(b) = browser().await else { return };
    let app = spawn_app().await;
    let (access, _) = app.user("many1").await;
    const TASKS: usize = 1_005;
    for chunk in (0..TASKS).collect::<Vec<_>>().chunks(25) {
        let created =
            futures_util::future::join_all(chunk.iter().map(|i| {
                app.create_task(&access, json!({"title": format!("Task number {i:04}")}))
            }))
            .await;
        for r in created {
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        }
    }

    b.client
        .goto(&app.url("/real_data/"))
        .await
        .expect("open page");
    b.fill("#username", "many1").await;
    b.fill("#password", PASSWORD).await;
    b.submit("#login-form").await;
    b.until_connected("the page").await;
    // The first page at once, the counts from the totals (not from the rows shown).
    b.until("the first page and the counts", async || {
        (b.row_count().await == 50 && b.counts().await == json!([TASKS.to_string(), "0"]))
            .then_some(())
    })
    .await;
    assert_eq!(b.text("#list-heading .count").await, format!("({TASKS})"));
    // Scrolling down brings the rest.
    b.scroll_to_end(TASKS, Duration::from_secs(30)).await;
    // Each task once, newest first.
    let titles = b
        .js(
            "return [...document.querySelectorAll('#tasks .task-title')].map(e => e.textContent)",
            vec![],
        )
        .await;
    let titles: Vec<String> = serde_json::from_value(titles).expect("titles");
    let expected: Vec<String> = (0..TASKS).map(|i| format!("Task number {i:04}")).collect();
    let mut sorted = titles.clone();
    sorted.sort();
    assert_eq!(sorted, expected, "each task once");
    // Created 25 at a time, concurrently: newest first holds between the batches.
    assert!(
        titles[0].as_str() >= "Task number 0975",
        "first: {}",
        titles[0]
    );
    assert!(
        titles[TASKS - 1].as_str() < "Task number 0025",
        "last: {}",
        titles[TASKS - 1]
    );
    // The lists fetched: a small first page, then the next page its `Link` named (a
    // cursor), as large as the API allows (the counts ask for one task each).
    let pages = b
        .js(
            "return performance.getEntriesByType('resource')
                 .map(e => new URL(e.name))
                 .filter(u => u.pathname === '/api/tasks/' && u.searchParams.get('limit') !== '1')
                 .map(u => u.searchParams.get('limit') + (u.searchParams.has('cursor') ? ' cursor' : ''))",
            vec![],
        )
        .await;
    assert_eq!(pages, json!(["50", "1000 cursor"]), "the pages fetched");
    b.quit().await;
}

/// `--cors-origin` names another origin; the live page, on the server's own, still logs
/// in, connects its WebSocket and adds tasks (its requests carry an `Origin` too, and
/// were refused with 403, leaving the page reconnecting forever).
#[tokio::test]
async fn the_live_page_works_when_cors_allows_another_origin() {
    let Some(b) = browser().await else { return };
    let app = spawn_app_with(|a| a.cors_origins = vec!["https://other.example".into()]).await;
    app.user("alice1").await;
    b.client
        .goto(&app.url("/real_data/"))
        .await
        .expect("open page");
    b.until("the login form", async || {
        let v = b
            .js(
                "return !document.querySelector('#login-view').hidden",
                vec![],
            )
            .await;
        (v == json!(true)).then_some(())
    })
    .await;
    b.fill("#username", "alice1").await;
    b.fill("#password", PASSWORD).await;
    b.submit("#login-form").await;
    b.until("the status pill to say connected", async || {
        let v = b
            .js(
                "return document.querySelector('#status').dataset.state === 'connected';",
                vec![],
            )
            .await;
        (v == json!(true)).then_some(())
    })
    .await;
    b.fill("#new-title", "Written from the page").await;
    b.submit("#add-form").await;
    b.until("the page-added task to appear", async || {
        b.task_id_titled("Written from the page").await
    })
    .await;
    b.quit().await;
}
