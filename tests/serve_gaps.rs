//! Real kubectl against `kpm_serve` where the snapshot lacks something:
//! kinds never collected (real captures in `../shared/corpus/kpm/`), a
//! damaged namespace file and logs whose collection failed (a `testdata/`
//! scenario rewritten as a zip with the damage), and objects from a 1.15
//! cluster served as a current API server returns them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::support::serve::{rows, serve};
use kpm_bundle::{layout, Bundle, BundleWriter, Manifest, Outcome};
use serde_json::Value;

/// A capture from a real cluster in the shared corpus; the test fails when
/// the corpus is missing.
fn corpus(name: &str) -> PathBuf {
    let dir = kpm_e2e::workspace_root()
        .join("../shared/corpus/kpm")
        .join(name);
    assert!(
        dir.join("manifest.json").is_file(),
        "corpus bundle {} is missing",
        dir.display()
    );
    dir
}

/// Every file of a bundle directory, relative to it, except the manifest.
fn files(root: &Path, dir: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).expect("read scenario") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            files(root, &path, out);
        } else if let Ok(rel) = path.strip_prefix(root) {
            let rel = rel.to_string_lossy().to_string();
            if rel != "manifest.json" {
                out.push(rel);
            }
        }
    }
}

/// Writes scenario `name` as a zip bundle at `out`, each file through
/// `edit` (None leaves the file out) and the manifest through `steps`.
fn rezip(
    name: &str,
    out: &Path,
    edit: impl Fn(&str, Vec<u8>) -> Option<Vec<u8>>,
    steps: impl FnOnce(&mut Manifest),
) -> PathBuf {
    let dir = kpm_e2e::testdata().join(name);
    let mut manifest = Bundle::open(&dir)
        .expect("scenario opens")
        .manifest()
        .clone();
    steps(&mut manifest);
    let mut paths = Vec::new();
    files(&dir, &dir, &mut paths);
    paths.sort();
    let zip = out.join(format!("{name}.zip"));
    let mut w = BundleWriter::create_zip(&zip, false).expect("zip");
    for rel in paths {
        let bytes = std::fs::read(dir.join(&rel)).expect("read file");
        if let Some(bytes) = edit(&rel, bytes) {
            w.write_entry(&rel, &bytes).expect("write entry");
        }
    }
    w.finish(manifest).expect("finish zip");
    zip
}

/// The step of one container log, made to fail with `outcome` and `message`.
fn fail_log_step(m: &mut Manifest, what: &str, object: &str, outcome: Outcome, message: &str) {
    let step = m
        .steps
        .iter_mut()
        .find(|s| s.what == what && s.object.as_deref() == Some(object))
        .unwrap_or_else(|| panic!("no {what} step for {object}"));
    step.outcome = outcome;
    step.message = Some(message.to_string());
    step.path = None;
}

/// The pod of the `crashloop` scenario whose logs [`damaged_crashloop`]
/// makes fail.
const FAILED_LOGS_POD: &str = "checkout-dwxnrlfvx-6wgnp";

/// `crashloop` as a zip with `kube-system`'s pods and events cut in half,
/// and the logs of [`FAILED_LOGS_POD`] not written: the current one for
/// lack of room under `--max-bundle-size`, the previous one forbidden.
fn damaged_crashloop(tmp: &Path) -> PathBuf {
    let pod = FAILED_LOGS_POD;
    rezip(
        "crashloop",
        tmp,
        |rel, bytes| match rel {
            "namespaces/kube-system/pods.json" | "namespaces/kube-system/events.json" => {
                Some(bytes[..bytes.len() / 2].to_vec())
            }
            r if r.starts_with(&format!("logs/shop/{pod}/")) => None,
            _ => Some(bytes),
        },
        |m| {
            fail_log_step(
                m,
                "logs",
                &format!("{pod}/checkout"),
                Outcome::Error,
                "not written: --max-bundle-size 1 MB reached (928 B of log, no room left)",
            );
            fail_log_step(
                m,
                "logs/previous",
                &format!("{pod}/checkout"),
                Outcome::Forbidden,
                "pods \"checkout\" is forbidden",
            );
        },
    )
}

