//! Where each option came from, for `check` to show next to the values.
//!
//! The native reader records the file, line and group of every option
//! line. `my_print_defaults` does not say where a line came from, so when
//! it is the reader (as during an SST), [`Config::load_traced`] reads the
//! files natively as well and borrows the native origins only when both
//! readers produced exactly the same lines; otherwise origins stay unknown
//! and the [`Trace`] says why. Values never appear here: an [`Origin`] is
//! a place, and a value may be a secret.

use std::fmt;
use std::path::PathBuf;

use super::{Config, DefaultsOptions, Env, NATIVE_SERVER_VERSION, Reader, Set};

/// The place an option line came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Origin {
    /// The option file, as opened (`~/` expanded).
    pub(crate) file: PathBuf,
    /// Its line, counted as mysys counts lines in its messages.
    pub(crate) line: usize,
    /// The group the line was in, as written.
    pub(crate) group: String,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{} [{}]", self.file.display(), self.line, self.group)
    }
}

/// Whether the origins of a loaded [`Config`] are known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OriginStatus {
    /// The native reader read the files: every origin is known.
    Native,
    /// `my_print_defaults` read them, and the native reader gave the same
    /// lines: its origins are attached.
    Agree,
    /// The readers gave different lines: origins are unknown.
    Differ,
    /// The native reader failed where `my_print_defaults` did not.
    NativeFailed(String),
}

/// How a configuration was read.
#[derive(Debug, Clone)]
pub(crate) struct Trace {
    /// `my_print_defaults` with its path, or the native reader.
    pub(crate) reader: String,
    pub(crate) origins: OriginStatus,
}

impl Config {
    /// Reads the configuration exactly as [`Config::load`] does, plus the
    /// origin of each line when it can be known.
    pub(crate) fn load_traced(opts: &DefaultsOptions) -> anyhow::Result<(Config, Trace)> {
        let env = Env::from_process();
        let Some(program) = super::print_defaults::locate() else {
            let config = Config::load_env(opts, &Reader::native(), &env)?;
            let trace = Trace {
                reader: format!(
                    "native reader (my_print_defaults not found; read as MariaDB \
                     {NATIVE_SERVER_VERSION} would)"
                ),
                origins: OriginStatus::Native,
            };
            return Ok((config, trace));
        };
        let reader = program.display().to_string();
        let mut config = Config::load_env(opts, &Reader::PrintDefaults(program), &env)?;
        let origins = match config.native_twin(opts, &env) {
            Ok(Some(twin)) => {
                config.mysqld_origins = twin.mysqld_origins;
                config.sst_origins = twin.sst_origins;
                OriginStatus::Agree
            }
            Ok(None) => OriginStatus::Differ,
            Err(err) => OriginStatus::NativeFailed(format!("{err:#}")),
        };
        Ok((config, Trace { reader, origins }))
    }

    /// The same files read natively, when that gives exactly these lines
    /// (then its origins are theirs).
    fn native_twin(&self, opts: &DefaultsOptions, env: &Env) -> anyhow::Result<Option<Config>> {
        let twin = Config::load_env(opts, &Reader::native(), env)?;
        Ok((twin.mysqld == self.mysqld && twin.sst == self.sst).then_some(twin))
    }

    /// [`Config::get`], with the place of the line that gave the value
    /// (`None` when origins are unknown).
    pub(crate) fn lookup(&self, groups: &str, key: &str) -> Option<(String, Option<&Origin>)> {
        self.find(groups, key)
            .map(|(value, set, index)| (value, self.origin(set, index)))
    }

    /// The place of the last line naming `key` at all (even empty or
    /// without `=`) in the first of `groups` where it appears.
    pub(crate) fn origin_of(&self, groups: &str, key: &str) -> Option<&Origin> {
        self.find_present(groups, key)
            .and_then(|(set, index)| self.origin(set, index))
    }

    /// Whether every line's origin is known.
    #[cfg(test)]
    pub(crate) fn has_origins(&self) -> bool {
        self.mysqld_origins.len() == self.mysqld.len() && self.sst_origins.len() == self.sst.len()
    }

