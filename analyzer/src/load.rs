//! Reading a bundle into [`ClusterData`] and, one at a time, [`NamespaceData`].
//!
//! Nothing here fails the run: a missing or damaged file becomes a
//! [`Damage`] entry and an [`Unavailable`] mark, so the engine can say which
//! checks it could not run instead of passing them silently.

use std::collections::{BTreeMap, HashMap};

use kpm_bundle::layout::{self, ResourceKind, CLUSTER_KINDS, NAMESPACED_KINDS};
use kpm_bundle::{Bundle, BundleError, LenientList, Outcome};
use kpm_model::{Damage, ObjectRef};
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::Deserialize;

use kpm_semantics::{NodeMetrics, PodMetrics};

use crate::context::{
    AutoscalerKind, ClusterData, Infra, InfraPod, IngressController, NamespaceData, Unavailable,
};

/// Why `what` (a manifest step name) in `namespace` is unavailable, from the
/// manifest, or `None` when its step ended `ok` or was not recorded.
pub fn step_failure(bundle: &Bundle, what: &str, namespace: Option<&str>) -> Option<Unavailable> {
    let step = bundle.failed_step(what, namespace, None)?;
    Some(Unavailable::Failed {
        outcome: step.outcome,
        http_status: step.http_status,
        message: step.message.clone(),
    })
}

/// Reads one list file, recording why it is unavailable when it is.
fn read_items<T: DeserializeOwned>(
    bundle: &Bundle,
    kind: &ResourceKind,
    namespace: Option<&str>,
    unavailable: &mut BTreeMap<String, Unavailable>,
    damage: &mut Vec<Damage>,
) -> Vec<T> {
    let failure = step_failure(bundle, kind.plural, namespace);
    let file = kind.path(namespace).unwrap_or_default();
    let result = match bundle.read_kind_lean::<T>(kind, namespace) {
        Ok(Some(list)) => Ok(Some(list.items)),
        Ok(None) => Ok(None),
        // One object of the wrong shape fails the fast read: read object
        // by object so it costs that object only.
        Err(BundleError::MalformedJson { .. }) => bundle
            .read_kind_lenient::<T>(kind, namespace)
            .map(|list| list.map(|l| keep_good(l, &file, damage))),
        Err(e) => Err(e),
    };
    match result {
        Ok(Some(items)) => {
            // A failed step that still left a file (e.g. a timeout during
            // pagination) gives partial data: use it, but say so.
            if let Some(f) = failure {
                unavailable.insert(kind.plural.to_string(), f);
            }
            items
        }
        Ok(None) => {
            unavailable.insert(
                kind.plural.to_string(),
                failure.unwrap_or(Unavailable::NotCollected),
            );
            Vec::new()
        }
        Err(e) => {
            damage.push(Damage {
                file,
                problem: e.to_string(),
            });
            unavailable.insert(
                kind.plural.to_string(),
                Unavailable::Damaged {
                    problem: e.to_string(),
                },
            );
            Vec::new()
        }
    }
}

/// The good objects of a list read object by object; each bad one is
/// damage naming the file, its position and its name.
fn keep_good<T>(list: LenientList<T>, file: &str, damage: &mut Vec<Damage>) -> Vec<T> {
    damage.extend(list.bad.iter().map(|bad| Damage {
        file: file.to_string(),
        problem: bad.to_string(),
    }));
    list.items
}

/// Reads an optional JSON file (metrics, derived data); a parse failure is damage.
fn read_optional<T: DeserializeOwned>(
    bundle: &Bundle,
    file: &str,
    damage: &mut Vec<Damage>,
) -> Option<T> {
    if !bundle.contains(file) {
        return None;
    }
    match bundle.read_json::<T>(file) {
        Ok(v) => Some(v),
        Err(e) => {
            damage.push(Damage {
                file: file.to_string(),
                problem: e.to_string(),
            });
            None
        }
    }
}

