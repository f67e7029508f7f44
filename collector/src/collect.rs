//! The collection plan and its execution: cluster context first, then every
//! namespace in scope (its lists, pod metrics and container logs),
//! infrastructure pods outside the scope, and node allocation last.
//!
//! Every unit of work is a manifest [`Step`]. A step is *planned* before it
//! waits for a permit, so when Ctrl-C or `--timeout` stops the run, the steps
//! that never finished are known and marked instead of silently missing.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::Value;
use tokio::sync::{mpsc, Semaphore};

use kpm_bundle::layout::{self, ResourceKind};
use kpm_bundle::{Outcome, Step};

use crate::alloc::AllocFeed;
use crate::fetch::Fetcher;
use crate::logs::{self, LogTarget};
use crate::outcome::{Failure, FailureClass};
use crate::progress::Progress;
use crate::redact::Redactor;
use crate::sink::{key_of, Record, StepKey, StreamFn};

mod log_steps;
mod phases;
mod requests;
mod scope_extras;

/// `metrics.k8s.io` group version of node and pod metrics.
const METRICS_API: &str = "metrics.k8s.io/v1beta1";

/// What to collect.
#[derive(Debug, Clone)]
pub struct Options {
    /// Collect container logs.
    pub logs: bool,
    /// `--log-lines`.
    pub log_lines: u64,
    /// `--log-bytes`.
    pub log_bytes: u64,
    /// Requests (steps) in flight.
    pub concurrency: usize,
    /// `--since`, in whole seconds (`sinceSeconds` of every log request).
    pub since_seconds: Option<u64>,
    /// `--selector`: the label selector of the namespaces' pod lists.
    pub selector: Option<String>,
    /// Redaction (switches, token key, user rules).
    pub redactor: Arc<Redactor>,
}

/// State shared by every task of a run.
pub struct Ctx {
    fetch: Arc<Fetcher>,
    tx: mpsc::Sender<Record>,
    opts: Options,
    /// One per request (list or log) in flight: `--concurrency`.
    permits: Arc<Semaphore>,
    /// Namespaces being collected at once. Bounded so the tasks, planned
    /// steps and log targets waiting for a request permit stay a small
    /// constant instead of growing with the number of namespaces.
    namespace_slots: Arc<Semaphore>,
    /// Steps planned and not yet handed to the writer, by key only (a
    /// stop marks them; every log of the namespaces in flight is here).
    pending: Mutex<HashSet<StepKey>>,
    progress: Progress,
    alloc: Mutex<AllocFeed>,
    fatal: Mutex<Option<Failure>>,
    scope: Mutex<(Vec<String>, bool)>,
    /// With `--selector`: infrastructure pods (and their logs) of
    /// namespaces in scope, merged into those namespaces' pod lists.
    infra_extras: Mutex<std::collections::HashMap<String, InfraExtra>>,
}

/// Infrastructure pods a selected pod list must still hold.
#[derive(Default)]
pub struct InfraExtra {
    /// The pod objects, as listed.
    pub pods: Vec<Value>,
    /// Their logs to read.
    pub logs: Vec<LogTarget>,
}

/// A list to collect: URL, bundle path and the shape of its items.
struct ListSpec {
    url: String,
    path: String,
    kind: String,
    api_version: String,
    list_kind: String,
    /// Items added after the listed ones unless listed already (same uid):
    /// infrastructure pods outside a `--selector`.
    extra: Vec<Value>,
}

impl ListSpec {
    fn of(kind: &ResourceKind, namespace: Option<&str>) -> Option<ListSpec> {
        let gv = kind.group_version_path();
        let url = match namespace {
            Some(ns) => format!("{gv}/namespaces/{}/{}", logs::encode(ns), kind.plural),
            None => format!("{gv}/{}", kind.plural),
        };
        Some(ListSpec {
            url,
            path: kind.path(namespace)?,
            kind: kind.kind.to_string(),
            api_version: kind.api_version(),
            list_kind: kind.list_kind(),
            extra: Vec::new(),
        })
    }

    fn metrics(namespace: Option<&str>) -> ListSpec {
        match namespace {
            Some(ns) => ListSpec {
                url: format!("/apis/{METRICS_API}/namespaces/{}/pods", logs::encode(ns)),
                path: layout::pod_metrics_path(ns),
                kind: "PodMetrics".into(),
                api_version: METRICS_API.into(),
                list_kind: "PodMetricsList".into(),
                extra: Vec::new(),
            },
            None => ListSpec {
                url: format!("/apis/{METRICS_API}/nodes"),
                path: layout::NODE_METRICS.into(),
                kind: "NodeMetrics".into(),
                api_version: METRICS_API.into(),
                list_kind: "NodeMetricsList".into(),
                extra: Vec::new(),
            },
        }
    }
}

fn step(what: &str, namespace: Option<&str>, object: Option<&str>) -> Step {
    let mut s = Step::new(what, Outcome::Ok);
    s.namespace = namespace.map(str::to_string);
    s.object = object.map(str::to_string);
    s
}

fn fail(mut s: Step, f: &Failure) -> Step {
    s.outcome = f.outcome;
    s.http_status = f.http_status;
    s.message = Some(f.message.clone());
    s
}

fn internal_stop() -> Failure {
    Failure {
        outcome: Outcome::Error,
        http_status: None,
        message: "run stopping".into(),
        class: FailureClass::Step,
    }
}

