//! Binary logs on the joiner after an SST (spec §5.4): the old ones go
//! (they would not match the new data), the donor's newest come in from
//! the staging directory, and a new index names them. Never on IST.

use std::path::Path;

use anyhow::{Context, Result};

use super::remove_quietly;
use crate::config::Binlog;
use crate::fsutil::RelPath;
use crate::transfer::{BINLOG_STAGING, Layout};

/// SST only, and only when this node logs binlogs: drop the old binlogs
/// and their index (even when none arrived: they would not match the new
/// data), then move the received ones in and write a new index.
pub(super) fn replace_binlogs(
    binlog: &Binlog,
    layout: &Layout,
    received: &[RelPath],
) -> Result<()> {
    if let Ok(index) = std::fs::read(&binlog.index) {
        for line in String::from_utf8_lossy(&index).lines() {
            let line = line.trim();
            if !line.is_empty() {
                remove_quietly(&layout.datadir.join(line));
            }
        }
        remove_quietly(&binlog.index);
    }
    let base = binlog.base.to_string_lossy();
    if let Ok(entries) = std::fs::read_dir(&binlog.dir) {
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let Some(suffix) = name.strip_prefix(&*base).and_then(|s| s.strip_prefix('.')) else {
                continue;
            };
            if suffix.starts_with(|c: char| c.is_ascii_digit()) || suffix == "state" {
                remove_quietly(&entry.path());
            }
        }
    }
    if received.is_empty() {
        return Ok(());
    }
    std::fs::create_dir_all(&binlog.dir)
        .with_context(|| format!("creating {}", binlog.dir.display()))?;
    if let Some(index_dir) = binlog.index.parent() {
        std::fs::create_dir_all(index_dir)
            .with_context(|| format!("creating {}", index_dir.display()))?;
    }
    let staging = layout.datadir.join(BINLOG_STAGING);
    let mut index = Vec::new();
    for rel in received {
        let name = &rel.components()[0];
        let from = staging.join(name);
        let to = binlog.dir.join(name);
        move_file(&from, &to)?;
        index.extend_from_slice(binlog.index_prefix.as_encoded_bytes());
        index.push(b'/');
        index.extend_from_slice(name.as_encoded_bytes());
        index.push(b'\n');
        log::info!("installed binlog {}", to.display());
    }
    std::fs::write(&binlog.index, index)
        .with_context(|| format!("writing the binlog index {}", binlog.index.display()))
}

/// Renames, or copies when the binlog directory is on another filesystem.
fn move_file(from: &Path, to: &Path) -> Result<()> {
    match std::fs::rename(from, to) {
        Ok(()) => Ok(()),
        Err(e) if e.raw_os_error() == Some(nix::libc::EXDEV) => {
            std::fs::copy(from, to)
                .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
            remove_quietly(from);
            Ok(())
        }
        Err(e) => Err(e).with_context(|| format!("moving {} to {}", from.display(), to.display())),
    }
}
