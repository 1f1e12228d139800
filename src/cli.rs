//! The Galera options mariadbd passes to an SST method, parsed without IO.
//!
//! This is the first of the two argument stages (house style 13): argv in,
//! [`Args`] out, no environment, no files. `Settings::resolve` then combines
//! it with the environment and my.cnf. The contract is `sst-interface.md` §2;
//! the behaviour follows the option loop of the stock `wsrep_sst_common`,
//! deliberately more lenient where that loop dies (see "Differences" below).
//!
//! # Our own options
//!
//! mariadbd always sends `--opt value` (two argv elements, `sh` has already
//! removed its quotes); `--opt=value` is accepted too. A known option takes
//! the next element as its value *unconditionally*, as the script's
//! `$2; shift` does, even when that element looks like an option. An unknown
//! element is skipped alone, so a value that follows it is itself skipped
//! unless it is a known option. `--mysqld-args` ends our options: every
//! element after it is mariadbd's own argv, kept verbatim in
//! [`Args::mysqld_args`] and mined by [`parse_tail`].
//!
//! Values are trimmed of surrounding whitespace (`[[:space:]]`, as the
//! script's `trim_string`); directories also lose trailing slashes (`/` stays
//! `/`, as `trim_dir`). An empty value, or a value missing at the end of
//! argv, counts as not given: the script tests every value with `-z`/`-n`.
//! The exception is `--role`: given but empty is an unrecognised role.
//!
//! # Differences from `wsrep_sst_common` (all on purpose)
//!
//! - A repeated option: the last value wins. The script assigns most values
//!   with `readonly`, so under its `set -e` a repeat kills it.
//! - A known option with no value at the end of argv is "not given"; the
//!   script dies on `$2` under `set -u`.
//! - `--parent`, `--progress`, `--port` go through shell arithmetic
//!   (`$(( $2 ))`) there. We evaluate the literals that arithmetic accepts
//!   (decimal, `0x` hex, leading-`0` octal, a sign) and read anything else as
//!   0 instead of dying on `set -u` or a syntax error; one pair of quotes left
//!   over from an old server's `'1234'` is removed first.
//! - `--auth` (old servers; `(null)` meant empty) and the mysqldump-only
//!   options take their value and drop it; the script does not know `--auth`
//!   at all and would then look at its value as an option.
//! - `--opt=value` is accepted; the script only knows `--opt value`.
//! - Non-UTF-8 in `--address`, `--gtid`, `--gtid-domain-id` is an error
//!   (they are text we parse or echo to mariadbd); paths stay bytes.
//! - In the tail, an empty element is positional; the script's `${1#--}`
//!   test mistakes it for `--` and stops looking. A bare long option such
//!   as `--datadir` (no `=`) is ignored; the script reads it as empty and
//!   forgets an earlier `--datadir=`.
//! - Like the script, the tail does not understand `--skip-log-bin`,
//!   option-name abbreviations, or `--name value` for long options, all of
//!   which mariadbd itself accepts; M sends `--binlog` explicitly anyway.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::os::unix::ffi::{OsStrExt, OsStringExt};

/// Which side of the transfer this process is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Joiner,
    Donor,
}

/// The options mariadbd passed, trimmed but otherwise as given.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Args {
    /// `--role`; `None` when absent (the caller treats that as donor, as
    /// `wsrep_sst_common` does).
    pub(crate) role: Option<Role>,
    /// `--address`, trimmed; split into host, port and path by the caller.
    pub(crate) address: Option<String>,
    /// `--datadir`, trimmed, trailing slashes stripped; when absent, the
    /// datadir from the `--mysqld-args` tail (`--datadir=`, `-h`).
    pub(crate) datadir: Option<OsString>,
    pub(crate) defaults_file: Option<OsString>,
    pub(crate) defaults_extra_file: Option<OsString>,
    pub(crate) defaults_group_suffix: Option<OsString>,
    /// `--parent`, mariadbd's PID, by shell arithmetic: garbage reads as 0,
    /// a value outside `i32` too. Zero or negative is no PID to watch
    /// (`kill(-n)` would signal a process group).
    pub(crate) parent: Option<i32>,
    /// `--progress 1` (arithmetic value exactly 1, as the scripts test it).
    pub(crate) progress: bool,
    /// `--binlog` or its alias `--log-bin`.
    pub(crate) binlog: Option<OsString>,
    /// `--binlog-index` or its alias `--log-bin-index`.
    pub(crate) binlog_index: Option<OsString>,
    pub(crate) log_basename: Option<OsString>,
    /// `--gtid`, verbatim (trimmed), deliberately not validated.
    pub(crate) gtid: Option<String>,
    /// `--gtid-domain-id`, verbatim (trimmed).
    pub(crate) gtid_domain_id: Option<String>,
    /// `--bypass`: IST, transfer no data.
    pub(crate) bypass: bool,
    pub(crate) innodb_data_home_dir: Option<OsString>,
    pub(crate) innodb_log_group_home_dir: Option<OsString>,
    pub(crate) innodb_undo_directory: Option<OsString>,
    pub(crate) aria_log_dir_path: Option<OsString>,
    /// mysqldump's `--port`, as the decimal result of its shell arithmetic
    /// (`'4444'` → `4444`); the caller checks it against the address port
    /// by string comparison, as the script does.
    pub(crate) port: Option<String>,
    /// Everything after `--mysqld-args`, verbatim.
    pub(crate) mysqld_args: Vec<OsString>,
}

/// What the scripts reject while parsing; the caller maps both to exit 22.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CliError {
    /// `--role` other than `joiner`/`donor` (shown lossily if not UTF-8).
    UnrecognizedRole(String),
    /// A value we must handle as text (address, GTID) is not UTF-8.
    NotUtf8 { option: &'static str },
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // The script's wording, which operators may grep for.
            CliError::UnrecognizedRole(role) => write!(f, "Unrecognized role: '{role}'"),
            CliError::NotUtf8 { option } => write!(f, "the value of {option} is not valid UTF-8"),
        }
    }
}

impl std::error::Error for CliError {}

/// Where a known option's value goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Role,
    Address,
    Datadir,
    DefaultsFile,
    DefaultsExtraFile,
    DefaultsGroupSuffix,
    Parent,
    Progress,
    Binlog,
    BinlogIndex,
    LogBasename,
    Gtid,
    GtidDomainId,
    InnodbDataHomeDir,
    InnodbLogGroupHomeDir,
    InnodbUndoDirectory,
    AriaLogDirPath,
    Port,
    /// Known, takes a value, and the value is of no use to us.
    Dropped,
}

/// How an option name (the part before any `=`) is handled.
enum Kind {
    Value(Field),
    Bypass,
    MysqldArgs,
}

