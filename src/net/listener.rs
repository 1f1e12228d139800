//! The joiner's listening sockets.
//!
//! We bind the SST port ourselves (no daemon, no port-probing tools), with
//! `SO_REUSEADDR` (std sets it on Unix) so a port in `TIME_WAIT` after a
//! failed attempt can be reused at once. A port held by another program is
//! exit 16, as in the rsync method.

use std::io::ErrorKind;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use crate::exit::{Exit, fail};
use crate::signals::Stop;

/// How often a waiting accept looks at the stop token.
const POLL_INTERVAL: Duration = Duration::from_millis(200);

/// One or more bound, listening sockets sharing a port.
#[derive(Debug)]
pub(crate) struct Listener {
    sockets: Vec<TcpListener>,
    port: u16,
}

impl Listener {
    /// Binds `addrs` (all with the same port; port 0 picks one for all).
    /// Wildcard pairs `[::]` + `0.0.0.0` bind the dual-stack `[::]` alone
    /// when the system allows it.
    pub(crate) fn bind(addrs: &[SocketAddr]) -> Result<Listener> {
        let mut sockets: Vec<TcpListener> = Vec::new();
        let mut port = addrs.first().map_or(0, SocketAddr::port);
        for addr in addrs {
            let mut addr = *addr;
            addr.set_port(port);
            let dual_stack_covers = addr.ip().is_unspecified()
                && addr.is_ipv4()
                && sockets
                    .iter()
                    .any(|s| s.local_addr().is_ok_and(|a| a.ip().is_unspecified()));
            if dual_stack_covers {
                continue;
            }
            match TcpListener::bind(addr) {
                Ok(socket) => {
                    port = socket
                        .local_addr()
                        .context("reading the bound port")?
                        .port();
                    socket
                        .set_nonblocking(true)
                        .context("making the listener non-blocking")?;
                    sockets.push(socket);
                }
                Err(e) if e.kind() == ErrorKind::AddrInUse => {
                    return Err(fail(
                        Exit::Busy,
                        format!(
                            "the SST port {port} on {} has been taken by another program; \
                             stop that program or choose another port in \
                             wsrep_sst_receive_address",
                            addr.ip()
                        ),
                    ));
                }
                // An unspecified IPv6 bind fails where IPv6 is off; the
                // IPv4 wildcard after it then covers us.
                Err(_) if addr.ip().is_unspecified() && addr.is_ipv6() => {}
                Err(e) => {
                    return Err(e).with_context(|| format!("binding the SST port on {addr}"));
                }
            }
        }
        anyhow::ensure!(!sockets.is_empty(), "no address to listen on");
        Ok(Listener { sockets, port })
    }

    /// The listening port.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// Waits for one connection until `until`; `Ok(None)` on timeout.
    /// Returns early with the stop reason when `stop` triggers.
    pub(crate) fn accept(
        &self,
        stop: &Stop,
        until: Instant,
    ) -> Result<Option<(TcpStream, SocketAddr)>> {
        loop {
            stop.check()?;
            for socket in &self.sockets {
                match socket.accept() {
                    Ok(conn) => return Ok(Some(conn)),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    // A connection reset before we accepted it, or out of
                    // descriptors for a moment: log and keep listening.
                    Err(e) => log::warn!("accepting an SST connection failed: {e}"),
                }
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            let wait = left.min(POLL_INTERVAL);
            let mut fds: Vec<PollFd<'_>> = self
                .sockets
                .iter()
                .map(|s| PollFd::new(s.as_fd(), PollFlags::POLLIN))
                .collect();
            let millis = u16::try_from(wait.as_millis()).unwrap_or(u16::MAX);
            match poll(&mut fds, PollTimeout::from(millis)) {
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(e).context("waiting for SST connections"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_port_is_exit_16() {
        let first = Listener::bind(&["127.0.0.1:0".parse().expect("addr")]).expect("bind");
        let taken: SocketAddr = format!("127.0.0.1:{}", first.port()).parse().expect("addr");
        let err = Listener::bind(&[taken]).expect_err("busy");
        assert_eq!(crate::exit::exit_of(&err), Some(Exit::Busy));
        assert!(err.to_string().contains(&first.port().to_string()));
    }

    #[test]
    fn accepts_and_times_out() {
        let stop = Stop::new();
        let listener = Listener::bind(&["127.0.0.1:0".parse().expect("addr")]).expect("bind");
        let none = listener
            .accept(&stop, Instant::now() + Duration::from_millis(100))
            .expect("no error");
        assert!(none.is_none());
        let port = listener.port();
        let client = std::thread::spawn(move || TcpStream::connect(("127.0.0.1", port)));
        let got = listener
            .accept(&stop, Instant::now() + Duration::from_secs(5))
            .expect("no error");
        assert!(got.is_some());
        client.join().expect("thread").expect("connected");
        stop.trigger(Exit::Interrupted, "test");
        assert!(
            listener
                .accept(&stop, Instant::now() + Duration::from_secs(5))
                .is_err()
        );
    }

    #[test]
    fn wildcard_binds_once_with_dual_stack() {
        let listener = Listener::bind(&[
            "[::]:0".parse().expect("addr"),
            "0.0.0.0:0".parse().expect("addr"),
        ])
        .expect("bind");
        assert_eq!(listener.sockets.len(), 1);
        TcpStream::connect(("127.0.0.1", listener.port())).expect("IPv4 reaches the [::] socket");
    }
}
