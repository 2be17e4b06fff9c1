//! The security schemes in HTTP terms: the `Authorization: Bearer` header read into a
//! [`Caller`], and the two schemes the OpenAPI document names for it (`bearerAuth`, and
//! `oauth2`'s password flow at [`TOKEN_URL`]). What a credential is and how it is checked
//! is `auth`'s; this is only how a request presents one.
//!
//! Implemented by hand rather than derived so the 401 bodies match DRF + simplejwt
//! exactly (which header problem, which token problem), as clients of the original expect.

use poem::Request;
use poem_openapi::{
    ApiExtractor, ApiExtractorType, ExtractParamOptions,
    registry::{MetaOAuthFlow, MetaOAuthFlows, MetaSecurityScheme, Registry},
};

use super::oauth::TOKEN_URL;
use crate::auth::{AuthError, Authenticator, Caller};

/// The name of the security scheme in the OpenAPI document.
pub const SCHEME_NAME: &str = "bearerAuth";

/// The name of the OAuth2 scheme in the OpenAPI document: the same access tokens, got
/// through OAuth2's password flow (Swagger UI's Authorize dialog asks for a username and
/// password). Every protected operation takes either scheme.
pub const OAUTH2_SCHEME_NAME: &str = "oauth2";

impl<'a> ApiExtractor<'a> for Caller {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        registry.create_security_scheme(
            SCHEME_NAME,
            MetaSecurityScheme {
                ty: "http",
                description: Some(
                    "An access token from `POST /api/token/`, or a personal API token (`tlp_…`, from `POST /api/tokens/`), sent as `Authorization: Bearer <token>`.",
                ),
                name: None,
                key_in: None,
                scheme: Some("bearer"),
                bearer_format: Some("JWT"),
                flows: None,
                openid_connect_url: None,
            },
        );
        registry.create_security_scheme(
            OAUTH2_SCHEME_NAME,
            MetaSecurityScheme {
                ty: "oauth2",
                description: Some(
                    "Log in with your username and password (OAuth 2.0's password flow, `POST /api/oauth/token/`; no client id or secret). The access token is then sent as `Authorization: Bearer <token>`, as with bearerAuth.",
                ),
                name: None,
                key_in: None,
                scheme: None,
                bearer_format: None,
                flows: Some(MetaOAuthFlows {
                    implicit: None,
                    password: Some(MetaOAuthFlow {
                        authorization_url: None,
                        token_url: Some(TOKEN_URL),
                        refresh_url: Some(TOKEN_URL),
                        scopes: Vec::new(),
                    }),
                    client_credentials: None,
                    authorization_code: None,
                }),
                openid_connect_url: None,
            },
        );
    }

    /// Either scheme (each is an alternative requirement in the document).
    fn security_schemes() -> Vec<&'static str> {
        vec![SCHEME_NAME, OAUTH2_SCHEME_NAME]
    }

    async fn from_request(
        req: &'a Request,
        _body: &mut poem::RequestBody,
        _opts: ExtractParamOptions<()>,
    ) -> poem::Result<Self> {
        let auth = req
            .data::<Authenticator>()
            .ok_or_else(|| AuthError::Internal("Authenticator missing from request".into()))?;
        let header = req
            .headers()
            .get(poem::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let token = bearer_token(header)?;
        Ok(auth.authenticate(token).await?)
    }
}

/// The token in an `Authorization` header, with simplejwt's answers for bad headers: no
/// header or another scheme (case-sensitive `Bearer`) is "not provided"; `Bearer` with
/// zero or several values is `bad_authorization_header`.
pub fn bearer_token(header: Option<&str>) -> Result<&str, AuthError> {
    let mut parts = header.unwrap_or_default().split_ascii_whitespace();
    if parts.next() != Some("Bearer") {
        return Err(AuthError::NotProvided);
    }
    match (parts.next(), parts.next()) {
        (Some(token), None) => Ok(token),
        _ => Err(AuthError::BadHeader),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn only_one_bearer_value_is_a_token() {
        assert_eq!(bearer_token(Some("Bearer abc")), Ok("abc"));
        assert_eq!(bearer_token(None), Err(AuthError::NotProvided));
        assert_eq!(
            bearer_token(Some("bearer abc")),
            Err(AuthError::NotProvided)
        );
        assert_eq!(bearer_token(Some("Bearer")), Err(AuthError::BadHeader));
        assert_eq!(bearer_token(Some("Bearer a b")), Err(AuthError::BadHeader));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn any_authorization_header_is_handled(header in ".{0,200}") {
            if let Ok(token) = bearer_token(Some(&header)) {
                prop_assert!(header.starts_with("Bearer"));
                prop_assert!(!token.is_empty());
            }
        }
    }
}
