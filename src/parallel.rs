//! A map over `0..count` on a few threads at once, for the donor's waits
//! that do not use a CPU: opening data streams (round trips) and cloning
//! files under the lock (the filesystem's metadata, read from disk when
//! the page cache was dropped).

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// `work(i)` for every `i` in `0..count`, on at most `at_once` threads,
/// each taking the next index as soon as it is done with one; the results
/// in index order, `None` where `work` panicked (the thread that caught
/// the panic goes on with the next index).
pub(crate) fn map<T: Send>(
    count: usize,
    at_once: usize,
    work: impl Fn(usize) -> T + Sync,
) -> Vec<Option<T>> {
    let results: Mutex<Vec<Option<T>>> = Mutex::new((0..count).map(|_| None).collect());
    let next = AtomicUsize::new(0);
    let worker = || {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= count {
                break;
            }
            // A panic is one missing result, not a lost batch: the rest
            // of the work still runs and the caller says what failed.
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(i)));
            if let Ok(value) = result {
                let mut slots = results.lock().unwrap_or_else(|e| e.into_inner());
                slots[i] = Some(value);
            }
        }
    };
    std::thread::scope(|scope| {
        for _ in 0..at_once.clamp(1, count.max(1)) {
            scope.spawn(worker);
        }
    });
    results.into_inner().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::map;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[test]
    fn results_in_order_with_a_bounded_number_of_threads() {
        let running = AtomicUsize::new(0);
        let most = AtomicUsize::new(0);
        let out = map(20, 3, |i| {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(5));
            running.fetch_sub(1, Ordering::SeqCst);
            i * 2
        });
        let want: Vec<Option<usize>> = (0..20).map(|i| Some(i * 2)).collect();
        assert_eq!(out, want);
        let most = most.load(Ordering::SeqCst);
        assert!(most <= 3, "{most} at once");
    }

    #[test]
    fn a_panic_loses_its_result_only() {
        let out = map(6, 2, |i| {
            assert!(i != 4, "work 4 fails");
            i
        });
        assert_eq!(out, vec![Some(0), Some(1), Some(2), Some(3), None, Some(5)]);
    }

    #[test]
    fn nothing_to_do() {
        assert!(map(0, 8, |i| i).is_empty());
    }
}
