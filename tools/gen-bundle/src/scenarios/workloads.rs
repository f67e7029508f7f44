//! DaemonSets: a log shipper kept off a tainted GPU node, a node-exporter
//! pod crashing on one node, and the near miss where a nodeSelector keeps
//! daemons off the GPU node on purpose.
//!
//! Shapes from the DaemonSet controller (`pkg/controller/daemon`): it pins
//! each pod to its node with a `matchFields metadata.name` node affinity, adds its tolerations
//! (`AddOrUpdateDaemonPodTolerations`), and counts in
//! `desiredNumberScheduled` only the nodes its predicates accept, so a node
//! with an untolerated `NoSchedule` taint is simply not counted.

use serde_json::{json, Value};

use super::common::{crashloop_events, crashloop_message, pod_ref};
use super::Scenario;
use crate::app;
use crate::baseline::{self, daemon_pod_tolerations, Baseline};
use crate::builders::node::{self, NodeId, NodeShape};
use crate::builders::pod::{self, ContainerState, Placement, PodFate, Terminated};
use crate::builders::{meta, workload};
use crate::cluster::Cluster;
use crate::expected::{finding, pod as pod_key, Finding};
use crate::ids;
use crate::world::World;

/// The DaemonSet scenarios.
pub const SCENARIOS: &[Scenario] = &[
    Scenario { name: "daemonset-untolerated", description: "A GPU node tainted dedicated=gpu:NoSchedule joined the cluster: the fluent-bit log shipper does not tolerate the taint, so no logs are shipped from it; node-exporter tolerates every taint but its pod on ip-10-0-2-41 crashloops (port 9100 already bound on the host).", build: daemonset_untolerated },
    Scenario { name: "daemonset-nodeselector", description: "Near miss: the same tainted GPU node, but fluent-bit is restricted by nodeSelector to the general node group (3 of 3 scheduled, ready) and the nvidia-device-plugin DaemonSet selects only GPU nodes and tolerates the taint: nothing is missing where it should run.", build: daemonset_nodeselector },
];

/// g5.2xlarge: 8 vCPU, 32 GiB, 58 pods.
const G5_2XLARGE: NodeShape = NodeShape {
    instance_type: "g5.2xlarge",
    cpus: 8,
    memory_kib: 32_386_620,
    allocatable_memory_kib: 31_369_788,
    allocatable_millis: 7910,
    pods: 58,
};

/// The GPU node: its own node group, labelled and tainted for GPU work
/// only, joined 6 days ago. kube-proxy (which tolerates every taint) runs
/// there too.
fn gpu_node(w: &mut World) -> NodeId {
    let id = NodeId::from_ip("10.0.4.57");
    let mut n = node::node(&id, &G5_2XLARGE, "gpu-20250410", 86_400 * 6);
    meta::add_labels(
        &mut n,
        &[("dedicated", "gpu"), ("nvidia.com/gpu.present", "true")],
    );
    n["spec"]["taints"] = json!([{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]);
    w.cluster.add(n);
    kube_proxy_on(w, &id);
    id
}

/// A kube-proxy pod on `id`, and the DaemonSet's status counting it.
fn kube_proxy_on(w: &mut World, id: &NodeId) {
    let Some(template) = w
        .cluster
        .objects("kube-system", "pods")
        .iter()
        .find(|p| p["metadata"]["labels"]["k8s-app"] == "kube-proxy")
        .cloned()
    else {
        return;
    };
    let mut spec = template["spec"].clone();
    spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        ["nodeSelectorTerms"][0]["matchFields"][0]["values"] = json!([id.name]);
    let placement = Placement {
        node: id.name.clone(),
        host_ip: id.ip.clone(),
        pod_ip: id.ip.clone(),
        scheduled_ago: 86_400 * 6 - 40,
    };
    let name = format!(
        "kube-proxy-{}",
        ids::suffix(&format!("kube-proxy/{}", id.name), 5)
    );
    let mut p = pod::pod(
        "kube-system",
        &name,
        86_400 * 6 - 40,
        &spec,
        &PodFate::Placed(placement),
        &[ContainerState::ready(86_400 * 6 - 49)],
    );
    p["metadata"]["labels"] = template["metadata"]["labels"].clone();
    p["metadata"]["ownerReferences"] = template["metadata"]["ownerReferences"].clone();
    meta::set_generate_name(&mut p, "kube-proxy-");
    w.cluster.add(p);
    if let Some(ds) = w
        .cluster
        .find_mut("kube-system", "daemonsets", "kube-proxy")
    {
        for field in [
            "currentNumberScheduled",
            "desiredNumberScheduled",
            "numberAvailable",
            "numberReady",
            "updatedNumberScheduled",
        ] {
            let n = ds["status"][field].as_i64().unwrap_or(0);
            ds["status"][field] = json!(n + 1);
        }
    }
}

/// A DaemonSet and one pod per node in `on` (node index in `w.nodes` or
/// an extra node), each in the state `state_of` gives it.
struct Daemon<'a> {
    ns: &'a str,
    name: &'a str,
    spec: Value,
    created_ago: i64,
}

