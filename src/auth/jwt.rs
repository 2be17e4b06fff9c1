//! simplejwt-compatible JSON Web Tokens: HS256 only, claims
//! `{token_type, exp, iat, jti, user_id}`, access and refresh never interchangeable.

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

    /// Signs a token of type `ty` for `user_id`, issued at `now` (unix seconds).
    pub fn issue(&self, ty: TokenType, user_id: i64, now: i64) -> Signed {
        let ttl = match ty {
            TokenType::Access => self.access_ttl,
            TokenType::Refresh => self.refresh_ttl,
        };
        let claims = Claims {
            token_type: ty.as_str().to_owned(),
            exp: now.saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX)),
            iat: now,
            jti: crate::clock::new_id(),
            user_id,
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
        let t = j.issue(TokenType::Access, 7, now);
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
    fn an_expired_token_is_invalid() {
        let j = jwt();
        let t = j.issue(TokenType::Access, 7, now_secs() - 301);
        assert_eq!(
            j.verify(&t.token, TokenType::Access, now_secs())
                .unwrap_err(),
            TokenError::Invalid
        );
    }

    #[test]
    fn a_token_signed_with_another_key_is_invalid() {
        let other = Jwt::new(b"other", Duration::from_secs(300), Duration::from_secs(300));
        let t = other.issue(TokenType::Access, 7, now_secs());
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
