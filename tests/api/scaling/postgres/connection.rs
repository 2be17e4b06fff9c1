//! How the server connects to PostgreSQL: the URL's password never shows (percent-encoded
//! or not), a password from `PGPASSWORD` or the password file, `sslmode`, and a warning for
//! a database off this machine without verified TLS. Everything runs the built binary, as
//! an operator would, against a fake server that asks for a password or the real one.

use std::sync::{Arc, Mutex};

use tasklane::store::Store;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::helpers::*;

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

#[tokio::test]
async fn the_urls_password_never_shows() {
    let Some(db) = fresh_pg().await else { return };
    let Some(with_password) = db
        .url
        .split_once("://")
        .filter(|(_, rest)| {
            rest.split_once('@')
                .is_some_and(|(user, _)| !user.contains(':'))
        })
        .map(|(scheme, rest)| {
            let (user, host) = rest.split_once('@').unwrap();
            format!("{scheme}://{user}:hunter2-db-password@{host}")
        })
    else {
        eprintln!("skipped: the server URL already carries a password");
        return;
    };
    // A server that runs (trust authentication ignores the password)…
    let p = spawn_tasklane_on_url(&with_password, &[]);
    let log = p.log();
    assert!(log.contains(":***@"), "{log}");
    assert!(!log.contains("hunter2"), "{log}");
    drop(p);
    // …and commands that fail on it.
    let missing = with_database(&with_password, "tasklane_no_such_database");
    for args in [
        vec!["user", "list", "--database-url", &missing],
        vec!["migrate", "--database-url", &missing],
        vec!["token", "list", "--user", "x", "--database-url", &missing],
    ] {
        let run = tasklane(&args, None).await;
        assert_eq!(run.code, Some(1), "{run:?}");
        assert!(run.stderr.contains("does not exist"), "{run:?}");
        assert!(run.stderr.contains(":***@"), "{run:?}");
        assert!(!run.stderr.contains("hunter2"), "{run:?}");
    }
}

#[tokio::test]
async fn sslmode_decides_whether_the_connection_is_encrypted() {
    let Some(db) = fresh_pg().await else { return };
    let admin = pg_connect(&db.url).await;
    let offered: String = admin.query_one("SHOW ssl", &[]).await.unwrap().get(0);
    let name = db.url.rsplit('/').next().unwrap().to_owned();
    let encrypted = |app: &'static str| {
        let (admin, name) = (&admin, name.clone());
        async move {
            let row = admin
                .query_one(
                    "SELECT count(*), coalesce(bool_and(s.ssl), false)
                     FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
                     WHERE a.datname = $1 AND a.application_name = $2",
                    &[&name, &app],
                )
                .await
                .unwrap();
            let n: i64 = row.get(0);
            assert!(n > 0, "no connection of {app}");
            row.get::<_, bool>(1)
        }
    };
    let url = |params: &str| format!("{}?{params}", db.url);
    let plain = Store::connect_postgres(&url("sslmode=disable&application_name=tl_plain"), 1)
        .await
        .unwrap();
    plain.ping().await.unwrap();
    assert!(!encrypted("tl_plain").await);
    if offered != "on" {
        eprintln!("the server offers no TLS: only `disable` and the refusal of `require` checked");
        let Err(e) = Store::connect_postgres(&url("sslmode=require"), 1).await else {
            panic!("sslmode=require connected without TLS")
        };
        assert!(e.to_string().contains("TLS"), "{e}");
        return;
    }
    let required = Store::connect_postgres(&url("sslmode=require&application_name=tl_tls"), 1)
        .await
        .unwrap();
    required.ping().await.unwrap();
    assert!(encrypted("tl_tls").await);
    let preferred = Store::connect_postgres(&url("application_name=tl_prefer"), 1)
        .await
        .unwrap();
    preferred.ping().await.unwrap();
    assert!(encrypted("tl_prefer").await, "prefer is the default");
    // No certificate a public root vouches for is valid for 127.0.0.1.
    if db.url.contains("@127.0.0.1") {
        let Err(e) = Store::connect_postgres(&url("sslmode=verify-full"), 1).await else {
            panic!("verify-full accepted the local server's certificate for 127.0.0.1")
        };
        assert!(e.to_string().contains("certificate"), "{e}");
    }
}
