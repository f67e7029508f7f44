//! Core-group printers: pods, nodes, namespaces, services, endpoints,
//! events, configmaps, secrets, persistent volumes and claims.

use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::{Event, Node, Pod};
use serde::Deserialize;
use serde_json::Value;

use super::{
    age, arr, col, format_labels, int, list_with_more, name, quantity, s, Column, Printer, AGE,
    NAME,
};

const PODS: &[Column] = &[
    NAME,
    col("Ready", "string", 0, "The aggregate readiness state of this pod for accepting traffic."),
    col("Status", "string", 0, "The aggregate status of the containers in this pod."),
    col(
        "Restarts",
        "string",
        0,
        "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
    ),
    AGE,
    col("IP", "string", 1, "IP address allocated to the pod."),
    col("Node", "string", 1, "NodeName indicates in which node this pod is scheduled."),
    col("Nominated Node", "string", 1, "nominatedNodeName is set only when this pod preempts other pods on the node."),
    col("Readiness Gates", "string", 1, "If specified, all readiness gates will be evaluated for pod readiness."),
];

/// The cells of `printPod` for a typed pod.
fn pod_row_cells(pod: &Pod, now: DateTime<Utc>) -> Vec<Value> {
    let r = kpm_semantics::pod_status::pod_row(pod, now);
    vec![
        r.name.into(),
        r.ready.into(),
        r.status.into(),
        r.restarts.into(),
        r.age.into(),
        r.ip.into(),
        r.node.into(),
        r.nominated_node.into(),
        r.readiness_gates.into(),
    ]
}

/// The pod row read straight from the stored text into the typed model (no
/// `Value` tree: the hot path of `kubectl get pods -A`); None when the typed
/// model cannot read it, so the caller falls back to [`pod`].
pub(super) fn pod_cells_from_text(raw: &str, now: DateTime<Utc>) -> Option<Vec<Value>> {
    serde_json::from_str::<Pod>(raw)
        .ok()
        .map(|pod| pod_row_cells(&pod, now))
}

/// `printPod`, through `kpm_semantics::pod_status::pod_row` (the workspace's
/// one implementation of the STATUS/READY/RESTARTS rules).
fn pod(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    // Deserialize from the borrowed value: no copy of the object.
    match Pod::deserialize(obj) {
        Ok(pod) => pod_row_cells(&pod, now),
        // A pod the typed model cannot read still gets a row, so one bad
        // object does not hide the others.
        Err(_) => vec![
            name(obj),
            "<unknown>".into(),
            "<unknown>".into(),
            "<unknown>".into(),
            age(obj, now),
            "<none>".into(),
            "<none>".into(),
            "<none>".into(),
            "<none>".into(),
        ],
    }
}

const NODES: &[Column] = &[
    NAME,
    col("Status", "string", 0, "The status of the node"),
    col("Roles", "string", 0, "The roles of the node"),
    AGE,
    col(
        "Version",
        "string",
        0,
        "Kubelet Version reported by the node.",
    ),
    col(
        "Internal-IP",
        "string",
        1,
        "List of addresses reachable to the node.",
    ),
    col(
        "External-IP",
        "string",
        1,
        "List of addresses reachable to the node.",
    ),
    col(
        "OS-Image",
        "string",
        1,
        "OS Image reported by the node from /etc/os-release.",
    ),
    col(
        "Kernel-Version",
        "string",
        1,
        "Kernel Version reported by the node from 'uname -r'.",
    ),
    col(
        "Container-Runtime",
        "string",
        1,
        "ContainerRuntime Version reported by the node through runtime remote API.",
    ),
];

