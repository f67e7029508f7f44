//! PodDisruptionBudgets that block drains, and budgets that leave room.
//!
//! Status as the disruption controller writes it
//! (`pkg/controller/disruption/disruption.go`, v1.33): `expectedPods` is
//! the controller's scale for `maxUnavailable` and percentages and the
//! number of matching pods for an integer `minAvailable`; `desiredHealthy`
//! is `minAvailable` or `expectedPods - maxUnavailable`; `currentHealthy`
//! counts ready pods; `disruptionsAllowed` is their difference (never
//! below 0), and the `DisruptionAllowed` condition is `True` /
//! `SufficientPods` or `False` / `InsufficientPods` (empty message). A
//! budget matching no pod counts 0 expected pods (its `NoPods` events are
//! long expired, as events live one hour).

use serde_json::json;

use super::common::{self, crashloop_events, pod_obj, pod_ref};
use super::Scenario;
use crate::app::{self, AppSpec};
use crate::baseline::{self, Baseline};
use crate::builders::pod::{ContainerState, PodFate, Terminated};
use crate::builders::policy::pdb;
use crate::cluster::Cluster;
use crate::expected::{finding, obj, pod, Finding};
use crate::world::World;

/// The disruption scenarios.
pub const SCENARIOS: &[Scenario] = &[
    Scenario { name: "pdb-blocks-drain", description: "In payments, the ledger PDB has maxUnavailable 0 over 3 replicas and the fraud-scorer PDB minAvailable 1 over its single replica: both allow 0 disruptions by design, so kubectl drain cannot evict their pods; the settlement PDB (minAvailable 1 over 2) allows 0 because one settlement pod crashes; the legacy-batch PDB selects no pod.", build: pdb_blocks_drain },
    Scenario { name: "pdb-allows-one", description: "Near miss: the checkout PDB has maxUnavailable 1 over 3 ready replicas, the EKS CoreDNS add-on's PDB maxUnavailable 1 over 2 and the ingress-nginx chart's controller PDB minAvailable 1 over 2: every budget allows 1 disruption.", build: pdb_allows_one },
];

/// A healthy Deployment of `replicas` in `ns`, labelled by `name`.
fn healthy_app(w: &mut World, ns: &str, name: &str, image: &str, replicas: i64) -> AppSpec {
    let app = AppSpec::new(
        ns,
        name,
        image,
        8080,
        replicas,
        86_400 * 90,
        86_400 * 4 + 1_800,
    );
    app::deploy_healthy(w, &app);
    common::expose(w, &app, name);
    app
}

fn pdb_blocks_drain() -> (Cluster, Vec<Finding>) {
    let mut w = baseline::world(&Baseline::default());
    let ns = "payments";
    w.cluster.namespace(ns, 86_400 * 150);
    healthy_app(&mut w, ns, "ledger", "ghcr.io/acme-pay/ledger:6.2.0", 3);
    w.cluster.add(pdb(
        ns,
        "ledger",
        ("maxUnavailable", json!(0)),
        &[("app.kubernetes.io/name", "ledger")],
        (3, 3, 3),
        86_400 * 4 + 1_770,
    ));
    healthy_app(
        &mut w,
        ns,
        "fraud-scorer",
        "ghcr.io/acme-pay/fraud-scorer:2.0.4",
        1,
    );
    w.cluster.add(pdb(
        ns,
        "fraud-scorer",
        ("minAvailable", json!(1)),
        &[("app.kubernetes.io/name", "fraud-scorer")],
        (1, 1, 1),
        86_400 * 4 + 1_770,
    ));
    let crashing = settlement(&mut w, ns);
    w.cluster.add(pdb(
        ns,
        "settlement",
        ("minAvailable", json!(1)),
        &[("app.kubernetes.io/name", "settlement")],
        (2, 1, 1),
        1_100,
    ));
    let legacy = pdb(
        ns,
        "legacy-batch",
        ("minAvailable", json!(1)),
        &[("app.kubernetes.io/name", "legacy-batch")],
        (0, 1, 0),
        86_400 * 12,
    );
    w.cluster.add(legacy);
    let refusal = "Cannot evict pod as it would violate the pod's disruption budget.";
    let findings = vec![
        finding(
            "pdb-blocks-drain",
            &obj("PodDisruptionBudget", ns, "ledger"),
            &[
                "spec.maxUnavailable is 0",
                "3 pods",
                refusal,
                "The disruption budget ledger needs 3 healthy pods and has 3 currently",
            ],
        ),
        finding(
            "pdb-blocks-drain",
            &obj("PodDisruptionBudget", ns, "fraud-scorer"),
            &[
                "spec.minAvailable is 1",
                "1 pod",
                "The disruption budget fraud-scorer needs 1 healthy pods and has 1 currently",
            ],
        ),
        finding("pod-crashloop", &pod(ns, &crashing), &["exit code 1"]),
        finding(
            "pdb-disruptions-exhausted",
            &obj("PodDisruptionBudget", ns, "settlement"),
            &["only 1 of its 2 expected pods are healthy", &crashing],
        )
        .caused_by("pod-crashloop", &pod(ns, &crashing)),
        finding(
            "pdb-no-pods",
            &obj("PodDisruptionBudget", ns, "legacy-batch"),
            &["app.kubernetes.io/name=legacy-batch matches no pod"],
        ),
    ];
    (w.finish(), findings)
}

