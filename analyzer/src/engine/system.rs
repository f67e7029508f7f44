//! System components and the best-practice remarks about them.
//!
//! Stock distributions (kubeadm, k3s, kURL, AKS, EKS, GKE, kind, minikube)
//! run CoreDNS, kube-proxy, the CNI, metrics-server, storage provisioners
//! and ingress controllers without limits and on floating tags by design.
//! A remark about that is true but says nothing about the incident, so such
//! remarks are set aside from the findings, graded `info`, and reported
//! grouped — one line per kind of remark with a count and the namespaces —
//! instead of one "broken application" per add-on. A real failure of a
//! system component (CoreDNS down, kube-proxy crash-looping) is not a
//! best-practice remark and keeps its finding and severity.
//!
//! Whether an object is a system component is decided from facts on the
//! objects (namespace, add-on labels, mirror-pod annotation, priority class,
//! node-agent DaemonSets, the k3s deploy/helm controllers' annotations, the
//! distribution the nodes say they belong to), each returned as the reason
//! shown in the report.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kpm_model::{Finding, ObjectRef, RemarkGroup, Severity};

use crate::context::{pod_ref, NamespaceCtx};
use crate::rules::registry::Rule;

/// Namespaces of the control plane itself.
const CORE_NAMESPACES: &[&str] = &["kube-system", "kube-public", "kube-node-lease"];

/// Namespaces that stock manifests and charts of cluster infrastructure
/// (ingress controllers, CNI, storage, certificates, policy, mesh) create
/// for themselves.
const INFRA_NAMESPACES: &[&str] = &[
    "ingress-nginx",
    "cert-manager",
    "local-path-storage",
    "traefik",
    "kube-flannel",
    "calico-system",
    "calico-apiserver",
    "tigera-operator",
    "cilium",
    "metallb-system",
    "longhorn-system",
    "projectcontour",
    "gatekeeper-system",
    "istio-system",
    "linkerd",
    "kubernetes-dashboard",
    "gmp-system",
    "gke-managed-system",
    "amazon-cloudwatch",
    "velero",
];

/// Projects of cluster infrastructure, as their charts and manifests name
/// themselves in `app.kubernetes.io/name` / `part-of` or `helm.sh/chart`.
const INFRA_PROJECTS: &[&str] = &[
    "ingress-nginx",
    "cert-manager",
    "traefik",
    "metrics-server",
    "local-path-provisioner",
    "calico",
    "cilium",
    "flannel",
    "metallb",
    "longhorn",
    "contour",
    "velero",
    "external-dns",
    "cluster-autoscaler",
    "kube-state-metrics",
];

/// Namespaces a distribution installs its own add-ons into, recognised only
/// on that distribution's nodes (`kurl.sh/cluster=true` for kURL).
const KURL_NAMESPACES: &[&str] = &[
    "kurl",
    "velero",
    "minio",
    "projectcontour",
    "longhorn-system",
    "rook-ceph",
    "openebs",
    "monitoring",
];

/// Rules whose findings are best-practice remarks: they say something could
/// go wrong later, never that something is broken now.
pub fn is_best_practice(rule: Rule) -> bool {
    matches!(rule, Rule::ResourcesNoLimits | Rule::ImageTagMutable)
}

/// Cluster-wide facts the per-object decision needs.
#[derive(Debug, Clone, Default)]
pub struct ClusterFacts {
    /// Every node carries `kurl.sh/cluster=true`.
    pub kurl: bool,
}

impl ClusterFacts {
    /// Reads the distribution from the nodes' labels.
    pub fn from_nodes(nodes: &[Node]) -> ClusterFacts {
        let kurl_node = |n: &Node| {
            n.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("kurl.sh/cluster"))
                .is_some_and(|v| v == "true")
        };
        ClusterFacts {
            kurl: !nodes.is_empty() && nodes.iter().all(kurl_node),
        }
    }
}

/// One remark set aside: which rule, about what, and why it is a system
/// component's.
#[derive(Debug, Clone)]
pub struct SetAside {
    /// The finding as the rule made it.
    pub finding: Finding,
    /// Why its object is a system component.
    pub reason: String,
}

