//! The operator commands, run as the built binary against the database of a live server.

pub(crate) mod users;
