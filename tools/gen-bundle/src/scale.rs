//! Large generated clusters for benchmarks, streamed into a zip.
//!
//! Nothing proportional to the cluster is held in memory: a namespace is a
//! list of small [`AppDesc`]riptions, and every object (pods, events,
//! endpoints...) is regenerated from its description, deterministically,
//! each time a list that contains it is written. Node allocation is computed
//! node by node (a node's pods are found arithmetically from the round-robin
//! placement) and streamed, so even `derived/node-allocation.json`, which
//! lists every pod, never sits in memory whole.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use kpm_bundle::layout::{self, ResourceKind, CLUSTER_KINDS, NAMESPACED_KINDS};
use kpm_bundle::{BundleWriter, Step};
use serde_json::{json, Value};

use crate::allocation::Allocation;
use crate::builders::node::{self, NodeId, M5_2XLARGE};
use crate::builders::{meta, metrics, network};
use crate::cluster::{manifest, namespace_object, ok_step, version_info, Cluster};
use crate::ids::{self, Rng};
use crate::scale_apps::{self, AppDesc, Failure};
use crate::scale_injected::{self, Injected, InjectedFile};
use crate::{scale_batch, scale_daemons, scale_policy, scale_stateful};

/// A cluster size preset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Size {
    /// 50 nodes, 1,500 pods.
    Small,
    /// 500 nodes, 15,000 pods.
    Medium,
    /// 5,000 nodes, 150,000 pods.
    Large,
}

impl Size {
    /// `(nodes, pods)` of the preset.
    pub fn counts(self) -> (u64, u64) {
        match self {
            Size::Small => (50, 1_500),
            Size::Medium => (500, 15_000),
            Size::Large => (5_000, 150_000),
        }
    }
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct ScaleOptions {
    /// Worker nodes.
    pub nodes: u64,
    /// Pods (approximately: whole Deployments are generated).
    pub pods: u64,
    /// PRNG seed; the same seed gives the same bundle.
    pub seed: u64,
    /// Fraction (0..=1) of apps and nodes given a failure.
    pub failure_rate: f64,
    /// Fraction (0..=1) of apps changed since the same bundle without it,
    /// collected [`crate::scale_perturb::LATER_SECS`] later (0: none).
    pub perturb: f64,
}

/// What was written.
#[derive(Debug, Clone, Default)]
pub struct ScaleSummary {
    /// Nodes written.
    pub nodes: u64,
    /// Pods written.
    pub pods: u64,
    /// Events written.
    pub events: u64,
    /// Namespaces written.
    pub namespaces: u64,
    /// Apps with an injected failure, per failure kind.
    pub failures: std::collections::BTreeMap<String, u64>,
    /// Every finding the injected failures must produce (apps and nodes).
    pub injected: Vec<Injected>,
    /// Bundle path.
    pub path: PathBuf,
}

/// The nodes of a generated cluster: names, addresses and which are broken.
pub struct Fleet {
    count: u64,
    seed: u64,
    failure_rate: f64,
    /// The node replaced by `--perturb`: another name, Ready, joined later.
    replaced: Option<u64>,
}

/// A node's generated trouble.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeTrouble {
    /// Healthy.
    None,
    /// Stopped posting status.
    NotReady,
    /// MemoryPressure=True.
    MemoryPressure,
}

impl Fleet {
    /// The id of node `i`: `10.<16+i/250>.<..>` addresses, EKS names; the
    /// replaced node's successor gets an address past the fleet's.
    pub fn id(&self, i: u64) -> NodeId {
        let i = match self.replaced {
            Some(r) if r == i => crate::scale_perturb::replacement_index(self.count, i),
            _ => i,
        };
        NodeId::from_ip(&format!(
            "10.{}.{}.{}",
            16 + i / 62_500,
            (i / 250) % 250,
            i % 250 + 4
        ))
    }

    /// Node `i`'s trouble; a tenth of the failure rate so a few nodes break.
    pub fn trouble(&self, i: u64) -> NodeTrouble {
        if self.replaced == Some(i) {
            return NodeTrouble::None;
        }
        let mut rng = Rng::new(self.seed ^ ids::hash(&format!("node/{i}")));
        if rng.unit() >= self.failure_rate / 10.0 {
            NodeTrouble::None
        } else if rng.below(2) == 0 {
            NodeTrouble::NotReady
        } else {
            NodeTrouble::MemoryPressure
        }
    }

