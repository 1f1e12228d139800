//! In-process donor ↔ joiner over loopback, on temporary datadirs. The
//! test plays mariadbd: it reads both roles' protocol lines, hands the
//! joiner's `ready` address to the donor, and answers `flush tables` by
//! writing `tables_flushed`, as the server does.

use std::io::Write;
use std::net::TcpStream;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::time::Duration;

use anyhow::Result;

use super::test_support::{STATE, noise, settings, tree, write};
use super::{Report, donor, joiner};
use crate::config::Settings;
use crate::signals::Stop;
use crate::sst_io::Mariadbd;

/// What happened in one SST.
struct Outcome {
    joiner: Result<Report>,
    donor: Result<Report>,
    joiner_lines: Vec<String>,
    donor_lines: Vec<String>,
}

/// The my.cnf both sides read, plus `extra` lines for `[sst]`.
fn cnf(extra: &str) -> String {
    format!("[mysqld]\nlog-bin=mysql-bin\n[sst]\nbackup-threads=3\nrsrsync-timeout=20\n{extra}")
}

/// Runs a joiner on `joiner_dir` and a donor on `donor_dir`; `before_donor`
/// runs once the joiner is ready (strangers knock then).
fn sst(
    donor_dir: &Path,
    joiner_dir: &Path,
    bypass: bool,
    before_donor: impl FnOnce(&str),
) -> Outcome {
    sst_with(
        donor_dir,
        joiner_dir,
        bypass,
        &cnf(""),
        before_donor,
        |_| {},
        |_| {},
    )
}

/// [`sst`] with `cnf` on both sides, `tweak` applied to the donor's
/// settings, and `on_flush` changing the donor's datadir when its mariadbd
/// is asked to flush tables (after the live rounds, before the lock is
/// reported taken).
fn sst_with(
    donor_dir: &Path,
    joiner_dir: &Path,
    bypass: bool,
    cnf: &str,
    before_donor: impl FnOnce(&str),
    tweak: impl FnOnce(&mut Settings),
    on_flush: impl FnOnce(&Path),
) -> Outcome {
    crate::logger::init(true);
    let joiner_settings = settings(
        &[
            "--role",
            "joiner",
            "--address",
            "127.0.0.1:0",
            "--datadir",
            joiner_dir.to_str().expect("utf-8"),
        ],
        cnf,
        &[],
    );
    let (mut joiner_out, joiner_rx) = Mariadbd::channel();
    let joiner =
        std::thread::spawn(move || joiner::run(&joiner_settings, &Stop::new(), &mut joiner_out));
    let ready = joiner_rx
        .recv_timeout(Duration::from_secs(20))
        .expect("ready line");
    let published = ready.strip_prefix("ready ").expect("ready prefix");
    let (auth, address) = published.rsplit_once('@').expect("secret in the address");
    before_donor(address);

    let donor_dir_text = donor_dir.to_str().expect("utf-8").to_string();
    let mut words = vec![
        "--role",
        "donor",
        "--address",
        address,
        "--datadir",
        &donor_dir_text,
        "--gtid",
        "6d1f4a2c-1111-2222-3333-444455556666:42",
        "--gtid-domain-id",
        "0",
    ];
    if bypass {
        words.push("--bypass");
    }
    let mut donor_settings = settings(
        &words,
        cnf,
        &[("WSREP_SST_OPT_REMOTE_AUTH", auth.to_string())],
    );
    tweak(&mut donor_settings);
    let (mut donor_out, donor_rx) = Mariadbd::channel();
    let donor =
        std::thread::spawn(move || donor::run(&donor_settings, &Stop::new(), &mut donor_out));
    let donor_lines = play_mariadbd(&donor_rx, donor_dir, on_flush);
    let donor = donor.join().expect("donor thread");
    let joiner = joiner.join().expect("joiner thread");
    let mut joiner_lines = vec![ready.clone()];
    joiner_lines.extend(joiner_rx.try_iter());
    Outcome {
        joiner,
        donor,
        joiner_lines,
        donor_lines,
    }
}

/// [`sst`] where every live round is long enough to be followed by
/// another (the donor still stops when the rounds do not shrink).
fn sst_eager(donor_dir: &Path, joiner_dir: &Path, on_flush: impl FnOnce(&Path)) -> Outcome {
    sst_with(
        donor_dir,
        joiner_dir,
        false,
        &cnf(""),
        |_| {},
        |s| s.live_settled = Duration::ZERO,
        on_flush,
    )
}

