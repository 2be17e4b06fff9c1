//! DRF's field semantics: which values a field accepts, how it coerces them, and the exact
//! English messages the original app returned.

use serde_json::{Map, Value};

use crate::error::FieldErrors;

pub const REQUIRED: &str = "This field is required.";
pub const NOT_NULL: &str = "This field may not be null.";
pub const NOT_BLANK: &str = "This field may not be blank.";

/// Reads field `name` and parses it with `parse`. A missing field is recorded as required
/// when `required`; `null` is refused (no field of this API is nullable on input). Returns
/// the value only when it is present and valid.
pub fn field<T>(
    data: &Map<String, Value>,
    name: &str,
    required: bool,
    errors: &mut FieldErrors,
    parse: impl FnOnce(&Value) -> Result<T, String>,
) -> Option<T> {
    match data.get(name) {
        None => {
            if required {
                errors.add(name, REQUIRED);
            }
            None
        }
        Some(Value::Null) => {
            errors.add(name, NOT_NULL);
            None
        }
        Some(v) => match parse(v) {
            Ok(t) => Some(t),
            Err(message) => {
                errors.add(name, message);
                None
            }
        },
    }
}

/// DRF `CharField` options.
#[derive(Clone, Copy)]
pub struct Chars {
    pub allow_blank: bool,
    pub trim: bool,
    pub max_length: Option<usize>,
}

impl Chars {
    pub const fn trimmed(max_length: usize) -> Chars {
        Chars {
            allow_blank: false,
            trim: true,
            max_length: Some(max_length),
        }
    }
}

/// DRF `CharField`: strings, and numbers as their text; not booleans, lists or objects.
pub fn chars(v: &Value, opts: Chars) -> Result<String, String> {
    let s = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return Err("Not a valid string.".into()),
    };
    let s = if opts.trim { s.trim().to_owned() } else { s };
    if s.is_empty() {
        return if opts.allow_blank {
            Ok(s)
        } else {
            Err(NOT_BLANK.into())
        };
    }
    if let Some(max) = opts.max_length
        && s.chars().count() > max
    {
        return Err(format!(
            "Ensure this field has no more than {max} characters."
        ));
    }
    if s.contains('\0') {
        return Err("Null characters are not allowed.".into());
    }
    Ok(s)
}

/// DRF `BooleanField`: JSON booleans, 0/1, and the usual words in any of three casings.
pub fn boolean(v: &Value) -> Result<bool, String> {
    const TRUE: &[&str] = &[
        "t", "T", "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON", "1",
    ];
    const FALSE: &[&str] = &[
        "f", "F", "n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF", "0",
    ];
    match v {
        Value::Bool(b) => Ok(*b),
        Value::Number(n) if n.as_f64() == Some(1.0) => Ok(true),
        Value::Number(n) if n.as_f64() == Some(0.0) => Ok(false),
        Value::String(s) if TRUE.contains(&s.as_str()) => Ok(true),
        Value::String(s) if FALSE.contains(&s.as_str()) => Ok(false),
        _ => Err("Must be a valid boolean.".into()),
    }
}

/// Usernames are at most this many characters (Django's `AbstractUser.username`).
pub const USERNAME_MAX: usize = 150;

/// Django's `AbstractBaseUser.normalize_username`: Unicode NFKC, so `ａｌｉｃｅ`
/// (full-width) and `alice` are one name. Applied wherever a username comes in.
pub fn normalize_username(s: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    s.nfkc().collect()
}

/// Django's `UnicodeUsernameValidator`: letters, digits and `@.+-_`.
pub fn is_valid_username(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '@' | '.' | '+' | '-' | '_'))
}

/// Django's `EmailValidator` (dot-atom local part; a DNS name, `localhost`, or an
/// `[IP literal]` domain).
pub fn is_valid_email(s: &str) -> bool {
    if s.len() > 320 {
        return false;
    }
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    let atom_char = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{}|~-".contains(c);
    let local_ok = !local.is_empty()
        && local
            .split('.')
            .all(|atom| !atom.is_empty() && atom.chars().all(atom_char));
    if !local_ok {
        return false;
    }
    if domain == "localhost" {
        return true;
    }
    if let Some(ip) = domain.strip_prefix('[').and_then(|d| d.strip_suffix(']')) {
        let ip = ip.strip_prefix("IPv6:").unwrap_or(ip);
        return ip.parse::<std::net::IpAddr>().is_ok();
    }
    let labels: Vec<&str> = domain.split('.').collect();
    let Some((tld, rest)) = labels.split_last() else {
        return false;
    };
    let label_ok = |l: &&str| {
        (1..=63).contains(&l.len())
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    !rest.is_empty()
        && rest.iter().all(label_ok)
        && (2..=63).contains(&tld.len())
        && tld.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !tld.ends_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_are_coerced_to_strings_but_booleans_are_not() {
        assert_eq!(chars(&json!(12345), Chars::trimmed(255)).unwrap(), "12345");
        assert_eq!(
            chars(&json!(true), Chars::trimmed(255)).unwrap_err(),
            "Not a valid string."
        );
    }

    #[test]
    fn whitespace_only_is_blank() {
        assert_eq!(
            chars(&json!("   "), Chars::trimmed(255)).unwrap_err(),
            NOT_BLANK
        );
    }

    #[test]
    fn the_length_limit_counts_characters_after_trimming() {
        let s = format!("  {}  ", "é".repeat(255));
        assert!(chars(&json!(s), Chars::trimmed(255)).is_ok());
        assert!(chars(&json!("é".repeat(256)), Chars::trimmed(255)).is_err());
    }

    #[test]
    fn drf_truthy_strings_are_booleans() {
        assert_eq!(boolean(&json!("yes")), Ok(true));
        assert_eq!(boolean(&json!("off")), Ok(false));
        assert_eq!(boolean(&json!(1)), Ok(true));
        assert_eq!(
            boolean(&json!("notabool")),
            Err("Must be a valid boolean.".into())
        );
        assert!(boolean(&json!(2)).is_err());
    }

    #[test]
    fn usernames_are_nfkc_normalised_like_django() {
        assert_eq!(normalize_username("ａｌｉｃｅ"), "alice");
        assert_eq!(normalize_username("e\u{301}"), "\u{e9}");
        assert_eq!(normalize_username("ﬁx"), "fix");
        assert_eq!(normalize_username("Zoë1"), "Zoë1");
    }

    #[test]
    fn usernames_allow_letters_digits_and_five_symbols() {
        assert!(is_valid_username("alice.b+c-d_e@x"));
        assert!(is_valid_username("Zoë1"));
        assert!(!is_valid_username("bad user!"));
    }

    #[test]
    fn emails_are_checked_like_django() {
        for ok in [
            "a@example.com",
            "a.b+c@sub.example.co",
            "x@localhost",
            "u@[127.0.0.1]",
        ] {
            assert!(is_valid_email(ok), "{ok}");
        }
        for bad in [
            "notanemail",
            "a@b",
            "@example.com",
            "a..b@example.com",
            "a@-x.com",
            "a@example.c",
            "a b@example.com",
        ] {
            assert!(!is_valid_email(bad), "{bad}");
        }
    }
}
