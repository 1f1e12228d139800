//! The numbers and switches of `[sst]` (and the two numbers the server
//! groups may set too): each read once, shown with its source, and a value
//! the SST cannot use reported as a [`Problem`] (a number that is not one
//! falls back to its default with a warning; a switch that is not one of
//! its choices stops the SST).

use std::time::Duration;

use super::Config;
use super::source::{Problem, Severity, Source, Value};
use crate::exit::Exit;

/// rsrsync's switches in `[sst]` and their values (the first is the
/// default).
const SWITCHES: [(&str, &[&str]); 7] = [
    ("rsrsync-lock", &["short", "full"]),
    ("rsrsync-snapshot", &["auto", "off"]),
    ("rsrsync-delta", &["on", "off"]),
    ("rsrsync-compress", &["none", "lz4", "zstd"]),
    ("rlimit-lock", &["off", "on"]),
    ("rsrsync-io-priority", &["idle", "normal"]),
    ("rsrsync-lock-index", &["redo", "full"]),
];

/// Upper bound on data streams, whatever the configuration says.
const MAX_STREAMS: usize = 64;

/// The round trip to the joiner worth one more data stream by default.
/// Each TCP stream's rate falls as its round trip grows, whatever the
/// link: bound by its send buffer (the kernel's tcp_wmem maximum, 4 MiB,
/// keeps about 2.5 MB in flight: 400 Mbit/s at 50 ms) and, with loss, by
/// its congestion control (cubic holds about 10 Mbit/s at 0.1% loss and
/// 50 ms). Streams in proportion to the round trip keep a WAN link as full
/// as a LAN.
const RTT_PER_STREAM: Duration = Duration::from_millis(5);

/// Most data streams the default opens for a long round trip.
const MAX_WAN_STREAMS: usize = 16;

/// How many data streams the donor opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Streams {
    /// `backup-threads` says how many: exactly that many.
    Set(usize),
    /// Unset: this many cores, and more on a long round trip.
    PerCore(usize),
}

impl Streams {
    /// The streams for a link whose round trip is `rtt`: as set, or one
    /// per core and one per [`RTT_PER_STREAM`] of the round trip, whichever
    /// is more, the latter at most [`MAX_WAN_STREAMS`].
    pub(crate) fn for_round_trip(self, rtt: Duration) -> usize {
        match self {
            Streams::Set(n) => n,
            Streams::PerCore(cores) => {
                let per_rtt = rtt.as_micros().div_ceil(RTT_PER_STREAM.as_micros());
                cores.max(per_rtt.min(MAX_WAN_STREAMS as u128) as usize)
            }
        }
    }

    /// The fewest it can be: what a loopback or LAN link gets.
    pub(crate) fn least(self) -> usize {
        match self {
            Streams::Set(n) | Streams::PerCore(n) => n,
        }
    }
}

/// Shortest inactivity timeout (`rsrsync-timeout`): a silent peer pings
/// within twice [`KEEPALIVE`](crate::net::KEEPALIVE), so anything shorter
/// could fail an SST whose peer is merely busy.
pub(super) const MIN_IDLE: Duration = Duration::from_secs(3);

/// Reads knobs from one configuration, collecting rows and problems.
pub(super) struct Knobs<'a> {
    pub(super) config: &'a Config,
    pub(super) values: &'a mut Vec<Value>,
    pub(super) problems: &'a mut Vec<Problem>,
}