/// Asserts that the joiner holds every file of the donor as the donor has
/// it now, but the donor's own state files and binlog index (not sent)
/// and its older binlog (only the newest is).
fn assert_mirrors(donor_dir: &Path, joiner_dir: &Path) {
    let (donor_tree, joiner_tree) = (tree(donor_dir), tree(joiner_dir));
    for (path, hash) in &donor_tree {
        if !matches!(
            path.as_str(),
            "grastate.dat" | "galera.cache" | "mysql-bin.000001" | "mysql-bin.index"
        ) {
            assert_eq!(joiner_tree.get(path), Some(hash), "{path}");
        }
    }
}

/// The donor's mariadbd: answers `flush tables` (after `on_flush`),
/// collects the lines.
fn play_mariadbd(
    rx: &Receiver<String>,
    datadir: &Path,
    on_flush: impl FnOnce(&Path),
) -> Vec<String> {
    let mut lines = Vec::new();
    let mut on_flush = Some(on_flush);
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(60)) {
        if line == "flush tables" {
            if let Some(change) = on_flush.take() {
                change(datadir);
            }
            // Like the server: a temporary file renamed into place.
            let tmp = datadir.join("tables_flushed.tmp");
            std::fs::write(&tmp, format!("{STATE}\n")).expect("write state");
            std::fs::rename(&tmp, datadir.join("tables_flushed")).expect("rename");
        }
        lines.push(line);
    }
    lines
}

/// A donor datadir with every class, odd names, and binlogs; `sparse`
/// adds a 2 GiB file with three data extents.
fn donor_fixture(root: &Path, sparse: bool) -> PathBuf {
    let d = root.join("donor");
    write(&d.join("ibdata1"), &noise(3 << 20, 1));
    write(&d.join("ib_logfile0"), &noise(700_000, 2));
    write(&d.join("undo001"), &noise(100_000, 3));
    write(&d.join("aria_log_control"), b"control");
    write(&d.join("aria_log.00000001"), &noise(9000, 4));
    write(&d.join("grastate.dat"), b"donor's own state");
    write(&d.join("galera.cache"), &noise(5000, 5));
    write(&d.join("mysql/db.opt"), b"opt");
    write(&d.join("mysql/user.MAD"), &noise(20_000, 6));
    write(&d.join("db1/t1.ibd"), &noise((5 << 20) + 123, 7));
    write(&d.join("db1/t1.frm"), b"frm");
    write(&d.join("db1/t#P#p0.ibd"), &noise(65536, 8));
    write(&d.join("db1/t#P#p1.ibd"), &noise(1, 9));
    write(&d.join("db1/empty.MYD"), b"");
    write(&d.join("d@0020b/x y.frm"), b"space");
    write(&d.join("ünï/cødé.ibd"), &noise(4096, 10));
    std::fs::create_dir_all(d.join("emptydb")).expect("mkdir");
    write(&d.join("mysql-bin.000001"), &noise(3000, 11));
    write(&d.join("mysql-bin.000002"), &noise(400, 12));
    write(
        &d.join("mysql-bin.index"),
        b"./mysql-bin.000001\n./mysql-bin.000002\n",
    );
    if !sparse {
        return d;
    }
    let sparse = std::fs::File::create(d.join("db1/sparse.ibd")).expect("create");
    sparse.set_len(2 << 30).expect("size");
    for (offset, seed) in [(0u64, 13u64), (1 << 30, 14), ((2 << 30) - 5000, 15)] {
        sparse
            .write_all_at(&noise(5000, seed), offset)
            .expect("write");
    }
    d
}