/// Splits best-practice findings about system components off `findings`.
pub fn set_aside(
    ctx: &NamespaceCtx<'_>,
    facts: &ClusterFacts,
    findings: Vec<Finding>,
) -> (Vec<Finding>, Vec<SetAside>) {
    if !findings
        .iter()
        .any(|f| Rule::from_id(&f.rule).is_some_and(is_best_practice))
    {
        return (findings, Vec::new());
    }
    let pods = pods_by_owner(ctx);
    let mut keep = Vec::new();
    let mut aside = Vec::new();
    for f in findings {
        let remark = Rule::from_id(&f.rule).is_some_and(is_best_practice);
        match remark
            .then(|| reason(ctx, facts, &pods, &f.object))
            .flatten()
        {
            Some(reason) => aside.push(SetAside { finding: f, reason }),
            None => keep.push(f),
        }
    }
    (keep, aside)
}

/// Namespaces, reasons, objects (capped) and count of one rule's remarks.
type Tally = (BTreeSet<String>, BTreeSet<String>, Vec<ObjectRef>, usize);

/// Groups set-aside remarks into one line per rule, with counts, the
/// namespaces and the reasons met.
pub fn group(remarks: Vec<SetAside>) -> Vec<RemarkGroup> {
    /// Objects listed per group; the count stays exact.
    const MAX_OBJECTS: usize = 100;
    let mut by_rule: BTreeMap<String, Tally> = BTreeMap::new();
    for r in remarks {
        let e = by_rule.entry(r.finding.rule.clone()).or_default();
        if let Some(ns) = &r.finding.object.namespace {
            e.0.insert(ns.clone());
        }
        e.1.insert(r.reason);
        if e.2.len() < MAX_OBJECTS {
            e.2.push(r.finding.object);
        }
        e.3 += 1;
    }
    by_rule
        .into_iter()
        .map(|(rule, (namespaces, reasons, objects, count))| {
            let fires_when = Rule::from_id(&rule)
                .map(|r| r.info().fires_when)
                .unwrap_or_default();
            RemarkGroup {
                rule,
                severity: Severity::Info,
                summary: fires_when.to_string(),
                count,
                namespaces: namespaces.into_iter().collect(),
                reasons: reasons.into_iter().collect(),
                objects,
            }
        })
        .collect()
}

/// First live pod of each owning workload (and each bare pod by itself).
fn pods_by_owner<'a>(ctx: &NamespaceCtx<'a>) -> HashMap<ObjectRef, &'a Pod> {
    let mut out = HashMap::new();
    for pod in &ctx.ns.pods {
        let owner = ctx.owner_workload(pod).unwrap_or_else(|| pod_ref(pod));
        out.entry(owner).or_insert(pod);
        out.entry(pod_ref(pod)).or_insert(pod);
    }
    out
}

/// Metadata of a workload object of the namespace, by kind and name.
fn workload_meta<'a>(ctx: &NamespaceCtx<'a>, object: &ObjectRef) -> Option<&'a ObjectMeta> {
    let name = object.name.as_str();
    match object.kind.as_str() {
        "Deployment" => ctx.deployment(name).map(|o| &o.metadata),
        "ReplicaSet" => ctx.replicaset(name).map(|o| &o.metadata),
        "StatefulSet" => ctx.statefulset(name).map(|o| &o.metadata),
        "DaemonSet" => ctx.daemonset(name).map(|o| &o.metadata),
        "Job" => ctx.job(name).map(|o| &o.metadata),
        _ => None,
    }
}

/// Why `object` is a system component, or `None` when it is an
/// application's.
fn reason(
    ctx: &NamespaceCtx<'_>,
    facts: &ClusterFacts,
    pods: &HashMap<ObjectRef, &Pod>,
    object: &ObjectRef,
) -> Option<String> {
    let ns = ctx.namespace();
    if CORE_NAMESPACES.contains(&ns) {
        return Some(format!("namespace {ns} belongs to the control plane"));
    }
    if facts.kurl && KURL_NAMESPACES.contains(&ns) {
        return Some(format!(
            "namespace {ns} holds a kURL add-on (nodes carry kurl.sh/cluster=true)"
        ));
    }
    let pod = pods.get(object).copied();
    let metas = workload_meta(ctx, object)
        .into_iter()
        .chain(pod.map(|p| &p.metadata));
    for meta in metas {
        if let Some(r) = meta_reason(meta) {
            return Some(r);
        }
    }
    if let Some(r) = pod.and_then(|p| pod_reason(ctx, p)) {
        return Some(r);
    }
    INFRA_NAMESPACES
        .contains(&ns)
        .then(|| format!("namespace {ns} is a stock infrastructure namespace"))
}

