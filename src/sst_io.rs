//! The only writer of stdout: the line protocol mariadbd reads (spec §4).
//!
//! Each line is written whole and flushed at once (mariadbd blocks on
//! `fgets`); a write error means mariadbd is gone, which is exit 32.
//! Lines are checked against mariadbd's buffers: joiner lines are read
//! into 512 bytes, donor lines into 128.

use std::io::Write;

use anyhow::{Result, ensure};

use crate::exit::{Exit, fail};

/// Where protocol lines go: mariadbd's pipe, or a channel in tests.
/// Clones write to the same place, a whole line at a time.
#[derive(Debug, Clone)]
pub(crate) struct Mariadbd {
    sink: Sink,
}

#[derive(Debug, Clone)]
enum Sink {
    Stdout,
    #[cfg(test)]
    Channel(std::sync::mpsc::Sender<String>),
}

/// Donor lines must fit mariadbd's 128-byte buffer with the newline.
const DONOR_LINE_MAX: usize = 126;

/// Joiner lines must fit mariadbd's 512-byte buffer with the newline.
const JOINER_LINE_MAX: usize = 510;

impl Mariadbd {
    /// The real thing: our stdout.
    pub(crate) fn stdout() -> Mariadbd {
        Mariadbd { sink: Sink::Stdout }
    }

    /// A sink that hands every line to a channel (tests).
    #[cfg(test)]
    pub(crate) fn channel() -> (Mariadbd, std::sync::mpsc::Receiver<String>) {
        let (tx, rx) = std::sync::mpsc::channel();
        (
            Mariadbd {
                sink: Sink::Channel(tx),
            },
            rx,
        )
    }

    fn line(&mut self, line: &str, max: usize) -> Result<()> {
        ensure!(
            line.len() <= max && !line.contains(['\n', '\r', '\0']),
            "refusing to send mariadbd a malformed line of {} bytes",
            line.len()
        );
        match &self.sink {
            Sink::Stdout => {
                // This module is mariadbd's line protocol: stdout is its own.
                #[allow(clippy::disallowed_methods)]
                let mut out = std::io::stdout().lock();
                out.write_all(format!("{line}\n").as_bytes())
                    .and_then(|()| out.flush())
                    .map_err(|e| {
                        fail(
                            Exit::Pipe,
                            format!("writing to mariadbd (stdout) failed: {e}; mariadbd is gone"),
                        )
                    })
            }
            #[cfg(test)]
            Sink::Channel(tx) => {
                // A test that stopped listening does not care.
                let _ = tx.send(line.to_string());
                Ok(())
            }
        }
    }

    /// Joiner: the listener is up; `addr` goes into the SST request.
    pub(crate) fn ready(&mut self, addr: &str) -> Result<()> {
        self.line(&format!("ready {addr}"), JOINER_LINE_MAX)
    }

    /// Joiner: the final line, `UUID:seqno domain_id`.
    pub(crate) fn state(&mut self, state: &str) -> Result<()> {
        self.line(state, JOINER_LINE_MAX)
    }

    /// Either side, with `--progress 1`: the size of the work ahead.
    pub(crate) fn total(&mut self, units: u64) -> Result<()> {
        self.line(&format!("total {units}"), DONOR_LINE_MAX)
    }

    /// Either side, with `--progress 1`: the work done so far.
    pub(crate) fn complete(&mut self, units: u64) -> Result<()> {
        self.line(&format!("complete {units}"), DONOR_LINE_MAX)
    }

    /// Donor: ask mariadbd for FLUSH TABLES WITH READ LOCK.
    pub(crate) fn flush_tables(&mut self) -> Result<()> {
        self.line("flush tables", DONOR_LINE_MAX)
    }

    /// Donor: release the lock.
    pub(crate) fn resume(&mut self) -> Result<()> {
        self.line("continue", DONOR_LINE_MAX)
    }

    /// Donor: the state was sent.
    pub(crate) fn done(&mut self, state: &str) -> Result<()> {
        self.line(&format!("done {state}"), DONOR_LINE_MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_limits() {
        let (mut m, rx) = Mariadbd::channel();
        m.ready("localhost:ab@127.0.0.1:4444/rsrsync_sst//1")
            .expect("ready");
        m.flush_tables().expect("flush");
        m.resume().expect("continue");
        m.done("6d1f4a2c-0000-0000-0000-000000009b1e:42 0")
            .expect("done");
        let got: Vec<String> = rx.try_iter().collect();
        assert_eq!(
            got,
            [
                "ready localhost:ab@127.0.0.1:4444/rsrsync_sst//1",
                "flush tables",
                "continue",
                "done 6d1f4a2c-0000-0000-0000-000000009b1e:42 0"
            ]
        );
        assert!(
            m.done(&"x".repeat(122)).is_err(),
            "donor line over 126 bytes"
        );
        assert!(m.state("a\nb").is_err(), "embedded newline");
    }
}