fn kind(plural: &str) -> Option<&'static ResourceKind> {
    CLUSTER_KINDS
        .iter()
        .chain(NAMESPACED_KINDS.iter())
        .find(|k| k.plural == plural)
}

/// Loads every cluster-scoped file and runs the cheap infra pass over the
/// pods of every namespace. Damage is appended to `damage`.
pub fn load_cluster(bundle: &Bundle, damage: &mut Vec<Damage>) -> ClusterData {
    // The infra pass re-reads every pods file: run it beside the (large)
    // cluster files instead of after them.
    std::thread::scope(|scope| {
        let infra = scope.spawn(|| infra_pass(bundle));
        let cluster = load_cluster_files(bundle, damage);
        let infra = match infra.join() {
            Ok(infra) => infra,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        ClusterData { infra, ..cluster }
    })
}

/// Reads a cluster-scoped list.
fn read_cluster_kind<T: DeserializeOwned>(
    bundle: &Bundle,
    plural: &str,
    unavailable: &mut BTreeMap<String, Unavailable>,
    damage: &mut Vec<Damage>,
) -> Vec<T> {
    match kind(plural) {
        Some(k) => read_items(bundle, k, None, unavailable, damage),
        None => Vec::new(),
    }
}

/// Everything of [`ClusterData`] but the infra pass.
fn load_cluster_files(bundle: &Bundle, damage: &mut Vec<Damage>) -> ClusterData {
    let manifest = bundle.manifest();
    let mut unavailable = BTreeMap::new();
    let nodes = read_cluster_kind(bundle, "nodes", &mut unavailable, damage);
    // No rule reads Namespaces or PersistentVolumes yet; they are read so
    // that a missing or damaged file is reported all the same.
    read_cluster_kind::<k8s_openapi::api::core::v1::Namespace>(
        bundle,
        "namespaces",
        &mut unavailable,
        damage,
    );
    let ingress_classes = read_cluster_kind(bundle, "ingressclasses", &mut unavailable, damage);
    read_cluster_kind::<k8s_openapi::api::core::v1::PersistentVolume>(
        bundle,
        "persistentvolumes",
        &mut unavailable,
        damage,
    );

    #[derive(Deserialize)]
    struct VersionInfo {
        #[serde(rename = "gitVersion")]
        git_version: Option<String>,
    }
    let server_version = read_optional::<VersionInfo>(bundle, layout::CLUSTER_VERSION, damage)
        .and_then(|v| v.git_version)
        .or_else(|| manifest.cluster.server_version.clone());

    let node_metrics =
        read_optional::<kpm_bundle::List<NodeMetrics>>(bundle, layout::NODE_METRICS, damage)
            .map(|l| l.items);
    let node_allocation = read_optional::<kpm_semantics::allocation::NodeAllocationFile>(
        bundle,
        layout::NODE_ALLOCATION,
        damage,
    );
    let node_index: HashMap<String, usize> = nodes
        .iter()
        .enumerate()
        .filter_map(|(i, n): (usize, &k8s_openapi::api::core::v1::Node)| {
            n.metadata.name.clone().map(|name| (name, i))
        })
        .collect();
    ClusterData {
        now: manifest.collection.finished_at,
        server_version,
        nodes,
        ingress_classes,
        node_metrics,
        node_allocation,
        unavailable,
        infra: Infra::default(),
        pending_pods: Vec::new(),
        node_events: BTreeMap::new(),
        node_index,
        node_free: Default::default(),
    }
}

/// Loads one namespace fully.
pub fn load_namespace(bundle: &Bundle, name: &str) -> NamespaceData {
    let mut ns = NamespaceData {
        name: name.to_string(),
        ..NamespaceData::default()
    };
    let mut unavailable = BTreeMap::new();
    let mut damage = Vec::new();
    macro_rules! load {
        ($field:ident, $plural:literal) => {
            if let Some(k) = kind($plural) {
                ns.$field = read_items(bundle, k, Some(name), &mut unavailable, &mut damage);
            }
        };
    }
    load!(pods, "pods");
    load!(events, "events");
    load!(services, "services");
    load!(endpoints, "endpoints");
    load!(endpoint_slices, "endpointslices");
    load!(ingresses, "ingresses");
    load!(hpas, "horizontalpodautoscalers");
    load!(deployments, "deployments");
    load!(replicasets, "replicasets");
    load!(statefulsets, "statefulsets");
    load!(daemonsets, "daemonsets");
    load!(jobs, "jobs");
    load!(config_maps, "configmaps");
    load!(secrets, "secrets");
    load!(pvcs, "persistentvolumeclaims");
    let metrics_path = layout::pod_metrics_path(name);
    ns.pod_metrics =
        read_optional::<kpm_bundle::List<PodMetrics>>(bundle, &metrics_path, &mut damage)
            .map(|l| l.items);
    if ns.pod_metrics.is_none() {
        let why = step_failure(bundle, "metrics/pods", Some(name))
            .or_else(|| step_failure(bundle, "metrics/pods", None))
            .unwrap_or(Unavailable::NotCollected);
        unavailable.insert("metrics/pods".to_string(), why);
    }
    ns.unavailable = unavailable;
    ns.damage = damage;
    ns
}

#[derive(Deserialize)]
struct SlimPod {
    #[serde(default)]
    metadata: SlimMeta,
    #[serde(default)]
    spec: SlimSpec,
    #[serde(default)]
    status: SlimStatus,
}

#[derive(Deserialize, Default)]
struct SlimMeta {
    #[serde(default)]
    name: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct SlimSpec {
    #[serde(default)]
    containers: Vec<SlimContainer>,
    #[serde(default)]
    node_name: Option<String>,
}

#[derive(Deserialize, Default)]
struct SlimContainer {
    #[serde(default)]
    image: String,
    #[serde(default)]
    command: Vec<String>,
    #[serde(default)]
    args: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct SlimStatus {
    #[serde(default)]
    phase: String,
    #[serde(default)]
    conditions: Vec<SlimCondition>,
    #[serde(default)]
    container_statuses: Vec<SlimContainerStatus>,
}

#[derive(Deserialize)]
struct SlimCondition {
    #[serde(rename = "type", default)]
    type_: String,
    #[serde(default)]
    status: String,
}

#[derive(Deserialize)]
struct SlimContainerStatus {
    #[serde(default)]
    state: BTreeMap<String, IgnoredAny>,
}

#[derive(Deserialize)]
struct SlimList {
    /// `null` in lists some tools write for "no items".
    #[serde(default)]
    items: Option<Vec<SlimPod>>,
}

/// What kind of infrastructure a pod is, from labels and image.
enum Role {
    Dns,
    MetricsServer,
    Autoscaler(AutoscalerKind),
    Ingress {
        implementation: &'static str,
        default_class: &'static str,
    },
}

fn label_is(labels: &BTreeMap<String, String>, keys: &[&str], values: &[&str]) -> bool {
    keys.iter()
        .filter_map(|k| labels.get(*k))
        .any(|v| values.contains(&v.as_str()))
}

fn role(pod: &SlimPod) -> Option<Role> {
    let l = &pod.metadata.labels;
    let names = ["app.kubernetes.io/name", "k8s-app", "app"];
    let image = |needle: &str| pod.spec.containers.iter().any(|c| c.image.contains(needle));
    if label_is(l, &["k8s-app"], &["kube-dns", "coredns"])
        || label_is(l, &["app.kubernetes.io/name"], &["coredns"])
    {
        return Some(Role::Dns);
    }
    if label_is(l, &names, &["metrics-server"]) || image("metrics-server") {
        return Some(Role::MetricsServer);
    }
    if label_is(l, &names, &["cluster-autoscaler", "aws-cluster-autoscaler"])
        || image("cluster-autoscaler")
    {
        return Some(Role::Autoscaler(AutoscalerKind::ClusterAutoscaler));
    }
    if label_is(l, &names, &["karpenter"]) || image("karpenter") {
        return Some(Role::Autoscaler(AutoscalerKind::Karpenter));
    }
    // Controller pods only: ingress-nginx charts also run admission jobs.
    let component_ok = l
        .get("app.kubernetes.io/component")
        .is_none_or(|c| c == "controller");
    if component_ok
        && (label_is(l, &names, &["ingress-nginx", "nginx-ingress"])
            || image("ingress-nginx/controller"))
    {
        return Some(Role::Ingress {
            implementation: "ingress-nginx",
            default_class: "k8s.io/ingress-nginx",
        });
    }
    if label_is(l, &names, &["traefik"]) || image("traefik") {
        return Some(Role::Ingress {
            implementation: "traefik",
            default_class: "traefik.io/ingress-controller",
        });
    }
    if label_is(l, &names, &["haproxy-ingress", "kubernetes-ingress"]) || image("haproxy") {
        return Some(Role::Ingress {
            implementation: "haproxy",
            default_class: "haproxy.org/ingress-controller/haproxy",
        });
    }
    if component_ok
        && (label_is(l, &names, &["kong", "ingress-kong"])
            || image("kong/kubernetes-ingress-controller"))
    {
        return Some(Role::Ingress {
            implementation: "kong",
            default_class: "ingress-controllers.konghq.com/kong",
        });
    }
    if label_is(l, &names, &["contour"]) || image("projectcontour/contour") {
        return Some(Role::Ingress {
            implementation: "contour",
            default_class: "projectcontour.io/ingress-controller",
        });
    }
    None
}

fn infra_pod(bundle: &Bundle, namespace: &str, pod: SlimPod) -> InfraPod {
    let running = !pod.status.container_statuses.is_empty()
        && pod
            .status
            .container_statuses
            .iter()
            .all(|c| c.state.contains_key("running"));
    let ready = kpm_semantics::pod::ready_in(
        pod.status
            .conditions
            .iter()
            .map(|c| (c.type_.as_str(), c.status.as_str())),
    );
    let log_files = bundle
        .pod_logs(namespace, &pod.metadata.name)
        .into_iter()
        .map(|(_, _, path)| path)
        .collect();
    InfraPod {
        object: ObjectRef::namespaced("Pod", namespace, &pod.metadata.name),
        labels: pod.metadata.labels,
        node: pod.spec.node_name,
        phase: pod.status.phase,
        running,
        ready,
        images: pod
            .spec
            .containers
            .iter()
            .map(|c| c.image.clone())
            .collect(),
        args: pod
            .spec
            .containers
            .into_iter()
            .flat_map(|c| c.command.into_iter().chain(c.args))
            .collect(),
        log_files,
    }
}

/// Every label value and image fragment [`role`] looks for contains one of
/// these, so a pods file without any of them holds no infrastructure pod.
const INFRA_MARKERS: &str = "kube-dns|coredns|metrics-server|cluster-autoscaler|karpenter|\
ingress-nginx|nginx-ingress|traefik|haproxy|kubernetes-ingress|kong|contour";

/// Whether a pods file could hold an infrastructure pod (a multi-literal
/// search, far cheaper than parsing the file).
fn mentions_infra(bytes: &[u8]) -> bool {
    static MARKERS: std::sync::OnceLock<Option<regex::bytes::Regex>> = std::sync::OnceLock::new();
    match MARKERS.get_or_init(|| regex::bytes::Regex::new(INFRA_MARKERS).ok()) {
        Some(re) => re.is_match(bytes),
        // Unreachable with the literal above; parsing everything is safe.
        None => true,
    }
}

/// One namespace's infrastructure pods.
fn infra_pods(bundle: &Bundle, ns: &str) -> Vec<(Role, InfraPod)> {
    let path = layout::namespaced_path(ns, "pods");
    // Damage of pods.json is reported when the namespace is loaded.
    let Ok(bytes) = bundle.read_bytes(&path) else {
        return Vec::new();
    };
    if !mentions_infra(&bytes) {
        return Vec::new();
    }
    // A bad pod costs that pod here too (it is damage when loaded).
    let pods = match serde_json::from_slice::<SlimList>(&bytes) {
        Ok(list) => list.items.unwrap_or_default(),
        Err(_) => serde_json::from_slice::<LenientList<SlimPod>>(&bytes)
            .map(|list| list.items)
            .unwrap_or_default(),
    };
    pods.into_iter()
        .filter_map(|pod| role(&pod).map(|r| (r, pod)))
        .map(|(r, pod)| (r, infra_pod(bundle, ns, pod)))
        .collect()
}

/// The cheap first pass: pods of every namespace parsed into a slim shape,
/// only infrastructure pods kept.
fn infra_pass(bundle: &Bundle) -> Infra {
    let mut infra = Infra::default();
    let namespaces = bundle.namespaces();
    // Every pods file is inflated here once more, so spread it over threads;
    // results come back in bundle order.
    let per_namespace = crate::par::map_ordered(&namespaces, |ns| infra_pods(bundle, ns));
    for pods in per_namespace {
        for (r, p) in pods {
            match r {
                Role::Dns => infra.dns_pods.push(p),
                Role::MetricsServer => infra.metrics_server_pods.push(p),
                Role::Autoscaler(k) => infra.autoscalers.push((k, p)),
                Role::Ingress {
                    implementation,
                    default_class,
                } => {
                    let controller_class = p
                        .flag("controller-class")
                        .unwrap_or(default_class)
                        .to_string();
                    let ingress_class = p.flag("ingress-class").map(str::to_string);
                    infra.ingress_controllers.push(IngressController {
                        pod: p,
                        implementation: implementation.to_string(),
                        controller_class: Some(controller_class),
                        ingress_class,
                    });
                }
            }
        }
    }
    infra.pod_metrics_available = bundle
        .entries()
        .any(|e| matches!(layout::classify(e), layout::Entry::PodMetrics { .. }));
    if !infra.pod_metrics_available {
        let why = bundle
            .manifest()
            .steps
            .iter()
            .find(|s| s.what == "metrics/pods" && s.outcome != Outcome::Ok)
            .map(|s| {
                let status = s.http_status.map(|c| format!(" ({c})")).unwrap_or_default();
                let msg = s
                    .message
                    .as_deref()
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default();
                format!(
                    "metrics API {}{status} during collection{msg}",
                    s.outcome.as_str()
                )
            })
            .unwrap_or_else(|| "no pod metrics in the bundle".to_string());
        infra.pod_metrics_problem = Some(why);
    }
    infra
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slim(v: serde_json::Value) -> SlimPod {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn recognises_infrastructure_pods() {
        let nginx = slim(serde_json::json!({
            "metadata": {"name": "ingress-nginx-controller-6gkrj6kqbm-2s6qj",
                "labels": {"app.kubernetes.io/name": "ingress-nginx", "app.kubernetes.io/component": "controller"}},
            "spec": {"containers": [{"name": "controller", "image": "registry.k8s.io/ingress-nginx/controller:v1.12.1",
                "args": ["/nginx-ingress-controller", "--election-id=ingress-nginx-leader",
                         "--controller-class=k8s.io/ingress-nginx", "--ingress-class=nginx"]}]},
            "status": {"phase": "Running"}
        }));
        assert!(matches!(
            role(&nginx),
            Some(Role::Ingress {
                implementation: "ingress-nginx",
                ..
            })
        ));
        let admission = slim(serde_json::json!({
            "metadata": {"name": "ingress-nginx-admission-create-x",
                "labels": {"app.kubernetes.io/name": "ingress-nginx", "app.kubernetes.io/component": "admission-webhook"}},
            "spec": {"containers": [{"name": "create", "image": "registry.k8s.io/ingress-nginx/kube-webhook-certgen:v1.5.2"}]}
        }));
        assert!(role(&admission).is_none());
        let dns = slim(
            serde_json::json!({"metadata": {"name": "coredns-668d6bf9bc-9x7tq", "labels": {"k8s-app": "kube-dns"}},
            "spec": {"containers": [{"name": "coredns", "image": "registry.k8s.io/coredns/coredns:v1.11.3"}]}}),
        );
        assert!(matches!(role(&dns), Some(Role::Dns)));
        let ms = slim(
            serde_json::json!({"metadata": {"name": "metrics-server-7f4db5c6b8-q2m4z", "labels": {"k8s-app": "metrics-server"}},
            "spec": {"containers": [{"name": "metrics-server", "image": "registry.k8s.io/metrics-server/metrics-server:v0.7.2"}]}}),
        );
        assert!(matches!(role(&ms), Some(Role::MetricsServer)));
        let app = slim(
            serde_json::json!({"metadata": {"name": "web-1", "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}),
        );
        assert!(
            role(&app).is_none(),
            "plain nginx is not an ingress controller"
        );
    }

    #[test]
    fn every_recognised_role_passes_the_marker_prefilter() {
        // One pod per way `role` recognises infrastructure: if the marker
        // list misses one, its namespace would be skipped unparsed.
        let pods = [
            serde_json::json!({"metadata": {"name": "a", "labels": {"k8s-app": "kube-dns"}}}),
            serde_json::json!({"metadata": {"name": "b", "labels": {"app.kubernetes.io/name": "coredns"}}}),
            serde_json::json!({"metadata": {"name": "c"}, "spec": {"containers": [{"image": "registry.k8s.io/metrics-server/metrics-server:v0.7.2"}]}}),
            serde_json::json!({"metadata": {"name": "d", "labels": {"app": "aws-cluster-autoscaler"}}}),
            serde_json::json!({"metadata": {"name": "e"}, "spec": {"containers": [{"image": "public.ecr.aws/karpenter/controller:1.1.1"}]}}),
            serde_json::json!({"metadata": {"name": "f", "labels": {"app": "nginx-ingress"}}}),
            serde_json::json!({"metadata": {"name": "g"}, "spec": {"containers": [{"image": "traefik:v3.2"}]}}),
            serde_json::json!({"metadata": {"name": "h", "labels": {"app.kubernetes.io/name": "kubernetes-ingress"}}}),
            serde_json::json!({"metadata": {"name": "i", "labels": {"app": "ingress-kong"}}}),
            serde_json::json!({"metadata": {"name": "j"}, "spec": {"containers": [{"image": "ghcr.io/projectcontour/contour:v1.30.0"}]}}),
        ];
        for pod in pods {
            let bytes = serde_json::to_vec(&serde_json::json!({"items": [pod.clone()]})).unwrap();
            assert!(role(&slim(pod.clone())).is_some(), "{pod}");
            assert!(mentions_infra(&bytes), "prefilter misses {pod}");
        }
        let app = br#"{"items":[{"metadata":{"name":"web-1","labels":{"app":"web"}},
            "spec":{"containers":[{"name":"web","image":"nginx:1.27"}]}}]}"#;
        assert!(!mentions_infra(app));
    }

    #[test]
    fn flags_are_read_in_both_spellings() {
        let p = InfraPod {
            object: ObjectRef::namespaced("Pod", "ingress-nginx", "c"),
            labels: BTreeMap::new(),
            node: None,
            phase: "Running".into(),
            running: true,
            ready: true,
            images: Vec::new(),
            args: vec![
                "--ingress-class".into(),
                "internal".into(),
                "--controller-class=example.com/internal".into(),
            ],
            log_files: Vec::new(),
        };
        assert_eq!(p.flag("ingress-class"), Some("internal"));
        assert_eq!(p.flag("controller-class"), Some("example.com/internal"));
        assert_eq!(p.flag("election-id"), None);
    }
}
