//! The progress reporter of a running transfer: a thread that logs how
//! far it is every few seconds and, when mariadbd asked for it with
//! `--progress 1`, writes `total`/`complete` lines on stdout. It only
//! reads the counters the transfer bumps ([`Progress`]), so the transfer
//! never speaks to mariadbd.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::progress::Progress;
use crate::sst_io::Mariadbd;

/// How often a running transfer says how far it is.
const EVERY: Duration = Duration::from_secs(5);

/// Reports a transfer's progress until dropped.
#[derive(Debug)]
pub(crate) struct Reporter {
    done: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Reporter {
    /// Starts reporting; `out` is mariadbd's stdout when it passed
    /// `--progress 1` (then `total <bytes>` now and `complete <bytes>` as
    /// it goes).
    pub(crate) fn start(progress: Arc<Progress>, mut out: Option<Mariadbd>) -> Reporter {
        let done = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&done);
        if let Some(out) = &mut out {
            report_total(out, progress.total_bytes());
        }
        let thread = std::thread::Builder::new()
            .name("progress".into())
            .spawn(move || {
                let mut next = Instant::now() + EVERY;
                loop {
                    // Drop unparks us: a round's end waits for no tick.
                    std::thread::park_timeout(next.saturating_duration_since(Instant::now()));
                    if flag.load(Ordering::Acquire) {
                        break;
                    }
                    if Instant::now() < next {
                        continue;
                    }
                    next += EVERY;
                    log::info!("{}", progress.line());
                    if let Some(out) = &mut out {
                        report_complete(out, progress.bytes());
                    }
                }
            })
            .ok();
        Reporter { done, thread }
    }
}

fn report_total(out: &mut Mariadbd, total: u64) {
    if let Err(e) = out.total(total) {
        log::debug!("progress line not written: {e:#}");
    }
}

fn report_complete(out: &mut Mariadbd, done: u64) {
    if let Err(e) = out.complete(done) {
        log::debug!("progress line not written: {e:#}");
    }
}

impl Drop for Reporter {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mariadbd_gets_total_then_complete() {
        let (out, rx) = Mariadbd::channel();
        let p = Progress::new("donor", 100, 1);
        let reporter = Reporter::start(Arc::clone(&p), Some(out));
        p.add_bytes(40);
        std::thread::sleep(EVERY + Duration::from_millis(300));
        drop(reporter);
        let lines: Vec<String> = rx.try_iter().collect();
        assert_eq!(lines.first().map(String::as_str), Some("total 100"));
        assert_eq!(lines.get(1).map(String::as_str), Some("complete 40"));
    }
}
