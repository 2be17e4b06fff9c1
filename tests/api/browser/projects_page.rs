//! Shared projects on the live page, in real headless Chromiums: two users in two
//! separate browser sessions (two chromedrivers, two profiles) share a project (one
//! creates it and invites, the other accepts) and see each other's edits live, the
//! assignee and due date included; a member made a viewer loses the controls at once.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::browser::{Browser, browser, console_errors, row_css};
use crate::helpers::*;

/// Opens the live page and logs `username` in (watching for CSP violations).
async fn log_in(b: &Browser, app: &TestApp, username: &str) {
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
    b.watch_csp().await;
    b.fill("#username", username).await;
    b.fill("#password", PASSWORD).await;
    b.submit("#login-form").await;
    b.until_connected(username).await;
}

/// Task `id`'s row as the page shows it: whether its controls are visible (rendered,
/// not just present), its meta line and the due date's `dateTime`; null when absent.
async fn row(b: &Browser, id: i64) -> Value {
    b.js(
        "const li = document.querySelector(`#tasks li[data-task-id=\"${arguments[0]}\"]`);
         const shown = (e) => Boolean(e && e.getClientRects().length > 0);
         return li && {
             title: li.querySelector('.task-title').textContent,
             edit: shown(li.querySelector('.task-edit')),
             delete: shown(li.querySelector('.task-delete')),
             toggle: shown(li.querySelector('.task-toggle')),
             // The title is the checkbox's label (a click on it ticks the box) only when
             // the box is there.
             label: li.querySelector('.task-title').htmlFor,
             meta: li.querySelector('.task-meta').textContent,
             due: li.querySelector('.task-meta time.task-due')?.dateTime ?? null,
         };",
        vec![json!(id)],
    )
    .await
}

/// The members card: `[[username, role]…]`.
async fn members(b: &Browser) -> Value {
    b.js(
        "return [...document.querySelectorAll('#members li')]
             .map(li => [li.querySelector('.member-name').textContent, li.dataset.role])",
        vec![],
    )
    .await
}

