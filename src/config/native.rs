//! The native reader's walk over option files: which files, in which
//! order, and how `!include`/`!includedir` nest, following mysys
//! (`my_search_option_files`, MariaDB 10.11) as observed with
//! `my_print_defaults`:
//!
//! - `--defaults-file=F`: only F (an `--defaults-extra-file` is then
//!   ignored). Otherwise `/etc/my.cnf`, `/etc/mysql/my.cnf`,
//!   `$MYSQL_HOME/my.cnf` (if set), the `--defaults-extra-file`, then
//!   `~/.my.cnf`; a directory listed twice keeps only its last place.
//!   `~/` means `$HOME/` (kept literally when `HOME` is unset, as mysys does).
//! - A missing `--defaults-file`/`--defaults-extra-file` is an error; any
//!   other missing file, and a missing `!include` file, is skipped.
//! - World-writable regular files are ignored with a warning; a directory
//!   reads as an empty file.
//! - `!include` paths and the files are opened relative to the current
//!   directory (not the including file's), `~/` expanded; `!includedir`
//!   reads the `*.cnf` entries of the directory, byte-sorted, hidden ones
//!   included. An included file starts with no group; after it, the
//!   including file goes on in its own group.
//! - Nesting stops at depth 10: deeper `!` lines are skipped with a
//!   warning. A cycle is therefore read over and over up to that depth, as
//!   mysys does; the byte and file budgets below keep that bounded.
//! - An error in a top-level file is fatal; in an included file it is
//!   reported and the options read before it are kept.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use super::mycnf::{self, Item};
use super::{DefaultsOptions, Env};

/// mysys' `max_recursion_level`: files at this depth are read, their
/// `!` lines skipped.
pub(crate) const MAX_INCLUDE_DEPTH: usize = 10;

/// Bounds on one whole read, far above any real configuration; they only
/// stop include cycles and bombs (mysys has none).
const MAX_TOTAL_BYTES: u64 = 64 << 20;
const MAX_FILES: usize = 4096;
const MAX_DIR_ENTRIES: usize = 10_000;

/// One option with the group it came from, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) group: String,
    pub(crate) option: String,
}

/// Reads every option of every group from the files `opts` selects.
pub(crate) fn read_options(opts: &DefaultsOptions, env: &Env) -> anyhow::Result<Vec<Entry>> {
    let mut walk = Walk::new(env);
    match &opts.file {
        Some(file) => walk.required(file, "--defaults-file")?,
        None => {
            for source in default_sources(opts.extra_file.as_deref(), env) {
                match source {
                    Source::Default(path) => walk.top(&path)?,
                    Source::Extra(path) => walk.required(&path, "--defaults-extra-file")?,
                }
            }
        }
    }
    Ok(walk.entries)
}

