//! Authentication: argon2id passwords (and the Django app's hashes, verified once and
//! replaced), simplejwt-compatible JWTs, personal API tokens and stream tickets, and the
//! check that turns a credential into the [`Caller`] every protected operation acts as.
//! Nothing here knows HTTP: how a request presents a credential is `api::security`'s.

mod account_cache;
mod api_token;
mod authenticator;
mod caller;
pub mod django;
mod error;
pub mod floor;
pub mod jwt;
pub mod password;
pub mod queue;
mod scope;
pub mod session;
pub mod tickets;

pub use account_cache::{ACCOUNT_CACHE_MAX, ACCOUNT_CACHE_TTL, AccountCache, AccountState};
pub(crate) use api_token::random_token;
pub use api_token::{API_TOKEN_PREFIX, hash_api_token, new_api_token};
pub use authenticator::Authenticator;
pub use caller::{Caller, Credential};
pub use error::AuthError;
pub use scope::{Scope, TOKEN_SCOPES};
pub use session::Session;
