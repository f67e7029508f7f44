//! Deployments caught mid-rollout: a bad revision crashing beside the old
//! one that still serves, a surge pod that fits nowhere under
//! `maxUnavailable: 0`, a Recreate rollout to a typo'd image tag and a
//! paused Deployment with a change waiting; and the near miss, a rolling
//! update well within its deadline.
//!
//! Shapes from the Deployment controller (`pkg/controller/deployment`,
//! v1.33): the new ReplicaSet is created with `Scaled up replica set <rs>
//! to <n>`, each later step is `Scaled up|down replica set <rs> to <n>
//! from <m>` (`ScalingReplicaSet`, Normal, `deployment-controller`); the
//! ReplicaSet controller records `SuccessfulCreate` / `Created pod: <pod>`.
//! `syncRolloutStatus` sets `Progressing=True` / `ReplicaSetUpdated`
//! (`ReplicaSet "<rs>" is progressing.`) while pods come up and, once
//! `progressDeadlineSeconds` (600) pass without progress,
//! `Progressing=False` / `ProgressDeadlineExceeded` (`ReplicaSet "<rs>"
//! has timed out progressing.`), with no event. A paused Deployment gets
//! `Progressing=Unknown` / `DeploymentPaused` (`Deployment is paused`) and
//! no new ReplicaSet for its changed template. `rolling.go` scales old
//! ReplicaSets down only while `available - newUnavailable > replicas -
//! maxUnavailable`, so 25 % of 4 replicas lets one old pod go and the
//! rollout stops at 3 old + 2 new.

use serde_json::{json, Value};

use super::common::{self, crashloop_events, pod_obj, pod_ref};
use super::pods::{namespace_with_neighbour, pull_failure_events};
use super::Scenario;
use crate::app;
use crate::baseline::{self, Baseline};
use crate::builders::event::{self, Source};
use crate::builders::meta;
use crate::builders::pod::{self, ContainerState, Placement, PodFate, Terminated};
use crate::builders::workload::{self, Replicas};
use crate::cluster::Cluster;
use crate::expected::{finding, obj, pod, Finding};
use crate::world::World;

/// The rollout scenarios.
pub const SCENARIOS: &[Scenario] = &[
    Scenario { name: "rollout-stuck", description: "In shop, checkout's revision 8 (image 3.15.0 with a mistyped flag --db-pool-szie) exits with code 2 and crash-loops on 2 new pods while revision 7 still serves 3 ready pods; the rollout passed its 600 s progressDeadlineSeconds (ProgressDeadlineExceeded). recommender (Recreate) rolled out the typo'd tag 2.31 and cannot pull it; reviews is paused with image 1.8.0 waiting. In search, search-api (maxUnavailable 0, maxSurge 1, 2500m CPU per pod) cannot schedule its surge pod (Insufficient cpu) and may not scale an old pod down.", build: rollout_stuck },
    Scenario { name: "rollout-progressing", description: "Near miss: checkout is 40 s into a rolling update from revision 7 to 8 (25 % surge and unavailable): 3 old pods serve, one new pod is running and not yet ready, another is being created; Progressing=True ReplicaSetUpdated: nothing has failed.", build: rollout_progressing },
];

/// A Deployment between two revisions: `old_ready` pods of the old
/// template serve; the new template's pods are what the scenario makes
/// of them.
struct MidRollout<'a> {
    ns: &'a str,
    name: &'a str,
    replicas: i64,
    strategy: Value,
    old_spec: Value,
    new_spec: Value,
    old_revision: u32,
    old_ready: i64,
    /// When the new revision was applied, seconds before collection.
    rollout_ago: i64,
}

/// What [`mid_rollout`] built.
struct Built {
    new_rs: String,
    old_rs: String,
    new_pods: Vec<String>,
}

