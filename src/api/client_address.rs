//! The client address a request counts against in the throttles, from the peer or
//! (behind a trusted reverse proxy) from `X-Forwarded-For`, as [`super::origin`] reads
//! the scheme and host. What an address counts as is `throttle`'s ([`address_key`]).

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use poem::http::HeaderMap;

use crate::throttle::address_key;

/// The client's throttle key ([`address_key`]): of the peer, or with `trust_forwarded`
/// of the right-most `X-Forwarded-For` address (the hop the reverse proxy appended),
/// across every `X-Forwarded-For` line of the request. A right-most entry that is not an
/// address counts as absent: the peer (the proxy) is used.
pub fn client_address(req: &poem::Request, trust_forwarded: bool) -> String {
    let forwarded = if trust_forwarded {
        forwarded_for(req.headers())
    } else {
        None
    };
    match forwarded.or_else(|| req.remote_addr().as_socket_addr().map(|a| a.ip())) {
        Some(ip) => address_key(ip),
        None => "unknown".to_owned(),
    }
}

/// The right-most address of all `X-Forwarded-For` lines, a port stripped
/// (`1.2.3.4:5678`, `[::1]:80`). `None` when there is none or it doesn't parse.
pub fn forwarded_for(headers: &HeaderMap) -> Option<IpAddr> {
    let last = headers
        .get_all("x-forwarded-for")
        .iter()
        // A line that isn't text must not let an earlier (client-written) entry win.
        .flat_map(|v| v.to_str().unwrap_or("\u{0}").split(','))
        .map(str::trim)
        .rfind(|s| !s.is_empty())?;
    parse_hop(last)
}

fn parse_hop(s: &str) -> Option<IpAddr> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Some(sa.ip());
    }
    s.strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .and_then(|r| r.parse::<Ipv6Addr>().ok())
        .map(IpAddr::V6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rightmost_forwarded_address_of_every_line_wins_without_its_port() {
        let headers = |lines: &[&str]| {
            let mut h = HeaderMap::new();
            for l in lines {
                h.append("x-forwarded-for", l.parse().unwrap());
            }
            h
        };
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        assert_eq!(forwarded_for(&headers(&[])), None);
        assert_eq!(
            forwarded_for(&headers(&["203.0.113.9, 198.51.100.1"])),
            ip("198.51.100.1")
        );
        assert_eq!(
            forwarded_for(&headers(&["198.51.100.66", "203.0.113.9, 198.51.100.2"])),
            ip("198.51.100.2")
        );
        assert_eq!(
            forwarded_for(&headers(&["198.51.100.66", "198.51.100.3:5678"])),
            ip("198.51.100.3")
        );
        assert_eq!(
            forwarded_for(&headers(&["198.51.100.66, [2001:db8::1]:80"])),
            ip("2001:db8::1")
        );
        assert_eq!(
            forwarded_for(&headers(&["[2001:db8::2]", " 198.51.100.4 , "])),
            ip("198.51.100.4")
        );
        assert_eq!(
            forwarded_for(&headers(&["198.51.100.66", "unknown"])),
            None,
            "garbage at the right does not let a left entry win"
        );
    }
}
