//! Tasks: CRUD and listing, preconditions (`ETag`, `If-Match`), idempotent creates, and
//! durable writes.

mod crud;
mod durability;
mod idempotency;
mod list;
mod preconditions;
mod row_locks;
