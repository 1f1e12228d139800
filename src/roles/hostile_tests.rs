//! A malicious or buggy donor: it knows the secret and speaks our
//! protocol, then sends what no donor should. Each case must end the
//! joiner with an error and no final line, and leave everything outside
//! the target directories exactly as it was (snapshot before and after).

use std::io::Write;
use std::net::TcpStream;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use anyhow::Result;

use super::joiner;
use super::test_support::{settings, tree, write};
use crate::net::{Connection, TimedStream, Transport, handshake};
use crate::protocol::auth::Key;
use crate::protocol::digest::block_hash;
use crate::protocol::frame::PageHashes;
use crate::protocol::{Channel, Class, Frame, Mode};
use crate::signals::Stop;
use crate::sst_io::Mariadbd;

const BLOCK: u32 = 1 << 20;

/// A joiner under attack, in `root/data`, with `root/outside` beside it.
struct Target {
    root: tempfile::TempDir,
    joiner: std::thread::JoinHandle<Result<super::Report>>,
    lines: Receiver<String>,
    address: String,
    key: Key,
}

impl Target {
    /// Starts a joiner after `prepare` arranged the tree.
    fn start(prepare: impl FnOnce(&Path)) -> Target {
        crate::logger::init(true);
        let root = tempfile::tempdir().expect("tempdir");
        write(&root.path().join("outside/sentinel"), b"must not change");
        write(&root.path().join("data/grastate.dat"), b"joiner state");
        prepare(root.path());
        let data = root.path().join("data");
        let joiner_settings = settings(
            &[
                "--role",
                "joiner",
                "--address",
                "127.0.0.1:0",
                "--datadir",
                data.to_str().expect("utf-8"),
            ],
            "[sst]\nrsrsync-timeout=3\nrsrsync-initial-timeout=10\n",
            &[],
        );
        let (mut out, lines) = Mariadbd::channel();
        let joiner =
            std::thread::spawn(move || joiner::run(&joiner_settings, &Stop::new(), &mut out));
        let ready = lines.recv_timeout(Duration::from_secs(20)).expect("ready");
        let published = ready.strip_prefix("ready ").expect("ready prefix");
        let (auth, address) = published.rsplit_once('@').expect("auth");
        let secret = auth.split_once(':').expect("user:secret").1;
        Target {
            key: Key::from_secret(secret),
            address: address.split('/').next().expect("host:port").to_string(),
            root,
            joiner,
            lines,
        }
    }

    fn snapshot(&self) -> Vec<(String, String)> {
        outside(self.root.path())
    }

    /// An authenticated connection, as a real donor would open it.
    fn open(&self, channel: Channel) -> Connection<Transport> {
        let tcp = TcpStream::connect(&self.address).expect("connect");
        let stream = TimedStream::new(tcp, Duration::from_secs(10)).expect("stream");
        let mut conn = Connection::new(Transport::Plain(stream), self.address.clone());
        handshake::open(&mut conn, &self.key, channel).expect("handshake");
        conn
    }

    /// Waits for the joiner to give up; returns its error text.
    fn expect_failure(self, before: &[(String, String)]) -> String {
        let started = Instant::now();
        let result = self.joiner.join().expect("joiner thread");
        let err = format!("{:#}", result.expect_err("the joiner must fail"));
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "took {:?}",
            started.elapsed()
        );
        let lines: Vec<String> = self.lines.try_iter().collect();
        assert!(lines.is_empty(), "no final line after {err}: {lines:?}");
        let after = outside(self.root.path());
        assert_eq!(
            before,
            after.as_slice(),
            "the tree outside the datadir changed ({err})"
        );
        err
    }
}

/// Everything but the datadir's contents, plus the joiner's grastate.dat.
fn outside(root: &Path) -> Vec<(String, String)> {
    tree(root)
        .into_iter()
        .filter(|(path, _)| !path.starts_with("data/") || path == "data/grastate.dat")
        .collect()
}

/// A control connection that has announced an SST of one stream.
fn begin(target: &Target) -> Connection<Transport> {
    let mut control = target.open(Channel::Control);
    control
        .send(&Frame::Begin {
            mode: Mode::Sst,
            streams: 1,
            block_size: BLOCK,
            live: false,
        })
        .expect("begin");
    control
}

