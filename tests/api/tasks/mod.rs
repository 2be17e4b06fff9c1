//! Tasks: CRUD and listing, preconditions (`ETag`, `If-Match`), idempotent creates, and
//! durable writes.

pub(crate) mod crud;
pub(crate) mod durability;
pub(crate) mod idempotency;
pub(crate) mod list;
pub(crate) mod preconditions;
pub(crate) mod row_locks;
