//! StatefulSets and DaemonSets: a StatefulSet whose ordinal 1 crashloops
//! and blocks ordinal 2, a log shipper kept off a tainted GPU node, a
//! node-exporter pod crashing on one node, and the near miss where a
//! nodeSelector keeps daemons off the GPU node on purpose.
//!
//! Shapes from the controllers: the StatefulSet controller
//! (`pkg/controller/statefulset`) names pods `<set>-<ordinal>`, labels them
//! `apps.kubernetes.io/pod-index` and `controller-revision-hash`, and with
//! `OrderedReady` creates ordinal N+1 only when N is Running and Ready; the
//! DaemonSet controller (`pkg/controller/daemon`) pins each pod to its node
//! with a `matchFields metadata.name` node affinity, adds its tolerations
//! (`AddOrUpdateDaemonPodTolerations`), and counts in
//! `desiredNumberScheduled` only the nodes its predicates accept, so a node
//! with an untolerated `NoSchedule` taint is simply not counted.

use serde_json::{json, Value};

use super::common::{crashloop_events, crashloop_message, pod_ref};
use super::Scenario;
use crate::app::{self, AppSpec};
use crate::baseline::{self, daemon_pod_tolerations, Baseline};
use crate::builders::node::{self, NodeId, NodeShape};
use crate::builders::pod::{self, ContainerState, Placement, PodFate, Terminated};
use crate::builders::{meta, workload};
use crate::cluster::Cluster;
use crate::expected::{finding, pod as pod_key, Finding};
use crate::ids;
use crate::world::World;

