//! The stderr logger: `WSREP_SST: [LEVEL] message (YYYYMMDD HH:MM:SS.mmm)`.
//!
//! mariadbd copies the script's stderr into its error log verbatim, and the
//! mtr tests grep it, so the shape is the stock scripts' `wsrep_log` shape:
//! local time with milliseconds, one line per message. Multi-line messages
//! are folded so that every physical line keeps the `WSREP_SST:` prefix.

use std::io::Write;

use log::{Level, LevelFilter, Log, Metadata, Record};

#[derive(Debug)]
struct SstLogger {
    level: LevelFilter,
}

impl Log for SstLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= self.level
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let line = format_line(record.level(), &record.args().to_string(), &timestamp());
        // One write per message so lines from threads do not interleave;
        // a failed write to stderr has nowhere else to be reported.
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }

    fn flush(&self) {
        let _ = std::io::stderr().flush();
    }
}

/// Installs the logger; `debug` adds debug-level lines. Safe to call twice
/// (tests call `run` repeatedly in one process): the first call wins.
pub fn init(debug: bool) {
    let level = if debug {
        LevelFilter::Debug
    } else {
        LevelFilter::Info
    };
    if log::set_boxed_logger(Box::new(SstLogger { level })).is_ok() {
        log::set_max_level(level);
    }
}

fn level_word(level: Level) -> &'static str {
    match level {
        Level::Error => "ERROR",
        Level::Warn => "WARNING",
        Level::Info => "INFO",
        Level::Debug | Level::Trace => "DEBUG",
    }
}

fn format_line(level: Level, message: &str, stamp: &str) -> String {
    let word = level_word(level);
    let mut out = String::with_capacity(message.len() + 48);
    for part in message.trim_end().split('\n') {
        out.push_str("WSREP_SST: [");
        out.push_str(word);
        out.push_str("] ");
        out.push_str(part.trim_end_matches('\r'));
        out.push_str(" (");
        out.push_str(stamp);
        out.push_str(")\n");
    }
    out
}

/// Local time as `YYYYMMDD HH:MM:SS.mmm`, like `date '+%Y%m%d %H:%M:%S.%3N'`.
fn timestamp() -> String {
    chrono::Local::now()
        .format("%Y%m%d %H:%M:%S%.3f")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_has_the_scripts_shape() {
        assert_eq!(
            format_line(Level::Warn, "disk almost full", "20261121 10:00:00.123"),
            "WSREP_SST: [WARNING] disk almost full (20261121 10:00:00.123)\n"
        );
    }

    #[test]
    fn multiline_messages_keep_the_prefix() {
        assert_eq!(
            format_line(Level::Error, "first\nsecond\n", "T"),
            "WSREP_SST: [ERROR] first (T)\nWSREP_SST: [ERROR] second (T)\n"
        );
    }

    #[test]
    fn timestamp_shape() {
        let t = timestamp();
        assert_eq!(t.len(), "20261121 10:00:00.123".len(), "{t}");
        assert_eq!(&t[8..9], " ");
        assert_eq!(&t[17..18], ".");
    }
}
