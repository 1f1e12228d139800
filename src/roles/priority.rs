//! The donor's I/O priority once the lock is gone: idle (`ioprio_set(2)`,
//! `IOPRIO_CLASS_IDLE`) for every thread of the process, so the copy after
//! `continue` uses the disk only when the server does not.
//!
//! Why: out of the page cache the copy reads the datadir as fast as the
//! disk allows, and InnoDB writes its redo log with O_DIRECT at every
//! commit; at the same priority each commit's write waits in the disk's
//! queue behind our reads, the server commits fewer transactions than its
//! clients send, and their queue grows for as long as the copy lasts (the
//! benchmark saw 1.2–1.4 s of write stall at 2 GiB, 3.9 s at 8 GiB). At
//! idle priority the stall is the lock's again (about 0.5 s), and the copy
//! is no slower: the server writes little. Schedulers that ignore
//! priorities (`none`) make this a no-op; so does a failure, which is
//! only logged.
//!
//! The cost falls on a donor whose disk the server keeps busy: mq-deadline
//! serves an idle request once it has waited 10 s (its
//! `prio_aging_expire`), BFQ gives the idle class one request every 200 ms
//! (`BFQ_CL_IDLE_TIMEOUT`), so under a write load that fills the disk the
//! copy crawls. `rsrsync-io-priority=normal` keeps the priority mariadbd
//! gave us, for operators who would rather slow the server than the SST.

/// Puts every thread of this process (and so the threads they start) in
/// the idle I/O class. Advice only: errors are logged, never returned.
pub(super) fn yield_io() {
    let idle = ioprio::Priority::new(ioprio::Class::Idle);
    let mut threads = 0u32;
    let mut failed = None;
    for tid in threads_of_this_process() {
        let target = ioprio::Target::Process(ioprio::Pid::from_raw(tid));
        match ioprio::set_priority(target, idle) {
            Ok(()) => threads += 1,
            Err(e) => failed = Some(e),
        }
    }
    match failed {
        None => log::info!("copy at idle I/O priority from here on ({threads} threads)"),
        Some(e) => log::info!("could not lower the copy's I/O priority: {e}"),
    }
}

/// The thread ids of this process; without /proc, 0 (the caller alone).
fn threads_of_this_process() -> Vec<i32> {
    std::fs::read_dir("/proc/self/task")
        .map(|dir| {
            dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_else(|_| vec![0])
}

#[cfg(test)]
mod tests {
    // Not yield_io itself: it would slow every other test's I/O.
    #[test]
    fn lists_every_thread() {
        let (tx, rx) = std::sync::mpsc::channel();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let worker = std::thread::spawn(move || {
            tx.send(nix::unistd::gettid().as_raw()).expect("send");
            let _ = done_rx.recv();
        });
        let tid = rx.recv().expect("tid");
        let tids = super::threads_of_this_process();
        drop(done_tx);
        worker.join().expect("worker");
        assert!(tids.contains(&tid), "{tid} not in {tids:?}");
        assert!(tids.contains(&nix::unistd::gettid().as_raw()));
    }
}
