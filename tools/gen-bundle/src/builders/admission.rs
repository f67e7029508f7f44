//! What the API server adds to a pod spec between `kubectl apply` and etcd.
//!
//! Two stages, as in kube-apiserver: defaulting (`pkg/apis/core/v1/defaults.go`,
//! applied to pod templates too) and the admission plugins that only touch
//! pods — `ServiceAccount` (the `kube-api-access-*` projected token volume and
//! its mount), `DefaultTolerationSeconds` (300 s not-ready / unreachable
//! tolerations) and `Priority` (the class's value and preemption policy).
//! A capture of a real cluster has all of them, so every generated pod does.

use serde_json::{json, Map, Value};

use crate::ids;

/// Where the ServiceAccount admission plugin mounts the token volume
/// (`DefaultAPITokenMountPath`).
pub const TOKEN_MOUNT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// `WarnOnlyBoundTokenExpirationSeconds`: the token lifetime the plugin
/// requests (one hour plus seven seconds, so the kubelet can tell it apart).
const TOKEN_EXPIRATION_SECONDS: i64 = 3607;

/// Defaults of `SetDefaults_Probe`, filled in where the manifest left them out.
const PROBE_DEFAULTS: [(&str, i64); 4] = [
    ("timeoutSeconds", 1),
    ("periodSeconds", 10),
    ("successThreshold", 1),
    ("failureThreshold", 3),
];

fn default_container(c: &mut Value) {
    let Some(cm) = c.as_object_mut() else {
        return;
    };
    cm.entry("terminationMessagePath")
        .or_insert(json!("/dev/termination-log"));
    cm.entry("terminationMessagePolicy")
        .or_insert(json!("File"));
    let latest = cm
        .get("image")
        .and_then(Value::as_str)
        .is_some_and(image_tag_is_latest);
    // `SetDefaults_Container`: Always for `:latest` and untagged images.
    cm.entry("imagePullPolicy")
        .or_insert(json!(if latest { "Always" } else { "IfNotPresent" }));
    cm.entry("resources").or_insert(json!({}));
    for port in cm
        .get_mut("ports")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        if let Some(p) = port.as_object_mut() {
            p.entry("protocol").or_insert(json!("TCP"));
        }
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        let Some(p) = cm.get_mut(probe).and_then(Value::as_object_mut) else {
            continue;
        };
        for (k, v) in PROBE_DEFAULTS {
            p.entry(k).or_insert(json!(v));
        }
        if let Some(h) = p.get_mut("httpGet").and_then(Value::as_object_mut) {
            h.entry("scheme").or_insert(json!("HTTP"));
        }
    }
}

/// Whether the runtime would pull `image` as `:latest` (explicit or no tag
/// and no digest).
pub fn image_tag_is_latest(image: &str) -> bool {
    if image.contains('@') {
        return false;
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.split_once(':') {
        Some((_, tag)) => tag == "latest",
        None => true,
    }
}

/// Defaulting the API server applies to every pod spec, templates included.
pub fn default_template_spec(spec: &mut Value) {
    let Some(map) = spec.as_object_mut() else {
        return;
    };
    let defaults = [
        ("restartPolicy", json!("Always")),
        ("terminationGracePeriodSeconds", json!(30)),
        ("dnsPolicy", json!("ClusterFirst")),
        ("securityContext", json!({})),
        ("schedulerName", json!("default-scheduler")),
    ];
    for (k, v) in defaults {
        map.entry(k).or_insert(v);
    }
    if let Some(sa) = map.get("serviceAccountName").cloned() {
        map.entry("serviceAccount").or_insert(sa);
    }
    for list in ["initContainers", "containers"] {
        for c in map
            .get_mut(list)
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            default_container(c);
        }
    }
}

/// The value of a built-in PriorityClass (`scheduling.k8s.io/v1`).
fn priority_of(class: Option<&str>) -> i64 {
    match class {
        Some("system-node-critical") => 2_000_001_000,
        Some("system-cluster-critical") => 2_000_000_000,
        _ => 0,
    }
}

