//! The live page's account panel in a real headless Chromium (the harness:
//! `helpers::browser`): email, password, deletion, and the password asked again after an
//! old login.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::browser::browser;
use crate::helpers::*;

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
