//! One data stream of the donor: it takes pieces of files from the shared
//! [`Schedule`](super::schedule::Schedule) until none are left, reads each
//! block straight into the buffer behind its frame prefix and writes it
//! with one call, sends holes as `Hole` frames, and for a block the joiner
//! holds sends its hash (`Check`), then the hashes of the pages of one that
//! differs (`Pages`), then only the pages that differ. It keeps reading
//! and asking about pieces while the joiner answers the checks of those
//! before, up to a window of them ([`super::window`], [`Worker::run`]).

use std::os::unix::fs::FileExt;
use std::rc::Rc;
use std::sync::PoisonError;
use std::sync::atomic::Ordering;

use anyhow::{Result, bail};

use super::BLOCK_SIZE;
use super::codec::Compressor;
use super::schedule::Piece;
use super::send::Shared;
use super::source::{Source, Unreadable, file_bytes, is_hole, open_source};
use super::window::Window;
use crate::fsutil::read_ahead;
use crate::net::{Connection, Transport};
use crate::protocol::Frame;
use crate::protocol::digest::{Fold, HASH_CHUNK, block_hash, block_hash_at, page_len, zero_hash};
use crate::protocol::frame::{BLOCK_PREFIX, PageHashes, block_prefix};

/// Blocks a stream asks the kernel to read ahead of the block it reads.
/// InnoDB writes its pages with O_DIRECT, which drops them from the page
/// cache: in a round after the first, the pages written since the last one
/// come from disk, and read one miss at a time they stall the stream.
const READ_AHEAD: u64 = 8;

/// A block whose hash went out in a `Check`, waiting for the answer.
#[derive(Debug, Clone, Copy)]
struct Checked {
    offset: u64,
    len: u32,
    hash: u128,
    hole: bool,
}

/// A piece read: its blocks the joiner lacks went whole, those it holds as
/// checks, which wait for the joiner's answer in the stream's window while
/// the stream reads its next pieces (see [`Worker::run`]).
struct Started {
    piece: Piece,
    source: Rc<Source>,
    /// The digest's fold, for a file of one piece.
    local: Option<Fold>,
    checks: Vec<Checked>,
    /// Why the file was given up after some checks went out (they are
    /// answered all the same).
    changed: Option<anyhow::Error>,
}

/// One data stream: takes pieces until none are left, then `End`.
pub(super) struct Worker<'w, 'p, 'a, 'u> {
    shared: &'w Shared<'p, 'a, 'u>,
    conn: Connection<Transport>,
    buf: Vec<u8>,
    /// Where blocks that are only compared are hashed (see [`HASH_CHUNK`]).
    scratch: Vec<u8>,
    zero_block: u128,
    /// Bytes of the pages a differing block is compared in.
    page: usize,
    /// The file being read.
    open: Option<Rc<Source>>,
    compressor: Option<Compressor>,
    /// Pieces asked about, waiting to be settled.
    window: Window<Started>,
}

impl<'w, 'p, 'a, 'u> Worker<'w, 'p, 'a, 'u> {
    pub(super) fn new(
        shared: &'w Shared<'p, 'a, 'u>,
        conn: Connection<Transport>,
        window: usize,
    ) -> Result<Self> {
        let compressor = match shared.round.codec {
            Some(codec) => Some(Compressor::new(codec, BLOCK_SIZE as usize)?),
            None => None,
        };
        Ok(Worker {
            shared,
            conn,
            buf: vec![0u8; BLOCK_PREFIX + BLOCK_SIZE as usize],
            scratch: vec![0u8; HASH_CHUNK],
            zero_block: zero_hash(BLOCK_SIZE.into()),
            page: page_len(BLOCK_SIZE) as usize,
            open: None,
            compressor,
            window: Window::new(window),
        })
    }

    /// Reads piece after piece and asks about each one's checks at once;
    /// the oldest piece asked about is settled only when the window is
    /// full (or no piece is left), so the joiner's answers travel while
    /// this stream reads and asks about the next ones.
    pub(super) fn run(mut self) -> Result<()> {
        loop {
            self.shared.stop.check()?;
            let current = self.open.as_ref().map(|source| source.id);
            let Some(piece) = self.shared.schedule.next(current) else {
                break;
            };
            if self.abandoned(piece.file) {
                continue;
            }
            let started = self.start(piece);
            if let Some(asked) = self.follow(piece.file, started)? {
                self.window.push(asked);
            }
            while self.window.is_full() {
                self.settle_oldest()?;
            }
        }
        while self.settle_oldest()? {}
        self.conn.send(&Frame::End)?;
        // Wait for the joiner to close its side: every frame was read.
        match self.conn.read_frame()? {
            None => Ok(()),
            Some(frame) => bail!("unexpected {:?} frame on a data stream", frame.kind()),
        }
    }

