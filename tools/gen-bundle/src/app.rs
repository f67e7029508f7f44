//! Applications: a Deployment with its ReplicaSet and pods (and optionally a
//! Service), built consistently so that only the failure a scenario injects
//! differs from a healthy cluster.

use serde_json::{json, Value};

use crate::builders::pod::{self, ContainerState, Placement, PodFate};
use crate::builders::workload::{self, Replicas};
use crate::builders::{event, meta};
use crate::world::World;

/// A container spec with pinned image, requests, limits and HTTP probes on
/// the named port `http` — the healthy default scenarios start from.
pub fn container(name: &str, image: &str, port: i32) -> Value {
    json!({
        "name": name,
        "image": image,
        "ports": [{"name": "http", "containerPort": port, "protocol": "TCP"}],
        "resources": {
            "requests": {"cpu": "250m", "memory": "256Mi"},
            "limits": {"cpu": "500m", "memory": "512Mi"},
        },
        "readinessProbe": {
            "httpGet": {"path": "/healthz/ready", "port": "http", "scheme": "HTTP"},
            "initialDelaySeconds": 5, "periodSeconds": 10, "timeoutSeconds": 1, "successThreshold": 1, "failureThreshold": 3,
        },
        "livenessProbe": {
            "httpGet": {"path": "/healthz/live", "port": "http", "scheme": "HTTP"},
            "initialDelaySeconds": 15, "periodSeconds": 20, "timeoutSeconds": 1, "successThreshold": 1, "failureThreshold": 3,
        },
    })
}

/// Sets requests and limits of a container (`None` leaves a field out).
pub fn resources(
    c: &mut Value,
    req_cpu: Option<&str>,
    req_mem: Option<&str>,
    lim_cpu: Option<&str>,
    lim_mem: Option<&str>,
) {
    let mut res = json!({});
    for (section, cpu, mem) in [("requests", req_cpu, req_mem), ("limits", lim_cpu, lim_mem)] {
        let mut m = serde_json::Map::new();
        if let Some(v) = cpu {
            m.insert("cpu".into(), json!(v));
        }
        if let Some(v) = mem {
            m.insert("memory".into(), json!(v));
        }
        if !m.is_empty() {
            res[section] = Value::Object(m);
        }
    }
    c["resources"] = res;
}

/// What to deploy.
#[derive(Debug, Clone)]
pub struct AppSpec {
    /// Namespace.
    pub namespace: String,
    /// Deployment name; also the `app.kubernetes.io/name` label.
    pub name: String,
    /// Replicas.
    pub replicas: i64,
    /// The pod template spec (`containers`, `volumes`, ...).
    pub pod_spec: Value,
    /// Deployment age.
    pub created_ago: i64,
    /// Current revision and when it rolled out (pods start then).
    pub revision: u32,
    /// Age of the current ReplicaSet.
    pub rollout_ago: i64,
    /// Extra pod labels on top of the selector.
    pub labels: Vec<(String, String)>,
    /// Selector (and template) labels; `app.kubernetes.io/name=<name>` by
    /// default.
    pub selector_labels: Vec<(String, String)>,
    /// Scaled out after the rollout: replicas from this index on were
    /// created this long ago (an HPA adding pods), not at the rollout.
    pub scaled_out: Option<(usize, i64)>,
}

impl AppSpec {
    /// One-container app: `replicas` pods of `image` serving on `port`,
    /// deployed `created_ago` and last rolled out `rollout_ago`.
    pub fn new(
        namespace: &str,
        name: &str,
        image: &str,
        port: i32,
        replicas: i64,
        created_ago: i64,
        rollout_ago: i64,
    ) -> AppSpec {
        AppSpec {
            namespace: namespace.into(),
            name: name.into(),
            replicas,
            pod_spec: json!({"containers": [container(name, image, port)]}),
            created_ago,
            revision: 1 + (created_ago - rollout_ago).max(0) as u32 / 86_400 % 9,
            rollout_ago,
            labels: vec![],
            selector_labels: vec![("app.kubernetes.io/name".into(), name.into())],
            scaled_out: None,
        }
    }