fn kind_of(name: &[u8]) -> Option<Kind> {
    let field = match name {
        b"--bypass" => return Some(Kind::Bypass),
        b"--mysqld-args" => return Some(Kind::MysqldArgs),
        b"--role" => Field::Role,
        b"--address" => Field::Address,
        b"--datadir" => Field::Datadir,
        b"--defaults-file" => Field::DefaultsFile,
        b"--defaults-extra-file" => Field::DefaultsExtraFile,
        b"--defaults-group-suffix" => Field::DefaultsGroupSuffix,
        b"--parent" => Field::Parent,
        b"--progress" => Field::Progress,
        b"--binlog" | b"--log-bin" => Field::Binlog,
        b"--binlog-index" | b"--log-bin-index" => Field::BinlogIndex,
        b"--log-basename" => Field::LogBasename,
        b"--gtid" => Field::Gtid,
        b"--gtid-domain-id" => Field::GtidDomainId,
        b"--innodb-data-home-dir" => Field::InnodbDataHomeDir,
        b"--innodb-log-group-home-dir" => Field::InnodbLogGroupHomeDir,
        b"--innodb-undo-directory" => Field::InnodbUndoDirectory,
        b"--aria-log-dir-path" => Field::AriaLogDirPath,
        b"--port" => Field::Port,
        // Sent by mariadbd or old servers, or meant for mysqldump; the
        // credentials ones must never end up anywhere, not even in Args.
        b"--local-port"
        | b"--socket"
        | b"--host"
        | b"--user"
        | b"--password"
        | b"--auth"
        | b"--innodb-buffer-pool-filename"
        | b"--innodb-buffer-pool-size" => Field::Dropped,
        _ => return None,
    };
    Some(Kind::Value(field))
}

/// The last raw value of each option, before trimming and conversion, so
/// that only the value that wins is ever judged.
#[derive(Default)]
struct Raw {
    role: Option<OsString>,
    address: Option<OsString>,
    datadir: Option<OsString>,
    defaults_file: Option<OsString>,
    defaults_extra_file: Option<OsString>,
    defaults_group_suffix: Option<OsString>,
    parent: Option<OsString>,
    progress: Option<OsString>,
    binlog: Option<OsString>,
    binlog_index: Option<OsString>,
    log_basename: Option<OsString>,
    gtid: Option<OsString>,
    gtid_domain_id: Option<OsString>,
    innodb_data_home_dir: Option<OsString>,
    innodb_log_group_home_dir: Option<OsString>,
    innodb_undo_directory: Option<OsString>,
    aria_log_dir_path: Option<OsString>,
    port: Option<OsString>,
    dropped: Option<OsString>,
}

impl Raw {
    fn slot(&mut self, field: Field) -> &mut Option<OsString> {
        match field {
            Field::Role => &mut self.role,
            Field::Address => &mut self.address,
            Field::Datadir => &mut self.datadir,
            Field::DefaultsFile => &mut self.defaults_file,
            Field::DefaultsExtraFile => &mut self.defaults_extra_file,
            Field::DefaultsGroupSuffix => &mut self.defaults_group_suffix,
            Field::Parent => &mut self.parent,
            Field::Progress => &mut self.progress,
            Field::Binlog => &mut self.binlog,
            Field::BinlogIndex => &mut self.binlog_index,
            Field::LogBasename => &mut self.log_basename,
            Field::Gtid => &mut self.gtid,
            Field::GtidDomainId => &mut self.gtid_domain_id,
            Field::InnodbDataHomeDir => &mut self.innodb_data_home_dir,
            Field::InnodbLogGroupHomeDir => &mut self.innodb_log_group_home_dir,
            Field::InnodbUndoDirectory => &mut self.innodb_undo_directory,
            Field::AriaLogDirPath => &mut self.aria_log_dir_path,
            Field::Port => &mut self.port,
            Field::Dropped => &mut self.dropped,
        }
    }
}

/// Parses mariadbd's arguments (without argv\[0\]).
pub(crate) fn parse<I: IntoIterator<Item = OsString>>(args: I) -> Result<Args, CliError> {
    let mut raw = Raw::default();
    let mut bypass = false;
    let mut mysqld_args = Vec::new();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let bytes = arg.as_bytes();
        let (name, inline) = match bytes.iter().position(|&b| b == b'=') {
            Some(eq) if bytes.starts_with(b"--") => (&bytes[..eq], Some(&bytes[eq + 1..])),
            _ => (bytes, None),
        };
        match (kind_of(name), inline) {
            (Some(Kind::Value(field)), Some(value)) => *raw.slot(field) = Some(os(value)),
            (Some(Kind::Value(field)), None) => {
                *raw.slot(field) = Some(args.next().unwrap_or_default());
            }
            (Some(Kind::Bypass), None) => bypass = true,
            (Some(Kind::MysqldArgs), None) => {
                mysqld_args = args.collect();
                break;
            }
            // Unknown, or a flag written with `=`: skip this element only.
            _ => {}
        }
    }

    let role = match raw.role {
        None => None,
        Some(value) => Some(match trim_string(value.as_bytes()) {
            b"joiner" => Role::Joiner,
            b"donor" => Role::Donor,
            other => return Err(CliError::UnrecognizedRole(lossy(other))),
        }),
    };
    let datadir = dir(raw.datadir).or_else(|| parse_tail(&mysqld_args).datadir);
    Ok(Args {
        role,
        address: text(raw.address, "--address")?,
        datadir,
        defaults_file: string(raw.defaults_file),
        defaults_extra_file: string(raw.defaults_extra_file),
        defaults_group_suffix: string(raw.defaults_group_suffix),
        parent: raw
            .parent
            .map(|v| i32::try_from(arithmetic(v.as_bytes())).unwrap_or(0)),
        progress: raw.progress.is_some_and(|v| arithmetic(v.as_bytes()) == 1),
        binlog: string(raw.binlog),
        binlog_index: string(raw.binlog_index),
        log_basename: string(raw.log_basename),
        gtid: text(raw.gtid, "--gtid")?,
        gtid_domain_id: text(raw.gtid_domain_id, "--gtid-domain-id")?,
        bypass,
        innodb_data_home_dir: dir(raw.innodb_data_home_dir),
        innodb_log_group_home_dir: dir(raw.innodb_log_group_home_dir),
        innodb_undo_directory: dir(raw.innodb_undo_directory),
        aria_log_dir_path: dir(raw.aria_log_dir_path),
        port: raw.port.map(|v| arithmetic(v.as_bytes()).to_string()),
        mysqld_args,
    })
}

/// Paths and names mined from mariadbd's own argv (the `--mysqld-args`
/// tail), spec §2.3. Each field is the last occurrence; an empty value
/// unsets, as in the script.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Tail {
    /// `--datadir=` or `-h DIR` / `-hDIR`, trailing slashes stripped.
    pub(crate) datadir: Option<OsString>,
    pub(crate) innodb_data_home_dir: Option<OsString>,
    pub(crate) innodb_log_group_home_dir: Option<OsString>,
    pub(crate) innodb_undo_directory: Option<OsString>,
    pub(crate) aria_log_dir_path: Option<OsString>,
    pub(crate) innodb_data_file_path: Option<OsString>,
    /// `Some(None)`: bare `--log-bin` or `--log-bin=` (binary logging on,
    /// default name, like mariadbd and the script); `Some(Some(name))`.
    pub(crate) log_bin: Option<Option<OsString>>,
    pub(crate) log_bin_index: Option<OsString>,
    pub(crate) log_basename: Option<OsString>,
}