#[test]
fn a_damaged_namespace_costs_only_what_it_holds() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let pod = FAILED_LOGS_POD;
    let zip = damaged_crashloop(tmp.path());
    let s = serve(&zip, None, &[]);

    let run = s.kubectl(&["get", "pods", "-A", "--no-headers"]);
    assert_eq!(run.code, Some(0), "get pods -A:\n{}", run.stderr);
    assert!(
        run.stderr.starts_with("Warning: kpm: this list leaves out")
            && run.stderr.contains("namespaces/kube-system/pods.json")
            && run.stderr.contains("truncated"),
        "get pods -A warning:\n{}",
        run.stderr
    );
    let listed: BTreeSet<String> = rows(&run.stdout)
        .iter()
        .filter_map(|r| r.split(' ').next().map(str::to_string))
        .collect();
    let bundle = Bundle::open(&zip).expect("zip opens");
    let want: BTreeSet<String> = bundle
        .namespaces()
        .into_iter()
        .filter(|ns| ns != "kube-system")
        .filter(|ns| {
            bundle
                .read_kind::<Value>(layout::kind_by_plural("pods").expect("pods"), Some(ns))
                .ok()
                .flatten()
                .is_some_and(|l| !l.items.is_empty())
        })
        .collect();
    assert_eq!(listed, want, "namespaces listed by get pods -A");
    assert!(rows(&run.stdout).iter().any(|r| r.contains(pod)));

    // Only exactly the damaged file fails, naming it.
    let err = s.fails(&["get", "pods", "-n", "kube-system"]);
    assert!(
        err.contains("namespaces/kube-system/pods.json"),
        "get pods -n kube-system:\n{err}"
    );
    // describe node reads pods and events of every namespace.
    for node in rows(&s.ok(&["get", "nodes", "-o", "name"])) {
        let run = s.kubectl(&["describe", &node]);
        assert_eq!(run.code, Some(0), "describe {node}:\n{}", run.stderr);
        assert!(run.stdout.contains("Allocated resources:"), "{node}");
        assert!(
            run.stderr.contains("namespaces/kube-system/"),
            "{node}: {}",
            run.stderr
        );
    }
    let run = s.kubectl(&["get", "events", "-A"]);
    assert_eq!(run.code, Some(0), "get events -A:\n{}", run.stderr);
    assert!(run.stderr.contains("namespaces/kube-system/events.json"));

    // Logs whose collection failed say how, not that the container has none.
    let err = s.fails(&["logs", pod, "-n", "shop", "-c", "checkout"]);
    assert!(
        err.contains("could not be collected") && err.contains("--max-bundle-size 1 MB reached"),
        "logs:\n{err}"
    );
    let err = s.fails(&["logs", pod, "-n", "shop", "-c", "checkout", "--previous"]);
    assert!(
        err.contains("Error from server (Forbidden)"),
        "logs --previous:\n{err}"
    );
}

#[test]
fn kinds_and_logs_never_collected_are_not_empty() {
    // A `kubectl cluster-info dump` of AKS (Kubernetes 1.15): pods,
    // services, workloads and events only, no logs.
    let s = serve(&corpus("aks-tunnelfront-down"), None, &[]);
    for (args, what) in [
        (
            vec!["get", "hpa", "-A"],
            "horizontalpodautoscalers.autoscaling",
        ),
        (
            vec!["get", "horizontalpodautoscalers.autoscaling", "-A"],
            "horizontalpodautoscalers.autoscaling",
        ),
        (vec!["get", "ing", "-A"], "ingresses.networking.k8s.io"),
        (
            vec!["get", "ep", "-n", "kube-system"],
            "endpoints in namespace kube-system",
        ),
        (vec!["get", "endpoints", "-A"], "endpoints"),
        (vec!["get", "cm", "-A"], "configmaps"),
        (vec!["get", "jobs", "--all-namespaces"], "jobs.batch"),
    ] {
        let err = s.fails(&args);
        assert!(
            err.contains(&format!("({what} was not collected in this snapshot)")),
            "kubectl {args:?}:\n{err}"
        );
        assert!(!err.contains("No resources found"), "kubectl {args:?}");
    }
    let raw = s.fails(&["get", "--raw", &s.raw("/apis/apps/v1/statefulsets")]);
    assert!(raw.contains("statefulsets.apps was not collected"), "{raw}");

    // `get all -A` lists what was collected and names what was not.
    let all = s.kubectl(&["get", "all", "-A"]);
    assert!(all.stdout.contains("pod/coredns-"), "{}", all.stdout);
    assert!(all.stdout.contains("deployment.apps/"), "{}", all.stdout);
    for kind in [
        "statefulsets.apps",
        "horizontalpodautoscalers.autoscaling",
        "jobs.batch",
    ] {
        assert!(
            all.stderr
                .contains(&format!("({kind} was not collected in this snapshot)")),
            "get all -A: {kind}:\n{}",
            all.stderr
        );
    }
    assert!(!all.stderr.contains("No resources found"));

    // A crash-looping container whose log fetch failed during the dump
    // (the manifest records it): the failure, not "waiting to start", which
    // would say it never ran; its previous log was never asked for.
    let pods = s.ok(&["get", "pods", "-n", "kube-system", "-o", "name"]);
    let looping = rows(&pods)
        .into_iter()
        .find(|p| p.contains("coredns-autoscaler"))
        .expect("coredns-autoscaler pod");
    let err = s.fails(&["logs", looping.as_str(), "-n", "kube-system"]);
    assert!(
        err.contains("could not be collected (an error on the server (\"unknown\")"),
        "logs:\n{err}"
    );
    let err = s.fails(&["logs", looping.as_str(), "-n", "kube-system", "--previous"]);
    assert!(
        err.contains("(the previous log of container \"autoscaler\" in pod \"coredns-autoscaler-6d7bd69669-nmpz2\" was not collected in this snapshot)"),
        "logs --previous:\n{err}"
    );
    assert!(!err.contains("waiting to start") && !err.contains("not found"));
}

