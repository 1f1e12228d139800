//! InnoDB's redo log file as MariaDB 10.8 and later write it
//! (`log_t::FORMAT_10_8`, storage/innobase/log/log0recv.cc): the header
//! block, the two checkpoint blocks, the ring of mini-transactions after
//! them, and the page identifiers in each mini-transaction's records.
//! Only what the change index needs is decoded; anything this module does
//! not know is an error, which the index turns into the full compare.
//!
//! Everything here reads bytes from a file the server writes while we
//! read it: every length is checked before it is used, nothing panics.

use anyhow::{Result, bail, ensure};

/// `log_t::FORMAT_10_8`: unencrypted, MariaDB 10.8 and later.
const FORMAT_10_8: u32 = 0x5068_7973;
/// `log_t::FORMAT_ENCRYPTED`, the bit of an encrypted log of that format.
const FORMAT_ENCRYPTED: u32 = 1 << 31;
/// `log_t::FORMAT_ENC_11`: encrypted, 11.x (and later 10.11 releases).
const FORMAT_ENC_11: u32 = 0xf09f_979d;
/// `log_t::FORMAT_10_5`: MariaDB 10.5 to 10.7, 512-byte blocks.
const FORMAT_10_5: u32 = 0x5048_5953;

/// Bytes before the ring: the header block and the two checkpoints
/// (`log_t::START_OFFSET`, also the smallest first LSN).
pub(crate) const START_OFFSET: u64 = 12288;
/// Where the two checkpoint blocks are (`log_t::CHECKPOINT_1`, `_2`).
const CHECKPOINTS: [usize; 2] = [4096, 8192];
/// A checkpoint block: LSN, end LSN, zeros, CRC-32C of the 60 before.
const CHECKPOINT_LEN: usize = 64;
/// The header block: its CRC-32C is at 508, of the 508 bytes before.
const HEADER_CRC_AT: usize = 508;
/// `LOG_HEADER_CREATOR` to `LOG_HEADER_CREATOR_END`: who made the log;
/// a nonzero word at the end is the encryption information.
const CREATOR: std::ops::Range<usize> = 16..48;

/// Largest mini-transaction (`recv_sys_t::MTR_SIZE_MAX`).
pub(crate) const MTR_SIZE_MAX: usize = 1 << 20;

/// The shape of the ring, from the header: where each LSN is in the file
/// and the sequence bit the writer puts at the end of each of its
/// mini-transactions in each pass over the ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ring {
    pub(crate) first_lsn: u64,
    pub(crate) capacity: u64,
}

impl Ring {
    /// The ring of a log file of `file_size` bytes whose header block is
    /// `header` (at least 512 bytes).
    pub(crate) fn from_header(header: &[u8], file_size: u64) -> Result<Ring> {
        ensure!(
            header.len() >= 512,
            "the header block is {} bytes long",
            header.len()
        );
        let format = be32(header, 0);
        let creator = String::from_utf8_lossy(&header[CREATOR])
            .trim_end_matches('\0')
            .to_string();
        match format {
            FORMAT_10_8 => {}
            f if f == FORMAT_10_8 | FORMAT_ENCRYPTED || f == FORMAT_ENC_11 => {
                bail!("the redo log is encrypted (innodb_encrypt_log), created by {creator}")
            }
            f if f & !FORMAT_ENCRYPTED == FORMAT_10_5 => {
                bail!("the redo log has the format of MariaDB 10.5 to 10.7 ({creator})")
            }
            other => bail!("unknown redo log format {other:#010x} (created by {creator:?})"),
        }
        ensure!(
            be32(header, HEADER_CRC_AT) == crc32c::crc32c(&header[..HEADER_CRC_AT]),
            "the redo log header's checksum does not match"
        );
        ensure!(be32(header, 4) == 0, "the redo log header is invalid");
        ensure!(
            be32(header, CREATOR.end) == 0,
            "the redo log is encrypted (innodb_encrypt_log), created by {creator}"
        );
        let first_lsn = be64(header, 8);
        ensure!(
            first_lsn >= START_OFFSET,
            "the redo log's first LSN {first_lsn} is invalid"
        );
        ensure!(
            file_size > START_OFFSET + MTR_SIZE_MAX as u64,
            "the redo log file is too small ({file_size} bytes)"
        );
        Ok(Ring {
            first_lsn,
            capacity: file_size - START_OFFSET,
        })
    }

