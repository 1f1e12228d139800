//! Moving files: what belongs to the transfer (the rsync method's classes,
//! [`Layout`]), the donor's walk and sender, the joiner's receiver.
//!
//! Each side resolves its own directories; a file travels as (class,
//! path relative to the class directory), so the joiner places it under
//! its own directory for that class whatever the donor's layout is.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use crate::protocol::Class;

pub(crate) mod codec;
pub(crate) mod external;
pub(crate) mod manifest;
pub(crate) mod plan;
pub(crate) mod receive;
pub(crate) mod redo;
mod schedule;
pub(crate) mod send;
pub(crate) mod snapshot;
mod source;
mod stream;
pub(crate) mod walk;
mod window;

/// Bytes per block: the unit of hashing, of `Block` frames and of holes.
pub(crate) const BLOCK_SIZE: u32 = 1 << 20;

/// Most blocks per piece, the unit of work a data stream takes at a time,
/// so a big file is spread over every stream (fewer in a round that is
/// small for its streams: `schedule::piece_blocks`).
pub(crate) const PIECE_BLOCKS: u64 = 64;

/// The joiner's directory for received binlogs until they replace the old
/// ones; a name no database directory can have (MariaDB encodes '.').
pub(crate) const BINLOG_STAGING: &str = ".rsrsync_binlogs";

/// Top-level names that are never database directories (rsync's filter).
/// `#binlog_cache_files` is MariaDB 11.x's spill directory for binlog
/// caches: server scratch, never a database.
const NEVER_DATABASES: [&str; 6] = [
    "lost+found",
    ".zfs",
    ".snapshot",
    ".fseventsd",
    ".Trashes",
    "#binlog_cache_files",
];

/// Where each class lives on this node, and which names belong to it.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub(crate) datadir: PathBuf,
    pub(crate) sys: PathBuf,
    pub(crate) redo: PathBuf,
    pub(crate) undo: PathBuf,
    pub(crate) aria: PathBuf,
    /// System tablespace names from `innodb_data_file_path`.
    pub(crate) data_files: Vec<OsString>,
    /// Top-level names of the datadir that are not database directories:
    /// configured directories inside the datadir (MDEV-36677) and more.
    pub(crate) excluded: Vec<OsString>,
    /// Where tables' files outside the datadir may go (joiner).
    pub(crate) external: external::ExternalRules,
}

impl Layout {
    /// A layout; `inner_dirs` are further directories (binlog, index) that
    /// must not be mistaken for databases when inside the datadir.
    pub(crate) fn new(
        datadir: PathBuf,
        sys: PathBuf,
        redo: PathBuf,
        undo: PathBuf,
        aria: PathBuf,
        data_files: Vec<OsString>,
        inner_dirs: &[PathBuf],
    ) -> Layout {
        let mut excluded: Vec<OsString> = NEVER_DATABASES.iter().map(OsString::from).collect();
        excluded.push(BINLOG_STAGING.into());
        for dir in [&sys, &redo, &undo, &aria].into_iter().chain(inner_dirs) {
            if let Some(top) = top_component_inside(&datadir, dir) {
                if !excluded.contains(&top) {
                    excluded.push(top);
                }
            }
        }
        Layout {
            datadir,
            sys,
            redo,
            undo,
            aria,
            data_files,
            excluded,
            external: external::ExternalRules::default(),
        }
    }

    /// Tests: every class in `dir`, nothing more.
    #[cfg(test)]
    pub(crate) fn flat(dir: &Path) -> Layout {
        let d = dir.to_path_buf();
        Layout::new(d.clone(), d.clone(), d.clone(), d.clone(), d, vec![], &[])
    }

    /// The directory of a class on this node (`External` files have
    /// their own, per file: the datadir stands for them here).
    pub(crate) fn root(&self, class: Class) -> PathBuf {
        match class {
            Class::Data | Class::External => self.datadir.clone(),
            Class::SysTablespace => self.sys.clone(),
            Class::Redo => self.redo.clone(),
            Class::Undo => self.undo.clone(),
            Class::AriaLog => self.aria.clone(),
            Class::Binlog => self.datadir.join(BINLOG_STAGING),
        }
    }

