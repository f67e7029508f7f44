//! The generated scale cluster (`gen-bundle scale`, the benchmarks' input)
//! analysed end to end: every failure the generator injected is found, and
//! nothing else is reported but the consequences those failures have in a
//! real cluster. The cluster carries every kind of issue 18 at the ratios
//! of a multi-tenant cluster (StatefulSets with volumes, a CronJob's Jobs
//! and their finished pods, kube-proxy on every node, quotas, LimitRanges,
//! NetworkPolicies, PodDisruptionBudgets, StorageClasses, PriorityClasses),
//! all healthy, so the layers that read them must stay silent.

use std::collections::{BTreeMap, BTreeSet};

use kpm_gen_bundle::scale::{self, ScaleOptions, Size};

use crate::support::analyze::{findings, json_report, object_of, EXIT_OK};

/// Items per list kind (the file name's stem) across the bundle.
fn counts(bundle: &std::path::Path) -> BTreeMap<String, usize> {
    let b = kpm_bundle::Bundle::open(bundle).expect("open the generated bundle");
    let mut out = BTreeMap::new();
    let paths: Vec<String> = b.entries().map(str::to_string).collect();
    for path in paths {
        let Some(stem) = path
            .strip_suffix(".json")
            .and_then(|p| p.rsplit('/').next())
        else {
            continue;
        };
        if !(path.starts_with("cluster/") || path.starts_with("namespaces/")) {
            continue;
        }
        let Ok(v) = b.read_json::<serde_json::Value>(&path) else {
            continue;
        };
        if let Some(items) = v["items"].as_array() {
            *out.entry(stem.to_string()).or_default() += items.len();
        }
    }
    out
}

/// The `(namespace, app)` of a `Pod/ns/<app>-<hash>-<suffix>` object.
fn pod_app(object: &str) -> Option<(String, String)> {
    let mut parts = object.splitn(3, '/');
    let (kind, ns, name) = (parts.next()?, parts.next()?, parts.next()?);
    if kind != "Pod" {
        return None;
    }
    let mut segments: Vec<&str> = name.split('-').collect();
    segments.truncate(segments.len().checked_sub(2)?);
    Some((ns.to_string(), segments.join("-")))
}

#[test]
fn small_scale_cluster_reports_its_injected_failures_and_their_consequences_only() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (nodes, pods) = Size::Small.counts();
    let opts = ScaleOptions {
        nodes,
        pods,
        seed: 1,
        failure_rate: 0.05,
        perturb: 0.0,
    };
    let summary = scale::generate(&opts, &dir.path().join("small.zip")).expect("generate");
    let kinds = counts(&summary.path);
    for kind in [
        "statefulsets",
        "persistentvolumeclaims",
        "persistentvolumes",
        "volumeattachments",
        "storageclasses",
        "cronjobs",
        "jobs",
        "daemonsets",
        "resourcequotas",
        "limitranges",
        "networkpolicies",
        "poddisruptionbudgets",
        "priorityclasses",
    ] {
        assert!(
            kinds.get(kind).copied().unwrap_or(0) > 0,
            "the scale bundle has no {kind}: {kinds:?}"
        );
    }
    assert!(
        kinds["pods"] as u64 >= nodes + pods * 9 / 10,
        "kube-proxy on every node and about the pods asked for: {kinds:?}"
    );

    let report = json_report(
        &[
            summary.path.as_os_str(),
            "--format".as_ref(),
            "json".as_ref(),
        ],
        EXIT_OK,
    );
    let found: BTreeSet<(String, String)> = findings(&report)
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap_or_default().to_string(),
                object_of(f),
            )
        })
        .collect();
    let injected: BTreeSet<(String, String)> = summary
        .injected
        .iter()
        .map(|i| (i.rule.clone(), i.object.clone()))
        .collect();
    let missing: Vec<_> = injected.difference(&found).collect();
    assert!(
        missing.is_empty(),
        "injected failures not found: {missing:?}"
    );

    let unexpected: Vec<_> = found
        .difference(&injected)
        .filter(|(rule, object)| !is_consequence(&injected, rule, object))
        .collect();
    assert!(
        unexpected.is_empty(),
        "findings neither injected nor a consequence of an injected failure: {unexpected:?}"
    );
}

/// Whether `(rule, object)` is what an injected failure causes besides its
/// own finding in a real cluster.
fn is_consequence(injected: &BTreeSet<(String, String)>, rule: &str, object: &str) -> bool {
    // Apps whose pods all fail to become ready (a pod-level injected
    // failure other than an OOM kill, after which the pod runs again).
    let unready_apps: BTreeSet<(String, String)> = injected
        .iter()
        .filter(|(rule, _)| rule.starts_with("pod-") && rule != "pod-oom-killed")
        .filter_map(|(_, object)| pod_app(object))
        .collect();
    let mut parts = object.splitn(3, '/');
    let (kind, ns, name) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let app = (ns.to_string(), name.to_string());
    match rule {
        // No ready pod behind the app's Service.
        "service-no-ready-endpoints" => kind == "Service" && unready_apps.contains(&app),
        // Its Deployment stopped progressing (info).
        "rollout-deadline-exceeded" => kind == "Deployment" && unready_apps.contains(&app),
        // An OOM-killed container near its limit again.
        "resources-near-memory-limit" => {
            injected.contains(&("pod-oom-killed".to_string(), object.to_string()))
        }
        _ => false,
    }
}
