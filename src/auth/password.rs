//! Password policy and storage.
//!
//! * [`validate_password`] replicates Django 4.2's default `AUTH_PASSWORD_VALIDATORS`
//!   (`django/contrib/auth/password_validation.py`) with the same English messages.
//! * [`hash_password`] / [`verify_password`] store passwords as argon2id PHC strings with the
//!   OWASP minimum parameters, running the expensive work on tokio's blocking pool.
//!
//! `common-passwords.txt` is Django 4.2.13's `common-passwords.txt.gz`, decompressed
//! (BSD-licensed, Django Software Foundation).

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use argon2::password_hash::{self, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::TryRng;
use rand::rngs::{SysError, SysRng};

/// `UserAttributeSimilarityValidator` default `max_similarity`.
const MAX_SIMILARITY: f64 = 0.7;
/// `MinimumLengthValidator` default `min_length`.
const MIN_LENGTH: usize = 8;

const MSG_TOO_SHORT: &str = "This password is too short. It must contain at least 8 characters.";
const MSG_TOO_COMMON: &str = "This password is too common.";
const MSG_ENTIRELY_NUMERIC: &str = "This password is entirely numeric.";

/// OWASP minimum argon2id parameters: 19 MiB memory, 2 iterations, 1 lane.
const ARGON2_M_COST_KIB: u32 = 19_456;
const ARGON2_T_COST: u32 = 2;
const ARGON2_P_COST: u32 = 1;
/// Salt length in bytes (the PHC recommendation, and what `SaltString::generate` uses).
const SALT_LEN: usize = 16;

/// A valid argon2id hash with the same parameters as [`hash_password`] produces (of a random
/// password nobody knows). Verifying against it makes a login for an unknown user cost the same
/// as a wrong password for a known one.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$u8N/lN5HHBKdI6kS6oi16Q$hZPlmI6S1MGKBbjpq8irWQd5gK/Al+BJ8NSnB5IdJvo";

/// Django's 20,000 common passwords (already lowercased), loaded on first use.
static COMMON_PASSWORDS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("common-passwords.txt")
        .lines()
        .map(py_strip)
        .collect()
});

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// The operating system's random number generator failed while generating a salt.
    #[error("could not generate a password salt: {0}")]
    Salt(#[source] SysError),
    /// argon2 rejected the parameters or failed to hash.
    // `password_hash::Error` only implements `std::error::Error` with password-hash's `std`
    // feature, which argon2's default features don't enable, so it can't be a `#[source]`.
    #[error("password hashing failed: {0}")]
    Hash(password_hash::Error),
    /// The blocking hashing task panicked or was cancelled.
    #[error("password hashing task failed: {0}")]
    Join(String),
}

impl From<password_hash::Error> for PasswordError {
    fn from(err: password_hash::Error) -> Self {
        Self::Hash(err)
    }
}

impl From<argon2::Error> for PasswordError {
    fn from(err: argon2::Error) -> Self {
        Self::Hash(err.into())
    }
}

/// Django's default AUTH_PASSWORD_VALIDATORS, in Django's order:
/// UserAttributeSimilarityValidator (against username and email, max_similarity 0.7),
/// MinimumLengthValidator (8), CommonPasswordValidator, NumericPasswordValidator.
/// Returns every failing message (empty = valid), exactly Django's English texts:
/// "The password is too similar to the username." / "The password is too similar to the email address."
/// "This password is too short. It must contain at least 8 characters."
/// "This password is too common."
/// "This password is entirely numeric."
pub fn validate_password(password: &str, username: &str, email: &str) -> Vec<String> {
    let mut errors = Vec::new();

    // UserAttributeSimilarityValidator: the first similar attribute raises, so at most one
    // message. The labels are the Django User fields' verbose names.
    let password_lower: Vec<char> = password.to_lowercase().chars().collect();
    if let Some(label) = [(username, "username"), (email, "email address")]
        .into_iter()
        .find(|(value, _)| is_too_similar(&password_lower, value))
        .map(|(_, label)| label)
    {
        errors.push(format!("The password is too similar to the {label}."));
    }

    // MinimumLengthValidator: Python's len() counts code points.
    if password.chars().count() < MIN_LENGTH {
        errors.push(MSG_TOO_SHORT.to_owned());
    }

    // CommonPasswordValidator: `password.lower().strip() in self.passwords`.
    if COMMON_PASSWORDS.contains(py_strip(&password.to_lowercase())) {
        errors.push(MSG_TOO_COMMON.to_owned());
    }

    // NumericPasswordValidator: `password.isdigit()` (false for the empty string).
    if !password.is_empty() && password.chars().all(py_isdigit) {
        errors.push(MSG_ENTIRELY_NUMERIC.to_owned());
    }

    errors
}

