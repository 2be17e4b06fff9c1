//! Accounts: registration, checking a password, logging in, and setting a password, with
//! the original's rules and messages.
//!
//! A login checks the password against a snapshot of the account, then issues its tokens
//! only if the account is still active at that snapshot's credentials generation, checked
//! in the same write that stores the refresh token ([`TokenStore::insert_refresh`]). A password
//! change or deactivation that commits first makes the login fail (401); one that commits
//! after it moves the generation on and revokes the token, so nothing the login got
//! survives the change. Refreshing and logging out are in [`super::sessions`].
//!
//! [`TokenStore::insert_refresh`]: crate::store::tokens::TokenStore::insert_refresh

use serde::{Deserialize, Serialize};

use super::password_policy::validate_password;
use super::validators::{USERNAME_MAX, is_valid_email, is_valid_username, normalize_username};
use super::{Chars, DomainError, FieldErrors, check_chars, check_field, unique_message};
use crate::auth::jwt::{Grant, Jwt, Signed, TokenType};
use crate::auth::password::{HashQueue, hash_password, needs_rehash};
use crate::clock::{now_secs, now_secs_f64};
use crate::model::User;
use crate::store::admin::AccountChange;
use crate::store::tokens::NewRefresh;
use crate::store::users::Account;
use crate::store::{Store, StoreError};
use crate::throttle::ThrottleError;
use crate::throttle::{Throttles, login_pair};

/// Passwords are never trimmed (the original trimmed them at registration but not at
/// login, which locked out anyone whose password began or ended with a space).
pub const PASSWORD: Chars = Chars {
    allow_blank: false,
    trim: false,
    max_length: Some(4096),
};

const USERNAME_INVALID: &str = "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.";

/// A registration's fields as given: `None` for a field that is missing or was already
/// refused (its message is in the errors handed to [`register`]).
#[derive(Debug, Default)]
pub struct Registration {
    pub username: Option<String>,
    pub email: Option<String>,
    pub password: Option<String>,
}

impl Registration {
    /// All three fields given (the command line).
    pub fn new(username: String, email: String, password: String) -> Registration {
        Registration {
            username: Some(username),
            email: Some(email),
            password: Some(password),
        }
    }
}

/// A login's pair of tokens (serialised `{access, refresh}`, as kept for replays).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tokens {
    pub access: String,
    pub refresh: String,
}

/// Validates a registration like the original's serializer (field order username, email,
/// password; uniqueness before password rules), hashes the password and creates the
/// account. The username is NFKC-normalised first, as Django's `create_user` does, and
/// checked as normalised. `errors` are what parsing the request already found; the
/// API hashes through its `queue`, the command line without one.
pub async fn register(
    store: &Store,
    input: Registration,
    mut errors: FieldErrors,
    queue: Option<&HashQueue>,
) -> Result<User, DomainError> {
    let username = check_field(input.username, "username", &mut errors, username_rule);
    let email = check_field(input.email, "email", &mut errors, email_rule);
    let taken = store
        .taken_account_fields(username.clone(), email.clone(), None)
        .await?;
    for f in taken {
        errors.add(f, unique_message(f));
    }
    let password = new_password(
        input.password,
        username.as_deref().unwrap_or_default(),
        email.as_deref().unwrap_or_default(),
        &mut errors,
    );
    errors
        .ordered(&["username", "email", "password"])
        .into_result()?;
    let (Some(username), Some(email), Some(password)) = (username, email, password) else {
        return Err(DomainError::Internal("validated fields missing".into()));
    };
    let hash = hash_new(queue, &username, password).await?;
    Ok(store.create_user(username, email, hash).await?)
}

/// Registers an account for a client (the API's registration): the attempt counts
/// against the client's address before anything else is done, whether it succeeds or
/// fails (a taken username or an invalid field too, so names and emails can't be probed
/// without limit), as a login attempt counts before its password is hashed; then
/// [`register`], hashing in the server's queue.
pub async fn register_client(
    ctx: &Login<'_>,
    input: Registration,
    errors: FieldErrors,
) -> Result<User, DomainError> {
    ctx.throttles
        .register
        .acquire(ctx.address)
        .await
        .map_err(refused)?;
    register(ctx.store, input, errors, Some(ctx.hash_queue)).await
}

/// Hashes a new password for account `key`, in a place of the bounded hashing `queue`
/// when there is one (the server's; the command line has none).
pub async fn hash_new(
    queue: Option<&HashQueue>,
    key: &str,
    password: String,
) -> Result<String, DomainError> {
    let place = match queue {
        Some(q) => Some(q.enter(key).map_err(|_| DomainError::Busy)?),
        None => None,
    };
    let hash = hash_password(password)
        .await
        .map_err(|e| DomainError::Internal(e.to_string()))?;
    drop(place);
    Ok(hash)
}

