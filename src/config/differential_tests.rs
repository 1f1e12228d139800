//! Differential tests: the native reader against the real
//! `my_print_defaults` on the same files, comparing the option lines of
//! both group sets and the `get`/`present` answers for a list of keys.
//! Skipped (with a note) where `my_print_defaults` is not installed.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::*;
use crate::testutil::Rng;

const MY_PRINT_DEFAULTS: &str = "/usr/bin/my_print_defaults";

const KEYS: &[&str] = &[
    "socket",
    "datadir",
    "innodb-data-home-dir",
    "innodb-log-group-home-dir",
    "innodb-undo-directory",
    "aria-log-dir-path",
    "log-bin",
    "log-bin-index",
    "log-basename",
    "ssl-mode",
    "ssl-ca",
    "ssl-cert",
    "ssl-key",
    "tca",
    "tkey",
    "tmpdir",
    "backup-threads",
    "sst-max-binlogs",
    "from",
    "order",
    "k",
    "key",
    "x",
];

const GROUP_LISTS: &[&str] = &["--mysqld", "sst", "--mysqld|sst", "sst|--mysqld"];

#[allow(clippy::print_stderr)]
fn program() -> Option<Reader> {
    if Path::new(MY_PRINT_DEFAULTS).exists() {
        Some(Reader::PrintDefaults(MY_PRINT_DEFAULTS.into()))
    } else {
        eprintln!("note: {MY_PRINT_DEFAULTS} is not installed; differential test skipped");
        None
    }
}

fn native() -> Reader {
    Reader::Native {
        server_version: "10.11".into(),
    }
}

fn write(path: &Path, text: &str) {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).expect("creating a test directory");
    }
    fs::write(path, text).expect("writing a test option file");
    // Independent of the umask: world-writable files are a case of their own.
    fs::set_permissions(path, fs::Permissions::from_mode(0o644)).expect("chmod 644");
}

/// Loads with both readers and checks they agree: both fail, or both give
/// the same lines and the same answers. Returns the native result.
fn compare(what: &str, opts: &DefaultsOptions, env: &Env) -> Option<anyhow::Result<Config>> {
    let reference = program()?;
    let expected = Config::load_env(opts, &reference, env);
    let got = Config::load_env(opts, &native(), env);
    match (&expected, &got) {
        (Ok(expected), Ok(got)) => {
            assert_eq!(got.mysqld, expected.mysqld, "{what}: --mysqld lines");
            assert_eq!(got.sst, expected.sst, "{what}: sst lines");
            assert_origins_name_their_lines(what, got);
            for groups in GROUP_LISTS {
                for key in KEYS {
                    assert_eq!(
                        got.get(groups, key),
                        expected.get(groups, key),
                        "{what}: get({groups}, {key})"
                    );
                    assert_eq!(
                        got.present(groups, key),
                        expected.present(groups, key),
                        "{what}: present({groups}, {key})"
                    );
                }
            }
        }
        (Err(_), Err(_)) => {}
        (expected, got) => panic!(
            "{what}: my_print_defaults {} but the native reader {}",
            outcome(expected),
            outcome(got)
        ),
    }
    Some(got)
}

/// Every origin the native reader recorded names a line of its file that
/// holds the option's name, in the group it says.
fn assert_origins_name_their_lines(what: &str, config: &Config) {
    assert!(config.has_origins(), "{what}: an origin for every line");
    let pairs = config
        .mysqld
        .iter()
        .zip(&config.mysqld_origins)
        .chain(config.sst.iter().zip(&config.sst_origins));
    for (option, origin) in pairs {
        let text = fs::read(&origin.file).expect("an origin names a readable file");
        let text = String::from_utf8_lossy(&text);
        let line = text
            .split('\n')
            .nth(origin.line - 1)
            .unwrap_or_else(|| panic!("{what}: {origin} is past the end of the file"));
        let name = option.trim_start_matches("--");
        let name = name.split('=').next().unwrap_or(name);
        assert!(
            line.contains(name),
            "{what}: {origin} is {line:?}, which does not hold {option:?}"
        );
    }
}

fn outcome(result: &anyhow::Result<Config>) -> String {
    match result {
        Ok(config) => format!("read {:?} / {:?}", config.mysqld, config.sst),
        Err(err) => format!("failed: {err:#}"),
    }
}

fn file(path: &Path) -> DefaultsOptions {
    DefaultsOptions {
        file: Some(path.to_path_buf()),
        ..DefaultsOptions::default()
    }
}

