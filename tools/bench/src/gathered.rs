//! What a collection gathered, counted the same way for a kpm bundle and
//! for a `kubectl cluster-info dump --output-directory` tree, so "the
//! collector gathers strictly more" is checked, not claimed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{Context, Result};
use kpm_bundle::Bundle;
use serde::de::IgnoredAny;
use serde::Deserialize;

/// Objects per resource (`pods`, `endpoints`, `node-metrics` …), log files
/// and total files of one collection.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Gathered {
    /// Items per resource plural, summed over namespaces.
    pub objects: BTreeMap<String, usize>,
    /// Pods with at least one current log.
    pub pods_with_logs: usize,
    /// Current log files (one per container for kpm; one per pod for
    /// kubectl, which writes all containers of a pod to `logs.txt`).
    pub log_files: usize,
    /// Previous-instance logs (`--previous`); kubectl dump has none.
    pub previous_logs: usize,
    /// Every file written.
    pub files: usize,
    /// Bytes on disk (zip size for a bundle, sum of files for a dump).
    pub bytes: u64,
}

impl Gathered {
    /// Total objects over all resources.
    pub fn total_objects(&self) -> usize {
        self.objects.values().sum()
    }

    /// Objects of one resource, 0 when absent.
    pub fn count(&self, resource: &str) -> usize {
        self.objects.get(resource).copied().unwrap_or(0)
    }
}

#[derive(Deserialize)]
struct ItemCount {
    #[serde(default)]
    items: Vec<IgnoredAny>,
}

/// The resource a bundle entry holds, by the layout of `docs/bundle-format.md`.
fn bundle_resource(entry: &str) -> Option<String> {
    let parts: Vec<&str> = entry.split('/').collect();
    match parts.as_slice() {
        ["cluster", file] if *file != "version.json" => {
            file.strip_suffix(".json").map(str::to_string)
        }
        ["namespaces", _, file] => file.strip_suffix(".json").map(str::to_string),
        ["metrics", "nodes.json"] => Some("node-metrics".to_string()),
        ["metrics", "namespaces", _, "pods.json"] => Some("pod-metrics".to_string()),
        _ => None,
    }
}

/// Counts what a kpm bundle holds.
pub fn of_bundle(path: &Path) -> Result<Gathered> {
    let bundle =
        Bundle::open(path).with_context(|| format!("cannot open bundle {}", path.display()))?;
    let mut g = Gathered {
        bytes: std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
        ..Gathered::default()
    };
    let mut pods_with_logs = BTreeSet::new();
    for entry in bundle.entries() {
        g.files += 1;
        if let Some(resource) = bundle_resource(entry) {
            let list: ItemCount = bundle
                .read_json(entry)
                .with_context(|| format!("{}: {entry}", path.display()))?;
            *g.objects.entry(resource).or_default() += list.items.len();
        } else if let Some(rest) = entry.strip_prefix("logs/") {
            if entry.ends_with(".previous.log") {
                g.previous_logs += 1;
            } else if entry.ends_with(".log") {
                g.log_files += 1;
                if let Some((pod, _container)) = rest.rsplit_once('/') {
                    pods_with_logs.insert(pod.to_string());
                }
            }
        }
    }
    g.pods_with_logs = pods_with_logs.len();
    Ok(g)
}

/// Counts what `kubectl cluster-info dump --output-directory DIR` wrote:
/// `nodes.json`, `<ns>/{events,replicationcontrollers,services,daemonsets,
/// deployments,replicasets,pods}.json` and `<ns>/<pod>/logs.txt`.
pub fn of_dump(dir: &Path) -> Result<Gathered> {
    let mut g = Gathered::default();
    walk(dir, &mut g)?;
    Ok(g)
}

/// Whether a dump `logs.txt` holds any log line. kubectl writes the file
/// even when the log request failed: only its `==== START/END logs for
/// container …` markers and a `Request log error: …` line are then inside.
fn dump_log_has_lines(text: &str) -> bool {
    text.lines()
        .any(|l| !l.is_empty() && !l.starts_with("==== ") && !l.starts_with("Request log error"))
}

