//! Node summaries (allocation as `kubectl describe node` computes it) and
//! top pods by memory (`kubectl top pod`), accumulated namespace by namespace
//! so no pod list is held after its namespace.

use std::collections::{BTreeMap, HashMap};

use k8s_openapi::api::core::v1::{Node, Pod};
use kpm_model::{NodeSummary, PodUsage, ResourceAllocation};
use kpm_semantics::quantity::{resource_percent, Quantity};
use kpm_semantics::resources::{
    add_resource_list, pod_requests_and_limits_for_pod, resource_list, ResourceList,
};

use crate::context::{ClusterData, NamespaceCtx};
use kpm_semantics::PodExt;

/// How many pods the report's "top pods" table keeps.
pub const TOP_PODS: usize = 20;

/// Requests and limits summed per node over non-terminated pods.
#[derive(Debug, Default)]
pub struct NodeTotals {
    pods: u32,
    requests: ResourceList,
    limits: ResourceList,
}

/// Accumulates per-node totals and top pods across namespaces.
#[derive(Debug, Default)]
pub struct UsageAccumulator {
    nodes: HashMap<String, NodeTotals>,
    top: Vec<PodUsage>,
}

fn terminated(pod: &Pod) -> bool {
    // kubectl describe node counts pods whose phase is neither Succeeded nor Failed.
    matches!(pod.phase(), Some("Succeeded") | Some("Failed"))
}

fn q(
    map: &BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>,
    name: &str,
) -> Option<Quantity> {
    map.get(name).and_then(|v| Quantity::from_k8s(v).ok())
}

impl UsageAccumulator {
    /// Adds one namespace's pods and, unless `node_totals_only` (no top
    /// pods wanted: a diff compares node summaries only), its pod metrics.
    pub fn add_namespace(&mut self, ctx: &NamespaceCtx<'_>, node_totals_only: bool) {
        // The collector's derived allocation saw every pod of every
        // namespace and is what the node summaries use; summing the pods
        // again is only needed without it.
        if ctx.cluster.node_allocation.is_none() {
            self.add_node_totals(ctx);
        }
        if !node_totals_only {
            self.add_pod_metrics(ctx);
            self.trim();
        }
    }

    /// Sums requests and limits of the namespace's non-terminated pods per node.
    fn add_node_totals(&mut self, ctx: &NamespaceCtx<'_>) {
        for pod in &ctx.ns.pods {
            let Some(node) = pod.spec.as_ref().and_then(|s| s.node_name.as_ref()) else {
                continue;
            };
            if terminated(pod) {
                continue;
            }
            let (req, lim) = pod_requests_and_limits_for_pod(pod);
            let t = self.nodes.entry(node.clone()).or_default();
            t.pods += 1;
            add_resource_list(&mut t.requests, &req);
            add_resource_list(&mut t.limits, &lim);
        }
    }

    /// Adds the namespace's pods to the top-pods candidates.
    fn add_pod_metrics(&mut self, ctx: &NamespaceCtx<'_>) {
        for m in ctx.ns.pod_metrics.iter().flatten() {
            let Some(name) = m.metadata.name.as_deref() else {
                continue;
            };
            let mut cpu = 0i64;
            let mut mem = 0i64;
            for c in &m.containers {
                cpu += q(&c.usage, "cpu").map_or(0, |v| v.millis());
                mem += q(&c.usage, "memory").map_or(0, |v| v.value());
            }
            let limit = ctx.pod(name).and_then(memory_limit);
            self.top.push(PodUsage {
                pod: ctx.object("Pod", name),
                cpu_millis: u64::try_from(cpu).unwrap_or(0),
                memory_bytes: u64::try_from(mem).unwrap_or(0),
                memory_limit_bytes: limit,
            });
        }
    }

    fn trim(&mut self) {
        self.top.sort_by(|a, b| {
            b.memory_bytes
                .cmp(&a.memory_bytes)
                .then_with(|| a.pod.cmp(&b.pod))
        });
        self.top.truncate(TOP_PODS);
    }

    /// The top pods, heaviest first.
    pub fn top_pods(&self) -> Vec<PodUsage> {
        self.top.clone()
    }

