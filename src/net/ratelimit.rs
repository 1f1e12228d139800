//! A cap on the bytes one side writes to its sockets, shared by all of
//! its connections (`[sst] rlimit`).
//!
//! Every [`TimedStream`](super::TimedStream) given the same [`RateLimit`]
//! pays for what it wrote to its TCP socket, so the cap counts what goes
//! on the wire, TLS records and compressed blocks as they are, and holds
//! for the sum of all streams. The bucket lets at most [`BURST`] worth of
//! bytes (or one write) ahead of the rate, so any window of a few seconds
//! sees the rate within a percent or two.
//!
//! The limit applies only while enabled ([`RateLimit::set_enabled`], e.g.
//! for the rounds outside the read lock); it also measures the bytes and
//! the time it was enabled for, to report the rate it achieved.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// How far ahead of the rate the bucket lets writes go.
pub(crate) const BURST: Duration = Duration::from_millis(50);

/// The most one write passes to the socket while limited: a write waits
/// for no more than this much of the rate at once.
const MAX_CHUNK: usize = 256 << 10;

/// A shared limit of `rate` bytes a second.
#[derive(Debug)]
pub(crate) struct RateLimit {
    rate: u64,
    state: Mutex<State>,
}

/// The bucket and the meter, behind one lock.
#[derive(Debug)]
struct State {
    bucket: Bucket,
    /// When the current enabled period began; `None` while disabled.
    since: Option<Instant>,
    meter: Measured,
}

/// What went through the limit while it was enabled.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Measured {
    pub(crate) bytes: u64,
    pub(crate) secs: f64,
}

impl Measured {
    /// Bytes per second, if any time was measured.
    pub(crate) fn rate(&self) -> Option<f64> {
        (self.secs > 0.0).then(|| self.bytes as f64 / self.secs)
    }
}

impl RateLimit {
    /// A limit of `rate` bytes a second (at least 1), disabled until
    /// [`set_enabled`](RateLimit::set_enabled).
    pub(crate) fn new(rate: u64) -> Arc<RateLimit> {
        let rate = rate.max(1);
        Arc::new(RateLimit {
            rate,
            state: Mutex::new(State {
                bucket: Bucket::new(rate, Instant::now()),
                since: None,
                meter: Measured::default(),
            }),
        })
    }

    /// Bytes a second.
    pub(crate) fn rate(&self) -> u64 {
        self.rate
    }

    /// Enables or disables the limit; enabling a disabled one starts its
    /// bucket empty of debt and of saved credit. Idempotent.
    pub(crate) fn set_enabled(&self, on: bool) {
        let mut state = self.lock();
        let now = Instant::now();
        match (on, state.since) {
            (true, None) => {
                state.bucket.restart(now);
                state.since = Some(now);
            }
            (false, Some(since)) => {
                state.meter.secs += (now - since).as_secs_f64();
                state.since = None;
            }
            _ => {}
        }
    }

    /// What passed while enabled, so far (periods still open included).
    pub(crate) fn measured(&self) -> Measured {
        let state = self.lock();
        let open = state.since.map_or(0.0, |t| t.elapsed().as_secs_f64());
        Measured {
            secs: state.meter.secs + open,
            ..state.meter
        }
    }

    /// How much of `wanted` bytes a stream may write at once: a burst's
    /// worth while enabled, everything while not.
    pub(crate) fn chunk(&self, wanted: usize) -> usize {
        if self.lock().since.is_none() {
            return wanted;
        }
        let per_burst = (self.rate as u128 * BURST.as_millis() / 1000) as usize;
        wanted.min(per_burst.clamp(1, MAX_CHUNK))
    }

