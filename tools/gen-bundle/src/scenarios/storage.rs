//! Claims that never bind and a volume held on another node; and the
//! near miss: a `WaitForFirstConsumer` claim no pod uses yet and a claim
//! provisioned seconds before collection.
//!
//! Shapes and messages from the PersistentVolume controller
//! (`pkg/controller/volume/persistentvolume/pv_controller.go`): a claim
//! naming a missing class gets Warning `ProvisioningFailed`
//! `storageclass.storage.k8s.io "<class>" not found` on every sync; a
//! delayed-binding claim Normal `WaitForFirstConsumer` `waiting for first
//! consumer to be created before binding`, then `ExternalProvisioning`,
//! the provisioner's `Provisioning` and `ProvisioningSucceeded`. The
//! scheduler reports a pod of an unbound immediate claim with `0/N nodes
//! are available: pod has unbound immediate PersistentVolumeClaims.`; the
//! attach/detach controller a ReadWriteOnce volume held by a pod on
//! another node with `FailedAttachVolume` `Multi-Attach error for volume
//! "<pv>" Volume is already used by pod(s) <pod>`, and the kubelet gives
//! up with `FailedMount` `Unable to attach or mount volumes: unmounted
//! volumes=[…], unattached volumes=[…]: timed out waiting for the
//! condition`.

use serde_json::{json, Value};

use super::common::pod_obj;
use super::Scenario;
use crate::app::{self, AppSpec};
use crate::baseline::{self, Baseline};
use crate::builders::event::{self, Source};
use crate::builders::node::M5_XLARGE;
use crate::builders::pod::{self, ContainerState, Placement, PodFate};
use crate::builders::{meta, workload};
use crate::cluster::Cluster;
use crate::expected::{finding, obj, pod, Finding};
use crate::ids;
use crate::stateful::{attachment, storage_class};
use crate::world::World;

/// The storage scenarios.
pub const SCENARIOS: &[Scenario] = &[
    Scenario { name: "pvc-pending", description: "In data, the postgres StatefulSet's claim data-postgres-0 names StorageClass fast-ssd, which does not exist (the cluster has gp3, the default, and gp2): the claim stays Pending and postgres-0 is unschedulable (pod has unbound immediate PersistentVolumeClaims). The search StatefulSet's pod search-0 is unschedulable: its claim is bound to an EBS volume in us-east-1d, where no node is left (volume node affinity conflict on all 4 nodes). The uploads Deployment's rollout put its new pod on ip-10-0-4-88 while the old pod still runs on ip-10-0-1-17 with the ReadWriteOnce volume attached there: Multi-Attach error, and the new pod's mount times out.", build: pvc_pending },
    Scenario { name: "pvc-wait-first-consumer", description: "Near miss: the reports-cache claim uses the WaitForFirstConsumer class gp3 and no pod uses it yet (Pending, WaitForFirstConsumer events: normal); the exports claim was provisioned and bound 5 seconds before collection for the exporter pod that just started.", build: pvc_wait_first_consumer },
];

const NS: &str = "data";
const CONTROLLER: &str = "persistentvolume-controller";

/// The world of both scenarios: a fourth node in us-east-1a (beside
/// ip-10-0-1-17) and the EKS StorageClasses gp3 (default) and gp2.
fn world() -> World {
    let mut b = Baseline::default();
    b.nodes.push(("10.0.4.88".into(), M5_XLARGE));
    let mut w = baseline::world(&b);
    w.cluster.namespace(NS, 86_400 * 120);
    let mut gp3 = storage_class("gp3", "ebs.csi.aws.com", 86_400 * 200);
    meta::add_annotations(
        &mut gp3,
        &[("storageclass.kubernetes.io/is-default-class", "true")],
    );
    gp3["parameters"] = json!({"type": "gp3", "encrypted": "true"});
    let mut gp2 = storage_class("gp2", "kubernetes.io/aws-ebs", baseline::CLUSTER_AGE);
    gp2["parameters"] = json!({"type": "gp2", "fsType": "ext4"});
    w.cluster.add_all([gp3, gp2]);
    w
}

