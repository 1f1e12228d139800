//! `wsrep_sst_rsrsync`: a MariaDB Galera State Snapshot Transfer method.
//!
//! mariadbd runs this program on the joiner and on the donor exactly where
//! it runs the stock `wsrep_sst_rsync` script, with the same options, the
//! same stdout lines and the same datadir files; the program streams the
//! datadir itself over its own authenticated protocol (no rsync, no
//! stunnel, no shell).
//!
//! # Flow
//!
//! [`run`]: parse the Galera options (`cli`) → read my.cnf (`config`)
//! → resolve the settings of this node (`config::Settings`) → install signal
//! handling (`signals`) → run the role (`roles`) → pick the exit code
//! (`exit`).
//!
//! - Joiner: bind the SST port, print `ready <secret>@host:port/…`, accept
//!   only the donor that proves the secret, receive the file list and the
//!   blocks over N streams (`transfer::receive`), verify every hash,
//!   replace binlogs, sync, print `UUID:seqno domain`.
//! - Donor: connect and prove the secret, print `flush tables`, wait for
//!   `tables_flushed`, walk the file set (`transfer::walk`) and send it
//!   (`transfer::send`), print `continue`, complete, print `done …`.
//!
//! Run by an operator instead (`check`, `--dry-run`, `--help`,
//! `--version`), it reports on this node instead of transferring
//! anything ([`check`]).
//!
//! # Modules
//!
//! From the bottom layer up; a module imports only from the layers below
//! it (README, "Source map").
//!
//! - Leaves (nothing of the crate but `exit`; `parent` also uses the
//!   stop token of `signals`): `exit` (the exit codes; only [`run`] picks
//!   one), `cli` (mariadbd's options, parsed without IO), `config` (my.cnf:
//!   `mycnf` parses one file, `native` walks the includes,
//!   `print_defaults` asks the server's reader, `origin` says where a line
//!   came from), `protocol` (bytes only: `frame`, its field reader `body`,
//!   the file classes `class`, the proofs `auth`, the hashes `digest`),
//!   `fsutil` (the only place peer-supplied names become paths),
//!   `progress` (a transfer's counters), `parallel` (a map on a few
//!   threads at once), `signals` (signals and a dead parent become one
//!   stop token), `parent` (watching mariadbd, reading `/proc`),
//!   `server_input` (what mariadbd writes on stdin), `sst_io` (the only
//!   writer of stdout: mariadbd's lines), `logger` (the `WSREP_SST:` lines
//!   on stderr).
//! - `net` (sockets, no files): `address`, `listener`, `stream` (timed
//!   TCP), `ratelimit` (a side's shared cap on writes), `transport` (plain
//!   or TLS), `connection` (framed), `handshake`.
//! - `tls` (contexts over `net` streams): `context`, `material` (the
//!   files), `verify` (the peers' certificates), `legacy` (version-1
//!   certificates).
//! - `transfer` (files, no stdout): `walk` and `external` (the donor's
//!   file set), `snapshot` (the donor's clones under the lock), `plan` (a
//!   round's files and manifest), `send` over `schedule` (which piece
//!   next) and `stream` (one data stream), `source` (reading a file),
//!   `codec` (compression), `manifest` and `receive` (the joiner's side).
//! - `config`'s resolver (`settings`, over `dirs`, `knobs`, `rlimit` and
//!   `tls`): the arguments, the environment and my.cnf resolved once into
//!   what the roles need, each value with its `source` and every problem;
//!   `check` and `--dry-run` only render them (and `tls` itself reads no
//!   configuration).
//! - `roles` (the SST sequence; alone speaks to mariadbd): `donor`,
//!   `joiner`, `acceptor` (the joiner's door), `binlogs`, `pidfile`,
//!   `rate` (the donor's rate limit per round), `reporter` (progress
//!   lines), `oracle` (a test hold).
//! - `check` (the operator's commands, on top: it reuses the donor's plan
//!   and the pid file of `roles`): `args`, `resolve`, `files`, `space`,
//!   `port`, `install`, `tls`, `probe` over its `wire`, `dryrun`, `report`,
//!   `output` (its only writer of stdout), `help`.
//!
//! `fuzzing` (feature `fuzzing`) and `testutil` (tests) only open entry
//! points and helpers.

