//! The donor's sender: the manifest on the control connection, then the
//! blocks of every file over N data connections.
//!
//! Streams take pieces of files from a shared [`Schedule`] (largest file
//! first, one stream per file while there are enough files, a big file
//! shared at the end). A block is read straight into the buffer behind its
//! frame prefix and written with one call. Holes of sparse files travel as
//! `Hole` frames. A stream reads its next piece while the joiner answers
//! the checks of the one before ([`Worker::run`]).

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError, mpsc};

use anyhow::{Context, Result, bail, ensure};
use nix::errno::Errno;
use nix::unistd::{Whence, lseek};

use super::Layout;
use super::codec::{Codec, Compressor};
use super::schedule::{Piece, Schedule};
use super::snapshot::Snapshot;
use super::walk::{Entry, EntryKind};
use super::{BLOCK_SIZE, PIECE_BLOCKS};
use crate::exit::Exit;
use crate::fsutil::{RelPath, describe, read_ahead};
use crate::net::{Connection, KEEPALIVE, Transport};
use crate::progress::Progress;
use crate::protocol::Class;
use crate::protocol::Frame;
use crate::protocol::digest::{
    Fold, HASH_CHUNK, block_count, block_hash, block_hash_at, page_len, zero_hash,
};
use crate::protocol::frame::{BLOCK_PREFIX, PageHashes, block_prefix};
use crate::signals::Stop;

/// The files to send, numbered in manifest order (their ids on the wire).
#[derive(Debug)]
pub(crate) struct Plan<'a> {
    files: Vec<PlanFile<'a>>,
    bytes: u64,
}

#[derive(Debug)]
struct PlanFile<'a> {
    source: &'a Path,
    size: u64,
    blocks: u64,
    /// A control file's bytes, read before any other file of the round.
    held: Option<Vec<u8>>,
    /// Its clone under the lock ([`Plan::adopt`]), read instead of it
    /// once the lock is gone; without one it is read under the lock.
    clone: Option<File>,
}

/// Blocks a stream asks the kernel to read ahead of the block it reads.
/// InnoDB writes its pages with O_DIRECT, which drops them from the page
/// cache: in a round after the first, the pages written since the last one
/// come from disk, and read one miss at a time they stall the stream.
const READ_AHEAD: u64 = 8;

/// Files that point into other files of the set and must therefore be read
/// before them, and before the walk sizes them: Aria's control file names
/// the last checkpoint in `aria_log.*`, and Aria's checkpoint thread may
/// write a new one at any time, lock or not. A control file read first names
/// a checkpoint that the logs, sized and read after it, contain; read last,
/// it can name one they lack (Aria recovery then fails: "Cannot find
/// checkpoint record").
const CONTROL_FILES: [(Class, &str); 1] = [(Class::AriaLog, "aria_log_control")];

/// Largest control file read ahead (aria_log_control is 52 bytes).
const CONTROL_MAX: u64 = 64 << 10;

/// The control files of a node, read at the start of a round.
#[derive(Debug, Default)]
pub(crate) struct Controls(Vec<(PathBuf, Vec<u8>)>);

impl Controls {
    /// Reads the control files that exist under `layout`'s directories.
    pub(crate) fn read(layout: &Layout) -> Result<Controls> {
        let mut out = Vec::new();
        for (class, name) in CONTROL_FILES {
            let path = layout.root(class).join(name);
            let shown = path.display().to_string();
            let file = match File::open(&path) {
                Ok(file) => file,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(describe(&e, &shown, "opening")),
            };
            let mut bytes = Vec::new();
            file.take(CONTROL_MAX + 1)
                .read_to_end(&mut bytes)
                .map_err(|e| describe(&e, &shown, "reading"))?;
            ensure!(
                bytes.len() as u64 <= CONTROL_MAX,
                "{shown} is larger than a control file can be ({CONTROL_MAX} bytes); \
                 check that it is the file MariaDB wrote"
            );
            out.push((path, bytes));
        }
        Ok(Controls(out))
    }
}

