//! `/real_data/`: the live page. Sign up or log in, see and edit your tasks, and watch
//! them change as they are created, updated and deleted anywhere. Embedded in the binary;
//! no CDN.

use poem::{IntoResponse, Response, handler, http::HeaderValue, http::header};

const HTML: &str = include_str!("real_data.html");
const JS: &str = include_str!("real_data.js");
const CSS: &str = include_str!("real_data.css");

/// No inline code, nothing from elsewhere: scripts and styles only from this server,
/// network only to this server (the API and its WebSocket).
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

#[handler]
pub fn page() -> Response {
    let mut resp = poem::web::Html(HTML).into_response();
    resp.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

#[handler]
pub fn script() -> Response {
    asset(JS, "text/javascript; charset=utf-8")
}

#[handler]
pub fn style() -> Response {
    asset(CSS, "text/css; charset=utf-8")
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    Response::builder()
        .content_type(content_type)
        .header(header::CACHE_CONTROL, "no-cache")
        .body(body)
}
