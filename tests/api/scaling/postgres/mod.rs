//! What only PostgreSQL has to prove, and how the server connects to it.

pub(crate) mod connection;
pub(crate) mod two_hosts;
