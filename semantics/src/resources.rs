//! A pod's total requests and limits as `kubectl describe node` counts them.
//!
//! Mirrors `PodRequestsAndLimits` of `k8s.io/kubectl/pkg/util/resource`
//! (a simplified `k8s.io/component-helpers/resource.PodRequests`):
//! - regular containers are summed;
//! - a regular init container runs alone (plus the sidecars started before
//!   it), so the pod needs the *maximum* of that and the containers' sum;
//! - restartable (sidecar) init containers, `restartPolicy: Always`, keep
//!   running, so they add up cumulatively both to the sum and to every later
//!   init container's footprint;
//! - `spec.overhead` (RuntimeClass) is added to requests, and to limits that
//!   are already set and non-zero.
//!
//! Sums keep the print format of the first quantity added (Go's
//! `Quantity.Add`), so the totals print exactly like kubectl's.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Pod, PodSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as K8sQuantity;

use crate::quantity::Quantity;

/// Resource name (`cpu`, `memory`, `nvidia.com/gpu`, ...) to quantity.
pub type ResourceList = BTreeMap<String, Quantity>;

/// Requests and limits of a pod from its spec alone: what the pod asked for.
/// Returns `(requests, limits)`; a resource nobody set is absent.
pub fn pod_requests_and_limits(spec: &PodSpec) -> (ResourceList, ResourceList) {
    (pod_requests(spec, None), pod_limits(spec))
}

/// Requests and limits exactly as kubectl computes them for a live pod: like
/// [`pod_requests_and_limits`], but a container's request is the larger of
/// its spec and its `status.containerStatuses[].resources.requests` (what is
/// actually allocated during an in-place resize), or the status alone when
/// the resize is `Infeasible`.
pub fn pod_requests_and_limits_for_pod(pod: &Pod) -> (ResourceList, ResourceList) {
    let Some(spec) = pod.spec.as_ref() else {
        return (ResourceList::new(), ResourceList::new());
    };
    (pod_requests(spec, Some(pod)), pod_limits(spec))
}

/// Parses a k8s-openapi resource map. Quantities that do not parse are left
/// out: the API server validates them, so only a hand-edited bundle has them.
pub fn resource_list(map: Option<&BTreeMap<String, K8sQuantity>>) -> ResourceList {
    map.into_iter()
        .flatten()
        .filter_map(|(k, v)| Quantity::from_k8s(v).ok().map(|q| (k.clone(), q)))
        .collect()
}

/// `addResourceList`: adds every quantity of `new` into `list`.
pub fn add_resource_list(list: &mut ResourceList, new: &ResourceList) {
    for (name, q) in new {
        match list.get_mut(name) {
            Some(v) => v.add(q),
            None => {
                list.insert(name.clone(), *q);
            }
        }
    }
}

/// `maxResourceList`: raises every quantity of `list` to the one in `new`.
pub fn max_resource_list(list: &mut ResourceList, new: &ResourceList) {
    for (name, q) in new {
        match list.get_mut(name) {
            Some(v) if *q > *v => *v = *q,
            Some(_) => {}
            None => {
                list.insert(name.clone(), *q);
            }
        }
    }
}

/// The component-helpers `max`: per resource the larger value, `b` winning ties.
fn max_of(a: &ResourceList, b: &ResourceList) -> ResourceList {
    let mut out = ResourceList::new();
    for (k, v) in a {
        let pick = match b.get(k) {
            Some(other) if v <= other => *other,
            _ => *v,
        };
        out.insert(k.clone(), pick);
    }
    for (k, v) in b {
        out.entry(k.clone()).or_insert(*v);
    }
    out
}

fn is_restartable(c: &Container) -> bool {
    c.restart_policy.as_deref() == Some("Always")
}

fn requests_of(c: &Container) -> ResourceList {
    resource_list(c.resources.as_ref().and_then(|r| r.requests.as_ref()))
}

fn limits_of(c: &Container) -> ResourceList {
    resource_list(c.resources.as_ref().and_then(|r| r.limits.as_ref()))
}

/// Folds init containers into `total` per the sidecar rules (shared by
/// requests and limits).
fn fold_init_containers(
    total: &mut ResourceList,
    spec: &PodSpec,
    of: fn(&Container) -> ResourceList,
) {
    let mut sidecars = ResourceList::new();
    let mut init_max = ResourceList::new();
    for c in spec.init_containers.iter().flatten() {
        let own = of(c);
        let footprint = if is_restartable(c) {
            add_resource_list(total, &own);
            add_resource_list(&mut sidecars, &own);
            sidecars.clone()
        } else {
            let mut tmp = own;
            add_resource_list(&mut tmp, &sidecars);
            tmp
        };
        max_resource_list(&mut init_max, &footprint);
    }
    max_resource_list(total, &init_max);
}

fn pod_requests(spec: &PodSpec, pod: Option<&Pod>) -> ResourceList {
    let status = pod.and_then(|p| p.status.as_ref());
    let infeasible = status.and_then(|s| s.resize.as_deref()) == Some("Infeasible");
    let statuses = status
        .and_then(|s| s.container_statuses.as_deref())
        .unwrap_or_default();

    let mut reqs = ResourceList::new();
    for c in &spec.containers {
        let mut own = requests_of(c);
        let allocated = statuses
            .iter()
            .find(|cs| cs.name == c.name)
            .and_then(|cs| cs.resources.as_ref());
        if let Some(res) = allocated {
            let actual = resource_list(res.requests.as_ref());
            own = if infeasible {
                actual
            } else {
                max_of(&own, &actual)
            };
        }
        add_resource_list(&mut reqs, &own);
    }
    fold_init_containers(&mut reqs, spec, requests_of);
    add_resource_list(&mut reqs, &resource_list(spec.overhead.as_ref()));
    reqs
}

