//! The collection plan and its execution: cluster context first, then every
//! namespace in scope (its lists, pod metrics and container logs),
//! infrastructure pods outside the scope, and node allocation last.
//!
//! Every unit of work is a manifest [`Step`]. A step is *planned* before it
//! waits for a permit, so when Ctrl-C or `--timeout` stops the run, the steps
//! that never finished are known and marked instead of silently missing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::Value;
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;

use kpm_bundle::layout::{self, ResourceKind, CLUSTER_KINDS, NAMESPACED_KINDS};
use kpm_bundle::{Outcome, Step};

use crate::alloc::AllocFeed;
use crate::fetch::Fetcher;
use crate::logs::{self, LogTarget};
use crate::outcome::{Failure, FailureClass};
use crate::progress::Progress;
use crate::redact::{Counts, Redactor};
use crate::sink::{key_of, Record, StepKey};

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
    /// Redaction switches.
    pub redactor: Redactor,
}

/// State shared by every task of a run.
pub struct Ctx {
    fetch: Arc<Fetcher>,
    tx: mpsc::Sender<Record>,
    opts: Options,
    permits: Semaphore,
    pending: Mutex<HashMap<StepKey, Step>>,
    progress: Progress,
    alloc: Mutex<AllocFeed>,
    fatal: Mutex<Option<Failure>>,
    scope: Mutex<(Vec<String>, bool)>,
}

