//! The origin (`scheme://host[:port]`) a client used to reach the server, for the absolute
//! URLs the API writes (the API root's links). Behind a trusted reverse proxy
//! (`--trust-x-forwarded-for`) it comes from `X-Forwarded-Proto` and `X-Forwarded-Host`;
//! otherwise, and whenever those are absent or malformed, from `http` and the `Host`
//! header. A host of any other shape than a name, an IPv4 or a bracketed IPv6 address,
//! with an optional port, is never written into a URL.

use poem::Request;
use poem::http::{HeaderMap, header};

/// The origin of `req` as its client sees it; see the module documentation.
pub fn external_origin(req: &Request, trust_forwarded: bool) -> String {
    origin(req.headers(), trust_forwarded)
}

/// [`external_origin`] from the request's headers.
pub fn origin(headers: &HeaderMap, trust_forwarded: bool) -> String {
    let forwarded = |name: &str| {
        if trust_forwarded {
            first_value(headers, name)
        } else {
            None
        }
    };
    let scheme = match forwarded("x-forwarded-proto") {
        Some(p) if p.eq_ignore_ascii_case("https") => "https",
        _ => "http",
    };
    let host = forwarded("x-forwarded-host")
        .filter(|h| valid_host(h))
        .or_else(|| first_value(headers, header::HOST.as_str()).filter(|h| valid_host(h)))
        .unwrap_or("localhost");
    format!("{scheme}://{host}")
}

/// The first comma-separated value of the header's first line, trimmed: with several
/// proxies in a row, the one the client's own request reached.
fn first_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let first = headers.get(name)?.to_str().ok()?.split(',').next()?.trim();
    (!first.is_empty()).then_some(first)
}

/// Django's rule for a `Host` (`host_validation_re`): a name or IPv4 address of letters,
/// digits, dots and hyphens, or an IPv6 address in brackets, then an optional port; here
/// also at most 255 characters and a port of at most 5 digits.
pub fn valid_host(host: &str) -> bool {
    if host.len() > 255 {
        return false;
    }
    let (address_ok, port) = match host.strip_prefix('[') {
        Some(rest) => match rest.split_once(']') {
            Some((inside, port)) => (is_ipv6_literal(inside), port),
            None => return false,
        },
        None => match host.find(':') {
            Some(i) => (is_name(&host[..i]), &host[i..]),
            None => (is_name(host), ""),
        },
    };
    address_ok && (port.is_empty() || port.strip_prefix(':').is_some_and(is_port))
}

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
}

fn is_ipv6_literal(s: &str) -> bool {
    s.contains(':')
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
}

fn is_port(s: &str) -> bool {
    (1..=5).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
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

    #[test]
    fn hosts_of_the_usual_shapes_pass_and_anything_else_does_not() {
        for good in [
            "example.com",
            "tasks.example.com:8443",
            "127.0.0.1:8000",
            "localhost",
            "[::1]",
            "[2001:db8::1]:443",
            "[::ffff:127.0.0.1]:80",
            "UPPER.Example.COM",
        ] {
            assert!(valid_host(good), "{good}");
        }
        for bad in [
            "",
            "evil.com/path",
            "evil.com?x=1",
            "evil.com#x",
            "user@evil.com",
            "evil.com:80:80",
            "evil.com:",
            "evil.com:123456",
            "evil.com:http",
            "a b",
            "a\"b",
            "<script>",
            "[::1",
            "[evil.com]",
            "[::1]x",
            "[::1]:",
            "under_score.example",
            &"a".repeat(256),
        ] {
            assert!(!valid_host(bad), "{bad}");
        }
    }

    #[test]
    fn forwarded_headers_count_only_when_trusted_and_then_their_first_value() {
        let h = headers(&[
            ("host", "127.0.0.1:8000"),
            ("x-forwarded-proto", "https, http"),
            ("x-forwarded-host", "tasks.example.com, proxy.internal:8080"),
        ]);
        assert_eq!(origin(&h, true), "https://tasks.example.com");
        assert_eq!(origin(&h, false), "http://127.0.0.1:8000");
    }

    #[test]
    fn a_malformed_forwarded_value_falls_back_to_http_and_the_host() {
        let h = headers(&[
            ("host", "127.0.0.1:8000"),
            ("x-forwarded-proto", "javascript"),
            ("x-forwarded-host", "evil.com/phish"),
        ]);
        assert_eq!(origin(&h, true), "http://127.0.0.1:8000");
        let h = headers(&[("host", "bad host"), ("x-forwarded-proto", "HTTPS")]);
        assert_eq!(origin(&h, true), "https://localhost");
        assert_eq!(origin(&HeaderMap::new(), true), "http://localhost");
    }
}