/// A Pending claim as the API server stores it.
fn pending_claim(name: &str, class: &str, size: &str, created_ago: i64) -> Value {
    let mut pvc = meta::object("v1", "PersistentVolumeClaim", Some(NS), name, created_ago);
    pvc["metadata"]["finalizers"] = json!(["kubernetes.io/pvc-protection"]);
    pvc["spec"] = json!({
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": size}},
        "storageClassName": class,
        "volumeMode": "Filesystem",
    });
    pvc["status"] = json!({"phase": "Pending"});
    pvc
}

fn controller_event(
    obj: &Value,
    kind: &str,
    reason: &str,
    message: &str,
    count: u32,
    first: i64,
    last: i64,
) -> Value {
    event::event(
        NS,
        obj,
        None,
        kind,
        reason,
        message,
        &Source::controller(CONTROLLER),
        count,
        first,
        last,
    )
}

fn pvc_pending() -> (Cluster, Vec<Finding>) {
    let mut w = world();
    let mut findings = missing_class(&mut w);
    findings.extend(multi_attach(&mut w));
    findings.extend(zone_conflict(&mut w));
    (w.finish(), findings)
}

/// postgres-0's claim names fast-ssd: created 25 minutes ago, never bound.
fn missing_class(w: &mut World) -> Vec<Finding> {
    let age = 1_500;
    let message = "0/4 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/4 nodes are available: 4 Preemption is not helpful for scheduling.";
    let member = Member {
        name: "postgres",
        image: "docker.io/library/postgres:16.4",
        port: 5432,
        created_ago: age,
    };
    let pod_name = unschedulable_member(w, &member, message, age - 1);
    for sts in w.cluster.objects_mut(NS, "statefulsets") {
        if meta::name_of(sts) == "postgres" {
            sts["spec"]["volumeClaimTemplates"] = json!([{
                "apiVersion": "v1", "kind": "PersistentVolumeClaim",
                "metadata": {"name": "data"},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "20Gi"}}, "storageClassName": "fast-ssd", "volumeMode": "Filesystem"},
                "status": {"phase": "Pending"},
            }]);
        }
    }
    let claim_name = format!("data-{pod_name}");
    let mut claim = pending_claim(&claim_name, "fast-ssd", "20Gi", age - 1);
    meta::add_labels(&mut claim, &[("app.kubernetes.io/name", "postgres")]);
    let failed = controller_event(
        &claim,
        "Warning",
        "ProvisioningFailed",
        "storageclass.storage.k8s.io \"fast-ssd\" not found",
        98,
        age - 1,
        7,
    );
    w.cluster.add_all([claim, failed]);
    let claim_key = obj("PersistentVolumeClaim", NS, &claim_name);
    vec![
        finding(
            "pvc-pending",
            &claim_key,
            &["\"fast-ssd\"", "does not exist", "gp3 (default)", &pod_name],
        ),
        finding(
            "pod-unschedulable",
            &pod(NS, &pod_name),
            &["pod has unbound immediate PersistentVolumeClaims"],
        )
        .caused_by("pvc-pending", &claim_key),
        finding(
            "statefulset-not-ready",
            &obj("StatefulSet", NS, "postgres"),
            &["postgres-0 (ordinal 0) is Pending"],
        )
        .caused_by("pod-unschedulable", &pod(NS, &pod_name)),
    ]
}

/// A one-replica StatefulSet: its name, image, port and age.
struct Member {
    name: &'static str,
    image: &'static str,
    port: i32,
    created_ago: i64,
}

