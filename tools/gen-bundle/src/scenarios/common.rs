//! Pieces shared by scenarios: healthy neighbour apps, kubelet event
//! sequences and log texts.

use chrono::Duration;
use serde_json::{json, Value};

use crate::app::{self, AppSpec, Deployed};
use crate::builders::event::{self, Source};
use crate::builders::meta;
use crate::builders::network::{self, ServicePort};
use crate::ids;
use crate::world::World;

/// The pod object named `name` in `ns` (cloned; `Null` when missing).
pub fn pod_obj(w: &World, ns: &str, name: &str) -> Value {
    w.cluster
        .objects(ns, "pods")
        .iter()
        .find(|p| meta::name_of(p) == name)
        .cloned()
        .unwrap_or(Value::Null)
}

/// `name_namespace(uid)`: how the kubelet names a pod in messages.
pub fn kubelet_pod_ref(pod: &Value) -> String {
    format!(
        "{}_{}({})",
        meta::name_of(pod),
        meta::namespace_of(pod),
        pod["metadata"]["uid"].as_str().unwrap_or("")
    )
}

/// `name_namespace(uid)` of a pod not built yet (uids are derived from names).
pub fn pod_ref(ns: &str, name: &str) -> String {
    format!("{name}_{ns}({})", ids::uid(&format!("Pod/{ns}/{name}")))
}

/// A ClusterIP Service for an app on port 80 → named port `http`.
pub fn expose(w: &mut World, app: &AppSpec, name: &str) -> Value {
    let sel = app.selector();
    let mut svc = network::service(
        &app.namespace,
        name,
        app.created_ago,
        &World::cluster_ip(&format!("{}/{name}", app.namespace)),
        &sel,
        &[ServicePort::tcp("http", 80, json!("http"))],
    );
    meta::add_labels(&mut svc, &sel);
    meta::add_labels(&mut svc, &[("app.kubernetes.io/managed-by", "Helm")]);
    w.cluster.add(svc.clone());
    svc
}

/// A healthy neighbour app (2 replicas, Service) so a scenario's namespace
/// is not just the broken workload.
pub fn neighbour(w: &mut World, ns: &str, name: &str, image: &str) -> Deployed {
    let app = AppSpec::new(ns, name, image, 8080, 2, 86_400 * 75, 86_400 * 6 + 4_211);
    let d = app::deploy_healthy(w, &app);
    expose(w, &app, name);
    d
}

/// When the current (or, while it waits, the last) instance of `container`
/// started, from the pod's status.
pub fn last_start(pod: &Value, container: &str) -> Option<i64> {
    let cs = pod["status"]["containerStatuses"]
        .as_array()?
        .iter()
        .chain(
            pod["status"]["initContainerStatuses"]
                .as_array()
                .into_iter()
                .flatten(),
        )
        .find(|c| c["name"] == container)?;
    ids::ago_of(&cs["state"]["running"]["startedAt"])
        .or_else(|| ids::ago_of(&cs["lastState"]["terminated"]["startedAt"]))
}

/// Kubelet events of a container that keeps crashing: pulls, creates,
/// starts (the last one when its last instance started) and the `BackOff`
/// warning.
pub fn crashloop_events(
    pod: &Value,
    container: &str,
    image: &str,
    node: &str,
    restarts: u32,
    first_ago: i64,
    last_ago: i64,
) -> Vec<Value> {
    let ns = meta::namespace_of(pod);
    let fp = format!("spec.containers{{{container}}}");
    let k = Source::kubelet(node);
    let started = last_start(pod, container).unwrap_or(last_ago + 129);
    vec![
        event::series_event(
            ns,
            pod,
            "Normal",
            "Scheduled",
            "Binding",
            &format!(
                "Successfully assigned {ns}/{} to {node}",
                meta::name_of(pod)
            ),
            "default-scheduler",
            "default-scheduler-ip-10-0-0-12",
            first_ago + 4,
            None,
        ),
        event::event(
            ns,
            pod,
            Some(&fp),
            "Normal",
            "Pulled",
            &format!("Container image \"{image}\" already present on machine"),
            &k,
            restarts + 1,
            first_ago,
            started + 1,
        ),
        event::event(
            ns,
            pod,
            Some(&fp),
            "Normal",
            "Created",
            &format!("Created container: {container}"),
            &k,
            restarts + 1,
            first_ago,
            started + 1,
        ),
        event::event(
            ns,
            pod,
            Some(&fp),
            "Normal",
            "Started",
            &format!("Started container {container}"),
            &k,
            restarts + 1,
            first_ago,
            started,
        ),
        event::event(
            ns,
            pod,
            Some(&fp),
            "Warning",
            "BackOff",
            &format!(
                "Back-off restarting failed container {container} in pod {}",
                kubelet_pod_ref(pod)
            ),
            &k,
            restarts * 6 + 3,
            first_ago - 20,
            last_ago,
        ),
    ]
}

