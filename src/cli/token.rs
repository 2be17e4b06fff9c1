//! `tasklane token create|list|revoke`: personal API tokens from the command line.

use serde_json::{Value, json};

use super::{Fail, open_store, show, table};
use crate::config::commands::{TokenArgs, TokenCommand};
use crate::domain::FieldErrors;
use crate::domain::accounts::find_account;
use crate::domain::api_tokens::{self, Issued, NewToken};

pub(super) async fn run(args: TokenArgs) -> Result<(), Fail> {
    let store = open_store(&args.db.database(), false).await?;
    let user_of = |username: String| {
        let store = store.clone();
        async move {
            find_account(&store, &username)
                .await?
                .map(|a| a.user.id)
                .ok_or_else(|| Fail(format!("no user named {username}")))
        }
    };
    match args.command {
        TokenCommand::Create {
            user,
            name,
            scopes,
            expires_in_days,
        } => {
            let user_id = user_of(user).await?;
            let input = NewToken {
                name: Some(name),
                scopes: Some(
                    scopes
                        .split([' ', ','])
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect(),
                ),
                expires_in_days: expires_in_days.map(u64::from),
            };
            let Issued { row, secret } =
                api_tokens::issue(&store, user_id, input, FieldErrors::default()).await?;
            println!(
                "created token {} ({}; scopes {}; expires {})",
                row.id,
                show::escape(&row.name),
                row.scopes.join(" "),
                row.expires_at.as_deref().unwrap_or("never")
            );
            println!("{secret}");
            eprintln!("store the token now: it is kept only as a hash and cannot be shown again");
            Ok(())
        }
        TokenCommand::List { user, json } => {
            let user_id = user_of(user).await?;
            let rows = store.list_api_tokens(user_id).await?;
            if json {
                let list: Vec<Value> = rows
                    .iter()
                    .map(|r| {
                        json!({"id": r.id, "name": r.name, "prefix": r.prefix, "scopes": r.scopes,
                               "created_at": r.created_at, "expires_at": r.expires_at,
                               "last_used_at": r.last_used_at})
                    })
                    .collect();
                println!("{}", show::json(&Value::Array(list).to_string()));
            } else {
                let rows: Vec<[String; 5]> = rows
                    .iter()
                    .map(|r| {
                        [
                            r.id.to_string(),
                            r.name.clone(),
                            r.prefix.clone(),
                            r.scopes.join(" "),
                            r.expires_at.clone().unwrap_or_else(|| "never".into()),
                        ]
                    })
                    .collect();
                print!(
                    "{}",
                    table(["ID", "NAME", "PREFIX", "SCOPES", "EXPIRES"], &rows)
                );
            }
            Ok(())
        }
        TokenCommand::Revoke { user, id } => {
            let user_id = user_of(user).await?;
            if store.revoke_api_token(user_id, id).await? {
                println!("revoked token {id}");
                Ok(())
            } else {
                Err(Fail(format!("no live token {id} for that user")))
            }
        }
    }
}
