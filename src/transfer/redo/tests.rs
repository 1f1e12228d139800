//! The redo log index against logs written here the way MariaDB 10.8+
//! writes them (storage/innobase/mtr/mtr0mtr.cc, log/log0log.cc), and
//! against hostile ones.

use super::format::{MTR_SIZE_MAX, Mtr, Ring, START_OFFSET, Touch, newest_checkpoint, parse_mtr};
use super::space::Print;
use super::*;

const FORMAT_10_8: u32 = 0x5068_7973;
const WRITE: u8 = 0x30;
const MEMSET: u8 = 0x40;

/// `mlog_encode_varint`.
fn varint(v: u32) -> Vec<u8> {
    const MIN_2: u32 = 1 << 7;
    const MIN_3: u32 = MIN_2 + (1 << 14);
    const MIN_4: u32 = MIN_3 + (1 << 21);
    const MIN_5: u32 = MIN_4 + (1 << 28);
    let be = |x: u32| x.to_be_bytes();
    if v < MIN_2 {
        vec![v as u8]
    } else if v < MIN_3 {
        let x = be(v - MIN_2);
        vec![0x80 | x[2], x[3]]
    } else if v < MIN_4 {
        let x = be(v - MIN_3);
        vec![0xc0 | x[1], x[2], x[3]]
    } else if v < MIN_5 {
        let x = be(v - MIN_4);
        vec![0xe0 | x[0], x[1], x[2], x[3]]
    } else {
        let mut out = vec![0xf0];
        out.extend(be(v - MIN_5));
        out
    }
}

/// A record: its type byte and what follows its length.
fn record(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    if (1..=15).contains(&body.len()) {
        out.push(kind | body.len() as u8);
    } else {
        // The length after the type byte is the varint's value + 15,
        // counting the varint's own bytes.
        let mut len = varint((body.len() + 1 - 15) as u32);
        if len.len() > 1 {
            len = varint((body.len() + 2 - 15) as u32);
        }
        out.push(kind);
        out.extend(len);
    }
    out.extend_from_slice(body);
    out
}

fn page_record(kind: u8, space: u32, page: u32, payload: &[u8]) -> Vec<u8> {
    let mut body = varint(space);
    body.extend(varint(page));
    body.extend_from_slice(payload);
    record(kind, &body)
}

/// A mini-transaction of `records` starting at `lsn`.
fn mtr(records: &[Vec<u8>], lsn: u64, ring: &Ring) -> Vec<u8> {
    let mut out: Vec<u8> = records.concat();
    let end = lsn + out.len() as u64;
    let bit = u8::from(((end - ring.first_lsn) / ring.capacity) & 1 == 0);
    let crc = crc32c::crc32c(&out);
    out.push(bit);
    out.extend(crc.to_be_bytes());
    out
}

fn header(first_lsn: u64) -> Vec<u8> {
    let mut head = vec![0u8; START_OFFSET as usize];
    head[..4].copy_from_slice(&FORMAT_10_8.to_be_bytes());
    head[8..16].copy_from_slice(&first_lsn.to_be_bytes());
    head[16..32].copy_from_slice(b"MariaDB 10.11.18");
    let crc = crc32c::crc32c(&head[..508]);
    head[508..512].copy_from_slice(&crc.to_be_bytes());
    head
}

fn set_checkpoint(head: &mut [u8], at: usize, lsn: u64, end: u64) {
    head[at..at + 8].copy_from_slice(&lsn.to_be_bytes());
    head[at + 8..at + 16].copy_from_slice(&end.to_be_bytes());
    let crc = crc32c::crc32c(&head[at..at + 60]);
    head[at + 60..at + 64].copy_from_slice(&crc.to_be_bytes());
}

/// The ring of a log of 8 MiB and more, in its first pass.
fn ring() -> Ring {
    Ring {
        first_lsn: 12288,
        capacity: 8 << 20,
    }
}

/// A log file image: header, checkpoint, and `mtrs` from the checkpoint
/// on, placed on the ring.
struct Image {
    bytes: Vec<u8>,
    ring: Ring,
    lsn: u64,
}