/// `printNode`, through `kpm_semantics::node_status::node_row` (the
/// workspace's one implementation of STATUS and ROLES).
fn node(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    match Node::deserialize(obj) {
        Ok(node) => {
            let r = kpm_semantics::node_status::node_row(&node, now);
            vec![
                r.name.into(),
                r.status.into(),
                r.roles.into(),
                r.age.into(),
                r.version.into(),
                r.internal_ip.into(),
                r.external_ip.into(),
                r.os_image.into(),
                r.kernel_version.into(),
                r.container_runtime.into(),
            ]
        }
        // A node the typed model cannot read still gets a row.
        Err(_) => {
            let mut row = vec![name(obj), "Unknown".into(), "<none>".into(), age(obj, now)];
            row.extend(std::iter::repeat_n(Value::from("<unknown>"), 6));
            row
        }
    }
}

const NAMESPACES: &[Column] = &[
    NAME,
    col("Status", "string", 0, "The status of the namespace"),
    AGE,
];

fn namespace(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    vec![name(obj), s(obj, "/status/phase").into(), age(obj, now)]
}

const SERVICES: &[Column] = &[
    NAME,
    col("Type", "string", 0, "type determines how the Service is exposed."),
    col("Cluster-IP", "string", 0, "clusterIP is the IP address of the service."),
    col("External-IP", "string", 0, "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service."),
    col("Port(s)", "string", 0, "The list of ports that are exposed by this service."),
    AGE,
    col("Selector", "string", 1, "Route service traffic to pods with label keys and values matching this selector."),
];

fn lb_ingress(obj: &Value) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for ing in arr(obj, "/status/loadBalancer/ingress") {
        let v = if !s(ing, "/ip").is_empty() {
            s(ing, "/ip")
        } else {
            s(ing, "/hostname")
        };
        if !v.is_empty() && !out.iter().any(|x| x == v) {
            out.push(v.to_string());
        }
    }
    out
}

/// `getServiceExternalIP` (wide form, never clipped: the server prints the
/// full text).
fn external_ip(obj: &Value) -> String {
    let external: Vec<String> = arr(obj, "/spec/externalIPs")
        .iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    match s(obj, "/spec/type") {
        "ClusterIP" | "NodePort" | "" if !external.is_empty() => external.join(","),
        "ClusterIP" | "NodePort" | "" => "<none>".into(),
        "LoadBalancer" => {
            let mut all = lb_ingress(obj);
            if all.is_empty() && external.is_empty() {
                return "<pending>".into();
            }
            all.extend(external);
            all.join(",")
        }
        "ExternalName" => s(obj, "/spec/externalName").into(),
        _ => "<unknown>".into(),
    }
}

fn service(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let cluster_ip = arr(obj, "/spec/clusterIPs")
        .first()
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| "<none>".into());
    let ports: Vec<String> = arr(obj, "/spec/ports")
        .iter()
        .map(|p| {
            let proto = if s(p, "/protocol").is_empty() {
                "TCP"
            } else {
                s(p, "/protocol")
            };
            match int(p, "/nodePort") {
                n if n > 0 => format!("{}:{n}/{proto}", int(p, "/port")),
                _ => format!("{}/{proto}", int(p, "/port")),
            }
        })
        .collect();
    let ports = if ports.is_empty() {
        "<none>".to_string()
    } else {
        ports.join(",")
    };
    vec![
        name(obj),
        s(obj, "/spec/type").into(),
        cluster_ip.into(),
        external_ip(obj).into(),
        ports.into(),
        age(obj, now),
        format_labels(obj.pointer("/spec/selector")).into(),
    ]
}

const ENDPOINTS: &[Column] = &[
    NAME,
    col(
        "Endpoints",
        "string",
        0,
        "The set of all endpoints is the union of all subsets.",
    ),
    AGE,
];

/// `formatEndpoints`: ready addresses with each port, at most three.
fn endpoints(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let subsets = arr(obj, "/subsets");
    let text = if subsets.is_empty() {
        "<none>".to_string()
    } else {
        let mut list: Vec<String> = Vec::new();
        for ss in subsets {
            let addrs = arr(ss, "/addresses");
            let ports = arr(ss, "/ports");
            if ports.is_empty() {
                list.extend(addrs.iter().map(|a| s(a, "/ip").to_string()));
                continue;
            }
            for p in ports {
                for a in addrs {
                    let ip = s(a, "/ip");
                    let port = int(p, "/port");
                    list.push(if ip.contains(':') {
                        format!("[{ip}]:{port}")
                    } else {
                        format!("{ip}:{port}")
                    });
                }
            }
        }
        list_with_more(&list, 3, "")
    };
    vec![name(obj), text.into(), age(obj, now)]
}

