//! Where every file lives inside a bundle.
//!
//! This module is the single source of truth for paths: the collector writes
//! through it, the reader, the analyzer and `serve` look things up through it.
//! Paths always use `/` and are relative to the bundle root, whether the
//! bundle is a zip or an unpacked directory.

/// The version of the bundle format written by this crate.
pub const FORMAT_VERSION: u32 = 1;

/// The manifest: written last, describes everything else.
pub const MANIFEST: &str = "manifest.json";

/// `version.Info` of the API server, as `/version` returns it.
pub const CLUSTER_VERSION: &str = "cluster/version.json";

/// Node allocation computed the way `kubectl describe node` does.
pub const NODE_ALLOCATION: &str = "derived/node-allocation.json";

/// `metrics.k8s.io/v1beta1` `NodeMetricsList`.
pub const NODE_METRICS: &str = "metrics/nodes.json";

/// Whether a resource lives in a namespace or at cluster scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Stored once under `cluster/`.
    Cluster,
    /// Stored per namespace under `namespaces/<ns>/`.
    Namespaced,
}

/// One kind of Kubernetes object a bundle can hold as a `List`.
///
/// The fields are what discovery, the collector's URLs and `serve` need; keeping
/// them in one table means a new kind is added in exactly one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceKind {
    /// File stem inside the bundle, equal to the API's plural resource name.
    pub plural: &'static str,
    /// `kind` of one item.
    pub kind: &'static str,
    /// API group; empty for the core group.
    pub group: &'static str,
    /// API version within the group.
    pub version: &'static str,
    /// Cluster-scoped or namespaced.
    pub scope: Scope,
    /// Short names as the API server advertises them in discovery.
    pub short_names: &'static [&'static str],
    /// Singular name as advertised in discovery.
    pub singular: &'static str,
}

impl ResourceKind {
    /// `apiVersion` as written in objects: `v1` or `apps/v1`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `kind` of the list object, e.g. `PodList`.
    pub fn list_kind(&self) -> String {
        format!("{}List", self.kind)
    }

    /// URL path prefix of the group version: `/api/v1` or `/apis/apps/v1`.
    pub fn group_version_path(&self) -> String {
        if self.group.is_empty() {
            format!("/api/{}", self.version)
        } else {
            format!("/apis/{}/{}", self.group, self.version)
        }
    }

    /// Where the list of this kind is stored; `namespace` is ignored for
    /// cluster-scoped kinds and required for namespaced ones.
    pub fn path(&self, namespace: Option<&str>) -> Option<String> {
        match (self.scope, namespace) {
            (Scope::Cluster, _) => Some(format!("cluster/{}.json", self.plural)),
            (Scope::Namespaced, Some(ns)) => Some(namespaced_path(ns, self.plural)),
            (Scope::Namespaced, None) => None,
        }
    }
}

macro_rules! kind {
    ($plural:literal, $singular:literal, $kind:literal, $group:literal, $version:literal, $scope:ident, [$($short:literal),*]) => {
        ResourceKind {
            plural: $plural,
            singular: $singular,
            kind: $kind,
            group: $group,
            version: $version,
            scope: Scope::$scope,
            short_names: &[$($short),*],
        }
    };
}

/// Cluster-scoped kinds a bundle stores under `cluster/`.
pub const CLUSTER_KINDS: &[ResourceKind] = &[
    kind!("nodes", "node", "Node", "", "v1", Cluster, ["no"]),
    kind!(
        "namespaces",
        "namespace",
        "Namespace",
        "",
        "v1",
        Cluster,
        ["ns"]
    ),
    kind!(
        "ingressclasses",
        "ingressclass",
        "IngressClass",
        "networking.k8s.io",
        "v1",
        Cluster,
        []
    ),
    kind!(
        "persistentvolumes",
        "persistentvolume",
        "PersistentVolume",
        "",
        "v1",
        Cluster,
        ["pv"]
    ),
    kind!(
        "storageclasses",
        "storageclass",
        "StorageClass",
        "storage.k8s.io",
        "v1",
        Cluster,
        ["sc"]
    ),
    kind!(
        "volumeattachments",
        "volumeattachment",
        "VolumeAttachment",
        "storage.k8s.io",
        "v1",
        Cluster,
        []
    ),
    kind!(
        "priorityclasses",
        "priorityclass",
        "PriorityClass",
        "scheduling.k8s.io",
        "v1",
        Cluster,
        ["pc"]
    ),
    kind!(
        "validatingwebhookconfigurations",
        "validatingwebhookconfiguration",
        "ValidatingWebhookConfiguration",
        "admissionregistration.k8s.io",
        "v1",
        Cluster,
        []
    ),
    kind!(
        "mutatingwebhookconfigurations",
        "mutatingwebhookconfiguration",
        "MutatingWebhookConfiguration",
        "admissionregistration.k8s.io",
        "v1",
        Cluster,
        []
    ),
];

