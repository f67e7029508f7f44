//! The single writer: one thread owns the [`BundleWriter`] and receives
//! finished lists, logs and step records over a bounded channel. The zip
//! format takes one entry at a time; funnelling everything through one
//! consumer keeps entries whole and, with the channel bound, caps how much
//! collected data waits in memory.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::thread::JoinHandle;

use serde_json::Value;
use tokio::sync::mpsc;

use kpm_bundle::manifest::FileRecord;
use kpm_bundle::{BundleError, BundleWriter, Outcome, Step};

use crate::budget::Deferred;
use crate::progress::Progress;
use crate::redact::{merge, Counts};
use crate::spool::{ItemReader, Items};
use crate::summary::Tally;

/// Writes a whole entry's content into the bundle, streaming; returns the
/// number of items written and the step message, or why it failed.
pub type StreamFn = Box<dyn FnOnce(&mut dyn Write) -> Result<(u64, Option<String>), String> + Send>;

/// Something to put in the bundle (or just record in the manifest).
pub enum Record {
    /// A Kubernetes `List` whose items are already serialized JSON.
    List {
        /// Bundle path.
        path: String,
        /// `PodList`.
        list_kind: String,
        /// `v1`.
        api_version: String,
        /// From the first page.
        resource_version: Option<String>,
        /// Items, serialized.
        items: Items,
        /// The step; `path`, `items` and `bytes` are filled in here.
        step: Step,
        /// What redaction replaced in these items.
        redaction: Counts,
    },
    /// A whole file (a log, `/version`, derived data).
    File {
        /// Bundle path.
        path: String,
        /// Content.
        bytes: Vec<u8>,
        /// The step; `path` and `bytes` are filled in here.
        step: Step,
        /// What redaction replaced.
        redaction: Counts,
    },
    /// A JSON value written pretty (derived data, `/version`).
    Json {
        /// Bundle path.
        path: String,
        /// Content.
        value: Value,
        /// The step.
        step: Step,
    },
    /// An entry produced by a function writing straight into the bundle
    /// (node allocation, too large to build in memory first).
    Stream {
        /// Bundle path.
        path: String,
        /// Produces the content.
        write: StreamFn,
        /// The step; `path`, `items` and `bytes` are filled in here.
        step: Step,
    },
    /// A step that wrote nothing (it failed).
    Step(Step),
    /// The run is over: the writer stops here even if tasks that were
    /// stopped mid-way still hold a sender.
    Close,
}

/// Identity of a step, to tell which planned steps never finished.
pub type StepKey = (String, Option<String>, Option<String>);

/// The key of a step.
pub fn key_of(step: &Step) -> StepKey {
    (
        step.what.clone(),
        step.namespace.clone(),
        step.object.clone(),
    )
}

/// Totals for the final summary.
#[derive(Debug, Default, Clone)]
pub struct Totals {
    /// Objects written in lists.
    pub objects: u64,
    /// Log files written.
    pub logs: u64,
    /// Bytes written (uncompressed).
    pub bytes: u64,
}

/// What the writer thread hands back.
pub struct SinkResult {
    /// The writer, to be finished with the manifest; `None` after an error.
    pub writer: Option<BundleWriter>,
    /// Steps in the order they finished, spooled.
    pub steps: StepLog,
    /// Redaction counts of everything written.
    pub redaction: BTreeMap<String, u64>,
    /// Totals.
    pub totals: Totals,
    /// The first write error; collection is pointless after it.
    pub error: Option<BundleError>,
}

/// Finished steps, kept as compact JSON in an [`Items`] spool: a large
/// cluster has a step per container log (150,000 and more), and holding
/// them as `Step`s made peak memory grow with the cluster. They are read
/// back one at a time, straight into `manifest.json` ([`StepLog::stream`]).
pub struct StepLog {
    spool: Items,
    /// Steps the spool could not take (temporary file unusable).
    fallback: Vec<Step>,
}

impl StepLog {
    fn new() -> StepLog {
        StepLog {
            spool: Items::new(),
            fallback: Vec::new(),
        }
    }