    /// One summary per node of the bundle.
    pub fn node_summaries(&self, cluster: &ClusterData) -> Vec<NodeSummary> {
        cluster
            .nodes
            .iter()
            .map(|n| {
                let name = n.metadata.name.clone().unwrap_or_default();
                let computed = self.nodes.get(&name);
                // The collector's derived file saw every namespace; the
                // streamed totals only those analysed (--namespace).
                let derived = cluster
                    .node_allocation
                    .as_ref()
                    .and_then(|a| a.node(&name))
                    .map(|a| NodeTotals {
                        pods: a.non_terminated_pods,
                        requests: parse_map(&a.requests),
                        limits: parse_map(&a.limits),
                    });
                let totals = derived.as_ref().or(computed);
                let metrics = cluster.node_metrics(&name);
                let alloc = resource_list(n.status.as_ref().and_then(|s| s.allocatable.as_ref()));
                let allocation = ["cpu", "memory", "ephemeral-storage"]
                    .iter()
                    .filter_map(|res| {
                        let a = alloc.get(*res)?;
                        let req = totals
                            .and_then(|t| t.requests.get(*res))
                            .copied()
                            .unwrap_or(Quantity::ZERO);
                        let lim = totals
                            .and_then(|t| t.limits.get(*res))
                            .copied()
                            .unwrap_or(Quantity::ZERO);
                        let usage = metrics.and_then(|m| q(&m.usage, res));
                        Some(ResourceAllocation {
                            resource: (*res).to_string(),
                            allocatable: a.to_string(),
                            requests: req.to_string(),
                            requests_percent: pct(resource_percent(res, &req, a)),
                            limits: lim.to_string(),
                            limits_percent: pct(resource_percent(res, &lim, a)),
                            usage: usage.map(|u| top_format(res, &u)),
                            usage_percent: usage.map(|u| pct(resource_percent(res, &u, a))),
                        })
                    })
                    .collect();
                NodeSummary {
                    status: node_status(n),
                    problems: node_problems(n),
                    pods: totals.map_or(0, |t| t.pods),
                    allocation,
                    name,
                }
            })
            .collect()
    }
}

/// Usage the way `kubectl top node` prints it: cpu in millicores, memory
/// in Mi, anything else canonical.
fn top_format(resource: &str, q: &Quantity) -> String {
    match resource {
        "cpu" => format!("{}m", q.millis()),
        "memory" => format!("{}Mi", q.value() / (1024 * 1024)),
        _ => q.to_string(),
    }
}

fn parse_map(m: &BTreeMap<String, String>) -> ResourceList {
    m.iter()
        .filter_map(|(k, v)| Quantity::parse(v).ok().map(|q| (k.clone(), q)))
        .collect()
}

fn pct(v: i64) -> u32 {
    u32::try_from(v.max(0)).unwrap_or(u32::MAX)
}

/// Sum of container memory limits, when every container has one.
pub fn memory_limit(pod: &Pod) -> Option<u64> {
    let spec = pod.spec.as_ref()?;
    let mut total: i64 = 0;
    for c in &spec.containers {
        let lim = c.resources.as_ref().and_then(|r| r.limits.as_ref())?;
        total += q(lim, "memory")?.value();
    }
    u64::try_from(total).ok()
}

/// STATUS column of `kubectl get nodes`, as `printNode` computes it
/// (`kpm_semantics::node_status`, shared with `serve`).
pub fn node_status(node: &Node) -> String {
    kpm_semantics::node_status::node_status(node)
}

/// Bad conditions: pressure `True`, `Ready` not `True`, with their messages.
pub fn node_problems(node: &Node) -> Vec<String> {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .filter(|c| {
            // Ready is bad unless True; every other condition is bad when True.
            (c.type_ == "Ready") != (c.status == "True")
        })
        .map(|c| {
            let reason = c.reason.as_deref().unwrap_or("");
            let msg = c.message.as_deref().unwrap_or("");
            format!("{}={} {reason}: {msg}", c.type_, c.status)
                .trim_end_matches([' ', ':'])
                .to_string()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use kpm_bundle::Bundle;

    use super::UsageAccumulator;
    use crate::context::NamespaceCtx;
    use crate::load::{load_cluster, load_namespace};

    /// The node allocation streamed namespace by namespace equals the one the
    /// collector derived over the whole cluster (`kubectl describe node`).
    #[test]
    fn streamed_node_allocation_matches_the_derived_file() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata");
        let mut dirs: Vec<_> = std::fs::read_dir(&root)
            .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.join("manifest.json").is_file())
            .collect();
        dirs.sort();
        assert!(!dirs.is_empty(), "no scenario bundle in {}", root.display());
        for dir in dirs {
            let name = dir.display();
            let bundle = Bundle::open(&dir).unwrap();
            let mut damage = Vec::new();
            let mut cluster = load_cluster(&bundle, &mut damage);
            let Some(derived) = cluster.node_allocation.take() else {
                continue;
            };
            let mut acc = UsageAccumulator::default();
            for ns in bundle.namespaces() {
                let data = load_namespace(&bundle, &ns);
                let ctx = NamespaceCtx::new(&bundle, &cluster, &data);
                acc.add_namespace(&ctx, false);
            }
            for node in acc.node_summaries(&cluster) {
                let d = derived.node(&node.name).unwrap();
                assert_eq!(node.pods, d.non_terminated_pods, "{name}: {}", node.name);
                for a in &node.allocation {
                    assert_eq!(
                        Some(&a.requests),
                        d.requests.get(&a.resource),
                        "{name}: {} {}",
                        node.name,
                        a.resource
                    );
                    assert_eq!(
                        Some(&a.limits),
                        d.limits.get(&a.resource),
                        "{name}: {} {}",
                        node.name,
                        a.resource
                    );
                    let pct = d.requests_percent.get(&a.resource).copied().unwrap_or(-1);
                    assert_eq!(
                        i64::from(a.requests_percent),
                        pct,
                        "{name}: {} {}",
                        node.name,
                        a.resource
                    );
                }
            }
        }
    }
}
