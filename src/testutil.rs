//! Helpers shared by the unit tests.

/// xorshift64*: a small deterministic generator, so tests that shake a
/// parser or fill files stay reproducible and dependency-free.
#[derive(Debug)]
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number below `n` (n > 0).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).expect("below n fits usize")
    }

    /// One of `items` (not empty).
    pub(crate) fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    /// True `percent` times in a hundred.
    pub(crate) fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    /// `len` pseudo-random bytes.
    pub(crate) fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

/// Waits (at most 5 s) until process `pid` runs the program `comm`: a
/// child just spawned may not have reached its `exec` yet, and until then
/// /proc shows the test binary's name and argv.
pub(crate) fn await_exec(pid: u32, comm: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while std::time::Instant::now() < deadline {
        // The kernel names the new program before it lays out its argv.
        let named = std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .is_ok_and(|c| c.trim_end() == comm);
        let argv = std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|a| !a.is_empty());
        if named && argv {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// Two ends of a plain loopback TCP connection, as the donor's and the
/// joiner's side see them (5 s inactivity timeout).
pub(crate) fn connection_pair() -> (
    crate::net::Connection<crate::net::Transport>,
    crate::net::Connection<crate::net::Transport>,
) {
    use crate::net::{Connection, TimedStream, Transport};
    use std::net::{TcpListener, TcpStream};
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let client = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
    let (server, _) = listener.accept().expect("accept");
    let idle = std::time::Duration::from_secs(5);
    let wrap = |tcp, peer: &str| {
        Connection::new(
            Transport::Plain(TimedStream::new(tcp, idle).expect("wrap")),
            peer.into(),
        )
    };
    (wrap(client, "joiner"), wrap(server, "donor"))
}
