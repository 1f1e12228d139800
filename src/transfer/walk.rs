//! The donor's walk: the files of each class, as the rsync method picks
//! them (spec §5.3), from this node's own directories.
//!
//! Symlinks are followed on the donor (`find -L` did so for database
//! directories; for files it means a table whose data lives elsewhere
//! arrives as a real file), with a guard against directory cycles. The
//! joiner never receives a symlink.

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::Metadata;
use std::io::ErrorKind;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::Layout;
use crate::fsutil::RelPath;
use crate::protocol::Class;

/// One thing to send.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) class: Class,
    pub(crate) path: RelPath,
    pub(crate) mode: u32,
    pub(crate) kind: EntryKind,
}

/// A directory to create, or a file to copy from `source`.
#[derive(Debug, Clone)]
pub(crate) enum EntryKind {
    Dir,
    File { source: PathBuf, size: u64 },
}

/// Deepest directory nesting followed (symlink loops end here at worst).
const MAX_DEPTH: usize = 64;

/// Everything to send: the flat classes, then the database directories,
/// then the given binlog files (flattened to their base names).
pub(crate) fn walk(layout: &Layout, binlogs: &[PathBuf]) -> Result<Vec<Entry>> {
    let mut out = Vec::new();
    for class in [
        Class::SysTablespace,
        Class::Redo,
        Class::Undo,
        Class::AriaLog,
    ] {
        let root = layout.root(class);
        for (name, meta, path) in list_sorted(&root)? {
            if meta.is_file() && layout.is_member(class, &name) {
                push_file(&mut out, class, RelPath::name(&name), path, &meta);
            }
        }
    }
    let mut seen = HashSet::new();
    for (name, meta, path) in list_sorted(&layout.datadir)? {
        if meta.is_dir() && !layout.is_excluded(&name) {
            if let Some(rel) = checked(RelPath::name(&name), &path) {
                walk_database(&mut out, &rel, &path, &meta, &mut seen, 0)?;
            }
        }
    }
    let mut names = HashSet::new();
    for path in binlogs {
        let Some(name) = path.file_name() else {
            continue;
        };
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_file() && names.insert(name.to_os_string()) => {
                push_file(
                    &mut out,
                    Class::Binlog,
                    RelPath::name(name),
                    path.clone(),
                    &meta,
                );
            }
            Ok(_) => log::warn!("skipping binlog {}: not a regular file", path.display()),
            Err(e) => log::warn!("skipping binlog {}: {e}", path.display()),
        }
    }
    Ok(out)
}

/// A database directory and everything below it.
fn walk_database(
    out: &mut Vec<Entry>,
    rel: &RelPath,
    path: &Path,
    meta: &Metadata,
    seen: &mut HashSet<(u64, u64)>,
    depth: usize,
) -> Result<()> {
    if depth >= MAX_DEPTH || !seen.insert((meta.dev(), meta.ino())) {
        log::warn!(
            "skipping {}: directory loop through symbolic links",
            path.display()
        );
        return Ok(());
    }
    out.push(Entry {
        class: Class::Data,
        path: rel.clone(),
        mode: meta.permissions().mode() & 0o777,
        kind: EntryKind::Dir,
    });
    for (name, child_meta, child) in list_sorted(path)? {
        let Some(child_rel) = checked(rel.join(&name), &child) else {
            continue;
        };
        if child_meta.is_dir() {
            walk_database(out, &child_rel, &child, &child_meta, seen, depth + 1)?;
        } else if child_meta.is_file() {
            out.push(file_entry(Class::Data, child_rel, child, &child_meta));
        } else {
            log::warn!("skipping {}: not a regular file", child.display());
        }
    }
    Ok(())
}

fn push_file(
    out: &mut Vec<Entry>,
    class: Class,
    rel: Result<RelPath>,
    path: PathBuf,
    meta: &Metadata,
) {
    if let Some(rel) = checked(rel, &path) {
        out.push(file_entry(class, rel, path, meta));
    }
}

