//! The joiner's side of a round's file list: every entry checked against
//! this node's layout, what the donor no longer has deleted (the rsync
//! method's `--delete`, per class), directories created, and the files
//! this node already holds announced with `Have`, so the donor checks
//! their blocks instead of sending them (delta transfer).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail, ensure};

use super::Layout;
use super::external::donor_path;
use crate::fsutil::{DataDir, DirEntryKind, RelPath};
use crate::net::{Connection, Transport};
use crate::protocol::{Class, Frame};

/// Most entries a file list may declare.
const MAX_ENTRIES: usize = 10_000_000;

/// What the joiner knows of a file it holds before data arrives.
#[derive(Debug, Clone)]
pub(crate) enum Held {
    /// On disk with this size: blocks are read and hashed to compare.
    Disk { size: u64 },
    /// Received in the previous round: its block hashes are known.
    Hashes { size: u64, hashes: Arc<[u128]> },
}

impl Held {
    pub(crate) fn size(&self) -> u64 {
        match self {
            Held::Disk { size } | Held::Hashes { size, .. } => *size,
        }
    }
}

/// Block hashes of the files a round received, for the next round.
pub(crate) type Memory = HashMap<(Class, RelPath), (u64, Arc<[u128]>)>;

/// One file of the list.
#[derive(Debug)]
pub(crate) struct Listed {
    pub(crate) class: Class,
    /// Its name on the wire: below its class directory, or for an
    /// `External` file the donor's absolute path.
    pub(crate) path: RelPath,
    pub(crate) size: u64,
    pub(crate) mode: u32,
    pub(crate) held: Option<Held>,
    /// An `External` file's place on this node: the index of its
    /// directory in [`Roots`] and its path below it.
    pub(crate) outside: Option<(usize, RelPath)>,
}

/// A database entry naming an `External` file (an `.isl` file, or a
/// `symlink`), written once every file is verified.
#[derive(Debug)]
pub(crate) struct Linked {
    pub(crate) path: RelPath,
    /// The index of the file in the list.
    pub(crate) file: usize,
    pub(crate) symlink: bool,
}

/// A checked file list, with the directories of each class opened.
#[derive(Debug)]
pub(crate) struct Manifest {
    pub(crate) roots: Roots,
    pub(crate) files: Vec<Listed>,
    pub(crate) links: Vec<Linked>,
    pub(crate) bytes: u64,
}

/// The open directories of each class on this node, and those outside
/// the datadir that `External` files go below.
#[derive(Debug)]
pub(crate) struct Roots {
    dirs: Vec<(Class, DataDir)>,
    outside: Vec<(PathBuf, DataDir)>,
}

impl Roots {
    fn open(layout: &Layout) -> Result<Roots> {
        let mut dirs = Vec::new();
        for class in [
            Class::Data,
            Class::SysTablespace,
            Class::Redo,
            Class::Undo,
            Class::AriaLog,
        ] {
            dirs.push((class, DataDir::open(&layout.root(class), true)?));
        }
        Ok(Roots {
            dirs,
            outside: Vec::new(),
        })
    }

    /// The directory and the path below it where `file` goes.
    pub(crate) fn place<'a>(&'a self, file: &'a Listed) -> Result<(&'a DataDir, &'a RelPath)> {
        match &file.outside {
            Some((index, rel)) => Ok((&self.outside[*index].1, rel)),
            None => Ok((self.get(file.class)?, &file.path)),
        }
    }

    /// The directories outside the datadir that files went below.
    pub(crate) fn outside(&self) -> impl Iterator<Item = &Path> {
        self.outside.iter().map(|(path, _)| path.as_path())
    }

    /// The index of directory `root`, opened once.
    fn open_outside(&mut self, root: &Path) -> Result<usize> {
        if let Some(index) = self.outside.iter().position(|(p, _)| p == root) {
            return Ok(index);
        }
        self.outside
            .push((root.to_path_buf(), DataDir::open(root, false)?));
        Ok(self.outside.len() - 1)
    }

    pub(crate) fn get(&self, class: Class) -> Result<&DataDir> {
        self.dirs
            .iter()
            .find(|(c, _)| *c == class)
            .map(|(_, d)| d)
            .with_context(|| format!("no directory for {class:?} files"))
    }
}

