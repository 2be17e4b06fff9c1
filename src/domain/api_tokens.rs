//! Personal API tokens: what a new one may be called, which scopes it may carry, how
//! long it may live; issuing one shows its secret once.

use super::{Chars, DomainError, FieldErrors, check, check_chars, unprintable};
use crate::auth::{TOKEN_SCOPES, hash_api_token, new_api_token};
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

/// Validates the token (name 1 to 100 characters, no control or format characters; at
/// least one known scope, with `tasks:write` implying `tasks:read`; 1 to 3650 days) and
/// creates it for `user_id`.
/// Shared by the API and `tasklane token create`.
pub async fn issue(
    store: &Store,
    user_id: i64,
    input: NewToken,
    mut errors: FieldErrors,
) -> Result<Issued, DomainError> {
    let name = check(input.name, "name", &mut errors, |s| {
        check_chars(s, Chars::trimmed(100)).and_then(unprintable::no_control_or_format)
    });
    let scopes = check(input.scopes, "scopes", &mut errors, scopes);
    let days = check(input.expires_in_days, "expires_in_days", &mut errors, |d| {
        if (1..=3650).contains(&d) {
            Ok(d)
        } else {
            Err("Ensure this value is a whole number from 1 to 3650.".into())
        }
    });
    errors
        .ordered(&["name", "scopes", "expires_in_days"])
        .into_result()?;
    let (Some(name), Some(scopes)) = (name, scopes) else {
        return Err(DomainError::Internal(
            "validated token fields missing".into(),
        ));
    };
    let secret = new_api_token();
    let expires = days.map(|d| {
        let at = chrono::Utc::now() + chrono::Duration::days(d as i64);
        (crate::clock::timestamp(at), at.timestamp())
    });
    let row = store
        .create_api_token(
            user_id,
            NewApiToken {
                name,
                token_hash: hash_api_token(&secret),
                prefix: secret.chars().take(10).collect(),
                scopes,
                expires,
            },
        )
        .await?;
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
    if list.iter().any(|s| s == "tasks:write") {
        list.push("tasks:read".to_owned());
    }
    list.sort();
    list.dedup();
    Ok(list)
}
