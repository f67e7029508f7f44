//! EndpointSlices (discovery.k8s.io/v1) for a namespace whose bundle holds
//! only Endpoints: a cluster older than 1.21 had none to collect, and
//! today's controllers would have made them from the same addresses.
//!
//! Which controller, and so which shape, follows Kubernetes:
//!
//! * a Service with a selector: the EndpointSlice controller
//!   (`endpointslice.kubernetes.io/managed-by: endpointslice-controller.k8s.io`,
//!   owned by the Service, conditions `ready`/`serving`/`terminating`, and an
//!   empty placeholder slice when there is no address);
//! * any other Endpoints: the mirroring controller
//!   (`endpointslicemirroring-controller.k8s.io`, owned by the Endpoints,
//!   its labels and annotations copied, condition `ready` only), except
//!   Endpoints labelled `endpointslice.kubernetes.io/skip-mirror: "true"`.
//!
//! Both label every slice `kubernetes.io/service-name: <name>`, split
//! addresses by family (`addressType` IPv4 or IPv6) and by port set. The
//! controllers name slices `<service>-<random>`; a snapshot names them
//! `<service>-<family>` plus the port set's position when there are several,
//! and marks them `kpm.dev/synthesized-from: endpoints/<name>`, so nobody
//! takes them for collected objects.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

/// `discovery.LabelServiceName`.
const SERVICE_NAME: &str = "kubernetes.io/service-name";
/// `discovery.LabelManagedBy`.
const MANAGED_BY: &str = "endpointslice.kubernetes.io/managed-by";
/// `discovery.LabelSkipMirror`.
const SKIP_MIRROR: &str = "endpointslice.kubernetes.io/skip-mirror";
/// Annotations the mirroring controller does not copy.
const NOT_MIRRORED: &[&str] = &[
    "endpoints.kubernetes.io/last-change-trigger-time",
    "kubectl.kubernetes.io/last-applied-configuration",
];
/// Marks a slice made by the snapshot server.
pub const SYNTHESIZED: &str = "kpm.dev/synthesized-from";

/// The EndpointSliceList body for one namespace, from its stored Endpoints
/// list and its Services (defaulted); None when the Endpoints do not parse.
pub fn from_endpoints(endpoints: &[u8], services: &[Value]) -> Option<Vec<u8>> {
    let list: Value = serde_json::from_slice(endpoints).ok()?;
    let by_name: BTreeMap<&str, &Value> = services
        .iter()
        .filter_map(|s| Some((s.pointer("/metadata/name")?.as_str()?, s)))
        .collect();
    let mut items = Vec::new();
    if let Some(eps) = list.get("items").and_then(Value::as_array) {
        for ep in eps {
            let name = ep.pointer("/metadata/name").and_then(Value::as_str);
            let service = name.and_then(|n| by_name.get(n).copied());
            items.extend(slices_of(ep, service));
        }
    }
    let rv = list
        .pointer("/metadata/resourceVersion")
        .cloned()
        .unwrap_or(json!(""));
    serde_json::to_vec(&json!({
        "kind": "EndpointSliceList",
        "apiVersion": "discovery.k8s.io/v1",
        "metadata": {"resourceVersion": rv},
        "items": items,
    }))
    .ok()
}

