//! The donor's rate limit (`[sst] rlimit`): one [`RateLimit`] shared by
//! the control connection and every data connection, enabled for the
//! rounds it applies to: the live ones; the locked one with
//! `rlimit-lock=on`, else only once the lock is released (the sending of
//! clones and of what is still in flight), so that the lock is never
//! stretched by default. And the log lines that say which limit applies
//! and what rate the limited rounds reached on the wire.

use std::sync::Arc;

use crate::config::{Settings, rlimit};
use crate::net::{Measured, RateLimit};

/// The limit of one donor run; without `rlimit`, nothing.
pub(super) struct DonorLimit<'a> {
    settings: &'a Settings,
    limit: Option<Arc<RateLimit>>,
}

impl DonorLimit<'_> {
    pub(super) fn new(settings: &Settings) -> DonorLimit<'_> {
        DonorLimit {
            settings,
            limit: settings.rlimit.as_ref().map(|r| RateLimit::new(r.rate)),
        }
    }

    /// Logs which limit applies, if any.
    pub(super) fn announce(&self) {
        let settings = self.settings;
        if let Some(rlimit) = &settings.rlimit {
            log::info!(
                "{}",
                rlimit.describe(settings.short_lock, settings.rlimit_lock)
            );
        }
    }

    /// What each connection's stream pays ([`TimedStream::limited`]).
    ///
    /// [`TimedStream::limited`]: crate::net::TimedStream::limited
    pub(super) fn wire(&self) -> Option<Arc<RateLimit>> {
        self.limit.clone()
    }

    /// Starts a round (`live`: outside the lock): the limit holds from
    /// now when it applies to the round, else from [`unlocked`], and
    /// until the returned guard is dropped.
    ///
    /// [`unlocked`]: DonorLimit::unlocked
    pub(super) fn round(&self, live: bool) -> RoundLimit<'_> {
        self.set_enabled(live || self.settings.rlimit_lock);
        RoundLimit(self)
    }

    /// The lock is released: the rest of the round keeps to the limit.
    pub(super) fn unlocked(&self) {
        self.set_enabled(true);
    }

    fn set_enabled(&self, on: bool) {
        if let Some(limit) = &self.limit {
            limit.set_enabled(on);
        }
    }

    /// Logs the average rate the limited rounds reached on the wire.
    pub(super) fn report(&self) {
        if let Some(limit) = &self.limit {
            log::info!("{}", measured_line(limit.measured(), limit.rate()));
        }
    }
}

/// The limit of one round: off again when dropped.
pub(super) struct RoundLimit<'a>(&'a DonorLimit<'a>);

impl Drop for RoundLimit<'_> {
    fn drop(&mut self) {
        self.0.set_enabled(false);
    }
}

/// `rate limit: the limited rounds wrote N bytes to the wire in S s: R MiB/s (limit L)`.
fn measured_line(measured: Measured, rate: u64) -> String {
    let limit = rlimit::per_second(rate);
    match measured.rate() {
        Some(achieved) => format!(
            "rate limit: the limited rounds wrote {} bytes to the wire in {:.3} s: {:.2} MiB/s \
             (limit {limit})",
            measured.bytes,
            measured.secs,
            achieved / (1024.0 * 1024.0)
        ),
        None => format!("rate limit: no round was limited (limit {limit})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_measured_line_gives_bytes_seconds_and_rate() {
        let measured = Measured {
            bytes: 100 << 20,
            secs: 10.0,
        };
        assert_eq!(
            measured_line(measured, 10 << 20),
            "rate limit: the limited rounds wrote 104857600 bytes to the wire in 10.000 s: \
             10.00 MiB/s (limit 10 MiB/s)"
        );
        assert_eq!(
            measured_line(Measured::default(), 1 << 20),
            "rate limit: no round was limited (limit 1 MiB/s)"
        );
    }
}
