//! `[sst] rlimit` (the donor's cap on its send rate, in the syntax of the
//! mariabackup method, which hands it to `pv -L`) and `rlimit-lock`
//! (whether the cap holds under FLUSH TABLES WITH READ LOCK too).

use super::Config;
use super::source::{Problem, Severity, Source, Value};
use crate::exit::Exit;

/// The cap a donor keeps to, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rlimit {
    /// Bytes a second, on the wire (above 0).
    pub(crate) rate: u64,
    /// The value as written (`10m`).
    pub(crate) value: String,
    /// Where it was written (`/etc/mysql/my.cnf:12 [sst]`).
    pub(crate) source: Source,
}

impl Rlimit {
    /// Reads `rlimit` from `[sst]`: `None` when absent or 0; a value that
    /// is not a rate (empty included) is a problem that stops the SST,
    /// naming its line.
    pub(crate) fn resolve(config: &Config) -> Result<Option<Rlimit>, Problem> {
        let value = match config.get("sst", "rlimit") {
            Some(value) => value,
            None if config.present("sst", "rlimit") => String::new(),
            None => return Ok(None),
        };
        let source = Source::of(config, "sst", "rlimit");
        let Some(rate) = parse(&value) else {
            return Err(Problem::new(
                "rlimit",
                Severity::Stop(Exit::Invalid),
                format!(
                    "[sst] rlimit={value} ({source}) is not a rate: give bytes per second as a \
                     whole number with an optional k, m, g or t suffix (powers of 1024), such \
                     as rlimit=10m, or 0 for no limit"
                ),
                "fix it in my.cnf",
            ));
        };
        Ok((rate > 0).then_some(Rlimit {
            rate,
            value,
            source,
        }))
    }

    /// The log line saying which limit applies where.
    pub(crate) fn describe(&self, short_lock: bool, under_lock: bool) -> String {
        format!(
            "rate limit {} (rlimit={} from {}), {}",
            per_second(self.rate),
            self.value,
            self.source,
            scope(short_lock, under_lock)
        )
    }

    /// The `rlimit` row of the settings: `limit` as resolved.
    pub(crate) fn row(
        config: &Config,
        limit: Option<&Rlimit>,
        short_lock: bool,
        under_lock: bool,
    ) -> Value {
        let shown = match limit {
            Some(limit) => format!(
                "{} ({} bytes/s), {}",
                per_second(limit.rate),
                limit.rate,
                scope(short_lock, under_lock)
            ),
            None => "0 (no limit)".to_string(),
        };
        Value::new("rlimit", shown, Source::of(config, "sst", "rlimit"))
    }
}

/// Where a limit applies: `short_lock` is `rsrsync-lock=short`,
/// `under_lock` `rlimit-lock=on`.
pub(crate) fn scope(short_lock: bool, under_lock: bool) -> &'static str {
    match (under_lock, short_lock) {
        (true, _) => "under the lock too (rlimit-lock=on)",
        (false, true) => "not under the lock",
        (false, false) => {
            "not under the lock, and with rsrsync-lock=full the whole copy is under it: \
             nothing is limited (set rlimit-lock=on to limit it)"
        }
    }
}

/// `10m` → 10 MiB: a whole number with an optional `k`, `m`, `g` or `t`
/// (any case, powers of 1024), as `pv -L` reads it; `None` for anything
/// else, a sign, a fraction or an overflow included.
pub(crate) fn parse(text: &str) -> Option<u64> {
    let lower = text.to_ascii_lowercase();
    let (digits, shift) = binary_suffix(&lower);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(1 << shift)
}

/// `lower` (lower case) split into its number and the power of two its
/// `k`, `m`, `g` or `t` suffix stands for (0 without one).
pub(crate) fn binary_suffix(lower: &str) -> (&str, u32) {
    let shift = match lower.as_bytes().last() {
        Some(b'k') => 10,
        Some(b'm') => 20,
        Some(b'g') => 30,
        Some(b't') => 40,
        _ => return (lower, 0),
    };
    (&lower[..lower.len() - 1], shift)
}

