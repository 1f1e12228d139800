//! A framed connection over any `Read + Write` stream (TCP today, TLS
//! through the same trait): reads and writes whole [`Frame`]s, knows
//! buffers and sockets, nothing of files or of the SST sequence.

use std::io::{self, BufReader, ErrorKind, Read, Write};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::protocol::frame::{self, HEADER_LEN};
use crate::protocol::{Frame, Kind};

/// Bytes of small frames gathered before they are written.
const WRITE_BATCH: usize = 64 << 10;

/// Read-ahead for small frames; large bodies bypass it.
const READ_BUFFER: usize = 64 << 10;

/// A side that has sent nothing for this long sends a `Ping`, so the
/// peer's inactivity timeout only fires when we are really gone. The
/// loops that call [`Connection::keepalive`] wake this often, so a silent
/// side pings within twice this: well inside the shortest inactivity
/// timeout either side may have (`MIN_IDLE` in config; each side reads
/// its own configuration).
pub(crate) const KEEPALIVE: Duration = Duration::from_secs(1);

/// A stream of frames. Writes of small frames are batched and flushed
/// before every read, so a request is never left sitting in our buffer
/// while we wait for its answer.
#[derive(Debug)]
pub(crate) struct Connection<S: Read + Write> {
    reader: BufReader<S>,
    body: Vec<u8>,
    out: Vec<u8>,
    peer: String,
    last_sent: Instant,
}

impl<S: Read + Write> Connection<S> {
    /// Wraps a connected stream; `peer` names it in error messages.
    pub(crate) fn new(stream: S, peer: String) -> Self {
        Connection {
            reader: BufReader::with_capacity(READ_BUFFER, stream),
            body: Vec::new(),
            out: Vec::with_capacity(WRITE_BATCH),
            peer,
            last_sent: Instant::now(),
        }
    }

    /// The peer, for messages.
    pub(crate) fn peer(&self) -> &str {
        &self.peer
    }

    /// Reads the next frame. `Ok(None)` is a clean end of stream between
    /// frames; an end inside a frame, an unknown kind or an oversized
    /// length is an error.
    pub(crate) fn read_frame(&mut self) -> Result<Option<Frame<'_>>> {
        match self.read_body()? {
            None => Ok(None),
            Some((kind, len)) => self.decode(kind, len).map(Some),
        }
    }

    /// Reads the next frame other than a keepalive; the end of the stream
    /// is an error here. `what` says what we were waiting for.
    pub(crate) fn expect_frame(&mut self, what: &str) -> Result<Frame<'_>> {
        loop {
            match self.read_body()? {
                None => bail!(
                    "{} closed the connection while we waited for {what}",
                    self.peer
                ),
                Some((Kind::Ping, len)) => {
                    self.decode(Kind::Ping, len)?;
                }
                Some((kind, len)) => return self.decode(kind, len),
            }
        }
    }

    /// Reads header and body into `self.body`; the frame is decoded by the
    /// caller (so a loop that skips frames does not hold a borrow).
    fn read_body(&mut self) -> Result<Option<(Kind, usize)>> {
        self.flush()?;
        let mut header = [0u8; HEADER_LEN];
        if !self.fill(&mut header, true)? {
            return Ok(None);
        }
        let (kind, len) = frame::parse_header(&header)
            .with_context(|| format!("bad frame from {}", self.peer))?;
        let len = len as usize;
        if self.body.len() < len {
            self.body.resize(len, 0);
        }
        let mut body = std::mem::take(&mut self.body);
        let filled = self.fill(&mut body[..len], false);
        self.body = body;
        filled?;
        Ok(Some((kind, len)))
    }

    fn decode(&self, kind: Kind, len: usize) -> Result<Frame<'_>> {
        Frame::decode(kind, &self.body[..len])
            .with_context(|| format!("bad {kind:?} frame from {}", self.peer))
    }

    /// Fills `buf` completely. With `eof_ok`, an end of stream before the
    /// first byte returns `false`; any other end is an error.
    fn fill(&mut self, buf: &mut [u8], eof_ok: bool) -> Result<bool> {
        let mut done = 0;
        while done < buf.len() {
            match self.reader.read(&mut buf[done..]) {
                Ok(0) if done == 0 && eof_ok => return Ok(false),
                Ok(0) => bail!(
                    "{} closed the connection in the middle of a frame",
                    self.peer
                ),
                Ok(n) => done += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(self.io_error(e, "receiving from")),
            }
        }
        Ok(true)
    }

    /// An I/O error with the peer's name; a timeout says so plainly.
    fn io_error(&self, err: io::Error, doing: &str) -> anyhow::Error {
        match err.kind() {
            ErrorKind::WouldBlock | ErrorKind::TimedOut => anyhow::anyhow!(
                "{doing} {}: no progress within the inactivity timeout \
                 (the peer stalled or the network dropped the connection)",
                self.peer
            ),
            _ => anyhow::Error::new(err).context(format!("{doing} {}", self.peer)),
        }
    }

    /// Queues a frame; it is written when the batch fills, on [`flush`],
    /// or before the next read.
    ///
    /// [`flush`]: Connection::flush
    pub(crate) fn write_frame(&mut self, frame: &Frame<'_>) -> Result<()> {
        frame.encode(&mut self.out)?;
        if self.out.len() >= WRITE_BATCH {
            self.flush()?;
        }
        Ok(())
    }

    /// Queues a frame and writes everything queued.
    pub(crate) fn send(&mut self, frame: &Frame<'_>) -> Result<()> {
        self.write_frame(frame)?;
        self.flush()
    }

    /// Writes bytes that already form whole frames (a `Block` built in
    /// place by the sender), after anything queued.
    pub(crate) fn send_raw(&mut self, bytes: &[u8]) -> Result<()> {
        self.flush()?;
        self.last_sent = Instant::now();
        self.reader
            .get_mut()
            .write_all(bytes)
            .map_err(|e| self.io_error(e, "sending to"))
    }

    /// Sends a `Ping` if nothing was sent for [`KEEPALIVE`]; call it from
    /// any loop that may keep this side silent.
    pub(crate) fn keepalive(&mut self) -> Result<()> {
        if self.last_sent.elapsed() >= KEEPALIVE {
            self.send(&Frame::Ping)?;
        }
        Ok(())
    }

    /// Writes everything queued.
    pub(crate) fn flush(&mut self) -> Result<()> {
        if self.out.is_empty() {
            return Ok(());
        }
        self.last_sent = Instant::now();
        let result = self.reader.get_mut().write_all(&self.out);
        self.out.clear();
        result
            .and_then(|()| self.reader.get_mut().flush())
            .map_err(|e| self.io_error(e, "sending to"))
    }

    /// The underlying stream.
    pub(crate) fn stream(&self) -> &S {
        self.reader.get_ref()
    }

    /// The underlying stream, e.g. to change its timeouts.
    pub(crate) fn stream_mut(&mut self) -> &mut S {
        self.reader.get_mut()
    }
}
