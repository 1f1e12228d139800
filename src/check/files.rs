//! The node's directories and the files a donor would send: each
//! configured directory exists and the server's user can write it, no SST
//! is running, and the transfer set as the donor's walk finds it.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

#[cfg(test)]
use anyhow::Result;

use super::dryrun::duration;
use super::report::{ClassTotal, Report, TransferSet, class_name};
use super::resolve::Node;
use crate::config::{Settings, rlimit};
use crate::fsutil::human_bytes;
use crate::protocol::Class;
use crate::roles::donor::transfer_entries;
use crate::roles::pidfile::{self, Previous};
use crate::transfer::external::donor_path;
use crate::transfer::walk::{Entry, EntryKind};

/// Checks the datadir and every class directory; `true` when an SST of
/// this datadir is running right now.
pub(crate) fn check_dirs(node: &Node, report: &mut Report) -> bool {
    let layout = &node.settings.layout;
    let mut seen: Vec<&Path> = Vec::new();
    for (key, dir) in [
        ("datadir", &layout.datadir),
        ("innodb_data_home_dir", &layout.sys),
        ("innodb_log_group_home_dir", &layout.redo),
        ("innodb_undo_directory", &layout.undo),
        ("aria_log_dir_path", &layout.aria),
    ] {
        if seen.contains(&dir.as_path()) {
            continue;
        }
        seen.push(dir);
        match std::fs::metadata(dir) {
            Ok(meta) if meta.is_dir() => match writable_by(&meta, &node.user) {
                Some(false) => report.warn(
                    key,
                    format!(
                        "{} is not writable by user '{}', who runs mariadbd and its SST \
                         script; as a joiner this node could not receive files there",
                        dir.display(),
                        node.user
                    ),
                    format!("chown -R {0}:{0} {1}", node.user, dir.display()),
                ),
                _ => report.ok(key, format!("{} exists", dir.display())),
            },
            Ok(_) => report.fail(
                key,
                format!("{} is not a directory", dir.display()),
                format!("point {key} at a directory"),
            ),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => report.fail(
                key,
                format!(
                    "{} does not exist, so mariadbd cannot start here",
                    dir.display()
                ),
                format!(
                    "create it (owned by {}) or fix {key} in the option file named in the \
                     settings table",
                    node.user
                ),
            ),
            Err(err) => report.fail(
                key,
                format!("cannot examine {}: {err}", dir.display()),
                "run check as root or as the user mariadbd runs as",
            ),
        }
    }
    running_sst(&layout.datadir, report)
}

/// Whether `user` can write a directory with `meta` (`None`: unknown user).
fn writable_by(meta: &std::fs::Metadata, user: &str) -> Option<bool> {
    let user = nix::unistd::User::from_name(user).ok().flatten()?;
    let mode = meta.mode();
    Some(
        user.uid.is_root()
            || (meta.uid() == user.uid.as_raw() && mode & 0o200 != 0)
            || (meta.gid() == user.gid.as_raw() && mode & 0o020 != 0)
            || mode & 0o002 != 0,
    )
}

/// Warns when an SST of this datadir is running right now; tells of a
/// stale pid file, which the next SST removes (judged as the roles do).
fn running_sst(datadir: &Path, report: &mut Report) -> bool {
    let pid_file = pidfile::path_in(datadir);
    match pidfile::previous_sst(&pid_file, datadir, std::process::id()) {
        Previous::None => false,
        Previous::Stale(why) => {
            report.info(
                "SST pid file",
                format!(
                    "{} is stale: {why}; the next SST removes it",
                    pid_file.display()
                ),
            );
            false
        }
        Previous::Running(process) => {
            report.warn(
                "SST in progress",
                format!(
                    "an SST runs in this datadir right now (PID {} in {})",
                    process.pid(),
                    pid_file.display()
                ),
                "let it finish before judging the results of check (the SST port is in use)",
            );
            true
        }
    }
}

/// What a donor would send now (binlogs included), by class.
#[cfg(test)]
fn transfer_set(settings: &Settings) -> Result<TransferSet> {
    Ok(set_of(settings, &transfer_entries(settings)?))
}

