//! The harness of the black-box tests: runs the built binary as mariadbd
//! would, reads its stdout lines, plays mariadbd for the donor.
#![allow(dead_code)] // each test crate uses part of it

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_wsrep_sst_rsrsync");
pub const GTID: &str = "6d1f4a2c-1111-2222-3333-444455556666:42";
pub const STATE: &str = "6d1f4a2c-1111-2222-3333-444455556666:42 0";

/// A running SST process with its stdout lines arriving on a channel.
pub struct Sst {
    pub child: Child,
    lines: Receiver<String>,
    stderr: std::thread::JoinHandle<String>,
}

impl Sst {
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> Sst {
        let mut child = Command::new(BIN)
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the binary");
        let stdout = child.stdout.take().expect("stdout");
        let mut stderr = child.stderr.take().expect("stderr");
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        Sst {
            child,
            lines,
            stderr,
        }
    }

    pub fn line(&self) -> String {
        self.next_line().expect("a line on stdout within 30 s")
    }

    /// The next stdout line, or `None` if the process closed stdout or
    /// printed nothing within 30 s.
    pub fn next_line(&self) -> Option<String> {
        self.lines.recv_timeout(Duration::from_secs(30)).ok()
    }

    /// Waits for the exit (at most `limit`), returns (code, remaining
    /// stdout lines, stderr).
    pub fn finish(mut self, limit: Duration) -> (i32, Vec<String>, String) {
        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status;
            }
            if started.elapsed() > limit {
                let _ = self.child.kill();
                panic!("the binary did not exit within {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let stderr = self.stderr.join().expect("stderr thread");
        let rest: Vec<String> = self.lines.try_iter().collect();
        (status.code().unwrap_or(-1), rest, stderr)
    }
}

pub fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, bytes).expect("write");
}

/// A node directory with a my.cnf and a datadir.
pub fn node(root: &Path, name: &str, cnf: &str) -> (PathBuf, PathBuf) {
    let dir = root.join(name);
    write(&dir.join("my.cnf"), cnf.as_bytes());
    let data = dir.join("data");
    std::fs::create_dir_all(&data).expect("datadir");
    (dir.join("my.cnf"), data)
}

pub fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

pub fn joiner_args<'a>(cnf: &'a Path, data: &'a Path, parent: &'a str) -> Vec<&'a str> {
    vec![
        "--role",
        "joiner",
        "--address",
        "127.0.0.1:0",
        "--datadir",
        s(data),
        "--defaults-file",
        s(cnf),
        "--parent",
        parent,
        "--progress",
        "0",
    ]
}

/// Splits `ready <auth>@<address>` into auth and address.
pub fn split_ready(line: &str) -> (String, String) {
    let published = line.strip_prefix("ready ").expect("ready line");
    let (auth, address) = published.rsplit_once('@').expect("auth part");
    (auth.to_string(), address.to_string())
}

pub fn donor(cnf: &Path, data: &Path, address: &str, auth: &str, bypass: bool) -> Sst {
    let mut args = vec![
        "--role",
        "donor",
        "--address",
        address,
        "--local-port",
        "3306",
        "--socket",
        "/nonexistent.sock",
        "--progress",
        "0",
        "--datadir",
        s(data),
        "--defaults-file",
        s(cnf),
        "--gtid",
        GTID,
        "--gtid-domain-id",
        "0",
    ];
    if bypass {
        args.push("--bypass");
    }
    args.extend(["--mysqld-args", "--wsrep-new-cluster"]);
    Sst::start(&args, &[("WSREP_SST_OPT_REMOTE_AUTH", auth)])
}

/// Plays the donor's mariadbd: answers `flush tables` with `tables_flushed`.
/// Returns the donor's first line (`None` if it printed none).
pub fn answer_flush(donor: &Sst, data: &Path) -> Option<String> {
    let line = donor.next_line()?;
    if line == "flush tables" {
        std::fs::write(data.join("tables_flushed.tmp"), format!("{STATE}\n")).expect("state");
        std::fs::rename(data.join("tables_flushed.tmp"), data.join("tables_flushed"))
            .expect("rename");
    }
    Some(line)
}

pub const CNF: &str = "[mysqld]\nlog-bin=mysql-bin\n[sst]\nrsrsync-timeout=20\n";
