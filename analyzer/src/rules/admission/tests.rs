use serde_json::json;

use super::*;
use crate::testkit::{obj, EventFixture, Fixture};

const QUOTA_MESSAGE: &str = "Error creating: pods \"checkout-5d8f7c9b6-x2x7q\" is forbidden: exceeded quota: compute-quota, requested: requests.cpu=500m, used: requests.cpu=2, limited: requests.cpu=2";

fn replica_set(wanted: i32, created: i32, ready: i32) -> serde_json::Value {
    json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": "checkout-5d8f7c9b6", "namespace": "shop", "uid": "rs-1",
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "checkout", "uid": "d-1", "controller": true}]},
        "spec": {"replicas": wanted, "selector": {"matchLabels": {"app": "checkout"}},
            "template": {"metadata": {"labels": {"app": "checkout"}},
                "spec": {"containers": [{"name": "checkout", "image": "x",
                    "resources": {"requests": {"cpu": "500m"}}}]}}},
        "status": {"replicas": created, "readyReplicas": ready}})
}

fn quota(used: &str) -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "ResourceQuota",
        "metadata": {"name": "compute-quota", "namespace": "shop"},
        "spec": {"hard": {"requests.cpu": "2"}},
        "status": {"hard": {"requests.cpu": "2"}, "used": {"requests.cpu": used}}})
}

fn fixture(wanted: i32, created: i32, ready: i32) -> Fixture {
    let mut fx = Fixture::new("shop");
    fx.ns
        .replicasets
        .push(obj(replica_set(wanted, created, ready)));
    fx.ns.events.push(obj(EventFixture::about(
        "shop",
        "ReplicaSet",
        "checkout-5d8f7c9b6",
    )
    .says("FailedCreate", QUOTA_MESSAGE)
    .count(14)
    .build()));
    fx
}

#[test]
fn a_replica_set_refused_by_its_quota_names_the_quota_and_its_usage() {
    let mut fx = fixture(6, 4, 4);
    fx.ns.resource_quotas.push(obj(quota("2")));
    let out = run(&fx.ctx());
    assert_eq!(out.len(), 1, "{out:#?}");
    let f = &out[0];
    assert_eq!(f.rule, "admission-quota-exceeded");
    assert_eq!(f.object.to_string(), "ReplicaSet/shop/checkout-5d8f7c9b6");
    assert_eq!(f.severity, Severity::Error);
    for part in [
        "ResourceQuota compute-quota",
        "requests.cpu is capped at 2 with 2 used (100 %)",
        "asks for 500m",
        "14 refused creations",
        "4 of 6 pods exist",
    ] {
        assert!(f.cause.contains(part), "{part} not in {}", f.cause);
    }
    assert!(f
        .related
        .iter()
        .any(|r| r.to_string() == "Deployment/shop/checkout"));
    assert!(f
        .next_steps
        .iter()
        .any(|s| s.command == "kubectl -n shop describe quota compute-quota"));
}

#[test]
fn no_ready_pod_is_critical_and_a_quota_with_room_again_is_a_warning() {
    let mut fx = fixture(2, 0, 0);
    fx.ns.resource_quotas.push(obj(quota("2")));
    assert_eq!(run(&fx.ctx())[0].severity, Severity::Critical);
    let mut fx = fixture(6, 4, 4);
    fx.ns.resource_quotas.push(obj(quota("1")));
    let out = run(&fx.ctx());
    assert_eq!(out[0].severity, Severity::Warning);
    assert!(
        out[0].cause.contains("next retry should succeed"),
        "{}",
        out[0].cause
    );
}

#[test]
fn a_controller_with_all_its_pods_or_created_since_is_silent() {
    // Every wanted pod exists: the refusal is history.
    let fx = fixture(4, 4, 4);
    assert!(run(&fx.ctx()).is_empty());
    // A SuccessfulCreate after the last refusal: creations go through again.
    let mut fx = fixture(6, 5, 5);
    let mut ok = EventFixture::about("shop", "ReplicaSet", "checkout-5d8f7c9b6")
        .normal()
        .says("SuccessfulCreate", "Created pod: checkout-5d8f7c9b6-abcde")
        .build();
    ok["lastTimestamp"] = json!("2026-11-20T14:32:40Z");
    fx.ns.events.push(obj(ok));
    assert!(run(&fx.ctx()).is_empty());
    // An unclassified failure (a terminating namespace) is not admission.
    let mut fx = Fixture::new("shop");
    fx.ns.replicasets.push(obj(replica_set(2, 0, 0)));
    fx.ns.events.push(obj(EventFixture::about("shop", "ReplicaSet", "checkout-5d8f7c9b6")
        .says("FailedCreate", "Error creating: pods \"checkout-5d8f7c9b6-x\" is forbidden: unable to create new content in namespace shop because it is being terminated")
        .build()));
    assert!(run(&fx.ctx()).is_empty());
}

