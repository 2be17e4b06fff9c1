//! TLS to PostgreSQL with rustls, and the URL's `sslmode`/`sslrootcert` read the way
//! libpq reads them (tokio-postgres knows only `disable`, `prefer` and `require`, and
//! verifies nothing by itself):
//!
//! | `sslmode` | TLS | certificate |
//! |---|---|---|
//! | `disable` | never | — |
//! | `allow`, `prefer` (the default) | when the server offers it | not verified |
//! | `require` | always | not verified (verified as `verify-ca` when `sslrootcert` is given, as libpq does) |
//! | `verify-ca` | always | chain verified against `sslrootcert` or the system's roots; the host name is not checked |
//! | `verify-full` | always | chain and host name verified |
//!
//! `sslrootcert` is a PEM file of trusted roots, or `system` for the system's roots (the
//! default when it is absent). Client certificates (`sslcert`, `sslkey`) are not
//! supported and refused with a clear error rather than ignored.
//!
//! Here the URL is read; `verify.rs` sets up what each mode verifies, and `connector.rs`
//! is the connector tokio-postgres is given.

mod connector;
mod verify;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use tokio_postgres::config::SslMode as PgSslMode;

use super::security::Security;
use crate::redact::{percent_decode, redact};
use crate::store::{Result, StoreError};
pub(super) use connector::MakeTls;

/// The `sslmode`s libpq knows (`allow` is read as `prefer`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    fn parse(s: &str) -> Option<SslMode> {
        Some(match s {
            "disable" => SslMode::Disable,
            "allow" | "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return None,
        })
    }
}

/// The connection settings and the TLS connector for `url`, and what they amount to
/// ([`Security`], for the warning at start). A URL without a password takes one from
/// `PGPASSWORD` or the password file, as libpq does ([`super::pgpass`]).
pub(super) fn parse(url: &str) -> Result<(tokio_postgres::Config, MakeTls, Security)> {
    let bad = |why: String| StoreError::Other(format!("{}: {why}", redact(url)));
    let (rest, mode, root) = split(url).map_err(bad)?;
    let mut config: tokio_postgres::Config = rest
        .parse()
        .map_err(|e: tokio_postgres::Error| bad(super::chain(&e)))?;
    config.ssl_mode(match mode {
        SslMode::Disable => PgSslMode::Disable,
        SslMode::Prefer => PgSslMode::Prefer,
        _ => PgSslMode::Require,
    });
    super::pgpass::fill_password(&mut config);
    let tls = verify::client_config(mode, root.as_deref()).map_err(bad)?;
    let handshakes = Arc::new(AtomicBool::new(false));
    let security = Security::of(&config, mode, handshakes.clone());
    Ok((config, MakeTls::new(tls, handshakes), security))
}

/// `url` without the TLS settings tokio-postgres does not know, and those settings.
fn split(url: &str) -> std::result::Result<(String, SslMode, Option<String>), String> {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err("expected a URL like postgres://user:password@host:5432/database".into());
    }
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut kept = Vec::new();
    let mut mode = SslMode::Prefer;
    let mut root = None;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "sslmode" => {
                mode = SslMode::parse(&percent_decode(value)).ok_or_else(|| {
                    format!(
                        "sslmode {value:?} is not one of disable, allow, prefer, require, \
                         verify-ca, verify-full"
                    )
                })?;
            }
            "sslrootcert" => root = Some(percent_decode(value)),
            "sslcert" | "sslkey" | "sslpassword" | "sslcrl" | "sslcrldir" | "sslsni" => {
                return Err(format!(
                    "{key} is not supported (client certificates are not implemented)"
                ));
            }
            _ => kept.push(pair),
        }
    }
    // libpq: with a root certificate given, `require` verifies the chain.
    if mode == SslMode::Require && root.is_some() {
        mode = SslMode::VerifyCa;
    }
    let rest = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((rest, mode, root))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode_of(url: &str) -> PgSslMode {
        parse(url).map(|(c, _, _)| c.get_ssl_mode()).unwrap()
    }

    #[test]
    fn sslmode_is_read_like_libpq() {
        let base = "postgres://u:pw@127.0.0.1:5432/db";
        assert_eq!(mode_of(base), PgSslMode::Prefer);
        assert_eq!(
            mode_of(&format!("{base}?sslmode=disable")),
            PgSslMode::Disable
        );
        assert_eq!(
            mode_of(&format!("{base}?sslmode=require")),
            PgSslMode::Require
        );
        assert_eq!(
            mode_of(&format!("{base}?application_name=x&sslmode=verify-full")),
            PgSslMode::Require
        );
        let (config, _, _) =
            parse(&format!("{base}?sslmode=verify-ca&application_name=x")).unwrap();
        assert_eq!(config.get_application_name(), Some("x"));
        assert_eq!(config.get_dbname(), Some("db"));
    }

    #[test]
    fn bad_settings_are_refused_without_showing_the_password() {
        for url in [
            "postgres://u:hunter2@h/db?sslmode=sometimes",
            "postgres://u:hunter2@h/db?sslcert=/tmp/c.pem",
            "postgres://u:hunter2@h/db?sslmode=verify-full&sslrootcert=/nonexistent.pem",
            "postgres://u:hunter2@h/db?nonsense=1",
            "mysql://u:hunter2@h/db",
        ] {
            let Err(e) = parse(url) else {
                panic!("{url} was accepted")
            };
            let e = e.to_string();
            assert!(!e.contains("hunter2"), "{e}");
            assert!(e.contains("u:***@h"), "{e}");
        }
    }

    /// Test certificates (100-year, test-only keys): a CA, a server certificate it signed

    #[test]
    fn the_tls_settings_are_taken_out_of_the_url() {
        let (rest, mode, root) =
            split("postgres://u@h/db?sslmode=require&application_name=x&sslrootcert=%2Fca.pem")
                .unwrap();
        assert_eq!(rest, "postgres://u@h/db?application_name=x");
        // libpq: `require` with a root certificate verifies the chain.
        assert_eq!(
            (mode, root.as_deref()),
            (SslMode::VerifyCa, Some("/ca.pem"))
        );
        let (rest, mode, root) = split("postgresql://u@h/db").unwrap();
        assert_eq!(
            (rest.as_str(), mode, root),
            ("postgresql://u@h/db", SslMode::Prefer, None)
        );
    }

    #[test]
    fn percent_escapes_are_decoded() {
        assert_eq!(percent_decode("%2Fetc%2fca.pem%zz%"), "/etc/ca.pem%zz%");
    }
}
