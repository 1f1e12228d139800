//! my.cnf access: the options mariadbd reads, looked up the way the stock
//! SST scripts look them up (`parse_cnf` and `in_config` in
//! `wsrep_sst_common`).
//!
//! [`Config::load`] collects, in file order, the option lines of two group
//! sets: `--mysqld` (every group mariadbd reads, see [`server_groups`]) and
//! `sst`, each with its `--defaults-group-suffix` twins (`[mysqld.2]`,
//! `[sst.2]`). Two readers produce the same lines:
//!
//! - `my_print_defaults` ([`print_defaults`]), the server's own reader,
//!   used whenever it can be found, as the scripts do;
//! - a native reader ([`native`] walks the files, [`mycnf`] parses one),
//!   which reproduces it (tests compare the two on the same files).
//!
//! Lookups then follow the scripts: names compare after `_` → `-` and
//! after dropping a `--loose` prefix, the last occurrence in file order
//! wins within a group set (a suffixed group does not beat its base group;
//! the later line does), and an empty value counts as unset.
//!
//! On top of the reader sits the one resolver ([`Settings`], over `dirs`,
//! `knobs`, `rlimit` and `tls`): every value a role needs, each with its
//! [`Source`], and the [`Problem`]s found; `check` and `--dry-run` render
//! what it returns and derive nothing themselves.
//!
//! Where we knowingly differ:
//! - A value holding a newline (a `\n` escape) is kept whole; the scripts
//!   split `my_print_defaults` output into lines and keep its first line.
//! - The native reader, against mysys: it bounds what it reads (16 MiB a
//!   file, 64 MiB and 4096 files in all, 10 000 entries a directory) and
//!   skips FIFOs and sockets, where mysys would grow or block without end;
//!   it folds group-name case in ASCII only (mysys: latin1); and for a line
//!   of blanks then `=` (no name) it gives `--=value`, where mysys reads
//!   before its buffer and prints garbage that no lookup matches either.
//! - Bytes that are not UTF-8 become U+FFFD with both readers.

use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;

#[cfg(test)]
mod differential_tests;
mod dirs;
mod knobs;
mod mycnf;
mod native;
mod origin;
mod print_defaults;
pub(crate) mod rlimit;
mod settings;
pub(crate) mod source;
pub(crate) mod tls;

pub(crate) use dirs::Binlog;
pub(crate) use knobs::Streams;
pub(crate) use origin::{Origin, OriginStatus};
pub(crate) use settings::Settings;
pub(crate) use source::{Problem, Severity, Source, Value};

/// The server series whose version-named groups (`[mysqld-10.11]`,
/// `[mariadb-10.11]`, `[mariadbd-10.11]`) the native reader reads when it
/// has to stand in for `my_print_defaults`, which knows its own series.
const NATIVE_SERVER_VERSION: &str = "10.11";

/// The defaults options mariadbd passed on the SST command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct DefaultsOptions {
    /// `--defaults-file`
    pub(crate) file: Option<PathBuf>,
    /// `--defaults-extra-file`
    pub(crate) extra_file: Option<PathBuf>,
    /// `--defaults-group-suffix`
    pub(crate) group_suffix: Option<String>,
}

/// Which reader turns the option files into option lines.
#[derive(Debug)]
pub(crate) enum Reader {
    /// Run this `my_print_defaults`.
    PrintDefaults(PathBuf),
    /// Read the files ourselves, as the server of this series would.
    Native { server_version: String },
}

impl Reader {
    /// The native reader, reading as a server of [`NATIVE_SERVER_VERSION`].
    fn native() -> Reader {
        Reader::Native {
            server_version: NATIVE_SERVER_VERSION.to_owned(),
        }
    }
}

/// The environment variables option-file reading depends on, read once so
/// that both readers (and tests) see the same values.
#[derive(Debug, Clone, Default)]
struct Env {
    /// `HOME`, for `~/.my.cnf` and `~/` in paths.
    home: Option<OsString>,
    /// `MYSQL_HOME`, an extra default directory.
    mysql_home: Option<OsString>,
    /// `MYSQL_GROUP_SUFFIX`, used when no `--defaults-group-suffix` is given.
    group_suffix: Option<OsString>,
}

impl Env {
    fn from_process() -> Self {
        Env {
            home: std::env::var_os("HOME"),
            mysql_home: std::env::var_os("MYSQL_HOME"),
            group_suffix: std::env::var_os("MYSQL_GROUP_SUFFIX"),
        }
    }
}