#[test]
fn full_sst_mirrors_the_donor_and_keeps_the_joiners_own_files() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let donor_dir = donor_fixture(tmp.path(), true);
    let j = tmp.path().join("joiner");
    // The joiner's leftovers: stale databases and files, its own state.
    write(&j.join("grastate.dat"), b"joiner's own state");
    write(&j.join("galera.cache"), b"joiner's gcache");
    write(&j.join("ib_logfile1"), b"not in any class");
    write(&j.join("ibdata2"), b"stale system tablespace");
    write(&j.join("stale_db/t.ibd"), b"stale");
    write(&j.join("db1/dropped.ibd"), b"stale table");
    write(&j.join("db1/t1.ibd"), &noise(10 << 20, 99));
    write(&j.join("mysql-bin.000007"), b"old binlog");
    write(&j.join("mysql-bin.000008"), b"unlisted old binlog");
    write(&j.join("mysql-bin.index"), b"./mysql-bin.000007\n");

    let outcome = sst(&donor_dir, &j, false, |_| {});
    outcome.donor.expect("donor succeeds");
    outcome.joiner.expect("joiner succeeds");
    assert_eq!(
        outcome.donor_lines,
        ["flush tables", "continue", &format!("done {STATE}")]
    );
    assert_eq!(outcome.joiner_lines.len(), 2, "{:?}", outcome.joiner_lines);
    assert!(outcome.joiner_lines[0].starts_with("ready rsrsync:"));
    assert!(
        outcome.joiner_lines[0].ends_with(&format!("/rsrsync_sst//{}", crate::protocol::VERSION))
    );
    assert_eq!(outcome.joiner_lines[1], STATE);

    let (donor_tree, joiner_tree) = (tree(&donor_dir), tree(&j));
    for (path, hash) in &donor_tree {
        let expected_on_joiner = !matches!(
            path.as_str(),
            "grastate.dat" | "galera.cache" | "mysql-bin.000001" | "mysql-bin.index"
        );
        if expected_on_joiner {
            assert_eq!(joiner_tree.get(path), Some(hash), "{path}");
        }
    }
    // Not transferred, not deleted.
    assert_eq!(
        std::fs::read(j.join("grastate.dat")).expect("kept"),
        b"joiner's own state"
    );
    assert_eq!(
        std::fs::read(j.join("galera.cache")).expect("kept"),
        b"joiner's gcache"
    );
    assert!(j.join("ib_logfile1").exists());
    // Deleted: what the donor lacks, in the classes the donor sends.
    for gone in [
        "ibdata2",
        "stale_db",
        "db1/dropped.ibd",
        "mysql-bin.000007",
        "mysql-bin.000008",
        "sst_in_progress",
        "wsrep_sst.pid",
        ".rsrsync_binlogs",
    ] {
        assert!(!j.join(gone).exists(), "{gone} should be gone");
    }
    // Only the newest binlog (sst-max-binlogs=1), with a fresh index.
    assert_eq!(
        std::fs::read_to_string(j.join("mysql-bin.index")).expect("index"),
        "./mysql-bin.000002\n"
    );
    // The sparse file stayed sparse.
    let meta = std::fs::metadata(j.join("db1/sparse.ibd")).expect("sparse");
    assert_eq!(meta.len(), 2 << 30);
    assert!(meta.blocks() * 512 < 64 << 20, "{} blocks", meta.blocks());
}

#[test]
fn ist_touches_nothing_and_keeps_binlogs() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let donor_dir = donor_fixture(tmp.path(), false);
    let j = tmp.path().join("joiner");
    write(&j.join("db1/t1.ibd"), b"joiner data");
    write(&j.join("mysql-bin.000007"), b"joiner binlog");
    write(&j.join("mysql-bin.index"), b"./mysql-bin.000007\n");
    let before = tree(&j);
    let outcome = sst(&donor_dir, &j, true, |_| {});
    outcome.donor.expect("donor succeeds");
    outcome.joiner.expect("joiner succeeds");
    assert_eq!(outcome.donor_lines, ["continue", &format!("done {STATE}")]);
    assert_eq!(outcome.joiner_lines[1], STATE);
    assert_eq!(tree(&j), before, "IST must not touch the datadir");
}

#[test]
fn strangers_are_refused_and_the_sst_still_completes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let donor_dir = donor_fixture(tmp.path(), false);
    let j = tmp.path().join("joiner");
    let mut knockers = Vec::new();
    let outcome = sst(&donor_dir, &j, false, |address| {
        let target = address.split('/').next().expect("host:port").to_string();
        // Random bytes, an rsync greeting, and one that says nothing.
        for greeting in [&noise(300, 77)[..], b"@RSYNCD: 31.0\n", b""] {
            let mut s = TcpStream::connect(&target).expect("connect");
            let _ = s.write_all(greeting);
            knockers.push(s);
        }
    });
    outcome.donor.expect("donor succeeds");
    outcome.joiner.expect("joiner succeeds");
    assert_eq!(
        tree(&j).get("db1/t1.frm").map(String::as_str),
        tree(&donor_dir).get("db1/t1.frm").map(String::as_str)
    );
    drop(knockers);
}