/// Facts written in labels and annotations.
fn meta_reason(meta: &ObjectMeta) -> Option<String> {
    let labels = meta.labels.as_ref();
    let annotations = meta.annotations.as_ref();
    let label = |k: &str| labels.and_then(|l| l.get(k)).map(String::as_str);
    let annotation = |k: &str| annotations.and_then(|a| a.get(k)).map(String::as_str);
    if annotation("kubernetes.io/config.mirror").is_some() {
        return Some("static pod (kubernetes.io/config.mirror)".to_string());
    }
    if label("kubernetes.io/cluster-service") == Some("true") {
        return Some("cluster add-on (kubernetes.io/cluster-service=true)".to_string());
    }
    if let Some(mode) = label("addonmanager.kubernetes.io/mode") {
        return Some(format!(
            "managed by the addon manager (addonmanager.kubernetes.io/mode={mode})"
        ));
    }
    if let Some(app) = label("k8s-app") {
        return Some(format!("cluster add-on (k8s-app={app})"));
    }
    if let Some(gvk) = annotation("objectset.rio.cattle.io/owner-gvk") {
        if gvk.contains("cattle.io") {
            return Some(format!("installed by k3s ({gvk})"));
        }
    }
    if let Some(chart) = label("helmcharts.helm.cattle.io/chart") {
        return Some(format!("k3s HelmChart {chart}"));
    }
    for key in ["app.kubernetes.io/part-of", "app.kubernetes.io/name"] {
        if let Some(v) = label(key).filter(|v| INFRA_PROJECTS.contains(v)) {
            return Some(format!("stock infrastructure ({key}={v})"));
        }
    }
    let chart = label("helm.sh/chart")?;
    INFRA_PROJECTS
        .iter()
        .find(|p| {
            chart
                .strip_prefix(*p)
                .is_some_and(|rest| rest.starts_with('-'))
        })
        .map(|p| format!("stock infrastructure chart {p} (helm.sh/chart={chart})"))
}

