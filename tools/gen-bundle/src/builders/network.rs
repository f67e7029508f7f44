//! Services, Endpoints, EndpointSlices, Ingresses and IngressClasses.
//!
//! Endpoints and EndpointSlices are derived from the pods exactly as the
//! endpoints controllers do (ready pods in `addresses`, others in
//! `notReadyAddresses` / `conditions.ready=false`), so a scenario only has to
//! get the pods right.

use serde_json::{json, Value};

use super::meta;
use crate::ids;

/// One Service port.
#[derive(Debug, Clone)]
pub struct ServicePort {
    /// Port name (`http`).
    pub name: String,
    /// `port`.
    pub port: i32,
    /// `targetPort`: a number or a container port name.
    pub target: Value,
    /// `TCP` / `UDP`.
    pub protocol: &'static str,
}

impl ServicePort {
    /// A TCP port forwarding to a numeric or named target.
    pub fn tcp(name: &str, port: i32, target: Value) -> ServicePort {
        ServicePort {
            name: name.to_string(),
            port,
            target,
            protocol: "TCP",
        }
    }
}

/// A ClusterIP Service selecting `selector`.
pub fn service(
    namespace: &str,
    name: &str,
    created_ago: i64,
    cluster_ip: &str,
    selector: &[(&str, &str)],
    ports: &[ServicePort],
) -> Value {
    let mut svc = meta::object("v1", "Service", Some(namespace), name, created_ago);
    let sel: serde_json::Map<String, Value> = selector
        .iter()
        .map(|(k, v)| ((*k).to_string(), json!(v)))
        .collect();
    meta::add_managed(
        &mut svc,
        "helm",
        "Update",
        created_ago,
        json!({"f:spec": {"f:ports": {}, "f:selector": {}}}),
        None,
    );
    svc["spec"] = json!({
        "type": "ClusterIP",
        "clusterIP": cluster_ip,
        "clusterIPs": [cluster_ip],
        "ipFamilies": ["IPv4"],
        "ipFamilyPolicy": "SingleStack",
        "internalTrafficPolicy": "Cluster",
        "sessionAffinity": "None",
        "selector": sel,
        "ports": ports.iter().map(|p| json!({
            "name": p.name, "port": p.port, "protocol": p.protocol, "targetPort": p.target,
        })).collect::<Vec<_>>(),
    });
    svc["status"] = json!({"loadBalancer": {}});
    svc
}

fn pod_ready(pod: &Value) -> bool {
    pod["status"]["conditions"].as_array().is_some_and(|cs| {
        cs.iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    })
}

fn selector_matches(selector: &Value, pod: &Value) -> bool {
    let Some(sel) = selector.as_object() else {
        return false;
    };
    !sel.is_empty() && sel.iter().all(|(k, v)| &pod["metadata"]["labels"][k] == v)
}

/// Pods with an IP that the Service's selector picks, as the endpoints
/// controllers see them.
fn selected<'a>(svc: &Value, pods: &'a [Value]) -> Vec<&'a Value> {
    pods.iter()
        .filter(|p| selector_matches(&svc["spec"]["selector"], p))
        .filter(|p| {
            p["status"]["podIP"].is_string()
                && p["status"]["phase"] != "Failed"
                && p["status"]["phase"] != "Succeeded"
        })
        .collect()
}

/// Resolves a Service `targetPort` against a pod's container ports.
fn resolve_port(pod: &Value, target: &Value) -> Option<i64> {
    if let Some(n) = target.as_i64() {
        return Some(n);
    }
    let name = target.as_str()?;
    pod["spec"]["containers"].as_array()?.iter().find_map(|c| {
        c["ports"]
            .as_array()?
            .iter()
            .find(|p| p["name"] == name)
            .and_then(|p| p["containerPort"].as_i64())
    })
}

fn target_ref(pod: &Value) -> Value {
    json!({
        "kind": "Pod",
        "namespace": pod["metadata"]["namespace"],
        "name": pod["metadata"]["name"],
        "uid": pod["metadata"]["uid"],
    })
}

