//! Many members creating tasks in one project at once (on PostgreSQL, through the
//! projects' group commit, many creates per transaction), while the owner removes one
//! member and lowers another to viewer mid-run. The removed member's and the demoted
//! member's creates are refused (404, 403) once the change is answered, without taking
//! the others in their batch with them; nobody hears of a task of the project after
//! leaving it; and every member hears of every task created while they were in it
//! exactly once, under gapless event ids, the creator's copy alone carrying their email.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use futures_util::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{add_member, my_id, new_project};
use crate::helpers::*;

/// Creates each member sends, and how many of them at once.
const CREATES: usize = 40;
const IN_FLIGHT: usize = 4;

/// One create's outcome: who sent it, when it was sent and answered, status, task id.
struct Sent {
    member: usize,
    sent: Instant,
    answered: Instant,
    status: StatusCode,
    task: Option<i64>,
    body: String,
}

/// Every event of `token`'s `/api/changes/` from the start.
async fn all_changes(app: &TestApp, token: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut since = 0;
    loop {
        let r = app
            .get(&format!("/api/changes/?since={since}&limit=1000"), token)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let page = r.json();
        let events = page["events"].as_array().expect("events").clone();
        if events.is_empty() {
            return out;
        }
        since = page["cursor"].as_i64().expect("cursor");
        out.extend(events);
    }
}

