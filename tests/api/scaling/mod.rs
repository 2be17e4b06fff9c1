//! Scaling out: PostgreSQL, several processes through Redis, several hosts, and nginx in
//! front.

mod database_outage;
mod hosts;
mod postgres;
mod proxy;
mod redis;
