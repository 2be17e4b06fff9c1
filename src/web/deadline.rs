//! A send deadline on every connection: a write that makes no progress for
//! `--send-timeout` (the client stopped reading) fails, so the connection closes and
//! whatever it held — hyper's write buffer, a stream's follower, its queued events — is
//! freed. Without it a client that never reads keeps its response or stream (and every
//! buffer behind it) alive for as long as it keeps the TCP connection open.
//!
//! The clock runs only while a write is blocked: an idle connection, or one whose client
//! reads slowly but steadily, is never cut. It also runs once the client has closed its
//! side, so that a stream whose client went away ends even while it has nothing to send.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use poem::http::uri::Scheme;
use poem::listener::Acceptor;
use poem::web::{LocalAddr, RemoteAddr};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// Wraps every accepted connection in a [`WriteDeadline`].
pub struct DeadlineAcceptor<A> {
    inner: A,
    timeout: Duration,
}

impl<A> DeadlineAcceptor<A> {
    pub fn new(inner: A, timeout: Duration) -> DeadlineAcceptor<A> {
        DeadlineAcceptor { inner, timeout }
    }
}

impl<A: Acceptor> Acceptor for DeadlineAcceptor<A> {
    type Io = WriteDeadline<A::Io>;

    fn local_addr(&self) -> Vec<LocalAddr> {
        self.inner.local_addr()
    }

    fn accept(
        &mut self,
    ) -> impl Future<Output = io::Result<(Self::Io, LocalAddr, RemoteAddr, Scheme)>> + Send {
        let timeout = self.timeout;
        let accept = self.inner.accept();
        async move {
            let (io, local, remote, scheme) = accept.await?;
            Ok((WriteDeadline::new(io, timeout), local, remote, scheme))
        }
    }
}

/// An IO whose writes fail with `TimedOut` once they have been blocked for `timeout`,
/// or once `timeout` has passed since the client closed its side.
pub struct WriteDeadline<T> {
    inner: T,
    timeout: Duration,
    /// The timer, reused across stalls; `armed` while it runs.
    timer: Option<Pin<Box<Sleep>>>,
    armed: bool,
    /// The client closed its side of the connection. hyper notices mid-response too, but
    /// then waits for the response to end — which an event stream never does — so from
    /// here on the connection gets `timeout` to finish, progress or not.
    read_closed: bool,
}

impl<T> WriteDeadline<T> {
    pub fn new(inner: T, timeout: Duration) -> WriteDeadline<T> {
        WriteDeadline {
            inner,
            timeout,
            timer: None,
            armed: false,
            read_closed: false,
        }
    }

    /// Passes on a write's result; while it is blocked (or the client has gone), runs the
    /// clock and fails the write once the deadline passes.
    fn watch<R>(&mut self, cx: &mut Context<'_>, poll: Poll<io::Result<R>>) -> Poll<io::Result<R>> {
        if poll.is_ready() && !self.read_closed {
            self.armed = false;
            return poll;
        }
        let deadline = Instant::now() + self.timeout;
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if !self.armed {
            timer.as_mut().reset(deadline);
            self.armed = true;
        }
        // Polled even when the write went through, so that the task wakes at the deadline.
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                if self.read_closed {
                    "the client closed the connection"
                } else {
                    "the client stopped reading"
                },
            ))),
            Poll::Pending => poll,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for WriteDeadline<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(poll, Poll::Ready(Ok(())))
            && buf.filled().len() == before
            && buf.remaining() > 0
        {
            self.read_closed = true;
        }
        poll
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for WriteDeadline<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.watch(cx, poll)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.watch(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_flush(cx);
        self.watch(cx, poll)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.watch(cx, poll)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn a_write_blocked_past_the_deadline_fails_and_progress_resets_the_clock() {
        let limit = Duration::from_millis(300);
        // A pipe with 16 bytes of room whose other end reads nothing.
        let (a, mut b) = tokio::io::duplex(16);
        let mut w = WriteDeadline::new(a, limit);
        w.write_all(&[0; 16]).await.unwrap();
        // Blocked: fails once the deadline has passed, not before.
        let started = Instant::now();
        let err = w.write_all(&[0; 8]).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() >= limit);

        // A reader that frees room more often than the deadline keeps the writer going,
        // though the whole write takes longer than the deadline.
        let mut w = WriteDeadline::new(w.inner, limit);
        let reader = tokio::spawn(async move {
            use tokio::io::AsyncReadExt;
            let mut buf = [0; 16];
            for _ in 0..4 {
                tokio::time::sleep(limit / 2).await;
                let _ = b.read(&mut buf).await;
            }
            b
        });
        let started = Instant::now();
        w.write_all(&[0; 48]).await.unwrap();
        assert!(started.elapsed() > limit);
        drop(reader.await.unwrap());
    }

    #[tokio::test]
    async fn once_the_client_closes_its_side_writes_fail_after_the_deadline() {
        use tokio::io::AsyncReadExt;
        let limit = Duration::from_millis(300);
        let (a, b) = tokio::io::duplex(1 << 16);
        let mut w = WriteDeadline::new(a, limit);
        drop(b);
        let mut buf = [0; 8];
        assert_eq!(w.read(&mut buf).await.unwrap(), 0);
        // A flush that goes through still wakes the task at the deadline, and fails then.
        let started = Instant::now();
        std::future::poll_fn(|cx| match Pin::new(&mut w).poll_flush(cx) {
            Poll::Ready(Ok(())) => Poll::Pending,
            other => other,
        })
        .await
        .unwrap_err();
        assert!(started.elapsed() >= limit);
    }
}
