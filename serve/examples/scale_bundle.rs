//! Writes a large synthetic bundle to try `serve` at scale:
//! `cargo run -p kpm-serve --example scale_bundle -- OUT.zip PODS NODES NAMESPACES`.
use kpm_bundle::{layout, BundleWriter};
use serde_json::json;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let out = args.get(1).cloned().unwrap_or_else(|| "/tmp/scale.zip".into());
    let pods: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(150_000);
    let nodes: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1500);
    let namespaces: usize = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(300);
    let mut w = BundleWriter::create_zip(&out, true)?;
    let mut nl = w.start_list("cluster/nodes.json", "NodeList", "v1", Some("1000"))?;
    for n in 0..nodes {
        nl.push(&json!({"metadata": {"name": format!("node-{n:05}"), "creationTimestamp": "2025-01-01T00:00:00Z", "labels": {"kubernetes.io/hostname": format!("node-{n:05}")}},
            "status": {"allocatable": {"cpu": "16", "memory": "64Gi", "pods": "110"}, "capacity": {"cpu": "16", "memory": "64Gi", "pods": "110"},
                       "conditions": [{"type": "Ready", "status": "True"}], "nodeInfo": {"kubeletVersion": "v1.33.2"},
                       "addresses": [{"type": "InternalIP", "address": format!("10.1.{}.{}", n / 250, n % 250)}]}}))?;
    }
    nl.finish()?;
    let mut nsl = w.start_list("cluster/namespaces.json", "NamespaceList", "v1", Some("1000"))?;
    for ns in 0..namespaces {
        nsl.push(&json!({"metadata": {"name": format!("ns-{ns:04}"), "creationTimestamp": "2025-01-01T00:00:00Z"}, "status": {"phase": "Active"}}))?;
    }
    nsl.finish()?;
    let per_ns = pods.div_ceil(namespaces);
    let mut i = 0;
    for ns in 0..namespaces {
        let name = format!("ns-{ns:04}");
        let mut pl = w.start_list(&layout::namespaced_path(&name, "pods"), "PodList", "v1", Some("2000"))?;
        for _ in 0..per_ns {
            if i >= pods {
                break;
            }
            let node = format!("node-{:05}", i % nodes);
            pl.push(&json!({
                "metadata": {"name": format!("app-{i:07}-x7k2p"), "namespace": name, "uid": format!("uid-{i}"), "creationTimestamp": "2025-02-01T00:00:00Z",
                             "labels": {"app": format!("app-{}", i % 50), "pod-template-hash": "7c9d8f"}},
                "spec": {"nodeName": node, "containers": [{"name": "app", "image": "registry.example.com/app:1.0", "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}}}]},
                "status": {"phase": "Running", "podIP": format!("10.2.{}.{}", (i / 250) % 250, i % 250), "qosClass": "Burstable",
                           "conditions": [{"type": "Ready", "status": "True"}],
                           "containerStatuses": [{"name": "app", "ready": true, "restartCount": 0, "image": "registry.example.com/app:1.0", "imageID": "", "state": {"running": {"startedAt": "2025-02-01T00:00:10Z"}}}]}
            }))?;
            i += 1;
        }
        pl.finish()?;
        let ev = w.start_list(&layout::namespaced_path(&name, "events"), "EventList", "v1", Some("2000"))?;
        ev.finish()?;
    }
    let epoch: chrono::DateTime<chrono::Utc> = "2025-03-01T12:00:00Z".parse()?;
    w.finish(kpm_bundle::Manifest {
        format_version: 1,
        tool: kpm_bundle::manifest::Tool { name: "scale_bundle".into(), version: "0".into() },
        collection: kpm_bundle::manifest::Collection { started_at: epoch, finished_at: epoch, interrupted: false, timed_out: false },
        cluster: Default::default(),
        scope: Default::default(),
        options: Default::default(),
        steps: vec![],
        redaction: Default::default(),
        files: Default::default(),
    })?;
    println!("wrote {out}: {i} pods");
    Ok(())
}
