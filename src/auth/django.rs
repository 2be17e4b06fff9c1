//! Password hashes made by the original Django 4.2 app, verified as Django's own hashers
//! (`django/contrib/auth/hashers.py`) verify them, for accounts imported with their hash
//! as it was. Every hasher of Django 4.2's default `PASSWORD_HASHERS`:
//!
//! | prefix          | stored as                                                   |
//! |-----------------|-------------------------------------------------------------|
//! | `pbkdf2_sha256` | `pbkdf2_sha256$<iterations>$<salt>$<base64 of 32 bytes>`    |
//! | `pbkdf2_sha1`   | `pbkdf2_sha1$<iterations>$<salt>$<base64 of 20 bytes>`      |
//! | `argon2`        | `argon2` + an argon2 PHC string (`$argon2id$v=19$m=…`)      |
//! | `bcrypt_sha256` | `bcrypt_sha256$` + bcrypt of hex(SHA-256(password))         |
//! | `scrypt`        | `scrypt$<N>$<salt>$<r>$<p>$<base64 of 64 bytes>`            |
//!
//! As in Django, the salt is used as its UTF-8 text (not decoded), the password as UTF-8,
//! base64 is the standard alphabet with padding, and a password is right when encoding it
//! again with the stored hash's salt and parameters gives the stored string exactly,
//! compared in constant time. The argon2 ones go through tasklane's own argon2 path
//! ([`super::password`]), which reads its parameters from the PHC string as argon2-cffi does.
//!
//! Parameters are the stored hash's own (older rows have fewer pbkdf2 iterations), within
//! the caps below: Django 4.2's own defaults (pbkdf2 up to Django 5.2's 1,000,000
//! iterations). A hash past them is never verified: the password check answers false
//! (and a warning is logged), and `import-django` imports such an account with an
//! unusable password, to be reset. The caps are the one list both read.

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::Digest;
use subtle::ConstantTimeEq;

use super::password::UnverifiableHash;

/// The most pbkdf2 iterations verified (`pbkdf2_sha256` and `pbkdf2_sha1` alike): Django
/// 4.2 makes 600,000, Django 5.2 1,000,000.
pub const MAX_PBKDF2_ITERATIONS: u32 = 1_000_000;
/// The highest bcrypt cost verified: Django's 12 (each step doubles the time).
pub const MAX_BCRYPT_COST: u32 = 12;
/// The most scrypt work verified, as `N·r·p`: Django's default, 2^14·8·1. The memory
/// scrypt needs (`128·N·r` bytes) is then at most Django's 16 MiB too.
pub const MAX_SCRYPT_WORK: u128 = (1 << 14) * 8;
/// The memory scrypt may use, as for Django: `hashlib.scrypt(maxmem=0)` leaves OpenSSL's
/// default limit of 32 MiB (for the `B` and `V` buffers), past which Django fails too.
const SCRYPT_MAX_MEM: u128 = 32 * 1024 * 1024;
/// The most memory an argon2 hash may ask for, in KiB: Django's `memory_cost`, 100 MiB.
pub const MAX_ARGON2_M_COST_KIB: u32 = 102_400;
/// The most argon2 work, memory (KiB) times passes: Django's 100 MiB twice (its
/// `time_cost` is 2). A hash with less memory may take more passes, within that work.
pub const MAX_ARGON2_WORK: u64 = 2 * 102_400;
/// The most argon2 lanes: Django's `parallelism`. Lanes are computed one after another
/// here, so they add no work; the cap only keeps to what Django makes.
pub const MAX_ARGON2_LANES: u32 = 8;

/// A Django hash, parsed.
#[derive(Debug)]
pub enum DjangoHash {
    /// `argon2…`: the PHC string (with its leading `$`), for the argon2 path.
    Argon2(String),
    /// Any other hasher: verify with [`Kdf::verify`] on the blocking pool.
    Kdf(Kdf),
}

/// The pseudo-random function of a `pbkdf2_*` hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prf {
    Sha256,
    Sha1,
}

/// The hashers other than argon2, with what verifying needs from the stored string.
#[derive(Debug)]
pub enum Kdf {
    Pbkdf2 {
        prf: Prf,
        iterations: u32,
        salt: String,
    },
    BcryptSha256 {
        version: bcrypt::Version,
        cost: u32,
        salt: [u8; 16],
    },
    Scrypt {
        log_n: u8,
        salt: String,
        r: u32,
        p: u32,
    },
}

