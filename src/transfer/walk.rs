//! The donor's walk: the files of each class, as the rsync method picks
//! them (spec §5.3), from this node's own directories.
//!
//! Symlinks are followed on the donor (`find -L` did so for database
//! directories), with a guard against directory cycles. A table's file
//! outside the datadir (an InnoDB `.isl` names it, a MyISAM/Aria symlink
//! points to it) is sent as an `External` file with a `Link` entry for the
//! name in the database directory ([`super::external`]); a symlink to a file
//! inside the datadir arrives as a real file.

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::Metadata;
use std::io::ErrorKind;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, ensure};

use super::{Layout, external};
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

/// A directory to create, a file to copy from `source`, or a database
/// entry naming the `External` file `target` (an `.isl` file, or a
/// `symlink`).
#[derive(Debug, Clone)]
pub(crate) enum EntryKind {
    Dir,
    File { source: PathBuf, size: u64 },
    Link { target: RelPath, symlink: bool },
}

/// Deepest directory nesting followed (symlink loops end here at worst).
const MAX_DEPTH: usize = 64;

/// Everything to send: the flat classes, then the database directories
/// (with the files outside the datadir that their tables name), then the
/// given binlog files (flattened to their base names). `strict` (under the
/// lock): a table's file outside the datadir that cannot be read fails the
/// walk; otherwise (the server running: a table may be being dropped) it
/// is skipped with a warning, for the locked round to settle.
pub(crate) fn walk(layout: &Layout, binlogs: &[PathBuf], strict: bool) -> Result<Vec<Entry>> {
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
    let mut tree = Tree {
        out: &mut out,
        datadir: layout
            .datadir
            .canonicalize()
            .unwrap_or_else(|_| layout.datadir.clone()),
        seen: HashSet::new(),
        external: HashSet::new(),
        strict,
    };
    for (name, meta, path) in list_sorted(&layout.datadir)? {
        if meta.is_dir() && !layout.is_excluded(&name) {
            if let Some(rel) = checked(RelPath::name(&name), &path) {
                tree.database(&rel, &path, &meta, 0)?;
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

/// The walk of the database directories.
struct Tree<'a> {
    out: &'a mut Vec<Entry>,
    /// The datadir, resolved: a link into it is no file outside it.
    datadir: PathBuf,
    /// Directories walked (loops through symlinks end there).
    seen: HashSet<(u64, u64)>,
    /// `External` files listed (two links to one file send it once).
    external: HashSet<RelPath>,
    strict: bool,
}

impl Tree<'_> {
    /// A database directory and everything below it.
    fn database(
        &mut self,
        rel: &RelPath,
        path: &Path,
        meta: &Metadata,
        depth: usize,
    ) -> Result<()> {
        if depth >= MAX_DEPTH || !self.seen.insert((meta.dev(), meta.ino())) {
            log::warn!(
                "skipping {}: directory loop through symbolic links",
                path.display()
            );
            return Ok(());
        }
        self.out.push(Entry {
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
                self.database(&child_rel, &child, &child_meta, depth + 1)?;
            } else if child_meta.is_symlink() {
                let dangling = Err(anyhow::anyhow!(
                    "its target {} is missing",
                    std::fs::read_link(&child).unwrap_or_default().display()
                ));
                self.external(child_rel, &child, &child_meta, dangling, true)?;
            } else if !child_meta.is_file() {
                log::warn!("skipping {}: not a regular file", child.display());
            } else if external::is_isl(&name) {
                let target = external::read_isl(&child);
                self.external(child_rel, &child, &child_meta, target, false)?;
            } else if std::fs::symlink_metadata(&child).is_ok_and(|m| m.is_symlink()) {
                let target = std::fs::canonicalize(&child)
                    .with_context(|| format!("resolving the symbolic link {}", child.display()));
                self.external(child_rel, &child, &child_meta, target, true)?;
            } else {
                self.out
                    .push(file_entry(Class::Data, child_rel, child, &child_meta));
            }
        }
        Ok(())
    }

    /// A table's `.isl` file or symlink (`link`, at `path`) naming
    /// `target`: the file as `External` and the link, when the target is
    /// outside the datadir; the link's own file (an `.isl`) or the file it
    /// points to (a symlink) as a plain file when inside.
    fn external(
        &mut self,
        link: RelPath,
        path: &Path,
        meta: &Metadata,
        target: Result<PathBuf>,
        symlink: bool,
    ) -> Result<()> {
        let found = target.and_then(|target| {
            let target_meta = std::fs::metadata(&target)
                .with_context(|| format!("examining {}", target.display()))?;
            ensure!(
                target_meta.is_file(),
                "{} is not a regular file",
                target.display()
            );
            let resolved = target.canonicalize().unwrap_or_else(|_| target.clone());
            Ok((target, target_meta, resolved.starts_with(&self.datadir)))
        });
        let (target, target_meta, inside) = match found {
            Ok(found) => found,
            Err(e) if self.strict => {
                return Err(e.context(format!(
                    "{} names a table's file outside the datadir that cannot be read; \
                     the table would arrive without its data: make the file readable by \
                     the server's user, or drop or repair the table, and retry",
                    path.display()
                )));
            }
            Err(e) => {
                log::warn!(
                    "skipping {} for now (the locked round checks it again): {e:#}",
                    path.display()
                );
                return Ok(());
            }
        };
        if inside {
            self.out
                .push(file_entry(Class::Data, link, path.to_path_buf(), meta));
            return Ok(());
        }
        let name = external::wire_name(&target)?;
        if self.external.insert(name.clone()) {
            self.out.push(file_entry(
                Class::External,
                name.clone(),
                target,
                &target_meta,
            ));
        }
        self.out.push(Entry {
            class: Class::Data,
            path: link,
            mode: meta.permissions().mode() & 0o777,
            kind: EntryKind::Link {
                target: name,
                symlink,
            },
        });
        Ok(())
    }
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

/// Entries of a directory, sorted, with metadata that follows symlinks
/// (a dangling symlink's is its own). A missing directory is empty;
/// entries that vanish are skipped.
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
            // A dangling link stands as itself (a table's file outside
            // the datadir may be missing: that is the walk's to judge).
            Err(e) if e.kind() == ErrorKind::NotFound => match std::fs::symlink_metadata(&path) {
                Ok(meta) => out.push((entry.file_name(), meta, path)),
                Err(_) => log::debug!("skipping {}: vanished", path.display()),
            },
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
                let kind = match &e.kind {
                    EntryKind::Dir => "/".to_string(),
                    EntryKind::File { .. } => String::new(),
                    EntryKind::Link { target, symlink } => {
                        format!(" -> {target}{}", if *symlink { " (symlink)" } else { "" })
                    }
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
        symlink(d.join("db1/sub/x"), d.join("db1/inside.MYD")).expect("link inside");
        std::fs::write(tmp.path().join("ext/t3.ibd"), "t3").expect("write");
        let t3 = tmp.path().join("ext/t3.ibd");
        std::fs::write(d.join("db1/t3.isl"), t3.to_str().expect("utf-8")).expect("isl");
        let ext = tmp
            .path()
            .canonicalize()
            .expect("canonical")
            .join("ext")
            .to_str()
            .expect("utf-8")
            .trim_start_matches('/')
            .to_string();
        let tmp_wire = tmp.path().to_str().expect("utf-8").trim_start_matches('/');
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
            false,
        )
        .expect("walk");
        // Under the lock, the dangling link (a table's missing file) stops it.
        let strict = walk(&layout, &[], true).expect_err("strict walk");
        assert!(format!("{strict:#}").contains("db1/dangling"), "{strict:#}");
        assert_eq!(
            names(&entries),
            [
                "SysTablespace:ibdata1",
                "Redo:ib_logfile0",
                "Undo:undo001",
                "AriaLog:aria_log.00000001",
                "AriaLog:aria_log_control",
                "Data:db1/",
                "Data:db1/inside.MYD",
                "Data:db1/sub/",
                "Data:db1/sub/x",
                "Data:db1/t.ibd",
                &format!("External:{ext}/t2.MYD"),
                &format!("Data:db1/t2.MYD -> {ext}/t2.MYD (symlink)"),
                &format!("External:{tmp_wire}/ext/t3.ibd"),
                &format!("Data:db1/t3.isl -> {tmp_wire}/ext/t3.ibd"),
                "Data:db@0020x/",
                "Binlog:mysql-bin.000001",
            ]
        );
        let redo_entry = &entries[1];
        match &redo_entry.kind {
            EntryKind::File { source, .. } => assert!(source.ends_with("redo/ib_logfile0")),
            EntryKind::Dir | EntryKind::Link { .. } => panic!("redo log is a file"),
        }
    }
}
