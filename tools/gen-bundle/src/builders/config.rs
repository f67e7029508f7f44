//! ConfigMaps and Secrets.
//!
//! The last change of a ConfigMap or Secret is only visible in its
//! `managedFields` times, which is what the stale-config rules compare with
//! pod start times, so `updated_ago` is recorded there the way `kubectl
//! apply` / `kubectl edit` would.

use serde_json::{json, Map, Value};

use super::meta;

/// A ConfigMap created `created_ago` and last updated `updated_ago` (equal
/// when never changed) by `manager`.
pub fn config_map(
    namespace: &str,
    name: &str,
    created_ago: i64,
    updated_ago: i64,
    manager: &str,
    data: &[(&str, &str)],
) -> Value {
    let mut cm = meta::object("v1", "ConfigMap", Some(namespace), name, created_ago);
    let keys: Vec<&str> = data.iter().map(|(k, _)| *k).collect();
    meta::add_managed(
        &mut cm,
        manager,
        "Update",
        created_ago,
        meta::fields_of("f:data", keys.iter().copied()),
        None,
    );
    if updated_ago < created_ago {
        meta::add_managed(
            &mut cm,
            "kubectl-edit",
            "Update",
            updated_ago,
            meta::fields_of("f:data", keys.iter().copied()),
            None,
        );
    }
    let map: Map<String, Value> = data
        .iter()
        .map(|(k, v)| ((*k).to_string(), json!(v)))
        .collect();
    cm["data"] = Value::Object(map);
    cm
}

/// A Secret of `kind` (`Opaque`, `kubernetes.io/tls`,
/// `kubernetes.io/dockerconfigjson`) with base64 values, before stripping.
pub fn secret(
    namespace: &str,
    name: &str,
    created_ago: i64,
    updated_ago: i64,
    manager: &str,
    kind: &str,
    data: &[(&str, &str)],
) -> Value {
    let mut s = meta::object("v1", "Secret", Some(namespace), name, created_ago);
    let keys: Vec<&str> = data.iter().map(|(k, _)| *k).collect();
    meta::add_managed(
        &mut s,
        manager,
        "Update",
        created_ago,
        meta::fields_of("f:data", keys.iter().copied()),
        None,
    );
    if updated_ago < created_ago {
        meta::add_managed(
            &mut s,
            "external-secrets",
            "Update",
            updated_ago,
            meta::fields_of("f:data", keys.iter().copied()),
            None,
        );
    }
    let map: Map<String, Value> = data
        .iter()
        .map(|(k, v)| ((*k).to_string(), json!(base64(v.as_bytes()))))
        .collect();
    s["data"] = Value::Object(map);
    s["type"] = json!(kind);
    s
}

/// Adds the certificate facts `kpm-collect` keeps of a `kubernetes.io/tls`
/// Secret (`kpm.dev/tls-certificates`): a Let's Encrypt leaf for `hosts`,
/// as cert-manager issues it (90 days, renewed 30 days before expiry),
/// valid from `issued_ago` seconds before collection.
pub fn add_tls_facts(secret: &mut Value, hosts: &[&str], issued_ago: i64) {
    use kpm_bundle::secret::{CertificateFacts, TlsFacts, TLS_FACTS};
    let key = format!("{}/{}", meta::namespace_of(secret), meta::name_of(secret));
    let serial: Vec<String> = crate::ids::hash(&key)
        .to_be_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let facts = TlsFacts {
        certificates: vec![CertificateFacts {
            subject: format!("CN={}", hosts.first().copied().unwrap_or_default()),
            issuer: "C=US, O=Let's Encrypt, CN=R11".into(),
            serial: format!("04:{}", serial.join(":")),
            not_before: crate::ids::ago(issued_ago),
            not_after: crate::ids::ago(issued_ago - 90 * 86_400),
            dns_names: hosts.iter().map(|h| (*h).to_string()).collect(),
            ip_addresses: Vec::new(),
            is_ca: false,
        }],
        error: None,
    };
    let text = serde_json::to_string(&facts).unwrap_or_default();
    if let Some(m) = secret
        .pointer_mut("/metadata")
        .and_then(Value::as_object_mut)
    {
        let ann = m.entry("annotations").or_insert_with(|| json!({}));
        ann[TLS_FACTS] = json!(text);
    }
}

/// Standard base64 with padding (Secret `data` encoding).
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                let idx = ((n >> (18 - 6 * i)) & 63) as usize;
                out.push(char::from(ALPHABET.get(idx).copied().unwrap_or(b'A')));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn updated_config_records_a_later_managed_fields_entry() {
        let cm = config_map(
            "shop",
            "api-config",
            86_400,
            600,
            "helm",
            &[("LOG_LEVEL", "info")],
        );
        let mf = cm["metadata"]["managedFields"].as_array().unwrap();
        assert_eq!(mf.len(), 2);
        assert_eq!(mf[1]["time"], crate::ids::ago(600));
        let _: k8s_openapi::api::core::v1::ConfigMap = serde_json::from_value(cm).unwrap();
        let s = secret(
            "shop",
            "db",
            86_400,
            86_400,
            "helm",
            "Opaque",
            &[("password", "hunter2")],
        );
        assert_eq!(s["data"]["password"], "aHVudGVyMg==");
        let _: k8s_openapi::api::core::v1::Secret = serde_json::from_value(s).unwrap();
    }

    #[test]
    fn tls_facts_read_back_as_the_collector_writes_them() {
        let mut s = secret(
            "shop",
            "shop-tls",
            86_400,
            86_400,
            "cert-manager",
            "kubernetes.io/tls",
            &[("tls.crt", "x")],
        );
        add_tls_facts(&mut s, &["shop.acme.example"], 86_400 * 40);
        let facts = kpm_bundle::secret::tls_facts(&s).unwrap();
        let c = &facts.certificates[0];
        assert_eq!(c.dns_names, ["shop.acme.example"]);
        assert_eq!(c.not_before, crate::ids::ago(86_400 * 40));
        assert_eq!(c.not_after, crate::ids::ago(-86_400 * 50));
    }
}
