//! Free space on the joiner's side against what a donor would send, per
//! filesystem: each class lands in this node's own directory for it
//! (binlogs are staged in the datadir first), so what counts is the sum
//! of the classes whose directories share a filesystem.
//!
//! The joiner deletes or overwrites its own copies of the transferred
//! files (not its old binlogs, which are replaced only after the new ones
//! arrived), so those bytes count as room too. Sparse files arrive sparse,
//! so the donor's apparent sizes are an upper bound.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::files::class_dirs;
use super::report::{ClassBytes, Report, class_name};
use crate::config::Settings;
use crate::fsutil::human_bytes;
use crate::protocol::Class;
use crate::transfer::snapshot;

/// One filesystem of the joiner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Room {
    /// The class directories on it.
    pub(crate) dirs: Vec<PathBuf>,
    /// Bytes the donor would put there.
    pub(crate) needed: u64,
    /// Free bytes (for unprivileged users, like mariadbd).
    pub(crate) free: u64,
    /// This node's own copies of those classes there, replaced by the SST.
    pub(crate) reclaimable: u64,
}

impl Room {
    pub(crate) fn fits(&self) -> bool {
        self.needed <= self.free.saturating_add(self.reclaimable)
    }
}

/// Free bytes and device of the filesystem holding `path` (or its
/// nearest existing ancestor: a joiner creates missing directories).
fn filesystem(path: &Path) -> Result<(u64, u64)> {
    let existing = existing_ancestor(path);
    let meta =
        std::fs::metadata(existing).with_context(|| format!("examining {}", existing.display()))?;
    let stat = nix::sys::statvfs::statvfs(existing)
        .with_context(|| format!("reading the free space of {}", existing.display()))?;
    let free = stat.blocks_available().saturating_mul(stat.fragment_size());
    Ok((meta.dev(), free))
}

/// `path` or its nearest ancestor that exists.
fn existing_ancestor(path: &Path) -> &Path {
    path.ancestors()
        .find(|p| p.exists())
        .unwrap_or(Path::new("/"))
}

/// This node's filesystems as a joiner of a donor sending `incoming`,
/// `own` being what this node holds of each class now.
pub(crate) fn rooms(
    settings: &Settings,
    incoming: &ClassBytes,
    own: &ClassBytes,
) -> Result<Vec<Room>> {
    let mut out: Vec<(u64, Room)> = Vec::new();
    for (class, dir) in class_dirs(settings) {
        let (dev, free) = filesystem(&dir)?;
        let index = match out.iter().position(|(d, _)| *d == dev) {
            Some(index) => index,
            None => {
                out.push((
                    dev,
                    Room {
                        dirs: Vec::new(),
                        needed: 0,
                        free,
                        reclaimable: 0,
                    },
                ));
                out.len() - 1
            }
        };
        let room = &mut out[index].1;
        let shown = if class == Class::Binlog {
            settings.layout.datadir.clone()
        } else {
            dir
        };
        if !room.dirs.contains(&shown) {
            room.dirs.push(shown);
        }
        room.needed += incoming.get(&class).copied().unwrap_or(0);
        if class != Class::Binlog {
            room.reclaimable += own.get(&class).copied().unwrap_or(0);
        }
    }
    Ok(out.into_iter().map(|(_, room)| room).collect())
}

