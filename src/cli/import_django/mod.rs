//! `tasklane import-django --from SOURCE`: the original Django app's accounts and tasks,
//! read from its database (SQLite `db.sqlite3` or PostgreSQL), written into tasklane's in
//! one transaction, ids, password hashes and timestamps kept.
//!
//! Accounts that cannot coexist in tasklane (emails equal ignoring case, usernames equal
//! after NFKC) stop the import, listed by group; nothing is merged or dropped. So do
//! fields longer than the API accepts (a 3 MB title), listed by row. Rows that break the
//! softer rules new writes follow (a 3-character title) are imported unchanged and
//! listed as warnings; so are accounts whose password hash costs more than a login
//! verifies, imported with an unusable password to be reset. Imported tasks carry no
//! events: each user's history starts at the import.
//!
//! Three steps: the store reads the original ([`crate::store::django`]), [`plan`] judges
//! its rows without writing anything, and [`write`] sends them to the target as
//! tasklane's rows. Here are the command's flow and what it prints.

mod plan;
mod write;

use super::show;
use super::{Fail, open_store};
use crate::config::Database;
use crate::config::commands::ImportDjangoArgs;
use crate::store::copy::{TASKS, Target, USERS};
use crate::store::django::{self, Original};
use plan::{Plan, cap_hashes};

pub(super) async fn run(args: ImportDjangoArgs) -> Result<(), Fail> {
    let source = args.from;
    let read = match &source {
        Database::Sqlite(path) => django::read_sqlite(path).await,
        Database::Postgres(url) => django::read_postgres(url.expose()).await,
    };
    let mut original = read.map_err(|e| Fail(e.0))?;

    let capped = cap_hashes(&mut original.users);
    let plan = Plan::of(&original);
    for w in capped.iter().chain(&plan.warnings) {
        eprintln!("warning: {}", show::escape(w));
    }
    if let Some(refusal) = plan.refusal(&source) {
        return Err(Fail(refusal));
    }

    let counts = format!(
        "{}, {} warnings",
        described(&original),
        capped.len() + plan.warnings.len()
    );
    if args.dry_run {
        println!(
            "dry run: would import from {source} into {}: {counts}",
            args.db.database()
        );
        println!("nothing was written");
        return Ok(());
    }

    let target_db = args.db.database();
    let target = open_store(&target_db, true).await?;
    let held = target.copy_counts().await?;
    if let Some(why) = Target::NoAccounts.refusal(&held) {
        return Err(Fail(format!(
            "{why} in {target_db}: import into a new database (a second import would \
             collide with the first); nothing was written"
        )));
    }
    let (users_seq, tasks_seq) = original.high_water();
    let (n_users, n_tasks) = (original.users.len() as u64, original.tasks.len() as u64);
    write::write(&target, original, !args.no_progress).await?;
    let after = target.copy_counts().await?;
    if after[USERS] != n_users || after[TASKS] != n_tasks {
        return Err(Fail(format!(
            "check failed: {target_db} holds {} accounts and {} tasks after importing {n_users} \
             and {n_tasks}",
            after[USERS], after[TASKS]
        )));
    }
    println!("imported from {source} into {target_db}: {counts}");
    println!("next ids: users {}, tasks {}", users_seq + 1, tasks_seq + 1);
    println!(
        "each user's event history starts now: streams begin at event 1. Start tasklane \
         with --jwt-secret set to the original's SECRET_KEY to keep its tokens working"
    );
    Ok(())
}

/// "3 accounts (1 inactive, 1 without a usable password, 2 never logged in), 5 tasks".
fn described(o: &Original) -> String {
    let inactive = o.users.iter().filter(|u| !u.is_active).count();
    let unusable = o
        .users
        .iter()
        .filter(|u| u.password.starts_with('!') || u.password.is_empty())
        .count();
    let never = o.users.iter().filter(|u| u.last_login.is_none()).count();
    format!(
        "{} accounts ({inactive} inactive, {unusable} without a usable password, {never} never \
         logged in), {} tasks",
        o.users.len(),
        o.tasks.len()
    )
}
