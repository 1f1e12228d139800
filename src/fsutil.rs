//! The one filesystem entry point for names that came from the network.
//!
//! [`RelPath`] validates a peer-supplied path (relative, no `..`, no `.`,
//! no empty or over-long components, no control bytes). [`DataDir`] holds
//! an open handle on a target directory and does everything relative to
//! it with `openat`-family calls and `O_NOFOLLOW`, so no name from the
//! donor can reach outside the directory: not through `..`, not through a
//! symlink planted in the joiner's tree, not by a path that changes while
//! we walk it.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail, ensure};
use nix::errno::Errno;
use nix::fcntl::{AT_FDCWD, AtFlags, OFlag, openat};
use nix::sys::stat::{Mode, SFlag, fstat, fstatat, mkdirat};
use nix::unistd::{UnlinkatFlags, unlinkat};

/// Longest path (Linux `PATH_MAX`); the protocol bounds the paths it
/// carries alike (a test of `transfer` holds the two together).
pub(crate) const MAX_PATH: usize = 4096;

/// Longest path component (Linux `NAME_MAX`).
const MAX_NAME: usize = 255;

/// A validated relative path: one or more plain components.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct RelPath(Vec<OsString>);

impl RelPath {
    /// Validates a path from the peer.
    pub(crate) fn parse(bytes: &[u8]) -> Result<RelPath> {
        let shown = String::from_utf8_lossy(bytes);
        ensure!(!bytes.is_empty(), "empty path");
        ensure!(bytes.len() <= MAX_PATH, "path of {} bytes", bytes.len());
        ensure!(bytes[0] != b'/', "absolute path {shown:?}");
        ensure!(
            !bytes.iter().any(|b| *b < 0x20 || *b == 0x7f),
            "control character in path {shown:?}"
        );
        let mut parts = Vec::new();
        for part in bytes.split(|b| *b == b'/') {
            ensure!(!part.is_empty(), "empty component in path {shown:?}");
            ensure!(
                part != b"." && part != b"..",
                "'.' or '..' in path {shown:?}"
            );
            ensure!(part.len() <= MAX_NAME, "component too long in {shown:?}");
            parts.push(OsString::from_vec(part.to_vec()));
        }
        Ok(RelPath(parts))
    }

    /// A one-component path from a directory entry name.
    pub(crate) fn name(name: &OsStr) -> Result<RelPath> {
        RelPath::parse(name.as_bytes())
    }

    /// This path with one more component.
    pub(crate) fn join(&self, name: &OsStr) -> Result<RelPath> {
        let mut child = RelPath::name(name)?;
        let mut parts = self.0.clone();
        parts.append(&mut child.0);
        Ok(RelPath(parts))
    }

    /// The directory containing this path; `None` at the top level.
    pub(crate) fn parent(&self) -> Option<RelPath> {
        (self.0.len() > 1).then(|| RelPath(self.0[..self.0.len() - 1].to_vec()))
    }

    pub(crate) fn components(&self) -> &[OsString] {
        &self.0
    }

    /// The wire form: components joined by `/`.
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        self.0.join(OsStr::new("/")).into_vec()
    }

    fn split_last(&self) -> (&[OsString], &OsStr) {
        match self.0.split_last() {
            Some((last, dirs)) => (dirs, last),
            None => (&[], OsStr::new("")),
        }
    }
}

impl std::fmt::Display for RelPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.to_bytes()))
    }
}

/// What [`DataDir::place_link`] puts at a name.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Link<'a> {
    /// A symbolic link to this path.
    Symlink(&'a Path),
    /// A small file with these bytes.
    File { content: &'a [u8], mode: u32 },
}

/// What a directory entry is, never following symlinks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DirEntryKind {
    File,
    Dir,
    Symlink,
    Other,
}

fn kind_of(mode: u32) -> DirEntryKind {
    match SFlag::from_bits_truncate(mode & SFlag::S_IFMT.bits()) {
        SFlag::S_IFREG => DirEntryKind::File,
        SFlag::S_IFDIR => DirEntryKind::Dir,
        SFlag::S_IFLNK => DirEntryKind::Symlink,
        _ => DirEntryKind::Other,
    }
}

