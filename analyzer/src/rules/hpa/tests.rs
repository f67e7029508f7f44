//! Tests of the autoscaling rules on realistic HPAs (autoscaling/v2).

use serde_json::json;

use super::{resource_targets, run, targets_text};
use crate::context::InfraPod;
use crate::testkit::{obj, EventFixture, Fixture, PodFixture};
use kpm_model::ObjectRef;

const NO_METRICS_API: &str = "the HPA was unable to compute the replica count: failed to get cpu utilization: unable to get metrics for resource cpu: unable to fetch metrics from resource metrics API: the server could not find the requested resource (get pods.metrics.k8s.io)";

fn hpa(current_metrics: serde_json::Value, conditions: serde_json::Value) -> serde_json::Value {
    json!({
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web", "namespace": "shop", "creationTimestamp": "2026-11-20T12:00:00Z"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 2, "maxReplicas": 10,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu",
                         "target": {"type": "Utilization", "averageUtilization": 70}}}]
        },
        "status": {"currentReplicas": 2, "desiredReplicas": 2,
                   "currentMetrics": current_metrics, "conditions": conditions}
    })
}

fn deployment() -> serde_json::Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "app", "image": "registry.example.com/shop/web:1.4.2"}]}}}
    })
}

fn metrics_server(ready: bool) -> InfraPod {
    InfraPod {
        object: ObjectRef::namespaced("Pod", "kube-system", "metrics-server-6d94bc8694-7zq9k"),
        labels: [("k8s-app".to_string(), "metrics-server".to_string())]
            .into_iter()
            .collect(),
        node: Some("worker-1".into()),
        phase: "Running".into(),
        running: true,
        ready,
        images: vec!["registry.k8s.io/metrics-server/metrics-server:v0.7.2".into()],
        args: Vec::new(),
        log_files: Vec::new(),
    }
}

fn fixture() -> Fixture {
    let mut fx = Fixture::new("shop");
    fx.ns.deployments = vec![obj(deployment())];
    fx.ns.pods = vec![
        obj(PodFixture::new("shop", "web-7c9d8f6b5-x2x7q")
            .labels(json!({"app": "web"}))
            .ports(json!([{"containerPort": 8080}]))
            .build()),
        obj(PodFixture::new("shop", "web-7c9d8f6b5-kq4zn")
            .labels(json!({"app": "web"}))
            .ports(json!([{"containerPort": 8080}]))
            .build()),
    ];
    fx.cluster.infra.metrics_server_pods = vec![metrics_server(true)];
    fx.cluster.infra.pod_metrics_available = true;
    fx
}

fn rules(f: &[kpm_model::Finding]) -> Vec<&str> {
    f.iter().map(|f| f.rule.as_str()).collect()
}

fn ok_conditions() -> serde_json::Value {
    json!([
        {"type": "AbleToScale", "status": "True", "reason": "ReadyForNewScale", "message": "recommended size matches current size"},
        {"type": "ScalingActive", "status": "True", "reason": "ValidMetricFound", "message": "the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)"},
        {"type": "ScalingLimited", "status": "False", "reason": "DesiredWithinRange", "message": "the desired count is within the acceptable range"}
    ])
}

