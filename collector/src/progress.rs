//! Progress on stderr: a bar when stderr is a terminal, plain log lines
//! otherwise (CI logs, `kubectl logs` of the collector Job).

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use kpm_bundle::{Outcome, Step};

/// Cheap to clone; shared by the planner and the writer thread.
#[derive(Clone)]
pub struct Progress {
    inner: Arc<Inner>,
}

struct Inner {
    bar: Option<ProgressBar>,
    planned: AtomicU64,
    done: AtomicU64,
    warned: AtomicU64,
    start: Instant,
    /// `--quiet`: no bar and no progress lines; warnings still print.
    quiet: bool,
}

/// Failed steps printed as they happen; the rest are only in the summary,
/// so a cluster with hundreds of vanished pods does not flood the terminal.
const LIVE_WARNINGS: u64 = 20;

impl Progress {
    /// A bar if stderr is a terminal, else plain lines.
    pub fn new() -> Progress {
        Progress::with_quiet(false)
    }

    /// Like [`Progress::new`], or, when `quiet`, only the warnings.
    pub fn with_quiet(quiet: bool) -> Progress {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} steps {wide_msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar
        });
        Progress {
            inner: Arc::new(Inner {
                bar,
                planned: AtomicU64::new(0),
                done: AtomicU64::new(0),
                warned: AtomicU64::new(0),
                start: Instant::now(),
                quiet,
            }),
        }
    }

    /// More steps are planned.
    pub fn planned(&self, n: u64) {
        self.inner.planned.fetch_add(n, Ordering::Relaxed);
        if let Some(bar) = &self.inner.bar {
            bar.inc_length(n);
        }
    }

    /// A phase starts (one line in plain mode).
    pub fn phase(&self, what: &str) {
        match &self.inner.bar {
            Some(bar) => bar.set_message(what.to_string()),
            None if self.inner.quiet => {}
            None => eprintln!(
                "[{:>6.1}s] {what}",
                self.inner.start.elapsed().as_secs_f64()
            ),
        }
    }

    /// A warning line, above the bar.
    pub fn warn(&self, line: &str) {
        match &self.inner.bar {
            Some(bar) => bar.println(format!("warning: {line}")),
            None => eprintln!("warning: {line}"),
        }
    }

    /// A step finished. Failed steps are printed as they happen.
    pub fn step_done(&self, step: &Step) {
        let done = self.inner.done.fetch_add(1, Ordering::Relaxed) + 1;
        if step.outcome != Outcome::Ok {
            let n = self.inner.warned.fetch_add(1, Ordering::Relaxed) + 1;
            if n <= LIVE_WARNINGS {
                self.warn(&describe(step));
            } else if n == LIVE_WARNINGS + 1 {
                self.warn("more steps failed; see the summary");
            }
        }
        match &self.inner.bar {
            Some(bar) => bar.inc(1),
            None => {
                if !self.inner.quiet && done.checked_rem(200) == Some(0) {
                    let planned = self.inner.planned.load(Ordering::Relaxed);
                    eprintln!(
                        "[{:>6.1}s] {done}/{planned} steps",
                        self.inner.start.elapsed().as_secs_f64()
                    );
                }
            }
        }
    }

    /// Removes the bar before the summary is printed.
    pub fn finish(&self) {
        if let Some(bar) = &self.inner.bar {
            bar.finish_and_clear();
        }
    }
}

impl Default for Progress {
    fn default() -> Self {
        Progress::new()
    }
}

/// `shop/secrets: forbidden (HTTP 403): secrets is forbidden: …`.
pub fn describe(step: &Step) -> String {
    let mut s = String::new();
    if let Some(ns) = &step.namespace {
        s.push_str(ns);
        s.push('/');
    }
    s.push_str(&step.what);
    if let Some(o) = &step.object {
        s.push(' ');
        s.push_str(o);
    }
    s.push_str(": ");
    s.push_str(step.outcome.as_str());
    if let Some(code) = step.http_status {
        s.push_str(&format!(" (HTTP {code})"));
    }
    if let Some(m) = &step.message {
        s.push_str(": ");
        s.push_str(m);
    }
    s
}