/// An open target directory; every operation is relative to its handle.
#[derive(Debug)]
pub(crate) struct DataDir {
    fd: OwnedFd,
    path: PathBuf,
}

impl DataDir {
    /// Opens a directory named by our own configuration (trusted: it may
    /// be reached through symlinks), creating it and its parents if asked.
    pub(crate) fn open(path: &Path, create: bool) -> Result<DataDir> {
        if create {
            std::fs::create_dir_all(path)
                .with_context(|| format!("creating directory {}", path.display()))?;
        }
        let fd = openat(
            AT_FDCWD,
            path,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .with_context(|| format!("opening directory {}", path.display()))?;
        Ok(DataDir {
            fd,
            path: path.to_path_buf(),
        })
    }

    /// The full path of `rel`, for messages.
    pub(crate) fn show(&self, rel: &RelPath) -> String {
        let mut p = self.path.clone();
        p.extend(rel.components());
        p.display().to_string()
    }

    /// The device the directory lives on (to sync each filesystem once).
    pub(crate) fn device(&self) -> Result<u64> {
        Ok(fstat(&self.fd)
            .with_context(|| format!("examining {}", self.path.display()))?
            .st_dev)
    }

    /// Opens the directory made of `dirs` below the root, creating missing
    /// ones with `mode`; a symlink anywhere on the way is refused.
    fn walk(&self, dirs: &[OsString], mode: u32) -> Result<Option<OwnedFd>> {
        let mut current: Option<OwnedFd> = None;
        for (depth, name) in dirs.iter().enumerate() {
            let parent = current.as_ref().map_or(self.fd.as_fd(), |f| f.as_fd());
            let fd = match open_dir_at(parent, name) {
                Err(Errno::ENOENT) => {
                    match mkdirat(parent, name.as_os_str(), Mode::from_bits_truncate(mode)) {
                        Ok(()) | Err(Errno::EEXIST) => {}
                        Err(e) => bail!(
                            "creating directory {}: {e}",
                            self.show(&RelPath(dirs[..=depth].to_vec()))
                        ),
                    }
                    open_dir_at(parent, name)
                }
                other => other,
            };
            let shown = || self.show(&RelPath(dirs[..=depth].to_vec()));
            current = Some(match fd {
                Ok(fd) => fd,
                Err(Errno::ELOOP | Errno::ENOTDIR) => bail!(
                    "{} is not a directory (a symbolic link or a file): \
                     rsrsync never writes through symbolic links; \
                     move it away and retry the SST",
                    shown()
                ),
                Err(e) => bail!("opening directory {}: {e}", shown()),
            });
        }
        Ok(current)
    }

    /// Creates directory `rel` and missing parents with `mode`. An
    /// existing directory is kept; a file or symlink in the way is an error
    /// (the caller's deletion pass has removed what the donor replaced).
    pub(crate) fn create_dir(&self, rel: &RelPath, mode: u32) -> Result<()> {
        self.walk(rel.components(), mode & 0o777).map(drop)
    }

    /// Opens file `rel` for reading and writing, creating it with `mode`
    /// if missing; `keep` keeps what it holds, else it is truncated. A
    /// symlink in its place is removed first, never followed; a directory
    /// in its place is an error.
    pub(crate) fn open_file(&self, rel: &RelPath, mode: u32, keep: bool) -> Result<File> {
        let (dirs, name) = rel.split_last();
        let parent = self.walk(dirs, 0o750)?;
        let parent = parent.as_ref().map_or(self.fd.as_fd(), |f| f.as_fd());
        let mut flags = OFlag::O_RDWR | OFlag::O_CREAT | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        if !keep {
            flags |= OFlag::O_TRUNC;
        }
        let mode = Mode::from_bits_truncate(mode & 0o777);
        let fd = match openat(parent, name, flags, mode) {
            Err(Errno::ELOOP) => {
                unlinkat(parent, name, UnlinkatFlags::NoRemoveDir)
                    .map_err(|e| io_error(e, &self.show(rel), "removing the symbolic link"))?;
                openat(parent, name, flags | OFlag::O_EXCL, mode)
            }
            other => other,
        }
        .map_err(|e| io_error(e, &self.show(rel), "creating"))?;
        let file = File::from(fd);
        let kind = kind_of(fstat(&file)?.st_mode);
        ensure!(
            kind == DirEntryKind::File,
            "{} is not a regular file",
            self.show(rel)
        );
        Ok(file)
    }

    /// The size of `rel` when it is a regular file (not through a symlink),
    /// else `None`.
    pub(crate) fn file_size(&self, rel: &RelPath) -> Result<Option<u64>> {
        let (dirs, name) = rel.split_last();
        let Some(parent) = self.walk_existing(dirs)? else {
            return Ok(None);
        };
        let parent = parent.as_ref().map_or(self.fd.as_fd(), |f| f.as_fd());
        match fstatat(parent, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) if kind_of(st.st_mode) == DirEntryKind::File => Ok(Some(st.st_size as u64)),
            Ok(_) | Err(Errno::ENOENT) => Ok(None),
            Err(e) => bail!("examining {}: {e}", self.show(rel)),
        }
    }

