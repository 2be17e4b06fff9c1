//! `tasklane user create|list|set-password|deactivate|activate`.

use std::io::{BufRead, IsTerminal};

use serde_json::{Value, json};

use super::{Fail, open_store, show, table};
use crate::clock::now_secs_f64;
use crate::config::commands::{PasswordArgs, UserArgs, UserCommand};
use crate::domain::accounts::{self, Registration, find_account};
use crate::domain::{DomainError, FieldErrors};
use crate::store::admin::AccountChange;
use crate::store::projects::Refusal;
use crate::store::users::Account;
use crate::store::{Store, StoreError};

pub(super) async fn run(args: UserArgs) -> Result<(), Fail> {
    let db = args.db.database();
    match args.command {
        UserCommand::Create {
            username,
            email,
            password,
        } => {
            let password = read_password(&password)?;
            let store = open_store(&db, true).await?;
            create_user(&store, username, email, password).await
        }
        UserCommand::List { json } => {
            let store = open_store(&db, false).await?;
            list_users(&store, json).await
        }
        UserCommand::SetPassword { username, password } => {
            let password = read_password(&password)?;
            let store = open_store(&db, false).await?;
            set_password(&store, username, password).await
        }
        UserCommand::Deactivate { username } => {
            let store = open_store(&db, false).await?;
            set_active(&store, username, false).await
        }
        UserCommand::Activate { username } => {
            let store = open_store(&db, false).await?;
            set_active(&store, username, true).await
        }
        UserCommand::Delete { username, yes } => {
            let store = open_store(&db, false).await?;
            delete_user(&store, username, yes).await
        }
    }
}

/// Registration's rules and messages, exactly as `POST /api/register/` applies them.
async fn create_user(
    store: &Store,
    username: String,
    email: String,
    password: String,
) -> Result<(), Fail> {
    let input = Registration::new(username, email, password);
    let user = accounts::register(store, input, FieldErrors::default(), None).await?;
    println!(
        "created user {} (id {}, email {})",
        show::escape(&user.username),
        user.id,
        show::escape(&user.email)
    );
    Ok(())
}

async fn list_users(store: &Store, as_json: bool) -> Result<(), Fail> {
    let accounts = store.list_accounts().await?;
    if as_json {
        let rows: Vec<Value> = accounts
            .iter()
            .map(|a| json!({"id": a.id, "username": a.username, "email": a.email, "active": a.is_active}))
            .collect();
        let text = serde_json::to_string_pretty(&rows).map_err(|e| Fail(e.to_string()))?;
        println!("{}", show::json(&text));
        return Ok(());
    }
    let rows: Vec<[String; 4]> = accounts
        .iter()
        .map(|a| {
            [
                a.id.to_string(),
                a.username.clone(),
                a.email.clone(),
                if a.is_active { "yes" } else { "no" }.to_owned(),
            ]
        })
        .collect();
    print!("{}", table(["ID", "USERNAME", "EMAIL", "ACTIVE"], &rows));
    Ok(())
}

/// The account `username` names, NFKC-normalised as the API does.
async fn account_named(store: &Store, username: &str) -> Result<Account, Fail> {
    find_account(store, username)
        .await?
        .ok_or_else(|| no_such_user(username))
}

async fn set_password(store: &Store, username: String, password: String) -> Result<(), Fail> {
    let account = account_named(store, &username).await?;
    let username = account.user.username.clone();
    let change = accounts::set_password(store, account, password)
        .await
        .map_err(|e| match e {
            DomainError::NotFound => no_such_user(&username),
            e => e.into(),
        })?;
    println!(
        "password of {} changed; {}",
        show::escape(&username),
        revoked(change.revoked_tokens, change.revoked_api_tokens)
    );
    Ok(())
}

async fn set_active(store: &Store, username: String, active: bool) -> Result<(), Fail> {
    let username = account_named(store, &username).await?.user.username;
    let AccountChange {
        changed,
        revoked_tokens,
        revoked_api_tokens,
        ..
    } = store
        .set_account_active(username.clone(), active, now_secs_f64())
        .await
        .map_err(|e| not_found_as_user(e, &username))?;
    let username = show::escape(&username);
    match (active, changed) {
        (true, true) => println!("{username} activated"),
        (true, false) => println!("{username} was already active"),
        (false, true) => println!(
            "{username} deactivated; {}",
            revoked(revoked_tokens, revoked_api_tokens)
        ),
        (false, false) => println!(
            "{username} was already inactive; {}",
            revoked(revoked_tokens, revoked_api_tokens)
        ),
    }
    Ok(())
}

