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

/// One option with the group, file and line it came from, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) group: String,
    pub(crate) option: String,
    /// The file as it was opened (`~/` expanded).
    pub(crate) file: PathBuf,
    /// The line in that file, as mysys numbers lines in its messages.
    pub(crate) line: usize,
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
                Item::Option {
                    group,
                    option,
                    line,
                } => self.entries.push(Entry {
                    group,
                    option,
                    file: name.to_path_buf(),
                    line,
                }),
                Item::Include { path, line } => {
                    let path = PathBuf::from(OsString::from_vec(path));
                    self.included(&path, depth + 1, name, line)?;
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
                        self.included(&dir.join(file), depth + 1, name, line)?;
                    }
                }
            }
        }
        Ok(parsed.error.map_or(Status::Read, Status::Broken))
    }

    /// A file included from `from:line`: missing is fine, broken is only
    /// reported.
    fn included(
        &mut self,
        path: &Path,
        depth: usize,
        from: &Path,
        line: usize,
    ) -> anyhow::Result<()> {
        if let Status::Broken(err) = self.file(path, depth)? {
            log::warn!(
                "{err:#} (included from {}:{line}); the rest of that file is ignored",
                from.display()
            );
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

#[cfg(test)]
mod tests {
    use super::*;

    fn env(home: Option<&str>, mysql_home: Option<&str>) -> Env {
        Env {
            home: home.map(Into::into),
            mysql_home: mysql_home.map(Into::into),
            group_suffix: None,
        }
    }

    fn sources(extra: Option<&str>, mysql_home: Option<&str>) -> Vec<String> {
        default_sources(extra.map(Path::new), &env(None, mysql_home))
            .into_iter()
            .map(|s| match s {
                Source::Default(p) => p.display().to_string(),
                Source::Extra(p) => format!("extra:{}", p.display()),
            })
            .collect()
    }

    #[test]
    fn default_file_order() {
        let base = ["/etc/my.cnf", "/etc/mysql/my.cnf", "~/.my.cnf"];
        assert_eq!(sources(None, None), base);
        assert_eq!(sources(None, Some("")), base);
        assert_eq!(
            sources(Some("x.cnf"), Some("/h")),
            [
                "/etc/my.cnf",
                "/etc/mysql/my.cnf",
                "/h/my.cnf",
                "extra:x.cnf",
                "~/.my.cnf"
            ]
        );
        // A directory named again moves to its later place.
        assert_eq!(
            sources(None, Some("/etc")),
            ["/etc/mysql/my.cnf", "/etc/my.cnf", "~/.my.cnf"]
        );
        assert_eq!(sources(None, Some("/etc/mysql/")), base);
        assert_eq!(
            sources(Some("x.cnf"), Some("~")),
            [
                "/etc/my.cnf",
                "/etc/mysql/my.cnf",
                "extra:x.cnf",
                "~/.my.cnf"
            ]
        );
    }

    #[test]
    fn home_expansion() {
        let with_home = env(Some("/h"), None);
        let expand = |p: &str, e: &Env| expand_home(Path::new(p), e).display().to_string();
        assert_eq!(expand("~/.my.cnf", &with_home), "/h/.my.cnf");
        assert_eq!(expand("~/.my.cnf", &env(None, None)), "~/.my.cnf");
        assert_eq!(expand("~/.my.cnf", &env(Some(""), None)), "/.my.cnf");
        assert_eq!(expand("~root/x", &with_home), "/root/x");
        assert_eq!(
            expand("~no-such-user-here/x", &with_home),
            "~no-such-user-here/x"
        );
        assert_eq!(expand("~", &with_home), "~");
        assert_eq!(expand("/a/~/x", &with_home), "/a/~/x");
    }

    fn write(path: &Path, text: &str) {
        fs::write(path, text).expect("writing a test file");
        fs::set_permissions(path, fs::Permissions::from_mode(0o644)).expect("chmod 644");
    }

    fn read(file: &Path) -> anyhow::Result<Vec<String>> {
        let opts = DefaultsOptions {
            file: Some(file.to_path_buf()),
            ..DefaultsOptions::default()
        };
        let entries = read_options(&opts, &Env::default())?;
        Ok(entries
            .into_iter()
            .map(|e| format!("{}:{}", e.group, e.option))
            .collect())
    }

    #[test]
    fn includes_nest_and_keep_their_own_groups() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        fs::create_dir(d.join("conf.d")).expect("mkdir");
        write(&d.join("conf.d/b.cnf"), "[sst]\nb=1\n");
        write(&d.join("conf.d/A.cnf"), "[mysqld]\na=1\n");
        write(&d.join("conf.d/c.conf"), "[mysqld]\nnot=read\n");
        write(
            &d.join("conf.d/bad.cnf"),
            "[mysqld]\nkept=1\n[bad\nlost=1\n",
        );
        write(&d.join("inc.cnf"), "no=group\n");
        let main = d.join("my.cnf");
        let text = format!(
            "[galera]\n!includedir {0}/conf.d\nafter=1\n!include {0}/inc.cnf\n!include {0}/gone.cnf\nend=1\n",
            d.display()
        );
        write(&main, &text);
        assert_eq!(
            read(&main).expect("included errors are not fatal"),
            [
                "mysqld:--a=1",
                "sst:--b=1",
                "mysqld:--kept=1",
                "galera:--after=1",
                "galera:--end=1"
            ]
        );
    }

    #[test]
    fn required_files_must_exist() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("nope.cnf");
        let err = read(&missing).expect_err("missing --defaults-file");
        assert_eq!(
            err.to_string(),
            format!(
                "cannot open the defaults file {} given with --defaults-file (my_print_defaults \
                 fails the same way): check that the file exists and is readable, or fix \
                 --defaults-file in mariadbd's command line",
                missing.display()
            )
        );
        // An empty name is the current directory, which reads as nothing.
        assert_eq!(read(Path::new("")).expect("a directory").len(), 0);
    }

    #[test]
    fn include_bombs_and_special_files_are_bounded() {
        let dir = tempfile::tempdir().expect("tempdir");
        let bomb = dir.path().join("bomb.cnf");
        let line = format!("!include {}\n", bomb.display());
        write(&bomb, &format!("[mysqld]\nx=1\n{}", line.repeat(20)));
        let err = read(&bomb).expect_err("20^10 includes");
        assert!(
            err.to_string().contains("more than 4096 option files"),
            "{err:#}"
        );

        // A FIFO would block mysys forever; it is skipped.
        let fifo = dir.path().join("fifo.cnf");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).expect("mkfifo");
        let main = dir.path().join("main.cnf");
        write(
            &main,
            &format!("[mysqld]\n!include {}\ny=1\n", fifo.display()),
        );
        assert_eq!(read(&main).expect("fifo skipped"), ["mysqld:--y=1"]);

        // An endless device stops at the size limit.
        let err = read(Path::new("/dev/zero")).expect_err("too large");
        assert!(err.to_string().contains("larger than 16 MiB"), "{err:#}");
        assert_eq!(read(Path::new("/dev/null")).expect("empty").len(), 0);
    }
}
