//! `wsrep_sst.pid`: the mutual exclusion every SST method of a datadir
//! shares, and the one judgement of whether it names a live SST.
//!
//! The stock scripts (`wait_previous_sst` in `wsrep_sst_common`) write
//! their shell's `$$` there and count any live PID as a running SST. After
//! a reboot or a container restart that PID may belong to anything, and
//! the joiner then waits 30 s, exits 114, and mariadbd aborts: a crash
//! loop. So a PID counts only when it is really an SST program of this
//! datadir that started before the file was written; anything else is
//! stale. Both the roles ([`PidFile::acquire`]) and `check` ask
//! [`previous_sst`].

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::{read_small, remove_quietly};
use crate::exit::{Exit, fail};
use crate::parent::Process;
use crate::signals::Stop;

/// How long a previous SST of this datadir may take to go away.
const PREVIOUS_SST_WAIT: Duration = Duration::from_secs(30);

/// How much later than the pid file's mtime its process may seem to have
/// started: the start time is rebuilt from boot-clock ticks, the mtime is
/// wall-clock, and NTP slews the one against the other.
const START_SLACK: Duration = Duration::from_secs(2);

/// The pid file's name in the datadir.
pub(crate) fn path_in(datadir: &Path) -> PathBuf {
    datadir.join("wsrep_sst.pid")
}

/// What the pid file says about an earlier SST.
#[derive(Debug)]
pub(crate) enum Previous {
    /// No file, no PID in it, or our own PID.
    None,
    /// It names a PID that is no SST of this datadir; why, in words that
    /// start with the PID.
    Stale(String),
    /// A live SST program of this datadir.
    Running(Process),
}

/// Judges the pid file at `path` of `datadir`; `own` is our PID, which
/// never counts as an earlier SST.
pub(crate) fn previous_sst(path: &Path, datadir: &Path, own: u32) -> Previous {
    let Some(pid) = read_small(path)
        .ok()
        .and_then(|text| text.trim().parse::<i32>().ok())
        .filter(|p| *p as u32 != own)
    else {
        return Previous::None;
    };
    let Some(process) = Process::find(pid).filter(Process::is_alive) else {
        return Previous::Stale(format!("PID {pid} is not running"));
    };
    // Unreadable (it just ended, or /proc hides it): not ours to judge,
    // so it counts, as it did before; the next look decides.
    let Some(argv) = process.argv() else {
        return Previous::Running(process);
    };
    let Some((program, datadir_arg)) = sst_program(&argv) else {
        let name = argv
            .first()
            .and_then(|a| Path::new(a).file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .or_else(|| process.comm())
            .unwrap_or_default();
        return Previous::Stale(format!("PID {pid} is `{name}` (not an SST program)"));
    };
    let Some(theirs) = datadir_arg else {
        return Previous::Stale(format!("PID {pid} is `{program}` of no datadir"));
    };
    // mariadbd passes an absolute datadir; a relative one is the
    // process's own working directory's business.
    let theirs = match process.cwd() {
        Some(cwd) if theirs.is_relative() => cwd.join(theirs),
        _ => theirs,
    };
    if !same_dir(&theirs, datadir) {
        return Previous::Stale(format!(
            "PID {pid} is `{program}` of another datadir ({})",
            theirs.display()
        ));
    }
    let written = std::fs::metadata(path).and_then(|m| m.modified()).ok();
    if let (Some(started), Some(written)) = (process.started(), written) {
        if started > written + START_SLACK {
            return Previous::Stale(format!(
                "PID {pid} (`{program}`) started after the pid file was written"
            ));
        }
    }
    Previous::Running(process)
}

/// Where `argv` is an SST program (`wsrep_sst_<method>` as the program, or
/// as the script its interpreter runs: `bash /usr/bin/wsrep_sst_rsync …`),
/// its name and the datadir its options give, read as we read our own.
fn sst_program(argv: &[std::ffi::OsString]) -> Option<(String, Option<PathBuf>)> {
    let at = argv.iter().take(2).position(|a| {
        Path::new(a)
            .file_name()
            .is_some_and(|n| n.as_encoded_bytes().starts_with(b"wsrep_sst_"))
    })?;
    let name = Path::new(&argv[at])
        .file_name()
        .map(OsStr::to_string_lossy)
        .unwrap_or_default()
        .into_owned();
    let datadir = crate::cli::parse(argv[at + 1..].iter().cloned())
        .ok()
        .and_then(|args| args.datadir)
        .map(PathBuf::from);
    Some((name, datadir))
}

/// Whether two paths name one directory (through symlinks when both exist).
fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a.components().eq(b.components()),
    }
}