/// Parses a stored Django hash (not starting with `$` or `!`: those are tasklane's own
/// argon2 and Django's unusable passwords). The hasher is named by the text before the
/// first `$`, as Django's `identify_hasher` does. `Err` when no password can match it.
pub fn parse(encoded: &str) -> Result<DjangoHash, UnverifiableHash> {
    let Some((algorithm, rest)) = encoded.split_once('$') else {
        return Err(UnverifiableHash::Unknown(None));
    };
    match algorithm {
        "pbkdf2_sha256" => pbkdf2(Prf::Sha256, rest),
        "pbkdf2_sha1" => pbkdf2(Prf::Sha1, rest),
        // `argon2$argon2id$v=19$…`: Django verifies `"$" + rest` with argon2-cffi.
        "argon2" if rest.starts_with("argon2") => Ok(DjangoHash::Argon2(format!("${rest}"))),
        "argon2" => Err(UnverifiableHash::Malformed("argon2")),
        "bcrypt_sha256" => bcrypt_sha256(rest),
        "scrypt" => scrypt(rest),
        other => Err(UnverifiableHash::Unknown(Some(other.to_owned()))),
    }
}

/// `<iterations>$<salt>$<hash>` (Django's `decode` splits at the first three `$`).
fn pbkdf2(prf: Prf, rest: &str) -> Result<DjangoHash, UnverifiableHash> {
    let name = match prf {
        Prf::Sha256 => "pbkdf2_sha256",
        Prf::Sha1 => "pbkdf2_sha1",
    };
    let mut parts = rest.splitn(3, '$');
    let (Some(iterations), Some(salt), Some(hash)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(UnverifiableHash::Malformed(name));
    };
    let size = match prf {
        Prf::Sha256 => 32,
        Prf::Sha1 => 20,
    };
    if !is_base64_of(hash, size) {
        return Err(UnverifiableHash::Malformed(name));
    }
    // Django makes no hash with 0 iterations (it would hash with its default count and
    // never match the stored `0`) nor with an empty salt (refused by `encode`).
    let iterations = decimal(iterations).ok_or(UnverifiableHash::Malformed(name))?;
    if iterations == 0 || salt.is_empty() {
        return Err(UnverifiableHash::Malformed(name));
    }
    if iterations > u64::from(MAX_PBKDF2_ITERATIONS) {
        return Err(UnverifiableHash::TooCostly(
            name,
            format!("{iterations} iterations (at most {MAX_PBKDF2_ITERATIONS} are verified)"),
        ));
    }
    Ok(DjangoHash::Kdf(Kdf::Pbkdf2 {
        prf,
        iterations: iterations as u32,
        salt: salt.to_owned(),
    }))
}

/// `$2b$12$<22 characters of salt><31 of hash>`, a bcrypt string as the `bcrypt` package
/// (whose `hashpw` is the `bcrypt` crate) makes it.
fn bcrypt_sha256(data: &str) -> Result<DjangoHash, UnverifiableHash> {
    const NAME: &str = "bcrypt_sha256";
    let malformed = UnverifiableHash::Malformed(NAME);
    let mut parts = data.split('$');
    let (Some(""), Some(version), Some(cost), Some(tail), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(malformed);
    };
    let version = match version {
        "2a" => bcrypt::Version::TwoA,
        "2b" => bcrypt::Version::TwoB,
        "2x" => bcrypt::Version::TwoX,
        "2y" => bcrypt::Version::TwoY,
        _ => return Err(malformed),
    };
    let cost = decimal(cost).ok_or(UnverifiableHash::Malformed(NAME))?;
    if cost < 4 {
        return Err(malformed);
    }
    if cost > u64::from(MAX_BCRYPT_COST) {
        return Err(UnverifiableHash::TooCostly(
            NAME,
            format!("cost {cost} (at most {MAX_BCRYPT_COST} is verified)"),
        ));
    }
    // 22 characters of salt, 31 of hash.
    if tail.len() != 53 {
        return Err(malformed);
    }
    let salt = tail
        .as_bytes()
        .get(..22)
        .and_then(|s| bcrypt::BASE_64.decode(s).ok())
        .and_then(|s| <[u8; 16]>::try_from(s).ok())
        .ok_or(malformed)?;
    Ok(DjangoHash::Kdf(Kdf::BcryptSha256 {
        version,
        cost: cost as u32,
        salt,
    }))
}

