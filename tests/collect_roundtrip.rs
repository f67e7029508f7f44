//! Round trip: serve a testdata bundle as a Kubernetes API, collect it with
//! `kpm-collect`, and check the new bundle holds the same objects and logs.

use crate::support::collect::*;
use kpm_bundle::layout::{classify, Entry};
use kpm_bundle::Outcome;

#[allow(
    clippy::too_many_lines,
    reason = "one end-to-end scenario read top to bottom"
)]
fn round_trip(scenario: &str) {
    let src = kpm_e2e::testdata().join(scenario);
    let served_bundle = open_verified(&src);
    // Tiny pages so every list crosses page boundaries.
    let served = serve(&src, Knobs::page_size(2));
    let out = served.dir.path().join("out.zip");
    let stderr = collect_ok(&served, &out, &["--page-size", "3"]);
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with(&format!("{}: ", out.display()))
            && last.ends_with(" — analyse it with kpm-analyze"),
        "the summary does not end with the bundle line:\n{stderr}"
    );
    eprintln!("kpm-collect stderr:\n{stderr}");

    let got = open_verified(&out);
    let m = got.manifest();
    assert_eq!(m.tool.name, "kpm-collect");
    assert!(m.scope.all_namespaces);
    assert!(!m.collection.interrupted && !m.collection.timed_out);
    assert_eq!(
        m.cluster.server_version,
        served_bundle.manifest().cluster.server_version
    );
    // The only acceptable failures: logs the served snapshot itself lacks
    // (serve answers 404 for them, as the API does for a vanished pod).
    let failed: Vec<_> = m
        .failed_steps()
        .filter(|s| {
            let snapshot_lacks_log = s.what.starts_with("logs")
                && s.outcome == Outcome::NotFound
                && s.namespace
                    .as_deref()
                    .zip(s.object.as_deref())
                    .is_some_and(|(ns, obj)| {
                        let (pod, container) = obj.split_once('/').unwrap_or((obj, ""));
                        !served_bundle.contains(&kpm_bundle::layout::log_path(
                            ns,
                            pod,
                            container,
                            s.what == "logs/previous",
                        ))
                    });
            !snapshot_lacks_log
        })
        .collect();
    assert!(failed.is_empty(), "failed steps: {failed:#?}");

    // Every list and log of the served bundle is back, nothing invented.
    let want = data_entries(&served_bundle);
    let have = data_entries(&got);
    let missing: Vec<_> = want.iter().filter(|p| !have.contains(p)).collect();
    assert!(
        missing.is_empty(),
        "missing from the collected bundle: {missing:?}"
    );

    for path in &want {
        match classify(path) {
            Entry::ClusterList(_)
            | Entry::NamespacedList { .. }
            | Entry::NodeMetrics
            | Entry::PodMetrics { .. } => {
                let a = items(&served_bundle, path);
                let b = items(&got, path);
                assert_eq!(names(&a), names(&b), "{path}: different objects");
                for item in &b {
                    assert!(
                        item.get("kind").is_some() && item.get("apiVersion").is_some(),
                        "{path}: item without kind"
                    );
                }
            }
            Entry::Log { .. } => {
                let a = served_bundle.read_string(path).unwrap_or_default();
                let b = got.read_string(path).unwrap_or_default();
                let lines = a.lines().count();
                if lines <= 500 && a.len() <= 256 * 1024 && !b.contains("[REDACTED") {
                    assert_eq!(a, b, "{path}: log differs");
                } else {
                    assert!(
                        b.lines().count() <= 500 && b.len() <= 256 * 1024,
                        "{path}: log not bounded"
                    );
                }
            }
            _ => {}
        }
    }

    // Secrets keep their key names, never values.
    for path in want.iter().filter(|p| p.ends_with("/secrets.json")) {
        for s in items(&got, path) {
            if let Some(data) = s.get("data").and_then(|d| d.as_object()) {
                assert!(data.values().all(|v| v == ""), "{path}: secret value kept");
            }
        }
    }

    // Node allocation was derived from the collected nodes and pods.
    let alloc = step(m, "node-allocation", None);
    assert_eq!(alloc.outcome, Outcome::Ok);
    let nodes = items(&got, "cluster/nodes.json").len();
    let derived: serde_json::Value = got.read_json("derived/node-allocation.json").unwrap();
    assert_eq!(derived["nodes"].as_array().map(Vec::len), Some(nodes));
}

