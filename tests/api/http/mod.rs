//! The HTTP surface every route shares: CORS, reverse proxies' headers, request ids,
//! methods, bad input, idle connections and cache headers.

mod cache_headers;
mod cors;
mod forwarded;
mod requests;