impl<'a> Plan<'a> {
    /// Numbers the files of `entries` in order.
    pub(crate) fn new(entries: &'a [Entry]) -> Result<Plan<'a>> {
        let mut files = Vec::new();
        for entry in entries {
            if let EntryKind::File { source, size } = &entry.kind {
                files.push(PlanFile {
                    source,
                    size: *size,
                    blocks: block_count(*size, BLOCK_SIZE),
                    held: None,
                    clone: None,
                });
            }
        }
        ensure!(files.len() < u32::MAX as usize, "too many files");
        let bytes = files.iter().map(|f| f.size).sum();
        Ok(Plan { files, bytes })
    }

    /// Sends the control files from the bytes `controls` read before the
    /// walk (see [`CONTROL_FILES`]), at the size the walk found.
    pub(crate) fn hold(&mut self, controls: Controls) {
        for (path, mut bytes) in controls.0 {
            if let Some(file) = self.files.iter_mut().find(|f| f.source == path) {
                bytes.resize(file.size as usize, 0);
                file.held = Some(bytes);
            }
        }
    }

    /// Every file's path and size, by id.
    pub(crate) fn sources(&self) -> Vec<(&'a Path, u64)> {
        self.files.iter().map(|f| (f.source, f.size)).collect()
    }

    /// Reads the files `snapshot` cloned from their clones.
    pub(crate) fn adopt(&mut self, snapshot: Snapshot) {
        for (file, clone) in self.files.iter_mut().zip(snapshot.clones) {
            file.clone = clone;
        }
    }

    /// Files to read before the lock may go: those without a clone.
    pub(crate) fn locked_files(&self) -> u64 {
        self.files.iter().filter(|f| f.clone.is_none()).count() as u64
    }

    /// Number of files.
    pub(crate) fn files(&self) -> u64 {
        self.files.len() as u64
    }

    /// Total size of the files.
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }

    fn schedule(&self) -> Schedule {
        let shape: Vec<(u64, u64, bool)> = self
            .files
            .iter()
            .map(|f| (f.blocks, f.size, f.clone.is_none()))
            .collect();
        Schedule::new(&shape)
    }
}

/// Sends the manifest: every directory and file, then the totals.
pub(crate) fn send_manifest(
    control: &mut Connection<Transport>,
    entries: &[Entry],
    plan: &Plan<'_>,
) -> Result<()> {
    let mut id = 0u32;
    // The ids of the files outside the datadir, for the links naming them.
    let mut external: HashMap<&RelPath, u32> = HashMap::new();
    for entry in entries {
        let path = entry.path.to_bytes();
        match &entry.kind {
            EntryKind::Link { target, symlink } => control.write_frame(&Frame::Link {
                target: *external
                    .get(target)
                    .with_context(|| format!("{} names a file not listed", entry.path))?,
                symlink: *symlink,
                path: &path,
            })?,
            EntryKind::Dir => control.write_frame(&Frame::Dir {
                class: entry.class,
                mode: entry.mode,
                path: &path,
            })?,
            EntryKind::File { size, .. } => {
                control.write_frame(&Frame::File {
                    id,
                    class: entry.class,
                    size: *size,
                    mode: entry.mode,
                    path: &path,
                })?;
                if entry.class == Class::External {
                    external.insert(&entry.path, id);
                }
                id += 1;
            }
        }
    }
    control.send(&Frame::ManifestEnd {
        files: id,
        bytes: plan.bytes(),
    })
}

/// How a round sends: what the joiner holds, and whether files may change.
#[derive(Debug)]
pub(crate) struct Round {
    /// Per file id, the size of the copy the joiner holds (`Have`), whose
    /// blocks are checked rather than sent.
    pub(crate) held: Vec<Option<u64>>,
    /// A live round: a block that changed since its check goes as it is
    /// now, and a file that shrinks or disappears under us is given up
    /// (`Vanished`) and left to the next round, instead of failing the SST.
    pub(crate) live: bool,
    /// Compress blocks that shrink with this codec.
    pub(crate) codec: Option<Codec>,
}

