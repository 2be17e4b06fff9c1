//! Tasks: CRUD and listing, preconditions (`ETag`, `If-Match`), idempotent creates,
//! durable writes, and due dates and assignees.

mod crud;
mod due_and_assignee;
mod durability;
mod idempotency;
mod keyset;
mod list;
mod preconditions;
mod row_locks;
mod search;
mod totals;
