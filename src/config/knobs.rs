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
const SWITCHES: [(&str, &[&str]); 5] = [
    ("rsrsync-lock", &["short", "full"]),
    ("rsrsync-snapshot", &["auto", "off"]),
    ("rsrsync-delta", &["on", "off"]),
    ("rsrsync-compress", &["none", "lz4", "zstd"]),
    ("rlimit-lock", &["off", "on"]),
];

/// Upper bound on data streams, whatever the configuration says.
const MAX_STREAMS: usize = 64;

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

    /// `backup-threads`: the donor's data streams, one per core by
    /// default, within 1 and [`MAX_STREAMS`].
    pub(super) fn streams(&mut self) -> usize {
        let key = "backup-threads";
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let (wanted, source) =
            self.number("--mysqld|sst", key, cores as i64, "the number of cores");
        let source = match source {
            Source::Default => Source::Derived("default (number of cores)".into()),
            other => other,
        };
        let streams = wanted.clamp(1, MAX_STREAMS as i64) as usize;
        self.values
            .push(Value::new(key, streams.to_string(), source));
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
    pub(super) fn switches(&mut self) -> [&'static str; 5] {
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
