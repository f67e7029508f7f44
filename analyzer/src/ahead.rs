//! Work done ahead of need, in the gaps of the work at hand.
//!
//! An analysis keeps every core busy while it parses namespaces, but not
//! throughout: one core idles while its cluster files finish loading, while
//! its largest namespace goes through the rules, and during its cluster
//! rules. A diff analyses one bundle after another, so it can read the next
//! bundle's cluster data in those gaps. At the usual priority that read
//! would only take cores from the analysis it overlaps (measured: no gain);
//! at Linux `SCHED_IDLE` it runs only when a core would otherwise idle.
//!
//! A thread at `SCHED_IDLE` on a machine busy with other programs may wait
//! a long time for a core. So work starts ahead only where its thread can
//! be raised back to the usual priority when its result is needed (root,
//! `CAP_SYS_NICE`, or an `RLIMIT_NICE` that allows it: probed once);
//! elsewhere it runs in place when needed, as if never started ahead. The
//! work runs on its one thread ([`crate::par::alone`]), so raising that
//! thread raises all of it.

use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{Scope, ScopedJoinHandle};

/// Where the thread working ahead stands, shared with the one that will
/// need the result: the lock orders "lower" against "raise", so a thread
/// that starts late never lowers itself after it was raised. (A thread
/// preempted just after lowering itself, lock still held, delays `wait`
/// until it next gets a core; it lowers itself first thing, long before its
/// result is wanted, so that window is hard to hit.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stand {
    /// Not yet running.
    Starting,
    /// Running at idle priority, as this kernel thread id.
    Idle(i32),
    /// Its result is needed: it stays at (or was raised to) the usual priority.
    Needed,
}

/// Work started ahead of need: [`Ahead::wait`] gives its result.
pub struct Ahead<'scope, R> {
    inner: Inner<'scope, R>,
}

enum Inner<'scope, R> {
    /// Running on its own thread.
    Started {
        handle: ScopedJoinHandle<'scope, R>,
        stand: Arc<Mutex<Stand>>,
    },
    /// Not started: idle priority could not be undone here.
    Deferred(Box<dyn FnOnce() -> R + Send + 'scope>),
}

impl<'scope, R: Send + 'scope> Ahead<'scope, R> {
    /// Starts `f` in `scope` at idle priority, if its thread can be raised
    /// again when the result is needed; otherwise keeps `f` for
    /// [`Ahead::wait`] to run.
    pub fn start<F>(scope: &'scope Scope<'scope, '_>, f: F) -> Self
    where
        F: FnOnce() -> R + Send + 'scope,
    {
        if !priority::reversible() {
            return Ahead {
                inner: Inner::Deferred(Box::new(f)),
            };
        }
        let stand = Arc::new(Mutex::new(Stand::Starting));
        let theirs = Arc::clone(&stand);
        let handle = scope.spawn(move || {
            {
                let mut s = theirs.lock().unwrap_or_else(PoisonError::into_inner);
                if *s == Stand::Starting && priority::lower() {
                    *s = Stand::Idle(priority::thread_id());
                }
            }
            crate::par::alone(f)
        });
        Ahead {
            inner: Inner::Started { handle, stand },
        }
    }

    /// The result: the thread is raised to the usual priority and joined
    /// (a panic there, a bug, is raised here), or deferred work runs now.
    pub fn wait(self) -> R {
        match self.inner {
            Inner::Deferred(f) => f(),
            Inner::Started { handle, stand } => {
                {
                    let mut s = stand.lock().unwrap_or_else(PoisonError::into_inner);
                    if let Stand::Idle(tid) = *s {
                        priority::raise(tid);
                    }
                    *s = Stand::Needed;
                }
                crate::par::join(handle)
            }
        }
    }
}

#[cfg(target_os = "linux")]
mod priority {
    use std::sync::OnceLock;

    /// Sets the scheduling policy of thread `tid` (0: the calling one).
    fn set(tid: i32, policy: libc::c_int) -> bool {
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: `param` is a valid `sched_param` (priority 0, as both
        // SCHED_IDLE and SCHED_OTHER require) for the duration of the call;
        // a wrong `tid` only makes the call fail.
        unsafe { libc::sched_setscheduler(tid, policy, &param) == 0 }
    }

    /// Whether a thread lowered to `SCHED_IDLE` may be raised back here,
    /// tried once on a thread of its own.
    pub(super) fn reversible() -> bool {
        static ANSWER: OnceLock<bool> = OnceLock::new();
        *ANSWER.get_or_init(|| {
            std::thread::spawn(|| set(0, libc::SCHED_IDLE) && set(0, libc::SCHED_OTHER))
                .join()
                .unwrap_or(false)
        })
    }

    /// Moves the calling thread to `SCHED_IDLE`.
    pub(super) fn lower() -> bool {
        set(0, libc::SCHED_IDLE)
    }

    /// Moves thread `tid` back to the usual policy.
    pub(super) fn raise(tid: i32) {
        // Permitted, as `reversible` found; if not, the thread still runs,
        // only later.
        let _ = set(tid, libc::SCHED_OTHER);
    }

    /// The calling thread's kernel id.
    pub(super) fn thread_id() -> i32 {
        // SAFETY: gettid has no preconditions and cannot fail.
        unsafe { libc::gettid() }
    }
}

#[cfg(not(target_os = "linux"))]
mod priority {
    pub(super) fn reversible() -> bool {
        false
    }
    pub(super) fn lower() -> bool {
        false
    }
    pub(super) fn raise(_: i32) {}
    pub(super) fn thread_id() -> i32 {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    /// The calling thread's scheduling policy.
    #[cfg(target_os = "linux")]
    fn policy() -> libc::c_int {
        // SAFETY: pid 0 names the calling thread; no pointer is passed.
        unsafe { libc::sched_getscheduler(0) }
    }

    #[test]
    fn the_result_is_the_same_started_ahead_or_not() {
        let items: Vec<u64> = (1..=1000).collect();
        let (workers, sum) = std::thread::scope(|scope| {
            let ahead = Ahead::start(scope, || {
                let sum = crate::par::map_ordered(&items, |i| i * 2)
                    .iter()
                    .sum::<u64>();
                (crate::par::workers(), sum)
            });
            ahead.wait()
        });
        assert_eq!(sum, 1000 * 1001);
        if priority::reversible() {
            // Started ahead, alone: the helpers of `par` stayed on its thread.
            assert_eq!(workers, 1);
        }
        let deferred = Ahead {
            inner: Inner::Deferred(Box::new(|| 7)),
        };
        assert_eq!(deferred.wait(), 7);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn work_ahead_runs_at_idle_priority_until_it_is_needed() {
        if !priority::reversible() {
            // Not started ahead where it could not be raised: it runs in
            // place, at the caller's priority.
            let ahead = std::thread::scope(|scope| Ahead::start(scope, policy).wait());
            assert_eq!(ahead, libc::SCHED_OTHER);
            return;
        }
        let (told, seen) = mpsc::channel();
        let raised = std::thread::scope(|scope| {
            let ahead = Ahead::start(scope, move || {
                let _ = told.send(policy());
                // Waits for `wait` to raise it, a while at most.
                let deadline = Instant::now() + Duration::from_secs(20);
                while policy() == libc::SCHED_IDLE && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(1));
                }
                policy()
            });
            assert_eq!(seen.recv().ok(), Some(libc::SCHED_IDLE));
            ahead.wait()
        });
        assert_eq!(
            raised,
            libc::SCHED_OTHER,
            "raised when its result was needed"
        );
    }
}