fn elapsed_ms(t: Instant) -> u64 {
    u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Sets `kind`/`apiVersion` on a list item when the server left them out, as
/// kubectl does when it prints a list.
fn fill_type(item: &mut Value, kind: &str, api_version: &str) {
    if let Value::Object(map) = item {
        map.entry("kind")
            .or_insert_with(|| Value::String(kind.to_string()));
        map.entry("apiVersion")
            .or_insert_with(|| Value::String(api_version.to_string()));
    }
}

/// `metadata.uid`, else `metadata.name`: how pods are told apart.
fn uid_of(item: &Value) -> String {
    item.pointer("/metadata/uid")
        .and_then(Value::as_str)
        .or_else(|| name_of(item))
        .unwrap_or_default()
        .to_string()
}

fn log_what(t: &LogTarget) -> &'static str {
    if t.previous {
        "logs/previous"
    } else {
        "logs"
    }
}

fn name_of(item: &Value) -> Option<&str> {
    item.pointer("/metadata/name").and_then(Value::as_str)
}

impl Ctx {
    /// A context for one run.
    pub fn new(
        fetch: Arc<Fetcher>,
        tx: mpsc::Sender<Record>,
        opts: Options,
        progress: Progress,
    ) -> Arc<Ctx> {
        Arc::new(Ctx {
            fetch,
            tx,
            permits: Arc::new(Semaphore::new(opts.concurrency.max(1))),
            namespace_slots: Arc::new(Semaphore::new(opts.concurrency.max(1) * 2)),
            opts,
            pending: Mutex::new(HashSet::new()),
            progress,
            alloc: Mutex::new(AllocFeed::new(chrono::Utc::now())),
            fatal: Mutex::new(None),
            scope: Mutex::new((Vec::new(), false)),
            infra_extras: Mutex::new(std::collections::HashMap::new()),
        })
    }

    fn plan(&self, s: &Step) {
        if let Ok(mut p) = self.pending.lock() {
            p.insert(key_of(s));
        }
        self.progress.planned(1);
    }

    async fn record(&self, rec: Record) {
        let key = match &rec {
            Record::List { step, .. }
            | Record::File { step, .. }
            | Record::Json { step, .. }
            | Record::Stream { step, .. }
            | Record::Step(step) => key_of(step),
            Record::Close => return,
        };
        // A closed channel means the writer is gone; the run is ending.
        let _ = self.tx.send(rec).await;
        if let Ok(mut p) = self.pending.lock() {
            p.remove(&key);
        }
    }

    fn note_failure(&self, f: &Failure) {
        if f.class != FailureClass::Step {
            if let Ok(mut fatal) = self.fatal.lock() {
                fatal.get_or_insert_with(|| f.clone());
            }
        }
    }

    /// Steps planned but not finished, for marking after a stop.
    pub fn unfinished(&self) -> Vec<Step> {
        self.pending
            .lock()
            .map(|p| {
                p.iter()
                    .map(|(what, ns, object)| step(what, ns.as_deref(), object.as_deref()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A failure that concerns the whole connection (401, unreachable), if
    /// one happened during the run.
    pub fn fatal(&self) -> Option<Failure> {
        self.fatal.lock().ok().and_then(|f| f.clone())
    }

    /// The client-side pacing in force (see `ratelimit.rs`).
    pub fn pacing(&self) -> crate::ratelimit::Mode {
        self.fetch.mode()
    }

    /// Requests retried because the server asked (429, 5xx + Retry-After).
    pub fn retried(&self) -> u64 {
        self.fetch.retried()
    }

    /// Namespaces the run decided to collect, and whether that is all of
    /// them.
    pub fn scope(&self) -> (Vec<String>, bool) {
        self.scope.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// A new allocation read for a pods list that feeds allocation.
    fn start_alloc_read(&self, feeds: bool) -> Option<u32> {
        if !feeds {
            return None;
        }
        self.alloc.lock().ok().map(|mut a| a.start_read())
    }

    /// The list restarted: drops what `read` fed and starts a new read.
    fn restart_alloc_read(&self, read: Option<u32>) -> Option<u32> {
        let r = read?;
        let mut a = self.alloc.lock().ok()?;
        a.abandon(r);
        Some(a.start_read())
    }

    /// Writes `derived/node-allocation.json` from what was fed, streamed
    /// node by node by the writer thread.
    pub async fn write_allocation(&self) {
        let s = step("node-allocation", None, None);
        self.plan(&s);
        let feed = match self.alloc.lock() {
            Ok(mut a) => match a.check() {
                // Taken out: the writer thread consumes it.
                Ok(()) => Ok(std::mem::replace(
                    &mut *a,
                    AllocFeed::new(chrono::Utc::now()),
                )),
                Err(f) => Err(f),
            },
            Err(_) => Err(Failure {
                outcome: Outcome::Error,
                http_status: None,
                message: "internal error: allocation state poisoned".into(),
                class: FailureClass::Step,
            }),
        };
        let mut feed = match feed {
            Ok(feed) => feed,
            Err(f) => {
                self.record(Record::Step(fail(s, &f))).await;
                return;
            }
        };
        let write: StreamFn = Box::new(move |out| {
            let w = feed.write(out)?;
            Ok((w.nodes, Some(w.message)))
        });
        self.record(Record::Stream {
            path: layout::NODE_ALLOCATION.into(),
            write,
            step: s,
        })
        .await;
    }
}
