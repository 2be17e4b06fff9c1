//! Listing tasks: only the user's own, filters, orderings and pages, the default page's
//! cap and next link, and the body byte for byte.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn list_shows_exactly_the_users_one_task_and_create_makes_it_two() {
    // Arrange (the original app's own tests)
    let app = spawn_app().await;
    let (token, _) = app.user("alice1").await;
    app.new_task(&token, "First task").await;

    // Act + Assert
    let list = app.list_tasks(&token, "").await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.json().as_array().unwrap().len(), 1);
    app.new_task(&token, "Second task").await;
    assert_eq!(app.task_count(&token).await, 2);
}

#[tokio::test]
async fn the_list_filters_orders_and_pages() {
    let app = spawn_app().await;
    let (token, _) = app.user("alice1").await;
    for i in 0..5 {
        app.create_task(&token, json!({"title": format!("Task number {i}"), "completed": i % 2 == 0, "description": if i == 3 { "Contains the NEEDLE here" } else { "" }}))
            .await;
    }
    let ids = |r: &Resp| -> Vec<i64> {
        r.json()
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_i64().unwrap())
            .collect()
    };

    let r = app.list_tasks(&token, "?completed=true").await;
    assert_eq!(ids(&r), [1, 3, 5]);
    assert_eq!(r.header("x-total-count"), Some("3"));
    assert_eq!(ids(&app.list_tasks(&token, "?search=needle").await), [4]);
    assert_eq!(
        ids(&app.list_tasks(&token, "?search=%25").await),
        Vec::<i64>::new()
    );
    assert_eq!(
        ids(&app.list_tasks(&token, "?ordering=-id").await),
        [5, 4, 3, 2, 1]
    );
    assert_eq!(
        ids(&app.list_tasks(&token, "?ordering=-title").await),
        [5, 4, 3, 2, 1]
    );

    let page = app.list_tasks(&token, "?limit=2&ordering=-id").await;
    assert_eq!(ids(&page), [5, 4]);
    assert_eq!(page.header("x-total-count"), Some("5"));
    let link = page.header("link").unwrap();
    assert_eq!(
        link,
        r#"</api/tasks/?ordering=-id&limit=2&cursor=LWlkCjQKbg>; rel="next""#
    );
    let next = link.trim_start_matches('<').split('>').next().unwrap();
    let page2 = app.get(next, &token).await;
    assert_eq!(ids(&page2), [3, 2]);
    let last = app
        .list_tasks(&token, "?limit=2&offset=4&ordering=-id")
        .await;
    assert_eq!(ids(&last), [1]);
    assert_eq!(last.header("link"), None);

    for (q, field) in [
        ("?limit=0", "limit"),
        ("?limit=1001", "limit"),
        ("?limit=abc", "limit"),
        ("?offset=-1", "offset"),
        ("?ordering=nope", "ordering"),
        ("?completed=maybe", "completed"),
    ] {
        let r = app.list_tasks(&token, q).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{q}");
        assert!(r.json()[field].is_array(), "{q}: {}", r.text);
    }
}

#[tokio::test]
async fn the_default_page_is_capped_with_a_next_link() {
    let app = spawn_app_with(|a| a.page_size = 3).await;
    let (token, _) = app.user("alice1").await;
    for i in 0..4 {
        app.new_task(&token, &format!("Task number {i}")).await;
    }
    let r = app.list_tasks(&token, "").await;
    assert_eq!(r.json().as_array().unwrap().len(), 3);
    assert_eq!(r.header("x-total-count"), Some("4"));
    assert!(r.header("link").unwrap().contains("cursor="));
}

#[tokio::test]
async fn the_list_is_byte_for_byte_the_tasks_it_holds() {
    let app = spawn_app().await;
    let (token, _) = app.user("alice1").await;
    let a = app
        .create_task(&token, json!({"title": "Quotes \" and \\ back\nslash", "description": "Ünïcödé ✓ <tags> & \u{1F600} \t tab"}))
        .await;
    let b = app
        .create_task(
            &token,
            json!({"title": "No description", "completed": true}),
        )
        .await;
    let one = app
        .get(&format!("/api/tasks/{}/", a.json()["id"]), &token)
        .await;
    let two = app
        .get(&format!("/api/tasks/{}/", b.json()["id"]), &token)
        .await;
    let list = app.list_tasks(&token, "").await;
    assert_eq!(list.text, format!("[{},{}]", one.text, two.text));
    assert_eq!(one.text, a.text);
}