/// A username as Django's `AbstractUser` takes it: NFKC-normalised, trimmed, at most 150
/// characters of letters, digits and `@.+-_`.
pub fn username_rule(s: String) -> Result<String, String> {
    let s = check_chars(normalize_username(&s), Chars::trimmed(USERNAME_MAX))?;
    if is_valid_username(&s) {
        Ok(s)
    } else {
        Err(USERNAME_INVALID.into())
    }
}

/// An email address as Django's `EmailValidator` takes it, at most 254 characters.
pub fn email_rule(s: String) -> Result<String, String> {
    let s = check_chars(s, Chars::trimmed(254))?;
    if is_valid_email(&s) {
        Ok(s)
    } else {
        Err("Enter a valid email address.".into())
    }
}

/// A new password, checked with Django's validators against the account's username and
/// email; failures go to `errors` under `password`.
pub fn new_password(
    password: Option<String>,
    username: &str,
    email: &str,
    errors: &mut FieldErrors,
) -> Option<String> {
    let password = check_field(password, "password", errors, |p| check_chars(p, PASSWORD))?;
    let failures = validate_password(&password, username, email);
    let ok = failures.is_empty();
    for message in failures {
        errors.add("password", message);
    }
    ok.then_some(password)
}

/// The account `username` names: NFKC-normalised as registration stores names, or else
/// exactly as given (an account registered before names were normalised).
pub async fn find_account(store: &Store, username: &str) -> Result<Option<Account>, StoreError> {
    let normal = normalize_username(username);
    if let Some(account) = store.account_by_username(normal.clone()).await? {
        return Ok(Some(account));
    }
    if normal != username {
        return store.account_by_username(username.to_owned()).await;
    }
    Ok(None)
}

/// The username a login names, NFKC-normalised; `None` when it is longer than any
/// account's can be. Text over four times the limit is refused without normalising it
/// (composition never joins more than four characters into one).
fn login_username(raw: &str) -> Option<String> {
    if raw.chars().count() > 4 * USERNAME_MAX {
        return None;
    }
    let username = normalize_username(raw);
    (username.chars().count() <= USERNAME_MAX).then_some(username)
}

/// What a client's attempt needs besides its fields: the store, the throttles it counts
/// against (by the client's address), and the server's hashing queue. Every password
/// check is a login attempt ([`check_password`]), every registration from a client a
/// registration attempt ([`register_client`]).
pub struct Login<'a> {
    pub store: &'a Store,
    pub throttles: &'a Throttles,
    pub hash_queue: &'a HashQueue,
    /// The client's address (or /64), as the throttles count it.
    pub address: &'a str,
}

/// Checks `password` for the account `username` names, as a login attempt: counted per
/// address and username and per address before the password is hashed (checked and
/// recorded in one lock, so however many guesses arrive at once, at most the limit reach
/// argon2), in a place of the bounded hashing queue (a hash from the Django app in the
/// queue's legacy lane). The active account when the password is right (its failures are
/// then forgotten); `None` when it is wrong, the account unknown, inactive or its
/// password unusable, or the legacy lane full: all of these answer no sooner than the
/// queue's failure floor, so their timing says nothing about the account. A right
/// password stored in an older format (a Django hash, a weaker argon2 one) is stored
/// anew as ours, in the same place of the queue (`upgrade_hash`).
pub async fn check_password(
    ctx: &Login<'_>,
    username: &str,
    password: String,
) -> Result<Option<Account>, DomainError> {
    let started = std::time::Instant::now();
    // A name no account can have is refused before anything is stored or hashed.
    let Some(normal) = login_username(username) else {
        return Ok(None);
    };
    let pair = login_pair(ctx.address, &normal);
    let throttles = ctx.throttles;
    let pair_attempt = throttles.login.acquire(&pair).await.map_err(refused)?;
    let address_attempt = match throttles.login_address.acquire(ctx.address).await {
        Ok(a) => a,
        Err(r) => {
            throttles.login.refund(&pair, pair_attempt).await;
            return Err(refused(r));
        }
    };
    // A bounded queue, a few places per account: a busy server says so at once.
    let Ok(place) = ctx.hash_queue.enter(&normal) else {
        throttles.login.refund(&pair, pair_attempt).await;
        throttles
            .login_address
            .refund(ctx.address, address_attempt)
            .await;
        return Err(DomainError::Busy);
    };
    let account = find_account(ctx.store, username).await?;
    let hash = account.as_ref().map(|a| a.password_hash.clone());
    // Kept only when a right password may need storing anew.
    let again = hash
        .as_deref()
        .is_some_and(needs_rehash)
        .then(|| password.clone());
    let floor = ctx.hash_queue.floor();
    let Ok((verified, place)) = ctx.hash_queue.check(place, &normal, password, hash).await else {
        // The legacy lane is full: answered as a failure, unchecked and not counted (a 503
        // would say the account has a hash from the Django app).
        throttles.login.refund(&pair, pair_attempt).await;
        throttles
            .login_address
            .refund(ctx.address, address_attempt)
            .await;
        floor.pad(started).await;
        return Ok(None);
    };
    floor.observe(started.elapsed());
    let mut account = account.filter(|a| verified && a.is_active);
    if let (Some(a), Some(password)) = (account.as_mut(), again) {
        upgrade_hash(ctx.store, a, password).await;
    }
    drop(place);
    if account.is_some() {
        // The pair's failures are forgotten; the success itself doesn't count
        // against the address (its failures do).
        throttles.login.clear(&pair).await;
        throttles
            .login_address
            .refund(ctx.address, address_attempt)
            .await;
    } else {
        floor.pad(started).await;
    }
    Ok(account)
}

