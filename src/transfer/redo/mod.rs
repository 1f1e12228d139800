//! InnoDB's redo log as the donor's change index
//! (`[sst] rsrsync-lock-index=redo`, the default): where the filesystem
//! cannot clone, the rounds after the first need not read the blocks of
//! tablespaces that InnoDB has not written since the first round began.
//!
//! Write-ahead logging is the proof. When the first live round starts,
//! every page InnoDB may still write to a data file is dirty in its buffer
//! pool (with a redo record at or after the checkpoint LSN in the log's
//! header) or gets a redo record later. A thread ([`Reader`]) follows the
//! log from that checkpoint as InnoDB writes it, and collects the
//! (tablespace id, page) of every record, and the tablespaces created,
//! deleted, renamed or truncated. A block of an `.ibd` file that no record
//! touches is, byte for byte, what the joiner received for it in the round
//! before: the donor sends the hash it remembers instead of reading it
//! (the joiner compares as always, and keeps its copy). Under the lock,
//! mariadbd has stopped InnoDB's internal writes and made a checkpoint
//! (`sst_disable_innodb_writes`), so once the reader has passed that
//! checkpoint the index is complete; it must stay quiet until the lock
//! ends, or the SST fails.
//!
//! Anything the index cannot prove means the full compare: a log format it
//! does not know (MariaDB before 10.8, an encrypted log), a record type it
//! does not know, the checkpoint overtaking the reader, the log replaced or
//! resized, more changed pages than its memory bound, and per file: no
//! tablespace header it understands, another file or tablespace under the
//! name, a tablespace touched by a file operation, a size that changed,
//! page 0 rewritten without a redo record, a file that was not there when
//! the first round began, a file whose witnesses do not prove that no
//! IMPORT TABLESPACE (which writes no redo log) rewrote it since then
//! ([`space::witnesses`]).

mod format;
mod space;

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};

#[cfg(feature = "fuzzing")]
pub(crate) use self::format::fuzz;
use self::format::{Mtr, Ring, START_OFFSET, Touch, newest_checkpoint, parse_mtr};
use self::space::{Print, page_lsn, witnesses};
use super::BLOCK_SIZE;
use super::plan::Plan;
use crate::protocol::Class;

/// How often the reader looks for new log once it has caught up.
const POLL: Duration = Duration::from_millis(50);

/// Most bytes of log parsed in one look: a few mini-transactions of the
/// largest size fit.
const WINDOW: usize = 4 << 20;

/// Bytes read at a time within a look: InnoDB writes its log with
/// O_DIRECT, so what lies past the end of the log comes from disk, and a
/// reader that has caught up reads little more than what is new.
const CHUNK: usize = 64 << 10;

/// Pages are indexed in groups of 64 (one 1 MiB block of 16 KiB pages).
const GROUP_SHIFT: u32 = 6;

/// Most groups the index holds (about 16 MiB of memory): a server that
/// changed more than that many regions since the first round gets the
/// full compare.
const MAX_GROUPS: usize = 1 << 20;

/// How long the locked round waits for the reader to pass the lock's
/// checkpoint.
const SETTLE: Duration = Duration::from_secs(5);

/// What the reader found so far.
#[derive(Debug, Default)]
struct Seen {
    /// (tablespace id << 32 | page >> GROUP_SHIFT) of every page record.
    groups: HashSet<u64>,
    /// Tablespaces created, deleted, renamed or truncated.
    spaces: HashSet<u32>,
    /// Why the index can vouch for nothing, once it cannot.
    broken: Option<String>,
    /// The LSN up to which the reader has parsed the log.
    lsn: u64,
}

impl Seen {
    fn add(&mut self, touched: &[Touch]) {
        for touch in touched {
            match *touch {
                Touch::Page(space, page) => {
                    self.groups
                        .insert((u64::from(space) << 32) | u64::from(page >> GROUP_SHIFT));
                }
                Touch::Space(space) => {
                    self.spaces.insert(space);
                }
            }
        }
        if self.groups.len() > MAX_GROUPS && self.broken.is_none() {
            self.broken = Some(format!(
                "more than {MAX_GROUPS} regions of 64 pages changed since the first round"
            ));
        }
    }

