//! What every generated cluster has before a scenario breaks something:
//! three EKS worker nodes, kube-system with CoreDNS, metrics-server and
//! kube-proxy, the ingress-nginx controller and its IngressClass, and the
//! `kubernetes` Service in `default`. All healthy and built as their stock
//! manifests and charts ship them: CoreDNS limits memory only, kube-proxy,
//! metrics-server and ingress-nginx set requests without limits, and CoreDNS
//! and ingress-nginx probe ports they do not declare.

use serde_json::{json, Value};

use crate::app::{self, AppSpec};
use crate::builders::network::{self, ServicePort};
use crate::builders::node::{self, NodeId, NodeShape, M5_XLARGE};
use crate::builders::pod::{self, ContainerState, PodFate};
use crate::builders::{meta, workload};
use crate::cluster::Cluster;
use crate::ids;
use crate::world::World;

/// Age of the cluster (and of its system components).
pub const CLUSTER_AGE: i64 = 86_400 * 212;

/// Knobs scenarios turn on the baseline.
#[derive(Debug, Clone)]
pub struct Baseline {
    /// Worker nodes: private IP and shape.
    pub nodes: Vec<(String, NodeShape)>,
    /// Whether metrics-server is installed.
    pub metrics_server: bool,
    /// Replicas of the ingress-nginx controller Deployment.
    pub ingress_replicas: i64,
    /// The controller exits at startup (exit code 255) and is in
    /// CrashLoopBackOff.
    pub ingress_crashing: bool,
}

impl Default for Baseline {
    fn default() -> Baseline {
        Baseline {
            nodes: vec![
                ("10.0.1.17".into(), M5_XLARGE),
                ("10.0.2.41".into(), M5_XLARGE),
                ("10.0.3.122".into(), M5_XLARGE),
            ],
            metrics_server: true,
            ingress_replicas: 2,
            ingress_crashing: false,
        }
    }
}

/// The namespaces every cluster here has: kubeadm's four and ingress-nginx.
fn system_namespaces(cluster: &mut Cluster) {
    for (ns, age) in [
        ("default", CLUSTER_AGE),
        ("kube-system", CLUSTER_AGE),
        ("kube-public", CLUSTER_AGE),
        ("kube-node-lease", CLUSTER_AGE),
        ("ingress-nginx", CLUSTER_AGE - 3_600),
    ] {
        cluster.namespace(ns, age);
    }
}

/// Builds the baseline world.
pub fn world(b: &Baseline) -> World {
    let mut cluster = Cluster::new();
    cluster.metrics_available = b.metrics_server;
    let ids: Vec<NodeId> = b.nodes.iter().map(|(ip, _)| NodeId::from_ip(ip)).collect();
    for (i, ((_, shape), id)) in b.nodes.iter().zip(&ids).enumerate() {
        let age = 86_400 * (23 - 4 * i as i64) + 3_917 * i as i64;
        cluster.add(node::node(id, shape, "general-20250410", age));
    }
    system_namespaces(&mut cluster);
    let mut w = World::new(cluster, ids);
    kubernetes_service(&mut w);
    coredns(&mut w);
    if b.metrics_server {
        metrics_server(&mut w);
    }
    kube_proxy(&mut w);
    ingress_nginx(&mut w, b.ingress_replicas, b.ingress_crashing);
    // EKS replaced a control-plane instance 37 minutes ago.
    crate::background::control_plane_failover(&mut w, 2_231);
    w
}

/// The system namespaces alone (no Node objects, no kube-proxy), with
/// CoreDNS, metrics-server and ingress-nginx placed on `nodes`: what the
/// scale generator adds to its apps so DNS and ingress rules see a normal
/// control plane.
pub fn system_world(nodes: Vec<NodeId>) -> World {
    let mut cluster = Cluster::new();
    system_namespaces(&mut cluster);
    let mut w = World::new(cluster, nodes);
    kubernetes_service(&mut w);
    coredns(&mut w);
    metrics_server(&mut w);
    ingress_nginx(&mut w, 2, false);
    w
}

