//! Runs `my_print_defaults`, the server's own option-file reader, and
//! collects the option lines it prints.
//!
//! It is run directly (never through a shell), with the defaults options
//! first as it requires, stdin closed, stdout and stderr captured and
//! bounded, and under a timeout: an option file can be a FIFO or an
//! include cycle, and SST must not hang on it.

use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use super::{DefaultsOptions, Env};

const PROGRAM: &str = "my_print_defaults";
const TIMEOUT: Duration = Duration::from_secs(60);
const MAX_STDOUT: u64 = 64 << 20;
const MAX_STDERR: u64 = 64 << 10;

/// `my_print_defaults` on `PATH` (mariadbd puts its own `bin` first), else
/// next to our executable.
pub(crate) fn locate() -> Option<PathBuf> {
    which::which(PROGRAM).ok().or_else(|| {
        let exe = std::env::current_exe().ok()?;
        let cwd = std::env::current_dir().ok()?;
        which::which_in(PROGRAM, exe.parent(), cwd).ok()
    })
}

/// The option lines `program` prints for `group` (`--mysqld` or a group
/// name), in file order. `env` is given to it explicitly so that it sees
/// what the native reader would.
pub(crate) fn options(
    program: &Path,
    opts: &DefaultsOptions,
    env: &Env,
    group: &str,
) -> anyhow::Result<Vec<String>> {
    let mut command = Command::new(program);
    command
        .args(arguments(opts, group))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in [
        ("HOME", &env.home),
        ("MYSQL_HOME", &env.mysql_home),
        ("MYSQL_GROUP_SUFFIX", &env.group_suffix),
    ] {
        match value {
            Some(value) => command.env(name, value),
            None => command.env_remove(name),
        };
    }
    let shown = format!("{} {group}", program.display());
    let mut child = command
        .spawn()
        .with_context(|| format!("starting {shown}"))?;
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        bail!("{shown}: no pipes to read");
    };

    let (status, stdout, stderr) = std::thread::scope(|scope| {
        let out = scope.spawn(move || read_bounded(stdout, MAX_STDOUT, false));
        let err = scope.spawn(move || read_bounded(stderr, MAX_STDERR, true));
        let deadline = Instant::now() + TIMEOUT;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break Ok(status),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Ok(None) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break Err(anyhow::anyhow!(
                        "{shown} did not finish within {} s (a FIFO or device among the \
                         option files?)",
                        TIMEOUT.as_secs()
                    ));
                }
                Err(err) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break Err(anyhow::Error::new(err).context(format!("waiting for {shown}")));
                }
            }
        };
        let lost = |_| Err(std::io::Error::other("the reading thread panicked"));
        let stdout = out.join().unwrap_or_else(lost);
        let stderr = err.join().unwrap_or_else(lost);
        (status, stdout, stderr)
    });
    let status = status?;
    let stdout = stdout.with_context(|| format!("reading the output of {shown}"))?;
    let stderr = stderr.with_context(|| format!("reading the errors of {shown}"))?;
    if stdout.truncated {
        bail!("{shown} printed more than {} MiB", MAX_STDOUT >> 20);
    }
    let message = String::from_utf8_lossy(&stderr.data);
    let message = message.trim_end();
    if !status.success() {
        bail!("{shown} failed ({status}): {message}");
    }
    if !message.is_empty() {
        // Warnings such as ignored world-writable files.
        log::warn!("{shown}: {message}");
    }
    Ok(option_lines(&stdout.data))
}

/// `--defaults-file=…` and friends must come first, then the group.
fn arguments(opts: &DefaultsOptions, group: &str) -> Vec<OsString> {
    let mut args = Vec::new();
    let mut add = |name: &str, value: &std::ffi::OsStr| {
        let mut arg = OsString::from(name);
        arg.push(value);
        args.push(arg);
    };
    if let Some(file) = &opts.file {
        add("--defaults-file=", file.as_os_str());
    }
    if let Some(file) = &opts.extra_file {
        add("--defaults-extra-file=", file.as_os_str());
    }
    if let Some(suffix) = &opts.group_suffix {
        add("--defaults-group-suffix=", suffix.as_ref());
    }
    args.push(group.into());
    args
}

