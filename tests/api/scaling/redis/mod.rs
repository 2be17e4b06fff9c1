//! Several real processes ringing each other through a real Redis.

pub(crate) mod fanout;
