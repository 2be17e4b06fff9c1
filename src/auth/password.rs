//! Password storage: argon2id PHC strings with the OWASP minimum parameters, hashed and
//! verified on tokio's blocking pool, at most one per core, behind a bounded queue
//! ([`super::queue`]). Hashes imported from the Django app verify too
//! ([`super::django`]), within its caps and in a lane of their own; a login that
//! verifies one (or an argon2 hash weaker than ours) stores a new one ([`needs_rehash`]).

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use argon2::password_hash::{self, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::TryRng;
use rand::rngs::{SysError, SysRng};

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

pub use super::django::{MAX_ARGON2_LANES, MAX_ARGON2_M_COST_KIB, MAX_ARGON2_WORK};
pub use super::queue::{Busy, HashPlace, HashQueue};

/// Why a stored hash cannot be verified: no password matches it.
#[derive(Debug)]
pub enum UnverifiableHash {
    /// Django's unusable password (`!` and random text): never matches, by design.
    Unusable,
    /// No hasher tasklane knows; the Django algorithm name when the hash has one.
    Unknown(Option<String>),
    /// The named hasher's format, but not a hash it could have made.
    Malformed(&'static str),
    /// Parameters past what tasklane verifies (the hasher's name and which).
    TooCostly(&'static str, String),
}

impl UnverifiableHash {
    /// Logs a warning, once per process for each kind of refusal and hasher (a refused
    /// hash is refused at every login: the log names the problem once). Unusable
    /// passwords are not a problem.
    fn warn_once(&self) {
        static WARNED: std::sync::Mutex<Vec<(&'static str, &'static str)>> =
            std::sync::Mutex::new(Vec::new());
        let key = match self {
            UnverifiableHash::Unusable => return,
            UnverifiableHash::Unknown(_) => ("unknown", ""),
            UnverifiableHash::Malformed(name) => ("malformed", *name),
            UnverifiableHash::TooCostly(name, _) => ("too costly", *name),
        };
        {
            let mut warned = WARNED.lock().unwrap_or_else(|p| p.into_inner());
            if warned.contains(&key) {
                return;
            }
            warned.push(key);
        }
        match self {
            UnverifiableHash::Unusable => {}
            UnverifiableHash::Unknown(name) => {
                // Only a plain algorithm name is shown: a hash without one might be
                // anything, even a password stored in clear by mistake.
                let name = name.as_deref().filter(|n| {
                    n.len() <= 32 && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                });
                tracing::warn!(
                    algorithm = name.unwrap_or("(none)"),
                    "a stored password hash uses no hasher tasklane knows: its login is refused \
                     (logged once)"
                );
            }
            UnverifiableHash::Malformed(name) => tracing::warn!(
                algorithm = *name,
                "a stored password hash is malformed: its login is refused (logged once)"
            ),
            UnverifiableHash::TooCostly(name, what) => tracing::warn!(
                algorithm = *name,
                parameters = %what,
                "a stored password hash asks for more work than tasklane verifies: its login \
                 is refused (logged once)"
            ),
        }
    }
}

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

fn argon2() -> Result<Argon2<'static>, argon2::Error> {
    let params = Params::new(ARGON2_M_COST_KIB, ARGON2_T_COST, ARGON2_P_COST, None)?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// At most this many of our hashes run at once (one per core): each needs 19 MiB, and a
/// flood of logins must queue rather than take the machine's memory or every core.
/// Verifications of the Django app's hashes run in the legacy lane instead
/// ([`super::queue`]), so they never hold one of these.
static HASHING: LazyLock<tokio::sync::Semaphore> =
    LazyLock::new(|| tokio::sync::Semaphore::new(cores().clamp(1, 8)));

/// The machine's cores (2 when unknown).
pub(super) fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// The 19 MiB working areas, reused: allocating (and freeing) one per hash made the
/// allocator keep gigabytes after a burst of logins.
static WORKSPACES: std::sync::Mutex<Vec<Vec<argon2::Block>>> = std::sync::Mutex::new(Vec::new());

/// Runs `f` on the blocking pool with a permit of `pool` (for ours, [`HASHING`]: at most
/// one hash per core at a time).
async fn on_pool<T: Send + 'static>(
    pool: &tokio::sync::Semaphore,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, PasswordError> {
    let _permit = pool
        .acquire()
        .await
        .map_err(|_| PasswordError::Join("hashing closed".into()))?;
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| PasswordError::Join(e.to_string()))
}

/// Runs `f` on the blocking pool with a permit of `pool` and a reusable working area of
/// `blocks` argon2 blocks.
async fn with_workspace<T: Send + 'static>(
    pool: &tokio::sync::Semaphore,
    blocks: usize,
    f: impl FnOnce(&mut [argon2::Block]) -> T + Send + 'static,
) -> Result<T, PasswordError> {
    on_pool(pool, move || {
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
}

/// argon2id PHC hash with OWASP minimum parameters (m=19456 KiB, t=2, p=1), random salt,
/// on the blocking pool, at most one per core at a time.
pub async fn hash_password(password: String) -> Result<String, PasswordError> {
    let mut salt = [0u8; SALT_LEN];
    SysRng
        .try_fill_bytes(&mut salt)
        .map_err(PasswordError::Salt)?;
    let salt = SaltString::encode_b64(&salt)?;
    with_workspace(&HASHING, ARGON2_M_COST_KIB as usize, move |memory| {
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

/// Verifies on the blocking pool. `hash` is tasklane's argon2 PHC string or a Django hash
/// ([`super::django`]), told apart by its prefix. `hash == None` (unknown user) verifies
/// against a fixed dummy argon2id hash with the same parameters and returns false, so an
/// unknown user costs the same time as a wrong password for a known one; so does a hash
/// no password matches (Django's unusable `!…` passwords, a malformed hash, an unknown
/// algorithm, parameters past the caps: these last are logged once). Never panics.
/// Every hash takes a place of the one-per-core pool here; the server checks passwords
/// through [`HashQueue::check`], which gives the Django ones a lane of their own.
pub async fn verify_password(password: String, hash: Option<String>) -> bool {
    Stored::new(hash).verify(password, &HASHING).await
}

/// A stored password hash (`None`: no such account), looked at: how it is verified, and
/// in which lane.
pub struct Stored {
    hash: String,
    how: Result<Verifier, UnverifiableHash>,
}

impl Stored {
    pub fn new(hash: Option<String>) -> Stored {
        match hash {
            Some(hash) => Stored {
                how: how_to_verify(&hash),
                hash,
            },
            None => Stored {
                hash: String::new(),
                how: Err(UnverifiableHash::Unusable),
            },
        }
    }

    /// Whether verifying it belongs in the legacy lane: a hash from the Django app, or an
    /// argon2 one dearer than ours. Not an unknown account nor a refused hash: those cost
    /// one of our hashes (the dummy), as a wrong password for a native account does.
    pub fn is_legacy(&self) -> bool {
        match &self.how {
            Ok(Verifier::Argon2 { legacy, .. }) => *legacy,
            Ok(Verifier::Django(_)) => true,
            Err(_) => false,
        }
    }

    /// Verifies `password` on the blocking pool: ours (and the dummy) with a place of the
    /// one-per-core pool, legacy ones ([`Stored::is_legacy`]) with one of `legacy`.
    pub async fn verify(self, password: String, legacy: &tokio::sync::Semaphore) -> bool {
        let pool = if self.is_legacy() { legacy } else { &HASHING };
        let hash = self.hash;
        match self.how {
            Ok(Verifier::Argon2 {
                phc,
                blocks,
                default_version,
                ..
            }) => with_workspace(pool, blocks, move |memory| {
                verify_with(&password, &phc, default_version, memory)
            })
            .await
            .unwrap_or(false),
            Ok(Verifier::Django(kdf)) => on_pool(pool, move || kdf.verify(&password, &hash))
                .await
                .unwrap_or(false),
            Err(refused) => {
                refused.warn_once();
                verify_dummy(password).await;
                false
            }
        }
    }
}

/// Why no password can match `hash`, if none can: unusable, unknown, malformed, or past
/// the caps (what a login would refuse without verifying it).
pub fn refusal(hash: &str) -> Option<UnverifiableHash> {
    how_to_verify(hash).err()
}

/// How long verifying the dearest hash a login may verify (at the caps) takes on this
/// machine now: the slowest of Django's hashers at their caps (see
/// [`super::django::dearest_kdf`]) and argon2 at its cap (timed with one pass, doubled).
/// Blocking, about a quarter of a second of CPU and 100 MiB for a moment.
pub fn dearest_verification() -> Duration {
    let argon2 = Params::new(MAX_ARGON2_M_COST_KIB, 1, MAX_ARGON2_LANES, Some(32))
        .map(|params| {
            let passes = (MAX_ARGON2_WORK / u64::from(MAX_ARGON2_M_COST_KIB)) as u32;
            let mut memory = vec![argon2::Block::default(); MAX_ARGON2_M_COST_KIB as usize];
            let started = Instant::now();
            let _ = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
                .hash_password_into_with_memory(
                    b"calibration password",
                    b"calibration-salt",
                    &mut [0u8; 32],
                    &mut memory,
                );
            started.elapsed() * passes
        })
        .unwrap_or_default();
    argon2.max(super::django::dearest_kdf())
}

/// Verifies against [`DUMMY_HASH`], for the time it takes.
async fn verify_dummy(password: String) {
    let _ = with_workspace(&HASHING, ARGON2_M_COST_KIB as usize, move |memory| {
        verify_with(&password, DUMMY_HASH, Version::V0x13, memory)
    })
    .await;
}

/// How a stored hash is verified.
enum Verifier {
    /// An argon2 PHC string (ours, or Django's without its `argon2` prefix), with the
    /// working area it needs and the version assumed when it names none.
    Argon2 {
        phc: String,
        blocks: usize,
        default_version: Version,
        /// A Django hash, or dearer than ours: the legacy lane's.
        legacy: bool,
    },
    /// Django's other hashers.
    Django(super::django::Kdf),
}

fn how_to_verify(hash: &str) -> Result<Verifier, UnverifiableHash> {
    if hash.starts_with(UNUSABLE_PREFIX) {
        return Err(UnverifiableHash::Unusable);
    }
    if hash.starts_with('$') {
        // Ours: the argon2 crate takes a PHC string without a version as version 0x13.
        return argon2_verifier(hash.to_owned(), Version::V0x13, false);
    }
    match super::django::parse(hash)? {
        // argon2-cffi (the C library) takes one without a version as 0x10.
        super::django::DjangoHash::Argon2(phc) => argon2_verifier(phc, Version::V0x10, true),
        super::django::DjangoHash::Kdf(kdf) => Ok(Verifier::Django(kdf)),
    }
}

/// Django's `UNUSABLE_PASSWORD_PREFIX`: `make_password(None)` is `!` and 40 random
/// characters, which no password matches.
pub const UNUSABLE_PREFIX: &str = "!";

/// An argon2 hash within the caps (the Django app's, or ours, which have the same).
fn argon2_verifier(
    phc: String,
    default_version: Version,
    from_django: bool,
) -> Result<Verifier, UnverifiableHash> {
    let malformed = || UnverifiableHash::Malformed("argon2");
    let parsed = PasswordHash::new(&phc).map_err(|_| malformed())?;
    let params = Params::try_from(&parsed).map_err(|_| malformed())?;
    Algorithm::try_from(parsed.algorithm).map_err(|_| malformed())?;
    let (m, t, p) = (params.m_cost(), params.t_cost(), params.p_cost());
    let work = u64::from(m) * u64::from(t);
    if m > MAX_ARGON2_M_COST_KIB || work > MAX_ARGON2_WORK || p > MAX_ARGON2_LANES {
        return Err(UnverifiableHash::TooCostly(
            "argon2",
            format!(
                "m={m} KiB, t={t}, p={p} (at most m={MAX_ARGON2_M_COST_KIB}, \
                 m·t={MAX_ARGON2_WORK} and p={MAX_ARGON2_LANES} are verified)"
            ),
        ));
    }
    let dearer_than_ours =
        m > ARGON2_M_COST_KIB || work > u64::from(ARGON2_M_COST_KIB) * u64::from(ARGON2_T_COST);
    Ok(Verifier::Argon2 {
        blocks: m as usize,
        phc,
        default_version,
        legacy: from_django || dearer_than_ours,
    })
}

/// The parameters (algorithm, version, costs) come from the stored PHC string itself, so
/// hashes made with older or stronger settings keep verifying.
fn verify_with(
    password: &str,
    phc: &str,
    default_version: Version,
    memory: &mut [argon2::Block],
) -> bool {
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
    let version = match parsed.version {
        Some(v) => match Version::try_from(v) {
            Ok(v) => v,
            Err(_) => return false,
        },
        None => default_version,
    };
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

/// Whether a stored hash that just verified should be replaced with a new
/// [`hash_password`] one, as Django's `must_update`: every Django hash, and argon2 hashes
/// that are not argon2id version 0x13 or ask less memory or fewer passes than ours.
pub fn needs_rehash(hash: &str) -> bool {
    if !hash.starts_with('$') {
        return true;
    }
    let Ok(parsed) = PasswordHash::new(hash) else {
        return true;
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return true;
    };
    parsed.algorithm != Algorithm::Argon2id.ident()
        || parsed.version != Some(Version::V0x13.into())
        || params.m_cost() < ARGON2_M_COST_KIB
        || params.t_cost() < ARGON2_T_COST
}

#[cfg(test)]
mod tests {
    use super::*;
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
    fn django_hashes_and_argon2_dearer_than_ours_go_to_the_legacy_lane() {
        let legacy = |hash: &str| Stored::new(Some(hash.to_owned())).is_legacy();
        assert!(legacy(
            "pbkdf2_sha256$1000$salt$A9b4Rw8VeFyC4C5ImlD1bJRcrk6ziCeDpQCvZVeQOr8="
        ));
        assert!(legacy(
            "argon2$argon2i$v=19$m=512,t=2,p=2$UXg5clRtTGsycFd6$XdYFxGtSv/YtAeCAGFMwjA"
        ));
        assert!(legacy(
            "$argon2id$v=19$m=65536,t=2,p=1$UXg5clRtTGsycFd6$XdYFxGtSv/YtAeCAGFMwjA"
        ));
        assert!(legacy(
            "$argon2id$v=19$m=19456,t=3,p=1$UXg5clRtTGsycFd6$XdYFxGtSv/YtAeCAGFMwjA"
        ));
        // Ours, weaker ones, no account, and hashes refused unverified cost one of ours.
        assert!(!legacy(DUMMY_HASH));
        assert!(!legacy(
            "$argon2id$v=19$m=8192,t=1,p=1$UXg5clRtTGsycFd6$XdYFxGtSv/YtAeCAGFMwjA"
        ));
        assert!(!Stored::new(None).is_legacy());
        assert!(!legacy("!unusable"));
        assert!(!legacy(
            "pbkdf2_sha256$1000001$salt$A9b4Rw8VeFyC4C5ImlD1bJRcrk6ziCeDpQCvZVeQOr8="
        ));
        assert!(!legacy("md5$salt$hash"));
    }
}