/// Namespaced kinds a bundle stores under `namespaces/<ns>/`.
pub const NAMESPACED_KINDS: &[ResourceKind] = &[
    kind!("pods", "pod", "Pod", "", "v1", Namespaced, ["po"]),
    kind!("events", "event", "Event", "", "v1", Namespaced, ["ev"]),
    kind!(
        "services",
        "service",
        "Service",
        "",
        "v1",
        Namespaced,
        ["svc"]
    ),
    kind!(
        "endpoints",
        "endpoints",
        "Endpoints",
        "",
        "v1",
        Namespaced,
        ["ep"]
    ),
    kind!(
        "endpointslices",
        "endpointslice",
        "EndpointSlice",
        "discovery.k8s.io",
        "v1",
        Namespaced,
        []
    ),
    kind!(
        "ingresses",
        "ingress",
        "Ingress",
        "networking.k8s.io",
        "v1",
        Namespaced,
        ["ing"]
    ),
    kind!(
        "horizontalpodautoscalers",
        "horizontalpodautoscaler",
        "HorizontalPodAutoscaler",
        "autoscaling",
        "v2",
        Namespaced,
        ["hpa"]
    ),
    kind!(
        "deployments",
        "deployment",
        "Deployment",
        "apps",
        "v1",
        Namespaced,
        ["deploy"]
    ),
    kind!(
        "replicasets",
        "replicaset",
        "ReplicaSet",
        "apps",
        "v1",
        Namespaced,
        ["rs"]
    ),
    kind!(
        "statefulsets",
        "statefulset",
        "StatefulSet",
        "apps",
        "v1",
        Namespaced,
        ["sts"]
    ),
    kind!(
        "daemonsets",
        "daemonset",
        "DaemonSet",
        "apps",
        "v1",
        Namespaced,
        ["ds"]
    ),
    kind!("jobs", "job", "Job", "batch", "v1", Namespaced, []),
    kind!(
        "configmaps",
        "configmap",
        "ConfigMap",
        "",
        "v1",
        Namespaced,
        ["cm"]
    ),
    kind!("secrets", "secret", "Secret", "", "v1", Namespaced, []),
    kind!(
        "persistentvolumeclaims",
        "persistentvolumeclaim",
        "PersistentVolumeClaim",
        "",
        "v1",
        Namespaced,
        ["pvc"]
    ),
    kind!(
        "cronjobs",
        "cronjob",
        "CronJob",
        "batch",
        "v1",
        Namespaced,
        ["cj"]
    ),
    kind!(
        "resourcequotas",
        "resourcequota",
        "ResourceQuota",
        "",
        "v1",
        Namespaced,
        ["quota"]
    ),
    kind!(
        "limitranges",
        "limitrange",
        "LimitRange",
        "",
        "v1",
        Namespaced,
        ["limits"]
    ),
    kind!(
        "poddisruptionbudgets",
        "poddisruptionbudget",
        "PodDisruptionBudget",
        "policy",
        "v1",
        Namespaced,
        ["pdb"]
    ),
    kind!(
        "networkpolicies",
        "networkpolicy",
        "NetworkPolicy",
        "networking.k8s.io",
        "v1",
        Namespaced,
        ["netpol"]
    ),
];

/// Every kind a bundle can hold, cluster-scoped first.
pub fn all_kinds() -> impl Iterator<Item = &'static ResourceKind> {
    CLUSTER_KINDS.iter().chain(NAMESPACED_KINDS.iter())
}

/// Looks a kind up by its plural resource name (`pods`, `ingresses`).
pub fn kind_by_plural(plural: &str) -> Option<&'static ResourceKind> {
    all_kinds().find(|k| k.plural == plural)
}

/// `namespaces/<ns>/<plural>.json`.
pub fn namespaced_path(namespace: &str, plural: &str) -> String {
    format!("namespaces/{namespace}/{plural}.json")
}

/// `metrics/namespaces/<ns>/pods.json`: a `PodMetricsList`.
pub fn pod_metrics_path(namespace: &str) -> String {
    format!("metrics/namespaces/{namespace}/pods.json")
}

/// `logs/<ns>/<pod>/<container>.log`, or `.previous.log` for the log of the
/// container's previous instance (`kubectl logs --previous`).
pub fn log_path(namespace: &str, pod: &str, container: &str, previous: bool) -> String {
    let suffix = if previous { ".previous.log" } else { ".log" };
    format!("logs/{namespace}/{pod}/{container}{suffix}")
}