/// Mines mariadbd's argv. Long options count only as `--name=value` (bare
/// `--log-bin` aside); the name is normalised (`_` → `-`, a leading
/// `--loose-` dropped). Short options are walked as the script walks them:
/// `?`, `a`, `s`, `v` take no value, any other letter takes the rest of the
/// element or else the next element unless that starts with `-`; `-h` is
/// the datadir. A lone `--` ends option processing. Options we do not need
/// (`--defaults-*`, `--user=`, `--port=`, `--socket=`, …) are ignored.
pub(crate) fn parse_tail(tail: &[OsString]) -> Tail {
    let mut out = Tail::default();
    let mut rest = tail.iter().map(|a| a.as_bytes());
    while let Some(arg) = rest.next() {
        if arg == b"--" {
            break;
        }
        if let Some(long) = arg.strip_prefix(b"--") {
            long_option(&mut out, long);
        } else if let Some(cluster) = arg.strip_prefix(b"-") {
            // `-` alone is a positional argument.
            let mut cluster = cluster;
            while let Some((&letter, after)) = cluster.split_first() {
                if matches!(letter, b'?' | b'a' | b's' | b'v') {
                    cluster = after;
                    continue;
                }
                let mut end_of_options = false;
                let value: &[u8] = if !after.is_empty() {
                    after
                } else {
                    // Look ahead without consuming, as the script's `$2`.
                    let mut ahead = rest.clone();
                    match ahead.next() {
                        Some(next) if !next.starts_with(b"-") => {
                            rest.next();
                            next
                        }
                        // `-h -- DIR`: the script takes DIR as the value and
                        // treats everything after it as positional.
                        Some(b"--") => {
                            rest.next();
                            end_of_options = true;
                            rest.next().unwrap_or_default()
                        }
                        _ => b"",
                    }
                };
                if letter == b'h' {
                    out.datadir = non_empty(trim_dir(value));
                }
                if end_of_options {
                    return out;
                }
                break;
            }
        }
        // Anything else is positional (or the value of an option we skip).
    }
    out
}

fn long_option(out: &mut Tail, long: &[u8]) {
    let (name, value) = match long.iter().position(|&b| b == b'=') {
        Some(eq) => (&long[..eq], Some(&long[eq + 1..])),
        None => (long, None),
    };
    let name: Vec<u8> = name
        .iter()
        .map(|&b| if b == b'_' { b'-' } else { b })
        .collect();
    let name = name.strip_prefix(b"loose-").unwrap_or(&name);
    let Some(value) = value else {
        if name == b"log-bin" {
            out.log_bin = Some(None);
        }
        return;
    };
    match name {
        b"datadir" => out.datadir = non_empty(trim_dir(value)),
        b"innodb-data-home-dir" => out.innodb_data_home_dir = non_empty(trim_dir(value)),
        b"innodb-log-group-home-dir" => {
            out.innodb_log_group_home_dir = non_empty(trim_dir(value));
        }
        b"innodb-undo-directory" => out.innodb_undo_directory = non_empty(trim_dir(value)),
        b"aria-log-dir-path" => out.aria_log_dir_path = non_empty(trim_dir(value)),
        b"innodb-data-file-path" => out.innodb_data_file_path = non_empty(trim_string(value)),
        b"log-bin" => out.log_bin = Some(non_empty(trim_string(value))),
        b"log-bin-index" => out.log_bin_index = non_empty(trim_string(value)),
        b"log-basename" => out.log_basename = non_empty(trim_string(value)),
        _ => {}
    }
}

/// `[[:space:]]` in the C locale.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// The script's `trim_string`.
fn trim_string(value: &[u8]) -> &[u8] {
    let start = value
        .iter()
        .position(|&b| !is_space(b))
        .unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|&b| !is_space(b))
        .map_or(start, |i| i + 1);
    value.get(start..end).unwrap_or_default()
}

/// The script's `trim_dir`: leading whitespace, then any trailing mix of
/// whitespace and slashes, goes; a value of only slashes becomes `/`.
fn trim_dir(value: &[u8]) -> &[u8] {
    let trimmed = trim_string(value);
    let end = trimmed
        .iter()
        .rposition(|&b| !is_space(b) && b != b'/')
        .map_or(0, |i| i + 1);
    if end == 0 && !trimmed.is_empty() {
        b"/"
    } else {
        trimmed.get(..end).unwrap_or_default()
    }
}

fn os(bytes: &[u8]) -> OsString {
    OsString::from_vec(bytes.to_vec())
}

fn non_empty(bytes: &[u8]) -> Option<OsString> {
    (!bytes.is_empty()).then(|| os(bytes))
}

fn lossy(bytes: &[u8]) -> String {
    OsStr::from_bytes(bytes).to_string_lossy().into_owned()
}

/// A plain value: trimmed, empty = not given.
fn string(raw: Option<OsString>) -> Option<OsString> {
    raw.and_then(|v| non_empty(trim_string(v.as_bytes())))
}

/// A directory: `trim_dir`, empty = not given.
fn dir(raw: Option<OsString>) -> Option<OsString> {
    raw.and_then(|v| non_empty(trim_dir(v.as_bytes())))
}

/// A value we handle as text: trimmed, empty = not given, UTF-8 required.
fn text(raw: Option<OsString>, option: &'static str) -> Result<Option<String>, CliError> {
    match string(raw) {
        None => Ok(None),
        Some(v) => v
            .into_string()
            .map(Some)
            .map_err(|_| CliError::NotUtf8 { option }),
    }
}

