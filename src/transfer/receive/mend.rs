//! The joiner's side of the page compare: a block it holds that differs
//! from the donor's is compared page by page ([`Receiver::pages`]), the
//! pages it lacks are written in place ([`Receiver::patch`]), and the block
//! is accepted only once it hashes as the donor's ([`Receiver::mended`]).

use std::os::unix::fs::FileExt;

use anyhow::{Result, ensure};

use super::Receiver;
use crate::fsutil::{describe, start_writeback};
use crate::protocol::digest::{block_hash_at, page_len};
use crate::protocol::frame::PageHashes;

/// A held block that differs from the donor's, compared page by page:
/// the pages this joiner lacked and those patched since.
#[derive(Debug)]
pub(super) struct Mend {
    pub(super) id: u32,
    pub(super) offset: u64,
    pub(super) len: u64,
    pub(super) lacking: u64,
    pub(super) patched: u64,
    pub(super) patched_bytes: u64,
}

/// Where block `offset` of file `id` is in `mends`, if it is being mended.
pub(super) fn mending(mends: &[Mend], id: u32, offset: u64) -> Option<usize> {
    mends.iter().position(|m| m.id == id && m.offset == offset)
}

impl Receiver {
    /// The donor's page hashes of a block this node holds in another
    /// version: which of our pages differ (read from our file, whether or
    /// not the block's hash was remembered).
    pub(super) fn pages(
        &self,
        id: u32,
        offset: u64,
        hashes: PageHashes<'_>,
        scratch: &mut [u8],
    ) -> Result<Mend> {
        let slot = self.slot(id)?;
        let (_, len, _) = self.held_block(slot, offset)?;
        let page = page_len(self.block_size);
        ensure!(
            hashes.len() as u64 == len.div_ceil(page),
            "{} page hashes for a block of {len} bytes of {}",
            hashes.len(),
            slot.listed.path
        );
        let mut lacking = 0;
        if let Some(file) = self.open(slot)? {
            for (i, theirs) in hashes.iter().enumerate() {
                let at = i as u64 * page;
                // Unreadable here only means "send it".
                let ours = block_hash_at(&file, offset + at, (len - at).min(page), scratch).ok();
                if ours != Some(theirs) {
                    lacking |= 1 << i;
                }
            }
        }
        Ok(Mend {
            id,
            offset,
            len,
            lacking,
            patched: 0,
            patched_bytes: 0,
        })
    }

    /// One page of a block being mended, written in place.
    pub(super) fn patch(&self, mend: &mut Mend, offset: u64, data: &[u8]) -> Result<()> {
        let slot = self.slot(mend.id)?;
        let page = page_len(self.block_size);
        let within = offset - mend.offset;
        ensure!(
            within < mend.len
                && within % page == 0
                && data.len() as u64 == (mend.len - within).min(page),
            "a page of {} bytes at offset {offset} of {} does not fit its block",
            data.len(),
            slot.listed.path
        );
        let bit = 1 << (within / page);
        ensure!(
            mend.patched & bit == 0,
            "the page at offset {offset} of {} arrived twice",
            slot.listed.path
        );
        mend.patched |= bit;
        mend.patched_bytes += data.len() as u64;
        let Some(file) = self.open(slot)? else {
            return Ok(());
        };
        let (root, at) = self.roots.place(&slot.listed)?;
        file.write_all_at(data, offset)
            .map_err(|e| describe(&e, &root.show(at), "writing"))
    }

    /// A block whose lacking pages were patched: what our file now holds
    /// must hash to the donor's `hash`.
    pub(super) fn mended(&self, mend: &Mend, hash: u128, scratch: &mut [u8]) -> Result<()> {
        let slot = self.slot(mend.id)?;
        ensure!(
            mend.lacking & !mend.patched == 0,
            "block at offset {} of {} declared mended with pages still missing",
            mend.offset,
            slot.listed.path
        );
        let Some(file) = self.open(slot)? else {
            return Ok(());
        };
        let (root, at) = self.roots.place(&slot.listed)?;
        let ours = block_hash_at(&file, mend.offset, mend.len, scratch)
            .map_err(|e| describe(&e, &root.show(at), "reading back"))?;
        ensure!(
            ours == hash,
            "block at offset {} of {} does not match the donor's once mended (corrupted in transit)",
            mend.offset,
            slot.listed.path
        );
        start_writeback(&file, mend.offset, mend.len);
        drop(file);
        self.progress.add_kept(mend.len - mend.patched_bytes);
        self.accept(slot, mend.offset / u64::from(self.block_size), hash)
    }
}
