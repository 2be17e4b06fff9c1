//! Scaling out: PostgreSQL, several processes through Redis, several hosts, and nginx in
//! front.

pub(crate) mod database_outage;
pub(crate) mod hosts;
pub(crate) mod postgres;
pub(crate) mod proxy;
pub(crate) mod redis;
