//! Faults between two real processes: damaged, stalled and cut streams
//! (through a loopback proxy that does it on purpose), a killed donor, a
//! full disk, leftovers of a crashed SST, signals. Every case must end
//! both sides within a bound, never with a final line on bad data.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

/// A short inactivity timeout so stalls are detected quickly.
const FAST_CNF: &str =
    "[mysqld]\nlog-bin=mysql-bin\n[sst]\nrsrsync-timeout=3\nrsrsync-initial-timeout=10\n";

/// A donor datadir with `files` database files of `mib` MiB each.
fn fill_donor(data: &Path, files: usize, mib: usize) {
    for i in 0..files {
        write(
            &data.join(format!("db/t{i}.ibd")),
            &noise(mib << 20, i as u64 + 1),
        );
    }
}

struct Outcome {
    donor: (i32, Vec<String>, String),
    joiner: (i32, Vec<String>, String),
    joiner_secs: f64,
}

/// An SST through a proxy applying `fault`; both sides get `cnf`.
fn faulty_sst(root: &Path, fault: Fault, files: usize, mib: usize) -> Outcome {
    let (dcnf, ddata) = node(root, "donor", FAST_CNF);
    let (jcnf, jdata) = node(root, "joiner", FAST_CNF);
    fill_donor(&ddata, files, mib);
    let me = std::process::id().to_string();
    let started = Instant::now();
    let joiner = Sst::start(&joiner_args(&jcnf, &jdata, &me), &[]);
    let (auth, address) = split_ready(&joiner.line());
    let (target, path) = address.split_once('/').expect("path");
    let proxy = Proxy::start(target, fault);
    let via = format!("127.0.0.1:{}/{path}", proxy.port);
    let donor = donor(&dcnf, &ddata, &via, &auth, false);
    let _ = answer_flush(&donor, &ddata);
    let joiner = joiner.finish(Duration::from_secs(60));
    let joiner_secs = started.elapsed().as_secs_f64();
    let donor = donor.finish(Duration::from_secs(60));
    Outcome {
        donor,
        joiner,
        joiner_secs,
    }
}

#[test]
fn a_flipped_bit_in_flight_fails_the_sst() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // Byte 2,000,000 of a data stream is inside the second block's payload.
    let out = faulty_sst(tmp.path(), Fault::Flip(2_000_000), 2, 8);
    assert_eq!(out.joiner.0, 32, "{}", out.joiner.2);
    assert!(out.joiner.1.is_empty(), "no state line: {:?}", out.joiner.1);
    assert!(
        out.joiner.2.contains("arrived corrupted (hash mismatch)"),
        "{}",
        out.joiner.2
    );
    assert_ne!(out.donor.0, 0, "{}", out.donor.2);
    assert!(
        !out.donor.1.iter().any(|l| l.starts_with("done")),
        "{:?}",
        out.donor.1
    );
}

#[test]
fn a_stalled_network_is_detected_within_the_inactivity_timeout() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = faulty_sst(tmp.path(), Fault::Stall(2_000_000), 2, 8);
    assert_eq!(out.joiner.0, 32, "{}", out.joiner.2);
    assert!(out.joiner.1.is_empty());
    assert!(
        out.joiner
            .2
            .contains("no progress within the inactivity timeout"),
        "{}",
        out.joiner.2
    );
    // rsrsync-timeout=3: detection well before the 60 s bound.
    assert!(
        out.joiner_secs < 15.0,
        "joiner took {:.1} s",
        out.joiner_secs
    );
    assert_eq!(out.donor.0, 255, "{}", out.donor.2);
}

#[test]
fn a_cut_connection_fails_both_sides_at_once() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = faulty_sst(tmp.path(), Fault::Cut(2_000_000), 2, 8);
    assert_eq!(out.joiner.0, 32, "{}", out.joiner.2);
    assert!(out.joiner.1.is_empty());
    assert!(
        out.joiner_secs < 10.0,
        "joiner took {:.1} s",
        out.joiner_secs
    );
    assert_eq!(out.donor.0, 255, "{}", out.donor.2);
}

/// Total bytes of regular files under `dir`.
fn bytes_under(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => bytes_under(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map_or(0, |m| m.len()),
            _ => 0,
        })
        .sum()
}

#[test]
fn a_killed_donor_fails_the_joiner_quickly_and_a_retry_succeeds() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (dcnf, ddata) = node(tmp.path(), "donor", FAST_CNF);
    let (jcnf, jdata) = node(tmp.path(), "joiner", FAST_CNF);
    fill_donor(&ddata, 8, 32);
    let me = std::process::id().to_string();
    let joiner = Sst::start(&joiner_args(&jcnf, &jdata, &me), &[]);
    let (auth, address) = split_ready(&joiner.line());
    let mut donor = donor(&dcnf, &ddata, &address, &auth, false);
    answer_flush(&donor, &ddata);
    // Wait until data arrives, then kill the donor outright.
    let deadline = Instant::now() + Duration::from_secs(30);
    while bytes_under(&jdata.join("db")) < 1 << 20 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    donor.child.kill().expect("SIGKILL the donor");
    let killed = Instant::now();
    let (code, lines, log) = joiner.finish(Duration::from_secs(30));
    let detect = killed.elapsed();
    assert_eq!(code, 32, "{log}");
    assert!(
        lines.is_empty(),
        "no state line after a dead donor: {lines:?}"
    );
    assert!(detect < Duration::from_secs(5), "detected after {detect:?}");
    let _ = donor.child.wait();

    // The retry, over whatever the killed SST left behind, gives the
    // donor's files exactly.
    let joiner = Sst::start(&joiner_args(&jcnf, &jdata, &me), &[]);
    let (auth, address) = split_ready(&joiner.line());
    let donor = common::donor(&dcnf, &ddata, &address, &auth, false);
    answer_flush(&donor, &ddata);
    let (dcode, _, dlog) = donor.finish(Duration::from_secs(60));
    let (jcode, jlines, jlog) = joiner.finish(Duration::from_secs(60));
    assert_eq!((dcode, jcode), (0, 0), "{dlog}\n{jlog}");
    assert_eq!(jlines, [STATE]);
    for i in 0..8 {
        let name = format!("db/t{i}.ibd");
        assert!(
            std::fs::read(jdata.join(&name)).expect("copied")
                == std::fs::read(ddata.join(&name)).expect("source"),
            "{name} differs after the retry"
        );
    }
}

