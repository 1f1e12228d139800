//! Whether mariadbd will find this program: it runs `wsrep_sst_<method>`
//! from its own binary directory (`/usr/bin` for packages) and then its
//! `PATH`.

use std::path::{Path, PathBuf};

use super::report::Report;

const NAME: &str = "wsrep_sst_rsrsync";

/// The file mariadbd would run, if any.
fn installed() -> Option<PathBuf> {
    let packaged = Path::new("/usr/bin").join(NAME);
    if packaged.is_file() {
        return Some(packaged);
    }
    which::which(NAME).ok()
}

/// Reports where the SST program is and whether it is this one.
pub(crate) fn check(report: &mut Report) {
    let topic = "installed";
    let Some(found) = installed() else {
        report.warn(
            topic,
            format!("mariadbd will not find {NAME}: it is neither in /usr/bin nor on the PATH"),
            format!(
                "install the package (or copy this binary to /usr/bin/{NAME}, mode 0755) \
                 on every node before the next SST"
            ),
        );
        return;
    };
    let this = std::env::current_exe().ok();
    let same = this.as_ref().is_some_and(|this| same_file(this, &found));
    if same {
        report.ok(
            topic,
            format!("mariadbd will run {} (this program)", found.display()),
        );
    } else {
        report.warn(
            topic,
            format!(
                "mariadbd will run {}, a different file from this program ({}); this check \
                 describes this program's behaviour",
                found.display(),
                this.map(|p| p.display().to_string()).unwrap_or_default()
            ),
            format!(
                "run {} check to check with the installed version",
                found.display()
            ),
        );
    }
}

/// Same path, or same bytes.
fn same_file(a: &Path, b: &Path) -> bool {
    if a.canonicalize().ok() == b.canonicalize().ok() {
        return true;
    }
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(ma), Ok(mb)) if ma.len() == mb.len() => {
            matches!((std::fs::read(a), std::fs::read(b)), (Ok(x), Ok(y)) if x == y)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_file_by_path_or_bytes() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let (a, b, c) = (
            tmp.path().join("a"),
            tmp.path().join("b"),
            tmp.path().join("c"),
        );
        std::fs::write(&a, b"same").expect("write");
        std::fs::write(&b, b"same").expect("write");
        std::fs::write(&c, b"diff").expect("write");
        assert!(same_file(&a, &a));
        assert!(same_file(&a, &b));
        assert!(!same_file(&a, &c));
        assert!(!same_file(&a, &tmp.path().join("missing")));
    }
}