use std::ffi::OsString;
use std::process::ExitCode;

mod check;
mod cli;
mod config;
pub mod exit;
mod fsutil;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod logger;
mod net;
mod parallel;
mod parent;
mod progress;
mod protocol;
mod roles;
mod server_input;
mod signals;
mod sst_io;
#[cfg(test)]
mod testutil;
mod tls;
mod transfer;

use cli::Role;
use config::Settings;
use exit::Exit;
use signals::Stop;

/// Runs one SST role with mariadbd's arguments (`args[0]` is the program
/// name) and returns the exit status the stock scripts would.
pub fn run<I: IntoIterator<Item = OsString>>(args: I) -> ExitCode {
    let mut args = args.into_iter();
    let program = args.next().unwrap_or_default();
    let args: Vec<OsString> = args.collect();
    match check::command(&args) {
        Ok(check::Command::Sst) => {}
        Ok(command) => return operator(command, &program),
        Err(e) => {
            check::error(&format!("{e:#}"));
            return ExitCode::from(exit::exit_of(&e).unwrap_or(Exit::Invalid).code());
        }
    }
    let parsed = match cli::parse(args) {
        Ok(parsed) => parsed,
        Err(e) => {
            logger::init(false);
            log::error!("{e}");
            return ExitCode::from(Exit::Invalid.code());
        }
    };
    logger::init(parsed.progress);
    let role = parsed.role.unwrap_or(Role::Donor);
    let stop = Stop::new();
    if let Err(e) = signals::install(std::sync::Arc::clone(&stop)) {
        log::warn!("{e:#}");
    }
    // MariaDB 11.x writes the joiner's secret on the donor's stdin instead
    // of the environment.
    let stdin = if role == Role::Donor
        && std::env::var_os("WSREP_SST_OPT_REMOTE_AUTH").is_none_or(|v| v.is_empty())
    {
        server_input::read_remote_auth()
    } else {
        server_input::RemoteAuth::default()
    };
    let result = config::Config::load(&Settings::defaults_options(&parsed)).and_then(|config| {
        let env = |k: &str| std::env::var_os(k);
        let settings = Settings::resolve(&parsed, &program, &env, &stdin, &config)?;
        roles::run(&settings, &stop, &mut sst_io::Mariadbd::stdout())
    });
    let Err(err) = result else {
        return ExitCode::SUCCESS;
    };
    // A stop (signal, dead parent, a failed stream) explains whatever
    // error it caused; otherwise the error says; otherwise the role's
    // catch-all code: 32 for the joiner, 255 for the donor, as the scripts.
    let code = stop
        .reason()
        .map(|(code, _)| code)
        .or_else(|| exit::exit_of(&err))
        .unwrap_or(match role {
            Role::Joiner => Exit::Pipe,
            Role::Donor => Exit::Failed,
        });
    log::error!("{err:#}");
    if let Some((_, why)) = stop.reason() {
        if !format!("{err:#}").contains(&why) {
            log::error!("stopped because: {why}");
        }
    }
    log::error!("Cleanup after exit with status: {}", code.code());
    ExitCode::from(code.code())
}

/// Runs an operator's command: `check` exits 0 only when an SST would
/// work, 1 when it found a problem; any other error keeps its SST code.
fn operator(command: check::Command, program: &std::ffi::OsStr) -> ExitCode {
    logger::init(false);
    // Warnings (an ignored option file, a skipped file) matter to the
    // operator; the SST's info lines would only clutter the report.
    log::set_max_level(log::LevelFilter::Warn);
    match check::run(command, program) {
        Ok(check::Verdict::Passed) => ExitCode::SUCCESS,
        Ok(check::Verdict::Problems) => ExitCode::from(Exit::Problems.code()),
        Err(e) => {
            check::error(&format!("{e:#}"));
            ExitCode::from(exit::exit_of(&e).unwrap_or(Exit::Problems).code())
        }
    }
}
