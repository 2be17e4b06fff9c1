//! The rules and operations on accounts, tokens, tasks and their events, below HTTP and
//! the command line: typed inputs in, typed values or a [`DomainError`] out. `api` and
//! `cli` both call this layer and neither knows the other; `error.rs` alone turns a
//! `DomainError` into an HTTP answer, and the CLI prints it as lines.
//!
//! An operation is one function that checks, writes through the store and publishes to
//! the hub what it committed (`tasks.rs`): a handler only turns HTTP into its plain
//! inputs (the caller's user, ids, drafts with the messages of fields it could not read,
//! parsed `If-Match`/`Idempotency-Key`) and its result back into a response.

pub mod accounts;
pub mod api_tokens;
pub mod events;
pub mod imports;
pub mod listing;
pub mod password_policy;
pub mod profile;
pub mod projects;
pub mod reauth;
pub mod sessions;
pub mod stream_tickets;
pub mod tasks;
pub mod unprintable;
pub mod validators;

use crate::store::StoreError;
use crate::store::projects::Refusal;

/// A project named by id and name (in [`DomainError::OwnsSharedProjects`]).
pub use crate::model::ProjectRef;

/// Why an operation refused.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// Input broke the rules: messages per field, in the serializer's field order.
    #[error("invalid input")]
    Invalid(FieldErrors),
    /// Wrong username or password, or an inactive or unknown account (one answer for all).
    #[error("no active account found with the given credentials")]
    BadCredentials,
    /// Too many attempts from this client; retry after that many seconds.
    #[error("too many attempts; retry in {retry_after} s")]
    Throttled { retry_after: u64 },
    /// Too many passwords are being checked at once; retry shortly.
    #[error("too busy checking passwords")]
    Busy,
    /// A refresh token that cannot be traded.
    #[error("refresh token refused: {0:?}")]
    Refresh(RefreshRefusal),
    /// The session this request came with ended while it was being served (its
    /// account's password changed, or it was deactivated or deleted): nothing was written.
    #[error("the session ended: log in again")]
    SessionEnded,
    /// A sensitive action from a session whose password login is older than `window`,
    /// without `current_password`.
    #[error("this action needs the password: the last password login is older than {window:?}")]
    ReauthenticationRequired { window: std::time::Duration },
    /// No such object (or it belongs to someone else: callers can't tell).
    #[error("not found")]
    NotFound,
    /// `If-Match` named another version than the current one.
    #[error("stale: the current version is {current}")]
    Stale { current: i64 },
    /// No such `0` ("Project", "Member", "Invitation") that the caller can see.
    #[error("no such {0}")]
    Missing(&'static str),
    /// The caller's role in the project is below this one.
    #[error("needs the {} role", .0.as_str())]
    NeedsRole(crate::model::Role),
    /// The change conflicts with the current state or a limit: the message says how.
    #[error("conflict: {0}")]
    Conflict(String),
    /// An account that owns projects with other members cannot be deleted: these.
    #[error("owns projects with other members: {0:?}")]
    OwnsSharedProjects(Vec<ProjectRef>),
    /// An idempotency key reused with a different request.
    #[error("idempotency key reused with another request")]
    KeyReused,
    /// The user already holds `max` open streams in this process.
    #[error("too many open streams: at most {max} per user")]
    TooManyStreams { max: u32 },
    /// The database is unreachable or refusing work for now: 503, retry shortly.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The store failed (I/O, corruption…): logged, never shown.
    #[error("{0}")]
    Internal(String),
}

/// Why a refresh token was refused, in simplejwt's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshRefusal {
    /// Not a valid refresh JWT (signature, expiry, shape): simplejwt's message.
    Token(crate::auth::jwt::TokenError),
    /// Spent before the grace window: its whole login is now revoked.
    Reused,
    /// Unknown, expired, revoked or logged out.
    Unknown,
    /// The account is gone or deactivated.
    NoActiveAccount,
}

