//! Authentication: logging in, access and refresh tokens, API tokens, OAuth 2.0, when
//! credentials end, logins racing account changes, and login and registration throttling.

mod api_tokens;
mod credentials;
mod login;
mod oauth;
mod session_store;
mod sessions;
mod throttle;
mod tokens;
