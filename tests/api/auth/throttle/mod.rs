//! Login and registration throttling: per address, per username, across processes.

pub(crate) mod login;