impl MidRollout<'_> {
    fn selector(&self) -> Vec<(&str, &str)> {
        vec![("app.kubernetes.io/name", self.name)]
    }

    /// The Deployment at `spec` and `revision` (status replaced later).
    fn deployment(&self, spec: &Value, revision: u32, r: Replicas, last_update: i64) -> Value {
        let mut d = workload::deployment(
            self.ns,
            self.name,
            86_400 * 90,
            &self.selector(),
            spec,
            r,
            revision,
            last_update,
        );
        d["spec"]["strategy"] = self.strategy.clone();
        d
    }

    /// A pod of `rs` (named by the ReplicaSet controller).
    fn pod(
        &self,
        rs: &Value,
        i: usize,
        created: i64,
        fate: &PodFate,
        states: &[ContainerState],
    ) -> Value {
        let rs_name = meta::name_of(rs);
        let name = pod_name(self.ns, rs_name, i);
        let spec = &rs["spec"]["template"]["spec"];
        let mut p = pod::pod(self.ns, &name, created, spec, fate, states);
        meta::set_generate_name(&mut p, &format!("{rs_name}-"));
        p["metadata"]["labels"] = rs["spec"]["template"]["metadata"]["labels"].clone();
        meta::set_owner(&mut p, rs);
        p
    }
}

/// What becomes of new pod `i` named `name`, placed at `placement`.
type NewPod<'a> = dyn FnMut(usize, &str, Placement) -> (PodFate, Vec<ContainerState>) + 'a;

/// Builds the Deployment, both ReplicaSets, the old pods (ready since the
/// old rollout) and one new pod per `new_states` entry, with the
/// controllers' events. `progressing` is the Deployment's condition.
fn mid_rollout(
    w: &mut World,
    m: &MidRollout<'_>,
    new_states: &mut NewPod<'_>,
    new_count: usize,
    progressing: Value,
) -> Built {
    let old_ago = 86_400 * 6;
    let new_revision = m.old_revision + 1;
    let full = Replicas {
        desired: m.replicas,
        current: m.replicas,
        ready: m.replicas,
    };
    let before = m.deployment(&m.old_spec, m.old_revision, full, old_ago);
    let mut d = m.deployment(&m.new_spec, new_revision, full, m.rollout_ago);
    let old = Replicas {
        desired: m.old_ready,
        current: m.old_ready,
        ready: m.old_ready,
    };
    let old_rs = workload::replica_set(&before, m.old_revision, old_ago, old);
    let mut old_pods = Vec::new();
    for i in 0..m.old_ready.max(0) as usize {
        let created = old_ago - 3 * i as i64;
        let pl = w.place(created - 1);
        let ready = [ContainerState::ready(old_ago - 12)];
        old_pods.push(m.pod(&old_rs, i, created, &PodFate::Placed(pl), &ready));
    }
    let mut new_pods = Vec::new();
    let mut new_ready = 0;
    for i in 0..new_count {
        let created = m.rollout_ago - 2 - 9 * i as i64;
        let pl = w.place(created - 1);
        let template = new_rs_template(&d, new_revision, m);
        let name = pod_name(m.ns, meta::name_of(&template), i);
        let (fate, states) = new_states(i, &name, pl);
        let p = m.pod(&template, i, created, &fate, &states);
        if let (
            PodFate::Placed(pl),
            Some(ContainerState::Running {
                started_ago,
                restarts: 0,
                ..
            }),
        ) = (&fate, states.first())
        {
            let c = &m.new_spec["containers"][0];
            let image = c["image"].as_str().unwrap_or("");
            let name = c["name"].as_str().unwrap_or("");
            w.cluster
                .add_all(event::normal_start(&p, name, image, &pl.node, *started_ago));
        }
        new_ready += i64::from(app::is_ready(&p));
        new_pods.push(p);
    }
    let new = Replicas {
        desired: new_count as i64,
        current: new_count as i64,
        ready: new_ready,
    };
    let new_rs = workload::replica_set(&d, new_revision, m.rollout_ago, new);
    for p in &mut new_pods {
        meta::set_owner(p, &new_rs);
    }
    d["status"] = rollout_status(m, new_count as i64, new_ready, progressing);
    scaling_events(w, &d, m, (&old_rs, &new_rs), new_count);
    let built = Built {
        new_rs: meta::name_of(&new_rs).to_string(),
        old_rs: meta::name_of(&old_rs).to_string(),
        new_pods: new_pods
            .iter()
            .map(|p| meta::name_of(p).to_string())
            .collect(),
    };
    w.cluster.add(d);
    w.cluster.add(old_rs);
    w.cluster.add(new_rs);
    w.cluster.add_all(old_pods);
    w.cluster.add_all(new_pods);
    built
}