/// Stores `password` (just verified against `account`'s hash, in an older format) as a
/// new argon2id hash, as Django's `check_password` does with its setter, without ending
/// any session or token: it is the same password. Only if the stored hash is still the
/// one verified, so a password changed meanwhile wins. A failure is logged, never the
/// login's: the old hash keeps working.
async fn upgrade_hash(store: &Store, account: &mut Account, password: String) {
    let user_id = account.user.id;
    let from = hash_scheme(&account.password_hash);
    let new = match hash_password(password).await {
        Ok(h) => h,
        Err(e) => {
            tracing::warn!(user_id, from, error = %e, "could not rehash a password at login");
            return;
        }
    };
    match store
        .upgrade_password_hash(user_id, account.password_hash.clone(), new.clone())
        .await
    {
        Ok(true) => {
            tracing::info!(user_id, from, "password hash upgraded to argon2id at login");
            account.password_hash = new;
        }
        // A new password, or another login's rehash, came first: it stays.
        Ok(false) => tracing::info!(
            user_id,
            from,
            "password hash changed during login: left as it is"
        ),
        Err(e) => {
            tracing::warn!(user_id, from, error = %e, "could not store a rehashed password at login")
        }
    }
}

/// A stored hash's algorithm, for logs: Django's name before the first `$`, or the
/// argon2 variant of a PHC string.
fn hash_scheme(hash: &str) -> &str {
    let name = match hash.strip_prefix('$') {
        Some(phc) => phc.split('$').next(),
        None => hash.split_once('$').map(|(name, _)| name),
    };
    name.filter(|n| n.len() <= 32 && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        .unwrap_or("unknown")
}

/// A throttle's refusal as the domain says it.
pub fn refused(r: ThrottleError) -> DomainError {
    match r {
        ThrottleError::Wait(retry_after) => DomainError::Throttled { retry_after },
        ThrottleError::Store(e) => e.into(),
    }
}

/// Logs in: checks the password ([`check_password`]) and issues a new login's tokens,
/// bound to the account's credentials generation as read with the hash just verified.
/// The refresh token is stored, and the access token signed, only if the account is still
/// active at that generation, in the same write; otherwise (the password changed, the
/// account was deactivated or deleted meanwhile) this is a failed login, never a 500.
pub async fn login(
    ctx: Login<'_>,
    jwt: &Jwt,
    username: &str,
    password: String,
) -> Result<Tokens, DomainError> {
    let account = check_password(&ctx, username, password)
        .await?
        .ok_or(DomainError::BadCredentials)?;
    let now = now_secs();
    let grant = Grant {
        user_id: account.user.id,
        generation: account.credentials_generation,
        auth_time: Some(now),
    };
    let refresh = jwt.issue(TokenType::Refresh, grant, now);
    if !ctx
        .store
        .insert_refresh(new_refresh(&refresh), grant.generation, now)
        .await?
    {
        tracing::info!(
            user_id = grant.user_id,
            "login refused: the account changed while its password was checked"
        );
        return Err(DomainError::BadCredentials);
    }
    let access = jwt.issue(TokenType::Access, grant, now);
    Ok(Tokens {
        access: access.token,
        refresh: refresh.token,
    })
}

pub(super) fn new_refresh(refresh: &Signed) -> NewRefresh {
    NewRefresh {
        jti: refresh.claims.jti.clone(),
        user_id: refresh.claims.user_id,
        expires_at: refresh.claims.exp,
    }
}

/// Sets the password of `account` (checked like registration's against its username and
/// email) and ends every older credential. `NotFound` when it is gone meanwhile.
pub async fn set_password(
    store: &Store,
    account: Account,
    password: String,
) -> Result<AccountChange, DomainError> {
    let mut errors = FieldErrors::default();
    let password = new_password(
        Some(password),
        &account.user.username,
        &account.user.email,
        &mut errors,
    );
    errors.into_result()?;
    let Some(password) = password else {
        return Err(DomainError::Internal("validated password missing".into()));
    };
    let hash = hash_new(None, &account.user.username, password).await?;
    Ok(store
        .set_password_hash(account.user.username, hash, now_secs_f64())
        .await?)
}
