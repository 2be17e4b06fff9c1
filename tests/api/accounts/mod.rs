//! Accounts: registration, the owner's own account (profile changes, password, deletion),
//! proof of the password for sensitive changes, and how a deleted account is purged.

mod profile;
mod purges;
mod reauth;
mod registration;
mod stalls;