    /// The first container (to tweak).
    pub fn main_container(&mut self) -> &mut Value {
        &mut self.pod_spec["containers"][0]
    }

    /// When replica `i` was created: at the rollout, or at the scale-out
    /// that added it.
    pub fn created_ago_of(&self, i: usize) -> i64 {
        match self.scaled_out {
            Some((from, ago)) if i >= from => ago - 3 * (i - from) as i64,
            _ => self.rollout_ago - 3 * i as i64,
        }
    }

    /// The selector labels.
    pub fn selector(&self) -> Vec<(&str, &str)> {
        self.selector_labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }
}

/// The pods an [`deploy`] call created, by name, with their placement.
#[derive(Debug, Clone)]
pub struct Deployed {
    /// Pod names in replica order.
    pub pods: Vec<String>,
    /// Node of each pod (`None` when unscheduled).
    pub nodes: Vec<Option<String>>,
    /// The ReplicaSet name.
    pub replica_set: String,
}

/// Creates the Deployment, its ReplicaSet and pods. `fate(i, name, placement)`
/// decides what happened to replica `i` named `name` (given where the
/// scheduler would put it) and the state of each container.
pub fn deploy(
    world: &mut World,
    app: &AppSpec,
    mut fate: impl FnMut(usize, &str, Placement) -> (PodFate, Vec<ContainerState>),
) -> Deployed {
    let ns = app.namespace.as_str();
    let (rs_name, hash) = workload::replica_set_name(ns, &app.name, app.revision);
    let mut pods = Vec::new();
    let mut names = Vec::new();
    let mut nodes = Vec::new();
    for i in 0..app.replicas.max(0) as usize {
        let pod_name = format!(
            "{rs_name}-{}",
            crate::ids::suffix(&format!("{ns}/{rs_name}/{i}"), 5)
        );
        let created = app.created_ago_of(i);
        let placement = match app.scaled_out {
            // Added later: placed without moving the round robin, so the
            // pods deployed after this app land where they did before.
            Some((from, _)) if i >= from => world.place_on(i, created - 1),
            _ => world.place(created - 1),
        };
        let (f, states) = fate(i, &pod_name, placement);
        let p = replica(app, (&rs_name, &hash), &pod_name, created, &f, &states);
        nodes.push(p["spec"]["nodeName"].as_str().map(str::to_string));
        add_start_events(world, app, &p, &f, &states);
        names.push(pod_name);
        pods.push(p);
    }
    add_workloads(world, app, pods);
    Deployed {
        pods: names,
        nodes,
        replica_set: rs_name,
    }
}

/// One pod of the app's current ReplicaSet (owner set later, with the
/// ReplicaSet's uid).
fn replica(
    app: &AppSpec,
    (rs_name, hash): (&str, &str),
    pod_name: &str,
    created: i64,
    fate: &PodFate,
    states: &[ContainerState],
) -> Value {
    let ns = app.namespace.as_str();
    let mut p = pod::pod(ns, pod_name, created, &app.pod_spec, fate, states);
    meta::set_generate_name(&mut p, &format!("{rs_name}-"));
    let mut labels: Vec<(&str, &str)> = app.selector();
    labels.push(("pod-template-hash", hash));
    for (k, v) in &app.labels {
        labels.push((k, v));
    }
    meta::add_labels(&mut p, &labels);
    p
}