    /// Removes `rel`: a file or symlink is unlinked, a directory removed
    /// with everything in it (symlinks inside are unlinked, not followed).
    pub(crate) fn remove(&self, rel: &RelPath) -> Result<()> {
        let (dirs, name) = rel.split_last();
        let parent = self.walk_existing(dirs)?;
        let Some(parent) = parent else {
            return Ok(());
        };
        let parent = parent.as_ref().map_or(self.fd.as_fd(), |f| f.as_fd());
        match remove_at(parent, name) {
            Ok(()) | Err(Errno::ENOENT) => Ok(()),
            Err(e) => bail!("removing {}: {e}", self.show(rel)),
        }
    }

    /// Lists directory `rel` (the root when `None`): names and kinds.
    pub(crate) fn list(&self, rel: Option<&RelPath>) -> Result<Vec<(OsString, DirEntryKind)>> {
        let dirs = rel.map_or(&[][..], |r| r.components());
        let shown = || rel.map_or(self.path.display().to_string(), |r| self.show(r));
        let fd = match self.walk_existing(dirs)? {
            None => return Ok(Vec::new()),
            Some(None) => open_dir_at(self.fd.as_fd(), OsStr::new(".")),
            Some(Some(fd)) => Ok(fd),
        }
        .map_err(|e| io_error(e, &shown(), "opening"))?;
        list_fd(fd).with_context(|| format!("listing {}", shown()))
    }

    /// Makes `rel` (its directory exists) a symbolic link to `target`, or
    /// (`content`) a file holding those bytes with `mode`: made under a
    /// temporary name and renamed over what was there, so the name always
    /// holds the old entry or the new one. A directory there is an error.
    pub(crate) fn place_link(&self, rel: &RelPath, link: Link<'_>) -> Result<()> {
        let (dirs, name) = rel.split_last();
        let parent = self
            .walk_existing(dirs)?
            .with_context(|| format!("the directory of {} is missing", self.show(rel)))?;
        let parent = parent.as_ref().map_or(self.fd.as_fd(), |f| f.as_fd());
        let mut temp = OsString::from(".rsrsync-link.");
        temp.push(name);
        let shown = self.show(rel);
        let _ = unlinkat(parent, temp.as_os_str(), UnlinkatFlags::NoRemoveDir);
        match link {
            Link::Symlink(target) => nix::unistd::symlinkat(target, parent, temp.as_os_str())
                .map_err(|e| io_error(e, &shown, "creating the symbolic link"))?,
            Link::File { content, mode } => {
                let fd = openat(
                    parent,
                    temp.as_os_str(),
                    OFlag::O_WRONLY
                        | OFlag::O_CREAT
                        | OFlag::O_EXCL
                        | OFlag::O_NOFOLLOW
                        | OFlag::O_CLOEXEC,
                    Mode::from_bits_truncate(mode & 0o777),
                )
                .map_err(|e| io_error(e, &shown, "creating"))?;
                std::io::Write::write_all(&mut File::from(fd), content)
                    .map_err(|e| describe(&e, &shown, "writing"))?;
            }
        }
        nix::fcntl::renameat(parent, temp.as_os_str(), parent, name).map_err(|e| {
            let _ = unlinkat(parent, temp.as_os_str(), UnlinkatFlags::NoRemoveDir);
            io_error(e, &shown, "putting in place")
        })
    }

