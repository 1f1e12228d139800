//! Stage two of argument handling: [`Settings::resolve`] combines the
//! parsed arguments, the environment mariadbd set and my.cnf into what the
//! roles need, with the precedence of the stock scripts: explicit option >
//! environment > mariadbd's own argv (`--mysqld-args`) > my.cnf > default.
//! Each side resolves its own directories (spec §5.3, MDEV-36677).

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Result;

use crate::cli::{Args, Role, Tail, parse_tail};
use crate::config::{Config, DefaultsOptions};
use crate::exit::{Exit, fail};
use crate::net::address::SstAddress;
use crate::protocol::NO_USER;
use crate::server_input::RemoteAuth;
use crate::tls::TlsSettings;
use crate::transfer::Layout;
use crate::transfer::codec::Codec;
use crate::transfer::external::ExternalRules;

pub(crate) mod rlimit;
pub(crate) mod tls;

pub(crate) use rlimit::Rlimit;

/// Looks up an environment variable (the process environment, or a map in
/// tests).
pub(crate) type Env<'a> = &'a dyn Fn(&str) -> Option<OsString>;

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

/// Timeouts we own, since mariadbd has none (spec §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timeouts {
    /// Joiner: from `ready` to the donor's first connection.
    pub(crate) initial: Duration,
    /// Any connection: longest silence.
    pub(crate) idle: Duration,
    /// Donor: longest wait for `tables_flushed`.
    pub(crate) flush: Duration,
}

/// Everything a role needs, resolved.
#[derive(Debug)]
pub(crate) struct Settings {
    pub(crate) role: Role,
    /// The method name (`rsrsync`), for log lines.
    pub(crate) method: String,
    pub(crate) address: SstAddress,
    pub(crate) layout: Layout,
    pub(crate) binlog: Option<Binlog>,
    /// Joiner: mariadbd's PID.
    pub(crate) parent: Option<i32>,
    /// mariadbd wants `total`/`complete` lines (`--progress 1`).
    pub(crate) progress: bool,
    pub(crate) bypass: bool,
    /// Donor: `--gtid` and `--gtid-domain-id`, the IST state line.
    pub(crate) gtid_state: Option<String>,
    /// Donor: the `(user, secret)` the joiner published: its certificate's
    /// CN (empty when it published none) and the secret.
    pub(crate) remote_auth: Option<(String, String)>,
    /// Donor: how many of the newest binlogs to send (`sst-max-binlogs`).
    pub(crate) max_binlogs: i64,
    /// Donor: data streams (`backup-threads`).
    pub(crate) streams: usize,
    pub(crate) timeouts: Timeouts,
    /// Joiner: `MTR_SST_JOINER_DELAY`.
    pub(crate) joiner_delay: Duration,
    /// Joiner: compare blocks it holds instead of receiving them again
    /// (`rsrsync-delta`, default on).
    pub(crate) delta: bool,
    /// Donor: copy while the server runs, then only the differences under
    /// FLUSH TABLES WITH READ LOCK (`rsrsync-lock=short`, the default), or
    /// hold the lock for the whole copy (`rsrsync-lock=full`).
    pub(crate) short_lock: bool,
    /// Donor, short lock: a live round that took less than this is
    /// followed by the lock (what the server changed meanwhile is little
    /// to send); a longer one by another live round. 1 s; tests set 0.
    pub(crate) live_settled: Duration,
    /// Donor: compress blocks (`rsrsync-compress=lz4|zstd`, default none).
    pub(crate) compress: Option<Codec>,
    /// Donor, short lock: clone the files under the lock where the
    /// filesystem can (`rsrsync-snapshot=auto`, the default) and send the
    /// clones after `continue`; `off` compares every file under the lock.
    pub(crate) snapshot: bool,
    /// Tests: the byte-equal oracle's directory (`RSRSYNC_TEST_HOLD`,
    /// see `roles::oracle`).
    pub(crate) test_hold: Option<PathBuf>,
    /// Donor: the cap on its send rate (`rlimit`); `None`: no limit.
    pub(crate) rlimit: Option<Rlimit>,
    /// Donor: the cap holds under the read lock too (`rlimit-lock=on`);
    /// by default the lock is never stretched by it.
    pub(crate) rlimit_lock: bool,
    pub(crate) tls: TlsSettings,
}

