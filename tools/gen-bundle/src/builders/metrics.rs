//! metrics.k8s.io/v1beta1 NodeMetrics and PodMetrics, as metrics-server
//! serves them (usage in `n` nanocores and `Ki`).

use serde_json::{json, Value};

use crate::ids;

/// Usage of a node in millicores and MiB.
pub fn node_metrics(node: &str, cpu_millis: u64, memory_mib: u64) -> Value {
    json!({
        "kind": "NodeMetrics",
        "apiVersion": "metrics.k8s.io/v1beta1",
        "metadata": {
            "name": node,
            "creationTimestamp": ids::ago(0),
            "labels": {"kubernetes.io/hostname": node, "kubernetes.io/os": "linux"},
        },
        "timestamp": ids::ago(9),
        "window": "20.042s",
        "usage": {"cpu": format!("{}n", cpu_millis * 1_000_000 + ids::hash(node) % 999_999), "memory": format!("{}Ki", memory_mib * 1024 + ids::hash(node) % 1000)},
    })
}

/// Usage of one pod: `(container, millicores, MiB)` per container.
pub fn pod_metrics(
    namespace: &str,
    pod: &str,
    labels: &Value,
    containers: &[(&str, u64, u64)],
) -> Value {
    json!({
        "kind": "PodMetrics",
        "apiVersion": "metrics.k8s.io/v1beta1",
        "metadata": {
            "name": pod,
            "namespace": namespace,
            "creationTimestamp": ids::ago(0),
            "labels": labels,
        },
        "timestamp": ids::ago(11),
        "window": "16.804s",
        "containers": containers.iter().map(|(name, cpu, mem)| json!({
            "name": name,
            "usage": {"cpu": format!("{}n", cpu * 1_000_000 + ids::hash(pod) % 999_999), "memory": format!("{}Ki", mem * 1024 + ids::hash(name) % 1000)},
        })).collect::<Vec<_>>(),
    })
}

/// A `NodeMetricsList` / `PodMetricsList`.
pub fn list(kind: &str, items: Vec<Value>) -> Value {
    json!({"kind": kind, "apiVersion": "metrics.k8s.io/v1beta1", "metadata": {}, "items": items})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_is_in_nanocores_and_kibibytes() {
        let m = pod_metrics(
            "shop",
            "api-1",
            &json!({"app": "api"}),
            &[("api", 120, 241)],
        );
        let mem = m["containers"][0]["usage"]["memory"].as_str().unwrap();
        let kib: u64 = mem.trim_end_matches("Ki").parse().unwrap();
        assert!((241 * 1024..242 * 1024).contains(&kib));
        let cpu = m["containers"][0]["usage"]["cpu"].as_str().unwrap();
        assert!(cpu.ends_with('n'));
        let n = node_metrics("n1", 900, 6000);
        assert_eq!(n["metadata"]["name"], "n1");
    }
}
