//! What the import makes of the original's rows before writing any: conflicts and fields
//! too long stop it, hashes past the caps become unusable passwords, and rows outside the
//! softer rules are listed as warnings.

use std::collections::BTreeMap;

use crate::cli::show::quoted;
use crate::config::Database;
use crate::domain::imports::{TooLong, imported_hash, too_long};
use crate::domain::validators::{is_valid_email, is_valid_username, normalize_username};
use crate::store::django::{DjangoUser, Original};

/// Replaces each password hash past the caps a login verifies with an unusable password;
/// a warning for each.
pub(super) fn cap_hashes(users: &mut [DjangoUser]) -> Vec<String> {
    let mut warnings = Vec::new();
    for u in users {
        let (stored, why) = imported_hash(std::mem::take(&mut u.password));
        u.password = stored;
        if let Some(why) = why {
            warnings.push(format!(
                "account {} ({}): its password hash asks for more work than tasklane \
                 verifies ({why}); imported with an unusable password, it needs a password \
                 reset (`tasklane user set-password --username {}`)",
                u.id,
                quoted(&shown(&u.username)),
                normalize_username(&u.username)
            ));
        }
    }
    warnings
}

/// Conflicts and fields too long, which stop the import, and warnings about rows
/// imported as they are.
pub(super) struct Plan {
    pub conflicts: Vec<String>,
    pub too_long: Vec<TooLong>,
    pub warnings: Vec<String>,
}

/// Rows listed in a refusal, at most; the rest are counted.
const LISTED: usize = 100;