const EVENTS: &[Column] = &[
    col("Last Seen", "string", 0, "The time at which the most recent occurrence of this event was recorded."),
    col("Type", "string", 0, "Type of this event (Normal, Warning), new types could be added in the future"),
    col("Reason", "string", 0, "This should be a short, machine understandable string that gives the reason for the transition into the object's current status."),
    col("Object", "string", 0, "The object that this event is about."),
    col("Subobject", "string", 1, "If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement."),
    col("Source", "string", 1, "The component reporting this event."),
    col("Message", "string", 0, "A human-readable description of the status of this operation."),
    col("First Seen", "string", 1, "The time at which the event was first recorded."),
    col("Count", "string", 1, "The number of times this event has occurred."),
    col("Name", "string", 1, "Name must be unique within a namespace."),
];

/// `printEvent`, through `kpm_semantics::events::event_row` (the
/// workspace's one implementation of first/last seen, count and source).
fn event(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    match Event::deserialize(obj) {
        Ok(ev) => {
            let r = kpm_semantics::events::event_row(&ev, now);
            vec![
                r.last_seen.into(),
                r.type_.into(),
                r.reason.into(),
                r.object.into(),
                r.subobject.into(),
                r.source.into(),
                r.message.into(),
                r.first_seen.into(),
                r.count.into(),
                r.name.into(),
            ]
        }
        // An event the typed model cannot read still gets a row.
        Err(_) => {
            let mut row: Vec<Value> = std::iter::repeat_n(Value::from("<unknown>"), 9).collect();
            row.push(name(obj));
            row
        }
    }
}

fn object_len(obj: &Value, field: &str) -> usize {
    obj.get(field)
        .and_then(Value::as_object)
        .map_or(0, |m| m.len())
}

const CONFIGMAPS: &[Column] = &[
    NAME,
    col("Data", "string", 0, "Data contains the configuration data."),
    AGE,
];

fn configmap(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    vec![
        name(obj),
        (object_len(obj, "data") + object_len(obj, "binaryData")).into(),
        age(obj, now),
    ]
}

const SECRETS: &[Column] = &[
    NAME,
    col(
        "Type",
        "string",
        0,
        "Used to facilitate programmatic handling of secret data.",
    ),
    col("Data", "string", 0, "Data contains the secret data."),
    AGE,
];

fn secret(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    vec![
        name(obj),
        s(obj, "/type").into(),
        object_len(obj, "data").into(),
        age(obj, now),
    ]
}

/// `GetAccessModesAsString`: the fixed order RWO, ROX, RWX, RWOP.
fn access_modes(modes: &[Value]) -> String {
    let has = |m: &str| modes.iter().any(|v| v.as_str() == Some(m));
    [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ]
    .iter()
    .filter(|(m, _)| has(m))
    .map(|(_, short)| *short)
    .collect::<Vec<_>>()
    .join(",")
}

/// Storage class: the beta annotation wins over the field, as the printer
/// reads it.
fn storage_class(obj: &Value) -> Value {
    let ann = s(
        obj,
        "/metadata/annotations/volume.beta.kubernetes.io~1storage-class",
    );
    if ann.is_empty() {
        s(obj, "/spec/storageClassName")
    } else {
        ann
    }
    .into()
}

fn unset_or(obj: &Value, ptr: &str) -> Value {
    obj.pointer(ptr)
        .and_then(Value::as_str)
        .unwrap_or("<unset>")
        .into()
}

fn phase_or_terminating(obj: &Value) -> Value {
    if obj
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|v| !v.is_null())
    {
        "Terminating".into()
    } else {
        s(obj, "/status/phase").into()
    }
}

