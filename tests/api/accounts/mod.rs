//! Accounts: registration, the owner's own account (profile changes, password, deletion),
//! proof of the password for sensitive changes, and how a deleted account is purged.

pub(crate) mod profile;
pub(crate) mod purges;
pub(crate) mod reauth;
pub(crate) mod registration;
pub(crate) mod stalls;
