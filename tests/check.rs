//! Black-box tests of the operator's commands: `check` with a good
//! configuration and deliberately broken ones, `--json`, the probe
//! between two `check` processes, `--dry-run` (which must write nothing
//! and connect nowhere), `--help` and `--version`.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_wsrep_sst_rsrsync");
const SECRET: &str = "s3cr3t-never-printed";

fn run(args: &[&str]) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = Command::new(BIN)
        .args(args)
        .output()
        .expect("run the binary");
    (
        status.code().unwrap_or(-1),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, bytes).expect("write");
}

fn s(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}

/// A free loopback port (bound, then released).
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// A node: a datadir with a few files, certificates from one CA, and a
/// my.cnf using them in VERIFY_CA; `extra` is appended to [sst].
struct Node {
    dir: tempfile::TempDir,
    cnf: PathBuf,
}

impl Node {
    fn new(extra_sst: &str) -> Node {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        let data = root.join("data");
        write(&data.join("ibdata1"), &[1u8; 4096]);
        write(&data.join("ib_logfile0"), &[2u8; 2048]);
        write(&data.join("shop/orders.ibd"), &[3u8; 10_000]);
        write(&data.join("mysql-bin.000001"), b"old");
        write(&data.join("mysql-bin.000002"), b"newest");
        write(
            &data.join("mysql-bin.index"),
            b"./mysql-bin.000001\n./mysql-bin.000002\n",
        );
        let pki = root.join("pki");
        issue(&pki);
        let cnf = root.join("my.cnf");
        let text = format!(
            "# a node\n[mysqld]\ndatadir = {data}\nlog-bin = mysql-bin\n\
             wsrep_sst_method = rsrsync\nwsrep_sst_auth = root:{SECRET}\n\
             [sst]\nssl-mode = VERIFY_CA\nssl-ca = {pki}/ca.pem\nssl-cert = {pki}/cert.pem\n\
             ssl-key = {pki}/key.pem\n{extra_sst}\n",
            data = data.display(),
            pki = pki.display()
        );
        write(&cnf, text.as_bytes());
        Node { dir, cnf }
    }

