//! The joiner's receiver: checks the manifest against this node's layout,
//! deletes what the donor no longer has (the rsync method's `--delete`,
//! per class), then writes blocks from any number of data streams and
//! accepts a file only when every block arrived once with a matching hash
//! and the file digest matches the donor's.
//!
//! Nothing here trusts the donor: every path goes through [`RelPath`] and
//! [`DataDir`]; every id, offset and length is checked against the
//! manifest before a byte is written.

use std::collections::HashSet;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use anyhow::{Context, Result, bail, ensure};

use super::Layout;
use crate::fsutil::{DataDir, EntryKind, RelPath, describe};
use crate::net::{Connection, Transport};
use crate::progress::Progress;
use crate::protocol::digest::{Fold, block_count, block_hash, zero_hash};
use crate::protocol::{Class, Frame};

/// Most entries a manifest may declare.
const MAX_ENTRIES: usize = 50_000_000;

/// One file of the manifest and its progress.
#[derive(Debug)]
struct Slot {
    class: Class,
    path: RelPath,
    size: u64,
    mode: u32,
    state: Mutex<SlotState>,
}

#[derive(Debug, Default)]
struct SlotState {
    file: Option<Arc<File>>,
    fold: Option<Fold>,
    digest: Option<u128>,
    done: bool,
}

/// The open directories of each class on this node.
#[derive(Debug)]
struct Roots {
    dirs: Vec<(Class, DataDir)>,
}

impl Roots {
    fn get(&self, class: Class) -> Result<&DataDir> {
        self.dirs
            .iter()
            .find(|(c, _)| *c == class)
            .map(|(_, d)| d)
            .with_context(|| format!("no directory for {class:?} files"))
    }
}

/// A checked manifest, ready to receive data.
#[derive(Debug)]
pub(crate) struct Receiver {
    roots: Roots,
    block_size: u32,
    files: Vec<Slot>,
    zero_block: u128,
    progress: Arc<Progress>,
}

/// Reads the manifest from `control`, checks every entry, deletes what
/// the donor lacks, creates the directories, and returns the receiver.
/// The caller then answers `Ready`.
pub(crate) fn receive_manifest(
    control: &mut Connection<Transport>,
    layout: &Layout,
    block_size: u32,
) -> Result<Receiver> {
    let mut roots = Roots { dirs: Vec::new() };
    for class in [
        Class::Data,
        Class::SysTablespace,
        Class::Redo,
        Class::Undo,
        Class::AriaLog,
    ] {
        roots
            .dirs
            .push((class, DataDir::open(&layout.root(class), true)?));
    }
    let mut dirs: Vec<(RelPath, u32)> = Vec::new();
    let mut keep_dirs: HashSet<RelPath> = HashSet::new();
    let mut keep_files: HashSet<(Class, RelPath)> = HashSet::new();
    let mut files: Vec<Slot> = Vec::new();
    let total_bytes = loop {
        let frame = control.expect_frame("the file list")?;
        ensure!(
            dirs.len() + files.len() < MAX_ENTRIES,
            "the donor's file list exceeds {MAX_ENTRIES} entries"
        );
        match frame {
            Frame::Dir { class, mode, path } => {
                ensure!(class == Class::Data, "directory entry of class {class:?}");
                let rel = RelPath::parse(path).context("donor sent a bad directory name")?;
                check_top(layout, &rel)?;
                ensure!(
                    keep_dirs.insert(rel.clone()),
                    "donor sent directory {rel} twice"
                );
                dirs.push((rel, mode));
            }
            Frame::File {
                id,
                class,
                size,
                mode,
                path,
            } => {
                ensure!(id as usize == files.len(), "file ids out of order at {id}");
                let rel = RelPath::parse(path).context("donor sent a bad file name")?;
                check_file(layout, &keep_dirs, class, &rel)?;
                ensure!(
                    keep_files.insert((class, rel.clone())),
                    "donor sent file {rel} twice"
                );
                if class == Class::Binlog && roots.get(Class::Binlog).is_err() {
                    roots
                        .dirs
                        .push((class, DataDir::open(&layout.root(class), true)?));
                }
                files.push(Slot {
                    class,
                    path: rel,
                    size,
                    mode,
                    state: Mutex::new(SlotState::default()),
                });
            }
            Frame::ManifestEnd { files: n, bytes } => {
                ensure!(
                    n as usize == files.len(),
                    "the donor announced {n} files but listed {}",
                    files.len()
                );
                break bytes;
            }
            other => bail!("unexpected {:?} frame in the file list", other.kind()),
        }
    };
    let declared: u64 = files.iter().map(|f| f.size).sum();
    ensure!(
        declared == total_bytes,
        "the donor announced {total_bytes} bytes but listed {declared}"
    );
    let receiver = Receiver {
        roots,
        block_size,
        progress: Progress::new("joiner", total_bytes, files.len() as u64),
        files,
        zero_block: zero_hash(block_size.into()),
    };
    receiver.prune(layout, &keep_dirs, &keep_files, control)?;
    let data = receiver.roots.get(Class::Data)?;
    for (rel, mode) in &dirs {
        data.create_dir(rel, *mode)?;
    }
    Ok(receiver)
}

