//! This node as an SST would resolve it: the arguments mariadbd would pass
//! (the datadir and the joiner's address, worked out here from the option
//! files as mariadbd works them out), then every setting, with where it
//! came from, and every problem, as the one resolver gives them
//! ([`Settings::resolve_all`]): `check` only renders them, so it cannot
//! say something the SST does not do. Values that can be secrets
//! (`wsrep_sst_auth`) are never copied into the report; their presence is.

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;

use anyhow::{Context, Result};

use super::args::CheckArgs;
use super::report::{Report, Source};
use crate::config::tls::TLS_KEYS;
use crate::config::{Config, Settings};
use crate::net::address::{DEFAULT_PORT, SstAddress};

/// Where mariadbd keeps its data when nothing says otherwise.
const DEFAULT_DATADIR: &str = "/var/lib/mysql";

/// This node, resolved.
#[derive(Debug)]
pub(crate) struct Node {
    /// The configuration as read.
    pub(crate) config: Config,
    /// The settings of a donor run (directories, binlogs, knobs); `tls.rs`
    /// resolves TLS per role.
    pub(crate) settings: Settings,
    /// The joiner's SST address (what `ready` would publish).
    pub(crate) address: SstAddress,
    /// The user mariadbd runs as (`user`, default `mysql`).
    pub(crate) user: String,
}

/// Resolves this node and adds the settings table to `report`.
pub(crate) fn node(args: &CheckArgs, config: Config, report: &mut Report) -> Result<Node> {
    let (datadir, datadir_source) = match (&args.datadir, config.lookup("--mysqld", "datadir")) {
        (Some(dir), _) => (dir.clone(), Source::Option("--datadir".into())),
        (None, Some((value, origin))) => (PathBuf::from(value), Source::file(origin)),
        (None, None) => (PathBuf::from(DEFAULT_DATADIR), Source::Default),
    };
    let (address, address_source) = sst_address(args, &config)?;
    let mut argv: Vec<OsString> = ["--role", "donor", "--address"].map(OsString::from).into();
    argv.push(format!("{}:{}", address.host, address.port).into());
    argv.push("--datadir".into());
    argv.push(datadir.clone().into());
    let parsed = crate::cli::parse(argv).context("building the SST arguments")?;
    let (settings, problems) = Settings::resolve_all(
        &parsed,
        OsStr::new("wsrep_sst_rsrsync"),
        &|key| std::env::var_os(key),
        &crate::server_input::RemoteAuth::default(),
        &config,
    )
    .context("resolving the settings as a donor would")?;
    report.setting("datadir", datadir.display().to_string(), datadir_source);
    // TLS, which depends on the role, is `tls.rs`'s to show and judge.
    let is_tls = |key: &str| key == "TLS" || TLS_KEYS.contains(&key);
    for value in settings.values.iter().filter(|v| !is_tls(&v.key)) {
        report.settings.push(value.clone());
    }
    for problem in problems.iter().filter(|p| !is_tls(&p.key)) {
        report.problem(&problem.key, problem);
    }
    report.setting(
        "SST address (joiner)",
        format!("{}:{}", address.host, address.port),
        address_source,
    );
    method_row(&config, report);
    let (user, source) = match config.lookup("--mysqld", "user") {
        Some((value, origin)) => (value, Source::file(origin)),
        None => ("mysql".to_string(), Source::Default),
    };
    report.setting("user", user.clone(), source);
    if config.present("--mysqld|sst", "wsrep-sst-auth") {
        // Never the value: it holds a password.
        report.setting(
            "wsrep_sst_auth",
            "set (value not shown; rsrsync does not use it)",
            Source::file(config.origin_of("--mysqld|sst", "wsrep-sst-auth")),
        );
    }
    Ok(Node {
        config,
        settings,
        address,
        user,
    })
}

