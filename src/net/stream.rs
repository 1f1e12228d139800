//! A TCP stream with an inactivity timeout and an optional overall
//! deadline, as a `Read + Write` wrapper (TLS and framing sit on top).
//!
//! The per-read timeout alone cannot bound a handshake: a peer sending one
//! byte a second never trips it. While a deadline is set, every read and
//! write gets only the time left until the deadline.
//!
//! A stream given a [`RateLimit`] pays it for every byte it writes to the
//! socket: under TLS that is the records as they go on the wire.

use std::io::{self, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::RateLimit;

/// A connected socket with timeouts.
#[derive(Debug)]
pub(crate) struct TimedStream {
    tcp: TcpStream,
    idle: Duration,
    deadline: Option<Instant>,
    limit: Option<Arc<RateLimit>>,
}

impl TimedStream {
    /// Wraps `tcp`; no single read or write may wait longer than `idle`.
    pub(crate) fn new(tcp: TcpStream, idle: Duration) -> io::Result<TimedStream> {
        tcp.set_nonblocking(false)?;
        tcp.set_nodelay(true)?;
        tcp.set_read_timeout(Some(idle))?;
        tcp.set_write_timeout(Some(idle))?;
        Ok(TimedStream {
            tcp,
            idle,
            deadline: None,
            limit: None,
        })
    }

    /// Makes every write pay `limit` (shared with the other streams of
    /// this side); `None` leaves the stream unlimited.
    pub(crate) fn limited(mut self, limit: Option<Arc<RateLimit>>) -> TimedStream {
        self.limit = limit;
        self
    }

    /// Bounds everything until [`clear_deadline`] by `deadline`.
    ///
    /// [`clear_deadline`]: TimedStream::clear_deadline
    pub(crate) fn set_deadline(&mut self, deadline: Instant) {
        self.deadline = Some(deadline);
    }

    /// Back to the plain inactivity timeout.
    pub(crate) fn clear_deadline(&mut self) -> io::Result<()> {
        self.deadline = None;
        self.tcp.set_read_timeout(Some(self.idle))?;
        self.tcp.set_write_timeout(Some(self.idle))
    }

    /// The socket, e.g. to register it with the stop token.
    pub(crate) fn tcp(&self) -> &TcpStream {
        &self.tcp
    }

    /// Applies the time left before the deadline to the next operation.
    fn arm(&self) -> io::Result<()> {
        let Some(deadline) = self.deadline else {
            return Ok(());
        };
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(ErrorKind::TimedOut, "deadline passed"));
        }
        let left = left.min(self.idle);
        self.tcp.set_read_timeout(Some(left))?;
        self.tcp.set_write_timeout(Some(left))
    }
}

impl Read for TimedStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.arm()?;
        self.tcp.read(buf)
    }
}

impl Write for TimedStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.arm()?;
        let Some(limit) = &self.limit else {
            return self.tcp.write(buf);
        };
        let written = self.tcp.write(&buf[..limit.chunk(buf.len())])?;
        limit.pay(written);
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.tcp.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn deadline_bounds_a_trickling_peer() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let trickler = std::thread::spawn(move || {
            let mut peer = TcpStream::connect(addr).expect("connect");
            for _ in 0..20 {
                if peer.write_all(b"x").is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        let (tcp, _) = listener.accept().expect("accept");
        let mut stream = TimedStream::new(tcp, Duration::from_secs(5)).expect("wrap");
        stream.set_deadline(Instant::now() + Duration::from_millis(300));
        let started = Instant::now();
        let mut buf = [0u8; 64];
        let err = stream.read_exact(&mut buf).expect_err("deadline");
        assert!(
            matches!(err.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock),
            "{err:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(3));
        drop(stream);
        trickler.join().expect("thread");
    }

    #[test]
    fn a_limited_stream_pays_for_what_it_writes() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let reader = std::thread::spawn(move || {
            let (mut tcp, _) = listener.accept().expect("accept");
            let mut sink = Vec::new();
            tcp.read_to_end(&mut sink).expect("read");
            sink.len()
        });
        let tcp = TcpStream::connect(addr).expect("connect");
        let limit = RateLimit::new(4 << 20);
        let mut stream = TimedStream::new(tcp, Duration::from_secs(5))
            .expect("wrap")
            .limited(Some(Arc::clone(&limit)));
        let total = 1 << 20;
        let started = Instant::now();
        limit.set_enabled(true);
        stream.write_all(&vec![7u8; total]).expect("write");
        limit.set_enabled(false);
        let took = started.elapsed().as_secs_f64();
        drop(stream);
        assert_eq!(reader.join().expect("thread"), total);
        let floor = total as f64 / (4 << 20) as f64 - super::super::ratelimit::BURST.as_secs_f64();
        assert!(took >= floor, "{took} s, at least {floor} s");
        assert_eq!(limit.measured().bytes, total as u64);
    }
}