impl Knobs<'_> {
    /// A whole number, its default (described as `default_shown` in the
    /// warning) when unset or not a number; with its source.
    fn number(&mut self, groups: &str, key: &str, default: i64, shown: &str) -> (i64, Source) {
        let source = Source::of(self.config, groups, key);
        let Some(text) = self.config.get(groups, key) else {
            return (default, source);
        };
        match text.parse() {
            Ok(number) => (number, source),
            Err(_) => {
                self.problems.push(Problem::new(
                    key,
                    Severity::Warn,
                    format!(
                        "{key} = {text} ({source}) is not a whole number; the SST uses {shown}"
                    ),
                    format!("set {key} to a whole number, or remove it"),
                ));
                (default, source)
            }
        }
    }

    /// `sst-max-binlogs`: how many of the newest binlogs a donor sends.
    pub(super) fn max_binlogs(&mut self) -> i64 {
        let key = "sst-max-binlogs";
        let (count, source) = self.number("--mysqld|sst", key, 1, "1");
        let shown = match count {
            n if n < 0 => format!("{n} (all)"),
            0 => "0 (none)".to_string(),
            n => n.to_string(),
        };
        self.values.push(Value::new(key, shown, source));
        count
    }

    /// `backup-threads`: the donor's data streams, as set (within 1 and
    /// [`MAX_STREAMS`]) or by default one per core, more on a long round
    /// trip (see [`Streams::for_round_trip`]).
    pub(super) fn streams(&mut self) -> Streams {
        let key = "backup-threads";
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let (wanted, source) =
            self.number("--mysqld|sst", key, cores as i64, "the number of cores");
        let (streams, source) = match source {
            Source::Default => (
                Streams::PerCore(cores),
                Source::Derived(format!(
                    "default (number of cores; on a longer round trip one per {} ms of it, \
                     at most {MAX_WAN_STREAMS})",
                    RTT_PER_STREAM.as_millis()
                )),
            ),
            other => (
                Streams::Set(wanted.clamp(1, MAX_STREAMS as i64) as usize),
                other,
            ),
        };
        self.values
            .push(Value::new(key, streams.least().to_string(), source));
        streams
    }

    /// A timeout in seconds (`[sst] key`), its default unless above 0.
    pub(super) fn seconds(&mut self, key: &str, default: u64, least: Duration) -> Duration {
        let (value, source) = self.number("sst", key, default as i64, &format!("{default} s"));
        if value <= 0 {
            self.problems.push(Problem::new(
                key,
                Severity::Warn,
                format!("{key} = {value} ({source}) is not positive; the SST uses {default} s"),
                format!("set {key} to a number of seconds above 0, or remove it"),
            ));
        }
        let secs = if value > 0 { value as u64 } else { default };
        let duration = Duration::from_secs(secs).max(least);
        self.values
            .push(Value::new(key, format!("{} s", duration.as_secs()), source));
        duration
    }

    /// The value of each of [`SWITCHES`]; one that is not among its
    /// choices is a problem that stops the SST, and its default stands
    /// in. No rows: what they mean depends on each other (see
    /// [`Knobs::switch_row`]).
    pub(super) fn switches(&mut self) -> [&'static str; 7] {
        SWITCHES.map(|(key, choices)| {
            let Some(value) = self.config.get("sst", key) else {
                return choices[0];
            };
            let lower = value.to_ascii_lowercase();
            if let Some(choice) = choices.iter().find(|c| **c == lower) {
                return choice;
            }
            let source = Source::of(self.config, "sst", key);
            self.problems.push(Problem::new(
                key,
                Severity::Stop(Exit::Invalid),
                format!(
                    "[sst] {key}={value} ({source}) is not one of {}",
                    choices.join(", ")
                ),
                "fix it in my.cnf",
            ));
            choices[0]
        })
    }

    /// The row of a switch, showing the value it has in effect.
    pub(super) fn switch_row(&mut self, key: &str, shown: &str) {
        let source = Source::of(self.config, "sst", key);
        self.values.push(Value::new(key, shown, source));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_round_trip_gets_more_streams_unless_they_are_set() {
        let ms = Duration::from_millis;
        let default = Streams::PerCore(2);
        assert_eq!(default.for_round_trip(Duration::from_micros(40)), 2);
        assert_eq!(default.for_round_trip(ms(10)), 2);
        assert_eq!(default.for_round_trip(ms(11)), 3);
        assert_eq!(default.for_round_trip(ms(50)), 10);
        assert_eq!(default.for_round_trip(Duration::from_secs(3)), 16);
        assert_eq!(Streams::PerCore(32).for_round_trip(ms(200)), 32);
        assert_eq!(Streams::Set(1).for_round_trip(ms(200)), 1);
        assert_eq!(Streams::Set(64).least(), 64);
    }
}