    /// Where the byte of `lsn` is in the file.
    pub(crate) fn offset(&self, lsn: u64) -> u64 {
        START_OFFSET + lsn.saturating_sub(self.first_lsn) % self.capacity
    }

    /// The byte ending a mini-transaction whose end is at `lsn`
    /// (`log_t::get_sequence_bit`).
    fn sequence_bit(&self, lsn: u64) -> u8 {
        u8::from((lsn.saturating_sub(self.first_lsn) / self.capacity) & 1 == 0)
    }
}

/// The newest valid checkpoint (a later block wins a tie, as in
/// `recv_sys_t::find_checkpoint`): `(checkpoint LSN, end LSN)`.
pub(crate) fn newest_checkpoint(head: &[u8], ring: &Ring) -> Result<(u64, u64)> {
    let mut newest = None;
    for at in CHECKPOINTS {
        let Some(block) = head.get(at..at + CHECKPOINT_LEN) else {
            bail!("the redo log's checkpoint blocks were not read");
        };
        let lsn = be64(block, 0);
        let end = be64(block, 8);
        let valid = lsn >= ring.first_lsn
            && end >= lsn
            && block[16..60].iter().all(|&b| b == 0)
            && be32(block, 60) == crc32c::crc32c(&block[..60]);
        if valid && newest.is_none_or(|(newest, _)| lsn >= newest) {
            newest = Some((lsn, end));
        }
    }
    newest.ok_or_else(|| anyhow::anyhow!("the redo log has no valid checkpoint"))
}

/// What one mini-transaction says about pages and files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Touch {
    /// A record for this page (tablespace id, page number).
    Page(u32, u32),
    /// The tablespace was created, deleted, renamed or trimmed: nothing
    /// about its file may be taken from before.
    Space(u32),
}

/// The mini-transaction at the start of a buffer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Mtr {
    /// Its bytes (this many) and what it touches.
    Complete(usize),
    /// The buffer ends before it does: read on.
    Partial,
    /// No mini-transaction here: the end of what the server has written
    /// (or bytes that are not one).
    End,
}

/// Parses the mini-transaction at the start of `buf`, whose first byte is
/// at `lsn`, checking its length, sequence bit and CRC-32C (as
/// `log_parse_start`), then its records (as `recv_sys_t::parse_tail`),
/// adding what each touches to `touched`. An error is a record this
/// module does not know, or one MariaDB would take as corrupt.
pub(crate) fn parse_mtr(
    buf: &[u8],
    lsn: u64,
    ring: &Ring,
    touched: &mut Vec<Touch>,
) -> Result<Mtr> {
    let Some(&first) = buf.first() else {
        return Ok(Mtr::Partial);
    };
    if first <= 1 {
        return Ok(Mtr::End);
    }
    let mut at = 0usize;
    let end = loop {
        if at >= MTR_SIZE_MAX {
            return Ok(Mtr::End);
        }
        let Some(&b) = buf.get(at) else {
            return Ok(Mtr::Partial);
        };
        if b <= 1 {
            break at;
        }
        // Past the end of the log lie the bytes of an earlier pass over
        // the ring, possibly cut mid-record: a length that is no length is
        // the end, as in `log_parse_start`.
        match record_len(buf, at) {
            Ok(Some(len)) => at += len,
            Ok(None) => return Ok(Mtr::Partial),
            Err(_) => return Ok(Mtr::End),
        }
    };
    if buf[end] != ring.sequence_bit(lsn + end as u64) {
        return Ok(Mtr::End);
    }
    let Some(stored) = buf.get(end + 1..end + 5) else {
        return Ok(Mtr::Partial);
    };
    if be32(stored, 0) != crc32c::crc32c(&buf[..end]) {
        return Ok(Mtr::End);
    }
    records(&buf[..end], touched)?;
    Ok(Mtr::Complete(end + 5))
}

