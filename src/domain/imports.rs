//! The rules rows imported from the Django app are held to (`tasklane import-django`):
//! no field longer than the API would ever store, and no password hash a login would
//! refuse to verify for its cost.

use crate::auth::password::{UNUSABLE_PREFIX, UnverifiableHash, refusal};

use super::tasks::{DESCRIPTION_MAX, TITLE_MAX};
use super::validators::{EMAIL_MAX, USERNAME_MAX};

/// A field longer than the API accepts: the import refuses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooLong {
    /// The original's table: `auth_user` or `tasks_task`.
    pub table: &'static str,
    pub id: i64,
    pub field: &'static str,
    /// In characters (Unicode code points, as Django counts them).
    pub length: usize,
    pub max: usize,
}

impl std::fmt::Display for TooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {} of {} characters (at most {})",
            self.table, self.id, self.field, self.length, self.max
        )
    }
}

/// The API's limit on a field an import carries, in characters.
fn max_length(field: &str) -> Option<usize> {
    Some(match field {
        "username" => USERNAME_MAX,
        "email" => EMAIL_MAX,
        "title" => TITLE_MAX,
        "description" => DESCRIPTION_MAX,
        _ => return None,
    })
}

/// `value`, field `field` of row `id` of `table`, when it is longer than the API accepts.
/// Counted as stored, spaces included: what is stored is what every list serves.
pub fn too_long(table: &'static str, id: i64, field: &'static str, value: &str) -> Option<TooLong> {
    let max = max_length(field)?;
    // Counting stops past the limit: a 5 MB field is not walked to its end.
    let length = value.chars().take(max + 1).count();
    (length > max).then(|| TooLong {
        table,
        id,
        field,
        length: value.chars().count(),
        max,
    })
}

/// An imported password hash as tasklane stores it: as it is, or, when its parameters are
/// past what a login verifies (the caps of [`crate::auth::django`]), an unusable password
/// (Django's `!` and 40 random characters) and why, for a warning: the account needs a
/// password reset. Hashes refused for other reasons (malformed, unknown) stay as they
/// are: they are refused at login, and a later tasklane may know them.
pub fn imported_hash(hash: String) -> (String, Option<String>) {
    match refusal(&hash) {
        Some(UnverifiableHash::TooCostly(hasher, what)) => {
            (unusable_password(), Some(format!("{hasher} {what}")))
        }
        _ => (hash, None),
    }
}

/// Django's `make_password(None)`: `!` and 40 random characters, which no password
/// matches.
pub fn unusable_password() -> String {
    format!(
        "{UNUSABLE_PREFIX}{}",
        hex::encode(rand::random::<[u8; 20]>())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_past_the_apis_limits_are_too_long() {
        assert_eq!(too_long("tasks_task", 1, "title", &"x".repeat(255)), None);
        assert_eq!(
            too_long("tasks_task", 7, "title", &"é".repeat(256)),
            Some(TooLong {
                table: "tasks_task",
                id: 7,
                field: "title",
                length: 256,
                max: 255
            })
        );
        assert_eq!(
            too_long("tasks_task", 1, "description", &"x".repeat(10_000)),
            None
        );
        let long = too_long("tasks_task", 2, "description", &" ".repeat(5_000_000)).unwrap();
        assert_eq!(
            long.to_string(),
            "tasks_task 2: description of 5000000 characters (at most 10000)"
        );
        assert!(too_long("auth_user", 3, "username", &"u".repeat(151)).is_some());
        assert!(too_long("auth_user", 3, "email", &"e".repeat(255)).is_some());
        assert!(too_long("auth_user", 3, "email", &"e".repeat(254)).is_none());
    }

    #[test]
    fn hashes_past_the_caps_become_unusable_passwords() {
        let h32 = "A9b4Rw8VeFyC4C5ImlD1bJRcrk6ziCeDpQCvZVeQOr8=";
        let at_cap = format!("pbkdf2_sha256$1000000$salt${h32}");
        assert_eq!(imported_hash(at_cap.clone()), (at_cap, None));
        let (stored, why) = imported_hash(format!("pbkdf2_sha256$1000001$salt${h32}"));
        assert!(stored.starts_with('!') && stored.len() == 41, "{stored}");
        assert!(why.unwrap().contains("1000001 iterations"));
        let bcrypt17 = "bcrypt_sha256$$2b$17$f1ghKPnilCqAQYU1Gd5itOxIhn7pNljTQdrpUIuuYLzrB1/z0M9va";
        assert!(imported_hash(bcrypt17.into()).0.starts_with('!'));
        // Malformed and unknown hashes, and unusable ones, stay as they are.
        for kept in ["md5$salt$abc", "!already", "pbkdf2_sha256$x$y$z"] {
            assert_eq!(imported_hash(kept.into()), (kept.to_owned(), None));
        }
        assert_ne!(unusable_password(), unusable_password());
    }
}
