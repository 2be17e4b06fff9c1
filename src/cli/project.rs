//! `tasklane project list|transfer`: a user's shared projects, and handing a project to
//! another member when its owner is gone. The transfer is the domain's operator transfer
//! (any member may receive it; the old owner stays as an admin); its events wait in the
//! outbox, where the members' streams find them on their next read.

use serde_json::json;

use super::{Fail, open_store, show, table};
use crate::config::commands::{ProjectArgs, ProjectCommand};
use crate::domain::accounts::find_account;
use crate::domain::projects;
use crate::store::projects::ProjectLimits;

/// The operator is not held to the per-user limit on owned projects.
const OPERATOR: ProjectLimits = ProjectLimits {
    max_members: u32::MAX,
    max_owned: u32::MAX,
    max_pending_invitations: u32::MAX,
};

pub(super) async fn run(args: ProjectArgs) -> Result<(), Fail> {
    let store = open_store(&args.db.database(), false).await?;
    let user_id = |username: String| {
        let store = store.clone();
        async move {
            find_account(&store, &username)
                .await?
                .map(|a| a.user.id)
                .ok_or_else(|| Fail(format!("no user named {username}")))
        }
    };
    match args.command {
        ProjectCommand::List { username, json } => {
            let id = user_id(username).await?;
            let list = store.list_projects(id).await?;
            if json {
                let out =
                    serde_json::to_string_pretty(&json!(list)).map_err(|e| Fail(e.to_string()))?;
                println!("{out}");
                return Ok(());
            }
            let rows: Vec<[String; 5]> = list
                .iter()
                .map(|p| {
                    [
                        p.id.to_string(),
                        p.name.clone(),
                        p.role.as_str().to_owned(),
                        p.owner.username.clone(),
                        p.member_count.to_string(),
                    ]
                })
                .collect();
            print!(
                "{}",
                table(["ID", "NAME", "ROLE", "OWNER", "MEMBERS"], &rows)
            );
            Ok(())
        }
        ProjectCommand::Transfer { project, to } => {
            let to = user_id(to).await?;
            let p = projects::operator_transfer(&store, OPERATOR, project, to).await?;
            println!(
                "project {} ({}) now belongs to {}",
                p.id,
                show::escape(&p.name),
                show::escape(&p.owner.username)
            );
            Ok(())
        }
    }
}
