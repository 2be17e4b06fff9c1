//! `tasklane migrate`: apply pending schema steps and say which.

use super::{Fail, open_store};
use crate::config::Database;
use crate::config::commands::DbArgs;
use crate::store::{admin, postgres};

pub(super) async fn run(args: DbArgs) -> Result<(), Fail> {
    let db = args.database();
    let (before, latest, created) = match &db {
        Database::Sqlite(path) => {
            let path = path.clone();
            let before = tokio::task::spawn_blocking(move || admin::schema_version_of(&path))
                .await
                .map_err(|e| Fail(format!("reading the schema version failed: {e}")))??;
            (
                before,
                admin::latest_schema_version(),
                "new database created",
            )
        }
        Database::Postgres(url) => (
            postgres::schema_version_at(url.expose()).await?,
            postgres::admin::latest_schema_version(),
            "schema created",
        ),
    };
    if let Some(v) = before
        && v > latest
    {
        return Err(Fail(format!(
            "{db}: schema version {v} is newer than this binary knows ({latest}); upgrade tasklane"
        )));
    }
    let store = open_store(&db, true).await?;
    let after = store.schema_version().await?;
    let (from, note) = match before {
        None => (0, created),
        Some(v) if v == after => (v, "up to date"),
        Some(v) => (v, "migrated"),
    };
    println!("{db}: schema version {from} -> {after} ({note})");
    Ok(())
}
