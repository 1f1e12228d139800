//! The SST sequence of each role, and what both roles share: the
//! `wsrep_sst.pid` handshake with a previous SST (`pidfile`), the state
//! line, keeping the control connection alive during long local work, and
//! reporting a round's progress (`reporter`: the only way a transfer's
//! progress reaches mariadbd).

use std::fs::File;
use std::io::{ErrorKind, Read};
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc;

use anyhow::Result;

use crate::cli::Role;
use crate::config::Settings;
use crate::exit::{Exit, fail};
use crate::net::{Connection, KEEPALIVE, Transport};
use crate::parent::{self, Process};
use crate::progress::Progress;
use crate::signals::Stop;
use crate::sst_io::Mariadbd;

mod acceptor;
mod binlogs;
pub(crate) mod donor;
#[cfg(test)]
mod e2e_tests;
#[cfg(test)]
mod hostile_tests;
mod joiner;
mod oracle;
pub(crate) mod pidfile;
mod priority;
mod rate;
mod reporter;
#[cfg(test)]
mod test_support;

/// What a role moved: per round, bytes sent and bytes the joiner already
/// held (so not sent); the last round's files; the time since the first
/// round began; the donor's lock time. Empty for an IST.
#[derive(Debug, Default)]
pub(crate) struct Report {
    pub(crate) rounds: Vec<(u64, u64)>,
    /// Bytes compression kept off the wire (donor).
    pub(crate) saved: u64,
    files: u64,
    secs: f64,
    lock: Option<f64>,
}

impl Report {
    fn of(rounds: &[Arc<Progress>], lock: Option<f64>) -> Report {
        Report {
            rounds: rounds.iter().map(|p| (p.bytes(), p.kept())).collect(),
            saved: rounds.iter().map(|p| p.saved()).sum(),
            files: rounds.last().map_or(0, |p| p.files()),
            secs: rounds.first().map_or(0.0, |p| p.elapsed()),
            lock,
        }
    }

    /// The closing log line: bytes sent in all rounds, the last round's
    /// files and bytes already in place (with, after a live round, how many
    /// of them the joiner had before the SST: the delta's savings), time,
    /// rate, lock time.
    fn summary(&self) -> Option<String> {
        let &(_, kept) = self.rounds.last()?;
        let before = match self.rounds.as_slice() {
            [(_, first), _, ..] => format!(" ({first} of them before the SST)"),
            _ => String::new(),
        };
        let bytes: u64 = self.rounds.iter().map(|r| r.0).sum();
        let rate = if self.secs > 0.0 {
            bytes as f64 / self.secs / (1024.0 * 1024.0)
        } else {
            0.0
        };
        let lock = self
            .lock
            .map(|l| format!(", donor lock held {l:.3} s"))
            .unwrap_or_default();
        let saved = if self.saved > 0 {
            format!(", {} bytes saved by compression", self.saved)
        } else {
            String::new()
        };
        Some(format!(
            "Transfer summary: {bytes} bytes, {} files in {:.3} s ({rate:.1} MiB/s), \
             {kept} bytes already in place{before}{saved}{lock}",
            self.files, self.secs
        ))
    }
}

/// Runs the role `settings` asks for; watches mariadbd meanwhile.
pub(crate) fn run(settings: &Settings, stop: &Arc<Stop>, out: &mut Mariadbd) -> Result<()> {
    let server = match settings.role {
        Role::Joiner => match settings.parent {
            Some(pid) => Some(Process::find(pid).ok_or_else(|| {
                fail(
                    Exit::Pipe,
                    format!("Parent mysqld process (PID: {pid}) terminated unexpectedly."),
                )
            })?),
            None => None,
        },
        Role::Donor => Process::donor_server(),
    };
    match server {
        Some(server) => parent::watch(server, Arc::clone(stop)),
        None => log::warn!("no mariadbd process to watch; relying on timeouts"),
    }
    match settings.role {
        Role::Joiner => joiner::run(settings, stop, out),
        Role::Donor => donor::run(settings, stop, out),
    }
    .map(|report| {
        if let Some(line) = report.summary() {
            log::info!("{line}");
        }
    })
}

/// Removes a file; a missing file is fine, other failures are logged.
fn remove_quietly(path: &Path) {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => log::warn!("cannot remove {}: {e}", path.display()),
    }
}

/// Reads a small text file (pid files, `tables_flushed`); at most 4 KiB.
fn read_small(path: &Path) -> std::io::Result<String> {
    let mut text = String::new();
    File::open(path)?.take(4096).read_to_string(&mut text)?;
    Ok(text)
}

/// Whether a line is a state line mariadbd accepts: `UUID:seqno`, then
/// optionally a space and the domain id; printable ASCII, short enough
/// for the donor's `done` line.
pub(crate) fn is_state_line(line: &str) -> bool {
    let (head, rest) = line.split_once(' ').unwrap_or((line, ""));
    let Some((uuid, seqno)) = head.split_once(':') else {
        return false;
    };
    let seqno = seqno.strip_prefix('-').unwrap_or(seqno);
    line.len() <= 120
        && uuid.len() == 36
        && uuid.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
        && !seqno.is_empty()
        && seqno.bytes().all(|b| b.is_ascii_digit())
        && rest.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
}

/// Runs `work` on another thread while this one keeps `control` alive,
/// so the peer's inactivity timeout does not fire during a long local step.
fn with_keepalive<T: Send>(
    control: &mut Connection<Transport>,
    work: impl FnOnce() -> Result<T> + Send,
) -> Result<T> {
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::channel();
        scope.spawn(move || {
            // The receiver waits in this scope until the result arrives.
            let _ = tx.send(work());
        });
        loop {
            match rx.recv_timeout(KEEPALIVE) {
                Ok(result) => return result,
                Err(mpsc::RecvTimeoutError::Timeout) => control.keepalive()?,
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    anyhow::bail!("a worker thread ended without a result")
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_tells_delta_savings_from_the_locked_round() {
        let report = |rounds: Vec<(u64, u64)>| Report {
            rounds,
            saved: 0,
            files: 3,
            secs: 2.0,
            lock: Some(0.25),
        };
        let two = report(vec![(900, 100), (10, 990)]).summary().expect("line");
        assert!(
            two.starts_with("Transfer summary: 910 bytes, 3 files in 2.000 s")
                && two.ends_with(
                    "990 bytes already in place (100 of them before the SST), \
                     donor lock held 0.250 s"
                ),
            "{two}"
        );
        let one = report(vec![(900, 100)]).summary().expect("line");
        assert!(
            one.ends_with("100 bytes already in place, donor lock held 0.250 s"),
            "{one}"
        );
        assert_eq!(report(vec![]).summary(), None);
    }

    #[test]
    fn state_lines() {
        for good in [
            "6d1f4a2c-1111-2222-3333-444455556666:42 0",
            "6d1f4a2c-1111-2222-3333-444455556666:-1",
            "6D1F4A2C-1111-2222-3333-444455556666:7 100",
        ] {
            assert!(is_state_line(good), "{good}");
        }
        for bad in [
            "",
            "done",
            "6d1f4a2c:42 0",
            "6d1f4a2c-1111-2222-3333-444455556666:",
            "6d1f4a2c-1111-2222-3333-444455556666:4x",
            "6d1f4a2c-1111-2222-3333-444455556666:4 \t",
        ] {
            assert!(!is_state_line(bad), "{bad:?}");
        }
    }
}
