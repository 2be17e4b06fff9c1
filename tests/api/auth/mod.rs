//! Authentication: logging in, access and refresh tokens, API tokens, OAuth 2.0, when
//! credentials end, logins racing account changes, and login and registration throttling.

pub(crate) mod api_tokens;
pub(crate) mod credentials;
pub(crate) mod login;
pub(crate) mod oauth;
pub(crate) mod session_store;
pub(crate) mod sessions;
pub(crate) mod throttle;
pub(crate) mod tokens;
