//! Proof of the password for sensitive actions: minting a personal API token, changing
//! the username or email (and, later, creating webhooks). Each needs the current password
//! in the request, or a session whose password login was recent (`--reauth-after`, 10
//! minutes by default). An access token that leaked — from a log, a URL, a shared screen
//! — then cannot be turned into a credential that outlives it, or into the account
//! itself. The rule is [`confirm`], in one place for every action that needs it.
//!
//! A session's `auth_time` is the time of its password login, carried unchanged across
//! refreshes: refreshing keeps a session alive, never makes it recent again. Sessions of
//! the original Django app's tokens have none, so they always need the password.

use std::time::Duration;

use super::accounts::{Login, check_password};
use super::{DomainError, FieldErrors};
use crate::auth::Session;
use crate::clock::now_secs;
use crate::model::User;

/// Django's message for a wrong current password (`PasswordChangeForm`'s "old password").
pub const WRONG_CURRENT_PASSWORD: &str =
    "Your old password was entered incorrectly. Please enter it again.";

/// How a request may prove the password: the session it came with, and how recent its
/// password login must be.
#[derive(Clone, Copy, Debug)]
pub struct Freshness {
    /// When the session's password login was; `None`: no session proved one here (an API
    /// token, or a session of the original app's).
    pub auth_time: Option<i64>,
    /// How long after a password login a session may act without the password again.
    pub window: Duration,
}

impl Freshness {
    /// The freshness of `session` (none for an API token) under `window`.
    pub fn of(session: Option<&Session>, window: Duration) -> Freshness {
        Freshness {
            auth_time: session.and_then(|s| s.auth_time),
            window,
        }
    }

    /// Whether the password login was less than `window` before `now` (unix seconds).
    pub fn recent(&self, now: i64) -> bool {
        let window = i64::try_from(self.window.as_secs()).unwrap_or(i64::MAX);
        self.auth_time
            .is_some_and(|at| now.saturating_sub(at) < window)
    }
}

/// Lets a sensitive action of `owner` go ahead: with `current_password`, when it is right
/// (checked as a login attempt: throttled, and a wrong one counts as a failed login; a
/// wrong one is a field error, `current_password`); without, when the session's password
/// login is recent. Otherwise [`DomainError::ReauthenticationRequired`].
pub async fn confirm(
    ctx: &Login<'_>,
    owner: &User,
    freshness: Freshness,
    current_password: Option<String>,
) -> Result<(), DomainError> {
    match current_password {
        Some(password) => {
            if check_password(ctx, &owner.username, password)
                .await?
                .is_none_or(|a| a.user.id != owner.id)
            {
                return Err(DomainError::Invalid(FieldErrors::one(
                    "current_password",
                    WRONG_CURRENT_PASSWORD,
                )));
            }
            Ok(())
        }
        None if freshness.recent(now_secs()) => Ok(()),
        None => Err(DomainError::ReauthenticationRequired {
            window: freshness.window,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh(auth_time: Option<i64>) -> Freshness {
        Freshness {
            auth_time,
            window: Duration::from_secs(600),
        }
    }

    #[test]
    fn a_login_is_recent_for_the_window_and_not_a_second_longer() {
        let now = 1_900_000_000;
        assert!(fresh(Some(now)).recent(now));
        assert!(fresh(Some(now - 599)).recent(now));
        assert!(!fresh(Some(now - 600)).recent(now));
        // No password login here at all: never recent.
        assert!(!fresh(None).recent(now));
    }

    #[test]
    fn an_api_token_has_no_freshness() {
        let f = Freshness::of(None, Duration::from_secs(600));
        assert_eq!(f.auth_time, None);
        let session = Session {
            generation: 2,
            auth_time: Some(5),
        };
        assert_eq!(
            Freshness::of(Some(&session), Duration::ZERO).auth_time,
            Some(5)
        );
    }
}
