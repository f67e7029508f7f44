//! `deploy/rbac.yaml` matches the code, proved against a server that
//! enforces it (`serve --rbac`): collecting through it records no 403, in
//! either scope mode; taking away any single permission it grants makes the
//! collector record a forbidden step (so none is superfluous); and a
//! narrower namespaced Role still yields a useful bundle with the refused
//! steps recorded.

use std::path::{Path, PathBuf};

use crate::support::collect::*;
use kpm_bundle::{Manifest, Outcome};
use kpm_serve::{Rbac, Rule};
use serde_json::{json, Value};

fn deploy_rbac() -> PathBuf {
    kpm_e2e::workspace_root().join("deploy/rbac.yaml")
}

fn demo() -> PathBuf {
    kpm_e2e::testdata().join("demo")
}

fn with_rbac(file: &Path) -> Knobs {
    Knobs {
        rbac: Some(file.to_path_buf()),
        ..Knobs::default()
    }
}

fn forbidden_steps(m: &Manifest) -> Vec<String> {
    m.steps
        .iter()
        .filter(|s| s.outcome == Outcome::Forbidden || s.http_status == Some(403))
        .map(|s| {
            format!(
                "{} {:?} {:?}: {}",
                s.what,
                s.namespace,
                s.object,
                s.message.as_deref().unwrap_or("")
            )
        })
        .collect()
}

#[test]
fn deploy_rbac_collects_everything_without_a_single_403() {
    let served = serve(&demo(), with_rbac(&deploy_rbac()));
    for (name, extra) in [("all", vec![]), ("scoped", vec!["-n", "shop"])] {
        let out = served.dir.path().join(format!("{name}.zip"));
        collect_ok(&served, &out, &extra);
        let got = open_verified(&out);
        let m = got.manifest();
        assert_eq!(forbidden_steps(m), Vec::<String>::new(), "{name}");
        // It did read what needs each kind of permission.
        assert!(got.contains("namespaces/shop/pods.json"), "{name}");
        assert!(got.entries().any(|e| e.starts_with("logs/")), "{name}");
        assert!(got.contains("cluster/nodes.json"), "{name}");
        // The kinds around the workloads (#18), one per API group.
        for path in [
            "namespaces/shop/cronjobs.json",
            "namespaces/shop/resourcequotas.json",
            "namespaces/shop/poddisruptionbudgets.json",
            "namespaces/shop/networkpolicies.json",
            "cluster/storageclasses.json",
            "cluster/priorityclasses.json",
            "cluster/validatingwebhookconfigurations.json",
        ] {
            assert!(got.contains(path), "{name}: {path}");
        }
        if name == "scoped" {
            let infra = m.steps.iter().filter(|s| s.what == "infra-pods");
            assert!(infra.clone().count() > 0 && infra.clone().all(|s| s.outcome == Outcome::Ok));
        }
    }
}

/// The server really enforces the file: a pod list outside it is refused
/// with the API server's text, naming the bound service account.
#[test]
fn the_enforcing_server_answers_rbac_403s() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("no-secrets.zip");
    let narrowed = dir.path().join("narrowed.json");
    let rules: Vec<Value> = atomic_grants()
        .into_iter()
        .filter(|g| g.resource != "secrets")
        .map(|g| g.rule())
        .collect();
    write_cluster_role(&narrowed, &rules);
    let served = serve(&demo(), with_rbac(&narrowed));
    collect_ok(&served, &out, &["-n", "shop"]);
    let m = open_verified(&out).manifest().clone();
    let s = step(&m, "secrets", Some("shop"));
    assert_eq!((s.outcome, s.http_status), (Outcome::Forbidden, Some(403)));
    assert_eq!(
        s.message.as_deref(),
        Some("secrets is forbidden: User \"system:serviceaccount:kpm:kpm-collector\" cannot list resource \"secrets\" in API group \"\" in the namespace \"shop\"")
    );
}

/// One verb on one resource of one group: the unit a rule grants.
#[derive(Debug, Clone, PartialEq)]
struct Atomic {
    group: String,
    resource: String,
    verb: String,
}

impl Atomic {
    fn rule(&self) -> Value {
        json!({"apiGroups": [self.group], "resources": [self.resource], "verbs": [self.verb]})
    }
}

/// Every (group, resource, verb) deploy/rbac.yaml grants.
fn atomic_grants() -> Vec<Atomic> {
    let rbac = Rbac::load(&deploy_rbac()).expect("deploy/rbac.yaml loads");
    let mut out = Vec::new();
    for g in &rbac.grants {
        let Rule {
            verbs,
            api_groups,
            resources,
            resource_names,
            non_resource_urls,
        } = &g.rule;
        assert!(
            g.namespace.is_none(),
            "deploy/rbac.yaml holds only a ClusterRole"
        );
        assert!(resource_names.is_empty() && non_resource_urls.is_empty());
        for group in api_groups {
            for resource in resources {
                for verb in verbs {
                    assert!(
                        !["*", "watch", "create", "update", "patch", "delete"]
                            .contains(&verb.as_str())
                            && resource != "*"
                            && group != "*",
                        "deploy/rbac.yaml grants {verb} {resource} in {group:?}"
                    );
                    out.push(Atomic {
                        group: group.clone(),
                        resource: resource.clone(),
                        verb: verb.clone(),
                    });
                }
            }
        }
    }
    out
}