/// rsrsync's switches in `[sst]` and their values (the first is the
/// default); `check` reports them from this list too.
pub(crate) const SWITCHES: [(&str, &[&str]); 5] = [
    ("rsrsync-lock", &["short", "full"]),
    ("rsrsync-snapshot", &["auto", "off"]),
    ("rsrsync-delta", &["on", "off"]),
    ("rsrsync-compress", &["none", "lz4", "zstd"]),
    ("rlimit-lock", &["off", "on"]),
];

/// Upper bound on data streams, whatever the configuration says.
const MAX_STREAMS: usize = 64;

impl Settings {
    /// The defaults options to read my.cnf with.
    pub(crate) fn defaults_options(args: &Args) -> DefaultsOptions {
        DefaultsOptions {
            file: args.defaults_file.as_ref().map(PathBuf::from),
            extra_file: args.defaults_extra_file.as_ref().map(PathBuf::from),
            group_suffix: args
                .defaults_group_suffix
                .as_ref()
                .map(|s| s.to_string_lossy().into_owned()),
        }
    }

    /// Resolves the settings of this run.
    pub(crate) fn resolve(
        args: &Args,
        program: &OsStr,
        env: Env<'_>,
        stdin: &RemoteAuth,
        config: &Config,
    ) -> Result<Settings> {
        let role = args.role.unwrap_or(Role::Donor);
        let datadir = args.datadir.as_ref().map(PathBuf::from).ok_or_else(|| {
            fail(
                Exit::NotFound,
                "The '--datadir' parameter must be passed to the SST script",
            )
        })?;
        let address_text = args
            .address
            .as_deref()
            .ok_or_else(|| fail(Exit::Invalid, "the '--address' parameter is missing"))?;
        let address =
            SstAddress::parse(address_text).map_err(|e| fail(Exit::Invalid, format!("{e:#}")))?;
        if let Some(port) = &args.port {
            if args.address.as_deref().is_some_and(|a| a.contains(':'))
                && port != &address.port.to_string()
            {
                return Err(fail(
                    Exit::NotFound,
                    format!(
                        "port mismatch: --port {port} but port {} in --address",
                        address.port
                    ),
                ));
            }
        }
        let tail = parse_tail(&args.mysqld_args);
        let dir = |explicit: &Option<OsString>,
                   var: Option<&str>,
                   tail_value: &Option<OsString>,
                   key: &str| {
            let value = explicit
                .clone()
                .or_else(|| var.and_then(env).filter(|v| !trim(v).is_empty()))
                .or_else(|| tail_value.clone())
                .or_else(|| config.get("--mysqld", key).map(OsString::from));
            special_dir(&datadir, value.as_deref())
        };
        let sys = dir(
            &args.innodb_data_home_dir,
            Some("INNODB_DATA_HOME_DIR"),
            &tail.innodb_data_home_dir,
            "innodb-data-home-dir",
        );
        let redo = dir(
            &args.innodb_log_group_home_dir,
            Some("INNODB_LOG_GROUP_HOME"),
            &tail.innodb_log_group_home_dir,
            "innodb-log-group-home-dir",
        );
        let undo = dir(
            &args.innodb_undo_directory,
            Some("INNODB_UNDO_DIR"),
            &tail.innodb_undo_directory,
            "innodb-undo-directory",
        );
        let aria = dir(
            &args.aria_log_dir_path,
            None,
            &tail.aria_log_dir_path,
            "aria-log-dir-path",
        );
        let data_file_path = tail
            .innodb_data_file_path
            .as_ref()
            .map(|v| v.to_string_lossy().into_owned())
            .or_else(|| config.get("--mysqld", "innodb-data-file-path"))
            .unwrap_or_else(|| "ibdata1:12M:autoextend".to_string());
        let binlog = resolve_binlog(args, &tail, config, &datadir);
        let inner: Vec<PathBuf> = binlog
            .iter()
            .flat_map(|b| [b.dir.clone(), parent_dir(&b.index)])
            .collect();
        let mut layout = Layout::new(
            datadir.clone(),
            sys,
            redo,
            undo,
            aria,
            data_file_names(&data_file_path),
            &inner,
        );
        layout.external = ExternalRules::parse(
            config.get("sst", "rsrsync-data-dirs").as_deref(),
            config.get("sst", "rsrsync-data-dir-map").as_deref(),
        )
        .map_err(|e| fail(Exit::Invalid, format!("[sst] {e:#}; fix it in my.cnf")))?;
        // 10.x: the environment; 11.x: stdin; lenient: the address itself.
        let remote_auth = env("WSREP_SST_OPT_REMOTE_AUTH")
            .map(|v| v.to_string_lossy().into_owned())
            .filter(|v| !v.is_empty())
            .or_else(|| address.auth.clone())
            .and_then(|auth| {
                auth.split_once(':')
                    .map(|(user, secret)| (user.to_string(), secret.to_string()))
            })
            .or_else(|| {
                let secret = stdin.secret.clone().filter(|s| !s.is_empty())?;
                Some((stdin.user.clone().unwrap_or_default(), secret))
            })
            .map(|(user, secret)| {
                let user = if user == NO_USER { String::new() } else { user };
                (user, secret)
            });
        let gtid_state = args
            .gtid
            .as_ref()
            .map(|gtid| format!("{gtid} {}", args.gtid_domain_id.as_deref().unwrap_or("0")));
        let tls = tls::resolve_tls(config, role)?;
        let opts = Settings::defaults_options(args);
        let [lock, snapshot, delta, compress, rlimit_lock] =
            SWITCHES.map(|(key, choices)| switch(config, &opts, key, choices));
        let short_lock = lock? == "short";
        // rsrsync-lock=full reads every file under the lock: no snapshot.
        let snapshot = snapshot? == "auto" && short_lock;
        let delta = delta? == "on";
        let compress = Codec::from_name(compress?);
        let rlimit_lock = rlimit_lock? == "on";
        let rlimit = Rlimit::resolve(config, &opts)?;
        // mtr's hook that hides stunnel from the rsync method: for us, TLS
        // "is not available"; asked-for encryption must then stop the SST.
        if tls.enabled() && env("MTR_SST_SIMULATE_NO_STUNNEL").is_some_and(|v| !v.is_empty()) {
            return Err(fail(
                Exit::NotFound,
                format!(
                    "ssl-mode is set to '{}', but TLS is not available \
                     (MTR_SST_SIMULATE_NO_STUNNEL): cannot perform an encrypted transfer; \
                     set ssl-mode to DISABLED or remove the simulation",
                    tls.mode.name()
                ),
            ));
        }
        Ok(Settings {
            tls,
            delta,
            short_lock,
            live_settled: Duration::from_secs(1),
            compress,
            snapshot,
            test_hold: env("RSRSYNC_TEST_HOLD")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            rlimit,
            rlimit_lock,
            role,
            method: method_name(program),
            address,
            layout,
            binlog,
            parent: args.parent.filter(|p| *p > 0),
            progress: args.progress,
            bypass: args.bypass,
            gtid_state,
            remote_auth,
            max_binlogs: number(config, "--mysqld|sst", "sst-max-binlogs", 1),
            streams: streams(config),
            timeouts: Timeouts {
                initial: seconds(config, "rsrsync-initial-timeout", 300),
                idle: seconds(config, "rsrsync-timeout", 120).max(MIN_IDLE),
                flush: seconds(config, "rsrsync-flush-timeout", 3600),
            },
            joiner_delay: env("MTR_SST_JOINER_DELAY")
                .and_then(|v| v.to_str().and_then(|s| s.trim().parse().ok()))
                .map(Duration::from_secs)
                .unwrap_or_default(),
        })
    }
}