    /// Accounts for `n` bytes just written and, while enabled, sleeps
    /// until the rate allows them.
    pub(crate) fn pay(&self, n: usize) {
        let wait = {
            let mut state = self.lock();
            if state.since.is_none() {
                return;
            }
            state.meter.bytes += n as u64;
            state.bucket.take(n as u64, Instant::now())
        };
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state stays consistent whatever a panicking holder did.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A token bucket kept as the time the bytes paid for so far may all have
/// gone (a virtual clock, GCRA): a write may go once that time is at most
/// [`BURST`] ahead of now; idle time earns no credit beyond it.
#[derive(Debug)]
struct Bucket {
    rate: u64,
    /// When everything paid for so far is due.
    due: Instant,
}

impl Bucket {
    fn new(rate: u64, now: Instant) -> Bucket {
        Bucket { rate, due: now }
    }

    fn restart(&mut self, now: Instant) {
        self.due = now;
    }

    /// Pays for `n` bytes at `now`; returns how long to wait before the
    /// next byte may go.
    fn take(&mut self, n: u64, now: Instant) -> Duration {
        let cost = Duration::from_secs_f64(n as f64 / self.rate as f64);
        self.due = self.due.max(now) + cost;
        self.due.saturating_duration_since(now + BURST)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes `total` bytes in `write`-byte pieces through a bucket of
    /// `rate` on a fake clock that advances only by the waits (and `gap`
    /// per write); returns the clock's time.
    fn drain(rate: u64, total: u64, write: u64, gap: Duration) -> Duration {
        let start = Instant::now();
        let mut bucket = Bucket::new(rate, start);
        let mut now = start;
        let mut sent = 0;
        while sent < total {
            let n = write.min(total - sent);
            now += bucket.take(n, now) + gap;
            sent += n;
        }
        now - start
    }

    #[test]
    fn the_bucket_holds_the_rate_within_a_burst() {
        let rate = 10 << 20;
        for write in [1 << 10, 64 << 10, 256 << 10] {
            let total = 50 << 20;
            let took = drain(rate, total, write, Duration::ZERO).as_secs_f64();
            let ideal = total as f64 / rate as f64;
            // The last write's wait ends BURST before its bytes are due.
            assert!(
                took >= ideal - BURST.as_secs_f64() - 1e-3 && took <= ideal + 1e-3,
                "{write}: {took} s for {ideal} s"
            );
        }
    }

    #[test]
    fn idle_time_earns_no_more_than_a_burst() {
        let rate = 1 << 20;
        let start = Instant::now();
        let mut bucket = Bucket::new(rate, start);
        let later = start + Duration::from_secs(60);
        // A burst's worth goes at once after a minute of silence...
        assert!(bucket.take(rate / 20, later).is_zero());
        // ...and what follows waits for the rate again.
        let wait = bucket.take(rate, later);
        assert!(wait >= Duration::from_millis(990), "{wait:?}");
    }

    #[test]
    fn slow_writers_are_not_held_back() {
        // A writer slower than the rate never waits.
        let rate = 1 << 20;
        let took = drain(rate, 1 << 20, 1 << 10, Duration::from_millis(2));
        assert!(
            took >= Duration::from_secs(2),
            "only its own gaps: {took:?}"
        );
        let start = Instant::now();
        let mut bucket = Bucket::new(rate, start);
        assert!(
            bucket
                .take(1 << 10, start + Duration::from_secs(1))
                .is_zero()
        );
    }

    #[test]
    fn chunks_are_a_burst_at_most_while_enabled() {
        let chunk = |rate, wanted| {
            let limit = RateLimit::new(rate);
            limit.set_enabled(true);
            limit.chunk(wanted)
        };
        assert_eq!(chunk(10 << 20, 1 << 20), 256 << 10);
        assert_eq!(chunk(100 << 10, 1 << 20), 5120);
        assert_eq!(chunk(100 << 10, 100), 100);
        assert_eq!(chunk(1, 1 << 20), 1);
        assert_eq!(
            RateLimit::new(100 << 10).chunk(1 << 20),
            1 << 20,
            "disabled"
        );
        assert_eq!(RateLimit::new(0).rate(), 1);
    }

    #[test]
    fn real_writes_take_at_least_the_rate_and_are_measured() {
        let limit = RateLimit::new(2 << 20);
        let total: u64 = 600 << 10;
        let started = Instant::now();
        limit.set_enabled(true);
        let mut sent = 0;
        while sent < total {
            let n = limit.chunk((total - sent) as usize);
            limit.pay(n);
            sent += n as u64;
        }
        limit.set_enabled(false);
        limit.set_enabled(false); // idempotent: the period counts once
        let took = started.elapsed().as_secs_f64();
        let floor = total as f64 / (2 << 20) as f64 - BURST.as_secs_f64();
        assert!(took >= floor, "{took} s, at least {floor} s");
        let measured = limit.measured();
        assert_eq!(measured.bytes, total);
        assert!(measured.secs >= floor && measured.secs <= took + 1e-3);
        // Disabled: nothing waits, nothing is counted.
        let started = Instant::now();
        limit.pay(10 << 20);
        assert!(started.elapsed() < Duration::from_secs(1));
        assert_eq!(limit.measured().bytes, total);
    }
}
