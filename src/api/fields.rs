//! DRF's field semantics for request bodies: which JSON values a field accepts, how it
//! coerces them into typed values, and the exact English messages the original app
//! returned. The rules those values must then meet are the domain's.

use serde_json::{Map, Value};

pub use crate::domain::{Chars, FieldErrors, NOT_BLANK, REQUIRED, check_chars};
pub const NOT_NULL: &str = "This field may not be null.";

/// Reads field `name` and parses it with `parse`. A missing field is recorded as required
/// when `required`; `null` is refused (see [`nullable_field`] for the fields that take
/// it). Returns the value only when it is present and valid.
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

/// [`field`] for a field that takes `null` (never required): `Some(None)` for `null`.
pub fn nullable_field<T>(
    data: &Map<String, Value>,
    name: &str,
    errors: &mut FieldErrors,
    parse: impl FnOnce(&Value) -> Result<T, String>,
) -> Option<Option<T>> {
    match data.get(name) {
        Some(Value::Null) => Some(None),
        _ => field(data, name, false, errors, parse).map(Some),
    }
}

/// DRF `DateTimeField`'s type rule: a string (what it must say is the domain's).
pub fn datetime_text(v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        _ => Err(crate::domain::tasks::DATETIME_FORMAT.into()),
    }
}

/// DRF `PrimaryKeyRelatedField`'s type rule: an integer, or a string of one.
pub fn pk(v: &Value) -> Result<i64, String> {
    let received = match v {
        Value::Number(n) if n.is_i64() => return Ok(n.as_i64().unwrap_or_default()),
        Value::String(s) => match s.trim().parse() {
            Ok(id) => return Ok(id),
            Err(_) => "str",
        },
        Value::Bool(_) => "bool",
        Value::Number(_) => "float",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
        Value::Null => "NoneType",
    };
    Err(format!(
        "Incorrect type. Expected pk value, received {received}."
    ))
}

/// DRF `CharField`: strings, and numbers as their text; not booleans, lists or objects.
/// The text's own rules (blank, length, NUL) are the domain's [`check_chars`].
pub fn chars(v: &Value, opts: Chars) -> Result<String, String> {
    check_chars(text(v)?, opts)
}

/// DRF `CharField`'s type rule alone: strings, and numbers as their text.
pub fn text(v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err("Not a valid string.".into()),
    }
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
    fn primary_keys_are_integers_or_their_text() {
        assert_eq!(pk(&json!(7)), Ok(7));
        assert_eq!(pk(&json!("7")), Ok(7));
        assert_eq!(
            pk(&json!(true)),
            Err("Incorrect type. Expected pk value, received bool.".into())
        );
        assert_eq!(
            pk(&json!("me")),
            Err("Incorrect type. Expected pk value, received str.".into())
        );
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
}