/// Parses one in-memory top-level file (its includes are read from disk).
#[cfg(test)]
pub(crate) fn read_bytes(data: &[u8], name: &Path, env: &Env) -> anyhow::Result<Vec<Entry>> {
    let mut walk = Walk::new(env);
    match walk.contents(data, name, 0)? {
        Status::Broken(err) => Err(err),
        Status::Read | Status::Missing => Ok(walk.entries),
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Source {
    Default(PathBuf),
    Extra(PathBuf),
}

/// The default file list, in mysys' order.
fn default_sources(extra: Option<&Path>, env: &Env) -> Vec<Source> {
    // `None` stands for the place of --defaults-extra-file.
    let mut dirs: Vec<Option<Vec<u8>>> = Vec::new();
    let mut add = |dir: Option<Vec<u8>>| {
        dirs.retain(|d| *d != dir);
        dirs.push(dir);
    };
    add(Some(b"/etc/".to_vec()));
    add(Some(b"/etc/mysql/".to_vec()));
    if let Some(home) = env.mysql_home.as_ref().filter(|h| !h.is_empty()) {
        let mut dir = home.as_bytes().to_vec();
        if !dir.ends_with(b"/") {
            dir.push(b'/');
        }
        add(Some(dir));
    }
    add(None);
    add(Some(b"~/".to_vec()));
    dirs.into_iter()
        .filter_map(|dir| match dir {
            Some(mut dir) => {
                // Files in a home directory are hidden: ~/.my.cnf.
                if dir.starts_with(b"~") {
                    dir.push(b'.');
                }
                dir.extend_from_slice(b"my.cnf");
                Some(Source::Default(PathBuf::from(OsString::from_vec(dir))))
            }
            None => extra.map(|e| Source::Extra(e.to_path_buf())),
        })
        .collect()
}

/// What reading one file gave.
#[derive(Debug)]
enum Status {
    Read,
    Missing,
    /// The file stopped at an error; the options before it were kept.
    Broken(anyhow::Error),
}

#[derive(Debug)]
struct Walk<'a> {
    env: &'a Env,
    entries: Vec<Entry>,
    files: usize,
    bytes: u64,
}

impl<'a> Walk<'a> {
    fn new(env: &'a Env) -> Self {
        Walk {
            env,
            entries: Vec::new(),
            files: 0,
            bytes: 0,
        }
    }

    /// A file named by a defaults option: it must exist.
    fn required(&mut self, path: &Path, option: &str) -> anyhow::Result<()> {
        // mysys expands an empty name to the current directory, which
        // then reads as an empty file.
        let path = if path.as_os_str().is_empty() {
            Path::new(".")
        } else {
            path
        };
        match self.file(path, 0)? {
            Status::Read => Ok(()),
            Status::Missing => bail!(
                "cannot open the defaults file {} given with {option} (my_print_defaults \
                 fails the same way): check that the file exists and is readable, or fix \
                 {option} in mariadbd's command line",
                path.display()
            ),
            Status::Broken(err) => Err(err),
        }
    }

    /// A file of the default list: skipped if missing.
    fn top(&mut self, path: &Path) -> anyhow::Result<()> {
        match self.file(path, 0)? {
            Status::Read | Status::Missing => Ok(()),
            Status::Broken(err) => Err(err),
        }
    }

    /// Reads one file at include depth `depth`. `Err` is fatal (a budget
    /// or a read failure); a parse error comes back as `Status::Broken`.
    fn file(&mut self, path: &Path, depth: usize) -> anyhow::Result<Status> {
        let path = expand_home(path, self.env);
        let Ok(meta) = fs::metadata(&path) else {
            return Ok(Status::Missing);
        };
        let kind = meta.file_type();
        if kind.is_file() && meta.permissions().mode() & 0o002 != 0 {
            log::warn!("world-writable config file '{}' is ignored", path.display());
            return Ok(Status::Read);
        }
        if kind.is_dir() {
            return Ok(Status::Read);
        }
        if kind.is_fifo() || kind.is_socket() {
            // mysys would block on it; nothing sensible is there to read.
            log::warn!("'{}' is not a file; ignoring it", path.display());
            return Ok(Status::Read);
        }
        let Ok(file) = fs::File::open(&path) else {
            return Ok(Status::Missing);
        };
        self.files += 1;
        if self.files > MAX_FILES {
            bail!(
                "more than {MAX_FILES} option files read (an include cycle?) at {}",
                path.display()
            );
        }
        let parsed = mycnf::parse(file, &path, depth < MAX_INCLUDE_DEPTH)?;
        self.parsed(parsed, &path, depth)
    }

    #[cfg(test)]
    fn contents(&mut self, data: &[u8], name: &Path, depth: usize) -> anyhow::Result<Status> {
        let parsed = mycnf::parse(data, name, depth < MAX_INCLUDE_DEPTH)?;
        self.parsed(parsed, name, depth)
    }

    fn parsed(
        &mut self,
        parsed: mycnf::Parsed,
        name: &Path,
        depth: usize,
    ) -> anyhow::Result<Status> {
        self.bytes += parsed.bytes as u64;
        if self.bytes > MAX_TOTAL_BYTES {
            bail!(
                "option files add up to more than {} MiB (an include cycle?) at {}",
                MAX_TOTAL_BYTES >> 20,
                name.display()
            );
        }
        for item in parsed.items {
            match item {
                Item::Option { group, option } => self.entries.push(Entry { group, option }),
                Item::Include { path, .. } => {
                    let path = PathBuf::from(OsString::from_vec(path));
                    self.included(&path, depth + 1)?;
                }
                Item::IncludeDir { path, line } => {
                    let dir = PathBuf::from(OsString::from_vec(path));
                    let names = match cnf_names(&dir) {
                        Ok(names) => names,
                        Err(err) => {
                            let err = err.context(format!(
                                "{}:{line}: reading the '!includedir' directory",
                                name.display()
                            ));
                            return Ok(Status::Broken(err));
                        }
                    };
                    for file in names {
                        self.included(&dir.join(file), depth + 1)?;
                    }
                }
            }
        }
        Ok(parsed.error.map_or(Status::Read, Status::Broken))
    }

    /// An included file: missing is fine, broken is only reported.
    fn included(&mut self, path: &Path, depth: usize) -> anyhow::Result<()> {
        if let Status::Broken(err) = self.file(path, depth)? {
            log::warn!("{err:#}; the rest of that file is ignored");
        }
        Ok(())
    }
}

/// The `*.cnf` names in `dir`, byte-sorted like mysys' `my_dir`.
fn cnf_names(dir: &Path) -> anyhow::Result<Vec<OsString>> {
    let mut names = Vec::new();
    let entries = fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))?;
    for (count, entry) in entries.enumerate() {
        if count >= MAX_DIR_ENTRIES {
            bail!("{} has more than {MAX_DIR_ENTRIES} entries", dir.display());
        }
        let name = entry
            .with_context(|| format!("listing {}", dir.display()))?
            .file_name();
        if name.as_bytes().ends_with(b".cnf") {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

/// mysys' `~/` and `~user/` expansion; anything else is returned as is.
fn expand_home(path: &Path, env: &Env) -> PathBuf {
    let bytes = path.as_os_str().as_bytes();
    let Some(rest) = bytes.strip_prefix(b"~") else {
        return path.to_path_buf();
    };
    let Some(slash) = rest.iter().position(|&b| b == b'/') else {
        return path.to_path_buf();
    };
    let (user, tail) = rest.split_at(slash);
    let home = if user.is_empty() {
        env.home.clone()
    } else {
        std::str::from_utf8(user)
            .ok()
            .and_then(|u| nix::unistd::User::from_name(u).ok().flatten())
            .map(|u| u.dir.into_os_string())
    };
    match home {
        Some(home) => {
            let mut full = home.into_vec();
            full.extend_from_slice(tail);
            PathBuf::from(OsStr::from_bytes(&full))
        }
        None => path.to_path_buf(),
    }
}
