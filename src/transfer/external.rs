//! Tables whose files live outside the datadir: InnoDB's `DATA DIRECTORY`
//! (the datadir holds a `.isl` file naming the tablespace) and MyISAM's or
//! Aria's `DATA DIRECTORY` / `INDEX DIRECTORY` (the datadir holds a
//! symbolic link to the data or index file).
//!
//! The donor reads the `.isl` or the link and sends the file it names as
//! class `External`, under its absolute path. The joiner maps that path
//! (`rsrsync-data-dir-map`) and writes there only below a directory it may
//! write to: one named by `rsrsync-data-dirs`, or by default the deepest
//! existing directory on the way, when it belongs to the server's user and
//! is not writable by others (what mariadbd itself needs to create such a
//! table there). Nothing outside the datadir is ever deleted.

use std::ffi::OsStr;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result, bail, ensure};

use crate::fsutil::{RelPath, describe};

/// Largest `.isl` file read: a path (InnoDB's `OS_FILE_MAX_PATH` is 4000)
/// plus trailing white space.
const ISL_MAX: u64 = 4096 + 64;

/// The file name suffix of InnoDB's link files.
pub(crate) const ISL_SUFFIX: &[u8] = b".isl";

/// Where this node may write files outside its datadir, from `[sst]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ExternalRules {
    /// `rsrsync-data-dirs`: the directories below which such files may be
    /// written; empty: the ownership rule.
    pub(crate) roots: Vec<PathBuf>,
    /// `rsrsync-data-dir-map`: a donor directory and this node's
    /// directory for what the donor has below it.
    pub(crate) map: Vec<(PathBuf, PathBuf)>,
}

/// Where a file outside the datadir goes on this node: an existing
/// directory we may write below, and the path below it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Placement {
    pub(crate) root: PathBuf,
    pub(crate) rel: RelPath,
}

impl ExternalRules {
    /// The rules from the two keys' values (comma-separated lists; each
    /// map item `donor_dir=local_dir`); every directory must be absolute.
    pub(crate) fn parse(roots: Option<&str>, map: Option<&str>) -> Result<ExternalRules> {
        let items = |value: Option<&str>| -> Vec<String> {
            value
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        };
        let roots = items(roots)
            .iter()
            .map(|r| absolute(r).context("in rsrsync-data-dirs"))
            .collect::<Result<Vec<_>>>()?;
        let map = items(map)
            .iter()
            .map(|item| {
                let (from, to) = item.split_once('=').with_context(|| {
                    format!("rsrsync-data-dir-map item {item:?} is not donor_dir=joiner_dir")
                })?;
                Ok((absolute(from.trim())?, absolute(to.trim())?))
            })
            .collect::<Result<Vec<_>>>()
            .context("in rsrsync-data-dir-map")?;
        Ok(ExternalRules { roots, map })
    }

    /// This node's path for the donor's `path`: the longest mapped donor
    /// directory it is below replaced by its local directory.
    pub(crate) fn local_path(&self, path: &Path) -> PathBuf {
        self.map
            .iter()
            .filter_map(|(from, to)| path.strip_prefix(from).ok().map(|rest| (from, to, rest)))
            .max_by_key(|(from, _, _)| from.components().count())
            .map_or_else(|| path.to_path_buf(), |(_, to, rest)| to.join(rest))
    }