/// The switcher's value ("all", "none" or a project id).
async fn view(b: &Browser) -> String {
    b.js("return document.querySelector('#view').value", vec![])
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Opens task `id`'s edit form, picks `assignee` (a user id) and types the due date
/// (`datetime-local`, local time: its keyboard entry depends on the locale, so the value
/// is set directly), then saves.
async fn assign(b: &Browser, id: i64, assignee: i64, due_local: &str) {
    b.click(&format!("{} .task-edit", row_css(id))).await;
    let select = format!("#task-{id}-edit-assignee");
    // The members are listed again when the edit starts: wait for the assignee's option.
    b.until(&format!("user {assignee} offered as assignee"), async || {
        let v = b
            .js(
                "return Boolean(document.querySelector(`${arguments[0]} option[value=\"${arguments[1]}\"]`))",
                vec![json!(select), json!(assignee.to_string())],
            )
            .await;
        (v == json!(true)).then_some(())
    })
    .await;
    b.client
        .find(fantoccini::Locator::Css(&select))
        .await
        .expect("assignee select")
        .select_by_value(&assignee.to_string())
        .await
        .expect("pick the assignee");
    b.js(
        "document.querySelector(`#task-${arguments[0]}-edit-due_at`).value = arguments[1]",
        vec![json!(id), json!(due_local)],
    )
    .await;
    b.submit(&format!("{} .task-edit-form", row_css(id))).await;
    b.until("the edit form to close", async || {
        let open = b
            .js(
                "return Boolean(document.querySelector(`#tasks li[data-task-id=\"${arguments[0]}\"] .task-edit-form`))",
                vec![json!(id)],
            )
            .await;
        (open == json!(false)).then_some(())
    })
    .await;
}

/// `due_local` as the browser reads it, in UTC to the second (`2026-12-24T18:00:00`).
async fn utc(b: &Browser, due_local: &str) -> String {
    let v = b
        .js(
            "return new Date(arguments[0]).toISOString().slice(0, 19)",
            vec![json!(due_local)],
        )
        .await;
    v.as_str().expect("iso").to_owned()
}

/// Waits until task `id`'s row names `assignee` and is due at `due_utc` (to the second).
async fn until_assigned(b: &Browser, id: i64, assignee: &str, due_utc: &str) {
    b.until(
        &format!("task {id} assigned to {assignee}, due {due_utc}"),
        async || {
            let r = row(b, id).await;
            let meta = r["meta"].as_str().unwrap_or_default();
            let due = r["due"].as_str().unwrap_or_default();
            (meta.contains(&format!("assigned to {assignee}")) && due.starts_with(due_utc))
                .then_some(())
        },
    )
    .await;
}

async fn no_errors(b: &Browser, who: &str) {
    let violations = b.js("return window.cspViolations", vec![]).await;
    assert_eq!(violations, json!([]), "CSP violations on {who}'s page");
    let console = b.console().await;
    let errors = console_errors(&console);
    assert!(
        errors.is_empty(),
        "console errors on {who}'s page: {errors:#?}"
    );
}

#[tokio::test]
async fn two_members_share_a_project_on_the_live_page_and_see_each_others_edits() {
    let Some(a) = browser().await else { return };
    let Some(b) = browser().await else { return };
    let app = spawn_app().await;
    let (alice, _) = app.user("alice1").await;
    let (bob, _) = app.user("bob1").await;
    let bob_id = app.get("/api/users/me/", &bob).await.json()["id"]
        .as_i64()
        .expect("bob's id");
    log_in(&a, &app, "alice1").await;
    log_in(&b, &app, "bob1").await;

    // Alice creates a project on her page: it is selected, she is its only member, owner.
    a.click("#project-details > summary").await;
    a.fill("#project-name", "Launch party").await;
    a.submit("#project-form").await;
    let pid: i64 = a
        .until("the new project selected", async || {
            view(&a).await.parse().ok()
        })
        .await;
    assert_eq!(a.text("#list-title").await, "Launch party");
    let listed = app.get("/api/projects/", &alice).await.json();
    assert_eq!(listed[0]["id"], pid, "{listed}");
    assert_eq!(listed[0]["name"], "Launch party");
    a.until("alice as the owner in the members card", async || {
        (members(&a).await == json!([["alice1 (you)", "owner"]])).then_some(())
    })
    .await;

    // She invites bob as an editor.
    a.fill("#invite-username", "bob1").await;
    a.client
        .find(fantoccini::Locator::Css("#invite-role"))
        .await
        .expect("role select")
        .select_by_value("editor")
        .await
        .expect("pick editor");
    a.submit("#invite-form").await;
    a.until_text(
        "#projects-notice",
        "Invited bob1 to “Launch party” as editor",
    )
    .await;
    let pending = app
        .get(&format!("/api/projects/{pid}/invitations/"), &alice)
        .await
        .json();
    assert_eq!(pending[0]["invitee"]["username"], "bob1", "{pending}");
    assert_eq!(pending[0]["role"], "editor");

    // Bob, whose page was already open, checks for invitations, sees it and accepts.
    assert_eq!(
        b.text("#invitations").await,
        "",
        "no invitation before it is sent"
    );
    b.click("#invitations-refresh").await;
    b.until_text(
        "#invitations",
        "Launch party — alice1 invites you as editor",
    )
    .await;
    b.click("#invitations li .invitation-accept").await;
    b.until("bob's page to show the project", async || {
        (view(&b).await == pid.to_string()).then_some(())
    })
    .await;
    b.until_text("#projects-notice", "You joined “Launch party” as editor")
        .await;
    b.until("both members in bob's members card", async || {
        (members(&b).await == json!([["alice1", "owner"], ["bob1 (you)", "editor"]])).then_some(())
    })
    .await;
    assert!(
        b.text("#invitations").await.is_empty(),
        "the answered invitation is gone"
    );
    let bobs = app.get("/api/projects/", &bob).await.json();
    assert_eq!(bobs[0]["id"], pid, "bob is a member: {bobs}");
    assert_eq!(bobs[0]["role"], "editor");

    // Alice adds a task to the project on her page: it is in the project, and bob's page
    // shows it, live.
    a.fill("#new-title", "Book the venue").await;
    a.submit("#add-form").await;
    let venue = a
        .until("alice's task in her list", async || {
            a.task_id_titled("Book the venue").await
        })
        .await;
    let t = app
        .get(&format!("/api/tasks/{venue}/"), &alice)
        .await
        .json();
    assert_eq!(t["project"], pid, "created in the selected project: {t}");
    b.until("alice's task on bob's page", async || {
        (b.task_id_titled("Book the venue").await == Some(venue)).then_some(())
    })
    .await;
    assert_eq!(row(&b, venue).await["edit"], true, "an editor may edit it");

    // Bob assigns it to himself with a due date: alice's page shows both, live.
    let due = "2026-12-24T18:00";
    let due_utc = utc(&b, due).await;
    assign(&b, venue, bob_id, due).await;
    let t = app.get(&format!("/api/tasks/{venue}/"), &bob).await.json();
    assert_eq!(t["assignee"]["username"], "bob1", "{t}");
    assert!(
        t["due_at"]
            .as_str()
            .unwrap_or_default()
            .starts_with(&due_utc),
        "due_at {} is not {due_utc}",
        t["due_at"]
    );
    until_assigned(&a, venue, "bob1", &due_utc).await;
    let top = a.feed_top().await;
    assert_eq!(top["origin"], "elsewhere", "{top}");
    assert!(
        top["text"]
            .as_str()
            .unwrap_or_default()
            .starts_with("Edited “Book the venue” (assigned to bob1, due "),
        "{top}"
    );

    // Bob adds a task on his page: alice's page shows it, live…
    b.fill("#new-title", "Order the cake").await;
    b.submit("#add-form").await;
    let cake = b
        .until("bob's task in his list", async || {
            b.task_id_titled("Order the cake").await
        })
        .await;
    a.until("bob's task on alice's page", async || {
        (a.task_id_titled("Order the cake").await == Some(cake)).then_some(())
    })
    .await;
    let top = a.feed_top().await;
    assert_eq!(
        (&top["text"], &top["origin"]),
        (&json!("bob1 added “Order the cake”"), &json!("elsewhere")),
        "{top}"
    );
    // …and her members card has learnt of bob.
    a.until("bob in alice's members card", async || {
        (members(&a).await == json!([["alice1 (you)", "owner"], ["bob1", "editor"]])).then_some(())
    })
    .await;

    // Alice assigns bob's task to bob with a due date: bob's page shows both, live.
    let due = "2027-01-05T09:30";
    let due_utc = utc(&a, due).await;
    assign(&a, cake, bob_id, due).await;
    until_assigned(&b, cake, "bob1", &due_utc).await;
    let top = b.feed_top().await;
    assert_eq!(top["origin"], "elsewhere", "{top}");

    // And she renames it in the same form: bob sees the new title.
    a.click(&format!("{} .task-edit", row_css(cake))).await;
    a.fill(&format!("#task-{cake}-edit-title"), "Order the big cake")
        .await;
    a.submit(&format!("{} .task-edit-form", row_css(cake)))
        .await;
    b.until("the renamed task on bob's page", async || {
        (row(&b, cake).await["title"] == "Order the big cake").then_some(())
    })
    .await;

    // "All" shows personal and project tasks, each project task naming its project.
    app.new_task(&alice, "Water the plants").await;
    a.client
        .find(fantoccini::Locator::Css("#view"))
        .await
        .expect("switcher")
        .select_by_value("all")
        .await
        .expect("show all");
    let plants = a
        .until("the personal task under all", async || {
            a.task_id_titled("Water the plants").await
        })
        .await;
    assert!(
        row(&a, venue).await["meta"]
            .as_str()
            .unwrap_or_default()
            .contains("in Launch party"),
        "a project task names its project under all"
    );
    // "Personal" shows only that one.
    a.client
        .find(fantoccini::Locator::Css("#view"))
        .await
        .expect("switcher")
        .select_by_value("none")
        .await
        .expect("show personal");
    a.until("only the personal task", async || {
        let ids = a
            .js(
                "return [...document.querySelectorAll('#tasks li.task')].map(li => Number(li.dataset.taskId))",
                vec![],
            )
            .await;
        (ids == json!([plants])).then_some(())
    })
    .await;

    no_errors(&a, "alice").await;
    no_errors(&b, "bob").await;
    a.quit().await;
    b.quit().await;
}

#[tokio::test]
async fn a_member_made_viewer_loses_the_controls_and_a_viewer_never_sees_them() {
    let Some(b) = browser().await else { return };
    let app = spawn_app().await;
    let (alice, _) = app.user("alice1").await;
    let (bob, _) = app.user("bob1").await;
    let bob_id = app.get("/api/users/me/", &bob).await.json()["id"]
        .as_i64()
        .expect("bob's id");
    // Alice's project, with bob in it as an editor (through the API).
    let r = app
        .call(
            Method::POST,
            "/api/projects/",
            Some(&alice),
            Some(json!({"name": "Garden"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let pid = r.json()["id"].as_i64().expect("id");
    let r = app
        .call(
            Method::POST,
            &format!("/api/projects/{pid}/invitations/"),
            Some(&alice),
            Some(json!({"username": "bob1", "role": "editor"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let inv = r.json()["id"].as_i64().expect("id");
    let r = app
        .call(
            Method::POST,
            &format!("/api/invitations/{inv}/accept/"),
            Some(&bob),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let personal = app.new_task(&bob, "Call the plumber").await["id"]
        .as_i64()
        .expect("id");

    log_in(&b, &app, "bob1").await;
    b.client
        .find(fantoccini::Locator::Css("#view"))
        .await
        .expect("switcher")
        .select_by_value(&pid.to_string())
        .await
        .expect("show the project");
    b.until_text("#my-role", "editor").await;
    b.fill("#new-title", "Plant the tulips").await;
    b.submit("#add-form").await;
    let tulips = b
        .until("bob's project task", async || {
            b.task_id_titled("Plant the tulips").await
        })
        .await;
    let r = row(&b, tulips).await;
    assert_eq!(
        (&r["edit"], &r["delete"], &r["toggle"]),
        (&json!(true), &json!(true), &json!(true)),
        "an editor has the controls: {r}"
    );
    let invite_shown = b
        .js(
            "return document.querySelector('#invite-form').getClientRects().length > 0",
            vec![],
        )
        .await;
    assert_eq!(invite_shown, json!(false), "only admins invite");

    // Alice makes him a viewer: his page hides every control, live.
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/projects/{pid}/members/{bob_id}/"),
            Some(&alice),
            Some(json!({"role": "viewer"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    b.until("the controls to go", async || {
        let r = row(&b, tulips).await;
        (r["edit"] == false && r["delete"] == false && r["toggle"] == false).then_some(())
    })
    .await;
    b.until_text("#my-role", "viewer").await;
    let top = b.feed_top().await;
    assert_eq!(top["text"], "Your role in “Garden” is now viewer", "{top}");
    let add = b
        .js(
            "return [document.querySelector('#add-form').getClientRects().length > 0,
                     document.querySelector('#add-readonly').getClientRects().length > 0]",
            vec![],
        )
        .await;
    assert_eq!(add, json!([false, true]), "a viewer gets no new-task form");

    // After a reload too (the first render, not only the live change); his personal task
    // keeps its controls.
    b.client.refresh().await.expect("reload");
    b.until_connected("the reloaded page").await;
    b.watch_csp().await;
    let (r, mine) = b
        .until("both rows after the reload", async || {
            let r = row(&b, tulips).await;
            let mine = row(&b, personal).await;
            (!r.is_null() && !mine.is_null()).then_some((r, mine))
        })
        .await;
    assert_eq!(
        (&r["edit"], &r["delete"], &r["toggle"], &r["label"]),
        (&json!(false), &json!(false), &json!(false), &json!("")),
        "a viewer has no controls: {r}"
    );
    assert_eq!(
        (&mine["edit"], &mine["delete"], &mine["toggle"]),
        (&json!(true), &json!(true), &json!(true)),
        "his own personal task keeps them: {mine}"
    );
    // The server agrees: a viewer's change is refused.
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/tasks/{tulips}/"),
            Some(&bob),
            Some(json!({"completed": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);

    no_errors(&b, "bob").await;
    b.quit().await;
}
