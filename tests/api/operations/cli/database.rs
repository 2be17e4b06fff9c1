//! Which database a command works on (`--db` or `--database-url`, never both), and
//! `tasklane migrate`.

use crate::helpers::*;

#[tokio::test]
async fn a_database_url_that_is_not_postgresql_is_refused_without_showing_its_password() {
    let run = tasklane(
        &[
            "user",
            "list",
            "--database-url",
            "postgress://alice:hunter2@127.0.0.1:1/tasklane",
        ],
        None,
    )
    .await;
    run.failed();
    assert!(run.stderr.contains("postgres://"), "{run:?}");
    assert!(run.stderr.contains("alice:***@"), "{run:?}");
    assert!(!run.stderr.contains("hunter2"), "{run:?}");
}

#[tokio::test]
async fn the_file_and_the_url_cannot_both_be_given() {
    for args in [
        &["user", "list"][..],
        &["migrate"][..],
        &["serve", "--bind", "127.0.0.1:0"][..],
    ] {
        let mut all = args.to_vec();
        all.extend([
            "--db",
            "x.db",
            "--database-url",
            "postgres://u:hunter2@h/db",
        ]);
        let run = tasklane(&all, None).await;
        assert_eq!(run.code, Some(2), "{all:?}: {run:?}");
        assert!(run.stderr.contains("cannot be used with"), "{run:?}");
        assert!(!run.stderr.contains("hunter2"), "{run:?}");
    }
}

#[tokio::test]
async fn migrate_prints_the_schema_version_before_and_after() {
    let app = spawn_app().await;
    // A new database: a file, or on PostgreSQL an empty database of the test's own.
    let fresh_pg = match suite_postgres() {
        Some(server) => Some(PgDatabase::create(&server).await),
        None => None,
    };
    let (latest, fresh, note) = match &fresh_pg {
        Some(pg) => (
            tasklane::store::postgres::admin::latest_schema_version(),
            vec!["--database-url".to_owned(), pg.url.clone()],
            "schema created",
        ),
        None => (
            tasklane::store::sqlite::admin::latest_schema_version(),
            vec![
                "--db".to_owned(),
                app.dir.path().join("fresh.db").display().to_string(),
            ],
            "new database created",
        ),
    };
    let migrate = |db: Vec<String>| async move {
        let mut all = vec!["migrate"];
        all.extend(db.iter().map(String::as_str));
        tasklane(&all, None).await
    };

    let created = migrate(fresh.clone()).await;
    let again = migrate(fresh.clone()).await;
    let live = migrate(app.db_flags()).await;

    assert!(
        created
            .ok()
            .stdout
            .contains(&format!("schema version 0 -> {latest} ({note})")),
        "{created:?}"
    );
    assert!(
        again
            .ok()
            .stdout
            .contains(&format!("schema version {latest} -> {latest} (up to date)")),
        "{again:?}"
    );
    assert!(live.ok().stdout.contains("(up to date)"), "{live:?}");
    let v = match &fresh_pg {
        Some(pg) => pg_connect(&pg.url)
            .await
            .query_one("SELECT count(*) FROM tasklane_migrations", &[])
            .await
            .unwrap()
            .get::<_, i64>(0),
        None => rusqlite::Connection::open(app.dir.path().join("fresh.db"))
            .unwrap()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap(),
    };
    assert_eq!(v, latest);
}
