//! `tasklane migrate`: apply pending schema steps and say which.

use super::{Fail, open_store};
use crate::config::commands::DbArgs;

pub(super) async fn run(args: DbArgs) -> Result<(), Fail> {
    let db = args.database();
    let before = db.schema_version().await?;
    let latest = db.latest_schema_version();
    if let Some(v) = before
        && v > latest
    {
        return Err(Fail(format!(
            "{db}: schema version {v} is newer than this binary knows ({latest}); upgrade tasklane"
        )));
    }
    let store = open_store(&db, true).await?;
    let after = store.schema_version().await?;
    let created = match db.file() {
        Some(_) => "new database created",
        None => "schema created",
    };
    let (from, note) = match before {
        None => (0, created),
        Some(v) if v == after => (v, "up to date"),
        Some(v) => (v, "migrated"),
    };
    println!("{db}: schema version {from} -> {after} ({note})");
    Ok(())
}
