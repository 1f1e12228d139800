//! Black-box tests of the built binary: argv in, stdout lines, stderr log
//! lines, exit codes and the files it leaves (or must not leave) behind.
//! The test plays mariadbd: it reads the joiner's `ready` line, starts the
//! donor with that address and secret, and answers `flush tables`.

use std::io::Write;
use std::process::Command;
use std::time::Duration;

mod common;

use common::*;

#[test]
fn sst_between_two_binaries() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (dcnf, ddata) = node(tmp.path(), "donor", CNF);
    let (jcnf, jdata) = node(tmp.path(), "joiner", CNF);
    write(&ddata.join("ibdata1"), &vec![7u8; 3 << 20]);
    write(&ddata.join("ib_logfile0"), b"redo");
    write(&ddata.join("db/t.ibd"), &vec![9u8; 100_000]);
    write(&ddata.join("mysql-bin.000003"), b"binlog");
    write(&ddata.join("mysql-bin.index"), b"./mysql-bin.000003\n");
    let me = std::process::id().to_string();
    let joiner = Sst::start(&joiner_args(&jcnf, &jdata, &me), &[]);
    let (auth, address) = split_ready(&joiner.line());
    assert!(address.ends_with("/rsrsync_sst//4"), "{address}");
    assert!(jdata.join("sst_in_progress").exists());
    assert!(jdata.join("wsrep_sst.pid").exists());

    let donor = donor(&dcnf, &ddata, &address, &auth, false);
    let first = answer_flush(&donor, &ddata);
    let (dcode, dlines, dlog) = donor.finish(Duration::from_secs(60));
    let (jcode, jlines, jlog) = joiner.finish(Duration::from_secs(60));
    assert_eq!(
        (dcode, jcode),
        (0, 0),
        "donor log:\n{dlog}\njoiner log:\n{jlog}"
    );
    assert_eq!(first.as_deref(), Some("flush tables"));
    assert_eq!(dlines, ["continue".to_string(), format!("done {STATE}")]);
    assert_eq!(jlines, [STATE]);
    for log in [&dlog, &jlog] {
        assert!(
            log.lines().all(|l| l.starts_with("WSREP_SST: [")),
            "every stderr line is a WSREP_SST line:\n{log}"
        );
    }
    assert!(jlog.contains("rsrsync SST completed on joiner"), "{jlog}");
    assert!(dlog.contains("rsrsync SST completed on donor"), "{dlog}");
    assert!(jlog.contains("Transfer summary: "), "{jlog}");
    assert_eq!(
        std::fs::read(jdata.join("db/t.ibd")).expect("copied"),
        vec![9u8; 100_000]
    );
    assert_eq!(
        std::fs::read_to_string(jdata.join("mysql-bin.index")).expect("index"),
        "./mysql-bin.000003\n"
    );
    for gone in ["sst_in_progress", "wsrep_sst.pid", "tables_flushed"] {
        assert!(
            !jdata.join(gone).exists() && !ddata.join(gone).exists(),
            "{gone}"
        );
    }
}

#[test]
fn ipv6_addresses_keep_their_brackets() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (dcnf, ddata) = node(tmp.path(), "donor", CNF);
    let (jcnf, jdata) = node(tmp.path(), "joiner", CNF);
    write(&ddata.join("db/t.ibd"), b"over IPv6");
    let me = std::process::id().to_string();
    let mut args = joiner_args(&jcnf, &jdata, &me);
    args[3] = "[::1]:0";
    let joiner = Sst::start(&args, &[]);
    let (auth, address) = split_ready(&joiner.line());
    assert!(address.starts_with("[::1]:"), "{address}");
    let donor = donor(&dcnf, &ddata, &address, &auth, false);
    answer_flush(&donor, &ddata);
    let (dcode, _, dlog) = donor.finish(Duration::from_secs(60));
    let (jcode, jlines, jlog) = joiner.finish(Duration::from_secs(60));
    assert_eq!((dcode, jcode), (0, 0), "{dlog}\n{jlog}");
    assert_eq!(jlines, [STATE]);
    assert_eq!(
        std::fs::read(jdata.join("db/t.ibd")).expect("copied"),
        b"over IPv6"
    );
}

