//! The harness of the black-box tests: runs the built binary as mariadbd
//! would, reads its stdout lines, plays mariadbd for the donor.
#![allow(dead_code)] // each test crate uses part of it

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex};
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
        Sst::start_with_stdin(args, env, None)
    }

    /// [`Sst::start`], writing `stdin` (then closing it) when given.
    pub fn start_with_stdin(args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Sst {
        let mut child = Command::new(BIN)
            .args(args)
            .envs(env.iter().copied())
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the binary");
        if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(text.as_bytes()).expect("write stdin");
        }
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

/// Deterministic incompressible bytes (xorshift).
pub fn noise(len: usize, mut x: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
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
    donor_with(
        cnf,
        data,
        address,
        bypass,
        &[("WSREP_SST_OPT_REMOTE_AUTH", auth)],
        None,
    )
}

/// A donor started with `env`, and `stdin` written on its stdin (then
/// closed) as MariaDB 11.x does; no stdin text means /dev/null.
pub fn donor_with(
    cnf: &Path,
    data: &Path,
    address: &str,
    bypass: bool,
    env: &[(&str, &str)],
    stdin: Option<&str>,
) -> Sst {
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
    Sst::start_with_stdin(&args, env, stdin)
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

/// What a [`Proxy`] does to the donor→joiner bytes of each connection.
#[derive(Debug, Clone, Copy)]
pub enum Fault {
    /// Forward everything.
    None,
    /// Flip one bit of byte number `at`.
    Flip(u64),
    /// Stop forwarding after `at` bytes, keeping the connection open.
    Stall(u64),
    /// Reset both sides after `at` bytes.
    Cut(u64),
}

/// A loopback proxy between donor and joiner that records every byte and
/// can damage the donor→joiner direction of each connection.
pub struct Proxy {
    pub port: u16,
    wire: Arc<Mutex<Vec<u8>>>,
    /// Set once a fault has been applied on some connection.
    pub struck: Arc<AtomicBool>,
}

impl Proxy {
    pub fn start(target: &str, fault: Fault) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("proxy bind");
        let port = listener.local_addr().expect("addr").port();
        let wire = Arc::new(Mutex::new(Vec::new()));
        let struck = Arc::new(AtomicBool::new(false));
        let (record, hit, target) = (Arc::clone(&wire), Arc::clone(&struck), target.to_string());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { break };
                let Ok(server) = TcpStream::connect(&target) else {
                    break;
                };
                let up = (
                    client.try_clone().expect("clone"),
                    server.try_clone().expect("clone"),
                );
                let (record_up, record_down) = (Arc::clone(&record), Arc::clone(&record));
                let hit = Arc::clone(&hit);
                std::thread::spawn(move || pump(up.0, up.1, fault, &record_up, &hit));
                std::thread::spawn(move || {
                    pump(
                        server,
                        client,
                        Fault::None,
                        &record_down,
                        &AtomicBool::new(false),
                    )
                });
            }
        });
        Proxy { port, wire, struck }
    }

    /// Every byte forwarded so far, both directions.
    pub fn wire(&self) -> Vec<u8> {
        self.wire.lock().expect("wire").clone()
    }
}

/// Copies `from` to `to`, applying `fault` to this direction.
fn pump(
    mut from: TcpStream,
    mut to: TcpStream,
    fault: Fault,
    record: &Mutex<Vec<u8>>,
    hit: &AtomicBool,
) {
    let mut buf = [0u8; 65536];
    let mut seen = 0u64;
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 {
            break;
        }
        let chunk = &mut buf[..n];
        let end = seen + n as u64;
        match fault {
            Fault::Flip(at) if (seen..end).contains(&at) => {
                chunk[(at - seen) as usize] ^= 0x10;
                hit.store(true, Ordering::SeqCst);
            }
            Fault::Stall(at) | Fault::Cut(at) if end > at => {
                hit.store(true, Ordering::SeqCst);
                if let Fault::Cut(_) = fault {
                    let _ = from.shutdown(Shutdown::Both);
                    let _ = to.shutdown(Shutdown::Both);
                    return;
                }
                // Hold the connection open, forwarding nothing more.
                std::thread::sleep(Duration::from_secs(120));
                return;
            }
            _ => {}
        }
        if to.write_all(chunk).is_err() {
            break;
        }
        record.lock().expect("record").extend_from_slice(chunk);
        seen = end;
    }
    let _ = to.shutdown(Shutdown::Write);
}