/// A list to collect: URL, bundle path and the shape of its items.
struct ListSpec {
    url: String,
    path: String,
    kind: String,
    api_version: String,
    list_kind: String,
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
            },
            None => ListSpec {
                url: format!("/apis/{METRICS_API}/nodes"),
                path: layout::NODE_METRICS.into(),
                kind: "NodeMetrics".into(),
                api_version: METRICS_API.into(),
                list_kind: "NodeMetricsList".into(),
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
            permits: Semaphore::new(opts.concurrency.max(1)),
            opts,
            pending: Mutex::new(HashMap::new()),
            progress,
            alloc: Mutex::new(AllocFeed::new(chrono::Utc::now())),
            fatal: Mutex::new(None),
            scope: Mutex::new((Vec::new(), false)),
        })
    }

    fn plan(&self, s: &Step) {
        if let Ok(mut p) = self.pending.lock() {
            p.insert(key_of(s), s.clone());
        }
        self.progress.planned(1);
    }

    async fn record(&self, rec: Record) {
        let key = match &rec {
            Record::List { step, .. }
            | Record::File { step, .. }
            | Record::Json { step, .. }
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
            .map(|p| p.values().cloned().collect())
            .unwrap_or_default()
    }

    /// A failure that concerns the whole connection (401, unreachable), if
    /// one happened during the run.
    pub fn fatal(&self) -> Option<Failure> {
        self.fatal.lock().ok().and_then(|f| f.clone())
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
                self.record(Record::Step(fail(s, &f))).await;
                None
            }
        }
    }

    /// Collects one list; `on_item` sees every item before redaction. Holds
    /// one permit for the whole list, so at most `--concurrency` lists are
    /// buffered at once.
    async fn list(
        &self,
        spec: ListSpec,
        mut s: Step,
        on_item: &mut (dyn FnMut(&Value) + Send),
    ) -> Result<(), Failure> {
        let Ok(_permit) = self.permits.acquire().await else {
            return Err(internal_stop());
        };
        let t = Instant::now();
        let mut items = Vec::new();
        let mut counts = Counts::new();
        let redactor = self.opts.redactor;
        let mut bad_item = None;
        let result = self
            .fetch
            .list(&spec.url, |mut item| {
                fill_type(&mut item, &spec.kind, &spec.api_version);
                on_item(&item);
                redactor.object(&spec.kind, &mut item, &mut counts);
                match serde_json::to_vec(&item) {
                    Ok(bytes) => items.push(bytes),
                    Err(e) => bad_item = Some(e.to_string()),
                }
            })
            .await;
        s.duration_ms = elapsed_ms(t);
        match result {
            Ok(info) => {
                if let Some(e) = bad_item {
                    s.message = Some(format!("an item could not be serialized: {e}"));
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

    /// Collects one container log.
    async fn log(&self, namespace: String, target: LogTarget) {
        let what = if target.previous {
            "logs/previous"
        } else {
            "logs"
        };
        let object = format!("{}/{}", target.pod, target.container);
        let mut s = step(what, Some(&namespace), Some(&object));
        let Ok(_permit) = self.permits.acquire().await else {
            return;
        };
        let t = Instant::now();
        let url = logs::url(
            &namespace,
            &target,
            self.opts.log_lines,
            self.opts.log_bytes,
        );
        let result = self.fetch.get(&url).await;
        s.duration_ms = elapsed_ms(t);
        match result {
            Ok(raw) => {
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

    fn plan_logs(
        self: &Arc<Self>,
        set: &mut JoinSet<Vec<LogTarget>>,
        namespace: &str,
        targets: Vec<LogTarget>,
    ) {
        if !self.opts.logs {
            return;
        }
        for t in targets {
            let what = if t.previous { "logs/previous" } else { "logs" };
            self.plan(&step(
                what,
                Some(namespace),
                Some(&format!("{}/{}", t.pod, t.container)),
            ));
            let ctx = Arc::clone(self);
            let ns = namespace.to_string();
            set.spawn(async move {
                ctx.log(ns, t).await;
                Vec::new()
            });
        }
    }

    /// Cluster-scoped lists and node metrics. Returns the namespace names
    /// found (`None` when the namespace list failed).
    pub async fn cluster(self: &Arc<Self>) -> Option<Vec<String>> {
        self.progress
            .phase("cluster: nodes, namespaces, ingress classes, persistent volumes, node metrics");
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
                    .list(spec, s, &mut |item| {
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
        for ns in &namespaces {
            let ctx = Arc::clone(self);
            let ns = ns.clone();
            // Plan the lists now so an early stop marks them.
            for kind in NAMESPACED_KINDS {
                ctx.plan(&step(kind.plural, Some(&ns), None));
            }
            ctx.plan(&step("metrics/pods", Some(&ns), None));
            outer.spawn(async move { ctx.namespace(ns, all).await });
        }
        if !all {
            let ctx = Arc::clone(self);
            let scope = namespaces.clone();
            outer.spawn(async move { ctx.infrastructure(scope).await });
            let ctx = Arc::clone(self);
            outer.spawn(async move { ctx.allocation_pods().await });
        }
        while outer.join_next().await.is_some() {}
    }

    async fn namespace(self: Arc<Self>, ns: String, feed_allocation: bool) {
        let mut set: JoinSet<Vec<LogTarget>> = JoinSet::new();
        for kind in NAMESPACED_KINDS {
            let Some(spec) = ListSpec::of(kind, Some(&ns)) else {
                continue;
            };
            let s = step(kind.plural, Some(&ns), None);
            let ctx = Arc::clone(&self);
            let is_pods = kind.plural == "pods";
            let ns_name = ns.clone();
            set.spawn(async move {
                let mut targets = Vec::new();
                let ok = ctx
                    .list(spec, s, &mut |item| {
                        if is_pods {
                            targets.extend(logs::targets(item));
                            if feed_allocation {
                                if let Ok(mut a) = ctx.alloc.lock() {
                                    a.pod(item);
                                }
                            }
                        }
                    })
                    .await;
                if is_pods && ok.is_err() && feed_allocation {
                    if let Ok(mut a) = ctx.alloc.lock() {
                        a.missing_namespace(&ns_name);
                    }
                }
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
                self.plan_logs(&mut set, &ns, targets);
            }
        }
    }

    /// Writes `derived/node-allocation.json` from what was fed.
    pub async fn write_allocation(&self) {
        let s = step("node-allocation", None, None);
        self.plan(&s);
        let built = self.alloc.lock().map(|mut a| a.build()).ok();
        match built {
            Some(Ok((value, nodes, message))) => {
                let mut s = s;
                s.items = nodes;
                s.message = message;
                self.record(Record::Json {
                    path: layout::NODE_ALLOCATION.into(),
                    value,
                    step: s,
                })
                .await;
            }
            Some(Err(f)) => self.record(Record::Step(fail(s, &f))).await,
            None => {
                let f = Failure {
                    outcome: Outcome::Error,
                    http_status: None,
                    message: "internal error: allocation state poisoned".into(),
                    class: FailureClass::Step,
                };
                self.record(Record::Step(fail(s, &f))).await;
            }
        }
    }
}