/// The name the ReplicaSet controller gives pod `i` of `rs`.
fn pod_name(ns: &str, rs: &str, i: usize) -> String {
    format!("{rs}-{}", crate::ids::suffix(&format!("{ns}/{rs}/{i}"), 5))
}

/// The new ReplicaSet as the pods are built (its name, template and
/// labels; its status is written once the pods are known).
fn new_rs_template(d: &Value, revision: u32, m: &MidRollout<'_>) -> Value {
    let zero = Replicas {
        desired: 0,
        current: 0,
        ready: 0,
    };
    workload::replica_set(d, revision, m.rollout_ago, zero)
}

/// The Deployment's status mid-rollout (`calculateStatus` in sync.go).
fn rollout_status(m: &MidRollout<'_>, new: i64, new_ready: i64, progressing: Value) -> Value {
    let total = m.old_ready + new;
    let available = m.old_ready + new_ready;
    let max_unavailable = m.strategy["rollingUpdate"]["maxUnavailable"]
        .as_i64()
        .unwrap_or(m.replicas / 4);
    let at = crate::ids::ago(m.rollout_ago - 30);
    let availability = if available >= m.replicas - max_unavailable {
        json!({"type": "Available", "status": "True", "lastUpdateTime": crate::ids::ago(86_400 * 6), "lastTransitionTime": crate::ids::ago(86_400 * 6), "reason": "MinimumReplicasAvailable", "message": "Deployment has minimum availability."})
    } else {
        json!({"type": "Available", "status": "False", "lastUpdateTime": at, "lastTransitionTime": at, "reason": "MinimumReplicasUnavailable", "message": "Deployment does not have minimum availability."})
    };
    let mut status = json!({
        "observedGeneration": m.old_revision + 1,
        "replicas": total,
        "updatedReplicas": new,
        "readyReplicas": available,
        "availableReplicas": available,
        "conditions": [availability, progressing],
    });
    if total > available {
        status["unavailableReplicas"] = json!(total - available);
    }
    if available == 0 {
        if let Some(s) = status.as_object_mut() {
            s.remove("readyReplicas");
            s.remove("availableReplicas");
        }
    }
    status
}

/// `ScalingReplicaSet` events of the rollout's steps and the ReplicaSet
/// controller's `SuccessfulCreate` for each new pod.
fn scaling_events(
    w: &mut World,
    d: &Value,
    m: &MidRollout<'_>,
    (old_rs, new_rs): (&Value, &Value),
    new: usize,
) {
    let dc = Source::controller("deployment-controller");
    let rc = Source::controller("replicaset-controller");
    let (old_name, new_name) = (meta::name_of(old_rs), meta::name_of(new_rs));
    let mut steps = vec![format!("Scaled up replica set {new_name} to 1")];
    if m.old_ready < m.replicas {
        steps.push(format!(
            "Scaled down replica set {old_name} to {} from {}",
            m.old_ready, m.replicas
        ));
    }
    for n in 2..=new {
        steps.push(format!(
            "Scaled up replica set {new_name} to {n} from {}",
            n - 1
        ));
    }
    for (i, msg) in steps.iter().enumerate() {
        let at = m.rollout_ago - 1 - 4 * i as i64;
        w.cluster.add(event::event(
            m.ns,
            d,
            None,
            "Normal",
            "ScalingReplicaSet",
            msg,
            &dc,
            1,
            at,
            at,
        ));
    }
    for p in 0..new {
        let name = pod_name(m.ns, new_name, p);
        let at = m.rollout_ago - 2 - 9 * p as i64;
        let msg = format!("Created pod: {name}");
        w.cluster.add(event::event(
            m.ns,
            new_rs,
            None,
            "Normal",
            "SuccessfulCreate",
            &msg,
            &rc,
            1,
            at,
            at,
        ));
    }
}