fn kubernetes_service(w: &mut World) {
    let mut svc = network::service(
        "default",
        "kubernetes",
        CLUSTER_AGE,
        "172.20.0.1",
        &[],
        &[ServicePort::tcp("https", 443, json!(443))],
    );
    meta::add_labels(
        &mut svc,
        &[("component", "apiserver"), ("provider", "kubernetes")],
    );
    if let Some(spec) = svc["spec"].as_object_mut() {
        spec.remove("selector");
    }
    let mut ep = meta::object(
        "v1",
        "Endpoints",
        Some("default"),
        "kubernetes",
        CLUSTER_AGE,
    );
    meta::add_labels(
        &mut ep,
        &[("endpointslice.kubernetes.io/skip-mirror", "true")],
    );
    ep["subsets"] = json!([{"addresses": [{"ip": "10.0.0.214"}, {"ip": "10.0.1.58"}], "ports": [{"name": "https", "port": 443, "protocol": "TCP"}]}]);
    w.cluster.add(svc);
    w.cluster.add(ep);
}

fn coredns(w: &mut World) {
    let mut app = AppSpec::new(
        "kube-system",
        "coredns",
        "602401143452.dkr.ecr.us-east-1.amazonaws.com/eks/coredns:v1.12.1-eksbuild.2",
        53,
        2,
        CLUSTER_AGE,
        86_400 * 20,
    );
    app.selector_labels = vec![("k8s-app".into(), "kube-dns".into())];
    app.labels = vec![("eks.amazonaws.com/component".into(), "coredns".into())];
    // As coredns/deployment and the EKS add-on ship it: a memory limit but
    // no CPU limit, and probes on the health (8080) and ready (8181) plugin
    // ports, which are not declared as container ports.
    *app.main_container() = json!({
        "name": "coredns",
        "image": app.pod_spec["containers"][0]["image"],
        "args": ["-conf", "/etc/coredns/Corefile"],
        "ports": [
            {"name": "dns", "containerPort": 53, "protocol": "UDP"},
            {"name": "dns-tcp", "containerPort": 53, "protocol": "TCP"},
            {"name": "metrics", "containerPort": 9153, "protocol": "TCP"}
        ],
        "resources": {"limits": {"memory": "170Mi"}, "requests": {"cpu": "100m", "memory": "70Mi"}},
        "volumeMounts": [{"name": "config-volume", "readOnly": true, "mountPath": "/etc/coredns"}],
        "livenessProbe": {"httpGet": {"path": "/health", "port": 8080, "scheme": "HTTP"}, "initialDelaySeconds": 60, "timeoutSeconds": 5, "successThreshold": 1, "failureThreshold": 5},
        "readinessProbe": {"httpGet": {"path": "/ready", "port": 8181, "scheme": "HTTP"}},
        "securityContext": {"capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["ALL"]}, "readOnlyRootFilesystem": true, "allowPrivilegeEscalation": false},
    });
    app.pod_spec["volumes"] = json!([{"name": "config-volume", "configMap": {"name": "coredns", "items": [{"key": "Corefile", "path": "Corefile"}], "defaultMode": 420}}]);
    app.pod_spec["dnsPolicy"] = json!("Default");
    app.pod_spec["nodeSelector"] = json!({"kubernetes.io/os": "linux"});
    app.pod_spec["affinity"] = json!({"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 100, "podAffinityTerm": {"labelSelector": {"matchExpressions": [{"key": "k8s-app", "operator": "In", "values": ["kube-dns"]}]}, "topologyKey": "kubernetes.io/hostname"}}]}});
    app.pod_spec["tolerations"] = json!([
        {"key": "CriticalAddonsOnly", "operator": "Exists"},
        {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}
    ]);
    app.pod_spec["priorityClassName"] = json!("system-cluster-critical");
    app.pod_spec["serviceAccountName"] = json!("coredns");
    app::deploy_healthy(w, &app);
    let corefile = ".:53 {\n    errors\n    health {\n        lameduck 5s\n    }\n    ready\n    kubernetes cluster.local in-addr.arpa ip6.arpa {\n        pods insecure\n        fallthrough in-addr.arpa ip6.arpa\n    }\n    prometheus :9153\n    forward . /etc/resolv.conf\n    cache 30\n    loop\n    reload\n    loadbalance\n}\n";
    w.cluster.add(crate::builders::config::config_map(
        "kube-system",
        "coredns",
        CLUSTER_AGE,
        CLUSTER_AGE,
        "eks",
        &[("Corefile", corefile)],
    ));
    let mut svc = network::service(
        "kube-system",
        "kube-dns",
        CLUSTER_AGE,
        "172.20.0.10",
        &[("k8s-app", "kube-dns")],
        &[
            ServicePort {
                name: "dns".into(),
                port: 53,
                target: json!(53),
                protocol: "UDP",
            },
            ServicePort::tcp("dns-tcp", 53, json!(53)),
            ServicePort::tcp("metrics", 9153, json!(9153)),
        ],
    );
    meta::add_labels(
        &mut svc,
        &[
            ("k8s-app", "kube-dns"),
            ("kubernetes.io/cluster-service", "true"),
            ("kubernetes.io/name", "CoreDNS"),
        ],
    );
    w.cluster.add(svc);
}

fn metrics_server(w: &mut World) {
    let mut app = AppSpec::new(
        "kube-system",
        "metrics-server",
        "registry.k8s.io/metrics-server/metrics-server:v0.7.2",
        10250,
        1,
        CLUSTER_AGE - 86_400,
        86_400 * 20,
    );
    app.selector_labels = vec![("k8s-app".into(), "metrics-server".into())];
    // components.yaml of metrics-server v0.7.2: requests, no limits.
    *app.main_container() = json!({
        "name": "metrics-server",
        "image": app.pod_spec["containers"][0]["image"],
        "args": [
            "--cert-dir=/tmp",
            "--secure-port=10250",
            "--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname",
            "--kubelet-use-node-status-port",
            "--metric-resolution=15s"
        ],
        "ports": [{"name": "https", "containerPort": 10250, "protocol": "TCP"}],
        "livenessProbe": {"failureThreshold": 3, "httpGet": {"path": "/livez", "port": "https", "scheme": "HTTPS"}, "periodSeconds": 10},
        "readinessProbe": {"failureThreshold": 3, "httpGet": {"path": "/readyz", "port": "https", "scheme": "HTTPS"}, "initialDelaySeconds": 20, "periodSeconds": 10},
        "resources": {"requests": {"cpu": "100m", "memory": "200Mi"}},
        "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}, "readOnlyRootFilesystem": true, "runAsNonRoot": true, "runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"}},
        "volumeMounts": [{"mountPath": "/tmp", "name": "tmp-dir"}],
    });
    app.pod_spec["volumes"] = json!([{"emptyDir": {}, "name": "tmp-dir"}]);
    app.pod_spec["nodeSelector"] = json!({"kubernetes.io/os": "linux"});
    app.pod_spec["priorityClassName"] = json!("system-cluster-critical");
    app.pod_spec["serviceAccountName"] = json!("metrics-server");
    app::deploy_healthy(w, &app);
    let mut svc = network::service(
        "kube-system",
        "metrics-server",
        CLUSTER_AGE - 86_400,
        "172.20.118.7",
        &[("k8s-app", "metrics-server")],
        &[ServicePort::tcp("https", 443, json!("https"))],
    );
    meta::add_labels(&mut svc, &[("k8s-app", "metrics-server")]);
    w.cluster.add(svc);
}

/// The EKS kube-proxy add-on's pod spec: a CPU request and no limits.
pub fn kube_proxy_spec() -> Value {
    json!({
        "containers": [{
            "name": "kube-proxy",
            "image": "602401143452.dkr.ecr.us-east-1.amazonaws.com/eks/kube-proxy:v1.33.3-minimal-eksbuild.6",
            "command": ["kube-proxy", "--v=2", "--config=/var/lib/kube-proxy-config/config", "--hostname-override=$(NODE_NAME)"],
            "env": [{"name": "NODE_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "spec.nodeName"}}}],
            "resources": {"requests": {"cpu": "100m"}},
            "securityContext": {"privileged": true},
            "volumeMounts": [
                {"mountPath": "/var/log", "name": "varlog"},
                {"mountPath": "/run/xtables.lock", "name": "xtables-lock"},
                {"mountPath": "/lib/modules", "name": "lib-modules", "readOnly": true},
                {"mountPath": "/var/lib/kube-proxy/", "name": "kubeconfig"},
                {"mountPath": "/var/lib/kube-proxy-config/", "name": "config"}
            ],
        }],
        "volumes": [
            {"hostPath": {"path": "/var/log", "type": ""}, "name": "varlog"},
            {"hostPath": {"path": "/run/xtables.lock", "type": "FileOrCreate"}, "name": "xtables-lock"},
            {"hostPath": {"path": "/lib/modules", "type": ""}, "name": "lib-modules"},
            {"configMap": {"defaultMode": 420, "name": "kube-proxy"}, "name": "kubeconfig"},
            {"configMap": {"defaultMode": 420, "name": "kube-proxy-config"}, "name": "config"}
        ],
        "hostNetwork": true,
        "priorityClassName": "system-node-critical",
        "serviceAccountName": "kube-proxy",
        "tolerations": [{"operator": "Exists"}],
    })
}

/// kube-proxy: a DaemonSet with one pod per node, on the node's own IP.
fn kube_proxy(w: &mut World) {
    let labels = [("k8s-app", "kube-proxy")];
    let spec = kube_proxy_spec();
    let n = w.nodes.len() as i64;
    let ready = w
        .cluster
        .cluster_list("nodes")
        .iter()
        .filter(|nd| {
            nd["status"]["conditions"].as_array().is_some_and(|cs| {
                cs.iter()
                    .any(|c| c["type"] == "Ready" && c["status"] == "True")
            })
        })
        .count() as i64;
    let ds = workload::daemon_set(
        "kube-system",
        "kube-proxy",
        CLUSTER_AGE,
        &labels,
        &spec,
        n,
        ready,
    );
    let hash = workload::controller_revision_hash(&ds);
    let nodes = w.nodes.clone();
    for (i, id) in nodes.iter().enumerate() {
        let mut placement = w.place_on(i, 86_400 * 20);
        placement.pod_ip = id.ip.clone();
        let p = kube_proxy_pod(&spec, id, placement, &ds, &hash);
        w.cluster.add(p);
    }
    w.cluster.add(ds);
}

/// The kube-proxy pod the DaemonSet controller created for node `id`.
pub fn kube_proxy_pod(
    spec: &Value,
    id: &NodeId,
    placement: pod::Placement,
    ds: &Value,
    hash: &str,
) -> Value {
    let name = format!(
        "kube-proxy-{}",
        ids::suffix(&format!("kube-proxy/{}", id.name), 5)
    );
    let mut pspec = spec.clone();
    daemon_pod_tolerations(&mut pspec);
    pspec["affinity"] = json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": [id.name]}]}]}}});
    let mut p = pod::pod(
        "kube-system",
        &name,
        86_400 * 20,
        &pspec,
        &PodFate::Placed(placement),
        &[ContainerState::ready(86_400 * 20 - 9)],
    );
    meta::set_generate_name(&mut p, "kube-proxy-");
    meta::add_labels(
        &mut p,
        &[
            ("k8s-app", "kube-proxy"),
            ("controller-revision-hash", hash),
            ("pod-template-generation", "1"),
        ],
    );
    meta::set_owner(&mut p, ds);
    p
}

/// The tolerations the DaemonSet controller adds to every daemon pod
/// (`AddOrUpdateDaemonPodTolerations`), plus `network-unavailable` for host
/// network pods.
pub fn daemon_pod_tolerations(spec: &mut Value) {
    let mut added = vec![
        ("node.kubernetes.io/not-ready", "NoExecute"),
        ("node.kubernetes.io/unreachable", "NoExecute"),
        ("node.kubernetes.io/disk-pressure", "NoSchedule"),
        ("node.kubernetes.io/memory-pressure", "NoSchedule"),
        ("node.kubernetes.io/pid-pressure", "NoSchedule"),
        ("node.kubernetes.io/unschedulable", "NoSchedule"),
    ];
    if spec["hostNetwork"] == json!(true) {
        added.push(("node.kubernetes.io/network-unavailable", "NoSchedule"));
    }
    if !spec["tolerations"].is_array() {
        spec["tolerations"] = json!([]);
    }
    if let Some(list) = spec["tolerations"].as_array_mut() {
        for (key, effect) in added {
            list.push(json!({"key": key, "operator": "Exists", "effect": effect}));
        }
    }
}

#[allow(
    clippy::too_many_lines,
    reason = "one workload written out as a single table"
)]
fn ingress_nginx(w: &mut World, replicas: i64, crashing: bool) {
    let image = "registry.k8s.io/ingress-nginx/controller:v1.12.1@sha256:d2fbc4ec70d8aa2050dd91a91506e998765e86c96f32cffb56c503c9c34eed5b";
    let mut app = AppSpec::new(
        "ingress-nginx",
        "ingress-nginx-controller",
        image,
        80,
        replicas,
        CLUSTER_AGE - 3_600,
        86_400 * 34,
    );
    app.selector_labels = vec![
        ("app.kubernetes.io/component".into(), "controller".into()),
        ("app.kubernetes.io/instance".into(), "ingress-nginx".into()),
        ("app.kubernetes.io/name".into(), "ingress-nginx".into()),
    ];
    app.labels = vec![
        ("app.kubernetes.io/part-of".into(), "ingress-nginx".into()),
        ("app.kubernetes.io/version".into(), "1.12.1".into()),
    ];
    // The ingress-nginx Helm chart 4.12.1 defaults: requests but no limits,
    // probes on the metrics port 10254, which is only declared as a
    // container port when metrics are enabled (they are not by default).
    *app.main_container() = json!({
        "name": "controller",
        "image": image,
        "args": [
            "/nginx-ingress-controller",
            "--publish-service=$(POD_NAMESPACE)/ingress-nginx-controller",
            "--election-id=ingress-nginx-leader",
            "--controller-class=k8s.io/ingress-nginx",
            "--ingress-class=nginx",
            "--configmap=$(POD_NAMESPACE)/ingress-nginx-controller",
            "--validating-webhook=:8443",
            "--validating-webhook-certificate=/usr/local/certificates/cert",
            "--validating-webhook-key=/usr/local/certificates/key"
        ],
        "env": [
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}},
            {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}},
            {"name": "LD_PRELOAD", "value": "/usr/local/lib/libmimalloc.so"}
        ],
        "lifecycle": {"preStop": {"exec": {"command": ["/wait-shutdown"]}}},
        "livenessProbe": {"failureThreshold": 5, "httpGet": {"path": "/healthz", "port": 10254, "scheme": "HTTP"}, "initialDelaySeconds": 10, "periodSeconds": 10, "successThreshold": 1, "timeoutSeconds": 1},
        "readinessProbe": {"failureThreshold": 3, "httpGet": {"path": "/healthz", "port": 10254, "scheme": "HTTP"}, "initialDelaySeconds": 10, "periodSeconds": 10, "successThreshold": 1, "timeoutSeconds": 1},
        "ports": [
            {"name": "http", "containerPort": 80, "protocol": "TCP"},
            {"name": "https", "containerPort": 443, "protocol": "TCP"},
            {"name": "webhook", "containerPort": 8443, "protocol": "TCP"}
        ],
        "resources": {"requests": {"cpu": "100m", "memory": "90Mi"}},
        "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["ALL"]}, "readOnlyRootFilesystem": false, "runAsGroup": 82, "runAsNonRoot": true, "runAsUser": 101, "seccompProfile": {"type": "RuntimeDefault"}},
        "volumeMounts": [{"mountPath": "/usr/local/certificates/", "name": "webhook-cert", "readOnly": true}],
    });
    app.pod_spec["volumes"] = json!([{"name": "webhook-cert", "secret": {"defaultMode": 420, "secretName": "ingress-nginx-admission"}}]);
    app.pod_spec["nodeSelector"] = json!({"kubernetes.io/os": "linux"});
    app.pod_spec["terminationGracePeriodSeconds"] = json!(300);
    app.pod_spec["serviceAccountName"] = json!("ingress-nginx");
    w.cluster.add(crate::builders::config::secret(
        "ingress-nginx",
        "ingress-nginx-admission",
        CLUSTER_AGE - 3_590,
        CLUSTER_AGE - 3_590,
        "kube-webhook-certgen",
        "Opaque",
        &[
            ("ca", "-----BEGIN CERTIFICATE-----"),
            ("cert", "-----BEGIN CERTIFICATE-----"),
            ("key", "-----BEGIN EC PRIVATE KEY-----"),
        ],
    ));
    if crashing {
        // A Helm upgrade 40 minutes ago moved the controller to the host
        // network, where port 80 is taken: klog.Fatal exits with 255.
        app.rollout_ago = 2_400;
        app.revision = 7;
        app.pod_spec["hostNetwork"] = json!(true);
        app.pod_spec["dnsPolicy"] = json!("ClusterFirstWithHostNet");
        app::deploy(w, &app, |i, name, mut pl| {
            pl.pod_ip = pl.host_ip.clone();
            let off = i as i64 * 17;
            let st = ContainerState::Waiting {
                reason: "CrashLoopBackOff".into(),
                message: Some(format!("back-off 5m0s restarting failed container=controller pod={name}_ingress-nginx({})", ids::uid(&format!("Pod/ingress-nginx/{name}")))),
                restarts: 12,
                last: Some(pod::Terminated::new("Error", 255, 140 + off, 139 + off)),
            };
            (PodFate::Placed(pl), vec![st])
        });
    } else {
        app::deploy_healthy(w, &app);
    }
    let sel = app.selector();
    let mut svc = network::service(
        "ingress-nginx",
        "ingress-nginx-controller",
        CLUSTER_AGE - 3_600,
        "172.20.51.190",
        &sel,
        &[
            ServicePort::tcp("http", 80, json!("http")),
            ServicePort::tcp("https", 443, json!("https")),
        ],
    );
    meta::add_labels(&mut svc, &sel);
    svc["spec"]["type"] = json!("LoadBalancer");
    svc["spec"]["externalTrafficPolicy"] = json!("Cluster");
    svc["spec"]["allocateLoadBalancerNodePorts"] = json!(true);
    svc["spec"]["ports"][0]["nodePort"] = json!(31380);
    svc["spec"]["ports"][1]["nodePort"] = json!(30443);
    svc["status"] = json!({"loadBalancer": {"ingress": [{"hostname": LB_HOSTNAME}]}});
    w.cluster.add(svc);
    w.cluster.add(crate::builders::config::config_map(
        "ingress-nginx",
        "ingress-nginx-controller",
        CLUSTER_AGE - 3_600,
        CLUSTER_AGE - 3_600,
        "helm",
        &[("allow-snippet-annotations", "false")],
    ));
    w.cluster.add(network::ingress_class(
        "nginx",
        "k8s.io/ingress-nginx",
        CLUSTER_AGE - 3_600,
    ));
}