/// `wsrep_sst_rsrsync` → `rsrsync` (directory, extension, prefix dropped).
fn method_name(program: &OsStr) -> String {
    let name = Path::new(program)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    match name.strip_prefix("wsrep_sst_") {
        Some(method) if !method.is_empty() => method.to_string(),
        _ => "rsrsync".to_string(),
    }
}

fn trim(value: &OsStr) -> &[u8] {
    value.as_bytes().trim_ascii()
}

/// A configured directory: trimmed, trailing slashes dropped, relative to
/// the datadir; empty or `.` is the datadir itself.
fn special_dir(datadir: &Path, value: Option<&OsStr>) -> PathBuf {
    let Some(value) = value else {
        return datadir.to_path_buf();
    };
    let mut bytes = trim(value);
    while bytes.len() > 1 && bytes.ends_with(b"/") {
        bytes = &bytes[..bytes.len() - 1];
    }
    if bytes.is_empty() || bytes == b"." {
        return datadir.to_path_buf();
    }
    datadir.join(OsStr::from_bytes(bytes))
}

fn parent_dir(path: &Path) -> PathBuf {
    path.parent().map(Path::to_path_buf).unwrap_or_default()
}

/// The file names of `innodb_data_file_path` (`ibdata1:12M;ibdata2:1G:autoextend`).
fn data_file_names(spec: &str) -> Vec<OsString> {
    spec.split(';')
        .filter_map(|part| part.split(':').next())
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .filter(|name| {
            let plain = !name.contains('/');
            if !plain {
                log::warn!(
                    "innodb_data_file_path names '{name}' in a subdirectory; \
                     only plain names in innodb_data_home_dir are transferred"
                );
            }
            plain
        })
        .map(OsString::from)
        .collect()
}

