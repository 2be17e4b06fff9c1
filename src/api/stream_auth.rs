//! Who is opening a stream: from `Authorization: Bearer <access or tlp_ token>`, or, for
//! browsers (neither a WebSocket nor an `EventSource` can set headers), from a single-use
//! `?ticket=` (`POST /api/stream-tickets/`).
//!
//! No credential is taken from a URL: URLs end up in proxy logs and browser history.
//! `?token=<access>` is refused (401 `token_in_url`) unless the operator allows it with
//! the deprecated `--allow-token-in-url`; a personal API token in any query parameter is
//! refused whatever the flag. A request carrying more than one credential (two tickets,
//! two tokens, a ticket beside a header…) is refused rather than guessed at.

use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions, registry::Registry};

use super::security::bearer_token;
use crate::AppState;
use crate::auth::{API_TOKEN_PREFIX, AuthError, Caller};
use crate::error::ApiError;

/// The caller of `GET /ws/tasks/` and `GET /api/events/`, authenticated before the other
/// parameters are read, as the Bearer scheme is on every other route: a request without
/// a credential is a 401 whatever else is wrong with it. It reads the query itself; the
/// operations' `ticket` and `token` parameters are there for the document.
pub struct StreamCaller(pub Caller);

impl<'a> ApiExtractor<'a> for StreamCaller {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];
    type ParamType = ();
    type ParamRawType = ();

    /// Documented as the Bearer scheme (either of its names), as every protected operation.
    fn register(registry: &mut Registry) {
        <Caller as ApiExtractor>::register(registry);
    }

    fn security_schemes() -> Vec<&'static str> {
        <Caller as ApiExtractor>::security_schemes()
    }

    async fn from_request(
        req: &'a poem::Request,
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
        let credential = credential(
            header,
            req.uri().query().unwrap_or_default(),
            state.limits.allow_token_in_url,
        )?;
        let auth = state.authenticator();
        let caller = match credential {
            StreamCredential::Header(token) | StreamCredential::QueryToken(token) => {
                auth.authenticate(&token).await?
            }
            StreamCredential::Ticket(ticket) => auth.redeem_ticket(&ticket).await?,
        };
        Ok(StreamCaller(caller))
    }
}

/// Where a stream request's one credential is.
#[derive(Debug, PartialEq, Eq)]
enum StreamCredential {
    /// `Authorization: Bearer <access or tlp_ token>`.
    Header(String),
    /// `?ticket=<tlt_ ticket>`.
    Ticket(String),
    /// `?token=<access>`, with `--allow-token-in-url` only.
    QueryToken(String),
}

/// The one credential of a stream request with `Authorization` header `header` and query
/// string `query`; see the module documentation for what is refused.
fn credential(
    header: Option<&str>,
    query: &str,
    allow_token_in_url: bool,
) -> Result<StreamCredential, AuthError> {
    // Every `token` and `ticket`, not only the first of each: a second one must not slip
    // past the checks below because the first was harmless.
    let pairs = serde_urlencoded::from_str::<Vec<(String, String)>>(query).unwrap_or_default();
    let tokens: Vec<&str> = values(&pairs, "token");
    let tickets: Vec<&str> = values(&pairs, "ticket");
    if tokens
        .iter()
        .chain(&tickets)
        .any(|v| v.starts_with(API_TOKEN_PREFIX))
    {
        return Err(AuthError::TokenInUrl);
    }
    let in_query = tokens.len() + tickets.len();
    if in_query > 1 || (in_query == 1 && header.is_some()) {
        return Err(AuthError::MultipleCredentials);
    }
    if !tokens.is_empty() && !allow_token_in_url {
        return Err(AuthError::AccessTokenInUrl);
    }
    if let Some(ticket) = tickets.first() {
        return Ok(StreamCredential::Ticket((*ticket).to_owned()));
    }
    if let Some(token) = tokens.first() {
        return Ok(StreamCredential::QueryToken((*token).to_owned()));
    }
    match header {
        Some(h) => Ok(StreamCredential::Header(bearer_token(Some(h))?.to_owned())),
        None => Err(AuthError::NotProvided),
    }
}

/// Every value of query parameter `name`.
fn values<'q>(pairs: &'q [(String, String)], name: &str) -> Vec<&'q str> {
    pairs
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::StreamCredential::*;
    use super::*;

    const API: &str = "tlp_0123456789abcdefghijABCDEFGHIJ0123456789";

    #[test]
    fn one_credential_from_one_place() {
        assert_eq!(
            credential(Some("Bearer abc"), "since=3", false),
            Ok(Header("abc".into()))
        );
        assert_eq!(
            credential(None, "ticket=tlt_x&since=3", false),
            Ok(Ticket("tlt_x".into()))
        );
        assert_eq!(
            credential(None, "token=jwt", true),
            Ok(QueryToken("jwt".into()))
        );
        assert_eq!(credential(None, "", false), Err(AuthError::NotProvided));
        assert_eq!(
            credential(Some("Basic abc"), "", false),
            Err(AuthError::NotProvided)
        );
    }

    #[test]
    fn an_access_token_in_the_url_is_refused_unless_allowed() {
        assert_eq!(
            credential(None, "token=jwt", false),
            Err(AuthError::AccessTokenInUrl)
        );
        assert_eq!(
            credential(None, "token=", false),
            Err(AuthError::AccessTokenInUrl)
        );
    }

    #[test]
    fn an_api_token_in_any_query_parameter_is_refused() {
        for allowed in [false, true] {
            for query in [
                format!("token={API}"),
                format!("token=jwt&token={API}"),
                format!("ticket=tlt_x&token={API}"),
                format!("ticket={API}"),
                format!("token={}", API.replace('_', "%5F")),
            ] {
                assert_eq!(
                    credential(Some("Bearer abc"), &query, allowed),
                    Err(AuthError::TokenInUrl),
                    "{query}"
                );
                assert_eq!(
                    credential(None, &query, allowed),
                    Err(AuthError::TokenInUrl),
                    "{query}"
                );
            }
        }
    }

    #[test]
    fn more_than_one_credential_is_refused() {
        for (header, query) in [
            (None, "ticket=a&ticket=b"),
            (None, "token=a&token=b"),
            (None, "ticket=a&token=b"),
            (Some("Bearer abc"), "ticket=a"),
            (Some("Bearer abc"), "token=a"),
        ] {
            assert_eq!(
                credential(header, query, true),
                Err(AuthError::MultipleCredentials),
                "{header:?} {query}"
            );
        }
    }
}