/// What a path inside a bundle holds, as parsed by [`classify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry<'a> {
    /// `manifest.json`.
    Manifest,
    /// `cluster/version.json`.
    ClusterVersion,
    /// A cluster-scoped list.
    ClusterList(&'static ResourceKind),
    /// A namespaced list.
    NamespacedList {
        /// Namespace directory name.
        namespace: &'a str,
        /// The kind stored.
        kind: &'static ResourceKind,
    },
    /// `metrics/nodes.json`.
    NodeMetrics,
    /// `metrics/namespaces/<ns>/pods.json`.
    PodMetrics {
        /// Namespace directory name.
        namespace: &'a str,
    },
    /// A container log.
    Log {
        /// Namespace of the pod.
        namespace: &'a str,
        /// Pod name.
        pod: &'a str,
        /// Container name.
        container: &'a str,
        /// Log of the previous container instance.
        previous: bool,
    },
    /// `derived/node-allocation.json`.
    NodeAllocation,
    /// Anything else (kept, checksummed, but not interpreted).
    Other,
}

/// Tells what a bundle path holds. Unknown paths are [`Entry::Other`], so a
/// newer collector's extra files never make an older reader fail.
pub fn classify(path: &str) -> Entry<'_> {
    let parts: Vec<&str> = path.split('/').collect();
    match parts.as_slice() {
        ["manifest.json"] => Entry::Manifest,
        ["cluster", "version.json"] => Entry::ClusterVersion,
        ["cluster", file] => file
            .strip_suffix(".json")
            .and_then(kind_by_plural)
            .filter(|k| k.scope == Scope::Cluster)
            .map_or(Entry::Other, Entry::ClusterList),
        ["namespaces", ns, file] => file
            .strip_suffix(".json")
            .and_then(kind_by_plural)
            .filter(|k| k.scope == Scope::Namespaced)
            .map_or(Entry::Other, |kind| Entry::NamespacedList {
                namespace: ns,
                kind,
            }),
        ["metrics", "nodes.json"] => Entry::NodeMetrics,
        ["metrics", "namespaces", ns, "pods.json"] => Entry::PodMetrics { namespace: ns },
        ["logs", ns, pod, file] => {
            if let Some(c) = file.strip_suffix(".previous.log") {
                Entry::Log {
                    namespace: ns,
                    pod,
                    container: c,
                    previous: true,
                }
            } else if let Some(c) = file.strip_suffix(".log") {
                Entry::Log {
                    namespace: ns,
                    pod,
                    container: c,
                    previous: false,
                }
            } else {
                Entry::Other
            }
        }
        ["derived", "node-allocation.json"] => Entry::NodeAllocation,
        _ => Entry::Other,
    }
}

/// Checks that a path is safe to use as a bundle entry: relative, `/`
/// separated, no `..`, no empty segments. Object names from a cluster end up
/// in paths, and a hostile bundle must not write outside its directory.
pub fn is_safe_entry_path(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && !path.contains('\\')
        && !path.contains('\0')
        && path
            .split('/')
            .all(|seg| !seg.is_empty() && seg != "." && seg != "..")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_round_trip_through_classify() {
        let pods = kind_by_plural("pods").map(|k| k.path(Some("shop")));
        assert_eq!(pods, Some(Some("namespaces/shop/pods.json".to_string())));
        assert!(matches!(
            classify("namespaces/shop/pods.json"),
            Entry::NamespacedList { namespace: "shop", kind } if kind.kind == "Pod"
        ));
        assert!(
            matches!(classify("cluster/nodes.json"), Entry::ClusterList(k) if k.kind == "Node")
        );
        assert_eq!(
            classify(&log_path("shop", "web-1", "app", true)),
            Entry::Log {
                namespace: "shop",
                pod: "web-1",
                container: "app",
                previous: true
            }
        );
        assert_eq!(classify("cluster/pods.json"), Entry::Other);
        assert_eq!(classify("namespaces/a/nodes.json"), Entry::Other);
        assert_eq!(
            classify(&pod_metrics_path("a")),
            Entry::PodMetrics { namespace: "a" }
        );
    }

    #[test]
    fn api_versions_and_urls() {
        let hpa = kind_by_plural("horizontalpodautoscalers")
            .map(|k| (k.api_version(), k.group_version_path()));
        assert_eq!(
            hpa,
            Some(("autoscaling/v2".into(), "/apis/autoscaling/v2".into()))
        );
        let pod = kind_by_plural("pods").map(|k| (k.api_version(), k.list_kind()));
        assert_eq!(pod, Some(("v1".into(), "PodList".into())));
    }

    #[test]
    fn unsafe_paths_are_refused() {
        assert!(is_safe_entry_path("logs/a/b/c.log"));
        for bad in ["", "/etc/passwd", "logs/../x", "a//b", "a\\b", "./a"] {
            assert!(!is_safe_entry_path(bad), "{bad}");
        }
    }
}
