//! A session after its login: trading a refresh token for a new pair (rotation, with a
//! grace window for replays and reuse detection), adopting the original Django app's
//! refresh tokens after an import, and logging out.
//!
//! A rotation checks, in its own transaction, that the account is still active at the
//! credentials generation the token was issued at, and copies the token's `auth_time`:
//! refreshing keeps a session going, never makes its password login more recent.

use super::accounts::{Tokens, new_refresh};
use super::{DomainError, RefreshRefusal};
use crate::auth::jwt::{Claims, Grant, Jwt, TokenType};
use crate::auth::session::token_generation;
use crate::clock::{now_secs, now_secs_f64};
use crate::store::Store;
use crate::store::tokens::{IMPORTED_AT, NewRefresh, Rotation};
use crate::store::users::FIRST_GENERATION;

/// Trades a refresh token for a new pair (rotation), bound to the same generation and
/// carrying the same `auth_time` (a refresh never makes a session's password login more
/// recent). Presented again within `grace` seconds it gets the same pair; after that, it
/// counts as stolen and its whole login is revoked. The original app's refresh tokens
/// count only when issued before the import ([`token_generation`]).
pub async fn refresh(
    store: &Store,
    jwt: &std::sync::Arc<Jwt>,
    grace: f64,
    token: &str,
) -> Result<Tokens, DomainError> {
    let claims = jwt
        .verify(token, TokenType::Refresh, now_secs())
        .map_err(|e| DomainError::Refresh(RefreshRefusal::Token(e)))?;
    let imported_at = match claims.generation {
        Some(_) => None,
        None => store
            .setting(IMPORTED_AT)
            .await?
            .and_then(|v| v.parse::<i64>().ok()),
    };
    let Some(generation) = token_generation(&claims, imported_at) else {
        return Err(DomainError::Refresh(RefreshRefusal::Unknown));
    };
    let mut rotation = rotate(store, jwt, grace, &claims, generation).await?;
    if matches!(rotation, Rotation::Unknown)
        && claims.generation.is_none()
        && adopt(store, &claims).await?
    {
        rotation = rotate(store, jwt, grace, &claims, generation).await?;
    }
    match rotation {
        Rotation::Rotated(pair) | Rotation::Replayed(pair) => {
            serde_json::from_str(&pair).map_err(|e| DomainError::Internal(e.to_string()))
        }
        Rotation::ReuseDetected => {
            tracing::warn!(
                user_id = claims.user_id,
                "spent refresh token presented again: its login's tokens are revoked"
            );
            Err(DomainError::Refresh(RefreshRefusal::Reused))
        }
        Rotation::Invalid | Rotation::Unknown => Err(DomainError::Refresh(RefreshRefusal::Unknown)),
        Rotation::InactiveUser => Err(DomainError::Refresh(RefreshRefusal::NoActiveAccount)),
    }
}

/// A refresh token signed with our key that was never issued here, adopted when the
/// original Django app issued it before its accounts were imported (checked by the
/// caller): it is stored as a live token of a new login, to be rotated once like any
/// other, if the account is still active at the generation it was imported with (no
/// password change or deactivation since), checked in the same write.
async fn adopt(store: &Store, claims: &Claims) -> Result<bool, DomainError> {
    let token = NewRefresh {
        jti: claims.jti.clone(),
        user_id: claims.user_id,
        expires_at: claims.exp,
    };
    // Stored here, or already by a concurrent request (which then rotated it, or will).
    let adopted = store
        .insert_refresh(token, FIRST_GENERATION, now_secs())
        .await?;
    if adopted {
        tracing::info!(
            user_id = claims.user_id,
            "adopted a refresh token the original app issued"
        );
    }
    Ok(adopted)
}

async fn rotate(
    store: &Store,
    jwt: &std::sync::Arc<Jwt>,
    grace: f64,
    claims: &Claims,
    generation: i64,
) -> Result<Rotation, DomainError> {
    let jwt = jwt.clone();
    let auth_time = claims.auth_time;
    Ok(store
        .rotate_refresh(
            claims.jti.clone(),
            generation,
            now_secs_f64(),
            grace,
            move |user_id, generation| {
                let now = now_secs();
                let grant = Grant {
                    user_id,
                    generation,
                    auth_time,
                };
                let refresh = jwt.issue(TokenType::Refresh, grant, now);
                let access = jwt.issue(TokenType::Access, grant, now);
                let next = new_refresh(&refresh);
                let pair = Tokens {
                    access: access.token,
                    refresh: refresh.token,
                };
                (serde_json::to_string(&pair).unwrap_or_default(), next)
            },
        )
        .await?)
}

/// Logs out: revokes the refresh token's whole login.
pub async fn revoke(store: &Store, jwt: &Jwt, token: &str) -> Result<(), DomainError> {
    let claims = jwt
        .verify(token, TokenType::Refresh, now_secs())
        .map_err(|e| DomainError::Refresh(RefreshRefusal::Token(e)))?;
    if store
        .revoke_refresh_family(claims.jti, now_secs_f64())
        .await?
    {
        Ok(())
    } else {
        Err(DomainError::Refresh(RefreshRefusal::Unknown))
    }
}
