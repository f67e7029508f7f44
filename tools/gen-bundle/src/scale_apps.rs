//! The applications of a generated cluster: small descriptions from which
//! every object is regenerated on demand (see [`crate::scale`]).

use serde_json::{json, Value};

use crate::app;
use crate::builders::event::{self, Source};
use crate::builders::network::{self, Route, ServicePort};
use crate::builders::node::NodeId;
use crate::builders::pod::{self, ContainerState, Placement, PodFate, Terminated};
use crate::builders::workload::{self, HpaState, Replicas};
use crate::builders::{config, meta, metrics};
use crate::ids;
use crate::scale::Fleet;
use crate::scale_perturb::{self, Change};
pub use crate::scale_plan::{plan, AppDesc, Failure, NsDesc, Plan};
use crate::scale_stateful;

fn has(app: &AppDesc, f: Failure) -> bool {
    app.failure == Some(f)
}

/// The container spec of an app, with its failure's misconfiguration.
fn pod_spec(app: &AppDesc) -> Value {
    let mut c = app::container(&app.name, &app.image, 8080);
    let cpu = format!("{}m", app.cpu);
    let req_mem = format!("{}Mi", app.mem / 2);
    let lim_mem = format!("{}Mi", app.mem);
    let lim_cpu = format!("{}m", app.cpu * 2);
    match app.failure {
        Some(Failure::NoLimits) => app::resources(&mut c, Some(&cpu), Some(&req_mem), None, None),
        Some(Failure::HpaMissingRequests) => {
            app::resources(&mut c, None, Some(&req_mem), None, Some(&lim_mem))
        }
        Some(Failure::Unschedulable) => {
            app::resources(&mut c, Some("16"), Some("8Gi"), Some("16"), Some("8Gi"))
        }
        _ => app::resources(
            &mut c,
            Some(&cpu),
            Some(&req_mem),
            Some(&lim_cpu),
            Some(&lim_mem),
        ),
    }
    if has(app, Failure::ProbePortMismatch) {
        // A named port the container does not declare: the kubelet cannot
        // resolve it, so the probe errors and readiness stays False.
        c["readinessProbe"]["httpGet"]["port"] = json!("metrics");
    }
    let mut env = vec![
        json!({"name": "CONFIG_HASH", "valueFrom": {"configMapKeyRef": {"name": format!("{}-config", app.name), "key": "LOG_LEVEL"}}}),
    ];
    if has(app, Failure::ConfigError) {
        env.push(json!({"name": "FEATURE_FLAGS", "valueFrom": {"configMapKeyRef": {"name": format!("{}-config", app.name), "key": "FEATURE_FLAGS"}}}));
    }
    env.push(json!({"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": format!("{}-db", app.name), "key": "password"}}}));
    c["env"] = json!(env);
    let mut spec = json!({"containers": [c]});
    if has(app, Failure::MountFailed) {
        spec["containers"][0]["volumeMounts"] =
            json!([{"name": "tls", "mountPath": "/etc/tls", "readOnly": true}]);
        spec["volumes"] = json!([{"name": "tls", "secret": {"secretName": format!("{}-tls", app.name), "defaultMode": 420}}]);
    }
    spec
}

/// The node replica `r` of an app runs on: round robin by global pod
/// index over the fleet.
pub(crate) fn node_of(app: &AppDesc, r: u64, fleet: &Fleet) -> NodeId {
    fleet.id((app.first_pod + r) % fleet.count().max(1))
}

fn placement(app: &AppDesc, r: u64, fleet: &Fleet) -> Placement {
    let g = app.first_pod + r;
    let id = node_of(app, r, fleet);
    // A recreated replica (`--perturb`) was scheduled with the changes.
    let scheduled_ago = if app.replaced.contains(&r) && app.revision == 1 {
        scale_perturb::CHANGED_AGO - r as i64
    } else {
        app.rollout_ago - r as i64
    };
    Placement {
        node: id.name,
        host_ip: id.ip,
        pod_ip: format!("100.{}.{}.{}", 64 + g / 65_536, (g / 256) % 256, g % 256),
        scheduled_ago,
    }
}

/// Name of replica `r` of an app and its `pod-template-hash`.
pub(crate) fn pod_name(ns: &NsDesc, app: &AppDesc, r: u64) -> (String, String) {
    if app.stateful {
        return scale_stateful::pod_name(ns, app, r);
    }
    let (rs, hash) = workload::replica_set_name(&ns.name, &app.name, app.revision);
    let mut key = format!("{}/{}/{r}", ns.name, app.name);
    if app.replaced.contains(&r) {
        key = scale_perturb::incarnation_key(&key);
    }
    (format!("{rs}-{}", ids::suffix(&key, 5)), hash)
}

