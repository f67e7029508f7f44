//! Recognising infrastructure pods (DNS, metrics-server, autoscalers,
//! ingress controllers) from labels and images, over a slim pod shape that
//! parses only the fields the recognition and the infra pass read.

use std::collections::BTreeMap;

use serde::de::IgnoredAny;
use serde::Deserialize;

use crate::context::AutoscalerKind;

#[derive(Deserialize)]
pub(super) struct SlimPod {
    #[serde(default)]
    pub(super) metadata: SlimMeta,
    #[serde(default)]
    pub(super) spec: SlimSpec,
    #[serde(default)]
    pub(super) status: SlimStatus,
}

#[derive(Deserialize, Default)]
pub(super) struct SlimMeta {
    #[serde(default)]
    pub(super) name: String,
    #[serde(default)]
    pub(super) labels: BTreeMap<String, String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(super) struct SlimSpec {
    #[serde(default)]
    pub(super) containers: Vec<SlimContainer>,
    #[serde(default)]
    pub(super) node_name: Option<String>,
    #[serde(default)]
    pub(super) host_network: bool,
}

#[derive(Deserialize, Default)]
pub(super) struct SlimContainer {
    #[serde(default)]
    pub(super) image: String,
    #[serde(default)]
    pub(super) command: Vec<String>,
    #[serde(default)]
    pub(super) args: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(super) struct SlimStatus {
    #[serde(default)]
    pub(super) phase: String,
    #[serde(default)]
    pub(super) conditions: Vec<SlimCondition>,
    #[serde(default)]
    pub(super) container_statuses: Vec<SlimContainerStatus>,
    #[serde(default, rename = "podIP")]
    pub(super) pod_ip: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct SlimCondition {
    #[serde(rename = "type", default)]
    pub(super) type_: String,
    #[serde(default)]
    pub(super) status: String,
}

#[derive(Deserialize)]
pub(super) struct SlimContainerStatus {
    #[serde(default)]
    pub(super) state: BTreeMap<String, IgnoredAny>,
}

#[derive(Deserialize)]
pub(super) struct SlimList {
    /// `null` in lists some tools write for "no items".
    #[serde(default)]
    pub(super) items: Option<Vec<SlimPod>>,
}

/// What kind of infrastructure a pod is, from labels and image.
pub(super) enum Role {
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

/// The infrastructure role of `pod`, or `None` for an ordinary workload.
pub(super) fn role(pod: &SlimPod) -> Option<Role> {
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
}