/// Deletes the account `username` names, once confirmed (`--yes`, or typing the name on
/// a terminal), then purges its rows in short jobs (see [`crate::store::purge`]): a server
/// running on the same file keeps writing meanwhile. Servers on the same database refuse
/// its tokens and close its streams
/// (4003) within two seconds.
async fn delete_user(store: &Store, username: String, yes: bool) -> Result<(), Fail> {
    let account = account_named(store, &username).await?;
    let name = account.user.username;
    if !yes {
        if !std::io::stdin().is_terminal() {
            return Err(Fail(format!(
                "refusing to delete {name} without confirmation: pass --yes"
            )));
        }
        eprint!(
            "Delete {}, with all their tasks and tokens? Type the username to confirm: ",
            show::escape(&name)
        );
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| Fail(format!("cannot read the confirmation: {e}")))?;
        if line.trim() != name {
            return Err(Fail("not confirmed; nothing deleted".into()));
        }
    }
    // Its memberships end in the same write (the members' `project` events reach their
    // streams through the outbox); refused while it owns a project with other members.
    match store.delete_account(account.user.id).await {
        Ok(Some(_events)) => {}
        Ok(None) => return Err(no_such_user(&name)),
        Err(StoreError::Refused(Refusal::OwnsShared(projects))) => {
            let list: Vec<String> = projects
                .iter()
                .map(|p| format!("{} ({})", p.id, show::escape(&p.name)))
                .collect();
            return Err(Fail(format!(
                "refusing to delete {}: they own projects that have other members: {}; \
                 transfer each first (tasklane project transfer --project ID --to USERNAME)",
                show::escape(&name),
                list.join(", ")
            )));
        }
        Err(e) => return Err(e.into()),
    }
    // Deleted (and the name free) from here on; what it owned goes in short jobs, which
    // a server's housekeeping finishes if this is cut short.
    match store.purge_account(account.user.id).await {
        Ok(purged) => println!(
            "deleted user {} (id {}) with its tasks, events and tokens ({} rows)",
            show::escape(&name),
            account.user.id,
            purged.rows
        ),
        Err(e) => {
            println!(
                "deleted user {} (id {})",
                show::escape(&name),
                account.user.id
            );
            eprintln!(
                "warning: its tasks, events and tokens are not all purged yet ({e}); \
                 a server on this database will finish within a minute of its start"
            );
        }
    }
    Ok(())
}

/// "2 refresh tokens and 1 API token revoked; older access tokens refused"
fn revoked(refresh: usize, api: usize) -> String {
    let plural = |n: usize, what: &str| match n {
        1 => format!("1 {what}"),
        n => format!("{n} {what}s"),
    };
    format!(
        "{} and {} revoked; older access tokens refused",
        plural(refresh, "refresh token"),
        plural(api, "API token")
    )
}

fn no_such_user(username: &str) -> Fail {
    Fail(format!("no user named {username:?}"))
}

fn not_found_as_user(e: StoreError, username: &str) -> Fail {
    match e {
        StoreError::NotFound => no_such_user(username),
        e => e.into(),
    }
}

/// The password from the flag, from stdin, or typed on the terminal.
fn read_password(args: &PasswordArgs) -> Result<String, Fail> {
    if let Some(p) = &args.password {
        return Ok(p.clone());
    }
    let stdin = std::io::stdin();
    if !args.password_stdin && stdin.is_terminal() {
        let first = prompt_hidden("Password: ")?;
        let second = prompt_hidden("Password (again): ")?;
        if first != second {
            return Err(Fail("the passwords do not match".into()));
        }
        return Ok(first);
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .map_err(|e| Fail(format!("cannot read the password from stdin: {e}")))?;
    Ok(strip_newline(line))
}

/// Only the line ending goes: passwords are never trimmed.
fn strip_newline(mut line: String) -> String {
    if line.ends_with('\n') {
        line.pop();
        if line.ends_with('\r') {
            line.pop();
        }
    }
    line
}

/// Reads one line from the terminal with echo off.
fn prompt_hidden(prompt: &str) -> Result<String, Fail> {
    rpassword::prompt_password(prompt).map_err(|e| Fail(format!("cannot read the password: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_line_ending_is_stripped_from_a_password() {
        assert_eq!(strip_newline(" pass word \r\n".into()), " pass word ");
        assert_eq!(strip_newline("secret\n".into()), "secret");
        assert_eq!(strip_newline("secret".into()), "secret");
    }
}