/// `state` after the container restarted (`--perturb`): a crash loop has
/// gone on (12 more restarts), a running container restarted once.
fn restarted(state: ContainerState) -> ContainerState {
    match state {
        ContainerState::Waiting {
            reason,
            message,
            restarts,
            last,
        } => ContainerState::Waiting {
            reason,
            message,
            restarts: restarts + 12,
            last,
        },
        ContainerState::Running {
            started_ago,
            ready,
            restarts,
            ..
        } => ContainerState::Running {
            started_ago: scale_perturb::RESTARTED_AGO,
            ready,
            restarts: restarts + 1,
            last: Some(Terminated::new(
                "Error",
                2,
                started_ago,
                scale_perturb::RESTARTED_AGO + 1,
            )),
        },
        done @ ContainerState::Done(_) => done,
    }
}

fn fate(ns: &NsDesc, app: &AppDesc, r: u64, fleet: &Fleet) -> (PodFate, Vec<ContainerState>) {
    let pl = placement(app, r, fleet);
    let started = pl.scheduled_ago - 8;
    let image = &app.image;
    let st = match app.failure {
        Some(Failure::ImageNotFound) => ContainerState::waiting("ImagePullBackOff", Some(format!("Back-off pulling image \"{image}\": ErrImagePull: rpc error: code = NotFound desc = failed to pull and unpack image \"{image}\": failed to resolve reference \"{image}\": {image}: not found"))),
        Some(Failure::ImagePullAuth) => ContainerState::waiting("ErrImagePull", Some(format!("rpc error: code = Unknown desc = failed to pull and unpack image \"{image}\": failed to resolve reference \"{image}\": pull access denied, repository does not exist or may require authorization: server message: insufficient_scope: authorization failed"))),
        Some(Failure::CrashLoop) => ContainerState::Waiting {
            reason: "CrashLoopBackOff".into(),
            message: Some(format!("back-off 5m0s restarting failed container={} pod={}_{}({})", app.name, pod_name(ns, app, r).0, ns.name, ids::uid(&format!("Pod/{}/{}", ns.name, pod_name(ns, app, r).0)))),
            restarts: 14,
            last: Some(Terminated::new("Error", 1, 190, 188)),
        },
        Some(Failure::OomKilled) => ContainerState::Running { started_ago: 1_800, ready: true, restarts: 2, last: Some(Terminated::new("OOMKilled", 137, 7_000, 1_802)) },
        Some(Failure::Unschedulable) => {
            let n = fleet.count();
            let message = format!("0/{n} nodes are available: {n} Insufficient cpu. preemption: 0/{n} nodes are available: {n} No preemption victims found for incoming pod.");
            return (PodFate::Unschedulable { message, since_ago: app.rollout_ago }, vec![]);
        }
        Some(Failure::MountFailed) => ContainerState::waiting("ContainerCreating", None),
        Some(Failure::ConfigError) => ContainerState::waiting("CreateContainerConfigError", Some(format!("couldn't find key FEATURE_FLAGS in ConfigMap {}/{}-config", ns.name, app.name))),
        Some(Failure::NotReady | Failure::ProbePortMismatch) => ContainerState::Running { started_ago: started, ready: false, restarts: 0, last: None },
        _ => ContainerState::ready(started),
    };
    let st = if app.change == Some(Change::Restarted) {
        restarted(st)
    } else {
        st
    };
    (PodFate::Placed(pl), vec![st])
}

/// Replica `r` of an app, owned by `owner` (its ReplicaSet or StatefulSet).
fn build_pod(ns: &NsDesc, app: &AppDesc, r: u64, fleet: &Fleet, owner: &Value) -> Value {
    let (name, hash) = pod_name(ns, app, r);
    let (f, states) = fate(ns, app, r, fleet);
    let mut p = pod::pod(
        &ns.name,
        &name,
        app.rollout_ago - r as i64,
        &pod_spec(app),
        &f,
        &states,
    );
    meta::add_labels(&mut p, &[("app.kubernetes.io/name", &app.name)]);
    if app.stateful {
        scale_stateful::adapt_pod(&mut p, ns, app, r);
    } else {
        meta::set_generate_name(&mut p, &format!("{}-", meta::name_of(owner)));
        meta::add_labels(&mut p, &[("pod-template-hash", &hash)]);
    }
    meta::set_owner(&mut p, owner);
    p
}

