//! The operator commands, run as the built binary against the database of a live server.

pub(crate) mod database;
pub(crate) mod start;
pub(crate) mod tokens;
pub(crate) mod users;
