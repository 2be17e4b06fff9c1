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

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_postgres::config::SslMode as PgSslMode;
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::security::Security;
use crate::redact::{percent_decode, redact};
use crate::store::{Result, StoreError};

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
    let tls = client_config(mode, root.as_deref()).map_err(bad)?;
    let handshakes = Arc::new(AtomicBool::new(false));
    let security = Security::of(&config, mode, handshakes.clone());
    Ok((
        config,
        MakeTls {
            inner: MakeRustlsConnect::new(tls),
            handshakes,
        },
        security,
    ))
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

fn client_config(mode: SslMode, root: Option<&str>) -> std::result::Result<ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS set-up: {e}"))?;
    let webpki = || -> std::result::Result<Arc<WebPkiServerVerifier>, String> {
        WebPkiServerVerifier::builder_with_provider(Arc::new(roots(root)?), provider.clone())
            .build()
            .map_err(|e| format!("TLS set-up: {e}"))
    };
    Ok(match mode {
        SslMode::Disable | SslMode::Prefer | SslMode::Require => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Unverified(provider.clone())))
            .with_no_client_auth(),
        SslMode::VerifyCa => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(ChainOnly(webpki()?)))
            .with_no_client_auth(),
        SslMode::VerifyFull => builder
            .with_webpki_verifier(webpki()?)
            .with_no_client_auth(),
    })
}

/// The trusted roots: the PEM file `root`, or the system's (`None` or `system`).
fn roots(root: Option<&str>) -> std::result::Result<RootCertStore, String> {
    let mut store = RootCertStore::empty();
    match root {
        Some(path) if path != "system" => {
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|certs| certs.collect::<std::result::Result<Vec<_>, _>>())
                .map_err(|e| format!("sslrootcert {path}: {e}"))?;
            let (added, _) = store.add_parsable_certificates(certs);
            if added == 0 {
                return Err(format!("sslrootcert {path}: no certificate in it"));
            }
        }
        _ => {
            let found = rustls_native_certs::load_native_certs();
            let (added, _) = store.add_parsable_certificates(found.certs);
            if added == 0 {
                return Err(
                    "no trusted root certificates found on this system; give sslrootcert=FILE"
                        .into(),
                );
            }
        }
    }
    Ok(store)
}

/// `sslmode` `prefer` and `require`: encryption without authentication, as libpq does.
/// The handshake's signatures are still checked (the server holds the certificate's key).
#[derive(Debug)]
struct Unverified(Arc<CryptoProvider>);

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `sslmode=verify-ca`: the chain must lead to a trusted root, whatever name it is for.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        // The name is checked only after the chain verified.
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// tokio-postgres-rustls's connector, also for hosts without a name (a Unix socket,
/// where tokio-postgres asks for a TLS connector it then never uses); it notes whether a
/// TLS handshake ever started (with `prefer`, none does when the server offers no TLS).
#[derive(Clone)]
pub(super) struct MakeTls {
    inner: MakeRustlsConnect,
    handshakes: Arc<AtomicBool>,
}

impl<S> MakeTlsConnect<S> for MakeTls
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = <MakeRustlsConnect as MakeTlsConnect<S>>::Stream;
    type TlsConnect = Noted<<MakeRustlsConnect as MakeTlsConnect<S>>::TlsConnect>;
    type Error = <MakeRustlsConnect as MakeTlsConnect<S>>::Error;

    fn make_tls_connect(
        &mut self,
        hostname: &str,
    ) -> std::result::Result<Self::TlsConnect, Self::Error> {
        let name = if hostname.is_empty() {
            "localhost"
        } else {
            hostname
        };
        Ok(Noted {
            inner: MakeTlsConnect::<S>::make_tls_connect(&mut self.inner, name)?,
            handshakes: self.handshakes.clone(),
        })
    }
}

/// A TLS connector that notes, when tokio-postgres uses it, that a handshake started.
pub(super) struct Noted<T> {
    inner: T,
    handshakes: Arc<AtomicBool>,
}

impl<S, T: TlsConnect<S>> TlsConnect<S> for Noted<T> {
    type Stream = T::Stream;
    type Error = T::Error;
    type Future = T::Future;

    fn connect(self, stream: S) -> T::Future {
        self.handshakes.store(true, Ordering::Relaxed);
        self.inner.connect(stream)
    }
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
    /// for `db.tasklane.test`, and an unrelated CA.
    const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/store/postgres/testdata");

    /// A TLS handshake in memory between a client set up for `mode` (and `root`) and a
    /// server showing the test certificate, the client asking for `name`.
    fn handshake(mode: SslMode, root: Option<&str>, name: &str) -> std::result::Result<(), String> {
        use rustls::pki_types::PrivateKeyDer;
        use rustls::{ClientConnection, ServerConfig, ServerConnection};
        let root = root.map(|f| format!("{TESTDATA}/{f}"));
        let client = client_config(mode, root.as_deref())?;
        let chain = CertificateDer::pem_file_iter(format!("{TESTDATA}/server.pem"))
            .unwrap()
            .collect::<std::result::Result<Vec<_>, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_file(format!("{TESTDATA}/server.key")).unwrap();
        let server =
            ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(chain, key)
                .unwrap();
        let mut c = ClientConnection::new(
            Arc::new(client),
            ServerName::try_from(name.to_owned()).unwrap(),
        )
        .unwrap();
        let mut s = ServerConnection::new(Arc::new(server)).unwrap();
        for _ in 0..20 {
            let mut buf = Vec::new();
            c.write_tls(&mut buf).unwrap();
            s.read_tls(&mut buf.as_slice()).unwrap();
            s.process_new_packets()
                .map_err(|e| format!("server: {e}"))?;
            let mut buf = Vec::new();
            s.write_tls(&mut buf).unwrap();
            c.read_tls(&mut buf.as_slice()).unwrap();
            c.process_new_packets().map_err(|e| e.to_string())?;
            if !c.is_handshaking() && !s.is_handshaking() {
                return Ok(());
            }
        }
        Err("the handshake did not finish".into())
    }

    #[test]
    fn each_sslmode_verifies_what_libpq_verifies() {
        use SslMode::*;
        let name = "db.tasklane.test";
        // prefer, require: encrypted, not authenticated.
        assert_eq!(handshake(Prefer, None, "elsewhere.example"), Ok(()));
        assert_eq!(handshake(Require, None, "elsewhere.example"), Ok(()));
        // verify-full: the chain and the name.
        assert_eq!(handshake(VerifyFull, Some("ca.pem"), name), Ok(()));
        let wrong_name = handshake(VerifyFull, Some("ca.pem"), "elsewhere.example");
        assert!(
            wrong_name
                .as_ref()
                .is_err_and(|e| e.contains("not valid for name")),
            "{wrong_name:?}"
        );
        let wrong_ca = handshake(VerifyFull, Some("other-ca.pem"), name);
        assert!(
            wrong_ca
                .as_ref()
                .is_err_and(|e| e.contains("UnknownIssuer")),
            "{wrong_ca:?}"
        );
        // verify-ca: the chain only.
        assert_eq!(
            handshake(VerifyCa, Some("ca.pem"), "elsewhere.example"),
            Ok(())
        );
        let wrong_ca = handshake(VerifyCa, Some("other-ca.pem"), name);
        assert!(
            wrong_ca
                .as_ref()
                .is_err_and(|e| e.contains("UnknownIssuer")),
            "{wrong_ca:?}"
        );
        // The system's roots do not know the test CA.
        if let Ok(r) = roots(None) {
            assert!(!r.is_empty());
            assert!(handshake(VerifyFull, None, name).is_err());
        }
    }

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
