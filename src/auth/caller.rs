//! Who is calling, and with what credential: what an authenticated operation acts as,
//! and the one check of what that credential may do ([`Caller::require`]).

use super::{AuthError, Scope, Session};
use crate::model::User;

/// The authenticated user of a request (the API's Bearer scheme, `api::security`, gives
/// it to every protected operation).
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: User,
    /// When the credential expires (unix seconds): streams close then.
    pub expires_at: i64,
    pub credential: Credential,
}

/// How the caller authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A JWT access token from logging in: everything the account may do (what needs a
    /// recent password login looks at its `auth_time`).
    Session(Session),
    /// A personal API token, limited to its scopes.
    ApiToken { id: i64, scopes: Vec<String> },
}

impl Caller {
    /// The session the caller logged in with; `None` for an API token.
    pub fn session(&self) -> Option<&Session> {
        match &self.credential {
            Credential::Session(session) => Some(session),
            Credential::ApiToken { .. } => None,
        }
    }

    /// 403 unless the credential allows `scope`.
    pub fn require(&self, scope: Scope) -> Result<(), AuthError> {
        match &self.credential {
            Credential::Session(_) => Ok(()),
            Credential::ApiToken { .. } if scope == Scope::Account => {
                Err(AuthError::SessionRequired)
            }
            Credential::ApiToken { scopes, .. }
                if scopes.iter().any(|s| {
                    s == scope.as_str() || scope.implied_by().is_some_and(|w| s == w.as_str())
                }) =>
            {
                Ok(())
            }
            Credential::ApiToken { .. } => Err(AuthError::InsufficientScope(scope.as_str())),
        }
    }
}