fn progressing(rs: &str, ago: i64, timed_out: bool) -> Value {
    let at = crate::ids::ago(ago);
    if timed_out {
        json!({"type": "Progressing", "status": "False", "lastUpdateTime": at, "lastTransitionTime": at, "reason": "ProgressDeadlineExceeded", "message": format!("ReplicaSet \"{rs}\" has timed out progressing.")})
    } else {
        json!({"type": "Progressing", "status": "True", "lastUpdateTime": at, "lastTransitionTime": crate::ids::ago(86_400 * 6), "reason": "ReplicaSetUpdated", "message": format!("ReplicaSet \"{rs}\" is progressing.")})
    }
}

/// The checkout container of a revision: Go service, flags as args.
fn checkout_spec(image: &str, pool_flag: &str) -> Value {
    let mut c = app::container("checkout", image, 8080);
    c["args"] = json!(["--listen=:8080", pool_flag]);
    c["env"] = json!([
        {"name": "CART_API_URL", "value": "http://cart.shop.svc.cluster.local"},
        {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "checkout-db", "key": "password"}}}
    ]);
    json!({"containers": [c]})
}

/// The rolling-update strategy with the given limits.
fn rolling(surge: Value, unavailable: Value) -> Value {
    json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}})
}

/// The new RS name `mid_rollout` will give `name` at `revision`.
fn rs_name(ns: &str, name: &str, revision: u32) -> String {
    workload::replica_set_name(ns, name, revision).0
}

/// What Go's `flag` package prints for an unknown flag before exiting 2.
fn checkout_flag_log() -> String {
    "flag provided but not defined: -db-pool-szie\nUsage of /checkout:\n  -db-pool-size int\n    \tdatabase connection pool size (default 10)\n  -listen string\n    \taddress to listen on (default \":8080\")\n".to_string()
}

/// checkout 7 → 8: the new pods crash on the mistyped flag.
fn checkout_failing(w: &mut World) -> Vec<Finding> {
    let image = "ghcr.io/acme-shop/checkout:3.15.0";
    let m = MidRollout {
        ns: "shop",
        name: "checkout",
        replicas: 4,
        strategy: rolling(json!("25%"), json!("25%")),
        old_spec: checkout_spec("ghcr.io/acme-shop/checkout:3.14.2", "--db-pool-size=20"),
        new_spec: checkout_spec(image, "--db-pool-szie=20"),
        old_revision: 7,
        old_ready: 3,
        rollout_ago: 1_140,
    };
    let new_rs = rs_name("shop", "checkout", 8);
    let mut nodes = Vec::new();
    let b = mid_rollout(
        w,
        &m,
        &mut |i, name, pl| {
            nodes.push(pl.node.clone());
            let ended = 150 + 11 * i as i64;
            let st = ContainerState::Waiting {
                reason: "CrashLoopBackOff".into(),
                message: Some(common::crashloop_message(
                    &pod_ref("shop", name),
                    "checkout",
                    "5m0s",
                )),
                restarts: 7,
                last: Some(Terminated::new("Error", 2, ended + 1, ended)),
            };
            (PodFate::Placed(pl), vec![st])
        },
        2,
        progressing(&new_rs, 530, true),
    );
    let mut findings = Vec::new();
    for (i, name) in b.new_pods.iter().enumerate() {
        let p = pod_obj(w, "shop", name);
        let node = nodes.get(i).cloned().unwrap_or_default();
        let events = crashloop_events(
            &p,
            "checkout",
            image,
            &node,
            7,
            m.rollout_ago - 10,
            20 + 11 * i as i64,
        );
        w.cluster.add_all(events);
        w.cluster
            .add_log("shop", name, "checkout", true, &checkout_flag_log());
        w.cluster
            .add_log("shop", name, "checkout", false, &checkout_flag_log());
        findings.push(finding(
            "pod-crashloop",
            &pod("shop", name),
            &["exit code 2"],
        ));
    }
    let first = pod("shop", b.new_pods.first().map_or("", String::as_str));
    findings.push(
        finding(
            "rollout-failing",
            "Deployment/shop/checkout",
            &[
                &format!("{} (revision 8", b.new_rs),
                &format!("{} (revision 7", b.old_rs),
                "still serves 3 ready pods",
                "image ghcr.io/acme-shop/checkout:3.14.2 → ghcr.io/acme-shop/checkout:3.15.0",
                "args [\"--listen=:8080\", \"--db-pool-size=20\"] → [\"--listen=:8080\", \"--db-pool-szie=20\"]",
                "ProgressDeadlineExceeded",
            ],
        )
        .caused_by("pod-crashloop", &first),
    );
    findings
}

