//! What the import makes of the original's rows before writing any: conflicts and fields
//! too long stop it, hashes past the caps become unusable passwords, and rows outside the
//! softer rules are listed as warnings.

use std::collections::BTreeMap;

use super::{Original, User};
use crate::cli::show::quoted;
use crate::config::Database;
use crate::domain::imports::{TooLong, imported_hash, too_long};
use crate::domain::validators::{is_valid_email, is_valid_username, normalize_username};

/// Replaces each password hash past the caps a login verifies with an unusable password;
/// a warning for each.
pub(super) fn cap_hashes(users: &mut [User]) -> Vec<String> {
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
        let mut by_name: BTreeMap<String, Vec<&User>> = BTreeMap::new();
        let mut by_email: BTreeMap<String, Vec<&User>> = BTreeMap::new();
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
        let list = |users: &[&User]| {
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