    /// Whether a file name belongs to a flat class (rsync's filters).
    pub(crate) fn is_member(&self, class: Class, name: &OsStr) -> bool {
        let bytes = name.as_bytes();
        match class {
            Class::SysTablespace => {
                bytes.starts_with(b"ibdata")
                    || bytes == b"ib_lru_dump"
                    || self.data_files.iter().any(|f| f == name)
            }
            Class::Redo => bytes == b"ib_logfile0",
            Class::Undo => bytes.starts_with(b"undo"),
            Class::AriaLog => bytes == b"aria_log_control" || bytes.starts_with(b"aria_log."),
            Class::Binlog => true,
            Class::Data | Class::External => false,
        }
    }

    /// Whether a top-level datadir entry must never be a database.
    pub(crate) fn is_excluded(&self, name: &OsStr) -> bool {
        self.excluded.iter().any(|e| e == name)
    }
}

/// The first component of `dir` below `datadir`, when `dir` is strictly
/// inside it (compared after resolving what exists, lexically otherwise).
fn top_component_inside(datadir: &Path, dir: &Path) -> Option<OsString> {
    let base = normalize(datadir);
    let dir = normalize(dir);
    let rest = dir.strip_prefix(&base).ok()?;
    match rest.components().next()? {
        Component::Normal(name) => Some(name.to_os_string()),
        _ => None,
    }
}

fn normalize(path: &Path) -> PathBuf {
    if let Ok(real) = path.canonicalize() {
        return real;
    }
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(sys: &str, redo: &str, undo: &str, aria: &str, inner: &[&str]) -> Layout {
        let inner: Vec<PathBuf> = inner.iter().map(PathBuf::from).collect();
        Layout::new(
            "/nonexistent/data".into(),
            sys.into(),
            redo.into(),
            undo.into(),
            aria.into(),
            vec!["foobar".into()],
            &inner,
        )
    }

    /// Every path the protocol carries is one `RelPath` accepts by length,
    /// and no longer one.
    #[test]
    fn the_wire_and_the_filesystem_bound_paths_alike() {
        assert_eq!(crate::protocol::MAX_PATH, crate::fsutil::MAX_PATH);
    }

    #[test]
    fn configured_dirs_inside_the_datadir_are_not_databases() {
        let l = layout(
            "/nonexistent/data",
            "/nonexistent/data/redo",
            "/nonexistent/data/./undo/deep",
            "/elsewhere/aria",
            &["/nonexistent/data/binlogs", "/nonexistent/data"],
        );
        for name in ["redo", "undo", "binlogs", "lost+found", BINLOG_STAGING] {
            assert!(l.is_excluded(OsStr::new(name)), "{name}");
        }
        for name in ["mysql", "data", "aria", "test"] {
            assert!(!l.is_excluded(OsStr::new(name)), "{name}");
        }
    }

    #[test]
    fn class_members_follow_rsyncs_filters() {
        let l = layout("/a", "/a", "/a", "/a", &[]);
        let yes = [
            (Class::SysTablespace, "ibdata1"),
            (Class::SysTablespace, "ibdata2"),
            (Class::SysTablespace, "ib_lru_dump"),
            (Class::SysTablespace, "foobar"),
            (Class::Redo, "ib_logfile0"),
            (Class::Undo, "undo001"),
            (Class::AriaLog, "aria_log_control"),
            (Class::AriaLog, "aria_log.00000001"),
        ];
        let no = [
            (Class::SysTablespace, "ib_buffer_pool"),
            (Class::SysTablespace, "ibtmp1"),
            (Class::Redo, "ib_logfile1"),
            (Class::Undo, "grastate.dat"),
            (Class::AriaLog, "aria_log"),
            (Class::Data, "anything"),
        ];
        for (class, name) in yes {
            assert!(l.is_member(class, OsStr::new(name)), "{class:?} {name}");
        }
        for (class, name) in no {
            assert!(!l.is_member(class, OsStr::new(name)), "{class:?} {name}");
        }
    }
}
