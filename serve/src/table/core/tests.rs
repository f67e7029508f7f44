use super::*;
use serde_json::json;

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2025-03-01T12:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

#[test]
fn crashlooping_pod_row() {
    let p = json!({
        "metadata": {"name": "api-6f7c9d-xk2lp", "namespace": "shop", "creationTimestamp": "2025-03-01T09:00:00Z"},
        "spec": {"nodeName": "worker-2", "containers": [{"name": "api", "image": "shop/api:1.4.2"}]},
        "status": {
            "phase": "Running",
            "podIP": "10.244.2.17", "podIPs": [{"ip": "10.244.2.17"}],
            "conditions": [{"type": "Ready", "status": "False"}],
            "containerStatuses": [{
                "name": "api", "ready": false, "restartCount": 7, "image": "shop/api:1.4.2", "imageID": "", "started": false,
                "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s restarting failed container=api pod=api-6f7c9d-xk2lp_shop(0c9a)"}},
                "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "startedAt": "2025-03-01T11:56:50Z", "finishedAt": "2025-03-01T11:57:00Z"}}
            }]
        }
    });
    let cells = pod(&p, now());
    assert_eq!(
        cells,
        vec![
            json!("api-6f7c9d-xk2lp"),
            json!("0/1"),
            json!("CrashLoopBackOff"),
            json!("7 (3m ago)"),
            json!("3h"),
            json!("10.244.2.17"),
            json!("worker-2"),
            json!("<none>"),
            json!("<none>")
        ]
    );
}

#[test]
fn node_rows() {
    let n = json!({
        "metadata": {"name": "worker-1", "creationTimestamp": "2025-01-30T12:00:00Z",
                     "labels": {"node-role.kubernetes.io/worker": "", "node-role.kubernetes.io/ingress": "", "kubernetes.io/hostname": "worker-1"}},
        "spec": {"unschedulable": true},
        "status": {
            "conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "False", "reason": "KubeletNotReady"}],
            "addresses": [{"type": "InternalIP", "address": "10.0.0.11"}, {"type": "Hostname", "address": "worker-1"}],
            "nodeInfo": {"kubeletVersion": "v1.33.1", "osImage": "Ubuntu 24.04.1 LTS", "kernelVersion": "6.8.0-45-generic", "containerRuntimeVersion": "containerd://1.7.22"}
        }
    });
    assert_eq!(
        node(&n, now()),
        vec![
            json!("worker-1"),
            json!("NotReady,SchedulingDisabled"),
            json!("ingress,worker"),
            json!("30d"),
            json!("v1.33.1"),
            json!("10.0.0.11"),
            json!("<none>"),
            json!("Ubuntu 24.04.1 LTS"),
            json!("6.8.0-45-generic"),
            json!("containerd://1.7.22")
        ]
    );
    let bare = json!({"metadata": {"name": "n"}, "status": {}});
    assert_eq!(node(&bare, now())[1], "Unknown");
    assert_eq!(node(&bare, now())[2], "<none>");
}

#[test]
fn service_rows() {
    let lb = json!({"metadata": {"name": "web", "creationTimestamp": "2025-03-01T11:00:00Z"},
        "spec": {"type": "LoadBalancer", "clusterIP": "10.96.12.7", "clusterIPs": ["10.96.12.7"], "selector": {"app": "web"},
                 "ports": [{"port": 80, "targetPort": 8080, "nodePort": 31380, "protocol": "TCP"}]},
        "status": {"loadBalancer": {}}});
    assert_eq!(
        service(&lb, now()),
        vec![
            json!("web"),
            json!("LoadBalancer"),
            json!("10.96.12.7"),
            json!("<pending>"),
            json!("80:31380/TCP"),
            json!("60m"),
            json!("app=web")
        ]
    );
    let headless = json!({"metadata": {"name": "db"}, "spec": {"type": "ClusterIP", "clusterIP": "None", "clusterIPs": ["None"],
        "ports": [{"port": 5432, "protocol": "TCP"}, {"port": 9187, "protocol": "TCP"}]}});
    let cells = service(&headless, now());
    assert_eq!(cells[2], "None");
    assert_eq!(cells[3], "<none>");
    assert_eq!(cells[4], "5432/TCP,9187/TCP");
    assert_eq!(cells[6], "<none>");
}