impl Daemon<'_> {
    fn deploy(
        &self,
        w: &mut World,
        on: &[NodeId],
        state_of: impl Fn(&NodeId) -> ContainerState,
    ) -> (Value, Vec<(String, NodeId)>) {
        let labels = [("app.kubernetes.io/name", self.name)];
        let n = on.len() as i64;
        let ready = on
            .iter()
            .filter(|id| matches!(state_of(id), ContainerState::Running { ready: true, .. }))
            .count() as i64;
        let mut ds = workload::daemon_set(
            self.ns,
            self.name,
            self.created_ago,
            &labels,
            &self.spec,
            n,
            ready,
        );
        ds["status"]["numberUnavailable"] = json!(n - ready);
        if n == ready {
            if let Some(s) = ds["status"].as_object_mut() {
                s.remove("numberUnavailable");
            }
        }
        let hash = workload::controller_revision_hash(&ds);
        let mut pods = Vec::new();
        for id in on {
            let created = self.created_ago - 60;
            let index = w.nodes.iter().position(|n| n.name == id.name);
            let mut placement = match index {
                Some(i) => w.place_on(i, created - 1),
                None => Placement {
                    node: id.name.clone(),
                    host_ip: id.ip.clone(),
                    pod_ip: format!(
                        "{}.{}",
                        id.ip.rsplitn(2, '.').last().unwrap_or(""),
                        9 + pods.len()
                    ),
                    scheduled_ago: created - 1,
                },
            };
            if self.spec["hostNetwork"] == json!(true) {
                placement.pod_ip = id.ip.clone();
            }
            let mut pspec = self.spec.clone();
            daemon_pod_tolerations(&mut pspec);
            pspec["affinity"] = json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": [id.name]}]}]}}});
            let name = format!(
                "{}-{}",
                self.name,
                ids::suffix(&format!("{}/{}", self.name, id.name), 5)
            );
            let mut p = pod::pod(
                self.ns,
                &name,
                created,
                &pspec,
                &PodFate::Placed(placement),
                &[state_of(id)],
            );
            meta::set_generate_name(&mut p, &format!("{}-", self.name));
            meta::add_labels(
                &mut p,
                &[
                    ("app.kubernetes.io/name", self.name),
                    ("controller-revision-hash", hash.as_str()),
                    ("pod-template-generation", "1"),
                ],
            );
            meta::set_owner(&mut p, &ds);
            w.cluster.add(p);
            pods.push((name, id.clone()));
        }
        (ds, pods)
    }
}

/// The fluent-bit ConfigMap its pods mount, unchanged since it was made.
fn fluent_bit_config(w: &mut World) {
    let conf = "[SERVICE]\n    HTTP_Server On\n    HTTP_Port 2020\n    Health_Check On\n\n[INPUT]\n    Name tail\n    Path /var/log/containers/*.log\n    multiline.parser docker, cri\n    Tag kube.*\n\n[OUTPUT]\n    Name opensearch\n    Match kube.*\n    Host logs.internal.acme-shop.example\n    Port 443\n    tls On\n";
    w.cluster.add(crate::builders::config::config_map(
        "logging",
        "fluent-bit",
        86_400 * 120,
        86_400 * 120,
        "helm",
        &[("fluent-bit.conf", conf)],
    ));
}