#[test]
fn crashloop_round_trip() {
    round_trip("crashloop");
}

#[test]
fn healthy_round_trip() {
    round_trip("healthy");
}

/// The #18 kinds: Jobs with failed pods, CronJobs, and every new list
/// (empty ones included) come back through serve and the collector, and
/// the analysis finds the same Job and CronJob findings.
#[test]
fn job_failures_round_trip() {
    round_trip("job-failures");
    let src = kpm_e2e::testdata().join("job-failures");
    let served = serve(&src, Knobs::default());
    let out = served.dir.path().join("jobs.zip");
    collect_ok(&served, &out, &[]);
    let want = finding_keys(&src);
    assert!(
        want.iter().any(|k| k.contains("cronjob-failing")),
        "{want:?}"
    );
    assert_eq!(finding_keys(&out), want);
}

/// Rollouts: both ReplicaSets of each Deployment with their revision
/// annotations and templates, the pods of both, and the Deployments'
/// conditions survive serve and the collector, so the analysis of the
/// collected bundle finds the same rollout findings.
#[test]
fn rollout_stuck_round_trip() {
    round_trip("rollout-stuck");
    let src = kpm_e2e::testdata().join("rollout-stuck");
    let served = serve(&src, Knobs::default());
    let out = served.dir.path().join("rollouts.zip");
    collect_ok(&served, &out, &[]);
    let want = finding_keys(&src);
    for rule in ["rollout-failing", "rollout-blocked", "rollout-paused"] {
        assert!(want.iter().any(|k| k.contains(rule)), "{rule}: {want:?}");
    }
    assert_eq!(finding_keys(&out), want);
}

/// NetworkPolicies, Namespace labels and the controller's pod IPs and
/// logs come back through serve and the collector: the same policy
/// findings, linked to the same controller log findings.
#[test]
fn netpol_isolated_round_trip() {
    round_trip("netpol-isolated");
    let src = kpm_e2e::testdata().join("netpol-isolated");
    let served = serve(&src, Knobs::default());
    let out = served.dir.path().join("netpol.zip");
    collect_ok(&served, &out, &[]);
    let want = finding_keys(&src);
    assert!(
        want.iter().any(|k| k.contains("netpol-blocks-ingress")),
        "{want:?}"
    );
    assert_eq!(finding_keys(&out), want);
}

/// create-blocked served and collected: the webhook configuration, the
/// quota and the webhook's backend Endpoints come back, so the analysis
/// finds the same admission findings with the same causes (the webhook's
/// crashing pod → its Service → the refused ReplicaSet → payments-api).
#[test]
fn create_blocked_round_trip() {
    round_trip("create-blocked");
    let want = served_and_collected_links("create-blocked");
    assert!(
        want.iter()
            .any(|k| k.starts_with("admission-webhook-unreachable:")
                && k.contains("<- service-no-ready-endpoints:Service/policy-guard/policy-guard")),
        "{want:?}"
    );
    assert!(
        want.iter()
            .any(|k| k.starts_with("admission-quota-exceeded:")),
        "{want:?}"
    );
}

/// create-refused served and collected: the namespace's Pod Security label,
/// the LimitRange and the webhook configuration come back, so the same
/// admission findings do.
#[test]
fn create_refused_round_trip() {
    let want = served_and_collected_links("create-refused");
    for rule in [
        "admission-pod-security:",
        "admission-limit-range:",
        "admission-service-account-missing:",
        "admission-webhook-denied:",
    ] {
        assert!(want.iter().any(|k| k.starts_with(rule)), "{rule} {want:?}");
    }
}