    /// Flushes the whole filesystem of this directory to stable storage
    /// (one `syncfs` instead of an fsync per file).
    pub(crate) fn sync_filesystem(&self) -> Result<()> {
        nix::unistd::syncfs(&self.fd)
            .with_context(|| format!("syncing the filesystem of {}", self.path.display()))
    }

    /// Like `walk` without creating: `None` when a component is missing;
    /// `Some(None)` is the root itself.
    fn walk_existing(&self, dirs: &[OsString]) -> Result<Option<Option<OwnedFd>>> {
        let mut current: Option<OwnedFd> = None;
        for (depth, name) in dirs.iter().enumerate() {
            let parent = current.as_ref().map_or(self.fd.as_fd(), |f| f.as_fd());
            current = Some(match open_dir_at(parent, name) {
                Ok(fd) => fd,
                Err(Errno::ENOENT) => return Ok(None),
                Err(e) => bail!(
                    "opening directory {}: {e}",
                    self.show(&RelPath(dirs[..=depth].to_vec()))
                ),
            });
        }
        Ok(Some(current))
    }
}

fn open_dir_at<Fd: AsFd>(parent: Fd, name: &OsStr) -> nix::Result<OwnedFd> {
    openat(
        parent,
        name,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
}

fn entry_kind_at<Fd: AsFd>(parent: Fd, name: &OsStr) -> nix::Result<DirEntryKind> {
    fstatat(parent, name, AtFlags::AT_SYMLINK_NOFOLLOW).map(|st| kind_of(st.st_mode))
}

fn list_fd(fd: OwnedFd) -> nix::Result<Vec<(OsString, DirEntryKind)>> {
    let dir_fd = fd
        .try_clone()
        .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(0)))?;
    let mut dir = nix::dir::Dir::from_fd(dir_fd)?;
    let mut out = Vec::new();
    for entry in dir.iter() {
        let entry = entry?;
        let name = OsStr::from_bytes(entry.file_name().to_bytes());
        if name == "." || name == ".." {
            continue;
        }
        let kind = match entry.file_type() {
            Some(nix::dir::Type::File) => DirEntryKind::File,
            Some(nix::dir::Type::Directory) => DirEntryKind::Dir,
            Some(nix::dir::Type::Symlink) => DirEntryKind::Symlink,
            Some(_) => DirEntryKind::Other,
            None => entry_kind_at(&fd, name)?,
        };
        out.push((name.to_os_string(), kind));
    }
    Ok(out)
}

/// Removes an entry; directories recursively, never following symlinks.
fn remove_at<Fd: AsFd>(parent: Fd, name: &OsStr) -> nix::Result<()> {
    match unlinkat(&parent, name, UnlinkatFlags::NoRemoveDir) {
        Err(Errno::EISDIR | Errno::EPERM) => {}
        other => return other,
    }
    let fd = open_dir_at(&parent, name)?;
    let listing = fd
        .try_clone()
        .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(0)))?;
    for (child, _) in list_fd(listing)? {
        remove_at(&fd, &child)?;
    }
    unlinkat(&parent, name, UnlinkatFlags::RemoveDir)
}