/// One attribute of `UserAttributeSimilarityValidator.validate`. `password` is already lowercased.
fn is_too_similar(password: &[char], value: &str) -> bool {
    // `if not value: continue`
    if value.is_empty() {
        return false;
    }
    let value_lower = value.to_lowercase();
    // `re.split(r"\W+", value_lower) + [value_lower]`
    let mut parts = split_non_word(&value_lower);
    parts.push(&value_lower);
    parts.into_iter().any(|part| {
        let part: Vec<char> = part.chars().collect();
        !exceeds_maximum_length_ratio(password.len(), part.len())
            && quick_ratio(password, &part) >= MAX_SIMILARITY
    })
}

/// Django's `exceeds_maximum_length_ratio(password, max_similarity, value)`, on lengths in
/// code points: skip values so much shorter than the password that they can't be similar.
fn exceeds_maximum_length_ratio(pwd_len: usize, value_len: usize) -> bool {
    let length_bound_similarity = MAX_SIMILARITY / 2.0 * pwd_len as f64;
    pwd_len >= value_len.saturating_mul(10) && (value_len as f64) < length_bound_similarity
}

/// `difflib.SequenceMatcher(a=a, b=b).quick_ratio()`: twice the size of the multiset
/// intersection of the characters over the total length (1.0 when both are empty).
fn quick_ratio(a: &[char], b: &[char]) -> f64 {
    let mut avail: HashMap<char, usize> = HashMap::new();
    for &c in b {
        *avail.entry(c).or_default() += 1;
    }
    let mut matches = 0usize;
    for c in a {
        if let Some(n) = avail.get_mut(c)
            && *n > 0
        {
            *n = n.saturating_sub(1);
            matches += 1;
        }
    }
    let length = a.len() + b.len();
    if length == 0 {
        1.0
    } else {
        2.0 * matches as f64 / length as f64
    }
}

/// `re.split(r"\W+", s)`: split on maximal runs of non-word characters, keeping the empty
/// strings Python produces when `s` starts or ends with such a run.
fn split_non_word(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut in_separator = false;
    for (i, c) in s.char_indices() {
        if is_word_char(c) {
            if in_separator {
                in_separator = false;
                start = i;
            }
        } else if !in_separator {
            parts.push(&s[start..i]);
            in_separator = true;
        }
    }
    parts.push(if in_separator { "" } else { &s[start..] });
    parts
}

/// Python's `\w` for `str` patterns: alphanumeric or underscore. Exact for ASCII; for the rest
/// Rust's `is_alphanumeric` is a superset of Python's `str.isalnum` (it also counts the
/// combining marks and symbols with the Unicode `Other_Alphabetic` property, and characters
/// assigned after Python's Unicode version), so a few exotic usernames split differently.
fn is_word_char(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// Python's `str.strip()` with no arguments: trims `str.isspace()` characters, which are
/// Rust's `White_Space` plus the ASCII information separators U+001C..U+001F.
fn py_strip(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_whitespace() || ('\u{1C}'..='\u{1F}').contains(&c))
}

