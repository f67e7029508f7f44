//! The benchmark bundles: generated once per (size, seed, failure rate) by
//! `gen-bundle scale` and cached, plus the counts that make timings
//! comparable across sizes (pods, objects, bytes).

use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{Context, Result};
use kpm_bundle::Bundle;
use serde::de::IgnoredAny;
use serde::Deserialize;

use crate::env::Env;
use crate::measure::{Measured, Probe};

/// Which generated bundle to benchmark.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    /// `small`, `medium` or `large` (passed to `gen-bundle scale --size`).
    pub size: String,
    /// Generator seed: the same seed gives the same bytes.
    pub seed: u64,
    /// Fraction of workloads the generator breaks.
    pub failure_rate: f64,
    /// `gen-bundle scale --perturb`: the same cluster an hour later with
    /// this fraction of apps changed (a diff's AFTER); 0 for none.
    pub perturb: f64,
}

impl Spec {
    /// File name in the cache; every generator input is in it so a cached
    /// bundle is never reused for different parameters.
    pub fn file_name(&self) -> String {
        let perturbed = if self.perturb > 0.0 {
            format!("-perturb{}", self.perturb)
        } else {
            String::new()
        };
        format!(
            "scale-{}-seed{}-fail{}{perturbed}.zip",
            self.size, self.seed, self.failure_rate
        )
    }

    /// Where the bundle is cached.
    pub fn path(&self, env: &Env) -> PathBuf {
        env.data_dir.join(self.file_name())
    }
}

/// A cached bundle, and what generating it cost when it was generated now.
#[derive(Debug, Clone)]
pub struct Generated {
    /// Path of the zip.
    pub path: PathBuf,
    /// `None` when it came from the cache.
    pub generation: Option<Measured>,
}

/// Returns the cached bundle for `spec`, generating it first when missing
/// or when `regenerate` is set. The generator writes to a temporary name
/// that is renamed at the end, so an interrupted run never leaves a
/// truncated bundle in the cache.
pub fn ensure(env: &Env, spec: &Spec, regenerate: bool) -> Result<Generated> {
    let path = spec.path(env);
    // A bundle cached before gen-bundle listed its injected failures is
    // regenerated, so the recall check always has its list.
    let listed = crate::injected::injected_path(&path).is_file();
    if path.is_file() && listed && !regenerate {
        return Ok(Generated {
            path,
            generation: None,
        });
    }
    let partial = env.data_dir.join(format!("partial-{}", spec.file_name()));
    let _ = std::fs::remove_file(&partial);
    let mut probe = Probe::new(env.bin("gen-bundle")?, "gen-bundle scale")?;
    probe
        .cmd()
        .arg("scale")
        .args(["--size", &spec.size])
        .args(["--seed", &spec.seed.to_string()])
        .args(["--failure-rate", &spec.failure_rate.to_string()])
        .args(["--perturb", &spec.perturb.to_string()])
        .arg("--out")
        .arg(&partial)
        .stdout(Stdio::null());
    let log = env.data_dir.join(format!("gen-{}.stderr", spec.size));
    eprintln!("generating {} …", path.display());
    let m = probe.run_ok(&log)?;
    std::fs::rename(&partial, &path)
        .with_context(|| format!("cannot move {} to {}", partial.display(), path.display()))?;
    let (from, to) = (
        crate::injected::injected_path(&partial),
        crate::injected::injected_path(&path),
    );
    std::fs::rename(&from, &to)
        .with_context(|| format!("cannot move {} to {}", from.display(), to.display()))?;
    Ok(Generated {
        path,
        generation: Some(m),
    })
}

/// Sizes of a bundle that timings are divided by.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    /// Size of the zip on disk.
    pub zip_bytes: u64,
    /// Files in the bundle.
    pub entries: usize,
    /// JSON files.
    pub json_entries: usize,
    /// Uncompressed bytes of JSON files, as the manifest records them.
    pub json_bytes: u64,
    /// Log files (current and previous).
    pub log_files: usize,
    /// Pods over all namespaces.
    pub pods: usize,
    /// Nodes.
    pub nodes: usize,
    /// Namespaces with files.
    pub namespaces: usize,
    /// A node name for `kubectl describe node`.
    pub first_node: Option<String>,
}

/// Counts a list's items without building them.
#[derive(Deserialize)]
struct ItemCount {
    #[serde(default)]
    items: Vec<IgnoredAny>,
}

/// Reads only node names.
#[derive(Deserialize)]
struct NamesOnly {
    #[serde(default)]
    items: Vec<Named>,
}

#[derive(Deserialize)]
struct Named {
    #[serde(default)]
    metadata: NameMeta,
}