/// Asks the kernel to read `len` bytes at `offset` of `file` into the page
/// cache without waiting (`POSIX_FADV_WILLNEED`; the kernel reads at most
/// its readahead window a call, a few hundred KiB to MiBs). Advice only:
/// errors are ignored.
pub(crate) fn read_ahead(file: &File, offset: u64, len: u64) {
    advise(
        file,
        offset,
        len,
        nix::fcntl::PosixFadviseAdvice::POSIX_FADV_WILLNEED,
    );
}

fn advise(file: &File, offset: u64, len: u64, advice: nix::fcntl::PosixFadviseAdvice) {
    let _ = nix::fcntl::posix_fadvise(file, offset as i64, len as i64, advice);
}

/// Starts writing `len` bytes at `offset` of `file` back to disk without
/// waiting (the kernel's `POSIX_FADV_DONTNEED` starts writeback of dirty
/// pages), so the disk works while the stream goes on and the final sync
/// finds little left to write. Pages dropped this way were ours alone:
/// mariadbd reads its files with O_DIRECT. Advice only: errors are ignored.
pub(crate) fn start_writeback(file: &File, offset: u64, len: u64) {
    advise(
        file,
        offset,
        len,
        nix::fcntl::PosixFadviseAdvice::POSIX_FADV_DONTNEED,
    );
}

/// Makes `len` bytes at `offset` of `file` read as zeros, as a hole where
/// the filesystem can punch one.
pub(crate) fn zero_range(file: &File, offset: u64, len: u64) -> std::io::Result<()> {
    use nix::fcntl::{FallocateFlags, fallocate};
    let punch = FallocateFlags::FALLOC_FL_PUNCH_HOLE | FallocateFlags::FALLOC_FL_KEEP_SIZE;
    let (start, span) = (offset as i64, len as i64);
    match fallocate(file, punch, start, span) {
        Ok(()) => Ok(()),
        Err(Errno::EOPNOTSUPP | Errno::ENOSYS) => {
            use std::os::unix::fs::FileExt;
            static ZEROS: [u8; 64 << 10] = [0; 64 << 10];
            let mut done = 0;
            while done < len {
                let n = (len - done).min(ZEROS.len() as u64) as usize;
                file.write_all_at(&ZEROS[..n], offset + done)?;
                done += n as u64;
            }
            Ok(())
        }
        Err(e) => Err(std::io::Error::from(e)),
    }
}

/// An I/O error on a file with its path; "no space left" said plainly.
pub(crate) fn describe(err: &std::io::Error, path: &str, doing: &str) -> anyhow::Error {
    match err.raw_os_error() {
        Some(code) => io_error(Errno::from_raw(code), path, doing),
        None => anyhow::anyhow!("{doing} {path}: {err}"),
    }
}

/// An errno with the path and what we were doing; ENOSPC said plainly.
fn io_error(err: Errno, path: &str, doing: &str) -> anyhow::Error {
    match err {
        Errno::ENOSPC | Errno::EDQUOT => anyhow::anyhow!(
            "{doing} {path}: no space left on device (free space on the joiner and retry)"
        ),
        e => anyhow::anyhow!("{doing} {path}: {e}"),
    }
}