impl Image {
    fn new(first_lsn: u64, capacity: u64, checkpoint: u64) -> Image {
        let mut bytes = header(first_lsn);
        set_checkpoint(&mut bytes, 4096, checkpoint, checkpoint);
        bytes.resize((START_OFFSET + capacity) as usize, 0);
        Image {
            bytes,
            ring: Ring {
                first_lsn,
                capacity,
            },
            lsn: checkpoint,
        }
    }

    fn push(&mut self, records: &[Vec<u8>]) {
        for b in mtr(records, self.lsn, &self.ring) {
            let at = self.ring.offset(self.lsn) as usize;
            self.bytes[at] = b;
            self.lsn += 1;
        }
    }
}

#[test]
fn the_header_of_a_10_8_log_gives_its_ring() {
    let head = header(12288);
    let ring = Ring::from_header(&head, 96 << 20).expect("ring");
    assert_eq!(ring.capacity, (96 << 20) - START_OFFSET);
    assert_eq!(ring.offset(12288), START_OFFSET);
    assert_eq!(ring.offset(12288 + ring.capacity + 5), START_OFFSET + 5);

    let refused = |head: &[u8], size: u64| {
        format!("{:#}", Ring::from_header(head, size).expect_err("refused"))
    };
    let with_format = |format: u32| {
        let mut h = header(12288);
        h[..4].copy_from_slice(&format.to_be_bytes());
        let crc = crc32c::crc32c(&h[..508]);
        h[508..512].copy_from_slice(&crc.to_be_bytes());
        h
    };
    assert!(refused(&with_format(FORMAT_10_8 | 1 << 31), 96 << 20).contains("encrypted"));
    assert!(refused(&with_format(0xf09f_979d), 96 << 20).contains("encrypted"));
    assert!(refused(&with_format(0x5048_5953), 96 << 20).contains("10.5 to 10.7"));
    assert!(refused(&with_format(1), 96 << 20).contains("unknown redo log format"));
    let mut bad = header(12288);
    bad[20] ^= 1;
    assert!(refused(&bad, 96 << 20).contains("checksum"));
    let mut keyed = header(12288);
    keyed[48] = 1;
    let crc = crc32c::crc32c(&keyed[..508]);
    keyed[508..512].copy_from_slice(&crc.to_be_bytes());
    assert!(refused(&keyed, 96 << 20).contains("encrypted"));
    assert!(refused(&header(12288), 1 << 20).contains("too small"));
    assert!(refused(&header(100), 96 << 20).contains("first LSN"));
    assert!(refused(&head[..100], 96 << 20).contains("100 bytes"));
}

#[test]
fn the_newest_valid_checkpoint_wins() {
    let mut head = header(12288);
    let ring = Ring::from_header(&head, 96 << 20).expect("ring");
    assert!(newest_checkpoint(&head, &ring).is_err(), "none yet");
    set_checkpoint(&mut head, 4096, 50_000, 50_100);
    set_checkpoint(&mut head, 8192, 40_000, 40_100);
    assert_eq!(
        newest_checkpoint(&head, &ring).expect("one"),
        (50_000, 50_100)
    );
    // A torn write of the newer block: the older one stands.
    head[4096 + 3] ^= 0xff;
    assert_eq!(
        newest_checkpoint(&head, &ring).expect("one"),
        (40_000, 40_100)
    );
    // End before the checkpoint, or before the first LSN: invalid.
    set_checkpoint(&mut head, 4096, 60_000, 59_000);
    set_checkpoint(&mut head, 8192, 100, 200);
    assert!(newest_checkpoint(&head, &ring).is_err());
}

