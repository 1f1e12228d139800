//! What a round sends: its files numbered in manifest order ([`Plan`]),
//! the control files read before the walk ([`Controls`]), and the manifest
//! on the control connection ([`send_manifest`]).

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, ensure};

use super::BLOCK_SIZE;
use super::Layout;
use super::schedule::{Schedule, piece_blocks};
use super::snapshot::Snapshot;
use super::walk::{Entry, EntryKind};
use crate::fsutil::{RelPath, describe};
use crate::net::{Connection, Transport};
use crate::protocol::digest::block_count;
use crate::protocol::{Class, Frame};

/// The files to send, numbered in manifest order (their ids on the wire).
#[derive(Debug)]
pub(crate) struct Plan<'a> {
    pub(super) files: Vec<PlanFile<'a>>,
    bytes: u64,
}

#[derive(Debug)]
pub(super) struct PlanFile<'a> {
    pub(super) class: Class,
    pub(super) source: &'a Path,
    pub(super) size: u64,
    pub(super) blocks: u64,
    /// A control file's bytes, read before any other file of the round.
    pub(super) held: Option<Vec<u8>>,
    /// Its clone under the lock ([`Plan::adopt`]), read instead of it
    /// once the lock is gone; without one it is read under the lock.
    pub(super) clone: Option<File>,
}

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
                    class: entry.class,
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

    /// The order in which `streams` streams send the files.
    pub(super) fn schedule(&self, streams: usize) -> Schedule {
        let shape: Vec<(u64, u64, bool)> = self
            .files
            .iter()
            .map(|f| (f.blocks, f.size, f.clone.is_none()))
            .collect();
        let blocks = shape.iter().map(|&(blocks, _, _)| blocks).sum();
        Schedule::new(&shape, piece_blocks(blocks, streams))
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
        let layout = Layout::flat(&d);
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
        let layout = Layout::flat(&d);
        let err = Controls::read(&layout).expect_err("too big");
        assert!(
            format!("{err:#}").contains("larger than a control file"),
            "{err:#}"
        );
    }
}
