//! Service defaulting on read, in the order the API server applies it:
//! the scheme defaults of `SetDefaults_Service`, then the registry's
//! `defaultOnReadService` (`normalizeClusterIPs`,
//! `defaultOnReadIPFamilies`, `defaultOnReadInternalTrafficPolicy`).

use serde_json::{json, Map, Value};

/// `v1.DefaultClientIPServiceAffinitySeconds`.
const CLIENT_IP_TIMEOUT_SECONDS: i64 = 10_800;

/// The cluster's primary IP family as the Services of one list show it:
/// the family of the first cluster IP (the API server knows it from its
/// service CIDR flags; a snapshot only from the allocated IPs), IPv4 when
/// there is none.
pub fn primary_family(items: &[Value]) -> &'static str {
    items
        .iter()
        .filter_map(|s| s.pointer("/spec/clusterIP").and_then(Value::as_str))
        .find(|ip| !ip.is_empty() && *ip != "None")
        .map_or("IPv4", family_of)
}

/// `IPv6` for an address with a colon, else `IPv4` (what
/// `netutil.IsIPv6String` decides for a valid address).
fn family_of(ip: &str) -> &'static str {
    if ip.contains(':') {
        "IPv6"
    } else {
        "IPv4"
    }
}

/// Defaults one Service in place; true when anything was set.
pub fn default_on_read(service: &mut Value, primary: &'static str) -> bool {
    let before = service.clone();
    let Some(spec) = service.get_mut("spec").and_then(Value::as_object_mut) else {
        return false;
    };
    scheme_defaults(spec);
    let ty = text(spec, "type");
    // normalizeClusterIPs, as for an object without a previous version.
    let cluster_ip = text(spec, "clusterIP");
    if !cluster_ip.is_empty() && is_empty_list(spec.get("clusterIPs")) {
        spec.insert("clusterIPs".into(), json!([cluster_ip]));
    }
    if ty != "ExternalName" {
        default_ip_families(spec, primary);
    } else {
        spec.remove("internalTrafficPolicy");
    }
    if ty == "LoadBalancer" {
        if let Some(ingress) = service
            .pointer_mut("/status/loadBalancer/ingress")
            .and_then(Value::as_array_mut)
        {
            for ing in ingress.iter_mut().filter_map(Value::as_object_mut) {
                if !text(ing, "ip").is_empty() && ing.get("ipMode").is_none_or(Value::is_null) {
                    ing.insert("ipMode".into(), json!("VIP"));
                }
            }
        }
    }
    *service != before
}

/// `SetDefaults_Service`.
fn scheme_defaults(spec: &mut Map<String, Value>) {
    if text(spec, "sessionAffinity").is_empty() {
        spec.insert("sessionAffinity".into(), json!("None"));
    }
    match text(spec, "sessionAffinity").as_str() {
        "None" => {
            spec.remove("sessionAffinityConfig");
        }
        "ClientIP" => {
            let has_timeout = spec
                .get("sessionAffinityConfig")
                .and_then(|c| c.pointer("/clientIP/timeoutSeconds"))
                .is_some_and(|t| !t.is_null());
            if !has_timeout {
                spec.insert(
                    "sessionAffinityConfig".into(),
                    json!({"clientIP": {"timeoutSeconds": CLIENT_IP_TIMEOUT_SECONDS}}),
                );
            }
        }
        _ => {}
    }
    if text(spec, "type").is_empty() {
        spec.insert("type".into(), json!("ClusterIP"));
    }
    if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
        for port in ports.iter_mut().filter_map(Value::as_object_mut) {
            if text(port, "protocol").is_empty() {
                port.insert("protocol".into(), json!("TCP"));
            }
            let unset = match port.get("targetPort") {
                None | Some(Value::Null) => true,
                Some(Value::Number(n)) => n.as_i64() == Some(0),
                Some(Value::String(s)) => s.is_empty(),
                Some(_) => false,
            };
            if unset {
                if let Some(p) = port.get("port").cloned() {
                    port.insert("targetPort".into(), p);
                }
            }
        }
    }
    let ty = text(spec, "type");
    let externally_accessible = ty == "LoadBalancer"
        || ty == "NodePort"
        || (ty == "ClusterIP" && !is_empty_list(spec.get("externalIPs")));
    if externally_accessible && text(spec, "externalTrafficPolicy").is_empty() {
        spec.insert("externalTrafficPolicy".into(), json!("Cluster"));
    }
    if matches!(ty.as_str(), "NodePort" | "LoadBalancer" | "ClusterIP")
        && spec.get("internalTrafficPolicy").is_none_or(Value::is_null)
    {
        spec.insert("internalTrafficPolicy".into(), json!("Cluster"));
    }
    if ty == "LoadBalancer"
        && spec
            .get("allocateLoadBalancerNodePorts")
            .is_none_or(Value::is_null)
    {
        spec.insert("allocateLoadBalancerNodePorts".into(), json!(true));
    }
}

