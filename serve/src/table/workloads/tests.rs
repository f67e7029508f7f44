use super::*;
use serde_json::json;

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2025-03-01T12:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

#[test]
fn deployment_and_replicaset_rows() {
    let d = json!({"metadata": {"name": "web", "creationTimestamp": "2025-02-20T12:00:00Z"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.27"}, {"name": "envoy", "image": "envoyproxy/envoy:v1.31"}]}}},
        "status": {"replicas": 3, "readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}});
    assert_eq!(
        deployment(&d, now()),
        vec![
            json!("web"),
            json!("2/3"),
            json!(3),
            json!(2),
            json!("9d"),
            json!("web,envoy"),
            json!("nginx:1.27,envoyproxy/envoy:v1.31"),
            json!("app=web")
        ]
    );
    let rs = json!({"metadata": {"name": "web-7c9d8f"}, "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "web", "pod-template-hash": "7c9d8f"}}},
        "status": {"replicas": 0}});
    let cells = replicaset(&rs, now());
    assert_eq!(cells[1..4], [json!(0), json!(0), json!(0)]);
    assert_eq!(cells[7], "app=web,pod-template-hash=7c9d8f");
}

#[test]
fn job_rows() {
    let done = json!({"metadata": {"name": "migrate", "creationTimestamp": "2025-03-01T10:00:00Z"},
        "spec": {"completions": 1, "parallelism": 1, "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "8d2c"}},
                 "template": {"spec": {"containers": [{"name": "migrate", "image": "shop/migrate:2"}]}}},
        "status": {"succeeded": 1, "startTime": "2025-03-01T10:00:00Z", "completionTime": "2025-03-01T10:00:42Z",
                   "conditions": [{"type": "SuccessCriteriaMet", "status": "True"}, {"type": "Complete", "status": "True"}]}});
    let cells = job(&done, now());
    assert_eq!(cells[1..4], [json!("Complete"), json!("1/1"), json!("42s")]);
    let failing = json!({"metadata": {"name": "report"}, "spec": {"parallelism": 3},
        "status": {"startTime": "2025-03-01T11:30:00Z", "conditions": [{"type": "FailureTarget", "status": "True"}]}});
    let cells = job(&failing, now());
    assert_eq!(
        cells[1..4],
        [json!("FailureTarget"), json!("0/1 of 3"), json!("30m")]
    );
}

#[test]
fn hpa_targets_as_printed() {
    let unknown = json!({"metadata": {"name": "web"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}, "minReplicas": 2, "maxReplicas": 10,
                 "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]},
        "status": {"currentReplicas": 2, "desiredReplicas": 2,
                   "conditions": [{"type": "ScalingActive", "status": "False", "reason": "FailedGetResourceMetric"}]}});
    assert_eq!(
        hpa(&unknown, now())[1..6],
        [
            json!("Deployment/web"),
            json!("cpu: <unknown>/80%"),
            json!("2"),
            json!(10),
            json!(2)
        ]
    );
    let mixed = json!({"metadata": {"name": "api"},
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "api"}, "maxReplicas": 5, "metrics": [
            {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}},
            {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "512Mi"}}},
            {"type": "Pods", "pods": {"metric": {"name": "rps"}, "target": {"type": "AverageValue", "averageValue": "100"}}}]},
        "status": {"currentReplicas": 5, "currentMetrics": [
            {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 93, "averageValue": "465m"}}},
            {"type": "Resource", "resource": {"name": "memory", "current": {"averageValue": "301989888"}}}]}});
    let cells = hpa(&mixed, now());
    assert_eq!(
        cells[2],
        "cpu: 93%/70%, memory: 301989888/512Mi + 1 more..."
    );
    assert_eq!(cells[3], "<unset>");
    let none = json!({"metadata": {"name": "x"}, "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "x"}, "maxReplicas": 1}});
    assert_eq!(hpa(&none, now())[2], "<none>");
}

#[test]
fn statefulset_and_daemonset_rows() {
    let sts = json!({"metadata": {"name": "db"}, "spec": {"replicas": 3, "template": {"spec": {"containers": [{"name": "postgres", "image": "postgres:16"}]}}},
        "status": {"readyReplicas": 1}});
    assert_eq!(statefulset(&sts, now())[1], "1/3");
    let ds = json!({"metadata": {"name": "node-exporter"}, "spec": {"selector": {"matchLabels": {"app": "node-exporter"}},
        "template": {"spec": {"nodeSelector": {"kubernetes.io/os": "linux"}, "containers": [{"name": "node-exporter", "image": "prom/node-exporter:v1.8.2"}]}}},
        "status": {"desiredNumberScheduled": 3, "currentNumberScheduled": 3, "numberReady": 2, "updatedNumberScheduled": 3, "numberAvailable": 2}});
    let cells = daemonset(&ds, now());
    assert_eq!(
        cells[1..7],
        [
            json!(3),
            json!(3),
            json!(2),
            json!(3),
            json!(2),
            json!("kubernetes.io/os=linux")
        ]
    );
}