/// Bytes sent per round by the donor.
fn sent(report: &Report) -> Vec<u64> {
    report.rounds.iter().map(|r| r.0).collect()
}

#[test]
fn a_rejoin_sends_only_the_blocks_that_changed() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let donor_dir = donor_fixture(tmp.path(), false);
    let j = tmp.path().join("joiner");
    let first = sst(&donor_dir, &j, false, |_| {});
    first.joiner.expect("first SST");
    let first = sent(&first.donor.expect("first SST"));
    assert!(
        first[0] > 9_000_000,
        "the first live round sends everything: {first:?}"
    );
    // Under the lock only the newest binlog (400 bytes), which is never
    // part of a live round; nothing else changed.
    assert_eq!(first[1], 400, "nothing changed before the lock: {first:?}");

    // One block of one table changes, one table is added, one dropped.
    let t1 = donor_dir.join("db1/t1.ibd");
    let mut data = std::fs::read(&t1).expect("read");
    data[(2 << 20) + 5] ^= 0xff;
    std::fs::write(&t1, &data).expect("write");
    write(&donor_dir.join("db1/new.ibd"), &noise(300_000, 42));
    std::fs::remove_file(donor_dir.join("db1/t#P#p1.ibd")).expect("drop");
    let second = sst(&donor_dir, &j, false, |_| {});
    second.joiner.expect("second SST");
    let rounds = sent(&second.donor.expect("second SST"));
    // The changed 16 KiB page of t1 (the first of its third 1 MiB block:
    // byte 2 MiB + 5) and the new table only.
    assert_eq!(rounds, [(16 << 10) + 300_000, 400], "bytes per round");
    assert_eq!(
        tree(&j).get("db1/t1.ibd"),
        tree(&donor_dir).get("db1/t1.ibd")
    );
    assert!(j.join("db1/new.ibd").exists());
    assert!(!j.join("db1/t#P#p1.ibd").exists());
}

#[test]
fn a_rejoin_of_many_files_compares_them_many_at_a_time() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let donor_dir = donor_fixture(tmp.path(), false);
    // More files than a stream's window (128 pieces), on one stream: the
    // page compares of a changed file are settled while the asks of the
    // pieces after it are still unanswered.
    for i in 0..400u64 {
        write(
            &donor_dir.join(format!("many/t{i}.ibd")),
            &noise(20_000, 100 + i),
        );
    }
    let j = tmp.path().join("joiner");
    let cnf = cnf("").replace("backup-threads=3", "backup-threads=1");
    let first = sst_with(&donor_dir, &j, false, &cnf, |_| {}, |_| {}, |_| {});
    first.joiner.expect("first SST");
    first.donor.expect("first SST");
    let changed: Vec<u64> = (0..400).step_by(37).collect();
    for i in &changed {
        let path = donor_dir.join(format!("many/t{i}.ibd"));
        let mut data = std::fs::read(&path).expect("read");
        data[17_000] ^= 0xff;
        std::fs::write(&path, &data).expect("write");
    }
    let second = sst_with(&donor_dir, &j, false, &cnf, |_| {}, |_| {}, |_| {});
    second.joiner.expect("second SST");
    // The second 16 KiB page of each changed file: its last 3,616 bytes.
    let rounds = sent(&second.donor.expect("second SST"));
    assert_eq!(
        rounds,
        [changed.len() as u64 * 3616, 400],
        "bytes per round"
    );
    assert_mirrors(&donor_dir, &j);
}