fn dirs(room: &Room) -> String {
    room.dirs
        .iter()
        .map(|d| d.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Free space of this node's filesystems, for the record.
pub(crate) fn report_local(settings: &Settings, own: &ClassBytes, report: &mut Report) {
    match rooms(settings, &ClassBytes::new(), own) {
        Ok(rooms) => {
            for room in rooms {
                report.info(
                    "free space",
                    format!(
                        "{} free on the filesystem of {}",
                        human_bytes(room.free),
                        dirs(&room)
                    ),
                );
            }
        }
        Err(err) => report.warn(
            "free space",
            format!("cannot read the free space: {err:#}"),
            "run check as root or as the user mariadbd runs as",
        ),
    }
}

/// Whether this node, as a donor, could clone its files under the lock
/// (see [`crate::transfer::snapshot`]): one line per filesystem of the
/// class directories.
pub(crate) fn report_snapshot(settings: &Settings, report: &mut Report) {
    const ITEM: &str = "snapshot";
    if !settings.snapshot {
        report.info(
            ITEM,
            "off (rsrsync-snapshot=off or rsrsync-lock=full): every file is compared under \
             the lock",
        );
        return;
    }
    let mut dirs = class_dirs(settings);
    if let Some(binlog) = &settings.binlog {
        dirs.retain(|(class, _)| *class != Class::Binlog);
        dirs.push((Class::Binlog, binlog.dir.clone()));
    }
    let mut seen: Vec<(u64, Vec<String>, PathBuf)> = Vec::new();
    for (class, dir) in dirs {
        let existing = existing_ancestor(&dir);
        let Ok(meta) = std::fs::metadata(existing) else {
            continue;
        };
        let name = format!("{} ({})", existing.display(), class_name(class));
        match seen.iter_mut().find(|(dev, _, _)| *dev == meta.dev()) {
            Some((_, names, _)) => names.push(name),
            None => seen.push((meta.dev(), vec![name], existing.to_path_buf())),
        }
    }
    for (_, names, dir) in seen {
        let names = names.join(", ");
        match snapshot::probe(&dir) {
            Ok(()) => report.ok(
                ITEM,
                format!(
                    "the filesystem of {names} clones files (reflink): under the lock the \
                     donor clones them and sends the clones after it"
                ),
            ),
            Err(why) => report.info(
                ITEM,
                format!(
                    "not on the filesystem of {names} ({why}): its files are compared under \
                     the lock after live rounds"
                ),
            ),
        }
    }
}

/// The verdict on `rooms` for a transfer described by `what`
/// (`"from db1 to this node"`).
pub(crate) fn judge(rooms: &[Room], what: &str, report: &mut Report) {
    if rooms.iter().all(|r| r.needed == 0) {
        report.info("free space", format!("an SST {what}: nothing to send"));
    }
    for room in rooms.iter().filter(|r| r.needed > 0) {
        let numbers = format!(
            "needs up to {}, has {} free{}",
            human_bytes(room.needed),
            human_bytes(room.free),
            if room.reclaimable > 0 {
                format!(
                    " + {} of its own files it would replace",
                    human_bytes(room.reclaimable)
                )
            } else {
                String::new()
            }
        );
        if !room.fits() {
            report.fail(
                "free space",
                format!("an SST {what}: the filesystem of {} {numbers}", dirs(room)),
                format!(
                    "free at least {} there, or grow the filesystem",
                    human_bytes(room.needed - room.free.saturating_add(room.reclaimable))
                ),
            );
        } else if room.needed > room.free {
            report.warn(
                "free space",
                format!(
                    "an SST {what}: the filesystem of {} {numbers}; it fits only because \
                     old files are replaced",
                    dirs(room)
                ),
                "free some space there to keep a margin",
            );
        } else {
            report.ok(
                "free space",
                format!("an SST {what}: the filesystem of {} {numbers}", dirs(room)),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::report::Status;

    #[test]
    fn judging_rooms() {
        let room = |needed, free, reclaimable| Room {
            dirs: vec!["/d".into()],
            needed,
            free,
            reclaimable,
        };
        let mut report = Report::default();
        judge(
            &[
                room(10, 20, 0),
                room(30, 20, 15),
                room(50, 20, 15),
                room(0, 0, 0),
            ],
            "from a to b",
            &mut report,
        );
        let statuses: Vec<Status> = report.findings.iter().map(|f| f.status).collect();
        assert_eq!(statuses, [Status::Ok, Status::Warn, Status::Fail]);
        assert!(
            report.findings[2]
                .fix
                .as_deref()
                .unwrap_or("")
                .contains("15 B")
        );
        let mut report = Report::default();
        judge(&[room(0, 5, 0)], "from a to b", &mut report);
        assert_eq!(
            report.findings[0].message,
            "an SST from a to b: nothing to send"
        );
    }

    #[test]
    fn classes_share_a_filesystem() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let config = crate::config::Config::from_cnf_bytes(b"", None).expect("cnf");
        let args = crate::cli::parse(
            ["--role", "donor", "--address", "h", "--datadir"]
                .iter()
                .map(std::ffi::OsString::from)
                .chain([tmp.path().as_os_str().to_os_string()]),
        )
        .expect("args");
        let settings = Settings::resolve(
            &args,
            std::ffi::OsStr::new("wsrep_sst_rsrsync"),
            &|_| None,
            &crate::server_input::RemoteAuth::default(),
            &config,
        )
        .expect("settings");
        let incoming = ClassBytes::from([(Class::Data, 7), (Class::Binlog, 5), (Class::Redo, 1)]);
        let own = ClassBytes::from([(Class::Data, 3), (Class::Binlog, 100)]);
        let rooms = rooms(&settings, &incoming, &own).expect("rooms");
        assert_eq!(rooms.len(), 1, "{rooms:?}");
        assert_eq!((rooms[0].needed, rooms[0].reclaimable), (13, 3));
        assert_eq!(rooms[0].dirs, [tmp.path().to_path_buf()]);
        assert!(rooms[0].free > 0);
    }
}
