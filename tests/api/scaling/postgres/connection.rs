//! The operator's side, attacked: what users write must not drive the operator's
//! terminal, and secrets must not leak through arguments, errors or the network.
//! Everything runs the built binary, as an operator would.

use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::helpers::*;

/// What a terminal would act on instead of showing: ESC (CSI and OSC sequences), BEL,
/// the C1 CSI, bidi overrides and isolates, zero-width and line-separator characters.
const RAW: &[char] = &[
    '\u{1b}', '\u{7}', '\u{9b}', '\u{202e}', '\u{2066}', '\u{2069}', '\u{200b}', '\u{2028}',
];

fn assert_no_raw(what: &str, text: &str) {
    if let Some(c) = text.chars().find(|c| RAW.contains(c)) {
        panic!("{what} printed U+{:04X} raw:\n{text:?}", c as u32);
    }
}

/// A hostile username, as an imported or older row may hold: sets the terminal's
/// title, clears the screen, and reverses what follows.
const EVIL_NAME: &str = "mallory\u{1b}]0;owned\u{7}\u{1b}[2J\u{9b}31m\u{202e}nimda\u{2066}";
/// A hostile token name.
const EVIL_TOKEN: &str = "backup\u{1b}]8;;https://evil.example\u{7}click\u{1b}]8;;\u{7}\u{202e}";

#[tokio::test]
async fn a_token_name_with_escape_sequences_is_refused_on_the_command_line() {
    let app = spawn_app().await;
    app.user("alice1").await;
    let mut args = vec!["token", "create", "--user", "alice1", "--name", EVIL_TOKEN];
    let db = app.db_flags();
    args.extend(db.iter().map(String::as_str));
    let run = tasklane(&args, None).await;
    run.failed();
    assert!(
        run.stderr
            .contains("name: Control and format characters are not allowed (U+001B)."),
        "{run:#?}"
    );
    assert_no_raw("token create", &run.stderr);
    assert_no_raw("token create", &run.stdout);
}

#[tokio::test]
async fn token_and_user_lists_escape_what_users_wrote() {
    let app = spawn_app().await;
    let (session, _) = app.user("alice1").await;
    app.user("victim1").await;
    api_token(&app, &session, &["tasks:read"]).await;
    // Rows written before names were checked, or imported: the lists must cope.
    let db = db(&app).await;
    db.execute("UPDATE api_tokens SET name = ?1", &[&EVIL_TOKEN])
        .await;
    db.execute(
        "UPDATE users SET username = ?1 WHERE username = 'victim1'",
        &[&EVIL_NAME],
    )
    .await;
    let flags = app.db_flags();
    let run = |args: &'static [&'static str]| {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(flags.iter().map(String::as_str));
        async move { tasklane(&all, None).await }
    };

    let tokens = run(&["token", "list", "--user", "alice1"]).await;
    let tokens_json = run(&["token", "list", "--user", "alice1", "--json"]).await;
    let users = run(&["user", "list"]).await;
    let users_json = run(&["user", "list", "--json"]).await;

    for (what, r) in [
        ("token list", &tokens),
        ("token list --json", &tokens_json),
        ("user list", &users),
        ("user list --json", &users_json),
    ] {
        r.ok();
        assert_no_raw(what, &r.stdout);
        assert_no_raw(what, &r.stderr);
    }
    // Tables show the characters as escapes, in place.
    assert!(
        tokens
            .stdout
            .contains(r"backup\u{1b}]8;;https://evil.example\u{7}click"),
        "{tokens:#?}"
    );
    assert!(
        users
            .stdout
            .contains(r"mallory\u{1b}]0;owned\u{7}\u{1b}[2J\u{9b}31m\u{202e}nimda\u{2066}"),
        "{users:#?}"
    );
    // JSON stays JSON, and means exactly what the database holds.
    let listed: Value = serde_json::from_str(&tokens_json.stdout).expect("token list JSON");
    assert_eq!(listed[0]["name"], EVIL_TOKEN);
    let listed: Value = serde_json::from_str(&users_json.stdout).expect("user list JSON");
    assert_eq!(listed[1]["username"], EVIL_NAME);
    assert!(users_json.stdout.contains(r"\u202e"), "{users_json:#?}");

    // Lines that name the account escape it too.
    let mut args = vec!["user", "deactivate", "--username", EVIL_NAME];
    args.extend(flags.iter().map(String::as_str));
    let run = tasklane(&args, None).await;
    run.ok();
    assert_no_raw("user deactivate", &run.stdout);
    assert!(run.stdout.contains(r"mallory\u{1b}"), "{run:#?}");
}

