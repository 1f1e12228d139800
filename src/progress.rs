//! Progress of a running transfer: counters the streams bump, the line
//! that says how far it is, and each round's totals. Who reads the
//! counters while the streams run is the roles' business
//! (`roles::reporter`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Counters of one transfer, shared by its streams.
#[derive(Debug)]
pub(crate) struct Progress {
    role: &'static str,
    total_bytes: u64,
    total_files: u64,
    bytes: AtomicU64,
    /// Bytes the joiner already held and did not need (delta).
    kept: AtomicU64,
    /// Bytes compression kept off the wire.
    saved: AtomicU64,
    files: AtomicU64,
    started: Instant,
}

const MIB: f64 = 1024.0 * 1024.0;

impl Progress {
    /// Counters for sending or receiving `total_files` files of
    /// `total_bytes` bytes; `role` names the side in log lines.
    pub(crate) fn new(role: &'static str, total_bytes: u64, total_files: u64) -> Arc<Progress> {
        Arc::new(Progress {
            role,
            total_bytes,
            total_files,
            bytes: AtomicU64::new(0),
            kept: AtomicU64::new(0),
            saved: AtomicU64::new(0),
            files: AtomicU64::new(0),
            started: Instant::now(),
        })
    }

    /// File bytes that went over the wire.
    pub(crate) fn add_bytes(&self, n: u64) {
        self.bytes.fetch_add(n, Ordering::Relaxed);
    }

    /// File bytes that did not travel: the joiner had them already.
    pub(crate) fn add_kept(&self, n: u64) {
        self.kept.fetch_add(n, Ordering::Relaxed);
    }

    /// One more file complete.
    pub(crate) fn add_file(&self) {
        self.files.fetch_add(1, Ordering::Relaxed);
    }

    /// Bytes of the whole transfer.
    pub(crate) fn total_bytes(&self) -> u64 {
        self.total_bytes
    }

    /// Bytes so far.
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Bytes compression kept off the wire.
    pub(crate) fn add_saved(&self, n: u64) {
        self.saved.fetch_add(n, Ordering::Relaxed);
    }

    /// Bytes compression kept off the wire, so far.
    pub(crate) fn saved(&self) -> u64 {
        self.saved.load(Ordering::Relaxed)
    }

    /// Bytes the joiner already held, so far.
    pub(crate) fn kept(&self) -> u64 {
        self.kept.load(Ordering::Relaxed)
    }

    /// Files so far.
    pub(crate) fn files(&self) -> u64 {
        self.files.load(Ordering::Relaxed)
    }

    /// Bytes of the transfer the joiner did not already hold: sent, or
    /// not sent because their file shrank or went away under a live round.
    pub(crate) fn unsettled(&self) -> u64 {
        self.total_bytes.saturating_sub(self.kept())
    }

    /// Seconds since the transfer started.
    pub(crate) fn elapsed(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// `joiner: 1.2 of 2.0 GiB (60%), 12/241 files, 310.4 MiB/s, ETA 3 s`.
    /// The ETA assumes files that are holes or already equal cost nothing,
    /// so it is an upper bound.
    pub(crate) fn line(&self) -> String {
        let secs = self.elapsed();
        let bytes = self.bytes() + self.kept.load(Ordering::Relaxed);
        let rate = if secs > 0.0 { bytes as f64 / secs } else { 0.0 };
        let percent = if self.total_bytes > 0 {
            bytes as f64 * 100.0 / self.total_bytes as f64
        } else {
            100.0
        };
        let left = self.total_bytes.saturating_sub(bytes) as f64;
        let eta = if rate > 0.0 {
            format!("ETA {:.0} s", left / rate)
        } else {
            "ETA unknown".to_string()
        };
        format!(
            "{} progress: {:.1} of {:.1} MiB ({percent:.0}%), {}/{} files, {:.1} MiB/s, {eta}",
            self.role,
            bytes as f64 / MIB,
            self.total_bytes as f64 / MIB,
            self.files(),
            self.total_files,
            rate / MIB,
        )
    }

    /// What one round did: bytes sent, bytes already in place, files,
    /// time, rate.
    pub(crate) fn totals(&self) -> String {
        let (bytes, secs) = (self.bytes(), self.elapsed());
        let rate = if secs > 0.0 {
            bytes as f64 / secs / MIB
        } else {
            0.0
        };
        format!(
            "{bytes} bytes sent, {} bytes already in place, {} files in {secs:.3} s \
             ({rate:.1} MiB/s)",
            self.kept(),
            self.files()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_say_how_far_and_how_fast() {
        let p = Progress::new("joiner", 4 << 20, 3);
        p.add_bytes(1 << 20);
        p.add_file();
        let line = p.line();
        assert!(
            line.starts_with("joiner progress: 1.0 of 4.0 MiB (25%), 1/3 files, "),
            "{line}"
        );
        assert!(line.contains("ETA"), "{line}");
        p.add_kept(7);
        let totals = p.totals();
        assert!(
            totals.starts_with("1048576 bytes sent, 7 bytes already in place, 1 files in "),
            "{totals}"
        );
    }
}