/// settlement: 2 replicas, the second crash-looping since a config change
/// 19 minutes ago (exit code 1). Returns the crashing pod's name.
fn settlement(w: &mut World, ns: &str) -> String {
    let image = "ghcr.io/acme-pay/settlement:3.8.1";
    let app = AppSpec::new(
        ns,
        "settlement",
        image,
        8080,
        2,
        86_400 * 90,
        86_400 * 4 + 1_800,
    );
    let mut node = String::new();
    let d = app::deploy(w, &app, |i, name, pl| {
        if i == 0 {
            return (
                PodFate::Placed(pl),
                vec![ContainerState::ready(86_400 * 4 + 1_788)],
            );
        }
        node = pl.node.clone();
        let st = ContainerState::Waiting {
            reason: "CrashLoopBackOff".into(),
            message: Some(common::crashloop_message(
                &pod_ref(ns, name),
                "settlement",
                "5m0s",
            )),
            restarts: 7,
            last: Some(Terminated::new("Error", 1, 212, 211)),
        };
        (PodFate::Placed(pl), vec![st])
    });
    common::expose(w, &app, "settlement");
    let name = d.pods.get(1).cloned().unwrap_or_default();
    let p = pod_obj(w, ns, &name);
    w.cluster.add_all(crashloop_events(
        &p,
        "settlement",
        image,
        &node,
        7,
        1_130,
        30,
    ));
    let log = format!(
        "{{\"level\":\"info\",\"ts\":{},\"msg\":\"starting settlement\",\"version\":\"3.8.1\"}}\n\
{{\"level\":\"fatal\",\"ts\":{},\"msg\":\"cannot open settlement ledger\",\"error\":\"open /etc/settlement/bank-keys.pem: no such file or directory\"}}\n",
        common::epoch_ms(212) / 1000,
        common::epoch_ms(211) / 1000
    );
    w.cluster.add_log(ns, &name, "settlement", true, &log);
    w.cluster.add_log(ns, &name, "settlement", false, &log);
    name
}

fn pdb_allows_one() -> (Cluster, Vec<Finding>) {
    let mut w = baseline::world(&Baseline::default());
    let ns = "shop";
    w.cluster.namespace(ns, 86_400 * 150);
    healthy_app(
        &mut w,
        ns,
        "checkout",
        "ghcr.io/acme-shop/checkout:3.14.1",
        3,
    );
    w.cluster.add(pdb(
        ns,
        "checkout",
        ("maxUnavailable", json!(1)),
        &[("app.kubernetes.io/name", "checkout")],
        (3, 2, 3),
        86_400 * 4 + 1_770,
    ));
    w.cluster.add(pdb(
        "kube-system",
        "coredns",
        ("maxUnavailable", json!(1)),
        &[
            ("eks.amazonaws.com/component", "coredns"),
            ("k8s-app", "kube-dns"),
        ],
        (2, 1, 2),
        86_400 * 20 - 30,
    ));
    w.cluster.add(pdb(
        "ingress-nginx",
        "ingress-nginx-controller",
        ("minAvailable", json!(1)),
        &[
            ("app.kubernetes.io/component", "controller"),
            ("app.kubernetes.io/instance", "ingress-nginx"),
            ("app.kubernetes.io/name", "ingress-nginx"),
        ],
        (2, 1, 2),
        86_400 * 34 - 30,
    ));
    (w.finish(), Vec::new())
}
