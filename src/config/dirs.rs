//! Where this node keeps its files: the class directories, the system
//! tablespace's files and the binary logs, each resolved with the stock
//! scripts' precedence (explicit option > environment > mariadbd's own argv
//! in `--mysqld-args` > my.cnf > default) and shown with its source.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::Config;
use super::settings::Getenv;
use super::source::{Problem, Severity, Source, Value};
use crate::cli::{Args, Tail};

/// The binary log setup of this node (spec §5.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Binlog {
    /// Directory of the binlog files (absolute).
    pub(crate) dir: PathBuf,
    /// Base name of the files (`mysql-bin` of `mysql-bin.000001`).
    pub(crate) base: OsString,
    /// The index file (absolute).
    pub(crate) index: PathBuf,
    /// What precedes `/<file>` in index lines: `dirname` of the configured
    /// name, as the server wrote it (`.` for a bare name).
    pub(crate) index_prefix: OsString,
}

/// The four class directories: system tablespace, redo log, undo
/// tablespaces, Aria logs.
pub(super) struct ClassDirs {
    pub(super) sys: PathBuf,
    pub(super) redo: PathBuf,
    pub(super) undo: PathBuf,
    pub(super) aria: PathBuf,
}

/// Resolves the class directories, adding a row for each.
pub(super) fn class_dirs(
    args: &Args,
    tail: &Tail,
    env: Getenv<'_>,
    config: &Config,
    datadir: &Path,
    values: &mut Vec<Value>,
) -> ClassDirs {
    let mut dir = |explicit: &Option<OsString>,
                   var: Option<&str>,
                   tail_value: &Option<OsString>,
                   key: &str| {
        let dashed = key.replace('_', "-");
        let (value, source) = if let Some(value) = explicit {
            (Some(value.clone()), Source::Option(format!("--{dashed}")))
        } else if let Some((var, value)) = var.and_then(|v| Some((v, env(v)?))).filter(|(_, v)| {
            // The scripts test the variable with `-n`, then trim it.
            !v.as_bytes().trim_ascii().is_empty()
        }) {
            (Some(value), Source::Env(var.to_string()))
        } else if let Some(value) = tail_value {
            (
                Some(value.clone()),
                Source::ServerArgs(format!("--{dashed}")),
            )
        } else if let Some((value, origin)) = config.lookup("--mysqld", &dashed) {
            (Some(OsString::from(value)), Source::file(origin))
        } else {
            (None, Source::Derived("default (the datadir)".into()))
        };
        let path = special_dir(datadir, value.as_deref());
        values.push(Value::new(key, path.display().to_string(), source));
        path
    };
    ClassDirs {
        sys: dir(
            &args.innodb_data_home_dir,
            Some("INNODB_DATA_HOME_DIR"),
            &tail.innodb_data_home_dir,
            "innodb_data_home_dir",
        ),
        redo: dir(
            &args.innodb_log_group_home_dir,
            Some("INNODB_LOG_GROUP_HOME"),
            &tail.innodb_log_group_home_dir,
            "innodb_log_group_home_dir",
        ),
        undo: dir(
            &args.innodb_undo_directory,
            Some("INNODB_UNDO_DIR"),
            &tail.innodb_undo_directory,
            "innodb_undo_directory",
        ),
        aria: dir(
            &args.aria_log_dir_path,
            None,
            &tail.aria_log_dir_path,
            "aria_log_dir_path",
        ),
    }
}

/// The file names of `innodb_data_file_path`
/// (`ibdata1:12M;ibdata2:1G:autoextend`), adding its row; a name in a
/// subdirectory is left out, with a warning.
pub(super) fn data_files(
    tail: &Tail,
    config: &Config,
    values: &mut Vec<Value>,
    problems: &mut Vec<Problem>,
) -> Vec<OsString> {
    const KEY: &str = "innodb-data-file-path";
    let (spec, source) = match (&tail.innodb_data_file_path, config.lookup("--mysqld", KEY)) {
        (Some(value), _) => (
            value.to_string_lossy().into_owned(),
            Source::ServerArgs(format!("--{KEY}")),
        ),
        (None, Some((value, origin))) => (value, Source::file(origin)),
        (None, None) => ("ibdata1:12M:autoextend".to_string(), Source::Default),
    };
    let mut names = Vec::new();
    for name in spec
        .split(';')
        .filter_map(|part| part.split(':').next())
        .map(str::trim)
        .filter(|name| !name.is_empty())
    {
        if name.contains('/') {
            problems.push(Problem::new(
                "innodb_data_file_path",
                Severity::Warn,
                format!(
                    "innodb_data_file_path ({source}) names '{name}' in a subdirectory; \
                     only plain names in innodb_data_home_dir are transferred"
                ),
                format!("copy {name} to the joiner yourself, or move it into innodb_data_home_dir"),
            ));
        } else {
            names.push(OsString::from(name));
        }
    }
    values.push(Value::new("innodb_data_file_path", spec, source));
    names
}