#[test]
fn records_name_their_pages_and_the_files_created_or_trimmed() {
    let ring = ring();
    let lsn = 20_000;
    let bytes = mtr(
        &[
            page_record(WRITE, 5, 3, &[0x26, 1, 2, 3]),
            // Same page (bit 7): a MEMSET of page 5:3.
            record(0x80 | MEMSET, &[0x10, 4, 0]),
            page_record(0x10, 5, 70_000, &[]),
            page_record(0x20, 2, 640, &[10]),
            page_record(0x20, 6, 1, &[3, 9, 9]),
            page_record(0x70, 7, 0, &[0, 1, 2, 3, 4]),
        ],
        lsn,
        &ring,
    );
    let mut touched = Vec::new();
    assert_eq!(
        parse_mtr(&bytes, lsn, &ring, &mut touched).expect("parsed"),
        Mtr::Complete(bytes.len())
    );
    assert_eq!(
        touched,
        [
            Touch::Page(5, 3),
            Touch::Page(5, 3),
            Touch::Page(5, 70_000),
            Touch::Space(2),
            Touch::Page(2, 640),
            Touch::Page(6, 1),
            Touch::Page(7, 0),
        ]
    );

    // File records: before any page record, bit 7 marks them.
    let mut name = varint(9);
    name.extend(varint(0));
    name.extend_from_slice(b"./test/t1.ibd");
    let create = record(0x80, &name);
    let modify = record(0xb0, &name);
    let checkpoint = record(0xf0, &[0, 0, 0, 0, 0, 0, 0, 0, 0x50, 0]);
    let bytes = mtr(&[create, modify, checkpoint], lsn, &ring);
    touched.clear();
    assert_eq!(
        parse_mtr(&bytes, lsn, &ring, &mut touched).expect("parsed"),
        Mtr::Complete(bytes.len())
    );
    assert_eq!(touched, [Touch::Space(9)]);

    // A long record: its length in a varint after the type byte.
    let long = page_record(WRITE, 300, 200_000, &[7u8; 400]);
    assert_eq!(long[0], WRITE);
    let bytes = mtr(&[long], lsn, &ring);
    touched.clear();
    assert_eq!(
        parse_mtr(&bytes, lsn, &ring, &mut touched).expect("parsed"),
        Mtr::Complete(bytes.len())
    );
    assert_eq!(touched, [Touch::Page(300, 200_000)]);
}

#[test]
fn the_log_ends_where_a_mini_transaction_does_not_check() {
    let ring = ring();
    let lsn = 30_000;
    let good = mtr(&[page_record(WRITE, 5, 3, &[0x26, 1])], lsn, &ring);
    let parse =
        |bytes: &[u8], lsn| parse_mtr(bytes, lsn, &ring, &mut Vec::new()).expect("no error");
    assert_eq!(parse(&[0, 1, 2], lsn), Mtr::End);
    assert_eq!(parse(&[], lsn), Mtr::Partial);
    assert_eq!(parse(&good[..good.len() - 2], lsn), Mtr::Partial);
    assert_eq!(parse(&good[..3], lsn), Mtr::Partial);
    // The same bytes one pass of the ring later: the sequence bit differs.
    assert_eq!(parse(&good, lsn + ring.capacity), Mtr::End);
    let mut torn = good.clone();
    torn[2] ^= 0x40;
    assert_eq!(parse(&torn, lsn), Mtr::End);
    // A length that is no length (past the end, in an older pass).
    assert_eq!(parse(&[0x30 & 0xf0, 0xff, 0xff], lsn), Mtr::End);
}

#[test]
fn records_the_index_does_not_know_are_errors() {
    let ring = ring();
    let lsn = 40_000;
    let error = |records: &[Vec<u8>]| {
        let bytes = mtr(records, lsn, &ring);
        format!(
            "{:#}",
            parse_mtr(&bytes, lsn, &ring, &mut Vec::new()).expect_err("unknown")
        )
    };
    assert!(error(&[page_record(0x60, 5, 3, &[1])]).contains("reserved"));
    assert!(error(&[page_record(0x20, 5, 3, &[11])]).contains("unknown extended"));
    assert!(error(&[page_record(0x20, 5, 3, &[])]).contains("empty extended"));
    assert!(error(&[record(0xc0, &[9, 0, b'x'])]).contains("unknown file"));
    assert!(
        error(&[page_record(WRITE, 5, 3, &[0x26, 1]), record(0x90, &[1])])
            .contains("frees or initialises")
    );
    assert!(error(&[page_record(0x00, 5, 3, &[1])]).contains("malformed"));
    assert!(error(&[record(WRITE, &[0xff])]).contains("invalid number"));
}