/// The end of the lock: what runs once every file without a clone has
/// been read (by the stream that reads the last one, or at the start of
/// the round when there is none), so the lock lasts for those files only.
pub(crate) struct Unlock<'u> {
    left: AtomicU64,
    then: Mutex<Option<Release<'u>>>,
}

/// What ends the lock (prints `continue`).
pub(crate) type Release<'u> = Box<dyn FnOnce() -> Result<()> + Send + 'u>;

impl std::fmt::Debug for Unlock<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Unlock").field("left", &self.left).finish()
    }
}

impl<'u> Unlock<'u> {
    /// `then` ends the lock.
    pub(crate) fn new(then: impl FnOnce() -> Result<()> + Send + 'u) -> Unlock<'u> {
        Unlock {
            left: AtomicU64::new(0),
            then: Mutex::new(Some(Box::new(then))),
        }
    }

    /// Ends the lock now, unless that was done already.
    pub(crate) fn release(&self) -> Result<()> {
        let then = self
            .then
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        then.map_or(Ok(()), |then| then())
    }

    /// One of the files read under the lock is read.
    fn file_read(&self) -> Result<()> {
        if self.left.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.release()?;
        }
        Ok(())
    }
}

/// What the workers share.
struct Shared<'p, 'a, 'u> {
    plan: &'p Plan<'a>,
    round: &'p Round,
    unlock: Option<&'p Unlock<'u>>,
    schedule: Schedule,
    /// Folds of files split into several pieces, while in flight.
    folds: Mutex<HashMap<u32, Fold>>,
    /// Files given up in a live round.
    abandoned: Vec<AtomicBool>,
    progress: &'p Progress,
    stop: &'p Stop,
}