/// Runs a manifest attack: `frames` after Begin; the joiner must refuse.
fn manifest_attack(prepare: impl FnOnce(&Path), frames: &[Frame<'_>], expect: &str) {
    let target = Target::start(prepare);
    let before = target.snapshot();
    let mut control = begin(&target);
    for frame in frames {
        // The joiner may hang up as soon as it sees the bad entry.
        if control.send(frame).is_err() {
            break;
        }
    }
    let err = target.expect_failure(&before);
    assert!(err.contains(expect), "expected {expect:?} in: {err}");
}

fn file<'a>(id: u32, class: Class, size: u64, path: &'a [u8]) -> Frame<'a> {
    Frame::File {
        id,
        class,
        size,
        mode: 0o640,
        path,
    }
}

fn dir(path: &[u8]) -> Frame<'_> {
    Frame::Dir {
        class: Class::Data,
        mode: 0o750,
        path,
    }
}

#[test]
fn hostile_names_are_refused_in_the_manifest() {
    let cases: [(&[u8], &str); 6] = [
        (b"/etc/passwd", "absolute path"),
        (b"db/../../outside/evil", "'.' or '..'"),
        (b"db/a\0b", "control character"),
        (b"db/a\nb", "control character"),
        (b"lost+found/x", "reserved name"),
        (b"db//x", "empty component"),
    ];
    for (path, expect) in cases {
        manifest_attack(|_| {}, &[dir(b"db"), file(0, Class::Data, 3, path)], expect);
    }
}

#[test]
fn flat_classes_only_take_their_own_names() {
    for (class, name) in [
        (Class::SysTablespace, &b"grastate.dat"[..]),
        (Class::Redo, b"ib_logfile1"),
        (Class::Undo, b"galera.cache"),
        (Class::AriaLog, b"db/aria_log.1"),
        (Class::Binlog, b"../mysql-bin.000001"),
    ] {
        manifest_attack(|_| {}, &[file(0, class, 3, name)], "");
    }
}

#[test]
fn a_file_before_its_directory_or_twice_is_refused() {
    manifest_attack(
        |_| {},
        &[file(0, Class::Data, 3, b"db/t.ibd")],
        "before its directory",
    );
    manifest_attack(
        |_| {},
        &[
            dir(b"db"),
            file(0, Class::Data, 3, b"db/t"),
            file(1, Class::Data, 3, b"db/t"),
        ],
        "twice",
    );
    manifest_attack(
        |_| {},
        &[dir(b"db"), file(7, Class::Data, 3, b"db/t")],
        "out of order",
    );
}

#[test]
fn a_path_through_the_joiners_symlink_is_refused() {
    manifest_attack(
        |root| symlink(root.join("outside"), root.join("data/db")).expect("symlink"),
        &[
            dir(b"db"),
            file(0, Class::Data, 3, b"db/evil"),
            Frame::ManifestEnd { files: 1, bytes: 3 },
        ],
        "symbolic link",
    );
}

#[test]
fn an_oversized_frame_is_refused_before_allocation() {
    let target = Target::start(|_| {});
    let before = target.snapshot();
    let mut control = begin(&target);
    // A File frame claiming 1 GiB of body.
    let _ = control.send_raw(&[8, 0x40, 0, 0, 0]);
    let err = target.expect_failure(&before);
    assert!(err.contains("exceeds the limit"), "{err}");
}

/// A one-file SST up to `Ready`, then `attack` on the data stream.
fn data_attack(size: u64, attack: impl FnOnce(&mut Connection<Transport>), expect: &str) {
    held_data_attack(&[], size, attack, expect);
}

/// [`data_attack`] on a joiner that holds `held` as the file (none when
/// empty), so that the donor may compare its blocks.
fn held_data_attack(
    held: &[u8],
    size: u64,
    attack: impl FnOnce(&mut Connection<Transport>),
    expect: &str,
) {
    let target = Target::start(|root| {
        if !held.is_empty() {
            write(&root.join("data/db/t.ibd"), held);
        }
    });
    let before = target.snapshot();
    let mut control = begin(&target);
    for frame in [
        dir(b"db"),
        file(0, Class::Data, size, b"db/t.ibd"),
        Frame::ManifestEnd {
            files: 1,
            bytes: size,
        },
    ] {
        control.send(&frame).expect("manifest");
    }
    loop {
        match control.expect_frame("ready").expect("ready") {
            Frame::Ready => break,
            Frame::Have { id: 0, size } => assert_eq!(size, held.len() as u64),
            other => panic!("expected Have or Ready, got {other:?}"),
        }
    }
    let mut data = target.open(Channel::Data);
    attack(&mut data);
    let _ = control.send(&Frame::Complete {
        bypass: false,
        state: super::test_support::STATE.as_bytes(),
    });
    let err = target.expect_failure(&before);
    assert!(err.contains(expect), "expected {expect:?} in: {err}");
    drop(data);
}