#[test]
fn a_1_15_capture_reads_as_a_current_api_server_returns_it() {
    let s = serve(&corpus("aks-tunnelfront-down"), None, &[]);
    let list: Value =
        serde_json::from_str(&s.ok(&["get", "svc", "-A", "-o", "json"])).expect("json");
    let items = list["items"].as_array().expect("items");
    assert!(!items.is_empty());
    for svc in items {
        let spec = &svc["spec"];
        let name = &svc["metadata"]["name"];
        assert_eq!(spec["clusterIPs"][0], spec["clusterIP"], "{name}");
        assert_eq!(spec["ipFamilies"], serde_json::json!(["IPv4"]), "{name}");
        assert_eq!(spec["ipFamilyPolicy"], "SingleStack", "{name}");
        assert_eq!(spec["internalTrafficPolicy"], "Cluster", "{name}");
    }
    let yaml = s.ok(&["get", "svc", "kube-dns", "-n", "kube-system", "-o", "yaml"]);
    assert!(yaml.contains("clusterIPs:\n  - 10.0.0.10\n"), "{yaml}");
    let described = s.ok(&["describe", "svc", "kube-dns", "-n", "kube-system"]);
    for line in [
        "IP Family Policy: SingleStack",
        "IP Families: IPv4",
        "IPs: 10.0.0.10",
    ] {
        assert!(
            rows(&described).iter().any(|r| r == line),
            "{line}:\n{described}"
        );
    }
    // The capture has no Endpoints either: nothing to make slices from.
    let err = s.fails(&["get", "endpointslices", "-A"]);
    assert!(
        err.contains("endpointslices.discovery.k8s.io was not collected"),
        "{err}"
    );
}

/// `(service name, address)` of every ready endpoint in an EndpointSlice
/// list.
fn ready_addresses(list: &Value) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for slice in list["items"].as_array().into_iter().flatten() {
        let ns = slice["metadata"]["namespace"].as_str().unwrap_or("");
        let svc = slice["metadata"]["labels"]["kubernetes.io/service-name"]
            .as_str()
            .unwrap_or("");
        let entry = out.entry(format!("{ns}/{svc}")).or_default();
        for ep in slice["endpoints"].as_array().into_iter().flatten() {
            if ep["conditions"]["ready"] == Value::Bool(true) {
                for a in ep["addresses"].as_array().into_iter().flatten() {
                    entry.insert(a.as_str().unwrap_or("").to_string());
                }
            }
        }
    }
    out
}

#[test]
fn endpoint_slices_are_made_from_endpoints_when_none_were_stored() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let collected = serve(&kpm_e2e::testdata().join("crashloop"), None, &[]);
    let want: Value =
        serde_json::from_str(&collected.ok(&["get", "endpointslices", "-A", "-o", "json"]))
            .expect("json");
    let zip = rezip(
        "crashloop",
        tmp.path(),
        |rel, bytes| (!rel.ends_with("/endpointslices.json")).then_some(bytes),
        |m| m.steps.retain(|s| s.what != "endpointslices"),
    );
    let s = serve(&zip, None, &[]);
    let made: Value =
        serde_json::from_str(&s.ok(&["get", "endpointslices", "-A", "-o", "json"])).expect("json");
    let got = ready_addresses(&made);
    assert!(!got.is_empty());
    assert_eq!(got, ready_addresses(&want), "ready addresses per service");
    let table = rows(&s.ok(&["get", "endpointslices", "-n", "shop"]));
    assert_eq!(
        table.first().map(String::as_str),
        Some("NAME ADDRESSTYPE PORTS ENDPOINTS AGE")
    );
    assert!(table.len() > 1, "{table:?}");
    // What can be listed can be listed, says the access review too.
    assert_eq!(
        s.ok(&["auth", "can-i", "list", "endpointslices", "-A"]),
        "yes\n"
    );
}
