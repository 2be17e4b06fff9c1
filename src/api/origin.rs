//! The origin (`scheme://host[:port]`) clients reach the server at: for the absolute URLs
//! the API writes (the API root's links, the list's `Link`), and to tell the server's own
//! pages from other origins under `--cors-origin`.
//!
//! - With `--public-url`, that URL's origin, and no request header is read.
//! - Else, behind a trusted reverse proxy (`--trust-x-forwarded-for`), the right-most
//!   value of `X-Forwarded-Proto` and of `X-Forwarded-Host` across all their lines: the
//!   one the proxy appended (or set), as the client address is the right-most
//!   `X-Forwarded-For`. Values to their left came from the client.
//! - Else, and whenever that value is absent or malformed, `http` and the `Host` header:
//!   whatever name the client used is reflected, as the original did (`cargo run` on
//!   `127.0.0.1:8000` needs nothing else). Set `--public-url` to stop that.
//!
//! A host of any other shape than a name, an IPv4 or a bracketed IPv6 address, with an
//! optional port, is never written into a URL.

use poem::Request;
use poem::http::{HeaderMap, header};

use crate::Limits;
use crate::config::{normal_origin, valid_host};

/// The origin of `req` as its client sees it; see the module documentation.
pub fn external_origin(req: &Request, limits: &Limits) -> String {
    match &limits.public_url {
        Some(url) => url.origin().to_owned(),
        None => seen(req.headers(), limits.trust_x_forwarded_for).origin(),
    }
}

/// What a request says about the origin it was sent to.
struct Seen<'a> {
    /// `https` or `http`.
    scheme: &'static str,
    /// Whether a trusted proxy named the scheme; if not, the client may have used either
    /// (a TLS proxy that does not say so stands in front, or none does).
    scheme_known: bool,
    host: &'a str,
}

impl Seen<'_> {
    fn origin(&self) -> String {
        format!("{}://{}", self.scheme, self.host)
    }
}

fn seen(headers: &HeaderMap, trust_forwarded: bool) -> Seen<'_> {
    let forwarded = |name: &str| {
        if trust_forwarded {
            last_value(headers, name)
        } else {
            None
        }
    };
    let proto = forwarded("x-forwarded-proto").and_then(|p| {
        if p.eq_ignore_ascii_case("https") {
            Some("https")
        } else if p.eq_ignore_ascii_case("http") {
            Some("http")
        } else {
            None
        }
    });
    let host = forwarded("x-forwarded-host")
        .filter(|h| valid_host(h))
        .or_else(|| {
            headers
                .get(header::HOST)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|h| valid_host(h))
        })
        .unwrap_or("localhost");
    Seen {
        scheme: proto.unwrap_or("http"),
        scheme_known: proto.is_some(),
        host,
    }
}

/// The right-most comma-separated value across every line of the header, trimmed: the
/// one the nearest proxy added. `None` when that value is empty.
fn last_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let line = headers.get_all(name).iter().next_back()?.to_str().ok()?;
    let last = line.rsplit(',').next()?.trim();
    (!last.is_empty()).then_some(last)
}

/// Whether `origin` (an `Origin` header's value) is the server's own: `--public-url`'s
/// origin when set; else the scheme and host the request was sent to as in
/// [`external_origin`], where a scheme no trusted proxy named may be `http` or `https`.
/// Compared lower-cased, without default ports.
pub fn is_own_origin(headers: &HeaderMap, limits: &Limits, origin: &str) -> bool {
    let Some((scheme, authority)) = origin.split_once("://") else {
        return false; // "null", or malformed
    };
    if !(scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https"))
        || !valid_host(authority)
    {
        return false;
    }
    let given = normal_origin(scheme, authority);
    if let Some(url) = &limits.public_url {
        return given == url.origin();
    }
    let seen = seen(headers, limits.trust_x_forwarded_for);
    let schemes: &[&str] = if seen.scheme_known {
        &[seen.scheme]
    } else {
        &["http", "https"]
    };
    schemes.iter().any(|s| normal_origin(s, seen.host) == given)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(lines: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in lines {
            h.append(
                poem::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        h
    }

    fn origin(h: &HeaderMap, trust: bool) -> String {
        seen(h, trust).origin()
    }

    #[test]
    fn forwarded_headers_count_only_when_trusted_and_then_their_last_value() {
        let h = headers(&[
            ("host", "127.0.0.1:8000"),
            ("x-forwarded-proto", "http, https"),
            ("x-forwarded-host", "evil.example, tasks.example.com"),
        ]);
        assert_eq!(origin(&h, true), "https://tasks.example.com");
        assert_eq!(origin(&h, false), "http://127.0.0.1:8000");
        // Across lines: the last line's last value.
        let h = headers(&[
            ("host", "127.0.0.1:8000"),
            ("x-forwarded-host", "evil.example"),
            ("x-forwarded-host", "tasks.example.com:8443"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-proto", "http"),
        ]);
        assert_eq!(origin(&h, true), "http://tasks.example.com:8443");
    }

    #[test]
    fn a_malformed_forwarded_value_falls_back_to_http_and_the_host_never_to_the_left() {
        let h = headers(&[
            ("host", "127.0.0.1:8000"),
            ("x-forwarded-proto", "https, javascript"),
            ("x-forwarded-host", "tasks.example.com, evil.com/phish"),
        ]);
        assert_eq!(origin(&h, true), "http://127.0.0.1:8000");
        let h = headers(&[("host", "bad host"), ("x-forwarded-proto", "HTTPS")]);
        assert_eq!(origin(&h, true), "https://localhost");
        assert_eq!(origin(&HeaderMap::new(), true), "http://localhost");
    }

    fn limits(trust: bool, public: Option<&str>) -> Limits {
        let mut args = crate::config::ServeArgs::defaults("unused.db".into());
        args.trust_x_forwarded_for = trust;
        args.public_url = public.map(|u| u.parse().unwrap());
        Limits::from_args(&args)
    }

    #[test]
    fn the_own_origin_is_the_public_url_or_else_the_host_asked_for() {
        let h = headers(&[("host", "tasks.example.com")]);
        let plain = limits(false, None);
        assert!(is_own_origin(&h, &plain, "http://tasks.example.com"));
        // Behind a TLS proxy that does not say so.
        assert!(is_own_origin(&h, &plain, "https://tasks.example.com"));
        assert!(is_own_origin(&h, &plain, "HTTPS://Tasks.Example.com:443"));
        assert!(!is_own_origin(&h, &plain, "https://tasks.example.com:8443"));
        assert!(!is_own_origin(&h, &plain, "https://evil.example"));
        assert!(!is_own_origin(&h, &plain, "null"));

        let proxied = headers(&[
            ("host", "10.0.0.7:8000"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "tasks.example.com"),
        ]);
        let trusted = limits(true, None);
        assert!(is_own_origin(
            &proxied,
            &trusted,
            "https://tasks.example.com"
        ));
        // The proxy said https: the http page is another origin.
        assert!(!is_own_origin(
            &proxied,
            &trusted,
            "http://tasks.example.com"
        ));
        assert!(!is_own_origin(&proxied, &trusted, "http://10.0.0.7:8000"));

        let public = limits(true, Some("https://tasks.example.com"));
        assert!(is_own_origin(
            &proxied,
            &public,
            "https://tasks.example.com"
        ));
        assert!(!is_own_origin(&h, &public, "http://tasks.example.com"));
        let spoofed = headers(&[("host", "evil.example")]);
        assert!(!is_own_origin(&spoofed, &public, "https://evil.example"));
    }
}
