//! Ordered parallelism over namespaces.
//!
//! Reading a namespace (inflate + JSON parse) costs more than running the
//! rules on it, and namespaces are independent until the rules see them. So
//! loading runs on background threads while the calling thread runs the
//! rules, always in bundle order: the report is identical whatever the
//! number of cores, and only a few namespaces are in memory at once.

use std::cell::Cell;
use std::sync::mpsc;

thread_local! {
    /// Set on a thread whose work must stay on it ([`alone`]).
    static ALONE: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with this module's helpers working on the calling thread
/// only: work read ahead at idle priority ([`crate::ahead`]) is one thread
/// whose priority can be raised, not a tree of threads that inherited it.
pub fn alone<R>(f: impl FnOnce() -> R) -> R {
    /// Puts the flag back however `f` ends.
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            ALONE.with(|a| a.set(self.0));
        }
    }
    let _restore = Restore(ALONE.with(|a| a.replace(true)));
    f()
}

/// Threads to use besides the calling one (at least one, at most four:
/// beyond that the calling thread's rules are the bottleneck; one within
/// [`alone`]).
pub fn workers() -> usize {
    if ALONE.with(Cell::get) {
        return 1;
    }
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 4)
}

/// `a` on another thread beside `b` on this one (both here, one after the
/// other, when [`workers`] allows no other thread).
pub fn both<A, B>(a: impl FnOnce() -> A + Send, b: impl FnOnce() -> B) -> (A, B)
where
    A: Send,
{
    if workers() <= 1 {
        return (a(), b());
    }
    std::thread::scope(|scope| {
        let a = scope.spawn(a);
        let b = b();
        (join(a), b)
    })
}

