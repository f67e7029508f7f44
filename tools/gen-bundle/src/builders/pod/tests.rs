//! Tests of pod status building.
use super::*;

fn spec() -> Value {
    json!({"containers": [{
        "name": "api",
        "image": "ghcr.io/acme/api:1.4.2",
        "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
        "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}}
    }]})
}

fn placement() -> Placement {
    Placement {
        node: "ip-10-0-1-17.ec2.internal".into(),
        host_ip: "10.0.1.17".into(),
        pod_ip: "10.0.1.201".into(),
        scheduled_ago: 600,
    }
}

#[test]
fn crashlooping_pod_is_running_phase_and_not_ready() {
    let state = ContainerState::Waiting {
        reason: "CrashLoopBackOff".into(),
        message: Some("back-off 5m0s restarting failed container=api pod=api-x_shop(uid)".into()),
        restarts: 6,
        last: Some(Terminated::new("Error", 1, 130, 128)),
    };
    let p = pod(
        "shop",
        "api-x",
        600,
        &spec(),
        &PodFate::Placed(placement()),
        &[state],
    );
    assert_eq!(p["status"]["phase"], "Running");
    assert_eq!(p["status"]["qosClass"], "Burstable");
    let cs = &p["status"]["containerStatuses"][0];
    assert_eq!(cs["state"]["waiting"]["reason"], "CrashLoopBackOff");
    assert_eq!(cs["lastState"]["terminated"]["exitCode"], 1);
    assert_eq!(cs["restartCount"], 6);
    assert_eq!(cs["image"], "ghcr.io/acme/api:1.4.2");
    let ready = p["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Ready")
        .unwrap()
        .clone();
    assert_eq!(ready["status"], "False");
    assert_eq!(ready["message"], "containers with unready status: [api]");
    let typed: k8s_openapi::api::core::v1::Pod = serde_json::from_value(p).unwrap();
    assert_eq!(
        typed.spec.unwrap().node_name.as_deref(),
        Some("ip-10-0-1-17.ec2.internal")
    );
}

#[test]
fn image_pull_failure_never_ran_so_pending_without_image_id() {
    let st = ContainerState::waiting("ImagePullBackOff", Some("Back-off pulling image".into()));
    let p = pod(
        "shop",
        "api-y",
        300,
        &spec(),
        &PodFate::Placed(placement()),
        &[st],
    );
    assert_eq!(p["status"]["phase"], "Pending");
    assert_eq!(p["status"]["containerStatuses"][0]["imageID"], "");
    assert!(p["status"]["containerStatuses"][0]
        .get("containerID")
        .is_none());
}

#[test]
fn unschedulable_and_qos() {
    let fate = PodFate::Unschedulable {
        message: "0/3 nodes are available: 3 Insufficient cpu.".into(),
        since_ago: 100,
    };
    let p = pod("shop", "api-z", 100, &spec(), &fate, &[]);
    assert_eq!(p["status"]["conditions"][0]["reason"], "Unschedulable");
    assert!(p["spec"].get("nodeName").is_none());
    let guaranteed =
        json!({"containers": [{"resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]});
    assert_eq!(qos_class(&guaranteed), "Guaranteed");
    assert_eq!(
        qos_class(&json!({"containers": [{"name": "a"}]})),
        "BestEffort"
    );
    assert_eq!(
        normalized_image("nginx:1.27"),
        "docker.io/library/nginx:1.27"
    );
    assert!(image_id("nginx:1.27").starts_with("docker.io/library/nginx@sha256:"));
}
