//! Stage two of argument handling: [`Settings::resolve`] combines the
//! parsed arguments, the environment mariadbd set and my.cnf into what the
//! roles need, with the precedence of the stock scripts: explicit option >
//! environment > mariadbd's own argv (`--mysqld-args`) > my.cnf > default.
//! Each side resolves its own directories (spec §5.3, MDEV-36677).
//!
//! It is the only resolver: besides the values, it returns each of them as
//! an operator reads it, with its source ([`Settings::values`]), and what
//! was wrong ([`Problem`]s). The SST stops on a problem that stops it;
//! `check` and `--dry-run` render the same values and problems.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Result;

use super::dirs::{self, Binlog};
use super::knobs::{Knobs, MIN_IDLE, Streams};
use super::rlimit::Rlimit;
use super::source::{self, Problem, Severity, Source, Value};
use super::tls as tls_settings;
use super::{Config, DefaultsOptions};
use crate::cli::{Args, Role, parse_tail};
use crate::exit::{Exit, fail};
use crate::net::address::SstAddress;
use crate::protocol::NO_USER;
use crate::server_input::RemoteAuth;
use crate::tls::{SslMode, TlsSettings};
use crate::transfer::Layout;
use crate::transfer::codec::Codec;
use crate::transfer::external::ExternalRules;