/// A database directory must not be one of this node's configured
/// directories, nor a name rsync never treats as a database.
fn check_top(layout: &Layout, rel: &RelPath) -> Result<()> {
    let top = &rel.components()[0];
    ensure!(
        !layout.is_excluded(top),
        "donor sent database directory {:?}, which on this joiner is a configured \
         directory or a reserved name; give the joiner's InnoDB/Aria/binlog directories \
         other names or paths outside the datadir",
        top
    );
    Ok(())
}

fn check_file(
    layout: &Layout,
    keep_dirs: &HashSet<RelPath>,
    class: Class,
    rel: &RelPath,
) -> Result<()> {
    let parts = rel.components();
    if class == Class::Data {
        check_top(layout, rel)?;
        let parent = rel
            .parent()
            .with_context(|| format!("donor sent top-level file {rel} as data"))?;
        ensure!(
            keep_dirs.contains(&parent),
            "donor sent {rel} before its directory"
        );
    } else {
        ensure!(
            parts.len() == 1 && layout.is_member(class, &parts[0]),
            "donor sent {rel} as a {class:?} file, which this joiner does not accept"
        );
    }
    Ok(())
}

impl Receiver {
    /// Deletes, per class, what this node has and the donor did not list.
    /// Top-level files of the datadir are never touched.
    fn prune(
        &self,
        layout: &Layout,
        keep_dirs: &HashSet<RelPath>,
        keep_files: &HashSet<(Class, RelPath)>,
        control: &mut Connection<Transport>,
    ) -> Result<()> {
        let data = self.roots.get(Class::Data)?;
        for (name, kind) in data.list(None)? {
            if layout.is_excluded(&name) || !matches!(kind, EntryKind::Dir | EntryKind::Symlink) {
                continue;
            }
            let Ok(rel) = RelPath::name(&name) else {
                log::warn!("leaving {:?} in the datadir: not a valid name", name);
                continue;
            };
            if kind == EntryKind::Symlink && keep_dirs.contains(&rel) {
                bail!(
                    "{} is a symbolic link, and the donor sends a database of that name: \
                     rsrsync never writes through symbolic links; replace the link with a \
                     directory (or a mount point) and retry",
                    data.show(&rel)
                );
            }
            if kind == EntryKind::Dir && keep_dirs.contains(&rel) {
                self.prune_tree(data, &rel, keep_dirs, keep_files, control)?;
            } else {
                log::debug!("removing {} (not on the donor)", data.show(&rel));
                data.remove(&rel)?;
            }
        }
        for class in [
            Class::SysTablespace,
            Class::Redo,
            Class::Undo,
            Class::AriaLog,
        ] {
            let dir = self.roots.get(class)?;
            for (name, kind) in dir.list(None)? {
                if matches!(kind, EntryKind::File | EntryKind::Symlink)
                    && layout.is_member(class, &name)
                {
                    let rel = RelPath::name(&name)?;
                    if !keep_files.contains(&(class, rel.clone())) {
                        log::info!("removing {} (not on the donor)", dir.show(&rel));
                        dir.remove(&rel)?;
                    }
                }
            }
        }
        Ok(())
    }

    fn prune_tree(
        &self,
        data: &DataDir,
        dir: &RelPath,
        keep_dirs: &HashSet<RelPath>,
        keep_files: &HashSet<(Class, RelPath)>,
        control: &mut Connection<Transport>,
    ) -> Result<()> {
        control.keepalive()?;
        for (name, kind) in data.list(Some(dir))? {
            let Ok(rel) = dir.join(&name) else {
                log::warn!("leaving {:?} in {}: not a valid name", name, data.show(dir));
                continue;
            };
            let keep = match kind {
                EntryKind::Dir => keep_dirs.contains(&rel),
                EntryKind::File => keep_files.contains(&(Class::Data, rel.clone())),
                EntryKind::Symlink | EntryKind::Other => false,
            };
            if !keep {
                log::debug!("removing {} (not on the donor)", data.show(&rel));
                data.remove(&rel)?;
            } else if kind == EntryKind::Dir {
                self.prune_tree(data, &rel, keep_dirs, keep_files, control)?;
            }
        }
        Ok(())
    }

