//! Moving from the original Django app: `tasklane import-django`, and its password hashes
//! at login.

pub(crate) mod hashes;
pub(crate) mod import;