/// The option lines (`--name=value` or `--name`, as `my_print_defaults`
/// prints them) of the `--mysqld` group set and of the `sst` group set,
/// and, when known, the file, line and group each came from (one origin
/// per line, or none at all: `my_print_defaults` does not say).
pub(crate) struct Config {
    mysqld: Vec<String>,
    sst: Vec<String>,
    mysqld_origins: Vec<Origin>,
    sst_origins: Vec<Origin>,
}

/// Which of the two group sets a lookup found its line in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Set {
    Mysqld,
    Sst,
}

/// Shows option names only: values can be secrets (`wsrep-sst-auth`,
/// `password`), and a `{:?}` must never put them in the error log.
impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = |lines: &[String]| -> Vec<String> {
            lines
                .iter()
                .map(|line| match line.split_once('=') {
                    Some((name, _)) => format!("{name}=…"),
                    None => line.clone(),
                })
                .collect()
        };
        f.debug_struct("Config")
            .field("mysqld", &names(&self.mysqld))
            .field("sst", &names(&self.sst))
            .finish()
    }
}

impl Config {
    /// Reads the configuration with `my_print_defaults` if it can be found
    /// (on `PATH`, else next to this executable), else natively; with the
    /// origin of each line when it can be known (see
    /// [`Config::load_traced`]), so that a message about a value names its
    /// line.
    pub(crate) fn load(opts: &DefaultsOptions) -> anyhow::Result<Config> {
        let (config, trace) = Config::load_traced(opts)?;
        match trace.origins {
            OriginStatus::Native => log::info!("option files read with the {}", trace.reader),
            _ => log::debug!("option files read with {}", trace.reader),
        }
        Ok(config)
    }

    fn load_env(opts: &DefaultsOptions, reader: &Reader, env: &Env) -> anyhow::Result<Config> {
        match reader {
            Reader::PrintDefaults(program) => Ok(Config {
                mysqld: print_defaults::options(program, opts, env, "--mysqld")?,
                sst: print_defaults::options(program, opts, env, "sst")?,
                mysqld_origins: Vec::new(),
                sst_origins: Vec::new(),
            }),
            Reader::Native { server_version } => {
                let entries = native::read_options(opts, env)?;
                let suffix = group_suffix(opts, env);
                Ok(Config::select(&entries, server_version, suffix.as_deref()))
            }
        }
    }

    /// Parses one in-memory option file natively (includes are read from
    /// disk), for tests here and in other modules.
    #[cfg(test)]
    pub(crate) fn from_cnf_bytes(bytes: &[u8], suffix: Option<&str>) -> anyhow::Result<Config> {
        let env = Env::default();
        let entries = native::read_bytes(bytes, std::path::Path::new("<test my.cnf>"), &env)?;
        Ok(Config::select(&entries, NATIVE_SERVER_VERSION, suffix))
    }

    /// Keeps the options of the two group sets, like
    /// `my_print_defaults --mysqld` and `my_print_defaults sst`.
    fn select(entries: &[native::Entry], version: &str, suffix: Option<&str>) -> Config {
        let chosen = |groups: Vec<String>| -> (Vec<String>, Vec<Origin>) {
            let groups = with_suffixed_twins(groups, suffix);
            entries
                .iter()
                .filter(|e| groups.iter().any(|g| g.eq_ignore_ascii_case(&e.group)))
                .map(|e| {
                    let origin = Origin {
                        file: e.file.clone(),
                        line: e.line,
                        group: e.group.clone(),
                    };
                    (e.option.clone(), origin)
                })
                .unzip()
        };
        let (mysqld, mysqld_origins) = chosen(server_groups(version));
        let (sst, sst_origins) = chosen(vec!["sst".to_owned()]);
        Config {
            mysqld,
            sst,
            mysqld_origins,
            sst_origins,
        }
    }

    /// `parse_cnf`: the value of `key` (dash form, e.g.
    /// `innodb-data-home-dir`) in the first of the `|`-separated group sets
    /// (`--mysqld`, `sst`) that has a non-empty one; within a set, the last
    /// occurrence wins. The value is trimmed; empty means unset (`None`).
    pub(crate) fn get(&self, groups: &str, key: &str) -> Option<String> {
        self.find(groups, key).map(|(value, _, _)| value)
    }

