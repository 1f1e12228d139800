//! The donor's sending of a round's data: N data streams
//! ([`super::stream`]) over a shared schedule (largest file first, one
//! stream per file while there are enough files, a big file shared at the
//! end; files to read under the lock before those with a clone), the
//! control connection kept alive meanwhile, and the end of the lock
//! ([`Unlock`]) once every file without a clone is read.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, mpsc};

use anyhow::{Result, ensure};

use super::codec::Codec;
use super::plan::Plan;
use super::redo::Vouched;
use super::schedule::Schedule;
use super::stream::Worker;
use super::window::pieces_per_stream;
use crate::exit::Exit;
use crate::net::{Connection, KEEPALIVE, Transport};
use crate::progress::Progress;
use crate::protocol::digest::Fold;
use crate::signals::Stop;

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
    /// Per file id, the blocks the redo log index vouches for: their
    /// hash is sent without reading them (see [`super::redo`]).
    pub(crate) vouched: Vec<Option<Vouched>>,
    /// Keep the hash of every block the joiner ends the round with, for
    /// the index of the next round.
    pub(crate) remember: bool,
}

impl Round {
    /// The hash the index vouches for block `block` of file `id`.
    pub(super) fn vouched(&self, id: u32, block: u64) -> Option<u128> {
        self.vouched.get(id as usize)?.as_ref()?.hash(block)
    }
}

/// Per file id, the block hashes the joiner keeps of a round that
/// remembered them (`None` for a file given up or not complete).
pub(crate) type Kept = Vec<Option<Arc<[u128]>>>;

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
    pub(super) fn file_read(&self) -> Result<()> {
        if self.left.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.release()?;
        }
        Ok(())
    }
}

/// What the workers share.
pub(super) struct Shared<'p, 'a, 'u> {
    pub(super) plan: &'p Plan<'a>,
    pub(super) round: &'p Round,
    pub(super) unlock: Option<&'p Unlock<'u>>,
    pub(super) schedule: Schedule,
    /// Folds of files split into several pieces, while in flight.
    pub(super) folds: Mutex<HashMap<u32, Fold>>,
    /// Files given up in a live round.
    pub(super) abandoned: Vec<AtomicBool>,
    /// Files whose digest went out: complete on the joiner.
    pub(super) digested: Vec<AtomicBool>,
    /// With [`Round::remember`], each file's block hashes so far.
    pub(super) hashes: Mutex<HashMap<u32, Vec<u128>>>,
    pub(super) progress: &'p Progress,
    pub(super) stop: &'p Stop,
}

/// Sends every block over `conns` (one worker each), counting into
/// `progress`, the files without a clone first, and runs `unlock` once
/// they are read. Keeps `control` alive meanwhile. A failure anywhere
/// stops every worker (through `stop`) and is returned. With
/// [`Round::remember`], returns the block hashes the joiner keeps.
pub(crate) fn send_data(
    plan: &Plan<'_>,
    round: &Round,
    unlock: Option<&Unlock<'_>>,
    conns: Vec<Connection<Transport>>,
    control: &mut Connection<Transport>,
    progress: &Progress,
    stop: &Stop,
) -> Result<Kept> {
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
        schedule: plan.schedule(conns.len()),
        folds: Mutex::new(HashMap::new()),
        abandoned: plan.files.iter().map(|_| AtomicBool::new(false)).collect(),
        digested: plan.files.iter().map(|_| AtomicBool::new(false)).collect(),
        hashes: Mutex::new(HashMap::new()),
        progress,
        stop,
    };
    let workers = conns.len();
    let window = pieces_per_stream(workers);
    log::debug!("{workers} data streams, each comparing up to {window} pieces at once");
    let (done_tx, done_rx) = mpsc::channel::<Result<()>>();
    std::thread::scope(|scope| {
        for conn in conns {
            let tx = done_tx.clone();
            let shared = &shared;
            scope.spawn(move || {
                let result = Worker::new(shared, conn, window).and_then(Worker::run);
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
    })?;
    Ok(kept(&shared))
}

/// The hashes of the files the joiner completed and keeps (those it
/// was told `Vanished` about it forgets).
fn kept(shared: &Shared<'_, '_, '_>) -> Kept {
    let mut hashes = shared.hashes.lock().unwrap_or_else(PoisonError::into_inner);
    (0..shared.plan.files.len())
        .map(|id| {
            let complete = shared.digested[id].load(Ordering::SeqCst)
                && !shared.abandoned[id].load(Ordering::SeqCst);
            let hashes = hashes.remove(&(id as u32))?;
            complete.then(|| hashes.into())
        })
        .collect()
}
