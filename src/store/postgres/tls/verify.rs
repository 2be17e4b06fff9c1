//! What each `sslmode` verifies, as rustls client settings: nothing of the certificate
//! (`prefer`, `require`), its chain (`verify-ca`), or its chain and host name
//! (`verify-full`), against `sslrootcert` or the system's roots.

use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

use super::SslMode;

/// The rustls client settings for `mode`, trusting `root` (see [`roots`]).
pub(super) fn client_config(
    mode: SslMode,
    root: Option<&str>,
) -> std::result::Result<ClientConfig, String> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