/// Sends every block over `conns` (one worker each), counting into
/// `progress`, the files without a clone first, and runs `unlock` once
/// they are read. Keeps `control` alive meanwhile. A failure anywhere
/// stops every worker (through `stop`) and is returned.
pub(crate) fn send_data(
    plan: &Plan<'_>,
    round: &Round,
    unlock: Option<&Unlock<'_>>,
    conns: Vec<Connection<Transport>>,
    control: &mut Connection<Transport>,
    progress: &Progress,
    stop: &Stop,
) -> Result<()> {
    ensure!(
        round.held.len() == plan.files.len(),
        "held sizes do not match the plan"
    );
    if let Some(unlock) = unlock {
        let left = plan.locked_files();
        unlock.left.store(left, Ordering::SeqCst);
        if left == 0 {
            unlock.release()?;
        }
    }
    let shared = Shared {
        plan,
        round,
        unlock,
        schedule: plan.schedule(),
        folds: Mutex::new(HashMap::new()),
        abandoned: plan.files.iter().map(|_| AtomicBool::new(false)).collect(),
        progress,
        stop,
    };
    let workers = conns.len();
    let (done_tx, done_rx) = mpsc::channel::<Result<()>>();
    std::thread::scope(|scope| {
        for conn in conns {
            let tx = done_tx.clone();
            let shared = &shared;
            scope.spawn(move || {
                let result = Worker::new(shared, conn).and_then(Worker::run);
                if let Err(e) = &result {
                    shared.stop.trigger(Exit::Failed, format!("{e:#}"));
                }
                // The receiver outlives every worker (it is in this scope).
                let _ = tx.send(result);
            });
        }
        drop(done_tx);
        let mut first_error = None;
        let mut finished = 0;
        while finished < workers {
            match done_rx.recv_timeout(KEEPALIVE) {
                Ok(result) => {
                    finished += 1;
                    if let (Err(e), None) = (result, &first_error) {
                        first_error = Some(e);
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if first_error.is_none() && !stop.is_stopped() {
                        if let Err(e) = control.keepalive() {
                            stop.trigger(Exit::Failed, format!("{e:#}"));
                            first_error = Some(e);
                        }
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => stop.check(),
        }
    })
}

/// A block whose hash went out in a `Check`, waiting for the answer.
#[derive(Debug, Clone, Copy)]
struct Checked {
    offset: u64,
    len: u32,
    hash: u128,
    hole: bool,
}

/// Why a block could not be read as planned.
enum Unreadable {
    /// The file changed (gone, shrunk, different bytes).
    Changed(anyhow::Error),
    Failed(anyhow::Error),
}

/// A file being read: its id, handle, and whether it may have holes.
struct Source {
    id: u32,
    file: File,
    sparse: bool,
}

/// A piece read: its blocks the joiner lacks went whole, those it holds as
/// checks, which wait for the joiner's answer while the stream reads its
/// next piece (see [`Worker::run`]).
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
struct Worker<'w, 'p, 'a, 'u> {
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
}

impl<'w, 'p, 'a, 'u> Worker<'w, 'p, 'a, 'u> {
    fn new(shared: &'w Shared<'p, 'a, 'u>, conn: Connection<Transport>) -> Result<Self> {
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
        })
    }

    /// Reads piece after piece; a piece's checks are asked about once the
    /// piece before it is settled, and settled after the next one is read,
    /// so the joiner's answer travels while this stream reads.
    fn run(mut self) -> Result<()> {
        let mut waiting: Option<Started> = None;
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
            if let Some(before) = waiting.take() {
                self.settle(before)?;
            }
            waiting = self.follow(piece.file, started)?;
        }
        if let Some(before) = waiting.take() {
            self.settle(before)?;
        }
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
            local: (file.blocks <= PIECE_BLOCKS).then(|| Fold::new(file.blocks)),
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
        let hole = self.is_hole(source, offset, len)?;
        let checked =
            self.shared.round.held[id as usize].is_some_and(|size| offset + u64::from(len) <= size);
        let hash = if hole {
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

    /// Reads the joiner's answer to a piece's checks and sends what it
    /// lacks, then the file's digest when complete; a file given up
    /// meanwhile (by any stream) gets nothing more.
    fn settle(&mut self, mut started: Started) -> Result<()> {
        let file = started.piece.file;
        let needed = self.answer(started.checks.len(), "our checks")?;
        if self.abandoned(file) {
            return Ok(());
        }
        match self.resolve(&mut started, needed) {
            Ok(()) => self.finish(started),
            Err(unreadable) => self.give_up(file, unreadable),
        }
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
        // The joiner answers each `Pages` as it arrives; every one went out
        // before the first answer is read, so the comparisons overlap. All
        // are read, even when the file changed meanwhile.
        let mut lacking = Vec::with_capacity(differing.len());
        for (_, (_, pages)) in &differing {
            lacking.push(
                self.answer(pages.len(), "our page hashes")
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
            self.shared.progress.add_file();
            let locked = self.shared.plan.files[id as usize].clone.is_none();
            if let (Some(unlock), true) = (self.shared.unlock, locked) {
                unlock.file_read()?;
            }
        }
        Ok(())
    }

    /// The joiner's bitmap answering `count` checks or page hashes.
    fn answer(&mut self, count: usize, what: &str) -> Result<u64> {
        match self.conn.expect_frame("the joiner's answer")? {
            Frame::Answer { checks, needed } if usize::from(checks) == count => Ok(needed),
            other => bail!("expected an answer to {count} of {what}, got {other:?}"),
        }
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
    /// when it is within the file and not held in memory.
    fn read_ahead(&self, source: &Source, block: u64) {
        let file = &self.shared.plan.files[source.id as usize];
        let offset = block * u64::from(BLOCK_SIZE);
        if file.held.is_none() && offset < file.size {
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

/// Opens a source file; it must still be as large as planned, and we
/// note whether it may have holes.
fn open_source(id: u32, file: &PlanFile<'_>) -> Result<Source, Unreadable> {
    let shown = file.source.display().to_string();
    let opened = match &file.clone {
        Some(clone) => clone.try_clone(),
        None => File::open(file.source),
    };
    let handle = opened.map_err(|e| {
        let err = describe(&e, &shown, "opening");
        if e.kind() == std::io::ErrorKind::NotFound {
            Unreadable::Changed(err)
        } else {
            Unreadable::Failed(err)
        }
    })?;
    let meta = handle
        .metadata()
        .with_context(|| format!("examining {shown}"))
        .map_err(Unreadable::Failed)?;
    if meta.len() < file.size {
        return Err(Unreadable::Changed(anyhow::anyhow!(
            "{shown} shrank from {} to {} bytes during the transfer",
            file.size,
            meta.len()
        )));
    }
    let sparse = meta.blocks().saturating_mul(512) < meta.len();
    Ok(Source {
        id,
        file: handle,
        sparse,
    })
}

/// Whether `len` bytes at `offset` are a hole (no data stored).
fn is_hole(file: &File, offset: u64, len: u32, path: &Path) -> Result<bool> {
    let start = i64::try_from(offset).context("offset beyond 2^63")?;
    match lseek(file, start, Whence::SeekData) {
        Ok(data) => Ok(data as u64 >= offset + u64::from(len)),
        Err(Errno::ENXIO) => Ok(true),
        Err(e) => bail!("looking for data in {}: {e}", path.display()),
    }
}

/// The outcome of reading `len` bytes of the source `path` at `offset`: a
/// short read means the file shrank under us.
fn file_bytes<T>(
    read: std::io::Result<T>,
    path: &Path,
    offset: u64,
    len: u32,
) -> Result<T, Unreadable> {
    read.map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            Unreadable::Changed(anyhow::anyhow!(
                "{} shrank during the transfer (reading {len} bytes at offset {offset})",
                path.display(),
            ))
        } else {
            Unreadable::Failed(describe(&e, &path.display().to_string(), "reading"))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transfer::walk::walk;

    #[test]
    fn control_files_are_sent_as_read_before_the_walk() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let d = tmp.path().to_path_buf();
        std::fs::write(d.join("aria_log.00000001"), vec![7u8; 3000]).expect("log");
        std::fs::write(d.join("aria_log_control"), b"checkpoint at 1000").expect("control");
        let layout = Layout::new(
            d.clone(),
            d.clone(),
            d.clone(),
            d.clone(),
            d.clone(),
            vec![],
            &[],
        );
        let controls = Controls::read(&layout).expect("controls");
        // Aria's checkpoint thread writes a new checkpoint, then the walk.
        std::fs::write(d.join("aria_log.00000001"), vec![7u8; 4000]).expect("log");
        std::fs::write(d.join("aria_log_control"), b"checkpoint at 3500").expect("control");
        let entries = walk(&layout, &[], true).expect("walk");
        let mut plan = Plan::new(&entries).expect("plan");
        plan.hold(controls);
        let held: Vec<_> = plan
            .files
            .iter()
            .map(|f| {
                (
                    f.source.file_name().expect("name").to_owned(),
                    f.size,
                    f.held.clone(),
                )
            })
            .collect();
        assert_eq!(
            held,
            [
                ("aria_log.00000001".into(), 4000, None),
                (
                    "aria_log_control".into(),
                    18,
                    Some(b"checkpoint at 1000".to_vec())
                ),
            ]
        );
    }

    #[test]
    fn an_oversized_control_file_is_refused() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let d = tmp.path().to_path_buf();
        std::fs::write(d.join("aria_log_control"), vec![0u8; 70 << 10]).expect("control");
        let layout = Layout::new(d.clone(), d.clone(), d.clone(), d.clone(), d, vec![], &[]);
        let err = Controls::read(&layout).expect_err("too big");
        assert!(
            format!("{err:#}").contains("larger than a control file"),
            "{err:#}"
        );
    }
}