#[test]
fn changes_during_the_live_round_are_settled_under_the_lock() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let donor_dir = donor_fixture(tmp.path(), false);
    let j = tmp.path().join("joiner");
    let out = sst_with(
        &donor_dir,
        &j,
        false,
        &cnf(""),
        |_| {},
        |_| {},
        |d| {
            // What the server does while the live round runs and before FLUSH
            // TABLES WITH READ LOCK: pages change, tables come and go, files
            // grow and shrink.
            let t1 = d.join("db1/t1.ibd");
            let mut data = std::fs::read(&t1).expect("read");
            data[100] ^= 1;
            data[(4 << 20) + 7] ^= 1;
            std::fs::write(&t1, &data).expect("write");
            write(&d.join("db1/late.ibd"), &noise(70_000, 7));
            std::fs::remove_file(d.join("db1/t1.frm")).expect("drop");
            let ibdata = std::fs::OpenOptions::new()
                .write(true)
                .open(d.join("ibdata1"))
                .expect("open");
            ibdata.set_len(2 << 20).expect("shrink");
            let mut aria = std::fs::read(d.join("aria_log.00000001")).expect("read");
            aria.extend_from_slice(&noise(5000, 8));
            std::fs::write(d.join("aria_log.00000001"), aria).expect("grow");
        },
    );
    out.joiner.expect("joiner");
    let rounds = sent(&out.donor.expect("donor"));
    assert_eq!(rounds.len(), 2);
    // Under the lock: the two changed pages of t1, the new table, the grown
    // Aria log (one short block), the binlog; nothing else.
    assert_eq!(rounds[1], (32 << 10) + 70_000 + 14_000 + 400, "{rounds:?}");
    assert_mirrors(&donor_dir, &j);
    assert!(!j.join("db1/t1.frm").exists());
}

#[test]
fn a_file_shrinking_while_its_blocks_are_compared_is_left_to_the_lock() {
    use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
    let tmp = tempfile::tempdir().expect("tempdir");
    let donor_dir = donor_fixture(tmp.path(), false);
    let big = donor_dir.join("db1/big.ibd");
    write(&big, &noise(300 << 20, 21));
    let j = tmp.path().join("joiner");
    let first = sst(&donor_dir, &j, false, |_| {});
    first.joiner.expect("first SST");
    // The re-join's live round compares big.ibd's 300 blocks in pieces of
    // 64; on its first read the file shrinks to 70 blocks, so a piece
    // fails halfway, its checks or page compares unanswered.
    let inotify = Inotify::init(InitFlags::empty()).expect("inotify");
    inotify
        .add_watch(&big, AddWatchFlags::IN_ACCESS)
        .expect("watch");
    let shrinker = std::thread::spawn(move || {
        inotify.read_events().expect("read event");
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(&big)
            .expect("open");
        file.set_len(70 << 20).expect("shrink");
    });
    let cnf = cnf("").replace("backup-threads=3", "backup-threads=1");
    let out = sst_with(&donor_dir, &j, false, &cnf, |_| {}, |_| {}, |_| {});
    shrinker.join().expect("shrinker");
    out.joiner.expect("joiner");
    out.donor.expect("donor");
    assert_mirrors(&donor_dir, &j);
}

#[test]
fn live_rounds_repeat_while_the_server_writes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let donor_dir = donor_fixture(tmp.path(), false);
    let j = tmp.path().join("joiner");
    // The server rewrites pages of one table all through the live rounds.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = Arc::clone(&stop);
        let t1 = std::fs::OpenOptions::new()
            .write(true)
            .open(donor_dir.join("db1/t1.ibd"))
            .expect("open");
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::SeqCst) {
                t1.write_all_at(&n.to_be_bytes(), (n % 5) << 20)
                    .expect("write");
                n += 1;
                std::thread::sleep(Duration::from_millis(1));
            }
        })
    };
    let out = sst_eager(&donor_dir, &j, |_| {
        stop.store(true, Ordering::SeqCst);
        writer.join().expect("writer");
    });
    out.joiner.expect("joiner");
    let rounds = sent(&out.donor.expect("donor"));
    // How many live rounds depends on how the writes fall.
    assert!((3..=4).contains(&rounds.len()), "{rounds:?}");
    assert_mirrors(&donor_dir, &j);
}

#[test]
fn a_second_live_round_settles_what_the_first_left() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let donor_dir = donor_fixture(tmp.path(), false);
    let j = tmp.path().join("joiner");
    let out = sst_eager(&donor_dir, &j, |_| {});
    out.joiner.expect("joiner");
    let rounds = sent(&out.donor.expect("donor"));
    // Everything, then a live round that finds nothing changed (the server
    // is quiet), then the lock: the newest binlog.
    assert_eq!(rounds[1..], [0, 400], "{rounds:?}");
    assert!(rounds[0] > 9_000_000, "{rounds:?}");
}

