//! The storage layer on small fixtures: each case is one claim (and its
//! pod) as the PersistentVolume controller, the scheduler and the
//! attach/detach controller leave them.

use serde_json::{json, Value};

use super::run;
use crate::context::Unavailable;
use crate::testkit::{obj, EventFixture, Fixture, PodFixture};

const NS: &str = "data";

fn claim(name: &str, class: Option<&str>, phase: &str) -> Value {
    let mut spec = json!({"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}}, "volumeMode": "Filesystem"});
    if let Some(c) = class {
        spec["storageClassName"] = json!(c);
    }
    json!({"metadata": {"name": name, "namespace": NS, "creationTimestamp": "2026-11-20T13:00:00Z"},
           "spec": spec, "status": {"phase": phase}})
}

fn class(name: &str, mode: &str, default: bool) -> Value {
    let annotations = if default {
        json!({"storageclass.kubernetes.io/is-default-class": "true"})
    } else {
        json!({})
    };
    json!({"metadata": {"name": name, "annotations": annotations},
           "provisioner": "ebs.csi.aws.com", "volumeBindingMode": mode})
}

fn pvc_event(name: &str, type_: &str, reason: &str, message: &str) -> Value {
    EventFixture::about(NS, "PersistentVolumeClaim", name)
        .type_(type_)
        .says(reason, message)
        .build()
}

/// A pending, unscheduled pod using claim `claim`, with the scheduler's
/// message in its `PodScheduled` condition.
fn pending_pod(name: &str, claim: &str, message: &str) -> Value {
    let mut p = PodFixture::new(NS, name).build();
    p["spec"]["volumes"] = json!([{"name": "data", "persistentVolumeClaim": {"claimName": claim}}]);
    p["spec"].as_object_mut().map(|s| s.remove("nodeName"));
    p["status"] = json!({"phase": "Pending", "conditions": [
        {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message}]});
    p
}

fn rules_of(f: &Fixture) -> Vec<(String, String)> {
    run(&f.ctx())
        .into_iter()
        .map(|x| (x.rule, x.cause))
        .collect()
}

#[test]
fn no_class_and_no_default_is_a_finding_but_a_default_fills_it_in() {
    let mut f = Fixture::new(NS);
    f.ns.pvcs = vec![obj(claim("cache", None, "Pending"))];
    f.ns.events = vec![obj(pvc_event(
        "cache",
        "Normal",
        "FailedBinding",
        "no persistent volumes available for this claim and no storage class is set",
    ))];
    f.cluster.platform.storage_classes = vec![obj(class("gp2", "Immediate", false))];
    let found = rules_of(&f);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].1.contains("no StorageClass is annotated"),
        "{found:?}"
    );
    // A default class appeared: the controller writes it into the claim.
    f.cluster.platform.storage_classes = vec![obj(class("gp3", "Immediate", true))];
    assert!(rules_of(&f).is_empty());
}

#[test]
fn missing_class_needs_the_class_list_or_the_controllers_event() {
    let mut f = Fixture::new(NS);
    f.ns.pvcs = vec![obj(claim("data-db-0", Some("fast"), "Pending"))];
    f.cluster
        .unavailable
        .insert("storageclasses".into(), Unavailable::NotCollected);
    assert!(
        rules_of(&f).is_empty(),
        "no class list and no event: unknown"
    );
    f.ns.events = vec![obj(pvc_event(
        "data-db-0",
        "Warning",
        "ProvisioningFailed",
        "storageclass.storage.k8s.io \"fast\" not found",
    ))];
    let found = rules_of(&f);
    assert_eq!(found.len(), 1);
    assert!(found[0]
        .1
        .contains("\"fast\" names a StorageClass that does not exist"));
    // A bound claim is history whatever its events say.
    f.ns.pvcs = vec![obj(claim("data-db-0", Some("fast"), "Bound"))];
    assert!(rules_of(&f).is_empty());
}

#[test]
fn wait_for_first_consumer_is_a_finding_only_when_the_volume_blocks_the_pod() {
    let mut f = Fixture::new(NS);
    f.cluster.platform.storage_classes = vec![obj(class("local", "WaitForFirstConsumer", false))];
    f.ns.pvcs = vec![obj(claim("scratch", Some("local"), "Pending"))];
    f.ns.events = vec![obj(pvc_event(
        "scratch",
        "Normal",
        "WaitForFirstConsumer",
        "waiting for first consumer to be created before binding",
    ))];
    assert!(rules_of(&f).is_empty(), "no pod uses it yet");
    f.ns.pods = vec![obj(pending_pod(
        "worker-0",
        "scratch",
        "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.",
    ))];
    assert!(
        rules_of(&f).is_empty(),
        "the pod waits for cpu, not storage"
    );
    f.ns.pods = vec![obj(pending_pod(
        "worker-0",
        "scratch",
        "0/3 nodes are available: 3 node(s) didn't find available persistent volumes to bind. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.",
    ))];
    let found = run(&f.ctx());
    assert_eq!(found.len(), 1);
    assert!(found[0].cause.contains("WaitForFirstConsumer"));
    assert!(found[0].related.iter().any(|r| r.name == "worker-0"));
}

