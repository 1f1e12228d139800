//! Which tablespace an `.ibd` file holds, read from the start of its page
//! 0 (storage/innobase/include/fil0fil.h, fsp0fsp.h, fsp0types.h): the
//! tablespace id twice (`FIL_PAGE_SPACE_ID`, `FSP_SPACE_ID`), the flags
//! that give its page size, and the LSN of page 0's last change; and the
//! LSNs of a few more pages, the witnesses that no IMPORT TABLESPACE
//! rewrote the file.

use std::fs::File;
use std::os::unix::fs::{FileExt, MetadataExt};

/// Bytes of page 0 read: up to the end of `FSP_SPACE_FLAGS`.
const READ: usize = 58;
/// `FIL_PAGE_LSN`, `FIL_PAGE_SPACE_ID`, `FSP_HEADER_OFFSET + FSP_SPACE_ID`,
/// `FSP_HEADER_OFFSET + FSP_SPACE_FLAGS`.
const LSN_AT: usize = 16;
const SPACE_ID_AT: usize = 34;
const FSP_SPACE_ID_AT: usize = 38;
const FLAGS_AT: usize = 54;

/// A tablespace file as its page 0 described it at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Print {
    /// The file itself (device, inode): a file replaced under its name is
    /// another file.
    pub(crate) file: (u64, u64),
    pub(crate) space: u32,
    /// Bytes of each page in the file.
    pub(crate) page_size: u32,
    /// The LSN of page 0's last change; 0 after IMPORT TABLESPACE, which
    /// rewrites every page without redo log.
    pub(crate) lsn: u64,
}

impl Print {
    /// Reads the print of the tablespace in `file`; `None` when it is
    /// not one this module understands.
    pub(crate) fn read(file: &File) -> Option<Print> {
        let meta = file.metadata().ok()?;
        let mut head = [0u8; READ];
        file.read_exact_at(&mut head, 0).ok()?;
        let word =
            |at: usize| u32::from_be_bytes([head[at], head[at + 1], head[at + 2], head[at + 3]]);
        let space = word(SPACE_ID_AT);
        if space != word(FSP_SPACE_ID_AT) || space == 0 {
            return None;
        }
        let lsn = (u64::from(word(LSN_AT)) << 32) | u64::from(word(LSN_AT + 4));
        Some(Print {
            file: (meta.dev(), meta.ino()),
            space,
            page_size: physical_page_size(word(FLAGS_AT))?,
            lsn,
        })
    }
}

/// Most witnesses of a tablespace: page 1 and pages spread over the file.
const WITNESSES: u64 = 8;

/// The witnesses of the tablespace file `file` (`print` its page 0): up
/// to [`WITNESSES`] pages, each with the LSN of its last change, that
/// have one (0 is an all-zero page never written, or a page IMPORT
/// TABLESPACE converted: row0import.cc writes every page that is not all
/// zero, its FIL_PAGE_LSN set to 0, without redo log, from page 0 up).
/// Read before the first round reads anything, each witness that no
/// redo record touched since and still shows its LSN proves that no
/// IMPORT wrote the file since: it would have written that page too.
pub(crate) fn witnesses(file: &File, print: &Print) -> Vec<(u64, u64)> {
    let page_size = u64::from(print.page_size);
    let pages = file.metadata().map_or(0, |m| m.len() / page_size);
    let mut picked: Vec<u64> = (0..WITNESSES)
        .map(|i| (pages * i / WITNESSES).max(1))
        .filter(|&page| page < pages)
        .collect();
    picked.dedup();
    picked
        .into_iter()
        .filter_map(|page| Some((page, page_lsn(file, print.page_size, page)?)))
        .filter(|&(_, lsn)| lsn != 0)
        .collect()
}

/// The `FIL_PAGE_LSN` of page `page` of a tablespace file of pages of
/// `page_size` bytes.
pub(crate) fn page_lsn(file: &File, page_size: u32, page: u64) -> Option<u64> {
    let mut lsn = [0u8; 8];
    let at = page
        .checked_mul(u64::from(page_size))?
        .checked_add(LSN_AT as u64)?;
    file.read_exact_at(&mut lsn, at).ok()?;
    Some(u64::from_be_bytes(lsn))
}

/// The size of a page in the file of a tablespace with these flags
/// (`fil_space_t::physical_size`), `None` for flags no valid tablespace
/// has.
pub(crate) fn physical_page_size(flags: u32) -> Option<u32> {
    /// `FSP_FLAGS_FCRC32_MASK_MARKER`: the full_crc32 format (10.4+).
    const FULL_CRC32: u32 = 1 << 4;
    let size = if flags & FULL_CRC32 != 0 {
        // FSP_FLAGS_FCRC32_PAGE_SSIZE, bits 0-3.
        match flags & 0xf {
            ssize @ 3..=7 => 512 << ssize,
            _ => return None,
        }
    } else {
        // FSP_FLAGS_ZIP_SSIZE (bits 1-4): ROW_FORMAT=COMPRESSED pages;
        // else FSP_FLAGS_PAGE_SSIZE (bits 6-9), 0 meaning 16 KiB.
        let zip = (flags >> 1) & 0xf;
        let page = (flags >> 6) & 0xf;
        let logical = match page {
            0 => 16384,
            3..=7 => 512 << page,
            _ => return None,
        };
        match zip {
            0 => logical,
            1..=5 if 512 << zip <= logical => 512 << zip,
            _ => return None,
        }
    };
    Some(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_sizes_follow_the_flags() {
        // full_crc32 (innodb_checksum_algorithm=full_crc32): 4K, 16K, 64K.
        assert_eq!(physical_page_size(0x10 | 3), Some(4096));
        assert_eq!(physical_page_size(0x15), Some(16384));
        assert_eq!(physical_page_size(0x10 | 7), Some(65536));
        assert_eq!(physical_page_size(0x10 | 8), None);
        // The older format: 16 KiB unless PAGE_SSIZE says otherwise.
        assert_eq!(physical_page_size(0x21), Some(16384));
        assert_eq!(physical_page_size(0x21 | (3 << 6)), Some(4096));
        // ROW_FORMAT=COMPRESSED KEY_BLOCK_SIZE=8 on 16 KiB pages.
        assert_eq!(physical_page_size(0x21 | (4 << 1)), Some(8192));
        // A compressed page larger than the page: no such tablespace.
        assert_eq!(physical_page_size((3 << 6) | (5 << 1)), None);
        assert_eq!(physical_page_size(9 << 6), None);
    }

    #[test]
    fn a_file_that_is_no_tablespace_has_no_print() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("t.ibd");
        let mut page = vec![0u8; 16384];
        std::fs::write(&path, &page).expect("write");
        assert_eq!(Print::read(&File::open(&path).expect("open")), None);
        page[SPACE_ID_AT..SPACE_ID_AT + 4].copy_from_slice(&7u32.to_be_bytes());
        page[FSP_SPACE_ID_AT..FSP_SPACE_ID_AT + 4].copy_from_slice(&7u32.to_be_bytes());
        page[FLAGS_AT..FLAGS_AT + 4].copy_from_slice(&0x15u32.to_be_bytes());
        page[LSN_AT..LSN_AT + 8].copy_from_slice(&99u64.to_be_bytes());
        std::fs::write(&path, &page).expect("write");
        let print = Print::read(&File::open(&path).expect("open")).expect("print");
        assert_eq!((print.space, print.page_size, print.lsn), (7, 16384, 99));
        std::fs::write(&path, &page[..40]).expect("short");
        assert_eq!(Print::read(&File::open(&path).expect("open")), None);
    }
}
