//! Swagger UI in a real headless Chromium (the harness: `helpers::browser`): it lists the
//! operations, authorizes with a password and tries one.

use serde_json::json;

use crate::helpers::browser::browser;
use crate::helpers::*;

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
