//! The byte-equal oracle's switch, for tests only: with `RSRSYNC_TEST_HOLD`
//! naming a directory in the environment mariadbd passes on, each side
//! stops once at the moment that proves a transfer right, and a test
//! compares the two:
//!
//! - the donor, at the end of its locked work (the read lock still held,
//!   whatever it read, cloned or skipped under it), writes its transfer
//!   set to `donor.set` (one line per file: class, path on the wire,
//!   path here, tab-separated) and waits for `donor.go`: the test copies
//!   those files meanwhile, so the copy is the state the lock stands for;
//! - the donor, after its first live round, when the test asked for it
//!   with `donor.live.ask`, creates `donor.live` and waits for
//!   `donor.live.go`: the test changes the server between the rounds;
//! - the joiner, every file in place and flushed, before it prints the
//!   state (so before its mariadbd opens InnoDB), creates `joiner.ready`
//!   and waits for `joiner.go`: the test compares what it received with
//!   the copy, byte for byte.
//!
//! A wait lasts [`PATIENCE`] at most; without the variable nothing here
//! runs.

use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::signals::Stop;
use crate::transfer::walk::{Entry, EntryKind};

/// Longest hold: a test that never answers must not hang a node.
const PATIENCE: Duration = Duration::from_secs(900);

/// The donor's hold: the transfer set written, then the test's answer.
pub(crate) fn hold_donor(dir: &Path, entries: &[Entry], stop: &Stop) -> Result<()> {
    let mut set = Vec::new();
    for entry in entries {
        if let EntryKind::File { source, .. } = &entry.kind {
            set.extend_from_slice(format!("{:?}\t", entry.class).as_bytes());
            set.extend_from_slice(&entry.path.to_bytes());
            set.push(b'\t');
            set.extend_from_slice(source.as_os_str().as_bytes());
            set.push(b'\n');
        }
    }
    let temp = dir.join("donor.set.tmp");
    std::fs::File::create(&temp)
        .and_then(|mut f| f.write_all(&set))
        .and_then(|()| std::fs::rename(&temp, dir.join("donor.set")))
        .with_context(|| format!("writing the oracle's donor.set in {}", dir.display()))?;
    wait_for(dir, "donor.go", stop)
}

/// The donor's hold after its first live round, when the test asked.
pub(crate) fn hold_live(dir: &Path, stop: &Stop) -> Result<()> {
    if !dir.join("donor.live.ask").exists() {
        return Ok(());
    }
    std::fs::write(dir.join("donor.live"), b"")
        .with_context(|| format!("writing the oracle's donor.live in {}", dir.display()))?;
    wait_for(dir, "donor.live.go", stop)
}

/// The joiner's hold, before the state line.
pub(crate) fn hold_joiner(dir: &Path, stop: &Stop) -> Result<()> {
    std::fs::write(dir.join("joiner.ready"), b"")
        .with_context(|| format!("writing the oracle's joiner.ready in {}", dir.display()))?;
    wait_for(dir, "joiner.go", stop)
}

fn wait_for(dir: &Path, name: &str, stop: &Stop) -> Result<()> {
    log::info!("oracle: holding until {name} appears in {}", dir.display());
    let started = Instant::now();
    let path = dir.join(name);
    while !path.exists() {
        stop.check()?;
        if started.elapsed() > PATIENCE {
            bail!(
                "oracle: {} did not appear within {} s",
                path.display(),
                PATIENCE.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    log::info!(
        "oracle: released after {:.3} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
