//! Block hashes and the file digest.
//!
//! A block hash is XXH3-128 of the block's bytes; a file digest is XXH3-128
//! over the big-endian block hashes in block order. Blocks are hashed by
//! several threads on both sides, so [`Fold`] accepts them in any order and
//! folds them as soon as the next one in order is known; only the
//! out-of-order ones are held, within a fixed bound.

use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::fs::FileExt;

use anyhow::{Result, bail, ensure};
use twox_hash::XxHash3_128;

/// Out-of-order block hashes one file may hold before the peer is judged
/// broken; far above what parallel streams legitimately cause.
const MAX_PENDING: usize = 1 << 22;

/// The hash of one block.
pub(crate) fn block_hash(data: &[u8]) -> u128 {
    XxHash3_128::oneshot(data)
}

/// Bytes read at a time by [`block_hash_at`]: with the kernel's copy and
/// the hash both within the CPU's L2 cache, hashing a block through a
/// 64 KiB buffer ran 3-4 times as fast as through a 1 MiB one (page cache
/// to hash, 2 cores: 12 GB/s against 3.2 GB/s).
pub(crate) const HASH_CHUNK: usize = 64 << 10;

/// The hash of the `len` bytes of `file` at `offset` (the [`block_hash`]
/// of those bytes), read into `scratch` a piece at a time: for blocks that
/// are compared, not sent.
pub(crate) fn block_hash_at(
    file: &File,
    offset: u64,
    len: u64,
    scratch: &mut [u8],
) -> std::io::Result<u128> {
    let mut hasher = XxHash3_128::new();
    let mut done = 0;
    while done < len {
        let n = (len - done).min(scratch.len() as u64) as usize;
        let piece = &mut scratch[..n];
        file.read_exact_at(piece, offset + done)?;
        hasher.write(piece);
        done += n as u64;
    }
    Ok(hasher.finish_128())
}

/// The hash of `len` zero bytes: the hash of a block a sparse file does
/// not store.
pub(crate) fn zero_hash(len: u64) -> u128 {
    static ZEROS: [u8; 64 << 10] = [0; 64 << 10];
    let mut hasher = XxHash3_128::new();
    let mut left = len;
    while left > 0 {
        let n = left.min(ZEROS.len() as u64) as usize;
        hasher.write(&ZEROS[..n]);
        left -= n as u64;
    }
    hasher.finish_128()
}

/// How many blocks of `block_size` a file of `size` bytes has.
pub(crate) fn block_count(size: u64, block_size: u32) -> u64 {
    size.div_ceil(u64::from(block_size))
}

/// The length of the pages a block of `block_size` bytes is compared in
/// when it differs (see [`PAGES`](super::PAGES)).
pub(crate) fn page_len(block_size: u32) -> u64 {
    u64::from(block_size / super::PAGES).max(1)
}

/// Folds block hashes arriving in any order into the file digest.
pub(crate) struct Fold {
    blocks: u64,
    next: u64,
    pending: BTreeMap<u64, u128>,
    hasher: XxHash3_128,
}

impl std::fmt::Debug for Fold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fold")
            .field("blocks", &self.blocks)
            .field("next", &self.next)
            .field("pending", &self.pending.len())
            .finish()
    }
}

impl Fold {
    /// A fold for a file of `blocks` blocks.
    pub(crate) fn new(blocks: u64) -> Fold {
        Fold {
            blocks,
            next: 0,
            pending: BTreeMap::new(),
            hasher: XxHash3_128::new(),
        }
    }

    /// Adds the hash of block `index`. Each block may be added once.
    pub(crate) fn add(&mut self, index: u64, hash: u128) -> Result<()> {
        ensure!(
            index < self.blocks,
            "block {index} is beyond the file's {} blocks",
            self.blocks
        );
        if index < self.next || self.pending.contains_key(&index) {
            bail!("block {index} arrived twice");
        }
        if index != self.next {
            ensure!(
                self.pending.len() < MAX_PENDING,
                "too many blocks out of order"
            );
            self.pending.insert(index, hash);
            return Ok(());
        }
        self.hasher.write(&hash.to_be_bytes());
        self.next += 1;
        while let Some(hash) = self.pending.remove(&self.next) {
            self.hasher.write(&hash.to_be_bytes());
            self.next += 1;
        }
        Ok(())
    }

    /// True once every block was added.
    pub(crate) fn is_complete(&self) -> bool {
        self.next == self.blocks
    }

    /// Blocks still missing.
    pub(crate) fn missing(&self) -> u64 {
        self.blocks - self.next - self.pending.len() as u64
    }