/// The totals by class of the `entries` a donor with `settings` sends.
fn set_of(settings: &Settings, entries: &[Entry]) -> TransferSet {
    let mut set = TransferSet {
        rate_limit: settings
            .rlimit
            .as_ref()
            .filter(|_| settings.short_lock || settings.rlimit_lock)
            .map(|limit| limit.rate),
        ..TransferSet::default()
    };
    for class in Class::ALL {
        let dir = match (class, &settings.binlog) {
            (Class::Binlog, Some(binlog)) => binlog.dir.clone(),
            (Class::Binlog, None) => continue,
            _ => settings.layout.root(class),
        };
        set.classes.push(ClassTotal {
            class,
            dir,
            files: 0,
            bytes: 0,
        });
    }
    for entry in entries {
        match &entry.kind {
            EntryKind::Dir => set.dirs += 1,
            EntryKind::Link { .. } => {}
            EntryKind::File { size, .. } => {
                if let Some(total) = set.classes.iter_mut().find(|c| c.class == entry.class) {
                    total.files += 1;
                    total.bytes += size;
                }
            }
        }
    }
    set
}

/// Adds the transfer set, or the reason it cannot be listed.
pub(crate) fn check_transfer_set(node: &Node, report: &mut Report) {
    match transfer_entries(&node.settings) {
        Ok(entries) => {
            let set = set_of(&node.settings, &entries);
            let essentials = [Class::SysTablespace, Class::Redo]
                .into_iter()
                .filter(|c| set.classes.iter().any(|t| t.class == *c && t.files == 0))
                .map(class_name)
                .collect::<Vec<_>>();
            if set.files() == 0 {
                report.info(
                    "transfer set",
                    "nothing to send: this node can join, but cannot be a donor yet",
                );
            } else if !essentials.is_empty() {
                report.warn(
                    "transfer set",
                    format!(
                        "no {} found where this node's settings point: a joiner would get \
                         a datadir InnoDB cannot start from",
                        essentials.join(" and ")
                    ),
                    "check innodb_data_home_dir / innodb_log_group_home_dir against where \
                     the server really keeps them",
                );
            } else {
                report.ok(
                    "transfer set",
                    format!(
                        "as a donor this node would send {} files ({}) and {} database \
                         director{}",
                        set.files(),
                        human_bytes(set.bytes()),
                        set.dirs,
                        if set.dirs == 1 { "y" } else { "ies" }
                    ),
                );
            }
            rate_limit_estimate(&node.settings, &set, report);
            report.transfer = Some(set);
            check_outside(node, &entries, report);
        }
        Err(err) => report.fail(
            "transfer set",
            format!("cannot list what a donor would send: {err:#}"),
            "run check as root or as the user mariadbd runs as, and fix the permissions \
             of the file named",
        ),
    }
}

/// Says how long the rate limit makes the copy of `set` at least.
fn rate_limit_estimate(settings: &Settings, set: &TransferSet, report: &mut Report) {
    let Some(limit) = &settings.rlimit else {
        return;
    };
    let scope = rlimit::scope(settings.short_lock, settings.rlimit_lock);
    let copy = match set.limited_secs() {
        Some(secs) => format!(
            "; the copy of {} takes at least {} at that rate",
            human_bytes(set.bytes()),
            duration(secs)
        ),
        None => String::new(),
    };
    report.info(
        "rate limit",
        format!(
            "rlimit={}: a donor sends at most {}, {scope}{copy}",
            limit.value,
            rlimit::per_second(limit.rate)
        ),
    );
}

/// Lists each table file outside the datadir (`DATA DIRECTORY`, `INDEX
/// DIRECTORY`) with its path, and whether an SST could write it on this
/// node as a joiner (the same judgement the joiner makes, for the server's
/// user and with this node's `rsrsync-data-dirs` and `rsrsync-data-dir-map`).
fn check_outside(node: &Node, entries: &[Entry], report: &mut Report) {
    let layout = &node.settings.layout;
    let uid = nix::unistd::User::from_name(&node.user)
        .ok()
        .flatten()
        .map_or_else(|| nix::unistd::geteuid().as_raw(), |u| u.uid.as_raw());
    for entry in entries {
        let EntryKind::Link { target, .. } = &entry.kind else {
            continue;
        };
        let local = layout.external.local_path(&donor_path(target));
        let table = format!("{} -> {}", entry.path, local.display());
        match layout.external.placement(&local, &layout.datadir, uid) {
            Ok(_) => report.ok(
                "outside the datadir",
                format!("{table}: an SST could write it here"),
            ),
            Err(why) => report.warn(
                "outside the datadir",
                format!("{table}: an SST could not write it here: {why:#}"),
                format!(
                    "create {} owned by {} and not writable by others, or set [sst] \
                     rsrsync-data-dirs or rsrsync-data-dir-map",
                    local.parent().unwrap_or(&local).display(),
                    node.user
                ),
            ),
        }
    }
}