#[test]
fn progress_lines_only_when_mariadbd_asks() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (dcnf, ddata) = node(tmp.path(), "donor", CNF);
    let (jcnf, jdata) = node(tmp.path(), "joiner", CNF);
    write(&ddata.join("db/t.ibd"), &noise(3 << 20, 5));
    let me = std::process::id().to_string();
    let mut args = joiner_args(&jcnf, &jdata, &me);
    args[11] = "1"; // --progress 1
    let joiner = Sst::start(&args, &[]);
    let (auth, address) = split_ready(&joiner.line());
    let donor = donor(&dcnf, &ddata, &address, &auth, false);
    answer_flush(&donor, &ddata);
    let (dcode, dlines, dlog) = donor.finish(Duration::from_secs(60));
    let (jcode, jlines, jlog) = joiner.finish(Duration::from_secs(60));
    assert_eq!((dcode, jcode), (0, 0), "{dlog}\n{jlog}");
    // The joiner was asked: a stage per round (the live copy, then the
    // locked check), each `total <bytes>` then `complete <bytes>` lines;
    // the state line last.
    assert_eq!(jlines.last().map(String::as_str), Some(STATE), "{jlines:?}");
    let progress = &jlines[..jlines.len() - 1];
    let totals = progress.iter().filter(|l| *l == "total 3145728").count();
    assert_eq!(totals, 2, "{jlines:?}");
    assert_eq!(progress.first().map(String::as_str), Some("total 3145728"));
    assert!(
        progress
            .iter()
            .all(|l| l == "total 3145728" || l.starts_with("complete ")),
        "{jlines:?}"
    );
    // The donor was not (--progress 0): protocol lines only.
    assert_eq!(dlines, ["continue".to_string(), format!("done {STATE}")]);
    assert!(
        jlog.contains("donor lock held") || dlog.contains("donor lock held"),
        "{dlog}"
    );
}

#[test]
fn a_mariadb_11_donor_reads_the_secret_from_stdin() {
    // MariaDB 11.x sets no WSREP_SST_OPT_REMOTE_AUTH: it writes the joiner's
    // user and secret on the donor's stdin and closes it.
    let tmp = tempfile::tempdir().expect("tempdir");
    let (dcnf, ddata) = node(tmp.path(), "donor", CNF);
    let (jcnf, jdata) = node(tmp.path(), "joiner", CNF);
    write(&ddata.join("db/t.ibd"), b"from an 11.x donor");
    let me = std::process::id().to_string();
    let joiner = Sst::start(&joiner_args(&jcnf, &jdata, &me), &[]);
    let (auth, address) = split_ready(&joiner.line());
    let (user, secret) = auth.split_once(':').expect("user:secret");
    assert_eq!(user, "rsrsync", "a user part, or 11.x passes no secret");
    let stdin = format!(
        "sst_user=wsrep.sst.261121_node1\nsst_password=x\nsst_remote_user={user}\nsst_remote_password={secret}\n"
    );
    let donor = donor_with(&dcnf, &ddata, &address, false, &[], Some(&stdin));
    answer_flush(&donor, &ddata);
    let (dcode, dlines, dlog) = donor.finish(Duration::from_secs(60));
    let (jcode, jlines, jlog) = joiner.finish(Duration::from_secs(60));
    assert_eq!((dcode, jcode), (0, 0), "{dlog}\n{jlog}");
    assert_eq!(dlines, ["continue".to_string(), format!("done {STATE}")]);
    assert_eq!(jlines, [STATE]);
    assert!(!dlog.contains(secret), "the secret is never logged");
}

#[test]
fn ist_between_two_binaries() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (dcnf, ddata) = node(tmp.path(), "donor", CNF);
    let (jcnf, jdata) = node(tmp.path(), "joiner", CNF);
    write(&jdata.join("mysql-bin.000009"), b"joiner's binlog");
    let me = std::process::id().to_string();
    let joiner = Sst::start(&joiner_args(&jcnf, &jdata, &me), &[]);
    let (auth, address) = split_ready(&joiner.line());
    let donor = donor(&dcnf, &ddata, &address, &auth, true);
    let (dcode, dlines, dlog) = donor.finish(Duration::from_secs(60));
    let (jcode, jlines, jlog) = joiner.finish(Duration::from_secs(60));
    assert_eq!((dcode, jcode), (0, 0), "{dlog}\n{jlog}");
    assert_eq!(dlines, ["continue".to_string(), format!("done {STATE}")]);
    assert_eq!(jlines, [STATE]);
    assert!(dlog.contains("Bypassing state dump."), "{dlog}");
    assert!(jlog.contains("rsrsync IST completed on joiner"), "{jlog}");
    assert!(
        jdata.join("mysql-bin.000009").exists(),
        "binlogs survive IST"
    );
}

#[test]
fn joiner_exits_32_when_its_parent_dies_and_cleans_up() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (jcnf, jdata) = node(tmp.path(), "joiner", CNF);
    let mut parent = Command::new("sleep")
        .arg("60")
        .spawn()
        .expect("fake mariadbd");
    let pid = parent.id().to_string();
    let joiner = Sst::start(&joiner_args(&jcnf, &jdata, &pid), &[]);
    let (_, address) = split_ready(&joiner.line());
    parent.kill().expect("kill");
    parent.wait().expect("reap");
    let (code, lines, log) = joiner.finish(Duration::from_secs(10));
    assert_eq!(code, 32, "{log}");
    assert!(lines.is_empty(), "no final line: {lines:?}");
    assert!(
        log.contains(&format!(
            "Parent mysqld process (PID: {pid}) terminated unexpectedly."
        )),
        "{log}"
    );
    for gone in ["sst_in_progress", "wsrep_sst.pid"] {
        assert!(!jdata.join(gone).exists(), "{gone} left behind");
    }
    let port = address.split(['/', ':']).nth(1).expect("port");
    std::net::TcpListener::bind(format!("127.0.0.1:{port}")).expect("the port is free again");
}