fn env_home(home: &Path) -> Env {
    Env {
        home: Some(home.into()),
        ..Env::default()
    }
}

/// A realistic tree: includes, an include directory, suffixed groups,
/// quotes, comments, a decoy, a broken included file.
fn realistic_tree(root: &Path) -> PathBuf {
    let r = root.display();
    let main = root.join("my.cnf");
    write(
        &main,
        &format!(
            "# The MariaDB configuration file\n\
             [client-server]\n\
             socket = /run/mysqld/mysqld.sock\n\
             \n\
             [mysqld]\n\
             datadir = \"/var/lib/my sql\"   # quoted, then a comment\n\
             innodb_data_home_dir = /data/ibdata\n\
             loose-ssl-mode = verify_ca\n\
             log-bin\n\
             tmpdir = '/tmp/quoted'\n\
             !include {r}/inc/one.cnf\n\
             innodb-log-group-home-dir = /logs ; not a comment\n\
             !include {r}/missing.cnf\n\
             !include ~/home-inc.cnf\n\
             [mysqld.2]\n\
             innodb-data-home-dir = /suffixed\n\
             [galera]\n\
             innodb-data-home-dir = /tmp\n\
             innodb-data-home-dir =\n\
             !includedir {r}/conf.d\n\
             [sst]\n\
             ssl-ca = /sst/ca.pem\n\
             tca = \"/legacy ca\"\n\
             backup_threads=2\n\
             [SST.2]\n\
             ssl-cert=/sst2/cert.pem\n\
             [mariadb-10.11]\n\
             aria-log-dir-path = /aria\\\\dir\n\
             [client]\n\
             ssl-ca = /client/not-server\n"
        ),
    );
    write(
        &root.join("inc/one.cnf"),
        "[mysqld]\nssl-key = /inc/key.pem\n[sst]\nssl-key = /inc/sst-key.pem\n",
    );
    write(
        &root.join("home/home-inc.cnf"),
        "[mysqld]\nfrom=home include\n",
    );
    let d = root.join("conf.d");
    write(
        &d.join("50-server.cnf"),
        "[mysqld]\norder=50\nlog_bin_index=idx\n",
    );
    write(
        &d.join("10-first.cnf"),
        "[mysqld]\norder=10\n[sst]\ntkey=/k\n",
    );
    write(&d.join("Z-upper.cnf"), "[mariadbd]\norder=Z\n");
    write(&d.join(".hidden.cnf"), "[mysqld]\nfrom=hidden\n");
    write(&d.join("README"), "not an option file\n");
    write(&d.join("x.ini"), "[mysqld]\nfrom=ini\n");
    write(&d.join("UP.CNF"), "[mysqld]\nfrom=upper-case extension\n");
    write(&d.join("ww.cnf"), "[mysqld]\nfrom=world-writable\n");
    fs::set_permissions(d.join("ww.cnf"), fs::Permissions::from_mode(0o666)).expect("chmod");
    fs::create_dir_all(d.join("sub.cnf")).expect("mkdir");
    write(&d.join("sub.cnf/in.cnf"), "[mysqld]\nfrom=subdirectory\n");
    write(
        &d.join("60-broken.cnf"),
        "[mysqld]\nx=kept\nsst-max-binlogs=3\n[broken\nx=lost\n",
    );
    write(&d.join("70-nogroup.cnf"), "x=no group\n[mysqld]\nx=lost\n");
    write(
        &d.join("80-after.cnf"),
        "[galera]\nlog-basename=after-broken\n",
    );
    main
}

#[test]
fn realistic_tree_with_suffixes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let main = realistic_tree(dir.path());
    let env = env_home(&dir.path().join("home"));
    let mut opts = file(&main);
    let Some(got) = compare("no suffix", &opts, &env) else {
        return;
    };
    let got = got.expect("the tree reads");
    assert_eq!(got.get("--mysqld", "order").as_deref(), Some("Z"));
    assert_eq!(got.get("--mysqld", "from").as_deref(), Some("hidden"));
    assert_eq!(got.get("--mysqld", "x").as_deref(), Some("kept"));
    assert_eq!(got.get("--mysqld", "innodb-data-home-dir"), None);
    assert!(got.present("--mysqld", "innodb-data-home-dir"));
    opts.group_suffix = Some(".2".into());
    compare("suffix .2", &opts, &env);
    opts.group_suffix = None;
    let env_suffix = Env {
        group_suffix: Some(".2".into()),
        ..env.clone()
    };
    compare("MYSQL_GROUP_SUFFIX=.2", &opts, &env_suffix);
    opts.group_suffix = Some(".3".into());
    compare(
        "--defaults-group-suffix beats MYSQL_GROUP_SUFFIX",
        &opts,
        &env_suffix,
    );
    // --defaults-extra-file is ignored next to --defaults-file.
    opts.extra_file = Some(dir.path().join("does-not-exist.cnf"));
    compare("extra file next to defaults file", &opts, &env);
    // HOME unset: `~/` stays literal (a relative path that is not there).
    compare("no HOME", &file(&main), &Env::default());
}

