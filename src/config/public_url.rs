//! `--public-url`: the address clients reach the server at, for every absolute URL it
//! writes (the API root's links, the task list's `Link`, later the links in emails), and
//! the one origin its own pages call it from. When it is set, no request header (`Host`,
//! `X-Forwarded-Host`, `X-Forwarded-Proto`) decides any URL.

/// An origin: `http` or `https`, a host (name, IPv4 or `[IPv6]`) and an optional port;
/// no user, path, query or fragment. Stored lower-cased, without a default port
/// (`https://Tasks.Example.com:443/` is `https://tasks.example.com`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicUrl(String);

impl PublicUrl {
    /// `scheme://host[:port]`, without a trailing slash.
    pub fn origin(&self) -> &str {
        &self.0
    }

    /// The absolute URL of `path` (which starts with `/`) on the server.
    pub fn join(&self, path: &str) -> String {
        format!("{}{path}", self.0)
    }
}

impl std::fmt::Display for PublicUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for PublicUrl {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let Some((scheme, rest)) = s.split_once("://") else {
            return Err("expected a URL like https://tasks.example.com".into());
        };
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err("the scheme must be http or https".into());
        }
        if rest.contains(['?', '#']) {
            return Err("no query or fragment: give the scheme, host and port only".into());
        }
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.contains('/') {
            return Err(
                "no path: tasklane serves its API and pages from / (a proxy may still map a \
                 path to it, but the URLs it writes start at the host)"
                    .into(),
            );
        }
        if authority.contains('@') {
            return Err("no user or password in the URL".into());
        }
        if !valid_host(authority) {
            return Err(
                "the host must be a name, an IPv4 address or a bracketed IPv6 address, with an \
                 optional port"
                    .into(),
            );
        }
        Ok(PublicUrl(normal_origin(&scheme, authority)))
    }
}

/// `scheme://host[:port]` lower-cased, without the scheme's default port, so origins
/// written differently compare equal.
pub fn normal_origin(scheme: &str, authority: &str) -> String {
    let scheme = scheme.to_ascii_lowercase();
    let authority = authority.to_ascii_lowercase();
    let default = if scheme == "https" { ":443" } else { ":80" };
    let authority = authority.strip_suffix(default).unwrap_or(&authority);
    format!("{scheme}://{authority}")
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
    fn a_public_url_is_an_origin_written_one_way() {
        for (given, origin) in [
            ("https://tasks.example.com", "https://tasks.example.com"),
            (
                "HTTPS://Tasks.Example.com:443/",
                "https://tasks.example.com",
            ),
            ("http://tasks.example.com:80", "http://tasks.example.com"),
            ("http://127.0.0.1:8000/", "http://127.0.0.1:8000"),
            ("https://[2001:db8::1]:8443", "https://[2001:db8::1]:8443"),
        ] {
            let url: PublicUrl = given.parse().unwrap();
            assert_eq!(url.origin(), origin, "{given}");
        }
        let url: PublicUrl = "https://tasks.example.com".parse().unwrap();
        assert_eq!(
            url.join("/api/tasks/"),
            "https://tasks.example.com/api/tasks/"
        );
    }

    #[test]
    fn anything_but_an_origin_is_refused() {
        for bad in [
            "tasks.example.com",
            "ftp://tasks.example.com",
            "javascript://x",
            "https://",
            "https://tasks.example.com/prefix",
            "https://tasks.example.com/?next=evil",
            "https://tasks.example.com#x",
            "https://user:pw@tasks.example.com",
            "https://evil.com\\@tasks.example.com",
            "https://bad host",
        ] {
            assert!(bad.parse::<PublicUrl>().is_err(), "{bad}");
        }
    }
}
