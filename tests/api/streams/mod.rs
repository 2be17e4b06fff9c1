//! The live stream (WebSocket and SSE), its tickets, the changes feed, and the limits on
//! streams and slow readers.

pub(crate) mod changes;
pub(crate) mod limits;
pub(crate) mod slow_readers;
pub(crate) mod sse;
pub(crate) mod tickets;
pub(crate) mod ws;