/// A StatefulSet pod `<name>-0` the scheduler cannot place, with its
/// claim `data-<name>-0`.
fn unschedulable_member(w: &mut World, m: &Member, message: &str, age: i64) -> String {
    let name = m.name;
    let sel = [("app.kubernetes.io/name", name)];
    let mut c = app::container(name, m.image, m.port);
    c["volumeMounts"] = json!([{"name": "data", "mountPath": "/data"}]);
    let spec = json!({"containers": [c]});
    let r = workload::Replicas {
        desired: 1,
        current: 1,
        ready: 0,
    };
    let sts = workload::stateful_set(NS, name, m.created_ago, &sel, &spec, r, name);
    let member = format!("{name}-0");
    let mut pspec = spec.clone();
    pspec["hostname"] = json!(member);
    pspec["subdomain"] = json!(name);
    pspec["volumes"] =
        json!([{"name": "data", "persistentVolumeClaim": {"claimName": format!("data-{member}")}}]);
    let mut p = pod::pod(
        NS,
        &member,
        age,
        &pspec,
        &PodFate::Unschedulable {
            message: message.into(),
            since_ago: age - 1,
        },
        &[],
    );
    meta::set_generate_name(&mut p, &format!("{name}-"));
    let hash = workload::controller_revision_hash(&sts);
    meta::add_labels(
        &mut p,
        &[
            ("app.kubernetes.io/name", name),
            ("apps.kubernetes.io/pod-index", "0"),
            ("controller-revision-hash", &hash),
            ("statefulset.kubernetes.io/pod-name", &member),
        ],
    );
    meta::set_owner(&mut p, &sts);
    let sched = event::series_event(
        NS,
        &p,
        "Warning",
        "FailedScheduling",
        "Scheduling",
        message,
        "default-scheduler",
        "default-scheduler-ip-10-0-0-12",
        age - 1,
        Some(((age / 300).max(1) as u32, 120)),
    );
    w.cluster.add_all([sts, p, sched]);
    member
}

/// search-0 was deleted for a node upgrade; its EBS volume lives in
/// us-east-1d, where the node group has no node left.
fn zone_conflict(w: &mut World) -> Vec<Finding> {
    let message = "0/4 nodes are available: 4 node(s) had volume node affinity conflict. preemption: 0/4 nodes are available: 4 Preemption is not helpful for scheduling.";
    let search = Member {
        name: "search",
        image: "docker.io/opensearchproject/opensearch:2.17.1",
        port: 9200,
        created_ago: 86_400 * 30,
    };
    let member = unschedulable_member(w, &search, message, 960);
    let (claim, pv) = crate::stateful::claim_and_volume(
        NS,
        &format!("data-{member}"),
        "30Gi",
        "us-east-1d",
        86_400 * 30,
    );
    w.cluster.add_all([claim, pv]);
    let claim_key = obj("PersistentVolumeClaim", NS, &format!("data-{member}"));
    vec![
        finding(
            "volume-node-affinity-conflict",
            &claim_key,
            &[
                "topology.kubernetes.io/zone In [us-east-1d]",
                "us-east-1a: ip-10-0-1-17.ec2.internal, ip-10-0-4-88.ec2.internal",
                &member,
            ],
        ),
        finding(
            "pod-unschedulable",
            &pod(NS, &member),
            &["volume node affinity conflict"],
        )
        .caused_by("volume-node-affinity-conflict", &claim_key),
        // The StatefulSet's only ordinal never starts: the set is not ready
        // because of its pending pod.
        finding(
            "statefulset-not-ready",
            &obj("StatefulSet", NS, "search"),
            &["search-0 (ordinal 0) is Pending"],
        )
        .caused_by("pod-unschedulable", &pod(NS, &member)),
    ]
}

