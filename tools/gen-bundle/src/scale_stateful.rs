//! The StatefulSets of a generated cluster: about one app in twenty keeps
//! state, with one `gp3` volume per replica (claim, bound EBS volume,
//! attachment to the pod's node), the StorageClasses EKS clusters have, and
//! pods named `<set>-<ordinal>` as the StatefulSet controller names them.
//!
//! A stateful app is described like any other ([`AppDesc`] with `stateful`)
//! so its pods share placement, metrics and node allocation with the
//! Deployments'; only identity, ownership and volumes differ.

use serde_json::{json, Value};

use crate::builders::meta;
use crate::builders::workload::{self, Replicas};
use crate::scale::Fleet;
use crate::scale_apps;
use crate::scale_plan::{AppDesc, NsDesc, Plan};
use crate::stateful::{attachment, claim_and_volume, storage_class};

/// Replicas of every generated StatefulSet (a quorum of three).
const REPLICAS: u64 = 3;

/// Size of each replica's volume.
const VOLUME_SIZE: &str = "20Gi";

/// Turns a planned app into a healthy three-replica StatefulSet: no
/// injected failure, no Ingress or HPA (state is scaled by hand).
pub fn as_stateful(app: AppDesc) -> AppDesc {
    AppDesc {
        replicas: REPLICAS,
        failure: None,
        ingress: false,
        hpa: false,
        stateful: true,
        ..app
    }
}

/// `currentRevision` of the set, also every pod's `controller-revision-hash`.
fn revision(ns: &NsDesc, app: &AppDesc) -> String {
    format!(
        "{}-{}",
        app.name,
        crate::ids::template_hash(&format!("sts/{}/{}", ns.name, app.name))
    )
}

/// Name of replica `r` (`<set>-<r>`: the same after the pod is recreated)
/// and its revision label.
pub fn pod_name(ns: &NsDesc, app: &AppDesc, r: u64) -> (String, String) {
    (format!("{}-{r}", app.name), revision(ns, app))
}

/// Name of the claim of replica `r` (`<template>-<pod>`).
fn claim_name(app: &AppDesc, r: u64) -> String {
    format!("data-{}-{r}", app.name)
}

/// The StatefulSet with the given pod template, its status counted from
/// `pods` (its own pods; empty for a provisional owner reference).
pub fn stateful_set(ns: &NsDesc, app: &AppDesc, spec: &Value, pods: &[Value]) -> Value {
    let ready = pods.iter().filter(|p| crate::app::is_ready(p)).count() as i64;
    let r = Replicas {
        desired: app.replicas as i64,
        current: app.replicas as i64,
        ready,
    };
    let mut template = spec.clone();
    template["containers"][0]["volumeMounts"] = json!([{"name": "data", "mountPath": "/data"}]);
    let mut sts = workload::stateful_set(
        &ns.name,
        &app.name,
        app.created_ago,
        &[("app.kubernetes.io/name", &app.name)],
        &template,
        r,
        &app.name,
    );
    sts["spec"]["volumeClaimTemplates"] = json!([{
        "apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": VOLUME_SIZE}}, "storageClassName": "gp3", "volumeMode": "Filesystem"},
        "status": {"phase": "Pending"},
    }]);
    sts
}

/// Makes a pod built from the app's template a StatefulSet pod: no
/// `generateName`, ordinal labels, stable hostname, its own claim.
pub fn adapt_pod(pod: &mut Value, ns: &NsDesc, app: &AppDesc, r: u64) {
    let (name, rev) = pod_name(ns, app, r);
    if let Some(m) = pod["metadata"].as_object_mut() {
        m.remove("generateName");
    }
    let index = r.to_string();
    meta::add_labels(
        pod,
        &[
            ("apps.kubernetes.io/pod-index", &index),
            ("controller-revision-hash", &rev),
            ("statefulset.kubernetes.io/pod-name", &name),
        ],
    );
    pod["spec"]["hostname"] = json!(name);
    pod["spec"]["subdomain"] = json!(app.name);
    pod["spec"]["containers"][0]["volumeMounts"] = json!([{"name": "data", "mountPath": "/data"}]);
    let claim = json!({"name": "data", "persistentVolumeClaim": {"claimName": claim_name(app, r)}});
    match pod["spec"]["volumes"].as_array_mut() {
        Some(v) => v.insert(0, claim),
        None => pod["spec"]["volumes"] = json!([claim]),
    }
}

/// One replica's storage: its bound claim, the volume and the node the
/// volume is attached to (its pod's).
pub struct ReplicaVolume {
    /// The PersistentVolumeClaim (namespaced).
    pub claim: Value,
    /// The PersistentVolume it is bound to.
    pub volume: Value,
    /// The node of the replica's pod.
    pub node: String,
}

/// Each replica's bound claim and volume, in the zone of its pod's node.
pub fn volumes_of(ns: &NsDesc, app: &AppDesc, fleet: &Fleet) -> Vec<ReplicaVolume> {
    (0..app.replicas)
        .map(|r| {
            let node = scale_apps::node_of(app, r, fleet);
            let (claim, volume) = claim_and_volume(
                &ns.name,
                &claim_name(app, r),
                VOLUME_SIZE,
                &node.zone,
                app.created_ago - 30 * r as i64,
            );
            ReplicaVolume {
                claim,
                volume,
                node: node.name,
            }
        })
        .collect()
}

/// Every stateful app's volumes, for the cluster-scoped lists.
fn volumes<'p>(plan: &'p Plan, fleet: &'p Fleet) -> impl Iterator<Item = ReplicaVolume> + 'p {
    plan.namespaces.iter().flat_map(move |ns| {
        ns.apps
            .iter()
            .filter(|a| a.stateful)
            .flat_map(move |app| volumes_of(ns, app, fleet))
    })
}

/// The PersistentVolumes of every claim.
pub fn persistent_volumes<'p>(
    plan: &'p Plan,
    fleet: &'p Fleet,
) -> impl Iterator<Item = Value> + 'p {
    volumes(plan, fleet).map(|v| v.volume)
}

/// The attachment of every volume to the node its pod runs on.
pub fn volume_attachments<'p>(
    plan: &'p Plan,
    fleet: &'p Fleet,
) -> impl Iterator<Item = Value> + 'p {
    volumes(plan, fleet).map(|v| attachment(meta::name_of(&v.volume), &v.node))
}

/// The StorageClasses of an EKS cluster with the EBS CSI add-on: `gp3`
/// (the default) and the legacy in-tree `gp2`.
pub fn storage_classes() -> Vec<Value> {
    let mut gp3 = storage_class("gp3", "ebs.csi.aws.com", 86_400 * 200);
    meta::add_annotations(
        &mut gp3,
        &[("storageclass.kubernetes.io/is-default-class", "true")],
    );
    gp3["parameters"] = json!({"type": "gp3", "encrypted": "true"});
    let mut gp2 = storage_class("gp2", "kubernetes.io/aws-ebs", crate::baseline::CLUSTER_AGE);
    gp2["parameters"] = json!({"type": "gp2", "fsType": "ext4"});
    vec![gp3, gp2]
}
