//! What the tests share: servers started in-process or as processes, direct database
//! access, WebSocket clients, and the harnesses (SQLite's sync counter, the browser).

mod app;
pub mod sync_count;

pub use app::*;