#[test]
fn a_live_round_that_sent_nothing_goes_to_the_lock() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let donor_dir = donor_fixture(tmp.path(), false);
    let j = tmp.path().join("joiner");
    let first = sst(&donor_dir, &j, false, |_| {});
    first.joiner.expect("first SST");
    // A re-join of an unchanged datadir: the live round sends nothing (the
    // server is quiet), so the lock follows it at once.
    let again = sst_eager(&donor_dir, &j, |_| {});
    again.joiner.expect("joiner");
    assert_eq!(sent(&again.donor.expect("donor")), [0, 400]);
}

#[test]
fn full_lock_and_no_delta_still_mirror() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let donor_dir = donor_fixture(tmp.path(), false);
    let j = tmp.path().join("joiner");
    let knobs = cnf("rsrsync-lock=full\nrsrsync-delta=off\n");
    let first = sst_with(&donor_dir, &j, false, &knobs, |_| {}, |_| {}, |_| {});
    first.joiner.expect("joiner");
    assert_eq!(
        first.donor_lines[0], "flush tables",
        "locked from the start"
    );
    let total = sent(&first.donor.expect("donor"));
    assert_eq!(total.len(), 1, "one round under the lock");
    let again = sst_with(&donor_dir, &j, false, &knobs, |_| {}, |_| {}, |_| {});
    again.joiner.expect("joiner");
    assert_eq!(
        sent(&again.donor.expect("donor")),
        total,
        "no delta: everything again"
    );
}

#[test]
fn compressed_blocks_arrive_intact() {
    for codec in ["lz4", "zstd"] {
        let tmp = tempfile::tempdir().expect("tempdir");
        let donor_dir = donor_fixture(tmp.path(), false);
        // Pages that compress, beside the incompressible fixture files.
        let text: Vec<u8> = b"INSERT INTO t VALUES (42, 'abc');\n"
            .iter()
            .copied()
            .cycle()
            .take(3 << 20)
            .collect();
        write(&donor_dir.join("db1/text.ibd"), &text);
        let j = tmp.path().join("joiner");
        let knobs = cnf(&format!("rsrsync-compress={codec}\n"));
        let out = sst_with(&donor_dir, &j, false, &knobs, |_| {}, |_| {}, |_| {});
        let report = out.donor.expect("donor");
        out.joiner.expect("joiner");
        assert!(
            report.saved > 2 << 20,
            "{codec}: the text compressed: {}",
            report.saved
        );
        let (donor_tree, joiner_tree) = (tree(&donor_dir), tree(&j));
        for path in ["db1/text.ibd", "db1/t1.ibd", "ibdata1", "db1/t#P#p1.ibd"] {
            assert_eq!(
                joiner_tree.get(path),
                donor_tree.get(path),
                "{codec}: {path}"
            );
        }
    }
}

/// A donor with tables outside its datadir under `root/dext` (InnoDB,
/// `.isl`) and `root/dmy` (MyISAM, symlinks); the my.cnf that maps both
/// to `root/jext` and `root/jmy` on the joiner (donor and joiner share
/// this filesystem), plus `extra`.
fn external_fixture(root: &Path, extra: &str) -> (PathBuf, String) {
    let d = donor_fixture(root, false);
    let (dext, dmy) = (root.join("dext"), root.join("dmy"));
    for (isl, seed) in [("db1/ext", 21u64), ("db1/p#P#p0", 22)] {
        let ibd = dext.join(format!("{isl}.ibd"));
        write(&ibd, &noise(3 << 20, seed));
        write(
            &d.join(format!("{isl}.isl")),
            ibd.to_str().expect("utf-8").as_bytes(),
        );
    }
    write(&d.join("db1/m.frm"), b"frm");
    for (ext, seed) in [("MYD", 23u64), ("MYI", 24)] {
        let file = dmy.join(format!("m.{ext}"));
        write(&file, &noise(200_000, seed));
        std::os::unix::fs::symlink(&file, d.join(format!("db1/m.{ext}"))).expect("symlink");
    }
    let show = |p: &Path| p.to_str().expect("utf-8").to_string();
    let map = format!(
        "rsrsync-data-dir-map={}={}, {}={}\n{extra}",
        show(&dext),
        show(&root.join("jext")),
        show(&dmy),
        show(&root.join("jmy"))
    );
    (d, cnf(&map))
}