    /// Whether any page of `pages` (a range of page numbers) of `space`
    /// has a record.
    fn touches(&self, space: u32, pages: std::ops::Range<u64>) -> bool {
        let first = pages.start >> GROUP_SHIFT;
        let last = (pages.end.saturating_sub(1)) >> GROUP_SHIFT;
        (first..=last).any(|g| {
            u32::try_from(g).map_or(true, |g| {
                self.groups
                    .contains(&((u64::from(space) << 32) | u64::from(g)))
            })
        })
    }
}

/// Follows `ib_logfile0` from a checkpoint.
#[derive(Debug)]
struct Reader {
    file: File,
    path: PathBuf,
    identity: (u64, u64, u64),
    ring: Ring,
    /// The LSN up to which every mini-transaction was parsed.
    lsn: u64,
    buf: Vec<u8>,
    touched: Vec<Touch>,
}

/// What one look at the log found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Look {
    /// The end of the log, as far as the server had written it.
    End,
    /// More log may follow at once.
    More,
}

impl Reader {
    /// Opens the log and starts at its newest checkpoint.
    fn open(path: &Path) -> Result<Reader> {
        let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
        let meta = file.metadata()?;
        let mut head = vec![0u8; START_OFFSET as usize];
        file.read_exact_at(&mut head, 0)
            .with_context(|| format!("reading the header of {}", path.display()))?;
        let ring = Ring::from_header(&head, meta.len())?;
        let (checkpoint, _) = newest_checkpoint(&head, &ring)?;
        Ok(Reader {
            file,
            path: path.to_path_buf(),
            identity: (meta.dev(), meta.ino(), meta.len()),
            ring,
            lsn: checkpoint,
            buf: vec![0u8; WINDOW],
            touched: Vec::new(),
        })
    }

    /// The newest checkpoint now, after checking that the log is still
    /// the one the reader started on.
    fn checkpoint(&self) -> Result<(u64, u64)> {
        let meta = std::fs::metadata(&self.path)?;
        ensure!(
            (meta.dev(), meta.ino(), meta.len()) == self.identity,
            "{} was replaced or resized",
            self.path.display()
        );
        let mut head = vec![0u8; START_OFFSET as usize];
        self.file.read_exact_at(&mut head, 0)?;
        ensure!(
            Ring::from_header(&head, meta.len())? == self.ring,
            "{} was created anew",
            self.path.display()
        );
        newest_checkpoint(&head, &self.ring)
    }

    /// Reads the log from where the reader is and parses what it can;
    /// what the new records touch goes to `seen`.
    fn look(&mut self, seen: &Mutex<Seen>) -> Result<Look> {
        let (_, end_lsn) = self.checkpoint()?;
        let start = self.lsn;
        let mut filled = 0;
        let mut at = 0;
        self.touched.clear();
        let look = loop {
            let lsn = start + at as u64;
            match parse_mtr(&self.buf[at..filled], lsn, &self.ring, &mut self.touched)? {
                Mtr::Complete(len) => at += len,
                Mtr::Partial if filled == self.buf.len() => break Look::More,
                Mtr::Partial => filled = self.read_more(start, filled)?,
                Mtr::End => break Look::End,
            }
        };
        // InnoDB keeps its checkpoint within 90% of the ring behind what
        // it writes (log_t::log_capacity): while the checkpoint is less
        // than a tenth of the ring past where this read began, nothing it
        // read was overwritten meanwhile.
        let (after, _) = self.checkpoint()?;
        ensure!(
            after < start + self.ring.capacity / 20,
            "InnoDB's checkpoint (LSN {after}) overtook the reader of the redo log (at LSN \
             {start}): the log is small for this write rate (innodb_log_file_size)"
        );
        let lsn = start + at as u64;
        ensure!(
            look == Look::More || lsn >= end_lsn,
            "the redo log ends at LSN {lsn}, before its checkpoint's end {end_lsn}"
        );
        self.lsn = lsn;
        let mut seen = seen.lock().unwrap_or_else(PoisonError::into_inner);
        seen.add(&self.touched);
        seen.lsn = lsn;
        Ok(look)
    }

    /// Reads the next [`CHUNK`] of the log into the buffer, which holds
    /// `filled` bytes from `start` (across the end of the ring); returns
    /// how many it holds now.
    fn read_more(&mut self, start: u64, filled: usize) -> Result<usize> {
        let file_end = START_OFFSET + self.ring.capacity;
        let offset = self.ring.offset(start + filled as u64);
        let len = CHUNK
            .min(self.buf.len() - filled)
            .min((file_end - offset) as usize);
        self.file
            .read_exact_at(&mut self.buf[filled..filled + len], offset)
            .with_context(|| format!("reading {}", self.path.display()))?;
        Ok(filled + len)
    }
}

