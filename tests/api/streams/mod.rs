//! The live stream (WebSocket and SSE), its tickets, the changes feed, and the limits on
//! streams and slow readers.

mod changes;
mod limits;
mod slow_readers;
mod sse;
mod tickets;
mod ws;
