//! The donor's snapshot under the lock: every file of the locked round is
//! cloned (`FICLONE`, a reflink: the clone shares the file's extents and
//! the filesystem copies a block only when one of the two is written) into
//! an unnamed file (`O_TMPFILE`) of the file's own directory. `continue`
//! then comes as soon as the clones exist, and the copy reads the clones
//! while the server runs: the lock lasts for mariadbd's flush and the
//! clones, not for a read of the datadir.
//!
//! An unnamed file is in no directory: mariadbd never sees it, no walk
//! lists it, and the kernel frees it when its last descriptor closes,
//! however the donor ends (killed included), so no snapshot is ever left
//! behind. A file that cannot be cloned (no reflink: ext4, tmpfs; too
//! little free space for what copy-on-write may need; no descriptor left)
//! is read under the lock as without a snapshot, and one line says why.
//! After the locked work every file but Aria's logs (which Aria's
//! checkpoint may write at any time, see `CONTROL_FILES` in `plan`) is
//! stat'ed again: a file mariadbd changed while it held the lock fails the
//! SST ([`Stamps::verify`]).

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, Metadata};
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use anyhow::{Result, bail};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::resource::{Resource, getrlimit, setrlimit};
use nix::sys::stat::Mode;

use crate::fsutil::human_bytes;

/// Files cloned at once. A clone waits on the filesystem's metadata (its
/// extent tree, read from disk when the page cache was dropped, and on
/// btrfs a transaction), not on a CPU: one at a time, btrfs took 1.4-1.6 s
/// under the lock for 694 files of a 4.4 GiB datadir.
const CLONES_AT_ONCE: usize = 4;

/// Descriptors kept free for everything else the donor opens (streams,
/// sources, logs) when clones take the rest.
const SPARE_FDS: u64 = 256;

/// The clones of a plan's files, by file id; `None`: read under the lock.
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    pub(crate) clones: Vec<Option<File>>,
}

/// Why a file or a directory cannot be cloned.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Refusal(pub(crate) String);

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether files in `dir` can be cloned: two unnamed files, one written,
/// cloned into the other (what [`take`] does, on 4 KiB).
pub(crate) fn probe(dir: &Path) -> Result<(), Refusal> {
    let mut original = unnamed(dir)?;
    original
        .write_all(&[0x5a; 4096])
        .map_err(|e| Refusal(format!("writing a test file in {}: {e}", dir.display())))?;
    let copy = unnamed(dir)?;
    rustix::fs::ioctl_ficlone(&copy, &original).map_err(|e| clone_refusal(e.raw_os_error()))
}

/// Whether every file of `files` (path, size) could be cloned: each
/// filesystem they are on can clone and has room for them.
pub(crate) fn covers(files: &[(&Path, u64)]) -> Result<(), Refusal> {
    for group in by_filesystem(files)?.values() {
        group.room()?;
        probe(group.dir)?;
    }
    Ok(())
}

/// Clones `files` (path, size), under the lock; what cannot be cloned is
/// logged, one line per reason.
pub(crate) fn take(files: &[(&Path, u64)]) -> Snapshot {
    let mut clones: Vec<Option<File>> = files.iter().map(|_| None).collect();
    let mut refused: BTreeMap<Refusal, (u64, u64)> = BTreeMap::new();
    let mut refuse = |why: Refusal, size: u64| {
        let count = refused.entry(why).or_default();
        count.0 += 1;
        count.1 += size;
    };
    let mut budget = descriptor_budget();
    match by_filesystem(files) {
        Err(why) => files
            .iter()
            .for_each(|(_, size)| refuse(why.clone(), *size)),
        Ok(groups) => {
            for group in groups.values() {
                // One probe per filesystem: without reflink (ext4) no file
                // of it pays for a clone attempt under the lock.
                if let Err(why) = group.room().and_then(|()| probe(group.dir)) {
                    group
                        .ids
                        .iter()
                        .for_each(|&i| refuse(why.clone(), files[i].1));
                    continue;
                }
                // What the descriptors allow, cloned a few at a time.
                let room = group
                    .ids
                    .len()
                    .min(usize::try_from(budget).unwrap_or(usize::MAX));
                let (cloned, left) = group.ids.split_at(room);
                left.iter()
                    .for_each(|&i| refuse(no_descriptors(), files[i].1));
                budget -= room as u64;
                let made = crate::parallel::map(cloned.len(), CLONES_AT_ONCE, |k| {
                    clone_file(files[cloned[k]].0)
                });
                for (&i, made) in cloned.iter().zip(made) {
                    match made.unwrap_or_else(|| Err(Refusal("cloning panicked".into()))) {
                        Ok(clone) => clones[i] = Some(clone),
                        Err(why) => refuse(why, files[i].1),
                    }
                }
            }
        }
    }
    for (why, (count, bytes)) in &refused {
        log::info!(
            "snapshot: {count} files ({}) are read under the lock instead: {why}",
            human_bytes(*bytes)
        );
    }
    Snapshot { clones }
}