/// Starts at the log's newest checkpoint this many times at most before
/// the first round (see [`catch_up`]).
const CATCH_UP_TRIES: usize = 3;

/// How long the donor reads the log before its first round at most; the
/// reader's thread reads the rest.
const CATCH_UP: Duration = Duration::from_secs(1);

/// A reader of the log at `path` that has read what InnoDB wrote since
/// its newest checkpoint (for [`CATCH_UP`] at most), with what it found
/// and that checkpoint's LSN, before the first round reads any file.
///
/// A reader still behind when a checkpoint passes where it is may find
/// what it has yet to read overwritten (see [`Reader::look`]), and the
/// log behind a checkpoint can be most of the ring: a reader that fails
/// here starts again at the newer checkpoint, as sound as the first while
/// no round has read a file. Once it has caught up it reads about as
/// fast as InnoDB writes, ahead of the checkpoints.
fn catch_up(path: &Path) -> Result<(Reader, Seen, u64)> {
    let mut tries = 1;
    loop {
        let mut reader = Reader::open(path)?;
        let checkpoint = reader.lsn;
        let seen = Mutex::new(Seen {
            lsn: checkpoint,
            ..Seen::default()
        });
        let started = Instant::now();
        let mut read = || -> Result<()> {
            while reader.look(&seen)? == Look::More && started.elapsed() < CATCH_UP {}
            Ok(())
        };
        match read() {
            Ok(()) => {
                let seen = seen.into_inner().unwrap_or_else(PoisonError::into_inner);
                return Ok((reader, seen, checkpoint));
            }
            Err(e) if tries < CATCH_UP_TRIES => {
                log::info!(
                    "rsrsync-lock-index=redo: {e:#}: starting again at the newest checkpoint"
                );
                tries += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// The index of one SST: the reader (in its thread until the lock), what
/// it found, and what the joiner holds of each file from the last round.
#[derive(Debug)]
pub(crate) struct LockIndex {
    seen: Arc<Mutex<Seen>>,
    stop: Arc<AtomicBool>,
    follower: Option<JoinHandle<Result<Reader>>>,
    /// The log followed, and its ring.
    log: PathBuf,
    ring: Ring,
    /// Per file of the last round: what it was as that round began, and
    /// the block hashes the joiner took from it.
    last: HashMap<PathBuf, Kept>,
    /// What each file is as the round in progress begins.
    prints: HashMap<PathBuf, Since>,
    /// The tablespace files of the first round, as it began.
    first: Option<Firsts>,
    logged: bool,
}

/// The tablespace files of the first round, as it began: a file that
/// appeared since without a FILE_CREATE record (copied in for IMPORT
/// TABLESPACE, which writes no redo log) is never vouched for.
#[derive(Debug, Default)]
struct Firsts {
    files: HashMap<PathBuf, First>,
    /// Files found rewritten without redo log since the first round:
    /// never vouched for again.
    rewritten: HashSet<PathBuf>,
}

/// A tablespace file as the first round began: its page 0, and its
/// witnesses (page, LSN) of [`witnesses`].
#[derive(Debug)]
struct First {
    print: Print,
    witnesses: Vec<(u64, u64)>,
}

/// What a file's witnesses say of it since the first round.
#[derive(Debug, PartialEq, Eq)]
enum Witness {
    /// One that no record touched still has its LSN.
    Holds,
    /// Every one was touched by a record (or it had none): no proof.
    None,
    /// One that no record touched has another LSN: written without redo
    /// log, as IMPORT TABLESPACE writes.
    Rewritten,
}

impl Firsts {
    /// What the witnesses of the tablespace file `source` (open as
    /// `file`, its page 0 now `now`) say of it since the first round; a
    /// file found rewritten is said so once, and never vouched for again.
    fn witness(&mut self, seen: &Seen, source: &Path, now: &Print, file: &File) -> Witness {
        if self.rewritten.contains(source) {
            return Witness::Rewritten;
        }
        let Some(first) = self.files.get(source) else {
            return Witness::None;
        };
        let proof = first.witness(seen, now, file);
        if let Witness::Rewritten = proof {
            log::info!(
                "rsrsync-lock-index=redo: {}: a page changed without a redo record since the \
                 first round (IMPORT TABLESPACE writes none): the file is compared in full",
                source.display()
            );
            self.rewritten.insert(source.to_path_buf());
        }
        proof
    }
}

impl First {
    /// What the witnesses say of the file `file`, now `now`, the log's
    /// records so far `seen`: those no record touched are read in turn
    /// until one tells. A page whose LSN is past where the reader is may
    /// have its record in the log the reader has yet to parse (InnoDB
    /// writes a page once its log is durable, up to a poll ahead of the
    /// reader): it tells nothing yet.
    fn witness(&self, seen: &Seen, now: &Print, file: &File) -> Witness {
        if self.print.file != now.file || self.print.page_size != now.page_size {
            return Witness::None;
        }
        let untouched = self
            .witnesses
            .iter()
            .filter(|&&(page, _)| !seen.touches(now.space, page..page + 1));
        for &(page, lsn) in untouched {
            match page_lsn(file, now.page_size, page) {
                Some(found) if found == lsn => return Witness::Holds,
                Some(found) if found > seen.lsn => continue,
                _ => return Witness::Rewritten,
            }
        }
        Witness::None
    }
}

#[derive(Debug)]
struct Kept {
    since: Since,
    size: u64,
    hashes: Arc<[u128]>,
}

/// A file as a round began: a tablespace's page 0, or for the log itself
/// how far the reader had parsed it (InnoDB has written nothing before,
/// and writes only after, that LSN since).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Since {
    Tablespace(Print),
    Log(u64),
}

/// Per file of a round: the blocks whose hash the donor sends without
/// reading them.
#[derive(Debug)]
pub(crate) struct Vouched {
    hashes: Arc<[u128]>,
    blocks: Vec<bool>,
}

impl Vouched {
    /// The hash of block `block`, when vouched for.
    pub(crate) fn hash(&self, block: u64) -> Option<u128> {
        let i = usize::try_from(block).ok()?;
        self.blocks.get(i).filter(|v| **v)?;
        self.hashes.get(i).copied()
    }
}

impl LockIndex {
    /// Starts following the redo log in `redo_dir`; `None`, said in one
    /// line, when the log is not one the index can follow.
    pub(crate) fn start(redo_dir: &Path) -> Option<LockIndex> {
        let path = redo_dir.join("ib_logfile0");
        let (mut reader, seen, checkpoint) = match catch_up(&path) {
            Ok(caught) => caught,
            Err(e) => {
                log::info!(
                    "rsrsync-lock-index=redo: {e:#}: every file is compared in full under the lock"
                );
                return None;
            }
        };
        log::info!(
            "rsrsync-lock-index=redo: following {} from its checkpoint at LSN {} (read to LSN \
             {} before the first round)",
            path.display(),
            checkpoint,
            reader.lsn
        );
        let seen = Arc::new(Mutex::new(seen));
        let ring = reader.ring;
        let stop = Arc::new(AtomicBool::new(false));
        let follower = {
            let (seen, stop) = (Arc::clone(&seen), Arc::clone(&stop));
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    if reader.look(&seen)? == Look::End {
                        std::thread::sleep(POLL);
                    }
                }
                Ok(reader)
            })
        };
        Some(LockIndex {
            seen,
            stop,
            follower: Some(follower),
            log: path,
            ring,
            last: HashMap::new(),
            prints: HashMap::new(),
            first: None,
            logged: false,
        })
    }

    /// Under the lock, before its round: the reader back from its thread
    /// and read to the end of the log, past the checkpoint mariadbd made
    /// for the lock; with what checks, when the lock is about to end, that
    /// InnoDB wrote no more.
    pub(crate) fn settle(&mut self) -> Quiet {
        let reader = self.finish_reading();
        Quiet { reader }
    }

    fn finish_reading(&mut self) -> Option<Reader> {
        self.stop.store(true, Ordering::SeqCst);
        let mut reader = match self.follower.take().map(JoinHandle::join)? {
            Ok(Ok(reader)) => reader,
            Ok(Err(e)) => return self.broken(format!("{e:#}")),
            Err(_) => return self.broken("its reader panicked".into()),
        };
        let started = Instant::now();
        let mut quiet = 0;
        while quiet < 2 {
            let before = reader.lsn;
            match reader.look(&self.seen) {
                Ok(Look::End) if reader.lsn == before => quiet += 1,
                Ok(_) => quiet = 0,
                Err(e) => return self.broken(format!("{e:#}")),
            }
            if started.elapsed() > SETTLE {
                return self.broken(format!(
                    "InnoDB still wrote redo log {} s into the lock",
                    SETTLE.as_secs()
                ));
            }
            std::thread::sleep(POLL / 5);
        }
        Some(reader)
    }

    /// The index can vouch for nothing more, for this reason.
    fn broken<T>(&mut self, why: String) -> Option<T> {
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        seen.broken.get_or_insert(why);
        None
    }

    /// The blocks of each file of a round the donor may send unread: read
    /// before the round's data, with `held` the sizes the joiner holds
    /// (under the lock, after [`LockIndex::settle`]).
    pub(crate) fn vouch(
        &mut self,
        plan: &Plan<'_>,
        held: &[Option<u64>],
        live: bool,
    ) -> Vec<Option<Vouched>> {
        self.prints.clear();
        let seen = Arc::clone(&self.seen);
        let seen = seen.lock().unwrap_or_else(PoisonError::into_inner);
        let mut opening = self.first.is_none().then(Firsts::default);
        let mut out = Vec::with_capacity(plan.files.len());
        let (mut files, mut blocks, mut total, mut unproven) = (0u64, 0u64, 0u64, 0u64);
        for (file, held) in plan.files.iter().zip(held) {
            total += file.blocks;
            let kept = self
                .last
                .get(file.source)
                .filter(|kept| *held == Some(kept.size) && file.size >= kept.size);
            let vouched = if file.source == self.log {
                let now = seen.lsn;
                self.prints
                    .insert(file.source.to_path_buf(), Since::Log(now));
                match (&seen.broken, kept) {
                    (None, Some(kept)) => vouch_log(&self.ring, kept, now),
                    _ => None,
                }
            } else {
                let Some((now, handle)) =
                    tablespace(file.class, file.source).and_then(|f| Some((Print::read(&f)?, f)))
                else {
                    out.push(None);
                    continue;
                };
                self.prints
                    .insert(file.source.to_path_buf(), Since::Tablespace(now));
                if let Some(opening) = &mut opening {
                    let witnesses = witnesses(&handle, &now);
                    let first = First {
                        print: now,
                        witnesses,
                    };
                    opening.files.insert(file.source.to_path_buf(), first);
                }
                let proof = match (&seen.broken, kept, &mut self.first) {
                    (None, Some(_), Some(first)) => {
                        first.witness(&seen, file.source, &now, &handle)
                    }
                    _ => Witness::None,
                };
                unproven += u64::from(proof == Witness::None && kept.is_some());
                match (proof, kept) {
                    (Witness::Holds, Some(kept)) => vouch_file(&seen, kept, now),
                    _ => None,
                }
            };
            if let Some(v) = &vouched {
                files += 1;
                blocks += v.blocks.iter().filter(|b| **b).count() as u64;
            }
            out.push(vouched);
        }
        if let Some(opening) = opening {
            self.first = Some(opening);
        }
        let name = if live { "live" } else { "locked" };
        match &seen.broken {
            Some(why) if !self.logged => {
                self.logged = true;
                log::info!(
                    "rsrsync-lock-index=redo: {why}: every file is compared in full from the \
                     {name} round on"
                );
            }
            Some(_) => {}
            None => log::info!(
                "rsrsync-lock-index=redo: {name} round: {blocks} of {total} blocks ({files} \
                 files) unchanged since the round before, sent unread; {} page regions and {} \
                 tablespaces changed since the first round; {unproven} tablespaces without a \
                 witness page left untouched",
                seen.groups.len(),
                seen.spaces.len()
            ),
        }
        out
    }

    /// After a live round: the hashes the joiner now holds of each file
    /// (by file id, `None` for a file it does not keep).
    pub(crate) fn remember(&mut self, plan: &Plan<'_>, kept: Vec<Option<Arc<[u128]>>>) {
        self.last.clear();
        for (file, hashes) in plan.files.iter().zip(kept) {
            let since = self.prints.get(file.source).copied();
            if let (Some(since), Some(hashes)) = (since, hashes) {
                self.last.insert(
                    file.source.to_path_buf(),
                    Kept {
                        since,
                        size: file.size,
                        hashes,
                    },
                );
            }
        }
    }
}

