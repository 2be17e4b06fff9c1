//! A new user's first visit to the live page in a real headless Chromium (the harness:
//! `helpers::browser`): signs up, edits in place, and sees every change.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::browser::{Cdp, browser, console_errors, row_css};
use crate::helpers::*;

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