/// Looks up an environment variable (the process environment, or a map in
/// tests).
pub(crate) type Getenv<'a> = &'a dyn Fn(&str) -> Option<OsString>;

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
    /// Donor: data streams (`backup-threads`, or by default from the cores
    /// and the round trip).
    pub(crate) streams: Streams,
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
    /// Donor: in the live rounds and after `continue`, copy at idle I/O
    /// priority (`rsrsync-io-priority=idle`, the default) or at the
    /// priority mariadbd gave us (`normal`; see `roles::priority`).
    pub(crate) idle_copy: bool,
    /// Donor, short lock: follow InnoDB's redo log during the live rounds
    /// and send the blocks it shows unchanged unread
    /// (`rsrsync-lock-index=redo`, the default; `full` compares every
    /// block; see `transfer::redo`).
    pub(crate) redo_index: bool,
    /// Tests: the byte-equal oracle's directory (`RSRSYNC_TEST_HOLD`,
    /// see `roles::oracle`).
    pub(crate) test_hold: Option<PathBuf>,
    /// Donor: the cap on its send rate (`rlimit`); `None`: no limit.
    pub(crate) rlimit: Option<Rlimit>,
    /// Donor: the cap holds under the read lock too (`rlimit-lock=on`);
    /// by default the lock is never stretched by it.
    pub(crate) rlimit_lock: bool,
    pub(crate) tls: TlsSettings,
    /// Every setting of the configuration as resolved, with its source,
    /// in the order `check` shows them (the TLS rows last).
    pub(crate) values: Vec<Value>,
}

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

    /// Resolves the settings of this run, as an SST runs with them: each
    /// problem of the configuration is logged, and one that stops the SST
    /// is its error.
    pub(crate) fn resolve(
        args: &Args,
        program: &OsStr,
        env: Getenv<'_>,
        stdin: &RemoteAuth,
        config: &Config,
    ) -> Result<Settings> {
        let (settings, problems) = Settings::resolve_all(args, program, env, stdin, config)?;
        source::enforce(&problems)?;
        Ok(settings)
    }

    /// [`Settings::resolve`] without stopping at a problem of the
    /// configuration: where a value cannot be used its default stands in,
    /// and the problems are returned, as `check` reports them. An error
    /// only for what mariadbd passes (no `--datadir`, a bad `--address`).
    pub(crate) fn resolve_all(
        args: &Args,
        program: &OsStr,
        env: Getenv<'_>,
        stdin: &RemoteAuth,
        config: &Config,
    ) -> Result<(Settings, Vec<Problem>)> {
        let role = args.role.unwrap_or(Role::Donor);
        let datadir = args.datadir.as_ref().map(PathBuf::from).ok_or_else(|| {
            fail(
                Exit::NotFound,
                "The '--datadir' parameter must be passed to the SST script",
            )
        })?;
        let address = resolve_address(args)?;
        let tail = parse_tail(&args.mysqld_args);
        let mut values = Vec::new();
        let mut problems = Vec::new();
        let class_dirs = dirs::class_dirs(args, &tail, env, config, &datadir, &mut values);
        let data_files = dirs::data_files(&tail, config, &mut values, &mut problems);
        let binlog = dirs::binlog(args, &tail, config, &datadir, &mut values);
        let mut layout = Layout::new(
            datadir.clone(),
            class_dirs.sys,
            class_dirs.redo,
            class_dirs.undo,
            class_dirs.aria,
            data_files,
            &dirs::binlog_dirs(binlog.as_ref()),
        );
        layout.external = external_rules(config, &mut values, &mut problems);
        let mut knobs = Knobs {
            config,
            values: &mut values,
            problems: &mut problems,
        };
        let max_binlogs = knobs.max_binlogs();
        let streams = knobs.streams();
        let timeouts = Timeouts {
            initial: knobs.seconds("rsrsync-initial-timeout", 300, Duration::ZERO),
            idle: knobs.seconds("rsrsync-timeout", 120, MIN_IDLE),
            flush: knobs.seconds("rsrsync-flush-timeout", 3600, Duration::ZERO),
        };
        let [
            lock,
            snapshot,
            delta,
            compress,
            rlimit_lock,
            io_priority,
            lock_index,
        ] = knobs.switches();
        let short_lock = lock == "short";
        // rsrsync-lock=full reads every file under the lock: no snapshot.
        let snapshot = snapshot == "auto" && short_lock;
        let delta = delta == "on";
        let compress_name = compress;
        let compress = Codec::from_name(compress_name);
        let rlimit_lock = rlimit_lock == "on";
        knobs.switch_row("rsrsync-lock", lock);
        knobs.switch_row("rsrsync-snapshot", if snapshot { "auto" } else { "off" });
        knobs.switch_row("rsrsync-delta", if delta { "on" } else { "off" });
        knobs.switch_row("rsrsync-compress", compress_name);
        knobs.switch_row("rsrsync-io-priority", io_priority);
        let idle_copy = io_priority == "idle";
        // The index serves the rounds before the lock: with the full lock
        // there are none.
        let redo_index = lock_index == "redo" && short_lock;
        knobs.switch_row(
            "rsrsync-lock-index",
            if redo_index { "redo" } else { "full" },
        );
        let rlimit = Rlimit::resolve(config).unwrap_or_else(|problem| {
            problems.push(problem);
            None
        });
        values.push(Rlimit::row(
            config,
            rlimit.as_ref(),
            short_lock,
            rlimit_lock,
        ));
        values.push(Value::new(
            "rlimit-lock",
            if rlimit_lock { "on" } else { "off" },
            Source::of(config, "sst", "rlimit-lock"),
        ));
        let tls = resolve_tls(config, role, env, &mut values, &mut problems);
        Ok((
            Settings {
                tls,
                delta,
                short_lock,
                live_settled: Duration::from_secs(1),
                compress,
                snapshot,
                idle_copy,
                redo_index,
                test_hold: env("RSRSYNC_TEST_HOLD")
                    .filter(|v| !v.is_empty())
                    .map(PathBuf::from),
                rlimit,
                rlimit_lock,
                role,
                method: method_name(program),
                remote_auth: remote_auth(env, &address, stdin),
                address,
                layout,
                binlog,
                parent: args.parent.filter(|p| *p > 0),
                progress: args.progress,
                bypass: args.bypass,
                gtid_state: args.gtid.as_ref().map(|gtid| {
                    format!("{gtid} {}", args.gtid_domain_id.as_deref().unwrap_or("0"))
                }),
                max_binlogs,
                streams,
                timeouts,
                joiner_delay: env("MTR_SST_JOINER_DELAY")
                    .and_then(|v| v.to_str().and_then(|s| s.trim().parse().ok()))
                    .map(Duration::from_secs)
                    .unwrap_or_default(),
                values,
            },
            problems,
        ))
    }
}