fn deployment_and_rs(ns: &NsDesc, app: &AppDesc, pods: &[Value]) -> (Value, Value) {
    let ready = pods.iter().filter(|p| app::is_ready(p)).count() as i64;
    let r = Replicas {
        desired: app.replicas as i64,
        current: app.replicas as i64,
        ready,
    };
    let d = workload::deployment(
        &ns.name,
        &app.name,
        app.created_ago,
        &[("app.kubernetes.io/name", &app.name)],
        &pod_spec(app),
        r,
        app.revision,
        app.rollout_ago,
    );
    let rs = workload::replica_set(&d, app.revision, app.rollout_ago, r);
    (d, rs)
}

/// The ReplicaSet a rollout replaced, scaled down to 0 and kept as history.
fn previous_rs(ns: &NsDesc, app: &AppDesc) -> Option<Value> {
    let (image, rollout_ago) = app.previous.clone()?;
    let old = AppDesc {
        image,
        rollout_ago,
        revision: 1,
        previous: None,
        change: None,
        ..app.clone()
    };
    let zero = Replicas {
        desired: 0,
        current: 0,
        ready: 0,
    };
    let (d, _) = deployment_and_rs(ns, &old, &[]);
    Some(workload::replica_set(&d, 1, rollout_ago, zero))
}

/// The controller of an app's pods, provisional: its owner reference
/// only depends on names, so the status is not computed.
fn owner(ns: &NsDesc, app: &AppDesc) -> Value {
    if app.stateful {
        return scale_stateful::stateful_set(ns, app, &pod_spec(app), &[]);
    }
    deployment_and_rs(ns, app, &[]).1
}

/// Replica `r` of an app, alone (for the per-node allocation pass).
pub fn pod_at(ns: &NsDesc, app: &AppDesc, r: u64, fleet: &Fleet) -> Value {
    build_pod(ns, app, r, fleet, &owner(ns, app))
}

fn pods_of(ns: &NsDesc, app: &AppDesc, fleet: &Fleet) -> Vec<Value> {
    let owner = owner(ns, app);
    (0..app.replicas)
        .map(|r| build_pod(ns, app, r, fleet, &owner))
        .collect()
}

fn service(ns: &NsDesc, app: &AppDesc) -> Value {
    let selector = if has(app, Failure::SelectorMismatch) {
        format!("{}x", app.name)
    } else {
        app.name.clone()
    };
    let target = if has(app, Failure::TargetPortMismatch) {
        json!(9090)
    } else {
        json!("http")
    };
    let mut svc = network::service(
        &ns.name,
        &app.name,
        app.created_ago,
        &crate::world::World::cluster_ip(&format!("{}/{}", ns.name, app.name)),
        &[("app.kubernetes.io/name", &selector)],
        &[ServicePort::tcp("http", 80, target)],
    );
    meta::add_labels(&mut svc, &[("app.kubernetes.io/name", &app.name)]);
    svc
}