/// Python's `str.isdigit()` for one character: Unicode `Numeric_Type` Decimal or Digit
/// (so the decimal digits of every script, plus superscripts, circled digits, ...).
fn py_isdigit(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_digit();
    }
    PY_DIGIT_RANGES
        .binary_search_by(|&(lo, hi)| {
            if hi < c {
                std::cmp::Ordering::Less
            } else if lo > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// Inclusive, sorted ranges of the characters for which `str.isdigit()` is true, generated
/// from CPython 3.11 (Unicode 14.0.0).
#[rustfmt::skip]
const PY_DIGIT_RANGES: &[(char, char)] = &[
    ('\u{30}', '\u{39}'), ('\u{B2}', '\u{B3}'), ('\u{B9}', '\u{B9}'), ('\u{660}', '\u{669}'),
    ('\u{6F0}', '\u{6F9}'), ('\u{7C0}', '\u{7C9}'), ('\u{966}', '\u{96F}'), ('\u{9E6}', '\u{9EF}'),
    ('\u{A66}', '\u{A6F}'), ('\u{AE6}', '\u{AEF}'), ('\u{B66}', '\u{B6F}'), ('\u{BE6}', '\u{BEF}'),
    ('\u{C66}', '\u{C6F}'), ('\u{CE6}', '\u{CEF}'), ('\u{D66}', '\u{D6F}'), ('\u{DE6}', '\u{DEF}'),
    ('\u{E50}', '\u{E59}'), ('\u{ED0}', '\u{ED9}'), ('\u{F20}', '\u{F29}'), ('\u{1040}', '\u{1049}'),
    ('\u{1090}', '\u{1099}'), ('\u{1369}', '\u{1371}'), ('\u{17E0}', '\u{17E9}'), ('\u{1810}', '\u{1819}'),
    ('\u{1946}', '\u{194F}'), ('\u{19D0}', '\u{19DA}'), ('\u{1A80}', '\u{1A89}'), ('\u{1A90}', '\u{1A99}'),
    ('\u{1B50}', '\u{1B59}'), ('\u{1BB0}', '\u{1BB9}'), ('\u{1C40}', '\u{1C49}'), ('\u{1C50}', '\u{1C59}'),
    ('\u{2070}', '\u{2070}'), ('\u{2074}', '\u{2079}'), ('\u{2080}', '\u{2089}'), ('\u{2460}', '\u{2468}'),
    ('\u{2474}', '\u{247C}'), ('\u{2488}', '\u{2490}'), ('\u{24EA}', '\u{24EA}'), ('\u{24F5}', '\u{24FD}'),
    ('\u{24FF}', '\u{24FF}'), ('\u{2776}', '\u{277E}'), ('\u{2780}', '\u{2788}'), ('\u{278A}', '\u{2792}'),
    ('\u{A620}', '\u{A629}'), ('\u{A8D0}', '\u{A8D9}'), ('\u{A900}', '\u{A909}'), ('\u{A9D0}', '\u{A9D9}'),
    ('\u{A9F0}', '\u{A9F9}'), ('\u{AA50}', '\u{AA59}'), ('\u{ABF0}', '\u{ABF9}'), ('\u{FF10}', '\u{FF19}'),
    ('\u{104A0}', '\u{104A9}'), ('\u{10A40}', '\u{10A43}'), ('\u{10D30}', '\u{10D39}'), ('\u{10E60}', '\u{10E68}'),
    ('\u{11052}', '\u{1105A}'), ('\u{11066}', '\u{1106F}'), ('\u{110F0}', '\u{110F9}'), ('\u{11136}', '\u{1113F}'),
    ('\u{111D0}', '\u{111D9}'), ('\u{112F0}', '\u{112F9}'), ('\u{11450}', '\u{11459}'), ('\u{114D0}', '\u{114D9}'),
    ('\u{11650}', '\u{11659}'), ('\u{116C0}', '\u{116C9}'), ('\u{11730}', '\u{11739}'), ('\u{118E0}', '\u{118E9}'),
    ('\u{11950}', '\u{11959}'), ('\u{11C50}', '\u{11C59}'), ('\u{11D50}', '\u{11D59}'), ('\u{11DA0}', '\u{11DA9}'),
    ('\u{16A60}', '\u{16A69}'), ('\u{16AC0}', '\u{16AC9}'), ('\u{16B50}', '\u{16B59}'), ('\u{1D7CE}', '\u{1D7FF}'),
    ('\u{1E140}', '\u{1E149}'), ('\u{1E2F0}', '\u{1E2F9}'), ('\u{1E950}', '\u{1E959}'), ('\u{1F100}', '\u{1F10A}'),
    ('\u{1FBF0}', '\u{1FBF9}'),
];

fn argon2() -> Result<Argon2<'static>, argon2::Error> {
    let params = Params::new(ARGON2_M_COST_KIB, ARGON2_T_COST, ARGON2_P_COST, None)?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// At most this many hashes run at once (one per core): each needs 19 MiB, and a flood of
/// logins must queue rather than take the machine's memory or every core.
static HASHING: LazyLock<tokio::sync::Semaphore> = LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    tokio::sync::Semaphore::new(cores.clamp(1, 8))
});

