//! Django 4.2's default `AUTH_PASSWORD_VALIDATORS`
//! (`django/contrib/auth/password_validation.py`), with the same English messages: the
//! rule every new password meets, at registration, on the command line and on a change.
//!
//! `common-passwords.txt` is Django 4.2.13's `common-passwords.txt.gz`, decompressed
//! (BSD-licensed, Django Software Foundation).

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

/// `UserAttributeSimilarityValidator` default `max_similarity`.
const MAX_SIMILARITY: f64 = 0.7;
/// `MinimumLengthValidator` default `min_length`.
const MIN_LENGTH: usize = 8;

const MSG_TOO_SHORT: &str = "This password is too short. It must contain at least 8 characters.";
const MSG_TOO_COMMON: &str = "This password is too common.";
const MSG_ENTIRELY_NUMERIC: &str = "This password is entirely numeric.";

/// Django's 20,000 common passwords (already lowercased), loaded on first use.
static COMMON_PASSWORDS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("common-passwords.txt")
        .lines()
        .map(py_strip)
        .collect()
});

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
}