/// What [`Stamps::verify`] compares: a change to a file's bytes moves its
/// size or its modification or change time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    fn of(meta: &Metadata) -> Stamp {
        Stamp {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.len(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }
}

/// The files of the locked round as the lock found them.
#[derive(Debug)]
pub(crate) struct Stamps(Vec<Option<Stamp>>);

impl Stamps {
    /// Stats `files` (path, size) at the start of the locked work.
    pub(crate) fn take(files: &[(&Path, u64)]) -> Stamps {
        Stamps(
            files
                .iter()
                .map(|(path, _)| std::fs::metadata(path).ok().map(|m| Stamp::of(&m)))
                .collect(),
        )
    }

    /// Fails when a file is not as [`Stamps::take`] found it: mariadbd
    /// wrote to it while it held the lock, so what was read of it (or
    /// cloned) may not belong to the state of `tables_flushed`.
    pub(crate) fn verify(&self, files: &[(&Path, u64)]) -> Result<()> {
        let changed: Vec<String> = files
            .iter()
            .zip(&self.0)
            .filter(|((path, _), before)| {
                let now = std::fs::metadata(path).ok().map(|m| Stamp::of(&m));
                now != **before
            })
            .map(|((path, _), _)| path.display().to_string())
            .collect();
        if changed.is_empty() {
            return Ok(());
        }
        let shown: Vec<&str> = changed.iter().take(3).map(String::as_str).collect();
        bail!(
            "{} files changed while mariadbd held FLUSH TABLES WITH READ LOCK ({}{}): the copy \
             would not be the state the lock stands for, so this SST stops rather than send \
             it; retry it, and if it repeats, report the MariaDB version (a server that writes \
             its files under the lock)",
            changed.len(),
            shown.join(", "),
            if changed.len() > shown.len() {
                ", …"
            } else {
                ""
            }
        )
    }
}

/// The files on one filesystem.
#[derive(Debug)]
struct Group<'a> {
    /// A directory on it (the first file's), where free space is asked.
    dir: &'a Path,
    ids: Vec<usize>,
    bytes: u64,
}

impl Group<'_> {
    /// Fails when the filesystem lacks the room copy-on-write may need:
    /// at worst the server rewrites every block while the clones live.
    fn room(&self) -> Result<(), Refusal> {
        let stat = nix::sys::statvfs::statvfs(self.dir).map_err(|e| {
            Refusal(format!(
                "asking {} for its free space: {e}",
                self.dir.display()
            ))
        })?;
        let free = stat.blocks_available().saturating_mul(stat.fragment_size());
        if free < self.bytes {
            return Err(Refusal(format!(
                "the filesystem of {} has {} free, less than the {} of its files that \
                 copy-on-write may need while the SST runs",
                self.dir.display(),
                human_bytes(free),
                human_bytes(self.bytes)
            )));
        }
        Ok(())
    }
}

/// `files` grouped by the device of their directory.
fn by_filesystem<'a>(files: &[(&'a Path, u64)]) -> Result<HashMap<u64, Group<'a>>, Refusal> {
    let mut groups: HashMap<u64, Group<'a>> = HashMap::new();
    for (i, (path, size)) in files.iter().enumerate() {
        let dir = path.parent().unwrap_or(Path::new("/"));
        let dev = std::fs::metadata(dir)
            .map_err(|e| Refusal(format!("examining {}: {e}", dir.display())))?
            .dev();
        let group = groups.entry(dev).or_insert_with(|| Group {
            dir,
            ids: Vec::new(),
            bytes: 0,
        });
        group.ids.push(i);
        group.bytes += size;
    }
    Ok(groups)
}

