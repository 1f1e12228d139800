//! The operator's command line, told apart from mariadbd's.
//!
//! mariadbd never passes `check`, `--help`, `--version` or `--dry-run`, so
//! their presence (as the first word, or as an option before
//! `--mysqld-args`) makes this an operator's run. Everything else is
//! mariadbd's and goes to [`crate::cli`] untouched. Unlike mariadbd's
//! lenient options, an operator's unknown option is an error: a typo must
//! not silently check something else.

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;

use crate::config::DefaultsOptions;
use crate::config::rlimit::binary_suffix;
use crate::exit::{Exit, fail};

/// What this run is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Command {
    /// mariadbd's SST invocation.
    Sst,
    /// `--help`; `check --help` shows the check part only.
    Help {
        check: bool,
    },
    Version,
    Check(CheckArgs),
    DryRun(DryRunArgs),
}

/// `check`'s options.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CheckArgs {
    pub(crate) defaults: DefaultsOptions,
    pub(crate) datadir: Option<PathBuf>,
    /// The joiner's SST address to try to bind (`host[:port]`).
    pub(crate) address: Option<String>,
    /// Another node running `check --listen` (`host[:port]`).
    pub(crate) peer: Option<String>,
    /// Answer one probe from another node's `check --peer`.
    pub(crate) listen: bool,
    pub(crate) json: bool,
    /// How long `--listen` waits for a probe and `--peer` for an answer.
    pub(crate) timeout: Duration,
}

/// Default wait of `--listen` and `--peer`.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// `--dry-run`'s options, and mariadbd's own arguments without them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DryRunArgs {
    pub(crate) sst_args: Vec<OsString>,
    /// `--rate`: bytes per second to estimate the time with.
    pub(crate) rate: Option<u64>,
    pub(crate) json: bool,
}

fn usage(message: String) -> anyhow::Error {
    fail(
        Exit::Invalid,
        format!("{message} (see 'wsrep_sst_rsrsync --help')"),
    )
}

/// Tells an operator's run from mariadbd's and parses the former.
pub(crate) fn command(args: &[OsString]) -> Result<Command> {
    if args.first().is_some_and(|a| a == "check") {
        return check(&args[1..]);
    }
    let own = args
        .iter()
        .position(|a| a == "--mysqld-args")
        .unwrap_or(args.len());
    let options = &args[..own];
    let has = |names: &[&str]| options.iter().any(|a| names.iter().any(|n| a == *n));
    if has(&["--help", "-h"]) {
        return Ok(Command::Help { check: false });
    }
    if has(&["--version", "-V"]) {
        return Ok(Command::Version);
    }
    if !has(&["--dry-run"]) {
        return Ok(Command::Sst);
    }
    let mut sst_args = Vec::new();
    let (mut rate, mut json) = (None, false);
    let mut words = options.iter();
    while let Some(word) = words.next() {
        match split(word) {
            ("--dry-run", None) => {}
            ("--json", None) => json = true,
            ("--rate", inline) => {
                let text = value("--rate", inline, &mut words)?;
                rate = Some(parse_rate(&text)?);
            }
            _ => sst_args.push(word.clone()),
        }
    }
    sst_args.extend(args[own..].iter().cloned());
    Ok(Command::DryRun(DryRunArgs {
        sst_args,
        rate,
        json,
    }))
}

fn check(args: &[OsString]) -> Result<Command> {
    let mut out = CheckArgs {
        defaults: DefaultsOptions::default(),
        datadir: None,
        address: None,
        peer: None,
        listen: false,
        json: false,
        timeout: DEFAULT_TIMEOUT,
    };
    let mut words = args.iter();
    while let Some(word) = words.next() {
        let (name, inline) = split(word);
        let take = |name: &str| value(name, inline, &mut words);
        match name {
            "--help" | "-h" => return Ok(Command::Help { check: true }),
            "--json" => out.json = true,
            "--listen" => out.listen = true,
            "--defaults-file" => out.defaults.file = Some(take(name)?.into()),
            "--defaults-extra-file" => out.defaults.extra_file = Some(take(name)?.into()),
            "--defaults-group-suffix" => out.defaults.group_suffix = Some(take(name)?),
            "--datadir" => out.datadir = Some(trim_dir(&take(name)?)),
            "--address" => out.address = Some(take(name)?),
            "--peer" => out.peer = Some(take(name)?),
            "--timeout" => {
                let text = take(name)?;
                let secs = text
                    .parse::<u64>()
                    .ok()
                    .filter(|s| (1..=86_400).contains(s))
                    .ok_or_else(|| {
                        usage(format!(
                            "--timeout wants seconds (1 to 86400), not '{text}'"
                        ))
                    })?;
                out.timeout = Duration::from_secs(secs);
            }
            _ => {
                return Err(usage(format!(
                    "check: unknown option '{}'",
                    word.to_string_lossy()
                )));
            }
        }
    }
    if out.listen && out.peer.is_some() {
        return Err(usage(
            "check: --listen and --peer are the two ends of one probe; run --listen on \
             one node and --peer on the other"
                .to_string(),
        ));
    }
    Ok(Command::Check(out))
}

/// `--name=value` → (`--name`, `Some(value)`); anything else whole.
fn split(word: &OsStr) -> (&str, Option<String>) {
    let Some(text) = word.to_str() else {
        return ("", None);
    };
    match text.split_once('=') {
        Some((name, value)) if name.starts_with("--") => (name, Some(value.to_string())),
        _ => (text, None),
    }
}

