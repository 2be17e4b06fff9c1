//! A database as the release before projects left it, for the migration tests: SQLite at
//! `user_version` 6 (`schema.sql` and steps 2 to 6), PostgreSQL with migrations 1 to 5,
//! built from the released steps themselves (the binary's `MIGRATIONS` at that release
//! listed exactly these), then filled with rows as that release wrote them.
//!
//! A released step is never edited in place: [`RELEASED_DIGESTS`] pins each one's SHA-256
//! as released, and `projects::operations` fails when a file drifts, since a database made
//! by the release would then differ from the one these tests start from.

use super::{TestDir, pg_connect};

/// The SQLite steps of the previous release, in order (step N brings `user_version` to N).
pub const SQLITE_RELEASED: &[(&str, &str)] = &[
    ("schema.sql", include_str!("../../../schema.sql")),
    (
        "src/store/sqlite/migrations/0002_credentials.sql",
        include_str!("../../../src/store/sqlite/migrations/0002_credentials.sql"),
    ),
    (
        "src/store/sqlite/migrations/0003_throttles.sql",
        include_str!("../../../src/store/sqlite/migrations/0003_throttles.sql"),
    ),
    (
        "src/store/sqlite/migrations/0004_credentials_generation.sql",
        include_str!("../../../src/store/sqlite/migrations/0004_credentials_generation.sql"),
    ),
    (
        "src/store/sqlite/migrations/0005_stream_tickets.sql",
        include_str!("../../../src/store/sqlite/migrations/0005_stream_tickets.sql"),
    ),
    (
        "src/store/sqlite/migrations/0006_account_purge.sql",
        include_str!("../../../src/store/sqlite/migrations/0006_account_purge.sql"),
    ),
];

/// The PostgreSQL steps of the previous release, in order.
pub const POSTGRES_RELEASED: &[(&str, &str)] = &[
    (
        "src/store/postgres/migrations/0001_schema.sql",
        include_str!("../../../src/store/postgres/migrations/0001_schema.sql"),
    ),
    (
        "src/store/postgres/migrations/0002_throttles.sql",
        include_str!("../../../src/store/postgres/migrations/0002_throttles.sql"),
    ),
    (
        "src/store/postgres/migrations/0003_credentials_generation.sql",
        include_str!("../../../src/store/postgres/migrations/0003_credentials_generation.sql"),
    ),
    (
        "src/store/postgres/migrations/0004_stream_tickets.sql",
        include_str!("../../../src/store/postgres/migrations/0004_stream_tickets.sql"),
    ),
    (
        "src/store/postgres/migrations/0005_account_purge.sql",
        include_str!("../../../src/store/postgres/migrations/0005_account_purge.sql"),
    ),
];

/// SHA-256 (hex) of each released step as the release shipped it (commit 60e6f86).
pub const RELEASED_DIGESTS: &[(&str, &str)] = &[
    (
        "schema.sql",
        "a8c0c90254d7c1eb6775312d2101c95ab72c35b417547fc247d8daac8efcf075",
    ),
    (
        "src/store/sqlite/migrations/0002_credentials.sql",
        "2bc175cb4e526061ba1ff975a541c8bcae6596b3e32e4fc3f95f092fa671e909",
    ),
    (
        "src/store/sqlite/migrations/0003_throttles.sql",
        "bf43b1347063fcf3195a304467dda05d33244cf49bdebeec8f2910a195cfd1d4",
    ),
    (
        "src/store/sqlite/migrations/0004_credentials_generation.sql",
        "9c1c58dcec4c902c55d94d0f270735e699db61bc23e7e171af4dc3f98a1e3fed",
    ),
    (
        "src/store/sqlite/migrations/0005_stream_tickets.sql",
        "efc26104c14e94b57561253ff67bcc1817d25de08ab9ebeba43d42b0e94a8535",
    ),
    (
        "src/store/sqlite/migrations/0006_account_purge.sql",
        "cff33fd63ef2bcd868089c3c4790806aedcac6742952fa531567baf8e1eacd19",
    ),
    (
        "src/store/postgres/migrations/0001_schema.sql",
        "70c921fc0147b9f9be982409a3c28dbec96f36dbfe21fca81fe03f9cb53b0fd4",
    ),
    (
        "src/store/postgres/migrations/0002_throttles.sql",
        "36d696967aeef3e9336b1a460d1909478c228ed4d79cfd2a74006d6f3d1efec7",
    ),
    (
        "src/store/postgres/migrations/0003_credentials_generation.sql",
        "98508df388b8616906b444eab5f94c54fd763074bef00788c6b386030c641411",
    ),
    (
        "src/store/postgres/migrations/0004_stream_tickets.sql",
        "9de696293a643ade07a68fa222fbb0983b325909ed76d767c07fd1b2fc33a35b",
    ),
    (
        "src/store/postgres/migrations/0005_account_purge.sql",
        "d63b5e2d381a1dfb8a9ba1b21809397305419f76826f80de92bf9bf4a56c37c2",
    ),
];