/// The `Endpoints` object the endpoints controller keeps for `svc`.
pub fn endpoints(svc: &Value, pods: &[Value]) -> Value {
    let ns = meta::namespace_of(svc);
    let name = meta::name_of(svc);
    let created = svc["metadata"]["creationTimestamp"].clone();
    let mut ep = meta::object("v1", "Endpoints", Some(ns), name, 0);
    ep["metadata"]["creationTimestamp"] = created;
    let labels = meta::labels_of(svc);
    let pods = selected(svc, pods);
    let ports: Vec<Value> = svc["spec"]["ports"].as_array().cloned().unwrap_or_default();
    let addr = |p: &Value| {
        json!({
            "ip": p["status"]["podIP"],
            "nodeName": p["spec"]["nodeName"],
            "targetRef": target_ref(p),
        })
    };
    let ready: Vec<Value> = pods
        .iter()
        .filter(|p| pod_ready(p))
        .map(|p| addr(p))
        .collect();
    let not_ready: Vec<Value> = pods
        .iter()
        .filter(|p| !pod_ready(p))
        .map(|p| addr(p))
        .collect();
    let first = pods.first().copied();
    // Ports resolve against the pods; an unresolvable named port drops the
    // subset, as the controller does.
    let subset_ports: Vec<Value> = ports
        .iter()
        .filter_map(|sp| {
            let port = match first {
                Some(p) => resolve_port(p, &sp["targetPort"])?,
                None => sp["targetPort"].as_i64()?,
            };
            Some(json!({"name": sp["name"], "port": port, "protocol": sp["protocol"]}))
        })
        .collect();
    let mut subsets = vec![];
    if (!ready.is_empty() || !not_ready.is_empty()) && !subset_ports.is_empty() {
        let mut s = json!({"ports": subset_ports});
        if !ready.is_empty() {
            s["addresses"] = json!(ready);
        }
        if !not_ready.is_empty() {
            s["notReadyAddresses"] = json!(not_ready);
        }
        subsets.push(s);
    }
    if !labels.is_empty() {
        ep["metadata"]["labels"] = svc["metadata"]["labels"].clone();
    }
    meta::add_annotations(
        &mut ep,
        &[(
            "endpoints.kubernetes.io/last-change-trigger-time",
            &ids::ago(120),
        )],
    );
    meta::add_managed(
        &mut ep,
        "kube-controller-manager",
        "Update",
        120,
        json!({"f:subsets": {}}),
        None,
    );
    if !subsets.is_empty() {
        ep["subsets"] = json!(subsets);
    }
    ep
}

/// The `EndpointSlice` the EndpointSlice controller keeps for `svc`.
#[allow(
    clippy::too_many_lines,
    reason = "one Kubernetes object written out field by field"
)]
pub fn endpoint_slice(svc: &Value, pods: &[Value]) -> Value {
    let ns = meta::namespace_of(svc);
    let svc_name = meta::name_of(svc);
    let slice_name = format!(
        "{svc_name}-{}",
        ids::suffix(&format!("eps/{ns}/{svc_name}"), 5)
    );
    let mut eps = meta::object(
        "discovery.k8s.io/v1",
        "EndpointSlice",
        Some(ns),
        &slice_name,
        0,
    );
    eps["metadata"]["creationTimestamp"] = svc["metadata"]["creationTimestamp"].clone();
    meta::set_generate_name(&mut eps, &format!("{svc_name}-"));
    let mut labels: Vec<(String, String)> = meta::labels_of(svc);
    labels.push((
        "endpointslice.kubernetes.io/managed-by".into(),
        "endpointslice-controller.k8s.io".into(),
    ));
    labels.push(("kubernetes.io/service-name".into(), svc_name.to_string()));
    let pairs: Vec<(&str, &str)> = labels
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    meta::add_labels(&mut eps, &pairs);
    meta::add_annotations(
        &mut eps,
        &[(
            "endpoints.kubernetes.io/last-change-trigger-time",
            &ids::ago(120),
        )],
    );
    meta::set_owner(&mut eps, svc);
    meta::add_managed(
        &mut eps,
        "kube-controller-manager",
        "Update",
        120,
        json!({"f:endpoints": {}, "f:ports": {}}),
        None,
    );
    let pods = selected(svc, pods);
    let first = pods.first().copied();
    let ports: Vec<Value> = svc["spec"]["ports"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|sp| {
            let port = match first {
                Some(p) => resolve_port(p, &sp["targetPort"])?,
                None => sp["targetPort"].as_i64()?,
            };
            Some(json!({"name": sp["name"], "port": port, "protocol": sp["protocol"]}))
        })
        .collect();
    let endpoints: Vec<Value> = pods
        .iter()
        .map(|p| {
            let ready = pod_ready(p);
            json!({
                "addresses": [p["status"]["podIP"]],
                "conditions": {"ready": ready, "serving": ready, "terminating": false},
                "targetRef": target_ref(p),
                "nodeName": p["spec"]["nodeName"],
            })
        })
        .collect();
    eps["addressType"] = json!("IPv4");
    eps["endpoints"] = if endpoints.is_empty() {
        Value::Null
    } else {
        json!(endpoints)
    };
    eps["ports"] = if ports.is_empty() {
        Value::Null
    } else {
        json!(ports)
    };
    eps
}

/// One Ingress path routing to a Service port (number or name).
#[derive(Debug, Clone)]
pub struct Route {
    /// Host name.
    pub host: String,
    /// Path prefix.
    pub path: String,
    /// Backend Service name.
    pub service: String,
    /// Backend port: `{"number": 80}` or `{"name": "http"}`.
    pub port: Value,
}

