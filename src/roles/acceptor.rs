//! The joiner's door: accepts connections on the SST port, runs each
//! handshake (TLS, then the proof of the secret) on its own bounded
//! thread, and hands on only the authenticated connections. Strangers are
//! logged and dropped; they never reach the transfer.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};

use crate::net::{Connection, Listener, TimedStream, Transport, handshake};
use crate::protocol::Channel;
use crate::protocol::auth::Key;
use crate::signals::Stop;
use crate::tls::Tls;

/// Handshakes in progress at once; more connections are closed at once.
const MAX_PENDING_HANDSHAKES: usize = 16;

/// The next authenticated connection of `channel`, within `wait`.
pub(super) fn next_connection(
    incoming: &mpsc::Receiver<(Channel, Connection<Transport>)>,
    channel: Channel,
    wait: Duration,
    stop: &Stop,
) -> Result<Connection<Transport>> {
    let deadline = Instant::now() + wait;
    loop {
        stop.check()?;
        let left = deadline.saturating_duration_since(Instant::now());
        ensure!(
            !left.is_zero(),
            "timed out waiting for a {channel:?} connection"
        );
        match incoming.recv_timeout(left.min(Duration::from_millis(200))) {
            Ok((got, conn)) if got == channel => return Ok(conn),
            Ok((got, conn)) => log::warn!(
                "closing an unexpected {got:?} connection from {}",
                conn.peer()
            ),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                stop.check()?;
                bail!("the listener stopped");
            }
        }
    }
}

/// Accepts connections until `finished`, runs each handshake on its own
/// thread (bounded), and passes on only the authenticated ones.
pub(super) fn spawn_acceptor(
    listener: Listener,
    tls: Tls,
    key: Key,
    idle: Duration,
    stop: Arc<Stop>,
    finished: Arc<AtomicBool>,
) -> Result<mpsc::Receiver<(Channel, Connection<Transport>)>> {
    let (tx, rx) = mpsc::channel();
    let pending = Arc::new(AtomicUsize::new(0));
    let tls = Arc::new(tls);
    std::thread::Builder::new()
        .name("acceptor".into())
        .spawn(move || {
            while !finished.load(Ordering::SeqCst) {
                let deadline = Instant::now() + Duration::from_secs(1);
                let (tcp, peer) = match listener.accept(&stop, deadline) {
                    Ok(Some(accepted)) => accepted,
                    Ok(None) => continue,
                    Err(_) => break,
                };
                if pending.fetch_add(1, Ordering::SeqCst) >= MAX_PENDING_HANDSHAKES {
                    pending.fetch_sub(1, Ordering::SeqCst);
                    log::warn!(
                        "refused an SST connection from {peer}: too many handshakes at once"
                    );
                    continue;
                }
                let (tx, tls, key, stop, counter) = (
                    tx.clone(),
                    Arc::clone(&tls),
                    key.clone(),
                    Arc::clone(&stop),
                    Arc::clone(&pending),
                );
                let spawned =
                    std::thread::Builder::new()
                        .name("handshake".into())
                        .spawn(move || {
                            let result =
                                authenticate(tcp, &peer.to_string(), idle, &tls, &key, &stop);
                            counter.fetch_sub(1, Ordering::SeqCst);
                            match result {
                                // After the session ended nobody listens: the
                                // connection just closes.
                                Ok(authenticated) => drop(tx.send(authenticated)),
                                Err(e) => {
                                    log::warn!("refused an SST connection from {peer}: {e:#}")
                                }
                            }
                        });
                if spawned.is_err() {
                    pending.fetch_sub(1, Ordering::SeqCst);
                    log::warn!("refused an SST connection from {peer}: cannot start a thread");
                }
            }
        })
        .context("starting the acceptor thread")?;
    Ok(rx)
}

/// TLS (when configured) and our handshake on an accepted connection.
fn authenticate(
    tcp: std::net::TcpStream,
    peer: &str,
    idle: Duration,
    tls: &Tls,
    key: &Key,
    stop: &Stop,
) -> Result<(Channel, Connection<Transport>)> {
    let stream = tls.wrap(TimedStream::new(tcp, idle)?)?;
    let mut conn = Connection::new(stream, peer.to_string());
    let channel = handshake::answer(&mut conn, key)?;
    stop.watch(conn.stream().timed().tcp())?;
    Ok((channel, conn))
}