/// `wsrep_sst.pid`: held for the whole SST, shared by every SST method of
/// a datadir, so two SSTs never overlap. Removed when dropped.
#[derive(Debug)]
pub(crate) struct PidFile {
    path: PathBuf,
    pid: u32,
}

impl PidFile {
    /// Waits (up to 30 s, like the scripts) for a live previous SST to
    /// end, then records our PID. A stale file is logged and replaced.
    pub(crate) fn acquire(datadir: &Path, stop: &Stop) -> Result<PidFile> {
        PidFile::acquire_within(datadir, stop, PREVIOUS_SST_WAIT)
    }

    fn acquire_within(datadir: &Path, stop: &Stop, wait: Duration) -> Result<PidFile> {
        let path = path_in(datadir);
        let pid = std::process::id();
        let started = Instant::now();
        loop {
            stop.check()?;
            let previous = match previous_sst(&path, datadir, pid) {
                Previous::None => break,
                Previous::Stale(why) => {
                    log::warn!("stale {}: {why}; removing it", path.display());
                    remove_quietly(&path);
                    break;
                }
                Previous::Running(previous) => previous,
            };
            if started.elapsed() >= wait {
                return Err(fail(
                    Exit::Already,
                    format!(
                        "previous SST script still running (PID {} in {}); \
                         wait for it to end or stop it, then retry",
                        previous.pid(),
                        path.display()
                    ),
                ));
            }
            log::info!("Previous SST is not completed, waiting for it to exit");
            std::thread::sleep(Duration::from_secs(1));
        }
        std::fs::write(&path, format!("{pid}\n"))
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(PidFile { path, pid })
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let ours = read_small(&self.path).is_ok_and(|t| t.trim() == self.pid.to_string());
        if ours {
            remove_quietly(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::CommandExt;
    use std::process::{Child, Command, Stdio};
    use std::time::SystemTime;

    use super::*;
    use crate::exit::exit_of;

    /// A child that ends when dropped.
    struct Spawned(Child);

    impl Drop for Spawned {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    /// `sleep 30`, unrelated to any SST.
    fn sleeper() -> Spawned {
        Spawned({
            let child = Command::new("sleep")
                .arg("30")
                .spawn()
                .expect("spawn sleep");
            crate::testutil::await_exec(child.id(), "sleep");
            child
        })
    }

    /// A process whose argv is a stock joiner's of `datadir` (the way
    /// mariadbd writes it, trailing slash included): bash waiting on its
    /// stdin, renamed `wsrep_sst_rsync`.
    fn fake_sst(datadir: &Path) -> Spawned {
        let mut dir = datadir.as_os_str().to_owned();
        dir.push("/");
        let child = Command::new("bash")
            .arg0("wsrep_sst_rsync")
            .args(["-c", "read -t 30", "wsrep_sst_rsync", "--role", "joiner"])
            .args([
                "--address".as_ref(),
                "127.0.0.1:4444".as_ref(),
                "--datadir".as_ref(),
                dir.as_os_str(),
            ])
            .stdin(Stdio::piped())
            .spawn()
            .expect("spawn bash");
        crate::testutil::await_exec(child.id(), "bash");
        Spawned(child)
    }

    fn write_pid(dir: &Path, child: &Spawned) {
        std::fs::write(path_in(dir), format!("{}\n", child.0.id())).expect("pid file");
    }

    fn acquire(dir: &Path) -> Result<PidFile> {
        PidFile::acquire_within(dir, &Stop::new(), Duration::from_secs(2))
    }

    fn stale_why(dir: &Path) -> String {
        match previous_sst(&path_in(dir), dir, std::process::id()) {
            Previous::Stale(why) => why,
            other => panic!("expected stale, got {other:?}"),
        }
    }

    /// Acquiring replaces the stale file with our PID, and drop removes it.
    fn acquire_replaces(dir: &Path) {
        let held = acquire(dir).expect("a stale file is replaced");
        let text = std::fs::read_to_string(path_in(dir)).expect("read");
        assert_eq!(text.trim(), std::process::id().to_string());
        drop(held);
        assert!(!path_in(dir).exists(), "removed on drop");
    }

    #[test]
    fn a_dead_pid_is_stale() {
        let tmp = tempfile::tempdir().expect("tempdir");
        std::fs::write(path_in(tmp.path()), "999999999\n").expect("stale");
        assert_eq!(stale_why(tmp.path()), "PID 999999999 is not running");
        acquire_replaces(tmp.path());
    }

    #[test]
    fn a_live_unrelated_process_is_stale() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let sleep = sleeper();
        write_pid(tmp.path(), &sleep);
        assert_eq!(
            stale_why(tmp.path()),
            format!("PID {} is `sleep` (not an SST program)", sleep.0.id())
        );
        let t0 = Instant::now();
        acquire_replaces(tmp.path());
        assert!(t0.elapsed() < Duration::from_secs(1), "no wait");
    }

    #[test]
    fn an_sst_of_another_datadir_is_stale() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let other = tempfile::tempdir().expect("tempdir");
        let sst = fake_sst(other.path());
        std::thread::sleep(Duration::from_millis(50));
        write_pid(tmp.path(), &sst);
        let why = stale_why(tmp.path());
        assert!(
            why.starts_with(&format!(
                "PID {} is `wsrep_sst_rsync` of another datadir",
                sst.0.id()
            )),
            "{why}"
        );
        acquire_replaces(tmp.path());
    }

    #[test]
    fn an_sst_of_this_datadir_started_after_the_file_is_stale() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let sst = fake_sst(tmp.path());
        write_pid(tmp.path(), &sst);
        // As if written before a reboot: an hour ago.
        std::fs::File::options()
            .write(true)
            .open(path_in(tmp.path()))
            .and_then(|f| f.set_modified(SystemTime::now() - Duration::from_secs(3600)))
            .expect("mtime");
        assert_eq!(
            stale_why(tmp.path()),
            format!(
                "PID {} (`wsrep_sst_rsync`) started after the pid file was written",
                sst.0.id()
            )
        );
    }

    #[test]
    fn a_live_sst_of_this_datadir_gives_114() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let sst = fake_sst(tmp.path());
        std::thread::sleep(Duration::from_millis(50));
        write_pid(tmp.path(), &sst);
        assert!(matches!(
            previous_sst(&path_in(tmp.path()), tmp.path(), std::process::id()),
            Previous::Running(p) if p.pid() as u32 == sst.0.id()
        ));
        let t0 = Instant::now();
        let err = acquire(tmp.path()).expect_err("a running SST blocks");
        assert!(t0.elapsed() >= Duration::from_secs(2), "it waited");
        assert_eq!(exit_of(&err), Some(Exit::Already));
        assert!(
            format!("{err:#}").contains(&format!(
                "previous SST script still running (PID {}",
                sst.0.id()
            )),
            "{err:#}"
        );
        let text = std::fs::read_to_string(path_in(tmp.path())).expect("kept");
        assert_eq!(
            text.trim(),
            sst.0.id().to_string(),
            "the file is left alone"
        );
        drop(sst);
        acquire_replaces(tmp.path());
    }