    fn push(&mut self, step: Step) {
        let stored = serde_json::to_vec(&step)
            .map_err(|e| e.to_string())
            .and_then(|b| self.spool.push(&b).map_err(|e| e.to_string()));
        if stored.is_err() {
            self.fallback.push(step);
        }
    }

    /// Every step for the manifest, one at a time: the finished ones in the
    /// order they finished (the fallback ones last), then `unfinished`, the
    /// planned steps the run did not finish, already marked, except those
    /// that were written after all (a task can stop between sending its
    /// record and un-planning its step). Each step passes through `tally`.
    pub fn stream<'a>(
        self,
        unfinished: Vec<Step>,
        tally: &'a mut Tally,
        progress: &'a Progress,
    ) -> ManifestSteps<'a> {
        let spooled = match self.spool.into_reader() {
            Ok(reader) => Some(reader),
            Err(e) => {
                progress.warn(&format!("some step records were lost: {e}"));
                None
            }
        };
        ManifestSteps {
            spooled,
            fallback: self.fallback.into_iter(),
            unfinished: unfinished.into_iter().map(|s| (key_of(&s), s)).collect(),
            tail: None,
            tally,
            progress,
        }
    }
}

/// The iterator of [`StepLog::stream`].
pub struct ManifestSteps<'a> {
    spooled: Option<ItemReader>,
    fallback: std::vec::IntoIter<Step>,
    /// Planned steps not seen among the finished ones (yet).
    unfinished: HashMap<StepKey, Step>,
    /// What is left of `unfinished` once every finished step went by.
    tail: Option<std::vec::IntoIter<Step>>,
    tally: &'a mut Tally,
    progress: &'a Progress,
}

impl ManifestSteps<'_> {
    fn next_spooled(&mut self) -> Option<Step> {
        let reader = self.spooled.as_mut()?;
        let read = match reader.next_item() {
            Ok(Some(bytes)) => serde_json::from_slice::<Step>(bytes).map_err(|e| e.to_string()),
            Ok(None) => {
                self.spooled = None;
                return None;
            }
            Err(e) => Err(e.to_string()),
        };
        match read {
            Ok(step) => Some(step),
            Err(e) => {
                self.progress
                    .warn(&format!("some step records were lost: {e}"));
                self.spooled = None;
                None
            }
        }
    }
}

impl Iterator for ManifestSteps<'_> {
    type Item = Step;

    fn next(&mut self) -> Option<Step> {
        if let Some(step) = self.next_spooled().or_else(|| self.fallback.next()) {
            if !self.unfinished.is_empty() {
                self.unfinished.remove(&key_of(&step));
            }
            self.tally.add(&step);
            return Some(step);
        }
        let unfinished = &mut self.unfinished;
        let tail = self.tail.get_or_insert_with(|| {
            let mut left: Vec<Step> = unfinished.drain().map(|(_, s)| s).collect();
            left.sort_by_key(key_of);
            left.into_iter()
        });
        let step = tail.next()?;
        self.tally.add(&step);
        Some(step)
    }
}

/// Starts the writer thread. Returns the sender and the handle to join.
/// With `max_bytes` (`--max-bundle-size`) logs are held back and written
/// last, cut to fit ([`crate::budget`]).
pub fn spawn(
    writer: BundleWriter,
    capacity: usize,
    progress: Progress,
    max_bytes: Option<u64>,
) -> (mpsc::Sender<Record>, JoinHandle<SinkResult>) {
    let (tx, mut rx) = mpsc::channel::<Record>(capacity.max(1));
    let handle = std::thread::spawn(move || {
        let mut state = SinkResult {
            writer: Some(writer),
            steps: StepLog::new(),
            redaction: BTreeMap::new(),
            totals: Totals::default(),
            error: None,
        };
        let mut deferred = max_bytes.map(Deferred::new);
        while let Some(record) = rx.blocking_recv() {
            if matches!(record, Record::Close) {
                break;
            }
            let record = match (&mut deferred, record) {
                (
                    Some(d),
                    Record::File {
                        path,
                        bytes,
                        step,
                        redaction,
                    },
                ) if step.what.starts_with("logs") => {
                    d.hold(path, &bytes, step, redaction);
                    continue;
                }
                (_, record) => record,
            };
            let Some(step) = write_one(&mut state, record) else {
                continue;
            };
            progress.step_done(&step);
            state.steps.push(step);
        }
        if let Some(d) = deferred {
            release_logs(&mut state, d, &progress);
        }
        state
    });
    (tx, handle)
}