#[test]
fn tables_outside_the_datadir_arrive_where_their_links_say() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (donor_dir, cnf) = external_fixture(tmp.path(), "");
    let j = tmp.path().join("joiner");
    // The joiner's directories, prepared as mariadbd would need them; an
    // old copy of one MyISAM file as a plain file in the datadir.
    for dir in ["jext", "jmy"] {
        std::fs::create_dir_all(tmp.path().join(dir)).expect("mkdir");
    }
    write(&j.join("db1/m.MYD"), b"an old local copy");
    let run = |j: &Path| sst_with(&donor_dir, j, false, &cnf, |_| {}, |_| {}, |_| {});
    let first = run(&j);
    first.donor.expect("donor succeeds");
    first.joiner.expect("joiner succeeds");
    let (donor_tree, joiner_tree) = (tree(&donor_dir), tree(&j));
    let (dext_tree, jext_tree) = (
        tree(&tmp.path().join("dext")),
        tree(&tmp.path().join("jext")),
    );
    assert_eq!(dext_tree, jext_tree, "the InnoDB files at the mapped path");
    assert_eq!(
        tree(&tmp.path().join("dmy")),
        tree(&tmp.path().join("jmy")),
        "the MyISAM files at the mapped path"
    );
    for isl in ["db1/ext", "db1/p#P#p0"] {
        let named = std::fs::read_to_string(j.join(format!("{isl}.isl"))).expect("isl");
        assert_eq!(
            Path::new(&named),
            tmp.path().join("jext").join(format!("{isl}.ibd")),
            "the joiner's .isl names the joiner's path"
        );
    }
    for ext in ["MYD", "MYI"] {
        let link = std::fs::read_link(j.join(format!("db1/m.{ext}"))).expect("a symlink");
        assert_eq!(link, tmp.path().join("jmy").join(format!("m.{ext}")));
    }
    for (path, hash) in &donor_tree {
        if path.starts_with("db1/") && !path.ends_with(".isl") && !path.starts_with("db1/m.MY") {
            assert_eq!(joiner_tree.get(path), Some(hash), "{path}");
        }
    }

    // A re-join compares against what the joiner holds at those paths:
    // one changed page of a tablespace is all that goes.
    let ibd = tmp.path().join("dext/db1/ext.ibd");
    let mut data = std::fs::read(&ibd).expect("read");
    data[(1 << 20) + 7] ^= 0xff;
    std::fs::write(&ibd, &data).expect("write");
    let second = run(&j);
    second.joiner.expect("second SST");
    let rounds = sent(&second.donor.expect("second SST"));
    assert_eq!(rounds, [16 << 10, 400], "bytes per round");
    assert_eq!(
        tree(&tmp.path().join("dext")),
        tree(&tmp.path().join("jext"))
    );
}

#[test]
fn a_table_outside_the_allowed_directories_fails_the_sst() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let jext = tmp.path().join("jext");
    let allowed = format!("rsrsync-data-dirs={}\n", jext.display());
    let (donor_dir, cnf) = external_fixture(tmp.path(), &allowed);
    std::fs::create_dir_all(&jext).expect("mkdir");
    let j = tmp.path().join("joiner");
    let outcome = sst_with(&donor_dir, &j, false, &cnf, |_| {}, |_| {}, |_| {});
    let err = format!("{:#}", outcome.joiner.expect_err("the joiner refuses"));
    assert!(err.contains("table db1/m.MYD"), "{err}");
    assert!(err.contains("rsrsync-data-dirs"), "{err}");
    assert!(outcome.donor.is_err(), "the donor fails too");
    assert!(!outcome.joiner_lines.iter().any(|l| l == STATE), "no GTID");
    assert!(!tmp.path().join("jmy").exists(), "nothing written there");
}