fn rollout_stuck() -> (Cluster, Vec<Finding>) {
    let mut w = baseline::world(&Baseline::default());
    w.cluster.namespace("search", 86_400 * 120);
    let mut findings = search_blocked(&mut w);
    namespace_with_neighbour(&mut w, "shop");
    findings.extend(checkout_failing(&mut w));
    findings.extend(recommender_bad_tag(&mut w));
    findings.extend(reviews_paused(&mut w));
    (w.finish(), findings)
}

/// search-api: 3 pods of 2500m CPU fill the three nodes; revision 5 only
/// bumps the image, but its surge pod fits nowhere and maxUnavailable 0
/// keeps every old pod.
fn search_blocked(w: &mut World) -> Vec<Finding> {
    let spec = |image: &str| {
        let mut c = app::container("search-api", image, 8080);
        app::resources(
            &mut c,
            Some("2500m"),
            Some("3Gi"),
            Some("2500m"),
            Some("3Gi"),
        );
        json!({"containers": [c]})
    };
    let m = MidRollout {
        ns: "search",
        name: "search-api",
        replicas: 3,
        strategy: rolling(json!(1), json!(0)),
        old_spec: spec("ghcr.io/acme-shop/search-api:5.3.0"),
        new_spec: spec("ghcr.io/acme-shop/search-api:5.4.0"),
        old_revision: 4,
        old_ready: 3,
        rollout_ago: 900,
    };
    let message = common::insufficient_message(3, "cpu");
    let new_rs = rs_name("search", "search-api", 5);
    let b = mid_rollout(
        w,
        &m,
        &mut |_, _, _| {
            let fate = PodFate::Unschedulable {
                message: message.clone(),
                since_ago: 898,
            };
            (fate, vec![])
        },
        1,
        progressing(&new_rs, 290, true),
    );
    let mut findings = Vec::new();
    for name in &b.new_pods {
        let p = pod_obj(w, "search", name);
        w.cluster.add(event::series_event(
            "search",
            &p,
            "Warning",
            "FailedScheduling",
            "Scheduling",
            &message,
            "default-scheduler",
            "default-scheduler-ip-10-0-0-12",
            898,
            Some((14, 37)),
        ));
        findings.push(finding(
            "pod-unschedulable",
            &pod("search", name),
            &["Insufficient cpu"],
        ));
    }
    let first = pod("search", b.new_pods.first().map_or("", String::as_str));
    findings.push(
        finding(
            "rollout-blocked",
            "Deployment/search/search-api",
            &[
                "maxUnavailable resolves to 0 for 3 replicas (maxSurge 1)",
                "3 Insufficient cpu",
                &b.new_rs,
            ],
        )
        .caused_by("pod-unschedulable", &first),
    );
    findings
}