    /// The node object.
    pub fn node(&self, i: u64) -> Value {
        let id = self.id(i);
        let created_ago = if self.replaced == Some(i) {
            crate::scale_perturb::NODE_JOINED_AGO
        } else {
            86_400 * (1 + (i % 40) as i64) + i as i64 % 3_600
        };
        let mut n = node::node(&id, &M5_2XLARGE, "general-20250410", created_ago);
        match self.trouble(i) {
            NodeTrouble::None => {}
            NodeTrouble::NotReady => node::make_unreachable(&mut n, 600 + (i % 3_000) as i64),
            NodeTrouble::MemoryPressure => {
                node::set_condition(
                    &mut n,
                    "MemoryPressure",
                    "True",
                    "KubeletHasInsufficientMemory",
                    "kubelet has insufficient memory available",
                    900,
                    20,
                );
                node::add_taint(
                    &mut n,
                    "node.kubernetes.io/memory-pressure",
                    "NoSchedule",
                    900,
                );
            }
        }
        n
    }

    /// Node count.
    pub fn count(&self) -> u64 {
        self.count
    }
}

/// Failure writing a scale bundle.
#[derive(Debug, thiserror::Error)]
pub enum ScaleError {
    /// The bundle could not be written.
    #[error("writing {path}")]
    Bundle {
        /// Destination.
        path: PathBuf,
        /// Cause.
        #[source]
        source: kpm_bundle::BundleError,
    },
    /// Options make no sense.
    #[error("invalid options: {0}")]
    Options(String),
    /// The list of injected failures could not be written.
    #[error("writing {path}")]
    Injected {
        /// Destination.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
}

/// Pushes one item into the list being streamed.
type Push<'a> = &'a mut dyn FnMut(&Value) -> kpm_bundle::Result<()>;

/// Streams one list of items produced by `each`, returning `(items, bytes)`.
fn stream_list(
    w: &mut BundleWriter,
    path: &str,
    kind: &ResourceKind,
    each: &mut dyn FnMut(Push<'_>) -> kpm_bundle::Result<()>,
) -> kpm_bundle::Result<(u64, u64)> {
    let rv = ids::resource_version(path);
    let mut list = w.start_list(path, &kind.list_kind(), &kind.api_version(), Some(&rv))?;
    each(&mut |item: &Value| list.push(item))?;
    let n = list.count();
    let rec = list.finish()?;
    Ok((n, rec.size))
}

/// Writes a generated cluster as a zip at `dest` (with `perturb`, the
/// same cluster collected later with a few apps changed).
pub fn generate(opts: &ScaleOptions, dest: &Path) -> Result<ScaleSummary, ScaleError> {
    if opts.nodes == 0
        || !(0.0..=1.0).contains(&opts.failure_rate)
        || !(0.0..=1.0).contains(&opts.perturb)
    {
        return Err(ScaleError::Options(
            "need at least one node, and a failure rate and a perturbation between 0 and 1".into(),
        ));
    }
    if opts.perturb > 0.0 {
        return ids::collected_later(crate::scale_perturb::LATER_SECS, || {
            generate_now(opts, dest)
        });
    }
    generate_now(opts, dest)
}

fn generate_now(opts: &ScaleOptions, dest: &Path) -> Result<ScaleSummary, ScaleError> {
    let err = |source| ScaleError::Bundle {
        path: dest.to_path_buf(),
        source,
    };
    let mut w = BundleWriter::create_zip(dest, true).map_err(err)?;
    let fleet = fleet(opts);
    let mut plan = scale_apps::plan(opts);
    if opts.perturb > 0.0 {
        let node = fleet.replaced;
        crate::scale_perturb::apply(&mut plan, opts.seed, opts.perturb, opts.nodes, node);
    }
    let system_nodes = (0..fleet.count().min(3)).map(|i| fleet.id(i)).collect();
    let system = crate::baseline::system_world(system_nodes).finish();
    let mut summary = ScaleSummary {
        nodes: fleet.count(),
        namespaces: (plan.namespaces.len() + system.namespaces.len()) as u64,
        ..ScaleSummary::default()
    };
    let mut steps: Vec<Step> = Vec::new();
    write_cluster(&mut w, &mut steps, &fleet, &system, &plan).map_err(err)?;
    write_system_namespaces(&mut w, &mut steps, &mut summary, &system, &fleet).map_err(err)?;
    for ns in &plan.namespaces {
        write_planned_namespace(&mut w, &mut steps, &mut summary, ns, &fleet).map_err(err)?;
    }
    write_metrics(&mut w, &mut steps, &fleet, &plan).map_err(err)?;
    let system_pods: Vec<Value> = system.all_pods().cloned().collect();
    write_allocation(&mut w, &plan, &fleet, &system_pods).map_err(err)?;
    let names = system
        .namespaces
        .keys()
        .cloned()
        .chain(plan.namespaces.iter().map(|n| n.name.clone()))
        .collect();
    let path = w.finish(manifest(names, steps)).map_err(err)?;
    summary.injected.extend(scale_injected::of_fleet(&fleet));
    write_injected(&path, &summary.injected)?;
    summary.path = path;
    Ok(summary)
}

/// Writes [`scale_injected::injected_path`] of `bundle`.
fn write_injected(bundle: &Path, injected: &[Injected]) -> Result<(), ScaleError> {
    let path = scale_injected::injected_path(bundle);
    let file = InjectedFile {
        bundle: bundle
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        injected: injected.to_vec(),
    };
    let mut text = serde_json::to_string_pretty(&file).map_err(|e| ScaleError::Injected {
        path: path.clone(),
        source: std::io::Error::other(e),
    })?;
    text.push('\n');
    std::fs::write(&path, text).map_err(|source| ScaleError::Injected { path, source })
}

/// `/version` and the cluster-scoped lists: the fleet's nodes, every
/// namespace, the nginx ingress class, the StatefulSets' volumes and their
/// attachments, the StorageClasses and the built-in PriorityClasses (no
/// admission webhooks: the generated cluster runs none).
fn write_cluster(
    w: &mut BundleWriter,
    steps: &mut Vec<Step>,
    fleet: &Fleet,
    system: &Cluster,
    plan: &scale_apps::Plan,
) -> kpm_bundle::Result<()> {
    let rec = w.write_json(layout::CLUSTER_VERSION, &version_info())?;
    steps.push(ok_step(
        "version",
        None,
        layout::CLUSTER_VERSION,
        1,
        rec.size,
    ));
    for kind in CLUSTER_KINDS {
        let path = format!("cluster/{}.json", kind.plural);
        let (n, size) = match kind.plural {
            "nodes" => stream_list(w, &path, kind, &mut |push| {
                for i in 0..fleet.count() {
                    push(&fleet.node(i))?;
                }
                Ok(())
            }),
            "namespaces" => stream_list(w, &path, kind, &mut |push| {
                for (name, ns) in &system.namespaces {
                    push(&namespace_object(name, ns.created_ago))?;
                }
                for ns in &plan.namespaces {
                    push(&namespace_object(&ns.name, ns.created_ago))?;
                }
                Ok(())
            }),
            "ingressclasses" => stream_list(w, &path, kind, &mut |push| {
                push(&network::ingress_class(
                    "nginx",
                    "k8s.io/ingress-nginx",
                    86_400 * 300,
                ))
            }),
            "persistentvolumes" => stream_list(w, &path, kind, &mut |push| {
                scale_stateful::persistent_volumes(plan, fleet).try_for_each(|pv| push(&pv))
            }),
            "volumeattachments" => stream_list(w, &path, kind, &mut |push| {
                scale_stateful::volume_attachments(plan, fleet).try_for_each(|va| push(&va))
            }),
            "storageclasses" => stream_list(w, &path, kind, &mut |push| {
                scale_stateful::storage_classes()
                    .iter()
                    .try_for_each(&mut *push)
            }),
            "priorityclasses" => stream_list(w, &path, kind, &mut |push| {
                scale_daemons::priority_classes()
                    .iter()
                    .try_for_each(&mut *push)
            }),
            _ => stream_list(w, &path, kind, &mut |_| Ok(())),
        }?;
        steps.push(ok_step(kind.plural, None, &path, n, size));
    }
    Ok(())
}

/// Every namespaced list of the system namespaces (`kube-system` and the
/// like), from the hand-built baseline world, plus the fleet's kube-proxy.
fn write_system_namespaces(
    w: &mut BundleWriter,
    steps: &mut Vec<Step>,
    summary: &mut ScaleSummary,
    system: &Cluster,
    fleet: &Fleet,
) -> kpm_bundle::Result<()> {
    for (name, data) in &system.namespaces {
        for kind in NAMESPACED_KINDS {
            let path = layout::namespaced_path(name, kind.plural);
            let items = data.objects.get(kind.plural).cloned().unwrap_or_default();
            let daemons = name == scale_daemons::NAMESPACE;
            let (n, size) = stream_list(w, &path, kind, &mut |push| {
                items.iter().try_for_each(&mut *push)?;
                match kind.plural {
                    "pods" if daemons => scale_daemons::pods(fleet).try_for_each(|p| push(&p)),
                    "daemonsets" if daemons => push(&scale_daemons::daemon_set(fleet)),
                    _ => Ok(()),
                }
            })?;
            summary.pods += if kind.plural == "pods" { n } else { 0 };
            steps.push(ok_step(kind.plural, Some(name), &path, n, size));
        }
    }
    Ok(())
}

/// Every namespaced list and the logs of one generated namespace.
fn write_planned_namespace(
    w: &mut BundleWriter,
    steps: &mut Vec<Step>,
    summary: &mut ScaleSummary,
    ns: &scale_apps::NsDesc,
    fleet: &Fleet,
) -> kpm_bundle::Result<()> {
    for kind in NAMESPACED_KINDS {
        let path = layout::namespaced_path(&ns.name, kind.plural);
        let (n, size) = stream_list(w, &path, kind, &mut |push| {
            for app in &ns.apps {
                for obj in scale_apps::objects(kind.plural, ns, app, fleet) {
                    push(&obj)?;
                }
            }
            for obj in scale_policy::objects(kind.plural, ns, fleet) {
                push(&obj)?;
            }
            for obj in scale_batch::objects(kind.plural, &ns.name, fleet) {
                push(&obj)?;
            }
            Ok(())
        })?;
        match kind.plural {
            "pods" => summary.pods += n,
            "events" => summary.events += n,
            _ => {}
        }
        steps.push(ok_step(kind.plural, Some(&ns.name), &path, n, size));
    }
    for app in &ns.apps {
        if let Some(f) = app.failure {
            *summary.failures.entry(f.name().to_string()).or_default() += 1;
        }
        summary.injected.extend(scale_injected::of_app(ns, app));
        summary
            .injected
            .extend(scale_policy::injected(ns, app, fleet));
        for (pod, container, previous, text) in scale_apps::logs(ns, app) {
            let path = layout::log_path(&ns.name, &pod, &container, previous);
            let rec = w.write_entry(&path, text.as_bytes())?;
            let mut s = ok_step(
                if previous { "logs/previous" } else { "logs" },
                Some(&ns.name),
                &path,
                text.lines().count() as u64,
                rec.size,
            );
            s.object = Some(format!("{pod}/{container}"));
            steps.push(s);
        }
    }
    Ok(())
}

/// Metrics: the nodes that answer, then running pods per namespace.
fn write_metrics(
    w: &mut BundleWriter,
    steps: &mut Vec<Step>,
    fleet: &Fleet,
    plan: &scale_apps::Plan,
) -> kpm_bundle::Result<()> {
    let node_kind = ResourceKind {
        plural: "nodes",
        singular: "nodemetrics",
        kind: "NodeMetrics",
        group: "metrics.k8s.io",
        version: "v1beta1",
        scope: layout::Scope::Cluster,
        short_names: &[],
    };
    let (n, size) = stream_list(w, layout::NODE_METRICS, &node_kind, &mut |push| {
        for i in 0..fleet.count() {
            if fleet.trouble(i) != NodeTrouble::NotReady {
                let id = fleet.id(i);
                let busy = 1_500 + (ids::hash(&id.name) % 3_000);
                let mem = if fleet.trouble(i) == NodeTrouble::MemoryPressure {
                    30_100
                } else {
                    9_000 + ids::hash(&id.name) % 9_000
                };
                push(&metrics::node_metrics(&id.name, busy, mem))?;
            }
        }
        Ok(())
    })?;
    steps.push(ok_step(
        "metrics/nodes",
        None,
        layout::NODE_METRICS,
        n,
        size,
    ));
    let pod_kind = ResourceKind {
        kind: "PodMetrics",
        ..node_kind
    };
    for ns in &plan.namespaces {
        let path = layout::pod_metrics_path(&ns.name);
        let (n, size) = stream_list(w, &path, &pod_kind, &mut |push| {
            for app in &ns.apps {
                for m in scale_apps::pod_metrics(ns, app, fleet) {
                    push(&m)?;
                }
            }
            Ok(())
        })?;
        steps.push(ok_step("metrics/pods", Some(&ns.name), &path, n, size));
    }
    Ok(())
}

/// Streams `derived/node-allocation.json` (`{"nodes": [...]}` sorted by
/// node name, as [`kpm_semantics::allocation::NodeAllocationFile`]
/// serializes) one node at a time.
fn write_allocation(
    w: &mut BundleWriter,
    plan: &scale_apps::Plan,
    fleet: &Fleet,
    system_pods: &[Value],
) -> kpm_bundle::Result<()> {
    let io = |e: std::io::Error| kpm_bundle::BundleError::Write {
        path: layout::NODE_ALLOCATION.into(),
        cause: e,
    };
    // (first global pod index, namespace, app) for locating a pod's app.
    let index: Vec<(u64, usize, usize)> = plan
        .namespaces
        .iter()
        .enumerate()
        .flat_map(|(n, ns)| {
            ns.apps
                .iter()
                .enumerate()
                .map(move |(a, app)| (app.first_pod, n, a))
        })
        .collect();
    let total: u64 = plan
        .namespaces
        .iter()
        .flat_map(|n| &n.apps)
        .map(|a| a.replicas)
        .sum();
    let mut order: Vec<(String, u64)> = (0..fleet.count()).map(|i| (fleet.id(i).name, i)).collect();
    order.sort();
    let daemons = scale_daemons::daemon_set(fleet);
    let daemon_spec = crate::baseline::kube_proxy_spec();
    let daemon_hash = crate::builders::workload::controller_revision_hash(&daemons);
    let mut entry = w.start_entry(layout::NODE_ALLOCATION)?;
    entry.write_all(b"{\"nodes\":[").map_err(io)?;
    let mut first = true;
    for (_, i) in &order {
        let mut a = Allocation::new();
        let node = fleet.node(*i);
        for p in system_pods
            .iter()
            .filter(|p| p["spec"]["nodeName"] == node["metadata"]["name"])
        {
            a.add_pod(p);
        }
        a.add_pod(&scale_daemons::pod(
            fleet,
            *i,
            &daemons,
            &daemon_spec,
            &daemon_hash,
        ));
        a.add_node(&node);
        let mut g = *i;
        while g < total {
            let slot = index
                .partition_point(|(start, _, _)| *start <= g)
                .saturating_sub(1);
            if let Some((start, n, ai)) = index.get(slot) {
                if let Some((ns, app)) = plan
                    .namespaces
                    .get(*n)
                    .and_then(|ns| ns.apps.get(*ai).map(|app| (ns, app)))
                {
                    a.add_pod(&scale_apps::pod_at(ns, app, g - start, fleet));
                }
            }
            g += fleet.count();
        }
        for node in a.finish().nodes {
            if !first {
                entry.write_all(b",").map_err(io)?;
            }
            first = false;
            serde_json::to_writer(&mut entry, &node).map_err(|e| io(std::io::Error::other(e)))?;
        }
    }
    entry.write_all(b"]}\n").map_err(io)?;
    entry.finish()?;
    Ok(())
}

/// Peak resident set size of this process in KiB (`VmHWM`), if readable.
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Runs [`generate`] and measures it: `(summary, wall seconds)`.
pub fn timed(opts: &ScaleOptions, dest: &Path) -> Result<(ScaleSummary, f64), ScaleError> {
    let start = Instant::now();
    let s = generate(opts, dest)?;
    Ok((s, start.elapsed().as_secs_f64()))
}

/// Pods of an app as they would be listed (used by tests).
pub fn app_pods(ns: &scale_apps::NsDesc, app: &AppDesc, fleet: &Fleet) -> Vec<Value> {
    scale_apps::objects("pods", ns, app, fleet)
}

/// The fleet of `opts` (with `perturb`, one node replaced).
pub fn fleet(opts: &ScaleOptions) -> Fleet {
    let mut f = Fleet {
        count: opts.nodes,
        seed: opts.seed,
        failure_rate: opts.failure_rate,
        replaced: None,
    };
    if opts.perturb > 0.0 {
        let node = crate::scale_perturb::replaced_node(opts.nodes, |i| {
            f.trouble(i) == NodeTrouble::NotReady
        });
        f.replaced = node;
    }
    f
}

/// Kinds of the injected failures (for the summary printout).
pub fn failure_names() -> Vec<&'static str> {
    Failure::ALL.iter().map(|f| f.name()).collect()
}

/// `metadata.name` helper re-exported for tests.
pub fn name(v: &Value) -> &str {
    meta::name_of(v)
}

/// The summary line printed by the CLI.
pub fn describe(s: &ScaleSummary, secs: f64) -> String {
    let failures: Vec<String> = s.failures.iter().map(|(k, v)| format!("{k}={v}")).collect();
    json!({
        "path": s.path.display().to_string(),
        "nodes": s.nodes, "namespaces": s.namespaces, "pods": s.pods, "events": s.events,
        "failures": failures.join(","),
        "injected_findings": s.injected.len(),
        "wall_seconds": (secs * 100.0).round() / 100.0,
        "peak_rss_mib": peak_rss_kib().map(|k| k / 1024),
    })
    .to_string()
}