#[test]
fn provisioner_failures_are_quoted() {
    let mut f = Fixture::new(NS);
    f.cluster.platform.storage_classes = vec![obj(class("gp3", "Immediate", true))];
    f.ns.pvcs = vec![obj(claim("data", Some("gp3"), "Pending"))];
    let message = "failed to provision volume with StorageClass \"gp3\": rpc error: code = Internal desc = Could not create volume \"pvc-1\": UnauthorizedOperation: You are not authorized to perform this operation.";
    f.ns.events = vec![obj(pvc_event(
        "data",
        "Warning",
        "ProvisioningFailed",
        message,
    ))];
    let found = rules_of(&f);
    assert_eq!(found.len(), 1);
    assert!(found[0].1.contains("'ebs.csi.aws.com'"), "{found:?}");
    assert!(found[0].1.contains("UnauthorizedOperation"), "{found:?}");
}

#[test]
fn multi_attach_names_the_node_holding_the_volume() {
    let mut f = Fixture::new(NS);
    let mut blocked = PodFixture::new(NS, "web-2").build();
    blocked["spec"]["nodeName"] = json!("worker-2");
    blocked["spec"]["volumes"] =
        json!([{"name": "data", "persistentVolumeClaim": {"claimName": "web-data"}}]);
    blocked["status"] = json!({"phase": "Pending"});
    f.ns.pods = vec![obj(blocked)];
    let mut c = claim("web-data", Some("gp3"), "Bound");
    c["spec"]["volumeName"] = json!("pvc-9a");
    f.ns.pvcs = vec![obj(c)];
    f.ns.events = vec![obj(EventFixture::about(NS, "Pod", "web-2")
        .says("FailedAttachVolume", "Multi-Attach error for volume \"pvc-9a\" Volume is already exclusively attached to one node and can't be attached to another")
        .build())];
    f.cluster.platform.volume_attachments = vec![obj(json!({
        "metadata": {"name": "csi-0b1c"},
        "spec": {"attacher": "ebs.csi.aws.com", "nodeName": "worker-1", "source": {"persistentVolumeName": "pvc-9a"}},
        "status": {"attached": true}
    }))];
    let found = run(&f.ctx());
    assert_eq!(found.len(), 1);
    let cause = &found[0].cause;
    assert!(
        cause.contains("VolumeAttachment csi-0b1c holds it on node worker-1"),
        "{cause}"
    );
    assert!(cause.contains("claim web-data"), "{cause}");
    assert_eq!(found[0].object.name, "web-data");
    // Once the pod runs, the error is history.
    f.ns.pods = vec![obj(PodFixture::new(NS, "web-2").build())];
    assert!(run(&f.ctx()).is_empty());
}

#[test]
fn a_silent_external_provisioner_is_a_finding_after_five_minutes() {
    let mut f = Fixture::new(NS);
    f.cluster.platform.storage_classes = vec![obj(class("nfs", "Immediate", true))];
    f.ns.pvcs = vec![obj(claim("shared", Some("nfs"), "Pending"))];
    let waiting = "Waiting for a volume to be created either by the external provisioner 'nfs.csi.k8s.io' or manually by the system administrator. If volume creation is delayed, please verify that the provisioner is running and correctly registered.";
    let mut ev = pvc_event("shared", "Normal", "ExternalProvisioning", waiting);
    // Seen for the last 30 s only: still provisioning.
    ev["firstTimestamp"] = json!("2026-11-20T14:31:40Z");
    f.ns.events = vec![obj(ev.clone())];
    assert!(rules_of(&f).is_empty());
    // Seen since 13:01: 91 minutes without a volume.
    ev["firstTimestamp"] = json!("2026-11-20T13:01:00Z");
    f.ns.events = vec![obj(ev)];
    let found = rules_of(&f);
    assert_eq!(found.len(), 1);
    assert!(
        found[0].1.contains("still waiting (ExternalProvisioning)"),
        "{found:?}"
    );
}

#[test]
fn node_affinity_conflict_names_the_volume_zone_and_the_nodes() {
    let mut f = Fixture::new(NS);
    let mut c = claim("data-search-0", Some("gp3"), "Bound");
    c["spec"]["volumeName"] = json!("pvc-7d");
    f.ns.pvcs = vec![obj(c)];
    f.ns.pods = vec![obj(pending_pod(
        "search-0",
        "data-search-0",
        "0/2 nodes are available: 2 node(s) had volume node affinity conflict. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.",
    ))];
    f.cluster.platform.persistent_volumes = vec![obj(json!({
        "metadata": {"name": "pvc-7d"},
        "spec": {"nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
            {"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["eu-west-1c"]}]}]}}},
        "status": {"phase": "Bound"}
    }))];
    f.cluster.nodes = ["a", "b"]
        .iter()
        .map(|n| {
            obj(json!({"metadata": {"name": format!("node-{n}"),
                "labels": {"topology.kubernetes.io/zone": format!("eu-west-1{n}")}}}))
        })
        .collect();
    let found = run(&f.ctx());
    assert_eq!(found.len(), 1);
    let cause = &found[0].cause;
    assert!(
        cause.contains("topology.kubernetes.io/zone In [eu-west-1c]"),
        "{cause}"
    );
    assert!(cause.contains("eu-west-1a: node-a (NotReady)"), "{cause}");
    assert!(found[0].related.iter().any(|r| r.name == "search-0"));
}
