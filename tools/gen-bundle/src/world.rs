//! A scenario under construction: the cluster plus the bookkeeping real
//! controllers do (pod IPs per node, cluster IPs, Endpoints derived from
//! pods, metrics derived from usage).

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::builders::node::NodeId;
use crate::builders::pod::Placement;
use crate::builders::{meta, metrics, network};
use crate::cluster::Cluster;
use crate::ids;

/// Usage of one container: millicores and MiB.
pub type Usage = (u64, u64);

/// The cluster being built and the allocators that keep it consistent.
#[derive(Debug, Clone)]
pub struct World {
    /// The snapshot.
    pub cluster: Cluster,
    /// Worker nodes, in placement order.
    pub nodes: Vec<NodeId>,
    next_pod_ip: Vec<u32>,
    next_node: usize,
    /// Explicit usage per `ns/pod` and container, overriding the default
    /// derived from requests.
    pub usage: BTreeMap<String, Vec<(String, Usage)>>,
}

impl World {
    /// A world over these nodes (already added to the cluster by the caller).
    pub fn new(cluster: Cluster, nodes: Vec<NodeId>) -> World {
        let n = nodes.len();
        World {
            cluster,
            nodes,
            next_pod_ip: vec![100; n],
            next_node: 0,
            usage: BTreeMap::new(),
        }
    }

    /// Places a pod on node `index` (modulo the node count).
    pub fn place_on(&mut self, index: usize, scheduled_ago: i64) -> Placement {
        let i = if self.nodes.is_empty() {
            0
        } else {
            index % self.nodes.len()
        };
        let node = self
            .nodes
            .get(i)
            .cloned()
            .unwrap_or_else(|| NodeId::from_ip("10.0.1.10"));
        let slot = self.next_pod_ip.get(i).copied().unwrap_or(100);
        if let Some(s) = self.next_pod_ip.get_mut(i) {
            *s += 1;
        }
        let mut octets: Vec<u32> = node.ip.split('.').filter_map(|o| o.parse().ok()).collect();
        // Pod IPs come from the node's subnet (VPC CNI secondary addresses).
        if let Some(last) = octets.last_mut() {
            *last = slot % 250 + 3;
        }
        if let Some(third) = octets.get_mut(2) {
            *third += 64 + slot / 250;
        }
        let pod_ip = octets
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(".");
        Placement {
            node: node.name.clone(),
            host_ip: node.ip.clone(),
            pod_ip,
            scheduled_ago,
        }
    }

    /// Places a pod on the next node, round robin (the scheduler's spreading).
    pub fn place(&mut self, scheduled_ago: i64) -> Placement {
        let i = self.next_node;
        self.next_node += 1;
        self.place_on(i, scheduled_ago)
    }

    /// A cluster IP from the EKS service CIDR, fixed by `key`.
    pub fn cluster_ip(key: &str) -> String {
        let h = ids::hash(&format!("svc/{key}"));
        format!("172.20.{}.{}", 1 + (h >> 8) % 250, 1 + h % 250)
    }

    /// Sets the usage metrics-server reports for a pod's container.
    pub fn set_usage(&mut self, namespace: &str, pod: &str, container: &str, usage: Usage) {
        let entry = self.usage.entry(format!("{namespace}/{pod}")).or_default();
        entry.retain(|(c, _)| c != container);
        entry.push((container.to_string(), usage));
    }

    /// Completes the snapshot: Endpoints and EndpointSlices for every
    /// selector Service, PodMetrics for running pods, NodeMetrics for
    /// reachable nodes, the `kube-root-ca.crt` ConfigMap of every namespace
    /// and resourceVersions that follow the order of writes.
    pub fn finish(mut self) -> Cluster {
        let namespaces: Vec<String> = self.cluster.namespaces.keys().cloned().collect();
        let mut node_usage: BTreeMap<String, Usage> = BTreeMap::new();
        for ns in &namespaces {
            let pods = self.cluster.objects(ns, "pods").to_vec();
            let services = self.cluster.objects(ns, "services").to_vec();
            let have_ep: Vec<String> = self
                .cluster
                .objects(ns, "endpoints")
                .iter()
                .map(|e| meta::name_of(e).to_string())
                .collect();
            for svc in &services {
                let selected = svc["spec"]["selector"]
                    .as_object()
                    .is_some_and(|s| !s.is_empty());
                if !selected || have_ep.iter().any(|n| n == meta::name_of(svc)) {
                    continue;
                }
                let ep = network::endpoints(svc, &pods);
                let eps = network::endpoint_slice(svc, &pods);
                self.cluster.add(ep);
                self.cluster.add(eps);
            }
            let mut pod_metrics = Vec::new();
            for pod in &pods {
                if let Some((m, total)) = self.pod_usage(pod) {
                    let node = pod["spec"]["nodeName"].as_str().unwrap_or("").to_string();
                    let e = node_usage.entry(node).or_insert((0, 0));
                    e.0 += total.0;
                    e.1 += total.1;
                    pod_metrics.push(m);
                }
            }
            self.cluster.namespace(ns, 0).pod_metrics = pod_metrics;
        }
        let mut node_metrics = Vec::new();
        for node in self.cluster.cluster_list("nodes") {
            let ready = node["status"]["conditions"].as_array().is_some_and(|cs| {
                cs.iter()
                    .any(|c| c["type"] == "Ready" && c["status"] == "True")
            });
            if !ready {
                continue;
            }
            let name = meta::name_of(node);
            let (cpu, mem) = node_usage.get(name).copied().unwrap_or((0, 0));
            // System daemons and the kernel use some on top of pods.
            node_metrics.push(metrics::node_metrics(name, cpu + 180, mem + 1_450));
        }
        self.cluster.node_metrics = node_metrics;
        crate::revisions::publish_root_ca(&mut self.cluster);
        crate::revisions::assign(&mut self.cluster);
        self.cluster
    }

