//! `POST /api/oauth/token/`: logging in as OAuth 2.0 speaks it (RFC 6749: the password
//! grant of §4.3 and the refresh grant of §6), so that Swagger UI's **Authorize** dialog,
//! and any OAuth2 client library, log in with a username and password by themselves.
//!
//! A path of its own, not `/api/token/`: that one keeps the original's simplejwt shapes
//! (`{"refresh", "access"}`, JSON bodies, DRF errors) for the original's clients, while
//! OAuth2 wants form bodies, `{"access_token", …}` and `{"error", …}`. It sits under
//! `/api/oauth/` so that the OAuth2 vocabulary stays in one place. Both log in through
//! the same function ([`super::auth::login_from_request`]): the same throttles (an attempt here counts
//! against `/api/token/` and the other way round), hashing queue, timing and refusal of
//! inactive accounts.
//!
//! Clients are public (RFC 6749 §2.1): there are none to register, so `client_id`,
//! `client_secret` and HTTP Basic client credentials (Swagger UI sends an empty pair)
//! are accepted and ignored.

mod refusal;

use poem::{Request, RequestBody, web::Data};
use poem_openapi::{
    ApiExtractor, ApiExtractorType, ApiResponse, Enum, ExtractParamOptions, Object, OpenApi,
    payload::Json,
    registry::{MetaMediaType, MetaRequest, Registry},
    types::Type,
};
use serde_json::{Map, Value};

pub use refusal::OAuthRefusal;
use refusal::{bad, describe, invalid_request, refused};

use super::ApiTags;
use super::auth::{login_fields, login_from_request};
use super::body::FORM;
use super::fields::{Chars, chars, field};
use crate::AppState;
use crate::domain::FieldErrors;
use crate::domain::accounts::Tokens;
use crate::domain::sessions;

/// Where the token endpoint is, as the OpenAPI document's OAuth2 flow names it.
pub const TOKEN_URL: &str = "/api/oauth/token/";

#[derive(Default)]
pub struct OAuthApi;

/// Which grant.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum GrantType {
    /// Log in with `username` and `password` (RFC 6749 §4.3).
    Password,
    /// Trade a `refresh_token` for a new pair (RFC 6749 §6).
    RefreshToken,
}

/// A token request, form-encoded (`application/x-www-form-urlencoded`) as RFC 6749
/// requires. A parameter sent empty counts as left out; unknown parameters are ignored;
/// `client_id` and `client_secret` are accepted and ignored (clients are public).
#[derive(Object, Debug)]
#[oai(rename = "OAuthTokenRequest")]
pub struct OAuthTokenRequest {
    pub grant_type: GrantType,
    /// With `grant_type=password`.
    pub username: Option<String>,
    /// With `grant_type=password`.
    pub password: Option<String>,
    /// With `grant_type=refresh_token`: a refresh token from this endpoint or from
    /// `POST /api/token/` (it is spent; keep the new one).
    pub refresh_token: Option<String>,
    /// Leave it out: this server defines no scopes, and a token may do whatever its
    /// account may. A non-empty scope is `invalid_scope`.
    pub scope: Option<String>,
}

/// The tokens (RFC 6749 §5.1).
#[derive(Object, Debug)]
#[oai(rename = "OAuthToken")]
pub struct OAuthToken {
    /// Send as `Authorization: Bearer <access_token>`.
    pub access_token: String,
    /// Always `bearer`.
    pub token_type: String,
    /// Seconds the access token lasts (300 by default).
    pub expires_in: u64,
    /// Trade for a new pair with `grant_type=refresh_token` (or at
    /// `POST /api/token/refresh/`); it is spent then. Lasts 1 day by default.
    pub refresh_token: String,
}

/// Why a token request was refused.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename = "OAuthErrorCode", rename_all = "snake_case")]
pub enum OAuthErrorCode {
    /// A parameter is missing, repeated or invalid, or the body is not form-encoded.
    InvalidRequest,
    /// Wrong username or password, an unknown or inactive account; or a refresh token
    /// that is invalid, expired, spent or revoked.
    InvalidGrant,
    /// `grant_type` is neither `password` nor `refresh_token`.
    UnsupportedGrantType,
    /// A scope was asked for; this server defines none.
    InvalidScope,
    /// Too many attempts, too many passwords being checked at once, or the database is
    /// away: retry after `Retry-After` seconds.
    TemporarilyUnavailable,
    /// Something failed on the server; details are in its log, never here.
    ServerError,
}