/// recommender (Recreate, 1 replica) 3 → 4: tag `2.31` for `2.3.1`.
fn recommender_bad_tag(w: &mut World) -> Vec<Finding> {
    let image = "ghcr.io/acme-shop/recommender:2.31";
    let m = MidRollout {
        ns: "shop",
        name: "recommender",
        replicas: 1,
        strategy: json!({"type": "Recreate"}),
        old_spec: json!({"containers": [app::container("recommender", "ghcr.io/acme-shop/recommender:2.3.0", 8080)]}),
        new_spec: json!({"containers": [app::container("recommender", image, 8080)]}),
        old_revision: 3,
        old_ready: 0,
        rollout_ago: 1_020,
    };
    let error = format!("rpc error: code = NotFound desc = failed to pull and unpack image \"{image}\": failed to resolve reference \"{image}\": {image}: not found");
    let new_rs = rs_name("shop", "recommender", 4);
    let mut nodes = Vec::new();
    let b = mid_rollout(
        w,
        &m,
        &mut |_, _, pl| {
            nodes.push(pl.node.clone());
            let msg = format!("Back-off pulling image \"{image}\": ErrImagePull: {error}");
            (
                PodFate::Placed(pl),
                vec![ContainerState::waiting("ImagePullBackOff", Some(msg))],
            )
        },
        1,
        progressing(&new_rs, 410, true),
    );
    let mut findings = Vec::new();
    for (name, node) in b.new_pods.iter().zip(&nodes) {
        let p = pod_obj(w, "shop", name);
        w.cluster.add_all(pull_failure_events(
            &p,
            "recommender",
            image,
            node,
            &error,
            m.rollout_ago - 4,
        ));
        findings.push(finding("pod-image-not-found", &pod("shop", name), &[image]));
    }
    let first = pod("shop", b.new_pods.first().map_or("", String::as_str));
    findings.push(
        finding(
            "rollout-deadline-exceeded",
            "Deployment/shop/recommender",
            &[
                &format!("ReplicaSet \"{}\" has timed out progressing.", b.new_rs),
                "1 of 1 replicas updated",
                "image ghcr.io/acme-shop/recommender:2.3.0 → ghcr.io/acme-shop/recommender:2.31",
            ],
        )
        .caused_by("pod-image-not-found", &first),
    );
    findings
}

/// reviews: paused at revision 5 (1.7.4) with 1.8.0 in its template.
fn reviews_paused(w: &mut World) -> Vec<Finding> {
    let mut spec = app::AppSpec::new(
        "shop",
        "reviews",
        "ghcr.io/acme-shop/reviews:1.7.4",
        8080,
        2,
        86_400 * 80,
        86_400 * 9,
    );
    spec.revision = 5;
    app::deploy_healthy(w, &spec);
    let at = crate::ids::ago(3_400);
    if let Some(d) = w.cluster.find_mut("shop", "deployments", "reviews") {
        d["spec"]["paused"] = json!(true);
        d["spec"]["template"]["spec"]["containers"][0]["image"] =
            json!("ghcr.io/acme-shop/reviews:1.8.0");
        d["metadata"]["generation"] = json!(7);
        d["status"]["observedGeneration"] = json!(7);
        d["status"]["conditions"][1] = json!({"type": "Progressing", "status": "Unknown", "lastUpdateTime": at, "lastTransitionTime": at, "reason": "DeploymentPaused", "message": "Deployment is paused"});
        meta::add_managed(
            d,
            "kubectl-rollout",
            "Update",
            3_400,
            json!({"f:spec": {"f:paused": {}}}),
            None,
        );
        meta::add_managed(
            d,
            "kubectl-edit",
            "Update",
            3_100,
            json!({"f:spec": {"f:template": {}}}),
            None,
        );
    }
    vec![finding(
        "rollout-paused",
        &obj("Deployment", "shop", "reviews"),
        &[
            "spec.paused is true",
            "image ghcr.io/acme-shop/reviews:1.7.4 → ghcr.io/acme-shop/reviews:1.8.0",
        ],
    )]
}

fn rollout_progressing() -> (Cluster, Vec<Finding>) {
    let mut w = baseline::world(&Baseline::default());
    namespace_with_neighbour(&mut w, "shop");
    let m = MidRollout {
        ns: "shop",
        name: "checkout",
        replicas: 4,
        strategy: rolling(json!("25%"), json!("25%")),
        old_spec: checkout_spec("ghcr.io/acme-shop/checkout:3.14.2", "--db-pool-size=20"),
        new_spec: checkout_spec("ghcr.io/acme-shop/checkout:3.15.0", "--db-pool-size=40"),
        old_revision: 7,
        old_ready: 3,
        rollout_ago: 40,
    };
    let new_rs = rs_name("shop", "checkout", 8);
    mid_rollout(
        &mut w,
        &m,
        &mut |i, _, pl| {
            let st = if i == 0 {
                ContainerState::Running {
                    started_ago: 31,
                    ready: false,
                    restarts: 0,
                    last: None,
                }
            } else {
                ContainerState::waiting("ContainerCreating", None)
            };
            (PodFate::Placed(pl), vec![st])
        },
        2,
        progressing(&new_rs, 30, false),
    );
    (w.finish(), Vec::new())
}