#[tokio::test]
async fn a_short_jwt_secret_is_reported_by_its_length_never_its_value() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let db = db.to_str().unwrap();
    let secret = "HUNTER2-too-short";
    let by_flag = tasklane(&["serve", "--db", db, "--jwt-secret", secret], None).await;
    let by_env = tasklane_env(
        &["serve", "--db", db],
        &[("TASKLANE_JWT_SECRET", secret)],
        None,
    )
    .await;
    for run in [&by_flag, &by_env] {
        assert_eq!(run.code, Some(2), "{run:#?}");
        assert!(
            !run.stderr.contains("HUNTER2"),
            "the secret leaked: {run:#?}"
        );
        assert!(run.stderr.contains("--jwt-secret"), "{run:#?}");
        assert!(run.stderr.contains("TASKLANE_JWT_SECRET"), "{run:#?}");
        assert!(
            run.stderr.contains("at least 32 characters (it has 17)"),
            "{run:#?}"
        );
    }
    // Nor do the other secret-bearing flags show their values when they are refused.
    for (flag, value) in [
        ("--redis-url", "redis://:HUNTER2@[::1/0"),
        ("--redis-url", "HUNTER2"),
        ("--database-url", "mysql://bob:HUNTER2@127.0.0.1:1/x"),
        (
            "--database-url",
            "postgres://bob:HUNTER2@127.0.0.1:1/x?sslmode=sometimes",
        ),
        (
            "--database-url",
            "postgres://127.0.0.1:1/x?%70assword=HUNTER2",
        ),
    ] {
        let mut args = vec!["serve", "--bind", "127.0.0.1:0", flag, value];
        if flag == "--redis-url" {
            args.extend(["--db", db]);
        }
        args.extend(["--jwt-secret", TEST_SECRET]);
        let run = tasklane(&args, None).await;
        assert_eq!(run.code, Some(1), "{flag} {value}: {run:#?}");
        assert!(
            !run.stderr.contains("HUNTER2"),
            "{flag} {value} leaked: {run:#?}"
        );
    }
}

#[tokio::test]
async fn a_percent_encoded_password_parameter_is_redacted() {
    for key in ["%70assword", "pa%73%73word", "%2570assword", "sslpassword"] {
        for command in [&["migrate"][..], &["user", "list"][..]] {
            let url = format!("postgres://bob@127.0.0.1:1/x?{key}=HUNTER2&sslmode=disable");
            let mut args = command.to_vec();
            args.extend(["--database-url", &url]);
            let run = tasklane(&args, None).await;
            run.failed();
            assert!(!run.stderr.contains("HUNTER2"), "{key}: {run:#?}");
            assert!(
                run.stderr.contains(&format!("{key}=***")),
                "{key}: {run:#?}"
            );
        }
    }
}

/// What a client sent to [`FakePg`] on one connection.
#[derive(Debug, Clone, PartialEq)]
struct Sent {
    user: String,
    database: String,
    /// The password, when it sent one.
    password: Option<String>,
}