/// A `networking.k8s.io/v1` Ingress; `tls` is `(secret, hosts)`.
pub fn ingress(
    namespace: &str,
    name: &str,
    created_ago: i64,
    class: &str,
    routes: &[Route],
    tls: Option<(&str, &[&str])>,
    lb_hostname: Option<&str>,
) -> Value {
    let mut ing = meta::object(
        "networking.k8s.io/v1",
        "Ingress",
        Some(namespace),
        name,
        created_ago,
    );
    meta::add_managed(
        &mut ing,
        "helm",
        "Update",
        created_ago,
        json!({"f:spec": {"f:rules": {}}}),
        None,
    );
    let mut hosts: Vec<&str> = routes.iter().map(|r| r.host.as_str()).collect();
    hosts.dedup();
    let rules: Vec<Value> = hosts
        .iter()
        .map(|h| {
            let paths: Vec<Value> = routes
                .iter()
                .filter(|r| r.host == *h)
                .map(|r| json!({"path": r.path, "pathType": "Prefix", "backend": {"service": {"name": r.service, "port": r.port}}}))
                .collect();
            json!({"host": h, "http": {"paths": paths}})
        })
        .collect();
    ing["spec"] = json!({"ingressClassName": class, "rules": rules});
    if let Some((secret, tls_hosts)) = tls {
        ing["spec"]["tls"] = json!([{"hosts": tls_hosts, "secretName": secret}]);
    }
    ing["status"] = match lb_hostname {
        Some(h) => json!({"loadBalancer": {"ingress": [{"hostname": h}]}}),
        None => json!({"loadBalancer": {}}),
    };
    ing
}

/// The ingress-nginx IngressClass, marked default.
pub fn ingress_class(name: &str, controller: &str, created_ago: i64) -> Value {
    let mut ic = meta::object(
        "networking.k8s.io/v1",
        "IngressClass",
        None,
        name,
        created_ago,
    );
    meta::add_labels(
        &mut ic,
        &[
            ("app.kubernetes.io/component", "controller"),
            ("app.kubernetes.io/instance", "ingress-nginx"),
            ("app.kubernetes.io/name", "ingress-nginx"),
            ("app.kubernetes.io/part-of", "ingress-nginx"),
            ("app.kubernetes.io/version", "1.12.1"),
        ],
    );
    meta::add_annotations(
        &mut ic,
        &[("ingressclass.kubernetes.io/is-default-class", "true")],
    );
    ic["spec"] = json!({"controller": controller});
    ic
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builders::pod::{self, ContainerState, Placement, PodFate};

    fn pods() -> Vec<Value> {
        let spec = json!({"containers": [{"name": "web", "image": "nginx:1.27.3", "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]}]});
        let place = |ip: &str| {
            PodFate::Placed(Placement {
                node: "n1".into(),
                host_ip: "10.0.1.5".into(),
                pod_ip: ip.into(),
                scheduled_ago: 500,
            })
        };
        let mut a = pod::pod(
            "shop",
            "web-a",
            500,
            &spec,
            &place("10.0.1.40"),
            &[ContainerState::ready(490)],
        );
        let mut b = pod::pod(
            "shop",
            "web-b",
            500,
            &spec,
            &place("10.0.1.41"),
            &[ContainerState::Running {
                started_ago: 490,
                ready: false,
                restarts: 0,
                last: None,
            }],
        );
        meta::add_labels(&mut a, &[("app", "web")]);
        meta::add_labels(&mut b, &[("app", "web")]);
        vec![a, b]
    }

    #[test]
    fn endpoints_split_ready_and_not_ready_and_resolve_named_ports() {
        let svc = service(
            "shop",
            "web",
            900,
            "172.20.14.3",
            &[("app", "web")],
            &[ServicePort::tcp("http", 80, json!("http"))],
        );
        let pods = pods();
        let ep = endpoints(&svc, &pods);
        assert_eq!(ep["subsets"][0]["addresses"][0]["ip"], "10.0.1.40");
        assert_eq!(ep["subsets"][0]["notReadyAddresses"][0]["ip"], "10.0.1.41");
        assert_eq!(ep["subsets"][0]["ports"][0]["port"], 8080);
        let eps = endpoint_slice(&svc, &pods);
        assert_eq!(
            eps["metadata"]["labels"]["kubernetes.io/service-name"],
            "web"
        );
        assert_eq!(eps["endpoints"][1]["conditions"]["ready"], false);
        let typed: k8s_openapi::api::discovery::v1::EndpointSlice =
            serde_json::from_value(eps).unwrap();
        assert_eq!(typed.endpoints.len(), 2);
        let _: k8s_openapi::api::core::v1::Endpoints = serde_json::from_value(ep).unwrap();
        let _: k8s_openapi::api::core::v1::Service = serde_json::from_value(svc).unwrap();
    }

    #[test]
    fn selector_mismatch_gives_empty_endpoints() {
        let svc = service(
            "shop",
            "web",
            900,
            "172.20.14.3",
            &[("app", "web2")],
            &[ServicePort::tcp("http", 80, json!(8080))],
        );
        let ep = endpoints(&svc, &pods());
        assert!(ep.get("subsets").is_none());
        let ing = ingress(
            "shop",
            "web",
            900,
            "nginx",
            &[Route {
                host: "shop.example.com".into(),
                path: "/".into(),
                service: "web".into(),
                port: json!({"number": 80}),
            }],
            Some(("shop-tls", &["shop.example.com"])),
            None,
        );
        let typed: k8s_openapi::api::networking::v1::Ingress = serde_json::from_value(ing).unwrap();
        assert_eq!(
            typed.spec.unwrap().ingress_class_name.as_deref(),
            Some("nginx")
        );
    }
}
