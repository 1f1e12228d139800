//! The only writer of stdout for the operator's commands (`check`,
//! `--dry-run`, `--help`, `--version`), and the renderer of `check`'s
//! report as a table or as JSON.
//!
//! mariadbd never runs these commands; its line protocol stays the
//! business of `sst_io` alone. Writing goes through `io::stdout()` rather
//! than `print!`, which would panic when the reader has gone away
//! (`check | head`): a closed pipe is an error here, reported once.

use std::io::Write;

use anyhow::{Context, Result};
use serde_json::{Value, json};

use super::report::{Report, Source, Status, class_key, class_name};
use crate::config;
use crate::fsutil::human_bytes;
use crate::protocol::VERSION;

/// Writes `text` to stdout.
pub(crate) fn emit(text: &str) -> Result<()> {
    // The operator asked for this output: stdout is theirs, not mariadbd's.
    #[allow(clippy::disallowed_methods)]
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .context("writing to stdout")
}

/// A progress note for the operator, on stderr (kept out of `--json`).
pub(crate) fn notice(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "wsrep_sst_rsrsync: {text}");
}

/// An operator command's error, on stderr.
pub(crate) fn error(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "wsrep_sst_rsrsync: error: {text}");
}

/// `wsrep_sst_rsrsync 0.1.0 (rsrsync protocol 4)`.
pub(crate) fn version_line() -> String {
    format!(
        "wsrep_sst_rsrsync {} (rsrsync protocol {VERSION})\n",
        env!("CARGO_PKG_VERSION")
    )
}

