//! Whether the connection to PostgreSQL can be read or changed on the network: the
//! warning logged once at start when it can. `sslmode=prefer` (libpq's default, and
//! ours) encrypts only when the server offers TLS and verifies nothing, `require` never
//! verifies, `disable` never encrypts: past the machine, anyone on the path can then read
//! the passwords, hashes and data, or pose as the server. Only `verify-full` (or
//! `verify-ca`, which checks the chain but not the name) is quiet. So is a server on this
//! machine: a Unix socket, `localhost`, a loopback address.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio_postgres::config::Host;

use super::tls::SslMode;

/// A connection's `sslmode`, where it goes, and whether TLS was ever negotiated.
pub(super) struct Security {
    mode: SslMode,
    /// The first server named that is not on this machine, if any.
    remote: Option<String>,
    handshakes: Arc<AtomicBool>,
}

impl Security {
    pub(super) fn of(
        config: &tokio_postgres::Config,
        mode: SslMode,
        handshakes: Arc<AtomicBool>,
    ) -> Security {
        Security {
            mode,
            remote: remote_server(config),
            handshakes,
        }
    }

    /// The warning, once a connection was made: `None` for verified TLS or a server on
    /// this machine.
    pub(super) fn warning(&self) -> Option<String> {
        let host = self.remote.as_deref()?;
        let encrypted = self.handshakes.load(Ordering::Relaxed);
        let what = match self.mode {
            SslMode::VerifyCa | SslMode::VerifyFull => return None,
            SslMode::Disable => "is not encrypted (sslmode=disable)".to_owned(),
            SslMode::Prefer if !encrypted => {
                "fell back to plaintext (sslmode=prefer, the default: the server offered no \
                 TLS)"
                    .to_owned()
            }
            SslMode::Prefer | SslMode::Require => format!(
                "is encrypted but the server's certificate is not verified (sslmode={})",
                if self.mode == SslMode::Prefer {
                    "prefer, the default"
                } else {
                    "require"
                }
            ),
        };
        Some(format!(
            "the connection to PostgreSQL at {host} {what}: anyone on the network path can \
             read or change what crosses it, passwords included, or pose as the server. Use \
             sslmode=verify-full (with sslrootcert=FILE for a private CA)"
        ))
    }

    /// Logs [`Security::warning`], if any.
    pub(super) fn warn(&self) {
        if let Some(w) = self.warning() {
            tracing::warn!("{w}");
        }
    }
}

/// The first server `config` names that is not on this machine: a TCP host (or its
/// `hostaddr`) other than `localhost` and the loopback addresses.
fn remote_server(config: &tokio_postgres::Config) -> Option<String> {
    let addrs = config.get_hostaddrs();
    let hosts = config.get_hosts();
    if hosts.is_empty() {
        return addrs
            .iter()
            .find(|a| !loopback(**a))
            .map(ToString::to_string);
    }
    hosts.iter().enumerate().find_map(|(i, host)| {
        let Host::Tcp(name) = host else {
            return None; // a Unix socket
        };
        // With `hostaddr`, that is where the connection goes; `host` names it for TLS.
        match addrs.get(i) {
            Some(addr) => (!loopback(*addr)).then(|| format!("{name} ({addr})")),
            None => (!local_name(name)).then(|| name.clone()),
        }
    })
}

fn local_name(name: &str) -> bool {
    let bare = name.trim_start_matches('[').trim_end_matches(']');
    name.eq_ignore_ascii_case("localhost") || bare.parse::<IpAddr>().is_ok_and(loopback)
}

/// 127.0.0.0/8, ::1, and ::ffff:127.x.y.z.
fn loopback(addr: IpAddr) -> bool {
    match addr {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn warning(url: &str, mode: SslMode, encrypted: bool) -> Option<String> {
        let config: tokio_postgres::Config = url.parse().unwrap();
        Security::of(&config, mode, Arc::new(AtomicBool::new(encrypted))).warning()
    }

    #[test]
    fn a_server_on_this_machine_is_never_warned_about() {
        for url in [
            "postgres://u@localhost/db",
            "postgres://u@LOCALHOST:5433/db",
            "postgres://u@127.0.0.1/db",
            "postgres://u@127.1.2.3/db",
            "postgres://u@[::1]/db",
            "postgres://u@[::ffff:127.0.0.1]/db",
            "host=/var/run/postgresql user=u",
            "postgres://u@db.example.com/db?hostaddr=127.0.0.1",
        ] {
            assert_eq!(warning(url, SslMode::Disable, false), None, "{url}");
            assert_eq!(warning(url, SslMode::Prefer, false), None, "{url}");
        }
    }

    #[test]
    fn a_remote_server_without_verified_tls_is_warned_about_and_says_why() {
        for url in [
            "postgres://u@db.example.com/db",
            "postgres://u@10.0.0.5/db",
            "postgres://u@0.0.0.0/db",
            "postgres://u@[2001:db8::1]/db",
            "postgres://u@localhost.example.com/db",
            "postgres://u@localhost,db.example.com/db",
            "postgres://u@localhost/db?hostaddr=10.0.0.5",
        ] {
            for (mode, encrypted, says) in [
                (SslMode::Disable, false, "not encrypted"),
                (SslMode::Prefer, false, "fell back to plaintext"),
                (SslMode::Prefer, true, "not verified (sslmode=prefer"),
                (SslMode::Require, true, "not verified (sslmode=require"),
            ] {
                let w = warning(url, mode, encrypted);
                assert!(
                    w.as_deref()
                        .is_some_and(|w| w.contains(says) && w.contains("verify-full")),
                    "{url} {mode:?}: {w:?}"
                );
            }
            assert_eq!(warning(url, SslMode::VerifyFull, true), None, "{url}");
            assert_eq!(warning(url, SslMode::VerifyCa, true), None, "{url}");
        }
    }
}
