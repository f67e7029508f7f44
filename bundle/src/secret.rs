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
}