    fn abandoned(&self, file: u32) -> bool {
        self.shared.abandoned[file as usize].load(Ordering::SeqCst)
    }

    /// A file that changed under us: given up in a live round (the next
    /// round sends it), fatal under the lock.
    fn give_up(&mut self, file: u32, unreadable: Unreadable) -> Result<()> {
        match unreadable {
            Unreadable::Changed(why) if self.shared.round.live => self.abandon(file, &why),
            Unreadable::Changed(e) | Unreadable::Failed(e) => Err(e),
        }
    }

    /// Gives a changing file up for this live round: `Vanished` on this
    /// stream (the joiner drops the blocks it was mending here), whichever
    /// stream noticed first.
    fn abandon(&mut self, file: u32, why: &anyhow::Error) -> Result<()> {
        if !self.shared.abandoned[file as usize].swap(true, Ordering::SeqCst) {
            log::debug!("{why:#}: left to the next round");
        }
        self.conn.write_frame(&Frame::Vanished { id: file })?;
        self.shared
            .folds
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&file);
        self.shared
            .hashes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&file);
        if self.open.as_ref().is_some_and(|source| source.id == file) {
            self.open = None;
        }
        Ok(())
    }

    /// Reads a piece: blocks the joiner lacks go whole, blocks it holds go
    /// as checks. A file that changes after a check went out is recorded in
    /// [`Started::changed`]; before, it is the error.
    fn start(&mut self, piece: Piece) -> Result<Started, Unreadable> {
        let file = &self.shared.plan.files[piece.file as usize];
        let source = match &self.open {
            Some(source) if source.id == piece.file => Rc::clone(source),
            _ => {
                let source = Rc::new(open_source(piece.file, file)?);
                self.open = Some(Rc::clone(&source));
                source
            }
        };
        let mut started = Started {
            piece,
            source,
            local: (piece.first == 0 && piece.count >= file.blocks).then(|| Fold::new(file.blocks)),
            checks: Vec::new(),
            changed: None,
        };
        for block in piece.first..(piece.first + READ_AHEAD).min(file.blocks) {
            self.read_ahead(&started.source, block);
        }
        for block in piece.first..piece.first + piece.count {
            self.read_ahead(&started.source, block + READ_AHEAD);
            match self.block(&mut started, block) {
                Ok(()) => {}
                Err(Unreadable::Changed(why)) if !started.checks.is_empty() => {
                    started.changed = Some(why);
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(started)
    }

    /// One block of a piece: sent, or checked when the joiner holds it.
    fn block(&mut self, started: &mut Started, block: u64) -> Result<(), Unreadable> {
        let id = started.piece.file;
        let file = &self.shared.plan.files[id as usize];
        let source = &started.source;
        let offset = block * u64::from(BLOCK_SIZE);
        let len = (file.size - offset).min(BLOCK_SIZE.into()) as u32;
        let checked =
            self.shared.round.held[id as usize].is_some_and(|size| offset + u64::from(len) <= size);
        // A block the redo log index vouches for is what the joiner holds:
        // its hash goes unread (the joiner still compares it).
        let vouched = self.shared.round.vouched(id, block).filter(|_| checked);
        let hole = vouched.is_none() && self.is_hole(source, offset, len)?;
        let hash = if let Some(hash) = vouched {
            hash
        } else if hole {
            self.zero_hash(len)
        } else if checked {
            self.hash(source, offset, len)?
        } else {
            self.read(source, offset, len)?
        };
        if checked {
            self.conn
                .write_frame(&Frame::Check { id, offset, hash })
                .map_err(Unreadable::Failed)?;
            started.checks.push(Checked {
                offset,
                len,
                hash,
                hole,
            });
            return Ok(());
        }
        self.send(id, offset, len, hash, hole)?;
        self.fold(&mut started.local, id, file.blocks, block, hash)
            .map_err(Unreadable::Failed)
    }

    /// After a piece is read (and the one before it settled): asks the
    /// joiner about its checks and returns it to settle later, or gives
    /// its file up, or, all its blocks sent, finishes it.
    fn follow(
        &mut self,
        file: u32,
        started: Result<Started, Unreadable>,
    ) -> Result<Option<Started>> {
        let mut started = match started {
            Ok(started) => started,
            Err(unreadable) => return self.give_up(file, unreadable).map(|()| None),
        };
        let changed = started.changed.take();
        let complete = changed.is_none();
        if let Some(why) = changed {
            self.give_up(file, Unreadable::Changed(why))?;
        }
        if !started.checks.is_empty() {
            self.conn.send(&Frame::Ask)?;
            return Ok(Some(started));
        }
        if complete {
            self.finish(started)?;
        }
        Ok(None)
    }

    /// Settles the oldest piece of the window: reads the joiner's answer
    /// to its checks (unless read already) and sends what it lacks, then
    /// the file's digest when complete; a file given up meanwhile (by any
    /// stream) gets nothing more. `false` when the window was empty.
    fn settle_oldest(&mut self) -> Result<bool> {
        let Some((mut started, answer)) = self.window.pop() else {
            return Ok(false);
        };
        let needed = match answer {
            Some(needed) => needed,
            None => read_answer(&mut self.conn, started.checks.len(), "our checks")?,
        };
        let file = started.piece.file;
        if self.abandoned(file) {
            return Ok(true);
        }
        match self.resolve(&mut started, needed) {
            Ok(()) => self.finish(started)?,
            Err(unreadable) => self.give_up(file, unreadable)?,
        }
        Ok(true)
    }

    /// Reads the answers to every piece of the window not answered yet,
    /// and keeps them: the answers to `Pages` sent now come after theirs.
    fn answer_window(&mut self) -> Result<()> {
        for (started, answer) in self.window.unanswered() {
            *answer = Some(read_answer(
                &mut self.conn,
                started.checks.len(),
                "our checks",
            )?);
        }
        Ok(())
    }

    /// Sends the checked blocks the joiner lacks (bit i of `needed` for
    /// check i), the pages that differ of each (see [`Worker::mend`]), and
    /// folds every block's hash: what the joiner now holds.
    fn resolve(&mut self, started: &mut Started, needed: u64) -> Result<(), Unreadable> {
        let file = started.piece.file;
        let source = Rc::clone(&started.source);
        let mut held = Vec::with_capacity(started.checks.len());
        let mut differing = Vec::new();
        let mut changed = None;
        for (i, check) in started.checks.iter().enumerate() {
            if needed & (1 << i) == 0 {
                self.shared.progress.add_kept(check.len.into());
                held.push((check.offset, check.hash));
            } else if check.hole {
                self.send(file, check.offset, check.len, check.hash, true)?;
                held.push((check.offset, check.hash));
            } else {
                match self.pages(&source, check) {
                    Ok(sent) => differing.push((*check, sent)),
                    Err(Unreadable::Changed(why)) => {
                        changed = Some(why);
                        break;
                    }
                    Err(failed) => return Err(failed),
                }
            }
        }
        // The joiner answers each `Pages` as it arrives, after the asks of
        // the window; every one went out before the first answer is read,
        // so the comparisons overlap. All are read, even when the file
        // changed meanwhile.
        if !differing.is_empty() {
            self.answer_window().map_err(Unreadable::Failed)?;
        }
        let mut lacking = Vec::with_capacity(differing.len());
        for (_, (_, pages)) in &differing {
            lacking.push(
                read_answer(&mut self.conn, pages.len(), "our page hashes")
                    .map_err(Unreadable::Failed)?,
            );
        }
        if let Some(why) = changed {
            return Err(Unreadable::Changed(why));
        }
        for ((check, sent), lacking) in differing.iter().zip(lacking) {
            held.push((check.offset, self.mend(&source, check, sent, lacking)?));
        }
        let blocks = self.shared.plan.files[file as usize].blocks;
        for (offset, hash) in held {
            let block = offset / u64::from(BLOCK_SIZE);
            self.fold(&mut started.local, file, blocks, block, hash)
                .map_err(Unreadable::Failed)?;
        }
        Ok(())
    }

    /// Sends the digest of the piece's file once all its blocks are folded
    /// (by this stream, or by any for a file of several pieces).
    fn finish(&mut self, started: Started) -> Result<()> {
        let id = started.piece.file;
        let digest = match started.local {
            Some(fold) => fold.digest(),
            None => {
                let mut folds = self
                    .shared
                    .folds
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                let digest = folds.get(&id).and_then(Fold::digest);
                if digest.is_some() {
                    folds.remove(&id);
                }
                digest
            }
        };
        if let Some(digest) = digest {
            self.conn.write_frame(&Frame::Digest { id, digest })?;
            self.shared.digested[id as usize].store(true, Ordering::SeqCst);
            self.shared.progress.add_file();
            let locked = self.shared.plan.files[id as usize].clone.is_none();
            if let (Some(unlock), true) = (self.shared.unlock, locked) {
                unlock.file_read()?;
            }
        }
        Ok(())
    }

    /// Reads a checked block that the joiner lacks into the buffer and
    /// returns its hash. A block that changed since its check is taken as
    /// it is now in a live round (the next round compares it again), and
    /// fails the transfer under the lock.
    fn reread(&mut self, source: &Source, check: &Checked) -> Result<u128, Unreadable> {
        let hash = self.read(source, check.offset, check.len)?;
        if hash != check.hash && !self.shared.round.live {
            let path = self.shared.plan.files[source.id as usize].source.display();
            return Err(Unreadable::Changed(anyhow::anyhow!(
                "{path} changed at offset {} while it was being sent",
                check.offset
            )));
        }
        Ok(hash)
    }

    /// The hashes of the pages of the `len` bytes in the buffer.
    fn page_hashes(&self, len: u32) -> Vec<u128> {
        self.buf[BLOCK_PREFIX..BLOCK_PREFIX + len as usize]
            .chunks(self.page)
            .map(block_hash)
            .collect()
    }

    /// Sends the page hashes of a block the joiner holds another version
    /// of; returns them with the hash of the block they were taken from.
    fn pages(&mut self, source: &Source, check: &Checked) -> Result<(u128, Vec<u128>), Unreadable> {
        let hash = self.reread(source, check)?;
        let hashes = self.page_hashes(check.len);
        let wire: Vec<u8> = hashes.iter().flat_map(|h| h.to_be_bytes()).collect();
        PageHashes::new(&wire)
            .and_then(|wire| {
                self.conn.write_frame(&Frame::Pages {
                    id: source.id,
                    offset: check.offset,
                    hashes: wire,
                })
            })
            .map_err(Unreadable::Failed)?;
        Ok((hash, hashes))
    }

    /// Sends the pages of a block that the joiner lacks (bit i of `lacking`
    /// for page i) or that changed since their hashes went out (`sent`: the
    /// block's hash and page hashes then), then `Mended` with the block's
    /// hash, which it returns.
    fn mend(
        &mut self,
        source: &Source,
        check: &Checked,
        sent: &(u128, Vec<u128>),
        lacking: u64,
    ) -> Result<u128, Unreadable> {
        let hash = self.reread(source, check)?;
        let (then, pages) = sent;
        // Only a block that changed since (a live round) is hashed again.
        let now = (hash != *then).then(|| self.page_hashes(check.len));
        let mut patched = 0;
        for (i, page_hash) in pages.iter().enumerate() {
            let changed = now.as_ref().is_some_and(|now| now[i] != *page_hash);
            if lacking & (1 << i) == 0 && !changed {
                continue;
            }
            let start = i * self.page;
            let end = (start + self.page).min(check.len as usize);
            self.conn
                .write_frame(&Frame::Patch {
                    id: source.id,
                    offset: check.offset + start as u64,
                    data: &self.buf[BLOCK_PREFIX + start..BLOCK_PREFIX + end],
                })
                .map_err(Unreadable::Failed)?;
            patched += (end - start) as u64;
        }
        self.conn
            .write_frame(&Frame::Mended {
                id: source.id,
                offset: check.offset,
                hash,
            })
            .map_err(Unreadable::Failed)?;
        self.shared.progress.add_bytes(patched);
        self.shared
            .progress
            .add_kept(u64::from(check.len) - patched);
        Ok(hash)
    }

    /// Sends a block: a hole, the data now in the buffer compressed when
    /// that pays, or as it is.
    fn send(
        &mut self,
        file: u32,
        offset: u64,
        len: u32,
        hash: u128,
        hole: bool,
    ) -> Result<(), Unreadable> {
        let data = &self.buf[BLOCK_PREFIX..BLOCK_PREFIX + len as usize];
        let packed = self
            .compressor
            .as_mut()
            .filter(|_| !hole)
            .and_then(|c| Some((c.codec(), c.compress(data)?)));
        let sent = if hole {
            self.conn.write_frame(&Frame::Hole {
                id: file,
                offset,
                len,
            })
        } else if let Some((codec, packed)) = packed {
            self.shared.progress.add_bytes(len.into());
            self.shared
                .progress
                .add_saved(u64::from(len) - packed.len() as u64);
            self.conn.send(&Frame::Packed {
                id: file,
                offset,
                hash,
                codec: codec as u8,
                len,
                data: packed,
            })
        } else {
            self.buf[..BLOCK_PREFIX].copy_from_slice(&block_prefix(file, offset, hash, len));
            self.shared.progress.add_bytes(len.into());
            self.conn.send_raw(&self.buf[..BLOCK_PREFIX + len as usize])
        };
        sent.map_err(Unreadable::Failed)
    }

    /// Adds a block hash to the file's fold.
    fn fold(
        &self,
        local: &mut Option<Fold>,
        file: u32,
        blocks: u64,
        block: u64,
        hash: u128,
    ) -> Result<()> {
        if self.shared.round.remember {
            let mut hashes = self
                .shared
                .hashes
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let kept = hashes
                .entry(file)
                .or_insert_with(|| vec![0; blocks as usize]);
            if let Some(slot) = kept.get_mut(block as usize) {
                *slot = hash;
            }
        }
        match local {
            Some(fold) => fold.add(block, hash),
            None => self
                .shared
                .folds
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(file)
                .or_insert_with(|| Fold::new(blocks))
                .add(block, hash),
        }
    }

    fn zero_hash(&self, len: u32) -> u128 {
        if len == BLOCK_SIZE {
            self.zero_block
        } else {
            zero_hash(len.into())
        }
    }

    /// Asks for block `block` of the file to be read in the background,
    /// when it is within the file, not held in memory and not vouched for.
    fn read_ahead(&self, source: &Source, block: u64) {
        let file = &self.shared.plan.files[source.id as usize];
        let offset = block * u64::from(BLOCK_SIZE);
        let vouched = self.shared.round.vouched(source.id, block).is_some();
        if file.held.is_none() && offset < file.size && !vouched {
            read_ahead(&source.file, offset, BLOCK_SIZE.into());
        }
    }

    fn is_hole(&self, source: &Source, offset: u64, len: u32) -> Result<bool, Unreadable> {
        if !source.sparse {
            return Ok(false);
        }
        let path = self.shared.plan.files[source.id as usize].source;
        is_hole(&source.file, offset, len, path).map_err(Unreadable::Failed)
    }

    /// Reads a block into the buffer (behind the frame prefix) and
    /// returns its hash.
    fn read(&mut self, source: &Source, offset: u64, len: u32) -> Result<u128, Unreadable> {
        let file = &self.shared.plan.files[source.id as usize];
        let data = &mut self.buf[BLOCK_PREFIX..BLOCK_PREFIX + len as usize];
        match &file.held {
            Some(held) => {
                let start = offset as usize;
                data.copy_from_slice(&held[start..start + len as usize]);
            }
            None => file_bytes(
                source.file.read_exact_at(data, offset),
                file.source,
                offset,
                len,
            )?,
        }
        Ok(block_hash(data))
    }

    /// The hash of a block, without keeping its bytes (a block the joiner
    /// holds is compared first; [`Worker::resolve`] reads it if needed).
    fn hash(&mut self, source: &Source, offset: u64, len: u32) -> Result<u128, Unreadable> {
        let file = &self.shared.plan.files[source.id as usize];
        match &file.held {
            Some(held) => Ok(block_hash(&held[offset as usize..][..len as usize])),
            None => file_bytes(
                block_hash_at(&source.file, offset, len.into(), &mut self.scratch),
                file.source,
                offset,
                len,
            ),
        }
    }
}

/// The joiner's bitmap answering `count` checks or page hashes.
fn read_answer(conn: &mut Connection<Transport>, count: usize, what: &str) -> Result<u64> {
    match conn.expect_frame("the joiner's answer")? {
        Frame::Answer { checks, needed } if usize::from(checks) == count => Ok(needed),
        other => bail!("expected an answer to {count} of {what}, got {other:?}"),
    }
}
