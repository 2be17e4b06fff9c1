//! The README's walk-through runs, as written, against a live server.

use crate::helpers::*;

/// The README's walk-through, run as written (but the stream, which waits for Ctrl-C)
/// against a live server: every command must succeed.
#[tokio::test]
async fn the_readmes_walk_through_runs() {
    let readme = include_str!("../../../README.md");
    let section = readme
        .split("## A walk-through with curl")
        .nth(1)
        .and_then(|s| s.split("```sh\n").nth(1))
        .and_then(|s| s.split("\n```").next())
        .expect("the walk-through's shell block");
    let script: String = section
        .lines()
        .filter(|l| !l.starts_with("curl -N"))
        .map(|l| {
            if l.starts_with("B=") {
                String::new()
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let out = tokio::process::Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .env("B", format!("http://{}", app.addr))
        .current_dir(dir.path())
        .output()
        .await
        .expect("bash");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(r#""username":"alice""#), "{stdout}");
    assert!(stdout.contains(r#""title":"Write report""#), "{stdout}");
    assert!(stdout.contains("204"), "{stdout}");
    // The API token worked for every task call: the task was made and deleted.
    assert_eq!(app.task_count(&login_access(&app).await).await, 0);
}

async fn login_access(app: &TestApp) -> String {
    let r = app.login("alice", "correct-horse-battery").await;
    r.json()["access"].as_str().unwrap().to_owned()
}
