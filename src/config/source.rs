//! What the resolver hands back besides the values a role runs with: each
//! value as an operator reads it, with where it came from ([`Value`],
//! [`Source`]), and what was wrong with the configuration ([`Problem`]).
//! The SST logs the problems and stops on one that stops it; `check` and
//! `--dry-run` render the same lists, so neither can say something the
//! SST does not do.

use std::fmt;

use anyhow::Error;

use super::{Config, Origin};
use crate::exit::{Exit, fail};

/// Where a resolved value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    /// A command-line option (`--datadir`).
    Option(String),
    /// An option of mariadbd's own command line, passed in `--mysqld-args`.
    ServerArgs(String),
    /// An environment variable.
    Env(String),
    /// An option file line.
    File(Origin),
    /// An option file, but the line is unknown (the readers disagreed).
    SomeFile,
    /// Nobody set it.
    Default,
    /// Computed from other settings; says how.
    Derived(String),
}

impl Source {
    /// The place of an option-file value, as far as it is known.
    pub(crate) fn file(origin: Option<&Origin>) -> Source {
        origin.map_or(Source::SomeFile, |o| Source::File(o.clone()))
    }

    /// Where the value of `key` in `groups` was written; for a key that
    /// is written but empty (so unset), where that was; [`Source::Default`]
    /// when it is not written at all.
    pub(crate) fn of(config: &Config, groups: &str, key: &str) -> Source {
        match config.lookup(groups, key) {
            Some((_, origin)) => Source::file(origin),
            None if config.present(groups, key) => Source::file(config.origin_of(groups, key)),
            None => Source::Default,
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Option(name) => write!(f, "command line ({name})"),
            Source::ServerArgs(name) => write!(f, "mariadbd's command line ({name})"),
            Source::Env(name) => write!(f, "environment ({name})"),
            Source::File(origin) => write!(f, "{origin}"),
            Source::SomeFile => f.write_str("option files (line unknown)"),
            Source::Default => f.write_str("default"),
            Source::Derived(how) => f.write_str(how),
        }
    }
}

/// One resolved value as shown to an operator, with its source. Values
/// that can be secrets are never stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Value {
    pub(crate) key: String,
    pub(crate) value: String,
    pub(crate) source: Source,
}

impl Value {
    pub(crate) fn new(key: &str, value: impl Into<String>, source: Source) -> Value {
        Value {
            key: key.to_string(),
            value: value.into(),
            source,
        }
    }
}

/// How much a [`Problem`] matters to an SST.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Severity {
    /// Worth a line in the log.
    Info,
    /// The SST goes on, with the default the message names.
    Warn,
    /// The SST stops with this exit code.
    Stop(Exit),
}

/// Something wrong with (or worth saying of) the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    /// The setting it is about (`rsrsync-lock`, `TLS`).
    pub(crate) key: String,
    pub(crate) severity: Severity,
    /// What is wrong, naming the value and its source.
    pub(crate) message: String,
    /// What the operator can do about it.
    pub(crate) fix: String,
}

impl Problem {
    pub(crate) fn new(
        key: &str,
        severity: Severity,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) -> Problem {
        Problem {
            key: key.to_string(),
            severity,
            message: message.into(),
            fix: fix.into(),
        }
    }

    /// The error an SST stops with.
    fn error(&self, code: Exit) -> Error {
        if self.fix.is_empty() {
            fail(code, self.message.clone())
        } else {
            fail(code, format!("{}; {}", self.message, self.fix))
        }
    }
}

/// What an SST does with the problems of its settings: logs each, and
/// stops with the first that stops it.
pub(crate) fn enforce(problems: &[Problem]) -> anyhow::Result<()> {
    for problem in problems {
        match problem.severity {
            Severity::Stop(code) => return Err(problem.error(code)),
            Severity::Warn => log::warn!("{}; {}", problem.message, problem.fix),
            Severity::Info => log::info!("{}", problem.message),
        }
    }
    Ok(())
}