impl Drop for LockIndex {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(follower) = self.follower.take() {
            let _ = follower.join();
        }
    }
}

/// The check at the end of the lock (see [`LockIndex::settle`]).
#[derive(Debug)]
pub(crate) struct Quiet {
    reader: Option<Reader>,
}

impl Quiet {
    /// Fails when the redo log grew since the reader settled under the
    /// lock: something the index vouched for may have changed.
    pub(crate) fn verify(self) -> Result<()> {
        let Some(mut reader) = self.reader else {
            return Ok(());
        };
        let before = reader.lsn;
        let fresh = Mutex::new(Seen::default());
        reader.look(&fresh)?;
        let fresh = fresh.into_inner().unwrap_or_else(PoisonError::into_inner);
        // The log's blocks around where it ended are never vouched for.
        if fresh.groups.is_empty() && fresh.spaces.is_empty() && reader.lsn <= before + LOG_SLOP / 2
        {
            return Ok(());
        }
        bail!(
            "InnoDB wrote redo log for {} page regions while the donor held the lock (LSN \
             {before} to {}), after rsrsync-lock-index=redo had vouched for the pages it had \
             not seen change: the copy may be torn, so the SST stops; retry it, or set \
             rsrsync-lock-index=full in [sst]",
            fresh.groups.len(),
            reader.lsn
        )
    }
}