fn pod_limits(spec: &PodSpec) -> ResourceList {
    let mut limits = ResourceList::new();
    for c in &spec.containers {
        add_resource_list(&mut limits, &limits_of(c));
    }
    fold_init_containers(&mut limits, spec, limits_of);
    for (name, q) in resource_list(spec.overhead.as_ref()) {
        if let Some(v) = limits.get_mut(&name) {
            if !v.is_zero() {
                v.add(&q);
            }
        }
    }
    limits
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(v: serde_json::Value) -> PodSpec {
        serde_json::from_value(v).unwrap()
    }

    fn s(list: &ResourceList, k: &str) -> String {
        list.get(k)
            .map(|q| q.to_string())
            .unwrap_or_else(|| "-".into())
    }

    #[test]
    fn sums_containers() {
        let sp = spec(json!({"containers": [
            {"name": "app", "resources": {"requests": {"cpu": "250m", "memory": "256Mi"},
                                          "limits": {"cpu": "1", "memory": "512Mi"}}},
            {"name": "envoy", "resources": {"requests": {"cpu": "100m", "memory": "64Mi"},
                                            "limits": {"memory": "128Mi"}}}
        ]}));
        let (req, lim) = pod_requests_and_limits(&sp);
        assert_eq!(s(&req, "cpu"), "350m");
        assert_eq!(s(&req, "memory"), "320Mi");
        assert_eq!(s(&lim, "cpu"), "1");
        assert_eq!(s(&lim, "memory"), "640Mi");
    }

    #[test]
    fn init_container_max_dominates() {
        let sp = spec(json!({
            "initContainers": [
                {"name": "migrate", "resources": {"requests": {"cpu": "2", "memory": "1Gi"}}}
            ],
            "containers": [
                {"name": "app", "resources": {"requests": {"cpu": "500m", "memory": "2Gi"}}}
            ]
        }));
        let (req, lim) = pod_requests_and_limits(&sp);
        assert_eq!(s(&req, "cpu"), "2");
        assert_eq!(s(&req, "memory"), "2Gi");
        assert!(lim.is_empty());
    }

    #[test]
    fn sidecars_add_up_cumulatively() {
        // KEP-753 example: sidecar 1 cpu, then a regular init container of
        // 2 cpu that runs next to it (3), then containers 1 cpu + sidecar 1.
        let sp = spec(json!({
            "initContainers": [
                {"name": "proxy", "restartPolicy": "Always",
                 "resources": {"requests": {"cpu": "1", "memory": "100Mi"}, "limits": {"cpu": "1"}}},
                {"name": "setup", "resources": {"requests": {"cpu": "2", "memory": "50Mi"}}},
                {"name": "logs", "restartPolicy": "Always",
                 "resources": {"requests": {"cpu": "500m", "memory": "20Mi"}}}
            ],
            "containers": [
                {"name": "app", "resources": {"requests": {"cpu": "1", "memory": "200Mi"},
                                              "limits": {"cpu": "2"}}}
            ]
        }));
        let (req, lim) = pod_requests_and_limits(&sp);
        // Steady state 1 + 1 + 0.5 = 2.5 cpu; during setup 2 + 1 = 3 cpu.
        assert_eq!(s(&req, "cpu"), "3");
        // Memory steady state 200 + 100 + 20 = 320Mi beats 150Mi during setup.
        assert_eq!(s(&req, "memory"), "320Mi");
        // Limits: app 2 + proxy 1 = 3; setup has none, footprint proxy = 1.
        assert_eq!(s(&lim, "cpu"), "3");
    }

    #[test]
    fn overhead_added_to_requests_and_set_limits() {
        let sp = spec(json!({
            "runtimeClassName": "kata",
            "overhead": {"cpu": "250m", "memory": "120Mi"},
            "containers": [
                {"name": "app", "resources": {"requests": {"cpu": "500m", "memory": "256Mi"},
                                              "limits": {"cpu": "1"}}}
            ]
        }));
        let (req, lim) = pod_requests_and_limits(&sp);
        assert_eq!(s(&req, "cpu"), "750m");
        assert_eq!(s(&req, "memory"), "376Mi");
        assert_eq!(s(&lim, "cpu"), "1250m");
        assert_eq!(s(&lim, "memory"), "-");
    }

    #[test]
    fn status_resources_raise_requests_during_resize() {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "resizing", "namespace": "default"},
            "spec": {"containers": [{"name": "app", "resources": {"requests": {"cpu": "500m"}}}]},
            "status": {"phase": "Running", "containerStatuses": [{
                "name": "app", "image": "app", "imageID": "", "ready": true, "restartCount": 0,
                "resources": {"requests": {"cpu": "1"}}
            }]}
        }))
        .unwrap();
        let (req, _) = pod_requests_and_limits_for_pod(&pod);
        assert_eq!(s(&req, "cpu"), "1");
        let (spec_req, _) = pod_requests_and_limits(pod.spec.as_ref().unwrap());
        assert_eq!(s(&spec_req, "cpu"), "500m");
    }

    #[test]
    fn extended_resources_and_bad_quantities() {
        let sp = spec(json!({"containers": [
            {"name": "train", "resources": {"requests": {"nvidia.com/gpu": "2", "cpu": "bogus"},
                                            "limits": {"nvidia.com/gpu": "2"}}}
        ]}));
        let (req, lim) = pod_requests_and_limits(&sp);
        assert_eq!(s(&req, "nvidia.com/gpu"), "2");
        assert_eq!(s(&lim, "nvidia.com/gpu"), "2");
        assert!(!req.contains_key("cpu"));
    }
}