/// fluent-bit: tails /var/log/containers on the host, serves its health
/// endpoint on 2020; no tolerations of its own.
fn fluent_bit_spec() -> Value {
    let mut c = app::container(
        "fluent-bit",
        "cr.fluentbit.io/fluent/fluent-bit:3.2.4",
        2020,
    );
    c["readinessProbe"] = json!({"httpGet": {"path": "/api/v1/health", "port": "http", "scheme": "HTTP"}, "periodSeconds": 10, "timeoutSeconds": 1, "successThreshold": 1, "failureThreshold": 3});
    c["livenessProbe"] = json!({"httpGet": {"path": "/", "port": "http", "scheme": "HTTP"}, "periodSeconds": 10, "timeoutSeconds": 1, "successThreshold": 1, "failureThreshold": 3});
    c["volumeMounts"] = json!([
        {"name": "varlog", "mountPath": "/var/log", "readOnly": true},
        {"name": "config", "mountPath": "/fluent-bit/etc/conf"}
    ]);
    app::resources(
        &mut c,
        Some("50m"),
        Some("64Mi"),
        Some("500m"),
        Some("256Mi"),
    );
    json!({
        "containers": [c],
        "volumes": [
            {"name": "varlog", "hostPath": {"path": "/var/log", "type": ""}},
            {"name": "config", "configMap": {"name": "fluent-bit", "defaultMode": 420}}
        ],
    })
}

/// node-exporter: host network and PID, port 9100 on the node, tolerates
/// every taint (`operator: Exists`) as its chart does.
fn node_exporter_spec() -> Value {
    let mut c = app::container(
        "node-exporter",
        "quay.io/prometheus/node-exporter:v1.7.0",
        9100,
    );
    c["args"] = json!([
        "--path.procfs=/host/proc",
        "--path.sysfs=/host/sys",
        "--web.listen-address=0.0.0.0:9100"
    ]);
    c["ports"] =
        json!([{"name": "metrics", "containerPort": 9100, "hostPort": 9100, "protocol": "TCP"}]);
    c["readinessProbe"] = json!({"httpGet": {"path": "/", "port": 9100, "scheme": "HTTP"}, "periodSeconds": 10, "timeoutSeconds": 1, "successThreshold": 1, "failureThreshold": 3});
    c["livenessProbe"] = json!({"httpGet": {"path": "/", "port": 9100, "scheme": "HTTP"}, "periodSeconds": 10, "timeoutSeconds": 1, "successThreshold": 1, "failureThreshold": 3});
    app::resources(
        &mut c,
        Some("50m"),
        Some("32Mi"),
        Some("250m"),
        Some("64Mi"),
    );
    json!({
        "hostNetwork": true,
        "hostPID": true,
        "containers": [c],
        "tolerations": [{"operator": "Exists"}],
    })
}

fn daemonset_untolerated() -> (Cluster, Vec<Finding>) {
    let mut w = baseline::world(&Baseline::default());
    w.cluster.namespace("logging", 86_400 * 300);
    w.cluster.namespace("monitoring", 86_400 * 300);
    let gpu = gpu_node(&mut w);
    let general = w.nodes.clone();
    let shipper = Daemon {
        ns: "logging",
        name: "fluent-bit",
        spec: fluent_bit_spec(),
        created_ago: 86_400 * 120,
    };
    let (ds, _) = shipper.deploy(&mut w, &general, |_| ContainerState::ready(86_400 * 20));
    w.cluster.add(ds);
    fluent_bit_config(&mut w);
    let mut everywhere = general.clone();
    everywhere.push(gpu.clone());
    let mut findings = vec![finding(
        "daemonset-untolerated-taint",
        "DaemonSet/logging/fluent-bit",
        &[&gpu.name, "dedicated=gpu:NoSchedule"],
    )];
    let broken = general.get(1).map(|n| n.name.clone()).unwrap_or_default();
    findings.extend(crashing_exporter(&mut w, &everywhere, &broken));
    (w.finish(), findings)
}