/// The file of an InnoDB tablespace of its own (`.ibd` in a database
/// directory, or outside the datadir), opened; `None` for anything else.
fn tablespace(class: Class, source: &Path) -> Option<File> {
    let ibd = source.extension().is_some_and(|e| e == "ibd");
    match class {
        Class::Data | Class::External if ibd => File::open(source).ok(),
        _ => None,
    }
}

/// The blocks of a file the joiner holds as `kept` (from the round
/// before, whose start saw page 0 as `kept.print`) that no redo record
/// touched, the file now as `now`.
fn vouch_file(seen: &Seen, kept: &Kept, now: Print) -> Option<Vouched> {
    let Since::Tablespace(then) = kept.since else {
        return None;
    };
    let same_file =
        then.file == now.file && then.space == now.space && then.page_size == now.page_size;
    if !same_file || now.lsn == 0 || then.lsn == 0 || seen.spaces.contains(&now.space) {
        return None;
    }
    // Page 0 changes with every extent a tablespace allocates; a change
    // must have its record (IMPORT TABLESPACE rewrites pages without).
    if now.lsn != then.lsn && !seen.touches(now.space, 0..1) {
        return None;
    }
    let page = u64::from(now.page_size);
    let block = u64::from(BLOCK_SIZE);
    let full = kept.size / block;
    let blocks: Vec<bool> = (0..full)
        .map(|b| {
            !seen.touches(
                now.space,
                (b * block / page)..((b + 1) * block).div_ceil(page),
            )
        })
        .collect();
    Some(Vouched {
        hashes: Arc::clone(&kept.hashes),
        blocks,
    })
}

