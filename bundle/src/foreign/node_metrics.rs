//! troubleshoot's `node-metrics/<node>.json` made into the
//! `metrics.k8s.io/v1beta1` lists a kpm bundle stores (what `kubectl top`
//! reads).
//!
//! troubleshoot's `nodeMetrics` collector saves each node's kubelet Summary
//! API (`/api/v1/nodes/<node>/proxy/stats/summary`, types in
//! `k8s.io/kubelet/pkg/apis/stats/v1alpha1`). metrics-server read the same
//! API before 0.6 and served, per node and per container, the CPU rate
//! `cpu.usageNanoCores` and the memory `memory.workingSetBytes`; that is
//! the mapping here. A pod's usage is its containers'; a container without
//! both figures is left out, and a pod without any such container too (as
//! metrics-server drops incomplete pods). The Summary's volumes, network and
//! filesystem figures have no place in the metrics API: the original file
//! is kept under `foreign/`.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Value};

/// `metrics.k8s.io/v1beta1`.
pub const API_VERSION: &str = "metrics.k8s.io/v1beta1";

#[derive(Deserialize)]
struct Summary {
    node: NodeStats,
    #[serde(default)]
    pods: Vec<PodStats>,
}

#[derive(Deserialize)]
struct NodeStats {
    #[serde(rename = "nodeName")]
    node_name: String,
    #[serde(default)]
    cpu: Option<CpuStats>,
    #[serde(default)]
    memory: Option<MemoryStats>,
}

#[derive(Deserialize)]
struct PodStats {
    #[serde(rename = "podRef")]
    pod_ref: PodRef,
    #[serde(default)]
    containers: Vec<ContainerStats>,
}

#[derive(Deserialize)]
struct PodRef {
    name: String,
    namespace: String,
}

#[derive(Deserialize)]
struct ContainerStats {
    name: String,
    #[serde(default)]
    cpu: Option<CpuStats>,
    #[serde(default)]
    memory: Option<MemoryStats>,
}

#[derive(Deserialize)]
struct CpuStats {
    #[serde(default)]
    time: Option<String>,
    #[serde(default, rename = "usageNanoCores")]
    usage_nano_cores: Option<u64>,
}

#[derive(Deserialize)]
struct MemoryStats {
    #[serde(default, rename = "workingSetBytes")]
    working_set_bytes: Option<u64>,
}

/// Node and pod metrics gathered from every `node-metrics/` file of a
/// capture, written once all were read.
#[derive(Debug, Default)]
pub struct Collected {
    /// `NodeMetrics` objects, one per node file.
    pub nodes: Vec<Value>,
    /// `PodMetrics` objects by namespace.
    pub pods: BTreeMap<String, Vec<Value>>,
}

impl Collected {
    /// Adds one node's Summary; the error says why the text is not one.
    pub fn add(&mut self, bytes: &[u8]) -> Result<(), String> {
        let summary: Summary = serde_json::from_slice(bytes)
            .map_err(|e| format!("not a kubelet stats summary: {e}"))?;
        let node = &summary.node;
        let mut usage = serde_json::Map::new();
        let cpu = node.cpu.as_ref();
        if let Some(n) = cpu.and_then(|c| c.usage_nano_cores) {
            usage.insert("cpu".into(), Value::String(cpu_quantity(n)));
        }
        if let Some(b) = node.memory.as_ref().and_then(|m| m.working_set_bytes) {
            usage.insert("memory".into(), Value::String(memory_quantity(b)));
        }
        let mut object = json!({
            "kind": "NodeMetrics",
            "apiVersion": API_VERSION,
            "metadata": {"name": node.node_name},
            "usage": usage,
        });
        if let Some(t) = cpu.and_then(|c| c.time.clone()) {
            object["timestamp"] = Value::String(t);
        }
        self.nodes.push(object);
        for pod in &summary.pods {
            if let Some(m) = pod_metrics(pod) {
                let ns = pod.pod_ref.namespace.clone();
                self.pods.entry(ns).or_default().push(m);
            }
        }
        Ok(())
    }
}