    /// [`Config::get`], and which set and line of it gave the value.
    fn find(&self, groups: &str, key: &str) -> Option<(String, Set, usize)> {
        let key = key.replace('_', "-");
        for set in self.sets(groups) {
            let Some((index, value)) = last_match(self.lines(set), &key) else {
                continue;
            };
            // parse_cnf tests the value before trimming it (the shell's
            // `$(…)` only drops trailing newlines): a quoted blank value
            // ends the search, as unset.
            let value = value.trim_end_matches('\n');
            if value.is_empty() {
                continue;
            }
            let value = value.trim_matches(is_shell_space);
            return (!value.is_empty()).then(|| (value.to_owned(), set, index));
        }
        None
    }

    /// `in_config`: whether `key` appears at all in one of the group sets,
    /// even without `=` or with an empty value.
    pub(crate) fn present(&self, groups: &str, key: &str) -> bool {
        self.find_present(groups, key).is_some()
    }

    /// The set and line of the last line naming `key` in the first set
    /// where it appears at all.
    fn find_present(&self, groups: &str, key: &str) -> Option<(Set, usize)> {
        let key = key.replace('_', "-");
        self.sets(groups)
            .find_map(|set| last_match(self.lines(set), &key).map(|(index, _)| (set, index)))
    }

    fn lines(&self, set: Set) -> &[String] {
        match set {
            Set::Mysqld => &self.mysqld,
            Set::Sst => &self.sst,
        }
    }

    fn sets<'a>(&'a self, groups: &'a str) -> impl Iterator<Item = Set> + 'a {
        groups.split('|').filter_map(|group| match group {
            "--mysqld" => Some(Set::Mysqld),
            "sst" => Some(Set::Sst),
            other => {
                log::warn!("ignoring unknown option group set '{other}' in a my.cnf lookup");
                None
            }
        })
    }
}

/// The groups mariadbd reads (`load_default_groups`, also what
/// `my_print_defaults --mysqld` prints), for a server series like `10.11`.
fn server_groups(version: &str) -> Vec<String> {
    [
        "mysqld".to_owned(),
        "server".to_owned(),
        format!("mysqld-{version}"),
        "mariadb".to_owned(),
        format!("mariadb-{version}"),
        "mariadbd".to_owned(),
        format!("mariadbd-{version}"),
        "client-server".to_owned(),
        "galera".to_owned(),
    ]
    .into()
}

/// `--defaults-group-suffix`, else `MYSQL_GROUP_SUFFIX`, as mysys does.
fn group_suffix(opts: &DefaultsOptions, env: &Env) -> Option<String> {
    opts.group_suffix.clone().or_else(|| {
        env.group_suffix
            .as_ref()
            .map(|s| s.to_string_lossy().into_owned())
    })
}

/// The groups plus their suffixed twins.
fn with_suffixed_twins(mut groups: Vec<String>, suffix: Option<&str>) -> Vec<String> {
    if let Some(suffix) = suffix {
        let twins: Vec<String> = groups.iter().map(|g| format!("{g}{suffix}")).collect();
        groups.extend(twins);
    }
    groups
}

/// The index and value of the last line naming `key`, compared as the
/// scripts' awk does: `--loose` at the start becomes `-`, and `_` becomes
/// `-` in the name (the text before the first `=`). No `=` gives an empty
/// value.
fn last_match<'a>(lines: &'a [String], key: &str) -> Option<(usize, &'a str)> {
    lines
        .iter()
        .enumerate()
        .rev()
        .find_map(|(index, line)| names_key(line, key).map(|value| (index, value)))
}

/// The value of `line` when it names `key` (see [`last_match`]).
fn names_key<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let (lead, rest) = match line.strip_prefix("--loose") {
        Some(rest) => ("-", rest),
        None => ("", line),
    };
    let (name, value) = rest.split_once('=').unwrap_or((rest, ""));
    let normalized = lead
        .chars()
        .chain(name.chars())
        .map(|c| if c == '_' { '-' } else { c });
    normalized
        .eq("--".chars().chain(key.chars()))
        .then_some(value)
}