#[test]
fn a_replica_failure_condition_stands_in_for_expired_events() {
    let mut fx = Fixture::new("shop");
    let mut rs = replica_set(3, 0, 0);
    rs["status"]["conditions"] = json!([{"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate",
        "message": "pods \"checkout-5d8f7c9b6-x2x7q\" is forbidden: error looking up service account shop/checkout: serviceaccount \"checkout\" not found"}]);
    fx.ns.replicasets.push(obj(rs));
    let out = run(&fx.ctx());
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].rule, "admission-service-account-missing");
    assert!(out[0].cause.contains("ServiceAccount checkout"));
    assert!(out[0].cause.contains("condition ReplicaFailure"));
}

#[test]
fn pod_security_names_the_enforce_label() {
    let mut fx = Fixture::new("shop");
    fx.cluster.namespaces.push(obj(json!({"apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": "shop", "labels": {"pod-security.kubernetes.io/enforce": "restricted"}}})));
    let mut job = json!({"apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": "migrate", "namespace": "shop"},
        "spec": {"template": {"spec": {"containers": [{"name": "m", "image": "x"}]}}},
        "status": {}});
    job["spec"]["parallelism"] = json!(1);
    fx.ns.jobs.push(obj(job));
    fx.ns.events.push(obj(EventFixture::about("shop", "Job", "migrate")
        .says("FailedCreate", "Error creating: pods \"migrate-7x2kq\" is forbidden: violates PodSecurity \"restricted:latest\": allowPrivilegeEscalation != false (container \"m\" must set securityContext.allowPrivilegeEscalation=false), runAsNonRoot != true (pod or container \"m\" must set securityContext.runAsNonRoot=true)")
        .build()));
    let out = run(&fx.ctx());
    assert_eq!(out.len(), 1, "{out:#?}");
    assert_eq!(out[0].rule, "admission-pod-security");
    assert!(out[0]
        .cause
        .contains("pod-security.kubernetes.io/enforce=restricted"));
    assert!(out[0]
        .cause
        .contains("2 check(s): allowPrivilegeEscalation != false, runAsNonRoot != true"));
}

#[test]
fn an_unreachable_webhook_names_its_configuration_and_backend() {
    let mut fx = fixture(2, 0, 0);
    fx.ns.events.clear();
    fx.ns.events.push(obj(EventFixture::about("shop", "ReplicaSet", "checkout-5d8f7c9b6")
        .says("FailedCreate", "Error creating: Internal error occurred: failed calling webhook \"pods.policy-guard.example.com\": failed to call webhook: Post \"https://policy-guard.policy-guard.svc:443/validate?timeout=5s\": no endpoints available for service \"policy-guard\"")
        .build()));
    fx.cluster.platform.validating_webhooks.push(obj(json!({
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": "policy-guard"},
        "webhooks": [{"name": "pods.policy-guard.example.com", "failurePolicy": "Fail", "timeoutSeconds": 5,
            "sideEffects": "None", "admissionReviewVersions": ["v1"],
            "clientConfig": {"service": {"namespace": "policy-guard", "name": "policy-guard", "path": "/validate", "port": 443}}}]})));
    fx.cluster
        .platform
        .webhook_backends
        .push(crate::context::WebhookBackend {
            namespace: "policy-guard".into(),
            name: "policy-guard".into(),
            service_exists: Some(true),
            addresses: Some((0, 1)),
        });
    let out = run(&fx.ctx());
    assert_eq!(out.len(), 1, "{out:#?}");
    let f = &out[0];
    assert_eq!(f.rule, "admission-webhook-unreachable");
    for part in [
        "ValidatingWebhookConfiguration policy-guard",
        "failurePolicy Fail",
        "Service policy-guard/policy-guard has 0 ready endpoint(s) (1 not ready)",
    ] {
        assert!(f.cause.contains(part), "{part} not in {}", f.cause);
    }
    assert!(f
        .related
        .iter()
        .any(|r| r.to_string() == "Service/policy-guard/policy-guard"));
}
