//! One integration-test binary: every test starts the real server on 127.0.0.1:0 with its
//! own database and talks to it over TCP. The database is a SQLite file, or a PostgreSQL
//! database of its own when `TASKLANE_TEST_DATABASE_URL` is set (see `helpers`).
//!
//! The tests are grouped by feature, one folder each: look for a test where the feature
//! it checks lives.

mod accounts;
mod auth;
mod browser;
mod docs;
mod helpers;
mod http;
mod layering;
mod operations;
mod projects;
mod scaling;
mod streams;
mod tasks;
