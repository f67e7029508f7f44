//! The single writer: one thread owns the [`BundleWriter`] and receives
//! finished lists, logs and step records over a bounded channel. The zip
//! format takes one entry at a time; funnelling everything through one
//! consumer keeps entries whole and, with the channel bound, caps how much
//! collected data waits in memory.

use std::collections::BTreeMap;
use std::io::Write;
use std::thread::JoinHandle;

use serde_json::Value;
use tokio::sync::mpsc;

use kpm_bundle::{BundleError, BundleWriter, Outcome, Step};

use crate::progress::Progress;
use crate::redact::{merge, Counts};
use crate::spool::Items;

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
    /// Steps in the order they finished.
    pub steps: Vec<Step>,
    /// Redaction counts of everything written.
    pub redaction: BTreeMap<String, u64>,
    /// Totals.
    pub totals: Totals,
    /// The first write error; collection is pointless after it.
    pub error: Option<BundleError>,
}

/// Finished steps, kept as compact JSON in an [`Items`] spool while the run
/// goes on: a large cluster has a step per container log (150,000 and more),
/// and holding them as `Step`s, four small allocations each interleaved with
/// the run's transient buffers, made peak memory grow with the cluster. They
/// become `Step`s again only once, at the end, for the manifest.
struct StepLog {
    spool: Items,
    /// Steps the spool could not take (temporary file unusable).
    fallback: Vec<Step>,
}

impl StepLog {
    fn push(&mut self, step: Step) {
        let stored = serde_json::to_vec(&step)
            .map_err(|e| e.to_string())
            .and_then(|b| self.spool.push(&b).map_err(|e| e.to_string()));
        if stored.is_err() {
            self.fallback.push(step);
        }
    }

    /// Every step, in the order they finished (the fallback ones last).
    fn into_steps(self, progress: &Progress) -> Vec<Step> {
        let mut steps = Vec::new();
        let read = self
            .spool
            .drain(|bytes| serde_json::from_slice::<Step>(bytes).map(|s| steps.push(s)));
        match read {
            Ok(Ok(())) => {}
            Ok(Err(e)) => progress.warn(&format!("some step records were lost: {e}")),
            Err(e) => progress.warn(&format!("some step records were lost: {e}")),
        }
        steps.extend(self.fallback);
        steps
    }
}

/// Starts the writer thread. Returns the sender and the handle to join.
pub fn spawn(
    writer: BundleWriter,
    capacity: usize,
    progress: Progress,
) -> (mpsc::Sender<Record>, JoinHandle<SinkResult>) {
    let (tx, mut rx) = mpsc::channel::<Record>(capacity.max(1));
    let handle = std::thread::spawn(move || {
        let mut state = SinkResult {
            writer: Some(writer),
            steps: Vec::new(),
            redaction: BTreeMap::new(),
            totals: Totals::default(),
            error: None,
        };
        let mut log = StepLog {
            spool: Items::new(),
            fallback: Vec::new(),
        };
        while let Some(record) = rx.blocking_recv() {
            if matches!(record, Record::Close) {
                break;
            }
            let Some(step) = write_one(&mut state, record) else {
                continue;
            };
            progress.step_done(&step);
            log.push(step);
        }
        state.steps = log.into_steps(&progress);
        state
    });
    (tx, handle)
}

fn write_one(state: &mut SinkResult, record: Record) -> Option<Step> {
    let Some(writer) = state.writer.as_mut() else {
        // A previous write failed: record the step as not written.
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
        return Some(step);
    };
    let result = match record {
        Record::List {
            path,
            list_kind,
            api_version,
            resource_version,
            items,
            mut step,
            redaction,
        } => {
            let written = (|| {
                let mut list = writer.start_list(
                    &path,
                    &list_kind,
                    &api_version,
                    resource_version.as_deref(),
                )?;
                let drained = items.drain(|item| list.push_raw(item));
                match drained {
                    Ok(pushed) => pushed?,
                    Err(e) => {
                        return Err(BundleError::Write {
                            path: format!("{path} (temporary spool)"),
                            source: e,
                        })
                    }
                }
                let count = list.count();
                list.finish().map(|rec| (rec, count))
            })();
            match written {
                Ok((rec, count)) => {
                    step.path = Some(path);
                    step.items = count;
                    step.bytes = rec.size;
                    state.totals.objects += count;
                    state.totals.bytes += rec.size;
                    merge(&mut state.redaction, &redaction);
                    Ok(step)
                }
                Err(e) => Err((step, e)),
            }
        }
        Record::File {
            path,
            bytes,
            mut step,
            redaction,
        } => match writer.write_entry(&path, &bytes) {
            Ok(rec) => {
                step.path = Some(path);
                step.bytes = rec.size;
                state.totals.bytes += rec.size;
                if step.what.starts_with("logs") {
                    state.totals.logs += 1;
                }
                merge(&mut state.redaction, &redaction);
                Ok(step)
            }
            Err(e) => Err((step, e)),
        },
        Record::Json {
            path,
            value,
            mut step,
        } => match writer.write_json(&path, &value) {
            Ok(rec) => {
                step.path = Some(path);
                step.bytes = rec.size;
                state.totals.bytes += rec.size;
                Ok(step)
            }
            Err(e) => Err((step, e)),
        },
        Record::Stream {
            path,
            write,
            mut step,
        } => {
            let written = writer.start_entry(&path).map(|mut entry| {
                let made = write(&mut entry);
                (made, entry.finish())
            });
            match written {
                Ok((Ok((items, message)), Ok(rec))) => {
                    step.path = Some(path);
                    step.items = items;
                    step.message = message;
                    step.bytes = rec.size;
                    state.totals.bytes += rec.size;
                    Ok(step)
                }
                Ok((Err(message), finished)) => {
                    // The entry is incomplete JSON: the manifest says so, and
                    // the zip stays usable for everything else.
                    step.outcome = Outcome::Error;
                    step.message = Some(match finished {
                        Ok(_) => format!("{message} (the file at {path} is incomplete)"),
                        Err(e) => format!("{message}; {e}"),
                    });
                    Ok(step)
                }
                Ok((Ok(_), Err(e))) | Err(e) => Err((step, e)),
            }
        }
        Record::Step(step) => Ok(step),
        Record::Close => return None,
    };
    Some(match result {
        Ok(step) => step,
        Err((mut step, e)) => {
            step.outcome = Outcome::Error;
            step.message = Some(e.to_string());
            if matches!(e, BundleError::Write { .. }) {
                // Disk full or similar: the zip is unusable from here on.
                state.writer = None;
                state.error = Some(e);
            }
            step
        }
    })
}
