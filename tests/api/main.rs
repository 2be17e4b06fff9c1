//! One integration-test binary: every test starts the real server on 127.0.0.1:0 with its
//! own database and talks to it over TCP. The database is a SQLite file, or a PostgreSQL
//! database of its own when `TASKLANE_TEST_DATABASE_URL` is set (see `helpers`).

mod account;
mod api_tokens;
mod auth;
mod browser;
mod cache_headers;
mod changes;
mod cli;
mod copy;
mod credentials;
mod django;
mod django_hashes;
mod doclinks;
mod docs;
mod docs_lint;
mod durability;
mod forwarded;
mod hardening;
mod helpers;
mod hosts;
mod idempotency;
mod layering;
mod memory;
mod oauth;
mod operators;
mod postgres;
mod proxy;
mod purges;
mod reauth;
mod redis;
mod row_locks;
mod session_store;
mod sessions;
mod stalls;
mod stream;
mod sync_count;
mod tasks;
mod throttle;
mod tickets;
mod versions;