/// The StatefulSet and DaemonSet scenarios.
pub const SCENARIOS: &[Scenario] = &[
    Scenario { name: "statefulset-stuck", description: "In shop, the session-store StatefulSet (redis, OrderedReady) was scaled from 2 to 3 replicas: ordinal 1 crashloops (exit code 1, its append-only file is corrupt) so the controller never creates ordinal 2; readyReplicas 1 of 3. The rate-limiter StatefulSet's rolling update to a template with a mistyped --maxmemory-policy replaced ordinal 2, which crashloops, so ordinals 1 and 0 stay on the old revision.", build: statefulset_stuck },
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
    let exporter = Daemon {
        ns: "monitoring",
        name: "node-exporter",
        spec: node_exporter_spec(),
        created_ago: 86_400 * 90,
    };
    let broken = general.get(1).map(|n| n.name.clone()).unwrap_or_default();
    let mut everywhere = general.clone();
    everywhere.push(gpu.clone());
    let crash_ref =
        |pod: &str| crashloop_message(&pod_ref("monitoring", pod), "node-exporter", "5m0s");
    let (ds, pods) = exporter.deploy(&mut w, &everywhere, |id| {
        if id.name == broken {
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
    let p = super::common::pod_obj(&w, "monitoring", &crashing);
    w.cluster.add_all(crashloop_events(
        &p,
        "node-exporter",
        "quay.io/prometheus/node-exporter:v1.7.0",
        &broken,
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
    let findings = vec![
        finding(
            "daemonset-untolerated-taint",
            "DaemonSet/logging/fluent-bit",
            &[&gpu.name, "dedicated=gpu:NoSchedule"],
        ),
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
    ];
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

/// A redis log whose append-only file is corrupt: redis refuses to load it
/// and exits 1 (`aof.c`, `loadSingleAppendOnlyFile`).
fn redis_aof_log(started_ago: i64) -> String {
    let t = ids::collection_started() - chrono::Duration::seconds(started_ago);
    let stamp = t.format("%d %b %Y %H:%M:%S%.3f");
    format!(
        "1:C {stamp} * oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo\n\
1:C {stamp} * Redis version=7.4.2, bits=64, commit=00000000, modified=0, pid=1, just started\n\
1:C {stamp} * Configuration loaded\n\
1:S {stamp} * monotonic clock: POSIX clock_gettime\n\
1:S {stamp} * Running mode=standalone, port=6379.\n\
1:S {stamp} * Server initialized\n\
1:S {stamp} * Reading RDB base file on AOF loading...\n\
1:S {stamp} # Bad file format reading the append only file appendonly.aof.4.incr.aof: make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>\n"
    )
}

fn statefulset_stuck() -> (Cluster, Vec<Finding>) {
    let mut w = baseline::world(&Baseline::default());
    w.cluster.namespace("shop", 86_400 * 200);
    let mut app = AppSpec::new(
        "shop",
        "session-store",
        "docker.io/library/redis:7.4.2",
        6379,
        2,
        86_400 * 110,
        86_400 * 30,
    );
    let c = app.main_container();
    c["ports"] = json!([{"name": "redis", "containerPort": 6379, "protocol": "TCP"}]);
    c["args"] = json!(["--appendonly", "yes"]);
    c["readinessProbe"] = json!({"exec": {"command": ["redis-cli", "ping"]}, "periodSeconds": 10, "timeoutSeconds": 1, "successThreshold": 1, "failureThreshold": 3});
    c["livenessProbe"] = json!({"tcpSocket": {"port": "redis"}, "initialDelaySeconds": 15, "periodSeconds": 20, "timeoutSeconds": 1, "successThreshold": 1, "failureThreshold": 3});
    app::resources(c, Some("100m"), Some("256Mi"), Some("500m"), Some("512Mi"));
    let names = crate::stateful::deploy_stateful(&mut w, &app, "8Gi");
    let broken = names.get(1).cloned().unwrap_or_default();
    // Scaled to 3 forty minutes ago: ordinal 1 was recreated then (its node
    // was replaced) and crashloops, so ordinal 2 is never created.
    let created = 2_400;
    let Some(old) = w.cluster.find_mut("shop", "pods", &broken).cloned() else {
        return (w.finish(), Vec::new());
    };
    let placement = Placement {
        node: old["spec"]["nodeName"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        host_ip: old["status"]["hostIP"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        pod_ip: old["status"]["podIP"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        scheduled_ago: created - 1,
    };
    let node_name = placement.node.clone();
    let state = ContainerState::Waiting {
        reason: "CrashLoopBackOff".into(),
        message: Some(crashloop_message(
            &pod_ref("shop", &broken),
            "session-store",
            "5m0s",
        )),
        restarts: 12,
        last: Some(Terminated::new("Error", 1, 212, 211)),
    };
    let fresh = pod::pod(
        "shop",
        &broken,
        created,
        &old["spec"],
        &PodFate::Placed(placement),
        &[state],
    );
    if let Some(p) = w.cluster.find_mut("shop", "pods", &broken) {
        p["status"] = fresh["status"].clone();
        p["metadata"]["creationTimestamp"] = fresh["metadata"]["creationTimestamp"].clone();
        p["metadata"]["uid"] = fresh["metadata"]["uid"].clone();
    }
    if let Some(sts) = w.cluster.find_mut("shop", "statefulsets", "session-store") {
        sts["metadata"]["generation"] = json!(2);
        sts["spec"]["replicas"] = json!(3);
        sts["status"]["observedGeneration"] = json!(2);
        sts["status"]["readyReplicas"] = json!(1);
        sts["status"]["availableReplicas"] = json!(1);
    }
    let p = super::common::pod_obj(&w, "shop", &broken);
    w.cluster.add_all(crashloop_events(
        &p,
        "session-store",
        "docker.io/library/redis:7.4.2",
        &node_name,
        12,
        created - 5,
        90,
    ));
    w.cluster
        .add_log("shop", &broken, "session-store", true, &redis_aof_log(212));
    let key = pod_key("shop", &broken);
    let mut findings = rate_limiter(&mut w);
    findings.extend([
        finding("pod-crashloop", &key, &["exit code 1"]),
        finding(
            "statefulset-not-ready",
            "StatefulSet/shop/session-store",
            &[
                &format!("{broken} (ordinal 1) is CrashLoopBackOff"),
                "before it creates or updates ordinal 2",
                "readyReplicas 1 of 3",
            ],
        )
        .caused_by("pod-crashloop", &key),
    ]);
    (w.finish(), findings)
}

/// redis refusing a config value (`config.c`): the fatal banner, the line
/// and what the directive accepts.
fn redis_config_log(started_ago: i64) -> String {
    let t = ids::collection_started() - chrono::Duration::seconds(started_ago);
    let stamp = t.format("%d %b %Y %H:%M:%S%.3f");
    format!(
        "1:C {stamp} * oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo\n\n\
*** FATAL CONFIG FILE ERROR (Redis 7.4.2) ***\n\
Reading the configuration file, at line 2\n\
>>> 'maxmemory-policy \"allkeys-lfu2\"'\n\
argument(s) must be one of the following: volatile-lru, allkeys-lru, volatile-lfu, allkeys-lfu, volatile-random, allkeys-random, volatile-ttl, noeviction\n"
    )
}

/// rate-limiter: a 3-replica redis StatefulSet whose rolling update to a
/// template with a mistyped `--maxmemory-policy` replaced ordinal 2 (the
/// first one a rolling update takes) 25 minutes ago; that pod crashloops,
/// so ordinals 1 and 0 keep the old revision.
fn rate_limiter(w: &mut World) -> Vec<Finding> {
    let mut app = AppSpec::new(
        "shop",
        "rate-limiter",
        "docker.io/library/redis:7.4.2",
        6379,
        3,
        86_400 * 80,
        86_400 * 12,
    );
    let c = app.main_container();
    c["ports"] = json!([{"name": "redis", "containerPort": 6379, "protocol": "TCP"}]);
    c["readinessProbe"] = json!({"exec": {"command": ["redis-cli", "ping"]}, "periodSeconds": 10, "timeoutSeconds": 1, "successThreshold": 1, "failureThreshold": 3});
    c["livenessProbe"] = json!({"tcpSocket": {"port": "redis"}, "initialDelaySeconds": 15, "periodSeconds": 20, "timeoutSeconds": 1, "successThreshold": 1, "failureThreshold": 3});
    app::resources(c, Some("100m"), Some("128Mi"), Some("500m"), Some("256Mi"));
    let names = crate::stateful::deploy_stateful(w, &app, "2Gi");
    let (old_rev, new_rev) = ("rate-limiter-7b9d4c6f58", "rate-limiter-5f8c9d7b46");
    let new_args = json!(["--maxmemory", "200mb", "--maxmemory-policy", "allkeys-lfu2"]);
    for n in &names {
        if let Some(p) = w.cluster.find_mut("shop", "pods", n) {
            p["metadata"]["labels"]["controller-revision-hash"] = json!(old_rev);
        }
    }
    let broken = names.get(2).cloned().unwrap_or_default();
    let created = 1_500;
    let Some(old) = w.cluster.find_mut("shop", "pods", &broken).cloned() else {
        return Vec::new();
    };
    let placement = Placement {
        node: old["spec"]["nodeName"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        host_ip: old["status"]["hostIP"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        pod_ip: old["status"]["podIP"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        scheduled_ago: created - 1,
    };
    let node_name = placement.node.clone();
    let mut spec = old["spec"].clone();
    spec["containers"][0]["args"] = new_args.clone();
    let state = ContainerState::Waiting {
        reason: "CrashLoopBackOff".into(),
        message: Some(crashloop_message(
            &pod_ref("shop", &broken),
            "rate-limiter",
            "5m0s",
        )),
        restarts: 9,
        last: Some(Terminated::new("Error", 1, 160, 160)),
    };
    let fresh = pod::pod(
        "shop",
        &broken,
        created,
        &spec,
        &PodFate::Placed(placement),
        &[state],
    );
    if let Some(p) = w.cluster.find_mut("shop", "pods", &broken) {
        p["spec"] = spec;
        p["status"] = fresh["status"].clone();
        p["metadata"]["creationTimestamp"] = fresh["metadata"]["creationTimestamp"].clone();
        p["metadata"]["uid"] = fresh["metadata"]["uid"].clone();
        p["metadata"]["labels"]["controller-revision-hash"] = json!(new_rev);
    }
    if let Some(sts) = w.cluster.find_mut("shop", "statefulsets", "rate-limiter") {
        sts["metadata"]["generation"] = json!(2);
        sts["spec"]["template"]["spec"]["containers"][0]["args"] = new_args;
        sts["status"]["observedGeneration"] = json!(2);
        sts["status"]["readyReplicas"] = json!(2);
        sts["status"]["availableReplicas"] = json!(2);
        sts["status"]["currentReplicas"] = json!(2);
        sts["status"]["updatedReplicas"] = json!(1);
        sts["status"]["currentRevision"] = json!(old_rev);
        sts["status"]["updateRevision"] = json!(new_rev);
    }
    let p = super::common::pod_obj(w, "shop", &broken);
    w.cluster.add_all(crashloop_events(
        &p,
        "rate-limiter",
        "docker.io/library/redis:7.4.2",
        &node_name,
        9,
        created - 5,
        70,
    ));
    w.cluster.add_log(
        "shop",
        &broken,
        "rate-limiter",
        true,
        &redis_config_log(160),
    );
    let key = pod_key("shop", &broken);
    vec![
        finding(
            "pod-crashloop",
            &key,
            &["exit code 1", "FATAL CONFIG FILE ERROR"],
        ),
        finding(
            "statefulset-update-stuck",
            "StatefulSet/shop/rate-limiter",
            &[
                &format!("from revision {old_rev} to {new_rev}"),
                &format!("{broken} (ordinal 2) is CrashLoopBackOff"),
                "before it updates ordinal 1",
            ],
        )
        .caused_by("pod-crashloop", &key),
    ]
}
