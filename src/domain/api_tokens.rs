//! Personal API tokens: what a new one may be called, which scopes it may carry, how
//! long it may live; issuing one shows its secret once; listing and revoking an
//! account's tokens.
//!
//! A token outlives the session that asked for it, so a session mints one only with proof
//! of the password ([`super::reauth`]), and only while the session stands: the store
//! checks the account's credentials generation in the write that creates the token.

use super::accounts::{Login, PASSWORD};
use super::reauth::{self, Freshness};
use super::{Chars, DomainError, FieldErrors, check_chars, check_field, unprintable};
use crate::auth::{Session, TOKEN_SCOPES, hash_api_token, new_api_token};
use crate::model::User;
use crate::store::Store;
use crate::store::api_tokens::{ApiTokenRow, NewApiToken};

/// A token to create, as given: `None` for a field that is missing or was already
/// refused (its message is in the errors handed to [`issue`]).
#[derive(Debug, Default)]
pub struct NewToken {
    pub name: Option<String>,
    pub scopes: Option<Vec<String>>,
    /// Days until it expires; `None` for never.
    pub expires_in_days: Option<u64>,
}

/// A token just created: its row and its secret, shown this once.
#[derive(Debug)]
pub struct Issued {
    pub row: ApiTokenRow,
    pub secret: String,
}

/// A token's fields, checked.
struct Checked {
    name: String,
    scopes: Vec<String>,
    days: Option<u64>,
}

/// Validates the token (name 1 to 100 characters, no control or format characters; at
/// least one known scope, with `tasks:write` implying `tasks:read`; 1 to 3650 days) and
/// creates it for `user_id`: `tasklane token create`, the operator's.
pub async fn issue(
    store: &Store,
    user_id: i64,
    input: NewToken,
    errors: FieldErrors,
) -> Result<Issued, DomainError> {
    let checked = validate(input, errors, None)?.0;
    create(store, user_id, checked, None).await
}

/// Issues a token `session` of `owner` asks for: validated as [`issue`] does, then, with
/// proof of the password (`current_password`, or a recent password login: see
/// [`reauth::confirm`]), created while the session still stands (else
/// [`DomainError::SessionEnded`]).
pub async fn issue_for_session(
    ctx: &Login<'_>,
    owner: &User,
    session: &Session,
    freshness: Freshness,
    input: NewToken,
    current_password: Option<String>,
    errors: FieldErrors,
) -> Result<Issued, DomainError> {
    let (checked, current) = validate(input, errors, current_password)?;
    reauth::confirm(ctx, owner, freshness, current).await?;
    create(ctx.store, owner.id, checked, Some(session.generation)).await
}

/// The fields' rules, in the serializer's field order; `current_password` (when given)
/// may not be blank.
fn validate(
    input: NewToken,
    mut errors: FieldErrors,
    current_password: Option<String>,
) -> Result<(Checked, Option<String>), DomainError> {
    let name = check_field(input.name, "name", &mut errors, |s| {
        check_chars(s, Chars::trimmed(100)).and_then(unprintable::no_control_or_format)
    });
    let scopes = check_field(input.scopes, "scopes", &mut errors, scopes);
    let days = check_field(input.expires_in_days, "expires_in_days", &mut errors, |d| {
        if (1..=3650).contains(&d) {
            Ok(d)
        } else {
            Err("Ensure this value is a whole number from 1 to 3650.".into())
        }
    });
    let current = check_field(current_password, "current_password", &mut errors, |s| {
        check_chars(s, PASSWORD)
    });
    errors
        .ordered(&["name", "scopes", "expires_in_days", "current_password"])
        .into_result()?;
    let (Some(name), Some(scopes)) = (name, scopes) else {
        return Err(DomainError::Internal(
            "validated token fields missing".into(),
        ));
    };
    Ok((Checked { name, scopes, days }, current))
}

/// `user_id`'s tokens that are not revoked (expired ones too), newest first.
pub async fn list(store: &Store, user_id: i64) -> Result<Vec<ApiTokenRow>, DomainError> {
    Ok(store.list_api_tokens(user_id).await?)
}

/// Revokes `user_id`'s token `id`: refused from its next request on. Another user's
/// token, or one already revoked, is [`DomainError::NotFound`].
pub async fn revoke(store: &Store, user_id: i64, id: i64) -> Result<(), DomainError> {
    if store.revoke_api_token(user_id, id).await? {
        Ok(())
    } else {
        Err(DomainError::NotFound)
    }
}

/// Creates the token; with a session's `generation`, only while the account is still
/// active at it.
async fn create(
    store: &Store,
    user_id: i64,
    checked: Checked,
    generation: Option<i64>,
) -> Result<Issued, DomainError> {
    let secret = new_api_token();
    let expires = checked.days.map(|d| {
        let at = chrono::Utc::now() + chrono::Duration::days(d as i64);
        (crate::clock::timestamp(at), at.timestamp())
    });
    let new = NewApiToken {
        name: checked.name,
        token_hash: hash_api_token(&secret),
        prefix: secret.chars().take(10).collect(),
        scopes: checked.scopes,
        expires,
    };
    let row = store
        .create_api_token(user_id, new, generation)
        .await?
        .ok_or(DomainError::SessionEnded)?;
    Ok(Issued { row, secret })
}

/// Known scopes only, at least one; writing implies reading (a write answers with the
/// task), and the list says so. Sorted, without repeats.
fn scopes(mut list: Vec<String>) -> Result<Vec<String>, String> {
    if list.is_empty() {
        return Err(format!(
            "Name at least one scope: {}.",
            TOKEN_SCOPES.join(", ")
        ));
    }
    if let Some(bad) = list.iter().find(|s| !TOKEN_SCOPES.contains(&s.as_str())) {
        return Err(format!(
            "\"{bad}\" is not a valid scope: use {}.",
            TOKEN_SCOPES.join(", ")
        ));
    }
    for (write, read) in [
        ("tasks:write", "tasks:read"),
        ("projects:write", "projects:read"),
    ] {
        if list.iter().any(|s| s == write) {
            list.push(read.to_owned());
        }
    }
    list.sort();
    list.dedup();
    Ok(list)
}