const PVCS: &[Column] = &[
    NAME,
    col(
        "Status",
        "string",
        0,
        "phase represents the current phase of PersistentVolumeClaim.",
    ),
    col(
        "Volume",
        "string",
        0,
        "volumeName is the binding reference to the PersistentVolume backing this claim.",
    ),
    col(
        "Capacity",
        "string",
        0,
        "capacity represents the actual resources of the underlying volume.",
    ),
    col(
        "Access Modes",
        "string",
        0,
        "accessModes contains the actual access modes the volume backing the PVC has.",
    ),
    col("StorageClass", "string", 0, "StorageClass of the pvc"),
    col(
        "VolumeAttributesClass",
        "string",
        0,
        "VolumeAttributesClass of the pvc",
    ),
    AGE,
    col(
        "VolumeMode",
        "string",
        1,
        "volumeMode defines what type of volume is required by the claim.",
    ),
];

fn pvc(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let bound = !s(obj, "/spec/volumeName").is_empty();
    let (capacity, modes) = if bound {
        (
            quantity(s(obj, "/status/capacity/storage")),
            access_modes(arr(obj, "/status/accessModes")),
        )
    } else {
        (String::new(), String::new())
    };
    vec![
        name(obj),
        phase_or_terminating(obj),
        s(obj, "/spec/volumeName").into(),
        capacity.into(),
        modes.into(),
        storage_class(obj),
        unset_or(obj, "/spec/volumeAttributesClassName"),
        age(obj, now),
        unset_or(obj, "/spec/volumeMode"),
    ]
}

const PVS: &[Column] = &[
    NAME,
    col("Capacity", "string", 0, "capacity is the description of the persistent volume's resources and capacity."),
    col("Access Modes", "string", 0, "accessModes contains all ways the volume can be mounted."),
    col("Reclaim Policy", "string", 0, "persistentVolumeReclaimPolicy defines what happens to a persistent volume when released from its claim."),
    col("Status", "string", 0, "phase indicates if a volume is available, bound to a claim, or released by a claim."),
    col("Claim", "string", 0, "claimRef is part of a bi-directional binding between PersistentVolume and PersistentVolumeClaim."),
    col("StorageClass", "string", 0, "StorageClass of the pv"),
    col("VolumeAttributesClass", "string", 0, "VolumeAttributesClass of the pv"),
    col("Reason", "string", 0, "reason is a brief CamelCase string that describes any failure."),
    AGE,
    col("VolumeMode", "string", 1, "volumeMode defines if a volume is intended to be used with a formatted filesystem or to remain in raw block state."),
];

fn pv(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let claim = match obj.pointer("/spec/claimRef") {
        Some(c) if !c.is_null() => format!("{}/{}", s(c, "/namespace"), s(c, "/name")),
        _ => String::new(),
    };
    vec![
        name(obj),
        quantity(s(obj, "/spec/capacity/storage")).into(),
        access_modes(arr(obj, "/spec/accessModes")).into(),
        s(obj, "/spec/persistentVolumeReclaimPolicy").into(),
        phase_or_terminating(obj),
        claim.into(),
        storage_class(obj),
        unset_or(obj, "/spec/volumeAttributesClassName"),
        s(obj, "/status/reason").into(),
        age(obj, now),
        unset_or(obj, "/spec/volumeMode"),
    ]
}

/// The printer of a core kind.
pub(super) fn printer(plural: &str) -> Option<(&'static [Column], Printer)> {
    Some(match plural {
        "pods" => (PODS, pod as Printer),
        "nodes" => (NODES, node),
        "namespaces" => (NAMESPACES, namespace),
        "services" => (SERVICES, service),
        "endpoints" => (ENDPOINTS, endpoints),
        "events" => (EVENTS, event),
        "configmaps" => (CONFIGMAPS, configmap),
        "secrets" => (SECRETS, secret),
        "persistentvolumeclaims" => (PVCS, pvc),
        "persistentvolumes" => (PVS, pv),
        _ => return None,
    })
}

#[cfg(test)]
mod tests;