#[test]
fn default_file_list_with_extra_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    write(
        &root.join("extra.cnf"),
        "[mysqld]\nfrom=extra\norder=extra\n",
    );
    write(
        &root.join("home/.my.cnf"),
        "[mysqld]\nfrom=home\n[sst]\ntca=/home\n",
    );
    write(
        &root.join("mh/my.cnf"),
        "[mysqld]\nfrom=mysql home\norder=mh\n",
    );
    let env = Env {
        home: Some(root.join("home").into()),
        mysql_home: Some(root.join("mh").into()),
        group_suffix: None,
    };
    // This reads the machine's /etc/my.cnf and /etc/mysql/my.cnf too, with
    // both readers alike.
    let opts = DefaultsOptions {
        extra_file: Some(root.join("extra.cnf")),
        ..DefaultsOptions::default()
    };
    let Some(got) = compare("extra file, MYSQL_HOME, HOME", &opts, &env) else {
        return;
    };
    if let Ok(got) = got {
        assert_eq!(got.get("--mysqld", "from").as_deref(), Some("home"));
        assert_eq!(got.get("--mysqld", "order").as_deref(), Some("extra"));
    }
    let etc = Env {
        mysql_home: Some("/etc".into()),
        ..env.clone()
    };
    compare("MYSQL_HOME=/etc moves /etc/my.cnf later", &opts, &etc);
    let missing = DefaultsOptions {
        extra_file: Some(root.join("missing.cnf")),
        ..DefaultsOptions::default()
    };
    let got = compare("missing extra file", &missing, &env);
    if let Some(got) = got {
        let err = got.expect_err("a missing extra file is an error");
        assert!(
            format!("{err:#}").contains("--defaults-extra-file"),
            "{err:#}"
        );
    }
}

#[test]
fn failures_agree() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let cases: &[(&str, &str)] = &[
        ("option before a group", "x=1\n[mysqld]\n"),
        ("no closing bracket", "[mysqld]\nx=1\n[mysqld\n"),
        ("include without a name", "[mysqld]\n!include   \n"),
        ("includedir without a name", "[mysqld]\n!includedir\n"),
        (
            "includedir of a missing directory",
            "[mysqld]\n!includedir /nonexistent-dir\n",
        ),
    ];
    for (what, text) in cases {
        let path = root.join("bad.cnf");
        write(&path, text);
        let Some(got) = compare(what, &file(&path), &Env::default()) else {
            return;
        };
        assert!(got.is_err(), "{what}");
    }
    let missing = root.join("missing.cnf");
    if let Some(got) = compare("missing defaults file", &file(&missing), &Env::default()) {
        let err = format!(
            "{:#}",
            got.expect_err("a missing --defaults-file is an error")
        );
        assert!(err.contains(&missing.display().to_string()), "{err}");
        assert!(err.contains("--defaults-file"), "{err}");
    }
    // Not failures: a directory, an empty file, a world-writable file.
    compare("directory as defaults file", &file(root), &Env::default());
    let empty = root.join("empty.cnf");
    write(&empty, "");
    compare("empty file", &file(&empty), &Env::default());
    let open = root.join("open.cnf");
    write(&open, "[mysqld]\nx=1\n");
    fs::set_permissions(&open, fs::Permissions::from_mode(0o666)).expect("chmod");
    let got = compare(
        "world-writable defaults file",
        &file(&open),
        &Env::default(),
    );
    if let Some(got) = got {
        assert!(got.expect("ignored, not an error").mysqld.is_empty());
    }
}

#[test]
fn include_cycles_nest_ten_deep() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = (dir.path().join("a.cnf"), dir.path().join("b.cnf"));
    write(&a, &format!("[mysqld]\nx=a\n!include {}\n", b.display()));
    write(&b, &format!("[mysqld]\nx=b\n!include {}\n", a.display()));
    let Some(got) = compare("a two-file cycle", &file(&a), &Env::default()) else {
        return;
    };
    let got = got.expect("a cycle is not an error");
    // Depths 0 to 10 are read: a b a b … a.
    assert_eq!(got.mysqld.len(), 11);
    assert_eq!(got.get("--mysqld", "x").as_deref(), Some("a"));
}