/// The length of the record at `at` (its first byte included), `None`
/// when the buffer ends first.
fn record_len(buf: &[u8], at: usize) -> Result<Option<usize>> {
    let low = usize::from(buf[at] & 0xf);
    if low != 0 {
        return Ok(Some(1 + low));
    }
    let Some(varint) = buf.get(at + 1..) else {
        return Ok(None);
    };
    match varint_at(varint)? {
        Some((extra, _)) if (extra as usize) < MTR_SIZE_MAX => Ok(Some(1 + extra as usize + 15)),
        Some((extra, _)) => bail!("a redo record claims {extra} bytes"),
        None => Ok(None),
    }
}

/// A variable-length integer (`mlog_decode_varint`) at the start of
/// `buf` and its length; `None` when the buffer ends first.
fn varint_at(buf: &[u8]) -> Result<Option<(u32, usize)>> {
    const MIN_2: u32 = 1 << 7;
    const MIN_3: u32 = MIN_2 + (1 << 14);
    const MIN_4: u32 = MIN_3 + (1 << 21);
    const MIN_5: u32 = MIN_4 + (1 << 28);
    let Some(&first) = buf.first() else {
        return Ok(None);
    };
    let len = 1 + first.leading_ones() as usize;
    ensure!(
        len <= 5,
        "a redo record has an invalid number ({first:#04x})"
    );
    let Some(bytes) = buf.get(..len) else {
        return Ok(None);
    };
    let tail = |n: usize| {
        bytes[1..n]
            .iter()
            .fold(0u32, |acc, &b| (acc << 8) | u32::from(b))
    };
    let value = match len {
        1 => u32::from(first),
        2 => MIN_2 + ((u32::from(first & 0x3f) << 8) | tail(2)),
        3 => MIN_3 + ((u32::from(first & 0x1f) << 16) | tail(3)),
        4 => MIN_4 + ((u32::from(first & 0x0f) << 24) | tail(4)),
        _ => {
            ensure!(
                first == 0xf0,
                "a redo record has an invalid number ({first:#04x})"
            );
            let v = tail(5);
            ensure!(v <= !MIN_5, "a redo record has an invalid number");
            MIN_5 + v
        }
    };
    Ok(Some((value, len)))
}

/// Record types (`mrec_type_t`, `mfile_type_t`, `mrec_ext_t`).
const FREE_PAGE: u8 = 0x00;
const INIT_PAGE: u8 = 0x10;
const EXTENDED: u8 = 0x20;
const RESERVED: u8 = 0x60;
const FILE_CREATE: u8 = 0x80;
const FILE_DELETE: u8 = 0x90;
const FILE_RENAME: u8 = 0xa0;
const FILE_MODIFY: u8 = 0xb0;
const FILE_CHECKPOINT: u8 = 0xf0;
/// The last `EXTENDED` subtype that changes one page, and the one that
/// truncates a file.
const LAST_PAGE_SUBTYPE: u8 = 9;
const TRIM_PAGES: u8 = 10;

/// The records of a mini-transaction whose framing was checked (`recs`:
/// up to its end byte).
fn records(recs: &[u8], touched: &mut Vec<Touch>) -> Result<()> {
    let mut at = 0;
    // The page of the last page record, which every later record with
    // bit 7 set refers to ("same page"); before the first, bit 7 marks a
    // file record.
    let mut page = None;
    while at < recs.len() {
        let b = recs[at];
        let len = record_len(recs, at)?
            .filter(|&len| at + len <= recs.len())
            .ok_or_else(|| anyhow::anyhow!("a redo record runs past its mini-transaction"))?;
        let header = if b & 0xf == 0 {
            1 + varint_at(&recs[at + 1..])?.map_or(0, |(_, n)| n)
        } else {
            1
        };
        let body = &recs[at + header..at + len];
        at += len;
        ensure!(
            b & 0x70 != RESERVED,
            "a redo record of a reserved type ({b:#04x})"
        );
        let (space, page_no, rest) = match (b & 0x80 != 0, page) {
            (true, Some((space, page_no))) => {
                ensure!(
                    b & 0x70 > INIT_PAGE,
                    "a redo record frees or initialises the page before it"
                );
                (space, page_no, body)
            }
            (true, None) => {
                file_record(b, body, touched)?;
                continue;
            }
            (false, _) => {
                let (space, rest) = page_id(body)?;
                let (page_no, rest) = page_id(rest)?;
                page = Some((space, page_no));
                (space, page_no, rest)
            }
        };
        match b & 0x70 {
            FREE_PAGE | INIT_PAGE => ensure!(rest.is_empty(), "a malformed page record"),
            EXTENDED => match rest.first() {
                Some(&sub) if sub <= LAST_PAGE_SUBTYPE => {}
                Some(&TRIM_PAGES) => touched.push(Touch::Space(space)),
                Some(&sub) => bail!("an unknown extended redo record ({sub})"),
                None => bail!("an empty extended redo record"),
            },
            _ => {}
        }
        touched.push(Touch::Page(space, page_no));
    }
    Ok(())
}

