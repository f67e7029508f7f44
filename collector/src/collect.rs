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
use tokio::task::JoinSet;

use kpm_bundle::layout::{self, ResourceKind, CLUSTER_KINDS, NAMESPACED_KINDS};
use kpm_bundle::{Outcome, Step};

use crate::alloc::AllocFeed;
use crate::fetch::{Fetcher, Paged};
use crate::logs::{self, LogTarget};
use crate::outcome::{Failure, FailureClass};
use crate::progress::Progress;
use crate::redact::{Counts, Redactor};
use crate::sink::{key_of, Record, StepKey, StreamFn};
use crate::spool::Items;

mod log_steps;
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

    /// Records the `/version` answer (fetched before the bundle was opened,
    /// as the connection check). Returns `gitVersion`.
    pub async fn version(
        &self,
        answer: Result<Vec<u8>, Failure>,
        duration_ms: u64,
    ) -> Option<String> {
        let mut s = step("version", None, None);
        s.duration_ms = duration_ms;
        // The manifest has no field for collection settings beyond the log
        // limits; the pacing decided from this very answer goes here.
        s.message = Some(self.fetch.mode().describe());
        let parsed = answer.and_then(|body| {
            serde_json::from_slice::<Value>(&body).map_err(|e| Failure::malformed("/version", &e))
        });
        match parsed {
            Ok(value) => {
                let git = value
                    .get("gitVersion")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                s.items = 1;
                self.record(Record::Json {
                    path: layout::CLUSTER_VERSION.into(),
                    value,
                    step: s,
                })
                .await;
                git
            }
            Err(f) => {
                let mode = s.message.take().unwrap_or_default();
                let mut s = fail(s, &f);
                s.message = Some(format!("{}; {mode}", f.message));
                self.record(Record::Step(s)).await;
                None
            }
        }
    }

    /// Collects one list; `on_item` sees every item before redaction, and
    /// [`Paged::Restart`] when the list starts over (expired continue
    /// token). Holds one permit for the whole list; items wait for the writer
    /// in an [`Items`] buffer that spills to disk when large.
    async fn list(
        &self,
        spec: ListSpec,
        mut s: Step,
        on_item: &mut (dyn FnMut(Paged<&Value>) + Send),
    ) -> Result<(), Failure> {
        let Ok(_permit) = self.permits.acquire().await else {
            return Err(internal_stop());
        };
        let t = Instant::now();
        let mut items = Items::new();
        let mut counts = Counts::new();
        let redactor = &self.opts.redactor;
        let mut bad_item = None;
        let mut seen = HashSet::new();
        let result = self
            .fetch
            .list(&spec.url, |paged| match paged {
                Paged::Item(mut item) => {
                    fill_type(&mut item, &spec.kind, &spec.api_version);
                    if !spec.extra.is_empty() {
                        seen.insert(uid_of(&item));
                    }
                    on_item(Paged::Item(&item));
                    redactor.object(&spec.kind, &mut item, &mut counts);
                    let pushed = serde_json::to_vec(&item)
                        .map_err(|e| e.to_string())
                        .and_then(|bytes| items.push(&bytes).map_err(|e| e.to_string()));
                    if let Err(e) = pushed {
                        bad_item = Some(e);
                    }
                }
                Paged::Restart => {
                    items.clear();
                    counts.clear();
                    seen.clear();
                    bad_item = None;
                    on_item(Paged::Restart);
                }
            })
            .await;
        s.duration_ms = elapsed_ms(t);
        match result {
            Ok(info) => {
                let mut notes: Vec<String> = info.note().into_iter().collect();
                let added = self.add_extra(spec.extra, &seen, &mut items, &mut counts);
                if added > 0 {
                    notes.push(format!(
                        "{added} infrastructure pods added outside the --selector"
                    ));
                }
                if let Some(e) = bad_item {
                    notes.push(format!("an item could not be stored: {e}"));
                }
                if !notes.is_empty() {
                    s.message = Some(notes.join("; "));
                }
                self.record(Record::List {
                    path: spec.path,
                    list_kind: spec.list_kind,
                    api_version: spec.api_version,
                    resource_version: info.resource_version,
                    items,
                    step: s,
                    redaction: counts,
                })
                .await;
                Ok(())
            }
            Err(f) => {
                self.note_failure(&f);
                self.record(Record::Step(fail(s, &f.clone()))).await;
                Err(f)
            }
        }
    }

    /// Cluster-scoped lists and node metrics. Returns the namespace names
    /// found (`None` when the namespace list failed).
    pub async fn cluster(self: &Arc<Self>) -> Option<Vec<String>> {
        self.progress
            .phase("cluster: nodes, namespaces, classes, volumes, webhooks, node metrics");
        let mut set: JoinSet<Option<Vec<String>>> = JoinSet::new();
        for kind in CLUSTER_KINDS {
            let Some(spec) = ListSpec::of(kind, None) else {
                continue;
            };
            let s = step(kind.plural, None, None);
            self.plan(&s);
            let ctx = Arc::clone(self);
            set.spawn(async move {
                let mut names = Vec::new();
                let is_ns = kind.plural == "namespaces";
                let is_nodes = kind.plural == "nodes";
                let ok = ctx
                    .list(spec, s, &mut |paged| match paged {
                        Paged::Item(item) => {
                            if is_ns {
                                if let Some(n) = name_of(item) {
                                    names.push(n.to_string());
                                }
                            }
                            if is_nodes {
                                if let Ok(mut a) = ctx.alloc.lock() {
                                    a.node(item);
                                }
                            }
                        }
                        // Nodes are keyed by name: the fresh read replaces them.
                        Paged::Restart => names.clear(),
                    })
                    .await;
                if is_nodes {
                    if let (Err(f), Ok(mut a)) = (&ok, ctx.alloc.lock()) {
                        a.nodes_failed(f);
                    }
                }
                (is_ns && ok.is_ok()).then_some(names)
            });
        }
        let s = step("metrics/nodes", None, None);
        self.plan(&s);
        let ctx = Arc::clone(self);
        set.spawn(async move {
            let _ = ctx.list(ListSpec::metrics(None), s, &mut |_| {}).await;
            None
        });
        let mut found = None;
        while let Some(r) = set.join_next().await {
            if let Ok(Some(names)) = r {
                found = Some(names);
            }
        }
        found
    }

    /// Everything in the namespaces in scope, infrastructure pods outside it
    /// and the cluster-wide pod read for node allocation when needed.
    pub async fn namespaces(self: &Arc<Self>, namespaces: Vec<String>, all: bool) {
        if let Ok(mut s) = self.scope.lock() {
            *s = (namespaces.clone(), all);
        }
        self.progress.phase(&format!(
            "{} namespaces: lists, pod metrics, logs",
            namespaces.len()
        ));
        let mut outer: JoinSet<()> = JoinSet::new();
        // Plan every list now so an early stop marks them.
        for ns in &namespaces {
            for kind in NAMESPACED_KINDS {
                self.plan(&step(kind.plural, Some(ns), None));
            }
            self.plan(&step("metrics/pods", Some(ns), None));
        }
        // A selected pod list holds only some pods: infrastructure pods are
        // read first (to merge into the lists in scope) and allocation reads
        // every pod on its own.
        let selected = self.opts.selector.is_some();
        let feed = all && !selected;
        if selected {
            let ctx = Arc::clone(self);
            let out_of_scope = self.infra_for_selector(&namespaces, all).await;
            outer.spawn(async move { ctx.emit_infrastructure(out_of_scope).await });
        } else if !all {
            let ctx = Arc::clone(self);
            let scope = namespaces.clone();
            outer.spawn(async move { ctx.infrastructure(scope).await });
        }
        if !feed {
            let ctx = Arc::clone(self);
            outer.spawn(async move { ctx.allocation_pods().await });
        }
        for ns in namespaces {
            let Ok(slot) = Arc::clone(&self.namespace_slots).acquire_owned().await else {
                break;
            };
            let ctx = Arc::clone(self);
            outer.spawn(async move {
                ctx.namespace(ns, feed).await;
                drop(slot);
            });
            // Reap finished namespaces so the set stays small.
            while outer.try_join_next().is_some() {}
        }
        while outer.join_next().await.is_some() {}
    }

    async fn namespace(self: Arc<Self>, ns: String, feed_allocation: bool) {
        let mut set: JoinSet<Vec<LogTarget>> = JoinSet::new();
        for kind in NAMESPACED_KINDS {
            let Some(mut spec) = ListSpec::of(kind, Some(&ns)) else {
                continue;
            };
            let s = step(kind.plural, Some(&ns), None);
            let ctx = Arc::clone(&self);
            let is_pods = kind.plural == "pods";
            let extra_logs = if is_pods {
                self.select_pods(&mut spec, &ns)
            } else {
                Vec::new()
            };
            let ns_name = ns.clone();
            set.spawn(async move {
                let mut targets = Vec::new();
                let mut read = ctx.start_alloc_read(is_pods && feed_allocation);
                let ok = ctx
                    .list(spec, s, &mut |paged| match paged {
                        Paged::Item(item) => {
                            if is_pods {
                                targets.extend(logs::targets(item));
                                if let (Some(r), Ok(mut a)) = (read, ctx.alloc.lock()) {
                                    a.pod(r, item);
                                }
                            }
                        }
                        Paged::Restart => {
                            targets.clear();
                            read = ctx.restart_alloc_read(read);
                        }
                    })
                    .await;
                if is_pods && ok.is_err() && feed_allocation {
                    if let Ok(mut a) = ctx.alloc.lock() {
                        // Pages read before the failure are not counted: the
                        // step says the namespace is missing, not half there.
                        if let Some(r) = read {
                            a.abandon(r);
                        }
                        a.missing_namespace(&ns_name);
                    }
                }
                targets.extend(extra_logs);
                targets
            });
        }
        let ctx = Arc::clone(&self);
        let s = step("metrics/pods", Some(&ns), None);
        let spec = ListSpec::metrics(Some(&ns));
        set.spawn(async move {
            let _ = ctx.list(spec, s, &mut |_| {}).await;
            Vec::new()
        });
        while let Some(r) = set.join_next().await {
            if let Ok(targets) = r {
                self.plan_logs(&mut set, &ns, targets).await;
            }
        }
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