/// `defaultOnReadIPFamilies`: nothing when `ipFamilies` is set; a headless
/// Service gets the primary family (both, RequireDualStack, when it has no
/// selector); any other gets the families of its cluster IPs.
fn default_ip_families(spec: &mut Map<String, Value>, primary: &'static str) {
    if !is_empty_list(spec.get("ipFamilies")) {
        return;
    }
    if text(spec, "clusterIP") == "None" {
        let selectorless = spec
            .get("selector")
            .and_then(Value::as_object)
            .is_none_or(Map::is_empty);
        if selectorless {
            let other = if primary == "IPv4" { "IPv6" } else { "IPv4" };
            spec.insert("ipFamilyPolicy".into(), json!("RequireDualStack"));
            spec.insert("ipFamilies".into(), json!([primary, other]));
        } else {
            spec.insert("ipFamilyPolicy".into(), json!("SingleStack"));
            spec.insert("ipFamilies".into(), json!([primary]));
        }
        return;
    }
    let families: Vec<&str> = spec
        .get("clusterIPs")
        .and_then(Value::as_array)
        .map(|ips| {
            ips.iter()
                .filter_map(Value::as_str)
                .map(family_of)
                .collect()
        })
        .unwrap_or_default();
    let policy = match families.len() {
        1 => Some("SingleStack"),
        2 => Some("RequireDualStack"),
        _ => None,
    };
    spec.insert("ipFamilies".into(), json!(families));
    if let Some(p) = policy {
        spec.insert("ipFamilyPolicy".into(), json!(p));
    }
}

fn text(map: &Map<String, Value>, key: &str) -> String {
    map.get(key)
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

fn is_empty_list(v: Option<&Value>) -> bool {
    v.and_then(Value::as_array).is_none_or(Vec::is_empty)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaulted(spec: Value) -> Value {
        let mut svc = json!({"metadata": {"name": "web", "namespace": "shop"}, "spec": spec});
        default_on_read(&mut svc, "IPv4");
        svc["spec"].clone()
    }

    #[test]
    fn a_1_15_cluster_ip_service_reads_as_today() {
        // As stored by Kubernetes 1.15 (the AKS capture in the corpus).
        let spec = defaulted(json!({
            "clusterIP": "10.0.182.20", "type": "ClusterIP", "sessionAffinity": "None",
            "ports": [{"port": 443, "protocol": "TCP", "targetPort": 8443}],
            "selector": {"app": "web"}
        }));
        assert_eq!(spec["clusterIPs"], json!(["10.0.182.20"]));
        assert_eq!(spec["ipFamilies"], json!(["IPv4"]));
        assert_eq!(spec["ipFamilyPolicy"], "SingleStack");
        assert_eq!(spec["internalTrafficPolicy"], "Cluster");
        assert!(spec.get("externalTrafficPolicy").is_none());
    }

    #[test]
    fn scheme_defaults_fill_what_old_clients_left_out() {
        let spec = defaulted(json!({
            "clusterIP": "fd00::12", "type": "LoadBalancer", "sessionAffinity": "ClientIP",
            "ports": [{"port": 80}, {"port": 81, "targetPort": "http"}]
        }));
        assert_eq!(spec["ports"][0]["protocol"], "TCP");
        assert_eq!(spec["ports"][0]["targetPort"], 80);
        assert_eq!(spec["ports"][1]["targetPort"], "http");
        assert_eq!(spec["externalTrafficPolicy"], "Cluster");
        assert_eq!(spec["allocateLoadBalancerNodePorts"], true);
        assert_eq!(
            spec["sessionAffinityConfig"]["clientIP"]["timeoutSeconds"],
            10800
        );
        assert_eq!(spec["ipFamilies"], json!(["IPv6"]));
    }

    #[test]
    fn headless_and_external_name_services() {
        let selectorless = defaulted(json!({"clusterIP": "None", "type": "ClusterIP"}));
        assert_eq!(selectorless["ipFamilyPolicy"], "RequireDualStack");
        assert_eq!(selectorless["ipFamilies"], json!(["IPv4", "IPv6"]));
        assert_eq!(selectorless["clusterIPs"], json!(["None"]));
        let with_selector = defaulted(json!({"clusterIP": "None", "selector": {"app": "db"}}));
        assert_eq!(with_selector["ipFamilyPolicy"], "SingleStack");
        assert_eq!(with_selector["type"], "ClusterIP");
        let external = defaulted(json!({
            "type": "ExternalName", "externalName": "db.example.com",
            "internalTrafficPolicy": "Cluster"
        }));
        assert!(external.get("internalTrafficPolicy").is_none());
        assert!(external.get("ipFamilies").is_none());
        assert!(external.get("clusterIPs").is_none());
    }

    #[test]
    fn a_current_service_is_left_as_stored() {
        let spec = json!({
            "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"], "type": "ClusterIP",
            "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack", "internalTrafficPolicy": "Local",
            "sessionAffinity": "None", "ports": [{"port": 53, "protocol": "UDP", "targetPort": 53}]
        });
        let mut svc = json!({"spec": spec.clone()});
        assert!(!default_on_read(&mut svc, "IPv4"));
        assert_eq!(svc["spec"], spec);
    }

    #[test]
    fn the_primary_family_comes_from_the_allocated_ips() {
        let items = [
            json!({"spec": {"clusterIP": "None"}}),
            json!({"spec": {"clusterIP": "fd00::1"}}),
        ];
        assert_eq!(primary_family(&items), "IPv6");
        assert_eq!(primary_family(&[]), "IPv4");
    }
}