#[tokio::test]
async fn concurrent_creates_survive_a_removal_and_a_demotion_mid_run() {
    let app = Arc::new(spawn_app_with(|a| a.metrics = true).await);
    let names = ["owner", "ed1", "ed2", "ed3", "gone", "demoted"];
    let mut tokens = Vec::new();
    for name in names {
        tokens.push(app.user(name).await.0);
    }
    let (owner, gone, demoted) = (0, 4, 5);
    let project = new_project(&app, &tokens[owner], "Busy").await["id"].clone();
    for (i, name) in names.iter().enumerate().skip(1) {
        add_member(&app, &tokens[owner], &project, name, &tokens[i], "editor").await;
    }
    let gone_id = my_id(&app, &tokens[gone]).await;
    let demoted_id = my_id(&app, &tokens[demoted]).await;

    let commits_before = metric(&app, "tasklane_db_commits_total").await;
    let writes_before = metric(&app, "tasklane_db_writes_total").await;
    // Every member creates, `IN_FLIGHT` at a time; the owner's changes go in once a
    // third of the creates are answered.
    let answered = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for (member, token) in tokens.iter().enumerate() {
        for lane in 0..IN_FLIGHT {
            let (app, token, project, answered) = (
                app.clone(),
                token.clone(),
                project.clone(),
                answered.clone(),
            );
            workers.push(tokio::spawn(async move {
                let mut out = Vec::new();
                for n in (lane..CREATES).step_by(IN_FLIGHT) {
                    let sent = Instant::now();
                    let body = json!({"title": format!("Task {member}-{n}"), "project": project});
                    let r = app.create_task(&token, body).await;
                    let answered_at = Instant::now();
                    answered.fetch_add(1, Ordering::Relaxed);
                    out.push(Sent {
                        member,
                        sent,
                        answered: answered_at,
                        status: r.status,
                        task: (r.status == StatusCode::CREATED)
                            .then(|| r.json()["id"].as_i64().expect("id")),
                        body: r.text,
                    });
                }
                out
            }));
        }
    }
    let total = names.len() * CREATES;
    while answered.load(Ordering::Relaxed) < total / 3 {
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    let remove_sent = Instant::now();
    let r = app
        .call(
            Method::DELETE,
            &format!("/api/projects/{project}/members/{gone_id}/"),
            Some(&tokens[owner]),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let removed = Instant::now();
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/projects/{project}/members/{demoted_id}/"),
            Some(&tokens[owner]),
            Some(json!({"role": "viewer"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let demoted_at = Instant::now();
    let sent: Vec<Sent> = join_all(workers)
        .await
        .into_iter()
        .flat_map(|w| w.expect("worker"))
        .collect();
    assert_eq!(sent.len(), total);

    // On PostgreSQL the creates went in batches: fewer commits than writes.
    if on_postgres() {
        let commits = metric(&app, "tasklane_db_commits_total").await - commits_before;
        let writes = metric(&app, "tasklane_db_writes_total").await - writes_before;
        assert!(
            commits < writes,
            "{writes} writes in {commits} commits: no batch carried two creates"
        );
    }

    // Statuses: a create is refused only for the removed or demoted member, and only
    // if it was not answered before the change was sent; once the change is answered,
    // it always is.
    let mut created: BTreeMap<i64, usize> = BTreeMap::new();
    for s in &sent {
        let expected_refusal = match s.member {
            m if m == gone => Some((StatusCode::NOT_FOUND, remove_sent, removed)),
            m if m == demoted => Some((StatusCode::FORBIDDEN, remove_sent, demoted_at)),
            _ => None,
        };
        match (s.status, expected_refusal) {
            (StatusCode::CREATED, None) => {}
            (StatusCode::CREATED, Some((_, _, done))) => assert!(
                s.sent < done,
                "member {} created after its change was answered",
                s.member
            ),
            (status, Some((refusal, change_sent, _))) if status == refusal => assert!(
                s.answered > change_sent,
                "member {} was refused before its change was sent",
                s.member
            ),
            (status, _) => panic!(
                "member {}: a create answered {status}: {}",
                s.member, s.body
            ),
        }
        if let Some(id) = s.task {
            assert!(created.insert(id, s.member).is_none(), "task {id} twice");
        }
    }
    let refused = |m: usize| {
        sent.iter()
            .filter(|s| s.member == m && s.task.is_none())
            .count()
    };
    assert!(
        refused(gone) > 0,
        "no create of the removed member was refused"
    );
    assert!(
        refused(demoted) > 0,
        "no create of the demoted member was refused"
    );
    // The removed member's creates sent after the removal was answered were refused.
    assert!(
        sent.iter()
            .filter(|s| s.member == gone && s.sent > removed)
            .all(|s| s.status == StatusCode::NOT_FOUND)
    );

    // Every member's events: gapless from 1; each task of the project heard once.
    let project_id = project.as_i64().expect("project id");
    for (member, token) in tokens.iter().enumerate() {
        let events = all_changes(&app, token).await;
        let want: Vec<i64> = (1..=events.len() as i64).collect();
        assert_eq!(ids(&events), want, "member {member}'s event ids have gaps");
        let mut heard = BTreeSet::new();
        let mut left = false;
        for e in &events {
            match e["action"].as_str().expect("action") {
                "project_removed" => left = true,
                "create" => {
                    assert!(!left, "member {member} heard a create after leaving: {e}");
                    assert_eq!(e["task"]["project"], project_id, "{e}");
                    let id = e["task"]["id"].as_i64().expect("id");
                    assert!(heard.insert(id), "member {member} heard task {id} twice");
                    let creator = created.get(&id).copied();
                    assert!(
                        creator.is_some(),
                        "member {member} heard of task {id}, never created"
                    );
                    // Only the creator's copy carries the email.
                    let email = &e["task"]["user"]["email"];
                    if creator == Some(member) {
                        assert_eq!(email, &json!(format!("{}@example.com", names[member])));
                    } else {
                        assert!(email.is_null(), "member {member} saw another's email: {e}");
                    }
                }
                _ => {}
            }
        }
        if member == gone {
            assert!(left, "the removed member never heard of the removal");
            // Heard of every task answered before the removal was sent, and of none
            // sent after the removal was answered.
            for s in sent.iter().filter(|s| s.task.is_some()) {
                let id = s.task.expect("task");
                if s.answered < remove_sent {
                    assert!(heard.contains(&id), "the removed member missed task {id}");
                }
                if s.sent > removed {
                    assert!(!heard.contains(&id), "the removed member heard task {id}");
                }
            }
        } else {
            let all: BTreeSet<i64> = created.keys().copied().collect();
            assert_eq!(
                heard, all,
                "member {member} did not hear of every task once"
            );
        }
    }
}
