//! The joiner's receiver: writes blocks from any number of data streams,
//! answers the donor's checks of blocks it already holds, and accepts a
//! file only when every block is in place once, each with a matching hash,
//! and the file digest matches the donor's.
//!
//! Nothing here trusts the donor: every id, offset and length is checked
//! against the file list before a byte is read or written, and paths only
//! reach the filesystem through [`DataDir`](crate::fsutil::DataDir).

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use anyhow::{Context, Result, bail, ensure};

use super::codec::{Codec, Decompressor};
use super::manifest::{Held, Linked, Listed, Manifest, Memory, Roots};
use crate::fsutil::{Link, describe, read_ahead, start_writeback, zero_range};
use crate::net::{Connection, Transport};
use crate::progress::Progress;
use crate::protocol::Frame;
use crate::protocol::digest::{
    Fold, HASH_CHUNK, block_count, block_hash, block_hash_at, zero_hash,
};
use mend::{Mend, mending};

mod mend;

/// Most checks the donor may send before it asks for their answer, and
/// most blocks a stream may be mending at once.
const MAX_CHECKS: usize = 64;

/// One file of the list and its progress.
#[derive(Debug)]
struct Slot {
    listed: Listed,
    state: Mutex<SlotState>,
}

#[derive(Debug, Default)]
struct SlotState {
    file: Option<Arc<File>>,
    fold: Option<Fold>,
    digest: Option<u128>,
    done: bool,
    /// The donor gave the file up in a live round; the next round settles it.
    vanished: bool,
    /// Block hashes of the final content, kept for the next round.
    hashes: Vec<u128>,
}

/// How a round's data is received.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RoundKind {
    /// A live round: files may change under the donor (`Vanished`).
    pub(crate) live: bool,
    /// Keep block hashes for a next round.
    pub(crate) remember: bool,
}

/// A checked file list, receiving data.
#[derive(Debug)]
pub(crate) struct Receiver {
    roots: Roots,
    links: Vec<Linked>,
    block_size: u32,
    files: Vec<Slot>,
    zero_block: u128,
    progress: Arc<Progress>,
    kind: RoundKind,
}

impl Receiver {
    pub(crate) fn new(manifest: Manifest, block_size: u32, kind: RoundKind) -> Receiver {
        Receiver {
            progress: Progress::new("joiner", manifest.bytes, manifest.files.len() as u64),
            roots: manifest.roots,
            links: manifest.links,
            block_size,
            files: manifest
                .files
                .into_iter()
                .map(|listed| Slot {
                    listed,
                    state: Mutex::new(SlotState::default()),
                })
                .collect(),
            zero_block: zero_hash(block_size.into()),
            kind,
        }
    }

    /// The counters of this round.
    pub(crate) fn progress(&self) -> &Arc<Progress> {
        &self.progress
    }

