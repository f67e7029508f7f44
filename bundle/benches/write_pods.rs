//! Writing a large bundle streams: peak memory must not grow with the number
//! of objects. Each size is written twice: the pod lists alone, then what a
//! collector writes for a cluster of that many pods: the lists, one
//! container log per pod and one manifest step per log (streamed with
//! `finish_with_steps`). The second shows what stays in memory per zip
//! entry (the zip central directory and the manifest's file digests).
//! Prints wall time, bundle size and peak RSS (VmHWM) for each run.
//!
//! `cargo bench -p kpm-bundle --bench write_pods -- [PODS...]`
//! (default sizes 10000 and 100000). Each size runs in a fresh child process
//! so VmHWM is per size, not cumulative.

use std::time::Instant;

use kpm_bundle::manifest::{Collection, Tool};
use kpm_bundle::{BundleWriter, Manifest, Outcome, Step};
use serde_json::json;

fn pod(i: usize) -> serde_json::Value {
    let ns = format!("team-{}", i % 40);
    json!({
        "kind": "Pod", "apiVersion": "v1",
        "metadata": {
            "name": format!("web-7c9d8f6b5-{i:06}"), "namespace": ns,
            "uid": format!("5f0c6f2e-0000-4000-8000-{i:012}"), "resourceVersion": (100000 + i).to_string(),
            "creationTimestamp": "2026-11-20T09:14:03Z", "generateName": "web-7c9d8f6b5-",
            "labels": {"app": "web", "pod-template-hash": "7c9d8f6b5"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7c9d8f6b5", "uid": "0c1f", "controller": true, "blockOwnerDeletion": true}],
            "managedFields": [{"manager": "kube-controller-manager", "operation": "Update", "apiVersion": "v1", "time": "2026-11-20T09:14:03Z", "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {"f:generateName": {}, "f:labels": {".": {}, "f:app": {}}}}}]
        },
        "spec": {
            "containers": [{"name": "app", "image": "registry.example.com/shop/web:1.42.0", "ports": [{"containerPort": 8080, "name": "http", "protocol": "TCP"}],
                "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}},
                "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http", "scheme": "HTTP"}, "periodSeconds": 10, "timeoutSeconds": 1, "successThreshold": 1, "failureThreshold": 3},
                "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File", "imagePullPolicy": "IfNotPresent"}],
            "nodeName": format!("ip-10-0-{}-{}.ec2.internal", i % 250, i % 7), "restartPolicy": "Always", "schedulerName": "default-scheduler",
            "serviceAccountName": "default", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst"
        },
        "status": {
            "phase": "Running", "qosClass": "Burstable", "hostIP": "10.0.1.7", "podIP": format!("10.1.{}.{}", i / 250 % 250, i % 250), "startTime": "2026-11-20T09:14:03Z",
            "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2026-11-20T09:14:09Z"}],
            "containerStatuses": [{"name": "app", "ready": true, "started": true, "restartCount": 0, "image": "registry.example.com/shop/web:1.42.0",
                "imageID": "registry.example.com/shop/web@sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                "containerID": "containerd://4b825dc642cb6eb9a060e54bf8d69288fbee4904", "state": {"running": {"startedAt": "2026-11-20T09:14:05Z"}}}]
        }
    })
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn run(pods: usize, with_logs: bool) -> Result<(), Box<dyn std::error::Error>> {
    let logs = if with_logs { pods } else { 0 };
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("bench.zip");
    let start = Instant::now();
    let mut writer = BundleWriter::create_zip(&path, false)?;
    // One list per namespace, as the collector writes them.
    for ns in 0..40 {
        let mut list = writer.start_list(
            &format!("namespaces/team-{ns}/pods.json"),
            "PodList",
            "v1",
            Some("1"),
        )?;
        for i in (ns..pods).step_by(40) {
            list.push(&pod(i))?;
        }
        list.finish()?;
    }
    // A log per pod: what remains in memory per zip entry is what the zip
    // central directory and the manifest's file digests need.
    let log: String = (0..20)
        .map(|l| format!("2026-11-26T09:14:{l:02}.120Z INFO request served method=GET path=/api/v1/orders status=200 duration_ms={l}\n"))
        .collect();
    for i in 0..logs {
        writer.write_entry(
            &format!("logs/team-{}/web-7c9d8f6b5-{i:06}/app.log", i % 40),
            log.as_bytes(),
        )?;
    }
    let steps = (0..logs).map(|i| {
        let mut step = Step::new("logs", Outcome::Ok);
        step.namespace = Some(format!("team-{}", i % 40));
        step.object = Some(format!("web-7c9d8f6b5-{i:06}/app"));
        step.path = Some(format!("logs/team-{}/web-7c9d8f6b5-{i:06}/app.log", i % 40));
        step.items = 20;
        step
    });
    let now = chrono::Utc::now();
    let manifest = Manifest {
        format_version: 0,
        tool: Tool {
            name: "write_pods bench".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        collection: Collection {
            started_at: now,
            finished_at: now,
            interrupted: false,
            timed_out: false,
        },
        cluster: Default::default(),
        scope: Default::default(),
        options: Default::default(),
        steps: Vec::new(),
        redaction: Default::default(),
        files: Default::default(),
    };
    let out = writer.finish_with_steps(manifest, steps)?;
    let secs = start.elapsed().as_secs_f64();
    let size = std::fs::metadata(&out)?.len();
    println!(
        "write_pods pods={pods} logs={logs} time={secs:.2}s bundle={:.1}MiB peak_rss={:.1}MiB",
        size as f64 / 1048576.0,
        peak_rss_kib() as f64 / 1024.0
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let (Some(mode), [one]) = (std::env::var_os("KPM_BENCH_CHILD"), args.as_slice()) {
        let pods = one.parse()?;
        return run(pods, mode == "logs");
    }
    let mut sizes: Vec<usize> = args.iter().filter_map(|a| a.parse().ok()).collect();
    if sizes.is_empty() {
        sizes = vec![10_000, 100_000];
    }
    let exe = std::env::current_exe()?;
    for n in sizes {
        for mode in ["lists", "logs"] {
            let status = std::process::Command::new(&exe)
                .arg(n.to_string())
                .env("KPM_BENCH_CHILD", mode)
                .status()?;
            if !status.success() {
                return Err(format!("bench child for {n} pods ({mode}) failed: {status}").into());
            }
        }
    }
    Ok(())
}