/// An OAuth2 error (RFC 6749 §5.2).
#[derive(Object, Debug)]
#[oai(rename = "OAuthError")]
pub struct OAuthError {
    pub error: OAuthErrorCode,
    /// What went wrong, in words.
    pub error_description: String,
}

const NO_STORE: &str = "no-store";
const NO_CACHE: &str = "no-cache";

/// Every answer, success or not, carries `Cache-Control: no-store` and `Pragma: no-cache`
/// (RFC 6749 §5.1).
#[derive(ApiResponse, Debug)]
pub enum OAuthTokenResponse {
    /// Logged in (or the refresh token traded): the access token and a new refresh token.
    #[oai(status = 200)]
    Ok(
        Json<OAuthToken>,
        /// `no-store`.
        #[oai(header = "Cache-Control")]
        String,
        /// `no-cache`.
        #[oai(header = "Pragma")]
        String,
    ),
    /// `invalid_request`, `invalid_grant`, `unsupported_grant_type` or `invalid_scope`
    /// (RFC 6749 §5.2). A wrong password and an unknown or inactive account get the
    /// same `invalid_grant`.
    #[oai(status = 400)]
    BadRequest(
        Json<OAuthError>,
        #[oai(header = "Cache-Control")] String,
        #[oai(header = "Pragma")] String,
    ),
    /// Too many login attempts (counted together with `POST /api/token/`'s):
    /// `temporarily_unavailable`; retry after `Retry-After` seconds.
    #[oai(status = 429)]
    TooManyRequests(
        Json<OAuthError>,
        #[oai(header = "Retry-After")] u64,
        #[oai(header = "Cache-Control")] String,
        #[oai(header = "Pragma")] String,
    ),
    /// `server_error`: details are in the server's log.
    #[oai(status = 500)]
    Internal(
        Json<OAuthError>,
        #[oai(header = "Cache-Control")] String,
        #[oai(header = "Pragma")] String,
    ),
    /// `temporarily_unavailable`: too many passwords are being checked at once, or the
    /// database is away; retry after `Retry-After` seconds.
    #[oai(status = 503)]
    ServiceUnavailable(
        Json<OAuthError>,
        #[oai(header = "Retry-After")] u64,
        #[oai(header = "Cache-Control")] String,
        #[oai(header = "Pragma")] String,
    ),
}

/// The parameters RFC 6749 defines for this endpoint: each at most once (§3.2).
const PARAMETERS: &[&str] = &[
    "grant_type",
    "username",
    "password",
    "refresh_token",
    "scope",
    "client_id",
    "client_secret",
];

/// A token request's form, read whole; what is wrong with it is the handler's to say.
pub struct OAuthForm(Result<Map<String, Value>, OAuthRefusal>);

impl<'a> ApiExtractor<'a> for OAuthForm {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::RequestObject];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        OAuthTokenRequest::register(registry);
    }

    fn request_meta() -> Option<MetaRequest> {
        Some(MetaRequest {
            description: None,
            content: vec![MetaMediaType {
                content_type: FORM,
                schema: OAuthTokenRequest::schema_ref(),
            }],
            required: true,
        })
    }

    async fn from_request(
        req: &'a Request,
        body: &mut RequestBody,
        _opts: ExtractParamOptions<()>,
    ) -> poem::Result<Self> {
        let limit = req
            .data::<AppState>()
            .map_or(1 << 20, |s| s.limits.max_body_bytes);
        let read = match body.take() {
            Ok(b) => b.into_bytes_limit(limit).await.map_err(|e| match e {
                poem::error::ReadBodyError::PayloadTooLarge => invalid_request(format!(
                    "The body is too large: the limit is {limit} bytes."
                )),
                e => invalid_request(format!("Could not read the request body: {e}")),
            }),
            Err(_) => Ok(Default::default()),
        };
        Ok(OAuthForm(
            read.and_then(|bytes| parse_form(req.content_type(), &bytes)),
        ))
    }
}

/// The form's parameters: form-encoded only; a parameter sent empty is left out (§3.1);
/// one of RFC 6749's sent twice is refused (§3.2).
fn parse_form(
    content_type: Option<&str>,
    bytes: &[u8],
) -> Result<Map<String, Value>, OAuthRefusal> {
    let essence = content_type.map(|ct| {
        ct.split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
    });
    if essence.as_deref() != Some(FORM) {
        return Err(invalid_request(
            "Send the parameters form-encoded (Content-Type: application/x-www-form-urlencoded), as RFC 6749 requires.",
        ));
    }
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(bytes)
        .map_err(|_| invalid_request("The form could not be read."))?;
    let mut seen: Vec<&str> = Vec::new();
    let mut params = Map::new();
    for (name, value) in &pairs {
        if let Some(known) = PARAMETERS.iter().find(|p| **p == name) {
            if seen.contains(known) {
                return Err(invalid_request(format!(
                    "The {known} parameter is given more than once."
                )));
            }
            seen.push(known);
        }
        if !value.is_empty() {
            params.insert(name.clone(), Value::String(value.clone()));
        }
    }
    Ok(params)
}