/// Facts written in the pod's spec: system priority classes and node
/// agents (a DaemonSet pod on the host network).
fn pod_reason(ctx: &NamespaceCtx<'_>, pod: &Pod) -> Option<String> {
    let spec = pod.spec.as_ref()?;
    if let Some(p) = spec
        .priority_class_name
        .as_deref()
        .filter(|p| matches!(*p, "system-node-critical" | "system-cluster-critical"))
    {
        return Some(format!("priority class {p}"));
    }
    let daemon = ctx
        .owner_workload(pod)
        .is_some_and(|w| w.kind == "DaemonSet");
    (daemon && spec.host_network == Some(true))
        .then(|| "node agent (DaemonSet on the host network)".to_string())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::testkit::{obj, Fixture};

    fn finding(rule: Rule, object: ObjectRef) -> Finding {
        crate::context::FindingBuilder::new(rule, object).build()
    }

    fn pod_json(
        ns: &str,
        name: &str,
        meta: serde_json::Value,
        spec: serde_json::Value,
    ) -> serde_json::Value {
        let mut m = json!({"name": name, "namespace": ns});
        if let (Some(m), Some(extra)) = (m.as_object_mut(), meta.as_object()) {
            m.extend(extra.clone());
        }
        let mut s = json!({"containers": [{"name": "c", "image": "x:latest"}]});
        if let (Some(s), Some(extra)) = (s.as_object_mut(), spec.as_object()) {
            s.extend(extra.clone());
        }
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": m, "spec": s, "status": {"phase": "Running"}})
    }

    fn aside_for(fx: &Fixture, facts: &ClusterFacts, object: ObjectRef) -> Option<String> {
        let f = finding(Rule::ResourcesNoLimits, object);
        let (_, aside) = set_aside(&fx.ctx(), facts, vec![f]);
        aside.first().map(|a| a.reason.clone())
    }

    #[test]
    fn control_plane_namespace_is_system() {
        let fx = Fixture::new("kube-system");
        let r = aside_for(
            &fx,
            &ClusterFacts::default(),
            ObjectRef::namespaced("Deployment", "kube-system", "coredns"),
        );
        assert!(r.is_some_and(|r| r.contains("kube-system")));
    }

    #[test]
    fn facts_on_labels_annotations_and_spec_make_a_system_component() {
        let mut fx = Fixture::new("infra");
        fx.ns.pods = vec![
            obj(pod_json(
                "infra",
                "etcd-n1",
                json!({"annotations": {"kubernetes.io/config.mirror": "abc"}}),
                json!({}),
            )),
            obj(pod_json(
                "infra",
                "dns",
                json!({"labels": {"k8s-app": "kube-dns"}}),
                json!({}),
            )),
            obj(pod_json(
                "infra",
                "csi",
                json!({}),
                json!({"priorityClassName": "system-node-critical"}),
            )),
            obj(pod_json(
                "infra",
                "nginx",
                json!({"labels": {"app.kubernetes.io/part-of": "ingress-nginx"}}),
                json!({}),
            )),
            obj(pod_json(
                "infra",
                "cm",
                json!({"labels": {"helm.sh/chart": "cert-manager-v1.14.5"}}),
                json!({}),
            )),
            obj(pod_json(
                "infra",
                "shop",
                json!({"labels": {"app": "shop", "helm.sh/chart": "shop-1.0.0"}}),
                json!({}),
            )),
        ];
        let facts = ClusterFacts::default();
        let reason =
            |name: &str| aside_for(&fx, &facts, ObjectRef::namespaced("Pod", "infra", name));
        assert!(reason("etcd-n1").is_some_and(|r| r.contains("static pod")));
        assert!(reason("dns").is_some_and(|r| r.contains("k8s-app=kube-dns")));
        assert!(reason("csi").is_some_and(|r| r.contains("system-node-critical")));
        assert!(reason("nginx").is_some_and(|r| r.contains("ingress-nginx")));
        assert!(reason("cm").is_some_and(|r| r.contains("cert-manager")));
        // An application's chart is not infrastructure.
        assert_eq!(reason("shop"), None);
    }

    #[test]
    fn kurl_add_on_namespaces_only_on_kurl_nodes() {
        let fx = Fixture::new("minio");
        let object = ObjectRef::namespaced("Deployment", "minio", "minio");
        assert_eq!(
            aside_for(&fx, &ClusterFacts::default(), object.clone()),
            None
        );
        let nodes: Vec<Node> = vec![obj(json!({"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": "n1", "labels": {"kurl.sh/cluster": "true"}}}))];
        let facts = ClusterFacts::from_nodes(&nodes);
        assert!(aside_for(&fx, &facts, object).is_some_and(|r| r.contains("kURL")));
    }

    #[test]
    fn failures_of_system_components_are_never_set_aside() {
        let fx = Fixture::new("kube-system");
        let crash = finding(
            Rule::PodCrashloop,
            ObjectRef::namespaced("Pod", "kube-system", "coredns-1"),
        );
        let (keep, aside) = set_aside(&fx.ctx(), &ClusterFacts::default(), vec![crash]);
        assert_eq!(keep.len(), 1);
        assert!(aside.is_empty());
    }

    #[test]
    fn groups_count_every_remark_with_its_namespaces() {
        let remarks: Vec<SetAside> = ["kube-system", "ingress-nginx", "kube-system"]
            .iter()
            .enumerate()
            .map(|(i, ns)| SetAside {
                finding: finding(
                    Rule::ResourcesNoLimits,
                    ObjectRef::namespaced("Deployment", ns, &format!("d{i}")),
                ),
                reason: format!("namespace {ns}"),
            })
            .collect();
        let groups = group(remarks);
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].count, 3);
        assert_eq!(groups[0].namespaces, vec!["ingress-nginx", "kube-system"]);
        assert_eq!(groups[0].severity, Severity::Info);
    }
}
