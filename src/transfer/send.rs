//! The donor's sender: the manifest on the control connection, then the
//! blocks of every file over N data connections.
//!
//! Streams take pieces of files from a shared [`Schedule`] (largest file
//! first, one stream per file while there are enough files, a big file
//! shared at the end). A block is read straight into the buffer behind its
//! frame prefix and written with one call. Holes of sparse files travel as
//! `Hole` frames.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::Path;
use std::sync::{Mutex, PoisonError, mpsc};

use anyhow::{Context, Result, bail, ensure};
use nix::errno::Errno;
use nix::unistd::{Whence, lseek};

use super::schedule::Schedule;
use super::walk::{Entry, EntryKind};
use super::{BLOCK_SIZE, PIECE_BLOCKS};
use crate::exit::Exit;
use crate::fsutil::describe;
use crate::net::{Connection, KEEPALIVE, Transport};
use crate::progress::Progress;
use crate::protocol::Frame;
use crate::protocol::digest::{Fold, block_count, block_hash, zero_hash};
use crate::protocol::frame::{BLOCK_PREFIX, block_prefix};
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
                });
            }
        }
        ensure!(files.len() < u32::MAX as usize, "too many files");
        let bytes = files.iter().map(|f| f.size).sum();
        Ok(Plan { files, bytes })
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
        let shape: Vec<(u64, u64)> = self.files.iter().map(|f| (f.blocks, f.size)).collect();
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
    for entry in entries {
        let path = entry.path.to_bytes();
        match &entry.kind {
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
                id += 1;
            }
        }
    }
    control.send(&Frame::ManifestEnd {
        files: id,
        bytes: plan.bytes(),
    })
}

/// What the workers share.
struct Shared<'p, 'a> {
    plan: &'p Plan<'a>,
    schedule: Schedule,
    /// Folds of files split into several pieces, while in flight.
    folds: Mutex<HashMap<u32, Fold>>,
    progress: &'p Progress,
    stop: &'p Stop,
}

/// Sends every block over `conns` (one worker each), counting into
/// `progress`. Keeps `control` alive meanwhile. A failure anywhere stops
/// every worker (through `stop`) and is returned.
pub(crate) fn send_data(
    plan: &Plan<'_>,
    conns: Vec<Connection<Transport>>,
    control: &mut Connection<Transport>,
    progress: &Progress,
    stop: &Stop,
) -> Result<()> {
    let shared = Shared {
        plan,
        schedule: plan.schedule(),
        folds: Mutex::new(HashMap::new()),
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
                let result = worker(shared, conn);
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

/// One data stream: takes pieces until none are left, then `End`.
fn worker(shared: &Shared<'_, '_>, mut conn: Connection<Transport>) -> Result<()> {
    let mut buf = vec![0u8; BLOCK_PREFIX + BLOCK_SIZE as usize];
    let zero_block = zero_hash(BLOCK_SIZE.into());
    let mut open: Option<(u32, File, bool)> = None;
    loop {
        shared.stop.check()?;
        let Some(piece) = shared.schedule.next(open.as_ref().map(|o| o.0)) else {
            break;
        };
        let file = &shared.plan.files[piece.file as usize];
        if open.as_ref().map(|o| o.0) != Some(piece.file) {
            open = Some(open_source(piece.file, file)?);
        }
        let Some((_, handle, sparse)) = &open else {
            bail!("no open file");
        };
        let single = file.blocks <= PIECE_BLOCKS;
        let mut local = single.then(|| Fold::new(file.blocks));
        for block in piece.first..piece.first + piece.count {
            let offset = block * u64::from(BLOCK_SIZE);
            let len = (file.size - offset).min(BLOCK_SIZE.into()) as u32;
            let hash = if *sparse && is_hole(handle, offset, len, file.source)? {
                conn.write_frame(&Frame::Hole {
                    id: piece.file,
                    offset,
                    len,
                })?;
                if len == BLOCK_SIZE {
                    zero_block
                } else {
                    zero_hash(len.into())
                }
            } else {
                let data = &mut buf[BLOCK_PREFIX..BLOCK_PREFIX + len as usize];
                read_block(handle, data, offset, file.source)?;
                let hash = block_hash(data);
                buf[..BLOCK_PREFIX].copy_from_slice(&block_prefix(piece.file, offset, hash, len));
                conn.send_raw(&buf[..BLOCK_PREFIX + len as usize])?;
                shared.progress.add_bytes(len.into());
                hash
            };
            match &mut local {
                Some(fold) => fold.add(block, hash)?,
                None => shared
                    .folds
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .entry(piece.file)
                    .or_insert_with(|| Fold::new(file.blocks))
                    .add(block, hash)?,
            }
        }
        let digest = match local {
            Some(fold) => fold.digest(),
            None => {
                let mut folds = shared.folds.lock().unwrap_or_else(PoisonError::into_inner);
                match folds.get(&piece.file).and_then(Fold::digest) {
                    Some(digest) => {
                        folds.remove(&piece.file);
                        Some(digest)
                    }
                    None => None,
                }
            }
        };
        if let Some(digest) = digest {
            conn.write_frame(&Frame::Digest {
                id: piece.file,
                digest,
            })?;
            shared.progress.add_file();
        }
    }
    conn.send(&Frame::End)?;
    // Wait for the joiner to close its side: every frame was read.
    match conn.read_frame()? {
        None => Ok(()),
        Some(frame) => bail!("unexpected {:?} frame on a data stream", frame.kind()),
    }
}

/// Opens a source file; it must still be as large as planned, and we
/// note whether it may have holes.
fn open_source(id: u32, file: &PlanFile<'_>) -> Result<(u32, File, bool)> {
    let shown = file.source.display();
    let handle =
        File::open(file.source).map_err(|e| describe(&e, &shown.to_string(), "opening"))?;
    let meta = handle
        .metadata()
        .with_context(|| format!("examining {shown}"))?;
    ensure!(
        meta.len() >= file.size,
        "{shown} shrank from {} to {} bytes during the transfer",
        file.size,
        meta.len()
    );
    let sparse = meta.blocks().saturating_mul(512) < meta.len();
    Ok((id, handle, sparse))
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

fn read_block(file: &File, buf: &mut [u8], offset: u64, path: &Path) -> Result<()> {
    file.read_exact_at(buf, offset).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            anyhow::anyhow!(
                "{} shrank during the transfer (reading {} bytes at offset {offset})",
                path.display(),
                buf.len()
            )
        } else {
            describe(&e, &path.display().to_string(), "reading")
        }
    })
}