fn write_cluster_role(path: &Path, rules: &[Value]) {
    let list = json!({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
         "metadata": {"name": "kpm-collector-minus-one"}, "rules": rules},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": {"name": "kpm-collector"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "kpm-collector-minus-one"},
         "subjects": [{"kind": "ServiceAccount", "name": "kpm-collector", "namespace": "kpm"}]}
    ]});
    std::fs::write(path, serde_json::to_vec_pretty(&list).expect("json")).expect("write rbac");
}

/// Least privilege: each grant of deploy/rbac.yaml taken away in turn
/// makes the collector record a forbidden step for exactly that
/// permission. Collected with `-n shop`, which exercises both the
/// namespaced reads and the cluster-scope ones (infrastructure pods).
#[test]
fn every_grant_of_deploy_rbac_is_needed() {
    let all = atomic_grants();
    assert!(all.len() >= 20, "{all:?}");
    let dir = tempfile::tempdir().expect("tmp");
    let mut unneeded = Vec::new();
    for (i, removed) in all.iter().enumerate() {
        let file = dir.path().join(format!("minus-{i}.json"));
        let rules: Vec<Value> = all
            .iter()
            .filter(|g| *g != removed)
            .map(Atomic::rule)
            .collect();
        write_cluster_role(&file, &rules);
        let served = serve(&demo(), with_rbac(&file));
        let out = dir.path().join(format!("minus-{i}.zip"));
        let run = collect(&served, &out, &["-n", "shop"]);
        assert!(
            matches!(run.status.code(), Some(0 | 4)),
            "without {removed:?}: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        let m = open_verified(&out).manifest().clone();
        let wanted = format!(
            "cannot {} resource \"{}\" in API group \"{}\"",
            removed.verb, removed.resource, removed.group
        );
        let refused = forbidden_steps(&m);
        if !refused.iter().any(|s| s.contains(&wanted)) {
            unneeded.push(format!("{removed:?} (forbidden steps: {refused:?})"));
        }
    }
    assert!(
        unneeded.is_empty(),
        "deploy/rbac.yaml grants what the collector never needs:\n{}",
        unneeded.join("\n")
    );
}

/// A namespaced Role with only the shop workloads' basics: every refused
/// read is a forbidden step, the run still exits 0 and the bundle still
/// analyses.
#[test]
fn a_narrow_namespaced_role_records_the_refusals_and_still_helps() {
    let dir = tempfile::tempdir().expect("tmp");
    let role = dir.path().join("narrow.yaml");
    std::fs::write(
        &role,
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: shop-reader\n  namespace: shop\nrules:\n  - apiGroups: [\"\"]\n    resources: [pods, events, services, endpoints, configmaps]\n    verbs: [list]\n  - apiGroups: [\"\"]\n    resources: [pods/log]\n    verbs: [get]\n  - apiGroups: [apps]\n    resources: [deployments, replicasets]\n    verbs: [list]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: shop-reader, namespace: shop}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: shop-reader}\nsubjects:\n  - {kind: ServiceAccount, name: oncall, namespace: shop}\n",
    )
    .expect("write role");
    let served = serve(&demo(), with_rbac(&role));
    let out = dir.path().join("narrow.zip");
    let stderr = collect_ok(&served, &out, &["-n", "shop"]);
    let got = open_verified(&out);
    let m = got.manifest();
    // Cluster scope and the kinds the Role leaves out are refused and
    // recorded, with the server's words.
    for (what, ns) in [
        ("nodes", None),
        ("namespaces", None),
        ("secrets", Some("shop")),
        ("ingresses", Some("shop")),
        ("metrics/pods", Some("shop")),
    ] {
        let s = step(m, what, ns);
        assert_eq!(s.outcome, Outcome::Forbidden, "{what}: {s:?}");
        assert!(
            s.message.as_deref().is_some_and(
                |t| t.contains("User \"system:serviceaccount:shop:oncall\" cannot list")
            ),
            "{s:?}"
        );
    }
    assert!(m
        .steps
        .iter()
        .any(|s| s.what == "infra-pods" && s.outcome == Outcome::Forbidden));
    assert!(stderr.contains("forbidden"), "{stderr}");
    // What the Role allows is all there.
    for what in ["pods", "events", "services", "deployments"] {
        assert_eq!(step(m, what, Some("shop")).outcome, Outcome::Ok, "{what}");
    }
    assert!(got.entries().any(|e| e.starts_with("logs/shop/")));
    // And the analysis works on it, saying what it could not check.
    let report = std::process::Command::new(kpm_e2e::bin("kpm-analyze"))
        .arg(&out)
        .args(["--format", "json"])
        .output()
        .expect("kpm-analyze runs");
    assert!(
        matches!(report.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&report.stderr)
    );
    let json: Value = serde_json::from_slice(&report.stdout).expect("JSON report");
    let text = json.to_string();
    assert!(text.contains("shop"), "the report is about shop");
    assert!(
        text.contains("forbidden"),
        "the report names the refused reads"
    );
}
