//! The TLS connector tokio-postgres is given: tokio-postgres-rustls's, also for hosts
//! without a name, noting whether a handshake ever started (for the warning at start).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::io::{AsyncRead, AsyncWrite};
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres_rustls::MakeRustlsConnect;

/// tokio-postgres-rustls's connector, also for hosts without a name (a Unix socket,
/// where tokio-postgres asks for a TLS connector it then never uses); it notes whether a
/// TLS handshake ever started (with `prefer`, none does when the server offers no TLS).
#[derive(Clone)]
pub(in crate::store::postgres) struct MakeTls {
    inner: MakeRustlsConnect,
    handshakes: Arc<AtomicBool>,
}

impl MakeTls {
    /// A connector with rustls settings `config`, setting `handshakes` when one starts.
    pub(super) fn new(config: rustls::ClientConfig, handshakes: Arc<AtomicBool>) -> MakeTls {
        MakeTls {
            inner: MakeRustlsConnect::new(config),
            handshakes,
        }
    }
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
pub(in crate::store::postgres) struct Noted<T> {
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