/// `1.5 GiB`, `312.0 KiB`, `17 B`.
pub(crate) fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_df() {
        assert_eq!(human_bytes(17), "17 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(3 << 30), "3.0 GiB");
        assert_eq!(human_bytes(u64::MAX), "16384.0 PiB");
    }
    use std::io::Write;
    use std::os::unix::fs::symlink;

    fn rel(s: &str) -> RelPath {
        RelPath::parse(s.as_bytes()).expect("valid path")
    }

    #[test]
    fn hostile_paths_are_refused() {
        let long = "x".repeat(256);
        for bad in [
            "",
            "/etc/passwd",
            "a/../b",
            "..",
            ".",
            "a//b",
            "a/",
            "a\nb",
            "a\0b",
            "a/./b",
            long.as_str(),
        ] {
            assert!(RelPath::parse(bad.as_bytes()).is_err(), "{bad:?}");
        }
        assert!(RelPath::parse(&[b'a'; 4097]).is_err());
        for good in [
            "db/t.ibd",
            "d@0020b/t#P#p0.ibd",
            "ünï/cødé.frm",
            "...",
            "a..b",
        ] {
            assert_eq!(rel(good).to_bytes(), good.as_bytes());
        }
    }

    #[test]
    fn paths_are_bounded_by_path_max() {
        // Components of 199 bytes: only the whole path's length is at stake.
        let path = |len: usize| -> Vec<u8> {
            (1..=len)
                .map(|i| if i % 200 == 0 { b'/' } else { b'x' })
                .collect()
        };
        assert_eq!(MAX_PATH, 4096);
        assert!(RelPath::parse(&path(4096)).is_ok());
        let err = RelPath::parse(&path(4097)).expect_err("one byte too long");
        assert_eq!(format!("{err:#}"), "path of 4097 bytes");
    }

    #[test]
    fn files_and_dirs_are_created_inside() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dd = DataDir::open(&tmp.path().join("data"), true).expect("open");
        dd.create_dir(&rel("db1"), 0o700).expect("mkdir");
        let mut f = dd
            .open_file(&rel("db1/sub/t.ibd"), 0o640, false)
            .expect("create");
        f.write_all(b"hello").expect("write");
        assert_eq!(
            std::fs::read(tmp.path().join("data/db1/sub/t.ibd")).expect("read"),
            b"hello"
        );
        let names: Vec<_> = dd.list(Some(&rel("db1"))).expect("list");
        assert_eq!(names, vec![(OsString::from("sub"), DirEntryKind::Dir)]);
        dd.remove(&rel("db1")).expect("remove tree");
        assert!(!tmp.path().join("data/db1").exists());
        assert!(
            dd.list(Some(&rel("db1")))
                .expect("missing is empty")
                .is_empty()
        );
    }

    #[test]
    fn symlinks_are_never_followed() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let outside = tmp.path().join("outside");
        std::fs::create_dir(&outside).expect("mkdir");
        std::fs::write(outside.join("victim"), b"keep").expect("write");
        let dd = DataDir::open(&tmp.path().join("data"), true).expect("open");
        // A directory symlink on the way: refused.
        symlink(&outside, tmp.path().join("data/db")).expect("symlink");
        let err = dd
            .open_file(&rel("db/victim"), 0o600, false)
            .expect_err("must refuse");
        assert!(format!("{err:#}").contains("symbolic link"), "{err:#}");
        assert!(dd.create_dir(&rel("db/x"), 0o700).is_err());
        assert!(dd.create_dir(&rel("db"), 0o700).is_err());
        // A symlink as the final component: replaced, target untouched.
        symlink(outside.join("victim"), tmp.path().join("data/f")).expect("symlink");
        dd.open_file(&rel("f"), 0o600, false)
            .expect("replaces the link");
        assert_eq!(
            std::fs::read(outside.join("victim")).expect("read"),
            b"keep"
        );
        // Removing a symlinked directory removes the link only.
        dd.remove(&rel("db")).expect("unlink");
        assert!(outside.join("victim").exists());
        assert!(!tmp.path().join("data/db").exists());
    }

    #[test]
    fn nothing_in_the_way_is_replaced_silently() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dd = DataDir::open(tmp.path(), false).expect("open");
        std::fs::create_dir_all(tmp.path().join("x/y")).expect("mkdir");
        let err = dd
            .open_file(&rel("x"), 0o600, false)
            .expect_err("directory in the way");
        assert!(format!("{err:#}").contains("Is a directory"), "{err:#}");
        std::fs::write(tmp.path().join("f"), b"data").expect("write");
        assert!(dd.create_dir(&rel("f"), 0o700).is_err(), "file in the way");
        assert!(
            dd.create_dir(&rel("f/sub"), 0o700).is_err(),
            "file on the way"
        );
        assert_eq!(std::fs::read(tmp.path().join("f")).expect("kept"), b"data");
    }
}