    fn origin(&self, set: Set, index: usize) -> Option<&Origin> {
        match set {
            Set::Mysqld => self.mysqld_origins.get(index),
            Set::Sst => self.sst_origins.get(index),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cnf(text: &str, suffix: Option<&str>) -> Config {
        Config::from_cnf_bytes(text.as_bytes(), suffix).expect("a valid test my.cnf")
    }

    fn place(config: &Config, groups: &str, key: &str) -> Option<String> {
        config
            .lookup(groups, key)
            .and_then(|(_, origin)| origin.map(ToString::to_string))
    }

    #[test]
    fn the_line_that_wins_is_named() {
        let text = "# comment\n[mysqld]\ndatadir=/a\n\n[galera]\ndatadir = /b\n[mysqld.2]\n\
                    datadir=/c\n[sst]\nssl-mode=REQUIRED\n";
        let config = cnf(text, None);
        assert!(config.has_origins());
        assert_eq!(
            config
                .lookup("--mysqld", "datadir")
                .map(|(v, _)| v)
                .as_deref(),
            Some("/b")
        );
        assert_eq!(
            place(&config, "--mysqld", "datadir").as_deref(),
            Some("<test my.cnf>:6 [galera]")
        );
        let suffixed = cnf(text, Some(".2"));
        assert_eq!(
            place(&suffixed, "--mysqld", "datadir").as_deref(),
            Some("<test my.cnf>:8 [mysqld.2]")
        );
        assert_eq!(
            place(&config, "--mysqld|sst", "ssl-mode").as_deref(),
            Some("<test my.cnf>:10 [sst]")
        );
        assert_eq!(config.lookup("--mysqld", "ssl-mode"), None);
    }

    #[test]
    fn empty_values_fall_through_to_the_next_set() {
        let text = "[mysqld]\nssl-key=\n[sst]\nssl-key=/k\n";
        let config = cnf(text, None);
        assert_eq!(
            place(&config, "--mysqld|sst", "ssl-key").as_deref(),
            Some("<test my.cnf>:4 [sst]")
        );
        // Present, even empty: the empty line is the one named.
        assert_eq!(
            config.origin_of("--mysqld", "ssl_key").map(|o| o.line),
            Some(2)
        );
        assert_eq!(config.origin_of("--mysqld", "ssl-ca"), None);
    }

    #[test]
    fn includes_name_their_own_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let inc = dir.path().join("inc.cnf");
        std::fs::write(&inc, "[sst]\n\ntkey = /etc/k.pem\n").expect("write");
        let text = format!("[mysqld]\nlog-bin\n!include {}\n", inc.display());
        let config = cnf(&text, None);
        let origin = config.origin_of("sst", "tkey").expect("known");
        assert_eq!((origin.file.as_path(), origin.line), (inc.as_path(), 3));
        assert_eq!(origin.group, "sst");
        assert_eq!(
            place(&config, "--mysqld", "log-bin"),
            None,
            "no value, no lookup"
        );
        assert_eq!(
            config.origin_of("--mysqld", "log-bin").map(|o| o.line),
            Some(2)
        );
    }

    #[test]
    fn load_finds_the_line_as_an_sst_reads_the_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("my.cnf");
        std::fs::write(&path, "[mysqld]\nlog_bin\n[sst]\n\nrlimit = fast\n").expect("write");
        let opts = DefaultsOptions {
            file: Some(path.clone()),
            ..DefaultsOptions::default()
        };
        // With my_print_defaults (as on a server) the native reader finds
        // the lines; natively they come with them: either way it is known.
        let config = Config::load(&opts).expect("loads");
        let origin = config.origin_of("sst", "rlimit").expect("located");
        assert_eq!((origin.file.as_path(), origin.line), (path.as_path(), 5));
        assert_eq!(config.origin_of("sst", "rlimit-lock"), None);
    }

    #[test]
    fn load_traced_matches_load() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("my.cnf");
        std::fs::write(
            &path,
            "[mysqld]\nlog_bin = binlog\n[sst]\nssl-mode=DISABLED\n",
        )
        .expect("writing my.cnf");
        let opts = DefaultsOptions {
            file: Some(path.clone()),
            ..DefaultsOptions::default()
        };
        let plain = Config::load(&opts).expect("loads");
        let (traced, trace) = Config::load_traced(&opts).expect("loads");
        assert_eq!((traced.mysqld, traced.sst), (plain.mysqld, plain.sst));
        assert!(
            matches!(trace.origins, OriginStatus::Native | OriginStatus::Agree),
            "{trace:?}"
        );
        let (config, _) = Config::load_traced(&opts).expect("loads");
        let origin = config.origin_of("--mysqld", "log-bin").expect("known");
        assert_eq!((origin.file.as_path(), origin.line), (path.as_path(), 2));
    }
}