#[test]
fn fuzzed_mini_transactions_never_panic() {
    let ring = ring();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let valid = mtr(
        &[
            page_record(WRITE, 5, 3, &[0x26, 1, 2]),
            record(0x80 | MEMSET, &[0x10, 4, 0]),
            page_record(0x20, 2, 640, &[10]),
        ],
        50_000,
        &ring,
    );
    for round in 0..20_000 {
        let mut bytes: Vec<u8> = if round % 2 == 0 {
            (0..next() % 64).map(|_| next() as u8).collect()
        } else {
            valid.clone()
        };
        for _ in 0..1 + next() % 4 {
            if !bytes.is_empty() {
                let at = (next() % bytes.len() as u64) as usize;
                bytes[at] = next() as u8;
            }
        }
        let cut = (next() % (bytes.len() as u64 + 1)) as usize;
        let _ = parse_mtr(&bytes[..cut], 50_000, &ring, &mut Vec::new());
    }
}

#[test]
fn the_reader_follows_the_ring_across_its_end() {
    let capacity = (MTR_SIZE_MAX as u64) * 2;
    let first = 12288;
    // The checkpoint 100 bytes before the end of the ring.
    let checkpoint = first + capacity - 100;
    let mut image = Image::new(first, capacity, checkpoint);
    for page in 0..10 {
        image.push(&[page_record(WRITE, 8, page * 64, &[0x26, 1, 2, 3])]);
    }
    assert!(image.lsn > first + capacity, "the log wrapped");
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("ib_logfile0");
    std::fs::write(&path, &image.bytes).expect("write");
    let mut reader = Reader::open(&path).expect("open");
    let seen = Mutex::new(Seen::default());
    assert_eq!(reader.look(&seen).expect("look"), Look::End);
    assert_eq!(reader.lsn, image.lsn);
    let (end, touched) = super::format::scan(&image.bytes).expect("scan");
    assert_eq!(end, image.lsn);
    assert_eq!(touched.len(), 10);
    let seen = seen.into_inner().expect("seen");
    for page in 0..10u64 {
        assert!(seen.touches(8, page * 64..page * 64 + 1), "page {page}");
    }
    assert!(!seen.touches(8, 640..704));
    assert!(!seen.touches(9, 0..64));

    // More log: the reader goes on from where it was.
    image.push(&[page_record(WRITE, 8, 5000, &[0x26, 1])]);
    std::fs::write(&path, &image.bytes).expect("write");
    let seen = Mutex::new(Seen::default());
    reader.look(&seen).expect("look");
    assert!(seen.lock().expect("seen").touches(8, 5000..5001));
    assert_eq!(reader.lsn, image.lsn);

    // A checkpoint far past the reader: what it read may be overwritten.
    let mut head = image.bytes.clone();
    let ahead = reader.lsn + capacity / 10;
    set_checkpoint(&mut head, 8192, ahead, ahead);
    std::fs::write(&path, &head).expect("write");
    let e = reader
        .look(&Mutex::new(Seen::default()))
        .expect_err("overtaken");
    assert!(format!("{e:#}").contains("overtook"), "{e:#}");

    // A checkpoint whose end the log does not reach: not the same log.
    let mut head = image.bytes.clone();
    set_checkpoint(&mut head, 8192, image.lsn, image.lsn + 500);
    std::fs::write(&path, &head).expect("write");
    let e = reader
        .look(&Mutex::new(Seen::default()))
        .expect_err("short");
    assert!(
        format!("{e:#}").contains("before its checkpoint's end"),
        "{e:#}"
    );

    // The log resized.
    std::fs::write(&path, &image.bytes[..image.bytes.len() - 4096]).expect("write");
    let e = reader
        .look(&Mutex::new(Seen::default()))
        .expect_err("resized");
    assert!(format!("{e:#}").contains("resized"), "{e:#}");
}

