//! The live page in a real headless Chromium (the harness: `helpers::browser`): tasks made
//! through the API show up, an expired access token is ridden through, long lists, and
//! a page served to another origin under CORS.

use std::time::Duration;

use fantoccini::Locator;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::browser::{Cdp, browser, console_errors, row_css};
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
async fn swagger_ui_lists_the_operations() {
    let Some(b) = browser().await else { return };
    let app = spawn_app().await;
    b.client
        .goto(&app.url("/swagger/"))
        .await
        .expect("open swagger");
    let count = b
        .until("Swagger UI to list the operations", async || {
            let v = b
                .js(
                    "const n = document.querySelectorAll('.opblock').length;
                     return n > 5 && document.body.innerText.includes('/api/tasks') ? n : null;",
                    vec![],
                )
                .await;
            v.as_u64()
        })
        .await;
    assert!(count > 5, "{count} operations");
    let text = b.js("return document.body.innerText", vec![]).await;
    let text = text.as_str().unwrap_or_default();
    for needle in [
        "Create a task",
        "Log in: get an access and a refresh token",
        "/ws/tasks",
    ] {
        assert!(text.contains(needle), "Swagger UI does not show {needle:?}");
    }
    b.quit().await;
}

#[tokio::test]
async fn the_live_page_rides_through_access_token_expiry_and_reloads() {
    let Some(b) = browser().await else { return };
    // Access tokens of 2 s: the socket closes with 4001 and the page must refresh and resume.
    let app = spawn_app_with(|a| a.access_ttl = Duration::from_secs(2)).await;
    app.user("carol1").await;

    b.client
        .goto(&app.url("/real_data/"))
        .await
        .expect("open page");
    b.fill("#username", "carol1").await;
    b.fill("#password", PASSWORD).await;
    b.submit("#login-form").await;
    let connected = async || {
        let v = b
            .js(
                "return document.querySelector('#status').dataset.state",
                vec![],
            )
            .await;
        (v == "connected").then_some(())
    };
    b.until("the first connection", connected).await;
    let stored = "return localStorage.getItem('tasklane.refresh')";
    let first = b.js(stored, vec![]).await;
    assert!(first.is_string(), "no refresh token in localStorage");

    // The page traded its refresh token (rotation) and is connected again.
    let rotated = async || {
        let now = b.js(stored, vec![]).await;
        (now.is_string() && now != first).then_some(())
    };
    b.until("a token refresh", rotated).await;
    b.until("the reconnection", connected).await;

    // Changes still arrive: made with a token of its own, after the page's first expired.
    let (access, _) = {
        let v = app.login("carol1", PASSWORD).await.json();
        (v["access"].as_str().expect("access").to_owned(), ())
    };
    let task = app.new_task(&access, "Renew the passport").await;
    let id = task["id"].as_i64().expect("id");
    b.until("the task after the refresh", async || {
        (b.task_row(id).await["title"] == "Renew the passport").then_some(())
    })
    .await;

    // A reload keeps the session (localStorage) and lists the task again.
    b.client.refresh().await.expect("reload");
    b.until("the task after a reload", async || {
        (b.task_row(id).await["title"] == "Renew the passport").then_some(())
    })
    .await;
    b.until("the connection after a reload", connected).await;
    let login_hidden = b
        .js(
            "return document.querySelector('#login-view').hidden",
            vec![],
        )
        .await;
    assert_eq!(login_hidden, json!(true), "a reload must not log out");

    // Log out: the refresh token is revoked, storage cleared, the login form is back.
    let refresh = b.js(stored, vec![]).await;
    b.client
        .find(Locator::Css("#logout"))
        .await
        .expect("logout button")
        .click()
        .await
        .expect("click");
    b.until("the login form", async || {
        let v = b
            .js(
                "return !document.querySelector('#login-view').hidden
                     && localStorage.length === 0
                     && document.querySelector('#status').dataset.state === 'offline'",
                vec![],
            )
            .await;
        (v == json!(true)).then_some(())
    })
    .await;
    // The revoke call finished (Resource Timing records it once answered)…
    b.until("the revoke request to be answered", async || {
        let v = b
            .js(
                "return performance.getEntriesByType('resource')
                     .filter(e => e.name.endsWith('/api/token/revoke/'))
                     .map(e => e.responseStatus)",
                vec![],
            )
            .await;
        (v == json!([204])).then_some(())
    })
    .await;
    // …so the page's last refresh token is dead.
    let r = app.refresh(refresh.as_str().expect("refresh token")).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    b.quit().await;
}