/// The integer `$(( value ))` gives for the literals shell arithmetic reads
/// (`[+-]`, then decimal, `0x` hex or leading-`0` octal, surrounded by
/// whitespace; empty is 0), after removing one pair of matching quotes left
/// over from an old server's `'1234'`. Anything else, overflow included,
/// is 0, where the script would die.
fn arithmetic(value: &[u8]) -> i64 {
    let v = match trim_string(value) {
        [q @ (b'\'' | b'"'), inner @ .., last] if q == last => trim_string(inner),
        v => v,
    };
    let (negative, digits) = match v {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, v),
    };
    let (radix, digits) = match digits {
        [b'0', b'x' | b'X', hex @ ..] => (16, hex),
        [b'0', octal @ ..] if !octal.is_empty() => (8, octal),
        _ => (10, digits),
    };
    if v.is_empty() {
        return 0;
    }
    let magnitude = std::str::from_utf8(digits)
        .ok()
        .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_hexdigit()))
        .and_then(|d| i64::from_str_radix(d, radix).ok());
    match magnitude {
        Some(m) if negative => -m,
        Some(m) => m,
        None => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Splits a command line the way `sh` does for the commands mariadbd
    /// builds: blanks separate words, `'…'` is literal, `"…"` honours `\`.
    fn sh(line: &str) -> Vec<OsString> {
        let mut words = Vec::new();
        let mut word: Option<String> = None;
        let mut chars = line.chars();
        while let Some(c) = chars.next() {
            match c {
                ' ' | '\t' | '\n' => words.extend(word.take().map(OsString::from)),
                '\'' => {
                    let w = word.get_or_insert_with(String::new);
                    w.extend(chars.by_ref().take_while(|&c| c != '\''));
                }
                '"' => {
                    let w = word.get_or_insert_with(String::new);
                    while let Some(c) = chars.next() {
                        match c {
                            '"' => break,
                            '\\' => w.extend(chars.next()),
                            c => w.push(c),
                        }
                    }
                }
                '\\' => word.get_or_insert_with(String::new).extend(chars.next()),
                c => word.get_or_insert_with(String::new).push(c),
            }
        }
        words.extend(word.map(OsString::from));
        words
    }

    fn argv(items: &[&str]) -> Vec<OsString> {
        items.iter().map(OsString::from).collect()
    }

    fn b(bytes: impl AsRef<[u8]>) -> OsString {
        os(bytes.as_ref())
    }

    fn o(s: &str) -> Option<OsString> {
        Some(OsString::from(s))
    }

    fn parsed(line: &str) -> Args {
        parse(sh(line)).expect("a valid command line parses")
    }

    fn tail(items: &[&str]) -> Tail {
        parse_tail(&argv(items))
    }

    #[test]
    fn the_test_splitter_unquotes_like_sh() {
        assert_eq!(
            sh(r#"--a 'x y' "p\"q" r\ s ''"#),
            argv(&["--a", "x y", "p\"q", "r s", ""])
        );
    }

    // §2.1, first real example, as the 10.11 format string renders it.
    #[test]
    fn joiner_10_11() {
        let args = parsed(
            "--role 'joiner' --address '10.0.0.2' --datadir '/var/lib/mysql/' \
             --parent 4242 --progress 0 --binlog 'mysql-bin' --mysqld-args \
             --wsrep_start_position=00000000-0000-0000-0000-000000000000:-1",
        );
        let expected = Args {
            role: Some(Role::Joiner),
            address: Some("10.0.0.2".into()),
            datadir: o("/var/lib/mysql"),
            parent: Some(4242),
            progress: false,
            binlog: o("mysql-bin"),
            mysqld_args: argv(&["--wsrep_start_position=00000000-0000-0000-0000-000000000000:-1"]),
            ..Args::default()
        };
        assert_eq!(args, expected);
    }

    // §2.1, second: an mtr joiner with a defaults file and a group suffix.
    #[test]
    fn mtr_joiner_with_defaults_file_and_group_suffix() {
        let args = parsed(
            "--role 'joiner' --address '127.0.0.1:16005' \
             --datadir '/dev/shm/var/mysqld.2/data/' \
             --defaults-file '/dev/shm/var/my.cnf' --defaults-group-suffix '.2' \
             --parent 77 --progress 0 --binlog 'mysqld-bin' \
             --binlog-index 'mysqld-bin.index' --mysqld-args \
             --defaults-group-suffix=.2 --defaults-file=/dev/shm/var/my.cnf \
             --log-output=file --loose-debug-sync-timeout=300 \
             --wsrep_start_position=00000000-0000-0000-0000-000000000000:-1",
        );
        let expected = Args {
            role: Some(Role::Joiner),
            address: Some("127.0.0.1:16005".into()),
            datadir: o("/dev/shm/var/mysqld.2/data"),
            defaults_file: o("/dev/shm/var/my.cnf"),
            defaults_group_suffix: o(".2"),
            parent: Some(77),
            binlog: o("mysqld-bin"),
            binlog_index: o("mysqld-bin.index"),
            mysqld_args: argv(&[
                "--defaults-group-suffix=.2",
                "--defaults-file=/dev/shm/var/my.cnf",
                "--log-output=file",
                "--loose-debug-sync-timeout=300",
                "--wsrep_start_position=00000000-0000-0000-0000-000000000000:-1",
            ]),
            ..Args::default()
        };
        assert_eq!(args, expected);
        // The defaults options in the tail are not ours to take.
        assert_eq!(parse_tail(&args.mysqld_args), Tail::default());
    }

    // §2.1, third: an IPv6 donor doing IST.
    #[test]
    fn ipv6_donor_with_bypass() {
        let args = parsed(
            "--role 'donor' --address '[::1]:16008/rsrsync_sst' --local-port 16000 \
             --socket '/dev/shm/var/tmp/mysqld.1.sock' --progress 0 \
             --datadir '/dev/shm/var/mysqld.1/data/' --defaults-file '/dev/shm/var/my.cnf' \
             --defaults-group-suffix '.1' \
             --gtid '6d1f5e0a-2f3b-11ef-9a4e-0242ac110002:42' --gtid-domain-id 0 \
             --binlog 'mysqld-bin' --bypass --mysqld-args \
             --defaults-group-suffix=.1 --defaults-file=/dev/shm/var/my.cnf --wsrep-new-cluster",
        );
        let expected = Args {
            role: Some(Role::Donor),
            address: Some("[::1]:16008/rsrsync_sst".into()),
            datadir: o("/dev/shm/var/mysqld.1/data"),
            defaults_file: o("/dev/shm/var/my.cnf"),
            defaults_group_suffix: o(".1"),
            gtid: Some("6d1f5e0a-2f3b-11ef-9a4e-0242ac110002:42".into()),
            gtid_domain_id: Some("0".into()),
            binlog: o("mysqld-bin"),
            bypass: true,
            mysqld_args: argv(&[
                "--defaults-group-suffix=.1",
                "--defaults-file=/dev/shm/var/my.cnf",
                "--wsrep-new-cluster",
            ]),
            ..Args::default()
        };
        assert_eq!(args, expected);
    }

    #[test]
    fn joiner_10_4_quoted_numbers_no_progress() {
        let args = parsed(
            "--role 'joiner' --address '10.0.0.2:4444' --datadir '/var/lib/mysql/' \
             --parent '1234' --mysqld-args --basedir=/usr",
        );
        assert_eq!(args.role, Some(Role::Joiner));
        assert_eq!(args.parent, Some(1234));
        assert!(!args.progress);
        assert_eq!(args.mysqld_args, argv(&["--basedir=/usr"]));
    }

    #[test]
    fn donor_10_4_without_local_port_and_10_5_with_it() {
        let v10_4 = parsed(
            "--role 'donor' --address '10.0.0.2:4444/rsync_sst' \
             --socket '/run/mysqld/mysqld.sock' --datadir '/var/lib/mysql/' \
             --gtid '6d1f5e0a-2f3b-11ef-9a4e-0242ac110002:7' --gtid-domain-id '0'",
        );
        let v10_5 = parsed(
            "--role 'donor' --address '10.0.0.2:4444/rsync_sst' --local-port '3306' \
             --socket '/run/mysqld/mysqld.sock' --datadir '/var/lib/mysql/' \
             --gtid '6d1f5e0a-2f3b-11ef-9a4e-0242ac110002:7' --gtid-domain-id '0'",
        );
        assert_eq!(v10_4, v10_5);
        assert_eq!(v10_4.role, Some(Role::Donor));
        assert_eq!(v10_4.gtid_domain_id.as_deref(), Some("0"));
        assert!(!v10_4.bypass && !v10_4.progress);
    }

    #[test]
    fn quote_leftovers_in_numbers_are_tolerated() {
        let args = parse(argv(&["--parent", "'1234'", "--progress", "\"1\""]))
            .expect("quoted numbers parse");
        assert_eq!(args.parent, Some(1234));
        assert!(args.progress);
        let args = parse(argv(&["--port", "'4444'"])).expect("quoted port parses");
        assert_eq!(args.port.as_deref(), Some("4444"));
    }

    #[test]
    fn auth_value_is_taken_and_dropped() {
        let args = parse(argv(&["--auth", "(null)", "--datadir", "/d"])).expect("parses");
        assert_eq!(
            args,
            Args {
                datadir: o("/d"),
                ..Args::default()
            }
        );
        // The value is consumed even when it looks like one of our options.
        let args = parse(argv(&["--auth", "--bypass"])).expect("parses");
        assert!(!args.bypass);
        let args = parse(argv(&["--user", "root", "--password", "--bypass"])).expect("parses");
        assert_eq!(args, Args::default());
    }

    #[test]
    fn missing_role_is_none_and_bad_roles_are_errors() {
        assert_eq!(parsed("--datadir /d").role, None);
        assert_eq!(parsed("--role donor").role, Some(Role::Donor));
        for bad in ["Joiner", "bogus", "", "   ", "joiner donor"] {
            assert_eq!(
                parse(argv(&["--role", bad])),
                Err(CliError::UnrecognizedRole(bad.trim().into())),
                "{bad:?}"
            );
        }
        // `--role` with its value missing is an empty role.
        assert_eq!(
            parse(argv(&["--datadir", "/d", "--role"])),
            Err(CliError::UnrecognizedRole(String::new()))
        );
        assert_eq!(
            CliError::UnrecognizedRole("bogus".into()).to_string(),
            "Unrecognized role: 'bogus'"
        );
        assert_eq!(
            parse(vec![b("--role"), b(b"jo\xffner")]),
            Err(CliError::UnrecognizedRole("jo\u{fffd}ner".into()))
        );
    }

    #[test]
    fn equals_form() {
        let args = parse(argv(&[
            "--role=joiner",
            "--address=10.0.0.2",
            "--datadir=/var/lib/mysql/",
            "--parent=42",
            "--progress=1",
            "--log-bin=mysql-bin",
            "--log-bin-index=mysql-bin.index",
            "--gtid=u:1",
            "--address= 10.0.0.3 ",
        ]))
        .expect("parses");
        let expected = Args {
            role: Some(Role::Joiner),
            address: Some("10.0.0.3".into()),
            datadir: o("/var/lib/mysql"),
            parent: Some(42),
            progress: true,
            binlog: o("mysql-bin"),
            binlog_index: o("mysql-bin.index"),
            gtid: Some("u:1".into()),
            ..Args::default()
        };
        assert_eq!(args, expected);
        // An `=` inside the value stays in the value.
        assert_eq!(parsed("--gtid=a=b").gtid.as_deref(), Some("a=b"));
        // Flags written with a value are unknown options.
        assert!(!parsed("--bypass=1").bypass);
        assert!(parsed("--mysqld-args=x --bypass").bypass);
    }

    #[test]
    fn repeated_options_last_wins() {
        let args = parsed(
            "--role joiner --role donor --datadir /a --datadir=/b/ \
             --binlog x --log-bin y --parent 1 --parent 2",
        );
        assert_eq!(args.role, Some(Role::Donor));
        assert_eq!(args.datadir, o("/b"));
        assert_eq!(args.binlog, o("y"));
        assert_eq!(args.parent, Some(2));
        // Only the value that wins is judged.
        assert_eq!(
            parsed("--role bogus --role joiner").role,
            Some(Role::Joiner)
        );
        assert_eq!(
            parse(vec![b("--address"), b(b"\xff"), b("--address"), b("h")])
                .expect("the bad value lost")
                .address
                .as_deref(),
            Some("h")
        );
        // An empty last value unsets.
        assert_eq!(
            parse(argv(&["--binlog", "x", "--binlog", ""]))
                .expect("parses")
                .binlog,
            None
        );
    }

    #[test]
    fn unknown_options_are_skipped_without_their_value() {
        // The value of an unknown option is skipped on its own...
        let args = parsed("--foo bar --datadir /d --wsrep-new-cluster 1 --progress 1");
        assert_eq!(
            args,
            Args {
                datadir: o("/d"),
                progress: true,
                ..Args::default()
            }
        );
        // ...unless it is one of ours, which then counts.
        let args = parsed("--host-name --bypass --local-socket --role joiner");
        assert!(args.bypass);
        assert_eq!(args.role, Some(Role::Joiner));
        assert!(parsed("-- --bypass -x --bypass -").bypass);
        assert!(!parsed("--foo=--bypass stray words").bypass);
        // Case and underscores matter for our own options, as in the script.
        assert_eq!(
            parsed("--ROLE donor --role_x joiner --data_dir /d"),
            Args::default()
        );
    }

    #[test]
    fn a_known_option_takes_the_next_element_whatever_it_is() {
        let args = parsed("--datadir --bypass --binlog --mysqld-args --role joiner");
        assert_eq!(args.datadir, o("--bypass"));
        assert!(!args.bypass);
        assert_eq!(args.binlog, o("--mysqld-args"));
        assert!(args.mysqld_args.is_empty());
        assert_eq!(args.role, Some(Role::Joiner));
    }

    #[test]
    fn values_are_trimmed() {
        let args = parse(argv(&[
            "--role",
            " joiner\t",
            "--address",
            "  10.0.0.2:4444 \n",
            "--datadir",
            " \t/var/lib/mysql/ \r\n",
            "--defaults-group-suffix",
            "\x0b.2\x0c",
            "--gtid",
            " u:1 ",
            "--gtid-domain-id",
            " 3 ",
            "--parent",
            " 9 ",
            "--progress",
            " 1\n",
            "--binlog",
            " mysql bin ",
        ]))
        .expect("parses");
        assert_eq!(args.role, Some(Role::Joiner));
        assert_eq!(args.address.as_deref(), Some("10.0.0.2:4444"));
        assert_eq!(args.datadir, o("/var/lib/mysql"));
        assert_eq!(args.defaults_group_suffix, o(".2"));
        assert_eq!(args.gtid.as_deref(), Some("u:1"));
        assert_eq!(args.gtid_domain_id.as_deref(), Some("3"));
        assert_eq!(args.parent, Some(9));
        assert!(args.progress);
        assert_eq!(args.binlog, o("mysql bin"));
        // Blank values are no values.
        let args = parse(argv(&[
            "--address",
            " ",
            "--gtid",
            "",
            "--defaults-file",
            "\t",
        ]))
        .expect("parses");
        assert_eq!(args, Args::default());
    }

    #[test]
    fn directories_lose_trailing_slashes() {
        let cases = [
            ("/var/lib/mysql/", "/var/lib/mysql"),
            ("/var/lib/mysql//", "/var/lib/mysql"),
            ("/var/lib/mysql/ / ", "/var/lib/mysql"),
            ("/", "/"),
            ("///", "/"),
            ("  /  ", "/"),
            ("data/", "data"),
            ("/a/b", "/a/b"),
            ("/a b/", "/a b"),
        ];
        for (given, want) in cases {
            let args = parse(argv(&[
                "--datadir",
                given,
                "--innodb-data-home-dir",
                given,
                "--innodb-log-group-home-dir",
                given,
                "--innodb-undo-directory",
                given,
                "--aria-log-dir-path",
                given,
            ]))
            .expect("parses");
            for got in [
                &args.datadir,
                &args.innodb_data_home_dir,
                &args.innodb_log_group_home_dir,
                &args.innodb_undo_directory,
                &args.aria_log_dir_path,
            ] {
                assert_eq!(got, &o(want), "{given:?}");
            }
        }
        // Not directories: slashes kept.
        let args = parsed("--defaults-file /etc/my.cnf.d/ --binlog /binlogs/");
        assert_eq!(args.defaults_file, o("/etc/my.cnf.d/"));
        assert_eq!(args.binlog, o("/binlogs/"));
    }

    #[test]
    fn missing_values_at_the_end() {
        assert_eq!(parsed("--datadir").datadir, None);
        assert_eq!(parsed("--datadir /d --datadir").datadir, None);
        assert_eq!(parsed("--parent").parent, Some(0));
        assert!(!parsed("--progress").progress);
        assert_eq!(parsed("--port").port.as_deref(), Some("0"));
        assert!(parsed("--bypass --auth").bypass);
    }

    #[test]
    fn shell_arithmetic() {
        let cases: [(&[u8], i64); 22] = [
            (b"4242", 4242),
            (b"0", 0),
            (b"'1234'", 1234),
            (b"\"7\"", 7),
            (b"' 8 '", 8),
            (b" 9 ", 9),
            (b"", 0),
            (b"  ", 0),
            (b"''", 0),
            (b"'", 0),
            (b"'12\"", 0),
            (b"abc", 0),
            (b"12abc", 0),
            (b"1+2", 0),
            (b"010", 8),
            (b"09", 0),
            (b"0x1f", 31),
            (b"0X1F", 31),
            (b"-5", -5),
            (b"+5", 5),
            (b"99999999999", 99_999_999_999),
            (b"99999999999999999999", 0),
        ];
        for (given, want) in cases {
            assert_eq!(arithmetic(given), want, "{:?}", lossy(given));
        }
        assert_eq!(arithmetic(b"\xff"), 0);
        assert_eq!(arithmetic(b"-"), 0);
        assert_eq!(arithmetic(b"0x"), 0);
    }

    #[test]
    fn numeric_options() {
        assert_eq!(parsed("--parent abc").parent, Some(0));
        assert_eq!(parsed("--parent -1").parent, Some(-1));
        // Outside i32 is no PID: 0.
        assert_eq!(parsed("--parent 99999999999").parent, Some(0));
        assert!(parsed("--progress 1").progress);
        assert!(!parsed("--progress 0").progress);
        assert!(!parsed("--progress 2").progress);
        assert!(parsed("--progress 01").progress);
        assert_eq!(parsed("--port 0x10").port.as_deref(), Some("16"));
        assert_eq!(parsed("--port garbage").port.as_deref(), Some("0"));
        assert_eq!(parsed("--port 4444").port.as_deref(), Some("4444"));
        assert_eq!(parsed("--local-port 1 --socket /s").port, None);
    }

    #[test]
    fn non_utf8_paths_are_kept_as_bytes() {
        let args = parse(vec![
            b("--datadir"),
            b(b"/data/\xff\xfe/"),
            b("--defaults-file"),
            b(b"/etc/\x80.cnf"),
            b("--binlog"),
            b(b"bin\xc3"),
            b(b"--unknown-\xff"),
            b(b"\xfe"),
            b("--mysqld-args"),
            b(b"--innodb-data-home-dir=/ib\xff/"),
            b(b"\xff"),
        ])
        .expect("paths may be any bytes");
        assert_eq!(args.datadir, Some(b(b"/data/\xff\xfe")));
        assert_eq!(args.defaults_file, Some(b(b"/etc/\x80.cnf")));
        assert_eq!(args.binlog, Some(b(b"bin\xc3")));
        assert_eq!(
            args.mysqld_args,
            vec![b(b"--innodb-data-home-dir=/ib\xff/"), b(b"\xff")]
        );
        assert_eq!(
            parse_tail(&args.mysqld_args).innodb_data_home_dir,
            Some(b(b"/ib\xff"))
        );
    }

    #[test]
    fn text_values_must_be_utf8() {
        for option in ["--address", "--gtid", "--gtid-domain-id"] {
            assert_eq!(
                parse(vec![b(option), b(b"10.0.0.\xff")]),
                Err(CliError::NotUtf8 { option }),
            );
        }
        assert_eq!(
            CliError::NotUtf8 {
                option: "--address"
            }
            .to_string(),
            "the value of --address is not valid UTF-8"
        );
    }

    #[test]
    fn the_tail_after_mysqld_args_is_verbatim() {
        let args = parsed(
            r#"--role joiner --mysqld-args --role donor --bypass -- "--init-file=/a b/c.sql" '' ' x '"#,
        );
        assert_eq!(args.role, Some(Role::Joiner));
        assert!(!args.bypass);
        assert_eq!(
            args.mysqld_args,
            argv(&[
                "--role",
                "donor",
                "--bypass",
                "--",
                "--init-file=/a b/c.sql",
                "",
                " x "
            ])
        );
        assert!(parsed("--role joiner --mysqld-args").mysqld_args.is_empty());
        assert!(parsed("--role joiner").mysqld_args.is_empty());
    }

    #[test]
    fn datadir_falls_back_to_the_tail() {
        let args = parsed(r#"--role joiner --mysqld-args "--datadir=/var/lib/my sql/""#);
        assert_eq!(args.datadir, o("/var/lib/my sql"));
        assert_eq!(parsed("--mysqld-args -h /t/").datadir, o("/t"));
        assert_eq!(parsed("--datadir ' ' --mysqld-args -h/t").datadir, o("/t"));
        // The explicit option wins, wherever it is.
        assert_eq!(
            parsed("--datadir /a --mysqld-args --datadir=/t").datadir,
            o("/a")
        );
        // Only the datadir is filled in; the rest is the caller's (env first).
        let args = parsed("--mysqld-args --innodb-data-home-dir=/i --log-bin=b");
        assert_eq!((args.innodb_data_home_dir, args.binlog), (None, None));
    }

    #[test]
    fn tail_long_options() {
        let t = tail(&[
            "--datadir=/d/",
            "--innodb-data-home-dir=/i/",
            "--innodb-log-group-home-dir=/l/",
            "--innodb-undo-directory=/u/",
            "--aria-log-dir-path=/a/",
            "--innodb-data-file-path=ibdata1:12M:autoextend",
            "--log-bin=/b/mysql-bin",
            "--log-bin-index=/b/mysql-bin.index",
            "--log-basename=node1",
        ]);
        let expected = Tail {
            datadir: o("/d"),
            innodb_data_home_dir: o("/i"),
            innodb_log_group_home_dir: o("/l"),
            innodb_undo_directory: o("/u"),
            aria_log_dir_path: o("/a"),
            innodb_data_file_path: o("ibdata1:12M:autoextend"),
            log_bin: Some(o("/b/mysql-bin")),
            log_bin_index: o("/b/mysql-bin.index"),
            log_basename: o("node1"),
        };
        assert_eq!(t, expected);
    }

    #[test]
    fn tail_names_are_normalised() {
        let t = tail(&[
            "--loose-innodb_data_home_dir=/i/",
            "--innodb_log_group_home_dir=/l",
            "--loose_innodb_undo_directory=/u",
            "--loose-loose-datadir=/x",
            "--log_bin",
            "--aria_log_dir_path=/a_b/",
        ]);
        assert_eq!(t.innodb_data_home_dir, o("/i"));
        assert_eq!(t.innodb_log_group_home_dir, o("/l"));
        assert_eq!(t.innodb_undo_directory, o("/u"));
        // Only one `--loose-` is removed, as in the script.
        assert_eq!(t.datadir, None);
        assert_eq!(t.log_bin, Some(None));
        // Underscores in the value stay.
        assert_eq!(t.aria_log_dir_path, o("/a_b"));
    }

    #[test]
    fn tail_log_bin_forms() {
        assert_eq!(tail(&[]).log_bin, None);
        assert_eq!(tail(&["--log-bin"]).log_bin, Some(None));
        assert_eq!(tail(&["--log-bin="]).log_bin, Some(None));
        assert_eq!(tail(&["--log-bin=  "]).log_bin, Some(None));
        assert_eq!(tail(&["--loose-log-bin"]).log_bin, Some(None));
        assert_eq!(
            tail(&["--log-bin= mysql-bin "]).log_bin,
            Some(o("mysql-bin"))
        );
        assert_eq!(tail(&["--log-bin=a", "--log-bin"]).log_bin, Some(None));
        assert_eq!(tail(&["--log-bin", "--log-bin=a"]).log_bin, Some(o("a")));
        // A separate value is not the option's (mariadbd's log-bin takes an
        // optional argument only with `=`).
        assert_eq!(tail(&["--log-bin", "name"]).log_bin, Some(None));
        // Turning it off is not understood, as in the script.
        assert_eq!(tail(&["--skip-log-bin"]).log_bin, None);
    }

    #[test]
    fn tail_last_occurrence_wins_and_empty_unsets() {
        let t = tail(&[
            "--datadir=/a",
            "-h",
            "/b",
            "--log-basename=x",
            "--log-basename=y",
        ]);
        assert_eq!((t.datadir, t.log_basename), (o("/b"), o("y")));
        let t = tail(&["-h/b", "--datadir=/a"]);
        assert_eq!(t.datadir, o("/a"));
        let t = tail(&["--datadir=/a", "--datadir="]);
        assert_eq!(t.datadir, None);
        let t = tail(&["--log-bin-index=i", "--log-bin-index= "]);
        assert_eq!(t.log_bin_index, None);
    }

    #[test]
    fn tail_only_takes_name_equals_value() {
        // `--datadir /x` is not recognised; `/x` is positional.
        assert_eq!(tail(&["--datadir", "/x"]), Tail::default());
        assert_eq!(tail(&["--datadir=/a", "--datadir", "/x"]).datadir, o("/a"));
        assert_eq!(tail(&["--innodb-data-home-dir"]), Tail::default());
    }

    #[test]
    fn tail_short_options() {
        assert_eq!(tail(&["-h", "/x/"]).datadir, o("/x"));
        assert_eq!(tail(&["-h/x/"]).datadir, o("/x"));
        assert_eq!(tail(&["-h", " /x "]).datadir, o("/x"));
        // Flags `?asv` may come first in a cluster.
        assert_eq!(tail(&["-ash/x"]).datadir, o("/x"));
        assert_eq!(tail(&["-vh", "/x"]).datadir, o("/x"));
        // Any other letter takes the rest of the cluster as its value.
        assert_eq!(tail(&["-uh/x"]).datadir, None);
        assert_eq!(
            tail(&["-P", "3306", "-u", "mysql", "-h", "/x"]).datadir,
            o("/x")
        );
        // A value consumed by `-u` is not looked at.
        assert_eq!(tail(&["-u", "--datadir=/x"]).datadir, o("/x"));
        assert_eq!(tail(&["-u", "-h/x"]).datadir, o("/x"));
        assert_eq!(tail(&["-C", "utf8", "--datadir=/x"]).datadir, o("/x"));
        // `-h` whose next element is an option has an empty value: unset.
        assert_eq!(tail(&["--datadir=/a", "-h", "--log-bin"]).datadir, None);
        assert_eq!(
            tail(&["--datadir=/a", "-h", "--log-bin"]).log_bin,
            Some(None)
        );
        assert_eq!(tail(&["--datadir=/a", "-h"]).datadir, None);
        // `-h -- DIR`: DIR is the value, and options end there.
        let t = tail(&["-h", "--", "/x/", "--log-bin"]);
        assert_eq!((t.datadir, t.log_bin), (o("/x"), None));
        assert_eq!(tail(&["-h", "--"]).datadir, None);
        // A lone `-` is positional.
        assert_eq!(tail(&["-", "--datadir=/x"]).datadir, o("/x"));
    }

    #[test]
    fn tail_double_dash_ends_options() {
        let t = tail(&[
            "--log-basename=n",
            "--",
            "--datadir=/x",
            "-h",
            "/y",
            "--log-bin",
        ]);
        assert_eq!(
            t,
            Tail {
                log_basename: o("n"),
                ..Tail::default()
            }
        );
        // An empty element is positional, not an end of options.
        assert_eq!(tail(&["", "--datadir=/x"]).datadir, o("/x"));
    }

    #[test]
    fn tail_ignores_what_is_not_ours() {
        let t = tail(&[
            "--defaults-file=/etc/my.cnf",
            "--defaults-extra-file=/etc/extra.cnf",
            "--defaults-group-suffix=.1",
            "--user=mysql",
            "--port=3306",
            "--socket=/run/mysqld/mysqld.sock",
            "--innodb-buffer-pool-size=1G",
            "--innodb-force-recovery=1",
            "--wsrep-new-cluster",
            "--wsrep_start_position=u:1",
            "positional",
            "--datadirx=/x",
            "--data=/x",
        ]);
        assert_eq!(t, Tail::default());
    }

    use crate::testutil::Rng;

    const TOKENS: &[&[u8]] = &[
        b"--role",
        b"--address",
        b"--datadir",
        b"--defaults-file",
        b"--defaults-extra-file",
        b"--defaults-group-suffix",
        b"--parent",
        b"--progress",
        b"--binlog",
        b"--log-bin",
        b"--binlog-index",
        b"--log-bin-index",
        b"--log-basename",
        b"--gtid",
        b"--gtid-domain-id",
        b"--bypass",
        b"--innodb-data-home-dir",
        b"--innodb-log-group-home-dir",
        b"--innodb-undo-directory",
        b"--aria-log-dir-path",
        b"--port",
        b"--auth",
        b"--user",
        b"--mysqld-args",
        b"--",
        b"-",
        b"-h",
        b"-hx",
        b"-ash",
        b"-u",
        b"--datadir=",
        b"--loose-log_bin",
        b"--log-bin=",
        b"--loose-",
        b"=",
        b"",
        b" ",
        b"'",
        b"\"",
        b"0x",
        b"010",
        b"99999999999999999999",
        b"\xff\xfe",
        b"(null)",
        b"joiner",
        b"donor",
        b"/",
        b"//",
        b" / ",
        b"-9223372036854775808",
        b"'1'",
    ];
    const ALPHABET: &[u8] = b"-=_/ \t'\"hHxX019a\xff\x80\xc3\x00";

    fn random_argv(rng: &mut Rng) -> Vec<OsString> {
        let len = rng.below(14);
        (0..len)
            .map(|_| {
                let mut word = Vec::new();
                for _ in 0..=rng.below(3) {
                    if rng.below(3) == 0 {
                        for _ in 0..rng.below(8) {
                            let byte = if rng.below(4) == 0 {
                                rng.next().to_le_bytes()[0]
                            } else {
                                ALPHABET[rng.below(ALPHABET.len())]
                            };
                            word.push(byte);
                        }
                    } else {
                        word.extend_from_slice(TOKENS[rng.below(TOKENS.len())]);
                    }
                }
                os(&word)
            })
            .collect()
    }

    fn assert_clean_dir(dir: &Option<OsString>, argv: &[OsString]) {
        if let Some(d) = dir {
            let d = d.as_bytes();
            assert!(!d.is_empty(), "{argv:?}");
            assert_eq!(trim_string(d), d, "{argv:?}");
            assert!(d == b"/" || !d.ends_with(b"/"), "{argv:?}");
        }
    }

    fn assert_clean(value: Option<&[u8]>, argv: &[OsString]) {
        if let Some(v) = value {
            assert!(!v.is_empty(), "{argv:?}");
            assert_eq!(trim_string(v), v, "{argv:?}");
        }
    }

    #[test]
    fn garbage_never_panics_and_keeps_the_invariants() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..50_000 {
            let argv = random_argv(&mut rng);
            let t = parse_tail(&argv);
            for d in [
                &t.datadir,
                &t.innodb_data_home_dir,
                &t.innodb_log_group_home_dir,
                &t.innodb_undo_directory,
                &t.aria_log_dir_path,
            ] {
                assert_clean_dir(d, &argv);
            }
            let Ok(args) = parse(argv.clone()) else {
                continue;
            };
            assert!(argv.ends_with(&args.mysqld_args), "{argv:?}");
            for d in [
                &args.datadir,
                &args.innodb_data_home_dir,
                &args.innodb_log_group_home_dir,
                &args.innodb_undo_directory,
                &args.aria_log_dir_path,
            ] {
                assert_clean_dir(d, &argv);
            }
            for v in [
                &args.defaults_file,
                &args.defaults_extra_file,
                &args.defaults_group_suffix,
                &args.binlog,
                &args.binlog_index,
                &args.log_basename,
            ] {
                assert_clean(v.as_ref().map(|v| v.as_bytes()), &argv);
            }
            for v in [&args.address, &args.gtid, &args.gtid_domain_id, &args.port] {
                assert_clean(v.as_ref().map(|v| v.as_bytes()), &argv);
            }
            // Deterministic: the same argv gives the same Args.
            assert_eq!(parse(argv.clone()).as_ref(), Ok(&args));
        }
    }
    /// The command lines real servers passed (captured by
    /// tests/versions/matrix.sh), one argv element per line after `# `
    /// header lines.
    #[test]
    fn argv_captured_from_real_servers() {
        let fixtures = [
            (
                "10.5-joiner",
                include_str!("../tests/fixtures/argv/10.5-joiner.txt"),
            ),
            (
                "10.5-donor",
                include_str!("../tests/fixtures/argv/10.5-donor.txt"),
            ),
            (
                "10.11-joiner",
                include_str!("../tests/fixtures/argv/10.11-joiner.txt"),
            ),
            (
                "10.11-donor",
                include_str!("../tests/fixtures/argv/10.11-donor.txt"),
            ),
            (
                "10.11-donor-ist",
                include_str!("../tests/fixtures/argv/10.11-donor-ist.txt"),
            ),
            (
                "11.8-joiner",
                include_str!("../tests/fixtures/argv/11.8-joiner.txt"),
            ),
            (
                "11.8-donor",
                include_str!("../tests/fixtures/argv/11.8-donor.txt"),
            ),
            (
                "11.8-donor-ist",
                include_str!("../tests/fixtures/argv/11.8-donor-ist.txt"),
            ),
        ];
        for (name, text) in fixtures {
            let argv: Vec<OsString> = text
                .lines()
                .filter(|l| !l.starts_with("# "))
                .map(OsString::from)
                .collect();
            let args = parse(argv.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
            let joiner = name.contains("joiner");
            let want_role = if joiner { Role::Joiner } else { Role::Donor };
            assert_eq!(args.role, Some(want_role), "{name}");
            assert!(args.address.is_some() && args.datadir.is_some(), "{name}");
            assert!(
                args.defaults_file.is_some() && args.defaults_group_suffix.is_some(),
                "{name}"
            );
            assert_eq!(
                args.binlog.as_deref(),
                Some(OsStr::new("mysqld-bin")),
                "{name}"
            );
            assert!(!args.progress, "{name}");
            if joiner {
                assert!(args.parent.is_some_and(|p| p > 0), "{name}");
            } else {
                assert!(
                    args.gtid.as_deref().is_some_and(|g| g.contains(':')),
                    "{name}"
                );
                assert_eq!(args.gtid_domain_id.as_deref(), Some("0"), "{name}");
                assert_eq!(args.bypass, name.ends_with("-ist"), "{name}");
            }
            let tail_at = argv
                .iter()
                .position(|a| a == "--mysqld-args")
                .expect("tail");
            assert_eq!(
                args.mysqld_args,
                argv[tail_at + 1..],
                "{name}: tail kept verbatim"
            );
            assert!(
                args.datadir
                    .as_ref()
                    .is_some_and(|d| !d.as_encoded_bytes().ends_with(b"/")),
                "{name}: trailing slash stripped"
            );
        }
    }
}