/// A stand-in for a PostgreSQL server with password authentication (the suite's real one
/// trusts loopback): it asks for the password in clear text, notes what it was sent, and
/// refuses it.
struct FakePg {
    port: u16,
    sent: Arc<Mutex<Vec<Sent>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Drop for FakePg {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl FakePg {
    async fn start() -> FakePg {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let sent: Arc<Mutex<Vec<Sent>>> = Arc::default();
        let accept = {
            let sent = sent.clone();
            tokio::spawn(async move {
                while let Ok((socket, _)) = listener.accept().await {
                    let sent = sent.clone();
                    tokio::spawn(FakePg::serve(socket, sent));
                }
            })
        };
        FakePg { port, sent, accept }
    }

    /// What the last connection since the previous call sent (waiting a moment for one).
    async fn take(&self) -> Option<Sent> {
        for _ in 0..100 {
            let last = self.sent.lock().unwrap().drain(..).next_back();
            if last.is_some() {
                return last;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        None
    }

    fn url(&self, userinfo: &str) -> String {
        format!(
            "postgres://{userinfo}@127.0.0.1:{}/tasks?sslmode=disable",
            self.port
        )
    }

    async fn serve(mut s: TcpStream, noted: Arc<Mutex<Vec<Sent>>>) -> std::io::Result<()> {
        // The startup message (after declining TLS, if asked).
        let body = loop {
            let len = s.read_i32().await? as usize;
            let mut body = vec![0; len.saturating_sub(4)];
            s.read_exact(&mut body).await?;
            let code = i32::from_be_bytes([body[0], body[1], body[2], body[3]]);
            if code == 80877103 || code == 80877104 {
                s.write_all(b"N").await?; // SSLRequest, GSSENCRequest: no
                continue;
            }
            break body;
        };
        let fields: Vec<String> = body[4..]
            .split(|&b| b == 0)
            .map(|f| String::from_utf8_lossy(f).into_owned())
            .collect();
        let param = |name: &str| {
            fields
                .chunks(2)
                .find(|kv| kv[0] == name)
                .and_then(|kv| kv.get(1).cloned())
                .unwrap_or_default()
        };
        let mut sent = Sent {
            user: param("user"),
            database: param("database"),
            password: None,
        };
        // AuthenticationCleartextPassword.
        s.write_all(&[b'R', 0, 0, 0, 8, 0, 0, 0, 3]).await?;
        let mut tag = [0u8; 1];
        let answered = s.read_exact(&mut tag).await.is_ok() && tag[0] == b'p';
        if answered {
            let len = s.read_i32().await? as usize;
            let mut password = vec![0; len.saturating_sub(4)];
            s.read_exact(&mut password).await?;
            password.pop(); // its NUL
            sent.password = Some(String::from_utf8_lossy(&password).into_owned());
        }
        // Noted before the client hears back, so it is there once the client is done.
        noted.lock().unwrap().push(sent);
        if answered {
            let fields = b"SFATAL\0VFATAL\0C28P01\0Mpassword authentication failed\0\0";
            let mut error = vec![b'E'];
            error.extend(((fields.len() + 4) as i32).to_be_bytes());
            error.extend(fields);
            s.write_all(&error).await?;
        }
        Ok(())
    }
}

/// `path`, readable by its owner only (or by `mode`).
fn write_file(path: &std::path::Path, text: &str, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[tokio::test]
async fn a_url_without_a_password_takes_it_from_pgpassword_or_the_password_file() {
    let pg = FakePg::start().await;
    let home = tempfile::tempdir().unwrap();
    let home_s = home.path().to_str().unwrap().to_owned();
    let url = pg.url("alice");
    let password = async |run: &Run| {
        run.failed();
        assert!(
            run.stderr.contains("password authentication failed")
                || run.stderr.contains("password missing"),
            "{run:#?}"
        );
        pg.take().await.expect("a connection").password
    };
    let migrate = |env: Vec<(&'static str, String)>| {
        let url = url.clone();
        async move {
            let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
            tasklane_env(&["migrate", "--database-url", &url], &env, None).await
        }
    };

    // PGPASSWORD.
    let run = migrate(vec![
        ("HOME", home_s.clone()),
        ("PGPASSWORD", "from-the-env".into()),
    ])
    .await;
    assert!(!run.stderr.contains("from-the-env"), "{run:#?}");
    run.failed();
    let last = pg.take().await.expect("a connection");
    assert_eq!(
        (
            last.user.as_str(),
            last.database.as_str(),
            last.password.as_deref()
        ),
        ("alice", "tasks", Some("from-the-env"))
    );

    // ~/.pgpass: the first matching line, with `\` escapes.
    let port = pg.port;
    write_file(
        &home.path().join(".pgpass"),
        &format!(
            "# tasklane's database\n127.0.0.1:{port}:other:alice:wrong-database\n\
             127.0.0.1:{port}:tasks:bob:wrong-user\n\
             127.0.0.1:{port}:tasks:alice:s3cr\\:et\\\\x\n*:*:*:*:too-late\n"
        ),
        0o600,
    );
    let run = migrate(vec![("HOME", home_s.clone())]).await;
    assert_eq!(password(&run).await.as_deref(), Some("s3cr:et\\x"));

    // PGPASSFILE instead of ~/.pgpass; PGPASSWORD before the file; the URL's own first.
    let elsewhere = home.path().join("pgpass-elsewhere");
    write_file(&elsewhere, "*:*:tasks:alice:from-pgpassfile\n", 0o600);
    let file = elsewhere.to_str().unwrap().to_owned();
    let run = migrate(vec![("HOME", home_s.clone()), ("PGPASSFILE", file.clone())]).await;
    assert_eq!(password(&run).await.as_deref(), Some("from-pgpassfile"));
    let run = migrate(vec![
        ("HOME", home_s.clone()),
        ("PGPASSFILE", file.clone()),
        ("PGPASSWORD", "from-the-env".into()),
    ])
    .await;
    assert_eq!(password(&run).await.as_deref(), Some("from-the-env"));
    let run = tasklane_env(
        &["migrate", "--database-url", &pg.url("alice:in-the-url")],
        &[("HOME", &home_s), ("PGPASSWORD", "from-the-env")],
        None,
    )
    .await;
    assert_eq!(password(&run).await.as_deref(), Some("in-the-url"));

    // A password file others can read is ignored, with a warning, as libpq does.
    write_file(&elsewhere, "*:*:tasks:alice:from-pgpassfile\n", 0o644);
    let run = migrate(vec![("HOME", home_s.clone()), ("PGPASSFILE", file.clone())]).await;
    assert_eq!(password(&run).await, None);
    assert!(run.stderr.contains("group or world access"), "{run:#?}");

    // The server, `copy` and `import-django` find it the same way.
    let env = [("HOME", home_s.as_str()), ("PGPASSWORD", "for-the-server")];
    let run = tasklane_env(
        &["serve", "--bind", "127.0.0.1:0", "--database-url", &url],
        &env,
        None,
    )
    .await;
    assert_eq!(password(&run).await.as_deref(), Some("for-the-server"));
    let target = home.path().join("copy.db");
    let run = tasklane_env(
        &["copy", "--from", &url, "--to", target.to_str().unwrap()],
        &env,
        None,
    )
    .await;
    assert_eq!(password(&run).await.as_deref(), Some("for-the-server"));
    let run = tasklane_env(
        &[
            "import-django",
            "--from",
            &url,
            "--dry-run",
            "--db",
            target.to_str().unwrap(),
        ],
        &env,
        None,
    )
    .await;
    assert_eq!(password(&run).await.as_deref(), Some("for-the-server"));
}

#[tokio::test]
async fn copy_and_import_take_their_databases_from_the_environment() {
    let app = spawn_app().await;
    let (token, _) = app.user("alice1").await;
    app.new_task(&token, "Copied through the env").await;
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("copy.db");
    // The source as the server has it: its file, or its URL.
    let source = app.db_flags()[1].clone();
    let env = [
        ("TASKLANE_COPY_FROM", source.as_str()),
        ("TASKLANE_COPY_TO", target.to_str().unwrap()),
    ];
    let run = tasklane_env(&["copy", "--no-progress"], &env, None).await;
    run.ok();
    assert!(run.stdout.contains("copied "), "{run:#?}");
    assert!(target.exists());
    // `--help` names the variables, never their values.
    let help = tasklane_env(&["copy", "--help"], &env, None).await;
    help.ok();
    assert!(help.stdout.contains("TASKLANE_COPY_FROM"), "{help:#?}");
    assert!(help.stdout.contains("TASKLANE_COPY_TO"), "{help:#?}");
    assert!(!help.stdout.contains(target.to_str().unwrap()), "{help:#?}");

    // import-django reads TASKLANE_IMPORT_FROM (here a database that is not Django's).
    let into = dir.path().join("imported.db");
    let run = tasklane_env(
        &["import-django", "--db", into.to_str().unwrap(), "--dry-run"],
        &[("TASKLANE_IMPORT_FROM", target.to_str().unwrap())],
        None,
    )
    .await;
    run.failed();
    assert!(
        run.stderr.contains("is not the original's database"),
        "{run:#?}"
    );
    let help = tasklane(&["import-django", "--help"], None).await;
    assert!(help.stdout.contains("TASKLANE_IMPORT_FROM"), "{help:#?}");
}

/// On PostgreSQL: a database reached over the network without verified TLS is warned
/// about when the server (or a command) starts; one on this machine is not. `0.0.0.0`
/// reaches the local server over loopback, but names no loopback address, so it stands
/// for a remote host here.
#[tokio::test]
async fn a_database_off_this_machine_without_verified_tls_is_warned_about_at_start() {
    let Some(db) = fresh_pg().await else {
        return;
    };
    let local = db.url.clone();
    let Some(remote) = ["127.0.0.1", "localhost"]
        .iter()
        .find(|h| local.contains(&format!("@{h}")))
        .map(|h| local.replacen(&format!("@{h}"), "@0.0.0.0", 1))
    else {
        eprintln!("skipped: the suite's PostgreSQL URL names no loopback host: {local}");
        return;
    };
    let with = |url: &str, query: &str| {
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}{query}")
    };

    let run = tasklane(&["migrate", "--database-url", &remote], None).await;
    run.ok();
    assert!(run.stderr.contains("WARN"), "{run:#?}");
    assert!(
        run.stderr.contains("PostgreSQL at 0.0.0.0")
            && run.stderr.contains("sslmode=verify-full")
            && (run.stderr.contains("not verified (sslmode=prefer")
                || run.stderr.contains("fell back to plaintext")),
        "{run:#?}"
    );
    assert_eq!(
        run.stderr.matches("PostgreSQL at 0.0.0.0").count(),
        1,
        "{run:#?}"
    );
    let run = tasklane(
        &[
            "migrate",
            "--database-url",
            &with(&remote, "sslmode=disable"),
        ],
        None,
    )
    .await;
    run.ok();
    assert!(
        run.stderr.contains("is not encrypted (sslmode=disable)"),
        "{run:#?}"
    );
    let run = tasklane(&["migrate", "--database-url", &local], None).await;
    run.ok();
    assert!(!run.stderr.contains("verify-full"), "{run:#?}");

    // The server says it once, in its log, at start.
    let server = spawn_tasklane_on_url(&remote, &[]);
    let log = server.log();
    assert_eq!(log.matches("PostgreSQL at 0.0.0.0").count(), 1, "{log}");
    assert!(log.contains("WARN"), "{log}");
}
