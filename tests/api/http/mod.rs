//! The HTTP surface every route shares: CORS, reverse proxies' headers, request ids,
//! methods, bad input, idle connections and cache headers.

pub(crate) mod cache_headers;
pub(crate) mod cors;
pub(crate) mod forwarded;
pub(crate) mod requests;