    /// Receives one data stream until its `End`.
    pub(crate) fn receive_stream(&self, conn: &mut Connection<Transport>) -> Result<()> {
        loop {
            match conn.expect_frame("file data")? {
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
                Frame::Digest { id, digest } => self.digest(id, digest)?,
                Frame::End => return Ok(()),
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

    /// One block: `payload` is the data and its hash, `None` for a hole.
    fn block(&self, id: u32, offset: u64, len: u64, payload: Option<(u128, &[u8])>) -> Result<()> {
        let slot = self.slot(id)?;
        let bs = u64::from(self.block_size);
        ensure!(
            offset % bs == 0 && offset < slot.size,
            "block at offset {offset} does not fit {} ({} bytes)",
            slot.path,
            slot.size
        );
        let expected = (slot.size - offset).min(bs);
        ensure!(
            len == expected,
            "block of {len} bytes at offset {offset} of {}, expected {expected}",
            slot.path
        );
        let hash = match payload {
            Some((sent, data)) => {
                let hash = block_hash(data);
                ensure!(
                    hash == sent,
                    "block at offset {offset} of {} arrived corrupted (hash mismatch)",
                    slot.path
                );
                hash
            }
            None if expected == bs => self.zero_block,
            None => zero_hash(expected),
        };
        let file = self.open(slot)?;
        if let Some((_, data)) = payload {
            let root = self.roots.get(slot.class)?;
            file.write_all_at(data, offset)
                .map_err(|e| describe(&e, &root.show(&slot.path), "writing"))?;
        }
        drop(file);
        let mut state = Self::lock(slot);
        ensure!(!state.done, "block for {} after it was complete", slot.path);
        state
            .fold
            .get_or_insert_with(|| Fold::new(block_count(slot.size, self.block_size)))
            .add(offset / bs, hash)
            .with_context(|| format!("in {}", slot.path))?;
        self.try_finish(slot, &mut state)
    }

    /// The donor's digest of a file.
    fn digest(&self, id: u32, digest: u128) -> Result<()> {
        let slot = self.slot(id)?;
        drop(self.open(slot)?);
        let mut state = Self::lock(slot);
        ensure!(
            state.digest.replace(digest).is_none() && !state.done,
            "second digest for {}",
            slot.path
        );
        self.try_finish(slot, &mut state)
    }

    /// The file, created (truncated to its size) on first use.
    fn open(&self, slot: &Slot) -> Result<Arc<File>> {
        let mut state = Self::lock(slot);
        ensure!(!state.done, "data for {} after it was complete", slot.path);
        if let Some(file) = &state.file {
            return Ok(Arc::clone(file));
        }
        let root = self.roots.get(slot.class)?;
        let file = root.create_file(&slot.path, slot.mode)?;
        file.set_len(slot.size)
            .map_err(|e| describe(&e, &root.show(&slot.path), "sizing"))?;
        let file = Arc::new(file);
        state.file = Some(Arc::clone(&file));
        Ok(file)
    }

    /// Closes and accepts the file once all blocks and the digest are in.
    fn try_finish(&self, slot: &Slot, state: &mut SlotState) -> Result<()> {
        let fold = state
            .fold
            .get_or_insert_with(|| Fold::new(block_count(slot.size, self.block_size)));
        if let (Some(ours), Some(theirs)) = (fold.digest(), state.digest) {
            ensure!(
                ours == theirs,
                "{} does not match the donor's digest (corrupted in transit)",
                slot.path
            );
            state.file = None;
            state.fold = None;
            state.done = true;
            self.progress.add_file();
        }
        Ok(())
    }

    /// The counters of this transfer.
    pub(crate) fn progress(&self) -> &Arc<Progress> {
        &self.progress
    }

    /// After every stream ended: every file must be complete and verified.
    pub(crate) fn finish(&self) -> Result<()> {
        let mut incomplete = Vec::new();
        for slot in &self.files {
            let state = Self::lock(slot);
            if state.done {
                continue;
            }
            let missing = state
                .fold
                .as_ref()
                .map_or_else(|| block_count(slot.size, self.block_size), Fold::missing);
            incomplete.push(format!(
                "{} ({missing} blocks missing{})",
                slot.path,
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
        Ok(())
    }

    /// The names of the received files of `class`.
    pub(crate) fn names_of(&self, class: Class) -> Vec<RelPath> {
        self.files
            .iter()
            .filter(|s| s.class == class)
            .map(|s| s.path.clone())
            .collect()
    }
}