fn daemonset_nodeselector() -> (Cluster, Vec<Finding>) {
    let mut w = baseline::world(&Baseline::default());
    w.cluster.namespace("logging", 86_400 * 300);
    let gpu = gpu_node(&mut w);
    let general = w.nodes.clone();
    let mut spec = fluent_bit_spec();
    spec["nodeSelector"] = json!({"eks.amazonaws.com/nodegroup": "general-20250410"});
    let shipper = Daemon {
        ns: "logging",
        name: "fluent-bit",
        spec,
        created_ago: 86_400 * 120,
    };
    let (ds, _) = shipper.deploy(&mut w, &general, |_| ContainerState::ready(86_400 * 20));
    w.cluster.add(ds);
    fluent_bit_config(&mut w);
    let mut c = app::container(
        "nvidia-device-plugin-ctr",
        "nvcr.io/nvidia/k8s-device-plugin:v0.17.0",
        2112,
    );
    if let Some(m) = c.as_object_mut() {
        m.remove("ports");
        m.remove("readinessProbe");
        m.remove("livenessProbe");
    }
    c["volumeMounts"] =
        json!([{"name": "device-plugin", "mountPath": "/var/lib/kubelet/device-plugins"}]);
    app::resources(
        &mut c,
        Some("10m"),
        Some("32Mi"),
        Some("100m"),
        Some("128Mi"),
    );
    let plugin = Daemon {
        ns: "kube-system",
        name: "nvidia-device-plugin",
        spec: json!({
            "priorityClassName": "system-node-critical",
            "nodeSelector": {"nvidia.com/gpu.present": "true"},
            "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}],
            "containers": [c],
            "volumes": [{"name": "device-plugin", "hostPath": {"path": "/var/lib/kubelet/device-plugins", "type": ""}}],
        }),
        created_ago: 86_400 * 6,
    };
    let (ds, _) = plugin.deploy(&mut w, &[gpu], |_| ContainerState::ready(86_400 * 6 - 90));
    w.cluster.add(ds);
    (w.finish(), Vec::new())
}

/// node-exporter on every node in `on`, crashlooping on node `broken`
/// (host port 9100 already bound there): its status, events and log.
fn crashing_exporter(w: &mut World, on: &[NodeId], broken: &str) -> Vec<Finding> {
    let exporter = Daemon {
        ns: "monitoring",
        name: "node-exporter",
        spec: node_exporter_spec(),
        created_ago: 86_400 * 90,
    };
    let crash_ref =
        |pod: &str| crashloop_message(&pod_ref("monitoring", pod), "node-exporter", "5m0s");
    let (ds, pods) = exporter.deploy(w, on, |id| {
        if id.name == *broken {
            ContainerState::Waiting {
                reason: "CrashLoopBackOff".into(),
                message: Some(crash_ref(&format!(
                    "node-exporter-{}",
                    ids::suffix(&format!("node-exporter/{}", id.name), 5)
                ))),
                restarts: 14,
                last: Some(Terminated::new("Error", 1, 170, 169)),
            }
        } else {
            ContainerState::ready(86_400 * 20)
        }
    });
    w.cluster.add(ds);
    let crashing = pods
        .iter()
        .find(|(_, id)| id.name == broken)
        .map(|(n, _)| n.clone())
        .unwrap_or_default();
    let p = super::common::pod_obj(w, "monitoring", &crashing);
    w.cluster.add_all(crashloop_events(
        &p,
        "node-exporter",
        "quay.io/prometheus/node-exporter:v1.7.0",
        broken,
        14,
        3_400,
        40,
    ));
    let log = format!(
        "ts={} caller=node_exporter.go:192 level=info msg=\"Starting node_exporter\" version=\"(version=1.7.0, branch=HEAD, revision=7333465abf9efba81876303bb57e6fadb946041b)\"\n\
ts={} caller=node_exporter.go:117 level=info collector=cpu\n\
ts={} caller=node_exporter.go:223 level=error err=\"listen tcp 0.0.0.0:9100: bind: address already in use\"\n",
        ids::ago(170),
        ids::ago(170),
        ids::ago(169)
    );
    w.cluster
        .add_log("monitoring", &crashing, "node-exporter", true, &log);
    let crash_key = pod_key("monitoring", &crashing);
    vec![
        finding("pod-crashloop", &crash_key, &["exit code 1"]),
        finding(
            "daemonset-not-ready",
            "DaemonSet/monitoring/node-exporter",
            &[
                &format!("pod {crashing} on node {broken} is CrashLoopBackOff"),
                "numberReady 3 of desiredNumberScheduled 4",
            ],
        )
        .caused_by("pod-crashloop", &crash_key),
    ]
}