/// Why a [`HashQueue`] turned a hash away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Busy {
    /// Every place in the queue is taken.
    QueueFull,
    /// The key already has as many hashes running or waiting as it may.
    KeyBusy,
}

/// Admission to password hashing for one server: at most `capacity` hashes running or
/// waiting at once, at most `per_key` of them for one key (an account's username). Past
/// either, a hash is refused at once (the caller answers 503) instead of waiting without
/// bound behind the process-wide one-hash-per-core limit. A burst against one account,
/// even from many addresses, so holds only a few places and everyone else's logins
/// still get through.
#[derive(Clone)]
pub struct HashQueue {
    inner: std::sync::Arc<QueueInner>,
}

struct QueueInner {
    per_key_max: usize,
    places: std::sync::Arc<tokio::sync::Semaphore>,
    /// Hashes running or waiting per key; at most `capacity` keys.
    per_key: std::sync::Mutex<HashMap<String, usize>>,
}

/// A place in a [`HashQueue`], given back when dropped.
pub struct HashPlace {
    inner: std::sync::Arc<QueueInner>,
    key: String,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl HashQueue {
    pub fn new(capacity: usize, per_key: usize) -> HashQueue {
        HashQueue {
            inner: std::sync::Arc::new(QueueInner {
                per_key_max: per_key.max(1),
                places: std::sync::Arc::new(tokio::sync::Semaphore::new(
                    capacity.clamp(1, tokio::sync::Semaphore::MAX_PERMITS),
                )),
                per_key: std::sync::Mutex::new(HashMap::new()),
            }),
        }
    }

    /// A place for one hash for `key`, or why there is none.
    pub fn enter(&self, key: &str) -> Result<HashPlace, Busy> {
        let mut per_key = self.inner.per_key.lock().unwrap_or_else(|p| p.into_inner());
        let running = per_key.get(key).copied().unwrap_or(0);
        if running >= self.inner.per_key_max {
            return Err(Busy::KeyBusy);
        }
        let permit = self
            .inner
            .places
            .clone()
            .try_acquire_owned()
            .map_err(|_| Busy::QueueFull)?;
        per_key.insert(key.to_owned(), running + 1);
        Ok(HashPlace {
            inner: self.inner.clone(),
            key: key.to_owned(),
            _permit: permit,
        })
    }
}

impl Drop for HashPlace {
    fn drop(&mut self) {
        let mut per_key = self.inner.per_key.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = per_key.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                per_key.remove(&self.key);
            }
        }
    }
}

/// The 19 MiB working areas, reused: allocating (and freeing) one per hash made the
/// allocator keep gigabytes after a burst of logins.
static WORKSPACES: std::sync::Mutex<Vec<Vec<argon2::Block>>> = std::sync::Mutex::new(Vec::new());

/// Runs `f` on the blocking pool with a permit and a reusable working area of
/// `blocks` argon2 blocks.
async fn with_workspace<T: Send + 'static>(
    blocks: usize,
    f: impl FnOnce(&mut [argon2::Block]) -> T + Send + 'static,
) -> Result<T, PasswordError> {
    let _permit = HASHING
        .acquire()
        .await
        .map_err(|_| PasswordError::Join("hashing closed".into()))?;
    tokio::task::spawn_blocking(move || {
        let taken = WORKSPACES.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let mut memory = match taken {
            Some(m) if m.len() == blocks => m,
            _ => vec![argon2::Block::default(); blocks],
        };
        let out = f(&mut memory);
        // Only standard-size areas are kept; the permit count bounds how many exist.
        if blocks == ARGON2_M_COST_KIB as usize {
            WORKSPACES
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(memory);
        }
        out
    })
    .await
    .map_err(|e| PasswordError::Join(e.to_string()))
}