/// A file-level record (its first byte `b`, its bytes after the length).
fn file_record(b: u8, body: &[u8], touched: &mut Vec<Touch>) -> Result<()> {
    match b & 0xf0 {
        // Checkpoint markers and padding touch no page.
        FILE_CHECKPOINT => Ok(()),
        FILE_CREATE | FILE_DELETE | FILE_RENAME => {
            let (space, _) = page_id(body)?;
            touched.push(Touch::Space(space));
            Ok(())
        }
        // Written for every tablespace changed since a checkpoint; its
        // page records say what changed.
        FILE_MODIFY => Ok(()),
        other => bail!("an unknown file redo record ({other:#04x})"),
    }
}

/// A page identifier's number at the start of `bytes`, and the rest.
fn page_id(bytes: &[u8]) -> Result<(u32, &[u8])> {
    match varint_at(bytes)? {
        Some((value, len)) => Ok((value, &bytes[len..])),
        None => bail!("a redo record's page identifier is cut short"),
    }
}

fn be32(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u32::from_be_bytes(word)
}

fn be64(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_be_bytes(word)
}

/// Parses a whole log image in memory (tests): the header,
/// the newest checkpoint, then every mini-transaction from it to the end
/// of the log, across the end of the ring. Returns the end LSN and what
/// the records touch.
#[cfg(test)]
pub(crate) fn scan(image: &[u8]) -> Result<(u64, Vec<Touch>)> {
    let ring = Ring::from_header(image, image.len() as u64)?;
    let (mut lsn, _) = newest_checkpoint(image, &ring)?;
    let ring_bytes = &image[START_OFFSET as usize..];
    let mut touched = Vec::new();
    // One pass over the ring at most, plus a mini-transaction's worth.
    let limit = ring.capacity + MTR_SIZE_MAX as u64;
    let start = lsn;
    while lsn - start < limit {
        let at = (ring.offset(lsn) - START_OFFSET) as usize;
        let window: Vec<u8> = ring_bytes[at..]
            .iter()
            .chain(ring_bytes[..at].iter())
            .take(MTR_SIZE_MAX + 8)
            .copied()
            .collect();
        match parse_mtr(&window, lsn, &ring, &mut touched)? {
            Mtr::Complete(len) => lsn += len as u64,
            Mtr::Partial | Mtr::End => break,
        }
    }
    Ok((lsn, touched))
}

/// Any bytes as a log (the fuzz target `redo`): as a header and its
/// checkpoints, and as a run of mini-transactions from an LSN its first
/// byte gives; errors are fine, panics and out-of-bounds lengths are not.
#[cfg(feature = "fuzzing")]
pub(crate) fn fuzz(data: &[u8]) {
    let _ = Ring::from_header(data, data.len() as u64).and_then(|r| newest_checkpoint(data, &r));
    let ring = Ring {
        first_lsn: START_OFFSET,
        capacity: 8 << 20,
    };
    let Some((&first, mut rest)) = data.split_first() else {
        return;
    };
    let mut lsn = START_OFFSET + u64::from(first) * 4096;
    let mut touched = Vec::new();
    while let Ok(Mtr::Complete(len)) = parse_mtr(rest, lsn, &ring, &mut touched) {
        assert!(
            len > 0 && len <= rest.len(),
            "a mini-transaction past its bytes"
        );
        rest = &rest[len..];
        lsn += len as u64;
    }
}