/// A rate in the largest binary unit that divides it: `10 MiB/s`,
/// `1500 KiB/s`, `12345 B/s`.
pub(crate) fn per_second(rate: u64) -> String {
    let units = [(40, "TiB"), (30, "GiB"), (20, "MiB"), (10, "KiB")];
    units
        .iter()
        .find(|(shift, _)| rate >= 1 << shift && rate % (1 << shift) == 0)
        .map_or_else(
            || format!("{rate} B/s"),
            |(shift, unit)| format!("{} {unit}/s", rate >> shift),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolved(cnf: &str) -> Result<Option<Rlimit>, Problem> {
        let config = Config::from_cnf_bytes(cnf.as_bytes(), None).expect("cnf");
        Rlimit::resolve(&config)
    }

    #[test]
    fn rates_as_pv_reads_them() {
        for (text, want) in [
            ("0", 0),
            ("1", 1),
            ("12345", 12345),
            ("10k", 10 << 10),
            ("10K", 10 << 10),
            ("10m", 10 << 20),
            ("10M", 10 << 20),
            ("2g", 2 << 30),
            ("2G", 2 << 30),
            ("1t", 1 << 40),
            ("007m", 7 << 20),
            ("18446744073709551615", u64::MAX),
        ] {
            assert_eq!(parse(text), Some(want), "{text}");
        }
        for bad in [
            "",
            "fast",
            "10x",
            "m",
            "-1",
            "-1m",
            "+5",
            "1.5m",
            "10 m",
            " 10m",
            "10mb",
            "10mm",
            "1e6",
            "0x10",
            "16777216t",
            "18446744073709551616",
            "99999999999999999999g",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn units_divide_exactly() {
        assert_eq!(per_second(10 << 20), "10 MiB/s");
        assert_eq!(per_second(1500 << 10), "1500 KiB/s");
        assert_eq!(per_second(3 << 30), "3 GiB/s");
        assert_eq!(per_second(12345), "12345 B/s");
        assert_eq!(per_second(1), "1 B/s");
    }

    #[test]
    fn absent_or_zero_is_no_limit() {
        assert_eq!(resolved("").expect("fine"), None);
        assert_eq!(resolved("[sst]\nrlimit=0\n").expect("fine"), None);
        assert_eq!(resolved("[mysqld]\nrlimit=10m\n").expect("fine"), None);
    }

    #[test]
    fn a_rate_names_its_line() {
        let limit = resolved("[sst]\nrlimit=1m\n\nrlimit = 10M\n")
            .expect("fine")
            .expect("a limit");
        assert_eq!(limit.rate, 10 << 20);
        assert_eq!(limit.value, "10M");
        assert_eq!(limit.source.to_string(), "<test my.cnf>:4 [sst]");
        assert_eq!(
            limit.describe(true, false),
            "rate limit 10 MiB/s (rlimit=10M from <test my.cnf>:4 [sst]), not under the lock"
        );
        assert!(limit.describe(false, false).contains("nothing is limited"));
        assert!(
            limit
                .describe(false, true)
                .ends_with("under the lock too (rlimit-lock=on)")
        );
    }

    #[test]
    fn bad_values_are_exit_22_and_name_their_line() {
        for (cnf, value, line) in [
            ("[sst]\nrlimit=fast\n", "fast", 2),
            ("[sst]\n# slow down\nrlimit=10x\n", "10x", 3),
            ("[sst]\nrlimit=\n", "", 2),
            ("[sst]\nrlimit\n", "", 2),
            ("[sst]\nrlimit=-5m\n", "-5m", 2),
            (
                "[sst]\nrlimit=99999999999999999999g\n",
                "99999999999999999999g",
                2,
            ),
        ] {
            let problem = resolved(cnf).expect_err(cnf);
            assert_eq!(problem.severity, Severity::Stop(Exit::Invalid), "{cnf}");
            let text = problem.message;
            assert!(
                text.starts_with(&format!(
                    "[sst] rlimit={value} (<test my.cnf>:{line} [sst]) is not a rate"
                )),
                "{text}"
            );
        }
    }
}