    fn pod_usage(&self, pod: &Value) -> Option<(Value, Usage)> {
        let running: Vec<&Value> = pod["status"]["containerStatuses"]
            .as_array()?
            .iter()
            .filter(|cs| cs["state"]["running"].is_object())
            .collect();
        if pod["status"]["phase"] != "Running" || running.is_empty() {
            return None;
        }
        let ns = meta::namespace_of(pod);
        let name = meta::name_of(pod);
        let overrides = self.usage.get(&format!("{ns}/{name}"));
        let mut per_container = Vec::new();
        let mut total = (0, 0);
        for cs in running {
            let cname = cs["name"].as_str().unwrap_or("");
            let spec = pod["spec"]["containers"]
                .as_array()
                .and_then(|cs| cs.iter().find(|c| c["name"] == cname))
                .cloned()
                .unwrap_or(json!({}));
            let usage = overrides
                .and_then(|o| o.iter().find(|(c, _)| c == cname).map(|(_, u)| *u))
                .unwrap_or_else(|| default_usage(&format!("{ns}/{name}/{cname}"), &spec));
            total.0 += usage.0;
            total.1 += usage.1;
            per_container.push((cname.to_string(), usage));
        }
        let refs: Vec<(&str, u64, u64)> = per_container
            .iter()
            .map(|(c, u)| (c.as_str(), u.0, u.1))
            .collect();
        Some((
            metrics::pod_metrics(ns, name, &pod["metadata"]["labels"], &refs),
            total,
        ))
    }
}

/// CPU requested on each node (millicores) by pods that hold resources
/// (bound and not Succeeded/Failed), the way the scheduler counts it; and
/// each node's allocatable CPU.
pub fn cpu_by_node(cluster: &Cluster) -> Vec<(String, u64, u64)> {
    let mut out = Vec::new();
    for node in cluster.cluster_list("nodes") {
        let name = meta::name_of(node);
        let allocatable = millis(&node["status"]["allocatable"]["cpu"]).unwrap_or(0);
        let requested: u64 = cluster
            .all_pods()
            .filter(|p| p["spec"]["nodeName"] == name)
            .filter(|p| p["status"]["phase"] != "Succeeded" && p["status"]["phase"] != "Failed")
            .flat_map(|p| {
                p["spec"]["containers"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .map(|c| {
                millis(&c["resources"]["requests"]["cpu"])
                    .or_else(|| millis(&c["resources"]["limits"]["cpu"]))
                    .unwrap_or(0)
            })
            .sum();
        out.push((name.to_string(), requested, allocatable));
    }
    out
}

/// Millicores of a CPU quantity as written in our specs (`250m`, `1`).
pub fn millis(q: &Value) -> Option<u64> {
    let s = q.as_str()?;
    match s.strip_suffix('m') {
        Some(m) => m.parse().ok(),
        None => s.parse::<f64>().ok().map(|c| (c * 1000.0) as u64),
    }
}

/// MiB of a memory quantity as written in our specs (`256Mi`, `1Gi`).
pub fn mebibytes(q: &Value) -> Option<u64> {
    let s = q.as_str()?;
    if let Some(m) = s.strip_suffix("Mi") {
        m.parse().ok()
    } else if let Some(g) = s.strip_suffix("Gi") {
        g.parse::<u64>().ok().map(|g| g * 1024)
    } else {
        None
    }
}

/// A calm container: 15–45 % of its CPU request and 40–70 % of its memory
/// limit (or request), so no usage rule fires by accident.
fn default_usage(key: &str, spec: &Value) -> Usage {
    let mut rng = ids::Rng::keyed(key);
    let res = &spec["resources"];
    let cpu_base = millis(&res["requests"]["cpu"])
        .or_else(|| millis(&res["limits"]["cpu"]))
        .unwrap_or(100);
    let mem_base = mebibytes(&res["limits"]["memory"])
        .or_else(|| mebibytes(&res["requests"]["memory"]))
        .unwrap_or(128);
    let cpu = cpu_base * (15 + rng.below(30)) / 100;
    let mem = mem_base * (40 + rng.below(30)) / 100;
    (cpu.max(1), mem.max(4))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_and_placement() {
        assert_eq!(millis(&json!("250m")), Some(250));
        assert_eq!(millis(&json!("2")), Some(2000));
        assert_eq!(mebibytes(&json!("1Gi")), Some(1024));
        let nodes = vec![NodeId::from_ip("10.0.1.17"), NodeId::from_ip("10.0.2.33")];
        let mut w = World::new(Cluster::new(), nodes);
        let a = w.place(100);
        let b = w.place(100);
        let c = w.place(100);
        assert_eq!(a.node, "ip-10-0-1-17.ec2.internal");
        assert_eq!(b.node, "ip-10-0-2-33.ec2.internal");
        assert_eq!(c.node, a.node);
        assert_ne!(a.pod_ip, c.pod_ip);
        assert!(a.pod_ip.starts_with("10.0.65."));
        let (cpu, mem) = default_usage(
            "k",
            &json!({"resources": {"requests": {"cpu": "100m"}, "limits": {"memory": "200Mi"}}}),
        );
        assert!((15..45).contains(&cpu));
        assert!((80..140).contains(&mem));
    }
}
