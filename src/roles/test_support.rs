//! What the in-process role tests share: settings from argv and my.cnf
//! text, fixture files, and a content snapshot of a directory tree.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::path::Path;

use crate::config::Config;
use crate::config::Settings;
use crate::protocol::digest::{HASH_CHUNK, block_hash_at};

pub(super) const STATE: &str = "6d1f4a2c-1111-2222-3333-444455556666:42 0";

pub(super) fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, bytes).expect("write");
}

/// Deterministic pseudo-random bytes.
pub(super) fn noise(len: usize, seed: u64) -> Vec<u8> {
    crate::testutil::Rng(seed | 1).bytes(len)
}

pub(super) fn settings(words: &[&str], cnf: &str, vars: &[(&str, String)]) -> Settings {
    let argv = crate::cli::parse(words.iter().map(OsString::from)).expect("argv");
    let config = Config::from_cnf_bytes(cnf.as_bytes(), None).expect("cnf");
    let vars: Vec<(String, OsString)> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), OsString::from(v)))
        .collect();
    let env = move |k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let stdin = crate::server_input::RemoteAuth::default();
    Settings::resolve(
        &argv,
        OsStr::new("wsrep_sst_rsrsync"),
        &env,
        &stdin,
        &config,
    )
    .expect("settings")
}

/// Content hashes of every regular file under `root`, by relative path;
/// directories as "dir", symlinks as their target (never followed).
pub(super) fn tree(root: &Path) -> BTreeMap<String, String> {
    fn visit(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).expect("read_dir") {
            let entry = entry.expect("entry");
            let path = entry.path();
            let rel = path
                .strip_prefix(root)
                .expect("inside")
                .to_string_lossy()
                .into_owned();
            let kind = entry.file_type().expect("type");
            if kind.is_symlink() {
                let target = std::fs::read_link(&path).expect("read_link");
                out.insert(rel, format!("link -> {}", target.display()));
            } else if kind.is_dir() {
                out.insert(rel, "dir".into());
                visit(root, &path, out);
            } else {
                let file = std::fs::File::open(&path).expect("open");
                let len = file.metadata().expect("metadata").len();
                let mut scratch = vec![0u8; HASH_CHUNK];
                let hash = block_hash_at(&file, 0, len, &mut scratch).expect("read");
                out.insert(rel, format!("{hash:032x}"));
            }
        }
    }
    let mut out = BTreeMap::new();
    visit(root, root, &mut out);
    out
}
