//! Personal API tokens (and other random secrets) as made and as stored: a recognisable
//! prefix and 40 random characters, kept only as their SHA-256.

/// Personal API tokens start with this, so they are told apart from JWTs at a glance.
pub const API_TOKEN_PREFIX: &str = "tlp_";

/// How API tokens are stored: SHA-256, hex. (They are 40 random characters, so a fast
/// hash is enough: there is nothing to brute-force.)
pub fn hash_api_token(token: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}

/// A new API token: the prefix and 40 random base-62 characters (≈ 238 bits).
pub fn new_api_token() -> String {
    random_token(API_TOKEN_PREFIX)
}

/// `prefix` and 40 random base-62 characters (≈ 238 bits).
pub(crate) fn random_token(prefix: &str) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut token = String::from(prefix);
    while token.len() < prefix.len() + 40 {
        let b = rand::random::<u8>();
        // Rejection sampling keeps every character equally likely.
        if b < 248 {
            token.push(ALPHABET[(b % 62) as usize] as char);
        }
    }
    token
}