/// `get_binlog` of the scripts: the binlog name and its index.
fn resolve_binlog(args: &Args, tail: &Tail, config: &Config, datadir: &Path) -> Option<Binlog> {
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

fn with_suffix(base: &OsStr, suffix: &str) -> OsString {
    let mut out = base.to_os_string();
    out.push(suffix);
    out
}

fn number(config: &Config, groups: &str, key: &str, default: i64) -> i64 {
    match config.get(groups, key) {
        None => default,
        Some(v) => v.parse().unwrap_or_else(|_| {
            log::warn!("ignoring {key}={v}: not a whole number; using {default}");
            default
        }),
    }
}

fn streams(config: &Config) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let wanted = number(config, "--mysqld|sst", "backup-threads", cores as i64);
    wanted.clamp(1, MAX_STREAMS as i64) as usize
}

/// One of `choices` (the first is the default) for our `[sst]` key `key`;
/// anything else is exit 22, naming the line (found with `opts`).
fn switch(
    config: &Config,
    opts: &DefaultsOptions,
    key: &str,
    choices: &[&'static str],
) -> Result<&'static str> {
    let Some(value) = config.get("sst", key) else {
        return Ok(choices[0]);
    };
    let lower = value.to_ascii_lowercase();
    choices
        .iter()
        .find(|c| **c == lower)
        .copied()
        .ok_or_else(|| {
            let place = config
                .locate(opts, "sst", key)
                .map(|origin| format!(" ({origin})"))
                .unwrap_or_default();
            fail(
                Exit::Invalid,
                format!(
                    "[sst] {key}={value}{place} is not one of {}; fix it in my.cnf",
                    choices.join(", ")
                ),
            )
        })
}

/// Shortest inactivity timeout (`rsrsync-timeout`): a silent peer pings
/// within twice [`KEEPALIVE`](crate::net::KEEPALIVE), so anything shorter
/// could fail an SST whose peer is merely busy.
pub(crate) const MIN_IDLE: Duration = Duration::from_secs(3);