    /// The digest, once complete.
    pub(crate) fn digest(&self) -> Option<u128> {
        self.is_complete().then(|| self.hasher.finish_128())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xxhash_rust::xxh3::xxh3_128;

    fn digest_in_order(hashes: &[u128]) -> u128 {
        let mut fold = Fold::new(hashes.len() as u64);
        for (i, h) in hashes.iter().enumerate() {
            fold.add(i as u64, *h).expect("in order");
        }
        fold.digest().expect("complete")
    }

    #[test]
    fn order_of_arrival_does_not_matter() {
        let hashes: Vec<u128> = (0..10u8).map(|i| block_hash(&[i; 100])).collect();
        let want = digest_in_order(&hashes);
        let mut fold = Fold::new(10);
        for i in [3u64, 9, 0, 1, 2, 8, 7, 4, 6] {
            fold.add(i, hashes[i as usize]).expect("new block");
            assert!(!fold.is_complete());
        }
        assert_eq!(fold.missing(), 1);
        fold.add(5, hashes[5]).expect("last block");
        assert_eq!(fold.digest(), Some(want));
    }

    #[test]
    fn hashing_from_a_file_in_pieces_equals_hashing_the_bytes() {
        let mut file = tempfile::tempfile().expect("tempfile");
        let bytes: Vec<u8> = (0..(3 << 20) + 77u32)
            .map(|i| (i * 7 % 251) as u8)
            .collect();
        std::io::Write::write_all(&mut file, &bytes).expect("write");
        let mut scratch = vec![0u8; HASH_CHUNK];
        for (offset, len) in [
            (0, 0),
            (5, 1),
            (0, 240),
            (3, 241),
            (0, 1 << 20),
            (1 << 20, (2 << 20) + 77),
        ] {
            let want = block_hash(&bytes[offset..offset + len]);
            let got = block_hash_at(&file, offset as u64, len as u64, &mut scratch).expect("read");
            assert_eq!(got, want, "{len} bytes at {offset}");
        }
        let beyond =
            block_hash_at(&file, 3 << 20, 1 << 20, &mut scratch).expect_err("past the end");
        assert_eq!(beyond.kind(), std::io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn digest_is_xxh3_over_block_hashes() {
        let hashes = [block_hash(b"a"), block_hash(b"b")];
        let mut concat = Vec::new();
        concat.extend_from_slice(&hashes[0].to_be_bytes());
        concat.extend_from_slice(&hashes[1].to_be_bytes());
        assert_eq!(digest_in_order(&hashes), xxh3_128(&concat));
        assert_eq!(digest_in_order(&[]), xxh3_128(b""));
    }

    /// Peers built with another XXH3 implementation (builds before twox-hash used
    /// xxhash-rust) must agree on every hash: lengths around XXH3's
    /// internal thresholds (16, 128, 240 bytes, stripes, 1 KiB blocks)
    /// and whole blocks, in one piece and through `block_hash_at`.
    #[test]
    fn hashes_equal_an_independent_xxh3() {
        let bytes: Vec<u8> = (0..(1u32 << 20) + 4099)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let mut file = tempfile::tempfile().expect("tempfile");
        std::io::Write::write_all(&mut file, &bytes).expect("write");
        let mut scratch = vec![0u8; HASH_CHUNK];
        for len in [
            0usize,
            1,
            3,
            4,
            8,
            9,
            16,
            17,
            128,
            129,
            240,
            241,
            1023,
            1024,
            1025,
            4096,
            65535,
            65536,
            65537,
            1 << 20,
            (1 << 20) + 4099,
        ] {
            let want = xxh3_128(&bytes[..len]);
            assert_eq!(block_hash(&bytes[..len]), want, "{len} bytes");
            let read = block_hash_at(&file, 0, len as u64, &mut scratch).expect("read");
            assert_eq!(read, want, "{len} bytes read in pieces");
        }
    }

    #[test]
    fn duplicates_and_strays_are_refused() {
        let mut fold = Fold::new(3);
        fold.add(1, 11).expect("first time");
        assert!(fold.add(1, 11).is_err(), "duplicate pending");
        fold.add(0, 10).expect("first time");
        assert!(fold.add(0, 10).is_err(), "duplicate folded");
        assert!(fold.add(3, 13).is_err(), "beyond the end");
        assert_eq!(fold.digest(), None);
    }

    #[test]
    fn zero_hash_matches_hashing_zeros() {
        for len in [0u64, 1, 4096, 65536, 65537, 1 << 20] {
            assert_eq!(zero_hash(len), block_hash(&vec![0; len as usize]), "{len}");
        }
    }

    #[test]
    fn block_counts() {
        assert_eq!(block_count(0, 4096), 0);
        assert_eq!(block_count(1, 4096), 1);
        assert_eq!(block_count(4096, 4096), 1);
        assert_eq!(block_count(4097, 4096), 2);
    }
}
