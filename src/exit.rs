//! Exit codes, in one place.
//!
//! mariadbd turns the script's exit status into an errno (`Process completed
//! with error: <cmd>: <n> (<strerror>)`), so every code keeps the meaning the
//! stock `wsrep_sst_rsync`/`wsrep_sst_common` scripts gave it. Code decides
//! *what* failed by attaching an [`Exit`] to its error with [`Failure`]; only
//! [`crate::run`] turns that into the process status.

use std::fmt;

/// errno-style exit codes of the SST scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Success.
    Ok,
    /// `check` found a problem. Only the operator's commands use it;
    /// mariadbd never sees it.
    Problems,
    /// ENOENT: a required parameter or program is missing.
    NotFound,
    /// SIGINT, SIGQUIT or SIGTERM received.
    Interrupted,
    /// EBUSY: the SST port is taken by another program.
    Busy,
    /// EINVAL: bad role, bad ssl-mode, unusable certificates, bad input.
    Invalid,
    /// EPIPE: the parent died, SIGHUP, or the joiner's transfer failed.
    Pipe,
    /// EPROTO: the peer speaks another protocol version.
    Protocol,
    /// EALREADY: a previous SST in this datadir is still running.
    Already,
    /// Donor-side transfer failure (`sst_error`, network, I/O).
    Failed,
}

impl Exit {
    /// The numeric process status.
    pub fn code(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::Problems => 1,
            Exit::NotFound => 2,
            Exit::Interrupted => 3,
            Exit::Busy => 16,
            Exit::Invalid => 22,
            Exit::Pipe => 32,
            Exit::Protocol => 71,
            Exit::Already => 114,
            Exit::Failed => 255,
        }
    }
}

/// An error that decides the exit code. Attach it with
/// `Err(Failure::new(Exit::Busy, "…"))?` or `.context(Failure::new(…))`;
/// [`exit_of`] finds it anywhere in an `anyhow` chain.
#[derive(Debug)]
pub struct Failure {
    exit: Exit,
    message: String,
}

impl Failure {
    pub fn new(exit: Exit, message: impl Into<String>) -> Self {
        Failure {
            exit,
            message: message.into(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// Shorthand: an `anyhow::Error` carrying an exit code.
pub fn fail(exit: Exit, message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Failure::new(exit, message))
}

/// The exit code an error chain asks for: the outermost [`Failure`], if any.
pub fn exit_of(err: &anyhow::Error) -> Option<Exit> {
    err.chain()
        .find_map(|e| e.downcast_ref::<Failure>())
        .map(|f| f.exit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn codes_match_the_scripts() {
        let codes: Vec<u8> = [
            Exit::Ok,
            Exit::Problems,
            Exit::NotFound,
            Exit::Interrupted,
            Exit::Busy,
            Exit::Invalid,
            Exit::Pipe,
            Exit::Protocol,
            Exit::Already,
            Exit::Failed,
        ]
        .iter()
        .map(|e| e.code())
        .collect();
        assert_eq!(codes, [0, 1, 2, 3, 16, 22, 32, 71, 114, 255]);
    }

    #[test]
    fn failure_is_found_under_context() {
        let err: anyhow::Result<()> = Err(fail(Exit::Busy, "port 4444 taken"));
        let err = err
            .context("opening the listener")
            .expect_err("an Err stays an Err under context");
        assert_eq!(exit_of(&err), Some(Exit::Busy));
        assert_eq!(format!("{err:#}"), "opening the listener: port 4444 taken");
        assert_eq!(exit_of(&anyhow::anyhow!("plain")), None);
    }
}