/// The finding links of `scenario`, asserted equal to those of its bundle
/// served and collected with default flags.
fn served_and_collected_links(scenario: &str) -> std::collections::BTreeSet<String> {
    let src = kpm_e2e::testdata().join(scenario);
    let served = serve(&src, Knobs::default());
    let out = served.dir.path().join("admission.zip");
    collect_ok(&served, &out, &[]);
    let want = finding_links(&src);
    assert_eq!(finding_links(&out), want);
    want
}

/// `<id> <- <causes>` of every finding of the analysis of `bundle`.
fn finding_links(bundle: &std::path::Path) -> std::collections::BTreeSet<String> {
    let out = std::process::Command::new(kpm_e2e::bin("kpm-analyze"))
        .arg(bundle)
        .output()
        .expect("kpm-analyze runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            let causes: Vec<&str> = f["caused_by"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| c.as_str())
                .collect();
            format!(
                "{} <- {}",
                f["id"].as_str().unwrap_or_default(),
                causes.join(",")
            )
        })
        .collect()
}

#[test]
#[allow(
    clippy::too_many_lines,
    reason = "one end-to-end scenario read top to bottom"
)]
fn namespace_scope_keeps_cluster_context_and_infra_pods() {
    let src = kpm_e2e::testdata().join("crashloop");
    let source = open_verified(&src);
    let served = serve(&src, Knobs::default());
    let out = served.dir.path().join("scoped.zip");
    collect_ok(&served, &out, &["-n", "shop"]);
    let got = open_verified(&out);
    let m = got.manifest();
    assert!(!m.scope.all_namespaces);
    assert_eq!(m.scope.namespaces, ["shop"]);
    assert!(got.contains("cluster/nodes.json") && got.contains("derived/node-allocation.json"));
    assert!(got.contains("namespaces/shop/services.json"));
    assert!(
        !got.contains("namespaces/default/services.json"),
        "out-of-scope namespace collected"
    );
    // Infrastructure pods outside the scope come along, and only those:
    // the ingress controller, CoreDNS and metrics-server, not kube-proxy.
    let labelled = |ns: &str, key: &str, value: &str| -> Vec<serde_json::Value> {
        items(&source, &format!("namespaces/{ns}/pods.json"))
            .into_iter()
            .filter(|p| {
                p.pointer(&format!("/metadata/labels/{}", key.replace('/', "~1")))
                    .and_then(|v| v.as_str())
                    == Some(value)
            })
            .collect()
    };
    let controllers = labelled("ingress-nginx", "app.kubernetes.io/name", "ingress-nginx");
    assert!(!controllers.is_empty(), "fixture has no ingress controller");
    assert_eq!(
        names(&items(&got, "namespaces/ingress-nginx/pods.json")),
        names(&controllers)
    );
    let s = step(m, "pods", Some("ingress-nginx"));
    assert!(
        s.message
            .as_deref()
            .unwrap_or("")
            .contains("infrastructure pods only"),
        "{s:?}"
    );
    let mut system = labelled("kube-system", "k8s-app", "kube-dns");
    system.extend(labelled("kube-system", "k8s-app", "metrics-server"));
    assert!(!system.is_empty(), "fixture has no DNS/metrics-server pods");
    assert_eq!(
        names(&items(&got, "namespaces/kube-system/pods.json")),
        names(&system)
    );
    assert!(!got.contains("namespaces/kube-system/services.json"));
    // Controller logs come along too.
    assert!(
        got.entries().any(|e| e.starts_with("logs/ingress-nginx/"))
            || !source
                .entries()
                .any(|e| e.starts_with("logs/ingress-nginx/"))
    );

    // Allocation counts the non-terminated pods of every namespace, not just
    // the scope.
    let mut expected: std::collections::BTreeMap<String, u64> = Default::default();
    for ns in source.namespaces() {
        let file = format!("namespaces/{ns}/pods.json");
        if !source.contains(&file) {
            continue;
        }
        for p in items(&source, &file) {
            let node = p
                .pointer("/spec/nodeName")
                .and_then(|v| v.as_str())
                .unwrap_or("");
            let phase = p
                .pointer("/status/phase")
                .and_then(|v| v.as_str())
                .unwrap_or("");
            if !node.is_empty() && phase != "Succeeded" && phase != "Failed" {
                *expected.entry(node.to_string()).or_default() += 1;
            }
        }
    }
    let derived: serde_json::Value = got.read_json("derived/node-allocation.json").unwrap();
    let mut counted: std::collections::BTreeMap<String, u64> = Default::default();
    for n in derived["nodes"].as_array().unwrap() {
        let c = n["nonTerminatedPods"].as_u64().unwrap_or(0);
        if c > 0 {
            counted.insert(n["node"].as_str().unwrap_or("").to_string(), c);
        }
    }
    assert!(!expected.is_empty());
    assert_eq!(counted, expected);
}