    /// Receives one data stream until its `End`.
    pub(crate) fn receive_stream(&self, conn: &mut Connection<Transport>) -> Result<()> {
        let mut needed: Vec<bool> = Vec::new();
        let mut mends: Vec<Mend> = Vec::new();
        let mut unpack: Option<Decompressor> = None;
        // Where this stream hashes the blocks it checks (see HASH_CHUNK).
        let mut scratch = vec![0u8; HASH_CHUNK];
        loop {
            match conn.expect_frame("file data")? {
                Frame::Packed {
                    id,
                    offset,
                    hash,
                    codec,
                    len,
                    data,
                } => {
                    let codec = Codec::from_code(codec)
                        .with_context(|| format!("unknown compression {codec}"))?;
                    if unpack.is_none() {
                        unpack = Some(Decompressor::new(self.block_size as usize)?);
                    }
                    let Some(unpacker) = unpack.as_mut() else {
                        bail!("no decompressor");
                    };
                    let plain = unpacker.decompress(codec, data, len as usize)?;
                    self.block(id, offset, plain.len() as u64, Some((hash, plain)))?;
                    self.progress.add_bytes(plain.len() as u64);
                }
                Frame::Block {
                    id,
                    offset,
                    hash,
                    data,
                } => {
                    self.block(id, offset, data.len() as u64, Some((hash, data)))?;
                    self.progress.add_bytes(data.len() as u64);
                }
                Frame::Hole { id, offset, len } => self.block(id, offset, len.into(), None)?,
                Frame::Check { id, offset, hash } => {
                    ensure!(
                        needed.len() < MAX_CHECKS,
                        "more than {MAX_CHECKS} checks unanswered"
                    );
                    needed.push(self.check(id, offset, hash, &mut scratch)?);
                }
                Frame::Ask => {
                    let bitmap = needed
                        .iter()
                        .enumerate()
                        .fold(0u64, |bits, (i, need)| bits | (u64::from(*need) << i));
                    conn.send(&Frame::Answer {
                        checks: needed.len() as u8,
                        needed: bitmap,
                    })?;
                    needed.clear();
                }
                Frame::Pages { id, offset, hashes } => {
                    ensure!(
                        mends.len() < MAX_CHECKS,
                        "more than {MAX_CHECKS} blocks being mended at once"
                    );
                    ensure!(
                        mending(&mends, id, offset).is_none(),
                        "page hashes twice for block at offset {offset} of file id {id}"
                    );
                    let pages = hashes.len() as u8;
                    let mend = self.pages(id, offset, hashes, &mut scratch)?;
                    conn.write_frame(&Frame::Answer {
                        checks: pages,
                        needed: mend.lacking,
                    })?;
                    mends.push(mend);
                }
                Frame::Patch { id, offset, data } => {
                    let block = offset - offset % u64::from(self.block_size);
                    let at = mending(&mends, id, block).with_context(|| {
                        format!("a page at offset {offset} of file id {id}, whose block is not being mended")
                    })?;
                    self.patch(&mut mends[at], offset, data)?;
                    self.progress.add_bytes(data.len() as u64);
                }
                Frame::Mended { id, offset, hash } => {
                    let at = mending(&mends, id, offset).with_context(|| {
                        format!("block at offset {offset} of file id {id} declared mended, but it was not being mended")
                    })?;
                    let mend = mends.swap_remove(at);
                    self.mended(&mend, hash, &mut scratch)?;
                }
                Frame::Digest { id, digest } => self.digest(id, digest)?,
                Frame::Vanished { id } => {
                    self.vanish(id)?;
                    // The donor gives up what it was mending of the file here.
                    mends.retain(|mend| mend.id != id);
                }
                Frame::End => {
                    ensure!(
                        needed.is_empty() && mends.is_empty(),
                        "checks left unanswered or blocks left half mended at the end of a stream"
                    );
                    return Ok(());
                }
                other => bail!("unexpected {:?} frame on a data stream", other.kind()),
            }
        }
    }

    fn slot(&self, id: u32) -> Result<&Slot> {
        self.files
            .get(id as usize)
            .with_context(|| format!("data for file id {id}, which the donor never listed"))
    }

    fn lock(slot: &Slot) -> MutexGuard<'_, SlotState> {
        slot.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Checks that `offset` starts a block of the file and returns the
    /// block's index and length.
    fn block_at(&self, slot: &Slot, offset: u64) -> Result<(u64, u64)> {
        let bs = u64::from(self.block_size);
        let size = slot.listed.size;
        ensure!(
            offset % bs == 0 && offset < size,
            "block at offset {offset} does not fit {} ({size} bytes)",
            slot.listed.path
        );
        Ok((offset / bs, (size - offset).min(bs)))
    }

    /// One block: `payload` is the data and its hash, `None` for a hole.
    fn block(&self, id: u32, offset: u64, len: u64, payload: Option<(u128, &[u8])>) -> Result<()> {
        let slot = self.slot(id)?;
        let (index, expected) = self.block_at(slot, offset)?;
        ensure!(
            len == expected,
            "block of {len} bytes at offset {offset} of {}, expected {expected}",
            slot.listed.path
        );
        let hash = match payload {
            Some((sent, data)) => {
                let hash = block_hash(data);
                ensure!(
                    hash == sent,
                    "block at offset {offset} of {} arrived corrupted (hash mismatch)",
                    slot.listed.path
                );
                hash
            }
            None if expected == u64::from(self.block_size) => self.zero_block,
            None => zero_hash(expected),
        };
        let Some(file) = self.open(slot)? else {
            return Ok(());
        };
        let (root, at) = self.roots.place(&slot.listed)?;
        let written = match payload {
            Some((_, data)) => file
                .write_all_at(data, offset)
                .map(|()| start_writeback(&file, offset, len)),
            // A fresh file reads as zeros already; one we held must be zeroed.
            None if slot.listed.held.is_some() => zero_range(&file, offset, len),
            None => Ok(()),
        };
        written.map_err(|e| describe(&e, &root.show(at), "writing"))?;
        drop(file);
        self.accept(slot, index, hash)
    }

