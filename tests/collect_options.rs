//! The collector options people asked other tools for, each run against a
//! served bundle: `--since`, `--selector`, `--exclude-namespace`,
//! `--max-bundle-size`, `--dry-run` and `-q`.

use std::path::{Path, PathBuf};

use crate::support::collect::*;
use kpm_bundle::{Bundle, Outcome};
use serde_json::Value;

fn scenario(name: &str) -> PathBuf {
    kpm_e2e::testdata().join(name)
}

fn log_text(b: &Bundle, path: &str) -> String {
    String::from_utf8(b.read_bytes(path).unwrap_or_else(|e| panic!("{path}: {e}")))
        .expect("utf-8 log")
}

fn pod_names(b: &Bundle, ns: &str) -> Vec<String> {
    names(&items(b, &format!("namespaces/{ns}/pods.json")))
}

/// `--since` becomes `sinceSeconds`: the served log's lines carry RFC 3339
/// stamps (14:06:58, 14:06:59, 14:07:01; collected at 14:32:10), so 1510s
/// (cut-off 14:07:00) keeps only the last line.
#[test]
fn since_limits_logs_to_recent_lines() {
    let served = serve(&scenario("app-log-errors"), Knobs::default());
    let log = "logs/payments/partner-sync-l7gklrrb4-z9t6q/partner-sync.log";
    let all = served.dir.path().join("all.zip");
    collect_ok(&served, &all, &["-n", "payments"]);
    assert_eq!(log_text(&open_verified(&all), log).lines().count(), 3);
    let recent = served.dir.path().join("recent.zip");
    collect_ok(&served, &recent, &["-n", "payments", "--since", "1510s"]);
    let text = log_text(&open_verified(&recent), log);
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.contains("synced 112 payouts"), "{text}");
}

/// `-l` limits pods and their logs in the namespaces in scope; the
/// infrastructure pods are still there, merged into their namespaces'
/// lists, and so is everything else.
#[test]
fn selector_limits_pods_and_logs_but_keeps_infrastructure() {
    let src = scenario("demo");
    let served = serve(&src, Knobs::default());
    let out = served.dir.path().join("selected.zip");
    collect_ok(&served, &out, &["-l", "app.kubernetes.io/name=frontend"]);
    let b = open_verified(&out);
    let shop = pod_names(&b, "shop");
    assert_eq!(shop.len(), 3, "{shop:?}");
    assert!(
        shop.iter().all(|n| n.starts_with("shop/frontend-")),
        "{shop:?}"
    );
    let logs: Vec<&str> = b.entries().filter(|e| e.starts_with("logs/")).collect();
    assert!(
        !logs.is_empty() && logs.iter().all(|e| e.starts_with("logs/shop/frontend-")),
        "{logs:?}"
    );
    // Infrastructure pods do not match the selector and are kept.
    assert_eq!(pod_names(&b, "ingress-nginx").len(), 2);
    let system = pod_names(&b, "kube-system");
    assert!(system.iter().any(|n| n.contains("coredns")), "{system:?}");
    assert!(
        system.iter().any(|n| n.contains("metrics-server")),
        "{system:?}"
    );
    assert!(
        !system.iter().any(|n| n.contains("kube-proxy")),
        "kube-proxy is no infra group"
    );
    let m = b.manifest();
    assert!(step(m, "pods", Some("kube-system"))
        .message
        .as_deref()
        .is_some_and(|t| t.contains("infrastructure pods added outside the --selector")));
    // The rest of the namespace and node allocation over every pod.
    assert_eq!(
        items(&b, "namespaces/shop/services.json").len(),
        items(
            &Bundle::open(&src).expect("src"),
            "namespaces/shop/services.json"
        )
        .len()
    );
    assert_eq!(step(m, "node-allocation", None).outcome, Outcome::Ok);
    let alloc: Value = b
        .read_json("derived/node-allocation.json")
        .expect("allocation");
    let orig: Value = Bundle::open(&src)
        .expect("src")
        .read_json("derived/node-allocation.json")
        .expect("orig");
    assert_eq!(
        alloc_pods(&alloc),
        alloc_pods(&orig),
        "allocation counts every pod, selected or not"
    );
}