    /// Whether, and where, the user `uid` (the server's) may write `path`
    /// (already local) on this node; it must not be inside `datadir`.
    pub(crate) fn placement(&self, path: &Path, datadir: &Path, uid: u32) -> Result<Placement> {
        let path = absolute_path(path)?;
        let datadir = datadir
            .canonicalize()
            .unwrap_or_else(|_| datadir.to_path_buf());
        ensure!(
            !path.starts_with(&datadir),
            "it is inside this node's datadir {}",
            datadir.display()
        );
        let dir = path
            .parent()
            .context("a file cannot be the root directory")?;
        let root = if self.roots.is_empty() {
            owned_ancestor(dir, uid)?
        } else {
            let root = self
                .roots
                .iter()
                .filter(|r| dir.starts_with(r))
                .max_by_key(|r| r.components().count())
                .with_context(|| {
                    format!(
                        "it is below none of the directories rsrsync-data-dirs names ({})",
                        self.roots
                            .iter()
                            .map(|r| r.display().to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                })?;
            ensure!(
                root.is_dir(),
                "rsrsync-data-dirs names {}, which is not an existing directory",
                root.display()
            );
            root.clone()
        };
        let rest = path.strip_prefix(&root).unwrap_or(&path);
        let rel = RelPath::parse(rest.as_os_str().as_bytes())?;
        Ok(Placement { root, rel })
    }
}

/// The deepest existing directory on the way to `dir` (itself included),
/// when it is a directory owned by `uid` and not writable by others.
fn owned_ancestor(dir: &Path, uid: u32) -> Result<PathBuf> {
    let mut at = dir;
    let meta = loop {
        match std::fs::metadata(at) {
            Ok(meta) => break meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                at = at.parent().unwrap_or(Path::new("/"));
            }
            Err(e) => return Err(describe(&e, &at.display().to_string(), "examining")),
        }
    };
    let shown = at.display();
    ensure!(meta.is_dir(), "{shown} is not a directory");
    ensure!(
        meta.uid() == uid,
        "{shown}, the deepest directory of it that exists here, belongs to uid {}, \
         not to the server's user (uid {uid})",
        meta.uid()
    );
    ensure!(
        meta.mode() & 0o002 == 0,
        "{shown}, the deepest directory of it that exists here, is writable by others"
    );
    Ok(at.to_path_buf())
}

fn absolute(text: &str) -> Result<PathBuf> {
    absolute_path(Path::new(text))
}

/// `path` when it is absolute without `.` or `..` (trailing `/` dropped).
fn absolute_path(path: &Path) -> Result<PathBuf> {
    ensure!(
        path.is_absolute(),
        "{} is not an absolute path",
        path.display()
    );
    let mut out = PathBuf::from("/");
    for part in path.components() {
        match part {
            Component::RootDir => {}
            Component::Normal(name) => out.push(name),
            _ => bail!("{} has '.' or '..' in it", path.display()),
        }
    }
    Ok(out)
}

/// The path an InnoDB `.isl` file names (InnoDB trims trailing white space).
pub(crate) fn read_isl(isl: &Path) -> Result<PathBuf> {
    let shown = isl.display().to_string();
    let file = std::fs::File::open(isl).map_err(|e| describe(&e, &shown, "opening"))?;
    let mut bytes = Vec::new();
    file.take(ISL_MAX + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| describe(&e, &shown, "reading"))?;
    ensure!(
        bytes.len() as u64 <= ISL_MAX,
        "{shown} is larger than an InnoDB link file can be"
    );
    let text = bytes.trim_ascii_end();
    ensure!(!text.contains(&0), "{shown} holds a NUL byte");
    absolute_path(Path::new(OsStr::from_bytes(text)))
        .with_context(|| format!("{shown} does not name a tablespace file"))
}

/// The wire name of an absolute path: without its leading `/`.
pub(crate) fn wire_name(path: &Path) -> Result<RelPath> {
    let path = absolute_path(path)?;
    let bytes = path.as_os_str().as_bytes();
    RelPath::parse(&bytes[1..])
}

/// The donor's absolute path of a wire name.
pub(crate) fn donor_path(name: &RelPath) -> PathBuf {
    let mut path = PathBuf::from("/");
    path.extend(name.components());
    path
}

/// Whether a file name is an InnoDB link file's.
pub(crate) fn is_isl(name: &OsStr) -> bool {
    name.as_bytes().ends_with(ISL_SUFFIX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn keys_parse_and_refuse_relative_dirs() {
        let rules =
            ExternalRules::parse(Some(" /srv/a, /srv/b/ "), Some("/d/x=/j/y, /d=/j")).expect("ok");
        assert_eq!(
            rules.roots,
            [PathBuf::from("/srv/a"), PathBuf::from("/srv/b")]
        );
        assert_eq!(
            rules.local_path(Path::new("/d/x/db/t.ibd")),
            Path::new("/j/y/db/t.ibd")
        );
        assert_eq!(
            rules.local_path(Path::new("/d/z/t.MYD")),
            Path::new("/j/z/t.MYD")
        );
        assert_eq!(
            rules.local_path(Path::new("/dx/t.MYD")),
            Path::new("/dx/t.MYD")
        );
        for (roots, map) in [
            (Some("srv/a"), None),
            (None, Some("/a")),
            (None, Some("/a=b")),
            (Some("/a/../b"), None),
        ] {
            assert!(
                ExternalRules::parse(roots, map).is_err(),
                "{roots:?} {map:?}"
            );
        }
        assert_eq!(
            ExternalRules::parse(None, Some("")).expect("empty"),
            ExternalRules::default()
        );
    }

    #[test]
    fn placement_needs_an_owned_directory_not_writable_by_others() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let datadir = tmp.path().join("data");
        let ext = tmp.path().join("ext");
        std::fs::create_dir_all(&datadir).expect("datadir");
        std::fs::create_dir_all(&ext).expect("ext");
        std::fs::set_permissions(&ext, std::fs::Permissions::from_mode(0o750)).expect("chmod");
        let rules = ExternalRules::default();
        let uid = nix::unistd::geteuid().as_raw();
        let placed = rules
            .placement(&ext.join("db/t.ibd"), &datadir, uid)
            .expect("owned ext");
        assert_eq!(placed.root, ext);
        assert_eq!(placed.rel.to_string(), "db/t.ibd");
        std::fs::set_permissions(&ext, std::fs::Permissions::from_mode(0o757)).expect("chmod");
        let err = rules
            .placement(&ext.join("db/t.ibd"), &datadir, uid)
            .expect_err("o+w");
        assert!(format!("{err:#}").contains("writable by others"), "{err:#}");
        // A directory of another user: / when we are not root, else one
        // we give away.
        let foreign = if nix::unistd::geteuid().is_root() {
            let dir = tmp.path().join("foreign");
            std::fs::create_dir(&dir).expect("foreign");
            nix::unistd::chown(&dir, Some(nix::unistd::Uid::from_raw(65534)), None).expect("chown");
            dir
        } else {
            PathBuf::from("/")
        };
        let err = rules
            .placement(&foreign.join("nonexistent-rsrsync/db/t.ibd"), &datadir, uid)
            .expect_err("another user's");
        assert!(format!("{err:#}").contains("belongs to uid"), "{err:#}");
        let err = rules
            .placement(&datadir.join("db/t.ibd"), &datadir, uid)
            .expect_err("inside");
        assert!(format!("{err:#}").contains("inside"), "{err:#}");
    }

    #[test]
    fn named_roots_replace_the_ownership_rule() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let ext = tmp.path().join("ext");
        std::fs::create_dir_all(&ext).expect("ext");
        std::fs::set_permissions(&ext, std::fs::Permissions::from_mode(0o777)).expect("chmod");
        let rules = ExternalRules::parse(Some(&ext.display().to_string()), None).expect("rules");
        let uid = nix::unistd::geteuid().as_raw();
        let placed = rules
            .placement(&ext.join("db/t.ibd"), Path::new("/nonexistent/data"), uid)
            .expect("named");
        assert_eq!(placed.root, ext);
        let err = rules
            .placement(
                &tmp.path().join("other/t.ibd"),
                Path::new("/nonexistent/data"),
                uid,
            )
            .expect_err("elsewhere");
        assert!(format!("{err:#}").contains("below none"), "{err:#}");
    }

    #[test]
    fn isl_files_name_absolute_paths() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let isl = tmp.path().join("t.isl");
        std::fs::write(&isl, "/ext/db/t.ibd\n ").expect("write");
        assert_eq!(read_isl(&isl).expect("isl"), Path::new("/ext/db/t.ibd"));
        for bad in ["ext/db/t.ibd", "/ext/../t.ibd", "", "/ext/\0t.ibd"] {
            std::fs::write(&isl, bad).expect("write");
            assert!(read_isl(&isl).is_err(), "{bad:?}");
        }
        std::fs::write(&isl, vec![b'/'; 10_000]).expect("write");
        assert!(read_isl(&isl).is_err(), "oversized");
        let name = wire_name(Path::new("/ext/db/t.ibd")).expect("wire");
        assert_eq!(name.to_string(), "ext/db/t.ibd");
        assert_eq!(donor_path(&name), Path::new("/ext/db/t.ibd"));
        assert!(wire_name(Path::new("/")).is_err());
        assert!(is_isl(OsStr::new("t#P#p0.isl")) && !is_isl(OsStr::new("t.ibd")));
    }
}