/// argon2id PHC hash with OWASP minimum parameters (m=19456 KiB, t=2, p=1), random salt,
/// on the blocking pool, at most one per core at a time.
pub async fn hash_password(password: String) -> Result<String, PasswordError> {
    let mut salt = [0u8; SALT_LEN];
    SysRng
        .try_fill_bytes(&mut salt)
        .map_err(PasswordError::Salt)?;
    let salt = SaltString::encode_b64(&salt)?;
    with_workspace(ARGON2_M_COST_KIB as usize, move |memory| {
        hash_with(&password, &salt, memory)
    })
    .await?
}

fn hash_with(
    password: &str,
    salt: &SaltString,
    memory: &mut [argon2::Block],
) -> Result<String, PasswordError> {
    let argon2 = argon2()?;
    let mut raw = [0u8; 32];
    let mut salt_bytes = [0u8; SALT_LEN];
    let salt_bytes = salt.decode_b64(&mut salt_bytes)?;
    argon2.hash_password_into_with_memory(password.as_bytes(), salt_bytes, &mut raw, memory)?;
    let hash = password_hash::Output::new(&raw)?;
    Ok(format!(
        "$argon2id$v=19$m={ARGON2_M_COST_KIB},t={ARGON2_T_COST},p={ARGON2_P_COST}${}${hash}",
        salt.as_str()
    ))
}

