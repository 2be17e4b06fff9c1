//! What the tests share: servers started in-process ([`app`]) or as processes of the built
//! binary ([`proc`]), direct database access ([`db`]), PostgreSQL ([`pg`]) and Redis
//! ([`redis`]) for the tests that need them, stream clients ([`ws`]), and two harnesses
//! used by name: SQLite's sync counter ([`sync_count`]) and the browser ([`browser`]).

mod app;
pub mod browser;
mod db;
mod pg;
mod previous_release;
mod proc;
mod redis;
pub mod sync_count;
mod ws;

pub use app::*;
pub use db::*;
pub use pg::*;
pub use previous_release::*;
pub use proc::*;
pub use redis::*;
pub use ws::*;