#[derive(Deserialize, Default)]
struct NameMeta {
    #[serde(default)]
    name: String,
}

/// Computes [`Stats`] of the bundle at `path`.
pub fn stats(path: &Path) -> Result<Stats> {
    let bundle =
        Bundle::open(path).with_context(|| format!("cannot open bundle {}", path.display()))?;
    let sizes = bundle.recorded_sizes();
    let mut s = Stats {
        zip_bytes: std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
        namespaces: bundle.namespaces().len(),
        ..Stats::default()
    };
    for entry in bundle.entries() {
        s.entries += 1;
        if entry.ends_with(".json") {
            s.json_entries += 1;
            s.json_bytes += sizes.get(entry).copied().unwrap_or(0);
        } else if entry.ends_with(".log") {
            s.log_files += 1;
        }
        if entry.starts_with("namespaces/") && entry.ends_with("/pods.json") {
            let list: ItemCount = bundle
                .read_json(entry)
                .with_context(|| format!("{}: {entry}", path.display()))?;
            s.pods += list.items.len();
        }
    }
    if bundle.contains("cluster/nodes.json") {
        let nodes: NamesOnly = bundle
            .read_json("cluster/nodes.json")
            .with_context(|| format!("{}: cluster/nodes.json", path.display()))?;
        s.nodes = nodes.items.len();
        s.first_node = nodes
            .items
            .into_iter()
            .map(|n| n.metadata.name)
            .find(|n| !n.is_empty());
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::manifest;
    use kpm_bundle::BundleWriter;
    use serde_json::json;

    fn pod(ns: &str, name: &str) -> serde_json::Value {
        json!({"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": name, "namespace": ns, "uid": format!("uid-{name}")},
               "spec": {"nodeName": "ip-10-0-1-17.ec2.internal", "containers": [{"name": "app", "image": "nginx:1.27"}]},
               "status": {"phase": "Running"}})
    }

    #[test]
    fn counts_pods_nodes_and_files() {
        let dir = std::env::temp_dir().join(format!("kpm-bench-data-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let zip = dir.join("b.zip");
        let mut w = BundleWriter::create_zip(&zip, true).unwrap();
        let list = |items: Vec<serde_json::Value>, kind: &str| json!({"apiVersion": "v1", "kind": kind, "metadata": {"resourceVersion": "4711"}, "items": items});
        w.write_json(
            "cluster/nodes.json",
            &list(
                vec![
                    json!({"metadata": {"name": "ip-10-0-1-17.ec2.internal"}}),
                    json!({"metadata": {"name": "ip-10-0-2-9.ec2.internal"}}),
                ],
                "NodeList",
            ),
        )
        .unwrap();
        w.write_json(
            "namespaces/shop/pods.json",
            &list(
                vec![
                    pod("shop", "web-7d4b9c6f5-x2x7q"),
                    pod("shop", "web-7d4b9c6f5-9kq2m"),
                ],
                "PodList",
            ),
        )
        .unwrap();
        w.write_json(
            "namespaces/payments/pods.json",
            &list(vec![pod("payments", "api-0")], "PodList"),
        )
        .unwrap();
        w.write_json(
            "namespaces/payments/services.json",
            &list(vec![], "ServiceList"),
        )
        .unwrap();
        w.write_entry("logs/shop/web-7d4b9c6f5-x2x7q/app.log", b"GET / 200\n")
            .unwrap();
        w.write_entry(
            "logs/shop/web-7d4b9c6f5-x2x7q/app.previous.log",
            b"panic: boom\n",
        )
        .unwrap();
        w.finish(manifest()).unwrap();

        let s = stats(&zip).unwrap();
        assert_eq!(s.pods, 3);
        assert_eq!(s.nodes, 2);
        assert_eq!(s.first_node.as_deref(), Some("ip-10-0-1-17.ec2.internal"));
        assert_eq!(s.namespaces, 2);
        assert_eq!(s.log_files, 2);
        // four lists plus the manifest
        assert_eq!(s.json_entries, 5);
        assert_eq!(s.entries, 7);
        assert!(s.json_bytes > 0 && s.zip_bytes > 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn cache_name_has_every_generator_input() {
        let a = Spec {
            size: "large".into(),
            seed: 7,
            failure_rate: 0.05,
            perturb: 0.0,
        };
        let b = Spec {
            seed: 8,
            ..a.clone()
        };
        let c = Spec {
            failure_rate: 0.1,
            ..a.clone()
        };
        assert_ne!(a.file_name(), b.file_name());
        assert_ne!(a.file_name(), c.file_name());
        let d = Spec {
            perturb: 0.03,
            ..a.clone()
        };
        assert_ne!(a.file_name(), d.file_name());
        assert!(a.file_name().contains("large"));
    }
}