impl From<StoreError> for DomainError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => DomainError::NotFound,
            StoreError::Conflict(fields) => {
                let mut errors = FieldErrors::default();
                for f in fields {
                    errors.add(f, unique_message(f));
                }
                DomainError::Invalid(errors)
            }
            StoreError::Stale { current } => DomainError::Stale { current },
            StoreError::Refused(r) => match r {
                Refusal::Missing(what) => DomainError::Missing(what),
                Refusal::NeedsRole(role) => DomainError::NeedsRole(role),
                Refusal::Conflict(message) => DomainError::Conflict(message),
                Refusal::Invalid(field, message) => {
                    DomainError::Invalid(FieldErrors::one(field, message))
                }
                Refusal::OwnsShared(projects) => DomainError::OwnsSharedProjects(projects),
            },
            StoreError::Unavailable(cause) => DomainError::Unavailable(cause),
            StoreError::Other(cause) => DomainError::Internal(cause),
        }
    }
}

/// The original's messages for taken unique fields.
pub fn unique_message(field: &str) -> String {
    match field {
        "username" => "A user with that username already exists.".to_owned(),
        _ => "This field must be unique.".to_owned(),
    }
}

/// Messages per field, in the order the fields were first named.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FieldErrors(Vec<(String, Vec<String>)>);

impl FieldErrors {
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        match self.0.iter_mut().find(|(f, _)| f == field) {
            Some((_, messages)) => messages.push(message.into()),
            None => self.0.push((field.to_owned(), vec![message.into()])),
        }
    }

    /// One field's message.
    pub fn one(field: &str, message: impl Into<String>) -> FieldErrors {
        let mut e = FieldErrors::default();
        e.add(field, message);
        e
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `(field, messages)` in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.0.iter().map(|(f, m)| (f.as_str(), m.as_slice()))
    }

    /// The same errors with the fields in `order` first, in that order (as a serializer
    /// reports them however they were found), then any others.
    pub fn ordered(mut self, order: &[&str]) -> FieldErrors {
        self.0
            .sort_by_key(|(f, _)| order.iter().position(|o| o == f).unwrap_or(order.len()));
        self
    }

    /// `Ok(())` when empty, else `Invalid`.
    pub fn into_result(self) -> Result<(), DomainError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(DomainError::Invalid(self))
        }
    }
}

/// How a text field is checked (DRF `CharField`'s options).
#[derive(Clone, Copy, Debug)]
pub struct Chars {
    pub allow_blank: bool,
    pub trim: bool,
    pub max_length: Option<usize>,
}

impl Chars {
    pub const fn trimmed(max_length: usize) -> Chars {
        Chars {
            allow_blank: false,
            trim: true,
            max_length: Some(max_length),
        }
    }
}

pub const NOT_BLANK: &str = "This field may not be blank.";
pub const REQUIRED: &str = "This field is required.";

/// A text field's rules, with DRF's messages: trimmed (when asked), not blank (unless
/// allowed), at most `max_length` characters, no NUL.
pub fn check_chars(s: String, opts: Chars) -> Result<String, String> {
    let s = if opts.trim { s.trim().to_owned() } else { s };
    if s.is_empty() {
        return if opts.allow_blank {
            Ok(s)
        } else {
            Err(NOT_BLANK.into())
        };
    }
    if let Some(max) = opts.max_length
        && s.chars().count() > max
    {
        return Err(format!(
            "Ensure this field has no more than {max} characters."
        ));
    }
    if s.contains('\0') {
        return Err("Null characters are not allowed.".into());
    }
    Ok(s)
}

/// Checks `value` (when there is one) with `rule`; a failure goes to `errors` under `name`.
pub fn check_field<T>(
    value: Option<T>,
    name: &str,
    errors: &mut FieldErrors,
    rule: impl FnOnce(T) -> Result<T, String>,
) -> Option<T> {
    match rule(value?) {
        Ok(v) => Some(v),
        Err(message) => {
            errors.add(name, message);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_come_out_in_the_serializer_s_field_order() {
        let mut e = FieldErrors::default();
        e.add("password", "p");
        e.add("other", "o");
        e.add("username", "u");
        let e = e.ordered(&["username", "email", "password"]);
        let names: Vec<&str> = e.iter().map(|(f, _)| f).collect();
        assert_eq!(names, ["username", "password", "other"]);
    }
}
