//! Stream tickets (`POST /api/stream-tickets/`, then `?ticket=`): what a browser puts in
//! a stream's URL instead of a credential. Single use, short-lived, bound to the user and
//! the credential that minted it; and no credential in a URL otherwise.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

/// `GET path` with no header, as a browser's `EventSource` sends it.
async fn sse(app: &TestApp, path: &str) -> reqwest::Response {
    app.client.get(app.url(path)).send().await.unwrap()
}

/// `GET path` (an SSE stream) that must be refused: its answer, read whole.
async fn refused_sse(app: &TestApp, path: &str) -> Resp {
    let resp = sse(app, path).await;
    assert_ne!(resp.status(), StatusCode::OK, "a stream opened for {path}");
    read(resp).await
}

/// Opens `/ws/tasks/` at `path_and_query`: the socket, or the refusal's status and body.
async fn try_ws(app: &TestApp, path_and_query: &str) -> Result<Ws, (u16, serde_json::Value)> {
    match tokio_tungstenite::connect_async(app.ws_url(path_and_query)).await {
        Ok((inner, _)) => Ok(Ws { inner }),
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            let body = resp.body().clone().unwrap_or_default();
            Err((
                resp.status().as_u16(),
                serde_json::from_slice(&body).unwrap_or_default(),
            ))
        }
        Err(e) => panic!("{path_and_query}: {e}"),
    }
}

