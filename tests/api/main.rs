//! One integration-test binary: every test starts the real server on 127.0.0.1:0 with its
//! own SQLite file and talks to it over TCP.

mod account;
mod api_tokens;
mod auth;
mod browser;
mod changes;
mod cli;
mod credentials;
mod docs;
mod durability;
mod hardening;
mod helpers;
mod idempotency;
mod memory;
mod redis;
mod stream;
mod sync_count;
mod tasks;
mod throttle;
mod versions;