/// Pods counted per node by `derived/node-allocation.json`.
fn alloc_pods(v: &Value) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = v
        .get("nodes")
        .and_then(Value::as_array)
        .map(|nodes| {
            nodes
                .iter()
                .map(|n| {
                    (
                        n.get("node")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string(),
                        n.get("nonTerminatedPods")
                            .and_then(Value::as_u64)
                            .unwrap_or(u64::MAX),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// `--exclude-namespace` leaves a namespace's objects out (its
/// infrastructure pods stay, as outside any scope) and narrows the scope.
#[test]
fn excluded_namespaces_are_left_out() {
    let served = serve(&scenario("demo"), Knobs::default());
    let out = served.dir.path().join("excluded.zip");
    collect_ok(
        &served,
        &out,
        &[
            "--exclude-namespace",
            "kube-system",
            "--exclude-namespace",
            "kube-public,payments",
        ],
    );
    let b = open_verified(&out);
    for ns in ["kube-system", "kube-public", "payments"] {
        assert!(
            !b.contains(&format!("namespaces/{ns}/configmaps.json")),
            "{ns}"
        );
        assert!(
            !b.manifest().scope.namespaces.iter().any(|n| n == ns),
            "{ns}"
        );
    }
    assert!(!b.manifest().scope.all_namespaces);
    assert!(b.contains("namespaces/shop/configmaps.json"));
    assert!(b.manifest().scope.namespaces.iter().any(|n| n == "default"));
    let system = pod_names(&b, "kube-system");
    assert!(
        system
            .iter()
            .all(|n| n.contains("coredns") || n.contains("metrics-server")),
        "{system:?}"
    );
    assert!(!system.is_empty());
}

fn bytes_of(b: &Bundle, logs: bool) -> u64 {
    b.manifest()
        .steps
        .iter()
        .filter(|s| s.path.is_some() && s.what.starts_with("logs") == logs)
        .map(|s| s.bytes)
        .sum()
}

/// `--max-bundle-size` keeps every list and cuts the largest logs first,
/// recording it.
#[test]
fn max_bundle_size_cuts_the_largest_logs_first() {
    let served = serve(&scenario("demo"), Knobs::default());
    let whole = served.dir.path().join("whole.zip");
    collect_ok(&served, &whole, &["-n", "shop"]);
    let w = open_verified(&whole);
    let (lists, logs) = (bytes_of(&w, false), bytes_of(&w, true));
    assert!(logs > 2000, "demo shop logs: {logs} B");
    let bound = lists + logs / 2;
    let cut = served.dir.path().join("cut.zip");
    collect_ok(
        &served,
        &cut,
        &["-n", "shop", "--max-bundle-size", &bound.to_string()],
    );
    let c = open_verified(&cut);
    assert_eq!(bytes_of(&c, false), lists, "lists are never cut");
    assert!(
        bytes_of(&c, true) <= logs / 2,
        "{} > {}",
        bytes_of(&c, true),
        logs / 2
    );
    let m = c.manifest();
    let summary = step(m, "max-bundle-size", None);
    assert!(
        summary
            .message
            .as_deref()
            .is_some_and(|t| t.starts_with("truncated to fit")),
        "{summary:?}"
    );
    // The smallest log is whole, the largest is cut to its newest lines.
    let sizes = |b: &Bundle| -> Vec<(u64, String)> {
        let mut v: Vec<(u64, String)> = b
            .manifest()
            .steps
            .iter()
            .filter(|s| s.what.starts_with("logs") && s.path.is_some())
            .map(|s| (s.bytes, s.path.clone().unwrap_or_default()))
            .collect();
        v.sort();
        v
    };
    let before = sizes(&w);
    let (small, large) = (&before[0].1, &before[before.len() - 1].1);
    assert_eq!(log_text(&c, small), log_text(&w, small));
    let (cut_large, whole_large) = (log_text(&c, large), log_text(&w, large));
    assert!(cut_large.len() < whole_large.len() && whole_large.ends_with(&cut_large));
    let large_step = m
        .steps
        .iter()
        .find(|s| s.path.as_deref() == Some(large.as_str()))
        .expect("step");
    assert!(large_step
        .message
        .as_deref()
        .is_some_and(|t| t.contains("by --max-bundle-size")));
}

fn dry_run(served: &Served, out: &Path, extra: &[&str]) -> String {
    let mut args = vec!["--dry-run"];
    args.extend_from_slice(extra);
    let run = collect(served, out, &args);
    let stdout = String::from_utf8_lossy(&run.stdout).into_owned();
    assert_eq!(
        run.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(!out.exists(), "--dry-run wrote {}", out.display());
    stdout
}

/// `--dry-run` prints the plan and, from SelfSubjectRulesReview, the
/// permissions missing; it writes nothing.
#[test]
fn dry_run_prints_the_plan_and_missing_permissions() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("never.zip");
    let open = serve(&scenario("demo"), Knobs::default());
    let text = dry_run(&open, &out, &["-n", "shop", "--since", "1h"]);
    assert!(text.contains("missing permissions: none"), "{text}");
    assert!(
        text.contains("would collect, per namespace (1 namespaces): shop"),
        "{text}"
    );
    assert!(text.contains("newer than 3600s"), "{text}");

    let deploy = serve(
        &scenario("demo"),
        Knobs {
            rbac: Some(kpm_e2e::workspace_root().join("deploy/rbac.yaml")),
            ..Knobs::default()
        },
    );
    let text = dry_run(&deploy, &out, &[]);
    assert!(
        text.contains("missing permissions: none"),
        "deploy/rbac.yaml suffices:\n{text}"
    );
    assert!(
        text.contains("would collect, per namespace (all 7 namespaces)"),
        "{text}"
    );

    let role = dir.path().join("narrow.yaml");
    std::fs::write(
        &role,
        "kind: Role\napiVersion: rbac.authorization.k8s.io/v1\nmetadata: {name: r, namespace: shop}\nrules:\n  - {apiGroups: [''], resources: [pods, events], verbs: [list]}\n",
    )
    .expect("role");
    let narrow = serve(
        &scenario("demo"),
        Knobs {
            rbac: Some(role),
            ..Knobs::default()
        },
    );
    let text = dry_run(&narrow, &out, &["-n", "shop"]);
    for missing in [
        "list nodes (core) at the cluster scope",
        "list pods (core) at the cluster scope",
        "list secrets (core) in namespace shop",
        "get pods/log (core) in namespace shop",
        "list deployments (apps) in namespace shop",
        "list pods (metrics.k8s.io) in namespace shop",
    ] {
        assert!(text.contains(missing), "{missing} not reported:\n{text}");
    }
    assert!(
        !text.contains("list pods (core) in namespace shop"),
        "{text}"
    );
    assert!(
        !text.contains("list events (core) in namespace shop"),
        "{text}"
    );
}

/// `-q` leaves out progress and the summary (pacing, failed steps and the
/// closing line naming the bundle), keeps warnings, and still writes the
/// bundle; without it the run ends with that line.
#[test]
fn quiet_leaves_out_the_summary() {
    let served = serve(&scenario("healthy"), Knobs::default());
    let loud = served.dir.path().join("loud.zip");
    let stderr = collect_ok(&served, &loud, &[]);
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with(&format!("{}: ", loud.display()))
            && last.contains(" objects, ")
            && last.ends_with(" — analyse it with kpm-analyze"),
        "{stderr}"
    );
    let quiet = served.dir.path().join("quiet.zip");
    let stderr = collect_ok(&served, &quiet, &["-q"]);
    // The served snapshot lacks some logs: those warnings stay, nothing else.
    assert!(
        stderr.lines().all(|l| l.starts_with("warning: ")),
        "-q prints warnings only:\n{stderr}"
    );
    open_verified(&quiet);
}