/// `<N>$<salt>$<r>$<p>$<hash>` (exactly six fields in all, or Django's `decode` fails).
fn scrypt(rest: &str) -> Result<DjangoHash, UnverifiableHash> {
    const NAME: &str = "scrypt";
    let fields: Vec<&str> = rest.split('$').collect();
    let &[n, salt, r, p, hash] = fields.as_slice() else {
        return Err(UnverifiableHash::Malformed(NAME));
    };
    if !is_base64_of(hash, 64) {
        return Err(UnverifiableHash::Malformed(NAME));
    }
    let (Some(n), Some(r), Some(p)) = (decimal(n), decimal(r), decimal(p)) else {
        return Err(UnverifiableHash::Malformed(NAME));
    };
    // What `hashlib.scrypt` refuses (N a power of two above 1) or Django never stores
    // (0 for r or p means its default, which then doesn't match the stored field).
    if n < 2 || !n.is_power_of_two() || r == 0 || p == 0 || salt.is_empty() {
        return Err(UnverifiableHash::Malformed(NAME));
    }
    let log_n = n.trailing_zeros();
    // OpenSSL's further limits (N < 2^(16·r), p·r < 2^30), which the scrypt crate shares.
    if u64::from(log_n) >= 16 * r || p.saturating_mul(r) >= 1 << 30 {
        return Err(UnverifiableHash::Malformed(NAME));
    }
    let (n, r, p) = (u128::from(n), u128::from(r), u128::from(p));
    let memory = 128 * r * p + 128 * r * (n + 2);
    if memory > SCRYPT_MAX_MEM {
        return Err(UnverifiableHash::TooCostly(
            NAME,
            format!("N={n}, r={r}, p={p} need {memory} bytes (Django's limit is {SCRYPT_MAX_MEM})"),
        ));
    }
    if n * r * p > MAX_SCRYPT_WORK {
        return Err(UnverifiableHash::TooCostly(
            NAME,
            format!("N={n}, r={r}, p={p} (N·r·p at most {MAX_SCRYPT_WORK} is verified)"),
        ));
    }
    Ok(DjangoHash::Kdf(Kdf::Scrypt {
        log_n: log_n as u8,
        salt: salt.to_owned(),
        r: r as u32,
        p: p as u32,
    }))
}

/// Whether `field` is the padded standard base64 of `size` bytes, as Django writes a
/// derived key: anything else never matches, so it is refused without the work.
fn is_base64_of(field: &str, size: usize) -> bool {
    field.len() == size.div_ceil(3) * 4 && STANDARD.decode(field).is_ok_and(|b| b.len() == size)
}