#[test]
fn a_donor_that_cannot_read_a_tables_file_outside_fails_under_the_lock() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (donor_dir, cnf) = external_fixture(tmp.path(), "");
    for dir in ["jext", "jmy"] {
        std::fs::create_dir_all(tmp.path().join(dir)).expect("mkdir");
    }
    std::fs::remove_file(tmp.path().join("dmy/m.MYI")).expect("rm");
    let j = tmp.path().join("joiner");
    let outcome = sst_with(&donor_dir, &j, false, &cnf, |_| {}, |_| {}, |_| {});
    let err = format!("{:#}", outcome.donor.expect_err("the donor stops"));
    assert!(err.contains("m.MYI"), "{err}");
    assert!(outcome.joiner.is_err(), "the joiner fails too");
}

#[test]
fn a_file_written_under_the_lock_fails_the_sst() {
    // The oracle's hold stops the donor at the end of its locked work; a
    // write then is what a server writing under its read lock would do.
    let tmp = tempfile::tempdir().expect("tempdir");
    let donor_dir = donor_fixture(tmp.path(), false);
    let hold = tmp.path().join("hold");
    std::fs::create_dir(&hold).expect("mkdir");
    let writer = {
        let (hold, target) = (hold.clone(), donor_dir.join("ibdata1"));
        std::thread::spawn(move || {
            let set = hold.join("donor.set");
            let started = std::time::Instant::now();
            while !set.exists() {
                assert!(started.elapsed() < Duration::from_secs(60), "no hold");
                std::thread::sleep(Duration::from_millis(10));
            }
            let listed = std::fs::read_to_string(&set).expect("donor.set");
            assert!(listed.contains("SysTablespace\tibdata1\t"), "{listed}");
            let mut file = std::fs::OpenOptions::new()
                .append(true)
                .open(&target)
                .expect("open");
            std::io::Write::write_all(&mut file, &[1u8; 16384]).expect("write");
            std::fs::write(hold.join("donor.go"), b"").expect("go");
        })
    };
    let j = tmp.path().join("joiner");
    let outcome = sst_with(
        &donor_dir,
        &j,
        false,
        &cnf(""),
        |_| {},
        |s| s.test_hold = Some(hold.clone()),
        |_| {},
    );
    writer.join().expect("writer");
    let err = format!("{:#}", outcome.donor.expect_err("the donor stops"));
    assert!(
        err.contains("ibdata1") && err.contains("while mariadbd held"),
        "{err}"
    );
    assert!(
        !outcome.donor_lines.iter().any(|l| l == "continue"),
        "no continue for a torn copy: {:?}",
        outcome.donor_lines
    );
    assert!(outcome.joiner.is_err(), "the joiner fails too");
}

#[test]
fn the_rate_limit_holds_outside_the_lock_and_under_it_only_when_asked() {
    let rate = 1u64 << 20;
    // Bytes at the limit take this long, less a burst (50 ms) and margin.
    let floor = |bytes: u64| bytes as f64 / rate as f64 - 0.1;
    for under_lock in [false, true] {
        let tmp = tempfile::tempdir().expect("tempdir");
        let donor_dir = tmp.path().join("donor");
        write(&donor_dir.join("ibdata1"), &noise(2 << 20, 21));
        let j = tmp.path().join("joiner");
        let switch = if under_lock { "on" } else { "off" };
        let knobs = cnf(&format!("rlimit=1M\nrlimit-lock={switch}\n"));
        let started = std::time::Instant::now();
        let out = sst_with(
            &donor_dir,
            &j,
            false,
            &knobs,
            |_| {},
            |_| {},
            // Every page changes before the lock: the locked round sends
            // the file again.
            |d| write(&d.join("ibdata1"), &noise(2 << 20, 22)),
        );
        let took = started.elapsed().as_secs_f64();
        out.joiner.expect("joiner");
        let report = out.donor.expect("donor");
        let rounds = sent(&report);
        let (locked, live) = rounds.split_last().expect("rounds");
        let live: u64 = live.iter().sum();
        assert!(live >= 2 << 20 && *locked >= 2 << 20, "{rounds:?}");
        let lock = report.lock.expect("the lock's time");
        if under_lock {
            // The lock ends once the last block is read, before it is sent.
            let read = locked - (1 << 20);
            assert!(lock >= floor(read), "limited under the lock: {lock} s");
            assert!(took >= floor(live + locked), "{took} s");
        } else {
            assert!(lock < floor(*locked), "the lock is not stretched: {lock} s");
            assert!(took >= floor(live), "{took} s");
        }
        assert_mirrors(&donor_dir, &j);
    }
}