/// Bytes around the LSNs the reader saw written that InnoDB may also
/// have written: it writes its log in whole blocks of the device (512
/// bytes to 4 KiB), the last one again as it fills.
const LOG_SLOP: u64 = 64 << 10;

/// The blocks of the log file the joiner holds as `kept` (taken in a
/// round that began when the reader was at LSN `from`) that InnoDB has
/// not written since: those outside the LSNs from `from` to `now` (where
/// the reader is), mapped onto the ring, and never the first block (the
/// header and the checkpoints).
fn vouch_log(ring: &Ring, kept: &Kept, now: u64) -> Option<Vouched> {
    let Since::Log(from) = kept.since else {
        return None;
    };
    let lo = from.saturating_sub(LOG_SLOP).max(ring.first_lsn);
    let len = now.checked_sub(lo)? + 2 * LOG_SLOP;
    if len >= ring.capacity {
        return None;
    }
    // The bytes written, as one or two ranges of the file.
    let start = ring.offset(lo);
    let file_end = START_OFFSET + ring.capacity;
    let written = if start + len <= file_end {
        [(start, start + len), (0, 0)]
    } else {
        [
            (start, file_end),
            (START_OFFSET, START_OFFSET + len - (file_end - start)),
        ]
    };
    let block = u64::from(BLOCK_SIZE);
    let blocks = (0..kept.size / block)
        .map(|b| {
            let (first, end) = (b * block, (b + 1) * block);
            first >= START_OFFSET && written.iter().all(|&(s, e)| e <= first || s >= end)
        })
        .collect();
    Some(Vouched {
        hashes: Arc::clone(&kept.hashes),
        blocks,
    })
}

#[cfg(test)]
mod tests;