impl Plan {
    pub fn of(o: &Original) -> Plan {
        let mut by_name: BTreeMap<String, Vec<&DjangoUser>> = BTreeMap::new();
        let mut by_email: BTreeMap<String, Vec<&DjangoUser>> = BTreeMap::new();
        let mut warnings = Vec::new();
        let mut overlong = Vec::new();
        for u in &o.users {
            let name = normalize_username(&u.username);
            overlong.extend(too_long("auth_user", u.id, "username", &name));
            overlong.extend(too_long("auth_user", u.id, "email", &u.email));
            if name != u.username {
                warnings.push(format!(
                    "account {}: username {} is stored as {} (NFKC), the form logins \
                     are read in",
                    u.id,
                    quoted(&shown(&u.username)),
                    quoted(&shown(&name))
                ));
            }
            if !is_valid_username(&name) {
                warnings.push(format!(
                    "account {}: username {} breaks the registration rules",
                    u.id,
                    quoted(&shown(&u.username))
                ));
            }
            if !is_valid_email(&u.email) {
                warnings.push(format!(
                    "account {}: email {} is not a valid address",
                    u.id,
                    quoted(&shown(&u.email))
                ));
            }
            by_name.entry(name).or_default().push(u);
            by_email
                .entry(u.email.to_ascii_lowercase())
                .or_default()
                .push(u);
        }
        let mut conflicts = Vec::new();
        let list = |users: &[&DjangoUser]| {
            users
                .iter()
                .map(|u| {
                    format!(
                        "{} ({}, {})",
                        u.id,
                        quoted(&shown(&u.username)),
                        quoted(&shown(&u.email))
                    )
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        for (name, users) in by_name.iter().filter(|(_, u)| u.len() > 1) {
            let name = quoted(&shown(name));
            conflicts.push(format!("username {name}: accounts {}", list(users)));
        }
        for (email, users) in by_email.iter().filter(|(_, u)| u.len() > 1) {
            let email = quoted(&shown(email));
            conflicts.push(format!("email {email}: accounts {}", list(users)));
        }
        for t in &o.tasks {
            if let Some(long) = too_long_field(t.id, "title", &t.title) {
                overlong.push(long);
            } else {
                let title = t.title.trim().chars().count();
                if title < 5 {
                    warnings.push(format!(
                        "task {}: a title of {title} characters (new ones need 5 to 255)",
                        t.id
                    ));
                }
            }
            if let Some(d) = &t.description {
                if let Some(long) = too_long_field(t.id, "description", d) {
                    overlong.push(long);
                    continue;
                }
                let n = d.trim().chars().count();
                if (1..10).contains(&n) {
                    warnings.push(format!(
                        "task {}: a description of {n} characters (new ones are blank or \
                         10 to 10,000)",
                        t.id
                    ));
                }
            }
        }
        Plan {
            conflicts,
            too_long: overlong,
            warnings,
        }
    }

    /// Why the import stops, when it does: conflicting accounts and fields too long,
    /// each listed.
    pub fn refusal(&self, source: &Database) -> Option<String> {
        let mut text = Vec::new();
        if !self.conflicts.is_empty() {
            text.push(format!(
                "{} groups of accounts in {source} cannot coexist in tasklane, which keeps \
                 emails unique ignoring case and usernames unique after NFKC normalisation. \
                 Fix them in the original (change or remove all but one of each group), then \
                 import again; nothing was written:",
                self.conflicts.len()
            ));
            for c in &self.conflicts {
                text.push(format!("  {c}"));
            }
        }
        if !self.too_long.is_empty() {
            text.push(format!(
                "{} fields in {source} are longer than tasklane's API accepts (usernames 150 \
                 characters, emails 254, titles 255, descriptions 10,000). Shorten them in \
                 the original, then import again; nothing was written:",
                self.too_long.len()
            ));
            for long in self.too_long.iter().take(LISTED) {
                text.push(format!("  {long}"));
            }
            if self.too_long.len() > LISTED {
                text.push(format!("  and {} more", self.too_long.len() - LISTED));
            }
        }
        (!text.is_empty()).then(|| text.join("\n"))
    }
}

/// A task's field longer than the API accepts.
fn too_long_field(id: i64, field: &'static str, value: &str) -> Option<TooLong> {
    too_long("tasks_task", id, field, value)
}

/// A name or address as the warnings show it: its first 64 characters and `…` when it is
/// longer (a field too long is listed by its length, not printed).
fn shown(s: &str) -> String {
    match s.char_indices().nth(64) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::store::django::DjangoTask;

    /// A PBKDF2 hash's 32 bytes, in base64.
    const HASH: &str = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=";

    fn user(id: i64, username: &str, email: &str) -> DjangoUser {
        DjangoUser {
            id,
            password: format!("pbkdf2_sha256$600000$salt${HASH}"),
            username: username.into(),
            email: email.into(),
            is_active: true,
            date_joined: "2026-01-01T00:00:00.000000Z".into(),
            last_login: None,
        }
    }

    fn task(id: i64, title: &str, description: Option<&str>) -> DjangoTask {
        DjangoTask {
            id,
            title: title.into(),
            description: description.map(Into::into),
            completed: false,
            created_at: "2026-01-01T00:00:00.000000Z".into(),
            updated_at: "2026-01-01T00:00:00.000000Z".into(),
            user_id: 1,
        }
    }

    fn source() -> Database {
        Database::Sqlite(PathBuf::from("db.sqlite3"))
    }

    #[test]
    fn rows_within_the_rules_import_without_a_word() {
        let o = Original {
            users: vec![user(1, "ann", "ann@example.com")],
            tasks: vec![task(1, "A fine title", Some("A fine description"))],
            ..Original::default()
        };
        let plan = Plan::of(&o);
        assert!(plan.conflicts.is_empty() && plan.too_long.is_empty());
        assert_eq!(plan.warnings, Vec::<String>::new());
        assert_eq!(plan.refusal(&source()), None);
    }

    #[test]
    fn accounts_equal_after_nfkc_or_ignoring_case_conflict() {
        let o = Original {
            users: vec![
                user(1, "ann", "Ann@Example.com"),
                user(2, "ｂｏｂ", "bob@example.com"),
                user(3, "bob", "ann@example.com"),
            ],
            ..Original::default()
        };
        let plan = Plan::of(&o);
        assert_eq!(
            plan.conflicts,
            [
                r#"username "bob": accounts 2 ("ｂｏｂ", "bob@example.com"), 3 ("bob", "ann@example.com")"#,
                r#"email "ann@example.com": accounts 1 ("ann", "Ann@Example.com"), 3 ("bob", "ann@example.com")"#,
            ]
        );
        assert!(
            plan.warnings[0].starts_with("account 2: username \"ｂｏｂ\" is stored as \"bob\"")
        );
        let refusal = plan.refusal(&source()).unwrap();
        assert!(refusal.starts_with("2 groups of accounts in "), "{refusal}");
        assert!(
            refusal.ends_with(&format!("  {}", plan.conflicts[1])),
            "{refusal}"
        );
    }

    #[test]
    fn fields_too_long_stop_it_and_softer_breaches_are_warnings() {
        let o = Original {
            users: vec![user(1, "ann", "not an address")],
            tasks: vec![
                task(1, &"t".repeat(256), None),
                task(2, "Tiny", Some("short")),
                task(3, "A fine title", Some(&"d".repeat(10_001))),
            ],
            ..Original::default()
        };
        let plan = Plan::of(&o);
        let long: Vec<String> = plan.too_long.iter().map(ToString::to_string).collect();
        assert_eq!(
            long,
            [
                "tasks_task 1: title of 256 characters (at most 255)",
                "tasks_task 3: description of 10001 characters (at most 10000)",
            ]
        );
        assert_eq!(
            plan.warnings,
            [
                r#"account 1: email "not an address" is not a valid address"#,
                "task 2: a title of 4 characters (new ones need 5 to 255)",
                "task 2: a description of 5 characters (new ones are blank or 10 to 10,000)",
            ]
        );
        let refusal = plan.refusal(&source()).unwrap();
        assert!(refusal.contains("2 fields in "), "{refusal}");
    }

    #[test]
    fn hashes_past_the_caps_become_unusable_passwords() {
        let mut users = vec![
            user(1, "ann", "ann@example.com"),
            DjangoUser {
                password: format!("pbkdf2_sha256$1000001$salt${HASH}"),
                ..user(2, "bob", "bob@example.com")
            },
        ];
        let warnings = cap_hashes(&mut users);
        assert_eq!(
            users[0].password,
            format!("pbkdf2_sha256$600000$salt${HASH}")
        );
        assert!(users[1].password.starts_with('!'), "{}", users[1].password);
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].starts_with("account 2 (\"bob\"): its password hash"));
    }
}