/// The `CrashLoopBackOff` waiting message.
pub fn crashloop_message(pod_ref: &str, container: &str, backoff: &str) -> String {
    format!("back-off {backoff} restarting failed container={container} pod={pod_ref}")
}

/// Milliseconds since the epoch `secs_ago` before collection (pino / JSON
/// loggers write this).
pub fn epoch_ms(secs_ago: i64) -> i64 {
    (ids::anchor() - Duration::seconds(secs_ago)).timestamp_millis()
}

/// ISO time with milliseconds `secs_ago` before collection.
pub fn iso_ms(secs_ago: i64, ms: u32) -> String {
    let t = ids::anchor() - Duration::seconds(secs_ago);
    format!("{}.{:03}Z", t.format("%Y-%m-%dT%H:%M:%S"), ms % 1000)
}

/// Access-log style lines of a healthy HTTP service.
pub fn healthy_log(service: &str, secs_ago_start: i64, lines: usize) -> String {
    let mut rng = ids::Rng::keyed(service);
    let paths = [
        "/api/v1/items",
        "/api/v1/items/4821",
        "/healthz/ready",
        "/api/v1/cart",
        "/healthz/live",
    ];
    let mut out = format!(
        "{} INFO  {service} listening on :8080\n",
        iso_ms(secs_ago_start, 114)
    );
    for i in 0..lines {
        let ago = secs_ago_start - (i as i64 + 1) * (secs_ago_start / (lines as i64 + 1)).max(1);
        let path = rng.pick(&paths).copied().unwrap_or("/");
        out.push_str(&format!(
            "{} INFO  request method=GET path={path} status=200 duration_ms={}\n",
            iso_ms(ago.max(1), rng.below(1000) as u32),
            2 + rng.below(40)
        ));
    }
    out
}

/// The scheduler's message when no node has `resource` left for a pod, on
/// a cluster of `nodes` nodes.
pub fn insufficient_message(nodes: usize, resource: &str) -> String {
    format!("0/{nodes} nodes are available: {nodes} Insufficient {resource}. preemption: 0/{nodes} nodes are available: {nodes} No preemption victims found for incoming pod.")
}

/// The smallest CPU request (a multiple of 100m) that fits no node now but
/// fits an empty node; `None` if nodes are too empty for that.
pub fn cpu_request_that_does_not_fit(w: &World) -> Option<u64> {
    let nodes = crate::world::cpu_by_node(&w.cluster);
    let max_free = nodes
        .iter()
        .map(|(_, req, alloc)| alloc.saturating_sub(*req))
        .max()?;
    let min_alloc = nodes.iter().map(|(_, _, alloc)| *alloc).min()?;
    let request = (max_free / 100 + 1) * 100 + 100;
    (request <= min_alloc).then_some(request)
}

/// A Deployment whose single replica cannot be scheduled: `FailedScheduling`
/// series event from the scheduler. Returns the pod name.
pub fn unschedulable(w: &mut World, app: &AppSpec, message: &str, since_ago: i64) -> String {
    let msg = message.to_string();
    let d = app::deploy(w, app, |_, _, _| {
        (
            crate::builders::pod::PodFate::Unschedulable {
                message: msg.clone(),
                since_ago,
            },
            vec![],
        )
    });
    let mut last = String::new();
    for name in &d.pods {
        let p = pod_obj(w, &app.namespace, name);
        let count = (since_ago / 60).max(1) as u32;
        w.cluster.add(event::series_event(
            &app.namespace,
            &p,
            "Warning",
            "FailedScheduling",
            "Scheduling",
            message,
            "default-scheduler",
            "default-scheduler-ip-10-0-0-12",
            since_ago,
            Some((count, 37)),
        ));
        last.clone_from(name);
    }
    last
}