/// uploads rolled out 7 minutes ago: the new pod landed on ip-10-0-4-88,
/// the old one still runs on ip-10-0-1-17 (maxUnavailable 0), where the
/// EBS volume is attached.
fn multi_attach(w: &mut World) -> Vec<Finding> {
    let rollout = 420;
    let mut app = AppSpec::new(
        NS,
        "uploads",
        "ghcr.io/acme-shop/uploads:3.2.0",
        8080,
        1,
        86_400 * 60,
        rollout,
    );
    app.main_container()["volumeMounts"] = json!([{"name": "data", "mountPath": "/srv/uploads"}]);
    app.pod_spec["volumes"] =
        json!([{"name": "data", "persistentVolumeClaim": {"claimName": "uploads-data"}}]);
    let (old_node, new_node) = (w.place_on(0, 86_400 * 9), w.place_on(3, rollout - 1));
    let placed = new_node.clone();
    let d = app::deploy(w, &app, |_, _, _| {
        (
            PodFate::Placed(placed.clone()),
            vec![ContainerState::waiting("ContainerCreating", None)],
        )
    });
    let new_pod = d.pods.first().cloned().unwrap_or_default();
    let old_pod = keep_old_replica(w, &app, &old_node);
    let (claim, pv) =
        crate::stateful::claim_and_volume(NS, "uploads-data", "50Gi", "us-east-1a", 86_400 * 60);
    let pv_name = meta::name_of(&pv).to_string();
    let va = attachment(&pv_name, &old_node.node);
    let va_name = meta::name_of(&va).to_string();
    w.cluster.add_all([claim, pv, va]);
    let np = pod_obj(w, NS, &new_pod);
    let k = Source::kubelet(&new_node.node);
    let multi = format!(
        "Multi-Attach error for volume \"{pv_name}\" Volume is already used by pod(s) {old_pod}"
    );
    w.cluster.add_all([
        event::series_event(NS, &np, "Normal", "Scheduled", "Binding", &format!("Successfully assigned {NS}/{new_pod} to {}", new_node.node), "default-scheduler", "default-scheduler-ip-10-0-0-12", rollout - 1, None),
        event::event(NS, &np, None, "Warning", "FailedAttachVolume", &multi, &Source::controller("attachdetach-controller"), 1, rollout - 1, rollout - 1),
        event::event(NS, &np, None, "Warning", "FailedMount", "Unable to attach or mount volumes: unmounted volumes=[data], unattached volumes=[data]: timed out waiting for the condition", &k, 3, rollout - 122, 58),
    ]);
    let claim_key = obj("PersistentVolumeClaim", NS, "uploads-data");
    vec![
        finding(
            "volume-multi-attach",
            &claim_key,
            &[
                &pv_name,
                &old_pod,
                &old_node.node,
                &va_name,
                "same Deployment uploads",
                "Recreate",
            ],
        ),
        finding(
            "pod-mount-failed",
            &pod(NS, &new_pod),
            &["Multi-Attach error"],
        )
        .caused_by("volume-multi-attach", &claim_key),
    ]
}

/// During the rollout the previous ReplicaSet keeps its Running pod (on
/// `node`) until the new one is ready; returns that pod's name.
fn keep_old_replica(w: &mut World, app: &AppSpec, old_node: &Placement) -> String {
    let (old_rs, old_hash) = workload::replica_set_name(NS, "uploads", app.revision - 1);
    for rs in w.cluster.objects_mut(NS, "replicasets") {
        if meta::name_of(rs) == old_rs {
            rs["spec"]["replicas"] = json!(1);
            rs["status"] = json!({"replicas": 1, "fullyLabeledReplicas": 1, "readyReplicas": 1, "availableReplicas": 1, "observedGeneration": 1});
        }
    }
    for dep in w.cluster.objects_mut(NS, "deployments") {
        if meta::name_of(dep) == "uploads" {
            dep["status"]["replicas"] = json!(2);
            dep["status"]["updatedReplicas"] = json!(1);
            dep["status"]["readyReplicas"] = json!(1);
            dep["status"]["availableReplicas"] = json!(1);
            dep["status"]["unavailableReplicas"] = json!(1);
        }
    }
    let old_rs_obj = w
        .cluster
        .objects(NS, "replicasets")
        .iter()
        .find(|r| meta::name_of(r) == old_rs)
        .cloned()
        .unwrap_or(Value::Null);
    let old_pod = format!("{old_rs}-{}", ids::suffix(&format!("{NS}/{old_rs}/0"), 5));
    let mut p = pod::pod(
        NS,
        &old_pod,
        86_400 * 9,
        &app.pod_spec,
        &PodFate::Placed(old_node.clone()),
        &[ContainerState::ready(86_400 * 9 - 12)],
    );
    meta::set_generate_name(&mut p, &format!("{old_rs}-"));
    meta::add_labels(
        &mut p,
        &[
            ("app.kubernetes.io/name", "uploads"),
            ("pod-template-hash", &old_hash),
        ],
    );
    meta::set_owner(&mut p, &old_rs_obj);
    w.cluster.add(p);
    old_pod
}