#[OpenApi(tag = "ApiTags::Auth")]
impl OAuthApi {
    /// Log in with OAuth 2.0 (password and refresh_token grants)
    ///
    /// What Swagger UI's **Authorize** dialog calls with your username and password (the
    /// `oauth2` scheme's password flow). The same login as `POST /api/token/` — the same
    /// throttles, counted together, the same answer for a wrong password, an unknown or an
    /// inactive account — spoken as RFC 6749: a form-encoded body
    /// (`grant_type=password&username=…&password=…`, or
    /// `grant_type=refresh_token&refresh_token=…`), tokens as
    /// `{access_token, token_type, expires_in, refresh_token}`, errors as
    /// `{error, error_description}`. Refresh tokens rotate as at
    /// `POST /api/token/refresh/`, and either endpoint's refresh token works at the other.
    #[oai(
        path = "/api/oauth/token",
        method = "post",
        operation_id = "oauth_token"
    )]
    async fn oauth_token(
        &self,
        req: &Request,
        state: Data<&AppState>,
        form: OAuthForm,
    ) -> OAuthTokenResponse {
        match grant(req, &state, form.0).await {
            Ok(Tokens { access, refresh }) => OAuthTokenResponse::Ok(
                Json(OAuthToken {
                    access_token: access,
                    token_type: "bearer".into(),
                    expires_in: state.jwt.access_ttl.as_secs(),
                    refresh_token: refresh,
                }),
                NO_STORE.into(),
                NO_CACHE.into(),
            ),
            Err(refusal) => refusal.into(),
        }
    }
}

async fn grant(
    req: &Request,
    state: &AppState,
    form: Result<Map<String, Value>, OAuthRefusal>,
) -> Result<Tokens, OAuthRefusal> {
    let params = form?;
    let grant = match params.get("grant_type").and_then(Value::as_str) {
        None => return Err(invalid_request("grant_type: This field is required.")),
        Some("password") => GrantType::Password,
        Some("refresh_token") => GrantType::RefreshToken,
        Some(_) => {
            return Err(bad(
                OAuthErrorCode::UnsupportedGrantType,
                "grant_type must be password or refresh_token.",
            ));
        }
    };
    if params.contains_key("scope") {
        return Err(bad(
            OAuthErrorCode::InvalidScope,
            "This server defines no scopes: leave scope out (a token may do whatever its account may).",
        ));
    }
    match grant {
        GrantType::Password => {
            let (username, password) = login_fields(&params).map_err(refused)?;
            login_from_request(req, state, &username, password)
                .await
                .map_err(refused)
        }
        GrantType::RefreshToken => {
            let mut errors = FieldErrors::default();
            let token = field(&params, "refresh_token", true, &mut errors, |v| {
                chars(v, Chars::trimmed(4096))
            });
            let Some(token) = token else {
                return Err(invalid_request(describe(&errors)));
            };
            let grace = state.limits.refresh_grace.as_secs_f64();
            sessions::refresh(&state.store, &state.jwt, grace, &token)
                .await
                .map_err(refused)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(r: Result<Map<String, Value>, OAuthRefusal>) -> String {
        match r {
            Err(OAuthRefusal::Bad(OAuthErrorCode::InvalidRequest, description)) => description,
            other => panic!("expected invalid_request, got {other:?}"),
        }
    }

    #[test]
    fn only_forms_are_read() {
        for ct in [None, Some("application/json"), Some("text/plain")] {
            assert!(code(parse_form(ct, b"grant_type=password")).contains("form-encoded"));
        }
        let ok = parse_form(
            Some("application/x-www-form-urlencoded; charset=UTF-8"),
            b"grant_type=password&username=a+b&scope=&x=1&x=2",
        )
        .unwrap();
        assert_eq!(ok["username"], "a b");
        assert!(!ok.contains_key("scope"), "an empty parameter is left out");
    }

    #[test]
    fn a_parameter_of_rfc_6749_given_twice_is_refused() {
        let r = parse_form(Some(FORM), b"grant_type=password&password=a&password=");
        assert!(code(r).contains("password parameter is given more than once"));
    }
}
