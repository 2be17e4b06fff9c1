//! What only PostgreSQL has to prove (two hosts on one database, parity with SQLite,
//! sweeps), and how the server connects to it. Each test makes a database of its own on
//! the server `helpers::pg_server` finds, and skips loudly without one unless
//! `REQUIRE_POSTGRES=1`.

mod connection;
mod parity;
mod sweeps;
mod two_hosts;

use tasklane::model::User;
use tasklane::store::Store;
use tasklane::store::tasks::{NewTask, TaskQuery};

use crate::helpers::*;

/// Two hosts: two stores, each with its own pool, on one database.
async fn two_hosts(db: &PgDatabase) -> (Store, Store) {
    let a = Store::connect_postgres(&db.url, 8).await.expect("host a");
    let b = Store::connect_postgres(&db.url, 8).await.expect("host b");
    (a, b)
}

async fn account(store: &Store, name: &str) -> User {
    store
        .create_user(name.into(), format!("{name}@example.com"), "hash".into())
        .await
        .expect("create user")
}

fn task(title: &str) -> NewTask {
    NewTask {
        title: title.into(),
        description: None,
        completed: false,
        ..NewTask::default()
    }
}

fn everything() -> TaskQuery {
    TaskQuery {
        limit: 1000,
        ..TaskQuery::default()
    }
}
