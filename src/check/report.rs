//! What `check` found: the settings with their sources, the transfer set,
//! and a list of findings, each with its status and, for a problem, what
//! to change. Only data: [`super::output`] renders it.

use std::collections::BTreeMap;
use std::path::PathBuf;

pub(crate) use crate::config::Source;
use crate::config::{Problem, Severity, Value};
use crate::protocol::Class;

/// How a finding counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Status {
    /// Checked and fine.
    Ok,
    /// Worth knowing; not a problem.
    Info,
    /// Works, but probably not as meant.
    Warn,
    /// An SST would fail (or could not be checked).
    Fail,
}

impl Status {
    /// The word in the table and in JSON.
    pub(crate) fn word(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Info => "info",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
        }
    }
}

/// One thing `check` looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Finding {
    pub(crate) status: Status,
    /// Short subject: `datadir`, `SST port`, `TLS (joiner)`, …
    pub(crate) topic: String,
    pub(crate) message: String,
    /// What to change, for warnings and failures.
    pub(crate) fix: Option<String>,
}

/// Bytes per class: what a donor would send, or what a joiner holds.
pub(crate) type ClassBytes = BTreeMap<Class, u64>;

/// One class of the transfer set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ClassTotal {
    pub(crate) class: Class,
    /// The directory the class is read from on this node.
    pub(crate) dir: PathBuf,
    pub(crate) files: u64,
    pub(crate) bytes: u64,
}

/// What this node would send as a donor.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TransferSet {
    pub(crate) classes: Vec<ClassTotal>,
    /// Database directories (created on the joiner, no data).
    pub(crate) dirs: u64,
    /// The rate limit (`rlimit`) the copy keeps to, bytes a second: the
    /// live round's, or under `rsrsync-lock=full` the locked one's when
    /// `rlimit-lock=on`.
    pub(crate) rate_limit: Option<u64>,
}

impl TransferSet {
    pub(crate) fn files(&self) -> u64 {
        self.classes.iter().map(|c| c.files).sum()
    }

    pub(crate) fn bytes(&self) -> u64 {
        self.classes.iter().map(|c| c.bytes).sum()
    }

    pub(crate) fn class_bytes(&self) -> ClassBytes {
        self.classes.iter().map(|c| (c.class, c.bytes)).collect()
    }

    /// The shortest time the copy can take under the rate limit.
    pub(crate) fn limited_secs(&self) -> Option<f64> {
        self.rate_limit
            .map(|rate| self.bytes() as f64 / rate as f64)
    }
}

/// Everything `check` prints.
#[derive(Debug, Default)]
pub(crate) struct Report {
    pub(crate) settings: Vec<Value>,
    pub(crate) transfer: Option<TransferSet>,
    pub(crate) findings: Vec<Finding>,
}

impl Report {
    pub(crate) fn setting(&mut self, key: &str, value: impl Into<String>, source: Source) {
        self.settings.push(Value::new(key, value, source));
    }

    /// A problem the resolver found, under `topic`, as the SST would take
    /// it.
    pub(crate) fn problem(&mut self, topic: &str, problem: &Problem) {
        match problem.severity {
            Severity::Stop(code) => self.fail(
                topic,
                format!(
                    "{}: an SST would stop with exit {}",
                    problem.message,
                    code.code()
                ),
                problem.fix.clone(),
            ),
            Severity::Warn => self.warn(topic, problem.message.clone(), problem.fix.clone()),
            Severity::Info => self.info(topic, problem.message.clone()),
        }
    }

    fn add(&mut self, status: Status, topic: &str, message: String, fix: Option<String>) {
        self.findings.push(Finding {
            status,
            topic: topic.to_string(),
            message,
            fix,
        });
    }

    pub(crate) fn ok(&mut self, topic: &str, message: impl Into<String>) {
        self.add(Status::Ok, topic, message.into(), None);
    }

    pub(crate) fn info(&mut self, topic: &str, message: impl Into<String>) {
        self.add(Status::Info, topic, message.into(), None);
    }

    pub(crate) fn warn(&mut self, topic: &str, message: impl Into<String>, fix: impl Into<String>) {
        self.add(Status::Warn, topic, message.into(), Some(fix.into()));
    }

    pub(crate) fn fail(&mut self, topic: &str, message: impl Into<String>, fix: impl Into<String>) {
        self.add(Status::Fail, topic, message.into(), Some(fix.into()));
    }

    /// Findings of `status`.
    pub(crate) fn count(&self, status: Status) -> usize {
        self.findings.iter().filter(|f| f.status == status).count()
    }

    /// Whether an SST would work: no failure found.
    pub(crate) fn passed(&self) -> bool {
        self.count(Status::Fail) == 0
    }
}

/// The operator's name of a class.
pub(crate) fn class_name(class: Class) -> &'static str {
    match class {
        Class::Data => "databases",
        Class::SysTablespace => "system tablespace",
        Class::Redo => "redo log",
        Class::Undo => "undo tablespaces",
        Class::AriaLog => "Aria logs",
        Class::Binlog => "binlogs",
        Class::External => "tables outside the datadir",
    }
}

/// The key of a class in JSON and in the probe.
pub(crate) fn class_key(class: Class) -> &'static str {
    match class {
        Class::Data => "data",
        Class::SysTablespace => "sys",
        Class::Redo => "redo",
        Class::Undo => "undo",
        Class::AriaLog => "aria",
        Class::Binlog => "binlog",
        Class::External => "external",
    }
}

/// `class_key` backwards.
pub(crate) fn class_of_key(key: &str) -> Option<Class> {
    Class::ALL.into_iter().find(|c| class_key(*c) == key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdict_counts_failures_only() {
        let mut report = Report::default();
        report.ok("a", "fine");
        report.warn("b", "hm", "do x");
        report.info("c", "fyi");
        assert!(report.passed());
        report.fail("d", "broken", "fix it");
        assert!(!report.passed());
        assert_eq!(
            (report.count(Status::Warn), report.count(Status::Fail)),
            (1, 1)
        );
    }

    #[test]
    fn class_keys_round_trip() {
        for class in Class::ALL {
            assert_eq!(class_of_key(class_key(class)), Some(class));
        }
        assert_eq!(class_of_key("nope"), None);
    }

    #[test]
    fn transfer_set_totals() {
        let set = TransferSet {
            classes: vec![
                ClassTotal {
                    class: Class::Data,
                    dir: "/d".into(),
                    files: 2,
                    bytes: 10,
                },
                ClassTotal {
                    class: Class::Redo,
                    dir: "/r".into(),
                    files: 1,
                    bytes: 5,
                },
            ],
            dirs: 1,
            rate_limit: Some(5),
        };
        assert_eq!((set.files(), set.bytes()), (3, 15));
        assert_eq!(set.class_bytes().get(&Class::Redo), Some(&5));
        assert_eq!(set.limited_secs(), Some(3.0));
    }
}
