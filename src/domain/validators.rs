//! Django's rules for the account fields: username normalisation and characters, and
//! the email address validator.

/// Usernames are at most this many characters (Django's `AbstractUser.username`).
pub const USERNAME_MAX: usize = 150;
/// Email addresses are at most this many characters (Django's `EmailField`).
pub const EMAIL_MAX: usize = 254;

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

/// Property tests: the validators take any text without panicking.
#[cfg(test)]
mod proptests {
    use proptest::prelude::*;

    use super::{is_valid_email, is_valid_username};

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn registration_fields_never_panic(username in ".{0,200}", email in ".{0,300}") {
            let _ = is_valid_username(&username);
            let _ = is_valid_email(&email);
        }
    }
}