/// A field of ASCII digits, as a number (None for anything else, or past u64). Django
/// parses with `int()`, which takes more spellings (`+5`, ` 5`, `0_5`), but re-encodes
/// with `%d`: a field not written so never matches.
fn decimal(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 19 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// How long verifying the dearest hash the caps let through takes here, over Django's
/// hashers but argon2 (see [`super::password::dearest_verification`]). Each is timed on
/// parameters an eighth to a tenth of the caps and scaled up: the work is linear in the
/// iterations, in 2^cost and in N·r·p.
pub fn dearest_kdf() -> Duration {
    let salt = "calibration-salt".to_owned();
    let time = |kdf: Kdf, scale: u32| {
        let started = Instant::now();
        let _ = kdf.encode("calibration password");
        started.elapsed() * scale
    };
    let pbkdf2 = |prf| Kdf::Pbkdf2 {
        prf,
        iterations: MAX_PBKDF2_ITERATIONS / 10,
        salt: salt.clone(),
    };
    [
        time(pbkdf2(Prf::Sha256), 10),
        time(pbkdf2(Prf::Sha1), 10),
        time(
            Kdf::BcryptSha256 {
                version: bcrypt::Version::TwoB,
                cost: MAX_BCRYPT_COST - 3,
                salt: [7; 16],
            },
            8,
        ),
        time(
            Kdf::Scrypt {
                log_n: 11,
                salt: salt.clone(),
                r: (MAX_SCRYPT_WORK >> 14) as u32,
                p: 1,
            },
            8,
        ),
    ]
    .into_iter()
    .max()
    .unwrap_or_default()
}

impl Kdf {
    /// Whether `password` is the one `encoded` (the string this was parsed from) was made
    /// of: Django's `verify`, encoding the password again with the same salt and
    /// parameters and comparing the whole string in constant time. Blocking: up to a
    /// second or two of CPU (and 32 MiB for scrypt).
    pub fn verify(&self, password: &str, encoded: &str) -> bool {
        let Some(again) = self.encode(password) else {
            return false;
        };
        again.as_bytes().ct_eq(encoded.as_bytes()).into()
    }

    /// The string Django's `encode` makes of `password` with these parameters.
    fn encode(&self, password: &str) -> Option<String> {
        match self {
            Kdf::Pbkdf2 {
                prf,
                iterations,
                salt,
            } => {
                // Django's `pbkdf2` with `dklen=None`: the digest's size.
                let (name, algorithm, size) = match prf {
                    Prf::Sha256 => ("pbkdf2_sha256", ring::pbkdf2::PBKDF2_HMAC_SHA256, 32),
                    Prf::Sha1 => ("pbkdf2_sha1", ring::pbkdf2::PBKDF2_HMAC_SHA1, 20),
                };
                let mut out = [0u8; 32];
                let out = &mut out[..size];
                ring::pbkdf2::derive(
                    algorithm,
                    std::num::NonZeroU32::new(*iterations)?,
                    salt.as_bytes(),
                    password.as_bytes(),
                    out,
                );
                Some(format!(
                    "{name}${iterations}${salt}${}",
                    STANDARD.encode(out)
                ))
            }
            Kdf::BcryptSha256 {
                version,
                cost,
                salt,
            } => {
                // Hashed first so bcrypt never truncates at 72 bytes: 64 lowercase hex
                // digits of SHA-256 (`binascii.hexlify`).
                let prehash = hex::encode(sha2::Sha256::digest(password.as_bytes()));
                let parts = bcrypt::hash_with_salt(prehash.as_bytes(), *cost, *salt).ok()?;
                Some(format!(
                    "bcrypt_sha256${}",
                    parts.format_for_version(version.clone())
                ))
            }
            Kdf::Scrypt { log_n, salt, r, p } => {
                let params = scrypt::Params::new(*log_n, *r, *p, 64).ok()?;
                let mut out = [0u8; 64];
                scrypt::scrypt(password.as_bytes(), salt.as_bytes(), &params, &mut out).ok()?;
                Some(format!(
                    "scrypt${}${salt}${r}${p}${}",
                    1u64 << log_n,
                    STANDARD.encode(out)
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::password::{hash_password, needs_rehash, verify_password};
    use base64::engine::general_purpose::URL_SAFE;

    // Made by real Django 4.2.13 (bcrypt 4.2.1, argon2-cffi 23.1.0, the venv of
    // scripts/django-venv.sh) with `settings.configure(PASSWORD_HASHERS=[the five default
    // hashers])`, `django.setup()`, then:
    //   PW = "correct horse battery staple"; NA = "pässwörd-日本語-🔑"
    //   make_password(PW, hasher=name)               for each plain name below
    //   PBKDF2PasswordHasher().encode(NA, "oldSalt1110", iterations=36000)
    //   PBKDF2SHA1PasswordHasher().encode(NA, "sälz", iterations=1000)
    //   make_password(NA, hasher="argon2")
    //   "argon2" + argon2.low_level.hash_secret(PW.encode(), b"Qx9rTmLk2pWz", time_cost=2,
    //       memory_cost=512, parallelism=2, hash_len=16, type=Type.I)   (Django 1.10's)
    //   make_password(NA, salt=bcrypt.gensalt(5, prefix=b"2a"), hasher="bcrypt_sha256")
    //   ScryptPasswordHasher().encode(NA, "sälz", n=1024, r=4, p=2)
    //   make_password(None)
    // and checked there with `check_password` (right and wrong password).
    const PW: &str = "correct horse battery staple";
    const NA: &str = "pässwörd-日本語-🔑";
    const PBKDF2_SHA256_600K: &str =
        "pbkdf2_sha256$600000$3QCVlVpzOfH7lwbr8v7Fht$HZOLJHRMXElYsihxcaqElDjdiv+KiMeswz43bgcAbLk=";
    const PBKDF2_SHA256_36K_NON_ASCII: &str =
        "pbkdf2_sha256$36000$oldSalt1110$OxqJHrivivYtI0D9bF8BDpopz6qhpqTRInQ/lhff698=";
    const PBKDF2_SHA1: &str =
        "pbkdf2_sha1$600000$EOTonCHzIBRnDCDXGtb2o6$s41m99DOiezaKN21aWLZurKJ0Qc=";
    const PBKDF2_SHA1_NON_ASCII_SALT: &str = "pbkdf2_sha1$1000$sälz$EOVKxU9Eg4MEreVTz/aXWLciH3k=";
    const ARGON2ID: &str = "argon2$argon2id$v=19$m=102400,t=2,p=8$Mjhtc05kUXBwYVBEbTVsM0Z0NjJlVQ$f+dia7BTh7T82f1//MJy/bLWGo9bllR6KkNmcyVmFNw";
    const ARGON2ID_NON_ASCII: &str = "argon2$argon2id$v=19$m=102400,t=2,p=8$cVJZb2lzTWNpaGRxZXowWmJWalZsZQ$BQ628GKl++OImC7vifDAzYe8druZZVDL8nuk9ZgaT5U";
    const ARGON2I_OLD: &str =
        "argon2$argon2i$v=19$m=512,t=2,p=2$UXg5clRtTGsycFd6$XdYFxGtSv/YtAeCAGFMwjA";
    const BCRYPT_SHA256: &str =
        "bcrypt_sha256$$2b$12$f1ghKPnilCqAQYU1Gd5itOxIhn7pNljTQdrpUIuuYLzrB1/z0M9va";
    const BCRYPT_SHA256_2A_NON_ASCII: &str =
        "bcrypt_sha256$$2a$05$m7Lt/UvJB2hibYOM3mJSm.ZUCYILAilHkzytpHndqT7CPxSFLbiYO";
    const SCRYPT: &str = "scrypt$16384$s4EKwzapUSbrddN7BBafJv$8$1$JQEX1Jf4fJY8fze+MfRmSGQFFtUDnBisAKWU61nJItg9J/6oM6H8gZMfX1mNYa4Hf9LHKhWAZLn8HvrUtDnQVw==";
    const SCRYPT_NON_ASCII: &str = "scrypt$1024$sälz$4$2$NL5lSvhj552C21pHJrlRH4+qhRWWsar5OnxQvZVnRurELAgXOUpsCxmGYJeI2+dJhwequCjAoD97dD+jQ0WK3A==";
    const UNUSABLE: &str = "!rtzf3lsgiS8HFosL3FpIb6fCvC8YAYrGez6kC4Ff";

    async fn verifies(password: &str, hash: &str) -> bool {
        verify_password(password.to_owned(), Some(hash.to_owned())).await
    }

    /// The right password verifies; near misses (one character off, a prefix, a
    /// different normalisation or case, empty) don't.
    async fn only_the_right_password(password: &str, hash: &str) {
        assert!(verifies(password, hash).await, "{hash} with {password:?}");
        let mut last_off = password.to_owned();
        let c = last_off.pop().unwrap();
        last_off.push(if c == 'e' { 'f' } else { 'e' });
        for wrong in [
            last_off.as_str(),
            &password[..password.char_indices().last().unwrap().0],
            &format!("{password} "),
            &password.to_uppercase(),
            "",
        ] {
            assert!(!verifies(wrong, hash).await, "{hash} with {wrong:?}");
        }
    }

    // 600,000 iterations take seconds in a debug build (the generic code is compiled
    // unoptimised in this crate): one right and one wrong password each.
    #[tokio::test]
    async fn pbkdf2_sha256_at_django_4_2s_600000_iterations() {
        assert!(verifies(PW, PBKDF2_SHA256_600K).await);
        assert!(!verifies("correct horse battery stapler", PBKDF2_SHA256_600K).await);
    }

    #[tokio::test]
    async fn pbkdf2_sha256_with_an_old_iteration_count_and_a_non_ascii_password() {
        only_the_right_password(NA, PBKDF2_SHA256_36K_NON_ASCII).await;
        // The same password's bytes in another normalisation (NFD) are another password,
        // for Django too.
        let nfd = "pa\u{308}sswo\u{308}rd-日本語-🔑";
        assert!(!verifies(nfd, PBKDF2_SHA256_36K_NON_ASCII).await);
    }

    #[tokio::test]
    async fn pbkdf2_sha1_with_an_ascii_and_a_non_ascii_salt() {
        assert!(verifies(PW, PBKDF2_SHA1).await);
        assert!(!verifies(NA, PBKDF2_SHA1).await);
        only_the_right_password(NA, PBKDF2_SHA1_NON_ASCII_SALT).await;
    }

    #[tokio::test]
    async fn django_argon2id_and_an_old_argon2i() {
        only_the_right_password(PW, ARGON2ID).await;
        assert!(verifies(NA, ARGON2ID_NON_ASCII).await);
        assert!(!verifies(PW, ARGON2ID_NON_ASCII).await);
        only_the_right_password(PW, ARGON2I_OLD).await;
    }

    #[tokio::test]
    async fn bcrypt_sha256_2b_and_2a() {
        only_the_right_password(PW, BCRYPT_SHA256).await;
        only_the_right_password(NA, BCRYPT_SHA256_2A_NON_ASCII).await;
        // bcrypt's versions differ in their prefix only, and Django encodes again with
        // the stored one: the same hash under another version verifies there too.
        let as_2b = BCRYPT_SHA256_2A_NON_ASCII.replacen("$2a$", "$2b$", 1);
        assert!(verifies(NA, &as_2b).await);
    }

    #[tokio::test]
    async fn bcrypt_sha256_does_not_truncate_long_passwords() {
        // Hashed first: two passwords alike in their first 72 bytes still differ.
        let long = "x".repeat(100);
        let salt: [u8; 16] = *b"0123456789abcdef";
        let made = Kdf::BcryptSha256 {
            version: bcrypt::Version::TwoB,
            cost: 4,
            salt,
        }
        .encode(&long)
        .unwrap();
        assert!(verifies(&long, &made).await);
        assert!(!verifies(&"x".repeat(99), &made).await);
    }

    #[tokio::test]
    async fn scrypt_default_and_other_parameters() {
        only_the_right_password(PW, SCRYPT).await;
        only_the_right_password(NA, SCRYPT_NON_ASCII).await;
    }

    #[tokio::test]
    async fn an_unusable_password_never_verifies() {
        assert!(!verifies("", UNUSABLE).await);
        assert!(!verifies(UNUSABLE, UNUSABLE).await);
        assert!(!verifies(&UNUSABLE[1..], UNUSABLE).await);
        // Even an unusable marker in front of a hash the password matches.
        assert!(!verifies(PW, &format!("!{PBKDF2_SHA1_NON_ASCII_SALT}")).await);
    }

    #[tokio::test]
    async fn a_hash_changed_in_any_field_no_longer_verifies() {
        for (password, good) in [
            (PW, SCRYPT),
            (NA, PBKDF2_SHA1_NON_ASCII_SALT),
            (NA, BCRYPT_SHA256_2A_NON_ASCII),
            (PW, ARGON2I_OLD),
        ] {
            assert!(verifies(password, good).await);
            let changed = [
                // Last character of the hash.
                {
                    let mut s = good.to_owned();
                    let c = s.pop().unwrap();
                    s.push(if c == 'A' { 'B' } else { 'A' });
                    s
                },
                // Padding dropped (Django compares the whole string).
                good.trim_end_matches('=').to_owned() + "",
                // Another hasher's name.
                good.replacen("scrypt$", "scrypt2$", 1)
                    .replacen("pbkdf2_sha1$", "pbkdf2_sha256$", 1)
                    .replacen("bcrypt_sha256$", "bcrypt$", 1)
                    .replacen("argon2i$", "argon2id$", 1),
                // A field written otherwise: same number, another spelling.
                good.replacen("$1000$", "$01000$", 1)
                    .replacen("$16384$", "$016384$", 1)
                    .replacen("$05$", "$5$", 1)
                    .replacen("t=2", "t=02", 1),
                good.to_owned() + "$",
                good.to_owned() + " ",
                good[..good.len() - 2].to_owned(),
            ];
            for bad in changed {
                if bad == good {
                    continue;
                }
                assert!(!verifies(password, &bad).await, "{bad}");
            }
        }
    }

    #[tokio::test]
    async fn malformed_hashes_and_unknown_algorithms_fail_without_panicking() {
        for garbage in [
            "",
            "$",
            "!",
            "pbkdf2_sha256",
            "pbkdf2_sha256$",
            "pbkdf2_sha256$$$",
            "pbkdf2_sha256$0$salt$aGFzaA==",
            "pbkdf2_sha256$-1$salt$aGFzaA==",
            "pbkdf2_sha256$1000$$aGFzaA==",
            "pbkdf2_sha256$1000$salt",
            "pbkdf2_sha256$18446744073709551616$salt$aGFzaA==",
            "pbkdf2_sha1$1000$salt$",
            "argon2",
            "argon2$",
            "argon2$argon2id",
            "argon2$argon2id$v=19$m=19456,t=2,p=1$",
            "argon2$argon2id$v=19$m=0,t=0,p=0$c2FsdHNhbHQ$aGFzaA",
            "argon2$argon2x$v=19$m=512,t=2,p=2$UXg5clRtTGsycFd6$XdYFxGtSv/YtAeCAGFMwjA",
            "argon2$argon2id$v=99$m=512,t=2,p=2$UXg5clRtTGsycFd6$XdYFxGtSv/YtAeCAGFMwjA",
            "argon2$pbkdf2_sha256$1000$salt$aGFzaA==",
            "bcrypt_sha256$",
            "bcrypt_sha256$$2b$",
            "bcrypt_sha256$$2b$12$",
            "bcrypt_sha256$$2b$12$short",
            "bcrypt_sha256$$2c$12$f1ghKPnilCqAQYU1Gd5itOxIhn7pNljTQdrpUIuuYLzrB1/z0M9va",
            "bcrypt_sha256$$2b$03$f1ghKPnilCqAQYU1Gd5itOxIhn7pNljTQdrpUIuuYLzrB1/z0M9va",
            "bcrypt_sha256$$2b$12$f1ghKPnilCqAQYU1Gd5itOxIhn7pNljTQdrpUIuuYLzrB1/z0M9va$",
            "bcrypt_sha256$$2b$12$€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€",
            "bcrypt_sha256$2b$12$f1ghKPnilCqAQYU1Gd5itOxIhn7pNljTQdrpUIuuYLzrB1/z0M9va",
            "scrypt$16384$salt$8$1",
            "scrypt$16384$salt$8$1$aGFzaA==$",
            "scrypt$1000$salt$8$1$aGFzaA==",
            "scrypt$1$salt$8$1$aGFzaA==",
            "scrypt$0$salt$8$1$aGFzaA==",
            "scrypt$16384$salt$0$1$aGFzaA==",
            "scrypt$16384$salt$8$0$aGFzaA==",
            "scrypt$16384$$8$1$aGFzaA==",
            "scrypt$65536$salt$1$1$aGFzaA==",
            // Django 4.2's default list has none of these.
            "bcrypt$$2b$12$f1ghKPnilCqAQYU1Gd5itOxIhn7pNljTQdrpUIuuYLzrB1/z0M9va",
            "md5$salt$1c0d8a2c6c4bd1b9d0fcd1f2c4a1a8e1",
            "sha1$$3da541559918a808c2402bba5012f6c60b27661c",
            "5f4dcc3b5aa765d61d8327deb882cf99",
            "plaintext password",
            "crypt$$ab1234567890",
            "unknown$1$2$3",
        ] {
            assert!(!verifies("password", garbage).await, "{garbage:?}");
            assert!(!verifies("", garbage).await, "{garbage:?}");
        }
    }

    #[test]
    fn parameters_past_djangos_own_are_refused_before_any_work() {
        let costly = |hash: &str| matches!(parse(hash), Err(UnverifiableHash::TooCostly(..)));
        // At the caps (Django 4.2's defaults, pbkdf2 up to Django 5.2's): accepted.
        let h32 = STANDARD.encode([7u8; 32]);
        let h20 = STANDARD.encode([7u8; 20]);
        let h64 = STANDARD.encode([7u8; 64]);
        assert!(parse(&format!("pbkdf2_sha256$1000000$salt${h32}")).is_ok());
        assert!(parse(&format!("pbkdf2_sha1$1000000$salt${h20}")).is_ok());
        assert!(
            parse("bcrypt_sha256$$2b$12$f1ghKPnilCqAQYU1Gd5itOxIhn7pNljTQdrpUIuuYLzrB1/z0M9va")
                .is_ok()
        );
        assert!(parse(&format!("scrypt$16384$salt$8$1${h64}")).is_ok());
        // The same work otherwise spread: accepted too.
        assert!(parse(&format!("scrypt$8192$salt$8$2${h64}")).is_ok());
        // Past them: refused.
        assert!(costly(&format!("pbkdf2_sha256$1000001$salt${h32}")));
        assert!(costly(&format!("pbkdf2_sha256$2000000$salt${h32}")));
        assert!(costly(&format!("pbkdf2_sha1$1000001$salt${h20}")));
        assert!(costly(&format!("pbkdf2_sha1$99999999999$salt${h20}")));
        for cost in [13, 16, 17, 31] {
            assert!(costly(&format!(
                "bcrypt_sha256$$2b${cost}$f1ghKPnilCqAQYU1Gd5itOxIhn7pNljTQdrpUIuuYLzrB1/z0M9va"
            )));
        }
        assert!(costly(&format!("scrypt$16384$salt$8$2${h64}")));
        assert!(costly(&format!("scrypt$32768$salt$8$1${h64}")));
        assert!(costly(&format!("scrypt$16384$salt$16$1${h64}")));
        assert!(costly(&format!("scrypt$1024$salt$1$5000${h64}")));
        assert!(costly(&format!("scrypt$1073741824$salt$8$1${h64}")));
        // A derived key of the wrong size or alphabet can't match: refused unworked.
        for short in [
            "pbkdf2_sha256$1000$salt$aGFzaA==".to_owned(),
            format!("pbkdf2_sha1$1000$salt${h32}"),
            format!("pbkdf2_sha256$1000$salt${}", h32.replace('=', "")),
            format!("pbkdf2_sha256$1000$salt${}", URL_SAFE.encode([0xffu8; 32])),
            format!("scrypt$16384$salt$8$1${h32}"),
        ] {
            assert!(
                matches!(parse(&short), Err(UnverifiableHash::Malformed(_))),
                "{short}"
            );
        }
    }

    #[tokio::test]
    async fn argon2_past_djangos_parameters_is_refused_not_allocated() {
        let costly = |hash: &str| {
            matches!(
                crate::auth::password::refusal(hash),
                Some(UnverifiableHash::TooCostly(..))
            )
        };
        // Django's own (100 MiB, 2 passes, 8 lanes) and ours: verified.
        assert!(crate::auth::password::refusal(ARGON2ID).is_none());
        assert!(
            crate::auth::password::refusal(
                "$argon2id$v=19$m=19456,t=2,p=1$UXg5clRtTGsycFd6$XdYFxGtSv/YtAeCAGFMwjA"
            )
            .is_none()
        );
        // Less memory and more passes, within Django's work: verified.
        assert!(
            crate::auth::password::refusal(
                "argon2$argon2id$v=19$m=51200,t=4,p=8$UXg5clRtTGsycFd6$XdYFxGtSv/YtAeCAGFMwjA"
            )
            .is_none()
        );
        let started = std::time::Instant::now();
        for hash in [
            // More memory, more work, more lanes than Django's.
            "argon2$argon2id$v=19$m=102401,t=1,p=8$UXg5clRtTGsycFd6$XdYFxGtSv/YtAeCAGFMwjA",
            "argon2$argon2id$v=19$m=102400,t=3,p=8$UXg5clRtTGsycFd6$XdYFxGtSv/YtAeCAGFMwjA",
            "argon2$argon2id$v=19$m=65536,t=4,p=8$UXg5clRtTGsycFd6$XdYFxGtSv/YtAeCAGFMwjA",
            "argon2$argon2id$v=19$m=102400,t=2,p=16$UXg5clRtTGsycFd6$XdYFxGtSv/YtAeCAGFMwjA",
            // 4 GiB and 1,000 passes would take the machine's memory or minutes.
            "argon2$argon2id$v=19$m=4194304,t=2,p=1$UXg5clRtTGsycFd6$XdYFxGtSv/YtAeCAGFMwjA",
            "argon2$argon2id$v=19$m=102400,t=1000,p=8$UXg5clRtTGsycFd6$XdYFxGtSv/YtAeCAGFMwjA",
            "$argon2id$v=19$m=4194304,t=2,p=1$UXg5clRtTGsycFd6$XdYFxGtSv/YtAeCAGFMwjA",
            "$argon2id$v=19$m=19456,t=100000,p=1$UXg5clRtTGsycFd6$XdYFxGtSv/YtAeCAGFMwjA",
        ] {
            assert!(costly(hash), "{hash}");
            assert!(!verifies(PW, hash).await, "{hash}");
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
    }

    #[test]
    fn calibration_measures_a_plausible_dearest_verification() {
        let dearest = dearest_kdf();
        assert!(dearest > std::time::Duration::from_millis(5), "{dearest:?}");
        assert!(dearest < std::time::Duration::from_secs(60), "{dearest:?}");
    }

    #[tokio::test]
    async fn every_django_hash_needs_a_rehash_ours_does_not() {
        for hash in [
            PBKDF2_SHA256_600K,
            PBKDF2_SHA1,
            ARGON2ID,
            ARGON2I_OLD,
            BCRYPT_SHA256,
            SCRYPT,
        ] {
            assert!(needs_rehash(hash), "{hash}");
        }
        let ours = hash_password(PW.to_owned()).await.unwrap();
        assert!(!needs_rehash(&ours));
        // Stronger than ours: kept. Weaker, or argon2i/argon2d, or version 0x10: rehashed.
        assert!(!needs_rehash(&ARGON2ID["argon2".len()..]));
        assert!(needs_rehash(&ARGON2I_OLD["argon2".len()..]));
        assert!(needs_rehash(
            "$argon2id$v=19$m=8192,t=2,p=1$UXg5clRtTGsycFd6$XdYFxGtSv/YtAeCAGFMwjA"
        ));
        assert!(needs_rehash(
            "$argon2id$v=19$m=19456,t=1,p=1$UXg5clRtTGsycFd6$XdYFxGtSv/YtAeCAGFMwjA"
        ));
        assert!(needs_rehash(
            "$argon2id$v=16$m=19456,t=2,p=1$UXg5clRtTGsycFd6$XdYFxGtSv/YtAeCAGFMwjA"
        ));
        assert!(needs_rehash(
            "$argon2d$v=19$m=19456,t=2,p=1$UXg5clRtTGsycFd6$XdYFxGtSv/YtAeCAGFMwjA"
        ));
    }

    #[test]
    fn encoding_again_gives_the_stored_string_exactly() {
        // The `verify` comparison is of whole strings: check the re-encoding field by
        // field against a fixed hash of each format (cheap parameters).
        for (password, hash) in [
            (NA, PBKDF2_SHA1_NON_ASCII_SALT),
            (NA, PBKDF2_SHA256_36K_NON_ASCII),
            (NA, BCRYPT_SHA256_2A_NON_ASCII),
            (NA, SCRYPT_NON_ASCII),
        ] {
            let Ok(DjangoHash::Kdf(kdf)) = parse(hash) else {
                panic!("{hash} parses");
            };
            assert_eq!(kdf.encode(password).as_deref(), Some(hash));
        }
    }
}