#[test]
fn blocks_outside_the_file_are_refused() {
    data_attack(
        10,
        |d| {
            let _ = d.send(&Frame::Block {
                id: 0,
                offset: u64::from(BLOCK),
                hash: block_hash(&[0; 10]),
                data: &[0; 10],
            });
        },
        "does not fit",
    );
    data_attack(
        10,
        |d| {
            let _ = d.send(&Frame::Block {
                id: 0,
                offset: 0,
                hash: block_hash(&[0; 20]),
                data: &[0; 20],
            });
        },
        "expected 10",
    );
    data_attack(
        10,
        |d| {
            let _ = d.send(&Frame::Block {
                id: 3,
                offset: 0,
                hash: block_hash(&[0; 10]),
                data: &[0; 10],
            });
        },
        "never listed",
    );
}

#[test]
fn corrupt_blocks_and_digests_are_refused() {
    data_attack(
        10,
        |d| {
            let _ = d.send(&Frame::Block {
                id: 0,
                offset: 0,
                hash: block_hash(b"not these bytes"),
                data: &[1; 10],
            });
        },
        "hash mismatch",
    );
    data_attack(
        10,
        |d| {
            let _ = d.send(&Frame::Block {
                id: 0,
                offset: 0,
                hash: block_hash(&[1; 10]),
                data: &[1; 10],
            });
            let _ = d.send(&Frame::Digest { id: 0, digest: 42 });
        },
        "does not match the donor's digest",
    );
    data_attack(
        u64::from(BLOCK) * 2,
        |d| {
            let _ = d.send(&Frame::Hole {
                id: 0,
                offset: 0,
                len: BLOCK,
            });
            let _ = d.send(&Frame::Hole {
                id: 0,
                offset: 0,
                len: BLOCK,
            });
        },
        "twice",
    );
    // Consistent data for half the file only: incomplete, never accepted.
    data_attack(
        u64::from(BLOCK) * 2,
        |d| {
            let _ = d.send(&Frame::Hole {
                id: 0,
                offset: 0,
                len: BLOCK,
            });
            let _ = d.send(&Frame::End);
        },
        "incomplete",
    );
}

#[test]
fn lying_compressed_blocks_are_refused() {
    let mut packed = vec![0u8; 64];
    let n = lz4_flex::block::compress_into(&[7u8; 10], &mut packed).expect("lz4");
    packed.truncate(n);
    for (codec, len, data, expect) in [
        (9u8, 10u32, packed.clone(), "unknown compression"),
        (1, 20, packed.clone(), "expanded to"),
        (1, 10, vec![0xff; 40], "lz4"),
        (1, 1 << 30, packed.clone(), "exceeds the block size"),
    ] {
        data_attack(
            10,
            |d| {
                let _ = d.send(&Frame::Packed {
                    id: 0,
                    offset: 0,
                    hash: block_hash(&[7u8; 10]),
                    codec,
                    len,
                    data: &data,
                });
            },
            expect,
        );
    }
    // A well-formed packed block whose content is not what its hash says.
    data_attack(
        10,
        |d| {
            let _ = d.send(&Frame::Packed {
                id: 0,
                offset: 0,
                hash: block_hash(&[8u8; 10]),
                codec: 1,
                len: 10,
                data: &packed,
            });
        },
        "hash mismatch",
    );
}

/// Page hashes of `data` in 16 KiB pages, as they travel.
fn page_hashes(data: &[u8]) -> Vec<u8> {
    data.chunks(16 << 10)
        .flat_map(|page| block_hash(page).to_be_bytes())
        .collect()
}

/// One frame of a page-compare attack, on file 0.
#[derive(Clone, Copy)]
enum Step<'a> {
    /// `Pages` for block 0 with these encoded hashes.
    Pages(&'a [u8]),
    /// `Patch` of 16 KiB at this offset.
    Patch(u64),
    /// `Mended` for block 0 with this hash.
    Mended(u128),
    End,
}