fn file_entry(class: Class, path: RelPath, source: PathBuf, meta: &Metadata) -> Entry {
    Entry {
        class,
        path,
        mode: meta.permissions().mode() & 0o777,
        kind: EntryKind::File {
            source,
            size: meta.len(),
        },
    }
}

/// A name the joiner would refuse is skipped here, loudly.
fn checked(rel: Result<RelPath>, path: &Path) -> Option<RelPath> {
    match rel {
        Ok(rel) => Some(rel),
        Err(e) => {
            log::warn!("skipping {}: {e:#}", path.display());
            None
        }
    }
}

/// Entries of a directory, sorted, with metadata that follows symlinks.
/// A missing directory is empty; entries that vanish or dangle are skipped.
fn list_sorted(dir: &Path) -> Result<Vec<(OsString, Metadata, PathBuf)>> {
    let reader = match std::fs::read_dir(dir) {
        Ok(r) => r,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("listing {}", dir.display())),
    };
    let mut out = Vec::new();
    for entry in reader {
        let entry = entry.with_context(|| format!("listing {}", dir.display()))?;
        let path = entry.path();
        match std::fs::metadata(&path) {
            Ok(meta) => out.push((entry.file_name(), meta, path)),
            Err(e) if e.kind() == ErrorKind::NotFound => {
                log::debug!("skipping {}: vanished or dangling link", path.display());
            }
            Err(e) => return Err(e).with_context(|| format!("examining {}", path.display())),
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn names(entries: &[Entry]) -> Vec<String> {
        entries
            .iter()
            .map(|e| {
                let kind = match e.kind {
                    EntryKind::Dir => "/",
                    EntryKind::File { .. } => "",
                };
                format!("{:?}:{}{kind}", e.class, e.path)
            })
            .collect()
    }

    #[test]
    fn picks_the_rsync_file_set() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let d = tmp.path().join("data");
        let redo = tmp.path().join("data/redo");
        for dir in [
            "data/db1/sub",
            "data/db@0020x",
            "data/lost+found",
            "data/redo",
            "ext",
        ] {
            std::fs::create_dir_all(tmp.path().join(dir)).expect("mkdir");
        }
        for file in [
            "data/ibdata1",
            "data/ib_buffer_pool",
            "data/grastate.dat",
            "data/galera.cache",
            "data/undo001",
            "data/aria_log_control",
            "data/aria_log.00000001",
            "data/mysql-bin.000001",
            "data/ib_logfile0",
            "data/redo/ib_logfile0",
            "data/db1/t.ibd",
            "data/db1/sub/x",
            "data/lost+found/junk",
            "ext/t2.MYD",
        ] {
            std::fs::write(tmp.path().join(file), file).expect("write");
        }
        symlink(tmp.path().join("ext/t2.MYD"), d.join("db1/t2.MYD")).expect("link");
        symlink(d.join("db1"), d.join("db1/sub/loop")).expect("loop");
        symlink(tmp.path().join("nowhere"), d.join("db1/dangling")).expect("dangling");
        let layout = Layout::new(
            d.clone(),
            d.clone(),
            redo,
            d.clone(),
            d.clone(),
            vec![],
            &[],
        );
        let entries = walk(
            &layout,
            &[d.join("mysql-bin.000001"), d.join("missing.000002")],
        )
        .expect("walk");
        assert_eq!(
            names(&entries),
            [
                "SysTablespace:ibdata1",
                "Redo:ib_logfile0",
                "Undo:undo001",
                "AriaLog:aria_log.00000001",
                "AriaLog:aria_log_control",
                "Data:db1/",
                "Data:db1/sub/",
                "Data:db1/sub/x",
                "Data:db1/t.ibd",
                "Data:db1/t2.MYD",
                "Data:db@0020x/",
                "Binlog:mysql-bin.000001",
            ]
        );
        let redo_entry = &entries[1];
        match &redo_entry.kind {
            EntryKind::File { source, .. } => assert!(source.ends_with("redo/ib_logfile0")),
            EntryKind::Dir => panic!("redo log is a file"),
        }
    }
}
