//! The byte stream under a [`Connection`](super::Connection): a timed TCP
//! stream, plain or inside TLS. Protocol code never knows which.

use std::io::{self, Read, Write};

use rustls::{ClientConnection, ServerConnection, StreamOwned};

use super::TimedStream;

/// A plain or TLS-wrapped timed stream.
#[derive(Debug)]
pub(crate) enum Transport {
    Plain(TimedStream),
    /// The joiner's side of TLS.
    Server(Box<StreamOwned<ServerConnection, TimedStream>>),
    /// The donor's side of TLS.
    Client(Box<StreamOwned<ClientConnection, TimedStream>>),
}

impl Transport {
    /// The timed stream underneath (timeouts, the socket).
    pub(crate) fn timed(&self) -> &TimedStream {
        match self {
            Transport::Plain(s) => s,
            Transport::Server(s) => s.get_ref(),
            Transport::Client(s) => s.get_ref(),
        }
    }

    /// The timed stream underneath, to change its deadline.
    pub(crate) fn timed_mut(&mut self) -> &mut TimedStream {
        match self {
            Transport::Plain(s) => s,
            Transport::Server(s) => s.get_mut(),
            Transport::Client(s) => s.get_mut(),
        }
    }
}

impl Transport {
    /// Ends the stream cleanly: TLS says `close_notify` first (so the
    /// peer reads a clean end, not a truncation), then the socket is shut
    /// down for both directions, even though the stop token holds a copy.
    pub(crate) fn close(&mut self) {
        match self {
            Transport::Plain(_) => {}
            Transport::Server(s) => {
                s.conn.send_close_notify();
                let _ = s.flush();
            }
            Transport::Client(s) => {
                s.conn.send_close_notify();
                let _ = s.flush();
            }
        }
        let _ = self.timed().tcp().shutdown(std::net::Shutdown::Both);
    }
}

impl Read for Transport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.read(buf),
            Transport::Server(s) => s.read(buf),
            Transport::Client(s) => s.read(buf),
        }
    }
}

impl Write for Transport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.write(buf),
            Transport::Server(s) => s.write(buf),
            Transport::Client(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Transport::Plain(s) => s.flush(),
            Transport::Server(s) => s.flush(),
            Transport::Client(s) => s.flush(),
        }
    }
}