fn pvc_wait_first_consumer() -> (Cluster, Vec<Finding>) {
    let mut w = world();
    // No pod uses reports-cache yet: binding waits, as the class says.
    let cache = pending_claim("reports-cache", "gp3", "10Gi", 2_700);
    let waiting = event::series_event(
        NS,
        &cache,
        "Normal",
        "WaitForFirstConsumer",
        "",
        "waiting for first consumer to be created before binding",
        CONTROLLER,
        "",
        2_700,
        Some((180, 3)),
    );
    w.cluster.add_all([cache, waiting]);
    // exporter started 3 s ago; its claim was provisioned for it.
    let mut app = AppSpec::new(
        NS,
        "exporter",
        "ghcr.io/acme-shop/exporter:1.4.0",
        8080,
        1,
        12,
        12,
    );
    app.main_container()["volumeMounts"] = json!([{"name": "exports", "mountPath": "/exports"}]);
    app.pod_spec["volumes"] =
        json!([{"name": "exports", "persistentVolumeClaim": {"claimName": "exports"}}]);
    let d = app::deploy(&mut w, &app, |_, _, pl| {
        (PodFate::Placed(pl), vec![ContainerState::ready(3)])
    });
    let node = d.nodes.first().cloned().flatten().unwrap_or_default();
    let zone = w
        .nodes
        .iter()
        .find(|n| n.name == node)
        .map(|n| n.zone.clone())
        .unwrap_or_default();
    let (mut claim, pv) = crate::stateful::claim_and_volume(NS, "exports", "20Gi", &zone, 12);
    claim["metadata"]["annotations"]["volume.kubernetes.io/selected-node"] = json!(node);
    let pv_name = meta::name_of(&pv).to_string();
    let provisioner =
        "ebs.csi.aws.com_ebs-csi-controller-6d8f7b9c5-x2k4p_2f0d3c1e-8b7a-4e5f-9c6d-1a2b3c4d5e6f";
    let events = [
        controller_event(&claim, "Normal", "WaitForFirstConsumer", "waiting for first consumer to be created before binding", 1, 12, 12),
        controller_event(&claim, "Normal", "ExternalProvisioning", "Waiting for a volume to be created either by the external provisioner 'ebs.csi.aws.com' or manually by the system administrator. If volume creation is delayed, please verify that the provisioner is running and correctly registered.", 2, 11, 9),
        event::event(NS, &claim, None, "Normal", "Provisioning", &format!("External provisioner is provisioning volume for claim \"{NS}/exports\""), &Source::controller(provisioner), 1, 11, 11),
        event::event(NS, &claim, None, "Normal", "ProvisioningSucceeded", &format!("Successfully provisioned volume {pv_name}"), &Source::controller(provisioner), 1, 5, 5),
    ];
    w.cluster.add_all([claim, pv]);
    w.cluster.add_all(events);
    (w.finish(), Vec::new())
}