/// `--address`, checked against `--port`.
fn resolve_address(args: &Args) -> Result<SstAddress> {
    let text = args
        .address
        .as_deref()
        .ok_or_else(|| fail(Exit::Invalid, "the '--address' parameter is missing"))?;
    let address = SstAddress::parse(text).map_err(|e| fail(Exit::Invalid, format!("{e:#}")))?;
    if let Some(port) = &args.port {
        if text.contains(':') && port != &address.port.to_string() {
            return Err(fail(
                Exit::NotFound,
                format!(
                    "port mismatch: --port {port} but port {} in --address",
                    address.port
                ),
            ));
        }
    }
    Ok(address)
}

/// `rsrsync-data-dirs` and `rsrsync-data-dir-map`, with their rows; rules
/// that do not parse stop the SST, and none stand in.
fn external_rules(
    config: &Config,
    values: &mut Vec<Value>,
    problems: &mut Vec<Problem>,
) -> ExternalRules {
    let [dirs, map] = ["rsrsync-data-dirs", "rsrsync-data-dir-map"].map(|key| {
        let value = config.get("sst", key);
        let shown = value.clone().unwrap_or_else(|| "none".to_string());
        values.push(Value::new(key, shown, Source::of(config, "sst", key)));
        value
    });
    ExternalRules::parse(dirs.as_deref(), map.as_deref()).unwrap_or_else(|e| {
        problems.push(Problem::new(
            "rsrsync-data-dirs",
            Severity::Stop(Exit::Invalid),
            format!("[sst] {e:#}"),
            "fix it in my.cnf",
        ));
        ExternalRules::default()
    })
}

/// This role's TLS settings, with their rows; where they cannot be
/// resolved, the problem stops the SST and no TLS stands in.
fn resolve_tls(
    config: &Config,
    role: Role,
    env: Getenv<'_>,
    values: &mut Vec<Value>,
    problems: &mut Vec<Problem>,
) -> TlsSettings {
    let tls = match tls_settings::resolve(config, role) {
        Ok(resolved) => {
            values.extend(resolved.values);
            problems.extend(resolved.notes);
            resolved.settings
        }
        Err(problem) => {
            problems.push(problem);
            TlsSettings {
                mode: SslMode::Disabled,
                ca: None,
                capath: None,
                cert: None,
                key: None,
            }
        }
    };
    // mtr's hook that hides stunnel from the rsync method: for us, TLS
    // "is not available"; asked-for encryption must then stop the SST.
    if tls.enabled() && env("MTR_SST_SIMULATE_NO_STUNNEL").is_some_and(|v| !v.is_empty()) {
        problems.push(Problem::new(
            "TLS",
            Severity::Stop(Exit::NotFound),
            format!(
                "ssl-mode is set to '{}', but TLS is not available \
                 (MTR_SST_SIMULATE_NO_STUNNEL): cannot perform an encrypted transfer",
                tls.mode.name()
            ),
            "set ssl-mode to DISABLED or remove the simulation",
        ));
    }
    tls
}

/// The joiner's `(user, secret)`: 10.x passes it in the environment, 11.x
/// on stdin; leniently, in the address itself.
fn remote_auth(
    env: Getenv<'_>,
    address: &SstAddress,
    stdin: &RemoteAuth,
) -> Option<(String, String)> {
    env("WSREP_SST_OPT_REMOTE_AUTH")
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
        })
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
        assert_eq!((s.streams, s.max_binlogs), (Streams::Set(3), -1));
        assert_eq!(s.timeouts.idle, Duration::from_secs(9));
        assert_eq!(s.timeouts.initial, Duration::from_secs(300));
        assert_eq!(
            s.layout.data_files,
            [OsString::from("foobar"), OsString::from("ibdata2")]
        );
        assert_eq!(s.address.sst_ver.as_deref(), Some("1"));
        assert!(s.delta && s.short_lock && s.redo_index, "defaults");
        let knobs = "[sst]\nrsrsync-delta=OFF\nrsrsync-lock=full\n";
        let s = resolve_with(&words, knobs, &[]).expect("resolves");
        assert!(!s.delta && !s.short_lock);
        assert!(!s.redo_index, "no live rounds to serve with the full lock");
        let s = resolve_with(&words, "[sst]\nrsrsync-lock-index=Full\n", &[]).expect("resolves");
        assert!(s.short_lock && !s.redo_index);
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