fn walk(dir: &Path, g: &mut Gathered) -> Result<()> {
    let read = std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))?;
    for entry in read {
        let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
        let path = entry.path();
        let ty = entry
            .file_type()
            .with_context(|| format!("cannot stat {}", path.display()))?;
        if ty.is_dir() {
            walk(&path, g)?;
            continue;
        }
        g.files += 1;
        g.bytes += entry.metadata().map(|m| m.len()).unwrap_or(0);
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == "logs.txt" {
            g.log_files += 1;
            let text =
                std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
            if dump_log_has_lines(&String::from_utf8_lossy(&text)) {
                g.pods_with_logs += 1;
            }
        } else if let Some(resource) = name.strip_suffix(".json") {
            let bytes =
                std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
            let list: ItemCount = serde_json::from_slice(&bytes)
                .with_context(|| format!("{} is not a List", path.display()))?;
            *g.objects.entry(resource.to_string()).or_default() += list.items.len();
        }
    }
    Ok(())
}

/// Resources the troubleshooting chain needs that `kubectl cluster-info
/// dump` never gathers.
pub const COLLECTOR_ONLY: &[&str] = &[
    "endpoints",
    "ingresses",
    "horizontalpodautoscalers",
    "node-metrics",
    "pod-metrics",
];

/// Why the collector does NOT gather strictly more than the dump; empty
/// when it does: at least as many objects of every resource the dump has
/// (and as many pods with logs), and something of every collector-only
/// resource and previous logs when the cluster has them (`expect_*`).
pub fn shortfalls(
    collector: &Gathered,
    dump: &Gathered,
    expect_previous_logs: bool,
) -> Vec<String> {
    let mut out = Vec::new();
    for (resource, &n) in &dump.objects {
        let c = collector.count(resource);
        if c < n {
            out.push(format!("{resource}: collector {c} < dump {n}"));
        }
    }
    if collector.pods_with_logs < dump.pods_with_logs {
        out.push(format!(
            "pods with logs: collector {} < dump {}",
            collector.pods_with_logs, dump.pods_with_logs
        ));
    }
    for resource in COLLECTOR_ONLY {
        if collector.count(resource) == 0 {
            out.push(format!("{resource}: collector gathered none"));
        }
    }
    if expect_previous_logs && collector.previous_logs == 0 {
        out.push("previous logs: collector gathered none".to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::manifest;
    use kpm_bundle::BundleWriter;
    use serde_json::json;

    fn tmp(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("kpm-bench-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn list(kind: &str, n: usize) -> serde_json::Value {
        let items: Vec<_> = (0..n)
            .map(|i| json!({"metadata": {"name": format!("obj-{i}")}}))
            .collect();
        json!({"kind": kind, "apiVersion": "v1", "metadata": {"resourceVersion": "88"}, "items": items})
    }

    #[test]
    fn bundle_paths_map_to_resources() {
        assert_eq!(
            bundle_resource("namespaces/shop/endpoints.json").as_deref(),
            Some("endpoints")
        );
        assert_eq!(
            bundle_resource("cluster/nodes.json").as_deref(),
            Some("nodes")
        );
        assert_eq!(bundle_resource("cluster/version.json"), None);
        assert_eq!(
            bundle_resource("metrics/nodes.json").as_deref(),
            Some("node-metrics")
        );
        assert_eq!(
            bundle_resource("metrics/namespaces/shop/pods.json").as_deref(),
            Some("pod-metrics")
        );
        assert_eq!(bundle_resource("derived/node-allocation.json"), None);
        assert_eq!(bundle_resource("logs/shop/web-0/app.log"), None);
        assert_eq!(bundle_resource("manifest.json"), None);
    }

    #[test]
    #[allow(
        clippy::too_many_lines,
        reason = "one fixture dump and its comparison, read top to bottom"
    )]
    fn compares_a_bundle_with_a_cluster_info_dump() {
        let dir = tmp("gathered");
        // A dump as kubectl writes it.
        let dump = dir.join("dump");
        std::fs::create_dir_all(dump.join("shop/web-0")).unwrap();
        std::fs::create_dir_all(dump.join("shop/web-1")).unwrap();
        std::fs::write(dump.join("nodes.json"), list("NodeList", 2).to_string()).unwrap();
        std::fs::write(dump.join("shop/pods.json"), list("PodList", 2).to_string()).unwrap();
        std::fs::write(
            dump.join("shop/services.json"),
            list("ServiceList", 1).to_string(),
        )
        .unwrap();
        std::fs::write(
            dump.join("shop/replicationcontrollers.json"),
            list("ReplicationControllerList", 0).to_string(),
        )
        .unwrap();
        std::fs::write(
            dump.join("shop/web-0/logs.txt"),
            "==== START logs for container app of pod shop/web-0 ====\nGET / 200\n==== END logs for container app of pod shop/web-0 ====\n",
        )
        .unwrap();
        std::fs::write(
            dump.join("shop/web-1/logs.txt"),
            "==== START logs for container app of pod shop/web-1 ====\nGET /healthz 200\n==== END logs for container app of pod shop/web-1 ====\n",
        )
        .unwrap();
        // A pod whose log request failed: kubectl still writes the file.
        std::fs::create_dir_all(dump.join("shop/web-2")).unwrap();
        std::fs::write(
            dump.join("shop/web-2/logs.txt"),
            "==== START logs for container app of pod shop/web-2 ====\nRequest log error: the server could not find the requested resource (get pods web-2)\n==== END logs for container app of pod shop/web-2 ====\n",
        )
        .unwrap();
        let d = of_dump(&dump).unwrap();
        assert_eq!(d.count("nodes"), 2);
        assert_eq!(d.count("pods"), 2);
        assert_eq!(d.total_objects(), 5);
        assert_eq!(d.log_files, 3);
        assert_eq!(d.pods_with_logs, 2, "the failed log request is not a log");
        assert_eq!(d.files, 7);

        // A bundle with the same plus what the chain needs.
        let zip = dir.join("b.zip");
        let mut w = BundleWriter::create_zip(&zip, true).unwrap();
        w.write_json("cluster/nodes.json", &list("NodeList", 2))
            .unwrap();
        w.write_json("cluster/version.json", &json!({"gitVersion": "v1.33.2"}))
            .unwrap();
        w.write_json("namespaces/shop/pods.json", &list("PodList", 2))
            .unwrap();
        w.write_json("namespaces/shop/services.json", &list("ServiceList", 1))
            .unwrap();
        w.write_json("namespaces/shop/endpoints.json", &list("EndpointsList", 1))
            .unwrap();
        w.write_json("namespaces/shop/ingresses.json", &list("IngressList", 1))
            .unwrap();
        w.write_json(
            "namespaces/shop/horizontalpodautoscalers.json",
            &list("HorizontalPodAutoscalerList", 1),
        )
        .unwrap();
        w.write_json("metrics/nodes.json", &list("NodeMetricsList", 2))
            .unwrap();
        w.write_json(
            "metrics/namespaces/shop/pods.json",
            &list("PodMetricsList", 2),
        )
        .unwrap();
        w.write_entry("logs/shop/web-0/app.log", b"GET / 200\n")
            .unwrap();
        w.write_entry("logs/shop/web-0/istio-proxy.log", b"ok\n")
            .unwrap();
        w.write_entry("logs/shop/web-1/app.log", b"GET / 200\n")
            .unwrap();
        w.write_entry(
            "logs/shop/web-1/app.previous.log",
            b"panic: runtime error\n",
        )
        .unwrap();
        w.finish(manifest()).unwrap();
        let b = of_bundle(&zip).unwrap();
        assert_eq!(b.count("endpoints"), 1);
        assert_eq!(b.count("pod-metrics"), 2);
        assert_eq!(b.log_files, 3);
        assert_eq!(b.pods_with_logs, 2);
        assert_eq!(b.previous_logs, 1);
        assert!(
            shortfalls(&b, &d, true).is_empty(),
            "{:?}",
            shortfalls(&b, &d, true)
        );

        // The reverse does not hold: the dump lacks everything the chain needs.
        let reverse = shortfalls(&d, &b, true);
        assert!(
            reverse.iter().any(|s| s.starts_with("endpoints")),
            "{reverse:?}"
        );
        assert!(
            reverse.iter().any(|s| s.starts_with("previous logs")),
            "{reverse:?}"
        );

        // Fewer pods than the dump is a shortfall.
        let mut fewer = b.clone();
        fewer.objects.insert("pods".into(), 1);
        assert_eq!(
            shortfalls(&fewer, &d, true),
            vec!["pods: collector 1 < dump 2".to_string()]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