/// `(rule, object)` of every finding of `kpm-analyze bundle` (JSON report).
fn finding_keys(bundle: &std::path::Path) -> std::collections::BTreeSet<String> {
    let out = std::process::Command::new(kpm_e2e::bin("kpm-analyze"))
        .arg(bundle)
        .output()
        .expect("kpm-analyze runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| format!("{} {}", f["rule"], f["object"]))
        .collect()
}

/// Privacy by default keeps the analysis whole: every scenario collected
/// with default flags holds no ConfigMap value (each is "" with a digest)
/// and its analysis finds everything the scenario's own analysis finds.
#[test]
fn default_collection_of_every_scenario_hides_configmap_values_and_keeps_findings() {
    let scenarios = kpm_e2e::scenarios();
    assert!(!scenarios.is_empty(), "no testdata scenarios");
    for src in scenarios {
        let served = serve(&src, Knobs::default());
        let out = served.dir.path().join("default.zip");
        collect_ok(&served, &out, &[]);
        let got = open_verified(&out);
        for path in data_entries(&got)
            .iter()
            .filter(|p| p.ends_with("/configmaps.json"))
        {
            for cm in items(&got, path) {
                for field in ["data", "binaryData"] {
                    if let Some(map) = cm.get(field).and_then(|d| d.as_object()) {
                        assert!(
                            map.values().all(|v| v == ""),
                            "{}: {path}: a ConfigMap value was kept",
                            src.display()
                        );
                        let digests = cm["metadata"]["annotations"]["kpm.dev/value-digests"]
                            .as_str()
                            .unwrap_or_default();
                        assert!(
                            map.keys().all(|k| digests.contains(&format!("\"{k}\""))),
                            "{}: {path}: a key without digest",
                            src.display()
                        );
                    }
                }
            }
        }
        let want = finding_keys(&src);
        let have = finding_keys(&out);
        let lost: Vec<_> = want.difference(&have).collect();
        assert!(
            lost.is_empty(),
            "{}: findings lost: {lost:#?}",
            src.display()
        );
    }
}

/// PodDisruptionBudgets and the TLS facts of Secrets come back through
/// serve and the collector (serve strips nothing more; the collector keeps
/// the served facts of a `tls.crt` it receives empty), and the analysis
/// finds the same PDB and certificate findings.
#[test]
fn pdb_and_tls_round_trip() {
    for (scenario, rules) in [
        (
            "pdb-blocks-drain",
            ["pdb-blocks-drain", "pdb-disruptions-exhausted"],
        ),
        (
            "tls-expired",
            ["ingress-tls-cert-expired", "ingress-tls-cert-host-mismatch"],
        ),
    ] {
        round_trip(scenario);
        let src = kpm_e2e::testdata().join(scenario);
        let served = serve(&src, Knobs::default());
        let out = served.dir.path().join("pdb-tls.zip");
        collect_ok(&served, &out, &[]);
        let want = finding_keys(&src);
        for rule in rules {
            assert!(want.iter().any(|k| k.contains(rule)), "{rule}: {want:?}");
        }
        assert_eq!(finding_keys(&out), want, "{scenario}");
    }
}