    /// Checks that `offset` starts a block of a file this joiner held, within
    /// the size it held; returns the block's index and length, and what it held.
    fn held_block<'s>(&self, slot: &'s Slot, offset: u64) -> Result<(u64, u64, &'s Held)> {
        let (index, len) = self.block_at(slot, offset)?;
        let held = slot.listed.held.as_ref().with_context(|| {
            format!(
                "a comparison of {}, which this joiner did not have",
                slot.listed.path
            )
        })?;
        ensure!(
            offset + len <= held.size(),
            "a comparison beyond the {} bytes this joiner had of {}",
            held.size(),
            slot.listed.path
        );
        Ok((index, len, held))
    }

    /// A check of a block this node holds: `true` when the donor must send
    /// it, `false` when ours is the same (it is then accepted as is); our own
    /// copy is hashed through the stream's `scratch`.
    fn check(&self, id: u32, offset: u64, hash: u128, scratch: &mut [u8]) -> Result<bool> {
        let slot = self.slot(id)?;
        let (index, len, held) = self.held_block(slot, offset)?;
        let ours = match held {
            Held::Hashes { hashes, .. } => hashes.get(index as usize).copied(),
            Held::Disk { .. } => {
                let Some(file) = self.open(slot)? else {
                    return Ok(false);
                };
                // Unreadable here only means "send it".
                block_hash_at(&file, offset, len, scratch).ok()
            }
        };
        if ours != Some(hash) {
            // The donor compares a differing block page by page next; a
            // block not just read here may be on disk only (see
            // `start_writeback`).
            if matches!(held, Held::Hashes { .. })
                && let Some(file) = self.open(slot)?
            {
                read_ahead(&file, offset, len);
            }
            return Ok(true);
        }
        self.progress.add_kept(len);
        self.accept(slot, index, hash)?;
        Ok(false)
    }

    /// The donor's digest of a file.
    fn digest(&self, id: u32, digest: u128) -> Result<()> {
        let slot = self.slot(id)?;
        if self.open(slot)?.is_none() {
            return Ok(());
        }
        let mut state = Self::lock(slot);
        ensure!(
            state.digest.replace(digest).is_none() && !state.done,
            "second digest for {}",
            slot.listed.path
        );
        self.try_finish(slot, &mut state)
    }

    /// The donor gave a file up in a live round.
    fn vanish(&self, id: u32) -> Result<()> {
        ensure!(
            self.kind.live,
            "the donor gave a file up outside a live round"
        );
        let slot = self.slot(id)?;
        let mut state = Self::lock(slot);
        log::debug!(
            "{} changed on the donor; the locked round settles it",
            slot.listed.path
        );
        *state = SlotState {
            vanished: true,
            done: true,
            ..SlotState::default()
        };
        Ok(())
    }

    /// The file, opened on first use: created empty and sized, or, when
    /// this node held it, kept and resized. `None` once the donor gave the
    /// file up in a live round (its late frames are ignored).
    fn open(&self, slot: &Slot) -> Result<Option<Arc<File>>> {
        let mut state = Self::lock(slot);
        if state.vanished {
            return Ok(None);
        }
        ensure!(
            !state.done,
            "data for {} after it was complete",
            slot.listed.path
        );
        if let Some(file) = &state.file {
            return Ok(Some(Arc::clone(file)));
        }
        let (root, at) = self.roots.place(&slot.listed)?;
        let file = root.open_file(at, slot.listed.mode, slot.listed.held.is_some())?;
        file.set_len(slot.listed.size)
            .map_err(|e| describe(&e, &root.show(at), "sizing"))?;
        let file = Arc::new(file);
        state.file = Some(Arc::clone(&file));
        Ok(Some(file))
    }

    /// Block `index` of the file is in place with `hash`.
    fn accept(&self, slot: &Slot, index: u64, hash: u128) -> Result<()> {
        let mut state = Self::lock(slot);
        if state.vanished {
            return Ok(());
        }
        ensure!(
            !state.done,
            "block for {} after it was complete",
            slot.listed.path
        );
        let blocks = block_count(slot.listed.size, self.block_size);
        state
            .fold
            .get_or_insert_with(|| Fold::new(blocks))
            .add(index, hash)
            .with_context(|| format!("in {}", slot.listed.path))?;
        if self.kind.remember {
            if state.hashes.is_empty() {
                state.hashes = vec![0; blocks as usize];
            }
            state.hashes[index as usize] = hash;
        }
        self.try_finish(slot, &mut state)
    }

    /// Closes and accepts the file once all blocks and the digest are in.
    fn try_finish(&self, slot: &Slot, state: &mut SlotState) -> Result<()> {
        let fold = state
            .fold
            .get_or_insert_with(|| Fold::new(block_count(slot.listed.size, self.block_size)));
        if let (Some(ours), Some(theirs)) = (fold.digest(), state.digest) {
            ensure!(
                ours == theirs,
                "{} does not match the donor's digest (corrupted in transit)",
                slot.listed.path
            );
            state.file = None;
            state.fold = None;
            state.done = true;
            self.progress.add_file();
        }
        Ok(())
    }

    /// After every stream ended: every file complete and verified (or,
    /// in a live round, given up). Returns what the next round may take
    /// as known.
    pub(crate) fn finish(&self) -> Result<Memory> {
        let mut incomplete = Vec::new();
        let mut memory = Memory::new();
        for slot in &self.files {
            let mut state = Self::lock(slot);
            if state.done {
                if self.kind.remember && !state.vanished {
                    let hashes = std::mem::take(&mut state.hashes);
                    memory.insert(
                        (slot.listed.class, slot.listed.path.clone()),
                        (slot.listed.size, hashes.into()),
                    );
                }
                continue;
            }
            let missing = state.fold.as_ref().map_or_else(
                || block_count(slot.listed.size, self.block_size),
                Fold::missing,
            );
            incomplete.push(format!(
                "{} ({missing} blocks missing{})",
                slot.listed.path,
                if state.digest.is_none() {
                    ", no digest"
                } else {
                    ""
                }
            ));
        }
        if !incomplete.is_empty() {
            bail!(
                "{} files are incomplete, e.g. {}",
                incomplete.len(),
                incomplete[..incomplete.len().min(3)].join(", ")
            );
        }
        Ok(memory)
    }

    /// After the last round's `finish`: writes the `.isl` files and the
    /// symbolic links of the tables outside the datadir, each naming the
    /// verified file this node placed, and returns the directories those
    /// files went below (to sync them). Every link of the list names a
    /// file `finish` found complete, so no link names a missing file.
    pub(crate) fn place_links(&self) -> Result<Vec<std::path::PathBuf>> {
        let data = self.roots.get(crate::protocol::Class::Data)?;
        for link in &self.links {
            let slot = self.slot(link.file as u32)?;
            ensure!(
                Self::lock(slot).done,
                "{} names /{}, which did not arrive",
                data.show(&link.path),
                slot.listed.path
            );
            let (root, at) = self.roots.place(&slot.listed)?;
            let target = std::path::PathBuf::from(root.show(at));
            let placed = if link.symlink {
                Link::Symlink(&target)
            } else {
                Link::File {
                    content: target.as_os_str().as_encoded_bytes(),
                    mode: 0o660,
                }
            };
            data.place_link(&link.path, placed)?;
            log::info!("{} names {}", data.show(&link.path), target.display());
        }
        Ok(self.roots.outside().map(Path::to_path_buf).collect())
    }

    /// The names of the received files of `class`.
    pub(crate) fn names_of(&self, class: crate::protocol::Class) -> Vec<crate::fsutil::RelPath> {
        self.files
            .iter()
            .filter(|s| s.listed.class == class)
            .map(|s| s.listed.path.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Class;
    use crate::testutil::connection_pair;
    use crate::transfer::manifest::receive_manifest;
    use crate::transfer::{BLOCK_SIZE, Layout};

    /// A receiver for one `ibdata1` of `size` bytes, its list received from
    /// a donor over a real connection.
    fn receiver_of(dir: &Path, size: u64) -> Receiver {
        let (mut donor, mut joiner) = connection_pair();
        donor
            .write_frame(&Frame::File {
                id: 0,
                class: Class::SysTablespace,
                size,
                mode: 0o640,
                path: b"ibdata1",
            })
            .expect("file");
        donor
            .send(&Frame::ManifestEnd {
                files: 1,
                bytes: size,
            })
            .expect("end");
        let manifest = receive_manifest(&mut joiner, &Layout::flat(dir), true, None).expect("list");
        let kind = RoundKind {
            live: false,
            remember: false,
        };
        Receiver::new(manifest, BLOCK_SIZE, kind)
    }

    /// Sends `blocks` (offset, bytes) of file 0, then `digest`, then End,
    /// and returns what the receiver made of the stream.
    fn stream(receiver: &Receiver, blocks: &[(u64, &[u8])], digest: u128) -> Result<()> {
        let (mut donor, mut joiner) = connection_pair();
        std::thread::scope(|scope| {
            let sender = scope.spawn(move || -> Result<()> {
                for (offset, data) in blocks {
                    let hash = block_hash(data);
                    donor.write_frame(&Frame::Block {
                        id: 0,
                        offset: *offset,
                        hash,
                        data,
                    })?;
                }
                donor.write_frame(&Frame::Digest { id: 0, digest })?;
                donor.send(&Frame::End)
            });
            let received = receiver.receive_stream(&mut joiner);
            drop(joiner);
            let _ = sender.join().expect("sender thread");
            received
        })
    }

    /// The donor's digest of `blocks` (one per `BLOCK_SIZE`).
    fn digest_of(blocks: &[&[u8]]) -> u128 {
        let mut fold = Fold::new(blocks.len() as u64);
        for (i, data) in blocks.iter().enumerate() {
            fold.add(i as u64, block_hash(data)).expect("fold");
        }
        fold.digest().expect("complete")
    }

    #[test]
    fn a_file_is_accepted_with_every_block_and_its_digest() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let first = vec![7u8; BLOCK_SIZE as usize];
        let second = vec![9u8; 1000];
        let size = (first.len() + second.len()) as u64;
        let receiver = receiver_of(tmp.path(), size);
        let digest = digest_of(&[&first, &second]);
        // The second block first: order does not matter.
        stream(
            &receiver,
            &[(u64::from(BLOCK_SIZE), &second), (0, &first)],
            digest,
        )
        .expect("stream");
        receiver.finish().expect("complete");
        let got = std::fs::read(tmp.path().join("ibdata1")).expect("read");
        assert_eq!(got.len() as u64, size);
        assert!(got[..first.len()] == first[..] && got[first.len()..] == second[..]);
    }

    #[test]
    fn a_wrong_digest_or_a_missing_block_is_refused() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let block = vec![3u8; 4096];
        let receiver = receiver_of(tmp.path(), 4096);
        let wrong = digest_of(&[&block]) ^ 1;
        let err = stream(&receiver, &[(0, &block)], wrong).expect_err("digest");
        assert!(format!("{err:#}").contains("ibdata1"), "{err:#}");

        let tmp = tempfile::tempdir().expect("tempdir");
        let receiver = receiver_of(tmp.path(), 2 * u64::from(BLOCK_SIZE));
        let first = vec![1u8; BLOCK_SIZE as usize];
        let digest = digest_of(&[&first, &first]);
        let _ = stream(&receiver, &[(0, &first)], digest);
        let err = receiver.finish().expect_err("a block is missing");
        assert!(format!("{err:#}").contains("1 blocks missing"), "{err:#}");
    }

    #[test]
    fn a_block_outside_the_file_is_refused() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let receiver = receiver_of(tmp.path(), 4096);
        let block = vec![5u8; 4096];
        let err = stream(&receiver, &[(u64::from(BLOCK_SIZE), &block)], 0)
            .expect_err("offset beyond the file");
        assert!(format!("{err:#}").contains("ibdata1"), "{err:#}");
    }
}