/// The directory of each class on this node (binlogs staged in the datadir).
pub(crate) fn class_dirs(settings: &Settings) -> Vec<(Class, PathBuf)> {
    Class::ALL
        .into_iter()
        .map(|c| (c, settings.layout.root(c)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::report::Status;
    use crate::config::Config;

    fn node(dir: &Path, cnf: &str) -> Node {
        let config = Config::from_cnf_bytes(cnf.as_bytes(), None).expect("cnf");
        let mut args = crate::check::args::CheckArgs {
            defaults: Default::default(),
            datadir: Some(dir.to_path_buf()),
            address: Some("127.0.0.1:4444".into()),
            peer: None,
            listen: false,
            json: false,
            timeout: std::time::Duration::from_secs(1),
        };
        args.datadir = Some(dir.to_path_buf());
        crate::check::resolve::node(&args, config, &mut Report::default()).expect("node")
    }

    #[test]
    fn transfer_set_by_class() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let d = tmp.path();
        for (name, len) in [
            ("ibdata1", 100),
            ("ib_logfile0", 50),
            ("db/t.ibd", 30),
            ("db/t.frm", 7),
            ("undo001", 9),
            ("mysql-bin.000001", 11),
            ("mysql-bin.000002", 13),
            ("grastate.dat", 1000),
        ] {
            std::fs::create_dir_all(d.join(name).parent().expect("parent")).expect("mkdir");
            std::fs::write(d.join(name), vec![1u8; len]).expect("write");
        }
        std::fs::write(
            d.join("mysql-bin.index"),
            "./mysql-bin.000001\n./mysql-bin.000002\n",
        )
        .expect("index");
        let node = node(d, "[mysqld]\nlog-bin=mysql-bin\n");
        let set = transfer_set(&node.settings).expect("walk");
        let bytes = set.class_bytes();
        assert_eq!(bytes.get(&Class::SysTablespace), Some(&100));
        assert_eq!(bytes.get(&Class::Redo), Some(&50));
        assert_eq!(bytes.get(&Class::Data), Some(&37));
        assert_eq!(bytes.get(&Class::Undo), Some(&9));
        assert_eq!(
            bytes.get(&Class::Binlog),
            Some(&13),
            "sst-max-binlogs=1: the newest"
        );
        assert_eq!((set.files(), set.dirs), (6, 1));
        let mut report = Report::default();
        check_transfer_set(&node, &mut report);
        assert_eq!(
            report.findings[0].status,
            Status::Ok,
            "{:?}",
            report.findings
        );
    }

    #[test]
    fn a_running_sst_is_noticed_and_a_stale_pid_file_told() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let node = node(tmp.path(), "");
        let mut report = Report::default();
        assert!(!check_dirs(&node, &mut report));
        let pid_file = tmp.path().join("wsrep_sst.pid");
        // A live SST of this datadir, as the stock script's bash shows it.
        let mut sst = std::process::Command::new("bash")
            .args([
                "-c",
                "exec -a wsrep_sst_rsync bash -c 'read -t 30' x --datadir \"$0/\"",
            ])
            .arg(tmp.path())
            .stdin(std::process::Stdio::piped())
            .spawn()
            .expect("spawn");
        std::thread::sleep(std::time::Duration::from_millis(200));
        std::fs::write(&pid_file, format!("{}\n", sst.id())).expect("pid");
        let mut report = Report::default();
        let running = check_dirs(&node, &mut report);
        let _ = sst.kill();
        let _ = sst.wait();
        assert!(running, "{:?}", report.findings);
        assert!(report.findings.iter().any(|f| f.topic == "SST in progress"));
        // Not an SST program (the test harness itself): stale, not running.
        std::fs::write(
            &pid_file,
            format!("{}\n", std::os::unix::process::parent_id()),
        )
        .expect("pid");
        let mut report = Report::default();
        assert!(!check_dirs(&node, &mut report));
        let told = report.findings.iter().find(|f| f.topic == "SST pid file");
        assert!(
            told.is_some_and(|f| f.status == Status::Info && f.message.contains("is stale: PID")),
            "{:?}",
            report.findings
        );
        std::fs::write(&pid_file, "999999999\n").expect("pid");
        assert!(!check_dirs(&node, &mut Report::default()), "a dead PID");
    }

    #[test]
    fn missing_directories_fail() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let node = node(
            tmp.path(),
            "[mysqld]\ninnodb_log_group_home_dir=/nonexistent/redo\n",
        );
        let mut report = Report::default();
        check_dirs(&node, &mut report);
        let failed: Vec<&str> = report
            .findings
            .iter()
            .filter(|f| f.status == Status::Fail)
            .map(|f| f.topic.as_str())
            .collect();
        assert_eq!(failed, ["innodb_log_group_home_dir"]);
        let mut report = Report::default();
        check_transfer_set(&node, &mut report);
        assert_eq!(report.findings[0].status, Status::Info, "empty datadir");
    }
}