fn print(lsn: u64) -> Print {
    Print {
        file: (1, 2),
        space: 8,
        page_size: 16384,
        lsn,
    }
}

fn kept(blocks: u64) -> Kept {
    Kept {
        since: Since::Tablespace(print(100)),
        size: blocks * u64::from(BLOCK_SIZE),
        hashes: (0..blocks as u128).collect::<Vec<u128>>().into(),
    }
}

fn seen(touched: &[Touch]) -> Seen {
    let mut seen = Seen::default();
    seen.add(touched);
    seen
}

fn vouched(v: &Vouched) -> Vec<Option<u128>> {
    (0..v.blocks.len() as u64 + 1).map(|b| v.hash(b)).collect()
}

#[test]
fn blocks_without_a_record_are_vouched_for() {
    let kept = kept(4);
    // Pages 70 (block 1) and 130..=191 (block 2: page 128 on) changed.
    let changed = seen(&[Touch::Page(8, 70), Touch::Page(8, 130), Touch::Page(9, 0)]);
    let v = vouch_file(&changed, &kept, print(100)).expect("vouched");
    assert_eq!(vouched(&v), [Some(0), None, None, Some(3), None]);

    // 64 KiB pages: a group of 64 pages spans 4 blocks.
    let mut big = kept;
    big.since = Since::Tablespace(Print {
        page_size: 65536,
        ..print(100)
    });
    let now = Print {
        page_size: 65536,
        ..print(100)
    };
    let v = vouch_file(&seen(&[Touch::Page(8, 70)]), &big, now).expect("vouched");
    assert_eq!(vouched(&v), [Some(0), Some(1), Some(2), Some(3), None]);
    let v = vouch_file(&seen(&[Touch::Page(8, 10)]), &big, now).expect("vouched");
    assert_eq!(vouched(&v), [None, None, None, None, None]);
}

#[test]
fn files_the_index_cannot_speak_for_are_compared() {
    let kept = kept(2);
    let quiet = seen(&[]);
    assert!(vouch_file(&quiet, &kept, print(100)).is_some());
    // Another file under the name, another tablespace, another page size.
    let other = [
        Print {
            file: (1, 3),
            ..print(100)
        },
        Print {
            space: 9,
            ..print(100)
        },
        Print {
            page_size: 8192,
            ..print(100)
        },
    ];
    for now in other {
        assert!(vouch_file(&quiet, &kept, now).is_none(), "{now:?}");
    }
    // Just imported (page LSN 0), or page 0 rewritten without a record.
    assert!(vouch_file(&quiet, &kept, print(0)).is_none());
    assert!(vouch_file(&quiet, &kept, print(200)).is_none());
    assert!(vouch_file(&seen(&[Touch::Page(8, 0)]), &kept, print(200)).is_some());
    // Created, deleted, renamed or trimmed since the first round.
    assert!(vouch_file(&seen(&[Touch::Space(8)]), &kept, print(100)).is_none());
}

#[test]
fn the_index_gives_up_beyond_its_memory_bound() {
    let mut seen = Seen::default();
    let touched: Vec<Touch> = (0..=MAX_GROUPS as u32)
        .map(|g| Touch::Page(8, g << GROUP_SHIFT))
        .collect();
    seen.add(&touched);
    assert!(
        seen.broken
            .as_deref()
            .is_some_and(|b| b.contains("regions"))
    );
}