#[test]
fn leftovers_of_a_crashed_sst_do_not_matter() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (dcnf, ddata) = node(tmp.path(), "donor", FAST_CNF);
    let (jcnf, jdata) = node(tmp.path(), "joiner", FAST_CNF);
    fill_donor(&ddata, 2, 3);
    // A dead SST's pid file, progress marker, staging dir, half a file.
    write(&jdata.join("wsrep_sst.pid"), b"999999999\n");
    write(&jdata.join("sst_in_progress"), b"");
    write(
        &jdata.join(".rsrsync_binlogs/mysql-bin.000001"),
        b"half a binlog",
    );
    let half = std::fs::read(ddata.join("db/t0.ibd")).expect("source");
    write(&jdata.join("db/t0.ibd"), &half[..half.len() / 2]);
    let me = std::process::id().to_string();
    let joiner = Sst::start(&joiner_args(&jcnf, &jdata, &me), &[]);
    let (auth, address) = split_ready(&joiner.line());
    let donor = donor(&dcnf, &ddata, &address, &auth, false);
    answer_flush(&donor, &ddata);
    let (dcode, _, dlog) = donor.finish(Duration::from_secs(60));
    let (jcode, jlines, jlog) = joiner.finish(Duration::from_secs(60));
    assert_eq!((dcode, jcode), (0, 0), "{dlog}\n{jlog}");
    assert_eq!(jlines, [STATE]);
    assert_eq!(
        std::fs::read(jdata.join("db/t0.ibd")).expect("copied"),
        half
    );
    for gone in ["wsrep_sst.pid", "sst_in_progress", ".rsrsync_binlogs"] {
        assert!(!jdata.join(gone).exists(), "{gone} left behind");
    }
}

#[test]
fn a_full_disk_on_the_joiner_names_the_file() {
    // Mounting a small tmpfs needs root; the suite runs as root (bin/test).
    let tmp = tempfile::tempdir().expect("tempdir");
    let (dcnf, ddata) = node(tmp.path(), "donor", FAST_CNF);
    let (jcnf, jdata) = node(tmp.path(), "joiner", FAST_CNF);
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=4m", "tmpfs"])
        .arg(&jdata)
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        mounted,
        "mounting a 4 MiB tmpfs failed: this test needs root"
    );
    fill_donor(&ddata, 1, 16);
    let me = std::process::id().to_string();
    let joiner = Sst::start(&joiner_args(&jcnf, &jdata, &me), &[]);
    let (auth, address) = split_ready(&joiner.line());
    let donor = donor(&dcnf, &ddata, &address, &auth, false);
    answer_flush(&donor, &ddata);
    let (jcode, jlines, jlog) = joiner.finish(Duration::from_secs(60));
    let (dcode, _, _) = donor.finish(Duration::from_secs(60));
    let _ = Command::new("umount").arg(&jdata).status();
    assert_eq!(jcode, 32, "{jlog}");
    assert!(jlines.is_empty());
    assert!(
        jlog.contains("db/t0.ibd: no space left on device"),
        "names the file and the cause: {jlog}"
    );
    assert_ne!(dcode, 0);
}

#[test]
fn sigterm_on_the_donor_cleans_up_and_exits_3() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (dcnf, ddata) = node(tmp.path(), "donor", FAST_CNF);
    let (jcnf, jdata) = node(tmp.path(), "joiner", FAST_CNF);
    let me = std::process::id().to_string();
    let joiner = Sst::start(&joiner_args(&jcnf, &jdata, &me), &[]);
    let (auth, address) = split_ready(&joiner.line());
    let donor = donor(&dcnf, &ddata, &address, &auth, false);
    // The donor waits for mariadbd to flush tables: stop it there.
    assert_eq!(donor.line(), "flush tables");
    assert!(ddata.join("wsrep_sst.pid").exists());
    Command::new("kill")
        .args(["-TERM", &donor.child.id().to_string()])
        .status()
        .expect("kill");
    let (code, lines, log) = donor.finish(Duration::from_secs(10));
    assert_eq!(code, 3, "{log}");
    assert!(lines.is_empty(), "no continue/done: {lines:?}");
    assert!(!ddata.join("wsrep_sst.pid").exists(), "pid file removed");
    let (jcode, jlines, _) = joiner.finish(Duration::from_secs(30));
    assert_eq!(jcode, 32);
    assert!(jlines.is_empty());
}