/// The value of option `name`: inline, else the next word.
fn value<'a>(
    name: &str,
    inline: Option<String>,
    words: &mut impl Iterator<Item = &'a OsString>,
) -> Result<String> {
    let text = match inline {
        Some(text) => text,
        None => words
            .next()
            .map(|w| w.to_string_lossy().into_owned())
            .ok_or_else(|| usage(format!("{name} needs a value")))?,
    };
    let text = text.trim().to_string();
    if text.is_empty() {
        return Err(usage(format!("{name} needs a value")));
    }
    Ok(text)
}

fn trim_dir(text: &str) -> PathBuf {
    let trimmed = text.trim_end_matches('/');
    PathBuf::from(if trimmed.is_empty() { "/" } else { trimmed })
}

/// `200M`, `1.5G`, `750MiB/s`, `1048576`: bytes per second, binary units.
pub(crate) fn parse_rate(text: &str) -> Result<u64> {
    let bad = || {
        usage(format!(
            "--rate wants bytes per second such as 200M or 1.5G (binary units), not '{text}'"
        ))
    };
    let lower = text.trim().to_ascii_lowercase();
    let lower = lower.strip_suffix("/s").unwrap_or(&lower);
    let lower = lower.strip_suffix('b').unwrap_or(lower);
    let lower = lower.strip_suffix('i').unwrap_or(lower);
    let (number, shift) = binary_suffix(lower);
    let number: f64 = number.trim().parse().map_err(|_| bad())?;
    let rate = number * (1u64 << shift) as f64;
    if !rate.is_finite() || rate < 1.0 || rate > u64::MAX as f64 {
        return Err(bad());
    }
    Ok(rate as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    fn parsed(words: &[&str]) -> Command {
        command(&argv(words)).expect("valid")
    }

    #[test]
    fn mariadbd_runs_are_left_alone() {
        for words in [
            &["--role", "joiner", "--address", "h", "--datadir", "/d"][..],
            &[],
            &[
                "--role",
                "donor",
                "--mysqld-args",
                "--help",
                "--dry-run",
                "-V",
            ],
            &["--checks", "check"],
        ] {
            assert_eq!(parsed(words), Command::Sst, "{words:?}");
        }
    }

    #[test]
    fn help_and_version() {
        assert_eq!(parsed(&["--help"]), Command::Help { check: false });
        assert_eq!(
            parsed(&["--role", "donor", "-h"]),
            Command::Help { check: false }
        );
        assert_eq!(
            parsed(&["check", "--json", "--help"]),
            Command::Help { check: true }
        );
        assert_eq!(parsed(&["--version"]), Command::Version);
        assert_eq!(parsed(&["-V"]), Command::Version);
    }

    #[test]
    fn check_options() {
        let Command::Check(c) = parsed(&[
            "check",
            "--defaults-file=/etc/my.cnf",
            "--defaults-group-suffix",
            ".2",
            "--datadir",
            "/var/lib/mysql/",
            "--peer=db2:4444",
            "--json",
            "--timeout",
            "20",
        ]) else {
            panic!("not a check");
        };
        assert_eq!(c.defaults.file, Some(PathBuf::from("/etc/my.cnf")));
        assert_eq!(c.defaults.group_suffix.as_deref(), Some(".2"));
        assert_eq!(c.datadir, Some(PathBuf::from("/var/lib/mysql")));
        assert_eq!(c.peer.as_deref(), Some("db2:4444"));
        assert!(c.json && !c.listen);
        assert_eq!(c.timeout, Duration::from_secs(20));
        let Command::Check(c) = parsed(&["check"]) else {
            panic!("not a check");
        };
        assert_eq!((c.peer, c.timeout), (None, DEFAULT_TIMEOUT));
    }

    #[test]
    fn check_refuses_what_it_does_not_know() {
        for words in [
            &["check", "--datdir", "/d"][..],
            &["check", "--datadir"],
            &["check", "--datadir", " "],
            &["check", "--timeout", "0"],
            &["check", "--listen", "--peer", "db2"],
            &["check", "stray"],
        ] {
            let err = command(&argv(words)).expect_err("usage error");
            assert_eq!(crate::exit::exit_of(&err), Some(Exit::Invalid), "{words:?}");
            assert!(
                err.to_string()
                    .ends_with("(see 'wsrep_sst_rsrsync --help')")
            );
        }
    }

    #[test]
    fn dry_run_strips_its_own_options() {
        let Command::DryRun(d) = parsed(&[
            "--role",
            "donor",
            "--dry-run",
            "--rate",
            "200M",
            "--address",
            "h",
            "--json",
            "--mysqld-args",
            "--json",
            "--rate",
        ]) else {
            panic!("not a dry run");
        };
        assert_eq!(d.rate, Some(200 << 20));
        assert!(d.json);
        assert_eq!(
            d.sst_args,
            argv(&[
                "--role",
                "donor",
                "--address",
                "h",
                "--mysqld-args",
                "--json",
                "--rate"
            ])
        );
        let err = command(&argv(&["--dry-run", "--rate", "fast"])).expect_err("bad rate");
        assert!(err.to_string().contains("not 'fast'"), "{err}");
    }

    #[test]
    fn rates() {
        for (text, want) in [
            ("200M", 200 << 20),
            ("200m", 200 << 20),
            ("1.5G", 3 << 29),
            ("750MiB/s", 750 << 20),
            ("64kb", 64 << 10),
            ("1048576", 1 << 20),
            ("1T", 1 << 40),
        ] {
            assert_eq!(parse_rate(text).expect(text), want, "{text}");
        }
        for bad in ["", "M", "0", "-5M", "0.1", "1X", "nanM", "infG"] {
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
    }
}