#[test]
fn lying_page_compares_are_refused() {
    let block = BLOCK as usize;
    let held = vec![5u8; block];
    let ours = page_hashes(&held);
    // Our pages but the first differ from the donor's.
    let mut theirs = ours.clone();
    theirs[0] ^= 1;
    let right = block_hash(&held);
    let half = &held[..block / 2];
    let cases: [(&[u8], &[Step<'_>], &str); 10] = [
        (&[], &[Step::Pages(&ours)], "did not have"),
        (&held, &[Step::Pages(&ours[..48])], "3 page hashes"),
        (half, &[Step::Pages(&ours)], "beyond the"),
        (&held, &[Step::Patch(0)], "not being mended"),
        (&held, &[Step::Pages(&ours), Step::Pages(&ours)], "twice"),
        (
            &held,
            &[Step::Pages(&theirs), Step::Patch(100)],
            "does not fit its block",
        ),
        (
            &held,
            &[Step::Pages(&theirs), Step::Patch(0), Step::Patch(0)],
            "arrived twice",
        ),
        (
            &held,
            &[Step::Pages(&theirs), Step::Mended(right)],
            "pages still missing",
        ),
        // The lacking page arrives, but the block is not what the donor says.
        (
            &held,
            &[Step::Pages(&theirs), Step::Patch(0), Step::Mended(right)],
            "does not match the donor's once mended",
        ),
        (&held, &[Step::Pages(&theirs), Step::End], "half mended"),
    ];
    let page = [6u8; 16 << 10];
    for (held, steps, expect) in cases {
        let attack = |d: &mut Connection<Transport>| {
            for step in steps {
                let frame = match *step {
                    Step::Pages(hashes) => Frame::Pages {
                        id: 0,
                        offset: 0,
                        hashes: PageHashes::new(hashes).expect("hashes"),
                    },
                    Step::Patch(offset) => Frame::Patch {
                        id: 0,
                        offset,
                        data: &page,
                    },
                    Step::Mended(hash) => Frame::Mended {
                        id: 0,
                        offset: 0,
                        hash,
                    },
                    Step::End => Frame::End,
                };
                let _ = d.send(&frame);
            }
        };
        held_data_attack(held, u64::from(BLOCK), attack, expect);
    }
    // A donor may not keep more than 64 blocks half mended.
    let many = vec![0u8; 65 * block];
    let zeros = page_hashes(&many[..block]);
    held_data_attack(
        &many,
        many.len() as u64,
        |d| {
            for i in 0..65 {
                let _ = d.send(&Frame::Pages {
                    id: 0,
                    offset: i * u64::from(BLOCK),
                    hashes: PageHashes::new(&zeros).expect("hashes"),
                });
            }
        },
        "at once",
    );
}

#[test]
fn truncated_streams_are_refused() {
    data_attack(
        10,
        |d| {
            // A Block header promising 100 bytes of body, then 5, then gone.
            let _ = d.send_raw(&[11, 0, 0, 0, 100, 0, 0, 0, 0, 0]);
            let _ = d
                .stream_mut()
                .timed()
                .tcp()
                .shutdown(std::net::Shutdown::Both);
        },
        "middle of a frame",
    );
    data_attack(
        10,
        |d| {
            let _ = d
                .stream_mut()
                .timed()
                .tcp()
                .shutdown(std::net::Shutdown::Both);
        },
        "closed the connection",
    );
}

#[test]
fn a_stranger_with_the_wrong_secret_writes_nothing() {
    let target = Target::start(|_| {});
    let before = target.snapshot();
    let tcp = TcpStream::connect(&target.address).expect("connect");
    let stream = TimedStream::new(tcp, Duration::from_secs(10)).expect("stream");
    let mut conn = Connection::new(Transport::Plain(stream), "stranger".into());
    let err = handshake::open(&mut conn, &Key::from_secret("wrong"), Channel::Control)
        .expect_err("refused");
    assert!(format!("{err:#}").contains("secret"), "{err:#}");
    // A slow talker: one byte a second; the joiner ends it by its deadline.
    let mut slow = TcpStream::connect(&target.address).expect("connect");
    for _ in 0..3 {
        if slow.write_all(&[1]).is_err() {
            break;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    drop(conn);
    // No donor ever came: the joiner gives up after its initial timeout.
    let err = target.expect_failure(&before);
    assert!(err.contains("no donor connected"), "{err}");
}