/// A clone of `path` in an unnamed file of its directory.
fn clone_file(path: &Path) -> Result<File, Refusal> {
    let original =
        File::open(path).map_err(|e| Refusal(format!("opening {}: {e}", path.display())))?;
    let copy = unnamed(path.parent().unwrap_or(Path::new("/")))?;
    rustix::fs::ioctl_ficlone(&copy, &original).map_err(|e| clone_refusal(e.raw_os_error()))?;
    Ok(copy)
}

/// A new unnamed file in `dir`, readable and writable by us alone.
fn unnamed(dir: &Path) -> Result<File, Refusal> {
    let flags = OFlag::O_TMPFILE | OFlag::O_RDWR | OFlag::O_CLOEXEC;
    nix::fcntl::open(dir, flags, Mode::S_IRUSR | Mode::S_IWUSR)
        .map(File::from)
        .map_err(|e| match e {
            Errno::EMFILE | Errno::ENFILE => no_descriptors(),
            Errno::EOPNOTSUPP | Errno::EISDIR | Errno::EINVAL => Refusal(format!(
                "the filesystem of {} has no unnamed files (O_TMPFILE)",
                dir.display()
            )),
            e => Refusal(format!(
                "creating an unnamed file in {}: {e}",
                dir.display()
            )),
        })
}

/// Why `FICLONE` failed with `errno`, in the operator's words.
fn clone_refusal(errno: i32) -> Refusal {
    match Errno::from_raw(errno) {
        Errno::EOPNOTSUPP | Errno::ENOTTY | Errno::EINVAL | Errno::ENOSYS => {
            Refusal("the filesystem cannot clone files (no reflink)".into())
        }
        Errno::EXDEV => Refusal("the file is on another filesystem than its directory".into()),
        Errno::ENOSPC => Refusal("the filesystem has no space left for clones".into()),
        e => Refusal(format!("cloning failed: {e}")),
    }
}

fn no_descriptors() -> Refusal {
    Refusal(
        "no file descriptor left for more clones (raise LimitNOFILE or open_files_limit \
         of the donor's mariadbd)"
            .into(),
    )
}

/// How many clones may be open at once: the soft limit on descriptors,
/// raised to the hard one, less those in use and [`SPARE_FDS`].
fn descriptor_budget() -> u64 {
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return 0;
    };
    let limit = if soft < hard && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
        hard
    } else {
        soft
    };
    let open = std::fs::read_dir("/proc/self/fd").map_or(SPARE_FDS, |d| d.count() as u64);
    limit.saturating_sub(open + SPARE_FDS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn stamps_see_a_write() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("t.ibd");
        std::fs::write(&path, vec![1u8; 8192]).expect("write");
        let files = [(path.as_path(), 8192u64)];
        let stamps = Stamps::take(&files);
        stamps.verify(&files).expect("nothing changed");
        // Coarse timestamps may not move within a tick: the size does.
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .expect("open");
        file.write_all(b"more").expect("append");
        let err = stamps.verify(&files).expect_err("changed under the lock");
        assert!(format!("{err:#}").contains("t.ibd"), "{err:#}");
        std::fs::remove_file(&path).expect("remove");
        assert!(stamps.verify(&files).is_err(), "a file gone is a change");
    }

    #[test]
    fn a_filesystem_without_reflink_refuses_and_nothing_is_cloned() {
        // tempdir is on the host's filesystem (ext4 or tmpfs here): no
        // reflink. Where it has one, the clone is checked instead.
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("ibdata1");
        std::fs::write(&path, vec![7u8; 65536]).expect("write");
        let files = [(path.as_path(), 65536u64)];
        let snapshot = take(&files);
        match probe(tmp.path()) {
            Err(why) => {
                assert!(snapshot.clones[0].is_none(), "{why}");
                assert!(covers(&files).is_err());
            }
            Ok(()) => {
                let clone = snapshot.clones[0].as_ref().expect("cloned");
                assert_eq!(clone.metadata().expect("stat").len(), 65536);
                std::fs::write(&path, vec![9u8; 65536]).expect("rewrite");
                let mut bytes = Vec::new();
                std::io::Read::read_to_end(&mut &*clone, &mut bytes).expect("read");
                assert!(
                    bytes.iter().all(|b| *b == 7),
                    "the clone kept the old bytes"
                );
            }
        }
    }

    #[test]
    fn too_little_room_is_a_refusal() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("big.ibd");
        std::fs::write(&path, b"x").expect("write");
        let files = [(path.as_path(), u64::MAX / 2)];
        let why = covers(&files).expect_err("no filesystem has that room");
        assert!(why.0.contains("copy-on-write"), "{why}");
    }
}