    #[test]
    fn our_own_pid_or_no_pid_is_no_previous_sst() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = path_in(tmp.path());
        assert!(matches!(previous_sst(&path, tmp.path(), 1), Previous::None));
        std::fs::write(&path, "junk\n").expect("junk");
        assert!(matches!(previous_sst(&path, tmp.path(), 1), Previous::None));
        std::fs::write(&path, format!("{}\n", std::process::id())).expect("own");
        assert!(matches!(
            previous_sst(&path, tmp.path(), std::process::id()),
            Previous::None
        ));
    }

    #[test]
    fn sst_programs_by_argv() {
        let argv = |words: &[&str]| words.iter().map(Into::into).collect::<Vec<_>>();
        let stock = argv(&[
            "bash",
            "/usr/bin/wsrep_sst_rsync",
            "--role",
            "donor",
            "--datadir",
            "/var/lib/mysql/",
            "--mysqld-args",
            "--datadir=/elsewhere",
        ]);
        assert_eq!(
            sst_program(&stock),
            Some(("wsrep_sst_rsync".into(), Some("/var/lib/mysql".into())))
        );
        let ours = argv(&["wsrep_sst_rsrsync", "--role", "joiner", "--datadir", "/d/"]);
        assert_eq!(
            sst_program(&ours),
            Some(("wsrep_sst_rsrsync".into(), Some("/d".into())))
        );
        let bare = argv(&["/usr/bin/wsrep_sst_mariabackup"]);
        assert_eq!(
            sst_program(&bare),
            Some(("wsrep_sst_mariabackup".into(), None))
        );
        for other in [
            argv(&["less", "x", "/usr/bin/wsrep_sst_rsync"]),
            argv(&["sh", "-c", "wsrep_sst_rsync --role joiner --datadir '/d/'"]),
            argv(&[]),
        ] {
            assert_eq!(sst_program(&other), None, "{other:?}");
        }
    }
}
