//! Sockets: addresses, the listener, timed streams (with a shared rate
//! limit when asked), framed connections and the handshake. Knows frames
//! and sockets, nothing of files.

pub(crate) mod address;
mod connection;
pub(crate) mod handshake;
mod listener;
mod ratelimit;
mod stream;
mod transport;

pub(crate) use connection::{Connection, KEEPALIVE};
pub(crate) use listener::Listener;
pub(crate) use ratelimit::{Measured, RateLimit};
pub(crate) use stream::TimedStream;
pub(crate) use transport::Transport;
