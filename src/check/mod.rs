//! The operator's commands: `check`, the donor's `--dry-run`, `--help`,
//! `--version`. mariadbd never runs them; [`args::command`] tells them
//! apart from an SST run before anything else happens.
//!
//! `check` reads the configuration as an SST would ([`Config::load_traced`]
//! adds where each line came from), resolves this node's settings
//! ([`resolve`]), then looks at each thing an SST needs, adding findings
//! to a [`Report`]: directories and the transfer set ([`files`]), TLS per
//! role ([`tls`]), the SST port ([`port`]), the installed program
//! ([`install`]), free space ([`space`]), and with `--peer`/`--listen` the
//! other node ([`probe`]). [`output`] prints the report (the only stdout
//! writer besides mariadbd's `sst_io`); the caller turns the verdict into
//! the exit status.

use std::ffi::OsStr;

use anyhow::Result;

use crate::config::{Config, OriginStatus};

mod args;
mod dryrun;
mod files;
mod help;
mod install;
mod output;
mod port;
mod probe;
mod report;
mod resolve;
mod space;
mod tls;
mod wire;

pub(crate) use args::{Command, command};
pub(crate) use output::error;

use args::CheckArgs;
use report::{Report, TransferSet};

/// How an operator's command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Done; for `check`, an SST would work.
    Passed,
    /// `check` found at least one problem.
    Problems,
}

/// Runs an operator's command (anything but [`Command::Sst`]).
pub(crate) fn run(command: Command, program: &OsStr) -> Result<Verdict> {
    match command {
        Command::Sst => anyhow::bail!("an SST run is not an operator's command"),
        Command::Help { check } => output::emit(&help::text(check)).map(|()| Verdict::Passed),
        Command::Version => output::emit(&output::version_line()).map(|()| Verdict::Passed),
        Command::DryRun(args) => dryrun::run(&args, program).map(|()| Verdict::Passed),
        Command::Check(args) => {
            let report = check(&args)?;
            let text = if args.json {
                output::render_json(&report)
            } else {
                output::render_table(&report)
            };
            output::emit(&text)?;
            Ok(if report.passed() {
                Verdict::Passed
            } else {
                Verdict::Problems
            })
        }
    }
}

/// Everything `check` looks at, in order.
fn check(args: &CheckArgs) -> Result<Report> {
    let mut report = Report::default();
    let (config, trace) = match Config::load_traced(&args.defaults) {
        Ok(pair) => pair,
        Err(err) => {
            report.fail(
                "option files",
                format!("{err:#}"),
                "fix the option file named; an SST would fail reading it the same way",
            );
            return Ok(report);
        }
    };
    match &trace.origins {
        OriginStatus::Native => {
            report.ok("option files", format!("read with the {}", trace.reader))
        }
        OriginStatus::Agree => report.ok(
            "option files",
            format!(
                "read with {} (lines located by the native reader)",
                trace.reader
            ),
        ),
        OriginStatus::Differ => report.warn(
            "option files",
            format!(
                "read with {}; the native reader read them differently, so the lines \
                 values came from are unknown",
                trace.reader
            ),
            "nothing to do for the SST; please report it with the option files attached",
        ),
        OriginStatus::NativeFailed(why) => report.warn(
            "option files",
            format!(
                "read with {}; the native reader failed ({why}), so the lines values came \
                 from are unknown",
                trace.reader
            ),
            "nothing to do for the SST; please report it with the option files attached",
        ),
    }
    let node = resolve::node(args, config, &mut report)?;
    let sst_running = files::check_dirs(&node, &mut report);
    files::check_transfer_set(&node, &mut report);
    tls::check(&node, &mut report);
    if sst_running {
        // Even a moment's bind could take the port from that SST's joiner.
        report.info("SST port", "not tried: an SST of this datadir is running");
    } else {
        port::check_bind(&node.address, &node.user, &mut report);
    }
    install::check(&mut report);
    let mine = report.transfer.clone();
    let own = mine
        .as_ref()
        .map(TransferSet::class_bytes)
        .unwrap_or_default();
    space::report_local(&node.settings, &own, &mut report);
    space::report_snapshot(&node.settings, &mut report);
    if args.listen {
        probe::listen(&node, mine.as_ref(), args.timeout, &mut report);
    }
    if let Some(peer) = &args.peer {
        probe::probe(&node, mine.as_ref(), peer, args.timeout, &mut report);
    }
    Ok(report)
}