fn method_row(config: &Config, report: &mut Report) {
    let (method, source) = match config.lookup("--mysqld", "wsrep-sst-method") {
        Some((value, origin)) => (value, Source::file(origin)),
        None => ("rsync".to_string(), Source::Default),
    };
    if method != "rsrsync" {
        report.warn(
            "wsrep_sst_method",
            format!(
                "this node asks for SST method '{method}' ({source}) when it joins; a donor \
                 runs the method its joiner asks for"
            ),
            "set wsrep_sst_method = rsrsync in the [mysqld] or [galera] group of every node",
        );
    } else {
        report.ok("wsrep_sst_method", format!("rsrsync ({source})"));
    }
    report.setting("wsrep_sst_method", method, source);
}

/// The joiner's SST address: `--address`, else `wsrep_sst_receive_address`
/// (unless `AUTO`), else the host of `wsrep_node_address`, else a specific
/// `bind-address`, else the first non-loopback interface address (as
/// mariadbd guesses it), with the rsync method's port 4444 unless given.
fn sst_address(args: &CheckArgs, config: &Config) -> Result<(SstAddress, Source)> {
    let parse = |text: &str, what: &str| {
        SstAddress::parse(text).with_context(|| format!("reading the SST address from {what}"))
    };
    if let Some(text) = &args.address {
        return Ok((
            parse(text, "--address")?,
            Source::Option("--address".into()),
        ));
    }
    if let Some((text, origin)) = config.lookup("--mysqld", "wsrep-sst-receive-address") {
        if !text.eq_ignore_ascii_case("AUTO") {
            let source = Source::file(origin);
            return Ok((
                parse(&text, &format!("wsrep_sst_receive_address ({source})"))?,
                source,
            ));
        }
    }
    let with_default_port = |host: String, how: String| {
        let address = SstAddress {
            host,
            port: DEFAULT_PORT,
            module: None,
            sst_ver: None,
            auth: None,
        };
        (address, Source::Derived(how))
    };
    if let Some((text, origin)) = config.lookup("--mysqld", "wsrep-node-address") {
        let source = Source::file(origin);
        let host = parse(&text, &format!("wsrep_node_address ({source})"))?.host;
        return Ok(with_default_port(
            host,
            format!("host of wsrep_node_address ({source}), port {DEFAULT_PORT}"),
        ));
    }
    if let Some((text, origin)) = config.lookup("--mysqld", "bind-address") {
        if !matches!(text.as_str(), "0.0.0.0" | "::" | "*") {
            let source = Source::file(origin);
            let host = parse(&text, &format!("bind-address ({source})"))?.host;
            return Ok(with_default_port(
                host,
                format!("bind-address ({source}), port {DEFAULT_PORT}"),
            ));
        }
    }
    Ok(match guessed_ip() {
        Some(ip) => with_default_port(
            ip,
            format!(
                "first non-loopback interface address, as mariadbd guesses it; port \
                 {DEFAULT_PORT}"
            ),
        ),
        None => with_default_port(
            "127.0.0.1".into(),
            format!("no interface address found; loopback, port {DEFAULT_PORT}"),
        ),
    })
}