fn events(ns: &NsDesc, app: &AppDesc, pods: &[Value]) -> Vec<Value> {
    let mut out = Vec::new();
    for p in pods {
        let node = p["spec"]["nodeName"].as_str().unwrap_or("").to_string();
        let k = Source::kubelet(&node);
        let fp = format!("spec.containers{{{}}}", app.name);
        let sched = app.rollout_ago;
        // Two routine events per pod, as a busy cluster keeps within the TTL.
        out.push(event::event(
            &ns.name,
            p,
            Some(&fp),
            "Normal",
            "Pulled",
            &format!(
                "Container image \"{}\" already present on machine",
                app.image
            ),
            &k,
            1,
            sched - 2,
            sched - 2,
        ));
        out.push(event::event(
            &ns.name,
            p,
            Some(&fp),
            "Normal",
            "Started",
            &format!("Started container {}", app.name),
            &k,
            1,
            sched - 3,
            sched - 3,
        ));
        let warn = |reason: &str, msg: String, count: u32| {
            event::event(
                &ns.name,
                p,
                Some(&fp),
                "Warning",
                reason,
                &msg,
                &k,
                count,
                sched - 5,
                20,
            )
        };
        match app.failure {
            Some(Failure::ImageNotFound) => out.push(warn("Failed", format!("Failed to pull image \"{0}\": rpc error: code = NotFound desc = failed to pull and unpack image \"{0}\": failed to resolve reference \"{0}\": {0}: not found", app.image), 30)),
            Some(Failure::ImagePullAuth) => out.push(warn("Failed", format!("Failed to pull image \"{0}\": rpc error: code = Unknown desc = failed to pull and unpack image \"{0}\": pull access denied, repository does not exist or may require authorization: server message: insufficient_scope: authorization failed", app.image), 30)),
            Some(Failure::CrashLoop) => out.push(warn("BackOff", format!("Back-off restarting failed container {} in pod {}_{}({})", app.name, meta::name_of(p), ns.name, p["metadata"]["uid"].as_str().unwrap_or("")), 80)),
            Some(Failure::MountFailed) => out.push(event::event(&ns.name, p, None, "Warning", "FailedMount", &format!("MountVolume.SetUp failed for volume \"tls\" : secret \"{}-tls\" not found", app.name), &k, 40, sched - 5, 30)),
            Some(Failure::ConfigError) => out.push(warn("Failed", format!("Error: couldn't find key FEATURE_FLAGS in ConfigMap {}/{}-config", ns.name, app.name), 50)),
            Some(Failure::NotReady) => out.push(warn("Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503".into(), 300)),
            // The kubelet's prober falls back to reading an unknown port
            // name as a number (`probe.ResolveContainerPort`).
            Some(Failure::ProbePortMismatch) => out.push(warn("Unhealthy", "Readiness probe errored: strconv.Atoi: parsing \"metrics\": invalid syntax".into(), 300)),
            Some(Failure::Unschedulable) => out.push(event::series_event(&ns.name, p, "Warning", "FailedScheduling", "Scheduling", p["status"]["conditions"][0]["message"].as_str().unwrap_or(""), "default-scheduler", "default-scheduler-ip-10-0-0-12", sched, Some((40, 30)))),
            _ => {}
        }
    }
    out
}

/// The Deployment controller's events of a `--perturb` rollout: the new
/// ReplicaSet scaled up, the old one down (`Scaled %s replica set %s to %d
/// from %d`, pkg/controller/deployment/sync.go).
fn rollout_events(ns: &NsDesc, app: &AppDesc, pods: &[Value]) -> Vec<Value> {
    let Some(old) = previous_rs(ns, app) else {
        return Vec::new();
    };
    let (d, rs) = deployment_and_rs(ns, app, pods);
    let n = app.replicas;
    let source = Source::controller("deployment-controller");
    let at = app.rollout_ago + 5;
    [
        format!("Scaled up replica set {} to {n} from 0", meta::name_of(&rs)),
        format!(
            "Scaled down replica set {} to 0 from {n}",
            meta::name_of(&old)
        ),
    ]
    .iter()
    .map(|m| {
        event::event(
            &ns.name,
            &d,
            None,
            "Normal",
            "ScalingReplicaSet",
            m,
            &source,
            1,
            at,
            at,
        )
    })
    .collect()
}