    /// Takes `other`'s CA, certificate and key (nodes of one cluster).
    fn share_pki(&self, other: &Node) {
        for file in ["ca.pem", "cert.pem", "key.pem"] {
            let pem = std::fs::read(other.path(&format!("pki/{file}"))).expect("read");
            write(&self.path(&format!("pki/{file}")), &pem);
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn check(&self, more: &[&str]) -> (i32, String, String) {
        let mut args = vec!["check", "--defaults-file", s(&self.cnf)];
        args.extend_from_slice(more);
        run(&args)
    }
}

/// A CA, and a certificate and key it issued, into `dir`: `ca.pem`,
/// `cert.pem`, `key.pem`, plus `other-key.pem` (a key of no certificate).
fn issue(dir: &Path) {
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca.distinguished_name = DistinguishedName::new();
    ca.distinguished_name.push(DnType::CommonName, "test CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_pem = ca.self_signed(&ca_key).expect("CA cert").pem();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().expect("key");
    let mut params = CertificateParams::new(vec!["localhost".to_string()]).expect("params");
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, "node");
    let cert = params.signed_by(&key, &issuer).expect("cert");
    write(&dir.join("ca.pem"), ca_pem.as_bytes());
    write(&dir.join("cert.pem"), cert.pem().as_bytes());
    write(&dir.join("key.pem"), key.serialize_pem().as_bytes());
    let other = KeyPair::generate().expect("key");
    write(&dir.join("other-key.pem"), other.serialize_pem().as_bytes());
}

fn address() -> String {
    format!("127.0.0.1:{}", free_port())
}

/// The FAIL lines of a table.
fn failures(table: &str) -> Vec<&str> {
    table.lines().filter(|l| l.starts_with("  FAIL")).collect()
}

#[test]
fn a_good_node_passes_and_says_where_each_setting_came_from() {
    let node = Node::new("backup-threads = 3");
    let (code, out, err) = node.check(&["--address", &address()]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(failures(&out).is_empty(), "{out}");
    assert!(out.contains("Result: no problems"), "{out}");
    let cnf = node.cnf.display().to_string();
    for (key, line, group) in [
        ("datadir", 3, "mysqld"),
        ("log_bin", 4, "mysqld"),
        ("ssl-mode", 8, "sst"),
        ("ssl-key", 11, "sst"),
        ("backup-threads", 12, "sst"),
    ] {
        let row = out
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{key} ")))
            .unwrap_or_else(|| panic!("no {key} row in\n{out}"));
        assert!(
            row.ends_with(&format!("{cnf}:{line} [{group}]")),
            "{key}: {row}"
        );
    }
    assert!(out.contains("rsrsync-timeout"), "{out}");
    assert!(out.contains("default"), "{out}");
    // The transfer set: ibdata1, ib_logfile0, the table, the newest binlog.
    assert!(
        out.contains("as a donor this node would send 4 files"),
        "{out}"
    );
    assert!(
        out.contains("the key matches the certificate, the certificate chains to the CA"),
        "{out}"
    );
    assert!(!out.contains(SECRET) && !err.contains(SECRET), "{out}{err}");
    assert!(out.contains("wsrep_sst_auth"), "its presence is shown");
}

#[test]
fn json_output_parses() {
    let node = Node::new("");
    let (code, out, err) = node.check(&["--json", "--address", &address()]);
    assert_eq!(code, 0, "{out}\n{err}");
    let doc: Value = serde_json::from_str(&out).expect("one JSON document on stdout");
    assert_eq!(doc["ok"], Value::Bool(true));
    assert_eq!(doc["problems"], Value::from(0));
    assert_eq!(doc["rsrsync"], Value::from(env!("CARGO_PKG_VERSION")));
    let datadir = doc["settings"]
        .as_array()
        .expect("settings")
        .iter()
        .find(|s| s["key"] == "datadir")
        .expect("datadir row");
    assert_eq!(datadir["source"]["kind"], "file");
    assert_eq!(datadir["source"]["line"], 3);
    assert_eq!(datadir["source"]["file"], s(&node.cnf));
    assert_eq!(doc["transfer"]["files"], 4);
    assert_eq!(doc["transfer"]["bytes"], 4096 + 2048 + 10_000 + 6);
    let statuses: Vec<&str> = doc["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .map(|c| c["status"].as_str().expect("status"))
        .collect();
    assert!(statuses.iter().all(|s| ["ok", "info", "warn"].contains(s)));
    assert!(!out.contains(SECRET));
    // A broken node is `ok: false` with the problem and its fix.
    let broken = Node::new("");
    std::fs::remove_file(broken.path("pki/cert.pem")).expect("rm");
    let (code, out, _) = broken.check(&["--json", "--address", &address()]);
    assert_eq!(code, 1);
    let doc: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(doc["ok"], Value::Bool(false));
    let failed: Vec<&Value> = doc["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["status"] == "fail")
        .collect();
    assert!(!failed.is_empty());
    assert!(failed[0]["fix"].is_string(), "{:?}", failed[0]);
}

#[test]
fn a_key_that_does_not_match_the_certificate_fails() {
    let node = Node::new("");
    let cnf = std::fs::read_to_string(&node.cnf).expect("read");
    let cnf = cnf.replace("/key.pem", "/other-key.pem");
    write(&node.cnf, cnf.as_bytes());
    let (code, out, _) = node.check(&["--address", &address()]);
    assert_eq!(code, 1, "{out}");
    let fails = failures(&out);
    assert!(
        fails
            .iter()
            .any(|l| l.contains("does not match the certificate")),
        "{out}"
    );
    assert!(out.contains("fix: use the private key that belongs to the certificate"));
    assert!(out.contains("Result: 1 problem"), "{out}");
}

#[test]
fn a_missing_ca_does_not_hide_a_key_mismatch() {
    let node = Node::new("");
    let cnf = std::fs::read_to_string(&node.cnf)
        .expect("read")
        .replace("/key.pem", "/other-key.pem");
    write(&node.cnf, cnf.as_bytes());
    std::fs::remove_file(node.path("pki/ca.pem")).expect("rm");
    let (code, out, _) = node.check(&["--address", &address()]);
    assert_eq!(code, 1, "{out}");
    let fails = failures(&out);
    assert!(
        fails.iter().any(|l| l.contains("cannot open the CA file")),
        "{out}"
    );
    assert!(
        fails
            .iter()
            .any(|l| l.contains("does not match the certificate")),
        "{out}"
    );
}

#[test]
fn a_busy_port_fails_and_names_its_holder() {
    let node = Node::new("");
    let held = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = held.local_addr().expect("addr").port();
    let (code, out, _) = node.check(&["--address", &format!("127.0.0.1:{port}")]);
    assert_eq!(code, 1, "{out}");
    let line = failures(&out)
        .into_iter()
        .find(|l| l.contains("SST port"))
        .unwrap_or_else(|| panic!("no SST port failure in\n{out}"));
    assert!(line.contains(&format!("port {port}")), "{line}");
    assert!(
        line.contains(&format!("(PID {})", std::process::id())),
        "the holder is this test: {line}"
    );
    assert!(out.contains("wsrep_sst_receive_address"), "{out}");
    drop(held);
}

#[test]
fn a_missing_directory_fails() {
    let node = Node::new("");
    let mut cnf = std::fs::read_to_string(&node.cnf).expect("read");
    cnf = cnf.replace(
        "log-bin = mysql-bin\n",
        "log-bin = mysql-bin\ninnodb_log_group_home_dir = /nonexistent/redo\n",
    );
    write(&node.cnf, cnf.as_bytes());
    let (code, out, _) = node.check(&["--address", &address()]);
    assert_eq!(code, 1, "{out}");
    let fails = failures(&out);
    assert_eq!(fails.len(), 1, "{out}");
    assert!(
        fails[0].contains("/nonexistent/redo does not exist"),
        "{out}"
    );
    // The setting's row names the line to fix.
    let row = out
        .lines()
        .find(|l| l.trim_start().starts_with("innodb_log_group_home_dir "))
        .expect("the row");
    assert!(row.contains("/nonexistent/redo"), "{row}");
    assert!(
        row.ends_with(&format!("{}:5 [mysqld]", node.cnf.display())),
        "{row}"
    );
    let (code, out, _) = run(&[
        "check",
        "--defaults-file",
        s(&node.cnf),
        "--datadir",
        "/nonexistent/datadir",
        "--address",
        &address(),
    ]);
    assert_eq!(code, 1);
    assert!(out.contains("/nonexistent/datadir does not exist"), "{out}");
}

#[test]
fn an_unreadable_ca_fails() {
    // Root reads any file, so "unreadable" here is what root cannot use
    // either: a CA that is not there, and one that is not a certificate.
    let node = Node::new("");
    std::fs::remove_file(node.path("pki/ca.pem")).expect("rm");
    let (code, out, _) = node.check(&["--address", &address()]);
    assert_eq!(code, 1, "{out}");
    assert!(
        failures(&out)
            .iter()
            .any(|l| l.contains("cannot open the CA file")),
        "{out}"
    );
    write(&node.path("pki/ca.pem"), b"this is not a certificate\n");
    let (code, out, _) = node.check(&["--address", &address()]);
    assert_eq!(code, 1, "{out}");
    assert!(
        failures(&out).iter().any(|l| l.contains("CA file")),
        "{out}"
    );
    assert!(out.contains("fix: point ssl-ca (or tca)"), "{out}");
}

#[test]
fn a_bad_ssl_mode_is_reported_with_its_line_and_the_rest_still_checked() {
    let node = Node::new("");
    let cnf = std::fs::read_to_string(&node.cnf)
        .expect("read")
        .replace("ssl-mode = VERIFY_CA", "ssl-mode = PREFERRED");
    write(&node.cnf, cnf.as_bytes());
    let (code, out, _) = node.check(&["--address", &address()]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("Unrecognized ssl-mode option: 'PREFERRED'"),
        "{out}"
    );
    assert!(
        out.contains(&format!("at {}:8 [sst]", node.cnf.display())),
        "{out}"
    );
    assert!(
        out.contains("as a donor this node would send 4 files"),
        "{out}"
    );
}

/// Starts `check --listen` for `node` at `listen_at`.
fn listen(node: &Node, listen_at: &str) -> std::process::Child {
    Command::new(BIN)
        .args([
            "check",
            "--defaults-file",
            s(&node.cnf),
            "--listen",
            "--address",
            listen_at,
            "--timeout",
            "60",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start the listener")
}

/// `check --listen` at `listen_at` answers `check --peer` with the same
/// address; both pass, and the listener says where it listens.
fn probe_each_other(listen_at: &str) {
    let (joiner, donor) = (Node::new(""), Node::new(""));
    donor.share_pki(&joiner);
    let listener = listen(&joiner, listen_at);
    let (code, out, err) = donor.check(&[
        "--address",
        &address(),
        "--peer",
        listen_at,
        "--timeout",
        "60",
    ]);
    let listened = listener.wait_with_output().expect("listener output");
    let listened_out = String::from_utf8_lossy(&listened.stdout);
    assert_eq!(code, 0, "{out}\n{err}\nlistener:\n{listened_out}");
    assert!(
        out.contains("answered: rsrsync") && out.contains("TLS handshake ok"),
        "{out}"
    );
    assert!(out.contains("an SST from this node to"), "{out}");
    assert_eq!(listened.status.code(), Some(0), "{listened_out}");
    assert!(listened_out.contains("ok    probe"), "{listened_out}");
    assert!(
        listened_out.contains("to this node: the filesystem of"),
        "{listened_out}"
    );
    assert!(
        String::from_utf8_lossy(&listened.stderr).contains(&format!("listening on {listen_at}")),
        "the listener says where it listens"
    );
}

#[test]
fn two_nodes_probe_each_other() {
    probe_each_other(&address());
}

#[test]
fn two_nodes_probe_each_other_over_ipv6() {
    // Where IPv6 is off there is no [::1] to test on.
    let Ok(free) = TcpListener::bind("[::1]:0") else {
        return;
    };
    let listen_at = format!("[::1]:{}", free.local_addr().expect("addr").port());
    drop(free);
    probe_each_other(&listen_at);
}

#[test]
fn nodes_with_different_cas_fail_the_probe() {
    let (joiner, donor) = (Node::new(""), Node::new(""));
    let listen_at = address();
    let listener = listen(&joiner, &listen_at);
    let (code, out, _) = donor.check(&["--address", &address(), "--peer", &listen_at]);
    let listened = listener.wait_with_output().expect("listener output");
    let listened_out = String::from_utf8_lossy(&listened.stdout);
    assert_eq!(code, 1, "{out}");
    assert!(
        failures(&out)
            .iter()
            .any(|l| l.contains("invalid peer certificate")),
        "{out}"
    );
    assert!(out.contains("issued by a CA the other trusts"), "{out}");
    assert_eq!(listened.status.code(), Some(1), "{listened_out}");
    assert!(
        listened_out.contains("closed the connection during the TLS handshake"),
        "{listened_out}"
    );
}

#[test]
fn a_probe_between_tls_and_plain_fails_on_both_sides() {
    let joiner = Node::new("");
    let plain = Node::new("");
    plain.share_pki(&joiner);
    let cnf = std::fs::read_to_string(&plain.cnf)
        .expect("read")
        .replace("ssl-mode = VERIFY_CA", "ssl-mode = DISABLED");
    write(&plain.cnf, cnf.as_bytes());
    let listen_at = address();
    let listener = listen(&joiner, &listen_at);
    let (code, out, _) = plain.check(&["--address", &address(), "--peer", &listen_at]);
    let listened = listener.wait_with_output().expect("listener output");
    let listened_out = String::from_utf8_lossy(&listened.stdout);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("uses ssl-mode=VERIFY_CA, this node DISABLED"),
        "{out}"
    );
    assert_eq!(listened.status.code(), Some(1), "{listened_out}");
    assert!(
        listened_out.contains("uses ssl-mode=DISABLED, this node VERIFY_CA"),
        "{listened_out}"
    );
}

#[test]
fn a_peer_that_is_not_listening_fails_with_advice() {
    let node = Node::new("");
    let nobody = address();
    let (code, out, _) =
        node.check(&["--address", &address(), "--peer", &nobody, "--timeout", "1"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&format!("probing {nobody}")), "{out}");
    assert!(
        out.contains("run `wsrep_sst_rsrsync check --listen`"),
        "{out}"
    );
}

/// Every path under `root` with its size and modification time.
fn snapshot(root: &Path) -> Vec<(PathBuf, u64, std::time::SystemTime)> {
    let mut out = Vec::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir).expect("list") {
            let entry = entry.expect("entry");
            let meta = entry.metadata().expect("metadata");
            if meta.is_dir() {
                todo.push(entry.path());
            }
            out.push((entry.path(), meta.len(), meta.modified().expect("mtime")));
        }
    }
    out.sort();
    out
}

#[test]
fn dry_run_prints_the_plan_and_touches_nothing() {
    let node = Node::new("");
    let data = node.path("data");
    // Leftovers a real donor would remove, and a joiner that must not be
    // contacted.
    write(&data.join("tables_flushed"), b"stale");
    write(&data.join("sst_error"), b"stale");
    let joiner = TcpListener::bind("127.0.0.1:0").expect("bind");
    joiner.set_nonblocking(true).expect("nonblocking");
    let joiner_at = format!("127.0.0.1:{}", joiner.local_addr().expect("addr").port());
    let before = snapshot(node.dir.path());
    let (code, out, err) = run(&[
        "--role",
        "donor",
        "--address",
        &joiner_at,
        "--datadir",
        s(&data),
        "--defaults-file",
        s(&node.cnf),
        "--gtid",
        "6d1f4a2c-1111-2222-3333-444455556666:42",
        "--gtid-domain-id",
        "0",
        "--dry-run",
        "--rate",
        "1M",
        "--mysqld-args",
        "--wsrep-new-cluster",
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(
        snapshot(node.dir.path()),
        before,
        "nothing written or removed"
    );
    assert!(
        joiner.accept().is_err(),
        "the joiner must not have been contacted"
    );
    assert!(!out.lines().any(|l| l == "flush tables"), "{out}");
    for file in [
        "ibdata1",
        "ib_logfile0",
        "shop/orders.ibd",
        "mysql-bin.000002",
    ] {
        assert!(out.contains(file), "{file} in\n{out}");
    }
    assert!(!out.contains("mysql-bin.000001"), "only the newest binlog");
    assert!(out.contains("Total: 4 files"), "{out}");
    assert!(
        out.contains("Estimated time at 1.0 MiB/s: 0.0 s for the live round (no lock)"),
        "{out}"
    );
    assert!(out.contains("rsrsync-lock=short"), "{out}");
    assert!(out.contains("ssl-mode=VERIFY_CA"), "{out}");

    let (code, out, _) = run(&[
        "--role",
        "donor",
        "--address",
        &joiner_at,
        "--datadir",
        s(&data),
        "--defaults-file",
        s(&node.cnf),
        "--dry-run",
        "--json",
    ]);
    assert_eq!(code, 0);
    let doc: Value = serde_json::from_str(&out).expect("JSON plan");
    assert_eq!(doc["total_files"], 4);
    assert_eq!(doc["lock"], "short");
    assert_eq!(doc["files"].as_array().expect("files").len(), 4);
    assert_eq!(snapshot(node.dir.path()), before);
}

#[test]
fn dry_run_with_the_full_lock_estimates_the_lock() {
    let node = Node::new("rsrsync-lock = full");
    let (code, out, err) = run(&[
        "--role",
        "donor",
        "--address",
        "127.0.0.1:9",
        "--datadir",
        s(&node.path("data")),
        "--defaults-file",
        s(&node.cnf),
        "--dry-run",
        "--rate",
        "2G",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("mariadbd would hold FLUSH TABLES WITH READ LOCK for the whole copy"),
        "{out}"
    );
    assert!(
        out.contains("Estimated time at 2.0 GiB/s: 0.0 s (the read lock would be held"),
        "{out}"
    );
}

#[test]
fn dry_run_is_for_donors_and_keeps_the_donors_codes() {
    let node = Node::new("");
    let (code, _, err) = run(&[
        "--role",
        "joiner",
        "--address",
        "127.0.0.1:4444",
        "--datadir",
        s(&node.path("data")),
        "--dry-run",
    ]);
    assert_eq!(code, 22, "{err}");
    assert!(err.contains("wsrep_sst_rsrsync check"), "{err}");
    // No datadir: exit 2, as the donor.
    let (code, _, err) = run(&["--role", "donor", "--address", "h", "--dry-run"]);
    assert_eq!(code, 2, "{err}");
    // A key that does not match: exit 22, as the donor.
    let cnf = std::fs::read_to_string(&node.cnf)
        .expect("read")
        .replace("/key.pem", "/other-key.pem");
    write(&node.cnf, cnf.as_bytes());
    let (code, _, err) = run(&[
        "--role",
        "donor",
        "--address",
        "127.0.0.1:4444",
        "--datadir",
        s(&node.path("data")),
        "--defaults-file",
        s(&node.cnf),
        "--dry-run",
    ]);
    assert_eq!(code, 22, "{err}");
    assert!(err.contains("does not match the certificate"), "{err}");
}

#[test]
fn help_and_version() {
    let (code, out, _) = run(&["--help"]);
    assert_eq!(code, 0);
    for word in [
        "--role joiner|donor",
        "--dry-run",
        "check [OPTIONS]",
        "--peer",
        "--listen",
    ] {
        assert!(out.contains(word), "{word} in\n{out}");
    }
    let (code, out, _) = run(&["check", "--help"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("CHECKING A NODE"), "{out}");
    let (code, out, _) = run(&["--version"]);
    assert_eq!(code, 0);
    assert_eq!(
        out,
        format!(
            "wsrep_sst_rsrsync {} (rsrsync protocol 4)\n",
            env!("CARGO_PKG_VERSION")
        )
    );
    let (code, out, err) = run(&["check", "--no-such-option"]);
    assert_eq!((code, out.as_str()), (22, ""));
    assert!(err.contains("unknown option '--no-such-option'"), "{err}");
}

#[test]
fn the_rate_limit_is_shown_and_bounds_the_estimates() {
    let node = Node::new("rlimit = 1k");
    let bytes = 4096 + 2048 + 10_000 + 6;
    let (code, out, err) = node.check(&["--json", "--address", &address()]);
    assert_eq!(code, 0, "{out}\n{err}");
    let doc: Value = serde_json::from_str(&out).expect("JSON");
    let row = doc["settings"]
        .as_array()
        .expect("settings")
        .iter()
        .find(|s| s["key"] == "rlimit")
        .expect("rlimit row");
    assert_eq!(row["value"], "1 KiB/s (1024 bytes/s), not under the lock");
    assert_eq!(row["source"]["line"], 12);
    assert_eq!(doc["transfer"]["rate_limit"], 1024);
    assert_eq!(doc["transfer"]["estimated_seconds"], bytes as f64 / 1024.0);
    let (code, out, _) = node.check(&["--address", &address()]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("rlimit=1k: a donor sends at most 1 KiB/s, not under the lock; the copy of"),
        "{out}"
    );
    let data = node.path("data");
    let dry_run = |more: &[&str]| {
        let mut args = vec![
            "--role",
            "donor",
            "--address",
            "127.0.0.1:9",
            "--datadir",
            s(&data),
            "--defaults-file",
            s(&node.cnf),
            "--dry-run",
        ];
        args.extend_from_slice(more);
        run(&args)
    };
    let (code, out, err) = dry_run(&["--rate", "1M"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("rlimit         rate limit 1 KiB/s (rlimit=1k from "),
        "{out}"
    );
    assert!(
        out.contains(
            "Estimated time at 1.0 KiB/s (the rate limit, rlimit=1k): 15.8 s for the live round"
        ),
        "{out}"
    );
    let (_, out, _) = dry_run(&["--rate", "512"]);
    assert!(
        out.contains("Estimated time at 512 B/s: 31.5 s"),
        "the lower: {out}"
    );
    let (_, out, _) = dry_run(&["--json"]);
    let doc: Value = serde_json::from_str(&out).expect("JSON plan");
    assert_eq!(
        (doc["rlimit"].clone(), doc["estimate_rate"].clone()),
        (1024.into(), 1024.into())
    );
}

#[test]
fn a_bad_rate_limit_is_exit_22_naming_its_line() {
    let node = Node::new("rlimit = fast");
    let cnf = s(&node.cnf).to_string();
    let (code, out, _) = node.check(&["--address", &address()]);
    assert_eq!(code, 1, "{out}");
    let fails = failures(&out);
    assert!(
        fails
            .iter()
            .any(|l| l.contains(&format!("[sst] rlimit=fast ({cnf}:12 [sst]) is not a rate"))),
        "{out}"
    );
    // As an SST reads my.cnf (my_print_defaults when installed).
    let (code, _, err) = run(&[
        "--role",
        "donor",
        "--address",
        "127.0.0.1:9",
        "--datadir",
        s(&node.path("data")),
        "--defaults-file",
        &cnf,
        "--dry-run",
    ]);
    assert_eq!(code, 22, "{err}");
    assert!(
        err.contains(&format!("[sst] rlimit=fast ({cnf}:12 [sst]) is not a rate")),
        "{err}"
    );
}

/// `check --json` and a donor's `--dry-run --json` read every setting from
/// the one resolver: for a my.cnf that writes each key in another group
/// or file, they show the same value from the same place.
#[test]
fn check_and_the_dry_run_agree_on_every_setting() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let data = root.join("data");
    write(&data.join("ibdata1"), &[1u8; 4096]);
    write(&data.join("ib_logfile0"), &[2u8; 2048]);
    write(&data.join("logs/b.000001"), b"binlog");
    write(&data.join("logs/b.index"), b"./logs/b.000001\n");
    let included = root.join("conf.d/extra.cnf");
    write(
        &included,
        b"[sst]\nrsrsync-timeout = 30\nrlimit = 64m\n[mariadb]\ninnodb_undo_directory = undo\n",
    );
    let cnf = root.join("my.cnf");
    let text = format!(
        "[mysqld]\ndatadir = {data}\ninnodb_data_home_dir = {data}\n\
         [galera]\ninnodb_log_group_home_dir = redo\n\
         [server]\nlog-bin = logs/b\n\
         [mariadbd]\naria_log_dir_path = aria\ninnodb_data_file_path = ibdata1:12M:autoextend\n\
         [client-server]\nsst-max-binlogs = 2\n\
         [sst]\nbackup-threads = 3\nrsrsync-lock = short\nrsrsync-delta = off\n\
         rsrsync-compress = zstd\nrlimit-lock = on\nrsrsync-flush-timeout = 600\n\
         rsrsync-io-priority = Normal\n\
         !include {included}\n",
        data = data.display(),
        included = included.display()
    );
    write(&cnf, text.as_bytes());
    let (_, out, err) = run(&["check", "--defaults-file", s(&cnf), "--json"]);
    let check: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}\n{err}"));
    let (code, out, err) = run(&[
        "--role",
        "donor",
        "--address",
        &address(),
        "--datadir",
        s(&data),
        "--defaults-file",
        s(&cnf),
        "--dry-run",
        "--json",
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    let plan: Value = serde_json::from_str(&out).expect("JSON plan");
    let rows = |doc: &Value| -> Vec<(String, Value)> {
        doc["settings"]
            .as_array()
            .expect("settings")
            .iter()
            .map(|row| (row["key"].as_str().expect("key").to_string(), row.clone()))
            .collect()
    };
    let in_check = rows(&check);
    let in_plan = rows(&plan);
    assert!(in_plan.len() >= 20, "{in_plan:?}");
    let mut files = std::collections::BTreeSet::new();
    for (key, row) in &in_plan {
        let (_, shown) = in_check
            .iter()
            .find(|(k, _)| k == key || *k == format!("{key} (donor)"))
            .unwrap_or_else(|| panic!("check shows no {key}"));
        assert_eq!(shown["value"], row["value"], "{key}");
        assert_eq!(shown["source"], row["source"], "{key}");
        if let Some(file) = row["source"]["file"].as_str() {
            files.insert(format!("{file} {}", row["source"]["group"]));
        }
    }
    // The keys really came from many places.
    assert!(files.len() >= 7, "{files:?}");
    let value = |key: &str| {
        in_plan
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, row)| row["value"].as_str().expect("value").to_string())
            .unwrap_or_else(|| panic!("no {key}"))
    };
    assert_eq!(value("rsrsync-timeout"), "30 s");
    assert_eq!(
        value("innodb_undo_directory"),
        format!("{}/undo", data.display())
    );
    assert_eq!(value("backup-threads"), "3");
    assert_eq!(value("rsrsync-delta"), "off");
    assert_eq!(value("rsrsync-io-priority"), "normal");
    assert_eq!(value("rsrsync-lock-index"), "redo", "the default");
    assert!(
        value("rlimit").starts_with("64 MiB/s"),
        "{}",
        value("rlimit")
    );
}
