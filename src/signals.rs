//! Stopping: signals and a dead parent become one [`Stop`] token.
//!
//! The token records why the SST must end (and so the exit code), and
//! shuts down every socket registered with it, which wakes any thread
//! blocked in a read or write; loops check it between blocks. Cleanup then
//! runs through the ordinary error path and `Drop` guards. A second
//! signal ends the process at once.

use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::{Context, Result};
use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::exit::{Exit, fail};

/// The shared "stop now" token.
#[derive(Debug, Default)]
pub(crate) struct Stop {
    stopped: AtomicBool,
    reason: Mutex<Option<(Exit, String)>>,
    sockets: Mutex<Vec<TcpStream>>,
}

impl Stop {
    pub(crate) fn new() -> Arc<Stop> {
        Arc::new(Stop::default())
    }

    /// Asks everything to stop; the first reason wins.
    pub(crate) fn trigger(&self, exit: Exit, why: impl Into<String>) {
        {
            let mut reason = self.reason.lock().unwrap_or_else(PoisonError::into_inner);
            if reason.is_none() {
                *reason = Some((exit, why.into()));
            }
        }
        self.stopped.store(true, Ordering::SeqCst);
        let sockets = self.sockets.lock().unwrap_or_else(PoisonError::into_inner);
        for socket in sockets.iter() {
            // Already-closed sockets fail here; nothing to do about it.
            let _ = socket.shutdown(Shutdown::Both);
        }
    }

    pub(crate) fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    /// `Err` with the stop reason once triggered; call between steps.
    pub(crate) fn check(&self) -> Result<()> {
        match self.reason() {
            Some((exit, why)) => Err(fail(exit, why)),
            None => Ok(()),
        }
    }

    /// Why we stopped, if we did.
    pub(crate) fn reason(&self) -> Option<(Exit, String)> {
        self.reason
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Registers a socket to be shut down when the token triggers.
    pub(crate) fn watch(&self, socket: &TcpStream) -> Result<()> {
        let clone = socket.try_clone().context("duplicating a socket handle")?;
        if self.is_stopped() {
            let _ = clone.shutdown(Shutdown::Both);
        }
        self.sockets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(clone);
        Ok(())
    }
}

/// Routes SIGTERM/SIGINT/SIGQUIT (exit 3) and SIGHUP (exit 32) into `stop`,
/// as `wsrep_sst_common`'s traps do. SIGPIPE stays ignored (Rust's
/// default): a write to a closed pipe or socket is an ordinary error.
pub(crate) fn install(stop: Arc<Stop>) -> Result<()> {
    let mut signals =
        Signals::new([SIGTERM, SIGINT, SIGQUIT, SIGHUP]).context("installing signal handlers")?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                let (exit, name) = match signal {
                    SIGHUP => (Exit::Pipe, "SIGHUP"),
                    SIGINT => (Exit::Interrupted, "SIGINT"),
                    SIGQUIT => (Exit::Interrupted, "SIGQUIT"),
                    _ => (Exit::Interrupted, "SIGTERM"),
                };
                if stop.is_stopped() {
                    log::error!("{name} received again: exiting at once");
                    std::process::exit(exit.code().into());
                }
                log::error!("{name} received: stopping the SST and cleaning up");
                stop.trigger(exit, format!("interrupted by {name}"));
            }
        })
        .context("starting the signal thread")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::net::TcpListener;

    #[test]
    fn first_reason_wins_and_sockets_wake_up() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let client = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        let (mut server, _) = listener.accept().expect("accept");
        let stop = Stop::new();
        stop.watch(&server).expect("watch");
        assert!(stop.check().is_ok());
        let reader = std::thread::spawn(move || server.read(&mut [0u8; 8]).map_err(|e| e.kind()));
        stop.trigger(Exit::Pipe, "parent died");
        stop.trigger(Exit::Interrupted, "later");
        assert_eq!(reader.join().expect("thread"), Ok(0), "read woke with EOF");
        let err = stop.check().expect_err("stopped");
        assert_eq!(crate::exit::exit_of(&err), Some(Exit::Pipe));
        assert_eq!(err.to_string(), "parent died");
        drop(client);
    }
}