/// `pbkdf2_sha256` of the tests' `PASSWORD`, as the original app (and so an old database) holds it.
pub const OLD_HASH: &str =
    "pbkdf2_sha256$1000$oldsalt$oifoWqfwL+uBb1BK3NbJH588zTv/JxczLeecnypn6gY=";

/// The personal API token [`SEED`] holds (stored as its SHA-256), with `tasks:read
/// tasks:write`.
pub const OLD_API_TOKEN: &str = "tlp_0ldT0kenFromThePreviousRelease00000000";

/// What the previous release's users left: `olduser` (id 1, the tests' `PASSWORD` as
/// [`OLD_HASH`])
/// with two tasks (1, completed; 2), their two events (ids 1 and 2) and an API token;
/// `other` (id 2) with a task (3) and its event. Both backends take it as is.
pub fn seed() -> String {
    let token_hash = tasklane::auth::hash_api_token(OLD_API_TOKEN);
    // Recent: events older than the retention window would be pruned at start.
    let at = tasklane::clock::now_timestamp();
    format!(
        "INSERT INTO users (username, email, password_hash, created_at, event_seq)
             VALUES ('olduser', 'old@example.com', '{OLD_HASH}', '{at}', 2),
                    ('other', 'other@example.com', '{OLD_HASH}', '{at}', 1);
         INSERT INTO tasks (user_id, title, description, completed, created_at, updated_at)
             VALUES (1, 'A task from before', NULL, TRUE, '{at}', '{at}'),
                    (1, 'Another task from before', 'Written by the old release', FALSE, '{at}', '{at}'),
                    (2, 'Someone else''s task', NULL, FALSE, '{at}', '{at}');
         INSERT INTO events (user_id, seq, action, task_id, task, at)
             VALUES (1, 1, 'create', 1, '{{\"id\":1}}', '{at}'),
                    (1, 2, 'create', 2, '{{\"id\":2}}', '{at}'),
                    (2, 1, 'create', 3, '{{\"id\":3}}', '{at}');
         INSERT INTO api_tokens (user_id, name, token_hash, prefix, scopes, created_at)
             VALUES (1, 'old script', '{token_hash}', 'tlp_0ldT', 'tasks:read tasks:write', '{at}');"
    )
}

/// Makes `dir`'s database (SQLite file or PostgreSQL database) as the previous release
/// left it, with [`seed`]'s rows, ready for today's server to start on and migrate.
pub async fn previous_release_database(dir: &TestDir) {
    match &dir.pg {
        Some(pg) => {
            let c = pg_connect(&pg.url).await;
            c.batch_execute(
                "CREATE TABLE tasklane_migrations (version INTEGER PRIMARY KEY, \
                 applied_at TEXT NOT NULL)",
            )
            .await
            .unwrap();
            for (i, (_, sql)) in POSTGRES_RELEASED.iter().enumerate() {
                c.batch_execute(sql).await.unwrap();
                c.execute(
                    "INSERT INTO tasklane_migrations VALUES ($1, 'then')",
                    &[&(i as i32 + 1)],
                )
                .await
                .unwrap();
            }
            c.batch_execute(&seed()).await.unwrap();
        }
        None => {
            let c = rusqlite::Connection::open(dir.path().join("tasklane.db")).unwrap();
            for (_, sql) in SQLITE_RELEASED {
                c.execute_batch(sql).unwrap();
            }
            c.pragma_update(None, "user_version", SQLITE_RELEASED.len() as i64)
                .unwrap();
            c.execute_batch(&seed()).unwrap();
        }
    }
}