/// The ELB hostname the controller publishes in Ingress statuses.
pub const LB_HOSTNAME: &str =
    "a3f1c9e07b2d44c8b1e2f5a6d7c8e9f0-1790324553.us-east-1.elb.amazonaws.com";

/// The node objects, mutable (for pressure and NotReady scenarios).
pub fn node_mut(w: &mut World, index: usize) -> Option<&mut Value> {
    w.cluster
        .cluster_objects
        .get_mut("nodes")
        .and_then(|n| n.get_mut(index))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baseline_is_healthy_and_complete() {
        let c = world(&Baseline::default()).finish();
        assert_eq!(c.cluster_list("nodes").len(), 3);
        let dns: Vec<&Value> = c
            .objects("kube-system", "pods")
            .iter()
            .filter(|p| p["metadata"]["labels"]["k8s-app"] == "kube-dns")
            .collect();
        assert_eq!(dns.len(), 2);
        assert!(dns.iter().all(|p| app::is_ready(p)));
        for p in c.all_pods() {
            assert_eq!(p["status"]["phase"], "Running", "{}", meta::name_of(p));
            let volume = p["spec"]["volumes"]
                .as_array()
                .and_then(|v| v.iter().find(|v| v["projected"].is_object()))
                .and_then(|v| v["name"].as_str())
                .unwrap_or_else(|| panic!("{}: no token volume", meta::name_of(p)));
            for ctr in p["spec"]["containers"].as_array().unwrap() {
                assert!(
                    ctr["volumeMounts"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|m| m["name"] == volume
                            && m["mountPath"] == crate::builders::admission::TOKEN_MOUNT_PATH),
                    "{}",
                    meta::name_of(p)
                );
            }
        }
        // Stock manifests: CoreDNS limits memory only, the others set none.
        let dns_res = &dns[0]["spec"]["containers"][0]["resources"];
        assert_eq!(dns_res["limits"], json!({"memory": "170Mi"}));
        assert_eq!(dns[0]["spec"]["priority"], 2_000_000_000);
        let ingress = &c.objects("ingress-nginx", "pods")[0];
        assert!(ingress["spec"]["containers"][0]["resources"]["limits"].is_null());
        let proxy = c
            .objects("kube-system", "pods")
            .iter()
            .find(|p| p["metadata"]["labels"]["k8s-app"] == "kube-proxy")
            .unwrap();
        assert_eq!(proxy["spec"]["tolerations"].as_array().unwrap().len(), 8);
        assert_eq!(proxy["spec"]["priority"], 2_000_001_000);
        for ns in c.namespaces.keys() {
            assert!(
                c.objects(ns, "configmaps")
                    .iter()
                    .any(|cm| cm["metadata"]["name"] == "kube-root-ca.crt"),
                "{ns}"
            );
        }
        let ep = c.objects("ingress-nginx", "endpoints");
        assert_eq!(
            ep[0]["subsets"][0]["addresses"].as_array().unwrap().len(),
            2
        );
        assert_eq!(
            c.cluster_list("ingressclasses")[0]["spec"]["controller"],
            "k8s.io/ingress-nginx"
        );
        assert_eq!(c.node_metrics.len(), 3);
    }
}