#[derive(Debug)]
struct Bounded {
    data: Vec<u8>,
    truncated: bool,
}

/// Reads up to `limit` bytes; past it, either keeps draining (so the child
/// never blocks on a full pipe) or stops (the child then gets EPIPE).
fn read_bounded<R: Read>(mut input: R, limit: u64, drain: bool) -> std::io::Result<Bounded> {
    let mut data = Vec::new();
    (&mut input).take(limit + 1).read_to_end(&mut data)?;
    let truncated = data.len() as u64 > limit;
    if truncated {
        data.truncate(limit as usize);
        if drain {
            std::io::copy(&mut input, &mut std::io::sink())?;
        }
    }
    Ok(Bounded { data, truncated })
}

/// Splits the output into options. Each option starts with `--`; a value
/// holding a newline (`\n` in the file) spans several lines, so a line not
/// starting with `--` continues the previous option. (A value with a
/// newline followed by `--` cannot be told apart; the shell scripts split
/// every line, which is worse.)
fn option_lines(stdout: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(stdout);
    if text.is_empty() {
        return Vec::new();
    }
    let body = text.strip_suffix('\n').unwrap_or(&text);
    let mut options: Vec<String> = Vec::new();
    for line in body.split('\n') {
        match options.last_mut() {
            Some(last) if !line.starts_with("--") => {
                last.push('\n');
                last.push_str(line);
            }
            _ => options.push(line.to_owned()),
        }
    }
    options
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_lines_join_continuations() {
        assert!(option_lines(b"").is_empty());
        assert_eq!(option_lines(b"--a=1\n--b\n"), ["--a=1", "--b"]);
        assert_eq!(
            option_lines(b"--a=x\ty\nz\n\n--b=2\n"),
            ["--a=x\ty\nz\n", "--b=2"]
        );
        assert_eq!(option_lines(b"--a=\xff\n"), ["--a=\u{fffd}"]);
    }

    #[test]
    fn defaults_options_come_first() {
        let opts = DefaultsOptions {
            file: Some("/a b/my.cnf".into()),
            extra_file: Some("x.cnf".into()),
            group_suffix: Some(".2".into()),
        };
        assert_eq!(
            arguments(&opts, "sst"),
            [
                "--defaults-file=/a b/my.cnf",
                "--defaults-extra-file=x.cnf",
                "--defaults-group-suffix=.2",
                "sst"
            ]
        );
        assert_eq!(
            arguments(&DefaultsOptions::default(), "--mysqld"),
            ["--mysqld"]
        );
    }

    #[test]
    fn failures_carry_its_message() {
        let program = Path::new("/usr/bin/my_print_defaults");
        if !program.exists() {
            return;
        }
        let opts = DefaultsOptions {
            file: Some("/nonexistent/my.cnf".into()),
            ..DefaultsOptions::default()
        };
        let err = options(program, &opts, &Env::default(), "sst").expect_err("missing file");
        let err = format!("{err:#}");
        assert!(
            err.starts_with("/usr/bin/my_print_defaults sst failed (exit status: "),
            "{err}"
        );
        assert!(
            err.contains("Could not open required defaults file: /nonexistent/my.cnf"),
            "{err}"
        );
        let err = options(Path::new("/nonexistent/mpd"), &opts, &Env::default(), "sst")
            .expect_err("no such program");
        assert!(
            format!("{err:#}").starts_with("starting /nonexistent/mpd sst: "),
            "{err:#}"
        );
    }

    #[test]
    fn bounded_reads() {
        let got = read_bounded(&b"abcdef"[..], 4, true).expect("in-memory read");
        assert_eq!((got.data.as_slice(), got.truncated), (&b"abcd"[..], true));
        let got = read_bounded(&b"abc"[..], 4, false).expect("in-memory read");
        assert_eq!((got.data.as_slice(), got.truncated), (&b"abc"[..], false));
    }
}