/// Verifies on the blocking pool. `hash == None` (unknown user) verifies against a fixed
/// dummy argon2id hash with the same parameters and returns false, so an unknown user costs
/// the same time as a wrong password. A malformed stored hash returns false (never panics).
pub async fn verify_password(password: String, hash: Option<String>) -> bool {
    let known = hash.is_some();
    let phc = hash.unwrap_or_else(|| DUMMY_HASH.to_owned());
    let Ok(parsed) = PasswordHash::new(&phc) else {
        return false;
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    let blocks = params.m_cost() as usize;
    let phc = phc.clone();
    let ok = with_workspace(blocks, move |memory| verify_with(&password, &phc, memory))
        .await
        .unwrap_or(false);
    ok && known
}

/// The parameters (algorithm, version, costs) come from the stored PHC string itself, so
/// hashes made with older or stronger settings keep verifying.
fn verify_with(password: &str, phc: &str, memory: &mut [argon2::Block]) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let (Ok(params), Some(salt), Some(expected)) =
        (Params::try_from(&parsed), parsed.salt, parsed.hash)
    else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm) else {
        return false;
    };
    let version = parsed
        .version
        .and_then(|v| Version::try_from(v).ok())
        .unwrap_or(Version::V0x13);
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    let mut raw = vec![0u8; expected.len()];
    let argon2 = Argon2::new(algorithm, version, params);
    if argon2
        .hash_password_into_with_memory(password.as_bytes(), salt, &mut raw, memory)
        .is_err()
    {
        return false;
    }
    // `Output`'s equality is constant-time.
    password_hash::Output::new(&raw).is_ok_and(|computed| computed == expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIMILAR_USERNAME: &str = "The password is too similar to the username.";
    const SIMILAR_EMAIL: &str = "The password is too similar to the email address.";

    fn validate(password: &str, username: &str, email: &str) -> Vec<String> {
        validate_password(password, username, email)
    }

    // Expected outcomes below were checked against Django 4.2.13's validate_password with the
    // four default validators (similarity against username and email).

    #[test]
    fn password_is_only_too_common() {
        assert_eq!(validate("password", "", ""), [MSG_TOO_COMMON]);
    }

    #[test]
    fn abc_is_too_short_and_too_common() {
        assert_eq!(validate("abc", "", ""), [MSG_TOO_SHORT, MSG_TOO_COMMON]);
    }

    #[test]
    fn a_common_digit_string_is_too_common_and_entirely_numeric() {
        assert_eq!(
            validate("12345678901", "", ""),
            [MSG_TOO_COMMON, MSG_ENTIRELY_NUMERIC]
        );
    }

    #[test]
    fn an_uncommon_digit_string_is_only_entirely_numeric() {
        assert_eq!(validate("83920174659", "", ""), [MSG_ENTIRELY_NUMERIC]);
    }

    #[test]
    fn non_ascii_decimal_and_superscript_digits_are_numeric_but_fractions_are_not() {
        assert_eq!(validate("١٢٣٤٥٦٧٨٩٠", "", ""), [MSG_ENTIRELY_NUMERIC]);
        assert_eq!(validate("²³¹⁴⁵⁶⁷⁸", "", ""), [MSG_ENTIRELY_NUMERIC]);
        assert!(validate("½½½½½½½½", "", "").is_empty());
    }

    #[test]
    fn a_password_close_to_the_username_is_too_similar_to_the_username() {
        assert_eq!(validate("carol1carol", "carol1", ""), [SIMILAR_USERNAME]);
        assert_eq!(validate("Carol1!!", "carol1", ""), [SIMILAR_USERNAME]);
    }

    #[test]
    fn the_username_doubled_scores_two_thirds_and_passes_like_in_django() {
        // quick_ratio("carol1carol1", "carol1") = 2*6/18 = 0.667 < 0.7; Django accepts it too.
        assert!(validate("carol1carol1", "carol1", "").is_empty());
    }

    #[test]
    fn only_the_username_message_is_reported_when_the_email_also_matches() {
        assert_eq!(
            validate("alice1alice", "alice1", "alice1@example.com"),
            [SIMILAR_USERNAME]
        );
    }

    #[test]
    fn a_strong_unrelated_password_is_valid() {
        assert!(validate("S3cure-Passw0rd!x", "alice1", "alice1@example.com").is_empty());
        assert!(validate("mariposa-blue-42", "alice1", "alice1@example.com").is_empty());
    }

    #[test]
    fn a_password_similar_to_the_email_local_part_is_too_similar_to_the_email_address() {
        let email = "jonathan.smith@example.com";
        assert_eq!(validate("jonathan1981", "js42", email), [SIMILAR_EMAIL]);
        assert_eq!(validate("Smith.Jonathan", "js42", email), [SIMILAR_EMAIL]);
    }

    #[test]
    fn the_common_check_lowercases_and_strips_python_whitespace() {
        assert_eq!(validate(" PASSWORD ", "", ""), [MSG_TOO_COMMON]);
        assert_eq!(validate("\u{1C}password\u{1F}", "", ""), [MSG_TOO_COMMON]);
    }

    #[test]
    fn an_empty_password_is_similar_only_to_values_with_an_empty_split_part() {
        assert_eq!(validate("", "carol1", ""), [MSG_TOO_SHORT]);
        assert_eq!(
            validate("", "-carol-", ""),
            [SIMILAR_USERNAME, MSG_TOO_SHORT]
        );
    }

    #[test]
    fn the_common_list_is_django_s_twenty_thousand_lines() {
        let text = include_str!("common-passwords.txt");
        assert_eq!(text.lines().count(), 20_000);
        // Django's list contains duplicate lines, so the set is a bit smaller.
        assert_eq!(COMMON_PASSWORDS.len(), 19_729);
        assert!(COMMON_PASSWORDS.contains("123456"));
        assert!(COMMON_PASSWORDS.contains("пароль"));
    }

    #[test]
    fn splitting_matches_python_re_split_on_non_word_runs() {
        assert_eq!(split_non_word("a.b"), ["a", "b"]);
        assert_eq!(
            split_non_word("alice1@example.com"),
            ["alice1", "example", "com"]
        );
        assert_eq!(split_non_word("-lead-"), ["", "lead", ""]);
        assert_eq!(split_non_word(".."), ["", ""]);
        assert_eq!(split_non_word("x__y"), ["x__y"]);
    }

    #[test]
    fn quick_ratio_matches_difflib() {
        let chars = |s: &str| s.chars().collect::<Vec<_>>();
        assert_eq!(quick_ratio(&chars(""), &chars("")), 1.0);
        assert_eq!(quick_ratio(&chars("abc"), &chars("")), 0.0);
        assert_eq!(quick_ratio(&chars("aab"), &chars("abb")), 2.0 * 2.0 / 6.0);
        assert_eq!(
            quick_ratio(&chars("carol1carol1"), &chars("carol1")),
            2.0 * 6.0 / 18.0
        );
    }

    #[test]
    fn the_dummy_hash_uses_the_same_parameters_as_new_hashes() {
        let parsed = PasswordHash::new(DUMMY_HASH).expect("dummy hash parses");
        let params = Params::try_from(&parsed).expect("dummy hash has argon2 params");
        assert_eq!(parsed.algorithm, Algorithm::Argon2id.ident());
        assert_eq!(parsed.version, Some(Version::V0x13.into()));
        assert_eq!(params.m_cost(), ARGON2_M_COST_KIB);
        assert_eq!(params.t_cost(), ARGON2_T_COST);
        assert_eq!(params.p_cost(), ARGON2_P_COST);
    }

    #[tokio::test]
    async fn a_hash_is_argon2id_with_owasp_parameters_and_a_fresh_salt() {
        let a = hash_password("hunter2-but-longer".to_owned())
            .await
            .unwrap();
        let b = hash_password("hunter2-but-longer".to_owned())
            .await
            .unwrap();
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert_ne!(a, b);
    }

    #[tokio::test]
    async fn hashing_then_verifying_the_same_password_succeeds() {
        let hash = hash_password("correct horse battery staple".to_owned())
            .await
            .unwrap();
        assert!(verify_password("correct horse battery staple".to_owned(), Some(hash)).await);
    }

    #[tokio::test]
    async fn verifying_a_wrong_password_fails() {
        let hash = hash_password("correct horse battery staple".to_owned())
            .await
            .unwrap();
        assert!(!verify_password("correct horse battery stable".to_owned(), Some(hash)).await);
    }

    #[tokio::test]
    async fn verifying_without_a_stored_hash_fails() {
        assert!(!verify_password("anything".to_owned(), None).await);
        assert!(!verify_password(String::new(), None).await);
    }

    #[tokio::test]
    async fn verifying_against_a_malformed_hash_fails_without_panicking() {
        for garbage in [
            "",
            "not a hash",
            "$argon2id$",
            "$argon2id$v=19$m=19456,t=2,p=1$",
            "$argon2id$v=19$m=0,t=0,p=0$c2FsdHNhbHQ$aGFzaA",
            "$argon2id$v=19$m=19456,t=2,p=1$u8N/lN5HHBKdI6kS6oi16Q$",
            "$pbkdf2-sha256$29000$abc$def",
            "pbkdf2_sha256$600000$salt$hash",
        ] {
            assert!(
                !verify_password("password".to_owned(), Some(garbage.to_owned())).await,
                "{garbage:?}"
            );
        }
    }

    #[tokio::test]
    async fn hashes_interoperate_with_the_standard_argon2_phc_api() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let ours = hash_password("interop-secret-1".to_owned()).await.unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            argon2()
                .unwrap()
                .verify_password(b"interop-secret-1", &parsed)
                .is_ok()
        );

        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let theirs = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8192, 1, 1, None).unwrap(),
        )
        .hash_password(b"older-params-2", &salt)
        .unwrap()
        .to_string();
        assert!(verify_password("older-params-2".to_owned(), Some(theirs.clone())).await);
        assert!(!verify_password("older-params-3".to_owned(), Some(theirs)).await);
    }

    #[test]
    fn the_hash_queue_is_bounded_overall_and_per_key() {
        let q = HashQueue::new(3, 2);
        let a1 = q.enter("alice").unwrap();
        let a2 = q.enter("alice").unwrap();
        assert_eq!(q.enter("alice").err(), Some(Busy::KeyBusy));
        let b1 = q.enter("bob").unwrap();
        assert_eq!(q.enter("carol").err(), Some(Busy::QueueFull));
        drop(a1);
        let c1 = q.enter("carol").unwrap();
        assert_eq!(q.enter("alice").err(), Some(Busy::QueueFull));
        drop((a2, b1, c1));
        let _again: Vec<HashPlace> = ["alice", "alice", "bob"]
            .iter()
            .map(|k| q.enter(k).unwrap())
            .collect();
        assert!(
            q.inner.per_key.lock().unwrap().len() == 2,
            "only keys with places held are tracked"
        );
    }
}
