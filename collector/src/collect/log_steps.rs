//! Container log steps: planning every log of a namespace (so a stop marks
//! them) and fetching them one request permit at a time, bounded and
//! redacted like everything else.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::OwnedSemaphorePermit;
use tokio::task::JoinSet;

use kpm_bundle::layout;

use super::{elapsed_ms, fail, log_what, step, Ctx};
use crate::fetch::retried_note;
use crate::logs::{self, LogTarget};
use crate::redact::Counts;
use crate::sink::Record;

impl Ctx {
    /// Collects one container log, holding a request permit acquired
    /// before the task was spawned.
    async fn log(&self, namespace: String, target: LogTarget, _permit: OwnedSemaphorePermit) {
        let what = if target.previous {
            "logs/previous"
        } else {
            "logs"
        };
        let object = format!("{}/{}", target.pod, target.container);
        let mut s = step(what, Some(&namespace), Some(&object));
        let t = Instant::now();
        let url = logs::url(
            &namespace,
            &target,
            self.opts.log_lines,
            self.opts.log_bytes,
            self.opts.since_seconds,
        );
        let result = self.fetch.get_counted(&url).await;
        s.duration_ms = elapsed_ms(t);
        match result {
            Ok((raw, retries)) => {
                if retries > 0 {
                    s.message = Some(retried_note(retries));
                }
                let text = logs::bound(&raw, self.opts.log_lines, self.opts.log_bytes);
                drop(raw);
                let mut counts = Counts::new();
                let text = self.opts.redactor.log(text, &mut counts);
                s.items = text.lines().count() as u64;
                let path =
                    layout::log_path(&namespace, &target.pod, &target.container, target.previous);
                self.record(Record::File {
                    path,
                    bytes: text.into_bytes(),
                    step: s,
                    redaction: counts,
                })
                .await;
            }
            Err(f) => {
                self.note_failure(&f);
                self.record(Record::Step(fail(s, &f))).await;
            }
        }
    }

    /// Plans every log of `targets` (so a stop marks them), then starts
    /// them one by one as request permits free up: a task exists only for a
    /// log being fetched, never for the thousands still waiting. Finished
    /// tasks of `set` are reaped as new ones start, because a finished task
    /// keeps its memory until it is joined; targets they return are planned
    /// and started here too.
    pub(super) async fn plan_logs(
        self: &Arc<Self>,
        set: &mut JoinSet<Vec<LogTarget>>,
        namespace: &str,
        targets: Vec<LogTarget>,
    ) {
        if !self.opts.logs {
            return;
        }
        let mut queue = vec![targets];
        while let Some(targets) = queue.pop() {
            for t in &targets {
                self.plan(&step(
                    log_what(t),
                    Some(namespace),
                    Some(&format!("{}/{}", t.pod, t.container)),
                ));
            }
            for t in targets {
                let Ok(permit) = Arc::clone(&self.permits).acquire_owned().await else {
                    return;
                };
                while let Some(done) = set.try_join_next() {
                    match done {
                        Ok(more) if !more.is_empty() => queue.push(more),
                        _ => {}
                    }
                }
                let ctx = Arc::clone(self);
                let ns = namespace.to_string();
                set.spawn(async move {
                    ctx.log(ns, t, permit).await;
                    Vec::new()
                });
            }
        }
    }
}