/// `[[:space:]]` of the scripts' `trim_string`.
fn is_shell_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cnf(text: &str, suffix: Option<&str>) -> Config {
        Config::from_cnf_bytes(text.as_bytes(), suffix).expect("a valid test my.cnf")
    }

    #[test]
    fn last_occurrence_in_file_order_wins() {
        let text = "[mysqld]\ntmpdir=/a\n[mysqld.2]\ntmpdir=/suffixed\n[galera]\ntmpdir=/b\n";
        // The suffixed group does not win for being suffixed: the later line does.
        assert_eq!(
            cnf(text, Some(".2")).get("--mysqld", "tmpdir").as_deref(),
            Some("/b")
        );
        let text = "[mysqld.2]\ntmpdir=/suffixed\n[mysqld]\ntmpdir=/base\n";
        assert_eq!(
            cnf(text, Some(".2")).get("--mysqld", "tmpdir").as_deref(),
            Some("/base")
        );
        let text = "[mysqld]\ntmpdir=/base\n[mysqld.2]\ntmpdir=/suffixed\n";
        let config = cnf(text, Some(".2"));
        assert_eq!(
            config.get("--mysqld", "tmpdir").as_deref(),
            Some("/suffixed")
        );
        // Without the suffix, the twin is not read at all.
        assert_eq!(
            cnf(text, None).get("--mysqld", "tmpdir").as_deref(),
            Some("/base")
        );
        assert_eq!(
            cnf(text, Some(".3")).get("--mysqld", "tmpdir").as_deref(),
            Some("/base")
        );
    }

    #[test]
    fn server_group_set() {
        let text = "[mysqld]\na=1\n[server]\nb=1\n[mysqld-10.11]\nc=1\n[mariadb]\nd=1\n\
                    [mariadb-10.11]\ne=1\n[mariadbd]\nf=1\n[mariadbd-10.11]\ng=1\n\
                    [client-server]\nh=1\n[galera]\ni=1\n[MYSQLD]\nj=1\n[Galera.2]\nk=1\n\
                    [mysqld-10.11.2]\nl=1\n[client]\nx=1\n[mysqld-10.6]\nx=1\n[mariadb-10]\nx=1\n\
                    [embedded]\nx=1\n[ mysqld]\nx=1\n[sst]\nx=1\n";
        let config = cnf(text, Some(".2"));
        for key in ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"] {
            assert_eq!(config.get("--mysqld", key).as_deref(), Some("1"), "{key}");
        }
        assert_eq!(config.get("--mysqld", "x"), None);
        assert_eq!(config.get("sst", "x").as_deref(), Some("1"));
        assert_eq!(config.get("sst", "a"), None);
    }

    #[test]
    fn sst_group_and_its_twin() {
        let text = "[sst]\nprogress=1\n[SST.2]\nrlimit=2\n[sst.3]\ntkey=3\n";
        let config = cnf(text, Some(".2"));
        assert_eq!(config.get("sst", "progress").as_deref(), Some("1"));
        assert_eq!(config.get("sst", "rlimit").as_deref(), Some("2"));
        assert_eq!(config.get("sst", "tkey"), None);
        assert_eq!(config.get("--mysqld", "progress"), None);
    }

    #[test]
    fn group_list_takes_the_first_non_empty_value() {
        let text = "[mysqld]\nssl-ca=/server\nssl-key=\nssl-cert\n\
                    [sst]\nssl-ca=/sst\nssl-key=/sst.key\nssl-cert=/sst.pem\nssl-mode=REQUIRED\n";
        let config = cnf(text, None);
        assert_eq!(
            config.get("--mysqld|sst", "ssl-ca").as_deref(),
            Some("/server")
        );
        assert_eq!(
            config.get("sst|--mysqld", "ssl-ca").as_deref(),
            Some("/sst")
        );
        // Empty or value-less in the server groups: [sst] is consulted.
        assert_eq!(
            config.get("--mysqld|sst", "ssl-key").as_deref(),
            Some("/sst.key")
        );
        assert_eq!(
            config.get("--mysqld|sst", "ssl-cert").as_deref(),
            Some("/sst.pem")
        );
        assert_eq!(
            config.get("--mysqld|sst", "ssl-mode").as_deref(),
            Some("REQUIRED")
        );
        assert_eq!(config.get("--mysqld", "ssl-key"), None);
        // An unknown set is skipped, not an error.
        assert_eq!(config.get("client|sst", "ssl-ca").as_deref(), Some("/sst"));
        assert!(!config.present("client", "ssl-ca"));
    }

    #[test]
    fn empty_value_after_a_decoy_is_unset_but_present() {
        // galera_ipv6_rsync_section: a decoy, then the real (empty) setting.
        let text = "[mysqld]\ninnodb-data-home-dir=/tmp\n[galera]\ninnodb-data-home-dir=\n";
        let config = cnf(text, None);
        assert_eq!(config.get("--mysqld", "innodb-data-home-dir"), None);
        assert!(config.present("--mysqld", "innodb-data-home-dir"));
        assert!(!config.present("--mysqld", "innodb-log-group-home-dir"));
        assert!(!config.present("sst", "innodb-data-home-dir"));
    }

    #[test]
    fn names_compare_like_the_scripts() {
        let text = "[mysqld]\ninnodb_data_home_dir = /data\nloose-ssl-mode = VERIFY_CA\n\
                    loose_log_bin_index=idx\n--tmpdir=/not-this\nloosetmpdir=/nor-this\n\
                    log-bin\nLog-Basename=case\n";
        let config = cnf(text, None);
        assert_eq!(
            config.get("--mysqld", "innodb-data-home-dir").as_deref(),
            Some("/data")
        );
        assert_eq!(
            config.get("--mysqld", "innodb_data_home_dir").as_deref(),
            Some("/data")
        );
        assert_eq!(
            config.get("--mysqld", "ssl-mode").as_deref(),
            Some("VERIFY_CA")
        );
        assert_eq!(
            config.get("--mysqld", "log-bin-index").as_deref(),
            Some("idx")
        );
        assert_eq!(config.get("--mysqld", "tmpdir"), None);
        assert!(!config.present("--mysqld", "tmpdir"));
        assert!(config.present("--mysqld", "log-bin"));
        assert_eq!(config.get("--mysqld", "log-bin"), None);
        // Case matters, as in the scripts' awk and in mariadbd.
        assert!(!config.present("--mysqld", "log-basename"));
    }

    #[test]
    fn values_are_trimmed_and_blank_counts_as_unset() {
        let text = "[mysqld]\ntmpdir = \"  /t  \"\nssl-ca=\" \"\nssl-key=\"\\n\"\n\
                    [sst]\nssl-ca=/sst\nssl-key=/sst.key\n";
        let config = cnf(text, None);
        assert_eq!(config.get("--mysqld", "tmpdir").as_deref(), Some("/t"));
        // parse_cnf checks for emptiness before trimming: a quoted blank
        // in the server groups ends the search (unset)…
        assert_eq!(config.get("--mysqld|sst", "ssl-ca"), None);
        // …but a lone newline is dropped by `$(…)` first, so [sst] is read.
        assert_eq!(
            config.get("--mysqld|sst", "ssl-key").as_deref(),
            Some("/sst.key")
        );
    }

    #[test]
    fn load_picks_a_reader_and_reads() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("my.cnf");
        std::fs::write(
            &path,
            "[mysqld]\nlog_bin = binlog\n[sst]\nssl-mode=DISABLED\n",
        )
        .expect("writing my.cnf");
        let opts = DefaultsOptions {
            file: Some(path),
            ..DefaultsOptions::default()
        };
        let config = Config::load(&opts).expect("loads");
        assert_eq!(config.get("--mysqld", "log-bin").as_deref(), Some("binlog"));
        assert_eq!(
            config.get("--mysqld|sst", "ssl-mode").as_deref(),
            Some("DISABLED")
        );
        let native = Reader::Native {
            server_version: "10.11".into(),
        };
        let config =
            Config::load_env(&opts, &native, &Env::from_process()).expect("loads natively");
        assert_eq!(config.get("--mysqld", "log-bin").as_deref(), Some("binlog"));
    }

    #[test]
    fn debug_output_hides_values() {
        let config = cnf(
            "[mysqld]\nlog-bin\n[sst]\nwsrep-sst-auth = root:secret\n",
            None,
        );
        assert_eq!(
            format!("{config:?}"),
            r#"Config { mysqld: ["--log-bin"], sst: ["--wsrep-sst-auth=…"] }"#
        );
    }

    #[test]
    fn native_errors_carry_the_line() {
        let err = Config::from_cnf_bytes(b"[mysqld]\nx=1\n[sst\n", None).expect_err("broken");
        assert_eq!(
            err.to_string(),
            "<test my.cnf>:3: group header without a closing ']'"
        );
    }
}
