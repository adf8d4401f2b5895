//! One worker pool for the jobs that handle many files at once (add's
//! staging, export's decryption, a rotation's re-encryption).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

/// Runs `job` for every item on as many threads as there are cores (at
/// most 4) and returns the results in the order of the items. Items are
/// taken in order; a slot is `None` when its item never started, because
/// `stop()` said so or an earlier result was `fatal`. Memory is bounded by
/// the caller's batch: nothing is read ahead.
pub(crate) fn run_ordered<T: Sync, R: Send>(
    items: &[T],
    stop: impl Fn() -> bool + Sync,
    fatal: impl Fn(&R) -> bool + Sync,
    job: impl Fn(&T) -> R + Sync,
) -> Vec<Option<R>> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 4);
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let slots: Vec<Mutex<Option<R>>> = items.iter().map(|_| Mutex::new(None)).collect();
    let work = || loop {
        let i = next.fetch_add(1, Ordering::SeqCst);
        if i >= items.len() || failed.load(Ordering::SeqCst) || stop() {
            break;
        }
        let result = job(&items[i]);
        if fatal(&result) {
            failed.store(true, Ordering::SeqCst);
        }
        *slots[i].lock().expect("no poisoned slot") = Some(result);
    };
    if threads == 1 || items.len() < 2 {
        work();
    } else {
        std::thread::scope(|scope| {
            for _ in 1..threads {
                scope.spawn(work);
            }
            work();
        });
    }
    slots
        .into_iter()
        .map(|s| s.into_inner().expect("no poisoned slot"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_the_order_and_a_fatal_one_stops_later_items() {
        let items: Vec<u32> = (0..200).collect();
        let all = run_ordered(&items, || false, |_: &u32| false, |i| i * 2);
        assert_eq!(all, items.iter().map(|i| Some(i * 2)).collect::<Vec<_>>());
        let cut = run_ordered(&items, || false, |r: &u32| *r == 10, |i| *i);
        assert_eq!(cut[10], Some(10));
        // Taken in order: nothing far beyond the fatal item started.
        assert!(cut[100..].iter().all(Option::is_none), "{cut:?}");
        let none = run_ordered(&items, || true, |_: &u32| false, |i| *i);
        assert!(none.iter().all(Option::is_none));
    }
}
