//! simplejwt-compatible JSON Web Tokens: HS256 only, claims
//! `{token_type, exp, iat, jti, user_id}`, access and refresh never interchangeable.
//!
//! Ours add two claims simplejwt ignores: `gen`, the account's credentials generation
//! when the session began (a token is refused once the account has left it: a password
//! change, a deactivation), and `auth_time`, when the password was last proved (kept
//! across refreshes; sensitive actions need it recent). The original Django app's tokens
//! carry neither.

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// How far in the future an `iat` may lie before the token is refused (clock skew).
const MAX_IAT_SKEW_SECS: i64 = 30;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenType {
    Access,
    Refresh,
}

impl TokenType {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenType::Access => "access",
            TokenType::Refresh => "refresh",
        }
    }
}

#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Claims {
    pub token_type: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub user_id: i64,
    /// The account's credentials generation the token was issued at; absent in the
    /// original app's tokens.
    #[serde(rename = "gen", default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<i64>,
    /// When the session's password login was (unix seconds); absent in the original
    /// app's tokens and in those rotated from them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
}

/// Whose session a token belongs to, and what it carries from its login.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Grant {
    pub user_id: i64,
    /// The account's credentials generation the session is bound to.
    pub generation: i64,
    /// When the password was proved (the login); `None` for a session rotated from one of
    /// the original app's tokens, which never proved it here.
    pub auth_time: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Bad shape, bad signature, wrong algorithm, expired, not yet valid, missing claims.
    #[error("Token is invalid or expired")]
    Invalid,
    /// A valid token of the other type.
    #[error("Token has wrong type")]
    WrongType,
}

/// Signing keys and lifetimes.
pub struct Jwt {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
}

/// A freshly signed token and its claims.
pub struct Signed {
    pub token: String,
    pub claims: Claims,
}

impl Jwt {
    pub fn new(secret: &[u8], access_ttl: Duration, refresh_ttl: Duration) -> Jwt {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.validate_nbf = true;
        validation.required_spec_claims = ["exp".to_owned()].into_iter().collect();
        Jwt {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            access_ttl,
            refresh_ttl,
        }
    }

    /// Signs a token of type `ty` for `grant`'s session, issued at `now` (unix seconds).
    pub fn issue(&self, ty: TokenType, grant: Grant, now: i64) -> Signed {
        let ttl = match ty {
            TokenType::Access => self.access_ttl,
            TokenType::Refresh => self.refresh_ttl,
        };
        let claims = Claims {
            token_type: ty.as_str().to_owned(),
            exp: now.saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX)),
            iat: now,
            jti: crate::clock::new_id(),
            user_id: grant.user_id,
            generation: Some(grant.generation),
            auth_time: grant.auth_time,
        };
        // HMAC signing of a plain struct cannot fail; an empty token would simply be
        // rejected by every later check.
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .unwrap_or_default();
        Signed { token, claims }
    }

    /// Verifies signature, algorithm, expiry and type.
    pub fn verify(&self, token: &str, expected: TokenType, now: i64) -> Result<Claims, TokenError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|_| TokenError::Invalid)?;
        let claims = data.claims;
        if claims.iat > now + MAX_IAT_SKEW_SECS || claims.exp <= now {
            return Err(TokenError::Invalid);
        }
        if claims.token_type != expected.as_str() {
            return Err(TokenError::WrongType);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::now_secs;

    fn grant(user_id: i64) -> Grant {
        Grant {
            user_id,
            generation: 3,
            auth_time: Some(1_900_000_000),
        }
    }

    fn jwt() -> Jwt {
        Jwt::new(
            b"test-secret",
            Duration::from_secs(300),
            Duration::from_secs(86400),
        )
    }

    #[test]
    fn an_issued_access_token_verifies_as_access_only() {
        let j = jwt();
        let now = now_secs();
        let t = j.issue(TokenType::Access, grant(7), now);
        assert_eq!(
            j.verify(&t.token, TokenType::Access, now).unwrap().user_id,
            7
        );
        assert_eq!(
            j.verify(&t.token, TokenType::Refresh, now).unwrap_err(),
            TokenError::WrongType
        );
    }

    #[test]
    fn a_token_carries_its_generation_and_auth_time_and_the_original_s_carry_none() {
        let j = jwt();
        let now = now_secs();
        let t = j.issue(TokenType::Refresh, grant(7), now);
        let claims = j.verify(&t.token, TokenType::Refresh, now).unwrap();
        assert_eq!(
            (claims.generation, claims.auth_time),
            (Some(3), Some(1_900_000_000))
        );
        // simplejwt's claims only, as the original app signs them.
        let original = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &serde_json::json!({"token_type": "access", "exp": now + 60, "iat": now,
                                "jti": "abc", "user_id": 7}),
            &EncodingKey::from_secret(b"test-secret"),
        )
        .unwrap();
        let claims = j.verify(&original, TokenType::Access, now).unwrap();
        assert_eq!((claims.generation, claims.auth_time), (None, None));
    }

    #[test]
    fn an_expired_token_is_invalid() {
        let j = jwt();
        let t = j.issue(TokenType::Access, grant(7), now_secs() - 301);
        assert_eq!(
            j.verify(&t.token, TokenType::Access, now_secs())
                .unwrap_err(),
            TokenError::Invalid
        );
    }

    #[test]
    fn a_token_signed_with_another_key_is_invalid() {
        let other = Jwt::new(b"other", Duration::from_secs(300), Duration::from_secs(300));
        let t = other.issue(TokenType::Access, grant(7), now_secs());
        assert_eq!(
            jwt()
                .verify(&t.token, TokenType::Access, now_secs())
                .unwrap_err(),
            TokenError::Invalid
        );
    }

    #[test]
    fn an_alg_none_token_is_invalid() {
        let j = jwt();
        let now = now_secs();
        let header = base64_url(br#"{"alg":"none","typ":"JWT"}"#);
        let body = base64_url(
            format!(
                r#"{{"token_type":"access","exp":{},"iat":{now},"jti":"x","user_id":1}}"#,
                now + 100
            )
            .as_bytes(),
        );
        for token in [format!("{header}.{body}."), format!("{header}.{body}")] {
            assert_eq!(
                j.verify(&token, TokenType::Access, now).unwrap_err(),
                TokenError::Invalid
            );
        }
    }

    fn base64_url(b: &[u8]) -> String {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
    }
}

/// Property tests: any token string is refused without panicking.
#[cfg(test)]
mod proptests {
    use proptest::prelude::*;

    use super::{Jwt, TokenType};
    use crate::clock::now_secs;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn any_token_string_is_rejected_without_panicking(token in "[A-Za-z0-9_.=-]{0,400}") {
            let jwt = Jwt::new(
                b"fuzz-secret",
                std::time::Duration::from_secs(300),
                std::time::Duration::from_secs(300),
            );
            prop_assert!(jwt.verify(&token, TokenType::Access, now_secs()).is_err());
        }
    }
}
