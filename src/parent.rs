//! Watching mariadbd: the joiner's `--parent`, the donor's grandparent;
//! and what `/proc` tells of another process (its argv, its start time),
//! to judge whether a pid file names a live SST.
//!
//! mariadbd runs us through `sh -c`, and dash forks rather than execs, so
//! our parent is `sh`, which outlives mariadbd. We therefore watch the PID
//! mariadbd gave us (joiner) or our parent's parent when our parent is a
//! shell (donor). A PID is identified together with its start time from
//! `/proc/<pid>/stat`, so a recycled PID does not look alive.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use crate::exit::Exit;
use crate::signals::Stop;

/// A process, pinned by its start time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Process {
    pid: i32,
    start: u64,
}

/// Fields of `/proc/<pid>/stat`: the command sits in parentheses and may
/// contain spaces and ')', so fields are counted after the last ')'.
fn stat_fields(pid: i32) -> Option<(String, Vec<String>)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?.to_string();
    let rest = text.get(close + 1..)?;
    Some((comm, rest.split_whitespace().map(str::to_string).collect()))
}

impl Process {
    /// The process `pid` as it is now, if it exists.
    pub(crate) fn find(pid: i32) -> Option<Process> {
        if pid <= 0 {
            return None;
        }
        // After the command: state(0) ppid(1) ... starttime(19).
        let (_, fields) = stat_fields(pid)?;
        let start = fields.get(19)?.parse().ok()?;
        Some(Process { pid, start })
    }

    /// The mariadbd that runs a donor: our parent, or its parent when the
    /// parent is the `sh -c` wrapper.
    pub(crate) fn donor_server() -> Option<Process> {
        let parent = nix::unistd::getppid().as_raw();
        let (comm, fields) = stat_fields(parent)?;
        let is_shell = matches!(comm.as_str(), "sh" | "dash" | "bash" | "busybox");
        if is_shell {
            Process::find(fields.get(1)?.parse().ok()?)
        } else {
            Process::find(parent)
        }
    }

    pub(crate) fn pid(&self) -> i32 {
        self.pid
    }

    /// The command name the kernel keeps (`comm`, at most 15 bytes).
    pub(crate) fn comm(&self) -> Option<String> {
        stat_fields(self.pid).map(|(comm, _)| comm)
    }

    /// Its argv (`/proc/<pid>/cmdline`); empty for a kernel thread or a
    /// zombie, `None` when unreadable (gone, or hidden from us).
    pub(crate) fn argv(&self) -> Option<Vec<OsString>> {
        let bytes = std::fs::read(format!("/proc/{}/cmdline", self.pid)).ok()?;
        Some(
            bytes
                .split(|&b| b == 0)
                .filter(|a| !a.is_empty())
                .map(|a| OsString::from_vec(a.to_vec()))
                .collect(),
        )
    }

    /// Its working directory, if we may see it.
    pub(crate) fn cwd(&self) -> Option<PathBuf> {
        std::fs::read_link(format!("/proc/{}/cwd", self.pid)).ok()
    }

    /// When it started, in wall-clock time. `starttime` counts clock ticks
    /// since boot; the age is measured on `CLOCK_BOOTTIME`, the clock that
    /// count uses (also inside a time namespace, where `/proc/uptime` or
    /// `btime` may be virtualised differently), and taken from now.
    pub(crate) fn started(&self) -> Option<SystemTime> {
        use nix::time::{ClockId, clock_gettime};
        use nix::unistd::{SysconfVar, sysconf};
        let ticks = u64::try_from(sysconf(SysconfVar::CLK_TCK).ok()??).ok()?;
        let booted = Duration::from(clock_gettime(ClockId::CLOCK_BOOTTIME).ok()?);
        let since_boot = Duration::from_nanos(
            u64::try_from(u128::from(self.start) * 1_000_000_000 / u128::from(ticks.max(1)))
                .ok()?,
        );
        SystemTime::now().checked_sub(booted.saturating_sub(since_boot))
    }

    /// Whether the same process (not a reuse of its PID) still runs.
    /// A zombie counts as dead.
    pub(crate) fn is_alive(&self) -> bool {
        match stat_fields(self.pid) {
            Some((_, fields)) => {
                fields.first().map(String::as_str) != Some("Z")
                    && fields.get(19).and_then(|s| s.parse().ok()) == Some(self.start)
            }
            None => false,
        }
    }
}

/// Polls `server` every half second until `stop` triggers; when the server
/// dies, triggers `stop` with exit 32 and the message the rsync script logs.
pub(crate) fn watch(server: Process, stop: std::sync::Arc<Stop>) {
    let spawned = std::thread::Builder::new()
        .name("parent-watch".into())
        .spawn(move || {
            while !stop.is_stopped() {
                if !server.is_alive() {
                    let why = format!(
                        "Parent mysqld process (PID: {}) terminated unexpectedly.",
                        server.pid()
                    );
                    log::error!("{why}");
                    stop.trigger(Exit::Pipe, why);
                    return;
                }
                std::thread::sleep(Duration::from_millis(500));
            }
        });
    if let Err(e) = spawned {
        log::warn!("cannot watch the parent mariadbd: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_is_alive_and_pinned() {
        let me = Process::find(std::process::id() as i32).expect("self");
        assert!(me.is_alive());
        let impostor = Process {
            pid: me.pid,
            start: me.start + 1,
        };
        assert!(!impostor.is_alive(), "same PID, other start time");
        assert_eq!(Process::find(0), None);
        assert_eq!(Process::find(-5), None);
    }

    #[test]
    fn what_proc_tells_of_a_child() {
        let before = SystemTime::now();
        // bash waiting on its stdin: an argument with a space, and a
        // program that stays alive (sleep would refuse "x y" and exit).
        let mut child = std::process::Command::new("bash")
            .args(["-c", "read -t 30", "x y"])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .expect("spawn bash");
        crate::testutil::await_exec(child.id(), "bash");
        let proc = Process::find(child.id() as i32).expect("child");
        let argv = proc.argv().expect("cmdline");
        let started = proc.started().expect("start time");
        let comm = proc.comm();
        child.kill().expect("kill");
        child.wait().expect("reap");
        assert_eq!(argv, ["bash", "-c", "read -t 30", "x y"]);
        assert_eq!(comm.as_deref(), Some("bash"));
        // Clock ticks are 10 ms; allow for them and for a slow machine.
        let slack = Duration::from_secs(1);
        assert!(
            started + slack >= before && started <= SystemTime::now() + slack,
            "{started:?} vs {before:?}"
        );
    }

    #[test]
    fn dead_child_is_noticed() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("spawn sleep");
        crate::testutil::await_exec(child.id(), "sleep");
        let proc = Process::find(child.id() as i32).expect("child");
        assert!(proc.is_alive());
        child.kill().expect("kill");
        // Not yet reaped: a zombie must count as dead.
        std::thread::sleep(Duration::from_millis(100));
        assert!(!proc.is_alive());
        child.wait().expect("reap");
        assert!(!proc.is_alive());
    }
}
