//! Reading a file of the plan: opening it (or its clone under the lock),
//! finding its holes, and telling a file that changed under us from a read
//! that failed.

use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use anyhow::{Context, Result, bail};
use nix::errno::Errno;
use nix::unistd::{Whence, lseek};

use super::plan::PlanFile;
use crate::fsutil::describe;

/// Why a block could not be read as planned.
pub(super) enum Unreadable {
    /// The file changed (gone, shrunk, different bytes).
    Changed(anyhow::Error),
    Failed(anyhow::Error),
}

/// A file being read: its id, handle, and whether it may have holes.
pub(super) struct Source {
    pub(super) id: u32,
    pub(super) file: File,
    pub(super) sparse: bool,
}

/// Opens a source file; it must still be as large as planned, and we
/// note whether it may have holes.
pub(super) fn open_source(id: u32, file: &PlanFile<'_>) -> Result<Source, Unreadable> {
    let shown = file.source.display().to_string();
    let opened = match &file.clone {
        Some(clone) => clone.try_clone(),
        None => File::open(file.source),
    };
    let handle = opened.map_err(|e| {
        let err = describe(&e, &shown, "opening");
        if e.kind() == std::io::ErrorKind::NotFound {
            Unreadable::Changed(err)
        } else {
            Unreadable::Failed(err)
        }
    })?;
    let meta = handle
        .metadata()
        .with_context(|| format!("examining {shown}"))
        .map_err(Unreadable::Failed)?;
    if meta.len() < file.size {
        return Err(Unreadable::Changed(anyhow::anyhow!(
            "{shown} shrank from {} to {} bytes during the transfer",
            file.size,
            meta.len()
        )));
    }
    let sparse = meta.blocks().saturating_mul(512) < meta.len();
    Ok(Source {
        id,
        file: handle,
        sparse,
    })
}

/// Whether `len` bytes at `offset` are a hole (no data stored).
pub(super) fn is_hole(file: &File, offset: u64, len: u32, path: &Path) -> Result<bool> {
    let start = i64::try_from(offset).context("offset beyond 2^63")?;
    match lseek(file, start, Whence::SeekData) {
        Ok(data) => Ok(data as u64 >= offset + u64::from(len)),
        Err(Errno::ENXIO) => Ok(true),
        Err(e) => bail!("looking for data in {}: {e}", path.display()),
    }
}

/// The outcome of reading `len` bytes of the source `path` at `offset`: a
/// short read means the file shrank under us.
pub(super) fn file_bytes<T>(
    read: std::io::Result<T>,
    path: &Path,
    offset: u64,
    len: u32,
) -> Result<T, Unreadable> {
    read.map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            Unreadable::Changed(anyhow::anyhow!(
                "{} shrank during the transfer (reading {len} bytes at offset {offset})",
                path.display(),
            ))
        } else {
            Unreadable::Failed(describe(&e, &path.display().to_string(), "reading"))
        }
    })
}