/// Reads a round's file list from `control`, checks every entry, deletes
/// what the donor lacks, creates the directories, and (with `delta`)
/// sends `Have` for each file this node holds: known from `memory` (the
/// previous round) or found on disk. The caller then answers `Ready`.
pub(crate) fn receive_manifest(
    control: &mut Connection<Transport>,
    layout: &Layout,
    delta: bool,
    memory: Option<&Memory>,
) -> Result<Manifest> {
    let mut roots = Roots::open(layout)?;
    let mut dirs: Vec<(RelPath, u32)> = Vec::new();
    let mut keep_dirs: HashSet<RelPath> = HashSet::new();
    let mut keep_files: HashSet<(Class, RelPath)> = HashSet::new();
    let mut files: Vec<Listed> = Vec::new();
    let mut links: Vec<Linked> = Vec::new();
    let bytes = loop {
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
                files.push(Listed {
                    class,
                    path: rel,
                    size,
                    mode,
                    held: None,
                    outside: None,
                });
            }
            Frame::Link {
                target,
                symlink,
                path,
            } => {
                let rel = RelPath::parse(path).context("donor sent a bad link name")?;
                check_file(layout, &keep_dirs, Class::Data, &rel)?;
                ensure!(
                    keep_files.insert((Class::Data, rel.clone())),
                    "donor sent {rel} twice"
                );
                let file = target as usize;
                ensure!(
                    files.get(file).is_some_and(|f| f.class == Class::External),
                    "donor's link {rel} names file id {target}, which is no file outside \
                     the datadir"
                );
                links.push(Linked {
                    path: rel,
                    file,
                    symlink,
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
    let declared = files
        .iter()
        .try_fold(0u64, |sum, f| sum.checked_add(f.size))
        .context("the donor's file sizes overflow")?;
    ensure!(
        declared == bytes,
        "the donor announced {bytes} bytes but listed {declared}"
    );
    place_outside(&mut roots, layout, &mut files, &links)?;
    prune(&roots, layout, &keep_dirs, &keep_files, control)?;
    let data = roots.get(Class::Data)?;
    for (rel, mode) in &dirs {
        data.create_dir(rel, *mode)?;
    }
    if delta {
        for (id, file) in files.iter_mut().enumerate() {
            let remembered = memory.and_then(|m| m.get(&(file.class, file.path.clone())));
            file.held = match remembered {
                Some((size, hashes)) => Some(Held::Hashes {
                    size: *size,
                    hashes: Arc::clone(hashes),
                }),
                None => {
                    let (root, at) = roots.place(file)?;
                    root.file_size(at)?.map(|size| Held::Disk { size })
                }
            };
            if let Some(held) = &file.held {
                control.write_frame(&Frame::Have {
                    id: id as u32,
                    size: held.size(),
                })?;
            }
        }
    }
    Ok(Manifest {
        roots,
        files,
        links,
        bytes,
    })
}

/// Finds this node's place for every `External` file: the donor's path
/// mapped by `rsrsync-data-dir-map`, below a directory this node may write
/// to ([`ExternalRules::placement`]). A file no link names, or one that
/// cannot be placed, fails the SST with the table's name and what to do.
fn place_outside(
    roots: &mut Roots,
    layout: &Layout,
    files: &mut [Listed],
    links: &[Linked],
) -> Result<()> {
    for (index, file) in files.iter_mut().enumerate() {
        if file.class != Class::External {
            continue;
        }
        let link = links
            .iter()
            .find(|l| l.file == index)
            .with_context(|| format!("donor sent /{} for no table", file.path))?;
        let donor = donor_path(&file.path);
        let local = layout.external.local_path(&donor);
        let placed = layout
            .external
            .placement(&local, &layout.datadir, nix::unistd::geteuid().as_raw())
            .with_context(|| {
                let table = link.path.to_string();
                let dir = local.parent().unwrap_or(&local).display().to_string();
                format!(
                    "cannot write the file of table {table} (a DATA/INDEX DIRECTORY table) \
                     at {}{}: create {dir} (or the directory above it) owned by the server's \
                     user and not writable by others, as mariadbd needs to create such a \
                     table there, or name the allowed directories with [sst] \
                     rsrsync-data-dirs, or map the donor's directory to one of this node's \
                     with [sst] rsrsync-data-dir-map, and retry",
                    local.display(),
                    if local == donor {
                        String::new()
                    } else {
                        format!(" (the donor's {})", donor.display())
                    },
                )
            })?;
        file.outside = Some((roots.open_outside(&placed.root)?, placed.rel));
    }
    Ok(())
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
    } else if class != Class::External {
        ensure!(
            parts.len() == 1 && layout.is_member(class, &parts[0]),
            "donor sent {rel} as a {class:?} file, which this joiner does not accept"
        );
    }
    Ok(())
}

/// Deletes, per class, what this node has and the donor did not list.
/// Top-level files of the datadir are never touched.
fn prune(
    roots: &Roots,
    layout: &Layout,
    keep_dirs: &HashSet<RelPath>,
    keep_files: &HashSet<(Class, RelPath)>,
    control: &mut Connection<Transport>,
) -> Result<()> {
    let data = roots.get(Class::Data)?;
    for (name, kind) in data.list(None)? {
        if layout.is_excluded(&name) || !matches!(kind, DirEntryKind::Dir | DirEntryKind::Symlink) {
            continue;
        }
        let Ok(rel) = RelPath::name(&name) else {
            log::warn!("leaving {:?} in the datadir: not a valid name", name);
            continue;
        };
        if kind == DirEntryKind::Symlink && keep_dirs.contains(&rel) {
            bail!(
                "{} is a symbolic link, and the donor sends a database of that name: \
                 rsrsync never writes through symbolic links; replace the link with a \
                 directory (or a mount point) and retry",
                data.show(&rel)
            );
        }
        if kind == DirEntryKind::Dir && keep_dirs.contains(&rel) {
            prune_tree(data, &rel, keep_dirs, keep_files, control)?;
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
        let dir = roots.get(class)?;
        for (name, kind) in dir.list(None)? {
            if matches!(kind, DirEntryKind::File | DirEntryKind::Symlink)
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
        // A link of the list (an `.isl` file, a symlink) is replaced in
        // place once the files are verified.
        let keep = match kind {
            DirEntryKind::Dir => keep_dirs.contains(&rel),
            DirEntryKind::File | DirEntryKind::Symlink => {
                keep_files.contains(&(Class::Data, rel.clone()))
            }
            DirEntryKind::Other => false,
        };
        if !keep {
            log::debug!("removing {} (not on the donor)", data.show(&rel));
            data.remove(&rel)?;
        } else if kind == DirEntryKind::Dir {
            prune_tree(data, &rel, keep_dirs, keep_files, control)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::connection_pair;

    /// The joiner's reading of `frames` from a donor: the manifest, and
    /// the `Have`s it answered with (id, size).
    fn receive(dir: &Path, frames: &[Frame<'_>]) -> (Result<Manifest>, Vec<(u32, u64)>) {
        let (mut donor, mut joiner) = connection_pair();
        for frame in frames {
            donor.write_frame(frame).expect("frame");
        }
        donor.send(&Frame::Ping).expect("flush");
        let manifest = receive_manifest(&mut joiner, &Layout::flat(dir), true, None);
        joiner.send(&Frame::Ready).expect("ready");
        let mut haves = Vec::new();
        while let Ok(frame) = donor.expect_frame("haves") {
            match frame {
                Frame::Have { id, size } => haves.push((id, size)),
                _ => break,
            }
        }
        (manifest, haves)
    }

    #[test]
    fn the_joiners_stale_files_go_and_what_it_holds_is_announced() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let d = tmp.path();
        std::fs::create_dir_all(d.join("db")).expect("mkdir");
        std::fs::create_dir_all(d.join("gone")).expect("mkdir");
        std::fs::write(d.join("db/t.ibd"), vec![1u8; 300]).expect("t");
        std::fs::write(d.join("db/old.ibd"), b"old").expect("old");
        std::fs::write(d.join("gone/x.frm"), b"x").expect("x");
        std::fs::write(d.join("grastate.dat"), b"keep").expect("state");
        let frames = [
            Frame::Dir {
                class: Class::Data,
                mode: 0o750,
                path: b"db",
            },
            Frame::File {
                id: 0,
                class: Class::Data,
                size: 500,
                mode: 0o640,
                path: b"db/t.ibd",
            },
            Frame::File {
                id: 1,
                class: Class::Redo,
                size: 10,
                mode: 0o640,
                path: b"ib_logfile0",
            },
            Frame::ManifestEnd {
                files: 2,
                bytes: 510,
            },
        ];
        let (manifest, haves) = receive(d, &frames);
        let manifest = manifest.expect("manifest");
        assert_eq!(manifest.files.len(), 2);
        assert_eq!(manifest.bytes, 510);
        assert_eq!(haves, [(0, 300)], "only db/t.ibd is here, with 300 bytes");
        assert!(
            d.join("db/t.ibd").exists(),
            "a listed file is kept for the delta"
        );
        assert!(
            !d.join("db/old.ibd").exists(),
            "a table the donor lacks goes"
        );
        assert!(!d.join("gone").exists(), "a database the donor lacks goes");
        assert!(
            d.join("grastate.dat").exists(),
            "state files are not the SST's"
        );
    }

    #[test]
    fn hostile_lists_are_refused() {
        let file = |id, path: &'static [u8]| Frame::File {
            id,
            class: Class::Data,
            size: 1,
            mode: 0o640,
            path,
        };
        let cases: [(&str, Vec<Frame<'static>>); 3] = [
            ("a path that climbs out", vec![file(0, b"../etc/passwd")]),
            ("ids out of order", vec![file(1, b"db/a.ibd")]),
            (
                "totals that disagree",
                vec![Frame::ManifestEnd { files: 3, bytes: 0 }],
            ),
        ];
        for (what, mut frames) in cases {
            let tmp = tempfile::tempdir().expect("tempdir");
            if !matches!(frames.last(), Some(Frame::ManifestEnd { .. })) {
                frames.push(Frame::ManifestEnd { files: 1, bytes: 1 });
            }
            let (manifest, _) = receive(tmp.path(), &frames);
            assert!(manifest.is_err(), "{what} was accepted");
            assert!(!tmp.path().join("etc").exists(), "{what}: nothing written");
        }
    }
}
