//! The cheap first pass: every namespace's pods file parsed into the slim
//! shape of [`super::role`], only infrastructure pods kept, plus whether the
//! bundle holds pod metrics at all.

use kpm_bundle::{layout, Bundle, LenientList, Outcome};
use kpm_model::ObjectRef;

use super::role::{role, Role, SlimList, SlimPod};
use crate::context::{Infra, InfraPod, IngressController, PodNetwork};

fn infra_pod(bundle: &Bundle, namespace: &str, pod: SlimPod) -> (InfraPod, PodNetwork) {
    let network = PodNetwork {
        ip: pod.status.pod_ip.as_deref().and_then(|ip| ip.parse().ok()),
        host_network: pod.spec.host_network,
    };
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
    let p = InfraPod {
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
    };
    (p, network)
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
fn infra_pods(bundle: &Bundle, ns: &str) -> Vec<(Role, (InfraPod, PodNetwork))> {
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
pub(super) fn infra_pass(bundle: &Bundle) -> Infra {
    let mut infra = Infra::default();
    let namespaces = bundle.namespaces();
    // Every pods file is inflated here once more, so spread it over threads;
    // results come back in bundle order.
    let per_namespace = crate::par::map_ordered(&namespaces, |ns| infra_pods(bundle, ns));
    for pods in per_namespace {
        for (r, (p, network)) in pods {
            infra.pod_network.insert(p.object.to_string(), network);
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
    use std::collections::BTreeMap;

    use super::*;

    fn slim(v: serde_json::Value) -> SlimPod {
        serde_json::from_value(v).unwrap()
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