/// What a scoped thread returned. A panic there is a bug: it is raised
/// again here, where the caller waits, instead of becoming a value.
pub fn join<R>(handle: std::thread::ScopedJoinHandle<'_, R>) -> R {
    match handle.join() {
        Ok(r) => r,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// `f` over `items` on [`workers`] threads; results in input order.
pub fn map_ordered<T, R, F>(items: &[T], f: F) -> Vec<R>
where
    T: Sync,
    R: Send,
    F: Fn(&T) -> R + Sync,
{
    let n = workers().min(items.len());
    if n <= 1 {
        return items.iter().map(f).collect();
    }
    let f = &f;
    let mut parts: Vec<Vec<(usize, R)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..n)
            .map(|k| {
                scope.spawn(move || {
                    (k..items.len())
                        .step_by(n)
                        .map(|i| (i, f(&items[i])))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().map(join).collect()
    });
    let mut all: Vec<(usize, R)> = parts.iter_mut().flat_map(std::mem::take).collect();
    all.sort_by_key(|(i, _)| *i);
    all.into_iter().map(|(_, r)| r).collect()
}

/// Runs `produce` for every item on background threads, at most one result
/// waiting per thread, and hands the results to `consume` on the calling
/// thread in input order.
pub fn pipeline<T, R, P, C>(items: &[T], produce: P, mut consume: C)
where
    T: Sync,
    R: Send,
    P: Fn(&T) -> R + Sync,
    C: FnMut(&T, R),
{
    let n = workers().min(items.len());
    if n <= 1 {
        for item in items {
            consume(item, produce(item));
        }
        return;
    }
    let produce = &produce;
    std::thread::scope(|scope| {
        let receivers: Vec<mpsc::Receiver<R>> = (0..n)
            .map(|k| {
                let (tx, rx) = mpsc::sync_channel(1);
                scope.spawn(move || {
                    for i in (k..items.len()).step_by(n) {
                        if tx.send(produce(&items[i])).is_err() {
                            break; // the consumer stopped
                        }
                    }
                });
                rx
            })
            .collect();
        for (i, item) in items.iter().enumerate() {
            match receivers[i % n].recv() {
                Ok(r) => consume(item, r),
                // The producer panicked; the scope re-raises its panic.
                Err(_) => break,
            }
        }
    });
}

/// Frees values on a background thread.
///
/// Dropping a parsed namespace (hundreds of thousands of small strings and
/// maps) costs about a third of running its rules; doing it beside the rules
/// instead of between them shortens the critical path. At most two values
/// wait, so memory stays bounded if freeing falls behind.
pub struct BackgroundDrop<T: Send + 'static> {
    sender: Option<mpsc::SyncSender<T>>,
    worker: Option<std::thread::JoinHandle<()>>,
}

impl<T: Send + 'static> BackgroundDrop<T> {
    /// Starts the freeing thread (falls back to dropping in place if the
    /// thread cannot be spawned).
    pub fn new() -> BackgroundDrop<T> {
        let (sender, receiver) = mpsc::sync_channel::<T>(2);
        let worker = std::thread::Builder::new()
            .name("kpm-drop".into())
            .spawn(move || receiver.into_iter().for_each(drop))
            .ok();
        BackgroundDrop {
            sender: worker.as_ref().map(|_| sender),
            worker,
        }
    }

    /// Hands `value` over to be freed.
    pub fn later(&self, value: T) {
        if let Some(sender) = &self.sender {
            // If the worker is gone the value comes back and drops here.
            let _ = sender.send(value);
        }
    }
}

impl<T: Send + 'static> Default for BackgroundDrop<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Send + 'static> Drop for BackgroundDrop<T> {
    /// Waits until everything handed over is freed.
    fn drop(&mut self) {
        self.sender = None;
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn map_keeps_input_order() {
        let items: Vec<usize> = (0..101).collect();
        let out = map_ordered(&items, |i| i * 2);
        assert_eq!(out, items.iter().map(|i| i * 2).collect::<Vec<_>>());
    }

    #[test]
    fn pipeline_consumes_every_item_once_in_order() {
        let items: Vec<String> = (0..57).map(|i| format!("ns-{i}")).collect();
        let produced = AtomicUsize::new(0);
        let mut seen = Vec::new();
        pipeline(
            &items,
            |name| {
                produced.fetch_add(1, Ordering::Relaxed);
                name.len()
            },
            |name, len| {
                assert_eq!(name.len(), len);
                seen.push(name.clone());
            },
        );
        assert_eq!(seen, items);
        assert_eq!(produced.load(Ordering::Relaxed), items.len());
    }

    #[test]
    fn background_drop_frees_everything_before_it_is_dropped() {
        struct Counted<'a>(&'a AtomicUsize);
        impl Drop for Counted<'_> {
            fn drop(&mut self) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        static FREED: AtomicUsize = AtomicUsize::new(0);
        {
            let bin = BackgroundDrop::new();
            for _ in 0..10 {
                bin.later(Counted(&FREED));
            }
        }
        assert_eq!(FREED.load(Ordering::SeqCst), 10);
    }

    #[test]
    fn alone_keeps_the_helpers_on_the_calling_thread_until_it_returns() {
        let before = workers();
        let here = std::thread::current().id();
        let (a, b) = alone(|| {
            assert_eq!(workers(), 1);
            both(
                || std::thread::current().id(),
                || std::thread::current().id(),
            )
        });
        assert_eq!((a, b), (here, here));
        assert_eq!(workers(), before);
        let items: Vec<u32> = (0..10).collect();
        let (doubled, sum) = both(
            || map_ordered(&items, |i| i * 2),
            || items.iter().sum::<u32>(),
        );
        assert_eq!(doubled, items.iter().map(|i| i * 2).collect::<Vec<_>>());
        assert_eq!(sum, 45);
    }

    #[test]
    fn empty_input_is_fine() {
        let items: Vec<u8> = Vec::new();
        assert!(map_ordered(&items, |b| *b).is_empty());
        pipeline(&items, |b| *b, |_, _| panic!("nothing to consume"));
    }
}