/// The first IPv4 address of an interface that is up and not loopback.
fn guessed_ip() -> Option<String> {
    use nix::net::if_::InterfaceFlags;
    let addrs = nix::ifaddrs::getifaddrs().ok()?;
    addrs
        .filter(|a| {
            a.flags.contains(InterfaceFlags::IFF_UP)
                && !a.flags.contains(InterfaceFlags::IFF_LOOPBACK)
        })
        .filter_map(|a| a.address?.as_sockaddr_in().map(|v4| v4.ip()))
        .find(|ip| !ip.is_loopback())
        .map(|ip| ip.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Value as Setting;

    fn args() -> CheckArgs {
        CheckArgs {
            defaults: Default::default(),
            datadir: None,
            address: None,
            peer: None,
            listen: false,
            json: false,
            timeout: super::super::args::DEFAULT_TIMEOUT,
        }
    }

    fn resolved(text: &str, args: &CheckArgs) -> (Node, Report) {
        let config = Config::from_cnf_bytes(text.as_bytes(), None).expect("cnf");
        let mut report = Report::default();
        let node = node(args, config, &mut report).expect("resolves");
        (node, report)
    }

    fn row<'a>(report: &'a Report, key: &str) -> &'a Setting {
        report
            .settings
            .iter()
            .find(|s| s.key == key)
            .unwrap_or_else(|| panic!("no row {key}"))
    }

    /// The messages of the findings that failed.
    fn failures(report: &Report) -> Vec<&str> {
        report
            .findings
            .iter()
            .filter(|f| f.status == super::super::report::Status::Fail)
            .map(|f| f.message.as_str())
            .collect()
    }

    fn line_of(setting: &Setting) -> Option<usize> {
        match &setting.source {
            Source::File(origin) => Some(origin.line),
            _ => None,
        }
    }

    #[test]
    fn each_value_names_its_line() {
        let cnf = "[mysqld]\ndatadir=/srv/db\ninnodb_log_group_home_dir=redo\nlog-bin\n\
                   wsrep_sst_method=rsrsync\nwsrep_sst_auth=root:hunter2\n\
                   [sst]\nbackup-threads=3\nrsrsync-timeout=9\n\
                   [galera]\nwsrep_node_address=10.1.2.3:4567\n";
        let (node, report) = resolved(cnf, &args());
        assert_eq!(node.settings.layout.datadir, PathBuf::from("/srv/db"));
        assert_eq!(line_of(row(&report, "datadir")), Some(2));
        assert_eq!(
            row(&report, "innodb_log_group_home_dir").value,
            "/srv/db/redo"
        );
        assert_eq!(line_of(row(&report, "innodb_log_group_home_dir")), Some(3));
        assert_eq!(
            row(&report, "innodb_data_home_dir").source,
            Source::Derived("default (the datadir)".into())
        );
        assert_eq!(line_of(row(&report, "log_bin")), Some(4));
        assert_eq!(row(&report, "backup-threads").value, "3");
        assert_eq!(line_of(row(&report, "backup-threads")), Some(8));
        assert_eq!(row(&report, "rsrsync-timeout").value, "9 s");
        assert_eq!(
            row(&report, "rsrsync-flush-timeout").source,
            Source::Default
        );
        assert_eq!(row(&report, "SST address (joiner)").value, "10.1.2.3:4444");
        assert_eq!(
            (node.address.host.as_str(), node.address.port),
            ("10.1.2.3", 4444)
        );
        assert!(report.passed());
        // The secret's presence is reported, never its value.
        assert_eq!(line_of(row(&report, "wsrep_sst_auth")), Some(6));
        let everything = format!("{report:?}");
        assert!(!everything.contains("hunter2"), "{everything}");
    }

    #[test]
    fn the_command_line_and_defaults() {
        let mut a = args();
        a.datadir = Some("/cli/data".into());
        a.address = Some("127.0.0.5:4455".into());
        let (node, report) = resolved("[mysqld]\ndatadir=/cnf\n", &a);
        assert_eq!(
            row(&report, "datadir").source,
            Source::Option("--datadir".into())
        );
        assert_eq!(node.settings.layout.datadir, PathBuf::from("/cli/data"));
        assert_eq!(row(&report, "SST address (joiner)").value, "127.0.0.5:4455");
        assert_eq!(row(&report, "log_bin").value, "off");
        assert_eq!(row(&report, "user").value, "mysql");
        // rsync is mariadbd's default method: a warning, with the fix.
        let warn = report
            .findings
            .iter()
            .find(|f| f.topic == "wsrep_sst_method")
            .expect("method finding");
        assert_eq!(warn.status, super::super::report::Status::Warn);
        let (_, report) = resolved("", &args());
        assert_eq!(row(&report, "datadir").value, DEFAULT_DATADIR);
        assert_eq!(row(&report, "datadir").source, Source::Default);
    }

    #[test]
    fn receive_address_wins_unless_auto() {
        let cnf =
            "[mysqld]\nwsrep_node_address=10.0.0.9\nwsrep_sst_receive_address=10.0.0.8:5555\n";
        let (node, _) = resolved(cnf, &args());
        assert_eq!(
            (node.address.host.as_str(), node.address.port),
            ("10.0.0.8", 5555)
        );
        let cnf = "[mysqld]\nwsrep_node_address=[fd00::1]:4567\nwsrep_sst_receive_address=AUTO\n";
        let (node, _) = resolved(cnf, &args());
        assert_eq!(
            (node.address.host.as_str(), node.address.port),
            ("[fd00::1]", 4444)
        );
        let (node, _) = resolved("[mysqld]\nbind-address=10.7.7.7\n", &args());
        assert_eq!(node.address.host, "10.7.7.7");
        // Bare IPv6 literals, as galera_3nodes.galera_ipv6_rsync writes them.
        let (node, _) = resolved("[mysqld]\nwsrep_node_address=::1\n", &args());
        assert_eq!(
            (node.address.host.as_str(), node.address.port),
            ("[::1]", 4444)
        );
        let (node, _) = resolved("[mysqld]\nbind-address=::1\n", &args());
        assert_eq!(node.address.host, "[::1]");
    }

    #[test]
    fn ignored_numbers_are_warned_about() {
        let cnf = "[sst]\nrsrsync-timeout=soon\nsst-max-binlogs=many\nrsrsync-flush-timeout=-1\n";
        let (node, report) = resolved(cnf, &args());
        assert_eq!(node.settings.timeouts.idle.as_secs(), 120);
        let warned: Vec<&str> = report
            .findings
            .iter()
            .filter(|f| f.status == super::super::report::Status::Warn)
            .map(|f| f.topic.as_str())
            .collect();
        for key in [
            "rsrsync-timeout",
            "sst-max-binlogs",
            "rsrsync-flush-timeout",
        ] {
            assert!(warned.contains(&key), "{key}: {warned:?}");
        }
    }

    #[test]
    fn bad_switches_fail_and_the_rest_resolves() {
        let cnf = "[mysqld]\ndatadir=/x\n[sst]\nrsrsync-lock=sometimes\nrsrsync-delta=OFF\n";
        let (node, report) = resolved(cnf, &args());
        let failed = failures(&report);
        assert_eq!(failed.len(), 1, "{failed:?}");
        assert!(
            failed[0].starts_with("[sst] rsrsync-lock=sometimes (<test my.cnf>:4 [sst])"),
            "{failed:?}"
        );
        assert!(node.settings.short_lock, "the default stands in");
        assert!(!node.settings.delta, "OFF is off, in any case");
        assert_eq!(row(&report, "rsrsync-delta").value, "off");
        assert_eq!(line_of(row(&report, "rsrsync-delta")), Some(5));
        assert_eq!(row(&report, "rsrsync-lock").value, "short");
    }

    #[test]
    fn the_rate_limit_is_shown_and_a_bad_one_fails() {
        let (node, report) = resolved("[sst]\nrlimit=10m\n", &args());
        assert_eq!(node.settings.rlimit.map(|r| r.rate), Some(10 << 20));
        assert_eq!(
            row(&report, "rlimit").value,
            "10 MiB/s (10485760 bytes/s), not under the lock"
        );
        assert_eq!(line_of(row(&report, "rlimit")), Some(2));
        assert_eq!(row(&report, "rlimit-lock").value, "off");
        assert!(report.passed());
        let (node, report) = resolved("[sst]\nrlimit-lock=on\nrlimit=fast\n", &args());
        assert_eq!(node.settings.rlimit, None, "resolved without it");
        assert_eq!(row(&report, "rlimit").value, "0 (no limit)");
        assert_eq!(row(&report, "rlimit-lock").value, "on");
        let failed = failures(&report);
        assert_eq!(failed.len(), 1, "{failed:?}");
        assert!(
            failed[0].starts_with("[sst] rlimit=fast (<test my.cnf>:3 [sst]) is not a rate"),
            "{failed:?}"
        );
    }

    #[test]
    fn a_broken_tls_setting_does_not_hide_the_rest() {
        let (node, report) = resolved("[sst]\nssl-mode=BOGUS\n[mysqld]\ndatadir=/x\n", &args());
        assert_eq!(node.settings.layout.datadir, PathBuf::from("/x"));
        assert_eq!(row(&report, "datadir").value, "/x");
    }
}