/// One random line. Avoided on purpose, as known, documented divergences:
/// `\n` escapes (a value spanning output lines) and `=` right after
/// leading blanks (mysys reads before its buffer there).
fn random_line(rng: &mut Rng, includes: &[String]) -> String {
    const BLANK: &[&str] = &["", " ", "  ", "\t", " \t"];
    const NAME: &[&str] = &[
        "k",
        "x",
        "key",
        "tmpdir",
        "ssl_ca",
        "ssl-ca",
        "loose-key",
        "loose_x",
        "--k",
        "log-bin",
        "Key",
        "k y",
    ];
    const VALUE: &[&str] = &[
        "v", "/p", " ", "\t", "'", "\"", "\\", "\\\\", "\\t", "\\s", "\\\"", "\\'", "\\x", "#",
        ";", "=", "a b", "\u{e9}", "\\r", "\u{a0}",
    ];
    const GROUP: &[&str] = &[
        "mysqld",
        "MYSQLD",
        "sst",
        "sst",
        "sst.2",
        "SST.2",
        "mysqld.2",
        "client",
        "galera",
        "server",
        "mariadb-10.11",
        " mysqld",
        "mysqld\t",
        "galera.2",
        "mysqld-10.11.2",
        "mariadbd",
    ];
    let lead = rng.pick(BLANK);
    match rng.next() % 20 {
        0 => format!("{lead}# comment {}", rng.pick(VALUE)),
        1 => format!("{lead}; comment"),
        2 => String::new(),
        3 | 4 => {
            let close = if rng.chance(98) { "]" } else { "" };
            let tail = if rng.chance(20) { " junk # x" } else { "" };
            format!("{lead}[{}{close}{tail}", rng.pick(GROUP))
        }
        5 if !includes.is_empty() => {
            let target = &includes[(rng.next() % includes.len() as u64) as usize];
            format!("{lead}!include {target}{}", rng.pick(BLANK))
        }
        6 if rng.chance(10) => format!("!{}", rng.pick(&["include", "includedir  "])),
        6 => format!("!{}", rng.pick(&["foo", "includex y", "includedirx"])),
        _ => {
            let name = rng.pick(NAME);
            if rng.chance(15) {
                return format!("{lead}{name}{}", rng.pick(BLANK));
            }
            let mut value = String::new();
            for _ in 0..(rng.next() % 6) {
                value.push_str(rng.pick(VALUE));
            }
            if rng.chance(20) {
                let quote = rng.pick(&["'", "\""]);
                value = format!("{quote}{value}{quote}");
            }
            let name = if lead.is_empty() || !name.is_empty() {
                name
            } else {
                "k"
            };
            format!("{lead}{name}{}={}{value}", rng.pick(BLANK), rng.pick(BLANK))
        }
    }
}

#[test]
fn random_files_read_alike() {
    if program().is_none() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut rng = Rng(0x5eed_cafe_f00d_0001);
    for case in 0..150 {
        let case_dir = dir.path().join(format!("case{case}"));
        let names: Vec<String> = (0..3)
            .map(|i| case_dir.join(format!("f{i}.cnf")).display().to_string())
            .collect();
        for (i, name) in names.iter().enumerate() {
            // Each file includes at most one other (or itself), so cycles
            // stay linear: 11 reads at most.
            let mut text = String::new();
            let mut included = false;
            if rng.chance(90) {
                text.push_str(if rng.chance(50) {
                    "[mysqld]\n"
                } else {
                    "[sst]\n"
                });
            }
            for _ in 0..(rng.next() % 16) {
                let targets = if included || i == 2 && rng.chance(50) {
                    &[][..]
                } else {
                    &names[..]
                };
                let line = random_line(&mut rng, targets);
                included |= line.contains("!include ");
                text.push_str(&line);
                text.push('\n');
            }
            if rng.chance(25) {
                // A last line without its newline.
                text.pop();
            }
            write(Path::new(name), &text);
        }
        let mut opts = file(Path::new(&names[0]));
        if rng.chance(50) {
            opts.group_suffix = Some(".2".into());
        }
        let contents: Vec<String> = names
            .iter()
            .map(|n| fs::read_to_string(n).unwrap_or_default())
            .collect();
        compare(
            &format!(
                "random case {case}: {opts:?}\n{}",
                contents.join("\n----\n")
            ),
            &opts,
            &Env::default(),
        );
    }
}
