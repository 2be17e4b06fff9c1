//! The operator commands, run as the built binary against the database of a live server.

mod database;
mod start;
mod tokens;
mod users;
