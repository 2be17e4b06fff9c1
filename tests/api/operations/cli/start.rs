//! Starting up as an operator sees it: an error printed once, the first start saying
//! how to get an account, and shell completions.

use crate::helpers::*;

#[tokio::test]
async fn a_start_up_error_is_printed_once() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    for format in ["text", "json"] {
        let run = tasklane(
            &[
                "serve",
                "--bind",
                &addr,
                "--db",
                db.to_str().unwrap(),
                "--log-format",
                format,
            ],
            None,
        )
        .await;
        assert_eq!(run.code, Some(1), "{run:#?}");
        assert_eq!(
            run.stderr.matches("cannot listen on").count(),
            1,
            "{format}: {run:#?}"
        );
    }
    // With the log off, it is still said.
    let run = tasklane(
        &[
            "serve",
            "--bind",
            &addr,
            "--db",
            db.to_str().unwrap(),
            "--log",
            "off",
        ],
        None,
    )
    .await;
    assert_eq!(
        run.stderr.matches("cannot listen on").count(),
        1,
        "{run:#?}"
    );
}

#[tokio::test]
async fn the_first_start_says_how_to_get_an_account() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("first.db");
    let first = spawn_tasklane(&db, &[]);
    let hint = "no account yet";
    assert!(first.log().contains(hint), "{}", first.log());
    assert!(
        first.log().contains("tasklane user create"),
        "{}",
        first.log()
    );
    let client = reqwest::Client::new();
    user_on(&client, &first, "alice").await;
    // A later start on the same database (the first still running) says nothing of it.
    let second = spawn_tasklane(&db, &[]);
    assert!(!second.log().contains(hint), "{}", second.log());
}

#[tokio::test]
async fn the_command_line_fits_the_shell() {
    for (shell, mark) in [
        ("bash", "_tasklane()"),
        ("zsh", "#compdef tasklane"),
        ("fish", "complete -c tasklane"),
    ] {
        let run = tasklane(&["completions", shell], None).await;
        run.ok();
        assert!(run.stdout.contains(mark), "{shell}: {run:#?}");
        assert!(
            run.stdout.contains("import-django"),
            "{shell} misses a command"
        );
    }
    let man = tasklane(&["man"], None).await;
    man.ok();
    assert!(man.stdout.contains(".TH tasklane 1"), "{man:#?}");
    assert!(
        man.stdout.contains("database\\-url"),
        "the man page lists the flags"
    );

    let help = tasklane(&["--help"], None).await;
    help.ok();
    let headings: Vec<usize> = ["Server:", "Auth:", "Streams:", "Limits:", "Operations:"]
        .iter()
        .map(|h| {
            help.stdout
                .find(&format!("\n{h}\n"))
                .unwrap_or_else(|| panic!("no {h}"))
        })
        .collect();
    assert!(headings.is_sorted(), "headings out of order");
    // Each flag under its heading.
    let at = |flag: &str| help.stdout.find(flag).unwrap();
    assert!(at("--jwt-secret") > headings[1] && at("--jwt-secret") < headings[2]);
    assert!(at("--redis-url") > headings[2] && at("--redis-url") < headings[3]);
    assert!(help.stdout.contains("Exit status: 0 on success; 1"));

    let usage = tasklane(&["--no-such-flag"], None).await;
    assert_eq!(usage.code, Some(2), "{usage:#?}");
}
