//! Authentication: argon2id passwords, simplejwt-compatible JWTs, and the Bearer
//! security scheme every protected operation takes as its `Caller` argument.

pub mod jwt;
pub mod password;

use poem::Request;
use poem_openapi::{
    ApiExtractor, ApiExtractorType, ExtractParamOptions,
    registry::{MetaSecurityScheme, Registry},
};

use crate::AppState;
use crate::error::{ApiError, ErrorDetail, TokenMessage, detail};
use crate::model::User;
use jwt::{TokenError, TokenType, now_secs};

/// The name of the security scheme in the OpenAPI document.
pub const SCHEME_NAME: &str = "bearerAuth";

/// The authenticated user of a request.
///
/// Implemented by hand rather than derived so the 401 bodies match DRF + simplejwt
/// exactly (which header problem, which token problem), as clients of the original expect.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: User,
    /// When the access token expires (unix seconds): streams close then.
    pub expires_at: i64,
}

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
                    "An access token from `POST /api/token/`, sent as `Authorization: Bearer <access>`.",
                ),
                name: None,
                key_in: None,
                scheme: Some("bearer"),
                bearer_format: Some("JWT"),
                flows: None,
                openid_connect_url: None,
            },
        );
    }

    fn security_schemes() -> Vec<&'static str> {
        vec![SCHEME_NAME]
    }

    async fn from_request(
        req: &'a Request,
        _body: &mut poem::RequestBody,
        _opts: ExtractParamOptions<()>,
    ) -> poem::Result<Self> {
        let state = req
            .data::<AppState>()
            .ok_or_else(|| ApiError::internal("AppState missing from request"))?;
        let header = req
            .headers()
            .get(poem::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let token = bearer_token(header)?;
        let (user, expires_at) = authenticate_with_expiry(state, token).await?;
        Ok(Caller { user, expires_at })
    }
}

/// The token in an `Authorization` header, with simplejwt's answers for bad headers: no
/// header or another scheme (case-sensitive `Bearer`) is "not provided"; `Bearer` with
/// zero or several values is `bad_authorization_header`.
pub fn bearer_token(header: Option<&str>) -> Result<&str, ApiError> {
    let mut parts = header.unwrap_or_default().split_ascii_whitespace();
    if parts.next() != Some("Bearer") {
        return Err(ApiError::not_authenticated());
    }
    match (parts.next(), parts.next()) {
        (Some(token), None) => Ok(token),
        _ => Err(ApiError::unauthorized(ErrorDetail {
            detail: "Authorization header must contain two space-delimited values".into(),
            code: Some("bad_authorization_header".into()),
            messages: None,
        })),
    }
}

/// Checks an access token and loads its active user, with the token's expiry. Used by
/// the Bearer scheme and by the WebSocket's `?token=`.
pub async fn authenticate_with_expiry(
    state: &AppState,
    token: &str,
) -> Result<(User, i64), ApiError> {
    let claims = state
        .jwt
        .verify(token, TokenType::Access, now_secs())
        .map_err(|e| invalid_access_token(&e))?;
    let account = state.store.account_by_id(claims.user_id).await?;
    match account {
        Some(a) if a.is_active => Ok((a.user, claims.exp)),
        Some(_) => Err(ApiError::unauthorized(coded(
            "User is inactive",
            "user_inactive",
        ))),
        None => Err(ApiError::unauthorized(coded(
            "User not found",
            "user_not_found",
        ))),
    }
}

/// simplejwt's answer to a bad access token on a protected route.
pub fn invalid_access_token(e: &TokenError) -> ApiError {
    ApiError::unauthorized(ErrorDetail {
        detail: "Given token not valid for any token type".into(),
        code: Some("token_not_valid".into()),
        messages: Some(vec![TokenMessage {
            token_class: "AccessToken".into(),
            token_type: "access".into(),
            message: e.to_string(),
        }]),
    })
}

/// simplejwt's answer to a bad refresh token on the token endpoints.
pub fn invalid_refresh_token(e: &TokenError) -> ApiError {
    ApiError::unauthorized(coded(&e.to_string(), "token_not_valid"))
}

pub fn coded(text: &str, code: &str) -> ErrorDetail {
    ErrorDetail {
        code: Some(code.into()),
        ..detail(text)
    }
}