#[test]
fn the_log_is_vouched_for_away_from_where_innodb_wrote() {
    let block = u64::from(BLOCK_SIZE);
    let ring = Ring {
        first_lsn: 12288,
        capacity: 8 * block - START_OFFSET,
    };
    let kept = |from| Kept {
        since: Since::Log(from),
        size: 8 * block,
        hashes: (0..8u128).collect::<Vec<u128>>().into(),
    };
    // The blocks vouched for when InnoDB wrote one block's worth from
    // the middle of block `at` on.
    let unread = |at: u64| -> Vec<u64> {
        let from = ring.first_lsn + at * block + block / 2 - START_OFFSET;
        let v = vouch_log(&ring, &kept(from), from + block).expect("vouched");
        (0..8).filter(|&b| v.hash(b).is_some()).collect()
    };
    // Blocks 3 and 4 written (with the slop), block 0 has the header and
    // the checkpoints: compared.
    assert_eq!(unread(3), [1, 2, 5, 6, 7]);
    // Across the end of the ring: block 7, and on into block 0.
    assert_eq!(unread(7), [1, 2, 3, 4, 5, 6]);
    let from = ring.first_lsn + 7 * block + block / 2 - START_OFFSET;
    // A whole ring written, or a tablespace's memory: nothing.
    assert!(vouch_log(&ring, &kept(from), from + ring.capacity).is_none());
    assert!(vouch_log(&ring, &kept(from), from - 2 * LOG_SLOP).is_none());
    let tablespace = Kept {
        since: Since::Tablespace(print(1)),
        ..kept(from)
    };
    assert!(vouch_log(&ring, &tablespace, from).is_none());
}

/// A tablespace file of `pages` 16 KiB pages whose page 0 names `space`.
fn write_tablespace(path: &Path, space: u32, pages: usize) {
    let mut bytes = vec![7u8; pages * 16384];
    bytes[16..24].copy_from_slice(&5000u64.to_be_bytes());
    bytes[34..38].copy_from_slice(&space.to_be_bytes());
    bytes[38..42].copy_from_slice(&space.to_be_bytes());
    bytes[54..58].copy_from_slice(&0x15u32.to_be_bytes());
    std::fs::write(path, bytes).expect("tablespace");
}

/// A round over the files under `dir` as the donor runs it (the joiner
/// holding every file at its size when `held`, under the lock unless
/// `live`): the files vouched for, with how many of their blocks.
fn round(index: &mut LockIndex, dir: &Path, held: bool, live: bool) -> Vec<(String, usize)> {
    let layout = crate::transfer::Layout::flat(dir);
    let entries = crate::transfer::walk::walk(&layout, &[], false).expect("walk");
    let plan = Plan::new(&entries).expect("plan");
    let sizes: Vec<Option<u64>> = plan.files.iter().map(|f| held.then_some(f.size)).collect();
    if !live {
        index.settle();
    }
    let vouched = index.vouch(&plan, &sizes, live);
    let unread: Vec<(String, usize)> = plan
        .files
        .iter()
        .zip(&vouched)
        .filter_map(|(f, v)| {
            let name = f
                .source
                .strip_prefix(dir)
                .expect("inside")
                .display()
                .to_string();
            v.as_ref()
                .map(|v| (name, v.blocks.iter().filter(|b| **b).count()))
        })
        .collect();
    let kept = plan
        .files
        .iter()
        .map(|f| Some((0..f.blocks as u128).collect::<Vec<u128>>().into()))
        .collect();
    index.remember(&plan, kept);
    unread
}

/// A datadir in `dir` with a log of 2 MiB with one record, for page 70
/// of tablespace 8, and the tablespaces 8 (`db/a.ibd`, 4 blocks) and 9
/// (`db/b.ibd`, 2 blocks); returns the LSN where the log ends.
fn datadir(dir: &Path) -> u64 {
    let mut image = Image::new(12288, (MTR_SIZE_MAX as u64) * 2, 20_000);
    image.push(&[page_record(WRITE, 8, 70, &[0x26, 1])]);
    std::fs::write(dir.join("ib_logfile0"), &image.bytes).expect("log");
    std::fs::create_dir(dir.join("db")).expect("db");
    write_tablespace(&dir.join("db/a.ibd"), 8, 256);
    write_tablespace(&dir.join("db/b.ibd"), 9, 128);
    image.lsn
}