/// The `PodMetrics` of one pod, when any container has both figures.
fn pod_metrics(pod: &PodStats) -> Option<Value> {
    let mut time: Option<&str> = None;
    let containers: Vec<Value> = pod
        .containers
        .iter()
        .filter_map(|c| {
            let cpu = c.cpu.as_ref()?;
            let nanos = cpu.usage_nano_cores?;
            let bytes = c.memory.as_ref()?.working_set_bytes?;
            time = time.max(cpu.time.as_deref());
            Some(json!({
                "name": c.name,
                "usage": {"cpu": cpu_quantity(nanos), "memory": memory_quantity(bytes)},
            }))
        })
        .collect();
    if containers.is_empty() {
        return None;
    }
    let mut object = json!({
        "kind": "PodMetrics",
        "apiVersion": API_VERSION,
        "metadata": {"name": pod.pod_ref.name, "namespace": pod.pod_ref.namespace},
        "containers": containers,
    });
    if let Some(t) = time {
        object["timestamp"] = Value::String(t.to_string());
    }
    Some(object)
}

/// A CPU rate in nanocores as a canonical decimal quantity (`45418338n`,
/// `250m`, `2`), as metrics-server's `NewScaledQuantity(n, Nano)` prints.
pub fn cpu_quantity(nanos: u64) -> String {
    const SCALES: [(u64, &str); 4] = [
        (1_000_000_000, ""),
        (1_000_000, "m"),
        (1_000, "u"),
        (1, "n"),
    ];
    if nanos == 0 {
        return "0".to_string();
    }
    let (div, suffix) = SCALES
        .iter()
        .find(|(d, _)| nanos.is_multiple_of(*d))
        .copied()
        .unwrap_or((1, "n"));
    format!("{}{suffix}", nanos / div)
}

/// Bytes as a canonical binary quantity (`720428Ki`, `512Mi`, `1000`), as
/// metrics-server's `NewQuantity(bytes, BinarySI)` prints.
pub fn memory_quantity(bytes: u64) -> String {
    const SUFFIXES: [&str; 6] = ["Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];
    let mut value = bytes;
    let mut suffix = "";
    for s in SUFFIXES {
        if value == 0 || !value.is_multiple_of(1024) {
            break;
        }
        value /= 1024;
        suffix = s;
    }
    format!("{value}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_print_as_the_api_server_does() {
        assert_eq!(cpu_quantity(45_418_338), "45418338n");
        assert_eq!(cpu_quantity(250_000_000), "250m");
        assert_eq!(cpu_quantity(2_000_000_000), "2");
        assert_eq!(cpu_quantity(1_500), "1500n");
        assert_eq!(cpu_quantity(3_000), "3u");
        assert_eq!(cpu_quantity(0), "0");
        assert_eq!(memory_quantity(737_718_272), "720428Ki");
        assert_eq!(memory_quantity(512 << 20), "512Mi");
        assert_eq!(memory_quantity(1000), "1000");
        assert_eq!(memory_quantity(0), "0");
    }

    #[test]
    fn a_summary_gives_node_and_pod_metrics() {
        let summary = json!({
            "node": {"nodeName": "n1",
                     "cpu": {"time": "2025-04-11T19:05:32Z", "usageNanoCores": 101_759_954u64},
                     "memory": {"workingSetBytes": 1_222_766_592u64}},
            "pods": [
                {"podRef": {"name": "web", "namespace": "shop", "uid": "u"},
                 "containers": [
                    {"name": "app", "cpu": {"time": "2025-04-11T19:05:26Z", "usageNanoCores": 1_631_889u64},
                     "memory": {"workingSetBytes": 14_266_368u64}},
                    {"name": "no-memory", "cpu": {"usageNanoCores": 5u64}}
                 ]},
                {"podRef": {"name": "idle", "namespace": "shop"}, "containers": []}
            ]
        });
        let mut c = Collected::default();
        c.add(&serde_json::to_vec(&summary).unwrap()).unwrap();
        assert_eq!(c.nodes.len(), 1);
        assert_eq!(c.nodes[0]["metadata"]["name"], "n1");
        assert_eq!(c.nodes[0]["usage"]["cpu"], "101759954n");
        assert_eq!(c.nodes[0]["usage"]["memory"], "1194108Ki");
        assert_eq!(c.nodes[0]["timestamp"], "2025-04-11T19:05:32Z");
        let shop = &c.pods["shop"];
        assert_eq!(shop.len(), 1, "a pod without complete figures is left out");
        assert_eq!(shop[0]["metadata"]["name"], "web");
        assert_eq!(shop[0]["containers"].as_array().map(Vec::len), Some(1));
        assert_eq!(shop[0]["containers"][0]["usage"]["memory"], "13932Ki");
        assert!(c.add(b"{\"pods\": []}").is_err());
    }
}