fn seconds(config: &Config, key: &str, default: u64) -> Duration {
    let value = number(config, "sst", key, default as i64);
    Duration::from_secs(if value > 0 { value as u64 } else { default })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn argv(words: &[&str]) -> Args {
        crate::cli::parse(words.iter().map(OsString::from)).expect("valid argv")
    }

    fn resolve_with(words: &[&str], cnf: &str, vars: &[(&str, &str)]) -> Result<Settings> {
        let vars: HashMap<String, OsString> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        let env = move |k: &str| vars.get(k).cloned();
        let config = Config::from_cnf_bytes(cnf.as_bytes(), None).expect("cnf");
        Settings::resolve(
            &argv(words),
            OsStr::new("/usr/bin/wsrep_sst_rsrsync"),
            &env,
            &RemoteAuth::default(),
            &config,
        )
    }

    const JOINER: &[&str] = &[
        "--role",
        "joiner",
        "--address",
        "127.0.0.1:4444",
        "--datadir",
        "/var/lib/mysql/",
        "--parent",
        "42",
    ];

    #[test]
    fn directories_follow_the_scripts_precedence() {
        let cnf = "[mysqld]\ninnodb_data_home_dir=/cnf/home\ninnodb-log-group-home-dir=redo/\n\
                   innodb_undo_directory=/tmp\ninnodb_undo_directory=\naria-log-dir-path=/cnf/aria\n";
        let mut words = JOINER.to_vec();
        words.extend(["--mysqld-args", "--innodb-data-home-dir=/tail/home"]);
        let s =
            resolve_with(&words, cnf, &[("INNODB_DATA_HOME_DIR", "/env/home/")]).expect("resolves");
        assert_eq!(s.method, "rsrsync");
        assert_eq!(
            s.layout.sys,
            PathBuf::from("/env/home"),
            "env beats tail and cnf"
        );
        assert_eq!(
            s.layout.redo,
            PathBuf::from("/var/lib/mysql/redo"),
            "relative to datadir"
        );
        assert_eq!(
            s.layout.undo,
            PathBuf::from("/var/lib/mysql"),
            "last empty value wins"
        );
        assert_eq!(s.layout.aria, PathBuf::from("/cnf/aria"));
        assert!(s.layout.is_excluded(OsStr::new("redo")));
        let s = resolve_with(&words, cnf, &[]).expect("resolves");
        assert_eq!(s.layout.sys, PathBuf::from("/tail/home"), "tail beats cnf");
    }

    #[test]
    fn binlog_names_follow_get_binlog() {
        // (extra argv, my.cnf, (dir, base, index, index prefix))
        type Case<'a> = (
            &'a [&'a str],
            &'a str,
            Option<(&'a str, &'a str, &'a str, &'a str)>,
        );
        let cases: &[Case<'_>] = &[
            (&[], "", None),
            (
                &["--binlog", "mysql-bin"],
                "",
                Some(("/d", "mysql-bin", "/d/mysql-bin.index", ".")),
            ),
            (
                &[],
                "[mysqld]\nlog-bin\n",
                Some(("/d", "mysql-bin", "/d/mysql-bin.index", ".")),
            ),
            (
                &[],
                "[mysqld]\nlog_basename=server1\nlog_bin\n",
                Some(("/d", "server1-bin", "/d/server1-bin.index", ".")),
            ),
            (
                &[
                    "--binlog",
                    "/logs/b/server1_binlog",
                    "--binlog-index",
                    "/logs/i/idx",
                ],
                "",
                Some(("/logs/b", "server1_binlog", "/logs/i/idx.index", "/logs/b")),
            ),
            (
                &[],
                "[mysqld]\nlog-bin=server1_binlog\nlog-bin-index=x.idx\n",
                Some(("/d", "server1_binlog", "/d/x.idx", ".")),
            ),
        ];
        for (extra, cnf, want) in cases {
            let mut words = vec!["--role", "donor", "--address", "h", "--datadir", "/d"];
            words.extend_from_slice(extra);
            let s = resolve_with(&words, cnf, &[]).expect("resolves");
            let got = s.binlog.map(|b| {
                (
                    b.dir.display().to_string(),
                    b.base.to_string_lossy().into_owned(),
                    b.index.display().to_string(),
                    b.index_prefix.to_string_lossy().into_owned(),
                )
            });
            let want = want.map(|(a, b, c, d)| (a.into(), b.into(), c.into(), d.into()));
            assert_eq!(got, want, "{extra:?} {cnf:?}");
        }
    }

    #[test]
    fn donor_values_and_knobs() {
        let words = [
            "--role",
            "donor",
            "--address",
            "127.0.0.1:4444/rsrsync_sst//1",
            "--datadir",
            "/d",
            "--gtid",
            "6d1f4a2c-0000-0000-0000-000000009b1e:42",
            "--gtid-domain-id",
            "7",
            "--bypass",
        ];
        let cnf = "[sst]\nbackup_threads=3\nsst-max-binlogs=-1\nrsrsync-timeout=9\n\
                   [mysqld]\ninnodb_data_file_path=foobar:12M;ibdata2:1G:autoextend\n";
        let s = resolve_with(
            &words,
            cnf,
            &[("WSREP_SST_OPT_REMOTE_AUTH", "localhost:ab12")],
        )
        .expect("resolves");
        assert_eq!(
            s.remote_auth,
            Some(("localhost".to_string(), "ab12".to_string()))
        );
        assert_eq!(
            s.gtid_state.as_deref(),
            Some("6d1f4a2c-0000-0000-0000-000000009b1e:42 7")
        );
        assert!(s.bypass);
        assert_eq!((s.streams, s.max_binlogs), (3, -1));
        assert_eq!(s.timeouts.idle, Duration::from_secs(9));
        assert_eq!(s.timeouts.initial, Duration::from_secs(300));
        assert_eq!(
            s.layout.data_files,
            [OsString::from("foobar"), OsString::from("ibdata2")]
        );
        assert_eq!(s.address.sst_ver.as_deref(), Some("1"));
        assert!(s.delta && s.short_lock, "defaults");
        let knobs = "[sst]\nrsrsync-delta=OFF\nrsrsync-lock=full\n";
        let s = resolve_with(&words, knobs, &[]).expect("resolves");
        assert!(!s.delta && !s.short_lock);
        let err = resolve_with(&words, "[sst]\nrsrsync-lock=brief\n", &[]).expect_err("bad value");
        assert_eq!(crate::exit::exit_of(&err), Some(Exit::Invalid));
        assert!(
            err.to_string()
                .starts_with("[sst] rsrsync-lock=brief (<test my.cnf>:2 [sst]) is not one of"),
            "{err}"
        );
        assert_eq!(s.rlimit, None, "no limit by default");
        let limited = "[sst]\nrlimit=10m\nrlimit-lock=ON\n";
        let s = resolve_with(&words, limited, &[]).expect("resolves");
        assert_eq!(s.rlimit.map(|r| r.rate), Some(10 << 20));
        assert!(s.rlimit_lock);
        for bad in ["[sst]\nrlimit=fast\n", "[sst]\nrlimit-lock=maybe\n"] {
            let err = resolve_with(&words, bad, &[]).expect_err(bad);
            assert_eq!(crate::exit::exit_of(&err), Some(Exit::Invalid), "{bad}");
            assert!(err.to_string().contains("<test my.cnf>:2 [sst]"), "{err}");
        }
        let s = resolve_with(&words, "[sst]\nrsrsync-timeout=1\n", &[]).expect("resolves");
        assert_eq!(s.timeouts.idle, MIN_IDLE, "raised to what keepalives allow");
    }

    #[test]
    fn simulated_missing_tls_stops_an_encrypted_sst() {
        let cnf = "[sst]\nssl-mode=REQUIRED\n";
        let hook = [("MTR_SST_SIMULATE_NO_STUNNEL", "1")];
        let err = resolve_with(JOINER, cnf, &hook).expect_err("no plaintext fallback");
        assert_eq!(crate::exit::exit_of(&err), Some(Exit::NotFound));
        assert!(
            err.to_string()
                .starts_with("ssl-mode is set to 'REQUIRED', but TLS is not available")
        );
        resolve_with(JOINER, "", &hook).expect("without TLS the hook changes nothing");
    }

    #[test]
    fn missing_or_bad_inputs_have_the_scripts_codes() {
        let code = |words: &[&str]| {
            crate::exit::exit_of(&resolve_with(words, "", &[]).expect_err("must fail"))
        };
        assert_eq!(
            code(&["--role", "joiner", "--address", "h"]),
            Some(Exit::NotFound)
        );
        assert_eq!(
            code(&["--role", "joiner", "--datadir", "/d"]),
            Some(Exit::Invalid)
        );
        assert_eq!(
            code(&["--address", "h:5", "--datadir", "/d", "--port", "6"]),
            Some(Exit::NotFound)
        );
        assert_eq!(
            method_name(OsStr::new("wsrep_sst_rsrsync_wan.sh")),
            "rsrsync_wan"
        );
    }
}