/// Recently started healthy pods still have their start events (the API
/// server keeps events for an hour).
fn add_start_events(
    world: &mut World,
    app: &AppSpec,
    p: &Value,
    fate: &PodFate,
    states: &[ContainerState],
) {
    let (
        PodFate::Placed(pl),
        Some(ContainerState::Running {
            started_ago,
            restarts: 0,
            ..
        }),
    ) = (fate, states.first())
    else {
        return;
    };
    if *started_ago < 3_300 {
        let c = &app.pod_spec["containers"][0];
        let evs = event::normal_start(
            p,
            c["name"].as_str().unwrap_or(""),
            c["image"].as_str().unwrap_or(""),
            &pl.node,
            *started_ago,
        );
        world.cluster.add_all(evs);
    }
}

/// Adds the Deployment, its current ReplicaSet (owning `pods`), the previous
/// ReplicaSet scaled to zero after a rollout, and the pods.
fn add_workloads(world: &mut World, app: &AppSpec, mut pods: Vec<Value>) {
    let ns = app.namespace.as_str();
    let ready = pods.iter().filter(|p| is_ready(p)).count() as i64;
    let r = Replicas {
        desired: app.replicas,
        current: pods.len() as i64,
        ready,
    };
    let sel = app.selector();
    let d = workload::deployment(
        ns,
        &app.name,
        app.created_ago,
        &sel,
        &app.pod_spec,
        r,
        app.revision,
        app.rollout_ago,
    );
    let rs = workload::replica_set(&d, app.revision, app.rollout_ago, r);
    for p in &mut pods {
        meta::set_owner(p, &rs);
    }
    if app.revision > 1 {
        // The previous ReplicaSet, scaled to zero, as rollouts leave behind.
        let zero = Replicas {
            desired: 0,
            current: 0,
            ready: 0,
        };
        let old = workload::replica_set(&d, app.revision - 1, app.rollout_ago + 86_400 * 3, zero);
        world.cluster.add(old);
    }
    world.cluster.add(d);
    world.cluster.add(rs);
    world.cluster.add_all(pods);
}

/// Whether a pod has `Ready=True`.
pub fn is_ready(pod: &Value) -> bool {
    pod["status"]["conditions"].as_array().is_some_and(|cs| {
        cs.iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    })
}

/// Deploys an app whose every replica is running and ready.
pub fn deploy_healthy(world: &mut World, app: &AppSpec) -> Deployed {
    let n = app.pod_spec["containers"].as_array().map_or(1, Vec::len);
    deploy(world, app, |i, _, pl| {
        // Started 12 s after the rollout (or the scale-out) began.
        let started = match app.scaled_out {
            Some((from, ago)) if i >= from => ago - 12,
            _ => app.rollout_ago - 12,
        };
        (PodFate::Placed(pl), vec![ContainerState::ready(started); n])
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builders::node::NodeId;
    use crate::cluster::Cluster;

    #[test]
    fn deployment_chain_is_consistent() {
        let mut w = World::new(
            Cluster::new(),
            vec![NodeId::from_ip("10.0.1.17"), NodeId::from_ip("10.0.2.9")],
        );
        let app = AppSpec::new(
            "shop",
            "cart",
            "ghcr.io/acme/cart:2.8.1",
            8080,
            2,
            86_400 * 40,
            86_400 * 2,
        );
        let d = deploy_healthy(&mut w, &app);
        assert_eq!(d.pods.len(), 2);
        let c = w.cluster;
        let rs = &c
            .objects("shop", "replicasets")
            .iter()
            .find(|r| meta::name_of(r) == d.replica_set)
            .unwrap();
        let deploy = &c.objects("shop", "deployments")[0];
        assert_eq!(
            rs["metadata"]["ownerReferences"][0]["uid"],
            deploy["metadata"]["uid"]
        );
        for p in c.objects("shop", "pods") {
            assert_eq!(
                p["metadata"]["ownerReferences"][0]["uid"],
                rs["metadata"]["uid"]
            );
            assert_eq!(
                p["metadata"]["labels"]["pod-template-hash"],
                rs["metadata"]["labels"]["pod-template-hash"]
            );
            assert!(is_ready(p));
        }
        assert_eq!(deploy["status"]["readyReplicas"], 2);
    }
}
