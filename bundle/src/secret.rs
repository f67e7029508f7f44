//! The rule that a bundle never holds a Secret's value.
//!
//! Lives in the format crate because it is part of the contract: whatever
//! writes a bundle must pass every Secret through [`strip_secret`].

use serde_json::Value;

/// Annotation `kubectl apply` writes; it carries the whole object, values
/// included, so it is removed from Secrets.
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Annotation kpm adds to a Secret whose values it removed.
pub const VALUES_REMOVED: &str = "kpm.dev/values-removed";

/// Annotation holding the parsed facts of a `kubernetes.io/tls` Secret's
/// certificate chain ([`TlsFacts`] as JSON). Written by the collector from
/// `tls.crt` before [`strip_secret`] drops the value; the PEM and the key
/// never reach a bundle, only these facts.
pub const TLS_FACTS: &str = "kpm.dev/tls-certificates";

/// The Secret type whose certificate facts are kept.
pub const TLS_SECRET_TYPE: &str = "kubernetes.io/tls";

/// What a bundle keeps of a TLS Secret's `tls.crt`: one entry per PEM
/// `CERTIFICATE` block, in the file's order (the serving certificate first,
/// as Ingress controllers expect), or why it could not be read.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TlsFacts {
    /// The certificates that parsed.
    #[serde(default)]
    pub certificates: Vec<CertificateFacts>,
    /// Set when `tls.crt` is missing, not PEM, or a block is not X.509.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Public facts of one certificate: nothing here is secret (a TLS
/// handshake shows all of it to any client).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateFacts {
    /// Subject distinguished name, RFC 4514 order as printed by OpenSSL.
    pub subject: String,
    /// Issuer distinguished name.
    pub issuer: String,
    /// Serial number, colon-separated hex bytes.
    pub serial: String,
    /// Start of validity, RFC 3339 UTC.
    pub not_before: String,
    /// End of validity, RFC 3339 UTC.
    pub not_after: String,
    /// DNS names of the subjectAltName extension.
    #[serde(default)]
    pub dns_names: Vec<String>,
    /// IP addresses of the subjectAltName extension.
    #[serde(default)]
    pub ip_addresses: Vec<String>,
    /// basicConstraints CA flag.
    #[serde(default)]
    pub is_ca: bool,
}

/// The facts a bundle holds for `secret`, if it has the annotation and it
/// parses.
pub fn tls_facts(secret: &Value) -> Option<TlsFacts> {
    let text = secret
        .pointer("/metadata/annotations")?
        .get(TLS_FACTS)?
        .as_str()?;
    serde_json::from_str(text).ok()
}

/// Turns a Secret object into metadata and key names only: every value of
/// `data` and `stringData` becomes the empty string and the last-applied
/// annotation is dropped. Returns how many values were removed.
pub fn strip_secret(secret: &mut Value) -> u64 {
    let mut removed = 0;
    if let Some(obj) = secret.as_object_mut() {
        for field in ["data", "stringData"] {
            if let Some(Value::Object(map)) = obj.get_mut(field) {
                for v in map.values_mut() {
                    *v = Value::String(String::new());
                    removed += 1;
                }
            } else if obj.contains_key(field) {
                obj.remove(field);
            }
        }
        if let Some(Value::Object(meta)) = obj.get_mut("metadata") {
            if let Some(Value::Object(ann)) = meta.get_mut("annotations") {
                if ann.remove(LAST_APPLIED).is_some() {
                    removed += 1;
                }
                ann.insert(VALUES_REMOVED.to_string(), Value::String("true".into()));
            } else {
                let mut ann = serde_json::Map::new();
                ann.insert(VALUES_REMOVED.to_string(), Value::String("true".into()));
                meta.insert("annotations".into(), Value::Object(ann));
            }
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_and_last_applied_are_removed_keys_kept() {
        let mut s = serde_json::json!({
            "kind": "Secret",
            "metadata": {"name": "db", "annotations": {LAST_APPLIED: "{\"data\":{\"password\":\"aHVudGVyMg==\"}}"}},
            "data": {"password": "aHVudGVyMg==", "user": "YWRtaW4="},
            "stringData": {"token": "plain"},
            "type": "Opaque"
        });
        assert_eq!(strip_secret(&mut s), 4);
        let text = s.to_string();
        assert!(!text.contains("aHVudGVyMg"));
        assert!(!text.contains("plain"));
        assert_eq!(s["data"]["password"], "");
        assert_eq!(s["data"]["user"], "");
        assert_eq!(s["metadata"]["annotations"][VALUES_REMOVED], "true");
        assert!(s["metadata"]["annotations"].get(LAST_APPLIED).is_none());
    }

    #[test]
    fn tls_facts_survive_stripping_and_read_back() {
        let facts = TlsFacts {
            certificates: vec![CertificateFacts {
                subject: "CN=shop.example.com".into(),
                not_after: "2026-12-01T00:00:00Z".into(),
                dns_names: vec!["shop.example.com".into()],
                ..CertificateFacts::default()
            }],
            error: None,
        };
        let text = serde_json::to_string(&facts).unwrap();
        let mut s = serde_json::json!({"kind": "Secret", "type": TLS_SECRET_TYPE,
            "metadata": {"name": "shop-tls", "annotations": {TLS_FACTS: text}},
            "data": {"tls.crt": "LS0t", "tls.key": "LS0t"}});
        strip_secret(&mut s);
        assert_eq!(tls_facts(&s), Some(facts));
        assert_eq!(s["data"]["tls.key"], "");
    }
}
