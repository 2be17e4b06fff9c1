//! One integration-test binary: every test starts the real server on 127.0.0.1:0 with its
//! own SQLite file and talks to it over TCP.

mod auth;
mod browser;
mod cli;
mod client;
mod docs;
mod hardening;
mod helpers;
mod memory;
mod redis;
mod stream;
mod tasks;
