//! The donor's I/O priority while the server runs: idle (`ioprio_set(2)`,
//! `IOPRIO_CLASS_IDLE`) for the live rounds and for the copy after
//! `continue`, so the copy uses the disk only when the server does not;
//! under the lock the priority mariadbd gave, as the server waits for it.
//!
//! Why: out of the page cache the copy reads the datadir as fast as the
//! disk allows, and InnoDB writes its redo log with O_DIRECT at every
//! commit; at the same priority each commit's write waits in the disk's
//! queue behind our reads, the server commits fewer transactions than its
//! clients send, and their queue grows for as long as the copy lasts (the
//! benchmark saw 1.2–1.4 s of write stall at 2 GiB, 3.9 s at 8 GiB after
//! `continue`, and 1.1–1.9 s during the live rounds on ext4). At idle
//! priority the stall is the lock's again (about 0.5 s), and the copy is
//! no slower: the server writes little. Schedulers that ignore priorities
//! (`none`) make this a no-op; so does a failure, which is only logged.
//!
//! The cost falls on a donor whose disk the server keeps busy: mq-deadline
//! serves an idle request once it has waited 10 s (its
//! `prio_aging_expire`), BFQ gives the idle class one request every 200 ms
//! (`BFQ_CL_IDLE_TIMEOUT`), so under a write load that fills the disk the
//! copy crawls. `rsrsync-io-priority=normal` keeps the priority mariadbd
//! gave us, for operators who would rather slow the server than the SST.

use ioprio::{Pid, Priority, Target};

/// The calling thread.
const THIS_THREAD: Target = Target::Process(Pid::from_raw(0));

/// The I/O priority mariadbd gave the calling thread.
fn given() -> Priority {
    ioprio::get_priority(THIS_THREAD).unwrap_or_default()
}

/// Puts the calling thread, and so the threads it starts from now on (the
/// live rounds' streams), in the idle I/O class; threads started before
/// (the redo log index's reader, which must keep up with InnoDB) keep
/// theirs. Returns the priority it had, for [`restore_io`]. Advice only:
/// a failure is logged.
pub(super) fn yield_io_from_here() -> Priority {
    let given = given();
    match ioprio::set_priority(THIS_THREAD, Priority::new(ioprio::Class::Idle)) {
        Ok(()) => log::info!("live rounds at idle I/O priority"),
        Err(e) => log::info!("could not lower the live rounds' I/O priority: {e}"),
    }
    given
}

/// Gives the calling thread the priority `given` again (the locked round's
/// streams inherit it). Advice only: a failure is logged.
pub(super) fn restore_io(given: Priority) {
    if let Err(e) = ioprio::set_priority(THIS_THREAD, given) {
        log::info!("could not restore the I/O priority for the lock: {e}");
    }
}

/// Puts every thread of this process (and so the threads they start) in
/// the idle I/O class. Advice only: errors are logged, never returned.
pub(super) fn yield_io() {
    let idle = Priority::new(ioprio::Class::Idle);
    let mut threads = 0u32;
    let mut failed = None;
    for tid in threads_of_this_process() {
        let target = Target::Process(Pid::from_raw(tid));
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
    use super::*;

    fn class() -> Option<ioprio::Class> {
        ioprio::get_priority(THIS_THREAD)
            .expect("ioprio_get")
            .class()
    }

    /// Set in the process the test below runs in.
    const ALONE: &str = "RSRSYNC_TEST_PRIORITY_ALONE";

    // In a process of its own: the donors of the end-to-end tests put
    // every thread of the test process in the idle class after `continue`.
    #[test]
    fn the_live_rounds_threads_yield_and_the_lock_gets_the_priority_back() {
        const NAME: &str = "roles::priority::tests::the_live_rounds_threads_yield_and_the_lock_gets_the_priority_back";
        if std::env::var_os(ALONE).is_none() {
            let status = std::process::Command::new(std::env::current_exe().expect("test binary"))
                .args(["--exact", NAME, "--test-threads=1"])
                .env(ALONE, "1")
                .status()
                .expect("the test in a process of its own");
            assert!(status.success(), "{NAME} alone: {status}");
            return;
        }
        // What mariadbd gives is inherited; start from a known class.
        let normal = Priority::new(ioprio::Class::BestEffort(
            ioprio::BePriorityLevel::from_level(4).expect("level 4"),
        ));
        ioprio::set_priority(THIS_THREAD, normal).expect("ioprio_set");
        let (yielded, wait) = std::sync::mpsc::channel::<()>();
        let before = std::thread::spawn(move || {
            let _ = wait.recv();
            class()
        });
        let given = yield_io_from_here();
        assert_eq!(given, normal);
        assert_eq!(class(), Some(ioprio::Class::Idle));
        let stream = std::thread::spawn(class).join().expect("stream");
        assert_eq!(stream, Some(ioprio::Class::Idle), "a stream started since");
        drop(yielded);
        let reader = before.join().expect("reader");
        assert_eq!(reader, normal.class(), "a thread started before");
        restore_io(given);
        assert_eq!(
            ioprio::get_priority(THIS_THREAD).expect("ioprio_get"),
            given
        );
    }

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