fn hostname() -> String {
    nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Left-aligned columns, each as wide as its widest cell (capped).
fn table(rows: &[Vec<String>], caps: &[usize]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            let widest = rows
                .iter()
                .filter_map(|r| r.get(c))
                .map(|cell| cell.chars().count())
                .max()
                .unwrap_or(0);
            widest.min(caps.get(c).copied().unwrap_or(usize::MAX))
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::from("  ");
        for (c, cell) in row.iter().enumerate() {
            if c + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}  ", width = widths[c]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The report as the human-readable table.
pub(crate) fn render_table(report: &Report) -> String {
    let mut out = format!(
        "wsrep_sst_rsrsync {} check on {}\n",
        env!("CARGO_PKG_VERSION"),
        hostname()
    );
    if !report.settings.is_empty() {
        out.push('\n');
        out.push_str(&settings_table(&report.settings));
    }
    if let Some(set) = &report.transfer {
        out.push_str("\nTransfer set (what this node would send as a donor)\n");
        let mut rows = vec![vec![
            "CLASS".into(),
            "DIRECTORY".into(),
            "FILES".into(),
            "SIZE".into(),
        ]];
        for class in &set.classes {
            rows.push(vec![
                class_name(class.class).into(),
                class.dir.display().to_string(),
                format!("{:>7}", class.files),
                format!("{:>10}", human_bytes(class.bytes)),
            ]);
        }
        rows.push(vec![
            "total".into(),
            format!(
                "(and {} database director{})",
                set.dirs,
                if set.dirs == 1 { "y" } else { "ies" }
            ),
            format!("{:>7}", set.files()),
            format!("{:>10}", human_bytes(set.bytes())),
        ]);
        out.push_str(&table(&rows, &[34, 44]));
    }
    out.push_str("\nChecks\n");
    let topic_width = report
        .findings
        .iter()
        .map(|f| f.topic.chars().count())
        .max()
        .unwrap_or(0)
        .min(26);
    for finding in &report.findings {
        // A message quoting another program may span lines: indent them.
        let mut lines = finding.message.lines();
        out.push_str(&format!(
            "  {:<5} {:<topic_width$}  {}\n",
            finding.status.word(),
            finding.topic,
            lines.next().unwrap_or("")
        ));
        for line in lines {
            out.push_str(&format!("  {:<5} {:<topic_width$}  {line}\n", "", ""));
        }
        if let Some(fix) = finding
            .fix
            .as_ref()
            .filter(|_| finding.status >= Status::Warn)
        {
            out.push_str(&format!("  {:<5} {:<topic_width$}  fix: {fix}\n", "", ""));
        }
    }
    let (problems, warnings) = (report.count(Status::Fail), report.count(Status::Warn));
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    out.push_str(&if problems > 0 {
        format!(
            "\nResult: {}, {}: an SST would fail. Change what the FAIL lines say, then run \
             check again.\n",
            plural(problems, "problem"),
            plural(warnings, "warning")
        )
    } else {
        format!(
            "\nResult: no problems, {}: an SST would work.\n",
            plural(warnings, "warning")
        )
    });
    out
}

fn source_json(source: &Source) -> Value {
    match source {
        Source::File(origin) => json!({
            "kind": "file",
            "file": origin.file.display().to_string(),
            "line": origin.line,
            "group": origin.group,
        }),
        Source::Option(name) => json!({"kind": "option", "name": name}),
        Source::ServerArgs(name) => json!({"kind": "server_option", "name": name}),
        Source::Env(name) => json!({"kind": "environment", "name": name}),
        Source::SomeFile => json!({"kind": "file"}),
        Source::Default => json!({"kind": "default"}),
        Source::Derived(how) => json!({"kind": "derived", "how": how}),
    }
}

/// The "Settings" section of a table: each value and where it came from.
pub(crate) fn settings_table(values: &[config::Value]) -> String {
    let mut rows = vec![vec!["KEY".into(), "VALUE".into(), "FROM".into()]];
    rows.extend(
        values
            .iter()
            .map(|s| vec![s.key.clone(), s.value.clone(), s.source.to_string()]),
    );
    format!("Settings\n{}", table(&rows, &[28, 44]))
}

/// Settings as JSON: `key`, `value`, `from` (as the table says it) and
/// `source` (its parts).
pub(crate) fn settings_json(values: &[config::Value]) -> Vec<Value> {
    values
        .iter()
        .map(|s| {
            json!({
                "key": s.key,
                "value": s.value,
                "from": s.source.to_string(),
                "source": source_json(&s.source),
            })
        })
        .collect()
}

/// The report as one JSON document.
pub(crate) fn render_json(report: &Report) -> String {
    let settings = settings_json(&report.settings);
    let transfer = report.transfer.as_ref().map(|set| {
        json!({
            "files": set.files(),
            "bytes": set.bytes(),
            "dirs": set.dirs,
            "rate_limit": set.rate_limit,
            "estimated_seconds": set.limited_secs(),
            "classes": set.classes.iter().map(|c| json!({
                "class": class_key(c.class),
                "name": class_name(c.class),
                "dir": c.dir.display().to_string(),
                "files": c.files,
                "bytes": c.bytes,
            })).collect::<Vec<_>>(),
        })
    });
    let checks: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            json!({
                "status": f.status.word().to_ascii_lowercase(),
                "topic": f.topic,
                "message": f.message,
                "fix": f.fix,
            })
        })
        .collect();
    let document = json!({
        "rsrsync": env!("CARGO_PKG_VERSION"),
        "protocol": VERSION,
        "host": hostname(),
        "ok": report.passed(),
        "problems": report.count(Status::Fail),
        "warnings": report.count(Status::Warn),
        "settings": settings,
        "transfer": transfer,
        "checks": checks,
    });
    format!("{document:#}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Report {
        let mut report = Report::default();
        report.setting("datadir", "/var/lib/mysql", Source::Default);
        report.ok("datadir", "/var/lib/mysql exists");
        report.fail("SST port", "port 4444 is taken", "stop it");
        report.info("free space", "lots");
        report
    }

    #[test]
    fn table_shows_fixes_and_the_verdict() {
        let text = render_table(&sample());
        assert!(
            text.contains("  datadir  /var/lib/mysql  default\n"),
            "{text}"
        );
        assert!(
            text.contains("  FAIL  SST port    port 4444 is taken\n"),
            "{text}"
        );
        assert!(text.contains("fix: stop it\n"), "{text}");
        assert!(
            text.contains("Result: 1 problem, 0 warnings: an SST would fail."),
            "{text}"
        );
    }

    #[test]
    fn json_is_parseable_and_complete() {
        let value: Value = serde_json::from_str(&render_json(&sample())).expect("JSON");
        assert_eq!(value["ok"], json!(false));
        assert_eq!(value["problems"], json!(1));
        assert_eq!(value["settings"][0]["source"]["kind"], json!("default"));
        assert_eq!(value["checks"][1]["status"], json!("fail"));
        assert_eq!(value["checks"][0]["fix"], Value::Null);
        assert_eq!(value["transfer"], Value::Null);
    }

    #[test]
    fn multi_line_messages_stay_in_their_column() {
        let mut report = Report::default();
        report.fail("files", "first\nsecond", "do x");
        let text = render_table(&report);
        assert!(!text.contains("Settings"), "no empty table: {text}");
        assert!(
            text.contains("  FAIL  files  first\n               second\n"),
            "{text}"
        );
    }

    #[test]
    fn columns_align() {
        let text = table(
            &[
                vec!["a".into(), "bb".into(), "c".into()],
                vec!["aaa".into(), "b".into(), "c".into()],
            ],
            &[],
        );
        assert_eq!(text, "  a    bb  c\n  aaa  b   c\n");
    }
}