#[test]
fn signals_give_the_scripts_exit_codes() {
    for (signal, code) in [("TERM", 3), ("INT", 3), ("HUP", 32)] {
        let tmp = tempfile::tempdir().expect("tempdir");
        let (jcnf, jdata) = node(tmp.path(), "joiner", CNF);
        let me = std::process::id().to_string();
        let joiner = Sst::start(&joiner_args(&jcnf, &jdata, &me), &[]);
        joiner.line();
        let status = Command::new("kill")
            .args([format!("-{signal}"), joiner.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        let (got, lines, log) = joiner.finish(Duration::from_secs(10));
        assert_eq!(got, code, "SIG{signal}: {log}");
        assert!(lines.is_empty());
        assert!(!jdata.join("sst_in_progress").exists(), "SIG{signal}");
        assert!(!jdata.join("wsrep_sst.pid").exists(), "SIG{signal}");
    }
}

#[test]
fn argument_and_environment_errors() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (cnf, data) = node(tmp.path(), "n", CNF);
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let (code, lines, log) = Sst::start(args, env).finish(Duration::from_secs(60));
        assert!(
            lines.is_empty(),
            "nothing on stdout for {args:?}: {lines:?}"
        );
        (code, log)
    };
    let (code, log) = run(&["--role", "joiner", "--address", "127.0.0.1:0"], &[]);
    assert_eq!(code, 2, "{log}");
    assert!(log.contains("'--datadir'"), "{log}");
    let (code, _) = run(&["--role", "witness", "--datadir", s(&data)], &[]);
    assert_eq!(code, 22);
    let base = [
        "--defaults-file",
        s(&cnf),
        "--datadir",
        s(&data),
        "--gtid",
        GTID,
    ];
    let mut args = vec!["--role", "donor", "--address", "127.0.0.1:9/rsrsync_sst//1"];
    args.extend(base);
    let (code, log) = run(&args, &[("WSREP_SST_OPT_REMOTE_AUTH", ":ab")]);
    assert_eq!(code, 71, "protocol version mismatch: {log}");
    let mut args = vec!["--role", "donor", "--address", "127.0.0.1:9/rsrsync_sst//4"];
    args.extend(base);
    let (code, log) = run(&args, &[]);
    assert_eq!(code, 22, "no secret from the joiner: {log}");
    let bad_ssl = tmp.path().join("ssl.cnf");
    write(&bad_ssl, b"[sst]\nssl-mode=SOMETIMES\n");
    let (code, log) = run(
        &[
            "--role",
            "joiner",
            "--address",
            "127.0.0.1:0",
            "--datadir",
            s(&data),
            "--defaults-file",
            s(&bad_ssl),
        ],
        &[],
    );
    assert_eq!(code, 22, "{log}");
}

#[test]
fn busy_port_is_exit_16() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (cnf, data) = node(tmp.path(), "n", CNF);
    let holder = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = format!("127.0.0.1:{}", holder.local_addr().expect("addr").port());
    let me = std::process::id().to_string();
    let mut args = joiner_args(&cnf, &data, &me);
    args[3] = &address;
    let (code, lines, log) = Sst::start(&args, &[]).finish(Duration::from_secs(30));
    assert_eq!(code, 16, "{log}");
    assert!(lines.is_empty());
    assert!(log.contains(&address[10..]), "names the port: {log}");
}

#[test]
fn donor_exits_255_on_sst_error() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (dcnf, ddata) = node(tmp.path(), "donor", CNF);
    let (jcnf, jdata) = node(tmp.path(), "joiner", CNF);
    let me = std::process::id().to_string();
    let joiner = Sst::start(&joiner_args(&jcnf, &jdata, &me), &[]);
    let (auth, address) = split_ready(&joiner.line());
    let donor = donor(&dcnf, &ddata, &address, &auth, false);
    assert_eq!(donor.line(), "flush tables");
    std::fs::File::create(ddata.join("sst_error"))
        .and_then(|mut f| f.flush())
        .expect("sst_error");
    let (code, lines, log) = donor.finish(Duration::from_secs(30));
    assert_eq!(code, 255, "{log}");
    assert!(
        lines.is_empty(),
        "no continue/done after a failed flush: {lines:?}"
    );
    assert!(!ddata.join("sst_error").exists());
    // The joiner never gets the state: it fails too (the donor hung up).
    let (jcode, jlines, _) = joiner.finish(Duration::from_secs(60));
    assert_ne!(jcode, 0);
    assert!(jlines.is_empty());
}