/// A 401 with `code`, DRF-shaped, with the Bearer challenge.
fn assert_refused(r: &Resp, code: &str) {
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    assert_eq!(r.json()["code"], code, "{}", r.text);
    assert!(r.json()["detail"].is_string(), "{}", r.text);
    assert_eq!(r.header("www-authenticate"), Some(r#"Bearer realm="api""#));
}

#[tokio::test]
async fn a_ticket_opens_one_websocket_or_one_event_stream_once() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice1").await;

    // Minted: 201, a `tlt_` secret, 30 s, never cached; only its hash is stored.
    let r = app
        .call(Method::POST, "/api/stream-tickets/", Some(&alice), None)
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let body = r.json();
    let ticket = body["ticket"].as_str().unwrap().to_owned();
    assert!(ticket.starts_with("tlt_") && ticket.len() == 44, "{ticket}");
    assert_eq!(body["expires_in"], 30);
    assert!(body["expires_at"].as_str().unwrap().ends_with('Z'));
    let c = db(&app).await;
    assert_eq!(
        c.int("SELECT count(*) FROM stream_tickets", &[]).await,
        1,
        "one row per ticket"
    );
    let stored = c.text("SELECT ticket_hash FROM stream_tickets", &[]).await;
    assert_ne!(stored, ticket, "the ticket itself is never stored");

    // The WebSocket takes it, and the stream is alice's.
    let mut ws = try_ws(&app, &format!("/ws/tasks/?ticket={ticket}"))
        .await
        .expect("a socket");
    let t = app.new_task(&alice, "Heard through a ticket").await;
    assert_eq!(ws.next_json().await["task"], t);

    // Spent: a second use is a 401 and no socket, on either stream.
    let err = try_ws(&app, &format!("/ws/tasks/?ticket={ticket}"))
        .await
        .err()
        .expect("no second socket");
    assert_eq!(err.0, 401);
    assert_eq!(err.1["code"], "ticket_not_valid");
    let r = refused_sse(&app, &format!("/api/events/?ticket={ticket}")).await;
    assert_refused(&r, "ticket_not_valid");
    assert_eq!(
        c.int("SELECT count(*) FROM stream_tickets", &[]).await,
        0,
        "a spent ticket leaves no row"
    );

    // SSE takes a fresh one, with `since`, as an `EventSource` would.
    let ticket = app.ticket(&alice).await;
    let resp = sse(&app, &format!("/api/events/?since=0&ticket={ticket}")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let events = sse_events_through(resp, 1).await;
    assert_eq!(events[0].2["task"], t);
    let r = refused_sse(&app, &format!("/api/events/?ticket={ticket}")).await;
    assert_refused(&r, "ticket_not_valid");

    // Made-up tickets, and other credentials in `ticket`, are refused alike.
    for bad in [
        "tlt_0123456789abcdefghijABCDEFGHIJ0123456789".to_owned(),
        "garbage".to_owned(),
        String::new(),
        alice.clone(),
    ] {
        let r = refused_sse(&app, &format!("/api/events/?ticket={bad}")).await;
        assert_refused(&r, "ticket_not_valid");
    }
}

#[tokio::test]
async fn a_ticket_redeemed_at_once_by_many_opens_one_stream() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice1").await;
    let ticket = app.ticket(&alice).await;
    let path = format!("/api/events/?ticket={ticket}");
    let tries = (0..8).map(|_| sse(&app, &path));
    let answers = futures_util::future::join_all(tries).await;
    let opened = answers
        .iter()
        .filter(|r| r.status() == StatusCode::OK)
        .count();
    let refused = answers
        .iter()
        .filter(|r| r.status() == StatusCode::UNAUTHORIZED)
        .count();
    assert_eq!((opened, refused), (1, 7));
}

#[tokio::test]
async fn an_expired_ticket_is_refused_and_pruned() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice1").await;
    let ticket = app.ticket(&alice).await;
    let other = app.ticket(&alice).await;
    // As if 30 s had passed.
    let c = db(&app).await;
    c.execute(
        "UPDATE stream_tickets SET expires_at = expires_at - 31",
        &[],
    )
    .await;
    let r = refused_sse(&app, &format!("/api/events/?ticket={ticket}")).await;
    assert_refused(&r, "ticket_not_valid");
    let err = try_ws(&app, &format!("/ws/tasks/?ticket={other}"))
        .await
        .err()
        .expect("no socket");
    assert_eq!(err.0, 401);
    // Housekeeping deletes expired rows (every 5 s).
    let mut left = 1;
    for _ in 0..100 {
        left = c.int("SELECT count(*) FROM stream_tickets", &[]).await;
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(left, 0, "expired tickets were never pruned");
}

#[tokio::test]
async fn a_ticket_streams_its_minter_s_events_and_nothing_of_whoever_redeems_it() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice1").await;
    let (bob, _) = app.user("bob1").await;
    app.new_task(&bob, "Bob's first task").await;
    // Bob got hold of alice's ticket (it is a bearer secret for 30 s, once).
    let ticket = app.ticket(&alice).await;
    // With his own credential beside it, he gets nothing: one credential per request.
    let r = read(
        app.client
            .get(app.url(&format!("/api/events/?since=0&ticket={ticket}")))
            .bearer_auth(&bob)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_refused(&r, "multiple_credentials");
    // Alone, the ticket (not spent by the refusal) opens alice's stream: her events only.
    let mut ws = try_ws(&app, &format!("/ws/tasks/?ticket={ticket}&since=0"))
        .await
        .expect("a socket");
    app.new_task(&bob, "Bob's second task").await;
    let hers = app.new_task(&alice, "Alice's own task").await;
    let e = ws.next_json().await;
    assert_eq!((e["event_id"].clone(), e["task"].clone()), (json!(1), hers));
    assert!(matches!(
        ws.next_within(Duration::from_millis(300)).await,
        WsNext::Timeout
    ));
}

#[tokio::test]
async fn a_ticket_from_an_api_token_lives_and_dies_with_it() {
    let app = spawn_app_with(|a| a.stream_recheck = Duration::from_millis(200)).await;
    let (session, _) = app.user("alice1").await;
    let script = api_token(&app, &session, &["tasks:read"]).await;
    let first = app.ticket(&script).await;
    let second = app.ticket(&script).await;
    let mut ws = try_ws(&app, &format!("/ws/tasks/?ticket={first}"))
        .await
        .expect("a socket");
    let t = app.new_task(&session, "Seen by the script").await;
    assert_eq!(ws.next_json().await["task"], t);

    // Revoked: the open stream closes with 4003, and its unused ticket is dead.
    let id = app.get("/api/tokens/", &session).await.json()[0]["id"].clone();
    let r = app
        .call(
            Method::DELETE,
            &format!("/api/tokens/{id}/"),
            Some(&session),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    match ws.next_within(Duration::from_secs(5)).await {
        WsNext::Closed(code, _) => assert_eq!(code, Some(4003)),
        other => panic!("expected 4003, got {other:?}"),
    }
    let r = refused_sse(&app, &format!("/api/events/?ticket={second}")).await;
    assert_refused(&r, "ticket_not_valid");

    // A token without a read scope gets no ticket; nobody gets one without a credential.
    let account_only = api_token(&app, &session, &["account:read"]).await;
    let r = app
        .call(
            Method::POST,
            "/api/stream-tickets/",
            Some(&account_only),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert_eq!(r.json()["code"], "insufficient_scope");
    let r = app
        .call(Method::POST, "/api/stream-tickets/", None, None)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let writer = api_token(&app, &session, &["tasks:write"]).await;
    let r = app
        .call(Method::POST, "/api/stream-tickets/", Some(&writer), None)
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
}

#[tokio::test]
async fn a_ticket_from_a_session_ends_with_the_session() {
    let app = spawn_app_with(|a| a.stream_recheck = Duration::from_millis(200)).await;
    let (access, _) = app.user("alice1").await;
    let spare = app.ticket(&access).await;
    let mut ws = app.ws(&access, None).await;
    // The password changes (here, through the API): every older credential ends.
    let r = app
        .call(
            Method::PATCH,
            "/api/users/me/",
            Some(&access),
            Some(json!({"password": "An0ther-Passw0rd!x", "current_password": PASSWORD})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    match ws.next_within(Duration::from_secs(5)).await {
        WsNext::Closed(code, _) => assert_eq!(code, Some(4003)),
        other => panic!("expected 4003, got {other:?}"),
    }
    let r = refused_sse(&app, &format!("/api/events/?ticket={spare}")).await;
    assert_refused(&r, "ticket_not_valid");
}

#[tokio::test]
async fn a_user_holds_a_bounded_number_of_unused_tickets() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice1").await;
    let first = app.ticket(&alice).await;
    for _ in 0..70 {
        app.ticket(&alice).await;
    }
    let last = app.ticket(&alice).await;
    let held = db(&app)
        .await
        .int("SELECT count(*) FROM stream_tickets", &[])
        .await;
    assert_eq!(held, 64);
    // The oldest went first.
    let r = refused_sse(&app, &format!("/api/events/?ticket={first}")).await;
    assert_refused(&r, "ticket_not_valid");
    assert_eq!(
        sse(&app, &format!("/api/events/?ticket={last}"))
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_access_token_in_a_stream_url_is_refused_by_default() {
    let app = spawn_app().await;
    let (access, _) = app.user("alice1").await;
    let r = refused_sse(&app, &format!("/api/events/?token={access}")).await;
    assert_refused(&r, "token_in_url");
    assert!(
        r.json()["detail"]
            .as_str()
            .unwrap()
            .contains("/api/stream-tickets/"),
        "{}",
        r.text
    );
    let err = try_ws(&app, &format!("/ws/tasks/?token={access}"))
        .await
        .err()
        .expect("no socket");
    assert_eq!((err.0, err.1["code"].clone()), (401, json!("token_in_url")));
}

#[tokio::test]
async fn allow_token_in_url_still_lets_an_access_token_through() {
    let app = spawn_app_with(|a| a.allow_token_in_url = true).await;
    let (access, refresh) = app.user("alice1").await;
    let mut ws = try_ws(&app, &format!("/ws/tasks/?token={access}"))
        .await
        .expect("a socket");
    let t = app.new_task(&access, "Old clients still stream").await;
    assert_eq!(ws.next_json().await["task"], t);
    let resp = sse(&app, &format!("/api/events/?since=0&token={access}")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    // Only an access token: a refresh token is not one, an API token never goes in a URL.
    let r = refused_sse(&app, &format!("/api/events/?token={refresh}")).await;
    assert_refused(&r, "token_not_valid");
    let script = api_token(&app, &access, &["tasks:read"]).await;
    let r = refused_sse(&app, &format!("/api/events/?token={script}")).await;
    assert_refused(&r, "token_in_url");
}

/// Today's hole: only the first `token` was checked, so an API token could ride in a
/// second one beside a harmless first.
#[tokio::test]
async fn an_api_token_in_any_token_parameter_is_refused() {
    for allow in [false, true] {
        let app = spawn_app_with(|a| a.allow_token_in_url = allow).await;
        let (access, _) = app.user("alice1").await;
        let script = api_token(&app, &access, &["tasks:read"]).await;
        for query in [
            format!("token={access}&token={script}"),
            format!("since=0&token={access}&since=1&token={script}"),
        ] {
            let r = refused_sse(&app, &format!("/api/events/?{query}")).await;
            assert_refused(&r, "token_in_url");
            let err = try_ws(&app, &format!("/ws/tasks/?{query}"))
                .await
                .err()
                .expect("no socket");
            assert_eq!((err.0, err.1["code"].clone()), (401, json!("token_in_url")));
        }
    }
}

#[tokio::test]
async fn every_credential_in_the_query_is_checked_not_only_the_first() {
    for allow in [false, true] {
        let app = spawn_app_with(|a| a.allow_token_in_url = allow).await;
        let (access, _) = app.user("alice1").await;
        let script = api_token(&app, &access, &["tasks:read"]).await;
        let ticket = app.ticket(&access).await;
        for query in [
            format!("token={access}&token={script}"),
            format!("ticket={ticket}&token={script}"),
            format!("ticket={ticket}&ticket={script}"),
        ] {
            let r = refused_sse(&app, &format!("/api/events/?{query}")).await;
            assert_refused(&r, "token_in_url");
            let err = try_ws(&app, &format!("/ws/tasks/?{query}"))
                .await
                .err()
                .expect("no socket");
            assert_eq!(err.0, 401, "{query}");
        }
        let other = app.ticket(&access).await;
        for query in [
            format!("ticket={ticket}&ticket={other}"),
            format!("token={access}&token={access}"),
            format!("ticket={ticket}&token={access}"),
        ] {
            let r = refused_sse(&app, &format!("/api/events/?{query}")).await;
            assert_refused(&r, "multiple_credentials");
        }
    }
}

/// Two processes on one database (one SQLite file, or one PostgreSQL database as two
/// hosts): a ticket minted on one opens a stream on the other, once, even when both are
/// asked at the same moment.
#[tokio::test]
async fn a_ticket_is_single_use_across_processes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shared.db");
    let (a, b) = (spawn_tasklane(&db, &[]), spawn_tasklane(&db, &[]));
    let client = reqwest::Client::new();
    let access = user_on(&client, &a, "alice1").await;

    let ticket = stream_ticket(&client, &a.url(""), &access).await;
    let on_b = client
        .get(b.url(&format!("/api/events/?ticket={ticket}")))
        .send()
        .await
        .unwrap();
    assert_eq!(on_b.status(), StatusCode::OK);
    let again = client
        .get(a.url(&format!("/api/events/?ticket={ticket}")))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::UNAUTHORIZED);

    let ticket = stream_ticket(&client, &b.url(""), &access).await;
    let tries = (0..8).map(|i| {
        let p = if i % 2 == 0 { &a } else { &b };
        client
            .get(p.url(&format!("/api/events/?ticket={ticket}")))
            .send()
    });
    let statuses: Vec<StatusCode> = futures_util::future::join_all(tries)
        .await
        .into_iter()
        .map(|r| r.unwrap().status())
        .collect();
    let opened = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    assert_eq!((opened, refused), (1, 7), "{statuses:?}");
}
