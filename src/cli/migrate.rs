//! `tasklane migrate`: apply pending schema steps and say which.

use super::{Fail, open_store};
use crate::config::commands::DbArgs;
use crate::store::admin::{self, latest_schema_version};

pub(super) async fn run(args: DbArgs) -> Result<(), Fail> {
    let db = args.db;
    let before = {
        let path = db.clone();
        tokio::task::spawn_blocking(move || admin::schema_version_of(&path))
            .await
            .map_err(|e| Fail(format!("reading the schema version failed: {e}")))??
    };
    let latest = latest_schema_version();
    if let Some(v) = before
        && v > latest
    {
        return Err(Fail(format!(
            "{}: schema version {v} is newer than this binary knows ({latest}); upgrade tasklane",
            db.display()
        )));
    }
    let store = open_store(&db, true).await?;
    let after = store.schema_version().await?;
    let (from, note) = match before {
        None => (0, "new database created"),
        Some(v) if v == after => (v, "up to date"),
        Some(v) => (v, "migrated"),
    };
    println!(
        "{}: schema version {from} -> {after} ({note})",
        db.display()
    );
    Ok(())
}
