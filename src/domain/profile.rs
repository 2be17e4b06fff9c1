//! The owner's own account: changing the username, email or password, and deleting it.
//! The original let anyone do this to any account without a token; here only the owner
//! can, and a password is needed for what cannot be undone: a new password needs the
//! current one, a new username or email the current one or a recent password login
//! ([`super::reauth`]), and deleting the account the password.

use std::time::Duration;

use super::accounts::{
    Login, PASSWORD, check_password, email_rule, hash_new, new_password, username_rule,
};
use super::reauth::{self, Freshness};
use super::{DomainError, FieldErrors, REQUIRED, check_chars, check_field, unique_message};
use crate::clock::now_secs_f64;
use crate::hub::Hub;
use crate::model::User;
use crate::store::Store;
use crate::store::users::AccountUpdate;

pub use super::reauth::WRONG_CURRENT_PASSWORD;
/// The message for a wrong password when deleting the account.
pub const WRONG_PASSWORD: &str = "Your password was entered incorrectly. Please enter it again.";

/// An edit as given: `None` for a field that is absent (kept) or was already refused (its
/// message is in the errors handed to [`edit`]).
#[derive(Debug, Default)]
pub struct AccountEdit {
    pub username: Option<String>,
    pub email: Option<String>,
    /// A new password; needs `current_password`.
    pub password: Option<String>,
    /// Needed with a new password; with a new username or email unless the session's
    /// password login is recent.
    pub current_password: Option<String>,
}

/// What an edit did.
#[derive(Debug)]
pub struct Edited {
    pub user: User,
    /// The password changed: every older credential of the account has ended, the one
    /// the request came with included.
    pub credentials_ended: bool,
}

/// Edits `owner`'s account with registration's rules and messages (uniqueness ignoring
/// the account itself). A new password needs the current one, checked as a login
/// attempt (throttled, and a wrong one counts as a failed login); a new username or email
/// needs it too unless the session's password login is recent (`freshness`). A username
/// or email given as it already is changes nothing and needs nothing (a `PUT` of the
/// original's clients sends both).
pub async fn edit(
    ctx: &Login<'_>,
    hub: &Hub,
    owner: &User,
    input: AccountEdit,
    mut errors: FieldErrors,
    freshness: Freshness,
) -> Result<Edited, DomainError> {
    let username = check_field(input.username, "username", &mut errors, username_rule);
    let email = check_field(input.email, "email", &mut errors, email_rule);
    let taken = ctx
        .store
        .taken_account_fields(username.clone(), email.clone(), Some(owner.id))
        .await?;
    for f in taken {
        errors.add(f, unique_message(f));
    }
    let wants_password = input.password.is_some();
    let password = new_password(
        input.password,
        username.as_deref().unwrap_or(&owner.username),
        email.as_deref().unwrap_or(&owner.email),
        &mut errors,
    );
    // A blank password is not checked (it would count as a failed login).
    let current_password = check_field(
        input.current_password,
        "current_password",
        &mut errors,
        |s| check_chars(s, PASSWORD),
    );
    let current = match (wants_password, current_password) {
        (true, None) => {
            if !errors.iter().any(|(f, _)| f == "current_password") {
                errors.add("current_password", REQUIRED);
            }
            None
        }
        (_, current) => current,
    };
    const ORDER: &[&str] = &["username", "email", "password", "current_password"];
    errors.ordered(ORDER).into_result()?;
    // Only a change that is otherwise valid costs a password check.
    let renames = username.as_ref().is_some_and(|u| *u != owner.username)
        || email.as_ref().is_some_and(|e| *e != owner.email);
    if password.is_some() || renames {
        reauth::confirm(ctx, owner, freshness, current).await?;
    }
    let password_hash = match password {
        Some(password) => Some(hash_new(Some(ctx.hash_queue), &owner.username, password).await?),
        None => None,
    };
    let credentials_ended = password_hash.is_some();
    let update = AccountUpdate {
        username,
        email,
        password_hash,
    };
    let user = ctx
        .store
        .update_account(owner.id, update, now_secs_f64())
        .await?;
    // This process and every other forget the cached account: a password change ends
    // the older credentials (and their streams) at once, a new name shows at once.
    hub.account_changed(owner.id);
    Ok(Edited {
        user,
        credentials_ended,
    })
}

/// How long the answer to a deletion waits for the account's rows to be purged; a bigger
/// account's purge goes on in the background after it.
pub const PURGE_WAIT: Duration = Duration::from_secs(2);

/// Deletes `owner`'s account once `password` (checked as a login attempt) is right: one
/// short write after which it cannot log in, refresh or be authenticated, and its
/// username and email are free (see [`crate::store::purge`]). Refused while it owns a
/// project that has other members; otherwise it leaves every project in the same write
/// (docs/projects.md, "Deleting an account"). Its tasks, the projects it owned alone,
/// events, keys and tokens are purged by the returned [`Purge`], already running.
pub async fn delete(
    ctx: &Login<'_>,
    hub: &Hub,
    owner: &User,
    password: Option<String>,
    errors: FieldErrors,
) -> Result<Purge, DomainError> {
    let mut errors = errors;
    let password = check_field(password, "password", &mut errors, |s| {
        check_chars(s, PASSWORD)
    });
    let Some(password) = password else {
        if errors.is_empty() {
            errors.add("password", REQUIRED);
        }
        return Err(DomainError::Invalid(errors));
    };
    errors.into_result()?;
    if check_password(ctx, &owner.username, password)
        .await?
        .is_none_or(|a| a.user.id != owner.id)
    {
        return Err(DomainError::Invalid(FieldErrors::one(
            "password",
            WRONG_PASSWORD,
        )));
    }
    // Refused (409, listing them) while it owns a project with other members; otherwise
    // it leaves every project in the same write, and the members of each get a `project`
    // event (see `AccountStore::delete_account`).
    let events = ctx
        .store
        .delete_account(owner.id)
        .await?
        .unwrap_or_default();
    // Its streams close and every process forgets it now, before the purge is done.
    hub.account_changed(owner.id);
    for e in events {
        hub.publish(e);
    }
    Ok(purge(ctx.store, owner.id))
}

/// A deleted account's purge, running on its own: neither a client that goes away nor
/// the answer's timing stops it (and housekeeping resumes one the process did not finish).
pub struct Purge(tokio::task::JoinHandle<()>);

impl Purge {
    /// Waits for the purge to finish, for at most `within`.
    pub async fn settle(self, within: Duration) {
        let _ = tokio::time::timeout(within, self.0).await;
    }
}

/// Starts purging deleted account `user_id`'s rows in the background.
pub fn purge(store: &Store, user_id: i64) -> Purge {
    let store = store.clone();
    Purge(tokio::spawn(async move {
        match store.purge_account(user_id).await {
            Ok(p) => tracing::info!(
                user_id,
                rows = p.rows,
                jobs = p.jobs,
                "deleted account purged"
            ),
            Err(e) => tracing::warn!(
                user_id,
                error = %e,
                "purging a deleted account failed; housekeeping will resume it"
            ),
        }
    }))
}
