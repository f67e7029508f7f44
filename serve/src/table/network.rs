//! Networking printers: ingresses, ingress classes, endpoint slices.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{age, arr, col, list_with_more, name, s, Column, Printer, AGE, NAME};

const INGRESSES: &[Column] = &[
    NAME,
    col(
        "Class",
        "string",
        0,
        "The name of the IngressClass resource that should be used for additional configuration",
    ),
    col(
        "Hosts",
        "string",
        0,
        "Hosts that incoming requests are matched against before the ingress rule",
    ),
    col(
        "Address",
        "string",
        0,
        "Address is a list containing ingress points for the load-balancer",
    ),
    col(
        "Ports",
        "string",
        0,
        "Ports of TLS configurations that open",
    ),
    AGE,
];

/// `formatHosts`: at most three hosts, `*` when no rule names one.
fn hosts(obj: &Value) -> String {
    let rules = arr(obj, "/spec/rules");
    let mut list: Vec<&str> = Vec::new();
    let mut more = false;
    for rule in rules {
        if list.len() == 3 {
            more = true;
        }
        if !more && !s(rule, "/host").is_empty() {
            list.push(s(rule, "/host"));
        }
    }
    if list.is_empty() {
        return "*".into();
    }
    let joined = list.join(",");
    if more {
        format!("{joined} + {} more...", rules.len() - 3)
    } else {
        joined
    }
}

fn ingress(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let class = obj
        .pointer("/spec/ingressClassName")
        .and_then(Value::as_str)
        .unwrap_or("<none>");
    let mut address: Vec<&str> = Vec::new();
    for ing in arr(obj, "/status/loadBalancer/ingress") {
        let v = if s(ing, "/ip").is_empty() {
            s(ing, "/hostname")
        } else {
            s(ing, "/ip")
        };
        if !v.is_empty() && !address.contains(&v) {
            address.push(v);
        }
    }
    let ports = if arr(obj, "/spec/tls").is_empty() {
        "80"
    } else {
        "80, 443"
    };
    vec![
        name(obj),
        class.into(),
        hosts(obj).into(),
        address.join(",").into(),
        ports.into(),
        age(obj, now),
    ]
}

const INGRESSCLASSES: &[Column] = &[
    NAME,
    col(
        "Controller",
        "string",
        0,
        "Controller that is responsible for handling this class",
    ),
    col(
        "Parameters",
        "string",
        0,
        "A reference to a resource with additional parameters",
    ),
    AGE,
];

fn ingressclass(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let params = match obj.pointer("/spec/parameters") {
        Some(p) if !p.is_null() => {
            let mut kind = s(p, "/kind").to_string();
            if let Some(g) = p.get("apiGroup").and_then(Value::as_str) {
                kind = format!("{kind}.{g}");
            }
            format!("{kind}/{}", s(p, "/name"))
        }
        _ => "<none>".to_string(),
    };
    vec![
        name(obj),
        s(obj, "/spec/controller").into(),
        params.into(),
        age(obj, now),
    ]
}

const ENDPOINTSLICES: &[Column] = &[
    NAME,
    col(
        "AddressType",
        "string",
        0,
        "addressType specifies the type of address carried by this EndpointSlice.",
    ),
    col(
        "Ports",
        "string",
        0,
        "ports specifies the list of network ports exposed by each endpoint in this slice.",
    ),
    col(
        "Endpoints",
        "string",
        0,
        "endpoints is a list of unique endpoints in this slice.",
    ),
    AGE,
];

fn endpointslice(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let ports: Vec<String> = arr(obj, "/ports")
        .iter()
        .map(|p| {
            match (
                p.get("port").and_then(Value::as_i64),
                p.get("name").and_then(Value::as_str),
            ) {
                (Some(n), _) => n.to_string(),
                (None, Some(n)) => n.to_string(),
                (None, None) => "<unset>".to_string(),
            }
        })
        .collect();
    let addrs: Vec<String> = arr(obj, "/endpoints")
        .iter()
        .flat_map(|e| {
            arr(e, "/addresses")
                .iter()
                .filter_map(|a| a.as_str().map(str::to_string))
        })
        .collect();
    vec![
        name(obj),
        s(obj, "/addressType").into(),
        list_with_more(&ports, 3, "<unset>").into(),
        list_with_more(&addrs, 3, "<unset>").into(),
        age(obj, now),
    ]
}

/// The printer of a networking kind.
pub(super) fn printer(plural: &str) -> Option<(&'static [Column], Printer)> {
    Some(match plural {
        "ingresses" => (INGRESSES, ingress as Printer),
        "ingressclasses" => (INGRESSCLASSES, ingressclass),
        "endpointslices" => (ENDPOINTSLICES, endpointslice),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2025-03-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn ingress_row() {
        let ing = json!({
            "metadata": {"name": "shop", "namespace": "shop", "creationTimestamp": "2025-02-27T12:00:00Z"},
            "spec": {"ingressClassName": "nginx", "tls": [{"hosts": ["shop.example.com"], "secretName": "shop-tls"}],
                     "rules": [{"host": "shop.example.com", "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.10"}]}}
        });
        assert_eq!(
            ingress(&ing, now()),
            vec![
                json!("shop"),
                json!("nginx"),
                json!("shop.example.com"),
                json!("203.0.113.10"),
                json!("80, 443"),
                json!("2d")
            ]
        );
        let bare = json!({"metadata": {"name": "x"}, "spec": {"rules": [{"http": {}}]}});
        let cells = ingress(&bare, now());
        assert_eq!(cells[1], "<none>");
        assert_eq!(cells[2], "*");
        assert_eq!(cells[4], "80");
        assert_eq!(cells[5], "<unknown>");
    }

    #[test]
    fn hosts_beyond_three() {
        let rules: Vec<Value> = (1..=5)
            .map(|i| json!({"host": format!("h{i}.example.com")}))
            .collect();
        let ing = json!({"spec": {"rules": rules}});
        assert_eq!(
            hosts(&ing),
            "h1.example.com,h2.example.com,h3.example.com + 2 more..."
        );
    }

    #[test]
    fn endpointslice_and_ingressclass_rows() {
        let es = json!({"metadata": {"name": "web-abcde", "creationTimestamp": "2025-03-01T11:00:00Z"}, "addressType": "IPv4",
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
            "endpoints": [{"addresses": ["10.244.1.7"], "conditions": {"ready": true}}, {"addresses": ["10.244.2.9"]},
                          {"addresses": ["10.244.2.10"]}, {"addresses": ["10.244.3.4"]}]});
        assert_eq!(endpointslice(&es, now())[2], "8080");
        assert_eq!(
            endpointslice(&es, now())[3],
            "10.244.1.7,10.244.2.9,10.244.2.10 + 1 more..."
        );
        let empty = json!({"metadata": {"name": "e"}, "addressType": "IPv4", "endpoints": null});
        assert_eq!(endpointslice(&empty, now())[3], "<unset>");
        let ic = json!({"metadata": {"name": "nginx"}, "spec": {"controller": "k8s.io/ingress-nginx",
            "parameters": {"apiGroup": "k8s.example.com", "kind": "IngressParameters", "name": "external-lb"}}});
        assert_eq!(
            ingressclass(&ic, now())[2],
            "IngressParameters.k8s.example.com/external-lb"
        );
    }
}
