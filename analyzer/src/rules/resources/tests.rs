//! Tests of the resources rules on realistic pods and PodMetrics.

use serde_json::json;

use super::{missing_limits, run};
use crate::testkit::{obj, Fixture, PodFixture};
use kpm_model::{Evidence, ObjectRef};
use kpm_semantics::PodMetrics;

fn rules(f: &[kpm_model::Finding]) -> Vec<&str> {
    f.iter().map(|f| f.rule.as_str()).collect()
}

fn replicaset() -> serde_json::Value {
    json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
           "metadata": {"name": "web-7c9d8f6b5", "namespace": "shop",
                        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "d1", "controller": true}]}})
}

fn metrics(pod: &str, memory: &str) -> PodMetrics {
    obj(json!({
        "metadata": {"name": pod, "namespace": "shop", "creationTimestamp": "2026-11-20T14:32:01Z"},
        "timestamp": "2026-11-20T14:31:47Z", "window": "15.017s",
        "containers": [{"name": "app", "usage": {"cpu": "212043817n", "memory": memory}}]
    }))
}

#[test]
fn missing_limits_per_resource() {
    let c: k8s_openapi::api::core::v1::Container = obj(
        json!({"name": "app", "resources": {"requests": {"cpu": "100m"}, "limits": {"memory": "256Mi"}}}),
    );
    assert_eq!(missing_limits(&c), vec!["cpu"]);
    let bare: k8s_openapi::api::core::v1::Container = obj(json!({"name": "app"}));
    assert_eq!(missing_limits(&bare), vec!["memory", "cpu"]);
}

#[test]
fn no_limits_is_one_finding_per_workload() {
    let mut fx = Fixture::new("shop");
    fx.ns.replicasets = vec![obj(replicaset())];
    for name in [
        "web-7c9d8f6b5-x2x7q",
        "web-7c9d8f6b5-kq4zn",
        "web-7c9d8f6b5-9fjwm",
    ] {
        let mut p = PodFixture::new("shop", name)
            .labels(json!({"app": "web"}))
            .ports(json!([{"containerPort": 8080}]))
            .build();
        p["spec"]["containers"][0]["resources"] =
            json!({"requests": {"cpu": "100m", "memory": "128Mi"}});
        fx.ns.pods.push(obj(p));
    }
    let out = run(&fx.ctx());
    assert_eq!(rules(&out), vec!["resources-no-limits"]);
    let f = &out[0];
    assert_eq!(f.object, ObjectRef::namespaced("Deployment", "shop", "web"));
    assert!(
        f.cause
            .contains("Deployment web (3 pods): container app has no memory and no cpu limit"),
        "{}",
        f.cause
    );
    assert!(f.next_steps.iter().any(|s| s
        .command
        .contains("set resources deployment/web -c app --limits=")));
}

#[test]
/// The rule remarks on every namespace alike; the engine sets system
/// components' remarks aside (`engine::system`), so none is lost.
fn pods_with_limits_are_quiet_and_system_pods_are_judged_alike() {
    let mut fx = Fixture::new("shop");
    fx.ns.pods = vec![obj(PodFixture::new("shop", "web-1")
        .labels(json!({"app": "web"}))
        .build())];
    assert!(run(&fx.ctx()).is_empty());
    let mut sys = Fixture::new("kube-system");
    let mut p = PodFixture::new("kube-system", "coredns-5d78c9869d-x2x7q")
        .labels(json!({"k8s-app": "kube-dns"}))
        .build();
    p["spec"]["containers"][0]["resources"] =
        json!({"requests": {"cpu": "100m", "memory": "70Mi"}, "limits": {"memory": "170Mi"}});
    sys.ns.pods = vec![obj(p)];
    let out = run(&sys.ctx());
    assert_eq!(out.len(), 1);
    assert!(out[0].cause.contains("no cpu limit"), "{}", out[0].cause);
}

#[test]
fn memory_at_ninety_percent_of_limit() {
    let mut fx = Fixture::new("shop");
    // Limit 256Mi; usage 245Mi = 95 %.
    fx.ns.pods = vec![obj(PodFixture::new("shop", "web-1")
        .labels(json!({"app": "web"}))
        .build())];
    fx.ns.pod_metrics = Some(vec![metrics("web-1", "250880Ki")]);
    let out = run(&fx.ctx());
    assert_eq!(rules(&out), vec!["resources-near-memory-limit"]);
    assert!(
        out[0]
            .cause
            .contains("container app uses 245Mi of its 256Mi memory limit (95%)"),
        "{}",
        out[0].cause
    );
    assert!(out[0]
        .evidence
        .iter()
        .any(|e| matches!(e, Evidence::Metric { value, compared_to: Some(c), .. } if value == "245Mi" && c == "limit 256Mi (95%)")));
    // 200Mi of 256Mi (78 %) is fine.
    fx.ns.pod_metrics = Some(vec![metrics("web-1", "200Mi")]);
    assert!(run(&fx.ctx()).is_empty());
}