#[tokio::test]
async fn the_account_panel_changes_email_and_password_and_deletes_the_account() {
    let Some(b) = browser().await else { return };
    let app = spawn_app().await;
    let (access, _) = app.user("erin1").await;
    const NEW_PASSWORD: &str = "Tide-Lantern-4417";

    b.client
        .goto(&app.url("/real_data/"))
        .await
        .expect("open page");
    b.js(
        "window.cspViolations = [];
         document.addEventListener('securitypolicyviolation',
             e => window.cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));",
        vec![],
    )
    .await;
    let connected = async || {
        let v = b
            .js(
                "return document.querySelector('#status').dataset.state",
                vec![],
            )
            .await;
        (v == "connected").then_some(())
    };
    let log_in = async |password: &str| {
        b.fill("#username", "erin1").await;
        b.fill("#password", password).await;
        b.submit("#login-form").await;
    };
    log_in(PASSWORD).await;
    b.until("the first connection", connected).await;
    b.until_text("#account-email-current", "erin1@example.com")
        .await;

    // The fields say what they are, to tests and to password managers.
    let autocomplete = b
        .js(
            "return ['#account-email', '#account-current-password', '#account-new-password',
                     '#delete-password']
                 .map(s => document.querySelector(s).getAttribute('autocomplete'))",
            vec![],
        )
        .await;
    assert_eq!(
        autocomplete,
        json!([
            "email",
            "current-password",
            "new-password",
            "current-password"
        ])
    );

    // An invalid email: the API's message beside the email field.
    b.click("#email-details > summary").await;
    b.fill("#account-email", "not-an-email").await;
    b.submit("#email-form").await;
    b.until_text("#account-email-error", "Enter a valid email address.")
        .await;
    // A good one: the page shows it, and so does the API.
    b.fill("#account-email", "erin.new@example.com").await;
    b.submit("#email-form").await;
    b.until_text("#account-email-current", "erin.new@example.com")
        .await;
    assert_eq!(b.text("#account-email-error").await, "");
    let me = app.get("/api/users/me/", &access).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
    assert_eq!(me.json()["email"], "erin.new@example.com", "{}", me.text);

    // No current password, then a wrong one: the error beside that field, still logged in.
    b.click("#password-details > summary").await;
    b.fill("#account-new-password", NEW_PASSWORD).await;
    b.submit("#password-form").await;
    b.until_text("#account-current-password-error", "This field is required.")
        .await;
    b.fill("#account-current-password", "not-my-password").await;
    b.submit("#password-form").await;
    b.until_text(
        "#account-current-password-error",
        "Your old password was entered incorrectly.",
    )
    .await;
    let beside = b
        .js(
            "const input = document.querySelector('#account-current-password');
             const err = document.querySelector('#account-current-password-error');
             return input.closest('.field').contains(err)
                 && input.getAttribute('aria-describedby') === err.id
                 && input.getAttribute('aria-invalid') === 'true'
                 && document.querySelector('#account-new-password-error').textContent === ''
                 && document.querySelector('#login-view').hidden;",
            vec![],
        )
        .await;
    assert_eq!(beside, json!(true), "the error is not beside its field");

    // The right one: the session ends, the page says so and shows the login form.
    b.fill("#account-current-password", PASSWORD).await;
    b.submit("#password-form").await;
    let logged_out = async || {
        let v = b
            .js(
                "return !document.querySelector('#login-view').hidden
                     && document.querySelector('#app-view').hidden
                     && localStorage.length === 0
                     && document.querySelector('#status').dataset.state === 'offline'",
                vec![],
            )
            .await;
        (v == json!(true)).then_some(())
    };
    b.until("the login form after the password change", logged_out)
        .await;
    let notice = "Password changed — log in again with the new password";
    b.until_text("#login-notice", notice).await;
    // The socket's own close (4003) must not overwrite that with another message.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(b.text("#login-notice").await.contains(notice));
    assert_eq!(b.text("#login-error").await, "");
    let r = app.get("/api/users/me/", &access).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    let r = app.login("erin1", PASSWORD).await;
    assert_ne!(r.status, StatusCode::OK, "the old password still works");

    // Logging in with the new password works.
    log_in(NEW_PASSWORD).await;
    b.until("the connection with the new password", connected)
        .await;
    b.until_text("#account-email-current", "erin.new@example.com")
        .await;
    assert_eq!(b.text("#login-notice").await, "");

    // Delete: the button first asks for the password; a wrong one is refused beside it.
    b.click("#delete-start").await;
    let asking = b
        .js(
            "return !document.querySelector('#delete-form').hidden
                 && document.querySelector('#delete-start').hidden",
            vec![],
        )
        .await;
    assert_eq!(asking, json!(true), "no confirm step");
    // No password: required (the page leaves a blank one out rather than have it checked).
    b.submit("#delete-form").await;
    b.until_text("#delete-password-error", "This field is required.")
        .await;
    b.fill("#delete-password", "not-my-password").await;
    b.submit("#delete-form").await;
    b.until_text("#delete-password-error", "entered incorrectly")
        .await;
    assert!(
        b.js(
            "return document.querySelector('#login-view').hidden",
            vec![]
        )
        .await
            == json!(true)
    );
    // The right password: the account is gone, and the page is back at the login form.
    b.fill("#delete-password", NEW_PASSWORD).await;
    b.submit("#delete-form").await;
    b.until("the login form after the deletion", logged_out)
        .await;
    b.until_text("#login-notice", "Account deleted").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(b.text("#login-notice").await.contains("Account deleted"));
    assert_eq!(b.text("#login-error").await, "");

    // Logging in fails now, through the page and the API.
    log_in(NEW_PASSWORD).await;
    b.until_text("#login-error", "No active account").await;
    let r = app.login("erin1", NEW_PASSWORD).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);

    let violations = b.js("return window.cspViolations", vec![]).await;
    assert_eq!(violations, json!([]), "CSP violations");
    let console = b.console().await;
    // The API's 400s and 401s above are expected; nothing else may be logged as an error.
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
async fn a_new_user_signs_up_on_the_live_page_edits_in_place_and_sees_every_change() {
    let Some(b) = browser().await else { return };
    let app = spawn_app().await;

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

    // A fresh server has no account: sign-up is one click from the login form. The fields
    // say what they are, to password managers and tests.
    let login_password = b
        .js(
            "return document.querySelector('#login-form input[type=password]').getAttribute('autocomplete')",
            vec![],
        )
        .await;
    assert_eq!(login_password, "current-password");
    b.click("#show-signup").await;
    let fields = b
        .js(
            "return !document.querySelector('#signup-view').hidden
                 && document.querySelector('#login-view').hidden
                 && [...document.querySelectorAll('#signup-form input')]
                        .map(i => [i.name, i.getAttribute('autocomplete')]);",
            vec![],
        )
        .await;
    assert_eq!(
        fields,
        json!([
            ["username", "username"],
            ["email", "email"],
            ["password", "new-password"]
        ])
    );

    // The API's field errors, each beside its field.
    b.fill("#signup-username", "newbie1").await;
    b.fill("#signup-email", "not-an-email").await;
    b.fill("#signup-password", "password").await;
    b.submit("#signup-form").await;
    b.until_text("#signup-email-error", "Enter a valid email address.")
        .await;
    b.until_text("#signup-password-error", "This password is too common.")
        .await;
    assert_eq!(b.text("#signup-username-error").await, "");
    let invalid = b
        .js(
            "return ['#signup-email', '#signup-password', '#signup-username']
                 .map(s => document.querySelector(s).getAttribute('aria-invalid'))",
            vec![],
        )
        .await;
    assert_eq!(invalid, json!(["true", "true", "false"]));
    b.screenshot("signup").await;

    // Fixed: the account exists, and the page is logged in and connected.
    b.fill("#signup-email", "newbie1@example.com").await;
    b.fill("#signup-password", PASSWORD).await;
    b.submit("#signup-form").await;
    b.until_connected("the page after signing up").await;
    assert_eq!(b.text("#whoami").await, "newbie1");
    assert_eq!(b.counts().await, json!(["0", "0"]));
    let access = app.login("newbie1", PASSWORD).await.json()["access"]
        .as_str()
        .expect("access")
        .to_owned();

    // Changes made elsewhere (here, the API): counted, in the feed, and lit up.
    let milk = app.new_task(&access, "Buy oat milk").await["id"]
        .as_i64()
        .expect("id");
    assert!(
        b.until_feed("Added “Buy oat milk”", "elsewhere", milk)
            .await,
        "the new row is not lit up"
    );
    let plumber = app.new_task(&access, "Call the plumber").await["id"]
        .as_i64()
        .expect("id");
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/tasks/{milk}/"),
            Some(&access),
            Some(json!({"completed": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(
        b.until_feed("Completed “Buy oat milk”", "elsewhere", milk)
            .await,
        "the completed row is not lit up"
    );
    b.until("the counts", async || {
        (b.counts().await == json!(["1", "1"])).then_some(())
    })
    .await;

    // The highlight is brief.
    b.until("the highlight to end", async || {
        (!b.flashing(plumber).await && !b.flashing(milk).await).then_some(())
    })
    .await;

    // Inline editing: a field error beside the title, then a saved edit.
    let row = row_css;
    b.click(&format!("{} .task-edit", row(plumber))).await;
    let title = format!("#task-{plumber}-edit-title");
    let description = format!("#task-{plumber}-edit-description");
    let form = format!("{} .task-edit-form", row(plumber));
    b.fill(&title, "abc").await;
    b.submit(&form).await;
    b.until_text(&format!("{title}-error"), "at least 5 characters")
        .await;
    b.fill(&title, "Call the plumber today").await;
    b.fill(&description, "About the kitchen tap, before Friday.")
        .await;
    b.submit(&form).await;
    b.until("the edited row", async || {
        let row = b.task_row(plumber).await;
        let editing = b
            .js(
                "return document.querySelectorAll('.task-edit-form').length",
                vec![],
            )
            .await;
        (row["title"] == "Call the plumber today" && editing == json!(0)).then_some(())
    })
    .await;
    let t = app
        .get(&format!("/api/tasks/{plumber}/"), &access)
        .await
        .json();
    assert_eq!(t["title"], "Call the plumber today");
    assert_eq!(t["description"], "About the kitchen tap, before Friday.");
    // This tab's own change: in the feed as such, and not lit up.
    let lit = b
        .until_feed(
            "Edited “Call the plumber today” (was “Call the plumber”, new description)",
            "here",
            plumber,
        )
        .await;
    assert!(!lit, "this tab's own edit is lit up as if made elsewhere");

    // A failed action is shown, not reverted silently: an edit of a task changed
    // elsewhere meanwhile is refused (If-Match), says so, and keeps the edit.
    b.click(&format!("{} .task-edit", row(plumber))).await;
    b.fill(&title, "Plumber: kitchen tap").await;
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/tasks/{plumber}/"),
            Some(&access),
            Some(json!({"title": "Plumber, changed on the phone"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(
        b.until_feed(
            "Renamed “Call the plumber today” to “Plumber, changed on the phone”",
            "elsewhere",
            plumber,
        )
        .await
    );
    b.submit(&form).await;
    let refused = b
        .until_text(
            &format!("{form} .edit-error"),
            "changed elsewhere while you were editing it",
        )
        .await;
    assert!(
        refused.contains("“Plumber, changed on the phone”"),
        "{refused}"
    );
    let kept = b
        .js(
            "return document.querySelector(arguments[0]).value",
            vec![json!(title)],
        )
        .await;
    assert_eq!(kept, "Plumber: kitchen tap", "the edit was thrown away");
    b.screenshot("edit").await;
    // Saving again, knowingly, replaces it.
    b.submit(&form).await;
    b.until("the second save", async || {
        (b.task_row(plumber).await["title"] == "Plumber: kitchen tap").then_some(())
    })
    .await;

    // A toggle the network drops: an error on the row, and the checkbox as it really is.
    b.client
        .issue_cmd(Cdp(json!({"cmd": "Network.enable", "params": {}})))
        .await
        .expect("Network.enable");
    let block =
        |urls: Value| Cdp(json!({"cmd": "Network.setBlockedURLs", "params": {"urls": urls}}));
    b.client
        .issue_cmd(block(json!([format!("*/api/tasks/{plumber}/*")])))
        .await
        .expect("block");
    b.click(&format!("#task-{plumber}-done")).await;
    b.until_text(
        &format!("{} .task-error", row(plumber)),
        "Could not mark it done",
    )
    .await;
    assert_eq!(b.task_row(plumber).await["checked"], false);
    b.client.issue_cmd(block(json!([]))).await.expect("unblock");
    b.click(&format!("#task-{plumber}-done")).await;
    b.until("the toggle once the network is back", async || {
        let row = b.task_row(plumber).await;
        let error = b.text(&format!("{} .task-error", row_css(plumber))).await;
        (row["checked"] == true && error.is_empty()).then_some(())
    })
    .await;
    b.until("the counts", async || {
        (b.counts().await == json!(["0", "2"])).then_some(())
    })
    .await;

    let violations = b.js("return window.cspViolations", vec![]).await;
    assert_eq!(violations, json!([]), "CSP violations");
    let console = b.console().await;
    let errors = console_errors(&console);
    assert!(errors.is_empty(), "console errors: {errors:#?}");

    // A second tab is logged in already, and lists the same tasks.
    let first = b.client.window().await.expect("this tab");
    let second = b.client.new_window(true).await.expect("new tab").handle;
    b.client
        .switch_to_window(second)
        .await
        .expect("to the new tab");
    b.client
        .goto(&app.url("/real_data/"))
        .await
        .expect("open page");
    b.until_connected("the second tab, logged in").await;
    assert_eq!(b.text("#whoami").await, "newbie1");
    b.until("the tasks in the second tab", async || {
        (b.task_row(plumber).await["title"] == "Plumber: kitchen tap").then_some(())
    })
    .await;
    // Logging out there logs out here too.
    b.click("#logout").await;
    b.until("the second tab's login form", async || {
        let v = b
            .js(
                "return !document.querySelector('#login-view').hidden",
                vec![],
            )
            .await;
        (v == json!(true)).then_some(())
    })
    .await;
    b.client
        .switch_to_window(first)
        .await
        .expect("back to the first tab");
    b.until_text("#login-notice", "Your session ended in another tab.")
        .await;
    let state = b
        .js(
            "return [document.querySelector('#app-view').hidden,
                     document.querySelector('#status').dataset.state,
                     document.querySelectorAll('#tasks li').length,
                     localStorage.getItem('tasklane.refresh')]",
            vec![],
        )
        .await;
    assert_eq!(state, json!([true, "offline", 0, null]));

    // `/real_data/#signup` opens at the sign-up form.
    b.client
        .goto(&app.url("/real_data/#signup"))
        .await
        .expect("open page");
    b.client.refresh().await.expect("reload");
    b.until("the sign-up form", async || {
        let v = b
            .js(
                "return !document.querySelector('#signup-view').hidden
                     && document.querySelector('#login-view').hidden
                     && document.activeElement === document.querySelector('#signup-username')",
                vec![],
            )
            .await;
        (v == json!(true)).then_some(())
    })
    .await;
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
    b.until("every task in the list", async || {
        let n = b
            .js(
                "return document.querySelectorAll('#tasks li').length",
                vec![],
            )
            .await;
        (n == json!(TASKS) && b.counts().await == json!([TASKS.to_string(), "0"])).then_some(())
    })
    .await;
    // Each task once: the second page is in.
    let titles = b
        .js(
            "return [...document.querySelectorAll('#tasks .task-title')].map(e => e.textContent)",
            vec![],
        )
        .await;
    let mut titles: Vec<String> = serde_json::from_value(titles).expect("titles");
    titles.sort();
    let expected: Vec<String> = (0..TASKS).map(|i| format!("Task number {i:04}")).collect();
    assert_eq!(titles, expected);
    let pages = b
        .js(
            "return performance.getEntriesByType('resource')
                 .map(e => new URL(e.name))
                 .filter(u => u.pathname === '/api/tasks/' || u.pathname === '/api/tasks')
                 .map(u => u.searchParams.get('offset') || '0')",
            vec![],
        )
        .await;
    assert_eq!(pages, json!(["0", "1000"]), "the pages fetched");
    b.quit().await;
}

#[tokio::test]
async fn swagger_ui_authorizes_with_a_password_and_tries_list_tasks() {
    let Some(b) = browser().await else { return };
    let app = spawn_app().await;
    let (access, _) = app.user("gina1").await;
    app.new_task(&access, "Seen through Swagger").await;

    b.client
        .goto(&app.url("/swagger/"))
        .await
        .expect("open swagger");
    b.until("the Authorize button", async || {
        let v = b
            .js(
                "return Boolean(document.querySelector('.auth-wrapper .authorize'))",
                vec![],
            )
            .await;
        (v == json!(true)).then_some(())
    })
    .await;
    b.click(".auth-wrapper .authorize").await;
    b.until("the password flow's fields", async || {
        let v = b
            .js(
                "return Boolean(document.querySelector('#oauth_username'))",
                vec![],
            )
            .await;
        (v == json!(true)).then_some(())
    })
    .await;
    // No client id or secret to fill in: those rows are hidden.
    let client_rows = b
        .js(
            "return ['password_type', 'client_id_password', 'client_secret_password']
                 .map(id => document.querySelector(`label[for=${id}]`))
                 .map(l => l ? getComputedStyle(l.closest('.wrapper')).display : 'absent')",
            vec![],
        )
        .await;
    assert_eq!(client_rows, json!(["none", "none", "none"]));

    b.fill("#oauth_username", "gina1").await;
    b.fill("#oauth_password", PASSWORD).await;
    b.click(".auth-container:has(#oauth_username) button.authorize")
        .await;
    let authorized = b
        .until("Swagger UI to be authorized", async || {
            let v = b
                .js(
                    "const c = [...document.querySelectorAll('.auth-container')]
                         .find(c => c.textContent.includes('oauth2'));
                     const errors = c && c.querySelector('.errors');
                     if (errors && errors.textContent.trim()) return 'error: ' + errors.textContent;
                     return c && [...c.querySelectorAll('button')].some(b => b.textContent === 'Logout')
                         ? 'ok' : null;",
                    vec![],
                )
                .await;
            v.as_str().map(str::to_owned)
        })
        .await;
    assert_eq!(authorized, "ok", "Swagger UI could not log in");
    b.click(".auth-btn-wrapper .btn-done").await;

    // "Try it out" on GET /api/tasks/ now works.
    let op = "#operations-Tasks-list_tasks";
    b.click(&format!("{op} .opblock-summary")).await;
    b.until("the Try it out button", async || {
        let v = b
            .js(
                "return Boolean(document.querySelector(arguments[0] + ' .try-out__btn'))",
                vec![json!(op)],
            )
            .await;
        (v == json!(true)).then_some(())
    })
    .await;
    b.click(&format!("{op} .try-out__btn")).await;
    b.until("the Execute button", async || {
        let v = b
            .js(
                "return Boolean(document.querySelector(arguments[0] + ' .execute'))",
                vec![json!(op)],
            )
            .await;
        (v == json!(true)).then_some(())
    })
    .await;
    b.click(&format!("{op} .execute")).await;
    let live = b
        .until("the live response", async || {
            let v = b
                .js(
                    "const t = document.querySelector(arguments[0] + ' .live-responses-table');
                     return t ? t.innerText : null;",
                    vec![json!(op)],
                )
                .await;
            v.as_str()
                .filter(|t| t.contains("Seen through Swagger"))
                .map(str::to_owned)
        })
        .await;
    assert!(live.contains("200"), "{live}");
    let curl = b
        .js(
            "return document.querySelector(arguments[0] + ' .curl-command').innerText",
            vec![json!(op)],
        )
        .await;
    assert!(
        curl.as_str()
            .unwrap_or_default()
            .contains("Authorization: Bearer ey"),
        "{curl}"
    );
    b.quit().await;
}

#[tokio::test]
async fn changing_the_email_after_an_old_login_asks_for_the_password() {
    let Some(b) = browser().await else { return };
    // `--reauth-after 0s`: no login is recent enough, so the page must send the password.
    let app = spawn_app_with(|a| a.reauth_after = Duration::ZERO).await;
    let (access, _) = app.user("gwen1").await;
    b.client
        .goto(&app.url("/real_data/"))
        .await
        .expect("open page");
    b.fill("#username", "gwen1").await;
    b.fill("#password", PASSWORD).await;
    b.submit("#login-form").await;
    b.until_text("#account-email-current", "gwen1@example.com")
        .await;

    // Without it: the page says what is needed, and nothing changes.
    b.click("#email-details > summary").await;
    b.fill("#account-email", "gwen.new@example.com").await;
    b.submit("#email-form").await;
    b.until_text("#email-form-error", "Enter your current password")
        .await;
    let me = app.get("/api/users/me/", &access).await;
    assert_eq!(me.json()["email"], "gwen1@example.com", "{}", me.text);

    // A wrong one: the API's message beside the field.
    b.fill("#email-current-password", "not-my-password").await;
    b.submit("#email-form").await;
    b.until_text("#email-current-password-error", "entered incorrectly")
        .await;

    // The right one: changed.
    b.fill("#email-current-password", PASSWORD).await;
    b.submit("#email-form").await;
    b.until_text("#account-email-current", "gwen.new@example.com")
        .await;
    let me = app.get("/api/users/me/", &access).await;
    assert_eq!(me.json()["email"], "gwen.new@example.com", "{}", me.text);
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
