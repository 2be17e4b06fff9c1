//! Checking a credential: an access token or a personal API token in, the caller and its
//! active account out.

use std::sync::Arc;

use super::jwt::{Jwt, TokenError, TokenType};
use super::{
    API_TOKEN_PREFIX, AccountCache, AccountState, AuthError, Caller, Credential, Session,
    hash_api_token, session,
};
use crate::clock::now_secs;
use crate::store::Store;

/// What checking a token needs; the route table hands it to every request.
#[derive(Clone)]
pub struct Authenticator {
    pub store: Store,
    pub jwt: Arc<Jwt>,
    pub accounts: Arc<AccountCache>,
}

impl Authenticator {
    /// Checks an access token (or a personal API token) and loads its active user. Used
    /// by the Bearer scheme and by the streams (their header, or the deprecated `?token=`).
    pub async fn authenticate(&self, token: &str) -> Result<Caller, AuthError> {
        if token.starts_with(API_TOKEN_PREFIX) {
            return self.authenticate_api_token(token).await;
        }
        let claims = self
            .jwt
            .verify(token, TokenType::Access, now_secs())
            .map_err(AuthError::InvalidAccess)?;
        let (user, current) = match self.account(claims.user_id).await? {
            AccountState::Active { user, generation } => (user, generation),
            AccountState::Inactive => return Err(AuthError::UserInactive),
            AccountState::Missing => return Err(AuthError::UserNotFound),
        };
        let imported_at = match claims.generation {
            Some(_) => None,
            None => self.imported_at().await?,
        };
        // Issued before the account's password changed or it was deactivated (or by the
        // original app after the import): ended.
        let generation = session::token_generation(&claims, imported_at)
            .filter(|&g| g == current)
            .ok_or(AuthError::InvalidAccess(TokenError::Invalid))?;
        Ok(Caller {
            user,
            expires_at: claims.exp,
            credential: Credential::Session(Session {
                generation,
                auth_time: claims.auth_time,
            }),
        })
    }

    async fn authenticate_api_token(&self, token: &str) -> Result<Caller, AuthError> {
        let (owner, stale_use) = self
            .store
            .api_token_owner(hash_api_token(token), now_secs())
            .await?
            .ok_or(AuthError::InvalidApiToken)?;
        if stale_use {
            // Writes go through the writer; the request doesn't wait for this one.
            let (store, id) = (self.store.clone(), owner.token_id);
            tokio::spawn(async move {
                if let Err(e) = store.touch_api_token(id).await {
                    tracing::warn!(error = %e, "could not record an API token's use");
                }
            });
        }
        Ok(Caller {
            user: owner.user,
            // A stream on a token without expiry is still re-authenticated daily.
            expires_at: owner.expires_unix.unwrap_or_else(|| now_secs() + 24 * 3600),
            credential: Credential::ApiToken {
                id: owner.token_id,
                scopes: owner.scopes,
            },
        })
    }
}