#[test]
fn endpoints_rows() {
    let ep = json!({"metadata": {"name": "web"}, "subsets": [{
        "addresses": [{"ip": "10.244.1.7"}, {"ip": "10.244.2.9"}, {"ip": "10.244.2.10"}, {"ip": "10.244.3.4"}],
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}]});
    assert_eq!(
        endpoints(&ep, now())[1],
        "10.244.1.7:8080,10.244.2.9:8080,10.244.2.10:8080 + 1 more..."
    );
    let none = json!({"metadata": {"name": "web"}});
    assert_eq!(endpoints(&none, now())[1], "<none>");
    let not_ready = json!({"metadata": {"name": "web"}, "subsets": [{"notReadyAddresses": [{"ip": "10.244.1.7"}], "ports": [{"port": 8080}]}]});
    assert_eq!(endpoints(&not_ready, now())[1], "");
}

#[test]
fn event_rows() {
    let ev = json!({
        "metadata": {"name": "api-6f7c9d-xk2lp.1827f3a9c0d1e2f3", "namespace": "shop"},
        "involvedObject": {"kind": "Pod", "namespace": "shop", "name": "api-6f7c9d-xk2lp", "fieldPath": "spec.containers{api}"},
        "reason": "BackOff", "message": "Back-off restarting failed container api in pod api-6f7c9d-xk2lp_shop(0c9a)",
        "source": {"component": "kubelet", "host": "worker-2"},
        "firstTimestamp": "2025-03-01T09:10:00Z", "lastTimestamp": "2025-03-01T11:58:00Z", "count": 41, "type": "Warning"
    });
    assert_eq!(
        event(&ev, now()),
        vec![
            json!("2m"),
            json!("Warning"),
            json!("BackOff"),
            json!("pod/api-6f7c9d-xk2lp"),
            json!("spec.containers{api}"),
            json!("kubelet, worker-2"),
            json!("Back-off restarting failed container api in pod api-6f7c9d-xk2lp_shop(0c9a)"),
            json!("170m"),
            json!(41),
            json!("api-6f7c9d-xk2lp.1827f3a9c0d1e2f3")
        ]
    );
    // events.k8s.io-style event: eventTime, series, reporting controller.
    let new_style = json!({
        "metadata": {"name": "web.1"}, "involvedObject": {"kind": "Node", "name": "worker-1"},
        "reason": "NodeNotReady", "type": "Normal", "message": "Node worker-1 status is now: NodeNotReady",
        "eventTime": "2025-03-01T11:00:00.000000Z", "series": {"count": 3, "lastObservedTime": "2025-03-01T11:59:00.000000Z"},
        "reportingComponent": "node-controller", "reportingInstance": "", "source": {}
    });
    let cells = event(&new_style, now());
    assert_eq!(cells[0], "60s");
    assert_eq!(cells[3], "node/worker-1");
    assert_eq!(cells[5], "node-controller");
    assert_eq!(cells[7], "60m");
    assert_eq!(cells[8], 3);
}

#[test]
fn storage_rows() {
    let claim = json!({"metadata": {"name": "data-db-0", "creationTimestamp": "2025-03-01T11:00:00Z"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}}, "storageClassName": "standard", "volumeName": "pvc-3f1c", "volumeMode": "Filesystem"},
        "status": {"phase": "Bound", "accessModes": ["ReadWriteOnce"], "capacity": {"storage": "10Gi"}}});
    assert_eq!(
        pvc(&claim, now()),
        vec![
            json!("data-db-0"),
            json!("Bound"),
            json!("pvc-3f1c"),
            json!("10Gi"),
            json!("RWO"),
            json!("standard"),
            json!("<unset>"),
            json!("60m"),
            json!("Filesystem")
        ]
    );
    let pending = json!({"metadata": {"name": "cache"}, "spec": {"storageClassName": "fast"}, "status": {"phase": "Pending"}});
    assert_eq!(pvc(&pending, now())[3], "");
    let vol = json!({"metadata": {"name": "pvc-3f1c"}, "spec": {"capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteMany", "ReadWriteOnce"],
        "persistentVolumeReclaimPolicy": "Delete", "claimRef": {"namespace": "shop", "name": "data-db-0"}, "storageClassName": "standard"},
        "status": {"phase": "Bound"}});
    let cells = pv(&vol, now());
    assert_eq!(cells[2], "RWO,RWX");
    assert_eq!(cells[5], "shop/data-db-0");
}

#[test]
fn config_rows() {
    let s = json!({"metadata": {"name": "db-credentials"}, "type": "Opaque", "data": {"password": "", "user": ""}});
    assert_eq!(secret(&s, now())[1], "Opaque");
    assert_eq!(secret(&s, now())[2], 2);
    let cm = json!({"metadata": {"name": "cfg"}, "data": {"a": "1"}, "binaryData": {"b": "AA=="}});
    assert_eq!(configmap(&cm, now())[1], 2);
}