/// The projected volume the ServiceAccount admission plugin injects
/// (`TokenVolumeSource()`).
pub fn token_volume(name: &str) -> Value {
    json!({
        "name": name,
        "projected": {
            "sources": [
                {"serviceAccountToken": {"expirationSeconds": TOKEN_EXPIRATION_SECONDS, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}
            ],
            "defaultMode": 420
        }
    })
}

/// Mounts the token volume in every (init) container that has nothing at
/// the token path yet, and adds the volume, unless automounting is off.
fn mount_token(namespace: &str, name: &str, map: &mut Map<String, Value>) {
    if map.get("automountServiceAccountToken") == Some(&json!(false)) {
        return;
    }
    let volume = format!(
        "kube-api-access-{}",
        ids::suffix(&format!("token/{namespace}/{name}"), 5)
    );
    let mount = json!({"name": volume, "readOnly": true, "mountPath": TOKEN_MOUNT_PATH});
    let mut needed = false;
    for list in ["initContainers", "containers"] {
        for c in map
            .get_mut(list)
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            let mounts = c
                .as_object_mut()
                .map(|cm| cm.entry("volumeMounts").or_insert_with(|| json!([])));
            let Some(mounts) = mounts.and_then(Value::as_array_mut) else {
                continue;
            };
            if !mounts.iter().any(|m| m["mountPath"] == TOKEN_MOUNT_PATH) {
                mounts.push(mount.clone());
                needed = true;
            }
        }
    }
    if needed {
        let volumes = map.entry("volumes").or_insert_with(|| json!([]));
        if let Some(v) = volumes.as_array_mut() {
            v.push(token_volume(&volume));
        }
    }
}

/// `DefaultTolerationSeconds`: appends the 300 s NoExecute tolerations for
/// `not-ready` and `unreachable` unless the pod already tolerates them.
fn default_tolerations(map: &mut Map<String, Value>) {
    let list = map.entry("tolerations").or_insert_with(|| json!([]));
    let Some(tolerations) = list.as_array_mut() else {
        return;
    };
    for key in [
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
    ] {
        let tolerated = tolerations.iter().any(|t| {
            let k = t["key"].as_str().unwrap_or("");
            let e = t["effect"].as_str().unwrap_or("");
            (k == key || k.is_empty()) && (e == "NoExecute" || e.is_empty())
        });
        if !tolerated {
            tolerations.push(json!({"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}));
        }
    }
}

/// Defaulting plus the pod-only admission plugins, in the order the API
/// server runs them, for pod `namespace/name`.
pub fn admit_pod(namespace: &str, name: &str, spec: &mut Value) {
    if let Some(map) = spec.as_object_mut() {
        map.entry("serviceAccountName").or_insert(json!("default"));
    }
    default_template_spec(spec);
    let Some(map) = spec.as_object_mut() else {
        return;
    };
    mount_token(namespace, name, map);
    default_tolerations(map);
    let priority = priority_of(map.get("priorityClassName").and_then(Value::as_str));
    map.entry("priority").or_insert(json!(priority));
    map.entry("enableServiceLinks").or_insert(json!(true));
    map.entry("preemptionPolicy")
        .or_insert(json!("PreemptLowerPriority"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pods_get_the_token_volume_tolerations_and_priority() {
        let mut spec = json!({
            "initContainers": [{"name": "init", "image": "busybox:1.37"}],
            "containers": [{"name": "app", "image": "nginx", "readinessProbe": {"httpGet": {"path": "/", "port": 80}}}],
            "priorityClassName": "system-cluster-critical",
            "tolerations": [{"key": "CriticalAddonsOnly", "operator": "Exists"}],
        });
        admit_pod("shop", "app-1", &mut spec);
        let vol = spec["volumes"][0]["name"].as_str().unwrap().to_string();
        assert!(vol.starts_with("kube-api-access-") && vol.len() == 21);
        assert_eq!(
            spec["volumes"][0]["projected"]["sources"][0]["serviceAccountToken"]
                ["expirationSeconds"],
            3607
        );
        for list in ["initContainers", "containers"] {
            assert_eq!(spec[list][0]["volumeMounts"][0]["name"], vol.as_str());
            assert_eq!(
                spec[list][0]["volumeMounts"][0]["mountPath"],
                TOKEN_MOUNT_PATH
            );
        }
        assert_eq!(spec["tolerations"].as_array().unwrap().len(), 3);
        assert_eq!(spec["priority"], 2_000_000_000);
        assert_eq!(spec["serviceAccount"], "default");
        assert_eq!(spec["containers"][0]["imagePullPolicy"], "Always");
        assert_eq!(spec["containers"][0]["readinessProbe"]["periodSeconds"], 10);
        let _: k8s_openapi::api::core::v1::PodSpec = serde_json::from_value(spec).unwrap();
    }

    #[test]
    fn tolerate_everything_needs_no_defaults_and_automount_off_needs_no_volume() {
        let mut spec = json!({
            "containers": [{"name": "p", "image": "kube-proxy:v1"}],
            "tolerations": [{"operator": "Exists"}],
            "automountServiceAccountToken": false,
        });
        admit_pod("kube-system", "p", &mut spec);
        assert_eq!(spec["tolerations"].as_array().unwrap().len(), 1);
        assert!(spec.get("volumes").is_none());
        assert!(!image_tag_is_latest("ghcr.io/acme/api:1.4.2"));
        assert!(image_tag_is_latest("localhost:5000/api"));
        assert!(!image_tag_is_latest("nginx@sha256:abc"));
    }
}