/// Starts the index on the datadir `dir`, whose log ends at `end`: its
/// reader has read the log to there before the first round.
fn start_index(dir: &Path, end: u64) -> LockIndex {
    let index = LockIndex::start(dir).expect("the index follows the log");
    assert_eq!(index.seen.lock().expect("seen").lsn, end);
    index
}

/// Sets the FIL_PAGE_LSN of pages `pages` of the tablespace file `path`
/// (16 KiB pages) to `lsn`, as IMPORT TABLESPACE does (to 0), in place.
fn set_page_lsns(path: &Path, pages: std::ops::Range<u64>, lsn: u64) {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .expect("open");
    for page in pages {
        file.write_all_at(&lsn.to_be_bytes(), page * 16384 + 16)
            .expect("write");
    }
}

#[test]
fn a_round_vouches_for_what_the_log_shows_unchanged_since_the_first() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let end = datadir(dir);
    let mut index = start_index(dir, end);
    assert!(
        round(&mut index, dir, false, true).is_empty(),
        "the first round reads all"
    );
    // Tablespace 9 copied in again (a new file, as for IMPORT), and one
    // that was not there at first.
    write_tablespace(&dir.join("db/b2.ibd"), 9, 128);
    std::fs::rename(dir.join("db/b2.ibd"), dir.join("db/b.ibd")).expect("rename");
    write_tablespace(&dir.join("db/c.ibd"), 10, 128);
    // a.ibd: 4 blocks, block 1 (pages 64-127) has a record; the log: one
    // block of 2, its first (header, checkpoints) never vouched for.
    assert_eq!(
        round(&mut index, dir, true, true),
        [("ib_logfile0".to_string(), 1), ("db/a.ibd".to_string(), 3)]
    );
    assert_eq!(
        round(&mut index, dir, true, false),
        [("ib_logfile0".to_string(), 1), ("db/a.ibd".to_string(), 3)]
    );
}

#[test]
fn a_file_rewritten_without_redo_log_is_compared_in_full() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let end = datadir(dir);
    // b.ibd as IMPORT left it long ago: every page but page 0 (changed
    // since, with redo log) at LSN 0; no witness, never vouched for.
    set_page_lsns(&dir.join("db/b.ibd"), 1..128, 0);
    let mut index = start_index(dir, end);
    assert!(round(&mut index, dir, false, true).is_empty());
    let a = ("db/a.ibd".to_string(), 3);
    let log = ("ib_logfile0".to_string(), 1);
    assert_eq!(round(&mut index, dir, true, true), [log.clone(), a]);
    // An IMPORT of a.ibd, its file copied in before the first round,
    // converts every page (LSN 0) with no redo log; page 0 then changes
    // with a record, or as here, looks as it did. Page 1 (the first
    // witness no record touched) tells.
    set_page_lsns(&dir.join("db/a.ibd"), 1..256, 0);
    assert_eq!(
        round(&mut index, dir, true, true),
        std::slice::from_ref(&log)
    );
    // Once found rewritten, never vouched for again.
    set_page_lsns(&dir.join("db/a.ibd"), 1..256, 0x0707_0707_0707_0707);
    assert_eq!(round(&mut index, dir, true, false), [log]);
}

#[test]
fn a_witness_newer_than_the_reader_tells_nothing_yet() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let end = datadir(dir);
    let mut index = start_index(dir, end);
    assert!(round(&mut index, dir, false, true).is_empty());
    // InnoDB wrote the witness pages after records the reader has yet to
    // parse: no proof either way, so a.ibd is compared in full, in this
    // round only.
    let a = dir.join("db/a.ibd");
    set_page_lsns(&a, 1..256, end + 100);
    let log = ("ib_logfile0".to_string(), 1);
    let b = ("db/b.ibd".to_string(), 2);
    assert_eq!(round(&mut index, dir, true, true), [log.clone(), b.clone()]);
    set_page_lsns(&a, 1..256, 0x0707_0707_0707_0707);
    assert_eq!(
        round(&mut index, dir, true, false),
        [log, ("db/a.ibd".to_string(), 3), b]
    );
}