fn cpu_at(pct: i32) -> serde_json::Value {
    json!([{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": pct, "averageValue": "84m"}}}])
}

#[test]
fn targets_print_like_kubectl() {
    let h: k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler =
        obj(hpa(cpu_at(42), ok_conditions()));
    assert_eq!(targets_text(&h), "cpu: 42%/70%");
    let h: k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler =
        obj(hpa(json!(null), ok_conditions()));
    assert_eq!(targets_text(&h), "cpu: <unknown>/70%");
    // No metrics at all defaults to cpu 80 %.
    let mut bare = hpa(json!(null), json!(null));
    bare["spec"]["metrics"] = json!(null);
    let h: k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler = obj(bare);
    assert_eq!(resource_targets(&h)[0].target, "80%");
}

#[test]
fn healthy_hpa_is_quiet() {
    let mut fx = fixture();
    fx.ns.hpas = vec![obj(hpa(cpu_at(42), ok_conditions()))];
    assert!(run(&fx.ctx()).is_empty());
}

#[test]
fn metrics_api_missing_names_metrics_server_and_quotes_the_condition() {
    let mut fx = fixture();
    fx.cluster.infra.metrics_server_pods.clear();
    fx.cluster.infra.pod_metrics_available = false;
    fx.ns.hpas = vec![obj(hpa(
        json!(null),
        json!([
            {"type": "AbleToScale", "status": "True", "reason": "SucceededGetScale", "message": "the HPA controller was able to get the target's current scale"},
            {"type": "ScalingActive", "status": "False", "reason": "FailedGetResourceMetric", "message": NO_METRICS_API}
        ]),
    ))];
    fx.ns.events = vec![obj(EventFixture::about("shop", "HorizontalPodAutoscaler", "web").says("FailedGetResourceMetric", "failed to get cpu utilization: unable to get metrics for resource cpu: unable to fetch metrics from resource metrics API: the server could not find the requested resource (get pods.metrics.k8s.io)").count(37).build())];
    let out = run(&fx.ctx());
    assert_eq!(rules(&out), vec!["hpa-metrics-unavailable"]);
    let f = &out[0];
    assert!(f.cause.contains("cpu: <unknown>/70%"), "{}", f.cause);
    assert!(
        f.cause
            .contains("no metrics-server pod runs in the cluster"),
        "{}",
        f.cause
    );
    assert!(f.cause.contains("(get pods.metrics.k8s.io)"));
    assert!(f
        .evidence
        .iter()
        .any(|e| matches!(e, kpm_model::Evidence::Event { count: 37, .. })));
}

#[test]
fn missing_requests_win_over_metrics_unavailable() {
    let mut fx = fixture();
    let msg = "the HPA was unable to compute the replica count: failed to get cpu utilization: missing request for cpu in container app of Pod web-7c9d8f6b5-x2x7q";
    fx.ns.hpas = vec![obj(hpa(
        json!(null),
        json!([{"type": "ScalingActive", "status": "False", "reason": "FailedGetResourceMetric", "message": msg}]),
    ))];
    // Pods without any requests.
    for p in &mut fx.ns.pods {
        if let Some(spec) = p.spec.as_mut() {
            spec.containers[0].resources = None;
        }
    }
    let out = run(&fx.ctx());
    assert_eq!(rules(&out), vec!["hpa-missing-requests"]);
    let f = &out[0];
    assert!(
        f.cause
            .contains("missing request for cpu in container app of Pod web-7c9d8f6b5-x2x7q"),
        "{}",
        f.cause
    );
    assert!(
        f.cause.contains("Deployment/web sets no cpu request"),
        "{}",
        f.cause
    );
    assert!(f
        .related
        .contains(&ObjectRef::namespaced("Pod", "shop", "web-7c9d8f6b5-kq4zn")));
    assert!(f
        .next_steps
        .iter()
        .any(|s| s.command
            == "kubectl -n shop set resources deployment/web -c app --requests=cpu=100m"));
}

#[test]
fn memory_average_value_target_needs_no_request() {
    let mut fx = fixture();
    let mut h = hpa(
        json!([{"type": "Resource", "resource": {"name": "memory", "current": {"averageValue": "300Mi"}}}]),
        ok_conditions(),
    );
    h["spec"]["metrics"] = json!([{"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "500Mi"}}}]);
    fx.ns.hpas = vec![obj(h)];
    for p in &mut fx.ns.pods {
        if let Some(spec) = p.spec.as_mut() {
            spec.containers[0].resources = None;
        }
    }
    assert!(run(&fx.ctx()).is_empty(), "{:?}", rules(&run(&fx.ctx())));
}

#[test]
fn target_missing_suppresses_the_other_rules() {
    let mut fx = fixture();
    fx.ns.deployments.clear();
    fx.ns.hpas = vec![obj(hpa(
        json!(null),
        json!([{"type": "AbleToScale", "status": "False", "reason": "FailedGetScale",
                "message": "the HPA controller was unable to get the target's current scale: deployments/scale.apps \"web\" not found"}]),
    ))];
    let out = run(&fx.ctx());
    assert_eq!(rules(&out), vec!["hpa-target-missing"]);
    assert!(
        out[0]
            .cause
            .contains("scales Deployment/web, which does not exist in namespace shop"),
        "{}",
        out[0].cause
    );
}

#[test]
fn at_max_and_unable_to_scale() {
    let mut fx = fixture();
    let mut h = hpa(
        cpu_at(182),
        json!([
            {"type": "AbleToScale", "status": "False", "reason": "FailedUpdateScale",
             "message": "the HPA controller was unable to update the target scale: Operation cannot be fulfilled on deployments.apps \"web\": the object has been modified; please apply your changes to the latest version and try again"},
            {"type": "ScalingActive", "status": "True", "reason": "ValidMetricFound", "message": "the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)"},
            {"type": "ScalingLimited", "status": "True", "reason": "TooManyReplicas", "message": "the desired replica count is more than the maximum replica count"}
        ]),
    );
    h["status"]["currentReplicas"] = json!(10);
    h["status"]["desiredReplicas"] = json!(10);
    fx.ns.hpas = vec![obj(h)];
    let out = run(&fx.ctx());
    assert_eq!(rules(&out), vec!["hpa-at-max", "hpa-unable-to-scale"]);
    assert!(out[0].cause.contains("maxReplicas 10"), "{}", out[0].cause);
    assert!(out[0].cause.contains("cpu: 182%/70%"));
    assert_eq!(out[0].severity, kpm_model::Severity::Warning);
    assert!(
        out[1].cause.contains("FailedUpdateScale"),
        "{}",
        out[1].cause
    );
}
