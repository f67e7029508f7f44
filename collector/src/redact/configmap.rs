//! ConfigMap values: by default none leaves the cluster. Each value becomes
//! the empty string and its SHA-256 and size are kept in the annotation
//! [`VALUE_DIGESTS`], so "did this value change", stale-config detection and
//! comparing two bundles still work while the object stays a valid
//! ConfigMap (`kubectl get cm -o yaml` against `kpm-analyze serve`).
//! `--configmap-values` keeps values, redacted like env values and logs.
//! The format is specified in `docs/bundle-format.md`.

use base64::Engine as _;
use serde_json::{json, Map, Value};

use kpm_bundle::secret::VALUES_REMOVED;
use kpm_bundle::writer::sha256_hex;

use super::env::is_secret_env_name;
use super::text::Masker;
use super::token::is_token;
use super::{bump, rule, Counts};

/// Annotation holding `{"data": {key: {"sha256", "size"}}, "binaryData": …}`.
pub const VALUE_DIGESTS: &str = "kpm.dev/value-digests";

/// The two value maps of a ConfigMap.
const FIELDS: [&str; 2] = ["data", "binaryData"];

/// Labels of the ConfigMaps Helm keeps releases in (Helm 3 with the
/// `configmap` storage driver: `owner=helm`; Helm 2/Tiller:
/// `OWNER=TILLER`): the payload is the gzipped release, values included,
/// which no text pattern can see into, so its values are hashed even with
/// `--configmap-values`.
pub fn is_helm_release(obj: &Value) -> bool {
    let label = |k: &str| {
        obj.pointer(&format!("/metadata/labels/{k}"))
            .and_then(Value::as_str)
    };
    label("owner") == Some("helm") || label("OWNER") == Some("TILLER")
}

/// The bytes a value stands for: a `data` value is its UTF-8 text, a
/// `binaryData` value its base64-decoded bytes (the text itself when it is
/// not valid base64, which the API server would not have accepted).
fn value_bytes(field: &str, v: &str) -> Vec<u8> {
    if field == "binaryData" {
        if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(v) {
            return bytes;
        }
    }
    v.as_bytes().to_vec()
}

/// Digests already recorded on this object (a bundle redacted again), kept
/// for values that are already empty.
fn previous_digests(obj: &Value) -> Map<String, Value> {
    let ann = |k: &str| {
        obj.pointer("/metadata/annotations")
            .and_then(|a| a.get(k))
            .and_then(Value::as_str)
    };
    if ann(VALUES_REMOVED) != Some("true") {
        return Map::new();
    }
    ann(VALUE_DIGESTS)
        .and_then(|t| serde_json::from_str::<Value>(t).ok())
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_default()
}

/// Replaces every value by `""` and records its digest. Returns how many
/// values were hashed.
pub fn hash_values(obj: &mut Value) -> u64 {
    let previous = previous_digests(obj);
    let mut digests = Map::new();
    let mut n = 0;
    for field in FIELDS {
        let Some(Value::Object(map)) = obj.get_mut(field) else {
            continue;
        };
        let mut out = Map::new();
        for (key, v) in map.iter_mut() {
            let text = v.as_str().unwrap_or_default();
            let kept = previous.get(field).and_then(|f| f.get(key));
            let digest = match kept {
                Some(d) if text.is_empty() => d.clone(),
                _ => {
                    let bytes = value_bytes(field, text);
                    json!({"sha256": sha256_hex(&bytes), "size": bytes.len()})
                }
            };
            out.insert(key.clone(), digest);
            *v = Value::String(String::new());
            n += 1;
        }
        digests.insert(field.to_string(), Value::Object(out));
    }
    mark(obj, &digests);
    n
}

/// Adds [`VALUES_REMOVED`] and [`VALUE_DIGESTS`] to the annotations.
fn mark(obj: &mut Value, digests: &Map<String, Value>) {
    let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    let ann = meta
        .entry("annotations")
        .or_insert_with(|| Value::Object(Map::new()));
    if !ann.is_object() {
        *ann = Value::Object(Map::new());
    }
    if let Some(ann) = ann.as_object_mut() {
        ann.insert(VALUES_REMOVED.into(), Value::String("true".into()));
        ann.insert(
            VALUE_DIGESTS.into(),
            Value::String(Value::Object(digests.clone()).to_string()),
        );
    }
}

/// Replaces every value by `""` without digests (the last-applied copy:
/// the live values' digests are on the object). Returns the count.
pub fn remove_values(obj: &mut Value) -> u64 {
    let mut n = 0;
    for field in FIELDS {
        if let Some(Value::Object(map)) = obj.get_mut(field) {
            for v in map.values_mut() {
                if v.as_str() != Some("") {
                    *v = Value::String(String::new());
                    n += 1;
                }
            }
        }
    }
    n
}

/// `--configmap-values`: a value under a key named like a credential
/// (`DB_PASSWORD`, `tls.key`, `credentials.json`) becomes a token; any
/// other value goes through the text patterns. A `binaryData` value is
/// redacted as text when it decodes to UTF-8 and re-encoded; real binary
/// content is kept.
pub fn redact_values(obj: &mut Value, mask: &Masker, counts: &mut Counts) {
    let b64 = &base64::engine::general_purpose::STANDARD;
    for field in FIELDS {
        let Some(Value::Object(map)) = obj.get_mut(field) else {
            continue;
        };
        for (key, v) in map.iter_mut() {
            let Value::String(s) = v else { continue };
            let text = if field == "binaryData" {
                match b64
                    .decode(s.as_bytes())
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                {
                    Some(t) => t,
                    None => continue,
                }
            } else {
                s.clone()
            };
            let Some(new) = redact_value(key, &text, mask, counts) else {
                continue;
            };
            *s = if field == "binaryData" {
                b64.encode(new)
            } else {
                new
            };
        }
    }
}

/// One ConfigMap value with `--configmap-values`; `None` when kept.
fn redact_value(key: &str, text: &str, mask: &Masker, counts: &mut Counts) -> Option<String> {
    if text.is_empty() || is_token(text) {
        return None;
    }
    if is_secret_env_name(key) {
        bump(counts, rule::CONFIGMAP_SECRET_KEY, 1);
        return Some(mask.token(text));
    }
    mask.text(text, counts)
}