/// The objects of one kind (plural) an app contributes to its namespace.
#[allow(
    clippy::too_many_lines,
    reason = "one arm per bundle kind; a table reads best whole"
)]
pub fn objects(plural: &str, ns: &NsDesc, app: &AppDesc, fleet: &Fleet) -> Vec<Value> {
    match plural {
        "pods" => pods_of(ns, app, fleet),
        "deployments" | "replicasets" if app.stateful => vec![],
        "statefulsets" if app.stateful => {
            let pods = pods_of(ns, app, fleet);
            vec![scale_stateful::stateful_set(ns, app, &pod_spec(app), &pods)]
        }
        "persistentvolumeclaims" if app.stateful => scale_stateful::volumes_of(ns, app, fleet)
            .into_iter()
            .map(|v| v.claim)
            .collect(),
        "deployments" | "replicasets" => {
            let pods = pods_of(ns, app, fleet);
            let (d, rs) = deployment_and_rs(ns, app, &pods);
            if plural == "deployments" {
                return vec![d];
            }
            previous_rs(ns, app).into_iter().chain([rs]).collect()
        }
        "events" => {
            let pods = pods_of(ns, app, fleet);
            let mut out = events(ns, app, &pods);
            out.extend(rollout_events(ns, app, &pods));
            out
        }
        "services" => vec![service(ns, app)],
        "endpoints" => vec![network::endpoints(
            &service(ns, app),
            &pods_of(ns, app, fleet),
        )],
        "endpointslices" => vec![network::endpoint_slice(
            &service(ns, app),
            &pods_of(ns, app, fleet),
        )],
        "ingresses"
            if app.ingress
                || has(app, Failure::IngressServiceMissing)
                || has(app, Failure::IngressPortMissing) =>
        {
            let svc = if has(app, Failure::IngressServiceMissing) {
                format!("{}-svc", app.name)
            } else {
                app.name.clone()
            };
            let port = if has(app, Failure::IngressPortMissing) {
                json!({"number": 8080})
            } else {
                json!({"number": 80})
            };
            let host = format!("{}.{}.acme.example", app.name, ns.name);
            let route = Route {
                host: host.clone(),
                path: "/".into(),
                service: svc,
                port,
            };
            vec![network::ingress(
                &ns.name,
                &app.name,
                app.created_ago,
                "nginx",
                &[route],
                None,
                Some(crate::baseline::LB_HOSTNAME),
            )]
        }
        "horizontalpodautoscalers" if app.hpa || has(app, Failure::HpaMissingRequests) => {
            let min = app.replicas as i64;
            let state = if has(app, Failure::HpaMissingRequests) {
                let first = pod_name(ns, app, 0).0;
                HpaState::NoMetrics { reason: "FailedGetResourceMetric".into(), message: format!("the HPA was unable to compute the replica count: failed to get cpu utilization: missing request for cpu in container {} of Pod {first}", app.name) }
            } else {
                HpaState::Healthy {
                    utilization: 35,
                    average_millis: (app.cpu * 35 / 100) as i64,
                }
            };
            vec![workload::hpa(
                &ns.name,
                &app.name,
                app.created_ago,
                &app.name,
                min,
                min * 4,
                70,
                min,
                &state,
            )]
        }
        "configmaps" => {
            let edited = app.change == Some(Change::ConfigEdited);
            let changed = if edited {
                scale_perturb::CHANGED_AGO
            } else if has(app, Failure::StaleConfigMap) {
                900
            } else {
                app.rollout_ago + 300
            };
            let level = if edited { "debug" } else { "info" };
            vec![config::config_map(
                &ns.name,
                &format!("{}-config", app.name),
                app.created_ago,
                changed.min(app.created_ago),
                "helm",
                &[("LOG_LEVEL", level), ("MAX_CONNECTIONS", "64")],
            )]
        }
        "secrets" => {
            let rotated = if app.change == Some(Change::SecretRotated) {
                scale_perturb::CHANGED_AGO
            } else if has(app, Failure::StaleSecret) {
                600
            } else {
                app.created_ago
            };
            let mut s = config::secret(
                &ns.name,
                &format!("{}-db", app.name),
                app.created_ago,
                rotated,
                "helm",
                "Opaque",
                &[("password", "generated-password")],
            );
            kpm_bundle::secret::strip_secret(&mut s);
            vec![s]
        }
        _ => vec![],
    }
}

/// Logs of an app's failing pods: `(pod, container, previous, text)`.
pub fn logs(ns: &NsDesc, app: &AppDesc) -> Vec<(String, String, bool, String)> {
    if !has(app, Failure::CrashLoop) {
        return vec![];
    }
    (0..app.replicas)
        .map(|r| {
            let text = format!("starting {} version={}\nerror: failed to load configuration: open /etc/{}/config.yaml: no such file or directory\n", app.name, app.image.rsplit(':').next().unwrap_or(""), app.name);
            (pod_name(ns, app, r).0, app.name.clone(), true, text)
        })
        .collect()
}