/// The slices of one Endpoints object.
fn slices_of(ep: &Value, service: Option<&Value>) -> Vec<Value> {
    let meta = ep.get("metadata").cloned().unwrap_or(json!({}));
    let name = meta.get("name").and_then(Value::as_str).unwrap_or("");
    let labels = meta.get("labels").and_then(Value::as_object);
    let selector = service
        .and_then(|s| s.pointer("/spec/selector"))
        .and_then(Value::as_object)
        .is_some_and(|m| !m.is_empty());
    if !selector
        && labels
            .and_then(|l| l.get(SKIP_MIRROR))
            .and_then(Value::as_str)
            == Some("true")
    {
        return Vec::new();
    }
    let publish_not_ready = service
        .and_then(|s| s.pointer("/spec/publishNotReadyAddresses"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    // (family, ports) -> endpoints, in first-seen order.
    let mut groups: Vec<((&'static str, Value), Vec<Value>)> = Vec::new();
    for subset in ep
        .get("subsets")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let ports = slice_ports(subset.get("ports"));
        for (key, ready) in [("addresses", true), ("notReadyAddresses", false)] {
            for addr in subset
                .get(key)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let Some((family, endpoint)) =
                    endpoint_of(addr, ready, selector, publish_not_ready)
                else {
                    continue;
                };
                let group_key = (family, ports.clone());
                match groups.iter_mut().find(|(k, _)| *k == group_key) {
                    Some((_, list)) => list.push(endpoint),
                    None => groups.push((group_key, vec![endpoint])),
                }
            }
        }
    }
    if groups.is_empty() {
        if !selector {
            return Vec::new();
        }
        // The EndpointSlice controller keeps one placeholder slice.
        groups.push((("IPv4", Value::Null), Vec::new()));
    }
    let several = groups.len() > 1;
    groups
        .into_iter()
        .enumerate()
        .map(|(i, ((family, ports), endpoints))| {
            let slice_name = if several {
                format!("{name}-{}-{i}", family.to_ascii_lowercase())
            } else {
                format!("{name}-{}", family.to_ascii_lowercase())
            };
            let owner = if selector { service } else { Some(ep) };
            json!({
                "kind": "EndpointSlice",
                "apiVersion": "discovery.k8s.io/v1",
                "metadata": slice_meta(&meta, &slice_name, selector, owner),
                "addressType": family,
                "endpoints": endpoints,
                "ports": ports,
            })
        })
        .collect()
}

/// Metadata of one slice: labels, annotations and the owner reference as
/// the controller that would have made it sets them.
fn slice_meta(ep_meta: &Value, slice_name: &str, selector: bool, owner: Option<&Value>) -> Value {
    let name = ep_meta.get("name").and_then(Value::as_str).unwrap_or("");
    let mut labels = Map::new();
    let mut annotations = Map::new();
    if !selector {
        if let Some(l) = ep_meta.get("labels").and_then(Value::as_object) {
            labels.extend(l.clone());
        }
        if let Some(a) = ep_meta.get("annotations").and_then(Value::as_object) {
            annotations.extend(
                a.iter()
                    .filter(|(k, _)| !NOT_MIRRORED.contains(&k.as_str()))
                    .map(|(k, v)| (k.clone(), v.clone())),
            );
        }
    }
    labels.insert(SERVICE_NAME.into(), json!(name));
    let controller = if selector {
        "endpointslice-controller.k8s.io"
    } else {
        "endpointslicemirroring-controller.k8s.io"
    };
    labels.insert(MANAGED_BY.into(), json!(controller));
    annotations.insert(SYNTHESIZED.into(), json!(format!("endpoints/{name}")));
    let mut meta = json!({
        "name": slice_name,
        "generateName": format!("{name}-"),
        "namespace": ep_meta.get("namespace").cloned().unwrap_or(json!("")),
        "labels": labels,
        "annotations": annotations,
    });
    for key in ["creationTimestamp", "resourceVersion"] {
        if let Some(v) = ep_meta.get(key) {
            meta[key] = v.clone();
        }
    }
    if let Some(owner) = owner.and_then(|o| o.get("metadata")) {
        let kind = if selector { "Service" } else { "Endpoints" };
        meta["ownerReferences"] = json!([{
            "apiVersion": "v1",
            "kind": kind,
            "name": owner.get("name").cloned().unwrap_or(json!("")),
            "uid": owner.get("uid").cloned().unwrap_or(json!("")),
            "controller": true,
            "blockOwnerDeletion": true,
        }]);
    }
    meta
}

/// One endpoint and its address family; None for an address that is not
/// an IP.
fn endpoint_of(
    addr: &Value,
    ready: bool,
    selector: bool,
    publish_not_ready: bool,
) -> Option<(&'static str, Value)> {
    let ip: std::net::IpAddr = addr.get("ip")?.as_str()?.trim().parse().ok()?;
    let family = if ip.is_ipv4() { "IPv4" } else { "IPv6" };
    let conditions = if selector {
        // The Endpoints controller leaves terminating pods out, so what
        // it lists is not terminating; not-ready addresses are not serving.
        json!({"ready": ready || publish_not_ready, "serving": ready, "terminating": false})
    } else {
        json!({"ready": ready})
    };
    let mut endpoint = json!({"addresses": [ip.to_string()], "conditions": conditions});
    for (from, to) in [("targetRef", "targetRef"), ("nodeName", "nodeName")] {
        if let Some(v) = addr.get(from).filter(|v| !v.is_null()) {
            endpoint[to] = v.clone();
        }
    }
    if let Some(h) = addr
        .get("hostname")
        .and_then(Value::as_str)
        .filter(|h| !h.is_empty())
    {
        endpoint["hostname"] = json!(h);
    }
    Some((family, endpoint))
}

/// The ports of a subset as slice ports (`protocol` defaulted to TCP as the
/// Endpoints defaulting does).
fn slice_ports(ports: Option<&Value>) -> Value {
    let ports: Vec<Value> = ports
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|p| {
            let mut out = json!({
                "name": p.get("name").cloned().unwrap_or(json!("")),
                "port": p.get("port").cloned().unwrap_or(Value::Null),
                "protocol": p.get("protocol").filter(|v| !v.is_null()).cloned().unwrap_or(json!("TCP")),
            });
            if let Some(a) = p.get("appProtocol").filter(|v| !v.is_null()) {
                out["appProtocol"] = a.clone();
            }
            out
        })
        .collect();
    json!(ports)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slices(endpoints: Value, services: &[Value]) -> Vec<Value> {
        let bytes = serde_json::to_vec(
            &json!({"metadata": {"resourceVersion": "42"}, "items": [endpoints]}),
        )
        .unwrap();
        let list: Value =
            serde_json::from_slice(&from_endpoints(&bytes, services).unwrap()).unwrap();
        assert_eq!(list["kind"], "EndpointSliceList");
        assert_eq!(list["metadata"]["resourceVersion"], "42");
        list["items"].as_array().unwrap().clone()
    }

    #[test]
    fn a_selector_service_gets_the_endpointslice_controller_shape() {
        let svc = json!({"metadata": {"name": "web", "namespace": "shop", "uid": "u-1"},
            "spec": {"selector": {"app": "web"}}});
        let ep = json!({"metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
            "subsets": [{"addresses": [{"ip": "10.244.1.7", "nodeName": "worker-1",
                "targetRef": {"kind": "Pod", "name": "web-1", "namespace": "shop"}}],
              "notReadyAddresses": [{"ip": "10.244.2.9"}],
              "ports": [{"name": "http", "port": 8080}]}]});
        let out = slices(ep, &[svc]);
        assert_eq!(out.len(), 1);
        let s = &out[0];
        assert_eq!(s["metadata"]["name"], "web-ipv4");
        assert_eq!(s["metadata"]["labels"][SERVICE_NAME], "web");
        assert_eq!(
            s["metadata"]["labels"][MANAGED_BY],
            "endpointslice-controller.k8s.io"
        );
        // Labels of the Endpoints are not the controller's to copy.
        assert!(s["metadata"]["labels"].get("app").is_none());
        assert_eq!(s["metadata"]["ownerReferences"][0]["kind"], "Service");
        assert_eq!(s["metadata"]["ownerReferences"][0]["uid"], "u-1");
        assert_eq!(s["metadata"]["annotations"][SYNTHESIZED], "endpoints/web");
        assert_eq!(s["addressType"], "IPv4");
        assert_eq!(
            s["ports"],
            json!([{"name": "http", "port": 8080, "protocol": "TCP"}])
        );
        assert_eq!(s["endpoints"][0]["addresses"], json!(["10.244.1.7"]));
        assert_eq!(
            s["endpoints"][0]["conditions"],
            json!({"ready": true, "serving": true, "terminating": false})
        );
        assert_eq!(s["endpoints"][0]["nodeName"], "worker-1");
        assert_eq!(s["endpoints"][0]["targetRef"]["name"], "web-1");
        assert_eq!(
            s["endpoints"][1]["conditions"],
            json!({"ready": false, "serving": false, "terminating": false})
        );
    }

    #[test]
    fn endpoints_without_a_selector_are_mirrored() {
        let ep = json!({"metadata": {"name": "external-db", "namespace": "shop", "uid": "e-1",
                "labels": {"team": "data"},
                "annotations": {"note": "x", "endpoints.kubernetes.io/last-change-trigger-time": "t"}},
            "subsets": [{"addresses": [{"ip": "192.168.1.10"}, {"ip": "fd00::10"}],
                "ports": [{"port": 5432, "protocol": "TCP"}]}]});
        let out = slices(
            ep,
            &[json!({"metadata": {"name": "external-db"}, "spec": {}})],
        );
        assert_eq!(out.len(), 2);
        assert_eq!(out[0]["metadata"]["name"], "external-db-ipv4-0");
        assert_eq!(out[1]["addressType"], "IPv6");
        assert_eq!(out[0]["metadata"]["labels"]["team"], "data");
        assert_eq!(
            out[0]["metadata"]["labels"][MANAGED_BY],
            "endpointslicemirroring-controller.k8s.io"
        );
        assert_eq!(out[0]["metadata"]["annotations"]["note"], "x");
        assert!(out[0]["metadata"]["annotations"]
            .get("endpoints.kubernetes.io/last-change-trigger-time")
            .is_none());
        assert_eq!(
            out[0]["metadata"]["ownerReferences"][0]["kind"],
            "Endpoints"
        );
        assert_eq!(out[0]["endpoints"][0]["conditions"], json!({"ready": true}));
    }

    #[test]
    fn placeholders_skip_mirror_and_garbage() {
        let svc = json!({"metadata": {"name": "idle"}, "spec": {"selector": {"app": "idle"}}});
        let out = slices(
            json!({"metadata": {"name": "idle", "namespace": "shop"}}),
            &[svc],
        );
        assert_eq!(out.len(), 1);
        assert_eq!(out[0]["endpoints"], json!([]));
        assert!(out[0]["ports"].is_null());
        let skipped = json!({"metadata": {"name": "kubernetes", "labels": {SKIP_MIRROR: "true"}},
            "subsets": [{"addresses": [{"ip": "10.0.0.1"}]}]});
        assert!(slices(skipped, &[]).is_empty());
        let garbage = json!({"metadata": {"name": "x"}, "subsets": [{"addresses": [{"ip": "not-an-ip"}, {"ip": 7}]}]});
        assert!(slices(garbage, &[]).is_empty());
        assert!(from_endpoints(b"{\"items\":[", &[]).is_none());
    }
}