/// Writes the held-back logs, cut to what is left of the bound, and
/// records the `max-bundle-size` step.
fn release_logs(state: &mut SinkResult, deferred: Deferred, progress: &Progress) {
    let used = state.totals.bytes;
    let summary = deferred.release(used, |r| {
        let step = match r.bytes {
            Some(bytes) => write_one(
                state,
                Record::File {
                    path: r.path,
                    bytes,
                    step: r.step,
                    redaction: r.redaction,
                },
            ),
            None => Some(r.step),
        };
        if let Some(step) = step {
            progress.step_done(&step);
            state.steps.push(step);
        }
    });
    progress.step_done(&summary);
    state.steps.push(summary);
}

/// Writes one record; returns its finished step (`None` for `Close`).
fn write_one(state: &mut SinkResult, record: Record) -> Option<Step> {
    let Some(writer) = state.writer.as_mut() else {
        return not_written(record);
    };
    let totals = &mut state.totals;
    let (mut step, written) = match record {
        Record::List {
            path,
            list_kind,
            api_version,
            resource_version,
            items,
            mut step,
            redaction,
        } => {
            let rv = resource_version.as_deref();
            let written = write_list(writer, &path, &list_kind, &api_version, rv, items).map(
                |(rec, count)| {
                    step.path = Some(path);
                    step.items = count;
                    step.bytes = rec.size;
                    totals.objects += count;
                    totals.bytes += rec.size;
                    merge(&mut state.redaction, &redaction);
                },
            );
            (step, written)
        }
        Record::File {
            path,
            bytes,
            mut step,
            redaction,
        } => {
            let written = writer.write_entry(&path, &bytes).map(|rec| {
                step.path = Some(path);
                step.bytes = rec.size;
                totals.bytes += rec.size;
                if step.what.starts_with("logs") {
                    totals.logs += 1;
                }
                merge(&mut state.redaction, &redaction);
            });
            (step, written)
        }
        Record::Json {
            path,
            value,
            mut step,
        } => {
            let written = writer.write_json(&path, &value).map(|rec| {
                step.path = Some(path);
                step.bytes = rec.size;
                totals.bytes += rec.size;
            });
            (step, written)
        }
        Record::Stream {
            path,
            write,
            mut step,
        } => {
            let written = write_stream(writer, totals, path, write, &mut step);
            (step, written)
        }
        Record::Step(step) => (step, Ok(())),
        Record::Close => return None,
    };
    if let Err(e) = written {
        step.outcome = Outcome::Error;
        step.message = Some(e.to_string());
        if matches!(e, BundleError::Write { .. }) {
            // Disk full or similar: the zip is unusable from here on.
            state.writer = None;
            state.error = Some(e);
        }
    }
    Some(step)
}

/// The step of a record that arrives after a write failed: not written.
fn not_written(record: Record) -> Option<Step> {
    let mut step = match record {
        Record::List { step, .. }
        | Record::File { step, .. }
        | Record::Json { step, .. }
        | Record::Stream { step, .. }
        | Record::Step(step) => step,
        Record::Close => return None,
    };
    if step.outcome == Outcome::Ok {
        step.outcome = Outcome::Error;
        step.message = Some("not written: the bundle could not be written".into());
    }
    Some(step)
}