/// PodMetrics of an app's running pods.
pub fn pod_metrics(ns: &NsDesc, app: &AppDesc, fleet: &Fleet) -> Vec<Value> {
    pods_of(ns, app, fleet)
        .iter()
        .filter(|p| {
            p["status"]["phase"] == "Running"
                && p["status"]["containerStatuses"][0]["state"]["running"].is_object()
        })
        .map(|p| {
            let mem = if has(app, Failure::OomKilled) {
                app.mem * 95 / 100
            } else {
                app.mem * 45 / 100
            };
            metrics::pod_metrics(
                &ns.name,
                meta::name_of(p),
                &p["metadata"]["labels"],
                &[(&app.name, app.cpu / 3 + 1, mem)],
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scale::{self, ScaleOptions};

    fn opts() -> ScaleOptions {
        ScaleOptions {
            nodes: 4,
            pods: 700,
            seed: 11,
            failure_rate: 1.0,
            perturb: 0.0,
        }
    }

    #[test]
    fn plan_covers_pods_and_every_failure_kind_parses() {
        let o = opts();
        let p = plan(&o);
        let total: u64 = p
            .namespaces
            .iter()
            .flat_map(|n| &n.apps)
            .map(|a| a.replicas)
            .sum();
        // Daemon pods (one per node) and the CronJobs' finished pods are
        // taken from the pods asked for.
        let batch: u64 = p
            .namespaces
            .iter()
            .map(|n| crate::scale_batch::pods_in(&n.name))
            .sum();
        let budget = o.pods - o.nodes - batch;
        // Pod indexes (node placement, pod IPs) follow each other without
        // gaps or overlaps, StatefulSets' included.
        let apps: Vec<&AppDesc> = p.namespaces.iter().flat_map(|n| &n.apps).collect();
        for w in apps.windows(2) {
            assert_eq!(
                w[1].first_pod,
                w[0].first_pod + w[0].replicas,
                "{}",
                w[1].name
            );
        }
        assert!(apps.iter().any(|a| a.stateful));
        assert!(
            total >= budget - p.namespaces.len() as u64 && total <= budget,
            "{total}"
        );
        let fleet = scale::fleet(&o);
        // Force every failure kind onto one app and check each object parses.
        let ns = p.namespaces.first().unwrap();
        let mut app = ns.apps.first().unwrap().clone();
        for f in Failure::ALL {
            app.failure = Some(f);
            for pod in objects("pods", ns, &app, &fleet) {
                let _: k8s_openapi::api::core::v1::Pod = serde_json::from_value(pod).unwrap();
            }
            for e in objects("events", ns, &app, &fleet) {
                let _: k8s_openapi::api::core::v1::Event = serde_json::from_value(e).unwrap();
            }
            for s in objects("services", ns, &app, &fleet) {
                let _: k8s_openapi::api::core::v1::Service = serde_json::from_value(s).unwrap();
            }
        }
        app.failure = Some(Failure::Unschedulable);
        let pods = objects("pods", ns, &app, &fleet);
        assert_eq!(
            pods[0]["status"]["conditions"][0]["reason"],
            "Unschedulable"
        );
        app.failure = Some(Failure::SelectorMismatch);
        let ep = objects("endpoints", ns, &app, &fleet);
        assert!(ep[0].get("subsets").is_none());
    }

    #[test]
    fn generated_bundle_verifies_and_is_deterministic() {
        let tmp = tempfile::tempdir().unwrap();
        let o = ScaleOptions {
            nodes: 3,
            pods: 60,
            seed: 5,
            failure_rate: 0.5,
            perturb: 0.0,
        };
        let a = scale::generate(&o, &tmp.path().join("a.zip")).unwrap();
        let b = scale::generate(&o, &tmp.path().join("b.zip")).unwrap();
        // 56 pods in two namespaces (60 asked for, less one kube-proxy per
        // node, split evenly; the CronJob's finished pods among them), plus
        // kube-proxy (3), CoreDNS (2), metrics-server (1), ingress-nginx (2).
        assert_eq!(a.pods, 64);
        assert_eq!(a.nodes, 3);
        let ba = kpm_bundle::Bundle::open(&a.path).unwrap();
        let bb = kpm_bundle::Bundle::open(&b.path).unwrap();
        assert!(ba.verify().is_empty(), "{:?}", ba.verify());
        assert_eq!(ba.manifest().files, bb.manifest().files);
        let alloc: kpm_semantics::allocation::NodeAllocationFile =
            ba.read_json(kpm_bundle::layout::NODE_ALLOCATION).unwrap();
        assert_eq!(alloc.nodes.len(), 3);
        // The node-by-node stream equals the allocation computed from the
        // whole pod list read back.
        let nodes: kpm_bundle::List<Value> = ba.read_list("cluster/nodes.json").unwrap();
        let mut all_pods = Vec::new();
        for ns in ba.namespaces() {
            let l: kpm_bundle::List<Value> = ba
                .read_list(&kpm_bundle::layout::namespaced_path(&ns, "pods"))
                .unwrap();
            all_pods.extend(l.items);
        }
        assert_eq!(crate::allocation::derive(&nodes.items, &all_pods), alloc);
        let counted: u32 = alloc.nodes.iter().map(|n| n.non_terminated_pods).sum();
        assert!(counted > 0);
        let pods: kpm_bundle::List<k8s_openapi::api::core::v1::Pod> = ba
            .read_list(&kpm_bundle::layout::namespaced_path(
                &plan(&o).namespaces[0].name,
                "pods",
            ))
            .unwrap();
        assert!(!pods.items.is_empty());
        assert!(scale::peak_rss_kib().is_some());
    }
}
