//! One persistent HTTP/1.1 connection (hyper's low-level client), reconnected after an
//! error, and the requests it sends.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderMap, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// How long one request may take before it counts as failed and the connection is
/// dropped.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A request to send, possibly many times.
#[derive(Clone, Debug)]
pub struct Req {
    pub method: Method,
    /// The path and query, e.g. `/api/tasks/?project=3`.
    pub path: Cow<'static, str>,
    pub token: Option<Arc<str>>,
    pub body: Option<Bytes>,
    /// The status a success has, when not the scenario's (a mixed workload).
    pub expect: Option<hyper::StatusCode>,
}

impl Req {
    pub fn get(path: impl Into<Cow<'static, str>>, token: Option<Arc<str>>) -> Req {
        Req {
            method: Method::GET,
            path: path.into(),
            token,
            body: None,
            expect: None,
        }
    }

    pub fn post_json(
        path: impl Into<Cow<'static, str>>,
        token: Option<Arc<str>>,
        body: &serde_json::Value,
    ) -> Req {
        Req {
            method: Method::POST,
            path: path.into(),
            token,
            body: Some(Bytes::from(body.to_string())),
            expect: None,
        }
    }

    fn build(&self, host: &HeaderValue) -> anyhow::Result<Request<Full<Bytes>>> {
        let mut b = Request::builder()
            .method(self.method.clone())
            .uri(self.path.as_ref())
            .header(HOST, host);
        if let Some(token) = &self.token {
            b = b.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        let body = match &self.body {
            Some(body) => {
                b = b.header(CONTENT_TYPE, "application/json");
                body.clone()
            }
            None => Bytes::new(),
        };
        Ok(b.body(Full::new(body))?)
    }
}

/// A keep-alive connection that issues requests one after another.
pub struct Conn {
    addr: SocketAddr,
    host: HeaderValue,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Conn {
    pub fn new(addr: SocketAddr) -> Conn {
        let host = HeaderValue::from_str(&addr.to_string())
            .unwrap_or(HeaderValue::from_static("localhost"));
        Conn {
            addr,
            host,
            sender: None,
        }
    }

    /// Sends `req` and reads the whole response. After any failure the connection is
    /// dropped; the next call opens a new one.
    pub async fn send(&mut self, req: &Req) -> anyhow::Result<(StatusCode, Bytes)> {
        let (status, _, body) = self.send_full(req).await?;
        Ok((status, body))
    }

    /// As [`Conn::send`], with the response's headers.
    pub async fn send_full(&mut self, req: &Req) -> anyhow::Result<(StatusCode, HeaderMap, Bytes)> {
        let request = req.build(&self.host)?;
        let result = tokio::time::timeout(REQUEST_TIMEOUT, self.exchange(request)).await;
        match result {
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(e)) => {
                self.sender = None;
                Err(e)
            }
            Err(_) => {
                self.sender = None;
                Err(anyhow!("request timed out after {REQUEST_TIMEOUT:?}"))
            }
        }
    }

    async fn exchange(
        &mut self,
        request: Request<Full<Bytes>>,
    ) -> anyhow::Result<(StatusCode, HeaderMap, Bytes)> {
        let sender = match self.sender.take() {
            Some(s) if !s.is_closed() => self.sender.insert(s),
            _ => {
                let s = connect(self.addr).await?;
                self.sender.insert(s)
            }
        };
        sender.ready().await.context("connection closed")?;
        let resp = sender.send_request(request).await?;
        let (parts, body) = resp.into_parts();
        let body = body.collect().await?.to_bytes();
        Ok((parts.status, parts.headers, body))
    }
}

async fn connect(addr: SocketAddr) -> anyhow::Result<SendRequest<Full<Bytes>>> {
    let stream = TcpStream::connect(addr)
        .await
        .with_context(|| format!("connect {addr}"))?;
    stream.set_nodelay(true)?;
    let (sender, conn) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        // Ends when the connection closes; errors surface on the next request.
        let _ = conn.await;
    });
    Ok(sender)
}

/// A short, printable excerpt of a response body.
pub fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut s: String = text.chars().take(200).collect();
    if text.chars().count() > 200 {
        s.push('…');
    }
    s
}