/// `get_binlog` of the scripts: the binlog name and its index, adding the
/// `log_bin` row.
pub(super) fn binlog(
    args: &Args,
    tail: &Tail,
    config: &Config,
    datadir: &Path,
    values: &mut Vec<Value>,
) -> Option<Binlog> {
    let binlog = find_binlog(args, tail, config, datadir);
    let source = if args.binlog.is_some() {
        Source::Option("--binlog".into())
    } else if tail.log_bin.is_some() {
        Source::ServerArgs("--log-bin".into())
    } else {
        ["log-bin", "log-basename", "log-bin-index"]
            .iter()
            .find_map(|key| config.origin_of("--mysqld", key))
            .map_or(
                if binlog.is_some() {
                    Source::SomeFile
                } else {
                    Source::Default
                },
                |origin| Source::File(origin.clone()),
            )
    };
    let shown = match &binlog {
        Some(binlog) => format!(
            "{}/{}.*, index {}",
            binlog.dir.display(),
            binlog.base.to_string_lossy(),
            binlog.index.display()
        ),
        None => "off".to_string(),
    };
    values.push(Value::new("log_bin", shown, source));
    binlog
}

fn find_binlog(args: &Args, tail: &Tail, config: &Config, datadir: &Path) -> Option<Binlog> {
    let basename = args
        .log_basename
        .clone()
        .or_else(|| tail.log_basename.clone())
        .or_else(|| config.get("--mysqld", "log-basename").map(OsString::from));
    let bare_log_bin = matches!(tail.log_bin, Some(None)) || config.present("--mysqld", "log-bin");
    let name = args
        .binlog
        .clone()
        .or_else(|| tail.log_bin.clone().flatten())
        .or_else(|| config.get("--mysqld", "log-bin").map(OsString::from))
        .or_else(|| {
            bare_log_bin.then(|| match &basename {
                Some(base) => with_suffix(base, "-bin"),
                None => OsString::from("mysql-bin"),
            })
        })?;
    let index = args
        .binlog_index
        .clone()
        .or_else(|| tail.log_bin_index.clone())
        .or_else(|| config.get("--mysqld", "log-bin-index").map(OsString::from));
    let index = match index {
        Some(index) if !Path::new(&index).file_name()?.as_bytes().contains(&b'.') => {
            with_suffix(&index, ".index")
        }
        Some(index) => index,
        None => match &basename {
            Some(base) => with_suffix(base, "-bin.index"),
            None => with_suffix(&name, ".index"),
        },
    };
    let name_path = Path::new(&name);
    let prefix = match name_path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.as_os_str().to_os_string(),
        _ => OsString::from("."),
    };
    Some(Binlog {
        dir: special_dir(datadir, Some(&prefix)),
        base: name_path.file_name()?.to_os_string(),
        index: datadir.join(&index),
        index_prefix: prefix,
    })
}

/// The directories a binlog setup writes into (of its files and of its
/// index), which the walk of the datadir must not send as databases.
pub(super) fn binlog_dirs(binlog: Option<&Binlog>) -> Vec<PathBuf> {
    binlog
        .iter()
        .flat_map(|b| {
            [
                b.dir.clone(),
                b.index.parent().map(Path::to_path_buf).unwrap_or_default(),
            ]
        })
        .collect()
}

/// A configured directory: trimmed, trailing slashes dropped, relative to
/// the datadir; empty or `.` is the datadir itself.
fn special_dir(datadir: &Path, value: Option<&OsStr>) -> PathBuf {
    let Some(value) = value else {
        return datadir.to_path_buf();
    };
    let mut bytes = value.as_bytes().trim_ascii();
    while bytes.len() > 1 && bytes.ends_with(b"/") {
        bytes = &bytes[..bytes.len() - 1];
    }
    if bytes.is_empty() || bytes == b"." {
        return datadir.to_path_buf();
    }
    datadir.join(OsStr::from_bytes(bytes))
}

fn with_suffix(base: &OsStr, suffix: &str) -> OsString {
    let mut out = base.to_os_string();
    out.push(suffix);
    out
}