/// Streams a spooled list into the bundle; returns its file record and
/// item count.
fn write_list(
    writer: &mut BundleWriter,
    path: &str,
    list_kind: &str,
    api_version: &str,
    resource_version: Option<&str>,
    items: Items,
) -> Result<(FileRecord, u64), BundleError> {
    let mut list = writer.start_list(path, list_kind, api_version, resource_version)?;
    let drained = items.drain(|item| list.push_raw(item));
    match drained {
        Ok(pushed) => pushed?,
        Err(e) => {
            return Err(BundleError::Write {
                path: format!("{path} (temporary spool)"),
                cause: e,
            })
        }
    }
    let count = list.count();
    list.finish().map(|rec| (rec, count))
}

/// Runs a [`StreamFn`] into a new entry, filling in `step`. A function that
/// fails part way leaves incomplete JSON: the step says so and the zip stays
/// usable.
fn write_stream(
    writer: &mut BundleWriter,
    totals: &mut Totals,
    path: String,
    write: StreamFn,
    step: &mut Step,
) -> Result<(), BundleError> {
    let mut entry = writer.start_entry(&path)?;
    let made = write(&mut entry);
    let finished = entry.finish();
    match (made, finished) {
        (Ok((items, message)), Ok(rec)) => {
            step.path = Some(path);
            step.items = items;
            step.message = message;
            step.bytes = rec.size;
            totals.bytes += rec.size;
            Ok(())
        }
        (Err(message), finished) => {
            step.outcome = Outcome::Error;
            step.message = Some(match finished {
                Ok(_) => format!("{message} (the file at {path} is incomplete)"),
                Err(e) => format!("{message}; {e}"),
            });
            Ok(())
        }
        (Ok(_), Err(e)) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(what: &str, object: &str, outcome: Outcome) -> Step {
        let mut s = Step::new(what, outcome);
        s.namespace = Some("shop".into());
        s.object = (!object.is_empty()).then(|| object.to_string());
        s
    }

    fn log_with_limit(limit: usize, steps: &[Step]) -> StepLog {
        let mut log = StepLog {
            spool: Items::with_limit(limit),
            fallback: Vec::new(),
        };
        steps.iter().cloned().for_each(|s| log.push(s));
        log
    }

    /// Finished steps come back in order, from memory or from the spilled
    /// file alike, then the unfinished ones sorted, minus any that finished
    /// after all; the tally sees every one of them.
    #[test]
    fn streams_finished_then_unfinished_steps() {
        let finished: Vec<Step> = (0..200)
            .map(|i| step("logs", &format!("web-{i}/app"), Outcome::NotFound))
            .chain([step("pods", "", Outcome::Ok)])
            .collect();
        for limit in [usize::MAX, 256] {
            let log = log_with_limit(limit, &finished);
            let unfinished = vec![
                step("secrets", "", Outcome::Error),
                step("logs", "web-7/app", Outcome::Error),
                step("events", "", Outcome::Error),
            ];
            let mut tally = Tally::default();
            let progress = Progress::new();
            let streamed: Vec<Step> = log.stream(unfinished, &mut tally, &progress).collect();
            assert_eq!(streamed.len(), 203, "limit {limit}");
            assert_eq!(&streamed[..201], &finished[..]);
            let tail: Vec<&str> = streamed[201..].iter().map(|s| s.what.as_str()).collect();
            assert_eq!(tail, ["events", "secrets"]);
            assert!(!tally.usable(), "no step has a path");
            assert_eq!(
                tally.failure_lines()[0],
                "202 steps did not complete (details in manifest.json \"steps\"):"
            );
        }
    }

    #[test]
    fn fallback_steps_follow_the_spooled_ones() {
        let mut log = log_with_limit(usize::MAX, &[step("pods", "", Outcome::Ok)]);
        log.fallback.push(step("events", "", Outcome::Timeout));
        let mut tally = Tally::default();
        let progress = Progress::new();
        let whats: Vec<String> = log
            .stream(Vec::new(), &mut tally, &progress)
            .map(|s| s.what)
            .collect();
        assert_eq!(whats, ["pods", "events"]);
    }
}
